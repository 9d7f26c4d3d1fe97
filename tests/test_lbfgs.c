/* test_lbfgs.c — the lbfgs optimizer plugin and its Moré–Thuente line search
 * (both compiled into this executable): Rosenbrock 2-D and 10-D to ||g|| < 1e-8
 * within a bounded number of evaluations, an ill-conditioned quadratic, NaN
 * beyond a radius, strong Wolfe conditions at every accepted step, save -> load
 * -> continue, the evaluation budget, and parameter errors with their location. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "more_thuente.h"
#include "optim_problems.h"

typedef struct run_result {
    hp_opt_stop stop;
    size_t steps, evaluations;
    double value;
    char message[256];
} run_result;

/* Run until a stop or max_steps; optionally check strong Wolfe at every accepted
 * step by evaluating the objective at both ends (outside the optimizer's count). */
static run_result run(const char *const *args, size_t nargs, hp_objective *obj, double *theta,
                      size_t max_steps, double wolfe_c1, double wolfe_c2) {
    hp_params *p;
    void *s;
    run_result res = {HP_OPT_CONTINUE, 0, 0, NAN, ""};
    const size_t n = obj->n;
    double *old = malloc(n * sizeof *old), *g_old = malloc(n * sizeof *old),
           *g_new = malloc(n * sizeof *old);
    assert_non_null(old);
    assert_int_equal(op_create(args, nargs, n, &p, &s), HP_OK);
    for (size_t k = 0; k < max_steps; ++k) {
        hp_opt_step_info info;
        memcpy(old, theta, n * sizeof *old);
        assert_int_equal(op_ops()->step(s, theta, obj, &info), HP_OK);
        res.steps++;
        res.evaluations += info.evaluations;
        res.value = info.value;
        assert_true(info.evaluations <= 26);
        if (info.step_norm > 0.0 && wolfe_c2 > 0.0) {
            double f_old, f_new, gd_old = 0.0, gd_new = 0.0;
            op_counter saved = *(op_counter *)obj->ctx;
            obj->value_and_gradient(obj->ctx, old, &f_old, g_old);
            obj->value_and_gradient(obj->ctx, theta, &f_new, g_new);
            *(op_counter *)obj->ctx = saved;
            for (size_t i = 0; i < n; ++i) {
                double step = theta[i] - old[i];
                gd_old += g_old[i] * step;
                gd_new += g_new[i] * step;
            }
            assert_true(gd_old < 0.0);
            /* slack for computing p = theta_new - theta_old instead of stp * d */
            double slack = 1e-12 * fabs(f_old) + 1e-300;
            if (!(f_new <= f_old + wolfe_c1 * gd_old + slack))
                fail_msg("sufficient decrease violated at step %zu: %.17g > %.17g", k, f_new,
                         f_old + wolfe_c1 * gd_old);
            if (!(fabs(gd_new) <= wolfe_c2 * fabs(gd_old) * (1 + 1e-10) + 1e-300))
                fail_msg("curvature condition violated at step %zu: |%.3e| > %.3e", k, gd_new,
                         wolfe_c2 * fabs(gd_old));
            assert_true(info.value == f_new);
        }
        if (info.stop != HP_OPT_CONTINUE) {
            res.stop = info.stop;
            snprintf(res.message, sizeof res.message, "%s", info.message);
            assert_true(strlen(info.message) > 0);
            break;
        }
    }
    op_ops()->destroy(s);
    hp_params_destroy(p);
    free(old);
    free(g_old);
    free(g_new);
    return res;
}

static void rosenbrock_start(double *x, size_t n) {
    for (size_t i = 0; i < n; ++i) x[i] = (i % 2 == 0) ? -1.2 : 1.0;
}

static void check_rosenbrock(size_t n, size_t max_evals_total) {
    double x[10], g[10], f;
    op_rosenbrock prob = {{0, 0}, n};
    hp_objective obj = {.n = n, .m = 0, .ctx = &prob, .value_and_gradient = op_rosenbrock_vg, .residuals_and_jacobian = NULL};
    rosenbrock_start(x, n);
    const char *args[] = {"gtol=1e-9", "xtol=0", "ftol=0"};
    run_result r = run(args, 3, &obj, x, 1000, 1e-4, 0.9);
    if (r.stop != HP_OPT_CONVERGED_GRADIENT) fail_msg("n = %zu: stopped: %s", n, r.message);
    op_rosenbrock_vg(&prob, x, &f, g);
    assert_true(op_norm2(g, n) < 1e-8);
    for (size_t i = 0; i < n; ++i) OP_ASSERT_NEAR(x[i], 1.0, 1e-8);
    assert_true(prob.count.value_and_gradient - 1 == r.evaluations);
    if (r.evaluations > max_evals_total)
        fail_msg("n = %zu: %zu evaluations (%zu steps), bound %zu", n, r.evaluations, r.steps,
                 max_evals_total);
    print_message("rosenbrock %zu-D: %zu steps, %zu evaluations, ||g|| = %.2e\n", n, r.steps,
                  r.evaluations, op_norm2(g, n));
}

static void test_rosenbrock_2d(void **unused) { check_rosenbrock(2, 100); }
static void test_rosenbrock_10d(void **unused) { check_rosenbrock(10, 200); }

/* default tolerances also stop for a stated reason, and near the minimum */
static void test_rosenbrock_defaults(void **unused) {
    double x[10];
    op_rosenbrock prob = {{0, 0}, 10};
    hp_objective obj = {.n = 10, .m = 0, .ctx = &prob, .value_and_gradient = op_rosenbrock_vg, .residuals_and_jacobian = NULL};
    rosenbrock_start(x, 10);
    run_result r = run(NULL, 0, &obj, x, 1000, 1e-4, 0.9);
    assert_true(hp_opt_stop_is_converged(r.stop));
    for (size_t i = 0; i < 10; ++i) OP_ASSERT_NEAR(x[i], 1.0, 1e-6);
}

static void test_ill_conditioned_quadratic(void **unused) {
    op_rotated prob;
    op_rotated_init(&prob, 50, 1e6);
    hp_objective obj = {.n = 50, .m = 0, .ctx = &prob, .value_and_gradient = op_rotated_vg, .residuals_and_jacobian = NULL};
    double x[50] = {0}, g[50], f;
    op_rotated_vg(&prob, x, &f, g);
    double g0 = op_norm2(g, 50);
    const char *args[] = {"gtol=1e-6", "xtol=0", "ftol=0", "history=10"};
    run_result r = run(args, 4, &obj, x, 20000, 1e-4, 0.9);
    if (r.stop != HP_OPT_CONVERGED_GRADIENT) fail_msg("stopped: %s", r.message);
    op_rotated_vg(&prob, x, &f, g);
    assert_true(op_norm2(g, 50) <= 1e-6);
    /* the error in x is bounded by ||g|| / lambda_min = ||g|| */
    double err = 0.0;
    for (int i = 0; i < 50; ++i) err += (x[i] - prob.c[i]) * (x[i] - prob.c[i]);
    assert_true(sqrt(err) <= 1e-6);
    print_message("quadratic cond 1e6, n 50: %zu steps, %zu evaluations, ||g|| %.1e -> %.1e\n",
                  r.steps, r.evaluations, g0, op_norm2(g, 50));
    /* L-BFGS(10) with a loose line search is linear at a rate set by the condition
     * number: about 8000 evaluations were measured for these 12 orders of magnitude */
    assert_true(r.evaluations < 12000);

    /* With (nearly) exact line searches and a history as long as n, L-BFGS on a
     * quadratic generates the conjugate-gradient iterates and terminates in n steps:
     * a sharp check of the two-loop recursion and the pair bookkeeping. */
    memset(x, 0, sizeof x);
    const char *exact[] = {"gtol=1e-6", "xtol=0", "ftol=0", "history=50", "c1=1e-7", "c2=1e-6"};
    r = run(exact, 6, &obj, x, 200, 1e-7, 1e-6);
    if (r.stop != HP_OPT_CONVERGED_GRADIENT) fail_msg("stopped: %s", r.message);
    print_message("same with exact line searches, history 50: %zu steps\n", r.steps);
    assert_true(r.steps <= 51); /* n steps, +1 for the call that sees the converged point */
}

static void test_nan_beyond_radius(void **unused) {
    /* (a) the minimiser lies outside the ball where L is defined: the optimizer
     * must end up at the boundary and stop with a reason, never on a NaN. */
    {
        const double c[3] = {2.0, 0.5, -0.5};
        op_nan_ball prob = {{0, 0}, 3, 1.0, c};
        hp_objective obj = {.n = 3, .m = 0, .ctx = &prob, .value_and_gradient = op_nan_ball_vg, .residuals_and_jacobian = NULL};
        double x[3] = {0.1, 0.0, 0.0}, f0, f;
        op_nan_ball_vg(&prob, x, &f0, NULL);
        run_result r = run(NULL, 0, &obj, x, 500, 1e-4, 0.9);
        assert_int_not_equal(r.stop, HP_OPT_CONTINUE);
        op_nan_ball_vg(&prob, x, &f, NULL);
        assert_true(isfinite(f));
        assert_true(f < f0);
        assert_true(op_norm2(x, 3) <= 1.0);
        assert_true(op_norm2(x, 3) > 0.9); /* it went towards the boundary */
        /* no strong Wolfe point exists when L still falls steeply at the edge: the
         * reason says the search ran into non-finite values */
        assert_non_null(strstr(r.message, "not finite"));
        print_message("NaN outside the ball: %zu steps, %zu evaluations, stop: %s: %s\n",
                      r.steps, r.evaluations, hp_opt_stop_name(r.stop), r.message);
    }
    /* (b) minimiser inside, first trial far outside: the step shrinks and the
     * search converges. */
    {
        const double c[3] = {0.3, -0.2, 0.1};
        op_nan_ball prob = {{0, 0}, 3, 1.0, c};
        hp_objective obj = {.n = 3, .m = 0, .ctx = &prob, .value_and_gradient = op_nan_ball_vg, .residuals_and_jacobian = NULL};
        double x[3] = {0.0, 0.0, 0.0};
        const char *args[] = {"initial_step=1e3", "gtol=1e-10"};
        run_result r = run(args, 2, &obj, x, 100, 1e-4, 0.9);
        if (r.stop != HP_OPT_CONVERGED_GRADIENT) fail_msg("stopped: %s", r.message);
        for (int i = 0; i < 3; ++i) OP_ASSERT_NEAR(x[i], c[i], 1e-9);
    }
    /* (c) NaN at the start: stop at once, saying so */
    {
        const double c[2] = {0.0, 0.0};
        op_nan_ball prob = {{0, 0}, 2, 1.0, c};
        hp_objective obj = {.n = 2, .m = 0, .ctx = &prob, .value_and_gradient = op_nan_ball_vg, .residuals_and_jacobian = NULL};
        double x[2] = {3.0, 0.0};
        run_result r = run(NULL, 0, &obj, x, 10, 0, 0);
        assert_int_equal(r.stop, HP_OPT_NON_FINITE);
        assert_int_equal(r.steps, 1);
        assert_int_equal(r.evaluations, 1);
        assert_non_null(strstr(r.message, "not finite"));
        assert_true(x[0] == 3.0 && x[1] == 0.0);
    }
    /* (d) NaN everywhere but at the start: every trial is NaN, the search gives up */
    {
        const double c[2] = {5.0, 0.0};
        op_nan_ball prob = {{0, 0}, 2, 1e-300, c};
        hp_objective obj = {.n = 2, .m = 0, .ctx = &prob, .value_and_gradient = op_nan_ball_vg, .residuals_and_jacobian = NULL};
        double x[2] = {0.0, 0.0};
        run_result r = run(NULL, 0, &obj, x, 10, 0, 0);
        assert_int_equal(r.stop, HP_OPT_NON_FINITE);
        assert_non_null(strstr(r.message, "no finite function value"));
        assert_true(x[0] == 0.0 && x[1] == 0.0);
        print_message("NaN everywhere but x0: stop: %s: %s\n", hp_opt_stop_name(r.stop),
                      r.message);
    }
}

static void test_wolfe_tight_curvature(void **unused) {
    double x[10];
    op_rosenbrock prob = {{0, 0}, 10};
    hp_objective obj = {.n = 10, .m = 0, .ctx = &prob, .value_and_gradient = op_rosenbrock_vg, .residuals_and_jacobian = NULL};
    rosenbrock_start(x, 10);
    const char *args[] = {"c1=0.01", "c2=0.1", "gtol=1e-9", "xtol=0", "ftol=0"};
    run_result r = run(args, 5, &obj, x, 1000, 0.01, 0.1);
    assert_int_equal(r.stop, HP_OPT_CONVERGED_GRADIENT);
}

/* The line search alone on the first test function of Moré & Thuente (1994):
 * phi(a) = -a / (a^2 + beta), beta = 2, c1 = 1e-3, c2 = 0.1. Their Table 1 lists,
 * for first trials 1e-3, 1e-1, 1e1, 1e3: 6, 3, 1, 4 evaluations ending at steps
 * 1.4, 1.4, 10, 37 (two digits). A faithful transcription reproduces them. */
static void test_more_thuente_function1(void **unused) {
    const double starts[] = {1e-3, 1e-1, 1e1, 1e3};
    const int paper_evals[] = {6, 3, 1, 4};
    const double paper_stp[] = {1.4, 1.4, 10.0, 37.0};
    for (size_t k = 0; k < 4; ++k) {
        more_thuente ls;
        double stp = starts[k], beta = 2.0;
        double f0 = 0.0, g0 = -1.0 / beta;
        more_thuente_task t = more_thuente_start(&ls, 1e-3, 0.1, 1e-14, 0.0, 1e10, f0, g0, &stp);
        int evals = 0;
        double f = 0, g = 0;
        while (t == MORE_THUENTE_EVALUATE && evals < 30) {
            f = -stp / (stp * stp + beta);
            g = (stp * stp - beta) / ((stp * stp + beta) * (stp * stp + beta));
            evals++;
            t = more_thuente_next(&ls, f, g, &stp);
        }
        assert_int_equal(t, MORE_THUENTE_CONVERGED);
        assert_true(f <= f0 + 1e-3 * stp * g0);
        assert_true(fabs(g) <= 0.1 * fabs(g0));
        assert_int_equal(evals, paper_evals[k]);
        OP_ASSERT_NEAR(stp, paper_stp[k], 0.05 * paper_stp[k]);
    }
    /* an ascent direction is refused, not searched */
    more_thuente ls;
    double stp = 1.0;
    assert_int_equal(more_thuente_start(&ls, 1e-4, 0.9, 1e-14, 0.0, 1e10, 0.0, 1.0, &stp),
                     MORE_THUENTE_BAD_INPUT);
}

static void test_budget_exhausted(void **unused) {
    double x[10], before[10];
    op_rosenbrock prob = {{0, 0}, 10};
    hp_objective obj = {.n = 10, .m = 0, .ctx = &prob, .value_and_gradient = op_rosenbrock_vg, .residuals_and_jacobian = NULL};
    rosenbrock_start(x, 10);
    hp_params *p;
    void *s;
    const char *args[] = {"max_evals=1", "initial_step=10"};
    assert_int_equal(op_create(args, 2, 10, &p, &s), HP_OK);
    hp_opt_step_info info;
    size_t k = 0;
    do {
        memcpy(before, x, sizeof x);
        assert_int_equal(op_ops()->step(s, x, &obj, &info), HP_OK);
    } while (info.stop == HP_OPT_CONTINUE && ++k < 200);
    assert_int_equal(info.stop, HP_OPT_MAX_EVALUATIONS);
    assert_non_null(strstr(info.message, "max_evals"));
    assert_memory_equal(x, before, sizeof x);
    op_ops()->destroy(s);
    hp_params_destroy(p);
}

static void test_save_load_continue(void **unused) {
    op_rosenbrock prob = {{0, 0}, 10};
    hp_objective obj = {.n = 10, .m = 0, .ctx = &prob, .value_and_gradient = op_rosenbrock_vg, .residuals_and_jacobian = NULL};
    const char *args[] = {"history=4", "gtol=0", "xtol=0", "ftol=0"};
    hp_params *p;
    void *whole, *first, *second;
    double xw[10], xr[10];
    size_t evals_whole = 0, evals_split = 0;
    rosenbrock_start(xw, 10);
    rosenbrock_start(xr, 10);
    hp_opt_step_info info;
    assert_int_equal(op_create(args, 4, 10, &p, &whole), HP_OK);
    for (int k = 0; k < 30; ++k) {
        assert_int_equal(op_ops()->step(whole, xw, &obj, &info), HP_OK);
        assert_int_equal(info.stop, HP_OPT_CONTINUE);
        evals_whole += info.evaluations;
    }
    assert_int_equal(op_ops()->create(p, 10, &first), HP_OK);
    for (int k = 0; k < 13; ++k) {
        assert_int_equal(op_ops()->step(first, xr, &obj, &info), HP_OK);
        evals_split += info.evaluations;
    }
    size_t size = op_ops()->state_size(first);
    unsigned char *buf = malloc(size);
    assert_int_equal(op_ops()->save(first, buf), HP_OK);
    op_ops()->destroy(first);
    assert_int_equal(op_ops()->create(p, 10, &second), HP_OK);
    assert_int_equal(op_ops()->load(second, buf, size), HP_OK);
    for (int k = 13; k < 30; ++k) {
        assert_int_equal(op_ops()->step(second, xr, &obj, &info), HP_OK);
        evals_split += info.evaluations;
    }
    assert_memory_equal(xw, xr, sizeof xw);
    assert_int_equal(evals_whole, evals_split); /* the cached evaluation was saved too */

    /* a state saved with another history size is refused */
    hp_params *p2;
    void *other;
    const char *args2[] = {"history=5"};
    assert_int_equal(op_create(args2, 1, 10, &p2, &other), HP_OK);
    assert_int_equal(op_ops()->load(other, buf, size), HP_ERR_CORRUPT);
    buf[size / 2] ^= 1;
    assert_int_equal(op_ops()->load(second, buf, size), HP_ERR_CORRUPT);
    op_ops()->destroy(other);
    hp_params_destroy(p2);
    free(buf);
    op_ops()->destroy(second);
    op_ops()->destroy(whole);
    hp_params_destroy(p);
}

static void test_moved_parameters(void **unused) {
    /* If the caller changes theta between steps the optimizer re-evaluates there
     * instead of using a stale cache. */
    op_rosenbrock prob = {{0, 0}, 2};
    hp_objective obj = {.n = 2, .m = 0, .ctx = &prob, .value_and_gradient = op_rosenbrock_vg, .residuals_and_jacobian = NULL};
    double x[2] = {-1.2, 1.0};
    hp_params *p;
    void *s;
    hp_opt_step_info info;
    assert_int_equal(op_create(NULL, 0, 2, &p, &s), HP_OK);
    for (int k = 0; k < 5; ++k) assert_int_equal(op_ops()->step(s, x, &obj, &info), HP_OK);
    x[0] = 1.0;
    x[1] = 1.0; /* the minimiser */
    assert_int_equal(op_ops()->step(s, x, &obj, &info), HP_OK);
    assert_int_equal(info.stop, HP_OPT_CONVERGED_GRADIENT);
    assert_int_equal(info.evaluations, 1);
    OP_ASSERT_NEAR(info.value, 0.0, 0.0);
    op_ops()->destroy(s);
    hp_params_destroy(p);
}

static void test_bad_params(void **unused) {
    expect_config_error((const char *[]){"history=0"}, 1, "history", "<args>:1:1");
    expect_config_error((const char *[]){"gtol=1e-6", "history=-3"}, 2, "history", "<args>:1:2");
    expect_config_error((const char *[]){"max_evals=0"}, 1, "max_evals", NULL);
    expect_config_error((const char *[]){"gtol=-1"}, 1, "gtol", NULL);
    expect_config_error((const char *[]){"initial_step=0"}, 1, "initial_step", NULL);
    expect_config_error((const char *[]){"c1=0.3", "c2=0.2"}, 2, "c2", "<args>:1:2");
    expect_config_error((const char *[]){"c2=1"}, 1, "c2", "<args>:1:1");
    expect_config_error((const char *[]){"history=ten"}, 1, "history", NULL);
}

static void test_descriptor(void **unused) { op_check_descriptor("lbfgs"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_more_thuente_function1),
        cmocka_unit_test(test_rosenbrock_2d),
        cmocka_unit_test(test_rosenbrock_10d),
        cmocka_unit_test(test_rosenbrock_defaults),
        cmocka_unit_test(test_ill_conditioned_quadratic),
        cmocka_unit_test(test_nan_beyond_radius),
        cmocka_unit_test(test_wolfe_tight_curvature),
        cmocka_unit_test(test_budget_exhausted),
        cmocka_unit_test(test_save_load_continue),
        cmocka_unit_test(test_moved_parameters),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
