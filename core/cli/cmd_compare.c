/* cmd_compare.c — `hpinn compare RUN_OR_SWEEP... [--format text|csv|md|json]
 * [--group|--no-group] [--plot DIR] [--thresholds A,B,...]`: the table of
 * compare.h printed as aligned text (split into blocks of columns that fit
 * the terminal), CSV and JSON with every digit (for scripts), or Markdown with
 * the text's rounding (for docs/). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "compare.h"
#include "json_out.h"
#include "sweep_spec.h"

typedef enum format { FMT_TEXT, FMT_CSV, FMT_MD, FMT_JSON } format;

typedef struct compare_args {
    char **paths;
    size_t n_paths;
    format fmt;
    int group; /* -1: when the seeds differ */
    const char *plot;
} compare_args;

static hp_status parse_thresholds(const char *text, hp__cmp_table *t) {
    char **v = NULL;
    size_t n = 0;
    HP_CALL(hp__sweep_split_values(text, "compare: --thresholds", &v, &n));
    hp_status st = HP_OK;
    if (n > HP__CMP_MAX_THRESHOLDS)
        st = HP_ERROR_SET(HP_ERR_USAGE, "compare: --thresholds: %zu values; expected at most %d", n,
                          HP__CMP_MAX_THRESHOLDS);
    for (size_t i = 0; st == HP_OK && i < n; i++) {
        char *end;
        double x = strtod(v[i], &end);
        if (*end || !(x > 0) || !isfinite(x))
            st = HP_ERROR_SET(HP_ERR_USAGE, "compare: --thresholds: '%s' is not a positive number; expected e.g. "
                                            "1e-1,1e-2,1e-3", v[i]);
        t->thresholds[i] = x;
    }
    if (st == HP_OK) t->n_thresholds = (int)n;
    hp__sweep_strings_free(v, n);
    return st;
}

static hp_status parse_args(int argc, char **argv, compare_args *a, hp__cmp_table *t) {
    a->group = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int has = i + 1 < argc;
        if (strcmp(arg, "--format") == 0) {
            const char *f = has ? argv[++i] : "";
            if (strcmp(f, "text") == 0) a->fmt = FMT_TEXT;
            else if (strcmp(f, "csv") == 0) a->fmt = FMT_CSV;
            else if (strcmp(f, "md") == 0) a->fmt = FMT_MD;
            else if (strcmp(f, "json") == 0) a->fmt = FMT_JSON;
            else HP_ERROR(HP_ERR_USAGE, "compare: --format '%s'; expected text, csv, md or json", f);
        } else if (strcmp(arg, "--group") == 0) {
            a->group = 1;
        } else if (strcmp(arg, "--no-group") == 0) {
            a->group = 0;
        } else if (strcmp(arg, "--plot") == 0) {
            if (!has) HP_ERROR(HP_ERR_USAGE, "compare: --plot needs a directory for the figures");
            a->plot = argv[++i];
        } else if (strcmp(arg, "--thresholds") == 0) {
            if (!has) HP_ERROR(HP_ERR_USAGE, "compare: --thresholds needs a list (1e-1,1e-2,1e-3)");
            HP_CALL(parse_thresholds(argv[++i], t));
        } else if (arg[0] == '-' && arg[1]) {
            HP_ERROR(HP_ERR_USAGE, "compare: unknown option '%s'; see `hpinn help compare`", arg);
        } else {
            a->paths[a->n_paths++] = argv[i];
        }
    }
    if (!a->n_paths) HP_ERROR(HP_ERR_USAGE, "compare: expected one or more run or sweep directories");
    return HP_OK;
}

/* ---- cells ------------------------------------------------------------------------------ */

static void fmt_value(double v, int m, char *buf, size_t size) {
    if (!isfinite(v)) snprintf(buf, size, "-"); /* unknown, or a threshold never reached */
    else if (m == HP__CMP_ITERATIONS) snprintf(buf, size, "%.0f", v);
    else if (m == HP__CMP_KTILDE) snprintf(buf, size, "%.6g", v);
    else snprintf(buf, size, "%.3g", v);
}

/* One number of a row: the value, or a group's "median [min, max]". */
static void fmt_cell(const hp__cmp_row *row, int m, char *buf, size_t size) {
    const double *s = row->stat[m];
    if (row->count[m] <= 1 || s[1] == s[2]) {
        fmt_value(s[0], m, buf, size);
        return;
    }
    char a[32], b[32], c[32];
    fmt_value(s[0], m, a, sizeof a);
    fmt_value(s[1], m, b, sizeof b);
    fmt_value(s[2], m, c, sizeof c);
    snprintf(buf, size, "%s [%s, %s]", a, b, c);
}

static const char *metric_header(const hp__cmp_table *t, int m, char *buf, size_t size) {
    static const char *const short_names[] = {"rel_l2", "worst_dir", "fine_res", "K~", "K~_err", "J_pinn", "iters", "wall_s"};
    if (m < HP__CMP_T0) return short_names[m];
    char th[32];
    hp__cmp_threshold_text(t->thresholds[m - HP__CMP_T0], th, sizeof th);
    snprintf(buf, size, "t(%s)_s", th);
    return buf;
}

/* The key columns: every differing key, but a group's seed (it is in n). */
static int shown_key(const hp__cmp_table *t, size_t k) { return !(t->grouped && hp__cmp_key_is_seed(t->keys[k])); }

/* ---- text and Markdown ---------------------------------------------------------------------- */

typedef struct grid {
    size_t rows, cols;
    char **cell;     /* rows x cols, row 0 the header */
    int *right;      /* per column: right-aligned (numbers) */
} grid;

static char *cell_dup(const char *s, size_t max) {
    size_t len = strlen(s);
    char *c = malloc((len < max ? len : max) + 1);
    if (!c) return NULL;
    if (len <= max) memcpy(c, s, len + 1);
    else {
        memcpy(c, s, max - 3);
        memcpy(c + max - 3, "...", 4);
    }
    return c;
}

static hp_status build_grid(const hp__cmp_table *t, grid *g, size_t max_width) {
    int nm = hp__cmp_n_metrics(t);
    size_t nk = 0;
    for (size_t k = 0; k < t->n_keys; k++) nk += shown_key(t, k);
    size_t shown = 0;
    for (int m = 0; m < nm; m++) shown += hp__cmp_metric_in_table(t, m);
    g->cols = 2 + (t->grouped ? 1 : 0) + nk + shown;
    g->rows = t->n_rows + 1;
    HP_CALL(hp_calloc(g->rows * g->cols, sizeof *g->cell, &g->cell));
    HP_CALL(hp_calloc(g->cols, sizeof *g->right, &g->right));
    for (size_t r = 0; r < g->rows; r++) {
        const hp__cmp_row *row = r ? &t->rows[r - 1] : NULL;
        size_t c = 0;
        char buf[512];
        char **cell = g->cell + r * g->cols;
#define PUT(text, right_)                                                       \
    do {                                                                        \
        if (!(cell[c] = cell_dup((text), max_width))) HP_ERROR(HP_ERR_NOMEM, "out of memory"); \
        g->right[c++] = (right_);                                               \
    } while (0)
        PUT(row ? row->label : "label", 0);
        if (t->grouped) {
            snprintf(buf, sizeof buf, "%zu", row ? row->n_members : 0);
            PUT(row ? buf : "n", 1);
        }
        PUT(row ? row->status : "status", 0);
        for (size_t k = 0; k < t->n_keys; k++)
            if (shown_key(t, k)) PUT(row ? hp__cmp_row_value(t, row, t->keys[k]) : t->keys[k], 0);
        for (int m = 0; m < nm; m++) {
            if (!hp__cmp_metric_in_table(t, m)) continue;
            if (row) fmt_cell(row, m, buf, sizeof buf);
            PUT(row ? buf : metric_header(t, m, buf, sizeof buf), 1);
        }
#undef PUT
    }
    return HP_OK;
}

static void grid_free(grid *g) {
    for (size_t i = 0; g->cell && i < g->rows * g->cols; i++) free(g->cell[i]);
    free(g->cell);
    free(g->right);
}

static size_t terminal_width(void) {
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *cols = getenv("COLUMNS");
    long v = cols ? strtol(cols, NULL, 10) : 0;
    return v > 20 ? (size_t)v : 0; /* 0: no limit (a file or a pipe) */
}

/* Blocks of columns that fit `width`, each starting with the label. */
static void print_text(const grid *g, size_t width) {
    size_t *w = calloc(g->cols, sizeof *w);
    if (!w) return;
    for (size_t c = 0; c < g->cols; c++)
        for (size_t r = 0; r < g->rows; r++) {
            size_t len = strlen(g->cell[r * g->cols + c]);
            if (len > w[c]) w[c] = len;
        }
    for (size_t first = 1; first < g->cols;) { /* the label, then at least one more column per block */
        size_t used = w[0], last = first;
        while (last < g->cols && (!width || last == first || used + 2 + w[last] <= width)) used += 2 + w[last++];
        for (size_t r = 0; r < g->rows; r++) {
            const char *label = g->cell[r * g->cols];
            printf("%-*s", (int)w[0], label);
            for (size_t c = first; c < last; c++) {
                const char *s = g->cell[r * g->cols + c];
                if (g->right[c]) printf("  %*s", (int)w[c], s);
                else if (c + 1 == last) printf("  %s", s);
                else printf("  %-*s", (int)w[c], s);
            }
            printf("\n");
        }
        if (last < g->cols) printf("\n");
        first = last;
    }
    free(w);
}

static void md_text(const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", stdout);
        else fputc(*s, stdout);
    }
}

static void print_md(const grid *g) {
    for (size_t r = 0; r < g->rows; r++) {
        printf("|");
        for (size_t c = 0; c < g->cols; c++) {
            printf(" ");
            md_text(g->cell[r * g->cols + c]);
            printf(" |");
        }
        printf("\n");
        if (r == 0) {
            printf("|");
            for (size_t c = 0; c < g->cols; c++) printf("%s|", g->right[c] ? "---:" : "---");
            printf("\n");
        }
    }
}

static void print_failures(const hp__cmp_table *t, int md) {
    int first = 1;
    for (size_t i = 0; i < t->n_runs; i++) {
        if (!t->runs[i].error[0]) continue;
        printf("%s%s%s (%s): %s\n", first ? "\n" : "", md ? "- " : "", t->runs[i].label, t->runs[i].status,
               t->runs[i].error);
        first = 0;
    }
}

/* ---- CSV and JSON ----------------------------------------------------------------------------- */

static void csv_field(const char *s, int first) {
    if (!first) fputc(',', stdout);
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, stdout);
        return;
    }
    fputc('"', stdout);
    for (; *s; s++) {
        if (*s == '"') fputc('"', stdout);
        fputc(*s, stdout);
    }
    fputc('"', stdout);
}

static void csv_number(double v) {
    fputc(',', stdout);
    if (isfinite(v)) printf("%.17g", v); /* unknown or never reached: empty */
}

static void print_csv(const hp__cmp_table *t) {
    int nm = hp__cmp_n_metrics(t);
    char name[64];
    csv_field("label", 1);
    if (t->grouped) csv_field("n", 0);
    csv_field("status", 0);
    for (size_t k = 0; k < t->n_keys; k++)
        if (shown_key(t, k)) csv_field(t->keys[k], 0);
    for (int m = 0; m < nm; m++) {
        hp__cmp_metric_name(t, m, name, sizeof name);
        if (!t->grouped) {
            csv_field(name, 0);
            continue;
        }
        static const char *const part[] = {"median", "min", "max"};
        for (int s = 0; s < 3; s++) {
            char col[80];
            snprintf(col, sizeof col, "%s_%s", name, part[s]);
            csv_field(col, 0);
        }
    }
    printf("\n");
    for (size_t r = 0; r < t->n_rows; r++) {
        const hp__cmp_row *row = &t->rows[r];
        csv_field(row->label, 1);
        if (t->grouped) printf(",%zu", row->n_members);
        csv_field(row->status, 0);
        for (size_t k = 0; k < t->n_keys; k++)
            if (shown_key(t, k)) csv_field(hp__cmp_row_value(t, row, t->keys[k]), 0);
        for (int m = 0; m < nm; m++)
            for (int s = 0; s < (t->grouped ? 3 : 1); s++) csv_number(row->stat[m][s]);
        printf("\n");
    }
}

static void json_num(double v) { hp__json_number(stdout, v); }

static void print_json(const hp__cmp_table *t) {
    int nm = hp__cmp_n_metrics(t);
    char name[64];
    printf("{\n  \"grouped\": %s,\n  \"thresholds\": [", t->grouped ? "true" : "false");
    for (int i = 0; i < t->n_thresholds; i++) {
        if (i) printf(", ");
        json_num(t->thresholds[i]);
    }
    printf("],\n  \"keys\": [");
    for (size_t k = 0; k < t->n_keys; k++) {
        if (k) printf(", ");
        hp__json_string(stdout, t->keys[k]);
    }
    printf("],\n  \"rows\": [");
    for (size_t r = 0; r < t->n_rows; r++) {
        const hp__cmp_row *row = &t->rows[r];
        printf("%s\n    {\"label\": ", r ? "," : "");
        hp__json_string(stdout, row->label);
        printf(", \"status\": ");
        hp__json_string(stdout, row->status);
        printf(", \"n\": %zu, \"runs\": [", row->n_members);
        for (size_t i = 0; i < row->n_members; i++) {
            const hp__cmp_run *run = &t->runs[row->members[i]];
            printf("%s{\"dir\": ", i ? ", " : "");
            hp__json_string(stdout, run->dir);
            printf(", \"status\": ");
            hp__json_string(stdout, run->status);
            if (run->error[0]) {
                printf(", \"error\": ");
                hp__json_string(stdout, run->error);
            }
            printf("}");
        }
        printf("],\n     \"config\": {");
        for (size_t k = 0, first = 1; k < t->n_keys; k++) {
            if (!shown_key(t, k)) continue;
            printf("%s", first ? "" : ", ");
            first = 0;
            hp__json_string(stdout, t->keys[k]);
            printf(": ");
            hp__json_string(stdout, hp__cmp_row_value(t, row, t->keys[k]));
        }
        printf("},\n     \"metrics\": {");
        for (int m = 0; m < nm; m++) {
            hp__cmp_metric_name(t, m, name, sizeof name);
            printf("%s\"%s\": ", m ? ", " : "", name);
            if (!t->grouped) {
                json_num(row->stat[m][0]);
                continue;
            }
            printf("{\"median\": ");
            json_num(row->stat[m][0]);
            printf(", \"min\": ");
            json_num(row->stat[m][1]);
            printf(", \"max\": ");
            json_num(row->stat[m][2]);
            printf(", \"count\": %zu}", row->count[m]);
        }
        printf("}}");
    }
    printf("%s]\n}\n", t->n_rows ? "\n  " : "");
}

/* ---- the command ------------------------------------------------------------------------------- */

hp_status hp__cmd_compare(int argc, char **argv) {
    compare_args a;
    memset(&a, 0, sizeof a);
    hp__cmp_table t;
    memset(&t, 0, sizeof t);
    t.thresholds[0] = 1e-1;
    t.thresholds[1] = 1e-2;
    t.thresholds[2] = 1e-3;
    t.n_thresholds = 3;
    HP_CALL(hp_calloc((size_t)argc + 1, sizeof *a.paths, &a.paths));
    hp_status st = parse_args(argc, argv, &a, &t);
    if (st == HP_OK && a.plot) st = hp__cmp_plot_check(); /* before any output: no table without its figures */
    if (st == HP_OK) st = hp__cmp_load(&t, a.paths, a.n_paths);
    if (st == HP_OK) {
        int seeds_differ = 0;
        for (size_t k = 0; k < t.n_keys; k++) seeds_differ |= hp__cmp_key_is_seed(t.keys[k]);
        st = hp__cmp_make_rows(&t, a.group < 0 ? seeds_differ : a.group);
    }
    if (st == HP_OK && (a.fmt == FMT_TEXT || a.fmt == FMT_MD)) {
        grid g;
        memset(&g, 0, sizeof g);
        st = build_grid(&t, &g, a.fmt == FMT_TEXT ? 48 : 4096);
        if (st == HP_OK && a.fmt == FMT_TEXT) print_text(&g, terminal_width());
        if (st == HP_OK && a.fmt == FMT_MD) print_md(&g);
        if (st == HP_OK) print_failures(&t, a.fmt == FMT_MD);
        grid_free(&g);
    } else if (st == HP_OK && a.fmt == FMT_CSV) {
        print_csv(&t);
    } else if (st == HP_OK) {
        print_json(&t);
    }
    if (st == HP_OK && a.plot) st = hp__cmp_plot(&t, a.plot);
    hp__cmp_free(&t);
    free(a.paths);
    return st;
}
