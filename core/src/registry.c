/* registry.c — plugin discovery and loading.
 *
 * Opening a plugin runs its code (its constructors, then its entry function), so
 * the registry opens as little as it can: a lookup of (kind, name) opens only the
 * files named hpinn_<name>.so, directory by directory in search-path order, and
 * stops at the first one of that kind. Only an enumeration (hp_registry_count,
 * `hpinn plugins`) opens every hpinn_*.so on the path. Each file is opened at most
 * once per registry; what was found or went wrong is kept.
 *
 * A file is checked before it is used: descriptor ABI version and struct size
 * before anything else, then name (it must match the file name, or a lookup by
 * file name would not find it), kind and the kind's mandatory vtable members. The
 * first plugin of each (kind, name) wins. Problems do not stop an enumeration: a
 * broken plugin in one directory must not hide the good ones; they are kept for
 * `hpinn plugins` and for the message of a lookup that fails. */
#define _GNU_SOURCE /* dladdr */
#include "hpinn/registry.h"

#include <dirent.h>
#include <errno.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hpinn/coarse.h"
#include "hpinn/network.h"
#include "hpinn/optimizer.h"
#include "checksum.h"
#include "hpinn/upscaling.h"
#include "params_internal.h"

typedef struct hp__plugin_entry {
    const hp_plugin_descriptor *desc;
    char *file;
    void *handle;
    uint64_t checksum; /* FNV-1a 64 of the file's bytes, read when it was checked */
} hp__plugin_entry;

struct hp_registry {
    hp__plugin_entry *plugins;
    size_t n_plugins, cap_plugins;
    hp_registry_problem *problems;
    size_t n_problems, cap_problems;
    char **notes; /* worth telling the user, did not stop anything; each once */
    size_t n_notes;
    char **dirs; /* the search path, in order */
    size_t n_dirs;
    char *search_path;
    char *own_dir; /* the build tree's or install's plugin directory (with HPINN_INSTALL_PLUGIN_DIR: built-in) */
    int enumerated; /* every hpinn_*.so on the path has been opened */
};

const char *hp_plugin_kind_name(hp_plugin_kind k) {
    switch (k) {
    case HP_PLUGIN_NETWORK: return "network";
    case HP_PLUGIN_COARSE: return "coarse";
    case HP_PLUGIN_UPSCALING: return "upscaling";
    case HP_PLUGIN_OPTIMIZER: return "optimizer";
    }
    return "unknown";
}

static int valid_name(const char *s) {
    if (!s || !*s || strlen(s) > 64) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

static hp_status add_problem(hp_registry *r, const char *file, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static hp_status add_problem(hp_registry *r, const char *file, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->n_problems == r->cap_problems) {
        size_t cap = r->cap_problems ? 2 * r->cap_problems : 8;
        hp_registry_problem *p = realloc(r->problems, cap * sizeof *p);
        if (!p) HP_ERROR(HP_ERR_NOMEM, "out of memory");
        r->problems = p;
        r->cap_problems = cap;
    }
    char *f = strdup(file), *m = strdup(msg);
    if (!f || !m) {
        free(f);
        free(m);
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    r->problems[r->n_problems].file = f;
    r->problems[r->n_problems].message = m;
    r->n_problems++;
    /* the same text becomes the error message for the caller of load_file; every
     * message is written to follow the file name ("FILE is world-writable; ...") */
    return hp_error_set(HP_ERR_PLUGIN, __FILE__, __LINE__, __func__, "%s %s", file, msg);
}

static void add_note(hp_registry *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Record a note once; out of memory loses the note, nothing else. */
static void add_note(hp_registry *r, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < r->n_notes; i++)
        if (strcmp(r->notes[i], msg) == 0) return;
    char **n = realloc(r->notes, (r->n_notes + 1) * sizeof *n);
    if (!n) return;
    r->notes = n;
    if ((n[r->n_notes] = strdup(msg))) r->n_notes++;
}

/* Mandatory members of each kind's vtable; a NULL one would crash later. Each
 * ops table starts with its struct_size: a member beyond it counts as missing
 * (HP_OP_PRESENT), so a table too short for the mandatory part is refused too. */
#define HP__REQUIRE(o, member) \
    if (!HP_OP_PRESENT(o, member)) return #member
static const char *missing_member(const hp_plugin_descriptor *d) {
    if (!d->ops) return "ops";
    switch (d->kind) {
    case HP_PLUGIN_NETWORK: {
        const hp_network_ops *o = d->ops;
        HP__REQUIRE(o, create);
        HP__REQUIRE(o, destroy);
        HP__REQUIRE(o, n_params);
        HP__REQUIRE(o, layout);
        HP__REQUIRE(o, init);
        HP__REQUIRE(o, workspace);
        HP__REQUIRE(o, forward);
        HP__REQUIRE(o, reverse);
        return NULL;
    }
    case HP_PLUGIN_COARSE: {
        const hp_coarse_ops *o = d->ops;
        HP__REQUIRE(o, create);
        HP__REQUIRE(o, destroy);
        HP__REQUIRE(o, mesh);
        HP__REQUIRE(o, set_source);
        HP__REQUIRE(o, set_coefficient_blocks);
        HP__REQUIRE(o, solve_state);
        HP__REQUIRE(o, solve_adjoint);
        HP__REQUIRE(o, coefficient_gradient);
        HP__REQUIRE(o, evaluate);
        return NULL;
    }
    case HP_PLUGIN_UPSCALING: {
        const hp_upscaling_ops *o = d->ops;
        HP__REQUIRE(o, create);
        HP__REQUIRE(o, destroy);
        HP__REQUIRE(o, blocks_per_dim);
        HP__REQUIRE(o, n_directions);
        HP__REQUIRE(o, n_moments);
        HP__REQUIRE(o, moments);
        HP__REQUIRE(o, finish);
        HP__REQUIRE(o, finish_backward);
        HP__REQUIRE(o, moments_backward);
        return NULL;
    }
    case HP_PLUGIN_OPTIMIZER: {
        const hp_optimizer_ops *o = d->ops;
        HP__REQUIRE(o, create);
        HP__REQUIRE(o, destroy);
        HP__REQUIRE(o, step);
        return NULL;
    }
    }
    return "kind";
}
#undef HP__REQUIRE

static const hp__plugin_entry *find_entry(const hp_registry *r, hp_plugin_kind kind, const char *name) {
    for (size_t i = 0; i < r->n_plugins; i++)
        if (r->plugins[i].desc->kind == kind && strcmp(r->plugins[i].desc->name, name) == 0)
            return &r->plugins[i];
    return NULL;
}

static const hp__plugin_entry *entry_of_file(const hp_registry *r, const char *path) {
    for (size_t i = 0; i < r->n_plugins; i++)
        if (strcmp(r->plugins[i].file, path) == 0) return &r->plugins[i];
    return NULL;
}

static const hp_registry_problem *problem_of_file(const hp_registry *r, const char *path) {
    for (size_t i = 0; i < r->n_problems; i++)
        if (strcmp(r->problems[i].file, path) == 0) return &r->problems[i];
    return NULL;
}

/* A file that was opened, or refused, before is not opened again: its plugin or
 * its problem is already known. */
static int already_tried(const hp_registry *r, const char *path) {
    return entry_of_file(r, path) || problem_of_file(r, path);
}

/* hpinn_<name>.so with name of the form [a-z0-9_]+. */
static int is_plugin_file(const char *name) {
    size_t len = strlen(name);
    if (len < 10 || strncmp(name, "hpinn_", 6) != 0 || strcmp(name + len - 3, ".so") != 0) return 0;
    for (size_t i = 6; i < len - 3; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
            return 0;
    return 1;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The descriptor of an opened file, checked; a failed check is recorded as the
 * file's problem and returned as HP_ERR_PLUGIN. */
static hp_status checked_descriptor(hp_registry *r, const char *path, void *h, const hp_plugin_descriptor **out) {
    *out = NULL;
    hp_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, HP_PLUGIN_ENTRY_NAME);
    if (!entry)
        return add_problem(r, path, "is not an hpinn plugin: it does not export the entry symbol '%s' (define it with HP_PLUGIN_DEFINE)",
                           HP_PLUGIN_ENTRY_NAME);
    const hp_plugin_descriptor *d = entry();
    if (!d)
        return add_problem(r, path, "returned no descriptor from its entry symbol");
    if (d->abi_version != HP_ABI_VERSION)
        return add_problem(r, path, "was built for plugin ABI %u, but this hpinn has ABI %u; rebuild the plugin against this hpinn",
                           (unsigned)d->abi_version, HP_ABI_VERSION);
    if (d->struct_size != sizeof(hp_plugin_descriptor))
        return add_problem(r, path, "has a descriptor of %u bytes, but this hpinn's has %zu (ABI %u on both sides); rebuild the plugin against this hpinn",
                           (unsigned)d->struct_size, sizeof(hp_plugin_descriptor), HP_ABI_VERSION);
    if (!valid_name(d->name))
        return add_problem(r, path, "declares no plugin name, or one not of the form [a-z0-9_]+");
    /* lookups open hpinn_<name>.so: a plugin under another file name could be
     * listed but never found by a pipeline */
    const char *file = base_name(path);
    size_t len = strlen(d->name);
    if (strlen(file) != len + 9 || strncmp(file + 6, d->name, len) != 0)
        return add_problem(r, path, "declares plugin name '%s', but its file name is %s; a plugin must be installed as hpinn_<name>.so (here hpinn_%s.so)",
                           d->name, file, d->name);
    if (d->kind < HP_PLUGIN_NETWORK || d->kind > HP_PLUGIN_OPTIMIZER)
        return add_problem(r, path, "declares plugin '%s' of unknown kind %d", d->name, (int)d->kind);
    const char *missing = missing_member(d);
    if (missing)
        return add_problem(r, path, "declares %s plugin '%s' but leaves the mandatory vtable member '%s' empty",
                           hp_plugin_kind_name(d->kind), d->name, missing);
    if (d->kind == HP_PLUGIN_OPTIMIZER) {
        /* optional as a group: a state saved without load (or loaded without
         * save) would make `hpinn run --resume` fail with a misleading message */
        const hp_optimizer_ops *o = d->ops;
        int n = HP_OP_PRESENT(o, state_size) + HP_OP_PRESENT(o, save) + HP_OP_PRESENT(o, load);
        if (n == 1 || n == 2)
            return add_problem(r, path, "declares optimizer plugin '%s' with only some of state_size, save and load "
                                        "(%s is empty); checkpointing needs all three, or none (the optimizer then "
                                        "restarts fresh after a resume)",
                               d->name, !o->state_size ? "state_size" : !o->save ? "save" : "load");
    }
    const hp__plugin_entry *dup = find_entry(r, d->kind, d->name);
    if (dup)
        return add_problem(r, path, "duplicates %s plugin '%s' (already loaded from %s); the first one found is kept",
                           hp_plugin_kind_name(d->kind), d->name, dup->file);
    *out = d;
    return HP_OK;
}

/* Whoever can write a plugin file, or the directory it is in, chooses the code
 * hpinn runs: only root and the current user are trusted with that. Returns the
 * reason ("is world-writable") for a file or directory that fails, else NULL. */
static const char *untrusted(const struct stat *sb, char *why, size_t size) {
    if (sb->st_mode & S_IWOTH) return "is world-writable";
    if (sb->st_uid != 0 && sb->st_uid != geteuid()) {
        snprintf(why, size, "is owned by uid %u, which is neither root nor the current user (uid %u)",
                 (unsigned)sb->st_uid, (unsigned)geteuid());
        return why;
    }
    return NULL;
}

/* A search directory that exists but fails the trust rule is skipped whole (and
 * reported once): a plugin could be dropped into it. */
static int dir_refused(hp_registry *r, const char *dir) {
    struct stat sb;
    char why[160];
    if (stat(dir, &sb) != 0) return 0; /* missing: simply empty */
    const char *reason = untrusted(&sb, why, sizeof why);
    if (!reason) return 0;
    if (!problem_of_file(r, dir))
        add_problem(r, dir, "%s; refusing to load plugins from it", reason);
    return 1;
}

/* FNV-1a 64 of everything readable from fd. */
static int checksum_fd(int fd, uint64_t *sum) {
    unsigned char buf[1 << 14];
    uint64_t h = HP__FNV1A64_BASIS;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        h = hp__fnv1a64_update(h, buf, (size_t)n);
    }
    *sum = h;
    return 0;
}

/* The trust rule for the file itself and for the directory it really is in
 * (symbolic links resolved: a trusted link may point into an untrusted place),
 * and the checksum of the bytes that were checked (one open: what was examined
 * is what is recorded). */
static hp_status check_trust(hp_registry *r, const char *path, uint64_t *sum) {
    struct stat sb;
    char why[160], real[PATH_MAX];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return add_problem(r, path, "cannot be loaded: %s", strerror(errno));
    int fail = fstat(fd, &sb) != 0, err = errno;
    int regular = !fail && S_ISREG(sb.st_mode);
    const char *reason = regular ? untrusted(&sb, why, sizeof why) : NULL;
    if (regular && !reason && checksum_fd(fd, sum) != 0) fail = 1, err = errno;
    close(fd);
    if (fail) return add_problem(r, path, "cannot be loaded: %s", strerror(err));
    if (!regular) return add_problem(r, path, "is not a regular file; refusing to load it");
    if (reason) return add_problem(r, path, "%s; refusing to load it", reason);
    if (!realpath(path, real)) return add_problem(r, path, "cannot be loaded: %s", strerror(errno));
    char *slash = strrchr(real, '/');
    if (slash == real) slash[1] = '\0'; /* a file in / */
    else if (slash) *slash = '\0';
    if (stat(real, &sb) != 0) return add_problem(r, path, "cannot be loaded: %s: %s", real, strerror(errno));
    reason = untrusted(&sb, why, sizeof why);
    if (reason) return add_problem(r, path, "is in %s, which %s; refusing to load it", real, reason);
    return HP_OK;
}

hp_status hp_registry_load_file(hp_registry *r, const char *path) {
    if (!is_plugin_file(base_name(path)))
        return add_problem(r, path, "is not named hpinn_<name>.so with a name of the form [a-z0-9_]+");
    uint64_t sum = 0;
    HP_CALL(check_trust(r, path, &sum)); /* before dlopen: opening runs the file's code */
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return add_problem(r, path, "cannot be loaded: %s", e ? e : "unknown dlopen error");
    }
    /* the descriptor's strings live in the module: problems are recorded before dlclose */
    const hp_plugin_descriptor *d;
    hp_status st = checked_descriptor(r, path, h, &d);
    if (st != HP_OK) {
        dlclose(h);
        return st;
    }
    if (r->n_plugins == r->cap_plugins) {
        size_t cap = r->cap_plugins ? 2 * r->cap_plugins : 16;
        hp__plugin_entry *p = realloc(r->plugins, cap * sizeof *p);
        if (!p) {
            dlclose(h);
            HP_ERROR(HP_ERR_NOMEM, "out of memory");
        }
        r->plugins = p;
        r->cap_plugins = cap;
    }
    char *file = strdup(path);
    if (!file) {
        dlclose(h);
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    r->plugins[r->n_plugins++] = (hp__plugin_entry){d, file, h, sum};
    return HP_OK;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The hpinn_*.so file names of a directory, sorted (deterministic "first one
 * wins"); a directory that does not exist is simply empty. */
static hp_status list_plugin_files(const char *dir, char ***out, size_t *count) {
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return HP_OK;
    char **names = NULL;
    size_t n = 0, cap = 0;
    hp_status st = HP_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!is_plugin_file(de->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (st != HP_OK) {
        for (size_t i = 0; i < n; i++) free(names[i]);
        free(names);
        return st;
    }
    if (n) qsort(names, n, sizeof *names, compare_names); /* found by the fuzzer: never qsort(NULL) */
    *out = names;
    *count = n;
    return HP_OK;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Open every hpinn_*.so on the path not opened yet (listing). */
static hp_status enumerate(hp_registry *r) {
    if (r->enumerated) return HP_OK;
    for (size_t k = 0; k < r->n_dirs; k++) {
        char **names;
        size_t n;
        if (dir_refused(r, r->dirs[k])) continue;
        HP_CALL(list_plugin_files(r->dirs[k], &names, &n));
        for (size_t i = 0; i < n; i++) {
            char path[4096 + 256];
            snprintf(path, sizeof path, "%s/%s", r->dirs[k], names[i]);
            if (already_tried(r, path)) continue;
            if (hp_registry_load_file(r, path) == HP_ERR_NOMEM) {
                free_names(names, n);
                return HP_ERR_NOMEM;
            }
        }
        free_names(names, n);
    }
    r->enumerated = 1;
    hp_error_clear(); /* problems are kept in the registry, not as the current error */
    return HP_OK;
}

static hp_status append_dir(hp_registry *r, const char *dir) {
    if (!dir || !*dir) return HP_OK;
    for (size_t i = 0; i < r->n_dirs; i++)
        if (strcmp(r->dirs[i], dir) == 0) return HP_OK; /* the first place on the path counts */
    char **d = realloc(r->dirs, (r->n_dirs + 1) * sizeof *d);
    if (!d) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    r->dirs = d;
    if (!(d[r->n_dirs] = strdup(dir))) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    r->n_dirs++;
    size_t old = r->search_path ? strlen(r->search_path) : 0, dl = strlen(dir);
    char *n = realloc(r->search_path, old + dl + 2);
    if (!n) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    if (old) n[old++] = ':';
    memcpy(n + old, dir, dl + 1);
    r->search_path = n;
    return HP_OK;
}

/* The plugin directory beside the hpinn core that is running:
 * build/lib/hpinn/plugins in the build tree, <prefix>/lib/hpinn/plugins after
 * install. The core is libhpinn (in lib/), or, for the tests and benchmarks that
 * link it statically, an executable in bin/ beside lib/. */
static void own_plugin_dir(char *buf, size_t size) {
    buf[0] = '\0';
    Dl_info info;
    if (!dladdr((void *)&hp_registry_open, &info) || !info.dli_fname) return;
    /* an executable started by a relative path reports that path: make it absolute */
    char real[PATH_MAX];
    const char *file = realpath(info.dli_fname, real) ? real : info.dli_fname;
    const char *slash = strrchr(file, '/');
    if (!slash) return;
    int len = (int)(slash - file);
    if (len >= 4 && strncmp(slash - 4, "/bin", 4) == 0) {
        struct stat sb;
        snprintf(buf, size, "%.*s/%s", len - 4, file, HPINN_PLUGIN_SUBDIR);
        if (stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode)) return;
        snprintf(buf, size, "%.*s/lib/hpinn/plugins", len - 4, file);
        return;
    }
    snprintf(buf, size, "%.*s/hpinn/plugins", len, file);
}

hp_status hp_registry_open(hp_registry **out) {
    *out = NULL;
    hp_registry *r = calloc(1, sizeof *r);
    if (!r) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    hp_status st = HP_OK;
    const char *env = getenv("HPINN_PLUGIN_PATH");
    if (env) {
        char *copy = strdup(env);
        if (!copy) {
            st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
            goto fail;
        }
        char *save = NULL;
        for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
            /* a relative entry means "wherever the command is run from": a
             * directory anyone could have put an hpinn_<name>.so into */
            if (tok[0] != '/') {
                add_note(r, "warning: HPINN_PLUGIN_PATH entry '%s' is a relative path, which would be resolved "
                            "against the current directory; it is skipped (write it as an absolute path)", tok);
                continue;
            }
            st = append_dir(r, tok);
            if (st != HP_OK) {
                free(copy);
                goto fail;
            }
        }
        free(copy);
    }
    char own[4096];
    own_plugin_dir(own, sizeof own);
    if (own[0] == '/') { /* libhpinn named by a relative path: not a place to trust */
        HP_CALL_GOTO(st, append_dir(r, own), fail);
        if (!(r->own_dir = strdup(own))) {
            st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    HP_CALL_GOTO(st, append_dir(r, HPINN_INSTALL_PLUGIN_DIR), fail);
    *out = r; /* nothing is opened yet: lookups open what they need */
    return HP_OK;
fail:
    hp_registry_close(r);
    return st;
}

void hp_registry_close(hp_registry *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_plugins; i++) {
        free(r->plugins[i].file);
        dlclose(r->plugins[i].handle);
    }
    for (size_t i = 0; i < r->n_problems; i++) {
        free((char *)r->problems[i].file);
        free((char *)r->problems[i].message);
    }
    free_names(r->dirs, r->n_dirs);
    free_names(r->notes, r->n_notes);
    free(r->plugins);
    free(r->problems);
    free(r->search_path);
    free(r->own_dir);
    free(r);
}

/* Open the files named hpinn_<name>.so in path order until one is a plugin of
 * this kind. Files of another kind stay loaded (a later lookup of that kind finds
 * them); files that fail their checks are recorded as problems. */
static hp_status lookup(hp_registry *r, hp_plugin_kind kind, const char *name, const hp__plugin_entry **out) {
    *out = find_entry(r, kind, name);
    for (size_t k = 0; !*out && k < r->n_dirs; k++) {
        if (dir_refused(r, r->dirs[k])) continue;
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/hpinn_%s.so", r->dirs[k], name);
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        if (!already_tried(r, path) && hp_registry_load_file(r, path) == HP_ERR_NOMEM) return HP_ERR_NOMEM;
        const hp__plugin_entry *e = entry_of_file(r, path);
        if (e && e->desc->kind == kind) *out = e;
    }
    hp_error_clear(); /* a failed candidate is a problem of the registry, not yet an error */
    return HP_OK;
}

/* "unknown ... plugin" with the names of the plugin files on the path: their
 * names are known without opening them (their kinds are not). */
static hp_status not_found(const hp_registry *r, hp_plugin_kind kind, const char *name) {
    const char *names[256];
    size_t count = 0;
    char **per_dir[64];
    size_t n_per_dir[64], n_listed = 0;
    char list[2048] = "";
    size_t used = 0;
    hp_status st = HP_OK;
    char refused[1024] = "";
    size_t used_refused = 0;
    for (size_t k = 0; k < r->n_dirs && k < 64; k++) {
        per_dir[k] = NULL;
        n_per_dir[k] = 0;
        n_listed = k + 1;
        const hp_registry_problem *p = problem_of_file(r, r->dirs[k]); /* the lookup refused it */
        if (p) {
            if (used_refused + 80 < sizeof refused)
                used_refused += (size_t)snprintf(refused + used_refused, sizeof refused - used_refused,
                                                 "; not searched: %s %s", p->file, p->message);
            continue;
        }
        st = list_plugin_files(r->dirs[k], &per_dir[k], &n_per_dir[k]);
        if (st != HP_OK) break;
        for (size_t i = 0; i < n_per_dir[k]; i++) {
            char *stem = per_dir[k][i] + 6;
            stem[strlen(stem) - 3] = '\0'; /* hpinn_<stem>.so -> <stem> */
            int seen = 0;
            for (size_t j = 0; j < count && !seen; j++) seen = strcmp(names[j], stem) == 0;
            if (seen || count == 256) continue;
            names[count++] = stem;
            if (used + 70 < sizeof list)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", stem);
        }
    }
    if (st == HP_OK) {
        const char *near = valid_name(name) ? hp__did_you_mean(name, names, count) : NULL;
        st = HP_ERROR_SET(HP_ERR_NOT_FOUND,
                          "unknown %s plugin '%s'%s%s%s; available (plugins of any kind; `hpinn plugins` lists "
                          "them by kind): %s (searched %s%s)",
                          hp_plugin_kind_name(kind), name, near ? " (did you mean '" : "", near ? near : "",
                          near ? "'?)" : "", count ? list : "none", r->search_path ? r->search_path : "nothing",
                          refused);
    }
    for (size_t k = 0; k < n_listed; k++) free_names(per_dir[k], n_per_dir[k]);
    return st;
}

/* A lookup that found hpinn_<name>.so files but none it could use says why:
 * "optimizer plugin 'x' cannot be used: FILE was built for plugin ABI 999, ..."
 * is what the user needs, not "unknown plugin". Files of another kind are not
 * problems: they are named when the lookup fails for that reason alone. */
static hp_status candidates_failed(const hp_registry *r, hp_plugin_kind kind, const char *name) {
    char why[3072] = "", other[1024] = "";
    size_t used = 0, used_other = 0;
    for (size_t k = 0; k < r->n_dirs; k++) {
        char path[4096 + 256];
        struct stat sb;
        snprintf(path, sizeof path, "%s/hpinn_%s.so", r->dirs[k], name);
        const hp_registry_problem *p = problem_of_file(r, path);
        if (!p && stat(path, &sb) == 0) p = problem_of_file(r, r->dirs[k]); /* in a refused directory */
        const hp__plugin_entry *e = entry_of_file(r, path);
        if (p && used + 80 < sizeof why)
            used += (size_t)snprintf(why + used, sizeof why - used, "%s%s %s", used ? "; " : "", p->file, p->message);
        else if (e && used_other + 80 < sizeof other)
            used_other += (size_t)snprintf(other + used_other, sizeof other - used_other, "%s%s is %s %s plugin",
                                           used_other ? "; " : "", e->file,
                                           e->desc->kind == HP_PLUGIN_UPSCALING || e->desc->kind == HP_PLUGIN_OPTIMIZER
                                               ? "an" : "a",
                                           hp_plugin_kind_name(e->desc->kind));
    }
    if (used)
        HP_ERROR(HP_ERR_PLUGIN, "%s plugin '%s' cannot be used: %s", hp_plugin_kind_name(kind), name, why);
    if (used_other) HP_ERROR(HP_ERR_NOT_FOUND, "unknown %s plugin '%s': %s", hp_plugin_kind_name(kind), name, other);
    return HP_OK;
}

static int is_builtin_dir(const hp_registry *r, const char *dir, size_t len) {
    const char *builtin[2] = {r->own_dir, HPINN_INSTALL_PLUGIN_DIR};
    for (int i = 0; i < 2; i++)
        if (builtin[i] && strlen(builtin[i]) == len && strncmp(builtin[i], dir, len) == 0) return 1;
    return 0;
}

/* A plugin found before the built-in one of the same name replaces it for every
 * pipeline on this path, which a user should see: one note naming both files.
 * The built-in file is not opened for this (the pipeline does not use it), so
 * "same name" is its file name. */
static void note_shadowing(hp_registry *r, const hp__plugin_entry *e) {
    const char *file = base_name(e->file);
    if (file == e->file || is_builtin_dir(r, e->file, (size_t)(file - 1 - e->file))) return;
    for (size_t k = 0; k < r->n_dirs; k++) {
        if (!is_builtin_dir(r, r->dirs[k], strlen(r->dirs[k]))) continue;
        char path[4096 + 256];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", r->dirs[k], file);
        if (stat(path, &sb) != 0) continue;
        add_note(r, "note: %s plugin '%s' is loaded from %s, which shadows the built-in %s",
                 hp_plugin_kind_name(e->desc->kind), e->desc->name, e->file, path);
        return;
    }
}

hp_status hp_registry_find(const hp_registry *cr, hp_plugin_kind kind, const char *name,
                           const hp_plugin_descriptor **out) {
    *out = NULL;
    /* logically const: a lookup only fills the registry's cache of opened files */
    hp_registry *r = (hp_registry *)cr;
    if (!valid_name(name)) return not_found(r, kind, name ? name : "");
    const hp__plugin_entry *e;
    HP_CALL(lookup(r, kind, name, &e));
    if (!e) {
        hp_status st = candidates_failed(r, kind, name);
        return st != HP_OK ? st : not_found(r, kind, name);
    }
    note_shadowing(r, e); /* once: notes are recorded once */
    *out = e->desc;
    return HP_OK;
}

size_t hp_registry_count(const hp_registry *cr) {
    hp_registry *r = (hp_registry *)cr; /* logically const, as in hp_registry_find */
    (void)enumerate(r); /* out of memory: the plugins enumerated so far */
    return r->n_plugins;
}

const hp_plugin_descriptor *hp_registry_get(const hp_registry *r, size_t i, const char **file) {
    if (i >= hp_registry_count(r)) return NULL;
    if (file) *file = r->plugins[i].file;
    return r->plugins[i].desc;
}

size_t hp_registry_problem_count(const hp_registry *r) { return r->n_problems; }

const hp_registry_problem *hp_registry_get_problem(const hp_registry *r, size_t i) {
    return i < r->n_problems ? &r->problems[i] : NULL;
}

const char *hp_registry_search_path(const hp_registry *r) { return r->search_path ? r->search_path : ""; }

size_t hp_registry_note_count(const hp_registry *r) { return r->n_notes; }

const char *hp_registry_get_note(const hp_registry *r, size_t i) { return i < r->n_notes ? r->notes[i] : NULL; }

const char *hp_registry_file_of(const hp_registry *r, const hp_plugin_descriptor *d, uint64_t *checksum) {
    for (size_t i = 0; i < r->n_plugins; i++)
        if (r->plugins[i].desc == d) {
            if (checksum) *checksum = r->plugins[i].checksum;
            return r->plugins[i].file;
        }
    return NULL;
}
