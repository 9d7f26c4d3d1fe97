/* resume_rules.h (private) — what may change when a run is resumed.
 *
 * A checkpoint remembers the resolved pipeline it was trained with. Resuming
 * compares it key by key with the pipeline to continue with (DIR/config.resolved.yaml
 * plus any --set) and refuses every change but these, which extend a run or do
 * not touch what it computes:
 *   - stages appended after the last one;
 *   - `iterations` of the current stage (not below the steps it has taken) or of
 *     a later one;
 *   - `divergence` of the current or a later stage;
 *   - labels and where things go: stage `name`, output.dir, output.log_every,
 *     output.checkpoint_every, network.threads (results do not depend on it),
 *     and the `upscale` section (read only by `hpinn upscale`);
 *   - a key that the checkpoint's pipeline lacks, at its default, of a core
 *     section (problem, coupling, output, a stage) or of a plugin's section
 *     (network, upscaling, coarse, a stage's optimizer; the plugin the pipeline
 *     names): a key added by a later hpinn or plugin version (its default keeps
 *     what runs did before it — the rule for new keys), so an upgrade does not
 *     strand a run. A new key at another value is a change, refused as below.
 * Anything else (a learning rate, a seed, K, τ2, σ, the optimizer of a stage, a
 * removed stage) is refused, naming the key and both values. A run that should
 * differ in those starts anew, possibly from the trained θ (`run --init-from`,
 * init_from.h: a new run id and iteration 0, never a resume). */
#ifndef HPINN_RESUME_RULES_H
#define HPINN_RESUME_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "hpinn/registry.h"
#include "hpinn/status.h"

typedef struct hp__resume_position {
    size_t stage;          /* the stage the checkpoint is in */
    uint64_t stage_steps;  /* steps taken in it */
} hp__resume_position;

/* HP_OK when `now` differs from `then` only as allowed above (*n_changes: how
 * many allowed differences, 0 when identical); otherwise HP_ERR_CONFIG
 * "cannot resume DIR: KEY changed from OLD to NEW; ...". registry (may be NULL:
 * then only core keys) gives the plugins' tables for new plugin keys. */
hp_status hp__resume_rules_check(const char *then, const char *now, const char *dir, hp__resume_position pos,
                                 const hp_registry *registry, size_t *n_changes);

#endif
