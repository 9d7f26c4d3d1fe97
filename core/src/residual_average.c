/* residual_average.c — the coarse-averaged PINN residual (residual_average.h). */
#include "residual_average.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

hp_status hp__residual_average_create(hp__residual_average *a, int dim, int cells, size_t M) {
    memset(a, 0, sizeof *a);
    if (dim < 1 || dim > 2 || cells < 1) HP_ERROR(HP_ERR_INTERNAL, "residual average: dim %d, %d cells", dim, cells);
    a->dim = dim;
    a->cells = cells;
    a->corners = dim == 1 ? 2 : 4;
    a->n_nodes = dim == 1 ? (size_t)cells + 1 : ((size_t)cells + 1) * ((size_t)cells + 1);
    a->n_points = M;
    HP_CALL(hp_calloc(M * (size_t)a->corners, sizeof *a->node, &a->node));
    HP_CALL(hp_calloc(M * (size_t)a->corners, sizeof *a->weight, &a->weight));
    HP_CALL(hp_calloc(a->n_nodes, sizeof *a->mass, &a->mass));
    return HP_OK;
}

void hp__residual_average_destroy(hp__residual_average *a) {
    free(a->node);
    free(a->weight);
    free(a->mass);
    memset(a, 0, sizeof *a);
}

/* The cell of coordinate t in [0,1] and the position inside it, in [0,1]. */
static size_t locate(double t, int cells, double *local) {
    double s = t * cells;
    long i = (long)floor(s);
    if (i < 0) i = 0;
    if (i > cells - 1) i = cells - 1;
    *local = s - (double)i;
    return (size_t)i;
}

void hp__residual_average_set_points(hp__residual_average *a, const double *x, const double *w) {
    size_t M = a->n_points, c = (size_t)a->corners, stride = (size_t)a->cells + 1;
    double *mass = a->mass;
    memset(mass, 0, a->n_nodes * sizeof *mass);
    for (size_t r = 0; r < M; r++) {
        double tx, ty = 0.0;
        size_t ix = locate(x[r * (size_t)a->dim], a->cells, &tx), iy = 0;
        if (a->dim == 2) iy = locate(x[r * 2 + 1], a->cells, &ty);
        for (size_t k = 0; k < c; k++) {
            size_t dx = k & 1, dy = k >> 1;
            double psi = (dx ? tx : 1.0 - tx) * (a->dim == 2 ? (dy ? ty : 1.0 - ty) : 1.0);
            a->node[r * c + k] = (ix + dx) + stride * (iy + dy);
            a->weight[r * c + k] = w[r] * psi;
        }
    }
    for (size_t e = 0; e < M * c; e++) mass[a->node[e]] += a->weight[e];
    size_t active = 0;
    for (size_t k = 0; k < a->n_nodes; k++) active += mass[k] > 0.0;
    for (size_t e = 0; e < M * c; e++) a->weight[e] = mass[a->node[e]] > 0.0 ? a->weight[e] / mass[a->node[e]] : 0.0;
    a->n_active = active ? (double)active : 1.0;
}

double hp__residual_average_forward(const hp__residual_average *a, const double *rho, double *g) {
    size_t M = a->n_points, c = (size_t)a->corners;
    memset(g, 0, a->n_nodes * sizeof *g);
    for (size_t r = 0; r < M; r++)
        for (size_t k = 0; k < c; k++) g[a->node[r * c + k]] += a->weight[r * c + k] * rho[r];
    double s = 0.0;
    for (size_t k = 0; k < a->n_nodes; k++) s += g[k] * g[k];
    return s / a->n_active;
}

void hp__residual_average_pullback(const hp__residual_average *a, const double *g, double scale, double *rho_cot) {
    size_t M = a->n_points, c = (size_t)a->corners;
    for (size_t r = 0; r < M; r++) {
        double s = 0.0;
        for (size_t k = 0; k < c; k++) s += a->weight[r * c + k] * g[a->node[r * c + k]];
        rho_cot[r] += scale * s;
    }
}

void hp__residual_average_rows(const hp__residual_average *a, const double *pinn_rows, size_t n, double scale,
                               double *rows) {
    size_t M = a->n_points, c = (size_t)a->corners;
    memset(rows, 0, a->n_nodes * n * sizeof *rows);
    for (size_t r = 0; r < M; r++) {
        const double *src = pinn_rows + r * n;
        for (size_t k = 0; k < c; k++) {
            double wgt = scale * a->weight[r * c + k];
            if (wgt == 0.0) continue;
            double *dst = rows + a->node[r * c + k] * n;
            for (size_t j = 0; j < n; j++) dst[j] += wgt * src[j];
        }
    }
}

double hp__residual_average_row_scale(const hp__residual_average *a, double tau3) {
    return sqrt(2.0 * tau3 / a->n_active);
}
