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

hp_status hp__pool_local_open(hp__pool_local *l, int workers) {
    memset(l, 0, sizeof *l);
    l->workers = workers < 1 ? 1 : workers;
    if (!(l->slots = calloc((size_t)l->workers, sizeof *l->slots))) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    return HP_OK;
}

void hp__pool_local_close(hp__pool_local *l) {
    free(l->slots);
    l->slots = NULL;
}

hp_status hp__pool_local_fill(hp__pool_local *l, const hp__pool_source *src, volatile sig_atomic_t *stop, int *more) {
    while (*more && !*stop && l->running < l->workers) {
        hp__pool_job job;
        memset(&job, 0, sizeof job);
        if (!src->next(src->ctx, &job)) {
            *more = 0;
            break;
        }
        pid_t pid;
        double t0 = hp__now_seconds();
        HP_CALL(hp__pool_spawn(&job, &pid));
        if (!pid) {
            hp__pool_result r = {-1, 0, 0.0, 1};
            src->finished(src->ctx, job.id, &r);
            continue;
        }
        int k = 0;
        while (l->slots[k].pid) k++;
        l->slots[k] = (hp__pool_slot){pid, job.id, t0};
        l->running++;
        src->started(src->ctx, job.id, (long)pid);
    }
    return HP_OK;
}

int hp__pool_local_reap(hp__pool_local *l, const hp__pool_source *src, volatile sig_atomic_t *stop) {
    if (*stop && !l->forwarded) {
        for (int k = 0; k < l->workers; k++)
            if (l->slots[k].pid) kill(l->slots[k].pid, (int)*stop);
        l->forwarded = 1;
    }
    int reaped = 0;
    for (int k = 0; k < l->workers; k++) {
        if (!l->slots[k].pid) continue;
        int status;
        pid_t got = waitpid(l->slots[k].pid, &status, WNOHANG);
        if (got == 0 || (got < 0 && errno == EINTR)) continue;
        hp__pool_result r = {-1, 0, hp__now_seconds() - l->slots[k].start, 0};
        if (got > 0 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
        else if (got > 0 && WIFSIGNALED(status)) r.signal = WTERMSIG(status);
        size_t id = l->slots[k].id;
        l->slots[k].pid = 0;
        l->running--;
        reaped++;
        src->finished(src->ctx, id, &r);
    }
    return reaped;
}

static hp_status run_processes(const hp__pool_source *src, int workers, volatile sig_atomic_t *stop) {
    hp__pool_local l;
    HP_CALL(hp__pool_local_open(&l, workers));
    int more = 1;
    hp_status st = HP_OK;
    while (l.running > 0 || (more && !*stop)) {
        if (st == HP_OK) st = hp__pool_local_fill(&l, src, stop, &more);
        if (st != HP_OK) more = 0; /* out of memory: no new job; the running ones finish */
        if (!hp__pool_local_reap(&l, src, stop) && l.running > 0) hp__pool_sleep_ms(20);
    }
    hp__pool_local_close(&l);
    return st;
}

const hp__pool_ops hp__pool_processes = {"processes", run_processes};
