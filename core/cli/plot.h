/* plot.h (private to the hpinn command) — what `hpinn plot` reads from a run
 * directory and the gnuplot script it writes from it.
 *
 * plot_data.c reads the run: history.csv is kept whole (it is small and the
 * script needs per-row facts such as "is τ2·R positive anywhere"); fields.csv
 * and nodes.csv, which may hold millions of rows, are reduced while they are
 * read to what the script needs: column ranges and the largest difference of
 * each network/reference pair. The stages (name, optimizer, τ1, τ2) come from
 * config.resolved.yaml, the final error and the reference K̃ from summary.json.
 * plot_script.c turns that into plots.gp. */
#ifndef HPINN_PLOT_H
#define HPINN_PLOT_H

#include <stddef.h>
#include <stdio.h>

#include "hpinn/config.h"
#include "hpinn/status.h"

typedef struct hp__plot_table {
    int present;
    size_t n_cols, n_rows;
    char **names;
    double *rows;      /* n_rows x n_cols when the table is kept whole (history), else NULL */
    double *min, *max; /* per column over its finite values (min > max: none) */
    double *pair_diff; /* per column c: max |c - partner(c)| (v_i ~ u_i, Qv_i ~ y_i); NaN without a partner */
    size_t per_axis;   /* 2-D grids: points per axis (distinct x values), 0 otherwise */
} hp__plot_table;

typedef struct hp__plot_stage {
    char name[64];
    char optimizer[64];
    double tau1, tau2, tau3;
    int reached;       /* the history has a row of this stage */
    double start;      /* iteration where the stage began (the previous stage's last row) */
} hp__plot_stage;

typedef struct hp__plot_run {
    hp__plot_table hist, fields, nodes;
    size_t n_stages;
    hp__plot_stage stages[HP_CONFIG_MAX_STAGES];
    int coupling_none;       /* coupling.form: none (R is never computed) */
    int dim;                 /* 1 or 2 */
    int has_summary, completed;
    double final_rel_l2;     /* summary.json final.rel_l2, else the last history row's; NaN: none */
    size_t n_kref;           /* reference K̃ entries of block 0, in history column order */
    double kref[4];
    char ref_label[256];
    double last_iteration;   /* of the history (0 without rows) */
} hp__plot_run;

/* Read dir: config.resolved.yaml and history.csv must exist (HP_ERR_NOT_FOUND
 * naming the file and what writes it); `history` is the path of the history to
 * read (a snapshot of dir/history.csv). fields.csv, nodes.csv and summary.json
 * are optional: a run writes them at its end. */
hp_status hp__plot_run_load(const char *dir, const char *history, hp__plot_run *run);
void hp__plot_run_free(hp__plot_run *run);

int hp__plot_col(const hp__plot_table *t, const char *name);
/* History value at (row, col); NaN outside. */
double hp__plot_at(const hp__plot_table *t, size_t row, int col);

/* Output format of the figures. */
typedef enum hp__plot_format { HP__PLOT_PNG = 0, HP__PLOT_SVG, HP__PLOT_PDF } hp__plot_format;

typedef struct hp__plot_figures {
    int n;
    char names[4][32]; /* "losses.png", ... in the order they are drawn */
} hp__plot_figures;

/* Write the gnuplot script for run to g. `png_cairo`: the pngcairo terminal is
 * available (else gnuplot's png). The figures drawn are listed in figs. */
void hp__plot_write_script(FILE *g, const hp__plot_run *run, hp__plot_format format, int png_cairo,
                           hp__plot_figures *figs);

#endif
