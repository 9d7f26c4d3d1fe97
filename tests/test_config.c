/* test_config.c — pipelines: every class of config error with its exact
 * FILE:LINE:COL and key, --set overrides, defaults, constants, and the resolved
 * output. Also the parameter sets built from strings (hp_params_from_strings). */
#include "test_util.h"

#include <math.h>

#include "hpinn/config.h"
#include "pipeline.h"
#include "yaml_tree.h"

static const char *good =
    "constants:\n"                               /* 1 */
    "  eps: 1/48\n"                              /* 2 */
    "  twoeps: 2*eps\n"                          /* 3 */
    "problem:\n"                                 /* 4 */
    "  dim: 1\n"                                 /* 5 */
    "  K: \"1/(1.2 + sin(2*pi*x/eps))\"\n"       /* 6 */
    "  collocation: {points: 840}\n"             /* 7 */
    "coupling:\n"                                /* 8 */
    "  window: 1\n"                              /* 9 */
    "  delta: eps\n"                             /* 10 */
    "stages:\n"                                  /* 11 */
    "  - {iterations: 10, tau2: 5e5}\n"          /* 12 */
    "  - {iterations: 20}\n";                    /* 13 */

#define LONG_BRACKETS "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
#define LONG_CLOSERS "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"

static hp_config *load_ok(const char *text) {
    hp_config *c = NULL;
    hp_status st = hp_config_load_string(text, strlen(text), "t.yaml", &c);
    if (st != HP_OK) fail_msg("load failed: %s", hp_error_message());
    return c;
}

/* Resolve a core section and return the status; message in hp_error_message(). */
static hp_status section(hp_config *c, const char *path, const hp_param_def *table) {
    hp_params *p = NULL;
    hp_status st = hp_config_section(c, path, table, &p);
    hp_params_destroy(p);
    return st;
}

/* Growable text for the generated inputs. */
typedef struct text_buf {
    char *s;
    size_t len, cap;
} text_buf;

static void put(text_buf *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->len + (size_t)n + 1 > t->cap) {
        t->cap = 2 * (t->len + (size_t)n + 1);
        t->s = realloc(t->s, t->cap);
        assert_non_null(t->s);
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static void put_repeated(text_buf *t, const char *piece, size_t times) {
    for (size_t i = 0; i < times; i++) put(t, "%s", piece);
}

static void expect_load_error(const char *text, const char *message) {
    hp_config *c = NULL;
    assert_int_equal(hp_config_load_string(text, strlen(text), "t.yaml", &c), HP_ERR_CONFIG);
    assert_null(c);
    assert_contains(hp_error_message(), message);
}

static void test_defaults_and_constants(void **state) {
    (void)state;
    hp_config *c = load_ok(good);
    assert_int_equal(hp_config_constant_count(c), 2);
    assert_string_equal(hp_config_constant_name(c, 1), "twoeps");
    assert_double_equal(hp_config_constant_value(c, 1), 2.0 / 48.0, 1e-15);
    hp_params *p;
    assert_int_equal(hp_config_section(c, "coupling", hp__coupling_params, &p), HP_OK);
    assert_string_equal(hp_params_string(p, "form"), "full"); /* default */
    assert_int_equal(hp_params_enum_index(p, "form"), 0);
    assert_false(hp_params_is_set(p, "form"));
    assert_true(hp_params_is_set(p, "delta"));
    assert_double_equal(hp_params_real(p, "delta"), 1.0 / 48.0, 1e-15); /* constant by name */
    assert_double_equal(hp_params_real(p, "tau2"), 0.0, 0.0);
    hp_params_destroy(p);
    assert_int_equal(hp_config_section(c, "problem", hp__problem_params, &p), HP_OK);
    assert_int_equal(hp_params_int(p, "collocation.points"), 840);     /* nested key */
    assert_true(hp_params_is_auto(p, "validation.points"));           /* nested default: auto */
    assert_string_equal(hp_params_string(p, "q"), "0");
    hp_params_destroy(p);
    assert_int_equal(hp_config_list_length(c, "stages"), 2);
    assert_int_equal(hp_config_section(c, "stages[0]", hp__stage_params, &p), HP_OK);
    assert_double_equal(hp_params_real(p, "tau2"), 5e5, 0.0);
    hp_params_destroy(p);
    assert_int_equal(hp_config_section(c, "stages[1]", hp__stage_params, &p), HP_OK);
    assert_false(hp_params_is_set(p, "tau2")); /* optional override without default */
    hp_params_destroy(p);
    hp_config_destroy(c);
}

static void test_unknown_key_with_suggestion(void **state) {
    (void)state;
    hp_config *c = load_ok("coupling:\n  form: full\n  windw: 3\n");
    assert_int_equal(section(c, "coupling", hp__coupling_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:3:3: coupling.windw: unknown key (did you mean 'window'?); expected one of: form, window");
    hp_config_destroy(c);
    c = load_ok("problem:\n  K: x\n  collocation: {pionts: 3}\n");
    assert_int_equal(section(c, "problem", hp__problem_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:3:17: problem.collocation.pionts: unknown key (did you mean 'points'?)");
    hp_config_destroy(c);
}

static void test_wrong_type(void **state) {
    (void)state;
    hp_config *c = load_ok("coupling:\n  window: abc\n");
    assert_int_equal(section(c, "coupling", hp__coupling_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:2:11: coupling.window: 'abc' is not a number");
    assert_contains(hp_error_message(), "; expected an integer >= 0");
    hp_config_destroy(c);
    c = load_ok("coupling:\n  window: 1.5\n");
    assert_int_equal(section(c, "coupling", hp__coupling_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:2:11: coupling.window: '1.5' is not an integer");
    hp_config_destroy(c);
    c = load_ok("coupling:\n  tau2: [1, 2]\n");
    assert_int_equal(section(c, "coupling", hp__coupling_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:2:9: coupling.tau2: got a list; expected a real number >= 0");
    hp_config_destroy(c);
    c = load_ok("coupling:\n  form: ful\n");
    assert_int_equal(section(c, "coupling", hp__coupling_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:2:9: coupling.form: unknown value 'ful' (did you mean 'full'?); expected one of: full, compressed, none");
    hp_config_destroy(c);
}

static void test_numbers_beyond_their_type(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"output:\n  log_every: 1000000000000000000000\n",
         "t.yaml:2:14: output.log_every: '1000000000000000000000' is too large; expected an integer >= 1"},
        {"output:\n  log_every: -1000000000000000000000\n",
         "t.yaml:2:14: output.log_every: '-1000000000000000000000' is too small; expected an integer >= 1"},
        {"output:\n  log_every: 1e19\n", "t.yaml:2:14: output.log_every: '1e19' is too large"},
        {"coupling:\n  tau2: 1e400\n", "t.yaml:2:9: coupling.tau2: '1e400' is too large; expected a real number >= 0"},
        {"coupling:\n  tau2: -1e400\n", "t.yaml:2:9: coupling.tau2: '-1e400' is too small"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        hp_config *c = load_ok(cases[i][0]);
        const hp_param_def *table = cases[i][0][0] == 'o' ? hp__output_params : hp__coupling_params;
        assert_int_equal(section(c, cases[i][0][0] == 'o' ? "output" : "coupling", table), HP_ERR_CONFIG);
        assert_contains(hp_error_message(), cases[i][1]);
        hp_config_destroy(c);
    }
    /* a long value is quoted cut, and what was wrong with it still shows */
    text_buf t = {0};
    put(&t, "output:\n  log_every: ");
    put_repeated(&t, "1111111111", 1000);
    put(&t, "\n");
    hp_config *lc = load_ok(t.s);
    assert_int_equal(section(lc, "output", hp__output_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:2:14: output.log_every: '111111111111111111111111111111111111111111"
                                        "11111111111111111111111111...' is too large; expected an integer >= 1");
    hp_config_destroy(lc);
    free(t.s);
    /* integers are read exactly up to 64 bits; a whole real in range is one too */
    hp_config *c = load_ok("output:\n  log_every: 9007199254740993\n  checkpoint_every: 2e3\n");
    hp_params *p;
    OK(hp_config_section(c, "output", hp__output_params, &p));
    assert_true(hp_params_int(p, "log_every") == INT64_C(9007199254740993));
    assert_int_equal(hp_params_int(p, "checkpoint_every"), 2000);
    hp_params_destroy(p);
    hp_config_destroy(c);
}

static void test_out_of_range(void **state) {
    (void)state;
    hp_config *c = load_ok("output:\n  log_every: 0\n");
    assert_int_equal(section(c, "output", hp__output_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:2:14: output.log_every: 0 is out of range; expected an integer >= 1");
    hp_config_destroy(c);
    c = load_ok("problem: {K: x, dim: 3}\n");
    assert_int_equal(section(c, "problem", hp__problem_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:1:22: problem.dim: 3 is out of range; expected an integer in [1, 2]");
    hp_config_destroy(c);
}

static void test_missing_required(void **state) {
    (void)state;
    hp_config *c = load_ok("constants: {a: 1}\nproblem:\n  dim: 2\n");
    assert_int_equal(section(c, "problem", hp__problem_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:3:3: problem.K: missing required value; expected a string");
    hp_config_destroy(c);
    c = load_ok("stages:\n  - {tau2: 3}\n");
    assert_int_equal(section(c, "stages[0]", hp__stage_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:2:5: stages[0].iterations: missing required value");
    hp_config_destroy(c);
}

static void test_yaml_syntax_and_structure(void **state) {
    (void)state;
    expect_load_error("problem:\n  K: [1, 2\n", "t.yaml:3:1: YAML syntax error:");
    expect_load_error("problem:\n  K: x\n bad: 1\n", "t.yaml:3:2: YAML syntax error:");
    expect_load_error("- a\n- b\n", "t.yaml:1:1: pipeline: got a list at the top level");
    expect_load_error("problme:\n  K: x\n", "t.yaml:1:1: problme: unknown section (did you mean 'problem'?)");
    /* a long key is cut in the message, so that what is expected still shows */
    char longkey[4200];
    memset(longkey, 'k', sizeof longkey);
    memcpy(longkey, "? ", 2);
    snprintf(longkey + 4100, sizeof longkey - 4100, "\n: 1\n");
    expect_load_error(longkey, "t.yaml:1:3: kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk: unknown section; "
                               "expected one of: constants, problem");
    expect_load_error("problem:\n  K: x\n  K: y\n", "t.yaml:3:3: K: duplicate key");
    expect_load_error("constants:\n  eps: 1/(0*3)\n", "t.yaml:2:8: constants.eps: '1/(0*3)' evaluates to");
    expect_load_error("constants:\n  a: b + 1\n", "t.yaml:2:6: constants.a: 'b + 1' unknown name 'b'");
    expect_load_error("constants:\n  x: 1\n", "t.yaml:2:3: constants.x: 'x' is reserved");
    expect_load_error("stages: {iterations: 3}\n", "t.yaml:1:9: stages: got a mapping; expected a list");
    /* an alias bomb must be refused, not expanded */
    expect_load_error("a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                      "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
                      "expands to more than");
}

static void test_yaml_documents_and_aliases(void **state) {
    (void)state;
    /* a second document is an error at its start, never silently dropped */
    expect_load_error("problem: {K: x}\n---\nproblem: {K: y}\n",
                      "t.yaml:2:1: a second YAML document starts here; expected one pipeline per file");
    expect_load_error("---\nproblem: {K: x}\n...\n---\n", "t.yaml:4:1: a second YAML document starts here");
    hp_config_destroy(load_ok("---\nproblem: {K: x}\n...\n"));
    /* aliases: copied where they are written, errors located at the alias */
    hp_config *c = load_ok("constants: {a: &one 1, b: *one}\ncoupling: &c {window: 2}\noutput: {log_every: *one}\n");
    assert_double_equal(hp_config_constant_value(c, 1), 1.0, 0.0);
    hp_config_destroy(c);
    expect_load_error("constants: {a: *nope}\n",
                      "t.yaml:1:16: *nope: alias of an undefined anchor; expected &nope earlier in the file");
    expect_load_error("constants: &x {a: *x}\n", "t.yaml:1:19: *x: alias inside the collection it names");
    expect_load_error("a: &k [1]\nb: {*k : 2}\n", "t.yaml:2:5: *k: mapping key is not a plain word");
    /* an alias copy nests as deep as it lands */
    char text[1024];
    snprintf(text, sizeof text, "a: &d %.*s%.*s\nb: [[[[*d]]]]\n", 62, LONG_BRACKETS, 62, LONG_CLOSERS);
    expect_load_error(text, "t.yaml:2:8: YAML nesting deeper than 64 levels");
    /* more anchors than the table holds */
    char *many = malloc(20 * (HP__YAML_MAX_ANCHORS + 2));
    size_t used = (size_t)sprintf(many, "a: [");
    for (int i = 0; i <= HP__YAML_MAX_ANCHORS; i++) used += (size_t)sprintf(many + used, "&a%d %d, ", i, i);
    sprintf(many + used, "0]\n");
    char msg[128];
    snprintf(msg, sizeof msg, "&a%d: more than %d anchors; expected fewer", HP__YAML_MAX_ANCHORS, HP__YAML_MAX_ANCHORS);
    expect_load_error(many, msg);
    free(many);
}

static void test_yaml_nesting_limit(void **state) {
    (void)state;
    /* the top-level mapping and 63 lists: 64 levels, the limit */
    char text[512];
    snprintf(text, sizeof text, "problem: %.*s%.*s\n", 63, LONG_BRACKETS, 63, LONG_CLOSERS);
    hp_config_destroy(load_ok(text));
    snprintf(text, sizeof text, "problem: %.*s%.*s\n", 64, LONG_BRACKETS, 64, LONG_CLOSERS);
    expect_load_error(text, "t.yaml:1:73: YAML nesting deeper than 64 levels; expected a flatter document");
}

/* ---- hostile inputs: each is refused (or accepted) with its message, fast ---------
 * Times are not asserted; the ctest TIMEOUT of this file is the bound, and
 * docs/fuzzing.md has the measured times and peak memory. */

static void test_hostile_alias_bomb(void **state) {
    (void)state;
    /* a 20 KB scalar aliased 12 times per level over 5 levels (5 GB if expanded):
     * refused at the first alias whose copy passes the byte budget */
    text_buf t = {0};
    put(&t, "constants:\n  a: &a \"");
    put_repeated(&t, "xxxxxxxxxxxxxxxxxxxx", 1000);
    put(&t, "\"\n");
    const char *levels = "abcdef";
    for (int l = 1; l < 6; l++) {
        put(&t, "  %c: &%c [", levels[l], levels[l]);
        for (int i = 0; i < 12; i++) put(&t, "%s*%c", i ? ", " : "", levels[l - 1]);
        put(&t, "]\n");
    }
    expect_load_error(t.s, "t.yaml:5:10: *c: aliases copy more than 4194304 bytes of text; expected a pipeline "
                           "that repeats less through aliases");
    free(t.s);
    /* many small copies: the node budget, located at the alias that passes it */
    t = (text_buf){0};
    put(&t, "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: [");
    put_repeated(&t, "*a, ", 100000);
    put(&t, "*a]\n");
    char msg[256];
    /* 10 + 1 nodes per copy: the 500000th node is in copy 45454 (0-based), at column 5 + 4 * 45454 */
    snprintf(msg, sizeof msg, "t.yaml:2:%d: *a: the document expands to more than %d nodes through this alias",
             5 + 4 * ((HP__YAML_MAX_NODES - 13) / 11), HP__YAML_MAX_NODES);
    expect_load_error(t.s, msg);
    free(t.s);
}

static void test_hostile_deep_nesting(void **state) {
    (void)state;
    /* 1 MB of "[" and of "{a: ": refused at the 65th level, not after scanning it all */
    text_buf t = {0};
    put(&t, "problem: ");
    put_repeated(&t, "[", 1u << 20);
    expect_load_error(t.s, "t.yaml:1:73: YAML nesting deeper than 64 levels; expected a flatter document");
    free(t.s);
    t = (text_buf){0};
    put(&t, "problem: ");
    put_repeated(&t, "{a: ", 1u << 18);
    expect_load_error(t.s, "t.yaml:1:262: YAML nesting deeper than 64 levels");
    free(t.s);
}

static void test_hostile_large_mapping(void **state) {
    (void)state;
    /* 100000 keys: duplicates found by sorting, not per key */
    text_buf t = {0};
    put(&t, "coupling:\n");
    for (int i = 0; i < 100000; i++) put(&t, "  k%d: %d\n", i, i);
    hp_config *c = load_ok(t.s);
    assert_int_equal(section(c, "coupling", hp__coupling_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:2:3: coupling.k0: unknown key; expected one of: form, window");
    hp_config_destroy(c);
    put(&t, "  k99998: 1\n");
    expect_load_error(t.s, "t.yaml:100002:3: k99998: duplicate key; expected each key once per mapping");
    free(t.s);
}

static void test_constants_limit(void **state) {
    (void)state;
    text_buf t = {0};
    put(&t, "constants:\n");
    for (int i = 0; i < HP_CONFIG_MAX_CONSTANTS; i++) put(&t, "  c%d: %d\n", i, i);
    hp_config *c = load_ok(t.s);
    assert_int_equal(hp_config_constant_count(c), HP_CONFIG_MAX_CONSTANTS);
    /* one more through --set: refused naming the override */
    assert_int_equal(hp_config_set(c, "constants.extra=1"), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "--set constants.extra=1: constants.extra: constant 65 of 65; expected at most "
                                        "64 constants");
    hp_config_destroy(c);
    put(&t, "  c64: 64\n");
    expect_load_error(t.s, "t.yaml:66:3: constants.c64: constant 65 of 65; expected at most 64 constants");
    /* 100000 constants: refused before any is evaluated */
    for (int i = 65; i < 100000; i++) put(&t, "  c%d: %d\n", i, i);
    expect_load_error(t.s, "t.yaml:66:3: constants.c64: constant 65 of 100000; expected at most 64 constants");
    free(t.s);
}

static void test_hostile_long_scalar(void **state) {
    (void)state;
    /* a file of exactly the size limit, almost all one scalar: accepted */
    const size_t limit = (size_t)16 << 20;
    const char *head = "problem: {K: x}\noutput:\n  dir: ";
    FILE *f = fopen("long_scalar.yaml", "wb");
    assert_non_null(f);
    fputs(head, f);
    size_t n = limit - strlen(head) - 1;
    for (size_t i = 0; i < n; i++) fputc('d', f);
    fputc('\n', f);
    fclose(f);
    hp_config *c = NULL;
    OK(hp_config_load_file("long_scalar.yaml", &c));
    hp_params *p;
    OK(hp_config_section(c, "output", hp__output_params, &p));
    assert_int_equal(strlen(hp_params_string(p, "dir")), n);
    hp_params_destroy(p);
    hp_config_destroy(c);
    /* one byte more: refused before parsing */
    f = fopen("long_scalar.yaml", "ab");
    fputc('\n', f);
    fclose(f);
    assert_int_equal(hp_config_load_file("long_scalar.yaml", &c), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "long_scalar.yaml: larger than 16777216 bytes");
    remove("long_scalar.yaml");
}

static void test_empty_document_is_empty_pipeline(void **state) {
    (void)state;
    hp_config *c = load_ok("");
    assert_false(hp_config_has(c, "problem"));
    assert_int_equal(section(c, "coupling", hp__coupling_params), HP_OK);
    assert_int_equal(section(c, "problem", hp__problem_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:1:1: problem.K: missing required value");
    hp_config_destroy(c);
}

static void test_set_overrides(void **state) {
    (void)state;
    hp_config *c = load_ok(good);
    hp_params *p;
    /* nested key in an existing section */
    assert_int_equal(hp_config_set(c, "coupling.window=3"), HP_OK);
    /* nested key inside a list entry, creating a mapping */
    assert_int_equal(hp_config_set(c, "stages[1].tau2=7"), HP_OK);
    /* a list value, in a section absent from the file */
    assert_int_equal(hp_config_set(c, "upscale.fine_elements=[100, 200, 400]"), HP_OK);
    /* a nested table key */
    assert_int_equal(hp_config_set(c, "problem.collocation.points=99"), HP_OK);
    /* constants change everything that uses them */
    assert_int_equal(hp_config_set(c, "constants.eps=0.25"), HP_OK);
    assert_int_equal(hp_config_section(c, "coupling", hp__coupling_params, &p), HP_OK);
    assert_int_equal(hp_params_int(p, "window"), 3);
    assert_double_equal(hp_params_real(p, "delta"), 0.25, 0.0);
    hp_params_destroy(p);
    assert_int_equal(hp_config_section(c, "stages[1]", hp__stage_params, &p), HP_OK);
    assert_double_equal(hp_params_real(p, "tau2"), 7.0, 0.0);
    hp_params_destroy(p);
    assert_int_equal(hp_config_section(c, "upscale", hp__upscale_params, &p), HP_OK);
    size_t n;
    const double *v = hp_params_reals(p, "fine_elements", &n);
    assert_int_equal(n, 3);
    assert_double_equal(v[2], 400.0, 0.0);
    hp_params_destroy(p);
    assert_int_equal(hp_config_section(c, "problem", hp__problem_params, &p), HP_OK);
    assert_int_equal(hp_params_int(p, "collocation.points"), 99);
    hp_params_destroy(p);
    hp_config_destroy(c);
}

static void test_set_errors(void **state) {
    (void)state;
    hp_config *c = load_ok(good);
    /* a key that does not exist is reported at validation, naming the --set */
    assert_int_equal(hp_config_set(c, "coupling.nope=1"), HP_OK);
    assert_int_equal(section(c, "coupling", hp__coupling_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "--set coupling.nope=1: coupling.nope: unknown key");
    hp_config_destroy(c);
    c = load_ok(good);
    assert_int_equal(hp_config_set(c, "coupling.window=-2"), HP_OK);
    assert_int_equal(section(c, "coupling", hp__coupling_params), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "--set coupling.window=-2: coupling.window: -2 is out of range");
    hp_config_destroy(c);
    c = load_ok(good);
    assert_int_equal(hp_config_set(c, "stages[5].iterations=3"), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "stages[5] does not exist (stages has 2 entries)");
    assert_int_equal(hp_config_set(c, "nosuchsection.a=1"), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "nosuchsection: unknown section");
    assert_int_equal(hp_config_set(c, "coupling.window"), HP_ERR_USAGE);
    assert_int_equal(hp_config_set(c, "coupling..window=1"), HP_ERR_USAGE);
    /* the path error is quoted into the --set error: the message must survive intact */
    assert_int_equal(hp_config_set(c, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q=1"), HP_ERR_USAGE);
    assert_string_equal(hp_error_message(), "--set a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q=1: path "
                                            "'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q' is too deep; expected at most 16 keys");
    assert_int_equal(hp_config_set(c, "coupling.window=[1"), HP_ERR_CONFIG);
    hp_config_destroy(c);
}

static void test_resolved_output(void **state) {
    (void)state;
    /* stages name the registry tests' optimizer, so only tests/plugins is needed */
    char text_in[2048], dir[1024];
    snprintf(text_in, sizeof text_in, "%.*s%s", (int)(strstr(good, "stages:") - good), good,
             "stages:\n  - {iterations: 10, tau2: 5e5, optimizer: {plugin: testgood}}\n"
             "  - iterations: 20\n    optimizer: {plugin: testgood}\n");
    snprintf(dir, sizeof dir, "%s/tests/plugins", getenv("HPINN_BUILD_DIR"));
    setenv("HPINN_PLUGIN_PATH", dir, 1);
    hp_config *c = load_ok(text_in);
    hp_registry *r;
    assert_int_equal(hp_registry_open(&r), HP_OK);
    unsetenv("HPINN_PLUGIN_PATH");
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_int_equal(hp_config_resolve(c, r, mem), HP_OK);
    fclose(mem);
    assert_contains(text, "coupling:\n  form: full\n  window: 1\n");
    assert_contains(text, "  collocation:\n    points: 840\n");
    assert_contains(text, "stages:\n  - iterations: 10\n    tau2: 500000\n    divergence: 1000000\n    optimizer:\n");
    assert_contains(text, "  - iterations: 20\n    divergence: 1000000\n    optimizer:\n      plugin: testgood\n      rate: 0.5\n");
    /* the resolved text is itself a valid pipeline that resolves to the same text */
    hp_config *again = NULL;
    assert_int_equal(hp_config_load_string(text, len, "resolved.yaml", &again), HP_OK);
    char *text2 = NULL;
    size_t len2 = 0;
    mem = open_memstream(&text2, &len2);
    assert_int_equal(hp_config_resolve(again, r, mem), HP_OK);
    fclose(mem);
    assert_string_equal(text, text2);
    free(text);
    free(text2);
    hp_config_destroy(again);
    hp_config_destroy(c);
    hp_registry_close(r);
}

static void test_problem_expressions_checked(void **state) {
    (void)state;
    hp_registry *r;
    assert_int_equal(hp_registry_open(&r), HP_OK);
    hp_config *c = load_ok("constants: {eps: 0.1}\nproblem:\n  K: \"1 + z*x\"\n");
    assert_int_equal(hp_config_resolve(c, r, NULL), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:3:6: problem.K: unknown name 'z'");
    hp_config_destroy(c);
    c = load_ok("problem:\n  K: \"1 +\"\n  dim: 2\n");
    assert_int_equal(hp_config_resolve(c, r, NULL), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:2:6: problem.K: cannot parse \"1 +\"");
    hp_config_destroy(c);
    c = load_ok("problem:\n  K: \"1 + y\"\n");
    assert_int_equal(hp_config_resolve(c, r, NULL), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "problem.K: unknown name 'y'");
    hp_config_destroy(c);
    hp_registry_close(r);
}

static void test_sections_a_run_needs(void **state) {
    (void)state;
    hp_registry *r;
    OK(hp_registry_open(&r));
    hp_config *c = load_ok("problem: {K: x}\nstages: []\n");
    assert_int_equal(hp_config_resolve(c, r, NULL), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:2:9: stages: an empty list; expected at least one stage");
    hp_config_destroy(c);
    text_buf t = {0};
    put(&t, "problem: {K: x}\nstages:\n");
    for (int i = 0; i < HP_CONFIG_MAX_STAGES + 1; i++) put(&t, "  - {iterations: 1}\n");
    c = load_ok(t.s);
    assert_int_equal(hp_config_resolve(c, r, NULL), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml:67:5: stages[64]: stage 65 of 65; expected at most 64 stages");
    hp_config_destroy(c);
    free(t.s);
    /* resolve validates what is there; a run also needs the network and the stages */
    c = load_ok("problem: {K: x}\n");
    OK(hp_config_resolve(c, r, NULL));
    assert_int_equal(hp_config_check_run(c), HP_ERR_CONFIG);
    assert_string_equal(hp_error_message(), "t.yaml: network: missing section; expected network: {plugin: msff, ...}");
    OK(hp_config_set(c, "network.plugin=mlp"));
    assert_int_equal(hp_config_check_run(c), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "t.yaml: stages: missing section; expected a list of training stages");
    OK(hp_config_set(c, "stages=[{iterations: 3}]"));
    OK(hp_config_check_run(c));
    hp_config_destroy(c);
    hp_registry_close(r);
}

static void test_params_from_strings(void **state) {
    (void)state;
    static const hp_param_def table[] = {
        {"width", HP_PARAM_INT, "10", HP_PARAM_HAS_MIN, 1, 0, NULL, 0, "units"},
        {"sigmas", HP_PARAM_REALS, "[1, 48]", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 0, 0, NULL, 1, "scales"},
        {"act", HP_PARAM_ENUM, "tanh", 0, 0, 0, "tanh|swish|sin", 0, "activation"},
        {"flag", HP_PARAM_BOOL, "no", 0, 0, 0, NULL, 0, "a flag"},
        HP_PARAM_END};
    hp_params *p;
    assert_int_equal(hp_params_from_strings(table, "network", NULL, 0, &p), HP_OK);
    size_t n;
    const double *s = hp_params_reals(p, "sigmas", &n);
    assert_int_equal(n, 2);
    assert_double_equal(s[1], 48.0, 0.0);
    assert_false(hp_params_bool(p, "flag"));
    hp_params_destroy(p);
    const char *ok[] = {"width=3", "sigmas=[1, 1/16]", "act=swish", "flag=true"};
    assert_int_equal(hp_params_from_strings(table, "network", ok, 4, &p), HP_OK);
    assert_int_equal(hp_params_int(p, "width"), 3);
    s = hp_params_reals(p, "sigmas", &n);
    assert_double_equal(s[1], 1.0 / 16.0, 1e-17);
    assert_int_equal(hp_params_enum_index(p, "act"), 1);
    assert_true(hp_params_bool(p, "flag"));
    /* a plugin's own check, located at the value */
    assert_int_equal(hp_params_error(p, "act", "swish needs b > 0; expected b > 0"), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "<args>:1:3: network.act: swish needs b > 0");
    hp_params_destroy(p);
    const char *zero[] = {"width=0"};
    assert_int_equal(hp_params_from_strings(table, "network", zero, 1, &p), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "network.width: 0 is out of range; expected an integer >= 1");
    const char *empty[] = {"sigmas=[]"};
    assert_int_equal(hp_params_from_strings(table, "network", empty, 1, &p), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "network.sigmas: got 0 entries; expected a list of at least 1 real number");
    const char *neg[] = {"sigmas=[1, -2]"};
    assert_int_equal(hp_params_from_strings(table, "network", neg, 1, &p), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "network.sigmas: -2 is out of range");
    const char *noeq[] = {"width"};
    assert_int_equal(hp_params_from_strings(table, "network", noeq, 1, &p), HP_ERR_USAGE);
    const char *badbool[] = {"flag=maybe"};
    assert_int_equal(hp_params_from_strings(table, "network", badbool, 1, &p), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "network.flag: 'maybe' is not a boolean; expected true or false");
}

static void test_invalid_default_is_internal_error(void **state) {
    (void)state;
    static const hp_param_def broken[] = {
        {"width", HP_PARAM_INT, "wide", 0, 0, 0, NULL, 0, "units"}, HP_PARAM_END};
    hp_params *p;
    assert_int_equal(hp_params_from_strings(broken, "network", NULL, 0, &p), HP_ERR_INTERNAL);
    assert_contains(hp_error_message(), "default of network.width is invalid");
}

static void test_location_of_paths(void **state) {
    (void)state;
    hp_config *c = load_ok(good);
    char loc[256];
    hp_config_location(c, "coupling.delta", loc, sizeof loc);
    assert_string_equal(loc, "t.yaml:10:10");
    hp_config_location(c, "stages[1].iterations", loc, sizeof loc);
    assert_string_equal(loc, "t.yaml:13:18");
    hp_config_location(c, "coupling.missing", loc, sizeof loc); /* nearest ancestor */
    assert_string_equal(loc, "t.yaml:9:3");
    hp_config_destroy(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_constants),
        cmocka_unit_test(test_unknown_key_with_suggestion),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_numbers_beyond_their_type),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_yaml_syntax_and_structure),
        cmocka_unit_test(test_yaml_documents_and_aliases),
        cmocka_unit_test(test_yaml_nesting_limit),
        cmocka_unit_test(test_hostile_alias_bomb),
        cmocka_unit_test(test_hostile_deep_nesting),
        cmocka_unit_test(test_hostile_large_mapping),
        cmocka_unit_test(test_constants_limit),
        cmocka_unit_test(test_hostile_long_scalar),
        cmocka_unit_test(test_empty_document_is_empty_pipeline),
        cmocka_unit_test(test_set_overrides),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_resolved_output),
        cmocka_unit_test(test_problem_expressions_checked),
        cmocka_unit_test(test_sections_a_run_needs),
        cmocka_unit_test(test_params_from_strings),
        cmocka_unit_test(test_invalid_default_is_internal_error),
        cmocka_unit_test(test_location_of_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
