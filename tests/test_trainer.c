/* test_trainer.c — the trainer on a tiny 1-D hybrid pipeline (real plugins from
 * the build tree): the same run twice gives the same history; a run that dies
 * (abandoned through on_step, as if killed) or is interrupted and then resumes
 * gives exactly the history of the uninterrupted run (all columns except
 * seconds), across a stage boundary and with two optimizers; a loss that turns
 * NaN or diverges stops with HP_ERR_NUMERIC and leaves the last good checkpoint
 * in place; a damaged checkpoint falls back on the previous one; resuming a
 * checkpoint of another run, an edited history or a changed pipeline is refused
 * naming what differs, and extending a run (a new stage, more iterations) is
 * allowed and continues it. events.jsonl: every line is JSON, its row events
 * are history.csv's rows, and a resume cuts it where history.csv is cut (the
 * resumed log is the uninterrupted one plus the resume). */
#include "test_util.h"
#include "test_json.h"

#include <signal.h>
#include <stdint.h>

#include <cblas.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "hybrid.h"
#include "resume_rules.h"
#include "trainer.h"

static const char *pipeline_text =
    "constants: {eps: 0.0625}\n"
    "problem:\n"
    "  K: \"1/(1.2 + sin(2*pi*x/eps))\"\n"
    "  q: \"-3*(2*x - 1)\"\n"
    "  collocation: {points: 64}\n"
    "  validation: {points: 101}\n"
    "  reference: {integral_intervals: 2000}\n"
    "network: {plugin: msff, width: 8, depth: 2, features: 8, sigmas: [1, 16], seed: 3}\n"
    "coarse: {plugin: p1_1d, elements: 16}\n"
    "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n"
    "stages:\n"
    "  - {name: warmup, iterations: 30, optimizer: {plugin: adam, lr: 5e-3, schedule: exponential, decay: 0.5, "
    "decay_every: 10}}\n"
    "  - {iterations: 25, tau2: 100, optimizer: {plugin: lbfgs}}\n"
    "output: {log_every: 5, checkpoint_every: 10}\n";

static hp_registry *registry;

static int setup(void **state) {
    (void)state;
    return hp_registry_open(&registry) == HP_OK ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    hp_registry_close(registry);
    return 0;
}

static hp_config *load(const char *text) {
    hp_config *c = NULL;
    hp_status st = hp_config_load_string(text, strlen(text), "tiny.yaml", &c);
    if (st != HP_OK) fail_msg("config: %s", hp_error_message());
    return c;
}

/* The wrapper objective: counts evaluations, can turn NaN or raise the interrupt
 * flag after a given number of them (deterministic failure injection). */
typedef struct wrapper {
    hp_objective inner;
    long evaluations;
    long nan_after;       /* > 0: from this evaluation on, the value is NaN */
    int nan_in_gradient;  /* NaN in the gradient instead of the value */
    long interrupt_after; /* > 0: raise *flag at this evaluation */
    volatile sig_atomic_t *flag;
} wrapper;

static hp_status wrapped_value_and_gradient(void *ctx, const double *theta, double *value, double *grad) {
    wrapper *w = ctx;
    HP_CALL(w->inner.value_and_gradient(w->inner.ctx, theta, value, grad));
    w->evaluations++;
    if (w->nan_after > 0 && w->evaluations >= w->nan_after) {
        if (w->nan_in_gradient && grad) grad[0] = NAN;
        else if (!w->nan_in_gradient) *value = NAN;
    }
    if (w->interrupt_after > 0 && w->evaluations == w->interrupt_after) *w->flag = 1;
    return HP_OK;
}

typedef struct run_spec {
    const char *dir;
    int resume;
    uint64_t crash_after; /* > 0: abandon the run after this iteration (as if killed) */
    wrapper *wrap;        /* NULL: the plain objective */
    volatile sig_atomic_t *interrupt;
    const char *run_id;   /* NULL: RUN_A */
    void (*on_progress)(void *ctx, uint64_t iteration, double elapsed, double remaining, int estimated);
    void *on_progress_ctx;
} run_spec;

#define RUN_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define RUN_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static int abandon_after(void *ctx, uint64_t iteration) { return iteration >= *(const uint64_t *)ctx; }

/* Run the tiny pipeline into spec->dir; returns the status, result in *res. */
static hp_status train(const char *text, const run_spec *spec, hp__trainer_result *res) {
    mkdir(spec->dir, 0777);
    hp_config *c = load(text);
    hp__hybrid *h = NULL;
    hp_status st = hp__hybrid_create(c, registry, NULL, NULL, &h);
    if (st != HP_OK) fail_msg("hybrid: %s", hp_error_message());
    char *resolved = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&resolved, &len);
    OK(hp_config_resolve(c, registry, mem));
    fclose(mem);
    size_t n = hp__hybrid_n_params(h);
    double *theta = calloc(n, sizeof *theta);
    assert_int_equal(hp__hybrid_init_params(h, theta), HP_OK);
    hp_objective objective = hp__hybrid_objective(h);
    hp__trainer_options o;
    memset(&o, 0, sizeof o);
    o.out_dir = spec->dir;
    o.run_id = spec->run_id ? spec->run_id : RUN_A;
    o.config_text = resolved;
    o.resume = spec->resume;
    o.progress = HP__PROGRESS_QUIET;
    o.interrupt = spec->interrupt;
    o.on_progress = spec->on_progress;
    o.on_progress_ctx = spec->on_progress_ctx;
    uint64_t crash = spec->crash_after;
    if (crash) {
        o.on_step = abandon_after;
        o.on_step_ctx = &crash;
    }
    if (spec->wrap) {
        spec->wrap->inner = objective;
        objective.ctx = spec->wrap;
        objective.value_and_gradient = wrapped_value_and_gradient;
        objective.residuals_and_jacobian = NULL;
    }
    hp__trainer *t = NULL;
    memset(res, 0, sizeof *res);
    st = hp__trainer_create(c, registry, h, &objective, theta, &o, &t);
    if (st == HP_OK) st = hp__trainer_run(t, res);
    hp__trainer_destroy(t);
    free(resolved);
    free(theta);
    hp__hybrid_destroy(h);
    hp_config_destroy(c);
    return st;
}

/* history.csv without the seconds column (the one column allowed to differ). */
static char *history_without_seconds(const char *dir) {
    char path[256];
    snprintf(path, sizeof path, "%s/history.csv", dir);
    char *text = hp_test_read_file(path);
    if (!text) fail_msg("no %s", path);
    char *out = malloc(strlen(text) + 1), *o = out;
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
        char *c1 = memchr(line, ',', len);
        char *c2 = c1 ? memchr(c1 + 1, ',', len - (size_t)(c1 + 1 - line)) : NULL;
        if (!c1 || !c2) fail_msg("malformed history line in %s: %.*s", path, (int)len, line);
        memcpy(o, line, (size_t)(c1 - line));
        o += c1 - line;
        memcpy(o, c2, len - (size_t)(c2 - line));
        o += len - (size_t)(c2 - line);
        line += len;
    }
    *o = '\0';
    free(text);
    return out;
}

/* events.jsonl of dir: every line is one JSON object with "event", "time" and
 * "elapsed"; the row events are the rows of history.csv, one for one, with the
 * same columns and values. Returns the sequence "event@iteration " of the file
 * (malloc'ed; "-" for events without an iteration). */
static char *check_events(const char *dir) {
    char path[256];
    snprintf(path, sizeof path, "%s/history.csv", dir);
    char *hist = hp_test_read_file(path);
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    char *events = hp_test_read_file(path);
    if (!hist || !events) fail_msg("%s: no history.csv or events.jsonl", dir);
    char names[32][32];
    int n_names = 0;
    char *hsave = NULL, *hline = strtok_r(hist, "\n", &hsave);
    for (char *s2 = NULL, *tok = strtok_r(hline, ",", &s2); tok && n_names < 32; tok = strtok_r(NULL, ",", &s2))
        snprintf(names[n_names++], 32, "%s", tok);
    size_t cap = strlen(events) + 1, used = 0;
    char *seq = calloc(cap, 1);
    int line_no = 0, rows = 0;
    for (char *esave = NULL, *line = strtok_r(events, "\n", &esave); line; line = strtok_r(NULL, "\n", &esave)) {
        line_no++;
        hp_test_json_member m[96];
        int n = hp_test_json_object(line, m, 96);
        if (n < 0) fail_msg("%s line %d is not a JSON object: %s", path, line_no, line);
        char type[32];
        const hp_test_json_member *ev = hp_test_json_get(m, n, "event");
        if (!ev || !hp_test_json_string_of(ev, type, sizeof type)) fail_msg("%s line %d: no \"event\"", path, line_no);
        if (!hp_test_json_get(m, n, "time") || !hp_test_json_get(m, n, "elapsed"))
            fail_msg("%s line %d: no time or elapsed", path, line_no);
        const hp_test_json_member *it = hp_test_json_get(m, n, "iteration");
        char itext[32] = "-";
        if (it) snprintf(itext, sizeof itext, "%.0f", hp_test_json_number_of(it));
        used += (size_t)snprintf(seq + used, cap - used, "%s@%s ", type, itext);
        if (strcmp(type, "row") != 0) continue;
        char *row = strtok_r(NULL, "\n", &hsave);
        if (!row) fail_msg("%s line %d: a row event beyond the %d rows of history.csv", path, line_no, rows);
        rows++;
        int c = 0;
        for (char *s2 = NULL, *tok = strtok_r(row, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2), c++) {
            const hp_test_json_member *v = c < n_names ? hp_test_json_get(m, n, names[c]) : NULL;
            if (!v) fail_msg("%s line %d: no %s", path, line_no, c < n_names ? names[c] : "(extra column)");
            double a = strtod(tok, NULL), b = hp_test_json_number_of(v);
            if (!(a == b || (isnan(a) && isnan(b))))
                fail_msg("%s line %d: %s = %.17g, history.csv row %d has %s", path, line_no, names[c], b, rows, tok);
        }
        if (c != n_names) fail_msg("history.csv row %d has %d fields", rows, c);
    }
    if (strtok_r(NULL, "\n", &hsave)) fail_msg("%s: history.csv has more rows than the %d row events", dir, rows);
    free(hist);
    free(events);
    return seq;
}

/* seq without the entries of one event type */
static void drop_events(char *seq, const char *type) {
    char pat[40];
    snprintf(pat, sizeof pat, "%s@", type);
    for (char *p; (p = strstr(seq, pat)) && (p == seq || p[-1] == ' ');) {
        char *end = strchr(p, ' ');
        memmove(p, end + 1, strlen(end + 1) + 1);
    }
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static char *reference_history;
static char *reference_events; /* check_events of the uninterrupted run */

static void test_same_run_same_history(void **state) {
    (void)state;
    hp__trainer_result r1, r2;
    run_spec a = {"tr_full", 0, 0, NULL, NULL, NULL, NULL, NULL}, b = {"tr_full2", 0, 0, NULL, NULL, NULL, NULL, NULL};
    if (train(pipeline_text, &a, &r1) != HP_OK) fail_msg("%s", hp_error_message());
    assert_int_equal(train(pipeline_text, &b, &r2), HP_OK);
    assert_true(r1.completed);
    assert_int_equal(r1.n_stages, 2);
    assert_string_equal(r1.stages[0].name, "warmup");
    assert_string_equal(r1.stages[1].name, "stage 1");
    assert_string_equal(r1.stages[1].optimizer, "lbfgs");
    assert_true(r1.iterations > 30 && r1.iterations <= 55);
    reference_history = history_without_seconds("tr_full");
    char *second = history_without_seconds("tr_full2");
    assert_string_equal(reference_history, second);
    free(second);
    /* events.jsonl: run start, the stages, the rows of history.csv, checkpoints, the finish */
    reference_events = check_events("tr_full");
    char *events2 = check_events("tr_full2");
    assert_string_equal(reference_events, events2);
    free(events2);
    assert_true(strncmp(reference_events, "run_start@- stage_start@0 row@0 row@5 ", 38) == 0);
    assert_contains(reference_events, "row@10 checkpoint@10 row@15 ");
    assert_contains(reference_events, "row@30 checkpoint@30 stage_end@30 stage_start@30 row@35 ");
    char tail[128];
    snprintf(tail, sizeof tail, "checkpoint@%llu stage_end@%llu finish@%llu ", (unsigned long long)r1.iterations,
             (unsigned long long)r1.iterations, (unsigned long long)r1.iterations);
    assert_true(strlen(reference_events) > strlen(tail));
    assert_string_equal(reference_events + strlen(reference_events) - strlen(tail), tail);
    char *first_line = hp_test_read_file("tr_full/events.jsonl");
    static const char start[] = "{\"event\": \"run_start\", \"time\": ";
    assert_true(strncmp(first_line, start, sizeof start - 1) == 0);
    assert_contains(first_line, "\"run_id\": \"" RUN_A "\"");
    assert_contains(first_line, "\"stages\": [{\"name\": \"warmup\", \"optimizer\": \"adam\", \"iterations\": 30");
    assert_contains(first_line, "\"resolved_config\": \"");
    free(first_line);
    /* header, row 0, a row every 5 iterations and at each stage end or stop */
    assert_contains(reference_history,
                    "iteration,J_pinn,boundary,R,J_hat,rel_l2,fine_residual,k_0_0_0,fallback,fallback_steps,stage\n0,");
    assert_contains(reference_history, "\n30,");
    assert_true(count_lines(reference_history) >= 1 + 1 + 6 + 1);
    /* the final checkpoint is in the last stage, with its optimizer (the run can be extended) */
    hp__checkpoint ck;
    OK(hp__checkpoint_read("tr_full", HP__CHECKPOINT_FILE, 0, &ck));
    assert_int_equal(ck.stage, 1);
    assert_int_equal(ck.iteration, r1.iterations);
    assert_string_equal(ck.optimizer, "lbfgs");
    assert_string_equal(ck.run_id, RUN_A);
    hp__checkpoint_clear(&ck);
}

/* Crash after `crash` iterations (the last checkpoint is earlier, rows after it
 * exist), resume, compare with the uninterrupted history. */
static void crash_and_resume_pipeline(const char *text, const char *reference, const char *dir, uint64_t crash) {
    hp__trainer_result r;
    run_spec first = {dir, 0, crash, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(train(text, &first, &r), HP_OK);
    assert_true(r.abandoned);
    assert_false(r.completed);
    run_spec again = {dir, 1, 0, NULL, NULL, NULL, NULL, NULL};
    if (train(text, &again, &r) != HP_OK) fail_msg("resume after %llu: %s", (unsigned long long)crash,
                                                     hp_error_message());
    assert_true(r.completed);
    char *h = history_without_seconds(dir);
    assert_string_equal(h, reference);
    free(h);
    /* events.jsonl was cut where history.csv was: its rows are the history's, and
     * but for the resume it is the uninterrupted run's sequence */
    char *seq = check_events(dir);
    assert_contains(seq, " resume@");
    drop_events(seq, "resume");
    if (reference == reference_history) assert_string_equal(seq, reference_events);
    free(seq);
}

static void crash_and_resume(const char *dir, uint64_t crash) {
    crash_and_resume_pipeline(pipeline_text, reference_history, dir, crash);
}

static void test_resume_equals_uninterrupted(void **state) {
    (void)state;
    assert_non_null(reference_history);
    /* a crash before the first checkpoint leaves nothing to resume */
    hp__trainer_result r;
    run_spec early = {"tr_crash7", 0, 7, NULL, NULL, NULL, NULL, NULL}, again = {"tr_crash7", 1, 0, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(train(pipeline_text, &early, &r), HP_OK);
    assert_int_equal(train(pipeline_text, &again, &r), HP_ERR_NOT_FOUND);
    assert_contains(hp_error_message(), "cannot resume tr_crash7: no checkpoint there");
    crash_and_resume("tr_crash13", 13); /* inside stage 0 (adam), checkpoint at 10 */
    crash_and_resume("tr_crash23", 23); /* inside stage 0 (adam), checkpoint at 20 */
    crash_and_resume("tr_crash30", 30); /* exactly at the stage boundary, checkpoint at 30 */
    crash_and_resume("tr_crash44", 44); /* inside stage 1 (lbfgs), checkpoint at 40 */
}

/* Resampled collocation points (Sobol blocks every 7 iterations, RAD from 4x
 * candidates): the run is deterministic, differs from the fixed-point run, and a
 * resume between two resamplings (checkpoints every 10) continues with the
 * points the checkpoint holds, giving the uninterrupted history. */
static void test_resampling_resumes_exactly(void **state) {
    (void)state;
    char text[4096];
    const char *from = "collocation: {points: 64}";
    const char *at = strstr(pipeline_text, from);
    snprintf(text, sizeof text, "%.*scollocation: {points: 64, sampling: sobol, resample_every: 7, adaptive: rad, "
                                "rad_candidates: 256}%s",
             (int)(at - pipeline_text), pipeline_text, at + strlen(from));
    hp__trainer_result r;
    run_spec a = {"tr_rad", 0, 0, NULL, NULL, NULL, NULL, NULL}, b = {"tr_rad2", 0, 0, NULL, NULL, NULL, NULL, NULL};
    if (train(text, &a, &r) != HP_OK) fail_msg("%s", hp_error_message());
    assert_true(r.completed);
    assert_true(r.resamples >= 5);
    char *rad = history_without_seconds("tr_rad");
    assert_int_equal(train(text, &b, &r), HP_OK);
    char *rad2 = history_without_seconds("tr_rad2");
    assert_string_equal(rad, rad2);
    assert_string_not_equal(rad, reference_history);
    crash_and_resume_pipeline(text, rad, "tr_rad_crash13", 13); /* resampled at 7, checkpoint at 10 */
    crash_and_resume_pipeline(text, rad, "tr_rad_crash44", 44); /* inside stage 1 (lbfgs) */
    free(rad);
    free(rad2);
}

static void test_interrupt_checkpoints_and_resumes(void **state) {
    (void)state;
    volatile sig_atomic_t flag = 0;
    wrapper w;
    memset(&w, 0, sizeof w);
    w.interrupt_after = 19; /* some evaluation inside stage 0 */
    w.flag = &flag;
    hp__trainer_result r;
    run_spec first = {"tr_int", 0, 0, &w, &flag, NULL, NULL, NULL};
    assert_int_equal(train(pipeline_text, &first, &r), HP_OK);
    assert_true(r.interrupted);
    assert_false(r.completed);
    hp__checkpoint ck;
    OK(hp__checkpoint_read("tr_int", HP__CHECKPOINT_FILE, 0, &ck));
    assert_int_equal(ck.iteration, r.iterations); /* written at the interruption, not at 10 */
    assert_true(ck.iteration > 10 && ck.iteration < 30);
    uint64_t ck_iteration = ck.iteration;
    hp__checkpoint_clear(&ck);
    run_spec again = {"tr_int", 1, 0, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(train(pipeline_text, &again, &r), HP_OK);
    char *h = history_without_seconds("tr_int");
    assert_string_equal(h, reference_history);
    free(h);
    /* the interrupt is logged before its checkpoint, so the resume keeps it */
    char *seq = check_events("tr_int"), expect[96];
    snprintf(expect, sizeof expect, " interrupt@%llu checkpoint@%llu resume@%llu ", (unsigned long long)ck_iteration,
             (unsigned long long)ck_iteration, (unsigned long long)ck_iteration);
    assert_contains(seq, expect);
    free(seq);
}

static void nan_stop(const char *dir, long nan_after, int in_gradient, uint64_t good_iteration,
                     const char *first_bad_row) {
    wrapper w;
    memset(&w, 0, sizeof w);
    w.nan_after = nan_after;
    w.nan_in_gradient = in_gradient;
    hp__trainer_result r;
    run_spec spec = {dir, 0, 0, &w, NULL, NULL, NULL, NULL};
    hp_status st = train(pipeline_text, &spec, &r);
    if (st != HP_ERR_NUMERIC) fail_msg("status %d, stop reason '%s', message '%s'", st, r.stop_reason, hp_error_message());
    assert_contains(hp_error_message(), "training stopped at iteration");
    char expect[96];
    snprintf(expect, sizeof expect, "the last good checkpoint (iteration %llu)", (unsigned long long)good_iteration);
    assert_contains(hp_error_message(), expect);
    assert_false(r.completed);
    assert_true(r.diverged);
    assert_contains(r.stop_reason, "stopped at iteration");
    hp__checkpoint ck;
    OK(hp__checkpoint_read(dir, HP__CHECKPOINT_FILE, 0, &ck)); /* intact, finite, the good one */
    assert_int_equal(ck.iteration, good_iteration);
    hp__checkpoint_clear(&ck);
    /* the history up to the failure is the uninterrupted one, and no row is written
     * for the bad state */
    char *h = history_without_seconds(dir);
    size_t upto = (size_t)(strstr(reference_history, first_bad_row) - reference_history) + 1;
    assert_int_equal(strlen(h), upto);
    assert_memory_equal(h, reference_history, upto);
    free(h);
}

static void test_nan_stop_keeps_last_checkpoint(void **state) {
    (void)state;
    /* Evaluations: 1 for row 0, then per 5 iterations 5 steps + 1 row (checkpoints
     * at 10, 20, 30 reuse the row's value): iteration 20's row is evaluation 25,
     * iteration 30's is 37. */
    nan_stop("tr_nan_adam", 28, 0, 20, "\n25,"); /* value NaN at Adam's step 23 */
    nan_stop("tr_nan_grad", 28, 1, 20, "\n25,"); /* gradient NaN at Adam's step 23 */
    nan_stop("tr_nan_lbfgs", 40, 0, 30, "\n35,"); /* value NaN inside L-BFGS's first line search */
}

static void flip_byte(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, at, SEEK_SET);
    int byte = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(byte ^ 0x40, f);
    fclose(f);
}

static void test_damaged_checkpoint_falls_back(void **state) {
    (void)state;
    hp__trainer_result r;
    run_spec first = {"tr_prev", 0, 23, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(train(pipeline_text, &first, &r), HP_OK);
    /* checkpoints at 10 and 20: the newest is damaged, the one before it resumes */
    flip_byte("tr_prev/checkpoint.bin", 200);
    run_spec again = {"tr_prev", 1, 0, NULL, NULL, NULL, NULL, NULL};
    if (train(pipeline_text, &again, &r) != HP_OK) fail_msg("%s", hp_error_message());
    assert_true(r.completed);
    char *h = history_without_seconds("tr_prev");
    assert_string_equal(h, reference_history);
    free(h);
    /* both damaged: refused, naming the newest */
    run_spec redo = {"tr_prev", 0, 23, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(train(pipeline_text, &redo, &r), HP_OK);
    flip_byte("tr_prev/checkpoint.bin", 200);
    flip_byte("tr_prev/checkpoint.prev.bin", 200);
    assert_int_equal(train(pipeline_text, &again, &r), HP_ERR_CORRUPT);
    assert_contains(hp_error_message(), "tr_prev/checkpoint.bin is corrupted: checksum mismatch");
    assert_contains(hp_error_message(), "no good checkpoint.prev.bin to fall back on");
}

static void test_resume_refusals(void **state) {
    (void)state;
    hp__trainer_result r;
    run_spec first = {"tr_bad", 0, 23, NULL, NULL, NULL, NULL, NULL};
    run_spec again = {"tr_bad", 1, 0, NULL, NULL, NULL, NULL, NULL};
    /* history shorter than the checkpoint says */
    assert_int_equal(train(pipeline_text, &first, &r), HP_OK);
    assert_int_equal(truncate("tr_bad/history.csv", 100), 0);
    assert_int_equal(train(pipeline_text, &again, &r), HP_ERR_CORRUPT);
    assert_contains(hp_error_message(), "tr_bad/history.csv has 100 bytes but the checkpoint covers");
    /* a history row edited (same length): the checksum of the covered rows differs */
    assert_int_equal(train(pipeline_text, &first, &r), HP_OK);
    char *text = hp_test_read_file("tr_bad/history.csv");
    char *row = strstr(text, "\n5,");
    assert_non_null(row);
    row[1] = '6';
    hp_test_write_file("tr_bad/history.csv", text);
    free(text);
    assert_int_equal(train(pipeline_text, &again, &r), HP_ERR_CORRUPT);
    assert_contains(hp_error_message(), "history.csv does not match its checkpoint");
    /* a checkpoint of another run (same architecture) */
    assert_int_equal(train(pipeline_text, &first, &r), HP_OK);
    run_spec foreign = {"tr_bad", 1, 0, NULL, NULL, RUN_B, NULL, NULL};
    assert_int_equal(train(pipeline_text, &foreign, &r), HP_ERR_CORRUPT);
    assert_contains(hp_error_message(), "its checkpoint belongs to run " RUN_A);
    assert_contains(hp_error_message(), "copied from another run");
    /* a changed pipeline: learning rate, seed, K, tau2, sigmas */
    static const char *const edits[][3] = {
        {"lr: 5e-3", "lr: 6e-3", "stages[0].optimizer.lr changed from 0.0050000000000000001 to 0.0060000000000000001"},
        {"seed: 3", "seed: 4", "network.seed changed from 3 to 4"},
        {"1/(1.2 + sin", "1/(1.3 + sin", "problem.K changed"},
        {"tau2: 10}", "tau2: 11}", "coupling.tau2 changed from 10 to 11"},
        {"sigmas: [1, 16]", "sigmas: [1, 17]", "network.sigmas[1] changed from 16 to 17"},
        {"tau2: 100,", "tau2: 101,", "stages[1].tau2 changed from 100 to 101"},
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        char *edited = malloc(strlen(pipeline_text) + 8);
        strcpy(edited, pipeline_text);
        char *at = strstr(edited, edits[e][0]);
        if (!at) fail_msg("test bug: %s not in the pipeline", edits[e][0]);
        memmove(at + strlen(edits[e][1]), at + strlen(edits[e][0]), strlen(at + strlen(edits[e][0])) + 1);
        memcpy(at, edits[e][1], strlen(edits[e][1]));
        long before = -1;
        FILE *f = fopen("tr_bad/history.csv", "rb");
        if (f) {
            fseek(f, 0, SEEK_END);
            before = ftell(f);
            fclose(f);
        }
        assert_int_equal(train(edited, &again, &r), HP_ERR_CONFIG);
        assert_contains(hp_error_message(), "cannot resume tr_bad: ");
        assert_contains(hp_error_message(), edits[e][2]);
        f = fopen("tr_bad/history.csv", "rb"); /* nothing was touched */
        fseek(f, 0, SEEK_END);
        assert_int_equal(ftell(f), before);
        fclose(f);
        free(edited);
    }
    /* no checkpoint at all */
    remove("tr_bad/checkpoint.bin");
    remove("tr_bad/checkpoint.prev.bin");
    assert_int_equal(train(pipeline_text, &again, &r), HP_ERR_NOT_FOUND);
    assert_contains(hp_error_message(), "cannot resume tr_bad: no checkpoint there");
}

/* A pipeline to resume with, whether the rules accept it, and else what the
 * refusal says. */
typedef struct resume_case {
    const char *now;
    int ok;
    const char *message;
} resume_case;

/* Each case against `then` at pos; plugin_keys: an accepted case is one new
 * plugin key, which without the registry (nothing says its default) is refused. */
static void check_resume_cases(const char *then, const resume_case *cases, size_t count, hp__resume_position pos,
                               int plugin_keys) {
    for (size_t k = 0; k < count; k++) {
        size_t changes = 0;
        hp_status st = hp__resume_rules_check(then, cases[k].now, "old_run", pos, registry, &changes);
        if (!cases[k].ok) {
            assert_int_equal(st, HP_ERR_CONFIG);
            assert_contains(hp_error_message(), cases[k].message);
            continue;
        }
        if (st != HP_OK) fail_msg("case %zu refused: %s", k, hp_error_message());
        if (!plugin_keys) {
            assert_true(changes >= 1);
            continue;
        }
        assert_int_equal(changes, 1);
        assert_int_equal(hp__resume_rules_check(then, cases[k].now, "old_run", pos, NULL, &changes), HP_ERR_CONFIG);
        assert_contains(hp_error_message(), "changed from (absent) to");
    }
}

/* A checkpoint written before a key existed resumes when the new key is at its
 * default (the behaviour it had then), in a core section and in a stage; at any
 * other value it is a change, refused with both values. */
static void test_resume_new_key_at_default(void **state) {
    (void)state;
    const char *then = "problem:\n  dim: 1\n  K: \"1 + x\"\ncoupling:\n  tau2: 10\n"
                       "stages:\n  - iterations: 5\n";
    static const resume_case cases[] = {
        {"problem:\n  dim: 1\n  K: \"1 + x\"\n  residual_scale: none\ncoupling:\n  tau2: 10\n  tau3: 0\n"
         "stages:\n  - iterations: 5\n    divergence: 1e6\n", 1, NULL},
        {"problem:\n  dim: 1\n  K: \"1 + x\"\ncoupling:\n  tau2: 10\n  tau3: 0.0\nstages:\n  - iterations: 5\n", 1, NULL},
        {"problem:\n  dim: 1\n  K: \"1 + x\"\n  residual_scale: inverse_K\ncoupling:\n  tau2: 10\n"
         "stages:\n  - iterations: 5\n", 0, "problem.residual_scale changed from (absent) to inverse_K"},
        {"problem:\n  dim: 1\n  K: \"1 + x\"\ncoupling:\n  tau2: 10\n  tau3: 5\nstages:\n  - iterations: 5\n", 0,
         "coupling.tau3 changed from (absent) to 5"},
        {"problem:\n  dim: 1\n  K: \"1 + x\"\ncoupling:\n  tau2: 10\nstages:\n  - iterations: 5\n    tau3: 0\n", 0,
         "stages[0].tau3 changed from (absent) to 0"}, /* no default: absent means coupling.tau3 */
        {"problem:\n  dim: 1\n  K: \"1 + x\"\ncoupling:\n  tau2: 10\n  windowz: 1\nstages:\n  - iterations: 5\n", 0,
         "coupling.windowz changed from (absent) to 1"},
    };
    check_resume_cases(then, cases, sizeof cases / sizeof cases[0], (hp__resume_position){0, 3}, 0);
}

/* The same for a plugin's key (lm 1.2.0 added gram_precision): at the plugin's
 * default it is accepted in a stage that has run and in the network section;
 * at another value, or without the registry to say the default, refused. */
static void test_resume_new_plugin_key_at_default(void **state) {
    (void)state;
    const char *then = "network:\n  plugin: mlp\n  width: 8\nstages:\n  - iterations: 5\n    optimizer:\n"
                       "      plugin: lm\n      lambda0: 0.001\n  - iterations: 5\n";
    static const resume_case cases[] = {
        {"network:\n  plugin: mlp\n  width: 8\nstages:\n  - iterations: 5\n    optimizer:\n"
         "      plugin: lm\n      lambda0: 0.001\n      gram_precision: double\n  - iterations: 5\n", 1, NULL},
        {"network:\n  plugin: mlp\n  width: 8\nstages:\n  - iterations: 5\n    optimizer:\n"
         "      plugin: lm\n      lambda0: 0.001\n      gram_precision: single\n  - iterations: 5\n", 0,
         "stages[0].optimizer.gram_precision changed from (absent) to single"},
        {"network:\n  plugin: mlp\n  width: 8\n  activation: tanh\nstages:\n  - iterations: 5\n    optimizer:\n"
         "      plugin: lm\n      lambda0: 0.001\n  - iterations: 5\n", 1, NULL},
        {"network:\n  plugin: mlp\n  width: 8\n  activation: sin\nstages:\n  - iterations: 5\n    optimizer:\n"
         "      plugin: lm\n      lambda0: 0.001\n  - iterations: 5\n", 0,
         "network.activation changed from (absent) to sin"},
        {"network:\n  plugin: mlp\n  width: 8\nstages:\n  - iterations: 5\n    optimizer:\n"
         "      plugin: lm\n      lambda0: 0.001\n      no_such_key: 1\n  - iterations: 5\n", 0,
         "stages[0].optimizer.no_such_key changed from (absent) to 1"},
    };
    check_resume_cases(then, cases, sizeof cases / sizeof cases[0], (hp__resume_position){1, 2}, 1);
}

/* Extending a run: a stage appended after the last one, or more iterations of
 * the last stage, continue from the final checkpoint; the history up to it is
 * unchanged and a fresh run of the extended pipeline gives the same rows. */
static void test_extend_finished_run(void **state) {
    (void)state;
    hp__trainer_result r;
    run_spec fresh = {"tr_ext", 0, 0, NULL, NULL, NULL, NULL, NULL}, again = {"tr_ext", 1, 0, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(train(pipeline_text, &fresh, &r), HP_OK);
    uint64_t done = r.iterations;
    char *longer = malloc(strlen(pipeline_text) + 128);
    strcpy(longer, pipeline_text);
    char *out = strstr(longer, "output:");
    const char *extra = "  - {name: more, iterations: 6, optimizer: {plugin: adam, lr: 1e-3}}\n";
    memmove(out + strlen(extra), out, strlen(out) + 1);
    memcpy(out, extra, strlen(extra));
    if (train(longer, &again, &r) != HP_OK) fail_msg("extending: %s", hp_error_message());
    assert_true(r.completed);
    assert_int_equal(r.iterations, done + 6);
    char *h = history_without_seconds("tr_ext");
    assert_memory_equal(h, reference_history, strlen(reference_history));
    run_spec whole = {"tr_ext2", 0, 0, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(train(longer, &whole, &r), HP_OK);
    char *h2 = history_without_seconds("tr_ext2");
    assert_string_equal(h, h2);
    free(h);
    free(h2);
    /* the extended run's events are the whole run's, but for where checkpoints were written:
     * the finished run's last stage_end and finish were cut at its final checkpoint */
    char *e1 = check_events("tr_ext"), *e2 = check_events("tr_ext2");
    drop_events(e1, "checkpoint");
    drop_events(e1, "resume");
    drop_events(e2, "checkpoint");
    assert_string_equal(e1, e2);
    free(e1);
    free(e2);
    /* the steps already taken in a stage cannot be taken back */
    char *shorter = malloc(strlen(longer) + 1);
    strcpy(shorter, longer);
    memcpy(strstr(shorter, "iterations: 6"), "iterations: 2", 13);
    assert_int_equal(train(shorter, &again, &r), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "stages[2].iterations changed from 6 to 2, below the 6 steps");
    free(shorter);
    free(longer);
}

/* The ETA of a two-stage run, Adam then Levenberg–Marquardt (whose steps cost
 * about 30 Adam steps here, and which takes most of the time): at the midpoint
 * of the run by wall time, which falls inside the LM stage, the estimate of the
 * time left is within 30% of the time that was actually left. Only this ratio
 * is asserted, never a wall time; a machine too loaded to keep step times
 * steady gets a second run. */
typedef struct eta_trace {
    size_t n;
    double elapsed[512], remaining[512];
    int estimated[512];
} eta_trace;

static void record_eta(void *ctx, uint64_t iteration, double elapsed, double remaining, int estimated) {
    eta_trace *tr = ctx;
    (void)iteration;
    if (tr->n < 512) {
        tr->elapsed[tr->n] = elapsed;
        tr->remaining[tr->n] = remaining;
        tr->estimated[tr->n++] = estimated;
    }
}

static int eta_at_midpoint(const char *dir, double *ratio) {
    static const char *text =
        "constants: {eps: 0.0625}\n"
        "problem: {K: \"1/(1.2 + sin(2*pi*x/eps))\", q: \"-3*(2*x - 1)\", collocation: {points: 600},\n"
        "          validation: {points: 101}, reference: {integral_intervals: 2000}}\n"
        "network: {plugin: msff, width: 24, depth: 2, features: 24, sigmas: [1, 16], seed: 3}\n"
        "coarse: {plugin: p1_1d, elements: 16}\n"
        "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n"
        "stages:\n"
        "  - {iterations: 200, optimizer: {plugin: adam, lr: 2e-3}}\n"
        "  - {iterations: 80, optimizer: {plugin: lm}}\n"
        "output: {log_every: 1000, checkpoint_every: 0}\n";
    static eta_trace tr;
    memset(&tr, 0, sizeof tr);
    hp__trainer_result r;
    run_spec spec = {dir, 0, 0, NULL, NULL, NULL, record_eta, &tr};
    if (train(text, &spec, &r) != HP_OK) fail_msg("%s", hp_error_message());
    assert_true(r.completed);
    assert_int_equal(tr.n, 280);
    double total = tr.elapsed[tr.n - 1];
    size_t mid = 0;
    for (size_t i = 0; i < tr.n; i++)
        if (fabs(tr.elapsed[i] - total / 2) < fabs(tr.elapsed[mid] - total / 2)) mid = i;
    double truth = total - tr.elapsed[mid];
    *ratio = tr.remaining[mid] / truth;
    print_message("ETA at the midpoint (step %zu of %zu, %.3f of %.3f s): %.3f s, %.3f s left in fact (ratio %.2f)\n",
                  mid + 1, tr.n, tr.elapsed[mid], total, tr.remaining[mid], truth, *ratio);
    print_message("first estimate, from the optimizers' cost hints: %.3f s; %.3f s were left (ratio %.2f)\n",
                  tr.remaining[0], total - tr.elapsed[0], tr.remaining[0] / (total - tr.elapsed[0]));
    if (mid < 200) fail_msg("the midpoint fell in the Adam stage (step %zu): LM was not the expensive stage", mid + 1);
    assert_false(tr.estimated[mid]); /* measured: the LM stage's own steps */
    /* the first estimate, before any step was measured, comes from the cost hints */
    assert_true(tr.estimated[0]);
    return *ratio >= 0.25 && *ratio <= 4.0;
}

/* The ETA of a real two-stage run against its true remaining time. The rule
 * itself is checked exactly on a clock of its own (test_trainer_eta.c); here
 * the wall time of a machine that may be shared decides, so the bound is a
 * factor 4 either way: what it catches is a wrong rule (a stage priced at
 * another's rate, the first step's allocations taken for every step), which
 * is off by more, not the noise of a busy core. */
static void test_eta_two_stages(void **state) {
    (void)state;
    /* one BLAS thread: on a shared machine a two-thread GEMM waits for the busy
     * core at random, which no estimate can foresee */
    int threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    double ratio;
    int ok = eta_at_midpoint("tr_eta", &ratio);
    if (!ok) {
        print_message("ratio %.2f outside [0.25, 4]; the machine may be loaded: once more\n", ratio);
        ok = eta_at_midpoint("tr_eta2", &ratio);
    }
    openblas_set_num_threads(threads);
    if (!ok) fail_msg("ETA / true remaining time = %.2f twice", ratio);
}

/* Adam with a huge learning rate: the loss explodes, the run stops as diverged
 * (not completed), and the checkpoint before the explosion stays. */
static void test_divergence_stops(void **state) {
    (void)state;
    char *wild = malloc(strlen(pipeline_text) + 8);
    strcpy(wild, pipeline_text);
    char *s1 = strstr(wild, "  - {iterations: 25");
    const char *stage = "  - {iterations: 25, optimizer: {plugin: adam, lr: 1e30}}\n";
    strcpy(s1, stage);
    strcat(wild, "output: {log_every: 5, checkpoint_every: 10}\n");
    hp__trainer_result r;
    run_spec spec = {"tr_div", 0, 0, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(train(wild, &spec, &r), HP_ERR_NUMERIC);
    assert_true(r.diverged);
    assert_false(r.completed);
    assert_contains(hp_error_message(), "the loss diverged");
    assert_contains(hp_error_message(), "the last good checkpoint (iteration 30)");
    hp__checkpoint ck;
    OK(hp__checkpoint_read("tr_div", HP__CHECKPOINT_FILE, 0, &ck));
    assert_int_equal(ck.iteration, 30);
    hp__checkpoint_clear(&ck);
    free(wild);
}

static void test_missing_stages(void **state) {
    (void)state;
    char *text = malloc(strlen(pipeline_text) + 1);
    strcpy(text, pipeline_text);
    char *s = strstr(text, "stages:");
    char *o = strstr(text, "output:");
    memmove(s, o, strlen(o) + 1);
    hp__trainer_result r;
    run_spec spec = {"tr_nostages", 0, 0, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(train(text, &spec, &r), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "stages: missing; expected a list of training stages");
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_run_same_history),
        cmocka_unit_test(test_resume_equals_uninterrupted),
        cmocka_unit_test(test_resampling_resumes_exactly),
        cmocka_unit_test(test_interrupt_checkpoints_and_resumes),
        cmocka_unit_test(test_nan_stop_keeps_last_checkpoint),
        cmocka_unit_test(test_damaged_checkpoint_falls_back),
        cmocka_unit_test(test_resume_refusals),
        cmocka_unit_test(test_resume_new_key_at_default),
        cmocka_unit_test(test_resume_new_plugin_key_at_default),
        cmocka_unit_test(test_extend_finished_run),
        cmocka_unit_test(test_divergence_stops),
        cmocka_unit_test(test_eta_two_stages),
        cmocka_unit_test(test_missing_stages),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    free(reference_history);
    return rc;
}
