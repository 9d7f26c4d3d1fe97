/* cmd_sweep.c — `hpinn sweep CONFIG [--set KEY=V1,V2,...]... [--seeds 1,2,3]
 * --out DIR [--jobs N] [--retry-failed] [--dry-run]`: a grid of ordinary run
 * directories DIR/<member>, each trained by a child `hpinn run` (this same
 * binary) with its overrides, and DIR/sweep.json that lists them.
 *
 * The files decide what is left to do, so the same command continues a sweep:
 * a member whose summary.json says completed is skipped, one with a checkpoint
 * is resumed (`run --resume`), one that failed is rerun only with
 * --retry-failed, the others start (with --force, which clears only what an
 * earlier attempt of hpinn wrote there). A grid that differs from the recorded
 * one is refused before anything runs.
 *
 * Ctrl-C or SIGTERM reaches the children (a terminal sends it to the whole
 * process group; the pool forwards it too): each writes a checkpoint and stops,
 * the sweep records them as pending and exits 130. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "comm.h"
#include "fileio.h"
#include "json_in.h"
#include "machine.h"
#include "run_dir.h"
#include "sweep_record.h"
#include "worker_pool.h"

static volatile sig_atomic_t sweep_stop = 0;

static void on_signal(int sig) { sweep_stop = sig; }

typedef enum action { ACT_DONE, ACT_SKIP_FAILED, ACT_BUSY, ACT_FRESH, ACT_RESUME } action;

typedef struct member_run {
    action act;
    char dir[HP__PATH_MAX];
    char log[HP__PATH_MAX + 16];
    char **argv;
    char *env[2];
    char env_text[64];
    long log_offset;
} member_run;

typedef struct sweep_job {
    hp__sweep_spec spec;
    hp__sweep_record rec;      /* config, config_path, checksum; grid points at spec (not owned) */
    hp__sweep_member *m;
    member_run *runs;
    size_t n;
    const char *config;
    const char *out;
    int retry_failed, dry_run, jobs, threads, set_threads, set_blas;
    int user_threads; /* --set network.threads=N (one value), else 0 */
    char exe[PATH_MAX];
    size_t next, to_run, finished, n_done, n_failed, n_pending;
    int argc;
    char **argv;
    char threads_set[48];
    hp__run_lock lock;
} sweep_job;

/* ---- arguments ------------------------------------------------------------------ */

static hp_status parse_args(sweep_job *j, int argc, char **argv, const char **seeds, int *seed_set) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int has = i + 1 < argc;
        if (strcmp(arg, "--set") == 0 || strncmp(arg, "--set=", 6) == 0) {
            const char *v = arg[5] == '=' ? arg + 6 : (has ? argv[++i] : NULL);
            if (!v) HP_ERROR(HP_ERR_USAGE, "sweep: --set needs KEY=VALUE or KEY=V1,V2,...");
            if (strncmp(v, "network.seed=", 13) == 0) *seed_set = 1; /* the axes are built by build_spec */
        } else if (strcmp(arg, "--seeds") == 0) {
            if (!has) HP_ERROR(HP_ERR_USAGE, "sweep: --seeds needs a list (--seeds 1,2,3)");
            *seeds = argv[++i];
        } else if (strcmp(arg, "--out") == 0) {
            if (!has) HP_ERROR(HP_ERR_USAGE, "sweep: --out needs a directory");
            j->out = argv[++i];
        } else if (strcmp(arg, "--jobs") == 0 || strcmp(arg, "-j") == 0) {
            char *end;
            long v = has ? strtol(argv[i + 1], &end, 10) : 0;
            if (!has || *end || v < 1 || v > 4096)
                HP_ERROR(HP_ERR_USAGE, "sweep: --jobs needs a number of parallel runs from 1 to 4096");
            j->jobs = (int)v;
            i++;
        } else if (strcmp(arg, "--retry-failed") == 0) {
            j->retry_failed = 1;
        } else if (strcmp(arg, "--dry-run") == 0) {
            j->dry_run = 1;
        } else if (arg[0] == '-' && arg[1]) {
            HP_ERROR(HP_ERR_USAGE, "sweep: unknown option '%s'; see `hpinn help sweep`", arg);
        } else if (!j->config) {
            j->config = arg;
        } else {
            HP_ERROR(HP_ERR_USAGE, "sweep: unexpected argument '%s' (the pipeline is already '%s')", arg, j->config);
        }
    }
    if (!j->config) HP_ERROR(HP_ERR_USAGE, "sweep: missing CONFIG; see `hpinn help sweep`");
    if (*seeds && *seed_set)
        HP_ERROR(HP_ERR_USAGE, "sweep: --seeds and --set network.seed=... both give the seeds; expected one of them");
    return HP_OK;
}

/* The file's sweep: section, then the command line in order. */
static hp_status build_spec(sweep_job *j, int argc, char **argv, const char *seeds) {
    HP_CALL(hp__sweep_spec_from_file(j->config, &j->spec));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--set") == 0) HP_CALL(hp__sweep_spec_set(&j->spec, argv[++i]));
        else if (strncmp(argv[i], "--set=", 6) == 0) HP_CALL(hp__sweep_spec_set(&j->spec, argv[i] + 6));
        else if (strcmp(argv[i], "--seeds") == 0 || strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "--jobs") == 0 ||
                 strcmp(argv[i], "-j") == 0)
            i++;
    }
    if (seeds) HP_CALL(hp__sweep_spec_seeds(&j->spec, seeds));
    if (!j->out) j->out = j->spec.out;
    if (!j->out)
        HP_ERROR(HP_ERR_USAGE, "sweep: no output directory; expected --out DIR (or out: DIR in the pipeline's sweep: "
                               "section)");
    if (!j->jobs) j->jobs = j->spec.jobs;
    return HP_OK;
}

/* Keys exist (with the single-valued overrides applied, which may choose a plugin). */
static hp_status check_pipeline(sweep_job *j) {
    hp_config *c = NULL;
    hp_registry *r = NULL;
    hp_status st = hp_config_load_file(j->config, &c);
    char assignment[4096];
    for (size_t i = 0; st == HP_OK && i < j->spec.n_axes; i++) {
        if (j->spec.axes[i].n_values != 1) continue;
        snprintf(assignment, sizeof assignment, "%s=%s", j->spec.axes[i].key, j->spec.axes[i].values[0]);
        st = hp_config_set(c, assignment);
    }
    if (st == HP_OK) st = hp_registry_open(&r);
    if (st == HP_OK) st = hp__sweep_check_keys(&j->spec, c, r);
    int user_threads = 0;
    for (size_t i = 0; i < j->spec.n_axes; i++)
        if (strcmp(j->spec.axes[i].key, "network.threads") == 0) {
            user_threads = 1;
            /* one value for every member: that is the members' thread count (header, OPENBLAS_NUM_THREADS) */
            if (j->spec.axes[i].n_values == 1) j->user_threads = atoi(j->spec.axes[i].values[0]);
        }
    if (st == HP_OK) j->set_threads = !user_threads && hp__sweep_key_exists(&j->spec, c, r, "network.threads");
    size_t notes = 0;
    hp__cli_print_registry_notes(r, &notes);
    hp_registry_close(r);
    hp_config_destroy(c);
    return st;
}

/* ---- what each member needs ------------------------------------------------------- */

static int file_exists(const char *dir, const char *name) {
    char path[HP__PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* 1: summary.json says completed; *rel_l2 its final error (NaN when absent). */
static int member_completed(const char *dir, double *rel_l2) {
    char path[HP__PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    hp__json_doc doc;
    if (rel_l2) *rel_l2 = NAN;
    if (hp__json_load(path, &doc) != HP_OK) {
        hp_error_clear();
        return 0;
    }
    int done = hp__json_bool(hp__json_get(doc.root, "completed")) == 1;
    if (rel_l2) *rel_l2 = hp__json_num(hp__json_get(hp__json_get(doc.root, "final"), "rel_l2"));
    hp__json_free(&doc);
    return done;
}

static int dir_busy(const char *dir) {
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return 0;
    hp__run_lock lock;
    if (hp__run_lock_acquire(dir, &lock) == HP_OK) {
        hp__run_lock_release(&lock);
        return 0;
    }
    hp_error_clear();
    return 1;
}

static hp_status plan(sweep_job *j, const hp__sweep_record *old) {
    for (size_t i = 0; i < j->n; i++) {
        hp__sweep_member *m = &j->m[i];
        member_run *r = &j->runs[i];
        HP_CALL(hp__path_join(r->dir, sizeof r->dir, j->out, m->name));
        snprintf(r->log, sizeof r->log, "%s/hpinn.log", r->dir);
        const hp__sweep_member *was = NULL;
        for (size_t k = 0; old && k < old->n_members && !was; k++)
            if (strcmp(old->members[k].name, m->name) == 0) was = &old->members[k];
        if (was) {
            m->exit_code = was->exit_code;
            snprintf(m->error, sizeof m->error, "%s", was->error);
        }
        int failed = was && was->status == HP__MEMBER_FAILED;
        if (member_completed(r->dir, NULL)) {
            r->act = ACT_DONE;
            m->status = HP__MEMBER_DONE;
            m->error[0] = '\0';
        } else if (failed && !j->retry_failed) {
            r->act = ACT_SKIP_FAILED;
            m->status = HP__MEMBER_FAILED;
        } else if (dir_busy(r->dir)) {
            r->act = ACT_BUSY;
            m->status = HP__MEMBER_PENDING;
        } else {
            r->act = !failed && file_exists(r->dir, HP__CHECKPOINT_FILE) ? ACT_RESUME : ACT_FRESH;
            m->status = HP__MEMBER_PENDING;
        }
        j->to_run += r->act == ACT_FRESH || r->act == ACT_RESUME;
    }
    return HP_OK;
}

/* The child's command line: `hpinn run CONFIG --out DIR [--force] --set ...` or
 * `hpinn run --resume DIR`, each with the member's thread count. */
static hp_status member_argv(sweep_job *j, size_t i) {
    hp__sweep_member *m = &j->m[i];
    member_run *r = &j->runs[i];
    free(r->argv);
    HP_CALL(hp_calloc(2 * m->n_overrides + 12, sizeof *r->argv, &r->argv));
    size_t k = 0;
    r->argv[k++] = j->exe;
    r->argv[k++] = (char *)"run";
    if (r->act == ACT_RESUME) {
        r->argv[k++] = (char *)"--resume";
        r->argv[k++] = r->dir;
    } else {
        r->argv[k++] = (char *)j->config;
        r->argv[k++] = (char *)"--out";
        r->argv[k++] = r->dir;
        if (hp__run_dir_has_run(r->dir)) r->argv[k++] = (char *)"--force";
        for (size_t o = 0; o < m->n_overrides; o++) {
            r->argv[k++] = (char *)"--set";
            r->argv[k++] = m->overrides[o];
        }
    }
    if (j->set_threads) {
        r->argv[k++] = (char *)"--set";
        r->argv[k++] = j->threads_set;
    }
    r->argv[k] = NULL;
    r->env[0] = NULL;
    if (j->set_blas) {
        snprintf(r->env_text, sizeof r->env_text, "OPENBLAS_NUM_THREADS=%d", j->threads);
        r->env[0] = r->env_text;
        r->env[1] = NULL;
    }
    return HP_OK;
}

static hp_status save(sweep_job *j) {
    return hp__sweep_record_write(j->out, &j->rec, j->m, j->n, j->argc, j->argv);
}

/* ---- the pool's source ----------------------------------------------------------- */

static int src_next(void *ctx, hp__pool_job *job) {
    sweep_job *j = ctx;
    while (j->next < j->n) {
        size_t i = j->next++;
        member_run *r = &j->runs[i];
        if (r->act != ACT_FRESH && r->act != ACT_RESUME) continue;
        if (hp__cli_make_dirs(r->dir) != HP_OK || member_argv(j, i) != HP_OK) {
            snprintf(j->m[i].error, sizeof j->m[i].error, "%s", hp_error_message());
            hp_error_clear();
            j->m[i].status = HP__MEMBER_FAILED;
            j->n_failed++;
            j->finished++;
            printf("failed   %s: %s\n", j->m[i].name, j->m[i].error);
            continue;
        }
        struct stat sb;
        r->log_offset = stat(r->log, &sb) == 0 ? (long)sb.st_size : 0;
        job->id = i;
        job->argv = r->argv;
        job->env = r->env;
        job->log_path = r->log;
        return 1;
    }
    return 0;
}

static void src_started(void *ctx, size_t id, long worker) {
    sweep_job *j = ctx;
    j->m[id].status = HP__MEMBER_RUNNING;
    if (worker < 0) /* another MPI rank runs it */
        printf("start    %s%s (rank %ld)\n", j->m[id].name, j->runs[id].act == ACT_RESUME ? " (resume)" : "", -worker);
    else
        printf("start    %s%s (pid %ld)\n", j->m[id].name, j->runs[id].act == ACT_RESUME ? " (resume)" : "", worker);
    fflush(stdout);
    if (save(j) != HP_OK) {
        fprintf(stderr, "hpinn sweep: warning: %s\n", hp_error_message());
        hp_error_clear();
    }
}

/* The last "hpinn: error: ..." line this session wrote to the log (else its last line). */
static void last_error(const member_run *r, char *out, size_t size) {
    out[0] = '\0';
    FILE *f = fopen(r->log, "r");
    if (!f) return;
    if (r->log_offset > 0) fseek(f, r->log_offset, SEEK_SET);
    char line[2048], last[2048] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "hpinn: error: ", 14) == 0) snprintf(out, size, "%.500s", line + 14);
        else if (line[0] && line[0] != '(' && line[0] != ' ') snprintf(last, sizeof last, "%s", line);
    }
    fclose(f);
    if (!out[0]) snprintf(out, size, "%.500s", last);
}

static void src_finished(void *ctx, size_t id, const hp__pool_result *res) {
    sweep_job *j = ctx;
    hp__sweep_member *m = &j->m[id];
    member_run *r = &j->runs[id];
    j->finished++;
    m->exit_code = res->exit_code;
    m->error[0] = '\0';
    double rel = NAN;
    int interrupted = res->exit_code == 130 || res->signal == SIGINT || res->signal == SIGTERM;
    if (res->exit_code == 0 && member_completed(r->dir, &rel)) {
        m->status = HP__MEMBER_DONE;
        j->n_done++;
        printf("done     %s  [%zu/%zu] %.1f s, rel. L2 %.3g\n", m->name, j->finished, j->to_run, res->seconds, rel);
    } else if (interrupted) {
        m->status = HP__MEMBER_PENDING;
        j->n_pending++;
        printf("stopped  %s  [%zu/%zu] interrupted after %.1f s; the same command resumes it\n", m->name, j->finished,
               j->to_run, res->seconds);
    } else {
        m->status = HP__MEMBER_FAILED;
        j->n_failed++;
        last_error(r, m->error, sizeof m->error);
        if (res->signal) {
            char text[sizeof m->error];
            snprintf(text, sizeof text, "killed by signal %d (%.40s)%s%.400s", res->signal, strsignal(res->signal),
                     m->error[0] ? "; last line: " : "", m->error);
            snprintf(m->error, sizeof m->error, "%s", text);
        } else if (res->exit_code == 0) {
            snprintf(m->error, sizeof m->error, "exited with 0 but %.400s/summary.json does not say completed", r->dir);
        } else if (!m->error[0]) {
            snprintf(m->error, sizeof m->error, "exit code %d (see %.400s)", res->exit_code, r->log);
        }
        printf("failed   %s  [%zu/%zu] ", m->name, j->finished, j->to_run);
        if (res->signal) printf("signal %d", res->signal);
        else printf("exit %d", res->exit_code);
        printf(": %s\n", m->error);
    }
    fflush(stdout);
    if (save(j) != HP_OK) {
        fprintf(stderr, "hpinn sweep: warning: %s\n", hp_error_message());
        hp_error_clear();
    }
}

/* ---- the command ----------------------------------------------------------------- */

static void print_plan(const sweep_job *j) {
    static const char *const what[] = {"done", "failed (skipped; --retry-failed reruns it)",
                                       "busy (another process runs it)", "start", "resume"};
    for (size_t i = 0; i < j->n; i++) {
        printf("%-8s %s ", what[j->runs[i].act], j->m[i].name);
        for (size_t o = 0; o < j->m[i].n_overrides; o++) printf(" --set %s", j->m[i].overrides[o]);
        printf("\n");
    }
}

static hp_status prepare(sweep_job *j, int argc, char **argv) {
    const char *seeds = NULL;
    int seed_set = 0;
    HP_CALL(parse_args(j, argc, argv, &seeds, &seed_set));
    hp_config *probe = NULL; /* the file is a pipeline: located errors come from the loader */
    HP_CALL(hp_config_load_file(j->config, &probe));
    hp_config_destroy(probe);
    HP_CALL(build_spec(j, argc, argv, seeds));
    HP_CALL(check_pipeline(j));
    HP_CALL(hp__sweep_members(&j->spec, &j->m, &j->n));
    HP_CALL(hp_calloc(j->n, sizeof *j->runs, &j->runs));
    char abs[PATH_MAX];
    if (!realpath(j->config, abs)) HP_ERROR(HP_ERR_NOT_FOUND, "sweep: %s: %s", j->config, strerror(errno));
    char checksum[40];
    HP_CALL(hp__sweep_pipeline_checksum(j->config, checksum));
    if (!(j->rec.config = strdup(j->config)) || !(j->rec.config_path = strdup(abs)) ||
        !(j->rec.checksum = strdup(checksum)))
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    j->rec.grid = j->spec; /* shallow: the record writer reads the axes */

    struct stat sb;
    int exists = stat(j->out, &sb) == 0;
    if (exists && !S_ISDIR(sb.st_mode)) HP_ERROR(HP_ERR_USAGE, "sweep: %s exists and is not a directory", j->out);
    if (exists && file_exists(j->out, HP__RUN_INFO_FILE))
        HP_ERROR(HP_ERR_USAGE, "sweep: %s holds a run (run.json), not a sweep; expected a new or a sweep's directory "
                               "for --out", j->out);
    hp__sweep_record old;
    memset(&old, 0, sizeof old);
    int have_old = 0;
    if (exists) {
        hp_status st = hp__sweep_record_read(j->out, &old);
        if (st == HP_ERR_NOT_FOUND) hp_error_clear();
        else if (st != HP_OK) return st;
        else have_old = 1;
    }
    hp_status st = have_old ? hp__sweep_record_compare(&old, &j->rec, j->out) : HP_OK;
    if (st == HP_OK && !j->dry_run) {
        st = hp__cli_make_dirs(j->out);
        if (st == HP_OK) st = hp__run_lock_acquire(j->out, &j->lock);
    }
    if (st == HP_OK) st = plan(j, have_old ? &old : NULL);
    hp__sweep_record_free(&old);
    HP_CALL(st);

    int cores = hp__machine_cores(), ranks = hp__comm_size();
    if (ranks > 1) { /* mpirun: one member at a time per rank, the cores shared by the ranks */
        if (j->jobs > 1)
            HP_ERROR(HP_ERR_USAGE, "sweep: --jobs %d under mpirun (%d ranks): each rank runs one member at a time; "
                                   "expected no --jobs (the ranks are the jobs)", j->jobs, ranks);
        j->jobs = 1;
        j->threads = cores / ranks > 1 ? cores / ranks : 1;
    } else {
        if (!j->jobs) j->jobs = (int)(j->to_run < (size_t)cores ? (j->to_run ? j->to_run : 1) : (size_t)cores);
        j->threads = cores / j->jobs > 1 ? cores / j->jobs : 1;
    }
    if (j->user_threads > 0) j->threads = j->user_threads;
    snprintf(j->threads_set, sizeof j->threads_set, "network.threads=%d", j->threads);
    j->set_blas = getenv("OPENBLAS_NUM_THREADS") == NULL; /* a value the user set is kept */
    ssize_t len = readlink("/proc/self/exe", j->exe, sizeof j->exe - 1);
    if (len <= 0) HP_ERROR(HP_ERR_IO, "sweep: cannot find this hpinn executable (/proc/self/exe): %s", strerror(errno));
    j->exe[len] = '\0';
    return HP_OK;
}

/* Ranks > 0 of `mpirun hpinn sweep`: workers of rank 0's sweep (worker_pool_mpi.c). */
static hp_status sweep_worker(void) {
    hp__cli_signals saved_signals;
    hp__cli_catch_stop_signals(on_signal, &saved_signals);
    hp_status st = hp__pool_mpi_worker(&sweep_stop);
    hp__cli_restore_signals(&saved_signals);
    return st;
}

hp_status hp__cmd_sweep(int argc, char **argv) {
    if (hp__comm_size() > 1 && hp__comm_rank() > 0) return sweep_worker();
    sweep_job j;
    memset(&j, 0, sizeof j);
    j.lock.fd = -1;
    j.argc = argc;
    j.argv = argv;
    hp_status st = prepare(&j, argc, argv);
    int ranks_waiting = hp__comm_size() > 1; /* the workers wait for rank 0's first answer */
    if (ranks_waiting && (st != HP_OK || j.dry_run)) {
        hp__pool_mpi_release();
        ranks_waiting = 0;
    }
    size_t done0 = 0, failed0 = 0, busy = 0;
    for (size_t i = 0; st == HP_OK && i < j.n; i++) {
        done0 += j.runs[i].act == ACT_DONE;
        failed0 += j.runs[i].act == ACT_SKIP_FAILED;
        busy += j.runs[i].act == ACT_BUSY;
    }
    size_t resume = 0;
    for (size_t i = 0; st == HP_OK && i < j.n; i++) resume += j.runs[i].act == ACT_RESUME;
    if (st == HP_OK) {
        printf("sweep: %zu member%s in %s: %zu done, %zu failed, %zu to run (%zu to resume)%s; %d job%s, %d thread%s "
               "each\n", j.n, j.n == 1 ? "" : "s", j.out, done0, failed0, j.to_run, resume, busy ? ", some busy" : "",
               j.jobs, j.jobs == 1 ? "" : "s", j.threads, j.threads == 1 ? "" : "s");
        if (j.dry_run) print_plan(&j);
    }
    int interrupted = 0;
    if (st == HP_OK && !j.dry_run) {
        st = save(&j);
        hp__cli_signals saved_signals;
        hp__cli_catch_stop_signals(on_signal, &saved_signals);
        hp__pool_source src = {&j, src_next, src_started, src_finished};
        const hp__pool_ops *pool = ranks_waiting ? &hp__pool_mpi : &hp__pool_processes;
        if (st == HP_OK) st = pool->run(&src, j.jobs, &sweep_stop);
        else if (ranks_waiting) hp__pool_mpi_release();
        ranks_waiting = 0;
        hp__cli_restore_signals(&saved_signals);
        interrupted = sweep_stop != 0;
        for (size_t i = 0; i < j.n; i++)
            if (j.m[i].status == HP__MEMBER_RUNNING) j.m[i].status = HP__MEMBER_PENDING;
        hp_status sst = save(&j);
        if (st == HP_OK) st = sst;
    }
    size_t failed = failed0 + j.n_failed, pending = j.n - done0 - j.n_done - failed;
    if (st == HP_OK && !j.dry_run) {
        printf("sweep: %zu done, %zu failed, %zu pending of %zu in %s (each member's log: <member>/hpinn.log); "
               "hpinn compare %s\n", done0 + j.n_done, failed, pending, j.n, j.out, j.out);
        if (failed && !j.retry_failed && failed0)
            printf("sweep: %zu failed member%s skipped; --retry-failed reruns them\n", failed0, failed0 == 1 ? "" : "s");
    }
    hp__run_lock_release(&j.lock);
    for (size_t i = 0; j.runs && i < j.n; i++) free(j.runs[i].argv);
    free(j.runs);
    hp__sweep_members_free(j.m, j.n);
    j.rec.grid = (hp__sweep_spec){0};
    hp__sweep_record_free(&j.rec);
    hp__sweep_spec_free(&j.spec);
    if (st != HP_OK || j.dry_run) return st;
    fflush(stdout);
    /* Ctrl-C first (the user stopped it), then failures, then members left pending */
    if (failed && !interrupted) {
        fprintf(stderr, "hpinn sweep: %zu of %zu members failed (their errors are above and in sweep.json)\n", failed,
                j.n);
        hp__cli_exit_code = 1;
        return HP_OK;
    }
    if (interrupted || pending) {
        fprintf(stderr, "hpinn sweep: %s; %zu member%s pending: run the same command again to resume\n",
                interrupted ? "interrupted" : "not finished", pending, pending == 1 ? "" : "s");
        hp__cli_exit_code = 130;
        return HP_OK;
    }
    return HP_OK;
}
