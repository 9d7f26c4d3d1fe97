/* hpinn/status.h — the one status type every fallible hpinn function returns,
 * the per-thread error message that goes with it, and the call macros that
 * propagate an error outward while recording where it passed.
 *
 * Library code never exits: it sets a message and returns a status. Only the
 * CLI decides what a status means for the process (exit 2 for user errors,
 * 1 for everything else). */
#ifndef HPINN_STATUS_H
#define HPINN_STATUS_H

#include "hpinn/export.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

HP_BEGIN_API

typedef enum hp_status {
    HP_OK = 0,
    /* user errors: the input is wrong, the user can fix it (CLI exit 2) */
    HP_ERR_CONFIG = 1,     /* bad configuration: syntax, key, type, range */
    HP_ERR_USAGE = 2,      /* bad command-line arguments */
    HP_ERR_NOT_FOUND = 3,  /* unknown plugin name, missing file named by the user */
    /* failures: the program or its environment is at fault (CLI exit 1) */
    HP_ERR_PLUGIN = 10,    /* a plugin file that cannot be loaded (ABI, symbol) */
    HP_ERR_IO = 11,        /* a file could not be read or written */
    HP_ERR_NOMEM = 12,     /* allocation failed */
    HP_ERR_NUMERIC = 13,   /* non-finite value, singular or indefinite matrix */
    HP_ERR_INTERNAL = 14,  /* broken invariant or unsupported operation */
    HP_ERR_CORRUPT = 15    /* a checkpoint or data file that fails its checks */
} hp_status;

/* Short name of a status ("config error", ...). Never NULL. */
const char *hp_status_name(hp_status s);

/* Nonzero when the status is the user's to fix (maps to CLI exit code 2). */
int hp_status_is_user_error(hp_status s);

/* Replace the calling thread's error message and return s. fmt is printf-like.
 * Use the HP_ERROR macro to get file/line/function recorded. */
hp_status hp_error_set(hp_status s, const char *file, int line, const char *func,
                       const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
hp_status hp_error_setv(hp_status s, const char *file, int line, const char *func,
                        const char *fmt, va_list ap);

/* Append one "  at func (file:line)" frame to the trace of the current error. */
void hp_error_push_frame(const char *file, int line, const char *func);

/* The calling thread's last message (without trace), "" when none. */
const char *hp_error_message(void);
/* The trace of frames the error passed through, one per line; "" when none. */
const char *hp_error_trace(void);
/* Clear message and trace. */
void hp_error_clear(void);

/* Set an error here and return it from the current function. */
#define HP_ERROR(status, ...) \
    return hp_error_set((status), __FILE__, __LINE__, __func__, __VA_ARGS__)

/* Set an error without returning (for goto-cleanup paths). */
#define HP_ERROR_SET(status, ...) \
    hp_error_set((status), __FILE__, __LINE__, __func__, __VA_ARGS__)

/* Call a fallible expression; on failure record this frame and return its status. */
#define HP_CALL(expr)                                               \
    do {                                                            \
        hp_status hp__call_st = (expr);                             \
        if (hp__call_st != HP_OK) {                                 \
            hp_error_push_frame(__FILE__, __LINE__, __func__);      \
            return hp__call_st;                                     \
        }                                                           \
    } while (0)

/* Same, but store the status in `st` and jump to `label` (cleanup paths). */
#define HP_CALL_GOTO(st, expr, label)                               \
    do {                                                            \
        (st) = (expr);                                              \
        if ((st) != HP_OK) {                                        \
            hp_error_push_frame(__FILE__, __LINE__, __func__);      \
            goto label;                                             \
        }                                                           \
    } while (0)

/* Internal invariant: a violated one is a bug in hpinn, so abort loudly. */
#define HP_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "hpinn: internal assertion failed: %s (%s:%d, %s)\n", \
                    #cond, __FILE__, __LINE__, __func__);                      \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Allocation helpers that set HP_ERR_NOMEM with the size on failure. */
hp_status hp_malloc(size_t size, void *out_ptr);
hp_status hp_calloc(size_t count, size_t size, void *out_ptr);

HP_END_API
#endif
