/* hpinn/upscaling.h — the upscaling plugin interface: K̃ from fine-scale data.
 *
 * Input is the fine-scale corrector u_i (values and gradients) of every direction
 * problem at quadrature points with weights, and K there — from a network (the
 * hybrid solver) or from a fine FEM solution (the reference), through the same
 * code. Output is one d x d tensor per block (row-major, K̃[b][j][i], MATH.md §2),
 * blocks numbered lexicographically (x fastest) on a N_b^d partition of [0,1]^d.
 * Isotropic variants still return full tensors (K̃11 on the diagonal). */
#ifndef HPINN_UPSCALING_H
#define HPINN_UPSCALING_H

#include <stddef.h>

#include "hpinn/params.h"
#include "hpinn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hp_upscaling_input {
    int dim;
    int n_directions;       /* problems present: 1 or dim (see n_directions()) */
    size_t n_points;
    const double *x;        /* n_points x dim, assigns points to blocks */
    const double *weights;  /* n_points quadrature weights, summing to |Ω| = 1 */
    const double *K;        /* n_points conductivity */
    const double *q;        /* n_points source; energy form only, else may be NULL */
    const double *v;        /* n_directions x n_points values of u_i; energy form only */
    const double *grad;     /* n_directions x n_points x dim gradients of u_i */
} hp_upscaling_input;

/* Per-block diagnostics of a forward call (arrays of n_blocks, caller-owned,
 * any may be NULL). */
typedef struct hp_upscaling_report {
    unsigned char *positive_definite; /* 1 when the symmetric part of K̃^j is SPD */
    double *condition;                /* cond_2 of T^j (blocks), 1 for global */
    int n_not_positive_definite;      /* filled always */
    int n_singular;                   /* blocks whose T^j could not be inverted */
} hp_upscaling_report;

typedef struct hp_upscaling_ops {
    hp_status (*create)(const hp_params *params, int dim, void **state);
    void (*destroy)(void *state);
    /* N_b: the coarse mesh must be aligned with it (global: 1). */
    int (*blocks_per_dim)(const void *state);
    /* How many direction problems the strategy needs: 1 (isotropic, 1-D) or dim. */
    int (*n_directions)(const void *state);
    /* Optional (NULL: never, as returning 0). Nonzero when forward/backward use the
     * values v and q (energy form). */
    int (*needs_values)(const void *state);
    /* K̃ per block (n_blocks x dim x dim). A singular T^j is HP_ERR_NUMERIC naming
     * the block, with the report filled before returning. */
    hp_status (*forward)(void *state, const hp_upscaling_input *in, double *Kt,
                         hp_upscaling_report *report);
    /* Given dKt = dL/dK̃ (n_blocks x dim x dim), ACCUMULATE dL/dgrad into dgrad
     * (n_directions x n_points x dim) and, for the energy form, dL/dv into dv
     * (n_directions x n_points; may be NULL otherwise). Uses the last forward's
     * factorizations when available; must be called with the same input. */
    hp_status (*backward)(void *state, const hp_upscaling_input *in, const double *dKt,
                          double *dv, double *dgrad);
} hp_upscaling_ops;

#ifdef __cplusplus
}
#endif
#endif
