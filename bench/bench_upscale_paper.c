/* bench_upscale_paper.c — the reference K̃ values in docs/results.md, computed
 * with the same driver `hpinn upscale` uses (core/src/upscale_reference.c), for
 * Example 4.1 (K1, K2, K3 with q = exp(-|x - 0.5|²)), the 4x4 block-wise case
 * (K3, q = 0), and Table 1 (1-D §4.4, ε = 1/16, 1/48, 1/64), plus the paper's kind
 * of 1-D reference (1000 elements, K sampled at the nodes) and the bounds
 * (harmonic and arithmetic means; the laminate limit for K3).
 *
 *   bench_upscale_paper [OUTDIR]   (OUTDIR must exist; files per case go there) */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hpinn/registry.h"
#include "upscale_reference.h"

typedef struct coef { int which; double eps, eps2; } coef;

static double K_eval(const double *x, void *ctx) {
    const coef *c = ctx;
    switch (c->which) {
    case 1: return 3 + sin(2 * M_PI * x[0] / c->eps) + sin(2 * M_PI * x[1] / c->eps);
    case 2: return 3 + sin(2 * M_PI * x[0] / c->eps) + 1.5 * cos(2 * M_PI * x[1] / c->eps2);
    case 3: return 1 / (2 + 1.8 * sin(2 * M_PI * (2 * x[0] - x[1]) / c->eps));
    default: return 1 / (1.2 + sin(2 * M_PI * x[0] / c->eps)); /* §4.4 */
    }
}
static double q_gauss(const double *x, void *ctx) {
    (void)ctx;
    return exp(-((x[0] - 0.5) * (x[0] - 0.5) + (x[1] - 0.5) * (x[1] - 0.5)));
}
static double q_44(const double *x, void *ctx) { (void)ctx; return -3 * (2 * x[0] - 1); }

static void progress(const char *msg, void *ctx) { (void)ctx; fprintf(stderr, "  %s\n", msg); }

/* harmonic and arithmetic means of K over Ω (tensor midpoint rule, 2048^d cells) */
static void means(int dim, coef *c, double *harm, double *arith) {
    int n = 2048;
    double s = 0, r = 0;
    for (int j = 0; j < (dim == 2 ? n : 1); ++j)
        for (int i = 0; i < n; ++i) {
            double x[2] = {(i + 0.5) / n, (j + 0.5) / n}, k = K_eval(x, c);
            s += k;
            r += 1 / k;
        }
    double cells = dim == 2 ? (double)n * n : n;
    *arith = s / cells;
    *harm = cells / r;
}

static const char *outdir;
static hp_registry *reg;

typedef struct nodal_ctx { const hp_plugin_descriptor *d; } nodal_ctx;
static hp_status nodal_params(int elements, void *ctx, hp_params **out) {
    char a[32];
    snprintf(a, sizeof a, "elements=%d", elements);
    const char *args[] = {a, "quadrature_rule=nodal"};
    return hp_params_from_strings(((nodal_ctx *)ctx)->d->params, "fine", args, 2, out);
}

static int run(const char *name, int dim, coef *c, hp_scalar_field q, const int *sizes, size_t ns,
               const char *ups_name, const char *ups_arg, int nodal) {
    const hp_plugin_descriptor *fine, *ud;
    hp_params *up;
    const char *args[] = {ups_arg};
    if (hp_registry_find(reg, HP_PLUGIN_COARSE, dim == 1 ? "p1_1d" : "p1_2d", &fine) ||
        hp_registry_find(reg, HP_PLUGIN_UPSCALING, ups_name, &ud) ||
        hp_params_from_strings(ud->params, "upscaling", args, ups_arg ? 1 : 0, &up)) {
        fprintf(stderr, "%s\n", hp_error_message());
        return 1;
    }
    char dir[512] = "";
    if (outdir) {
        snprintf(dir, sizeof dir, "%s/%s", outdir, name);
        mkdir(dir, 0777);
    }
    nodal_ctx nc = {fine};
    hp__upscale_strategy strat = {ud, up, ups_name};
    hp__upscale_reference_config cfg = {dim, K_eval, c, q, NULL, fine, nodal ? nodal_params : NULL, &nc,
                                       sizes, ns, &strat, 1, outdir ? dir : NULL,
                                       HP__UPSCALE_FIELDS_FINEST, progress, NULL, NULL, 0, NULL};
    hp__upscale_reference_result *r;
    printf("\n== %s ==\n", name);
    if (hp__upscale_reference_run(&cfg, &r)) {
        fprintf(stderr, "%s: %s\n", name, hp_error_message());
        hp_params_destroy(up);
        return 1;
    }
    hp__upscale_reference_write_table(r, &cfg, stdout);
    double h, a;
    means(dim, c, &h, &a);
    printf("harmonic mean of K %.6f, arithmetic mean %.6f\n", h, a);
    fflush(stdout);
    hp__upscale_reference_result_destroy(r);
    hp_params_destroy(up);
    return 0;
}

int main(int argc, char **argv) {
    outdir = argc > 1 ? argv[1] : NULL;
    if (hp_registry_open(&reg)) {
        fprintf(stderr, "%s\n", hp_error_message());
        return 1;
    }
    int bad = 0;
    const int s1[] = {1000, 2000, 4000, 8000, 16000, 32000};
    const double eps1[3] = {16, 48, 64};
    for (int k = 0; k < 3; ++k) {
        coef c = {0, 1 / eps1[k], 0};
        char name[64];
        snprintf(name, sizeof name, "table1_eps%g", eps1[k]);
        bad |= run(name, 1, &c, q_44, s1, 6, "global", NULL, 0);
        snprintf(name, sizeof name, "table1_eps%g_nodal", eps1[k]);
        const int paper[] = {999, 1000};
        bad |= run(name, 1, &c, q_44, paper, 2, "global", NULL, 1);
    }
    const int s2[] = {128, 256, 512, 1024};
    coef k1 = {1, 1.0 / 32, 0}, k2 = {2, 1.0 / 16, 1.0 / 32}, k3 = {3, 1.0 / 16, 0};
    bad |= run("example41_k1", 2, &k1, q_gauss, s2, 4, "global", "mode=anisotropic", 0);
    bad |= run("example41_k2", 2, &k2, q_gauss, s2, 4, "global", "mode=anisotropic", 0);
    bad |= run("example41_k3", 2, &k3, q_gauss, s2, 4, "global", "mode=anisotropic", 0);
    printf("K3 laminate limit h n n^T + a (I - n n^T), n = (2,-1)/sqrt(5), h = 0.5, a = %.6f:\n"
           "  [[%.6f, %.6f], [%.6f, %.6f]]\n", 1 / sqrt(0.76), 0.5 * 0.8 + (1 / sqrt(0.76)) * 0.2,
           0.5 * -0.4 + (1 / sqrt(0.76)) * 0.4, 0.5 * -0.4 + (1 / sqrt(0.76)) * 0.4,
           0.5 * 0.2 + (1 / sqrt(0.76)) * 0.8);
    const int s3[] = {256, 512, 1024};
    bad |= run("blocks_4x4_k3_q0", 2, &k3, NULL, s3, 3, "blocks", "blocks=4", 0);
    hp_registry_close(reg);
    return bad;
}
