/* test_msff.c — the multiscale Fourier feature network plugin, through the
 * registry, with the generic network checks of test_mlp.c (included below), plus
 * the architecture itself against a plain-loop reference, the B_k statistics and
 * the embedding cache. Small nets and sigmas [1, 2.5] so that finite differences
 * in x stay meaningful. */
#define NETWORK_CHECKS_ONLY
#include "test_mlp.c"

static const char *const k_msff_activations[] = {"activation=tanh", "activation=swish",
                                                 "activation=sin", "activation=gelu",
                                                 "activation=softplus"};

static void test_msff_input_derivatives(void **state) {
    (void)state;
    for (int a = 0; a < 5; a++)
        for (int d = 1; d <= 2; d++)
            for (int lift = 0; lift <= 1; lift++) {
                const char *set[] = {"depth=2", "width=5", "features=4", "sigmas=[1, 2.5]",
                                     k_msff_activations[a], "seed=11"};
                net n;
                net_open(&n, "msff", set, 6, d, 2);
                check_input_derivatives(&n, lift);
                net_close(&n);
            }
}

static void test_msff_param_gradients(void **state) {
    (void)state;
    for (int trainable = 0; trainable <= 1; trainable++)
        for (int d = 1; d <= 2; d++)
            for (int order = 0; order <= 2; order++) {
                const char *set[] = {"depth=2", "width=4", "features=3", "sigmas=[1, 2.5]",
                                     trainable ? "trainable_features=true" : "seed=2"};
                net n;
                net_open(&n, "msff", set, 5, d, d == 2 ? 2 : 1);
                check_param_gradient(&n, order, d == 1);
                net_close(&n);
            }
    const char *set[] = {"depth=3", "width=3", "features=2", "sigmas=[0.5, 1, 2]",
                         "activation=swish", "trainable_features=true"};
    net n;
    net_open(&n, "msff", set, 6, 2, 1);
    check_param_gradient(&n, 2, 1);
    net_close(&n);
    /* the points split over threads in chunks of 1 and 2 (P = 5 in the check) */
    for (int order = 0; order <= 2; order++) {
        const char *split2[] = {"depth=2", "width=4", "features=3", "sigmas=[1, 2.5]",
                                "trainable_features=true", "threads=2", "chunk_points=2"};
        net_open(&n, "msff", split2, 7, 2, 2);
        check_param_gradient(&n, order, 1);
        net_close(&n);
        const char *split3[] = {"depth=2", "width=4", "features=3", "sigmas=[1, 2.5]",
                                "threads=3", "chunk_points=1"};
        net_open(&n, "msff", split3, 6, 1, 1);
        check_param_gradient(&n, order, 0);
        net_close(&n);
    }
}

static void test_msff_threads(void **state) {
    (void)state;
    const char *frozen[] = {"depth=2", "width=5", "features=4", "sigmas=[1, 2.5]"};
    const char *trained[] = {"depth=3", "width=4", "features=3", "sigmas=[1, 2, 3]",
                             "activation=swish", "trainable_features=true"};
    for (int d = 1; d <= 2; d++) {
        check_threads("msff", frozen, 4, d, 1);
        check_threads("msff", trained, 6, d, 2);
    }
}

/* The value at one point from the documented architecture, in plain loops:
 * shared hidden layers over each embedding, last hidden outputs concatenated. */
static void test_msff_matches_reference(void **state) {
    (void)state;
    enum { m = 3, W = 4, K = 2, D = 2 };
    const char *set[] = {"depth=2", "width=4", "features=3", "sigmas=[1, 2.5]",
                         "trainable_features=true", "activation=gelu"};
    net n;
    net_open(&n, "msff", set, 6, D, 2);
    const char *names[] = {"embedding1.B", "embedding2.B", "hidden1.weight", "hidden1.bias",
                           "hidden2.weight", "hidden2.bias", "output.weight", "output.bias"};
    check_layout(&n, names, 8);
    for (size_t i = 0; i < n.n_params; i++) n.theta[i] += 0.05 * (2 * urand() - 1);
    const double x[D] = {0.35, 0.6};
    double v[2];
    eval(&n, 0, x, 1, 0, 0, v);

    const double *t = n.theta;
    size_t oB = 0, oW1 = K * m * D, ob1 = oW1 + W * 2 * m, oW2 = ob1 + W, ob2 = oW2 + W * W;
    size_t oWo = ob2 + W, obo = oWo + 2 * K * W;
    assert_int_equal(obo + 2, n.n_params);
    double h_last[K][W];
    for (int k = 0; k < K; k++) {
        double e[2 * m], h1[W];
        for (int f = 0; f < m; f++) {
            double s = 0.0;
            for (int a = 0; a < D; a++) s += t[oB + (k * m + f) * D + a] * x[a];
            e[f] = cos(2 * M_PI * s);
            e[m + f] = sin(2 * M_PI * s);
        }
        hp_activation gelu = {HP_ACT_GELU, 1.0};
        double sg[4];
        for (int j = 0; j < W; j++) {
            double s = t[ob1 + j];
            for (int i = 0; i < 2 * m; i++) s += t[oW1 + j * 2 * m + i] * e[i];
            hp_activation_eval(gelu, s, sg);
            h1[j] = sg[0];
        }
        for (int j = 0; j < W; j++) {
            double s = t[ob2 + j];
            for (int i = 0; i < W; i++) s += t[oW2 + j * W + i] * h1[i];
            hp_activation_eval(gelu, s, sg);
            h_last[k][j] = sg[0];
        }
    }
    for (int o = 0; o < 2; o++) {
        double s = t[obo + o];
        for (int k = 0; k < K; k++)
            for (int j = 0; j < W; j++) s += t[oWo + o * K * W + k * W + j] * h_last[k][j];
        assert_double_equal(v[o], s, 1e-13);
    }
    net_close(&n);
}

/* Frozen B_k live in the state and equal the trainable ones of the same seed;
 * their entries have standard deviation sigma_k. */
static void test_msff_features(void **state) {
    (void)state;
    const char *frozen_set[] = {"width=3", "features=2000", "sigmas=[1, 48]", "seed=4"};
    const char *train_set[] = {"width=3", "features=2000", "sigmas=[1, 48]", "seed=4",
                               "trainable_features=true"};
    net fz, tr;
    net_open(&fz, "msff", frozen_set, 4, 1, 1);
    net_open(&tr, "msff", train_set, 5, 1, 1);
    assert_int_equal(tr.n_params, fz.n_params + 2 * 2000);
    /* same network function, and the weights after the B blocks coincide */
    assert_memory_equal(tr.theta + 4000, fz.theta, fz.n_params * sizeof(double));
    double x[4] = {0.1, 0.4, 0.55, 0.9}, vf[4 * 3], vt[4 * 3];
    eval(&fz, 0, x, 4, 2, 0, vf);
    eval(&tr, 0, x, 4, 2, 0, vt);
    assert_memory_equal(vf, vt, sizeof vf);
    const double sig[2] = {1, 48};
    for (int k = 0; k < 2; k++) {
        double s2 = 0.0;
        for (int f = 0; f < 2000; f++) s2 += tr.theta[k * 2000 + f] * tr.theta[k * 2000 + f];
        double sd = sqrt(s2 / 2000);
        assert_true(fabs(sd / sig[k] - 1.0) < 0.1);
    }
    net_close(&fz);
    net_close(&tr);
}

/* The embedding cache never serves stale features: new points, back to the old
 * points, and a changed trainable B all give what a fresh slot gives. */
static void test_msff_embedding_cache(void **state) {
    (void)state;
    const char *set[] = {"width=4", "features=3", "sigmas=[1, 3]", "trainable_features=true"};
    net n;
    net_open(&n, "msff", set, 4, 2, 1);
    const size_t P = 3;
    double x1[6] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, x2[6] = {0.6, 0.5, 0.4, 0.3, 0.2, 0.1};
    double a[12], b[12], c[12], fresh[12];
    eval(&n, 0, x1, P, 2, 0, a);
    eval(&n, 0, x2, P, 2, 0, b);
    eval(&n, 1, x2, P, 2, 0, fresh);
    assert_memory_equal(b, fresh, sizeof b);
    eval(&n, 0, x1, P, 2, 0, c);
    assert_memory_equal(a, c, sizeof a);
    n.theta[0] += 0.25; /* embedding1.B[0][0] */
    eval(&n, 0, x1, P, 2, 0, c);
    eval(&n, 2, x1, P, 2, 0, fresh);
    assert_memory_equal(c, fresh, sizeof c);
    assert_true(memcmp(a, c, sizeof a) != 0);
    /* a different order on the same points recomputes too. Order 0 and order 2 are
     * different code paths (the output GEMM has P or C*P columns, and some OpenBLAS
     * kernels, e.g. Haswell and Zen, sum a column's dot product in an order that
     * depends on the column count): equal to rounding, not bit for bit. */
    eval(&n, 0, x1, P, 0, 0, c);
    assert_double_equal(c[0], fresh[0], 1e-14 * fabs(fresh[0]));
    net_close(&n);
}

static void test_msff_tangent(void **state) {
    (void)state;
    for (int d = 1; d <= 2; d++)
        for (int trainable = 0; trainable <= 1; trainable++) {
            const char *set[] = {"width=5", "features=3", "sigmas=[1, 3]",
                                 trainable ? "trainable_features=true" : "trainable_features=false"};
            net n;
            net_open(&n, "msff", set, 4, d, 1);
            check_tangent(&n);
            net_close(&n);
        }
}

/* The two-scale output (lattice): jets against finite differences in x, the
 * gradient in theta at every order, the tangent, threads, the count of
 * cell-periodic functions, and a degenerate lattice refused. Small wave numbers
 * (lattice rows 1.5 and 2) keep finite differences meaningful. */
static void test_msff_two_scale(void **state) {
    (void)state;
    for (int d = 1; d <= 2; d++) {
        const char *lat = d == 1 ? "lattice=[1.5]" : "lattice=[1.5, 0, 0.5, 2]";
        const char *set[] = {"depth=2", "width=4", "features=3", "sigmas=[1, 2]", lat, "lattice_modes=1", "seed=5"};
        net n;
        for (int lift = 0; lift <= 1; lift++) {
            net_open(&n, "msff", set, 7, d, 2);
            check_input_derivatives(&n, lift);
            net_close(&n);
        }
        for (int order = 0; order <= 2; order++) {
            net_open(&n, "msff", set, 7, d, d == 2 ? 2 : 1);
            check_param_gradient(&n, order, d == 1);
            net_close(&n);
        }
        net_open(&n, "msff", set, 7, d, 1);
        check_tangent(&n);
        net_close(&n);
        check_threads("msff", set, 7, d, 2);
        /* P = 2 (1-D: k = 1) or 8 (2-D: 4 wave vectors of [-1,1]^2 \ 0 up to sign):
         * the output layer grows by P (2 width + 1) per output over the plain net */
        net plain;
        net_open(&plain, "msff", set, 4, d, 1);
        net_open(&n, "msff", set, 7, d, 1);
        size_t P = d == 1 ? 2 : 8;
        assert_int_equal(n.n_params, plain.n_params + P * (2 * 4 + 1));
        net_close(&n);
        net_close(&plain);
    }
    /* a lattice that is not rows of d entries, or gives a zero wave vector */
    const char *const bad[][4] = {{"width=3", "features=2", "sigmas=[1]", "lattice=[1, 2, 3]"},
                                  {"width=3", "features=2", "sigmas=[1]", "lattice=[1, 0, 0, 0]"}};
    const char *const why[] = {"has 3 entries; expected rows of 2", "zero wave vector"};
    for (int b = 0; b < 2; b++) {
        const hp_plugin_descriptor *desc;
        hp_params *p = NULL;
        hp__net *rn = NULL;
        assert_int_equal(hp_registry_find(g_registry, HP_PLUGIN_NETWORK, "msff", &desc), HP_OK);
        assert_int_equal(hp_params_from_strings(desc->params, "network", bad[b], 4, &p), HP_OK);
        assert_int_equal(hp__net_create(desc, p, 2, 1, &rn), HP_ERR_CONFIG);
        assert_null(rn);
        assert_contains(hp_error_message(), "network.lattice");
        assert_contains(hp_error_message(), why[b]);
        hp_params_destroy(p);
    }
}

/* The highest frequency per axis the collocation points must resolve: a
 * lattice's functions at k_max |L_a| cycles per unit (the laminate [32, -16]
 * with 4 modes: 128 along x, 64 along y; diag(16, 32) with 3: 48 and 96), the
 * random features (tiny sigma here) below them; without a lattice, the largest
 * drawn feature. A plugin without the operation reports nothing. */
static void test_msff_frequencies(void **state) {
    (void)state;
    const char *laminate[] = {"width=4", "features=3", "sigmas=[1e-3]", "lattice=[32, -16]", "lattice_modes=4"};
    const char *diag[] = {"width=4", "features=3", "sigmas=[1e-3]", "lattice=[16, 0, 0, 32]", "lattice_modes=3"};
    const char *plain[] = {"width=4", "features=50", "sigmas=[10]"};
    double f[2];
    net n;
    net_open(&n, "msff", laminate, 5, 2, 1);
    assert_int_equal(hp__net_frequencies(n.rn, f), 1);
    assert_double_equal(f[0], 128.0, 1e-9);
    assert_double_equal(f[1], 64.0, 1e-9);
    net_close(&n);
    net_open(&n, "msff", diag, 5, 2, 1);
    assert_int_equal(hp__net_frequencies(n.rn, f), 1);
    assert_double_equal(f[0], 48.0, 1e-9);
    assert_double_equal(f[1], 96.0, 1e-9);
    net_close(&n);
    net_open(&n, "msff", plain, 3, 1, 1);
    assert_int_equal(hp__net_frequencies(n.rn, f), 1);
    if (!(f[0] > 10.0 && f[0] < 60.0)) fail_msg("largest of 50 features of sigma 10: %g", f[0]);
    net_close(&n);
    const char *mlp[] = {"width=4"};
    net_open(&n, "mlp", mlp, 1, 1, 1);
    assert_int_equal(hp__net_frequencies(n.rn, f), 0);
    net_close(&n);
}

static void test_msff_seed(void **state) {
    (void)state;
    const char *set[] = {"depth=2", "width=6", "features=5", "sigmas=[1, 4]"};
    check_seed("msff", set, 4, "seed=7", "seed=8");
}

static void test_msff_bad_params(void **state) {
    (void)state;
    const char *w0[] = {"sigmas=[1, 48]", "width=0"};
    check_rejected("msff", w0, 2, "width");
    const char *empty[] = {"sigmas=[]"};
    check_rejected("msff", empty, 1, "sigmas");
    const char *neg[] = {"sigmas=[1, -2]"};
    check_rejected("msff", neg, 1, "sigmas");
    const char *f0[] = {"sigmas=[1]", "features=0"};
    check_rejected("msff", f0, 2, "features");
    const char *c0[] = {"sigmas=[1]", "chunk_points=0"};
    check_rejected("msff", c0, 2, "chunk_points");
    const char *tn[] = {"sigmas=[1]", "threads=-1"};
    check_rejected("msff", tn, 2, "threads");
    const char *act[] = {"sigmas=[1]", "activation=relu"};
    check_rejected("msff", act, 2, "activation");
    /* sigmas has no default: leaving it out is an error naming it */
    const hp_plugin_descriptor *desc;
    assert_int_equal(hp_registry_find(g_registry, HP_PLUGIN_NETWORK, "msff", &desc), HP_OK);
    hp_params *p = NULL;
    const char *none[] = {"width=4"};
    assert_int_equal(hp_params_from_strings(desc->params, "network", none, 1, &p), HP_ERR_CONFIG);
    assert_contains(hp_error_message(), "sigmas");
    print_message("    rejected missing sigmas: %s\n", hp_error_message());
}

static void test_msff_usage_errors(void **state) {
    (void)state;
    const char *set[] = {"width=4", "features=2", "sigmas=[1]"};
    net n;
    net_open(&n, "msff", set, 3, 2, 1);
    check_usage_errors(&n);
    net_close(&n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msff_input_derivatives),
        cmocka_unit_test(test_msff_param_gradients),
        cmocka_unit_test(test_msff_matches_reference),
        cmocka_unit_test(test_msff_threads),
        cmocka_unit_test(test_msff_features),
        cmocka_unit_test(test_msff_embedding_cache),
        cmocka_unit_test(test_msff_tangent),
        cmocka_unit_test(test_msff_two_scale),
        cmocka_unit_test(test_msff_seed),
        cmocka_unit_test(test_msff_frequencies),
        cmocka_unit_test(test_msff_bad_params),
        cmocka_unit_test(test_msff_usage_errors),
    };
    return cmocka_run_group_tests(tests, open_registry, close_registry);
}
