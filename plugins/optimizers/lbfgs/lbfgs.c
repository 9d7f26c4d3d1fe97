/* lbfgs.c — limited-memory BFGS (Nocedal 1980; Liu & Nocedal 1989) with the
 * Moré–Thuente strong-Wolfe line search (more_thuente.c).
 *
 * One step() is one accepted quasi-Newton iteration: direction from the two-loop
 * recursion with the initial matrix gamma I, gamma = s'y / y'y of the newest pair;
 * first trial step 1 (or, without history, a step of length initial_step along
 * -g); line search to the strong Wolfe conditions. Every accepted step satisfies
 * them, so s'y > 0 and the pair is stored. If the search fails with history, the
 * history is dropped and the search is retried once along -g within the same
 * evaluation budget; if that fails too, theta stays where it was and the step
 * reports why (hp_opt_stop + message). Non-finite trial values shrink the step
 * (see more_thuente.h); non-finite values at theta itself stop with
 * HP_OPT_NON_FINITE.
 *
 * The value and gradient at theta are cached from the previous step (the accepted
 * trial), so an iteration costs only its line-search evaluations. The cache is
 * keyed by the bits of theta: if the caller moves theta, the point is evaluated
 * afresh and the history, which described the old path, is discarded. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>

#include "hpinn/optimizer.h"
#include "hpinn/plugin.h"
#include "more_thuente.h"

static const hp_param_def lbfgs_params[] = {
    {"history", HP_PARAM_INT, "10", HP_PARAM_HAS_MIN, 1.0, 0.0, NULL, 0,
     "number of (s, y) correction pairs kept"},
    {"gtol", HP_PARAM_REAL, "1e-8", HP_PARAM_HAS_MIN, 0.0, 0.0, NULL, 0,
     "stop when ||g||_2 <= gtol"},
    {"xtol", HP_PARAM_REAL, "1e-12", HP_PARAM_HAS_MIN, 0.0, 0.0, NULL, 0,
     "stop when an accepted step has ||s||_2 <= xtol max(1, ||theta||_2)"},
    {"ftol", HP_PARAM_REAL, "1e-12", HP_PARAM_HAS_MIN, 0.0, 0.0, NULL, 0,
     "stop when an accepted step decreases L by <= ftol |L| (relative change)"},
    {"max_evals", HP_PARAM_INT, "25", HP_PARAM_HAS_MIN, 1.0, 0.0, NULL, 0,
     "objective evaluations allowed in one step's line search"},
    {"initial_step", HP_PARAM_REAL, "1", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 0.0, 0.0, NULL, 0,
     "length of the first trial step along -g when there is no history"},
    {"c1", HP_PARAM_REAL, "1e-4", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN | HP_PARAM_HAS_MAX, 0.0,
     0.5, NULL, 0, "strong Wolfe sufficient-decrease constant, in (0, 0.5]"},
    {"c2", HP_PARAM_REAL, "0.9", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN | HP_PARAM_HAS_MAX, 0.0,
     1.0, NULL, 0, "strong Wolfe curvature constant, in (c1, 1)"},
    HP_PARAM_END};

#define LBFGS_STATE_VERSION 1u
/* Relative width of the line search's interval of uncertainty at which it gives
 * up, and its step bounds (as in MINPACK-2 / liblbfgs). */
#define LBFGS_LS_XTOL 1e-14
#define LBFGS_LS_STPMIN 1e-20
#define LBFGS_LS_STPMAX 1e20

typedef struct lbfgs {
    size_t n, history;
    double gtol, xtol, ftol, initial_step, c1, c2;
    size_t max_evals;
    /* correction pairs: a ring of `history` slots, oldest at `head` */
    double *s, *y, *rho;
    uint64_t head, count;
    uint64_t iterations;  /* accepted steps */
    /* cached evaluation: L and g at theta_cached */
    uint64_t have_cache;
    double f;
    double *theta_cached, *g;
    /* workspace */
    double *d, *alpha, *x_trial, *g_trial;
} lbfgs;

static void lbfgs_destroy(void *state) {
    lbfgs *o = state;
    if (!o) return;
    free(o->s);
    free(o->y);
    free(o->rho);
    free(o->theta_cached);
    free(o->g);
    free(o->d);
    free(o->alpha);
    free(o->x_trial);
    free(o->g_trial);
    free(o);
}

static hp_status lbfgs_create(const hp_params *params, size_t n, void **state) {
    hp_status st;
    lbfgs *o = NULL;
    double c1 = hp_params_real(params, "c1"), c2 = hp_params_real(params, "c2");
    if (c2 >= 1.0)
        return hp_params_error(params, "c2", "%g is not below 1; expected c1 < c2 < 1", c2);
    if (c2 <= c1)
        return hp_params_error(params, "c2", "%g is not above c1 = %g; expected c1 < c2 < 1",
                               c2, c1);
    HP_CALL(hp_calloc(1, sizeof *o, &o));
    o->n = n;
    o->history = (size_t)hp_params_int(params, "history");
    o->gtol = hp_params_real(params, "gtol");
    o->xtol = hp_params_real(params, "xtol");
    o->ftol = hp_params_real(params, "ftol");
    o->max_evals = (size_t)hp_params_int(params, "max_evals");
    o->initial_step = hp_params_real(params, "initial_step");
    o->c1 = c1;
    o->c2 = c2;
    if (o->history > ((size_t)-1) / sizeof(double) / (n ? n : 1) / 2) {
        st = hp_params_error(params, "history", "%zu pairs of %zu parameters do not fit in "
                             "memory; expected a smaller history", o->history, n);
        goto fail;
    }
    HP_CALL_GOTO(st, hp_calloc(o->history * n, sizeof(double), &o->s), fail);
    HP_CALL_GOTO(st, hp_calloc(o->history * n, sizeof(double), &o->y), fail);
    HP_CALL_GOTO(st, hp_calloc(o->history, sizeof(double), &o->rho), fail);
    HP_CALL_GOTO(st, hp_calloc(o->history, sizeof(double), &o->alpha), fail);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double), &o->theta_cached), fail);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double), &o->g), fail);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double), &o->d), fail);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double), &o->x_trial), fail);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double), &o->g_trial), fail);
    *state = o;
    return HP_OK;
fail:
    lbfgs_destroy(o);
    return st;
}

static double norm2(const double *v, size_t n) {
    return n ? cblas_dnrm2((int)n, v, 1) : 0.0;
}

static double dot(const double *a, const double *b, size_t n) {
    return n ? cblas_ddot((int)n, a, 1, b, 1) : 0.0;
}

static int all_finite(const double *v, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (!isfinite(v[i])) return 0;
    return 1;
}

/* d = -H g by the two-loop recursion over the stored pairs (count > 0). */
static void lbfgs_direction(lbfgs *o) {
    const size_t n = o->n, h = o->history;
    const int in = (int)n;
    memcpy(o->d, o->g, n * sizeof(double));
    for (uint64_t k = o->count; k-- > 0;) {  /* newest to oldest */
        size_t i = (size_t)((o->head + k) % h);
        o->alpha[i] = o->rho[i] * dot(o->s + i * n, o->d, n);
        cblas_daxpy(in, -o->alpha[i], o->y + i * n, 1, o->d, 1);
    }
    size_t newest = (size_t)((o->head + o->count - 1) % h);
    const double *yn = o->y + newest * n;
    double gamma = 1.0 / (o->rho[newest] * dot(yn, yn, n)); /* s'y / y'y */
    cblas_dscal(in, gamma, o->d, 1);
    for (uint64_t k = 0; k < o->count; ++k) {  /* oldest to newest */
        size_t i = (size_t)((o->head + k) % h);
        double beta = o->rho[i] * dot(o->y + i * n, o->d, n);
        cblas_daxpy(in, o->alpha[i] - beta, o->s + i * n, 1, o->d, 1);
    }
    cblas_dscal(in, -1.0, o->d, 1);
}

/* Store s = x_trial - theta, y = g_trial - g if the curvature is safely positive
 * (the oldest pair makes room when the ring is full). */
static void lbfgs_push_pair(lbfgs *o, const double *theta) {
    const size_t n = o->n, h = o->history;
    double sy = 0.0, ss = 0.0, yy = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double si = o->x_trial[i] - theta[i], yi = o->g_trial[i] - o->g[i];
        sy += si * yi;
        ss += si * si;
        yy += yi * yi;
    }
    /* Strong Wolfe with c2 < 1 guarantees s'y > 0 in exact arithmetic; refuse pairs
     * that rounding made useless rather than lose positive definiteness. */
    if (!(sy > 1e-300) || !(sy > 1e-14 * sqrt(ss) * sqrt(yy))) return;
    size_t slot;
    if (o->count < h) {
        slot = (size_t)((o->head + o->count) % h);
        o->count++;
    } else {
        slot = (size_t)o->head;
        o->head = (o->head + 1) % h;
    }
    double *s = o->s + slot * n, *y = o->y + slot * n;
    for (size_t i = 0; i < n; ++i) {
        s[i] = o->x_trial[i] - theta[i];
        y[i] = o->g_trial[i] - o->g[i];
    }
    o->rho[slot] = 1.0 / dot(s, y, n);
}

static hp_status lbfgs_step(void *state, double *theta, const hp_objective *obj,
                            hp_opt_step_info *info) {
    lbfgs *o = state;
    const size_t n = o->n;
    hp_opt_info_init(info);
    if (obj->n != n)
        HP_ERROR(HP_ERR_INTERNAL, "lbfgs: objective has %zu parameters, optimizer was created "
                 "for %zu", obj->n, n);
    if (!obj->value_and_gradient)
        HP_ERROR(HP_ERR_INTERNAL, "lbfgs: objective has no value_and_gradient callback");

    if (!o->have_cache || memcmp(theta, o->theta_cached, n * sizeof(double)) != 0) {
        if (o->have_cache) o->count = o->head = 0; /* moved by the caller: old path */
        o->have_cache = 0;
        HP_CALL(obj->value_and_gradient(obj->ctx, theta, &o->f, o->g));
        info->evaluations++;
        memcpy(o->theta_cached, theta, n * sizeof(double));
        o->have_cache = 1;
    }
    info->value = o->f;
    double gnorm = norm2(o->g, n);
    info->grad_norm = gnorm;
    if (!isfinite(o->f) || !all_finite(o->g, n)) {
        o->have_cache = 0;
        hp_opt_info_stop(info, HP_OPT_NON_FINITE,
                         "lbfgs: %s not finite at the current parameters (L = %g) after %llu "
                         "iterations", isfinite(o->f) ? "gradient" : "loss", o->f,
                         (unsigned long long)o->iterations);
        return HP_OK;
    }
    if (gnorm <= o->gtol) {
        hp_opt_info_stop(info, HP_OPT_CONVERGED_GRADIENT,
                         "lbfgs: ||g|| = %.3e <= gtol = %.3e after %llu iterations", gnorm,
                         o->gtol, (unsigned long long)o->iterations);
        return HP_OK;
    }

    size_t evals = 0;
    more_thuente ls;
    more_thuente_task task = MORE_THUENTE_BAD_INPUT;
    double stp = 0.0, f_trial = NAN;
    int retried = 0;
    size_t finite_trials = 0;
    for (;;) {
        double stp0;
        if (o->count == 0) {
            for (size_t i = 0; i < n; ++i) o->d[i] = -o->g[i];
            stp0 = o->initial_step / gnorm;
        } else {
            lbfgs_direction(o);
            stp0 = 1.0;
        }
        double gd = dot(o->g, o->d, n);
        stp = stp0;
        task = more_thuente_start(&ls, o->c1, o->c2, LBFGS_LS_XTOL, LBFGS_LS_STPMIN,
                                  LBFGS_LS_STPMAX, o->f, gd, &stp);
        while (task == MORE_THUENTE_EVALUATE && evals < o->max_evals) {
            for (size_t i = 0; i < n; ++i) o->x_trial[i] = theta[i] + stp * o->d[i];
            HP_CALL(obj->value_and_gradient(obj->ctx, o->x_trial, &f_trial, o->g_trial));
            evals++;
            info->evaluations++;
            double dg = all_finite(o->g_trial, n) ? dot(o->g_trial, o->d, n) : NAN;
            if (isfinite(f_trial) && isfinite(dg)) finite_trials++;
            task = more_thuente_next(&ls, f_trial, dg, &stp);
        }
        if (task == MORE_THUENTE_CONVERGED) break;
        /* Failed. With history the direction may be the culprit: retry once along
         * the steepest descent direction. */
        if (o->count > 0 && !retried && evals < o->max_evals) {
            o->count = o->head = 0;
            retried = 1;
            continue;
        }
        if (task == MORE_THUENTE_EVALUATE && finite_trials == 0) task = MORE_THUENTE_NON_FINITE;
        hp_opt_stop stop = task == MORE_THUENTE_EVALUATE    ? HP_OPT_MAX_EVALUATIONS
                           : task == MORE_THUENTE_NON_FINITE ? HP_OPT_NON_FINITE
                                                             : HP_OPT_LINE_SEARCH_FAILED;
        const char *why = task == MORE_THUENTE_EVALUATE
                              ? "no step satisfying the strong Wolfe conditions within the budget"
                              : more_thuente_task_message(task);
        if (task == MORE_THUENTE_NON_FINITE)
            hp_opt_info_stop(info, stop, "lbfgs: line search found %s down to step %.3e (%zu "
                             "evaluations, ||g|| = %.3e, L = %.6e); parameters unchanged", why,
                             ls.barrier, evals, gnorm, o->f);
        if (task == MORE_THUENTE_NON_FINITE) return HP_OK;
        char barrier[96] = "";
        if (isfinite(ls.barrier) && task != MORE_THUENTE_NON_FINITE)
            snprintf(barrier, sizeof barrier, "; L not finite from step %.3e on", ls.barrier);
        hp_opt_info_stop(info, stop,
                         "lbfgs: line search %s: %s%s (%zu evaluations%s, ||g|| = %.3e, "
                         "L = %.6e); parameters unchanged",
                         stop == HP_OPT_MAX_EVALUATIONS ? "budget (max_evals) exhausted"
                                                        : "failed",
                         why, barrier, evals, retried ? ", also along -g" : "", gnorm, o->f);
        return HP_OK;
    }

    /* Accept x_trial (the last evaluation, at stp). */
    lbfgs_push_pair(o, theta);
    double step_norm = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double s = o->x_trial[i] - theta[i];
        step_norm += s * s;
    }
    step_norm = sqrt(step_norm);
    const double f_old = o->f;
    memcpy(theta, o->x_trial, n * sizeof(double));
    memcpy(o->theta_cached, theta, n * sizeof(double));
    memcpy(o->g, o->g_trial, n * sizeof(double));
    o->f = f_trial;
    o->iterations++;
    gnorm = norm2(o->g, n);
    info->value = o->f;
    info->grad_norm = gnorm;
    info->step_norm = step_norm;
    info->step_size = stp;

    const double theta_norm = norm2(theta, n);
    if (gnorm <= o->gtol)
        hp_opt_info_stop(info, HP_OPT_CONVERGED_GRADIENT,
                         "lbfgs: ||g|| = %.3e <= gtol = %.3e after %llu iterations", gnorm,
                         o->gtol, (unsigned long long)o->iterations);
    else if (step_norm <= o->xtol * fmax(1.0, theta_norm))
        hp_opt_info_stop(info, HP_OPT_CONVERGED_STEP,
                         "lbfgs: step ||s|| = %.3e <= xtol max(1, ||theta||) = %.3e after %llu "
                         "iterations (||g|| = %.3e)", step_norm,
                         o->xtol * fmax(1.0, theta_norm), (unsigned long long)o->iterations,
                         gnorm);
    else if (f_old - o->f <= o->ftol * fabs(f_old))
        hp_opt_info_stop(info, HP_OPT_CONVERGED_VALUE,
                         "lbfgs: decrease of L %.3e <= ftol |L| = %.3e after %llu iterations "
                         "(||g|| = %.3e)", f_old - o->f, o->ftol * fabs(f_old),
                         (unsigned long long)o->iterations, gnorm);
    return HP_OK;
}

/* payload: u64 iterations, head, count, have_cache | f | theta_cached (n) | g (n) |
 * s (history n) | y (history n) | rho (history) */
static size_t lbfgs_payload(const lbfgs *o) {
    return 4 * sizeof(uint64_t) + sizeof(double) +
           (2 * o->n + 2 * o->history * o->n + o->history) * sizeof(double);
}

static size_t lbfgs_state_size(const void *state) {
    return hp_opt_state_bytes(lbfgs_payload(state));
}

static hp_status lbfgs_save(const void *state, void *buf) {
    const lbfgs *o = state;
    const size_t n = o->n, h = o->history;
    hp_opt_state_writer w;
    hp_opt_state_write_begin(&w, buf, "lbfgs", LBFGS_STATE_VERSION, n, lbfgs_payload(o));
    hp_opt_state_put_u64(&w, o->iterations);
    hp_opt_state_put_u64(&w, o->head);
    hp_opt_state_put_u64(&w, o->count);
    hp_opt_state_put_u64(&w, o->have_cache);
    hp_opt_state_put_f64s(&w, &o->f, 1);
    hp_opt_state_put_f64s(&w, o->theta_cached, n);
    hp_opt_state_put_f64s(&w, o->g, n);
    hp_opt_state_put_f64s(&w, o->s, h * n);
    hp_opt_state_put_f64s(&w, o->y, h * n);
    hp_opt_state_put_f64s(&w, o->rho, h);
    HP_CALL(hp_opt_state_write_end(&w));
    return HP_OK;
}

static hp_status lbfgs_load(void *state, const void *buf, size_t size) {
    lbfgs *o = state;
    const size_t n = o->n, h = o->history;
    hp_opt_state_reader r;
    uint64_t iterations, head, count, have;
    HP_CALL(hp_opt_state_read_begin(&r, buf, size, "lbfgs", LBFGS_STATE_VERSION, n,
                                    lbfgs_payload(o)));
    HP_CALL(hp_opt_state_get_u64(&r, &iterations));
    HP_CALL(hp_opt_state_get_u64(&r, &head));
    HP_CALL(hp_opt_state_get_u64(&r, &count));
    HP_CALL(hp_opt_state_get_u64(&r, &have));
    if (head >= h || count > h || have > 1)
        HP_ERROR(HP_ERR_CORRUPT, "lbfgs optimizer state: ring head %llu / count %llu / cache "
                 "flag %llu out of range for history %zu", (unsigned long long)head,
                 (unsigned long long)count, (unsigned long long)have, h);
    o->iterations = iterations;
    o->head = head;
    o->count = count;
    o->have_cache = have;
    HP_CALL(hp_opt_state_get_f64s(&r, &o->f, 1));
    HP_CALL(hp_opt_state_get_f64s(&r, o->theta_cached, n));
    HP_CALL(hp_opt_state_get_f64s(&r, o->g, n));
    HP_CALL(hp_opt_state_get_f64s(&r, o->s, h * n));
    HP_CALL(hp_opt_state_get_f64s(&r, o->y, h * n));
    HP_CALL(hp_opt_state_get_f64s(&r, o->rho, h));
    return HP_OK;
}

/* The s and y pairs of the history and five vectors of n. */
static double lbfgs_memory_bytes(const hp_params *params, size_t n, size_t m) {
    (void)m;
    double h = (double)hp_params_int(params, "history");
    return 8.0 * ((2.0 * h + 5.0) * (double)n + 2.0 * h);
}

/* A new objective (resampled points): the curvature pairs and the cached
 * evaluation describe the old one. */
static void lbfgs_reset(void *state) {
    lbfgs *o = state;
    o->count = o->head = 0;
    o->have_cache = 0;
}

static void lbfgs_step_cost(const hp_params *params, const hp_opt_shape *shape, hp_opt_step_cost *cost) {
    /* the line search usually accepts its first trial; the two-loop recursion is 4 n per pair */
    cost->gradients = 1.0;
    cost->flops = 4.0 * (double)shape->n * (double)hp_params_int(params, "history");
}

static const hp_optimizer_ops lbfgs_ops = {
    .struct_size = sizeof(hp_optimizer_ops),
    .create = lbfgs_create,
    .destroy = lbfgs_destroy,
    .step = lbfgs_step,
    .state_size = lbfgs_state_size,
    .save = lbfgs_save,
    .load = lbfgs_load,
    .memory_bytes = lbfgs_memory_bytes,
    .reset = lbfgs_reset,
    .step_cost = lbfgs_step_cost,
};

HP_PLUGIN_DEFINE(HP_PLUGIN_OPTIMIZER, "lbfgs", "1.0.0",
                 "L-BFGS with Moré–Thuente strong-Wolfe line search; reports why it stops",
                 lbfgs_params, &lbfgs_ops)
