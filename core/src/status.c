/* status.c — the per-thread error message and trace behind hp_status.
 *
 * The message is what the user reads; the trace records the frames an error
 * passed through on its way out (HP_CALL), shown by the CLI with --verbose and
 * always for internal failures. Both live in thread-local fixed buffers so that
 * reporting an error never allocates (it may be reporting an allocation failure). */
#include "hpinn/status.h"

#include <string.h>

#define HP__MESSAGE_SIZE 4096
#define HP__TRACE_SIZE 4096

static _Thread_local char hp__message[HP__MESSAGE_SIZE];
static _Thread_local char hp__trace[HP__TRACE_SIZE];

const char *hp_status_name(hp_status s) {
    switch (s) {
    case HP_OK: return "ok";
    case HP_ERR_CONFIG: return "config error";
    case HP_ERR_USAGE: return "usage error";
    case HP_ERR_NOT_FOUND: return "not found";
    case HP_ERR_PLUGIN: return "plugin error";
    case HP_ERR_IO: return "i/o error";
    case HP_ERR_NOMEM: return "out of memory";
    case HP_ERR_NUMERIC: return "numerical error";
    case HP_ERR_INTERNAL: return "internal error";
    case HP_ERR_CORRUPT: return "corrupt data";
    }
    return "unknown status";
}

int hp_status_is_user_error(hp_status s) {
    return s == HP_ERR_CONFIG || s == HP_ERR_USAGE || s == HP_ERR_NOT_FOUND;
}

hp_status hp_error_setv(hp_status s, const char *file, int line, const char *func,
                        const char *fmt, va_list ap) {
    vsnprintf(hp__message, sizeof hp__message, fmt, ap);
    hp__trace[0] = '\0';
    hp_error_push_frame(file, line, func);
    return s;
}

hp_status hp_error_set(hp_status s, const char *file, int line, const char *func,
                       const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hp_error_setv(s, file, line, func, fmt, ap);
    va_end(ap);
    return s;
}

void hp_error_push_frame(const char *file, int line, const char *func) {
    size_t used = strlen(hp__trace);
    if (used + 1 >= sizeof hp__trace) return;
    const char *base = strrchr(file, '/');
    snprintf(hp__trace + used, sizeof hp__trace - used, "  at %s (%s:%d)\n", func,
             base ? base + 1 : file, line);
}

const char *hp_error_message(void) { return hp__message; }
const char *hp_error_trace(void) { return hp__trace; }

void hp_error_clear(void) {
    hp__message[0] = '\0';
    hp__trace[0] = '\0';
}

hp_status hp_malloc(size_t size, void *out_ptr) {
    void *p = malloc(size ? size : 1);
    if (!p) HP_ERROR(HP_ERR_NOMEM, "out of memory allocating %zu bytes", size);
    *(void **)out_ptr = p;
    return HP_OK;
}

hp_status hp_calloc(size_t count, size_t size, void *out_ptr) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) HP_ERROR(HP_ERR_NOMEM, "out of memory allocating %zu x %zu bytes", count, size);
    *(void **)out_ptr = p;
    return HP_OK;
}
