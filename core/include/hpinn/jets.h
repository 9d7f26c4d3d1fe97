/* hpinn/jets.h — jets: values and input derivatives of a layer's activations.
 *
 * A jet of width W at P points, input dimension d and order o holds, for every
 * unit and point, the value (o >= 0), the d first derivatives with respect to
 * the input x (o >= 1) and the Laplacian (o == 2). It is stored as ONE row-major
 * matrix of W rows and C*P columns, C = hp_jet_components(o, d), columns ordered
 * component-major:
 *
 *     column c*P + p,  c = 0: value,  c = 1..d: d/dx_c,  c = d+1: Laplacian
 *
 * so a dense layer applied to a jet is a single GEMM and every component of one
 * unit is a contiguous run of P numbers.
 *
 * The kernels below are the building blocks of every network plugin: dense,
 * elementwise activation, Fourier embedding, concatenation and the boundary
 * lift; after them the thread team and the chunked runner the plugins drive
 * them with. Each kernel has X_forward and X_backward over raw arrays (shapes
 * in the comment above each). Conventions shared by all of them:
 *   - backward is the exact vector-Jacobian product of forward;
 *   - parameter gradients (d_weight, d_bias, d_B) ACCUMULATE (+=);
 *   - input cotangents (d_in, d_z, ...) are OVERWRITTEN;
 *   - any gradient pointer may be NULL to skip that output;
 *   - X_jacobian is X_backward's parameter part without the sum over points: it
 *     ACCUMULATES per-point rows (row p at rows + p*ld_rows) for Gauss-Newton.
 * The kernels cannot fail for valid shapes, so they return void; they never
 * allocate. Plain-loop reference versions of all of them live in tests/test_jets.c. */
#ifndef HPINN_JETS_H
#define HPINN_JETS_H

#include <stddef.h>
#include <stdint.h>

#include "hpinn/params.h"
#include "hpinn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest input dimension the kernels support (they keep per-point scratch of
 * this size on the stack); the framework itself uses d = 1 and 2. */
#define HP_JET_MAX_DIM 8

/* Number of components per point: 1 (order 0), 1 + d (order 1), 2 + d (order 2). */
static inline int hp_jet_components(int order, int dim) {
    return order <= 0 ? 1 : (order == 1 ? 1 + dim : 2 + dim);
}

/* ---- activations ---------------------------------------------------------- */

/* The enum order matches HP_ACTIVATION_CHOICES, so a parameter table's ENUM index
 * (hp_params_enum_index) is the activation kind. */
typedef enum hp_activation_kind {
    HP_ACT_TANH = 0,     /* tanh z */
    HP_ACT_SWISH = 1,    /* z * sigmoid(b z), b > 0 (paper: b = 1) */
    HP_ACT_SIN = 2,      /* sin z */
    HP_ACT_GELU = 3,     /* z * Phi(z), Phi the standard normal CDF (exact erf form) */
    HP_ACT_SOFTPLUS = 4  /* log(1 + e^z) */
} hp_activation_kind;

#define HP_ACTIVATION_CHOICES "tanh|swish|sin|gelu|softplus"

typedef struct hp_activation {
    hp_activation_kind kind;
    double b; /* swish parameter; ignored by the others */
} hp_activation;

/* sigma and its first three derivatives at z: out[k] = sigma^(k)(z), k = 0..3.
 * The scalar reference the jet kernels are tested against. */
void hp_activation_eval(hp_activation act, double z, double out[4]);

/* ---- dense layer ---------------------------------------------------------- */

/* in: n_in x C*P, weight: n_out x n_in (row-major), bias: n_out or NULL,
 * out: n_out x C*P.
 *   out = weight * in;  out[j][p] += bias[j] on the value columns only
 * (the derivatives of a constant vanish). One cblas_dgemm. */
void hp_jet_dense_forward(double *out, const double *in, const double *weight,
                          const double *bias, size_t n_out, size_t n_in,
                          size_t n_points, int order, int dim);

/* d_out: n_out x C*P, in: n_in x C*P (the forward's input), weight: n_out x n_in.
 *   d_weight (n_out x n_in) += d_out * in^T
 *   d_bias   (n_out)        += sum_p d_out[j][p]        (value columns)
 *   d_in     (n_in x C*P)    = weight^T * d_out         (overwritten) */
void hp_jet_dense_backward(double *d_in, double *d_weight, double *d_bias,
                           const double *d_out, const double *in, const double *weight,
                           size_t n_out, size_t n_in, size_t n_points, int order, int dim);

/* Per-point rows of the dense parameters. Row p of rows_weight (at
 * rows_weight + p*ld_rows, n_out*n_in entries, row-major like weight) and of
 * rows_bias (at rows_bias + p*ld_rows, n_out entries):
 *   rows_weight[p][j*n_in + i] += sum_c d_out[j][c*P+p] * in[i][c*P+p]
 *   rows_bias[p][j]            += d_out[j][p]
 * Either pointer may be NULL. Summing over p gives dense_backward's gradients. */
void hp_jet_dense_jacobian(double *rows_weight, double *rows_bias, size_t ld_rows,
                           const double *d_out, const double *in, size_t n_out,
                           size_t n_in, size_t n_points, int order, int dim);

/* Where a network's reverse pass puts the derivatives with respect to its
 * parameters (offsets into theta address both): either the gradient, summed
 * over points, or per-point Jacobian rows. Exactly one of grad and rows is set. */
typedef struct hp_jet_param_sink {
    double *grad;    /* n_params, ACCUMULATED (+=) */
    double *rows;    /* row p (the sink's p-th point) at rows + p*ld_rows, ACCUMULATED */
    size_t ld_rows;  /* n_params */
} hp_jet_param_sink;

/* One dense layer of a reverse pass, for either kind of sink; weight and bias
 * are offsets of the layer's blocks in theta (and in the gradient / a row):
 *   grad:  dense_backward into grad + weight, grad + bias
 *   rows:  dense_jacobian into rows + weight, rows + bias, then dense_backward
 *          for d_in only
 * d_in (n_in x C*P, overwritten) may be NULL when nothing is below the layer. */
void hp_jet_dense_reverse(double *d_in, const double *d_out, const double *in,
                          const double *theta, size_t weight, size_t bias, size_t n_out,
                          size_t n_in, size_t n_points, int order, int dim,
                          hp_jet_param_sink sink);

/* ---- elementwise activation ----------------------------------------------- */

/* z, a: width x C*P. The jet of a = sigma(z):
 *   a       = sigma(z)
 *   da/dx_c = sigma'(z) dz/dx_c
 *   Lap a   = sigma''(z) |grad z|^2 + sigma'(z) Lap z */
void hp_jet_activation_forward(double *a, const double *z, hp_activation act,
                               size_t width, size_t n_points, int order, int dim);

/* d_a: width x C*P; z, a: the forward's input and output. d_z (overwritten):
 *   d_z[value] = sigma' d_a[value] + sigma'' sum_c z_c d_a[c]
 *                + (sigma''' |grad z|^2 + sigma'' Lap z) d_a[Lap]
 *   d_z[c]     = sigma' d_a[c] + 2 sigma'' z_c d_a[Lap]
 *   d_z[Lap]   = sigma' d_a[Lap] */
void hp_jet_activation_backward(double *d_z, const double *d_a, const double *z,
                                const double *a, hp_activation act, size_t width,
                                size_t n_points, int order, int dim);

/* ---- Fourier embedding ---------------------------------------------------- */

/* x: P x d (row-major points), B: m x d, out: 2m x C*P.
 * Rows 0..m-1: cos(2 pi b_f . x), rows m..2m-1: sin(2 pi b_f . x), as jets:
 *   d/dx_c cos s = -2 pi b_fc sin s,   Lap cos s = -(2 pi)^2 |b_f|^2 cos s
 *   d/dx_c sin s =  2 pi b_fc cos s,   Lap sin s = -(2 pi)^2 |b_f|^2 sin s */
void hp_jet_fourier_forward(double *out, const double *x, const double *B,
                            size_t n_features, size_t n_points, int order, int dim);

/* d_out: 2m x C*P, out: the forward's output (its value rows hold cos s, sin s).
 *   d_B (m x d) += d <d_out, out> / d B
 * (x is data: no cotangent is produced for it.) */
void hp_jet_fourier_backward(double *d_B, const double *d_out, const double *out,
                             const double *x, const double *B, size_t n_features,
                             size_t n_points, int order, int dim);

/* Per-point rows of d_B: rows_B + p*ld_rows holds m*d entries (row-major like B),
 * ACCUMULATED. */
void hp_jet_fourier_jacobian(double *rows_B, size_t ld_rows, const double *d_out,
                             const double *out, const double *x, const double *B,
                             size_t n_features, size_t n_points, int order, int dim);

/* ---- concatenation -------------------------------------------------------- */

/* in[k]: widths[k] x C*P for k < n_parts; out: (sum widths) x C*P, the parts'
 * rows stacked in order. A network that writes its branches into adjacent row
 * blocks of one buffer gets this for free (the layouts coincide). */
void hp_jet_concat_forward(double *out, const double *const *in, const size_t *widths,
                           size_t n_parts, size_t n_points, int order, int dim);

/* d_out: (sum widths) x C*P; d_in[k] (widths[k] x C*P) = its row block
 * (overwritten; a NULL d_in[k] is skipped). */
void hp_jet_concat_backward(double *const *d_in, const double *d_out, const size_t *widths,
                            size_t n_parts, size_t n_points, int order, int dim);

/* ---- boundary lift -------------------------------------------------------- */

/* The hard Dirichlet lift v = l(x) N(x), l = prod_a x_a (1 - x_a), which vanishes
 * on the boundary of (0,1)^d. The caller (the objective) applies it to a
 * network's output jet; it is not a network option.
 * x: P x d; lift: 1 x C*P, the jet of l itself:
 *   l, d_c l = (1 - 2 x_c) prod_{a != c} g_a, Lap l = -2 sum_c prod_{a != c} g_a,
 *   g_a = x_a (1 - x_a). */
void hp_jet_lift_factor(double *lift, const double *x, size_t n_points, int order, int dim);

/* in, out: rows x C*P (in place allowed: out == in). Product rule per row:
 *   v = l N,  grad v = N grad l + l grad N,  Lap v = N Lap l + 2 grad l . grad N + l Lap N */
void hp_jet_lift_forward(double *out, const double *in, const double *x, size_t rows,
                         size_t n_points, int order, int dim);

/* d_out: rows x C*P; d_in (overwritten; d_in == d_out allowed):
 *   d_N[value] = l d_v + sum_c d_c l d_g[c] + Lap l d_L
 *   d_N[c]     = l d_g[c] + 2 d_c l d_L
 *   d_N[Lap]   = l d_L */
void hp_jet_lift_backward(double *d_in, const double *d_out, const double *x,
                          size_t rows, size_t n_points, int order, int dim);

/* ---- threads: a team of workers over point chunks ------------------------ */

/* The jet kernels are independent per point except for the parameter-gradient
 * sums, so a network can split its points over threads: each thread runs the
 * whole network on its own chunks (single-threaded BLAS on data that is still in
 * its core's cache). hp_jet_runner below builds a network's passes on these. */
typedef struct hp_jet_team hp_jet_team;

/* task(ctx, t, n) is run once for every t = 0..n-1, concurrently. */
typedef void (*hp_jet_task)(void *ctx, int thread, int n_threads);

/* n_threads <= 0 means one per online CPU. Starts n_threads - 1 workers that sleep
 * between runs (the caller is thread 0); a team of 1 starts none. */
hp_status hp_jet_team_create(int n_threads, hp_jet_team **team);
/* Joins the workers; NULL is ignored. */
void hp_jet_team_destroy(hp_jet_team *team);
/* Threads of the team (1 for a NULL team). */
int hp_jet_team_size(const hp_jet_team *team);
/* Runs the task on every thread and returns when all have finished. With more
 * than one thread, OpenBLAS is switched to one thread for the duration (the team
 * provides the parallelism; two thread pools would fight over the cores) and
 * restored afterwards. A NULL team runs task(ctx, 0, 1) on the caller. Not
 * reentrant: one run per team at a time. */
void hp_jet_team_run(hp_jet_team *team, hp_jet_task task, void *ctx);

/* Chunks of points: n_points cut into hp_jet_chunk_count() runs of at most
 * max_chunk points and near-equal size; hp_jet_chunk_at() gives run i of n as
 * its first point and count (the same cut also groups chunks: pass the chunk
 * count as n_points). Depends only on its arguments — never on a thread count —
 * so a network that hands chunks out to threads dynamically and sums per-group
 * gradients in group order gives the same bits with any number of threads. */
typedef struct hp_jet_chunk {
    size_t first, count;
} hp_jet_chunk;
size_t hp_jet_chunk_count(size_t n_points, size_t max_chunk);
hp_jet_chunk hp_jet_chunk_at(size_t n_points, size_t n_chunks, size_t i);

/* A network keeps its forward jets chunk by chunk (each a standard jet of the
 * chunk's q points) but takes x's order of points for its output and cotangent.
 * jet: rows x C*n_points; chunk_jet: rows x C*chunk.count.
 *   gather:  chunk_jet = the chunk's columns of jet
 *   scatter: the chunk's columns of jet = chunk_jet */
void hp_jet_chunk_gather(double *chunk_jet, const double *jet, size_t rows, size_t n_points,
                         hp_jet_chunk chunk, int order, int dim);
void hp_jet_chunk_scatter(double *jet, const double *chunk_jet, size_t rows, size_t n_points,
                          hp_jet_chunk chunk, int order, int dim);

/* ---- chunked network runs ------------------------------------------------- */

/* The driver both network plugins run on (jets_runner.c): the points are cut
 * into chunks of at most `chunk_points` points that a team of `threads`
 * threads takes from a shared counter, so a thread the OS preempts does not
 * hold the others up; a thread takes one chunk through the WHOLE network (the
 * plugin's callback) before the next, so every kernel reads jets the previous
 * one has just written to its core's cache. The reverse pass hands out fixed
 * GROUPS of consecutive chunks instead: each group accumulates into its own
 * gradient buffer, and the buffers are added to the caller's gradient in group
 * order, so the result is the same bits for any number of threads (it depends
 * on chunk_points). The runner owns the team, one scratch buffer per thread
 * and the group gradients; it allocates nothing after create(). Not reentrant:
 * one pass per runner at a time. */
typedef struct hp_jet_runner hp_jet_runner;

/* The two parameters the runner reads, for the plugin's hp_param_def table. */
#define HP_JET_RUNNER_PARAMS                                                                  \
    {"threads", HP_PARAM_INT, "0", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 0, 256, NULL, 0,      \
     "threads that share the points (0: one per CPU); results do not depend on it"},         \
    {"chunk_points", HP_PARAM_INT, "64", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 1048576,     \
     NULL, 0, "points a thread takes through the whole network at once (cache blocking; "     \
     "results depend on it to rounding)"}

/* The network's work on one chunk, with the calling thread's scratch (its own
 * for the duration of the call; size: see create). ctx is the plugin's.
 * forward: the chunk's jets, and its columns of the output;
 * reverse: the chunk's cotangents back through the network, the parameter
 *          derivatives into sink (whose rows, if any, start at the chunk's
 *          first point). */
typedef void (*hp_jet_chunk_forward_fn)(void *ctx, hp_jet_chunk chunk, double *scratch);
typedef void (*hp_jet_chunk_reverse_fn)(void *ctx, hp_jet_chunk chunk, double *scratch,
                                        hp_jet_param_sink sink);

/* params: the plugin's, with HP_JET_RUNNER_PARAMS in its table (a chunk too
 * large for the scratch is reported against chunk_points). Every thread gets
 * scratch_per_column doubles per column of a full chunk's jet at order 2, i.e.
 * scratch_per_column * hp_jet_runner_chunk_columns() doubles. n_params: the
 * length of the gradients the reverse pass sums. */
hp_status hp_jet_runner_create(const hp_params *params, int dim, size_t scratch_per_column,
                               size_t n_params, hp_jet_runner **runner);
/* NULL is ignored. */
void hp_jet_runner_destroy(hp_jet_runner *runner);
/* Columns of a full chunk's jet at order 2: (2 + dim) * chunk_points. */
size_t hp_jet_runner_chunk_columns(const hp_jet_runner *runner);
/* Runs forward on every chunk of n_points points. */
void hp_jet_runner_forward(hp_jet_runner *runner, size_t n_points,
                           hp_jet_chunk_forward_fn forward, void *ctx);
/* Runs reverse on every chunk of n_points points, into exactly one of
 *   grad: n_params, ACCUMULATED (+=);
 *   rows: n_points x n_params, row-major, OVERWRITTEN (zeroed first). */
void hp_jet_runner_reverse(hp_jet_runner *runner, size_t n_points,
                           hp_jet_chunk_reverse_fn reverse, void *ctx, double *grad,
                           double *rows);

/* ---- initialisation ------------------------------------------------------- */

/* A small, documented, portable generator so that the same seed gives the same
 * parameters bit for bit on every platform: xoshiro256** (Blackman & Vigna)
 * seeded by four splitmix64 steps from seed ^ (stream * 0x9E3779B97F4A7C15).
 * Independent streams let a network draw different things (weights, Fourier
 * matrices) from one user seed without one depending on how much the other used. */
typedef struct hp_rng {
    uint64_t s[4];
} hp_rng;

void hp_rng_seed(hp_rng *rng, uint64_t seed, uint64_t stream);
uint64_t hp_rng_next(hp_rng *rng);
/* Uniform in (0, 1): the top 53 bits plus one half ulp, never 0 or 1. */
double hp_rng_uniform(hp_rng *rng);
/* Standard normal by Box-Muller, cosine branch only: every normal costs exactly
 * two uniforms, so the stream position never depends on hidden cached state. */
double hp_rng_normal(hp_rng *rng);

/* Glorot (Xavier) normal: n entries ~ N(0, 2 / (fan_in + fan_out)). */
void hp_glorot_normal(hp_rng *rng, double *w, size_t n, size_t fan_in, size_t fan_out);

#ifdef __cplusplus
}
#endif
#endif
