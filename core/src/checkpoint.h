/* checkpoint.h (private) — the trainer's checkpoint: everything needed to
 * continue a run exactly where it stopped, and what ties it to its run.
 *
 * A checkpoint holds θ, the current stage's optimizer state, the counters, the
 * lowest Ĵ of the current stage (the divergence guard's reference), the wall
 * time so far, and three things that make it refuse to continue anything but
 * its own run: the run id (also in run.json), the resolved pipeline it was
 * trained with (compared key by key on resume, resume_rules.h), and the length
 * and checksum of the history.csv rows it covers.
 *
 * File (a checked record, fileio.h; all fields little-endian):
 *   magic "HPINNCKP", format version HP__CHECKPOINT_VERSION, then
 *   string run id | string resolved config |
 *   u64 iteration | u64 stage | u64 steps in the stage | u64 flags |
 *   u64 history bytes | u64 FNV-1a of those history bytes |
 *   f64 elapsed seconds | f64 best Ĵ of the stage |
 *   u64 n_theta | f64 theta[n_theta] |
 *   string optimizer plugin name ("" when no state) | u64 state bytes | state |
 *   u64 collocation points (0 when the points are never resampled) | u64 dim |
 *   f64 x[points * dim] | f64 weights[points]
 *
 * Writing replaces DIR/checkpoint.bin atomically and keeps the one it replaces
 * as DIR/checkpoint.prev.bin, so one bad write never leaves nothing. */
#ifndef HPINN_CHECKPOINT_H
#define HPINN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "hpinn/status.h"

#define HP__CHECKPOINT_FILE "checkpoint.bin"
#define HP__CHECKPOINT_PREVIOUS_FILE "checkpoint.prev.bin"
#define HP__CHECKPOINT_VERSION 2u
#define HP__CHECKPOINT_FLAG_STAGE_FINISHED 1u /* the stage's optimizer stopped early */
#define HP__RUN_ID_CHARS 32

typedef struct hp__checkpoint {
    char run_id[HP__RUN_ID_CHARS + 1];
    char *config;              /* resolved pipeline text */
    uint64_t iteration;        /* optimizer steps since the start of the run */
    uint64_t stage;            /* the stage the steps below belong to */
    uint64_t stage_iteration;  /* steps taken within it */
    uint64_t flags;            /* HP__CHECKPOINT_FLAG_* */
    uint64_t history_bytes;    /* length of history.csv at this point */
    uint64_t history_hash;     /* FNV-1a of those bytes */
    double elapsed_seconds;
    double best_value;         /* lowest Ĵ seen in this stage (divergence guard) */
    size_t n_theta;
    double *theta;
    char optimizer[64];        /* plugin of the saved state, "" if none */
    size_t optimizer_bytes;
    unsigned char *optimizer_state;
    size_t n_points;           /* the current collocation set, when it is resampled */
    size_t dim;
    double *points;            /* n_points x dim */
    double *weights;           /* n_points */
} hp__checkpoint;

/* Write dir/checkpoint.bin, keeping the previous one as checkpoint.prev.bin. */
hp_status hp__checkpoint_write(const char *dir, const hp__checkpoint *ck);

/* Read and check dir/name (HP__CHECKPOINT_FILE or HP__CHECKPOINT_PREVIOUS_FILE).
 * `expected_n_theta` (0: any) must match. A missing file is HP_ERR_NOT_FOUND; any
 * other refusal HP_ERR_CORRUPT naming the file. Release with hp__checkpoint_clear. */
hp_status hp__checkpoint_read(const char *dir, const char *name, size_t expected_n_theta, hp__checkpoint *out);

void hp__checkpoint_clear(hp__checkpoint *ck);

#endif
