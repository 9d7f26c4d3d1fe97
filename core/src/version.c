/* version.c — the version of the running libhpinn, which may differ from the
 * headers a program was compiled against. */
#include "hpinn/hpinn.h"

#include <stdio.h>
#include <string.h>

#include <cblas.h>

const char *hp_version(void) { return HPINN_VERSION; }
unsigned hp_abi_version(void) { return HP_ABI_VERSION; }

const char *hp_blas_info(void) {
    static char info[160];
#ifdef OPENBLAS_VERSION
    char version[48] = "";
    const char *config = openblas_get_config(); /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." */
    sscanf(config, "%47s %*s", version);
    const char *v = strchr(config, ' ');
    char number[32] = "";
    if (v) sscanf(v + 1, "%31s", number);
    snprintf(info, sizeof info, "%s %s, kernel %s, %d threads", version, number, openblas_get_corename(),
             openblas_get_num_threads());
#else
    snprintf(info, sizeof info, "CBLAS (not OpenBLAS: kernel unknown)");
#endif
    return info;
}
