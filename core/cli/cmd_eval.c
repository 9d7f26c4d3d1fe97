/* cmd_eval.c — `hpinn eval RUN (--points FILE | --grid N | --nodes)
 * [--derivatives] [--out FILE]`: the trained network(s) of a run at given
 * points, from the run's checkpoint and the pipeline it was trained with.
 *
 * Per point and direction i: the network v_i (with --derivatives its gradient
 * and Laplacian), and the coarse objects of the same θ as P1 functions: the
 * compressed network Q̄v_i and the coarse solution y_i (at the coarse nodes
 * these are their nodal values; --nodes evaluates there). The values are those
 * of fields.csv and nodes.csv (the same functions of outputs.c compute both).
 * CSV to stdout or --out FILE; with --grid in 2-D and --out, also legacy VTK
 * beside it (FILE with .vtk for its extension).
 *
 * Nothing in RUN is written (a fine FEM reference the pipeline needs is read
 * from, or cached into, RUN/reference.cache as by run), and no lock is taken:
 * checkpoints are replaced atomically, so a run in progress can be evaluated. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cli.h"
#include "fileio.h"
#include "hpinn/jets.h"
#include "hybrid.h"
#include "outputs.h"
#include "run_dir.h"

typedef struct eval_args {
    const char *run, *points, *out;
    long grid;
    int nodes, derivatives;
} eval_args;

static hp_status parse(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--points") == 0 || strcmp(arg, "--out") == 0 || strcmp(arg, "--grid") == 0) {
            if (i + 1 >= argc) HP_ERROR(HP_ERR_USAGE, "eval: %s needs a value; see `hpinn help eval`", arg);
            const char *v = argv[++i];
            if (arg[2] == 'p') a->points = v;
            else if (arg[2] == 'o') a->out = v;
            else {
                char *end;
                a->grid = strtol(v, &end, 10);
                if (*end || a->grid < 2 || a->grid > 100000)
                    HP_ERROR(HP_ERR_USAGE, "eval: --grid %s: expected a whole number of points per axis, 2 to 100000",
                             v);
            }
        } else if (strcmp(arg, "--nodes") == 0) {
            a->nodes = 1;
        } else if (strcmp(arg, "--derivatives") == 0) {
            a->derivatives = 1;
        } else if (arg[0] == '-' && arg[1]) {
            HP_ERROR(HP_ERR_USAGE, "eval: unknown option '%s'; see `hpinn help eval`", arg);
        } else if (!a->run) {
            a->run = arg;
        } else {
            HP_ERROR(HP_ERR_USAGE, "eval: unexpected argument '%s' (the run is already '%s')", arg, a->run);
        }
    }
    if (!a->run) HP_ERROR(HP_ERR_USAGE, "eval: missing RUN (a run directory); see `hpinn help eval`");
    if ((a->points != NULL) + (a->grid > 0) + a->nodes != 1)
        HP_ERROR(HP_ERR_USAGE, "eval: give exactly one of --points FILE.csv, --grid N, --nodes");
    return HP_OK;
}

/* One line of numbers separated by commas (spaces around them allowed): the
 * count, or -1 when a field is not a number. */
static int parse_numbers(char *line, double *v, int max) {
    int n = 0;
    for (char *s = line;;) {
        while (*s == ' ' || *s == '\t') s++;
        char *end;
        double x = strtod(s, &end);
        if (end == s) return -1;
        while (*end == ' ' || *end == '\t' || *end == '\r') end++;
        if (*end != ',' && *end != '\0') return -1;
        if (n < max) v[n] = x;
        n++;
        if (*end == '\0') return n;
        s = end + 1;
    }
}

/* The header's names into cols (the positions of x and y), or 0 when the line
 * is numbers. */
static int header_columns(char *line, int dim, int cols[2], int *n_fields) {
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", line);
    double tmp[8];
    if (parse_numbers(copy, tmp, 8) >= 0) return 0;
    cols[0] = cols[1] = -1;
    int k = 0;
    for (char *save = NULL, *tok = strtok_r(line, ",\r", &save); tok; tok = strtok_r(NULL, ",\r", &save), k++) {
        while (*tok == ' ') tok++;
        size_t len = strlen(tok);
        while (len && tok[len - 1] == ' ') tok[--len] = '\0';
        if (strcmp(tok, "x") == 0) cols[0] = k;
        if (dim == 2 && strcmp(tok, "y") == 0) cols[1] = k;
    }
    *n_fields = k;
    return 1;
}

/* Points from a CSV file: `dim` columns of numbers, or a header naming the
 * columns x (and y), which are then taken (a fields.csv of a run works). Blank
 * lines and lines starting with # are skipped. */
static hp_status read_points(const char *path, int dim, double **x_out, size_t *n_out) {
    FILE *f = fopen(path, "r");
    if (!f) HP_ERROR(errno == ENOENT ? HP_ERR_NOT_FOUND : HP_ERR_IO, "eval: --points %s: %s", path, strerror(errno));
    size_t cap = 1024, n = 0;
    double *x = malloc(cap * (size_t)dim * sizeof *x);
    char line[4096];
    int cols[2] = {0, 1}, fields = dim, line_no = 0, header = 0;
    hp_status st = x ? HP_OK : HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
    while (st == HP_OK && fgets(line, sizeof line, f)) {
        line_no++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n') line[--len] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (!*s || *s == '#' || *s == '\r') continue;
        if (!header && n == 0 && header_columns(s, dim, cols, &fields)) {
            header = 1;
            if (cols[0] < 0 || (dim == 2 && cols[1] < 0))
                st = HP_ERROR_SET(HP_ERR_USAGE, "eval: %s:%d: the header names no column %s; expected %s", path,
                                  line_no, cols[0] < 0 ? "x" : "y", dim == 1 ? "x" : "x and y");
            continue;
        }
        double v[64];
        int k = parse_numbers(s, v, 64);
        if (k < 0) {
            st = HP_ERROR_SET(HP_ERR_USAGE, "eval: %s:%d: '%s' is not a row of numbers separated by commas", path,
                              line_no, s);
        } else if (k != fields || k > 64) {
            st = HP_ERROR_SET(HP_ERR_USAGE, "eval: %s:%d: %d column%s; expected %d (%s)", path, line_no, k,
                              k == 1 ? "" : "s", fields,
                              header ? "as many as the header" : (dim == 1 ? "x, the run is 1-D" : "x,y, the run is 2-D"));
        } else {
            if (n == cap) {
                double *grown = realloc(x, 2 * cap * (size_t)dim * sizeof *x);
                if (!grown) {
                    st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory reading %s", path);
                    break;
                }
                x = grown;
                cap *= 2;
            }
            for (int a = 0; a < dim; a++) {
                double c = v[cols[a]];
                if (!(c >= 0.0 && c <= 1.0))
                    st = HP_ERROR_SET(HP_ERR_USAGE, "eval: %s:%d: %s = %g is outside [0, 1]; the problem lives on the "
                                                    "unit %s", path, line_no, a ? "y" : "x", c,
                                      dim == 1 ? "interval" : "square");
                x[n * (size_t)dim + (size_t)a] = c;
            }
            n++;
        }
    }
    fclose(f);
    if (st == HP_OK && n == 0) st = HP_ERROR_SET(HP_ERR_USAGE, "eval: %s holds no points", path);
    if (st != HP_OK) {
        free(x);
        return st;
    }
    *x_out = x;
    *n_out = n;
    return HP_OK;
}

/* The grid k/(N-1) per axis, x fastest (the order of the VTK files). */
static hp_status grid_points(long per_axis, int dim, double **x_out, size_t *n_out) {
    size_t n = dim == 1 ? (size_t)per_axis : (size_t)per_axis * (size_t)per_axis;
    if (dim == 2 && per_axis > 4096) HP_ERROR(HP_ERR_USAGE, "eval: --grid %ld in 2-D: at most 4096 per axis", per_axis);
    double *x;
    HP_CALL(hp_calloc(n * (size_t)dim, sizeof *x, &x));
    double h = 1.0 / (double)(per_axis - 1);
    for (size_t r = 0; r < n; r++) {
        x[r * (size_t)dim] = (double)(r % (size_t)per_axis) * h;
        if (dim == 2) x[r * 2 + 1] = (double)(r / (size_t)per_axis) * h;
    }
    *x_out = x;
    *n_out = n;
    return HP_OK;
}

typedef struct eval_job {
    hp__checkpoint ck;
    hp_config *c;
    hp_registry *r;
    hp__hybrid *h;
    double *x;
    double *values; /* n_dir x C x n */
    double *coarse; /* n_dir x 2 x n: Q̄v, y */
} eval_job;

/* The run's checkpoint (checkpoint.prev.bin when the newest is damaged), its
 * pipeline and the hybrid with θ's collocation set. */
static hp_status load_run(const eval_args *a, eval_job *j) {
    char path[HP__PATH_MAX];
    HP_CALL(hp__path_join(path, sizeof path, a->run, HP__RUN_CONFIG_FILE));
    if (access(path, R_OK) != 0)
        HP_ERROR(HP_ERR_NOT_FOUND, "eval: %s: %s; expected the directory of an hpinn run", path, strerror(errno));
    hp_status st = hp__checkpoint_read(a->run, HP__CHECKPOINT_FILE, 0, &j->ck);
    if (st == HP_ERR_NOT_FOUND)
        HP_ERROR(HP_ERR_NOT_FOUND, "eval: %s has no checkpoint (%s): the run stopped before its first one, so there "
                                   "is no trained network to evaluate", a->run, HP__CHECKPOINT_FILE);
    if (st == HP_ERR_CORRUPT) {
        char why[1024];
        snprintf(why, sizeof why, "%s", hp_error_message());
        if (hp__checkpoint_read(a->run, HP__CHECKPOINT_PREVIOUS_FILE, 0, &j->ck) != HP_OK) {
            hp_error_clear();
            HP_ERROR(HP_ERR_CORRUPT, "%s (and there is no good %s)", why, HP__CHECKPOINT_PREVIOUS_FILE);
        }
        fprintf(stderr, "hpinn eval: %s; evaluating %s (iteration %llu) instead\n", why, HP__CHECKPOINT_PREVIOUS_FILE,
                (unsigned long long)j->ck.iteration);
    } else {
        HP_CALL(st);
    }
    char name[HP__PATH_MAX + 64];
    snprintf(name, sizeof name, "%s/%s (the pipeline it was trained with)", a->run, HP__CHECKPOINT_FILE);
    HP_CALL(hp_config_load_string(j->ck.config, strlen(j->ck.config), name, &j->c));
    HP_CALL(hp_registry_open(&j->r));
    HP_CALL(hp__hybrid_create(j->c, j->r, NULL, a->run, &j->h));
    if (hp__hybrid_n_params(j->h) != j->ck.n_theta)
        HP_ERROR(HP_ERR_CORRUPT, "eval: %s holds %zu parameters, its pipeline's network has %zu", a->run, j->ck.n_theta,
                 hp__hybrid_n_params(j->h));
    if (j->ck.n_points) HP_CALL(hp__hybrid_set_collocation(j->h, j->ck.points, j->ck.weights));
    return HP_OK;
}

static hp_status compute(const eval_args *a, eval_job *j, size_t n) {
    int d = hp__hybrid_dim(j->h), nd = hp__hybrid_n_directions(j->h), order = a->derivatives ? 2 : 0;
    size_t C = (size_t)hp_jet_components(order, d);
    HP_CALL(hp_calloc((size_t)nd * C * n, sizeof *j->values, &j->values));
    HP_CALL(hp_calloc((size_t)nd * 2 * n, sizeof *j->coarse, &j->coarse));
    int have = 0;
    HP_CALL(hp__outputs_coarse_state(j->h, j->ck.theta, &have));
    for (int i = 0; i < nd; i++) {
        HP_CALL(hp__outputs_network(j->h, i, j->ck.theta, j->x, n, order, j->values + (size_t)i * C * n));
        double *qv = j->coarse + (size_t)i * 2 * n, *y = qv + n;
        if (have) HP_CALL(hp__outputs_coarse_at(j->h, i, j->x, n, qv, y));
        else
            for (size_t r = 0; r < n; r++) qv[r] = y[r] = NAN; /* K̃ not positive definite: no coarse state */
    }
    return HP_OK;
}

static void write_csv(FILE *f, const eval_args *a, const eval_job *j, size_t n) {
    int d = hp__hybrid_dim(j->h), nd = hp__hybrid_n_directions(j->h);
    size_t C = (size_t)hp_jet_components(a->derivatives ? 2 : 0, d);
    fprintf(f, d == 1 ? "x" : "x,y");
    for (int i = 1; i <= nd; i++) {
        fprintf(f, ",v%d", i);
        if (a->derivatives) fprintf(f, d == 1 ? ",dv%d_dx,lap_v%d" : ",dv%d_dx,dv%d_dy,lap_v%d", i, i, i);
        fprintf(f, ",Qv%d,y%d", i, i);
    }
    fputc('\n', f);
    for (size_t r = 0; r < n; r++) {
        for (int k = 0; k < d; k++) fprintf(f, "%s%.17g", k ? "," : "", j->x[r * (size_t)d + (size_t)k]);
        for (int i = 0; i < nd; i++) {
            const double *v = j->values + (size_t)i * C * n, *qv = j->coarse + (size_t)i * 2 * n;
            for (size_t c = 0; c < C; c++) fprintf(f, ",%.17g", v[c * n + r]);
            fprintf(f, ",%.17g,%.17g", qv[r], qv[n + r]);
        }
        fputc('\n', f);
    }
}

/* FILE's directory and name, and the name with .vtk for its extension. */
static void split_out(const char *out, char *dir, char *name, char *vtk, size_t size) {
    const char *slash = strrchr(out, '/');
    if (slash) snprintf(dir, size, "%.*s", (int)(slash - out), out);
    else snprintf(dir, size, ".");
    if (slash && slash == out) snprintf(dir, size, "/");
    snprintf(name, size, "%s", slash ? slash + 1 : out);
    const char *dot = strrchr(name, '.');
    snprintf(vtk, size, "%.*s.vtk", dot && dot != name ? (int)(dot - name) : (int)strlen(name), name);
}

static hp_status write_vtk(const char *dir, const char *name, const eval_args *a, const eval_job *j) {
    int nd = hp__hybrid_n_directions(j->h);
    size_t n = (size_t)a->grid * (size_t)a->grid, C = (size_t)hp_jet_components(a->derivatives ? 2 : 0, 2);
    const char *names[2 * 6];
    const double *cols[2 * 6];
    char nm[2 * 6][24];
    int k = 0;
    static const char *const parts[] = {"v%d", "dv%d_dx", "dv%d_dy", "lap_v%d"};
    for (int i = 0; i < nd; i++) {
        for (size_t c = 0; c < C; c++) {
            snprintf(nm[k], sizeof nm[k], parts[c], i + 1);
            names[k] = nm[k];
            cols[k++] = j->values + ((size_t)i * C + c) * n;
        }
        snprintf(nm[k], sizeof nm[k], "Qv%d", i + 1);
        names[k] = nm[k];
        cols[k++] = j->coarse + (size_t)i * 2 * n;
        snprintf(nm[k], sizeof nm[k], "y%d", i + 1);
        names[k] = nm[k];
        cols[k++] = j->coarse + (size_t)i * 2 * n + n;
    }
    return hp__write_vtk_grid(dir, name, (int)a->grid, names, cols, k);
}

hp_status hp__cmd_eval(int argc, char **argv) {
    eval_args a;
    eval_job j;
    memset(&j, 0, sizeof j);
    size_t n = 0;
    hp_status st = parse(argc, argv, &a);
    if (st == HP_OK) st = load_run(&a, &j);
    if (st == HP_OK) {
        int d = hp__hybrid_dim(j.h);
        if (a.points) {
            st = read_points(a.points, d, &j.x, &n);
        } else if (a.grid) {
            st = grid_points(a.grid, d, &j.x, &n);
        } else {
            const double *coords;
            hp__outputs_nodes(j.h, &coords, &n);
            st = hp_calloc(n * (size_t)d, sizeof *j.x, &j.x);
            if (st == HP_OK) memcpy(j.x, coords, n * (size_t)d * sizeof *j.x);
        }
    }
    if (st == HP_OK) st = compute(&a, &j, n);
    if (st == HP_OK && !a.out) {
        write_csv(stdout, &a, &j, n);
        if (a.grid && hp__hybrid_dim(j.h) == 2)
            fprintf(stderr, "hpinn eval: no VTK file: it is written beside --out FILE\n");
    } else if (st == HP_OK) {
        char dir[HP__PATH_MAX], name[HP__PATH_MAX], vtk[HP__PATH_MAX + 8];
        split_out(a.out, dir, name, vtk, sizeof dir);
        hp__out_file o;
        st = hp__out_open(&o, dir, name);
        if (st == HP_OK) {
            write_csv(o.f, &a, &j, n);
            st = hp__out_commit(&o, NULL);
        }
        int vtk_too = a.grid && hp__hybrid_dim(j.h) == 2;
        if (st == HP_OK && vtk_too) st = write_vtk(dir, vtk, &a, &j);
        if (st == HP_OK)
            fprintf(stderr, "hpinn eval: %zu points of %s (iteration %llu) in %s%s%s%s%s\n", n, a.run,
                    (unsigned long long)j.ck.iteration, a.out, vtk_too ? " and " : "", vtk_too ? dir : "",
                    vtk_too ? "/" : "", vtk_too ? vtk : "");
    }
    free(j.x);
    free(j.values);
    free(j.coarse);
    hp__hybrid_destroy(j.h);
    hp_registry_close(j.r);
    hp_config_destroy(j.c);
    hp__checkpoint_clear(&j.ck);
    return st;
}
