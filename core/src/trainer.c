/* trainer.c — the stage loop of `hpinn run` (contract in trainer.h), in three
 * parts: the PLAN (every stage's optimizer, iterations and weights, read once;
 * the plan is the one owner of the stage overrides), the RESUME CHECKS (all of
 * them before a file is touched), and the RUN (begin a stage, then step with
 * the cadence of rows, checkpoints and the display).
 *
 * Why the history is exactly reproducible across a resume: a history row is
 * computed from θ alone (a value-only evaluation of Ĵ at θ plus the validation),
 * never from what an optimizer happened to evaluate last, and a checkpoint holds
 * everything a step depends on (θ, the optimizer's saved state, the counters,
 * the divergence guard's reference). Rows written after the last checkpoint are
 * cut off on resume (the checkpoint records the length and checksum of the
 * history it covers) and computed again.
 *
 * Why a checkpoint is always good: before one is written, Ĵ at θ is evaluated
 * (or taken from the row just computed at the same θ) and θ scanned, both
 * through the one guard that also stops a diverging run; a bad value stops the
 * run instead, so the previous checkpoint stays the last good one. */
#include "trainer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "checksum.h"
#include "collocation.h"
#include "comm.h"
#include "events.h"
#include "fileio.h"
#include "pipeline.h"
#include "resume_rules.h"
#include "trainer_display.h"
#include "trainer_eta.h"

hp_status hp__trainer_stage_params(const hp_config *c, size_t i, hp_params **out) {
    char path[64];
    snprintf(path, sizeof path, "stages[%zu]", i);
    HP_CALL(hp_config_section_except(c, path, hp__stage_params, "optimizer", out));
    return HP_OK;
}

/* ---- the plan ---------------------------------------------------------------------- */

typedef struct stage_plan {
    char name[64];
    const hp_plugin_descriptor *opt_desc;
    const hp_optimizer_ops *ops;
    hp_params *opt_params;
    uint64_t iterations;
    double tau1, tau2, tau3;  /* in force during the stage */
    double divergence;  /* stop when Ĵ > divergence * (lowest Ĵ of the stage); 0: never */
} stage_plan;

struct hp__trainer {
    const hp_config *config;
    const hp_registry *registry; /* the plugins' parameter tables, for the resume rules */
    hp__hybrid *h;
    hp_objective objective;
    double *theta;
    size_t n;
    const hp__trainer_options *o;
    hp__trainer_result *res;

    size_t n_stages;
    stage_plan *plan;
    int64_t log_every, checkpoint_every;
    uint64_t planned_total;

    /* position */
    size_t stage;              /* current stage */
    uint64_t it;               /* steps taken in it */
    int stage_stopped;         /* its optimizer stopped early */
    uint64_t g;                /* steps taken in total */
    double best;               /* lowest Ĵ of the current stage */
    void *opt;                 /* the current stage's optimizer */
    double elapsed0;           /* seconds of earlier sessions */
    double t0;                 /* start of this session (hp__now_seconds) */
    uint64_t g0;               /* g at the start of this session */

    /* resume */
    int resumed;
    uint64_t history_bytes, history_hash;

    FILE *history;
    char history_path[HP__PATH_MAX];
    hp__events events;         /* events.jsonl, open during and after run() */
    int stage_open;            /* the current stage's stage_start is in events.jsonl */
    int fallback_active;       /* the last step fell back (events: fallback on/off) */
    const char *resumed_from;  /* the checkpoint file a resume read */
    size_t resume_changes;     /* allowed pipeline changes of the resume */
    hp__trainer_display display;
    hp__eta *eta;              /* the remaining time; t->objective is its timed wrapper */
    hp__trainer_result plan_report; /* the stage reports the plan fills, until run() */
};

static double session_seconds(const hp__trainer *t) { return hp__now_seconds() - t->t0; }
static double elapsed(const hp__trainer *t) { return t->elapsed0 + session_seconds(t); }

static void plan_free(hp__trainer *t) {
    for (size_t i = 0; t->plan && i < t->n_stages; i++) hp_params_destroy(t->plan[i].opt_params);
    free(t->plan);
    t->plan = NULL;
}

/* HPINN_TEST_MAX_ITERATIONS=N cuts every stage to at most N steps: the hook
 * with which the docs test runs every command of the documentation quickly
 * (tests/test_docs.sh). Not for experiments: a cut run says so when it starts.
 * 0 when unset or not a positive number. */
static uint64_t test_iteration_cap(void) {
    const char *v = getenv("HPINN_TEST_MAX_ITERATIONS");
    char *end;
    unsigned long long n = v && *v ? strtoull(v, &end, 10) : 0;
    return v && *v && !*end ? (uint64_t)n : 0;
}

static hp_status plan_create(hp__trainer *t, const hp_registry *r) {
    const hp_config *c = t->config;
    uint64_t cap = test_iteration_cap();
    size_t n = hp_config_list_length(c, "stages");
    if (n == 0)
        HP_ERROR(HP_ERR_CONFIG, "%s: stages: missing; expected a list of training stages, e.g.\n"
                                "  stages:\n    - {iterations: 2000, optimizer: {plugin: adam, lr: 1e-3}}",
                 hp_config_file(c));
    if (n > HP__TRAINER_MAX_STAGES)
        HP_ERROR(HP_ERR_CONFIG, "%s: stages: %zu stages; at most %d are supported", hp_config_file(c), n,
                 HP__TRAINER_MAX_STAGES);
    hp_params *coupling = NULL;
    HP_CALL(hp_config_section(c, "coupling", hp__coupling_params, &coupling));
    double tau1 = hp_params_real(coupling, "tau1"), tau2 = hp_params_real(coupling, "tau2");
    double tau3 = hp_params_real(coupling, "tau3");
    hp_params_destroy(coupling);
    HP_CALL(hp_calloc(n, sizeof *t->plan, &t->plan));
    t->n_stages = n;
    t->planned_total = 0;
    for (size_t i = 0; i < n; i++) {
        stage_plan *s = &t->plan[i];
        hp_params *sp = NULL;
        char path[64];
        snprintf(path, sizeof path, "stages[%zu].optimizer", i);
        HP_CALL(hp__trainer_stage_params(c, i, &sp));
        hp_status st = hp_config_plugin_section(c, path, HP_PLUGIN_OPTIMIZER, hp__pipeline_section("stages")->default_plugin,
                                                r, &s->opt_desc, &s->opt_params);
        if (st != HP_OK) {
            hp_params_destroy(sp);
            return st;
        }
        s->ops = s->opt_desc->ops;
        s->iterations = (uint64_t)hp_params_int(sp, "iterations");
        if (cap && s->iterations > cap) s->iterations = cap;
        s->tau1 = hp_params_is_set(sp, "tau1") ? hp_params_real(sp, "tau1") : tau1;
        s->tau2 = hp_params_is_set(sp, "tau2") ? hp_params_real(sp, "tau2") : tau2;
        s->tau3 = hp_params_is_set(sp, "tau3") ? hp_params_real(sp, "tau3") : tau3;
        s->divergence = hp_params_real(sp, "divergence");
        if (hp_params_is_set(sp, "name")) snprintf(s->name, sizeof s->name, "%s", hp_params_string(sp, "name"));
        else snprintf(s->name, sizeof s->name, "stage %zu", i);
        hp_params_destroy(sp);
        t->planned_total += s->iterations;
        hp__trainer_stage_report *rep = &t->res->stages[i];
        snprintf(rep->name, sizeof rep->name, "%s", s->name);
        snprintf(rep->optimizer, sizeof rep->optimizer, "%s", s->opt_desc->name);
        snprintf(rep->optimizer_version, sizeof rep->optimizer_version, "%s", s->opt_desc->version);
        rep->planned = s->iterations;
    }
    t->res->n_stages = n;
    if (cap && t->o->log)
        fprintf(t->o->log, "hpinn: HPINN_TEST_MAX_ITERATIONS=%llu: every stage is cut to at most %llu iterations "
                           "(a testing hook; unset it for real runs)\n", (unsigned long long)cap,
                (unsigned long long)cap);
    return HP_OK;
}

/* The stage to run next from a position (stage, steps in it, stopped). */
static int stage_done(const hp__trainer *t) {
    return t->stage_stopped || t->it >= t->plan[t->stage].iterations;
}

/* A stage as events.jsonl describes it. */
static hp__events_stage event_stage(const hp__trainer *t, size_t i) {
    const stage_plan *s = &t->plan[i];
    hp__events_stage e = {s->name, s->opt_desc->name, s->opt_desc->version, s->iterations, s->tau1, s->tau2};
    return e;
}

/* ---- the resume checks --------------------------------------------------------------- */

/* FNV-1a of the first `bytes` of the history; HP_ERR_CORRUPT when it is shorter. */
static hp_status history_prefix_hash(const char *path, uint64_t bytes, uint64_t *hash) {
    FILE *f = fopen(path, "rb");
    if (!f) HP_ERROR(HP_ERR_CORRUPT, "cannot resume: %s is missing (%s)", path, strerror(errno));
    uint64_t h = HP__FNV1A64_BASIS, left = bytes;
    unsigned char buf[1 << 16];
    while (left) {
        size_t want = left < sizeof buf ? (size_t)left : sizeof buf, got = fread(buf, 1, want, f);
        if (got == 0) break;
        h = hp__fnv1a64_update(h, buf, got);
        left -= got;
    }
    fclose(f);
    if (left)
        HP_ERROR(HP_ERR_CORRUPT,
                 "cannot resume: %s has %llu bytes but the checkpoint covers %llu; the history was truncated or "
                 "replaced",
                 path, (unsigned long long)(bytes - left), (unsigned long long)bytes);
    *hash = h;
    return HP_OK;
}

/* Read checkpoint.bin, or checkpoint.prev.bin when the newest one is damaged. */
static hp_status read_checkpoint(hp__trainer *t, hp__checkpoint *ck) {
    const char *dir = t->o->out_dir;
    hp_status st = hp__checkpoint_read(dir, HP__CHECKPOINT_FILE, t->n, ck);
    t->resumed_from = HP__CHECKPOINT_FILE;
    if (st == HP_ERR_NOT_FOUND)
        HP_ERROR(HP_ERR_NOT_FOUND, "cannot resume %s: no checkpoint there (%s is missing); the run stopped before "
                                   "its first checkpoint (output.checkpoint_every)",
                 dir, HP__CHECKPOINT_FILE);
    if (st != HP_ERR_CORRUPT) return st;
    char why[1024];
    snprintf(why, sizeof why, "%s", hp_error_message());
    if (hp__checkpoint_read(dir, HP__CHECKPOINT_PREVIOUS_FILE, t->n, ck) != HP_OK) {
        hp_error_clear();
        HP_ERROR(HP_ERR_CORRUPT, "%s (and there is no good %s to fall back on)", why, HP__CHECKPOINT_PREVIOUS_FILE);
    }
    t->resumed_from = HP__CHECKPOINT_PREVIOUS_FILE;
    if (t->o->log)
        fprintf(t->o->log, "hpinn: %s; resuming from the one before it, %s (iteration %llu)\n", why,
                HP__CHECKPOINT_PREVIOUS_FILE, (unsigned long long)ck->iteration);
    return HP_OK;
}

/* Every check of a resume, in the order a user can act on; nothing is written. */
static hp_status resume_check(hp__trainer *t, hp__checkpoint *ck) {
    const char *dir = t->o->out_dir;
    HP_CALL(read_checkpoint(t, ck));
    if (!t->o->run_id || strcmp(ck->run_id, t->o->run_id) != 0)
        HP_ERROR(HP_ERR_CORRUPT,
                 "cannot resume %s: its checkpoint belongs to run %s, but the directory's run (run.json) is %s; "
                 "the checkpoint was copied from another run",
                 dir, ck->run_id, t->o->run_id ? t->o->run_id : "(none)");
    if (ck->stage >= t->n_stages)
        HP_ERROR(HP_ERR_CORRUPT, "cannot resume %s: the checkpoint is in stage %llu, the pipeline has %zu stages", dir,
                 (unsigned long long)ck->stage, t->n_stages);
    size_t changes = 0;
    hp__resume_position pos = {(size_t)ck->stage, ck->stage_iteration};
    HP_CALL(hp__resume_rules_check(ck->config, t->o->config_text, dir, pos, t->registry, &changes));
    uint64_t hash;
    HP_CALL(history_prefix_hash(t->history_path, ck->history_bytes, &hash));
    if (hash != ck->history_hash)
        HP_ERROR(HP_ERR_CORRUPT,
                 "cannot resume %s: %s does not match its checkpoint (the rows it covers were edited or come from "
                 "another run)",
                 dir, HP__TRAINER_HISTORY_FILE);
    const stage_plan *s = &t->plan[ck->stage];
    if (ck->optimizer[0] && strcmp(ck->optimizer, s->opt_desc->name) != 0)
        HP_ERROR(HP_ERR_CORRUPT, "cannot resume %s: the checkpoint holds the state of optimizer '%s' but stage %llu uses '%s'",
                 dir, ck->optimizer, (unsigned long long)ck->stage, s->opt_desc->name);
    t->stage = (size_t)ck->stage;
    t->it = ck->stage_iteration;
    t->stage_stopped = (ck->flags & HP__CHECKPOINT_FLAG_STAGE_FINISHED) != 0;
    if (!stage_done(t)) {
        /* the stage goes on: its optimizer must take the saved state */
        HP_CALL(s->ops->create(s->opt_params, t->n, &t->opt));
        if (ck->optimizer_bytes && HP_OP_PRESENT(s->ops, load)) {
            HP_CALL(s->ops->load(t->opt, ck->optimizer_state, ck->optimizer_bytes));
        } else if (t->it > 0 && HP_OP_PRESENT(s->ops, state_size)) {
            HP_ERROR(HP_ERR_CORRUPT, "cannot resume %s: the checkpoint has no optimizer state for stage %zu at step %llu",
                     dir, t->stage, (unsigned long long)t->it);
        } else if (t->it > 0 && t->o->log) {
            fprintf(t->o->log, "hpinn: note: optimizer '%s' cannot save its state; it restarts fresh after the resume\n",
                    s->opt_desc->name);
        }
    }
    if (ck->n_points) { /* the collocation set the run was on (resampled: not the first one) */
        const double *x, *w;
        size_t n;
        hp__hybrid_collocation(t->h, &x, &w, &n);
        if (ck->n_points != n || ck->dim != (size_t)hp__hybrid_dim(t->h))
            HP_ERROR(HP_ERR_CORRUPT, "cannot resume %s: the checkpoint holds %zu collocation points of dimension %zu, the "
                                     "pipeline has %zu of dimension %d", dir, ck->n_points, ck->dim, n, hp__hybrid_dim(t->h));
        HP_CALL(hp__hybrid_set_collocation(t->h, ck->points, ck->weights));
    }
    memcpy(t->theta, ck->theta, t->n * sizeof *t->theta);
    t->g = t->g0 = ck->iteration;
    t->elapsed0 = ck->elapsed_seconds;
    t->best = ck->best_value;
    t->history_bytes = ck->history_bytes;
    t->history_hash = ck->history_hash;
    t->resume_changes = changes;
    t->stage_open = 1; /* its stage_start precedes the checkpoint's line in events.jsonl */
    if (changes && t->o->log)
        fprintf(t->o->log, "hpinn: resuming with %zu allowed change%s to the pipeline (resume rules)\n", changes,
                changes == 1 ? "" : "s");
    return HP_OK;
}

hp_status hp__trainer_create(const hp_config *config, const hp_registry *registry, hp__hybrid *h,
                             const hp_objective *objective, double *theta, const hp__trainer_options *options,
                             hp__trainer **out) {
    *out = NULL;
    hp__trainer *t;
    HP_CALL(hp_calloc(1, sizeof *t, &t));
    t->res = &t->plan_report;
    t->config = config;
    t->registry = registry;
    t->h = h;
    t->objective = *objective;
    t->theta = theta;
    t->n = hp__hybrid_n_params(h);
    t->o = options;
    t->best = INFINITY;
    hp_status st = HP_OK;
    hp__checkpoint ck;
    memset(&ck, 0, sizeof ck);
    if (t->objective.n != t->n) {
        st = HP_ERROR_SET(HP_ERR_INTERNAL, "trainer: objective has %zu parameters, the hybrid %zu", t->objective.n, t->n);
        goto fail;
    }
    HP_CALL_GOTO(st, hp__path_join(t->history_path, sizeof t->history_path, options->out_dir,
                                   HP__TRAINER_HISTORY_FILE), fail);
    hp_params *outp = NULL;
    HP_CALL_GOTO(st, hp_config_section(config, "output", hp__output_params, &outp), fail);
    t->log_every = hp_params_int(outp, "log_every");
    t->checkpoint_every = hp_params_int(outp, "checkpoint_every");
    hp_params_destroy(outp);
    HP_CALL_GOTO(st, plan_create(t, registry), fail);
    hp__eta_stage es[HP__TRAINER_MAX_STAGES];
    for (size_t i = 0; i < t->n_stages; i++) {
        es[i] = (hp__eta_stage){t->plan[i].opt_desc->name, t->plan[i].ops, t->plan[i].opt_params, t->plan[i].iterations, 1, 0};
        hp__hybrid_row_structure(h, t->plan[i].tau2, &es[i].blocks, &es[i].shared_rows);
    }
    HP_CALL_GOTO(st, hp__eta_create(t->n_stages, es, objective, &t->eta), fail);
    t->objective = hp__eta_objective(t->eta);
    HP_CALL_GOTO(st, hp__trainer_display_init(&t->display, h, options->log, options->progress), fail);
    if (options->resume) {
        t->resumed = 1;
        HP_CALL_GOTO(st, resume_check(t, &ck), fail);
    }
    hp__checkpoint_clear(&ck);
    *out = t;
    return HP_OK;
fail:
    hp__checkpoint_clear(&ck);
    hp__trainer_destroy(t);
    return st;
}

void hp__trainer_destroy(hp__trainer *t) {
    if (!t) return;
    if (t->opt) t->plan[t->stage].ops->destroy(t->opt);
    if (t->history) fclose(t->history);
    (void)hp__events_close(&t->events);
    hp__trainer_display_free(&t->display);
    hp__eta_destroy(t->eta);
    plan_free(t);
    free(t);
}

struct hp__events *hp__trainer_events(hp__trainer *t) { return t->events.f ? &t->events : NULL; }
double hp__trainer_elapsed(const hp__trainer *t) { return elapsed(t); }

int hp__trainer_nothing_to_do(const hp__trainer *t) {
    return t->resumed && stage_done(t) && t->stage + 1 == t->n_stages;
}

/* Seconds left (trainer_eta.h), when anything shows them; NAN otherwise (no probes then). */
static double remaining(hp__trainer *t, int *estimated) {
    *estimated = 0;
    if (!t->o->on_progress && (!t->o->log || t->o->progress == HP__PROGRESS_QUIET)) return NAN;
    return hp__eta_remaining(t->eta, t->stage, t->it, t->theta, estimated);
}

/* ---- history ------------------------------------------------------------------------ */

/* Every byte of history.csv goes through here, so the checkpoint can record how
 * much of it it covers and its checksum. */
static hp_status history_put(hp__trainer *t, const char *text, size_t len) {
    if (fwrite(text, 1, len, t->history) != len || fflush(t->history) != 0)
        HP_ERROR(HP_ERR_IO, "cannot write %s: %s", t->history_path, strerror(errno));
    t->history_hash = hp__fnv1a64_update(t->history_hash, (const unsigned char *)text, len);
    t->history_bytes += len;
    return HP_OK;
}

static hp_status history_open(hp__trainer *t) {
    if (t->resumed) {
        FILE *f = fopen(t->history_path, "r+b");
        if (!f) HP_ERROR(HP_ERR_IO, "cannot open %s: %s", t->history_path, strerror(errno));
        if (ftruncate(fileno(f), (off_t)t->history_bytes) != 0 || fseek(f, 0, SEEK_END) != 0) {
            fclose(f);
            HP_ERROR(HP_ERR_IO, "cannot truncate %s: %s", t->history_path, strerror(errno));
        }
        t->history = f;
        return HP_OK;
    }
    t->history = fopen(t->history_path, "wb");
    if (!t->history) HP_ERROR(HP_ERR_IO, "cannot write %s: %s", t->history_path, strerror(errno));
    t->history_bytes = 0;
    t->history_hash = HP__FNV1A64_BASIS;
    char head[8192];
    size_t used = (size_t)snprintf(head, sizeof head, "iteration,seconds,J_pinn,boundary,R,J_hat,rel_l2,fine_residual");
    int d = hp__hybrid_dim(t->h);
    size_t nb = hp__hybrid_n_blocks(t->h);
    for (size_t b = 0; b < nb && used < sizeof head - 64; b++)
        for (int j = 0; j < d; j++)
            for (int i = 0; i < d; i++) used += (size_t)snprintf(head + used, sizeof head - used, ",k_%zu_%d_%d", b, j, i);
    /* A, the averaged residual, last and only when the run has it: older readers keep their columns */
    used += (size_t)snprintf(head + used, sizeof head - used, ",fallback,fallback_steps,stage%s\n",
                             hp__hybrid_averaged_on(t->h) ? ",A" : "");
    HP_CALL(history_put(t, head, used));
    return HP_OK;
}

/* ---- the guard: finite and not diverging ----------------------------------------- */

/* Stop the run: the message names the iteration, what went wrong and where the
 * last good checkpoint is. */
static hp_status numeric_stop(hp__trainer *t, const char *what, const char *advice) {
    char last[HP__PATH_MAX + 128] = "no checkpoint was written yet";
    hp__checkpoint ck;
    if (hp__checkpoint_read(t->o->out_dir, HP__CHECKPOINT_FILE, t->n, &ck) == HP_OK) {
        snprintf(last, sizeof last, "the last good checkpoint (iteration %llu) stays in %s/%s",
                 (unsigned long long)ck.iteration, t->o->out_dir, HP__CHECKPOINT_FILE);
        hp__checkpoint_clear(&ck);
    }
    hp_error_clear();
    t->res->diverged = 1;
    snprintf(t->res->stop_reason, sizeof t->res->stop_reason, "stopped at iteration %llu (%s): %s",
             (unsigned long long)t->g, t->plan[t->stage].name, what);
    hp__events_begin(&t->events, "divergence", elapsed(t));
    hp__events_u64(&t->events, "iteration", t->g);
    hp__events_u64(&t->events, "stage", t->stage);
    hp__events_str(&t->events, "message", what);
    hp__events_str(&t->events, "last_checkpoint", last);
    (void)hp__events_end(&t->events); /* the stop is the error that matters */
    HP_ERROR(HP_ERR_NUMERIC, "training stopped at iteration %llu (%s): %s; %s. %s", (unsigned long long)t->g,
             t->plan[t->stage].name, what, last, advice);
}

/* The one check of every value the run goes on from: finite, and not above
 * `divergence` times the lowest Ĵ of the stage. */
static hp_status guard_value(hp__trainer *t, double value) {
    char what[160];
    if (!isfinite(value)) {
        snprintf(what, sizeof what, "the loss is %g", value);
        return numeric_stop(t, what, "A smaller learning rate (or clip_norm) in that stage usually helps");
    }
    double factor = t->plan[t->stage].divergence;
    if (factor > 0.0 && t->best > 0.0 && isfinite(t->best) && value > factor * t->best) {
        snprintf(what, sizeof what, "the loss diverged: J = %.6g is above %g times the stage's lowest J %.6g", value,
                 factor, t->best);
        return numeric_stop(t, what,
                            "A smaller learning rate (or clip_norm) in that stage usually helps; the stage key "
                            "`divergence` sets the factor (0: no check)");
    }
    if (value < t->best) t->best = value;
    return HP_OK;
}

static hp_status guard_theta(hp__trainer *t) {
    for (size_t i = 0; i < t->n; i++) {
        if (!isfinite(t->theta[i])) {
            char what[96];
            snprintf(what, sizeof what, "theta[%zu] is not finite after the step", i);
            return numeric_stop(t, what, "A smaller learning rate (or clip_norm) in that stage usually helps");
        }
    }
    return HP_OK;
}

/* One history row at the current θ; *value receives Ĵ there (guarded). */
static hp_status history_row(hp__trainer *t, double *value) {
    HP_CALL(t->objective.value_and_gradient(t->objective.ctx, t->theta, value, NULL));
    HP_CALL(guard_value(t, *value));
    const hp__hybrid_terms *terms = hp__hybrid_last_terms(t->h);
    hp__hybrid_validation val;
    HP_CALL(hp__hybrid_validate(t->h, t->theta, &val));
    char row[16384];
    double seconds = elapsed(t);
    size_t used = (size_t)snprintf(row, sizeof row, "%llu,%.3f,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g",
                                   (unsigned long long)t->g, seconds, terms->j_pinn, terms->boundary,
                                   terms->coupling, *value, val.rel_l2, val.fine_residual);
    size_t n_k = terms->n_blocks * (size_t)terms->dim * (size_t)terms->dim;
    for (size_t i = 0; i < n_k && used < sizeof row - 64; i++)
        used += (size_t)snprintf(row + used, sizeof row - used, ",%.17g", terms->ktilde[i]);
    used += (size_t)snprintf(row + used, sizeof row - used, ",%d,%llu,%zu", terms->fallback,
                             (unsigned long long)t->display.fallback_since_row, t->stage);
    if (hp__hybrid_averaged_on(t->h)) used += (size_t)snprintf(row + used, sizeof row - used, ",%.17g", terms->averaged);
    used += (size_t)snprintf(row + used, sizeof row - used, "\n");
    HP_CALL(history_put(t, row, used));
    HP_CALL(hp__events_row(&t->events, t->g, seconds, terms, *value, val.rel_l2, val.fine_residual,
                           t->display.fallback_since_row, t->stage)); /* the same row in events.jsonl */
    int est;
    double eta = t->o->progress == HP__PROGRESS_LINES ? remaining(t, &est) : (est = 0, NAN);
    hp__trainer_display_row(&t->display, t->g, t->planned_total, t->stage, seconds, *value, terms, &val, eta, est);
    return HP_OK;
}

/* ---- checkpoints --------------------------------------------------------------------- */

/* `value_known`: Ĵ at the current θ was just computed and guarded. */
static hp_status write_checkpoint(hp__trainer *t, int value_known) {
    HP_CALL(guard_theta(t));
    if (!value_known) {
        double v;
        HP_CALL(t->objective.value_and_gradient(t->objective.ctx, t->theta, &v, NULL));
        HP_CALL(guard_value(t, v));
    }
    /* what is in history.csv must be on disk before a checkpoint points past it, and
     * so must the checkpoint's own line in events.jsonl (the resume cuts after it) */
    if (fflush(t->history) != 0 || fsync(fileno(t->history)) != 0)
        HP_ERROR(HP_ERR_IO, "cannot write %s: %s", t->history_path, strerror(errno));
    HP_CALL(hp__events_checkpoint(&t->events, elapsed(t), t->g, t->history_bytes, t->stage, t->it));
    HP_CALL(hp__events_sync(&t->events));
    const stage_plan *s = &t->plan[t->stage];
    hp__checkpoint ck;
    memset(&ck, 0, sizeof ck);
    snprintf(ck.run_id, sizeof ck.run_id, "%s", t->o->run_id ? t->o->run_id : "");
    ck.config = (char *)t->o->config_text;
    ck.iteration = t->g;
    ck.stage = t->stage;
    ck.stage_iteration = t->it;
    ck.flags = t->stage_stopped ? HP__CHECKPOINT_FLAG_STAGE_FINISHED : 0u;
    ck.history_bytes = t->history_bytes;
    ck.history_hash = t->history_hash;
    ck.elapsed_seconds = elapsed(t);
    ck.best_value = t->best;
    ck.n_theta = t->n;
    ck.theta = t->theta;
    if (hp__hybrid_collocation_plan(t->h)->resample_every > 0) {
        const double *x, *w;
        hp__hybrid_collocation(t->h, &x, &w, &ck.n_points);
        ck.dim = (size_t)hp__hybrid_dim(t->h);
        ck.points = (double *)x;
        ck.weights = (double *)w;
    }
    hp_status st = HP_OK;
    if (t->opt && HP_OP_PRESENT(s->ops, state_size) && HP_OP_PRESENT(s->ops, save)) {
        snprintf(ck.optimizer, sizeof ck.optimizer, "%s", s->opt_desc->name);
        ck.optimizer_bytes = s->ops->state_size(t->opt);
        HP_CALL(hp_malloc(ck.optimizer_bytes ? ck.optimizer_bytes : 1, &ck.optimizer_state));
        st = s->ops->save(t->opt, ck.optimizer_state);
    }
    if (st == HP_OK) st = hp__checkpoint_write(t->o->out_dir, &ck);
    free(ck.optimizer_state);
    if (st != HP_OK) hp_error_push_frame(__FILE__, __LINE__, __func__);
    return st;
}

/* ---- the run -------------------------------------------------------------------------- */

static hp_status begin_stage(hp__trainer *t) {
    stage_plan *s = &t->plan[t->stage];
    hp__hybrid_set_weights(t->h, s->tau1, s->tau2);
    HP_CALL(hp__hybrid_set_tau3(t->h, s->tau3));
    t->res->stages[t->stage].ran = 1;
    hp__eta_stage_begin(t->eta, t->stage);
    if (!t->opt) {
        HP_CALL(s->ops->create(s->opt_params, t->n, &t->opt));
        t->best = INFINITY; /* a new stage is a new objective (weights change) */
    }
    char tau3[40] = "";
    if (s->tau3 > 0.0) snprintf(tau3, sizeof tau3, ", tau3 %g", s->tau3);
    hp__trainer_display_log(&t->display, "%s: %s %s, %llu iterations, tau1 %g, tau2 %g%s", s->name, s->opt_desc->name,
                            s->opt_desc->version, (unsigned long long)s->iterations, s->tau1, s->tau2, tau3);
    if (!t->stage_open) {
        hp__events_stage es = event_stage(t, t->stage);
        HP_CALL(hp__events_stage_start(&t->events, elapsed(t), t->g, t->stage, &es));
        t->stage_open = 1;
    }
    return HP_OK;
}

/* The stage is done (to its count or an optimizer stop): its stage_end event. */
static hp_status stage_end_event(hp__trainer *t) {
    if (!t->stage_open) return HP_OK;
    const hp__trainer_stage_report *rep = &t->res->stages[t->stage];
    hp__events_stage es = event_stage(t, t->stage);
    HP_CALL(hp__events_stage_end(&t->events, elapsed(t), t->g, t->stage, &es, t->it, rep->stop[0] ? rep->stop : NULL));
    t->stage_open = 0;
    return HP_OK;
}

static void end_stage(hp__trainer *t) {
    if (t->opt) t->plan[t->stage].ops->destroy(t->opt);
    t->opt = NULL;
}

/* One optimizer step and its cadence: guards, the row, the checkpoint, the
 * display. *stop is set when the run must end here (interrupt, abandon). */
static hp_status step(hp__trainer *t, int *stop) {
    stage_plan *s = &t->plan[t->stage];
    int interrupt = t->o->interrupt && *t->o->interrupt;
    if (hp__comm_data_parallel()) HP_CALL(hp__comm_any(HP_OK, &interrupt)); /* all ranks stop at one iteration */
    if (interrupt) {
        /* before the checkpoint, so that a resume keeps it (events.h) */
        hp__events_begin(&t->events, "interrupt", elapsed(t));
        hp__events_u64(&t->events, "iteration", t->g);
        hp__events_u64(&t->events, "stage", t->stage);
        HP_CALL(hp__events_end(&t->events));
        HP_CALL(write_checkpoint(t, 0));
        t->res->interrupted = 1;
        snprintf(t->res->stop_reason, sizeof t->res->stop_reason, "interrupted at iteration %llu",
                 (unsigned long long)t->g);
        hp__trainer_display_log(&t->display,
                                "interrupted at iteration %llu; checkpoint written; continue with: hpinn run --resume %s",
                                (unsigned long long)t->g, t->o->out_dir);
        *stop = 1;
        return HP_OK;
    }
    /* a new collocation set: a new objective, between two steps */
    const hp__collocation *plan = hp__hybrid_collocation_plan(t->h);
    if (plan->resample_every > 0 && t->g > 0 && t->g % (uint64_t)plan->resample_every == 0) {
        HP_CALL(hp__hybrid_resample(t->h, t->theta, t->g / (uint64_t)plan->resample_every));
        if (HP_OP_PRESENT(s->ops, reset)) s->ops->reset(t->opt);
        t->best = INFINITY;
        t->res->resamples++;
        const double *x, *w;
        size_t np;
        hp__hybrid_collocation(t->h, &x, &w, &np);
        hp__events_begin(&t->events, "resample", elapsed(t));
        hp__events_u64(&t->events, "iteration", t->g);
        hp__events_u64(&t->events, "round", t->g / (uint64_t)plan->resample_every);
        hp__events_u64(&t->events, "points", np);
        hp__events_bool(&t->events, "adaptive", plan->rad);
        HP_CALL(hp__events_end(&t->events));
    }
    hp_opt_step_info info;
    hp_opt_info_init(&info);
    HP_CALL(s->ops->step(t->opt, t->theta, &t->objective, &info));
    t->res->stages[t->stage].inner_iterations += info.inner_iterations;
    t->res->stages[t->stage].products += info.products;
    t->res->stages[t->stage].steps++;
    t->it++;
    t->g++;
    int fell_back = hp__hybrid_last_terms(t->h)->fallback;
    if (fell_back) {
        t->display.fallback_since_row++;
        t->res->fallback_steps++;
    }
    if (fell_back != t->fallback_active) { /* one event where it starts and one where it ends, not one per step */
        hp__events_begin(&t->events, "fallback", elapsed(t));
        hp__events_u64(&t->events, "iteration", t->g);
        hp__events_u64(&t->events, "stage", t->stage);
        hp__events_bool(&t->events, "active", fell_back);
        HP_CALL(hp__events_end(&t->events));
        t->fallback_active = fell_back;
    }
    if (info.stop == HP_OPT_NON_FINITE)
        return numeric_stop(t, info.message[0] ? info.message : "the optimizer met a non-finite value",
                            "A smaller learning rate (or clip_norm) in that stage usually helps");
    HP_CALL(guard_value(t, info.value));
    HP_CALL(guard_theta(t));
    int stopped = info.stop != HP_OPT_CONTINUE, value_known = 0;
    if (t->g % (uint64_t)t->log_every == 0 || t->it == s->iterations || stopped) {
        double v;
        HP_CALL(history_row(t, &v));
        value_known = 1;
    }
    if (stopped) {
        hp__trainer_stage_report *rep = &t->res->stages[t->stage];
        snprintf(rep->stop, sizeof rep->stop, "%s: %s", hp_opt_stop_name(info.stop), info.message);
        hp__trainer_display_log(&t->display, "%s: %s stopped at iteration %llu (step %llu of %llu): %s", s->name,
                                s->opt_desc->name, (unsigned long long)t->g, (unsigned long long)t->it,
                                (unsigned long long)s->iterations, rep->stop);
        t->stage_stopped = 1;
    }
    if (t->checkpoint_every > 0 && t->g % (uint64_t)t->checkpoint_every == 0) HP_CALL(write_checkpoint(t, value_known));
    hp__eta_step(t->eta, t->stage);
    if (t->o->on_step && t->o->on_step(t->o->on_step_ctx, t->g)) {
        t->res->abandoned = 1;
        snprintf(t->res->stop_reason, sizeof t->res->stop_reason, "abandoned after iteration %llu",
                 (unsigned long long)t->g);
        *stop = 1;
        return HP_OK;
    }
    int est;
    double eta = remaining(t, &est);
    if (t->o->on_progress) t->o->on_progress(t->o->on_progress_ctx, t->g, elapsed(t), eta, est);
    hp__trainer_display_draw(&t->display, t->stage, t->n_stages, t->g, t->planned_total, t->it, s->iterations,
                             info.value, session_seconds(t), t->g - t->g0, eta, est, 0);
    return HP_OK;
}

/* The first line of a session: run_start (a new run) or resume. */
static hp_status session_event(hp__trainer *t, int events_consistent) {
    hp__events *e = &t->events;
    if (t->resumed) {
        hp__events_begin(e, "resume", elapsed(t));
        hp__events_u64(e, "iteration", t->g);
        hp__events_u64(e, "stage", t->stage);
        hp__events_u64(e, "stage_step", t->it);
        hp__events_str(e, "run_id", t->o->run_id);
        hp__events_str(e, "checkpoint", t->resumed_from);
        hp__events_u64(e, "changes", t->resume_changes);
        hp__events_bool(e, "events_consistent", events_consistent);
        return hp__events_end(e);
    }
    hp__events_stage st[HP__TRAINER_MAX_STAGES];
    for (size_t i = 0; i < t->n_stages; i++) st[i] = event_stage(t, i);
    hp__events_run r = {t->o->run_id, t->o->config_source, t->o->config_text, t->n, t->planned_total, st,
                        t->n_stages, t->o->init_from, t->o->init_from_run_id, t->o->init_from_iteration};
    return hp__events_run_start(e, elapsed(t), &r);
}

static hp_status run_stages(hp__trainer *t) {
    HP_CALL(history_open(t));
    int consistent = 0;
    HP_CALL(hp__events_open(&t->events, t->o->out_dir, t->resumed, t->g, t->history_bytes, &consistent));
    HP_CALL(session_event(t, consistent));
    if (t->resumed) {
        hp__trainer_display_log(&t->display, "resuming %s at iteration %llu (stage %zu, step %llu of it)",
                                t->o->out_dir, (unsigned long long)t->g, t->stage, (unsigned long long)t->it);
        if (!consistent)
            hp__trainer_display_log(&t->display, "hpinn: note: %s/%s has no line for this checkpoint (edited, removed or "
                                    "older than it); it is kept as it was and continued after a resume event",
                                    t->o->out_dir, HP__EVENTS_FILE);
    }
    int first = !t->resumed;
    for (;;) {
        if (stage_done(t)) { /* on to the next stage, if there is one */
            HP_CALL(stage_end_event(t));
            end_stage(t);
            if (t->stage + 1 >= t->n_stages) break;
            t->stage++;
            t->it = 0;
            t->stage_stopped = 0;
            continue;
        }
        HP_CALL(begin_stage(t));
        if (first) { /* the first row: the initial θ */
            double v;
            HP_CALL(history_row(t, &v));
            first = 0;
        }
        int stop = 0;
        while (!stop && !stage_done(t)) HP_CALL(step(t, &stop));
        if (stop) return HP_OK;
        int est;
        double eta = remaining(t, &est);
        hp__trainer_display_draw(&t->display, t->stage, t->n_stages, t->g, t->planned_total, t->it,
                                 t->plan[t->stage].iterations, NAN, session_seconds(t), t->g - t->g0, eta, est, 1);
        hp__trainer_display_end(&t->display);
        if (t->stage + 1 >= t->n_stages) break; /* keep the last stage's optimizer for the final checkpoint */
        HP_CALL(stage_end_event(t));
        end_stage(t);
        t->stage++;
        t->it = 0;
        t->stage_stopped = 0;
    }
    /* the end: a final checkpoint with the last stage's state, so the run can be extended. The
     * last stage_end follows the checkpoint's line: a resume that extends the stage cuts before it. */
    HP_CALL(write_checkpoint(t, 0));
    HP_CALL(stage_end_event(t));
    t->res->completed = 1;
    snprintf(t->res->stop_reason, sizeof t->res->stop_reason, "completed");
    for (size_t i = 0; i < t->n_stages; i++) {
        if (!t->res->stages[i].stop[0]) continue;
        size_t used = strlen(t->res->stop_reason);
        snprintf(t->res->stop_reason + used, sizeof t->res->stop_reason - used, "; %s: %s", t->res->stages[i].name,
                 t->res->stages[i].stop);
    }
    hp__events_begin(&t->events, "finish", elapsed(t));
    hp__events_u64(&t->events, "iteration", t->g);
    hp__events_bool(&t->events, "completed", 1);
    hp__events_str(&t->events, "stop_reason", t->res->stop_reason);
    hp__events_u64(&t->events, "session_iterations", t->g - t->g0);
    hp__events_fixed(&t->events, "session_seconds", session_seconds(t), 3);
    HP_CALL(hp__events_end(&t->events));
    return HP_OK;
}

hp_status hp__trainer_run(hp__trainer *t, hp__trainer_result *result) {
    *result = t->plan_report;
    t->res = result;
    if (t->o->init_from) {
        snprintf(result->init_from, sizeof result->init_from, "%s", t->o->init_from);
        snprintf(result->init_from_run_id, sizeof result->init_from_run_id, "%s",
                 t->o->init_from_run_id ? t->o->init_from_run_id : "");
        result->init_from_iteration = t->o->init_from_iteration;
    }
    t->t0 = hp__now_seconds();
    t->g0 = t->g;
    hp_status st = run_stages(t);
    hp__trainer_display_end(&t->display);
    if (t->history) {
        if (fclose(t->history) != 0 && st == HP_OK) st = HP_ERROR_SET(HP_ERR_IO, "cannot write %s", t->history_path);
        t->history = NULL;
    }
    result->iterations = t->g;
    result->session_iterations = t->g - t->g0;
    result->seconds = elapsed(t);
    result->session_seconds = session_seconds(t);
    return st;
}
