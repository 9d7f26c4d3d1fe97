/* cmd_plot.c — `hpinn plot DIR`: the paper's figure types for a run directory,
 * as PNG files drawn by gnuplot.
 *
 *   solution.png  network v_i vs reference u_i on the validation grid (fields.csv);
 *                 2-D: heat maps of v, u and v - u
 *   losses.png    Ĵ, J_pinn, boundary, R and rel. L2 error, fine residual vs
 *                 iteration, log scale (history.csv)
 *   ktilde.png    K̃ entries vs iteration, with the reference value when
 *                 summary.json has "ktilde_reference"
 *   coarse.png    compressed network Q̄v_i vs coarse state y_i at the coarse
 *                 nodes (nodes.csv); 2-D: heat maps
 *
 * The CSV headers are read here so that the script only names columns that exist
 * and, on log scales, only curves that have a positive value (gnuplot refuses a
 * log plot whose every point is undefined). The script is kept in DIR/plots/ so
 * a user can restyle a figure and rerun gnuplot by hand. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define MAX_COLUMNS 512

typedef struct csv_info {
    int present;
    size_t n_columns, n_rows;
    char names[MAX_COLUMNS][48];
    int any_finite[MAX_COLUMNS];
    int any_positive[MAX_COLUMNS];
} csv_info;

/* Header names and, per column, whether it has finite / positive values. */
static hp_status csv_scan(const char *dir, const char *name, csv_info *info) {
    memset(info, 0, sizeof *info);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return HP_OK; /* absent: that figure is skipped */
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, f);
    if (len <= 0) {
        free(line);
        fclose(f);
        HP_ERROR(HP_ERR_CORRUPT, "plot: %s is empty; expected a CSV header line", path);
    }
    for (char *tok = strtok(line, ",\r\n"); tok; tok = strtok(NULL, ",\r\n")) {
        if (info->n_columns == MAX_COLUMNS) break;
        snprintf(info->names[info->n_columns++], sizeof info->names[0], "%s", tok);
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        size_t col = 0;
        char *p = line;
        while (col < info->n_columns) {
            char *end;
            double v = strtod(p, &end);
            if (end != p && isfinite(v)) {
                info->any_finite[col] = 1;
                if (v > 0) info->any_positive[col] = 1;
            }
            char *comma = strchr(p, ',');
            if (!comma) break;
            p = comma + 1;
            col++;
        }
        info->n_rows++;
    }
    free(line);
    fclose(f);
    info->present = 1;
    return HP_OK;
}

static int column(const csv_info *c, const char *name) {
    for (size_t i = 0; i < c->n_columns; i++)
        if (strcmp(c->names[i], name) == 0) return (int)i;
    return -1;
}

static int has_positive(const csv_info *c, const char *name) {
    int i = column(c, name);
    return i >= 0 && c->any_positive[i];
}

/* The reference K̃ values from summary.json ("ktilde_reference": [a, b, ...]). */
static size_t summary_reference(const char *dir, double *values, size_t max) {
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strstr(buf, "\"ktilde_reference\"");
    if (!p || !(p = strchr(p, '['))) return 0;
    size_t count = 0;
    p++;
    while (count < max) {
        char *end;
        double v = strtod(p, &end);
        if (end == p) break;
        values[count++] = v;
        p = end;
        while (*p == ' ' || *p == ',') p++;
    }
    return count;
}

/* Is `prog` an executable (a path, or a name found on PATH)? */
static int find_program(const char *prog) {
    if (strchr(prog, '/')) return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    char dir[4096];
    for (const char *p = path; p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char full[4200];
        snprintf(dir, sizeof dir, "%.*s", (int)len, p);
        snprintf(full, sizeof full, "%s/%s", len ? dir : ".", prog);
        if (access(full, X_OK) == 0) return 1;
        p = colon ? colon + 1 : NULL;
    }
    return 0;
}

static void heat_map(FILE *g, const char *file, const char *xcol, const char *ycol, const char *expr,
                     const char *title) {
    fprintf(g, "set title \"%s\"\nplot \"%s\" using \"%s\":\"%s\":%s with image notitle\n", title, file, xcol, ycol,
            expr);
}

static void write_script(FILE *g, const char *terminal, const csv_info *hist, const csv_info *fields,
                         const csv_info *nodes, const double *kref, size_t n_kref, int *n_figures) {
    fprintf(g, "# written by hpinn plot; run from the run directory: gnuplot plots/plots.gp\n"
               "set datafile separator \",\"\nset datafile missing \"nan\"\nset grid\nset key box opaque\n");
    int two_d = (fields->present && column(fields, "y") >= 0) || (nodes->present && column(nodes, "y") >= 0);

    if (hist->present && hist->n_rows > 0) {
        fprintf(g, "\n# losses and errors vs iteration\nset terminal %s size 1000,800\nset output \"plots/losses.png\"\n"
                   "set multiplot layout 2,1\nset logscale y\nset format y \"%%.0e\"\nset xlabel \"iteration\"\n",
                terminal);
        const char *losses[][2] = {{"J_hat", "Ĵ"}, {"J_pinn", "J_{pinn}"}, {"boundary", "boundary"}, {"R", "R (coupling)"}};
        const char *errors[][2] = {{"rel_l2", "relative L2 error"}, {"fine_residual", "fine residual"}};
        for (int panel = 0; panel < 2; panel++) {
            const char *(*list)[2] = panel == 0 ? losses : errors;
            int count = panel == 0 ? 4 : 2, any = 0;
            fprintf(g, "set title \"%s\"\n", panel == 0 ? "losses" : "errors on the validation grid");
            for (int i = 0; i < count; i++) {
                if (!has_positive(hist, list[i][0])) continue;
                fprintf(g, "%s \"history.csv\" using \"iteration\":\"%s\" with lines lw 2 title \"%s\"",
                        any ? ", \\\n    " : "plot", list[i][0], list[i][1]);
                any = 1;
            }
            if (!any) fprintf(g, "set label 1 \"(no positive values to show)\" at graph 0.4, 0.5\nplot 1/0 notitle\nunset label 1");
            fprintf(g, "\n");
        }
        fprintf(g, "unset multiplot\nunset logscale y\nset format y \"%%g\"\n");
        ++*n_figures;

        int any_k = 0;
        for (size_t i = 0; i < hist->n_columns; i++) any_k |= strncmp(hist->names[i], "k_", 2) == 0;
        if (any_k) {
            fprintf(g, "\n# upscaled coefficient vs iteration\nset terminal %s size 1000,600\n"
                       "set output \"plots/ktilde.png\"\nset title \"upscaled coefficient K~ (block b, entry j i: k_b_j_i)\" noenhanced\n"
                       "set xlabel \"iteration\"\n",
                    terminal);
            int first = 1;
            size_t ki = 0;
            for (size_t i = 0; i < hist->n_columns; i++) {
                if (strncmp(hist->names[i], "k_", 2) != 0) continue;
                if (hist->any_finite[i]) {
                    fprintf(g, "%s \"history.csv\" using \"iteration\":\"%s\" with lines lw 2 title \"%s\" noenhanced",
                            first ? "plot" : ", \\\n    ", hist->names[i], hist->names[i]);
                    first = 0;
                }
                if (ki < n_kref && isfinite(kref[ki])) {
                    fprintf(g, "%s %.17g with lines dt 2 lw 2 title \"reference %s\" noenhanced", first ? "plot" : ", \\\n    ",
                            kref[ki], hist->names[i]);
                    first = 0;
                }
                ki++;
            }
            if (first) fprintf(g, "plot 1/0 notitle");
            fprintf(g, "\n");
            ++*n_figures;
        }
    }

    if (fields->present && fields->n_rows > 0) {
        if (!two_d) {
            fprintf(g, "\n# solution vs reference\nset terminal %s size 1000,600\nset output \"plots/solution.png\"\n"
                       "set title \"network vs reference on the validation grid\"\nset xlabel \"x\"\n",
                    terminal);
            int first = 1;
            for (size_t i = 1; i < fields->n_columns; i++) {
                int is_ref = fields->names[i][0] == 'u';
                /* solutions only (v_i network, u_i reference); K and the like have their own scale */
                if (!fields->any_finite[i] || (fields->names[i][0] != 'v' && !is_ref)) continue;
                fprintf(g, "%s \"fields.csv\" using \"x\":\"%s\" with lines %s title \"%s %s\"",
                        first ? "plot" : ", \\\n    ", fields->names[i], is_ref ? "dt 2 lw 2" : "lw 2",
                        is_ref ? "reference" : "network", fields->names[i]);
                first = 0;
            }
            fprintf(g, "%s\n", first ? "plot 1/0 notitle" : "");
        } else {
            int has_u = column(fields, "u1") >= 0;
            fprintf(g, "\n# 2-D fields as heat maps\nset terminal %s size %d,450\nset output \"plots/solution.png\"\n"
                       "set size ratio -1\nset xlabel \"x\"\nset ylabel \"y\"\nset palette rgb 33,13,10\n"
                       "set multiplot layout 1,%d\n",
                    terminal, has_u ? 1500 : 600, has_u ? 3 : 1);
            heat_map(g, "fields.csv", "x", "y", "\"v1\"", "network v_1");
            if (has_u) {
                heat_map(g, "fields.csv", "x", "y", "\"u1\"", "reference u_1");
                heat_map(g, "fields.csv", "x", "y", "(column(\"v1\") - column(\"u1\"))", "v_1 - u_1");
            }
            fprintf(g, "unset multiplot\nset size noratio\nunset ylabel\n");
        }
        ++*n_figures;
    }

    if (nodes->present && nodes->n_rows > 0) {
        if (!two_d) {
            fprintf(g, "\n# compressed network vs coarse state\nset terminal %s size 1000,600\n"
                       "set output \"plots/coarse.png\"\nset title \"compressed network vs coarse FEM state at the coarse nodes\"\n"
                       "set xlabel \"x\"\n",
                    terminal);
            int first = 1;
            for (size_t i = 1; i < nodes->n_columns; i++) {
                const char *nm = nodes->names[i];
                const char *style = nm[0] == 'Q' ? "with linespoints pt 7 ps 0.8" : nm[0] == 'y' ? "with points pt 6 ps 1.2"
                                                                                             : "with lines lw 1";
                const char *what = nm[0] == 'Q' ? "compressed network" : nm[0] == 'y' ? "coarse state" : "network";
                fprintf(g, "%s \"nodes.csv\" using \"x\":\"%s\" %s title \"%s %s\"", first ? "plot" : ", \\\n    ", nm,
                        style, what, nm);
                first = 0;
            }
            fprintf(g, "%s\n", first ? "plot 1/0 notitle" : "");
        } else {
            fprintf(g, "\n# coarse nodes, 2-D\nset terminal %s size 1500,450\nset output \"plots/coarse.png\"\n"
                       "set size ratio -1\nset xlabel \"x\"\nset ylabel \"y\"\nset palette rgb 33,13,10\n"
                       "set multiplot layout 1,3\n",
                    terminal);
            heat_map(g, "nodes.csv", "x", "y", "\"Qv1\"", "compressed network Q v_1");
            heat_map(g, "nodes.csv", "x", "y", "\"y1\"", "coarse state y_1");
            heat_map(g, "nodes.csv", "x", "y", "(column(\"Qv1\") - column(\"y1\"))", "Q v_1 - y_1");
            fprintf(g, "unset multiplot\n");
        }
        ++*n_figures;
    }
}

hp_status hp__cmd_plot(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-')
        HP_ERROR(HP_ERR_USAGE, "plot: expected exactly one run directory (hpinn plot DIR), got %d arguments", argc - 1);
    const char *dir = argv[1];
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        HP_ERROR(HP_ERR_NOT_FOUND, "plot: %s is not a directory; expected the directory of a `hpinn run`", dir);
    static csv_info hist, fields, nodes; /* large: keep off the stack */
    HP_CALL(csv_scan(dir, "history.csv", &hist));
    HP_CALL(csv_scan(dir, "fields.csv", &fields));
    HP_CALL(csv_scan(dir, "nodes.csv", &nodes));
    if (!hist.present && !fields.present && !nodes.present)
        HP_ERROR(HP_ERR_NOT_FOUND, "plot: %s has no history.csv, fields.csv or nodes.csv; expected the directory of a "
                                   "`hpinn run`",
                 dir);

    const char *gnuplot = getenv("HPINN_GNUPLOT");
    if (!gnuplot || !*gnuplot) gnuplot = "gnuplot";
    if (!find_program(gnuplot))
        HP_ERROR(HP_ERR_IO,
                 "plot: gnuplot was not found (looked for '%s' on PATH); install the Debian package gnuplot-nox "
                 "(sudo apt-get install gnuplot-nox) and run `hpinn plot %s` again",
                 gnuplot, dir);

    char plots[4200], script[4300];
    snprintf(plots, sizeof plots, "%s/plots", dir);
    if (mkdir(plots, 0777) != 0 && errno != EEXIST)
        HP_ERROR(HP_ERR_IO, "plot: cannot create %s: %s", plots, strerror(errno));
    snprintf(script, sizeof script, "%s/plots.gp", plots);

    /* pngcairo draws antialiased text; the plain png terminal is the fallback */
    char probe[4400];
    snprintf(probe, sizeof probe, "'%s' -e 'set terminal pngcairo' >/dev/null 2>&1", gnuplot);
    const char *terminal = system(probe) == 0 ? "pngcairo enhanced font \",11\"" : "png";

    double kref[64];
    size_t n_kref = summary_reference(dir, kref, 64);
    FILE *g = fopen(script, "w");
    if (!g) HP_ERROR(HP_ERR_IO, "plot: cannot write %s: %s", script, strerror(errno));
    int n_figures = 0;
    write_script(g, terminal, &hist, &fields, &nodes, kref, n_kref, &n_figures);
    if (fclose(g) != 0) HP_ERROR(HP_ERR_IO, "plot: cannot write %s", script);

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) HP_ERROR(HP_ERR_IO, "plot: cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        execlp(gnuplot, gnuplot, "plots/plots.gp", (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) HP_ERROR(HP_ERR_IO, "plot: waiting for gnuplot: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        HP_ERROR(HP_ERR_IO, "plot: gnuplot failed (%s %d) on %s; its messages are above", 
                 WIFEXITED(status) ? "exit code" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                 script);
    printf("%d figure%s in %s/: %s%s%s%s(script: plots.gp)\n", n_figures, n_figures == 1 ? "" : "s", plots,
           hist.present && hist.n_rows ? "losses.png " : "", hist.present && hist.n_rows ? "ktilde.png " : "",
           fields.present && fields.n_rows ? "solution.png " : "", nodes.present && nodes.n_rows ? "coarse.png " : "");
    return HP_OK;
}
