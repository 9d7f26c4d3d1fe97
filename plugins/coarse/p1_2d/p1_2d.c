/* p1_2d.c — the 2-D P1 finite-element coarse solver (docs/math.md §3), also the 2-D
 * fine-scale reference solver when given a coefficient field.
 *
 * Uniform n x n squares on [0,1]², each split by its (0,0)-(1,1) diagonal into two
 * right triangles (element numbering in hpinn/coarse.h), homogeneous Dirichlet
 * conditions, unknowns = the (n-1)² interior nodes in lexicographic order.
 *
 * Everything a coefficient contributes is per element: the 2x2 matrix
 * M_e = ∫_e K̃ (block tensor: |e| K̃_b; field: (∫_e K) I). The matrix is stored as
 * a 7-point stencil and handed to a solver back end (p1_2d_solvers.c).
 *
 * Element quadrature (K(x) and q(x)): collapsed-coordinate (Duffy) composite
 * Gauss–Legendre on each triangle — the reference triangle is the image of the
 * unit square under (u, v) -> (u, (1-u) v); each coordinate is split into
 * `quadrature_subdivisions` pieces with `quadrature_order` Gauss points each, so a
 * triangle gets (order·subdivisions)² points with positive weights, exact for
 * polynomials of degree 2·order-2. q uses max(order, 2) (>= 4 points, degree 2).
 * `quadrature_rule: nodal` instead averages K over the three vertices. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hpinn/plugin.h"
#include "p1_2d.h"

static const hp_param_def p1_2d_params[] = {
    {"elements", HP_PARAM_INT, "32", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 46340, NULL, 0,
     "squares per dimension n (2n² triangles, h = 1/n)"},
    {"quadrature_order", HP_PARAM_INT, "2", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1,
     HP_GAUSS_LEGENDRE_MAX, NULL, 0,
     "Gauss points per collapsed coordinate and sub-interval for K(x) (exact to degree 2n-2)"},
    {"quadrature_subdivisions", HP_PARAM_INT, "1", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 100,
     NULL, 0, "sub-intervals per collapsed coordinate (oscillating K on coarse meshes)"},
    {"quadrature_rule", HP_PARAM_ENUM, "gauss", 0, 0, 0, "gauss|nodal", 0,
     "gauss: collapsed Gauss-Legendre for K(x); nodal: mean of K at the three vertices"},
    {"solver", HP_PARAM_ENUM, "cholmod", 0, 0, 0, "cholmod|banded", 0,
     "symmetric systems: cholmod (sparse Cholesky) or banded (LAPACK dpbtrf); "
     "non-symmetric ones always use banded LU"},
    HP_PARAM_END};

typedef struct p1_2d {
    hp_coarse_mesh mesh;
    int n, m;                 /* squares and interior nodes per dimension */
    size_t N;                 /* m² unknowns */
    double h;
    int blocks_per_dim, cells_per_block;
    double *coords, *weights;
    /* reference-triangle rules: barycentric (λ1, λ2) and weight (sum 1) */
    int k_points, q_points;
    double *k_rule, *q_rule;  /* 3 per point: λ1, λ2, w */
    int nodal_rule;
    p1_2d_backend symmetric_backend;
    /* coefficient */
    int coefficient_kind;     /* 0 none, 1 blocks, 2 field */
    double *c;                /* 2n²: ∫_e K (field) */
    double *Kt;               /* n_blocks x 4 */
    double *Kasm;             /* n_blocks x 4: the tensors the matrix is assembled from */
    double *load;             /* (n+1)²: ∫ q φ_k */
    double *direction_rhs;    /* 2 x N: -∫ K e_i·∇φ on the interior */
    double *stencil;          /* ST_SLOTS x N */
    double *work;             /* N */
    p1_2d_solver *solver;
} p1_2d;

static void p1_2d_destroy(void *state) {
    p1_2d *s = state;
    if (!s) return;
    free(s->coords);
    free(s->weights);
    free(s->k_rule);
    free(s->q_rule);
    free(s->c);
    free(s->Kt);
    free(s->Kasm);
    free(s->load);
    free(s->direction_rhs);
    free(s->stencil);
    free(s->work);
    p1_2d_solver_destroy(s->solver);
    free(s);
}

/* Collapsed composite Gauss rule on the reference triangle; weights sum to 1. */
static hp_status triangle_rule(int order, int sub, double **rule, int *count) {
    double gx[HP_GAUSS_LEGENDRE_MAX], gw[HP_GAUSS_LEGENDRE_MAX];
    HP_CALL(hp_gauss_legendre(order, gx, gw));
    int p1 = order * sub;
    *count = p1 * p1;
    HP_CALL(hp_malloc(sizeof(double) * 3 * (size_t)*count, rule));
    int k = 0;
    for (int a = 0; a < p1; ++a)
        for (int b = 0; b < p1; ++b) {
            double u = (a / order + gx[a % order]) / sub, wu = gw[a % order] / sub;
            double v = (b / order + gx[b % order]) / sub, wv = gw[b % order] / sub;
            (*rule)[3 * k + 0] = u;             /* λ1: weight of vertex 1 */
            (*rule)[3 * k + 1] = (1.0 - u) * v; /* λ2: weight of vertex 2 */
            (*rule)[3 * k + 2] = 2.0 * wu * wv * (1.0 - u);
            ++k;
        }
    return HP_OK;
}

static hp_status p1_2d_create(const hp_params *params, int dim, int blocks_per_dim, void **out) {
    if (dim != 2)
        HP_ERROR(HP_ERR_CONFIG, "coarse plugin p1_2d solves 2-D problems, the problem has dim %d; "
                                "use p1_1d for dim 1", dim);
    int n = (int)hp_params_int(params, "elements");
    if (blocks_per_dim < 1 || n % blocks_per_dim != 0)
        return hp_params_error(params, "elements",
                               "%d squares per dimension cannot be split into %d equal blocks; "
                               "expected a multiple of the upscaling blocks per dimension",
                               n, blocks_per_dim);
    p1_2d *s = NULL;
    hp_status st;
    HP_CALL(hp_calloc(1, sizeof *s, &s));
    s->n = n;
    s->m = n - 1;
    s->N = (size_t)s->m * (size_t)s->m;
    s->h = 1.0 / n;
    s->blocks_per_dim = blocks_per_dim;
    s->cells_per_block = n / blocks_per_dim;
    s->nodal_rule = hp_params_enum_index(params, "quadrature_rule") == 1;
    s->symmetric_backend = hp_params_enum_index(params, "solver") == 1 ? P1_2D_BANDED : P1_2D_CHOLMOD;
    int order = (int)hp_params_int(params, "quadrature_order");
    int sub = (int)hp_params_int(params, "quadrature_subdivisions");
    size_t nn = (size_t)(n + 1) * (size_t)(n + 1), ne = 2 * (size_t)n * (size_t)n;
    size_t nb = (size_t)blocks_per_dim * (size_t)blocks_per_dim;
    HP_CALL_GOTO(st, triangle_rule(order, sub, &s->k_rule, &s->k_points), fail);
    HP_CALL_GOTO(st, triangle_rule(order < 2 ? 2 : order, sub, &s->q_rule, &s->q_points), fail);
    HP_CALL_GOTO(st, hp_malloc(sizeof(double) * 2 * nn, &s->coords), fail);
    HP_CALL_GOTO(st, hp_calloc(nn, sizeof(double), &s->weights), fail);
    HP_CALL_GOTO(st, hp_calloc(nn, sizeof(double), &s->load), fail);
    HP_CALL_GOTO(st, hp_calloc(ne, sizeof(double), &s->c), fail);
    HP_CALL_GOTO(st, hp_calloc(4 * nb, sizeof(double), &s->Kt), fail);
    HP_CALL_GOTO(st, hp_calloc(4 * nb, sizeof(double), &s->Kasm), fail);
    HP_CALL_GOTO(st, hp_calloc(2 * s->N + 1, sizeof(double), &s->direction_rhs), fail);
    HP_CALL_GOTO(st, hp_calloc(ST_SLOTS * s->N + 1, sizeof(double), &s->stencil), fail);
    HP_CALL_GOTO(st, hp_calloc(s->N + 1, sizeof(double), &s->work), fail);
    HP_CALL_GOTO(st, p1_2d_solver_create(&s->solver), fail);
    for (int iy = 0; iy <= n; ++iy)
        for (int ix = 0; ix <= n; ++ix) {
            size_t k = (size_t)iy * (n + 1) + ix;
            s->coords[2 * k] = ix * s->h;
            s->coords[2 * k + 1] = iy * s->h;
        }
    /* lumped mass: each triangle gives a third of its area to each vertex */
    double third = s->h * s->h / 6.0;
    for (int cy = 0; cy < n; ++cy)
        for (int cx = 0; cx < n; ++cx) {
            size_t v00 = (size_t)cy * (n + 1) + cx, v10 = v00 + 1, v01 = v00 + n + 1, v11 = v01 + 1;
            s->weights[v00] += 2 * third;
            s->weights[v11] += 2 * third;
            s->weights[v10] += third;
            s->weights[v01] += third;
        }
    s->mesh.dim = 2;
    s->mesh.elements_per_dim = n;
    s->mesh.n_nodes = nn;
    s->mesh.coords = s->coords;
    s->mesh.weights = s->weights;
    s->mesh.n_elements = ne;
    s->mesh.blocks_per_dim = blocks_per_dim;
    s->mesh.n_blocks = nb;
    *out = s;
    return HP_OK;
fail:
    p1_2d_destroy(s);
    return st;
}

static const hp_coarse_mesh *p1_2d_mesh(const void *state) { return &((const p1_2d *)state)->mesh; }

/* Vertex node indices (grid coordinates) of element e, in the order of
 * hpinn/coarse.h: lower (v00, v10, v11), upper (v00, v11, v01). */
static void element_vertices(int n, size_t e, int vx[3], int vy[3]) {
    size_t cell = e / 2;
    int cx = (int)(cell % (size_t)n), cy = (int)(cell / (size_t)n);
    vx[0] = cx;
    vy[0] = cy;
    vx[1] = cx + 1;
    vy[1] = e % 2 ? cy + 1 : cy;
    vx[2] = e % 2 ? cx : cx + 1;
    vy[2] = cy + 1;
}

/* Gradients (times h) of the three vertex basis functions of element e. */
static void element_gradients(size_t e, double g[3][2]) {
    static const double lower[3][2] = {{-1, 0}, {1, -1}, {0, 1}};
    static const double upper[3][2] = {{0, -1}, {1, 0}, {-1, 1}};
    memcpy(g, e % 2 ? upper : lower, sizeof lower);
}

static int element_block(const p1_2d *s, size_t e) {
    size_t cell = e / 2;
    int cx = (int)(cell % (size_t)s->n), cy = (int)(cell / (size_t)s->n);
    return (cy / s->cells_per_block) * s->blocks_per_dim + cx / s->cells_per_block;
}

static hp_status p1_2d_set_source(void *state, hp_scalar_field q, void *ctx) {
    p1_2d *s = state;
    int n = s->n;
    memset(s->load, 0, sizeof(double) * s->mesh.n_nodes);
    if (!q) return HP_OK;
    double area = 0.5 * s->h * s->h;
    for (size_t e = 0; e < s->mesh.n_elements; ++e) {
        int vx[3], vy[3];
        element_vertices(n, e, vx, vy);
        double acc[3] = {0, 0, 0};
        for (int k = 0; k < s->q_points; ++k) {
            double l1 = s->q_rule[3 * k], l2 = s->q_rule[3 * k + 1], w = s->q_rule[3 * k + 2];
            double l0 = 1.0 - l1 - l2;
            double x[2] = {(l0 * vx[0] + l1 * vx[1] + l2 * vx[2]) * s->h,
                           (l0 * vy[0] + l1 * vy[1] + l2 * vy[2]) * s->h};
            double v = q(x, ctx) * w * area;
            if (!isfinite(v))
                HP_ERROR(HP_ERR_NUMERIC, "source q(x) is not finite at (%.17g, %.17g)", x[0], x[1]);
            acc[0] += v * l0;
            acc[1] += v * l1;
            acc[2] += v * l2;
        }
        for (int a = 0; a < 3; ++a) s->load[(size_t)vy[a] * (n + 1) + vx[a]] += acc[a];
    }
    return HP_OK;
}

/* Interior index of grid node (ix, iy), or -1 on the boundary. */
static long interior(const p1_2d *s, int ix, int iy) {
    if (ix <= 0 || iy <= 0 || ix >= s->n || iy >= s->n) return -1;
    return (long)(iy - 1) * s->m + (ix - 1);
}

static int slot_of(int dx, int dy) {
    static const int table[3][3] = {/* dy=-1 */ {ST_SW, ST_S, -1},
                                    /* dy= 0 */ {ST_W, ST_C, ST_E},
                                    /* dy=+1 */ {-1, ST_N, ST_NE}};
    return table[dy + 1][dx + 1];
}

/* Assemble stencil and direction right-hand sides from per-element M_e (2x2,
 * row-major, M_e = ∫_e K̃), then factorize. */
static hp_status assemble_and_factorize(p1_2d *s, const double *Mfield, int use_blocks,
                                        const double *Kasm, p1_2d_backend backend, int seven) {
    int n = s->n;
    size_t N = s->N;
    memset(s->stencil, 0, sizeof(double) * ST_SLOTS * N);
    memset(s->direction_rhs, 0, sizeof(double) * 2 * N);
    double area = 0.5 * s->h * s->h, inv_h = 1.0 / s->h;
    for (size_t e = 0; e < s->mesh.n_elements; ++e) {
        double M[4], Mrhs[4];
        if (use_blocks) {
            int b = element_block(s, e);
            for (int t = 0; t < 4; ++t) {
                M[t] = area * Kasm[4 * b + t];      /* matrix: possibly symmetrized */
                Mrhs[t] = area * s->Kt[4 * b + t];  /* right-hand side: the true K̃ */
            }
        } else {
            M[0] = M[3] = Mrhs[0] = Mrhs[3] = Mfield[e];
            M[1] = M[2] = Mrhs[1] = Mrhs[2] = 0.0;
        }
        int vx[3], vy[3];
        double g[3][2];
        element_vertices(n, e, vx, vy);
        element_gradients(e, g);
        for (int r = 0; r < 3; ++r) {
            long I = interior(s, vx[r], vy[r]);
            if (I < 0) continue;
            double gr0 = g[r][0] * inv_h, gr1 = g[r][1] * inv_h;
            /* -∫ (K̃ e_i)·∇φ_r = -(g_r · column i of M) */
            s->direction_rhs[I] -= gr0 * Mrhs[0] + gr1 * Mrhs[2];
            s->direction_rhs[N + I] -= gr0 * Mrhs[1] + gr1 * Mrhs[3];
            for (int c = 0; c < 3; ++c) {
                if (interior(s, vx[c], vy[c]) < 0) continue;
                double gc0 = g[c][0] * inv_h, gc1 = g[c][1] * inv_h;
                /* B[r][c] = ∇φ_rᵀ M ∇φ_c */
                double v = gr0 * (M[0] * gc0 + M[1] * gc1) + gr1 * (M[2] * gc0 + M[3] * gc1);
                s->stencil[(size_t)slot_of(vx[c] - vx[r], vy[c] - vy[r]) * N + (size_t)I] += v;
            }
        }
    }
    HP_CALL(p1_2d_solver_factorize(s->solver, backend, s->m, seven, s->stencil));
    return HP_OK;
}

static hp_status p1_2d_set_coefficient_blocks(void *state, const double *Kt) {
    p1_2d *s = state;
    s->coefficient_kind = 0;
    size_t nb = s->mesh.n_blocks;
    double scale = 0.0;
    for (size_t b = 0; b < nb; ++b) {
        const double *K = Kt + 4 * b;
        int bx = (int)(b % (size_t)s->blocks_per_dim), by = (int)(b / (size_t)s->blocks_per_dim);
        for (int t = 0; t < 4; ++t)
            if (!isfinite(K[t]))
                HP_ERROR(HP_ERR_NUMERIC, "coarse coefficient of block %zu (%d, %d) has a non-finite "
                                         "entry K̃[%d][%d] = %g", b, bx, by, t / 2, t % 2, K[t]);
        double a = K[0], d = K[3], o = 0.5 * (K[1] + K[2]);
        if (!(a > 0.0) || !(a * d - o * o > 0.0))
            HP_ERROR(HP_ERR_NUMERIC, "coarse coefficient of block %zu (%d, %d) is not positive "
                                     "definite: K̃ = [[%g, %g], [%g, %g]] (symmetric part has "
                                     "K11 = %g, det = %g); the coarse problem needs an SPD symmetric part",
                     b, bx, by, K[0], K[1], K[2], K[3], a, a * d - o * o);
        for (int t = 0; t < 4; ++t) scale = fmax(scale, fabs(K[t]));
    }
    memcpy(s->Kt, Kt, sizeof(double) * 4 * nb);
    /* A common antisymmetric part integrates to zero against H¹₀ functions, so B
     * is then the symmetric matrix of the symmetric parts (Cholesky). */
    double skew0 = 0.5 * (Kt[1] - Kt[2]);
    int symmetric = 1, seven = 0;
    for (size_t b = 0; b < nb; ++b) {
        const double *K = Kt + 4 * b;
        if (fabs(0.5 * (K[1] - K[2]) - skew0) > 1e-14 * scale) symmetric = 0;
        if (K[1] + K[2] != 0.0) seven = 1;
    }
    double *Kasm = s->Kasm;
    for (size_t b = 0; b < nb; ++b) {
        const double *K = Kt + 4 * b;
        double *A = Kasm + 4 * b;
        if (symmetric) {
            A[0] = K[0];
            A[3] = K[3];
            A[1] = A[2] = 0.5 * (K[1] + K[2]);
        } else {
            memcpy(A, K, 4 * sizeof(double));
        }
    }
    HP_CALL(assemble_and_factorize(s, NULL, 1, Kasm, symmetric ? s->symmetric_backend : P1_2D_LU,
                                   seven || !symmetric));
    s->coefficient_kind = 1;
    return HP_OK;
}

static hp_status p1_2d_set_coefficient_field(void *state, hp_scalar_field K, void *ctx) {
    p1_2d *s = state;
    s->coefficient_kind = 0;
    if (!K) HP_ERROR(HP_ERR_INTERNAL, "set_coefficient_field: K is NULL");
    int n = s->n;
    double area = 0.5 * s->h * s->h;
    double *nodal = NULL;
    if (s->nodal_rule) {
        HP_CALL(hp_malloc(sizeof(double) * s->mesh.n_nodes, &nodal));
        for (size_t k = 0; k < s->mesh.n_nodes; ++k) nodal[k] = K(s->coords + 2 * k, ctx);
    }
    for (size_t e = 0; e < s->mesh.n_elements; ++e) {
        int vx[3], vy[3];
        element_vertices(n, e, vx, vy);
        double acc = 0.0;
        if (nodal) {
            for (int a = 0; a < 3; ++a) acc += nodal[(size_t)vy[a] * (n + 1) + vx[a]] / 3.0;
        } else {
            for (int k = 0; k < s->k_points; ++k) {
                double l1 = s->k_rule[3 * k], l2 = s->k_rule[3 * k + 1], w = s->k_rule[3 * k + 2];
                double l0 = 1.0 - l1 - l2;
                double x[2] = {(l0 * vx[0] + l1 * vx[1] + l2 * vx[2]) * s->h,
                               (l0 * vy[0] + l1 * vy[1] + l2 * vy[2]) * s->h};
                acc += w * K(x, ctx);
            }
        }
        if (!isfinite(acc) || !(acc > 0.0)) {
            free(nodal);
            HP_ERROR(HP_ERR_NUMERIC, "coefficient K(x) averages %g on element %zu (cell %d, %d); "
                                     "expected a positive, finite conductivity",
                     acc, e, vx[0], vy[0]);
        }
        s->c[e] = acc * area;
    }
    free(nodal);
    HP_CALL(assemble_and_factorize(s, s->c, 0, NULL, s->symmetric_backend, 0));
    s->coefficient_kind = 2;
    return HP_OK;
}

static hp_status check_ready(const p1_2d *s, int direction) {
    if (!s->coefficient_kind)
        HP_ERROR(HP_ERR_INTERNAL, "p1_2d: no coefficient set (set_coefficient_* must succeed first)");
    if (direction < 0 || direction > 1)
        HP_ERROR(HP_ERR_INTERNAL, "p1_2d: direction %d requested; expected 0 or 1", direction);
    return HP_OK;
}

static void scatter_interior(const p1_2d *s, const double *interior_values, double *nodal) {
    int n = s->n;
    memset(nodal, 0, sizeof(double) * s->mesh.n_nodes);
    for (int iy = 1; iy < n; ++iy)
        for (int ix = 1; ix < n; ++ix)
            nodal[(size_t)iy * (n + 1) + ix] = interior_values[(size_t)(iy - 1) * s->m + (ix - 1)];
}

static hp_status p1_2d_solve_state(void *state, int direction, double *y) {
    p1_2d *s = state;
    HP_CALL(check_ready(s, direction));
    int n = s->n;
    for (int iy = 1; iy < n; ++iy)
        for (int ix = 1; ix < n; ++ix) {
            size_t I = (size_t)(iy - 1) * s->m + (ix - 1);
            s->work[I] = s->load[(size_t)iy * (n + 1) + ix] + s->direction_rhs[direction * s->N + I];
        }
    HP_CALL(p1_2d_solver_solve(s->solver, 0, s->work));
    scatter_interior(s, s->work, y);
    return HP_OK;
}

static hp_status p1_2d_solve_adjoint(void *state, const double *rhs, double *p) {
    p1_2d *s = state;
    HP_CALL(check_ready(s, 0));
    int n = s->n;
    for (int iy = 1; iy < n; ++iy)
        for (int ix = 1; ix < n; ++ix)
            s->work[(size_t)(iy - 1) * s->m + (ix - 1)] = rhs[(size_t)iy * (n + 1) + ix];
    HP_CALL(p1_2d_solver_solve(s->solver, 1, s->work));
    scatter_interior(s, s->work, p);
    return HP_OK;
}

/* Gradient of nodal field f on element e (boundary values taken as given). */
static void element_gradient(const p1_2d *s, size_t e, const double *f, int zero_boundary,
                             double grad[2]) {
    int vx[3], vy[3];
    double g[3][2];
    element_vertices(s->n, e, vx, vy);
    element_gradients(e, g);
    grad[0] = grad[1] = 0.0;
    for (int a = 0; a < 3; ++a) {
        if (zero_boundary && interior(s, vx[a], vy[a]) < 0) continue;
        double v = f[(size_t)vy[a] * (s->n + 1) + vx[a]];
        grad[0] += g[a][0] * v / s->h;
        grad[1] += g[a][1] * v / s->h;
    }
}

/* d(pᵀ(B y − F_i))/dK̃_b[j][l] = Σ_{e∈b} |e| ∂_j p (∂_l y + δ_li): B contributes
 * ∇pᵀ K̃ ∇y, the direction term −∫ K̃ e_i·∇p contributes ∂_j p δ_li. */
static hp_status p1_2d_coefficient_gradient(void *state, int direction, const double *y,
                                            const double *p, double *dKt) {
    p1_2d *s = state;
    HP_CALL(check_ready(s, direction));
    if (s->coefficient_kind != 1)
        HP_ERROR(HP_ERR_INTERNAL, "coefficient_gradient needs a block coefficient (set_coefficient_blocks)");
    double area = 0.5 * s->h * s->h;
    for (size_t e = 0; e < s->mesh.n_elements; ++e) {
        double gp[2], gy[2];
        element_gradient(s, e, p, 1, gp);
        element_gradient(s, e, y, 1, gy);
        gy[direction] += 1.0;
        double *d = dKt + 4 * (size_t)element_block(s, e);
        d[0] += area * gp[0] * gy[0];
        d[1] += area * gp[0] * gy[1];
        d[2] += area * gp[1] * gy[0];
        d[3] += area * gp[1] * gy[1];
    }
    return HP_OK;
}

static hp_status p1_2d_evaluate(void *state, const double *y, const double *points, size_t count,
                                double *out) {
    p1_2d *s = state;
    int n = s->n;
    for (size_t r = 0; r < count; ++r) {
        double x = points[2 * r], yy = points[2 * r + 1];
        if (!(x >= -1e-12 && x <= 1.0 + 1e-12 && yy >= -1e-12 && yy <= 1.0 + 1e-12))
            HP_ERROR(HP_ERR_INTERNAL, "evaluate: point %zu (%g, %g) lies outside [0,1]^2", r, x, yy);
        int cx = (int)floor(x * n), cy = (int)floor(yy * n);
        if (cx < 0) cx = 0;
        if (cx > n - 1) cx = n - 1;
        if (cy < 0) cy = 0;
        if (cy > n - 1) cy = n - 1;
        double tx = x * n - cx, ty = yy * n - cy;
        size_t v00 = (size_t)cy * (n + 1) + cx, v10 = v00 + 1, v01 = v00 + n + 1, v11 = v01 + 1;
        if (tx >= ty)
            out[r] = y[v00] + tx * (y[v10] - y[v00]) + ty * (y[v11] - y[v10]);
        else
            out[r] = y[v00] + tx * (y[v11] - y[v01]) + ty * (y[v01] - y[v00]);
    }
    return HP_OK;
}

static hp_status p1_2d_element_data(void *state, const double *y, double *centroid, double *measure,
                                    double *K_mean, double *gradient) {
    p1_2d *s = state;
    double area = 0.5 * s->h * s->h;
    for (size_t e = 0; e < s->mesh.n_elements; ++e) {
        if (centroid) {
            int vx[3], vy[3];
            element_vertices(s->n, e, vx, vy);
            centroid[2 * e] = (vx[0] + vx[1] + vx[2]) * s->h / 3.0;
            centroid[2 * e + 1] = (vy[0] + vy[1] + vy[2]) * s->h / 3.0;
        }
        if (measure) measure[e] = area;
        if (K_mean) K_mean[e] = s->coefficient_kind == 2 ? s->c[e] / area : 1.0;
        if (gradient) element_gradient(s, e, y, 0, gradient + 2 * e);
    }
    return HP_OK;
}

static const hp_coarse_ops p1_2d_ops = {
    .struct_size = sizeof(hp_coarse_ops),
    .create = p1_2d_create,
    .destroy = p1_2d_destroy,
    .mesh = p1_2d_mesh,
    .set_source = p1_2d_set_source,
    .set_coefficient_blocks = p1_2d_set_coefficient_blocks,
    .set_coefficient_field = p1_2d_set_coefficient_field,
    .solve_state = p1_2d_solve_state,
    .solve_adjoint = p1_2d_solve_adjoint,
    .coefficient_gradient = p1_2d_coefficient_gradient,
    .evaluate = p1_2d_evaluate,
    .element_data = p1_2d_element_data,
};

HP_PLUGIN_DEFINE(HP_PLUGIN_COARSE, "p1_2d", "1.0.0",
                 "2-D P1 finite elements on n x n squares split in triangles; CHOLMOD or banded LAPACK",
                 p1_2d_params, &p1_2d_ops)
