/* hpinn/optimizer.h — the objective as optimizers see it, and the optimizer
 * plugin interface.
 *
 * Optimizers never see networks or meshes: only a flat parameter vector theta of
 * length n and callbacks. Least-squares methods additionally use residuals r (m)
 * and their Jacobian, with the convention L = 1/2 ||r||^2: an objective that
 * offers both callbacks must return the same L from either. */
#ifndef HPINN_OPTIMIZER_H
#define HPINN_OPTIMIZER_H

#include <stddef.h>

#include "hpinn/params.h"
#include "hpinn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hp_objective {
    size_t n;      /* parameters */
    size_t m;      /* residuals (0 when residuals_and_jacobian is NULL) */
    void *ctx;
    /* L(theta) and its gradient (n). grad may be NULL: value only. A non-finite
     * value is returned as such (status HP_OK); the optimizer decides. */
    hp_status (*value_and_gradient)(void *ctx, const double *theta, double *value,
                                    double *grad);
    /* Optional. r (m) and J = dr/dtheta (m x n row-major; NULL: residuals only). */
    hp_status (*residuals_and_jacobian)(void *ctx, const double *theta, double *r,
                                        double *J);
} hp_objective;

/* Why an optimizer stopped (HP_OPT_CONTINUE: it did not). */
typedef enum hp_opt_stop {
    HP_OPT_CONTINUE = 0,
    HP_OPT_CONVERGED_GRADIENT,  /* ||g|| below its tolerance */
    HP_OPT_CONVERGED_STEP,      /* step below its tolerance */
    HP_OPT_CONVERGED_VALUE,     /* relative decrease of L below its tolerance */
    HP_OPT_LINE_SEARCH_FAILED,  /* no step satisfying the line search conditions */
    HP_OPT_NON_FINITE,          /* L or g not finite at the current iterate */
    HP_OPT_MAX_EVALUATIONS,     /* evaluation budget of one step exhausted */
    HP_OPT_DAMPING_LIMIT        /* LM damping grew beyond its limit */
} hp_opt_stop;

const char *hp_opt_stop_name(hp_opt_stop s);

typedef struct hp_opt_step_info {
    double value;        /* L at theta after the step (Adam: at theta before it) */
    double grad_norm;    /* ||g|| at the same point, when known (else NAN) */
    size_t evaluations;  /* objective evaluations this step used */
    hp_opt_stop stop;
    char message[256];   /* human-readable reason when stop != CONTINUE */
} hp_opt_step_info;

typedef struct hp_optimizer_ops {
    hp_status (*create)(const hp_params *params, size_t n, void **state);
    void (*destroy)(void *state);
    /* One iteration: updates theta in place. A stop reason is not an error: the
     * status is HP_OK and info->stop says why; errors are for failures. */
    hp_status (*step)(void *state, double *theta, const hp_objective *objective,
                      hp_opt_step_info *info);
    /* Optional checkpointing of the complete internal state (moments, history,
     * damping, step count): size in bytes, save into buf, load from buf. Loading a
     * buffer of the wrong size or contents is HP_ERR_CORRUPT. */
    size_t (*state_size)(const void *state);
    hp_status (*save)(const void *state, void *buf);
    hp_status (*load)(void *state, const void *buf, size_t size);
} hp_optimizer_ops;

#ifdef __cplusplus
}
#endif
#endif
