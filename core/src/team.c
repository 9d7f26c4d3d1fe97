/* team.c — the worker team (team.h): a mutex, two condition variables and a
 * generation counter, deliberately plain. */
#include "team.h"

#include "comm.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct hp__team_worker {
    struct hp__team *team;
    int index;
    pthread_t thread;
} hp__team_worker;

struct hp__team {
    int n;                     /* threads including the caller */
    int started;               /* workers actually running (for a partial create) */
    hp__team_worker *workers;  /* n - 1 */
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    unsigned long generation;  /* bumped by every run */
    int pending;               /* workers still in the current run */
    int quit;
    hp__team_task task;
    void *ctx;
};

static void *hp__team_main(void *arg) {
    hp__team_worker *w = arg;
    struct hp__team *team = w->team;
    unsigned long seen = 0; /* runs start after create(): generation 0 is "nothing yet" */
    pthread_mutex_lock(&team->lock);
    for (;;) {
        while (team->generation == seen && !team->quit) pthread_cond_wait(&team->wake, &team->lock);
        if (team->quit) break;
        seen = team->generation;
        hp__team_task task = team->task;
        void *ctx = team->ctx;
        pthread_mutex_unlock(&team->lock);
        task(ctx, w->index, team->n);
        pthread_mutex_lock(&team->lock);
        if (--team->pending == 0) pthread_cond_signal(&team->done);
    }
    pthread_mutex_unlock(&team->lock);
    return NULL;
}

void hp__team_destroy(hp__team *team) {
    if (!team) return;
    pthread_mutex_lock(&team->lock);
    team->quit = 1;
    pthread_cond_broadcast(&team->wake);
    pthread_mutex_unlock(&team->lock);
    for (int i = 0; i < team->started; i++) pthread_join(team->workers[i].thread, NULL);
    pthread_cond_destroy(&team->wake);
    pthread_cond_destroy(&team->done);
    pthread_mutex_destroy(&team->lock);
    free(team->workers);
    free(team);
}

hp_status hp__team_create(int n_threads, hp__team **team) {
    *team = NULL;
    if (n_threads <= 0) { /* the cores, shared by the ranks of a data-parallel run */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN) / hp__comm_size();
        n_threads = cpus < 1 ? 1 : (cpus > 256 ? 256 : (int)cpus);
    }
    struct hp__team *t;
    HP_CALL(hp_calloc(1, sizeof *t, &t));
    t->n = n_threads;
    if (n_threads > 1) {
        hp_status st = hp_calloc((size_t)n_threads - 1, sizeof *t->workers, &t->workers);
        if (st != HP_OK) {
            free(t);
            return st;
        }
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    pthread_cond_init(&t->done, NULL);
    for (int i = 0; i + 1 < n_threads; i++) {
        t->workers[i] = (hp__team_worker){t, i + 1, 0};
        int rc = pthread_create(&t->workers[i].thread, NULL, hp__team_main, &t->workers[i]);
        if (rc != 0) {
            hp__team_destroy(t);
            HP_ERROR(HP_ERR_NOMEM, "jet team: cannot start worker thread %d of %d (error %d)",
                     i + 1, n_threads - 1, rc);
        }
        t->started++;
    }
    *team = t;
    return HP_OK;
}

int hp__team_size(const hp__team *team) { return team ? team->n : 1; }

void hp__team_run(hp__team *team, hp__team_task task, void *ctx) {
    if (!team || team->n == 1) {
        task(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&team->lock);
    team->task = task;
    team->ctx = ctx;
    team->pending = team->n - 1;
    team->generation++;
    pthread_cond_broadcast(&team->wake);
    pthread_mutex_unlock(&team->lock);
    task(ctx, 0, team->n);
    pthread_mutex_lock(&team->lock);
    while (team->pending > 0) pthread_cond_wait(&team->done, &team->lock);
    pthread_mutex_unlock(&team->lock);
}

