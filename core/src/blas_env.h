/* blas_env.h (private) — how the hpinn command tells the library that it chose
 * the OpenBLAS kernel itself (core/cli/blas_kernel.c), so that hp_blas_info
 * can say so: the environment of the re-executed process, inherited by the
 * commands it runs. */
#ifndef HPINN_BLAS_ENV_H
#define HPINN_BLAS_ENV_H

/* The kernel OpenBLAS had chosen before hpinn set OPENBLAS_CORETYPE. */
#define HP__BLAS_REPLACED_ENV "HPINN_BLAS_REPLACED"

/* That kernel's name while OPENBLAS_CORETYPE is set too; NULL otherwise. */
const char *hp__blas_kernel_replaced(void);

#endif
