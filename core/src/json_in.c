/* json_in.c — hpinn's JSON records read through the YAML parser (json_in.h). */
#include "json_in.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records are small (a sweep of 10000 members is about 2 MB). */
#define HP__JSON_MAX_BYTES (64u << 20)

hp_status hp__json_load(const char *path, hp__json_doc *doc) {
    memset(doc, 0, sizeof *doc);
    FILE *f = fopen(path, "rb");
    if (!f) HP_ERROR(errno == ENOENT ? HP_ERR_NOT_FOUND : HP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 > cap) {
            if (cap >= HP__JSON_MAX_BYTES) {
                free(text);
                fclose(f);
                HP_ERROR(HP_ERR_CORRUPT, "%s: larger than %u bytes; expected a record hpinn wrote", path,
                         HP__JSON_MAX_BYTES);
            }
            cap = cap ? 2 * cap : 65536;
            char *t = realloc(text, cap + 1);
            if (!t) {
                free(text);
                fclose(f);
                HP_ERROR(HP_ERR_NOMEM, "out of memory");
            }
            text = t;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(text);
        HP_ERROR(HP_ERR_IO, "cannot read %s", path);
    }
    if (!(doc->path = strdup(path))) {
        free(text);
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    hp_status st = hp__yaml_parse(text ? text : "", len, doc->path, &doc->root);
    free(text);
    if (st == HP_OK && doc->root->kind != HP__MAPPING)
        st = HP_ERROR_SET(HP_ERR_CORRUPT, "%s: not a JSON object", path);
    if (st != HP_OK) {
        char inner[2048];
        snprintf(inner, sizeof inner, "%s", hp_error_message());
        hp__json_free(doc);
        HP_ERROR(HP_ERR_CORRUPT, "%s is damaged or not a record hpinn wrote: %s", path, inner);
    }
    return HP_OK;
}

void hp__json_free(hp__json_doc *doc) {
    hp__node_free(doc->root);
    free(doc->path);
    memset(doc, 0, sizeof *doc);
}

const hp__node *hp__json_get(const hp__node *obj, const char *key) {
    if (!obj || obj->kind != HP__MAPPING) return NULL;
    return hp__node_map_get(obj, key);
}

const char *hp__json_str(const hp__node *n) {
    return n && n->kind == HP__SCALAR && n->quoted ? n->text : NULL;
}

hp_status hp__json_dup(const char *s, char **out) {
    *out = NULL;
    if (s && !(*out = strdup(s))) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    return HP_OK;
}

double hp__json_num(const hp__node *n) {
    if (!n || n->kind != HP__SCALAR || n->quoted || !n->text || !*n->text) return NAN;
    char *end;
    double v = strtod(n->text, &end);
    return *end ? NAN : v;
}

int hp__json_bool(const hp__node *n) {
    if (!n || n->kind != HP__SCALAR || n->quoted || !n->text) return -1;
    if (strcmp(n->text, "true") == 0) return 1;
    if (strcmp(n->text, "false") == 0) return 0;
    return -1;
}
