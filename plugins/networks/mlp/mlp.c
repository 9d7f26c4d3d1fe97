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
 * buffer that only grows, so repeated calls at the same size never allocate. */
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
    double *input;     /* d x cols: the jet of x */
    double *z, *a;     /* depth blocks of width x cols: pre/post activation */
    double *out;       /* n_outputs x cols */
    double *d_a, *d_z; /* width x cols scratch for the reverse pass */
} mlp_slot;

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
    mlp_slot slots[HP_NETWORK_SLOTS];
} mlp;

static void mlp_destroy(void *state) {
    mlp *net = state;
    if (!net) return;
    for (int s = 0; s < HP_NETWORK_SLOTS; s++) free(net->slots[s].mem);
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

/* Make the slot's buffer hold `cols` columns and lay its jets out in it. */
static hp_status mlp_slot_prepare(mlp *net, mlp_slot *s, size_t cols) {
    size_t W = net->width, D = (size_t)net->depth;
    size_t per_col = (size_t)net->dim + 2 * D * W + (size_t)net->n_outputs + 2 * W;
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
    double *p = s->mem;
    s->input = p;
    p += (size_t)net->dim * cols;
    s->z = p;
    p += D * W * cols;
    s->a = p;
    p += D * W * cols;
    s->out = p;
    p += (size_t)net->n_outputs * cols;
    s->d_a = p;
    p += W * cols;
    s->d_z = p;
    return HP_OK;
}

static hp_status mlp_check_slot(int slot) {
    if (slot < 0 || slot >= HP_NETWORK_SLOTS)
        HP_ERROR(HP_ERR_INTERNAL, "mlp: slot %d out of range; expected 0..%d", slot,
                 HP_NETWORK_SLOTS - 1);
    return HP_OK;
}

static hp_status mlp_forward(void *state, int slot, const double *theta, const double *x,
                             size_t n_points, int order, const double **out) {
    mlp *net = state;
    HP_CALL(mlp_check_slot(slot));
    if (order < 0 || order > 2)
        HP_ERROR(HP_ERR_INTERNAL, "mlp: order %d requested; expected 0, 1 or 2", order);
    mlp_slot *s = &net->slots[slot];
    int d = net->dim, C = hp_jet_components(order, d);
    size_t P = n_points, cols = (size_t)C * P, W = net->width;
    HP_CALL(mlp_slot_prepare(net, s, cols));

    /* the identity jet of x: value x_a, d/dx_c = delta_ac, Laplacian 0 */
    memset(s->input, 0, (size_t)d * cols * sizeof(double));
    for (int a = 0; a < d; a++) {
        double *row = s->input + (size_t)a * cols;
        for (size_t p = 0; p < P; p++) row[p] = x[p * (size_t)d + a];
        if (order >= 1)
            for (size_t p = 0; p < P; p++) row[(size_t)(a + 1) * P + p] = 1.0;
    }
    const double *in = s->input;
    for (int l = 0; l < net->depth; l++) {
        const mlp_layer *L = &net->layers[l];
        double *z = s->z + (size_t)l * W * cols, *a = s->a + (size_t)l * W * cols;
        hp_jet_dense_forward(z, in, theta + L->weight, theta + L->bias, L->n_out, L->n_in, P,
                             order, d);
        hp_jet_activation_forward(a, z, net->act, W, P, order, d);
        in = a;
    }
    const mlp_layer *O = &net->layers[net->depth];
    hp_jet_dense_forward(s->out, in, theta + O->weight, theta + O->bias, O->n_out, O->n_in, P,
                         order, d);
    s->n_points = P;
    s->order = order;
    s->ready = 1;
    *out = s->out;
    return HP_OK;
}

/* The reverse pass shared by backward (grad != NULL: summed parameter gradients)
 * and jacobian (rows != NULL: per-point rows, ld = n_params). */
static hp_status mlp_reverse(mlp *net, int slot, const double *theta, const double *cotangent,
                             double *grad, double *rows) {
    HP_CALL(mlp_check_slot(slot));
    mlp_slot *s = &net->slots[slot];
    if (!s->ready)
        HP_ERROR(HP_ERR_INTERNAL, "mlp: reverse pass on slot %d without a forward on it", slot);
    int d = net->dim, order = s->order;
    size_t P = s->n_points, cols = (size_t)hp_jet_components(order, d) * P, W = net->width;
    size_t ld = net->n_params;

    const double *d_out = cotangent;
    for (int l = net->depth; l >= 0; l--) {
        const mlp_layer *L = &net->layers[l];
        const double *in = l == 0 ? s->input : s->a + (size_t)(l - 1) * W * cols;
        if (l < net->depth) {
            hp_jet_activation_backward(s->d_z, s->d_a, s->z + (size_t)l * W * cols,
                                       s->a + (size_t)l * W * cols, net->act, W, P, order, d);
            d_out = s->d_z;
        }
        double *d_in = l > 0 ? s->d_a : NULL;
        if (grad) {
            hp_jet_dense_backward(d_in, grad + L->weight, grad + L->bias, d_out, in,
                                  theta + L->weight, L->n_out, L->n_in, P, order, d);
        } else {
            hp_jet_dense_jacobian(rows + L->weight, rows + L->bias, ld, d_out, in, L->n_out,
                                  L->n_in, P, order, d);
            hp_jet_dense_backward(d_in, NULL, NULL, d_out, in, theta + L->weight, L->n_out,
                                  L->n_in, P, order, d);
        }
    }
    return HP_OK;
}

static hp_status mlp_backward(void *state, int slot, const double *theta,
                              const double *cotangent, double *grad) {
    HP_CALL(mlp_reverse(state, slot, theta, cotangent, grad, NULL));
    return HP_OK;
}

static hp_status mlp_jacobian(void *state, int slot, const double *theta,
                              const double *weights, double *rows) {
    mlp *net = state;
    HP_CALL(mlp_check_slot(slot));
    memset(rows, 0, net->slots[slot].n_points * net->n_params * sizeof *rows);
    HP_CALL(mlp_reverse(net, slot, theta, weights, NULL, rows));
    return HP_OK;
}

static const hp_network_ops mlp_ops = {
    mlp_create,  mlp_destroy,  mlp_n_params, mlp_layout,
    mlp_init,    mlp_forward,  mlp_backward, mlp_jacobian,
};

HP_PLUGIN_DEFINE(HP_PLUGIN_NETWORK, "mlp", "1.0.0",
                 "multilayer perceptron on jets (exact grad v and Lap v)", mlp_params, &mlp_ops)
