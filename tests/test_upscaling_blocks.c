/* test_upscaling_blocks.c — block-wise upscaling (Algorithm 2 / (36)): forward
 * against hand-computed cases, backward against central differences, one block
 * equal to global anisotropic on FEM data, singular and non-positive-definite
 * blocks reported, and 4x4 blocks of a fine solution fed to the coarse solver. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"
#include "upscaling_util.h"

#include "hpinn/coarse.h"
#include "hpinn/registry.h"
#include "hpinn/upscaling.h"

static const double PI = 3.14159265358979323846;
typedef struct ups {
    const hp_upscaling_ops *ops;
    hp_params *params;
    void *state;
} ups;

static void ups_open(ups *u, const char *name, int dim, const char *arg) {
    const hp_plugin_descriptor *d;
    const char *args[] = {arg};
    assert_int_equal(hp_registry_find(registry, HP_PLUGIN_UPSCALING, name, &d), HP_OK);
    OK(hp_params_from_strings(d->params, "upscaling", args, arg ? 1 : 0, &u->params));
    u->ops = d->ops;
    OK(u->ops->create(u->params, dim, &u->state));
}
static void ups_close(ups *u) {
    u->ops->destroy(u->state);
    hp_params_destroy(u->params);
}

/* 2-D, one block, the points of test_upscaling_global's hand case:
 * T = [[0.95, 0.075], [0.05, 1.025]] (averaged ∇w_i as columns),
 * F = [[1.225, 0.15], [0.1, 1.225]] (averaged K ∇w_i), K̃ = F T⁻¹, with
 * det T = 0.97, T⁻¹ = [[1.025, -0.075], [-0.05, 0.95]] / 0.97:
 *   K̃11 = (1.225·1.025 − 0.15·0.05)/0.97 = 1.2867268041237113...
 *   K̃12 = (−1.225·0.075 + 0.15·0.95)/0.97 = 0.0521907216494845...
 *   K̃21 = (0.1·1.025 − 1.225·0.05)/0.97  = 0.0425257731958762...
 *   K̃22 = (−0.1·0.075 + 1.225·0.95)/0.97 = 1.1920103092783505...
 * cond_2(T) = σmax/σmin = 1.15936923420535 */
static void test_forward_2d_by_hand(void **st) {
    (void)st;
    double x[4] = {0.2, 0.3, 0.7, 0.6}, w[2] = {0.25, 0.75}, K[2] = {2, 1};
    double g[8] = {0.1, 0.2, -0.1, 0.0, 0.3, -0.2, 0.0, 0.1}, Kt[4], cond;
    const double want[4] = {(1.225 * 1.025 - 0.15 * 0.05) / 0.97, (-1.225 * 0.075 + 0.15 * 0.95) / 0.97,
                            (0.1 * 1.025 - 1.225 * 0.05) / 0.97, (-0.1 * 0.075 + 1.225 * 0.95) / 0.97};
    unsigned char pd;
    hp_upscaling_report rep = {&pd, &cond, -1, -1};
    hp_upscaling_input in = {2, 2, 2, x, w, K, NULL, NULL, g};
    ups u;
    ups_open(&u, "blocks", 2, "blocks=1");
    assert_int_equal(u.ops->n_directions(u.state), 2);
    assert_int_equal(u.ops->blocks_per_dim(u.state), 1);
    OK(up_forward(u.ops, u.state, &in, Kt, &rep));
    for (int t = 0; t < 4; ++t) assert_true(fabs(Kt[t] - want[t]) < 1e-14);
    assert_true(fabs(cond - 1.15936923420535) < 1e-12);
    assert_int_equal(pd, 1);
    assert_int_equal(rep.n_singular, 0);
    assert_int_equal(rep.n_not_positive_definite, 0);
    ups_close(&u);
}

/* 1-D, two blocks, two points each with weight 1/4:
 * block 0: K = (1, 2), u' = (0.5, -0.3): T = 1.1, F = 1.45, K̃ = 1.45/1.1
 * block 1: K = (4, 1), u' = (0, -0.5):   T = 0.75, F = 2.25, K̃ = 3 */
static void test_forward_1d_by_hand(void **st) {
    (void)st;
    double x[4] = {0.1, 0.3, 0.6, 0.9}, w[4] = {0.25, 0.25, 0.25, 0.25}, K[4] = {1, 2, 4, 1};
    double g[4] = {0.5, -0.3, 0.0, -0.5}, Kt[2], cond[2];
    hp_upscaling_report rep = {NULL, cond, 0, 0};
    hp_upscaling_input in = {1, 1, 4, x, w, K, NULL, NULL, g};
    ups u;
    ups_open(&u, "blocks", 1, "blocks=2");
    OK(up_forward(u.ops, u.state, &in, Kt, &rep));
    assert_true(fabs(Kt[0] - 1.45 / 1.1) < 1e-14 && fabs(Kt[1] - 3.0) < 1e-14);
    assert_true(cond[0] == 1.0 && cond[1] == 1.0);
    ups_close(&u);
}

static void make_points(int P, double *x, double *w, double *K, double *g) {
    for (int r = 0; r < P; ++r) {
        x[2 * r] = fmod(0.37 * r + 0.05, 1.0);
        x[2 * r + 1] = fmod(0.61 * r + 0.11, 1.0);
        w[r] = 1.0 / P;
        K[r] = 1.5 + sin(1.3 * r);
    }
    for (int t = 0; t < 4 * P; ++t) g[t] = 0.3 * cos(0.9 * t);
}

static void test_backward_fd(void **st) {
    (void)st;
    enum { P = 40, NB = 4 };
    double x[2 * P], w[P], K[P], g[4 * P], dg[4 * P] = {0}, G[4 * NB], Kt[4 * NB];
    make_points(P, x, w, K, g);
    for (int t = 0; t < 4 * NB; ++t) G[t] = sin(2.1 * t + 0.4);
    hp_upscaling_input in = {2, 2, P, x, w, K, NULL, NULL, g};
    ups u;
    ups_open(&u, "blocks", 2, "blocks=2");
    OK(up_forward(u.ops, u.state, &in, Kt, NULL));
    OK(up_backward(u.ops, u.state, &in, G, NULL, dg));
    for (int t = 0; t < 4 * P; ++t) {
        const double h = 1e-6, keep = g[t];
        double L[2];
        for (int s = 0; s < 2; ++s) {
            g[t] = keep + (s ? -h : h);
            OK(up_forward(u.ops, u.state, &in, Kt, NULL));
            L[s] = 0;
            for (int k = 0; k < 4 * NB; ++k) L[s] += G[k] * Kt[k];
        }
        g[t] = keep;
        double fd = (L[0] - L[1]) / (2 * h);
        if (fabs(dg[t] - fd) > 1e-8 * (1 + fabs(fd))) fail_msg("dgrad[%d] = %.12g, FD %.12g", t, dg[t], fd);
    }
    ups_close(&u);
}

static void test_singular_and_indefinite_blocks(void **st) {
    (void)st;
    enum { P = 40 };
    double x[2 * P], w[P], K[P], g[4 * P], Kt[16], cond[4];
    unsigned char pd[4];
    make_points(P, x, w, K, g);
    /* block 3 ((1,1): x, y >= 0.5): make ∇w_2 = ∇w_1 there, so T^3 has equal columns */
    for (int r = 0; r < P; ++r)
        if (x[2 * r] >= 0.5 && x[2 * r + 1] >= 0.5) {
            g[(P + r) * 2] = g[r * 2] + 1.0;       /* ∂_1 w_2 = ∂_1 u_2 = ∂_1 u_1 + 1 = ∂_1 w_1 */
            g[(P + r) * 2 + 1] = g[r * 2 + 1] - 1.0; /* ∂_2 w_2 = ∂_2 u_2 + 1 = ∂_2 u_1 = ∂_2 w_1 */
        }
    hp_upscaling_report rep = {pd, cond, 0, 0};
    hp_upscaling_input in = {2, 2, P, x, w, K, NULL, NULL, g};
    ups u;
    ups_open(&u, "blocks", 2, "blocks=2");
    assert_int_equal(up_forward(u.ops, u.state, &in, Kt, &rep), HP_ERR_NUMERIC);
    assert_non_null(strstr(hp_error_message(), "block 3 (1, 1)"));
    assert_int_equal(rep.n_singular, 1);
    assert_true(!(cond[3] <= 1e12));
    assert_true(cond[0] < 1e3 && cond[1] < 1e3 && cond[2] < 1e3);
    assert_int_equal(pd[3], 0);
    ups_close(&u);
    /* a block with no points is singular too */
    make_points(P, x, w, K, g);
    for (int r = 0; r < P; ++r) x[2 * r] *= 0.4, x[2 * r + 1] *= 0.4; /* all in block 0 of 2x2 */
    ups_open(&u, "blocks", 2, "blocks=2");
    assert_int_equal(up_forward(u.ops, u.state, &in, Kt, &rep), HP_ERR_NUMERIC);
    assert_non_null(strstr(hp_error_message(), "no points"));
    assert_int_equal(rep.n_singular, 3);
    ups_close(&u);
    /* an indefinite block is reported, not an error: K < 0 on block 0 */
    make_points(P, x, w, K, g);
    for (int r = 0; r < P; ++r)
        if (x[2 * r] < 0.5 && x[2 * r + 1] < 0.5) K[r] = -1.0;
    ups_open(&u, "blocks", 2, "blocks=2");
    OK(up_forward(u.ops, u.state, &in, Kt, &rep));
    assert_int_equal(pd[0], 0);
    assert_int_equal(pd[1] + pd[2] + pd[3], 3);
    assert_int_equal(rep.n_not_positive_definite, 1);
    ups_close(&u);
}

/* ---- FEM data ---------------------------------------------------------------- */
static double K3(const double *x, void *ctx) {
    (void)ctx;
    return 1.0 / (2.0 + 1.8 * sin(2 * PI * (2 * x[0] - x[1]) * 4.0));
}
static double q_gauss(const double *x, void *ctx) {
    (void)ctx;
    return exp(-((x[0] - 0.5) * (x[0] - 0.5) + (x[1] - 0.5) * (x[1] - 0.5)));
}

typedef struct fem_data {
    size_t P;
    double *x, *w, *K, *g;
} fem_data;

static void fem_solve(int n, hp_scalar_field q, fem_data *f) {
    const hp_plugin_descriptor *d;
    hp_params *p;
    void *s;
    char a[32];
    snprintf(a, sizeof a, "elements=%d", n);
    const char *args[] = {a};
    assert_int_equal(hp_registry_find(registry, HP_PLUGIN_COARSE, "p1_2d", &d), HP_OK);
    const hp_coarse_ops *ops = d->ops;
    OK(hp_params_from_strings(d->params, "fine", args, 1, &p));
    OK(ops->create(p, 2, 1, &s));
    const hp_coarse_mesh *m = ops->mesh(s);
    f->P = m->n_elements;
    double *u = malloc(sizeof(double) * m->n_nodes);
    f->x = malloc(sizeof(double) * 2 * f->P), f->w = malloc(sizeof(double) * f->P);
    f->K = malloc(sizeof(double) * f->P), f->g = malloc(sizeof(double) * 4 * f->P);
    OK(ops->set_source(s, q, NULL));
    OK(ops->set_coefficient_field(s, K3, NULL));
    for (int i = 0; i < 2; ++i) {
        OK(ops->solve_state(s, i, u));
        OK(ops->element_data(s, u, f->x, f->w, f->K, f->g + (size_t)i * 2 * f->P));
    }
    free(u);
    ops->destroy(s);
    hp_params_destroy(p);
}
static void fem_free(fem_data *f) { free(f->x), free(f->w), free(f->K), free(f->g); }

/* On FEM data Σ_e |e| ∇u_i = 0 (u_i = 0 on ∂Ω), so T = I and one block is (43). */
static void test_one_block_equals_global(void **st) {
    (void)st;
    fem_data f;
    fem_solve(32, q_gauss, &f);
    hp_upscaling_input in = {2, 2, f.P, f.x, f.w, f.K, NULL, NULL, f.g};
    double Kb[4], Kg[4];
    ups b, g;
    ups_open(&b, "blocks", 2, "blocks=1");
    ups_open(&g, "global", 2, "mode=anisotropic");
    OK(up_forward(b.ops, b.state, &in, Kb, NULL));
    OK(up_forward(g.ops, g.state, &in, Kg, NULL));
    for (int t = 0; t < 4; ++t) assert_true(fabs(Kb[t] - Kg[t]) < 1e-12);
    ups_close(&b);
    ups_close(&g);
    fem_free(&f);
}

/* Section 4.3 pipeline piece: 4x4 block tensors from a fine solution (q = 0) are
 * well conditioned and SPD, and the coarse solver accepts them (non-symmetric
 * tensors: the LU path) for both directions. */
static void test_blocks_into_coarse_solver(void **st) {
    (void)st;
    fem_data f;
    fem_solve(64, NULL, &f);
    hp_upscaling_input in = {2, 2, f.P, f.x, f.w, f.K, NULL, NULL, f.g};
    double Kt[64], cond[16];
    unsigned char pd[16];
    hp_upscaling_report rep = {pd, cond, 0, 0};
    ups b;
    ups_open(&b, "blocks", 2, "blocks=4");
    OK(up_forward(b.ops, b.state, &in, Kt, &rep));
    assert_int_equal(rep.n_not_positive_definite, 0);
    for (int j = 0; j < 16; ++j) assert_true(cond[j] < 10.0);
    const hp_plugin_descriptor *d;
    hp_params *p;
    void *s;
    const char *args[] = {"elements=16"};
    assert_int_equal(hp_registry_find(registry, HP_PLUGIN_COARSE, "p1_2d", &d), HP_OK);
    const hp_coarse_ops *ops = d->ops;
    OK(hp_params_from_strings(d->params, "coarse", args, 1, &p));
    OK(ops->create(p, 2, 4, &s));
    double y[17 * 17];
    OK(ops->set_coefficient_blocks(s, Kt));
    OK(ops->solve_state(s, 0, y));
    double norm = 0;
    for (int k = 0; k < 17 * 17; ++k) norm += fabs(y[k]);
    assert_true(norm > 0 && isfinite(norm)); /* block-wise K̃: y_i != 0 even for q = 0 (49) */
    ops->destroy(s);
    hp_params_destroy(p);
    ups_close(&b);
    fem_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_2d_by_hand),
        cmocka_unit_test(test_forward_1d_by_hand),
        cmocka_unit_test(test_backward_fd),
        cmocka_unit_test(test_singular_and_indefinite_blocks),
        cmocka_unit_test(test_one_block_equals_global),
        cmocka_unit_test(test_blocks_into_coarse_solver),
    };
    return cmocka_run_group_tests(tests, hp_test_registry_setup, hp_test_registry_teardown);
}
