/* hybrid.h (private) — the hybrid objective of Algorithm 1:
 *
 *     Ĵ(θ) = J_pinn(θ) + τ1·boundary(θ) + τ2·R(θ, y(θ))
 *
 * built from a pipeline (problem, network, upscaling, coarse, coupling sections),
 * with its exact gradient (adjoint solve + one network backward per point set,
 * docs/math.md §5) and, for Gauss–Newton optimizers, residuals and their
 * Jacobian with Ĵ = ½‖r‖² (dense, or as products J v and Jᵀ u). The trainer,
 * `hpinn check --gradient` and the tests use it; optimizers only ever see the
 * hp_objective (hpinn/optimizer.h) it hands out.
 *
 * Files: hybrid.c (creation, Ĵ and its gradient: Algorithm 1), coupling.c (the
 * coupling term), pinn_residual.c (ρ), hybrid_gauss_newton.c (residuals and
 * Jacobian), outputs.c (fields and summaries). */
#ifndef HPINN_HYBRID_H
#define HPINN_HYBRID_H

#include <stddef.h>

#include "hpinn/config.h"
#include "hpinn/jets.h"
#include "hpinn/optimizer.h"
#include "hpinn/registry.h"
#include "hpinn/status.h"
#include "diagnostics.h"
#include "problem.h"

typedef struct hp__hybrid hp__hybrid;

/* The terms of the last evaluation (value_and_gradient or residuals). */
typedef struct hp__hybrid_terms {
    double j_pinn;      /* Σ_i (1/M) Σ_r ρ_i(x_r)² */
    double boundary;    /* soft mode: Σ_i mean over boundary points of v_i² (unweighted) */
    double coupling;    /* R (unweighted); 0 when skipped */
    double averaged;    /* A (unweighted), the coarse-averaged residual; 0 when off */
    double total;       /* Ĵ = j_pinn + τ1 boundary + τ2 R + τ3 A */
    int fallback;       /* 1: K̃ was not positive definite, the coupling term was skipped */
    int dim;
    size_t n_blocks;
    const double *ktilde; /* n_blocks x dim x dim of the last evaluation */
} hp__hybrid_terms;

/* Where the time of the optimizer's evaluations went (value_and_gradient and
 * residuals_and_jacobian and the Gauss–Newton products; the validation excluded, the
 * value-only evaluations behind history rows and checkpoints included). */
typedef struct hp__hybrid_timing {
    unsigned long long evaluations;
    double total_seconds;
    double coarse_seconds; /* assembly + factorization, state, adjoint, dK̃ */
} hp__hybrid_timing;

/* Validation against the reference on the validation grid. */
typedef struct hp__hybrid_validation {
    double rel_l2;        /* sqrt(Σ (v - u)²) / sqrt(Σ u²), all directions; NAN without reference */
    double fine_residual; /* mean ρ² on the validation grid's interior points (finer than collocation) */
    double zero_residual; /* the same for v = 0 (mean f²): the scale fine_residual is judged against */
    /* per direction with a reference (the aims are per direction: one direction's
     * error hides in the total when the other's solution is larger) */
    double rel_l2_direction[HP_JET_MAX_DIM];
    int n_directions; /* entries of rel_l2_direction: the directions with a reference */
} hp__hybrid_validation;

/* Build everything from the pipeline: problem point sets and coefficients,
 * networks (one per direction), upscaling, coarse solver, compression, reference.
 * Messages on progress (reference solve) go to `log` when not NULL; a fine FEM
 * reference is cached in cache_dir (the run directory) when not NULL. */
hp_status hp__hybrid_create(const hp_config *config, const hp_registry *registry, FILE *log,
                           const char *cache_dir, hp__hybrid **out);
void hp__hybrid_destroy(hp__hybrid *h);

size_t hp__hybrid_n_params(const hp__hybrid *h);
/* Glorot initialisation of every network from its seed. */
hp_status hp__hybrid_init_params(hp__hybrid *h, double *theta);

/* Stage overrides of the weights (the pipeline's coupling.tau1/tau2 at creation). */
void hp__hybrid_set_weights(hp__hybrid *h, double tau1, double tau2);
void hp__hybrid_get_weights(const hp__hybrid *h, double *tau1, double *tau2);
/* τ3, the weight of the coarse-averaged residual; > 0 only when the pipeline
 * turned it on (HP_ERR_CONFIG otherwise: its Gauss–Newton rows were not made). */
hp_status hp__hybrid_set_tau3(hp__hybrid *h, double tau3);
double hp__hybrid_tau3(const hp__hybrid *h);
/* 1: the run has the averaged residual (its rows, its history column A). */
int hp__hybrid_averaged_on(const hp__hybrid *h);

/* The structure of the Gauss–Newton Jacobian under coupling weight tau2 (the
 * hp_opt_shape an optimizer's cost hint is asked for): every row touches one
 * direction's network (blocks: the directions) except the coupling rows, which
 * reach every network through K̃ (shared_rows; 0 when tau2 = 0 or the coupling
 * is off). */
void hp__hybrid_row_structure(const hp__hybrid *h, double tau2, size_t *blocks, size_t *shared_rows);

/* The warnings the setup alone gives (diagnostics.h: network features the
 * collocation points alias), appended to w. */
void hp__hybrid_diagnose_setup(const hp__hybrid *h, hp__warnings *w);

/* The objective for optimizers (ctx = h): value and gradient; residuals with
 * their dense Jacobian; and, when the network plugin has a tangent pass, the
 * matrix-free products J v and Jᵀ u. */
hp_objective hp__hybrid_objective(hp__hybrid *h);

const hp__hybrid_terms *hp__hybrid_last_terms(const hp__hybrid *h);
const hp__hybrid_timing *hp__hybrid_get_timing(const hp__hybrid *h);

/* Dimension and K̃ layout (for history columns). */
int hp__hybrid_dim(const hp__hybrid *h);
size_t hp__hybrid_n_blocks(const hp__hybrid *h);
int hp__hybrid_n_directions(const hp__hybrid *h);

/* The global flux-form K̃ of the reference solution (dim x dim; isotropic
 * problems: K̃11 only), when the reference provides one: returns the number of
 * entries written to out (0: none) and the label of the reference. */
int hp__hybrid_reference_ktilde(const hp__hybrid *h, double out[4], const char **label);

/* The collocation points change (collocation.h): a new set for round r of the
 * plan at θ (RAD evaluates the residual at θ); or a given set (a resumed run's). */
hp_status hp__hybrid_resample(hp__hybrid *h, const double *theta, uint64_t round);
hp_status hp__hybrid_set_collocation(hp__hybrid *h, const double *x, const double *weights);
/* The current set (M points of dim coordinates, M upscaling weights). */
void hp__hybrid_collocation(const hp__hybrid *h, const double **x, const double **weights, size_t *n);
const struct hp__collocation *hp__hybrid_collocation_plan(const hp__hybrid *h);

/* The fine-scale problem the hybrid was built from. */
const hp__problem *hp__hybrid_problem(const hp__hybrid *h);
hp_status hp__hybrid_validate(hp__hybrid *h, const double *theta, hp__hybrid_validation *out);


/* Fourth-order central differences of Ĵ (relative step `step`) on `count` parameters drawn with `seed` (all
 * when count >= n): worst relative error |g - g_fd| / max(|g|, |g_fd|, floor).
 * Returns the worst value and its index. */
hp_status hp__hybrid_check_gradient(hp__hybrid *h, const double *theta, size_t count, unsigned long long seed,
                                   double step, double *worst_rel, size_t *worst_index, FILE *report);

#endif
