/* test_p1_2d.c — the 2-D P1 coarse/fine solver: manufactured solutions
 * (constant, anisotropic and variable coefficients) with observed L2/H1 orders,
 * state/adjoint/∂K̃ against central differences for symmetric (Cholesky) and
 * non-symmetric (LU) block tensors, CHOLMOD against the banded reference, the
 * mesh data, and the error paths. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"

#include "hpinn/coarse.h"
#include "hpinn/registry.h"

static const double PI = 3.14159265358979323846;
typedef struct solver {
    const hp_plugin_descriptor *desc;
    const hp_coarse_ops *ops;
    hp_params *params;
    void *state;
    size_t nn;
} solver;

static void open_solver(solver *s, int elements, int blocks, const char *extra) {
    char arg[32];
    snprintf(arg, sizeof arg, "elements=%d", elements);
    const char *args[] = {arg, extra};
    assert_int_equal(hp_registry_find(registry, HP_PLUGIN_COARSE, "p1_2d", &s->desc), HP_OK);
    OK(hp_params_from_strings(s->desc->params, "coarse", args, extra ? 2 : 1, &s->params));
    s->ops = s->desc->ops;
    OK(s->ops->create(s->params, 2, blocks, &s->state));
    s->nn = s->ops->mesh(s->state)->n_nodes;
}
static void close_solver(solver *s) {
    s->ops->destroy(s->state);
    hp_params_destroy(s->params);
}

/* ---- manufactured solution u = (1 + x) sin(πx) sin(πy) ---------------------- */
static void u_exact(const double *p, double *u, double g[2], double H[3]) {
    double x = p[0], y = p[1], S = sin(PI * x), C = cos(PI * x), Sy = sin(PI * y), Cy = cos(PI * y);
    if (u) *u = (1 + x) * S * Sy;
    if (g) {
        g[0] = Sy * (S + (1 + x) * PI * C);
        g[1] = (1 + x) * S * PI * Cy;
    }
    if (H) {
        H[0] = Sy * (2 * PI * C - (1 + x) * PI * PI * S); /* u_xx */
        H[1] = PI * Cy * (S + (1 + x) * PI * C);           /* u_xy */
        H[2] = -(1 + x) * PI * PI * S * Sy;                /* u_yy */
    }
}

typedef struct tensor_case { double K[4]; } tensor_case;
/* constant tensor: -div(K̃ (∇u + e_i)) = -div(K̃ ∇u) */
static double q_tensor(const double *x, void *ctx) {
    const double *K = ((tensor_case *)ctx)->K;
    double H[3];
    u_exact(x, NULL, NULL, H);
    return -(K[0] * H[0] + (K[1] + K[2]) * H[1] + K[3] * H[2]);
}
static double K_var(const double *x, void *ctx) {
    (void)ctx;
    return 2.0 + sin(2 * PI * x[0]) * cos(PI * x[1]);
}
static int direction_var;
/* scalar field: q = -K Δu - ∇K·∇u - ∂_i K */
static double q_var(const double *x, void *ctx) {
    (void)ctx;
    double g[2], H[3], dK[2] = {2 * PI * cos(2 * PI * x[0]) * cos(PI * x[1]),
                                -PI * sin(2 * PI * x[0]) * sin(PI * x[1])};
    u_exact(x, NULL, g, H);
    return -(K_var(x, NULL) * (H[0] + H[2]) + dK[0] * g[0] + dK[1] * g[1] + dK[direction_var]);
}

/* 7-point degree-5 rule on the reference triangle (Radon), weights sum to 1 —
 * independent of the plugin's own quadrature. */
static void radon7(double l1[7], double l2[7], double w[7]) {
    double s15 = sqrt(15.0), a1 = (6 - s15) / 21, a2 = (6 + s15) / 21;
    double w1 = (155 - s15) / 1200, w2 = (155 + s15) / 1200;
    double pts[7][3] = {{1.0 / 3, 1.0 / 3, 0.225},  {a1, a1, w1}, {1 - 2 * a1, a1, w1}, {a1, 1 - 2 * a1, w1},
                        {a2, a2, w2}, {1 - 2 * a2, a2, w2}, {a2, 1 - 2 * a2, w2}};
    for (int k = 0; k < 7; ++k) l1[k] = pts[k][0], l2[k] = pts[k][1], w[k] = pts[k][2];
}

static void errors(const solver *s, const double *y, double *l2, double *h1) {
    const hp_coarse_mesh *m = s->ops->mesh(s->state);
    int n = m->elements_per_dim;
    double h = 1.0 / n, l1[7], l2r[7], w[7];
    radon7(l1, l2r, w);
    double *grad = malloc(sizeof(double) * 2 * m->n_elements);
    double *area = malloc(sizeof(double) * m->n_elements);
    OK(s->ops->element_data(s->state, y, NULL, area, NULL, grad));
    double e0 = 0, e1 = 0;
    for (size_t e = 0; e < m->n_elements; ++e) {
        size_t cell = e / 2;
        double x0 = (double)(cell % n) * h, y0 = (double)(cell / n) * h;
        /* vertices per hpinn/coarse.h: lower (00,10,11), upper (00,11,01) */
        double vx[3] = {x0, x0 + h, e % 2 ? x0 : x0 + h}, vy[3] = {y0, e % 2 ? y0 + h : y0, y0 + h};
        for (int k = 0; k < 7; ++k) {
            double l0 = 1 - l1[k] - l2r[k];
            double p[2] = {l0 * vx[0] + l1[k] * vx[1] + l2r[k] * vx[2], l0 * vy[0] + l1[k] * vy[1] + l2r[k] * vy[2]};
            double uh, u, g[2];
            OK(s->ops->evaluate(s->state, y, p, 1, &uh));
            u_exact(p, &u, g, NULL);
            e0 += w[k] * area[e] * (uh - u) * (uh - u);
            e1 += w[k] * area[e] * (pow(grad[2 * e] - g[0], 2) + pow(grad[2 * e + 1] - g[1], 2));
        }
    }
    free(grad);
    free(area);
    *l2 = sqrt(e0);
    *h1 = sqrt(e1);
}

/* kind 0: constant isotropic tensor, 1: anisotropic (non-symmetric) tensor,
 * 2: variable field K(x) in direction `direction`. */
static void convergence(int kind, int direction, const char *label) {
    const int sizes[3] = {16, 32, 64};
    double l2[3], h1[3];
    tensor_case tc = {{1.5, 0.0, 0.0, 1.5}};
    if (kind == 1) tc = (tensor_case){{2.0, 0.7, 0.3, 1.0}};
    for (int t = 0; t < 3; ++t) {
        solver s;
        open_solver(&s, sizes[t], 1, NULL);
        double *y = malloc(sizeof(double) * s.nn);
        if (kind < 2) {
            OK(s.ops->set_source(s.state, q_tensor, &tc));
            OK(s.ops->set_coefficient_blocks(s.state, tc.K));
        } else {
            direction_var = direction;
            OK(s.ops->set_source(s.state, q_var, NULL));
            OK(s.ops->set_coefficient_field(s.state, K_var, NULL));
        }
        OK(s.ops->solve_state(s.state, direction, y));
        errors(&s, y, &l2[t], &h1[t]);
        free(y);
        close_solver(&s);
    }
    double ol2 = log2(l2[1] / l2[2]), oh1 = log2(h1[1] / h1[2]);
    print_message("  2-D %s: L2 %.3e %.3e %.3e (order %.3f), H1 %.3e %.3e %.3e (order %.3f)\n", label,
                  l2[0], l2[1], l2[2], ol2, h1[0], h1[1], h1[2], oh1);
    /* P1 theory: L2 O(h²), H1 O(h); ±0.1 for pre-asymptotic terms at n = 32..64 */
    assert_true(fabs(ol2 - 2.0) < 0.1);
    assert_true(fabs(oh1 - 1.0) < 0.1);
}

static void test_manufactured_constant(void **st) { (void)st; convergence(0, 0, "constant 1.5 I"); }
static void test_manufactured_anisotropic(void **st) { (void)st; convergence(1, 1, "[[2,.7],[.3,1]]"); }
static void test_manufactured_variable_x(void **st) { (void)st; convergence(2, 0, "K(x), direction 1"); }
static void test_manufactured_variable_y(void **st) { (void)st; convergence(2, 1, "K(x), direction 2"); }

/* ---- state / adjoint / ∂K̃ against central differences ---------------------- */
static double q_smooth(const double *x, void *ctx) { (void)ctx; return 1.0 + x[0] * x[1] + x[1] * x[1]; }

static double functional(solver *s, const double *Kt, int dir, const double *g, double *y) {
    OK(s->ops->set_coefficient_blocks(s->state, Kt));
    OK(s->ops->solve_state(s->state, dir, y));
    double L = 0.0;
    for (size_t k = 0; k < s->nn; ++k) L += g[k] * y[k];
    return L;
}

static void gradient_fd(int blocks, const double *Kt, const char *extra) {
    solver s;
    open_solver(&s, 8, blocks, extra);
    size_t nb = (size_t)blocks * blocks;
    double *g = malloc(sizeof(double) * s.nn), *y = malloc(sizeof(double) * s.nn);
    double *p = malloc(sizeof(double) * s.nn), *dK = calloc(4 * nb, sizeof(double));
    double *Kp = malloc(sizeof(double) * 4 * nb);
    for (size_t k = 0; k < s.nn; ++k) g[k] = sin(0.37 * k + 0.1);
    OK(s.ops->set_source(s.state, q_smooth, NULL));
    double worst = 0.0;
    for (int dir = 0; dir < 2; ++dir) {
        memset(dK, 0, sizeof(double) * 4 * nb);
        functional(&s, Kt, dir, g, y);
        OK(s.ops->solve_adjoint(s.state, g, p));
        OK(s.ops->coefficient_gradient(s.state, dir, y, p, dK));
        for (size_t t = 0; t < 4 * nb; ++t) {
            const double step = 1e-6;
            memcpy(Kp, Kt, sizeof(double) * 4 * nb);
            Kp[t] += step;
            double fp = functional(&s, Kp, dir, g, y);
            Kp[t] -= 2 * step;
            double fm = functional(&s, Kp, dir, g, y);
            double fd = (fp - fm) / (2 * step);
            double err = fabs(-dK[t] - fd) / (1.0 + fabs(fd));
            worst = fmax(worst, err);
            if (err > 1e-6)
                fail_msg("block %zu entry %zu direction %d: adjoint %.10g vs FD %.10g", t / 4, t % 4, dir,
                         -dK[t], fd);
        }
    }
    print_message("  dK FD (%d^2 blocks%s%s): worst relative difference %.2e\n", blocks, extra ? ", " : "",
                  extra ? extra : "", worst);
    free(g), free(y), free(p), free(dK), free(Kp);
    close_solver(&s);
}

static void test_gradient_global(void **st) {
    (void)st;
    const double K[4] = {1.4, 0.3, -0.2, 0.9}; /* non-symmetric: B stays symmetric (one block) */
    gradient_fd(1, K, NULL);
    gradient_fd(1, K, "solver=banded");
}

static void test_gradient_blocks(void **st) {
    (void)st;
    /* symmetric blocks -> Cholesky; differing antisymmetric parts -> LU and Bᵀ in the adjoint */
    const double Ksym[16] = {1.0, 0.2, 0.2, 1.5, 2.0, -0.3, -0.3, 0.8,
                             0.7, 0.0, 0.0, 0.7, 1.2, 0.4, 0.4, 2.2};
    const double Knon[16] = {1.0, 0.5, -0.1, 1.5, 2.0, -0.3, 0.2, 0.8,
                             0.7, 0.0, 0.3, 0.7, 1.2, 0.9, 0.1, 2.2};
    gradient_fd(2, Ksym, NULL);
    gradient_fd(2, Ksym, "solver=banded");
    gradient_fd(2, Knon, NULL);
}

/* The adjoint solves with Bᵀ (non-symmetric B here). With q = 0 the states are
 * y_i = B⁻¹ d_i, d_i = -∫ K̃ e_i·∇φ, so for p = B⁻ᵀ r: rᵀ (y_1 - y_0) = pᵀ (d_1 - d_0).
 * pᵀ d_i is read from coefficient_gradient at y = 0, which is δ_li ∫ ∂_j p per
 * entry (j, l): contracted with K̃ it gives ∫ K̃ e_i·∇p = -pᵀ d_i. */
static void test_adjoint_transpose(void **st) {
    (void)st;
    const double Knon[16] = {1.0, 0.5, -0.1, 1.5, 2.0, -0.3, 0.2, 0.8,
                             0.7, 0.0, 0.3, 0.7, 1.2, 0.9, 0.1, 2.2};
    solver s;
    open_solver(&s, 8, 2, NULL);
    double *y0 = malloc(sizeof(double) * s.nn), *y1 = malloc(sizeof(double) * s.nn);
    double *r = malloc(sizeof(double) * s.nn), *p = malloc(sizeof(double) * s.nn);
    double *zero = calloc(s.nn, sizeof(double)), dK0[16] = {0}, dK1[16] = {0};
    OK(s.ops->set_coefficient_blocks(s.state, Knon));
    OK(s.ops->solve_state(s.state, 0, y0));
    OK(s.ops->solve_state(s.state, 1, y1));
    for (size_t k = 0; k < s.nn; ++k) r[k] = cos(0.9 * k);
    OK(s.ops->solve_adjoint(s.state, r, p));
    OK(s.ops->coefficient_gradient(s.state, 0, zero, p, dK0));
    OK(s.ops->coefficient_gradient(s.state, 1, zero, p, dK1));
    double lhs = 0, rhs = 0;
    for (size_t k = 0; k < s.nn; ++k) rhs += r[k] * (y1[k] - y0[k]);
    for (int t = 0; t < 16; ++t) lhs -= Knon[t] * (dK1[t] - dK0[t]);
    assert_true(fabs(rhs) > 1e-3); /* the identity is not trivially 0 = 0 */
    assert_true(fabs(lhs - rhs) < 1e-12 * (1 + fabs(rhs)));
    free(y0), free(y1), free(r), free(p), free(zero);
    close_solver(&s);
}

/* CHOLMOD and the banded LAPACK reference give the same fine solution. */
static void test_cholmod_matches_banded(void **st) {
    (void)st;
    solver a, b;
    open_solver(&a, 40, 1, "solver=cholmod");
    open_solver(&b, 40, 1, "solver=banded");
    double *ya = malloc(sizeof(double) * a.nn), *yb = malloc(sizeof(double) * a.nn);
    for (int dir = 0; dir < 2; ++dir) {
        direction_var = dir;
        OK(a.ops->set_source(a.state, q_var, NULL));
        OK(b.ops->set_source(b.state, q_var, NULL));
        OK(a.ops->set_coefficient_field(a.state, K_var, NULL));
        OK(b.ops->set_coefficient_field(b.state, K_var, NULL));
        OK(a.ops->solve_state(a.state, dir, ya));
        OK(b.ops->solve_state(b.state, dir, yb));
        double diff = 0, norm = 0;
        for (size_t k = 0; k < a.nn; ++k) diff = fmax(diff, fabs(ya[k] - yb[k])), norm = fmax(norm, fabs(yb[k]));
        assert_true(diff < 1e-12 * norm);
    }
    free(ya), free(yb);
    close_solver(&a);
    close_solver(&b);
}

/* ---- mesh data, evaluation, errors ----------------------------------------- */
static void test_mesh_and_evaluate(void **st) {
    (void)st;
    solver s;
    open_solver(&s, 6, 3, NULL);
    const hp_coarse_mesh *m = s.ops->mesh(s.state);
    assert_int_equal(m->n_nodes, 49);
    assert_int_equal(m->n_elements, 72);
    assert_int_equal(m->n_blocks, 9);
    double sum = 0, y[49];
    for (size_t k = 0; k < 49; ++k) {
        sum += m->weights[k];
        y[k] = 1.0 + 2.0 * m->coords[2 * k] - 3.0 * m->coords[2 * k + 1]; /* linear */
    }
    assert_true(fabs(sum - 1.0) < 1e-14);
    assert_true(fabs(m->coords[2 * 8] - 1.0 / 6) < 1e-15 && fabs(m->coords[2 * 8 + 1] - 1.0 / 6) < 1e-15);
    double pts[8] = {0.0, 0.0, 0.31, 0.77, 0.9, 0.05, 1.0, 1.0}, out[4];
    OK(s.ops->evaluate(s.state, y, pts, 4, out));
    for (int r = 0; r < 4; ++r) assert_true(fabs(out[r] - (1 + 2 * pts[2 * r] - 3 * pts[2 * r + 1])) < 1e-13);
    double grad[144], cen[144], area[72];
    OK(s.ops->element_data(s.state, y, cen, area, NULL, grad));
    for (int e = 0; e < 72; ++e) {
        assert_true(fabs(grad[2 * e] - 2.0) < 1e-12 && fabs(grad[2 * e + 1] + 3.0) < 1e-12);
        assert_true(fabs(area[e] - 1.0 / 72) < 1e-15);
    }
    /* element 1 is the upper triangle of cell (0,0): centroid (h/3, 2h/3) */
    assert_true(fabs(cen[2] - 1.0 / 18) < 1e-15 && fabs(cen[3] - 2.0 / 18) < 1e-15);
    double bad[2] = {0.5, -0.1};
    assert_int_equal(s.ops->evaluate(s.state, y, bad, 1, out), HP_ERR_INTERNAL);
    close_solver(&s);
}

static double K_negative(const double *x, void *ctx) { (void)ctx; return x[1] > 0.7 ? -1.0 : 1.0; }

static void test_not_positive_definite(void **st) {
    (void)st;
    solver s;
    open_solver(&s, 4, 2, NULL);
    double y[25];
    double K[16] = {1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1};
    K[12] = 1.0, K[13] = 3.0, K[14] = 3.0, K[15] = 1.0; /* block 3: eigenvalues 4, -2 */
    assert_int_equal(s.ops->set_coefficient_blocks(s.state, K), HP_ERR_NUMERIC);
    assert_non_null(strstr(hp_error_message(), "block 3 (1, 1)"));
    assert_int_equal(s.ops->solve_state(s.state, 0, y), HP_ERR_INTERNAL);
    K[13] = K[14] = 0.0, K[5] = NAN;
    assert_int_equal(s.ops->set_coefficient_blocks(s.state, K), HP_ERR_NUMERIC);
    assert_non_null(strstr(hp_error_message(), "block 1 (1, 0)"));
    K[5] = 0.0, K[4] = -1.0; /* negative definite diagonal */
    assert_int_equal(s.ops->set_coefficient_blocks(s.state, K), HP_ERR_NUMERIC);
    assert_int_equal(s.ops->set_coefficient_field(s.state, K_negative, NULL), HP_ERR_NUMERIC);
    assert_non_null(strstr(hp_error_message(), "element"));
    close_solver(&s);
    /* blocks must divide the mesh; the wrong dimension is refused */
    const char *args[] = {"elements=6"};
    hp_params *p;
    void *state;
    OK(hp_params_from_strings(s.desc->params, "coarse", args, 1, &p));
    assert_int_equal(s.ops->create(p, 2, 4, &state), HP_ERR_CONFIG);
    assert_non_null(strstr(hp_error_message(), "multiple"));
    assert_int_equal(s.ops->create(p, 1, 1, &state), HP_ERR_CONFIG);
    hp_params_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manufactured_constant),
        cmocka_unit_test(test_manufactured_anisotropic),
        cmocka_unit_test(test_manufactured_variable_x),
        cmocka_unit_test(test_manufactured_variable_y),
        cmocka_unit_test(test_gradient_global),
        cmocka_unit_test(test_gradient_blocks),
        cmocka_unit_test(test_adjoint_transpose),
        cmocka_unit_test(test_cholmod_matches_banded),
        cmocka_unit_test(test_mesh_and_evaluate),
        cmocka_unit_test(test_not_positive_definite),
    };
    return cmocka_run_group_tests(tests, hp_test_registry_setup, hp_test_registry_teardown);
}
