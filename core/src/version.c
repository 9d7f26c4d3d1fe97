/* version.c — the version of the running libhpinn, which may differ from the
 * headers a program was compiled against. */
#include "hpinn/hpinn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "blas_env.h"

const char *hp_version(void) { return HPINN_VERSION; }
unsigned hp_abi_version(void) { return HP_ABI_VERSION; }

const char *hp__blas_kernel_replaced(void) {
    const char *had = getenv(HP__BLAS_REPLACED_ENV), *now = getenv("OPENBLAS_CORETYPE");
    return had && *had && now && *now ? had : NULL;
}

const char *hp_blas_info(void) {
    static char info[256];
#ifdef OPENBLAS_VERSION
    char version[48] = "";
    const char *config = openblas_get_config(); /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." */
    sscanf(config, "%47s %*s", version);
    const char *v = strchr(config, ' ');
    char number[32] = "";
    if (v) sscanf(v + 1, "%31s", number);
    const char *replaced = hp__blas_kernel_replaced();
    char why[96] = "";
    if (replaced) snprintf(why, sizeof why, " (set by hpinn: OpenBLAS chose %s on this CPU)", replaced);
    snprintf(info, sizeof info, "%s %s, kernel %s%s, %d threads", version, number, openblas_get_corename(), why,
             openblas_get_num_threads());
#else
    snprintf(info, sizeof info, "CBLAS (not OpenBLAS: kernel unknown)");
#endif
    return info;
}
