/* checksum.h (private) — the one checksum of hpinn's files (checkpoints,
 * optimizer states, the reference cache, history prefixes, and the plugin
 * files recorded in summary.json): 64-bit FNV-1a with the published offset
 * basis, so any FNV-1a tool reproduces it. Not cryptographic; it catches
 * truncation and flipped bytes, which is what a half-written or damaged file
 * has, and tells two builds of a plugin apart. */
#ifndef HPINN_CHECKSUM_H
#define HPINN_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* The published FNV-1a 64 offset basis (0xcbf29ce484222325). Files written
 * before checkpoint format 2 used a basis one digit short of it; they are
 * refused by their format version anyway. */
#define HP__FNV1A64_BASIS 14695981039346656037ull

/* Continue checksum h (start with HP__FNV1A64_BASIS) over len more bytes:
 * fnv(a ++ b) = update(fnv(a), b), so a file is checksummed piece by piece. */
static inline uint64_t hp__fnv1a64_update(uint64_t h, const unsigned char *p, size_t len) {
    for (size_t i = 0; i < len; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static inline uint64_t hp__fnv1a64(const unsigned char *p, size_t len) {
    return hp__fnv1a64_update(HP__FNV1A64_BASIS, p, len);
}

#endif
