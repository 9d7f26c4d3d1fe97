/* collocation.c — collocation point generators, RAD selection and the density
 * rule of `points: auto` (collocation.h). Every random choice is drawn from
 * hp_rng streams fixed by the seed and the round, so a run's point sets are the
 * same on every rerun and after a resume. */
#include "collocation.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hpinn/rng.h"

#define STREAM_UNIFORM 0x5a11u
#define STREAM_SHIFT 0x5b11u
#define STREAM_RAD 0x5c11u

/* Sobol direction numbers for the first two dimensions: dimension 1 is the van
 * der Corput sequence in base 2, dimension 2 uses the primitive polynomial
 * x + 1 (m_1 = 1), v_k = v_{k-1} ^ (v_{k-1} >> 1). */
static uint32_t sobol(uint64_t index, int dim) {
    uint32_t v = 1u << 31, x = 0;
    for (int k = 0; k < 32 && index; k++, index >>= 1) {
        if (index & 1u) x ^= v;
        v = dim == 0 ? v >> 1 : v ^ (v >> 1);
    }
    return x;
}

static double radical_inverse(uint64_t index, unsigned base) {
    double inv = 1.0 / base, f = inv, r = 0.0;
    while (index) {
        r += f * (double)(index % base);
        index /= base;
        f *= inv;
    }
    return r;
}

/* One point of a low-discrepancy sequence, shifted by this seed's shift:
 * never exactly 0 or 1. */
static void low_discrepancy(const hp__collocation *c, uint64_t index, const uint32_t *xor_shift, const double *add_shift,
                            double *x) {
    for (int a = 0; a < c->dim; a++) {
        if (c->sampling == HP__SAMPLING_SOBOL) {
            x[a] = ((double)(sobol(index, a) ^ xor_shift[a]) + 0.5) / 4294967296.0;
        } else {
            double h = radical_inverse(index, a == 0 ? 2u : 3u) + add_shift[a];
            h -= floor(h);
            x[a] = h > 0.0 ? h : 0.5 / 4294967296.0;
        }
    }
}

void hp__collocation_draw(const hp__collocation *c, uint64_t round, size_t count, double *x) {
    size_t d = (size_t)c->dim;
    if (c->sampling == HP__SAMPLING_SOBOL || c->sampling == HP__SAMPLING_HALTON) {
        hp_rng shift;
        hp_rng_seed(&shift, c->seed, STREAM_SHIFT);
        uint32_t xs[2];
        double as[2];
        for (int a = 0; a < 2; a++) {
            xs[a] = (uint32_t)(hp_rng_next(&shift) >> 32);
            as[a] = hp_rng_uniform(&shift);
        }
        /* round r is the sequence's r-th block (index 0, the origin, skipped) */
        uint64_t first = 1 + round * (uint64_t)count;
        for (size_t i = 0; i < count; i++) low_discrepancy(c, first + i, xs, as, x + i * d);
        return;
    }
    hp_rng rng;
    hp_rng_seed(&rng, c->seed ^ (round * 0x9E3779B97F4A7C15ull), STREAM_UNIFORM);
    for (size_t i = 0; i < count * d; i++) x[i] = hp_rng_uniform(&rng);
}

void hp__collocation_points(const hp__collocation *c, uint64_t round, double *x) {
    if (c->sampling != HP__SAMPLING_GRID) {
        hp__collocation_draw(c, round, c->n, x);
        return;
    }
    size_t m = c->per_axis;
    for (size_t r = 0; r < c->n; r++) {
        if (c->dim == 1) {
            x[r] = (double)(r + 1) / (double)(m + 1);
        } else {
            x[2 * r] = (double)(r % m + 1) / (double)(m + 1);
            x[2 * r + 1] = (double)(r / m + 1) / (double)(m + 1);
        }
    }
}

typedef struct keyed {
    double key;
    size_t index;
} keyed;

static int by_key_descending(const void *a, const void *b) {
    double x = ((const keyed *)a)->key, y = ((const keyed *)b)->key;
    if (x != y) return x < y ? 1 : -1;
    size_t i = ((const keyed *)a)->index, j = ((const keyed *)b)->index;
    return i < j ? -1 : (i > j);
}

static int by_index(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return i < j ? -1 : (i > j);
}

hp_status hp__collocation_rad_select(const hp__collocation *c, uint64_t round, const double *rho_abs, size_t count,
                                     size_t *chosen, double *weights) {
    size_t n = c->n;
    if (count < n) HP_ERROR(HP_ERR_INTERNAL, "RAD: %zu candidates for %zu points", count, n);
    double mean = 0.0;
    for (size_t i = 0; i < count; i++) mean += pow(rho_abs[i], c->rad_k);
    mean /= (double)count;
    keyed *keys;
    HP_CALL(hp_malloc(count * sizeof *keys, &keys));
    hp_rng rng;
    hp_rng_seed(&rng, c->seed ^ (round * 0x9E3779B97F4A7C15ull), STREAM_RAD);
    /* weighted sampling without replacement (Efraimidis-Spirakis): the n largest
     * keys u^(1/p); log u / p keeps it finite */
    double psum = 0.0;
    for (size_t i = 0; i < count; i++) {
        double p = (mean > 0.0 && isfinite(mean) ? pow(rho_abs[i], c->rad_k) / mean : 0.0) + c->rad_c;
        if (!(p > 0.0) || !isfinite(p)) p = c->rad_c > 0.0 ? c->rad_c : 1e-300;
        keys[i].key = log(hp_rng_uniform(&rng)) / p;
        keys[i].index = i;
        psum += p;
    }
    qsort(keys, count, sizeof *keys, by_key_descending);
    for (size_t i = 0; i < n; i++) chosen[i] = keys[i].index;
    free(keys);
    qsort(chosen, n, sizeof *chosen, by_index);
    /* importance weights ∝ 1/p (p the density relative to uniform), normalized */
    double wsum = 0.0;
    for (size_t i = 0; i < n; i++) {
        size_t j = chosen[i];
        double p = (mean > 0.0 && isfinite(mean) ? pow(rho_abs[j], c->rad_k) / mean : 0.0) + c->rad_c;
        weights[i] = 1.0 / (p / (psum / (double)count));
        wsum += weights[i];
    }
    for (size_t i = 0; i < n; i++) weights[i] /= wsum;
    return HP_OK;
}

size_t hp__collocation_auto(int dim, double (*scale_of_K)(const double *x, void *ctx), void *ctx,
                            double points_per_width, size_t min_points, size_t max_points, double *length_scale) {
    size_t g = dim == 1 ? 65536 : 512;
    double worst = 0.0, x[2];
    size_t total = dim == 1 ? g : g * g;
    for (size_t r = 0; r < total; r++) {
        x[0] = ((double)(r % g) + 0.5) / (double)g;
        if (dim == 2) x[1] = ((double)(r / g) + 0.5) / (double)g;
        double s = scale_of_K(x, ctx);
        if (isfinite(s) && s > worst) worst = s;
    }
    double ell = worst > 0.0 ? 1.0 / worst : INFINITY;
    if (length_scale) *length_scale = ell;
    double want = isfinite(ell) ? ceil(points_per_width / ell) : 0.0;
    if (want < (double)min_points) return min_points;
    if (want > (double)max_points) return max_points;
    return (size_t)want;
}
