/* trainer_display.h (private) — what a training run shows while it runs: one
 * plain line per history row (logs, pipes), or one line redrawn in place on a
 * terminal, and the messages between them.
 *
 * The terminal line fits the terminal's width (TIOCGWINSZ on the log's file
 * descriptor; else $COLUMNS; else 80 columns) minus one, so it never wraps: it
 * drops its least important fields first (ms/it, R, J_pinn, the in-stage
 * count, K̃, err, J, the stage), keeps the iteration and the ETA, and is cut at
 * the width only when even those do not fit. `err` is the relative error of the
 * last history row and says which iteration that was ("err 3.6e-01@4200"). The
 * plain lines carry no carriage returns and no padding. */
#ifndef HPINN_TRAINER_DISPLAY_H
#define HPINN_TRAINER_DISPLAY_H

#include <stddef.h>
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
/* A history row was written (resets fallback_since_row). eta: seconds left (NAN:
 * unknown), estimated: not all of it measured (trainer_eta.h). */
void hp__trainer_display_row(hp__trainer_display *d, uint64_t g, uint64_t planned, size_t stage, double elapsed,
                             double value, const hp__hybrid_terms *terms, const hp__hybrid_validation *val,
                             double eta, int estimated);
/* Redraw the terminal line (at most every 0.1 s unless forced). */
void hp__trainer_display_draw(hp__trainer_display *d, size_t stage, size_t n_stages, uint64_t g, uint64_t planned,
                              uint64_t it, uint64_t iters, double value, double session_seconds,
                              uint64_t session_steps, double eta, int estimated, int force);
/* End an in-place line. */
void hp__trainer_display_end(hp__trainer_display *d);

/* The width the terminal line may use: the columns of the terminal `f` writes
 * to, else $COLUMNS, else 80. */
int hp__trainer_display_columns(FILE *f);

/* Fields of a line, joined by single spaces: the lowest priority goes first
 * until the line is at most `width` characters; fields of priority
 * HP__DISPLAY_KEEP stay, and the line is cut at `width` if they are still too
 * long. Returns the length written to out (NUL-terminated, size > width). */
#define HP__DISPLAY_KEEP 100
typedef struct hp__display_field {
    const char *text;
    int priority;
} hp__display_field;
size_t hp__trainer_display_fit(const hp__display_field *fields, size_t n, int width, char *out, size_t size);

/* "ETA 01:23", "ETA ~1:02:03" (estimated), "ETA --:--" (unknown). */
void hp__trainer_display_eta_text(double seconds, int estimated, int compact, char *buf, size_t size);

#endif
