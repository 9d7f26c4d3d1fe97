/* reference.h (private) — the reference solution of the fine-scale problem on
 * the validation grid, and its global K̃ (reference.c). */
#ifndef HPINN_REFERENCE_H
#define HPINN_REFERENCE_H

#include <stdio.h>

#include "hpinn/plugin.h"
#include "problem.h"

/* Compute p's reference (p->reference says which) for n_directions direction
 * problems: `coarse` is the fine solver of the fem kind, `global` the global
 * upscaling plugin that gives the reference K̃. With cache_dir, a fem reference
 * is read from cache_dir/reference.cache when that file was made for the same
 * problem, and written there otherwise (a damaged or stale cache is recomputed,
 * never trusted). */
hp_status hp__reference_compute(hp__problem *p, int n_directions, const hp_plugin_descriptor *coarse,
                                const hp_plugin_descriptor *global, FILE *log, const char *cache_dir);

#endif
