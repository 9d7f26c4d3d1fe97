/* test_collocation.c — the collocation plans (collocation.c): the grid's
 * positions, determinism of every random generator from seed and round, the
 * low-discrepancy property of Sobol (every elementary box of a 2-D net holds its
 * share of the points) and Halton, RAD's selection (deterministic, favouring
 * large residuals, weights that keep the upscaling's average unbiased), and the
 * density rule of `points: auto` against a K with a known length scale. */
#include "test_util.h"

#include <math.h>

#include "collocation.h"

static hp__collocation plan(int dim, hp__sampling s, size_t per_axis, uint64_t seed) {
    hp__collocation c = {.dim = dim, .sampling = s, .per_axis = per_axis, .n = dim == 1 ? per_axis : per_axis * per_axis,
                         .seed = seed, .rad_k = 1.0, .rad_c = 1.0};
    return c;
}

static void test_grid_positions(void **state) {
    (void)state;
    hp__collocation c = plan(2, HP__SAMPLING_GRID, 3, 1);
    double x[18];
    hp__collocation_points(&c, 7, x); /* the grid ignores the round */
    for (size_t r = 0; r < 9; r++) {
        assert_double_equal(x[2 * r], (double)(r % 3 + 1) / 4.0, 0.0);
        assert_double_equal(x[2 * r + 1], (double)(r / 3 + 1) / 4.0, 0.0);
    }
}

/* Same seed and round: the same points; another round or seed: others; all
 * strictly inside the unit cube. */
static void test_generators_deterministic(void **state) {
    (void)state;
    for (int s = HP__SAMPLING_UNIFORM; s <= HP__SAMPLING_HALTON; s++) {
        hp__collocation c = plan(2, (hp__sampling)s, 16, 42), d = plan(2, (hp__sampling)s, 16, 43);
        size_t n = c.n;
        double *a = malloc(2 * n * sizeof *a), *b = malloc(2 * n * sizeof *b), *e = malloc(2 * n * sizeof *e),
               *f = malloc(2 * n * sizeof *f);
        hp__collocation_points(&c, 3, a);
        hp__collocation_points(&c, 3, b);
        hp__collocation_points(&c, 4, e);
        hp__collocation_points(&d, 3, f);
        assert_memory_equal(a, b, 2 * n * sizeof *a);
        size_t same_round = 0, same_seed = 0;
        for (size_t i = 0; i < 2 * n; i++) {
            assert_true(a[i] > 0.0 && a[i] < 1.0);
            same_round += a[i] == e[i];
            same_seed += a[i] == f[i];
        }
        assert_true(same_round < 4);
        assert_true(same_seed < 4);
        free(a), free(b), free(e), free(f);
    }
}

/* Sobol points 1..1024 in 2-D: a digitally shifted (0,10,2)-net with one point
 * exchanged, so each of the 16 boxes [i/4,(i+1)/4) x [j/4,(j+1)/4) and each of
 * the 32 boxes of 1/2 x 1/16 holds 64 or 32 points, give or take one. Halton:
 * a few points off. Uniform draws: many more. */
static size_t worst_box_error(const double *x, size_t n, int bx, int by) {
    size_t count[64] = {0};
    for (size_t i = 0; i < n; i++) count[(int)(x[2 * i] * bx) + bx * (int)(x[2 * i + 1] * by)]++;
    size_t want = n / (size_t)(bx * by), worst = 0;
    for (int k = 0; k < bx * by; k++) {
        size_t err = count[k] > want ? count[k] - want : want - count[k];
        if (err > worst) worst = err;
    }
    return worst;
}

static void test_low_discrepancy(void **state) {
    (void)state;
    double x[2048];
    hp__collocation c = plan(2, HP__SAMPLING_SOBOL, 32, 9);
    hp__collocation_points(&c, 0, x);
    assert_true(worst_box_error(x, 1024, 4, 4) <= 1);
    assert_true(worst_box_error(x, 1024, 2, 16) <= 1);
    assert_true(worst_box_error(x, 1024, 8, 4) <= 1);
    c.sampling = HP__SAMPLING_HALTON;
    hp__collocation_points(&c, 0, x);
    assert_true(worst_box_error(x, 1024, 4, 4) <= 4);
    c.sampling = HP__SAMPLING_UNIFORM;
    hp__collocation_points(&c, 0, x);
    assert_true(worst_box_error(x, 1024, 4, 4) > 8);
    /* a 1-D quadrature: Sobol's error for ∫x² is far below Monte Carlo's */
    hp__collocation s1 = plan(1, HP__SAMPLING_SOBOL, 1024, 5), u1 = plan(1, HP__SAMPLING_UNIFORM, 1024, 5);
    double qs = 0.0, qu = 0.0;
    hp__collocation_points(&s1, 0, x);
    for (size_t i = 0; i < 1024; i++) qs += x[i] * x[i] / 1024.0;
    hp__collocation_points(&u1, 0, x);
    for (size_t i = 0; i < 1024; i++) qu += x[i] * x[i] / 1024.0;
    assert_true(fabs(qs - 1.0 / 3.0) < 2e-3);
    assert_true(fabs(qs - 1.0 / 3.0) < fabs(qu - 1.0 / 3.0));
}

/* RAD from 4000 candidates on [0,1) with |ρ| = 100 on [0, 0.1) and 1 elsewhere:
 * deterministic; the chosen indices ascending and distinct; the large-residual
 * tenth gets several times its share of the points; the weights sum to one and, used as a
 * quadrature, still average g(x) = x over Ω (≈ 1/2, not the residual-weighted
 * ≈ 0.3 of the points themselves). */
static void test_rad_selection(void **state) {
    (void)state;
    enum { CANDIDATES = 4000, POINTS = 400 };
    hp__collocation c = plan(1, HP__SAMPLING_UNIFORM, POINTS, 11);
    c.rad = 1;
    c.rad_candidates = CANDIDATES;
    double *x = malloc(CANDIDATES * sizeof *x), *rho = malloc(CANDIDATES * sizeof *rho), w[POINTS], w2[POINTS];
    size_t chosen[POINTS], chosen2[POINTS];
    hp__collocation_draw(&c, 2, CANDIDATES, x);
    for (size_t i = 0; i < CANDIDATES; i++) rho[i] = x[i] < 0.1 ? 100.0 : 1.0;
    OK(hp__collocation_rad_select(&c, 2, rho, CANDIDATES, chosen, w));
    OK(hp__collocation_rad_select(&c, 2, rho, CANDIDATES, chosen2, w2));
    assert_memory_equal(chosen, chosen2, sizeof chosen);
    assert_memory_equal(w, w2, sizeof w);
    size_t hot = 0;
    double wsum = 0.0, mean_x = 0.0, weighted_x = 0.0;
    for (size_t i = 0; i < POINTS; i++) {
        if (i) assert_true(chosen[i] > chosen[i - 1]);
        assert_true(chosen[i] < CANDIDATES);
        hot += x[chosen[i]] < 0.1;
        wsum += w[i];
        mean_x += x[chosen[i]] / POINTS;
        weighted_x += w[i] * x[chosen[i]];
    }
    assert_true(hot > 3 * POINTS / 10);   /* uniform would give ~40; rad_c = 1 keeps half the mass uniform */
    assert_double_equal(wsum, 1.0, 1e-12);
    assert_true(mean_x < 0.4);
    assert_true(weighted_x > mean_x + 0.1);
    assert_double_equal(weighted_x, 0.5, 0.06);
    /* another round: another choice */
    OK(hp__collocation_rad_select(&c, 3, rho, CANDIDATES, chosen2, w2));
    assert_true(memcmp(chosen, chosen2, sizeof chosen) != 0);
    /* fewer candidates than points is a bug of the caller */
    assert_int_equal(hp__collocation_rad_select(&c, 2, rho, POINTS - 1, chosen, w), HP_ERR_INTERNAL);
    free(x), free(rho);
}

/* K = 2 + 1.5 sin(2πx/ε): |K'|/K peaks at 2π/ε · 1.5/√(4 − 2.25) ≈ 7.125/ε, so
 * ℓ = ε/7.125 and 8 points per width give ceil(8 · 7.125/ε) points. */
static double oscillating_scale(const double *x, void *ctx) {
    double eps = *(const double *)ctx, w = 2.0 * M_PI / eps;
    return fabs(1.5 * w * cos(w * x[0])) / (2.0 + 1.5 * sin(w * x[0]));
}

static double constant_scale(const double *x, void *ctx) {
    (void)x, (void)ctx;
    return 0.0;
}

static void test_auto_density(void **state) {
    (void)state;
    double eps = 1.0 / 40.0, ell = 0.0;
    double exact = 1.0 / (2.0 * M_PI / eps * 1.5 / sqrt(4.0 - 2.25));
    size_t m = hp__collocation_auto(1, oscillating_scale, &eps, 8.0, 200, 100000, &ell);
    assert_double_equal(ell, exact, 1e-4 * exact);
    assert_true(m >= (size_t)floor(8.0 / exact) && m <= (size_t)ceil(8.0 / exact) + 1);
    /* clamped from below and above; a constant K has no length scale */
    assert_int_equal(hp__collocation_auto(1, oscillating_scale, &eps, 0.1, 200, 100000, &ell), 200);
    assert_int_equal(hp__collocation_auto(1, oscillating_scale, &eps, 8.0, 200, 1000, &ell), 1000);
    assert_int_equal(hp__collocation_auto(2, constant_scale, NULL, 8.0, 32, 1024, &ell), 32);
    assert_true(isinf(ell));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_positions),      cmocka_unit_test(test_generators_deterministic),
        cmocka_unit_test(test_low_discrepancy),     cmocka_unit_test(test_rad_selection),
        cmocka_unit_test(test_auto_density),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
