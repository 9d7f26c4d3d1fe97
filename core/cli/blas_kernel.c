/* blas_kernel.c — the OpenBLAS kernel on a CPU that OpenBLAS does not know.
 *
 * OpenBLAS built with DYNAMIC_ARCH (Debian's) picks its kernels from the CPU's
 * model number, and falls back to its generic Prescott (SSE3) kernels for a
 * model newer than its table: Debian 12's 0.3.21 does so on Intel family 6
 * model 207 (Emerald Rapids), an AVX-512 CPU, where a 2000² DGEMM then runs at
 * 15 GFlop/s instead of 75 with the SkylakeX kernels (measured on such a
 * machine; docs/performance.md). Every dense LM step of hpinn is such products.
 *
 * The kernel is chosen when the library loads, before main(), and only the
 * environment variable OPENBLAS_CORETYPE changes it. So when OpenBLAS chose
 * Prescott, the CPU has AVX2 and FMA, and the environment does not choose a
 * kernel, `hpinn` sets OPENBLAS_CORETYPE to the best kernel the CPU's features
 * allow and executes itself again (the same pid, arguments and environment
 * otherwise), before any work and before MPI starts. The commands it runs
 * (sweep members) inherit the setting. HPINN_BLAS_AUTO=0 keeps OpenBLAS's own
 * choice; a user's OPENBLAS_CORETYPE is never overridden. `hpinn --version`
 * and summary.json's machine.blas say when hpinn chose the kernel. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cblas.h>

#include "blas_env.h"

const char *hp__blas_kernel_fallback(const char *corename, const hp__cpu_features *cpu) {
    if (!corename || strcasecmp(corename, "Prescott") != 0) return NULL; /* OpenBLAS knew the CPU */
    if (!cpu->avx2 || !cpu->fma) return NULL; /* a CPU that old is what Prescott kernels are for */
    if (cpu->avx512f && cpu->avx512vl && cpu->avx512bw && cpu->avx512dq && cpu->avx512cd) return "SkylakeX";
    return "Haswell";
}

static void cpu_features(hp__cpu_features *cpu) {
    memset(cpu, 0, sizeof *cpu);
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init(); /* the checks include the OS's support of the AVX state */
    cpu->avx2 = __builtin_cpu_supports("avx2") != 0;
    cpu->fma = __builtin_cpu_supports("fma") != 0;
    cpu->avx512f = __builtin_cpu_supports("avx512f") != 0;
    cpu->avx512vl = __builtin_cpu_supports("avx512vl") != 0;
    cpu->avx512bw = __builtin_cpu_supports("avx512bw") != 0;
    cpu->avx512dq = __builtin_cpu_supports("avx512dq") != 0;
    cpu->avx512cd = __builtin_cpu_supports("avx512cd") != 0;
#endif
}

void hp__blas_kernel_check(char **argv) {
#ifdef OPENBLAS_VERSION
    const char *set = getenv("OPENBLAS_CORETYPE"), *autoset = getenv("HPINN_BLAS_AUTO");
    if ((set && *set) || (autoset && strcmp(autoset, "0") == 0)) return;
    hp__cpu_features cpu;
    cpu_features(&cpu);
    const char *had = openblas_get_corename();
    const char *better = hp__blas_kernel_fallback(had, &cpu);
    if (!better) return;
    char had_copy[64];
    snprintf(had_copy, sizeof had_copy, "%s", had);
    if (setenv("OPENBLAS_CORETYPE", better, 1) != 0 || setenv(HP__BLAS_REPLACED_ENV, had_copy, 1) != 0) return;
    fflush(NULL);
    execv("/proc/self/exe", argv);
    /* not re-executed (no /proc): go on with OpenBLAS's kernels, and say nothing false */
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(HP__BLAS_REPLACED_ENV);
#else
    (void)argv;
#endif
}
