/* jets_runner.c — chunked network runs (hp_jet_runner in hpinn/jets.h): the
 * thread team, chunk hand-out and gradient groups that the network plugins
 * share, so a plugin only says what the network does to one chunk.
 *
 * Work items (chunks in the forward, groups of chunks in the reverse) come from
 * an atomic counter, so which thread does what varies from run to run; nothing
 * that reaches the caller may depend on it. Forward chunks write disjoint
 * columns, Jacobian rows of different chunks are disjoint, and gradients are
 * summed per fixed group into the group's own buffer, the buffers then added
 * in group order: the same bits for any number of threads. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "hpinn/jets.h"

/* Gradient groups of the reverse pass: enough for the threads to balance, few
 * enough that zeroing and summing them stays cheap. */
#define HP__RUNNER_GROUPS 8

struct hp_jet_runner {
    hp_jet_team *team;
    int n_threads;        /* of the team */
    size_t chunk_points;
    size_t chunk_columns; /* (2 + dim) * chunk_points */
    size_t n_params;
    double **scratch;     /* one per team thread */
    double *group_grad;   /* HP__RUNNER_GROUPS x n_params */
};

/* One forward or reverse pass; tasks touch only its counter. */
typedef struct hp__runner_pass {
    hp_jet_runner *runner;
    size_t n_points;
    int n_threads;        /* awake for this pass (<= the team's) */
    size_t n_chunks, n_groups;
    atomic_size_t next;   /* the next chunk (forward) or group (reverse) */
    hp_jet_chunk_forward_fn forward;
    hp_jet_chunk_reverse_fn reverse;
    void *ctx;
    double *grad, *rows;  /* reverse: one of them */
} hp__runner_pass;

void hp_jet_runner_destroy(hp_jet_runner *runner) {
    if (!runner) return;
    hp_jet_team_destroy(runner->team);
    if (runner->scratch)
        for (int t = 0; t < runner->n_threads; t++) free(runner->scratch[t]);
    free(runner->scratch);
    free(runner->group_grad);
    free(runner);
}

hp_status hp_jet_runner_create(const hp_params *params, int dim, size_t scratch_per_column,
                               size_t n_params, hp_jet_runner **runner) {
    *runner = NULL;
    hp_jet_runner *r;
    HP_CALL(hp_calloc(1, sizeof *r, &r));
    hp_status st;
    r->chunk_points = (size_t)hp_params_int(params, "chunk_points");
    r->n_params = n_params;
    HP_CALL_GOTO(st, hp_jet_team_create((int)hp_params_int(params, "threads"), &r->team), fail);
    r->n_threads = hp_jet_team_size(r->team);
    HP_CALL_GOTO(st, hp_calloc((size_t)r->n_threads, sizeof *r->scratch, &r->scratch), fail);
    size_t cq = (size_t)hp_jet_components(2, dim) * r->chunk_points;
    r->chunk_columns = cq;
    if (cq > ((size_t)-1) / sizeof(double) / (scratch_per_column + 1) / 2) {
        st = hp_params_error(params, "chunk_points", "is too large for this network's "
                             "scratch; expected a few hundred points at most");
        goto fail;
    }
    HP_CALL_GOTO(st, hp_malloc(HP__RUNNER_GROUPS * n_params * sizeof(double), &r->group_grad),
                 fail);
    for (int t = 0; t < r->n_threads; t++)
        HP_CALL_GOTO(st, hp_malloc(cq * scratch_per_column * sizeof(double), &r->scratch[t]),
                     fail);
    *runner = r;
    return HP_OK;
fail:
    hp_jet_runner_destroy(r);
    return st;
}

size_t hp_jet_runner_chunk_columns(const hp_jet_runner *runner) { return runner->chunk_columns; }

/* Threads worth waking for n work items (chunks or groups). */
static int hp__runner_threads_for(const hp_jet_runner *runner, size_t n_items) {
    return n_items < (size_t)runner->n_threads ? (n_items ? (int)n_items : 1)
                                                : runner->n_threads;
}

/* Runs task on the awake threads, on the caller alone when that is one.
 * OpenBLAS runs single-threaded for every pass, also when this pass wakes only
 * the caller: a multithreaded GEMM splits its columns by OpenBLAS's own thread
 * count, and some kernels (Haswell, Zen) sum a column differently depending on
 * where the split puts it, so a pass would otherwise give different bits for
 * `threads: 1` and `threads: 2` whenever OPENBLAS_NUM_THREADS > 1. */
static void hp__runner_dispatch(hp__runner_pass *pass, hp_jet_task task) {
#ifdef OPENBLAS_VERSION
    int blas_threads = openblas_get_num_threads();
    if (blas_threads != 1) openblas_set_num_threads(1);
#endif
    if (pass->n_threads > 1) hp_jet_team_run(pass->runner->team, task, pass);
    else task(pass, 0, 1);
#ifdef OPENBLAS_VERSION
    if (blas_threads != 1) openblas_set_num_threads(blas_threads);
#endif
}

static void hp__runner_forward_task(void *arg, int t, int n_team) {
    (void)n_team;
    hp__runner_pass *pass = arg;
    if (t >= pass->n_threads) return;
    double *scratch = pass->runner->scratch[t];
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&pass->next, 1, memory_order_relaxed);
        if (i >= pass->n_chunks) break;
        pass->forward(pass->ctx, hp_jet_chunk_at(pass->n_points, pass->n_chunks, i), scratch);
    }
}

void hp_jet_runner_forward(hp_jet_runner *runner, size_t n_points,
                           hp_jet_chunk_forward_fn forward, void *ctx) {
    size_t n_chunks = hp_jet_chunk_count(n_points, runner->chunk_points);
    hp__runner_pass pass = {.runner = runner, .n_points = n_points,
                            .n_threads = hp__runner_threads_for(runner, n_chunks),
                            .n_chunks = n_chunks, .forward = forward, .ctx = ctx};
    atomic_init(&pass.next, 0);
    hp__runner_dispatch(&pass, hp__runner_forward_task);
}

/* The chunk groups thread t takes: each into its own gradient buffer (straight
 * into the caller's when there is one group), or into the chunks' own rows. */
static void hp__runner_reverse_task(void *arg, int t, int n_team) {
    (void)n_team;
    hp__runner_pass *pass = arg;
    if (t >= pass->n_threads) return;
    const hp_jet_runner *r = pass->runner;
    size_t np = r->n_params;
    for (;;) {
        size_t g = atomic_fetch_add_explicit(&pass->next, 1, memory_order_relaxed);
        if (g >= pass->n_groups) break;
        hp_jet_chunk group = hp_jet_chunk_at(pass->n_chunks, pass->n_groups, g);
        double *grad = NULL;
        if (pass->grad && pass->n_groups == 1) {
            grad = pass->grad;
        } else if (pass->grad) {
            grad = r->group_grad + g * np;
            memset(grad, 0, np * sizeof *grad);
        }
        /* a group's last chunk first: the forward may have left it in the cache */
        for (size_t i = group.first + group.count; i-- > group.first;) {
            hp_jet_chunk ch = hp_jet_chunk_at(pass->n_points, pass->n_chunks, i);
            hp_jet_param_sink sink = {grad, pass->rows ? pass->rows + ch.first * np : NULL, np};
            pass->reverse(pass->ctx, ch, r->scratch[t], sink);
        }
    }
}

/* grad += the group gradients, in group order, parameters split over the team. */
static void hp__runner_sum_groups_task(void *arg, int t, int n_team) {
    (void)n_team;
    const hp__runner_pass *pass = arg;
    if (t >= pass->n_threads) return;
    size_t np = pass->runner->n_params, lo = np * (size_t)t / (size_t)pass->n_threads;
    size_t hi = np * (size_t)(t + 1) / (size_t)pass->n_threads;
    for (size_t g = 0; g < pass->n_groups; g++) {
        const double *restrict src = pass->runner->group_grad + g * np;
        double *restrict dst = pass->grad;
        for (size_t i = lo; i < hi; i++) dst[i] += src[i];
    }
}

void hp_jet_runner_reverse(hp_jet_runner *runner, size_t n_points,
                           hp_jet_chunk_reverse_fn reverse, void *ctx, double *grad,
                           double *rows) {
    if (rows) memset(rows, 0, n_points * runner->n_params * sizeof *rows);
    size_t n_chunks = hp_jet_chunk_count(n_points, runner->chunk_points);
    size_t n_groups = n_chunks < HP__RUNNER_GROUPS ? n_chunks : HP__RUNNER_GROUPS;
    hp__runner_pass pass = {.runner = runner, .n_points = n_points,
                            .n_threads = hp__runner_threads_for(runner, n_groups),
                            .n_chunks = n_chunks, .n_groups = n_groups, .reverse = reverse,
                            .ctx = ctx, .grad = grad, .rows = rows};
    atomic_init(&pass.next, 0);
    hp__runner_dispatch(&pass, hp__runner_reverse_task);
    if (grad && n_groups > 1) hp__runner_dispatch(&pass, hp__runner_sum_groups_task);
}

void hp_jet_chunk_gather(double *chunk_jet, const double *jet, size_t rows, size_t n_points,
                         hp_jet_chunk chunk, int order, int dim) {
    int C = hp_jet_components(order, dim);
    size_t P = n_points, q = chunk.count, cols = (size_t)C * P, cq = (size_t)C * q;
    for (size_t o = 0; o < rows; o++)
        for (int c = 0; c < C; c++)
            memcpy(chunk_jet + o * cq + (size_t)c * q, jet + o * cols + (size_t)c * P + chunk.first,
                   q * sizeof(double));
}

void hp_jet_chunk_scatter(double *jet, const double *chunk_jet, size_t rows, size_t n_points,
                          hp_jet_chunk chunk, int order, int dim) {
    int C = hp_jet_components(order, dim);
    size_t P = n_points, q = chunk.count, cols = (size_t)C * P, cq = (size_t)C * q;
    for (size_t o = 0; o < rows; o++)
        for (int c = 0; c < C; c++)
            memcpy(jet + o * cols + (size_t)c * P + chunk.first, chunk_jet + o * cq + (size_t)c * q,
                   q * sizeof(double));
}
