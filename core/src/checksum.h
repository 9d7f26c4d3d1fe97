/* checksum.h (private) — the one checksum of hpinn's binary files (checkpoints,
 * optimizer states): 64-bit FNV-1a. Not cryptographic; it catches truncation and
 * flipped bytes, which is what a half-written or damaged file has. */
#ifndef HPINN_CHECKSUM_H
#define HPINN_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t hp__fnv1a64(const unsigned char *p, size_t len) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

#endif
