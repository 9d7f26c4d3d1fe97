/* test_lm.c — the lm (Levenberg–Marquardt) optimizer plugin, compiled into this
 * executable: exponential fitting and a small PINN-like residual with known
 * minimum in the m > n and m < n regimes, parameter and kernel forms giving the
 * same step (and the step of a naive dense solve), the subsampled and the
 * single-precision Gram matrix, gain-ratio damping, stop
 * reasons, save -> load -> continue, and parameter errors with their location. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "optim_problems.h"

#include "hpinn/rng.h"

typedef struct run_result {
    hp_opt_stop stop;
    size_t steps, evaluations;
    double value;
    char message[256];
} run_result;

static run_result run(const char *const *args, size_t nargs, hp_objective *obj, double *theta,
                      size_t max_steps) {
    hp_params *p;
    void *s;
    run_result res = {HP_OPT_CONTINUE, 0, 0, NAN, ""};
    assert_int_equal(op_create(args, nargs, obj->n, &p, &s), HP_OK);
    for (size_t k = 0; k < max_steps; ++k) {
        hp_opt_step_info info;
        assert_int_equal(op_ops()->step(s, theta, obj, &info), HP_OK);
        res.steps++;
        res.evaluations += info.evaluations;
        if (isfinite(info.value)) {
            if (isfinite(res.value)) assert_true(info.value <= res.value); /* monotone */
            res.value = info.value;
        }
        if (info.stop != HP_OPT_CONTINUE) {
            res.stop = info.stop;
            snprintf(res.message, sizeof res.message, "%s", info.message);
            break;
        }
    }
    op_ops()->destroy(s);
    hp_params_destroy(p);
    return res;
}

static double loss_at(hp_objective *obj, const double *theta) {
    double f;
    assert_int_equal(obj->value_and_gradient(obj->ctx, theta, &f, NULL), HP_OK);
    return f;
}

/* ---- exponential fitting ----------------------------------------------------- */

static void expfit_setup(op_expfit *e, op_least_squares *ls, size_t m, size_t terms, int offset,
                         const double *truth) {
    memset(e, 0, sizeof *e);
    e->m = m;
    e->terms = terms;
    e->offset = offset;
    for (size_t i = 0; i < m; ++i) e->y[i] = 0.0;
    double r[256];
    op_expfit_rj(e, truth, r, NULL); /* r = model(truth) - 0 */
    for (size_t i = 0; i < m; ++i) e->y[i] = r[i];
    memset(ls, 0, sizeof *ls);
    ls->n = 2 * terms + (offset ? 1 : 0);
    ls->m = m;
    ls->residuals = op_expfit_rj;
    ls->problem = e;
}

static void test_expfit_overdetermined(void **unused) {
    const char *const configs[][2] = {{"scaling=identity", "form=auto"},
                                      {"scaling=jacobian", "form=auto"},
                                      {"scaling=identity", "form=kernel"},
                                      {"scaling=jacobian", "form=kernel"}};
    for (size_t c = 0; c < 4; ++c) {
        const double truth[2] = {2.0, -1.5};
        op_expfit e;
        op_least_squares ls;
        expfit_setup(&e, &ls, 20, 1, 0, truth);
        hp_objective obj = op_ls_objective(&ls);
        double th[2] = {1.0, 0.0};
        const char *args[] = {configs[c][0], configs[c][1], "gtol=1e-13", "xtol=0", "ftol=0"};
        run_result r = run(args, 5, &obj, th, 200);
        if (r.stop != HP_OPT_CONVERGED_GRADIENT) fail_msg("%s %s: %s", args[0], args[1], r.message);
        OP_ASSERT_NEAR(th[0], 2.0, 1e-10);
        OP_ASSERT_NEAR(th[1], -1.5, 1e-10);
        assert_true(loss_at(&obj, th) < 1e-24);
        print_message("expfit m=20 n=2 (%s, %s): %zu steps, %zu evaluations\n", args[0], args[1],
                      r.steps, r.evaluations);
        assert_true(r.steps < 60);
    }
}

static void test_expfit_underdetermined(void **unused) {
    /* 3 data points, 5 parameters (two exponentials and an offset): a manifold of
     * exact fits; LM must find one (L = 0). */
    const char *const forms[] = {"form=auto", "form=parameter", "form=kernel"};
    for (size_t c = 0; c < 3; ++c) {
        const double truth[5] = {1.0, -1.0, 0.5, 2.0, 0.25};
        op_expfit e;
        op_least_squares ls;
        expfit_setup(&e, &ls, 3, 2, 1, truth);
        hp_objective obj = op_ls_objective(&ls);
        double th[5] = {0.5, 0.0, 0.1, 1.0, 0.0};
        const char *args[] = {forms[c], "gtol=1e-14", "xtol=0", "ftol=0"};
        run_result r = run(args, 4, &obj, th, 200);
        if (r.stop != HP_OPT_CONVERGED_GRADIENT) fail_msg("%s: %s", forms[c], r.message);
        assert_true(loss_at(&obj, th) < 1e-24);
        print_message("expfit m=3 n=5 (%s): %zu steps, L = %.1e\n", forms[c], r.steps,
                      loss_at(&obj, th));
    }
}

/* ---- PINN-like residual -------------------------------------------------------- */

static void pinn_truth(double *th, size_t neurons) {
    for (size_t k = 0; k < neurons; ++k) {
        th[3 * k] = 0.8 * sin(1.3 * (double)k + 0.4);
        th[3 * k + 1] = 1.5 + 0.7 * cos(0.9 * (double)k);
        th[3 * k + 2] = -0.6 + 0.35 * (double)k;
    }
}

static void pinn_setup(op_pinn *pp, op_least_squares *ls, size_t neurons, size_t points,
                       double *theta_start) {
    double truth[64];
    pinn_truth(truth, neurons);
    op_pinn_init(pp, neurons, points, truth);
    memset(ls, 0, sizeof *ls);
    ls->n = 3 * neurons;
    ls->m = points + 2;
    ls->residuals = op_pinn_rj;
    ls->problem = pp;
    for (size_t i = 0; i < 3 * neurons; ++i)
        theta_start[i] = truth[i] + 0.15 * sin(2.1 * (double)i + 1.0);
}

/* The test problem's Jacobian against central differences (else a wrong J would
 * only show as slow convergence). */
static void test_pinn_jacobian(void **unused) {
    op_pinn pp;
    op_least_squares ls;
    double th[64], r[256], rp[256], rm[256], J[256 * 64];
    pinn_setup(&pp, &ls, 4, 12, th);
    const size_t n = ls.n, m = ls.m;
    op_pinn_rj(&pp, th, r, J);
    for (size_t j = 0; j < n; ++j) {
        const double h = 1e-6, keep = th[j];
        th[j] = keep + h;
        op_pinn_rj(&pp, th, rp, NULL);
        th[j] = keep - h;
        op_pinn_rj(&pp, th, rm, NULL);
        th[j] = keep;
        for (size_t i = 0; i < m; ++i) {
            double fd = (rp[i] - rm[i]) / (2 * h);
            OP_ASSERT_NEAR(J[i * n + j], fd, 1e-7 * (1.0 + fabs(fd)));
        }
    }
}

static void test_pinn_both_regimes(void **unused) {
    static const struct { size_t neurons, points; } shapes[] = {{3, 30}, {10, 8}};
    for (size_t c = 0; c < 2; ++c) {
        for (int scaled = 0; scaled <= 1; ++scaled) {
            op_pinn pp;
            op_least_squares ls;
            double th[64];
            pinn_setup(&pp, &ls, shapes[c].neurons, shapes[c].points, th);
            hp_objective obj = op_ls_objective(&ls);
            const double L0 = loss_at(&obj, th);
            const char *args[] = {scaled ? "scaling=jacobian" : "scaling=identity",
                                  "gtol=1e-12", "xtol=0", "ftol=0"};
            run_result r = run(args, 4, &obj, th, 2000);
            if (r.stop != HP_OPT_CONVERGED_GRADIENT)
                fail_msg("m=%zu n=%zu %s: %s", ls.m, ls.n, args[0], r.message);
            const double L = loss_at(&obj, th);
            print_message("pinn-like m=%zu n=%zu (%s): %zu steps, %zu evaluations, L %.2e -> "
                          "%.2e\n", ls.m, ls.n, args[0], r.steps, r.evaluations, L0, L);
            assert_true(L < 1e-20);
            /* Marquardt's running-max scaling is far slower on the underdetermined
             * problem (about 800 steps measured against 43): documented, bounded here */
            assert_true(r.steps < (scaled && ls.m < ls.n ? 1500u : 200u));
        }
    }
}

/* ---- the two forms give the same step --------------------------------------- */

/* delta from a naive dense solve of (J'J + lambda D) delta = -J'r (Gaussian
 * elimination with partial pivoting). */
static void naive_step_weighted(const double *J, const double *r, size_t m, size_t n, double lambda,
                                int jacobian_scaling, const double *gram_weight, double *delta) {
    double A[64 * 65];
    for (size_t a = 0; a < n; ++a) {
        double rhs = 0.0, diag = 0.0, column = 0.0;
        for (size_t b = 0; b < n; ++b) {
            double s = 0.0;
            for (size_t i = 0; i < m; ++i) s += (gram_weight ? gram_weight[i] : 1.0) * J[i * n + a] * J[i * n + b];
            A[a * (n + 1) + b] = s;
        }
        for (size_t i = 0; i < m; ++i) rhs -= J[i * n + a] * r[i], column += J[i * n + a] * J[i * n + a];
        diag = jacobian_scaling ? (column > 0 ? column : 1.0) : 1.0;
        A[a * (n + 1) + a] += lambda * diag;
        A[a * (n + 1) + n] = rhs;
    }
    for (size_t col = 0; col < n; ++col) {
        size_t piv = col;
        for (size_t row = col + 1; row < n; ++row)
            if (fabs(A[row * (n + 1) + col]) > fabs(A[piv * (n + 1) + col])) piv = row;
        for (size_t k = 0; k <= n; ++k) {
            double t = A[col * (n + 1) + k];
            A[col * (n + 1) + k] = A[piv * (n + 1) + k];
            A[piv * (n + 1) + k] = t;
        }
        for (size_t row = col + 1; row < n; ++row) {
            double f = A[row * (n + 1) + col] / A[col * (n + 1) + col];
            for (size_t k = col; k <= n; ++k) A[row * (n + 1) + k] -= f * A[col * (n + 1) + k];
        }
    }
    for (size_t a = n; a-- > 0;) {
        double s = A[a * (n + 1) + n];
        for (size_t b = a + 1; b < n; ++b) s -= A[a * (n + 1) + b] * delta[b];
        delta[a] = s / A[a * (n + 1) + a];
    }
}

static void naive_step(const double *J, const double *r, size_t m, size_t n, double lambda,
                       int jacobian_scaling, double *delta) {
    naive_step_weighted(J, r, m, n, lambda, jacobian_scaling, NULL, delta);
}

static void test_forms_same_step(void **unused) {
    static const struct { size_t neurons, points; } shapes[] = {{3, 30}, {10, 8}};
    for (size_t c = 0; c < 2; ++c) {
        for (int scaled = 0; scaled <= 1; ++scaled) {
            op_pinn pp;
            op_least_squares ls;
            double th0[64], th_param[64], th_kernel[64], delta_ref[64];
            double r[256], J[256 * 64];
            pinn_setup(&pp, &ls, shapes[c].neurons, shapes[c].points, th0);
            hp_objective obj = op_ls_objective(&ls);
            const size_t n = ls.n, m = ls.m;
            /* a large damping: the first trial is accepted and lambda0 is the one used */
            const char *scaling = scaled ? "scaling=jacobian" : "scaling=identity";
            const char *pa[] = {scaling, "form=parameter", "lambda0=0.5"};
            const char *ka[] = {scaling, "form=kernel", "lambda0=0.5"};
            double *out[2] = {th_param, th_kernel};
            const char *const *args[2] = {pa, ka};
            for (int f = 0; f < 2; ++f) {
                hp_params *p;
                void *s;
                hp_opt_step_info info;
                memcpy(out[f], th0, n * sizeof(double));
                assert_int_equal(op_create(args[f], 3, n, &p, &s), HP_OK);
                assert_int_equal(op_ops()->step(s, out[f], &obj, &info), HP_OK);
                assert_int_equal(info.evaluations, 2); /* J, then one accepted trial */
                op_ops()->destroy(s);
                hp_params_destroy(p);
            }
            op_pinn_rj(&pp, th0, r, J);
            naive_step(J, r, m, n, 0.5, scaled, delta_ref);
            double scale = op_norm2(delta_ref, n), diff_forms = 0.0, diff_ref = 0.0;
            for (size_t i = 0; i < n; ++i) {
                double dp = th_param[i] - th0[i], dk = th_kernel[i] - th0[i];
                diff_forms = fmax(diff_forms, fabs(dp - dk));
                diff_ref = fmax(diff_ref, fabs(dp - delta_ref[i]));
            }
            print_message("m=%zu n=%zu %s: |delta| %.3e, parameter vs kernel %.1e, vs naive "
                          "%.1e\n", m, n, scaling, scale, diff_forms, diff_ref);
            assert_true(scale > 1e-3);
            assert_true(diff_forms <= 1e-10 * scale);
            assert_true(diff_ref <= 1e-10 * scale);
        }
    }
}

/* ---- a block-diagonal Gram matrix ------------------------------------------------ */

/* Two independent PINN-like problems side by side (as two directions' networks
 * with the coupling off), optionally with one row that couples them. */
typedef struct two_problems {
    op_pinn *a, *b;
    size_t ma, na, mb, nb;
    int coupled;
} two_problems;

static hp_status two_problems_rj(void *ctx, const double *th, double *r, double *J) {
    const two_problems *t = ctx;
    const size_t n = t->na + t->nb, m = t->ma + t->mb + (size_t)t->coupled;
    double ra[256], rb[256], Ja[256 * 64], Jb[256 * 64];
    op_pinn_rj(t->a, th, ra, J ? Ja : NULL);
    op_pinn_rj(t->b, th + t->na, rb, J ? Jb : NULL);
    memcpy(r, ra, t->ma * sizeof *r);
    memcpy(r + t->ma, rb, t->mb * sizeof *r);
    if (t->coupled) r[m - 1] = 0.3 * (th[0] - th[t->na]);
    if (!J) return HP_OK;
    memset(J, 0, m * n * sizeof *J);
    for (size_t i = 0; i < t->ma; ++i) memcpy(J + i * n, Ja + i * t->na, t->na * sizeof *J);
    for (size_t i = 0; i < t->mb; ++i) memcpy(J + (t->ma + i) * n + t->na, Jb + i * t->nb, t->nb * sizeof *J);
    if (t->coupled) J[(m - 1) * n] = 0.3, J[(m - 1) * n + t->na] = -0.3;
    return HP_OK;
}

/* The step on a block-diagonal Gram matrix (each block factored alone) and on
 * the same problem with one coupling row (one block) equals the naive dense
 * solve, for both dampings. */
static void test_block_diagonal_step(void **unused) {
    for (int c = 0; c < 4; ++c) {
        const int coupled = c & 1, scaled = c >> 1;
        op_pinn pa, pb;
        op_least_squares la, lb, ls;
        double tha[64], thb[64], th0[64], th[64], delta_ref[64], r[256], J[256 * 64];
        pinn_setup(&pa, &la, 3, 20, tha);
        pinn_setup(&pb, &lb, 4, 24, thb);
        two_problems tp = {&pa, &pb, la.m, la.n, lb.m, lb.n, coupled};
        memset(&ls, 0, sizeof ls);
        ls.n = la.n + lb.n;
        ls.m = la.m + lb.m + (size_t)coupled;
        ls.residuals = two_problems_rj;
        ls.problem = &tp;
        memcpy(th0, tha, la.n * sizeof(double));
        memcpy(th0 + la.n, thb, lb.n * sizeof(double));
        hp_objective obj = op_ls_objective(&ls);
        const char *args[] = {scaled ? "scaling=jacobian" : "scaling=identity", "form=parameter", "lambda0=5"};
        hp_params *p;
        void *s;
        hp_opt_step_info info;
        memcpy(th, th0, ls.n * sizeof(double));
        assert_int_equal(op_create(args, 3, ls.n, &p, &s), HP_OK);
        assert_int_equal(op_ops()->step(s, th, &obj, &info), HP_OK);
        assert_int_equal(info.evaluations, 2);
        op_ops()->destroy(s);
        hp_params_destroy(p);
        two_problems_rj(&tp, th0, r, J);
        naive_step(J, r, ls.m, ls.n, 5.0, scaled, delta_ref);
        double scale = op_norm2(delta_ref, ls.n), diff = 0.0;
        for (size_t i = 0; i < ls.n; ++i) diff = fmax(diff, fabs(th[i] - th0[i] - delta_ref[i]));
        print_message("two problems (%s, %s): n %zu, |delta| %.3e, vs naive %.1e\n", coupled ? "coupled" : "blocks",
                      args[0], ls.n, scale, diff);
        assert_true(scale > 1e-3);
        assert_true(diff <= 1e-10 * scale);
    }
}

/* ---- the subsampled Gram matrix (gram_rows < 1) ---------------------------------- */

/* The rule lm.c documents, stated again here (so a change of the rule is a
 * visible change of the test): row i of step t is kept when
 * hp_rng_hash_uniform(t << 32 ^ i) < p_i = min(1, c ||J_i||^2), sum p_i = f m. */
static double draw(uint64_t t, size_t i) { return hp_rng_hash_uniform(t << 32 ^ (uint64_t)i); }

/* p_i by bisection on c (lm.c iterates a fixed point; both solve sum p_i = f m) */
static void sample_probabilities(const double *J, size_t m, size_t n, double fraction, double *p) {
    double lo = 0.0, hi = 1.0;
    for (size_t i = 0; i < m; ++i) {
        double s = 0.0;
        for (size_t j = 0; j < n; ++j) s += J[i * n + j] * J[i * n + j];
        p[i] = s;
        if (s > 0.0) hi = fmax(hi, 1.0 / s);
    }
    hi *= 2.0;
    for (int it = 0; it < 200; ++it) {
        double c = 0.5 * (lo + hi), sum = 0.0;
        for (size_t i = 0; i < m; ++i) sum += fmin(1.0, c * p[i]);
        if (sum < fraction * (double)m) lo = c;
        else hi = c;
    }
    for (size_t i = 0; i < m; ++i) p[i] = fmin(1.0, 0.5 * (lo + hi) * p[i]);
}

/* The first step with gram_rows = 0.5 is the naive solve of
 * (sum_S J_i'J_i / p_i + lambda D) delta = -J'r over the documented sample, for both
 * dampings, and differs from the exact-Gram step; the iteration still converges
 * (to the zero-residual minimum, in more steps than with the exact Gram matrix);
 * bad values are refused. */
typedef struct heavy_boundary {
    op_pinn *pinn;
    size_t m, n;
} heavy_boundary;

static hp_status heavy_boundary_rj(void *ctx, const double *th, double *r, double *J) {
    const heavy_boundary *hb = ctx;
    hp_status st = op_pinn_rj(hb->pinn, th, r, J);
    for (size_t i = hb->m - 2; i < hb->m; ++i) {
        r[i] *= 30.0;
        if (J)
            for (size_t j = 0; j < hb->n; ++j) J[i * hb->n + j] *= 30.0;
    }
    return st;
}

/* One step from th0 into th with a fresh optimizer made of args: an accepted
 * first trial (two evaluations: the linearisation and the trial). */
static void first_step(const char *const *args, size_t nargs, hp_objective *obj, const double *th0, double *th) {
    hp_params *p;
    void *s;
    hp_opt_step_info info;
    memcpy(th, th0, obj->n * sizeof(double));
    assert_int_equal(op_create(args, nargs, obj->n, &p, &s), HP_OK);
    assert_int_equal(op_ops()->step(s, th, obj, &info), HP_OK);
    assert_int_equal(info.evaluations, 2);
    op_ops()->destroy(s);
    hp_params_destroy(p);
}

static void test_subsampled_gram(void **unused) {
    for (int c = 0; c < 3; ++c) {
        const int scaled = c == 1, heavy = c == 2; /* heavy: the two boundary rows weighted by 30, as tau weights */
        op_pinn pp;
        op_least_squares ls;
        double th0[64], th[64], delta_ref[64], delta_full[64], r[256], J[256 * 64], w[256];
        pinn_setup(&pp, &ls, 3, 60, th0);
        heavy_boundary hb = {&pp, ls.m, ls.n};
        if (heavy) ls.residuals = heavy_boundary_rj, ls.problem = &hb;
        hp_objective obj = op_ls_objective(&ls);
        const size_t n = ls.n, m = ls.m;
        const char *scaling = scaled ? "scaling=jacobian" : "scaling=identity";
        const char *args[] = {scaling, "gram_rows=0.5", "lambda0=5"};
        first_step(args, 3, &obj, th0, th);
        ls.residuals(ls.problem, th0, r, J);
        double prob[256], psum = 0.0;
        size_t kept = 0, certain = 0;
        sample_probabilities(J, m, n, 0.5, prob);
        for (size_t i = 0; i < m; ++i) {
            psum += prob[i];
            certain += prob[i] == 1.0;
            int in = draw(0, i) < prob[i];
            kept += in;
            w[i] = in ? 1.0 / prob[i] : 0.0;
        }
        OP_ASSERT_NEAR(psum, 0.5 * (double)m, 1e-9);
        assert_true(kept > m / 4 && kept < 3 * m / 4);
        assert_true(heavy ? certain >= 2 : certain == 0); /* the weighted boundary rows: kept for sure */
        if (heavy) assert_true(prob[m - 1] == 1.0 && prob[m - 2] == 1.0);
        naive_step_weighted(J, r, m, n, 5.0, scaled, w, delta_ref);
        naive_step(J, r, m, n, 5.0, scaled, delta_full);
        double scale = op_norm2(delta_ref, n), diff = 0.0, diff_full = 0.0;
        for (size_t i = 0; i < n; ++i) {
            diff = fmax(diff, fabs(th[i] - th0[i] - delta_ref[i]));
            diff_full = fmax(diff_full, fabs(delta_full[i] - delta_ref[i]));
        }
        print_message("gram_rows 0.5 (%s): %zu of %zu rows (%zu certain), |delta| %.3e, vs naive %.1e, vs exact "
                      "Gram %.1e\n", scaling, kept, m, certain, scale, diff, diff_full);
        assert_true(diff <= 1e-8 * scale);
        assert_true(diff_full >= 1e-4 * scale);

        /* the sampled model converges linearly where the exact one converges quadratically, and a
         * step it cannot make goes on with the exact Gram matrix: within 1000 steps it must lower L
         * by six orders and end, if it ends, at a stationary point or at the damping limit where
         * even the exact model's steps are lost in rounding (Marquardt scaling can end there) */
        const char *conv[] = {scaling, "gram_rows=0.5", "gtol=1e-12", "xtol=0", "ftol=0"};
        memcpy(th, th0, n * sizeof(double));
        const double L0 = loss_at(&obj, th);
        run_result res = run(conv, 5, &obj, th, 1000);
        const double L = loss_at(&obj, th);
        print_message("gram_rows 0.5 (%s): %zu steps, L %.2e -> %.2e\n", scaling, res.steps, L0, L);
        if (res.stop != HP_OPT_CONTINUE && res.stop != HP_OPT_CONVERGED_GRADIENT && res.stop != HP_OPT_DAMPING_LIMIT)
            fail_msg("gram_rows 0.5 (%s): %s", scaling, res.message);
        assert_true(L < 1e-6 * L0);
    }
    expect_config_error((const char *[]){"gram_rows=0"}, 1, "gram_rows", NULL);
    expect_config_error((const char *[]){"gram_rows=1.5"}, 1, "gram_rows", NULL);
    expect_config_error((const char *[]){"gram_rows=0.5", "form=kernel"}, 2, "gram_rows", NULL);
}

/* gram_precision single: the first step is the exact (or the sampled) step up
 * to float rounding of the Gram matrix (well-conditioned at lambda0 = 5: within
 * 1e-4 of it, and not equal: the float path ran), and the iteration still
 * converges to rounding level, since the gradient and the tests stay double. */
static void test_single_precision_gram(void **unused) {
    for (int sampled = 0; sampled < 2; ++sampled) {
        op_pinn pp;
        op_least_squares ls;
        double th0[64], th[64], delta_ref[64], r[256], J[256 * 64], w[256];
        pinn_setup(&pp, &ls, 3, 60, th0);
        hp_objective obj = op_ls_objective(&ls);
        const size_t n = ls.n, m = ls.m;
        const char *args[] = {"gram_precision=single", "lambda0=5", sampled ? "gram_rows=0.5" : "gram_rows=1"};
        first_step(args, 3, &obj, th0, th);
        ls.residuals(ls.problem, th0, r, J);
        double prob[256];
        sample_probabilities(J, m, n, 0.5, prob);
        for (size_t i = 0; i < m; ++i) w[i] = !sampled ? 1.0 : draw(0, i) < prob[i] ? 1.0 / prob[i] : 0.0;
        naive_step_weighted(J, r, m, n, 5.0, 0, w, delta_ref);
        double scale = op_norm2(delta_ref, n), diff = 0.0;
        for (size_t i = 0; i < n; ++i) diff = fmax(diff, fabs(th[i] - th0[i] - delta_ref[i]));
        print_message("gram_precision single%s: |delta| %.3e, vs the double step %.1e\n", sampled ? ", gram_rows 0.5" : "",
                      scale, diff);
        assert_true(diff <= 1e-4 * scale);
        assert_true(diff >= 1e-13 * scale);

        const char *conv[] = {"gram_precision=single", sampled ? "gram_rows=0.5" : "gram_rows=1", "gtol=1e-12",
                              "xtol=0", "ftol=0"};
        memcpy(th, th0, n * sizeof(double));
        const double L0 = loss_at(&obj, th);
        run_result res = run(conv, 5, &obj, th, 1000);
        const double L = loss_at(&obj, th);
        print_message("gram_precision single%s: %zu steps, L %.2e -> %.2e (%s)\n", sampled ? ", gram_rows 0.5" : "",
                      res.steps, L0, L, res.message);
        if (res.stop != HP_OPT_CONTINUE && res.stop != HP_OPT_CONVERGED_GRADIENT && res.stop != HP_OPT_DAMPING_LIMIT)
            fail_msg("gram_precision single: %s", res.message);
        assert_true(L < (sampled ? 1e-6 : 1e-12) * L0);
    }
    expect_config_error((const char *[]){"gram_precision=half"}, 1, "gram_precision", NULL);
    expect_config_error((const char *[]){"gram_precision=single", "form=kernel"}, 2, "gram_precision", NULL);
}

/* ---- damping, stops ------------------------------------------------------------ */

/* Exponential fit to noisy data: the minimum has L > 0 and, once there, rounding
 * leaves no trial that decreases L; with all tolerances off the damping must run
 * into its limit and the step say so. */
static void test_damping_limit(void **unused) {
    const double truth[2] = {2.0, -1.5};
    op_expfit e;
    op_least_squares ls;
    expfit_setup(&e, &ls, 20, 1, 0, truth);
    for (size_t i = 0; i < 20; ++i) e.y[i] += (i % 2 ? 0.01 : -0.01) * (1.0 + 0.1 * (double)i);
    hp_objective obj = op_ls_objective(&ls);
    double th[2] = {1.0, 0.0}, before[2];
    hp_params *p;
    void *s;
    const char *args[] = {"gtol=0", "xtol=0", "ftol=0", "lambda_max=1e6", "max_evals=100"};
    assert_int_equal(op_create(args, 5, 2, &p, &s), HP_OK);
    hp_opt_step_info info;
    int k = 0;
    do {
        memcpy(before, th, sizeof th);
        assert_int_equal(op_ops()->step(s, th, &obj, &info), HP_OK);
    } while (info.stop == HP_OPT_CONTINUE && ++k < 200);
    assert_int_equal(info.stop, HP_OPT_DAMPING_LIMIT);
    assert_non_null(strstr(info.message, "lambda_max"));
    assert_memory_equal(th, before, sizeof th);
    assert_true(info.damping > 1e6);
    assert_true(info.grad_norm < 1e-10); /* it did reach the minimum first */
    OP_ASSERT_NEAR(th[0], 2.0, 0.05);
    print_message("noisy expfit: %d steps, stop: %s\n", k + 1, info.message);
    op_ops()->destroy(s);
    hp_params_destroy(p);
}

static void test_damping_adapts(void **unused) {
    const double truth[2] = {2.0, -1.5};
    op_expfit e;
    op_least_squares ls;
    expfit_setup(&e, &ls, 20, 1, 0, truth);
    hp_objective obj = op_ls_objective(&ls);
    hp_params *p;
    void *s;
    hp_opt_step_info info;
    /* a far start with tiny damping: Gauss-Newton overshoots, trials get rejected
     * and lambda rises; near the solution good steps bring it down again */
    double th[2] = {0.1, 3.0};
    const char *args[] = {"lambda0=1e-8", "gtol=1e-13", "xtol=0", "ftol=0"};
    assert_int_equal(op_create(args, 4, 2, &p, &s), HP_OK);
    double lambda_peak = 0.0;
    size_t rejected_trials = 0;
    int k;
    for (k = 0; k < 200; ++k) {
        assert_int_equal(op_ops()->step(s, th, &obj, &info), HP_OK);
        if (info.stop != HP_OPT_CONTINUE) break;
        rejected_trials += info.evaluations - 2;
        lambda_peak = fmax(lambda_peak, info.damping);
    }
    assert_int_equal(info.stop, HP_OPT_CONVERGED_GRADIENT);
    assert_true(rejected_trials > 0);
    assert_true(lambda_peak > 1e-8);
    assert_true(info.damping < lambda_peak);
    OP_ASSERT_NEAR(th[0], 2.0, 1e-10);
    print_message("expfit from (0.1, 3): %d steps, %zu rejected trials, peak damping %.1e\n",
                  k + 1, rejected_trials, lambda_peak);
    op_ops()->destroy(s);
    hp_params_destroy(p);
}

/* r = A theta + c with A = 1e160 [[1, 1], [1, -1]] and c = 1e-160 (1, 1): the
 * gradient A'c = (2, 0) is finite, J'J overflows to +inf on the diagonal and to
 * inf - inf = NaN off it, the same for any summation order. */
static hp_status nan_gram_rj(void *ctx, const double *th, double *r, double *J) {
    (void)ctx;
    const double a = 1e160, c = 1e-160;
    r[0] = a * (th[0] + th[1]) + c;
    r[1] = a * (th[0] - th[1]) + c;
    if (J) {
        J[0] = a, J[1] = a;
        J[2] = a, J[3] = -a;
    }
    return HP_OK;
}

/* residuals that overflow: exp(b t) with b = 800 at t = 1 */
static void test_non_finite(void **unused) {
    const double truth[2] = {2.0, -1.5};
    op_expfit e;
    op_least_squares ls;
    expfit_setup(&e, &ls, 20, 1, 0, truth);
    hp_objective obj = op_ls_objective(&ls);
    double th[2] = {1.0, 800.0};
    run_result r = run(NULL, 0, &obj, th, 5);
    assert_int_equal(r.stop, HP_OPT_NON_FINITE);
    assert_int_equal(r.steps, 1);
    assert_true(th[0] == 1.0 && th[1] == 800.0);
    /* an overflowing gradient J'r is reported the same way */
    th[0] = 1e-200;
    th[1] = 700.0;
    r = run(NULL, 0, &obj, th, 5);
    assert_int_equal(r.stop, HP_OPT_NON_FINITE);
    assert_non_null(strstr(r.message, "overflow"));
    /* b = 300: L ~ 1e260 and J'J ~ 1e260 is numerically rank one. Whether a
     * damped Cholesky of it succeeds at some lambda below lambda_max depends on
     * the rounding of the BLAS kernel (it does with OpenBLAS's Sandybridge
     * kernels, not with Haswell's), so only the kernel-independent part is
     * asserted: a stop with a reason, never a non-finite or worse point. */
    th[0] = 1.0;
    th[1] = 300.0;
    double L300 = loss_at(&obj, th);
    r = run(NULL, 0, &obj, th, 5);
    assert_true(r.stop != HP_OPT_NON_FINITE);
    assert_true(isfinite(loss_at(&obj, th)) && loss_at(&obj, th) <= L300);
    /* A Gram matrix that is NaN for every kernel (J'J sums +inf and -inf products)
     * with a finite gradient: no damping makes it positive definite, so LM stops
     * at the damping limit, says why and leaves theta alone. */
    {
        op_least_squares bad = {.n = 2, .m = 2, .residuals = nan_gram_rj};
        hp_objective bobj = op_ls_objective(&bad);
        double tb[2] = {0.0, 0.0};
        run_result rb = run(NULL, 0, &bobj, tb, 5);
        assert_int_equal(rb.stop, HP_OPT_DAMPING_LIMIT);
        assert_non_null(strstr(rb.message, "not numerically positive definite"));
        assert_true(tb[0] == 0.0 && tb[1] == 0.0);
    }
    /* Marquardt scaling damps relative to diag(J'J) and makes progress; trials that
     * overflow are rejections, not failures. */
    th[0] = 1.0;
    th[1] = 300.0;
    r = run((const char *[]){"scaling=jacobian"}, 1, &obj, th, 2000);
    assert_true(r.stop != HP_OPT_NON_FINITE);
    assert_true(isfinite(loss_at(&obj, th)));
    assert_true(th[1] < 300.0);
    print_message("start at b = 300, jacobian scaling: %zu steps, b = %.3g, stop: %s\n", r.steps,
                  th[1], r.stop ? r.message : "(none)");
}

static void test_no_residuals(void **unused) {
    double a = 1.0, c = 0.0, th = 1.0;
    op_quadratic q = {{0, 0}, 1, &a, &c};
    hp_objective obj = {.n = 1, .m = 0, .ctx = &q, .value_and_gradient = op_quadratic_vg, .residuals_and_jacobian = NULL};
    hp_params *p;
    void *s;
    hp_opt_step_info info;
    assert_int_equal(op_create(NULL, 0, 1, &p, &s), HP_OK);
    assert_int_equal(op_ops()->step(s, &th, &obj, &info), HP_ERR_CONFIG);
    assert_non_null(strstr(hp_error_message(), "residuals"));
    op_ops()->destroy(s);
    hp_params_destroy(p);
}

static void test_save_load_continue(void **unused) {
    op_pinn pp;
    op_least_squares ls;
    double th0[64], tw[64], tr[64];
    pinn_setup(&pp, &ls, 4, 30, th0);
    hp_objective obj = op_ls_objective(&ls);
    const size_t n = ls.n;
    const char *args[] = {"scaling=jacobian", "gtol=0", "xtol=0", "ftol=0"};
    hp_params *p;
    void *whole, *first, *second;
    hp_opt_step_info info;
    memcpy(tw, th0, n * sizeof(double));
    memcpy(tr, th0, n * sizeof(double));
    assert_int_equal(op_create(args, 4, n, &p, &whole), HP_OK);
    for (int k = 0; k < 8; ++k) assert_int_equal(op_ops()->step(whole, tw, &obj, &info), HP_OK);
    assert_int_equal(op_ops()->create(p, n, &first), HP_OK);
    for (int k = 0; k < 3; ++k) assert_int_equal(op_ops()->step(first, tr, &obj, &info), HP_OK);
    size_t size = op_ops()->state_size(first);
    unsigned char *buf = malloc(size);
    assert_int_equal(op_ops()->save(first, buf), HP_OK);
    op_ops()->destroy(first);
    assert_int_equal(op_ops()->create(p, n, &second), HP_OK);
    assert_int_equal(op_ops()->load(second, buf, size), HP_OK);
    for (int k = 3; k < 8; ++k) assert_int_equal(op_ops()->step(second, tr, &obj, &info), HP_OK);
    assert_memory_equal(tw, tr, n * sizeof(double));
    /* without the load (fresh damping and scaling) the iterates differ: the test
     * above could fail */
    void *fresh;
    double tf[64];
    memcpy(tf, th0, n * sizeof(double));
    assert_int_equal(op_ops()->create(p, n, &fresh), HP_OK);
    for (int k = 0; k < 3; ++k) assert_int_equal(op_ops()->step(fresh, tf, &obj, &info), HP_OK);
    op_ops()->destroy(fresh);
    assert_int_equal(op_ops()->create(p, n, &fresh), HP_OK);
    for (int k = 3; k < 8; ++k) assert_int_equal(op_ops()->step(fresh, tf, &obj, &info), HP_OK);
    assert_memory_not_equal(tw, tf, n * sizeof(double));
    op_ops()->destroy(fresh);
    /* damaged and foreign buffers */
    buf[size - 1] ^= 4;
    assert_int_equal(op_ops()->load(second, buf, size), HP_ERR_CORRUPT);
    buf[size - 1] ^= 4;
    assert_int_equal(op_ops()->load(second, buf, size + 8), HP_ERR_CORRUPT);
    free(buf);
    op_ops()->destroy(second);
    op_ops()->destroy(whole);
    hp_params_destroy(p);
}

static void test_bad_params(void **unused) {
    expect_config_error((const char *[]){"lambda0=-1"}, 1, "lambda0", "<args>:1:1");
    expect_config_error((const char *[]){"gtol=0", "lambda_increase=1"}, 2, "lambda_increase",
                        "<args>:1:2");
    expect_config_error((const char *[]){"lambda_decrease=1"}, 1, "lambda_decrease", NULL);
    expect_config_error((const char *[]){"scaling=marquardt"}, 1, "scaling", NULL);
    expect_config_error((const char *[]){"form=dual"}, 1, "form", NULL);
    expect_config_error((const char *[]){"lambda0=10", "lambda_max=1"}, 2, "lambda0",
                        "<args>:1:1");
    expect_config_error((const char *[]){"max_evals=0"}, 1, "max_evals", NULL);
}

/* The cost hint follows the Jacobian's structure: with two blocks and no
 * shared row, a quarter of the dense Gram and factorization flops; a shared
 * row makes the factorization dense again and costs n² in the Gram matrix;
 * the sampled share and single precision scale the Gram part. */
static void test_step_cost_structure(void **unused) {
    const hp_optimizer_ops *ops = op_ops();
    assert_non_null(ops->step_cost);
    const double n = 1000, m = 20000;
    hp_params *p;
    assert_int_equal(hp_params_from_strings(hp_plugin_entry()->params, "optimizer", NULL, 0, &p), HP_OK);
    hp_opt_step_cost dense = {0}, split = {0}, shared = {0};
    ops->step_cost(p, &(hp_opt_shape){1000, 20000, 1, 0}, &dense);
    ops->step_cost(p, &(hp_opt_shape){1000, 20000, 2, 0}, &split);
    ops->step_cost(p, &(hp_opt_shape){1000, 20000, 2, 100}, &shared);
    OP_ASSERT_NEAR(dense.flops, m * n * n + 1.5 * n * n * n / 3, 1e-6 * dense.flops);
    OP_ASSERT_NEAR(split.flops, dense.flops / 4, 1e-6 * dense.flops);
    OP_ASSERT_NEAR(shared.flops, (m - 100) * n * n / 4 + 100 * n * n + 1.5 * n * n * n / 3, 1e-6 * dense.flops);
    assert_true(dense.jacobians == 1.0 && split.jacobians == 1.0 && dense.values == 1.5);
    hp_params_destroy(p);
    const char *args[] = {"gram_rows=0.25", "gram_precision=single"};
    assert_int_equal(hp_params_from_strings(hp_plugin_entry()->params, "optimizer", args, 2, &p), HP_OK);
    ops->step_cost(p, &(hp_opt_shape){1000, 20000, 2, 0}, &split);
    OP_ASSERT_NEAR(split.flops, 0.125 * m * n * n / 4 + 1.5 * n * n * n / 12, 1e-6 * dense.flops);
    hp_params_destroy(p);
    /* the kernel form (m < n, exact double Gram) is dense whatever the blocks */
    assert_int_equal(hp_params_from_strings(hp_plugin_entry()->params, "optimizer", NULL, 0, &p), HP_OK);
    ops->step_cost(p, &(hp_opt_shape){20000, 1000, 2, 0}, &split);
    OP_ASSERT_NEAR(split.flops, 20000.0 * 1000 * 1000 + 1.5 * 1000.0 * 1000 * 1000 / 3, 1e-6 * split.flops);
    hp_params_destroy(p);
    (void)unused;
}

static void test_descriptor(void **unused) { op_check_descriptor("lm"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_step_cost_structure),
        cmocka_unit_test(test_pinn_jacobian),
        cmocka_unit_test(test_expfit_overdetermined),
        cmocka_unit_test(test_expfit_underdetermined),
        cmocka_unit_test(test_pinn_both_regimes),
        cmocka_unit_test(test_forms_same_step),
        cmocka_unit_test(test_subsampled_gram),
        cmocka_unit_test(test_single_precision_gram),
        cmocka_unit_test(test_block_diagonal_step),
        cmocka_unit_test(test_damping_limit),
        cmocka_unit_test(test_damping_adapts),
        cmocka_unit_test(test_non_finite),
        cmocka_unit_test(test_no_residuals),
        cmocka_unit_test(test_save_load_continue),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
