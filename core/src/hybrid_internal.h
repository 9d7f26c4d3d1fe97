/* hybrid_internal.h (private to the hybrid's files) — the state of the hybrid
 * objective, shared by hybrid.c (Algorithm 1), hybrid_gauss_newton.c (its
 * residuals and Jacobian), outputs.c (fields at θ) and init_from.c (the networks,
 * for a warm start's check). Everything is allocated at
 * creation: an evaluation allocates nothing. */
#ifndef HPINN_HYBRID_INTERNAL_H
#define HPINN_HYBRID_INTERNAL_H

#include "coupling.h"
#include "fileio.h"
#include "hpinn/coarse.h"
#include "hpinn/upscaling.h"
#include "hybrid.h"
#include "network_runner.h"
#include "problem.h"
#include "residual_average.h"

/* The validation grid goes through the network in pieces of this many points, so
 * a fine 2-D grid never needs an output buffer for all of its points at once. */
#define HP__VALIDATION_CHUNK 4096

struct hp__hybrid {
    hp__problem *problem;
    int dim, n_dir, C; /* C: jet components at order 2 */

    /* one network per direction, θ = [θ_1 | θ_2], each with a tape per point set */
    hp__net *net[2];
    size_t n_theta_dir;
    hp__tape *tape_colloc[2], *tape_nodes[2], *tape_boundary[2];

    const hp_plugin_descriptor *up_desc;
    const hp_upscaling_ops *up;
    hp_params *up_params;
    void *up_state;
    int needs_values;
    size_t n_moments;

    const hp_plugin_descriptor *co_desc;
    const hp_coarse_ops *co;
    hp_params *co_params;
    void *co_state;
    const hp_coarse_mesh *mesh;

    hp__coupling coupling;
    double tau1;
    /* the coarse-averaged residual (residual_average.h): on when the pipeline
     * gives any stage τ3 > 0, so its Gauss–Newton rows exist for the whole run */
    int avg_on;
    double tau3;
    hp__residual_average avg;
    double *avg_g;           /* n_dir x n_avg: the averages g_i */
    double *avg_rows;        /* n_avg x n_theta_dir (dense Jacobian only) */

    /* work buffers (sizes in comments) */
    double *col_jet[2];      /* lifted jets at the collocation points: C*M */
    double *col_cot;         /* cotangent jet at the collocation points: C*M */
    double *rho;             /* M residuals of the current direction */
    double *grad_u;          /* n_dir x M x d: ∇v_i for upscaling */
    double *val_u;           /* n_dir x M: v_i (energy form) */
    double *d_grad_u;        /* n_dir x M x d */
    double *d_val_u;         /* n_dir x M */
    /* resampling (collocation.h): the new points and weights, and RAD's candidates */
    double *rad_new, *rad_w;  /* M x d, M */
    hp__point_set rad_set;    /* rad_candidates points with K, ∇K, q */
    double *rad_rho;          /* rad_candidates: |ρ| there */
    double *rad_tmp;          /* one chunk of candidates: ρ of one direction */
    size_t *rad_chosen;       /* M */
    double *moments, *d_moments; /* n_moments */
    double *ktilde, *d_ktilde;   /* n_blocks x d x d */
    unsigned char *spd;      /* n_blocks */
    double *cond;            /* n_blocks */
    double *node_v[2], *node_z[2], *node_y[2], *node_yc[2]; /* n_nodes each */
    const double *node_yhat[2]; /* ŷ_i: node_y or node_yc */
    double *node_cot, *node_rhs, *node_p, *node_work; /* n_nodes */
    double *bnd_val;         /* n_boundary */
    double *val_jet;         /* C * min(n_validation, HP__VALIDATION_CHUNK) */

    /* Gauss–Newton, allocated on first use (hybrid_gauss_newton.c) */
    size_t n_residuals;      /* m = n_dir (M + n_boundary + n_nodes + n_avg), n_avg = 0 when avg is off */
    double *jac_rows;        /* max(M, n_boundary, n_nodes) x n_theta_dir */
    double *jac_nodes;       /* n_nodes x n_theta_dir: ∂v_nodes/∂θ_i */
    double *jac_dy;          /* n_dir x n_nodes x n_entries: ∂y_i/∂K̃ */
    double *jac_dk;          /* n_entries x n: ∂K̃/∂θ (dense Jacobian only) */
    double *jac_fm;          /* n_entries x n_moments: ∂K̃/∂m (matrix-free only) */
    double *jac_unit;        /* n_entries */
    double *jac_tmp;         /* n_nodes */
    /* matrix-free products */
    double *mf_jet;          /* C*M: a tangent or cotangent jet */
    double *mf_nodes;        /* n_nodes */
    double *mf_dm;           /* n_moments */
    double *mf_dk;           /* n_entries */
    int linearized;          /* jvp/vjp act at the θ of the last linearize (cleared by any evaluation) */
    double *mf_theta;        /* n: that θ, for the check */

    hp__hybrid_terms terms;
    hp__hybrid_timing timing;
};

/* Run a coarse-solver call and add its time to the coarse share. */
#define HP__COARSE_TIMED(h, st, call)                                \
    do {                                                             \
        double hp__t0 = hp__now_seconds();                           \
        (st) = (call);                                               \
        (h)->timing.coarse_seconds += hp__now_seconds() - hp__t0;    \
    } while (0)

/* The terms and state of Ĵ at θ (no gradient when grad is NULL): y, z, K̃ and the
 * tapes are left as at θ. (hybrid.c) */
hp_status hp__hybrid_evaluate(hp__hybrid *h, const double *theta, double *value, double *grad);

/* The lifted jet of direction i on a tape at θ into dst (forward on the tape). */
hp_status hp__hybrid_network_jet(hp__hybrid *h, int i, hp__tape *tape, const double *theta, double *dst);
/* The lifted jet of direction i at any points (no tape) into dst. */
hp_status hp__hybrid_network_eval(hp__hybrid *h, int i, const double *theta, const double *x, size_t n, int order,
                                  double *dst);
/* Cotangent on the lifted jet at a tape → network backward (cot is overwritten). */
hp_status hp__hybrid_network_backward(hp__hybrid *h, int i, hp__tape *tape, const double *theta, double *cot,
                                      double *grad);

/* The upscaling input at the collocation points (∇v_i, v_i of the last evaluation). */
void hp__hybrid_upscaling_input(const hp__hybrid *h, hp_upscaling_input *in);

/* Gauss–Newton callbacks of the objective (hybrid_gauss_newton.c). */
hp_status hp__hybrid_residuals_and_jacobian(void *ctx, const double *theta, double *r, double *J);
hp_status hp__hybrid_linearize(void *ctx, const double *theta, double *r);
hp_status hp__hybrid_jvp(void *ctx, const double *theta, const double *v, double *Jv);
hp_status hp__hybrid_vjp(void *ctx, const double *theta, const double *u, double *JTu);
void hp__hybrid_gauss_newton_free(hp__hybrid *h);

#endif
