/* blocks.c — block-wise upscaling, Algorithm 2 / (36) (docs/math.md §2.4).
 *
 * Ω is split into N_b^d equal blocks V_j; the points inside V_j give the weighted
 * averages (∇w_i = ∇u_i + e_i, column i = direction i)
 *     T^j[:, i] = <∇w_i>_{V_j},   F^j[:, i] = <K ∇w_i>_{V_j},
 * and K̃^j = F^j (T^j)^{-1}. A block whose T^j is (numerically) singular — no
 * points, or cond_2(T^j) above `singular_condition` — makes finish fail with
 * HP_ERR_NUMERIC naming it, after the report (condition numbers, positive
 * definiteness of every block) has been filled. The moments per block are the
 * sums behind the averages (total weight, Σ w ∇w_i, Σ w K ∇w_i); backward:
 *     dF = dK̃ T^{-T},  dT = -K̃ᵀ dF,
 * through the averages to the sums, then to each point's gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpinn/plugin.h"
#include "hpinn/upscaling.h"

static const hp_param_def blocks_params[] = {
    {"blocks", HP_PARAM_INT, "4", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 1024, NULL, 0,
     "blocks per dimension N_b (N_b^d blocks; the coarse mesh must be a multiple)"},
    {"singular_condition", HP_PARAM_REAL, "1e12", HP_PARAM_HAS_MIN, 1, 0, NULL, 0,
     "cond_2(T^j) above which a block's averaged gradients count as singular"},
    HP_PARAM_END};

typedef struct blocks_state {
    int dim, nb;
    size_t n_blocks;
    double singular_condition;
    double *W;   /* n_blocks: total weight */
    double *T;   /* n_blocks x d x d */
    double *F;   /* n_blocks x d x d */
    double *Tinv;/* n_blocks x d x d */
    double *Kt;  /* n_blocks x d x d */
} blocks_state;

static void blocks_destroy(void *state) {
    blocks_state *s = state;
    if (!s) return;
    free(s->W);
    free(s->T);
    free(s->F);
    free(s->Tinv);
    free(s->Kt);
    free(s);
}

static hp_status blocks_create(const hp_params *params, int dim, void **out) {
    if (dim != 1 && dim != 2)
        HP_ERROR(HP_ERR_CONFIG, "upscaling plugin blocks supports dim 1 or 2, got %d", dim);
    blocks_state *s = NULL;
    hp_status st;
    HP_CALL(hp_calloc(1, sizeof *s, &s));
    s->dim = dim;
    s->nb = (int)hp_params_int(params, "blocks");
    s->singular_condition = hp_params_real(params, "singular_condition");
    s->n_blocks = dim == 1 ? (size_t)s->nb : (size_t)s->nb * (size_t)s->nb;
    size_t dd = (size_t)dim * dim;
    HP_CALL_GOTO(st, hp_calloc(s->n_blocks, sizeof(double), &s->W), fail);
    HP_CALL_GOTO(st, hp_calloc(s->n_blocks * dd, sizeof(double), &s->T), fail);
    HP_CALL_GOTO(st, hp_calloc(s->n_blocks * dd, sizeof(double), &s->F), fail);
    HP_CALL_GOTO(st, hp_calloc(s->n_blocks * dd, sizeof(double), &s->Tinv), fail);
    HP_CALL_GOTO(st, hp_calloc(s->n_blocks * dd, sizeof(double), &s->Kt), fail);
    *out = s;
    return HP_OK;
fail:
    blocks_destroy(s);
    return st;
}

static int blocks_blocks_per_dim(const void *state) { return ((const blocks_state *)state)->nb; }
static int blocks_n_directions(const void *state) { return ((const blocks_state *)state)->dim; }
static int blocks_needs_values(const void *state) { (void)state; return 0; }

/* Block of a point: floor(x N_b) per coordinate, clamped to the grid. */
static size_t block_of(const blocks_state *s, const double *x) {
    size_t b = 0, stride = 1;
    for (int a = 0; a < s->dim; ++a) {
        int k = (int)floor(x[a] * s->nb);
        if (k < 0) k = 0;
        if (k >= s->nb) k = s->nb - 1;
        b += (size_t)k * stride;
        stride *= (size_t)s->nb;
    }
    return b;
}

/* cond_2 of a d x d matrix (d <= 2) and its inverse; returns inf when singular. */
static double condition_and_inverse(int d, const double *T, double *Tinv) {
    if (d == 1) {
        if (T[0] == 0.0 || !isfinite(T[0])) return INFINITY;
        Tinv[0] = 1.0 / T[0];
        return 1.0;
    }
    double det = T[0] * T[3] - T[1] * T[2];
    double fro2 = T[0] * T[0] + T[1] * T[1] + T[2] * T[2] + T[3] * T[3];
    if (det == 0.0 || !isfinite(det) || !isfinite(fro2)) return INFINITY;
    double disc = fro2 * fro2 - 4.0 * det * det;
    double smax2 = 0.5 * (fro2 + sqrt(disc > 0.0 ? disc : 0.0));
    Tinv[0] = T[3] / det;
    Tinv[1] = -T[1] / det;
    Tinv[2] = -T[2] / det;
    Tinv[3] = T[0] / det;
    return smax2 / fabs(det); /* σmax/σmin = σmax² / |det| */
}

static int symmetric_part_spd(int d, const double *K) {
    if (d == 1) return K[0] > 0.0;
    double o = 0.5 * (K[1] + K[2]);
    return K[0] > 0.0 && K[0] * K[3] - o * o > 0.0;
}

static hp_status check_input(const blocks_state *s, const hp_upscaling_input *in) {
    if (in->dim != s->dim)
        HP_ERROR(HP_ERR_INTERNAL, "upscaling blocks: input has dim %d, plugin was created for %d",
                 in->dim, s->dim);
    if (in->n_directions < s->dim)
        HP_ERROR(HP_ERR_INTERNAL, "upscaling blocks: %d direction problem(s) given, %d needed",
                 in->n_directions, s->dim);
    if (!in->x || !in->weights || !in->K || !in->grad)
        HP_ERROR(HP_ERR_INTERNAL, "upscaling blocks: missing points, weights, K or gradients");
    return HP_OK;
}

/* Moments per block b, at m + b*(1 + 2dd): the total weight W, then the sums
 * S_T = Σ w ∇w_i and S_F = Σ w K ∇w_i (d x d each, column i = direction i), so
 * T = S_T / W and F = S_F / W. */
static size_t blocks_n_moments(const void *state) {
    const blocks_state *s = state;
    return s->n_blocks * (1 + 2 * (size_t)s->dim * (size_t)s->dim);
}

static hp_status blocks_moments(void *state, const hp_upscaling_input *in, double *m) {
    blocks_state *s = state;
    HP_CALL(check_input(s, in));
    int d = s->dim;
    size_t dd = (size_t)d * d, P = in->n_points, stride = 1 + 2 * dd;
    for (size_t r = 0; r < P; ++r) {
        size_t b = block_of(s, in->x + r * d);
        double *mb = m + b * stride, w = in->weights[r], wK = w * in->K[r];
        mb[0] += w;
        for (int i = 0; i < d; ++i)
            for (int a = 0; a < d; ++a) {
                double g = in->grad[((size_t)i * P + r) * d + a] + (a == i ? 1.0 : 0.0);
                mb[1 + a * d + i] += w * g;
                mb[1 + dd + a * d + i] += wK * g;
            }
    }
    return HP_OK;
}

/* T, F per block from the moments, their inverse/condition, K̃. Returns the
 * number of singular blocks; the first is stored in *first. */
static int compute_blocks(blocks_state *s, const double *m, double *cond_out, size_t *first) {
    int d = s->dim;
    size_t dd = (size_t)d * d, stride = 1 + 2 * dd;
    int singular = 0;
    for (size_t b = 0; b < s->n_blocks; ++b) {
        const double *mb = m + b * stride;
        double *T = s->T + b * dd, *F = s->F + b * dd, *Ti = s->Tinv + b * dd, *K = s->Kt + b * dd;
        s->W[b] = mb[0];
        double cond = INFINITY;
        if (s->W[b] > 0.0) {
            for (size_t t = 0; t < dd; ++t) {
                T[t] = mb[1 + t] / s->W[b];
                F[t] = mb[1 + dd + t] / s->W[b];
            }
            cond = condition_and_inverse(d, T, Ti);
        }
        if (cond_out) cond_out[b] = cond;
        if (!(cond <= s->singular_condition)) {
            if (!singular++) *first = b;
            memset(K, 0, sizeof(double) * dd);
            memset(Ti, 0, sizeof(double) * dd);
            continue;
        }
        for (int j = 0; j < d; ++j)
            for (int i = 0; i < d; ++i) {
                double v = 0.0;
                for (int a = 0; a < d; ++a) v += F[j * d + a] * Ti[a * d + i];
                K[j * d + i] = v;
            }
    }
    return singular;
}

static hp_status blocks_finish(void *state, const double *m, double *Kt, hp_upscaling_report *report) {
    blocks_state *s = state;
    size_t dd = (size_t)s->dim * s->dim, first = 0;
    int singular = compute_blocks(s, m, report ? report->condition : NULL, &first);
    memcpy(Kt, s->Kt, sizeof(double) * s->n_blocks * dd);
    int not_pd = 0;
    for (size_t b = 0; b < s->n_blocks; ++b) {
        int pd = symmetric_part_spd(s->dim, s->Kt + b * dd);
        for (size_t t = 0; t < dd; ++t) pd &= isfinite(s->Kt[b * dd + t]) != 0;
        not_pd += !pd;
        if (report && report->positive_definite) report->positive_definite[b] = (unsigned char)pd;
    }
    if (report) {
        report->n_not_positive_definite = not_pd;
        report->n_singular = singular;
    }
    if (singular) {
        char where[32] = "";
        if (s->dim == 2)
            snprintf(where, sizeof where, " (%d, %d)", (int)(first % (size_t)s->nb), (int)(first / (size_t)s->nb));
        HP_ERROR(HP_ERR_NUMERIC, "block upscaling: averaged gradient matrix T^j of block %zu%s is "
                                 "singular (%s); %d of %zu blocks singular — use fewer blocks or "
                                 "check the direction solutions",
                 first, where, s->W[first] > 0.0 ? "condition number above singular_condition" : "no points in the block",
                 singular, s->n_blocks);
    }
    return HP_OK;
}

/* Per block: GF = dK̃ T^{-T}, GT = -K̃ᵀ GF are dL/dF and dL/dT; with T = S_T/W,
 * F = S_F/W: dL/dS_T = GT/W, dL/dS_F = GF/W, dL/dW = -(GT:T + GF:F)/W. */
static hp_status blocks_finish_backward(void *state, const double *m, const double *dKt, double *dm) {
    blocks_state *s = state;
    int d = s->dim;
    size_t dd = (size_t)d * d, stride = 1 + 2 * dd, first = 0;
    if (compute_blocks(s, m, NULL, &first))
        HP_ERROR(HP_ERR_NUMERIC, "block upscaling backward: T^j of block %zu is singular", first);
    for (size_t b = 0; b < s->n_blocks; ++b) {
        const double *G = dKt + b * dd, *Ti = s->Tinv + b * dd, *K = s->Kt + b * dd;
        const double *T = s->T + b * dd, *F = s->F + b * dd;
        double GF[4], GT[4], dW = 0.0, *db = dm + b * stride;
        for (int j = 0; j < d; ++j)
            for (int a = 0; a < d; ++a) {
                double v = 0.0;
                for (int i = 0; i < d; ++i) v += G[j * d + i] * Ti[a * d + i];
                GF[j * d + a] = v;
            }
        for (int a = 0; a < d; ++a)
            for (int i = 0; i < d; ++i) {
                double v = 0.0;
                for (int j = 0; j < d; ++j) v += K[j * d + a] * GF[j * d + i];
                GT[a * d + i] = -v;
            }
        for (size_t t = 0; t < dd; ++t) {
            db[1 + t] = GT[t] / s->W[b];
            db[1 + dd + t] = GF[t] / s->W[b];
            dW -= GT[t] * T[t] + GF[t] * F[t];
        }
        db[0] = dW / s->W[b];
    }
    return HP_OK;
}

static hp_status blocks_moments_backward(void *state, const hp_upscaling_input *in, const double *dm, double *dv,
                                         double *dgrad) {
    (void)dv;
    blocks_state *s = state;
    HP_CALL(check_input(s, in));
    int d = s->dim;
    size_t dd = (size_t)d * d, P = in->n_points, stride = 1 + 2 * dd;
    for (size_t r = 0; r < P; ++r) {
        size_t b = block_of(s, in->x + r * d);
        const double *db = dm + b * stride;
        double w = in->weights[r], wK = w * in->K[r];
        for (int i = 0; i < d; ++i)
            for (int a = 0; a < d; ++a)
                dgrad[((size_t)i * P + r) * d + a] += w * db[1 + a * d + i] + wK * db[1 + dd + a * d + i];
    }
    return HP_OK;
}

/* The sums are affine in the gradients: dS_T = Σ w d∇u_i, dS_F = Σ w K d∇u_i. */
static hp_status blocks_moments_tangent(void *state, const hp_upscaling_input *in, const double *d_v,
                                        const double *d_grad, double *dm) {
    (void)d_v;
    blocks_state *s = state;
    HP_CALL(check_input(s, in));
    int d = s->dim;
    size_t dd = (size_t)d * d, P = in->n_points, stride = 1 + 2 * dd;
    for (size_t r = 0; r < P; ++r) {
        size_t b = block_of(s, in->x + r * d);
        double *mb = dm + b * stride, w = in->weights[r], wK = w * in->K[r];
        for (int i = 0; i < d; ++i)
            for (int a = 0; a < d; ++a) {
                double g = d_grad[((size_t)i * P + r) * d + a];
                mb[1 + a * d + i] += w * g;
                mb[1 + dd + a * d + i] += wK * g;
            }
    }
    return HP_OK;
}

static const hp_upscaling_ops blocks_ops = {
    .struct_size = sizeof(hp_upscaling_ops),
    .create = blocks_create,
    .destroy = blocks_destroy,
    .blocks_per_dim = blocks_blocks_per_dim,
    .n_directions = blocks_n_directions,
    .n_moments = blocks_n_moments,
    .moments = blocks_moments,
    .finish = blocks_finish,
    .finish_backward = blocks_finish_backward,
    .moments_backward = blocks_moments_backward,
    .needs_values = blocks_needs_values,
    .moments_tangent = blocks_moments_tangent,
};

HP_PLUGIN_DEFINE(HP_PLUGIN_UPSCALING, "blocks", "1.0.0",
                 "block-wise upscaling, Algorithm 2 / (36): K̃^j = F^j (T^j)^-1 per block",
                 blocks_params, &blocks_ops)
