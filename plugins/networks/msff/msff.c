/* msff.c — the multiscale Fourier feature network of the paper (§4.4), "msff".
 *
 *   for k = 1..K:  e_k = [cos(2 pi B_k x), sin(2 pi B_k x)]          (2m features)
 *                  h_k = [dense, activation] x depth applied to e_k  (SHARED layers)
 *   v = W_out [h_1; ...; h_K] + b_out                               (linear output)
 *
 * with B_k (m x d) ~ N(0, sigma_k^2), sigma_k from `sigmas` (paper: [1, 1/eps]).
 * Everything runs on jets (hpinn/jets.h), so the output carries v, grad v, Lap v.
 *
 * Two-scale output (optional, `lattice`): for a coefficient periodic on a known
 * lattice (rows of L, r x d, e.g. diag(1/eps) or [2/eps, -1/eps] for a laminate),
 * the network gives 1 + P channels per output and
 *     v = N_0(x) + sum_p N_p(x) phi_p(x),
 *     phi_p = cos(w_p . x) / |w_p|  or  sin(w_p . x) / |w_p|,  w_p = 2 pi L^T k_p,
 * over the integer vectors k_p with 0 < |k_p|_inf <= lattice_modes (one of each
 * pair +-k). This is the form of the two-scale expansion u0(x) + eps chi(x/eps)
 * grad u0(x) + ...: smooth amplitudes times cell-periodic functions, which a
 * plain network must otherwise synthesise from many random features. The 1/|w|
 * keeps grad phi_p of order one, as eps chi(x/eps) is. The phi_p are fixed (no
 * parameters); jets of the product follow the product rule (value, gradient,
 * Laplacian: L(N phi) = phi L N + 2 grad N . grad phi + N L phi).
 *
 * theta layout (row-major blocks, in this order):
 *   embedding<k>.B (m x d), k = 1..K            only with trainable_features: true
 *   hidden1.weight (width x 2m), hidden1.bias (width),
 *   hidden<l>.weight (width x width), hidden<l>.bias (width), l = 2..depth,
 *   output.weight (n_outputs x K*width), output.bias (n_outputs).
 * Initialisation from `seed`: B from hp_rng stream 1 (drawn at create(), so the
 * frozen matrices live in the plugin state and are identical with or without
 * trainable_features), weights Glorot-normal from stream 0 in buffer order, zero
 * biases.
 *
 * Concatenation is free: the K last-hidden jets are written into adjacent row
 * blocks of one buffer, which IS their row concatenation, so the output layer is
 * a single dense kernel over it.
 *
 * Embedding cache: the embedding jets depend only on x and B. A tape keeps them
 * between passes, so training on a fixed point set computes them once; they are
 * recomputed when the tape's points change (chunk->fresh) and, with trainable
 * features, at every forward.
 *
 * hpinn's network runner (hpinn/network.h) cuts the points into chunks, runs
 * them on its threads and owns the tapes; this file says what the network does
 * to one chunk: forward, reverse (gradient or Jacobian rows) and tangent
 * (Jacobian-vector product). A chunk's tape holds its embeddings, then the pre-
 * and post-activation jets of every branch and layer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpinn/jets.h"
#include "hpinn/network.h"
#include "hpinn/plugin.h"
#include "hpinn/rng.h"

static const hp_param_def msff_params[] = {
    {"depth", HP_PARAM_INT, "2", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 64, NULL, 0,
     "number of hidden layers (shared by all embeddings)"},
    {"width", HP_PARAM_INT, "100", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 65536, NULL, 0,
     "units per hidden layer"},
    {"activation", HP_PARAM_ENUM, "tanh", 0, 0, 0, HP_ACTIVATION_CHOICES, 0,
     "hidden-layer activation"},
    {"swish_b", HP_PARAM_REAL, "1", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 0, 0, NULL, 0,
     "b of swish(z) = z sigmoid(b z); used only with activation: swish"},
    {"features", HP_PARAM_INT, "100", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 65536, NULL, 0,
     "m, rows of each B_k: every embedding gives 2m features (cos and sin)"},
    {"sigmas", HP_PARAM_REALS, NULL, HP_PARAM_REQUIRED | HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN,
     0, 0, NULL, 1,
     "standard deviations of the K embeddings' B_k ~ N(0, sigma_k^2), e.g. [1, 1/eps]"},
    {"trainable_features", HP_PARAM_BOOL, "false", 0, 0, 0, NULL, 0,
     "train the B_k too (they are then part of theta)"},
    {"lattice", HP_PARAM_REALS, NULL, 0, 0, 0, NULL, 0,
     "two-scale output: rows of the period lattice, r x d row-major (2-D: [1/eps, 0, 0, 1/eps]; laminate: "
     "[2/eps, -1/eps]; 1-D: [1/eps]); empty: the plain network"},
    {"lattice_modes", HP_PARAM_INT, "2", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 16, NULL, 0,
     "two-scale output: cell-periodic functions up to this |k|_inf per lattice direction"},
    {"seed", HP_PARAM_INT, "1", HP_PARAM_HAS_MIN, 0, 0, NULL, 0,
     "seed of B_k and of the Glorot initialisation (same seed, same theta, bit for bit)"},
    HP_NETWORK_RUNNER_PARAMS,
    HP_PARAM_END};

typedef struct msff_layer {
    size_t n_in, n_out;
    size_t weight, bias; /* offsets into theta */
} msff_layer;

/* One thread's scratch for a chunk of at most chunk_points points (C = 2 + d),
 * shared by the reverse and the tangent pass. */
typedef struct msff_scratch {
    double *d_concat;     /* K*width x C*q: (co)tangent of the concatenated last layer */
    double *d_a, *d_z;    /* width x C*q */
    double *d_embedding;  /* 2m x C*q, only with trainable features */
    double *inner;        /* n_inner x C*q: the channels before the two-scale output, or their (co)tangents */
} msff_scratch;

/* The jets of one chunk of q points (C*q columns) on its tape. */
typedef struct msff_chunk_jets {
    double *embedding;    /* K blocks of 2m x C*q */
    double *z, *a;        /* depth x K blocks of width x C*q; block (l, k) at (l*K + k) */
    double *phi;          /* P x C*q: the cell-periodic functions (two-scale output) */
} msff_chunk_jets;

typedef struct msff {
    int dim, n_outputs, depth, trainable;
    size_t width, m, K;
    hp_activation act;
    uint64_t seed;
    double *b_frozen;   /* K x m x d */
    size_t *b_offset;   /* K offsets into theta (trainable only) */
    size_t n_layers;    /* depth + 1 */
    msff_layer *layers;
    size_t n_params, n_blocks;
    hp_param_block *blocks;
    char *names;
    /* two-scale output: P cell-periodic functions (0: none); omega P x d, the
     * wave vector of each (cos for even p, sin for odd p); n_inner = n_outputs
     * (1 + P) channels of the network before the modulation */
    size_t P;
    double *omega;
    size_t n_inner;
} msff;

#define MSFF_NAME 32

static void msff_destroy(void *state) {
    msff *net = state;
    if (!net) return;
    free(net->b_frozen);
    free(net->b_offset);
    free(net->layers);
    free(net->blocks);
    free(net->names);
    free(net->omega);
    free(net);
}

/* The P cell-periodic functions of the two-scale output from `lattice`: every
 * integer k in [-modes, modes]^r except 0, one of each pair +-k (the first
 * nonzero entry positive), each giving a cos and a sin. */
static hp_status lattice_create(msff *net, const hp_params *params) {
    size_t len = 0, d = (size_t)net->dim;
    const double *L = hp_params_reals(params, "lattice", &len);
    net->n_inner = (size_t)net->n_outputs;
    if (len == 0) return HP_OK;
    if (len % d != 0)
        return hp_params_error(params, "lattice", "has %zu entries; expected rows of %zu (r x d row-major)", len, d);
    size_t r = len / d;
    if (r > 3) return hp_params_error(params, "lattice", "has %zu rows; expected at most 3", r);
    long modes = (long)hp_params_int(params, "lattice_modes");
    long side = 2 * modes + 1, total = 1;
    for (size_t i = 0; i < r; i++) total *= side;
    HP_CALL(hp_calloc((size_t)total * d, sizeof(double), &net->omega));
    size_t P = 0;
    for (long code = 0; code < total; code++) {
        long k[3] = {0, 0, 0}, c = code;
        for (size_t i = 0; i < r; i++, c /= side) k[i] = c % side - modes;
        size_t first = 0;
        while (first < r && k[first] == 0) first++;
        if (first == r || k[first] < 0) continue; /* zero, or the twin -k of one kept */
        double w[HP_JET_MAX_DIM] = {0}, norm = 0.0;
        for (size_t a = 0; a < d; a++) {
            for (size_t i = 0; i < r; i++) w[a] += 2.0 * 3.14159265358979323846 * (double)k[i] * L[i * d + a];
            norm += w[a] * w[a];
        }
        if (!(norm > 0.0))
            return hp_params_error(params, "lattice", "gives a zero wave vector; expected linearly independent rows");
        for (int twice = 0; twice < 2; twice++, P++) memcpy(net->omega + P * d, w, d * sizeof *w);
    }
    net->P = P;
    net->n_inner = (size_t)net->n_outputs * (1 + P);
    return HP_OK;
}

static hp_status msff_create(const hp_params *params, int input_dim, int n_outputs,
                             void **state) {
    if (input_dim < 1 || input_dim > HP_JET_MAX_DIM)
        HP_ERROR(HP_ERR_CONFIG, "msff: input dimension %d is not supported; expected 1..%d",
                 input_dim, HP_JET_MAX_DIM);
    if (n_outputs < 1)
        HP_ERROR(HP_ERR_CONFIG, "msff: %d outputs requested; expected at least 1", n_outputs);
    size_t K;
    const double *sigmas = hp_params_reals(params, "sigmas", &K);
    if (K < 1) /* the table's min_len makes this unreachable from a pipeline */
        return hp_params_error(params, "sigmas", "is empty; expected at least one sigma");

    msff *net;
    HP_CALL(hp_calloc(1, sizeof *net, &net));
    net->dim = input_dim;
    net->n_outputs = n_outputs;
    net->depth = (int)hp_params_int(params, "depth");
    net->width = (size_t)hp_params_int(params, "width");
    net->m = (size_t)hp_params_int(params, "features");
    net->K = K;
    net->trainable = hp_params_bool(params, "trainable_features");
    net->act.kind = (hp_activation_kind)hp_params_enum_index(params, "activation");
    net->act.b = hp_params_real(params, "swish_b");
    net->seed = (uint64_t)hp_params_int(params, "seed");
    net->n_layers = (size_t)net->depth + 1;

    hp_status st;
    size_t d = (size_t)input_dim, mbd = net->m * d;
    HP_CALL_GOTO(st, lattice_create(net, params), fail);
    HP_CALL_GOTO(st, hp_malloc(K * mbd * sizeof(double), &net->b_frozen), fail);
    HP_CALL_GOTO(st, hp_calloc(K, sizeof *net->b_offset, &net->b_offset), fail);
    HP_CALL_GOTO(st, hp_calloc(net->n_layers, sizeof *net->layers, &net->layers), fail);
    net->n_blocks = (net->trainable ? K : 0) + 2 * net->n_layers;
    HP_CALL_GOTO(st, hp_calloc(net->n_blocks, sizeof *net->blocks, &net->blocks), fail);
    HP_CALL_GOTO(st, hp_calloc(net->n_blocks, MSFF_NAME, &net->names), fail);

    hp_rng rng;
    hp_rng_seed(&rng, net->seed, 1);
    for (size_t k = 0; k < K; k++)
        for (size_t i = 0; i < mbd; i++) net->b_frozen[k * mbd + i] = sigmas[k] * hp_rng_normal(&rng);

    size_t off = 0, nb = 0;
    if (net->trainable) {
        for (size_t k = 0; k < K; k++, nb++) {
            char *name = net->names + nb * MSFF_NAME;
            snprintf(name, MSFF_NAME, "embedding%u.B", (unsigned)(k + 1));
            net->b_offset[k] = off;
            net->blocks[nb] = (hp_param_block){name, off, net->m, d};
            off += mbd;
        }
    }
    for (size_t l = 0; l < net->n_layers; l++) {
        msff_layer *L = &net->layers[l];
        int is_out = l + 1 == net->n_layers;
        L->n_in = is_out ? K * net->width : (l == 0 ? 2 * net->m : net->width);
        L->n_out = is_out ? net->n_inner : net->width;
        L->weight = off;
        off += L->n_out * L->n_in;
        L->bias = off;
        off += L->n_out;
        char *wn = net->names + nb * MSFF_NAME, *bn = wn + MSFF_NAME;
        if (is_out) {
            snprintf(wn, MSFF_NAME, "output.weight");
            snprintf(bn, MSFF_NAME, "output.bias");
        } else {
            snprintf(wn, MSFF_NAME, "hidden%u.weight", (unsigned)(l + 1));
            snprintf(bn, MSFF_NAME, "hidden%u.bias", (unsigned)(l + 1));
        }
        net->blocks[nb++] = (hp_param_block){wn, L->weight, L->n_out, L->n_in};
        net->blocks[nb++] = (hp_param_block){bn, L->bias, L->n_out, 1};
    }
    net->n_params = off;

    *state = net;
    return HP_OK;
fail:
    msff_destroy(net);
    return st;
}

static size_t msff_n_params(const void *state) { return ((const msff *)state)->n_params; }

static size_t msff_layout(const void *state, const hp_param_block **blocks) {
    const msff *net = state;
    *blocks = net->blocks;
    return net->n_blocks;
}

static hp_status msff_init(void *state, double *theta) {
    msff *net = state;
    size_t mbd = net->m * (size_t)net->dim;
    if (net->trainable)
        for (size_t k = 0; k < net->K; k++)
            memcpy(theta + net->b_offset[k], net->b_frozen + k * mbd, mbd * sizeof *theta);
    hp_rng rng;
    hp_rng_seed(&rng, net->seed, 0);
    for (size_t l = 0; l < net->n_layers; l++) {
        const msff_layer *L = &net->layers[l];
        hp_glorot_normal(&rng, theta + L->weight, L->n_out * L->n_in, L->n_in, L->n_out);
        memset(theta + L->bias, 0, L->n_out * sizeof *theta);
    }
    return HP_OK;
}

/* B_k as used by this theta. */
static const double *msff_B(const msff *net, const double *theta, size_t k) {
    size_t mbd = net->m * (size_t)net->dim;
    return net->trainable ? theta + net->b_offset[k] : net->b_frozen + k * mbd;
}

/* Doubles per jet column of a chunk's tape: K embeddings and depth x K pre- and
 * post-activation blocks; and of the scratch (msff_scratch). */
static hp_network_workspace msff_workspace(const void *state) {
    const msff *net = state;
    size_t W = net->width;
    hp_network_workspace ws;
    ws.tape_per_column = net->K * 2 * net->m + 2 * (size_t)net->depth * net->K * W + net->P;
    ws.scratch_per_column = net->K * W + 2 * W + (net->trainable ? 2 * net->m : 0) + (net->P ? net->n_inner : 0);
    return ws;
}

static msff_chunk_jets msff_chunk(const msff *net, const hp_network_chunk *ch) {
    size_t cq = (size_t)hp_jet_components(ch->order, net->dim) * ch->q, K = net->K, W = net->width;
    msff_chunk_jets j;
    j.embedding = ch->tape;
    j.z = ch->tape + K * 2 * net->m * cq;
    j.a = j.z + (size_t)net->depth * K * W * cq;
    j.phi = j.a + (size_t)net->depth * K * W * cq;
    return j;
}

static msff_scratch msff_scratch_at(const msff *net, const hp_network_chunk *ch, double *scratch) {
    size_t cq = (size_t)hp_jet_components(ch->order, net->dim) * ch->q, W = net->width;
    msff_scratch sc;
    sc.d_concat = scratch;
    sc.d_a = sc.d_concat + net->K * W * cq;
    sc.d_z = sc.d_a + W * cq;
    sc.d_embedding = net->trainable ? sc.d_z + W * cq : NULL;
    sc.inner = net->P ? sc.d_z + W * cq + (net->trainable ? 2 * net->m * cq : 0) : NULL;
    return sc;
}

/* ---- the two-scale output ------------------------------------------------------------ */

/* phi (P x C*q): the jets of the cell-periodic functions at the chunk's points. */
static void phi_forward(const msff *net, const double *x, size_t q, int order, double *phi) {
    size_t d = (size_t)net->dim, cq = (size_t)hp_jet_components(order, net->dim) * q;
    for (size_t p = 0; p < net->P; p++) {
        const double *w = net->omega + p * d;
        double norm2 = 0.0;
        for (size_t a = 0; a < d; a++) norm2 += w[a] * w[a];
        double norm = sqrt(norm2);
        double *f = phi + p * cq;
        for (size_t r = 0; r < q; r++) {
            double t = 0.0;
            for (size_t a = 0; a < d; a++) t += w[a] * x[r * d + a];
            double c = cos(t), sn = sin(t);
            double v = p % 2 == 0 ? c : sn, dv = p % 2 == 0 ? -sn : c; /* d/dt */
            f[r] = v / norm;
            if (order >= 1)
                for (size_t a = 0; a < d; a++) f[(1 + a) * q + r] = dv * w[a] / norm;
            if (order >= 2) f[(d + 1) * q + r] = -v * norm; /* -|w|^2 v / |w| */
        }
    }
}

/* out (n_outputs x C*q) = N_0 + sum_p N_p phi_p, jets by the product rule, from
 * the inner channels (n_inner x C*q, output o at rows o (1 + P) + 0..P). Linear
 * in the inner jets, so it is also the tangent map. */
static void modulate(const msff *net, const double *inner, const double *phi, size_t q, int order, double *out) {
    size_t d = (size_t)net->dim, cq = (size_t)hp_jet_components(order, net->dim) * q, P = net->P;
    for (size_t o = 0; o < (size_t)net->n_outputs; o++) {
        const double *N0 = inner + o * (1 + P) * cq;
        double *u = out + o * cq;
        memcpy(u, N0, cq * sizeof *u);
        for (size_t p = 0; p < P; p++) {
            const double *N = N0 + (1 + p) * cq, *f = phi + p * cq;
            for (size_t r = 0; r < q; r++) {
                u[r] += N[r] * f[r];
                if (order >= 1)
                    for (size_t a = 0; a < d; a++) {
                        size_t g = (1 + a) * q + r;
                        u[g] += N[g] * f[r] + N[r] * f[g];
                    }
                if (order >= 2) {
                    size_t l = (d + 1) * q + r;
                    double cross = 0.0;
                    for (size_t a = 0; a < d; a++) cross += N[(1 + a) * q + r] * f[(1 + a) * q + r];
                    u[l] += N[l] * f[r] + 2.0 * cross + N[r] * f[l];
                }
            }
        }
    }
}

/* The adjoint of modulate: cotangents of the inner channels from those of the
 * outputs. */
static void modulate_adjoint(const msff *net, const double *d_out, const double *phi, size_t q, int order,
                             double *d_inner) {
    size_t d = (size_t)net->dim, cq = (size_t)hp_jet_components(order, net->dim) * q, P = net->P;
    for (size_t o = 0; o < (size_t)net->n_outputs; o++) {
        const double *du = d_out + o * cq;
        double *d0 = d_inner + o * (1 + P) * cq;
        memcpy(d0, du, cq * sizeof *d0);
        for (size_t p = 0; p < P; p++) {
            double *dN = d0 + (1 + p) * cq;
            const double *f = phi + p * cq;
            for (size_t r = 0; r < q; r++) {
                double dl = order >= 2 ? du[(d + 1) * q + r] : 0.0, dv = du[r] * f[r];
                for (size_t a = 0; order >= 1 && a < d; a++) {
                    size_t g = (1 + a) * q + r;
                    dv += du[g] * f[g];
                    dN[g] = du[g] * f[r] + 2.0 * dl * f[g];
                }
                if (order >= 2) {
                    dv += dl * f[(d + 1) * q + r];
                    dN[(d + 1) * q + r] = dl * f[r];
                }
                dN[r] = dv;
            }
        }
    }
}

/* The embeddings depend on x and B only: recomputed when the tape's points
 * changed (fresh) or B is trained (it moves with theta). */
static void msff_forward(const void *state, const double *theta, const hp_network_chunk *ch, double *out,
                         double *scratch) {
    const msff *net = state;
    int d = net->dim, order = ch->order;
    size_t W = net->width, K = net->K, m = net->m, no = (size_t)net->n_outputs;
    size_t q = ch->q, cq = (size_t)hp_jet_components(order, d) * q;
    const msff_layer *O = &net->layers[net->depth];
    msff_chunk_jets j = msff_chunk(net, ch);
    int embed = ch->fresh || net->trainable;
    if (net->P && ch->fresh) phi_forward(net, ch->x, q, order, j.phi);
    for (size_t k = 0; k < K; k++) {
        double *E = j.embedding + k * 2 * m * cq;
        if (embed) hp_jet_fourier_forward(E, ch->x, msff_B(net, theta, k), m, q, order, d);
        const double *in = E;
        for (int l = 0; l < net->depth; l++) {
            const msff_layer *L = &net->layers[l];
            size_t blk = ((size_t)l * K + k) * W * cq;
            hp_jet_dense_forward(j.z + blk, in, theta + L->weight, theta + L->bias, L->n_out,
                                 L->n_in, q, order, d);
            hp_jet_activation_forward(j.a + blk, j.z + blk, net->act, W, q, order, d);
            in = j.a + blk;
        }
    }
    /* the last layer's K blocks are adjacent: together they are the concatenation */
    const double *concat = j.a + (size_t)(net->depth - 1) * K * W * cq;
    if (!net->P) {
        hp_jet_dense_forward(out, concat, theta + O->weight, theta + O->bias, no, O->n_in, q, order, d);
        return;
    }
    msff_scratch sc = msff_scratch_at(net, ch, scratch);
    hp_jet_dense_forward(sc.inner, concat, theta + O->weight, theta + O->bias, net->n_inner, O->n_in, q, order, d);
    modulate(net, sc.inner, j.phi, q, order, out);
}

/* The reverse pass of one chunk: the output layer, then each branch down its
 * hidden layers (the K branches share them, so their derivatives accumulate in
 * the same gradient entries / rows) to its embedding. */
static void msff_reverse(const void *state, const double *theta, const hp_network_chunk *ch, const double *d_out,
                         double *scratch, hp_jet_param_sink sink) {
    const msff *net = state;
    int d = net->dim, order = ch->order;
    size_t W = net->width, K = net->K, m = net->m, no = (size_t)net->n_outputs;
    size_t q = ch->q, cq = (size_t)hp_jet_components(order, d) * q;
    msff_scratch sc = msff_scratch_at(net, ch, scratch);
    const msff_layer *O = &net->layers[net->depth];
    msff_chunk_jets j = msff_chunk(net, ch);
    const double *concat = j.a + (size_t)(net->depth - 1) * K * W * cq;
    if (net->P) { /* through the two-scale output first */
        modulate_adjoint(net, d_out, j.phi, q, order, sc.inner);
        d_out = sc.inner;
        no = net->n_inner;
    }
    hp_jet_dense_reverse(sc.d_concat, d_out, concat, theta, O->weight, O->bias, no, O->n_in, q, order, d, sink);
    for (size_t k = 0; k < K; k++) {
        const double *d_a = sc.d_concat + k * W * cq;
        const double *E = j.embedding + k * 2 * m * cq;
        for (int l = net->depth - 1; l >= 0; l--) {
            const msff_layer *L = &net->layers[l];
            size_t blk = ((size_t)l * K + k) * W * cq;
            hp_jet_activation_backward(sc.d_z, d_a, j.z + blk, j.a + blk, net->act, W, q, order, d);
            const double *in = l == 0 ? E : j.a + ((size_t)(l - 1) * K + k) * W * cq;
            double *d_in = l > 0 ? sc.d_a : sc.d_embedding; /* NULL when B is frozen */
            hp_jet_dense_reverse(d_in, sc.d_z, in, theta, L->weight, L->bias, L->n_out, L->n_in, q, order, d,
                                 sink);
            d_a = sc.d_a;
        }
        if (net->trainable) {
            const double *B = msff_B(net, theta, k);
            if (sink.grad)
                hp_jet_fourier_backward(sink.grad + net->b_offset[k], sc.d_embedding, E, ch->x, B, m, q, order,
                                        d);
            else
                hp_jet_fourier_jacobian(sink.rows + net->b_offset[k], sink.ld_rows, sc.d_embedding, E, ch->x, B,
                                        m, q, order, d);
        }
    }
}

/* The tangent pass of one chunk: each branch up from its embedding (moving only
 * when B is trained), the last hidden tangents into their concatenation, then
 * the output layer. */
static void msff_tangent(const void *state, const double *theta, const double *dtheta, const hp_network_chunk *ch,
                         double *d_out, double *scratch) {
    const msff *net = state;
    int d = net->dim, order = ch->order;
    size_t W = net->width, K = net->K, m = net->m, no = (size_t)net->n_outputs;
    size_t q = ch->q, cq = (size_t)hp_jet_components(order, d) * q;
    msff_scratch sc = msff_scratch_at(net, ch, scratch);
    const msff_layer *O = &net->layers[net->depth];
    msff_chunk_jets j = msff_chunk(net, ch);
    for (size_t k = 0; k < K; k++) {
        const double *E = j.embedding + k * 2 * m * cq, *d_in = NULL;
        if (net->trainable) {
            hp_jet_fourier_tangent(sc.d_embedding, E, ch->x, msff_B(net, theta, k), dtheta + net->b_offset[k], m, q,
                                   order, d);
            d_in = sc.d_embedding;
        }
        const double *in = E;
        for (int l = 0; l < net->depth; l++) {
            const msff_layer *L = &net->layers[l];
            size_t blk = ((size_t)l * K + k) * W * cq;
            double *da = l + 1 == net->depth ? sc.d_concat + k * W * cq : sc.d_a;
            hp_jet_dense_tangent(sc.d_z, in, d_in, theta + L->weight, dtheta + L->weight, dtheta + L->bias,
                                 L->n_out, L->n_in, q, order, d);
            hp_jet_activation_tangent(da, sc.d_z, j.z + blk, net->act, W, q, order, d);
            in = j.a + blk;
            d_in = da;
        }
    }
    const double *concat = j.a + (size_t)(net->depth - 1) * K * W * cq;
    if (!net->P) {
        hp_jet_dense_tangent(d_out, concat, sc.d_concat, theta + O->weight, dtheta + O->weight, dtheta + O->bias, no,
                             O->n_in, q, order, d);
        return;
    }
    hp_jet_dense_tangent(sc.inner, concat, sc.d_concat, theta + O->weight, dtheta + O->weight, dtheta + O->bias,
                         net->n_inner, O->n_in, q, order, d);
    modulate(net, sc.inner, j.phi, q, order, d_out);
}

/* The Fourier features cos/sin(2 pi b . x) have frequency |b_a| along axis a
 * (the drawn B, as created), the lattice functions |omega_a| / 2 pi. */
static void msff_frequencies(const void *state, double *max_per_axis) {
    const msff *net = state;
    size_t d = (size_t)net->dim;
    for (size_t row = 0; row < net->K * net->m; row++)
        for (size_t a = 0; a < d; a++)
            max_per_axis[a] = fmax(max_per_axis[a], fabs(net->b_frozen[row * d + a]));
    for (size_t p = 0; p < net->P; p++)
        for (size_t a = 0; a < d; a++)
            max_per_axis[a] = fmax(max_per_axis[a], fabs(net->omega[p * d + a]) / (2.0 * 3.14159265358979323846));
}

static const hp_network_ops msff_ops = {
    .struct_size = sizeof(hp_network_ops),
    .create = msff_create,
    .destroy = msff_destroy,
    .n_params = msff_n_params,
    .layout = msff_layout,
    .init = msff_init,
    .workspace = msff_workspace,
    .forward = msff_forward,
    .reverse = msff_reverse,
    .tangent = msff_tangent,
    .frequencies = msff_frequencies,
};

HP_PLUGIN_DEFINE(HP_PLUGIN_NETWORK, "msff", "1.0.0",
                 "multiscale Fourier feature network (paper 4.4) on jets", msff_params, &msff_ops)
