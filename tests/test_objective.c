/* test_objective.c — the hybrid objective Ĵ = J_pinn + τ1·boundary + τ2·R
 * (hybrid.c, docs/math.md §1–§5):
 *   - the full adjoint gradient against central finite differences over EVERY
 *     parameter of tiny networks, in 1-D (msff, mlp) and 2-D (global isotropic,
 *     anisotropic, blocks), both coupling forms, hard and soft boundary
 *     conditions, flux and energy upscaling; K̃ is checked positive definite
 *     (terms.fallback == 0) so the coupling path runs, the coupling term's own
 *     gradient (∇R) is checked separately, and the coupling is checked to change
 *     the gradient (so a wrong coupling gradient could not hide under J_pinn);
 *   - the fallback path: a θ whose K̃ is not positive definite gives fallback = 1,
 *     R = NAN and exactly the plain PINN gradient (pipeline with form none / τ2 = 0);
 *   - hp__hybrid_validate's rel_l2 against the fields written by
 *     hp__outputs_write_fields;
 *   - `hpinn check --gradient` on every config in configs/ as a subprocess.
 *
 * Finite differences: Ĵ is smooth in θ (tanh/sin networks, a linear solve with an
 * SPD matrix), so we use the fourth-order central difference
 *     fd_k = [8(Ĵ(θ+h e_k) − Ĵ(θ−h e_k)) − (Ĵ(θ+2h e_k) − Ĵ(θ−2h e_k))] / 12h,
 * truncation error ~h⁴|∂⁵Ĵ|/30, rounding error ~u|Ĵ|/h (u = 1.1e-16), with
 * h = 1e-3·max(1, |θ_k|). Measured on these cases (step scans kept out of the
 * test): the two-point formula's best step (1e-5..6e-5) leaves 5e-7 worst-case
 * error, with rounding already visible on components 1e-5 times smaller than the
 * largest (error ∝ 1/h below 2e-5, ∝ h² above); the four-point formula at h = 1e-3
 * gives ≤ 4e-8 on every case (worst over the cases: 5e-6 at h = 1e-4, 2.6e-7 at
 * 3e-4, 3.6e-8 at 1e-3, 9e-8 at 2e-3, 3.5e-7 at 4e-3), a margin of > 200 below
 * the 1e-5 tolerance. The relative error of component k is
 *     |g_k − fd_k| / max(|g_k|, |fd_k|, 1e-6·‖g‖∞),
 * the floor keeping components 10⁶ times smaller than the largest from measuring
 * only rounding; it is the floor `hpinn check --gradient` uses. */
#include "objective_util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "hpinn/config.h"
#include "hpinn/registry.h"
#include "hybrid.h"
#include "outputs.h"
#include "problem.h"

/* The gradient check of one pipeline at its initial θ:
 *   1. Ĵ's gradient against FD of Ĵ (all parameters);
 *   2. ∇R = (∇Ĵ(τ2) − ∇Ĵ(0))/τ2 against FD of R — the coupling path alone;
 *   3. the coupling changes the gradient: ‖τ2 ∇R‖∞ ≥ 1e-3 ‖∇Ĵ‖∞, so an error in it
 *      cannot hide below the 1e-5 tolerance of check 1 behind J_pinn.
 * K̃ must be positive definite at θ (fallback 0) or the coupling is not run. */
static void check_case(const char *label, const char *yaml) {
    hybrid b;
    hybrid_open(&b, yaml);
    double tau1, tau2;
    hp__hybrid_get_weights(b.h, &tau1, &tau2);
    double *g = calloc(b.n, sizeof *g), *g0 = calloc(b.n, sizeof *g0), *gR = calloc(b.n, sizeof *gR);
    double J = value_grad(&b, b.theta, g);
    const hp__hybrid_terms *t = hp__hybrid_last_terms(b.h);
    if (t->fallback)
        fail_msg("%s: K̃ is not positive definite at the initial θ (K̃[0] = %g): the coupling path is not exercised",
                 label, t->ktilde[0]);
    assert_true(isfinite(J) && isfinite(t->coupling));
    assert_true(t->coupling > 0.0);
    assert_double_equal(J, t->j_pinn + tau1 * t->boundary + tau2 * t->coupling + hp__hybrid_tau3(b.h) * t->averaged,
                        1e-12 * fabs(J));
    double R = t->coupling, Jp = t->j_pinn, B = t->boundary;
    size_t n_kt = t->n_blocks * (size_t)t->dim * (size_t)t->dim;
    char kt[256] = "";
    for (size_t e = 0; e < n_kt && e < 8; e++)
        snprintf(kt + strlen(kt), sizeof kt - strlen(kt), "%s%.4f", e ? " " : "", t->ktilde[e]);

    /* Balance the terms: τ2 = max(τ2, J_pinn / R) makes τ2 R as large as J_pinn at
     * this θ, so the coupling's share of the gradient is not negligible. */
    if (tau2 < Jp / R) {
        tau2 = Jp / R;
        hp__hybrid_set_weights(b.h, tau1, tau2);
        J = value_grad(&b, b.theta, g);
    }
    size_t at_total, at_R;
    double worst_total = fd_worst(&b, g, TOTAL, 0, &at_total);

    hp__hybrid_set_weights(b.h, tau1, 0.0);
    (void)value_grad(&b, b.theta, g0);
    hp__hybrid_set_weights(b.h, tau1, tau2);
    double share = term_gradient(g, g0, tau2, b.n, gR);
    double worst_R = fd_worst(&b, gR, COUPLING, 0, &at_R);
    double worst_jac = check_jacobian(&b, g, label);

    print_message("%-44s n %4zu  J_pinn %.3e  bnd %.2e  R %.3e  tau2 %.2e  K~ [%s]\n"
                  "%-44s worst rel: grad J^ %.2e (theta[%zu])  grad R %.2e (theta[%zu])  coupling share %.2e"
                  "  Jacobian %.2e\n",
                  label, b.n, Jp, B, R, tau2, kt, "", worst_total, at_total, worst_R, at_R, share, worst_jac);
    if (!(worst_total < 1e-5)) fail_msg("%s: gradient of Ĵ: worst relative error %.3e at θ[%zu]", label, worst_total, at_total);
    if (!(worst_R < 1e-5)) fail_msg("%s: gradient of R: worst relative error %.3e at θ[%zu]", label, worst_R, at_R);
    if (!(share >= 1e-3))
        fail_msg("%s: the coupling hardly changes the gradient (%.2e of it): choose a larger τ2", label, share);
    free(g);
    free(g0);
    free(gR);
    hybrid_close(&b);
}

/* ---- 1-D ------------------------------------------------------------------------ */

#define PROBLEM_1D                                                                                          \
    "constants: {eps: 0.25}\n"                                                                              \
    "problem:\n  dim: 1\n  K: \"1/(1.2 + sin(2*pi*x/eps))\"\n  q: \"-3*(2*x - 1)\"\n  boundary: %s\n"      \
    "  collocation: {points: 20}\n  validation: {points: 30}\n  reference: {kind: none}\n"                 \
    "coarse: {plugin: p1_1d, elements: 8}\n"

static const char *MSFF_1D = "network: {plugin: msff, width: 8, depth: 2, features: 4, sigmas: [1, 4], seed: 3}\n";
static const char *MLP_1D = "network: {plugin: mlp, width: 8, depth: 2, activation: tanh, seed: 2}\n";

static void case_1d(const char *label, const char *boundary, const char *network, const char *upscaling,
                    const char *coupling) {
    char yaml[2048];
    int n = snprintf(yaml, sizeof yaml, PROBLEM_1D, boundary);
    snprintf(yaml + n, sizeof yaml - (size_t)n, "%s%s%s", network, upscaling, coupling);
    check_case(label, yaml);
}

static void test_gradient_1d_msff_full_hard(void **state) {
    (void)state;
    case_1d("1-D msff, global flux, full, hard", "hard", MSFF_1D, "upscaling: {plugin: global, form: flux}\n",
            "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n");
}

static void test_gradient_1d_mlp_compressed_hard(void **state) {
    (void)state;
    case_1d("1-D mlp, global flux, compressed w2, hard", "hard", MLP_1D, "upscaling: {plugin: global}\n",
            "coupling: {form: compressed, window: 2, delta: 0.1, tau2: 50}\n");
}

static void test_gradient_1d_soft(void **state) {
    (void)state;
    case_1d("1-D msff, full, soft (tau1 10)", "soft", MSFF_1D, "upscaling: {plugin: global}\n",
            "coupling: {form: full, window: 1, delta: eps, tau1: 10, tau2: 10}\n");
    case_1d("1-D mlp, compressed, soft (tau1 3)", "soft", MLP_1D, "upscaling: {plugin: global}\n",
            "coupling: {form: compressed, window: 1, delta: 0, tau1: 3, tau2: 20}\n");
}

static void test_gradient_1d_energy(void **state) {
    (void)state;
    case_1d("1-D mlp, global energy, full, hard", "hard", MLP_1D, "upscaling: {plugin: global, form: energy}\n",
            "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n");
    case_1d("1-D msff, global energy, compressed, soft", "soft", MSFF_1D,
            "upscaling: {plugin: global, form: energy}\n",
            "coupling: {form: compressed, window: 2, delta: eps, tau1: 5, tau2: 10}\n");
}

/* ---- 2-D ------------------------------------------------------------------------ */

/* m = 6: collocation points at i/7, none on the block boundary x = 1/2. */
#define PROBLEM_2D                                                                                          \
    "problem:\n  dim: 2\n  K: \"2 + sin(2*pi*x)*sin(2*pi*y) + 0.5*x\"\n  q: \"1 + x*y\"\n  boundary: %s\n"  \
    "  collocation: {points: 6, boundary_points: 5}\n  validation: {points: 5}\n  reference: {kind: none}\n" \
    "coarse: {plugin: p1_2d, elements: 4}\n"

static const char *MLP_2D = "network: {plugin: mlp, width: 6, depth: 2, activation: tanh, seed: 4}\n";
static const char *MSFF_2D = "network: {plugin: msff, width: 6, depth: 1, features: 3, sigmas: [1, 2], seed: 5}\n";

static void case_2d(const char *label, const char *boundary, const char *network, const char *upscaling,
                    const char *coupling) {
    char yaml[2048];
    int n = snprintf(yaml, sizeof yaml, PROBLEM_2D, boundary);
    snprintf(yaml + n, sizeof yaml - (size_t)n, "%s%s%s", network, upscaling, coupling);
    check_case(label, yaml);
}

static void test_gradient_2d_global_isotropic(void **state) {
    (void)state;
    case_2d("2-D mlp, global isotropic, full, hard", "hard", MLP_2D,
            "upscaling: {plugin: global, mode: isotropic}\n", "coupling: {form: full, window: 1, delta: 0.3, tau2: 20}\n");
    case_2d("2-D msff, global isotropic, compressed, soft", "soft", MSFF_2D,
            "upscaling: {plugin: global, mode: isotropic}\n",
            "coupling: {form: compressed, window: 1, window_shape: disk, delta: 0, tau1: 2, tau2: 20}\n");
}

static void test_gradient_2d_global_anisotropic(void **state) {
    (void)state;
    case_2d("2-D msff, global anisotropic, full, hard", "hard", MSFF_2D,
            "upscaling: {plugin: global, mode: anisotropic}\n", "coupling: {form: full, window: 1, delta: 0.3, tau2: 20}\n");
    case_2d("2-D mlp, global anisotropic, compressed disk, soft", "soft", MLP_2D,
            "upscaling: {plugin: global, mode: anisotropic}\n",
            "coupling: {form: compressed, window: 2, window_shape: disk, delta: 0.3, tau1: 4, tau2: 20}\n");
}

static void test_gradient_2d_energy(void **state) {
    (void)state;
    case_2d("2-D mlp, global energy anisotropic, full", "hard", MLP_2D,
            "upscaling: {plugin: global, form: energy, mode: anisotropic}\n",
            "coupling: {form: full, window: 1, delta: 0.3, tau2: 20}\n");
    case_2d("2-D msff, global energy isotropic, compressed", "hard", MSFF_2D,
            "upscaling: {plugin: global, form: energy, mode: isotropic}\n",
            "coupling: {form: compressed, window: 1, delta: 0, tau2: 20}\n");
}

static void test_gradient_2d_blocks(void **state) {
    (void)state;
    case_2d("2-D mlp, blocks 2x2, full, hard", "hard", MLP_2D, "upscaling: {plugin: blocks, blocks: 2}\n",
            "coupling: {form: full, window: 1, delta: 0.3, tau2: 20}\n");
    case_2d("2-D msff, blocks 2x2, compressed, soft", "soft", MSFF_2D, "upscaling: {plugin: blocks, blocks: 2}\n",
            "coupling: {form: compressed, window: 1, delta: 0.3, tau1: 2, tau2: 20}\n");
    case_2d("2-D mlp, blocks 2x2, compressed disk, hard", "hard", MLP_2D, "upscaling: {plugin: blocks, blocks: 2}\n",
            "coupling: {form: compressed, window: 2, window_shape: disk, delta: 0, tau2: 20}\n");
}

/* τ2 = 0 and form none: the plain PINN objective; its gradient against FD too. */
static void test_gradient_plain_pinn(void **state) {
    (void)state;
    const char *forms[] = {"coupling: {form: full, tau2: 0}\n", "coupling: {form: none, tau2: 10, tau1: 3}\n"};
    for (int f = 0; f < 2; f++) {
        char yaml[2048];
        int n = snprintf(yaml, sizeof yaml, PROBLEM_1D, f ? "soft" : "hard");
        snprintf(yaml + n, sizeof yaml - (size_t)n, "%s%s", MSFF_1D, forms[f]);
        hybrid b;
        hybrid_open(&b, yaml);
        double *g = calloc(b.n, sizeof *g);
        double J = value_grad(&b, b.theta, g);
        const hp__hybrid_terms *t = hp__hybrid_last_terms(b.h);
        assert_double_equal(J, t->j_pinn + (f ? 3.0 * t->boundary : 0.0), 1e-12 * J);
        size_t at;
        double worst = fd_worst(&b, g, TOTAL, t->fallback, &at);
        print_message("plain PINN (%s): worst rel %.2e\n", f ? "form none, soft" : "tau2 0, hard", worst);
        assert_true(worst < 1e-5);
        free(g);
        hybrid_close(&b);
    }
}

/* problem.residual_scale: inverse_K divides the PINN residual by K at every point
 * (docs/math.md §1.6): at the same θ, each PINN row of the scaled pipeline is the
 * unscaled row over K(x_r), and the validation's zero residual is mean (f/K)²;
 * then the whole gradient, Jacobian and product checks with the scale on, in 1-D
 * and 2-D, hard and soft, with the coupling (its rows are not scaled). */
static void test_residual_scale_inverse_K(void **state) {
    (void)state;
    const char *boundaries[] = {"hard", "hard\n  residual_scale: inverse_K"};
    hybrid b[2];
    double *r[2];
    hp__hybrid_validation val[2];
    for (int k = 0; k < 2; k++) {
        char yaml[2048];
        int n = snprintf(yaml, sizeof yaml, PROBLEM_1D, boundaries[k]);
        snprintf(yaml + n, sizeof yaml - (size_t)n, "%s%s", MSFF_1D, "upscaling: {plugin: global}\n"
                 "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n");
        hybrid_open(&b[k], yaml);
        r[k] = calloc(b[k].obj.m, sizeof *r[k]);
        OK(b[k].obj.linearize(b[k].obj.ctx, b[k].theta, r[k]));
        OK(hp__hybrid_validate(b[k].h, b[k].theta, &val[k]));
    }
    assert_int_equal(b[0].obj.m, b[1].obj.m);
    assert_memory_equal(b[0].theta, b[1].theta, b[0].n * sizeof *b[0].theta);
    const hp__problem *p = hp__hybrid_problem(b[1].h);
    assert_int_equal(p->residual_inverse_K, 1);
    assert_int_equal(hp__hybrid_problem(b[0].h)->residual_inverse_K, 0);
    size_t M = p->collocation.n;
    double worst = 0.0, Kmin = INFINITY, Kmax = 0.0;
    for (size_t i = 0; i < M; i++) {
        double K = p->collocation.K[i];
        Kmin = fmin(Kmin, K), Kmax = fmax(Kmax, K);
        worst = fmax(worst, fabs(r[1][i] * K - r[0][i]) / fmax(fabs(r[0][i]), 1e-300));
    }
    assert_true(Kmax > 5.0 * Kmin); /* the scale is not close to a constant here */
    if (!(worst <= 1e-13)) fail_msg("scaled PINN row * K differs from the unscaled row by %.3e (relative)", worst);
    for (size_t i = M; i < b[0].obj.m; i++) assert_double_equal(r[1][i], r[0][i], 1e-15 * fabs(r[0][i]));
    const hp__point_set *v = &p->validation;
    double zero = 0.0;
    size_t interior = 0;
    for (size_t i = 0; i < v->n; i++)
        if (p->validation_interior[i]) {
            double f = hp__problem_f(v, 1, i, 0) / v->K[i];
            zero += f * f, interior++;
        }
    assert_double_equal(val[1].zero_residual, zero / (double)interior, 1e-12 * zero / (double)interior);
    assert_true(fabs(val[1].zero_residual - val[0].zero_residual) > 0.1 * val[0].zero_residual);
    print_message("inverse_K: PINN rows * K = unscaled rows (worst %.1e), K in [%.3f, %.3f], zero residual "
                  "%.4e (unscaled %.4e)\n", worst, Kmin, Kmax, val[1].zero_residual, val[0].zero_residual);
    for (int k = 0; k < 2; k++) free(r[k]), hybrid_close(&b[k]);

    case_1d("1-D msff, inverse_K, full, hard", "hard\n  residual_scale: inverse_K", MSFF_1D,
            "upscaling: {plugin: global}\n", "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n");
    case_2d("2-D mlp, inverse_K, anisotropic, compressed disk, soft", "soft\n  residual_scale: inverse_K", MLP_2D,
            "upscaling: {plugin: global, mode: anisotropic}\n",
            "coupling: {form: compressed, window: 2, window_shape: disk, delta: 0.3, tau1: 4, tau2: 20}\n");

    /* a value that is not a scale: the error names the key, where it is, and the choices */
    const char *bad = "problem:\n  dim: 1\n  K: \"1 + x\"\n  residual_scale: inverse_k\n";
    hp_config *c = NULL;
    OK(hp_config_load_string(bad, strlen(bad), "bad.yaml", &c));
    hp__hybrid *h = NULL;
    assert_int_not_equal(hp__hybrid_create(c, registry, NULL, NULL, &h), HP_OK);
    assert_null(h);
    assert_contains(hp_error_message(), "bad.yaml:4:");
    assert_contains(hp_error_message(), "residual_scale");
    assert_contains(hp_error_message(), "inverse_K");
    hp_config_destroy(c);
}

/* hp__hybrid_check_gradient (what `hpinn check --gradient` runs) agrees. */
static void test_check_gradient_function(void **state) {
    (void)state;
    char yaml[2048];
    int n = snprintf(yaml, sizeof yaml, PROBLEM_2D, "hard");
    snprintf(yaml + n, sizeof yaml - (size_t)n, "%s%s%s", MLP_2D, "upscaling: {plugin: blocks, blocks: 2}\n",
             "coupling: {form: compressed, window: 1, delta: 0.3, tau2: 20}\n");
    hybrid b;
    hybrid_open(&b, yaml);
    double worst;
    size_t at;
    OK(hp__hybrid_check_gradient(b.h, b.theta, b.n, 1, 1e-6, &worst, &at, NULL)); /* all parameters */
    print_message("hp__hybrid_check_gradient, all %zu parameters, step 1e-6: worst rel %.2e at theta[%zu]\n", b.n,
                  worst, at);
    assert_true(worst < 1e-5);
    assert_int_equal(hp__hybrid_last_terms(b.h)->fallback, 0);
    OK(hp__hybrid_check_gradient(b.h, b.theta, 10, 7, 1e-6, &worst, &at, NULL)); /* random subset */
    assert_true(worst < 1e-5);
    assert_true(at < b.n);
    hybrid_close(&b);
}

/* ---- fallback ------------------------------------------------------------------- */

/* The network's output layer (mlp: the last width + 1 entries of θ) scaled by s
 * scales v = l N (or N) by s, so K̃(s) is affine in s for the flux form:
 * K̃(s) = a + s b with a = K̃(0) = <K> δ. Pick s with K̃(s) = −a/2: not positive
 * definite, by construction rather than by searching seeds. */
static void scale_output(double *theta, const double *theta0, size_t n, size_t n_dir, size_t width, double s) {
    memcpy(theta, theta0, n * sizeof *theta);
    size_t per = n / n_dir;
    for (size_t i = 0; i < n_dir; i++)
        for (size_t k = per * (i + 1) - (width + 1); k < per * (i + 1); k++) theta[k] *= s;
}

/* θ with K̃[0] = −a/2 < 0 (a = K̃ at s = 0) by scaling the output layer; returns s. */
static double non_pd_theta(hybrid *on, size_t width, double *th, double *a_out) {
    size_t n_dir = (size_t)hp__hybrid_n_directions(on->h);
    const hp__hybrid_terms *t = hp__hybrid_last_terms(on->h);
    scale_output(th, on->theta, on->n, n_dir, width, 0.0);
    (void)value_grad(on, th, NULL);
    double a = t->ktilde[0];
    assert_int_equal(t->fallback, 0);
    (void)value_grad(on, on->theta, NULL);
    double b = t->ktilde[0] - a;
    assert_true(fabs(b) > 1e-3 * a);
    double s = -1.5 * a / b;
    scale_output(th, on->theta, on->n, n_dir, width, s);
    *a_out = a;
    return s;
}

static void fallback_case(const char *label, const char *problem_fmt, const char *boundary, const char *network,
                          size_t width, const char *upscaling, const char *coupling_on, const char *coupling_off) {
    char yaml[2048], yaml_off[2048];
    int n = snprintf(yaml, sizeof yaml, problem_fmt, boundary);
    snprintf(yaml + n, sizeof yaml - (size_t)n, "%s%s%s", network, upscaling, coupling_on);
    n = snprintf(yaml_off, sizeof yaml_off, problem_fmt, boundary);
    snprintf(yaml_off + n, sizeof yaml_off - (size_t)n, "%s%s%s", network, upscaling, coupling_off);
    hybrid on, off;
    hybrid_open(&on, yaml);
    hybrid_open(&off, yaml_off);
    assert_int_equal(on.n, off.n);
    double *th = calloc(on.n, sizeof *th), *g_on = calloc(on.n, sizeof *g_on), *g_off = calloc(on.n, sizeof *g_off);
    const hp__hybrid_terms *t = hp__hybrid_last_terms(on.h);
    double a, s = non_pd_theta(&on, width, th, &a);

    double J_on = value_grad(&on, th, g_on);
    assert_int_equal(t->fallback, 1);
    assert_true(isnan(t->coupling));
    assert_double_equal(t->ktilde[0], -0.5 * a, 1e-9 * a); /* K̃ affine in s, as argued */
    double tau1, tau2;
    hp__hybrid_get_weights(on.h, &tau1, &tau2);
    assert_double_equal(J_on, t->j_pinn + tau1 * t->boundary, 1e-13 * J_on);
    double J_off = value_grad(&off, th, g_off);
    const hp__hybrid_terms *t_off = hp__hybrid_last_terms(off.h);
    assert_true(t_off->coupling == 0.0 || isnan(t_off->coupling));
    assert_double_equal(J_on, J_off, 0.0);
    double diff = 0.0;
    for (size_t k = 0; k < on.n; k++) diff = fmax(diff, fabs(g_on[k] - g_off[k]));
    assert_double_equal(diff, 0.0, 0.0);
    /* and that gradient is the gradient of what the step sees: FD with fallback kept */
    memcpy(on.theta, th, on.n * sizeof *th);
    size_t at;
    double worst = fd_worst(&on, g_on, TOTAL, 1, &at);
    print_message("%-44s K~[0] = %.4f (PD value a = %.4f, s = %.3f)  |g - g_plain| = %g  FD worst rel %.2e\n", label,
                  t->ktilde[0], a, s, diff, worst);
    assert_true(worst < 1e-5);
    free(th);
    free(g_on);
    free(g_off);
    hybrid_close(&on);
    hybrid_close(&off);
}

/* A K with a strong trend: K̃(s) − K̃(0) = s<K v'> = −s<K' v> for a hard-BC v,
 * which the oscillating K of PROBLEM_1D nearly averages out. */
#define PROBLEM_1D_TREND                                                                                    \
    "constants: {eps: 0.25}\n"                                                                              \
    "problem:\n  dim: 1\n  K: \"0.2 + 2*x\"\n  q: \"1\"\n  boundary: %s\n"                                \
    "  collocation: {points: 20}\n  validation: {points: 30}\n  reference: {kind: none}\n"                 \
    "coarse: {plugin: p1_1d, elements: 8}\n"

static void test_fallback(void **state) {
    (void)state;
    fallback_case("fallback 1-D mlp hard, full vs form none", PROBLEM_1D_TREND, "hard", MLP_1D, 8,
                  "upscaling: {plugin: global}\n", "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n",
                  "coupling: {form: none, window: 1, delta: eps, tau2: 10}\n");
    fallback_case("fallback 1-D mlp soft, compressed vs tau2 0", PROBLEM_1D, "soft", MLP_1D, 8,
                  "upscaling: {plugin: global}\n",
                  "coupling: {form: compressed, window: 1, delta: eps, tau1: 2, tau2: 10}\n",
                  "coupling: {form: compressed, window: 1, delta: eps, tau1: 2, tau2: 0}\n");
    fallback_case("fallback 2-D mlp isotropic, full vs form none", PROBLEM_2D, "hard", MLP_2D, 6,
                  "upscaling: {plugin: global, mode: isotropic}\n", "coupling: {form: full, window: 1, tau2: 20}\n",
                  "coupling: {form: none, window: 1, tau2: 20}\n");
}

/* The plain PINN (coupling form none, or τ2 = 0) has no coupling term to skip:
 * at a θ whose K̃ is not positive definite it reports fallback 0 and R = 0 (K̃ is
 * still reported); only an enabled coupling falls back (hybrid.c). */
static void test_plain_pinn_not_flagged(void **state) {
    (void)state;
    const char *off[] = {"coupling: {form: none, window: 1, delta: eps, tau2: 10}\n",
                         "coupling: {form: full, window: 1, delta: eps, tau2: 0}\n"};
    char yaml[2048];
    int n = snprintf(yaml, sizeof yaml, PROBLEM_1D_TREND, "hard");
    snprintf(yaml + n, sizeof yaml - (size_t)n, "%s%s", MLP_1D, "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n");
    hybrid on;
    hybrid_open(&on, yaml);
    double *th = calloc(on.n, sizeof *th), a;
    (void)non_pd_theta(&on, 8, th, &a);
    int flagged[2];
    double R[2];
    for (int f = 0; f < 2; f++) {
        n = snprintf(yaml, sizeof yaml, PROBLEM_1D_TREND, "hard");
        snprintf(yaml + n, sizeof yaml - (size_t)n, "%s%s", MLP_1D, off[f]);
        hybrid b;
        hybrid_open(&b, yaml);
        (void)value_grad(&b, th, NULL);
        flagged[f] = hp__hybrid_last_terms(b.h)->fallback;
        R[f] = hp__hybrid_last_terms(b.h)->coupling;
        hybrid_close(&b);
    }
    free(th);
    hybrid_close(&on);
    for (int f = 0; f < 2; f++)
        if (flagged[f] != 0 || R[f] != 0.0)
            fail_msg("plain PINN (%s) at a θ with K̃ not PD: fallback = %d, R = %g; expected 0 and 0 (no coupling to skip)",
                     f ? "tau2 0" : "form none", flagged[f], R[f]);
}

/* ---- validation and fields ------------------------------------------------------- */

/* rel_l2 from fields.csv: columns x[,y], v1..v_nd, u1..u_nr, K; per_direction[i] of each direction with a reference. */
static double rel_l2_from_csv(const char *path, int dim, int n_dir, int n_ref, size_t *rows,
                              double *per_direction) {
    char *text = hp_test_read_file(path);
    if (!text) fail_msg("%s was not written", path);
    char *line = strtok(text, "\n");
    char header[128] = "";
    snprintf(header, sizeof header, "%s", dim == 1 ? "x" : "x,y");
    for (int i = 0; i < n_dir; i++) snprintf(header + strlen(header), sizeof header - strlen(header), ",v%d", i + 1);
    for (int i = 0; i < n_ref; i++) snprintf(header + strlen(header), sizeof header - strlen(header), ",u%d", i + 1);
    strcat(header, ",K");
    assert_string_equal(line, header);
    double err2 = 0.0, ref2 = 0.0, dir_err2[8] = {0}, dir_ref2[8] = {0};
    *rows = 0;
    while ((line = strtok(NULL, "\n"))) {
        double col[16];
        int nc = 0;
        for (char *p = line; nc < 16;) {
            char *end;
            col[nc++] = strtod(p, &end);
            if (end == p) fail_msg("bad number in %s: %s", path, line);
            if (*end != ',') break;
            p = end + 1;
        }
        assert_int_equal(nc, dim + n_dir + n_ref + 1);
        for (int i = 0; i < n_ref; i++) {
            double e = col[dim + i] - col[dim + n_dir + i];
            err2 += e * e;
            ref2 += col[dim + n_dir + i] * col[dim + n_dir + i];
            dir_err2[i] += e * e;
            dir_ref2[i] += col[dim + n_dir + i] * col[dim + n_dir + i];
        }
        (*rows)++;
    }
    free(text);
    for (int i = 0; i < n_ref; i++) per_direction[i] = sqrt(dir_err2[i] / dir_ref2[i]);
    return sqrt(err2 / ref2);
}

static void validate_case(const char *label, const char *yaml, int dim, int n_dir, int n_ref, size_t n_rows) {
    hybrid b;
    hybrid_open(&b, yaml);
    hp__hybrid_validation v;
    OK(hp__hybrid_validate(b.h, b.theta, &v));
    assert_true(isfinite(v.rel_l2) && v.rel_l2 > 0.0);
    assert_true(isfinite(v.fine_residual) && v.fine_residual > 0.0);
    mkdir("objective_fields", 0777);
    OK(hp__outputs_write_fields(b.h, b.theta, "objective_fields"));
    size_t rows;
    double per_direction[8];
    double from_csv = rel_l2_from_csv("objective_fields/fields.csv", dim, n_dir, n_ref, &rows, per_direction);
    assert_int_equal(rows, n_rows);
    print_message("%-44s rel_l2 validate %.15f  fields.csv %.15f\n", label, v.rel_l2, from_csv);
    assert_double_equal(v.rel_l2, from_csv, 1e-13 * from_csv);
    /* each direction on its own, and the directions differ (else a copy of the total would pass) */
    assert_int_equal(v.n_directions, n_ref);
    for (int i = 0; i < n_ref; i++)
        assert_double_equal(v.rel_l2_direction[i], per_direction[i], 1e-13 * per_direction[i]);
    if (n_ref == 2) assert_true(fabs(v.rel_l2_direction[0] - v.rel_l2_direction[1]) > 1e-6 * v.rel_l2);
    char *nodes = hp_test_read_file("objective_fields/nodes.csv");
    assert_non_null(nodes);
    assert_contains(nodes, dim == 1 ? "x,v1,Qv1,y1\n" : "x,y,v1,Qv1,y1");
    free(nodes);
    /* θ = 0: the network output is 0, so v = 0 and rel_l2 = 1 exactly */
    memset(b.theta, 0, b.n * sizeof *b.theta);
    OK(hp__hybrid_validate(b.h, b.theta, &v));
    assert_double_equal(v.rel_l2, 1.0, 1e-15);
    hybrid_close(&b);
}

static void test_validate_matches_fields(void **state) {
    (void)state;
    /* 1-D, the paper's K with the integral reference */
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "constants: {eps: 0.25}\n"
             "problem:\n  dim: 1\n  K: \"1/(1.2 + sin(2*pi*x/eps))\"\n  q: \"-3*(2*x - 1)\"\n"
             "  collocation: {points: 20}\n  validation: {points: 57}\n  reference: {kind: integral}\n"
             "coarse: {plugin: p1_1d, elements: 8}\n%s"
             "coupling: {form: full, window: 1, delta: eps, tau2: 10}\n",
             MLP_1D);
    validate_case("validate 1-D, integral reference", yaml, 1, 1, 1, 57);
    /* 2-D anisotropic with a small FEM reference: two directions */
    snprintf(yaml, sizeof yaml,
             "problem:\n  dim: 2\n  K: \"2 + sin(2*pi*x)*sin(2*pi*y) + 0.5*x\"\n  q: \"1 + x*y\"\n"
             "  collocation: {points: 6}\n  validation: {points: 9}\n  reference: {kind: fem, fem_elements: 16}\n"
             "coarse: {plugin: p1_2d, elements: 4}\n%s"
             "upscaling: {plugin: global, mode: anisotropic}\n"
             "coupling: {form: full, window: 1, tau2: 10}\n",
             MLP_2D);
    validate_case("validate 2-D anisotropic, fem reference", yaml, 2, 2, 2, 81);
}

/* BUG DEMONSTRATION (fails at the time of writing): a 2-D pipeline with the
 * default validation grid (validation.points 1000 per axis → 10⁶ points) and the
 * msff defaults (width 100, 100 features) cannot be validated: the network's
 * forward on the whole grid at once asks for ~51 GB ("out of memory allocating
 * 51248003200 bytes"), so every validation of a 2-D run with default settings
 * fails. Validation needs no backward, so hp__hybrid_validate can evaluate the
 * grid in bounded chunks; or the 2-D default grid must be smaller. Failed huge
 * allocations are refused up front by the kernel (here: 51 GB > RAM + swap), and
 * under ASan allocator_may_return_null (below) turns them into HP_ERR_NOMEM
 * instead of an abort, so this test fails cleanly rather than crashing. */
static void test_validate_2d_default_grid(void **state) {
    (void)state;
    hybrid b;
    hybrid_open(&b, "problem:\n  dim: 2\n  K: \"2 + sin(2*pi*x)*sin(2*pi*y)\"\n  q: \"1\"\n"
                    "  collocation: {points: 4}\n  reference: {kind: none}\n"
                    "network: {plugin: msff, sigmas: [1, 4]}\n"
                    "coarse: {plugin: p1_2d, elements: 4}\n"
                    "coupling: {form: full, tau2: 10}\n");
    hp__hybrid_validation v = {.rel_l2 = NAN, .fine_residual = NAN, .zero_residual = NAN};
    hp_status st = hp__hybrid_validate(b.h, b.theta, &v);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", st == HP_OK ? "" : hp_error_message());
    hybrid_close(&b); /* before any failure: a failed assertion must not leak */
    if (st != HP_OK) fail_msg("hp__hybrid_validate on the default 2-D validation grid (1000 per axis): %s", msg);
    assert_true(isfinite(v.fine_residual));
}

/* Huge failed allocations return NULL under ASan too (see the test above). */
__attribute__((used, visibility("default"))) const char *__asan_default_options(void) {
    return "allocator_may_return_null=1";
}

/* ---- `hpinn check --gradient` on configs/ ------------------------------------------ */

static char out_text[1 << 16], err_text[1 << 16];

static int run_hpinn(const char *args) {
    return hp_test_run_hpinn(args, "objective_cli", out_text, sizeof out_text, err_text, sizeof err_text);
}

/* The *.yaml files of one directory, appended to paths. */
static size_t list_yaml(const char *dir, char paths[][1024], size_t n, size_t max) {
    DIR *d = opendir(dir);
    if (!d) return n;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".yaml") == 0) snprintf(paths[n++], 1024, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    return n;
}

/* Every *.yaml in configs/ and in each of its subdirectories, sorted: a new
 * directory of configs is checked without being named here. */
static size_t list_configs(char paths[][1024], size_t max) {
    const char *src = getenv("HPINN_SOURCE_DIR");
    assert_non_null(src);
    char top[512];
    snprintf(top, sizeof top, "%s/configs", src);
    size_t n = list_yaml(top, paths, 0, max);
    DIR *d = opendir(top);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char sub[1024];
        struct stat sb;
        snprintf(sub, sizeof sub, "%s/%s", top, e->d_name);
        if (stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode)) n = list_yaml(sub, paths, n, max);
    }
    closedir(d);
    assert_true(n < max);
    qsort(paths, n, 1024, (int (*)(const void *, const void *))strcmp);
    return n;
}

static int has_network_section(const char *path) {
    char *text = hp_test_read_file(path);
    assert_non_null(text);
    int has = strncmp(text, "network:", 8) == 0 || strstr(text, "\nnetwork:") != NULL;
    free(text);
    return has;
}

/* J_pinn and R from `check --gradient` output (R is NAN after a fallback). */
static int parse_terms(double *j_pinn, double *R) {
    const char *t = strstr(out_text, "J_pinn ");
    if (!t) return 0;
    char rbuf[32] = "";
    if (sscanf(t, "J_pinn %lf boundary %*f R %31s", j_pinn, rbuf) != 2) return 0;
    *R = strcmp(rbuf, "nan") == 0 || strcmp(rbuf, "-nan") == 0 ? NAN : strtod(rbuf, NULL);
    return 1;
}

static void note_failure(char *failures, size_t size, const char *name, const char *what, int rc) {
    const char *w = strstr(out_text, "worst relative error");
    char line[160] = "";
    if (w) sscanf(w, "%159[^\n]", line);
    snprintf(failures + strlen(failures), size - strlen(failures), "  %s %s: exit %d, %s; stderr: %s\n", name, what, rc,
             line, err_text);
}

/* A config with a network: `check --gradient` exits 0 with PASS. At the paper's
 * τ2 the coupling is a tiny share of Ĵ at the initial θ, and K̃ may not be
 * positive definite there (then only the PINN gradient is checked), so each
 * config is checked a second time with the coupling path forced into play: the
 * first of seeds 1..6 whose K̃ is positive definite, and τ2 = J_pinn / R so that
 * τ2 R is as large as J_pinn. A pure upscaling config (no network section):
 * exit 2 with "network: missing section". All configs run; failures are
 * reported together. */
static void test_cli_check_gradient_configs(void **state) {
    (void)state;
    static char paths[64][1024];
    size_t n = list_configs(paths, 64);
    assert_true(n > 0);
    char failures[16384] = "";
    for (size_t i = 0; i < n; i++) {
        char args[2048];
        const char *name = strstr(paths[i], "configs/");
        /* the 2-D result pipelines check the same objective on fewer points */
        const char *fewer = strstr(paths[i], "configs/2d/") ? " --set problem.collocation.points=24" : "";
        snprintf(args, sizeof args, "check --gradient %s%s", paths[i], fewer);
        int rc = run_hpinn(args);
        if (!has_network_section(paths[i])) {
            print_message("%-32s exit %d  (no network section) %s", name, rc, err_text);
            if (rc != 2 || !strstr(err_text, "network: missing section"))
                note_failure(failures, sizeof failures, name, "(no network section, expected exit 2 \"network: missing section\")", rc);
            continue;
        }
        const char *w = strstr(out_text, "worst relative error");
        char line[160] = "";
        if (w) sscanf(w, "%159[^\n]", line);
        double J, R;
        int parsed = parse_terms(&J, &R);
        print_message("%-32s exit %d  %s  (J_pinn %.3e, R %.3e)\n", name, rc, line, parsed ? J : NAN, parsed ? R : NAN);
        if (rc != 0 || !strstr(out_text, "PASS") || !parsed) {
            note_failure(failures, sizeof failures, name, "as configured", rc);
            continue;
        }
        int seed = 1;
        while (isnan(R) && seed < 6) {
            seed++;
            snprintf(args, sizeof args, "check --gradient %s%s --set network.seed=%d", paths[i], fewer, seed);
            rc = run_hpinn(args);
            if (rc != 0 || !parse_terms(&J, &R)) break;
        }
        if (isnan(R) || !(R > 0.0)) {
            note_failure(failures, sizeof failures, name, "(no seed in 1..6 with a positive definite K~ at init)", rc);
            continue;
        }
        snprintf(args, sizeof args, "check --gradient %s%s --set network.seed=%d --set coupling.tau2=%.6g", paths[i],
                 fewer, seed, J / R);
        rc = run_hpinn(args);
        w = strstr(out_text, "worst relative error");
        line[0] = '\0';
        if (w) sscanf(w, "%159[^\n]", line);
        print_message("%-32s   seed %d, tau2 = J_pinn/R = %.3e: exit %d  %s\n", "", seed, J / R, rc, line);
        if (rc != 0 || !strstr(out_text, "PASS") || strstr(out_text, "not positive definite"))
            note_failure(failures, sizeof failures, name, "with the coupling balanced", rc);
    }
    if (failures[0]) fail_msg("hpinn check --gradient failed on configs:\n%s", failures);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_1d_msff_full_hard),
        cmocka_unit_test(test_gradient_1d_mlp_compressed_hard),
        cmocka_unit_test(test_gradient_1d_soft),
        cmocka_unit_test(test_gradient_1d_energy),
        cmocka_unit_test(test_gradient_2d_global_isotropic),
        cmocka_unit_test(test_gradient_2d_global_anisotropic),
        cmocka_unit_test(test_gradient_2d_energy),
        cmocka_unit_test(test_gradient_2d_blocks),
        cmocka_unit_test(test_gradient_plain_pinn),
        cmocka_unit_test(test_residual_scale_inverse_K),
        cmocka_unit_test(test_check_gradient_function),
        cmocka_unit_test(test_fallback),
        cmocka_unit_test(test_plain_pinn_not_flagged),
        cmocka_unit_test(test_validate_matches_fields),
        cmocka_unit_test(test_validate_2d_default_grid),
        cmocka_unit_test(test_cli_check_gradient_configs),
    };
    return cmocka_run_group_tests(tests, hp_test_registry_setup, hp_test_registry_teardown);
}
