/* machine.c — CPUs, BLAS threads and the build's git commit (machine.h). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "machine.h"

#include <sched.h>
#include <unistd.h>

#include <cblas.h>

#include "hpinn_git_commit.h" /* generated at build time by cmake/HpinnGitCommit.cmake */

int hp__machine_cores(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int hp__blas_threads(void) {
#ifdef OPENBLAS_VERSION
    return openblas_get_num_threads();
#else
    return 0;
#endif
}

const char *hp__git_commit(void) { return HPINN_GIT_COMMIT; }
