/* sweep_spec.c — axes, members and their checks (sweep_spec.h).
 *
 * Values stay text until a member's `hpinn run` applies them with --set, so a
 * value means exactly what it means on the command line; a value written in
 * the YAML `sweep:` section is turned back into flow text (yaml_flat.h) that
 * parses to the same node. */
#include "sweep_spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_in.h"
#include "params_internal.h"
#include "pipeline.h"
#include "validation.h"
#include "yaml_flat.h"

const char *hp__member_status_name(hp__member_status s) {
    switch (s) {
    case HP__MEMBER_RUNNING: return "running";
    case HP__MEMBER_DONE: return "done";
    case HP__MEMBER_FAILED: return "failed";
    case HP__MEMBER_PENDING: break;
    }
    return "pending";
}

void hp__sweep_strings_free(char **v, size_t n) {
    for (size_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

/* ---- values ------------------------------------------------------------------ */

static hp_status push_string(char ***v, size_t *n, const char *s, size_t len) {
    char **grown = realloc(*v, (*n + 1) * sizeof *grown);
    if (!grown) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    *v = grown;
    char *copy = malloc(len + 1);
    if (!copy) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    memcpy(copy, s, len);
    copy[len] = '\0';
    (*v)[(*n)++] = copy;
    return HP_OK;
}

hp_status hp__sweep_split_values(const char *text, const char *where, char ***values, size_t *n) {
    *values = NULL;
    *n = 0;
    int depth = 0;
    char quote = 0;
    const char *start = text;
    hp_status st = HP_OK;
    for (const char *p = text;; p++) {
        char ch = *p;
        if (quote) {
            if (ch == '\\' && quote == '"' && p[1]) p++;
            else if (ch == quote) quote = 0;
            else if (!ch) {
                st = HP_ERROR_SET(HP_ERR_USAGE, "%s: a quote is not closed; expected \"...\" or '...'", where);
                break;
            }
            continue;
        }
        if (ch == '"' || ch == '\'') quote = ch;
        else if (ch == '[' || ch == '{' || ch == '(') depth++;
        else if ((ch == ']' || ch == '}' || ch == ')') && depth > 0) depth--;
        if (ch && !(ch == ',' && depth == 0)) continue;
        const char *b = start, *e = p;
        while (b < e && isspace((unsigned char)*b)) b++;
        while (e > b && isspace((unsigned char)e[-1])) e--;
        if (b == e) {
            st = HP_ERROR_SET(HP_ERR_USAGE, "%s: an empty value in the list; expected values separated by commas "
                                            "(v1,v2,...; quote a value that holds a comma)", where);
            break;
        }
        if ((st = push_string(values, n, b, (size_t)(e - b))) != HP_OK) break;
        if (!ch) break;
        start = p + 1;
    }
    if (st != HP_OK) {
        hp__sweep_strings_free(*values, *n);
        *values = NULL;
        *n = 0;
    }
    return st;
}

/* ---- axes -------------------------------------------------------------------- */

static void axis_free(hp__sweep_axis *a) {
    free(a->key);
    hp__sweep_strings_free(a->values, a->n_values);
    if (a->value_where) hp__sweep_strings_free(a->value_where, a->n_values);
    free(a->where);
    memset(a, 0, sizeof *a);
}

void hp__sweep_spec_free(hp__sweep_spec *spec) {
    for (size_t i = 0; i < spec->n_axes; i++) axis_free(&spec->axes[i]);
    free(spec->axes);
    free(spec->out);
    memset(spec, 0, sizeof *spec);
}

static int valid_key(const char *k) {
    if (!*k) return 0;
    for (const char *p = k; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("_.[]", *p))) return 0;
    return 1;
}

/* Take over `a` (replacing the axis of the same key, in its place). */
static hp_status put_axis(hp__sweep_spec *spec, hp__sweep_axis *a) {
    for (size_t i = 0; i < spec->n_axes; i++) {
        if (strcmp(spec->axes[i].key, a->key) != 0) continue;
        axis_free(&spec->axes[i]);
        spec->axes[i] = *a;
        memset(a, 0, sizeof *a);
        return HP_OK;
    }
    hp__sweep_axis *grown = realloc(spec->axes, (spec->n_axes + 1) * sizeof *grown);
    if (!grown) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    spec->axes = grown;
    spec->axes[spec->n_axes++] = *a;
    memset(a, 0, sizeof *a);
    return HP_OK;
}

hp_status hp__sweep_spec_set(hp__sweep_spec *spec, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        HP_ERROR(HP_ERR_USAGE, "sweep: --set %s: not an assignment; expected --set section.key=v1,v2,...", assignment);
    hp__sweep_axis a;
    memset(&a, 0, sizeof a);
    size_t where_len = strlen(assignment) + 8;
    if (!(a.key = strndup(assignment, (size_t)(eq - assignment))) || !(a.where = malloc(where_len))) {
        axis_free(&a);
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    snprintf(a.where, where_len, "--set %s", assignment);
    if (!valid_key(a.key)) {
        hp_status st = HP_ERROR_SET(HP_ERR_USAGE, "sweep: %s: '%s' is not a key; expected section.key or "
                                                  "stages[N].key", a.where, a.key);
        axis_free(&a);
        return st;
    }
    hp_status st = hp__sweep_split_values(eq + 1, a.where, &a.values, &a.n_values);
    if (st == HP_OK) st = put_axis(spec, &a);
    axis_free(&a);
    return st;
}

static int parse_seed(const char *s) {
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    return strlen(s) <= 18;
}

hp_status hp__sweep_spec_seeds(hp__sweep_spec *spec, const char *list) {
    hp__sweep_axis a;
    memset(&a, 0, sizeof a);
    size_t where_len = strlen(list) + 16;
    if (!(a.key = strdup(HP__SWEEP_SEED_KEY)) || !(a.where = malloc(where_len))) {
        axis_free(&a);
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    snprintf(a.where, where_len, "--seeds %s", list);
    hp_status st = hp__sweep_split_values(list, a.where, &a.values, &a.n_values);
    for (size_t i = 0; st == HP_OK && i < a.n_values; i++)
        if (!parse_seed(a.values[i]))
            st = HP_ERROR_SET(HP_ERR_USAGE, "sweep: %s: '%s' is not a seed; expected non-negative integers (1,2,3)",
                              a.where, a.values[i]);
    if (st == HP_OK) st = put_axis(spec, &a);
    axis_free(&a);
    return st;
}

/* ---- the sweep: section -------------------------------------------------------- */

static hp_status node_error(const hp__node *n, const char *what, const char *fmt, const char *detail) {
    char loc[600];
    hp__node_location(n, loc, sizeof loc);
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, detail ? detail : "");
    HP_ERROR(HP_ERR_CONFIG, "%s: %s: %s", loc, what, msg);
}

/* The node's values as flow texts: a list gives one value per item, anything else one value. */
static hp_status axis_from_node(const hp__node *keynode, const hp__node *val, const char *what, hp__sweep_axis *a) {
    char loc[600];
    hp__node_location(keynode, loc, sizeof loc);
    /* messages read "WHERE: KEY: ...": the section part of `what` ("sweep.grid") goes into WHERE */
    const char *section = strncmp(what, "sweep.grid.", 11) == 0 ? "sweep.grid" : what;
    size_t wl = strlen(loc) + strlen(section) + 4;
    if (!(a->where = malloc(wl))) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    snprintf(a->where, wl, "%s: %s", loc, section);
    const hp__node *const *items = val->kind == HP__SEQUENCE ? (const hp__node *const *)val->items : &val;
    size_t count = val->kind == HP__SEQUENCE ? val->count : 1;
    if (count == 0) return node_error(val, what, "an empty list; expected at least one value%s", NULL);
    if (!(a->value_where = calloc(count, sizeof *a->value_where))) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        char *text;
        HP_CALL(hp__node_flow_text(items[i], &text));
        hp_status st = push_string(&a->values, &a->n_values, text, strlen(text));
        free(text);
        HP_CALL(st);
        hp__node_location(items[i], loc, sizeof loc);
        if (!(a->value_where[i] = strdup(loc))) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    return HP_OK;
}

static hp_status read_grid(hp__sweep_spec *spec, const hp__node *grid) {
    if (grid->kind != HP__MAPPING)
        return node_error(grid, "sweep.grid", "got a %s; expected a mapping of keys to lists of values "
                          "({coupling.tau2: [0, 10, 100]})", grid->kind == HP__SEQUENCE ? "list" : "scalar");
    for (size_t i = 0; i < grid->count; i++) {
        const hp__node *k = grid->keys[i];
        char what[400];
        snprintf(what, sizeof what, "sweep.grid.%.300s", k->text ? k->text : "");
        if (!k->text || !valid_key(k->text))
            return node_error(k, what, "'%s' is not a key; expected section.key or stages[N].key", k->text);
        if (strcmp(k->text, HP__SWEEP_SEED_KEY) == 0 && hp__node_map_get(grid, "seeds"))
            return node_error(k, what, "given here and as sweep.seeds%s; expected one of them", NULL);
        hp__sweep_axis a;
        memset(&a, 0, sizeof a);
        hp_status st = (a.key = strdup(k->text)) ? axis_from_node(k, grid->items[i], what, &a)
                                                 : HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
        if (st == HP_OK) st = put_axis(spec, &a);
        axis_free(&a);
        HP_CALL(st);
    }
    return HP_OK;
}

static hp_status read_section(hp__sweep_spec *spec, const hp__node *sw) {
    static const char *const keys[] = {"grid", "seeds", "jobs", "out"};
    if (sw->kind != HP__MAPPING)
        return node_error(sw, "sweep", "got a %s; expected a mapping with grid:, seeds:, jobs:, out:",
                          sw->kind == HP__SEQUENCE ? "list" : "scalar");
    for (size_t i = 0; i < sw->count; i++) {
        size_t k = 0;
        while (k < 4 && strcmp(sw->keys[i]->text, keys[k]) != 0) k++;
        if (k < 4) continue;
        const char *near = hp__did_you_mean(sw->keys[i]->text, keys, 4);
        char what[160];
        snprintf(what, sizeof what, "sweep.%.64s", sw->keys[i]->text);
        if (near) return node_error(sw->keys[i], what, "unknown key (did you mean '%s'?); expected one of: grid, "
                                    "seeds, jobs, out", near);
        return node_error(sw->keys[i], what, "unknown key; expected one of: grid, seeds, jobs, out%s", NULL);
    }
    const hp__node *grid = hp__node_map_get(sw, "grid");
    const hp__node *seeds = hp__node_map_get(sw, "seeds");
    if (grid) {
        if (seeds && grid->kind == HP__MAPPING && hp__node_map_get(grid, HP__SWEEP_SEED_KEY))
            return node_error(hp__node_map_get(grid, HP__SWEEP_SEED_KEY), "sweep.grid.network.seed",
                              "given here and as sweep.seeds%s; expected one of them", NULL);
        HP_CALL(read_grid(spec, grid));
    }
    if (seeds) {
        hp__sweep_axis a;
        memset(&a, 0, sizeof a);
        hp_status st = (a.key = strdup(HP__SWEEP_SEED_KEY)) ? axis_from_node(sw->keys[hp__node_map_index(sw, "seeds")],
                                                                              seeds, "sweep.seeds", &a)
                                                            : HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == HP_OK && i < a.n_values; i++)
            if (!parse_seed(a.values[i]))
                st = node_error(seeds->kind == HP__SEQUENCE ? seeds->items[i] : seeds, "sweep.seeds",
                                "'%s' is not a seed; expected a list of non-negative integers ([1, 2, 3])",
                                a.values[i]);
        if (st == HP_OK) st = put_axis(spec, &a);
        axis_free(&a);
        HP_CALL(st);
    }
    const hp__node *jobs = hp__node_map_get(sw, "jobs");
    if (jobs) {
        char *end = NULL;
        long v = jobs->kind == HP__SCALAR ? strtol(jobs->text, &end, 10) : 0;
        if (jobs->kind == HP__SCALAR && strcmp(jobs->text, "auto") == 0) spec->jobs = 0;
        else if (jobs->kind != HP__SCALAR || jobs->quoted || end == jobs->text || *end || v < 1 || v > 4096)
            return node_error(jobs, "sweep.jobs", "'%s' is not a job count; expected an integer from 1 to 4096 or "
                              "auto", jobs->kind == HP__SCALAR ? jobs->text : "(a collection)");
        else spec->jobs = (int)v;
    }
    const hp__node *out = hp__node_map_get(sw, "out");
    if (out) {
        if (out->kind != HP__SCALAR || !*out->text)
            return node_error(out, "sweep.out", "expected a directory name%s", NULL);
        if (!(spec->out = strdup(out->text))) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    return HP_OK;
}

hp_status hp__sweep_spec_from_file(const char *path, hp__sweep_spec *spec) {
    memset(spec, 0, sizeof *spec);
    hp__json_doc doc; /* the pipeline is YAML; json_in reads any file the YAML parser accepts */
    HP_CALL(hp__json_load(path, &doc));
    const hp__node *sw = hp__node_map_get(doc.root, "sweep");
    hp_status st = HP_OK;
    if (sw) {
        spec->from_file = 1;
        st = read_section(spec, sw);
    }
    hp__json_free(&doc);
    if (st != HP_OK) hp__sweep_spec_free(spec);
    return st;
}

/* ---- members -------------------------------------------------------------------- */

/* Filesystem-safe text: letters, digits and . , + - _ kept, brackets, quotes
 * and spaces dropped, anything else one '~'. */
static void safe_text(const char *in, char *out, size_t size, int key) {
    size_t n = 0;
    int tilde = 0;
    for (const char *p = in; *p && n + 1 < size; p++) {
        unsigned char ch = (unsigned char)*p;
        if (isalnum(ch) || strchr(key ? "._-" : ".,+-_", ch)) {
            out[n++] = (char)ch;
            tilde = 0;
        } else if (key && ch == '[') {
            out[n++] = '.';
        } else if (strchr("[]{}\"' ", ch)) {
            continue;
        } else if (!tilde && n > 0) {
            out[n++] = '~';
            tilde = 1;
        }
    }
    while (n > 0 && out[n - 1] == '~') n--;
    out[n] = '\0';
    if (!n) snprintf(out, size, "%s", key ? "key" : "empty");
}

static int is_seed(const hp__sweep_axis *a) { return strcmp(a->key, HP__SWEEP_SEED_KEY) == 0; }

void hp__sweep_members_free(hp__sweep_member *m, size_t n) {
    for (size_t i = 0; m && i < n; i++) hp__sweep_strings_free(m[i].overrides, m[i].n_overrides);
    free(m);
}

static int name_cmp(const void *a, const void *b) {
    const hp__sweep_member *const *x = a, *const *y = b;
    int c = strcmp((*x)->name, (*y)->name);
    return c ? c : (*x < *y ? -1 : *x > *y);
}

/* Two values can make the same safe text ("1/2", "1*2"): the later ones get ~2, ~3. */
static hp_status make_unique(hp__sweep_member *m, size_t n) {
    hp__sweep_member **order = malloc((n ? n : 1) * sizeof *order);
    if (!order) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    for (int pass = 0, again = 1; again && pass < 8; pass++) {
        again = 0;
        for (size_t i = 0; i < n; i++) order[i] = &m[i];
        qsort(order, n, sizeof *order, name_cmp);
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;
            while (j < n && strcmp(order[j]->name, order[i]->name) == 0) j++;
            for (size_t q = i + 1; q < j; q++) { /* in member order: the sort breaks ties by position */
                char suffix[24];
                snprintf(suffix, sizeof suffix, "~%zu", q - i + 1);
                size_t len = strlen(order[q]->name);
                if (len + strlen(suffix) >= HP__SWEEP_NAME_MAX) len = HP__SWEEP_NAME_MAX - 1 - strlen(suffix);
                snprintf(order[q]->name + len, HP__SWEEP_NAME_MAX - len, "%s", suffix);
                again = 1;
            }
            i = j;
        }
    }
    free(order);
    return HP_OK;
}

hp_status hp__sweep_members(const hp__sweep_spec *spec, hp__sweep_member **members, size_t *n_out) {
    *members = NULL;
    *n_out = 0;
    /* product order: declared axes, the seed last (it varies fastest) */
    size_t na = spec->n_axes, order[256];
    if (na > 256) HP_ERROR(HP_ERR_USAGE, "sweep: %zu keys; expected at most 256", na);
    size_t k = 0;
    for (size_t i = 0; i < na; i++)
        if (!is_seed(&spec->axes[i])) order[k++] = i;
    for (size_t i = 0; i < na; i++)
        if (is_seed(&spec->axes[i])) order[k++] = i;
    size_t total = 1, varying = 0;
    for (size_t i = 0; i < na; i++) {
        total *= spec->axes[i].n_values;
        varying += spec->axes[i].n_values > 1;
        if (total > HP__SWEEP_MAX_MEMBERS)
            HP_ERROR(HP_ERR_USAGE, "sweep: the grid has more than %d members; expected a smaller grid (split it into "
                                   "several sweeps)", HP__SWEEP_MAX_MEMBERS);
    }
    hp__sweep_member *m = calloc(total, sizeof *m);
    if (!m) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    hp_status st = HP_OK;
    for (size_t idx = 0; idx < total && st == HP_OK; idx++) {
        hp__sweep_member *mb = &m[idx];
        mb->exit_code = -1;
        if (!(mb->overrides = calloc(na ? na : 1, sizeof *mb->overrides))) {
            st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
            break;
        }
        size_t used = 0, rest = idx;
        size_t pick[256];
        for (size_t j = na; j-- > 0;) { /* the last axis of the order varies fastest */
            const hp__sweep_axis *a = &spec->axes[order[j]];
            pick[j] = rest % a->n_values;
            rest /= a->n_values;
        }
        for (size_t j = 0; j < na && st == HP_OK; j++) {
            const hp__sweep_axis *a = &spec->axes[order[j]];
            const char *v = a->values[pick[j]];
            size_t len = strlen(a->key) + strlen(v) + 2;
            if (!(mb->overrides[j] = malloc(len))) {
                st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
                break;
            }
            snprintf(mb->overrides[j], len, "%s=%s", a->key, v);
            mb->n_overrides++;
            if (a->n_values == 1 && varying) continue; /* the same for every member: not in the name */
            char key[96], val[72];
            if (is_seed(a)) snprintf(key, sizeof key, "seed");
            else safe_text(a->key, key, sizeof key, 1);
            safe_text(v, val, sizeof val, 0);
            if (used + 2 < HP__SWEEP_NAME_MAX - 16)
                used += (size_t)snprintf(mb->name + used, HP__SWEEP_NAME_MAX - 16 - used, "%s%s=%s",
                                         used ? "_" : "", key, val);
            if (used > HP__SWEEP_NAME_MAX - 17) used = HP__SWEEP_NAME_MAX - 17;
        }
        if (!mb->name[0]) snprintf(mb->name, sizeof mb->name, "run");
    }
    if (st == HP_OK) st = make_unique(m, total);
    if (st != HP_OK) {
        hp__sweep_members_free(m, total);
        return st;
    }
    *members = m;
    *n_out = total;
    return HP_OK;
}

/* ---- checks -------------------------------------------------------------------- */

/* Does the table declare `rest` ("tau2", "collocation.points"), or a group of
 * keys under it ("collocation")? A list index ("sigmas[1]") addresses an entry
 * of a declared list. */
static int table_declares(const hp_param_def *t, const char *rest) {
    char name[256];
    snprintf(name, sizeof name, "%s", rest);
    char *bracket = strchr(name, '[');
    if (bracket) *bracket = '\0';
    size_t len = strlen(name);
    for (; t && t->name; t++) {
        if (strcmp(t->name, name) == 0) return 1;
        if (!bracket && strncmp(t->name, name, len) == 0 && t->name[len] == '.') return 1;
    }
    return 0;
}

static hp_status unknown_key(const hp__sweep_axis *a, const char *owner, const hp_param_def *t, const char *rest) {
    const char *names[128];
    size_t n = 0;
    char list[900] = "";
    size_t used = 0;
    for (; t && t->name && n < 128; t++) {
        names[n++] = t->name;
        if (used < sizeof list - 80) used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", t->name);
    }
    const char *near = hp__did_you_mean(rest, names, n);
    if (near)
        HP_ERROR(HP_ERR_CONFIG, "%s: %s: unknown key (did you mean '%s'?); %s has: %s", a->where, a->key, near, owner,
                 list);
    HP_ERROR(HP_ERR_CONFIG, "%s: %s: unknown key; %s has: %s", a->where, a->key, owner, list);
}

/* The value texts of the axis `key`, if the spec has one. */
static const hp__sweep_axis *find_axis(const hp__sweep_spec *spec, const char *key) {
    for (size_t i = 0; i < spec->n_axes; i++)
        if (strcmp(spec->axes[i].key, key) == 0) return &spec->axes[i];
    return NULL;
}

/* rest must be declared by the plugin the section names, or by one of the
 * plugins the grid puts there (`network.plugin: [mlp, msff]`). */
static hp_status check_plugin_key(const hp__sweep_spec *spec, const hp__sweep_axis *a, const hp_config *c,
                                  const hp_registry *r, const char *path, hp_plugin_kind kind, const char *def,
                                  const char *rest) {
    if (!*rest || strcmp(rest, "plugin") == 0) return HP_OK;
    char plugin_key[160];
    snprintf(plugin_key, sizeof plugin_key, "%s.plugin", path);
    const hp__sweep_axis *pa = find_axis(spec, plugin_key);
    const hp_plugin_descriptor *d = NULL;
    if (pa) {
        for (size_t i = 0; i < pa->n_values; i++) {
            char name[128];
            snprintf(name, sizeof name, "%s", pa->values[i]);
            size_t len = strlen(name);
            if (len >= 2 && name[0] == '"' && name[len - 1] == '"') {
                memmove(name, name + 1, len - 2);
                name[len - 2] = '\0';
            }
            if (hp_registry_find(r, kind, name, &d) != HP_OK) {
                char inner[1024];
                snprintf(inner, sizeof inner, "%s", hp_error_message());
                HP_ERROR(HP_ERR_CONFIG, "%s: %s: %s", pa->where, pa->key, inner);
            }
            if (table_declares(d->params, rest)) return HP_OK;
        }
    } else {
        hp_params *p = NULL;
        HP_CALL(hp_config_plugin_section(c, path, kind, def, r, &d, &p));
        hp_params_destroy(p);
        if (table_declares(d->params, rest)) return HP_OK;
    }
    char owner[200];
    snprintf(owner, sizeof owner, "the %s plugin %s", hp_plugin_kind_name(kind), d ? d->name : "?");
    return unknown_key(a, owner, d ? d->params : NULL, rest);
}

static int problem_dim(const hp_config *c) {
    hp_params *p = NULL;
    if (hp_config_section(c, "problem", hp__problem_params, &p) != HP_OK) {
        hp_error_clear(); /* a problem section the grid completes: the default dimension */
        return 1;
    }
    int dim = (int)hp_params_int(p, "dim");
    hp_params_destroy(p);
    return dim;
}

static hp_status check_stage_key(const hp__sweep_spec *spec, const hp__sweep_axis *a, const hp_config *c,
                                 const hp_registry *r, const hp__section_def *s) {
    const char *k = a->key + strlen(s->name);
    if (!*k) return HP_OK; /* the whole list */
    char *end = NULL;
    long idx = *k == '[' ? strtol(k + 1, &end, 10) : -1;
    if (idx < 0 || !end || *end != ']' || (end[1] && end[1] != '.'))
        HP_ERROR(HP_ERR_CONFIG, "%s: %s: expected stages[N].KEY (a stage index, then its key)", a->where, a->key);
    size_t n = hp_config_list_length(c, "stages");
    if ((size_t)idx >= n)
        HP_ERROR(HP_ERR_CONFIG, "%s: %s: stage %ld does not exist (the pipeline has %zu stage%s); expected an index "
                 "below %zu", a->where, a->key, idx, n, n == 1 ? "" : "s", n);
    const char *rest = end[1] ? end + 2 : "";
    if (!*rest || strcmp(rest, "optimizer") == 0) return HP_OK;
    char path[64];
    snprintf(path, sizeof path, "stages[%ld].optimizer", idx);
    if (strncmp(rest, "optimizer.", 10) == 0)
        return check_plugin_key(spec, a, c, r, path, s->plugin_kind, s->default_plugin, rest + 10);
    if (table_declares(s->table, rest)) return HP_OK;
    return unknown_key(a, "a stage", s->table, rest);
}

static hp_status check_key(const hp__sweep_spec *spec, const hp__sweep_axis *a, const hp_config *c,
                           const hp_registry *r) {
    char section[64];
    size_t len = strcspn(a->key, ".[");
    snprintf(section, sizeof section, "%.*s", (int)(len < 63 ? len : 63), a->key);
    const hp__section_def *s = hp__pipeline_section(section);
    if (!s) {
        const char *names[32];
        size_t n = 0;
        for (const hp__section_def *d = hp__pipeline_sections; d->name && n < 32; d++) names[n++] = d->name;
        const char *near = hp__did_you_mean(section, names, n);
        HP_ERROR(HP_ERR_CONFIG, "%s: %s: unknown section '%s'%s%s%s; expected a key of the pipeline "
                 "(problem., network., coupling., stages[N]., ...)", a->where, a->key, section,
                 near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    }
    const char *rest = a->key[len] == '.' ? a->key + len + 1 : a->key + len;
    switch (s->kind) {
    case HP__SECTION_SWEEP:
        HP_ERROR(HP_ERR_CONFIG, "%s: %s: the sweep: section cannot be swept; expected a key of the pipeline",
                 a->where, a->key);
    case HP__SECTION_CONSTANTS: {
        if (!*rest) break;
        int found = 0;
        char list[600] = "";
        size_t used = 0;
        for (size_t k = 0; k < hp_config_constant_count(c); k++) {
            found |= strcmp(hp_config_constant_name(c, k), rest) == 0;
            if (used < sizeof list - 80)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                                         hp_config_constant_name(c, k));
        }
        if (!found)
            HP_ERROR(HP_ERR_CONFIG, "%s: %s: the pipeline declares no constant '%s' (a new constant would change "
                     "nothing); expected one of: %s", a->where, a->key, rest, used ? list : "(none declared)");
        break;
    }
    case HP__SECTION_CORE:
        if (*rest && !table_declares(s->table, rest)) {
            char owner[96];
            snprintf(owner, sizeof owner, "the %s section", s->name);
            HP_CALL(unknown_key(a, owner, s->table, rest));
        }
        break;
    case HP__SECTION_PLUGIN:
        HP_CALL(check_plugin_key(spec, a, c, r, s->name, s->plugin_kind,
                                 hp__pipeline_default_plugin(s->name, problem_dim(c)), rest));
        break;
    case HP__SECTION_STAGES:
        HP_CALL(check_stage_key(spec, a, c, r, s));
        break;
    }
    return HP_OK;
}

hp_status hp__sweep_check_keys(const hp__sweep_spec *spec, const hp_config *c, const hp_registry *r) {
    for (size_t i = 0; i < spec->n_axes; i++) HP_CALL(check_key(spec, &spec->axes[i], c, r));
    return HP_OK;
}

int hp__sweep_key_exists(const hp__sweep_spec *spec, const hp_config *c, const hp_registry *r, const char *key) {
    hp__sweep_axis a;
    memset(&a, 0, sizeof a);
    a.key = (char *)key;
    a.where = (char *)"sweep";
    if (check_key(spec, &a, c, r) == HP_OK) return 1;
    hp_error_clear();
    return 0;
}

/* Validate the combination with axis `vary` at value `v` and every other axis
 * at its first value (vary == n_axes: all first values). The error is located
 * at the value it names (a value set by --set carries its text in messages). */
static hp_status check_combination(const hp__sweep_spec *spec, size_t vary, size_t v, const char *config_path,
                                   const hp_registry *r) {
    hp_config *c = NULL;
    HP_CALL(hp_config_load_file(config_path, &c));
    hp_status st = HP_OK;
    char assignment[4096] = "";
    for (size_t j = 0; j < spec->n_axes && st == HP_OK; j++) {
        const hp__sweep_axis *b = &spec->axes[j];
        snprintf(assignment, sizeof assignment, "%s=%s", b->key, b->values[j == vary ? v : 0]);
        st = hp_config_set(c, assignment);
    }
    if (st == HP_OK) st = hp__pipeline_validate(c, r);
    hp_config_destroy(c);
    if (st == HP_OK) return HP_OK;
    char inner[2048];
    snprintf(inner, sizeof inner, "%s", hp_error_message());
    size_t at = vary < spec->n_axes ? vary : 0, at_v = vary < spec->n_axes ? v : 0;
    for (size_t j = 0; j < spec->n_axes; j++) {
        size_t jv = j == vary ? v : 0;
        snprintf(assignment, sizeof assignment, "--set %s=%s", spec->axes[j].key, spec->axes[j].values[jv]);
        if (strstr(inner, assignment)) {
            at = j;
            at_v = jv;
            break;
        }
    }
    const hp__sweep_axis *a = &spec->axes[at];
    HP_ERROR(st, "%s: %s=%s: this value of the sweep is refused: %s", a->value_where ? a->value_where[at_v] : a->where,
             a->key, a->values[at_v], inner);
}

hp_status hp__sweep_check_values(const hp__sweep_spec *spec, const char *config_path, const hp_registry *r) {
    HP_CALL(check_combination(spec, spec->n_axes, 0, config_path, r));
    for (size_t i = 0; i < spec->n_axes; i++)
        for (size_t v = 1; v < spec->axes[i].n_values; v++) HP_CALL(check_combination(spec, i, v, config_path, r));
    return HP_OK;
}
