/* compression.c — Q̄ as a sparse row list. Windows are small (ω of a few nodes),
 * so rows are built directly from the grid indices; applying Q̄ or Q̄ᵀ costs one
 * pass over the entries. */
#include "compression.h"

#include <math.h>
#include <stdlib.h>

void hp__compression_destroy(hp__compression *q) {
    if (!q) return;
    free(q->start);
    free(q->column);
    free(q->weight);
    free(q);
}

hp_status hp__compression_create(const hp_coarse_mesh *mesh, int window, hp__window_shape shape, double delta,
                                hp__compression **out) {
    *out = NULL;
    int d = mesh->dim;
    long N = mesh->elements_per_dim; /* nodes 0..N per axis */
    size_t n = mesh->n_nodes;
    long w = window;
    size_t per_row = 1;
    for (int a = 0; a < d; a++) per_row *= (size_t)(2 * w + 1);
    hp__compression *q = calloc(1, sizeof *q);
    if (!q) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    q->n = n;
    hp_status st = HP_OK;
    HP_CALL_GOTO(st, hp_calloc(n + 1, sizeof *q->start, &q->start), fail);
    HP_CALL_GOTO(st, hp_calloc(n * per_row, sizeof *q->column, &q->column), fail);
    HP_CALL_GOTO(st, hp_calloc(n * per_row, sizeof *q->weight, &q->weight), fail);
    size_t e = 0;
    for (size_t k = 0; k < n; k++) {
        q->start[k] = e;
        long ki = (long)(k % (size_t)(N + 1)), kj = d == 2 ? (long)(k / (size_t)(N + 1)) : 0;
        double dist = 1.0;
        for (int a = 0; a < d; a++) {
            double x = mesh->coords[k * (size_t)d + (size_t)a];
            dist = fmin(dist, fmin(x, 1.0 - x));
        }
        if (!(dist > 0.5 * delta) || w == 0) { /* boundary layer (or no window): v itself */
            q->column[e] = k;
            q->weight[e++] = 1.0;
            continue;
        }
        size_t first = e;
        long jlo = d == 2 ? kj - w : 0, jhi = d == 2 ? kj + w : 0;
        for (long j = jlo; j <= jhi; j++) {
            if (j < 0 || j > (d == 2 ? N : 0)) continue;
            for (long i = ki - w; i <= ki + w; i++) {
                if (i < 0 || i > N) continue;
                if (shape == HP__WINDOW_DISK) {
                    double di = (double)(i - ki), dj = (double)(j - kj);
                    if (di * di + dj * dj > (double)(w * w)) continue;
                }
                q->column[e++] = (size_t)(j * (N + 1) + i);
            }
        }
        double inv = 1.0 / (double)(e - first);
        for (size_t t = first; t < e; t++) q->weight[t] = inv;
    }
    q->start[n] = e;
    *out = q;
    return HP_OK;
fail:
    hp__compression_destroy(q);
    return st;
}

void hp__compression_apply(const hp__compression *q, const double *v, double *out) {
    for (size_t k = 0; k < q->n; k++) {
        double s = 0.0;
        for (size_t t = q->start[k]; t < q->start[k + 1]; t++) s += q->weight[t] * v[q->column[t]];
        out[k] = s;
    }
}

void hp__compression_apply_transpose(const hp__compression *q, const double *g, double *out) {
    for (size_t k = 0; k < q->n; k++)
        for (size_t t = q->start[k]; t < q->start[k + 1]; t++) out[q->column[t]] += q->weight[t] * g[k];
}
