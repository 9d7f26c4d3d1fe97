/* checksum.h (private) — the one checksum of hpinn's files (checkpoints,
 * optimizer states, the reference cache, history prefixes, plugin files):
 * 64-bit FNV-1a. Not cryptographic; it catches truncation and flipped bytes,
 * which is what a half-written or damaged file has. */
#ifndef HPINN_CHECKSUM_H
#define HPINN_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#define HP__FNV1A64_INIT 1469598103934665603ull

/* Continue a checksum over more bytes: fnv(a ++ b) = update(fnv(a), b). */
static inline uint64_t hp__fnv1a64_update(uint64_t h, const unsigned char *p, size_t len) {
    for (size_t i = 0; i < len; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static inline uint64_t hp__fnv1a64(const unsigned char *p, size_t len) {
    return hp__fnv1a64_update(HP__FNV1A64_INIT, p, len);
}

#endif
