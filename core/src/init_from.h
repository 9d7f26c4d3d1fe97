/* init_from.h (private) — `hpinn run CONFIG --init-from RUN`: a new run whose
 * initial θ is the trained θ of another run (its checkpoint), when the networks
 * match.
 *
 * They match when the network plugin is the same, the number of directions
 * (networks) is the same, and each network has the same parameter layout
 * (block names and shapes, so the same parameter count). Network parameters
 * that change neither (a seed, an activation, σ) may still change what θ
 * means — msff's frozen Fourier features are drawn from its seed and σ — so
 * when any differs the two networks are evaluated with the same θ at a few
 * points: different values are refused, naming the keys that differ; equal
 * values are accepted with a note. `threads` and `chunk_points` never matter.
 *
 * This is not a resume: the new run has its own run id, starts at iteration 0
 * with fresh optimizers and its own pipeline; only θ is taken. */
#ifndef HPINN_INIT_FROM_H
#define HPINN_INIT_FROM_H

#include <stdint.h>
#include <stdio.h>

#include "checkpoint.h"
#include "hpinn/registry.h"
#include "hpinn/status.h"
#include "hybrid.h"

typedef struct hp__init_from {
    char run_id[HP__RUN_ID_CHARS + 1]; /* of the run θ came from */
    uint64_t iteration;                /* its checkpoint's */
} hp__init_from;

/* θ of the run in `dir` into theta (hp__hybrid_n_params(h) doubles) when its
 * networks match those of h, built from the resolved pipeline `text`;
 * HP_ERR_NOT_FOUND without a run or checkpoint there, HP_ERR_CONFIG naming
 * what differs. Notes (an equal function from different keys, a damaged
 * newest checkpoint) go to `notes` when not NULL. */
hp_status hp__init_from_run(const char *dir, const char *text, const hp_registry *r, hp__hybrid *h, double *theta,
                            hp__init_from *info, FILE *notes);

#endif
