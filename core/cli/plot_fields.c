/* plot_fields.c — the field figures of `hpinn plot` (plot_internal.h):
 *
 *   solution.png  the network v_i against the reference u_i on the validation
 *                 grid (fields.csv) and the pointwise error v_i − u_i, with the
 *                 final relative L2 error; 2-D: maps of v_i and u_i on one
 *                 colour scale and a map of v_i − u_i;
 *   coarse.png    the coarse problem: the network on the validation grid, its
 *                 compression Q̄v_i at the coarse nodes, the coarse FEM solution
 *                 y_h (nodes.csv) and Q̄v_i − y_h at the nodes.
 *
 * The network is drawn from the validation grid, never by joining its values
 * at the coarse nodes (that aliases the fine scales into a zigzag). y_h is P1,
 * so lines between its nodal values are the function itself; Q̄v_i is a set of
 * nodal values and is drawn as points. Maps span exactly the domain, square,
 * in viridis; signed differences use a diverging map centred on 0. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot_internal.h"

/* Columns of direction k (1-based) present in t, e.g. "v1". */
static int dir_col(const hp__plot_table *t, const char *prefix, int k) {
    char name[16];
    snprintf(name, sizeof name, "%s%d", prefix, k);
    return hp__plot_col(t, name);
}

static int has_values(const hp__plot_table *t, int c) { return c >= 0 && t->min[c] <= t->max[c]; }

static int n_directions(const hp__plot_table *t, const char *prefix) {
    int n = 0;
    while (n < 9 && has_values(t, dir_col(t, prefix, n + 1))) n++;
    return n;
}

/* Running min/max of column c into [*lo, *hi]. */
static void widen(const hp__plot_table *t, int c, double *lo, double *hi) {
    if (!has_values(t, c)) return;
    if (t->min[c] < *lo) *lo = t->min[c];
    if (t->max[c] > *hi) *hi = t->max[c];
}

static void colour_range(FILE *g, double lo, double hi) {
    if (!(lo <= hi)) {
        fputs("set cbrange [*:*]\n", g);
        return;
    }
    if (lo == hi) {
        lo -= 1;
        hi += 1;
    }
    fprintf(g, "set cbrange [%.17g:%.17g]\n", lo, hi);
}

/* Square maps spanning exactly the domain of t's x, y columns. */
static void map_frame(hp__plot_script *s, const hp__plot_table *t) {
    int x = hp__plot_col(t, "x"), y = hp__plot_col(t, "y");
    fprintf(s->g, "unset grid\nunset key\nset size ratio -1\nset tics out nomirror\nset lmargin\nset rmargin\n"
                  "set xrange [%.17g:%.17g]\nset yrange [%.17g:%.17g]\nset xlabel \"x\"\nset ylabel \"y\"\n",
            t->min[x], t->max[x], t->min[y], t->max[y]);
}

/* Maps of side `side` pixels in rows x cols: the figure's size, and fixed
 * margins and gaps (a colour box, its label and the next map's y label fill the
 * gap between two maps). */
#define MAP_GAP 190
/* Room right of the last map for its colour box, tick labels as wide as
 * "-0.0008" and the box's rotated label. */
#define MAP_RIGHT 165
static void map_size(int rows, int cols, int side, int *width, int *height) {
    *width = 85 + MAP_RIGHT + cols * side + (cols - 1) * MAP_GAP;
    *height = 80 + rows * (side + 110);
}

static void map_layout(hp__plot_script *s, int rows, int cols, int side) {
    int w, h;
    map_size(rows, cols, side, &w, &h);
    fprintf(s->g, "set multiplot layout %d,%d margins %.4f,%.4f,%.4f,%.4f spacing %.4f,%.4f", rows, cols, 85.0 / w,
            1.0 - (double)MAP_RIGHT / w, 70.0 / h, 1.0 - 60.0 / h, (double)MAP_GAP / w, 110.0 / h);
}

/* A map of a grid file. Each value is a cell centred on its point, so the
 * border cells reach half a cell beyond the domain: PNG clips them at the axes;
 * SVG and PDF embed the image unclipped unless it is drawn cell by cell
 * (`pixels`), which is done for grids small enough to keep the file small. */
static void map_plot(hp__plot_script *s, const char *file, const char *title, const char *cblabel, const char *expr) {
    const hp__plot_table *t = strcmp(file, "nodes.csv") == 0 ? &s->run->nodes : &s->run->fields;
    int pixels = s->format != HP__PLOT_PNG && t->per_axis <= 128;
    fprintf(s->g, "set title \"%s\"\nset cblabel \"%s\"\nplot \"%s\" using \"x\":\"y\":%s with image%s notitle\n",
            title, cblabel, file, expr, pixels ? " pixels" : "");
}

/* A map of one column; the signed map of a - b on the diverging palette,
 * symmetric about 0 with half-width m. */
static void column_map(hp__plot_script *s, const char *file, const char *title, const char *cblabel,
                       const char *column) {
    char expr[64];
    snprintf(expr, sizeof expr, "\"%s\"", column);
    map_plot(s, file, title, cblabel, expr);
}

static void difference_map(hp__plot_script *s, const char *file, const char *title, const char *cblabel,
                           const char *a, const char *b, double m) {
    char expr[96];
    hp__plot_palette(s, 1);
    fprintf(s->g, "set cbrange [%.17g:%.17g]\n", -(m > 0 ? m : 1.0), m > 0 ? m : 1.0);
    snprintf(expr, sizeof expr, "(column(\"%s\") - column(\"%s\"))", a, b);
    map_plot(s, file, title, cblabel, expr);
}

/* Undo what the maps set, for the figures written after them. */
static void map_reset(FILE *g) {
    fputs("set size noratio\nset tics in mirror\nset xrange [*:*]\nset yrange [*:*]\nset cbrange [*:*]\n"
          "unset cblabel\nset key\nset grid\n",
          g);
}

static void line_frame(hp__plot_script *s, const hp__plot_table *t) {
    int x = hp__plot_col(t, "x");
    fprintf(s->g, "set xrange [%.17g:%.17g]\nset xlabel \"x\"\nset lmargin 12\nset rmargin at screen 0.70\n"
                  "set key at screen 0.715, graph 1 left top Left reverse samplen 3 spacing 1.3\nset grid lc rgb \"#e0e0e0\"\n",
            t->min[x], t->max[x]);
}

static void rel_l2_text(const hp__plot_run *r, char *buf, size_t size) {
    char num[64];
    hp__plot_number(num, sizeof num, r->final_rel_l2);
    if (isnan(r->final_rel_l2)) snprintf(buf, size, "%s", "");
    else snprintf(buf, size, "final rel. L2 error%s‖v − u‖_2/‖u‖_2 = %s", r->dim == 1 ? "\\n" : " ", num);
}

/* ---- solution.png ---------------------------------------------------------- */

static void solution_1d(hp__plot_script *s, int n_dir, int with_ref) {
    const hp__plot_table *f = &s->run->fields;
    FILE *g = s->g;
    char key[160];
    rel_l2_text(s->run, key, sizeof key);
    hp__plot_terminal(s, "solution", 1100, with_ref ? 720 : 420);
    line_frame(s, f);
    fprintf(g, "set multiplot layout %d,1\n"
               "set title \"network and reference on the validation grid (%zu points)\"\n"
               "set ylabel \"u_1, v_1\"\nset key title \"%s\"\n",
            with_ref ? 2 : 1, f->n_rows, with_ref ? key : "");
    int first = 1;
    for (int k = 1; k <= n_dir; k++) {
        fprintf(g, "%s\"fields.csv\" using \"x\":\"v%d\" with lines lw 2 lc rgb \"%s\" title \"network v_%d\"",
                first ? "plot " : ", \\\n     ", k, hp__plot_colours[(k - 1) % 8], k);
        first = 0;
        if (has_values(f, dir_col(f, "u", k)))
            fprintf(g, ", \\\n     \"fields.csv\" using \"x\":\"u%d\" with lines dt 2 lw 2 lc rgb \"#000000\" "
                       "title \"reference u_%d\"",
                    k, k);
    }
    fputs("\nset key title \"\"\n", g);
    if (with_ref) {
        fprintf(g, "set title \"pointwise error of the network\"\nset ylabel \"v_1 − u_1\"\n");
        first = 1;
        for (int k = 1; k <= n_dir; k++) {
            if (!has_values(f, dir_col(f, "u", k))) continue;
            fprintf(g, "%s\"fields.csv\" using \"x\":(column(\"v%d\") - column(\"u%d\")) with lines lw 1.5 "
                       "lc rgb \"%s\" title \"v_%d − u_%d\"",
                    first ? "plot " : ", \\\n     ", k, k, hp__plot_colours[1 + (k - 1) % 7], k, k);
            first = 0;
        }
        fputs("\n", g);
    }
    fputs("unset multiplot\n", g);
}

static void solution_2d(hp__plot_script *s, int n_dir, int with_ref) {
    const hp__plot_table *f = &s->run->fields;
    FILE *g = s->g;
    int cols = with_ref ? 3 : 1;
    char key[160];
    rel_l2_text(s->run, key, sizeof key);
    int width, height;
    map_size(n_dir, cols, 340, &width, &height);
    hp__plot_terminal(s, "solution", width, height);
    map_frame(s, f);
    map_layout(s, n_dir, cols, 340);
    fprintf(g, " title \"network vs reference on the %zu × %zu validation grid%s%s\"\n", f->per_axis, f->per_axis ? f->n_rows / f->per_axis : 0, key[0] ? "; " : "", key);
    for (int k = 1; k <= n_dir; k++) {
        int v = dir_col(f, "v", k), u = dir_col(f, "u", k);
        double lo = INFINITY, hi = -INFINITY;
        widen(f, v, &lo, &hi);
        if (with_ref) widen(f, u, &lo, &hi);
        char title[96], cb[32], v_col[16], u_col[16];
        snprintf(v_col, sizeof v_col, "v%d", k);
        snprintf(u_col, sizeof u_col, "u%d", k);
        hp__plot_palette(s, 0);
        fprintf(g, "# network and reference on one colour scale\n");
        colour_range(g, lo, hi);
        snprintf(title, sizeof title, "network v_%d", k);
        snprintf(cb, sizeof cb, "v_%d", k);
        column_map(s, "fields.csv", title, cb, v_col);
        if (!with_ref) continue;
        snprintf(title, sizeof title, "reference u_%d", k);
        snprintf(cb, sizeof cb, "u_%d", k);
        column_map(s, "fields.csv", title, cb, u_col);
        snprintf(title, sizeof title, "pointwise error v_%d − u_%d", k, k);
        snprintf(cb, sizeof cb, "v_%d − u_%d", k, k);
        difference_map(s, "fields.csv", title, cb, v_col, u_col, f->pair_diff[v]);
    }
    fputs("unset multiplot\n", g);
    map_reset(g);
}

void hp__plot_solution_figure(hp__plot_script *s) {
    const hp__plot_table *f = &s->run->fields;
    int n_dir = f->present && f->n_rows > 0 ? n_directions(f, "v") : 0;
    if (n_dir == 0) return;
    int with_ref = has_values(f, dir_col(f, "u", 1));
    fprintf(s->g, "\n# ---- solution.png: the network against the reference (fields.csv)\n");
    if (s->run->dim == 2 && hp__plot_col(f, "y") >= 0) solution_2d(s, n_dir, with_ref);
    else solution_1d(s, n_dir, with_ref);
}

/* ---- coarse.png ------------------------------------------------------------ */

static void coarse_1d(hp__plot_script *s, int with_net) {
    const hp__plot_table *nd = &s->run->nodes;
    FILE *g = s->g;
    hp__plot_terminal(s, "coarse", 1100, 720);
    line_frame(s, nd);
    fprintf(g, "set multiplot layout 2,1\n"
               "set title \"the coarse problem: network, its compression and the coarse FEM solution (%zu elements)\"\n"
               "set ylabel \"v_1, Q̄v_1, y_h\"\n",
            nd->n_rows > 1 ? nd->n_rows - 1 : 0);
    int first = 1;
    if (with_net) {
        fprintf(g, "plot \"fields.csv\" using \"x\":\"v1\" with lines lw 1.5 lc rgb \"%s\" "
                   "title \"network v_1 (validation grid)\"",
                hp__plot_colours[0]);
        first = 0;
    }
    fprintf(g, "%s\"nodes.csv\" using \"x\":\"y1\" with linespoints pt 4 ps 0.8 lw 1.5 lc rgb \"%s\" "
               "title \"coarse FEM solution y_h (P1)\"",
            first ? "plot " : ", \\\n     ", hp__plot_colours[1]);
    fprintf(g, ", \\\n     \"nodes.csv\" using \"x\":\"Qv1\" with points pt 7 ps 0.7 lc rgb \"%s\" "
               "title \"compressed network Q̄v_1\"\n",
            hp__plot_colours[2]);
    fprintf(g, "set title \"compressed network minus coarse solution at the coarse nodes\"\n"
               "set ylabel \"Q̄v_1 − y_h\"\n"
               "plot \"nodes.csv\" using \"x\":(column(\"Qv1\") - column(\"y1\")) with linespoints pt 7 ps 0.6 lw 1 "
               "lc rgb \"%s\" title \"Q̄v_1 − y_h\"\nunset multiplot\n",
            hp__plot_colours[3]);
}

static void coarse_2d(hp__plot_script *s, int n_dir, int with_net) {
    const hp__plot_run *r = s->run;
    const hp__plot_table *nd = &r->nodes, *f = &r->fields;
    FILE *g = s->g;
    int cols = 3 + with_net;
    int width, height;
    map_size(n_dir, cols, 280, &width, &height);
    hp__plot_terminal(s, "coarse", width, height);
    map_frame(s, nd);
    map_layout(s, n_dir, cols, 280);
    fprintf(g, " title \"the coarse problem on %zu × %zu nodes: %s"
               "the compressed network Q̄v and the coarse FEM solution y_h\"\n",
            nd->per_axis, nd->per_axis ? nd->n_rows / nd->per_axis : 0,
            with_net ? "the network (validation grid), " : "");
    for (int k = 1; k <= n_dir; k++) {
        double lo = INFINITY, hi = -INFINITY;
        int qv = dir_col(nd, "Qv", k);
        if (with_net) widen(f, dir_col(f, "v", k), &lo, &hi);
        widen(nd, qv, &lo, &hi);
        widen(nd, dir_col(nd, "y", k), &lo, &hi);
        char title[96], cb[32], v[16], qv_col[16], y[16];
        snprintf(v, sizeof v, "v%d", k);
        snprintf(qv_col, sizeof qv_col, "Qv%d", k);
        snprintf(y, sizeof y, "y%d", k);
        hp__plot_palette(s, 0);
        fprintf(g, "# network, compression and coarse solution on one colour scale\n");
        colour_range(g, lo, hi);
        if (with_net) {
            snprintf(title, sizeof title, "network v_%d (validation grid)", k);
            snprintf(cb, sizeof cb, "v_%d", k);
            column_map(s, "fields.csv", title, cb, v);
        }
        snprintf(title, sizeof title, "compressed network Q̄v_%d (nodes)", k);
        snprintf(cb, sizeof cb, "Q̄v_%d", k);
        column_map(s, "nodes.csv", title, cb, qv_col);
        snprintf(title, sizeof title, "coarse FEM solution y_{h,%d} (nodes)", k);
        snprintf(cb, sizeof cb, "y_{h,%d}", k);
        column_map(s, "nodes.csv", title, cb, y);
        snprintf(title, sizeof title, "Q̄v_%d − y_{h,%d}", k, k);
        difference_map(s, "nodes.csv", title, title, qv_col, y, nd->pair_diff[qv]);
    }
    fputs("unset multiplot\n", g);
    map_reset(g);
}

void hp__plot_coarse_figure(hp__plot_script *s) {
    const hp__plot_run *r = s->run;
    const hp__plot_table *nd = &r->nodes;
    int n_dir = nd->present && nd->n_rows > 0 ? n_directions(nd, "Qv") : 0;
    if (n_dir == 0 || !has_values(nd, dir_col(nd, "y", 1))) return;
    int with_net = r->fields.present && r->fields.n_rows > 0 && has_values(&r->fields, dir_col(&r->fields, "v", 1));
    fprintf(s->g, "\n# ---- coarse.png: the coarse problem (nodes.csv; the network from fields.csv)\n");
    if (r->dim == 2 && hp__plot_col(nd, "y") >= 0) coarse_2d(s, n_dir, with_net);
    else coarse_1d(s, with_net);
}
