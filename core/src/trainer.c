/* trainer.c — the stage loop of `hpinn run` (contract in trainer.h).
 *
 * Why the history is exactly reproducible across a resume: a history row is
 * computed from θ alone (a value-only evaluation of Ĵ at θ plus the validation),
 * never from what an optimizer happened to evaluate last, and a checkpoint holds
 * everything a step depends on (θ, the optimizer's saved state, the counters, the
 * weights). Rows written after the last checkpoint are cut off on resume (the
 * checkpoint records the byte length of history.csv) and computed again.
 *
 * Why a checkpoint is always good: before one is written, Ĵ at θ is evaluated (or
 * taken from the row just computed at the same θ) and θ scanned; a non-finite value
 * stops the run instead, so the previous checkpoint stays the last good one. */
#include "trainer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "pipeline.h"

/* ---- stage parameters ----------------------------------------------------------
 * WORKAROUND (trainer-owned, remove when config.h offers it): hp_config_section()
 * on "stages[i]" rejects the entry's `optimizer:` key, and the variant that skips
 * a key is static in config.c. The pipeline has been validated as a whole by
 * hp_config_resolve, so the stage entries are read back from its resolved text. */
hp_status hp_trainer_stage_params(const hp_config *c, const hp_registry *r, size_t i, hp_params **out) {
    (void)r;
    char path[64];
    snprintf(path, sizeof path, "stages[%zu]", i);
    HP_CALL(hp_config_section_except(c, path, hp__stage_params, "optimizer", out));
    return HP_OK;
}

/* ---- the trainer's state ------------------------------------------------------- */

typedef struct trainer {
    const hp_config *config;
    const hp_registry *registry;
    hp_hybrid *h;
    double *theta;
    size_t n;
    const hp_trainer_options *o;
    hp_trainer_result *res;
    hp_objective objective;

    char history_path[4096], checkpoint_path[4096];
    FILE *history;
    int64_t log_every, checkpoint_every;
    uint64_t planned_total;  /* iterations of all stages */

    /* counters */
    uint64_t g;              /* steps taken in total */
    double elapsed0;         /* seconds of earlier sessions */
    struct timespec t0;      /* start of this session */
    uint64_t g0;             /* g at the start of this session */

    /* the last history row, for progress lines */
    size_t n_k;              /* n_blocks * dim * dim */
    double *row_ktilde;
    hp_hybrid_terms row_terms;
    hp_hybrid_validation row_val;
    uint64_t row_iteration;
    int have_row;
    uint64_t fallback_since_row;
    double last_draw;        /* terminal display: time of the last redraw */
    int drawn;               /* a terminal line is on screen */
} trainer;

static double now_seconds(const trainer *t) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)(ts.tv_sec - t->t0.tv_sec) + 1e-9 * (double)(ts.tv_nsec - t->t0.tv_nsec);
}

static double elapsed(const trainer *t) { return t->elapsed0 + now_seconds(t); }

static int theta_finite(const trainer *t, size_t *bad) {
    for (size_t i = 0; i < t->n; i++) {
        if (!isfinite(t->theta[i])) {
            *bad = i;
            return 0;
        }
    }
    return 1;
}

/* End an in-place terminal line before other text goes to the log. */
static void end_display(trainer *t) {
    if (t->drawn && t->o->log) {
        fputc('\n', t->o->log);
        fflush(t->o->log);
    }
    t->drawn = 0;
}

static void logf_line(trainer *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void logf_line(trainer *t, const char *fmt, ...) {
    if (!t->o->log) return;
    end_display(t);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(t->o->log, fmt, ap);
    va_end(ap);
    fputc('\n', t->o->log);
    fflush(t->o->log);
}

/* ---- history ---------------------------------------------------------------- */

static hp_status history_header(trainer *t) {
    FILE *f = t->history;
    fprintf(f, "iteration,seconds,J_pinn,boundary,R,J_hat,rel_l2,fine_residual");
    int d = hp_hybrid_dim(t->h);
    size_t nb = hp_hybrid_n_blocks(t->h);
    for (size_t b = 0; b < nb; b++)
        for (int j = 0; j < d; j++)
            for (int i = 0; i < d; i++) fprintf(f, ",k_%zu_%d_%d", b, j, i);
    fprintf(f, ",fallback,fallback_steps,stage\n");
    if (fflush(f) != 0 || ferror(f)) HP_ERROR(HP_ERR_IO, "cannot write %s: %s", t->history_path, strerror(errno));
    return HP_OK;
}

/* Evaluate Ĵ (value only) at θ; the terms land in the hybrid's last terms. */
static hp_status evaluate_at_theta(trainer *t, double *value) {
    HP_CALL(t->objective.value_and_gradient(t->objective.ctx, t->theta, value, NULL));
    return HP_OK;
}

static hp_status numeric_stop(trainer *t, size_t stage, const char *what) {
    char last[4400] = "no checkpoint was written yet";
    hp_checkpoint ck;
    hp_status st = hp_checkpoint_read(t->checkpoint_path, t->n, &ck);
    if (st == HP_OK) {
        snprintf(last, sizeof last, "the last good checkpoint (iteration %llu) stays in %s",
                 (unsigned long long)ck.iteration, t->checkpoint_path);
        hp_checkpoint_clear(&ck);
    }
    hp_error_clear();
    snprintf(t->res->stop_reason, sizeof t->res->stop_reason, "non-finite at iteration %llu (stage %zu): %s",
             (unsigned long long)t->g, stage, what);
    HP_ERROR(HP_ERR_NUMERIC,
             "training stopped at iteration %llu (stage %zu): %s; %s. A smaller learning rate (or clip_norm) in "
             "that stage usually helps",
             (unsigned long long)t->g, stage, what, last);
}

static void print_row_line(trainer *t, size_t stage) {
    if (!t->o->log || t->o->progress != HP_PROGRESS_LINES) return;
    char k[256] = "";
    size_t used = 0;
    size_t shown = t->n_k < 4 ? t->n_k : 4;
    for (size_t i = 0; i < shown && used < sizeof k - 32; i++)
        used += (size_t)snprintf(k + used, sizeof k - used, "%s%.6g", i ? " " : "", t->row_ktilde[i]);
    if (t->n_k > shown) snprintf(k + used, sizeof k - used, " ...");
    double secs = elapsed(t), per = t->g > t->g0 ? now_seconds(t) / (double)(t->g - t->g0) : 0.0;
    double eta = per * (double)(t->planned_total > t->g ? t->planned_total - t->g : 0);
    logf_line(t, "it %llu/%llu stage %zu  J=%.4e J_pinn=%.4e R=%.4e  rel_l2=%.4e  K~=[%s]%s  %.1fs ETA %.0fs",
              (unsigned long long)t->g, (unsigned long long)t->planned_total, stage, t->row_terms.total,
              t->row_terms.j_pinn, t->row_terms.coupling, t->row_val.rel_l2, k,
              t->row_terms.fallback ? " fallback" : "", secs, eta);
}

/* One history row at the current θ. Returns the value of Ĵ in *value; a
 * non-finite value writes no row (the caller stops the run). */
static hp_status history_row(trainer *t, size_t stage, double *value) {
    HP_CALL(evaluate_at_theta(t, value));
    if (!isfinite(*value)) return HP_OK;
    const hp_hybrid_terms *terms = hp_hybrid_last_terms(t->h);
    t->row_terms = *terms;
    memcpy(t->row_ktilde, terms->ktilde, t->n_k * sizeof *t->row_ktilde);
    HP_CALL(hp_hybrid_validate(t->h, t->theta, &t->row_val));
    t->row_iteration = t->g;
    t->have_row = 1;
    FILE *f = t->history;
    fprintf(f, "%llu,%.3f,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g", (unsigned long long)t->g, elapsed(t),
            t->row_terms.j_pinn, t->row_terms.boundary, t->row_terms.coupling, *value, t->row_val.rel_l2,
            t->row_val.fine_residual);
    for (size_t i = 0; i < t->n_k; i++) fprintf(f, ",%.17g", t->row_ktilde[i]);
    fprintf(f, ",%d,%llu,%zu\n", t->row_terms.fallback, (unsigned long long)t->fallback_since_row, stage);
    t->fallback_since_row = 0;
    if (fflush(f) != 0 || ferror(f)) HP_ERROR(HP_ERR_IO, "cannot write %s: %s", t->history_path, strerror(errno));
    print_row_line(t, stage);
    return HP_OK;
}

/* ---- progress display (terminal) ---------------------------------------------- */

static void draw(trainer *t, size_t stage, size_t n_stages, uint64_t it, uint64_t iters, double value, int force) {
    if (!t->o->log || t->o->progress != HP_PROGRESS_TERMINAL) return;
    double now = now_seconds(t);
    if (!force && t->drawn && now - t->last_draw < 0.1) return;
    t->last_draw = now;
    double per = t->g > t->g0 ? now / (double)(t->g - t->g0) : 0.0;
    double eta = per * (double)(t->planned_total > t->g ? t->planned_total - t->g : 0);
    const hp_hybrid_terms *terms = hp_hybrid_last_terms(t->h);
    char k[96] = "";
    size_t used = 0, shown = t->n_k < 2 ? t->n_k : 2;
    for (size_t i = 0; i < shown && used < sizeof k - 24; i++)
        used += (size_t)snprintf(k + used, sizeof k - used, "%s%.5g", i ? " " : "", terms->ktilde[i]);
    if (t->n_k > shown) snprintf(k + used, sizeof k - used, " ..");
    fprintf(t->o->log,
            "\r[%zu/%zu] it %llu/%llu (%llu/%llu) J %.3e Jp %.3e R %.3e err %.3e K~ %s%s | %.2f ms/it ETA %02d:%02d\033[K",
            stage + 1, n_stages, (unsigned long long)t->g, (unsigned long long)t->planned_total,
            (unsigned long long)it, (unsigned long long)iters, value, terms->j_pinn, terms->coupling,
            t->have_row ? t->row_val.rel_l2 : NAN, k, terms->fallback ? " FB" : "", 1e3 * per,
            (int)(eta / 60), (int)fmod(eta, 60.0));
    fflush(t->o->log);
    t->drawn = 1;
}

/* ---- checkpoints --------------------------------------------------------------- */

/* `value_known`: Ĵ at the current θ was just computed (and found finite). */
static hp_status write_checkpoint(trainer *t, size_t stage, uint64_t stage_it, int finished, const char *opt_name,
                                  const hp_optimizer_ops *ops, void *opt_state, int value_known) {
    size_t bad;
    if (!theta_finite(t, &bad)) {
        char what[96];
        snprintf(what, sizeof what, "theta[%zu] is not finite", bad);
        return numeric_stop(t, stage, what);
    }
    if (!value_known) {
        double v;
        HP_CALL(evaluate_at_theta(t, &v));
        if (!isfinite(v)) {
            char what[96];
            snprintf(what, sizeof what, "the loss is %g", v);
            return numeric_stop(t, stage, what);
        }
    }
    /* what is in history.csv must be on disk before a checkpoint points past it */
    if (fflush(t->history) != 0 || fsync(fileno(t->history)) != 0)
        HP_ERROR(HP_ERR_IO, "cannot write %s: %s", t->history_path, strerror(errno));
    long hist = ftell(t->history);
    if (hist < 0) HP_ERROR(HP_ERR_IO, "cannot tell the length of %s: %s", t->history_path, strerror(errno));

    hp_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    ck.iteration = t->g;
    ck.stage = stage;
    ck.stage_iteration = stage_it;
    ck.flags = finished ? HP_CHECKPOINT_FLAG_STAGE_FINISHED : 0u;
    ck.history_bytes = (uint64_t)hist;
    hp_hybrid_get_weights(t->h, &ck.tau1, &ck.tau2);
    ck.elapsed_seconds = elapsed(t);
    ck.n_theta = t->n;
    ck.theta = t->theta;
    hp_status st = HP_OK;
    if (opt_state && ops->state_size && ops->save) {
        snprintf(ck.optimizer, sizeof ck.optimizer, "%s", opt_name);
        ck.optimizer_bytes = ops->state_size(opt_state);
        HP_CALL(hp_malloc(ck.optimizer_bytes, &ck.optimizer_state));
        st = ops->save(opt_state, ck.optimizer_state);
    }
    if (st == HP_OK) st = hp_checkpoint_write(t->checkpoint_path, &ck);
    free(ck.optimizer_state);
    if (st != HP_OK) hp_error_push_frame(__FILE__, __LINE__, __func__);
    return st;
}

/* ---- the stage loop ------------------------------------------------------------ */

typedef struct stage_setup {
    hp_params *params, *opt_params;
    const hp_plugin_descriptor *opt_desc;
    const hp_optimizer_ops *ops;
    uint64_t iterations;
    double tau1, tau2;
} stage_setup;

static void stage_setup_free(stage_setup *s) {
    hp_params_destroy(s->params);
    hp_params_destroy(s->opt_params);
    memset(s, 0, sizeof *s);
}

static hp_status stage_load(trainer *t, size_t i, double base_tau1, double base_tau2, stage_setup *s) {
    memset(s, 0, sizeof *s);
    char path[64];
    snprintf(path, sizeof path, "stages[%zu].optimizer", i);
    HP_CALL(hp_trainer_stage_params(t->config, t->registry, i, &s->params));
    hp_status st = hp_config_plugin_section(t->config, path, HP_PLUGIN_OPTIMIZER, "adam", t->registry, &s->opt_desc,
                                            &s->opt_params);
    if (st != HP_OK) {
        stage_setup_free(s);
        return st;
    }
    s->ops = s->opt_desc->ops;
    s->iterations = (uint64_t)hp_params_int(s->params, "iterations");
    s->tau1 = hp_params_is_set(s->params, "tau1") ? hp_params_real(s->params, "tau1") : base_tau1;
    s->tau2 = hp_params_is_set(s->params, "tau2") ? hp_params_real(s->params, "tau2") : base_tau2;
    return HP_OK;
}

static void stage_label(const stage_setup *s, size_t i, char *buf, size_t size) {
    const char *name = hp_params_is_set(s->params, "name") ? hp_params_string(s->params, "name") : NULL;
    if (name) snprintf(buf, size, "%s", name);
    else snprintf(buf, size, "stage %zu", i);
}

/* Cut history.csv back to what the checkpoint covers and reopen it for appending. */
static hp_status reopen_history(trainer *t, uint64_t bytes) {
    FILE *f = fopen(t->history_path, "r+b");
    if (!f) HP_ERROR(HP_ERR_CORRUPT, "cannot resume: %s is missing (%s)", t->history_path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        HP_ERROR(HP_ERR_IO, "cannot read %s", t->history_path);
    }
    long size = ftell(f);
    if (size < 0 || (uint64_t)size < bytes) {
        fclose(f);
        HP_ERROR(HP_ERR_CORRUPT,
                 "cannot resume: %s has %ld bytes but the checkpoint covers %llu; the history was truncated or "
                 "replaced",
                 t->history_path, size, (unsigned long long)bytes);
    }
    if (ftruncate(fileno(f), (off_t)bytes) != 0 || fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        HP_ERROR(HP_ERR_IO, "cannot truncate %s: %s", t->history_path, strerror(errno));
    }
    t->history = f;
    return HP_OK;
}

static hp_status run_stages(trainer *t) {
    const hp_trainer_options *o = t->o;
    hp_trainer_result *res = t->res;
    size_t n_stages = hp_config_list_length(t->config, "stages");
    if (n_stages == 0)
        HP_ERROR(HP_ERR_CONFIG, "%s: stages: missing; expected a list of training stages, e.g.\n"
                                "  stages:\n    - {iterations: 2000, optimizer: {plugin: adam, lr: 1e-3}}",
                 hp_config_file(t->config));
    if (n_stages > HP_TRAINER_MAX_STAGES)
        HP_ERROR(HP_ERR_CONFIG, "%s: stages: %zu stages; at most %d are supported", hp_config_file(t->config),
                 n_stages, HP_TRAINER_MAX_STAGES);
    res->n_stages = n_stages;
    double base_tau1, base_tau2;
    hp_hybrid_get_weights(t->h, &base_tau1, &base_tau2);

    /* plan: names, optimizers, iteration counts (also checks every stage up front) */
    t->planned_total = 0;
    for (size_t i = 0; i < n_stages; i++) {
        stage_setup s;
        HP_CALL(stage_load(t, i, base_tau1, base_tau2, &s));
        hp_trainer_stage_report *rep = &res->stages[i];
        stage_label(&s, i, rep->name, sizeof rep->name);
        snprintf(rep->optimizer, sizeof rep->optimizer, "%s", s.opt_desc->name);
        snprintf(rep->optimizer_version, sizeof rep->optimizer_version, "%s", s.opt_desc->version);
        rep->planned = s.iterations;
        t->planned_total += s.iterations;
        stage_setup_free(&s);
    }

    /* where to start */
    size_t s0 = 0;
    uint64_t it0 = 0;
    int finished0 = 0;
    hp_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    if (o->resume) {
        hp_status st = hp_checkpoint_read(t->checkpoint_path, t->n, &ck);
        if (st == HP_ERR_NOT_FOUND)
            HP_ERROR(HP_ERR_NOT_FOUND, "cannot resume %s: no checkpoint there (%s is missing); the run stopped "
                                       "before its first checkpoint (output.checkpoint_every)",
                     o->out_dir, t->checkpoint_path);
        if (st != HP_OK) return st;
        if (ck.stage > n_stages || (ck.stage < n_stages && ck.stage_iteration > res->stages[ck.stage].planned)) {
            hp_checkpoint_clear(&ck);
            HP_ERROR(HP_ERR_CORRUPT, "checkpoint %s (stage %llu, iteration %llu of it) does not fit this pipeline's %zu stages",
                     t->checkpoint_path, (unsigned long long)ck.stage, (unsigned long long)ck.stage_iteration, n_stages);
        }
        memcpy(t->theta, ck.theta, t->n * sizeof *t->theta);
        t->g = t->g0 = ck.iteration;
        t->elapsed0 = ck.elapsed_seconds;
        s0 = (size_t)ck.stage;
        it0 = ck.stage_iteration;
        finished0 = (ck.flags & HP_CHECKPOINT_FLAG_STAGE_FINISHED) != 0;
        hp_status hs = reopen_history(t, ck.history_bytes);
        if (hs != HP_OK) {
            hp_checkpoint_clear(&ck);
            return hs;
        }
        logf_line(t, "resuming %s at iteration %llu (stage %zu, step %llu of it)", o->out_dir,
                  (unsigned long long)ck.iteration, s0, (unsigned long long)it0);
    } else {
        t->history = fopen(t->history_path, "wb");
        if (!t->history) HP_ERROR(HP_ERR_IO, "cannot write %s: %s", t->history_path, strerror(errno));
        HP_CALL(history_header(t));
    }

    hp_status st = HP_OK;
    for (size_t si = s0; si < n_stages; si++) {
        stage_setup s;
        HP_CALL_GOTO(st, stage_load(t, si, base_tau1, base_tau2, &s), done);
        hp_trainer_stage_report *rep = &res->stages[si];
        hp_hybrid_set_weights(t->h, s.tau1, s.tau2);
        uint64_t it = si == s0 ? it0 : 0;
        void *opt = NULL;
        int stage_done = si == s0 && finished0;
        if (!stage_done && it < s.iterations) {
            rep->ran = 1;
            HP_CALL_GOTO(st, s.ops->create(s.opt_params, t->n, &opt), stage_end);
            if (o->resume && si == s0 && ck.optimizer_bytes) {
                if (strcmp(ck.optimizer, s.opt_desc->name) != 0 || !s.ops->load) {
                    st = HP_ERROR_SET(HP_ERR_CORRUPT,
                                      "checkpoint %s holds the state of optimizer '%s' but stage %zu uses '%s'",
                                      t->checkpoint_path, ck.optimizer, si, s.opt_desc->name);
                    goto stage_end;
                }
                HP_CALL_GOTO(st, s.ops->load(opt, ck.optimizer_state, ck.optimizer_bytes), stage_end);
            } else if (o->resume && si == s0 && it > 0 && !ck.optimizer_bytes && s.ops->state_size) {
                st = HP_ERROR_SET(HP_ERR_CORRUPT, "checkpoint %s has no optimizer state for stage %zu at step %llu",
                                  t->checkpoint_path, si, (unsigned long long)it);
                goto stage_end;
            } else if (o->resume && si == s0 && it > 0 && !s.ops->state_size) {
                logf_line(t, "note: optimizer '%s' cannot save its state; it restarts fresh after the resume",
                          s.opt_desc->name);
            }
            logf_line(t, "%s: %s %s, %llu iterations, tau1 %g, tau2 %g", rep->name, s.opt_desc->name,
                      s.opt_desc->version, (unsigned long long)s.iterations, s.tau1, s.tau2);
            if (t->g == 0 && !o->resume) { /* the first row: the initial θ */
                double v;
                HP_CALL_GOTO(st, history_row(t, si, &v), stage_end);
                if (!isfinite(v)) {
                    st = numeric_stop(t, si, "the loss at the initial parameters is not finite");
                    goto stage_end;
                }
            }
        }
        while (!stage_done && it < s.iterations) {
            if (o->interrupt && *o->interrupt) {
                HP_CALL_GOTO(st, write_checkpoint(t, si, it, 0, s.opt_desc->name, s.ops, opt, 0), stage_end);
                res->interrupted = 1;
                snprintf(res->stop_reason, sizeof res->stop_reason, "interrupted at iteration %llu",
                         (unsigned long long)t->g);
                logf_line(t, "interrupted at iteration %llu; checkpoint written; continue with: hpinn run --resume %s",
                          (unsigned long long)t->g, o->out_dir);
                goto stage_end;
            }
            hp_opt_step_info info;
            hp_opt_info_init(&info);
            HP_CALL_GOTO(st, s.ops->step(opt, t->theta, &t->objective, &info), stage_end);
            it++;
            t->g++;
            if (hp_hybrid_last_terms(t->h)->fallback) {
                t->fallback_since_row++;
                res->fallback_steps++;
            }
            size_t bad;
            if (info.stop == HP_OPT_NON_FINITE) {
                st = numeric_stop(t, si, info.message[0] ? info.message : "the optimizer met a non-finite value");
                goto stage_end;
            }
            if (!isfinite(info.value)) {
                char what[96];
                snprintf(what, sizeof what, "the loss is %g", info.value);
                st = numeric_stop(t, si, what);
                goto stage_end;
            }
            if (!theta_finite(t, &bad)) {
                char what[96];
                snprintf(what, sizeof what, "theta[%zu] is not finite after the step", bad);
                st = numeric_stop(t, si, what);
                goto stage_end;
            }
            int stopped = info.stop != HP_OPT_CONTINUE;
            int value_known = 0;
            if (t->g % (uint64_t)t->log_every == 0 || it == s.iterations || stopped) {
                double v;
                HP_CALL_GOTO(st, history_row(t, si, &v), stage_end);
                if (!isfinite(v)) {
                    char what[96];
                    snprintf(what, sizeof what, "the loss is %g", v);
                    st = numeric_stop(t, si, what);
                    goto stage_end;
                }
                value_known = 1;
            }
            if (stopped) {
                snprintf(rep->stop, sizeof rep->stop, "%s: %s", hp_opt_stop_name(info.stop), info.message);
                logf_line(t, "%s: %s stopped at iteration %llu (step %llu of %llu): %s", rep->name,
                          s.opt_desc->name, (unsigned long long)t->g, (unsigned long long)it,
                          (unsigned long long)s.iterations, rep->stop);
                stage_done = 1;
            }
            if (t->checkpoint_every > 0 && t->g % (uint64_t)t->checkpoint_every == 0)
                HP_CALL_GOTO(st, write_checkpoint(t, si, it, stage_done, s.opt_desc->name, s.ops, opt, value_known),
                             stage_end);
            if (o->crash_after && t->g >= o->crash_after) {
                res->crashed = 1;
                snprintf(res->stop_reason, sizeof res->stop_reason, "crash simulated after iteration %llu",
                         (unsigned long long)t->g);
                goto stage_end;
            }
            draw(t, si, n_stages, it, s.iterations, info.value, 0);
        }
        if (rep->ran) draw(t, si, n_stages, it, s.iterations, t->row_terms.total, 1);
    stage_end:
        end_display(t);
        if (opt) s.ops->destroy(opt);
        stage_setup_free(&s);
        if (st != HP_OK || res->interrupted || res->crashed) goto done;
    }

    /* the end: a final checkpoint that marks the run complete */
    HP_CALL_GOTO(st, write_checkpoint(t, n_stages, 0, 0, "", NULL, NULL, 0), done);
    res->completed = 1;
    snprintf(res->stop_reason, sizeof res->stop_reason, "completed");
    for (size_t i = 0; i < n_stages; i++) {
        if (!res->stages[i].stop[0]) continue;
        size_t used = strlen(res->stop_reason);
        snprintf(res->stop_reason + used, sizeof res->stop_reason - used, "; %s: %s", res->stages[i].name,
                 res->stages[i].stop);
    }
done:
    hp_checkpoint_clear(&ck);
    return st;
}

hp_status hp_train(const hp_config *config, const hp_registry *registry, hp_hybrid *h, double *theta,
                   const hp_trainer_options *options, hp_trainer_result *result) {
    memset(result, 0, sizeof *result);
    trainer t;
    memset(&t, 0, sizeof t);
    t.config = config;
    t.registry = registry;
    t.h = h;
    t.theta = theta;
    t.n = hp_hybrid_n_params(h);
    t.o = options;
    t.res = result;
    t.objective = options->objective ? *options->objective : hp_hybrid_objective(h);
    if (t.objective.n != t.n)
        HP_ERROR(HP_ERR_INTERNAL, "trainer: objective has %zu parameters, the hybrid %zu", t.objective.n, t.n);
    clock_gettime(CLOCK_MONOTONIC, &t.t0);
    int n1 = snprintf(t.history_path, sizeof t.history_path, "%s/%s", options->out_dir, HP_TRAINER_HISTORY_FILE);
    int n2 = snprintf(t.checkpoint_path, sizeof t.checkpoint_path, "%s/%s", options->out_dir,
                      HP_TRAINER_CHECKPOINT_FILE);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof t.history_path || (size_t)n2 >= sizeof t.checkpoint_path)
        HP_ERROR(HP_ERR_USAGE, "output directory path too long: %s", options->out_dir);

    hp_params *out = NULL;
    HP_CALL(hp_config_section(config, "output", hp__output_params, &out));
    t.log_every = hp_params_int(out, "log_every");
    t.checkpoint_every = hp_params_int(out, "checkpoint_every");
    hp_params_destroy(out);

    int d = hp_hybrid_dim(h);
    t.n_k = hp_hybrid_n_blocks(h) * (size_t)d * (size_t)d;
    HP_CALL(hp_calloc(t.n_k, sizeof(double), &t.row_ktilde));

    hp_status st = run_stages(&t);
    if (t.history && fclose(t.history) != 0 && st == HP_OK)
        st = HP_ERROR_SET(HP_ERR_IO, "cannot write %s", t.history_path);
    result->iterations = t.g;
    result->seconds = elapsed(&t);
    result->ms_per_iteration = t.g > t.g0 ? 1e3 * now_seconds(&t) / (double)(t.g - t.g0) : 0.0;
    free(t.row_ktilde);
    return st;
}
