/* machine.h (private) — what a run records about where and from what it ran:
 * the CPUs it may use, OpenBLAS's thread count, and the git commit the binary
 * was built from (summary.json; `hpinn sweep` sizes its jobs by the CPUs). */
#ifndef HPINN_MACHINE_H
#define HPINN_MACHINE_H

/* CPUs this process may run on (its affinity mask, so taskset and cgroup
 * cpusets count), at least 1. */
int hp__machine_cores(void);

/* OpenBLAS's own thread count (openblas_get_num_threads); 0 when the BLAS is
 * not OpenBLAS. */
int hp__blas_threads(void);

/* `git rev-parse --short HEAD` of the source tree at build time, with
 * "-dirty" when tracked files had changes; "unknown" outside a git checkout. */
const char *hp__git_commit(void);

#endif
