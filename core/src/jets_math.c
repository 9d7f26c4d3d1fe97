/* jets_math.c — array versions of exp, tanh and sin/cos for the jet kernels.
 *
 * exp (and tanh through it) is computed here rather than by libm because libm's
 * scalar calls cannot be vectorised and the activation passes are the largest
 * cost after the GEMMs. Classic scheme: x = k ln2 + r, |r| <= ln2/2, e^r by its
 * degree-13 Taylor polynomial (truncation < 2e-17 relative), 2^k assembled in
 * the exponent bits. Written with vector extensions (add/mul/div and 64-bit
 * integer lane operations only), so it is SIMD at -O2 with the baseline
 * instruction set; on x86-64 the array functions are also cloned for AVX2 and
 * picked at load time (GCC target_clones, an ifunc): 4 lanes per instruction
 * instead of 2, measured 4.0 -> 1.8 ns per tanh on the Zen 4 test machine. No
 * FMA contraction happens (ISO C mode), so both clones round identically. Accuracy: a few ulp (checked in tests/test_jets.c
 * against libm over [-40, 40]). sin/cos stay with libm: the embeddings they
 * serve are cached by the networks. */
#include "jets_math.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* GCC/Clang vector extensions: four lanes, one AVX register in the AVX2 clone
 * and a pair of SSE2 registers in the baseline one. The helpers taking these
 * types are always inlined, so their (target-dependent) calling convention
 * never matters; they also take and return them through pointers, which keeps
 * GCC's notes about the 32-byte parameter ABI away. Comparisons give lane masks, so the
 * clamps and sign selections below are branch-free. */
typedef double hp__v2d __attribute__((vector_size(32)));
typedef int64_t hp__v2i __attribute__((vector_size(32)));
#define HP__VEC 4
#define HP__INLINE static inline __attribute__((always_inline))

/* GCC only: clang 14 (the fuzzing build) emits the clones without the symbol
 * that dispatches between them, so the library would not link. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HP__CLONES __attribute__((target_clones("avx2", "default")))
#else
#define HP__CLONES
#endif

/* mask ? a : b, lane-wise */
#define HP__SELECT(mask, a, b) ((hp__v2d)(((mask) & (hp__v2i)(a)) | (~(mask) & (hp__v2i)(b))))

/* e^x lane-wise for x clamped to [-708, 709] (normal results, no overflow). */
HP__INLINE void hp__exp_kernel(hp__v2d *v) {
    hp__v2d x = *v;
    const hp__v2d lo = {-708.0, -708.0, -708.0, -708.0}, hi = {709.0, 709.0, 709.0, 709.0};
    const double log2e = 1.4426950408889634074, shift = 0x1.8p52;
    const double ln2_hi = 0x1.62e42fefa3800p-1, ln2_lo = 0x1.ef35793c76730p-45;
    x = HP__SELECT(x < lo, lo, x);
    x = HP__SELECT(x > hi, hi, x);
    hp__v2d kd = x * log2e + shift; /* round(x log2 e) in the low mantissa bits */
    hp__v2i ki = (hp__v2i)kd;
    kd -= shift;
    hp__v2d r = (x - kd * ln2_hi) - kd * ln2_lo;
    /* The degree-13 Taylor polynomial by Estrin's scheme: the same terms as
     * Horner's rule, but a dependency chain of ~8 operations instead of 26, so
     * consecutive vectors overlap in the pipeline (Horner made this
     * latency-bound at ~18 cycles per value). */
    hp__v2d r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    hp__v2d p01 = 1.0 + r, p23 = 0.5 + r * (1.0 / 6.0);
    hp__v2d p45 = 1.0 / 24.0 + r * (1.0 / 120.0), p67 = 1.0 / 720.0 + r * (1.0 / 5040.0);
    hp__v2d p89 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
    hp__v2d p1011 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
    hp__v2d p1213 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
    hp__v2d q0 = p01 + r2 * p23, q1 = p45 + r2 * p67, q2 = p89 + r2 * p1011;
    hp__v2d p = (q0 + r4 * q1) + r8 * (q2 + r4 * p1213);
    /* ki = bits(shift) + k: the scale 2^k has exponent field k + 1023 */
    hp__v2i scale = (ki - (int64_t)0x4338000000000000ll + 1023) << 52;
    *v = p * (hp__v2d)scale;
}

/* tanh z = sign(z) (1 - e) / (1 + e), e = e^{-2|z|} in (0, 1]: never overflows. */
HP__INLINE void hp__tanh_kernel(hp__v2d *v) {
    hp__v2d z = *v;
    const hp__v2i sign_bit = {INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN};
    hp__v2i zi = (hp__v2i)z;
    hp__v2d az = (hp__v2d)(zi & ~sign_bit);
    hp__v2d e = -2.0 * az;
    hp__exp_kernel(&e);
    hp__v2d t = (1.0 - e) / (1.0 + e);
    *v = (hp__v2d)((hp__v2i)t | (zi & sign_bit));
}

/* Apply a lane kernel to an array: full vectors, then the tail through a padded one. */
#define HP__MAP(kernel, out, in, n)                                          \
    do {                                                                     \
        size_t i_ = 0;                                                       \
        for (; i_ + HP__VEC <= (n); i_ += HP__VEC) {                         \
            hp__v2d v_;                                                      \
            memcpy(&v_, (in) + i_, sizeof v_);                               \
            kernel(&v_);                                                     \
            memcpy((out) + i_, &v_, sizeof v_);                              \
        }                                                                    \
        if (i_ < (n)) {                                                      \
            hp__v2d v_ = {0.0, 0.0, 0.0, 0.0};                               \
            memcpy(&v_, (in) + i_, ((n) - i_) * sizeof(double));             \
            kernel(&v_);                                                     \
            memcpy((out) + i_, &v_, ((n) - i_) * sizeof(double));            \
        }                                                                    \
    } while (0)

HP__CLONES void hp__exp_block(double *out, const double *in, size_t n) {
    HP__MAP(hp__exp_kernel, out, in, n);
}

HP__CLONES void hp__tanh_block(double *out, const double *in, size_t n) {
    HP__MAP(hp__tanh_kernel, out, in, n);
}

void hp__sincos_block(double *sin_out, double *cos_out, const double *in, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double v = in[i];
        sin_out[i] = sin(v);
        cos_out[i] = cos(v);
    }
}
