/* checkpoint.h (private) — the trainer's checkpoint file: everything needed to
 * continue a run exactly where it stopped (θ, the current stage's optimizer state,
 * the iteration counters, the stage weights, how much of history.csv belongs to
 * this point and the elapsed time).
 *
 * File layout (all integers and doubles little-endian, whatever the machine):
 *
 *   header  (HP_CHECKPOINT_HEADER_SIZE bytes)
 *     char[8]  magic "HPINNCKP"
 *     u32      format version (HP_CHECKPOINT_VERSION)
 *     u32      header size
 *     u64      n_theta
 *     u64      optimizer state bytes
 *     u64      payload bytes
 *     char[32] optimizer plugin name (NUL padded; "" when no optimizer state)
 *   payload
 *     u64 global iteration | u64 stage index | u64 iteration within the stage |
 *     u64 flags (bit 0: the stage has finished, e.g. its optimizer stopped) |
 *     u64 history.csv bytes | f64 tau1 | f64 tau2 | f64 elapsed seconds |
 *     f64 theta[n_theta] | optimizer state bytes
 *   trailer
 *     u64      FNV-1a 64 of header + payload
 *
 * Writing goes to PATH.tmp, is fsync'ed and renamed over PATH (and the directory
 * fsync'ed), so a crash leaves either the old or the new checkpoint, never half
 * of one. Reading checks magic, version, sizes, length and checksum before
 * anything is handed out; every refusal is HP_ERR_CORRUPT naming the file and
 * what is wrong. */
#ifndef HPINN_CHECKPOINT_H
#define HPINN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "hpinn/status.h"

#define HP_CHECKPOINT_MAGIC "HPINNCKP"
#define HP_CHECKPOINT_VERSION 1u
#define HP_CHECKPOINT_HEADER_SIZE 72u
#define HP_CHECKPOINT_NAME_MAX 32u
#define HP_CHECKPOINT_FLAG_STAGE_FINISHED 1u

typedef struct hp_checkpoint {
    uint64_t iteration;        /* optimizer steps taken since the start of the run */
    uint64_t stage;            /* index of the current stage (== number of stages: run complete) */
    uint64_t stage_iteration;  /* steps taken within that stage */
    uint64_t flags;            /* HP_CHECKPOINT_FLAG_* */
    uint64_t history_bytes;    /* length of history.csv at this point */
    double tau1, tau2;         /* weights in force */
    double elapsed_seconds;    /* wall time of the run so far */
    size_t n_theta;
    double *theta;
    char optimizer[HP_CHECKPOINT_NAME_MAX]; /* plugin name of the saved state, "" if none */
    size_t optimizer_bytes;
    unsigned char *optimizer_state;
} hp_checkpoint;

/* Write atomically (temp file, fsync, rename). */
hp_status hp_checkpoint_write(const char *path, const hp_checkpoint *ck);

/* Read and check. `expected_n_theta` (0: any) must match the file's θ size.
 * On success out->theta and out->optimizer_state are allocated: release them
 * with hp_checkpoint_clear. A missing file is HP_ERR_NOT_FOUND; any other
 * refusal HP_ERR_CORRUPT. */
hp_status hp_checkpoint_read(const char *path, size_t expected_n_theta, hp_checkpoint *out);

/* Free what hp_checkpoint_read allocated and zero the struct. */
void hp_checkpoint_clear(hp_checkpoint *ck);

#endif
