/* cli.h (private to the hpinn command) — the command table and the helpers the
 * commands share: argument parsing for --set/--out, loading a pipeline with its
 * overrides, and the mapping of a status to the process exit code. */
#ifndef HPINN_CLI_H
#define HPINN_CLI_H

#include <stddef.h>

#include <signal.h>
#include <sys/types.h>

#include "hpinn/config.h"
#include "hpinn/registry.h"
#include "hpinn/status.h"

typedef struct hp__cli_command {
    const char *name;
    const char *synopsis;   /* "check CONFIG [--set k=v]..." */
    const char *summary;    /* one line */
    const char *help;       /* full text for `hpinn help NAME` */
    hp_status (*run)(int argc, char **argv); /* argv[0] is the command name */
} hp__cli_command;

extern const hp__cli_command hp__cli_commands[];

/* argv[0] of the hpinn process (NULL before hp_cli_main): recorded in summary.json. */
extern const char *hp__cli_program;

/* Common options of commands that take a pipeline. */
typedef struct hp__cli_pipeline_args {
    const char *config;
    const char *out_dir;
    const char **sets;
    size_t n_sets;
    int gradient;      /* check --gradient */
    const char *resume;
    int force;         /* run --force: replace an earlier run in the output directory */
    const char *label; /* run --label: a name for the run in run.json, summaries and comparisons */
    int verbose;       /* upscale -v: progress messages also when stderr is not a terminal */
    const char *init_from; /* run --init-from RUN: the initial θ is that run's (init_from.h) */
} hp__cli_pipeline_args;

/* Parse CONFIG [--set k=v]... [--out DIR] (+ flags listed in `allowed`, e.g.
 * "out,gradient,resume"). Unknown options are HP_ERR_USAGE. */
hp_status hp__cli_parse_pipeline_args(int argc, char **argv, const char *allowed, hp__cli_pipeline_args *a);
void hp__cli_pipeline_args_free(hp__cli_pipeline_args *a);

/* Wait for the gnuplot child `pid` rendering `script`; a failure (exit code or
 * signal) is HP_ERR_IO naming both, after gnuplot's own messages on stderr. */
hp_status hp__cli_wait_gnuplot(pid_t pid, const char *command, const char *script);

/* A command that succeeded but must exit with another code (sweep: 1 when a
 * member failed, 130 when interrupted) sets it; 0 otherwise. Main returns it
 * after the ranks of an mpirun run have finished together. */
extern int hp__cli_exit_code;

/* SIGINT and SIGTERM to `handler` (the commands that stop cleanly on Ctrl-C),
 * and back to what they were. */
typedef struct hp__cli_signals {
    struct sigaction old_int, old_term;
} hp__cli_signals;
void hp__cli_catch_stop_signals(void (*handler)(int), hp__cli_signals *saved);
void hp__cli_restore_signals(const hp__cli_signals *saved);

/* mkdir -p (HP_ERR_IO naming the directory that could not be created). */
hp_status hp__cli_make_dirs(const char *path);

/* Print the registry's notes not printed yet to stderr (*shown counts them;
 * start at 0): relative HPINN_PLUGIN_PATH entries, shadowed built-in plugins.
 * Commands call it once their plugins are looked up, and before closing. */
void hp__cli_print_registry_notes(const hp_registry *r, size_t *shown);

/* Load the pipeline and apply the overrides. */
hp_status hp__cli_load_config(const hp__cli_pipeline_args *a, hp_config **out);

/* The CPU features behind the choice of an OpenBLAS kernel (blas_kernel.c). */
typedef struct hp__cpu_features {
    int avx2, fma, avx512f, avx512vl, avx512bw, avx512dq, avx512cd;
} hp__cpu_features;
/* The kernel to use instead of the one OpenBLAS chose (corename), or NULL to
 * keep it: only its generic Prescott fallback on a CPU with AVX2 and FMA. */
const char *hp__blas_kernel_fallback(const char *corename, const hp__cpu_features *cpu);
/* When that applies and the environment chooses no kernel: set
 * OPENBLAS_CORETYPE and execute the program again; returns when not. */
void hp__blas_kernel_check(char **argv);

hp_status hp__cmd_plugins(int argc, char **argv);
hp_status hp__cmd_check(int argc, char **argv);
hp_status hp__cmd_run(int argc, char **argv);
hp_status hp__cmd_plot(int argc, char **argv);
hp_status hp__cmd_upscale(int argc, char **argv);
hp_status hp__cmd_sweep(int argc, char **argv);
hp_status hp__cmd_compare(int argc, char **argv);
hp_status hp__cmd_eval(int argc, char **argv);

#endif
