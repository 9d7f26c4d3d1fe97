/* compare_plot.c — `hpinn compare --plot DIR`: gnuplot figures of the rows
 * of the comparison, drawn the way `hpinn plot` draws one run (cmd_plot.c):
 * PNG through pngcairo (plain png when it is missing), the data and the
 * script kept beside the figures so they can be restyled by hand.
 *
 *   rel_l2.png        relative L2 error against iteration and against wall time
 *   J_pinn.png        J_pinn against iteration and against wall time
 *   final_rel_l2.png  the final error against the swept value, when exactly one
 *                     key besides the seed differs (a group: median, min-max bars)
 *
 * One curve per row; a group's curve is the median over its seeds at each
 * iteration (its time: the median time of that row). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "compare.h"

static const char *gnuplot_program(void) {
    const char *g = getenv("HPINN_GNUPLOT");
    return g && *g ? g : "gnuplot";
}

static int find_program(const char *prog) {
    if (strchr(prog, '/')) return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    for (const char *p = path; p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char full[4200];
        snprintf(full, sizeof full, "%.*s/%s", (int)(len ? len : 1), len ? p : ".", prog);
        if (access(full, X_OK) == 0) return 1;
        p = colon ? colon + 1 : NULL;
    }
    return 0;
}

hp_status hp__cmp_plot_check(void) {
    const char *g = gnuplot_program();
    if (!find_program(g))
        HP_ERROR(HP_ERR_IO, "compare --plot: gnuplot was not found (looked for '%s' on PATH); install the Debian "
                 "package gnuplot-nox (sudo apt-get install gnuplot-nox), or leave out --plot", g);
    return HP_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
    if (!n) return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Index of iteration `it` in h (histories are in iteration order), or -1. */
static long find_row(const hp__cmp_history *h, double it) {
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (h->iteration[mid] < it) lo = mid + 1;
        else hi = mid;
    }
    return lo < h->n && h->iteration[lo] == it ? (long)lo : -1;
}

/* DIR/curve_<r>.dat: iteration, seconds, rel_l2, J_pinn (the median over the
 * row's runs at every iteration any of them logged). has[0], has[1]: a
 * positive rel_l2 / J_pinn exists (log axes need one). */
static hp_status write_curve(const hp__cmp_table *t, const hp__cmp_row *row, const char *path, int has[2]) {
    has[0] = has[1] = 0;
    size_t total = 0;
    for (size_t i = 0; i < row->n_members; i++) total += t->runs[row->members[i]].history.n;
    double *its = malloc((total ? total : 1) * sizeof *its), *v = malloc((row->n_members + 1) * 3 * sizeof *v);
    FILE *f = fopen(path, "w");
    if (!its || !v || !f) {
        free(its);
        free(v);
        if (f) fclose(f);
        HP_ERROR(f ? HP_ERR_NOMEM : HP_ERR_IO, "compare --plot: cannot write %s: %s", path, f ? "out of memory"
                                                                                              : strerror(errno));
    }
    size_t n = 0;
    for (size_t i = 0; i < row->n_members; i++) {
        const hp__cmp_history *h = &t->runs[row->members[i]].history;
        for (size_t k = 0; k < h->n; k++) its[n++] = h->iteration[k];
    }
    qsort(its, n, sizeof *its, cmp_double);
    fprintf(f, "# iteration seconds rel_l2 J_pinn (median over %zu run%s)\n", row->n_members,
            row->n_members == 1 ? "" : "s");
    for (size_t k = 0; k < n; k++) {
        if (k && its[k] == its[k - 1]) continue;
        double *sec = v, *err = v + row->n_members + 1, *jp = v + 2 * (row->n_members + 1);
        size_t ns = 0, ne = 0, nj = 0;
        for (size_t i = 0; i < row->n_members; i++) {
            const hp__cmp_history *h = &t->runs[row->members[i]].history;
            long at = find_row(h, its[k]);
            if (at < 0) continue;
            if (isfinite(h->seconds[at])) sec[ns++] = h->seconds[at];
            if (isfinite(h->rel_l2[at])) err[ne++] = h->rel_l2[at];
            if (isfinite(h->j_pinn[at])) jp[nj++] = h->j_pinn[at];
        }
        double e = median(err, ne), j = median(jp, nj);
        has[0] |= e > 0;
        has[1] |= j > 0;
        fprintf(f, "%.17g %.17g %.17g %.17g\n", its[k], median(sec, ns), e, j);
    }
    free(its);
    free(v);
    if (fclose(f) != 0) HP_ERROR(HP_ERR_IO, "compare --plot: cannot write %s", path);
    return HP_OK;
}

static void gp_string(FILE *g, const char *s) {
    fputc('"', g);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', g);
        fputc(*s, g);
    }
    fputc('"', g);
}

/* Two panels of one quantity (data column `col`): against iteration and against time. */
static void curves_figure(FILE *g, const hp__cmp_table *t, const int (*has)[2], int q, const char *terminal,
                          const char *file, const char *ylabel) {
    int col = q == 0 ? 3 : 4, any = 0;
    for (size_t r = 0; r < t->n_rows; r++) any |= has[r][q];
    fprintf(g, "\nset terminal %s size 1400,560\nset output \"%s\"\nset multiplot layout 1,2\nset logscale y\n"
               "set format y \"10^{%%L}\"\nset ylabel \"%s\"\n", terminal, file, ylabel);
    for (int panel = 0; panel < 2; panel++) {
        fprintf(g, "set xlabel \"%s\"\n", panel == 0 ? "iteration" : "wall time t [s]");
        if (!any) {
            fprintf(g, "set label 1 \"(no positive values to show)\" at graph 0.3, 0.5\nplot 1/0 notitle\nunset label 1\n");
            continue;
        }
        int first = 1;
        for (size_t r = 0; r < t->n_rows; r++) {
            if (!has[r][q]) continue;
            fprintf(g, "%s \"curve_%zu.dat\" using %d:%d with lines lw 2 title ", first ? "plot" : ", \\\n    ", r + 1,
                    panel == 0 ? 1 : 2, col);
            gp_string(g, t->rows[r].label);
            fprintf(g, " noenhanced");
            first = 0;
        }
        fprintf(g, "\n");
    }
    fprintf(g, "unset multiplot\nunset logscale\nset format y \"%%g\"\n");
}

/* The one non-seed key that differs, or NULL. */
static const char *swept_key(const hp__cmp_table *t) {
    const char *key = NULL;
    for (size_t k = 0; k < t->n_keys; k++) {
        if (hp__cmp_key_is_seed(t->keys[k])) continue;
        if (key) return NULL;
        key = t->keys[k];
    }
    return key;
}

static hp_status final_figure(FILE *g, const hp__cmp_table *t, const char *dir, const char *terminal, int *figures) {
    const char *key = swept_key(t);
    if (!key || t->n_rows < 2) return HP_OK;
    int numeric = 1, positive = 1;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t r = 0; r < t->n_rows; r++) {
        const char *v = hp__cmp_row_value(t, &t->rows[r], key);
        char *end;
        double x = strtod(v, &end);
        if (end == v || *end || !isfinite(x)) numeric = 0;
        else {
            positive &= x > 0;
            lo = fmin(lo, x);
            hi = fmax(hi, x);
        }
    }
    char path[HP__PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/final.dat", dir);
    FILE *f = fopen(path, "w");
    if (!f) HP_ERROR(HP_ERR_IO, "compare --plot: cannot write %s: %s", path, strerror(errno));
    fprintf(f, "# %s, final rel_l2: median min max; label\n", key);
    int any = 0;
    for (size_t r = 0; r < t->n_rows; r++) {
        const double *s = t->rows[r].stat[HP__CMP_REL_L2];
        if (!(s[0] > 0)) continue;
        any = 1;
        char label[256];
        snprintf(label, sizeof label, "%s", hp__cmp_row_value(t, &t->rows[r], key));
        for (char *c = label; *c; c++)
            if (*c == '"' || *c == '\n') *c = '\''; /* the label is a quoted gnuplot column */
        fprintf(f, "%s %.17g %.17g %.17g \"%s\"\n", numeric ? label : "0", s[0], s[1], s[2], label);
    }
    if (fclose(f) != 0) HP_ERROR(HP_ERR_IO, "compare --plot: cannot write %s", path);
    if (!any) return HP_OK;
    /* numbers of one sign and two decades or more: log axis; else evenly spaced labels */
    int logx = numeric && positive && hi >= 100 * lo, category = !(numeric && positive);
    fprintf(g, "\n# final error against %s\nset terminal %s size 900,600\nset output \"final_rel_l2.png\"\n"
               "set logscale y\nset format y \"10^{%%L}\"\nset ylabel \"final relative L2 error ||v - u|| / ||u||\"\n"
               "set xlabel ", key, terminal);
    gp_string(g, key);
    fprintf(g, " noenhanced\n%s", logx ? "set logscale x\n" : "");
    const char *title = t->grouped ? "median, min-max over seeds" : "final error";
    if (category)
        fprintf(g, "set xrange [-0.5:%zu.5]\nplot \"final.dat\" using 0:2:3:4:xtic(5) with yerrorlines lw 2 pt 7 "
                   "title \"%s\"\n", t->n_rows - 1, title);
    else
        fprintf(g, "plot \"final.dat\" using 1:2:3:4 with yerrorlines lw 2 pt 7 title \"%s\"\n", title);
    fprintf(g, "unset logscale\nset format y \"%%g\"\nset xrange [*:*]\n");
    ++*figures;
    return HP_OK;
}

static hp_status run_gnuplot(const char *dir) {
    const char *gnuplot = gnuplot_program();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) HP_ERROR(HP_ERR_IO, "compare --plot: cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        if (!freopen("/dev/null", "w", stdout)) _exit(126); /* stdout is the table (csv, json): keep it clean */
        execlp(gnuplot, gnuplot, "compare.gp", (char *)NULL);
        _exit(127);
    }
    char script[HP__PATH_MAX];
    HP_CALL(hp__path_join(script, sizeof script, dir, "compare.gp"));
    return hp__cli_wait_gnuplot(pid, "compare --plot", script);
}

hp_status hp__cmp_plot(const hp__cmp_table *t, const char *dir) {
    HP_CALL(hp__cmp_plot_check());
    HP_CALL(hp__cli_make_dirs(dir));
    int (*has)[2] = calloc(t->n_rows ? t->n_rows : 1, sizeof *has);
    if (!has) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    hp_status st = HP_OK;
    char path[HP__PATH_MAX + 32];
    for (size_t r = 0; r < t->n_rows && st == HP_OK; r++) {
        snprintf(path, sizeof path, "%s/curve_%zu.dat", dir, r + 1);
        st = write_curve(t, &t->rows[r], path, has[r]);
    }
    char probe[600];
    snprintf(probe, sizeof probe, "'%s' -e 'set terminal pngcairo' >/dev/null 2>&1", gnuplot_program());
    const char *terminal = system(probe) == 0 ? "pngcairo enhanced font \",11\"" : "png";
    snprintf(path, sizeof path, "%s/compare.gp", dir);
    FILE *g = st == HP_OK ? fopen(path, "w") : NULL;
    if (st == HP_OK && !g) st = HP_ERROR_SET(HP_ERR_IO, "compare --plot: cannot write %s: %s", path, strerror(errno));
    int figures = 2;
    if (g) {
        fprintf(g, "# written by hpinn compare --plot; run from this directory: gnuplot compare.gp\n"
                   "set grid\nset key box opaque\nset datafile missing \"nan\"\n");
        curves_figure(g, t, (const int (*)[2])has, 0, terminal, "rel_l2.png", "relative L2 error ||v - u|| / ||u||");
        curves_figure(g, t, (const int (*)[2])has, 1, terminal, "J_pinn.png", "PINN loss J_{pinn}");
        st = final_figure(g, t, dir, terminal, &figures);
        if (fclose(g) != 0 && st == HP_OK) st = HP_ERROR_SET(HP_ERR_IO, "compare --plot: cannot write %s", path);
    }
    free(has);
    HP_CALL(st);
    HP_CALL(run_gnuplot(dir));
    fprintf(stderr, "hpinn compare: %d figures in %s/: rel_l2.png J_pinn.png%s (script: compare.gp)\n", figures, dir,
            figures > 2 ? " final_rel_l2.png" : "");
    return HP_OK;
}
