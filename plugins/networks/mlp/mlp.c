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
 * Threads and chunks (as in msff.c): the points are cut into chunks of at most
 * `chunk_points` points that a team of `threads` threads takes from a shared
 * counter, each chunk through the whole network (single-threaded BLAS on
 * cache-hot jets). Chunk [first, first+q) owns the region at
 * jets + per_column * C * first, where its jets are standard jets of q points.
 * The reverse pass sums fixed groups of chunks into their own gradient buffers,
 * added in group order: the same bits for any number of threads. */
#include <stdatomic.h>
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
    {"threads", HP_PARAM_INT, "0", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 0, 256, NULL, 0,
     "threads that share the points (0: one per CPU); results do not depend on it"},
    {"chunk_points", HP_PARAM_INT, "64", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 1048576, NULL,
     0, "points a thread takes through the whole network at once (cache blocking; "
     "results depend on it to rounding)"},
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

/* One thread's scratch for a chunk of at most chunk_points points (C = 2 + d). */
typedef struct mlp_thread {
    double *mem;
    double *out;       /* n_outputs x C*q: the chunk's output / cotangent */
    double *d_a, *d_z; /* width x C*q */
} mlp_thread;

/* Gradient groups of the reverse pass (as in msff.c). */
#define MLP_GROUPS 8

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
    size_t chunk;      /* chunk_points */
    int n_threads;
    hp_jet_team *team;
    mlp_thread *threads;
    double *group_grad; /* MLP_GROUPS x n_params */
    mlp_slot slots[HP_NETWORK_SLOTS];
} mlp;

static void mlp_destroy(void *state) {
    mlp *net = state;
    if (!net) return;
    for (int s = 0; s < HP_NETWORK_SLOTS; s++) free(net->slots[s].mem);
    hp_jet_team_destroy(net->team);
    if (net->threads)
        for (int t = 0; t < net->n_threads; t++) free(net->threads[t].mem);
    free(net->threads);
    free(net->group_grad);
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

    net->chunk = (size_t)hp_params_int(params, "chunk_points");
    HP_CALL_GOTO(st, hp_jet_team_create((int)hp_params_int(params, "threads"), &net->team), fail);
    net->n_threads = hp_jet_team_size(net->team);
    HP_CALL_GOTO(st, hp_calloc((size_t)net->n_threads, sizeof *net->threads, &net->threads), fail);
    size_t cq = (size_t)hp_jet_components(2, input_dim) * net->chunk, W = net->width;
    size_t per_col = (size_t)n_outputs + 2 * W;
    if (cq > ((size_t)-1) / sizeof(double) / (per_col + 1) / 2) {
        st = hp_params_error(params, "chunk_points", "is too large for this network's "
                             "scratch; expected a few hundred points at most");
        goto fail;
    }
    HP_CALL_GOTO(st, hp_malloc(MLP_GROUPS * net->n_params * sizeof(double), &net->group_grad),
                 fail);
    for (int t = 0; t < net->n_threads; t++) {
        mlp_thread *th = &net->threads[t];
        HP_CALL_GOTO(st, hp_malloc(cq * per_col * sizeof(double), &th->mem), fail);
        th->out = th->mem;
        th->d_a = th->out + (size_t)n_outputs * cq;
        th->d_z = th->d_a + W * cq;
    }
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

typedef struct mlp_run {
    mlp *net;
    mlp_slot *s;
    const double *theta, *x;      /* x: forward only */
    int n_threads;
    size_t n_chunks, n_groups;
    atomic_size_t next;           /* the next chunk (forward) or group (reverse) */
    const double *cotangent;      /* reverse only */
    double *grad, *rows;          /* reverse: one of them */
} mlp_run;

/* A chunk's input jet; z and a follow it (layer l at (d + l W) and (d + (D + l) W) rows). */
static double *mlp_chunk(const mlp *net, const mlp_slot *s, hp_jet_chunk ch, int C) {
    return s->jets + mlp_per_column(net) * (size_t)C * ch.first;
}

static void mlp_forward_task(void *arg, int t, int n_team) {
    (void)n_team;
    const mlp_run *r = arg;
    const mlp *net = r->net;
    const mlp_slot *s = r->s;
    if (t >= r->n_threads) return;
    int d = net->dim, order = s->order, C = hp_jet_components(order, d);
    size_t P = s->n_points, cols = (size_t)C * P, W = net->width, D = (size_t)net->depth;
    size_t no = (size_t)net->n_outputs;
    const double *theta = r->theta;
    mlp_thread *th = &net->threads[t];
    mlp_run *rw = arg; /* tasks only touch its counter */
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&rw->next, 1, memory_order_relaxed);
        if (i >= r->n_chunks) break;
        hp_jet_chunk ch = hp_jet_chunk_at(P, r->n_chunks, i);
        size_t q = ch.count, cq = (size_t)C * q;
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
        hp_jet_dense_forward(th->out, in, theta + O->weight, theta + O->bias, no, O->n_in, q,
                             order, d);
        for (size_t o = 0; o < no; o++)
            for (int c = 0; c < C; c++)
                memcpy(s->out + o * cols + (size_t)c * P + ch.first, th->out + o * cq + (size_t)c * q,
                       q * sizeof(double));
    }
}

/* Threads worth waking for n work items (chunks or groups). */
static int mlp_threads_for(const mlp *net, size_t n_items) {
    return n_items < (size_t)net->n_threads ? (n_items ? (int)n_items : 1) : net->n_threads;
}

static hp_status mlp_forward(void *state, int slot, const double *theta, const double *x,
                             size_t n_points, int order, const double **out) {
    mlp *net = state;
    HP_CALL(mlp_check_slot(slot));
    if (order < 0 || order > 2)
        HP_ERROR(HP_ERR_INTERNAL, "mlp: order %d requested; expected 0, 1 or 2", order);
    mlp_slot *s = &net->slots[slot];
    int C = hp_jet_components(order, net->dim);
    size_t P = n_points, cols = (size_t)C * P;
    HP_CALL(mlp_slot_prepare(net, s, cols));
    s->n_points = P;
    s->order = order;
    size_t n_chunks = hp_jet_chunk_count(P, net->chunk);
    mlp_run r = {.net = net, .s = s, .theta = theta, .x = x,
                 .n_threads = mlp_threads_for(net, n_chunks), .n_chunks = n_chunks};
    atomic_init(&r.next, 0);
    if (r.n_threads > 1) hp_jet_team_run(net->team, mlp_forward_task, &r);
    else mlp_forward_task(&r, 0, 1);
    s->ready = 1;
    *out = s->out;
    return HP_OK;
}

/* The reverse pass of one chunk: into grad (summed) or r->rows (per point). */
static void mlp_chunk_reverse(const mlp_run *r, mlp_thread *th, hp_jet_chunk ch, double *grad) {
    const mlp *net = r->net;
    const mlp_slot *s = r->s;
    int d = net->dim, order = s->order, C = hp_jet_components(order, d);
    size_t P = s->n_points, cols = (size_t)C * P, W = net->width, D = (size_t)net->depth;
    size_t no = (size_t)net->n_outputs, ld = net->n_params;
    size_t q = ch.count, cq = (size_t)C * q;
    const double *theta = r->theta;
    const double *input = mlp_chunk(net, s, ch, C);
    const double *z = input + (size_t)d * cq, *a = z + D * W * cq;
    double *rows = r->rows ? r->rows + ch.first * ld : NULL;
    for (size_t o = 0; o < no; o++)
        for (int c = 0; c < C; c++)
            memcpy(th->out + o * cq + (size_t)c * q,
                   r->cotangent + o * cols + (size_t)c * P + ch.first, q * sizeof(double));
    const double *d_out = th->out;
    for (int l = net->depth; l >= 0; l--) {
        const mlp_layer *L = &net->layers[l];
        const double *in = l == 0 ? input : a + (size_t)(l - 1) * W * cq;
        if (l < net->depth) {
            hp_jet_activation_backward(th->d_z, th->d_a, z + (size_t)l * W * cq,
                                       a + (size_t)l * W * cq, net->act, W, q, order, d);
            d_out = th->d_z;
        }
        double *d_in = l > 0 ? th->d_a : NULL;
        if (grad) {
            hp_jet_dense_backward(d_in, grad + L->weight, grad + L->bias, d_out, in,
                                  theta + L->weight, L->n_out, L->n_in, q, order, d);
        } else {
            hp_jet_dense_jacobian(rows + L->weight, rows + L->bias, ld, d_out, in, L->n_out,
                                  L->n_in, q, order, d);
            hp_jet_dense_backward(d_in, NULL, NULL, d_out, in, theta + L->weight, L->n_out,
                                  L->n_in, q, order, d);
        }
    }
}

/* The reverse pass over the chunk groups thread t takes, shared by backward
 * (r->grad: each group into its own gradient buffer, or straight into r->grad
 * when there is one group) and jacobian (r->rows: per-point rows,
 * ld = n_params; chunks own disjoint rows). */
static void mlp_reverse_task(void *arg, int t, int n_team) {
    (void)n_team;
    mlp_run *r = arg; /* tasks only touch its counter */
    if (t >= r->n_threads) return;
    const mlp *net = r->net;
    for (;;) {
        size_t g = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
        if (g >= r->n_groups) break;
        hp_jet_chunk group = hp_jet_chunk_at(r->n_chunks, r->n_groups, g);
        double *grad = NULL;
        if (r->grad && r->n_groups == 1) {
            grad = r->grad;
        } else if (r->grad) {
            grad = net->group_grad + g * net->n_params;
            memset(grad, 0, net->n_params * sizeof *grad);
        }
        /* a group's last chunk first: the forward may have left it in the cache */
        for (size_t i = group.first + group.count; i-- > group.first;)
            mlp_chunk_reverse(r, &net->threads[t],
                              hp_jet_chunk_at(r->s->n_points, r->n_chunks, i), grad);
    }
}

/* grad += the group gradients, in group order, parameters split over the team. */
static void mlp_sum_groups_task(void *arg, int t, int n_team) {
    const mlp_run *r = arg;
    if (t >= r->n_threads) return;
    size_t np = r->net->n_params, lo = np * (size_t)t / (size_t)r->n_threads;
    size_t hi = np * (size_t)(t + 1) / (size_t)r->n_threads;
    (void)n_team;
    for (size_t g = 0; g < r->n_groups; g++) {
        const double *restrict src = r->net->group_grad + g * np;
        double *restrict dst = r->grad;
        for (size_t i = lo; i < hi; i++) dst[i] += src[i];
    }
}

static hp_status mlp_reverse(mlp *net, int slot, const double *theta, const double *cotangent,
                             double *grad, double *rows) {
    HP_CALL(mlp_check_slot(slot));
    mlp_slot *s = &net->slots[slot];
    if (!s->ready)
        HP_ERROR(HP_ERR_INTERNAL, "mlp: reverse pass on slot %d without a forward on it", slot);
    size_t n_chunks = hp_jet_chunk_count(s->n_points, net->chunk);
    size_t n_groups = n_chunks < MLP_GROUPS ? n_chunks : MLP_GROUPS;
    mlp_run r = {.net = net, .s = s, .theta = theta, .n_threads = mlp_threads_for(net, n_groups),
                 .n_chunks = n_chunks, .n_groups = n_groups, .cotangent = cotangent,
                 .grad = grad, .rows = rows};
    atomic_init(&r.next, 0);
    if (r.n_threads > 1) hp_jet_team_run(net->team, mlp_reverse_task, &r);
    else mlp_reverse_task(&r, 0, 1);
    if (grad && r.n_groups > 1) {
        if (r.n_threads > 1) hp_jet_team_run(net->team, mlp_sum_groups_task, &r);
        else mlp_sum_groups_task(&r, 0, 1);
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
