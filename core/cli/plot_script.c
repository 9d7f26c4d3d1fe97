/* hp__plot_script.c — the gnuplot script of `hpinn plot` (plot.h): the training
 * history figures, losses.png and ktilde.png. The field figures (solution,
 * coarse) are in plot_fields.c.
 *
 * The script is meant to be read and edited: every figure is one commented
 * block, the data files are named as the run directory holds them, and the
 * choices made from the data (which curves have values to show on a log axis,
 * the colour ranges shared by two maps, the stage boundaries) are written as
 * plain numbers. Two variables may be overridden on the gnuplot command line:
 * `outdir` (where the figures go) and `history` (hpinn plot reads a snapshot of
 * a running run's history, so that a half-written last row is never drawn). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_internal.h"

/* Okabe–Ito: distinguishable with the common colour-vision deficiencies */
const char *const hp__plot_colours[8] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                         "#E69F00", "#56B4E9", "#000000", "#F0E442"};

/* viridis sampled at 0, 0.1, ..., 1 (perceptually uniform); a diverging
 * blue–grey–red map (Moreland's cool-warm) for signed differences around 0 */
static const char *viridis = "0 '#440154', 0.1 '#482475', 0.2 '#414487', 0.3 '#355f8d', 0.4 '#2a788e', "
                             "0.5 '#21918c', 0.6 '#22a884', 0.7 '#44bf70', 0.8 '#7ad151', 0.9 '#bddf26', 1 '#fde725'";
static const char *coolwarm = "0 '#3b4cc0', 0.25 '#8db0fe', 0.5 '#dddddd', 0.75 '#f49a7b', 1 '#b40426'";

void hp__plot_text(FILE *g, const char *s) {
    for (; *s; s++) {
        if (*s == '"') fputs("\\\"", g);
        else if (*s == '\\') fputc('/', g);
        else if (strchr("^_@&~{}", *s)) fprintf(g, "\\\\%c", *s);
        else fputc(*s, g);
    }
}

void hp__plot_number(char *buf, size_t size, double v) {
    double a = fabs(v);
    if (!isfinite(v)) {
        snprintf(buf, size, "%g", v);
        return;
    }
    if (a == 0.0 || (a >= 1e-2 && a < 1e4)) {
        snprintf(buf, size, "%.4g", v);
        return;
    }
    int e = (int)floor(log10(a));
    double m = v / pow(10.0, e);
    if (fabs(fabs(m) - 1.0) < 5e-4) snprintf(buf, size, "%s10^{%d}", m < 0 ? "−" : "", e);
    else snprintf(buf, size, "%.3g×10^{%d}", m, e);
}

void hp__plot_terminal(hp__plot_script *s, const char *figure, int width, int height) {
    static const char *ext[] = {"png", "svg", "pdf"};
    FILE *g = s->g;
    if (s->format == HP__PLOT_PDF)
        fprintf(g, "set terminal pdfcairo enhanced font \"Sans,8\" size %.2fin,%.2fin\n", width / 100.0,
                height / 100.0);
    else if (s->format == HP__PLOT_SVG)
        fprintf(g, "set terminal svg enhanced font \"Sans,11\" size %d,%d background \"white\"\n", width, height);
    else if (s->png_cairo)
        fprintf(g, "set terminal pngcairo enhanced font \"Sans,11\" size %d,%d\n", width, height);
    else
        fprintf(g, "set terminal png enhanced size %d,%d\n", width, height);
    hp__plot_figures *f = s->figs;
    snprintf(f->names[f->n], sizeof f->names[0], "%s.%s", figure, ext[s->format]);
    fprintf(g, "set output outdir.\"/%s\"\n", f->names[f->n]);
    f->n++;
}

void hp__plot_palette(hp__plot_script *s, int diverging) { fprintf(s->g, "eval %s\n", diverging ? "diverging" : "viridis"); }

/* The line style of curve k: a colour, lines through the history rows with a
 * marker on every few rows (the rows are where the values were computed). */
static void curve_style(hp__plot_script *s, int k, const char *dash) {
    fprintf(s->g, " with linespoints pt 7 ps 0.45 pi %zu lw 2 dt %s lc rgb \"%s\"", s->point_every, dash,
            hp__plot_colours[k % 8]);
}

/* Start a curve: "plot" for the first of a panel, a continuation otherwise. */
static void next_curve(hp__plot_script *s, int *first) {
    fputs(*first ? "plot " : ", \\\n     ", s->g);
    *first = 0;
}

/* ---- stage boundaries ------------------------------------------------------ */

static void stage_tags(hp__plot_script *s);
static void unset_stage_tags(hp__plot_script *s);

/* Dashed vertical lines where a stage begins, and the stage tags; they stay for
 * every panel. */
static void stage_lines(hp__plot_script *s) {
    const hp__plot_run *r = s->run;
    fprintf(s->g, "# stage boundaries: the iteration of the last history row of the previous stage\n");
    for (size_t i = 1; i < r->n_stages; i++)
        if (r->stages[i].reached)
            fprintf(s->g, "set arrow %zu from %.17g, graph 0 to %.17g, graph 1 nohead dt 2 lw 1.5 lc rgb \"#505050\" back\n",
                    100 + i, r->stages[i].start, r->stages[i].start);
    stage_tags(s);
}

static void unset_stage_lines(hp__plot_script *s) {
    for (size_t i = 1; i < s->run->n_stages; i++)
        if (s->run->stages[i].reached) fprintf(s->g, "unset arrow %zu\n", 100 + i);
    unset_stage_tags(s);
}

/* A numbered tag at the start of every stage (a short stage leaves no room for
 * its name); set before a multiplot, the tags stay for every panel. */
static void stage_tags(hp__plot_script *s) {
    const hp__plot_run *r = s->run;
    for (size_t i = 0; i < r->n_stages; i++)
        if (r->stages[i].reached)
            fprintf(s->g, "set label %zu \"%zu\" at %.17g, graph 0.95 offset char 0.6,0 boxed front\n", 100 + i,
                    i + 1, r->stages[i].start);
}

static void unset_stage_tags(hp__plot_script *s) {
    for (size_t i = 0; i < s->run->n_stages; i++)
        if (s->run->stages[i].reached) fprintf(s->g, "unset label %zu\n", 100 + i);
}

/* What the tags stand for: name, optimizer and weights of each stage, in the
 * right margin under the key of n_keys entries (one panel). */
static void stage_list(hp__plot_script *s, int with_tau1, int n_keys) {
    const hp__plot_run *r = s->run;
    fprintf(s->g, "set label 99 \"stages (tags and dashed lines):");
    size_t shown = 0;
    for (size_t i = 0; i < r->n_stages; i++) {
        const hp__plot_stage *st = &r->stages[i];
        if (!st->reached) continue;
        if (++shown > 12) {
            fputs("\\n…", s->g);
            break;
        }
        char t1[64], t2[64];
        hp__plot_number(t1, sizeof t1, st->tau1);
        hp__plot_number(t2, sizeof t2, st->tau2);
        fprintf(s->g, "\\n%zu  ", i + 1);
        hp__plot_text(s->g, st->name);
        if (strcmp(st->name, st->optimizer) != 0) {
            fputs(" (", s->g);
            hp__plot_text(s->g, st->optimizer);
            fputs(")", s->g);
        }
        if (with_tau1) fprintf(s->g, ", τ_1 = %s", t1);
        fprintf(s->g, ", τ_2 = %s", t2);
        if (st->tau3 > 0.0) {
            char t3[64];
            hp__plot_number(t3, sizeof t3, st->tau3);
            fprintf(s->g, ", τ_3 = %s", t3);
        }
    }
    /* the key's lines are 1.3 characters apart (history_frame) */
    fprintf(s->g, "\" at screen 0.715, graph 1 left offset 0,%.1f front\n", -(1.3 * n_keys + 1.5));
}

/* ---- losses.png ------------------------------------------------------------ */

static int any_positive(const hp__plot_table *t, const char *name) {
    int c = hp__plot_col(t, name);
    return c >= 0 && t->max[c] > 0;
}

/* Is τ2(stage)·R positive on some row? (R is 0 while τ2 is 0.) */
static int weighted_r_positive(const hp__plot_run *r) {
    int rc = hp__plot_col(&r->hist, "R"), sc = hp__plot_col(&r->hist, "stage");
    for (size_t row = 0; row < r->hist.n_rows; row++) {
        double R = hp__plot_at(&r->hist, row, rc), st = hp__plot_at(&r->hist, row, sc);
        if (!isnan(st) && st >= 0 && st < (double)r->n_stages && r->stages[(size_t)st].tau2 * R > 0) return 1;
    }
    return 0;
}

static double stage_weight(const hp__plot_stage *st, int which) {
    return which == 1 ? st->tau1 : which == 3 ? st->tau3 : st->tau2;
}

/* gnuplot functions giving each stage's weight (which: 1, 2, 3 for τ1, τ2, τ3),
 * so the curve is τ·term row by row. */
static void weight_function(hp__plot_script *s, const char *name, int which) {
    const hp__plot_run *r = s->run;
    fprintf(s->g, "%s(s) = ", name);
    for (size_t i = 0; i + 1 < r->n_stages; i++) fprintf(s->g, "s == %zu ? %.17g : ", i, stage_weight(&r->stages[i], which));
    fprintf(s->g, "%.17g\n", stage_weight(&r->stages[r->n_stages - 1], which));
}

/* Labelled tics m×10^e in [bottom, top] for the mantissas m (1 excluded: the
 * powers of ten are labelled anyway); returns how many, writes them when g. */
static int mantissa_tics(FILE *g, double bottom, double top, const double *m, int n_m) {
    int count = 0;
    for (int e = (int)floor(log10(bottom)); e <= (int)floor(log10(top)); e++)
        for (int k = 0; k < n_m; k++) {
            double v = m[k] * pow(10.0, e);
            if (v < bottom || v > top) continue;
            if (g) {
                /* plain numbers from 0.1 to 99, m×10^e beyond */
                if (e >= -1 && e <= 1) fprintf(g, "%s\"%g", count ? ", " : "set ytics add (", v);
                else fprintf(g, "%s\"%g×10^{%d}", count ? ", " : "set ytics add (", m[k], e);
                fprintf(g, "\" %.6g", v);
            }
            count++;
        }
    if (g && count) fputs(")\n", g);
    return count;
}

/* A log axis labelled in powers of ten. Data within two decades would show one
 * or two labels only, squeezed into a corner of the autoscaled decades: the
 * axis then spans the data, and mantissas are labelled too (2 and 5, or finer
 * ones until at least three labels show). */
static void log_axis(FILE *g, double lo, double hi) {
    fputs("set logscale y 10\nset format y \"10^{%L}\"\nset mytics 10\nset ytics autofreq\n", g);
    if (!(lo > 0 && hi >= lo && isfinite(hi)) || hi / lo >= 100) {
        fputs("set yrange [*:*]\n", g);
        return;
    }
    static const double m1[] = {2, 5}, m2[] = {1.5, 2, 3, 4, 5, 6, 8},
                        m3[] = {1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 9};
    const double *lists[] = {m1, m2, m3};
    const int sizes[] = {2, 7, 19};
    double bottom = lo / 1.25, top = hi * 1.25;
    int decades = (int)floor(log10(top)) - (int)ceil(log10(bottom)) + 1; /* powers of ten inside */
    fprintf(g, "set yrange [%.6g:%.6g]\n", bottom, top);
    int pick = 0;
    while (pick < 2 && decades + mantissa_tics(NULL, bottom, top, lists[pick], sizes[pick]) < 3) pick++;
    mantissa_tics(g, bottom, top, lists[pick], sizes[pick]);
}

/* Smallest and largest positive value of the named history columns. */
static void positive_range(const hp__plot_table *t, const char *a, const char *b, double *lo, double *hi) {
    *lo = INFINITY;
    *hi = 0;
    const char *names[] = {a, b};
    for (int k = 0; k < 2; k++) {
        int c = names[k] ? hp__plot_col(t, names[k]) : -1;
        for (size_t r = 0; c >= 0 && r < t->n_rows; r++) {
            double v = hp__plot_at(t, r, c);
            if (v > 0 && v < *lo) *lo = v;
            if (v > 0 && v > *hi) *hi = v;
        }
    }
}

static void linear_axis(FILE *g) {
    fputs("unset logscale y\nset format y \"% h\"\nset mytics default\nset ytics autofreq\nset yrange [*:*]\n", g);
}

/* Panels share the x axis and their left and right edges, whatever their keys. */
static void history_frame(hp__plot_script *s) {
    fprintf(s->g, "set xrange [0:%.17g]\nset xlabel \"iteration (optimizer steps, all stages)\"\n"
                  "set lmargin 12\nset rmargin at screen 0.70\nset key at screen 0.715, graph 1 left top Left reverse samplen 3 spacing 1.3\n"
                  "set grid xtics ytics mytics lc rgb \"#e0e0e0\"\n",
            s->run->last_iteration > 0 ? s->run->last_iteration : 1.0);
}

static void losses_panel_terms(hp__plot_script *s, int soft) {
    FILE *g = s->g;
    int has_jp = any_positive(&s->run->hist, "J_pinn");
    int has_r = !s->run->coupling_none && weighted_r_positive(s->run);
    int has_a = any_positive(&s->run->hist, "A"); /* the averaged residual's column exists and is > 0 somewhere */
    fprintf(g, "set title \"objective Ĵ = J_{pinn} + τ_1 B + τ_2 R%s and its terms, each as it enters Ĵ\"\n"
               "set ylabel \"term of Ĵ\"\n", has_a ? " + τ_3 A" : "");
    stage_list(s, soft, 1 + has_jp + soft + has_r + has_a);
    int first = 1;
    next_curve(s, &first);
    fputs("history using \"iteration\":\"J_hat\"", g);
    curve_style(s, 6, "1");
    fputs(" title \"Ĵ (objective)\"", g);
    if (has_jp) {
        next_curve(s, &first);
        fputs("history using \"iteration\":\"J_pinn\"", g);
        curve_style(s, 0, "1");
        fputs(" title \"J_{pinn} (PDE residual)\"", g);
    }
    if (soft) {
        next_curve(s, &first);
        fputs("history using \"iteration\":(tau1(column(\"stage\"))*column(\"boundary\"))", g);
        curve_style(s, 2, "1");
        fputs(" title \"τ_1·B (boundary penalty)\"", g);
    }
    if (has_r) {
        next_curve(s, &first);
        fputs("history using \"iteration\":(tau2(column(\"stage\"))*column(\"R\"))", g);
        curve_style(s, 1, "1");
        fputs(" title \"τ_2·R (coupling term)\"", g);
    }
    if (has_a) {
        next_curve(s, &first);
        fputs("history using \"iteration\":(tau3(column(\"stage\"))*column(\"A\"))", g);
        curve_style(s, 3, "1");
        fputs(" title \"τ_3·A (averaged residual)\"", g);
    }
    fputs("\n", g);
    fputs("unset label 99\n", g);
}

static void losses_figure(hp__plot_script *s) {
    const hp__plot_run *r = s->run;
    FILE *g = s->g;
    int soft = any_positive(&r->hist, "boundary");
    int err = any_positive(&r->hist, "rel_l2");
    int res = any_positive(&r->hist, "fine_residual") || any_positive(&r->hist, "J_pinn");
    int panels = 1 + err + res;
    fprintf(g, "\n# ---- losses.png: the objective's terms, the error and the PDE residual vs iteration "
               "(history.csv)\n");
    hp__plot_terminal(s, "losses", 1100, 60 + 330 * panels);
    fputs("# the weight of each stage (config.resolved.yaml), applied row by row to the unweighted history columns\n",
          g);
    weight_function(s, "tau1", 1);
    weight_function(s, "tau2", 2);
    weight_function(s, "tau3", 3);
    stage_lines(s);
    history_frame(s);
    log_axis(g, 0, 0);
    fprintf(g, "set multiplot layout %d,1\n", panels);
    losses_panel_terms(s, soft);
    double lo, hi;
    if (err) {
        positive_range(&r->hist, "rel_l2", NULL, &lo, &hi);
        log_axis(g, lo, hi);
        fprintf(g, "set title \"relative L2 error against the reference on the validation grid\"\n"
                   "set ylabel \"‖v − u‖_2 / ‖u‖_2\"\n");
        int first = 1;
        next_curve(s, &first);
        fputs("history using \"iteration\":\"rel_l2\"", g);
        curve_style(s, 1, "1");
        fputs(" title \"relative L2 error\"\n", g);
    }
    if (res) {
        positive_range(&r->hist, "fine_residual", "J_pinn", &lo, &hi);
        log_axis(g, lo, hi);
        fprintf(g, "set title \"mean squared PDE residual: between the points (validation grid) and at them\"\n"
                   "set ylabel \"mean ρ^2\"\n");
        int first = 1;
        if (any_positive(&r->hist, "fine_residual")) {
            next_curve(s, &first);
            fputs("history using \"iteration\":\"fine_residual\"", g);
            curve_style(s, 2, "1");
            fputs(" title \"fine residual (validation grid)\"", g);
        }
        if (any_positive(&r->hist, "J_pinn")) {
            next_curve(s, &first);
            fputs("history using \"iteration\":\"J_pinn\"", g);
            curve_style(s, 0, "2");
            fputs(" title \"J_{pinn} (collocation points)\"", g);
        }
        fputs("\n", g);
    }
    fputs("unset multiplot\n", g);
    unset_stage_lines(s);
    linear_axis(g);
}

/* ---- ktilde.png ------------------------------------------------------------ */

/* "K̃₁₂" for entry (j, i), 0-based, with Unicode subscript digits. */
static void entry_label(char *buf, size_t size, int j, int i) {
    snprintf(buf, size, "K̃\xe2\x82%c\xe2\x82%c", (char)(0x80 + j + 1), (char)(0x80 + i + 1));
}

typedef struct k_entry {
    int col, block, j, i;
} k_entry;

static size_t k_entries(const hp__plot_table *h, k_entry *out, size_t max, int *n_blocks) {
    size_t n = 0;
    *n_blocks = 0;
    for (size_t c = 0; c < h->n_cols && n < max; c++) {
        int b, j, i;
        if (sscanf(h->names[c], "k_%d_%d_%d", &b, &j, &i) != 3 || j < 0 || i < 0 || j > 8 || i > 8) continue;
        out[n++] = (k_entry){(int)c, b, j, i};
        if (b + 1 > *n_blocks) *n_blocks = b + 1;
    }
    return n;
}

/* The reference of entry e (the global tensor of summary.json, row-major), NaN without one. */
static double k_reference(const hp__plot_run *r, const k_entry *e, int dim) {
    size_t idx = (size_t)e->j * (size_t)dim + (size_t)e->i;
    return idx < r->n_kref && isfinite(r->kref[idx]) ? r->kref[idx] : NAN;
}

/* Has |K̃ − ref| a positive value? Its range widens [*lo, *hi]. */
static int k_error_positive(const hp__plot_run *r, const k_entry *e, double ref, double *lo, double *hi) {
    int any = 0;
    for (size_t row = 0; row < r->hist.n_rows; row++) {
        double d = fabs(hp__plot_at(&r->hist, row, e->col) - ref);
        if (!(d > 0)) continue;
        any = 1;
        if (d < *lo) *lo = d;
        if (d > *hi) *hi = d;
    }
    return any;
}

/* Entry label for the key: one key entry per tensor entry, however many blocks. */
static void k_title(hp__plot_script *s, const k_entry *e, int n_blocks, const char *suffix) {
    char lab[32];
    entry_label(lab, sizeof lab, e->j, e->i);
    if (e->block > 0) fputs(" notitle", s->g);
    else if (n_blocks > 1) fprintf(s->g, " title \"%s%s (blocks 1–%d)\"", lab, suffix, n_blocks);
    else fprintf(s->g, " title \"%s%s\"", lab, suffix);
}

static void ktilde_panels(hp__plot_script *s, const k_entry *e, size_t n, int n_blocks, int with_ref) {
    const hp__plot_run *r = s->run;
    FILE *g = s->g;
    int dim = r->dim, first = 1;
    fprintf(g, "set title \"upscaled coefficient K̃ computed from the network%s\"\nset ylabel \"K̃_{ij}\"\n",
            n_blocks > 1 ? " (every block)" : "");
    int n_keys = 0;
    for (size_t k = 0; k < n; k++) n_keys += e[k].block == 0 ? 1 + !isnan(k_reference(r, &e[k], dim)) : 0;
    stage_list(s, 0, n_keys);
    for (size_t k = 0; k < n; k++) {
        next_curve(s, &first);
        fprintf(g, "history using \"iteration\":\"%s\"", r->hist.names[e[k].col]);
        curve_style(s, e[k].j * dim + e[k].i, "1");
        k_title(s, &e[k], n_blocks, "");
        double ref = k_reference(r, &e[k], dim);
        if (e[k].block == 0 && !isnan(ref)) {
            char lab[32];
            entry_label(lab, sizeof lab, e[k].j, e[k].i);
            next_curve(s, &first);
            char num[64];
            hp__plot_number(num, sizeof num, ref);
            fprintf(g, "%.17g with lines dt 2 lw 1.5 lc rgb \"%s\" title \"%s reference = %s\"", ref,
                    hp__plot_colours[(e[k].j * dim + e[k].i) % 8], lab, num);
        }
    }
    fputs("\nunset label 99\n", g);
    if (!with_ref) return;
    fputs("set title \"distance to the reference K̃^{ref}: ", g);
    hp__plot_text(g, r->ref_label);
    fputs("\"\nset ylabel \"|K̃_{ij} − K̃_{ij}^{ref}|\"\n", g);
    double lo = INFINITY, hi = 0;
    int *show = calloc(n, sizeof *show);
    for (size_t k = 0; k < n; k++) {
        double ref = k_reference(r, &e[k], dim);
        if (show) show[k] = !isnan(ref) && k_error_positive(r, &e[k], ref, &lo, &hi);
    }
    log_axis(g, lo, hi);
    first = 1;
    for (size_t k = 0; k < n && show; k++) {
        double ref = k_reference(r, &e[k], dim);
        if (!show[k]) continue;
        next_curve(s, &first);
        fprintf(g, "history using \"iteration\":(abs(column(\"%s\") - %.17g))", r->hist.names[e[k].col], ref);
        curve_style(s, e[k].j * dim + e[k].i, "1");
        k_title(s, &e[k], n_blocks, "");
    }
    free(show);
    fputs(first ? "plot 1/0 notitle\n" : "\n", g);
    linear_axis(g);
}

static void ktilde_figure(hp__plot_script *s) {
    const hp__plot_run *r = s->run;
    k_entry e[512];
    int n_blocks;
    size_t n = k_entries(&r->hist, e, 512, &n_blocks);
    if (n == 0) return;
    int with_ref = 0;
    for (size_t k = 0; k < n; k++) with_ref |= !isnan(k_reference(r, &e[k], r->dim));
    fprintf(s->g, "\n# ---- ktilde.png: K̃ vs iteration%s (history.csv, summary.json)\n",
            with_ref ? " and its distance to the reference" : "");
    hp__plot_terminal(s, "ktilde", 1100, with_ref ? 720 : 420);
    stage_lines(s);
    history_frame(s);
    linear_axis(s->g);
    if (!with_ref)
        fprintf(s->g, "set label 90 \"no reference K̃ %s\" at graph 0.02, graph 0.05 front\n",
                r->has_summary ? "in summary.json (the reference gives none)"
                               : "yet: summary.json, written at the end of the run, names it");
    fprintf(s->g, "set multiplot layout %d,1\n", with_ref ? 2 : 1);
    ktilde_panels(s, e, n, n_blocks, with_ref);
    fputs("unset multiplot\nunset label 90\n", s->g);
    unset_stage_lines(s);
}

/* ---- the script ------------------------------------------------------------ */

static void preamble(hp__plot_script *s) {
    fprintf(s->g,
            "# plots.gp — written by `hpinn plot`. Edit it and rerun it from the run directory:\n"
            "#     gnuplot plots/plots.gp\n"
            "# Every figure is one block below; the numbers in it were read from the run's files.\n"
            "if (!exists(\"outdir\")) outdir = \"plots\"\n"
            "if (!exists(\"history\")) history = \"history.csv\"\n"
            "set encoding utf8\nset datafile separator \",\"\nset datafile missing \"nan\"\n"
            "# colour maps: viridis (perceptually uniform) for fields; a diverging map for signed differences\n"
            "viridis = \"set palette defined (%s)\"\n"
            "diverging = \"set palette defined (%s)\"\n"
            "set style textbox opaque noborder\n",
            viridis, coolwarm);
}

void hp__plot_write_script(FILE *g, const hp__plot_run *run, hp__plot_format format, int png_cairo,
                           hp__plot_figures *figs) {
    memset(figs, 0, sizeof *figs);
    hp__plot_script s = {g, run, format, png_cairo, figs, 1};
    /* about 40 markers per curve, whatever the number of rows */
    s.point_every = run->hist.n_rows > 40 ? run->hist.n_rows / 40 : 1;
    preamble(&s);
    if (run->hist.n_rows > 0) {
        losses_figure(&s);
        ktilde_figure(&s);
    }
    hp__plot_solution_figure(&s);
    hp__plot_coarse_figure(&s);
}
