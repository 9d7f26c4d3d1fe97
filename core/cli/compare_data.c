/* compare_data.c — the runs of `hpinn compare` read back, the differing keys,
 * the seed groups and their statistics (compare.h).
 *
 * What a directory says is taken in this order: summary.json (final values at
 * the final θ), else the last row of history.csv (a run that failed or was cut
 * short), else the sweep's record of the member (a run that never started:
 * its overrides and its error). */
#include "compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_in.h"
#include "run_dir.h"
#include "sweep_record.h"

int hp__cmp_key_is_seed(const char *key) { return strcmp(key, HP__CMP_SEED_KEY) == 0; }

/* Keys that name where or how fast, never what: left out of the comparison. */
static int ignored_key(const char *key) {
    return strcmp(key, "output.dir") == 0 || strcmp(key, "network.threads") == 0;
}

int hp__cmp_n_metrics(const hp__cmp_table *t) { return HP__CMP_T0 + t->n_thresholds; }

int hp__cmp_metric_in_table(const hp__cmp_table *t, int m) { return m != HP__CMP_REL_L2_WORST || t->multi_direction; }

void hp__cmp_metric_name(const hp__cmp_table *t, int m, char *buf, size_t size) {
    static const char *const names[] = {"rel_l2", "rel_l2_worst_direction", "fine_residual", "ktilde", "ktilde_rel_error", "J_pinn",
                                        "iterations", "wall_seconds"};
    if (m < HP__CMP_T0) snprintf(buf, size, "%s", names[m]);
    else {
        char th[32];
        hp__cmp_threshold_text(t->thresholds[m - HP__CMP_T0], th, sizeof th);
        snprintf(buf, size, "t_rel_l2_%s", th);
    }
}

void hp__cmp_threshold_text(double v, char *buf, size_t size) {
    double e = round(log10(v));
    if (fabs(v - pow(10.0, e)) <= 1e-12 * v) snprintf(buf, size, "1e%d", (int)e); /* 0.01 -> 1e-2 */
    else snprintf(buf, size, "%g", v);
}

/* ---- history.csv ------------------------------------------------------------------ */

static hp_status push(double **v, size_t n, double x) {
    if ((n & (n - 1)) == 0) { /* grow at powers of two */
        double *g = realloc(*v, (n ? 2 * n : 1) * sizeof *g);
        if (!g) HP_ERROR(HP_ERR_NOMEM, "out of memory");
        *v = g;
    }
    (*v)[n] = x;
    return HP_OK;
}

/* Columns iteration, seconds, rel_l2, J_pinn, fine_residual, k_0_0_0; the
 * last row's values go to last[]. Absent file: no history. */
static hp_status read_history(const char *dir, hp__cmp_history *h, double last[6]) {
    for (int i = 0; i < 6; i++) last[i] = NAN;
    char path[HP__PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/history.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return HP_OK;
    static const char *const want[] = {"iteration", "seconds", "rel_l2", "J_pinn", "fine_residual", "k_0_0_0"};
    int col[6] = {-1, -1, -1, -1, -1, -1};
    char *line = NULL;
    size_t cap = 0;
    hp_status st = HP_OK;
    if (getline(&line, &cap, f) > 0) {
        int c = 0;
        for (char *save = NULL, *tok = strtok_r(line, ",\r\n", &save); tok; tok = strtok_r(NULL, ",\r\n", &save), c++)
            for (int w = 0; w < 6; w++)
                if (strcmp(tok, want[w]) == 0) col[w] = c;
    }
    while (st == HP_OK && getline(&line, &cap, f) > 0) {
        double v[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
        int c = 0;
        for (char *p = line; p; c++) {
            for (int w = 0; w < 6; w++)
                if (col[w] == c) {
                    char *end;
                    double x = strtod(p, &end);
                    if (end != p) v[w] = x;
                }
            p = strchr(p, ',');
            if (p) p++;
        }
        if (isnan(v[0])) continue; /* a cut-off last line */
        st = push(&h->iteration, h->n, v[0]);
        if (st == HP_OK) st = push(&h->seconds, h->n, v[1]);
        if (st == HP_OK) st = push(&h->rel_l2, h->n, v[2]);
        if (st == HP_OK) st = push(&h->j_pinn, h->n, v[3]);
        if (st == HP_OK) h->n++;
        for (int w = 0; w < 6; w++) last[w] = v[w];
    }
    free(line);
    fclose(f);
    return st;
}

/* ---- one run ---------------------------------------------------------------------- */

static void set_if_nan(double *dst, double v) {
    if (isnan(*dst)) *dst = v;
}

/* The largest entry of final.rel_l2_directions (NaN when absent: a summary of
 * an hpinn before 0.1.0's per-direction errors); *count its length. */
static double worst_direction(const hp__node *fin, size_t *count) {
    const hp__node *dirs = hp__json_get(fin, "rel_l2_directions");
    double worst = NAN;
    *count = 0;
    if (!dirs || dirs->kind != HP__SEQUENCE) return NAN;
    *count = dirs->count;
    for (size_t i = 0; i < dirs->count; i++) {
        double e = hp__json_num(dirs->items[i]);
        if (!isnan(e) && !(e <= worst)) worst = e;
    }
    return worst;
}

static void read_summary(const char *dir, hp__cmp_run *r, int *have, int *completed, int *diverged,
                         size_t *n_directions) {
    char path[HP__PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    hp__json_doc doc;
    *have = *completed = *diverged = 0;
    *n_directions = 0;
    if (hp__json_load(path, &doc) != HP_OK) {
        hp_error_clear(); /* absent or damaged: what history.csv has is shown */
        return;
    }
    *have = 1;
    *completed = hp__json_bool(hp__json_get(doc.root, "completed")) == 1;
    *diverged = hp__json_bool(hp__json_get(doc.root, "diverged")) == 1;
    const hp__node *fin = hp__json_get(doc.root, "final");
    r->metric[HP__CMP_REL_L2] = hp__json_num(hp__json_get(fin, "rel_l2"));
    r->metric[HP__CMP_REL_L2_WORST] = worst_direction(fin, n_directions);
    r->metric[HP__CMP_FINE_RESIDUAL] = hp__json_num(hp__json_get(fin, "fine_residual"));
    r->metric[HP__CMP_J_PINN] = hp__json_num(hp__json_get(fin, "J_pinn"));
    r->metric[HP__CMP_ITERATIONS] = hp__json_num(hp__json_get(doc.root, "iterations"));
    r->metric[HP__CMP_WALL] = hp__json_num(hp__json_get(doc.root, "wall_seconds"));
    const hp__node *kt = hp__json_get(doc.root, "ktilde");
    const hp__node *vals = hp__json_get(kt, "values"), *ref = hp__json_get(doc.root, "ktilde_reference");
    double dim = hp__json_num(hp__json_get(kt, "dim"));
    size_t nk = dim == 2 ? 4 : 1;
    if (vals && vals->kind == HP__SEQUENCE && vals->count >= nk) {
        r->metric[HP__CMP_KTILDE] = hp__json_num(vals->items[0]);
        /* K̃ of block 0 against the reference: |K̃ - K̃ref| / |K̃ref| (Frobenius), or
         * on K̃11 alone when the reference gives only that (isotropic) */
        if (ref && ref->kind == HP__SEQUENCE && ref->count >= 1) {
            size_t m = ref->count >= nk ? nk : 1;
            double d2 = 0, r2 = 0;
            for (size_t i = 0; i < m; i++) {
                double a = hp__json_num(vals->items[i]), b = hp__json_num(ref->items[i]);
                d2 += (a - b) * (a - b);
                r2 += b * b;
            }
            r->metric[HP__CMP_KTILDE_ERR] = r2 > 0 ? sqrt(d2 / r2) : NAN;
        }
    }
    hp__json_free(&doc);
}

static void set_label(hp__cmp_run *r, const char *member_name) {
    hp__run_record rec;
    if (hp__run_record_read(r->dir, &rec) == HP_OK) {
        if (rec.label) snprintf(r->label, sizeof r->label, "%s", rec.label);
        hp__run_record_free(&rec);
    } else {
        hp_error_clear();
    }
    if (r->label[0]) return;
    if (member_name) {
        snprintf(r->label, sizeof r->label, "%s", member_name);
        return;
    }
    char path[HP__PATH_MAX];
    snprintf(path, sizeof path, "%s", r->dir);
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') path[--len] = '\0';
    const char *slash = strrchr(path, '/');
    snprintf(r->label, sizeof r->label, "%s", slash && slash[1] ? slash + 1 : path);
}

static hp_status read_config(hp__cmp_run *r, const hp__sweep_member *member) {
    char path[HP__PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", r->dir, HP__RUN_CONFIG_FILE);
    hp__json_doc doc; /* YAML, read by the same parser */
    hp_status st = hp__json_load(path, &doc);
    if (st == HP_OK) {
        hp__flat all = {0};
        st = hp__flatten(doc.root, NULL, &all);
        for (size_t i = 0; st == HP_OK && i < all.n; i++)
            if (!ignored_key(all.keys[i])) st = hp__flat_put(&r->config, all.keys[i], all.values[i]);
        hp__flat_free(&all);
        hp__json_free(&doc);
        r->full_config = 1;
        return st;
    }
    hp_error_clear();
    for (size_t i = 0; member && i < member->n_overrides; i++) {
        const char *o = member->overrides[i], *eq = strchr(o, '=');
        if (!eq) continue;
        char key[512];
        snprintf(key, sizeof key, "%.*s", (int)(eq - o), o);
        if (!ignored_key(key)) HP_CALL(hp__flat_put(&r->config, key, eq + 1));
    }
    return HP_OK;
}

static hp_status load_run(hp__cmp_table *t, const char *dir, const hp__sweep_member *member) {
    hp__cmp_run *grown = realloc(t->runs, (t->n_runs + 1) * sizeof *grown);
    if (!grown) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    t->runs = grown;
    hp__cmp_run *r = &t->runs[t->n_runs++];
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    for (int m = 0; m < HP__CMP_MAX_METRICS; m++) r->metric[m] = NAN;
    set_label(r, member ? member->name : NULL);
    HP_CALL(read_config(r, member));
    int have, completed, diverged;
    size_t n_directions;
    read_summary(dir, r, &have, &completed, &diverged, &n_directions);
    if (n_directions > 1) t->multi_direction = 1;
    double last[6];
    HP_CALL(read_history(dir, &r->history, last));
    set_if_nan(&r->metric[HP__CMP_ITERATIONS], last[0]);
    set_if_nan(&r->metric[HP__CMP_WALL], last[1]);
    set_if_nan(&r->metric[HP__CMP_REL_L2], last[2]);
    set_if_nan(&r->metric[HP__CMP_J_PINN], last[3]);
    set_if_nan(&r->metric[HP__CMP_FINE_RESIDUAL], last[4]);
    set_if_nan(&r->metric[HP__CMP_KTILDE], last[5]);
    for (int k = 0; k < t->n_thresholds; k++) {
        double when = r->history.n ? INFINITY : NAN;
        for (size_t i = 0; i < r->history.n; i++)
            if (r->history.rel_l2[i] <= t->thresholds[k]) {
                when = r->history.seconds[i];
                break;
            }
        r->metric[HP__CMP_T0 + k] = when;
    }
    const char *status = completed ? "done" : diverged ? "diverged" : have ? "interrupted" : NULL;
    if (!status && member && member->status == HP__MEMBER_FAILED) status = "failed";
    if (!status && member && member->status == HP__MEMBER_RUNNING) status = "running";
    if (!status) status = r->history.n ? "incomplete" : member ? "pending" : "incomplete";
    snprintf(r->status, sizeof r->status, "%s", status);
    if (member && member->status == HP__MEMBER_FAILED && member->error[0])
        snprintf(r->error, sizeof r->error, "%s", member->error);
    return HP_OK;
}

static int has_file(const char *dir, const char *name) {
    char path[HP__PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* ---- the table ---------------------------------------------------------------------- */

static hp_status add_key(hp__cmp_table *t, const char *key) {
    for (size_t i = 0; i < t->n_keys; i++)
        if (strcmp(t->keys[i], key) == 0) return HP_OK;
    char **grown = realloc(t->keys, (t->n_keys + 1) * sizeof *grown);
    if (!grown) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    t->keys = grown;
    if (!(t->keys[t->n_keys] = strdup(key))) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    t->n_keys++;
    return HP_OK;
}

/* A run's value of key: its own, "(unset)" when a full config lacks it, NULL when unknown. */
static const char *run_value(const hp__cmp_run *r, const char *key) {
    const char *v = hp__flat_get(&r->config, key);
    return v ? v : r->full_config ? "(unset)" : NULL;
}

static hp_status find_differing_keys(hp__cmp_table *t) {
    hp__flat all = {0}; /* every key, in the order first seen */
    hp_status st = HP_OK;
    for (size_t i = 0; i < t->n_runs && st == HP_OK; i++)
        for (size_t k = 0; k < t->runs[i].config.n && st == HP_OK; k++)
            if (!hp__flat_get(&all, t->runs[i].config.keys[k])) st = hp__flat_put(&all, t->runs[i].config.keys[k], "");
    for (size_t k = 0; k < all.n && st == HP_OK; k++) {
        const char *first = NULL;
        int differs = 0;
        for (size_t i = 0; i < t->n_runs && !differs; i++) {
            const char *v = run_value(&t->runs[i], all.keys[k]);
            if (!v) continue;
            if (!first) first = v;
            else differs = strcmp(first, v) != 0;
        }
        if (differs) st = add_key(t, all.keys[k]);
    }
    hp__flat_free(&all);
    return st;
}

hp_status hp__cmp_load(hp__cmp_table *t, char **paths, size_t n_paths) {
    for (size_t p = 0; p < n_paths; p++) {
        const char *dir = paths[p];
        struct stat sb;
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            HP_ERROR(HP_ERR_NOT_FOUND, "compare: %s is not a directory; expected a run or a sweep directory", dir);
        if (has_file(dir, HP__SWEEP_RECORD_FILE)) {
            hp__sweep_record rec;
            HP_CALL(hp__sweep_record_read(dir, &rec));
            hp_status st = HP_OK;
            for (size_t i = 0; i < rec.n_members && st == HP_OK; i++) {
                char member_dir[HP__PATH_MAX];
                st = hp__path_join(member_dir, sizeof member_dir, dir, rec.members[i].name);
                if (st == HP_OK) st = load_run(t, member_dir, &rec.members[i]);
            }
            hp__sweep_record_free(&rec);
            HP_CALL(st);
        } else if (has_file(dir, "summary.json") || has_file(dir, "history.csv") ||
                   has_file(dir, HP__RUN_CONFIG_FILE) || has_file(dir, HP__RUN_INFO_FILE)) {
            HP_CALL(load_run(t, dir, NULL));
        } else {
            HP_ERROR(HP_ERR_NOT_FOUND, "compare: %s holds neither a run (summary.json, history.csv, run.json) nor a "
                     "sweep (sweep.json); expected the directory of `hpinn run` or `hpinn sweep`", dir);
        }
    }
    return find_differing_keys(t);
}

/* ---- rows ------------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void row_stats(hp__cmp_table *t, hp__cmp_row *row) {
    double *v = malloc((row->n_members ? row->n_members : 1) * sizeof *v);
    for (int m = 0; m < HP__CMP_MAX_METRICS; m++) {
        size_t n = 0;
        for (size_t i = 0; v && i < row->n_members; i++) {
            double x = t->runs[row->members[i]].metric[m];
            if (!isnan(x)) v[n++] = x; /* a time never reached counts, as +inf */
        }
        row->count[m] = n;
        if (!n) {
            row->stat[m][0] = row->stat[m][1] = row->stat[m][2] = NAN;
            continue;
        }
        qsort(v, n, sizeof *v, cmp_double);
        row->stat[m][0] = n % 2 ? v[n / 2] : (isinf(v[n / 2]) ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
        row->stat[m][1] = v[0];
        row->stat[m][2] = v[n - 1];
    }
    free(v);
}

/* "tau2=10_seed=3" -> "tau2=10": the label of the group of seeds. */
static void strip_seed(const char *label, char *out, size_t size) {
    snprintf(out, size, "%s", label);
    for (char *p = out; (p = strstr(p, "seed=")) != NULL; p++) {
        if (p != out && p[-1] != '_') continue;
        char *e = p + 5;
        while (*e >= '0' && *e <= '9') e++;
        if (e == p + 5 || (*e && *e != '_')) continue;
        if (p != out) p--;              /* the '_' before it */
        else if (*e == '_') e++;        /* at the start: the '_' after it */
        memmove(p, e, strlen(e) + 1);
        break;
    }
    if (!out[0]) snprintf(out, size, "seeds");
}

static void row_status(hp__cmp_table *t, hp__cmp_row *row) {
    static const char *const kinds[] = {"done", "diverged", "interrupted", "incomplete", "failed", "running", "pending"};
    size_t used = 0;
    row->status[0] = '\0';
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        size_t c = 0;
        for (size_t i = 0; i < row->n_members; i++) c += strcmp(t->runs[row->members[i]].status, kinds[k]) == 0;
        if (!c) continue;
        if (row->n_members == 1) used += (size_t)snprintf(row->status + used, sizeof row->status - used, "%s", kinds[k]);
        else used += (size_t)snprintf(row->status + used, sizeof row->status - used, "%s%zu %s", used ? ", " : "", c,
                                      kinds[k]);
        if (used >= sizeof row->status) break;
    }
}

/* The group key of a run: its values of the differing keys but the seed. */
static hp_status group_key(const hp__cmp_table *t, const hp__cmp_run *r, char **out) {
    size_t len = 0;
    *out = NULL;
    FILE *mem = open_memstream(out, &len);
    if (!mem) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < t->n_keys; k++) {
        if (hp__cmp_key_is_seed(t->keys[k])) continue;
        const char *v = run_value(r, t->keys[k]);
        fprintf(mem, "%s\x1f", v ? v : "?");
    }
    fclose(mem);
    if (!*out) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    return HP_OK;
}

hp_status hp__cmp_make_rows(hp__cmp_table *t, int group) {
    t->grouped = group;
    HP_CALL(hp_calloc(t->n_runs ? t->n_runs : 1, sizeof *t->rows, &t->rows));
    char **keys = NULL;
    HP_CALL(hp_calloc(t->n_runs ? t->n_runs : 1, sizeof *keys, &keys));
    hp_status st = HP_OK;
    for (size_t i = 0; i < t->n_runs && st == HP_OK; i++) {
        size_t row = t->n_rows;
        if (group) {
            st = group_key(t, &t->runs[i], &keys[i]);
            for (size_t r = 0; st == HP_OK && r < t->n_rows && row == t->n_rows; r++)
                if (strcmp(keys[t->rows[r].members[0]], keys[i]) == 0) row = r;
        }
        if (st != HP_OK) break;
        hp__cmp_row *rw = &t->rows[row];
        if (row == t->n_rows) {
            t->n_rows++;
            st = hp_calloc(t->n_runs, sizeof *rw->members, &rw->members);
            if (st != HP_OK) break;
        }
        rw->members[rw->n_members++] = i;
    }
    for (size_t i = 0; i < t->n_runs; i++) free(keys[i]);
    free(keys);
    HP_CALL(st);
    for (size_t r = 0; r < t->n_rows; r++) {
        hp__cmp_row *rw = &t->rows[r];
        const char *first = t->runs[rw->members[0]].label;
        int same = 1;
        for (size_t i = 1; i < rw->n_members; i++) same &= strcmp(t->runs[rw->members[i]].label, first) == 0;
        if (same || rw->n_members == 1) snprintf(rw->label, sizeof rw->label, "%s", first);
        else strip_seed(first, rw->label, sizeof rw->label);
        row_stats(t, rw);
        row_status(t, rw);
    }
    return HP_OK;
}

const char *hp__cmp_row_value(const hp__cmp_table *t, const hp__cmp_row *row, const char *key) {
    const char *v = NULL;
    for (size_t i = 0; i < row->n_members; i++) {
        const char *x = run_value(&t->runs[row->members[i]], key);
        if (!x) return "?";
        if (!v) v = x;
        else if (strcmp(v, x) != 0) return "*";
    }
    return v ? v : "?";
}

void hp__cmp_free(hp__cmp_table *t) {
    for (size_t i = 0; i < t->n_runs; i++) {
        hp__flat_free(&t->runs[i].config);
        hp__cmp_history *h = &t->runs[i].history;
        free(h->iteration);
        free(h->seconds);
        free(h->rel_l2);
        free(h->j_pinn);
    }
    free(t->runs);
    for (size_t k = 0; k < t->n_keys; k++) free(t->keys[k]);
    free(t->keys);
    for (size_t r = 0; r < t->n_rows; r++) free(t->rows[r].members);
    free(t->rows);
    memset(t, 0, sizeof *t);
}
