/* main.c — the hpinn command: dispatch, help, --version, and the one place where
 * a status becomes an exit code (0 success, 2 user error, 1 internal failure). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "comm.h"
#include "hpinn/hpinn.h"
#include "machine.h"
#include "pipeline.h"

static hp_status cmd_help(int argc, char **argv);
static hp_status cmd_version(int argc, char **argv);

const hp__cli_command hp__cli_commands[] = {
    {"plugins", "plugins [NAME]", "list the plugins found, or the parameters of one",
     "Without NAME: a table of every plugin found on the search path (kind, name,\n"
     "version, summary, file), followed by any plugin file that could not be loaded\n"
     "and why. With NAME: that plugin's parameters with type, default, bounds and doc.\n"
     "The search path is HPINN_PLUGIN_PATH (colon-separated, absolute paths only),\n"
     "then the plugin directory next to libhpinn, then the install prefix. Listing\n"
     "opens every plugin file; check and run open only the plugins they name.\n"
     "World-writable files or directories, and those of other users, are refused.\n",
     hp__cmd_plugins},
    {"check", "check CONFIG [--gradient] [--set KEY=VALUE]...", "validate a pipeline and print it resolved",
     "Loads CONFIG, applies the overrides, validates every section against its\n"
     "parameter table (plugins are looked up on the search path) and prints the\n"
     "resolved pipeline with every default filled in. Errors name FILE:LINE:COL, the\n"
     "key, what was wrong and what is expected; the exit code is then 2. Whatever\n"
     "`run` refuses before training (no network: section, no stages, more than 64\n"
     "stages or constants), check refuses with the same message.\n"
     "--gradient: instead of printing, build the hybrid objective and compare its\n"
     "gradient at the initial parameters with central finite differences on a random\n"
     "subset of parameters; prints the worst relative error (exit 1 above 1e-5).\n",
     hp__cmd_check},
    {"run", "run CONFIG [--set K=V]... [--out DIR] [--force] [--init-from RUN]",
     "train a pipeline (run --resume DIR continues one)",
     "Validates CONFIG like `check`, writes the resolved configuration to the output\n"
     "directory (output.dir, or --out DIR), builds the hybrid objective and trains the\n"
     "stages. --set KEY=VALUE overrides any value, e.g. --set network.width=50\n"
     "--set stages[0].iterations=100.\n\n"
     "The run directory receives history.csv (a row every output.log_every\n"
     "iterations), checkpoint.bin (every output.checkpoint_every iterations and at the\n"
     "end), and at the end fields.csv, nodes.csv (2-D: also .vtk) and summary.json.\n"
     "Progress goes to stderr: one line redrawn in place on a terminal, plain lines\n"
     "otherwise.\n\n"
     "An output directory that holds an earlier run (checkpoint.bin) is refused\n"
     "(exit 2) unless --force replaces it.\n\n"
     "--resume DIR continues the run in DIR from its last checkpoint with\n"
     "DIR/config.resolved.yaml; the history then matches an uninterrupted run.\n"
     "On resume, --set may extend a run: more iterations for the current or a later\n"
     "stage, or a stage appended (--set 'stages[N]={iterations: 100, optimizer:\n"
     "{plugin: lm}}' with N the number of stages); other changes are refused.\n\n"
     "--init-from RUN starts a new run (its own run id, iteration 0, fresh optimizers)\n"
     "from the trained parameters of RUN's checkpoint, when the networks match: the\n"
     "same network plugin, number of directions and parameter layout, and the same\n"
     "function of the parameters; otherwise it is refused naming what differs.\n"
     "run.json and summary.json record it (init_from).\n"
     "Ctrl-C writes a checkpoint and stops (exit 130). A non-finite loss stops the\n"
     "run (exit 1) and keeps the last good checkpoint.\n",
     hp__cmd_run},
    {"upscale", "upscale CONFIG [--set KEY=VALUE]... [--out DIR] [-v]", "reference K̃ from fine FEM solves",
     "Solves the fine-scale direction problems of the pipeline's problem section with\n"
     "the P1 plugin on each mesh of upscale.fine_elements, computes K̃ with the\n"
     "pipeline's upscaling strategy (and the global tensor beside a block-wise one),\n"
     "prints a table with the change and observed order under refinement, and writes\n"
     "ktilde.csv and the fine solutions (CSV; 2-D also legacy VTK) to output.dir.\n"
     "upscale.quadrature_rule: nodal reproduces the paper's 1-D reference values.\n"
     "The table goes to stdout; progress messages go to stderr when it is a terminal,\n"
     "or always with -v (--verbose).\n",
     hp__cmd_upscale},
    {"eval", "eval RUN (--points FILE | --grid N | --nodes) [--derivatives] [--out FILE]",
     "evaluate a run's trained networks at points (CSV, 2-D grid also VTK)",
     "Evaluates the networks of RUN (a run directory: its checkpoint.bin and the\n"
     "pipeline it was trained with; a run in progress or interrupted works too) at\n"
     "the points of FILE (CSV: one column per coordinate, x or x,y, or a header that\n"
     "names columns x and y, so a run's fields.csv works), on a grid of N points per\n"
     "axis on [0,1] (x fastest), or at the coarse nodes. Per direction i: v_i, with\n"
     "--derivatives also its gradient (dv_i_dx, dv_i_dy) and Laplacian (lap_v_i),\n"
     "then the compressed network Qv_i and the coarse solution y_i as P1 functions\n"
     "(nan when K~ is not positive definite). CSV to stdout, or to --out FILE; with\n"
     "--grid in 2-D also FILE with the extension .vtk (legacy VTK for ParaView).\n"
     "A directory without checkpoint, points outside [0,1]^d or a wrong number of\n"
     "columns are errors (exit 2).\n",
     hp__cmd_eval},
    {"plot", "plot DIR [--format png|svg|pdf] [--watch]", "draw the figures of a run directory (gnuplot)",
     "Writes figures into DIR/plots/ with gnuplot (--format: png, the default;\n"
     "svg or pdf for vector output):\n"
     "  losses    Ĵ with τ1·B, τ2·R (and τ3·A) as they enter it, the relative L2\n"
     "            error, the residual on the validation grid and J_pinn, vs\n"
     "            iteration (log axes)\n"
     "  ktilde    K̃ entries vs iteration, and |K̃ − K̃_ref| with the reference named\n"
     "  solution  network vs reference and the pointwise error (fields.csv)\n"
     "  coarse    the network on the validation grid, Q̄v at the coarse nodes and\n"
     "            the coarse solution y_h (nodes.csv)\n"
     "Stage boundaries are marked and listed with their optimizer and τ2; 2-D fields\n"
     "are square viridis maps. The gnuplot script stays as DIR/plots/plots.gp: edit\n"
     "it and run `gnuplot plots/plots.gp` in DIR.\n\n"
     "--watch redraws whenever the history grows (checked every --interval S\n"
     "seconds, default 5) until the run in DIR ends, then draws the final figures\n"
     "and exits 0; Ctrl-C stops watching (exit 130). On a finished run it draws once.\n\n"
     "A directory without config.resolved.yaml and history.csv is refused (exit 2).\n"
     "Needs gnuplot (Debian package gnuplot-nox); without it the exit code is 1.\n",
     hp__cmd_plot},
    {"sweep", "sweep CONFIG --set K=V1,V2,... --out DIR",
     "train a grid of runs (parallel, resumable)",
     "options: [--set KEY=V1,V2,...]... [--seeds 1,2,3] --out DIR [--jobs N]\n"
     "         [--retry-failed] [--dry-run]\n\n"
     "Trains one run per combination of the values (the cartesian product) into\n"
     "DIR/<member>, an ordinary run directory named by the values that differ\n"
     "(coupling.tau2=10_seed=2), and lists the members in DIR/sweep.json (directory,\n"
     "overrides, status done/failed/pending/running, exit code, last error).\n"
     "--set KEY=V1,V2,... gives the values of a key (commas inside [...], {...}, (...)\n"
     "or quotes do not split: --set 'upscale.fine_elements=[1,2],[4,8]'); a --set with\n"
     "one value applies to every member. --seeds 1,2,3 is the key network.seed, which\n"
     "varies fastest. The pipeline's sweep: section says the same (sweep: {grid:\n"
     "{coupling.tau2: [0, 10]}, seeds: [1, 2], jobs: 2, out: DIR}); the command line\n"
     "adds keys and replaces the ones it repeats. run and check accept the section;\n"
     "check validates it (keys, and every value as run would).\n\n"
     "Each member is `hpinn run` (this binary) in a child process writing to\n"
     "DIR/<member>/hpinn.log; the sweep prints a line when a member starts and ends.\n"
     "--jobs N runs N members at once (default: one per CPU, at most the members left);\n"
     "each gets network.threads and OPENBLAS_NUM_THREADS = CPUs / jobs (at least 1),\n"
     "unless the sweep sets network.threads or OPENBLAS_NUM_THREADS is set already.\n\n"
     "The same command continues a sweep: completed members are skipped, interrupted\n"
     "ones resumed from their checkpoint, failed ones kept unless --retry-failed\n"
     "(which starts them again). A grid or pipeline that differs from DIR/sweep.json\n"
     "is refused (exit 2). --dry-run prints the plan and runs nothing. Exit codes: 0\n"
     "every member completed; 1 a member failed (the others still ran); 130 Ctrl-C\n"
     "(running members write a checkpoint; the same command resumes them).\n",
     hp__cmd_sweep},
    {"compare", "compare RUN_OR_SWEEP... [--format F] [--plot DIR]",
     "compare runs and sweeps in one table",
     "options: [--format text|csv|md|json] [--group|--no-group] [--plot DIR]\n"
     "         [--thresholds 1e-1,1e-2,1e-3]\n\n"
     "One row per run; a sweep directory stands for its members. Columns: label\n"
     "(run.json's, else the directory name), status, the keys of\n"
     "config.resolved.yaml whose values differ between the runs (not output.dir or\n"
     "network.threads), final relative L2 error (and the worst direction's, when a\n"
     "run has two), fine residual, K~ (block 0, first\n"
     "entry) and its relative error against the reference in summary.json, J_pinn,\n"
     "iterations, wall time, and the wall time to first reach rel. L2 1e-1, 1e-2 and\n"
     "1e-3 (history.csv; '-': never; --thresholds A,B,... others). A run without\n"
     "summary.json (failed, interrupted) shows the last row of its history.csv.\n"
     "When network.seed differs, the runs that differ in nothing else make one row:\n"
     "the number of seeds and the median [min, max] of each number (--no-group: one\n"
     "row per run; --group: group even when the seeds do not differ).\n"
     "--format: text (aligned, split to fit the terminal; the default), csv, md, json.\n"
     "--plot DIR: PNG figures (gnuplot; Debian package gnuplot-nox): rel. L2 and\n"
     "J_pinn against iteration and against time, one curve per row (a group's\n"
     "median), and the final error against the swept value when exactly one key\n"
     "besides the seed differs; the script stays in DIR/compare.gp.\n",
     hp__cmd_compare},
    {"help", "help [COMMAND]", "show help for hpinn or one command", "Shows the commands, or one command's help.\n",
     cmd_help},
    {"--version", "--version", "print the version and the plugin ABI version", "Prints the version.\n",
     cmd_version},
    {NULL, NULL, NULL, NULL, NULL}};

static const hp__cli_command *find_command(const char *name) {
    for (const hp__cli_command *c = hp__cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

static void usage(FILE *out) {
    fprintf(out,
            "hpinn %s — hybrid physics-informed neural network / finite-element multiscale solver\n\n"
            "usage: hpinn COMMAND [ARGS]\n\ncommands:\n",
            hp_version());
    for (const hp__cli_command *c = hp__cli_commands; c->name; c++)
        fprintf(out, "  %-46s %s\n", c->synopsis, c->summary);
    fprintf(out, "\nexit codes: 0 success, 2 user error (config, arguments, unknown plugin), 1 failure.\n"
                 "`hpinn help COMMAND` shows more, `hpinn help pipeline` the pipeline sections;\n"
                 "docs/ has the user guide.\n");
}

/* `hpinn help pipeline`: the sections and the core tables, as the reference. */
static void print_pipeline_reference(void) {
    printf("A pipeline is a YAML mapping of these sections:\n\n");
    for (const hp__section_def *s = hp__pipeline_sections; s->name; s++) {
        printf("%s: %s", s->name, s->doc);
        if (s->kind == HP__SECTION_PLUGIN)
            printf(" — plugin: <%s plugin>%s%s%s, then that plugin's parameters (hpinn plugins NAME)",
                   hp_plugin_kind_name(s->plugin_kind), s->default_plugin ? " (default " : "",
                   s->default_plugin ? s->default_plugin : "", s->default_plugin ? ")" : "");
        if (s->kind == HP__SECTION_STAGES)
            printf(" — a list; each entry has the keys below and optimizer: {plugin: <name> (default %s), ...}",
                   s->default_plugin);
        printf("\n");
        for (const hp_param_def *p = s->table; p && p->name; p++)
            printf("  %-28s %-8s %-12s %s\n", p->name, hp_param_type_name(p->type),
                   p->default_value ? p->default_value : ((p->flags & HP_PARAM_REQUIRED) ? "(required)" : "(unset)"),
                   p->doc);
        printf("\n");
    }
}

static hp_status cmd_help(int argc, char **argv) {
    if (argc < 2) {
        usage(stdout);
        return HP_OK;
    }
    if (strcmp(argv[1], "pipeline") == 0) {
        print_pipeline_reference();
        return HP_OK;
    }
    const hp__cli_command *c = find_command(argv[1]);
    if (!c) HP_ERROR(HP_ERR_USAGE, "help: unknown command '%s'; expected one of the commands `hpinn help` lists", argv[1]);
    printf("usage: hpinn %s\n\n%s", c->synopsis, c->help);
    return HP_OK;
}

static hp_status cmd_version(int argc, char **argv) {
    if (argc > 1) HP_ERROR(HP_ERR_USAGE, "--version takes no arguments");
    printf("hpinn %s (plugin ABI %u)\ngit commit: %s\nBLAS: %s\n", hp_version(), hp_abi_version(), hp__git_commit(),
           hp_blas_info());
    return HP_OK;
}

/* What a command prints waits in stdout's buffer: a full disk or a closed stdout
 * shows only when it is flushed, after the command has returned. Checked once
 * here for every command, so that none reports success for output that was lost. */
static hp_status check_stdout(hp_status st) {
    errno = 0;
    int failed = fflush(stdout) != 0;
    int err = errno;
    if (!failed && !ferror(stdout)) return st;
    if (st != HP_OK) return st; /* the command's own error comes first */
    return hp_error_set(HP_ERR_IO, __FILE__, __LINE__, __func__, "cannot write to standard output: %s",
                        err ? strerror(err) : "write error");
}

const char *hp__cli_program = NULL;
int hp__cli_exit_code = 0;

/* Ranks other than 0 of an mpirun run print nothing: rank 0 speaks for all,
 * and an error on another rank reaches it through the checked collectives. */
static hp_status start_ranks(int *argc, char ***argv) {
    HP_CALL(hp__comm_init(argc, argv));
    if (hp__comm_rank() > 0 && !getenv("HPINN_RANK_OUTPUT")) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            HP_ERROR(HP_ERR_IO, "rank %d: cannot silence its output", hp__comm_rank());
    }
    return HP_OK;
}

/* The last collective of every rank: a failure on one rank the others have
 * not seen (they finished) becomes theirs too, so that all exit alike. */
static int finish_ranks(hp_status st) {
    if (hp__comm_size() > 1 && !hp__comm_failure_is_shared()) st = hp__comm_agree(st);
    int code = hp__cli_exit_code;
    if (st != HP_OK) {
        fprintf(stderr, "hpinn: error: %s\n", hp_error_message());
        int user = hp_status_is_user_error(st);
        if (!user || getenv("HPINN_DEBUG")) fprintf(stderr, "(%s)\n%s", hp_status_name(st), hp_error_trace());
        code = user ? 2 : 1;
    }
    fflush(stdout);
    fflush(stderr);
    hp__comm_finalize();
    return code;
}

int hp_cli_main(int argc, char **argv) {
    if (argc > 0) hp__blas_kernel_check(argv); /* first: it may execute hpinn again */
    hp__cli_program = argc > 0 ? argv[0] : NULL;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) name = "help";
    if (strcmp(name, "-V") == 0 || strcmp(name, "version") == 0) name = "--version";
    const hp__cli_command *c = find_command(name);
    if (!c) {
        fprintf(stderr, "hpinn: error: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    hp_status st = start_ranks(&argc, &argv);
    if (st == HP_OK) st = check_stdout(c->run(argc - 1, argv + 1));
    return finish_ranks(st);
}
