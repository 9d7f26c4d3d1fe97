/* cmd_run.c — `hpinn run CONFIG [--set K=V]... [--out DIR]` and
 * `hpinn run --resume DIR`: validate the pipeline, write config.resolved.yaml,
 * build the hybrid objective, train the stages, then write the fields and
 * summary.json. A resumed run reads DIR/config.resolved.yaml, so it trains
 * exactly the pipeline it started with.
 *
 * Ctrl-C (SIGINT) or SIGTERM asks the trainer to write a checkpoint at the
 * current iteration and stop; the command then exits with 130, the shell
 * convention for "interrupted", after printing how to continue. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cli.h"
#include "objective.h"
#include "outputs.h"
#include "pipeline.h"
#include "trainer.h"

/* hp_config_resolve refuses, before anything runs, a stage list the trainer could not hold */
_Static_assert(HP_CONFIG_MAX_STAGES <= HP_TRAINER_MAX_STAGES, "the config's stage limit exceeds the trainer's");

static volatile sig_atomic_t run_interrupt = 0;

static void on_signal(int sig) {
    (void)sig;
    run_interrupt = 1;
}

static hp_status write_resolved(const hp_config *c, const hp_registry *r, const char *source, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.resolved.yaml", dir);
    FILE *f = fopen(path, "w");
    if (!f) HP_ERROR(HP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    fprintf(f, "# resolved from %s by hpinn run; `hpinn run --resume %s` reads this file\n", source, dir);
    hp_status st = hp_config_resolve(c, r, f);
    if (fclose(f) != 0 && st == HP_OK) st = HP_ERROR_SET(HP_ERR_IO, "cannot write %s", path);
    return st;
}

hp_status hp_cmd_run(int argc, char **argv) {
    hp_cli_pipeline_args a;
    hp_status st = hp_cli_parse_pipeline_args(argc, argv, "out,resume,force", &a);
    hp_config *c = NULL;
    hp_registry *r = NULL;
    hp_params *out = NULL;
    hp_hybrid *h = NULL;
    double *theta = NULL;
    char dir[4096] = "", resolved[4200] = "";
    int interrupted = 0;
    struct sigaction old_int, old_term;
    int handlers = 0;

    if (st != HP_OK) goto done;
    if (a.resume) {
        if (a.config || a.n_sets || a.out_dir) {
            st = HP_ERROR_SET(HP_ERR_USAGE,
                              "run: --resume DIR takes no CONFIG, --set or --out: the run continues with "
                              "DIR/config.resolved.yaml as it started");
            goto done;
        }
        snprintf(dir, sizeof dir, "%s", a.resume);
        snprintf(resolved, sizeof resolved, "%s/config.resolved.yaml", dir);
        if (access(resolved, R_OK) != 0) {
            st = HP_ERROR_SET(HP_ERR_NOT_FOUND, "run --resume: %s: %s; expected the directory of an earlier hpinn run",
                              resolved, strerror(errno));
            goto done;
        }
        HP_CALL_GOTO(st, hp_config_load_file(resolved, &c), done);
    } else {
        HP_CALL_GOTO(st, hp_cli_load_config(&a, &c), done);
    }
    HP_CALL_GOTO(st, hp_registry_open(&r), done);
    HP_CALL_GOTO(st, hp_config_resolve(c, r, NULL), done);
    HP_CALL_GOTO(st, hp_config_check_run(c), done);
    if (!a.resume) {
        HP_CALL_GOTO(st, hp_config_section(c, "output", hp__output_params, &out), done);
        snprintf(dir, sizeof dir, "%s", a.out_dir ? a.out_dir : hp_params_string(out, "dir"));
        /* an earlier run's outputs are not overwritten by accident */
        char ck[4200];
        snprintf(ck, sizeof ck, "%s/%s", dir, HP_TRAINER_CHECKPOINT_FILE);
        if (access(ck, F_OK) == 0 && !a.force) {
            st = HP_ERROR_SET(HP_ERR_USAGE,
                              "run: %s holds an earlier run (%s); continue it with `hpinn run --resume %s`, "
                              "choose another --out, or pass --force to replace it",
                              dir, HP_TRAINER_CHECKPOINT_FILE, dir);
            goto done;
        }
        HP_CALL_GOTO(st, hp_cli_make_dirs(dir), done);
        HP_CALL_GOTO(st, write_resolved(c, r, a.config, dir), done);
        /* a checkpoint of the replaced run must not be resumed with this run's history */
        if (unlink(ck) == 0) fprintf(stderr, "hpinn run: replacing the earlier run in %s (--force)\n", dir);
    }

    HP_CALL_GOTO(st, hp_hybrid_create(c, r, stderr, dir, &h), done);
    size_t n = hp_hybrid_n_params(h);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof *theta, &theta), done);
    if (!a.resume) HP_CALL_GOTO(st, hp_hybrid_init_params(h, theta), done);
    fprintf(stderr, "hpinn run: %s -> %s (%zu parameters)\n", a.resume ? resolved : a.config, dir, n);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    handlers = 1;

    hp_trainer_options opt;
    memset(&opt, 0, sizeof opt);
    opt.out_dir = dir;
    opt.resume = a.resume != NULL;
    opt.log = stderr;
    opt.progress = isatty(STDERR_FILENO) ? HP_PROGRESS_TERMINAL : HP_PROGRESS_LINES;
    opt.interrupt = &run_interrupt;
    hp_trainer_result res;
    st = hp_train(c, r, h, theta, &opt, &res);
    interrupted = res.interrupted;
    if (st == HP_ERR_NUMERIC) {
        /* keep the message of the failure; the summary records it without final values */
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", hp_error_message());
        if (hp_outputs_write_summary(c, r, h, NULL, &res, dir) != HP_OK)
            fprintf(stderr, "hpinn run: also could not write summary.json: %s\n", hp_error_message());
        st = HP_ERROR_SET(HP_ERR_NUMERIC, "%s", msg);
        goto done;
    }
    if (st != HP_OK) goto done;
    if (!interrupted) HP_CALL_GOTO(st, hp_hybrid_write_fields(h, theta, dir), done);
    HP_CALL_GOTO(st, hp_outputs_write_summary(c, r, h, theta, &res, dir), done);
    if (interrupted) goto done;
    fprintf(stderr, "hpinn run: %s after %llu iterations in %.1f s (%.2f ms/iteration)\n", res.stop_reason,
            (unsigned long long)res.iterations, res.seconds, res.ms_per_iteration);
    printf("outputs in %s/: config.resolved.yaml history.csv fields.csv nodes.csv%s summary.json checkpoint.bin\n"
           "plots: hpinn plot %s\n",
           dir, hp_hybrid_dim(h) == 2 ? " fields.vtk nodes.vtk" : "", dir);

done:
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    free(theta);
    hp_hybrid_destroy(h);
    hp_params_destroy(out);
    hp_registry_close(r);
    hp_config_destroy(c);
    hp_cli_pipeline_args_free(&a);
    if (st == HP_OK && interrupted) {
        fflush(stdout); /* the trainer has said where the checkpoint is and how to continue */
        exit(130);
    }
    return st;
}
