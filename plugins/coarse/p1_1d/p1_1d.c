/* p1_1d.c — the 1-D P1 finite-element coarse solver (docs/math.md §3), also the 1-D
 * fine-scale reference solver when given a coefficient field.
 *
 * Uniform mesh of n elements on [0,1], homogeneous Dirichlet conditions. The
 * stiffness matrix restricted to the n-1 interior nodes is tridiagonal and SPD
 * for a positive coefficient, so it is factorized once per coefficient with
 * LAPACK's dpttrf (L D Lᵀ) and every state/adjoint solve is one dpttrs.
 *
 * All the coefficient enters through c_e = ∫_e K per element (the P1 gradients
 * are constant on an element): B_kk = (c_{k-1} + c_k)/h², B_k,k+1 = -c_k/h², and
 * the direction term -∫ K e_1 φ_k' = (c_k - c_{k-1})/h. For a block tensor
 * c_e = K̃_b h; for a field it is a composite Gauss–Legendre rule (or the nodal
 * trapezoid rule the paper's reference used, for comparison). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "hpinn/coarse.h"
#include "hpinn/plugin.h"

static const hp_param_def p1_1d_params[] = {
    {"elements", HP_PARAM_INT, "50", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 1e8, NULL, 0,
     "number of elements N_h (h = 1/N_h)"},
    {"quadrature_order", HP_PARAM_INT, "3", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1,
     HP_GAUSS_LEGENDRE_MAX, NULL, 0,
     "Gauss-Legendre points per sub-interval for K(x) (exact to degree 2n-1); q uses max(n,3)"},
    {"quadrature_subdivisions", HP_PARAM_INT, "1", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 1000,
     NULL, 0, "equal sub-intervals per element for the composite rule (oscillating K on coarse meshes)"},
    {"quadrature_rule", HP_PARAM_ENUM, "gauss", 0, 0, 0, "gauss|nodal", 0,
     "gauss: composite Gauss-Legendre for K(x); nodal: trapezoid with K at the two nodes"},
    HP_PARAM_END};

typedef struct p1_1d {
    hp_coarse_mesh mesh;
    int n;            /* elements */
    double h;
    int blocks_per_dim;
    int elements_per_block;
    double *coords, *weights;
    /* composite rules on the reference element [0,1] */
    int k_points, q_points; /* total points per element for K and for q */
    double *k_x, *k_w, *q_x, *q_w;
    int nodal_rule;
    /* coefficient */
    int coefficient_kind;   /* 0 none, 1 blocks, 2 field */
    double *c;              /* n: ∫_e K */
    double *Kt;             /* n_blocks */
    double *load;           /* n+1: ∫ q φ_k */
    /* factorization of the interior tridiagonal matrix (m = n-1 unknowns) */
    double *diag, *off;     /* dpttrf output D (m), E (m-1) */
    double *work;           /* m */
} p1_1d;

static void p1_1d_destroy(void *state) {
    p1_1d *s = state;
    if (!s) return;
    free(s->coords);
    free(s->weights);
    free(s->k_x);
    free(s->k_w);
    free(s->q_x);
    free(s->q_w);
    free(s->c);
    free(s->Kt);
    free(s->load);
    free(s->diag);
    free(s->off);
    free(s->work);
    free(s);
}

/* Composite Gauss–Legendre rule on [0,1]: `sub` equal pieces, `order` points each. */
static hp_status composite_rule(int order, int sub, double **x, double **w) {
    double gx[HP_GAUSS_LEGENDRE_MAX], gw[HP_GAUSS_LEGENDRE_MAX];
    HP_CALL(hp_gauss_legendre(order, gx, gw));
    HP_CALL(hp_malloc(sizeof(double) * (size_t)order * (size_t)sub, x));
    HP_CALL(hp_malloc(sizeof(double) * (size_t)order * (size_t)sub, w));
    for (int s = 0; s < sub; ++s)
        for (int k = 0; k < order; ++k) {
            (*x)[s * order + k] = (s + gx[k]) / sub;
            (*w)[s * order + k] = gw[k] / sub;
        }
    return HP_OK;
}

static hp_status p1_1d_create(const hp_params *params, int dim, int blocks_per_dim, void **out) {
    if (dim != 1)
        HP_ERROR(HP_ERR_CONFIG, "coarse plugin p1_1d solves 1-D problems, the problem has dim %d; "
                                "use p1_2d for dim 2", dim);
    int n = (int)hp_params_int(params, "elements");
    if (blocks_per_dim < 1 || n % blocks_per_dim != 0)
        return hp_params_error(params, "elements",
                               "%d elements cannot be split into %d equal blocks; expected a "
                               "multiple of the upscaling blocks per dimension", n, blocks_per_dim);
    p1_1d *s = NULL;
    hp_status st;
    HP_CALL(hp_calloc(1, sizeof *s, &s));
    s->n = n;
    s->h = 1.0 / n;
    s->blocks_per_dim = blocks_per_dim;
    s->elements_per_block = n / blocks_per_dim;
    s->nodal_rule = hp_params_enum_index(params, "quadrature_rule") == 1;
    int order = (int)hp_params_int(params, "quadrature_order");
    int sub = (int)hp_params_int(params, "quadrature_subdivisions");
    size_t nn = (size_t)n + 1, m = (size_t)n - 1;
    HP_CALL_GOTO(st, composite_rule(order, sub, &s->k_x, &s->k_w), fail);
    HP_CALL_GOTO(st, composite_rule(order < 3 ? 3 : order, sub, &s->q_x, &s->q_w), fail);
    s->k_points = order * sub;
    s->q_points = (order < 3 ? 3 : order) * sub;
    HP_CALL_GOTO(st, hp_malloc(sizeof(double) * nn, &s->coords), fail);
    HP_CALL_GOTO(st, hp_malloc(sizeof(double) * nn, &s->weights), fail);
    HP_CALL_GOTO(st, hp_calloc(nn, sizeof(double), &s->load), fail);
    HP_CALL_GOTO(st, hp_calloc((size_t)n, sizeof(double), &s->c), fail);
    HP_CALL_GOTO(st, hp_calloc((size_t)blocks_per_dim, sizeof(double), &s->Kt), fail);
    HP_CALL_GOTO(st, hp_calloc(m + 1, sizeof(double), &s->diag), fail);
    HP_CALL_GOTO(st, hp_calloc(m + 1, sizeof(double), &s->off), fail);
    HP_CALL_GOTO(st, hp_calloc(m + 1, sizeof(double), &s->work), fail);
    for (size_t k = 0; k < nn; ++k) {
        s->coords[k] = (double)k * s->h;
        s->weights[k] = (k == 0 || k == nn - 1) ? 0.5 * s->h : s->h;
    }
    s->mesh.dim = 1;
    s->mesh.elements_per_dim = n;
    s->mesh.n_nodes = nn;
    s->mesh.coords = s->coords;
    s->mesh.weights = s->weights;
    s->mesh.n_elements = (size_t)n;
    s->mesh.blocks_per_dim = blocks_per_dim;
    s->mesh.n_blocks = (size_t)blocks_per_dim;
    *out = s;
    return HP_OK;
fail:
    p1_1d_destroy(s);
    return st;
}

static const hp_coarse_mesh *p1_1d_mesh(const void *state) { return &((const p1_1d *)state)->mesh; }

static hp_status p1_1d_set_source(void *state, hp_scalar_field q, void *ctx) {
    p1_1d *s = state;
    memset(s->load, 0, sizeof(double) * ((size_t)s->n + 1));
    if (!q) return HP_OK;
    for (int e = 0; e < s->n; ++e) {
        double x0 = e * s->h, left = 0.0, right = 0.0;
        for (int k = 0; k < s->q_points; ++k) {
            double t = s->q_x[k], x = x0 + t * s->h;
            double v = q(&x, ctx) * s->q_w[k] * s->h;
            if (!isfinite(v))
                HP_ERROR(HP_ERR_NUMERIC, "source q(x) is not finite at x = %.17g", x);
            left += v * (1.0 - t);
            right += v * t;
        }
        s->load[e] += left;
        s->load[e + 1] += right;
    }
    return HP_OK;
}

/* Factorize the interior matrix from c (per-element ∫K). */
static hp_status factorize(p1_1d *s) {
    int m = s->n - 1;
    if (m <= 0) return HP_OK;
    double h2 = s->h * s->h;
    for (int k = 1; k <= m; ++k) {
        s->diag[k - 1] = (s->c[k - 1] + s->c[k]) / h2;
        if (k < m) s->off[k - 1] = -s->c[k] / h2;
    }
    lapack_int info = LAPACKE_dpttrf(m, s->diag, s->off);
    if (info != 0) {
        s->coefficient_kind = 0;
        HP_ERROR(HP_ERR_NUMERIC, "stiffness matrix not positive definite (dpttrf info %d at node %d)",
                 (int)info, (int)info);
    }
    return HP_OK;
}

static hp_status p1_1d_set_coefficient_blocks(void *state, const double *Kt) {
    p1_1d *s = state;
    s->coefficient_kind = 0;
    for (int b = 0; b < s->blocks_per_dim; ++b)
        if (!isfinite(Kt[b]) || !(Kt[b] > 0.0))
            HP_ERROR(HP_ERR_NUMERIC, "coarse coefficient of block %d is %g, not positive definite; "
                                     "the coarse problem needs K̃ > 0 on every block", b, Kt[b]);
    for (int b = 0; b < s->blocks_per_dim; ++b) s->Kt[b] = Kt[b];
    for (int e = 0; e < s->n; ++e) s->c[e] = Kt[e / s->elements_per_block] * s->h;
    HP_CALL(factorize(s));
    s->coefficient_kind = 1;
    return HP_OK;
}

static hp_status p1_1d_set_coefficient_field(void *state, hp_scalar_field K, void *ctx) {
    p1_1d *s = state;
    s->coefficient_kind = 0;
    if (!K) HP_ERROR(HP_ERR_INTERNAL, "set_coefficient_field: K is NULL");
    if (s->nodal_rule) {
        double xl = 0.0, kl = K(&xl, ctx);
        for (int e = 0; e < s->n; ++e) {
            double xr = (e + 1) * s->h, kr = K(&xr, ctx);
            s->c[e] = 0.5 * (kl + kr) * s->h;
            kl = kr;
        }
    } else {
        for (int e = 0; e < s->n; ++e) {
            double acc = 0.0;
            for (int k = 0; k < s->k_points; ++k) {
                double x = (e + s->k_x[k]) * s->h;
                acc += s->k_w[k] * K(&x, ctx);
            }
            s->c[e] = acc * s->h;
        }
    }
    for (int e = 0; e < s->n; ++e)
        if (!isfinite(s->c[e]) || !(s->c[e] > 0.0))
            HP_ERROR(HP_ERR_NUMERIC, "coefficient K(x) averages %g on element %d [%g, %g]; expected a "
                                     "positive, finite conductivity", s->c[e] / s->h, e, e * s->h,
                     (e + 1) * s->h);
    HP_CALL(factorize(s));
    s->coefficient_kind = 2;
    return HP_OK;
}

static hp_status check_ready(const p1_1d *s, int direction) {
    if (!s->coefficient_kind)
        HP_ERROR(HP_ERR_INTERNAL, "p1_1d: no coefficient set (set_coefficient_* must succeed first)");
    if (direction != 0)
        HP_ERROR(HP_ERR_INTERNAL, "p1_1d: direction %d requested; 1-D has direction 0 only", direction);
    return HP_OK;
}

static void solve_interior(p1_1d *s, double *x_nodes) {
    int m = s->n - 1;
    x_nodes[0] = x_nodes[s->n] = 0.0;
    if (m <= 0) return;
    LAPACKE_dpttrs(LAPACK_COL_MAJOR, m, 1, s->diag, s->off, x_nodes + 1, m);
}

static hp_status p1_1d_solve_state(void *state, int direction, double *y) {
    p1_1d *s = state;
    HP_CALL(check_ready(s, direction));
    for (int k = 1; k < s->n; ++k) y[k] = s->load[k] + (s->c[k] - s->c[k - 1]) / s->h;
    solve_interior(s, y);
    return HP_OK;
}

static hp_status p1_1d_solve_adjoint(void *state, const double *rhs, double *p) {
    p1_1d *s = state;
    HP_CALL(check_ready(s, 0));
    for (int k = 1; k < s->n; ++k) p[k] = rhs[k];
    solve_interior(s, p);
    return HP_OK;
}

/* d(pᵀ(B y − F))/dK̃_b = Σ_{e∈b} h p'_e (y'_e + 1): the B part gives h p' y', the
 * direction term −∫K̃ φ' gives h p'. Boundary entries count as 0. */
static hp_status p1_1d_coefficient_gradient(void *state, int direction, const double *y,
                                            const double *p, double *dKt) {
    p1_1d *s = state;
    HP_CALL(check_ready(s, direction));
    if (s->coefficient_kind != 1)
        HP_ERROR(HP_ERR_INTERNAL, "coefficient_gradient needs a block coefficient (set_coefficient_blocks)");
    int n = s->n;
    for (int e = 0; e < n; ++e) {
        double pl = e == 0 ? 0.0 : p[e], pr = e + 1 == n ? 0.0 : p[e + 1];
        double yl = e == 0 ? 0.0 : y[e], yr = e + 1 == n ? 0.0 : y[e + 1];
        double dp = (pr - pl) / s->h, dy = (yr - yl) / s->h;
        dKt[e / s->elements_per_block] += s->h * dp * (dy + 1.0);
    }
    return HP_OK;
}

static hp_status p1_1d_evaluate(void *state, const double *y, const double *points, size_t count,
                                double *out) {
    p1_1d *s = state;
    for (size_t r = 0; r < count; ++r) {
        double x = points[r];
        if (!(x >= -1e-12 && x <= 1.0 + 1e-12))
            HP_ERROR(HP_ERR_INTERNAL, "evaluate: point %zu (x = %g) lies outside [0, 1]", r, x);
        int k = (int)floor(x * s->n);
        if (k < 0) k = 0;
        if (k > s->n - 1) k = s->n - 1;
        double t = x * s->n - k;
        out[r] = (1.0 - t) * y[k] + t * y[k + 1];
    }
    return HP_OK;
}

static hp_status p1_1d_element_data(void *state, const double *y, double *centroid, double *measure,
                                    double *K_mean, double *gradient) {
    p1_1d *s = state;
    for (int e = 0; e < s->n; ++e) {
        if (centroid) centroid[e] = (e + 0.5) * s->h;
        if (measure) measure[e] = s->h;
        if (K_mean) K_mean[e] = s->coefficient_kind == 2 ? s->c[e] / s->h : 1.0;
        if (gradient) gradient[e] = (y[e + 1] - y[e]) / s->h;
    }
    return HP_OK;
}

static const hp_coarse_ops p1_1d_ops = {
    .struct_size = sizeof(hp_coarse_ops),
    .create = p1_1d_create,
    .destroy = p1_1d_destroy,
    .mesh = p1_1d_mesh,
    .set_source = p1_1d_set_source,
    .set_coefficient_blocks = p1_1d_set_coefficient_blocks,
    .set_coefficient_field = p1_1d_set_coefficient_field,
    .solve_state = p1_1d_solve_state,
    .solve_adjoint = p1_1d_solve_adjoint,
    .coefficient_gradient = p1_1d_coefficient_gradient,
    .evaluate = p1_1d_evaluate,
    .element_data = p1_1d_element_data,
};

HP_PLUGIN_DEFINE(HP_PLUGIN_COARSE, "p1_1d", "1.0.0",
                 "1-D P1 finite elements, tridiagonal LDLᵀ (dpttrf); block K̃ or field K(x)",
                 p1_1d_params, &p1_1d_ops)
