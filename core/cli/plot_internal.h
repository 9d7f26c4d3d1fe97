/* plot_internal.h (private to plot_script.c and plot_fields.c) — the state of
 * the script being written and the helpers both halves of it use. */
#ifndef HPINN_PLOT_INTERNAL_H
#define HPINN_PLOT_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

#include "plot.h"

typedef struct hp__plot_script {
    FILE *g;
    const hp__plot_run *run;
    hp__plot_format format;
    int png_cairo;
    hp__plot_figures *figs;
    size_t point_every; /* history curves: a marker every this many rows */
} hp__plot_script;

extern const char *const hp__plot_colours[8];

/* Text inside a gnuplot double-quoted, enhanced-mode string: quotes escaped,
 * the enhanced-text operators (^ _ @ & ~ { }) shown as themselves. */
void hp__plot_text(FILE *g, const char *s);
/* v for enhanced text: 0.833, 2.5×10^{-5}, 10^{3}. */
void hp__plot_number(char *buf, size_t size, double v);
/* `set terminal` for the format and `set output outdir."/figure.ext"`; records the figure. */
void hp__plot_terminal(hp__plot_script *s, const char *figure, int width, int height);
/* Select the viridis or the diverging palette the preamble defines. */
void hp__plot_palette(hp__plot_script *s, int diverging);

void hp__plot_solution_figure(hp__plot_script *s);
void hp__plot_coarse_figure(hp__plot_script *s);

#endif
