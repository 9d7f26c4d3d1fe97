/* optim_problems.h — test objectives shared by the optimizer tests: a diagonal
 * quadratic, Rosenbrock in n dimensions, a rotated ill-conditioned quadratic, a
 * function that is NaN beyond a radius, exponential fitting and a small PINN-like
 * residual (least squares, with Jacobians), plus an evaluation counter and a
 * helper that builds an optimizer from "key=value" strings.
 *
 * Header-only (static functions) so each test executable takes what it needs. */
#ifndef HPINN_TESTS_OPTIM_PROBLEMS_H
#define HPINN_TESTS_OPTIM_PROBLEMS_H

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "hpinn/optimizer.h"
#include "hpinn/plugin.h"

const hp_plugin_descriptor *hp_plugin_entry(void);

#if defined(__GNUC__)
#define OP_UNUSED __attribute__((unused))
#else
#define OP_UNUSED
#endif

/* |a - b| <= tol in double precision (CMocka 1.1.5 compares floats only). */
#define OP_ASSERT_NEAR(a, b, tol)                                                       \
    do {                                                                                \
        double op__a = (a), op__b = (b), op__t = (tol);                                 \
        if (!(fabs(op__a - op__b) <= op__t))                                            \
            fail_msg("%s = %.17g, expected %.17g within %.3g", #a, op__a, op__b, op__t); \
    } while (0)

/* Build a parameter set for the plugin compiled into this test and create it. */
static OP_UNUSED hp_status op_create(const char *const *assignments, size_t count, size_t n,
                                     hp_params **params, void **state) {
    const hp_plugin_descriptor *d = hp_plugin_entry();
    const hp_optimizer_ops *ops = d->ops;
    *params = NULL;
    *state = NULL;
    hp_status st = hp_params_from_strings(d->params, "optimizer", assignments, count, params);
    if (st != HP_OK) return st;
    st = ops->create(*params, n, state);
    if (st != HP_OK) {
        hp_params_destroy(*params);
        *params = NULL;
    }
    return st;
}

static OP_UNUSED const hp_optimizer_ops *op_ops(void) {
    return (const hp_optimizer_ops *)hp_plugin_entry()->ops;
}

/* ---- counting ---------------------------------------------------------------- */

/* Every problem context starts with this, so the counter is generic. */
typedef struct op_counter {
    size_t value_and_gradient;
    size_t residuals;
} op_counter;

/* ---- diagonal quadratic: L = 1/2 sum a_i (x_i - c_i)^2 ------------------------ */

typedef struct op_quadratic {
    op_counter count;
    size_t n;
    const double *a, *c;
} op_quadratic;

static OP_UNUSED hp_status op_quadratic_vg(void *ctx, const double *x, double *f, double *g) {
    op_quadratic *q = ctx;
    q->count.value_and_gradient++;
    double s = 0.0;
    for (size_t i = 0; i < q->n; ++i) {
        double d = x[i] - q->c[i];
        s += 0.5 * q->a[i] * d * d;
        if (g) g[i] = q->a[i] * d;
    }
    *f = s;
    return HP_OK;
}

/* ---- Rosenbrock: sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, minimum at 1 ----- */

typedef struct op_rosenbrock {
    op_counter count;
    size_t n;
} op_rosenbrock;

static OP_UNUSED hp_status op_rosenbrock_vg(void *ctx, const double *x, double *f, double *g) {
    op_rosenbrock *p = ctx;
    p->count.value_and_gradient++;
    double s = 0.0;
    if (g) memset(g, 0, p->n * sizeof *g);
    for (size_t i = 0; i + 1 < p->n; ++i) {
        double t = x[i + 1] - x[i] * x[i], u = 1.0 - x[i];
        s += 100.0 * t * t + u * u;
        if (g) {
            g[i] += -400.0 * t * x[i] - 2.0 * u;
            g[i + 1] += 200.0 * t;
        }
    }
    *f = s;
    return HP_OK;
}

/* ---- rotated quadratic L = 1/2 (x-c)^T Q D Q^T (x-c), Q a Householder reflection,
 * eigenvalues log-spaced in [1, cond] ------------------------------------------ */

typedef struct op_rotated {
    op_counter count;
    size_t n;
    double cond;
    double u[64];  /* unit Householder vector, Q = I - 2 u u^T */
    double c[64];
    double w[64];  /* workspace */
} op_rotated;

static OP_UNUSED void op_rotated_init(op_rotated *p, size_t n, double cond) {
    double nrm = 0.0;
    memset(p, 0, sizeof *p);
    p->n = n;
    p->cond = cond;
    for (size_t i = 0; i < n; ++i) {
        p->u[i] = 1.0 + 0.37 * (double)i - 0.01 * (double)(i * i);
        p->c[i] = sin(0.7 * (double)i + 0.3);
        nrm += p->u[i] * p->u[i];
    }
    nrm = sqrt(nrm);
    for (size_t i = 0; i < n; ++i) p->u[i] /= nrm;
}

static OP_UNUSED double op_rotated_eig(const op_rotated *p, size_t i) {
    return p->n > 1 ? pow(p->cond, (double)i / (double)(p->n - 1)) : 1.0;
}

static OP_UNUSED hp_status op_rotated_vg(void *ctx, const double *x, double *f, double *g) {
    op_rotated *p = ctx;
    const size_t n = p->n;
    p->count.value_and_gradient++;
    /* w = Q^T (x - c) = (x - c) - 2 u (u.(x - c)) */
    double ud = 0.0;
    for (size_t i = 0; i < n; ++i) ud += p->u[i] * (x[i] - p->c[i]);
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) {
        p->w[i] = (x[i] - p->c[i]) - 2.0 * p->u[i] * ud;
        s += 0.5 * op_rotated_eig(p, i) * p->w[i] * p->w[i];
        p->w[i] *= op_rotated_eig(p, i);
    }
    *f = s;
    if (g) {
        double uw = 0.0;
        for (size_t i = 0; i < n; ++i) uw += p->u[i] * p->w[i];
        for (size_t i = 0; i < n; ++i) g[i] = p->w[i] - 2.0 * p->u[i] * uw;
    }
    return HP_OK;
}

/* ---- NaN beyond a radius: 1/2 ||x - c||^2 inside ||x|| <= radius, NaN outside -- */

typedef struct op_nan_ball {
    op_counter count;
    size_t n;
    double radius;
    const double *c;
} op_nan_ball;

static OP_UNUSED hp_status op_nan_ball_vg(void *ctx, const double *x, double *f, double *g) {
    op_nan_ball *p = ctx;
    p->count.value_and_gradient++;
    double r2 = 0.0, s = 0.0;
    for (size_t i = 0; i < p->n; ++i) {
        r2 += x[i] * x[i];
        s += 0.5 * (x[i] - p->c[i]) * (x[i] - p->c[i]);
    }
    if (r2 > p->radius * p->radius) {
        *f = NAN;
        if (g)
            for (size_t i = 0; i < p->n; ++i) g[i] = NAN;
        return HP_OK;
    }
    *f = s;
    if (g)
        for (size_t i = 0; i < p->n; ++i) g[i] = x[i] - p->c[i];
    return HP_OK;
}

/* ---- least squares: value and gradient from residuals and Jacobian ----------- */

typedef hp_status (*op_residual_fn)(void *ctx, const double *theta, double *r, double *J);

typedef struct op_least_squares {
    op_counter count;
    size_t n, m;
    op_residual_fn residuals;
    void *problem;
    double r[256];
    double J[256 * 64];
} op_least_squares;

static OP_UNUSED hp_status op_ls_rj(void *ctx, const double *theta, double *r, double *J) {
    op_least_squares *p = ctx;
    p->count.residuals++;
    return p->residuals(p->problem, theta, r, J);
}

static OP_UNUSED hp_status op_ls_vg(void *ctx, const double *theta, double *f, double *g) {
    op_least_squares *p = ctx;
    p->count.value_and_gradient++;
    hp_status st = p->residuals(p->problem, theta, p->r, g ? p->J : NULL);
    if (st != HP_OK) return st;
    double s = 0.0;
    for (size_t i = 0; i < p->m; ++i) s += 0.5 * p->r[i] * p->r[i];
    *f = s;
    if (g)
        for (size_t j = 0; j < p->n; ++j) {
            g[j] = 0.0;
            for (size_t i = 0; i < p->m; ++i) g[j] += p->J[i * p->n + j] * p->r[i];
        }
    return HP_OK;
}

static OP_UNUSED hp_objective op_ls_objective(op_least_squares *p) {
    hp_objective o = {.n = p->n, .m = p->m, .ctx = p, .value_and_gradient = op_ls_vg, .residuals_and_jacobian = op_ls_rj};
    return o;
}

/* Exponential fit: r_i = sum_k a_k exp(b_k t_i) + offset - y_i with the terms in
 * theta = (a_1, b_1, [a_2, b_2, ...], [offset]); t_i = i/(m-1) on [0, 1]. */
typedef struct op_expfit {
    size_t m, terms;
    int offset;
    double y[256];
} op_expfit;

static OP_UNUSED hp_status op_expfit_rj(void *ctx, const double *th, double *r, double *J) {
    op_expfit *p = ctx;
    const size_t n = 2 * p->terms + (p->offset ? 1 : 0);
    for (size_t i = 0; i < p->m; ++i) {
        double t = p->m > 1 ? (double)i / (double)(p->m - 1) : 0.0, s = 0.0;
        for (size_t k = 0; k < p->terms; ++k) {
            double e = exp(th[2 * k + 1] * t);
            s += th[2 * k] * e;
            if (J) {
                J[i * n + 2 * k] = e;
                J[i * n + 2 * k + 1] = th[2 * k] * t * e;
            }
        }
        if (p->offset) {
            s += th[2 * p->terms];
            if (J) J[i * n + 2 * p->terms] = 1.0;
        }
        r[i] = s - p->y[i];
    }
    return HP_OK;
}

/* PINN-like residual: u(x) = sum_k w_k tanh(a_k x + b_k), theta = (w, a, b) per
 * neuron; residuals -u''(x_j) - f_j at M interior points, then u(0) - g0 and
 * u(1) - g1. The data f, g0, g1 come from a known parameter vector, so the
 * minimum L = 0 is known. */
typedef struct op_pinn {
    size_t neurons, points;
    double f[256], g0, g1;
} op_pinn;

static OP_UNUSED void op_pinn_eval(const op_pinn *p, const double *th, double x, double *u,
                                   double *u_xx, double *du, double *du_xx) {
    /* du, du_xx: derivatives of u and u'' wrt theta (3 per neuron), may be NULL */
    *u = 0.0;
    *u_xx = 0.0;
    for (size_t k = 0; k < p->neurons; ++k) {
        double w = th[3 * k], a = th[3 * k + 1], b = th[3 * k + 2];
        double t = tanh(a * x + b);
        double s1 = 1.0 - t * t;                      /* tanh'  */
        double s2 = -2.0 * t * s1;                    /* tanh'' */
        double s3 = -2.0 * s1 * (1.0 - 3.0 * t * t);  /* tanh''' */
        *u += w * t;
        *u_xx += w * a * a * s2;
        if (du) {
            du[3 * k] = t;
            du[3 * k + 1] = w * s1 * x;
            du[3 * k + 2] = w * s1;
        }
        if (du_xx) {
            du_xx[3 * k] = a * a * s2;
            du_xx[3 * k + 1] = w * (2.0 * a * s2 + a * a * s3 * x);
            du_xx[3 * k + 2] = w * a * a * s3;
        }
    }
}

static OP_UNUSED double op_pinn_x(const op_pinn *p, size_t j) {
    return ((double)j + 0.5) / (double)p->points;
}

static OP_UNUSED void op_pinn_init(op_pinn *p, size_t neurons, size_t points,
                                   const double *theta_star) {
    p->neurons = neurons;
    p->points = points;
    double u, uxx;
    for (size_t j = 0; j < points; ++j) {
        op_pinn_eval(p, theta_star, op_pinn_x(p, j), &u, &uxx, NULL, NULL);
        p->f[j] = -uxx;
    }
    op_pinn_eval(p, theta_star, 0.0, &u, &uxx, NULL, NULL);
    p->g0 = u;
    op_pinn_eval(p, theta_star, 1.0, &u, &uxx, NULL, NULL);
    p->g1 = u;
}

static OP_UNUSED hp_status op_pinn_rj(void *ctx, const double *th, double *r, double *J) {
    op_pinn *p = ctx;
    const size_t n = 3 * p->neurons;
    double u, uxx, du[64], duxx[64];
    for (size_t j = 0; j < p->points; ++j) {
        op_pinn_eval(p, th, op_pinn_x(p, j), &u, &uxx, NULL, J ? duxx : NULL);
        r[j] = -uxx - p->f[j];
        if (J)
            for (size_t i = 0; i < n; ++i) J[j * n + i] = -duxx[i];
    }
    op_pinn_eval(p, th, 0.0, &u, &uxx, J ? du : NULL, NULL);
    r[p->points] = u - p->g0;
    if (J)
        for (size_t i = 0; i < n; ++i) J[p->points * n + i] = du[i];
    op_pinn_eval(p, th, 1.0, &u, &uxx, J ? du : NULL, NULL);
    r[p->points + 1] = u - p->g1;
    if (J)
        for (size_t i = 0; i < n; ++i) J[(p->points + 1) * n + i] = du[i];
    return HP_OK;
}

static OP_UNUSED double op_norm2(const double *v, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) s += v[i] * v[i];
    return sqrt(s);
}

/* create() with bad parameters must be a config error naming optimizer.<key>
 * (and, when given, the location "<args>:1:N" of the offending assignment). */
static OP_UNUSED void expect_config_error(const char *const *args, size_t nargs, const char *key,
                                         const char *where) {
    hp_params *p;
    void *s;
    assert_int_equal(op_create(args, nargs, 4, &p, &s), HP_ERR_CONFIG);
    const char *msg = hp_error_message();
    char dotted[64];
    snprintf(dotted, sizeof dotted, "optimizer.%s", key);
    if (!strstr(msg, dotted) || (where && !strstr(msg, where))) fail_msg("message: %s", msg);
}

/* The plugin compiled into this test describes itself as optimizer `name`, and
 * every parameter has a doc line for `hpinn plugins NAME`. */
static OP_UNUSED void op_check_descriptor(const char *name) {
    const hp_plugin_descriptor *d = hp_plugin_entry();
    assert_int_equal(d->kind, HP_PLUGIN_OPTIMIZER);
    assert_string_equal(d->name, name);
    for (const hp_param_def *p = d->params; p->name; ++p) assert_non_null(p->doc);
}

#endif
