/* compression.h (private) — the discrete compression operator Q̄ of MATH.md §4
 * on the structured node grid of the coarse mesh, as a sparse matrix, with its
 * transpose for the reverse pass. */
#ifndef HPINN_COMPRESSION_H
#define HPINN_COMPRESSION_H

#include <stddef.h>

#include "hpinn/coarse.h"
#include "hpinn/status.h"

typedef enum hp_window_shape { HP_WINDOW_SQUARE = 0, HP_WINDOW_DISK = 1 } hp_window_shape;

typedef struct hp_compression {
    size_t n;          /* nodes */
    size_t *start;     /* n + 1: row k has entries start[k] .. start[k+1]-1 */
    size_t *column;
    double *weight;
} hp_compression;

/* (Q v)(x_k) = mean of v over nodes m with |m − k|_∞ ≤ ω (disk: |m − k|_2 ≤ ω),
 * clipped to the mesh; (Q̄ v)(x_k) = (Q v)(x_k) where dist(x_k, ∂Ω) > δ/2, else v(x_k). */
hp_status hp_compression_create(const hp_coarse_mesh *mesh, int window, hp_window_shape shape, double delta,
                                hp_compression **out);
void hp_compression_destroy(hp_compression *q);
/* out = Q̄ v (n each; out != v). */
void hp_compression_apply(const hp_compression *q, const double *v, double *out);
/* out += Q̄ᵀ g (n each; out != g). */
void hp_compression_apply_transpose(const hp_compression *q, const double *g, double *out);

#endif
