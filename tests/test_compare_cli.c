/* test_compare_cli.c — `hpinn compare` on run directories written by hand
 * (known numbers, known histories) and on a real sweep:
 *   - the keys that differ (not output.dir, not network.threads), the seed
 *     groups with median, min and max, --no-group;
 *   - the time to first reach each threshold, from a history written here;
 *   - csv, md and json outputs parsed back;
 *   - runs that failed (a sweep member with no directory), diverged, or are
 *     incomplete (no summary.json): their status and what history.csv has;
 *   - --plot: PNG figures with gnuplot, and the message naming gnuplot-nox
 *     without it; usage errors. */
#include "test_util.h"

#include <sys/stat.h>

#include "json_in.h"

static char out_text[1 << 17], err_text[1 << 16];

static int hpinn(const char *args) {
    return hp_test_run_hpinn(args, "compare", out_text, sizeof out_text, err_text, sizeof err_text);
}

static void mkdir_p(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void write_in(const char *dir, const char *name, const char *text) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void write_config(const char *dir, int seed, const char *tau2, int threads) {
    char text[1024];
    snprintf(text, sizeof text,
             "# resolved from cmp.yaml by hpinn run\n"
             "problem:\n  dim: 1\n  K: \"1/(1.2 + sin(2*pi*x/eps))\"\n"
             "network:\n  plugin: msff\n  sigmas: [1, 16]\n  seed: %d\n  threads: %d\n"
             "coupling:\n  form: full\n  tau2: %s\n"
             "stages:\n  - iterations: 30\n    optimizer:\n      plugin: adam\n      lr: 0.002\n"
             "output:\n  dir: \"%s\"\n  log_every: 10\n",
             seed, threads, tau2, dir);
    write_in(dir, "config.resolved.yaml", text);
}

/* rows (iteration 10 k, seconds[k], rel_l2[k]) */
static void write_history(const char *dir, const double *seconds, const double *err, int n) {
    char text[4096];
    size_t used = (size_t)snprintf(text, sizeof text,
                                   "iteration,seconds,J_pinn,boundary,R,J_hat,rel_l2,fine_residual,k_0_0_0,fallback,"
                                   "fallback_steps,stage\n");
    for (int k = 0; k < n; k++)
        used += (size_t)snprintf(text + used, sizeof text - used, "%d,%.17g,%.17g,0,0,%.17g,%.17g,%.17g,0.9,0,0,0\n",
                                 10 * k, seconds[k], 100 * err[k], 100 * err[k], err[k], 7 * err[k]);
    write_in(dir, "history.csv", text);
}

static void write_summary(const char *dir, double rel_l2, double wall, double k) {
    char text[2048];
    snprintf(text, sizeof text,
             "{\n  \"hpinn_version\": \"0.1.0\",\n  \"config\": \"cmp.yaml\",\n  \"completed\": true,\n"
             "  \"diverged\": false,\n  \"iterations\": 30,\n  \"wall_seconds\": %.17g,\n"
             "  \"final\": {\n    \"rel_l2\": %.17g,\n    \"fine_residual\": %.17g,\n    \"J_pinn\": %.17g\n  },\n"
             "  \"ktilde\": {\"dim\": 1, \"blocks\": 1, \"values\": [%.17g]},\n  \"ktilde_reference\": [0.8]\n}\n",
             wall, rel_l2, 2 * rel_l2, 3 * rel_l2, k);
    write_in(dir, "summary.json", text);
}

static void write_label(const char *dir, const char *label) {
    char text[512];
    snprintf(text, sizeof text, "{\n  \"run_id\": \"0123456789abcdef0123456789abcdef\",\n  \"label\": \"%s\"\n}\n",
             label);
    write_in(dir, "run.json", text);
}

/* Six finished runs: tau2 0 and 10, seeds 1 to 3; finals and histories known. */
static const double finals[2][3] = {{3e-3, 1e-3, 2e-3}, {4e-4, 6e-4, 5e-4}};

static void write_runs(void) {
    assert_int_equal(system("rm -rf cmp_runs"), 0);
    for (int t = 0; t < 2; t++)
        for (int s = 0; s < 3; s++) {
            char dir[128], label[64];
            snprintf(dir, sizeof dir, "cmp_runs/tau2=%d_seed=%d", t ? 10 : 0, s + 1);
            snprintf(label, sizeof label, "tau2=%d_seed=%d", t ? 10 : 0, s + 1);
            mkdir_p(dir);
            write_config(dir, s + 1, t ? "10" : "0", 1 + s % 2); /* threads differ: not a key */
            write_label(dir, label);
            /* reaches 1e-1 at 1 + s seconds, 1e-2 at 2 + s, 1e-3 only with tau2 10 (at 3 + s) */
            double sec[4] = {0, 1.0 + s, 2.0 + s, 3.0 + s};
            double err[4] = {0.5, 0.1, 0.009, t ? 1e-3 : 2e-3};
            write_history(dir, sec, err, 4);
            write_summary(dir, finals[t][s], 10.0 + s + t, 0.84);
        }
}

static const char *all_runs =
    "cmp_runs/tau2=0_seed=1 cmp_runs/tau2=0_seed=2 cmp_runs/tau2=0_seed=3 "
    "cmp_runs/tau2=10_seed=1 cmp_runs/tau2=10_seed=2 cmp_runs/tau2=10_seed=3";

static void parse_json_output(hp__json_doc *doc) {
    hp_test_write_file("compare_out.json", out_text);
    if (hp__json_load("compare_out.json", doc) != HP_OK) fail_msg("not JSON: %s\n%s", hp_error_message(), out_text);
}

static const hp__node *row_of(const hp__json_doc *d, size_t i) {
    const hp__node *rows = hp__json_get(d->root, "rows");
    assert_non_null(rows);
    if (i >= rows->count) fail_msg("row %zu of %zu", i, rows->count);
    return rows->items[i];
}

static double stat_of(const hp__node *row, const char *metric, const char *which) {
    const hp__node *m = hp__json_get(hp__json_get(row, "metrics"), metric);
    return which ? hp__json_num(hp__json_get(m, which)) : hp__json_num(m);
}

static void test_groups_and_keys(void **state) {
    (void)state;
    write_runs();
    char args[1024];
    snprintf(args, sizeof args, "compare %s --format json", all_runs);
    int rc = hpinn(args);
    if (rc != 0) fail_msg("exit %d\n%s", rc, err_text);
    hp__json_doc d;
    parse_json_output(&d);
    assert_int_equal(hp__json_bool(hp__json_get(d.root, "grouped")), 1); /* the seeds differ: grouped */
    const hp__node *keys = hp__json_get(d.root, "keys");
    assert_int_equal(keys->count, 2); /* not output.dir, not network.threads */
    assert_string_equal(hp__json_str(keys->items[0]), "network.seed");
    assert_string_equal(hp__json_str(keys->items[1]), "coupling.tau2");
    assert_int_equal(hp__json_get(d.root, "rows")->count, 2);
    const hp__node *r0 = row_of(&d, 0), *r1 = row_of(&d, 1);
    assert_string_equal(hp__json_str(hp__json_get(r0, "label")), "tau2=0");
    assert_string_equal(hp__json_str(hp__json_get(r1, "label")), "tau2=10");
    assert_true(hp__json_num(hp__json_get(r0, "n")) == 3);
    assert_string_equal(hp__json_str(hp__json_get(r0, "status")), "3 done");
    assert_string_equal(hp__json_str(hp__json_get(hp__json_get(r1, "config"), "coupling.tau2")), "10");
    assert_double_equal(stat_of(r0, "rel_l2", "median"), 2e-3, 1e-18);
    assert_double_equal(stat_of(r0, "rel_l2", "min"), 1e-3, 1e-18);
    assert_double_equal(stat_of(r0, "rel_l2", "max"), 3e-3, 1e-18);
    assert_double_equal(stat_of(r1, "rel_l2", "median"), 5e-4, 1e-18);
    assert_double_equal(stat_of(r1, "fine_residual", "median"), 1e-3, 1e-18);
    assert_double_equal(stat_of(r1, "J_pinn", "max"), 1.8e-3, 1e-15);
    assert_double_equal(stat_of(r0, "wall_seconds", "median"), 11, 0);
    assert_double_equal(stat_of(r1, "wall_seconds", "min"), 11, 0);
    assert_double_equal(stat_of(r0, "ktilde", "median"), 0.84, 1e-15);
    assert_double_equal(stat_of(r0, "ktilde_rel_error", "median"), 0.05, 1e-12); /* |0.84 - 0.8| / 0.8 */
    assert_double_equal(stat_of(r0, "iterations", "median"), 30, 0);
    /* times: 1e-1 at 1, 2, 3 s; 1e-2 at 2, 3, 4 s; 1e-3 never with tau2 0, at 3, 4, 5 s with tau2 10 */
    assert_double_equal(stat_of(r0, "t_rel_l2_1e-1", "median"), 2, 0);
    assert_double_equal(stat_of(r0, "t_rel_l2_1e-2", "min"), 2, 0);
    assert_double_equal(stat_of(r0, "t_rel_l2_1e-2", "max"), 4, 0);
    assert_true(isnan(stat_of(r0, "t_rel_l2_1e-3", "median"))); /* never: null */
    assert_true(hp__json_num(hp__json_get(hp__json_get(hp__json_get(r0, "metrics"), "t_rel_l2_1e-3"), "count")) == 3);
    assert_double_equal(stat_of(r1, "t_rel_l2_1e-3", "median"), 4, 0);
    hp__json_free(&d);

    /* --no-group: one row per run, the seed is a column */
    snprintf(args, sizeof args, "compare %s --format json --no-group", all_runs);
    assert_int_equal(hpinn(args), 0);
    parse_json_output(&d);
    assert_int_equal(hp__json_bool(hp__json_get(d.root, "grouped")), 0);
    assert_int_equal(hp__json_get(d.root, "rows")->count, 6);
    const hp__node *r4 = row_of(&d, 4);
    assert_string_equal(hp__json_str(hp__json_get(r4, "label")), "tau2=10_seed=2");
    assert_string_equal(hp__json_str(hp__json_get(hp__json_get(r4, "config"), "network.seed")), "2");
    assert_double_equal(stat_of(r4, "rel_l2", NULL), 6e-4, 1e-18);
    assert_double_equal(stat_of(r4, "t_rel_l2_1e-1", NULL), 2, 0);
    assert_double_equal(stat_of(r4, "t_rel_l2_1e-3", NULL), 4, 0);
    assert_true(isnan(stat_of(row_of(&d, 0), "t_rel_l2_1e-3", NULL)));
    hp__json_free(&d);

    /* other thresholds: the first row at or below them */
    snprintf(args, sizeof args, "compare cmp_runs/tau2=0_seed=1 --format json --thresholds 0.4,1e-5");
    assert_int_equal(hpinn(args), 0);
    parse_json_output(&d);
    assert_int_equal(hp__json_get(d.root, "keys")->count, 0);
    assert_double_equal(stat_of(row_of(&d, 0), "t_rel_l2_0.4", NULL), 1, 0);
    assert_true(isnan(stat_of(row_of(&d, 0), "t_rel_l2_1e-5", NULL)));
    assert_null(hp__json_get(hp__json_get(row_of(&d, 0), "metrics"), "t_rel_l2_1e-1"));
    hp__json_free(&d);

    /* runs whose only difference is the seed: one group; --group with nothing to group */
    assert_int_equal(hpinn("compare cmp_runs/tau2=0_seed=1 cmp_runs/tau2=0_seed=3 --format json"), 0);
    parse_json_output(&d);
    assert_int_equal(hp__json_get(d.root, "rows")->count, 1);
    assert_string_equal(hp__json_str(hp__json_get(row_of(&d, 0), "label")), "tau2=0");
    assert_double_equal(stat_of(row_of(&d, 0), "rel_l2", "median"), 2.5e-3, 1e-18); /* even count: the mean of the two */
    hp__json_free(&d);
    assert_int_equal(hpinn("compare cmp_runs/tau2=0_seed=1 cmp_runs/tau2=10_seed=1 --group --format json"), 0);
    parse_json_output(&d);
    assert_int_equal(hp__json_get(d.root, "rows")->count, 2);
    hp__json_free(&d);
}

static int split_csv_line(char *line, char **fields, int max) {
    int n = 0;
    for (char *p = line; n < max;) {
        fields[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma) break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

static void test_formats(void **state) {
    (void)state;
    write_runs();
    char args[1024];
    /* csv: a header naming every column, numbers with every digit, empty for never */
    snprintf(args, sizeof args, "compare %s --format csv", all_runs);
    assert_int_equal(hpinn(args), 0);
    char *save = NULL;
    char *header = strtok_r(out_text, "\n", &save), *row0 = strtok_r(NULL, "\n", &save);
    char *row1 = strtok_r(NULL, "\n", &save);
    assert_non_null(row1);
    assert_null(strtok_r(NULL, "\n", &save));
    char *h[64], *v[64];
    int nh = split_csv_line(header, h, 64), nv = split_csv_line(row0, v, 64);
    assert_int_equal(nh, nv);
    assert_int_equal(nh, 3 + 1 + 11 * 3); /* CSV keeps the worst direction's column even in 1-D */
    assert_string_equal(h[0], "label");
    assert_string_equal(h[1], "n");
    assert_string_equal(h[3], "coupling.tau2");
    assert_string_equal(h[4], "rel_l2_median");
    assert_string_equal(v[0], "tau2=0");
    assert_string_equal(v[1], "3");
    assert_string_equal(v[2], "3 done");
    assert_string_equal(v[3], "0");
    assert_double_equal(strtod(v[4], NULL), 2e-3, 0);
    assert_double_equal(strtod(v[5], NULL), 1e-3, 0);
    assert_double_equal(strtod(v[6], NULL), 3e-3, 0);
    for (int i = 0; i < nh; i++)
        if (strcmp(h[i], "t_rel_l2_1e-3_median") == 0) assert_string_equal(v[i], "");
    /* md: a table with the text's rounding */
    snprintf(args, sizeof args, "compare %s --format md", all_runs);
    assert_int_equal(hpinn(args), 0);
    assert_contains(out_text, "| label | n | status | coupling.tau2 | rel_l2 | fine_res | K~ | K~_err | J_pinn | iters "
                              "| wall_s | t(1e-1)_s | t(1e-2)_s | t(1e-3)_s |\n|---|---:|---|---|---:|");
    assert_contains(out_text, "| tau2=0 | 3 | 3 done | 0 | 0.002 [0.001, 0.003] | 0.004 [0.002, 0.006] | 0.84 | 0.05 | "
                              "0.006 [0.003, 0.009] | 30 | 11 [10, 12] | 2 [1, 3] | 3 [2, 4] | - |\n");
    assert_contains(out_text, "| tau2=10 | 3 | 3 done | 10 | 0.0005 [0.0004, 0.0006] |");
    /* text: aligned; split into blocks that each start with the label when the width is small */
    snprintf(args, sizeof args, "compare %s --no-group", all_runs);
    setenv("COLUMNS", "60", 1);
    assert_int_equal(hpinn(args), 0);
    unsetenv("COLUMNS");
    size_t blocks = 0;
    for (char *p = out_text; (p = strstr(p, "label ")); p++) blocks++;
    assert_true(blocks >= 3);
    for (char *save2 = NULL, *line = strtok_r(out_text, "\n", &save2); line; line = strtok_r(NULL, "\n", &save2))
        if (strlen(line) > 60) fail_msg("line wider than 60 columns: '%s'", line);
    assert_int_equal(hpinn(args), 0);
    assert_contains(out_text, "label           status  network.seed  coupling.tau2  rel_l2  fine_res    K~  K~_err");
    assert_contains(out_text, "tau2=10_seed=3  done    3             10             0.0005     0.001  0.84    0.05");
}

static void test_failed_and_incomplete(void **state) {
    (void)state;
    write_runs();
    assert_int_equal(system("rm -rf cmp_sweep cmp_incomplete cmp_diverged"), 0);
    /* a sweep: one member done, one that failed before writing anything */
    mkdir_p("cmp_sweep");
    assert_int_equal(system("cp -r cmp_runs/tau2=10_seed=1 'cmp_sweep/coupling.tau2=10' && "
                            "rm cmp_sweep/coupling.tau2=10/run.json"), 0);
    write_in("cmp_sweep", "sweep.json",
             "{\n  \"config\": \"cmp.yaml\",\n  \"grid\": [{\"key\": \"coupling.tau2\", \"values\": [\"10\", \"-1\"]}],\n"
             "  \"members\": [\n"
             "    {\"dir\": \"coupling.tau2=10\", \"overrides\": [\"coupling.tau2=10\"], \"status\": \"done\", "
             "\"exit_code\": 0, \"error\": null},\n"
             "    {\"dir\": \"coupling.tau2=-1\", \"overrides\": [\"coupling.tau2=-1\"], \"status\": \"failed\", "
             "\"exit_code\": 2, \"error\": \"coupling.tau2: -1 is out of range\"}\n  ]\n}\n");
    /* an incomplete run: history, no summary */
    mkdir_p("cmp_incomplete");
    write_config("cmp_incomplete", 1, "100", 1);
    double sec[3] = {0, 1, 2}, err[3] = {0.5, 0.2, 0.05};
    write_history("cmp_incomplete", sec, err, 3);
    /* a diverged run: a summary without final values */
    mkdir_p("cmp_diverged");
    write_config("cmp_diverged", 1, "1000", 1);
    write_history("cmp_diverged", sec, err, 2);
    write_in("cmp_diverged", "summary.json",
             "{\n  \"completed\": false,\n  \"diverged\": true,\n  \"iterations\": 10,\n  \"wall_seconds\": 1.5,\n"
             "  \"final\": {\"rel_l2\": null, \"fine_residual\": null, \"J_pinn\": null},\n"
             "  \"ktilde\": {\"dim\": 1, \"blocks\": 1, \"values\": [null]}\n}\n");
    int rc = hpinn("compare cmp_sweep cmp_incomplete cmp_diverged --format json");
    if (rc != 0) fail_msg("exit %d\n%s", rc, err_text);
    hp__json_doc d;
    parse_json_output(&d);
    assert_int_equal(hp__json_bool(hp__json_get(d.root, "grouped")), 0);
    assert_int_equal(hp__json_get(d.root, "rows")->count, 4);
    const hp__node *done = row_of(&d, 0), *failed = row_of(&d, 1), *inc = row_of(&d, 2), *div = row_of(&d, 3);
    assert_string_equal(hp__json_str(hp__json_get(done, "label")), "coupling.tau2=10"); /* the member's name */
    assert_string_equal(hp__json_str(hp__json_get(failed, "status")), "failed");
    assert_contains(hp__json_str(hp__json_get(hp__json_get(failed, "runs")->items[0], "error")), "out of range");
    assert_string_equal(hp__json_str(hp__json_get(hp__json_get(failed, "config"), "coupling.tau2")), "-1");
    assert_true(isnan(stat_of(failed, "rel_l2", NULL)));
    assert_string_equal(hp__json_str(hp__json_get(inc, "label")), "cmp_incomplete");
    assert_string_equal(hp__json_str(hp__json_get(inc, "status")), "incomplete");
    assert_double_equal(stat_of(inc, "rel_l2", NULL), 0.05, 0);          /* the last history row */
    assert_double_equal(stat_of(inc, "iterations", NULL), 20, 0);
    assert_double_equal(stat_of(inc, "wall_seconds", NULL), 2, 0);
    assert_double_equal(stat_of(inc, "fine_residual", NULL), 0.35, 1e-15);
    assert_double_equal(stat_of(inc, "ktilde", NULL), 0.9, 0);
    assert_double_equal(stat_of(inc, "t_rel_l2_1e-1", NULL), 2, 0);
    assert_string_equal(hp__json_str(hp__json_get(div, "status")), "diverged");
    assert_double_equal(stat_of(div, "rel_l2", NULL), 0.2, 0);
    assert_double_equal(stat_of(div, "iterations", NULL), 10, 0);
    /* the failed member knows only its overrides: its other keys are unknown, not different */
    const hp__node *keys = hp__json_get(d.root, "keys");
    assert_int_equal(keys->count, 1);
    assert_string_equal(hp__json_str(keys->items[0]), "coupling.tau2");
    hp__json_free(&d);
    rc = hpinn("compare cmp_sweep cmp_incomplete cmp_diverged");
    assert_int_equal(rc, 0);
    assert_contains(out_text, "coupling.tau2=-1  failed");
    assert_contains(out_text, "\ncoupling.tau2=-1 (failed): coupling.tau2: -1 is out of range\n");
}

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static void test_plot_and_errors(void **state) {
    (void)state;
    write_runs();
    char args[1024];
    assert_int_equal(system("rm -rf cmp_plots"), 0);
    setenv("HPINN_GNUPLOT", "hpinn-no-such-gnuplot", 1);
    snprintf(args, sizeof args, "compare %s --plot cmp_plots", all_runs);
    int missing = hpinn(args);
    unsetenv("HPINN_GNUPLOT");
    assert_int_equal(missing, 1);
    assert_contains(err_text, "gnuplot was not found");
    assert_contains(err_text, "gnuplot-nox");
    assert_string_equal(out_text, ""); /* refused before printing a table */
    setenv("HPINN_GNUPLOT", "false", 1);
    int failed = hpinn(args);
    unsetenv("HPINN_GNUPLOT");
    assert_int_equal(failed, 1);
    assert_contains(err_text, "compare --plot: gnuplot failed (exit code 1) on cmp_plots/compare.gp");
    assert_int_equal(hpinn("compare"), 2);
    assert_int_equal(hpinn("compare no_such_dir"), 2);
    assert_contains(err_text, "no_such_dir is not a directory");
    mkdir_p("cmp_empty");
    assert_int_equal(hpinn("compare cmp_empty"), 2);
    assert_contains(err_text, "holds neither a run");
    assert_int_equal(hpinn("compare cmp_runs/tau2=0_seed=1 --format xml"), 2);
    assert_int_equal(hpinn("compare cmp_runs/tau2=0_seed=1 --thresholds 0,1"), 2);
    assert_int_equal(hpinn("compare cmp_runs/tau2=0_seed=1 --bogus"), 2);

    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        print_message("gnuplot not installed: PNG output not checked\n");
        return;
    }
    snprintf(args, sizeof args, "compare %s --plot cmp_plots --format csv", all_runs);
    int rc = hpinn(args);
    if (rc != 0) fail_msg("exit %d\n%s", rc, err_text);
    assert_true(strncmp(out_text, "label,", 6) == 0); /* stdout holds only the table */
    assert_contains(err_text, "3 figures in cmp_plots/");
    const char *pngs[] = {"rel_l2.png", "J_pinn.png", "final_rel_l2.png"};
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "cmp_plots/%s", pngs[i]);
        if (file_size(path) < 1000) fail_msg("%s: %ld bytes", path, file_size(path));
        FILE *f = fopen(path, "rb");
        unsigned char magic[8];
        assert_int_equal(fread(magic, 1, 8, f), 8);
        fclose(f);
        assert_memory_equal(magic, "\x89PNG\r\n\x1a\n", 8);
    }
    char *script = hp_test_read_file("cmp_plots/compare.gp");
    assert_non_null(script);
    assert_contains(script, "relative L2 error ||v - u|| / ||u||");
    assert_contains(script, "PINN loss J_{pinn}");
    assert_contains(script, "set logscale y");
    free(script);
    /* a group's curve is the median over its seeds at each iteration */
    char *curve = hp_test_read_file("cmp_plots/curve_1.dat");
    assert_non_null(curve);
    assert_contains(curve, "\n10 2 0.10000000000000001 10");
    free(curve);
    char *final = hp_test_read_file("cmp_plots/final.dat");
    assert_contains(final, "\n0 0.002 0.001 0.0030000000000000001 \"0\"\n");
    free(final);
}

/* The table of a real sweep: the numbers are summary.json's. */
/* Two-direction runs: the worst direction's error is a column of the text and
 * Markdown tables (it is left out while every run has one direction), and a
 * summary without per-direction errors shows "-". */
static void test_worst_direction(void **state) {
    (void)state;
    assert_int_equal(system("rm -rf cmp_dirs"), 0);
    static const char *const finals_2d[] = {"0.05, \"rel_l2_directions\": [0.01, 0.2]",
                                            "0.004, \"rel_l2_directions\": [0.003, 0.0045]", "0.03"};
    for (int r = 0; r < 3; r++) {
        char dir[64], text[1024];
        snprintf(dir, sizeof dir, "cmp_dirs/run%d", r);
        mkdir_p(dir);
        write_config(dir, 1, r == 0 ? "0" : r == 1 ? "10" : "100", 1);
        snprintf(text, sizeof text,
                 "{\n  \"completed\": true,\n  \"iterations\": 30,\n  \"wall_seconds\": 12,\n"
                 "  \"final\": {\"rel_l2\": %s, \"fine_residual\": 1, \"J_pinn\": 2}\n}\n",
                 finals_2d[r]);
        write_in(dir, "summary.json", text);
    }
    assert_int_equal(hpinn("compare cmp_dirs/run0 cmp_dirs/run1 cmp_dirs/run2 --format md"), 0);
    assert_contains(out_text, "| coupling.tau2 | rel_l2 | worst_dir | fine_res |");
    assert_contains(out_text, "| 0 | 0.05 | 0.2 | 1 |");
    assert_contains(out_text, "| 10 | 0.004 | 0.0045 | 1 |");
    assert_contains(out_text, "| 100 | 0.03 | - | 1 |");
    assert_int_equal(hpinn("compare cmp_dirs/run0 cmp_dirs/run1 --format json"), 0);
    hp__json_doc d;
    parse_json_output(&d);
    assert_double_equal(stat_of(row_of(&d, 0), "rel_l2_worst_direction", NULL), 0.2, 0);
    assert_double_equal(stat_of(row_of(&d, 1), "rel_l2_worst_direction", NULL), 0.0045, 0);
    hp__json_free(&d);
    /* one direction everywhere: no such column in the table */
    assert_int_equal(hpinn("compare cmp_dirs/run2 --format md"), 0);
    assert_null(strstr(out_text, "worst_dir"));
}

static void test_real_sweep(void **state) {
    (void)state;
    hp_test_write_file("cmp_real.yaml",
                       "constants: {eps: 0.0625}\n"
                       "problem: {K: \"1/(1.2 + sin(2*pi*x/eps))\", q: \"-3*(2*x - 1)\", collocation: {points: 64},\n"
                       "          validation: {points: 101}, reference: {integral_intervals: 2000}}\n"
                       "network: {plugin: msff, width: 8, depth: 2, features: 8, sigmas: [1, 16], seed: 1}\n"
                       "coarse: {plugin: p1_1d, elements: 16}\n"
                       "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n"
                       "stages: [{iterations: 20, optimizer: {plugin: adam, lr: 2e-3}}]\n"
                       "output: {log_every: 10, checkpoint_every: 0}\n");
    assert_int_equal(system("rm -rf cmp_real"), 0);
    int rc = hpinn("sweep cmp_real.yaml --seeds 1,2 --out cmp_real");
    if (rc != 0) fail_msg("sweep: exit %d\n%s", rc, err_text);
    assert_int_equal(hpinn("compare cmp_real --format json"), 0);
    hp__json_doc d;
    parse_json_output(&d);
    assert_int_equal(hp__json_get(d.root, "rows")->count, 1);
    const hp__node *row = row_of(&d, 0);
    assert_string_equal(hp__json_str(hp__json_get(row, "label")), "seeds");
    assert_string_equal(hp__json_str(hp__json_get(row, "status")), "2 done");
    double med = stat_of(row, "rel_l2", "median");
    /* one direction: its own error is the total */
    assert_double_equal(stat_of(row, "rel_l2_worst_direction", "median"), med, 1e-15 * med);
    hp__json_free(&d);
    double v[2];
    for (int s = 0; s < 2; s++) {
        char path[64];
        snprintf(path, sizeof path, "cmp_real/seed=%d/summary.json", s + 1);
        hp__json_doc sum;
        if (hp__json_load(path, &sum) != HP_OK) fail_msg("%s", hp_error_message());
        const hp__node *fin = hp__json_get(sum.root, "final");
        v[s] = hp__json_num(hp__json_get(fin, "rel_l2"));
        const hp__node *dirs = hp__json_get(fin, "rel_l2_directions");
        assert_true(dirs && dirs->kind == HP__SEQUENCE && dirs->count == 1);
        assert_double_equal(hp__json_num(dirs->items[0]), v[s], 1e-15 * v[s]);
        hp__json_free(&sum);
    }
    assert_double_equal(med, 0.5 * (v[0] + v[1]), 1e-15 * med);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_and_keys),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_failed_and_incomplete),
        cmocka_unit_test(test_plot_and_errors),
        cmocka_unit_test(test_worst_direction),
        cmocka_unit_test(test_real_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
