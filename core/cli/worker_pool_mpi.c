/* worker_pool_mpi.c — `mpirun -np R hpinn sweep`: the sweep's members spread
 * over the ranks (worker_pool.h), with dynamic assignment.
 *
 * Rank 0 holds the sweep (its plan, lock and sweep.json) and runs members in its
 * own slots like the local pool; every other rank is a worker that asks rank 0
 * for one member at a time, runs it as a child process (a serial `hpinn run`:
 * the launcher's variables are removed from its environment) and reports how
 * it ended. A member that fails is reported and does not stop the others; a
 * worker that is interrupted (mpirun forwards Ctrl-C to every rank) stops its
 * member, reports it, and is told to stop.
 *
 * Messages (rank 0 <-> worker r), MPI_COMM_WORLD:
 *   r -> 0  TAG_READY  int[5] {has_result, id, exit_code, signal, not_started} + double seconds
 *   0 -> r  TAG_JOB    the job packed as NUL-separated strings: id, argc, argv..., envc, env..., log
 *   0 -> r  TAG_STOP   nothing more: the worker returns. */
#include "worker_pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "comm.h"
#include "fileio.h"

#ifdef HPINN_HAVE_MPI
#include <mpi.h>

enum { TAG_READY = 7101, TAG_JOB = 7102, TAG_STOP = 7103 };

typedef struct report {
    int head[5]; /* has_result, id, exit_code, signal, not_started */
    double seconds;
} report;

static void send_report(const report *r) {
    MPI_Send(r->head, 5, MPI_INT, 0, TAG_READY, MPI_COMM_WORLD);
    MPI_Send(&r->seconds, 1, MPI_DOUBLE, 0, TAG_READY, MPI_COMM_WORLD);
}

/* ---- packing a job ------------------------------------------------------------ */

static size_t count_strings(char **v) {
    size_t n = 0;
    while (v && v[n]) n++;
    return n;
}

static char *pack_job(const hp__pool_job *job, int *len_out) {
    size_t argc = count_strings(job->argv), envc = count_strings(job->env), len = 64;
    for (size_t i = 0; i < argc; i++) len += strlen(job->argv[i]) + 1;
    for (size_t i = 0; i < envc; i++) len += strlen(job->env[i]) + 1;
    len += strlen(job->log_path) + 1;
    char *buf = malloc(len), *p = buf;
    if (!buf) return NULL;
    p += sprintf(p, "%zu", job->id) + 1;
    p += sprintf(p, "%zu", argc) + 1;
    for (size_t i = 0; i < argc; i++) p = stpcpy(p, job->argv[i]) + 1;
    p += sprintf(p, "%zu", envc) + 1;
    for (size_t i = 0; i < envc; i++) p = stpcpy(p, job->env[i]) + 1;
    p = stpcpy(p, job->log_path) + 1;
    *len_out = (int)(p - buf);
    return buf;
}

/* Unpacked in place: the pointers point into buf. */
static int unpack_job(char *buf, int len, hp__pool_job *job, char ***argv, char ***env) {
    char *p = buf, *end = buf + len;
    char *s = p;
    p += strlen(p) + 1;
    job->id = (size_t)strtoull(s, NULL, 10);
    size_t argc = (size_t)strtoull(p, NULL, 10);
    p += strlen(p) + 1;
    *argv = calloc(argc + 1, sizeof **argv);
    for (size_t i = 0; *argv && i < argc && p < end; i++, p += strlen(p) + 1) (*argv)[i] = p;
    size_t envc = (size_t)strtoull(p, NULL, 10);
    p += strlen(p) + 1;
    *env = calloc(envc + 1, sizeof **env);
    for (size_t i = 0; *env && i < envc && p < end; i++, p += strlen(p) + 1) (*env)[i] = p;
    job->log_path = p < end ? p : "/dev/null";
    job->argv = *argv;
    job->env = *env;
    return *argv && *env ? 0 : -1;
}

/* ---- a worker (rank > 0) ------------------------------------------------------ */

static void run_one(const hp__pool_job *job, volatile sig_atomic_t *stop, report *r) {
    memset(r, 0, sizeof *r);
    r->head[0] = 1;
    r->head[1] = (int)job->id;
    r->head[2] = -1;
    double t0 = hp__now_seconds();
    pid_t pid;
    if (hp__pool_spawn(job, &pid) != HP_OK || !pid) {
        hp_error_clear();
        r->head[4] = 1;
        return;
    }
    int forwarded = 0, status = 0;
    for (;;) {
        if (*stop && !forwarded) {
            kill(pid, (int)*stop);
            forwarded = 1;
        }
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) break;
        if (got < 0 && errno != EINTR) break;
        hp__pool_sleep_ms(20);
    }
    r->seconds = hp__now_seconds() - t0;
    if (WIFEXITED(status)) r->head[2] = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) r->head[3] = WTERMSIG(status);
}

hp_status hp__pool_mpi_worker(volatile sig_atomic_t *stop) {
    report r;
    memset(&r, 0, sizeof r);
    for (;;) {
        send_report(&r);
        MPI_Status ms;
        MPI_Probe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &ms);
        if (ms.MPI_TAG == TAG_STOP) {
            MPI_Recv(NULL, 0, MPI_CHAR, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            return HP_OK;
        }
        int len;
        MPI_Get_count(&ms, MPI_CHAR, &len);
        char *buf = malloc(len > 0 ? (size_t)len : 1);
        if (!buf) HP_ERROR(HP_ERR_NOMEM, "out of memory");
        MPI_Recv(buf, len, MPI_CHAR, 0, TAG_JOB, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        hp__pool_job job;
        char **argv = NULL, **env = NULL;
        memset(&job, 0, sizeof job);
        if (unpack_job(buf, len, &job, &argv, &env) == 0) {
            run_one(&job, stop, &r);
        } else {
            memset(&r, 0, sizeof r);
            r.head[0] = 1, r.head[1] = (int)job.id, r.head[2] = -1, r.head[4] = 1;
        }
        free(argv);
        free(env);
        free(buf);
    }
}

/* ---- rank 0 ---------------------------------------------------------------------- */

/* A worker's request: record the member it finished, then give it the next one
 * or tell it to stop. Returns 1 when it got a job. */
static int serve(const hp__pool_source *src, int rank, int more, size_t *busy_id, int *alive) {
    report r;
    MPI_Recv(r.head, 5, MPI_INT, rank, TAG_READY, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Recv(&r.seconds, 1, MPI_DOUBLE, rank, TAG_READY, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (r.head[0]) {
        hp__pool_result res = {r.head[2], r.head[3], r.seconds, r.head[4]};
        src->finished(src->ctx, (size_t)r.head[1], &res);
    }
    hp__pool_job job;
    memset(&job, 0, sizeof job);
    if (more && src->next(src->ctx, &job)) {
        int len;
        char *buf = pack_job(&job, &len);
        if (buf) {
            MPI_Send(buf, len, MPI_CHAR, rank, TAG_JOB, MPI_COMM_WORLD);
            free(buf);
            *busy_id = job.id;
            src->started(src->ctx, job.id, -(long)rank);
            return 1;
        }
        hp__pool_result res = {-1, 0, 0.0, 1};
        src->finished(src->ctx, job.id, &res);
    }
    MPI_Send(NULL, 0, MPI_CHAR, rank, TAG_STOP, MPI_COMM_WORLD);
    (*alive)--;
    return 0;
}

static hp_status run_ranks(const hp__pool_source *src, int workers, volatile sig_atomic_t *stop) {
    int size = hp__comm_size(), alive = size - 1, more = 1;
    hp__pool_local l;
    HP_CALL(hp__pool_local_open(&l, workers));
    int *busy = calloc((size_t)size, sizeof *busy);
    size_t *ids = calloc((size_t)size, sizeof *ids);
    if (!busy || !ids) {
        free(busy), free(ids), hp__pool_local_close(&l);
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    hp_status st = HP_OK;
    while (alive > 0 || l.running > 0 || (more && !*stop)) {
        if (st == HP_OK) st = hp__pool_local_fill(&l, src, stop, &more); /* rank 0's own slots */
        if (st != HP_OK) more = 0; /* out of memory: nothing new; the running members finish */
        int activity = hp__pool_local_reap(&l, src, stop);
        /* the other ranks' requests */
        int flag = 1;
        while (alive > 0 && flag) {
            MPI_Status ms;
            MPI_Iprobe(MPI_ANY_SOURCE, TAG_READY, MPI_COMM_WORLD, &flag, &ms);
            if (!flag) break;
            int r = ms.MPI_SOURCE;
            busy[r] = serve(src, r, more && !*stop, &ids[r], &alive);
            if (!busy[r] && more && !*stop) more = 0; /* the source had nothing for it */
            activity = 1;
        }
        if (!activity) hp__pool_sleep_ms(20);
    }
    free(busy), free(ids), hp__pool_local_close(&l);
    return st;
}

void hp__pool_mpi_release(void) {
    for (int r = 1; r < hp__comm_size(); r++) {
        int head[5];
        double seconds;
        MPI_Recv(head, 5, MPI_INT, r, TAG_READY, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Recv(&seconds, 1, MPI_DOUBLE, r, TAG_READY, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(NULL, 0, MPI_CHAR, r, TAG_STOP, MPI_COMM_WORLD);
    }
}

#else /* serial build: never more than one rank */

static hp_status run_ranks(const hp__pool_source *src, int workers, volatile sig_atomic_t *stop) {
    return hp__pool_processes.run(src, workers, stop);
}
hp_status hp__pool_mpi_worker(volatile sig_atomic_t *stop) {
    (void)stop;
    return HP_OK;
}
void hp__pool_mpi_release(void) {}

#endif

const hp__pool_ops hp__pool_mpi = {"mpi", run_ranks};
