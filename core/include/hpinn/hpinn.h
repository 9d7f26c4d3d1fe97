/* hpinn/hpinn.h — umbrella header: everything a program embedding hpinn or a
 * plugin author needs, plus the library version. */
#ifndef HPINN_HPINN_H
#define HPINN_HPINN_H

#include "hpinn/export.h"
#include "hpinn/coarse.h"
#include "hpinn/config.h"
#include "hpinn/expr.h"
#include "hpinn/jets.h"
#include "hpinn/network.h"
#include "hpinn/optimizer.h"
#include "hpinn/params.h"
#include "hpinn/plugin.h"
#include "hpinn/registry.h"
#include "hpinn/rng.h"
#include "hpinn/status.h"
#include "hpinn/upscaling.h"

HP_BEGIN_API

/* "0.1.0" */
const char *hp_version(void);
/* HP_ABI_VERSION of the running library (a plugin compares with its own). */
unsigned hp_abi_version(void);
/* The BLAS the running library uses and the kernel it picked, e.g.
 * "OpenBLAS 0.3.21, kernel Haswell, 2 threads" (OpenBLAS selects the kernel by
 * CPU or by OPENBLAS_CORETYPE; results are the same bits only with the same
 * kernel). Static storage, rebuilt on every call. */
const char *hp_blas_info(void);

/* The hpinn command line (`hpinn run ...`): returns the process exit code (0,
 * 1 failure, 2 user error; 130 after an interrupt). */
int hp_cli_main(int argc, char **argv);

HP_END_API
#endif
