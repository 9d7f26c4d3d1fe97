/* args.c — argument parsing shared by the commands that take a pipeline, the
 * printing of the registry's notes, the waiting for gnuplot and the Ctrl-C
 * handlers they share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include "cli.h"

static int allowed_flag(const char *allowed, const char *flag) {
    size_t fl = strlen(flag);
    for (const char *p = allowed; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == fl && strncmp(p, flag, len) == 0) return 1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

hp_status hp__cli_parse_pipeline_args(int argc, char **argv, const char *allowed, hp__cli_pipeline_args *a) {
    memset(a, 0, sizeof *a);
    a->sets = calloc((size_t)argc + 1, sizeof *a->sets);
    if (!a->sets) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    const char *cmd = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--set") == 0 || strncmp(arg, "--set=", 6) == 0) {
            const char *v = arg[5] == '=' ? arg + 6 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) HP_ERROR(HP_ERR_USAGE, "%s: --set needs KEY=VALUE", cmd);
            a->sets[a->n_sets++] = v;
        } else if (strcmp(arg, "--out") == 0 && allowed_flag(allowed, "out")) {
            if (i + 1 >= argc) HP_ERROR(HP_ERR_USAGE, "%s: --out needs a directory", cmd);
            a->out_dir = argv[++i];
        } else if (strcmp(arg, "--force") == 0 && allowed_flag(allowed, "force")) {
            a->force = 1;
        } else if (strcmp(arg, "--label") == 0 && allowed_flag(allowed, "label")) {
            if (i + 1 >= argc) HP_ERROR(HP_ERR_USAGE, "%s: --label needs a text", cmd);
            a->label = argv[++i];
        } else if ((strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0) && allowed_flag(allowed, "verbose")) {
            a->verbose = 1;
        } else if (strcmp(arg, "--init-from") == 0 && allowed_flag(allowed, "init-from")) {
            if (i + 1 >= argc) HP_ERROR(HP_ERR_USAGE, "%s: --init-from needs a run directory", cmd);
            a->init_from = argv[++i];
        } else if (strcmp(arg, "--gradient") == 0 && allowed_flag(allowed, "gradient")) {
            a->gradient = 1;
        } else if (strcmp(arg, "--resume") == 0 && allowed_flag(allowed, "resume")) {
            if (i + 1 >= argc) HP_ERROR(HP_ERR_USAGE, "%s: --resume needs a run directory", cmd);
            a->resume = argv[++i];
        } else if (arg[0] == '-' && arg[1] != '\0') {
            HP_ERROR(HP_ERR_USAGE, "%s: unknown option '%s'; see `hpinn help %s`", cmd, arg, cmd);
        } else if (!a->config) {
            a->config = arg;
        } else {
            HP_ERROR(HP_ERR_USAGE, "%s: unexpected argument '%s' (the pipeline is already '%s')", cmd, arg, a->config);
        }
    }
    if (!a->config && !a->resume) HP_ERROR(HP_ERR_USAGE, "%s: missing CONFIG; see `hpinn help %s`", cmd, cmd);
    return HP_OK;
}

void hp__cli_pipeline_args_free(hp__cli_pipeline_args *a) {
    free(a->sets);
    memset(a, 0, sizeof *a);
}

/* output.dir when the pipeline names none: runs/<stem of the pipeline file> (the
 * name without its last extension), so that two pipelines never share a directory
 * by default (configs/x.yaml: runs/x).
 * Characters a YAML scalar or a path could misread become '_'. */
static void default_output_dir(hp_config *c, const char *config_path) {
    if (hp_config_has(c, "output.dir")) return;
    const char *base = strrchr(config_path, '/');
    base = base ? base + 1 : config_path;
    const char *dot = strrchr(base, '.');
    const char *end = dot && dot != base ? dot : base + strlen(base);
    char stem[256];
    size_t n = 0;
    for (const char *p = base; p < end && n < sizeof stem - 1; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                 *p == '_' || *p == '+' || *p == '.';
        stem[n++] = ok ? *p : '_';
    }
    stem[n] = '\0';
    char assignment[300];
    snprintf(assignment, sizeof assignment, "output.dir=runs/%s", n ? stem : "default");
    if (hp_config_set(c, assignment) != HP_OK) hp_error_clear(); /* `output:` is not a mapping: validation says so */
}

hp_status hp__cli_load_config(const hp__cli_pipeline_args *a, hp_config **out) {
    hp_config *c;
    HP_CALL(hp_config_load_file(a->config, &c));
    if (!a->resume) default_output_dir(c, a->config);
    for (size_t i = 0; i < a->n_sets; i++) {
        hp_status st = hp_config_set(c, a->sets[i]);
        if (st != HP_OK) {
            hp_config_destroy(c);
            return st;
        }
    }
    *out = c;
    return HP_OK;
}

/* mkdir -p: create `path` and its missing parents. */
hp_status hp__cli_make_dirs(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) HP_ERROR(HP_ERR_USAGE, "path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            HP_ERROR(HP_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        HP_ERROR(HP_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
    return HP_OK;
}

void hp__cli_print_registry_notes(const hp_registry *r, size_t *shown) {
    for (; r && *shown < hp_registry_note_count(r); ++*shown) fprintf(stderr, "hpinn: %s\n", hp_registry_get_note(r, *shown));
}

hp_status hp__cli_wait_gnuplot(pid_t pid, const char *command, const char *script) {
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) HP_ERROR(HP_ERR_IO, "%s: waiting for gnuplot: %s", command, strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        HP_ERROR(HP_ERR_IO, "%s: gnuplot failed (%s %d) on %s; its messages are above", command,
                 WIFEXITED(status) ? "exit code" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                 script);
    return HP_OK;
}

void hp__cli_catch_stop_signals(void (*handler)(int), hp__cli_signals *saved) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &saved->old_int);
    sigaction(SIGTERM, &sa, &saved->old_term);
}

void hp__cli_restore_signals(const hp__cli_signals *saved) {
    sigaction(SIGINT, &saved->old_int, NULL);
    sigaction(SIGTERM, &saved->old_term, NULL);
}
