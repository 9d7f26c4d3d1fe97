/* bench_gram.c — what the row-run Gram matrix (hp_gram_lower) saves over one
 * plain SYRK on a Jacobian laid out as the 2-D hybrid objective lays it out:
 * per direction, M PINN rows and nb boundary rows on that direction's nt
 * parameters only, then nn coupling rows over every column.
 *
 *   bench_gram [--dirs D] [--nt NT] [--points M] [--boundary NB] [--coarse NN] [--reps R]
 * prints both times (best of R, alternating) and their ratio, and the row runs
 * in single precision (hp_gram_lower_single, lm's gram_precision: single; the
 * copy of J into floats counted) against the double ones. The defaults are
 * K₂'s size scaled down (two directions, 1500 parameters each) so that a run
 * takes seconds; `--nt 3961 --points 16384 --boundary 512 --coarse 1089` is
 * configs/2d/k2.yaml itself (2.2 GB of Jacobian). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "fileio.h"
#include "hpinn/optimizer.h"
#include "hpinn/rng.h"

static size_t arg(int argc, char **argv, const char *name, size_t fallback) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return (size_t)strtoull(argv[i + 1], NULL, 10);
    return fallback;
}

int main(int argc, char **argv) {
    const size_t dirs = arg(argc, argv, "--dirs", 2), nt = arg(argc, argv, "--nt", 1500);
    const size_t M = arg(argc, argv, "--points", 6000), nb = arg(argc, argv, "--boundary", 256);
    const size_t nn = arg(argc, argv, "--coarse", 289), reps = arg(argc, argv, "--reps", 3);
    const size_t n = dirs * nt, m = dirs * (M + nb + nn);
    double *J = calloc(m * n, sizeof *J), *a = malloc(n * n * sizeof *a), *b = malloc(n * n * sizeof *b);
    double *c = malloc(n * n * sizeof *c);
    float *Jf = malloc(m * n * sizeof *Jf), *work = malloc(n * n * sizeof *work);
    if (!J || !a || !b || !c || !Jf || !work) {
        fprintf(stderr, "bench_gram: %zu x %zu does not fit in memory\n", m, n);
        return 1;
    }
    hp_rng rng;
    hp_rng_seed(&rng, 1, 0);
    size_t row = 0;
    for (size_t d = 0; d < dirs; d++) {
        for (size_t q = 0; q < M + nb; q++, row++)
            for (size_t k = 0; k < nt; k++) J[row * n + d * nt + k] = hp_rng_normal(&rng);
        for (size_t q = 0; q < nn; q++, row++)
            for (size_t k = 0; k < n; k++) J[row * n + k] = hp_rng_normal(&rng);
    }
    double best_dense = INFINITY, best_runs = INFINITY, best_single = INFINITY;
    hp_gram_stats st, sst;
    for (size_t r = 0; r < reps; r++) {
        double t0 = hp__now_seconds();
        cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, (int)n, (int)m, 1.0, J, (int)n, 0.0, a, (int)n);
        double t1 = hp__now_seconds();
        hp_gram_lower(J, m, n, b, &st);
        double t2 = hp__now_seconds();
        for (size_t e = 0; e < m * n; e++) Jf[e] = (float)J[e];
        hp_gram_lower_single(Jf, m, n, work, c, &sst);
        double t3 = hp__now_seconds();
        best_dense = fmin(best_dense, t1 - t0);
        best_runs = fmin(best_runs, t2 - t1);
        best_single = fmin(best_single, t3 - t2);
    }
    double diff = 0.0, diff_single = 0.0, scale = 0.0;
    for (size_t col = 0; col < n; col++)
        for (size_t r = col; r < n; r++) {
            diff = fmax(diff, fabs(a[col * n + r] - b[col * n + r]));
            diff_single = fmax(diff_single, fabs(c[col * n + r] - b[col * n + r]));
            scale = fmax(scale, fabs(a[col * n + r]));
        }
    printf("J: %zu x %zu (%zu directions x %zu parameters; %zu PINN + %zu boundary + %zu coupling rows each)\n",
           m, n, dirs, nt, M, nb, nn);
    printf("plain SYRK      %8.3f s  (%.3g flops)\n", best_dense, st.dense_flops);
    printf("row runs        %8.3f s  (%.3g flops, %zu runs)\n", best_runs, st.flops, st.runs);
    printf("ratio           %8.2fx  (flops %.2fx); max relative difference %.2e\n", best_dense / best_runs,
           st.dense_flops / st.flops, scale > 0 ? diff / scale : diff);
    printf("row runs, float %8.3f s  (with the copy into floats)\n", best_single);
    printf("double / float  %8.2fx; max relative difference %.2e\n", best_runs / best_single,
           scale > 0 ? diff_single / scale : diff_single);
    free(c);
    free(Jf);
    free(work);
    free(J);
    free(a);
    free(b);
    return 0;
}
