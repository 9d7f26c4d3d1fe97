/* coupling.h (private) — the coupling term between the compressed network and
 * the coarse solution (docs/math.md §4, the paper's (11) and (16)), in one place
 * for both the value/gradient and the Gauss–Newton paths:
 *
 *   z_i = Q̄ v_i (the network at the coarse nodes, compressed)
 *   ŷ_i = y_i (form full, (11))  or  Q̄ y_i (form compressed, (16))
 *   R   = Σ_i Σ_k w_k (z_ik − ŷ_ik)²,  entering Ĵ as τ2 R
 *
 * and whether it is active at all (a form, τ2 > 0, and a positive definite K̃). */
#ifndef HPINN_COUPLING_H
#define HPINN_COUPLING_H

#include <math.h>
#include <stddef.h>

#include "compression.h"
#include "hpinn/coarse.h"
#include "hpinn/config.h"

typedef enum hp__coupling_form { HP__COUPLING_FULL = 0, HP__COUPLING_COMPRESSED = 1, HP__COUPLING_NONE = 2 } hp__coupling_form;

typedef struct hp__coupling {
    hp__coupling_form form;
    double tau2;
    const hp_coarse_mesh *mesh;
    hp__compression *Q;
} hp__coupling;

/* From the pipeline's coupling section (form, window, window_shape, delta; τ2
 * comes from the stage plan through hp__coupling_set_weight). */
hp_status hp__coupling_create(const hp_config *c, const hp_coarse_mesh *mesh, hp__coupling *out);
void hp__coupling_destroy(hp__coupling *c);

/* Enabled by the pipeline and the current weight (before looking at K̃). */
int hp__coupling_enabled(const hp__coupling *c);
/* Enabled, and K̃ is positive definite (no fallback to the plain PINN). */
static inline int hp__coupling_active(const hp__coupling *c, int fallback) {
    return hp__coupling_enabled(c) && !fallback;
}

/* z = Q̄ v; ŷ (points at y, or at yc = Q̄ y which it fills); returns
 * Σ_k w_k (z_k − ŷ_k)² for one direction. */
double hp__coupling_value(const hp__coupling *c, const double *v, const double *y, double *z, double *yc,
                          const double **yhat);

/* The gradient parts of τ2 R for one direction at (z, ŷ):
 *   d_v (n_nodes, OVERWRITTEN) = ∂(τ2 R)/∂v = Q̄ᵀ 2 τ2 w (z − ŷ)
 *   d_y (n_nodes, OVERWRITTEN) = ∂(τ2 R)/∂y = −2 τ2 w (z − ŷ)  (full)
 *                                             −Q̄ᵀ 2 τ2 w (z − ŷ)  (compressed)
 * `work` holds n_nodes doubles. */
void hp__coupling_gradient(const hp__coupling *c, const double *z, const double *yhat, double *d_v, double *d_y,
                           double *work);

/* Gauss–Newton: the coupling residual of node k is s_k (z_k − ŷ_k) with
 * s_k = √(2 τ2 w_k), so that ½ Σ r² = τ2 R. */
static inline double hp__coupling_row_scale(const hp__coupling *c, size_t k) {
    return sqrt(2.0 * c->tau2 * c->mesh->weights[k]);
}
/* The linear maps behind ŷ and z: out = Q̄ in (ŷ: identity for full). */
void hp__coupling_yhat_map(const hp__coupling *c, const double *dy, double *out);
/* out += (ŷ map)ᵀ u. */
void hp__coupling_yhat_map_transpose(const hp__coupling *c, const double *u, double *out);

#endif
