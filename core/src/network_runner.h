/* network_runner.h (private) — how hpinn runs a network plugin: one instance
 * (hp__net: the plugin's state, a thread team, per-thread scratch, gradient
 * groups) and caller-owned TAPES (hp__tape: a point set at one derivative order,
 * with what the forward recorded for the reverse and tangent passes).
 *
 * The points of a pass are cut into chunks of at most `chunk_points` points
 * (near-equal sizes, depending only on the point count), which the team takes
 * from a shared counter, so a thread the OS preempts does not hold the others
 * up; a thread takes one chunk through the WHOLE network before the next, so
 * every kernel reads jets the previous one has just written to its core's
 * cache. The reverse pass hands out fixed GROUPS of consecutive chunks instead;
 * each group accumulates into its own gradient buffer and the buffers are added
 * in group order: the same bits for any number of threads. During every pass
 * OpenBLAS runs single-threaded: the team is the parallelism, and a
 * multithreaded GEMM would split columns by OpenBLAS's own thread count, which
 * changes bits with some kernels.
 *
 * Every tape is bound to one network, point count and order; its memory is
 * allocated at creation, so a pass allocates nothing. A network's passes are
 * not reentrant (one pass per network at a time). */
#ifndef HPINN_NETWORK_RUNNER_H
#define HPINN_NETWORK_RUNNER_H

#include <stddef.h>

#include "hpinn/network.h"
#include "hpinn/plugin.h"

typedef struct hp__net hp__net;
typedef struct hp__tape hp__tape;

/* A network from its plugin and validated parameters (threads and chunk_points
 * are read from them when the plugin's table has them). */
hp_status hp__net_create(const hp_plugin_descriptor *desc, const hp_params *params, int input_dim, int n_outputs,
                         hp__net **out);
void hp__net_destroy(hp__net *net);
size_t hp__net_n_params(const hp__net *net);
hp_status hp__net_init(hp__net *net, double *theta);
/* Nonzero when the plugin offers the tangent pass. */
int hp__net_has_tangent(const hp__net *net);
/* The plugin's highest feature frequency per axis (cycles per unit; dim
 * entries): 1 when it tells (hp_network_ops.frequencies), 0 otherwise. */
int hp__net_frequencies(const hp__net *net, double *max_per_axis);
const hp_plugin_descriptor *hp__net_descriptor(const hp__net *net);
/* Bytes a tape of n points at `order` takes (for memory checks before allocating). */
double hp__net_tape_bytes(const hp__net *net, size_t n_points, int order);
/* The parameter layout (blocks in buffer order). */
size_t hp__net_layout(const hp__net *net, const hp_param_block **blocks);

/* A tape for n points (x: n x d, copied) at `order`. */
hp_status hp__tape_create(hp__net *net, const double *x, size_t n_points, int order, hp__tape **out);
void hp__tape_destroy(hp__tape *tape);
/* New points, same count (resampling): the next forward recomputes everything. */
void hp__tape_set_points(hp__tape *tape, const double *x);
size_t hp__tape_points(const hp__tape *tape);
const double *hp__tape_x(const hp__tape *tape);

/* The output jet at the tape's points (n_outputs x C*n, valid until the next
 * forward on this tape). */
hp_status hp__net_forward(hp__net *net, hp__tape *tape, const double *theta, const double **out);
/* Vector-Jacobian product of the tape's last forward: ACCUMULATES into grad. */
hp_status hp__net_backward(hp__net *net, hp__tape *tape, const double *theta, const double *cotangent,
                           double *grad);
/* Per-point Jacobian rows (n x n_params, OVERWRITTEN): row p = d/d theta of
 * sum_{o,c} weights[o][c*n+p] out[o][c*n+p]. */
hp_status hp__net_jacobian(hp__net *net, hp__tape *tape, const double *theta, const double *weights, double *rows);
/* Jacobian-vector product of the tape's last forward: d_out (n_outputs x C*n). */
hp_status hp__net_tangent(hp__net *net, hp__tape *tape, const double *theta, const double *dtheta, double *d_out);
/* Evaluate at any n points without a tape (validation, `hpinn eval`): out is
 * n_outputs x C*n. */
hp_status hp__net_eval(hp__net *net, const double *theta, const double *x, size_t n_points, int order,
                       double *out);

/* The cut of n points into chunks: count, and chunk i of n as first point and
 * count. Depends only on its arguments, never on a thread count. */
typedef struct hp__chunk {
    size_t first, count;
} hp__chunk;
size_t hp__chunk_count(size_t n_points, size_t max_chunk);
hp__chunk hp__chunk_at(size_t n_points, size_t n_chunks, size_t i);
/* jet (rows x C*n) <-> the chunk's own jet (rows x C*q). */
void hp__chunk_gather(double *chunk_jet, const double *jet, size_t rows, size_t n_points, hp__chunk chunk, int C);
void hp__chunk_scatter(double *jet, const double *chunk_jet, size_t rows, size_t n_points, hp__chunk chunk, int C);

#endif
