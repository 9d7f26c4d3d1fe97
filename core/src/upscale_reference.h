/* upscale_reference.h — the reference upscaling driver behind `hpinn upscale`.
 *
 * Given the fine-scale problem (dim, K, q as point callbacks), a P1 solver plugin
 * used as the fine solver, one or more upscaling strategies and a list of fine
 * mesh sizes, it solves the direction problems (38) on each mesh, feeds the
 * element data of the FEM solutions (centroids, areas, ∫_e K/|e|, ∇u_i) to the
 * same upscaling plugins the hybrid solver uses, and collects K̃ per size and
 * strategy. Optionally writes the fine solutions (CSV; 2-D also legacy VTK), a K̃
 * table and a mesh-convergence table with the observed order to a directory.
 * Private to libhpinn and its CLI (not installed). */
#ifndef HPINN_UPSCALE_REFERENCE_H
#define HPINN_UPSCALE_REFERENCE_H

#include <stddef.h>
#include <stdio.h>

#include "hpinn/coarse.h"
#include "hpinn/plugin.h"
#include "hpinn/upscaling.h"

typedef struct hp__upscale_strategy {
    const hp_plugin_descriptor *desc; /* kind HP_PLUGIN_UPSCALING */
    const hp_params *params;
    const char *label;                /* column/file label, e.g. "global" or "blocks" */
} hp__upscale_strategy;

/* Builds the fine solver's parameters for `elements` per dimension (so the CLI
 * can carry over quadrature settings from the config). */
typedef hp_status (*hp__fine_params_fn)(int elements, void *ctx, hp_params **out);

typedef enum hp__upscale_fields {
    HP__UPSCALE_FIELDS_NONE = 0,
    HP__UPSCALE_FIELDS_FINEST = 1, /* only the largest mesh */
    HP__UPSCALE_FIELDS_ALL = 2
} hp__upscale_fields;

typedef struct hp__upscale_reference_config {
    int dim;
    hp_scalar_field K;
    void *K_ctx;
    hp_scalar_field q;   /* NULL: q = 0 */
    void *q_ctx;
    const hp_plugin_descriptor *fine;  /* kind HP_PLUGIN_COARSE: p1_1d / p1_2d */
    hp__fine_params_fn fine_params;     /* NULL: "elements=N" with defaults */
    void *fine_params_ctx;
    const int *mesh_sizes;             /* elements per dimension, increasing */
    size_t n_mesh_sizes;
    const hp__upscale_strategy *strategies;
    size_t n_strategies;
    const char *output_dir;            /* NULL: write nothing (must exist otherwise) */
    hp__upscale_fields fields;
    void (*progress)(const char *message, void *ctx); /* optional */
    void *progress_ctx;
    /* optional: u_i of the finest mesh at these points, n_directions x n_eval */
    const double *eval_points;
    size_t n_eval;
    double *eval_u;
} hp__upscale_reference_config;

typedef struct hp__upscale_reference_result {
    int dim;
    size_t n_sizes, n_strategies;
    int *mesh_sizes;          /* n_sizes */
    size_t *n_blocks;         /* n_strategies */
    double **Kt;              /* [size * n_strategies + s]: n_blocks x dim x dim */
    unsigned char **positive_definite; /* same indexing, n_blocks each */
    double **condition;       /* same indexing, n_blocks each */
    double *seconds;          /* n_sizes: solves + upscaling */
} hp__upscale_reference_result;

hp_status hp__upscale_reference_run(const hp__upscale_reference_config *cfg,
                                   hp__upscale_reference_result **out);
void hp__upscale_reference_result_destroy(hp__upscale_reference_result *r);

/* Observed order of K̃ at size index k >= 2 for strategy s: with the differences
 * D_k = max |K̃(N_k) - K̃(N_{k-1})| over blocks and entries,
 * p = log(D_{k-1}/D_k) / log(N_k/N_{k-1}) (NAN when undefined). */
double hp__upscale_reference_order(const hp__upscale_reference_result *r, size_t s, size_t k);

/* The K̃ table (one row per size, strategy and block) and, with two or more
 * sizes, the convergence columns; for the CLI to print. */
hp_status hp__upscale_reference_write_table(const hp__upscale_reference_result *r,
                                           const hp__upscale_reference_config *cfg, FILE *out);

#endif
