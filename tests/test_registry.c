/* test_registry.c — plugin discovery with real .so test plugins (tests/plugins):
 * a valid one, a wrong ABI version, a missing entry symbol, an empty mandatory
 * vtable member, the same plugin in two directories, a file name that does not
 * match the plugin name, unknown and invalid names, and that a lookup opens only
 * the file it names (a plugin with a constructor tells when it was opened). */
#include "test_util.h"

#include <sys/stat.h>

#include "hpinn/config.h"
#include "hpinn/optimizer.h"
#include "hpinn/registry.h"

/* The registry with `first` (a directory, or "") before the test plugins. */
static hp_registry *open_with_test_plugins_after(const char *first) {
    char dir[4096];
    const char *build = getenv("HPINN_BUILD_DIR");
    assert_non_null(build);
    snprintf(dir, sizeof dir, "%s%s/nonexistent-hpinn-dir:%s/tests/plugins:%s/tests/plugins/dup_a:%s/tests/plugins/dup_b",
             first, *first ? ":" : "", build, build, build);
    setenv("HPINN_PLUGIN_PATH", dir, 1);
    hp_registry *r = NULL;
    assert_int_equal(hp_registry_open(&r), HP_OK);
    unsetenv("HPINN_PLUGIN_PATH");
    return r;
}

static hp_registry *open_with_test_plugins(void) { return open_with_test_plugins_after(""); }

static const char *problem_for(const hp_registry *r, const char *file_part) {
    for (size_t i = 0; i < hp_registry_problem_count(r); i++) {
        const hp_registry_problem *p = hp_registry_get_problem(r, i);
        if (strstr(p->file, file_part)) return p->message;
    }
    return NULL;
}

/* A fresh directory under the test's working directory, by absolute path. */
static void make_temp_dir(char *dir, size_t size) {
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    int n = snprintf(dir, size, "%s/registry_XXXXXX", cwd);
    assert_true(n > 0 && (size_t)n < size);
    assert_non_null(mkdtemp(dir));
}

/* The path of a test plugin of the build tree. */
static void test_plugin_path(char *path, size_t size, const char *file) {
    snprintf(path, size, "%s/tests/plugins/%s", getenv("HPINN_BUILD_DIR"), file);
}

static hp_status half_square(void *ctx, const double *theta, double *value, double *grad) {
    (void)ctx;
    *value = 0.5 * theta[0] * theta[0];
    if (grad) grad[0] = theta[0];
    return HP_OK;
}

static void test_valid_plugin_loads_and_works(void **state) {
    (void)state;
    hp_registry *r = open_with_test_plugins();
    const hp_plugin_descriptor *d;
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testgood", &d), HP_OK);
    assert_string_equal(d->version, "1.2.3");
    assert_int_equal(d->abi_version, HP_ABI_VERSION);
    /* where it came from, and the checksum of that file's bytes */
    char path[1200];
    test_plugin_path(path, sizeof path, "hpinn_testgood.so");
    uint64_t sum = 0;
    const char *file = hp_registry_file_of(r, d, &sum);
    assert_non_null(file);
    assert_string_equal(file, path);
    assert_true(sum == hp_test_file_fnv1a64(path));
    static const hp_plugin_descriptor not_loaded = {HP_ABI_VERSION, sizeof(hp_plugin_descriptor), HP_PLUGIN_OPTIMIZER,
                                                    "testgood", "1.2.3", "", NULL, NULL};
    sum = 7;
    assert_null(hp_registry_file_of(r, &not_loaded, &sum));
    assert_true(sum == 7);
    /* the plugin really runs: one gradient step on L = θ²/2 */
    hp_params *p;
    const char *set[] = {"rate=0.25"};
    assert_int_equal(hp_params_from_strings(d->params, "optimizer", set, 1, &p), HP_OK);
    const hp_optimizer_ops *ops = d->ops;
    void *st;
    assert_int_equal(ops->create(p, 1, &st), HP_OK);
    double theta = 2.0;
    hp_opt_step_info info;
    hp_objective obj = {.n = 1, .m = 0, .ctx = NULL, .value_and_gradient = half_square};
    assert_int_equal(ops->step(st, &theta, &obj, &info), HP_OK);
    assert_double_equal(theta, 1.5, 0.0); /* 2 - 0.25 * 2 */
    assert_double_equal(info.value, 2.0, 0.0);
    hp_params_destroy(p);
    ops->destroy(st);
    /* the search path lists the user's directories first */
    assert_contains(hp_registry_search_path(r), "/nonexistent-hpinn-dir:");
    hp_registry_close(r);
}

static void test_wrong_abi_is_rejected_with_both_versions(void **state) {
    (void)state;
    hp_registry *r = open_with_test_plugins();
    assert_true(hp_registry_count(r) > 0); /* opens every file */
    const char *m = problem_for(r, "hpinn_testbadabi.so");
    assert_non_null(m);
    assert_contains(m, "was built for plugin ABI 999, but this hpinn has ABI " HP__ABI_TEXT);
    hp_registry_close(r);
}

/* A lookup of a plugin whose file was rejected says why, not "unknown plugin";
 * through a pipeline, at the location of its name. */
static void test_lookup_of_rejected_plugin_says_why(void **state) {
    (void)state;
    hp_registry *r = open_with_test_plugins();
    const hp_plugin_descriptor *d;
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testbadabi", &d), HP_ERR_PLUGIN);
    assert_null(d);
    assert_contains(hp_error_message(), "optimizer plugin 'testbadabi' cannot be used: ");
    assert_contains(hp_error_message(), "/tests/plugins/hpinn_testbadabi.so was built for plugin ABI 999, but this "
                                        "hpinn has ABI " HP__ABI_TEXT "; rebuild the plugin against this hpinn");
    const char *text = "stages:\n  - iterations: 3\n    optimizer: {plugin: testbadabi}\n";
    hp_config *c;
    assert_int_equal(hp_config_load_string(text, strlen(text), "abi.yaml", &c), HP_OK);
    hp_params *p = NULL;
    assert_int_equal(hp_config_plugin_section(c, "stages[0].optimizer", HP_PLUGIN_OPTIMIZER, NULL, r, &d, &p),
                     HP_ERR_PLUGIN);
    assert_contains(hp_error_message(), "abi.yaml:3:25: stages[0].optimizer.plugin: optimizer plugin 'testbadabi' "
                                        "cannot be used: ");
    assert_contains(hp_error_message(), "hpinn_testbadabi.so was built for plugin ABI 999, but this hpinn has ABI " HP__ABI_TEXT);
    hp_config_destroy(c);
    /* a file of another kind is named when that is why the lookup failed */
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_NETWORK, "testgood", &d), HP_ERR_NOT_FOUND);
    assert_contains(hp_error_message(), "unknown network plugin 'testgood': ");
    assert_contains(hp_error_message(), "/tests/plugins/hpinn_testgood.so is an optimizer plugin");
    hp_registry_close(r);
}

static void test_missing_symbol_is_rejected(void **state) {
    (void)state;
    hp_registry *r = open_with_test_plugins();
    assert_true(hp_registry_count(r) > 0);
    const char *m = problem_for(r, "hpinn_testnosymbol.so");
    assert_non_null(m);
    assert_contains(m, "does not export the entry symbol 'hp_plugin_entry'");
    m = problem_for(r, "hpinn_testnullstep.so");
    assert_non_null(m);
    assert_contains(m, "optimizer plugin 'testnullstep' but leaves the mandatory vtable member 'step' empty");
    /* an ops table whose declared size ends before a mandatory member */
    m = problem_for(r, "hpinn_testshortops.so");
    assert_non_null(m);
    assert_contains(m, "leaves the mandatory vtable member 'step' empty");
    /* an older, shorter table loads; what lies beyond its size counts as absent */
    const hp_plugin_descriptor *old = NULL;
    OK(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testoldops", &old));
    const hp_optimizer_ops *oo = old->ops;
    assert_true(HP_OP_PRESENT(oo, step));
    assert_false(HP_OP_PRESENT(oo, memory_bytes));
    /* optional members that only work together: all or none */
    const hp_plugin_descriptor *d;
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testpartialstate", &d), HP_ERR_PLUGIN);
    assert_contains(hp_error_message(), "hpinn_testpartialstate.so declares optimizer plugin 'testpartialstate' with "
                                        "only some of state_size, save and load (load is empty); checkpointing needs "
                                        "all three, or none");
    hp_registry_close(r);
}

static void test_duplicate_first_wins(void **state) {
    (void)state;
    hp_registry *r = open_with_test_plugins();
    const hp_plugin_descriptor *d;
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testdup", &d), HP_OK);
    assert_string_equal(d->version, "a"); /* dup_a is before dup_b on the path */
    /* the lookup stopped at the first one; listing opens the other and reports it */
    assert_null(problem_for(r, "dup_b/hpinn_testdup.so"));
    assert_true(hp_registry_count(r) > 0);
    const char *m = problem_for(r, "dup_b/hpinn_testdup.so");
    assert_non_null(m);
    assert_contains(m, "duplicates optimizer plugin 'testdup' (already loaded from");
    assert_contains(m, "dup_a/hpinn_testdup.so); the first one found is kept");
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testdup", &d), HP_OK);
    assert_string_equal(d->version, "a");
    hp_registry_close(r);
}

/* A lookup opens only hpinn_<name>.so: the constructor of hpinn_testctor.so runs
 * (it creates the marker file) when it is looked up or listed, never when another
 * plugin is looked up, nor for the suggestions of an unknown name. Each part uses
 * a fresh copy of the file: a module another test left open would not run its
 * constructor again. */
static void test_lookup_opens_only_the_named_file(void **state) {
    (void)state;
    char cwd[1024], marker[1200], ctor[1200], dir[2][1024], copy[2][2200];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(marker, sizeof marker, "%s/registry_ctor_marker", cwd);
    test_plugin_path(ctor, sizeof ctor, "hpinn_testctor.so");
    for (int i = 0; i < 2; i++) {
        make_temp_dir(dir[i], sizeof dir[i]);
        snprintf(copy[i], sizeof copy[i], "%s/hpinn_testctor.so", dir[i]);
        hp_test_copy_file(ctor, copy[i]);
    }
    unlink(marker);
    setenv("HPINN_TEST_CTOR_MARKER", marker, 1);
    hp_registry *r = open_with_test_plugins_after(dir[0]);
    const hp_plugin_descriptor *d;
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testgood", &d), HP_OK);
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testgod", &d), HP_ERR_NOT_FOUND);
    assert_contains(hp_error_message(), "testctor"); /* suggested by its file name, not opened */
    if (access(marker, F_OK) == 0) fail_msg("a lookup of testgood ran the constructor of hpinn_testctor.so");
    assert_int_equal(hp_registry_problem_count(r), 0); /* the broken test plugins were not opened either */
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testctor", &d), HP_OK);
    assert_int_equal(access(marker, F_OK), 0);
    hp_registry_close(r);
    /* listing opens every plugin */
    unlink(marker);
    r = open_with_test_plugins_after(dir[1]);
    assert_true(hp_registry_count(r) > 0);
    assert_int_equal(access(marker, F_OK), 0);
    assert_non_null(problem_for(r, "hpinn_testbadabi.so"));
    hp_registry_close(r);
    unsetenv("HPINN_TEST_CTOR_MARKER");
    unlink(marker);
    for (int i = 0; i < 2; i++) {
        unlink(copy[i]);
        rmdir(dir[i]);
    }
}

/* Lookups open hpinn_<name>.so, so a plugin under another file name is refused
 * rather than listed under a name no pipeline could find. */
static void test_name_must_match_file_name(void **state) {
    (void)state;
    char dir[1024], from[1200], to[1200];
    make_temp_dir(dir, sizeof dir);
    test_plugin_path(from, sizeof from, "hpinn_testgood.so");
    snprintf(to, sizeof to, "%s/hpinn_othername.so", dir);
    hp_test_copy_file(from, to);
    hp_registry *r = open_with_test_plugins();
    assert_int_equal(hp_registry_load_file(r, to), HP_ERR_PLUGIN);
    assert_contains(hp_error_message(), "hpinn_othername.so declares plugin name 'testgood', but its file name is "
                                        "hpinn_othername.so; a plugin must be installed as hpinn_<name>.so");
    hp_registry_close(r);
    unlink(to);
    rmdir(dir);
}

/* Whoever can write a plugin file or its directory chooses the code hpinn runs:
 * a world-writable one is refused before it is opened (hpinn_testctor.so's
 * constructor would create the marker file). */
static void test_world_writable_is_refused(void **state) {
    (void)state;
    char dir[1024], from[1200], to[1200], marker[1200];
    make_temp_dir(dir, sizeof dir);
    test_plugin_path(from, sizeof from, "hpinn_testctor.so");
    snprintf(to, sizeof to, "%s/hpinn_testctor.so", dir);
    snprintf(marker, sizeof marker, "%s.marker", dir);
    hp_test_copy_file(from, to);
    setenv("HPINN_TEST_CTOR_MARKER", marker, 1);
    setenv("HPINN_PLUGIN_PATH", dir, 1);
    hp_registry *r;
    const hp_plugin_descriptor *d;
    /* the file */
    assert_int_equal(chmod(to, 0757), 0);
    OK(hp_registry_open(&r));
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testctor", &d), HP_ERR_PLUGIN);
    assert_contains(hp_error_message(), "optimizer plugin 'testctor' cannot be used: ");
    assert_contains(hp_error_message(), "/hpinn_testctor.so is world-writable; refusing to load it");
    for (size_t i = 0; i < hp_registry_count(r); i++) /* listing refuses it too */
        assert_string_not_equal(hp_registry_get(r, i, NULL)->name, "testctor");
    hp_registry_close(r);
    /* the directory it is in */
    assert_int_equal(chmod(to, 0755), 0);
    assert_int_equal(chmod(dir, 0777), 0);
    OK(hp_registry_open(&r));
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testctor", &d), HP_ERR_PLUGIN);
    assert_contains(hp_error_message(), "optimizer plugin 'testctor' cannot be used: ");
    assert_contains(hp_error_message(), "registry_");
    assert_contains(hp_error_message(), " is world-writable; refusing to load plugins from it");
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "nosuch", &d), HP_ERR_NOT_FOUND);
    assert_contains(hp_error_message(), "; not searched: ");
    hp_registry_close(r);
    /* a file in that directory loaded by path is refused as well */
    OK(hp_registry_open(&r));
    assert_int_equal(hp_registry_load_file(r, to), HP_ERR_PLUGIN);
    assert_contains(hp_error_message(), "hpinn_testctor.so is in ");
    assert_contains(hp_error_message(), ", which is world-writable; refusing to load it");
    hp_registry_close(r);
    unsetenv("HPINN_PLUGIN_PATH");
    unsetenv("HPINN_TEST_CTOR_MARKER");
    if (access(marker, F_OK) == 0) fail_msg("a refused plugin was opened: its constructor ran");
    chmod(dir, 0700);
    unlink(to);
    rmdir(dir);
}

/* A plugin file owned by another user (neither root nor us) is refused. Changing
 * a file's owner needs root, which CI is; elsewhere the test is skipped. */
static void test_foreign_owner_is_refused(void **state) {
    (void)state;
    if (geteuid() != 0) {
        print_message("not root: cannot give a file to another user; skipped\n");
        skip();
    }
    char dir[1024], from[1200], to[1200];
    make_temp_dir(dir, sizeof dir);
    test_plugin_path(from, sizeof from, "hpinn_testgood.so");
    snprintf(to, sizeof to, "%s/hpinn_testgood.so", dir);
    hp_test_copy_file(from, to);
    assert_int_equal(chown(to, 4242, 4242), 0);
    hp_registry *r = open_with_test_plugins_after(dir);
    const hp_plugin_descriptor *d;
    /* the refused file is passed over: the next testgood on the path is used */
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testgood", &d), HP_OK);
    assert_int_equal(hp_registry_problem_count(r), 1);
    assert_string_equal(hp_registry_get_problem(r, 0)->file, to);
    assert_string_equal(hp_registry_get_problem(r, 0)->message,
                        "is owned by uid 4242, which is neither root nor the current user (uid 0); refusing to load it");
    hp_registry_close(r);
    assert_int_equal(chown(to, 0, 0), 0);
    assert_int_equal(chown(dir, 4242, 4242), 0);
    r = open_with_test_plugins_after(dir);
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testgood", &d), HP_OK);
    assert_string_equal(hp_registry_get_problem(r, 0)->file, dir);
    assert_contains(hp_registry_get_problem(r, 0)->message, "is owned by uid 4242, which is neither root nor the "
                                                            "current user (uid 0); refusing to load plugins from it");
    hp_registry_close(r);
    unlink(to);
    rmdir(dir);
}

static void test_unknown_and_invalid_names(void **state) {
    (void)state;
    hp_registry *r = open_with_test_plugins();
    const hp_plugin_descriptor *d;
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testgod", &d), HP_ERR_NOT_FOUND);
    assert_null(d);
    assert_contains(hp_error_message(), "unknown optimizer plugin 'testgod' (did you mean 'testgood'?); available ");
    assert_contains(hp_error_message(), "testgood");
    assert_contains(hp_error_message(), "testdup");
    /* a path is never opened: names are looked up, not loaded */
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "../tests/plugins/hpinn_testgood", &d), HP_ERR_NOT_FOUND);
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "/tmp/x.so", &d), HP_ERR_NOT_FOUND);
    /* the right name under the wrong kind is unknown too */
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_NETWORK, "testgood", &d), HP_ERR_NOT_FOUND);
    hp_registry_close(r);
}

static void test_load_file_errors(void **state) {
    (void)state;
    hp_registry *r = open_with_test_plugins();
    assert_int_equal(hp_registry_load_file(r, "/nonexistent/hpinn_x.so"), HP_ERR_PLUGIN);
    assert_contains(hp_error_message(), "/nonexistent/hpinn_x.so cannot be loaded");
    hp_registry_close(r);
}

static void test_plugin_section_from_config(void **state) {
    (void)state;
    hp_registry *r = open_with_test_plugins();
    const char *text = "stages:\n  - iterations: 3\n    optimizer: {plugin: testgood, rate: -1}\n"
                       "  - iterations: 3\n    optimizer: {plugin: tesgood}\n"
                       "  - iterations: 3\n    optimizer: {plugin: testgood, rte: 1}\n";
    hp_config *c;
    assert_int_equal(hp_config_load_string(text, strlen(text), "p.yaml", &c), HP_OK);
    const hp_plugin_descriptor *d;
    hp_params *p = NULL;
    assert_int_equal(hp_config_plugin_section(c, "stages[0].optimizer", HP_PLUGIN_OPTIMIZER, NULL, r, &d, &p),
                     HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "p.yaml:3:41: stages[0].optimizer.rate: -1 is out of range; expected a real number > 0");
    assert_int_equal(hp_config_plugin_section(c, "stages[1].optimizer", HP_PLUGIN_OPTIMIZER, NULL, r, &d, &p),
                     HP_ERR_NOT_FOUND);
    assert_contains(hp_error_message(), "p.yaml:5:25: stages[1].optimizer.plugin: unknown optimizer plugin 'tesgood' (did you mean 'testgood'?)");
    assert_int_equal(hp_config_plugin_section(c, "stages[2].optimizer", HP_PLUGIN_OPTIMIZER, NULL, r, &d, &p),
                     HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "p.yaml:7:35: stages[2].optimizer.rte: unknown key (did you mean 'rate'?)");
    hp_config_destroy(c);
    hp_registry_close(r);
}

/* A relative HPINN_PLUGIN_PATH entry would be resolved against whatever the
 * current directory is: it is skipped, with one note per entry, even when it
 * holds a plugin. */
static void test_relative_entries_are_skipped(void **state) {
    (void)state;
    char from[1200], dir[1024];
    mkdir("relative_plugins", 0755);
    test_plugin_path(from, sizeof from, "hpinn_testgood.so");
    hp_test_copy_file(from, "relative_plugins/hpinn_testgood.so");
    assert_non_null(getcwd(dir, sizeof dir));
    char path[2048];
    snprintf(path, sizeof path, ".:relative_plugins:%s/nonexistent-absolute:relative_plugins:./relative_plugins", dir);
    setenv("HPINN_PLUGIN_PATH", path, 1);
    hp_registry *r = NULL;
    assert_int_equal(hp_registry_open(&r), HP_OK);
    unsetenv("HPINN_PLUGIN_PATH");
    const hp_plugin_descriptor *d;
    assert_int_equal(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testgood", &d), HP_ERR_NOT_FOUND);
    assert_true(strncmp(hp_registry_search_path(r), dir, strlen(dir)) == 0); /* the absolute entry comes first */
    assert_null(strstr(hp_registry_search_path(r), "relative_plugins"));
    assert_int_equal(hp_registry_note_count(r), 3); /* ".", "relative_plugins" once, "./relative_plugins" */
    assert_string_equal(hp_registry_get_note(r, 1),
                        "warning: HPINN_PLUGIN_PATH entry 'relative_plugins' is a relative path, which would be "
                        "resolved against the current directory; it is skipped (write it as an absolute path)");
    assert_contains(hp_registry_get_note(r, 0), "entry '.' is a relative path");
    assert_null(hp_registry_get_note(r, 3));
    hp_registry_close(r);
    unlink("relative_plugins/hpinn_testgood.so");
    rmdir("relative_plugins");
}

/* A plugin found before the built-in one of the same name is used, with one note
 * naming both files; plugins that shadow nothing get no note. */
static void test_shadowing_a_builtin_is_noted(void **state) {
    (void)state;
    char dir[1024], from[1200], to[1200];
    make_temp_dir(dir, sizeof dir);
    snprintf(from, sizeof from, "%s/lib/hpinn/plugins/hpinn_adam.so", getenv("HPINN_BUILD_DIR"));
    snprintf(to, sizeof to, "%s/hpinn_adam.so", dir);
    hp_test_copy_file(from, to);
    hp_registry *r = open_with_test_plugins_after(dir);
    const hp_plugin_descriptor *d;
    OK(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "testgood", &d));
    OK(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "lbfgs", &d));
    assert_int_equal(hp_registry_note_count(r), 0);
    OK(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "adam", &d));
    OK(hp_registry_find(r, HP_PLUGIN_OPTIMIZER, "adam", &d));
    assert_int_equal(hp_registry_note_count(r), 1);
    char expected[3000];
    snprintf(expected, sizeof expected, "note: optimizer plugin 'adam' is loaded from %s, which shadows the built-in %s",
             to, from);
    assert_string_equal(hp_registry_get_note(r, 0), expected);
    hp_registry_close(r);
    unlink(to);
    rmdir(dir);
}

/* found by the fuzzer (UBSan): scanning a directory without plugins passed NULL to qsort */
static void test_empty_directory(void **state) {
    (void)state;
    char dir[1024];
    make_temp_dir(dir, sizeof dir);
    setenv("HPINN_PLUGIN_PATH", dir, 1);
    hp_registry *r = NULL;
    assert_int_equal(hp_registry_open(&r), HP_OK);
    unsetenv("HPINN_PLUGIN_PATH");
    assert_contains(hp_registry_search_path(r), dir);
    assert_true(hp_registry_count(r) > 0); /* scans it, and the build tree's plugins */
    hp_registry_close(r);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_plugin_loads_and_works),
        cmocka_unit_test(test_wrong_abi_is_rejected_with_both_versions),
        cmocka_unit_test(test_lookup_of_rejected_plugin_says_why),
        cmocka_unit_test(test_missing_symbol_is_rejected),
        cmocka_unit_test(test_duplicate_first_wins),
        cmocka_unit_test(test_lookup_opens_only_the_named_file),
        cmocka_unit_test(test_name_must_match_file_name),
        cmocka_unit_test(test_world_writable_is_refused),
        cmocka_unit_test(test_foreign_owner_is_refused),
        cmocka_unit_test(test_unknown_and_invalid_names),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_plugin_section_from_config),
        cmocka_unit_test(test_relative_entries_are_skipped),
        cmocka_unit_test(test_shadowing_a_builtin_is_noted),
        cmocka_unit_test(test_empty_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
