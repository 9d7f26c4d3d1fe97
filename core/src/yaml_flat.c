/* yaml_flat.c — flow text and flattening of YAML trees (yaml_flat.h). */
#include "yaml_flat.h"

#include <stdlib.h>
#include <string.h>

/* Could this plain text read as something else than the same plain scalar, in
 * a flow collection or at the top of a `--set` value? */
static int needs_quotes(const char *s) {
    if (!*s) return 1;
    if (strchr("-?:,[]{}#&*!|>'\"%@` \t", s[0])) {
        /* "-1", "-x" are plain; "- x", "-" are not */
        if (!(s[0] == '-' && s[1] && s[1] != ' ' && s[1] != '\t')) return 1;
    }
    size_t len = strlen(s);
    if (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == ':') return 1;
    for (const char *p = s; *p; p++) {
        if (strchr(",[]{}\"\n\r\t", *p)) return 1;
        if (*p == ':' && (p[1] == ' ' || p[1] == '\0')) return 1;
        if (*p == '#' && p > s && (p[-1] == ' ' || p[-1] == '\t')) return 1;
        if ((unsigned char)*p < 0x20) return 1;
    }
    return 0;
}

static void write_quoted(const char *s, FILE *f) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p == '\r') fputs("\\r", f);
        else if (*p < 0x20) fprintf(f, "\\x%02x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

void hp__node_write_flow(const hp__node *n, FILE *f) {
    if (!n) {
        fputs("null", f);
        return;
    }
    switch (n->kind) {
    case HP__SCALAR: {
        const char *t = n->text ? n->text : "";
        if (n->quoted || needs_quotes(t)) write_quoted(t, f);
        else fputs(t, f);
        break;
    }
    case HP__SEQUENCE:
        fputc('[', f);
        for (size_t i = 0; i < n->count; i++) {
            if (i) fputs(", ", f);
            hp__node_write_flow(n->items[i], f);
        }
        fputc(']', f);
        break;
    case HP__MAPPING:
        fputc('{', f);
        for (size_t i = 0; i < n->count; i++) {
            if (i) fputs(", ", f);
            hp__node_write_flow(n->keys[i], f);
            fputs(": ", f);
            hp__node_write_flow(n->items[i], f);
        }
        fputc('}', f);
        break;
    }
}

hp_status hp__node_flow_text(const hp__node *n, char **text) {
    size_t len = 0;
    *text = NULL;
    FILE *mem = open_memstream(text, &len);
    if (!mem) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    hp__node_write_flow(n, mem);
    if (fclose(mem) != 0 || !*text) {
        free(*text);
        *text = NULL;
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    return HP_OK;
}

hp_status hp__flat_put(hp__flat *f, const char *key, const char *value) {
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->keys[i], key) != 0) continue;
        char *v = strdup(value);
        if (!v) HP_ERROR(HP_ERR_NOMEM, "out of memory");
        free(f->values[i]);
        f->values[i] = v;
        return HP_OK;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 32;
        char **k = realloc(f->keys, cap * sizeof *k);
        if (!k) HP_ERROR(HP_ERR_NOMEM, "out of memory");
        f->keys = k;
        char **v = realloc(f->values, cap * sizeof *v);
        if (!v) HP_ERROR(HP_ERR_NOMEM, "out of memory");
        f->values = v;
        f->cap = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    f->keys[f->n] = k;
    f->values[f->n++] = v;
    return HP_OK;
}

const char *hp__flat_get(const hp__flat *f, const char *key) {
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->keys[i], key) == 0) return f->values[i];
    return NULL;
}

void hp__flat_free(hp__flat *f) {
    for (size_t i = 0; i < f->n; i++) {
        free(f->keys[i]);
        free(f->values[i]);
    }
    free(f->keys);
    free(f->values);
    memset(f, 0, sizeof *f);
}

static int all_scalars(const hp__node *seq) {
    for (size_t i = 0; i < seq->count; i++)
        if (seq->items[i]->kind != HP__SCALAR) return 0;
    return 1;
}

hp_status hp__flatten(const hp__node *n, const char *prefix, hp__flat *out) {
    const char *pre = prefix ? prefix : "";
    if (n->kind == HP__SCALAR) return hp__flat_put(out, pre, n->text ? n->text : "");
    if (n->kind == HP__SEQUENCE && (all_scalars(n) || n->count == 0)) {
        char *text;
        HP_CALL(hp__node_flow_text(n, &text));
        hp_status st = hp__flat_put(out, pre, text);
        free(text);
        return st;
    }
    for (size_t i = 0; i < n->count; i++) {
        size_t len = strlen(pre) + (n->kind == HP__MAPPING ? strlen(n->keys[i]->text ? n->keys[i]->text : "") : 24) + 4;
        char *key = malloc(len);
        if (!key) HP_ERROR(HP_ERR_NOMEM, "out of memory");
        if (n->kind == HP__MAPPING)
            snprintf(key, len, "%s%s%s", pre, *pre ? "." : "", n->keys[i]->text ? n->keys[i]->text : "");
        else
            snprintf(key, len, "%s[%zu]", pre, i);
        hp_status st = hp__flatten(n->items[i], key, out);
        free(key);
        if (st != HP_OK) return st;
    }
    return HP_OK;
}
