/* plot_data.c — `hpinn plot` reads a run directory (plot.h): the CSV tables,
 * the stages of config.resolved.yaml and the few numbers of summary.json the
 * figures name (final error, reference K̃ and how it was computed).
 *
 * A value that does not parse (a `nan`, an empty field, a short row) counts as
 * missing rather than as an error: the figures of a run that is still being
 * written must draw, and gnuplot skips missing values the same way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "plot.h"
#include "yaml_tree.h"

int hp__plot_col(const hp__plot_table *t, const char *name) {
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcmp(t->names[i], name) == 0) return (int)i;
    return -1;
}

double hp__plot_at(const hp__plot_table *t, size_t row, int col) {
    if (!t->rows || col < 0 || (size_t)col >= t->n_cols || row >= t->n_rows) return NAN;
    return t->rows[row * t->n_cols + (size_t)col];
}

static void table_free(hp__plot_table *t) {
    for (size_t i = 0; i < t->n_cols; i++) free(t->names[i]);
    free(t->names);
    free(t->rows);
    free(t->min);
    free(t->max);
    free(t->pair_diff);
    memset(t, 0, sizeof *t);
}

/* The column whose difference with c a figure shows: network v_i and reference
 * u_i (fields.csv), compressed network Qv_i and coarse state y_i (nodes.csv). */
static int partner(const hp__plot_table *t, size_t c) {
    const char *n = t->names[c];
    char want[64];
    if (n[0] == 'v' && n[1] >= '1' && n[1] <= '9') snprintf(want, sizeof want, "u%s", n + 1);
    else if (n[0] == 'Q' && n[1] == 'v' && n[2] >= '1' && n[2] <= '9') snprintf(want, sizeof want, "y%s", n + 2);
    else return -1;
    return hp__plot_col(t, want);
}

static hp_status table_header(const char *path, char *line, hp__plot_table *t) {
    size_t cap = 8;
    t->names = calloc(cap, sizeof *t->names);
    if (!t->names) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    for (char *save = NULL, *tok = strtok_r(line, ",\r\n", &save); tok; tok = strtok_r(NULL, ",\r\n", &save)) {
        if (t->n_cols == cap) {
            char **grown = realloc(t->names, 2 * cap * sizeof *grown);
            if (!grown) HP_ERROR(HP_ERR_NOMEM, "out of memory");
            t->names = grown;
            cap *= 2;
        }
        if (!(t->names[t->n_cols++] = strdup(tok))) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    if (t->n_cols == 0) HP_ERROR(HP_ERR_CORRUPT, "plot: %s has an empty header line; expected CSV column names", path);
    t->min = malloc(t->n_cols * sizeof *t->min);
    t->max = malloc(t->n_cols * sizeof *t->max);
    t->pair_diff = malloc(t->n_cols * sizeof *t->pair_diff);
    if (!t->min || !t->max || !t->pair_diff) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    for (size_t c = 0; c < t->n_cols; c++) {
        t->min[c] = INFINITY;
        t->max[c] = -INFINITY;
        t->pair_diff[c] = partner(t, c) >= 0 ? 0.0 : NAN;
    }
    return HP_OK;
}

/* One data row into vals (missing: NaN), then the running reductions. */
static void table_row(hp__plot_table *t, const char *line, double *vals, int ycol, double *y0) {
    const char *p = line;
    for (size_t c = 0; c < t->n_cols; c++) {
        char *end;
        double v = p ? strtod(p, &end) : NAN;
        if (!p || end == p || !isfinite(v)) v = NAN;
        vals[c] = v;
        const char *comma = p ? strchr(p, ',') : NULL;
        p = comma ? comma + 1 : NULL;
    }
    for (size_t c = 0; c < t->n_cols; c++) {
        if (isnan(vals[c])) continue;
        if (vals[c] < t->min[c]) t->min[c] = vals[c];
        if (vals[c] > t->max[c]) t->max[c] = vals[c];
        int q = isnan(t->pair_diff[c]) ? -1 : partner(t, c);
        if (q >= 0 && !isnan(vals[q]) && fabs(vals[c] - vals[q]) > t->pair_diff[c])
            t->pair_diff[c] = fabs(vals[c] - vals[q]);
    }
    /* grids are written x fastest: the first change of y ends the first line of points */
    if (ycol >= 0 && t->per_axis == 0) {
        if (t->n_rows == 0) *y0 = vals[ycol];
        else if (vals[ycol] != *y0) t->per_axis = t->n_rows;
    }
}

/* Read path into t; an absent file leaves t->present 0. keep: store every row. */
static hp_status table_read(const char *path, int keep, hp__plot_table *t) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) return HP_OK;
    char *line = NULL;
    size_t cap = 0, row_cap = 0;
    double *vals = NULL, y0 = 0.0;
    hp_status st = HP_OK;
    if (getline(&line, &cap, f) <= 0) {
        st = HP_ERROR_SET(HP_ERR_CORRUPT, "plot: %s is empty; expected a CSV header line", path);
        goto done;
    }
    HP_CALL_GOTO(st, table_header(path, line, t), done);
    if (!(vals = malloc(t->n_cols * sizeof *vals))) {
        st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
        goto done;
    }
    int ycol = hp__plot_col(t, "y");
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '\n' || line[0] == '\r') continue;
        table_row(t, line, vals, ycol, &y0);
        if (keep) {
            if (t->n_rows == row_cap) {
                row_cap = row_cap ? 2 * row_cap : 64;
                double *grown = realloc(t->rows, row_cap * t->n_cols * sizeof *grown);
                if (!grown) {
                    st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory reading %s", path);
                    goto done;
                }
                t->rows = grown;
            }
            memcpy(t->rows + t->n_rows * t->n_cols, vals, t->n_cols * sizeof *vals);
        }
        t->n_rows++;
    }
    if (ycol >= 0 && t->per_axis == 0) t->per_axis = t->n_rows;
    t->present = 1;
done:
    free(vals);
    free(line);
    fclose(f);
    return st;
}

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 14, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        char *grown = realloc(buf, 2 * cap);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static const char *scalar(const hp__node *map, const char *key) {
    const hp__node *n = map && map->kind == HP__MAPPING ? hp__node_map_get(map, key) : NULL;
    return n && n->kind == HP__SCALAR ? n->text : NULL;
}

static double scalar_real(const hp__node *map, const char *key, double fallback) {
    const char *s = scalar(map, key);
    char *end;
    double v = s ? strtod(s, &end) : NAN;
    return s && end != s && isfinite(v) ? v : fallback;
}

/* The stages as the trainer runs them (trainer.c: a stage's tau1/tau2/tau3 override
 * the coupling section's; an unnamed stage is "stage i"). */
static hp_status read_stages(const char *path, hp__plot_run *run) {
    size_t len;
    char *text = read_text(path, &len);
    if (!text)
        HP_ERROR(HP_ERR_NOT_FOUND,
                 "plot: %s is missing; expected the directory of a `hpinn run` (it writes config.resolved.yaml "
                 "when it starts; the figures name its stages and their weights)",
                 path);
    hp__node *root = NULL;
    hp_status st = hp__yaml_parse(text, len, path, &root);
    free(text);
    if (st != HP_OK) return st;
    const hp__node *coupling = root->kind == HP__MAPPING ? hp__node_map_get(root, "coupling") : NULL;
    const hp__node *stages = root->kind == HP__MAPPING ? hp__node_map_get(root, "stages") : NULL;
    double tau1 = scalar_real(coupling, "tau1", 1.0), tau2 = scalar_real(coupling, "tau2", 0.0);
    double tau3 = scalar_real(coupling, "tau3", 0.0);
    const char *form = scalar(coupling, "form");
    run->coupling_none = form && strcmp(form, "none") == 0;
    if (!stages || stages->kind != HP__SEQUENCE || stages->count == 0) {
        hp__node_free(root);
        HP_ERROR(HP_ERR_CORRUPT, "plot: %s has no stages: list; expected the resolved pipeline of a `hpinn run`", path);
    }
    for (size_t i = 0; i < stages->count && i < HP_CONFIG_MAX_STAGES; i++) {
        const hp__node *s = stages->items[i];
        hp__plot_stage *ps = &run->stages[run->n_stages++];
        const char *name = scalar(s, "name");
        if (name) snprintf(ps->name, sizeof ps->name, "%s", name);
        else snprintf(ps->name, sizeof ps->name, "stage %zu", i);
        const char *opt = scalar(s && s->kind == HP__MAPPING ? hp__node_map_get(s, "optimizer") : NULL, "plugin");
        snprintf(ps->optimizer, sizeof ps->optimizer, "%s", opt ? opt : "adam");
        ps->tau1 = scalar_real(s, "tau1", tau1);
        ps->tau2 = scalar_real(s, "tau2", tau2);
        ps->tau3 = scalar_real(s, "tau3", tau3);
    }
    hp__node_free(root);
    return HP_OK;
}

/* The number after `key` (searched from `from`); NaN when absent or null. */
static double json_number(const char *from, const char *key) {
    const char *p = from ? strstr(from, key) : NULL;
    if (!p || !(p = strchr(p + strlen(key), ':'))) return NAN;
    char *end;
    double v = strtod(p + 1, &end);
    return end == p + 1 ? NAN : v;
}

static void read_summary(const char *path, hp__plot_run *run) {
    char *text = read_text(path, NULL);
    if (!text) return;
    run->has_summary = 1;
    run->completed = strstr(text, "\"completed\": true") != NULL;
    run->final_rel_l2 = json_number(strstr(text, "\"final\""), "\"rel_l2\"");
    const char *p = strstr(text, "\"ktilde_reference\"");
    if (p && (p = strchr(p, '['))) {
        p++;
        while (run->n_kref < 4) {
            char *end;
            double v = strtod(p, &end);
            if (end == p) break;
            run->kref[run->n_kref++] = v;
            for (p = end; *p == ' ' || *p == ','; p++) {
            }
        }
    }
    /* "reference": "..." with \" and \\ escaped (outputs.c) */
    p = strstr(text, "\"reference\": \"");
    if (p) {
        size_t n = 0;
        for (p += 14; *p && *p != '"' && n + 1 < sizeof run->ref_label; p++) {
            if (*p == '\\' && p[1]) p++;
            run->ref_label[n++] = *p;
        }
        run->ref_label[n] = '\0';
    }
    free(text);
}

/* Which stages the history reached, and where each began: a stage ends with a
 * history row (trainer.c), so stage s begins at the last row of the stages
 * before it. */
static void stage_spans(hp__plot_run *run) {
    const hp__plot_table *h = &run->hist;
    int it = hp__plot_col(h, "iteration"), sc = hp__plot_col(h, "stage");
    for (size_t r = 0; r < h->n_rows; r++) {
        double i = hp__plot_at(h, r, it), s = hp__plot_at(h, r, sc);
        if (!isnan(i) && i > run->last_iteration) run->last_iteration = i;
        if (isnan(s) || s < 0 || s >= (double)run->n_stages) continue;
        run->stages[(size_t)s].reached = 1;
        for (size_t later = (size_t)s + 1; later < run->n_stages; later++)
            if (!isnan(i) && i > run->stages[later].start) run->stages[later].start = i;
    }
}

hp_status hp__plot_run_load(const char *dir, const char *history, hp__plot_run *run) {
    memset(run, 0, sizeof *run);
    run->final_rel_l2 = NAN;
    char path[HP__PATH_MAX];
    HP_CALL(hp__path_join(path, sizeof path, dir, "config.resolved.yaml"));
    HP_CALL(read_stages(path, run));
    HP_CALL(table_read(history, 1, &run->hist));
    if (!run->hist.present)
        HP_ERROR(HP_ERR_NOT_FOUND,
                 "plot: %s/history.csv is missing; expected the directory of a `hpinn run` (it writes history.csv "
                 "when it starts)",
                 dir);
    if (hp__plot_col(&run->hist, "iteration") < 0 || hp__plot_col(&run->hist, "stage") < 0)
        HP_ERROR(HP_ERR_CORRUPT, "plot: %s/history.csv has no iteration or stage column; expected the history of a "
                                 "`hpinn run`",
                 dir);
    HP_CALL(hp__path_join(path, sizeof path, dir, "fields.csv"));
    HP_CALL(table_read(path, 0, &run->fields));
    HP_CALL(hp__path_join(path, sizeof path, dir, "nodes.csv"));
    HP_CALL(table_read(path, 0, &run->nodes));
    HP_CALL(hp__path_join(path, sizeof path, dir, "summary.json"));
    read_summary(path, run);
    stage_spans(run);
    int two_d = hp__plot_col(&run->fields, "y") >= 0 || hp__plot_col(&run->nodes, "y") >= 0 ||
                hp__plot_col(&run->hist, "k_0_1_1") >= 0;
    run->dim = two_d ? 2 : 1;
    if (isnan(run->final_rel_l2)) {
        int c = hp__plot_col(&run->hist, "rel_l2");
        for (size_t r = run->hist.n_rows; r-- > 0;)
            if (!isnan(hp__plot_at(&run->hist, r, c))) {
                run->final_rel_l2 = hp__plot_at(&run->hist, r, c);
                break;
            }
    }
    return HP_OK;
}

void hp__plot_run_free(hp__plot_run *run) {
    table_free(&run->hist);
    table_free(&run->fields);
    table_free(&run->nodes);
}
