/* registry.c — plugin discovery and loading.
 *
 * The registry scans its search path once, dlopens every hpinn_*.so it finds,
 * checks the descriptor (ABI version and struct size before anything else, then
 * name, kind and the kind's mandatory vtable members) and keeps the first plugin
 * of each (kind, name). Problems do not stop the scan: a broken plugin in one
 * directory must not hide the good ones; they are kept for `hpinn plugins`. */
#define _GNU_SOURCE /* dladdr */
#include "hpinn/registry.h"

#include <dirent.h>
#include <stdarg.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpinn/coarse.h"
#include "hpinn/network.h"
#include "hpinn/optimizer.h"
#include "hpinn/upscaling.h"
#include "params_internal.h"

typedef struct hp__plugin_entry {
    const hp_plugin_descriptor *desc;
    char *file;
    void *handle;
} hp__plugin_entry;

struct hp_registry {
    hp__plugin_entry *plugins;
    size_t n_plugins, cap_plugins;
    hp_registry_problem *problems;
    size_t n_problems, cap_problems;
    char *search_path;
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
    /* the same text becomes the error message for the caller of load_file */
    return hp_error_set(HP_ERR_PLUGIN, __FILE__, __LINE__, __func__, "%s: %s", file, msg);
}

/* Mandatory members of each kind's vtable; a NULL one would crash later. */
static const char *missing_member(const hp_plugin_descriptor *d) {
    if (!d->ops) return "ops";
    switch (d->kind) {
    case HP_PLUGIN_NETWORK: {
        const hp_network_ops *o = d->ops;
        if (!o->create) return "create";
        if (!o->destroy) return "destroy";
        if (!o->n_params) return "n_params";
        if (!o->layout) return "layout";
        if (!o->init) return "init";
        if (!o->forward) return "forward";
        if (!o->backward) return "backward";
        return NULL;
    }
    case HP_PLUGIN_COARSE: {
        const hp_coarse_ops *o = d->ops;
        if (!o->create) return "create";
        if (!o->destroy) return "destroy";
        if (!o->mesh) return "mesh";
        if (!o->set_source) return "set_source";
        if (!o->set_coefficient_blocks) return "set_coefficient_blocks";
        if (!o->solve_state) return "solve_state";
        if (!o->solve_adjoint) return "solve_adjoint";
        if (!o->coefficient_gradient) return "coefficient_gradient";
        if (!o->evaluate) return "evaluate";
        return NULL;
    }
    case HP_PLUGIN_UPSCALING: {
        const hp_upscaling_ops *o = d->ops;
        if (!o->create) return "create";
        if (!o->destroy) return "destroy";
        if (!o->blocks_per_dim) return "blocks_per_dim";
        if (!o->n_directions) return "n_directions";
        if (!o->forward) return "forward";
        if (!o->backward) return "backward";
        return NULL;
    }
    case HP_PLUGIN_OPTIMIZER: {
        const hp_optimizer_ops *o = d->ops;
        if (!o->create) return "create";
        if (!o->destroy) return "destroy";
        if (!o->step) return "step";
        return NULL;
    }
    }
    return "kind";
}

static const hp__plugin_entry *find_entry(const hp_registry *r, hp_plugin_kind kind, const char *name) {
    for (size_t i = 0; i < r->n_plugins; i++)
        if (r->plugins[i].desc->kind == kind && strcmp(r->plugins[i].desc->name, name) == 0)
            return &r->plugins[i];
    return NULL;
}

hp_status hp_registry_load_file(hp_registry *r, const char *path) {
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return add_problem(r, path, "cannot be loaded: %s", e ? e : "unknown dlopen error");
    }
    hp_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, HP_PLUGIN_ENTRY_NAME);
    if (!entry) {
        dlclose(h);
        return add_problem(r, path, "is not an hpinn plugin: it does not export the entry symbol '%s' (define it with HP_PLUGIN_DEFINE)",
                           HP_PLUGIN_ENTRY_NAME);
    }
    const hp_plugin_descriptor *d = entry();
    if (!d) {
        dlclose(h);
        return add_problem(r, path, "its entry symbol returned no descriptor");
    }
    if (d->abi_version != HP_ABI_VERSION) {
        unsigned v = d->abi_version;
        dlclose(h);
        return add_problem(r, path, "was built for plugin ABI version %u, but this hpinn has ABI version %u; rebuild the plugin against this hpinn",
                           v, HP_ABI_VERSION);
    }
    if (d->struct_size != sizeof(hp_plugin_descriptor)) {
        unsigned s = d->struct_size;
        dlclose(h);
        return add_problem(r, path, "descriptor size %u does not match this hpinn's %zu (ABI version %u on both sides); rebuild the plugin against this hpinn",
                           s, sizeof(hp_plugin_descriptor), HP_ABI_VERSION);
    }
    if (!valid_name(d->name)) {
        dlclose(h);
        return add_problem(r, path, "plugin name is missing or not of the form [a-z0-9_]+");
    }
    if (d->kind < HP_PLUGIN_NETWORK || d->kind > HP_PLUGIN_OPTIMIZER) {
        int k = (int)d->kind;
        dlclose(h);
        return add_problem(r, path, "plugin '%s' has an unknown kind %d", d->name ? d->name : "?", k);
    }
    const char *missing = missing_member(d);
    if (missing) {
        char name[80];
        snprintf(name, sizeof name, "%s", d->name);
        hp_plugin_kind k = d->kind;
        dlclose(h);
        return add_problem(r, path, "%s plugin '%s' leaves the mandatory vtable member '%s' empty",
                           hp_plugin_kind_name(k), name, missing);
    }
    const hp__plugin_entry *dup = find_entry(r, d->kind, d->name);
    if (dup) {
        char name[80];
        snprintf(name, sizeof name, "%s", d->name);
        hp_plugin_kind k = d->kind;
        dlclose(h);
        return add_problem(r, path, "duplicate %s plugin '%s' (already loaded from %s); the first one found is kept",
                           hp_plugin_kind_name(k), name, dup->file);
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
    r->plugins[r->n_plugins++] = (hp__plugin_entry){d, file, h};
    return HP_OK;
}

static int is_plugin_file(const char *name) {
    size_t len = strlen(name);
    if (len < 10 || strncmp(name, "hpinn_", 6) != 0 || strcmp(name + len - 3, ".so") != 0) return 0;
    for (size_t i = 6; i < len - 3; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
            return 0;
    return 1;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static hp_status scan_directory(hp_registry *r, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return HP_OK; /* a search directory that does not exist is simply empty */
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
                goto done;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
            goto done;
        }
        n++;
    }
    if (n) qsort(names, n, sizeof *names, compare_names); /* deterministic "first one wins" */
    for (size_t i = 0; i < n; i++) {
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        hp_status s = hp_registry_load_file(r, path);
        if (s == HP_ERR_NOMEM) {
            st = s;
            goto done;
        }
    }
done:
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    closedir(d);
    return st;
}

static hp_status append_dir(char **list, const char *dir) {
    if (!dir || !*dir) return HP_OK;
    size_t dl = strlen(dir);
    /* skip directories already on the list */
    for (const char *p = *list; p && *p;) {
        const char *c = strchr(p, ':');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == dl && strncmp(p, dir, len) == 0) return HP_OK;
        p = c ? c + 1 : NULL;
    }
    size_t old = *list ? strlen(*list) : 0;
    char *n = realloc(*list, old + dl + 2);
    if (!n) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    if (old) n[old++] = ':';
    memcpy(n + old, dir, dl + 1);
    *list = n;
    return HP_OK;
}

/* The plugin directory beside the libhpinn that is running: build/lib/hpinn/plugins
 * in the build tree, <prefix>/lib/hpinn/plugins after install. */
static void own_plugin_dir(char *buf, size_t size) {
    buf[0] = '\0';
    Dl_info info;
    if (!dladdr((void *)&hp_registry_open, &info) || !info.dli_fname) return;
    const char *slash = strrchr(info.dli_fname, '/');
    if (!slash) return;
    snprintf(buf, size, "%.*s/hpinn/plugins", (int)(slash - info.dli_fname), info.dli_fname);
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
            st = append_dir(&r->search_path, tok);
            if (st != HP_OK) {
                free(copy);
                goto fail;
            }
        }
        free(copy);
    }
    char own[4096];
    own_plugin_dir(own, sizeof own);
    HP_CALL_GOTO(st, append_dir(&r->search_path, own), fail);
    HP_CALL_GOTO(st, append_dir(&r->search_path, HPINN_INSTALL_PLUGIN_DIR), fail);
    for (const char *p = r->search_path; p && *p;) {
        const char *c = strchr(p, ':');
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", (int)(c ? (size_t)(c - p) : strlen(p)), p);
        HP_CALL_GOTO(st, scan_directory(r, dir), fail);
        p = c ? c + 1 : NULL;
    }
    hp_error_clear(); /* problems are kept in the registry, not as the current error */
    *out = r;
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
    free(r->plugins);
    free(r->problems);
    free(r->search_path);
    free(r);
}

hp_status hp_registry_find(const hp_registry *r, hp_plugin_kind kind, const char *name,
                           const hp_plugin_descriptor **out) {
    *out = NULL;
    const hp__plugin_entry *e = valid_name(name) ? find_entry(r, kind, name) : NULL;
    if (e) {
        *out = e->desc;
        return HP_OK;
    }
    char list[2048] = "";
    size_t used = 0, count = 0;
    const char *names[256];
    for (size_t i = 0; i < r->n_plugins && used + 70 < sizeof list; i++) {
        if (r->plugins[i].desc->kind != kind) continue;
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", count ? ", " : "", r->plugins[i].desc->name);
        if (count < 256) names[count] = r->plugins[i].desc->name;
        count++;
    }
    const char *near = valid_name(name) ? hp__did_you_mean(name, names, count < 256 ? count : 256) : NULL;
    HP_ERROR(HP_ERR_NOT_FOUND, "unknown %s plugin '%s'%s%s%s; available: %s (searched %s)",
             hp_plugin_kind_name(kind), name, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "",
             count ? list : "none", r->search_path ? r->search_path : "nothing");
}

size_t hp_registry_count(const hp_registry *r) { return r->n_plugins; }

const hp_plugin_descriptor *hp_registry_get(const hp_registry *r, size_t i, const char **file) {
    if (i >= r->n_plugins) return NULL;
    if (file) *file = r->plugins[i].file;
    return r->plugins[i].desc;
}

size_t hp_registry_problem_count(const hp_registry *r) { return r->n_problems; }

const hp_registry_problem *hp_registry_get_problem(const hp_registry *r, size_t i) {
    return i < r->n_problems ? &r->problems[i] : NULL;
}

const char *hp_registry_search_path(const hp_registry *r) { return r->search_path ? r->search_path : ""; }
