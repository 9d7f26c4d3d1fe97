/* trainer.h (private) — runs the `stages:` of a pipeline on the hybrid objective:
 * one optimizer per stage with its iteration count and τ1/τ2 overrides, a row of
 * history.csv every output.log_every iterations (and at the first and the last),
 * a progress display, checkpoints every output.checkpoint_every iterations and at
 * the end, a clean stop on a non-finite loss or θ, and resumption from the last
 * checkpoint that reproduces the uninterrupted history exactly (all columns but
 * `seconds`).
 *
 * Files in the run directory: history.csv, checkpoint.bin (see checkpoint.h).
 * The caller (the `run` command) writes config.resolved.yaml before and the
 * fields and summary.json after (outputs.h). */
#ifndef HPINN_TRAINER_H
#define HPINN_TRAINER_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "hpinn/config.h"
#include "hpinn/optimizer.h"
#include "hpinn/registry.h"
#include "hpinn/status.h"
#include "objective.h"

#define HP_TRAINER_HISTORY_FILE "history.csv"
#define HP_TRAINER_CHECKPOINT_FILE "checkpoint.bin"

typedef enum hp_trainer_progress {
    HP_PROGRESS_LINES = 0,  /* one plain line per history row (logs, pipes) */
    HP_PROGRESS_TERMINAL,   /* one line redrawn in place (stderr is a terminal) */
    HP_PROGRESS_QUIET       /* only stop messages */
} hp_trainer_progress;

typedef struct hp_trainer_options {
    const char *out_dir;              /* run directory; must exist */
    int resume;                       /* continue from out_dir/checkpoint.bin */
    FILE *log;                        /* progress and stop messages; NULL: none */
    hp_trainer_progress progress;
    /* When it becomes nonzero (e.g. from a SIGINT handler), the trainer writes a
     * checkpoint at the current iteration and returns with result->interrupted. */
    volatile sig_atomic_t *interrupt;
    /* For tests: */
    uint64_t crash_after;             /* > 0: return right after this iteration, writing
                                         nothing more (as if the process had died) */
    const hp_objective *objective;    /* NULL: hp_hybrid_objective(h); a test may wrap it */
} hp_trainer_options;

#define HP_TRAINER_MAX_STAGES 64

typedef struct hp_trainer_stage_report {
    char name[64];
    char optimizer[32];
    char optimizer_version[32];
    uint64_t planned;        /* iterations: in the pipeline */
    int ran;                 /* 1 when this stage ran (part of it) in this session */
    char stop[320];          /* the optimizer's stop reason, "" when it ran to its count */
} hp_trainer_stage_report;

typedef struct hp_trainer_result {
    uint64_t iterations;     /* optimizer steps taken in total (across stages and resumes) */
    double seconds;          /* wall time of the run, including earlier sessions */
    double ms_per_iteration; /* of this session */
    int completed;           /* every stage ran (to its count or to an optimizer stop) */
    int interrupted;         /* stopped through options.interrupt; a checkpoint was written */
    int crashed;             /* stopped through options.crash_after */
    uint64_t fallback_steps; /* steps of this session whose K̃ was not positive definite */
    size_t n_stages;
    hp_trainer_stage_report stages[HP_TRAINER_MAX_STAGES];
    char stop_reason[512];   /* "completed", or why the run ended */
} hp_trainer_result;

/* Train. theta (hp_hybrid_n_params(h)) holds the initial parameters (fresh run)
 * and receives the final ones; on resume it is overwritten from the checkpoint.
 * A non-finite loss or θ is HP_ERR_NUMERIC (no checkpoint of the bad state is
 * written; the last good one stays). */
hp_status hp_train(const hp_config *config, const hp_registry *registry, hp_hybrid *h, double *theta,
                   const hp_trainer_options *options, hp_trainer_result *result);

/* Number of stages and the resolved parameters of stage i (its `optimizer:` key
 * excluded) — shared with `run` for checks and summaries. */
hp_status hp_trainer_stage_params(const hp_config *config, const hp_registry *registry, size_t i,
                                  hp_params **out);

#endif
