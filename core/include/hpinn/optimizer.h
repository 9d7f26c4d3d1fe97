/* hpinn/optimizer.h — the objective as optimizers see it, and the optimizer
 * plugin interface.
 *
 * Optimizers never see networks or meshes: only a flat parameter vector theta of
 * length n and callbacks. Least-squares methods additionally use residuals r (m)
 * and their Jacobian, with the convention L = 1/2 ||r||^2: an objective that
 * offers both callbacks must return the same L from either.
 *
 * The second half declares the small helpers optimizer plugins share (core/src/
 * optimizer.c): stop-reason names, step-info filling, and the checked byte
 * format of a saved optimizer state. */
#ifndef HPINN_OPTIMIZER_H
#define HPINN_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

#include "hpinn/export.h"
#include "hpinn/params.h"
#include "hpinn/status.h"

HP_BEGIN_API

typedef struct hp_objective {
    size_t n;      /* parameters */
    size_t m;      /* residuals (0 when residuals_and_jacobian is NULL) */
    void *ctx;
    /* L(theta) and its gradient (n). grad may be NULL: value only. A non-finite
     * value is returned as such (status HP_OK); the optimizer decides. */
    hp_status (*value_and_gradient)(void *ctx, const double *theta, double *value,
                                    double *grad);
    /* Optional. r (m) and J = dr/dtheta (m x n row-major; NULL: residuals only).
     * Non-finite entries are returned as such (status HP_OK). */
    hp_status (*residuals_and_jacobian)(void *ctx, const double *theta, double *r,
                                        double *J);
    /* Optional, all three or none: matrix-free Gauss–Newton. linearize evaluates r
     * (m) at theta and makes it the point the products act at, until the next
     * call of any callback; jvp gives J v (m) for v (n), vjp gives Jᵀ u (n) for
     * u (m); both take the same theta (a check, not a new point). */
    hp_status (*linearize)(void *ctx, const double *theta, double *r);
    hp_status (*jvp)(void *ctx, const double *theta, const double *v, double *Jv);
    hp_status (*vjp)(void *ctx, const double *theta, const double *u, double *JTu);
    /* Non-NULL when the residual rows are spread over processes (MPI ranks, the
     * core's business): this process's r and J hold its rows only (m is its row
     * count), and every sum over rows (||r||², J'r, J'J, column norms of J, a
     * count of non-finite entries) is completed by passing this process's part
     * through it, in place; every process gets the same total, so all take the
     * same decisions. value_and_gradient is already complete on every process.
     * NULL: this process holds every row. */
    hp_status (*sum_over_ranks)(void *ctx, double *buf, size_t count);
} hp_objective;

/* Why an optimizer stopped (HP_OPT_CONTINUE: it did not). */
typedef enum hp_opt_stop {
    HP_OPT_CONTINUE = 0,
    HP_OPT_CONVERGED_GRADIENT,  /* ||g||_2 below its tolerance */
    HP_OPT_CONVERGED_STEP,      /* step below its tolerance */
    HP_OPT_CONVERGED_VALUE,     /* relative decrease of L below its tolerance */
    HP_OPT_LINE_SEARCH_FAILED,  /* no step satisfying the line search conditions */
    HP_OPT_NON_FINITE,          /* L or g not finite at the current iterate, or no
                                   finite value anywhere along the search */
    HP_OPT_MAX_EVALUATIONS,     /* evaluation budget of one step exhausted */
    HP_OPT_DAMPING_LIMIT,       /* LM damping grew beyond its limit */
    HP_OPT_INNER_BREAKDOWN      /* an inner iterative solve (CG) broke down */
} hp_opt_stop;

/* "continue", "converged (gradient)", ... Never NULL. */
const char *hp_opt_stop_name(hp_opt_stop s);

/* Nonzero for the three HP_OPT_CONVERGED_* reasons: a success, not a failure. */
int hp_opt_stop_is_converged(hp_opt_stop s);

typedef struct hp_opt_step_info {
    double value;        /* L at theta after the step (Adam: at theta before it) */
    double grad_norm;    /* ||g||_2 at the same point, when known (else NAN) */
    double step_norm;    /* ||theta_after - theta_before||_2 (0: theta did not move) */
    double step_size;    /* Adam: learning rate used; L-BFGS: accepted line-search
                            step alpha along the quasi-Newton direction; else NAN */
    double damping;      /* LM: damping lambda after the step; else NAN */
    size_t evaluations;  /* objective evaluations this step used */
    hp_opt_stop stop;
    char message[256];   /* human-readable reason when stop != CONTINUE */
    size_t inner_iterations; /* iterative linear solves: their iterations this step (CG), else 0 */
    size_t products;     /* Jacobian products (J v or J' u) this step used, else 0 */
} hp_opt_step_info;

/* What one step of an optimizer typically costs: objective evaluations of each
 * kind and the optimizer's own arithmetic. The trainer turns it into seconds
 * (each kind's measured time, the machine's measured flop rate) to estimate the
 * time of a stage before it has run; typical, not a bound. */
typedef struct hp_opt_step_cost {
    double values;     /* value-only evaluations: value_and_gradient without gradient, residuals without J */
    double gradients;  /* value_and_gradient with a gradient */
    double jacobians;  /* residuals_and_jacobian with J */
    double products;   /* linearize, J v, Jᵀ u */
    double flops;      /* floating-point operations of the optimizer itself (dense products, factorizations) */
} hp_opt_step_cost;

/* The shape of the objective a step_cost hint is asked for: n parameters, m
 * residual rows (0 without residuals), and the structure of the Jacobian the
 * core knows of. Every row but `shared_rows` of them touches only one of
 * `blocks` equal blocks of the parameters (a hybrid: one network per direction;
 * blocks 1: no structure), so J'J costs about m n² / blocks² to form and, with
 * no shared rows, is block-diagonal (blocks Cholesky factorizations of n/blocks).
 * The shared rows (the coupling rows, which reach every network through K̃)
 * touch all n and make J'J dense. */
typedef struct hp_opt_shape {
    size_t n;
    size_t m;
    size_t blocks;      /* >= 1 */
    size_t shared_rows; /* <= m */
} hp_opt_shape;

typedef struct hp_optimizer_ops {
    uint32_t struct_size; /* sizeof(hp_optimizer_ops) the plugin was built with */
    /* n: number of parameters. The objective passed to step() must have this n. */
    hp_status (*create)(const hp_params *params, size_t n, void **state);
    void (*destroy)(void *state);
    /* One iteration: updates theta in place. A stop reason is not an error: the
     * status is HP_OK and info->stop says why (theta is then left at the best
     * accepted point, never at a rejected trial); errors are for failures (an
     * objective callback failing, a wrong n, no memory). Calling step again after
     * a stop is allowed and re-examines the same point. */
    hp_status (*step)(void *state, double *theta, const hp_objective *objective,
                      hp_opt_step_info *info);
    /* Optional checkpointing of the complete internal state (moments, history,
     * damping, step count, cached evaluations): size in bytes, save into buf (of
     * state_size bytes), load from buf. Loading a buffer of the wrong size, kind,
     * version or contents is HP_ERR_CORRUPT and leaves the state unchanged.
     * save -> load -> step continues exactly as the uninterrupted run would. */
    size_t (*state_size)(const void *state);
    hp_status (*save)(const void *state, void *buf);
    hp_status (*load)(void *state, const void *buf, size_t size);
    /* Optional. Bytes the optimizer will allocate for n parameters and m residuals
     * (m = 0 when the objective offers no residuals), so a pipeline too large for
     * the machine is refused before training starts. */
    double (*memory_bytes)(const hp_params *params, size_t n, size_t m);
    /* Optional. The objective has changed between two steps (the collocation
     * points were resampled): forget what was learned of the old one (L-BFGS
     * clears its history, lm_cg its preconditioner). NULL: the state is kept as
     * it is (Adam keeps its moments, lm its damping). */
    void (*reset)(void *state);
    /* Optional. The typical cost of one step on an objective of this shape,
     * into *cost (zeroed by the caller); the ETA of a stage that has not
     * started. NULL: such a stage is estimated at the run's rate so far. */
    void (*step_cost)(const hp_params *params, const hp_opt_shape *shape, hp_opt_step_cost *cost);
} hp_optimizer_ops;

/* ---- helpers shared by optimizer plugins (core/src/optimizer.c) ------------- */

/* Reset info for a new step: value, grad_norm, step_size, damping NAN;
 * step_norm 0; evaluations 0; stop CONTINUE; message "". */
void hp_opt_info_init(hp_opt_step_info *info);

/* Record a stop reason with a printf-like message. */
void hp_opt_info_stop(hp_opt_step_info *info, hp_opt_stop stop, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* gram (n x n, column-major, lower triangle written, upper left as zeros) =
 * JᵀJ for the row-major m x n Jacobian J. Consecutive rows whose nonzeros share
 * a column range are multiplied on that range only (core/src/gram.c says how
 * runs are formed): exact, and for block-structured Jacobians (one network per
 * direction) a fraction of a plain SYRK's m n² flops. stats may be NULL. */
typedef struct hp_gram_stats {
    size_t runs;         /* row runs, each one SYRK */
    double flops;        /* flops spent */
    double dense_flops;  /* flops of one SYRK over all of J */
} hp_gram_stats;
void hp_gram_lower(const double *J, size_t m, size_t n, double *gram, hp_gram_stats *stats);
/* The same from a float copy of J, accumulated in float (work: n x n floats) and
 * widened into the double gram: about half the time, with a relative rounding
 * of ~1e-7 of the diagonal instead of ~1e-16 (for approximate Gram matrices). */
void hp_gram_lower_single(const float *J, size_t m, size_t n, float *work, double *gram, hp_gram_stats *stats);

/* Saved optimizer states: a fixed header followed by the payload, every field
 * little-endian whatever the machine (put numbers with the typed helpers; raw
 * bytes are copied as they are):
 *   u32 magic "HPOS" | u32 format version | char kind[8] ("adam", NUL padded) |
 *   u64 n | u64 payload bytes | u64 FNV-1a checksum of the payload
 * Readers check every field before the caller touches its state. */
#define HP_OPT_STATE_HEADER_SIZE 40u
#define HP_OPT_STATE_KIND_MAX 8u

typedef struct hp_opt_state_writer {
    unsigned char *buf;
    size_t pos, size;
} hp_opt_state_writer;

typedef struct hp_opt_state_reader {
    const unsigned char *buf;
    size_t pos, size;
} hp_opt_state_reader;

/* Bytes of a saved state with `payload` bytes of payload. */
size_t hp_opt_state_bytes(size_t payload);

/* Start writing into buf (hp_opt_state_bytes(payload) bytes). */
void hp_opt_state_write_begin(hp_opt_state_writer *w, void *buf, const char *kind,
                              uint32_t version, uint64_t n, size_t payload);
void hp_opt_state_put(hp_opt_state_writer *w, const void *data, size_t bytes);
/* Little-endian numbers: 8 bytes each. */
void hp_opt_state_put_u64(hp_opt_state_writer *w, uint64_t v);
void hp_opt_state_put_f64s(hp_opt_state_writer *w, const double *v, size_t n);
/* Seal: checks that exactly `payload` bytes were put (else HP_ERR_INTERNAL) and
 * writes the checksum. */
hp_status hp_opt_state_write_end(hp_opt_state_writer *w);

/* Validate buf (size bytes) as a state of `kind`, `version`, parameter count n and
 * exactly `payload` payload bytes; HP_ERR_CORRUPT naming the mismatch otherwise. */
hp_status hp_opt_state_read_begin(hp_opt_state_reader *r, const void *buf, size_t size,
                                  const char *kind, uint32_t version, uint64_t n,
                                  size_t payload);
/* Copy the next `bytes` of payload; HP_ERR_CORRUPT when fewer remain. */
hp_status hp_opt_state_get(hp_opt_state_reader *r, void *data, size_t bytes);
hp_status hp_opt_state_get_u64(hp_opt_state_reader *r, uint64_t *v);
hp_status hp_opt_state_get_f64s(hp_opt_state_reader *r, double *v, size_t n);

HP_END_API

#endif
