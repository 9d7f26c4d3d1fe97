/* trainer_display.h (private) — what a training run shows while it runs: one
 * plain line per history row (logs, pipes), or one line redrawn in place on a
 * terminal, and the messages between them. */
#ifndef HPINN_TRAINER_DISPLAY_H
#define HPINN_TRAINER_DISPLAY_H

#include <stdint.h>
#include <stdio.h>

#include "hybrid.h"
#include "trainer.h"

typedef struct hp__trainer_display {
    const hp__hybrid *h;
    FILE *log;
    hp__trainer_progress mode;
    int drawn;                 /* a terminal line is on screen */
    double last_draw;          /* session seconds of the last redraw */
    uint64_t fallback_since_row;
    int have_row;
    double row_rel_l2;
    uint64_t row_iteration;
} hp__trainer_display;

hp_status hp__trainer_display_init(hp__trainer_display *d, const hp__hybrid *h, FILE *log, hp__trainer_progress mode);
void hp__trainer_display_free(hp__trainer_display *d);
/* A message on its own line (ends an in-place line first). */
void hp__trainer_display_log(hp__trainer_display *d, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A history row was written (resets fallback_since_row). */
void hp__trainer_display_row(hp__trainer_display *d, uint64_t g, uint64_t planned, size_t stage, double elapsed,
                             double value, const hp__hybrid_terms *terms, const hp__hybrid_validation *val,
                             double session_seconds, uint64_t session_steps);
/* Redraw the terminal line (at most every 0.1 s unless forced). */
void hp__trainer_display_draw(hp__trainer_display *d, size_t stage, size_t n_stages, uint64_t g, uint64_t planned,
                              uint64_t it, uint64_t iters, double value, double session_seconds,
                              uint64_t session_steps, int force);
/* End an in-place line. */
void hp__trainer_display_end(hp__trainer_display *d);

#endif
