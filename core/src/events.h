/* events.h (private) — events.jsonl, the machine-readable log of a run beside
 * history.csv: one JSON object per line, one line per history row (the row's
 * columns under the same names and with the same values) and per event (run
 * start, resume, stage start and end, resampling, fallback, checkpoint,
 * interrupt, divergence, warning, finish). Every line is written whole and
 * flushed at once, so `tail -f` or a monitor polling the file sees complete
 * lines only.
 *
 * Consistency with history.csv across a resume (the rule the trainer follows):
 * a `checkpoint` event carrying the checkpoint's iteration and history length is
 * written (and synced) before the checkpoint itself, so every checkpoint has its
 * line. Resuming from a checkpoint cuts events.jsonl after the LAST `checkpoint`
 * line with that iteration and history length — exactly the events of the rows
 * the checkpoint covers, as history.csv is cut to them — and goes on with a
 * `resume` event. A file without that line (deleted, edited, or older than the
 * checkpoint) is kept as it is, the `resume` event then says
 * "events_consistent": false. */
#ifndef HPINN_EVENTS_H
#define HPINN_EVENTS_H

#include <stdint.h>
#include <stdio.h>

#include "hpinn/status.h"
#include "hybrid.h"

#define HP__EVENTS_FILE "events.jsonl"

typedef struct hp__events {
    FILE *f;           /* the file; NULL: closed (every call is then a no-op) */
    char *path;
    FILE *line;        /* the line being built (memory stream) */
    char *text;
    size_t len;
    int fields;        /* fields in the current line */
} hp__events;

/* Open dir/events.jsonl. Fresh: truncated. Resume: cut as described above for
 * the checkpoint at (iteration, history_bytes); *consistent is 1 when the
 * checkpoint's line was found (0: the file was kept or is new). */
hp_status hp__events_open(hp__events *e, const char *dir, int resume, uint64_t iteration, uint64_t history_bytes,
                          int *consistent);
/* fsync (before a checkpoint that points past the lines written). */
hp_status hp__events_sync(hp__events *e);
hp_status hp__events_close(hp__events *e);

/* One line: begin (with "event", "time" — Unix seconds — and "elapsed", the run's
 * seconds including earlier sessions), fields, end (written and flushed). */
void hp__events_begin(hp__events *e, const char *event, double elapsed);
void hp__events_str(hp__events *e, const char *key, const char *value);  /* NULL: null */
void hp__events_num(hp__events *e, const char *key, double value);       /* %.17g; non-finite: null */
void hp__events_fixed(hp__events *e, const char *key, double value, int decimals);
void hp__events_u64(hp__events *e, const char *key, uint64_t value);
void hp__events_bool(hp__events *e, const char *key, int value);
/* `json` is written as it is (an array or object the caller formatted). */
void hp__events_raw(hp__events *e, const char *key, const char *json);
hp_status hp__events_end(hp__events *e);

/* ---- the events the trainer writes (field names: docs/user-guide.md) ---------------- */

typedef struct hp__events_stage {
    const char *name, *optimizer, *optimizer_version;
    uint64_t iterations;
    double tau1, tau2;
} hp__events_stage;

typedef struct hp__events_run {
    const char *run_id, *config_source, *resolved_config;
    size_t parameters;
    uint64_t planned_iterations;
    const hp__events_stage *stages;
    size_t n_stages;
    const char *init_from, *init_from_run_id; /* init_from NULL: none */
    uint64_t init_from_iteration;
} hp__events_run;

hp_status hp__events_run_start(hp__events *e, double elapsed, const hp__events_run *r);
/* stage_start (stop unused) or stage_end (steps taken in the stage, the optimizer's stop or NULL). */
hp_status hp__events_stage_start(hp__events *e, double elapsed, uint64_t iteration, size_t stage,
                                 const hp__events_stage *s);
hp_status hp__events_stage_end(hp__events *e, double elapsed, uint64_t iteration, size_t stage,
                               const hp__events_stage *s, uint64_t steps, const char *stop);
/* A history row: its columns' names (history.csv's header) and the values
 * history.csv holds (seconds with 3 decimals, the rest with 17 digits). */
hp_status hp__events_row(hp__events *e, uint64_t iteration, double seconds, const hp__hybrid_terms *terms,
                         double j_hat, double rel_l2, double fine_residual, uint64_t fallback_steps, size_t stage);
/* Written before the checkpoint itself (see above). */
hp_status hp__events_checkpoint(hp__events *e, double elapsed, uint64_t iteration, uint64_t history_bytes,
                                size_t stage, uint64_t stage_step);

#endif
