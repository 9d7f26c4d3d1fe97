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
 * Each slot keeps its forward jets (pre- and post-activation per layer) in one
 * buffer that only grows, so repeated calls at the same size never allocate.
 *
 * Threads and chunks: hp_jet_runner (hpinn/jets.h) hands chunks of at most
 * `chunk_points` points to a team of `threads` threads and sums the gradients
 * so that they are the same bits for any number of threads; this file says
 * what the network does to one chunk. Chunk [first, first+q) owns the region at
 * jets + per_column * C * first, where its jets are standard jets of q points. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpinn/jets.h"
#include "hpinn/network.h"
#include "hpinn/plugin.h"

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
    HP_JET_RUNNER_PARAMS,
    HP_PARAM_END};

typedef struct mlp_layer {
    size_t n_in, n_out;
    size_t weight, bias; /* offsets into theta */
} mlp_layer;

typedef struct mlp_slot {
    double *mem;
    size_t cap_cols;   /* columns (C*P) the buffer was sized for */
    size_t n_points;
    int order;
    int ready;         /* a forward has run since the last resize */
    double *jets;      /* per chunk: input (d x C*q), z, a (depth blocks of width x C*q) */
    double *out;       /* n_outputs x cols */
} mlp_slot;

/* One thread's scratch (hp_jet_runner) for a chunk of at most chunk_points
 * points, cut for the largest chunk jet (C = 2 + d). */
typedef struct mlp_scratch {
    double *out;       /* n_outputs x C*q: the chunk's output / cotangent */
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
    hp_jet_runner *runner;
    mlp_slot slots[HP_NETWORK_SLOTS];
} mlp;

static void mlp_destroy(void *state) {
    mlp *net = state;
    if (!net) return;
    for (int s = 0; s < HP_NETWORK_SLOTS; s++) free(net->slots[s].mem);
    hp_jet_runner_destroy(net->runner);
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

    size_t scratch_per_column = (size_t)n_outputs + 2 * net->width; /* see mlp_scratch */
    HP_CALL_GOTO(st, hp_jet_runner_create(params, input_dim, scratch_per_column, net->n_params,
                                          &net->runner), fail);
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

/* Doubles per jet column of one chunk: the input jet, depth pre- and
 * post-activation blocks. */
static size_t mlp_per_column(const mlp *net) {
    return (size_t)net->dim + 2 * (size_t)net->depth * net->width;
}

/* Make the slot's buffer hold `cols` columns and lay its jets out in it. */
static hp_status mlp_slot_prepare(mlp *net, mlp_slot *s, size_t cols) {
    size_t per_col = mlp_per_column(net) + (size_t)net->n_outputs;
    if (cols > s->cap_cols || !s->mem) {
        free(s->mem);
        s->mem = NULL;
        s->cap_cols = 0;
        s->ready = 0;
        size_t want = cols ? cols : 1;
        if (want > ((size_t)-1) / sizeof(double) / per_col)
            HP_ERROR(HP_ERR_NOMEM, "mlp: jet buffers for %zu columns overflow size_t", cols);
        HP_CALL(hp_malloc(want * per_col * sizeof(double), &s->mem));
        s->cap_cols = want;
    }
    s->jets = s->mem;
    s->out = s->mem + mlp_per_column(net) * cols;
    return HP_OK;
}

static hp_status mlp_check_slot(int slot) {
    if (slot < 0 || slot >= HP_NETWORK_SLOTS)
        HP_ERROR(HP_ERR_INTERNAL, "mlp: slot %d out of range; expected 0..%d", slot,
                 HP_NETWORK_SLOTS - 1);
    return HP_OK;
}

/* What one forward or reverse pass needs; chunk callbacks read it and write
 * only their own chunk's jets, output columns, rows and scratch. */
typedef struct mlp_pass {
    const mlp *net;
    mlp_slot *s;
    const double *theta;
    const double *x;          /* forward only */
    const double *cotangent;  /* reverse only */
} mlp_pass;

/* A chunk's input jet; z and a follow it (layer l at (d + l W) and (d + (D + l) W) rows). */
static double *mlp_chunk(const mlp *net, const mlp_slot *s, hp_jet_chunk ch, int C) {
    return s->jets + mlp_per_column(net) * (size_t)C * ch.first;
}

static mlp_scratch mlp_scratch_at(const mlp *net, double *scratch) {
    size_t cq = hp_jet_runner_chunk_columns(net->runner);
    mlp_scratch sc;
    sc.out = scratch;
    sc.d_a = sc.out + (size_t)net->n_outputs * cq;
    sc.d_z = sc.d_a + net->width * cq;
    return sc;
}

static void mlp_chunk_forward(void *arg, hp_jet_chunk ch, double *scratch) {
    const mlp_pass *r = arg;
    const mlp *net = r->net;
    const mlp_slot *s = r->s;
    int d = net->dim, order = s->order, C = hp_jet_components(order, d);
    size_t W = net->width, D = (size_t)net->depth;
    size_t q = ch.count, cq = (size_t)C * q;
    const double *theta = r->theta;
    mlp_scratch sc = mlp_scratch_at(net, scratch);
    double *input = mlp_chunk(net, s, ch, C);
    double *z = input + (size_t)d * cq, *a = z + D * W * cq;
    /* the identity jet of x: value x_a, d/dx_c = delta_ac, Laplacian 0 */
    memset(input, 0, (size_t)d * cq * sizeof(double));
    for (int c = 0; c < d; c++) {
        double *row = input + (size_t)c * cq;
        for (size_t p = 0; p < q; p++) row[p] = r->x[(ch.first + p) * (size_t)d + c];
        if (order >= 1)
            for (size_t p = 0; p < q; p++) row[(size_t)(c + 1) * q + p] = 1.0;
    }
    const double *in = input;
    for (int l = 0; l < net->depth; l++) {
        const mlp_layer *L = &net->layers[l];
        double *zl = z + (size_t)l * W * cq, *al = a + (size_t)l * W * cq;
        hp_jet_dense_forward(zl, in, theta + L->weight, theta + L->bias, L->n_out, L->n_in, q,
                             order, d);
        hp_jet_activation_forward(al, zl, net->act, W, q, order, d);
        in = al;
    }
    const mlp_layer *O = &net->layers[net->depth];
    size_t no = (size_t)net->n_outputs;
    hp_jet_dense_forward(sc.out, in, theta + O->weight, theta + O->bias, no, O->n_in, q, order, d);
    hp_jet_chunk_scatter(s->out, sc.out, no, s->n_points, ch, order, d);
}

static hp_status mlp_forward(void *state, int slot, const double *theta, const double *x,
                             size_t n_points, int order, const double **out) {
    mlp *net = state;
    HP_CALL(mlp_check_slot(slot));
    if (order < 0 || order > 2)
        HP_ERROR(HP_ERR_INTERNAL, "mlp: order %d requested; expected 0, 1 or 2", order);
    mlp_slot *s = &net->slots[slot];
    int C = hp_jet_components(order, net->dim);
    HP_CALL(mlp_slot_prepare(net, s, (size_t)C * n_points));
    s->n_points = n_points;
    s->order = order;
    mlp_pass r = {.net = net, .s = s, .theta = theta, .x = x};
    hp_jet_runner_forward(net->runner, n_points, mlp_chunk_forward, &r);
    s->ready = 1;
    *out = s->out;
    return HP_OK;
}

/* The reverse pass of one chunk, output layer first. */
static void mlp_chunk_reverse(void *arg, hp_jet_chunk ch, double *scratch,
                              hp_jet_param_sink sink) {
    const mlp_pass *r = arg;
    const mlp *net = r->net;
    const mlp_slot *s = r->s;
    int d = net->dim, order = s->order, C = hp_jet_components(order, d);
    size_t W = net->width, D = (size_t)net->depth;
    size_t q = ch.count, cq = (size_t)C * q;
    mlp_scratch sc = mlp_scratch_at(net, scratch);
    const double *input = mlp_chunk(net, s, ch, C);
    const double *z = input + (size_t)d * cq, *a = z + D * W * cq;
    hp_jet_chunk_gather(sc.out, r->cotangent, (size_t)net->n_outputs, s->n_points, ch, order, d);
    const double *d_out = sc.out;
    for (int l = net->depth; l >= 0; l--) {
        const mlp_layer *L = &net->layers[l];
        const double *in = l == 0 ? input : a + (size_t)(l - 1) * W * cq;
        if (l < net->depth) {
            hp_jet_activation_backward(sc.d_z, sc.d_a, z + (size_t)l * W * cq,
                                       a + (size_t)l * W * cq, net->act, W, q, order, d);
            d_out = sc.d_z;
        }
        hp_jet_dense_reverse(l > 0 ? sc.d_a : NULL, d_out, in, r->theta, L->weight, L->bias,
                             L->n_out, L->n_in, q, order, d, sink);
    }
}

/* Shared by backward (grad) and jacobian (rows, n_points x n_params). */
static hp_status mlp_reverse(mlp *net, int slot, const double *theta, const double *cotangent,
                             double *grad, double *rows) {
    HP_CALL(mlp_check_slot(slot));
    mlp_slot *s = &net->slots[slot];
    if (!s->ready)
        HP_ERROR(HP_ERR_INTERNAL, "mlp: reverse pass on slot %d without a forward on it", slot);
    mlp_pass r = {.net = net, .s = s, .theta = theta, .cotangent = cotangent};
    hp_jet_runner_reverse(net->runner, s->n_points, mlp_chunk_reverse, &r, grad, rows);
    return HP_OK;
}

static hp_status mlp_backward(void *state, int slot, const double *theta,
                              const double *cotangent, double *grad) {
    HP_CALL(mlp_reverse(state, slot, theta, cotangent, grad, NULL));
    return HP_OK;
}

static hp_status mlp_jacobian(void *state, int slot, const double *theta,
                              const double *weights, double *rows) {
    HP_CALL(mlp_reverse(state, slot, theta, weights, NULL, rows));
    return HP_OK;
}

static const hp_network_ops mlp_ops = {
    mlp_create,  mlp_destroy,  mlp_n_params, mlp_layout,
    mlp_init,    mlp_forward,  mlp_backward, mlp_jacobian,
};

HP_PLUGIN_DEFINE(HP_PLUGIN_NETWORK, "mlp", "1.0.0",
                 "multilayer perceptron on jets (exact grad v and Lap v)", mlp_params, &mlp_ops)
