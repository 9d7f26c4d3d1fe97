/* hpinn/upscaling.h — the upscaling plugin interface: K̃ from fine-scale data.
 *
 * Input is the fine-scale corrector u_i (values and gradients) of every direction
 * problem at quadrature points with weights, and K there — from a network (the
 * hybrid solver) or from a fine FEM solution (the reference), through the same
 * code. Output is one d x d tensor per block (row-major, K̃[b][j][i], docs/math.md
 * §2), blocks numbered lexicographically (x fastest) on a N_b^d partition of
 * [0,1]^d. Isotropic variants still return full tensors (K̃11 on the diagonal).
 *
 * Every upscaling the paper uses is an average over points followed by a small
 * computation on the averages ((43), (44): the tensor is the average; (36):
 * K̃^j = F^j (T^j)^-1 of two averages per block). The interface makes that split
 * explicit, so the points can live anywhere: `moments` ACCUMULATES additive
 * partial sums over a set of points (any split of the points gives the same sums
 * up to rounding: data-parallel ranks add theirs), and `finish` turns the summed
 * moments into K̃. The reverse pass mirrors it: `finish_backward` gives dL/dm
 * from dL/dK̃, and `moments_backward` spreads dL/dm back onto each point.
 *
 * ABI: the ops table starts with its own size; needs_values (NULL: the values v
 * and q are not used) and moments_tangent (NULL: no matrix-free Gauss–Newton
 * through K̃) are optional. */
#ifndef HPINN_UPSCALING_H
#define HPINN_UPSCALING_H

#include <stddef.h>
#include <stdint.h>

#include "hpinn/export.h"
#include "hpinn/params.h"
#include "hpinn/status.h"

HP_BEGIN_API

typedef struct hp_upscaling_input {
    int dim;
    int n_directions;       /* problems present: 1 or dim (see n_directions()) */
    size_t n_points;
    const double *x;        /* n_points x dim, assigns points to blocks */
    const double *weights;  /* n_points quadrature weights; over ALL points they sum to |Ω| = 1 */
    const double *K;        /* n_points conductivity */
    const double *q;        /* n_points source; energy form only, else may be NULL */
    const double *v;        /* n_directions x n_points values of u_i; energy form only */
    const double *grad;     /* n_directions x n_points x dim gradients of u_i */
} hp_upscaling_input;

/* Per-block diagnostics of a finish call (arrays of n_blocks, caller-owned,
 * any may be NULL). */
typedef struct hp_upscaling_report {
    unsigned char *positive_definite; /* 1 when the symmetric part of K̃^j is SPD */
    double *condition;                /* cond_2 of T^j (blocks), 1 for global */
    int n_not_positive_definite;      /* filled always */
    int n_singular;                   /* blocks whose T^j could not be inverted */
} hp_upscaling_report;

typedef struct hp_upscaling_ops {
    uint32_t struct_size; /* sizeof(hp_upscaling_ops) the plugin was built with */
    hp_status (*create)(const hp_params *params, int dim, void **state);
    void (*destroy)(void *state);
    /* N_b: the coarse mesh must be aligned with it (global: 1). */
    int (*blocks_per_dim)(const void *state);
    /* How many direction problems the strategy needs: 1 (isotropic, 1-D) or dim. */
    int (*n_directions)(const void *state);
    /* Number of moments (additive sums) the strategy keeps. */
    size_t (*n_moments)(const void *state);
    /* ACCUMULATE the moments of the points of `in` into m (n_moments). */
    hp_status (*moments)(void *state, const hp_upscaling_input *in, double *m);
    /* K̃ per block (n_blocks x dim x dim) from the summed moments. A singular T^j
     * is HP_ERR_NUMERIC naming the block, with the report filled before returning. */
    hp_status (*finish)(void *state, const double *m, double *Kt, hp_upscaling_report *report);
    /* dm (n_moments, OVERWRITTEN) = dL/dm given dKt = dL/dK̃, at moments m. */
    hp_status (*finish_backward)(void *state, const double *m, const double *dKt, double *dm);
    /* Given dm = dL/dm, ACCUMULATE dL/dgrad into dgrad (n_directions x n_points x
     * dim) and, for strategies using values, dL/dv into dv (n_directions x
     * n_points; may be NULL otherwise), for the points of `in`. */
    hp_status (*moments_backward)(void *state, const hp_upscaling_input *in, const double *dm, double *dv,
                                  double *dgrad);
    /* Optional. Nonzero when moments use the values v and q (energy form). */
    int (*needs_values)(const void *state);
    /* Optional. The linearization of `moments` at `in` along (d_v, d_grad) (shapes
     * of v and grad; d_v may be NULL without values): ACCUMULATE dm. Matrix-free
     * Gauss–Newton needs it for Jacobian-vector products through K̃. */
    hp_status (*moments_tangent)(void *state, const hp_upscaling_input *in, const double *d_v, const double *d_grad,
                                 double *dm);
} hp_upscaling_ops;

HP_END_API

#endif
