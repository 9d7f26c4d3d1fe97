/* p1_2d_solvers.c — the linear-solver back ends of p1_2d.
 *
 * - CHOLMOD (default for symmetric B): supernodal sparse Cholesky with a
 *   fill-reducing ordering. The symbolic analysis is done once per pattern
 *   (5- or 7-point) and mesh; later coefficients only refactorize numerically.
 *   Fill grows like N log N, so a 1024² fine mesh factorizes in seconds, where
 *   the banded factor would need N·m ≈ 8.6 GB and ~N·m² ≈ 10¹² flops.
 * - Banded Cholesky (LAPACK dpbtrf, bandwidth m or m+1): the simple reference the
 *   tests compare CHOLMOD against; fine for coarse meshes.
 * - Banded LU (LAPACK dgbtrf): block tensors whose antisymmetric parts differ
 *   between blocks make B non-symmetric; coarse meshes are small, so band LU with
 *   partial pivoting is adequate, and dgbtrs solves Bᵀ for the adjoint. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cholmod.h>
#include <lapacke.h>

#include "p1_2d.h"

struct p1_2d_solver {
    p1_2d_backend backend;
    int m, seven_point;
    size_t N;
    /* CHOLMOD */
    int cholmod_started;
    cholmod_common common;
    cholmod_sparse *A;
    cholmod_factor *L;
    cholmod_dense *X, *Y, *E;
    int pattern_m, pattern_seven; /* pattern the analysis was made for */
    /* LAPACK band storage */
    double *band;
    size_t band_size;
    lapack_int *ipiv;
    size_t ipiv_size;
    int kd, kl, ku, ldab;
};

hp_status p1_2d_solver_create(p1_2d_solver **out) {
    p1_2d_solver *s = NULL;
    HP_CALL(hp_calloc(1, sizeof *s, &s));
    s->pattern_m = -1;
    *out = s;
    return HP_OK;
}

static void free_cholmod(p1_2d_solver *s) {
    if (!s->cholmod_started) return;
    cholmod_free_sparse(&s->A, &s->common);
    cholmod_free_factor(&s->L, &s->common);
    cholmod_free_dense(&s->X, &s->common);
    cholmod_free_dense(&s->Y, &s->common);
    cholmod_free_dense(&s->E, &s->common);
    s->pattern_m = -1;
}

void p1_2d_solver_destroy(p1_2d_solver *s) {
    if (!s) return;
    free_cholmod(s);
    if (s->cholmod_started) cholmod_finish(&s->common);
    free(s->band);
    free(s->ipiv);
    free(s);
}

size_t p1_2d_solver_factor_bytes(const p1_2d_solver *s) {
    if (s->backend == P1_2D_CHOLMOD && s->L) {
        const cholmod_factor *L = s->L;
        size_t nz = L->is_super ? L->xsize : L->nzmax;
        return nz * sizeof(double) + (L->is_super ? L->ssize : L->nzmax) * sizeof(int);
    }
    return s->band_size * sizeof(double);
}

/* Upper-triangular CSC pattern: column j holds rows SW (j-m-1), S (j-m), W (j-1), j. */
static hp_status cholmod_build_pattern(p1_2d_solver *s, int m, int seven) {
    free_cholmod(s);
    if (!s->cholmod_started) {
        cholmod_start(&s->common);
        s->common.print = 0;          /* library code never prints */
        s->common.error_handler = NULL;
        s->cholmod_started = 1;
    }
    size_t N = (size_t)m * (size_t)m;
    size_t nz = N * (size_t)(seven ? 4 : 3);
    s->A = cholmod_allocate_sparse(N, N, nz, 1, 1, 1, CHOLMOD_REAL, &s->common);
    if (!s->A) HP_ERROR(HP_ERR_NOMEM, "CHOLMOD could not allocate a %zu x %zu matrix", N, N);
    int *colp = s->A->p, *rows = s->A->i;
    size_t k = 0;
    for (int jy = 0; jy < m; ++jy)
        for (int jx = 0; jx < m; ++jx) {
            int j = jy * m + jx;
            colp[j] = (int)k;
            if (seven && jx > 0 && jy > 0) rows[k++] = j - m - 1;
            if (jy > 0) rows[k++] = j - m;
            if (jx > 0) rows[k++] = j - 1;
            rows[k++] = j;
        }
    colp[N] = (int)k;
    /* the fill-reducing ordering only needs the pattern; values are set later */
    memset(s->A->x, 0, sizeof(double) * s->A->nzmax);
    double *x = s->A->x;
    for (size_t j = 0; j < N; ++j) x[colp[j + 1] - 1] = 1.0;
    s->L = cholmod_analyze(s->A, &s->common);
    if (!s->L) HP_ERROR(HP_ERR_NOMEM, "CHOLMOD analysis failed (status %d) for %zu unknowns",
                        s->common.status, N);
    s->pattern_m = m;
    s->pattern_seven = seven;
    return HP_OK;
}

static hp_status cholmod_factorize_stencil(p1_2d_solver *s, int m, int seven, const double *st) {
    if (s->pattern_m != m || s->pattern_seven != seven) HP_CALL(cholmod_build_pattern(s, m, seven));
    size_t N = (size_t)m * (size_t)m;
    const int *colp = s->A->p;
    double *x = s->A->x;
    for (int jy = 0; jy < m; ++jy)
        for (int jx = 0; jx < m; ++jx) {
            size_t j = (size_t)jy * m + jx;
            size_t k = (size_t)colp[j];
            /* A[i][j] = B[j][i] (symmetric): read row j's stencil towards lower indices */
            if (seven && jx > 0 && jy > 0) x[k++] = st[ST_SW * N + j];
            if (jy > 0) x[k++] = st[ST_S * N + j];
            if (jx > 0) x[k++] = st[ST_W * N + j];
            x[k++] = st[ST_C * N + j];
        }
    cholmod_factorize(s->A, s->L, &s->common);
    if (s->common.status == CHOLMOD_NOT_POSDEF || s->L->minor < N)
        HP_ERROR(HP_ERR_NUMERIC, "stiffness matrix not positive definite (CHOLMOD stopped at "
                                 "column %zu of %zu)", (size_t)s->L->minor, N);
    if (s->common.status < CHOLMOD_OK)
        HP_ERROR(HP_ERR_NOMEM, "CHOLMOD factorization failed (status %d) for %zu unknowns",
                 s->common.status, N);
    return HP_OK;
}

static hp_status ensure_band(p1_2d_solver *s, size_t size, size_t ipiv) {
    if (s->band_size < size) {
        free(s->band);
        s->band = NULL;
        s->band_size = 0;
        HP_CALL(hp_malloc(sizeof(double) * size, &s->band));
        s->band_size = size;
    }
    if (s->ipiv_size < ipiv) {
        free(s->ipiv);
        s->ipiv = NULL;
        s->ipiv_size = 0;
        HP_CALL(hp_malloc(sizeof(lapack_int) * ipiv, &s->ipiv));
        s->ipiv_size = ipiv;
    }
    return HP_OK;
}

/* neighbour offsets of the stencil slots */
static const int slot_dx[ST_SLOTS] = {0, 1, -1, 0, 0, 1, -1};
static const int slot_dy[ST_SLOTS] = {0, 0, 0, 1, -1, 1, -1};

static hp_status banded_cholesky(p1_2d_solver *s, int m, int seven, const double *st) {
    size_t N = (size_t)m * (size_t)m;
    int kd = seven ? m + 1 : m;
    if (kd > (int)N - 1) kd = (int)N - 1;
    if (kd < 0) kd = 0;
    int ldab = kd + 1;
    HP_CALL(ensure_band(s, (size_t)ldab * N, 1));
    memset(s->band, 0, sizeof(double) * (size_t)ldab * N);
    const int lower_slots[4] = {ST_C, ST_W, ST_S, ST_SW};
    for (int jy = 0; jy < m; ++jy)
        for (int jx = 0; jx < m; ++jx) {
            size_t j = (size_t)jy * m + jx;
            for (int t = 0; t < (seven ? 4 : 3); ++t) {
                int sl = lower_slots[t], ix = jx + slot_dx[sl], iy = jy + slot_dy[sl];
                if (ix < 0 || iy < 0) continue;
                size_t i = (size_t)iy * m + ix; /* i <= j: upper storage A[i][j] */
                s->band[(size_t)(kd + (long)i - (long)j) + j * ldab] = st[sl * N + j];
            }
        }
    lapack_int info = LAPACKE_dpbtrf(LAPACK_COL_MAJOR, 'U', (lapack_int)N, kd, s->band, ldab);
    if (info > 0)
        HP_ERROR(HP_ERR_NUMERIC, "stiffness matrix not positive definite (dpbtrf stopped at "
                                 "unknown %d of %zu)", (int)info, N);
    if (info < 0) HP_ERROR(HP_ERR_INTERNAL, "dpbtrf argument %d invalid", (int)-info);
    s->kd = kd;
    s->ldab = ldab;
    return HP_OK;
}

static hp_status banded_lu(p1_2d_solver *s, int m, const double *st) {
    size_t N = (size_t)m * (size_t)m;
    int kl = m + 1;
    if (kl > (int)N - 1) kl = (int)N - 1;
    if (kl < 0) kl = 0;
    int ku = kl, ldab = 2 * kl + ku + 1;
    HP_CALL(ensure_band(s, (size_t)ldab * N, N));
    memset(s->band, 0, sizeof(double) * (size_t)ldab * N);
    for (int iy = 0; iy < m; ++iy)
        for (int ix = 0; ix < m; ++ix) {
            size_t i = (size_t)iy * m + ix; /* row */
            for (int sl = 0; sl < ST_SLOTS; ++sl) {
                int jx = ix + slot_dx[sl], jy = iy + slot_dy[sl];
                if (jx < 0 || jy < 0 || jx >= m || jy >= m) continue;
                size_t j = (size_t)jy * m + jx;
                s->band[(size_t)(kl + ku + (long)i - (long)j) + j * ldab] = st[sl * N + i];
            }
        }
    lapack_int info = LAPACKE_dgbtrf(LAPACK_COL_MAJOR, (lapack_int)N, (lapack_int)N, kl, ku, s->band,
                                     ldab, s->ipiv);
    if (info > 0)
        HP_ERROR(HP_ERR_NUMERIC, "stiffness matrix singular (dgbtrf: zero pivot at unknown %d of %zu)",
                 (int)info, N);
    if (info < 0) HP_ERROR(HP_ERR_INTERNAL, "dgbtrf argument %d invalid", (int)-info);
    s->kl = kl;
    s->ku = ku;
    s->ldab = ldab;
    return HP_OK;
}

hp_status p1_2d_solver_factorize(p1_2d_solver *s, p1_2d_backend backend, int m, int seven_point,
                                 const double *stencil) {
    s->m = m;
    s->N = (size_t)m * (size_t)m;
    s->seven_point = seven_point;
    s->backend = backend;
    if (s->N == 0) return HP_OK;
    switch (backend) {
    case P1_2D_CHOLMOD: return cholmod_factorize_stencil(s, m, seven_point, stencil);
    case P1_2D_BANDED: return banded_cholesky(s, m, seven_point, stencil);
    case P1_2D_LU: return banded_lu(s, m, stencil);
    }
    HP_ERROR(HP_ERR_INTERNAL, "unknown solver back end %d", (int)backend);
}

hp_status p1_2d_solver_solve(p1_2d_solver *s, int transpose, double *x) {
    if (s->N == 0) return HP_OK;
    lapack_int info = 0;
    switch (s->backend) {
    case P1_2D_CHOLMOD: {
        cholmod_dense b = {s->N, 1, s->N, s->N, x, NULL, CHOLMOD_REAL, CHOLMOD_DOUBLE};
        if (!cholmod_solve2(CHOLMOD_A, s->L, &b, NULL, &s->X, NULL, &s->Y, &s->E, &s->common))
            HP_ERROR(HP_ERR_NOMEM, "CHOLMOD solve failed (status %d)", s->common.status);
        memcpy(x, s->X->x, sizeof(double) * s->N);
        return HP_OK;
    }
    case P1_2D_BANDED:
        info = LAPACKE_dpbtrs(LAPACK_COL_MAJOR, 'U', (lapack_int)s->N, s->kd, 1, s->band, s->ldab, x,
                              (lapack_int)s->N);
        break;
    case P1_2D_LU:
        info = LAPACKE_dgbtrs(LAPACK_COL_MAJOR, transpose ? 'T' : 'N', (lapack_int)s->N, s->kl, s->ku,
                              1, s->band, s->ldab, s->ipiv, x, (lapack_int)s->N);
        break;
    }
    if (info != 0) HP_ERROR(HP_ERR_INTERNAL, "banded solve failed (info %d)", (int)info);
    return HP_OK;
}
