/* residual_average.h (private) — the coarse-averaged PINN residual, a loss term
 * that sees the macro scale (docs/math.md §4.5):
 *
 *   g_ik = Σ_r P_kr ρ_i(x_r),   P_kr = w_r ψ_k(x_r) / Σ_s w_s ψ_k(x_s)
 *   A    = Σ_i (1/N) Σ_k g_ik²,  entering Ĵ as τ3 A
 *
 * ψ_k are the tensor-product hat functions of the nodes of a uniform grid on
 * [0,1]^d (the coarse mesh's nodes), w_r the collocation quadrature weights, N
 * the number of nodes whose support holds a point (the others have no row). g_ik
 * is a local, hat-weighted mean of the residual around node k: a constant ρ gives
 * g = ρ. Why: the L2 residual J_pinn weighs a smooth error of the solution
 * (the macro scale) little against the fit of the oscillations, so Gauss–Newton
 * trades one for the other; the averages cancel the zero-mean oscillating part
 * and keep the smooth one. Unlike the coupling term it vanishes at the exact
 * solution, so it has no floor. */
#ifndef HPINN_RESIDUAL_AVERAGE_H
#define HPINN_RESIDUAL_AVERAGE_H

#include <stddef.h>

#include "hpinn/status.h"

typedef struct hp__residual_average {
    int dim, cells;     /* the grid: cells per axis */
    size_t n_nodes;     /* (cells+1)^dim */
    size_t n_points;    /* M */
    int corners;        /* 2^dim nodes per point */
    size_t *node;       /* M x corners: node index (n_nodes: no weight) */
    double *weight;     /* M x corners: P_kr */
    double *mass;       /* n_nodes: Σ_s w_s ψ_k(x_s) */
    double n_active;    /* N */
} hp__residual_average;

/* Buffers for M points on a grid of `cells` cells per axis; call set_points
 * before use. */
hp_status hp__residual_average_create(hp__residual_average *a, int dim, int cells, size_t M);
void hp__residual_average_destroy(hp__residual_average *a);

/* P for the points x (M x dim, in [0,1]^dim) with quadrature weights w (M). */
void hp__residual_average_set_points(hp__residual_average *a, const double *x, const double *w);

/* g (n_nodes, OVERWRITTEN) = P ρ; returns (1/N) Σ_k g_k². */
double hp__residual_average_forward(const hp__residual_average *a, const double *rho, double *g);

/* rho_cot (M) += scale · Pᵀ g. */
void hp__residual_average_pullback(const hp__residual_average *a, const double *g, double scale, double *rho_cot);

/* rows (n_nodes x n, OVERWRITTEN) = scale · P pinn_rows, pinn_rows M x n row-major. */
void hp__residual_average_rows(const hp__residual_average *a, const double *pinn_rows, size_t n, double scale,
                               double *rows);

/* The Gauss–Newton row scale: ½ Σ_k (s g_k)² = τ3 A needs s = √(2 τ3 / N). */
double hp__residual_average_row_scale(const hp__residual_average *a, double tau3);

#endif
