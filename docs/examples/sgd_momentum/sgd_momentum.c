/* sgd_momentum.c — the example plugin of docs/plugin-author-guide.md: gradient
 * descent with (optionally Nesterov) momentum, as an hpinn optimizer.
 *
 *   v <- mu v - lr g(θ)          θ <- θ + v                  (heavy ball)
 *   v <- mu v - lr g(θ + mu v)   θ <- θ + v                  (Nesterov)
 *
 * It shows every part a plugin has: a parameter table (validated by the core
 * before create() is called), private state behind a vtable, checkpointing of
 * that state, and the one exported entry symbol. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hpinn/optimizer.h>
#include <hpinn/plugin.h>

static const hp_param_def sgd_params[] = {
    {"lr", HP_PARAM_REAL, "1e-3", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 0.0, 0.0, NULL, 0, "learning rate"},
    {"momentum", HP_PARAM_REAL, "0.9", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 0.0, 0.999, NULL, 0,
     "momentum coefficient mu"},
    {"nesterov", HP_PARAM_BOOL, "false", 0u, 0.0, 0.0, NULL, 0, "evaluate the gradient at the look-ahead point"},
    HP_PARAM_END};

typedef struct sgd {
    size_t n;
    double lr, mu;
    int nesterov;
    unsigned long long steps;
    double *velocity; /* n */
    double *scratch;  /* n: gradient, then look-ahead point */
} sgd;

static void sgd_destroy(void *state) {
    sgd *s = state;
    if (!s) return;
    free(s->velocity);
    free(s->scratch);
    free(s);
}

static hp_status sgd_create(const hp_params *params, size_t n, void **state) {
    sgd *s = calloc(1, sizeof *s);
    if (!s) HP_ERROR(HP_ERR_NOMEM, "sgd_momentum: out of memory");
    s->n = n;
    s->lr = hp_params_real(params, "lr");
    s->mu = hp_params_real(params, "momentum");
    s->nesterov = hp_params_bool(params, "nesterov");
    s->velocity = calloc(n ? n : 1, sizeof *s->velocity);
    s->scratch = calloc(2 * (n ? n : 1), sizeof *s->scratch);
    if (!s->velocity || !s->scratch) {
        sgd_destroy(s);
        HP_ERROR(HP_ERR_NOMEM, "sgd_momentum: out of memory for %zu parameters", n);
    }
    *state = s;
    return HP_OK;
}

static hp_status sgd_step(void *state, double *theta, const hp_objective *obj, hp_opt_step_info *info) {
    sgd *s = state;
    double *g = s->scratch, *ahead = s->scratch + s->n;
    const double *at = theta;
    if (s->nesterov) {
        for (size_t i = 0; i < s->n; i++) ahead[i] = theta[i] + s->mu * s->velocity[i];
        at = ahead;
    }
    hp_opt_info_init(info);
    double value;
    HP_CALL(obj->value_and_gradient(obj->ctx, at, &value, g));
    double norm2 = 0.0;
    for (size_t i = 0; i < s->n; i++) norm2 += g[i] * g[i];
    info->value = value;
    info->grad_norm = sqrt(norm2);
    info->evaluations = 1;
    if (!isfinite(value) || !isfinite(norm2)) {
        /* a stop reason, not an error: θ stays at the last good point */
        hp_opt_info_stop(info, HP_OPT_NON_FINITE, "sgd_momentum: loss %g, |g|^2 %g at step %llu", value, norm2,
                         s->steps);
        return HP_OK;
    }
    for (size_t i = 0; i < s->n; i++) {
        s->velocity[i] = s->mu * s->velocity[i] - s->lr * g[i];
        theta[i] += s->velocity[i];
    }
    s->steps++;
    return HP_OK;
}

/* Checkpoint layout: step count, then the velocity. */
static size_t sgd_state_size(const void *state) {
    const sgd *s = state;
    return sizeof s->steps + s->n * sizeof(double);
}

static hp_status sgd_save(const void *state, void *buf) {
    const sgd *s = state;
    memcpy(buf, &s->steps, sizeof s->steps);
    memcpy((char *)buf + sizeof s->steps, s->velocity, s->n * sizeof(double));
    return HP_OK;
}

static hp_status sgd_load(void *state, const void *buf, size_t size) {
    sgd *s = state;
    if (size != sgd_state_size(s))
        HP_ERROR(HP_ERR_CORRUPT, "sgd_momentum: checkpoint state has %zu bytes, expected %zu for %zu parameters", size,
                 sgd_state_size(s), s->n);
    memcpy(&s->steps, buf, sizeof s->steps);
    memcpy(s->velocity, (const char *)buf + sizeof s->steps, s->n * sizeof(double));
    return HP_OK;
}

static const hp_optimizer_ops sgd_ops = {
    .struct_size = sizeof(hp_optimizer_ops),
    .create = sgd_create,
    .destroy = sgd_destroy,
    .step = sgd_step,
    .state_size = sgd_state_size,
    .save = sgd_save,
    .load = sgd_load,
    /* .memory_bytes, optional, is left out: NULL, i.e. absent */
};

HP_PLUGIN_DEFINE(HP_PLUGIN_OPTIMIZER, "sgd_momentum", "1.0.0",
                 "gradient descent with heavy-ball or Nesterov momentum (example plugin)", sgd_params, &sgd_ops)
