/* validation.h (private) — the one validation `hpinn check` and `hpinn run`
 * share: the pipeline's sections and plugins (hp_config_resolve), what a run
 * needs (hp_config_check_run), the memory its sizes ask for against what the
 * machine has, and the problem's coefficients (K finite and positive, ∇K and q
 * finite, at every point set and on a finer check grid). */
#ifndef HPINN_VALIDATION_H
#define HPINN_VALIDATION_H

#include "hpinn/config.h"
#include "hpinn/registry.h"

/* HP_ERR_CONFIG naming FILE:LINE:COL, the key and what is expected, for any
 * of the above; nothing is computed or written. */
hp_status hp__pipeline_validate(const hp_config *c, const hp_registry *r);

/* The memory a new process can have (MemAvailable; else physical memory). */
double hp__machine_memory_bytes(void);

#endif
