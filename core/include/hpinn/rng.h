/* hpinn/rng.h — the random numbers of hpinn: initialisation of networks, random
 * collocation points, seeds of sweeps. */
#ifndef HPINN_RNG_H
#define HPINN_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "hpinn/export.h"

HP_BEGIN_API

/* A small, documented, portable generator so that the same seed gives the same
 * parameters bit for bit on every platform: xoshiro256** (Blackman & Vigna)
 * seeded by four splitmix64 steps from seed ^ (stream * 0x9E3779B97F4A7C15).
 * Independent streams let a network draw different things (weights, Fourier
 * matrices) from one user seed without one depending on how much the other used. */
typedef struct hp_rng {
    uint64_t s[4];
} hp_rng;

void hp_rng_seed(hp_rng *rng, uint64_t seed, uint64_t stream);
uint64_t hp_rng_next(hp_rng *rng);
/* Uniform in (0, 1): the top 53 bits plus one half ulp, never 0 or 1. */
double hp_rng_uniform(hp_rng *rng);
/* Standard normal by Box-Muller, cosine branch only: every normal costs exactly
 * two uniforms, so the stream position never depends on hidden cached state. */
double hp_rng_normal(hp_rng *rng);

/* A counter-based uniform in [0, 1): the top 53 bits of splitmix64's output
 * for the state `key` (one step: key + 0x9E3779B97F4A7C15, then the mixer).
 * Stateless — the same key gives the same number — for draws that must be
 * reproducible from an index alone (lm's Gram sample: key = step << 32 ^ row). */
double hp_rng_hash_uniform(uint64_t key);

/* Glorot (Xavier) normal: n entries ~ N(0, 2 / (fan_in + fan_out)). */
void hp_glorot_normal(hp_rng *rng, double *w, size_t n, size_t fan_in, size_t fan_out);

HP_END_API

#endif
