/* hpinn/network.h — the network plugin interface.
 *
 * A network maps points x (P x d) to n_outputs scalar fields, evaluated as jets
 * (hpinn/jets.h): value, gradient and Laplacian with respect to x. The
 * parameters live in one flat buffer theta owned by the caller; the plugin
 * describes its layout (named blocks) so checkpoints and tools can address them.
 *
 * A plugin says only what the network does to ONE CHUNK of points; hpinn's
 * network runner does the rest: it cuts a point set into chunks, hands them to
 * its threads, gathers and scatters between the caller's jet layout and the
 * chunk's, sums parameter gradients in a fixed order (the same bits for any
 * thread count), and owns the TAPES: a caller creates one tape per point set
 * (collocation points at order 2, coarse nodes at order 0, a rank's share of
 * them, a resampled set ...), and the forward pass of a chunk records on its
 * piece of the tape what the reverse and tangent passes of that chunk read.
 *
 * Chunk functions get the plugin state as const: several threads run chunks of
 * the same pass at once, so they may write only to the chunk's tape, the chunk's
 * output and the scratch they are given. They cannot fail (the shapes were
 * checked at create); they never allocate.
 *
 * ABI: the ops table starts with its own size. Members after `reverse` are
 * optional (NULL: not supported); a member appended in a later hpinn version is
 * absent for a plugin whose struct_size does not reach it (HP_OP_PRESENT). */
#ifndef HPINN_NETWORK_H
#define HPINN_NETWORK_H

#include <stddef.h>
#include <stdint.h>

#include "hpinn/export.h"
#include "hpinn/jets.h"
#include "hpinn/params.h"
#include "hpinn/status.h"

HP_BEGIN_API

/* One named block of the parameter buffer: rows x cols doubles at `offset`. */
typedef struct hp_param_block {
    const char *name;   /* "hidden1.weight", "output.bias", ... */
    size_t offset;
    size_t rows, cols;
} hp_param_block;

/* The chunk a chunk function works on. C = hp_jet_components(order, dim). */
typedef struct hp_network_chunk {
    const double *x;   /* q x d points of this chunk (row-major) */
    size_t q;          /* points in the chunk (at most the runner's chunk_points) */
    int order;         /* 0, 1 or 2: the tape's order */
    double *tape;      /* this chunk's piece of the tape: tape_per_column * C * q doubles */
    int fresh;         /* 1: the tape's points changed since its last forward, so anything
                          cached on the tape that depends on x alone must be recomputed */
} hp_network_chunk;

/* How much memory a network needs, per jet column (a column is one component of
 * one point; a chunk of q points at order o has C*q columns). */
typedef struct hp_network_workspace {
    size_t tape_per_column;    /* doubles the forward records for reverse/tangent */
    size_t scratch_per_column; /* doubles of per-thread scratch a chunk function may use */
} hp_network_workspace;

typedef struct hp_network_ops {
    uint32_t struct_size; /* sizeof(hp_network_ops) the plugin was built with */
    /* Create from validated parameters; input_dim is d (1 or 2). */
    hp_status (*create)(const hp_params *params, int input_dim, int n_outputs, void **state);
    void (*destroy)(void *state);
    size_t (*n_params)(const void *state);
    /* Blocks in buffer order; returns their count, *blocks valid while state lives. */
    size_t (*layout)(const void *state, const hp_param_block **blocks);
    /* Glorot initialisation from the plugin's `seed` parameter: same seed, same theta. */
    hp_status (*init)(void *state, double *theta);
    hp_network_workspace (*workspace)(const void *state);
    /* The chunk's jets on its tape, and its output jet: out is n_outputs x C*q
     * (the chunk's own jet layout), overwritten. */
    void (*forward)(const void *state, const double *theta, const hp_network_chunk *chunk, double *out,
                    double *scratch);
    /* Vector-Jacobian product of the chunk's last forward: d_out (n_outputs x
     * C*q) back through the network into sink (the gradient, ACCUMULATED, or the
     * chunk's Jacobian rows: row p = d/d theta of sum_{o,c} d_out[o][c*q+p] *
     * out[o][c*q+p]). */
    void (*reverse)(const void *state, const double *theta, const hp_network_chunk *chunk, const double *d_out,
                    double *scratch, hp_jet_param_sink sink);
    /* Optional. Jacobian-vector product of the chunk's last forward: d_out
     * (n_outputs x C*q, overwritten) = d out / d theta . dtheta (dtheta: n_params).
     * Gauss–Newton with matrix-free steps needs it. */
    void (*tangent)(const void *state, const double *theta, const double *dtheta, const hp_network_chunk *chunk,
                    double *d_out, double *scratch);
    /* Optional. The highest frequency, in cycles per unit length along each
     * input axis (max_per_axis: input_dim entries), of the fixed functions the
     * network is built on (Fourier features, lattice functions), as created:
     * collocation points must be dense enough to tell them apart (at least two
     * per period), or the fit between the points is left free. NULL: no such
     * functions, or not known; nothing is checked. */
    void (*frequencies)(const void *state, double *max_per_axis);
} hp_network_ops;

/* The runner's two parameters, for the plugin's hp_param_def table (the runner
 * reads them from the network section; a table without them gets the defaults). */
#define HP_NETWORK_RUNNER_PARAMS                                                              \
    {"threads", HP_PARAM_INT, "0", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 0, 256, NULL, 0,      \
     "threads that share the points (0: one per CPU); results do not depend on it"},         \
    {"chunk_points", HP_PARAM_INT, "64", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 1048576,     \
     NULL, 0, "points a thread takes through the whole network at once (cache blocking; "     \
     "results depend on it to rounding)"}

HP_END_API

#endif
