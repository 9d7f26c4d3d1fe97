/* cmd_plot.c — `hpinn plot DIR [--format png|svg|pdf] [--watch [--interval S]]`:
 * the figures of a run directory, drawn by gnuplot from a script that stays
 * beside them (DIR/plots/plots.gp) for the user to edit and rerun.
 *
 *   losses.png    Ĵ and its weighted terms (τ1·B, τ2·R), the relative L2 error
 *                 and the PDE residual (validation grid and collocation points)
 *                 vs iteration, on separate log panels, stage boundaries named
 *   ktilde.png    K̃ entries vs iteration and |K̃ − K̃_ref| on a log axis, the
 *                 reference named (summary.json)
 *   solution.png  network vs reference and the pointwise error (fields.csv)
 *   coarse.png    network, Q̄v at the coarse nodes and y_h (nodes.csv)
 * (plot_script.c, plot_fields.c; what is read: plot_data.c.)
 *
 * Every drawing goes through a snapshot: the complete lines of history.csv are
 * copied into DIR/plots/.render/ and gnuplot writes the figures there; they are
 * then renamed over the old ones. A run that is still writing its history, or
 * an image viewer reloading a figure, never sees half a row or half a file.
 *
 * --watch redraws whenever the history grows, until the run holding the
 * directory's lock (run_dir.h) ends; then it draws the final figures and exits
 * 0. Ctrl-C stops watching (exit 130). gnuplot runs in its own process group,
 * so the Ctrl-C of the terminal never interrupts it in the middle of a file. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"
#include "plot.h"
#include "run_dir.h"

typedef struct plot_job {
    const char *dir;
    const char *gnuplot;
    hp__plot_format format;
    int png_cairo;
    int watch;
    double interval;
    char plots[HP__PATH_MAX], render[HP__PATH_MAX];
} plot_job;

static volatile sig_atomic_t watch_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    watch_stop = 1;
}

/* Is `prog` an executable (a path, or a name found on PATH)? */
static int find_program(const char *prog) {
    if (strchr(prog, '/')) return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    for (const char *p = path; p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char full[HP__PATH_MAX + 256];
        snprintf(full, sizeof full, "%.*s/%s", (int)(len ? len : 1), len ? p : ".", prog);
        if (access(full, X_OK) == 0) return 1;
        p = colon ? colon + 1 : NULL;
    }
    return 0;
}

static hp_status parse_args(int argc, char **argv, plot_job *j) {
    memset(j, 0, sizeof *j);
    j->interval = 5.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strncmp(a, "--format", 8) == 0 && (a[8] == '\0' || a[8] == '=')) {
            v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : "");
            if (strcmp(v, "png") == 0) j->format = HP__PLOT_PNG;
            else if (strcmp(v, "svg") == 0) j->format = HP__PLOT_SVG;
            else if (strcmp(v, "pdf") == 0) j->format = HP__PLOT_PDF;
            else HP_ERROR(HP_ERR_USAGE, "plot: --format '%s' is not a format; expected png, svg or pdf", v);
        } else if (strncmp(a, "--interval", 10) == 0 && (a[10] == '\0' || a[10] == '=')) {
            v = a[10] == '=' ? a + 11 : (i + 1 < argc ? argv[++i] : "");
            char *end;
            j->interval = strtod(v, &end);
            if (end == v || *end || !(j->interval >= 0.1 && j->interval <= 3600))
                HP_ERROR(HP_ERR_USAGE, "plot: --interval '%s' is not a number of seconds; expected 0.1 to 3600", v);
        } else if (strcmp(a, "--watch") == 0) {
            j->watch = 1;
        } else if (a[0] == '-') {
            HP_ERROR(HP_ERR_USAGE, "plot: unknown option '%s'; expected --format png|svg|pdf, --watch, --interval S", a);
        } else if (j->dir) {
            HP_ERROR(HP_ERR_USAGE, "plot: expected one run directory, got '%s' and '%s'", j->dir, a);
        } else {
            j->dir = a;
        }
    }
    if (!j->dir) HP_ERROR(HP_ERR_USAGE, "plot: expected a run directory (hpinn plot DIR)");
    return HP_OK;
}

/* Does gnuplot know this terminal? (It is built without cairo on some systems.) */
static int has_terminal(const char *gnuplot, const char *terminal) {
    char probe[HP__PATH_MAX + 128];
    snprintf(probe, sizeof probe, "'%s' -e 'set terminal %s' >/dev/null 2>&1", gnuplot, terminal);
    return system(probe) == 0;
}

static hp_status find_gnuplot(plot_job *j) {
    j->gnuplot = getenv("HPINN_GNUPLOT");
    if (!j->gnuplot || !*j->gnuplot) j->gnuplot = "gnuplot";
    if (!find_program(j->gnuplot))
        HP_ERROR(HP_ERR_IO,
                 "plot: gnuplot was not found (looked for '%s' on PATH); install the Debian package gnuplot-nox "
                 "(sudo apt-get install gnuplot-nox) and run `hpinn plot %s` again",
                 j->gnuplot, j->dir);
    /* pngcairo draws antialiased text; the plain png terminal is the fallback */
    if (j->format == HP__PLOT_PNG) j->png_cairo = has_terminal(j->gnuplot, "pngcairo");
    if (j->format == HP__PLOT_PDF && !has_terminal(j->gnuplot, "pdfcairo"))
        HP_ERROR(HP_ERR_IO,
                 "plot: this gnuplot ('%s') has no pdfcairo terminal; install the Debian package gnuplot-nox, "
                 "which has it, or use --format svg for vector figures",
                 j->gnuplot);
    return HP_OK;
}

/* Copy the complete lines of DIR/history.csv to `to` (absent: nothing copied). */
static hp_status snapshot_history(const char *dir, const char *to) {
    char from[HP__PATH_MAX];
    HP_CALL(hp__path_join(from, sizeof from, dir, "history.csv"));
    unlink(to);
    FILE *in = fopen(from, "rb");
    if (!in) return HP_OK;
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        HP_ERROR(HP_ERR_IO, "plot: cannot write %s: %s", to, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int ok = 1;
    while ((len = getline(&line, &cap, in)) > 0)
        if (line[len - 1] == '\n') ok &= fwrite(line, 1, (size_t)len, out) == (size_t)len;
    free(line);
    fclose(in);
    if (fclose(out) != 0 || !ok) HP_ERROR(HP_ERR_IO, "plot: cannot write %s", to);
    return HP_OK;
}

static hp_status write_script(const plot_job *j, const hp__plot_run *run, hp__plot_figures *figs) {
    char path[HP__PATH_MAX + 16], tmp[HP__PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/plots.gp", j->plots);
    snprintf(tmp, sizeof tmp, "%s/plots.gp", j->render);
    FILE *g = fopen(tmp, "w");
    if (!g) HP_ERROR(HP_ERR_IO, "plot: cannot write %s: %s", tmp, strerror(errno));
    hp__plot_write_script(g, run, j->format, j->png_cairo, figs);
    if (ferror(g) | (fclose(g) != 0)) HP_ERROR(HP_ERR_IO, "plot: cannot write %s", tmp);
    if (rename(tmp, path) != 0) HP_ERROR(HP_ERR_IO, "plot: cannot write %s: %s", path, strerror(errno));
    return HP_OK;
}

static hp_status run_gnuplot(const plot_job *j) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) HP_ERROR(HP_ERR_IO, "plot: cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        if (chdir(j->dir) != 0) _exit(126);
        execlp(j->gnuplot, j->gnuplot, "-e", "outdir = \"plots/.render\"; history = \"plots/.render/history.csv\"",
               "plots/plots.gp", (char *)NULL);
        _exit(127);
    }
    char script[HP__PATH_MAX];
    HP_CALL(hp__path_join(script, sizeof script, j->plots, "plots.gp"));
    return hp__cli_wait_gnuplot(pid, "plot", script);
}

/* One drawing: snapshot, read, script, gnuplot, figures renamed into place.
 * Fewer than min_rows history rows and no fields: HP_ERR_NOT_FOUND (--watch
 * waits for a second row: one point makes no curve). */
static hp_status draw(const plot_job *j, size_t min_rows, hp__plot_run *run, hp__plot_figures *figs) {
    memset(run, 0, sizeof *run);
    memset(figs, 0, sizeof *figs);
    if (mkdir(j->plots, 0777) != 0 && errno != EEXIST)
        HP_ERROR(HP_ERR_IO, "plot: cannot create %s: %s", j->plots, strerror(errno));
    if (mkdir(j->render, 0777) != 0 && errno != EEXIST)
        HP_ERROR(HP_ERR_IO, "plot: cannot create %s: %s", j->render, strerror(errno));
    char history[HP__PATH_MAX + 16];
    snprintf(history, sizeof history, "%s/history.csv", j->render);
    HP_CALL(snapshot_history(j->dir, history));
    hp_status st = hp__plot_run_load(j->dir, history, run);
    if (st == HP_OK && run->hist.n_rows < min_rows && !run->fields.present)
        st = HP_ERROR_SET(HP_ERR_NOT_FOUND, "plot: %s/history.csv has fewer than %zu rows", j->dir, min_rows);
    if (st == HP_OK) st = write_script(j, run, figs);
    if (st == HP_OK && figs->n == 0)
        st = HP_ERROR_SET(HP_ERR_NOT_FOUND,
                          "plot: %s/history.csv has no rows yet and there is no fields.csv or nodes.csv; nothing to "
                          "draw (hpinn plot --watch %s waits for them)",
                          j->dir, j->dir);
    if (st == HP_OK) st = run_gnuplot(j);
    for (int i = 0; st == HP_OK && i < figs->n; i++) {
        char from[HP__PATH_MAX + 64], to[HP__PATH_MAX + 64];
        snprintf(from, sizeof from, "%s/%s", j->render, figs->names[i]);
        snprintf(to, sizeof to, "%s/%s", j->plots, figs->names[i]);
        if (rename(from, to) != 0) st = HP_ERROR_SET(HP_ERR_IO, "plot: cannot write %s: %s", to, strerror(errno));
    }
    unlink(history);
    rmdir(j->render);
    return st;
}

static void print_figures(const plot_job *j, const hp__plot_run *run, const hp__plot_figures *figs) {
    printf("%d figure%s in %s/:", figs->n, figs->n == 1 ? "" : "s", j->plots);
    for (int i = 0; i < figs->n; i++) printf(" %s", figs->names[i]);
    printf(" (script: plots.gp)\n");
    if (!run->fields.present || !run->nodes.present)
        printf("solution and coarse figures: fields.csv and nodes.csv are written at the end of the run\n");
}

/* Is a `hpinn run` holding dir's lock? Read without taking the lock (a probe
 * could make a run starting at that moment refuse the directory): the pid in
 * the lock file must be alive and, where /proc/locks exists, hold a flock on
 * that very file (so that a recycled pid does not count). */
static int run_active(const char *dir) {
    char path[HP__PATH_MAX];
    if (hp__path_join(path, sizeof path, dir, HP__RUN_LOCK_FILE) != HP_OK) return 0;
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (!f) return 0;
    if (fscanf(f, "%ld", &pid) != 1) pid = 0;
    fclose(f);
    struct stat sb;
    if (pid <= 0 || stat(path, &sb) != 0) return 0;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 0;
    FILE *locks = fopen("/proc/locks", "r");
    if (!locks) return 1;
    char line[256], kind[16];
    int found = 0;
    while (!found && fgets(line, sizeof line, locks)) {
        long holder;
        unsigned maj, min;
        unsigned long ino;
        if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%lu", kind, &holder, &maj, &min, &ino) == 5)
            found = strcmp(kind, "FLOCK") == 0 && holder == pid && ino == (unsigned long)sb.st_ino;
    }
    fclose(locks);
    return found;
}

/* What changes when the run writes something the figures show. */
static unsigned long long signature(const char *dir) {
    unsigned long long sig = 0; /* unsigned: the hash wraps, a signed one would overflow */
    const char *files[] = {"history.csv", "summary.json", "fields.csv"};
    for (int i = 0; i < 3; i++) {
        char path[HP__PATH_MAX];
        struct stat sb;
        if (hp__path_join(path, sizeof path, dir, files[i]) == HP_OK && stat(path, &sb) == 0)
            sig = sig * 1000003u + (unsigned long long)sb.st_size * 31u +
                  (unsigned long long)sb.st_mtim.tv_sec * 1000u + (unsigned long long)sb.st_mtim.tv_nsec / 1000000u;
    }
    return sig;
}

static void nap(double seconds) {
    struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
    while (!watch_stop && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static hp_status watch(const plot_job *j) {
    hp__cli_signals saved_signals;
    hp__cli_catch_stop_signals(on_signal, &saved_signals);
    hp_status st = HP_OK;
    unsigned long long drawn = 0;
    int drawn_once = 0;
    double iteration = -1;
    for (;;) {
        int active = run_active(j->dir);
        char history[HP__PATH_MAX];
        struct stat sb;
        int waiting = active && (hp__path_join(history, sizeof history, j->dir, "history.csv") != HP_OK ||
                                 stat(history, &sb) != 0 || sb.st_size == 0);
        unsigned long long sig = signature(j->dir);
        if (!waiting && (!drawn_once || sig != drawn || !active)) { /* the last drawing is always made */
            hp__plot_run run;
            hp__plot_figures figs;
            int drawn_now = 1;
            st = draw(j, active ? 2 : 0, &run, &figs);
            if (st == HP_OK && active) {
                printf("hpinn plot: iteration %.0f: %d figure%s updated in %s/\n", run.last_iteration, figs.n,
                       figs.n == 1 ? "" : "s", j->plots);
            } else if (st == HP_OK) {
                printf("hpinn plot: the run has ended; ");
                print_figures(j, &run, &figs);
            } else if (active && st == HP_ERR_NOT_FOUND) {
                st = HP_OK; /* a run that has not written a row yet */
                drawn_now = 0;
            }
            iteration = st == HP_OK ? run.last_iteration : iteration;
            hp__plot_run_free(&run);
            fflush(stdout);
            drawn = sig;
            drawn_once = drawn_now;
        }
        if (st != HP_OK || !active) break;
        nap(j->interval);
        if (watch_stop) break;
    }
    hp__cli_restore_signals(&saved_signals);
    if (st == HP_OK && watch_stop) {
        printf("hpinn plot: stopped watching; the figures in %s/ show iteration %.0f\n", j->plots, iteration);
        fflush(stdout);
        exit(130);
    }
    return st;
}

hp_status hp__cmd_plot(int argc, char **argv) {
    plot_job j;
    HP_CALL(parse_args(argc, argv, &j));
    struct stat sb;
    if (stat(j.dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        HP_ERROR(HP_ERR_NOT_FOUND, "plot: %s is not a directory; expected the directory of a `hpinn run`", j.dir);
    char path[HP__PATH_MAX];
    const char *needed[] = {"config.resolved.yaml", "history.csv"};
    for (int i = 0; i < 2 && !(j.watch && run_active(j.dir)); i++) {
        HP_CALL(hp__path_join(path, sizeof path, j.dir, needed[i]));
        if (access(path, R_OK) != 0)
            HP_ERROR(HP_ERR_NOT_FOUND,
                     "plot: %s has no %s; expected the directory of a `hpinn run` (it writes config.resolved.yaml "
                     "and history.csv when it starts)",
                     j.dir, needed[i]);
    }
    HP_CALL(find_gnuplot(&j));
    if (snprintf(j.plots, sizeof j.plots, "%s/plots", j.dir) >= (int)sizeof j.plots ||
        snprintf(j.render, sizeof j.render, "%s/plots/.render", j.dir) >= (int)sizeof j.render)
        HP_ERROR(HP_ERR_USAGE, "plot: the path %s is too long", j.dir);
    if (j.watch) return watch(&j);
    hp__plot_run run;
    hp__plot_figures figs;
    hp_status st = draw(&j, 0, &run, &figs);
    if (st == HP_OK) print_figures(&j, &run, &figs);
    hp__plot_run_free(&run);
    return st;
}
