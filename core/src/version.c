/* version.c — the version of the running libhpinn, which may differ from the
 * headers a program was compiled against. */
#include "hpinn/hpinn.h"

const char *hp_version(void) { return HPINN_VERSION; }
unsigned hp_abi_version(void) { return HP_ABI_VERSION; }
