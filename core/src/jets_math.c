/* jets_math.c — array versions of exp, tanh and sin/cos for the jet kernels. */
#include "jets_math.h"

#include <math.h>

void hp__exp_block(double *out, const double *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = exp(in[i]);
}

void hp__tanh_block(double *out, const double *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = tanh(in[i]);
}

void hp__sincos_block(double *sin_out, double *cos_out, const double *in, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double v = in[i];
        sin_out[i] = sin(v);
        cos_out[i] = cos(v);
    }
}
