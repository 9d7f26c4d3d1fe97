/* diagnostics.h (private) — what a finished run says about itself beyond its
 * numbers: warnings with the likely cause and the fix, printed at the end of a
 * run and recorded in summary.json ("warnings").
 *
 * Under-resolution (docs/math.md §6.4): the network can fit the PDE residual at
 * the collocation points and not between them. The validation grid is finer
 * (validation.points: auto is 4x the density in 1-D, 2x per axis in 2-D), so
 * its mean ρ² (fine_residual) shows it. The run is flagged when
 *     fine_residual > 10 · J_pinn   (the points are fitted, the gaps are not)
 * and fine_residual > 1e-3 · mean f² (the gaps matter against the residual of
 * v = 0, so a nearly exact solution with a few narrow spikes is not flagged). */
#ifndef HPINN_DIAGNOSTICS_H
#define HPINN_DIAGNOSTICS_H

#include <stddef.h>

#include "problem.h"

#define HP__MAX_WARNINGS 4
#define HP__WARNING_CHARS 640

typedef struct hp__warnings {
    int n;
    char key[HP__MAX_WARNINGS][32];               /* e.g. "under_resolved" */
    char text[HP__MAX_WARNINGS][HP__WARNING_CHARS];
} hp__warnings;

/* The thresholds above, named for the tests and docs. */
#define HP__UNDER_RESOLVED_LOSS_RATIO 10.0
#define HP__UNDER_RESOLVED_ZERO_RATIO 1e-3

/* Aliasing (known before the run): a fixed function of the network (a Fourier
 * feature, a lattice function) whose frequency along an axis exceeds the
 * Nyquist limit of the collocation points, half their number per unit length
 * (n^(1/d) per axis on [0, 1]^d), looks at the points like a lower one; the
 * network can then fit the points with it and be anything between them.
 * Not checked when the points are resampled (the sets together see more).
 * max_per_axis: the network's highest frequency per axis (cycles per unit). */
void hp__diagnose_aliasing(const hp__problem *p, const double *max_per_axis, hp__warnings *w);

/* Appends the under-resolution warning when the final values show it. */
void hp__diagnose_resolution(const hp__problem *p, double j_pinn, double fine_residual, double zero_residual,
                             hp__warnings *w);

#endif
