/* trainer.h (private) — runs the `stages:` of a pipeline on the hybrid objective:
 * one optimizer per stage with its iteration count and τ1/τ2 overrides, a row of
 * history.csv every output.log_every iterations (and at the first and the last),
 * a progress display, checkpoints every output.checkpoint_every iterations and at
 * the end, and resumption from the last checkpoint that reproduces the
 * uninterrupted history exactly (all columns but `seconds`).
 *
 * A run stops with HP_ERR_NUMERIC, keeping the last good checkpoint, when a loss
 * or θ is not finite, or when Ĵ rises above `divergence` times the lowest Ĵ of
 * the stage so far (the stage key `divergence`, default 1e6): such a run has not
 * "completed", and no checkpoint of the bad state is ever written.
 *
 * Creating a trainer validates everything and touches no file; on resume that
 * includes the checkpoint (its run id, the pipeline it was trained with, the
 * history it covers) and the optimizer state it holds. Only hp__trainer_run
 * writes: history.csv, events.jsonl (events.h) and checkpoint.bin (checkpoint.h)
 * in the run directory. */
#ifndef HPINN_TRAINER_H
#define HPINN_TRAINER_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "hpinn/config.h"
#include "hpinn/optimizer.h"
#include "hpinn/registry.h"
#include "hpinn/status.h"
#include "hybrid.h"

#define HP__TRAINER_HISTORY_FILE "history.csv"
#define HP__TRAINER_MAX_STAGES 64

typedef enum hp__trainer_progress {
    HP__PROGRESS_LINES = 0,  /* one plain line per history row (logs, pipes) */
    HP__PROGRESS_TERMINAL,   /* one line redrawn in place (stderr is a terminal) */
    HP__PROGRESS_QUIET       /* only stop messages */
} hp__trainer_progress;

typedef struct hp__trainer_options {
    const char *out_dir;               /* run directory; must exist */
    const char *run_id;                /* this run's id (run.json), checked against the checkpoint */
    const char *config_text;           /* the resolved pipeline being trained (hp_config_resolve) */
    const char *config_source;         /* the pipeline file it came from (events.jsonl run_start); may be NULL */
    /* --init-from: the run θ was taken from (NULL: none), for run_start */
    const char *init_from;
    const char *init_from_run_id;
    uint64_t init_from_iteration;
    int resume;                        /* continue from out_dir's checkpoint */
    FILE *log;                         /* progress and stop messages; NULL: none */
    hp__trainer_progress progress;
    /* When it becomes nonzero (e.g. from a SIGINT handler), the trainer writes a
     * checkpoint at the current iteration and returns with result->interrupted. */
    volatile sig_atomic_t *interrupt;
    /* Called after every step with the global iteration count; a nonzero return
     * abandons the run at once, writing nothing more (result->abandoned), as if the
     * process had died there. Monitors use it; the recovery tests kill runs with it. */
    int (*on_step)(void *ctx, uint64_t iteration);
    void *on_step_ctx;
    /* Called after every step with the run's seconds so far and the estimate of
     * the seconds left (trainer_eta.h; NAN: unknown, estimated: not all measured). */
    void (*on_progress)(void *ctx, uint64_t iteration, double elapsed, double remaining, int estimated);
    void *on_progress_ctx;
} hp__trainer_options;

typedef struct hp__trainer_stage_report {
    char name[64];
    char optimizer[32];
    char optimizer_version[32];
    uint64_t planned;        /* iterations: in the pipeline */
    int ran;                 /* 1 when this stage ran (part of it) in this session */
    char stop[320];          /* the optimizer's stop reason, "" when it ran to its count */
    uint64_t steps;          /* steps of this session */
    uint64_t inner_iterations; /* of these steps: inner (CG) iterations */
    uint64_t products;       /* and Jacobian products */
} hp__trainer_stage_report;

typedef struct hp__trainer_result {
    uint64_t iterations;     /* optimizer steps taken in total (across stages and resumes) */
    uint64_t session_iterations; /* of this session */
    double seconds;          /* wall time of the run, including earlier sessions */
    double session_seconds;  /* wall time of this session's training */
    int completed;           /* every stage ran (to its count or to an optimizer stop) */
    int interrupted;         /* stopped through options.interrupt; a checkpoint was written */
    int abandoned;           /* stopped through options.on_step */
    int diverged;            /* stopped on a non-finite or diverging value (HP_ERR_NUMERIC) */
    uint64_t fallback_steps; /* steps of this session whose K̃ was not positive definite */
    uint64_t resamples;      /* collocation sets drawn in this session */
    size_t n_stages;
    hp__trainer_stage_report stages[HP__TRAINER_MAX_STAGES];
    char stop_reason[512];   /* "completed", or why the run ended */
    /* the options' --init-from record, for the summary ("" when none) */
    char init_from[1024];
    char init_from_run_id[40];
    uint64_t init_from_iteration;
} hp__trainer_result;

typedef struct hp__trainer hp__trainer;

/* Plan the stages and, on resume, check and load the checkpoint into theta
 * (hp__hybrid_n_params(h) doubles; for a fresh run it holds the initial θ).
 * `objective` is what the optimizers step on: normally hp__hybrid_objective(h);
 * callers may wrap it (fault injection, counting). Nothing is written. */
hp_status hp__trainer_create(const hp_config *config, const hp_registry *registry, hp__hybrid *h,
                             const hp_objective *objective, double *theta, const hp__trainer_options *options,
                             hp__trainer **out);
/* Nonzero when a resumed run has nothing left to train (it completed and the
 * pipeline adds nothing). */
int hp__trainer_nothing_to_do(const hp__trainer *t);
/* Train; result filled also on failure. */
hp_status hp__trainer_run(hp__trainer *t, hp__trainer_result *result);
void hp__trainer_destroy(hp__trainer *t);

/* The run's events.jsonl, open from hp__trainer_run until destroy (NULL before),
 * for the caller's closing events (warnings, summary); and the run's seconds so
 * far (earlier sessions included) for their "elapsed". */
struct hp__events *hp__trainer_events(hp__trainer *t);
double hp__trainer_elapsed(const hp__trainer *t);

/* Number of stages and the resolved parameters of stage i (its `optimizer:` key
 * excluded) — shared with `run` for checks and summaries. */
hp_status hp__trainer_stage_params(const hp_config *config, size_t i, hp_params **out);

#endif
