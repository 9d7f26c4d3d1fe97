/* worker_pool.c — the local worker pool: each job a child process (worker_pool.h).
 *
 * The process may already run threads (OpenBLAS starts its pool when it is
 * loaded), so the child does only async-signal-safe work between fork and
 * execve: the environment and the error text are prepared before the fork.
 * Children are polled (waitpid WNOHANG every 20 ms) rather than waited for, so
 * a signal that reaches only this process is forwarded at once, whatever the
 * children are doing. */
#include "worker_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "comm.h"
#include "fileio.h"

extern char **environ;

typedef struct slot {
    pid_t pid; /* 0: free */
    size_t id;
    double start;
} slot;

/* The variables mpirun gives its ranks: a member started by a rank is a
 * serial run of its own, so it must not see them (it would call MPI_Init). */
static int launcher_variable(const char *v) {
    return strncmp(v, "OMPI_", 5) == 0 || strncmp(v, "PMIX_", 5) == 0 || strncmp(v, "PMI_", 4) == 0;
}

/* environ without the names `env` sets (and under mpirun without the
 * launcher's variables), then `env`. */
static hp_status build_envp(char **env, char ***out) {
    size_t n = 0, m = 0;
    while (environ && environ[n]) n++;
    while (env && env[m]) m++;
    char **e = calloc(n + m + 1, sizeof *e);
    if (!e) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    size_t k = 0;
    int under_mpirun = hp__comm_size() > 1;
    for (size_t i = 0; i < n; i++) {
        int replaced = under_mpirun && launcher_variable(environ[i]);
        for (size_t j = 0; j < m && !replaced; j++) {
            size_t len = strcspn(env[j], "=");
            replaced = strncmp(environ[i], env[j], len) == 0 && environ[i][len] == '=';
        }
        if (!replaced) e[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++) e[k++] = env[j];
    e[k] = NULL;
    *out = e;
    return HP_OK;
}

static void note_in_log(const char *log_path, const char *text) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0) return;
    ssize_t ignored = write(fd, text, strlen(text));
    (void)ignored;
    close(fd);
}

hp_status hp__pool_spawn(const hp__pool_job *job, pid_t *pid_out) {
    *pid_out = 0;
    char **envp = NULL;
    HP_CALL(build_envp(job->env, &envp));
    char failure[512];
    snprintf(failure, sizeof failure, "hpinn sweep: cannot run %s\n", job->argv[0]);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        free(envp);
        char msg[600];
        snprintf(msg, sizeof msg, "hpinn: error: hpinn sweep: cannot start a process: %s\n", strerror(e));
        note_in_log(job->log_path, msg);
        return HP_OK; /* *pid_out == 0: not started */
    }
    if (pid == 0) {
        int fd = open(job->log_path, O_WRONLY | O_CREAT | O_APPEND, 0666);
        int in = open("/dev/null", O_RDONLY);
        if (fd < 0 || in < 0) _exit(126);
        if (dup2(in, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) _exit(126);
        execve(job->argv[0], job->argv, envp);
        ssize_t ignored = write(STDERR_FILENO, failure, strlen(failure));
        (void)ignored;
        _exit(127);
    }
    free(envp);
    *pid_out = pid;
    return HP_OK;
}

void hp__pool_sleep_ms(long ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL); /* a signal cuts it short: fine, the loop looks again */
}

static hp_status run_processes(const hp__pool_source *src, int workers, volatile sig_atomic_t *stop) {
    if (workers < 1) workers = 1;
    slot *slots = calloc((size_t)workers, sizeof *slots);
    if (!slots) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    int running = 0, more = 1, forwarded = 0;
    hp_status st = HP_OK;
    while (running > 0 || (more && !*stop)) {
        while (st == HP_OK && more && !*stop && running < workers) {
            hp__pool_job job;
            memset(&job, 0, sizeof job);
            if (!src->next(src->ctx, &job)) {
                more = 0;
                break;
            }
            pid_t pid;
            double t0 = hp__now_seconds();
            st = hp__pool_spawn(&job, &pid);
            if (st != HP_OK) break;
            if (!pid) {
                hp__pool_result r = {-1, 0, 0.0, 1};
                src->finished(src->ctx, job.id, &r);
                continue;
            }
            int k = 0;
            while (slots[k].pid) k++;
            slots[k] = (slot){pid, job.id, t0};
            running++;
            src->started(src->ctx, job.id, (long)pid);
        }
        if (st != HP_OK) more = 0; /* out of memory: no new job; the running ones finish */
        if (*stop && !forwarded) {
            for (int k = 0; k < workers; k++)
                if (slots[k].pid) kill(slots[k].pid, (int)*stop);
            forwarded = 1;
        }
        int reaped = 0;
        for (int k = 0; k < workers; k++) {
            if (!slots[k].pid) continue;
            int status;
            pid_t got = waitpid(slots[k].pid, &status, WNOHANG);
            if (got == 0 || (got < 0 && errno == EINTR)) continue;
            hp__pool_result r = {-1, 0, hp__now_seconds() - slots[k].start, 0};
            if (got > 0 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
            else if (got > 0 && WIFSIGNALED(status)) r.signal = WTERMSIG(status);
            size_t id = slots[k].id;
            slots[k].pid = 0;
            running--;
            reaped = 1;
            src->finished(src->ctx, id, &r);
        }
        if (!reaped && running > 0) hp__pool_sleep_ms(20);
    }
    free(slots);
    return st;
}

const hp__pool_ops hp__pool_processes = {"processes", run_processes};
