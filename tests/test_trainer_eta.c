/* test_trainer_eta.c — the remaining-time rule of trainer_eta.h, driven by a
 * clock of the test's own: every callback of the fake objective advances it by
 * a known cost, so each rule (a stage's measured steps without the first, an
 * earlier stage of the same optimizer, the cost hint in measured seconds and
 * flops, the run's rate as the last resort) is checked to rounding, whatever
 * the machine is doing. The ETA of a real run against its wall time is in
 * test_trainer.c, with a bound loose enough for a loaded machine. */
#include "test_util.h"

#include "hpinn/optimizer.h"
#include "trainer_eta.h"

typedef struct fake_clock {
    double t;
    double per_read; /* added at every read: a "GEMM" then takes a known time */
} fake_clock;

static double read_clock(void *ctx) {
    fake_clock *c = ctx;
    c->t += c->per_read;
    return c->t;
}

/* The objective's costs in the fake clock's seconds; `fail` makes every
 * callback fail (a probe that cannot run). */
typedef struct fake_objective {
    fake_clock *clock;
    double value_s, gradient_s, jacobian_s, product_s;
    int fail;
} fake_objective;

static hp_status fake_vg(void *ctx, const double *theta, double *value, double *grad) {
    fake_objective *f = ctx;
    (void)theta;
    if (f->fail) return HP_ERR_NUMERIC;
    f->clock->t += grad ? f->gradient_s : f->value_s;
    *value = 1.0;
    if (grad) grad[0] = grad[1] = 0.0;
    return HP_OK;
}

static hp_status fake_residuals(void *ctx, const double *theta, double *r, double *J) {
    fake_objective *f = ctx;
    (void)theta;
    if (f->fail) return HP_ERR_NUMERIC;
    f->clock->t += J ? f->jacobian_s : f->value_s;
    r[0] = r[1] = r[2] = 0.0;
    return HP_OK;
}

static hp_objective objective_of(fake_objective *f) {
    hp_objective o;
    memset(&o, 0, sizeof o);
    o.n = 2;
    o.m = 3;
    o.ctx = f;
    o.value_and_gradient = fake_vg;
    o.residuals_and_jacobian = fake_residuals;
    return o;
}

static hp_opt_step_cost hint;
static void hint_cost(const hp_params *params, size_t n, size_t m, hp_opt_step_cost *cost) {
    (void)params;
    assert_int_equal(n, 2);
    assert_int_equal(m, 3);
    *cost = hint;
}

static hp_optimizer_ops hinted_ops(void) {
    hp_optimizer_ops ops;
    memset(&ops, 0, sizeof ops);
    ops.struct_size = sizeof ops;
    ops.step_cost = hint_cost;
    return ops;
}

static const double theta[2] = {0.5, -0.5};

/* Rules 1, 2 and 4: a stage's own steps (the first, which allocates, left out
 * from the third on), an earlier stage of the same plugin, and the run's rate
 * for a plugin that gives no hint. */
static void test_measured_steps(void **state) {
    (void)state;
    fake_clock clock = {0};
    fake_objective f = {&clock, 0.001, 0.002, 0.01, 0.001, 0};
    hp_objective o = objective_of(&f);
    const hp__eta_stage stages[] = {{"adam", NULL, NULL, 10}, {"lm", NULL, NULL, 5}, {"adam", NULL, NULL, 10}};
    hp__eta *e;
    OK(hp__eta_create(3, stages, &o, &e));
    hp__eta_set_clock(e, read_clock, &clock);
    int estimated = -1;
    assert_true(isnan(hp__eta_remaining(e, 0, 0, theta, &estimated))); /* nothing known yet */
    hp__eta_stage_begin(e, 0);
    clock.t = 1.0;
    hp__eta_step(e, 0); /* the first step: 1 s */
    clock.t = 1.1;
    hp__eta_step(e, 0);
    /* two steps: their mean, the first included (0.55 s) */
    double left = hp__eta_remaining(e, 0, 2, theta, &estimated);
    assert_double_equal(left, 8 * 0.55 + 5 * 0.55 + 10 * 0.55, 1e-12);
    assert_int_equal(estimated, 1); /* the lm stage is the run's rate */
    clock.t = 1.2;
    hp__eta_step(e, 0);
    clock.t = 1.3;
    hp__eta_step(e, 0);
    /* four steps: 0.1 s each without the first; lm at the run's 1.3 s / 4 steps;
     * the last adam stage at the first one's rate */
    left = hp__eta_remaining(e, 0, 4, theta, &estimated);
    assert_double_equal(left, 6 * 0.1 + 5 * (1.3 / 4) + 10 * 0.1, 1e-12);
    assert_int_equal(estimated, 1);
    /* the lm stage runs: 0.5 s a step, and nothing is estimated any more */
    hp__eta_stage_begin(e, 1);
    for (int i = 0; i < 3; i++) {
        clock.t += 0.5;
        hp__eta_step(e, 1);
    }
    left = hp__eta_remaining(e, 1, 3, theta, &estimated);
    assert_double_equal(left, 2 * 0.5 + 10 * 0.1, 1e-12);
    assert_int_equal(estimated, 0);
    /* a stage done is not counted */
    assert_double_equal(hp__eta_remaining(e, 1, 5, theta, &estimated), 10 * 0.1, 1e-12);
    hp__eta_destroy(e);
}

/* Rule 3: the hint's evaluations at each kind's measured time (calls through
 * the timed objective, or one probe at θ for a kind not called yet), and the
 * probes' time is no step's. */
static void test_hint_in_measured_seconds(void **state) {
    (void)state;
    fake_clock clock = {0};
    fake_objective f = {&clock, 0.001, 0.003, 0.02, 0.0, 0};
    hp_objective o = objective_of(&f);
    hp_optimizer_ops ops = hinted_ops();
    hint = (hp_opt_step_cost){.values = 2, .gradients = 1, .jacobians = 0.5};
    const hp__eta_stage stages[] = {{"adam", NULL, NULL, 4}, {"gn", &ops, NULL, 7}};
    hp__eta *e;
    OK(hp__eta_create(2, stages, &o, &e));
    hp__eta_set_clock(e, read_clock, &clock);
    hp_objective timed = hp__eta_objective(e);
    hp__eta_stage_begin(e, 0);
    double v, g[2];
    /* two gradients through the timed objective: 3 ms each, measured */
    OK(timed.value_and_gradient(timed.ctx, theta, &v, g));
    OK(timed.value_and_gradient(timed.ctx, theta, &v, g));
    hp__eta_step(e, 0);
    int estimated;
    /* values and Jacobians were not called: probed once each at θ */
    double left = hp__eta_remaining(e, 0, 1, theta, &estimated);
    double per = 2 * 0.001 + 1 * 0.003 + 0.5 * 0.02;
    assert_double_equal(left, 3 * 0.006 + 7 * per, 1e-12);
    assert_int_equal(estimated, 1);
    /* the probes took 21 ms of the clock, which the next step does not count */
    clock.t += 0.006;
    hp__eta_step(e, 0);
    assert_double_equal(hp__eta_remaining(e, 0, 2, theta, &estimated), 2 * 0.006 + 7 * per, 1e-12);
    hp__eta_destroy(e);
}

/* Rule 3's flops: at the rate of one timed GEMM (here 0.25 s of the clock). */
static void test_hint_flops(void **state) {
    (void)state;
    fake_clock clock = {0, 0.25};
    fake_objective f = {&clock, 0.001, 0.003, 0.02, 0.0, 0};
    hp_objective o = objective_of(&f);
    hp_optimizer_ops ops = hinted_ops();
    const double gemm = 2.0 * 384.0 * 384.0 * 384.0;
    hint = (hp_opt_step_cost){.flops = 4 * gemm};
    const hp__eta_stage stages[] = {{"gn", &ops, NULL, 3}};
    hp__eta *e;
    OK(hp__eta_create(1, stages, &o, &e));
    hp__eta_set_clock(e, read_clock, &clock);
    int estimated;
    assert_double_equal(hp__eta_remaining(e, 0, 0, theta, &estimated), 3 * 4 * 0.25, 1e-12);
    assert_int_equal(estimated, 1);
    hp__eta_destroy(e);
}

/* A probe that fails is no error of the run: the hint is dropped for the
 * run's rate (NAN while nothing has been measured), and the error is cleared. */
static void test_failed_probe(void **state) {
    (void)state;
    fake_clock clock = {0};
    fake_objective f = {&clock, 0.001, 0.003, 0.02, 0.0, 1};
    hp_objective o = objective_of(&f);
    hp_optimizer_ops ops = hinted_ops();
    hint = (hp_opt_step_cost){.values = 1};
    const hp__eta_stage stages[] = {{"gn", &ops, NULL, 3}, {"gn2", &ops, NULL, 2}};
    hp__eta *e;
    OK(hp__eta_create(2, stages, &o, &e));
    hp__eta_set_clock(e, read_clock, &clock);
    int estimated;
    assert_true(isnan(hp__eta_remaining(e, 0, 0, theta, &estimated)));
    assert_string_equal(hp_error_message(), "");
    hp__eta_stage_begin(e, 0);
    clock.t += 2.0;
    hp__eta_step(e, 0);
    /* stage 0 measured (2 s); stage 1's probe failed before: the run's rate */
    assert_double_equal(hp__eta_remaining(e, 0, 1, theta, &estimated), 2 * 2.0 + 2 * 2.0, 1e-12);
    assert_int_equal(estimated, 1);
    hp__eta_destroy(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measured_steps),
        cmocka_unit_test(test_hint_in_measured_seconds),
        cmocka_unit_test(test_hint_flops),
        cmocka_unit_test(test_failed_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
