/* rng.c — the portable random numbers behind network initialisation
 * (hp_rng, hp_glorot_normal; see hpinn/rng.h). Integer arithmetic only up to
 * the uniform, so the stream is the same on every platform; the normal then
 * uses libm log, sqrt and cos. */
#include "hpinn/rng.h"

#include <math.h>

static uint64_t hp__splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double hp_rng_hash_uniform(uint64_t key) { return (double)(hp__splitmix64(&key) >> 11) * 0x1.0p-53; }

static uint64_t hp__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void hp_rng_seed(hp_rng *rng, uint64_t seed, uint64_t stream) {
    uint64_t sm = seed ^ (stream * 0x9E3779B97F4A7C15ull);
    for (int i = 0; i < 4; i++) rng->s[i] = hp__splitmix64(&sm);
}

uint64_t hp_rng_next(hp_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = hp__rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = hp__rotl(s[3], 45);
    return result;
}

double hp_rng_uniform(hp_rng *rng) {
    return ((double)(hp_rng_next(rng) >> 11) + 0.5) * 0x1.0p-53;
}

double hp_rng_normal(hp_rng *rng) {
    double u1 = hp_rng_uniform(rng), u2 = hp_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925286766559 * u2);
}

void hp_glorot_normal(hp_rng *rng, double *w, size_t n, size_t fan_in, size_t fan_out) {
    double sd = sqrt(2.0 / (double)(fan_in + fan_out > 0 ? fan_in + fan_out : 1));
    for (size_t i = 0; i < n; i++) w[i] = sd * hp_rng_normal(rng);
}
