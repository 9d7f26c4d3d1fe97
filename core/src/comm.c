/* comm.c — the ranks of a data-parallel run over MPI (comm.h), or one rank. */
#include "comm.h"
#include "fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#ifdef HPINN_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_shared_failure = 0, g_data_parallel = 1;
static double g_seconds = 0.0; /* wall time inside collectives (waiting for the slowest rank included) */

double hp__comm_seconds(void) { return g_seconds; }

void hp__comm_set_data_parallel(int on) { g_data_parallel = on != 0; }
int hp__comm_data_parallel(void) { return g_data_parallel && g_size > 1; }

int hp__comm_rank(void) { return g_rank; }
int hp__comm_size(void) { return g_size; }
int hp__comm_failure_is_shared(void) { return g_shared_failure; }

void hp__comm_range(size_t n, size_t *lo, size_t *hi) {
    size_t size = (size_t)g_size, rank = (size_t)g_rank, base = n / size, extra = n % size;
    *lo = rank * base + (rank < extra ? rank : extra);
    *hi = *lo + base + (rank < extra ? 1 : 0);
}

#ifdef HPINN_HAVE_MPI

static int g_started = 0; /* MPI_Init was called (and MPI_Finalize not yet) */

static int launched_by_mpirun(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

hp_status hp__comm_init(int *argc, char ***argv) {
    if (g_started || !launched_by_mpirun()) return HP_OK;
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        HP_ERROR(HP_ERR_INTERNAL, "MPI_Init failed");
    g_started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    /* errors come back as codes: a rank reports them through the checked collectives */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    /* the cores are shared by the ranks: BLAS threads default to cores / ranks
     * (the network team does the same, team.c); OPENBLAS_NUM_THREADS still rules */
    if (g_size > 1 && !getenv("OPENBLAS_NUM_THREADS") && !getenv("OMP_NUM_THREADS")) {
        long per = sysconf(_SC_NPROCESSORS_ONLN) / g_size;
        openblas_set_num_threads(per < 1 ? 1 : (int)per);
    }
    return HP_OK;
}

void hp__comm_finalize(void) {
    if (!g_started) return;
    MPI_Finalize();
    g_started = 0;
}

void hp__comm_abort(int exit_code) {
    if (g_size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
    exit(exit_code);
}

#define HP__COMM_MESSAGE 2048

/* The first step of every collective: each rank's status and a flag, gathered
 * on all ranks (so a rank arriving with a failure matches whatever collective
 * the others are in). On a failure, the lowest failing rank's message is
 * broadcast and returned everywhere; else *flag becomes the OR of the flags. */
static hp_status exchange(hp_status local, int *flag) {
    int mine[2] = {(int)local, flag ? *flag != 0 : 0}, *all = malloc((size_t)g_size * 2 * sizeof *all);
    if (!all || MPI_Allgather(mine, 2, MPI_INT, all, 2, MPI_INT, MPI_COMM_WORLD) != MPI_SUCCESS) {
        free(all);
        fprintf(stderr, "hpinn: rank %d: the ranks cannot agree (MPI_Allgather failed); stopping all ranks\n", g_rank);
        hp__comm_abort(1);
    }
    int failed = -1, any = 0;
    for (int r = 0; r < g_size; r++) {
        if (failed < 0 && all[2 * r] != HP_OK) failed = r;
        any |= all[2 * r + 1];
    }
    hp_status code = failed >= 0 ? (hp_status)all[2 * failed] : HP_OK;
    free(all);
    if (flag) *flag = any;
    if (failed < 0) return HP_OK;
    char msg[HP__COMM_MESSAGE];
    memset(msg, 0, sizeof msg);
    if (g_rank == failed) snprintf(msg, sizeof msg, "%s", hp_error_message());
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, failed, MPI_COMM_WORLD);
    msg[sizeof msg - 1] = '\0';
    g_shared_failure = 1;
    if (g_rank == failed) return local; /* its own message and trace stay */
    hp_error_clear();
    return hp_error_set(code, __FILE__, __LINE__, __func__, "rank %d: %s", failed, msg);
}

hp_status hp__comm_agree(hp_status local) {
    if (g_size == 1) return local;
    return exchange(local, NULL);
}

/* Chunks bound rank 0's gather buffer (size x chunk doubles) for large sums (JᵀJ). */
#define HP__COMM_CHUNK ((size_t)1 << 20)

static hp_status sum_timed(hp_status local, double *buf, size_t count);

hp_status hp__comm_sum(hp_status local, double *buf, size_t count) {
    if (g_size == 1) return local;
    double t0 = hp__now_seconds();
    hp_status st = sum_timed(local, buf, count);
    g_seconds += hp__now_seconds() - t0;
    return st;
}

static hp_status sum_timed(hp_status local, double *buf, size_t count) {
    HP_CALL(hp__comm_agree(local));
    size_t chunk = count < HP__COMM_CHUNK ? count : HP__COMM_CHUNK;
    double *parts = NULL;
    int ok = 1;
    if (g_rank == 0 && chunk && !(parts = malloc((size_t)g_size * chunk * sizeof *parts))) ok = 0;
    HP_CALL(hp__comm_agree(ok ? HP_OK : hp_error_set(HP_ERR_NOMEM, __FILE__, __LINE__, __func__, "out of memory")));
    for (size_t off = 0; off < count; off += chunk) {
        int n = (int)(count - off < chunk ? count - off : chunk);
        if (MPI_Gather(buf + off, n, MPI_DOUBLE, parts, n, MPI_DOUBLE, 0, MPI_COMM_WORLD) != MPI_SUCCESS) ok = 0;
        if (g_rank == 0)
            for (int i = 0; i < n; i++) {
                double s = parts[i];
                for (int r = 1; r < g_size; r++) s += parts[(size_t)r * (size_t)n + (size_t)i];
                buf[off + (size_t)i] = s;
            }
        if (MPI_Bcast(buf + off, n, MPI_DOUBLE, 0, MPI_COMM_WORLD) != MPI_SUCCESS) ok = 0;
    }
    free(parts);
    if (!ok) {
        fprintf(stderr, "hpinn: rank %d: a sum over the ranks failed in MPI; stopping all ranks\n", g_rank);
        hp__comm_abort(1);
    }
    return HP_OK;
}

hp_status hp__comm_any(hp_status local, int *flag) {
    if (g_size == 1) return local;
    return exchange(local, flag);
}

#else /* serial build */

hp_status hp__comm_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return HP_OK;
}
void hp__comm_finalize(void) {}
void hp__comm_abort(int exit_code) { exit(exit_code); }
hp_status hp__comm_agree(hp_status local) { return local; }
hp_status hp__comm_sum(hp_status local, double *buf, size_t count) {
    (void)buf;
    (void)count;
    return local;
}
hp_status hp__comm_any(hp_status local, int *flag) {
    (void)flag;
    return local;
}

#endif
