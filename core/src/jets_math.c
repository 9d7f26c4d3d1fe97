/* jets_math.c — array versions of exp, tanh and sin/cos for the jet kernels.
 *
 * exp (and tanh through it) is computed here rather than by libm because libm's
 * scalar calls cannot be vectorised and the activation passes are the largest
 * cost after the GEMMs. Classic scheme: x = k ln2 + r, |r| <= ln2/2, e^r by its
 * degree-13 Taylor polynomial (truncation < 2e-17 relative), 2^k assembled in
 * the exponent bits. Written with vector extensions (add/mul/div and 64-bit
 * integer lane operations only), so it is SIMD at -O2 with the baseline
 * instruction set. Accuracy: a few ulp (checked in tests/test_jets.c
 * against libm over [-40, 40]). sin/cos stay with libm: the embeddings they
 * serve are cached by the networks. */
#include "jets_math.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* GCC/Clang vector extensions: two lanes, one SSE2 register on baseline x86-64
 * (16 bytes keeps the ABI of the inline helpers target-independent). Comparisons give lane masks, so
 * the clamps and sign selections below are branch-free. */
typedef double hp__v2d __attribute__((vector_size(16)));
typedef int64_t hp__v2i __attribute__((vector_size(16)));
#define HP__VEC 2

static inline hp__v2d hp__select(hp__v2i mask, hp__v2d a, hp__v2d b) {
    return (hp__v2d)((mask & (hp__v2i)a) | (~mask & (hp__v2i)b));
}

/* e^x lane-wise for x clamped to [-708, 709] (normal results, no overflow). */
static inline hp__v2d hp__exp_kernel(hp__v2d x) {
    const hp__v2d lo = {-708.0, -708.0}, hi = {709.0, 709.0};
    const double log2e = 1.4426950408889634074, shift = 0x1.8p52;
    const double ln2_hi = 0x1.62e42fefa3800p-1, ln2_lo = 0x1.ef35793c76730p-45;
    x = hp__select(x < lo, lo, x);
    x = hp__select(x > hi, hi, x);
    hp__v2d kd = x * log2e + shift; /* round(x log2 e) in the low mantissa bits */
    hp__v2i ki = (hp__v2i)kd;
    kd -= shift;
    hp__v2d r = (x - kd * ln2_hi) - kd * ln2_lo;
    hp__v2d p = r * (1.0 / 6227020800.0) + 1.0 / 479001600.0; /* 1/13!, 1/12! */
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* ki = bits(shift) + k: the scale 2^k has exponent field k + 1023 */
    hp__v2i scale = (ki - (int64_t)0x4338000000000000ll + 1023) << 52;
    return p * (hp__v2d)scale;
}

/* tanh z = sign(z) (1 - e) / (1 + e), e = e^{-2|z|} in (0, 1]: never overflows. */
static inline hp__v2d hp__tanh_kernel(hp__v2d z) {
    const hp__v2i sign_bit = {INT64_MIN, INT64_MIN};
    hp__v2i zi = (hp__v2i)z;
    hp__v2d az = (hp__v2d)(zi & ~sign_bit);
    hp__v2d e = hp__exp_kernel(-2.0 * az);
    hp__v2d t = (1.0 - e) / (1.0 + e);
    return (hp__v2d)((hp__v2i)t | (zi & sign_bit));
}

/* Apply a lane kernel to an array: full vectors, then the tail through a padded one. */
#define HP__MAP(kernel, out, in, n)                                          \
    do {                                                                     \
        size_t i_ = 0;                                                       \
        for (; i_ + HP__VEC <= (n); i_ += HP__VEC) {                         \
            hp__v2d v_;                                                      \
            memcpy(&v_, (in) + i_, sizeof v_);                               \
            v_ = kernel(v_);                                                 \
            memcpy((out) + i_, &v_, sizeof v_);                              \
        }                                                                    \
        if (i_ < (n)) {                                                      \
            hp__v2d v_ = {0.0, 0.0};                               \
            memcpy(&v_, (in) + i_, ((n) - i_) * sizeof(double));             \
            v_ = kernel(v_);                                                 \
            memcpy((out) + i_, &v_, ((n) - i_) * sizeof(double));            \
        }                                                                    \
    } while (0)

void hp__exp_block(double *out, const double *in, size_t n) { HP__MAP(hp__exp_kernel, out, in, n); }

void hp__tanh_block(double *out, const double *in, size_t n) { HP__MAP(hp__tanh_kernel, out, in, n); }

void hp__sincos_block(double *sin_out, double *cos_out, const double *in, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double v = in[i];
        sin_out[i] = sin(v);
        cos_out[i] = cos(v);
    }
}
