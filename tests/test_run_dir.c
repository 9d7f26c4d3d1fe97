/* test_run_dir.c — a run directory belongs to one run, driven through the CLI:
 * a second run or resume into a directory in use is refused naming the holder's
 * pid (and the first run's history is not mixed); a checkpoint copied from
 * another run, an edited config.resolved.yaml or a swapped optimizer are refused
 * on resume without touching a file; --force validates completely before it
 * clears anything, then clears the earlier outputs (fields, nodes, plots);
 * a diverging run exits 1, is not "completed" and keeps its last good
 * checkpoint; --resume --set extends a finished run. */
#include "test_util.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char out_text[1 << 16], err_text[1 << 16];

static int run(const char *args) {
    return hp_test_run_hpinn(args, "rundir", out_text, sizeof out_text, err_text, sizeof err_text);
}

static const char *pipeline =
    "constants: {eps: 0.0625}\n"
    "problem:\n"
    "  K: \"1/(1.2 + sin(2*pi*x/eps))\"\n"
    "  q: \"-3*(2*x - 1)\"\n"
    "  collocation: {points: 64}\n"
    "  validation: {points: 101}\n"
    "  reference: {integral_intervals: 2000}\n"
    "network: {plugin: msff, width: 8, depth: 2, features: 8, sigmas: [1, 16], seed: 1}\n"
    "coarse: {plugin: p1_1d, elements: 16}\n"
    "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n"
    "stages:\n"
    "  - {iterations: 40, optimizer: {plugin: adam, lr: 2e-3}}\n"
    "output: {log_every: 10, checkpoint_every: 20}\n";

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *slurp(const char *path) {
    char *t = hp_test_read_file(path);
    if (!t) fail_msg("missing %s", path);
    return t;
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void write_pipeline(const char *name, const char *from, const char *to) {
    char *text = strdup(pipeline);
    if (from) {
        char *at = strstr(text, from);
        if (!at) fail_msg("test bug: '%s' not in the pipeline", from);
        char *edited = malloc(strlen(text) + strlen(to) + 1);
        memcpy(edited, text, (size_t)(at - text));
        strcpy(edited + (at - text), to);
        strcat(edited, at + strlen(from));
        free(text);
        text = edited;
    }
    hp_test_write_file(name, text);
    free(text);
}

/* Replace the first `from` in a file by `to`. */
static void edit_file(const char *path, const char *from, const char *to) {
    char *text = slurp(path);
    char *at = strstr(text, from);
    if (!at) fail_msg("'%s' not in %s", from, path);
    char *edited = malloc(strlen(text) + strlen(to) + 1);
    memcpy(edited, text, (size_t)(at - text));
    strcpy(edited + (at - text), to);
    strcat(edited, at + strlen(from));
    hp_test_write_file(path, edited);
    free(edited);
    free(text);
}

static void test_concurrent_runs_are_refused(void **state) {
    (void)state;
    /* a long first run in the background */
    write_pipeline("long.yaml", "iterations: 40", "iterations: 200000");
    assert_int_equal(system("rm -rf rd_busy"), 0);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/bin/hpinn run long.yaml --out rd_busy >bg.out 2>bg.err & echo $! > bg.pid",
             getenv("HPINN_BUILD_DIR"));
    assert_int_equal(system(cmd), 0);
    char *pid_text = NULL;
    for (int i = 0; i < 600 && !exists("rd_busy/history.csv"); i++) sleep_ms(50);
    assert_true(exists("rd_busy/history.csv"));
    pid_text = slurp("bg.pid");
    long pid = strtol(pid_text, NULL, 10);
    free(pid_text);
    char expect[96];
    snprintf(expect, sizeof expect, "is in use by another hpinn process (pid %ld)", pid);
    write_pipeline("other.yaml", "seed: 1", "seed: 2");
    assert_int_equal(run("run other.yaml --out rd_busy"), 2);
    assert_contains(err_text, expect);
    assert_int_equal(run("run other.yaml --out rd_busy --force"), 2);
    assert_contains(err_text, expect);
    assert_int_equal(run("run --resume rd_busy"), 2);
    assert_contains(err_text, expect);
    /* kill the first run outright: the kernel releases its lock, the history is its own */
    kill((pid_t)pid, SIGKILL);
    for (int i = 0; i < 600 && kill((pid_t)pid, 0) == 0; i++) sleep_ms(50);
    (void)waitpid((pid_t)pid, NULL, WNOHANG);
    char *history = slurp("rd_busy/history.csv");
    long last = -1;
    for (char *save = NULL, *line = strtok_r(strchr(history, '\n'), "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        long it = strtol(line, NULL, 10);
        if (it <= last) fail_msg("history rows out of order (another run's rows mixed in): %ld after %ld", it, last);
        last = it;
    }
    free(history);
    char *config = slurp("rd_busy/config.resolved.yaml");
    assert_contains(config, "seed: 1");
    free(config);
    int rc = run("run other.yaml --out rd_busy --force");
    if (rc != 0) fail_msg("after the holder died: exit %d: %s", rc, err_text);
}

static void test_foreign_checkpoint_and_edits_refused(void **state) {
    (void)state;
    hp_test_write_file("base.yaml", pipeline);
    write_pipeline("seed2.yaml", "seed: 1", "seed: 2");
    int rc = run("run base.yaml --out rd_a --force --set stages[0].iterations=30");
    if (rc != 0) fail_msg("exit %d: %s", rc, err_text);
    rc = run("run base.yaml --out rd_b --force --set stages[0].iterations=30");
    if (rc != 0) fail_msg("exit %d: %s", rc, err_text);
    char *history = slurp("rd_a/history.csv"), *summary = slurp("rd_a/summary.json");
    /* another run's checkpoint (same architecture) copied in */
    assert_int_equal(system("cp rd_b/checkpoint.bin rd_a/checkpoint.bin"), 0);
    assert_int_equal(run("run --resume rd_a --set stages[0].iterations=40"), 1);
    assert_contains(err_text, "its checkpoint belongs to run");
    assert_contains(err_text, "copied from another run");
    char *h2 = slurp("rd_a/history.csv"), *s2 = slurp("rd_a/summary.json");
    assert_string_equal(h2, history);
    assert_string_equal(s2, summary);
    free(h2);
    free(s2);
    /* the run's own checkpoint back (from checkpoint.prev.bin's twin: rerun) */
    rc = run("run base.yaml --out rd_a --force --set stages[0].iterations=30");
    if (rc != 0) fail_msg("exit %d: %s", rc, err_text);
    free(history);
    history = slurp("rd_a/history.csv");
    /* edits of the resolved pipeline: each refused naming the key, nothing touched */
    static const char *const edits[][3] = {
        {"lr: 0.002", "lr: 0.003", "stages[0].optimizer.lr changed from 0.002 to 0.003"},
        {"seed: 1", "seed: 5", "seed changed from 1 to 5"},
        {"tau2: 10", "tau2: 12", "coupling.tau2 changed from 10 to 12"},
        {"plugin: adam", "plugin: lbfgs", "stages[0].optimizer"},
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        assert_int_equal(system("cp rd_a/config.resolved.yaml rd_a.saved.yaml"), 0);
        edit_file("rd_a/config.resolved.yaml", edits[e][0], edits[e][1]);
        assert_int_equal(run("run --resume rd_a --set stages[0].iterations=40"), 2);
        assert_contains(err_text, edits[e][2]);
        char *h = slurp("rd_a/history.csv");
        assert_string_equal(h, history);
        free(h);
        assert_int_equal(system("cp rd_a.saved.yaml rd_a/config.resolved.yaml"), 0);
    }
    /* the documented extension works and is recorded */
    rc = run("run --resume rd_a --set stages[0].iterations=40");
    if (rc != 0) fail_msg("exit %d: %s", rc, err_text);
    char *h = slurp("rd_a/history.csv");
    assert_memory_equal(h, history, strlen(history));
    assert_contains(h, "\n40,");
    char *config = slurp("rd_a/config.resolved.yaml");
    assert_contains(config, "iterations: 40");
    free(config);
    free(h);
    /* a finished run resumed without changes: nothing to do, nothing touched */
    char *before = slurp("rd_a/history.csv");
    assert_int_equal(run("run --resume rd_a"), 0);
    assert_contains(err_text, "is complete; nothing to resume");
    char *after = slurp("rd_a/history.csv");
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(history);
    free(summary);
}

static void test_force_validates_first_then_clears(void **state) {
    (void)state;
    hp_test_write_file("base.yaml", pipeline);
    int rc = run("run base.yaml --out rd_force --force --set stages[0].iterations=20");
    if (rc != 0) fail_msg("exit %d: %s", rc, err_text);
    assert_int_equal(system("mkdir -p rd_force/plots && echo x > rd_force/plots/solution.png"), 0);
    char *config = slurp("rd_force/config.resolved.yaml");
    /* a pipeline whose K is not positive: refused before anything is removed */
    write_pipeline("badk.yaml", "1/(1.2 + sin(2*pi*x/eps))", "sin(2*pi*x/eps)");
    assert_int_equal(run("run badk.yaml --out rd_force --force"), 2);
    assert_contains(err_text, "problem.K");
    assert_true(exists("rd_force/checkpoint.bin"));
    assert_true(exists("rd_force/fields.csv"));
    assert_true(exists("rd_force/plots/solution.png"));
    char *config2 = slurp("rd_force/config.resolved.yaml");
    assert_string_equal(config, config2);
    free(config2);
    /* a good pipeline with --force replaces the whole earlier run */
    assert_int_equal(system("echo keep > rd_force/notes.txt"), 0);
    write_pipeline("mlp.yaml", "network: {plugin: msff, width: 8, depth: 2, features: 8, sigmas: [1, 16], seed: 1}",
                   "network: {plugin: mlp, width: 8, depth: 2}");
    rc = run("run mlp.yaml --out rd_force --force --set stages[0].iterations=5 --set output.checkpoint_every=0");
    if (rc != 0) fail_msg("exit %d: %s", rc, err_text);
    assert_false(exists("rd_force/plots/solution.png"));
    assert_false(exists("rd_force/checkpoint.prev.bin")); /* the old run's checkpoints went with it */
    assert_true(exists("rd_force/notes.txt"));            /* what hpinn did not write stays */
    char *config3 = slurp("rd_force/config.resolved.yaml");
    assert_contains(config3, "plugin: mlp");
    free(config3);
    free(config);
}

static void test_divergence_exits_1_and_keeps_checkpoint(void **state) {
    (void)state;
    write_pipeline("wild.yaml", "optimizer: {plugin: adam, lr: 2e-3}}",
                   "optimizer: {plugin: adam, lr: 1e30}}\n"
                   "  - {iterations: 20, optimizer: {plugin: adam, lr: 2e-3}}");
    /* stage 0 explodes at once; to have a good checkpoint, train sanely first */
    write_pipeline("sane_then_wild.yaml", "  - {iterations: 40, optimizer: {plugin: adam, lr: 2e-3}}\n",
                   "  - {iterations: 20, optimizer: {plugin: adam, lr: 2e-3}}\n"
                   "  - {iterations: 20, optimizer: {plugin: adam, lr: 1e30}}\n");
    assert_int_equal(system("rm -rf rd_div"), 0);
    assert_int_equal(run("run sane_then_wild.yaml --out rd_div --set network.activation=softplus"), 1);
    assert_contains(err_text, "the loss diverged");
    assert_contains(err_text, "the last good checkpoint (iteration 20)");
    char *summary = slurp("rd_div/summary.json");
    assert_contains(summary, "\"completed\": false");
    assert_contains(summary, "\"diverged\": true");
    free(summary);
    assert_int_equal(run("run wild.yaml --out rd_div2 --force"), 1);
    assert_contains(err_text, "no checkpoint was written yet");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_runs_are_refused),
        cmocka_unit_test(test_foreign_checkpoint_and_edits_refused),
        cmocka_unit_test(test_force_validates_first_then_clears),
        cmocka_unit_test(test_divergence_exits_1_and_keeps_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
