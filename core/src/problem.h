/* problem.h (private) — the fine-scale problem of a pipeline, evaluated once:
 * K, ∇K, q at the collocation, boundary and validation point sets, and the
 * reference solution u_i on the validation grid (docs/math.md §1.5, §6). Nothing here is
 * evaluated inside a training iteration. */
#ifndef HPINN_PROBLEM_H
#define HPINN_PROBLEM_H

#include <stddef.h>
#include <stdio.h>

#include "hpinn/config.h"
#include "hpinn/expr.h"
#include "hpinn/registry.h"
#include "collocation.h"

typedef enum hp__reference_kind {
    HP__REFERENCE_NONE = 0,
    HP__REFERENCE_EXACT,
    HP__REFERENCE_INTEGRAL,
    HP__REFERENCE_FEM
} hp__reference_kind;

/* A point set with the coefficient data there. */
typedef struct hp__point_set {
    size_t n;
    double *x;     /* n x dim */
    double *K;     /* n */
    double *gradK; /* n x dim */
    double *q;     /* n */
    int inverse_K; /* ρ is divided by K here (problem.residual_scale: inverse_K; docs/math.md §1.4) */
} hp__point_set;

typedef struct hp__problem {
    int dim;
    int hard_bc;               /* 1: v = l(x) N(x); 0: soft penalty on boundary points */
    int residual_inverse_K;    /* problem.residual_scale: inverse_K (every point set it evaluates says so) */
    hp_expr *K, *q, *dK[2], *exact;
    char K_where[600], q_where[600]; /* "FILE:LINE:COL: problem.K", for messages */
    hp__point_set collocation;  /* M points: the current set of the collocation plan (data-parallel:
                                   this rank's share, points [collocation_lo, + M) of collocation_total) */
    int distributed;            /* the collocation and validation sets are this rank's shares (comm.h) */
    size_t collocation_total, collocation_lo;
    double *collocation_weights;/* M upscaling weights (1/M; RAD: importance weights) */
    hp__collocation plan;       /* how the collocation points are drawn (collocation.h) */
    int points_auto;            /* collocation.points was auto */
    double length_scale;        /* auto: the length scale of K the density resolves */
    hp__point_set boundary;     /* soft mode: boundary points (1-D: 0 and 1) */
    hp__point_set validation;   /* equispaced grid including the boundary */
    int validation_per_axis;
    unsigned char *validation_interior; /* 1 for points off the boundary */
    hp__reference_kind reference;
    int fem_elements;          /* fine mesh of the fem reference, per axis */
    int integral_intervals;    /* sub-intervals of the 1-D integral reference */
    int n_reference_directions;/* directions the reference covers (exact: 1) */
    double *u_reference;       /* n_directions x validation.n (NULL: none) */
    char reference_label[160]; /* how the reference was computed, for logs and summaries */
    /* the global flux-form K̃ (43) of the reference solution, dim x dim row-major
     * (isotropic problems: only [0] is meaningful); valid when n_ktilde_reference > 0 */
    int n_ktilde_reference;
    double ktilde_reference[4];
    /* what determines a fem reference (K, q, constants, grid, mesh), for its cache */
    char *reference_key;
} hp__problem;

hp_status hp__problem_create(const hp_config *c, hp__problem **out);
void hp__problem_destroy(hp__problem *p);
/* The point counts per axis the pipeline asks for (auto resolved) without
 * allocating any point set: for the memory estimate before creation. */
hp_status hp__problem_sizes(const hp_config *c, size_t *collocation_per_axis, size_t *validation_per_axis);

/* Replace the collocation points (x: M x dim, weights: M upscaling weights) and
 * evaluate K, ∇K, q there, checked as at creation. */
hp_status hp__problem_set_collocation(hp__problem *p, const double *x, const double *weights);
/* K, ∇K, q at the points of s (x filled, the rest allocated), checked. */
hp_status hp__problem_evaluate_points(const hp__problem *p, hp__point_set *s);

/* Points per axis that resolve K's shortest length scale ℓ = 1/max|∇K|/K with
 * points_per_width points (the rule of `points: auto`; 1-D within [200, 1e5],
 * 2-D within [32, 1024]); ℓ in *length_scale. */
size_t hp__problem_resolving_points(const hp__problem *p, double points_per_width, double *length_scale);
/* points_per_width: auto — 8 in 1-D, 3 in 2-D. */
double hp__problem_default_points_per_width(int dim);

/* f_i = q + ∂K/∂x_i at point r of a set. */
static inline double hp__problem_f(const hp__point_set *s, int dim, size_t r, int direction) {
    return s->q[r] + s->gradK[r * (size_t)dim + (size_t)direction];
}

#endif
