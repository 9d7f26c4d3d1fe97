/* test_plot.c — `hpinn plot` driven as a subprocess on two tiny runs, a 1-D and
 * a 2-D one, each with two stages (the second switches the coupling off):
 *   - every figure is written and well formed for png, svg and pdf;
 *   - the gnuplot script beside them holds what the figures promise: axis
 *     labels, powers of ten on log axes, τ2·R, the stage boundary and the
 *     stages' names and weights, K̃ entries as "K̃₁₁" with the reference named,
 *     the final error, the network on the validation grid in coarse.png, and
 *     in 2-D square viridis maps with the network and the reference on one
 *     colour scale and no key;
 *   - --watch on a finished run draws once and exits 0; on a directory whose
 *     lock is held (what a running `hpinn run` does) it redraws until the lock
 *     is released, then exits 0, and Ctrl-C stops it with 130;
 *   - errors: no gnuplot (exit 1, the Debian package named), a directory
 *     without the run's files, bad options (exit 2).
 * The figure checks need gnuplot; without it they are reported as skipped. */
#include "test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static char out_text[1 << 16], err_text[1 << 16];

static int run(const char *args) {
    return hp_test_run_hpinn(args, "plot", out_text, sizeof out_text, err_text, sizeof err_text);
}

static const char *pipeline_1d =
    "constants: {eps: 0.0625}\n"
    "problem:\n"
    "  K: \"1/(1.2 + sin(2*pi*x/eps))\"\n"
    "  q: \"-3*(2*x - 1)\"\n"
    "  collocation: {points: 96}\n"
    "  validation: {points: 201}\n"
    "  reference: {integral_intervals: 2000}\n"
    "network: {plugin: msff, width: 8, depth: 2, features: 8, sigmas: [1, 16], seed: 1}\n"
    "coarse: {plugin: p1_1d, elements: 16}\n"
    "coupling: {form: full, window: 1, delta: eps, tau2: 1000}\n"
    "stages:\n"
    "  - {name: coupled, iterations: 40, optimizer: {plugin: adam, lr: 2e-3}}\n"
    "  - {name: plain_pinn, iterations: 4, tau2: 0, optimizer: {plugin: lm}}\n"
    "output: {dir: plot_1d, log_every: 10, checkpoint_every: 0}\n";

static const char *pipeline_2d =
    "constants: {eps: 0.25}\n"
    "problem:\n"
    "  dim: 2\n"
    "  K: \"1/(2 + 1.5*sin(2*pi*(x + y)/eps))\"\n"
    "  q: \"1\"\n"
    "  collocation: {points: 12}\n"
    "  validation: {points: 21}\n"
    "  reference: {kind: fem, fem_elements: 32}\n"
    "upscaling: {plugin: global, form: flux, mode: anisotropic}\n"
    "coarse: {plugin: p1_2d, elements: 8}\n"
    "network: {plugin: msff, width: 8, depth: 1, features: 8, sigmas: [1, 4], seed: 1}\n"
    "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n"
    "stages:\n"
    "  - {name: warm_up, iterations: 10, optimizer: {plugin: adam, lr: 2e-3}}\n"
    "  - {name: pinn, iterations: 4, tau2: 0, tau3: 5, optimizer: {plugin: lm}}\n"
    "output: {dir: plot_2d, log_every: 5, checkpoint_every: 0}\n";

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static void make_runs(void) {
    static int done = 0;
    if (done) return;
    hp_test_write_file("plot_1d.yaml", pipeline_1d);
    hp_test_write_file("plot_2d.yaml", pipeline_2d);
    int rc = run("run plot_1d.yaml --force");
    if (rc != 0) fail_msg("1-D run: exit %d\n%s", rc, err_text);
    rc = run("run plot_2d.yaml --force");
    if (rc != 0) fail_msg("2-D run: exit %d\n%s", rc, err_text);
    done = 1;
}

static int have_gnuplot(void) {
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) return 1;
    print_message("gnuplot not installed: figures not checked\n");
    return 0;
}

static const char *figures[] = {"losses", "ktilde", "solution", "coarse"};

/* Every figure of dir in format ext exists, is not tiny, and is of its kind. */
static void check_figures(const char *dir, const char *ext) {
    for (int i = 0; i < 4; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/plots/%s.%s", dir, figures[i], ext);
        long size = file_size(path);
        if (size < 1000) fail_msg("%s: %ld bytes", path, size);
        char *text = hp_test_read_file(path);
        if (strcmp(ext, "png") == 0) assert_memory_equal(text, "\x89PNG\r\n\x1a\n", 8);
        else if (strcmp(ext, "pdf") == 0) assert_memory_equal(text, "%PDF", 4);
        else assert_contains(text, "<svg");
        free(text);
    }
}

static void test_formats(void **state) {
    (void)state;
    make_runs();
    if (!have_gnuplot()) return;
    const char *dirs[] = {"plot_1d", "plot_2d"}, *formats[] = {"png", "svg", "pdf"};
    for (int d = 0; d < 2; d++) {
        for (int f = 0; f < 3; f++) {
            char args[128], expect[128];
            snprintf(args, sizeof args, "plot %s --format %s", dirs[d], formats[f]);
            int rc = run(args);
            if (rc != 0) fail_msg("%s: exit %d\n%s", args, rc, err_text);
            snprintf(expect, sizeof expect, "4 figures in %s/plots/: losses.%s ktilde.%s solution.%s coarse.%s",
                     dirs[d], formats[f], formats[f], formats[f], formats[f]);
            assert_contains(out_text, expect);
            check_figures(dirs[d], formats[f]);
        }
        /* nothing is left of the drawing's snapshot */
        char render[128];
        snprintf(render, sizeof render, "%s/plots/.render", dirs[d]);
        assert_int_equal(file_size(render), -1);
    }
    assert_int_equal(run("plot plot_1d --format=svg"), 0);
    char *script = hp_test_read_file("plot_1d/plots/plots.gp");
    assert_contains(script, "set terminal svg enhanced");
    free(script);
}

/* The text between the first `from` and the next `to` in s (static buffer). */
static const char *between(const char *s, const char *from, const char *to) {
    static char buf[4096];
    const char *a = strstr(s, from);
    if (!a) fail_msg("expected to find %s in the script", from);
    const char *b = strstr(a + strlen(from), to);
    if (!b) fail_msg("expected to find %s after %s in the script", to, from);
    snprintf(buf, sizeof buf, "%.*s", (int)(b - a), a);
    return buf;
}

static void test_script_1d(void **state) {
    (void)state;
    make_runs();
    if (!have_gnuplot()) return;
    assert_int_equal(run("plot plot_1d"), 0);
    char *g = hp_test_read_file("plot_1d/plots/plots.gp");
    assert_non_null(g);
    const char *expected[] = {
        /* axis labels, with the quantity and its symbol */
        "set xlabel \"iteration (optimizer steps, all stages)\"", "set ylabel \"term of Ĵ\"",
        "set ylabel \"‖v − u‖_2 / ‖u‖_2\"", "set ylabel \"mean ρ^2\"", "set ylabel \"K̃_{ij}\"",
        "set ylabel \"|K̃_{ij} − K̃_{ij}^{ref}|\"", "set ylabel \"u_1, v_1\"", "set ylabel \"v_1 − u_1\"",
        "set ylabel \"v_1, Q̄v_1, y_h\"", "set ylabel \"Q̄v_1 − y_h\"", "set xlabel \"x\"",
        /* log axes in powers of ten */
        "set logscale y 10\nset format y \"10^{%L}\"",
        /* τ2·R row by row, with each stage's τ2 */
        "tau2(s) = s == 0 ? 1000 : 0", "(tau2(column(\"stage\"))*column(\"R\"))", "title \"τ_2·R (coupling term)\"",
        /* the stage boundary (the last row of stage 0, iteration 40), tagged and listed */
        "set arrow 101 from 40, graph 0 to 40, graph 1 nohead dt 2", "set label 101 \"2\" at 40, graph 0.95",
        "1  coupled (adam), τ_2 = 1000", "2  plain\\\\_pinn (lm), τ_2 = 0",
        /* error and residual on panels of their own */
        "set multiplot layout 3,1",
        /* K̃ entries and the reference, named */
        "title \"K̃₁₁\"", "title \"K̃₁₁ reference = 0.8", "(abs(column(\"k_0_0_0\") - 0.8",
        "distance to the reference K̃^{ref}: 1-D flux integral",
        /* solution: error panel and the final error in the key */
        "set key title \"final rel. L2 error\\n‖v − u‖_2/‖u‖_2 = ", "(column(\"v1\") - column(\"u1\"))",
        /* coarse: the network from the validation grid, Q̄v as points, y_h as P1 */
        "plot \"fields.csv\" using \"x\":\"v1\" with lines lw 1.5", "\"nodes.csv\" using \"x\":\"Qv1\" with points",
        "\"nodes.csv\" using \"x\":\"y1\" with linespoints", "(column(\"Qv1\") - column(\"y1\"))",
        /* palettes defined in the script */
        "viridis = \"set palette defined (0 '#440154'", "1 '#fde725')\"",
        /* the user reruns it by hand */
        "gnuplot plots/plots.gp", "if (!exists(\"outdir\")) outdir = \"plots\""};
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) assert_contains(g, expected[i]);
    /* the old labels are gone */
    assert_null(strstr(g, "title \"k_0_0_0"));
    assert_null(strstr(g, "%.0e"));
    /* the network is not drawn by joining its values at the coarse nodes */
    assert_null(strstr(g, "\"nodes.csv\" using \"x\":\"v1\""));
    /* no averaged residual in this run: no A curve, no τ3 in the title */
    assert_null(strstr(g, "column(\"A\")"));
    assert_null(strstr(g, "τ_3 A"));
    free(g);
}

static void test_script_2d(void **state) {
    (void)state;
    make_runs();
    if (!have_gnuplot()) return;
    assert_int_equal(run("plot plot_2d"), 0);
    char *g = hp_test_read_file("plot_2d/plots/plots.gp");
    assert_non_null(g);
    const char *expected[] = {
        "set size ratio -1", "set xrange [0:1]\nset yrange [0:1]", "unset key", "eval viridis", "eval diverging",
        "set ylabel \"y\"", "set cblabel \"v_1\"", "set cblabel \"u_1\"", "set cblabel \"v_2 − u_2\"",
        "title \"pointwise error v_1 − u_1\"", "final rel. L2 error ‖v − u‖_2/‖u‖_2 = ",
        "on the 21 × 21 validation grid", "coarse problem on 9 × 9 nodes", "title \"K̃₁₂\"", "title \"K̃₂₁ reference",
        "fine FEM (p1\\\\_2d, 32 elements per axis", "1  warm\\\\_up (adam), τ_2 = 10", "2  pinn (lm), τ_2 = 0, τ_3 = 5",
        /* the averaged residual of the last stage, weighted row by row */
        "tau3(s) = s == 0 ? 0 : 5", "(tau3(column(\"stage\"))*column(\"A\"))", "title \"τ_3·A (averaged residual)\"",
        "J_{pinn} + τ_1 B + τ_2 R + τ_3 A and its terms",
        "set arrow 101 from 10, graph 0", "\"fields.csv\" using \"x\":\"y\":\"v1\" with image notitle",
        "\"nodes.csv\" using \"x\":\"y\":\"Qv1\" with image notitle"};
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) assert_contains(g, expected[i]);
    /* network and reference share one colour scale: no cbrange between them */
    const char *pair = between(g, "using \"x\":\"y\":\"v1\"", "using \"x\":\"y\":\"u1\"");
    assert_null(strstr(pair, "cbrange"));
    /* the error map's scale is symmetric around 0 */
    const char *err = between(g, "using \"x\":\"y\":\"u1\"", "(column(\"v1\") - column(\"u1\"))");
    const char *cb = strstr(err, "set cbrange [-");
    assert_non_null(cb);
    double lo, hi;
    assert_int_equal(sscanf(cb, "set cbrange [%lf:%lf]", &lo, &hi), 2);
    assert_true(lo < 0 && hi == -lo);
    /* maps have no legend samples: every image is plotted notitle */
    for (const char *p = strstr(g, "with image"); p; p = strstr(p + 1, "with image"))
        assert_true(strncmp(p, "with image notitle", 18) == 0);
    free(g);
}

/* Hold dir's run lock as a running `hpinn run` does (run_dir.c). */
static int hold_lock(const char *dir) {
    char path[256], pid[32];
    snprintf(path, sizeof path, "%s/.hpinn.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666); /* the watch must not inherit it */
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, pid, (size_t)len, 0), len);
    return fd;
}

static pid_t start_watch(const char *dir) {
    unlink("watch.out"); /* what the parent waits for must come from this watch */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int out = open("watch.out", O_WRONLY | O_CREAT | O_TRUNC, 0666), err = open("watch.err", O_WRONLY | O_CREAT | O_TRUNC, 0666);
        dup2(out, 1);
        dup2(err, 2);
        char bin[1024];
        snprintf(bin, sizeof bin, "%s/bin/hpinn", getenv("HPINN_BUILD_DIR"));
        execl(bin, bin, "plot", dir, "--watch", "--interval", "0.2", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Wait until watch.out holds `text` (the guard only keeps a broken watch from
 * hanging the suite; no duration is asserted). */
static void wait_for_output(const char *text) {
    for (int i = 0; i < 1200; i++) {
        char *o = hp_test_read_file("watch.out");
        int found = o && strstr(o, text);
        free(o);
        if (found) return;
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    char *e = hp_test_read_file("watch.err");
    fail_msg("--watch never printed '%s'; stderr: %s", text, e ? e : "");
}

static int wait_exit(pid_t pid) {
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_watch(void **state) {
    (void)state;
    make_runs();
    if (!have_gnuplot()) return;
    /* a finished run: one drawing, exit 0 */
    unlink("plot_1d/plots/losses.png");
    int rc = run("plot plot_1d --watch --interval 0.2");
    if (rc != 0) fail_msg("exit %d\n%s", rc, err_text);
    assert_contains(out_text, "the run has ended; 4 figures in plot_1d/plots/");
    check_figures("plot_1d", "png");

    /* a held lock: redraws until it is released, then the final drawing and 0 */
    int fd = hold_lock("plot_1d");
    pid_t pid = start_watch("plot_1d");
    wait_for_output("figures updated in plot_1d/plots/");
    close(fd);
    assert_int_equal(wait_exit(pid), 0);
    char *o = hp_test_read_file("watch.out");
    assert_contains(o, "hpinn plot: iteration 44: 4 figures updated");
    assert_contains(o, "the run has ended");
    free(o);

    /* Ctrl-C stops watching: 130, the figures complete */
    fd = hold_lock("plot_1d");
    pid = start_watch("plot_1d");
    wait_for_output("figures updated in plot_1d/plots/");
    kill(pid, SIGINT);
    assert_int_equal(wait_exit(pid), 130);
    close(fd);
    o = hp_test_read_file("watch.out");
    assert_contains(o, "stopped watching; the figures in plot_1d/plots/ show iteration 44");
    free(o);
    check_figures("plot_1d", "png");
}

static void test_errors(void **state) {
    (void)state;
    make_runs();
    /* no gnuplot: a message naming the package, exit 1 (the environment lacks a tool) */
    setenv("HPINN_GNUPLOT", "hpinn-no-such-gnuplot", 1);
    int missing = run("plot plot_1d");
    unsetenv("HPINN_GNUPLOT");
    assert_int_equal(missing, 1);
    assert_contains(err_text, "gnuplot was not found");
    assert_contains(err_text, "gnuplot-nox");
    /* gnuplot fails: its exit code and the script it failed on */
    setenv("HPINN_GNUPLOT", "false", 1);
    int failed = run("plot plot_1d");
    unsetenv("HPINN_GNUPLOT");
    assert_int_equal(failed, 1);
    assert_contains(err_text, "plot: gnuplot failed (exit code 1) on plot_1d/plots/plots.gp");

    /* usage */
    assert_int_equal(run("plot"), 2);
    assert_contains(err_text, "expected a run directory");
    assert_int_equal(run("plot plot_1d plot_2d"), 2);
    assert_int_equal(run("plot plot_1d --format jpeg"), 2);
    assert_contains(err_text, "--format 'jpeg' is not a format; expected png, svg or pdf");
    assert_int_equal(run("plot plot_1d --watch --interval soon"), 2);
    assert_contains(err_text, "--interval 'soon'");
    assert_int_equal(run("plot plot_1d --colour"), 2);
    assert_contains(err_text, "unknown option '--colour'");

    /* directories that are not a run's */
    assert_int_equal(run("plot no_such_dir"), 2);
    assert_contains(err_text, "no_such_dir is not a directory");
    assert_int_equal(system("rm -rf plot_empty && mkdir plot_empty"), 0);
    assert_int_equal(run("plot plot_empty"), 2);
    assert_contains(err_text, "plot_empty has no config.resolved.yaml; expected the directory of a `hpinn run`");
    assert_int_equal(run("plot plot_empty --watch"), 2);
    assert_contains(err_text, "plot_empty has no config.resolved.yaml");
    assert_int_equal(system("cp plot_1d/config.resolved.yaml plot_empty/"), 0);
    assert_int_equal(run("plot plot_empty"), 2);
    assert_contains(err_text, "plot_empty has no history.csv");
    if (!have_gnuplot()) return;
    /* a history without rows and nothing else: nothing to draw */
    assert_int_equal(system("head -1 plot_1d/history.csv > plot_empty/history.csv"), 0);
    assert_int_equal(run("plot plot_empty"), 2);
    assert_contains(err_text, "plot_empty/history.csv has no rows yet");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),  cmocka_unit_test(test_script_1d), cmocka_unit_test(test_script_2d),
        cmocka_unit_test(test_watch),    cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
