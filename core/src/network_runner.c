/* network_runner.c — chunked, threaded network passes on caller-owned tapes
 * (network_runner.h).
 *
 * Work items (chunks in the forward and tangent, groups of chunks in the
 * reverse) come from an atomic counter, so which thread does what varies from
 * run to run; nothing that reaches the caller may depend on it. Forward chunks
 * write disjoint columns, Jacobian rows of different chunks are disjoint, and
 * gradients are summed per fixed group into the group's own buffer, the buffers
 * then added in group order. */
#include "network_runner.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "team.h"

/* Gradient groups of the reverse pass: enough for the threads to balance, few
 * enough that zeroing and summing them stays cheap. */
#define HP__RUNNER_GROUPS 8

struct hp__net {
    const hp_plugin_descriptor *desc;
    const hp_network_ops *ops;
    void *state;
    int dim, n_out;
    size_t n_params;
    hp_network_workspace ws;
    hp__team *team;
    int n_threads;
    size_t chunk_points;
    size_t chunk_cols;   /* (2 + dim) * chunk_points: the columns of a full chunk at order 2 */
    double **scratch;    /* per thread: ws.scratch_per_column * chunk_cols */
    double **io;         /* per thread: n_out * chunk_cols, a chunk's output or cotangent */
    double **eval_tape;  /* per thread: ws.tape_per_column * chunk_cols, for tape-less passes */
    double *group_grad;  /* HP__RUNNER_GROUPS x n_params */
};

struct hp__tape {
    hp__net *net;
    size_t n;
    int order, C;
    double *x;      /* n x dim */
    double *mem;    /* ws.tape_per_column * C * n, chunk by chunk */
    double *out;    /* n_out x C*n */
    int fresh;      /* points changed since the last forward */
    int ready;      /* a forward has run on these points */
};

/* ---- chunks ---------------------------------------------------------------------- */

size_t hp__chunk_count(size_t n_points, size_t max_chunk) {
    if (max_chunk == 0) max_chunk = 1;
    return (n_points + max_chunk - 1) / max_chunk;
}

hp__chunk hp__chunk_at(size_t n_points, size_t n_chunks, size_t i) {
    if (n_chunks == 0) return (hp__chunk){0, 0};
    size_t lo = n_points * i / n_chunks, hi = n_points * (i + 1) / n_chunks;
    return (hp__chunk){lo, hi - lo};
}

void hp__chunk_gather(double *chunk_jet, const double *jet, size_t rows, size_t n_points, hp__chunk chunk, int C) {
    size_t P = n_points, q = chunk.count, cols = (size_t)C * P, cq = (size_t)C * q;
    for (size_t o = 0; o < rows; o++)
        for (int c = 0; c < C; c++)
            memcpy(chunk_jet + o * cq + (size_t)c * q, jet + o * cols + (size_t)c * P + chunk.first, q * sizeof(double));
}

void hp__chunk_scatter(double *jet, const double *chunk_jet, size_t rows, size_t n_points, hp__chunk chunk, int C) {
    size_t P = n_points, q = chunk.count, cols = (size_t)C * P, cq = (size_t)C * q;
    for (size_t o = 0; o < rows; o++)
        for (int c = 0; c < C; c++)
            memcpy(jet + o * cols + (size_t)c * P + chunk.first, chunk_jet + o * cq + (size_t)c * q, q * sizeof(double));
}

/* ---- the network ------------------------------------------------------------------ */

static int table_has(const hp_param_def *t, const char *name) {
    for (; t && t->name; t++)
        if (strcmp(t->name, name) == 0) return 1;
    return 0;
}

static void free_per_thread(double **bufs, int n) {
    if (!bufs) return;
    for (int t = 0; t < n; t++) free(bufs[t]);
    free(bufs);
}

void hp__net_destroy(hp__net *net) {
    if (!net) return;
    if (net->state) net->ops->destroy(net->state);
    hp__team_destroy(net->team);
    free_per_thread(net->scratch, net->n_threads);
    free_per_thread(net->io, net->n_threads);
    free_per_thread(net->eval_tape, net->n_threads);
    free(net->group_grad);
    free(net);
}

static hp_status alloc_per_thread(double ***bufs, int n, size_t doubles) {
    HP_CALL(hp_calloc((size_t)n, sizeof **bufs, bufs));
    for (int t = 0; t < n; t++) HP_CALL(hp_malloc((doubles ? doubles : 1) * sizeof(double), &(*bufs)[t]));
    return HP_OK;
}

hp_status hp__net_create(const hp_plugin_descriptor *desc, const hp_params *params, int input_dim, int n_outputs,
                         hp__net **out) {
    *out = NULL;
    hp__net *net;
    HP_CALL(hp_calloc(1, sizeof *net, &net));
    hp_status st;
    net->desc = desc;
    net->ops = desc->ops;
    net->dim = input_dim;
    net->n_out = n_outputs;
    HP_CALL_GOTO(st, HP_USE_OP(net->ops, create, params, input_dim, n_outputs, &net->state), fail);
    net->n_params = net->ops->n_params(net->state);
    net->ws = net->ops->workspace(net->state);
    int threads = table_has(desc->params, "threads") ? (int)hp_params_int(params, "threads") : 0;
    net->chunk_points = table_has(desc->params, "chunk_points") ? (size_t)hp_params_int(params, "chunk_points") : 64;
    net->chunk_cols = (size_t)hp_jet_components(2, input_dim) * net->chunk_points;
    size_t per_col = net->ws.tape_per_column + net->ws.scratch_per_column + (size_t)n_outputs;
    if (net->chunk_cols > ((size_t)-1) / sizeof(double) / (per_col + 1) / 4) {
        st = hp_params_error(params, "chunk_points", "is too large for this network's scratch; expected a few "
                                                     "hundred points at most");
        goto fail;
    }
    HP_CALL_GOTO(st, hp__team_create(threads, &net->team), fail);
    net->n_threads = hp__team_size(net->team);
    HP_CALL_GOTO(st, alloc_per_thread(&net->scratch, net->n_threads, net->ws.scratch_per_column * net->chunk_cols), fail);
    HP_CALL_GOTO(st, alloc_per_thread(&net->io, net->n_threads, (size_t)n_outputs * net->chunk_cols), fail);
    HP_CALL_GOTO(st, alloc_per_thread(&net->eval_tape, net->n_threads, net->ws.tape_per_column * net->chunk_cols), fail);
    HP_CALL_GOTO(st, hp_malloc(HP__RUNNER_GROUPS * (net->n_params ? net->n_params : 1) * sizeof(double), &net->group_grad),
                 fail);
    *out = net;
    return HP_OK;
fail:
    hp__net_destroy(net);
    return st;
}

size_t hp__net_n_params(const hp__net *net) { return net->n_params; }
hp_status hp__net_init(hp__net *net, double *theta) { return HP_USE_OP(net->ops, init, net->state, theta); }
int hp__net_has_tangent(const hp__net *net) { return HP_OP_PRESENT(net->ops, tangent); }

int hp__net_frequencies(const hp__net *net, double *max_per_axis) {
    if (!HP_OP_PRESENT(net->ops, frequencies)) return 0;
    for (int a = 0; a < net->dim; a++) max_per_axis[a] = 0.0;
    net->ops->frequencies(net->state, max_per_axis);
    return 1;
}
const hp_plugin_descriptor *hp__net_descriptor(const hp__net *net) { return net->desc; }
size_t hp__net_layout(const hp__net *net, const hp_param_block **blocks) { return net->ops->layout(net->state, blocks); }

double hp__net_tape_bytes(const hp__net *net, size_t n_points, int order) {
    double cols = (double)hp_jet_components(order, net->dim) * (double)n_points;
    return 8.0 * cols * (double)(net->ws.tape_per_column + (size_t)net->n_out) + 8.0 * (double)n_points * net->dim;
}

/* ---- tapes ------------------------------------------------------------------------ */

static size_t at_least_one(size_t n) { return n ? n : 1; }

hp_status hp__tape_create(hp__net *net, const double *x, size_t n_points, int order, hp__tape **out) {
    *out = NULL;
    if (order < 0 || order > 2) HP_ERROR(HP_ERR_INTERNAL, "tape: order %d; expected 0, 1 or 2", order);
    hp__tape *t;
    HP_CALL(hp_calloc(1, sizeof *t, &t));
    t->net = net;
    t->n = n_points;
    t->order = order;
    t->C = hp_jet_components(order, net->dim);
    size_t cols = (size_t)t->C * n_points, d = (size_t)net->dim;
    hp_status st;
    HP_CALL_GOTO(st, hp_malloc(at_least_one(n_points * d) * sizeof(double), &t->x), fail);
    HP_CALL_GOTO(st, hp_malloc(at_least_one(net->ws.tape_per_column * cols) * sizeof(double), &t->mem), fail);
    HP_CALL_GOTO(st, hp_malloc(at_least_one((size_t)net->n_out * cols) * sizeof(double), &t->out), fail);
    hp__tape_set_points(t, x);
    *out = t;
    return HP_OK;
fail:
    hp__tape_destroy(t);
    return st;
}

void hp__tape_destroy(hp__tape *t) {
    if (!t) return;
    free(t->x);
    free(t->mem);
    free(t->out);
    free(t);
}

void hp__tape_set_points(hp__tape *t, const double *x) {
    if (t->n) memcpy(t->x, x, t->n * (size_t)t->net->dim * sizeof *x);
    t->fresh = 1;
    t->ready = 0;
}

size_t hp__tape_points(const hp__tape *t) { return t->n; }
const double *hp__tape_x(const hp__tape *t) { return t->x; }

/* ---- passes ----------------------------------------------------------------------- */

typedef enum pass_kind { PASS_FORWARD, PASS_REVERSE, PASS_TANGENT, PASS_EVAL } pass_kind;

typedef struct pass {
    hp__net *net;
    pass_kind kind;
    size_t n;                 /* points */
    int order, C, fresh;
    const double *x;          /* n x dim */
    double *tape;             /* the tape's memory (NULL: eval) */
    const double *theta, *dtheta;
    const double *in;         /* reverse: the cotangent (caller layout) */
    double *out;              /* forward/tangent/eval: the output (caller layout) */
    double *grad, *rows;      /* reverse: one of them */
    int n_threads;
    size_t n_chunks, n_groups;
    atomic_size_t next;
} pass;

static hp_network_chunk chunk_of(const pass *p, hp__chunk ch, double *own_tape) {
    hp_network_chunk c;
    c.x = p->x + ch.first * (size_t)p->net->dim;
    c.q = ch.count;
    c.order = p->order;
    c.tape = own_tape ? own_tape : p->tape + p->net->ws.tape_per_column * (size_t)p->C * ch.first;
    c.fresh = own_tape ? 1 : p->fresh;
    return c;
}

static void chunk_task(void *arg, int t, int n_team) {
    (void)n_team;
    pass *p = arg;
    if (t >= p->n_threads) return;
    hp__net *net = p->net;
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= p->n_chunks) break;
        hp__chunk ch = hp__chunk_at(p->n, p->n_chunks, i);
        hp_network_chunk c = chunk_of(p, ch, p->kind == PASS_EVAL ? net->eval_tape[t] : NULL);
        if (p->kind == PASS_TANGENT)
            net->ops->tangent(net->state, p->theta, p->dtheta, &c, net->io[t], net->scratch[t]);
        else
            net->ops->forward(net->state, p->theta, &c, net->io[t], net->scratch[t]);
        hp__chunk_scatter(p->out, net->io[t], (size_t)net->n_out, p->n, ch, p->C);
    }
}

/* The chunk groups thread t takes: each into its own gradient buffer (straight
 * into the caller's when there is one group), or into the chunks' own rows. */
static void group_task(void *arg, int t, int n_team) {
    (void)n_team;
    pass *p = arg;
    if (t >= p->n_threads) return;
    hp__net *net = p->net;
    size_t np = net->n_params;
    for (;;) {
        size_t g = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (g >= p->n_groups) break;
        hp__chunk group = hp__chunk_at(p->n_chunks, p->n_groups, g);
        double *grad = NULL;
        if (p->grad && p->n_groups == 1) {
            grad = p->grad;
        } else if (p->grad) {
            grad = net->group_grad + g * np;
            memset(grad, 0, np * sizeof *grad);
        }
        /* a group's last chunk first: the forward may have left it in the cache */
        for (size_t i = group.first + group.count; i-- > group.first;) {
            hp__chunk ch = hp__chunk_at(p->n, p->n_chunks, i);
            hp_network_chunk c = chunk_of(p, ch, NULL);
            hp__chunk_gather(net->io[t], p->in, (size_t)net->n_out, p->n, ch, p->C);
            hp_jet_param_sink sink = {grad, p->rows ? p->rows + ch.first * np : NULL, np};
            net->ops->reverse(net->state, p->theta, &c, net->io[t], net->scratch[t], sink);
        }
    }
}

/* grad += the group gradients, in group order, parameters split over the team. */
static void sum_groups_task(void *arg, int t, int n_team) {
    (void)n_team;
    const pass *p = arg;
    if (t >= p->n_threads) return;
    size_t np = p->net->n_params, lo = np * (size_t)t / (size_t)p->n_threads;
    size_t hi = np * (size_t)(t + 1) / (size_t)p->n_threads;
    for (size_t g = 0; g < p->n_groups; g++) {
        const double *restrict src = p->net->group_grad + g * np;
        double *restrict dst = p->grad;
        for (size_t i = lo; i < hi; i++) dst[i] += src[i];
    }
}

static int threads_for(const hp__net *net, size_t n_items) {
    return n_items < (size_t)net->n_threads ? (n_items ? (int)n_items : 1) : net->n_threads;
}

/* Runs task on the awake threads (the caller alone when that is one), with
 * OpenBLAS single-threaded for the duration (see the header). */
static void dispatch(pass *p, hp__team_task task) {
#ifdef OPENBLAS_VERSION
    int blas_threads = openblas_get_num_threads();
    if (blas_threads != 1) openblas_set_num_threads(1);
#endif
    atomic_init(&p->next, 0);
    if (p->n_threads > 1) hp__team_run(p->net->team, task, p);
    else task(p, 0, 1);
#ifdef OPENBLAS_VERSION
    if (blas_threads != 1) openblas_set_num_threads(blas_threads);
#endif
}

static void pass_init(pass *p, hp__net *net, pass_kind kind, size_t n, int order) {
    memset(p, 0, sizeof *p);
    p->net = net;
    p->kind = kind;
    p->n = n;
    p->order = order;
    p->C = hp_jet_components(order, net->dim);
    p->n_chunks = hp__chunk_count(n, net->chunk_points);
    p->n_threads = threads_for(net, p->n_chunks);
}

hp_status hp__net_forward(hp__net *net, hp__tape *tape, const double *theta, const double **out) {
    if (tape->net != net) HP_ERROR(HP_ERR_INTERNAL, "network forward on a tape of another network");
    pass p;
    pass_init(&p, net, PASS_FORWARD, tape->n, tape->order);
    p.x = tape->x;
    p.tape = tape->mem;
    p.fresh = tape->fresh;
    p.theta = theta;
    p.out = tape->out;
    dispatch(&p, chunk_task);
    tape->fresh = 0;
    tape->ready = 1;
    *out = tape->out;
    return HP_OK;
}

static hp_status reverse(hp__net *net, hp__tape *tape, const double *theta, const double *in, double *grad,
                         double *rows) {
    if (tape->net != net) HP_ERROR(HP_ERR_INTERNAL, "network reverse pass on a tape of another network");
    if (!tape->ready) HP_ERROR(HP_ERR_INTERNAL, "network reverse pass on a tape without a forward on its points");
    if (rows) memset(rows, 0, tape->n * net->n_params * sizeof *rows);
    pass p;
    pass_init(&p, net, PASS_REVERSE, tape->n, tape->order);
    p.n_groups = p.n_chunks < HP__RUNNER_GROUPS ? p.n_chunks : HP__RUNNER_GROUPS;
    p.n_threads = threads_for(net, p.n_groups);
    p.x = tape->x;
    p.tape = tape->mem;
    p.theta = theta;
    p.in = in;
    p.grad = grad;
    p.rows = rows;
    dispatch(&p, group_task);
    if (grad && p.n_groups > 1) dispatch(&p, sum_groups_task);
    return HP_OK;
}

hp_status hp__net_backward(hp__net *net, hp__tape *tape, const double *theta, const double *cotangent,
                           double *grad) {
    HP_CALL(reverse(net, tape, theta, cotangent, grad, NULL));
    return HP_OK;
}

hp_status hp__net_jacobian(hp__net *net, hp__tape *tape, const double *theta, const double *weights, double *rows) {
    HP_CALL(reverse(net, tape, theta, weights, NULL, rows));
    return HP_OK;
}

hp_status hp__net_tangent(hp__net *net, hp__tape *tape, const double *theta, const double *dtheta, double *d_out) {
    if (!hp__net_has_tangent(net))
        HP_ERROR(HP_ERR_CONFIG, "network plugin '%s' has no tangent pass (Jacobian-vector products), which "
                                "matrix-free Gauss-Newton needs; use a plugin that has one, or the dense lm",
                 net->desc->name);
    if (!tape->ready) HP_ERROR(HP_ERR_INTERNAL, "network tangent pass on a tape without a forward on its points");
    pass p;
    pass_init(&p, net, PASS_TANGENT, tape->n, tape->order);
    p.x = tape->x;
    p.tape = tape->mem;
    p.theta = theta;
    p.dtheta = dtheta;
    p.out = d_out;
    dispatch(&p, chunk_task);
    return HP_OK;
}

hp_status hp__net_eval(hp__net *net, const double *theta, const double *x, size_t n_points, int order, double *out) {
    if (order < 0 || order > 2) HP_ERROR(HP_ERR_INTERNAL, "network evaluation: order %d; expected 0, 1 or 2", order);
    pass p;
    pass_init(&p, net, PASS_EVAL, n_points, order);
    p.x = x;
    p.theta = theta;
    p.out = out;
    dispatch(&p, chunk_task);
    return HP_OK;
}
