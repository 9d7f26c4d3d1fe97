/* test_residual_average.c — the coarse-averaged residual (residual_average.c)
 * and its term τ3·A in the hybrid objective:
 *   - the operator P: a hand-computed case, rows of P summing to 1 (a constant
 *     residual is its own average), Pᵀ as P's adjoint, the Jacobian rows as P
 *     applied column by column, and what the term is for: the average of a
 *     zero-mean oscillation is small, that of a smooth residual is not;
 *   - in the objective, 1-D and 2-D, with and without the coupling: the
 *     gradient of Ĵ and of A alone against central finite differences over
 *     every parameter; ½‖r‖² = Ĵ, Jᵀr = ∇Ĵ and every Jacobian column against
 *     differences of r; J v and Jᵀ u against the dense Jacobian;
 *   - a stage's tau3 turns the rows on for the run; asking for τ3 > 0 on a run
 *     without them is a clear error. */
#include "objective_util.h"

#include "residual_average.h"

static void test_operator_by_hand(void **state) {
    (void)state;
    hp__residual_average a;
    OK(hp__residual_average_create(&a, 1, 1, 2));
    const double x[2] = {0.25, 0.75}, w[2] = {0.5, 0.5}, rho[2] = {4.0, 8.0};
    hp__residual_average_set_points(&a, x, w);
    double g[2];
    double A = hp__residual_average_forward(&a, rho, g);
    /* ψ_0 = 1 − x: mass 0.5 (0.75 + 0.25) = 0.5, P_0 = [0.75, 0.25]; node 1 mirrored */
    assert_double_equal(g[0], 0.75 * 4.0 + 0.25 * 8.0, 1e-15);
    assert_double_equal(g[1], 0.25 * 4.0 + 0.75 * 8.0, 1e-15);
    assert_double_equal(A, (g[0] * g[0] + g[1] * g[1]) / 2.0, 1e-13);
    assert_double_equal(hp__residual_average_row_scale(&a, 3.0), sqrt(2.0 * 3.0 / 2.0), 1e-15);
    hp__residual_average_destroy(&a);
}

/* Points (M x dim) of a jittered grid in [0,1]^dim, weights 1/M. */
static void scatter(int dim, size_t per_axis, double *x, double *w) {
    size_t M = dim == 1 ? per_axis : per_axis * per_axis;
    for (size_t r = 0; r < M; r++) {
        size_t i = r % per_axis, j = r / per_axis;
        double jitter = 0.3 * sin(7.1 * (double)r);
        x[r * (size_t)dim] = ((double)i + 0.5 + jitter) / (double)per_axis;
        if (dim == 2) x[r * 2 + 1] = ((double)j + 0.5 - jitter) / (double)per_axis;
        w[r] = 1.0 / (double)M;
    }
}

static void operator_case(int dim, int cells, size_t per_axis) {
    size_t M = dim == 1 ? per_axis : per_axis * per_axis, n = 3;
    double *x = calloc(M * (size_t)dim, sizeof *x), *w = calloc(M, sizeof *w), *rho = calloc(M, sizeof *rho);
    double *back = calloc(M, sizeof *back), *rows_in = calloc(M * n, sizeof *rows_in);
    scatter(dim, per_axis, x, w);
    hp__residual_average a;
    OK(hp__residual_average_create(&a, dim, cells, M));
    hp__residual_average_set_points(&a, x, w);
    size_t nn = a.n_nodes;
    double *g = calloc(nn, sizeof *g), *u = calloc(nn, sizeof *u), *rows = calloc(nn * n, sizeof *rows);
    assert_true(a.n_active == (double)nn); /* every node's support holds points */

    /* a constant residual is its own average */
    for (size_t r = 0; r < M; r++) rho[r] = 2.5;
    double A = hp__residual_average_forward(&a, rho, g);
    for (size_t k = 0; k < nn; k++) assert_double_equal(g[k], 2.5, 1e-13);
    assert_double_equal(A, 6.25, 1e-12);

    /* Pᵀ is the adjoint of P */
    for (size_t r = 0; r < M; r++) rho[r] = cos(0.7 * (double)r) + x[r * (size_t)dim];
    (void)hp__residual_average_forward(&a, rho, g);
    double lhs = 0.0, rhs = 0.0;
    for (size_t k = 0; k < nn; k++) u[k] = sin(1.3 * (double)k + 0.2), lhs += g[k] * u[k];
    hp__residual_average_pullback(&a, u, 1.0, back);
    for (size_t r = 0; r < M; r++) rhs += rho[r] * back[r];
    assert_double_equal(lhs, rhs, 1e-13 * fabs(lhs));

    /* the Jacobian rows: P applied to each column, scaled */
    for (size_t r = 0; r < M; r++)
        for (size_t c = 0; c < n; c++) rows_in[r * n + c] = rho[r] * (double)(c + 1) + (double)c;
    hp__residual_average_rows(&a, rows_in, n, 0.5, rows);
    for (size_t c = 0; c < n; c++) {
        for (size_t r = 0; r < M; r++) back[r] = rows_in[r * n + c];
        (void)hp__residual_average_forward(&a, back, g);
        for (size_t k = 0; k < nn; k++) assert_double_equal(rows[k * n + c], 0.5 * g[k], 1e-13);
    }

    /* what the term is for: an oscillation of period ε averages out, a smooth
     * residual passes (1 + x_1 varies by only h across a support) */
    double osc = 0.0, smooth = 0.0;
    for (size_t r = 0; r < M; r++) rho[r] = sin(2.0 * M_PI * x[r * (size_t)dim] / 0.03125);
    (void)hp__residual_average_forward(&a, rho, g);
    for (size_t k = 0; k < nn; k++) osc = fmax(osc, fabs(g[k]));
    for (size_t r = 0; r < M; r++) rho[r] = 1.0 + x[r * (size_t)dim];
    (void)hp__residual_average_forward(&a, rho, g);
    for (size_t k = 0; k < nn; k++) smooth = fmin(smooth == 0.0 ? 1e300 : smooth, fabs(g[k]));
    print_message("%d-D, %d cells, %zu points: max |average| of sin(2 pi x / (1/32)) %.3f, min of 1 + x %.3f\n", dim,
                  cells, M, osc, smooth);
    assert_true(osc < 0.1);
    assert_true(smooth > 0.99);
    hp__residual_average_destroy(&a);
    free(x), free(w), free(rho), free(back), free(rows_in), free(g), free(u), free(rows);
}

static void test_operator_properties(void **state) {
    (void)state;
    operator_case(1, 4, 800);
    operator_case(2, 4, 96);
}

/* ---- the term in the objective ----------------------------------------------------- */

#define PROBLEM_1D                                                                                          \
    "constants: {eps: 0.25}\n"                                                                              \
    "problem:\n  dim: 1\n  K: \"1/(1.2 + sin(2*pi*x/eps))\"\n  q: \"-3*(2*x - 1)\"\n  boundary: hard\n"    \
    "  collocation: {points: 20}\n  validation: {points: 30}\n  reference: {kind: none}\n"                 \
    "coarse: {plugin: p1_1d, elements: 4}\n"                                                               \
    "network: {plugin: msff, width: 8, depth: 2, features: 4, sigmas: [1, 4], seed: 3}\n"                  \
    "upscaling: {plugin: global, form: flux}\n"

#define PROBLEM_2D                                                                                          \
    "problem:\n  dim: 2\n  K: \"2 + sin(2*pi*x)*sin(2*pi*y) + 0.5*x\"\n  q: \"1 + x*y\"\n  boundary: soft\n" \
    "  collocation: {points: 6, boundary_points: 5}\n  validation: {points: 5}\n  reference: {kind: none}\n" \
    "coarse: {plugin: p1_2d, elements: 2}\n"                                                               \
    "network: {plugin: mlp, width: 6, depth: 2, activation: tanh, seed: 4}\n"                              \
    "upscaling: {plugin: global, mode: anisotropic}\n"

/* Ĵ with τ3 A against FD; ∇A = (∇Ĵ(τ3) − ∇Ĵ(0))/τ3 against FD of A; the
 * term's share of the gradient large enough that an error in it would show;
 * then the Gauss–Newton checks. */
static void objective_case(const char *label, const char *yaml) {
    hybrid b;
    hybrid_open(&b, yaml);
    double tau3 = hp__hybrid_tau3(b.h);
    assert_true(tau3 > 0.0);
    double *g = calloc(b.n, sizeof *g), *g0 = calloc(b.n, sizeof *g0), *gA = calloc(b.n, sizeof *gA);
    double J = value_grad(&b, b.theta, g);
    const hp__hybrid_terms *t = hp__hybrid_last_terms(b.h);
    double tau1, tau2;
    hp__hybrid_get_weights(b.h, &tau1, &tau2);
    assert_int_equal(t->fallback, 0);
    assert_true(t->averaged > 0.0);
    double coupling = tau2 > 0.0 ? tau2 * t->coupling : 0.0;
    assert_double_equal(J, t->j_pinn + tau1 * t->boundary + coupling + tau3 * t->averaged, 1e-12 * J);
    double A = t->averaged, Jp = t->j_pinn;
    size_t at_total, at_A;
    double worst_total = fd_worst(&b, g, TOTAL, 0, &at_total);
    OK(hp__hybrid_set_tau3(b.h, 0.0));
    (void)value_grad(&b, b.theta, g0);
    OK(hp__hybrid_set_tau3(b.h, tau3));
    double share = term_gradient(g, g0, tau3, b.n, gA);
    double worst_A = fd_worst(&b, gA, AVERAGED, 0, &at_A);
    double worst_jac = check_jacobian(&b, g, label);
    print_message("%-40s n %3zu m %4zu J_pinn %.3e A %.3e tau3 %g: grad J^ %.2e, grad A %.2e, share %.2e, "
                  "Jacobian %.2e\n",
                  label, b.n, b.obj.m, Jp, A, tau3, worst_total, worst_A, share, worst_jac);
    if (!(worst_total < 1e-5)) fail_msg("%s: gradient of Ĵ: worst %.3e at θ[%zu]", label, worst_total, at_total);
    if (!(worst_A < 1e-5)) fail_msg("%s: gradient of A: worst %.3e at θ[%zu]", label, worst_A, at_A);
    if (!(share >= 1e-3)) fail_msg("%s: τ3 A hardly changes the gradient (%.2e)", label, share);
    free(g), free(g0), free(gA);
    hybrid_close(&b);
}

static void test_objective_1d(void **state) {
    (void)state;
    objective_case("1-D, averaged only (tau2 0)", PROBLEM_1D "coupling: {form: full, tau2: 0, tau3: 5}\n");
    objective_case("1-D, averaged + coupling", PROBLEM_1D "coupling: {form: full, window: 1, tau2: 10, tau3: 5}\n");
}

static void test_objective_2d(void **state) {
    (void)state;
    objective_case("2-D soft, averaged only", PROBLEM_2D "coupling: {form: full, tau1: 2, tau2: 0, tau3: 3}\n");
    objective_case("2-D soft, averaged + compressed coupling",
                   PROBLEM_2D "coupling: {form: compressed, window: 1, tau1: 2, tau2: 20, tau3: 3}\n");
}

/* The rows exist for a run when any stage asks for τ3; a run without them
 * refuses τ3 > 0 with a message that says what to do. */
static void test_rows_follow_the_pipeline(void **state) {
    (void)state;
    const char *stages = "stages:\n  - {iterations: 1, optimizer: {plugin: adam}}\n"
                         "  - {iterations: 1, tau3: 2, optimizer: {plugin: lm}}\n";
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "%scoupling: {tau2: 0}\n%s", PROBLEM_1D, stages);
    hybrid on, off;
    hybrid_open(&on, yaml);
    hybrid_open(&off, PROBLEM_1D "coupling: {tau2: 0}\n");
    size_t nodes = 5; /* 4 elements */
    assert_int_equal(on.obj.m, off.obj.m + nodes);
    assert_true(hp__hybrid_tau3(on.h) == 0.0); /* coupling.tau3: the stage turns it on when it starts */
    OK(hp__hybrid_set_tau3(on.h, 2.0));
    assert_int_equal(hp__hybrid_set_tau3(off.h, 2.0), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "not set up for this run");
    OK(hp__hybrid_set_tau3(off.h, 0.0));
    hp_error_clear();
    /* with τ3 = 0 the rows are zero and Ĵ is the plain PINN's */
    OK(hp__hybrid_set_tau3(on.h, 0.0));
    double *r = calloc(on.obj.m, sizeof *r), v_on, v_off;
    OK(on.obj.residuals_and_jacobian(on.obj.ctx, on.theta, r, NULL));
    for (size_t k = on.obj.m - nodes; k < on.obj.m; k++) assert_true(r[k] == 0.0);
    OK(on.obj.value_and_gradient(on.obj.ctx, on.theta, &v_on, NULL));
    OK(off.obj.value_and_gradient(off.obj.ctx, off.theta, &v_off, NULL));
    assert_true(v_on == v_off);
    free(r);
    hybrid_close(&on);
    hybrid_close(&off);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operator_by_hand),
        cmocka_unit_test(test_operator_properties),
        cmocka_unit_test(test_objective_1d),
        cmocka_unit_test(test_objective_2d),
        cmocka_unit_test(test_rows_follow_the_pipeline),
    };
    return cmocka_run_group_tests(tests, hp_test_registry_setup, hp_test_registry_teardown);
}
