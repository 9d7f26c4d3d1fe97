/* mlp.c — the plain multilayer perceptron network plugin ("mlp").
 *
 *   x (d) -> [dense, activation] x depth (width units) -> dense -> n_outputs
 *
 * evaluated on jets (hpinn/jets.h): the input x enters as the jet of the
 * identity (value x_a, d x_a / d x_c = delta_ac, Laplacian 0) and every layer is
 * one jet kernel, so the output jet carries v, grad v and Lap v exactly.
 *
 * theta layout (row-major blocks, in this order):
 *   hidden1.weight (width x d), hidden1.bias (width),
 *   hidden<l>.weight (width x width), hidden<l>.bias (width), l = 2..depth,
 *   output.weight (n_outputs x width), output.bias (n_outputs).
 * Glorot-normal weights from hp_rng stream 0 of `seed`, in buffer order; zero biases.
 *
 * hpinn's network runner (hpinn/network.h) cuts the points into chunks, runs
 * them on its threads and owns the tapes; this file says what the network does
 * to one chunk. A chunk's tape holds the input jet, then the pre- and
 * post-activation jets of every layer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpinn/jets.h"
#include "hpinn/network.h"
#include "hpinn/plugin.h"
#include "hpinn/rng.h"

static const hp_param_def mlp_params[] = {
    {"depth", HP_PARAM_INT, "2", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 64, NULL, 0,
     "number of hidden layers"},
    {"width", HP_PARAM_INT, "50", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 65536, NULL, 0,
     "units per hidden layer"},
    {"activation", HP_PARAM_ENUM, "tanh", 0, 0, 0, HP_ACTIVATION_CHOICES, 0,
     "hidden-layer activation"},
    {"swish_b", HP_PARAM_REAL, "1", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 0, 0, NULL, 0,
     "b of swish(z) = z sigmoid(b z); used only with activation: swish"},
    {"seed", HP_PARAM_INT, "1", HP_PARAM_HAS_MIN, 0, 0, NULL, 0,
     "seed of the Glorot initialisation (same seed, same theta, bit for bit)"},
    HP_NETWORK_RUNNER_PARAMS,
    HP_PARAM_END};

typedef struct mlp_layer {
    size_t n_in, n_out;
    size_t weight, bias; /* offsets into theta */
} mlp_layer;

/* One thread's scratch for a chunk (C = 2 + d), for the reverse and tangent. */
typedef struct mlp_scratch {
    double *d_a, *d_z; /* width x C*q */
} mlp_scratch;

typedef struct mlp {
    int dim, n_outputs, depth;
    size_t width;
    hp_activation act;
    uint64_t seed;
    size_t n_layers; /* depth + 1 (the output layer last) */
    mlp_layer *layers;
    size_t n_params;
    hp_param_block *blocks;
    char *names;
} mlp;

static void mlp_destroy(void *state) {
    mlp *net = state;
    if (!net) return;
    free(net->layers);
    free(net->blocks);
    free(net->names);
    free(net);
}

static hp_status mlp_create(const hp_params *params, int input_dim, int n_outputs, void **state) {
    if (input_dim < 1 || input_dim > HP_JET_MAX_DIM)
        HP_ERROR(HP_ERR_CONFIG, "mlp: input dimension %d is not supported; expected 1..%d",
                 input_dim, HP_JET_MAX_DIM);
    if (n_outputs < 1)
        HP_ERROR(HP_ERR_CONFIG, "mlp: %d outputs requested; expected at least 1", n_outputs);
    mlp *net;
    HP_CALL(hp_calloc(1, sizeof *net, &net));
    net->dim = input_dim;
    net->n_outputs = n_outputs;
    net->depth = (int)hp_params_int(params, "depth");
    net->width = (size_t)hp_params_int(params, "width");
    net->act.kind = (hp_activation_kind)hp_params_enum_index(params, "activation");
    net->act.b = hp_params_real(params, "swish_b");
    net->seed = (uint64_t)hp_params_int(params, "seed");
    net->n_layers = (size_t)net->depth + 1;

    hp_status st;
    HP_CALL_GOTO(st, hp_calloc(net->n_layers, sizeof *net->layers, &net->layers), fail);
    HP_CALL_GOTO(st, hp_calloc(2 * net->n_layers, sizeof *net->blocks, &net->blocks), fail);
    HP_CALL_GOTO(st, hp_calloc(2 * net->n_layers, 32, &net->names), fail);
    size_t off = 0;
    for (size_t l = 0; l < net->n_layers; l++) {
        mlp_layer *L = &net->layers[l];
        int is_out = l + 1 == net->n_layers;
        L->n_in = l == 0 ? (size_t)input_dim : net->width;
        L->n_out = is_out ? (size_t)n_outputs : net->width;
        L->weight = off;
        off += L->n_out * L->n_in;
        L->bias = off;
        off += L->n_out;
        char *wn = net->names + 64 * l, *bn = wn + 32;
        if (is_out) {
            snprintf(wn, 32, "output.weight");
            snprintf(bn, 32, "output.bias");
        } else {
            snprintf(wn, 32, "hidden%u.weight", (unsigned)(l + 1));
            snprintf(bn, 32, "hidden%u.bias", (unsigned)(l + 1));
        }
        net->blocks[2 * l] = (hp_param_block){wn, L->weight, L->n_out, L->n_in};
        net->blocks[2 * l + 1] = (hp_param_block){bn, L->bias, L->n_out, 1};
    }
    net->n_params = off;

    *state = net;
    return HP_OK;
fail:
    mlp_destroy(net);
    return st;
}

static size_t mlp_n_params(const void *state) { return ((const mlp *)state)->n_params; }

static size_t mlp_layout(const void *state, const hp_param_block **blocks) {
    const mlp *net = state;
    *blocks = net->blocks;
    return 2 * net->n_layers;
}

static hp_status mlp_init(void *state, double *theta) {
    mlp *net = state;
    hp_rng rng;
    hp_rng_seed(&rng, net->seed, 0);
    for (size_t l = 0; l < net->n_layers; l++) {
        const mlp_layer *L = &net->layers[l];
        hp_glorot_normal(&rng, theta + L->weight, L->n_out * L->n_in, L->n_in, L->n_out);
        memset(theta + L->bias, 0, L->n_out * sizeof *theta);
    }
    return HP_OK;
}

/* Doubles per jet column of a chunk's tape (the input jet, then depth pre- and
 * post-activation blocks) and of its scratch (mlp_scratch). */
static hp_network_workspace mlp_workspace(const void *state) {
    const mlp *net = state;
    hp_network_workspace ws = {(size_t)net->dim + 2 * (size_t)net->depth * net->width, 2 * net->width};
    return ws;
}

static mlp_scratch mlp_scratch_at(const mlp *net, const hp_network_chunk *ch, double *scratch) {
    size_t cq = (size_t)hp_jet_components(ch->order, net->dim) * ch->q;
    mlp_scratch sc = {scratch, scratch + net->width * cq};
    return sc;
}

static void mlp_forward(const void *state, const double *theta, const hp_network_chunk *ch, double *out,
                        double *scratch) {
    (void)scratch;
    const mlp *net = state;
    int d = net->dim, order = ch->order;
    size_t W = net->width, D = (size_t)net->depth;
    size_t q = ch->q, cq = (size_t)hp_jet_components(order, d) * q;
    double *input = ch->tape;
    double *z = input + (size_t)d * cq, *a = z + D * W * cq;
    /* the identity jet of x: value x_a, d/dx_c = delta_ac, Laplacian 0 */
    memset(input, 0, (size_t)d * cq * sizeof(double));
    for (int c = 0; c < d; c++) {
        double *row = input + (size_t)c * cq;
        for (size_t p = 0; p < q; p++) row[p] = ch->x[p * (size_t)d + c];
        if (order >= 1)
            for (size_t p = 0; p < q; p++) row[(size_t)(c + 1) * q + p] = 1.0;
    }
    const double *in = input;
    for (int l = 0; l < net->depth; l++) {
        const mlp_layer *L = &net->layers[l];
        double *zl = z + (size_t)l * W * cq, *al = a + (size_t)l * W * cq;
        hp_jet_dense_forward(zl, in, theta + L->weight, theta + L->bias, L->n_out, L->n_in, q, order, d);
        hp_jet_activation_forward(al, zl, net->act, W, q, order, d);
        in = al;
    }
    const mlp_layer *O = &net->layers[net->depth];
    hp_jet_dense_forward(out, in, theta + O->weight, theta + O->bias, (size_t)net->n_outputs, O->n_in, q, order, d);
}

/* The reverse pass of one chunk, output layer first. */
static void mlp_reverse(const void *state, const double *theta, const hp_network_chunk *ch, const double *d_out,
                        double *scratch, hp_jet_param_sink sink) {
    const mlp *net = state;
    int d = net->dim, order = ch->order;
    size_t W = net->width, D = (size_t)net->depth;
    size_t q = ch->q, cq = (size_t)hp_jet_components(order, d) * q;
    mlp_scratch sc = mlp_scratch_at(net, ch, scratch);
    const double *input = ch->tape;
    const double *z = input + (size_t)d * cq, *a = z + D * W * cq;
    const double *g = d_out;
    for (int l = net->depth; l >= 0; l--) {
        const mlp_layer *L = &net->layers[l];
        const double *in = l == 0 ? input : a + (size_t)(l - 1) * W * cq;
        if (l < net->depth) {
            hp_jet_activation_backward(sc.d_z, sc.d_a, z + (size_t)l * W * cq, a + (size_t)l * W * cq, net->act, W,
                                       q, order, d);
            g = sc.d_z;
        }
        hp_jet_dense_reverse(l > 0 ? sc.d_a : NULL, g, in, theta, L->weight, L->bias, L->n_out, L->n_in, q, order,
                             d, sink);
    }
}

/* The tangent pass of one chunk: the input does not move with theta. */
static void mlp_tangent(const void *state, const double *theta, const double *dtheta, const hp_network_chunk *ch,
                        double *d_out, double *scratch) {
    const mlp *net = state;
    int d = net->dim, order = ch->order;
    size_t W = net->width, D = (size_t)net->depth;
    size_t q = ch->q, cq = (size_t)hp_jet_components(order, d) * q;
    mlp_scratch sc = mlp_scratch_at(net, ch, scratch);
    const double *input = ch->tape;
    const double *z = input + (size_t)d * cq, *a = z + D * W * cq;
    const double *in = input, *d_in = NULL;
    for (int l = 0; l < net->depth; l++) {
        const mlp_layer *L = &net->layers[l];
        hp_jet_dense_tangent(sc.d_z, in, d_in, theta + L->weight, dtheta + L->weight, dtheta + L->bias, L->n_out,
                             L->n_in, q, order, d);
        hp_jet_activation_tangent(sc.d_a, sc.d_z, z + (size_t)l * W * cq, net->act, W, q, order, d);
        in = a + (size_t)l * W * cq;
        d_in = sc.d_a;
    }
    const mlp_layer *O = &net->layers[net->depth];
    hp_jet_dense_tangent(d_out, in, d_in, theta + O->weight, dtheta + O->weight, dtheta + O->bias,
                         (size_t)net->n_outputs, O->n_in, q, order, d);
}

static const hp_network_ops mlp_ops = {
    .struct_size = sizeof(hp_network_ops),
    .create = mlp_create,
    .destroy = mlp_destroy,
    .n_params = mlp_n_params,
    .layout = mlp_layout,
    .init = mlp_init,
    .workspace = mlp_workspace,
    .forward = mlp_forward,
    .reverse = mlp_reverse,
    .tangent = mlp_tangent,
};

HP_PLUGIN_DEFINE(HP_PLUGIN_NETWORK, "mlp", "1.0.0",
                 "multilayer perceptron on jets (exact grad v and Lap v)", mlp_params, &mlp_ops)
