/* cmd_run.c — `hpinn run CONFIG [--set K=V]... [--out DIR] [--force] [--label L]`
 * and `hpinn run --resume DIR [--set K=V]...`.
 *
 * The order matters, because a run directory must never lose a good run:
 *   1. load and resolve the pipeline; lock the run directory (one run at a time);
 *   2. validate everything: the pipeline, the problem (K > 0 and finite, ...), and
 *      on resume the checkpoint (its run, the pipeline it was trained with, the
 *      history it covers, the optimizer state);
 *   3. only then write: --force clears the earlier run's outputs, run.json and
 *      config.resolved.yaml are written, and training starts.
 * A resumed run reads DIR/config.resolved.yaml, so it trains the pipeline it
 * started with; --set on resume may only make the changes the resume rules
 * allow (extending the run), and the file is rewritten after they are checked.
 *
 * Ctrl-C (SIGINT) or SIGTERM asks the trainer to write a checkpoint at the
 * current iteration and stop; the command then exits with 130, the shell
 * convention for "interrupted", after printing how to continue. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "comm.h"
#include "events.h"
#include "fileio.h"
#include "hybrid.h"
#include "init_from.h"
#include "outputs.h"
#include "pipeline.h"
#include "run_dir.h"
#include "trainer.h"
#include "validation.h"

/* hp_config_resolve refuses, before anything runs, a stage list the trainer could not hold */
_Static_assert(HP_CONFIG_MAX_STAGES <= HP__TRAINER_MAX_STAGES, "the config's stage limit exceeds the trainer's");

static volatile sig_atomic_t run_interrupt = 0;

static void on_signal(int sig) {
    (void)sig;
    run_interrupt = 1;
}

/* The resolved pipeline as text (what config.resolved.yaml and checkpoints hold). */
static hp_status resolve_text(const hp_config *c, const hp_registry *r, char **text) {
    size_t len = 0;
    *text = NULL;
    FILE *mem = open_memstream(text, &len);
    if (!mem) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    hp_status st = hp_config_resolve(c, r, mem);
    fclose(mem);
    if (st != HP_OK) {
        free(*text);
        *text = NULL;
    }
    return st;
}

static hp_status write_resolved(const char *text, const char *source, const char *dir) {
    hp__out_file o;
    HP_CALL(hp__out_open(&o, dir, HP__RUN_CONFIG_FILE));
    fprintf(o.f, "# resolved from %s by hpinn run; `hpinn run --resume %s` reads this file\n%s", source, dir, text);
    HP_CALL(hp__out_commit(&o, NULL));
    return HP_OK;
}

typedef struct run_job {
    hp__cli_pipeline_args a;
    hp_config *c;
    hp_registry *r;
    hp__hybrid *h;
    hp__trainer *trainer;
    double *theta;
    char *text;          /* the resolved pipeline */
    char dir[HP__PATH_MAX];
    char source[HP__PATH_MAX + 64];
    char run_id[HP__RUN_ID_CHARS + 1];
    hp__run_lock lock;
    size_t notes;        /* registry notes printed so far */
    hp__run_record record;   /* run.json of a resumed run: its label and start overrides */
    char **meta_argv;        /* the program, then this command's arguments */
    const char **meta_sets;  /* the start's overrides, then this session's */
    hp__run_meta meta;       /* for summary.json */
    hp__init_from origin;     /* --init-from (or, on resume, run.json's record of it) */
    char origin_dir[1024];    /* "" when the run started from its own initialisation */
    char scratch[HP__PATH_MAX]; /* ranks > 0 of an mpirun run: their private copy of the directory */
} run_job;

/* `cp -a from/. to` or `rm -rf to` without a shell (paths are not quoted). */
static int run_tool(const char *tool, const char *a1, const char *a2, const char *a3) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execlp(tool, tool, a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Data-parallel runs: rank 0 alone writes the run directory. Every other rank
 * runs the same code on a private copy of it (in TMPDIR, removed at the end),
 * so that it reads what rank 0 reads (checkpoint, history, reference cache)
 * and its writes go nowhere. */
static hp_status use_scratch_copy(run_job *j) {
    const char *tmp = getenv("TMPDIR");
    /* mkdtemp(3) template: it replaces the six trailing X by a unique suffix */
    snprintf(j->scratch, sizeof j->scratch, "%s/hpinn-rank%d-XXXXXX", tmp && *tmp ? tmp : "/tmp", hp__comm_rank());
    if (!mkdtemp(j->scratch)) {
        int err = errno;
        j->scratch[0] = '\0';
        HP_ERROR(HP_ERR_IO, "cannot create this rank's scratch directory in %s: %s",
                 tmp && *tmp ? tmp : "/tmp", strerror(err));
    }
    struct stat sb;
    if (stat(j->dir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        char from[HP__PATH_MAX + 2];
        snprintf(from, sizeof from, "%s/.", j->dir);
        if (run_tool("cp", "-a", from, j->scratch) != 0)
            HP_ERROR(HP_ERR_IO, "cannot copy %s to this rank's scratch directory %s", j->dir, j->scratch);
    }
    snprintf(j->dir, sizeof j->dir, "%s", j->scratch);
    return HP_OK;
}

/* summary.json's record of how the run came about (outputs.h). */
static hp_status build_meta(run_job *j, int argc, char **argv) {
    if (j->a.resume) {
        hp_status st = hp__run_record_read(j->dir, &j->record);
        if (st != HP_OK) hp_error_clear(); /* run.json has the id (checked): the rest is only informative */
    }
    HP_CALL(hp_calloc((size_t)argc + 1, sizeof *j->meta_argv, &j->meta_argv));
    j->meta_argv[0] = (char *)(hp__cli_program ? hp__cli_program : "hpinn");
    for (int i = 0; i < argc; i++) j->meta_argv[i + 1] = argv[i];
    size_t n = j->record.n_overrides + j->a.n_sets;
    HP_CALL(hp_calloc(n + 1, sizeof *j->meta_sets, &j->meta_sets));
    for (size_t i = 0; i < j->record.n_overrides; i++) j->meta_sets[i] = j->record.overrides[i];
    for (size_t i = 0; i < j->a.n_sets; i++) j->meta_sets[j->record.n_overrides + i] = j->a.sets[i];
    j->meta = (hp__run_meta){argc + 1, j->meta_argv, j->meta_sets, n, j->a.resume ? j->record.label : j->a.label,
                             j->a.resume != NULL};
    return HP_OK;
}

/* Steps 1 and 2: everything that can refuse the run, writing nothing. */
static hp_status prepare(run_job *j, int argc, char **argv) {
    hp__cli_pipeline_args *a = &j->a;
    if (a->resume) {
        if (a->init_from)
            HP_ERROR(HP_ERR_USAGE, "run: --init-from starts a new run from another run's parameters; --resume "
                                   "continues DIR itself: use one of them");
        if (a->config || a->out_dir || a->force || a->label)
            HP_ERROR(HP_ERR_USAGE, "run: --resume DIR takes no CONFIG, --out, --force or --label: the run continues "
                                   "in DIR with DIR/config.resolved.yaml (--set may extend it: see `hpinn help run`)");
        snprintf(j->dir, sizeof j->dir, "%s", a->resume);
        HP_CALL(hp__path_join(j->source, sizeof j->source, j->dir, HP__RUN_CONFIG_FILE));
        if (access(j->source, R_OK) != 0)
            HP_ERROR(HP_ERR_NOT_FOUND, "run --resume: %s: %s; expected the directory of an earlier hpinn run", j->source,
                     strerror(errno));
        a->config = j->source; /* --set applies to the run's own resolved pipeline */
    }
    HP_CALL(hp__cli_load_config(a, &j->c));
    HP_CALL(hp_registry_open(&j->r));
    HP_CALL(resolve_text(j->c, j->r, &j->text));
    HP_CALL(hp__pipeline_validate(j->c, j->r)); /* exactly what `hpinn check` refuses */
    hp__cli_print_registry_notes(j->r, &j->notes); /* the plugins are chosen now */
    if (!a->resume) {
        hp_params *out = NULL;
        HP_CALL(hp_config_section(j->c, "output", hp__output_params, &out));
        snprintf(j->dir, sizeof j->dir, "%s", a->out_dir ? a->out_dir : hp_params_is_set(out, "dir") ? hp_params_string(out, "dir") : "runs/default");
        hp_params_destroy(out);
        snprintf(j->source, sizeof j->source, "%s", a->config);
    }
    if (hp__comm_data_parallel() && hp__comm_rank() > 0) HP_CALL(use_scratch_copy(j));
    HP_CALL(hp__cli_make_dirs(j->dir));
    HP_CALL(hp__run_lock_acquire(j->dir, &j->lock));
    if (a->resume) {
        hp_status st = hp__run_info_read_id(j->dir, j->run_id);
        if (st == HP_ERR_NOT_FOUND)
            HP_ERROR(HP_ERR_CORRUPT, "cannot resume %s: %s is missing, so nothing ties the checkpoint there to this "
                                     "run; a run directory of this hpinn version always has one", j->dir,
                     HP__RUN_INFO_FILE);
        HP_CALL(st);
    } else {
        if (hp__run_dir_has_run(j->dir) && !a->force)
            HP_ERROR(HP_ERR_USAGE, "run: %s holds an earlier run; continue it with `hpinn run --resume %s`, choose "
                                   "another --out, or pass --force to replace it",
                     j->dir, j->dir);
        HP_CALL(hp__run_id_new(j->run_id));
    }
    HP_CALL(build_meta(j, argc, argv));
    HP_CALL(hp__hybrid_create(j->c, j->r, stderr, j->dir, &j->h));
    hp__warnings setup = {0}; /* before hours of training, not only in the summary */
    hp__hybrid_diagnose_setup(j->h, &setup);
    for (int i = 0; i < setup.n && hp__comm_rank() == 0; i++) fprintf(stderr, "hpinn run: warning: %s\n", setup.text[i]);
    size_t n = hp__hybrid_n_params(j->h);
    HP_CALL(hp_calloc(n, sizeof *j->theta, &j->theta));
    if (!a->resume) HP_CALL(hp__hybrid_init_params(j->h, j->theta));
    if (a->init_from) { /* a new run, iteration 0, with another run's θ (not a resume) */
        HP_CALL(hp__init_from_run(a->init_from, j->text, j->r, j->h, j->theta, &j->origin, stderr));
        snprintf(j->origin_dir, sizeof j->origin_dir, "%s", a->init_from);
    } else if (a->resume) {
        unsigned long long it = 0;
        if (hp__run_info_read_init_from(j->dir, j->origin_dir, sizeof j->origin_dir, j->origin.run_id, &it))
            j->origin.iteration = it;
    }
    return HP_OK;
}

static void job_free(run_job *j) {
    hp__trainer_destroy(j->trainer);
    free(j->theta);
    free(j->text);
    hp__hybrid_destroy(j->h);
    hp_registry_close(j->r);
    hp_config_destroy(j->c);
    hp__run_lock_release(&j->lock);
    hp__run_record_free(&j->record);
    free(j->meta_argv);
    free(j->meta_sets);
    hp__cli_pipeline_args_free(&j->a);
    if (j->scratch[0]) (void)run_tool("rm", "-rf", j->scratch, NULL);
}

/* The final numbers on stdout: the error, the fine residual against the
 * training loss, and K̃ against its reference (named). */
static void print_outcome(const hp__run_outcome *o) {
    printf("result: relative L2 error ");
    if (isnan(o->rel_l2)) printf("- (no reference)");
    else printf("%.3g", o->rel_l2);
    for (int i = 0; o->n_directions > 1 && i < o->n_directions; i++)
        printf("%s%.3g%s", i ? ", " : " (directions ", o->rel_l2_direction[i], i + 1 == o->n_directions ? ")" : "");
    printf(", J_pinn %.3g, fine residual %.3g\nK~ = ", o->j_pinn, o->fine_residual);
    int d = o->n_ktilde == 4 ? 2 : 1;
    if (d == 1) printf("%.6g", o->ktilde[0]);
    else printf("[[%.6g, %.6g], [%.6g, %.6g]]", o->ktilde[0], o->ktilde[1], o->ktilde[2], o->ktilde[3]);
    if (o->n_ktilde_reference == 1) printf(" (%sreference %.6g", d == 2 ? "K~11 " : "", o->ktilde_reference[0]);
    else if (o->n_ktilde_reference == 4)
        printf(" (reference [[%.6g, %.6g], [%.6g, %.6g]]", o->ktilde_reference[0], o->ktilde_reference[1],
               o->ktilde_reference[2], o->ktilde_reference[3]);
    if (o->n_ktilde_reference) printf(", %s)", o->reference_label ? o->reference_label : "");
    printf("\n");
}

/* The closing lines of events.jsonl: the run's warnings, then `summary` (the
 * last line of a session that wrote summary.json). */
static void summary_event(run_job *j, const hp__run_outcome *o, const hp__trainer_result *res) {
    hp__events *e = hp__trainer_events(j->trainer);
    if (!e) return;
    double el = hp__trainer_elapsed(j->trainer);
    for (int i = 0; o && i < o->warnings.n; i++) {
        hp__events_begin(e, "warning", el);
        hp__events_str(e, "key", o->warnings.key[i]);
        hp__events_str(e, "message", o->warnings.text[i]);
        if (hp__events_end(e) != HP_OK) hp_error_clear(); /* the log is not worth failing a finished run */
    }
    hp__events_begin(e, "summary", el);
    hp__events_str(e, "file", HP__OUTPUTS_SUMMARY_FILE);
    hp__events_bool(e, "completed", res->completed);
    hp__events_str(e, "stop_reason", res->stop_reason);
    hp__events_num(e, "rel_l2", o ? o->rel_l2 : NAN);
    if (hp__events_end(e) != HP_OK) hp_error_clear();
}

/* The end of a run: fields and the summary; a failed run gets a summary that
 * says how it failed (no final values), and keeps its last good checkpoint. */
static hp_status finish(run_job *j, hp_status st, const hp__trainer_result *res) {
    if (st == HP_ERR_NUMERIC) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", hp_error_message());
        if (hp__outputs_write_summary(j->c, j->r, j->h, NULL, res, &j->meta, j->dir, NULL) != HP_OK)
            fprintf(stderr, "hpinn run: also could not write summary.json: %s\n", hp_error_message());
        else
            summary_event(j, NULL, res);
        return HP_ERROR_SET(HP_ERR_NUMERIC, "%s", msg);
    }
    if (st != HP_OK || res->abandoned) return st;
    if (!res->interrupted) HP_CALL(hp__outputs_write_fields(j->h, j->theta, j->dir));
    hp__run_outcome outcome;
    HP_CALL(hp__outputs_write_summary(j->c, j->r, j->h, j->theta, res, &j->meta, j->dir, &outcome));
    for (int i = 0; i < outcome.warnings.n; i++) fprintf(stderr, "hpinn run: warning: %s\n", outcome.warnings.text[i]);
    summary_event(j, &outcome, res);
    if (res->interrupted) return HP_OK;
    /* "completed; stage 0: ..." reads "completed after N iterations ...; stage 0: ...". A
     * resumed run has two bases: the whole run (all sessions) and this session, each labelled. */
    const char *stages = strchr(res->stop_reason, ';');
    int head = stages ? (int)(stages - res->stop_reason) : (int)strlen(res->stop_reason);
    int dw = res->seconds < 10.0 ? 2 : 1; /* decimals that show a short run's time */
    if (res->session_iterations && res->session_iterations != res->iterations)
        fprintf(stderr, "hpinn run: %.*s; the whole run: %llu iterations in %.*f s; this session: %llu iterations in "
                        "%.*f s (%.2f ms/iteration)", head, res->stop_reason, (unsigned long long)res->iterations, dw,
                res->seconds, (unsigned long long)res->session_iterations, dw, res->session_seconds,
                1e3 * res->session_seconds / (double)res->session_iterations);
    else
        fprintf(stderr, "hpinn run: %.*s after %llu iterations in %.*f s (%.2f ms/iteration)", head, res->stop_reason,
                (unsigned long long)res->iterations, dw, res->seconds,
                res->session_iterations ? 1e3 * res->session_seconds / (double)res->session_iterations : 0.0);
    fprintf(stderr, "%s\n", stages ? stages : "");
    print_outcome(&outcome);
    printf("outputs in %s/: config.resolved.yaml run.json history.csv events.jsonl fields.csv nodes.csv%s summary.json "
           "checkpoint.bin\nplots: hpinn plot %s\n",
           j->dir, hp__hybrid_dim(j->h) == 2 ? " fields.vtk nodes.vtk" : "", j->dir);
    return HP_OK;
}

hp_status hp__cmd_run(int argc, char **argv) {
    run_job j;
    memset(&j, 0, sizeof j);
    j.lock.fd = -1;
    hp__trainer_result res;
    memset(&res, 0, sizeof res);
    int interrupted = 0, handlers = 0;
    hp__cli_signals saved_signals;
    hp_status st = hp__cli_parse_pipeline_args(argc, argv, "out,resume,force,label,init-from", &j.a);
    if (st == HP_OK) st = prepare(&j, argc, argv);

    hp__trainer_options opt;
    memset(&opt, 0, sizeof opt);
    opt.out_dir = j.dir;
    opt.run_id = j.run_id;
    opt.config_text = j.text;
    opt.config_source = j.a.resume ? NULL : j.a.config;
    opt.init_from = j.origin_dir[0] ? j.origin_dir : NULL;
    opt.init_from_run_id = j.origin.run_id;
    opt.init_from_iteration = j.origin.iteration;
    opt.resume = j.a.resume != NULL;
    opt.log = stderr;
    opt.progress = isatty(STDERR_FILENO) ? HP__PROGRESS_TERMINAL : HP__PROGRESS_LINES;
    opt.interrupt = &run_interrupt;
    hp_objective objective;
    if (st == HP_OK) {
        objective = hp__hybrid_objective(j.h);
        st = hp__trainer_create(j.c, j.r, j.h, &objective, j.theta, &opt, &j.trainer);
    }
    /* step 3: every check passed; now the directory is written */
    if (st == HP_OK && !j.a.resume) {
        if (j.a.force && hp__run_dir_has_run(j.dir)) {
            fprintf(stderr, "hpinn run: replacing the earlier run in %s (--force)\n", j.dir);
            st = hp__run_dir_clear(j.dir);
        }
        hp__run_info info = {j.run_id, j.a.config, j.a.label, opt.init_from, j.origin.run_id, j.origin.iteration,
                             argc, argv, j.a.sets, j.a.n_sets};
        if (st == HP_OK) st = hp__run_info_write(j.dir, &info);
        if (st == HP_OK) st = write_resolved(j.text, j.a.config, j.dir);
    } else if (st == HP_OK && j.a.n_sets) {
        st = write_resolved(j.text, j.source, j.dir); /* the extension the resume rules accepted */
    }
    if (st == HP_OK && hp__trainer_nothing_to_do(j.trainer)) {
        fprintf(stderr, "hpinn run: %s is complete; nothing to resume (to extend it, add a stage or raise the last "
                        "stage's iterations with --set)\n", j.dir);
        goto done;
    }
    if (st == HP_OK) {
        fprintf(stderr, "hpinn run: %s -> %s (%zu parameters)\n", j.source, j.dir, hp__hybrid_n_params(j.h));
        hp__cli_catch_stop_signals(on_signal, &saved_signals);
        handlers = 1;
        st = hp__trainer_run(j.trainer, &res);
        hp__cli_print_registry_notes(j.r, &j.notes);
        interrupted = res.interrupted;
        st = finish(&j, st, &res);
    }
done:
    if (handlers) {
        hp__cli_restore_signals(&saved_signals);
    }
    job_free(&j);
    if (st == HP_OK && interrupted) {
        fflush(stdout); /* the trainer has said where the checkpoint is and how to continue */
        hp__comm_finalize();
        exit(130);
    }
    return st;
}
