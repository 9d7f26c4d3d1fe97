/* worker_pool.h (private to the hpinn command) — how `hpinn sweep` hands its
 * members to workers, behind an interface small enough for another
 * implementation to replace the local one (MPI: rank 0 answering the ranks'
 * requests for work with the source below).
 *
 * The sweep is the source of jobs. The pool asks it for the next job whenever
 * a worker is free — dynamic distribution, so one long member does not hold
 * back the others — and tells it when a job started and how it ended. The pool
 * knows nothing of sweeps: a job is a command line, extra environment variables
 * and a log file. */
#ifndef HPINN_WORKER_POOL_H
#define HPINN_WORKER_POOL_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "hpinn/status.h"

typedef struct hp__pool_job {
    size_t id;            /* the source's number for it */
    char **argv;          /* argv[0]: the program's path; NULL-terminated */
    char **env;           /* "NAME=value" set for the job (replacing NAME); NULL-terminated, or NULL */
    const char *log_path; /* the job's stdout and stderr, appended; its stdin is /dev/null */
} hp__pool_job;

typedef struct hp__pool_result {
    int exit_code;  /* its exit code; -1 when a signal ended it */
    int signal;     /* the signal that ended it, or 0 */
    double seconds; /* wall time */
    int not_started;/* 1: it could not be started (the reason is in its log) */
} hp__pool_result;

typedef struct hp__pool_source {
    void *ctx;
    /* Fill *job with the next job to run and return 1; 0 when none is left. The
     * job's strings must live until `finished` is called for it. */
    int (*next)(void *ctx, hp__pool_job *job);
    void (*started)(void *ctx, size_t id, long worker);
    void (*finished)(void *ctx, size_t id, const hp__pool_result *result);
} hp__pool_source;

typedef struct hp__pool_ops {
    const char *name;
    /* Run the source's jobs on at most `workers` workers until it has none left
     * and every job has ended. Once *stop is nonzero (the signal number a handler
     * stored), no job is started any more, the running ones receive that signal,
     * and the call returns when they have ended. */
    hp_status (*run)(const hp__pool_source *source, int workers, volatile sig_atomic_t *stop);
} hp__pool_ops;

/* Child processes on this machine (fork + execve); a worker is a process slot. */
extern const hp__pool_ops hp__pool_processes;

/* The ranks of an mpirun run (worker_pool_mpi.c): rank 0 holds the source and
 * runs `workers` local slots; every other rank asks it for one job at a time
 * (hp__pool_mpi_worker) and runs it as a child process. */
extern const hp__pool_ops hp__pool_mpi;
/* The loop of ranks > 0: ask rank 0 for jobs until it says stop. */
hp_status hp__pool_mpi_worker(volatile sig_atomic_t *stop);
/* Rank 0 when it cannot run the sweep at all: tell every waiting rank to stop. */
void hp__pool_mpi_release(void);

/* This process's slots, shared by both pools: fill starts jobs while a slot is
 * free (*more = 0 once the source is empty; a failure to fork is returned),
 * reap forwards *stop once to the running jobs and reports the ended ones
 * (returns how many). */
typedef struct hp__pool_slot {
    pid_t pid; /* 0: free */
    size_t id;
    double start;
} hp__pool_slot;
typedef struct hp__pool_local {
    int workers, running, forwarded;
    hp__pool_slot *slots;
} hp__pool_local;
hp_status hp__pool_local_open(hp__pool_local *l, int workers);
void hp__pool_local_close(hp__pool_local *l);
hp_status hp__pool_local_fill(hp__pool_local *l, const hp__pool_source *src, volatile sig_atomic_t *stop, int *more);
int hp__pool_local_reap(hp__pool_local *l, const hp__pool_source *src, volatile sig_atomic_t *stop);

/* Shared by the pools: start job as a child (*pid_out 0 when it could not be
 * started; the reason is then in its log), and a 20 ms-scale nap. */
hp_status hp__pool_spawn(const hp__pool_job *job, pid_t *pid_out);
void hp__pool_sleep_ms(long ms);

#endif
