/* test_run_cli.c — `hpinn run` and `hpinn run --resume` driven as
 * subprocesses on a tiny 1-D hybrid pipeline: the run exits 0, its loss and error
 * decrease, every output is present and well formed (history.csv parsed,
 * summary.json keys, fields and nodes headers); resuming a finished run is a
 * no-op with the same history; argument errors exit 2; a non-finite loss exits 1
 * with the last good checkpoint kept; an under-resolving pipeline is warned
 * about. `hpinn plot` is tested in test_plot.c. */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static char out_text[1 << 16], err_text[1 << 16];

static int run(const char *args) {
    return hp_test_run_hpinn(args, "run", out_text, sizeof out_text, err_text, sizeof err_text);
}

static const char *pipeline =
    "constants: {eps: 0.0625}\n"
    "problem:\n"
    "  K: \"1/(1.2 + sin(2*pi*x/eps))\"\n"
    "  q: \"-3*(2*x - 1)\"\n"
    "  collocation: {points: 128}\n"
    "  validation: {points: 201}\n"
    "  reference: {integral_intervals: 2000}\n"
    "network: {plugin: msff, width: 12, depth: 2, features: 12, sigmas: [1, 16], seed: 1}\n"
    "coarse: {plugin: p1_1d, elements: 16}\n"
    "coupling: {form: full, window: 1, delta: eps, tau2: 1e5}\n"
    "stages:\n"
    "  - {iterations: 400, optimizer: {plugin: adam, lr: 2e-3, schedule: exponential, decay: 0.75, "
    "decay_every: 1000}}\n"
    "output: {dir: run_default, log_every: 50, checkpoint_every: 100}\n";

typedef struct history {
    int n_rows, n_cols;
    char names[32][32];
    double v[64][32];
} history;

static int col(const history *h, const char *name) {
    for (int i = 0; i < h->n_cols; i++)
        if (strcmp(h->names[i], name) == 0) return i;
    fail_msg("history.csv has no column %s", name);
    return -1;
}

static void parse_history(const char *path, history *h) {
    memset(h, 0, sizeof *h);
    char *text = hp_test_read_file(path);
    if (!text) fail_msg("missing %s", path);
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    assert_non_null(line);
    for (char *s2 = NULL, *tok = strtok_r(line, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2))
        snprintf(h->names[h->n_cols++], 32, "%s", tok);
    while ((line = strtok_r(NULL, "\n", &save)) && h->n_rows < 64) {
        int c = 0;
        for (char *s2 = NULL, *tok = strtok_r(line, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2)) {
            char *end;
            h->v[h->n_rows][c] = strtod(tok, &end);
            if (*end) fail_msg("%s: row %d column %d: '%s' is not a number", path, h->n_rows + 1, c, tok);
            c++;
        }
        if (c != h->n_cols) fail_msg("%s: row %d has %d fields, the header %d", path, h->n_rows + 1, c, h->n_cols);
        h->n_rows++;
    }
    free(text);
}

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static void test_run_outputs_and_progress(void **state) {
    (void)state;
    hp_test_write_file("tiny_run.yaml", pipeline);
    int rc = run("run tiny_run.yaml --force");
    if (rc != 0) fail_msg("exit %d\n%s", rc, err_text);
    assert_contains(out_text, "outputs in run_default/");
    assert_contains(out_text, "hpinn plot run_default");
    /* not a terminal: plain progress lines, no carriage return, no padding */
    assert_contains(err_text, "it 50/400 stage 0");
    assert_contains(err_text, "completed after 400 iterations");
    assert_null(strchr(err_text, '\r'));
    assert_null(strstr(err_text, "   "));
    assert_contains(out_text, " events.jsonl ");

    history h;
    parse_history("run_default/history.csv", &h);
    assert_int_equal(h.n_rows, 1 + 400 / 50);
    const char *expected[] = {"iteration", "seconds", "J_pinn", "boundary", "R", "J_hat", "rel_l2",
                              "fine_residual", "k_0_0_0", "fallback", "fallback_steps", "stage"};
    assert_int_equal(h.n_cols, 12);
    for (int i = 0; i < 12; i++) assert_string_equal(h.names[i], expected[i]);
    int it = col(&h, "iteration"), jh = col(&h, "J_hat"), err = col(&h, "rel_l2"), k = col(&h, "k_0_0_0");
    int last = h.n_rows - 1;
    assert_true(h.v[0][it] == 0 && h.v[last][it] == 400);
    for (int r = 0; r < h.n_rows; r++) {
        assert_true(isfinite(h.v[r][jh]) && h.v[r][jh] > 0);
        if (r) assert_true(h.v[r][col(&h, "seconds")] >= h.v[r - 1][col(&h, "seconds")]);
    }
    /* training works: the loss falls by orders of magnitude, the error falls */
    if (!(h.v[last][jh] < 1e-2 * h.v[0][jh])) fail_msg("J_hat %g -> %g", h.v[0][jh], h.v[last][jh]);
    if (!(h.v[last][err] < h.v[0][err])) fail_msg("rel_l2 %g -> %g", h.v[0][err], h.v[last][err]);
    assert_true(h.v[last][k] > 0.5 && h.v[last][k] < 1.5); /* K~ of this problem: about 0.83 */

    char *summary = hp_test_read_file("run_default/summary.json");
    assert_non_null(summary);
    const char *keys[] = {"\"hpinn_version\": \"0.", "\"completed\": true", "\"stop_reason\": \"completed\"",
                          "\"iterations\": 400", "\"wall_seconds\": ", "\"ms_per_iteration\": ", "\"rel_l2\": ",
                          "\"fine_residual\": ", "\"J_hat\": ", "\"ktilde\": {\"dim\": 1, \"blocks\": 1, \"values\": [",
                          "\"network\": {\"plugin\": \"msff\", \"version\": \"1.0.0\", \"file\": ",
                          "\"coarse\": {\"plugin\": \"p1_1d\"", "\"upscaling\": {\"plugin\": \"global\"",
                          "\"seed\": 1", "\"optimizer\": \"adam\""};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) assert_contains(summary, keys[i]);
    /* the network plugin's file and the FNV-1a 64 checksum of its bytes */
    char msff[1024], entry[1400];
    snprintf(msff, sizeof msff, "%s/lib/hpinn/plugins/hpinn_msff.so", getenv("HPINN_BUILD_DIR"));
    snprintf(entry, sizeof entry, "\"network\": {\"plugin\": \"msff\", \"version\": \"1.0.0\", \"file\": \"%s\", "
             "\"checksum\": \"fnv1a64:%016llx\"}", msff, (unsigned long long)hp_test_file_fnv1a64(msff));
    assert_contains(summary, entry);
    /* the summary's final error is the last row's (same θ) */
    char last_err[64];
    snprintf(last_err, sizeof last_err, "\"rel_l2\": %.17g", h.v[last][err]);
    assert_contains(summary, last_err);
    free(summary);

    char *fields = hp_test_read_file("run_default/fields.csv");
    assert_non_null(fields);
    assert_true(strncmp(fields, "x,v1,u1", 7) == 0);
    int lines = 0;
    for (char *p = fields; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 1 + 201);
    free(fields);
    char *nodes = hp_test_read_file("run_default/nodes.csv");
    assert_non_null(nodes);
    assert_true(strncmp(nodes, "x,v1,Qv1,y1\n", 12) == 0);
    free(nodes);
    assert_true(file_size("run_default/checkpoint.bin") > 0);
    char *resolved = hp_test_read_file("run_default/config.resolved.yaml");
    assert_non_null(resolved);
    assert_contains(resolved, "stages:\n  - iterations: 400\n");
    free(resolved);

    /* resuming a finished run: nothing to train, same history, exit 0 */
    char *before = hp_test_read_file("run_default/history.csv");
    rc = run("run --resume run_default");
    if (rc != 0) fail_msg("resume exit %d\n%s", rc, err_text);
    char *after = hp_test_read_file("run_default/history.csv");
    assert_string_equal(before, after);
    free(before);
    free(after);

    /* --out and --set, and the same seed gives the same history */
    rc = run("run tiny_run.yaml --out run_again --force");
    assert_int_equal(rc, 0);
    history h2;
    parse_history("run_again/history.csv", &h2);
    for (int r = 0; r < h.n_rows; r++)
        for (int c = 0; c < h.n_cols; c++)
            if (c != col(&h, "seconds")) assert_true(h.v[r][c] == h2.v[r][c] || (isnan(h.v[r][c]) && isnan(h2.v[r][c])));
}

static void test_run_errors(void **state) {
    (void)state;
    hp_test_write_file("tiny_run.yaml", pipeline);
    assert_int_equal(run("run"), 2);
    assert_contains(err_text, "run: missing CONFIG");
    /* an earlier run is not overwritten without --force (run_default exists by now) */
    assert_int_equal(run("run tiny_run.yaml"), 2);
    assert_contains(err_text, "run_default holds an earlier run; continue it with `hpinn run --resume run_default`");
    assert_int_equal(run("run tiny_run.yaml --resume run_default"), 2);
    assert_contains(err_text, "--resume DIR takes no CONFIG");
    assert_int_equal(run("run --resume no_such_run"), 2);
    assert_contains(err_text, "no_such_run/config.resolved.yaml");
    assert_int_equal(run("run tiny_run.yaml --set stages[0].iterations=-3"), 2);
    assert_contains(err_text, "stages[0].iterations");
    /* a learning rate that blows the loss up: exit 1, message, last checkpoint kept */
    char *two = malloc(strlen(pipeline) + 200);
    strcpy(two, pipeline);
    char *out = strstr(two, "output:");
    strcpy(out, "  - {iterations: 50, optimizer: {plugin: adam, lr: 1e300}}\n"
                "output: {dir: run_nan, log_every: 10, checkpoint_every: 100}\n");
    hp_test_write_file("tiny_nan.yaml", two);
    free(two);
    assert_int_equal(run("run tiny_nan.yaml --force"), 1);
    assert_contains(err_text, "training stopped at iteration 40"); /* Adam sees L(θ) one step later */
    assert_contains(err_text, "(stage 1)");
    assert_contains(err_text, "the last good checkpoint (iteration 400) stays in run_nan/checkpoint.bin");
    char *summary = hp_test_read_file("run_nan/summary.json");
    assert_non_null(summary);
    assert_contains(summary, "\"completed\": false");
    assert_contains(summary, "\"diverged\": true");
    free(summary);
    char *events = hp_test_read_file("run_nan/events.jsonl");
    assert_non_null(events);
    assert_contains(events, "{\"event\": \"divergence\", ");
    assert_contains(events, "\"iteration\": 402, \"stage\": 1, \"message\": \"adam: loss not finite");
    assert_contains(events, "{\"event\": \"summary\", ");
    assert_null(strstr(events, "\"event\": \"finish\""));
    free(events);
}

/* `threads` does not change the bits, whatever OpenBLAS's own thread count: the
 * network's GEMMs (large enough here for OpenBLAS to split them over its
 * threads) always run single-threaded inside the network team. The history of
 * an Adam + LM run with threads 1 and 2 must be identical but for `seconds`. */
static void strip_seconds(const char *path, char *out, size_t size) {
    char *text = hp_test_read_file(path);
    if (!text) fail_msg("missing %s", path);
    size_t used = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *first = strchr(line, ','), *second = first ? strchr(first + 1, ',') : NULL;
        if (!second) fail_msg("%s: short line %s", path, line);
        *first = '\0';
        used += (size_t)snprintf(out + used, size - used, "%s%s\n", line, second);
        if (used >= size) fail_msg("%s is too long for the test buffer", path);
    }
    free(text);
}

static void test_run_threads_same_bits(void **state) {
    (void)state;
    hp_test_write_file("threads_run.yaml",
                       "constants: {eps: 0.0625}\n"
                       "problem: {K: \"1/(1.2 + sin(2*pi*x/eps))\", q: \"-3*(2*x - 1)\", collocation: {points: 200},\n"
                       "          validation: {points: 201}, reference: {integral_intervals: 2000}}\n"
                       "network: {plugin: msff, width: 32, depth: 2, features: 32, sigmas: [1, 16], seed: 3}\n"
                       "coarse: {plugin: p1_1d, elements: 16}\n"
                       "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n"
                       "stages:\n"
                       "  - {iterations: 30, optimizer: {plugin: adam, lr: 2e-3}}\n"
                       "  - {iterations: 4, optimizer: {plugin: lm}}\n"
                       "output: {log_every: 5, checkpoint_every: 0}\n");
    const char *old = getenv("OPENBLAS_NUM_THREADS");
    char *saved = old ? strdup(old) : NULL;
    setenv("OPENBLAS_NUM_THREADS", "2", 1);
    static char h1[1 << 15], h2[1 << 15];
    int rc = run("run threads_run.yaml --out run_threads1 --force --set network.threads=1");
    if (rc != 0) fail_msg("threads=1: exit %d\n%s", rc, err_text);
    rc = run("run threads_run.yaml --out run_threads2 --force --set network.threads=2");
    if (rc != 0) fail_msg("threads=2: exit %d\n%s", rc, err_text);
    if (saved) setenv("OPENBLAS_NUM_THREADS", saved, 1);
    else unsetenv("OPENBLAS_NUM_THREADS");
    free(saved);
    strip_seconds("run_threads1/history.csv", h1, sizeof h1);
    strip_seconds("run_threads2/history.csv", h2, sizeof h2);
    if (strcmp(h1, h2) != 0) fail_msg("histories differ with threads 1 and 2:\n%s\nvs\n%s", h1, h2);
}

/* A pipeline that under-resolves K (ε = 1/40, 80 points; LM fits them to
 * round-off) ends with the under-resolution warning on stderr and in
 * summary.json, naming the points that would resolve K; with points: auto
 * (and the same budget) the warning is absent. */
static void test_under_resolution_warning(void **state) {
    (void)state;
    hp_test_write_file("under.yaml",
                       "constants: {eps: 0.025}\n"
                       "problem: {K: \"1/(2 + 1.5*sin(2*pi*x/eps))\", q: \"1\", collocation: {points: 80}}\n"
                       "network: {plugin: msff, width: 12, depth: 2, features: 12, sigmas: [1, 1/eps], seed: 1}\n"
                       "coarse: {plugin: p1_1d, elements: 20}\n"
                       "coupling: {delta: eps, tau2: 0}\n"
                       "stages:\n"
                       "  - {iterations: 40, optimizer: {plugin: lm}}\n"
                       "output: {log_every: 20, checkpoint_every: 0}\n");
    int rc = run("run under.yaml --out run_under --force");
    if (rc != 0) fail_msg("exit %d\n%s", rc, err_text);
    assert_contains(err_text, "hpinn run: warning: the collocation points do not resolve K");
    assert_contains(err_text, "(80 now): set problem.collocation.points: auto");
    char *summary = hp_test_read_file("run_under/summary.json");
    assert_non_null(summary);
    assert_contains(summary, "\"warnings\": [\n    {\"key\": \"under_resolved\", \"message\": \"the collocation points");
    free(summary);
    rc = run("run under.yaml --out run_under_auto --force --set problem.collocation.points=auto "
             "--set stages[0].iterations=3");
    if (rc != 0) fail_msg("auto: exit %d\n%s", rc, err_text);
    assert_null(strstr(err_text, "warning"));
    summary = hp_test_read_file("run_under_auto/summary.json");
    assert_contains(summary, "\"warnings\": []");
    free(summary);
}

/* Lattice functions of 2 × 16 = 32 cycles per unit on 40 points (Nyquist
 * limit 20): the aliasing warning at the start, before any training, and in
 * summary.json, naming the frequency, the limit and the points that would
 * resolve it; on 80 points (limit 40) there is none. */
static void test_aliasing_warning(void **state) {
    (void)state;
    hp_test_write_file("alias.yaml",
                       "constants: {eps: 0.0625}\n"
                       "problem: {K: \"1/(1.2 + sin(2*pi*x/eps))\", q: \"1\", collocation: {points: 40}}\n"
                       "network: {plugin: msff, width: 8, depth: 1, features: 4, sigmas: [1], lattice: [1/eps],\n"
                       "          lattice_modes: 2, seed: 1}\n"
                       "coarse: {plugin: p1_1d, elements: 8}\n"
                       "coupling: {delta: eps, tau2: 0}\n"
                       "stages:\n"
                       "  - {iterations: 2, optimizer: {plugin: adam}}\n"
                       "output: {log_every: 1, checkpoint_every: 0}\n");
    int rc = run("run alias.yaml --out run_alias --force");
    if (rc != 0) fail_msg("exit %d\n%s", rc, err_text);
    const char *w = strstr(err_text, "hpinn run: warning: the network has a feature of 32 cycles per unit along x, "
                                     "above the Nyquist limit 20 of the 40 collocation points");
    if (!w) fail_msg("no aliasing warning in:\n%s", err_text);
    const char *first_step = strstr(err_text, "it 1/2");
    if (first_step && first_step < w) fail_msg("the warning came after training started:\n%s", err_text);
    assert_contains(err_text, "raise problem.collocation.points to 65 or more");
    char *summary = hp_test_read_file("run_alias/summary.json");
    assert_non_null(summary);
    assert_contains(summary, "{\"key\": \"aliased_features\", \"message\": \"the network has a feature of 32 cycles");
    free(summary);
    rc = run("run alias.yaml --out run_alias80 --force --set problem.collocation.points=80");
    if (rc != 0) fail_msg("80 points: exit %d\n%s", rc, err_text);
    assert_null(strstr(err_text, "cycles per unit"));
    summary = hp_test_read_file("run_alias80/summary.json");
    assert_null(strstr(summary, "aliased_features"));
    free(summary);
}

/* The progress line in a pseudo-terminal of 80 columns: every redraw (the text
 * between carriage returns, escapes removed) is at most 79 characters, so it
 * never wraps into a new row, and the line is redrawn in place (several
 * redraws on one row). */
static void test_progress_fits_an_80_column_terminal(void **state) {
    (void)state;
    hp_test_write_file("tiny_run.yaml", pipeline);
    char hpinn[1024];
    snprintf(hpinn, sizeof hpinn, "%s/bin/hpinn", getenv("HPINN_BUILD_DIR"));
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    int master = -1;
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    if (pid < 0) fail_msg("forkpty: %s", strerror(errno));
    if (pid == 0) {
        unsetenv("COLUMNS"); /* the width must come from the terminal */
        execl(hpinn, "hpinn", "run", "tiny_run.yaml", "--out", "run_pty", "--force", "--set",
              "stages[0].iterations=3000", (char *)NULL);
        _exit(127);
    }
    static char text[1 << 18];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(master, text + used, sizeof text - 1 - used);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* EIO: the child closed the terminal */
        used += (size_t)n;
    }
    text[used] = '\0';
    close(master);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail_msg("hpinn run in a pty: status %d\n%s", status, text);
    int redraws = 0, progress_rows = 0;
    for (char *save = NULL, *row = strtok_r(text, "\n", &save); row; row = strtok_r(NULL, "\n", &save)) {
        int in_row = 0;
        for (char *s2 = NULL, *seg = strtok_r(row, "\r", &s2); seg; seg = strtok_r(NULL, "\r", &s2)) {
            char *esc = strstr(seg, "\033[K");
            if (esc) *esc = '\0';
            if (!strstr(seg, " ETA ")) continue; /* messages (stage starts, results) are not the progress line */
            in_row++;
            redraws++;
            if (strlen(seg) > 79) fail_msg("a progress line of %zu characters in 80 columns: '%s'", strlen(seg), seg);
            if (strncmp(seg, "[1/1] it ", 9) != 0 && strncmp(seg, "it ", 3) != 0)
                fail_msg("the line does not start with the stage or the iteration: '%s'", seg);
        }
        progress_rows += in_row > 0;
    }
    if (redraws < 2 || progress_rows != 1)
        fail_msg("%d redraws on %d rows (expected several redraws, all on one row)", redraws, progress_rows);
}

/* A background run started with its stderr in a file; returns its pid. */
static pid_t start_run(const char *args, const char *err_file) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "exec %s/bin/hpinn %s >/dev/null 2>%s", getenv("HPINN_BUILD_DIR"), args, err_file);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Ctrl-C in a non-terminal log: plain lines only (no carriage returns, no
 * padding before "interrupted at iteration"), exit 130; the resumed run's
 * closing line gives the whole run's and this session's numbers, labelled, and
 * events.jsonl holds the interrupt and the resume. */
static void test_interrupt_then_resume(void **state) {
    (void)state;
    hp_test_write_file("tiny_run.yaml", pipeline);
    assert_int_equal(system("rm -rf run_int"), 0);
    pid_t pid = start_run("run tiny_run.yaml --out run_int --set stages[0].iterations=200000 --set output.log_every=20",
                          "int.err");
    struct timespec pause = {0, 50000000};
    for (int i = 0; i < 600 && file_size("run_int/history.csv") < 600; i++) nanosleep(&pause, NULL);
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 130);
    char *err = hp_test_read_file("int.err");
    assert_contains(err, "\ninterrupted at iteration ");
    assert_contains(err, "continue with: hpinn run --resume run_int");
    assert_null(strchr(err, '\r'));
    assert_null(strstr(err, "   "));
    free(err);
    int rc = run("run --resume run_int --set stages[0].iterations=1000");
    if (rc != 0) fail_msg("resume: exit %d\n%s", rc, err_text);
    assert_contains(err_text, "hpinn run: completed; the whole run: 1000 iterations in ");
    assert_contains(err_text, "; this session: ");
    assert_contains(err_text, " ms/iteration)");
    char *events = hp_test_read_file("run_int/events.jsonl");
    assert_contains(events, "{\"event\": \"interrupt\", ");
    assert_contains(events, "{\"event\": \"resume\", ");
    assert_contains(events, "\"events_consistent\": true");
    assert_contains(events, "{\"event\": \"summary\", ");
    free(events);
}

/* A finished run extended on resume through --set: a stage appended (the index
 * one past the end), then more iterations for it; every other change is refused;
 * the history and summary cover the whole run. */
static void test_extend_finished_run_cli(void **state) {
    (void)state;
    hp_test_write_file("tiny_run.yaml", pipeline);
    assert_int_equal(run("run tiny_run.yaml --out run_ext --force --set stages[0].iterations=100"), 0);
    int rc = run("run --resume run_ext --set 'stages[1]={iterations: 5, optimizer: {plugin: lm}}'");
    if (rc != 0) fail_msg("append a stage: exit %d\n%s", rc, err_text);
    assert_contains(err_text, "resuming with 1 allowed change");
    assert_contains(err_text, "completed; the whole run: 105 iterations");
    rc = run("run --resume run_ext --set stages[1].iterations=8");
    if (rc != 0) fail_msg("more iterations: exit %d\n%s", rc, err_text);
    assert_contains(err_text, "completed; the whole run: 108 iterations");
    history h;
    parse_history("run_ext/history.csv", &h);
    assert_true(h.v[h.n_rows - 1][col(&h, "iteration")] == 108);
    assert_true(h.v[h.n_rows - 1][col(&h, "stage")] == 1);
    char *summary = hp_test_read_file("run_ext/summary.json");
    assert_contains(summary, "\"iterations\": 108");
    free(summary);
    char *resolved = hp_test_read_file("run_ext/config.resolved.yaml");
    assert_contains(resolved, "plugin: lm");
    free(resolved);
    assert_int_equal(run("run --resume run_ext"), 0);
    assert_contains(err_text, "is complete; nothing to resume");
    assert_int_equal(run("run --resume run_ext --set stages[0].optimizer.lr=1e-3"), 2);
    assert_contains(err_text, "stages[0].optimizer.lr changed from");
    assert_int_equal(run("run --resume run_ext --set stages[1].iterations=3"), 2);
    assert_contains(err_text, "below the 8 steps stage 1 has taken");
}

/* Without output.dir a pipeline writes to runs/<its file's stem>. */
static void test_default_output_dir(void **state) {
    (void)state;
    char *text = strdup(pipeline);
    *strstr(text, "output:") = '\0';
    strcat(text, "output: {log_every: 50}\n");
    hp_test_write_file("no_dir.v2.yaml", text);
    free(text);
    assert_int_equal(run("check no_dir.v2.yaml"), 0);
    assert_contains(out_text, "output:\n  dir: \"runs/no_dir.v2\"\n");
    assert_int_equal(system("rm -rf runs/no_dir.v2"), 0);
    int rc = run("run no_dir.v2.yaml --set stages[0].iterations=3");
    if (rc != 0) fail_msg("exit %d\n%s", rc, err_text);
    assert_true(file_size("runs/no_dir.v2/history.csv") > 0);
    assert_contains(out_text, "outputs in runs/no_dir.v2/");
    /* --out and an explicit output.dir still win */
    assert_int_equal(run("run no_dir.v2.yaml --set stages[0].iterations=3 --set output.dir=run_named --force"), 0);
    assert_true(file_size("run_named/history.csv") > 0);
}

/* The run id of run.json in dir (static buffer). */
static const char *run_id_of(const char *dir) {
    static char id[64];
    char path[256];
    snprintf(path, sizeof path, "%s/run.json", dir);
    char *text = hp_test_read_file(path);
    if (!text) fail_msg("no %s", path);
    const char *p = strstr(text, "\"run_id\": \"");
    if (!p) fail_msg("%s has no run_id", path);
    snprintf(id, sizeof id, "%.32s", p + 11);
    free(text);
    return id;
}

/* --init-from: a new run (own id, iteration 0) whose first row is the source
 * run's last θ; recorded in run.json, summary.json and events.jsonl, and kept
 * across a resume of the new run. Refused: another width (layout), another
 * msff seed (same shape, other frozen features: another function), with
 * --resume, without a checkpoint. An MLP with another seed is the same
 * function of θ: taken, with a note. */
static void test_init_from(void **state) {
    (void)state;
    hp_test_write_file("tiny_run.yaml", pipeline);
    assert_int_equal(run("run tiny_run.yaml --out run_src --force --set stages[0].iterations=100"), 0);
    history src;
    parse_history("run_src/history.csv", &src);
    char src_id[64];
    snprintf(src_id, sizeof src_id, "%s", run_id_of("run_src"));
    int rc = run("run tiny_run.yaml --out run_warm --force --init-from run_src --set stages[0].iterations=10");
    if (rc != 0) fail_msg("exit %d\n%s", rc, err_text);
    history warm;
    parse_history("run_warm/history.csv", &warm);
    assert_true(warm.v[0][col(&warm, "iteration")] == 0);
    /* the same pipeline at the same θ: the new run's first row is the source's last */
    assert_true(warm.v[0][col(&warm, "J_hat")] == src.v[src.n_rows - 1][col(&src, "J_hat")]);
    assert_true(warm.v[0][col(&warm, "rel_l2")] == src.v[src.n_rows - 1][col(&src, "rel_l2")]);
    assert_string_not_equal(run_id_of("run_warm"), src_id);
    char expect[256];
    snprintf(expect, sizeof expect, "\"init_from\": {\"dir\": \"run_src\", \"run_id\": \"%s\", \"iteration\": 100}", src_id);
    const char *files[] = {"run_warm/run.json", "run_warm/summary.json", "run_warm/events.jsonl"};
    for (int i = 0; i < 3; i++) {
        char *text = hp_test_read_file(files[i]);
        if (!text || !strstr(text, expect)) fail_msg("%s lacks %s", files[i], expect);
        free(text);
    }
    /* resuming the warm run (extending it) keeps the record */
    assert_int_equal(run("run --resume run_warm --set stages[0].iterations=20"), 0);
    char *summary = hp_test_read_file("run_warm/summary.json");
    assert_contains(summary, expect);
    free(summary);
    /* a run without --init-from says so */
    summary = hp_test_read_file("run_src/summary.json");
    assert_contains(summary, "\"init_from\": null");
    free(summary);

    assert_int_equal(run("run tiny_run.yaml --out run_warm2 --force --init-from run_src --set network.width=16"), 2);
    assert_contains(err_text, "run --init-from run_src: its network has ");
    assert_contains(err_text, "network.width: 12 (run_src) vs 16 (this pipeline)");
    assert_int_equal(run("run tiny_run.yaml --out run_warm2 --force --init-from run_src --set network.seed=2"), 2);
    assert_contains(err_text, "the same θ gives another function here");
    assert_contains(err_text, "network.seed: 1 (run_src) vs 2 (this pipeline)");
    assert_int_equal(run("run tiny_run.yaml --out run_warm2 --force --init-from run_src "
                         "--set 'network={plugin: mlp, width: 12, depth: 2}'"), 2);
    assert_contains(err_text, "its network is 'msff', this pipeline's is 'mlp'");
    assert_int_equal(run("run --resume run_warm --init-from run_src"), 2);
    assert_contains(err_text, "--init-from starts a new run");
    assert_int_equal(system("rm -rf run_empty && mkdir run_empty"), 0);
    assert_int_equal(run("run tiny_run.yaml --out run_warm2 --force --init-from run_empty"), 2);
    assert_contains(err_text, "run --init-from run_empty: no checkpoint there");
    assert_false(file_size("run_warm2/history.csv") > 0); /* refused before anything was written */

    /* MLP: the seed only initialises; another seed, the same function of θ */
    const char *mlp = "--set 'network={plugin: mlp, width: 10, depth: 2, seed: 1}' --set stages[0].iterations=20";
    char args[512];
    snprintf(args, sizeof args, "run tiny_run.yaml --out run_mlp --force %s", mlp);
    assert_int_equal(run(args), 0);
    snprintf(args, sizeof args, "run tiny_run.yaml --out run_mlp2 --force --init-from run_mlp %s --set network.seed=7",
             mlp);
    rc = run(args);
    if (rc != 0) fail_msg("mlp, another seed: exit %d\n%s", rc, err_text);
    assert_contains(err_text, "note: --init-from run_mlp: network.seed: 1 (run_mlp) vs 7 (this pipeline); the same θ");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_outputs_and_progress),
        cmocka_unit_test(test_run_errors),
        cmocka_unit_test(test_run_threads_same_bits),
        cmocka_unit_test(test_under_resolution_warning),
        cmocka_unit_test(test_aliasing_warning),
        cmocka_unit_test(test_progress_fits_an_80_column_terminal),
        cmocka_unit_test(test_interrupt_then_resume),
        cmocka_unit_test(test_extend_finished_run_cli),
        cmocka_unit_test(test_default_output_dir),
        cmocka_unit_test(test_init_from),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
