/* fem_quadrature.c — Gauss–Legendre rules for the P1 finite-element plugins.
 *
 * The coarse/fine solvers integrate oscillating coefficients K(x) and sources q(x)
 * per element with composite Gauss–Legendre rules (1-D) and collapsed (Duffy)
 * tensor Gauss–Legendre rules (2-D triangles). Both are built from the rule here,
 * computed by Newton iteration on the Legendre polynomial so that any order the
 * parameter tables allow is available without tables of constants. */
#include <math.h>

#include "hpinn/coarse.h"

hp_status hp_gauss_legendre(int n, double *nodes, double *weights) {
    if (n < 1 || n > HP_GAUSS_LEGENDRE_MAX)
        HP_ERROR(HP_ERR_INTERNAL, "Gauss-Legendre rule with %d points requested; expected 1..%d",
                 n, HP_GAUSS_LEGENDRE_MAX);
    const double pi = 3.14159265358979323846;
    for (int k = 0; k < (n + 1) / 2; ++k) {
        /* Tricomi's initial guess for the k-th root on [-1,1], then Newton. */
        double x = cos(pi * (k + 0.75) / (n + 0.5));
        double dp = 1.0;
        for (int it = 0; it < 100; ++it) {
            double p0 = 1.0, p1 = x;
            for (int j = 2; j <= n; ++j) {
                double p2 = ((2.0 * j - 1.0) * x * p1 - (j - 1.0) * p0) / j;
                p0 = p1;
                p1 = p2;
            }
            if (n == 1) p0 = 1.0, p1 = x;
            dp = n * (x * p1 - p0) / (x * x - 1.0);
            double dx = p1 / dp;
            x -= dx;
            if (fabs(dx) < 1e-16) break;
        }
        /* recompute the derivative at the converged root */
        double p0 = 1.0, p1 = x;
        for (int j = 2; j <= n; ++j) {
            double p2 = ((2.0 * j - 1.0) * x * p1 - (j - 1.0) * p0) / j;
            p0 = p1;
            p1 = p2;
        }
        dp = (n == 1) ? 1.0 : n * (x * p1 - p0) / (x * x - 1.0);
        double w = 2.0 / ((1.0 - x * x) * dp * dp);
        /* map [-1,1] -> [0,1], ascending order */
        nodes[k] = 0.5 * (1.0 - x);
        nodes[n - 1 - k] = 0.5 * (1.0 + x);
        weights[k] = weights[n - 1 - k] = 0.5 * w;
    }
    if (n % 2 == 1) nodes[n / 2] = 0.5;
    return HP_OK;
}
