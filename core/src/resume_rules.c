/* resume_rules.c — the key-by-key comparison of two resolved pipelines behind
 * `hpinn run --resume` (rules in resume_rules.h). Both texts come from
 * hp_config_resolve, so equal pipelines give equal trees; values are compared as
 * the resolver wrote them. */
#include "resume_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "yaml_tree.h"

typedef struct walk {
    hp__resume_position pos;
    const char *dir;
    size_t changes;
    const hp__node *now;         /* the pipeline to resume, for the plugin a section names */
    const hp_registry *registry; /* NULL: plugin keys get no default rule */
} walk;

static void describe(const hp__node *n, char *buf, size_t size) {
    if (!n) snprintf(buf, size, "(absent)");
    else if (n->kind == HP__SCALAR) snprintf(buf, size, "%s", n->text ? n->text : "");
    else if (n->kind == HP__SEQUENCE) snprintf(buf, size, "(a list of %zu)", n->count);
    else snprintf(buf, size, "(a mapping)");
}

/* stages[k].<key> of a path, or -1 when the path is not inside a stage. */
static long stage_of(const char *path, const char **rest) {
    if (strncmp(path, "stages[", 7) != 0) return -1;
    char *end;
    long k = strtol(path + 7, &end, 10);
    if (*end != ']') return -1;
    *rest = end[1] == '.' ? end + 2 : end + 1;
    return k;
}

/* The parameter table of the plugin that the section at `prefix` (length len:
 * "network", "stages[2].optimizer") names in the pipeline to resume; NULL when
 * it names none or the registry does not know it. */
static const hp_param_def *plugin_table(const walk *w, const char *prefix, size_t len, hp_plugin_kind kind) {
    if (!w->registry || !w->now) return NULL;
    const hp__node *n = w->now;
    char part[64];
    for (size_t at = 0; at < len && n;) { /* "stages[2].optimizer": stages, [2], optimizer */
        size_t end = at;
        while (end < len && prefix[end] != '.' && prefix[end] != '[') end++;
        if (end > at) {
            if (end - at >= sizeof part || n->kind != HP__MAPPING) return NULL;
            memcpy(part, prefix + at, end - at);
            part[end - at] = '\0';
            n = hp__node_map_get(n, part);
        }
        if (end < len && prefix[end] == '[') {
            char *close;
            unsigned long i = strtoul(prefix + end + 1, &close, 10);
            if (*close != ']' || !n || n->kind != HP__SEQUENCE || i >= n->count) return NULL;
            n = n->items[i];
            end = (size_t)(close - prefix) + 1;
        }
        at = end < len && prefix[end] == '.' ? end + 1 : end;
    }
    const hp__node *name = n && n->kind == HP__MAPPING ? hp__node_map_get(n, "plugin") : NULL;
    if (!name || name->kind != HP__SCALAR || !name->text) return NULL;
    const hp_plugin_descriptor *d = NULL;
    if (hp_registry_find(w->registry, kind, name->text, &d) != HP_OK) {
        hp_error_clear();
        return NULL;
    }
    return d->params;
}

/* A key the checkpoint's pipeline does not have, now at its default: a key
 * added by a later hpinn or plugin version, whose default is by rule the
 * behaviour before it. */
static int new_key_at_default(const walk *w, const char *path, const char *value) {
    const hp_param_def *table = NULL;
    const char *key = NULL;
    const char *last = strrchr(path, '.');
    if (stage_of(path, &key) >= 0 && strncmp(key, "optimizer.", 10) == 0 && !strchr(key + 10, '.')) {
        table = plugin_table(w, path, (size_t)(last - path), HP_PLUGIN_OPTIMIZER);
        key = last + 1;
    } else if (stage_of(path, &key) >= 0) {
        table = hp__stage_params;
    } else {
        const char *dot = strchr(path, '.');
        char section[64];
        if (!dot || (size_t)(dot - path) >= sizeof section) return 0;
        memcpy(section, path, (size_t)(dot - path));
        section[dot - path] = '\0';
        const hp__section_def *def = hp__pipeline_section(section);
        if (!def || (def->kind != HP__SECTION_CORE && def->kind != HP__SECTION_PLUGIN) || strchr(dot + 1, '.')) return 0;
        table = def->kind == HP__SECTION_CORE ? def->table : plugin_table(w, path, (size_t)(dot - path), def->plugin_kind);
        key = dot + 1;
    }
    for (const hp_param_def *d = table; d && d->name; d++) {
        if (strcmp(d->name, key) != 0) continue;
        if (!d->default_value) return 0;
        if (strcmp(d->default_value, value) == 0) return 1;
        char *e1, *e2;
        double x = strtod(d->default_value, &e1), y = strtod(value, &e2);
        return *d->default_value && *value && !*e1 && !*e2 && x == y;
    }
    return 0;
}

static int allowed(const walk *w, const char *path, const hp__node *a, const hp__node *b) {
    static const char *const free_keys[] = {"output.dir", "output.log_every", "output.checkpoint_every",
                                            "network.threads", NULL};
    for (const char *const *k = free_keys; *k; k++)
        if (strcmp(path, *k) == 0) return 1;
    if (strcmp(path, "upscale") == 0 || strncmp(path, "upscale.", 8) == 0) return 1;
    if (!a && b && b->kind == HP__SCALAR && b->text && new_key_at_default(w, path, b->text)) return 1;
    const char *rest = NULL;
    long k = stage_of(path, &rest);
    if (k < 0) return 0;
    if (strcmp(rest, "name") == 0) return 1;
    if ((size_t)k < w->pos.stage) return 0; /* a stage that has run is what it was */
    if (strcmp(rest, "divergence") == 0) return 1;
    if (strcmp(rest, "iterations") == 0 && b && b->kind == HP__SCALAR && a && a->kind == HP__SCALAR) {
        unsigned long long now = strtoull(b->text, NULL, 10);
        return (size_t)k > w->pos.stage || now >= w->pos.stage_steps;
    }
    return 0;
}

static hp_status refuse(const walk *w, const char *path, const hp__node *a, const hp__node *b) {
    char va[128], vb[128];
    describe(a, va, sizeof va);
    describe(b, vb, sizeof vb);
    const char *rest = NULL;
    long k = stage_of(path, &rest);
    if (k >= 0 && (size_t)k < w->pos.stage)
        HP_ERROR(HP_ERR_CONFIG,
                 "cannot resume %s: %s changed from %s to %s, but stage %ld has already run; a resumed run may "
                 "only append stages or raise the iterations of the current (%zu) or a later stage",
                 w->dir, path, va, vb, k, w->pos.stage);
    if (k >= 0 && strcmp(rest, "iterations") == 0)
        HP_ERROR(HP_ERR_CONFIG,
                 "cannot resume %s: %s changed from %s to %s, below the %llu steps stage %ld has taken", w->dir,
                 path, va, vb, (unsigned long long)w->pos.stage_steps, k);
    HP_ERROR(HP_ERR_CONFIG,
             "cannot resume %s: %s changed from %s to %s; a resumed run trains the pipeline it started with. "
             "Allowed on resume: appending stages, the iterations of the current or a later stage, stage names, "
             "output.dir/log_every/checkpoint_every, network.threads, the upscale section. Start a new run "
             "(another --out, or --force) for anything else",
             w->dir, path, va, vb);
}

static hp_status compare(walk *w, const char *path, const hp__node *a, const hp__node *b);

static hp_status compare_children(walk *w, const char *path, const hp__node *a, const hp__node *b) {
    char sub[1024];
    if (a->kind == HP__SEQUENCE) {
        int is_stages = strcmp(path, "stages") == 0;
        if (b->count < a->count)
            HP_ERROR(HP_ERR_CONFIG,
                     "cannot resume %s: %s has %zu entries, the run had %zu; stages can be appended on resume, "
                     "not removed",
                     w->dir, path, b->count, a->count);
        if (b->count > a->count && !is_stages) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, a->count);
            return refuse(w, sub, NULL, b->items[a->count]);
        }
        w->changes += b->count - a->count; /* appended stages */
        for (size_t i = 0; i < a->count; i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            HP_CALL(compare(w, sub, a->items[i], b->items[i]));
        }
        return HP_OK;
    }
    for (size_t i = 0; i < a->count; i++) {
        const char *key = a->keys[i]->text;
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
        HP_CALL(compare(w, sub, a->items[i], hp__node_map_get(b, key)));
    }
    for (size_t i = 0; i < b->count; i++) {
        const char *key = b->keys[i]->text;
        if (hp__node_map_get(a, key)) continue;
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
        HP_CALL(compare(w, sub, NULL, b->items[i]));
    }
    return HP_OK;
}

static hp_status compare(walk *w, const char *path, const hp__node *a, const hp__node *b) {
    if (a && b && a->kind == b->kind && a->kind != HP__SCALAR) return compare_children(w, path, a, b);
    if (a && b && a->kind == HP__SCALAR && b->kind == HP__SCALAR && strcmp(a->text, b->text) == 0) return HP_OK;
    if (!allowed(w, path, a, b)) return refuse(w, path, a, b);
    w->changes++;
    return HP_OK;
}

hp_status hp__resume_rules_check(const char *then, const char *now, const char *dir, hp__resume_position pos,
                                 const hp_registry *registry, size_t *n_changes) {
    *n_changes = 0;
    hp__node *a = NULL, *b = NULL;
    hp_status st = hp__yaml_parse(then, strlen(then), "the checkpoint's pipeline", &a);
    if (st == HP_OK) st = hp__yaml_parse(now, strlen(now), "the pipeline to resume", &b);
    if (st == HP_OK) {
        walk w = {pos, dir, 0, b, registry};
        st = compare(&w, "", a, b);
        *n_changes = w.changes;
    }
    hp__node_free(a);
    hp__node_free(b);
    return st;
}
