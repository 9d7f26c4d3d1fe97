/* trainer_eta.h (private) — the remaining time of a run, stage by stage.
 *
 * The rule, for each stage still to run (its remaining steps times a time per
 * step):
 *   1. a stage that has taken two steps or more in this session: its own
 *      measured time per step (wall time between steps: the step, history
 *      rows, checkpoints) without the first, which allocates workspaces and
 *      can cost several later steps;
 *   2. otherwise the time per step measured so by the latest earlier stage of
 *      this session with the same optimizer plugin and two steps or more,
 *      times the ratio of the two stages' cost hints (rule 3) when both have
 *      one: the same settings and structure give 1, a stage without the
 *      coupling rows the share its hint says;
 *   3. otherwise the optimizer's own cost hint (hp_optimizer_ops.step_cost:
 *      evaluations of each kind and its flops) in seconds: each kind's mean time
 *      measured on the objective so far, a kind not called yet measured at the
 *      current θ (a gradient, the Jacobian products; a Jacobian on its second
 *      call, since the first touches the memory and workspaces every later one
 *      reuses; a Jacobian called only inside first steps is not probed, since
 *      the probe's own m x n matrix would sit beside the optimizer's, but
 *      priced at those calls' mean), the flops at the rate of one timed 384 x 384 GEMM; the hint is
 *      asked for the stage's shape (its Jacobian's blocks and shared rows);
 *   4. otherwise (no hint) the one step of the stage, or of such an earlier
 *      stage, if there is one, else the run's time per step so far in this
 *      session;
 *   5. and a stage that has taken no step in this session yet adds the excess
 *      of the first step over a later one of the stage rule 2 names (the first
 *      step allocates and touches the workspaces), if there is such a stage.
 * Estimates from 3 and 4 mark the result as estimated ("~" in the display).
 *
 * The wrapper objective times every callback by kind; the optimizers and the
 * history rows evaluate through it. The probes of rule 3 evaluate at θ only,
 * between two steps, and do not change what any step computes. */
#ifndef HPINN_TRAINER_ETA_H
#define HPINN_TRAINER_ETA_H

#include <stddef.h>
#include <stdint.h>

#include "hpinn/optimizer.h"
#include "hpinn/plugin.h"

typedef struct hp__eta_stage {
    const char *optimizer;           /* plugin name */
    const hp_optimizer_ops *ops;
    const hp_params *params;
    uint64_t iterations;             /* planned */
    size_t blocks, shared_rows;      /* the Jacobian's structure in this stage (hp_opt_shape) */
} hp__eta_stage;

typedef struct hp__eta hp__eta;

/* `inner` is the objective the trainer steps on; hp__eta_objective is it, timed. */
hp_status hp__eta_create(size_t n_stages, const hp__eta_stage *stages, const hp_objective *inner, hp__eta **out);
void hp__eta_destroy(hp__eta *e);
/* The clock every time above is read from (seconds; default hp__now_seconds):
 * tests drive the rule with a clock of their own, so it is checked exactly and
 * not against a loaded machine's wall time. Resets the mark to the new clock's now. */
void hp__eta_set_clock(hp__eta *e, double (*clock)(void *ctx), void *ctx);
hp_objective hp__eta_objective(hp__eta *e);

/* A stage starts (or resumes) now; one of its steps ended now. */
void hp__eta_stage_begin(hp__eta *e, size_t stage);
void hp__eta_step(hp__eta *e, size_t stage);

/* Seconds left: the rest of `stage` (`done` of its steps taken) and every later
 * stage. *estimated: some part came from rules 3 or 4. NAN when nothing is known
 * yet. theta is where probes evaluate. */
double hp__eta_remaining(hp__eta *e, size_t stage, uint64_t done, const double *theta, int *estimated);

#endif
