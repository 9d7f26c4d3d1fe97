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
    double first_jacobian_extra; /* the first Jacobian's memory and workspaces */
    int jacobians;
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
    if (J && f->jacobians++ == 0) f->clock->t += f->first_jacobian_extra;
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
static hp_opt_shape asked; /* the shape the last hint was asked for */
static void hint_cost(const hp_params *params, const hp_opt_shape *shape, hp_opt_step_cost *cost) {
    (void)params;
    asked = *shape;
    *cost = hint;
}

static hp_optimizer_ops hinted_ops(void) {
    hp_optimizer_ops ops;
    memset(&ops, 0, sizeof ops);
    ops.struct_size = sizeof ops;
    ops.step_cost = hint_cost;
    return ops;
}

/* The ETA of `stages` over f's objective, on f's clock. */
static hp__eta *eta_on(fake_objective *f, size_t n_stages, const hp__eta_stage *stages) {
    hp_objective o = objective_of(f); /* copied by hp__eta_create */
    hp__eta *e;
    OK(hp__eta_create(n_stages, stages, &o, &e));
    hp__eta_set_clock(e, read_clock, f->clock);
    return e;
}

static const double theta[2] = {0.5, -0.5};

/* Stage `stage` begins and takes `count` steps of the given lengths on the clock. */
static void run_stage(hp__eta *e, fake_clock *clock, size_t stage, const double *step, int count) {
    hp__eta_stage_begin(e, stage);
    for (int i = 0; i < count; i++) {
        clock->t += step[i];
        hp__eta_step(e, stage);
    }
}

/* Rules 1, 2 and 4: a stage's own steps (the first, which allocates, left out
 * from the second on), an earlier stage of the same plugin, and for a plugin
 * that gives no hint the stage's one step or the run's rate. */
static void test_measured_steps(void **state) {
    (void)state;
    fake_clock clock = {0};
    fake_objective f = {&clock, 0.001, 0.002, 0.01, 0.001, 0, 0.0, 0};
    const hp__eta_stage stages[] = {{"adam", NULL, NULL, 10, 1, 0}, {"lm", NULL, NULL, 5, 1, 0}, {"adam", NULL, NULL, 10, 1, 0}};
    hp__eta *e = eta_on(&f, 3, stages);
    int estimated = -1;
    assert_true(isnan(hp__eta_remaining(e, 0, 0, theta, &estimated))); /* nothing known yet */
    hp__eta_stage_begin(e, 0);
    clock.t = 1.0;
    hp__eta_step(e, 0); /* the first step: 1 s */
    /* one step: that step, as a last resort (no hint, no earlier stage) */
    double left = hp__eta_remaining(e, 0, 1, theta, &estimated);
    assert_double_equal(left, 9 * 1.0 + 5 * 1.0 + 10 * 1.0, 1e-12);
    assert_int_equal(estimated, 1);
    clock.t = 1.1;
    hp__eta_step(e, 0);
    /* two steps: the second alone (0.1 s); the lm stage at the run's rate so
     * far (1.1 s / 2 steps), the last adam stage at the first one's rate plus
     * its first step's excess (rule 5: 1 s - 0.1 s) */
    left = hp__eta_remaining(e, 0, 2, theta, &estimated);
    assert_double_equal(left, 8 * 0.1 + 5 * 0.55 + 10 * 0.1 + 0.9, 1e-12);
    assert_int_equal(estimated, 1); /* the lm stage is the run's rate */
    clock.t = 1.2;
    hp__eta_step(e, 0);
    clock.t = 1.3;
    hp__eta_step(e, 0);
    /* four steps: 0.1 s each without the first; lm at the run's 1.3 s / 4 steps */
    left = hp__eta_remaining(e, 0, 4, theta, &estimated);
    assert_double_equal(left, 6 * 0.1 + 5 * (1.3 / 4) + 10 * 0.1 + 0.9, 1e-12);
    assert_int_equal(estimated, 1);
    /* the lm stage runs: 0.5 s a step, and nothing is estimated any more */
    hp__eta_stage_begin(e, 1);
    for (int i = 0; i < 3; i++) {
        clock.t += 0.5;
        hp__eta_step(e, 1);
    }
    left = hp__eta_remaining(e, 1, 3, theta, &estimated);
    assert_double_equal(left, 2 * 0.5 + 10 * 0.1 + 0.9, 1e-12);
    assert_int_equal(estimated, 0);
    /* a stage done is not counted */
    assert_double_equal(hp__eta_remaining(e, 1, 5, theta, &estimated), 10 * 0.1 + 0.9, 1e-12);
    hp__eta_destroy(e);
}

/* Rule 3: the hint's evaluations at each kind's measured time (calls through
 * the timed objective, or a probe at θ for a kind not called yet: a Jacobian
 * timed on its second call), and the probes' time is no step's. */
static void test_hint_in_measured_seconds(void **state) {
    (void)state;
    fake_clock clock = {0};
    fake_objective f = {&clock, 0.001, 0.003, 0.02, 0.0, 0, 1.0, 0};
    hp_optimizer_ops ops = hinted_ops();
    hint = (hp_opt_step_cost){.values = 2, .gradients = 1, .jacobians = 0.5};
    const hp__eta_stage stages[] = {{"adam", NULL, NULL, 4, 1, 0}, {"gn", &ops, NULL, 7, 2, 1}};
    hp__eta *e = eta_on(&f, 2, stages);
    hp_objective timed = hp__eta_objective(e);
    hp__eta_stage_begin(e, 0);
    double v, g[2];
    /* two gradients in the first step, which warms up (0.5 s each): not timed
     * into the gradients' mean */
    f.gradient_s = 0.5;
    OK(timed.value_and_gradient(timed.ctx, theta, &v, g));
    OK(timed.value_and_gradient(timed.ctx, theta, &v, g));
    f.gradient_s = 0.003;
    hp__eta_step(e, 0);
    int estimated;
    /* values, gradients and Jacobians: probed at θ (3 ms a gradient) */
    double left = hp__eta_remaining(e, 0, 1, theta, &estimated);
    double per = 2 * 0.001 + 1 * 0.003 + 0.5 * 0.02;
    assert_double_equal(left, 3 * 1.0 + 7 * per, 1e-12);
    assert_int_equal(estimated, 1);
    /* the hint was asked for the objective's size and the stage's structure */
    assert_int_equal(asked.n, 2);
    assert_int_equal(asked.m, 3);
    assert_int_equal(asked.blocks, 2);
    assert_int_equal(asked.shared_rows, 1);
    assert_int_equal(f.jacobians, 2);
    /* the probes took 1.044 s of the clock, which the next step does not
     * count; from the second step on, calls are timed */
    OK(timed.value_and_gradient(timed.ctx, theta, &v, g));
    clock.t += 0.003;
    hp__eta_step(e, 0);
    assert_double_equal(hp__eta_remaining(e, 0, 2, theta, &estimated), 2 * 0.006 + 7 * per, 1e-12);
    f.gradient_s = 0.007; /* the gradients' mean: (0.003 + 0.003 + 0.007) / 3 */
    OK(timed.value_and_gradient(timed.ctx, theta, &v, g));
    per = 2 * 0.001 + (0.013 / 3) + 0.5 * 0.02;
    assert_double_equal(hp__eta_remaining(e, 0, 2, theta, &estimated), 2 * 0.006 + 7 * per, 1e-12);
    hp__eta_destroy(e);
}

/* A hint that follows the structure: one value per step, plus one per shared row. */
static void hint_by_shape(const hp_params *params, const hp_opt_shape *shape, hp_opt_step_cost *cost) {
    (void)params;
    cost->values = 1.0 + (double)shape->shared_rows;
}

/* Rule 2 across structures: an uncoupled stage after a coupled one of the same
 * plugin is the coupled stage's measured rate times the ratio of their hints
 * (here 1 value against 2: half). */
static void test_earlier_stage_scaled_by_hints(void **state) {
    (void)state;
    fake_clock clock = {0};
    fake_objective f = {&clock, 0.01, 0.003, 0.02, 0.0, 0, 0.0, 0};
    hp_optimizer_ops ops = hinted_ops();
    ops.step_cost = hint_by_shape;
    const hp__eta_stage stages[] = {{"gn", &ops, NULL, 5, 2, 1}, {"gn", &ops, NULL, 4, 2, 0}, {"gn", &ops, NULL, 6, 2, 1}};
    hp__eta *e = eta_on(&f, 3, stages);
    const double step[] = {2.0, 0.5, 0.5};
    run_stage(e, &clock, 0, step, 3);
    int estimated;
    double left = hp__eta_remaining(e, 0, 3, theta, &estimated);
    /* each stage not begun adds stage 0's first-step excess (2 s - 0.5 s) */
    assert_double_equal(left, 2 * 0.5 + 4 * 0.5 * (1.0 / 2.0) + 6 * 0.5 + 2 * 1.5, 1e-12);
    assert_int_equal(estimated, 0);
    hp__eta_destroy(e);
}

/* A run resumed into an LM stage: its Jacobians so far were all inside the
 * first step. They price the hint (an upper bound), and no probe evaluates
 * another Jacobian: the probe's m x n matrix would sit beside the optimizer's
 * own (a 2-D K2 run resumed so was killed for memory). */
static void test_no_jacobian_probe_beside_the_optimizer(void **state) {
    (void)state;
    fake_clock clock = {0};
    fake_objective f = {&clock, 0.001, 0.003, 0.02, 0.0, 0, 1.0, 0};
    hp_optimizer_ops ops = hinted_ops();
    hint = (hp_opt_step_cost){.jacobians = 1};
    const hp__eta_stage stages[] = {{"lm", &ops, NULL, 6, 2, 0}};
    hp__eta *e = eta_on(&f, 1, stages);
    hp_objective timed = hp__eta_objective(e);
    hp__eta_stage_begin(e, 0);
    double r[3], J[6];
    OK(timed.residuals_and_jacobian(timed.ctx, theta, r, J)); /* 0.02 s + 1 s of first touch */
    hp__eta_step(e, 0);
    int estimated;
    assert_double_equal(hp__eta_remaining(e, 0, 1, theta, &estimated), 5 * 1.02, 1e-12);
    assert_int_equal(estimated, 1);
    assert_int_equal(f.jacobians, 1);
    /* from the second step on, the step's own time (rule 1) */
    OK(timed.residuals_and_jacobian(timed.ctx, theta, r, J));
    hp__eta_step(e, 0);
    OK(timed.residuals_and_jacobian(timed.ctx, theta, r, J));
    hp__eta_step(e, 0);
    assert_double_equal(hp__eta_remaining(e, 0, 3, theta, &estimated), 3 * 0.02, 1e-12);
    assert_int_equal(estimated, 0);
    hp__eta_destroy(e);
}

/* Rule 5: the first step's excess is priced for a stage until it has taken a
 * step in this session, begun or not, and not again once it has. */
static void test_first_step_excess(void **state) {
    (void)state;
    fake_clock clock = {0};
    fake_objective f = {&clock, 0.01, 0.003, 0.02, 0.0, 0, 0.0, 0};
    const hp__eta_stage stages[] = {{"lm", NULL, NULL, 3, 2, 0}, {"lm", NULL, NULL, 4, 2, 0}};
    hp__eta *e = eta_on(&f, 2, stages);
    const double step[] = {5.0, 1.0, 1.0};
    run_stage(e, &clock, 0, step, 3);
    int estimated;
    assert_double_equal(hp__eta_remaining(e, 0, 3, theta, &estimated), 4 * 1.0 + 4.0, 1e-12);
    hp__eta_stage_begin(e, 1);
    clock.t += 2.0; /* inside stage 1's first step */
    assert_double_equal(hp__eta_remaining(e, 1, 0, theta, &estimated), 4 * 1.0 + 4.0, 1e-12);
    hp__eta_step(e, 1); /* its first step taken: at stage 0's rate (rule 2), no excess */
    assert_double_equal(hp__eta_remaining(e, 1, 1, theta, &estimated), 3 * 1.0, 1e-12);
    hp__eta_destroy(e);
}

/* Rule 3's flops: at the rate of one timed GEMM (here 0.25 s of the clock). */
static void test_hint_flops(void **state) {
    (void)state;
    fake_clock clock = {0, 0.25};
    fake_objective f = {&clock, 0.001, 0.003, 0.02, 0.0, 0, 0.0, 0};
    hp_optimizer_ops ops = hinted_ops();
    const double gemm = 2.0 * 384.0 * 384.0 * 384.0;
    hint = (hp_opt_step_cost){.flops = 4 * gemm};
    const hp__eta_stage stages[] = {{"gn", &ops, NULL, 3, 1, 0}};
    hp__eta *e = eta_on(&f, 1, stages);
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
    fake_objective f = {&clock, 0.001, 0.003, 0.02, 0.0, 1, 0.0, 0};
    hp_optimizer_ops ops = hinted_ops();
    hint = (hp_opt_step_cost){.values = 1};
    const hp__eta_stage stages[] = {{"gn", &ops, NULL, 3, 1, 0}, {"gn2", &ops, NULL, 2, 1, 0}};
    hp__eta *e = eta_on(&f, 2, stages);
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
        cmocka_unit_test(test_earlier_stage_scaled_by_hints),
        cmocka_unit_test(test_first_step_excess),
        cmocka_unit_test(test_no_jacobian_probe_beside_the_optimizer),
        cmocka_unit_test(test_failed_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
