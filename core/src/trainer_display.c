/* trainer_display.c — the progress lines of a training run (trainer_display.h). */
#include "trainer_display.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

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
                             double session_seconds, uint64_t session_steps) {
    d->fallback_since_row = 0;
    d->have_row = 1;
    d->row_rel_l2 = val->rel_l2;
    d->row_iteration = g;
    if (!d->log || d->mode != HP__PROGRESS_LINES) return;
    char k[256];
    ktilde_text(terms, 4, "%.6g", k, sizeof k);
    double per = session_steps ? session_seconds / (double)session_steps : 0.0;
    double eta = per * (double)(planned > g ? planned - g : 0);
    hp__trainer_display_log(d, "it %llu/%llu stage %zu  J=%.4e J_pinn=%.4e R=%.4e  rel_l2=%.4e  K~=[%s]%s  %.1fs ETA %.0fs",
                            (unsigned long long)g, (unsigned long long)planned, stage, value, terms->j_pinn,
                            terms->coupling, val->rel_l2, k, terms->fallback ? " fallback" : "", elapsed, eta);
}

void hp__trainer_display_draw(hp__trainer_display *d, size_t stage, size_t n_stages, uint64_t g, uint64_t planned,
                              uint64_t it, uint64_t iters, double value, double session_seconds,
                              uint64_t session_steps, int force) {
    if (!d->log || d->mode != HP__PROGRESS_TERMINAL) return;
    if (!force && d->drawn && session_seconds - d->last_draw < 0.1) return;
    d->last_draw = session_seconds;
    double per = session_steps ? session_seconds / (double)session_steps : 0.0;
    double eta = per * (double)(planned > g ? planned - g : 0);
    const hp__hybrid_terms *terms = hp__hybrid_last_terms(d->h);
    if (!isfinite(value)) value = terms->total;
    char k[96];
    ktilde_text(terms, 2, "%.5g", k, sizeof k);
    fprintf(d->log,
            "\r[%zu/%zu] it %llu/%llu (%llu/%llu) J %.3e Jp %.3e R %.3e err %.3e K~ %s%s | %.2f ms/it ETA %02d:%02d\033[K",
            stage + 1, n_stages, (unsigned long long)g, (unsigned long long)planned, (unsigned long long)it,
            (unsigned long long)iters, value, terms->j_pinn, terms->coupling, d->have_row ? d->row_rel_l2 : NAN, k,
            terms->fallback ? " FB" : "", 1e3 * per, (int)(eta / 60), (int)fmod(eta, 60.0));
    fflush(d->log);
    d->drawn = 1;
}
