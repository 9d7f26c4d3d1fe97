/* test_sweep_cli.c — `hpinn sweep` and the run metadata it relies on, on a
 * tiny 1-D pipeline (64 points, 8-wide network, tens of iterations):
 *   - the value splitting and the member names (unit tests of sweep_spec);
 *   - a grid with seeds and --jobs 2: directories, sweep.json, thread counts;
 *   - an interrupted sweep (SIGINT to the sweep alone): exit 130, the same
 *     command skips the finished member (history unchanged) and resumes the
 *     other to the history of an uninterrupted run (all but `seconds`);
 *   - a failing member: reported with its error, the others finish, exit 1;
 *     skipped on a rerun unless --retry-failed;
 *   - a changed grid or pipeline refused (exit 2) naming the difference;
 *   - the `sweep:` section: run accepts it, check validates it, sweep runs it;
 *   - summary.json's label, command line, overrides, git commit, machine. */
#include "test_util.h"

#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "json_in.h"
#include "sweep_spec.h"

static char out_text[1 << 16], err_text[1 << 16];

static int hpinn(const char *args) {
    return hp_test_run_hpinn(args, "sweep", out_text, sizeof out_text, err_text, sizeof err_text);
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
    "  - {iterations: 30, optimizer: {plugin: adam, lr: 2e-3}}\n"
    "output: {log_every: 10, checkpoint_every: 20}\n";

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static char *slurp(const char *path) {
    char *t = hp_test_read_file(path);
    if (!t) fail_msg("missing %s", path);
    return t;
}

/* The JSON of a record, parsed (the same reader compare uses: libyaml). */
static void load_json(const char *path, hp__json_doc *doc) {
    if (hp__json_load(path, doc) != HP_OK) fail_msg("%s: %s", path, hp_error_message());
}

static const hp__node *member(const hp__json_doc *sweep, size_t i) {
    const hp__node *m = hp__json_get(sweep->root, "members");
    assert_non_null(m);
    assert_true(i < m->count);
    return m->items[i];
}

static const char *member_str(const hp__json_doc *sweep, size_t i, const char *key) {
    return hp__json_str(hp__json_get(member(sweep, i), key));
}

/* history.csv without the `seconds` column (the one a resume may change). */
static char *history_without_seconds(const char *path) {
    char *text = slurp(path);
    size_t size = strlen(text) + 1, used = 0;
    char *out = calloc(size, 1);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *first = strchr(line, ','), *second = first ? strchr(first + 1, ',') : NULL;
        if (!second) fail_msg("%s: short line %s", path, line);
        *first = '\0';
        used += (size_t)snprintf(out + used, size - used, "%s%s\n", line, second);
    }
    free(text);
    return out;
}

static size_t count_lines(const char *path) {
    char *t = hp_test_read_file(path);
    size_t n = 0;
    for (char *p = t; p && *p; p++) n += *p == '\n';
    free(t);
    return n;
}

/* ---- the spec: splitting and names ------------------------------------------------------ */

static void test_split_values(void **state) {
    (void)state;
    char **v;
    size_t n;
    OK(hp__sweep_split_values("0, 10,1e4", "t", &v, &n));
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "0");
    assert_string_equal(v[1], "10");
    assert_string_equal(v[2], "1e4");
    hp__sweep_strings_free(v, n);
    /* commas inside brackets, braces, parentheses and quotes do not split */
    OK(hp__sweep_split_values("[1,2],[3, 4],{a: 1, b: 2},min(x,1),\"p,q\",'r,s'", "t", &v, &n));
    assert_int_equal(n, 6);
    assert_string_equal(v[0], "[1,2]");
    assert_string_equal(v[1], "[3, 4]");
    assert_string_equal(v[2], "{a: 1, b: 2}");
    assert_string_equal(v[3], "min(x,1)");
    assert_string_equal(v[4], "\"p,q\"");
    assert_string_equal(v[5], "'r,s'");
    hp__sweep_strings_free(v, n);
    OK(hp__sweep_split_values("[1,2]", "t", &v, &n)); /* one list is one value */
    assert_int_equal(n, 1);
    hp__sweep_strings_free(v, n);
    assert_int_equal(hp__sweep_split_values("1,,2", "--set k=1,,2", &v, &n), HP_ERR_USAGE);
    assert_contains(hp_error_message(), "--set k=1,,2: an empty value");
    assert_int_equal(hp__sweep_split_values("1,", "t", &v, &n), HP_ERR_USAGE);
    assert_int_equal(hp__sweep_split_values("\"open", "t", &v, &n), HP_ERR_USAGE);
    assert_contains(hp_error_message(), "quote is not closed");
}

static void test_member_names(void **state) {
    (void)state;
    hp__sweep_spec spec;
    memset(&spec, 0, sizeof spec);
    OK(hp__sweep_spec_seeds(&spec, "1,2"));     /* given first, still varies fastest */
    OK(hp__sweep_spec_set(&spec, "coupling.tau2=0,10"));
    OK(hp__sweep_spec_set(&spec, "output.log_every=5")); /* one value: every member, not in the name */
    OK(hp__sweep_spec_set(&spec, "upscale.fine_elements=[1,2],[4, 8]"));
    OK(hp__sweep_spec_set(&spec, "stages[0].iterations=3"));
    hp__sweep_member *m;
    size_t n;
    OK(hp__sweep_members(&spec, &m, &n));
    assert_int_equal(n, 8);
    assert_string_equal(m[0].name, "coupling.tau2=0_upscale.fine_elements=1,2_seed=1");
    assert_string_equal(m[1].name, "coupling.tau2=0_upscale.fine_elements=1,2_seed=2");
    assert_string_equal(m[2].name, "coupling.tau2=0_upscale.fine_elements=4,8_seed=1");
    assert_string_equal(m[7].name, "coupling.tau2=10_upscale.fine_elements=4,8_seed=2");
    assert_int_equal(m[7].n_overrides, 5);
    assert_string_equal(m[7].overrides[0], "coupling.tau2=10");
    assert_string_equal(m[7].overrides[1], "output.log_every=5");
    assert_string_equal(m[7].overrides[2], "upscale.fine_elements=[4, 8]");
    assert_string_equal(m[7].overrides[3], "stages[0].iterations=3");
    assert_string_equal(m[7].overrides[4], "network.seed=2");
    hp__sweep_members_free(m, n);
    /* a later --set of the same key replaces its values in place */
    OK(hp__sweep_spec_set(&spec, "coupling.tau2=100"));
    OK(hp__sweep_members(&spec, &m, &n));
    assert_int_equal(n, 4);
    assert_string_equal(m[0].name, "upscale.fine_elements=1,2_seed=1");
    assert_string_equal(m[0].overrides[0], "coupling.tau2=100");
    hp__sweep_members_free(m, n);
    hp__sweep_spec_free(&spec);

    /* values that make the same safe text stay apart; names hold no '/' */
    memset(&spec, 0, sizeof spec);
    OK(hp__sweep_spec_set(&spec, "problem.q=1/2,1*2,stages[0]"));
    OK(hp__sweep_members(&spec, &m, &n));
    assert_int_equal(n, 3);
    assert_string_equal(m[0].name, "problem.q=1~2");
    assert_string_equal(m[1].name, "problem.q=1~2~2");
    assert_string_equal(m[2].name, "problem.q=stages0");
    hp__sweep_members_free(m, n);
    OK(hp__sweep_spec_set(&spec, "stages[1].optimizer.lr=1e-3,2e-3"));
    OK(hp__sweep_members(&spec, &m, &n));
    assert_string_equal(m[0].name, "problem.q=1~2_stages.1.optimizer.lr=1e-3");
    hp__sweep_members_free(m, n);
    hp__sweep_spec_free(&spec);

    /* no axis: one member named run; a grid of one: named by its values */
    memset(&spec, 0, sizeof spec);
    OK(hp__sweep_members(&spec, &m, &n));
    assert_int_equal(n, 1);
    assert_string_equal(m[0].name, "run");
    hp__sweep_members_free(m, n);
    OK(hp__sweep_spec_seeds(&spec, "7"));
    OK(hp__sweep_members(&spec, &m, &n));
    assert_string_equal(m[0].name, "seed=7");
    hp__sweep_members_free(m, n);
    assert_int_equal(hp__sweep_spec_seeds(&spec, "1,x"), HP_ERR_USAGE);
    assert_contains(hp_error_message(), "'x' is not a seed");
    assert_int_equal(hp__sweep_spec_set(&spec, "a b=1"), HP_ERR_USAGE);
    assert_int_equal(hp__sweep_spec_set(&spec, "novalue"), HP_ERR_USAGE);
    OK(hp__sweep_spec_set(&spec, "network.width=1,2,3,4,5,6,7,8,9,10"));
    OK(hp__sweep_spec_set(&spec, "network.depth=1,2,3,4,5,6,7,8,9,10"));
    OK(hp__sweep_spec_set(&spec, "coupling.tau2=1,2,3,4,5,6,7,8,9,10"));
    OK(hp__sweep_spec_set(&spec, "coupling.window=1,2,3,4,5,6,7,8,9,10,11"));
    assert_int_equal(hp__sweep_members(&spec, &m, &n), HP_ERR_USAGE);
    assert_contains(hp_error_message(), "more than 10000 members");
    hp__sweep_spec_free(&spec);
}

/* ---- sweeps through the CLI ---------------------------------------------------------------- */

static void test_grid_and_jobs(void **state) {
    (void)state;
    hp_test_write_file("sw.yaml", pipeline);
    assert_int_equal(system("rm -rf sw_grid"), 0);
    unsetenv("OPENBLAS_NUM_THREADS");
    int rc = hpinn("sweep sw.yaml --set coupling.tau2=0,10 --seeds 1,2 --set output.log_every=5 --out sw_grid "
                   "--jobs 2");
    if (rc != 0) fail_msg("exit %d\n%s\n%s", rc, out_text, err_text);
    assert_contains(out_text, "sweep: 4 members in sw_grid: 0 done, 0 failed, 4 to run");
    assert_contains(out_text, "2 jobs");
    assert_contains(out_text, "start    coupling.tau2=0_seed=1");
    assert_contains(out_text, "done     coupling.tau2=10_seed=2");
    assert_contains(out_text, "sweep: 4 done, 0 failed, 0 pending of 4");
    const char *names[] = {"coupling.tau2=0_seed=1", "coupling.tau2=0_seed=2", "coupling.tau2=10_seed=1",
                           "coupling.tau2=10_seed=2"};
    hp__json_doc sw;
    load_json("sw_grid/sweep.json", &sw);
    assert_string_equal(hp__json_str(hp__json_get(sw.root, "config")), "sw.yaml");
    assert_non_null(hp__json_str(hp__json_get(sw.root, "pipeline_checksum")));
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(member_str(&sw, i, "dir"), names[i]);
        assert_string_equal(member_str(&sw, i, "status"), "done");
        assert_true(hp__json_num(hp__json_get(member(&sw, i), "exit_code")) == 0);
        assert_null(member_str(&sw, i, "error"));
        const hp__node *ov = hp__json_get(member(&sw, i), "overrides");
        assert_int_equal(ov->count, 3);
        assert_string_equal(hp__json_str(ov->items[0]), i < 2 ? "coupling.tau2=0" : "coupling.tau2=10");
        assert_string_equal(hp__json_str(ov->items[1]), "output.log_every=5");
        assert_string_equal(hp__json_str(ov->items[2]), i % 2 ? "network.seed=2" : "network.seed=1");
    }
    hp__json_free(&sw);
    /* each member: an ordinary run directory, its log, its overrides and thread counts in summary.json */
    for (size_t i = 0; i < 4; i++) {
        char path[256];
        snprintf(path, sizeof path, "sw_grid/%s/hpinn.log", names[i]);
        char *log = slurp(path);
        assert_contains(log, "completed after 30 iterations");
        free(log);
        snprintf(path, sizeof path, "sw_grid/%s/summary.json", names[i]);
        hp__json_doc s;
        load_json(path, &s);
        assert_int_equal(hp__json_bool(hp__json_get(s.root, "completed")), 1);
        assert_true(hp__json_num(hp__json_get(s.root, "seed")) == (i % 2 ? 2 : 1));
        int cores = (int)hp__json_num(hp__json_get(hp__json_get(s.root, "machine"), "cores"));
        int threads = cores / 2 > 1 ? cores / 2 : 1;
        char expect[64];
        snprintf(expect, sizeof expect, "network.threads=%d", threads);
        const hp__node *ov = hp__json_get(s.root, "overrides");
        assert_int_equal(ov->count, 4);
        assert_string_equal(hp__json_str(ov->items[3]), expect);
        snprintf(expect, sizeof expect, "%d", threads);
        assert_string_equal(hp__json_str(hp__json_get(hp__json_get(s.root, "machine"), "openblas_num_threads")),
                            expect);
        assert_true(hp__json_num(hp__json_get(hp__json_get(s.root, "machine"), "blas_threads")) == threads);
        hp__json_free(&s);
        snprintf(path, sizeof path, "sw_grid/%s/history.csv", names[i]);
        assert_int_equal(count_lines(path), 1 + 30 / 5 + 1);
    }
    /* the same command again: nothing to run */
    char *before = slurp("sw_grid/coupling.tau2=0_seed=1/history.csv");
    rc = hpinn("sweep sw.yaml --set coupling.tau2=0,10 --seeds 1,2 --set output.log_every=5 --out sw_grid");
    if (rc != 0) fail_msg("rerun: exit %d\n%s", rc, err_text);
    assert_contains(out_text, "4 done, 0 failed, 0 to run");
    assert_null(strstr(out_text, "start "));
    char *after = slurp("sw_grid/coupling.tau2=0_seed=1/history.csv");
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* network.threads set for every member: the header reports that count, not the default */
    rc = hpinn("sweep sw.yaml --set coupling.tau2=0,10 --set network.threads=1 --out sw_thr --jobs 1 --dry-run");
    if (rc != 0) fail_msg("dry run: exit %d\n%s", rc, err_text);
    assert_contains(out_text, "1 job, 1 thread each");
}

static void test_changed_grid_refused(void **state) {
    (void)state;
    hp_test_write_file("sw_change.yaml", pipeline);
    assert_int_equal(system("rm -rf sw_change"), 0);
    int rc = hpinn("sweep sw_change.yaml --set coupling.tau2=0,10 --set stages[0].iterations=5 --out sw_change");
    if (rc != 0) fail_msg("exit %d\n%s", rc, err_text);
    char *record = slurp("sw_change/sweep.json");
    assert_int_equal(hpinn("sweep sw_change.yaml --set coupling.tau2=0,10,100 --set stages[0].iterations=5 "
                           "--out sw_change"), 2);
    assert_contains(err_text, "sw_change/sweep.json records another sweep: coupling.tau2: [0, 10] was recorded, "
                              "now [0, 10, 100]");
    assert_int_equal(hpinn("sweep sw_change.yaml --set coupling.tau2=0,10 --out sw_change"), 2);
    assert_contains(err_text, "stages[0].iterations [5]: recorded, not given now");
    assert_int_equal(hpinn("sweep sw_change.yaml --set coupling.tau2=0,10 --set stages[0].iterations=5 --seeds 1,2 "
                           "--out sw_change"), 2);
    assert_contains(err_text, "network.seed [1, 2]: not in the recorded sweep");
    /* the pipeline itself changed (a section other than sweep:) */
    char *edited = strdup(pipeline);
    char *lr = strstr(edited, "lr: 2e-3");
    memcpy(lr, "lr: 3e-3", 8);
    hp_test_write_file("sw_change.yaml", edited);
    free(edited);
    assert_int_equal(hpinn("sweep sw_change.yaml --set coupling.tau2=0,10 --set stages[0].iterations=5 "
                           "--out sw_change"), 2);
    assert_contains(err_text, "sw_change.yaml changed since the sweep started");
    /* nothing was touched */
    char *again = slurp("sw_change/sweep.json");
    assert_string_equal(record, again);
    free(record);
    free(again);
    /* formatting and comments are not a change */
    char *commented = malloc(strlen(pipeline) + 64);
    sprintf(commented, "# a comment\n%s", pipeline);
    hp_test_write_file("sw_change.yaml", commented);
    free(commented);
    rc = hpinn("sweep sw_change.yaml --set coupling.tau2=0,10 --set stages[0].iterations=5 --out sw_change");
    if (rc != 0) fail_msg("exit %d\n%s", rc, err_text);
    assert_contains(out_text, "2 done, 0 failed, 0 to run");
    /* argument and key errors: exit 2 before anything runs */
    assert_int_equal(hpinn("sweep sw_change.yaml --set coupling.tua2=0,10 --out sw_bad"), 2);
    assert_contains(err_text, "--set coupling.tua2=0,10: coupling.tua2: unknown key (did you mean 'tau2'?)");
    assert_false(exists("sw_bad"));
    assert_int_equal(hpinn("sweep sw_change.yaml --set network.widht=4 --out sw_bad"), 2);
    assert_contains(err_text, "--set network.widht=4: network.widht: unknown key (did you mean 'width'?)");
    assert_int_equal(hpinn("sweep sw_change.yaml --set network.widht=4,5 --out sw_bad"), 2);
    assert_contains(err_text, "--set network.widht=4,5: network.widht: unknown key (did you mean 'width'?); the "
                              "network plugin msff has: depth, width");
    assert_int_equal(hpinn("sweep sw_change.yaml --set stages[2].iterations=4,5 --out sw_bad"), 2);
    assert_contains(err_text, "stage 2 does not exist (the pipeline has 1 stage)");
    assert_int_equal(hpinn("sweep sw_change.yaml --set constants.epss=1,2 --out sw_bad"), 2);
    assert_contains(err_text, "declares no constant 'epss'");
    assert_int_equal(hpinn("sweep sw_change.yaml --set coupling.tau2=0,10"), 2);
    assert_contains(err_text, "no output directory");
    assert_int_equal(hpinn("sweep sw_change.yaml --seeds 1,2 --set network.seed=3 --out sw_bad"), 2);
    assert_int_equal(hpinn("sweep sw_change.yaml --jobs 0 --out sw_bad"), 2);
    assert_int_equal(hpinn("sweep sw_change.yaml --bogus --out sw_bad"), 2);
    assert_false(exists("sw_bad"));
}

static void test_failing_member(void **state) {
    (void)state;
    hp_test_write_file("sw_fail.yaml", pipeline);
    assert_int_equal(system("rm -rf sw_fail"), 0);
    const char *cmd = "sweep sw_fail.yaml --set coupling.tau2=10,-1,0 --out sw_fail --jobs 1";
    assert_int_equal(hpinn(cmd), 1);
    assert_contains(out_text, "failed   coupling.tau2=-1  [2/3] exit 2: --set coupling.tau2=-1: coupling.tau2: -1 is "
                              "out of range");
    assert_contains(out_text, "done     coupling.tau2=0  [3/3]"); /* the next member still ran */
    assert_contains(out_text, "sweep: 2 done, 1 failed, 0 pending of 3");
    assert_contains(err_text, "1 of 3 members failed");
    hp__json_doc sw;
    load_json("sw_fail/sweep.json", &sw);
    assert_string_equal(member_str(&sw, 0, "status"), "done");
    assert_string_equal(member_str(&sw, 1, "status"), "failed");
    assert_true(hp__json_num(hp__json_get(member(&sw, 1), "exit_code")) == 2);
    assert_contains(member_str(&sw, 1, "error"), "coupling.tau2: -1 is out of range; expected a real number >= 0");
    assert_string_equal(member_str(&sw, 2, "status"), "done");
    hp__json_free(&sw);
    /* rerun: the failed member is kept (not rerun), still exit 1 */
    size_t lines = count_lines("sw_fail/coupling.tau2=-1/hpinn.log");
    assert_int_equal(hpinn(cmd), 1);
    assert_contains(out_text, "2 done, 1 failed, 0 to run");
    assert_contains(out_text, "--retry-failed reruns them");
    assert_int_equal(count_lines("sw_fail/coupling.tau2=-1/hpinn.log"), lines);
    /* --retry-failed runs it again (and it fails again, the same way) */
    char retry[256];
    snprintf(retry, sizeof retry, "%s --retry-failed", cmd);
    assert_int_equal(hpinn(retry), 1);
    assert_contains(out_text, "start    coupling.tau2=-1");
    assert_null(strstr(out_text, "start    coupling.tau2=10 "));
    assert_true(count_lines("sw_fail/coupling.tau2=-1/hpinn.log") > lines);
}

/* SIGINT to the sweep process alone (as `kill -INT`): it forwards the signal,
 * the running member checkpoints, the sweep exits 130. The same command then
 * leaves the finished member alone and resumes the interrupted one. */
static void test_interrupt_and_resume(void **state) {
    (void)state;
    hp_test_write_file("sw_int.yaml", pipeline);
    assert_int_equal(system("rm -rf sw_int sw_int.rc sw_int_ref"), 0);
    const char *args = "sweep sw_int.yaml --set stages[0].iterations=20,4000 --set output.log_every=50 --out sw_int "
                       "--jobs 1";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "sh -c '%s/bin/hpinn %s >sw_int.out 2>sw_int.err; echo $? > sw_int.rc' &",
             getenv("HPINN_BUILD_DIR"), args);
    assert_int_equal(system(cmd), 0);
    const char *long_history = "sw_int/stages.0.iterations=4000/history.csv";
    for (int i = 0; i < 1500 && count_lines(long_history) < 3; i++) sleep_ms(20);
    if (count_lines(long_history) < 3) fail_msg("the long member did not start");
    char *lock = slurp("sw_int/.hpinn.lock"); /* the sweep's pid, written by its directory lock */
    long pid = strtol(lock, NULL, 10);
    free(lock);
    assert_true(pid > 0);
    assert_int_equal(kill((pid_t)pid, SIGINT), 0);
    for (int i = 0; i < 3000 && !exists("sw_int.rc"); i++) sleep_ms(20);
    sleep_ms(50);
    char *rc_text = slurp("sw_int.rc");
    char *out = slurp("sw_int.out");
    if (atoi(rc_text) != 130) fail_msg("exit %s\n%s", rc_text, out);
    free(rc_text);
    assert_contains(out, "done     stages.0.iterations=20");
    assert_contains(out, "stopped  stages.0.iterations=4000");
    free(out);
    hp__json_doc sw;
    load_json("sw_int/sweep.json", &sw);
    assert_string_equal(member_str(&sw, 0, "status"), "done");
    assert_string_equal(member_str(&sw, 1, "status"), "pending");
    hp__json_free(&sw);
    assert_true(exists("sw_int/stages.0.iterations=4000/checkpoint.bin"));
    assert_false(exists("sw_int/stages.0.iterations=4000/fields.csv"));

    char *short_before = slurp("sw_int/stages.0.iterations=20/history.csv");
    int rc = hpinn(args);
    if (rc != 0) fail_msg("resume: exit %d\n%s\n%s", rc, out_text, err_text);
    assert_contains(out_text, "1 done, 0 failed, 1 to run (1 to resume)");
    assert_contains(out_text, "start    stages.0.iterations=4000 (resume)");
    assert_null(strstr(out_text, "start    stages.0.iterations=20 "));
    char *short_after = slurp("sw_int/stages.0.iterations=20/history.csv");
    assert_string_equal(short_before, short_after);
    free(short_before);
    free(short_after);
    char *log = slurp("sw_int/stages.0.iterations=4000/hpinn.log");
    assert_contains(log, "interrupted at iteration");
    assert_contains(log, "completed; the whole run: 4000 iterations");
    free(log);
    /* the resumed history is the uninterrupted one but for `seconds` */
    rc = hpinn("run sw_int.yaml --out sw_int_ref --set stages[0].iterations=4000 --set output.log_every=50");
    if (rc != 0) fail_msg("reference: exit %d\n%s", rc, err_text);
    char *a = history_without_seconds("sw_int/stages.0.iterations=4000/history.csv");
    char *b = history_without_seconds("sw_int_ref/history.csv");
    assert_string_equal(a, b);
    free(a);
    free(b);
    hp__json_doc s;
    load_json("sw_int/stages.0.iterations=4000/summary.json", &s);
    assert_int_equal(hp__json_bool(hp__json_get(s.root, "resumed")), 1);
    const hp__node *ov = hp__json_get(s.root, "overrides"); /* the start's, then the resume's thread count */
    assert_string_equal(hp__json_str(ov->items[0]), "stages[0].iterations=4000");
    assert_string_equal(hp__json_str(ov->items[1]), "output.log_every=50");
    hp__json_free(&s);
}

static void test_sweep_section(void **state) {
    (void)state;
    char text[4096];
    snprintf(text, sizeof text, "%s"
             "sweep:\n"
             "  grid:\n"
             "    coupling.tau2: [0, 10]\n"
             "    network.sigmas: [[1, 16]]\n"
             "    stages[0].iterations: 5\n"
             "  seeds: [1, 2]\n"
             "  out: sw_sec\n", pipeline);
    hp_test_write_file("sw_sec.yaml", text);
    assert_int_equal(system("rm -rf sw_sec sw_sec_run"), 0);
    /* run and check accept the section; check validates it and says what it is */
    int rc = hpinn("run sw_sec.yaml --out sw_sec_run");
    if (rc != 0) fail_msg("run: exit %d\n%s", rc, err_text);
    char *resolved = slurp("sw_sec_run/config.resolved.yaml");
    assert_null(strstr(resolved, "sweep"));
    free(resolved);
    assert_int_equal(hpinn("check sw_sec.yaml"), 0);
    assert_contains(out_text, "# sweep: 4 members");
    rc = hpinn("sweep sw_sec.yaml");
    if (rc != 0) fail_msg("sweep: exit %d\n%s\n%s", rc, out_text, err_text);
    assert_contains(out_text, "sweep: 4 members in sw_sec");
    assert_true(exists("sw_sec/coupling.tau2=10_seed=2/summary.json"));
    hp__json_doc sw;
    load_json("sw_sec/sweep.json", &sw);
    const hp__node *ov = hp__json_get(member(&sw, 3), "overrides");
    assert_string_equal(hp__json_str(ov->items[1]), "network.sigmas=[1, 16]");
    assert_string_equal(hp__json_str(ov->items[2]), "stages[0].iterations=5");
    hp__json_free(&sw);
    /* the command line adds to and overrides the section */
    assert_int_equal(hpinn("sweep sw_sec.yaml --seeds 3 --set coupling.window=1,2 --out sw_sec2 --dry-run"), 0);
    assert_contains(out_text, "start    coupling.tau2=0_coupling.window=1  --set coupling.tau2=0 --set "
                              "network.sigmas=[1, 16] --set stages[0].iterations=5 --set coupling.window=1 --set "
                              "network.seed=3");
    assert_contains(out_text, "4 members in sw_sec2");
    assert_false(exists("sw_sec2"));

    /* check refuses a broken section, located */
    struct {
        const char *from, *to, *message;
    } bad[] = {
        {"coupling.tau2: [0, 10]", "coupling.tua2: [0, 10]",
         "sw_bad.yaml:16:5: sweep.grid: coupling.tua2: unknown key (did you mean 'tau2'?)"},
        {"coupling.tau2: [0, 10]", "coupling.tau2: [0, -10]",
         "sw_bad.yaml:16:24: coupling.tau2=-10: this value of the sweep is refused: --set coupling.tau2=-10: "
         "coupling.tau2: -10 is out of range"},
        {"seeds: [1, 2]", "seeds: [1, x]", "sw_bad.yaml:19:14: sweep.seeds: 'x' is not a seed"},
        {"out: sw_sec", "outt: sw_sec", "sw_bad.yaml:20:3: sweep.outt: unknown key (did you mean 'out'?)"},
        {"coupling.tau2: [0, 10]", "coupling.tau2: []", "sw_bad.yaml:16:20: sweep.grid.coupling.tau2: an empty list"},
        {"  grid:\n    coupling.tau2: [0, 10]\n    network.sigmas: [[1, 16]]\n    stages[0].iterations: 5\n", "  grid: 3\n",
         "sw_bad.yaml:15:9: sweep.grid: got a scalar; expected a mapping"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char edited[4096];
        char *at = strstr(text, bad[i].from);
        assert_non_null(at);
        snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - text), text, bad[i].to, at + strlen(bad[i].from));
        hp_test_write_file("sw_bad.yaml", edited);
        rc = hpinn("check sw_bad.yaml");
        if (rc != 2) fail_msg("case %zu: exit %d\n%s", i, rc, err_text);
        assert_contains(err_text, bad[i].message);
    }
}

/* summary.json says how the run came about (issue 12, part 3). */
static void test_summary_metadata(void **state) {
    (void)state;
    hp_test_write_file("sw_meta.yaml", pipeline);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    int rc = hpinn("run sw_meta.yaml --out sw_meta --force --label 'my run' --set coupling.tau2=5 "
                   "--set stages[0].iterations=20");
    unsetenv("OPENBLAS_NUM_THREADS");
    if (rc != 0) fail_msg("exit %d\n%s", rc, err_text);
    hp__json_doc s;
    load_json("sw_meta/summary.json", &s);
    assert_string_equal(hp__json_str(hp__json_get(s.root, "config")), "sw_meta.yaml");
    assert_string_equal(hp__json_str(hp__json_get(s.root, "label")), "my run");
    const hp__node *cmd = hp__json_get(s.root, "command");
    assert_int_equal(cmd->count, 12);
    const char *prog = hp__json_str(cmd->items[0]);
    assert_true(strlen(prog) >= 10 && strcmp(prog + strlen(prog) - 10, "/bin/hpinn") == 0);
    assert_string_equal(hp__json_str(cmd->items[1]), "run");
    assert_string_equal(hp__json_str(cmd->items[7]), "my run");
    const hp__node *ov = hp__json_get(s.root, "overrides");
    assert_int_equal(ov->count, 2);
    assert_string_equal(hp__json_str(ov->items[0]), "coupling.tau2=5");
    assert_string_equal(hp__json_str(ov->items[1]), "stages[0].iterations=20");
    assert_int_equal(hp__json_bool(hp__json_get(s.root, "resumed")), 0);
    const char *commit = hp__json_str(hp__json_get(s.root, "git_commit"));
    assert_non_null(commit);
    /* a short hash (with -dirty for a changed tree), or "unknown" outside a checkout */
    size_t hex = strspn(commit, "0123456789abcdef");
    if (strcmp(commit, "unknown") != 0 && !(hex >= 7 && (!commit[hex] || strcmp(commit + hex, "-dirty") == 0)))
        fail_msg("git_commit '%s'", commit);
    const hp__node *machine = hp__json_get(s.root, "machine");
    assert_true(hp__json_num(hp__json_get(machine, "cores")) >= 1);
    assert_string_equal(hp__json_str(hp__json_get(machine, "openblas_num_threads")), "1");
    assert_true(hp__json_num(hp__json_get(machine, "blas_threads")) == 1);
    assert_contains(hp__json_str(hp__json_get(machine, "blas")), "1 threads");
    hp__json_free(&s);
    /* a resume keeps the label and the start's overrides and adds its own */
    rc = hpinn("run --resume sw_meta --set stages[0].iterations=30");
    if (rc != 0) fail_msg("resume: exit %d\n%s", rc, err_text);
    load_json("sw_meta/summary.json", &s);
    assert_string_equal(hp__json_str(hp__json_get(s.root, "label")), "my run");
    ov = hp__json_get(s.root, "overrides");
    assert_int_equal(ov->count, 3);
    assert_string_equal(hp__json_str(ov->items[0]), "coupling.tau2=5");
    assert_string_equal(hp__json_str(ov->items[2]), "stages[0].iterations=30");
    assert_int_equal(hp__json_bool(hp__json_get(s.root, "resumed")), 1);
    assert_string_equal(hp__json_str(hp__json_get(s.root, "command")->items[2]), "--resume");
    hp__json_free(&s);
    char *run_json = slurp("sw_meta/run.json");
    assert_contains(run_json, "\"overrides\": [\"coupling.tau2=5\", \"stages[0].iterations=20\"]");
    free(run_json);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_values),
        cmocka_unit_test(test_member_names),
        cmocka_unit_test(test_grid_and_jobs),
        cmocka_unit_test(test_changed_grid_refused),
        cmocka_unit_test(test_failing_member),
        cmocka_unit_test(test_interrupt_and_resume),
        cmocka_unit_test(test_sweep_section),
        cmocka_unit_test(test_summary_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
