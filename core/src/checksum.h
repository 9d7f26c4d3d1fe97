/* checksum.h (private) — the one checksum of hpinn's binary files (checkpoints,
 * optimizer states, the plugin files recorded in summary.json): 64-bit FNV-1a.
 * Not cryptographic; it catches truncation and flipped bytes, which is what a
 * half-written or damaged file has, and tells two builds of a plugin apart. */
#ifndef HPINN_CHECKSUM_H
#define HPINN_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* The published FNV-1a 64 offset basis (0xcbf29ce484222325). hp__fnv1a64 below
 * starts from 1469598103934665603 instead, a digit short of it: the checkpoints
 * and optimizer states written so far carry that checksum, so it stays for them.
 * A checksum others must reproduce with any FNV-1a tool (the plugin files named
 * in summary.json) starts from this one. */
#define HP__FNV1A64_BASIS 14695981039346656037ull

/* Continue checksum h (start with HP__FNV1A64_BASIS) over len more bytes: a file
 * is checksummed piece by piece. */
static inline uint64_t hp__fnv1a64_update(uint64_t h, const unsigned char *p, size_t len) {
    for (size_t i = 0; i < len; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static inline uint64_t hp__fnv1a64(const unsigned char *p, size_t len) {
    return hp__fnv1a64_update(1469598103934665603ull, p, len);
}

#endif
