/* test_problem.c — the fine-scale problem of a pipeline (problem.c): the point
 * sets (collocation, soft-mode boundary, validation) with K, ∇K, q there against
 * hand-computed numbers; the references against closed forms (the 1-D flux
 * integral for K = 1, K = e^x and the paper's oscillating K; the fine FEM in 1-D
 * and 2-D with its convergence order; the exact expression); and the errors for a
 * non-positive K and inconsistent reference settings. */
#include "test_util.h"

#include <sys/stat.h>

#include "hpinn/config.h"
#include "hpinn/registry.h"
#include "problem.h"
#include "reference.h"

/* Create the problem of a pipeline given as YAML text (the config is only needed
 * during creation). */
static hp__problem *problem_from(const char *yaml) {
    hp_config *c = NULL;
    OK(hp_config_load_string(yaml, strlen(yaml), "problem.yaml", &c));
    hp__problem *p = NULL;
    hp_status st = hp__problem_create(c, &p);
    hp_config_destroy(c);
    if (st != HP_OK) fail_msg("hp__problem_create: %s", hp_error_message());
    return p;
}

/* The error status and message of a pipeline that must be refused. */
static hp_status problem_error(const char *yaml, char *msg, size_t size) {
    hp_config *c = NULL;
    OK(hp_config_load_string(yaml, strlen(yaml), "bad.yaml", &c));
    hp__problem *p = NULL;
    hp_status st = hp__problem_create(c, &p);
    if (st == HP_OK && p) {
        /* the reference kind is checked at creation, the FEM plugin only later */
        hp__problem_destroy(p);
        hp_config_destroy(c);
        return HP_OK;
    }
    snprintf(msg, size, "%s", hp_error_message());
    hp_config_destroy(c);
    return st;
}

static const hp_plugin_descriptor *global_plugin(void) {
    const hp_plugin_descriptor *d = NULL;
    OK(hp_registry_find(registry, HP_PLUGIN_UPSCALING, "global", &d));
    return d;
}

static const hp_plugin_descriptor *coarse(const char *name) {
    const hp_plugin_descriptor *d = NULL;
    OK(hp_registry_find(registry, HP_PLUGIN_COARSE, name, &d));
    return d;
}

/* 1-D, M = 7: x_r = r/8; K = 2 + x², K' = 2x, q = 3x; validation: 5 points
 * 0, 1/4, .., 1 with the end points flagged as boundary. Hard BC: no boundary set. */
static void test_points_1d(void **state) {
    (void)state;
    hp__problem *p = problem_from("problem:\n"
                                 "  dim: 1\n  K: \"2 + x^2\"\n  q: \"3*x\"\n"
                                 "  collocation: {points: 7}\n"
                                 "  validation: {points: 5}\n"
                                 "  reference: {kind: none}\n");
    assert_int_equal(p->dim, 1);
    assert_int_equal(p->hard_bc, 1);
    assert_int_equal(p->collocation.n, 7);
    for (size_t r = 0; r < 7; r++) {
        double x = (double)(r + 1) / 8.0;
        assert_double_equal(p->collocation.x[r], x, 1e-15);
        assert_double_equal(p->collocation.K[r], 2.0 + x * x, 1e-14);
        assert_double_equal(p->collocation.gradK[r], 2.0 * x, 1e-14);
        assert_double_equal(p->collocation.q[r], 3.0 * x, 1e-14);
        assert_double_equal(hp__problem_f(&p->collocation, 1, r, 0), 3.0 * x + 2.0 * x, 1e-14);
    }
    assert_int_equal(p->boundary.n, 0);
    assert_int_equal(p->validation.n, 5);
    assert_int_equal(p->validation_per_axis, 5);
    const unsigned char interior[5] = {0, 1, 1, 1, 0};
    for (size_t r = 0; r < 5; r++) {
        double x = (double)r / 4.0;
        assert_double_equal(p->validation.x[r], x, 1e-15);
        assert_double_equal(p->validation.K[r], 2.0 + x * x, 1e-14);
        assert_int_equal(p->validation_interior[r], interior[r]);
    }
    assert_int_equal(p->reference, HP__REFERENCE_NONE);
    OK(hp__reference_compute(p, 1, NULL, global_plugin(), NULL, NULL));
    assert_null(p->u_reference);
    assert_int_equal(p->n_reference_directions, 0);
    hp__problem_destroy(p);
}

/* Constants in expressions and the soft mode's boundary set (1-D: the two ends). */
static void test_points_1d_soft_constants(void **state) {
    (void)state;
    hp__problem *p = problem_from("constants: {a: 3, b: 0.5}\n"
                                 "problem:\n"
                                 "  dim: 1\n  K: \"a + sin(b*x)\"\n  q: \"-a\"\n  boundary: soft\n"
                                 "  collocation: {points: 3}\n  validation: {points: 3}\n  reference: {kind: none}\n");
    assert_int_equal(p->hard_bc, 0);
    for (size_t r = 0; r < 3; r++) {
        double x = (double)(r + 1) / 4.0;
        assert_double_equal(p->collocation.K[r], 3.0 + sin(0.5 * x), 1e-14);
        assert_double_equal(p->collocation.gradK[r], 0.5 * cos(0.5 * x), 1e-14);
        assert_double_equal(p->collocation.q[r], -3.0, 0.0);
    }
    assert_int_equal(p->boundary.n, 2);
    assert_double_equal(p->boundary.x[0], 0.0, 0.0);
    assert_double_equal(p->boundary.x[1], 1.0, 0.0);
    assert_double_equal(p->boundary.K[1], 3.0 + sin(0.5), 1e-14);
    assert_double_equal(p->boundary.gradK[1], 0.5 * cos(0.5), 1e-14);
    hp__problem_destroy(p);
}

/* 2-D, m = 3: M = 9 points ((i+1)/4, (j+1)/4), x fastest; K = 1 + x + 2y + xy,
 * ∇K = (1 + y, 2 + x), q = x − y. Soft boundary with 2 points per side: the 8
 * points of the square's perimeter at spacing 1/2, each once. Validation 3x3:
 * only the centre is interior. */
static void test_points_2d(void **state) {
    (void)state;
    hp__problem *p = problem_from("problem:\n"
                                 "  dim: 2\n  K: \"1 + x + 2*y + x*y\"\n  q: \"x - y\"\n  boundary: soft\n"
                                 "  collocation: {points: 3, boundary_points: 2}\n"
                                 "  validation: {points: 3}\n  reference: {kind: none}\n");
    assert_int_equal(p->dim, 2);
    assert_int_equal(p->collocation.n, 9);
    for (size_t j = 0; j < 3; j++)
        for (size_t i = 0; i < 3; i++) {
            size_t r = j * 3 + i;
            double x = (double)(i + 1) / 4.0, y = (double)(j + 1) / 4.0;
            assert_double_equal(p->collocation.x[2 * r], x, 1e-15);
            assert_double_equal(p->collocation.x[2 * r + 1], y, 1e-15);
            assert_double_equal(p->collocation.K[r], 1 + x + 2 * y + x * y, 1e-14);
            assert_double_equal(p->collocation.gradK[2 * r], 1 + y, 1e-14);
            assert_double_equal(p->collocation.gradK[2 * r + 1], 2 + x, 1e-14);
            assert_double_equal(p->collocation.q[r], x - y, 1e-14);
            assert_double_equal(hp__problem_f(&p->collocation, 2, r, 0), x - y + 1 + y, 1e-14);
            assert_double_equal(hp__problem_f(&p->collocation, 2, r, 1), x - y + 2 + x, 1e-14);
        }
    assert_int_equal(p->boundary.n, 8);
    const double want[8][2] = {{0, 0}, {0.5, 0}, {1, 0}, {1, 0.5}, {1, 1}, {0.5, 1}, {0, 1}, {0, 0.5}};
    int seen[8] = {0};
    for (size_t r = 0; r < 8; r++) {
        const double *x = p->boundary.x + 2 * r;
        int found = -1;
        for (int t = 0; t < 8; t++)
            if (fabs(x[0] - want[t][0]) < 1e-15 && fabs(x[1] - want[t][1]) < 1e-15) found = t;
        if (found < 0) fail_msg("boundary point %zu = (%g, %g) is not on the expected perimeter grid", r, x[0], x[1]);
        seen[found]++;
        assert_double_equal(p->boundary.K[r], 1 + x[0] + 2 * x[1] + x[0] * x[1], 1e-14);
    }
    for (int t = 0; t < 8; t++)
        if (seen[t] != 1) fail_msg("boundary point (%g, %g) appears %d times", want[t][0], want[t][1], seen[t]);
    assert_int_equal(p->validation.n, 9);
    for (size_t r = 0; r < 9; r++) {
        assert_double_equal(p->validation.x[2 * r], (double)(r % 3) / 2.0, 1e-15);
        assert_double_equal(p->validation.x[2 * r + 1], (double)(r / 3) / 2.0, 1e-15);
        assert_int_equal(p->validation_interior[r], r == 4);
    }
    hp__problem_destroy(p);
}

/* K = 1, q = 1: K w' = C − x, w(0) = 0, w(1) = 1 → C = 3/2, w = 3x/2 − x²/2,
 * u = w − x = x(1 − x)/2. The quadrature is exact for these polynomials. */
static void test_integral_reference_polynomial(void **state) {
    (void)state;
    hp__problem *p = problem_from("problem:\n  dim: 1\n  K: \"1\"\n  q: \"1\"\n"
                                 "  validation: {points: 11}\n  reference: {kind: integral, integral_intervals: 10}\n");
    assert_int_equal(p->reference, HP__REFERENCE_INTEGRAL);
    OK(hp__reference_compute(p, 1, NULL, global_plugin(), NULL, NULL));
    assert_int_equal(p->n_reference_directions, 1);
    assert_non_null(p->u_reference);
    for (size_t r = 0; r < 11; r++) {
        double x = (double)r / 10.0;
        assert_double_equal(p->u_reference[r], 0.5 * x * (1.0 - x), 1e-15);
    }
    assert_contains(p->reference_label, "flux integral");
    hp__problem_destroy(p);
}

/* K = e^x, q = 0: K w' = C → w = C(1 − e^{−x}), C = 1/(1 − e^{−1}). A
 * non-polynomial 1/K: the composite rule converges to machine precision. */
static void test_integral_reference_exponential(void **state) {
    (void)state;
    hp__problem *p = problem_from("problem:\n  dim: 1\n  K: \"exp(x)\"\n  q: \"0\"\n"
                                 "  validation: {points: 21}\n  reference: {kind: auto}\n");
    assert_int_equal(p->reference, HP__REFERENCE_INTEGRAL); /* auto in 1-D without exact */
    OK(hp__reference_compute(p, 1, NULL, global_plugin(), NULL, NULL));
    const double C = 1.0 / (1.0 - exp(-1.0));
    for (size_t r = 0; r < 21; r++) {
        double x = (double)r / 20.0;
        assert_double_equal(p->u_reference[r], C * (1.0 - exp(-x)) - x, 1e-14);
    }
    hp__problem_destroy(p);
}

/* The paper's 1-D problem, K = 1/(1.2 + sin(kx)), k = 2π/ε, q = −3(2x − 1), so
 * Q(x) = ∫_0^x q = 3x(1 − x) and 1/K = 1.2 + sin(kx). With P(s) = C − 3s + 3s²:
 *   w(x) = ∫_0^x P (1.2 + sin ks) ds
 *        = 1.2 (Cx − 1.5x² + x³) + [−P cos(ks)/k + P' sin(ks)/k² + P'' cos(ks)/k³]_0^x
 * (P' = 6s − 3, P'' = 6), and w(1) = 1 fixes C: for 1/ε an integer the sine terms
 * vanish at s = 1 and ∫_0^1 1/K = 1.2, so 1.2 (C − 0.5) + [...]_0^1 = 1. */
static double paper_w(double x, double C, double k) {
    double P = C - 3 * x + 3 * x * x, dP = 6 * x - 3;
    double P0 = C, dP0 = -3;
    double at_x = -P * cos(k * x) / k + dP * sin(k * x) / (k * k) + 6 * cos(k * x) / (k * k * k);
    double at_0 = -P0 / k + dP0 * 0.0 + 6 / (k * k * k);
    return 1.2 * (C * x - 1.5 * x * x + x * x * x) + at_x - at_0;
}

static double paper_C(double k) {
    /* w(1) is affine in C: solve w(1; C) = 1 from two evaluations */
    double w0 = paper_w(1.0, 0.0, k), w1 = paper_w(1.0, 1.0, k);
    return (1.0 - w0) / (w1 - w0);
}

static const char *paper_problem = "constants: {eps: 0.125}\n"
                                   "problem:\n  dim: 1\n  K: \"1/(1.2 + sin(2*pi*x/eps))\"\n  q: \"-3*(2*x - 1)\"\n"
                                   "  validation: {points: 101}\n"
                                   "  reference: {kind: %s, fem_elements: %d}\n";

static void test_integral_reference_paper(void **state) {
    (void)state;
    char yaml[512];
    snprintf(yaml, sizeof yaml, paper_problem, "integral", 0);
    hp__problem *p = problem_from(yaml);
    OK(hp__reference_compute(p, 1, NULL, global_plugin(), NULL, NULL));
    const double k = 2 * M_PI / 0.125, C = paper_C(k);
    double worst = 0.0, umax = 0.0;
    for (size_t r = 0; r < 101; r++) {
        double x = (double)r / 100.0, u = paper_w(x, C, k) - x;
        worst = fmax(worst, fabs(p->u_reference[r] - u));
        umax = fmax(umax, fabs(u));
    }
    print_message("integral reference, paper K (eps 1/8): max |u - closed form| = %.3e (max |u| = %.3f)\n", worst,
                  umax);
    assert_true(umax > 0.01); /* a non-trivial solution */
    assert_true(worst < 1e-13);
    hp__problem_destroy(p);
}

/* The fine FEM reference (p1_1d) against the same closed form: second order in h
 * at the validation points (nodes of every mesh used here). */
static double fem_error_1d(int elements) {
    char yaml[512];
    snprintf(yaml, sizeof yaml, paper_problem, "fem", elements);
    hp__problem *p = problem_from(yaml);
    assert_int_equal(p->reference, HP__REFERENCE_FEM);
    OK(hp__reference_compute(p, 1, coarse("p1_1d"), global_plugin(), NULL, NULL));
    assert_contains(p->reference_label, "fine FEM");
    const double k = 2 * M_PI / 0.125, C = paper_C(k);
    double worst = 0.0;
    for (size_t r = 0; r < 101; r++) {
        double x = (double)r / 100.0;
        worst = fmax(worst, fabs(p->u_reference[r] - (paper_w(x, C, k) - x)));
    }
    hp__problem_destroy(p);
    return worst;
}

static void test_fem_reference_1d(void **state) {
    (void)state;
    double e1 = fem_error_1d(200), e2 = fem_error_1d(400), e3 = fem_error_1d(4000);
    print_message("fem reference 1-D vs closed form: 200 el %.3e, 400 el %.3e (order %.2f), 4000 el %.3e\n", e1, e2,
                  log2(e1 / e2), e3);
    assert_true(e3 < 1e-5);
    assert_true(log2(e1 / e2) > 1.8);
}

/* The fem reference cache: written once, read back bit for bit for the same
 * problem, recomputed for another problem or a damaged file. */
static void test_fem_reference_cache(void **state) {
    (void)state;
    mkdir("refcache", 0777);
    remove("refcache/reference.cache");
    char yaml[512];
    snprintf(yaml, sizeof yaml, paper_problem, "fem", 300);
    hp__problem *a = problem_from(yaml);
    OK(hp__reference_compute(a, 1, coarse("p1_1d"), global_plugin(), NULL, "refcache"));
    assert_null(strstr(a->reference_label, "cached"));
    hp__problem *b = problem_from(yaml);
    OK(hp__reference_compute(b, 1, coarse("p1_1d"), global_plugin(), NULL, "refcache"));
    assert_contains(b->reference_label, "cached");
    assert_memory_equal(a->u_reference, b->u_reference, a->validation.n * sizeof(double));
    assert_int_equal(a->n_ktilde_reference, b->n_ktilde_reference);
    assert_true(a->ktilde_reference[0] == b->ktilde_reference[0]);
    hp__problem_destroy(b);
    /* another mesh: another key, recomputed (and the cache now holds that one) */
    snprintf(yaml, sizeof yaml, paper_problem, "fem", 200);
    b = problem_from(yaml);
    OK(hp__reference_compute(b, 1, coarse("p1_1d"), global_plugin(), NULL, "refcache"));
    assert_null(strstr(b->reference_label, "cached"));
    hp__problem_destroy(b);
    /* a flipped byte in the values: refused by the checksum, recomputed */
    FILE *f = fopen("refcache/reference.cache", "r+b");
    assert_non_null(f);
    fseek(f, -20, SEEK_END);
    int ch = fgetc(f);
    fseek(f, -20, SEEK_END);
    fputc(ch ^ 0x10, f);
    fclose(f);
    b = problem_from(yaml);
    OK(hp__reference_compute(b, 1, coarse("p1_1d"), global_plugin(), NULL, "refcache"));
    assert_null(strstr(b->reference_label, "cached"));
    hp__problem_destroy(b);
    hp__problem_destroy(a);
}

/* 2-D, manufactured: K = 1 + x and u_1 = sin(πx) sin(πy), so that
 * −div(K∇u_1) = f_1 = q + ∂K/∂x = q + 1 gives
 *   q = 2π²(1 + x) sin(πx) sin(πy) − π cos(πx) sin(πy) − 1.
 * Direction 2 solves with f_2 = q (no closed form here); only its presence is checked. */
static double fem_error_2d(int elements, double *err_dir2) {
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "problem:\n  dim: 2\n  K: \"1 + x\"\n"
             "  q: \"2*pi^2*(1 + x)*sin(pi*x)*sin(pi*y) - pi*cos(pi*x)*sin(pi*y) - 1\"\n"
             "  collocation: {points: 4}\n"
             "  validation: {points: 9}\n  reference: {fem_elements: %d}\n",
             elements);
    hp__problem *p = problem_from(yaml);
    assert_int_equal(p->reference, HP__REFERENCE_FEM); /* auto in 2-D without exact */
    OK(hp__reference_compute(p, 2, coarse("p1_2d"), global_plugin(), NULL, NULL));
    assert_int_equal(p->n_reference_directions, 2);
    double worst = 0.0, diff2 = 0.0;
    for (size_t r = 0; r < p->validation.n; r++) {
        double x = p->validation.x[2 * r], y = p->validation.x[2 * r + 1];
        worst = fmax(worst, fabs(p->u_reference[r] - sin(M_PI * x) * sin(M_PI * y)));
        diff2 = fmax(diff2, fabs(p->u_reference[p->validation.n + r] - p->u_reference[r]));
    }
    *err_dir2 = diff2; /* u_2 − u_1 solves −div(K∇·) = −1: clearly nonzero */
    hp__problem_destroy(p);
    return worst;
}

static void test_fem_reference_2d(void **state) {
    (void)state;
    double z1, z2;
    double e1 = fem_error_2d(16, &z1), e2 = fem_error_2d(32, &z2);
    print_message("fem reference 2-D vs closed form: 16 el %.3e, 32 el %.3e (order %.2f); max |u_2 - u_1| %.3f\n",
                  e1, e2, log2(e1 / e2), z2);
    assert_true(e2 < 5e-3);
    assert_true(log2(e1 / e2) > 1.8);
    assert_true(z1 > 0.01 && z2 > 0.01);
}

/* An exact reference: evaluated as given, chosen by auto when present. */
static void test_exact_reference(void **state) {
    (void)state;
    hp__problem *p = problem_from("constants: {c: 0.5}\n"
                                 "problem:\n  dim: 1\n  K: \"1\"\n  q: \"1\"\n  validation: {points: 7}\n"
                                 "  reference: {exact: \"c*x*(1 - x)\"}\n");
    assert_int_equal(p->reference, HP__REFERENCE_EXACT);
    OK(hp__reference_compute(p, 1, NULL, global_plugin(), NULL, NULL));
    assert_int_equal(p->n_reference_directions, 1);
    for (size_t r = 0; r < 7; r++) {
        double x = (double)r / 6.0;
        assert_double_equal(p->u_reference[r], 0.5 * x * (1 - x), 1e-15);
    }
    assert_contains(p->reference_label, "exact expression");
    hp__problem_destroy(p);
    /* 2-D exact: covers direction 1 only */
    p = problem_from("problem:\n  dim: 2\n  K: \"2\"\n  q: \"0\"\n  collocation: {points: 2}\n"
                     "  validation: {points: 4}\n  reference: {kind: exact, exact: \"x*y\"}\n");
    OK(hp__reference_compute(p, 2, NULL, global_plugin(), NULL, NULL));
    assert_int_equal(p->n_reference_directions, 1);
    for (size_t r = 0; r < 16; r++)
        assert_double_equal(p->u_reference[r], p->validation.x[2 * r] * p->validation.x[2 * r + 1], 1e-15);
    hp__problem_destroy(p);
}

/* Refused: K ≤ 0 at a point (collocation, or only on the validation grid / the
 * boundary), an exact reference without expression, the integral in 2-D. */
static void test_errors(void **state) {
    (void)state;
    char msg[1024];
    assert_int_equal(problem_error("problem:\n  dim: 1\n  K: \"x - 0.5\"\n  collocation: {points: 9}\n", msg, sizeof msg),
                     HP_ERR_CONFIG);
    assert_contains(msg, "problem.K: K = ");
    assert_contains(msg, "<= 0 at x = 0.1 (collocation point)");
    assert_contains(msg, "expected a positive conductivity");
    /* K = 0 exactly at x = 1/2 (a collocation point for M = 9) */
    assert_int_equal(problem_error("problem:\n  dim: 1\n  K: \"(x - 0.5)^2\"\n  collocation: {points: 9}\n", msg,
                                   sizeof msg),
                     HP_ERR_CONFIG);
    assert_contains(msg, "K = 0 <= 0 at x = 0.5 (collocation point)");
    /* positive at every collocation point, zero on the boundary x = 0 */
    assert_int_equal(problem_error("problem:\n  dim: 1\n  K: \"x\"\n  collocation: {points: 9}\n  validation: {points: 11}\n"
                                   "  reference: {kind: none}\n",
                                   msg, sizeof msg),
                     HP_ERR_CONFIG);
    assert_contains(msg, "K = 0 <= 0 at x = 0 (validation point)");
    assert_int_equal(problem_error("problem:\n  dim: 2\n  K: \"y - 0.1\"\n  boundary: soft\n  collocation: {points: 3}\n",
                                   msg, sizeof msg),
                     HP_ERR_CONFIG);
    assert_contains(msg, "(check grid point)"); /* between the collocation points, before the boundary */
    assert_int_equal(problem_error("problem:\n  dim: 1\n  K: \"1\"\n  reference: {kind: exact}\n", msg, sizeof msg),
                     HP_ERR_CONFIG);
    assert_contains(msg, "reference.kind");
    assert_contains(msg, "needs reference.exact");
    assert_int_equal(problem_error("problem:\n  dim: 2\n  K: \"1\"\n  collocation: {points: 2}\n"
                                   "  reference: {kind: integral}\n",
                                   msg, sizeof msg),
                     HP_ERR_CONFIG);
    assert_contains(msg, "1-D only");
    /* a K that is not an expression of x */
    assert_int_not_equal(problem_error("problem:\n  dim: 1\n  K: \"1 + z\"\n", msg, sizeof msg), HP_OK);
    assert_contains(msg, "problem.K");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_points_1d),
        cmocka_unit_test(test_points_1d_soft_constants),
        cmocka_unit_test(test_points_2d),
        cmocka_unit_test(test_integral_reference_polynomial),
        cmocka_unit_test(test_integral_reference_exponential),
        cmocka_unit_test(test_integral_reference_paper),
        cmocka_unit_test(test_fem_reference_1d),
        cmocka_unit_test(test_fem_reference_cache),
        cmocka_unit_test(test_fem_reference_2d),
        cmocka_unit_test(test_exact_reference),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, hp_test_registry_setup, hp_test_registry_teardown);
}
