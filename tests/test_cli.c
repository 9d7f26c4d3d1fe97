/* test_cli.c — the hpinn command driven as a subprocess: exit codes 0 (success),
 * 2 (user errors: bad config, bad arguments, unknown plugin) and 1 (internal
 * failures), and the messages users see. */
#include "test_util.h"

#include <sys/stat.h>
#include <sys/wait.h>

static char out_text[1 << 16], err_text[1 << 16];

/* Run `hpinn ARGS` with stdout/stderr captured; returns the exit code. */
static int run(const char *args) {
    return hp_test_run_hpinn(args, "cli", out_text, sizeof out_text, err_text, sizeof err_text);
}

static const char *pipeline =
    "constants: {eps: 0.0625}\n"
    "problem:\n"
    "  K: \"1/(1.2 + sin(2*pi*x/eps))\"\n"
    "  q: \"-3*(2*x - 1)\"\n"
    "network: {plugin: mlp, width: 4, depth: 1}\n"
    "coupling: {tau2: 10, delta: eps}\n"
    "stages:\n"
    "  - {iterations: 1}\n"
    "output: {dir: cli_run}\n";

static void test_version_and_help(void **state) {
    (void)state;
    assert_int_equal(run("--version"), 0);
    assert_contains(out_text, "hpinn 0.");
    assert_contains(out_text, "plugin ABI " HP__ABI_TEXT);
    assert_int_equal(run("help"), 0);
    assert_contains(out_text, "check CONFIG");
    assert_int_equal(run("help check"), 0);
    assert_contains(out_text, "usage: hpinn check CONFIG");
    assert_int_equal(run("help nosuch"), 2);
    assert_contains(err_text, "help: unknown command 'nosuch'");
}

static void test_bad_arguments_exit_2(void **state) {
    (void)state;
    assert_int_equal(run(""), 2);
    assert_int_equal(run("frobnicate"), 2);
    assert_contains(err_text, "unknown command 'frobnicate'");
    assert_int_equal(run("check"), 2);
    assert_contains(err_text, "check: missing CONFIG");
    hp_test_write_file("cli.yaml", pipeline);
    assert_int_equal(run("check cli.yaml --bogus"), 2);
    assert_contains(err_text, "unknown option '--bogus'");
    assert_int_equal(run("check cli.yaml extra.yaml"), 2);
    assert_int_equal(run("check cli.yaml --set"), 2);
    assert_int_equal(run("check cli.yaml --set novalue"), 2);
    assert_contains(err_text, "--set novalue: not an assignment");
    assert_int_equal(run("plugins a b"), 2);
}

static void test_check_valid_and_invalid(void **state) {
    (void)state;
    hp_test_write_file("cli.yaml", pipeline);
    assert_int_equal(run("check cli.yaml"), 0);
    assert_contains(out_text, "coupling:\n  form: full\n");
    assert_contains(out_text, "  tau2: 10\n");
    assert_int_equal(run("check cli.yaml --set coupling.tau2=3 --set=problem.dim=1"), 0);
    assert_contains(out_text, "  tau2: 3\n");
    /* each error class: message with location and exit code 2, nothing on stdout */
    assert_int_equal(run("check cli.yaml --set coupling.tua2=3"), 2);
    assert_contains(err_text, "--set coupling.tua2=3: coupling.tua2: unknown key (did you mean 'tau2'?)");
    assert_string_equal(out_text, "");
    hp_test_write_file("bad1.yaml", "problem:\n  K: x\n  dim: two\n");
    assert_int_equal(run("check bad1.yaml"), 2);
    assert_contains(err_text, "bad1.yaml:3:8: problem.dim: 'two' is not a number");
    hp_test_write_file("bad2.yaml", "problem:\n  K: x\ncoupling: {window: -1}\n");
    assert_int_equal(run("check bad2.yaml"), 2);
    assert_contains(err_text, "bad2.yaml:3:20: coupling.window: -1 is out of range; expected an integer >= 0");
    hp_test_write_file("bad3.yaml", "problem:\n  dim: 1\n");
    assert_int_equal(run("check bad3.yaml"), 2);
    assert_contains(err_text, "bad3.yaml:2:3: problem.K: missing required value");
    hp_test_write_file("bad4.yaml", "problem:\n  K: [x\n");
    assert_int_equal(run("check bad4.yaml"), 2);
    assert_contains(err_text, "bad4.yaml:3:1: YAML syntax error");
    hp_test_write_file("bad5.yaml", "problem:\n  K: \"sin(w*x)\"\n");
    assert_int_equal(run("check bad5.yaml"), 2);
    assert_contains(err_text, "bad5.yaml:2:6: problem.K: unknown name 'w'");
    hp_test_write_file("bad6.yaml", "problem: {K: x}\nnetwork: {plugin: nosuchnet}\n");
    assert_int_equal(run("check bad6.yaml"), 2);
    assert_contains(err_text, "bad6.yaml:2:19: network.plugin: unknown network plugin 'nosuchnet'");
    assert_contains(err_text, "available (plugins of any kind");
    assert_int_equal(run("check /nonexistent/pipeline.yaml"), 2);
    assert_contains(err_text, "/nonexistent/pipeline.yaml: cannot open the pipeline");
}

/* `hpinn ARGS` under `timeout`: a command that blocks fails the test (exit 124)
 * instead of hanging the suite. */
static int run_bounded_to(const char *args, const char *stdout_path) {
    char cmd[4096];
    remove("cli.out");
    snprintf(cmd, sizeof cmd, "timeout 20 %s/bin/hpinn %s >%s 2>cli.err", getenv("HPINN_BUILD_DIR"), args, stdout_path);
    int status = system(cmd);
    char *o = hp_test_read_file("cli.out"), *e = hp_test_read_file("cli.err");
    snprintf(out_text, sizeof out_text, "%s", o ? o : "");
    snprintf(err_text, sizeof err_text, "%s", e ? e : "");
    free(o);
    free(e);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run_bounded(const char *args) { return run_bounded_to(args, "cli.out"); }

static void test_stdout_write_error_exit_1(void **state) {
    (void)state;
    /* every command that prints: a lost stdout is a failure (1), never success */
    hp_test_write_file("cli.yaml", pipeline);
    static const char *const commands[] = {"check cli.yaml", "plugins", "plugins msff", "help", "help check",
                                           "help pipeline", "--version"};
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        assert_int_equal(run_bounded_to(commands[i], "/dev/full"), 1);
        assert_contains(err_text, "hpinn: error: cannot write to standard output: No space left on device");
    }
    /* a user error stays one: nothing was printed, and its message is kept */
    hp_test_write_file("bad1.yaml", "problem:\n  K: x\n  dim: two\n");
    assert_int_equal(run_bounded_to("check bad1.yaml", "/dev/full"), 2);
    assert_contains(err_text, "bad1.yaml:3:8: problem.dim: 'two' is not a number");
}

static void test_config_not_a_file(void **state) {
    (void)state;
    /* refused at once, without reading: a FIFO would block, a directory cannot be read */
    mkdir("cli_dir", 0777);
    assert_int_equal(run_bounded("check cli_dir/"), 2);
    assert_contains(err_text, "hpinn: error: cli_dir/: is a directory; expected a YAML file");
    remove("cli.fifo");
    assert_int_equal(mkfifo("cli.fifo", 0666), 0);
    assert_int_equal(run_bounded("check cli.fifo"), 2);
    assert_contains(err_text, "hpinn: error: cli.fifo: is a FIFO (named pipe); expected a YAML file");
    assert_int_equal(run_bounded("run cli.fifo"), 2);
    assert_contains(err_text, "cli.fifo: is a FIFO (named pipe)");
    remove("cli.fifo");
}

/* The pipeline above with its line `from` replaced by `to` (NULL: removed), into `path`. */
static void write_variant(const char *path, const char *from, const char *to) {
    const char *at = strstr(pipeline, from);
    assert_non_null(at);
    static char text[1 << 17];
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - pipeline), pipeline, to ? to : "", at + strlen(from));
    hp_test_write_file(path, text);
}

/* `hpinn check` refuses, with the same message and exit code, what `hpinn run`
 * refuses at the configuration level. */
static void test_check_refuses_what_run_refuses(void **state) {
    (void)state;
    static char many[1 << 17];
    size_t used = (size_t)snprintf(many, sizeof many, "stages:\n");
    for (int i = 0; i < 5000; i++) used += (size_t)snprintf(many + used, sizeof many - used, "  - {iterations: 1}\n");
    static char consts[4096];
    used = (size_t)snprintf(consts, sizeof consts, "constants:\n  eps: 0.0625\n");
    for (int i = 1; i <= 64; i++) used += (size_t)snprintf(consts + used, sizeof consts - used, "  c%d: %d\n", i, i);
    struct {
        const char *from, *to, *message;
    } cases[] = {
        {"stages:\n  - {iterations: 1}\n", "stages: []\n",
         "v.yaml:7:9: stages: an empty list; expected at least one stage"},
        {"stages:\n  - {iterations: 1}\n", many, "v.yaml:72:5: stages[64]: stage 65 of 5000; expected at most 64 stages"},
        {"constants: {eps: 0.0625}\n", consts, "v.yaml:66:3: constants.c64: constant 65 of 65; expected at most 64 constants"},
        {"network: {plugin: mlp, width: 4, depth: 1}\n", NULL,
         "v.yaml: network: missing section; expected network: {plugin: msff, ...}"},
        {"stages:\n  - {iterations: 1}\n", NULL, "v.yaml: stages: missing section; expected a list of training stages"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_variant("v.yaml", cases[i].from, cases[i].to);
        assert_int_equal(run("check v.yaml"), 2);
        assert_contains(err_text, cases[i].message);
        assert_string_equal(out_text, "");
        assert_int_equal(run("run v.yaml --out cli_refused --force"), 2);
        assert_contains(err_text, cases[i].message);
    }
    /* the 64th stage is still one */
    used = (size_t)snprintf(many, sizeof many, "stages:\n");
    for (int i = 0; i < 64; i++) used += (size_t)snprintf(many + used, sizeof many - used, "  - {iterations: 1}\n");
    write_variant("v.yaml", "stages:\n  - {iterations: 1}\n", many);
    assert_int_equal(run("check v.yaml"), 0);
    /* an override is located at itself */
    assert_int_equal(run("check cli.yaml --set stages=[]"), 2);
    assert_contains(err_text, "--set stages=[]: stages: an empty list");
}

static void test_plugins_listing(void **state) {
    (void)state;
    char args[2048];
    snprintf(args, sizeof args, "plugins");
    setenv("HPINN_PLUGIN_PATH", "", 1);
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/plugins", getenv("HPINN_BUILD_DIR"));
    setenv("HPINN_PLUGIN_PATH", path, 1);
    assert_int_equal(run(args), 0);
    assert_contains(out_text, "kind       name");
    assert_contains(out_text, "optimizer  testgood     1.2.3");
    assert_contains(err_text, "could not be used");
    assert_contains(err_text, "ABI 999");
    assert_int_equal(run("plugins testgood"), 0);
    assert_contains(out_text, "optimizer plugin 'testgood' 1.2.3");
    assert_contains(out_text, "rate");
    assert_contains(out_text, "> 0");
    assert_int_equal(run("plugins nosuchplugin"), 2);
    assert_contains(err_text, "no plugin named 'nosuchplugin'; available:");
    /* a pipeline naming a rejected plugin is told why: a plugin failure, exit 1 */
    hp_test_write_file("abi.yaml", "problem: {K: \"1 + x\"}\nstages:\n  - {iterations: 3, optimizer: {plugin: testbadabi}}\n");
    assert_int_equal(run("check abi.yaml"), 1);
    assert_contains(err_text, "abi.yaml:3:41: stages[0].optimizer.plugin: optimizer plugin 'testbadabi' cannot be used: ");
    assert_contains(err_text, "hpinn_testbadabi.so was built for plugin ABI 999, but this hpinn has ABI " HP__ABI_TEXT);
    unsetenv("HPINN_PLUGIN_PATH");
}

/* A pipeline opens only the plugins it names: the constructor of
 * hpinn_testctor.so (tests/plugins) creates the marker file when the file is
 * opened. `hpinn plugins` lists everything, so it may open it. */
static void test_check_opens_only_named_plugins(void **state) {
    (void)state;
    char cwd[1024], marker[1200], path[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(marker, sizeof marker, "%s/cli_ctor_marker", cwd);
    snprintf(path, sizeof path, "%s/tests/plugins", getenv("HPINN_BUILD_DIR"));
    setenv("HPINN_PLUGIN_PATH", path, 1);
    setenv("HPINN_TEST_CTOR_MARKER", marker, 1);
    unlink(marker);
    hp_test_write_file("cli.yaml", pipeline);
    assert_int_equal(run("check cli.yaml"), 0);
    if (access(marker, F_OK) == 0) fail_msg("`hpinn check` of a pipeline without testctor ran its constructor");
    hp_test_write_file("ctor.yaml", "problem: {K: \"1 + x\"}\nnetwork: {plugin: mlp}\nstages:\n  - {iterations: 3, optimizer: {plugin: testctor}}\n");
    assert_int_equal(run("check ctor.yaml"), 0);
    assert_int_equal(access(marker, F_OK), 0);
    unlink(marker);
    assert_int_equal(run("plugins"), 0);
    assert_contains(out_text, "optimizer  testctor");
    assert_contains(out_text, "Which optimizer when");
    assert_int_equal(access(marker, F_OK), 0);
    unlink(marker);
    unsetenv("HPINN_TEST_CTOR_MARKER");
    unsetenv("HPINN_PLUGIN_PATH");
}

/* A relative HPINN_PLUGIN_PATH entry is skipped with one warning naming it, even
 * listed twice: here "plugins" is the test plugins' directory below the working
 * directory, so before this rule `hpinn plugins` listed testgood. */
static void test_relative_plugin_path_is_refused(void **state) {
    (void)state;
    setenv("HPINN_PLUGIN_PATH", "plugins:plugins", 1);
    assert_int_equal(run("plugins"), 0);
    assert_null(strstr(out_text, "testgood"));
    const char *w = "hpinn: warning: HPINN_PLUGIN_PATH entry 'plugins' is a relative path, which would be resolved "
                    "against the current directory; it is skipped (write it as an absolute path)\n";
    assert_contains(err_text, w);
    assert_null(strstr(strstr(err_text, w) + strlen(w), "entry 'plugins'")); /* once */
    hp_test_write_file("cli.yaml", pipeline);
    assert_int_equal(run("check cli.yaml"), 0);
    assert_contains(err_text, w);
    unsetenv("HPINN_PLUGIN_PATH");
}

/* A pipeline using a plugin that shadows the built-in one is told so, naming
 * both files; the built-in pipeline alone is not. */
static void test_shadowing_plugin_is_noted(void **state) {
    (void)state;
    char cwd[1024], dir[1200], from[1200], to[1300];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(dir, sizeof dir, "%s/cli_shadow_XXXXXX", cwd);
    assert_non_null(mkdtemp(dir));
    snprintf(from, sizeof from, "%s/lib/hpinn/plugins/hpinn_adam.so", getenv("HPINN_BUILD_DIR"));
    snprintf(to, sizeof to, "%s/hpinn_adam.so", dir);
    hp_test_copy_file(from, to);
    hp_test_write_file("adam.yaml", "problem: {K: \"1 + x\"}\nnetwork: {plugin: mlp}\nstages:\n  - {iterations: 3, optimizer: {plugin: adam}}\n");
    assert_int_equal(run("check adam.yaml"), 0);
    assert_null(strstr(err_text, "shadows"));
    setenv("HPINN_PLUGIN_PATH", dir, 1);
    assert_int_equal(run("check adam.yaml"), 0);
    char note[4000];
    snprintf(note, sizeof note, "hpinn: note: optimizer plugin 'adam' is loaded from %s, which shadows the built-in %s\n",
             to, from);
    assert_contains(err_text, note);
    unsetenv("HPINN_PLUGIN_PATH");
    unlink(to);
    rmdir(dir);
}

static void test_run_failures(void **state) {
    (void)state;
    hp_test_write_file("cli.yaml", pipeline);
    /* a user error in the pipeline is 2 before anything runs */
    assert_int_equal(run("run cli.yaml --set output.log_every=0"), 2);
    /* an output directory that cannot be created is a failure: 1 */
    assert_int_equal(run("run cli.yaml --out /proc/hpinn-cannot-create/x"), 1);
    assert_contains(err_text, "cannot create directory /proc/hpinn-cannot-create");
}

/* The free memory a message quotes changes between two processes (other jobs
 * run beside the suite): compare the messages with that number blanked. */
/* The available memory is read anew by each command, and its printed form may
 * change length between two readings (21.4 GiB, then 22 GiB): the whole amount,
 * unit included, becomes one "#". */
static void mask_available_memory(char *text) {
    char *at = strstr(text, "this machine has ");
    if (!at) return;
    at += strlen("this machine has ");
    char *end = strstr(at, " available");
    if (!end) return;
    *at = '#';
    memmove(at + 1, end, strlen(end) + 1);
}

/* check is exactly run's validation: every pipeline run refuses before training,
 * check refuses too, with the same message (FILE:LINE:COL, the key, what is
 * expected) and exit 2. The default collocation set has 280 points; the last K
 * is 1 at every one of them (sin(pi x 281) = 0 at x = r/281) and negative
 * between them, which only the finer check grid sees. */
static void test_check_refuses_the_problem_run_refuses(void **state) {
    (void)state;
    hp_test_write_file("cli.yaml", pipeline);
    static const char *const cases[][2] = {
        {"--set 'problem.K=1/x'", "problem.K: K is infinite at x = 0"},
        {"--set 'problem.K=sqrt(-1)'", "problem.K: K is not a number"},
        {"--set 'problem.K=exp(1000)'", "problem.K: K is infinite"},
        {"--set 'problem.K=sin(2*pi*x/eps)'", "problem.K: K = "},
        {"--set problem.collocation.points=280 --set 'problem.K=1 - 1.5*sin(pi*x*281)^2'", "(check grid point); expected a positive conductivity"},
        {"--set constants.eps=0", "cli.yaml:3:6: problem.K: K is not a number"},
        {"--set 'problem.q=log(x - 2)'", "problem.q: q is not a number"},
        {"--set problem.collocation.points=1000000000000", "of memory ("},
        {"--set 'stages[0].optimizer={plugin: lbfgs, history: 1000000000}'",
         "stages[0].optimizer: the pipeline needs about"},
        {"--set problem.reference.integral_intervals=1000000000000",
         "problem.reference.integral_intervals: 1000000000000 is out of range; expected an integer in [1, 1000000]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512];
        static char check_err[1 << 16];
        snprintf(args, sizeof args, "check cli.yaml %s", cases[i][0]);
        int rc = run(args);
        if (rc != 2) fail_msg("%s: check exit %d\n%s", cases[i][0], rc, err_text);
        assert_contains(err_text, cases[i][1]);
        assert_null(strstr(err_text, "(internal")); /* no trace: the user's error */
        snprintf(check_err, sizeof check_err, "%s", err_text);
        snprintf(args, sizeof args, "run cli.yaml --out cli_refused --force %s", cases[i][0]);
        rc = run(args);
        if (rc != 2) fail_msg("%s: run exit %d\n%s", cases[i][0], rc, err_text);
        mask_available_memory(err_text);
        mask_available_memory(check_err);
        assert_string_equal(err_text, check_err);
    }
}

/* The text after "needs about " up to the first " (" of a memory refusal. */
static void needed_memory(const char *text, char *out, size_t size) {
    const char *at = strstr(text, "needs about ");
    assert_non_null(at);
    at += strlen("needs about ");
    const char *end = strstr(at, " (");
    assert_non_null(end);
    snprintf(out, size, "%.*s", (int)(end - at), at);
}

/* Stages run one after another and each frees its optimizer: the peak is the
 * largest stage, not their sum (a 2-D pipeline of three equal LM stages was
 * refused at three times its need). */
static void test_memory_estimate_counts_the_largest_stage(void **state) {
    (void)state;
    hp_test_write_file("cli.yaml", pipeline);
    const char *huge = "{iterations: 1, optimizer: {plugin: lbfgs, history: 1000000000}}";
    char args[512], one[64], three[64];
    snprintf(args, sizeof args, "check cli.yaml --set 'stages[0]=%s'", huge);
    assert_int_equal(run(args), 2);
    needed_memory(err_text, one, sizeof one);
    snprintf(args, sizeof args, "check cli.yaml --set 'stages[0]=%s' --set 'stages[1]=%s' --set 'stages[2]=%s'", huge,
             huge, huge);
    assert_int_equal(run(args), 2);
    assert_contains(err_text, "stage 2 (lbfgs)");
    assert_contains(err_text, "the stages run one at a time, the largest counts");
    needed_memory(err_text, three, sizeof three);
    assert_string_equal(one, three);
}

static void test_upscale_paper_1d(void **state) {
    (void)state;
    char args[1024];
    /* the paper's Table 1 reference: 1000 elements, K sampled at the nodes → 0.842 */
    snprintf(args, sizeof args,
             "upscale %s/configs/paper/eps48.yaml --out up48 --set upscale.quadrature_rule=nodal "
             "--set 'upscale.fine_elements=[1000]'", getenv("HPINN_SOURCE_DIR"));
    assert_int_equal(run(args), 0);
    assert_contains(out_text, "     1000  global            0    0.841753");
    /* stderr is no terminal here: the table alone, no progress; -v adds it */
    assert_string_equal(err_text, "");
    snprintf(args, sizeof args,
             "upscale %s/configs/paper/eps48.yaml --out up48 -v --set upscale.quadrature_rule=nodal "
             "--set 'upscale.fine_elements=[1000]'", getenv("HPINN_SOURCE_DIR"));
    assert_int_equal(run(args), 0);
    assert_contains(err_text, "hpinn upscale: fine mesh 1000: done in ");
    assert_contains(out_text, "     1000  global            0    0.841753");
    /* converged: → 1/1.2 at order 2 */
    snprintf(args, sizeof args, "upscale %s/configs/paper/eps48.yaml --out up48 --set 'upscale.fine_elements=[4000, 8000, 16000]'",
             getenv("HPINN_SOURCE_DIR"));
    assert_int_equal(run(args), 0);
    assert_contains(out_text, "    16000  global            0    0.833344");
    assert_contains(out_text, "2.00");
    char *table = hp_test_read_file("up48/ktilde.csv");
    assert_non_null(table);
    free(table);
    snprintf(args, sizeof args, "upscale %s/configs/paper/eps48.yaml --set 'upscale.fine_elements=[2000, 1000]'",
             getenv("HPINN_SOURCE_DIR"));
    assert_int_equal(run(args), 2);
    assert_contains(err_text, "upscale.fine_elements: 1000 at position 1; expected increasing whole numbers");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_help),
        cmocka_unit_test(test_memory_estimate_counts_the_largest_stage),
        cmocka_unit_test(test_bad_arguments_exit_2),
        cmocka_unit_test(test_check_valid_and_invalid),
        cmocka_unit_test(test_config_not_a_file),
        cmocka_unit_test(test_stdout_write_error_exit_1),
        cmocka_unit_test(test_check_refuses_what_run_refuses),
        cmocka_unit_test(test_plugins_listing),
        cmocka_unit_test(test_check_opens_only_named_plugins),
        cmocka_unit_test(test_relative_plugin_path_is_refused),
        cmocka_unit_test(test_shadowing_plugin_is_noted),
        cmocka_unit_test(test_run_failures),
        cmocka_unit_test(test_check_refuses_the_problem_run_refuses),
        cmocka_unit_test(test_upscale_paper_1d),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
