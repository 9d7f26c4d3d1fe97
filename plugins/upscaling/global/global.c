/* global.c — global upscaling (V = Ω, docs/math.md §2.2–§2.3): K̃ from the fine-scale
 * correctors u_i at weighted points, one tensor for the whole domain.
 *
 *   flux   (43): K̃_ji = Σ_r w_r K_r (∂_j u_i + δ_ij)
 *   energy (44): K̃_ij = Σ_r w_r K_r ∇w_i·∇w_j − Σ_r w_r q_r u_i,   ∇w_i = ∇u_i + e_i
 *
 * isotropic: only direction 1 is used and K̃ = K̃_11 I (flux: Σ w K (∂_1 u_1 + 1);
 * energy: Σ w K |∇w_1|² − Σ w q u_1). anisotropic: all d directions, the full
 * tensor, not symmetrized. In 1-D both modes are the scalar case. The two forms
 * agree for exact (or Galerkin-consistent) solutions and differ for network
 * approximations. The moments are the accumulated tensor itself; the reverse
 * pass is the exact transpose of each formula. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hpinn/plugin.h"
#include "hpinn/upscaling.h"

static const hp_param_def global_params[] = {
    {"form", HP_PARAM_ENUM, "flux", 0, 0, 0, "flux|energy", 0,
     "flux: (43) K̃e_i = <K(∇u_i + e_i)>; energy: (44) <∇w_i·K∇w_j> - ∫ q u_i"},
    {"mode", HP_PARAM_ENUM, "anisotropic", 0, 0, 0, "isotropic|anisotropic", 0,
     "isotropic: one direction problem, K̃ = K̃_11 I; anisotropic: d problems, full tensor"},
    HP_PARAM_END};

typedef struct global_state {
    int dim, energy, isotropic, n_dir;
} global_state;

static hp_status global_create(const hp_params *params, int dim, void **out) {
    if (dim != 1 && dim != 2)
        HP_ERROR(HP_ERR_CONFIG, "upscaling plugin global supports dim 1 or 2, got %d", dim);
    global_state *s = NULL;
    HP_CALL(hp_calloc(1, sizeof *s, &s));
    s->dim = dim;
    s->energy = hp_params_enum_index(params, "form") == 1;
    s->isotropic = hp_params_enum_index(params, "mode") == 0;
    s->n_dir = (s->isotropic || dim == 1) ? 1 : dim;
    *out = s;
    return HP_OK;
}

static void global_destroy(void *state) { free(state); }
static int global_blocks_per_dim(const void *state) { (void)state; return 1; }
static int global_n_directions(const void *state) { return ((const global_state *)state)->n_dir; }
static int global_needs_values(const void *state) { return ((const global_state *)state)->energy; }

static hp_status check_input(const global_state *s, const hp_upscaling_input *in) {
    if (in->dim != s->dim)
        HP_ERROR(HP_ERR_INTERNAL, "upscaling global: input has dim %d, plugin was created for %d",
                 in->dim, s->dim);
    if (in->n_directions < s->n_dir)
        HP_ERROR(HP_ERR_INTERNAL, "upscaling global: %d direction problem(s) given, %d needed",
                 in->n_directions, s->n_dir);
    if (!in->weights || !in->K || !in->grad || (s->energy && !in->v))
        HP_ERROR(HP_ERR_INTERNAL, "upscaling global: missing weights, K, gradients%s",
                 s->energy ? " or values (energy form)" : "");
    return HP_OK;
}

/* Symmetric part SPD (2x2 or scalar). */
static int symmetric_part_spd(int d, const double *K) {
    if (d == 1) return K[0] > 0.0;
    double o = 0.5 * (K[1] + K[2]);
    return K[0] > 0.0 && K[0] * K[3] - o * o > 0.0;
}

static size_t global_n_moments(const void *state) {
    const global_state *s = state;
    return (size_t)s->dim * (size_t)s->dim;
}

/* The moments are the accumulated tensor acc of (43) or (44) itself. */
static hp_status global_moments(void *state, const hp_upscaling_input *in, double *acc) {
    global_state *s = state;
    HP_CALL(check_input(s, in));
    int d = s->dim;
    size_t P = in->n_points;
    for (size_t r = 0; r < P; ++r) {
        double wK = in->weights[r] * in->K[r];
        double gw[2][2]; /* ∇w_i = ∇u_i + e_i */
        for (int i = 0; i < s->n_dir; ++i)
            for (int a = 0; a < d; ++a)
                gw[i][a] = in->grad[((size_t)i * P + r) * d + a] + (a == i ? 1.0 : 0.0);
        if (!s->energy) {
            for (int i = 0; i < s->n_dir; ++i)
                for (int j = 0; j < d; ++j) acc[j * d + i] += wK * gw[i][j];
        } else {
            double wq = in->q ? in->weights[r] * in->q[r] : 0.0;
            for (int i = 0; i < s->n_dir; ++i) {
                double qu = wq * in->v[(size_t)i * P + r];
                for (int j = 0; j < s->n_dir; ++j) {
                    double dot = 0.0;
                    for (int a = 0; a < d; ++a) dot += gw[i][a] * gw[j][a];
                    acc[i * d + j] += wK * dot - qu;
                }
            }
        }
    }
    return HP_OK;
}

static hp_status global_finish(void *state, const double *acc, double *Kt, hp_upscaling_report *report) {
    global_state *s = state;
    int d = s->dim;
    memset(Kt, 0, sizeof(double) * (size_t)d * d);
    if (s->isotropic || d == 1) {
        for (int a = 0; a < d; ++a) Kt[a * d + a] = acc[0];
    } else {
        memcpy(Kt, acc, sizeof(double) * (size_t)d * d);
    }
    int finite = 1;
    for (int t = 0; t < d * d; ++t) finite &= isfinite(Kt[t]) != 0;
    int pd = finite && symmetric_part_spd(d, Kt);
    if (report) {
        if (report->positive_definite) report->positive_definite[0] = (unsigned char)pd;
        if (report->condition) report->condition[0] = 1.0;
        report->n_not_positive_definite = !pd;
        report->n_singular = 0;
    }
    if (!finite) HP_ERROR(HP_ERR_NUMERIC, "upscaled coefficient is not finite (non-finite input data)");
    return HP_OK;
}

/* dL/dacc: the isotropic tensor repeats acc[0] on the diagonal. */
static hp_status global_finish_backward(void *state, const double *acc, const double *dKt, double *G) {
    (void)acc;
    global_state *s = state;
    int d = s->dim;
    memset(G, 0, sizeof(double) * (size_t)d * d);
    if (s->isotropic || d == 1) {
        double tr = 0.0;
        for (int a = 0; a < d; ++a) tr += dKt[a * d + a];
        G[0] = tr;
    } else {
        memcpy(G, dKt, sizeof(double) * (size_t)d * d);
    }
    return HP_OK;
}

static hp_status global_moments_backward(void *state, const hp_upscaling_input *in, const double *G, double *dv,
                                         double *dgrad) {
    global_state *s = state;
    HP_CALL(check_input(s, in));
    int d = s->dim;
    size_t P = in->n_points;
    if (s->energy && !dv) HP_ERROR(HP_ERR_INTERNAL, "upscaling global (energy form): dv is NULL");
    for (size_t r = 0; r < P; ++r) {
        double wK = in->weights[r] * in->K[r];
        if (!s->energy) {
            for (int i = 0; i < s->n_dir; ++i)
                for (int j = 0; j < d; ++j) dgrad[((size_t)i * P + r) * d + j] += wK * G[j * d + i];
            continue;
        }
        double gw[2][2];
        for (int i = 0; i < s->n_dir; ++i)
            for (int a = 0; a < d; ++a)
                gw[i][a] = in->grad[((size_t)i * P + r) * d + a] + (a == i ? 1.0 : 0.0);
        double wq = in->q ? in->weights[r] * in->q[r] : 0.0;
        for (int i = 0; i < s->n_dir; ++i) {
            double row = 0.0;
            for (int a = 0; a < d; ++a) {
                double g = 0.0;
                for (int j = 0; j < s->n_dir; ++j) g += (G[i * d + j] + G[j * d + i]) * gw[j][a];
                dgrad[((size_t)i * P + r) * d + a] += wK * g;
            }
            for (int j = 0; j < s->n_dir; ++j) row += G[i * d + j];
            dv[(size_t)i * P + r] -= wq * row;
        }
    }
    return HP_OK;
}

/* Flux: dacc_ji = Σ wK d∂_j u_i. Energy: d(∇w_i·∇w_j) = d∇u_i·∇w_j + ∇w_i·d∇u_j, and
 * −Σ wq du_i. */
static hp_status global_moments_tangent(void *state, const hp_upscaling_input *in, const double *d_v,
                                        const double *d_grad, double *dacc) {
    global_state *s = state;
    HP_CALL(check_input(s, in));
    int d = s->dim;
    size_t P = in->n_points;
    if (s->energy && !d_v) HP_ERROR(HP_ERR_INTERNAL, "upscaling global (energy form): d_v is NULL");
    for (size_t r = 0; r < P; ++r) {
        double wK = in->weights[r] * in->K[r];
        if (!s->energy) {
            for (int i = 0; i < s->n_dir; ++i)
                for (int j = 0; j < d; ++j) dacc[j * d + i] += wK * d_grad[((size_t)i * P + r) * d + j];
            continue;
        }
        double gw[2][2], dg[2][2];
        for (int i = 0; i < s->n_dir; ++i)
            for (int a = 0; a < d; ++a) {
                gw[i][a] = in->grad[((size_t)i * P + r) * d + a] + (a == i ? 1.0 : 0.0);
                dg[i][a] = d_grad[((size_t)i * P + r) * d + a];
            }
        double wq = in->q ? in->weights[r] * in->q[r] : 0.0;
        for (int i = 0; i < s->n_dir; ++i) {
            double dqu = wq * d_v[(size_t)i * P + r];
            for (int j = 0; j < s->n_dir; ++j) {
                double dot = 0.0;
                for (int a = 0; a < d; ++a) dot += dg[i][a] * gw[j][a] + gw[i][a] * dg[j][a];
                dacc[i * d + j] += wK * dot - dqu;
            }
        }
    }
    return HP_OK;
}

static const hp_upscaling_ops global_ops = {
    .struct_size = sizeof(hp_upscaling_ops),
    .create = global_create,
    .destroy = global_destroy,
    .blocks_per_dim = global_blocks_per_dim,
    .n_directions = global_n_directions,
    .n_moments = global_n_moments,
    .moments = global_moments,
    .finish = global_finish,
    .finish_backward = global_finish_backward,
    .moments_backward = global_moments_backward,
    .needs_values = global_needs_values,
    .moments_tangent = global_moments_tangent,
};

HP_PLUGIN_DEFINE(HP_PLUGIN_UPSCALING, "global", "1.0.0",
                 "global upscaling on Ω: flux (43) or energy (44), isotropic or anisotropic",
                 global_params, &global_ops)
