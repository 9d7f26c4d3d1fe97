/* hpinn/jets.h — jets: values and input derivatives of a layer's activations.
 *
 * A jet of width W at P points, input dimension d and order o holds, for every
 * unit and point, the value (o >= 0), the d first derivatives with respect to
 * the input x (o >= 1) and the Laplacian (o == 2). It is stored as ONE row-major
 * matrix of W rows and C*P columns, C = hp_jet_components(o, d), columns ordered
 * component-major:
 *
 *     column c*P + p,  c = 0: value,  c = 1..d: d/dx_c,  c = d+1: Laplacian
 *
 * so a dense layer applied to a jet is a single GEMM and every component of one
 * unit is a contiguous run of P numbers.
 *
 * The kernels (dense, activations, Fourier embedding, concatenation, boundary
 * lift) are declared below; each has X_forward and X_backward, backward being
 * the exact vector-Jacobian product that ACCUMULATES into parameter gradients. */
#ifndef HPINN_JETS_H
#define HPINN_JETS_H

#include <stddef.h>

#include "hpinn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of components per point: 1 (order 0), 1 + d (order 1), 2 + d (order 2). */
static inline int hp_jet_components(int order, int dim) {
    return order <= 0 ? 1 : (order == 1 ? 1 + dim : 2 + dim);
}

#ifdef __cplusplus
}
#endif
#endif
