/* test_lm_cg.c — the lm_cg (matrix-free Levenberg–Marquardt) optimizer plugin,
 * compiled into this executable, on least-squares problems given through
 * products only: with a tight CG tolerance its steps are dense lm's steps (lm
 * loaded from the build tree) to 1e-8, with and without the Nystrom
 * preconditioner, also on a small hybrid pipeline through the objective's
 * real J v and Jᵀ u; the preconditioner cuts CG iterations on an
 * ill-conditioned problem; save -> load -> continue is bit for bit; an objective
 * without products is refused with a message; parameters are validated. */
#include "test_util.h"

#include "hybrid.h"
#include "optim_problems.h"

/* ---- a matrix-free view of a least-squares test problem ------------------------ */

typedef struct mf {
    op_least_squares *ls;
    double theta[64];
    double J[256 * 64];
    int linearized;
} mf;

static hp_status mf_rj(void *ctx, const double *theta, double *r, double *J) {
    mf *f = ctx;
    f->linearized = 0;
    return op_ls_rj(f->ls, theta, r, J);
}

static hp_status mf_vg(void *ctx, const double *theta, double *v, double *g) {
    mf *f = ctx;
    f->linearized = 0;
    return op_ls_vg(f->ls, theta, v, g);
}

static hp_status mf_linearize(void *ctx, const double *theta, double *r) {
    mf *f = ctx;
    HP_CALL(op_ls_rj(f->ls, theta, r, f->J));
    memcpy(f->theta, theta, f->ls->n * sizeof *theta);
    f->linearized = 1;
    return HP_OK;
}

static hp_status mf_jvp(void *ctx, const double *theta, const double *v, double *Jv) {
    mf *f = ctx;
    size_t n = f->ls->n, m = f->ls->m;
    if (!f->linearized || memcmp(theta, f->theta, n * sizeof *theta)) fail_msg("product at a point not linearized");
    for (size_t i = 0; i < m; i++) {
        double s = 0.0;
        for (size_t k = 0; k < n; k++) s += f->J[i * n + k] * v[k];
        Jv[i] = s;
    }
    return HP_OK;
}

static hp_status mf_vjp(void *ctx, const double *theta, const double *u, double *JTu) {
    mf *f = ctx;
    size_t n = f->ls->n, m = f->ls->m;
    if (!f->linearized || memcmp(theta, f->theta, n * sizeof *theta)) fail_msg("product at a point not linearized");
    for (size_t k = 0; k < n; k++) {
        double s = 0.0;
        for (size_t i = 0; i < m; i++) s += f->J[i * n + k] * u[i];
        JTu[k] = s;
    }
    return HP_OK;
}

static hp_objective mf_objective(mf *f) {
    hp_objective o = {.n = f->ls->n, .m = f->ls->m, .ctx = f, .value_and_gradient = mf_vg,
                      .residuals_and_jacobian = mf_rj, .linearize = mf_linearize, .jvp = mf_jvp, .vjp = mf_vjp};
    return o;
}

static void pinn_truth(double *th, size_t neurons) {
    for (size_t k = 0; k < neurons; ++k) {
        th[3 * k] = 0.8 * cos(1.3 * (double)k + 0.2);
        th[3 * k + 1] = 1.5 + 0.7 * sin(0.9 * (double)k);
        th[3 * k + 2] = -0.6 + 0.4 * (double)k;
    }
}

static void pinn_setup(op_pinn *pp, op_least_squares *ls, size_t neurons, size_t points, double *start) {
    double truth[64];
    pinn_truth(truth, neurons);
    op_pinn_init(pp, neurons, points, truth);
    memset(ls, 0, sizeof *ls);
    ls->n = 3 * neurons;
    ls->m = points + 2;
    ls->residuals = op_pinn_rj;
    ls->problem = pp;
    for (size_t i = 0; i < 3 * neurons; ++i) start[i] = truth[i] + 0.15 * sin(2.1 * (double)i + 1.0);
}

/* lm from the build tree, created from "key=value" strings. */
static void lm_open(const char *const *args, size_t nargs, size_t n, const hp_optimizer_ops **ops, hp_params **p,
                    void **s) {
    const hp_plugin_descriptor *d;
    OK(hp_registry_find(registry, HP_PLUGIN_OPTIMIZER, "lm", &d));
    *ops = d->ops;
    OK(hp_params_from_strings(d->params, "optimizer", args, nargs, p));
    OK((*ops)->create(*p, n, s));
}

static double rel_diff(const double *a, const double *b, size_t n) {
    double d = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        s = fmax(s, fabs(b[i]));
    }
    return d / fmax(s, 1e-300);
}

/* ---- steps against dense lm ----------------------------------------------------------- */

static void steps_match_lm(const char *precond) {
    op_pinn pp;
    op_least_squares ls;
    double th_lm[64], th_cg[64];
    pinn_setup(&pp, &ls, 5, 30, th_lm);
    memcpy(th_cg, th_lm, sizeof th_lm);
    mf f = {.ls = &ls};
    hp_objective obj = mf_objective(&f);
    const hp_optimizer_ops *lops;
    hp_params *lp, *cp;
    void *ls_state, *cs;
    /* damping kept >= 1e-4: cond(J'J + lambda I) stays where both solves are accurate */
    const char *largs[] = {"lambda_min=1e-4"};
    lm_open(largs, 1, ls.n, &lops, &lp, &ls_state);
    char rank[32];
    snprintf(rank, sizeof rank, "rank=%zu", ls.n);
    const char *args[] = {"cg_rtol=1e-14", "cg_max_iterations=1000", precond, rank, "lambda_min=1e-4"};
    OK(op_create(args, 5, ls.n, &cp, &cs));
    double worst = 0.0, before[64], d_lm[64], d_cg[64];
    for (int k = 0; k < 8; k++) {
        hp_opt_step_info a, b;
        memcpy(th_cg, th_lm, sizeof th_lm); /* each step from the same point */
        memcpy(before, th_lm, sizeof th_lm);
        OK(lops->step(ls_state, th_lm, &obj, &a));
        OK(op_ops()->step(cs, th_cg, &obj, &b));
        if (a.stop != b.stop) fail_msg("%s step %d: lm stops with %d, lm_cg with %d", precond, k, a.stop, b.stop);
        assert_true(b.inner_iterations > 0 && b.products >= 2 * b.inner_iterations);
        for (size_t i = 0; i < ls.n; i++) d_lm[i] = th_lm[i] - before[i], d_cg[i] = th_cg[i] - before[i];
        double e = rel_diff(d_cg, d_lm, ls.n);
        worst = fmax(worst, e);
        if (!(e < 1e-8)) fail_msg("%s step %d: |delta_cg - delta_lm| / |delta_lm| = %.3e", precond, k, e);
        assert_double_equal(b.damping, a.damping, 1e-12 * a.damping);
        if (a.stop != HP_OPT_CONTINUE) break;
    }
    print_message("lm_cg (%s) vs lm, 8 steps each from the same point: worst relative difference of the steps %.2e\n", precond,
                  worst);
    lops->destroy(ls_state);
    op_ops()->destroy(cs);
    hp_params_destroy(lp);
    hp_params_destroy(cp);
}

static void test_steps_match_dense_lm(void **state) {
    (void)state;
    steps_match_lm("preconditioner=none");
    steps_match_lm("preconditioner=nystrom");
}

/* ---- the preconditioner ------------------------------------------------------------------ */

/* A PINN-like problem whose J'J spans many orders of magnitude: a rank equal to
 * n makes the preconditioned system (nearly) the identity. */
static size_t cg_iterations(const char *precond, const char *rank_arg) {
    op_pinn pp;
    op_least_squares ls;
    double th[64];
    pinn_setup(&pp, &ls, 8, 60, th);
    mf f = {.ls = &ls};
    hp_objective obj = mf_objective(&f);
    hp_params *p;
    void *s;
    const char *args[] = {"cg_rtol=1e-10", "cg_max_iterations=2000", precond, rank_arg, "lambda0=1e-8"};
    OK(op_create(args, 5, ls.n, &p, &s));
    hp_opt_step_info info;
    OK(op_ops()->step(s, th, &obj, &info));
    op_ops()->destroy(s);
    hp_params_destroy(p);
    return info.inner_iterations;
}

static void test_preconditioner_cuts_iterations(void **state) {
    (void)state;
    size_t none = cg_iterations("preconditioner=none", "rank=24");
    size_t nys = cg_iterations("preconditioner=nystrom", "rank=24");
    print_message("CG iterations to 1e-10, first step: none %zu, Nystrom rank 24 (= n) %zu\n", none, nys);
    assert_true(nys < none);
    assert_true(nys <= 5);
}

/* ---- convergence, save/load, refusals -------------------------------------------------- */

/* Exponential fitting (two terms and an offset) from a far start, to the
 * gradient tolerance. */
static void test_converges(void **state) {
    (void)state;
    op_expfit e;
    op_least_squares ls;
    const double truth[5] = {2.0, -1.5, 0.5, 0.7, 0.3};
    memset(&e, 0, sizeof e);
    e.m = 40;
    e.terms = 2;
    e.offset = 1;
    double r[256];
    op_expfit_rj(&e, truth, r, NULL);
    for (size_t i = 0; i < e.m; ++i) e.y[i] = r[i];
    memset(&ls, 0, sizeof ls);
    ls.n = 5;
    ls.m = e.m;
    ls.residuals = op_expfit_rj;
    ls.problem = &e;
    double th[5] = {1.0, -1.0, 1.0, 0.2, 0.0};
    mf f = {.ls = &ls};
    hp_objective obj = mf_objective(&f);
    hp_params *p;
    void *s;
    const char *args[] = {"gtol=1e-10", "cg_rtol=1e-10", "cg_max_iterations=200"};
    OK(op_create(args, 3, ls.n, &p, &s));
    hp_opt_step_info info;
    int k;
    for (k = 0; k < 400; k++) { /* dense lm takes 225 steps here: a long, narrow valley */
        OK(op_ops()->step(s, th, &obj, &info));
        if (info.stop != HP_OPT_CONTINUE) break;
    }
    if (!hp_opt_stop_is_converged(info.stop)) fail_msg("after %d steps: stop %d, %s", k, info.stop, info.message);
    for (int i = 0; i < 5; i++) OP_ASSERT_NEAR(th[i], truth[i], 1e-6);
    print_message("exponential fit: %s after %d steps\n", info.message, k + 1);
    op_ops()->destroy(s);
    hp_params_destroy(p);
}

static void test_save_load_continue(void **state) {
    (void)state;
    op_pinn pp;
    op_least_squares ls;
    double th0[64], tw[64], tr[64];
    pinn_setup(&pp, &ls, 4, 30, th0);
    mf f = {.ls = &ls};
    hp_objective obj = mf_objective(&f);
    const char *args[] = {"rank=5", "sketch_every=3"};
    hp_params *p1, *p2;
    void *a, *b;
    OK(op_create(args, 2, ls.n, &p1, &a));
    memcpy(tw, th0, sizeof th0);
    hp_opt_step_info info;
    for (int k = 0; k < 4; k++) OK(op_ops()->step(a, tw, &obj, &info));
    memcpy(tr, tw, sizeof tw);
    size_t bytes = op_ops()->state_size(a);
    unsigned char *buf = malloc(bytes);
    OK(op_ops()->save(a, buf));
    OK(op_create(args, 2, ls.n, &p2, &b));
    OK(op_ops()->load(b, buf, bytes));
    for (int k = 0; k < 5; k++) {
        OK(op_ops()->step(a, tw, &obj, &info));
        OK(op_ops()->step(b, tr, &obj, &info));
    }
    assert_memory_equal(tw, tr, ls.n * sizeof *tw);
    buf[bytes - 1] ^= 1;
    assert_int_equal(op_ops()->load(b, buf, bytes), HP_ERR_CORRUPT);
    free(buf);
    op_ops()->destroy(a);
    op_ops()->destroy(b);
    hp_params_destroy(p1);
    hp_params_destroy(p2);
}

static void test_refuses_objective_without_products(void **state) {
    (void)state;
    op_pinn pp;
    op_least_squares ls;
    double th[64];
    pinn_setup(&pp, &ls, 2, 10, th);
    hp_objective obj = op_ls_objective(&ls);
    hp_params *p;
    void *s;
    OK(op_create(NULL, 0, ls.n, &p, &s));
    hp_opt_step_info info;
    assert_int_equal(op_ops()->step(s, th, &obj, &info), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "needs Jacobian-vector products");
    op_ops()->destroy(s);
    hp_params_destroy(p);
    const char *bad[] = {"cg_rtol=0"};
    assert_int_equal(op_create(bad, 1, 4, &p, &s), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "cg_rtol");
}

/* ---- on the hybrid objective ------------------------------------------------------------- */

/* One lm step and one lm_cg step (tight CG) from the same θ of a small coupled
 * 2-D pipeline, through the objective's own J v and Jᵀ u: the same step. */
static void test_hybrid_step_matches_lm(void **state) {
    (void)state;
    const char *yaml =
        "constants: {eps: 0.5}\n"
        "problem: {dim: 2, K: \"2 + sin(2*pi*x/eps)*cos(2*pi*y/eps)\", q: \"1\", collocation: {points: 6},\n"
        "          validation: {points: 5}, reference: {kind: none}}\n"
        "network: {plugin: msff, width: 4, depth: 1, features: 2, sigmas: [1, 2], seed: 2}\n"
        "upscaling: {plugin: global, form: flux, mode: anisotropic}\n"
        "coarse: {plugin: p1_2d, elements: 4}\n"
        "coupling: {form: compressed, window: 1, delta: eps, tau2: 5}\n"
        "stages: [{iterations: 1}]\n";
    hp_config *c = NULL;
    OK(hp_config_load_string(yaml, strlen(yaml), "hybrid.yaml", &c));
    hp__hybrid *h = NULL;
    OK(hp__hybrid_create(c, registry, NULL, NULL, &h));
    size_t n = hp__hybrid_n_params(h);
    double *t1 = calloc(n, sizeof *t1), *t2 = calloc(n, sizeof *t2);
    OK(hp__hybrid_init_params(h, t1));
    memcpy(t2, t1, n * sizeof *t1);
    hp_objective obj = hp__hybrid_objective(h);
    const hp_optimizer_ops *lops;
    hp_params *lp, *cp;
    void *la, *ca;
    lm_open(NULL, 0, n, &lops, &lp, &la);
    const char *args[] = {"cg_rtol=1e-13", "cg_max_iterations=5000", "preconditioner=none"};
    OK(op_create(args, 3, n, &cp, &ca));
    hp_opt_step_info a, b;
    double *t0 = calloc(n, sizeof *t0);
    memcpy(t0, t1, n * sizeof *t0);
    OK(lops->step(la, t1, &obj, &a));
    OK(op_ops()->step(ca, t2, &obj, &b));
    assert_int_equal(hp__hybrid_last_terms(h)->fallback, 0);
    for (size_t i = 0; i < n; i++) t1[i] -= t0[i], t2[i] -= t0[i];
    double e = rel_diff(t2, t1, n);
    free(t0);
    print_message("hybrid 2-D (%zu parameters): lm_cg step vs lm step, relative difference of the steps %.2e, %zu CG iterations\n",
                  n, e, b.inner_iterations);
    if (!(e < 1e-8)) fail_msg("hybrid: |delta_cg - delta_lm| / |delta_lm| = %.3e", e);
    lops->destroy(la);
    op_ops()->destroy(ca);
    hp_params_destroy(lp);
    hp_params_destroy(cp);
    free(t1), free(t2);
    hp__hybrid_destroy(h);
    hp_config_destroy(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps_match_dense_lm),
        cmocka_unit_test(test_preconditioner_cuts_iterations),
        cmocka_unit_test(test_converges),
        cmocka_unit_test(test_save_load_continue),
        cmocka_unit_test(test_refuses_objective_without_products),
        cmocka_unit_test(test_hybrid_step_matches_lm),
    };
    return cmocka_run_group_tests(tests, hp_test_registry_setup, hp_test_registry_teardown);
}
