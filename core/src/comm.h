/* comm.h (private) — the processes of a data-parallel run (MPI ranks), and the
 * only place hpinn talks MPI (docs/scaling.md). Plugins never do: what they
 * need (sums over distributed residual rows) reaches them as a callback of the
 * objective.
 *
 * Without MPI in the build, or when the program was not started by mpirun,
 * there is one rank and every function here is a no-op that returns HP_OK.
 *
 * Every collective is CHECKED: each rank brings its own status, the ranks first
 * agree on whether anyone failed, and only then exchange data. A rank that
 * failed between two collectives joins the next one with its failure
 * (hp__comm_agree), so no rank waits forever; every rank then returns the
 * failing rank's message and status (the lowest failing rank's, prefixed
 * "rank k: "), and the command exits with one exit code on all ranks.
 *
 * Sums are deterministic: rank 0 adds the ranks' parts in rank order and
 * broadcasts the total, so a given number of ranks gives the same bits on
 * every rerun, and one rank gives exactly the serial bits. */
#ifndef HPINN_COMM_H
#define HPINN_COMM_H

#include <stddef.h>

#include "hpinn/status.h"

/* MPI_Init when started by mpirun (OMPI_COMM_WORLD_SIZE, PMI_SIZE or
 * PMIX_RANK set) and hpinn was built with MPI; else one rank. Idempotent. */
hp_status hp__comm_init(int *argc, char ***argv);
/* MPI_Finalize (after hp__comm_init started MPI). */
void hp__comm_finalize(void);
/* A failure no collective can report any more (the other ranks may be past
 * their last one): print it and abort every rank with exit_code. */
void hp__comm_abort(int exit_code);

int hp__comm_rank(void);
int hp__comm_size(void);

/* Whether problems created from now on split their collocation and validation
 * points over the ranks (default on; a test turns it off to build the serial
 * objective beside the distributed one). hp__comm_data_parallel: on and more
 * than one rank. */
void hp__comm_set_data_parallel(int on);
int hp__comm_data_parallel(void);

/* This rank's contiguous share [*lo, *hi) of n items (the first n % size ranks
 * get one more): deterministic, the same on every rank. */
void hp__comm_range(size_t n, size_t *lo, size_t *hi);

/* The checked agreement: every rank passes its status; returns HP_OK when all
 * were HP_OK, else the lowest failing rank's status with its message (on every
 * rank, the failing one included). */
hp_status hp__comm_agree(hp_status local);
/* Nonzero after a collective returned a failure that came from another rank,
 * or that every rank has seen: the ranks agree on it, so exiting is safe. */
int hp__comm_failure_is_shared(void);

/* buf (count) = the sum of every rank's buf, in rank order; checked (local is
 * this rank's status so far; buf is left as it is on failure). */
hp_status hp__comm_sum(hp_status local, double *buf, size_t count);
/* Wall seconds this rank spent in hp__comm_sum so far (transfer and waiting
 * for the slowest rank): the communication share of a data-parallel run. */
double hp__comm_seconds(void);
/* *flag = nonzero when any rank's *flag is (an interrupt one rank saw); checked. */
hp_status hp__comm_any(hp_status local, int *flag);

#endif
