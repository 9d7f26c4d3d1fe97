/* jets.c — the jet kernels every network is built from (see hpinn/jets.h).
 *
 * Dense layers are one cblas_dgemm each way; everything else is a streaming pass
 * over contiguous component runs of P numbers, written so the compiler can
 * vectorise the inner loops. Activations are evaluated in chunks: first the
 * derivatives sigma^(k) of a run of pre-activations into small stack buffers
 * (the only part that depends on the activation), then the jet rule that is the
 * same for every activation. Nothing here allocates. The tangents at the end
 * (forward mode in the parameters, for matrix-free Gauss–Newton) follow the
 * same structure as the forward kernels they differentiate. */
#include "hpinn/jets.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jets_math.h"

#define HP__TWO_PI 6.283185307179586476925286766559

/* The activation passes are the largest cost after the GEMMs. GCC 12 at -O2
 * vectorises only loops whose trip count is a multiple of the vector length
 * (the "very cheap" cost model), i.e. none of these; so they are compiled with
 * the dynamic cost model, and on x86-64 also cloned for AVX2 and picked at load
 * time (measured on the Zen 4 test machine, tanh at order 2: forward 1.66 ->
 * 1.06 ms, backward 1.80 -> 0.77 ms per 336k unit-points). ISO C mode means no
 * FMA contraction, so the clones give the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HP__VECTORISED \
    __attribute__((target_clones("avx2", "default"), optimize("vect-cost-model=dynamic")))
#elif defined(__GNUC__) && !defined(__clang__)
#define HP__VECTORISED __attribute__((optimize("vect-cost-model=dynamic")))
#else
#define HP__VECTORISED
#endif

/* Points per activation chunk: 4 buffers of this many doubles stay in L1. */
#define HP__CHUNK 512

/* ---- scalar activation reference ------------------------------------------ */

static double hp__sigmoid(double u) {
    if (u >= 0.0) return 1.0 / (1.0 + exp(-u));
    double e = exp(u);
    return e / (1.0 + e);
}

void hp_activation_eval(hp_activation act, double z, double out[4]) {
    switch (act.kind) {
    case HP_ACT_TANH: {
        double t = tanh(z), s1 = 1.0 - t * t;
        out[0] = t;
        out[1] = s1;
        out[2] = -2.0 * t * s1;
        out[3] = s1 * (6.0 * t * t - 2.0);
        return;
    }
    case HP_ACT_SWISH: {
        double b = act.b, s = hp__sigmoid(b * z);
        double d1 = s * (1.0 - s), d2 = d1 * (1.0 - 2.0 * s), d3 = d1 * (1.0 - 6.0 * s + 6.0 * s * s);
        out[0] = z * s;
        out[1] = s + b * z * d1;
        out[2] = 2.0 * b * d1 + b * b * z * d2;
        out[3] = 3.0 * b * b * d2 + b * b * b * z * d3;
        return;
    }
    case HP_ACT_SIN: {
        double s = sin(z), c = cos(z);
        out[0] = s;
        out[1] = c;
        out[2] = -s;
        out[3] = -c;
        return;
    }
    case HP_ACT_GELU: {
        double phi = 0.398942280401432677939946059934 * exp(-0.5 * z * z);
        double Phi = 0.5 * erfc(-z * 0.707106781186547524400844362105);
        out[0] = z * Phi;
        out[1] = Phi + z * phi;
        out[2] = phi * (2.0 - z * z);
        out[3] = phi * (z * z * z - 4.0 * z);
        return;
    }
    case HP_ACT_SOFTPLUS: {
        double s = hp__sigmoid(z), d1 = s * (1.0 - s);
        out[0] = (z > 0.0 ? z : 0.0) + log1p(exp(-fabs(z)));
        out[1] = s;
        out[2] = d1;
        out[3] = d1 * (1.0 - 2.0 * s);
        return;
    }
    }
    out[0] = out[1] = out[2] = out[3] = NAN;
}

/* Derivatives sigma^(k)(z[i]) for k in [k_first, k_last] into s[k][i], i < n.
 * `a` (the forward output sigma(z), may be NULL) lets tanh skip recomputation. */
HP__VECTORISED static void hp__activation_derivs(hp_activation act, const double *restrict z,
                                  const double *restrict a, size_t n, int k_first, int k_last,
                                  double *restrict s0, double *restrict s1,
                                  double *restrict s2, double *restrict s3) {
    switch (act.kind) {
    case HP_ACT_TANH: {
        double *t = s0;
        if (a) {
            if (k_first == 0) memcpy(s0, a, n * sizeof *s0);
            else t = (double *)a; /* read-only use below */
        } else {
            hp__tanh_block(s0, z, n);
        }
        const double *restrict tt = t;
        if (k_last >= 1)
            for (size_t i = 0; i < n; i++) s1[i] = 1.0 - tt[i] * tt[i];
        if (k_last >= 2)
            for (size_t i = 0; i < n; i++) s2[i] = -2.0 * tt[i] * s1[i];
        if (k_last >= 3)
            for (size_t i = 0; i < n; i++) s3[i] = s1[i] * (6.0 * tt[i] * tt[i] - 2.0);
        return;
    }
    case HP_ACT_SWISH: {
        double b = act.b;
        for (size_t i = 0; i < n; i++) s0[i] = -b * z[i];
        hp__exp_block(s0, s0, n); /* e^{-bz}; sigmoid = 1/(1+e^{-bz}) */
        for (size_t i = 0; i < n; i++) {
            double s = 1.0 / (1.0 + s0[i]);
            double zi = z[i], d1 = s * (1.0 - s), d2 = d1 * (1.0 - 2.0 * s);
            double v0 = zi * s, v1 = s + b * zi * d1;
            double v2 = 2.0 * b * d1 + b * b * zi * d2;
            double v3 = 3.0 * b * b * d2 + b * b * b * zi * d1 * (1.0 - 6.0 * s + 6.0 * s * s);
            s0[i] = v0;
            if (k_last >= 1) s1[i] = v1;
            if (k_last >= 2) s2[i] = v2;
            if (k_last >= 3) s3[i] = v3;
        }
        return;
    }
    default: {
        double d[4];
        for (size_t i = 0; i < n; i++) {
            hp_activation_eval(act, z[i], d);
            s0[i] = d[0];
            if (k_last >= 1) s1[i] = d[1];
            if (k_last >= 2) s2[i] = d[2];
            if (k_last >= 3) s3[i] = d[3];
        }
        return;
    }
    }
}

/* ---- dense ----------------------------------------------------------------- */

void hp_jet_dense_forward(double *out, const double *in, const double *weight,
                          const double *bias, size_t n_out, size_t n_in,
                          size_t n_points, int order, int dim) {
    size_t cols = (size_t)hp_jet_components(order, dim) * n_points;
    if (n_out == 0 || cols == 0) return;
    if (n_in == 0) {
        memset(out, 0, n_out * cols * sizeof *out);
    } else if (n_out == 1) {
        /* a scalar output layer: GEMM would pack both operands for one row */
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)n_in, (int)cols, 1.0, in, (int)cols, weight,
                    1, 0.0, out, 1);
    } else {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n_out, (int)cols,
                    (int)n_in, 1.0, weight, (int)n_in, in, (int)cols, 0.0, out, (int)cols);
    }
    if (bias) {
        for (size_t j = 0; j < n_out; j++) {
            double *restrict row = out + j * cols;
            double bj = bias[j];
            for (size_t p = 0; p < n_points; p++) row[p] += bj;
        }
    }
}

void hp_jet_dense_backward(double *d_in, double *d_weight, double *d_bias,
                           const double *d_out, const double *in, const double *weight,
                           size_t n_out, size_t n_in, size_t n_points, int order, int dim) {
    size_t cols = (size_t)hp_jet_components(order, dim) * n_points;
    if (cols == 0) return;
    if (d_weight && n_out == 1 && n_in)
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n_in, (int)cols, 1.0, in, (int)cols, d_out,
                    1, 1.0, d_weight, 1);
    else if (d_weight && n_out && n_in)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_out, (int)n_in,
                    (int)cols, 1.0, d_out, (int)cols, in, (int)cols, 1.0, d_weight, (int)n_in);
    if (d_bias) {
        for (size_t j = 0; j < n_out; j++) {
            const double *restrict row = d_out + j * cols;
            double sum = 0.0;
            for (size_t p = 0; p < n_points; p++) sum += row[p];
            d_bias[j] += sum;
        }
    }
    if (d_in && n_in) {
        if (n_out == 0) {
            memset(d_in, 0, n_in * cols * sizeof *d_in);
        } else if (n_out == 1) {
            /* the outer product weight^T d_out, written once (no zeroing pass) */
            for (size_t i = 0; i < n_in; i++) {
                double *restrict row = d_in + i * cols;
                const double *restrict g = d_out;
                double wi = weight[i];
                for (size_t c = 0; c < cols; c++) row[c] = wi * g[c];
            }
        } else {
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n_in, (int)cols,
                        (int)n_out, 1.0, weight, (int)n_in, d_out, (int)cols, 0.0, d_in,
                        (int)cols);
        }
    }
}

void hp_jet_dense_jacobian(double *rows_weight, double *rows_bias, size_t ld_rows,
                           const double *d_out, const double *in, size_t n_out,
                           size_t n_in, size_t n_points, int order, int dim) {
    int C = hp_jet_components(order, dim);
    size_t P = n_points, cols = (size_t)C * P;
    for (size_t p = 0; p < P; p++) {
        if (rows_weight) {
            double *row = rows_weight + p * ld_rows;
            for (int c = 0; c < C; c++)
                cblas_dger(CblasRowMajor, (int)n_out, (int)n_in, 1.0, d_out + c * P + p,
                           (int)cols, in + c * P + p, (int)cols, row, (int)n_in);
        }
        if (rows_bias) {
            double *row = rows_bias + p * ld_rows;
            for (size_t j = 0; j < n_out; j++) row[j] += d_out[j * cols + p];
        }
    }
}

void hp_jet_dense_reverse(double *d_in, const double *d_out, const double *in,
                          const double *theta, size_t weight, size_t bias, size_t n_out,
                          size_t n_in, size_t n_points, int order, int dim,
                          hp_jet_param_sink sink) {
    if (sink.grad) {
        hp_jet_dense_backward(d_in, sink.grad + weight, sink.grad + bias, d_out, in,
                              theta + weight, n_out, n_in, n_points, order, dim);
        return;
    }
    hp_jet_dense_jacobian(sink.rows + weight, sink.rows + bias, sink.ld_rows, d_out, in, n_out,
                          n_in, n_points, order, dim);
    hp_jet_dense_backward(d_in, NULL, NULL, d_out, in, theta + weight, n_out, n_in, n_points,
                          order, dim);
}

/* ---- activation ------------------------------------------------------------ */

HP__VECTORISED void hp_jet_activation_forward(double *a, const double *z, hp_activation act,
                               size_t width, size_t n_points, int order, int dim) {
    int C = hp_jet_components(order, dim);
    size_t P = n_points, cols = (size_t)C * P;
    double s0[HP__CHUNK], s1[HP__CHUNK], s2[HP__CHUNK], s3[HP__CHUNK];
    int k_last = order < 0 ? 0 : (order > 2 ? 2 : order);
    for (size_t j = 0; j < width; j++) {
        const double *zr = z + j * cols;
        double *ar = a + j * cols;
        for (size_t q = 0; q < P; q += HP__CHUNK) {
            size_t n = P - q < HP__CHUNK ? P - q : HP__CHUNK;
            hp__activation_derivs(act, zr + q, NULL, n, 0, k_last, s0, s1, s2, s3);
            memcpy(ar + q, s0, n * sizeof *s0);
            if (order >= 1) {
                for (int c = 1; c <= dim; c++) {
                    const double *restrict zc = zr + (size_t)c * P + q;
                    double *restrict ac = ar + (size_t)c * P + q;
                    for (size_t i = 0; i < n; i++) ac[i] = s1[i] * zc[i];
                }
            }
            if (order >= 2) {
                const double *restrict zl = zr + (size_t)(dim + 1) * P + q;
                double *restrict al = ar + (size_t)(dim + 1) * P + q;
                /* s3 holds |grad z|^2 here (unused as sigma''' in the forward) */
                memset(s3, 0, n * sizeof *s3);
                for (int c = 1; c <= dim; c++) {
                    const double *restrict zc = zr + (size_t)c * P + q;
                    for (size_t i = 0; i < n; i++) s3[i] += zc[i] * zc[i];
                }
                for (size_t i = 0; i < n; i++) al[i] = s2[i] * s3[i] + s1[i] * zl[i];
            }
        }
    }
}

HP__VECTORISED void hp_jet_activation_backward(double *d_z, const double *d_a, const double *z,
                                const double *a, hp_activation act, size_t width,
                                size_t n_points, int order, int dim) {
    int C = hp_jet_components(order, dim);
    size_t P = n_points, cols = (size_t)C * P;
    double s0[HP__CHUNK], s1[HP__CHUNK], s2[HP__CHUNK], s3[HP__CHUNK];
    double acc[HP__CHUNK];
    int k_last = order < 0 ? 1 : (order > 2 ? 3 : order + 1);
    for (size_t j = 0; j < width; j++) {
        const double *zr = z + j * cols, *dar = d_a + j * cols;
        double *dzr = d_z + j * cols;
        for (size_t q = 0; q < P; q += HP__CHUNK) {
            size_t n = P - q < HP__CHUNK ? P - q : HP__CHUNK;
            hp__activation_derivs(act, zr + q, a ? a + j * cols + q : NULL, n, 1, k_last, s0,
                                  s1, s2, s3);
            const double *restrict da0 = dar + q;
            double *restrict dz0 = dzr + q;
            /* acc: the coefficient of sigma'' in d_z[value] */
            memset(acc, 0, n * sizeof *acc);
            if (order >= 1) {
                for (int c = 1; c <= dim; c++) {
                    const double *restrict zc = zr + (size_t)c * P + q;
                    const double *restrict dac = dar + (size_t)c * P + q;
                    for (size_t i = 0; i < n; i++) acc[i] += zc[i] * dac[i];
                }
            }
            if (order >= 2) {
                const double *restrict zl = zr + (size_t)(dim + 1) * P + q;
                const double *restrict dal = dar + (size_t)(dim + 1) * P + q;
                double *restrict dzl = dzr + (size_t)(dim + 1) * P + q;
                /* s0 (free in the backward) accumulates |grad z|^2 */
                memset(s0, 0, n * sizeof *s0);
                for (int c = 1; c <= dim; c++) {
                    const double *restrict zc = zr + (size_t)c * P + q;
                    const double *restrict dac = dar + (size_t)c * P + q;
                    double *restrict dzc = dzr + (size_t)c * P + q;
                    for (size_t i = 0; i < n; i++) {
                        s0[i] += zc[i] * zc[i];
                        dzc[i] = s1[i] * dac[i] + 2.0 * s2[i] * zc[i] * dal[i];
                    }
                }
                for (size_t i = 0; i < n; i++) {
                    dz0[i] = s1[i] * da0[i] + s2[i] * acc[i] +
                             (s3[i] * s0[i] + s2[i] * zl[i]) * dal[i];
                    dzl[i] = s1[i] * dal[i];
                }
            } else if (order == 1) {
                for (int c = 1; c <= dim; c++) {
                    const double *restrict dac = dar + (size_t)c * P + q;
                    double *restrict dzc = dzr + (size_t)c * P + q;
                    for (size_t i = 0; i < n; i++) dzc[i] = s1[i] * dac[i];
                }
                for (size_t i = 0; i < n; i++) dz0[i] = s1[i] * da0[i] + s2[i] * acc[i];
            } else {
                for (size_t i = 0; i < n; i++) dz0[i] = s1[i] * da0[i];
            }
        }
    }
}

/* ---- Fourier embedding ----------------------------------------------------- */

void hp_jet_fourier_forward(double *out, const double *x, const double *B,
                            size_t n_features, size_t n_points, int order, int dim) {
    size_t m = n_features, P = n_points;
    size_t cols = (size_t)hp_jet_components(order, dim) * P;
    for (size_t f = 0; f < m; f++) {
        const double *b = B + f * (size_t)dim;
        double *cr = out + f * cols, *sr = out + (m + f) * cols;
        double nb2 = 0.0;
        for (int a = 0; a < dim; a++) nb2 += b[a] * b[a];
        /* phases into the cos row's value run, then cos/sin in place */
        for (size_t p = 0; p < P; p++) {
            double s = 0.0;
            for (int a = 0; a < dim; a++) s += b[a] * x[p * (size_t)dim + a];
            cr[p] = HP__TWO_PI * s;
        }
        hp__sincos_block(sr, cr, cr, P);
        if (order >= 1) {
            for (int c = 1; c <= dim; c++) {
                double w = HP__TWO_PI * b[c - 1];
                double *restrict cc = cr + (size_t)c * P, *restrict sc = sr + (size_t)c * P;
                for (size_t p = 0; p < P; p++) {
                    cc[p] = -w * sr[p];
                    sc[p] = w * cr[p];
                }
            }
        }
        if (order >= 2) {
            double w2 = HP__TWO_PI * HP__TWO_PI * nb2;
            double *restrict cl = cr + (size_t)(dim + 1) * P, *restrict sl = sr + (size_t)(dim + 1) * P;
            for (size_t p = 0; p < P; p++) {
                cl[p] = -w2 * cr[p];
                sl[p] = -w2 * sr[p];
            }
        }
    }
}

/* d_B row f for point p, added into g[0..dim). See hpinn/jets.h for the rule; here
 * s = 2 pi b.x, so d s / d b_c = 2 pi x_c, and the derivative and Laplacian
 * components also depend on b directly. */
static void hp__fourier_point_grad(double *g, const double *d_out, const double *out,
                                   const double *xp, const double *b, size_t f, size_t m,
                                   size_t p, size_t P, size_t cols, int order, int dim) {
    const double w = HP__TWO_PI;
    const double *dcr = d_out + f * cols, *dsr = d_out + (m + f) * cols;
    double cs = out[f * cols + p], sn = out[(m + f) * cols + p];
    double dvc = dcr[p], dvs = dsr[p];
    double T = -sn * dvc + cs * dvs; /* coefficient of d s / d b_c */
    double nb2 = 0.0, bgc = 0.0, bgs = 0.0;
    for (int a = 0; a < dim; a++) nb2 += b[a] * b[a];
    if (order >= 1) {
        for (int e = 0; e < dim; e++) {
            bgc += b[e] * dcr[(size_t)(e + 1) * P + p];
            bgs += b[e] * dsr[(size_t)(e + 1) * P + p];
        }
        T += -w * cs * bgc - w * sn * bgs;
    }
    double dLc = 0.0, dLs = 0.0;
    if (order >= 2) {
        dLc = dcr[(size_t)(dim + 1) * P + p];
        dLs = dsr[(size_t)(dim + 1) * P + p];
        T += w * w * nb2 * (sn * dLc - cs * dLs);
    }
    for (int c = 0; c < dim; c++) {
        double direct = 0.0;
        if (order >= 1) direct += w * (cs * dsr[(size_t)(c + 1) * P + p] - sn * dcr[(size_t)(c + 1) * P + p]);
        if (order >= 2) direct += -2.0 * w * w * b[c] * (cs * dLc + sn * dLs);
        g[c] += w * xp[c] * T + direct;
    }
}

void hp_jet_fourier_backward(double *d_B, const double *d_out, const double *out,
                             const double *x, const double *B, size_t n_features,
                             size_t n_points, int order, int dim) {
    if (!d_B) return;
    size_t m = n_features, P = n_points;
    size_t cols = (size_t)hp_jet_components(order, dim) * P;
    for (size_t f = 0; f < m; f++) {
        double g[HP_JET_MAX_DIM] = {0};
        for (size_t p = 0; p < P; p++)
            hp__fourier_point_grad(g, d_out, out, x + p * (size_t)dim, B + f * (size_t)dim, f,
                                   m, p, P, cols, order, dim);
        for (int c = 0; c < dim; c++) d_B[f * (size_t)dim + c] += g[c];
    }
}

void hp_jet_fourier_jacobian(double *rows_B, size_t ld_rows, const double *d_out,
                             const double *out, const double *x, const double *B,
                             size_t n_features, size_t n_points, int order, int dim) {
    size_t m = n_features, P = n_points;
    size_t cols = (size_t)hp_jet_components(order, dim) * P;
    for (size_t p = 0; p < P; p++)
        for (size_t f = 0; f < m; f++)
            hp__fourier_point_grad(rows_B + p * ld_rows + f * (size_t)dim, d_out, out,
                                   x + p * (size_t)dim, B + f * (size_t)dim, f, m, p, P, cols,
                                   order, dim);
}

/* ---- boundary lift --------------------------------------------------------- */

/* The jet of l at one point: l, d_c l (c < dim), Lap l. dim <= 3 is plenty here
 * (the framework uses d = 1, 2); larger dims still work through the loops. */
static void hp__lift_point(const double *xp, int dim, double *l, double *grad, double *lap) {
    double g[HP_JET_MAX_DIM], gp[HP_JET_MAX_DIM];
    int d = dim;
    double prod = 1.0;
    for (int a = 0; a < d; a++) {
        g[a] = xp[a] * (1.0 - xp[a]);
        gp[a] = 1.0 - 2.0 * xp[a];
        prod *= g[a];
    }
    double L = 0.0;
    for (int c = 0; c < d; c++) {
        double others = 1.0; /* prod_{a != c} g_a, without dividing (g may be 0) */
        for (int a = 0; a < d; a++)
            if (a != c) others *= g[a];
        grad[c] = gp[c] * others;
        L += -2.0 * others;
    }
    *l = prod;
    *lap = L;
}

void hp_jet_lift_forward(double *out, const double *in, const double *x, size_t rows,
                         size_t n_points, int order, int dim) {
    size_t P = n_points, cols = (size_t)hp_jet_components(order, dim) * P;
    for (size_t p = 0; p < P; p++) {
        double l, grad[HP_JET_MAX_DIM], lap;
        hp__lift_point(x + p * (size_t)dim, dim, &l, grad, &lap);
        for (size_t r = 0; r < rows; r++) {
            const double *ir = in + r * cols;
            double *orow = out + r * cols;
            double N = ir[p];
            if (order >= 2) {
                double dot = 0.0;
                for (int c = 0; c < dim; c++) dot += grad[c] * ir[(size_t)(c + 1) * P + p];
                size_t iL = (size_t)(dim + 1) * P + p;
                orow[iL] = N * lap + 2.0 * dot + l * ir[iL];
            }
            if (order >= 1)
                for (int c = 0; c < dim; c++) {
                    size_t ic = (size_t)(c + 1) * P + p;
                    orow[ic] = N * grad[c] + l * ir[ic];
                }
            orow[p] = l * N;
        }
    }
}

void hp_jet_lift_backward(double *d_in, const double *d_out, const double *x, size_t rows,
                          size_t n_points, int order, int dim) {
    size_t P = n_points, cols = (size_t)hp_jet_components(order, dim) * P;
    for (size_t p = 0; p < P; p++) {
        double l, grad[HP_JET_MAX_DIM], lap;
        hp__lift_point(x + p * (size_t)dim, dim, &l, grad, &lap);
        for (size_t r = 0; r < rows; r++) {
            const double *dor = d_out + r * cols;
            double *dir = d_in + r * cols;
            double dv = dor[p], dL = 0.0;
            double d0 = l * dv;
            if (order >= 2) dL = dor[(size_t)(dim + 1) * P + p];
            if (order >= 1)
                for (int c = 0; c < dim; c++) {
                    size_t ic = (size_t)(c + 1) * P + p;
                    double dg = dor[ic];
                    d0 += grad[c] * dg;
                    dir[ic] = l * dg + 2.0 * grad[c] * dL;
                }
            if (order >= 2) {
                d0 += lap * dL;
                dir[(size_t)(dim + 1) * P + p] = l * dL;
            }
            dir[p] = d0;
        }
    }
}


/* ---- tangents ---------------------------------------------------------------- */

void hp_jet_dense_tangent(double *dz, const double *in, const double *d_in, const double *weight,
                          const double *d_weight, const double *d_bias, size_t n_out, size_t n_in,
                          size_t n_points, int order, int dim) {
    size_t cols = (size_t)hp_jet_components(order, dim) * n_points;
    if (n_out == 0 || cols == 0) return;
    double beta = 0.0;
    if (d_in && n_in) {
        hp_jet_dense_forward(dz, d_in, weight, NULL, n_out, n_in, n_points, order, dim);
        beta = 1.0;
    }
    if (d_weight && n_in) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n_out, (int)cols, (int)n_in, 1.0,
                    d_weight, (int)n_in, in, (int)cols, beta, dz, (int)cols);
        beta = 1.0;
    }
    if (beta == 0.0) memset(dz, 0, n_out * cols * sizeof *dz);
    if (d_bias) {
        for (size_t j = 0; j < n_out; j++) {
            double *restrict row = dz + j * cols;
            double bj = d_bias[j];
            for (size_t p = 0; p < n_points; p++) row[p] += bj;
        }
    }
}

HP__VECTORISED void hp_jet_activation_tangent(double *da, const double *dz, const double *z, hp_activation act,
                                              size_t width, size_t n_points, int order, int dim) {
    int C = hp_jet_components(order, dim);
    size_t P = n_points, cols = (size_t)C * P;
    double s0[HP__CHUNK], s1[HP__CHUNK], s2[HP__CHUNK], s3[HP__CHUNK], t[HP__CHUNK];
    int k_last = order < 0 ? 1 : (order > 2 ? 3 : order + 1);
    for (size_t j = 0; j < width; j++) {
        const double *zr = z + j * cols, *dzr = dz + j * cols;
        double *dar = da + j * cols;
        for (size_t q = 0; q < P; q += HP__CHUNK) {
            size_t n = P - q < HP__CHUNK ? P - q : HP__CHUNK;
            hp__activation_derivs(act, zr + q, NULL, n, 1, k_last, s0, s1, s2, s3);
            const double *restrict dz0 = dzr + q;
            double *restrict da0 = dar + q;
            if (order >= 2) {
                const double *restrict zl = zr + (size_t)(dim + 1) * P + q;
                const double *restrict dzl = dzr + (size_t)(dim + 1) * P + q;
                double *restrict dal = dar + (size_t)(dim + 1) * P + q;
                /* s0: |grad z|^2, t: grad z . grad dz */
                memset(s0, 0, n * sizeof *s0);
                memset(t, 0, n * sizeof *t);
                for (int c = 1; c <= dim; c++) {
                    const double *restrict zc = zr + (size_t)c * P + q;
                    const double *restrict dzc = dzr + (size_t)c * P + q;
                    for (size_t i = 0; i < n; i++) {
                        s0[i] += zc[i] * zc[i];
                        t[i] += zc[i] * dzc[i];
                    }
                }
                for (size_t i = 0; i < n; i++)
                    dal[i] = s3[i] * dz0[i] * s0[i] + 2.0 * s2[i] * t[i] + s2[i] * dz0[i] * zl[i] + s1[i] * dzl[i];
            }
            if (order >= 1) {
                for (int c = 1; c <= dim; c++) {
                    const double *restrict zc = zr + (size_t)c * P + q;
                    const double *restrict dzc = dzr + (size_t)c * P + q;
                    double *restrict dac = dar + (size_t)c * P + q;
                    for (size_t i = 0; i < n; i++) dac[i] = s2[i] * dz0[i] * zc[i] + s1[i] * dzc[i];
                }
            }
            for (size_t i = 0; i < n; i++) da0[i] = s1[i] * dz0[i];
        }
    }
}

void hp_jet_fourier_tangent(double *d_out, const double *out, const double *x, const double *B,
                            const double *d_B, size_t n_features, size_t n_points, int order, int dim) {
    const double w = HP__TWO_PI;
    size_t m = n_features, P = n_points;
    size_t cols = (size_t)hp_jet_components(order, dim) * P;
    for (size_t f = 0; f < m; f++) {
        const double *b = B + f * (size_t)dim, *db = d_B + f * (size_t)dim;
        const double *cr = out + f * cols, *sr = out + (m + f) * cols;
        double *dcr = d_out + f * cols, *dsr = d_out + (m + f) * cols;
        double nb2 = 0.0, bdb = 0.0;
        for (int a = 0; a < dim; a++) {
            nb2 += b[a] * b[a];
            bdb += b[a] * db[a];
        }
        for (size_t p = 0; p < P; p++) {
            double ds = 0.0; /* d s = 2 pi db . x */
            for (int a = 0; a < dim; a++) ds += db[a] * x[p * (size_t)dim + a];
            ds *= w;
            double cs = cr[p], sn = sr[p];
            dcr[p] = -sn * ds;
            dsr[p] = cs * ds;
            if (order >= 1)
                for (int c = 1; c <= dim; c++) {
                    size_t ic = (size_t)c * P + p;
                    dcr[ic] = -w * db[c - 1] * sn - w * b[c - 1] * cs * ds;
                    dsr[ic] = w * db[c - 1] * cs - w * b[c - 1] * sn * ds;
                }
            if (order >= 2) {
                size_t iL = (size_t)(dim + 1) * P + p;
                dcr[iL] = -w * w * (2.0 * bdb * cs - nb2 * sn * ds);
                dsr[iL] = -w * w * (2.0 * bdb * sn + nb2 * cs * ds);
            }
        }
    }
}
