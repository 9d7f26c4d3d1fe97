/* config.c — a pipeline document: loading, `--set` overrides, constants, section
 * resolution (core tables and plugin tables) and the resolved YAML.
 *
 * Paths address nodes as dotted keys with list indices: "stages[1].optimizer.lr".
 * Nodes created by an override carry the override text as their "file" (line 0),
 * so an error about them reads "--set network.width=0: network.width: ...". */
#include "hpinn/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hpinn/expr.h"
#include "params_internal.h"
#include "pipeline.h"
#include "yaml_tree.h"

#define HP__MAX_CONFIG_BYTES (16u << 20)

struct hp_config {
    char *file;
    hp__node *root;
    hp__constants constants;
    char **sources;     /* strings nodes point to as their file: overrides */
    size_t n_sources;
};

/* ---- paths ------------------------------------------------------------------ */

typedef struct path_part {
    char key[128];
    long index; /* >= 0: list index after the key ("stages[1]") */
} path_part;

static hp_status parse_path(const char *path, path_part *parts, size_t max, size_t *n_out) {
    size_t n = 0;
    const char *p = path;
    while (*p) {
        if (n == max) HP_ERROR(HP_ERR_USAGE, "path '%s' is too deep; expected at most %zu keys", path, max);
        size_t len = strcspn(p, ".[");
        if (len == 0 || len >= sizeof parts[n].key)
            HP_ERROR(HP_ERR_USAGE, "'%s' is not a valid path; expected keys like network.width or stages[0].iterations", path);
        memcpy(parts[n].key, p, len);
        parts[n].key[len] = '\0';
        parts[n].index = -1;
        p += len;
        if (*p == '[') {
            char *end;
            errno = 0;
            long idx = strtol(p + 1, &end, 10);
            if (end == p + 1 || *end != ']' || idx < 0 || errno)
                HP_ERROR(HP_ERR_USAGE, "'%s' is not a valid path; expected a list index like stages[0]", path);
            parts[n].index = idx;
            p = end + 1;
        }
        n++;
        if (*p == '.') {
            p++;
            if (!*p) HP_ERROR(HP_ERR_USAGE, "'%s' ends with '.'; expected a key after it", path);
        } else if (*p) {
            HP_ERROR(HP_ERR_USAGE, "'%s' is not a valid path; expected keys separated by '.'", path);
        }
    }
    if (n == 0) HP_ERROR(HP_ERR_USAGE, "empty path; expected a key like network.width");
    *n_out = n;
    return HP_OK;
}

/* Node at path, or NULL; *nearest receives the deepest existing ancestor. */
static const hp__node *find_node(const hp__node *root, const char *path, const hp__node **nearest) {
    path_part parts[16];
    size_t n;
    if (nearest) *nearest = root;
    hp_status st = parse_path(path, parts, 16, &n);
    if (st != HP_OK) {
        hp_error_clear();
        return NULL;
    }
    const hp__node *cur = root;
    for (size_t i = 0; i < n; i++) {
        cur = hp__node_map_get(cur, parts[i].key);
        if (!cur) return NULL;
        if (nearest) *nearest = cur;
        if (parts[i].index >= 0) {
            if (cur->kind != HP__SEQUENCE || (size_t)parts[i].index >= cur->count) return NULL;
            cur = cur->items[parts[i].index];
            if (nearest) *nearest = cur;
        }
    }
    return cur;
}

/* ---- constants -------------------------------------------------------------- */

static void constants_clear(hp__constants *c) {
    for (size_t i = 0; i < c->count; i++) free(c->names[i]);
    free(c->names);
    free(c->values);
    memset(c, 0, sizeof *c);
}

static int identifier(const char *s) {
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
    for (const char *c = s; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_')) return 0;
    return strlen(s) <= 63;
}

static hp_status compute_constants(hp_config *c) {
    constants_clear(&c->constants);
    const hp__node *map = hp__node_map_get(c->root, "constants");
    if (!map) return HP_OK;
    char loc[512];
    hp__node_location(map, loc, sizeof loc);
    if (map->kind != HP__MAPPING)
        HP_ERROR(HP_ERR_CONFIG, "%s: constants: got a %s; expected a mapping of names to numbers", loc,
                 map->kind == HP__SEQUENCE ? "list" : "scalar");
    if (map->count > HP_CONFIG_MAX_CONSTANTS) {
        /* before evaluating: each expression sees all earlier constants (quadratic) */
        const hp__node *key = map->keys[HP_CONFIG_MAX_CONSTANTS];
        hp__node_location(key, loc, sizeof loc);
        HP_ERROR(HP_ERR_CONFIG, "%s: constants.%s: constant %d of %zu; expected at most %d constants", loc,
                 key->text, HP_CONFIG_MAX_CONSTANTS + 1, map->count, HP_CONFIG_MAX_CONSTANTS);
    }
    hp__constants *k = &c->constants;
    k->names = calloc(map->count ? map->count : 1, sizeof *k->names);
    k->values = calloc(map->count ? map->count : 1, sizeof *k->values);
    if (!k->names || !k->values) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    static const char *const reserved[] = {"x", "y", "z", "pi", "e", "t"};
    for (size_t i = 0; i < map->count; i++) {
        const hp__node *key = map->keys[i], *val = map->items[i];
        hp__node_location(key, loc, sizeof loc);
        if (!identifier(key->text))
            HP_ERROR(HP_ERR_CONFIG, "%s: constants.%.64s: not a valid name; expected letters, digits and _ (not starting "
                     "with a digit, at most 63)",
                     loc, key->text);
        for (size_t r = 0; r < sizeof reserved / sizeof *reserved; r++)
            if (strcmp(key->text, reserved[r]) == 0)
                HP_ERROR(HP_ERR_CONFIG, "%s: constants.%s: '%s' is reserved (a variable or built-in constant); expected another name",
                         loc, key->text, key->text);
        hp__node_location(val, loc, sizeof loc);
        if (val->kind != HP__SCALAR)
            HP_ERROR(HP_ERR_CONFIG, "%s: constants.%s: got a %s; expected a number or an expression of earlier constants",
                     loc, key->text, val->kind == HP__SEQUENCE ? "list" : "mapping");
        double v;
        char err[256];
        if (!hp__eval_constant_expression(val->text, k, &v, err, sizeof err))
            HP_ERROR(HP_ERR_CONFIG, "%s: constants.%s: '%s' %s; expected a number or an expression of earlier constants",
                     loc, key->text, val->text, err);
        if (!(k->names[k->count] = strdup(key->text))) HP_ERROR(HP_ERR_NOMEM, "out of memory");
        k->values[k->count++] = v;
    }
    return HP_OK;
}

/* ---- top level -------------------------------------------------------------- */

static hp_status check_top_level(const hp_config *c) {
    char loc[512];
    if (c->root->kind != HP__MAPPING) {
        hp__node_location(c->root, loc, sizeof loc);
        HP_ERROR(HP_ERR_CONFIG, "%s: pipeline: got a %s at the top level; expected a mapping of sections (problem:, network:, ...)",
                 loc, c->root->kind == HP__SEQUENCE ? "list" : "scalar");
    }
    const char *names[32];
    size_t n = 0;
    char list[512] = "";
    size_t used = 0;
    for (const hp__section_def *s = hp__pipeline_sections; s->name && n < 32; s++) {
        names[n++] = s->name;
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", s->name);
    }
    for (size_t i = 0; i < c->root->count; i++) {
        const hp__node *key = c->root->keys[i];
        if (hp__pipeline_section(key->text)) continue;
        hp__node_location(key, loc, sizeof loc);
        const char *near = hp__did_you_mean(key->text, names, n);
        if (near)
            HP_ERROR(HP_ERR_CONFIG, "%s: %.64s: unknown section (did you mean '%s'?); expected one of: %s", loc,
                     key->text, near, list);
        HP_ERROR(HP_ERR_CONFIG, "%s: %.64s: unknown section; expected one of: %s", loc, key->text, list);
    }
    const hp__node *stages = hp__node_map_get(c->root, "stages");
    if (stages && stages->kind != HP__SEQUENCE) {
        hp__node_location(stages, loc, sizeof loc);
        HP_ERROR(HP_ERR_CONFIG, "%s: stages: got a %s; expected a list of stages (- iterations: ..., optimizer: {...})",
                 loc, stages->kind == HP__MAPPING ? "mapping" : "scalar");
    }
    return HP_OK;
}

hp_status hp_config_load_string(const char *text, size_t length, const char *name, hp_config **out) {
    *out = NULL;
    hp_config *c = calloc(1, sizeof *c);
    if (!c) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    hp_status st = HP_OK;
    if (!(c->file = strdup(name ? name : "<string>"))) {
        st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    HP_CALL_GOTO(st, hp__yaml_parse(text, length, c->file, &c->root), fail);
    HP_CALL_GOTO(st, check_top_level(c), fail);
    HP_CALL_GOTO(st, compute_constants(c), fail);
    *out = c;
    return HP_OK;
fail:
    hp_config_destroy(c);
    return st;
}

static const char *file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

hp_status hp_config_load_file(const char *path, hp_config **out) {
    *out = NULL;
    /* O_NONBLOCK: opening a FIFO would otherwise wait for a writer; the kind of
     * file is then read from the open descriptor, not from a racy stat(path) */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) HP_ERROR(HP_ERR_NOT_FOUND, "%s: cannot open the pipeline: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        HP_ERROR(HP_ERR_NOT_FOUND, "%s: cannot open the pipeline: %s", path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        HP_ERROR(HP_ERR_CONFIG, "%s: is %s; expected a YAML file", path, file_kind(sb.st_mode));
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    char *buf = malloc(HP__MAX_CONFIG_BYTES + 1);
    if (!buf) {
        fclose(f);
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    size_t len = fread(buf, 1, HP__MAX_CONFIG_BYTES + 1, f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        HP_ERROR(HP_ERR_NOT_FOUND, "%s: cannot read the pipeline", path);
    }
    if (len > HP__MAX_CONFIG_BYTES) {
        free(buf);
        HP_ERROR(HP_ERR_CONFIG, "%s: larger than %u bytes; expected a pipeline file", path, HP__MAX_CONFIG_BYTES);
    }
    hp_status st = hp_config_load_string(buf, len, path, out);
    free(buf);
    return st;
}

void hp_config_destroy(hp_config *c) {
    if (!c) return;
    hp__node_free(c->root);
    constants_clear(&c->constants);
    for (size_t i = 0; i < c->n_sources; i++) free(c->sources[i]);
    free(c->sources);
    free(c->file);
    free(c);
}

const char *hp_config_file(const hp_config *c) { return c->file; }

/* ---- overrides -------------------------------------------------------------- */

static hp_status set_file_recursive(hp__node *n, const char *file) {
    n->file = file;
    n->line = 0;
    n->col = 0;
    for (size_t i = 0; i < n->count; i++) {
        set_file_recursive(n->items[i], file);
        if (n->kind == HP__MAPPING) set_file_recursive(n->keys[i], file);
    }
    return HP_OK;
}

hp_status hp_config_set(hp_config *c, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        HP_ERROR(HP_ERR_USAGE, "--set %s: not an assignment; expected --set section.key=value", assignment);
    char **srcs = realloc(c->sources, (c->n_sources + 1) * sizeof *srcs);
    if (!srcs) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    c->sources = srcs;
    size_t slen = strlen(assignment) + 7;
    char *source = malloc(slen);
    if (!source) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    snprintf(source, slen, "--set %s", assignment);
    c->sources[c->n_sources++] = source;

    char path[512];
    if ((size_t)(eq - assignment) >= sizeof path) HP_ERROR(HP_ERR_USAGE, "%s: path too long", source);
    memcpy(path, assignment, (size_t)(eq - assignment));
    path[eq - assignment] = '\0';
    path_part parts[16];
    size_t n;
    hp_status st = parse_path(path, parts, 16, &n);
    if (st != HP_OK) {
        /* hp_error_message() is the buffer HP_ERROR formats into: copy it first */
        char inner[2048];
        snprintf(inner, sizeof inner, "%s", hp_error_message());
        HP_ERROR(HP_ERR_USAGE, "%s: %s", source, inner);
    }

    hp__node *value = NULL;
    st = hp__yaml_parse(eq + 1, strlen(eq + 1), source, &value);
    if (st != HP_OK) HP_ERROR(HP_ERR_CONFIG, "%s: value is not valid YAML; expected a scalar or a [list]", source);
    set_file_recursive(value, source);

    hp__node *cur = c->root;
    for (size_t i = 0; i < n; i++) {
        int last = i + 1 == n;
        if (cur->kind != HP__MAPPING) {
            hp__node_free(value);
            HP_ERROR(HP_ERR_CONFIG, "%s: %s is not a mapping; expected a path to a key", source, parts[i > 0 ? i - 1 : 0].key);
        }
        hp__node *child = hp__node_map_get(cur, parts[i].key);
        if (parts[i].index >= 0) {
            /* the index one past the end appends an entry (a stage added on resume) */
            if (child && child->kind == HP__SEQUENCE && (size_t)parts[i].index == child->count) {
                hp__node *entry = last ? value : hp__node_new(HP__MAPPING, source, 0, 0);
                if (!entry || hp__node_append(child, entry) != HP_OK) {
                    if (entry != value) hp__node_free(entry);
                    hp__node_free(value);
                    HP_ERROR(HP_ERR_NOMEM, "out of memory");
                }
                if (last) goto applied;
            }
            if (!child || child->kind != HP__SEQUENCE || (size_t)parts[i].index >= child->count) {
                size_t have = child && child->kind == HP__SEQUENCE ? child->count : 0;
                hp__node_free(value);
                HP_ERROR(HP_ERR_CONFIG, "%s: %s[%ld] does not exist (%s has %zu entr%s); expected an index up to %zu "
                                        "(%zu appends an entry)",
                         source, parts[i].key, parts[i].index, parts[i].key, have, have == 1 ? "y" : "ies", have,
                         have);
            }
            if (last) {
                hp__node_free(child->items[parts[i].index]);
                child->items[parts[i].index] = value;
                goto applied;
            }
            cur = child->items[parts[i].index];
            continue;
        }
        if (last) {
            hp__node *key = hp__node_new(HP__SCALAR, source, 0, 0);
            if (!key || !(key->text = strdup(parts[i].key))) {
                hp__node_free(key);
                hp__node_free(value);
                HP_ERROR(HP_ERR_NOMEM, "out of memory");
            }
            st = hp__node_map_put(cur, key, value);
            if (st != HP_OK) {
                hp__node_free(key);
                hp__node_free(value);
                return st;
            }
            goto applied;
        }
        if (!child) {
            hp__node *key = hp__node_new(HP__SCALAR, source, 0, 0);
            child = hp__node_new(HP__MAPPING, source, 0, 0);
            if (!key || !child || !(key->text = strdup(parts[i].key)) || hp__node_map_put(cur, key, child) != HP_OK) {
                hp__node_free(key);
                hp__node_free(child);
                hp__node_free(value);
                HP_ERROR(HP_ERR_NOMEM, "out of memory");
            }
        }
        cur = child;
    }
applied:
    HP_CALL(check_top_level(c));
    HP_CALL(compute_constants(c));
    return HP_OK;
}

/* ---- sections --------------------------------------------------------------- */

int hp_config_has(const hp_config *c, const char *path) { return find_node(c->root, path, NULL) != NULL; }

size_t hp_config_list_length(const hp_config *c, const char *path) {
    const hp__node *n = find_node(c->root, path, NULL);
    return n && n->kind == HP__SEQUENCE ? n->count : 0;
}

void hp_config_location(const hp_config *c, const char *path, char *buf, size_t size) {
    const hp__node *nearest = NULL;
    const hp__node *n = find_node(c->root, path, &nearest);
    hp__node_location(n ? n : nearest, buf, size);
}

hp_status hp_config_section(const hp_config *c, const char *path, const hp_param_def *table, hp_params **out) {
    const hp__node *nearest = NULL;
    const hp__node *n = find_node(c->root, path, &nearest);
    HP_CALL(hp__params_resolve(table, path, n, n ? n : nearest, NULL, &c->constants, out));
    return HP_OK;
}

hp_status hp_config_section_except(const hp_config *c, const char *path, const hp_param_def *table,
                                   const char *ignore, hp_params **out) {
    const hp__node *nearest = NULL;
    const hp__node *n = find_node(c->root, path, &nearest);
    HP_CALL(hp__params_resolve(table, path, n, n ? n : nearest, ignore, &c->constants, out));
    return HP_OK;
}

hp_status hp_config_plugin_section(const hp_config *c, const char *path, hp_plugin_kind kind,
                                   const char *default_plugin, const hp_registry *r,
                                   const hp_plugin_descriptor **desc, hp_params **out) {
    *desc = NULL;
    *out = NULL;
    const hp__node *nearest = NULL;
    const hp__node *n = find_node(c->root, path, &nearest);
    char loc[512];
    hp__node_location(n ? n : nearest, loc, sizeof loc);
    if (n && n->kind != HP__MAPPING)
        HP_ERROR(HP_ERR_CONFIG, "%s: %s: got a %s; expected a mapping with plugin: <name> and its parameters", loc,
                 path, n->kind == HP__SEQUENCE ? "list" : "scalar");
    const hp__node *pn = n ? hp__node_map_get(n, "plugin") : NULL;
    const char *name = default_plugin;
    if (pn) {
        hp__node_location(pn, loc, sizeof loc);
        if (pn->kind != HP__SCALAR)
            HP_ERROR(HP_ERR_CONFIG, "%s: %s.plugin: got a %s; expected a %s plugin name", loc, path,
                     pn->kind == HP__SEQUENCE ? "list" : "mapping", hp_plugin_kind_name(kind));
        name = pn->text;
    }
    if (!name) {
        /* list what could be chosen */
        char list[1024] = "";
        size_t used = 0;
        for (size_t i = 0; i < hp_registry_count(r); i++) {
            const hp_plugin_descriptor *d = hp_registry_get(r, i, NULL);
            if (d->kind == kind)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", d->name);
        }
        HP_ERROR(HP_ERR_CONFIG, "%s: %s.plugin: missing; expected the name of a %s plugin (available: %s)", loc, path,
                 hp_plugin_kind_name(kind), used ? list : "none");
    }
    hp_status st = hp_registry_find(r, kind, name, desc);
    if (st != HP_OK) {
        char inner[2048];
        snprintf(inner, sizeof inner, "%s", hp_error_message());
        HP_ERROR(st, "%s: %s.plugin: %s", loc, path, inner);
    }
    HP_CALL(hp_config_section_except(c, path, (*desc)->params, "plugin", out));
    return HP_OK;
}

size_t hp_config_constant_count(const hp_config *c) { return c->constants.count; }
const char *hp_config_constant_name(const hp_config *c, size_t i) { return c->constants.names[i]; }
double hp_config_constant_value(const hp_config *c, size_t i) { return c->constants.values[i]; }

/* ---- whole pipeline --------------------------------------------------------- */

/* The problem's expressions must parse in the problem's dimension with the
 * pipeline's constants: a typo in K is a config error at K's location. */
static hp_status check_problem_expressions(const hp_config *c, const hp_params *problem) {
    static const char *const keys[] = {"K", "q", "reference.exact"};
    int dim = (int)hp_params_int(problem, "dim");
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *text = hp_params_string(problem, keys[i]);
        if (!text) continue;
        char path[64], loc[600];
        snprintf(path, sizeof path, "problem.%s", keys[i]);
        hp_config_location(c, path, loc, sizeof loc);
        size_t used = strlen(loc);
        snprintf(loc + used, sizeof loc - used, ": %s", path);
        hp_expr *e = NULL;
        HP_CALL(hp_expr_parse(text, dim, (const char *const *)c->constants.names, c->constants.values,
                              c->constants.count, loc, &e));
        hp_expr_destroy(e);
    }
    return HP_OK;
}

static hp_status resolve_plugin_yaml(const hp_config *c, const char *path, hp_plugin_kind kind, const char *def,
                                     const hp_registry *r, FILE *out, int indent) {
    const hp_plugin_descriptor *d;
    hp_params *p;
    HP_CALL(hp_config_plugin_section(c, path, kind, def, r, &d, &p));
    if (out) {
        fprintf(out, "%*splugin: %s\n", indent, "", d->name);
        hp__params_write_yaml(p, out, indent);
    }
    hp_params_destroy(p);
    return HP_OK;
}

/* An empty list would train nothing; the trainer runs at most HP_CONFIG_MAX_STAGES. */
static hp_status check_stage_count(const hp__node *stages) {
    char loc[512];
    if (stages->count == 0) {
        hp__node_location(stages, loc, sizeof loc);
        HP_ERROR(HP_ERR_CONFIG, "%s: stages: an empty list; expected at least one stage "
                 "(- {iterations: 1000, optimizer: {plugin: adam}})", loc);
    }
    if (stages->count > HP_CONFIG_MAX_STAGES) {
        hp__node_location(stages->items[HP_CONFIG_MAX_STAGES], loc, sizeof loc);
        HP_ERROR(HP_ERR_CONFIG, "%s: stages[%d]: stage %d of %zu; expected at most %d stages", loc,
                 HP_CONFIG_MAX_STAGES, HP_CONFIG_MAX_STAGES + 1, stages->count, HP_CONFIG_MAX_STAGES);
    }
    return HP_OK;
}

hp_status hp_config_check_run(const hp_config *c) {
    if (!hp__node_map_get(c->root, "network"))
        HP_ERROR(HP_ERR_CONFIG, "%s: network: missing section; expected network: {plugin: msff, ...}", c->file);
    if (!hp__node_map_get(c->root, "stages"))
        HP_ERROR(HP_ERR_CONFIG, "%s: stages: missing section; expected a list of training stages, e.g. "
                 "stages: [{iterations: 2000, optimizer: {plugin: adam, lr: 1e-3}}]", c->file);
    return HP_OK;
}

hp_status hp_config_resolve(const hp_config *c, const hp_registry *r, FILE *out) {
    for (const hp__section_def *s = hp__pipeline_sections; s->name; s++) {
        int present = hp__node_map_get(c->root, s->name) != NULL;
        switch (s->kind) {
        case HP__SECTION_CONSTANTS:
            if (!out || !c->constants.count) break;
            fprintf(out, "constants:\n");
            for (size_t i = 0; i < c->constants.count; i++)
                fprintf(out, "  %s: %.17g\n", c->constants.names[i], c->constants.values[i]);
            break;
        case HP__SECTION_CORE: {
            /* problem is always needed; other core sections only when present or
             * when their defaults describe the run (coupling, output) */
            if (!present && strcmp(s->name, "upscale") == 0) break;
            hp_params *p;
            HP_CALL(hp_config_section(c, s->name, s->table, &p));
            if (s->table == hp__problem_params) {
                hp_status st = check_problem_expressions(c, p);
                if (st != HP_OK) {
                    hp_params_destroy(p);
                    return st;
                }
            }
            if (out) {
                fprintf(out, "%s:\n", s->name);
                hp__params_write_yaml(p, out, 2);
            }
            hp_params_destroy(p);
            break;
        }
        case HP__SECTION_PLUGIN:
            if (!present) break;
            if (out) fprintf(out, "%s:\n", s->name);
            HP_CALL(resolve_plugin_yaml(c, s->name, s->plugin_kind, s->default_plugin, r, out, 2));
            break;
        case HP__SECTION_SWEEP: /* read by `hpinn sweep` (core/cli/sweep_spec.c), not part of a run */
            break;
        case HP__SECTION_STAGES: {
            if (present) HP_CALL(check_stage_count(hp__node_map_get(c->root, s->name)));
            size_t n = hp_config_list_length(c, s->name);
            if (!n) break;
            if (out) fprintf(out, "stages:\n");
            for (size_t i = 0; i < n; i++) {
                char path[64], opt[80];
                snprintf(path, sizeof path, "stages[%zu]", i);
                snprintf(opt, sizeof opt, "%s.optimizer", path);
                hp_params *p;
                HP_CALL(hp_config_section_except(c, path, s->table, "optimizer", &p));
                if (out) {
                    /* "- " replaces the indent of the first line of the entry */
                    char *text = NULL;
                    size_t len = 0;
                    FILE *mem = open_memstream(&text, &len);
                    if (!mem) {
                        hp_params_destroy(p);
                        HP_ERROR(HP_ERR_NOMEM, "out of memory");
                    }
                    hp__params_write_yaml(p, mem, 4);
                    fclose(mem);
                    fprintf(out, "  - %s", text && len > 4 ? text + 4 : "");
                    free(text);
                    fprintf(out, "    optimizer:\n");
                }
                hp_params_destroy(p);
                HP_CALL(resolve_plugin_yaml(c, opt, s->plugin_kind, s->default_plugin, r, out, 6));
            }
            break;
        }
        }
    }
    return HP_OK;
}
