/* hpinn/network.h — the network plugin interface.
 *
 * A network maps points x (P x d) to n_outputs scalar fields and returns them as
 * an output jet (see hpinn/jets.h): n_outputs rows, C*P columns. The parameters
 * live in one flat buffer theta owned by the caller; the plugin describes its
 * layout (named blocks) so checkpoints and tools can address them.
 *
 * Slots: the hybrid objective evaluates the network on two point sets per
 * iteration (collocation points at order 2, coarse nodes at order 0) and
 * differentiates both; each set uses its own slot so its forward workspace
 * survives until its backward. After the first call on a slot with a given
 * point count and order, forward/backward/jacobian must not allocate. */
#ifndef HPINN_NETWORK_H
#define HPINN_NETWORK_H

#include <stddef.h>

#include "hpinn/jets.h"
#include "hpinn/params.h"
#include "hpinn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HP_NETWORK_SLOTS 4

/* One named block of the parameter buffer: rows x cols doubles at `offset`. */
typedef struct hp_param_block {
    const char *name;   /* "hidden1.weight", "output.bias", ... */
    size_t offset;
    size_t rows, cols;
} hp_param_block;

typedef struct hp_network_ops {
    /* Create from validated parameters; input_dim is d (1 or 2). */
    hp_status (*create)(const hp_params *params, int input_dim, int n_outputs, void **state);
    void (*destroy)(void *state);
    size_t (*n_params)(const void *state);
    /* Blocks in buffer order; returns their count, *blocks valid while state lives. */
    size_t (*layout)(const void *state, const hp_param_block **blocks);
    /* Glorot initialisation from the plugin's `seed` parameter: same seed, same theta. */
    hp_status (*init)(void *state, double *theta);
    /* Evaluate at x (n_points x d, row-major) up to `order` (0, 1, 2). *out points to
     * the plugin-owned output jet (n_outputs x C*n_points), valid until the next
     * forward on the same slot. */
    hp_status (*forward)(void *state, int slot, const double *theta, const double *x,
                         size_t n_points, int order, const double **out);
    /* Vector-Jacobian product of the last forward on `slot`: cotangent has the shape
     * of the output jet; ACCUMULATES d(<cotangent, out>)/d theta into grad. */
    hp_status (*backward)(void *state, int slot, const double *theta,
                          const double *cotangent, double *grad);
    /* Optional (NULL if unsupported). Per-point Jacobian rows of the last forward on
     * `slot`: rows (n_points x n_params, row-major, overwritten), row p =
     * d/d theta of sum_{o,c} weights[o][c*P+p] * out[o][c*P+p]. Summing rows over p
     * equals backward(weights). */
    hp_status (*jacobian)(void *state, int slot, const double *theta,
                          const double *weights, double *rows);
} hp_network_ops;

#ifdef __cplusplus
}
#endif
#endif
