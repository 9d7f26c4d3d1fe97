/* hpinn/coarse.h — the coarse (P1 finite element) solver plugin interface.
 *
 * The coarse problem (docs/math.md §3): find y_i with y_i = 0 on the boundary and
 *     sum_blocks  ∫ K̃ ∇y_i·∇φ = ∫ q φ − ∫ K̃ e_i·∇φ     for all P1 φ,
 * algebraically B(K̃) y_i = F_i(K̃). The same solver with a scalar coefficient
 * field K(x) is the fine-scale reference solver.
 *
 * Nodes form a structured grid of (n+1)^d points on [0,1]^d, boundary included,
 * numbered lexicographically (x fastest). Nodal vectors always have n_nodes
 * entries; boundary entries of a solution are 0 and of an adjoint right-hand side
 * are ignored. Tensors are stored per block as d x d row-major (K̃[b][j][i]),
 * blocks numbered lexicographically (x fastest), aligned with the mesh.
 *
 * A tensor acts on the gradient of the trial function: the form is
 * ∫ ∇φᵀ K̃ ∇y, so B(K̃) is symmetric exactly when every block's K̃ is, or when all
 * blocks share the same antisymmetric part (which then integrates to zero); a
 * non-symmetric B is solved with LU and the adjoint then solves with Bᵀ.
 *
 * Elements: 1-D element k is [x_k, x_{k+1}]. 2-D square cell (cx, cy) (x fastest)
 * holds elements 2(cy n + cx) (vertices v00, v10, v11: below the diagonal) and
 * 2(cy n + cx) + 1 (v00, v11, v01: above it), where vab is the node (cx+a, cy+b).
 * Block b contains the elements of the cells with (cx, cy) / (n / N_b) equal to
 * its block coordinates. */
#ifndef HPINN_COARSE_H
#define HPINN_COARSE_H

#include <stddef.h>

#include <stdint.h>

#include "hpinn/export.h"
#include "hpinn/params.h"
#include "hpinn/status.h"

HP_BEGIN_API

typedef struct hp_coarse_mesh {
    int dim;
    int elements_per_dim;   /* n */
    size_t n_nodes;         /* (n+1)^dim */
    const double *coords;   /* n_nodes x dim */
    const double *weights;  /* n_nodes nodal quadrature (lumped mass) weights */
    size_t n_elements;      /* n (1-D) or 2 n^2 triangles (2-D) */
    int blocks_per_dim;     /* N_b */
    size_t n_blocks;        /* N_b^dim */
} hp_coarse_mesh;

/* A scalar field given pointwise, x has dim entries. */
typedef double (*hp_scalar_field)(const double *x, void *ctx);

/* Gauss–Legendre rule with n points mapped to [0,1] (nodes ascending, weights
 * summing to 1), exact for polynomials of degree 2n-1; 1 <= n <= HP_GAUSS_LEGENDRE_MAX.
 * Shared by the P1 plugins for their element quadrature. */
#define HP_GAUSS_LEGENDRE_MAX 16
hp_status hp_gauss_legendre(int n, double *nodes, double *weights);

typedef struct hp_coarse_ops {
    uint32_t struct_size; /* sizeof(hp_coarse_ops) the plugin was built with */
    /* elements_per_dim comes from the plugin's own parameters; blocks_per_dim must
     * divide it (error otherwise). */
    hp_status (*create)(const hp_params *params, int dim, int blocks_per_dim, void **state);
    void (*destroy)(void *state);
    const hp_coarse_mesh *(*mesh)(const void *state);
    /* Source q (NULL: q = 0); precomputes ∫ q φ with the plugin's quadrature.
     * Valid before or after a coefficient is set. */
    hp_status (*set_source)(void *state, hp_scalar_field q, void *ctx);
    /* Piecewise-constant tensor coefficient, n_blocks x d x d: assemble, factorize.
     * A block whose symmetric part is not positive definite -> HP_ERR_NUMERIC naming
     * the block. */
    hp_status (*set_coefficient_blocks)(void *state, const double *Kt);
    /* Optional (NULL: the plugin cannot be a fine-scale solver; the reference
     * solution and `hpinn upscale` then refuse it). Scalar coefficient field K(x),
     * integrated per element with the plugin's quadrature rule: assemble,
     * factorize (fine-scale reference solves). */
    hp_status (*set_coefficient_field)(void *state, hp_scalar_field K, void *ctx);
    /* State for direction i (0-based): y (n_nodes). */
    hp_status (*solve_state)(void *state, int direction, double *y);
    /* Adjoint: B^T p = rhs (n_nodes; boundary entries ignored, p = 0 there). */
    hp_status (*solve_adjoint)(void *state, const double *rhs, double *p);
    /* ACCUMULATE d(p^T (B(K̃) y − F_i(K̃)))/dK̃ into dKt (n_blocks x d x d).
     * Only valid after set_coefficient_blocks. */
    hp_status (*coefficient_gradient)(void *state, int direction, const double *y,
                                      const double *p, double *dKt);
    /* Evaluate the P1 interpolant of nodal field y at n points (n x dim). Points
     * more than 1e-12 outside [0,1]^d -> HP_ERR_INTERNAL naming the point. */
    hp_status (*evaluate)(void *state, const double *y, const double *points, size_t n,
                          double *out);
    /* Optional (NULL: no K̃ of the reference solution; `hpinn upscale` refuses the
     * plugin). Per-element data of nodal field y for upscaling from a FEM solution:
     * centroid (n_elements x dim), measure (n_elements), K averaged over the element
     * with the plugin's quadrature (n_elements; 1 if no field is set), gradient
     * (n_elements x dim). Any output may be NULL, y too when gradient is NULL.
     * With these as points, weights, K and ∇u, the flux form (43) is exact for the
     * FEM solution: ∇u is constant per element and ∫_e K is what was assembled. */
    hp_status (*element_data)(void *state, const double *y, double *centroid,
                              double *measure, double *K_mean, double *gradient);
} hp_coarse_ops;

HP_END_API

#endif
