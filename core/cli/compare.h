/* compare.h (private to the hpinn command) — `hpinn compare`'s table: the
 * runs read back from their directories (summary.json, history.csv,
 * config.resolved.yaml, run.json; a sweep through sweep.json), the resolved
 * keys that differ between them, and the rows shown — one per run, or one per
 * group of runs that differ only in network.seed, with median, min and max.
 * compare_data.c builds it, cmd_compare.c prints it, compare_plot.c draws it. */
#ifndef HPINN_COMPARE_H
#define HPINN_COMPARE_H

#include <stddef.h>

#include "fileio.h"
#include "hpinn/status.h"
#include "yaml_flat.h"

#define HP__CMP_MAX_THRESHOLDS 8

/* The numbers of a row, in column order; the times to reach the thresholds follow. */
enum {
    HP__CMP_REL_L2,
    HP__CMP_REL_L2_WORST, /* the largest of the directions' own errors (2-D: the aims are per direction) */
    HP__CMP_FINE_RESIDUAL,
    HP__CMP_KTILDE,
    HP__CMP_KTILDE_ERR,
    HP__CMP_J_PINN,
    HP__CMP_ITERATIONS,
    HP__CMP_WALL,
    HP__CMP_T0, /* + threshold index */
    HP__CMP_MAX_METRICS = HP__CMP_T0 + HP__CMP_MAX_THRESHOLDS
};

typedef struct hp__cmp_history {
    size_t n;
    double *iteration, *seconds, *rel_l2, *j_pinn;
} hp__cmp_history;

typedef struct hp__cmp_run {
    char dir[HP__PATH_MAX];
    char label[256];
    char status[16];  /* done, diverged, interrupted, incomplete, failed, running, pending */
    char error[512];  /* a failed sweep member's last error */
    hp__flat config;  /* resolved keys (without output.dir, network.threads) */
    int full_config;  /* 0: only a failed member's overrides are known */
    double metric[HP__CMP_MAX_METRICS]; /* NaN: unknown; a time INFINITY: never reached */
    hp__cmp_history history;
} hp__cmp_run;

typedef struct hp__cmp_row {
    char label[256];
    char status[64];
    size_t *members;  /* indices of runs */
    size_t n_members;
    double stat[HP__CMP_MAX_METRICS][3]; /* median, min, max over the members that have the number */
    size_t count[HP__CMP_MAX_METRICS];   /* how many have it */
} hp__cmp_row;

typedef struct hp__cmp_table {
    hp__cmp_run *runs;
    size_t n_runs;
    char **keys;       /* the keys whose values differ, in document order */
    size_t n_keys;
    int grouped;
    hp__cmp_row *rows;
    size_t n_rows;
    double thresholds[HP__CMP_MAX_THRESHOLDS];
    int n_thresholds;
    int multi_direction; /* some run reports more than one direction's error */
} hp__cmp_table;

#define HP__CMP_SEED_KEY "network.seed"

/* The text and Markdown tables leave out the worst direction's error when no
 * run has two directions (it would repeat rel_l2); CSV and JSON keep every column. */
int hp__cmp_metric_in_table(const hp__cmp_table *t, int m);

/* Read every path (a run directory, or a sweep's: its members in order) into
 * t->runs and find the keys that differ. t->thresholds must be set. A path
 * that is neither is HP_ERR_NOT_FOUND. */
hp_status hp__cmp_load(hp__cmp_table *t, char **paths, size_t n_paths);
/* Make the rows: grouped by everything but network.seed when `group`. */
hp_status hp__cmp_make_rows(hp__cmp_table *t, int group);
void hp__cmp_free(hp__cmp_table *t);

/* The value of key k for a row: its members' common value, "?" when unknown,
 * "*" when they differ (the seed of a group). */
const char *hp__cmp_row_value(const hp__cmp_table *t, const hp__cmp_row *row, const char *key);
int hp__cmp_key_is_seed(const char *key);

/* Column names of the metrics ("rel_l2", ..., "t_rel_l2_1e-2"). */
void hp__cmp_metric_name(const hp__cmp_table *t, int m, char *buf, size_t size);
int hp__cmp_n_metrics(const hp__cmp_table *t);
/* A threshold as the columns name it: 1e-2, or %g when not a power of ten. */
void hp__cmp_threshold_text(double v, char *buf, size_t size);

/* --plot DIR (compare_plot.c): HP_ERR_IO naming the Debian package when
 * gnuplot is missing (hp__cmp_plot_check says so before anything is printed). */
hp_status hp__cmp_plot_check(void);
hp_status hp__cmp_plot(const hp__cmp_table *t, const char *dir);

#endif
