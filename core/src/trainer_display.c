/* trainer_display.c — the progress lines of a training run (trainer_display.h). */
#include "trainer_display.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fileio.h"

hp_status hp__trainer_display_init(hp__trainer_display *d, const hp__hybrid *h, FILE *log, hp__trainer_progress mode) {
    memset(d, 0, sizeof *d);
    d->h = h;
    d->log = log;
    d->mode = mode;
    d->row_rel_l2 = NAN;
    return HP_OK;
}

void hp__trainer_display_free(hp__trainer_display *d) { memset(d, 0, sizeof *d); }

void hp__trainer_display_end(hp__trainer_display *d) {
    if (d->drawn && d->log) {
        fputc('\n', d->log);
        fflush(d->log);
    }
    d->drawn = 0;
}

void hp__trainer_display_log(hp__trainer_display *d, const char *fmt, ...) {
    if (!d->log) return;
    hp__trainer_display_end(d);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->log, fmt, ap);
    va_end(ap);
    fputc('\n', d->log);
    fflush(d->log);
}

int hp__trainer_display_columns(FILE *f) {
    struct winsize ws;
    if (f && ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *env = getenv("COLUMNS");
    long c = env ? strtol(env, NULL, 10) : 0;
    return c > 0 && c < 10000 ? (int)c : 80;
}

size_t hp__trainer_display_fit(const hp__display_field *fields, size_t n, int width, char *out, size_t size) {
    int keep[64];
    size_t total = 0, count = 0;
    if (n > 64) n = 64;
    for (size_t i = 0; i < n; i++) {
        keep[i] = fields[i].text && fields[i].text[0];
        if (keep[i]) total += strlen(fields[i].text) + (count++ ? 1 : 0);
    }
    while (total > (size_t)width) { /* drop the least important field (the later one of equals) */
        size_t worst = n;
        for (size_t i = 0; i < n; i++)
            if (keep[i] && fields[i].priority < HP__DISPLAY_KEEP &&
                (worst == n || fields[i].priority <= fields[worst].priority))
                worst = i;
        if (worst == n) break;
        keep[worst] = 0;
        total -= strlen(fields[worst].text) + (--count ? 1 : 0);
    }
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < size; i++) {
        if (!keep[i]) continue;
        used += (size_t)snprintf(out + used, size - used, "%s%s", used ? " " : "", fields[i].text);
        if (used >= size) used = size - 1;
    }
    if (width >= 0 && used > (size_t)width && (size_t)width < size) {
        out[width] = '\0';
        used = (size_t)width;
    }
    return used;
}

void hp__trainer_display_eta_text(double seconds, int estimated, int compact, char *buf, size_t size) {
    const char *mark = estimated ? "~" : "";
    if (!isfinite(seconds) || seconds < 0) {
        snprintf(buf, size, "ETA %s", compact ? "--:--" : "?");
        return;
    }
    long s = lround(seconds);
    long h = s / 3600, m = (s / 60) % 60, sec = s % 60;
    if (compact) {
        if (h) snprintf(buf, size, "ETA %s%ld:%02ld:%02ld", mark, h, m, sec);
        else snprintf(buf, size, "ETA %s%02ld:%02ld", mark, m, sec);
    } else {
        if (h) snprintf(buf, size, "ETA %s%ldh%02ldm", mark, h, m);
        else if (m) snprintf(buf, size, "ETA %s%ldm%02lds", mark, m, sec);
        else snprintf(buf, size, "ETA %s%lds", mark, sec);
    }
}

/* The first entries of K̃ as "a b c ..." into buf. */
static void ktilde_text(const hp__hybrid_terms *terms, size_t shown_max, const char *fmt, char *buf, size_t size) {
    size_t n_k = terms->n_blocks * (size_t)terms->dim * (size_t)terms->dim, used = 0;
    size_t shown = n_k < shown_max ? n_k : shown_max;
    buf[0] = '\0';
    for (size_t i = 0; i < shown && used < size - 32; i++) {
        used += (size_t)snprintf(buf + used, size - used, "%s", i ? " " : "");
        used += (size_t)snprintf(buf + used, size - used, fmt, terms->ktilde[i]);
    }
    if (n_k > shown) snprintf(buf + used, size - used, " ...");
}

void hp__trainer_display_row(hp__trainer_display *d, uint64_t g, uint64_t planned, size_t stage, double elapsed,
                             double value, const hp__hybrid_terms *terms, const hp__hybrid_validation *val,
                             double eta, int estimated) {
    d->fallback_since_row = 0;
    d->have_row = 1;
    d->row_rel_l2 = val->rel_l2;
    d->row_iteration = g;
    if (!d->log || d->mode != HP__PROGRESS_LINES) return;
    char k[256], e[48];
    ktilde_text(terms, 4, "%.6g", k, sizeof k);
    hp__trainer_display_eta_text(eta, estimated, 0, e, sizeof e);
    hp__trainer_display_log(d, "it %llu/%llu stage %zu  J=%.4e J_pinn=%.4e R=%.4e  rel_l2=%.4e  K~=[%s]%s  %.1fs %s",
                            (unsigned long long)g, (unsigned long long)planned, stage, value, terms->j_pinn,
                            terms->coupling, val->rel_l2, k, terms->fallback ? " fallback" : "", elapsed, e);
}

void hp__trainer_display_draw(hp__trainer_display *d, size_t stage, size_t n_stages, uint64_t g, uint64_t planned,
                              uint64_t it, uint64_t iters, double value, double session_seconds,
                              uint64_t session_steps, double eta, int estimated, int force) {
    if (!d->log || d->mode != HP__PROGRESS_TERMINAL) return;
    if (!force && d->drawn && session_seconds - d->last_draw < 0.1) return;
    d->last_draw = session_seconds;
    const hp__hybrid_terms *terms = hp__hybrid_last_terms(d->h);
    if (!isfinite(value)) value = terms->total;
    char f_stage[32], f_it[48], f_in[48], f_j[32], f_jp[32], f_r[32], f_err[64], f_k[128], f_ms[32], f_eta[48], kt[96];
    snprintf(f_stage, sizeof f_stage, "[%zu/%zu]", stage + 1, n_stages);
    snprintf(f_it, sizeof f_it, "it %llu/%llu", (unsigned long long)g, (unsigned long long)planned);
    snprintf(f_in, sizeof f_in, "(%llu/%llu)", (unsigned long long)it, (unsigned long long)iters);
    snprintf(f_j, sizeof f_j, "J %.3e", value);
    snprintf(f_jp, sizeof f_jp, "Jp %.3e", terms->j_pinn);
    snprintf(f_r, sizeof f_r, "R %.3e", terms->coupling);
    if (d->have_row) snprintf(f_err, sizeof f_err, "err %.3e@%llu", d->row_rel_l2, (unsigned long long)d->row_iteration);
    else snprintf(f_err, sizeof f_err, "err -");
    ktilde_text(terms, 2, "%.5g", kt, sizeof kt);
    snprintf(f_k, sizeof f_k, "K~ %s", kt);
    snprintf(f_ms, sizeof f_ms, "%.2fms/it", session_steps ? 1e3 * session_seconds / (double)session_steps : 0.0);
    hp__trainer_display_eta_text(eta, estimated, 1, f_eta, sizeof f_eta);
    const hp__display_field fields[] = {
        {f_stage, 50}, {f_it, HP__DISPLAY_KEEP}, {f_in, 20}, {f_j, 60},        {f_jp, 15},  {f_r, 10},
        {f_err, 40},   {f_k, 30},                {terms->fallback ? "FB" : "", 70}, {f_ms, 5}, {f_eta, HP__DISPLAY_KEEP}};
    char line[512];
    int width = hp__trainer_display_columns(d->log) - 1; /* the last column would wrap on some terminals */
    if (width < 1) width = 1;
    if (width > (int)sizeof line - 1) width = (int)sizeof line - 1;
    hp__trainer_display_fit(fields, sizeof fields / sizeof *fields, width, line, sizeof line);
    fprintf(d->log, "\r%s\033[K", line);
    fflush(d->log);
    d->drawn = 1;
}
