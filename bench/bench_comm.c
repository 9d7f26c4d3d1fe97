/* bench_comm.c — what one data-parallel sum costs on this machine: the time of
 * hp__comm_sum (the checked, deterministic sum every data-parallel evaluation
 * uses: a status exchange, a gather to rank 0, the sum in rank order, a
 * broadcast) for message sizes from one double to the dense LM's JᵀJ. From it,
 * docs/scaling.md fits latency + bytes / bandwidth and models 8-64 ranks.
 *
 *   mpirun -np R bench_comm [--reps N]
 * prints, on rank 0: doubles, bytes, median microseconds per sum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "fileio.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (hp__comm_init(&argc, &argv) != HP_OK) return 1;
    int reps = 50;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    if (reps < 3) reps = 3;
    static const size_t sizes[] = {1, 16, 256, 4096, 65536, 1u << 20, 16u << 20};
    double *buf = malloc((16u << 20) * sizeof *buf), *t = malloc((size_t)reps * sizeof *t);
    if (!buf || !t) return 1;
    if (hp__comm_rank() == 0) printf("ranks %d\n%12s %14s %14s\n", hp__comm_size(), "doubles", "bytes", "us/sum");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        int r = n >= (1u << 20) ? (reps / 5 > 3 ? reps / 5 : 3) : reps;
        for (size_t i = 0; i < n; i++) buf[i] = 1.0 + (double)i;
        (void)hp__comm_sum(HP_OK, buf, n); /* warm-up */
        for (int k = 0; k < r; k++) {
            double t0 = hp__now_seconds();
            if (hp__comm_sum(HP_OK, buf, n) != HP_OK) return 1;
            t[k] = 1e6 * (hp__now_seconds() - t0);
        }
        qsort(t, (size_t)r, sizeof *t, cmp_double);
        if (hp__comm_rank() == 0) printf("%12zu %14zu %14.1f\n", n, n * sizeof(double), t[r / 2]);
    }
    free(buf);
    free(t);
    hp__comm_finalize();
    return 0;
}
