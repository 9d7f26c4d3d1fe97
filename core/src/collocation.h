/* collocation.h (private) — where the PINN residual is enforced: the
 * collocation points, how they are drawn, how often they are drawn again, and
 * how many there are when the pipeline says `points: auto`.
 *
 *   sampling  grid (interior equispaced, x_r = r/(m+1) per axis), uniform
 *             (independent uniform points), sobol or halton (low-discrepancy
 *             sequences with a random shift);
 *   resample  every `resample_every` iterations a new set: round r of the
 *             generator (uniform: new draws; sobol/halton: the sequence's next
 *             block), all deterministic from `seed` and r;
 *   adaptive  rad: residual-based adaptive distribution (Wu et al. 2023): from
 *             `rad_candidates` points of the generator, M are kept with
 *             probability ∝ |ρ|^k / mean|ρ|^k + c (without replacement).
 *
 * Weights: J_pinn is the mean of ρ² over the points in every mode (for random
 * points a Monte Carlo estimate of ∫ρ², for RAD the residual-weighted loss RAD
 * is designed to minimize). The upscaling (43) needs a quadrature of ∫ over Ω:
 * 1/M for the grid and for uniformly distributed points; for RAD points the
 * self-normalized importance weights w_r ∝ 1/p(x_r), so K̃ still estimates the
 * average over Ω. */
#ifndef HPINN_COLLOCATION_H
#define HPINN_COLLOCATION_H

#include <stddef.h>
#include <stdint.h>

#include "hpinn/params.h"
#include "hpinn/status.h"

typedef enum hp__sampling { HP__SAMPLING_GRID = 0, HP__SAMPLING_UNIFORM, HP__SAMPLING_SOBOL, HP__SAMPLING_HALTON } hp__sampling;

typedef struct hp__collocation {
    int dim;
    hp__sampling sampling;
    size_t per_axis;          /* grid: points per axis */
    size_t n;                 /* points */
    uint64_t seed;
    int64_t resample_every;   /* 0: never */
    int rad;                  /* adaptive: rad */
    double rad_k, rad_c;
    size_t rad_candidates;
} hp__collocation;

/* The points of round r (n x dim): the grid ignores r. */
void hp__collocation_points(const hp__collocation *c, uint64_t round, double *x);
/* count points of the generator for round r (RAD's candidates; uniform for the grid). */
void hp__collocation_draw(const hp__collocation *c, uint64_t round, size_t count, double *x);
/* RAD: choose c->n of the count candidates with |ρ| at them (rho_abs): their
 * indices (ascending) and the upscaling weights (summing to 1). Deterministic
 * from seed and round. */
hp_status hp__collocation_rad_select(const hp__collocation *c, uint64_t round, const double *rho_abs, size_t count,
                                     size_t *chosen, double *weights);

/* Points per axis for `points: auto`: the shortest length scale of K,
 * ℓ = 1 / max |∇K|/K on a fine grid, resolved by points_per_width points:
 * ceil(points_per_width / ℓ), clamped to [min_points, max_points]. scale_of_K
 * evaluates |∇K|/K at a point. */
size_t hp__collocation_auto(int dim, double (*scale_of_K)(const double *x, void *ctx), void *ctx,
                            double points_per_width, size_t min_points, size_t max_points, double *length_scale);

#endif
