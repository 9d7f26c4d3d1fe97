/* test_eval_cli.c — `hpinn eval` driven as a subprocess on tiny 1-D and 2-D
 * runs: at the points of the run's fields.csv and at the coarse nodes it gives
 * the values of fields.csv and nodes.csv (to 1e-12); its gradient and
 * Laplacian agree with central differences of its own values; --grid in 2-D
 * writes the VTK file beside the CSV; and the errors (no checkpoint, not a run
 * directory, points outside the unit interval, a wrong number of columns,
 * conflicting options) exit 2 with a message naming the problem. */
#include "test_util.h"

static char out_text[1 << 20], err_text[1 << 16];

static int run(const char *args) {
    return hp_test_run_hpinn(args, "eval", out_text, sizeof out_text, err_text, sizeof err_text);
}

static const char *pipeline_1d =
    "constants: {eps: 0.0625}\n"
    "problem: {K: \"1/(1.2 + sin(2*pi*x/eps))\", q: \"-3*(2*x - 1)\", collocation: {points: 128},\n"
    "          validation: {points: 201}, reference: {integral_intervals: 2000}}\n"
    "network: {plugin: msff, width: 12, depth: 2, features: 12, sigmas: [1, 16], seed: 1}\n"
    "coarse: {plugin: p1_1d, elements: 16}\n"
    "coupling: {form: full, window: 1, delta: eps, tau2: 1e3}\n"
    "stages:\n  - {iterations: 150, optimizer: {plugin: adam, lr: 2e-3}}\n"
    "output: {dir: ev_1d, log_every: 50, checkpoint_every: 100}\n";

static const char *pipeline_2d =
    "problem:\n  dim: 2\n  K: \"2 + sin(2*pi*x)*sin(2*pi*y) + 0.5*x\"\n  q: \"1 + x*y\"\n"
    "  collocation: {points: 8}\n  validation: {points: 9}\n  reference: {kind: fem, fem_elements: 16}\n"
    "network: {plugin: mlp, width: 6, depth: 2, activation: tanh, seed: 4}\n"
    "upscaling: {plugin: global, mode: anisotropic}\n"
    "coarse: {plugin: p1_2d, elements: 4}\n"
    "coupling: {form: full, window: 1, tau2: 10}\n"
    "stages:\n  - {iterations: 20, optimizer: {plugin: adam, lr: 1e-2}}\n"
    "output: {dir: ev_2d, log_every: 10, checkpoint_every: 0}\n";

/* A CSV table (header + rows of numbers). */
typedef struct table {
    int rows, cols;
    char names[24][24];
    double *v; /* rows x cols */
} table;

static void parse_table(const char *text, const char *what, table *t) {
    memset(t, 0, sizeof *t);
    char *copy = strdup(text), *save = NULL;
    char *line = strtok_r(copy, "\n", &save);
    if (!line) fail_msg("%s: empty", what);
    for (char *s2 = NULL, *tok = strtok_r(line, ",", &s2); tok && t->cols < 24; tok = strtok_r(NULL, ",", &s2))
        snprintf(t->names[t->cols++], 24, "%s", tok);
    size_t cap = 64;
    t->v = malloc(cap * (size_t)t->cols * sizeof *t->v);
    while ((line = strtok_r(NULL, "\n", &save))) {
        if ((size_t)t->rows == cap) t->v = realloc(t->v, (cap *= 2) * (size_t)t->cols * sizeof *t->v);
        int c = 0;
        for (char *s2 = NULL, *tok = strtok_r(line, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2), c++) {
            if (c >= t->cols) fail_msg("%s row %d: more fields than the header", what, t->rows + 1);
            t->v[(size_t)t->rows * (size_t)t->cols + (size_t)c] = strtod(tok, NULL);
        }
        if (c != t->cols) fail_msg("%s row %d: %d fields, the header %d", what, t->rows + 1, c, t->cols);
        t->rows++;
    }
    free(copy);
}

static void parse_file(const char *path, table *t) {
    char *text = hp_test_read_file(path);
    if (!text) fail_msg("missing %s", path);
    parse_table(text, path, t);
    free(text);
}

static int column(const table *t, const char *name) {
    for (int c = 0; c < t->cols; c++)
        if (strcmp(t->names[c], name) == 0) return c;
    fail_msg("no column %s", name);
    return -1;
}

static double at(const table *t, int r, const char *name) {
    return t->v[(size_t)r * (size_t)t->cols + (size_t)column(t, name)];
}

/* Column `name` of a equals that of b, row by row, to 1e-12 of the column's scale. */
static void same_column(const table *a, const table *b, const char *name) {
    assert_int_equal(a->rows, b->rows);
    double scale = 1e-300;
    for (int r = 0; r < a->rows; r++) scale = fmax(scale, fabs(at(b, r, name)));
    for (int r = 0; r < a->rows; r++)
        if (!(fabs(at(a, r, name) - at(b, r, name)) <= 1e-12 * scale))
            fail_msg("%s row %d: %.17g vs %.17g", name, r + 1, at(a, r, name), at(b, r, name));
}

static void run_pipeline(const char *file, const char *text) {
    hp_test_write_file(file, text);
    char args[256];
    snprintf(args, sizeof args, "run %s --force", file);
    int rc = hp_test_run_hpinn(args, "train", out_text, sizeof out_text, err_text, sizeof err_text);
    if (rc != 0) fail_msg("%s: exit %d\n%s", args, rc, err_text);
}

/* Points x ± h (and y ± h in 2-D) around a few interior points, as a file; the
 * differences of eval's values there against its derivative columns. */
static void check_derivatives(const char *run_dir, int dim) {
    const double h = 2e-6; /* the 16-periodic features make the truncation error of larger steps visible */
    const double base[][2] = {{0.31, 0.47}, {0.52, 0.23}, {0.77, 0.61}};
    char pts[4096];
    size_t used = 0;
    for (int k = 0; k < 3; k++) {
        double x = base[k][0], y = base[k][1];
        if (dim == 1)
            used += (size_t)snprintf(pts + used, sizeof pts - used, "%.17g\n%.17g\n%.17g\n", x, x - h, x + h);
        else
            used += (size_t)snprintf(pts + used, sizeof pts - used,
                                     "%.17g,%.17g\n%.17g,%.17g\n%.17g,%.17g\n%.17g,%.17g\n%.17g,%.17g\n", x, y, x - h, y,
                                     x + h, y, x, y - h, x, y + h);
    }
    hp_test_write_file("ev_fd.csv", pts);
    char args[256];
    snprintf(args, sizeof args, "eval %s --points ev_fd.csv --derivatives", run_dir);
    int rc = run(args);
    if (rc != 0) fail_msg("%s: exit %d\n%s", args, rc, err_text);
    table t;
    parse_table(out_text, "eval --derivatives", &t);
    int per = dim == 1 ? 3 : 5;
    assert_int_equal(t.rows, 3 * per);
    for (int k = 0; k < 3; k++) {
        int r = k * per;
        double v = at(&t, r, "v1"), dx = (at(&t, r + 2, "v1") - at(&t, r + 1, "v1")) / (2 * h);
        double lap = (at(&t, r + 2, "v1") - 2 * v + at(&t, r + 1, "v1")) / (h * h);
        double gx = at(&t, r, "dv1_dx"), l = at(&t, r, "lap_v1");
        if (dim == 2) {
            double dy = (at(&t, r + 4, "v1") - at(&t, r + 3, "v1")) / (2 * h);
            lap += (at(&t, r + 4, "v1") - 2 * v + at(&t, r + 3, "v1")) / (h * h);
            double gy = at(&t, r, "dv1_dy");
            if (!(fabs(gy - dy) <= 1e-5 * fmax(1.0, fabs(gy)))) fail_msg("point %d: dv/dy %.12g, differences %.12g", k, gy, dy);
            /* the second direction's network too */
            double dx2 = (at(&t, r + 2, "v2") - at(&t, r + 1, "v2")) / (2 * h);
            if (!(fabs(at(&t, r, "dv2_dx") - dx2) <= 1e-5 * fmax(1.0, fabs(dx2))))
                fail_msg("point %d: dv2/dx %.12g, differences %.12g", k, at(&t, r, "dv2_dx"), dx2);
        }
        if (!(fabs(gx - dx) <= 1e-5 * fmax(1.0, fabs(gx)))) fail_msg("point %d: dv/dx %.12g, differences %.12g", k, gx, dx);
        /* second differences lose about 11 digits to rounding at this h */
        if (!(fabs(l - lap) <= 1e-4 * fmax(1.0, fabs(l)))) fail_msg("point %d: Laplacian %.12g, differences %.12g", k, l, lap);
    }
    free(t.v);
}

static void test_eval_1d(void **state) {
    (void)state;
    run_pipeline("ev_1d.yaml", pipeline_1d);
    /* the validation grid of fields.csv (its header names x) */
    assert_int_equal(run("eval ev_1d --points ev_1d/fields.csv"), 0);
    table e, f;
    parse_table(out_text, "eval --points fields.csv", &e);
    parse_file("ev_1d/fields.csv", &f);
    assert_string_equal(e.names[0], "x");
    assert_int_equal(e.rows, 201);
    same_column(&e, &f, "x");
    same_column(&e, &f, "v1");
    free(e.v);
    free(f.v);
    /* the coarse nodes: v, Q̄v and y of nodes.csv */
    assert_int_equal(run("eval ev_1d --nodes --out ev_nodes.csv"), 0);
    assert_contains(err_text, "17 points of ev_1d (iteration 150) in ev_nodes.csv");
    parse_file("ev_nodes.csv", &e);
    parse_file("ev_1d/nodes.csv", &f);
    const char *cols[] = {"x", "v1", "Qv1", "y1"};
    for (int i = 0; i < 4; i++) same_column(&e, &f, cols[i]);
    free(e.v);
    free(f.v);
    /* between the nodes Q̄v and y are the P1 interpolants: at a midpoint, the mean of the two nodes */
    hp_test_write_file("ev_mid.csv", "x\n0.03125\n");
    assert_int_equal(run("eval ev_1d --points ev_mid.csv"), 0);
    parse_table(out_text, "midpoint", &e);
    parse_file("ev_1d/nodes.csv", &f);
    assert_double_equal(at(&e, 0, "y1"), 0.5 * (at(&f, 0, "y1") + at(&f, 1, "y1")), 1e-14);
    assert_double_equal(at(&e, 0, "Qv1"), 0.5 * (at(&f, 0, "Qv1") + at(&f, 1, "Qv1")), 1e-14);
    free(e.v);
    free(f.v);
    /* --grid with derivatives: the columns */
    assert_int_equal(run("eval ev_1d --grid 5 --derivatives"), 0);
    assert_true(strncmp(out_text, "x,v1,dv1_dx,lap_v1,Qv1,y1\n0,", 28) == 0);
    assert_contains(out_text, "\n1,");
    check_derivatives("ev_1d", 1);
}

static void test_eval_2d(void **state) {
    (void)state;
    run_pipeline("ev_2d.yaml", pipeline_2d);
    assert_int_equal(run("eval ev_2d --points ev_2d/fields.csv"), 0);
    table e, f;
    parse_table(out_text, "eval 2-D", &e);
    parse_file("ev_2d/fields.csv", &f);
    assert_int_equal(e.rows, 81);
    same_column(&e, &f, "y");
    same_column(&e, &f, "v1");
    same_column(&e, &f, "v2");
    free(e.v);
    free(f.v);
    assert_int_equal(run("eval ev_2d --nodes"), 0);
    parse_table(out_text, "eval 2-D nodes", &e);
    parse_file("ev_2d/nodes.csv", &f);
    const char *cols[] = {"x", "y", "v1", "Qv1", "y1", "v2", "Qv2", "y2"};
    for (int i = 0; i < 8; i++) same_column(&e, &f, cols[i]);
    free(e.v);
    free(f.v);
    assert_int_equal(system("rm -rf ev_out"), 0);
    assert_int_equal(system("mkdir ev_out"), 0);
    assert_int_equal(run("eval ev_2d --grid 7 --derivatives --out ev_out/grid.csv"), 0);
    parse_file("ev_out/grid.csv", &e);
    assert_int_equal(e.rows, 49);
    assert_string_equal(e.names[4], "dv1_dy");
    assert_double_equal(at(&e, 1, "x"), 1.0 / 6, 1e-15); /* x fastest */
    assert_double_equal(at(&e, 7, "y"), 1.0 / 6, 1e-15);
    free(e.v);
    char *vtk = hp_test_read_file("ev_out/grid.vtk");
    assert_non_null(vtk);
    assert_contains(vtk, "DIMENSIONS 7 7 1");
    assert_contains(vtk, "SCALARS lap_v2 double 1");
    assert_contains(vtk, "SCALARS y2 double 1");
    free(vtk);
    check_derivatives("ev_2d", 2);
}

static void test_eval_errors(void **state) {
    (void)state;
    char *ck = hp_test_read_file("ev_1d/checkpoint.bin");
    if (!ck) run_pipeline("ev_1d.yaml", pipeline_1d);
    free(ck);
    assert_int_equal(system("rm -rf ev_nockpt && mkdir ev_nockpt && cp ev_1d/config.resolved.yaml ev_nockpt/"), 0);
    assert_int_equal(run("eval ev_nockpt --grid 5"), 2);
    assert_contains(err_text, "ev_nockpt has no checkpoint (checkpoint.bin)");
    assert_int_equal(run("eval no_such_dir --grid 5"), 2);
    assert_contains(err_text, "no_such_dir/config.resolved.yaml");
    assert_contains(err_text, "expected the directory of an hpinn run");
    hp_test_write_file("ev_outside.csv", "0.5\n1.25\n");
    assert_int_equal(run("eval ev_1d --points ev_outside.csv"), 2);
    assert_contains(err_text, "ev_outside.csv:2: x = 1.25 is outside [0, 1]");
    hp_test_write_file("ev_cols.csv", "0.5\n0.25,0.5\n");
    assert_int_equal(run("eval ev_1d --points ev_cols.csv"), 2);
    assert_contains(err_text, "ev_cols.csv:2: 2 columns; expected 1 (x, the run is 1-D)");
    hp_test_write_file("ev_text.csv", "0.5\nzero\n");
    assert_int_equal(run("eval ev_1d --points ev_text.csv"), 2);
    assert_contains(err_text, "ev_text.csv:2: 'zero' is not a row of numbers");
    hp_test_write_file("ev_noy.csv", "x,z\n0.5,0.5\n");
    assert_int_equal(run("eval ev_1d --points ev_noy.csv"), 0); /* 1-D: x is enough */
    assert_int_equal(run("eval ev_1d --points no_such.csv"), 2);
    assert_contains(err_text, "no_such.csv");
    assert_int_equal(run("eval ev_1d --grid 5 --nodes"), 2);
    assert_contains(err_text, "exactly one of --points FILE.csv, --grid N, --nodes");
    assert_int_equal(run("eval ev_1d --grid 1"), 2);
    assert_contains(err_text, "--grid 1: expected a whole number of points per axis");
    assert_int_equal(run("eval"), 2);
    assert_contains(err_text, "missing RUN");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_1d),
        cmocka_unit_test(test_eval_2d),
        cmocka_unit_test(test_eval_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
