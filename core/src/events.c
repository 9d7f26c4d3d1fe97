/* events.c — events.jsonl (events.h): lines built in memory and written whole,
 * and the cut of the file on resume. */
#include "events.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "hpinn/hpinn.h"
#include "json_out.h"

/* The byte offset just past the last `checkpoint` line of (iteration, history
 * bytes) in text, or -1. The trainer writes these lines itself, with the
 * fields in the order searched for here. */
static long checkpoint_line_end(const char *text, size_t len, uint64_t iteration, uint64_t history_bytes) {
    char want_it[64], want_hb[64];
    snprintf(want_it, sizeof want_it, "\"iteration\": %" PRIu64 ",", iteration);
    snprintf(want_hb, sizeof want_hb, "\"history_bytes\": %" PRIu64 ",", history_bytes);
    long found = -1;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl) break; /* a partial last line (a crash mid-write) never counts */
        size_t end = (size_t)(nl - text) + 1;
        size_t n = end - pos;
        char *line = malloc(n + 1);
        if (!line) return found;
        memcpy(line, text + pos, n);
        line[n] = '\0';
        if (strncmp(line, "{\"event\": \"checkpoint\"", 22) == 0 && strstr(line, want_it) && strstr(line, want_hb))
            found = (long)end;
        free(line);
        pos = end;
    }
    return found;
}

/* The length of text without a partial last line. */
static size_t complete_lines(const char *text, size_t len) {
    while (len > 0 && text[len - 1] != '\n') len--;
    return len;
}

hp_status hp__events_open(hp__events *e, const char *dir, int resume, uint64_t iteration, uint64_t history_bytes,
                          int *consistent) {
    memset(e, 0, sizeof *e);
    *consistent = 0;
    char path[HP__PATH_MAX];
    HP_CALL(hp__path_join(path, sizeof path, dir, HP__EVENTS_FILE));
    e->path = strdup(path);
    if (!e->path) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    FILE *f = resume ? fopen(path, "r+b") : NULL;
    if (f) {
        char *text = NULL;
        size_t len = 0;
        if (fseek(f, 0, SEEK_END) == 0) {
            long size = ftell(f);
            if (size > 0 && (text = malloc((size_t)size)) != NULL) {
                rewind(f);
                len = fread(text, 1, (size_t)size, f);
            }
        }
        long cut = text ? checkpoint_line_end(text, len, iteration, history_bytes) : -1;
        *consistent = cut >= 0;
        size_t keep = cut >= 0 ? (size_t)cut : complete_lines(text ? text : "", len);
        free(text);
        if (ftruncate(fileno(f), (off_t)keep) != 0 || fseek(f, 0, SEEK_END) != 0) {
            int err = errno;
            fclose(f);
            HP_ERROR(HP_ERR_IO, "cannot truncate %s: %s", path, strerror(err));
        }
    } else {
        f = fopen(path, "wb");
        if (!f) HP_ERROR(HP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    setvbuf(f, NULL, _IONBF, 0); /* each line goes out in one write (hp__events_end) */
    e->f = f;
    return HP_OK;
}

hp_status hp__events_sync(hp__events *e) {
    if (!e->f) return HP_OK;
    if (fflush(e->f) != 0 || fsync(fileno(e->f)) != 0)
        HP_ERROR(HP_ERR_IO, "cannot write %s: %s", e->path, strerror(errno));
    return HP_OK;
}

hp_status hp__events_close(hp__events *e) {
    hp_status st = HP_OK;
    if (e->line) fclose(e->line);
    free(e->text);
    if (e->f && fclose(e->f) != 0) st = HP_ERROR_SET(HP_ERR_IO, "cannot write %s: %s", e->path, strerror(errno));
    free(e->path);
    memset(e, 0, sizeof *e);
    return st;
}

static void key(hp__events *e, const char *k) {
    fputs(e->fields++ ? ", " : "", e->line);
    hp__json_string(e->line, k);
    fputs(": ", e->line);
}

void hp__events_begin(hp__events *e, const char *event, double elapsed) {
    if (!e->f) return;
    if (e->line) fclose(e->line); /* an unfinished line is dropped */
    free(e->text);
    e->text = NULL;
    e->len = 0;
    e->fields = 0;
    e->line = open_memstream(&e->text, &e->len);
    if (!e->line) return;
    fputc('{', e->line);
    hp__events_str(e, "event", event);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    hp__events_fixed(e, "time", (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec, 3);
    hp__events_fixed(e, "elapsed", elapsed, 3);
}

void hp__events_str(hp__events *e, const char *k, const char *value) {
    if (!e->line) return;
    key(e, k);
    if (value) hp__json_string(e->line, value);
    else fputs("null", e->line);
}

void hp__events_num(hp__events *e, const char *k, double value) {
    if (!e->line) return;
    key(e, k);
    hp__json_number(e->line, value);
}

void hp__events_fixed(hp__events *e, const char *k, double value, int decimals) {
    if (!e->line) return;
    key(e, k);
    if (isfinite(value)) fprintf(e->line, "%.*f", decimals, value);
    else fputs("null", e->line);
}

void hp__events_u64(hp__events *e, const char *k, uint64_t value) {
    if (!e->line) return;
    key(e, k);
    fprintf(e->line, "%" PRIu64, value);
}

void hp__events_bool(hp__events *e, const char *k, int value) {
    if (!e->line) return;
    key(e, k);
    fputs(value ? "true" : "false", e->line);
}

void hp__events_raw(hp__events *e, const char *k, const char *json) {
    if (!e->line) return;
    key(e, k);
    fputs(json, e->line);
}

hp_status hp__events_end(hp__events *e) {
    if (!e->f) return HP_OK;
    if (!e->line) HP_ERROR(HP_ERR_NOMEM, "out of memory writing %s", e->path);
    fputs("}\n", e->line);
    int bad = fclose(e->line) != 0;
    e->line = NULL;
    if (bad || !e->text) HP_ERROR(HP_ERR_NOMEM, "out of memory writing %s", e->path);
    /* one write per line: a reader following the file never sees half of one */
    if (fwrite(e->text, 1, e->len, e->f) != e->len || fflush(e->f) != 0)
        HP_ERROR(HP_ERR_IO, "cannot write %s: %s", e->path, strerror(errno));
    return HP_OK;
}

/* ---- the trainer's events ------------------------------------------------------------ */

hp_status hp__events_run_start(hp__events *e, double elapsed, const hp__events_run *r) {
    if (!e->f) return HP_OK;
    char *stages = NULL, *origin = NULL;
    size_t len = 0, olen = 0;
    FILE *m = open_memstream(&stages, &len), *o = open_memstream(&origin, &olen);
    if (!m || !o) {
        if (m) fclose(m);
        if (o) fclose(o);
        free(stages);
        free(origin);
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    fputc('[', m);
    for (size_t i = 0; i < r->n_stages; i++) {
        const hp__events_stage *s = &r->stages[i];
        fprintf(m, "%s{\"name\": ", i ? ", " : "");
        hp__json_string(m, s->name);
        fprintf(m, ", \"optimizer\": ");
        hp__json_string(m, s->optimizer);
        fprintf(m, ", \"iterations\": %" PRIu64 ", \"tau1\": ", s->iterations);
        hp__json_number(m, s->tau1);
        fprintf(m, ", \"tau2\": ");
        hp__json_number(m, s->tau2);
        fputc('}', m);
    }
    fputc(']', m);
    if (r->init_from) {
        fprintf(o, "{\"dir\": ");
        hp__json_string(o, r->init_from);
        fprintf(o, ", \"run_id\": ");
        hp__json_string(o, r->init_from_run_id);
        fprintf(o, ", \"iteration\": %" PRIu64 "}", r->init_from_iteration);
    } else {
        fputs("null", o);
    }
    int bad = fclose(m) != 0;
    bad |= fclose(o) != 0;
    if (!bad) {
        hp__events_begin(e, "run_start", elapsed);
        hp__events_str(e, "run_id", r->run_id);
        hp__events_str(e, "config", r->config_source);
        hp__events_str(e, "hpinn_version", hp_version());
        hp__events_u64(e, "parameters", r->parameters);
        hp__events_u64(e, "planned_iterations", r->planned_iterations);
        hp__events_raw(e, "stages", stages);
        hp__events_raw(e, "init_from", origin);
        hp__events_str(e, "resolved_config", r->resolved_config);
    }
    free(stages);
    free(origin);
    if (bad) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    return hp__events_end(e);
}

static void stage_fields(hp__events *e, uint64_t iteration, size_t stage, const hp__events_stage *s) {
    hp__events_u64(e, "iteration", iteration);
    hp__events_u64(e, "stage", stage);
    hp__events_str(e, "name", s->name);
    hp__events_str(e, "optimizer", s->optimizer);
}

hp_status hp__events_stage_start(hp__events *e, double elapsed, uint64_t iteration, size_t stage,
                                 const hp__events_stage *s) {
    hp__events_begin(e, "stage_start", elapsed);
    stage_fields(e, iteration, stage, s);
    hp__events_str(e, "optimizer_version", s->optimizer_version);
    hp__events_u64(e, "iterations", s->iterations);
    hp__events_num(e, "tau1", s->tau1);
    hp__events_num(e, "tau2", s->tau2);
    return hp__events_end(e);
}

hp_status hp__events_stage_end(hp__events *e, double elapsed, uint64_t iteration, size_t stage,
                               const hp__events_stage *s, uint64_t steps, const char *stop) {
    hp__events_begin(e, "stage_end", elapsed);
    stage_fields(e, iteration, stage, s);
    hp__events_u64(e, "steps", steps);
    hp__events_str(e, "stop", stop);
    return hp__events_end(e);
}

hp_status hp__events_row(hp__events *e, uint64_t iteration, double seconds, const hp__hybrid_terms *terms,
                         double j_hat, double rel_l2, double fine_residual, uint64_t fallback_steps, size_t stage) {
    hp__events_begin(e, "row", seconds);
    hp__events_u64(e, "iteration", iteration);
    hp__events_fixed(e, "seconds", seconds, 3);
    hp__events_num(e, "J_pinn", terms->j_pinn);
    hp__events_num(e, "boundary", terms->boundary);
    hp__events_num(e, "R", terms->coupling);
    hp__events_num(e, "J_hat", j_hat);
    hp__events_num(e, "rel_l2", rel_l2);
    hp__events_num(e, "fine_residual", fine_residual);
    size_t d = (size_t)terms->dim, n_k = terms->n_blocks * d * d;
    for (size_t i = 0; i < n_k; i++) {
        char name[96];
        snprintf(name, sizeof name, "k_%zu_%zu_%zu", i / (d * d), (i % (d * d)) / d, i % d);
        hp__events_num(e, name, terms->ktilde[i]);
    }
    hp__events_u64(e, "fallback", (uint64_t)terms->fallback);
    hp__events_u64(e, "fallback_steps", fallback_steps);
    hp__events_u64(e, "stage", stage);
    return hp__events_end(e);
}

hp_status hp__events_checkpoint(hp__events *e, double elapsed, uint64_t iteration, uint64_t history_bytes,
                                size_t stage, uint64_t stage_step) {
    /* "iteration" and "history_bytes" first, each followed by a comma: checkpoint_line_end finds them so */
    hp__events_begin(e, "checkpoint", elapsed);
    hp__events_u64(e, "iteration", iteration);
    hp__events_u64(e, "history_bytes", history_bytes);
    hp__events_u64(e, "stage", stage);
    hp__events_u64(e, "stage_step", stage_step);
    hp__events_str(e, "file", "checkpoint.bin");
    return hp__events_end(e);
}
