/* outputs.h (private) — the end-of-run files of `hpinn run` besides history.csv
 * and the checkpoint: the fields (through hp__outputs_write_fields) and
 * summary.json, the machine-readable record of what ran and how it ended. */
#ifndef HPINN_OUTPUTS_H
#define HPINN_OUTPUTS_H

#include "hpinn/config.h"
#include "hpinn/registry.h"
#include "hpinn/status.h"
#include "diagnostics.h"
#include "hybrid.h"
#include "trainer.h"

/* The fields at θ into dir (fields.csv, nodes.csv; 2-D also fields.vtk, nodes.vtk). */
hp_status hp__outputs_write_fields(hp__hybrid *h, const double *theta, const char *dir);

/* What fields.csv, nodes.csv and `hpinn eval` are made of:
 * - the coarse state at θ: v, Q̄v and y at the coarse nodes (kept in h for
 *   hp__outputs_coarse_at); *have = 0 when K̃ is not positive definite there;
 * - the network of direction i at n points (x: n x dim): out is C x n,
 *   component-major, C = hp_jet_components(order, dim): the value, and with
 *   order 2 the gradient and the Laplacian (the lift of hard boundary
 *   conditions included);
 * - Q̄v_i and y_i of the last coarse state as P1 functions at n points;
 * - the coarse nodes. */
hp_status hp__outputs_coarse_state(hp__hybrid *h, const double *theta, int *have);
hp_status hp__outputs_network(hp__hybrid *h, int i, const double *theta, const double *x, size_t n, int order,
                              double *out);
hp_status hp__outputs_coarse_at(hp__hybrid *h, int i, const double *x, size_t n, double *qv, double *y);
void hp__outputs_nodes(const hp__hybrid *h, const double **coords, size_t *n);

#define HP__OUTPUTS_SUMMARY_FILE "summary.json"

/* Write dir/summary.json: final errors and terms at θ (evaluated here), K̃,
 * iterations, wall time, ms per iteration, hpinn version and git commit, the
 * command line, overrides and label (meta, may be NULL), the machine's cores and
 * BLAS threads, plugins with versions, the network seed when its plugin has
 * one, stages and the stop reason.
 * `theta` may be NULL (a run that failed before training): no final values then.
 * The run's warnings (diagnostics.h) go into the summary and, when `outcome`
 * is not NULL, to the caller for printing with the final values. */
typedef struct hp__run_outcome {
    double rel_l2, fine_residual, j_pinn;
    double rel_l2_direction[HP_JET_MAX_DIM];
    int n_directions;            /* entries of rel_l2_direction (directions with a reference) */
    double ktilde[4];            /* block 0 */
    int n_ktilde;                /* dim x dim */
    double ktilde_reference[4];
    int n_ktilde_reference;      /* 0: none; 1: isotropic (K̃11 only) */
    const char *reference_label; /* valid while the hybrid lives */
    hp__warnings warnings;
} hp__run_outcome;
/* How the run came about, recorded in summary.json beside the pipeline file's
 * name (which alone would hide every --set): this session's command line, the
 * overrides that shaped the run (those it was started with, then this
 * session's resume extensions), its label, and whether it was resumed. */
typedef struct hp__run_meta {
    int argc;                     /* argv[0]: the program */
    char **argv;
    const char *const *overrides; /* "key=value", n_overrides of them */
    size_t n_overrides;
    const char *label;            /* may be NULL */
    int resumed;
} hp__run_meta;
hp_status hp__outputs_write_summary(const hp_config *config, const hp_registry *registry, hp__hybrid *h,
                                   const double *theta, const hp__trainer_result *result, const hp__run_meta *meta,
                                   const char *dir, hp__run_outcome *outcome);

#endif
