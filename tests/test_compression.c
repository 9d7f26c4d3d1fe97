/* test_compression.c — the compression operator Q̄ of docs/math.md §4.1 against a naive
 * dense implementation written from the definition (plain loops over node pairs),
 * on hand-built structured meshes in 1-D and 2-D: square and disk windows, ω = 0,
 * 1, 2, δ = 0 and δ > 0 (nodes within δ/2 of ∂Ω keep v), the transpose against
 * the naive transpose and through <Q̄v, g> = <v, Q̄ᵀg>, and a few values by hand. */
#include "test_util.h"

#include "compression.h"

/* A structured mesh of (N+1)^d nodes on [0,1]^d, numbered x fastest (coarse.h). */
typedef struct grid {
    hp_coarse_mesh mesh;
    double *coords;
} grid;

static void grid_make(grid *g, int dim, int N) {
    size_t per = (size_t)N + 1, n = dim == 1 ? per : per * per;
    g->coords = calloc(n * (size_t)dim, sizeof *g->coords);
    for (size_t k = 0; k < n; k++) {
        g->coords[k * (size_t)dim] = (double)(k % per) / (double)N;
        if (dim == 2) g->coords[2 * k + 1] = (double)(k / per) / (double)N;
    }
    memset(&g->mesh, 0, sizeof g->mesh);
    g->mesh.dim = dim;
    g->mesh.elements_per_dim = N;
    g->mesh.n_nodes = n;
    g->mesh.coords = g->coords;
    g->mesh.blocks_per_dim = 1;
    g->mesh.n_blocks = 1;
}

static void grid_free(grid *g) { free(g->coords); }

/* The definition, literally: a dense n x n matrix. Row k is e_k when x_k is
 * within δ/2 of ∂Ω; otherwise the mean over all nodes m whose grid-index distance
 * to k (max norm: square, Euclidean: disk) is at most ω. Distances to ∂Ω are
 * taken from the grid indices (min(i, N − i) h per axis), not from the stored
 * coordinates, so the two implementations share nothing. */
static double *naive_matrix(int dim, int N, int window, int disk, double delta) {
    size_t per = (size_t)N + 1, n = dim == 1 ? per : per * per;
    double *A = calloc(n * n, sizeof *A);
    for (size_t k = 0; k < n; k++) {
        long ki = (long)(k % per), kj = dim == 2 ? (long)(k / per) : 0;
        long bi = ki < N - ki ? ki : N - ki, bj = kj < N - kj ? kj : N - kj;
        long b = dim == 2 && bj < bi ? bj : bi;
        double dist = (double)b / (double)N;
        if (!(dist > 0.5 * delta)) {
            A[k * n + k] = 1.0;
            continue;
        }
        size_t count = 0;
        for (size_t m = 0; m < n; m++) {
            long mi = (long)(m % per), mj = dim == 2 ? (long)(m / per) : 0;
            long di = labs(mi - ki), dj = labs(mj - kj);
            int inside = disk ? (double)(di * di + dj * dj) <= (double)window * window
                              : (di <= window && dj <= window);
            if (inside) count++;
        }
        for (size_t m = 0; m < n; m++) {
            long mi = (long)(m % per), mj = dim == 2 ? (long)(m / per) : 0;
            long di = labs(mi - ki), dj = labs(mj - kj);
            int inside = disk ? (double)(di * di + dj * dj) <= (double)window * window
                              : (di <= window && dj <= window);
            if (inside) A[k * n + m] = 1.0 / (double)count;
        }
    }
    return A;
}

static unsigned long long lcg = 88172645463325252ull;
static double uniform(void) {
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static void compare_one(int dim, int N, int window, hp__window_shape shape, double delta) {
    grid g;
    grid_make(&g, dim, N);
    hp__compression *Q = NULL;
    if (hp__compression_create(&g.mesh, window, shape, delta, &Q) != HP_OK)
        fail_msg("hp__compression_create: %s", hp_error_message());
    size_t n = g.mesh.n_nodes;
    double *A = naive_matrix(dim, N, window, shape == HP__WINDOW_DISK, delta);
    double *v = calloc(n, sizeof *v), *gv = calloc(n, sizeof *gv);
    double *out = calloc(n, sizeof *out), *outT = calloc(n, sizeof *outT);
    for (size_t k = 0; k < n; k++) v[k] = uniform(), gv[k] = uniform();

    hp__compression_apply(Q, v, out);
    for (size_t k = 0; k < n; k++) {
        double want = 0.0;
        for (size_t m = 0; m < n; m++) want += A[k * n + m] * v[m];
        if (fabs(out[k] - want) > 1e-14)
            fail_msg("dim %d N %d window %d %s delta %g: (Q v)[%zu] = %.17g, naive %.17g", dim, N, window,
                     shape == HP__WINDOW_DISK ? "disk" : "square", delta, k, out[k], want);
    }
    /* transpose: accumulates, so start from a known offset */
    for (size_t k = 0; k < n; k++) outT[k] = 0.5;
    hp__compression_apply_transpose(Q, gv, outT);
    double lhs = 0.0, rhs = 0.0;
    for (size_t m = 0; m < n; m++) {
        double want = 0.5;
        for (size_t k = 0; k < n; k++) want += A[k * n + m] * gv[k];
        if (fabs(outT[m] - want) > 1e-14)
            fail_msg("dim %d N %d window %d delta %g: (Qᵀ g)[%zu] = %.17g, naive %.17g (+0.5 start)", dim, N, window,
                     delta, m, outT[m], want);
        lhs += out[m] * gv[m];
        rhs += v[m] * (outT[m] - 0.5);
    }
    if (fabs(lhs - rhs) > 1e-13 * (fabs(lhs) + 1.0))
        fail_msg("<Q v, g> = %.17g but <v, Qᵀ g> = %.17g", lhs, rhs);
    /* every row of Q̄ is an average: a constant is kept everywhere */
    for (size_t k = 0; k < n; k++) v[k] = 3.25;
    hp__compression_apply(Q, v, out);
    for (size_t k = 0; k < n; k++) assert_double_equal(out[k], 3.25, 1e-14);

    free(A);
    free(v);
    free(gv);
    free(out);
    free(outT);
    hp__compression_destroy(Q);
    grid_free(&g);
}

static void test_against_naive_1d(void **state) {
    (void)state;
    const double deltas[] = {0.0, 0.1, 0.25, 0.3};
    for (int window = 0; window <= 2; window++)
        for (int t = 0; t < 4; t++) {
            compare_one(1, 10, window, HP__WINDOW_SQUARE, deltas[t]);
            compare_one(1, 7, window, HP__WINDOW_SQUARE, deltas[t]);
            /* in 1-D the disk and the square window are the same set */
            compare_one(1, 10, window, HP__WINDOW_DISK, deltas[t]);
        }
    compare_one(1, 3, 5, HP__WINDOW_SQUARE, 0.0); /* window wider than the mesh: clipped everywhere */
}

static void test_against_naive_2d(void **state) {
    (void)state;
    const double deltas[] = {0.0, 0.15, 0.3};
    for (int window = 0; window <= 2; window++)
        for (int t = 0; t < 3; t++) {
            compare_one(2, 8, window, HP__WINDOW_SQUARE, deltas[t]);
            compare_one(2, 8, window, HP__WINDOW_DISK, deltas[t]);
            compare_one(2, 5, window, HP__WINDOW_SQUARE, deltas[t]);
            compare_one(2, 5, window, HP__WINDOW_DISK, deltas[t]);
        }
    compare_one(2, 9, 3, HP__WINDOW_DISK, 0.2);
}

/* 1-D, N = 4 (h = 1/4), ω = 1, v = (1, 2, 4, 8, 16):
 *   δ = 0:    boundary nodes keep v; Q̄v = (1, 7/3, 14/3, 28/3, 16)
 *   δ = 0.6:  dist(x_k) = 0, 1/4, 1/2, 1/4, 0; only x_2 (1/2 > 0.3) is averaged
 *             Q̄v = (1, 2, 14/3, 8, 16) */
static void test_hand_values_1d(void **state) {
    (void)state;
    grid g;
    grid_make(&g, 1, 4);
    double v[5] = {1, 2, 4, 8, 16}, out[5];
    hp__compression *Q = NULL;
    assert_int_equal(hp__compression_create(&g.mesh, 1, HP__WINDOW_SQUARE, 0.0, &Q), HP_OK);
    hp__compression_apply(Q, v, out);
    const double want0[5] = {1, 7.0 / 3, 14.0 / 3, 28.0 / 3, 16};
    for (int k = 0; k < 5; k++) assert_double_equal(out[k], want0[k], 1e-14);
    hp__compression_destroy(Q);
    assert_int_equal(hp__compression_create(&g.mesh, 1, HP__WINDOW_SQUARE, 0.6, &Q), HP_OK);
    hp__compression_apply(Q, v, out);
    const double want1[5] = {1, 2, 14.0 / 3, 8, 16};
    for (int k = 0; k < 5; k++) assert_double_equal(out[k], want1[k], 1e-14);
    hp__compression_destroy(Q);
    grid_free(&g);
}

/* 2-D, N = 4, ω = 1, v(i, j) = i + 10 j at node (i, j): the centre (2, 2) averages
 * its 3x3 square (mean 22) or its 5-node disk (also 22: symmetric); node (1, 1)
 * next to the corner averages (0..2) x (0..2): mean 11; with the disk the 5 nodes
 * (1,1),(0,1),(2,1),(1,0),(1,2): mean 11. A non-linear v tells square from disk:
 * v = i² at (2, 2): square mean (1+4+9)·3/9 = 14/3, disk (1 + 9 + 3·4)/5 = 22/5. */
static void test_hand_values_2d(void **state) {
    (void)state;
    grid g;
    grid_make(&g, 2, 4);
    double v[25], w[25], out[25];
    for (int j = 0; j <= 4; j++)
        for (int i = 0; i <= 4; i++) v[j * 5 + i] = i + 10.0 * j, w[j * 5 + i] = (double)(i * i);
    hp__compression *sq = NULL, *dk = NULL;
    assert_int_equal(hp__compression_create(&g.mesh, 1, HP__WINDOW_SQUARE, 0.0, &sq), HP_OK);
    assert_int_equal(hp__compression_create(&g.mesh, 1, HP__WINDOW_DISK, 0.0, &dk), HP_OK);
    hp__compression_apply(sq, v, out);
    assert_double_equal(out[2 * 5 + 2], 22.0, 1e-13);
    assert_double_equal(out[1 * 5 + 1], 11.0, 1e-13);
    assert_double_equal(out[0 * 5 + 3], 3.0, 0.0); /* boundary node keeps v */
    hp__compression_apply(dk, v, out);
    assert_double_equal(out[2 * 5 + 2], 22.0, 1e-13);
    assert_double_equal(out[1 * 5 + 1], 11.0, 1e-13);
    hp__compression_apply(sq, w, out);
    assert_double_equal(out[2 * 5 + 2], 14.0 / 3.0, 1e-14);
    hp__compression_apply(dk, w, out);
    assert_double_equal(out[2 * 5 + 2], 22.0 / 5.0, 1e-14);
    hp__compression_destroy(sq);
    hp__compression_destroy(dk);
    grid_free(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_naive_1d),
        cmocka_unit_test(test_against_naive_2d),
        cmocka_unit_test(test_hand_values_1d),
        cmocka_unit_test(test_hand_values_2d),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
