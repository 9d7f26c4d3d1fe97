/* fileio.h (private) — how hpinn writes files, in one place:
 *
 *   - atomic replacement: every output goes to a temporary file in the same
 *     directory, is flushed and fsync'ed, then renamed over its name (and the
 *     directory fsync'ed), so a reader or a crash sees the old file or the new
 *     one, never half of one;
 *   - the one byte order of binary files: little-endian, encoded byte by byte,
 *     so a file means the same thing on every machine;
 *   - the one checksum: 64-bit FNV-1a (checksum.h);
 *   - checked record files (checkpoints, the reference cache): a magic, a
 *     format version, the payload length, the payload and a checksum, every
 *     field checked before a byte of the payload is handed out;
 *   - legacy VTK structured points (2-D fields for ParaView).
 */
#ifndef HPINN_FILEIO_H
#define HPINN_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "hpinn/status.h"

#define HP__PATH_MAX 4096

/* Monotonic seconds (for durations; never for dates). */
static inline double hp__now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* dir/name into buf; HP_ERR_USAGE when it does not fit. dir may be NULL. */
hp_status hp__path_join(char *buf, size_t size, const char *dir, const char *name);

/* ---- atomic outputs ------------------------------------------------------------ */

typedef struct hp__out_file {
    FILE *f;                      /* write here */
    char path[HP__PATH_MAX];      /* the final name */
    char tmp[HP__PATH_MAX + 32];  /* the temporary name */
} hp__out_file;

/* Open a temporary file for dir/name (dir may be NULL: name is the path). */
hp_status hp__out_open(hp__out_file *o, const char *dir, const char *name);
/* Flush, fsync, close and rename over the final name. Any write error on the
 * stream (disk full, ...) is reported here as HP_ERR_IO naming the file, and
 * the old file stays. When keep_previous is not NULL, the file being replaced
 * stays under that name (in the same directory) rather than being lost. */
hp_status hp__out_commit(hp__out_file *o, const char *keep_previous);
/* Close and remove the temporary file (after an error elsewhere). */
void hp__out_abort(hp__out_file *o);

/* The whole buffer as dir/name, atomically. */
hp_status hp__write_atomic(const char *dir, const char *name, const void *data, size_t len,
                           const char *keep_previous);

/* ---- little-endian encoding --------------------------------------------------------- */

/* A growable byte buffer; a failed allocation is remembered and reported by
 * whoever finishes with the buffer (hp__bytes_status). */
typedef struct hp__bytes {
    unsigned char *data;
    size_t len, cap;
    int failed;
} hp__bytes;

void hp__bytes_free(hp__bytes *b);
void hp__put_raw(hp__bytes *b, const void *data, size_t len);
void hp__put_u32(hp__bytes *b, uint32_t v);
void hp__put_u64(hp__bytes *b, uint64_t v);
void hp__put_f64(hp__bytes *b, double v);
void hp__put_f64s(hp__bytes *b, const double *v, size_t n);
/* u64 length, then the bytes (no terminator). */
void hp__put_string(hp__bytes *b, const char *s);
/* HP_ERR_NOMEM when an append failed. */
hp_status hp__bytes_status(const hp__bytes *b);

/* Reading: every get checks the remaining length; a short read sets `failed`
 * and returns zeros, so a caller checks once at the end (hp__reader_done). */
typedef struct hp__reader {
    const unsigned char *p;
    size_t len, pos;
    int failed;
} hp__reader;

void hp__get_raw(hp__reader *r, void *out, size_t len);
uint32_t hp__get_u32(hp__reader *r);
uint64_t hp__get_u64(hp__reader *r);
double hp__get_f64(hp__reader *r);
void hp__get_f64s(hp__reader *r, double *out, size_t n);
/* A string written by hp__put_string, malloc'ed and NUL-terminated; NULL (and
 * `failed`) when it is longer than max_len or the buffer. */
char *hp__get_string(hp__reader *r, size_t max_len);
/* Bytes left. */
static inline size_t hp__reader_left(const hp__reader *r) { return r->failed ? 0 : r->len - r->pos; }
/* HP_ERR_CORRUPT "<what> is corrupted: <detail>" when a get ran short or bytes
 * are left over. */
hp_status hp__reader_done(const hp__reader *r, const char *what);

/* ---- checked record files ----------------------------------------------------------
 * magic[8] | u32 format version | u64 payload bytes | payload | u64 FNV-1a of all before */

hp_status hp__record_write(const char *dir, const char *name, const char magic[8], uint32_t version,
                           const hp__bytes *payload, const char *keep_previous);
/* Read and check dir/name; *payload (malloc'ed, *len bytes) on success. A missing
 * file is HP_ERR_NOT_FOUND; anything else wrong (not a regular file, another
 * magic, another version, truncated, trailing bytes, checksum) is HP_ERR_CORRUPT
 * naming the file, `what` it should be and what is wrong. */
hp_status hp__record_read(const char *dir, const char *name, const char magic[8], uint32_t version,
                          const char *what, unsigned char **payload, size_t *len);

/* ---- VTK ----------------------------------------------------------------------------- */

/* Legacy VTK STRUCTURED_POINTS on the unit square with per_axis points per axis,
 * one scalar field per column (n_cols columns of per_axis^2 values). */
hp_status hp__write_vtk_grid(const char *dir, const char *name, int per_axis, const char *const *names,
                             const double *const *cols, int n_cols);

#endif
