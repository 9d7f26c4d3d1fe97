/* test_adam.c — the adam optimizer plugin (compiled into this executable):
 * iterates bit for bit against a naive transcription of Kingma & Ba's Algorithm 1,
 * schedule values at given steps, clipping, save -> load -> continue, refused
 * state buffers, non-finite gradients, and parameter errors with their location. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "optim_problems.h"

#define N 5
static const double quad_a[N] = {1.0, 10.0, 0.1, 3.0, 100.0};
static const double quad_c[N] = {1.0, -2.0, 0.5, 3.0, -0.25};
static const double theta0[N] = {0.3, 0.7, -1.1, 2.0, 0.05};

/* The reference: Algorithm 1 of the paper, written out without any care. */
typedef struct ref_adam {
    double lr, beta1, beta2, eps, decay, clip;
    int every, staircase, exponential;
    double m[N], v[N];
    int t;
} ref_adam;

static void ref_step(ref_adam *r, double *theta) {
    double g[N], f;
    op_quadratic q = {{0, 0}, N, quad_a, quad_c};
    op_quadratic_vg(&q, theta, &f, g);
    double norm = 0.0;
    for (int i = 0; i < N; ++i) norm += g[i] * g[i];
    norm = sqrt(norm);
    if (r->clip > 0 && norm > r->clip)
        for (int i = 0; i < N; ++i) g[i] = g[i] * (r->clip / norm);
    double alpha = r->lr;
    if (r->exponential) {
        double p = r->staircase ? floor((double)r->t / r->every) : (double)r->t / r->every;
        alpha = r->lr * pow(r->decay, p);
    }
    r->t += 1;
    for (int i = 0; i < N; ++i) {
        r->m[i] = r->beta1 * r->m[i] + (1 - r->beta1) * g[i];
        r->v[i] = r->beta2 * r->v[i] + (1 - r->beta2) * g[i] * g[i];
        double mh = r->m[i] / (1 - pow(r->beta1, r->t));
        double vh = r->v[i] / (1 - pow(r->beta2, r->t));
        theta[i] = theta[i] - alpha * mh / (sqrt(vh) + r->eps);
    }
}

static void run_against_reference(const char *const *args, size_t nargs, ref_adam ref,
                                  int steps) {
    hp_params *p;
    void *s;
    assert_int_equal(op_create(args, nargs, N, &p, &s), HP_OK);
    op_quadratic q = {{0, 0}, N, quad_a, quad_c};
    hp_objective obj = {.n = N, .m = 0, .ctx = &q, .value_and_gradient = op_quadratic_vg, .residuals_and_jacobian = NULL};
    double th[N], th_ref[N];
    memcpy(th, theta0, sizeof th);
    memcpy(th_ref, theta0, sizeof th);
    for (int k = 0; k < steps; ++k) {
        hp_opt_step_info info;
        assert_int_equal(op_ops()->step(s, th, &obj, &info), HP_OK);
        assert_int_equal(info.stop, HP_OPT_CONTINUE);
        assert_int_equal(info.evaluations, 1);
        ref_step(&ref, th_ref);
        assert_memory_equal(th, th_ref, sizeof th); /* bit for bit */
    }
    /* and it did optimise: the loss went down */
    double f0, f1;
    op_quadratic_vg(&q, theta0, &f0, NULL);
    op_quadratic_vg(&q, th, &f1, NULL);
    assert_true(f1 < 0.5 * f0);
    op_ops()->destroy(s);
    hp_params_destroy(p);
}

static void test_bitwise_constant(void **unused) {
    const char *args[] = {"lr=0.05"};
    ref_adam ref = {.lr = 0.05, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    run_against_reference(args, 1, ref, 60);
}

static void test_bitwise_schedule_and_clip(void **unused) {
    const char *args[] = {"lr=0.1", "beta1=0.8", "beta2=0.99", "eps=1e-6",
                          "schedule=exponential", "decay=0.5", "decay_every=7",
                          "clip_norm=2.5"};
    ref_adam ref = {.lr = 0.1, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .decay = 0.5,
                    .every = 7, .exponential = 1, .clip = 2.5};
    run_against_reference(args, 8, ref, 40);
    const char *args2[] = {"lr=0.1", "decay=0.5", "decay_every=7", "staircase=true"};
    ref_adam ref2 = {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .decay = 0.5,
                     .every = 7, .exponential = 1, .staircase = 1};
    run_against_reference(args2, 4, ref2, 40);
}

/* The paper's schedule: 5e-4, x0.75 every 1000 steps. Values by hand. */
static void test_schedule_values(void **unused) {
    static const struct { int staircase; uint64_t k; double lr; } expect[] = {
        {0, 0, 5e-4},          {0, 500, 4.330127018922193e-4}, {0, 1000, 3.75e-4},
        {0, 1500, 3.247595264191645e-4}, {0, 2000, 2.8125e-4},
        {1, 0, 5e-4},          {1, 999, 5e-4},                  {1, 1000, 3.75e-4},
        {1, 1500, 3.75e-4},    {1, 2000, 2.8125e-4},
    };
    for (int stair = 0; stair <= 1; ++stair) {
        const char *args[] = {"lr=5e-4", "decay=0.75", "decay_every=1000",
                              stair ? "staircase=yes" : "staircase=no"};
        hp_params *p;
        void *s;
        assert_int_equal(op_create(args, 4, 1, &p, &s), HP_OK);
        double a = 1.0, c = 0.0, th = 1.0;
        op_quadratic q = {{0, 0}, 1, &a, &c};
        hp_objective obj = {.n = 1, .m = 0, .ctx = &q, .value_and_gradient = op_quadratic_vg, .residuals_and_jacobian = NULL};
        for (uint64_t k = 0; k <= 2000; ++k) {
            hp_opt_step_info info;
            assert_int_equal(op_ops()->step(s, &th, &obj, &info), HP_OK);
            for (size_t e = 0; e < sizeof expect / sizeof expect[0]; ++e)
                if (expect[e].staircase == stair && expect[e].k == k)
                    OP_ASSERT_NEAR(info.step_size, expect[e].lr, 1e-15 * expect[e].lr);
        }
        op_ops()->destroy(s);
        hp_params_destroy(p);
    }
    /* constant schedule: the same lr at every step */
    {
        const char *args[] = {"lr=0.01", "schedule=constant"};
        hp_params *p;
        void *s;
        assert_int_equal(op_create(args, 2, 1, &p, &s), HP_OK);
        double a = 1.0, c = 0.0, th = 1.0;
        op_quadratic q = {{0, 0}, 1, &a, &c};
        hp_objective obj = {.n = 1, .m = 0, .ctx = &q, .value_and_gradient = op_quadratic_vg, .residuals_and_jacobian = NULL};
        for (int k = 0; k < 3000; ++k) {
            hp_opt_step_info info;
            assert_int_equal(op_ops()->step(s, &th, &obj, &info), HP_OK);
            assert_true(info.step_size == 0.01);
        }
        op_ops()->destroy(s);
        hp_params_destroy(p);
    }
}

static void test_clip_limits_first_step(void **unused) {
    /* First Adam step has |delta_i| = lr for every i regardless of scale (m_hat/sqrt
     * v_hat = sign g); with clipping the direction is unchanged, so check instead
     * that the moments see the clipped gradient: second step differs from unclipped. */
    const char *clip[] = {"lr=0.1", "clip_norm=1"};
    const char *none[] = {"lr=0.1"};
    double th_c[N], th_n[N];
    memcpy(th_c, theta0, sizeof th_c);
    memcpy(th_n, theta0, sizeof th_n);
    hp_params *pc, *pn;
    void *sc, *sn;
    assert_int_equal(op_create(clip, 2, N, &pc, &sc), HP_OK);
    assert_int_equal(op_create(none, 1, N, &pn, &sn), HP_OK);
    op_quadratic q = {{0, 0}, N, quad_a, quad_c};
    hp_objective obj = {.n = N, .m = 0, .ctx = &q, .value_and_gradient = op_quadratic_vg, .residuals_and_jacobian = NULL};
    hp_opt_step_info info;
    assert_int_equal(op_ops()->step(sc, th_c, &obj, &info), HP_OK);
    assert_true(info.grad_norm > 10.0); /* grad_norm reports the unclipped norm */
    assert_int_equal(op_ops()->step(sn, th_n, &obj, &info), HP_OK);
    for (int i = 0; i < N; ++i) OP_ASSERT_NEAR(th_c[i], th_n[i], 1e-6);
    assert_int_equal(op_ops()->step(sc, th_c, &obj, &info), HP_OK);
    assert_int_equal(op_ops()->step(sn, th_n, &obj, &info), HP_OK);
    assert_memory_not_equal(th_c, th_n, sizeof th_c);
    op_ops()->destroy(sc);
    op_ops()->destroy(sn);
    hp_params_destroy(pc);
    hp_params_destroy(pn);
}

static void test_save_load_continue(void **unused) {
    const char *args[] = {"lr=0.05", "decay=0.9", "decay_every=3"};
    op_quadratic q = {{0, 0}, N, quad_a, quad_c};
    hp_objective obj = {.n = N, .m = 0, .ctx = &q, .value_and_gradient = op_quadratic_vg, .residuals_and_jacobian = NULL};
    hp_opt_step_info info;
    hp_params *p;
    void *whole, *first, *second;
    double th_w[N], th_r[N];
    memcpy(th_w, theta0, sizeof th_w);
    memcpy(th_r, theta0, sizeof th_r);
    assert_int_equal(op_create(args, 3, N, &p, &whole), HP_OK);
    for (int k = 0; k < 20; ++k) assert_int_equal(op_ops()->step(whole, th_w, &obj, &info), HP_OK);

    assert_int_equal(op_ops()->create(p, N, &first), HP_OK);
    for (int k = 0; k < 8; ++k) assert_int_equal(op_ops()->step(first, th_r, &obj, &info), HP_OK);
    size_t size = op_ops()->state_size(first);
    unsigned char *buf = malloc(size);
    assert_non_null(buf);
    assert_int_equal(op_ops()->save(first, buf), HP_OK);
    op_ops()->destroy(first);
    assert_int_equal(op_ops()->create(p, N, &second), HP_OK);
    assert_int_equal(op_ops()->load(second, buf, size), HP_OK);
    for (int k = 8; k < 20; ++k) assert_int_equal(op_ops()->step(second, th_r, &obj, &info), HP_OK);
    assert_memory_equal(th_w, th_r, sizeof th_w);

    /* refused buffers leave the state as it was */
    unsigned char *before = malloc(size), *after = malloc(size);
    assert_int_equal(op_ops()->save(second, before), HP_OK);
    assert_int_equal(op_ops()->load(second, buf, size - 1), HP_ERR_CORRUPT);
    assert_int_equal(op_ops()->load(second, buf, 7), HP_ERR_CORRUPT);
    assert_int_equal(op_ops()->load(second, NULL, 0), HP_ERR_CORRUPT);
    buf[size - 3] ^= 0x10; /* a damaged moment */
    assert_int_equal(op_ops()->load(second, buf, size), HP_ERR_CORRUPT);
    assert_non_null(strstr(hp_error_message(), "checksum"));
    buf[size - 3] ^= 0x10;
    memcpy(buf + 8, "lbfgs\0\0\0", 8); /* another optimizer's state */
    assert_int_equal(op_ops()->load(second, buf, size), HP_ERR_CORRUPT);
    assert_non_null(strstr(hp_error_message(), "lbfgs"));
    memcpy(buf + 8, "adam\0\0\0\0", 8);
    buf[0] ^= 0xff; /* not a state at all */
    assert_int_equal(op_ops()->load(second, buf, size), HP_ERR_CORRUPT);
    assert_non_null(strstr(hp_error_message(), "magic"));
    buf[0] ^= 0xff;
    assert_int_equal(op_ops()->save(second, after), HP_OK);
    assert_memory_equal(before, after, size);
    assert_int_equal(op_ops()->load(second, buf, size), HP_OK); /* restored buffer is fine */

    /* a state for another parameter count */
    void *other;
    assert_int_equal(op_ops()->create(p, N + 1, &other), HP_OK);
    assert_int_equal(op_ops()->load(other, buf, size), HP_ERR_CORRUPT);
    assert_non_null(strstr(hp_error_message(), "parameters"));
    op_ops()->destroy(other);

    free(before);
    free(after);
    free(buf);
    op_ops()->destroy(second);
    op_ops()->destroy(whole);
    hp_params_destroy(p);
}

static int nan_calls;
static hp_status nan_once_vg(void *ctx, const double *x, double *f, double *g) {
    hp_status st = op_quadratic_vg(ctx, x, f, g);
    if (++nan_calls == 3) g[1] = NAN;
    return st;
}

static void test_non_finite_gradient(void **unused) {
    const char *args[] = {"lr=0.05"};
    hp_params *p;
    void *s, *ref;
    op_quadratic q = {{0, 0}, N, quad_a, quad_c};
    hp_objective obj = {.n = N, .m = 0, .ctx = &q, .value_and_gradient = nan_once_vg, .residuals_and_jacobian = NULL};
    hp_objective clean = {.n = N, .m = 0, .ctx = &q, .value_and_gradient = op_quadratic_vg, .residuals_and_jacobian = NULL};
    double th[N], th_ref[N];
    memcpy(th, theta0, sizeof th);
    memcpy(th_ref, theta0, sizeof th);
    assert_int_equal(op_create(args, 1, N, &p, &s), HP_OK);
    assert_int_equal(op_ops()->create(p, N, &ref), HP_OK);
    hp_opt_step_info info;
    nan_calls = 0;
    for (int k = 0; k < 2; ++k) {
        assert_int_equal(op_ops()->step(s, th, &obj, &info), HP_OK);
        assert_int_equal(op_ops()->step(ref, th_ref, &clean, &info), HP_OK);
    }
    double saved[N];
    memcpy(saved, th, sizeof th);
    assert_int_equal(op_ops()->step(s, th, &obj, &info), HP_OK);
    assert_int_equal(info.stop, HP_OPT_NON_FINITE);
    assert_non_null(strstr(info.message, "gradient"));
    assert_memory_equal(th, saved, sizeof th);
    /* the bad evaluation left no trace: continuing equals the clean run */
    for (int k = 0; k < 5; ++k) {
        assert_int_equal(op_ops()->step(s, th, &obj, &info), HP_OK);
        assert_int_equal(info.stop, HP_OPT_CONTINUE);
        assert_int_equal(op_ops()->step(ref, th_ref, &clean, &info), HP_OK);
    }
    assert_memory_equal(th, th_ref, sizeof th);
    /* wrong n is a programming error, reported, not a crash */
    hp_objective wrong = {.n = N + 1, .m = 0, .ctx = &q, .value_and_gradient = op_quadratic_vg, .residuals_and_jacobian = NULL};
    assert_int_equal(op_ops()->step(s, th, &wrong, &info), HP_ERR_INTERNAL);
    op_ops()->destroy(s);
    op_ops()->destroy(ref);
    hp_params_destroy(p);
}

static void test_bad_params(void **unused) {
    expect_config_error((const char *[]){"lr=-1e-3"}, 1, "lr", "<args>:1:1");
    expect_config_error((const char *[]){"beta1=0.9", "lr=0"}, 2, "lr", "<args>:1:2");
    expect_config_error((const char *[]){"beta2=1.5"}, 1, "beta2", "<args>:1:1");
    expect_config_error((const char *[]){"beta1=1"}, 1, "beta1", "<args>:1:1");
    expect_config_error((const char *[]){"eps=0"}, 1, "eps", NULL);
    expect_config_error((const char *[]){"decay_every=0"}, 1, "decay_every", NULL);
    expect_config_error((const char *[]){"decay=1.5"}, 1, "decay", NULL);
    expect_config_error((const char *[]){"clip_norm=-1"}, 1, "clip_norm", NULL);
    expect_config_error((const char *[]){"schedule=cosine"}, 1, "schedule", NULL);
    expect_config_error((const char *[]){"schedule=constant", "decay=0.5"}, 2, "decay",
                        "<args>:1:2");
    /* decay alone selects the exponential schedule */
    hp_params *p;
    void *s;
    assert_int_equal(op_create((const char *[]){"lr=1", "decay=0.5", "decay_every=1"}, 3, 1,
                               &p, &s), HP_OK);
    double a = 1.0, c = 0.0, th = 1.0;
    op_quadratic q = {{0, 0}, 1, &a, &c};
    hp_objective obj = {.n = 1, .m = 0, .ctx = &q, .value_and_gradient = op_quadratic_vg, .residuals_and_jacobian = NULL};
    hp_opt_step_info info;
    assert_int_equal(op_ops()->step(s, &th, &obj, &info), HP_OK);
    assert_int_equal(op_ops()->step(s, &th, &obj, &info), HP_OK);
    OP_ASSERT_NEAR(info.step_size, 0.5, 0.0);
    op_ops()->destroy(s);
    hp_params_destroy(p);
}

static void test_descriptor(void **unused) {
    const hp_plugin_descriptor *d = hp_plugin_entry();
    assert_int_equal(d->abi_version, HP_ABI_VERSION);
    assert_int_equal(d->kind, HP_PLUGIN_OPTIMIZER);
    assert_string_equal(d->name, "adam");
    for (const hp_param_def *p = d->params; p->name; ++p) assert_non_null(p->doc);
    const hp_optimizer_ops *ops = d->ops;
    assert_non_null(ops->save);
    assert_non_null(ops->load);
    assert_non_null(ops->state_size);
}

static void test_stop_names(void **unused) {
    /* every reason has its own name; unknown values do not crash */
    for (int a = HP_OPT_CONTINUE; a <= HP_OPT_DAMPING_LIMIT; ++a) {
        assert_true(strlen(hp_opt_stop_name((hp_opt_stop)a)) > 0);
        for (int b = a + 1; b <= HP_OPT_DAMPING_LIMIT; ++b)
            assert_string_not_equal(hp_opt_stop_name((hp_opt_stop)a),
                                    hp_opt_stop_name((hp_opt_stop)b));
        assert_int_equal(hp_opt_stop_is_converged((hp_opt_stop)a),
                         a == HP_OPT_CONVERGED_GRADIENT || a == HP_OPT_CONVERGED_STEP ||
                             a == HP_OPT_CONVERGED_VALUE);
    }
    assert_string_equal(hp_opt_stop_name((hp_opt_stop)99), "unknown stop reason");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_stop_names),
        cmocka_unit_test(test_bitwise_constant),
        cmocka_unit_test(test_bitwise_schedule_and_clip),
        cmocka_unit_test(test_schedule_values),
        cmocka_unit_test(test_clip_limits_first_step),
        cmocka_unit_test(test_save_load_continue),
        cmocka_unit_test(test_non_finite_gradient),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
