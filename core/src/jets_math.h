/* jets_math.h — private: elementwise transcendental functions over arrays, for
 * the jet kernels. Array-at-a-time so they can be vectorised; in-place use
 * (out == in) is allowed. Accurate to a few ulp over the whole double range. */
#ifndef HPINN_JETS_MATH_H
#define HPINN_JETS_MATH_H

#include <stddef.h>

/* out[i] = exp(in[i]) */
/* ifuncs (target_clones) are emitted with default visibility whatever
 * -fvisibility says: hidden here, so libhpinn exports only its public API. */
#if defined(__GNUC__)
#define HP__HIDDEN __attribute__((visibility("hidden")))
#else
#define HP__HIDDEN
#endif

HP__HIDDEN void hp__exp_block(double *out, const double *in, size_t n);
/* out[i] = tanh(in[i]) */
HP__HIDDEN void hp__tanh_block(double *out, const double *in, size_t n);
/* sin_out[i] = sin(in[i]), cos_out[i] = cos(in[i]); cos_out may alias in. */
HP__HIDDEN void hp__sincos_block(double *sin_out, double *cos_out, const double *in, size_t n);

#endif
