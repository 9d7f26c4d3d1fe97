/* team.h (private) — a team of worker threads that runs one task on every
 * thread at once: the parallelism of the network runner. Workers sleep between
 * runs on a condition variable (no spinning that would steal a core from
 * OpenBLAS or another process); one wake-up costs microseconds against
 * milliseconds of work per run. */
#ifndef HPINN_TEAM_H
#define HPINN_TEAM_H

#include "hpinn/status.h"

typedef struct hp__team hp__team;

/* task(ctx, t, n) is run once for every t = 0..n-1, concurrently. */
typedef void (*hp__team_task)(void *ctx, int thread, int n_threads);

/* n_threads <= 0 means one per online CPU. Starts n_threads - 1 workers (the
 * caller is thread 0); a team of 1 starts none. */
hp_status hp__team_create(int n_threads, hp__team **team);
/* Joins the workers; NULL is ignored. */
void hp__team_destroy(hp__team *team);
/* Threads of the team (1 for a NULL team). */
int hp__team_size(const hp__team *team);
/* Runs the task on every thread and returns when all have finished. A NULL
 * team, or a team of 1, runs task(ctx, 0, 1) on the caller. Not reentrant. */
void hp__team_run(hp__team *team, hp__team_task task, void *ctx);

#endif
