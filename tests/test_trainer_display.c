/* test_trainer_display.c — the progress display: fitting fields to a width
 * (least important first, the iteration and the ETA kept, cut only when those
 * alone are too long), the terminal width from $COLUMNS when the stream is no
 * terminal, the ETA texts, and the terminal line of a real hybrid at 200, 80
 * and 40 columns (never wider than the width minus one, err with the iteration
 * of its row), and plain lines without carriage returns or padding. The line in
 * a real pseudo-terminal is tested in test_run_cli.c. */
#include "test_util.h"

#include "hybrid.h"
#include "trainer_display.h"

static void test_fit_drops_least_important_first(void **state) {
    (void)state;
    const hp__display_field f[] = {{"[1/3]", 50}, {"it 10/100", HP__DISPLAY_KEEP}, {"R 1.0e-01", 10},
                                   {"3.00ms/it", 5}, {"ETA 00:17", HP__DISPLAY_KEEP}};
    char out[128];
    /* everything fits: single spaces, in order */
    size_t used = hp__trainer_display_fit(f, 5, 100, out, sizeof out);
    assert_int_equal(used, strlen(out));
    assert_string_equal(out, "[1/3] it 10/100 R 1.0e-01 3.00ms/it ETA 00:17");
    /* one character less: ms/it (priority 5) goes first */
    size_t full = strlen(out);
    hp__trainer_display_fit(f, 5, (int)full - 1, out, sizeof out);
    assert_string_equal(out, "[1/3] it 10/100 R 1.0e-01 ETA 00:17");
    /* then R, then the stage */
    hp__trainer_display_fit(f, 5, 25, out, sizeof out);
    assert_string_equal(out, "[1/3] it 10/100 ETA 00:17");
    hp__trainer_display_fit(f, 5, 20, out, sizeof out);
    assert_string_equal(out, "it 10/100 ETA 00:17");
    /* the kept fields alone are too long: cut at the width */
    assert_int_equal(hp__trainer_display_fit(f, 5, 8, out, sizeof out), 8);
    assert_string_equal(out, "it 10/10");
    /* empty fields take no space */
    const hp__display_field g[] = {{"a", 1}, {"", 90}, {"b", HP__DISPLAY_KEEP}};
    hp__trainer_display_fit(g, 3, 10, out, sizeof out);
    assert_string_equal(out, "a b");
}

static void test_columns_from_the_environment(void **state) {
    (void)state;
    FILE *f = tmpfile(); /* not a terminal */
    assert_non_null(f);
    setenv("COLUMNS", "57", 1);
    assert_int_equal(hp__trainer_display_columns(f), 57);
    setenv("COLUMNS", "wide", 1);
    assert_int_equal(hp__trainer_display_columns(f), 80);
    unsetenv("COLUMNS");
    assert_int_equal(hp__trainer_display_columns(f), 80);
    fclose(f);
}

static void test_eta_texts(void **state) {
    (void)state;
    char b[48];
    hp__trainer_display_eta_text(17.2, 0, 1, b, sizeof b);
    assert_string_equal(b, "ETA 00:17");
    hp__trainer_display_eta_text(3723, 1, 1, b, sizeof b);
    assert_string_equal(b, "ETA ~1:02:03");
    hp__trainer_display_eta_text(NAN, 0, 1, b, sizeof b);
    assert_string_equal(b, "ETA --:--");
    hp__trainer_display_eta_text(125, 0, 0, b, sizeof b);
    assert_string_equal(b, "ETA 2m05s");
    hp__trainer_display_eta_text(9, 1, 0, b, sizeof b);
    assert_string_equal(b, "ETA ~9s");
    hp__trainer_display_eta_text(7300, 0, 0, b, sizeof b);
    assert_string_equal(b, "ETA 2h01m");
    hp__trainer_display_eta_text(NAN, 0, 0, b, sizeof b);
    assert_string_equal(b, "ETA ?");
}

static const char *pipeline =
    "constants: {eps: 0.0625}\n"
    "problem: {K: \"1/(1.2 + sin(2*pi*x/eps))\", q: \"-3*(2*x - 1)\", collocation: {points: 64},\n"
    "          validation: {points: 101}, reference: {integral_intervals: 2000}}\n"
    "network: {plugin: msff, width: 8, depth: 2, features: 8, sigmas: [1, 16], seed: 3}\n"
    "coarse: {plugin: p1_1d, elements: 16}\n"
    "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n"
    "stages:\n  - {iterations: 30, optimizer: {plugin: adam}}\n";

/* The visible text of the last redraw in a terminal stream: after the last
 * carriage return, without the erase-to-end-of-line escape. */
static void last_redraw(const char *text, char *out, size_t size) {
    const char *cr = strrchr(text, '\r');
    assert_non_null(cr);
    snprintf(out, size, "%s", cr + 1);
    char *esc = strstr(out, "\033[K");
    assert_non_null(esc);
    *esc = '\0';
}

static void test_terminal_line_fits(void **state) {
    (void)state;
    hp_config *c = NULL;
    OK(hp_config_load_string(pipeline, strlen(pipeline), "display.yaml", &c));
    hp__hybrid *h = NULL;
    OK(hp__hybrid_create(c, registry, NULL, NULL, &h));
    double *theta = calloc(hp__hybrid_n_params(h), sizeof *theta), value;
    OK(hp__hybrid_init_params(h, theta));
    hp_objective o = hp__hybrid_objective(h);
    OK(o.value_and_gradient(o.ctx, theta, &value, NULL));
    hp__hybrid_validation val;
    OK(hp__hybrid_validate(h, theta, &val));
    const int widths[] = {200, 80, 40};
    for (int w = 0; w < 3; w++) {
        char *text = NULL, cols[16], line[512];
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        snprintf(cols, sizeof cols, "%d", widths[w]);
        setenv("COLUMNS", cols, 1);
        hp__trainer_display d;
        OK(hp__trainer_display_init(&d, h, f, HP__PROGRESS_TERMINAL));
        hp__trainer_display_row(&d, 1200, 10000, 0, 12.0, value, hp__hybrid_last_terms(h), &val, 30.0, 0);
        hp__trainer_display_draw(&d, 1, 3, 4200, 10000, 3000, 8800, value, 12.0, 4200, 17.0, 0, 1);
        fflush(f);
        last_redraw(text, line, sizeof line);
        if ((int)strlen(line) > widths[w] - 1)
            fail_msg("%d columns: a line of %zu characters: %s", widths[w], strlen(line), line);
        assert_contains(line, "it 4200/10000");
        assert_contains(line, "ETA 00:17");
        if (widths[w] == 200) {
            assert_contains(line, "[2/3] it 4200/10000 (3000/8800) J ");
            assert_contains(line, "@1200 K~ ");
            assert_contains(line, "ms/it ETA 00:17");
        }
        if (widths[w] == 80) assert_null(strstr(line, "ms/it"));
        hp__trainer_display_end(&d);
        fclose(f);
        free(text);
    }
    unsetenv("COLUMNS");
    /* plain lines: one per row, no carriage return, no padding */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    hp__trainer_display d;
    OK(hp__trainer_display_init(&d, h, f, HP__PROGRESS_LINES));
    hp__trainer_display_row(&d, 50, 400, 0, 1.5, value, hp__hybrid_last_terms(h), &val, 125.0, 1);
    hp__trainer_display_draw(&d, 0, 1, 51, 400, 51, 400, value, 1.6, 51, 120.0, 1, 1); /* nothing: not a terminal */
    hp__trainer_display_log(&d, "interrupted at iteration 51");
    fclose(f);
    assert_null(strchr(text, '\r'));
    assert_null(strstr(text, "   "));
    assert_true(strncmp(text, "it 50/400 stage 0  J=", 21) == 0);
    assert_contains(text, "  1.5s ETA ~2m05s\ninterrupted at iteration 51\n");
    free(text);
    free(theta);
    hp__hybrid_destroy(h);
    hp_config_destroy(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_drops_least_important_first),
        cmocka_unit_test(test_columns_from_the_environment),
        cmocka_unit_test(test_eta_texts),
        cmocka_unit_test(test_terminal_line_fits),
    };
    return cmocka_run_group_tests(tests, hp_test_registry_setup, hp_test_registry_teardown);
}
