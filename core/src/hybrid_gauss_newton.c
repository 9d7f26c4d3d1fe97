/* hybrid_gauss_newton.c — the hybrid objective as least squares, Ĵ = ½‖r‖², for
 * Gauss–Newton optimizers: the residuals, their dense Jacobian, and the
 * matrix-free products J v and Jᵀ u.
 *
 *   r = [ √(2/M) ρ_i(x_r) ;  √(2τ1/n_b) v_i(boundary) ;  s_k (z_ik − ŷ_ik) ; √(2τ3/N) g_ik ]_i,
 *   s_k = √(2τ2 w_k) (coupling.h), g_i = P ρ_i (residual_average.h; rows only when it is on)
 *
 * The coupling rows depend on θ through z = Q̄ v(nodes; θ_i) and through
 * ŷ(K̃(θ)): ∂y_i/∂K̃ row by row from adjoint solves with unit right-hand sides
 * (p = B⁻ᵀ e_k, ∂y_k/∂K̃ = −pᵀ ∂(B y − F)/∂K̃), once per linearization. K̃
 * depends on θ through the collocation jets: the dense Jacobian takes ∂K̃/∂θ
 * column by column (one upscaling + network backward per K̃ entry); the
 * products go through the moments of the upscaling instead (its linearization
 * forward, ∂K̃/∂m from finish_backward, and moments_backward in reverse), so they
 * never form an m x n matrix. Coupling rows are zero when the coupling is off or
 * K̃ fell back.
 *
 * Data-parallel (problem->distributed): each rank's r and J hold the PINN rows
 * of its collocation points; the boundary and coupling rows live on rank 0 (zero
 * rows elsewhere), and ∂K̃/∂θ is summed over the ranks before the coupling rows
 * use it. Optimizers complete their sums over rows through sum_over_ranks; J v
 * gives this rank's rows (zero shared rows off rank 0) and Jᵀ u is complete on
 * every rank (summed here). */
#include "hybrid_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "pinn_residual.h"

void hp__hybrid_gauss_newton_free(hp__hybrid *h) {
    free(h->jac_rows);
    free(h->jac_nodes);
    free(h->jac_dy);
    free(h->jac_dk);
    free(h->jac_fm);
    free(h->jac_unit);
    free(h->jac_tmp);
    free(h->mf_jet);
    free(h->mf_nodes);
    free(h->mf_dm);
    free(h->mf_dk);
    free(h->mf_theta);
}

/* Rows of the averaged residual per direction (0 when it is off). */
static size_t n_avg(const hp__hybrid *h) { return h->avg_on ? h->avg.n_nodes : 0; }

static size_t n_entries(const hp__hybrid *h) { return h->mesh->n_blocks * (size_t)h->dim * (size_t)h->dim; }

/* The buffers both forms share, allocated on first use. */
static hp_status common_alloc(hp__hybrid *h) {
    if (h->jac_dy) return HP_OK;
    size_t nn = h->mesh->n_nodes, ne = n_entries(h);
    HP_CALL(hp_calloc((size_t)h->n_dir * nn * ne, sizeof(double), &h->jac_dy));
    HP_CALL(hp_calloc(ne, sizeof(double), &h->jac_unit));
    HP_CALL(hp_calloc(nn, sizeof(double), &h->jac_tmp));
    return HP_OK;
}

/* ∂y_i/∂K̃ (n_nodes x n_entries) by unit adjoints; boundary rows are zero (y = 0). */
static hp_status state_sensitivity(hp__hybrid *h, int i) {
    size_t nn = h->mesh->n_nodes, ne = n_entries(h);
    double *dy = h->jac_dy + (size_t)i * nn * ne;
    memset(dy, 0, nn * ne * sizeof *dy);
    for (size_t k = 0; k < nn; k++) {
        memset(h->jac_tmp, 0, nn * sizeof *h->jac_tmp);
        h->jac_tmp[k] = 1.0;
        hp_status cst;
        HP__COARSE_TIMED(h, cst, h->co->solve_adjoint(h->co_state, h->jac_tmp, h->node_p));
        HP_CALL(cst);
        HP__COARSE_TIMED(h, cst, h->co->coefficient_gradient(h->co_state, i, h->node_y[i], h->node_p, dy + k * ne));
        HP_CALL(cst);
        for (size_t e = 0; e < ne; e++) dy[k * ne + e] = -dy[k * ne + e];
    }
    return HP_OK;
}

/* The residual vector at the state the last evaluation left (tapes at θ). */
/* Rows that belong to every rank alike (boundary, coupling) are this rank's
 * to hold: all of them in a serial run, rank 0's in a data-parallel one. */
static int holds_shared_rows(const hp__hybrid *h) { return !h->problem->distributed || hp__comm_rank() == 0; }

static hp_status residual_vector(hp__hybrid *h, const double *theta, double *r, int coupled) {
    hp__problem *p = h->problem;
    const hp__point_set *col = &p->collocation;
    size_t M = col->n, nb = p->boundary.n, nn = h->mesh->n_nodes, row = 0;
    double shared = holds_shared_rows(h) ? 1.0 : 0.0;
    coupled = coupled && shared != 0.0;
    for (int i = 0; i < h->n_dir; i++) {
        double sp = sqrt(2.0 / (double)p->collocation_total);
        (void)hp__pinn_residual(col, h->dim, h->col_jet[i], i, h->rho, NULL);
        for (size_t q = 0; q < M; q++) r[row + q] = sp * h->rho[q];
        row += M;
        if (nb) {
            double sb = sqrt(2.0 * h->tau1 / (double)nb);
            const double *out;
            HP_CALL(hp__net_forward(h->net[i], h->tape_boundary[i], theta + (size_t)i * h->n_theta_dir, &out));
            for (size_t q = 0; q < nb; q++) r[row + q] = shared * sb * out[q];
            row += nb;
        }
        for (size_t k = 0; k < nn; k++)
            r[row + k] = coupled ? hp__coupling_row_scale(&h->coupling, k) * (h->node_z[i][k] - h->node_yhat[i][k]) : 0.0;
        row += nn;
        double sa = h->avg_on ? hp__residual_average_row_scale(&h->avg, h->tau3) : 0.0;
        for (size_t k = 0; k < n_avg(h); k++) r[row + k] = sa * h->avg_g[(size_t)i * n_avg(h) + k];
        row += n_avg(h);
    }
    HP_ASSERT(row == h->n_residuals);
    return HP_OK;
}

/* ---- the dense Jacobian --------------------------------------------------------------- */

static hp_status dense_alloc(hp__hybrid *h) {
    HP_CALL(common_alloc(h));
    if (h->jac_rows) return HP_OK;
    size_t M = h->problem->collocation.n, nb = h->problem->boundary.n, nn = h->mesh->n_nodes;
    size_t rows = M > nn ? M : nn;
    if (nb > rows) rows = nb;
    HP_CALL(hp_calloc(rows * h->n_theta_dir, sizeof(double), &h->jac_rows));
    HP_CALL(hp_calloc(nn * h->n_theta_dir, sizeof(double), &h->jac_nodes));
    HP_CALL(hp_calloc(n_entries(h) * hp__hybrid_n_params(h), sizeof(double), &h->jac_dk));
    if (h->avg_on) HP_CALL(hp_calloc(n_avg(h) * h->n_theta_dir, sizeof(double), &h->avg_rows));
    return HP_OK;
}

/* Copy rows (count x n_theta_dir) scaled into J's block for direction i. */
static void place_rows(const hp__hybrid *h, double *J, size_t row0, int i, const double *rows, size_t count,
                       double scale) {
    size_t n = hp__hybrid_n_params(h), nt = h->n_theta_dir;
    size_t before = (size_t)i * nt, after = n - before - nt; /* the other directions' zero columns */
    for (size_t r = 0; r < count; r++) {
        double *dst = J + (row0 + r) * n;
        memset(dst, 0, before * sizeof *dst);
        for (size_t k = 0; k < nt; k++) dst[before + k] = scale * rows[r * nt + k];
        memset(dst + before + nt, 0, after * sizeof *dst);
    }
}

/* Per-point Jacobian rows of a functional of the lifted jet given by weights
 * (jet-shaped, overwritten by the lift's pullback). */
static hp_status lifted_jacobian(hp__hybrid *h, int i, hp__tape *tape, const double *theta, int order,
                                 double *weights) {
    if (h->problem->hard_bc) hp_jet_lift_backward(weights, weights, hp__tape_x(tape), 1, hp__tape_points(tape), order, h->dim);
    HP_CALL(hp__net_jacobian(h->net[i], tape, theta + (size_t)i * h->n_theta_dir, weights, h->jac_rows));
    return HP_OK;
}

/* ∂K̃/∂θ (n_entries x n): per entry, a unit cotangent through the upscaling and
 * the collocation networks. */
static hp_status ktilde_jacobian(hp__hybrid *h, const double *theta) {
    size_t M = h->problem->collocation.n, d = (size_t)h->dim, C = (size_t)h->C, ne = n_entries(h);
    size_t n = hp__hybrid_n_params(h);
    hp_upscaling_input in;
    hp__hybrid_upscaling_input(h, &in);
    memset(h->jac_dk, 0, ne * n * sizeof *h->jac_dk);
    for (size_t e = 0; e < ne; e++) {
        memset(h->jac_unit, 0, ne * sizeof *h->jac_unit);
        h->jac_unit[e] = 1.0;
        memset(h->d_grad_u, 0, (size_t)h->n_dir * M * d * sizeof *h->d_grad_u);
        memset(h->d_val_u, 0, (size_t)h->n_dir * M * sizeof *h->d_val_u);
        HP_CALL(h->up->finish_backward(h->up_state, h->moments, h->jac_unit, h->d_moments));
        HP_CALL(h->up->moments_backward(h->up_state, &in, h->d_moments, h->needs_values ? h->d_val_u : NULL,
                                        h->d_grad_u));
        for (int i = 0; i < h->n_dir; i++) {
            double *cot = h->col_cot;
            memset(cot, 0, C * M * sizeof *cot);
            for (size_t q = 0; q < M; q++) {
                cot[q] = h->d_val_u[(size_t)i * M + q];
                for (size_t a = 0; a < d; a++) cot[(1 + a) * M + q] = h->d_grad_u[((size_t)i * M + q) * d + a];
            }
            HP_CALL(hp__hybrid_network_backward(h, i, h->tape_colloc[i], theta, cot, h->jac_dk + e * n));
        }
    }
    if (h->problem->distributed) HP_CALL(hp__comm_sum(HP_OK, h->jac_dk, ne * n)); /* this rank's points → all */
    return HP_OK;
}

/* The coupling rows of direction i: s_k (Q̄ ∂v/∂θ − ∂ŷ/∂K̃ ∂K̃/∂θ). */
static hp_status coupling_rows(hp__hybrid *h, const double *theta, int i, double *J, size_t row) {
    size_t nn = h->mesh->n_nodes, ne = n_entries(h), n = hp__hybrid_n_params(h), nt = h->n_theta_dir;
    const hp__compression *Q = h->coupling.Q;
    for (size_t k = 0; k < nn; k++) h->jac_tmp[k] = 1.0;
    HP_CALL(lifted_jacobian(h, i, h->tape_nodes[i], theta, 0, h->jac_tmp));
    memcpy(h->jac_nodes, h->jac_rows, nn * nt * sizeof *h->jac_nodes);
    for (size_t k = 0; k < nn; k++) {
        double *dst = J + (row + k) * n;
        memset(dst, 0, n * sizeof *dst);
        for (size_t t = Q->start[k]; t < Q->start[k + 1]; t++) {
            const double *src = h->jac_nodes + Q->column[t] * nt;
            double w = Q->weight[t];
            for (size_t c = 0; c < nt; c++) dst[(size_t)i * nt + c] += w * src[c];
        }
    }
    HP_CALL(state_sensitivity(h, i));
    const double *dy = h->jac_dy + (size_t)i * nn * ne;
    int compressed = h->coupling.form == HP__COUPLING_COMPRESSED;
    /* J_row -= (∂ŷ/∂K̃) (∂K̃/∂θ); compressed: ∂ŷ = Q̄ ∂y */
    for (size_t k = 0; k < nn; k++) {
        double *dst = J + (row + k) * n;
        for (size_t t = Q->start[k]; t < Q->start[k + 1]; t++) {
            size_t src_row = compressed ? Q->column[t] : k;
            double w = compressed ? Q->weight[t] : 1.0;
            for (size_t e = 0; e < ne; e++) {
                double g = w * dy[src_row * ne + e];
                if (g == 0.0) continue;
                const double *dk = h->jac_dk + e * n;
                for (size_t c = 0; c < n; c++) dst[c] -= g * dk[c];
            }
            if (!compressed) break;
        }
        double s = hp__coupling_row_scale(&h->coupling, k);
        for (size_t c = 0; c < n; c++) dst[c] *= s;
    }
    return HP_OK;
}

void hp__hybrid_row_structure(const hp__hybrid *h, double tau2, size_t *blocks, size_t *shared_rows) {
    *blocks = (size_t)h->n_dir;
    int coupled = h->coupling.form != HP__COUPLING_NONE && tau2 > 0.0;
    *shared_rows = coupled && h->n_dir > 1 && holds_shared_rows(h) ? (size_t)h->n_dir * h->mesh->n_nodes : 0;
}

hp_status hp__hybrid_residuals_and_jacobian(void *ctx, const double *theta, double *r, double *J) {
    hp__hybrid *h = ctx;
    hp__problem *p = h->problem;
    const hp__point_set *col = &p->collocation;
    size_t M = col->n, nb = p->boundary.n, nn = h->mesh->n_nodes, n = hp__hybrid_n_params(h);
    double value, t_start = hp__now_seconds();
    HP_CALL(hp__hybrid_evaluate(h, theta, &value, NULL)); /* every tape, y, z, K̃ at θ */
    int coupled = hp__coupling_active(&h->coupling, h->terms.fallback);
    HP_CALL(residual_vector(h, theta, r, coupled));
    if (J) {
        HP_CALL(dense_alloc(h));
        if (coupled) HP_CALL(ktilde_jacobian(h, theta));
        size_t row = 0;
        for (int i = 0; i < h->n_dir; i++) {
            double *w = h->col_cot;
            double *ones = h->rho;
            for (size_t q = 0; q < M; q++) ones[q] = 1.0;
            hp__pinn_residual_pullback(col, h->dim, ones, w);
            HP_CALL(lifted_jacobian(h, i, h->tape_colloc[i], theta, 2, w));
            place_rows(h, J, row, i, h->jac_rows, M, sqrt(2.0 / (double)p->collocation_total));
            row += M;
            if (h->avg_on) /* P ∂ρ/∂θ, placed after the coupling rows */
                hp__residual_average_rows(&h->avg, h->jac_rows, h->n_theta_dir,
                                          hp__residual_average_row_scale(&h->avg, h->tau3), h->avg_rows);
            if (nb) {
                for (size_t q = 0; q < nb; q++) h->bnd_val[q] = 1.0;
                HP_CALL(hp__net_jacobian(h->net[i], h->tape_boundary[i], theta + (size_t)i * h->n_theta_dir,
                                         h->bnd_val, h->jac_rows));
                place_rows(h, J, row, i, h->jac_rows, nb, holds_shared_rows(h) ? sqrt(2.0 * h->tau1 / (double)nb) : 0.0);
                row += nb;
            }
            if (coupled && holds_shared_rows(h)) HP_CALL(coupling_rows(h, theta, i, J, row));
            else memset(J + row * n, 0, nn * n * sizeof *J);
            row += nn;
            if (h->avg_on) place_rows(h, J, row, i, h->avg_rows, n_avg(h), 1.0);
            row += n_avg(h);
        }
    }
    h->timing.total_seconds += hp__now_seconds() - t_start;
    h->timing.evaluations++;
    return HP_OK;
}

/* ---- matrix-free products ------------------------------------------------------------------ */

static hp_status free_alloc(hp__hybrid *h) {
    HP_CALL(common_alloc(h));
    if (h->mf_jet) return HP_OK;
    size_t M = h->problem->collocation.n, nn = h->mesh->n_nodes, ne = n_entries(h), nm = h->n_moments;
    HP_CALL(hp_calloc(ne * (nm ? nm : 1), sizeof(double), &h->jac_fm));
    HP_CALL(hp_calloc((size_t)h->C * M, sizeof(double), &h->mf_jet));
    HP_CALL(hp_calloc(nn, sizeof(double), &h->mf_nodes));
    HP_CALL(hp_calloc(nm ? nm : 1, sizeof(double), &h->mf_dm));
    HP_CALL(hp_calloc(ne, sizeof(double), &h->mf_dk));
    HP_CALL(hp_calloc(hp__hybrid_n_params(h), sizeof(double), &h->mf_theta));
    return HP_OK;
}

hp_status hp__hybrid_linearize(void *ctx, const double *theta, double *r) {
    hp__hybrid *h = ctx;
    double value, t_start = hp__now_seconds();
    HP_CALL(free_alloc(h));
    HP_CALL(hp__hybrid_evaluate(h, theta, &value, NULL));
    int coupled = hp__coupling_active(&h->coupling, h->terms.fallback);
    HP_CALL(residual_vector(h, theta, r, coupled));
    if (coupled) {
        if (!HP_OP_PRESENT(h->up, moments_tangent))
            HP_ERROR(HP_ERR_CONFIG, "upscaling plugin '%s' has no moments_tangent, which matrix-free Gauss-Newton "
                                    "needs with the coupling on; use the dense lm or another upscaling plugin",
                     h->up_desc->name);
        size_t ne = n_entries(h), nm = h->n_moments;
        for (size_t e = 0; e < ne; e++) { /* row e of ∂K̃/∂m */
            memset(h->jac_unit, 0, ne * sizeof *h->jac_unit);
            h->jac_unit[e] = 1.0;
            HP_CALL(h->up->finish_backward(h->up_state, h->moments, h->jac_unit, h->jac_fm + e * nm));
        }
        for (int i = 0; i < h->n_dir; i++) HP_CALL(state_sensitivity(h, i));
    }
    memcpy(h->mf_theta, theta, hp__hybrid_n_params(h) * sizeof *theta);
    h->linearized = 1;
    h->timing.total_seconds += hp__now_seconds() - t_start;
    h->timing.evaluations++;
    return HP_OK;
}

static hp_status check_linearized(const hp__hybrid *h, const double *theta) {
    if (!h->linearized || memcmp(h->mf_theta, theta, hp__hybrid_n_params(h) * sizeof *theta) != 0)
        HP_ERROR(HP_ERR_INTERNAL, "Jacobian product at a point that was not linearized last (call linearize first)");
    return HP_OK;
}

/* The lifted tangent of direction i on a tape into dst. */
static hp_status lifted_tangent(hp__hybrid *h, int i, hp__tape *tape, int order, const double *theta,
                                const double *v, double *dst) {
    size_t off = (size_t)i * h->n_theta_dir;
    HP_CALL(hp__net_tangent(h->net[i], tape, theta + off, v + off, dst));
    if (h->problem->hard_bc) hp_jet_lift_forward(dst, dst, hp__tape_x(tape), 1, hp__tape_points(tape), order, h->dim);
    return HP_OK;
}

hp_status hp__hybrid_jvp(void *ctx, const double *theta, const double *v, double *Jv) {
    hp__hybrid *h = ctx;
    HP_CALL(check_linearized(h, theta));
    hp__problem *p = h->problem;
    const hp__point_set *col = &p->collocation;
    size_t M = col->n, nb = p->boundary.n, nn = h->mesh->n_nodes, d = (size_t)h->dim, ne = n_entries(h);
    int coupled = hp__coupling_active(&h->coupling, h->terms.fallback);
    double t_start = hp__now_seconds();
    size_t row = 0;
    if (coupled) memset(h->mf_dm, 0, h->n_moments * sizeof *h->mf_dm);
    hp_upscaling_input in;
    hp__hybrid_upscaling_input(h, &in);
    for (int i = 0; i < h->n_dir; i++) {
        /* PINN rows: the residual's linear part of the collocation tangent */
        HP_CALL(lifted_tangent(h, i, h->tape_colloc[i], 2, theta, v, h->mf_jet));
        hp__pinn_residual_linear(col, h->dim, h->mf_jet, Jv + row);
        if (h->avg_on) { /* P dρ into the averaged rows (after the coupling rows) */
            double *ga = Jv + row + M + nb + nn, sa = hp__residual_average_row_scale(&h->avg, h->tau3);
            (void)hp__residual_average_forward(&h->avg, Jv + row, ga);
            for (size_t k = 0; k < n_avg(h); k++) ga[k] *= sa;
        }
        double sp = sqrt(2.0 / (double)p->collocation_total);
        for (size_t q = 0; q < M; q++) Jv[row + q] *= sp;
        row += M;
        if (coupled) { /* the tangent of ∇v_i (and v_i) into the moments */
            for (size_t r = 0; r < M; r++) {
                h->d_val_u[(size_t)i * M + r] = h->mf_jet[r];
                for (size_t a = 0; a < d; a++) h->d_grad_u[((size_t)i * M + r) * d + a] = h->mf_jet[(1 + a) * M + r];
            }
        }
        if (nb) {
            double sb = sqrt(2.0 * h->tau1 / (double)nb);
            size_t off = (size_t)i * h->n_theta_dir;
            HP_CALL(hp__net_tangent(h->net[i], h->tape_boundary[i], theta + off, v + off, Jv + row));
            for (size_t q = 0; q < nb; q++) Jv[row + q] *= sb;
            row += nb;
        }
        row += nn + n_avg(h); /* coupling rows: below, once dK̃ is known */
    }
    if (coupled) {
        HP_CALL(h->up->moments_tangent(h->up_state, &in, h->needs_values ? h->d_val_u : NULL, h->d_grad_u, h->mf_dm));
        if (p->distributed) HP_CALL(hp__comm_sum(HP_OK, h->mf_dm, h->n_moments)); /* dK̃ sees every rank's points */
        for (size_t e = 0; e < ne; e++) {
            double s = 0.0;
            for (size_t j = 0; j < h->n_moments; j++) s += h->jac_fm[e * h->n_moments + j] * h->mf_dm[j];
            h->mf_dk[e] = s;
        }
    }
    row = 0;
    for (int i = 0; i < h->n_dir; i++) {
        if (!holds_shared_rows(h)) memset(Jv + row + M, 0, nb * sizeof *Jv); /* rank 0 holds the boundary rows */
        row += M + nb;
        double *out = Jv + row;
        if (!coupled || !holds_shared_rows(h)) {
            memset(out, 0, nn * sizeof *out);
            row += nn + n_avg(h);
            continue;
        }
        /* s_k (Q̄ dv − ŷmap(∂y/∂K̃ dK̃)) */
        HP_CALL(lifted_tangent(h, i, h->tape_nodes[i], 0, theta, v, h->mf_nodes));
        hp__compression_apply(h->coupling.Q, h->mf_nodes, h->node_work);
        const double *dy = h->jac_dy + (size_t)i * nn * ne;
        for (size_t k = 0; k < nn; k++) {
            double s = 0.0;
            for (size_t e = 0; e < ne; e++) s += dy[k * ne + e] * h->mf_dk[e];
            h->mf_nodes[k] = s;
        }
        hp__coupling_yhat_map(&h->coupling, h->mf_nodes, h->jac_tmp);
        for (size_t k = 0; k < nn; k++)
            out[k] = hp__coupling_row_scale(&h->coupling, k) * (h->node_work[k] - h->jac_tmp[k]);
        row += nn + n_avg(h);
    }
    h->timing.total_seconds += hp__now_seconds() - t_start;
    return HP_OK;
}

hp_status hp__hybrid_vjp(void *ctx, const double *theta, const double *u, double *JTu) {
    hp__hybrid *h = ctx;
    HP_CALL(check_linearized(h, theta));
    hp__problem *p = h->problem;
    const hp__point_set *col = &p->collocation;
    size_t M = col->n, nb = p->boundary.n, nn = h->mesh->n_nodes, d = (size_t)h->dim, ne = n_entries(h);
    size_t stride = M + nb + nn + n_avg(h);
    int coupled = hp__coupling_active(&h->coupling, h->terms.fallback);
    double t_start = hp__now_seconds();
    memset(JTu, 0, hp__hybrid_n_params(h) * sizeof *JTu);
    /* the coupling rows through ŷ(K̃): w = Σ_i (∂y_i/∂K̃)ᵀ ŷmapᵀ(−s u_i), then the
     * upscaling's reverse onto ∇v_i, v_i at the collocation points */
    if (coupled) {
        memset(h->mf_dk, 0, ne * sizeof *h->mf_dk);
        for (int i = 0; i < h->n_dir; i++) {
            const double *uc = u + (size_t)i * stride + M + nb;
            for (size_t k = 0; k < nn; k++) h->node_work[k] = -hp__coupling_row_scale(&h->coupling, k) * uc[k];
            memset(h->mf_nodes, 0, nn * sizeof *h->mf_nodes);
            hp__coupling_yhat_map_transpose(&h->coupling, h->node_work, h->mf_nodes);
            const double *dy = h->jac_dy + (size_t)i * nn * ne;
            for (size_t k = 0; k < nn; k++)
                for (size_t e = 0; e < ne; e++) h->mf_dk[e] += dy[k * ne + e] * h->mf_nodes[k];
        }
        /* the coupling rows are rank 0's (zero elsewhere): the sum gives every rank their dK̃ */
        if (p->distributed) HP_CALL(hp__comm_sum(HP_OK, h->mf_dk, ne));
        for (size_t j = 0; j < h->n_moments; j++) {
            double s = 0.0;
            for (size_t e = 0; e < ne; e++) s += h->jac_fm[e * h->n_moments + j] * h->mf_dk[e];
            h->mf_dm[j] = s;
        }
        memset(h->d_grad_u, 0, (size_t)h->n_dir * M * d * sizeof *h->d_grad_u);
        memset(h->d_val_u, 0, (size_t)h->n_dir * M * sizeof *h->d_val_u);
        hp_upscaling_input in;
        hp__hybrid_upscaling_input(h, &in);
        HP_CALL(h->up->moments_backward(h->up_state, &in, h->mf_dm, h->needs_values ? h->d_val_u : NULL,
                                        h->d_grad_u));
    }
    for (int i = 0; i < h->n_dir; i++) {
        const double *ui = u + (size_t)i * stride;
        /* PINN rows (+ the K̃ part) through the collocation networks */
        double sp = sqrt(2.0 / (double)p->collocation_total);
        for (size_t q = 0; q < M; q++) h->rho[q] = sp * ui[q];
        if (h->avg_on)
            hp__residual_average_pullback(&h->avg, ui + M + nb + nn, hp__residual_average_row_scale(&h->avg, h->tau3),
                                          h->rho);
        hp__pinn_residual_pullback(col, h->dim, h->rho, h->mf_jet);
        if (coupled) {
            for (size_t r = 0; r < M; r++) {
                h->mf_jet[r] = h->d_val_u[(size_t)i * M + r];
                for (size_t a = 0; a < d; a++) h->mf_jet[(1 + a) * M + r] += h->d_grad_u[((size_t)i * M + r) * d + a];
            }
        }
        HP_CALL(hp__hybrid_network_backward(h, i, h->tape_colloc[i], theta, h->mf_jet, JTu));
        if (nb) {
            double sb = sqrt(2.0 * h->tau1 / (double)nb);
            for (size_t q = 0; q < nb; q++) h->bnd_val[q] = sb * ui[M + q];
            HP_CALL(hp__net_backward(h->net[i], h->tape_boundary[i], theta + (size_t)i * h->n_theta_dir, h->bnd_val,
                                     JTu + (size_t)i * h->n_theta_dir));
        }
        if (coupled) { /* z = Q̄ v: Q̄ᵀ (s u) onto the nodes */
            const double *uc = ui + M + nb;
            for (size_t k = 0; k < nn; k++) h->node_work[k] = hp__coupling_row_scale(&h->coupling, k) * uc[k];
            memset(h->mf_nodes, 0, nn * sizeof *h->mf_nodes);
            hp__compression_apply_transpose(h->coupling.Q, h->node_work, h->mf_nodes);
            HP_CALL(hp__hybrid_network_backward(h, i, h->tape_nodes[i], theta, h->mf_nodes, JTu));
        }
    }
    if (p->distributed) HP_CALL(hp__comm_sum(HP_OK, JTu, hp__hybrid_n_params(h)));
    h->timing.total_seconds += hp__now_seconds() - t_start;
    return HP_OK;
}
