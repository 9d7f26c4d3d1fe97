/* bench_fine_solve.c — time a 2-D fine-scale solve with p1_2d: assembly of an
 * oscillating K(x) (Example 4.1's K3, ε = 1/16) with q, numeric factorization and
 * one solve, at 256², 512², 1024², for the CHOLMOD back end and the banded
 * LAPACK Cholesky reference. Each case runs in a forked child so the reported
 * peak resident memory (getrusage via wait4) is that case's alone.
 *
 *   bench_fine_solve [max_banded_n]   (default 512: the banded factor of 1024²
 *                                      would need ~8.6 GB and ~10¹² flops) */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hpinn/coarse.h"
#include "hpinn/registry.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double K3(const double *x, void *ctx) {
    (void)ctx;
    return 1.0 / (2.0 + 1.8 * sin(2 * M_PI * (2 * x[0] - x[1]) * 16.0));
}
static double q_gauss(const double *x, void *ctx) {
    (void)ctx;
    double dx = x[0] - 0.5, dy = x[1] - 0.5;
    return exp(-(dx * dx + dy * dy));
}

static int run_case(int n, const char *solver) {
    hp_registry *reg;
    const hp_plugin_descriptor *d;
    hp_params *p;
    void *s;
    if (hp_registry_open(&reg) || hp_registry_find(reg, HP_PLUGIN_COARSE, "p1_2d", &d)) {
        fprintf(stderr, "%s\n", hp_error_message());
        return 1;
    }
    char a1[32], a2[32];
    snprintf(a1, sizeof a1, "elements=%d", n);
    snprintf(a2, sizeof a2, "solver=%s", solver);
    const char *args[] = {a1, a2};
    const hp_coarse_ops *ops = d->ops;
    if (hp_params_from_strings(d->params, "bench", args, 2, &p) || ops->create(p, 2, 1, &s)) {
        fprintf(stderr, "%s\n", hp_error_message());
        return 1;
    }
    double *y = malloc(sizeof(double) * ops->mesh(s)->n_nodes);
    double t0 = now();
    int bad = ops->set_source(s, q_gauss, NULL) != HP_OK;
    double t1 = now();
    bad |= ops->set_coefficient_field(s, K3, NULL) != HP_OK; /* assembly + factorization */
    double t2 = now();
    bad |= ops->solve_state(s, 0, y) != HP_OK;
    double t3 = now();
    if (bad) {
        fprintf(stderr, "n=%d %s: %s\n", n, solver, hp_error_message());
        return 1;
    }
    size_t c = (size_t)(n / 2) * (n + 1) + n / 2;
    printf("%-8s %5d^2 %10zu  source %6.2f s  K+assembly+factor %6.2f s  solve %6.3f s  total %6.2f s"
           "  (u(center) = %.6e)", solver, n, (size_t)(n - 1) * (n - 1), t1 - t0, t2 - t1, t3 - t2,
           t3 - t0, y[c]);
    fflush(stdout);
    free(y);
    ops->destroy(s);
    hp_params_destroy(p);
    hp_registry_close(reg);
    return 0;
}

int main(int argc, char **argv) {
    int max_banded = argc > 1 ? atoi(argv[1]) : 512;
    const int sizes[3] = {256, 512, 1024};
    printf("p1_2d fine solve, K = Example 4.1 K3 (eps = 1/16), q = exp(-|x-0.5|^2); %ld cores online\n",
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-8s %7s %10s\n", "solver", "mesh", "unknowns");
    for (int pass = 0; pass < 2; ++pass)
        for (int k = 0; k < 3; ++k) {
            const char *solver = pass ? "banded" : "cholmod";
            if (pass && sizes[k] > max_banded) {
                printf("%-8s %5d^2  skipped (band storage (n+1)·(n-1)² doubles = %.1f GB; pass a larger "
                       "max_banded_n to run it)\n", solver, sizes[k],
                       8.0 * (sizes[k] + 1) * (double)(sizes[k] - 1) * (sizes[k] - 1) / 1e9);
                continue;
            }
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) _exit(run_case(sizes[k], solver));
            int status;
            struct rusage ru;
            wait4(pid, &status, 0, &ru);
            printf("  peak RSS %7.1f MB%s\n", ru.ru_maxrss / 1024.0,
                   WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : "  FAILED");
        }
    return 0;
}
