/* pinn_residual.c — the PINN residual and its pullback (pinn_residual.h). */
#include "pinn_residual.h"

#include <string.h>

double hp__pinn_residual(const hp__point_set *s, int dim, const double *jet, int direction, double *rho,
                         const unsigned char *mask) {
    size_t n = s->n, d = (size_t)dim;
    double sum = 0.0;
    for (size_t r = 0; r < n; r++) {
        double lap = jet[(d + 1) * n + r], adv = 0.0;
        for (size_t a = 0; a < d; a++) adv += s->gradK[r * d + a] * jet[(1 + a) * n + r];
        double v = hp__pinn_residual_scale(s, r) * (-s->K[r] * lap - adv - hp__problem_f(s, dim, r, direction));
        if (rho) rho[r] = v;
        if (!mask || mask[r]) sum += v * v;
    }
    return sum;
}

void hp__pinn_residual_linear(const hp__point_set *s, int dim, const double *t, double *out) {
    size_t n = s->n, d = (size_t)dim;
    for (size_t r = 0; r < n; r++) {
        double adv = 0.0;
        for (size_t a = 0; a < d; a++) adv += s->gradK[r * d + a] * t[(1 + a) * n + r];
        out[r] = hp__pinn_residual_scale(s, r) * (-s->K[r] * t[(d + 1) * n + r] - adv);
    }
}

void hp__pinn_residual_pullback(const hp__point_set *s, int dim, const double *g, double *cot) {
    size_t n = s->n, d = (size_t)dim;
    memset(cot, 0, n * sizeof *cot);
    for (size_t r = 0; r < n; r++) {
        double gs = g[r] * hp__pinn_residual_scale(s, r);
        for (size_t a = 0; a < d; a++) cot[(1 + a) * n + r] = -gs * s->gradK[r * d + a];
        cot[(d + 1) * n + r] = -gs * s->K[r];
    }
}
