/* test_gram.c — hp_gram_lower (core/src/gram.c): JᵀJ against a naive triple
 * loop for dense Jacobians, for the block structure of the 2-D hybrid objective
 * (two directions' PINN rows, boundary rows with leading zeros, coupling rows
 * over every column, zero rows), and for random row spans; and that the block
 * structure is found (row runs, flops). hp_gram_lower_single likewise, to float
 * accuracy. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hpinn/optimizer.h"
#include "hpinn/rng.h"

/* The reference: lower triangle of JᵀJ, column-major, by definition. */
static void gram_naive(const double *J, size_t m, size_t n, double *gram) {
    for (size_t c = 0; c < n; ++c)
        for (size_t r = 0; r < n; ++r) {
            double s = 0.0;
            if (r >= c)
                for (size_t i = 0; i < m; ++i) s += J[i * n + r] * J[i * n + c];
            gram[c * n + r] = s;
        }
}

/* Largest |difference| in the lower triangle, relative to the largest entry. */
static double lower_difference(const double *a, const double *b, size_t n) {
    double diff = 0.0, scale = 0.0;
    for (size_t c = 0; c < n; ++c)
        for (size_t r = c; r < n; ++r) {
            diff = fmax(diff, fabs(a[c * n + r] - b[c * n + r]));
            scale = fmax(scale, fabs(b[c * n + r]));
        }
    return scale > 0.0 ? diff / scale : diff;
}

static void fill_normal(hp_rng *rng, double *v, size_t count) {
    for (size_t i = 0; i < count; ++i) v[i] = hp_rng_normal(rng);
}

/* hp_gram_lower against the definition (to rounding), and hp_gram_lower_single
 * against the definition on the float-rounded rows: the same runs and flops,
 * within float accumulation (~m 6e-8), and not the double result (it is the
 * float path that ran). */
static void check_against_naive(const double *J, size_t m, size_t n, hp_gram_stats *stats) {
    double *fast = malloc(n * n * sizeof *fast), *naive = malloc(n * n * sizeof *naive);
    double *single = malloc(n * n * sizeof *single), *rounded = malloc((m ? m * n : 1) * sizeof *rounded);
    float *Jf = malloc((m ? m * n : 1) * sizeof *Jf), *work = malloc(n * n * sizeof *work);
    assert_non_null(fast);
    assert_non_null(naive);
    assert_true(single && rounded && Jf && work);
    for (size_t i = 0; i < n * n; ++i) fast[i] = single[i] = NAN; /* every entry must be written */
    hp_gram_lower(J, m, n, fast, stats);
    gram_naive(J, m, n, naive);
    assert_true(lower_difference(fast, naive, n) < 1e-13);
    for (size_t c = 0; c < n; ++c) /* the upper triangle is left as zeros */
        for (size_t r = 0; r < c; ++r) assert_true(fast[c * n + r] == 0.0);

    for (size_t i = 0; i < m * n; ++i) rounded[i] = Jf[i] = (float)J[i];
    hp_gram_stats sst;
    hp_gram_lower_single(Jf, m, n, work, single, &sst);
    gram_naive(rounded, m, n, naive);
    double err = lower_difference(single, naive, n);
    assert_true(err < 1e-7 * (double)(m + 10));
    assert_true(lower_difference(single, fast, n) > 1e-12); /* float rounding shows */
    for (size_t c = 0; c < n; ++c)
        for (size_t r = 0; r < c; ++r) assert_true(single[c * n + r] == 0.0);
    if (stats) {
        assert_int_equal(sst.runs, stats->runs);
        assert_true(sst.flops == stats->flops);
    }
    free(fast);
    free(naive);
    free(single);
    free(rounded);
    free(Jf);
    free(work);
}

static void test_dense(void **state) {
    (void)state;
    const size_t m = 57, n = 23;
    double *J = malloc(m * n * sizeof *J);
    hp_rng rng;
    hp_rng_seed(&rng, 1, 0);
    fill_normal(&rng, J, m * n);
    hp_gram_stats st;
    check_against_naive(J, m, n, &st);
    assert_int_equal(st.runs, 1); /* one SYRK, as before */
    assert_true(st.flops == st.dense_flops);
    free(J);
}

/* Rows as the hybrid objective lays them out, for `dirs` directions of nt
 * parameters each: M PINN rows (block d only), nb boundary rows (block d with
 * its first `lead` entries exactly zero), nn coupling rows (every column, or
 * zero when the coupling is off). */
static double *hybrid_layout(size_t dirs, size_t nt, size_t M, size_t nb, size_t lead, size_t nn,
                             int coupled, size_t *m_out) {
    const size_t n = dirs * nt, m = dirs * (M + nb + nn);
    double *J = calloc(m * n, sizeof *J);
    assert_non_null(J);
    hp_rng rng;
    hp_rng_seed(&rng, 7, 0);
    size_t row = 0;
    for (size_t d = 0; d < dirs; ++d) {
        for (size_t q = 0; q < M; ++q, ++row) fill_normal(&rng, J + row * n + d * nt, nt);
        for (size_t q = 0; q < nb; ++q, ++row) fill_normal(&rng, J + row * n + d * nt + lead, nt - lead);
        for (size_t q = 0; q < nn; ++q, ++row)
            if (coupled) fill_normal(&rng, J + row * n, n);
    }
    *m_out = m;
    return J;
}

/* One hybrid layout: exact against the definition, the expected number of row
 * runs, and at most `max_fraction` of a plain SYRK's flops. */
static void check_layout(size_t dirs, size_t nt, size_t lead, int coupled, size_t runs, double max_fraction) {
    size_t m;
    double *J = hybrid_layout(dirs, nt, 3 * nt, 12, lead, 9, coupled, &m);
    hp_gram_stats st;
    check_against_naive(J, m, dirs * nt, &st);
    assert_int_equal(st.runs, runs);
    assert_true(st.flops < max_fraction * st.dense_flops);
    free(J);
}

static void test_hybrid_blocks(void **state) {
    (void)state;
    /* dir 0 PINN + boundary, dir 0 coupling, dir 1 PINN + boundary, dir 1 coupling */
    check_layout(2, 40, 5, 1, 4, 0.45);
}

static void test_uncoupled_is_block_diagonal(void **state) {
    (void)state;
    check_layout(3, 30, 3, 0, 3, 0.4); /* the zero coupling rows join their neighbours */
}

/* Random spans, random gaps, zero rows anywhere: exact whatever runs form. */
static void test_random_spans(void **state) {
    (void)state;
    const size_t m = 200, n = 37;
    hp_rng rng;
    hp_rng_seed(&rng, 3, 0);
    for (int trial = 0; trial < 20; ++trial) {
        double *J = calloc(m * n, sizeof *J);
        for (size_t i = 0; i < m; ++i) {
            if (hp_rng_uniform(&rng) < 0.1) continue; /* a zero row */
            size_t a = (size_t)(hp_rng_uniform(&rng) * n), b = (size_t)(hp_rng_uniform(&rng) * n);
            if (a > b) { size_t t = a; a = b; b = t; }
            for (size_t j = a; j <= b && j < n; ++j)
                if (hp_rng_uniform(&rng) < 0.8) J[i * n + j] = hp_rng_normal(&rng);
        }
        check_against_naive(J, m, n, NULL);
        free(J);
    }
}

static void test_zero_and_empty(void **state) {
    (void)state;
    const size_t n = 6;
    double J[4 * 6] = {0}, gram[36];
    hp_gram_stats st;
    for (size_t i = 0; i < 36; ++i) gram[i] = 1.0;
    hp_gram_lower(J, 4, n, gram, &st);
    for (size_t i = 0; i < 36; ++i) assert_true(gram[i] == 0.0);
    assert_int_equal(st.runs, 0);
    hp_gram_lower(J, 0, n, gram, &st); /* no rows */
    for (size_t i = 0; i < 36; ++i) assert_true(gram[i] == 0.0);
    assert_true(st.flops == 0.0);
    float Jf[4 * 6] = {0}, work[36];
    for (size_t i = 0; i < 36; ++i) gram[i] = work[i] = 1.0f;
    hp_gram_lower_single(Jf, 4, n, work, gram, &st);
    for (size_t i = 0; i < 36; ++i) assert_true(gram[i] == 0.0);
    assert_int_equal(st.runs, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense),
        cmocka_unit_test(test_hybrid_blocks),
        cmocka_unit_test(test_uncoupled_is_block_diagonal),
        cmocka_unit_test(test_random_spans),
        cmocka_unit_test(test_zero_and_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
