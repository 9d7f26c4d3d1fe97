/* optimizer.c — what optimizer plugins share: names of stop reasons, filling a
 * step report, and the checked byte format of a saved optimizer state.
 *
 * The state format exists so that a checkpoint written by one optimizer (or an
 * older version of it, or for another parameter count) is refused with a message
 * saying which, instead of being read as garbage: header fields are compared and a
 * checksum covers the payload before any optimizer state is overwritten. */
#include "checksum.h"
#include "hpinn/optimizer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *hp_opt_stop_name(hp_opt_stop s) {
    switch (s) {
    case HP_OPT_CONTINUE: return "continue";
    case HP_OPT_CONVERGED_GRADIENT: return "converged (gradient tolerance)";
    case HP_OPT_CONVERGED_STEP: return "converged (step tolerance)";
    case HP_OPT_CONVERGED_VALUE: return "converged (function-change tolerance)";
    case HP_OPT_LINE_SEARCH_FAILED: return "line search failed";
    case HP_OPT_NON_FINITE: return "non-finite value";
    case HP_OPT_MAX_EVALUATIONS: return "evaluation budget exhausted";
    case HP_OPT_DAMPING_LIMIT: return "damping limit reached";
    case HP_OPT_INNER_BREAKDOWN: return "inner solve broke down";
    }
    return "unknown stop reason";
}

int hp_opt_stop_is_converged(hp_opt_stop s) {
    return s == HP_OPT_CONVERGED_GRADIENT || s == HP_OPT_CONVERGED_STEP ||
           s == HP_OPT_CONVERGED_VALUE;
}

void hp_opt_info_init(hp_opt_step_info *info) {
    info->value = NAN;
    info->grad_norm = NAN;
    info->step_norm = 0.0;
    info->step_size = NAN;
    info->damping = NAN;
    info->evaluations = 0;
    info->stop = HP_OPT_CONTINUE;
    info->message[0] = '\0';
    info->inner_iterations = 0;
    info->products = 0;
}

void hp_opt_info_stop(hp_opt_step_info *info, hp_opt_stop stop, const char *fmt, ...) {
    va_list ap;
    info->stop = stop;
    va_start(ap, fmt);
    vsnprintf(info->message, sizeof info->message, fmt, ap);
    va_end(ap);
}

/* ---- saved state ------------------------------------------------------------ */

#define HP__STATE_MAGIC 0x534f5048u /* "HPOS" read as little-endian u32 */

size_t hp_opt_state_bytes(size_t payload) { return HP_OPT_STATE_HEADER_SIZE + payload; }

/* Every integer and double of a saved state is little-endian, byte by byte, so
 * a state (and the checkpoint holding it) means the same on any machine. */
static void le_put(unsigned char *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t le_get(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

void hp_opt_state_write_begin(hp_opt_state_writer *w, void *buf, const char *kind,
                              uint32_t version, uint64_t n, size_t payload) {
    unsigned char *b = buf;
    char tag[HP_OPT_STATE_KIND_MAX] = {0};
    for (size_t i = 0; i < sizeof tag && kind[i]; ++i) tag[i] = kind[i];
    le_put(b + 0, HP__STATE_MAGIC, 4);
    le_put(b + 4, version, 4);
    memcpy(b + 8, tag, 8);
    le_put(b + 16, n, 8);
    le_put(b + 24, payload, 8);
    le_put(b + 32, 0, 8);
    w->buf = b;
    w->pos = HP_OPT_STATE_HEADER_SIZE;
    w->size = HP_OPT_STATE_HEADER_SIZE + payload;
}

void hp_opt_state_put(hp_opt_state_writer *w, const void *data, size_t bytes) {
    /* Overrunning is a bug in the plugin's size computation: refuse to write past
     * the buffer and let write_end report it. */
    if (bytes > w->size - w->pos) {
        w->pos = w->size + 1;
        return;
    }
    if (bytes) memcpy(w->buf + w->pos, data, bytes);
    w->pos += bytes;
}

hp_status hp_opt_state_write_end(hp_opt_state_writer *w) {
    if (w->pos != w->size)
        HP_ERROR(HP_ERR_INTERNAL,
                 "optimizer state: payload written does not match the %zu bytes declared "
                 "(%s)",
                 w->size - HP_OPT_STATE_HEADER_SIZE,
                 w->pos > w->size ? "overrun" : "short");
    le_put(w->buf + 32, hp__fnv1a64(w->buf + HP_OPT_STATE_HEADER_SIZE, w->size - HP_OPT_STATE_HEADER_SIZE), 8);
    return HP_OK;
}

hp_status hp_opt_state_read_begin(hp_opt_state_reader *r, const void *buf, size_t size,
                                  const char *kind, uint32_t version, uint64_t n,
                                  size_t payload) {
    const unsigned char *b = buf;
    uint32_t magic, ver;
    uint64_t n_saved, payload_saved, sum;
    char tag[HP_OPT_STATE_KIND_MAX + 1] = {0};
    char want[HP_OPT_STATE_KIND_MAX + 1] = {0};
    strncpy(want, kind, HP_OPT_STATE_KIND_MAX);

    if (!buf || size < HP_OPT_STATE_HEADER_SIZE)
        HP_ERROR(HP_ERR_CORRUPT,
                 "%s optimizer state: %zu bytes is shorter than the %u-byte header",
                 want, buf ? size : 0, HP_OPT_STATE_HEADER_SIZE);
    magic = (uint32_t)le_get(b + 0, 4);
    ver = (uint32_t)le_get(b + 4, 4);
    memcpy(tag, b + 8, 8);
    n_saved = le_get(b + 16, 8);
    payload_saved = le_get(b + 24, 8);
    sum = le_get(b + 32, 8);
    if (magic != HP__STATE_MAGIC)
        HP_ERROR(HP_ERR_CORRUPT,
                 "%s optimizer state: bad magic number 0x%08x (expected 0x%08x; not an "
                 "hpinn optimizer state)",
                 want, (unsigned)magic, HP__STATE_MAGIC);
    for (size_t i = 0; i < HP_OPT_STATE_KIND_MAX; ++i)
        if ((unsigned char)tag[i] >= 0x80 || (tag[i] && (tag[i] < 0x20))) tag[i] = '?';
    if (strncmp(tag, want, HP_OPT_STATE_KIND_MAX) != 0)
        HP_ERROR(HP_ERR_CORRUPT, "optimizer state was written by '%s', expected '%s'", tag,
                 want);
    if (ver != version)
        HP_ERROR(HP_ERR_CORRUPT, "%s optimizer state: format version %u, expected %u", want,
                 (unsigned)ver, (unsigned)version);
    if (n_saved != n)
        HP_ERROR(HP_ERR_CORRUPT,
                 "%s optimizer state: saved for %llu parameters, this optimizer has %llu",
                 want, (unsigned long long)n_saved, (unsigned long long)n);
    if (payload_saved != payload)
        HP_ERROR(HP_ERR_CORRUPT,
                 "%s optimizer state: payload of %llu bytes, expected %zu (different "
                 "optimizer parameters, e.g. history size?)",
                 want, (unsigned long long)payload_saved, payload);
    if (size != HP_OPT_STATE_HEADER_SIZE + payload)
        HP_ERROR(HP_ERR_CORRUPT, "%s optimizer state: buffer of %zu bytes, expected %zu",
                 want, size, (size_t)(HP_OPT_STATE_HEADER_SIZE + payload));
    if (hp__fnv1a64(b + HP_OPT_STATE_HEADER_SIZE, payload) != sum)
        HP_ERROR(HP_ERR_CORRUPT, "%s optimizer state: checksum mismatch (damaged data)",
                 want);
    r->buf = b;
    r->pos = HP_OPT_STATE_HEADER_SIZE;
    r->size = size;
    return HP_OK;
}

hp_status hp_opt_state_get(hp_opt_state_reader *r, void *data, size_t bytes) {
    if (bytes > r->size - r->pos)
        HP_ERROR(HP_ERR_CORRUPT, "optimizer state: %zu bytes wanted, %zu left", bytes,
                 r->size - r->pos);
    if (bytes) memcpy(data, r->buf + r->pos, bytes);
    r->pos += bytes;
    return HP_OK;
}

void hp_opt_state_put_u64(hp_opt_state_writer *w, uint64_t v) {
    unsigned char b[8];
    le_put(b, v, 8);
    hp_opt_state_put(w, b, 8);
}

void hp_opt_state_put_f64s(hp_opt_state_writer *w, const double *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        hp_opt_state_put_u64(w, u);
    }
}

hp_status hp_opt_state_get_u64(hp_opt_state_reader *r, uint64_t *v) {
    unsigned char b[8];
    HP_CALL(hp_opt_state_get(r, b, 8));
    *v = le_get(b, 8);
    return HP_OK;
}

hp_status hp_opt_state_get_f64s(hp_opt_state_reader *r, double *v, size_t n) {
    if (n > (r->size - r->pos) / 8)
        HP_ERROR(HP_ERR_CORRUPT, "optimizer state: %zu doubles wanted, %zu bytes left", n, r->size - r->pos);
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        HP_CALL(hp_opt_state_get_u64(r, &u));
        memcpy(&v[i], &u, 8);
    }
    return HP_OK;
}
