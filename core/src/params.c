/* params.c — validation of a YAML mapping against a parameter table, and the
 * resolved parameter sets (hp_params) that plugins and core sections read.
 *
 * Every message has the one form users learn to read:
 *   FILE:LINE:COL: section.key: what was wrong; what is expected
 * Tables may declare nested keys with dots ("collocation.points"): the mapping
 * `collocation: {points: 840}` is then accepted and validated key by key. */
#include "params_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct hp__value {
    const hp_param_def *def;
    int set;          /* given by the pipeline or --set (not the default) */
    char *where;      /* "FILE:LINE:COL" of the value, NULL for defaults */
    int64_t i;
    double r;
    int b;
    char *s;
    double *reals;
    size_t n_reals;
} hp__value;

struct hp_params {
    char *section;
    char *where;      /* location of the section (for defaults and missing keys) */
    size_t count;
    hp__value *values;
};

const char *hp_param_type_name(hp_param_type t) {
    switch (t) {
    case HP_PARAM_INT: return "int";
    case HP_PARAM_REAL: return "real";
    case HP_PARAM_BOOL: return "bool";
    case HP_PARAM_STRING: return "string";
    case HP_PARAM_ENUM: return "enum";
    case HP_PARAM_REALS: return "list of reals";
    }
    return "?";
}

/* ---- did-you-mean ------------------------------------------------------------ */

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return (size_t)-1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            if (up + 1 < best) best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *hp__did_you_mean(const char *word, const char *const *candidates, size_t count) {
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < count; i++) {
        size_t d = edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    size_t len = strlen(word);
    size_t limit = len < 4 ? 1 : (len < 9 ? 2 : 3);
    return best_d <= limit ? best : NULL;
}

/* ---- expectations and messages ---------------------------------------------- */

static void fmt_number(char *buf, size_t size, double v) { snprintf(buf, size, "%.17g", v); }

/* "an integer >= 1", "a real number in (0, 1]", "one of: tanh, swish" ... */
static void describe_expected(const hp_param_def *d, char *buf, size_t size) {
    char lo[40], hi[40], range[128] = "";
    fmt_number(lo, sizeof lo, d->min);
    fmt_number(hi, sizeof hi, d->max);
    int has_min = (d->flags & HP_PARAM_HAS_MIN) != 0, has_max = (d->flags & HP_PARAM_HAS_MAX) != 0;
    int open = (d->flags & HP_PARAM_MIN_OPEN) != 0;
    if (has_min && has_max)
        snprintf(range, sizeof range, " in %c%s, %s]", open ? '(' : '[', lo, hi);
    else if (has_min)
        snprintf(range, sizeof range, " %s %s", open ? ">" : ">=", lo);
    else if (has_max)
        snprintf(range, sizeof range, " <= %s", hi);
    switch (d->type) {
    case HP_PARAM_INT: snprintf(buf, size, "an integer%s%s", range, d->flags & HP_PARAM_AUTO ? " or auto" : ""); break;
    case HP_PARAM_REAL: snprintf(buf, size, "a real number%s%s", range, d->flags & HP_PARAM_AUTO ? " or auto" : ""); break;
    case HP_PARAM_BOOL: snprintf(buf, size, "true or false"); break;
    case HP_PARAM_STRING: snprintf(buf, size, "a string"); break;
    case HP_PARAM_ENUM: {
        snprintf(buf, size, "one of: ");
        size_t used = strlen(buf);
        for (const char *c = d->choices; c && *c && used + 2 < size; c++) {
            if (*c == '|') {
                used += (size_t)snprintf(buf + used, size - used, ", ");
            } else {
                buf[used++] = *c;
                buf[used] = '\0';
            }
        }
        break;
    }
    case HP_PARAM_REALS:
        if (d->min_len > 0)
            snprintf(buf, size, "a list of at least %zu real number%s%s%s", d->min_len,
                     d->min_len == 1 ? "" : "s", range[0] ? ", each" : "", range);
        else
            snprintf(buf, size, "a list of real numbers%s%s", range[0] ? ", each" : "", range);
        break;
    }
}

static hp_status value_error(const hp__node *at, const char *section, const char *key,
                             const hp_param_def *d, const char *fmt, ...) {
    char loc[512], what[512], expected[512];
    hp__node_location(at, loc, sizeof loc);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    describe_expected(d, expected, sizeof expected);
    return HP_ERROR_SET(HP_ERR_CONFIG, "%s: %s.%s: %s; expected %s", loc, section, key, what, expected);
}

/* ---- scalar conversion ------------------------------------------------------ */

/* A value as quoted in a message: long ones are cut, so that what was wrong with
 * a 16 MB scalar still fits in the message after it. */
typedef struct shown_text {
    char s[72];
} shown_text;

static shown_text shown(const char *text) {
    shown_text t;
    if (strlen(text) < sizeof t.s)
        snprintf(t.s, sizeof t.s, "%s", text);
    else
        snprintf(t.s, sizeof t.s, "%.*s...", (int)sizeof t.s - 4, text);
    return t;
}

/* 1: the whole text is a number, in *out. 0: it is not (an expression, perhaps).
 * -1: a number beyond the range of a double; *out is +-HUGE_VAL, the sign says
 * which end. An underflow is left to the expression evaluator, as it always was. */
static int parse_double_exact(const char *s, double *out) {
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    if (*end) return 0;
    if (errno == ERANGE) {
        if (!isinf(v)) return 0;
        *out = v;
        return -1;
    }
    /* YAML 1.1 spellings of special values; strtod already took inf/nan. */
    *out = v;
    return 1;
}

/* 1: the text is a decimal integer ("-12", "+7"), in *out. 0: it is not. -1/-2:
 * it is one, too large/too small for 64 bits. Read exactly, not through a double,
 * so that 2^53 + 1 stays itself and 10^21 is "too large", not "not an integer". */
static int parse_int_literal(const char *s, int64_t *out) {
    while (isspace((unsigned char)*s)) s++;
    const char *digits = s + (*s == '-' || *s == '+');
    if (!isdigit((unsigned char)*digits)) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (*end) return 0;
    if (errno == ERANGE) return v > 0 ? -1 : -2;
    *out = (int64_t)v;
    return 1;
}

static hp_status to_real(const hp__node *n, const char *section, const char *key,
                         const hp_param_def *d, const hp__constants *c, double *out) {
    if (n->kind != HP__SCALAR)
        return value_error(n, section, key, d, "got a %s", n->kind == HP__SEQUENCE ? "list" : "mapping");
    double v;
    int parsed = parse_double_exact(n->text, &v);
    if (parsed < 0)
        return value_error(n, section, key, d, "'%s' is too %s", shown(n->text).s, v > 0 ? "large" : "small");
    if (!parsed) {
        char err[256];
        if (!hp__eval_constant_expression(n->text, c, &v, err, sizeof err))
            return value_error(n, section, key, d, "'%s' is not a number (%s)", shown(n->text).s, err);
    }
    if (!isfinite(v)) return value_error(n, section, key, d, "'%s' is not finite", shown(n->text).s);
    *out = v;
    return HP_OK;
}

static hp_status check_range(const hp__node *n, const char *section, const char *key,
                             const hp_param_def *d, double v) {
    int bad = 0;
    if (d->flags & HP_PARAM_HAS_MIN) bad |= (d->flags & HP_PARAM_MIN_OPEN) ? !(v > d->min) : !(v >= d->min);
    if (d->flags & HP_PARAM_HAS_MAX) bad |= !(v <= d->max);
    if (bad) {
        char txt[40];
        fmt_number(txt, sizeof txt, v);
        return value_error(n, section, key, d, "%s is out of range", txt);
    }
    return HP_OK;
}

static int enum_index(const char *choices, const char *word) {
    int idx = 0;
    const char *p = choices;
    size_t wl = strlen(word);
    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == wl && strncmp(p, word, len) == 0) return idx;
        idx++;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

static hp_status convert_value(hp__value *v, const hp__node *n, const char *section,
                               const hp__constants *c) {
    const hp_param_def *d = v->def;
    const char *key = d->name;
    switch (d->type) {
    case HP_PARAM_INT: {
        int64_t i;
        if ((d->flags & HP_PARAM_AUTO) && n->kind == HP__SCALAR && !n->quoted && strcmp(n->text, "auto") == 0) {
            v->i = -1;
            break;
        }
        int lit = n->kind == HP__SCALAR ? parse_int_literal(n->text, &i) : 0;
        if (lit < 0)
            return value_error(n, section, key, d, "'%s' is too %s", shown(n->text).s, lit == -1 ? "large" : "small");
        if (!lit) { /* 1e3, 2*k, ...: a real that must be a whole number of 64 bits */
            double r;
            HP_CALL(to_real(n, section, key, d, c, &r));
            if (r != floor(r)) return value_error(n, section, key, d, "'%s' is not an integer", shown(n->text).s);
            if (r >= 0x1p63 || r < -0x1p63)
                return value_error(n, section, key, d, "'%s' is too %s", shown(n->text).s,
                                   r > 0 ? "large" : "small");
            i = (int64_t)r;
        }
        HP_CALL(check_range(n, section, key, d, (double)i));
        v->i = i;
        break;
    }
    case HP_PARAM_REAL:
        if ((d->flags & HP_PARAM_AUTO) && n->kind == HP__SCALAR && !n->quoted && strcmp(n->text, "auto") == 0) {
            v->r = NAN;
            break;
        }
        HP_CALL(to_real(n, section, key, d, c, &v->r));
        HP_CALL(check_range(n, section, key, d, v->r));
        break;
    case HP_PARAM_BOOL: {
        if (n->kind != HP__SCALAR) return value_error(n, section, key, d, "got a %s", n->kind == HP__SEQUENCE ? "list" : "mapping");
        static const char *const yes[] = {"true", "yes", "on", "y"}, *const no[] = {"false", "no", "off", "n"};
        int found = 0;
        for (int i = 0; i < 4; i++) {
            if (strcasecmp(n->text, yes[i]) == 0) { v->b = 1; found = 1; }
            if (strcasecmp(n->text, no[i]) == 0) { v->b = 0; found = 1; }
        }
        if (!found) return value_error(n, section, key, d, "'%s' is not a boolean", shown(n->text).s);
        break;
    }
    case HP_PARAM_STRING:
    case HP_PARAM_ENUM: {
        if (n->kind != HP__SCALAR) return value_error(n, section, key, d, "got a %s", n->kind == HP__SEQUENCE ? "list" : "mapping");
        if (d->type == HP_PARAM_ENUM && enum_index(d->choices, n->text) < 0) {
            /* offer the nearest choice */
            char words[16][64];
            const char *ptrs[16];
            size_t k = 0;
            const char *p = d->choices;
            while (p && *p && k < 16) {
                const char *bar = strchr(p, '|');
                size_t len = bar ? (size_t)(bar - p) : strlen(p);
                if (len > 63) len = 63;
                memcpy(words[k], p, len);
                words[k][len] = '\0';
                ptrs[k] = words[k];
                k++;
                p = bar ? bar + 1 : NULL;
            }
            const char *near = hp__did_you_mean(n->text, ptrs, k);
            if (near)
                return value_error(n, section, key, d, "unknown value '%s' (did you mean '%s'?)", shown(n->text).s,
                                   near);
            return value_error(n, section, key, d, "unknown value '%s'", shown(n->text).s);
        }
        free(v->s);
        v->s = strdup(n->text);
        if (!v->s) HP_ERROR(HP_ERR_NOMEM, "out of memory");
        break;
    }
    case HP_PARAM_REALS: {
        size_t count = n->kind == HP__SEQUENCE ? n->count : 1;
        if (n->kind == HP__MAPPING) return value_error(n, section, key, d, "got a mapping");
        if (count < d->min_len)
            return value_error(n, section, key, d, "got %zu entr%s", count, count == 1 ? "y" : "ies");
        double *vals = calloc(count ? count : 1, sizeof *vals);
        if (!vals) HP_ERROR(HP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < count; i++) {
            const hp__node *item = n->kind == HP__SEQUENCE ? n->items[i] : n;
            hp_status st = to_real(item, section, key, d, c, &vals[i]);
            if (st == HP_OK) st = check_range(item, section, key, d, vals[i]);
            if (st != HP_OK) {
                free(vals);
                return st;
            }
        }
        free(v->reals);
        v->reals = vals;
        v->n_reals = count;
        break;
    }
    default:
        HP_ERROR(HP_ERR_INTERNAL, "parameter %s.%s has an invalid type %d", section, key, (int)d->type);
    }
    return HP_OK;
}

/* ---- resolution ------------------------------------------------------------- */

static size_t table_length(const hp_param_def *t) {
    size_t n = 0;
    while (t && t[n].name) n++;
    return n;
}

static hp__value *find_value(const hp_params *p, const char *name) {
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->values[i].def->name, name) == 0) return &p->values[i];
    return NULL;
}

static int has_prefix_entries(const hp_param_def *t, const char *prefix) {
    size_t len = strlen(prefix);
    for (size_t i = 0; t[i].name; i++)
        if (strncmp(t[i].name, prefix, len) == 0 && t[i].name[len] == '.') return 1;
    return 0;
}

/* Names valid directly under `prefix` ("" or "collocation."), for did-you-mean. */
static size_t level_names(const hp_param_def *t, const char *prefix, char names[][64], size_t max) {
    size_t plen = strlen(prefix), k = 0;
    for (size_t i = 0; t[i].name && k < max; i++) {
        if (strncmp(t[i].name, prefix, plen) != 0) continue;
        const char *rest = t[i].name + plen;
        size_t len = strcspn(rest, ".");
        if (len > 63) len = 63;
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            if (strncmp(names[j], rest, len) == 0 && names[j][len] == '\0') dup = 1;
        if (dup) continue;
        memcpy(names[k], rest, len);
        names[k][len] = '\0';
        k++;
    }
    return k;
}

static hp_status validate_map(hp_params *p, const hp_param_def *table, const hp__node *map,
                              const char *prefix, const char *ignore_key, const hp__constants *c) {
    for (size_t i = 0; i < map->count; i++) {
        const hp__node *key = map->keys[i];
        if (!prefix[0] && ignore_key && strcmp(key->text, ignore_key) == 0) continue;
        char full[256];
        snprintf(full, sizeof full, "%s%s", prefix, key->text);
        hp__value *v = find_value(p, full);
        if (v) {
            HP_CALL(convert_value(v, map->items[i], p->section, c));
            v->set = 1;
            char loc[512];
            hp__node_location(map->items[i], loc, sizeof loc);
            free(v->where);
            v->where = strdup(loc);
            if (!v->where) HP_ERROR(HP_ERR_NOMEM, "out of memory");
            continue;
        }
        if (has_prefix_entries(table, full)) {
            if (map->items[i]->kind != HP__MAPPING) {
                char loc[512];
                hp__node_location(map->items[i], loc, sizeof loc);
                HP_ERROR(HP_ERR_CONFIG, "%s: %s.%s: got a %s; expected a mapping of sub-keys", loc,
                         p->section, full, map->items[i]->kind == HP__SEQUENCE ? "list" : "scalar");
            }
            char sub[260];
            snprintf(sub, sizeof sub, "%s.", full);
            HP_CALL(validate_map(p, table, map->items[i], sub, NULL, c));
            continue;
        }
        /* unknown key */
        char names[128][64];
        const char *ptrs[128] = {0};
        size_t k = level_names(table, prefix, names, 128);
        for (size_t j = 0; j < k; j++) ptrs[j] = names[j];
        char loc[512], list[2048] = "";
        hp__node_location(key, loc, sizeof loc);
        size_t used = 0;
        for (size_t j = 0; j < k && used + 70 < sizeof list; j++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "", names[j]);
        if (!prefix[0] && ignore_key && used + 70 < sizeof list)
            snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", ignore_key);
        const char *near = hp__did_you_mean(key->text, ptrs, k);
        if (near)
            HP_ERROR(HP_ERR_CONFIG, "%s: %s.%s: unknown key (did you mean '%s'?); expected one of: %s", loc,
                     p->section, full, near, k ? list : "(no parameters)");
        HP_ERROR(HP_ERR_CONFIG, "%s: %s.%s: unknown key; expected one of: %s", loc, p->section, full,
                 k ? list : "(no parameters)");
    }
    return HP_OK;
}

hp_status hp__params_resolve(const hp_param_def *table, const char *section, const hp__node *map,
                             const hp__node *where, const char *ignore_key,
                             const hp__constants *constants, hp_params **out) {
    *out = NULL;
    hp_status st = HP_OK;
    hp_params *p = calloc(1, sizeof *p);
    if (!p) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    char loc[512];
    hp__node_location(map ? map : where, loc, sizeof loc);
    p->section = strdup(section);
    p->where = strdup(loc);
    p->count = table_length(table);
    p->values = calloc(p->count ? p->count : 1, sizeof *p->values);
    if (!p->section || !p->where || !p->values) {
        st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* defaults first: a table whose default does not validate is a plugin bug */
    for (size_t i = 0; i < p->count; i++) {
        hp__value *v = &p->values[i];
        v->def = &table[i];
        if (!table[i].default_value) continue;
        hp__node *dn = NULL;
        st = hp__yaml_parse(table[i].default_value, strlen(table[i].default_value), "<default>", &dn);
        if (st == HP_OK) st = convert_value(v, dn, section, constants);
        hp__node_free(dn);
        if (st != HP_OK) {
            char inner[1024];
            snprintf(inner, sizeof inner, "%s", hp_error_message());
            st = HP_ERROR_SET(HP_ERR_INTERNAL, "default of %s.%s is invalid in its parameter table (%s)",
                              section, table[i].name, inner);
            goto fail;
        }
    }
    if (map) {
        if (map->kind != HP__MAPPING) {
            st = HP_ERROR_SET(HP_ERR_CONFIG, "%s: %s: got a %s; expected a mapping of parameters", loc,
                              section, map->kind == HP__SEQUENCE ? "list" : "scalar");
            goto fail;
        }
        HP_CALL_GOTO(st, validate_map(p, table, map, "", ignore_key, constants), fail);
    }
    for (size_t i = 0; i < p->count; i++) {
        hp__value *v = &p->values[i];
        if ((v->def->flags & HP_PARAM_REQUIRED) && !v->set && !v->def->default_value) {
            char expected[512];
            describe_expected(v->def, expected, sizeof expected);
            st = HP_ERROR_SET(HP_ERR_CONFIG, "%s: %s.%s: missing required value; expected %s (%s)", loc,
                              section, v->def->name, expected, v->def->doc ? v->def->doc : "");
            goto fail;
        }
    }
    *out = p;
    return HP_OK;
fail:
    hp_params_destroy(p);
    return st;
}

void hp_params_destroy(hp_params *p) {
    if (!p) return;
    for (size_t i = 0; i < p->count && p->values; i++) {
        free(p->values[i].where);
        free(p->values[i].s);
        free(p->values[i].reals);
    }
    free(p->values);
    free(p->section);
    free(p->where);
    free(p);
}

/* Build a nested mapping from "a.b=value" strings, then resolve like YAML. */
hp_status hp_params_from_strings(const hp_param_def *table, const char *section,
                                 const char *const *assignments, size_t count, hp_params **out) {
    static const char *const args_file = "<args>";
    hp_status st = HP_OK;
    hp__node *root = hp__node_new(HP__MAPPING, args_file, 0, 0);
    if (!root) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const char *a = assignments[i];
        const char *eq = strchr(a, '=');
        if (!eq || eq == a) {
            st = HP_ERROR_SET(HP_ERR_USAGE, "%s:1:%zu: %s: '%s' is not an assignment; expected key=value",
                              args_file, i + 1, section, a);
            goto done;
        }
        hp__node *value = NULL;
        HP_CALL_GOTO(st, hp__yaml_parse(eq + 1, strlen(eq + 1), args_file, &value), done);
        value->line = 1;
        value->col = (int)i + 1;
        for (size_t j = 0; j < value->count; j++) {
            value->items[j]->line = 1;
            value->items[j]->col = (int)i + 1;
        }
        /* walk/create the dotted path */
        hp__node *map = root;
        const char *p = a;
        while (1) {
            const char *dot = memchr(p, '.', (size_t)(eq - p));
            size_t len = dot ? (size_t)(dot - p) : (size_t)(eq - p);
            hp__node *key = hp__node_new(HP__SCALAR, args_file, 1, (int)i + 1);
            if (!key || !(key->text = strndup(p, len))) {
                hp__node_free(key);
                hp__node_free(value);
                st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
                goto done;
            }
            if (!dot) {
                st = hp__node_map_put(map, key, value);
                if (st != HP_OK) {
                    hp__node_free(key);
                    hp__node_free(value);
                    goto done;
                }
                break;
            }
            hp__node *next = hp__node_map_get(map, key->text);
            if (!next || next->kind != HP__MAPPING) {
                next = hp__node_new(HP__MAPPING, args_file, 1, (int)i + 1);
                if (!next || hp__node_map_put(map, key, next) != HP_OK) {
                    hp__node_free(key);
                    hp__node_free(next);
                    hp__node_free(value);
                    st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
                    goto done;
                }
            } else {
                hp__node_free(key);
            }
            map = next;
            p = dot + 1;
        }
    }
    st = hp__params_resolve(table, section, root, root, NULL, NULL, out);
done:
    hp__node_free(root);
    return st;
}

/* ---- access ----------------------------------------------------------------- */

static const hp__value *get_checked(const hp_params *p, const char *name, hp_param_type type) {
    const hp__value *v = find_value(p, name);
    if (!v) {
        fprintf(stderr, "hpinn: section '%s' has no parameter '%s'\n", p->section, name);
        HP_ASSERT(v != NULL);
    }
    int ok = v->def->type == type || (type == HP_PARAM_STRING && v->def->type == HP_PARAM_ENUM);
    if (!ok) {
        fprintf(stderr, "hpinn: parameter %s.%s is %s, read as %s\n", p->section, name,
                hp_param_type_name(v->def->type), hp_param_type_name(type));
        HP_ASSERT(ok);
    }
    return v;
}

int64_t hp_params_int(const hp_params *p, const char *name) { return get_checked(p, name, HP_PARAM_INT)->i; }
int hp_params_is_auto(const hp_params *p, const char *name) {
    const hp__value *v = find_value(p, name);
    const hp__value *checked = get_checked(p, name, v && v->def->type == HP_PARAM_REAL ? HP_PARAM_REAL : HP_PARAM_INT);
    if (!(checked->def->flags & HP_PARAM_AUTO)) return 0;
    return checked->def->type == HP_PARAM_REAL ? isnan(checked->r) : checked->i == -1;
}
double hp_params_real(const hp_params *p, const char *name) { return get_checked(p, name, HP_PARAM_REAL)->r; }
int hp_params_bool(const hp_params *p, const char *name) { return get_checked(p, name, HP_PARAM_BOOL)->b; }
const char *hp_params_string(const hp_params *p, const char *name) {
    return get_checked(p, name, HP_PARAM_STRING)->s;
}
const double *hp_params_reals(const hp_params *p, const char *name, size_t *count) {
    const hp__value *v = get_checked(p, name, HP_PARAM_REALS);
    if (count) *count = v->n_reals;
    return v->reals;
}
int hp_params_enum_index(const hp_params *p, const char *name) {
    const hp__value *v = get_checked(p, name, HP_PARAM_ENUM);
    return v->s ? enum_index(v->def->choices, v->s) : -1;
}
int hp_params_is_set(const hp_params *p, const char *name) {
    const hp__value *v = find_value(p, name);
    HP_ASSERT(v != NULL);
    return v->set;
}

hp_status hp_params_error(const hp_params *p, const char *name, const char *fmt, ...) {
    const hp__value *v = find_value(p, name);
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return hp_error_set(HP_ERR_CONFIG, __FILE__, __LINE__, __func__, "%s: %s.%s: %s",
                        v && v->where ? v->where : p->where, p->section, name, what);
}

/* ---- resolved output -------------------------------------------------------- */

static void write_scalar_text(FILE *out, const char *s) {
    /* quote anything YAML could misread */
    int plain = s[0] != '\0';
    for (const char *c = s; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '.' || *c == '-' || *c == '+')) plain = 0;
    if (plain) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (const char *c = s; *c; c++) {
        if (*c == '"' || *c == '\\') fputc('\\', out);
        fputc(*c, out);
    }
    fputc('"', out);
}

void hp__params_write_yaml(const hp_params *p, FILE *out, int indent) {
    char prev[256] = "";
    for (size_t i = 0; i < p->count; i++) {
        const hp__value *v = &p->values[i];
        const char *name = v->def->name;
        if (!v->set && !v->def->default_value) continue; /* optional, no default, not given */
        /* nested keys: open each new parent mapping once ("collocation:") */
        const char *dot = strrchr(name, '.');
        int depth = 0;
        if (dot) {
            size_t plen = (size_t)(dot - name);
            char parent[256];
            snprintf(parent, sizeof parent, "%.*s", (int)plen, name);
            if (strcmp(parent, prev) != 0) {
                fprintf(out, "%*s%s:\n", indent, "", parent);
                snprintf(prev, sizeof prev, "%s", parent);
            }
            depth = 2;
            name = dot + 1;
        } else {
            prev[0] = '\0';
        }
        fprintf(out, "%*s%s: ", indent + depth, "", name);
        switch (v->def->type) {
        case HP_PARAM_INT:
            if ((v->def->flags & HP_PARAM_AUTO) && v->i == -1) fputs("auto", out);
            else fprintf(out, "%lld", (long long)v->i);
            break;
        case HP_PARAM_REAL:
            if ((v->def->flags & HP_PARAM_AUTO) && isnan(v->r)) fputs("auto", out);
            else fprintf(out, "%.17g", v->r);
            break;
        case HP_PARAM_BOOL: fputs(v->b ? "true" : "false", out); break;
        case HP_PARAM_STRING:
        case HP_PARAM_ENUM: write_scalar_text(out, v->s); break;
        case HP_PARAM_REALS:
            fputc('[', out);
            for (size_t j = 0; j < v->n_reals; j++) fprintf(out, "%s%.17g", j ? ", " : "", v->reals[j]);
            fputc(']', out);
            break;
        }
        fputc('\n', out);
    }
}
