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
 * The kernels below are the building blocks of every network plugin: dense,
 * elementwise activation, Fourier embedding and the boundary lift (concatenating
 * jets is free: write them into adjacent row blocks of one buffer). Each kernel
 * has X_forward, X_backward and X_tangent over raw arrays (shapes in the comment
 * above each); the network runner that drives plugins over chunks of points is
 * hpinn's own (hpinn/network.h). Conventions shared by all of them:
 *   - backward is the exact vector-Jacobian product of forward;
 *   - parameter gradients (d_weight, d_bias, d_B) ACCUMULATE (+=);
 *   - input cotangents (d_in, d_z, ...) are OVERWRITTEN;
 *   - any gradient pointer may be NULL to skip that output;
 *   - X_jacobian is X_backward's parameter part without the sum over points: it
 *     ACCUMULATES per-point rows (row p at rows + p*ld_rows) for Gauss-Newton;
 *   - X_tangent is the forward-mode derivative along a direction in the
 *     parameters and inputs: it OVERWRITES the output tangent.
 * The kernels cannot fail for valid shapes, so they return void; they never
 * allocate. Plain-loop reference versions of all of them live in tests/test_jets.c. */
#ifndef HPINN_JETS_H
#define HPINN_JETS_H

#include <stddef.h>
#include <stdint.h>

#include "hpinn/export.h"
#include "hpinn/params.h"
#include "hpinn/status.h"

HP_BEGIN_API

/* Largest input dimension the kernels support (they keep per-point scratch of
 * this size on the stack); the framework itself uses d = 1 and 2. */
#define HP_JET_MAX_DIM 8

/* Number of components per point: 1 (order 0), 1 + d (order 1), 2 + d (order 2). */
static inline int hp_jet_components(int order, int dim) {
    return order <= 0 ? 1 : (order == 1 ? 1 + dim : 2 + dim);
}

/* ---- activations ---------------------------------------------------------- */

/* The enum order matches HP_ACTIVATION_CHOICES, so a parameter table's ENUM index
 * (hp_params_enum_index) is the activation kind. */
typedef enum hp_activation_kind {
    HP_ACT_TANH = 0,     /* tanh z */
    HP_ACT_SWISH = 1,    /* z * sigmoid(b z), b > 0 (paper: b = 1) */
    HP_ACT_SIN = 2,      /* sin z */
    HP_ACT_GELU = 3,     /* z * Phi(z), Phi the standard normal CDF (exact erf form) */
    HP_ACT_SOFTPLUS = 4  /* log(1 + e^z) */
} hp_activation_kind;

#define HP_ACTIVATION_CHOICES "tanh|swish|sin|gelu|softplus"

typedef struct hp_activation {
    hp_activation_kind kind;
    double b; /* swish parameter; ignored by the others */
} hp_activation;

/* sigma and its first three derivatives at z: out[k] = sigma^(k)(z), k = 0..3.
 * The scalar reference the jet kernels are tested against. */
void hp_activation_eval(hp_activation act, double z, double out[4]);

/* ---- dense layer ---------------------------------------------------------- */

/* in: n_in x C*P, weight: n_out x n_in (row-major), bias: n_out or NULL,
 * out: n_out x C*P.
 *   out = weight * in;  out[j][p] += bias[j] on the value columns only
 * (the derivatives of a constant vanish). One cblas_dgemm. */
void hp_jet_dense_forward(double *out, const double *in, const double *weight,
                          const double *bias, size_t n_out, size_t n_in,
                          size_t n_points, int order, int dim);

/* d_out: n_out x C*P, in: n_in x C*P (the forward's input), weight: n_out x n_in.
 *   d_weight (n_out x n_in) += d_out * in^T
 *   d_bias   (n_out)        += sum_p d_out[j][p]        (value columns)
 *   d_in     (n_in x C*P)    = weight^T * d_out         (overwritten) */
void hp_jet_dense_backward(double *d_in, double *d_weight, double *d_bias,
                           const double *d_out, const double *in, const double *weight,
                           size_t n_out, size_t n_in, size_t n_points, int order, int dim);

/* Per-point rows of the dense parameters. Row p of rows_weight (at
 * rows_weight + p*ld_rows, n_out*n_in entries, row-major like weight) and of
 * rows_bias (at rows_bias + p*ld_rows, n_out entries):
 *   rows_weight[p][j*n_in + i] += sum_c d_out[j][c*P+p] * in[i][c*P+p]
 *   rows_bias[p][j]            += d_out[j][p]
 * Either pointer may be NULL. Summing over p gives dense_backward's gradients. */
void hp_jet_dense_jacobian(double *rows_weight, double *rows_bias, size_t ld_rows,
                           const double *d_out, const double *in, size_t n_out,
                           size_t n_in, size_t n_points, int order, int dim);

/* Where a network's reverse pass puts the derivatives with respect to its
 * parameters (offsets into theta address both): either the gradient, summed
 * over points, or per-point Jacobian rows. Exactly one of grad and rows is set. */
typedef struct hp_jet_param_sink {
    double *grad;    /* n_params, ACCUMULATED (+=) */
    double *rows;    /* row p (the sink's p-th point) at rows + p*ld_rows, ACCUMULATED */
    size_t ld_rows;  /* n_params */
} hp_jet_param_sink;

/* One dense layer of a reverse pass, for either kind of sink; weight and bias
 * are offsets of the layer's blocks in theta (and in the gradient / a row):
 *   grad:  dense_backward into grad + weight, grad + bias
 *   rows:  dense_jacobian into rows + weight, rows + bias, then dense_backward
 *          for d_in only
 * d_in (n_in x C*P, overwritten) may be NULL when nothing is below the layer. */
void hp_jet_dense_reverse(double *d_in, const double *d_out, const double *in,
                          const double *theta, size_t weight, size_t bias, size_t n_out,
                          size_t n_in, size_t n_points, int order, int dim,
                          hp_jet_param_sink sink);

/* ---- elementwise activation ----------------------------------------------- */

/* z, a: width x C*P. The jet of a = sigma(z):
 *   a       = sigma(z)
 *   da/dx_c = sigma'(z) dz/dx_c
 *   Lap a   = sigma''(z) |grad z|^2 + sigma'(z) Lap z */
void hp_jet_activation_forward(double *a, const double *z, hp_activation act,
                               size_t width, size_t n_points, int order, int dim);

/* d_a: width x C*P; z, a: the forward's input and output. d_z (overwritten):
 *   d_z[value] = sigma' d_a[value] + sigma'' sum_c z_c d_a[c]
 *                + (sigma''' |grad z|^2 + sigma'' Lap z) d_a[Lap]
 *   d_z[c]     = sigma' d_a[c] + 2 sigma'' z_c d_a[Lap]
 *   d_z[Lap]   = sigma' d_a[Lap] */
void hp_jet_activation_backward(double *d_z, const double *d_a, const double *z,
                                const double *a, hp_activation act, size_t width,
                                size_t n_points, int order, int dim);

/* ---- Fourier embedding ---------------------------------------------------- */

/* x: P x d (row-major points), B: m x d, out: 2m x C*P.
 * Rows 0..m-1: cos(2 pi b_f . x), rows m..2m-1: sin(2 pi b_f . x), as jets:
 *   d/dx_c cos s = -2 pi b_fc sin s,   Lap cos s = -(2 pi)^2 |b_f|^2 cos s
 *   d/dx_c sin s =  2 pi b_fc cos s,   Lap sin s = -(2 pi)^2 |b_f|^2 sin s */
void hp_jet_fourier_forward(double *out, const double *x, const double *B,
                            size_t n_features, size_t n_points, int order, int dim);

/* d_out: 2m x C*P, out: the forward's output (its value rows hold cos s, sin s).
 *   d_B (m x d) += d <d_out, out> / d B
 * (x is data: no cotangent is produced for it.) */
void hp_jet_fourier_backward(double *d_B, const double *d_out, const double *out,
                             const double *x, const double *B, size_t n_features,
                             size_t n_points, int order, int dim);

/* Per-point rows of d_B: rows_B + p*ld_rows holds m*d entries (row-major like B),
 * ACCUMULATED. */
void hp_jet_fourier_jacobian(double *rows_B, size_t ld_rows, const double *d_out,
                             const double *out, const double *x, const double *B,
                             size_t n_features, size_t n_points, int order, int dim);

/* ---- boundary lift -------------------------------------------------------- */

/* The hard Dirichlet lift v = l(x) N(x), l = prod_a x_a (1 - x_a), which vanishes
 * on the boundary of (0,1)^d. The caller (the hybrid objective) applies it to a
 * network's output jet; it is not a network option. With g_a = x_a (1 - x_a):
 *   l, d_c l = (1 - 2 x_c) prod_{a != c} g_a, Lap l = -2 sum_c prod_{a != c} g_a.
 * The lift is linear in N, so the same forward maps tangents. */

/* in, out: rows x C*P (in place allowed: out == in). Product rule per row:
 *   v = l N,  grad v = N grad l + l grad N,  Lap v = N Lap l + 2 grad l . grad N + l Lap N */
void hp_jet_lift_forward(double *out, const double *in, const double *x, size_t rows,
                         size_t n_points, int order, int dim);

/* d_out: rows x C*P; d_in (overwritten; d_in == d_out allowed):
 *   d_N[value] = l d_v + sum_c d_c l d_g[c] + Lap l d_L
 *   d_N[c]     = l d_g[c] + 2 d_c l d_L
 *   d_N[Lap]   = l d_L */
void hp_jet_lift_backward(double *d_in, const double *d_out, const double *x,
                          size_t rows, size_t n_points, int order, int dim);

/* ---- tangents ----------------------------------------------------------------- */

/* dz = weight * d_in + d_weight * in, plus d_bias on the value columns.
 * in, d_in: n_in x C*P (d_in NULL: the input does not move); d_weight: n_out x
 * n_in, d_bias: n_out (NULL: frozen); dz: n_out x C*P. */
void hp_jet_dense_tangent(double *dz, const double *in, const double *d_in, const double *weight,
                          const double *d_weight, const double *d_bias, size_t n_out, size_t n_in,
                          size_t n_points, int order, int dim);

/* The linearization of the activation jet at z along dz (both width x C*P),
 * with s_k = the k-th derivative of sigma at the value of z:
 *   da[value] = s_1 dz
 *   da[c]     = s_2 dz z_c + s_1 dz_c
 *   da[Lap]   = s_3 dz |grad z|^2 + 2 s_2 grad z . grad dz + s_2 dz Lap z + s_1 Lap dz */
void hp_jet_activation_tangent(double *da, const double *dz, const double *z, hp_activation act,
                               size_t width, size_t n_points, int order, int dim);

/* The Fourier embedding's derivative along d_B (m x d). out: the forward's output
 * (its value rows hold cos s, sin s); d_out: 2m x C*P, overwritten. */
void hp_jet_fourier_tangent(double *d_out, const double *out, const double *x, const double *B,
                            const double *d_B, size_t n_features, size_t n_points, int order, int dim);

HP_END_API

#endif
