/* pinn_residual.h (private) — the PINN residual of the fine-scale problem
 * (docs/math.md §1) from a network's lifted jet at a point set, and its pullback:
 *
 *   ρ_i(x_r) = −K(x_r) Δv_i(x_r) − ∇K(x_r)·∇v_i(x_r) − f_i(x_r),  f_i = q + ∂_i K
 *
 * ρ is affine in the jet (v, ∇v, Δv), so one pullback serves the gradient of
 * Σ g_r ρ_r, the Gauss–Newton Jacobian rows and the Jacobian-vector product.
 * On a point set with inverse_K, every ρ here is s_r ρ with s_r = 1/K(x_r)
 * (problem.residual_scale): the loss, its rows and products all see the scaled one. */
#ifndef HPINN_PINN_RESIDUAL_H
#define HPINN_PINN_RESIDUAL_H

#include <stddef.h>

#include "problem.h"

/* The factor s_r of point r: 1/K(x_r) on an inverse_K set, else 1. */
static inline double hp__pinn_residual_scale(const hp__point_set *s, size_t r) {
    return s->inverse_K ? 1.0 / s->K[r] : 1.0;
}

/* ρ at the points of s from the lifted jet (C*n, order 2) of direction i into rho
 * (may be NULL); returns Σ ρ² over the points where mask is 1 (NULL: all). */
double hp__pinn_residual(const hp__point_set *s, int dim, const double *jet, int direction, double *rho,
                         const unsigned char *mask);

/* The linear part of ρ applied to a jet tangent (no f): out_r = −K Δt − ∇K·∇t. */
void hp__pinn_residual_linear(const hp__point_set *s, int dim, const double *tangent, double *out);

/* cot (C*n, OVERWRITTEN) = the cotangent on the jet of Σ_r g_r ρ_r:
 * value 0, ∂_a: −g ∂_a K, Laplacian: −g K. */
void hp__pinn_residual_pullback(const hp__point_set *s, int dim, const double *g, double *cot);

#endif
