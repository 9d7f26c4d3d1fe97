/* bench_networks.c — one training iteration of the PINN residual loss on the
 * paper's multiscale Fourier feature networks: forward at order 2 on the
 * collocation points, the hard boundary lift, the residual
 *     rho = -K Lap v - grad K . grad v - f,   J = (1/M) sum rho^2,
 * its cotangent, the lift's reverse and the network's backward.
 *
 * Prints per configuration: ms per iteration (median), the jet GEMM flops and
 * their rate, the same GEMM sequence replayed alone, the machine's DGEMM rate
 * measured in this run, and — unless --no-torch — the same network and loss in
 * PyTorch (bench_networks_torch.py, float64, 2 threads, autograd with
 * create_graph) on identical weights: loss agreement and the time ratio.
 *
 *   bench_networks [--iters N] [--no-torch] [--only NAME] [--set KEY=VALUE]...
 *
 * --set passes extra msff parameters (e.g. threads=1, chunk_points=128). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hpinn/jets.h"
#include "hpinn/network.h"
#include "hpinn/params.h"
#include "hpinn/registry.h"
#include "network_runner.h"

#ifndef HPINN_TORCH_SCRIPT
#define HPINN_TORCH_SCRIPT "bench_networks_torch.py"
#endif

#define TWO_PI 6.283185307179586476925286766559

typedef struct bench_config {
    const char *name;
    int dim, depth, width, features, points_per_dim;
    double sigma2; /* sigmas = [1, sigma2] */
    const char *activation;
    double inv_eps; /* K = 1 / (1.2 + sin(2 pi inv_eps x_1)) (times a smooth factor in 2-D) */
} bench_config;

static const bench_config k_configs[] = {
    {"1d-eps48", 1, 2, 100, 100, 840, 48.0, "tanh", 48.0},
    {"1d-eps64", 1, 2, 150, 100, 1000, 64.0, "swish", 64.0},
    {"2d-64x64", 2, 2, 100, 100, 64, 16.0, "tanh", 16.0},
};

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what) {
    fprintf(stderr, "bench_networks: %s: %s\n%s", what, hp_error_message(), hp_error_trace());
    exit(1);
}

/* The problem data at the points: K, grad K, f (the values do not matter for
 * timing, but they are the paper's kind: an oscillating K and a smooth q). */
static void problem_data(const bench_config *c, const double *x, size_t M, double *K,
                         double *gK, double *f) {
    int d = c->dim;
    for (size_t r = 0; r < M; r++) {
        double x1 = x[r * d], w = TWO_PI * c->inv_eps;
        double den = 1.2 + sin(w * x1);
        double k = 1.0 / den, dk1 = -w * cos(w * x1) / (den * den);
        double q = -3.0 * (2.0 * x1 - 1.0);
        if (d == 1) {
            K[r] = k;
            gK[r] = dk1;
            f[r] = q + dk1;
        } else {
            double x2 = x[r * d + 1], s = 1.0 + 0.5 * x2 * x2; /* K = k(x1) s(x2) */
            K[r] = k * s;
            gK[r * 2] = dk1 * s;
            gK[r * 2 + 1] = k * x2;
            f[r] = exp(-((x1 - 0.5) * (x1 - 0.5) + (x2 - 0.5) * (x2 - 0.5))) + gK[r * 2];
        }
    }
}

typedef struct pinn {
    hp__net *net;
    hp__tape *tape;
    size_t M, n_params;
    int d;
    const double *x, *K, *gK, *f;
    double *v, *cot, *grad;
} pinn;

/* One iteration: J and dJ/dtheta (grad overwritten). */
static double pinn_iteration(pinn *s, const double *theta, const double *x) {
    size_t M = s->M;
    int d = s->d, C = hp_jet_components(2, d);
    const double *out;
    if (x != hp__tape_x(s->tape) && memcmp(x, hp__tape_x(s->tape), M * (size_t)d * sizeof *x) != 0)
        hp__tape_set_points(s->tape, x); /* moved points: everything is recomputed */
    if (hp__net_forward(s->net, s->tape, theta, &out) != HP_OK) die("forward");
    memcpy(s->v, out, (size_t)C * M * sizeof *out);
    hp_jet_lift_forward(s->v, s->v, x, 1, M, 2, d);
    double J = 0.0;
    for (size_t r = 0; r < M; r++) {
        double gdot = 0.0;
        for (int c = 0; c < d; c++) gdot += s->gK[r * d + c] * s->v[(size_t)(c + 1) * M + r];
        double rho = -s->K[r] * s->v[(size_t)(d + 1) * M + r] - gdot - s->f[r];
        J += rho * rho;
        double drho = 2.0 * rho / (double)M;
        s->cot[r] = 0.0;
        for (int c = 0; c < d; c++) s->cot[(size_t)(c + 1) * M + r] = -s->gK[r * d + c] * drho;
        s->cot[(size_t)(d + 1) * M + r] = -s->K[r] * drho;
    }
    J /= (double)M;
    hp_jet_lift_backward(s->cot, s->cot, x, 1, M, 2, d);
    memset(s->grad, 0, s->n_params * sizeof *s->grad);
    if (hp__net_backward(s->net, s->tape, theta, s->cot, s->grad) != HP_OK) die("backward");
    return J;
}

/* The DGEMM calls of one iteration of the unsplit network, for counting and
 * replay. msff.c cuts the same products into per-chunk column blocks (and runs
 * the one-row output layer as GEMV): the flop count is the same. */
typedef struct gemm_call {
    int ta, tb; /* transposes */
    int m, n, k;
    double beta;
} gemm_call;

static int msff_gemms(const bench_config *c, size_t M, gemm_call *calls) {
    int n = 0, K = 2, W = c->width, m2 = 2 * c->features;
    int cols = hp_jet_components(2, c->dim) * (int)M;
    for (int k = 0; k < K; k++)
        for (int l = 0; l < c->depth; l++)
            calls[n++] = (gemm_call){0, 0, W, cols, l == 0 ? m2 : W, 0.0};
    calls[n++] = (gemm_call){0, 0, 1, cols, K * W, 0.0};
    calls[n++] = (gemm_call){0, 1, 1, K * W, cols, 1.0};
    calls[n++] = (gemm_call){1, 0, K * W, cols, 1, 0.0};
    for (int k = 0; k < K; k++)
        for (int l = c->depth - 1; l >= 0; l--) {
            int n_in = l == 0 ? m2 : W;
            calls[n++] = (gemm_call){0, 1, W, n_in, cols, 1.0};
            if (l > 0) calls[n++] = (gemm_call){1, 0, n_in, cols, W, 0.0};
        }
    return n;
}

static double gemm_flops(const gemm_call *calls, int n) {
    double f = 0.0;
    for (int i = 0; i < n; i++) f += 2.0 * calls[i].m * (double)calls[i].n * calls[i].k;
    return f;
}

/* Time the GEMM sequence alone (same shapes, transposes, betas), median ms. */
static double replay_gemms(const gemm_call *calls, int n, int iters) {
    size_t biggest = 0;
    for (int i = 0; i < n; i++) {
        size_t a = (size_t)calls[i].m * calls[i].k, b = (size_t)calls[i].k * calls[i].n;
        size_t c = (size_t)calls[i].m * calls[i].n;
        if (a > biggest) biggest = a;
        if (b > biggest) biggest = b;
        if (c > biggest) biggest = c;
    }
    double *A = calloc(biggest, sizeof *A), *B = calloc(biggest, sizeof *B);
    double *Cm = calloc(biggest, sizeof *Cm);
    for (size_t i = 0; i < biggest; i++) A[i] = B[i] = 1e-3 * (double)(i % 97);
    double *t = malloc((size_t)iters * sizeof *t);
    for (int it = -3; it < iters; it++) {
        double t0 = now_seconds();
        for (int i = 0; i < n; i++) {
            const gemm_call *g = &calls[i];
            int lda = g->ta ? g->m : g->k, ldb = g->tb ? g->k : g->n;
            cblas_dgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                        g->tb ? CblasTrans : CblasNoTrans, g->m, g->n, g->k, 1.0, A, lda, B, ldb,
                        g->beta, Cm, g->n);
        }
        if (it >= 0) t[it] = 1e3 * (now_seconds() - t0);
    }
    double med = median(t, iters);
    free(A); free(B); free(Cm); free(t);
    return med;
}

/* The machine's DGEMM rate: square 2000^3, best of 5, GFLOP/s. */
static double dgemm_peak(void) {
    const int n = 2000;
    double *A = malloc((size_t)n * n * sizeof *A), *B = malloc((size_t)n * n * sizeof *B);
    double *Cm = malloc((size_t)n * n * sizeof *Cm);
    for (size_t i = 0; i < (size_t)n * n; i++) A[i] = B[i] = 1e-3 * (double)(i % 101);
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now_seconds();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, A, n, B, n, 0.0, Cm, n);
        double t = now_seconds() - t0;
        if (t < best) best = t;
    }
    free(A); free(B); free(Cm);
    return 2.0 * n * (double)n * n / best * 1e-9;
}

/* The 1-minute load average, or -1: the machine is shared, so every figure
 * is printed with the load it was measured under. */
static double load_average(void) {
    FILE *fp = fopen("/proc/loadavg", "r");
    double l = -1.0;
    if (fp) {
        if (fscanf(fp, "%lf", &l) != 1) l = -1.0;
        fclose(fp);
    }
    return l;
}

static int write_all(FILE *fp, const double *v, size_t n) { return fwrite(v, sizeof *v, n, fp) == n; }

/* Run the PyTorch twin on the dumped weights and data; returns 0 and fills
 * loss / ms when it ran. */
static int run_torch(const char *dump, int iters, double *loss, double *ms, double *ms_first) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %d", HPINN_TORCH_SCRIPT, dump, iters);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[512];
    int got = 0;
    while (fgets(line, sizeof line, p)) {
        if (sscanf(line, "torch loss %lf ms %lf first %lf", loss, ms, ms_first) == 3) got = 1;
        else fputs(line, stderr);
    }
    int rc = pclose(p);
    return got && rc == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    int iters = 100, torch = 1;
    const char *only = NULL, *extra[8];
    int n_extra = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--set") && i + 1 < argc && n_extra < 8) extra[n_extra++] = argv[++i];
        else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--iters N] [--no-torch] [--only NAME] [--set KEY=VALUE]...\n",
                    argv[0]);
            return 2;
        }
    }
    if (iters < 3) iters = 3;
    hp_registry *reg;
    if (hp_registry_open(&reg) != HP_OK) die("registry");
    const hp_plugin_descriptor *desc;
    if (hp_registry_find(reg, HP_PLUGIN_NETWORK, "msff", &desc) != HP_OK) die("find msff");

    printf("load average at start: %.2f\n", load_average());
    double peak = dgemm_peak();
    printf("DGEMM 2000^3 (OpenBLAS, this run): %.1f GFLOP/s\n", peak);
    printf("%-9s %6s %5s | %8s %8s %7s %7s | %7s %6s | %9s %6s %8s\n", "config", "M", "params",
           "ms/it", "uncached", "GFLOP", "GF/s", "gemm ms", "GF/s", "torch ms", "ratio",
           "loss rel");

    for (size_t ci = 0; ci < sizeof k_configs / sizeof k_configs[0]; ci++) {
        const bench_config *c = &k_configs[ci];
        if (only && strcmp(only, c->name)) continue;
        int d = c->dim, C = hp_jet_components(2, d);
        size_t M = d == 1 ? (size_t)c->points_per_dim
                          : (size_t)c->points_per_dim * (size_t)c->points_per_dim;
        char s_depth[32], s_width[32], s_feat[32], s_sig[64], s_act[32];
        snprintf(s_depth, sizeof s_depth, "depth=%d", c->depth);
        snprintf(s_width, sizeof s_width, "width=%d", c->width);
        snprintf(s_feat, sizeof s_feat, "features=%d", c->features);
        snprintf(s_sig, sizeof s_sig, "sigmas=[1, %g]", c->sigma2);
        snprintf(s_act, sizeof s_act, "activation=%s", c->activation);
        const char *set[16] = {s_depth, s_width, s_feat, s_sig, s_act, "seed=1"};
        size_t n_set = 6;
        for (int e = 0; e < n_extra; e++) set[n_set++] = extra[e];
        hp_params *pf, *pt;
        if (hp_params_from_strings(desc->params, "network", set, n_set, &pf) != HP_OK) die("params");
        set[n_set] = "trainable_features=true";
        if (hp_params_from_strings(desc->params, "network", set, n_set + 1, &pt) != HP_OK) die("params");
        hp__net *net, *twin;
        if (hp__net_create(desc, pf, d, 1, &net) != HP_OK) die("create");
        if (hp__net_create(desc, pt, d, 1, &twin) != HP_OK) die("create");
        size_t np = hp__net_n_params(net), np_twin = hp__net_n_params(twin);
        double *theta = malloc(np * sizeof *theta), *theta_twin = malloc(np_twin * sizeof *theta);
        hp__net_init(net, theta);
        hp__net_init(twin, theta_twin); /* the frozen B are its first 2*m*d entries */

        double *x = malloc(M * d * sizeof *x), *x_moved = malloc(M * d * sizeof *x);
        for (size_t r = 0; r < M; r++) {
            if (d == 1) {
                x[r] = (double)(r + 1) / (double)(M + 1);
            } else {
                size_t m = (size_t)c->points_per_dim;
                x[r * 2] = (double)(r % m + 1) / (double)(m + 1);
                x[r * 2 + 1] = (double)(r / m + 1) / (double)(m + 1);
            }
        }
        for (size_t i = 0; i < M * d; i++) x_moved[i] = x[i] * (1.0 + 1e-15);
        double *K = malloc(M * sizeof *K), *gK = malloc(M * d * sizeof *gK), *f = malloc(M * sizeof *f);
        problem_data(c, x, M, K, gK, f);
        hp__tape *tape;
        if (hp__tape_create(net, x, M, 2, &tape) != HP_OK) die("tape");
        pinn s = {net, tape, M, np, d, x, K, gK, f, malloc((size_t)C * M * sizeof(double)),
                  malloc((size_t)C * M * sizeof(double)), malloc(np * sizeof(double))};

        double J = pinn_iteration(&s, theta, x); /* warm-up */
        double *t = malloc((size_t)iters * sizeof *t);
        for (int it = 0; it < iters; it++) {
            double t0 = now_seconds();
            pinn_iteration(&s, theta, x);
            t[it] = 1e3 * (now_seconds() - t0);
        }
        double ms = median(t, iters);
        /* with the embedding recomputed every time (points that move) */
        int it_unc = iters / 2 > 3 ? iters / 2 : 3;
        for (int it = 0; it < it_unc; it++) {
            double t0 = now_seconds();
            pinn_iteration(&s, theta, it % 2 ? x : x_moved);
            t[it] = 1e3 * (now_seconds() - t0);
        }
        double ms_unc = median(t, it_unc);

        gemm_call calls[256];
        int n_calls = msff_gemms(c, M, calls);
        double flops = gemm_flops(calls, n_calls);
        double ms_gemm = replay_gemms(calls, n_calls, iters);

        double torch_loss = NAN, torch_ms = NAN, torch_first = NAN;
        int torch_ok = 0;
        if (torch) {
            char dump[256];
            snprintf(dump, sizeof dump, "bench_networks_%s.bin", c->name);
            FILE *fp = fopen(dump, "wb");
            if (!fp) die("dump");
            double hdr[8] = {d, c->depth, c->width, c->features, 2, (double)M,
                             !strcmp(c->activation, "swish") ? 1.0 : 0.0, J};
            size_t mbd = (size_t)c->features * d;
            int ok = write_all(fp, hdr, 8) && write_all(fp, theta_twin, 2 * mbd) &&
                     write_all(fp, theta, np) && write_all(fp, x, M * d) && write_all(fp, K, M) &&
                     write_all(fp, gK, M * d) && write_all(fp, f, M);
            fclose(fp);
            if (!ok) die("dump write");
            int torch_iters = iters / 5 > 10 ? iters / 5 : 10;
            torch_ok = run_torch(dump, torch_iters, &torch_loss, &torch_ms, &torch_first) == 0;
            remove(dump);
        }
        printf("%-9s %6zu %5zu | %8.2f %8.2f %7.3f %7.1f | %7.2f %6.1f | %9.2f %6.1f %8.1e\n",
               c->name, M, np, ms, ms_unc, flops * 1e-9, flops / ms * 1e-6, ms_gemm,
               flops / ms_gemm * 1e-6, torch_ok ? torch_ms : NAN,
               torch_ok ? torch_ms / ms : NAN,
               torch_ok ? fabs(torch_loss - J) / fabs(J) : NAN);
        printf("          jet GEMMs: %.0f%% of DGEMM peak over the whole iteration, %.0f%% "
               "replayed alone; loss %.15g\n",
               100.0 * flops / ms * 1e-6 / peak, 100.0 * flops / ms_gemm * 1e-6 / peak, J);
        fflush(stdout);

        hp__tape_destroy(tape);
        hp__net_destroy(net);
        hp__net_destroy(twin);
        hp_params_destroy(pf);
        hp_params_destroy(pt);
        free(theta); free(theta_twin); free(x); free(x_moved); free(K); free(gK); free(f);
        free(s.v); free(s.cot); free(s.grad); free(t);
    }
    printf("DGEMM 2000^3 again at the end: %.1f GFLOP/s; load average at end: %.2f\n",
           dgemm_peak(), load_average());
    hp_registry_close(reg);
    return 0;
}
