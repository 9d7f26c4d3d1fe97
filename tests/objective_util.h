/* objective_util.h — the hybrid-objective checks shared by test_objective.c and
 * test_residual_average.c: open a pipeline from YAML text, the gradient against
 * fourth-order central differences (test_objective.c's header says why that
 * step and floor), and the Gauss–Newton residuals, dense Jacobian and
 * matrix-free products against finite differences and each other. */
#ifndef HPINN_TEST_OBJECTIVE_UTIL_H
#define HPINN_TEST_OBJECTIVE_UTIL_H

#include "test_util.h"

#include "hpinn/config.h"
#include "hpinn/registry.h"
#include "hybrid.h"

typedef struct hybrid {
    hp_config *config;
    hp__hybrid *h;
    hp_objective obj;
    size_t n;
    double *theta;
} hybrid;

static inline void hybrid_open(hybrid *b, const char *yaml) {
    OK(hp_config_load_string(yaml, strlen(yaml), "objective.yaml", &b->config));
    OK(hp__hybrid_create(b->config, registry, NULL, NULL, &b->h));
    b->obj = hp__hybrid_objective(b->h);
    b->n = hp__hybrid_n_params(b->h);
    assert_int_equal(b->obj.n, b->n);
    b->theta = calloc(b->n, sizeof *b->theta);
    OK(hp__hybrid_init_params(b->h, b->theta));
}

static inline void hybrid_close(hybrid *b) {
    free(b->theta);
    hp__hybrid_destroy(b->h);
    hp_config_destroy(b->config);
}

static inline double value_grad(hybrid *b, const double *theta, double *grad) {
    double f;
    OK(b->obj.value_and_gradient(b->obj.ctx, theta, &f, grad));
    return f;
}

enum { TOTAL = 0, COUPLING = 1, AVERAGED = 2 };
static const double fd_step = 1e-3;

/* Worst relative error of `g` against central differences of Ĵ (TOTAL), of
 * the unweighted coupling term R (COUPLING) or of the unweighted averaged
 * residual A (AVERAGED), over all parameters. Every
 * perturbed evaluation must keep the fallback flag of θ. */
static inline double fd_worst(hybrid *b, const double *g, int which, int expect_fallback, size_t *at) {
    double *th = malloc(b->n * sizeof *th);
    memcpy(th, b->theta, b->n * sizeof *th);
    double gmax = 0.0, worst = 0.0;
    for (size_t k = 0; k < b->n; k++) gmax = fmax(gmax, fabs(g[k]));
    double floor = 1e-6 * gmax;
    *at = 0;
    for (size_t k = 0; k < b->n; k++) {
        double old = th[k], h = fd_step * fmax(1.0, fabs(old)), f[4];
        const double offsets[4] = {1.0, -1.0, 2.0, -2.0};
        for (int s = 0; s < 4; s++) {
            th[k] = old + offsets[s] * h;
            OK(b->obj.value_and_gradient(b->obj.ctx, th, &f[s], NULL));
            if (which == COUPLING) f[s] = hp__hybrid_last_terms(b->h)->coupling;
            if (which == AVERAGED) f[s] = hp__hybrid_last_terms(b->h)->averaged;
            assert_int_equal(hp__hybrid_last_terms(b->h)->fallback, expect_fallback);
        }
        th[k] = old;
        double fd = (8.0 * (f[0] - f[1]) - (f[2] - f[3])) / (12.0 * h);
        double rel = fabs(g[k] - fd) / fmax(fmax(fabs(g[k]), fabs(fd)), floor);
        if (!(rel <= worst)) worst = rel, *at = k; /* NaN counts as worst */
    }
    free(th);
    return worst;
}

/* The matrix-free products against the dense Jacobian J at b.theta: linearize
 * gives the same residuals, J v and Jᵀ u agree with J's products to rounding
 * (1e-12 of their largest entry) for random v and u. */
static inline void check_products(hybrid *b, const double *r, const double *J, const char *label) {
    const hp_objective *o = &b->obj;
    if (!o->linearize || !o->jvp || !o->vjp) fail_msg("%s: the objective offers no matrix-free products", label);
    size_t m = o->m, n = b->n;
    double *r2 = calloc(m, sizeof *r2), *v = calloc(n, sizeof *v), *u = calloc(m, sizeof *u);
    double *Jv = calloc(m, sizeof *Jv), *ref_m = calloc(m, sizeof *ref_m), *JTu = calloc(n, sizeof *JTu);
    double *ref_n = calloc(n, sizeof *ref_n);
    OK(o->linearize(o->ctx, b->theta, r2));
    assert_memory_equal(r2, r, m * sizeof *r); /* the same residual code path */
    for (int trial = 0; trial < 3; trial++) {
        for (size_t k = 0; k < n; k++) v[k] = sin(1.0 + 3.7 * (double)(k + 11 * trial));
        for (size_t i = 0; i < m; i++) u[i] = cos(0.3 + 1.9 * (double)(i + 7 * trial));
        OK(o->jvp(o->ctx, b->theta, v, Jv));
        OK(o->vjp(o->ctx, b->theta, u, JTu));
        double em = 0.0, sm = 0.0, en = 0.0, sn = 0.0;
        for (size_t i = 0; i < m; i++) {
            double s2 = 0.0;
            for (size_t k = 0; k < n; k++) s2 += J[i * n + k] * v[k];
            ref_m[i] = s2;
            sm = fmax(sm, fabs(s2));
        }
        for (size_t k = 0; k < n; k++) {
            double s2 = 0.0;
            for (size_t i = 0; i < m; i++) s2 += J[i * n + k] * u[i];
            ref_n[k] = s2;
            sn = fmax(sn, fabs(s2));
        }
        for (size_t i = 0; i < m; i++) em = fmax(em, fabs(Jv[i] - ref_m[i]));
        for (size_t k = 0; k < n; k++) en = fmax(en, fabs(JTu[k] - ref_n[k]));
        if (!(em <= 1e-12 * sm)) fail_msg("%s: |J v - dense J v| = %.3e (scale %.3e)", label, em, sm);
        if (!(en <= 1e-12 * sn)) fail_msg("%s: |J^T u - dense J^T u| = %.3e (scale %.3e)", label, en, sn);
        if (trial == 0) print_message("%-44s J v %.1e, J^T u %.1e (relative to the dense products)\n", label,
                                      em / sm, en / sn);
    }
    /* another evaluation in between: the products refuse to act at a stale point */
    double value;
    OK(o->value_and_gradient(o->ctx, b->theta, &value, NULL));
    assert_int_equal(o->jvp(o->ctx, b->theta, v, Jv), HP_ERR_INTERNAL);
    assert_contains(hp_error_message(), "not linearized");
    free(r2), free(v), free(u), free(Jv), free(ref_m), free(JTu), free(ref_n);
}

/* Residuals and Jacobian (Gauss–Newton) at b.theta, with the weights set now:
 * ½‖r‖² = Ĵ, Jᵀr = ∇Ĵ (g), and every column of J against fourth-order central
 * differences of r (error relative to the column's largest entry). Returns the
 * worst column error. */
static inline double check_jacobian(hybrid *b, const double *g, const char *label) {
    const hp_objective *o = &b->obj;
    if (!o->residuals_and_jacobian) fail_msg("%s: the objective offers no residuals/Jacobian", label);
    size_t m = o->m, n = b->n;
    double *r = calloc(m, sizeof *r), *J = calloc(m * n, sizeof *J), *rf[4];
    for (int j = 0; j < 4; j++) rf[j] = calloc(m, sizeof *rf[j]);
    OK(o->residuals_and_jacobian(o->ctx, b->theta, r, J));
    double half = 0.0, value;
    for (size_t i = 0; i < m; i++) half += 0.5 * r[i] * r[i];
    double *g2 = calloc(n, sizeof *g2);
    OK(o->value_and_gradient(o->ctx, b->theta, &value, g2));
    if (!(fabs(half - value) <= 1e-11 * fabs(value))) fail_msg("%s: ½|r|² = %.17g but Ĵ = %.17g", label, half, value);
    double gmax = 0.0, dev = 0.0;
    for (size_t k = 0; k < n; k++) {
        double s = 0.0;
        for (size_t i = 0; i < m; i++) s += J[i * n + k] * r[i];
        dev = fmax(dev, fabs(s - g[k]));
        gmax = fmax(gmax, fabs(g[k]));
    }
    if (!(dev <= 1e-9 * gmax)) fail_msg("%s: |Jᵀr − ∇Ĵ|∞ = %.3e (|∇Ĵ|∞ = %.3e)", label, dev, gmax);
    static const double off[4] = {2.0, 1.0, -1.0, -2.0};
    double worst = 0.0;
    for (size_t k = 0; k < n; k++) {
        double old = b->theta[k], h = 1e-3 * fmax(1.0, fabs(old)), cmax = 0.0, e = 0.0;
        for (int j = 0; j < 4; j++) {
            b->theta[k] = old + off[j] * h;
            OK(o->residuals_and_jacobian(o->ctx, b->theta, rf[j], NULL));
        }
        b->theta[k] = old;
        for (size_t i = 0; i < m; i++) cmax = fmax(cmax, fabs(J[i * n + k]));
        for (size_t i = 0; i < m; i++) {
            double fd = (-rf[0][i] + 8.0 * rf[1][i] - 8.0 * rf[2][i] + rf[3][i]) / (12.0 * h);
            e = fmax(e, fabs(fd - J[i * n + k]) / fmax(cmax, 1e-300));
        }
        worst = fmax(worst, e);
    }
    if (!(worst < 1e-6)) fail_msg("%s: Jacobian column error %.3e", label, worst);
    check_products(b, r, J, label);
    for (int j = 0; j < 4; j++) free(rf[j]);
    free(r);
    free(J);
    free(g2);
    return worst;
}

/* One weighted term's own gradient from two gradients of Ĵ, with its weight w
 * and with w = 0: g_term = (g − g0)/w. Returns the term's share of the
 * gradient, ‖g − g0‖∞ / ‖g‖∞: large enough, an error in the term cannot hide
 * below the tolerance of the check of Ĵ. */
static inline double term_gradient(const double *g, const double *g0, double w, size_t n, double *g_term) {
    double dmax = 0.0, gmax = 0.0;
    for (size_t k = 0; k < n; k++) {
        g_term[k] = (g[k] - g0[k]) / w;
        dmax = fmax(dmax, fabs(g[k] - g0[k]));
        gmax = fmax(gmax, fabs(g[k]));
    }
    return dmax / gmax;
}

#endif
