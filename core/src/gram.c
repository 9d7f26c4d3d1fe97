/* gram.c — JᵀJ of a Jacobian whose rows each touch a column range: the Gram
 * matrix of Gauss–Newton and Levenberg–Marquardt.
 *
 * Why: in the 2-D hybrid objective each direction has its own network, so the
 * PINN and boundary rows of direction d are zero outside the columns of θ_d
 * and only the coupling rows (through K̃) span every column. A plain SYRK over
 * the whole m × n Jacobian spends m n² flops, most of them multiplying those
 * zeros: with two directions, four times the work that the nonzero blocks need.
 * Here consecutive rows with (nearly) the same nonzero column span form a run,
 * and each run adds one SYRK restricted to its span. The result is exact (every
 * row's nonzeros lie inside its run's span) and equals the plain SYRK up to
 * rounding; a row spanning every column costs what it did before.
 *
 * The run rule: a row joins the current run when the union of the two spans is
 * at most 5/4 of the run's width and the row covers at least 3/5 of that union.
 * The first keeps a narrow run from swallowing a wide row (the coupling rows
 * after a direction's PINN rows), the second keeps a wide run from swallowing
 * narrow rows (the next direction's PINN rows after the coupling rows), and the
 * slack lets boundary rows, whose first few derivatives may vanish exactly,
 * stay in their direction's run. Zero rows join any run.
 *
 * hp_gram_lower_single does the same on a float copy of the rows (SSYRK: half
 * the time of DSYRK here) and widens the result: for Gram matrices that are an
 * approximation anyway (lm's subsampled one), whose rounding (~1e-7 of the
 * diagonal) is far below the sampling error. */
#include "hpinn/optimizer.h"

#include <string.h>

#include <cblas.h>

typedef struct gram_run {
    size_t row0, rows, lo, hi; /* rows [row0, row0 + rows), columns [lo, hi) */
} gram_run;

/* The rows of J in either precision: hp_gram_lower's J, or the float copy of
 * hp_gram_lower_single. */
typedef struct gram_rows {
    const double *d;
    const float *f;
    size_t n;
} gram_rows;

static int is_zero(const gram_rows *J, size_t i, size_t j) {
    return J->d ? J->d[i * J->n + j] == 0.0 : J->f[i * J->n + j] == 0.0f;
}

/* The nonzero span [lo, hi) of row i (lo == hi: a zero row). */
static void row_span(const gram_rows *J, size_t i, size_t *lo, size_t *hi) {
    size_t a = 0, b = J->n;
    while (a < J->n && is_zero(J, i, a)) a++;
    if (a == J->n) {
        *lo = *hi = 0;
        return;
    }
    while (b > a && is_zero(J, i, b - 1)) b--;
    *lo = a;
    *hi = b;
}

/* One SYRK over the run's block. Row-major J is the column-major n x m Jᵀ: the
 * block is w x rows, ld n; the float SYRK writes the float Gram matrix gf. */
static double flush_run(const gram_run *run, const gram_rows *J, double *gram, float *gf) {
    if (run->rows == 0 || run->hi == run->lo) return 0.0;
    const size_t w = run->hi - run->lo, n = J->n;
    if (J->d)
        cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, (int)w, (int)run->rows, 1.0,
                    J->d + run->row0 * n + run->lo, (int)n, 1.0, gram + run->lo * n + run->lo, (int)n);
    else
        cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, (int)w, (int)run->rows, 1.0f,
                    J->f + run->row0 * n + run->lo, (int)n, 1.0f, gf + run->lo * n + run->lo, (int)n);
    return (double)run->rows * (double)w * (double)(w + 1);
}

static void gram_runs(const gram_rows *J, size_t m, double *gram, float *gf, hp_gram_stats *stats) {
    const size_t n = J->n;
    if (J->d) memset(gram, 0, n * n * sizeof *gram);
    else memset(gf, 0, n * n * sizeof *gf);
    gram_run run = {0, 0, 0, 0};
    double flops = 0.0;
    size_t runs = 0;
    for (size_t i = 0; i < m; ++i) {
        size_t lo, hi;
        row_span(J, i, &lo, &hi);
        if (hi == lo) { /* a zero row adds nothing wherever it goes */
            run.rows++;
            continue;
        }
        if (run.hi == run.lo) { /* the run so far holds zero rows only: take this span */
            run.lo = lo;
            run.hi = hi;
            run.rows++;
            continue;
        }
        const size_t ulo = lo < run.lo ? lo : run.lo, uhi = hi > run.hi ? hi : run.hi;
        const size_t wu = uhi - ulo, w = run.hi - run.lo, wr = hi - lo;
        if (4 * wu <= 5 * w && 5 * wr >= 3 * wu) {
            run.lo = ulo;
            run.hi = uhi;
            run.rows++;
            continue;
        }
        flops += flush_run(&run, J, gram, gf);
        runs++;
        run = (gram_run){i, 1, lo, hi};
    }
    if (run.hi > run.lo) {
        flops += flush_run(&run, J, gram, gf);
        runs++;
    }
    if (stats) {
        stats->runs = runs;
        stats->flops = flops;
        stats->dense_flops = (double)m * (double)n * (double)(n + 1);
    }
}

void hp_gram_lower(const double *J, size_t m, size_t n, double *gram, hp_gram_stats *stats) {
    gram_rows rows = {J, NULL, n};
    gram_runs(&rows, m, gram, NULL, stats);
}

void hp_gram_lower_single(const float *J, size_t m, size_t n, float *work, double *gram, hp_gram_stats *stats) {
    gram_rows rows = {NULL, J, n};
    gram_runs(&rows, m, NULL, work, stats);
    for (size_t c = 0; c < n; ++c) /* the lower triangle, widened; the upper stays zero */
        for (size_t r = 0; r < n; ++r) gram[c * n + r] = r >= c ? (double)work[c * n + r] : 0.0;
}
