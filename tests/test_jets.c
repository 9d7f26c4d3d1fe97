/* test_jets.c — the core jet kernels against plain-loop reference versions kept
 * here, and every backward against central finite differences of its forward.
 * Covers orders 0, 1, 2, input dimensions 1 and 2 and every activation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hpinn/jets.h"
#include "hpinn/rng.h"
#include "jets_math.h"

#define TWO_PI 6.283185307179586476925286766559

static const hp_activation k_acts[] = {
    {HP_ACT_TANH, 1.0}, {HP_ACT_SWISH, 1.0}, {HP_ACT_SWISH, 0.7},
    {HP_ACT_SIN, 1.0},  {HP_ACT_GELU, 1.0},  {HP_ACT_SOFTPLUS, 1.0}};
#define N_ACTS (sizeof k_acts / sizeof k_acts[0])

/* ---- helpers ---------------------------------------------------------------- */

static hp_rng g_rng;

static double *alloc_doubles(size_t n) {
    double *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

static void fill_random(double *v, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) v[i] = scale * (2.0 * hp_rng_uniform(&g_rng) - 1.0);
}

/* Points strictly inside (0,1)^d. */
static void fill_points(double *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 0.05 + 0.9 * hp_rng_uniform(&g_rng);
}

static double dot(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* max |a - b| / max(1, max |b|) */
static double max_rel_diff(const double *a, const double *b, size_t n) {
    double d = 0.0, s = 1.0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(a[i] - b[i]) > d) d = fabs(a[i] - b[i]);
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return d / s;
}

static void assert_close(const double *got, const double *want, size_t n, double tol,
                         const char *what) {
    double e = max_rel_diff(got, want, n);
    if (!(e <= tol)) fail_msg("%s: max relative difference %.3e > %.1e", what, e, tol);
}

static void assert_scalar_close(double got, double want, double tol, const char *what) {
    double e = fabs(got - want) / fmax(1.0, fabs(want));
    if (!(e <= tol)) fail_msg("%s: got %.15g want %.15g (rel %.3e > %.1e)", what, got, want, e, tol);
}

/* ---- naive references ---------------------------------------------------------- */

static void ref_dense_forward(double *out, const double *in, const double *w, const double *b,
                              size_t no, size_t ni, size_t P, int C) {
    size_t cols = (size_t)C * P;
    for (size_t j = 0; j < no; j++)
        for (size_t col = 0; col < cols; col++) {
            double s = 0.0;
            for (size_t i = 0; i < ni; i++) s += w[j * ni + i] * in[i * cols + col];
            if (b && col < P) s += b[j];
            out[j * cols + col] = s;
        }
}

static void ref_dense_backward(double *d_in, double *d_w, double *d_b, const double *d_out,
                               const double *in, const double *w, size_t no, size_t ni,
                               size_t P, int C) {
    size_t cols = (size_t)C * P;
    for (size_t j = 0; j < no; j++)
        for (size_t i = 0; i < ni; i++) {
            double s = 0.0;
            for (size_t col = 0; col < cols; col++) s += d_out[j * cols + col] * in[i * cols + col];
            d_w[j * ni + i] += s;
        }
    for (size_t j = 0; j < no; j++)
        for (size_t p = 0; p < P; p++) d_b[j] += d_out[j * cols + p];
    for (size_t i = 0; i < ni; i++)
        for (size_t col = 0; col < cols; col++) {
            double s = 0.0;
            for (size_t j = 0; j < no; j++) s += w[j * ni + i] * d_out[j * cols + col];
            d_in[i * cols + col] = s;
        }
}

static void ref_activation_forward(double *a, const double *z, hp_activation act, size_t W,
                                   size_t P, int order, int dim) {
    int C = hp_jet_components(order, dim);
    size_t cols = (size_t)C * P;
    for (size_t j = 0; j < W; j++)
        for (size_t p = 0; p < P; p++) {
            const double *zr = z + j * cols;
            double *ar = a + j * cols;
            double s[4];
            hp_activation_eval(act, zr[p], s);
            ar[p] = s[0];
            double g2 = 0.0;
            for (int c = 1; c <= dim && order >= 1; c++) {
                ar[c * P + p] = s[1] * zr[c * P + p];
                g2 += zr[c * P + p] * zr[c * P + p];
            }
            if (order >= 2) ar[(dim + 1) * P + p] = s[2] * g2 + s[1] * zr[(dim + 1) * P + p];
        }
}

/* The reverse written out term by term from the forward's formulas. */
static void ref_activation_backward(double *dz, const double *da, const double *z,
                                    hp_activation act, size_t W, size_t P, int order, int dim) {
    int C = hp_jet_components(order, dim);
    size_t cols = (size_t)C * P;
    memset(dz, 0, W * cols * sizeof *dz);
    for (size_t j = 0; j < W; j++)
        for (size_t p = 0; p < P; p++) {
            const double *zr = z + j * cols, *dar = da + j * cols;
            double *dzr = dz + j * cols;
            double s[4];
            hp_activation_eval(act, zr[p], s);
            /* a0 = s0(z0) */
            dzr[p] += s[1] * dar[p];
            if (order >= 1)
                for (int c = 1; c <= dim; c++) { /* a_c = s1(z0) z_c */
                    dzr[p] += s[2] * zr[c * P + p] * dar[c * P + p];
                    dzr[c * P + p] += s[1] * dar[c * P + p];
                }
            if (order >= 2) { /* aL = s2(z0) sum z_c^2 + s1(z0) zL */
                size_t L = (size_t)(dim + 1) * P + p;
                double g2 = 0.0;
                for (int c = 1; c <= dim; c++) g2 += zr[c * P + p] * zr[c * P + p];
                dzr[p] += (s[3] * g2 + s[2] * zr[L]) * dar[L];
                for (int c = 1; c <= dim; c++) dzr[c * P + p] += s[2] * 2.0 * zr[c * P + p] * dar[L];
                dzr[L] += s[1] * dar[L];
            }
        }
}

static void ref_fourier_forward(double *out, const double *x, const double *B, size_t m,
                                size_t P, int order, int dim) {
    int C = hp_jet_components(order, dim);
    size_t cols = (size_t)C * P;
    for (size_t f = 0; f < m; f++)
        for (size_t p = 0; p < P; p++) {
            double s = 0.0, nb2 = 0.0;
            for (int a = 0; a < dim; a++) {
                s += TWO_PI * B[f * dim + a] * x[p * dim + a];
                nb2 += B[f * dim + a] * B[f * dim + a];
            }
            double *cr = out + f * cols, *sr = out + (m + f) * cols;
            cr[p] = cos(s);
            sr[p] = sin(s);
            for (int c = 1; c <= dim && order >= 1; c++) {
                cr[c * P + p] = -sin(s) * TWO_PI * B[f * dim + c - 1];
                sr[c * P + p] = cos(s) * TWO_PI * B[f * dim + c - 1];
            }
            if (order >= 2) {
                cr[(dim + 1) * P + p] = -TWO_PI * TWO_PI * nb2 * cos(s);
                sr[(dim + 1) * P + p] = -TWO_PI * TWO_PI * nb2 * sin(s);
            }
        }
}

/* ---- activation scalars ----------------------------------------------------------- */

static double independent_sigma(hp_activation act, double z) {
    switch (act.kind) {
    case HP_ACT_TANH: return tanh(z);
    case HP_ACT_SWISH: return z / (1.0 + exp(-act.b * z));
    case HP_ACT_SIN: return sin(z);
    case HP_ACT_GELU: return 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
    case HP_ACT_SOFTPLUS: return log(1.0 + exp(z));
    }
    return NAN;
}

static void test_activation_eval(void **state) {
    (void)state;
    const double zs[] = {-3.1, -1.0, -0.2, 0.0, 0.3, 1.7, 4.0};
    const double h = 1e-5;
    for (size_t a = 0; a < N_ACTS; a++)
        for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++) {
            double z = zs[i], s[4], sp[4], sm[4];
            hp_activation_eval(k_acts[a], z, s);
            hp_activation_eval(k_acts[a], z + h, sp);
            hp_activation_eval(k_acts[a], z - h, sm);
            assert_scalar_close(s[0], independent_sigma(k_acts[a], z), 1e-14, "sigma");
            for (int k = 1; k <= 3; k++)
                assert_scalar_close(s[k], (sp[k - 1] - sm[k - 1]) / (2 * h), 1e-8,
                                    "sigma^(k) vs central difference of sigma^(k-1)");
        }
}

/* ---- dense ---------------------------------------------------------------------- */

static void test_dense(void **state) {
    (void)state;
    const size_t ni = 7, P = 9, n_outs[2] = {5, 1}; /* 1: the GEMV path of output layers */
    for (int io = 0; io < 2; io++)
    for (int dim = 1; dim <= 2; dim++)
        for (int order = 0; order <= 2; order++)
            for (int with_bias = 0; with_bias <= 1; with_bias++) {
                int C = hp_jet_components(order, dim);
                size_t cols = (size_t)C * P, no = n_outs[io];
                double *in = alloc_doubles(ni * cols), *w = alloc_doubles(no * ni);
                double *b = alloc_doubles(no), *out = alloc_doubles(no * cols);
                double *ref = alloc_doubles(no * cols), *d_out = alloc_doubles(no * cols);
                fill_random(in, ni * cols, 1.0);
                fill_random(w, no * ni, 1.0);
                fill_random(b, no, 1.0);
                fill_random(d_out, no * cols, 1.0);
                hp_jet_dense_forward(out, in, w, with_bias ? b : NULL, no, ni, P, order, dim);
                ref_dense_forward(ref, in, w, with_bias ? b : NULL, no, ni, P, C);
                assert_close(out, ref, no * cols, 1e-13, "dense forward");

                /* gradients accumulate onto what is there, d_in is overwritten */
                double *dw = alloc_doubles(no * ni), *db = alloc_doubles(no);
                double *din = alloc_doubles(ni * cols);
                double *rdw = alloc_doubles(no * ni), *rdb = alloc_doubles(no);
                double *rdin = alloc_doubles(ni * cols);
                fill_random(dw, no * ni, 1.0);
                memcpy(rdw, dw, no * ni * sizeof *dw);
                fill_random(db, no, 1.0);
                memcpy(rdb, db, no * sizeof *db);
                fill_random(din, ni * cols, 1e3);
                hp_jet_dense_backward(din, dw, db, d_out, in, w, no, ni, P, order, dim);
                ref_dense_backward(rdin, rdw, rdb, d_out, in, w, no, ni, P, C);
                assert_close(dw, rdw, no * ni, 1e-13, "dense d_weight");
                assert_close(db, rdb, no, 1e-13, "dense d_bias");
                assert_close(din, rdin, ni * cols, 1e-13, "dense d_in");

                /* NULL outputs are skipped */
                hp_jet_dense_backward(NULL, NULL, NULL, d_out, in, w, no, ni, P, order, dim);
                hp_jet_dense_backward(din, NULL, NULL, d_out, in, w, no, ni, P, order, dim);
                assert_close(din, rdin, ni * cols, 1e-13, "dense d_in alone");

                /* jacobian rows: per point, and summed = backward */
                size_t ld = no * ni + no + 3;
                double *rows = alloc_doubles(P * ld);
                hp_jet_dense_jacobian(rows, rows + no * ni, ld, d_out, in, no, ni, P, order, dim);
                double *sum = alloc_doubles(no * ni + no);
                for (size_t p = 0; p < P; p++) {
                    for (size_t k = 0; k < no * ni + no; k++) sum[k] += rows[p * ld + k];
                    for (size_t j = 0; j < no; j++)
                        for (size_t i = 0; i < ni; i++) {
                            double s = 0.0;
                            for (int c = 0; c < C; c++)
                                s += d_out[j * cols + c * P + p] * in[i * cols + c * P + p];
                            assert_scalar_close(rows[p * ld + j * ni + i], s, 1e-13,
                                                "dense jacobian row");
                        }
                    for (size_t k = no * ni + no; k < ld; k++)
                        assert_true(rows[p * ld + k] == 0.0); /* padding untouched */
                }
                double *gw = alloc_doubles(no * ni + no);
                hp_jet_dense_backward(NULL, gw, gw + no * ni, d_out, in, w, no, ni, P, order, dim);
                assert_close(sum, gw, no * ni + no, 1e-13, "dense jacobian rows summed");

                free(in); free(w); free(b); free(out); free(ref); free(d_out);
                free(dw); free(db); free(din); free(rdw); free(rdb); free(rdin);
                free(rows); free(sum); free(gw);
            }
}

/* ---- activation ------------------------------------------------------------------- */

static void test_activation_forward_backward(void **state) {
    (void)state;
    const size_t W = 4, P = 600; /* P > one internal chunk */
    for (size_t ai = 0; ai < N_ACTS; ai++)
        for (int dim = 1; dim <= 2; dim++)
            for (int order = 0; order <= 2; order++) {
                hp_activation act = k_acts[ai];
                int C = hp_jet_components(order, dim);
                size_t n = W * (size_t)C * P;
                double *z = alloc_doubles(n), *a = alloc_doubles(n), *ref = alloc_doubles(n);
                double *da = alloc_doubles(n), *dz = alloc_doubles(n), *rdz = alloc_doubles(n);
                fill_random(z, n, 2.0);
                fill_random(da, n, 1.0);
                hp_jet_activation_forward(a, z, act, W, P, order, dim);
                ref_activation_forward(ref, z, act, W, P, order, dim);
                assert_close(a, ref, n, 1e-13, "activation forward");

                ref_activation_backward(rdz, da, z, act, W, P, order, dim);
                fill_random(dz, n, 1e3);
                hp_jet_activation_backward(dz, da, z, a, act, W, P, order, dim);
                assert_close(dz, rdz, n, 1e-13, "activation backward (with a)");
                fill_random(dz, n, 1e3);
                hp_jet_activation_backward(dz, da, z, NULL, act, W, P, order, dim);
                assert_close(dz, rdz, n, 1e-13, "activation backward (without a)");

                /* exact reverse: <da, (F(z + h u) - F(z - h u)) / 2h> = <dz, u> */
                double *u = alloc_doubles(n), *zp = alloc_doubles(n), *ap = alloc_doubles(n);
                double *am = alloc_doubles(n);
                fill_random(u, n, 1.0);
                const double h = 1e-5;
                for (size_t i = 0; i < n; i++) zp[i] = z[i] + h * u[i];
                hp_jet_activation_forward(ap, zp, act, W, P, order, dim);
                for (size_t i = 0; i < n; i++) zp[i] = z[i] - h * u[i];
                hp_jet_activation_forward(am, zp, act, W, P, order, dim);
                double fd = (dot(da, ap, n) - dot(da, am, n)) / (2 * h);
                assert_scalar_close(dot(dz, u, n) / fmax(1.0, fabs(fd)),
                                    fd / fmax(1.0, fabs(fd)), 1e-7, "activation VJP vs FD");
                free(z); free(a); free(ref); free(da); free(dz); free(rdz);
                free(u); free(zp); free(ap); free(am);
            }
}

/* ---- Fourier embedding ------------------------------------------------------------- */

static void test_fourier(void **state) {
    (void)state;
    const size_t m = 6, P = 11;
    for (int dim = 1; dim <= 2; dim++)
        for (int order = 0; order <= 2; order++) {
            int C = hp_jet_components(order, dim);
            size_t cols = (size_t)C * P, n = 2 * m * cols;
            double *x = alloc_doubles(P * dim), *B = alloc_doubles(m * dim);
            double *out = alloc_doubles(n), *ref = alloc_doubles(n), *d_out = alloc_doubles(n);
            fill_points(x, P * dim);
            fill_random(B, m * dim, 3.0);
            fill_random(d_out, n, 1.0);
            hp_jet_fourier_forward(out, x, B, m, P, order, dim);
            ref_fourier_forward(ref, x, B, m, P, order, dim);
            assert_close(out, ref, n, 1e-13, "fourier forward");

            /* d_B against central differences of <d_out, F(B)>; accumulates */
            double *dB = alloc_doubles(m * dim), *tmp = alloc_doubles(n);
            for (size_t k = 0; k < m * (size_t)dim; k++) dB[k] = 0.25;
            hp_jet_fourier_backward(dB, d_out, out, x, B, m, P, order, dim);
            for (size_t k = 0; k < m * (size_t)dim; k++) {
                const double h = 1e-6;
                double keep = B[k];
                B[k] = keep + h;
                hp_jet_fourier_forward(tmp, x, B, m, P, order, dim);
                double fp = dot(d_out, tmp, n);
                B[k] = keep - h;
                hp_jet_fourier_forward(tmp, x, B, m, P, order, dim);
                double fm = dot(d_out, tmp, n);
                B[k] = keep;
                double fd = (fp - fm) / (2 * h);
                double e = fabs(dB[k] - 0.25 - fd) / fmax(1e-3, fabs(fd));
                if (e > 1e-6) fail_msg("fourier d_B[%zu] = %.12g, FD %.12g (dim %d order %d)", k,
                                       dB[k] - 0.25, fd, dim, order);
            }
            /* jacobian rows sum to the backward */
            size_t ld = m * dim + 1;
            double *rows = alloc_doubles(P * ld), *sum = alloc_doubles(m * dim);
            hp_jet_fourier_jacobian(rows, ld, d_out, out, x, B, m, P, order, dim);
            for (size_t p = 0; p < P; p++)
                for (size_t k = 0; k < m * (size_t)dim; k++) sum[k] += rows[p * ld + k];
            for (size_t k = 0; k < m * (size_t)dim; k++) sum[k] += 0.25;
            assert_close(sum, dB, m * dim, 1e-12, "fourier jacobian rows summed");
            free(x); free(B); free(out); free(ref); free(d_out); free(dB); free(tmp);
            free(rows); free(sum);
        }
}

/* The Fourier jet's derivative components are the derivatives in x. */
static void test_fourier_is_a_jet(void **state) {
    (void)state;
    const size_t m = 3, P = 1;
    for (int dim = 1; dim <= 2; dim++) {
        int C = hp_jet_components(2, dim);
        double x[2] = {0.31, 0.67}, B[6];
        fill_random(B, m * dim, 2.0);
        double out[2 * 3 * 4], xp[2], fp[2 * 3], fm[2 * 3], f0[2 * 3];
        hp_jet_fourier_forward(out, x, B, m, P, 2, dim);
        hp_jet_fourier_forward(f0, x, B, m, P, 0, dim);
        for (size_t r = 0; r < 2 * m; r++) {
            double lap = 0.0;
            for (int c = 0; c < dim; c++) {
                const double h = 1e-4;
                memcpy(xp, x, sizeof xp);
                xp[c] += h;
                hp_jet_fourier_forward(fp, xp, B, m, P, 0, dim);
                xp[c] -= 2 * h;
                hp_jet_fourier_forward(fm, xp, B, m, P, 0, dim);
                assert_scalar_close(out[r * C + 1 + c], (fp[r] - fm[r]) / (2 * h), 1e-6,
                                    "fourier gradient vs FD");
                lap += (fp[r] - 2 * f0[r] + fm[r]) / (h * h);
            }
            assert_scalar_close(out[r * C + dim + 1] / 100.0, lap / 100.0, 1e-5,
                                "fourier Laplacian vs FD");
        }
    }
}

/* The jet of the lift factor l = prod x_a (1 - x_a), written out (reference). */
static void ref_lift_factor(double *lj, const double *x, size_t P, int order, int dim) {
    for (size_t p = 0; p < P; p++) {
        const double *xp = x + p * (size_t)dim;
        double g[2], prod = 1.0, lap = 0.0;
        for (int a = 0; a < dim; a++) {
            g[a] = xp[a] * (1.0 - xp[a]);
            prod *= g[a];
        }
        lj[p] = prod;
        for (int c = 0; c < dim; c++) {
            double others = dim == 2 ? g[1 - c] : 1.0;
            if (order >= 1) lj[(size_t)(c + 1) * P + p] = (1.0 - 2.0 * xp[c]) * others;
            lap += -2.0 * others;
        }
        if (order >= 2) lj[(size_t)(dim + 1) * P + p] = lap;
    }
}

static double lift_value(const double *x, int dim) {
    double l = 1.0;
    for (int a = 0; a < dim; a++) l *= x[a] * (1.0 - x[a]);
    return l;
}

static void test_lift(void **state) {
    (void)state;
    const size_t P = 7, rows = 2;
    for (int dim = 1; dim <= 2; dim++) {
        /* the factor's jet against FD of l in x, order 2 */
        double x[7 * 2];
        fill_points(x, P * dim);
        int C2 = hp_jet_components(2, dim);
        double lj[7 * 4];
        ref_lift_factor(lj, x, P, 2, dim);
        for (size_t p = 0; p < P; p++) {
            double xp[2], lap = 0.0, l0 = lift_value(x + p * dim, dim);
            assert_scalar_close(lj[p], l0, 1e-15, "lift value");
            for (int c = 0; c < dim; c++) {
                const double h = 1e-4;
                memcpy(xp, x + p * dim, dim * sizeof *xp);
                xp[c] += h;
                double lp = lift_value(xp, dim);
                xp[c] -= 2 * h;
                double lm = lift_value(xp, dim);
                assert_scalar_close(lj[(c + 1) * P + p], (lp - lm) / (2 * h), 1e-8, "lift grad");
                lap += (lp - 2 * l0 + lm) / (h * h);
            }
            assert_scalar_close(lj[(dim + 1) * P + p], lap, 1e-6, "lift Laplacian");
        }
        (void)C2;
        for (int order = 0; order <= 2; order++) {
            int C = hp_jet_components(order, dim);
            size_t n = rows * C * P;
            double *in = alloc_doubles(n), *out = alloc_doubles(n), *ref = alloc_doubles(n);
            double *d_out = alloc_doubles(n), *d_in = alloc_doubles(n);
            fill_random(in, n, 1.0);
            fill_random(d_out, n, 1.0);
            ref_lift_factor(lj, x, P, order, dim);
            /* reference: product rule written out with the factor's jet */
            for (size_t r = 0; r < rows; r++)
                for (size_t p = 0; p < P; p++) {
                    const double *N = in + r * C * P;
                    double *v = ref + r * C * P;
                    v[p] = lj[p] * N[p];
                    double dotg = 0.0;
                    for (int c = 1; c <= dim && order >= 1; c++) {
                        v[c * P + p] = lj[c * P + p] * N[p] + lj[p] * N[c * P + p];
                        dotg += lj[c * P + p] * N[c * P + p];
                    }
                    if (order >= 2) {
                        size_t L = (dim + 1) * P + p;
                        v[L] = lj[L] * N[p] + 2 * dotg + lj[p] * N[L];
                    }
                }
            hp_jet_lift_forward(out, in, x, rows, P, order, dim);
            assert_close(out, ref, n, 1e-14, "lift forward");
            memcpy(out, in, n * sizeof *out);
            hp_jet_lift_forward(out, out, x, rows, P, order, dim); /* in place */
            assert_close(out, ref, n, 1e-14, "lift forward in place");
            /* linear in N: the reverse is exact iff <d_out, F(in)> = <F^T d_out, in> */
            fill_random(d_in, n, 1e3);
            hp_jet_lift_backward(d_in, d_out, x, rows, P, order, dim);
            assert_scalar_close(dot(d_out, ref, n), dot(d_in, in, n), 1e-13, "lift adjoint");
            double *d_same = alloc_doubles(n);
            memcpy(d_same, d_out, n * sizeof *d_same);
            hp_jet_lift_backward(d_same, d_same, x, rows, P, order, dim);
            assert_close(d_same, d_in, n, 1e-15, "lift backward in place");
            free(in); free(out); free(ref); free(d_out); free(d_in); free(d_same);
        }
    }
}

/* ---- private elementwise math ------------------------------------------------------ */

static void test_vector_math(void **state) {
    (void)state;
    enum { N = 4001 }; /* odd: exercises the tail of a vector */
    static double z[N], e[N], t[N], s[N], c[N];
    for (int i = 0; i < N; i++) z[i] = -40.0 + 80.0 * i / (N - 1);
    hp__exp_block(e, z, N);
    hp__tanh_block(t, z, N);
    hp__sincos_block(s, c, z, N);
    for (int i = 0; i < N; i++) {
        double want = exp(z[i]);
        if (!(fabs(e[i] - want) <= 1e-15 * want)) fail_msg("exp(%.17g) = %.17g, libm %.17g", z[i], e[i], want);
        if (!(fabs(t[i] - tanh(z[i])) <= 1e-15)) fail_msg("tanh(%.17g) = %.17g, libm %.17g", z[i], t[i], tanh(z[i]));
        assert_true(s[i] == sin(z[i]) && c[i] == cos(z[i]));
    }
    /* saturation and sign, in place */
    double ext[5] = {-800.0, -0.0, 1e-300, 30.0, 800.0};
    hp__tanh_block(ext, ext, 5);
    assert_true(ext[0] == -1.0 && ext[1] == 0.0 && signbit(ext[1]) && ext[3] == 1.0 && ext[4] == 1.0);
    assert_true(fabs(ext[2] - 1e-300) <= 1e-300 * 1e-3 || ext[2] == 0.0);
    double big[2] = {800.0, -800.0};
    hp__exp_block(big, big, 2);
    assert_true(isfinite(big[0]) && big[0] > 1e307 && big[1] >= 0.0 && big[1] < 1e-307);
}

/* ---- rng ----------------------------------------------------------------------- */

static void test_rng(void **state) {
    (void)state;
    hp_rng a, b, c;
    hp_rng_seed(&a, 42, 0);
    hp_rng_seed(&b, 42, 0);
    hp_rng_seed(&c, 42, 1);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t va = hp_rng_next(&a), vb = hp_rng_next(&b), vc = hp_rng_next(&c);
        assert_true(va == vb);
        same_c += va == vc;
    }
    assert_true(same_c == 0);
    /* moments of the normals: 200000 draws, mean within 5 sd of the estimator */
    const int n = 200000;
    double s1 = 0.0, s2 = 0.0, umin = 1.0, umax = 0.0;
    for (int i = 0; i < n; i++) {
        double z = hp_rng_normal(&a);
        s1 += z;
        s2 += z * z;
        double u = hp_rng_uniform(&b);
        umin = fmin(umin, u);
        umax = fmax(umax, u);
    }
    assert_true(fabs(s1 / n) < 5.0 / sqrt(n));
    assert_true(fabs(s2 / n - 1.0) < 5.0 * sqrt(2.0 / n));
    assert_true(umin > 0.0 && umax < 1.0);
    /* the counter-based uniform: splitmix64's first output for state 0 is 0xE220A8397B1DCDAF
     * (the published reference value); same key, same number; mean 1/2 over 1e5 keys */
    assert_true(hp_rng_hash_uniform(0) == (double)(0xE220A8397B1DCDAFull >> 11) * 0x1.0p-53);
    assert_true(hp_rng_hash_uniform(12345) == hp_rng_hash_uniform(12345));
    double hs = 0.0;
    for (uint64_t k = 0; k < 100000; k++) {
        double u = hp_rng_hash_uniform(k << 32 ^ (k * 7));
        assert_true(u >= 0.0 && u < 1.0);
        hs += u;
    }
    assert_true(fabs(hs / 100000 - 0.5) < 5.0 * sqrt(1.0 / 12.0 / 100000));
    /* Glorot variance 2 / (fan_in + fan_out) */
    double w[20000];
    hp_glorot_normal(&c, w, 20000, 30, 70);
    double v = 0.0;
    for (int i = 0; i < 20000; i++) v += w[i] * w[i];
    v /= 20000;
    assert_true(fabs(v / 0.02 - 1.0) < 5.0 * sqrt(2.0 / 20000));
}

/* ---- worker team and point chunks ---------------------------------------- */

/* The dense reverse step for both sinks against the naive references: into a
 * gradient it is dense backward (accumulating); into rows, row p is the
 * gradient of the functional restricted to point p, and the rows sum to it. */
static void test_dense_reverse(void **state) {
    (void)state;
    const size_t no = 4, ni = 3, P = 6, nw = no * ni, weight = 2, bias = weight + nw, np = bias + no + 1;
    for (int dim = 1; dim <= 2; dim++)
        for (int order = 0; order <= 2; order++) {
            int C = hp_jet_components(order, dim);
            size_t cols = (size_t)C * P;
            double *in = alloc_doubles(ni * cols), *d_out = alloc_doubles(no * cols), *theta = alloc_doubles(np);
            double *grad = alloc_doubles(np), *rows = alloc_doubles(P * np), *d_in = alloc_doubles(ni * cols);
            double *rdw = alloc_doubles(nw), *rdb = alloc_doubles(no), *rdin = alloc_doubles(ni * cols);
            fill_random(in, ni * cols, 1.0);
            fill_random(d_out, no * cols, 1.0);
            fill_random(theta, np, 1.0);
            hp_jet_param_sink gs = {grad, NULL, 0};
            hp_jet_dense_reverse(d_in, d_out, in, theta, weight, bias, no, ni, P, order, dim, gs);
            ref_dense_backward(rdin, rdw, rdb, d_out, in, theta + weight, no, ni, P, C);
            assert_close(grad + weight, rdw, nw, 1e-13, "dense reverse: weight gradient");
            assert_close(grad + bias, rdb, no, 1e-13, "dense reverse: bias gradient");
            assert_close(d_in, rdin, ni * cols, 1e-13, "dense reverse: d_in");
            assert_true(grad[0] == 0.0 && grad[1] == 0.0 && grad[np - 1] == 0.0); /* other blocks untouched */
            hp_jet_param_sink rs = {NULL, rows, np};
            hp_jet_dense_reverse(d_in, d_out, in, theta, weight, bias, no, ni, P, order, dim, rs);
            assert_close(d_in, rdin, ni * cols, 1e-13, "dense reverse (rows): d_in");
            double *sum = alloc_doubles(np), *one = alloc_doubles(no * cols);
            for (size_t p = 0; p < P; p++) {
                for (size_t k = 0; k < np; k++) sum[k] += rows[p * np + k];
                /* row p: the reference backward of the cotangent kept at point p only */
                memset(one, 0, no * cols * sizeof *one);
                for (size_t j = 0; j < no; j++)
                    for (int c = 0; c < C; c++) one[j * cols + (size_t)c * P + p] = d_out[j * cols + (size_t)c * P + p];
                memset(rdw, 0, nw * sizeof *rdw);
                memset(rdb, 0, no * sizeof *rdb);
                ref_dense_backward(rdin, rdw, rdb, one, in, theta + weight, no, ni, P, C);
                assert_close(rows + p * np + weight, rdw, nw, 1e-13, "dense reverse: weight row");
                assert_close(rows + p * np + bias, rdb, no, 1e-13, "dense reverse: bias row");
            }
            assert_close(sum + weight, grad + weight, nw + no, 1e-12, "dense reverse: rows sum to the gradient");
            free(sum);
            free(one);
            free(in);
            free(d_out);
            free(theta);
            free(grad);
            free(rows);
            free(d_in);
            free(rdw);
            free(rdb);
            free(rdin);
        }
}

/* ---- tangents --------------------------------------------------------------- */

/* dz = W d_in + dW in (+ db on values) against the written-out sum, with every
 * combination of moving parts. */
static void test_dense_tangent(void **state) {
    (void)state;
    const size_t no = 3, ni = 4, P = 5;
    for (int dim = 1; dim <= 2; dim++)
        for (int order = 0; order <= 2; order++)
            for (int parts = 1; parts < 8; parts++) {
                size_t cols = (size_t)hp_jet_components(order, dim) * P;
                double *in = alloc_doubles(ni * cols), *din = alloc_doubles(ni * cols), *w = alloc_doubles(no * ni);
                double *dw = alloc_doubles(no * ni), *db = alloc_doubles(no), *dz = alloc_doubles(no * cols);
                double *ref = alloc_doubles(no * cols);
                fill_random(in, ni * cols, 1.0);
                fill_random(din, ni * cols, 1.0);
                fill_random(w, no * ni, 1.0);
                fill_random(dw, no * ni, 1.0);
                fill_random(db, no, 1.0);
                const double *pin = parts & 1 ? din : NULL, *pw = parts & 2 ? dw : NULL, *pb = parts & 4 ? db : NULL;
                for (size_t j = 0; j < no; j++)
                    for (size_t c = 0; c < cols; c++) {
                        double v = 0.0;
                        for (size_t i = 0; i < ni; i++) {
                            if (pin) v += w[j * ni + i] * din[i * cols + c];
                            if (pw) v += dw[j * ni + i] * in[i * cols + c];
                        }
                        if (pb && c < P) v += db[j];
                        ref[j * cols + c] = v;
                    }
                hp_jet_dense_tangent(dz, in, pin, w, pw, pb, no, ni, P, order, dim);
                assert_close(dz, ref, no * cols, 1e-14, "dense tangent");
                free(in), free(din), free(w), free(dw), free(db), free(dz), free(ref);
            }
}

/* The activation tangent is the directional derivative of the forward jet:
 * central differences of hp_jet_activation_forward along dz. */
static void test_activation_tangent(void **state) {
    (void)state;
    const size_t W = 3, P = 9;
    for (size_t ia = 0; ia < sizeof k_acts / sizeof k_acts[0]; ia++)
        for (int dim = 1; dim <= 2; dim++)
            for (int order = 0; order <= 2; order++) {
                size_t n = W * (size_t)hp_jet_components(order, dim) * P;
                double *z = alloc_doubles(n), *dz = alloc_doubles(n), *zp = alloc_doubles(n), *zm = alloc_doubles(n);
                double *ap = alloc_doubles(n), *am = alloc_doubles(n), *da = alloc_doubles(n), *fd = alloc_doubles(n);
                fill_random(z, n, 1.0);
                fill_random(dz, n, 1.0);
                const double h = 1e-5;
                for (size_t k = 0; k < n; k++) {
                    zp[k] = z[k] + h * dz[k];
                    zm[k] = z[k] - h * dz[k];
                }
                hp_jet_activation_forward(ap, zp, k_acts[ia], W, P, order, dim);
                hp_jet_activation_forward(am, zm, k_acts[ia], W, P, order, dim);
                for (size_t k = 0; k < n; k++) fd[k] = (ap[k] - am[k]) / (2.0 * h);
                hp_jet_activation_tangent(da, dz, z, k_acts[ia], W, P, order, dim);
                assert_close(da, fd, n, 1e-7, "activation tangent");
                free(z), free(dz), free(zp), free(zm), free(ap), free(am), free(da), free(fd);
            }
}

/* The Fourier tangent along dB against central differences of the forward in B. */
static void test_fourier_tangent(void **state) {
    (void)state;
    const size_t m = 4, P = 7;
    for (int dim = 1; dim <= 2; dim++)
        for (int order = 0; order <= 2; order++) {
            size_t n = 2 * m * (size_t)hp_jet_components(order, dim) * P, nb = m * (size_t)dim;
            double x[7 * 2], B[8], dB[8], Bp[8], Bm[8];
            fill_points(x, P * dim);
            fill_random(B, nb, 1.0);
            fill_random(dB, nb, 1.0);
            double *out = alloc_doubles(n), *op = alloc_doubles(n), *om = alloc_doubles(n);
            double *dout = alloc_doubles(n), *fd = alloc_doubles(n);
            const double h = 1e-6;
            for (size_t k = 0; k < nb; k++) {
                Bp[k] = B[k] + h * dB[k];
                Bm[k] = B[k] - h * dB[k];
            }
            hp_jet_fourier_forward(out, x, B, m, P, order, dim);
            hp_jet_fourier_forward(op, x, Bp, m, P, order, dim);
            hp_jet_fourier_forward(om, x, Bm, m, P, order, dim);
            for (size_t k = 0; k < n; k++) fd[k] = (op[k] - om[k]) / (2.0 * h);
            hp_jet_fourier_tangent(dout, out, x, B, dB, m, P, order, dim);
            assert_close(dout, fd, n, 1e-6, "fourier tangent");
            free(out), free(op), free(om), free(dout), free(fd);
        }
}

int main(void) {
    hp_rng_seed(&g_rng, 12345, 7);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activation_eval),
        cmocka_unit_test(test_dense),
        cmocka_unit_test(test_activation_forward_backward),
        cmocka_unit_test(test_fourier),
        cmocka_unit_test(test_fourier_is_a_jet),
        cmocka_unit_test(test_lift),
        cmocka_unit_test(test_vector_math),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_dense_tangent),
        cmocka_unit_test(test_activation_tangent),
        cmocka_unit_test(test_fourier_tangent),
        cmocka_unit_test(test_dense_reverse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
