/* objective.c — the hybrid objective Ĵ = J_pinn + τ1·boundary + τ2·R and its
 * exact gradient (MATH.md §1–§5, Algorithm 1 of the paper).
 *
 * Forward, per direction i (one network per direction, θ = [θ_1 | θ_2]):
 *   collocation jets v_i = l·N_i (or N_i, soft) → residual ρ_i, J_pinn
 *   ∇v_i at the collocation points → upscaling → K̃ (per block); not SPD → fallback
 *   K̃ → coarse assemble + factorize → y_i
 *   v_i at the coarse nodes → z_i = Q̄ v_i → R = Σ_k w_k (z_ik − ŷ_ik)², ŷ = y or Q̄y
 * Reverse:
 *   ∂Ĵ/∂y_i → adjoint p_i → ∂Ĵ/∂K̃ = −Σ_i p_iᵀ ∂(B y_i − F_i)/∂K̃ → upscaling backward
 *   → cotangents on ∇v_i at the collocation points, added to the residual's;
 *   ∂Ĵ/∂z_i → Q̄ᵀ → cotangents on v_i at the nodes; one network backward per set.
 *
 * Everything is allocated at creation: an evaluation allocates nothing. */
#include "objective.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compression.h"
#include "fileio.h"
#include "hpinn/coarse.h"
#include "hpinn/jets.h"
#include "hpinn/network.h"
#include "hpinn/upscaling.h"
#include "pipeline.h"
#include "problem.h"

enum { SLOT_COLLOCATION = 0, SLOT_BOUNDARY = 1, SLOT_NODES = 2, SLOT_VALIDATION = 3 };
enum { COUPLING_FULL = 0, COUPLING_COMPRESSED = 1, COUPLING_NONE = 2 };

/* The validation grid goes through the network in pieces of this many points, so
 * a fine 2-D grid never needs a network workspace for all of its points at once. */
#define VALIDATION_CHUNK 4096

struct hp_hybrid {
    hp_problem *problem;
    int dim, n_dir, C; /* C: jet components at order 2 */

    const hp_plugin_descriptor *net_desc;
    const hp_network_ops *net;
    hp_params *net_params;
    void *net_state[2];
    size_t n_theta_dir; /* parameters of one direction's network */

    const hp_plugin_descriptor *up_desc;
    const hp_upscaling_ops *up;
    hp_params *up_params;
    void *up_state;
    int needs_values;

    const hp_plugin_descriptor *co_desc;
    const hp_coarse_ops *co;
    hp_params *co_params;
    void *co_state;
    const hp_coarse_mesh *mesh;

    int coupling_form;
    double tau1, tau2;
    hp_compression *Q;

    /* work buffers (sizes in comments) */
    double *col_jet[2];      /* lifted jets at the collocation points: C*M */
    double *col_cot;         /* cotangent jet at the collocation points: C*M */
    double *rho;             /* M residuals of the current direction */
    double *grad_u;          /* n_dir x M x d: ∇v_i for upscaling */
    double *val_u;           /* n_dir x M: v_i (energy form) */
    double *d_grad_u;        /* n_dir x M x d */
    double *d_val_u;         /* n_dir x M */
    double *colloc_weights;  /* M: 1/M */
    double *ktilde, *d_ktilde; /* n_blocks x d x d */
    unsigned char *spd;      /* n_blocks */
    double *cond;            /* n_blocks */
    double *node_v[2], *node_z[2], *node_y[2], *node_yc[2]; /* n_nodes each */
    double *node_cot, *node_rhs, *node_p; /* n_nodes */
    double *bnd_cot;         /* n_boundary */
    double *val_jet;         /* C * min(n_validation, VALIDATION_CHUNK) */

    /* Gauss–Newton: allocated on the first residuals_and_jacobian call */
    size_t n_residuals;      /* m = n_dir (M + n_boundary + n_nodes) */
    double *jac_rows;        /* max(M, n_boundary, n_nodes) x n_theta_dir */
    double *jac_nodes;       /* n_nodes x n_theta_dir: ∂v_nodes/∂θ_i */
    double *jac_dy;          /* n_nodes x n_entries: ∂ŷ_i/∂K̃ */
    double *jac_dk;          /* n_entries x n: ∂K̃/∂θ */
    double *jac_unit;        /* n_entries: unit cotangent on K̃ */
    double *jac_tmp;         /* n_nodes */

    hp_hybrid_terms terms;
    hp_hybrid_timing timing;
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Run a coarse-solver call and add its time to the coarse share. */
#define COARSE_TIMED(h, st, call)                                   \
    do {                                                            \
        double hp__t0 = now_seconds();                              \
        (st) = (call);                                              \
        (h)->timing.coarse_seconds += now_seconds() - hp__t0;       \
    } while (0)

/* ---- creation ---------------------------------------------------------------- */

void hp_hybrid_destroy(hp_hybrid *h) {
    if (!h) return;
    for (int i = 0; i < 2; i++) {
        if (h->net_state[i]) h->net->destroy(h->net_state[i]);
        free(h->col_jet[i]);
        free(h->node_v[i]);
        free(h->node_z[i]);
        free(h->node_y[i]);
        free(h->node_yc[i]);
    }
    if (h->up_state) h->up->destroy(h->up_state);
    if (h->co_state) h->co->destroy(h->co_state);
    hp_params_destroy(h->net_params);
    hp_params_destroy(h->up_params);
    hp_params_destroy(h->co_params);
    hp_compression_destroy(h->Q);
    hp_problem_destroy(h->problem);
    free(h->col_cot);
    free(h->rho);
    free(h->grad_u);
    free(h->val_u);
    free(h->d_grad_u);
    free(h->d_val_u);
    free(h->colloc_weights);
    free(h->ktilde);
    free(h->d_ktilde);
    free(h->spd);
    free(h->cond);
    free(h->node_cot);
    free(h->node_rhs);
    free(h->node_p);
    free(h->bnd_cot);
    free(h->val_jet);
    free(h->jac_rows);
    free(h->jac_nodes);
    free(h->jac_dy);
    free(h->jac_dk);
    free(h->jac_unit);
    free(h->jac_tmp);
    free(h);
}

hp_status hp_hybrid_create(const hp_config *c, const hp_registry *r, FILE *log, const char *cache_dir,
                           hp_hybrid **out) {
    *out = NULL;
    hp_hybrid *h = calloc(1, sizeof *h);
    if (!h) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    hp_status st = HP_OK;
    hp_params *coupling = NULL;
    HP_CALL_GOTO(st, hp_problem_create(c, &h->problem), fail);
    hp_problem *p = h->problem;
    int d = h->dim = p->dim;
    h->C = hp_jet_components(2, d);

    /* plugins */
    if (!hp_config_has(c, "network"))
        HP_CALL_GOTO(st, HP_ERROR_SET(HP_ERR_CONFIG, "%s: network: missing section; expected network: {plugin: msff, ...}",
                                      hp_config_file(c)), fail);
    HP_CALL_GOTO(st, hp_config_plugin_section(c, "network", HP_PLUGIN_NETWORK, NULL, r, &h->net_desc, &h->net_params), fail);
    h->net = h->net_desc->ops;
    HP_CALL_GOTO(st, hp_config_plugin_section(c, "upscaling", HP_PLUGIN_UPSCALING, "global", r, &h->up_desc, &h->up_params),
                 fail);
    h->up = h->up_desc->ops;
    HP_CALL_GOTO(st, h->up->create(h->up_params, d, &h->up_state), fail);
    h->n_dir = h->up->n_directions(h->up_state);
    h->needs_values = h->up->needs_values ? h->up->needs_values(h->up_state) : 0;
    if (h->n_dir < 1 || h->n_dir > d)
        HP_CALL_GOTO(st, HP_ERROR_SET(HP_ERR_INTERNAL, "upscaling plugin '%s' asks for %d directions in %d-D",
                                      h->up_desc->name, h->n_dir, d), fail);
    HP_CALL_GOTO(st, hp_config_plugin_section(c, "coarse", HP_PLUGIN_COARSE, d == 1 ? "p1_1d" : "p1_2d", r, &h->co_desc,
                                              &h->co_params), fail);
    h->co = h->co_desc->ops;
    HP_CALL_GOTO(st, h->co->create(h->co_params, d, h->up->blocks_per_dim(h->up_state), &h->co_state), fail);
    h->mesh = h->co->mesh(h->co_state);
    HP_CALL_GOTO(st, h->co->set_source(h->co_state, hp_expr_field, p->q), fail);
    for (int i = 0; i < h->n_dir; i++)
        HP_CALL_GOTO(st, h->net->create(h->net_params, d, 1, &h->net_state[i]), fail);
    h->n_theta_dir = h->net->n_params(h->net_state[0]);

    /* coupling */
    HP_CALL_GOTO(st, hp_config_section(c, "coupling", hp__coupling_params, &coupling), fail);
    h->coupling_form = hp_params_enum_index(coupling, "form");
    h->tau1 = hp_params_real(coupling, "tau1");
    h->tau2 = hp_params_real(coupling, "tau2");
    HP_CALL_GOTO(st, hp_compression_create(h->mesh, (int)hp_params_int(coupling, "window"),
                                           hp_params_enum_index(coupling, "window_shape") == 1 ? HP_WINDOW_DISK
                                                                                              : HP_WINDOW_SQUARE,
                                           hp_params_real(coupling, "delta"), &h->Q), fail);

    /* buffers */
    size_t M = p->collocation.n, C = (size_t)h->C, nn = h->mesh->n_nodes, nb = h->mesh->n_blocks;
    size_t nd = (size_t)h->n_dir, dd = (size_t)d;
    for (int i = 0; i < 2; i++) {
        HP_CALL_GOTO(st, hp_calloc(C * M, sizeof(double), &h->col_jet[i]), fail);
        HP_CALL_GOTO(st, hp_calloc(nn, sizeof(double), &h->node_v[i]), fail);
        HP_CALL_GOTO(st, hp_calloc(nn, sizeof(double), &h->node_z[i]), fail);
        HP_CALL_GOTO(st, hp_calloc(nn, sizeof(double), &h->node_y[i]), fail);
        HP_CALL_GOTO(st, hp_calloc(nn, sizeof(double), &h->node_yc[i]), fail);
    }
    HP_CALL_GOTO(st, hp_calloc(C * M, sizeof(double), &h->col_cot), fail);
    HP_CALL_GOTO(st, hp_calloc(M, sizeof(double), &h->rho), fail);
    HP_CALL_GOTO(st, hp_calloc(nd * M * dd, sizeof(double), &h->grad_u), fail);
    HP_CALL_GOTO(st, hp_calloc(nd * M, sizeof(double), &h->val_u), fail);
    HP_CALL_GOTO(st, hp_calloc(nd * M * dd, sizeof(double), &h->d_grad_u), fail);
    HP_CALL_GOTO(st, hp_calloc(nd * M, sizeof(double), &h->d_val_u), fail);
    HP_CALL_GOTO(st, hp_calloc(M, sizeof(double), &h->colloc_weights), fail);
    for (size_t k = 0; k < M; k++) h->colloc_weights[k] = 1.0 / (double)M;
    HP_CALL_GOTO(st, hp_calloc(nb * dd * dd, sizeof(double), &h->ktilde), fail);
    HP_CALL_GOTO(st, hp_calloc(nb * dd * dd, sizeof(double), &h->d_ktilde), fail);
    HP_CALL_GOTO(st, hp_calloc(nb, 1, &h->spd), fail);
    HP_CALL_GOTO(st, hp_calloc(nb, sizeof(double), &h->cond), fail);
    HP_CALL_GOTO(st, hp_calloc(nn, sizeof(double), &h->node_cot), fail);
    HP_CALL_GOTO(st, hp_calloc(nn, sizeof(double), &h->node_rhs), fail);
    HP_CALL_GOTO(st, hp_calloc(nn, sizeof(double), &h->node_p), fail);
    HP_CALL_GOTO(st, hp_calloc(p->boundary.n ? p->boundary.n : 1, sizeof(double), &h->bnd_cot), fail);
    HP_CALL_GOTO(st, hp_calloc(C * (p->validation.n < VALIDATION_CHUNK ? p->validation.n : VALIDATION_CHUNK),
                               sizeof(double), &h->val_jet), fail);
    h->n_residuals = nd * (M + p->boundary.n + nn);
    h->terms.dim = d;
    h->terms.n_blocks = nb;
    h->terms.ktilde = h->ktilde;

    HP_CALL_GOTO(st, hp_problem_compute_reference(p, h->n_dir, h->co_desc, log, cache_dir), fail);
    hp_params_destroy(coupling);
    *out = h;
    return HP_OK;
fail:
    hp_params_destroy(coupling);
    hp_hybrid_destroy(h);
    return st;
}

size_t hp_hybrid_n_params(const hp_hybrid *h) { return h->n_theta_dir * (size_t)h->n_dir; }
int hp_hybrid_dim(const hp_hybrid *h) { return h->dim; }
size_t hp_hybrid_n_blocks(const hp_hybrid *h) { return h->mesh->n_blocks; }
int hp_hybrid_n_directions(const hp_hybrid *h) { return h->n_dir; }
const hp_hybrid_terms *hp_hybrid_last_terms(const hp_hybrid *h) { return &h->terms; }

hp_status hp_hybrid_init_params(hp_hybrid *h, double *theta) {
    for (int i = 0; i < h->n_dir; i++) HP_CALL(h->net->init(h->net_state[i], theta + (size_t)i * h->n_theta_dir));
    return HP_OK;
}

void hp_hybrid_set_weights(hp_hybrid *h, double tau1, double tau2) {
    h->tau1 = tau1;
    h->tau2 = tau2;
}

void hp_hybrid_get_weights(const hp_hybrid *h, double *tau1, double *tau2) {
    *tau1 = h->tau1;
    *tau2 = h->tau2;
}

/* ---- pieces of one evaluation ----------------------------------------------- */

/* Network jet of direction i at a point set, lifted in hard mode, into dst. */
static hp_status network_jet(hp_hybrid *h, int i, int slot, const double *theta, const double *x, size_t n, int order,
                             double *dst) {
    const double *out;
    HP_CALL(h->net->forward(h->net_state[i], slot, theta + (size_t)i * h->n_theta_dir, x, n, order, &out));
    size_t len = (size_t)hp_jet_components(order, h->dim) * n;
    if (h->problem->hard_bc)
        hp_jet_lift_forward(dst, out, x, 1, n, order, h->dim);
    else
        memcpy(dst, out, len * sizeof *dst);
    return HP_OK;
}

/* Cotangent on the lifted jet → network backward (accumulates into grad). */
static hp_status network_backward(hp_hybrid *h, int i, int slot, const double *theta, const double *x, size_t n,
                                  int order, double *cot, double *grad) {
    if (h->problem->hard_bc) hp_jet_lift_backward(cot, cot, x, 1, n, order, h->dim);
    HP_CALL(h->net->backward(h->net_state[i], slot, theta + (size_t)i * h->n_theta_dir, cot,
                             grad + (size_t)i * h->n_theta_dir));
    return HP_OK;
}

/* ρ = −K Δv − ∇K·∇v − f_i at the points of `s` from the lifted jet. */
static double residuals(const hp_hybrid *h, const hp_point_set *s, const double *jet, int direction, double *rho,
                        const unsigned char *mask) {
    size_t n = s->n, d = (size_t)h->dim;
    double sum = 0.0;
    for (size_t r = 0; r < n; r++) {
        double lap = jet[(d + 1) * n + r], adv = 0.0;
        for (size_t a = 0; a < d; a++) adv += s->gradK[r * d + a] * jet[(1 + a) * n + r];
        double v = -s->K[r] * lap - adv - hp_problem_f(s, h->dim, r, direction);
        if (rho) rho[r] = v;
        if (!mask || mask[r]) sum += v * v;
    }
    return sum;
}

static void upscaling_input(const hp_hybrid *h, hp_upscaling_input *in) {
    const hp_point_set *s = &h->problem->collocation;
    in->dim = h->dim;
    in->n_directions = h->n_dir;
    in->n_points = s->n;
    in->x = s->x;
    in->weights = h->colloc_weights;
    in->K = s->K;
    in->q = s->q;
    in->v = h->val_u;
    in->grad = h->grad_u;
}

/* Coupling: R and, when grad, ∂Ĵ/∂(v at nodes) into node cotangents (per
 * direction, via node_cot reused) and ∂Ĵ/∂y into node_rhs. Called per direction. */
static double coupling_term(hp_hybrid *h, int i) {
    size_t n = h->mesh->n_nodes;
    const double *w = h->mesh->weights;
    hp_compression_apply(h->Q, h->node_v[i], h->node_z[i]);
    const double *yhat = h->node_y[i];
    if (h->coupling_form == COUPLING_COMPRESSED) {
        hp_compression_apply(h->Q, h->node_y[i], h->node_yc[i]);
        yhat = h->node_yc[i];
    }
    double R = 0.0;
    for (size_t k = 0; k < n; k++) {
        double e = h->node_z[i][k] - yhat[k];
        R += w[k] * e * e;
    }
    return R;
}

/* ---- value and gradient ------------------------------------------------------ */

static hp_status evaluate(hp_hybrid *h, const double *theta, double *value, double *grad) {
    hp_problem *p = h->problem;
    const hp_point_set *col = &p->collocation;
    size_t M = col->n, d = (size_t)h->dim, n_nodes = h->mesh->n_nodes;
    size_t nb = h->mesh->n_blocks;
    hp_hybrid_terms *t = &h->terms;
    t->j_pinn = t->boundary = t->coupling = 0.0;
    t->fallback = 0;
    if (grad) memset(grad, 0, hp_hybrid_n_params(h) * sizeof *grad);

    /* collocation jets, PINN residual; ∇v and v for upscaling */
    for (int i = 0; i < h->n_dir; i++) {
        HP_CALL(network_jet(h, i, SLOT_COLLOCATION, theta, col->x, M, 2, h->col_jet[i]));
        t->j_pinn += residuals(h, col, h->col_jet[i], i, NULL, NULL) / (double)M;
        for (size_t r = 0; r < M; r++) {
            h->val_u[(size_t)i * M + r] = h->col_jet[i][r];
            for (size_t a = 0; a < d; a++) h->grad_u[((size_t)i * M + r) * d + a] = h->col_jet[i][(1 + a) * M + r];
        }
    }
    /* soft boundary penalty */
    if (!p->hard_bc) {
        for (int i = 0; i < h->n_dir; i++) {
            HP_CALL(network_jet(h, i, SLOT_BOUNDARY, theta, p->boundary.x, p->boundary.n, 0, h->bnd_cot));
            double s = 0.0;
            for (size_t r = 0; r < p->boundary.n; r++) s += h->bnd_cot[r] * h->bnd_cot[r];
            t->boundary += s / (double)p->boundary.n;
            if (grad) {
                for (size_t r = 0; r < p->boundary.n; r++) h->bnd_cot[r] *= 2.0 * h->tau1 / (double)p->boundary.n;
                HP_CALL(h->net->backward(h->net_state[i], SLOT_BOUNDARY, theta + (size_t)i * h->n_theta_dir, h->bnd_cot,
                                         grad + (size_t)i * h->n_theta_dir));
            }
        }
    }

    /* upscaling → coarse problem → coupling (skipped when τ2 = 0 or form none) */
    int coupled = h->coupling_form != COUPLING_NONE && h->tau2 > 0.0;
    hp_upscaling_input in;
    upscaling_input(h, &in);
    hp_upscaling_report rep = {h->spd, h->cond, 0, 0};
    hp_status ust = h->up->forward(h->up_state, &in, h->ktilde, &rep);
    if (ust == HP_ERR_NUMERIC || rep.n_not_positive_definite > 0 || rep.n_singular > 0) {
        /* K̃ is still reported; only a coupled step falls back (MATH.md §2) */
        t->fallback = coupled;
        hp_error_clear();
    } else if (ust != HP_OK) {
        hp_error_push_frame(__FILE__, __LINE__, __func__);
        return ust;
    }
    if (coupled && !t->fallback) {
        hp_status cst;
        COARSE_TIMED(h, cst, h->co->set_coefficient_blocks(h->co_state, h->ktilde));
        if (cst == HP_ERR_NUMERIC) {
            t->fallback = 1;
            hp_error_clear();
        } else if (cst != HP_OK) {
            hp_error_push_frame(__FILE__, __LINE__, __func__);
            return cst;
        }
    }
    if (coupled && !t->fallback) {
        if (grad) memset(h->d_ktilde, 0, nb * d * d * sizeof *h->d_ktilde);
        for (int i = 0; i < h->n_dir; i++) {
            hp_status cst;
            COARSE_TIMED(h, cst, h->co->solve_state(h->co_state, i, h->node_y[i]));
            HP_CALL(cst);
            HP_CALL(network_jet(h, i, SLOT_NODES, theta, h->mesh->coords, n_nodes, 0, h->node_v[i]));
            t->coupling += coupling_term(h, i);
            if (!grad) continue;
            /* ∂Ĵ/∂z = 2 τ2 w (z − ŷ); ∂Ĵ/∂v_nodes = Q̄ᵀ that; ∂Ĵ/∂y per form */
            const double *yhat = h->coupling_form == COUPLING_COMPRESSED ? h->node_yc[i] : h->node_y[i];
            for (size_t k = 0; k < n_nodes; k++)
                h->node_rhs[k] = 2.0 * h->tau2 * h->mesh->weights[k] * (h->node_z[i][k] - yhat[k]);
            memset(h->node_cot, 0, n_nodes * sizeof *h->node_cot);
            hp_compression_apply_transpose(h->Q, h->node_rhs, h->node_cot);
            if (h->coupling_form == COUPLING_COMPRESSED) {
                /* ∂/∂y of Σ w (z − Q̄y)² = −Q̄ᵀ(2w(z − Q̄y)) = −node_cot */
                for (size_t k = 0; k < n_nodes; k++) h->node_rhs[k] = -h->node_cot[k];
            } else {
                for (size_t k = 0; k < n_nodes; k++) h->node_rhs[k] = -h->node_rhs[k];
            }
            HP_CALL(network_backward(h, i, SLOT_NODES, theta, h->mesh->coords, n_nodes, 0, h->node_cot, grad));
            COARSE_TIMED(h, cst, h->co->solve_adjoint(h->co_state, h->node_rhs, h->node_p));
            HP_CALL(cst);
            COARSE_TIMED(h, cst, h->co->coefficient_gradient(h->co_state, i, h->node_y[i], h->node_p, h->d_ktilde));
            HP_CALL(cst);
        }
        if (grad) {
            for (size_t e = 0; e < nb * d * d; e++) h->d_ktilde[e] = -h->d_ktilde[e];
            memset(h->d_grad_u, 0, (size_t)h->n_dir * M * d * sizeof *h->d_grad_u);
            memset(h->d_val_u, 0, (size_t)h->n_dir * M * sizeof *h->d_val_u);
            HP_CALL(h->up->backward(h->up_state, &in, h->d_ktilde, h->needs_values ? h->d_val_u : NULL, h->d_grad_u));
        }
    }
    t->total = t->j_pinn + h->tau1 * t->boundary + (coupled && !t->fallback ? h->tau2 * t->coupling : 0.0);
    if (!coupled || t->fallback) t->coupling = t->fallback ? NAN : 0.0;
    *value = t->total;
    if (!grad) return HP_OK;

    /* collocation cotangents: residual + upscaling, one backward per direction */
    int with_upscaling = coupled && !t->fallback;
    for (int i = 0; i < h->n_dir; i++) {
        double *cot = h->col_cot;
        (void)residuals(h, col, h->col_jet[i], i, h->rho, NULL);
        for (size_t r = 0; r < M; r++) {
            double g = 2.0 * h->rho[r] / (double)M;
            cot[r] = with_upscaling ? h->d_val_u[(size_t)i * M + r] : 0.0;
            for (size_t a = 0; a < d; a++)
                cot[(1 + a) * M + r] = -g * col->gradK[r * d + a] +
                                       (with_upscaling ? h->d_grad_u[((size_t)i * M + r) * d + a] : 0.0);
            cot[(d + 1) * M + r] = -g * col->K[r];
        }
        HP_CALL(network_backward(h, i, SLOT_COLLOCATION, theta, col->x, M, 2, cot, grad));
    }
    return HP_OK;
}

static hp_status objective_value_and_gradient(void *ctx, const double *theta, double *value, double *grad) {
    hp_hybrid *h = ctx;
    double t0 = now_seconds();
    HP_CALL(evaluate(h, theta, value, grad));
    h->timing.total_seconds += now_seconds() - t0;
    h->timing.evaluations++;
    return HP_OK;
}

const hp_hybrid_timing *hp_hybrid_get_timing(const hp_hybrid *h) { return &h->timing; }

/* ---- residuals and Jacobian (Gauss–Newton) --------------------------------------
 *
 * r = [ √(2/M) ρ_i(x_r) ;  √(2τ1/n_b) v_i(boundary) ;  √(2τ2 w_k) (z_ik − ŷ_ik) ]_i,
 * so ½‖r‖² = Ĵ. The coupling rows depend on θ through z = Q̄ v(nodes; θ_i) and
 * through ŷ(K̃(θ)): ∂ŷ_i/∂K̃ row by row from adjoint solves with unit right-hand
 * sides (p = B⁻ᵀ e_k, ∂y_k/∂K̃ = −pᵀ ∂(B y − F)/∂K̃), and ∂K̃/∂θ column by column
 * from one upscaling + network backward per K̃ entry. Coupling rows are zero when
 * the coupling is off or K̃ fell back. */

static hp_status jacobian_alloc(hp_hybrid *h) {
    if (h->jac_rows) return HP_OK;
    size_t M = h->problem->collocation.n, nb = h->problem->boundary.n, nn = h->mesh->n_nodes;
    size_t ne = h->mesh->n_blocks * (size_t)h->dim * (size_t)h->dim, n = hp_hybrid_n_params(h);
    size_t rows = M > nn ? M : nn;
    if (nb > rows) rows = nb;
    HP_CALL(hp_calloc(rows * h->n_theta_dir, sizeof(double), &h->jac_rows));
    HP_CALL(hp_calloc(nn * h->n_theta_dir, sizeof(double), &h->jac_nodes));
    HP_CALL(hp_calloc(nn * ne, sizeof(double), &h->jac_dy));
    HP_CALL(hp_calloc(ne * n, sizeof(double), &h->jac_dk));
    HP_CALL(hp_calloc(ne, sizeof(double), &h->jac_unit));
    HP_CALL(hp_calloc(nn, sizeof(double), &h->jac_tmp));
    return HP_OK;
}

/* Copy rows (count x n_theta_dir) scaled into J's block for direction i. */
static void place_rows(const hp_hybrid *h, double *J, size_t row0, int i, const double *rows, size_t count,
                       double scale) {
    size_t n = hp_hybrid_n_params(h), nt = h->n_theta_dir;
    for (size_t r = 0; r < count; r++) {
        double *dst = J + (row0 + r) * n;
        memset(dst, 0, n * sizeof *dst);
        for (size_t k = 0; k < nt; k++) dst[(size_t)i * nt + k] = scale * rows[r * nt + k];
    }
}

/* Per-point Jacobian rows of a functional of the lifted jet given by weights
 * (jet-shaped, overwritten by the lift's pullback). */
static hp_status lifted_jacobian(hp_hybrid *h, int i, int slot, const double *theta, const double *x, size_t n,
                                 int order, double *weights) {
    if (h->problem->hard_bc) hp_jet_lift_backward(weights, weights, x, 1, n, order, h->dim);
    HP_CALL(h->net->jacobian(h->net_state[i], slot, theta + (size_t)i * h->n_theta_dir, weights, h->jac_rows));
    return HP_OK;
}

static hp_status objective_residuals_and_jacobian(void *ctx, const double *theta, double *r, double *J) {
    hp_hybrid *h = ctx;
    hp_problem *p = h->problem;
    const hp_point_set *col = &p->collocation;
    size_t M = col->n, nb = p->boundary.n, nn = h->mesh->n_nodes, d = (size_t)h->dim;
    size_t n = hp_hybrid_n_params(h), ne = h->mesh->n_blocks * d * d, C = (size_t)h->C;
    double value, t_start = now_seconds();
    HP_CALL(evaluate(h, theta, &value, NULL)); /* forward caches of every slot, y, z, K̃ */
    if (J) HP_CALL(jacobian_alloc(h));
    int coupled = h->coupling_form != COUPLING_NONE && h->tau2 > 0.0 && !h->terms.fallback;

    /* ∂ŷ/∂K̃ (per direction, filled below) needs ∂K̃/∂θ once: all directions */
    if (J && coupled) {
        hp_upscaling_input in;
        upscaling_input(h, &in);
        memset(h->jac_dk, 0, ne * n * sizeof *h->jac_dk);
        for (size_t e = 0; e < ne; e++) {
            memset(h->jac_unit, 0, ne * sizeof *h->jac_unit);
            h->jac_unit[e] = 1.0;
            memset(h->d_grad_u, 0, (size_t)h->n_dir * M * d * sizeof *h->d_grad_u);
            memset(h->d_val_u, 0, (size_t)h->n_dir * M * sizeof *h->d_val_u);
            HP_CALL(h->up->backward(h->up_state, &in, h->jac_unit, h->needs_values ? h->d_val_u : NULL, h->d_grad_u));
            for (int i = 0; i < h->n_dir; i++) {
                double *cot = h->col_cot;
                memset(cot, 0, C * M * sizeof *cot);
                for (size_t q = 0; q < M; q++) {
                    cot[q] = h->d_val_u[(size_t)i * M + q];
                    for (size_t a = 0; a < d; a++) cot[(1 + a) * M + q] = h->d_grad_u[((size_t)i * M + q) * d + a];
                }
                HP_CALL(network_backward(h, i, SLOT_COLLOCATION, theta, col->x, M, 2, cot, h->jac_dk + e * n));
            }
        }
    }

    size_t row = 0;
    for (int i = 0; i < h->n_dir; i++) {
        /* PINN rows */
        double sp = sqrt(2.0 / (double)M);
        (void)residuals(h, col, h->col_jet[i], i, h->rho, NULL);
        for (size_t q = 0; q < M; q++) r[row + q] = sp * h->rho[q];
        if (J) {
            double *w = h->col_cot;
            memset(w, 0, C * M * sizeof *w);
            for (size_t q = 0; q < M; q++) {
                for (size_t a = 0; a < d; a++) w[(1 + a) * M + q] = -col->gradK[q * d + a];
                w[(d + 1) * M + q] = -col->K[q];
            }
            HP_CALL(lifted_jacobian(h, i, SLOT_COLLOCATION, theta, col->x, M, 2, w));
            place_rows(h, J, row, i, h->jac_rows, M, sp);
        }
        row += M;
        /* soft boundary rows */
        if (nb) {
            double sb = sqrt(2.0 * h->tau1 / (double)nb);
            const double *out;
            HP_CALL(h->net->forward(h->net_state[i], SLOT_BOUNDARY, theta + (size_t)i * h->n_theta_dir, p->boundary.x,
                                    nb, 0, &out));
            for (size_t q = 0; q < nb; q++) r[row + q] = sb * out[q];
            if (J) {
                for (size_t q = 0; q < nb; q++) h->bnd_cot[q] = 1.0;
                HP_CALL(h->net->jacobian(h->net_state[i], SLOT_BOUNDARY, theta + (size_t)i * h->n_theta_dir,
                                         h->bnd_cot, h->jac_rows));
                place_rows(h, J, row, i, h->jac_rows, nb, sb);
            }
            row += nb;
        }
        /* coupling rows */
        if (!coupled) {
            memset(r + row, 0, nn * sizeof *r);
            if (J) memset(J + row * n, 0, nn * n * sizeof *J);
            row += nn;
            continue;
        }
        const double *yhat = h->coupling_form == COUPLING_COMPRESSED ? h->node_yc[i] : h->node_y[i];
        for (size_t k = 0; k < nn; k++)
            r[row + k] = sqrt(2.0 * h->tau2 * h->mesh->weights[k]) * (h->node_z[i][k] - yhat[k]);
        if (J) {
            /* ∂v_nodes/∂θ_i, then Q̄ applied column-wise: rows of Q̄ J_v */
            for (size_t k = 0; k < nn; k++) h->jac_tmp[k] = 1.0;
            HP_CALL(lifted_jacobian(h, i, SLOT_NODES, theta, h->mesh->coords, nn, 0, h->jac_tmp));
            memcpy(h->jac_nodes, h->jac_rows, nn * h->n_theta_dir * sizeof *h->jac_nodes);
            for (size_t k = 0; k < nn; k++) {
                double *dst = J + (row + k) * n;
                memset(dst, 0, n * sizeof *dst);
                for (size_t t = h->Q->start[k]; t < h->Q->start[k + 1]; t++) {
                    const double *src = h->jac_nodes + h->Q->column[t] * h->n_theta_dir;
                    double w = h->Q->weight[t];
                    for (size_t c = 0; c < h->n_theta_dir; c++) dst[(size_t)i * h->n_theta_dir + c] += w * src[c];
                }
            }
            /* ∂y_k/∂K̃ by unit adjoints (boundary nodes: y = 0, row zero) */
            memset(h->jac_dy, 0, nn * ne * sizeof *h->jac_dy);
            for (size_t k = 0; k < nn; k++) {
                memset(h->jac_tmp, 0, nn * sizeof *h->jac_tmp);
                h->jac_tmp[k] = 1.0;
                hp_status cst;
                COARSE_TIMED(h, cst, h->co->solve_adjoint(h->co_state, h->jac_tmp, h->node_p));
                HP_CALL(cst);
                COARSE_TIMED(h, cst, h->co->coefficient_gradient(h->co_state, i, h->node_y[i], h->node_p,
                                                                 h->jac_dy + k * ne));
                HP_CALL(cst);
                for (size_t e = 0; e < ne; e++) h->jac_dy[k * ne + e] = -h->jac_dy[k * ne + e];
            }
            /* J_row -= (∂ŷ/∂K̃) (∂K̃/∂θ); compressed: ∂ŷ = Q̄ ∂y */
            for (size_t k = 0; k < nn; k++) {
                double *dst = J + (row + k) * n;
                for (size_t t = h->Q->start[k]; t < h->Q->start[k + 1]; t++) {
                    size_t src_row = h->coupling_form == COUPLING_COMPRESSED ? h->Q->column[t] : k;
                    double w = h->coupling_form == COUPLING_COMPRESSED ? h->Q->weight[t] : 1.0;
                    for (size_t e = 0; e < ne; e++) {
                        double g = w * h->jac_dy[src_row * ne + e];
                        if (g == 0.0) continue;
                        const double *dk = h->jac_dk + e * n;
                        for (size_t c = 0; c < n; c++) dst[c] -= g * dk[c];
                    }
                    if (h->coupling_form != COUPLING_COMPRESSED) break;
                }
                double s = sqrt(2.0 * h->tau2 * h->mesh->weights[k]);
                for (size_t c = 0; c < n; c++) dst[c] *= s;
            }
        }
        row += nn;
    }
    HP_ASSERT(row == h->n_residuals);
    h->timing.total_seconds += now_seconds() - t_start;
    h->timing.evaluations++;
    return HP_OK;
}

hp_objective hp_hybrid_objective(hp_hybrid *h) {
    hp_objective o = {hp_hybrid_n_params(h), 0, h, objective_value_and_gradient, NULL};
    if (h->net->jacobian) {
        o.m = h->n_residuals;
        o.residuals_and_jacobian = objective_residuals_and_jacobian;
    }
    return o;
}

/* ---- validation and fields ------------------------------------------------- */

int hp_hybrid_reference_ktilde(const hp_hybrid *h, double out[4], const char **label) {
    const hp_problem *p = h->problem;
    if (label) *label = p->reference_label;
    for (int k = 0; k < p->n_ktilde_reference; k++) out[k] = p->ktilde_reference[k];
    return p->n_ktilde_reference;
}

/* The validation points [offset, offset + count) as a point set of their own. */
static hp_point_set validation_part(const hp_problem *p, size_t offset, size_t count) {
    const hp_point_set *v = &p->validation;
    size_t d = (size_t)p->dim;
    hp_point_set part = {count, v->x + offset * d, v->K + offset, v->gradK + offset * d, v->q + offset};
    return part;
}

hp_status hp_hybrid_validate(hp_hybrid *h, const double *theta, hp_hybrid_validation *out) {
    hp_problem *p = h->problem;
    size_t n = p->validation.n;
    double err2 = 0.0, ref2 = 0.0, res = 0.0;
    size_t interior = 0;
    for (size_t r = 0; r < n; r++) interior += p->validation_interior[r];
    for (int i = 0; i < h->n_dir; i++) {
        for (size_t off = 0; off < n; off += VALIDATION_CHUNK) {
            size_t cnt = n - off < VALIDATION_CHUNK ? n - off : VALIDATION_CHUNK;
            hp_point_set part = validation_part(p, off, cnt);
            HP_CALL(network_jet(h, i, SLOT_VALIDATION, theta, part.x, cnt, 2, h->val_jet));
            res += residuals(h, &part, h->val_jet, i, NULL, p->validation_interior + off);
            if (i >= p->n_reference_directions) continue;
            const double *u = p->u_reference + (size_t)i * n + off;
            for (size_t r = 0; r < cnt; r++) {
                double e = h->val_jet[r] - u[r];
                err2 += e * e;
                ref2 += u[r] * u[r];
            }
        }
    }
    out->rel_l2 = p->n_reference_directions > 0 && ref2 > 0.0 ? sqrt(err2 / ref2) : NAN;
    out->fine_residual = interior ? res / (double)(interior * (size_t)h->n_dir) : NAN;
    return HP_OK;
}

hp_status hp_hybrid_write_fields(hp_hybrid *h, const double *theta, const char *dir) {
    hp_problem *p = h->problem;
    const hp_point_set *val = &p->validation;
    size_t n = val->n, d = (size_t)h->dim, nn = h->mesh->n_nodes;
    double value;
    HP_CALL(evaluate(h, theta, &value, NULL)); /* y, z, K̃ at θ */
    int coupled = h->coupling_form != COUPLING_NONE && h->tau2 > 0.0 && !h->terms.fallback;
    if (!coupled && !h->terms.fallback) { /* coupling off: still show the coarse state the network implies */
        hp_status st = h->co->set_coefficient_blocks(h->co_state, h->ktilde);
        if (st == HP_OK) {
            for (int i = 0; i < h->n_dir; i++) {
                HP_CALL(h->co->solve_state(h->co_state, i, h->node_y[i]));
                HP_CALL(network_jet(h, i, SLOT_NODES, theta, h->mesh->coords, nn, 0, h->node_v[i]));
                (void)coupling_term(h, i);
            }
            coupled = 1;
        } else {
            hp_error_clear();
        }
    }
    /* validation grid: network value (all directions) and reference */
    double *vals = NULL;
    HP_CALL(hp_calloc((size_t)h->n_dir * n, sizeof *vals, &vals));
    for (int i = 0; i < h->n_dir; i++) {
        for (size_t off = 0; off < n; off += VALIDATION_CHUNK) {
            size_t cnt = n - off < VALIDATION_CHUNK ? n - off : VALIDATION_CHUNK;
            hp_status st = network_jet(h, i, SLOT_VALIDATION, theta, val->x + off * d, cnt, 0, vals + (size_t)i * n + off);
            if (st != HP_OK) {
                free(vals);
                return st;
            }
        }
    }
    hp__out_file out;
    hp_status st = hp__out_open(&out, dir, "fields.csv");
    if (st != HP_OK) {
        free(vals);
        return st;
    }
    FILE *f = out.f;
    fprintf(f, d == 1 ? "x" : "x,y");
    for (int i = 0; i < h->n_dir; i++) fprintf(f, ",v%d", i + 1);
    for (int i = 0; i < p->n_reference_directions; i++) fprintf(f, ",u%d", i + 1);
    fprintf(f, ",K\n");
    for (size_t r = 0; r < n; r++) {
        for (size_t a = 0; a < d; a++) fprintf(f, "%s%.17g", a ? "," : "", val->x[r * d + a]);
        for (int i = 0; i < h->n_dir; i++) fprintf(f, ",%.17g", vals[(size_t)i * n + r]);
        for (int i = 0; i < p->n_reference_directions; i++) fprintf(f, ",%.17g", p->u_reference[(size_t)i * n + r]);
        fprintf(f, ",%.17g\n", val->K[r]);
    }
    st = hp__out_commit(&out, NULL);
    if (st == HP_OK && d == 2) {
        const char *names[5];
        const double *cols[5];
        char nm[5][16];
        int k = 0;
        for (int i = 0; i < h->n_dir; i++) {
            snprintf(nm[k], sizeof nm[k], "v%d", i + 1);
            names[k] = nm[k];
            cols[k++] = vals + (size_t)i * n;
        }
        for (int i = 0; i < p->n_reference_directions && k < 4; i++) {
            snprintf(nm[k], sizeof nm[k], "u%d", i + 1);
            names[k] = nm[k];
            cols[k++] = p->u_reference + (size_t)i * n;
        }
        names[k] = "K";
        cols[k++] = val->K;
        st = hp__write_vtk_grid(dir, "fields.vtk", p->validation_per_axis, names, cols, k);
    }
    free(vals);
    if (st != HP_OK) return st;

    /* coarse nodes: v, Q̄v, y */
    HP_CALL(hp__out_open(&out, dir, "nodes.csv"));
    f = out.f;
    fprintf(f, d == 1 ? "x" : "x,y");
    for (int i = 0; i < h->n_dir; i++) fprintf(f, ",v%d,Qv%d,y%d", i + 1, i + 1, i + 1);
    fprintf(f, "\n");
    for (size_t k = 0; k < nn; k++) {
        for (size_t a = 0; a < d; a++) fprintf(f, "%s%.17g", a ? "," : "", h->mesh->coords[k * d + a]);
        for (int i = 0; i < h->n_dir; i++) {
            if (coupled)
                fprintf(f, ",%.17g,%.17g,%.17g", h->node_v[i][k], h->node_z[i][k], h->node_y[i][k]);
            else
                fprintf(f, ",nan,nan,nan");
        }
        fprintf(f, "\n");
    }
    HP_CALL(hp__out_commit(&out, NULL));
    if (d == 2 && coupled) {
        const char *names[6];
        const double *cols[6];
        char nm[6][16];
        int k = 0;
        for (int i = 0; i < h->n_dir; i++) {
            snprintf(nm[k], sizeof nm[k], "Qv%d", i + 1);
            names[k] = nm[k];
            cols[k++] = h->node_z[i];
            snprintf(nm[k], sizeof nm[k], "y%d", i + 1);
            names[k] = nm[k];
            cols[k++] = h->node_y[i];
        }
        HP_CALL(hp__write_vtk_grid(dir, "nodes.vtk", h->mesh->elements_per_dim + 1, names, cols, k));
    }
    return HP_OK;
}

/* ---- gradient check --------------------------------------------------------- */

hp_status hp_hybrid_check_gradient(hp_hybrid *h, const double *theta, size_t count, unsigned long long seed,
                                   double step, double *worst_rel, size_t *worst_index, FILE *report) {
    size_t n = hp_hybrid_n_params(h);
    double *g = NULL, *th = NULL;
    hp_status st = HP_OK;
    HP_CALL_GOTO(st, hp_calloc(n, sizeof *g, &g), done);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof *th, &th), done);
    memcpy(th, theta, n * sizeof *th);
    double value;
    HP_CALL_GOTO(st, evaluate(h, th, &value, g), done);
    int fallback = h->terms.fallback;
    double gnorm = 0.0;
    for (size_t k = 0; k < n; k++) gnorm = fmax(gnorm, fabs(g[k]));
    /* a floor relative to the largest component keeps tiny entries from dominating */
    double floor = 1e-6 * gnorm + 1e-300;
    *worst_rel = 0.0;
    *worst_index = 0;
    hp_rng rng;
    hp_rng_seed(&rng, seed, 7);
    size_t m = count < n ? count : n;
    for (size_t c = 0; c < m; c++) {
        size_t k = count < n ? (size_t)(hp_rng_uniform(&rng) * (double)n) % n : c;
        double old = th[k], hk = step * fmax(1.0, fabs(old));
        /* fourth-order central differences: truncation O(h^4) lets a step large
         * enough to keep rounding noise far below the tolerance */
        double f[4];
        int fb_p = fallback, fb_m = fallback;
        static const double offsets[4] = {2.0, 1.0, -1.0, -2.0};
        for (int j = 0; j < 4; j++) {
            th[k] = old + offsets[j] * hk;
            HP_CALL_GOTO(st, evaluate(h, th, &f[j], NULL), done);
            if (h->terms.fallback != fallback) {
                if (j < 2)
                    fb_p = h->terms.fallback;
                else
                    fb_m = h->terms.fallback;
            }
        }
        th[k] = old;
        double fd = (-f[0] + 8.0 * f[1] - 8.0 * f[2] + f[3]) / (12.0 * hk);
        double rel = fabs(g[k] - fd) / fmax(fmax(fabs(g[k]), fabs(fd)), floor);
        if (fb_p != fallback || fb_m != fallback) rel = 0.0; /* the fallback switch is not differentiable */
        if (report)
            fprintf(report, "  theta[%6zu]  grad % .10e  fd % .10e  rel %.2e\n", k, g[k], fd, rel);
        if (rel > *worst_rel) {
            *worst_rel = rel;
            *worst_index = k;
        }
    }
done:
    free(g);
    free(th);
    return st;
}
