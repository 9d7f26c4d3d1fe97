/* test_mlp.c — the mlp network plugin, loaded through the registry, and the
 * generic network checks that test_msff.c reuses (it includes this file with
 * NETWORK_CHECKS_ONLY defined):
 *   - grad v and Lap v against central differences in x (with and without the lift);
 *   - dL/dtheta against 4th-order central differences on every parameter for
 *     L = sum_p (alpha v^2 + beta . grad v + gamma (Lap v)^2), orders 0, 1, 2;
 *   - jacobian rows summed = backward, and each row = backward at one point;
 *   - same seed, same theta and outputs bit for bit; other seed, others;
 *   - the tangent pass against central differences in theta and <Jv,u> = <v,J'u>;
 *   - layout blocks tile theta; usage errors are reported, not crashed on. */
#include "test_util.h"

#include "hpinn/jets.h"
#include "hpinn/network.h"
#include "hpinn/registry.h"
#include "hpinn/rng.h"
#include "network_runner.h"

/* ---- harness ---------------------------------------------------------------------- */

static hp_registry *g_registry;
static hp_rng g_net_rng;

static int open_registry(void **state) {
    (void)state;
    hp_rng_seed(&g_net_rng, 2024, 3);
    if (hp_registry_open(&g_registry) != HP_OK) {
        fprintf(stderr, "registry: %s\n", hp_error_message());
        return -1;
    }
    return 0;
}

static int close_registry(void **state) {
    (void)state;
    hp_registry_close(g_registry);
    return 0;
}

/* A network through hpinn's runner, with one tape per "slot" number the checks
 * use (a slot's tape is recreated when its size or order changes, and re-pointed
 * when its points do), so two point sets can be alive at once. */
#define NET_SLOTS 4
typedef struct net {
    const hp_plugin_descriptor *desc;
    hp_params *params;
    hp__net *rn;
    int dim, n_out;
    size_t n_params;
    double *theta;
    hp__tape *tape[NET_SLOTS];
    int tape_order[NET_SLOTS];
} net;

/* Create `plugin` from "key=value" strings and initialise theta. */
static void net_open(net *n, const char *plugin, const char *const *set, size_t n_set, int dim,
                     int n_out) {
    memset(n, 0, sizeof *n);
    if (hp_registry_find(g_registry, HP_PLUGIN_NETWORK, plugin, &n->desc) != HP_OK)
        fail_msg("%s", hp_error_message());
    if (hp_params_from_strings(n->desc->params, "network", set, n_set, &n->params) != HP_OK)
        fail_msg("%s", hp_error_message());
    if (hp__net_create(n->desc, n->params, dim, n_out, &n->rn) != HP_OK) fail_msg("%s", hp_error_message());
    n->dim = dim;
    n->n_out = n_out;
    n->n_params = hp__net_n_params(n->rn);
    n->theta = calloc(n->n_params, sizeof *n->theta);
    assert_non_null(n->theta);
    assert_int_equal(hp__net_init(n->rn, n->theta), HP_OK);
}

static void net_close(net *n) {
    for (int s = 0; s < NET_SLOTS; s++) hp__tape_destroy(n->tape[s]);
    hp__net_destroy(n->rn);
    hp_params_destroy(n->params);
    free(n->theta);
}

/* The tape of `slot` for these points and order. */
static hp__tape *slot_tape(net *n, int slot, const double *x, size_t P, int order) {
    hp__tape **t = &n->tape[slot];
    if (*t && (hp__tape_points(*t) != P || n->tape_order[slot] != order)) {
        hp__tape_destroy(*t);
        *t = NULL;
    }
    if (!*t) {
        if (hp__tape_create(n->rn, x, P, order, t) != HP_OK) fail_msg("%s", hp_error_message());
        n->tape_order[slot] = order;
    } else if (memcmp(hp__tape_x(*t), x, P * (size_t)n->dim * sizeof *x) != 0) {
        hp__tape_set_points(*t, x);
    }
    return *t;
}

static hp_status net_backward(net *n, int slot, const double *cot, double *grad) {
    return hp__net_backward(n->rn, n->tape[slot], n->theta, cot, grad);
}

static hp_status net_jacobian(net *n, int slot, const double *w, double *rows) {
    return hp__net_jacobian(n->rn, n->tape[slot], n->theta, w, rows);
}

static double urand(void) { return hp_rng_uniform(&g_net_rng); }

static double *doubles(size_t count) {
    double *p = calloc(count ? count : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

static void random_points(double *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 0.1 + 0.8 * urand();
}

/* Forward on `slot`, optionally lifted, into a caller-owned copy. */
static void eval(net *n, int slot, const double *x, size_t P, int order, int lift, double *v) {
    const double *out;
    if (hp__net_forward(n->rn, slot_tape(n, slot, x, P, order), n->theta, &out) != HP_OK)
        fail_msg("%s", hp_error_message());
    size_t len = (size_t)n->n_out * hp_jet_components(order, n->dim) * P;
    memcpy(v, out, len * sizeof *v);
    if (lift) hp_jet_lift_forward(v, v, x, (size_t)n->n_out, P, order, n->dim);
}

/* ---- input derivatives ------------------------------------------------------------ */

/* The order-2 jet against central differences in x of the order-0 value, on
 * slot 0 while the differences use slot 1. Lower orders must agree with it. */
static void check_input_derivatives(net *n, int lift) {
    const size_t P = 6;
    int d = n->dim, C = hp_jet_components(2, d), no = n->n_out;
    double *x = doubles(P * d), *xs = doubles(P * d);
    double *jet = doubles(no * C * P), *low = doubles(no * C * P);
    double *v0 = doubles(no * P), *vp = doubles(no * P), *vm = doubles(no * P);
    random_points(x, P * d);
    eval(n, 0, x, P, 2, lift, jet);
    eval(n, 1, x, P, 0, lift, v0);
    double *lap = doubles(no * P);
    double scale_g = 1.0, scale_l = 1.0;
    for (int o = 0; o < no; o++)
        for (size_t p = 0; p < P; p++) {
            for (int c = 1; c <= d; c++) scale_g = fmax(scale_g, fabs(jet[(o * C + c) * P + p]));
            scale_l = fmax(scale_l, fabs(jet[(o * C + d + 1) * P + p]));
        }
    for (int c = 0; c < d; c++) {
        /* gradient: h = 1e-5 (error ~ h^2 v''' + eps/h); Laplacian: h = 1e-4 */
        const double hs[2] = {1e-5, 1e-4};
        for (int pass = 0; pass < 2; pass++) {
            double h = hs[pass];
            memcpy(xs, x, P * d * sizeof *x);
            for (size_t p = 0; p < P; p++) xs[p * d + c] += h;
            eval(n, 1, xs, P, 0, lift, vp);
            for (size_t p = 0; p < P; p++) xs[p * d + c] -= 2 * h;
            eval(n, 1, xs, P, 0, lift, vm);
            for (int o = 0; o < no; o++)
                for (size_t p = 0; p < P; p++) {
                    size_t i = o * P + p;
                    if (pass == 0) {
                        double fd = (vp[i] - vm[i]) / (2 * h);
                        double got = jet[(o * C + 1 + c) * P + p];
                        if (fabs(got - fd) > 1e-7 * scale_g)
                            fail_msg("%s d=%d lift=%d: dv/dx%d = %.12g, FD %.12g", n->desc->name,
                                     d, lift, c + 1, got, fd);
                    } else {
                        lap[i] += (vp[i] - 2 * v0[i] + vm[i]) / (h * h);
                    }
                }
        }
    }
    for (int o = 0; o < no; o++)
        for (size_t p = 0; p < P; p++) {
            double got = jet[(o * C + d + 1) * P + p], fd = lap[o * P + p];
            if (fabs(got - fd) > 1e-5 * scale_l)
                fail_msg("%s d=%d lift=%d: Lap v = %.12g, FD %.12g", n->desc->name, d, lift, got,
                         fd);
            /* the order-0 value at the same points is the jet's value */
            assert_double_equal(jet[o * C * P + p], v0[o * P + p], 1e-14 * fmax(1, fabs(got)));
        }
    /* order 1 on slot 2: value and gradient identical to order 2's */
    eval(n, 2, x, P, 1, lift, low);
    int C1 = hp_jet_components(1, d);
    for (int o = 0; o < no; o++)
        for (int c = 0; c < C1; c++)
            for (size_t p = 0; p < P; p++)
                assert_double_equal(low[(o * C1 + c) * P + p], jet[(o * C + c) * P + p],
                                    1e-13 * fmax(1.0, scale_g));
    free(x); free(xs); free(jet); free(low); free(v0); free(vp); free(vm); free(lap);
}

/* ---- parameter gradients ---------------------------------------------------------- */

typedef struct loss_weights {
    double *alpha, *beta, *gamma; /* per (output, point); beta per (output, coord, point) */
} loss_weights;

/* L = sum_{o,p} alpha v^2 + beta . grad v + gamma (Lap v)^2 on the (lifted) jet,
 * using only the components `order` provides. */
static double loss(const double *v, const loss_weights *w, int no, size_t P, int order, int d) {
    int C = hp_jet_components(order, d);
    double L = 0.0;
    for (int o = 0; o < no; o++)
        for (size_t p = 0; p < P; p++) {
            double val = v[(size_t)o * C * P + p];
            L += w->alpha[o * P + p] * val * val;
            if (order >= 1)
                for (int c = 1; c <= d; c++)
                    L += w->beta[(o * d + c - 1) * P + p] * v[(o * C + c) * P + p];
            if (order >= 2) {
                double lap = v[(o * C + d + 1) * P + p];
                L += w->gamma[o * P + p] * lap * lap;
            }
        }
    return L;
}

/* dL / d(jet), pulled back through the lift when there is one. */
static void loss_cotangent(double *g, const double *v, const double *x, const loss_weights *w,
                           int no, size_t P, int order, int d, int lift) {
    int C = hp_jet_components(order, d);
    memset(g, 0, (size_t)no * C * P * sizeof *g);
    for (int o = 0; o < no; o++)
        for (size_t p = 0; p < P; p++) {
            g[(size_t)o * C * P + p] = 2 * w->alpha[o * P + p] * v[(size_t)o * C * P + p];
            if (order >= 1)
                for (int c = 1; c <= d; c++) g[(o * C + c) * P + p] = w->beta[(o * d + c - 1) * P + p];
            if (order >= 2)
                g[(o * C + d + 1) * P + p] = 2 * w->gamma[o * P + p] * v[(o * C + d + 1) * P + p];
        }
    if (lift) hp_jet_lift_backward(g, g, x, (size_t)no, P, order, d);
}

static double loss_at(net *n, const double *x, size_t P, int order, int lift,
                      const loss_weights *w, double *v) {
    eval(n, 0, x, P, order, lift, v);
    return loss(v, w, n->n_out, P, order, n->dim);
}

/* Step of the 4th-order central differences, relative to max(1, |theta_i|):
 * measured on these nets, 1e-3 leaves truncation error ~1e-5 on the Fourier B of
 * msff (oscillatory in B), 3e-5 lets roundoff reach 2e-6; 3e-4 keeps all < 1e-7. */
#define FD_STEP 3e-4

/* max over parameters of |g - fd| / max(|fd|, 1e-6 * max|fd|): relative error,
 * floored only for entries six orders below the largest. */
static void check_param_gradient(net *n, int order, int lift) {
    const size_t P = 5;
    int d = n->dim, no = n->n_out, C = hp_jet_components(order, d);
    double *x = doubles(P * d), *v = doubles(no * C * P), *g = doubles(no * C * P);
    loss_weights w = {doubles(no * P), doubles(no * d * P), doubles(no * P)};
    random_points(x, P * d);
    for (size_t i = 0; i < (size_t)no * P; i++) {
        w.alpha[i] = 2 * urand() - 1;
        w.gamma[i] = 2 * urand() - 1;
    }
    for (size_t i = 0; i < (size_t)no * d * P; i++) w.beta[i] = 2 * urand() - 1;
    /* move off the zero biases so their gradients are generic too */
    for (size_t i = 0; i < n->n_params; i++) n->theta[i] += 0.1 * (2 * urand() - 1);

    double *grad = doubles(n->n_params), *fd = doubles(n->n_params);
    loss_at(n, x, P, order, lift, &w, v);
    loss_cotangent(g, v, x, &w, no, P, order, d, lift);
    for (size_t i = 0; i < n->n_params; i++) grad[i] = 1.0; /* backward accumulates */
    assert_int_equal(net_backward(n, 0, g, grad), HP_OK);
    for (size_t i = 0; i < n->n_params; i++) grad[i] -= 1.0;

    double fd_max = 0.0;
    for (size_t i = 0; i < n->n_params; i++) {
        double keep = n->theta[i], h = FD_STEP * fmax(1.0, fabs(keep)), f[4];
        const double steps[4] = {-2, -1, 1, 2};
        for (int s = 0; s < 4; s++) {
            n->theta[i] = keep + steps[s] * h;
            f[s] = loss_at(n, x, P, order, lift, &w, v);
        }
        n->theta[i] = keep;
        fd[i] = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h);
        fd_max = fmax(fd_max, fabs(fd[i]));
    }
    double worst = 0.0;
    size_t worst_i = 0;
    for (size_t i = 0; i < n->n_params; i++) {
        double e = fabs(grad[i] - fd[i]) / fmax(fabs(fd[i]), 1e-6 * fd_max);
        if (e > worst) worst = e, worst_i = i;
    }
    if (!(worst < 1e-6))
        fail_msg("%s d=%d order=%d lift=%d: dL/dtheta[%zu] = %.15g, FD %.15g (rel %.2e)",
                 n->desc->name, d, order, lift, worst_i, grad[worst_i], fd[worst_i], worst);
    print_message("    %s d=%d order=%d lift=%d: %zu params, max rel err %.2e\n", n->desc->name,
                  d, order, lift, n->n_params, worst);

    /* jacobian rows: summed = backward; row p = backward of point p alone */
    {
        double *rows = doubles(P * n->n_params), *gp = doubles(no * C * P);
        double *one = doubles(n->n_params);
        loss_at(n, x, P, order, lift, &w, v); /* restore the forward on slot 0 */
        assert_int_equal(net_jacobian(n, 0, g, rows), HP_OK);
        for (size_t i = 0; i < n->n_params; i++) {
            double s = 0.0;
            for (size_t p = 0; p < P; p++) s += rows[p * n->n_params + i];
            assert_double_equal(s, grad[i], 1e-11 * fmax(1.0, fd_max));
        }
        size_t p = P / 2;
        for (size_t k = 0; k < (size_t)no * C * P; k++) gp[k] = k % P == p ? g[k] : 0.0;
        assert_int_equal(net_backward(n, 0, gp, one), HP_OK);
        for (size_t i = 0; i < n->n_params; i++)
            assert_double_equal(rows[p * n->n_params + i], one[i], 1e-11 * fmax(1.0, fd_max));
        free(rows); free(gp); free(one);
    }
    free(x); free(v); free(g); free(w.alpha); free(w.beta); free(w.gamma); free(grad); free(fd);
}

/* ---- determinism, layout, errors ---------------------------------------------------- */

/* `set` without a seed; seed_a is used twice, seed_c once. */
static void check_seed(const char *plugin, const char *const *set, size_t n_set,
                       const char *seed_a, const char *seed_c) {
    net a, b, c;
    const char *with[16];
    assert_true(n_set < 16);
    memcpy(with, set, n_set * sizeof *set);
    with[n_set] = seed_a;
    net_open(&a, plugin, with, n_set + 1, 2, 1);
    net_open(&b, plugin, with, n_set + 1, 2, 1);
    with[n_set] = seed_c;
    net_open(&c, plugin, with, n_set + 1, 2, 1);
    assert_int_equal(a.n_params, b.n_params);
    assert_memory_equal(a.theta, b.theta, a.n_params * sizeof *a.theta);
    const size_t P = 7;
    double x[14], va[3 * 4 * 7], vb[3 * 4 * 7], vc[3 * 4 * 7];
    random_points(x, P * 2);
    eval(&a, 0, x, P, 2, 0, va);
    eval(&b, 3, x, P, 2, 0, vb);
    eval(&c, 0, x, P, 2, 0, vc);
    assert_memory_equal(va, vb, 4 * P * sizeof *va);
    size_t same = 0;
    for (size_t i = 0; i < a.n_params; i++) same += a.theta[i] == c.theta[i];
    /* zero biases coincide; every weight must differ */
    size_t biases = 0;
    const hp_param_block *blocks;
    size_t nb = hp__net_layout(a.rn, &blocks);
    for (size_t k = 0; k < nb; k++)
        if (strstr(blocks[k].name, ".bias")) biases += blocks[k].rows * blocks[k].cols;
    assert_int_equal(same, biases);
    assert_true(memcmp(va, vc, P * sizeof *va) != 0);
    net_close(&a); net_close(&b); net_close(&c);
}

/* Forward, backward (grad starting at zero) and jacobian rows on slot 0 at P points. */
static void run_all(net *n, const double *x, size_t P, int order, const double *cot, double *v,
                    double *grad, double *rows) {
    eval(n, 0, x, P, order, 0, v);
    memset(grad, 0, n->n_params * sizeof *grad);
    assert_int_equal(net_backward(n, 0, cot, grad), HP_OK);
    if (rows) assert_int_equal(net_jacobian(n, 0, cot, rows), HP_OK);
}

static void assert_close(const double *a, const double *b, size_t len, double rel,
                         const char *what, const char *variant) {
    double scale = 0.0;
    for (size_t i = 0; i < len; i++) scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < len; i++)
        if (!(fabs(a[i] - b[i]) <= rel * fmax(scale, 1e-300)))
            fail_msg("%s with %s: entry %zu = %.17g, reference %.17g", what, variant, i, a[i], b[i]);
}

/* The points cut into chunks (`chunk_points`) that threads take dynamically
 * (`threads`) must give what one thread in one chunk gives, up to rounding
 * (1e-13 relative; the GEMMs and gradient sums are cut differently), and the
 * same bits for every thread count at a given chunk size, run after run. Also
 * fewer points than threads, and one chunk per point. */
static void check_threads(const char *plugin, const char *const *set, size_t n_set, int d,
                          int n_out) {
    /* variant 0 is the reference; 1..3 must agree bit for bit; 4, 5 to rounding */
    const char *variants[][2] = {{"threads=1", "chunk_points=100000"},
                                 {"threads=1", "chunk_points=2"},
                                 {"threads=2", "chunk_points=2"},
                                 {"threads=3", "chunk_points=2"},
                                 {"threads=2", "chunk_points=1"},
                                 {"threads=2", "chunk_points=64"}};
    const size_t n_var = sizeof variants / sizeof variants[0];
    const size_t Ps[3] = {11, 1, 37};
    const char *with[20];
    assert_true(n_set + 2 <= 20);
    memcpy(with, set, n_set * sizeof *set);
    net ref;
    with[n_set] = variants[0][0];
    with[n_set + 1] = variants[0][1];
    net_open(&ref, plugin, with, n_set + 2, d, n_out);
    for (size_t i = 0; i < ref.n_params; i++) ref.theta[i] += 0.1 * (2 * urand() - 1);
    size_t np = ref.n_params, C2 = (size_t)hp_jet_components(2, d);
    for (int ip = 0; ip < 3; ip++) {
        size_t P = Ps[ip], len_max = (size_t)n_out * C2 * P;
        double *x = doubles(P * d), *cot = doubles(len_max);
        random_points(x, P * d);
        for (size_t i = 0; i < len_max; i++) cot[i] = 2 * urand() - 1;
        double *v_ref = doubles(len_max), *g_ref = doubles(np), *r_ref = doubles(P * np);
        double *v = doubles(len_max), *g = doubles(np), *r = doubles(P * np);
        double *v1 = doubles(len_max), *g1 = doubles(np), *r1 = doubles(P * np);
        double *v2 = doubles(len_max), *g2 = doubles(np);
        for (int order = 0; order <= 2; order++) {
            size_t len = (size_t)n_out * hp_jet_components(order, d) * P;
            run_all(&ref, x, P, order, cot, v_ref, g_ref, r_ref);
            for (size_t k = 1; k < n_var; k++) {
                char variant[64];
                snprintf(variant, sizeof variant, "%s %s P=%zu order=%d", variants[k][0],
                         variants[k][1], P, order);
                net n;
                with[n_set] = variants[k][0];
                with[n_set + 1] = variants[k][1];
                net_open(&n, plugin, with, n_set + 2, d, n_out);
                assert_int_equal(n.n_params, np);
                memcpy(n.theta, ref.theta, np * sizeof *n.theta);
                run_all(&n, x, P, order, cot, v, g, r);
                assert_close(v, v_ref, len, 1e-13, "output", variant);
                assert_close(g, g_ref, np, 1e-12, "gradient", variant);
                assert_close(r, r_ref, P * np, 1e-12, "jacobian", variant);
                if (k == 1) { /* the bits every thread count must reproduce */
                    memcpy(v1, v, len * sizeof *v);
                    memcpy(g1, g, np * sizeof *g);
                    memcpy(r1, r, P * np * sizeof *r);
                } else if (k <= 3) {
                    assert_memory_equal(v, v1, len * sizeof *v);
                    assert_memory_equal(g, g1, np * sizeof *g);
                    assert_memory_equal(r, r1, P * np * sizeof *r);
                }
                run_all(&n, x, P, order, cot, v2, g2, NULL);
                assert_memory_equal(v, v2, len * sizeof *v);
                assert_memory_equal(g, g2, np * sizeof *g);
                net_close(&n);
            }
        }
        free(x); free(cot); free(v_ref); free(g_ref); free(r_ref);
        free(v); free(g); free(r); free(v1); free(g1); free(r1); free(v2); free(g2);
    }
    net_close(&ref);
}

static void check_layout(net *n, const char *const *names, size_t n_names) {
    const hp_param_block *blocks;
    size_t nb = hp__net_layout(n->rn, &blocks);
    assert_int_equal(nb, n_names);
    size_t off = 0;
    for (size_t k = 0; k < nb; k++) {
        assert_string_equal(blocks[k].name, names[k]);
        assert_int_equal(blocks[k].offset, off);
        off += blocks[k].rows * blocks[k].cols;
    }
    assert_int_equal(off, n->n_params);
}

/* A parameter set the table must reject, with the key named in the message. */
static void check_rejected(const char *plugin, const char *const *set, size_t n_set,
                           const char *key) {
    const hp_plugin_descriptor *desc;
    assert_int_equal(hp_registry_find(g_registry, HP_PLUGIN_NETWORK, plugin, &desc), HP_OK);
    hp_params *p = NULL;
    hp_status st = hp_params_from_strings(desc->params, "network", set, n_set, &p);
    if (st != HP_ERR_CONFIG) fail_msg("%s: %s accepted (status %d)", plugin, set[n_set - 1], st);
    assert_null(p);
    assert_contains(hp_error_message(), key);
    assert_contains(hp_error_message(), "<args>:1:"); /* located at the argument */
    print_message("    rejected %s: %s\n", set[n_set - 1], hp_error_message());
}

static void check_usage_errors(net *n) {
    const double x[2] = {0.5, 0.5};
    const double *out;
    double g[8] = {0};
    double *grad = doubles(n->n_params);
    /* a tape whose points have not been through a forward yet */
    hp__tape *t = NULL;
    assert_int_equal(hp__tape_create(n->rn, x, 1, 2, &t), HP_OK);
    assert_int_equal(hp__net_backward(n->rn, t, n->theta, g, grad), HP_ERR_INTERNAL);
    assert_contains(hp_error_message(), "without a forward");
    /* new points: a forward again before any reverse */
    assert_int_equal(hp__net_forward(n->rn, t, n->theta, &out), HP_OK);
    hp__tape_set_points(t, x);
    assert_int_equal(hp__net_backward(n->rn, t, n->theta, g, grad), HP_ERR_INTERNAL);
    hp__tape_destroy(t);
    assert_int_equal(hp__tape_create(n->rn, x, 1, 3, &t), HP_ERR_INTERNAL);
    assert_contains(hp_error_message(), "order");
    assert_null(t);
    /* the output stays where it was: a tape never reallocates */
    const double *first, *second;
    assert_int_equal(hp__tape_create(n->rn, x, 1, 2, &t), HP_OK);
    assert_int_equal(hp__net_forward(n->rn, t, n->theta, &first), HP_OK);
    assert_int_equal(hp__net_forward(n->rn, t, n->theta, &second), HP_OK);
    assert_ptr_equal(first, second);
    hp__tape_destroy(t);
    free(grad);
}

/* The tangent pass is the directional derivative in theta: against central
 * differences of the forward along a random dtheta, every order, and the adjoint
 * identity <J v, u> = <v, J^T u> with the reverse pass. */
static void check_tangent(net *n) {
    const size_t P = 9;
    int d = n->dim, no = n->n_out;
    double *x = doubles(P * d), *dth = doubles(n->n_params), *keep = doubles(n->n_params);
    random_points(x, P * d);
    for (size_t i = 0; i < n->n_params; i++) {
        n->theta[i] += 0.1 * (2 * urand() - 1);
        dth[i] = 2 * urand() - 1;
    }
    memcpy(keep, n->theta, n->n_params * sizeof *keep);
    for (int order = 0; order <= 2; order++) {
        size_t len = (size_t)no * hp_jet_components(order, d) * P;
        double *vp = doubles(len), *vm = doubles(len), *tan = doubles(len), *u = doubles(len), *jtu = doubles(n->n_params);
        const double h = 1e-6;
        eval(n, 0, x, P, order, 0, vp); /* slot 0: the tape at theta */
        assert_int_equal(hp__net_tangent(n->rn, n->tape[0], n->theta, dth, tan), HP_OK);
        for (size_t i = 0; i < n->n_params; i++) n->theta[i] = keep[i] + h * dth[i];
        eval(n, 1, x, P, order, 0, vp);
        for (size_t i = 0; i < n->n_params; i++) n->theta[i] = keep[i] - h * dth[i];
        eval(n, 1, x, P, order, 0, vm);
        memcpy(n->theta, keep, n->n_params * sizeof *keep);
        double scale = 1.0, worst = 0.0;
        for (size_t k = 0; k < len; k++) scale = fmax(scale, fabs(tan[k]));
        for (size_t k = 0; k < len; k++) worst = fmax(worst, fabs(tan[k] - (vp[k] - vm[k]) / (2 * h)) / scale);
        if (!(worst < 1e-7)) fail_msg("%s d=%d order=%d: tangent vs FD rel %.2e", n->desc->name, d, order, worst);
        /* adjoint identity on the same tape (slot 0 is still at theta) */
        for (size_t k = 0; k < len; k++) u[k] = 2 * urand() - 1;
        assert_int_equal(net_backward(n, 0, u, jtu), HP_OK);
        double a = 0.0, b = 0.0;
        for (size_t k = 0; k < len; k++) a += tan[k] * u[k];
        for (size_t i = 0; i < n->n_params; i++) b += dth[i] * jtu[i];
        assert_double_equal(a, b, 1e-12 * fmax(1.0, fabs(a)));
        print_message("    %s d=%d order=%d: tangent vs FD %.1e, <Jv,u> - <v,J'u> %.1e\n", n->desc->name, d, order,
                      worst, fabs(a - b));
        free(vp), free(vm), free(tan), free(u), free(jtu);
    }
    free(x), free(dth), free(keep);
}

#ifndef NETWORK_CHECKS_ONLY

/* ---- mlp -------------------------------------------------------------------------- */

static const char *const k_activations[] = {"activation=tanh", "activation=swish",
                                            "activation=sin", "activation=gelu",
                                            "activation=softplus"};

static void test_mlp_input_derivatives(void **state) {
    (void)state;
    for (int a = 0; a < 5; a++)
        for (int d = 1; d <= 2; d++)
            for (int lift = 0; lift <= 1; lift++) {
                const char *set[] = {"depth=2", "width=6", k_activations[a], "swish_b=1.3",
                                     "seed=5"};
                net n;
                net_open(&n, "mlp", set, 5, d, 2);
                check_input_derivatives(&n, lift);
                net_close(&n);
            }
}

static void test_mlp_param_gradients(void **state) {
    (void)state;
    for (int d = 1; d <= 2; d++)
        for (int order = 0; order <= 2; order++) {
            const char *set[] = {"depth=2", "width=5", "activation=tanh", "seed=3"};
            net n;
            net_open(&n, "mlp", set, 4, d, d == 2 ? 2 : 1);
            check_param_gradient(&n, order, d == 2);
            net_close(&n);
        }
    /* the other activations at order 2 (the hardest: needs sigma''') */
    for (int a = 1; a < 5; a++) {
        const char *set[] = {"depth=3", "width=4", k_activations[a], "swish_b=0.8", "seed=9"};
        net n;
        net_open(&n, "mlp", set, 5, 2, 1);
        check_param_gradient(&n, 2, 0);
        net_close(&n);
    }
    /* the points split over threads in chunks of 1 and 2 (P = 5 in the check) */
    for (int order = 0; order <= 2; order++) {
        const char *split[] = {"depth=2", "width=5", "seed=3", "threads=2", "chunk_points=2"};
        net n;
        net_open(&n, "mlp", split, 5, 2, 2);
        check_param_gradient(&n, order, 1);
        net_close(&n);
        const char *split3[] = {"depth=2", "width=4", "activation=gelu", "threads=3",
                                "chunk_points=1"};
        net_open(&n, "mlp", split3, 5, 1, 1);
        check_param_gradient(&n, order, 0);
        net_close(&n);
    }
}

static void test_mlp_threads(void **state) {
    (void)state;
    const char *set[] = {"depth=3", "width=6", "activation=swish"};
    for (int d = 1; d <= 2; d++)
        for (int no = 1; no <= 2; no++) check_threads("mlp", set, 3, d, no);
}

/* Value against a plain-loop evaluation of the documented architecture. */
static void test_mlp_matches_reference(void **state) {
    (void)state;
    const char *set[] = {"depth=2", "width=3", "activation=sin"};
    net n;
    net_open(&n, "mlp", set, 3, 2, 2);
    const char *names[] = {"hidden1.weight", "hidden1.bias", "hidden2.weight",
                           "hidden2.bias",   "output.weight", "output.bias"};
    check_layout(&n, names, 6);
    for (size_t i = 0; i < n.n_params; i++) n.theta[i] += 0.05 * (2 * urand() - 1);
    double x[2] = {0.3, 0.8}, v[2];
    eval(&n, 0, x, 1, 0, 0, v);
    const double *t = n.theta;
    double h1[3], h2[3];
    for (int j = 0; j < 3; j++) h1[j] = sin(t[j * 2] * x[0] + t[j * 2 + 1] * x[1] + t[6 + j]);
    for (int j = 0; j < 3; j++) {
        double s = t[18 + j];
        for (int i = 0; i < 3; i++) s += t[9 + j * 3 + i] * h1[i];
        h2[j] = sin(s);
    }
    for (int o = 0; o < 2; o++) {
        double s = t[27 + o];
        for (int i = 0; i < 3; i++) s += t[21 + o * 3 + i] * h2[i];
        assert_double_equal(v[o], s, 1e-14);
    }
    net_close(&n);
}

static void test_mlp_seed(void **state) {
    (void)state;
    const char *set[] = {"depth=2", "width=8"};
    check_seed("mlp", set, 2, "seed=7", "seed=8");
}

static void test_mlp_bad_params(void **state) {
    (void)state;
    const char *w0[] = {"width=0"};
    check_rejected("mlp", w0, 1, "width");
    const char *d0[] = {"width=4", "depth=0"};
    check_rejected("mlp", d0, 2, "depth");
    const char *act[] = {"activation=relu"};
    check_rejected("mlp", act, 1, "activation");
    const char *b[] = {"activation=swish", "swish_b=0"};
    check_rejected("mlp", b, 2, "swish_b");
    const char *unknown[] = {"widht=4"};
    check_rejected("mlp", unknown, 1, "widht");
    const char *c0[] = {"chunk_points=0"};
    check_rejected("mlp", c0, 1, "chunk_points");
    const char *t300[] = {"threads=300"};
    check_rejected("mlp", t300, 1, "threads");
}

static void test_mlp_tangent(void **state) {
    (void)state;
    for (int d = 1; d <= 2; d++) {
        const char *set[] = {"width=5", "depth=2", "activation=tanh"};
        net n;
        net_open(&n, "mlp", set, 3, d, 2);
        check_tangent(&n);
        net_close(&n);
    }
}

static void test_mlp_usage_errors(void **state) {
    (void)state;
    const char *set[] = {"width=4"};
    net n;
    net_open(&n, "mlp", set, 1, 2, 1);
    check_usage_errors(&n);
    net_close(&n);
    const hp_plugin_descriptor *desc;
    assert_int_equal(hp_registry_find(g_registry, HP_PLUGIN_NETWORK, "mlp", &desc), HP_OK);
    hp_params *p;
    assert_int_equal(hp_params_from_strings(desc->params, "network", set, 1, &p), HP_OK);
    hp__net *st = NULL;
    assert_int_equal(hp__net_create(desc, p, 0, 1, &st), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "dimension");
    assert_int_equal(hp__net_create(desc, p, 2, 0, &st), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "outputs");
    assert_null(st);
    hp_params_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_input_derivatives),
        cmocka_unit_test(test_mlp_param_gradients),
        cmocka_unit_test(test_mlp_matches_reference),
        cmocka_unit_test(test_mlp_threads),
        cmocka_unit_test(test_mlp_seed),
        cmocka_unit_test(test_mlp_bad_params),
        cmocka_unit_test(test_mlp_tangent),
        cmocka_unit_test(test_mlp_usage_errors),
    };
    return cmocka_run_group_tests(tests, open_registry, close_registry);
}
#endif
