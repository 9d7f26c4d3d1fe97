/* adam.c — the Adam optimizer (Kingma & Ba 2015, Algorithm 1, with bias
 * correction), an optional exponential learning-rate schedule and optional
 * gradient-norm clipping.
 *
 * The update is written exactly in the paper's order,
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   theta -= lr_t * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps),
 * with b^t from pow() (not a running product) so that the iterate depends only on
 * the step count and a checkpoint/resume reproduces it bit for bit.
 *
 * The schedule follows the usual exponential_decay of the PINN literature (and of
 * the paper's experiments: 5e-4, x0.75 every 1000 steps): lr_k = lr *
 * decay^(k/decay_every), smooth by default, floor(k/decay_every) with staircase. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>

#include "hpinn/optimizer.h"
#include "hpinn/plugin.h"

enum { ADAM_CONSTANT = 0, ADAM_EXPONENTIAL = 1 };

static const hp_param_def adam_params[] = {
    {"lr", HP_PARAM_REAL, "1e-3", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 0.0, 0.0, NULL, 0,
     "learning rate (initial value under a schedule)"},
    {"beta1", HP_PARAM_REAL, "0.9", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 0.0, 1.0, NULL, 0,
     "decay of the first-moment average, in [0, 1)"},
    {"beta2", HP_PARAM_REAL, "0.999", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 0.0, 1.0, NULL, 0,
     "decay of the second-moment average, in [0, 1)"},
    {"eps", HP_PARAM_REAL, "1e-8", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 0.0, 0.0, NULL, 0,
     "added to sqrt(v_hat) in the denominator"},
    {"schedule", HP_PARAM_ENUM, "exponential", 0u, 0.0, 0.0, "constant|exponential", 0,
     "learning-rate schedule; with the default decay 1 the exponential one is constant"},
    {"decay", HP_PARAM_REAL, "1", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN | HP_PARAM_HAS_MAX,
     0.0, 1.0, NULL, 0, "exponential schedule: factor applied every decay_every steps (1: none)"},
    {"decay_every", HP_PARAM_INT, "1000", HP_PARAM_HAS_MIN, 1.0, 0.0, NULL, 0,
     "exponential schedule: steps per decay factor"},
    {"staircase", HP_PARAM_BOOL, "false", 0u, 0.0, 0.0, NULL, 0,
     "exponential schedule: decay in whole steps (floor(k/decay_every)) instead of smoothly"},
    {"clip_norm", HP_PARAM_REAL, "0", HP_PARAM_HAS_MIN, 0.0, 0.0, NULL, 0,
     "rescale the gradient to this 2-norm when longer (0: no clipping)"},
    HP_PARAM_END};

#define ADAM_STATE_VERSION 1u

typedef struct adam {
    size_t n;
    double lr, beta1, beta2, eps, decay, clip_norm;
    int64_t decay_every;
    int schedule, staircase;
    uint64_t t;        /* steps taken */
    double *m, *v;     /* first and second moments (n) */
    double *g;         /* gradient workspace (n) */
} adam;

static double adam_learning_rate(const adam *a, uint64_t k) {
    if (a->schedule == ADAM_CONSTANT) return a->lr;
    double periods = a->staircase ? (double)(k / (uint64_t)a->decay_every)
                                  : (double)k / (double)a->decay_every;
    return a->lr * pow(a->decay, periods);
}

static void adam_destroy(void *state) {
    adam *a = state;
    if (!a) return;
    free(a->m);
    free(a->v);
    free(a->g);
    free(a);
}

static hp_status adam_create(const hp_params *params, size_t n, void **state) {
    hp_status st;
    adam *a = NULL;
    double beta1 = hp_params_real(params, "beta1"), beta2 = hp_params_real(params, "beta2");
    if (beta1 >= 1.0)
        return hp_params_error(params, "beta1", "%g is not below 1 (the bias correction "
                               "1 - beta1^t would vanish); expected a value in [0, 1)", beta1);
    if (beta2 >= 1.0)
        return hp_params_error(params, "beta2", "%g is not below 1 (the bias correction "
                               "1 - beta2^t would vanish); expected a value in [0, 1)", beta2);
    /* Defaults are chosen so that a resolved configuration (every value written
     * out) means the same as the pipeline it came from: decay 1 is no decay, and
     * only a decay that would be silently ignored is an error. */
    int schedule = hp_params_enum_index(params, "schedule");
    if (schedule == ADAM_CONSTANT && hp_params_real(params, "decay") != 1.0)
        return hp_params_error(params, "decay", "is %g but schedule is 'constant', so it would be ignored; "
                               "expected schedule: exponential, or decay: 1", hp_params_real(params, "decay"));

    HP_CALL(hp_calloc(1, sizeof *a, &a));
    a->n = n;
    a->lr = hp_params_real(params, "lr");
    a->beta1 = beta1;
    a->beta2 = beta2;
    a->eps = hp_params_real(params, "eps");
    a->decay = hp_params_real(params, "decay");
    a->decay_every = hp_params_int(params, "decay_every");
    a->staircase = hp_params_bool(params, "staircase");
    a->schedule = schedule;
    a->clip_norm = hp_params_real(params, "clip_norm");
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double), &a->m), fail);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double), &a->v), fail);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double), &a->g), fail);
    *state = a;
    return HP_OK;
fail:
    adam_destroy(a);
    return st;
}

static hp_status adam_step(void *state, double *theta, const hp_objective *obj,
                           hp_opt_step_info *info) {
    adam *a = state;
    const size_t n = a->n;
    double f;
    hp_opt_info_init(info);
    if (obj->n != n)
        HP_ERROR(HP_ERR_INTERNAL, "adam: objective has %zu parameters, optimizer was created "
                 "for %zu", obj->n, n);
    if (!obj->value_and_gradient)
        HP_ERROR(HP_ERR_INTERNAL, "adam: objective has no value_and_gradient callback");

    HP_CALL(obj->value_and_gradient(obj->ctx, theta, &f, a->g));
    info->evaluations = 1;
    info->value = f;
    int finite = isfinite(f);
    for (size_t i = 0; i < n && finite; ++i) finite = isfinite(a->g[i]);
    /* Plain sum of squares (reproducible by anyone), the scaled BLAS norm only when
     * that overflows. */
    double gnorm = 0.0;
    for (size_t i = 0; i < n; ++i) gnorm += a->g[i] * a->g[i];
    gnorm = sqrt(gnorm);
    if (finite && !isfinite(gnorm)) gnorm = cblas_dnrm2((int)n, a->g, 1);
    info->grad_norm = gnorm;
    if (!finite) {
        /* Moments untouched: one bad evaluation must not poison the averages. */
        hp_opt_info_stop(info, HP_OPT_NON_FINITE,
                         "adam: %s not finite at step %llu (L = %g); parameters unchanged",
                         isfinite(f) ? "gradient" : "loss", (unsigned long long)a->t + 1, f);
        return HP_OK;
    }

    const double lr = adam_learning_rate(a, a->t);
    const double scale = (a->clip_norm > 0.0 && gnorm > a->clip_norm) ? a->clip_norm / gnorm : 1.0;
    const uint64_t t = a->t + 1;
    const double bias1 = 1.0 - pow(a->beta1, (double)t);
    const double bias2 = 1.0 - pow(a->beta2, (double)t);
    double step2 = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double g = a->g[i] * scale;
        a->m[i] = a->beta1 * a->m[i] + (1.0 - a->beta1) * g;
        a->v[i] = a->beta2 * a->v[i] + (1.0 - a->beta2) * g * g;
        const double m_hat = a->m[i] / bias1;
        const double v_hat = a->v[i] / bias2;
        const double delta = lr * m_hat / (sqrt(v_hat) + a->eps);
        theta[i] -= delta;
        step2 += delta * delta;
    }
    a->t = t;
    info->step_norm = sqrt(step2);
    info->step_size = lr;
    return HP_OK;
}

/* payload: u64 t | m (n doubles) | v (n doubles) */
static size_t adam_payload(const adam *a) { return sizeof(uint64_t) + 2 * a->n * sizeof(double); }

static size_t adam_state_size(const void *state) {
    return hp_opt_state_bytes(adam_payload(state));
}

static hp_status adam_save(const void *state, void *buf) {
    const adam *a = state;
    hp_opt_state_writer w;
    hp_opt_state_write_begin(&w, buf, "adam", ADAM_STATE_VERSION, a->n, adam_payload(a));
    hp_opt_state_put_u64(&w, a->t);
    hp_opt_state_put_f64s(&w, a->m, a->n);
    hp_opt_state_put_f64s(&w, a->v, a->n);
    HP_CALL(hp_opt_state_write_end(&w));
    return HP_OK;
}

static hp_status adam_load(void *state, const void *buf, size_t size) {
    adam *a = state;
    hp_opt_state_reader r;
    HP_CALL(hp_opt_state_read_begin(&r, buf, size, "adam", ADAM_STATE_VERSION, a->n,
                                    adam_payload(a)));
    /* The header and checksum are verified: reading cannot fail half-way. */
    HP_CALL(hp_opt_state_get_u64(&r, &a->t));
    HP_CALL(hp_opt_state_get_f64s(&r, a->m, a->n));
    HP_CALL(hp_opt_state_get_f64s(&r, a->v, a->n));
    return HP_OK;
}

/* m, v and a gradient: three vectors of n. */
static double adam_memory_bytes(const hp_params *params, size_t n, size_t m) {
    (void)params;
    (void)m;
    return 3.0 * 8.0 * (double)n;
}

static void adam_step_cost(const hp_params *params, const hp_opt_shape *shape, hp_opt_step_cost *cost) {
    (void)params;
    cost->gradients = 1.0;
    cost->flops = 10.0 * (double)shape->n; /* the moment updates */
}

static const hp_optimizer_ops adam_ops = {
    .struct_size = sizeof(hp_optimizer_ops),
    .create = adam_create,
    .destroy = adam_destroy,
    .step = adam_step,
    .state_size = adam_state_size,
    .save = adam_save,
    .load = adam_load,
    .memory_bytes = adam_memory_bytes,
    .step_cost = adam_step_cost,
};

HP_PLUGIN_DEFINE(HP_PLUGIN_OPTIMIZER, "adam", "1.0.0",
                 "Adam (Kingma & Ba) with bias correction, exponential lr schedule, clipping",
                 adam_params, &adam_ops)
