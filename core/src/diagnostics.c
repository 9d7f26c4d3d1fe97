/* diagnostics.c — the end-of-run warnings (diagnostics.h). Each names what was
 * measured, the likely cause and the settings that fix it. */
#include "diagnostics.h"

#include <math.h>
#include <stdio.h>

static char *next_slot(hp__warnings *w, const char *key) {
    if (w->n >= HP__MAX_WARNINGS) return NULL;
    snprintf(w->key[w->n], sizeof w->key[w->n], "%s", key);
    return w->text[w->n++];
}

void hp__diagnose_aliasing(const hp__problem *p, const double *max_per_axis, hp__warnings *w) {
    if (p->plan.resample_every > 0 || p->plan.rad || !p->collocation_total) return;
    double per_axis = p->dim == 1 ? (double)p->collocation_total : sqrt((double)p->collocation_total);
    double nyquist = per_axis / 2.0, worst = 0.0;
    int axis = -1;
    for (int a = 0; a < p->dim; a++)
        if (max_per_axis[a] > nyquist && max_per_axis[a] > worst) {
            worst = max_per_axis[a];
            axis = a;
        }
    if (axis < 0) return;
    char *t = next_slot(w, "aliased_features");
    if (!t) return;
    static const char *names[] = {"x", "y", "z"};
    snprintf(t, HP__WARNING_CHARS,
             "the network has a feature of %.4g cycles per unit along %s, above the Nyquist limit %.4g of the "
             "%.0f collocation points%s: at the points it looks like a lower frequency, and the network can fit "
             "the points with it and be anything between them. Lower the features (network.lattice_modes, "
             "network.sigmas), or raise problem.collocation.points to %.0f%s or more",
             worst, p->dim == 1 ? "x" : names[axis], nyquist, per_axis, p->dim == 1 ? "" : " per axis",
             ceil(2.0 * worst) + 1.0, p->dim == 1 ? "" : " per axis");
}

void hp__diagnose_resolution(const hp__problem *p, double j_pinn, double fine_residual, double zero_residual,
                             hp__warnings *w) {
    if (!(isfinite(j_pinn) && isfinite(fine_residual) && isfinite(zero_residual))) return;
    if (!(fine_residual > HP__UNDER_RESOLVED_LOSS_RATIO * j_pinn &&
          fine_residual > HP__UNDER_RESOLVED_ZERO_RATIO * zero_residual))
        return;
    char *t = next_slot(w, "under_resolved");
    if (!t) return;
    double ell = 0.0;
    size_t want = hp__problem_resolving_points(p, hp__problem_default_points_per_width(p->dim), &ell), have = p->plan.per_axis;
    const char *axis = p->dim == 1 ? "" : " per axis";
    int n = snprintf(t, HP__WARNING_CHARS,
                     "the collocation points do not resolve K: the residual between them (fine_residual %.3g on the "
                     "validation grid) is %.3g times the training loss J_pinn %.3g and %.2g of the residual of v = 0; "
                     "the network fits the PDE at the points, not between them. ",
                     fine_residual, fine_residual / j_pinn, j_pinn, fine_residual / zero_residual);
    if (n < 0 || n >= HP__WARNING_CHARS) return;
    if (want > have)
        snprintf(t + n, HP__WARNING_CHARS - (size_t)n,
                 "K varies on a length scale of %.3g, which asks for about %zu points%s (%zu now): set "
                 "problem.collocation.points: auto, or resample them (problem.collocation.sampling: sobol, "
                 "resample_every: 100)",
                 ell, want, axis, have);
    else
        snprintf(t + n, HP__WARNING_CHARS - (size_t)n,
                 "The %zu points%s already resolve K's length scale %.3g at %g points per width: resample them "
                 "(problem.collocation.sampling: sobol, resample_every: 100, or adaptive: rad), or raise "
                 "problem.collocation.points_per_width",
                 have, axis, ell, hp__problem_default_points_per_width(p->dim));
}
