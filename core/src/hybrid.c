/* hybrid.c — the hybrid objective Ĵ = J_pinn + τ1·boundary + τ2·R (+ τ3·A) and its exact
 * gradient (docs/math.md §1–§5, Algorithm 1 of the paper): creation from a
 * pipeline, one evaluation that reads top to bottom as the algorithm does, the
 * validation against the reference, and the finite-difference check.
 *
 * Forward, per direction i (one network per direction, θ = [θ_1 | θ_2]):
 *   collocation jets v_i = l·N_i (or N_i, soft) → residual ρ_i, J_pinn
 *   ∇v_i at the collocation points → upscaling → K̃ (per block); not SPD → fallback
 *   K̃ → coarse assemble + factorize → y_i
 *   v_i at the coarse nodes → z_i = Q̄ v_i → R = Σ_k w_k (z_ik − ŷ_ik)² (coupling.c)
 * Reverse:
 *   ∂Ĵ/∂y_i → adjoint p_i → ∂Ĵ/∂K̃ = −Σ_i p_iᵀ ∂(B y_i − F_i)/∂K̃ → upscaling backward
 *   → cotangents on ∇v_i at the collocation points, added to the residual's;
 *   ∂Ĵ/∂z_i → Q̄ᵀ → cotangents on v_i at the nodes; one network backward per set. */
#include "hybrid_internal.h"

#include "comm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hpinn/rng.h"
#include "pinn_residual.h"
#include "pipeline.h"
#include "reference.h"

/* ---- creation -------------------------------------------------------------------- */

void hp__hybrid_destroy(hp__hybrid *h) {
    if (!h) return;
    for (int i = 0; i < 2; i++) {
        hp__tape_destroy(h->tape_colloc[i]);
        hp__tape_destroy(h->tape_nodes[i]);
        hp__tape_destroy(h->tape_boundary[i]);
        hp__net_destroy(h->net[i]);
        free(h->col_jet[i]);
        free(h->node_v[i]);
        free(h->node_z[i]);
        free(h->node_y[i]);
        free(h->node_yc[i]);
    }
    if (h->up_state) h->up->destroy(h->up_state);
    if (h->co_state) h->co->destroy(h->co_state);
    hp_params_destroy(h->up_params);
    hp_params_destroy(h->co_params);
    hp__coupling_destroy(&h->coupling);
    hp__problem_destroy(h->problem);
    hp__hybrid_gauss_newton_free(h);
    free(h->col_cot);
    free(h->rho);
    free(h->grad_u);
    free(h->val_u);
    free(h->d_grad_u);
    free(h->d_val_u);
    free(h->rad_rho);
    free(h->rad_tmp);
    free(h->rad_chosen);
    free(h->rad_w);
    free(h->rad_new);
    if (h->rad_set.x) { free(h->rad_set.x); free(h->rad_set.K); free(h->rad_set.gradK); free(h->rad_set.q); }
    free(h->moments);
    free(h->d_moments);
    free(h->ktilde);
    free(h->d_ktilde);
    free(h->spd);
    free(h->cond);
    free(h->node_cot);
    free(h->node_rhs);
    free(h->node_p);
    free(h->node_work);
    free(h->bnd_val);
    free(h->val_jet);
    hp__residual_average_destroy(&h->avg);
    free(h->avg_g);
    free(h->avg_rows);
    free(h);
}

/* The plugins of the pipeline: networks (one per direction the upscaling needs),
 * upscaling, coarse solver. */
static hp_status create_plugins(hp__hybrid *h, const hp_config *c, const hp_registry *r) {
    int d = h->dim;
    if (!hp_config_has(c, "network"))
        HP_ERROR(HP_ERR_CONFIG, "%s: network: missing section; expected network: {plugin: msff, ...}", hp_config_file(c));
    HP_CALL(hp_config_plugin_section(c, "upscaling", HP_PLUGIN_UPSCALING, hp__pipeline_default_plugin("upscaling", d), r,
                                     &h->up_desc, &h->up_params));
    h->up = h->up_desc->ops;
    HP_CALL(HP_USE_OP(h->up, create, h->up_params, d, &h->up_state));
    h->n_dir = h->up->n_directions(h->up_state);
    h->needs_values = HP_OP_PRESENT(h->up, needs_values) ? h->up->needs_values(h->up_state) : 0;
    h->n_moments = h->up->n_moments(h->up_state);
    if (h->n_dir < 1 || h->n_dir > d)
        HP_ERROR(HP_ERR_INTERNAL, "upscaling plugin '%s' asks for %d directions in %d-D", h->up_desc->name, h->n_dir, d);
    HP_CALL(hp_config_plugin_section(c, "coarse", HP_PLUGIN_COARSE, hp__pipeline_default_plugin("coarse", d), r,
                                     &h->co_desc, &h->co_params));
    h->co = h->co_desc->ops;
    HP_CALL(HP_USE_OP(h->co, create, h->co_params, d, h->up->blocks_per_dim(h->up_state), &h->co_state));
    h->mesh = h->co->mesh(h->co_state);
    HP_CALL(HP_USE_OP(h->co, set_source, h->co_state, hp_expr_field, h->problem->q));
    const hp_plugin_descriptor *net_desc = NULL;
    hp_params *net_params = NULL;
    HP_CALL(hp_config_plugin_section(c, "network", HP_PLUGIN_NETWORK, NULL, r, &net_desc, &net_params));
    hp_status st = HP_OK;
    for (int i = 0; i < h->n_dir && st == HP_OK; i++) st = hp__net_create(net_desc, net_params, d, 1, &h->net[i]);
    hp_params_destroy(net_params);
    HP_CALL(st);
    h->n_theta_dir = hp__net_n_params(h->net[0]);
    return HP_OK;
}

/* Tapes for the fixed point sets and the work buffers of one evaluation. */
static hp_status create_buffers(hp__hybrid *h) {
    hp__problem *p = h->problem;
    size_t M = p->collocation.n, C = (size_t)h->C, nn = h->mesh->n_nodes, nb = h->mesh->n_blocks;
    size_t nd = (size_t)h->n_dir, dd = (size_t)h->dim;
    for (int i = 0; i < h->n_dir; i++) {
        HP_CALL(hp__tape_create(h->net[i], p->collocation.x, M, 2, &h->tape_colloc[i]));
        HP_CALL(hp__tape_create(h->net[i], h->mesh->coords, nn, 0, &h->tape_nodes[i]));
        if (!p->hard_bc) HP_CALL(hp__tape_create(h->net[i], p->boundary.x, p->boundary.n, 0, &h->tape_boundary[i]));
    }
    for (int i = 0; i < 2; i++) {
        HP_CALL(hp_calloc(C * M, sizeof(double), &h->col_jet[i]));
        HP_CALL(hp_calloc(nn, sizeof(double), &h->node_v[i]));
        HP_CALL(hp_calloc(nn, sizeof(double), &h->node_z[i]));
        HP_CALL(hp_calloc(nn, sizeof(double), &h->node_y[i]));
        HP_CALL(hp_calloc(nn, sizeof(double), &h->node_yc[i]));
        h->node_yhat[i] = h->node_y[i];
    }
    HP_CALL(hp_calloc(C * M, sizeof(double), &h->col_cot));
    HP_CALL(hp_calloc(M, sizeof(double), &h->rho));
    HP_CALL(hp_calloc(nd * M * dd, sizeof(double), &h->grad_u));
    HP_CALL(hp_calloc(nd * M, sizeof(double), &h->val_u));
    HP_CALL(hp_calloc(nd * M * dd, sizeof(double), &h->d_grad_u));
    HP_CALL(hp_calloc(nd * M, sizeof(double), &h->d_val_u));
    if (p->plan.rad) { /* the candidates of every resample, allocated once */
        size_t S = p->plan.rad_candidates;
        HP_CALL(hp_calloc(S * dd, sizeof(double), &h->rad_set.x));
        HP_CALL(hp_calloc(S, sizeof(double), &h->rad_set.K));
        HP_CALL(hp_calloc(S * dd, sizeof(double), &h->rad_set.gradK));
        HP_CALL(hp_calloc(S, sizeof(double), &h->rad_set.q));
        h->rad_set.n = S;
        HP_CALL(hp_calloc(S, sizeof(double), &h->rad_rho));
        HP_CALL(hp_calloc(S < HP__VALIDATION_CHUNK ? S : HP__VALIDATION_CHUNK, sizeof(double), &h->rad_tmp));
        HP_CALL(hp_calloc(M, sizeof(size_t), &h->rad_chosen));
        HP_CALL(hp_calloc(M, sizeof(double), &h->rad_w));
        HP_CALL(hp_calloc(M * dd, sizeof(double), &h->rad_new));
    } else if (p->plan.resample_every > 0) {
        HP_CALL(hp_calloc(M * dd, sizeof(double), &h->rad_new));
        HP_CALL(hp_calloc(M, sizeof(double), &h->rad_w));
    }
    /* one more: J_pinn travels with the moments in a data-parallel sum */
    HP_CALL(hp_calloc(h->n_moments + 1, sizeof(double), &h->moments));
    HP_CALL(hp_calloc(h->n_moments ? h->n_moments : 1, sizeof(double), &h->d_moments));
    HP_CALL(hp_calloc(nb * dd * dd, sizeof(double), &h->ktilde));
    HP_CALL(hp_calloc(nb * dd * dd, sizeof(double), &h->d_ktilde));
    HP_CALL(hp_calloc(nb, 1, &h->spd));
    HP_CALL(hp_calloc(nb, sizeof(double), &h->cond));
    HP_CALL(hp_calloc(nn, sizeof(double), &h->node_cot));
    HP_CALL(hp_calloc(nn, sizeof(double), &h->node_rhs));
    HP_CALL(hp_calloc(nn, sizeof(double), &h->node_p));
    HP_CALL(hp_calloc(nn, sizeof(double), &h->node_work));
    HP_CALL(hp_calloc(p->boundary.n ? p->boundary.n : 1, sizeof(double), &h->bnd_val));
    /* one chunk of the validation grid or of RAD's candidates, whichever is longer */
    size_t nv = p->validation.n;
    if (p->plan.rad && p->plan.rad_candidates > nv) nv = p->plan.rad_candidates;
    if (nv > HP__VALIDATION_CHUNK) nv = HP__VALIDATION_CHUNK;
    HP_CALL(hp_calloc(C * (nv ? nv : 1), sizeof(double), &h->val_jet));
    size_t n_avg = 0;
    if (h->avg_on) {
        HP_CALL(hp__residual_average_create(&h->avg, h->dim, h->mesh->elements_per_dim, M));
        hp__residual_average_set_points(&h->avg, p->collocation.x, p->collocation_weights);
        n_avg = h->avg.n_nodes;
        HP_CALL(hp_calloc(nd * n_avg, sizeof(double), &h->avg_g));
    }
    h->n_residuals = nd * (M + p->boundary.n + nn + n_avg);
    h->terms.dim = h->dim;
    h->terms.n_blocks = nb;
    h->terms.ktilde = h->ktilde;
    return HP_OK;
}

/* The averaged residual is on when coupling.tau3 or any stage's tau3 is > 0. */
static hp_status averaged_residual_wanted(const hp_config *c, hp__hybrid *h) {
    h->avg_on = h->tau3 > 0.0;
    size_t n = hp_config_list_length(c, "stages");
    for (size_t i = 0; i < n && !h->avg_on; i++) {
        char path[64];
        hp_params *sp = NULL;
        snprintf(path, sizeof path, "stages[%zu]", i);
        HP_CALL(hp_config_section_except(c, path, hp__stage_params, "optimizer", &sp));
        h->avg_on = hp_params_is_set(sp, "tau3") && hp_params_real(sp, "tau3") > 0.0;
        hp_params_destroy(sp);
    }
    if (h->avg_on && h->problem->distributed)
        HP_ERROR(HP_ERR_CONFIG, "%s: coupling.tau3: the averaged residual does not run data-parallel yet (%d MPI "
                                "ranks); expected tau3: 0 under mpirun, or a run on one rank",
                 hp_config_file(c), hp__comm_size());
    return HP_OK;
}

hp_status hp__hybrid_create(const hp_config *c, const hp_registry *r, FILE *log, const char *cache_dir,
                           hp__hybrid **out) {
    *out = NULL;
    hp__hybrid *h = calloc(1, sizeof *h);
    if (!h) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    hp_status st = HP_OK;
    HP_CALL_GOTO(st, hp__problem_create(c, &h->problem), fail);
    if (h->problem->distributed && h->problem->plan.resample_every > 0) {
        st = HP_ERROR_SET(HP_ERR_CONFIG, "problem.collocation.resample_every: resampling does not run data-parallel yet "
                                         "(%d MPI ranks); expected resample_every: 0 under mpirun, or a run on one rank",
                          hp__comm_size());
        goto fail;
    }
    h->dim = h->problem->dim;
    h->C = hp_jet_components(2, h->dim);
    HP_CALL_GOTO(st, create_plugins(h, c, r), fail);
    HP_CALL_GOTO(st, hp__coupling_create(c, h->mesh, &h->coupling), fail);
    hp_params *coupling = NULL;
    HP_CALL_GOTO(st, hp_config_section(c, "coupling", hp__coupling_params, &coupling), fail);
    h->tau1 = hp_params_real(coupling, "tau1");
    h->tau3 = hp_params_real(coupling, "tau3");
    hp_params_destroy(coupling);
    HP_CALL_GOTO(st, averaged_residual_wanted(c, h), fail);
    HP_CALL_GOTO(st, create_buffers(h), fail);
    const hp_plugin_descriptor *global = NULL;
    HP_CALL_GOTO(st, hp_registry_find(r, HP_PLUGIN_UPSCALING, "global", &global), fail);
    HP_CALL_GOTO(st, hp__reference_compute(h->problem, h->n_dir, h->co_desc, global, log, cache_dir), fail);
    /* data-parallel: a rank that failed above (a bad point in its share) stops them all here */
    if (h->problem->distributed) HP_CALL_GOTO(st, hp__comm_agree(HP_OK), fail);
    *out = h;
    return HP_OK;
fail:
    hp__hybrid_destroy(h);
    return st;
}

size_t hp__hybrid_n_params(const hp__hybrid *h) { return h->n_theta_dir * (size_t)h->n_dir; }
int hp__hybrid_dim(const hp__hybrid *h) { return h->dim; }
const hp__problem *hp__hybrid_problem(const hp__hybrid *h) { return h->problem; }
size_t hp__hybrid_n_blocks(const hp__hybrid *h) { return h->mesh->n_blocks; }
int hp__hybrid_n_directions(const hp__hybrid *h) { return h->n_dir; }
const hp__hybrid_terms *hp__hybrid_last_terms(const hp__hybrid *h) { return &h->terms; }
const hp__hybrid_timing *hp__hybrid_get_timing(const hp__hybrid *h) { return &h->timing; }

void hp__hybrid_diagnose_setup(const hp__hybrid *h, hp__warnings *w) {
    double worst[HP_JET_MAX_DIM] = {0}, f[HP_JET_MAX_DIM];
    int known = 0;
    for (int i = 0; i < h->n_dir; i++)
        if (hp__net_frequencies(h->net[i], f)) {
            known = 1;
            for (int a = 0; a < h->dim; a++) worst[a] = fmax(worst[a], f[a]);
        }
    if (known) hp__diagnose_aliasing(h->problem, worst, w);
}

hp_status hp__hybrid_init_params(hp__hybrid *h, double *theta) {
    for (int i = 0; i < h->n_dir; i++) HP_CALL(hp__net_init(h->net[i], theta + (size_t)i * h->n_theta_dir));
    return HP_OK;
}

void hp__hybrid_set_weights(hp__hybrid *h, double tau1, double tau2) {
    h->tau1 = tau1;
    h->coupling.tau2 = tau2;
}

void hp__hybrid_get_weights(const hp__hybrid *h, double *tau1, double *tau2) {
    *tau1 = h->tau1;
    *tau2 = h->coupling.tau2;
}

hp_status hp__hybrid_set_tau3(hp__hybrid *h, double tau3) {
    if (tau3 > 0.0 && !h->avg_on)
        HP_ERROR(HP_ERR_CONFIG, "tau3 = %g: the averaged residual was not set up for this run (give coupling.tau3 or "
                                "a stage's tau3 > 0 in the pipeline)", tau3);
    h->tau3 = tau3;
    return HP_OK;
}

double hp__hybrid_tau3(const hp__hybrid *h) { return h->tau3; }
int hp__hybrid_averaged_on(const hp__hybrid *h) { return h->avg_on; }

/* ---- the network, lifted ------------------------------------------------------------- */

hp_status hp__hybrid_network_jet(hp__hybrid *h, int i, hp__tape *tape, const double *theta, double *dst) {
    const double *out;
    HP_CALL(hp__net_forward(h->net[i], tape, theta + (size_t)i * h->n_theta_dir, &out));
    size_t n = hp__tape_points(tape);
    int order = tape == h->tape_colloc[i] ? 2 : 0;
    if (h->problem->hard_bc)
        hp_jet_lift_forward(dst, out, hp__tape_x(tape), 1, n, order, h->dim);
    else
        memcpy(dst, out, (size_t)hp_jet_components(order, h->dim) * n * sizeof *dst);
    return HP_OK;
}

hp_status hp__hybrid_network_eval(hp__hybrid *h, int i, const double *theta, const double *x, size_t n, int order,
                                  double *dst) {
    HP_CALL(hp__net_eval(h->net[i], theta + (size_t)i * h->n_theta_dir, x, n, order, dst));
    if (h->problem->hard_bc) hp_jet_lift_forward(dst, dst, x, 1, n, order, h->dim);
    return HP_OK;
}

hp_status hp__hybrid_network_backward(hp__hybrid *h, int i, hp__tape *tape, const double *theta, double *cot,
                                      double *grad) {
    int order = tape == h->tape_colloc[i] ? 2 : 0;
    if (h->problem->hard_bc) hp_jet_lift_backward(cot, cot, hp__tape_x(tape), 1, hp__tape_points(tape), order, h->dim);
    HP_CALL(hp__net_backward(h->net[i], tape, theta + (size_t)i * h->n_theta_dir, cot, grad + (size_t)i * h->n_theta_dir));
    return HP_OK;
}

void hp__hybrid_upscaling_input(const hp__hybrid *h, hp_upscaling_input *in) {
    const hp__point_set *s = &h->problem->collocation;
    in->dim = h->dim;
    in->n_directions = h->n_dir;
    in->n_points = s->n;
    in->x = s->x;
    in->weights = h->problem->collocation_weights;
    in->K = s->K;
    in->q = s->q;
    in->v = h->val_u;
    in->grad = h->grad_u;
}

/* ---- Algorithm 1 ------------------------------------------------------------------------ */

/* K̃ from the collocation jets: the moments of the points, then the finish.
 * Returns whether K̃ is unusable for the coarse problem (not SPD, singular). */
static hp_status upscale(hp__hybrid *h, int *unusable) {
    hp_upscaling_input in;
    hp__hybrid_upscaling_input(h, &in);
    memset(h->moments, 0, h->n_moments * sizeof *h->moments);
    hp_status st = HP_USE_OP(h->up, moments, h->up_state, &in, h->moments);
    if (h->problem->distributed) { /* this rank's points: the sums (and J_pinn) over all ranks */
        h->moments[h->n_moments] = h->terms.j_pinn;
        HP_CALL(hp__comm_sum(st, h->moments, h->n_moments + 1));
        h->terms.j_pinn = h->moments[h->n_moments];
    }
    HP_CALL(st);
    hp_upscaling_report rep = {h->spd, h->cond, 0, 0};
    st = HP_USE_OP(h->up, finish, h->up_state, h->moments, h->ktilde, &rep);
    *unusable = st == HP_ERR_NUMERIC || rep.n_not_positive_definite > 0 || rep.n_singular > 0;
    if (st == HP_ERR_NUMERIC) hp_error_clear();
    else HP_CALL(st);
    return HP_OK;
}

/* Data-parallel (problem->distributed): the collocation sums are this rank's
 * share, completed over the ranks with the moments (J_pinn) and at the end (the
 * gradient); the rest (boundary, coarse problem, coupling) is evaluated on every
 * rank alike, and its gradient is added by rank 0 alone. */
hp_status hp__hybrid_evaluate(hp__hybrid *h, const double *theta, double *value, double *grad) {
    hp__problem *p = h->problem;
    const hp__point_set *col = &p->collocation;
    size_t M = col->n, d = (size_t)h->dim, ne = h->mesh->n_blocks * d * d;
    double Mt = (double)p->collocation_total; /* the mean's denominator: all ranks' points */
    int redundant_grad = !p->distributed || hp__comm_rank() == 0; /* add the rank-independent parts */
    hp__hybrid_terms *t = &h->terms;
    t->j_pinn = t->boundary = t->coupling = t->averaged = 0.0;
    t->fallback = 0;
    h->linearized = 0;
    if (grad) memset(grad, 0, hp__hybrid_n_params(h) * sizeof *grad);

    /* 1. collocation jets → PINN residual ρ, J_pinn; ∇v and v for the upscaling */
    for (int i = 0; i < h->n_dir; i++) {
        HP_CALL(hp__hybrid_network_jet(h, i, h->tape_colloc[i], theta, h->col_jet[i]));
        t->j_pinn += hp__pinn_residual(col, h->dim, h->col_jet[i], i, h->rho, NULL) / Mt;
        if (h->avg_on) t->averaged += hp__residual_average_forward(&h->avg, h->rho, h->avg_g + (size_t)i * h->avg.n_nodes);
        for (size_t r = 0; r < M; r++) {
            h->val_u[(size_t)i * M + r] = h->col_jet[i][r];
            for (size_t a = 0; a < d; a++) h->grad_u[((size_t)i * M + r) * d + a] = h->col_jet[i][(1 + a) * M + r];
        }
    }
    /* soft boundary penalty τ1 · mean v² on the boundary points */
    if (!p->hard_bc) {
        size_t nb = p->boundary.n;
        for (int i = 0; i < h->n_dir; i++) {
            HP_CALL(hp__hybrid_network_jet(h, i, h->tape_boundary[i], theta, h->bnd_val));
            double s = 0.0;
            for (size_t r = 0; r < nb; r++) s += h->bnd_val[r] * h->bnd_val[r];
            t->boundary += s / (double)nb;
            if (!grad || !redundant_grad) continue;
            for (size_t r = 0; r < nb; r++) h->bnd_val[r] *= 2.0 * h->tau1 / (double)nb;
            HP_CALL(hp__net_backward(h->net[i], h->tape_boundary[i], theta + (size_t)i * h->n_theta_dir, h->bnd_val,
                                     grad + (size_t)i * h->n_theta_dir));
        }
    }

    /* 2. upscaling → K̃; not positive definite: a coupled step falls back to the plain PINN */
    int enabled = hp__coupling_enabled(&h->coupling), unusable = 0;
    HP_CALL(upscale(h, &unusable));
    t->fallback = enabled && unusable;
    /* 3. K̃ → the coarse problem B(K̃) y_i = F_i(K̃) */
    if (enabled && !t->fallback) {
        hp_status cst;
        HP__COARSE_TIMED(h, cst, h->co->set_coefficient_blocks(h->co_state, h->ktilde));
        if (cst == HP_ERR_NUMERIC) {
            t->fallback = 1;
            hp_error_clear();
        } else {
            HP_CALL(cst);
        }
    }
    int coupled = hp__coupling_active(&h->coupling, t->fallback);
    if (coupled) {
        if (grad) memset(h->d_ktilde, 0, ne * sizeof *h->d_ktilde);
        for (int i = 0; i < h->n_dir; i++) {
            hp_status cst;
            HP__COARSE_TIMED(h, cst, h->co->solve_state(h->co_state, i, h->node_y[i]));
            HP_CALL(cst);
            /* 4. v at the coarse nodes → z = Q̄v → R */
            HP_CALL(hp__hybrid_network_jet(h, i, h->tape_nodes[i], theta, h->node_v[i]));
            t->coupling += hp__coupling_value(&h->coupling, h->node_v[i], h->node_y[i], h->node_z[i], h->node_yc[i],
                                              &h->node_yhat[i]);
            if (!grad) continue;
            /* reverse: ∂Ĵ/∂v_nodes → network; ∂Ĵ/∂y → adjoint p → ∂Ĵ/∂K̃ */
            hp__coupling_gradient(&h->coupling, h->node_z[i], h->node_yhat[i], h->node_cot, h->node_rhs, h->node_work);
            if (redundant_grad) HP_CALL(hp__hybrid_network_backward(h, i, h->tape_nodes[i], theta, h->node_cot, grad));
            HP__COARSE_TIMED(h, cst, h->co->solve_adjoint(h->co_state, h->node_rhs, h->node_p));
            HP_CALL(cst);
            HP__COARSE_TIMED(h, cst, h->co->coefficient_gradient(h->co_state, i, h->node_y[i], h->node_p, h->d_ktilde));
            HP_CALL(cst);
        }
        if (grad) {
            /* 5. ∂Ĵ/∂K̃ → upscaling backward → cotangents on ∇v (and v) at the collocation points */
            for (size_t e = 0; e < ne; e++) h->d_ktilde[e] = -h->d_ktilde[e];
            memset(h->d_grad_u, 0, (size_t)h->n_dir * M * d * sizeof *h->d_grad_u);
            memset(h->d_val_u, 0, (size_t)h->n_dir * M * sizeof *h->d_val_u);
            hp_upscaling_input in;
            hp__hybrid_upscaling_input(h, &in);
            HP_CALL(HP_USE_OP(h->up, finish_backward, h->up_state, h->moments, h->d_ktilde, h->d_moments));
            HP_CALL(HP_USE_OP(h->up, moments_backward, h->up_state, &in, h->d_moments,
                              h->needs_values ? h->d_val_u : NULL, h->d_grad_u));
        }
    }
    t->total = t->j_pinn + h->tau1 * t->boundary + (coupled ? h->coupling.tau2 * t->coupling : 0.0) +
               (h->avg_on ? h->tau3 * t->averaged : 0.0);
    if (!coupled) t->coupling = t->fallback ? NAN : 0.0;
    *value = t->total;
    if (!grad) return HP_OK;

    /* 6. collocation cotangents (residual + upscaling), one network backward per direction */
    for (int i = 0; i < h->n_dir; i++) {
        double *cot = h->col_cot;
        (void)hp__pinn_residual(col, h->dim, h->col_jet[i], i, h->rho, NULL);
        for (size_t r = 0; r < M; r++) h->rho[r] = 2.0 * h->rho[r] / Mt;
        if (h->avg_on && h->tau3 > 0.0) /* ∂(τ3 A)/∂ρ = (2 τ3 / N) Pᵀ g */
            hp__residual_average_pullback(&h->avg, h->avg_g + (size_t)i * h->avg.n_nodes, 2.0 * h->tau3 / h->avg.n_active,
                                          h->rho);
        hp__pinn_residual_pullback(col, h->dim, h->rho, cot);
        if (coupled) {
            for (size_t r = 0; r < M; r++) {
                cot[r] = h->d_val_u[(size_t)i * M + r];
                for (size_t a = 0; a < d; a++) cot[(1 + a) * M + r] += h->d_grad_u[((size_t)i * M + r) * d + a];
            }
        }
        HP_CALL(hp__hybrid_network_backward(h, i, h->tape_colloc[i], theta, cot, grad));
    }
    if (p->distributed) HP_CALL(hp__comm_sum(HP_OK, grad, hp__hybrid_n_params(h)));
    return HP_OK;
}

static hp_status value_and_gradient(void *ctx, const double *theta, double *value, double *grad) {
    hp__hybrid *h = ctx;
    double t0 = hp__now_seconds();
    HP_CALL(hp__hybrid_evaluate(h, theta, value, grad));
    h->timing.total_seconds += hp__now_seconds() - t0;
    h->timing.evaluations++;
    return HP_OK;
}

static hp_status sum_over_ranks(void *ctx, double *buf, size_t count) {
    (void)ctx;
    return hp__comm_sum(HP_OK, buf, count);
}

hp_objective hp__hybrid_objective(hp__hybrid *h) {
    hp_objective o;
    memset(&o, 0, sizeof o);
    o.n = hp__hybrid_n_params(h);
    o.m = h->n_residuals;
    o.ctx = h;
    o.value_and_gradient = value_and_gradient;
    o.residuals_and_jacobian = hp__hybrid_residuals_and_jacobian;
    if (h->problem->distributed) o.sum_over_ranks = sum_over_ranks; /* rows over the ranks */
    if (hp__net_has_tangent(h->net[0])) {
        o.linearize = hp__hybrid_linearize;
        o.jvp = hp__hybrid_jvp;
        o.vjp = hp__hybrid_vjp;
    }
    return o;
}

/* ---- resampling the collocation points ----------------------------------------------- */

hp_status hp__hybrid_set_collocation(hp__hybrid *h, const double *x, const double *weights) {
    HP_CALL(hp__problem_set_collocation(h->problem, x, weights));
    for (int i = 0; i < h->n_dir; i++) hp__tape_set_points(h->tape_colloc[i], h->problem->collocation.x);
    if (h->avg_on) hp__residual_average_set_points(&h->avg, h->problem->collocation.x, h->problem->collocation_weights);
    h->linearized = 0;
    return HP_OK;
}

void hp__hybrid_collocation(const hp__hybrid *h, const double **x, const double **weights, size_t *n) {
    *x = h->problem->collocation.x;
    *weights = h->problem->collocation_weights;
    *n = h->problem->collocation.n;
}

const hp__collocation *hp__hybrid_collocation_plan(const hp__hybrid *h) { return &h->problem->plan; }

/* RAD: the residual magnitude of every candidate (the root of the sum of ρ_i²
 * over the directions) at θ, through tape-less evaluations. */
static hp_status candidate_residuals(hp__hybrid *h, const double *theta) {
    hp__point_set *s = &h->rad_set;
    size_t S = s->n, d = (size_t)h->dim;
    HP_CALL(hp__problem_evaluate_points(h->problem, s));
    memset(h->rad_rho, 0, S * sizeof *h->rad_rho);
    for (int i = 0; i < h->n_dir; i++)
        for (size_t off = 0; off < S; off += HP__VALIDATION_CHUNK) {
            size_t cnt = S - off < HP__VALIDATION_CHUNK ? S - off : HP__VALIDATION_CHUNK;
            hp__point_set part = {cnt, s->x + off * d, s->K + off, s->gradK + off * d, s->q + off, s->inverse_K};
            HP_CALL(hp__hybrid_network_eval(h, i, theta, part.x, cnt, 2, h->val_jet));
            double *rho = h->rad_rho + off;
            hp__pinn_residual(&part, h->dim, h->val_jet, i, h->rad_tmp, NULL);
            for (size_t r = 0; r < cnt; r++) rho[r] += h->rad_tmp[r] * h->rad_tmp[r];
        }
    for (size_t r = 0; r < S; r++) h->rad_rho[r] = sqrt(h->rad_rho[r]);
    return HP_OK;
}

hp_status hp__hybrid_resample(hp__hybrid *h, const double *theta, uint64_t round) {
    const hp__collocation *c = &h->problem->plan;
    size_t M = c->n, d = (size_t)h->dim;
    if (c->rad) {
        hp__collocation_draw(c, round, c->rad_candidates, h->rad_set.x);
        HP_CALL(candidate_residuals(h, theta));
        HP_CALL(hp__collocation_rad_select(c, round, h->rad_rho, c->rad_candidates, h->rad_chosen, h->rad_w));
        for (size_t r = 0; r < M; r++) memcpy(h->rad_new + r * d, h->rad_set.x + h->rad_chosen[r] * d, d * sizeof(double));
    } else {
        hp__collocation_points(c, round, h->rad_new);
        for (size_t r = 0; r < M; r++) h->rad_w[r] = 1.0 / (double)M;
    }
    HP_CALL(hp__hybrid_set_collocation(h, h->rad_new, h->rad_w));
    return HP_OK;
}

/* ---- validation --------------------------------------------------------------------- */

int hp__hybrid_reference_ktilde(const hp__hybrid *h, double out[4], const char **label) {
    const hp__problem *p = h->problem;
    if (label) *label = p->reference_label;
    for (int k = 0; k < p->n_ktilde_reference; k++) out[k] = p->ktilde_reference[k];
    return p->n_ktilde_reference;
}

/* The validation points [offset, offset + count) as a point set of their own. */
static hp__point_set validation_part(const hp__problem *p, size_t offset, size_t count) {
    const hp__point_set *v = &p->validation;
    size_t d = (size_t)p->dim;
    hp__point_set part = {count, v->x + offset * d, v->K + offset, v->gradK + offset * d, v->q + offset, v->inverse_K};
    return part;
}

hp_status hp__hybrid_validate(hp__hybrid *h, const double *theta, hp__hybrid_validation *out) {
    hp__problem *p = h->problem;
    size_t n = p->validation.n;
    double err2[HP_JET_MAX_DIM] = {0}, ref2[HP_JET_MAX_DIM] = {0}, res = 0.0, zero = 0.0;
    size_t interior = 0;
    for (size_t r = 0; r < n; r++) interior += p->validation_interior[r];
    size_t lo = 0, hi = n; /* data-parallel: this rank's share of the grid, the sums over all ranks */
    if (p->distributed) hp__comm_range(n, &lo, &hi);
    hp_status st = HP_OK;
    for (int i = 0; i < h->n_dir && st == HP_OK; i++) {
        for (size_t off = lo; off < hi && st == HP_OK; off += HP__VALIDATION_CHUNK) {
            size_t cnt = hi - off < HP__VALIDATION_CHUNK ? hi - off : HP__VALIDATION_CHUNK;
            hp__point_set part = validation_part(p, off, cnt);
            st = hp__hybrid_network_eval(h, i, theta, part.x, cnt, 2, h->val_jet);
            if (st != HP_OK) break;
            res += hp__pinn_residual(&part, h->dim, h->val_jet, i, NULL, p->validation_interior + off);
            for (size_t r = 0; r < cnt; r++)
                if (p->validation_interior[off + r]) {
                    double f = hp__pinn_residual_scale(&part, r) * hp__problem_f(&part, h->dim, r, i);
                    zero += f * f;
                }
            if (i >= p->n_reference_directions) continue;
            const double *u = p->u_reference + (size_t)i * n + off;
            for (size_t r = 0; r < cnt; r++) {
                double e = h->val_jet[r] - u[r];
                err2[i] += e * e;
                ref2[i] += u[r] * u[r];
            }
        }
    }
    int n_ref = p->n_reference_directions < h->n_dir ? p->n_reference_directions : h->n_dir;
    if (p->distributed) {
        double sums[2 * HP_JET_MAX_DIM + 2] = {res, zero};
        for (int i = 0; i < n_ref; i++) sums[2 + 2 * i] = err2[i], sums[3 + 2 * i] = ref2[i];
        HP_CALL(hp__comm_sum(st, sums, 2 + 2 * n_ref));
        res = sums[0], zero = sums[1];
        for (int i = 0; i < n_ref; i++) err2[i] = sums[2 + 2 * i], ref2[i] = sums[3 + 2 * i];
    }
    HP_CALL(st);
    double err_all = 0.0, ref_all = 0.0;
    out->n_directions = n_ref;
    for (int i = 0; i < n_ref; i++) {
        err_all += err2[i];
        ref_all += ref2[i];
        out->rel_l2_direction[i] = ref2[i] > 0.0 ? sqrt(err2[i] / ref2[i]) : NAN;
    }
    out->rel_l2 = n_ref > 0 && ref_all > 0.0 ? sqrt(err_all / ref_all) : NAN;
    out->fine_residual = interior ? res / (double)(interior * (size_t)h->n_dir) : NAN;
    out->zero_residual = interior ? zero / (double)(interior * (size_t)h->n_dir) : NAN;
    return HP_OK;
}

/* ---- gradient check ---------------------------------------------------------------------- */

hp_status hp__hybrid_check_gradient(hp__hybrid *h, const double *theta, size_t count, unsigned long long seed,
                                   double step, double *worst_rel, size_t *worst_index, FILE *report) {
    size_t n = hp__hybrid_n_params(h);
    double *g = NULL, *th = NULL;
    hp_status st = HP_OK;
    HP_CALL_GOTO(st, hp_calloc(n, sizeof *g, &g), done);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof *th, &th), done);
    memcpy(th, theta, n * sizeof *th);
    double value;
    HP_CALL_GOTO(st, hp__hybrid_evaluate(h, th, &value, g), done);
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
        int switched = 0;
        static const double offsets[4] = {2.0, 1.0, -1.0, -2.0};
        for (int j = 0; j < 4; j++) {
            th[k] = old + offsets[j] * hk;
            HP_CALL_GOTO(st, hp__hybrid_evaluate(h, th, &f[j], NULL), done);
            switched |= h->terms.fallback != fallback;
        }
        th[k] = old;
        double fd = (-f[0] + 8.0 * f[1] - 8.0 * f[2] + f[3]) / (12.0 * hk);
        double rel = fabs(g[k] - fd) / fmax(fmax(fabs(g[k]), fabs(fd)), floor);
        if (switched) rel = 0.0; /* the fallback switch is not differentiable */
        if (report) fprintf(report, "  theta[%6zu]  grad % .10e  fd % .10e  rel %.2e\n", k, g[k], fd, rel);
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
