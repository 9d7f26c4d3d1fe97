/* test_mpi_objective.c — the data-parallel objective (comm.c, hybrid.c,
 * hybrid_gauss_newton.c) against the serial one, run under `mpirun -np 2` and
 * `-np 3` (tests/mpi.cmake) and also alone (one rank: the same path as serial).
 *
 * On every rank the same pipeline is built twice: serial (every collocation
 * point here) and data-parallel (this rank's share). At the initial θ and at a
 * perturbed one they must agree to round-off: the value Ĵ and its gradient;
 * the least-squares form (½‖r‖², Jᵀr and JᵀJ completed over the ranks through
 * the objective's sum_over_ranks, as the lm optimizer does); and the validation
 * (rel. L2, fine residual); and, where the network has a tangent pass, the
 * matrix-free products lm_cg uses (Jᵀr, ‖Jv‖², JᵀJv). Cases: 1-D and 2-D, global and blocks upscaling,
 * full and compressed coupling, hard and soft boundary. */
#include "test_util.h"

#include <math.h>

#include "comm.h"
#include "hpinn/config.h"
#include "hybrid.h"
#include "problem.h"

typedef struct side {
    hp_config *config;
    hp__hybrid *h;
    hp_objective obj;
    size_t n;
} side;

static void side_open(side *s, const char *yaml, int distributed) {
    hp__comm_set_data_parallel(distributed);
    OK(hp_config_load_string(yaml, strlen(yaml), "mpi.yaml", &s->config));
    OK(hp__hybrid_create(s->config, registry, NULL, NULL, &s->h));
    hp__comm_set_data_parallel(1);
    s->obj = hp__hybrid_objective(s->h);
    s->n = hp__hybrid_n_params(s->h);
}

static void side_close(side *s) {
    hp__hybrid_destroy(s->h);
    hp_config_destroy(s->config);
}

static double max_abs(const double *v, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

/* max_i |a_i − b_i| / max(‖a‖∞, tiny) */
static double rel_diff(const double *a, const double *b, size_t n) {
    double d = 0.0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
    return d / fmax(max_abs(a, n), 1e-300);
}

/* ½‖r‖², Jᵀr (n) and JᵀJ (n x n) of one side; the distributed side's sums completed over the ranks. */
static double least_squares(side *s, const double *theta, double *g, double *gram) {
    size_t m = s->obj.m, n = s->n;
    double *r = calloc(m, sizeof *r), *J = calloc(m * n, sizeof *J);
    OK(s->obj.residuals_and_jacobian(s->obj.ctx, theta, r, J));
    double L = 0.0;
    for (size_t i = 0; i < m; i++) L += 0.5 * r[i] * r[i];
    for (size_t j = 0; j < n; j++) {
        double acc = 0.0;
        for (size_t i = 0; i < m; i++) acc += J[i * n + j] * r[i];
        g[j] = acc;
        for (size_t k = 0; k < n; k++) {
            double gk = 0.0;
            for (size_t i = 0; i < m; i++) gk += J[i * n + j] * J[i * n + k];
            gram[j * n + k] = gk;
        }
    }
    if (s->obj.sum_over_ranks) {
        OK(s->obj.sum_over_ranks(s->obj.ctx, &L, 1));
        OK(s->obj.sum_over_ranks(s->obj.ctx, g, n));
        OK(s->obj.sum_over_ranks(s->obj.ctx, gram, n * n));
    }
    free(r);
    free(J);
    return L;
}

/* Matrix-free Gauss–Newton at theta: Jᵀr, ‖Jv‖² and JᵀJ v (out: 2n + 1) for a
 * fixed v; the distributed side's ‖Jv‖² completed over the ranks. */
static void products(side *s, const double *theta, double *out) {
    size_t m = s->obj.m, n = s->n;
    double *r = calloc(m, sizeof *r), *Jv = calloc(m, sizeof *Jv), *v = calloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = cos(0.37 * (double)i);
    OK(s->obj.linearize(s->obj.ctx, theta, r));
    OK(s->obj.vjp(s->obj.ctx, theta, r, out));
    OK(s->obj.jvp(s->obj.ctx, theta, v, Jv));
    double q = 0.0;
    for (size_t i = 0; i < m; i++) q += Jv[i] * Jv[i];
    if (s->obj.sum_over_ranks) OK(s->obj.sum_over_ranks(s->obj.ctx, &q, 1));
    out[n] = q;
    OK(s->obj.vjp(s->obj.ctx, theta, Jv, out + n + 1));
    free(r);
    free(Jv);
    free(v);
}

static void compare_case(const char *label, const char *yaml, int with_validation) {
    side a, b;
    side_open(&a, yaml, 0);
    side_open(&b, yaml, 1);
    const hp__problem *pa = hp__hybrid_problem(a.h), *pb = hp__hybrid_problem(b.h);
    /* the split happened (a test that compared two serial objectives could not fail) */
    assert_int_equal(pb->distributed, hp__comm_size() > 1);
    assert_int_equal(pb->collocation_total, pa->collocation.n);
    if (hp__comm_size() > 1) assert_true(pb->collocation.n < pa->collocation.n);
    assert_int_equal(a.n, b.n);
    assert_true((a.obj.sum_over_ranks != NULL) == (hp__comm_size() > 1) || a.obj.sum_over_ranks == NULL);
    size_t n = a.n;
    double *theta = calloc(n, sizeof *theta), *ga = calloc(n, sizeof *ga), *gb = calloc(n, sizeof *gb);
    double *Ga = calloc(n * n, sizeof *Ga), *Gb = calloc(n * n, sizeof *Gb);
    OK(hp__hybrid_init_params(a.h, theta));
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) /* a second point, away from the initialization's symmetries */
            for (size_t i = 0; i < n; i++) theta[i] += 0.05 * sin(1.7 * (double)i + 0.3);
        double fa, fb;
        OK(a.obj.value_and_gradient(a.obj.ctx, theta, &fa, ga));
        OK(b.obj.value_and_gradient(b.obj.ctx, theta, &fb, gb));
        assert_true(isfinite(fa));
        double dv = fabs(fa - fb) / fabs(fa), dg = rel_diff(ga, gb, n);
        double La = least_squares(&a, theta, ga, Ga), Lb = least_squares(&b, theta, gb, Gb);
        double dL = fabs(La - Lb) / fabs(La), dJr = rel_diff(ga, gb, n), dJJ = rel_diff(Ga, Gb, n * n);
        if (hp__comm_rank() == 0)
            printf("%-46s pass %d ranks %d: value %.1e grad %.1e | L %.1e J'r %.1e J'J %.1e\n", label, pass,
                   hp__comm_size(), dv, dg, dL, dJr, dJJ);
        assert_true(dv <= 1e-12);
        assert_true(dg <= 1e-11);
        assert_true(fabs(La - fa) <= 1e-12 * fabs(fa)); /* ½‖r‖² = Ĵ */
        assert_true(dL <= 1e-12);
        assert_true(dJr <= 1e-11);
        assert_true(dJJ <= 1e-11);
        if (a.obj.jvp) { /* the network has a tangent pass: the products of lm_cg */
            assert_non_null(b.obj.jvp);
            double *prod_a = calloc(2 * n + 1, sizeof *prod_a), *prod_b = calloc(2 * n + 1, sizeof *prod_b);
            products(&a, theta, prod_a);
            products(&b, theta, prod_b);
            double dp = rel_diff(prod_a, prod_b, n), dq = fabs(prod_a[n] - prod_b[n]) / fabs(prod_a[n]),
                   dg2 = rel_diff(prod_a + n + 1, prod_b + n + 1, n);
            if (hp__comm_rank() == 0) printf("%-46s        products: J'r %.1e |Jv|^2 %.1e J'Jv %.1e\n", "", dp, dq, dg2);
            assert_true(dp <= 1e-11 && dq <= 1e-12 && dg2 <= 1e-11);
            free(prod_a);
            free(prod_b);
        }
        if (with_validation) {
            hp__hybrid_validation va, vb;
            OK(hp__hybrid_validate(a.h, theta, &va));
            OK(hp__hybrid_validate(b.h, theta, &vb));
            assert_true(isfinite(va.rel_l2));
            assert_true(fabs(va.rel_l2 - vb.rel_l2) <= 1e-12 * va.rel_l2);
            assert_true(fabs(va.fine_residual - vb.fine_residual) <= 1e-12 * va.fine_residual);
        }
    }
    free(theta);
    free(ga);
    free(gb);
    free(Ga);
    free(Gb);
    side_close(&a);
    side_close(&b);
}

#define PROBLEM_1D                                                                                          \
    "constants: {eps: 0.25}\n"                                                                              \
    "problem:\n  dim: 1\n  K: \"1/(1.2 + sin(2*pi*x/eps))\"\n  q: \"-3*(2*x - 1)\"\n  boundary: %s\n"      \
    "  collocation: {points: 20}\n  validation: {points: 31}\n  reference: {kind: integral}\n"             \
    "coarse: {plugin: p1_1d, elements: 8}\n"                                                                \
    "network: {plugin: msff, width: 8, depth: 2, features: 4, sigmas: [1, 4], seed: 3, threads: 1}\n"

#define PROBLEM_2D                                                                                          \
    "problem:\n  dim: 2\n  K: \"2 + sin(2*pi*x)*sin(2*pi*y) + 0.5*x\"\n  q: \"1 + x*y\"\n  boundary: %s\n"  \
    "  collocation: {points: 6, boundary_points: 5}\n  validation: {points: 5}\n  reference: {kind: none}\n" \
    "coarse: {plugin: p1_2d, elements: 4}\n"                                                                \
    "network: {plugin: mlp, width: 6, depth: 2, activation: tanh, seed: 4, threads: 1}\n"

static void run_case(const char *label, const char *problem, const char *boundary, const char *rest, int validation) {
    char yaml[4096];
    int len = snprintf(yaml, sizeof yaml, problem, boundary);
    snprintf(yaml + len, sizeof yaml - (size_t)len, "%s", rest);
    compare_case(label, yaml, validation);
}

static void test_1d(void **state) {
    (void)state;
    run_case("1-D global, full, hard", PROBLEM_1D, "hard",
             "upscaling: {plugin: global}\ncoupling: {form: full, window: 1, delta: eps, tau2: 10}\n", 1);
    run_case("1-D global, compressed, soft", PROBLEM_1D, "soft",
             "upscaling: {plugin: global}\ncoupling: {form: compressed, window: 2, delta: 0.1, tau1: 3, tau2: 20}\n", 1);
    run_case("1-D plain PINN (tau2 0)", PROBLEM_1D, "hard",
             "upscaling: {plugin: global}\ncoupling: {form: full, window: 1, delta: eps, tau2: 0}\n", 1);
}

static void test_2d(void **state) {
    (void)state;
    run_case("2-D global anisotropic, full, hard", PROBLEM_2D, "hard",
             "upscaling: {plugin: global, mode: anisotropic}\ncoupling: {form: full, window: 1, delta: 0.3, tau2: 20}\n",
             0);
    run_case("2-D blocks 2x2, compressed, soft", PROBLEM_2D, "soft",
             "upscaling: {plugin: blocks, blocks: 2}\n"
             "coupling: {form: compressed, window: 1, delta: 0.3, tau1: 2, tau2: 20}\n",
             0);
    run_case("2-D global isotropic, full, energy", PROBLEM_2D, "hard",
             "upscaling: {plugin: global, form: energy, mode: isotropic}\n"
             "coupling: {form: full, window: 1, delta: 0.3, tau2: 20}\n",
             0);
}

/* A failure on one rank reaches every rank, with its message and status. */
static void test_one_rank_fails(void **state) {
    (void)state;
    hp_status mine = HP_OK;
    if (hp__comm_rank() == hp__comm_size() - 1)
        mine = HP_ERROR_SET(HP_ERR_NUMERIC, "an injected failure on the last rank");
    double x = 1.0;
    hp_status st = hp__comm_sum(mine, &x, 1);
    if (hp__comm_size() == 1) {
        assert_int_equal(st, HP_ERR_NUMERIC);
        assert_contains(hp_error_message(), "an injected failure on the last rank");
        hp_error_clear();
        return;
    }
    assert_int_equal(st, HP_ERR_NUMERIC);
    assert_contains(hp_error_message(), "an injected failure on the last rank");
    if (hp__comm_rank() != hp__comm_size() - 1) {
        char expect[64];
        snprintf(expect, sizeof expect, "rank %d: ", hp__comm_size() - 1);
        assert_contains(hp_error_message(), expect);
    }
    assert_true(hp__comm_failure_is_shared());
    hp_error_clear();
    /* the sums are deterministic and in rank order: 1 + 2 + ... + R */
    double v = (double)(hp__comm_rank() + 1);
    OK(hp__comm_sum(HP_OK, &v, 1));
    assert_true(v == (double)(hp__comm_size() * (hp__comm_size() + 1) / 2));
    size_t lo, hi, total = 0;
    hp__comm_range(10, &lo, &hi);
    double share = (double)(hi - lo);
    OK(hp__comm_sum(HP_OK, &share, 1));
    total = (size_t)share;
    assert_int_equal(total, 10);
}

int main(int argc, char **argv) {
    if (hp__comm_init(&argc, &argv) != HP_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_1d),
        cmocka_unit_test(test_2d),
        cmocka_unit_test(test_one_rank_fails),
    };
    int failed = cmocka_run_group_tests(tests, hp_test_registry_setup, hp_test_registry_teardown);
    hp__comm_finalize();
    return failed;
}
