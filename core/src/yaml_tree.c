/* yaml_tree.c — libyaml document API → hp__node tree with positions.
 *
 * libyaml marks are 0-based; we store 1-based line:column because that is what
 * editors show and what every config error message prints. Aliases are resolved
 * by libyaml's document loader (nodes are shared by index); we copy them, and
 * refuse documents whose expansion would explode (billion-laughs) by a node
 * budget. */
#include "yaml_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Expanded-node budget: real pipelines have a few hundred nodes. */
#define HP__MAX_NODES 200000
#define HP__MAX_DEPTH 64

hp__node *hp__node_new(hp__node_kind kind, const char *file, int line, int col) {
    hp__node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->kind = kind;
    n->file = file;
    n->line = line;
    n->col = col;
    return n;
}

static hp_status node_grow(hp__node *n) {
    if (n->count < n->capacity) return HP_OK;
    size_t cap = n->capacity ? 2 * n->capacity : 4;
    hp__node **items = realloc(n->items, cap * sizeof *items);
    if (!items) HP_ERROR(HP_ERR_NOMEM, "out of memory growing a YAML node");
    n->items = items;
    if (n->kind == HP__MAPPING) {
        hp__node **keys = realloc(n->keys, cap * sizeof *keys);
        if (!keys) HP_ERROR(HP_ERR_NOMEM, "out of memory growing a YAML node");
        n->keys = keys;
    }
    n->capacity = cap;
    return HP_OK;
}

hp_status hp__node_append(hp__node *seq, hp__node *item) {
    HP_ASSERT(seq->kind == HP__SEQUENCE);
    HP_CALL(node_grow(seq));
    seq->items[seq->count++] = item;
    return HP_OK;
}

hp_status hp__node_map_put(hp__node *map, hp__node *key, hp__node *value) {
    HP_ASSERT(map->kind == HP__MAPPING && key->kind == HP__SCALAR);
    long i = hp__node_map_index(map, key->text);
    if (i >= 0) { /* replace: overrides and duplicate keys keep the last value */
        hp__node_free(map->keys[i]);
        hp__node_free(map->items[i]);
        map->keys[i] = key;
        map->items[i] = value;
        return HP_OK;
    }
    HP_CALL(node_grow(map));
    map->keys[map->count] = key;
    map->items[map->count] = value;
    map->count++;
    return HP_OK;
}

long hp__node_map_index(const hp__node *map, const char *key) {
    if (!map || map->kind != HP__MAPPING) return -1;
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->keys[i]->text, key) == 0) return (long)i;
    return -1;
}

hp__node *hp__node_map_get(const hp__node *map, const char *key) {
    long i = hp__node_map_index(map, key);
    return i < 0 ? NULL : map->items[i];
}

hp__node *hp__node_clone(const hp__node *n) {
    if (!n) return NULL;
    hp__node *c = hp__node_new(n->kind, n->file, n->line, n->col);
    if (!c) return NULL;
    c->quoted = n->quoted;
    if (n->text && !(c->text = strdup(n->text))) goto fail;
    for (size_t i = 0; i < n->count; i++) {
        hp__node *item = hp__node_clone(n->items[i]);
        if (!item) goto fail;
        if (n->kind == HP__MAPPING) {
            hp__node *key = hp__node_clone(n->keys[i]);
            if (!key || hp__node_map_put(c, key, item) != HP_OK) {
                hp__node_free(key);
                hp__node_free(item);
                goto fail;
            }
        } else if (hp__node_append(c, item) != HP_OK) {
            hp__node_free(item);
            goto fail;
        }
    }
    return c;
fail:
    hp__node_free(c);
    return NULL;
}

void hp__node_free(hp__node *n) {
    if (!n) return;
    for (size_t i = 0; i < n->count; i++) {
        hp__node_free(n->items[i]);
        if (n->kind == HP__MAPPING) hp__node_free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->text);
    free(n);
}

void hp__node_location(const hp__node *n, char *buf, size_t size) {
    if (!n) {
        snprintf(buf, size, "<unknown>");
    } else if (n->line > 0) {
        snprintf(buf, size, "%s:%d:%d", n->file, n->line, n->col);
    } else {
        snprintf(buf, size, "%s", n->file);
    }
}

typedef struct convert_ctx {
    yaml_document_t *doc;
    const char *file;
    size_t budget;
} convert_ctx;

static hp_status convert(convert_ctx *cx, yaml_node_t *yn, int depth, hp__node **out) {
    int line = (int)yn->start_mark.line + 1, col = (int)yn->start_mark.column + 1;
    if (depth > HP__MAX_DEPTH)
        HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: YAML nesting deeper than %d levels; expected a flatter document",
                 cx->file, line, col, HP__MAX_DEPTH);
    if (cx->budget == 0)
        HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: YAML document expands to more than %d nodes (aliases?); expected a pipeline of reasonable size",
                 cx->file, line, col, HP__MAX_NODES);
    cx->budget--;
    hp_status st = HP_OK;
    hp__node *n = NULL;
    switch (yn->type) {
    case YAML_SCALAR_NODE:
        n = hp__node_new(HP__SCALAR, cx->file, line, col);
        if (!n) HP_ERROR(HP_ERR_NOMEM, "out of memory reading YAML");
        n->text = malloc(yn->data.scalar.length + 1);
        if (!n->text) {
            hp__node_free(n);
            HP_ERROR(HP_ERR_NOMEM, "out of memory reading YAML");
        }
        memcpy(n->text, yn->data.scalar.value, yn->data.scalar.length);
        n->text[yn->data.scalar.length] = '\0';
        if (strlen(n->text) != yn->data.scalar.length) {
            hp__node_free(n);
            HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: scalar contains a NUL character; expected text",
                     cx->file, line, col);
        }
        n->quoted = yn->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    yn->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        break;
    case YAML_SEQUENCE_NODE:
        n = hp__node_new(HP__SEQUENCE, cx->file, line, col);
        if (!n) HP_ERROR(HP_ERR_NOMEM, "out of memory reading YAML");
        for (yaml_node_item_t *it = yn->data.sequence.items.start; it < yn->data.sequence.items.top; it++) {
            hp__node *child = NULL;
            HP_CALL_GOTO(st, convert(cx, yaml_document_get_node(cx->doc, *it), depth + 1, &child), fail);
            HP_CALL_GOTO(st, hp__node_append(n, child), fail_child);
            continue;
        fail_child:
            hp__node_free(child);
            goto fail;
        }
        break;
    case YAML_MAPPING_NODE:
        n = hp__node_new(HP__MAPPING, cx->file, line, col);
        if (!n) HP_ERROR(HP_ERR_NOMEM, "out of memory reading YAML");
        for (yaml_node_pair_t *pr = yn->data.mapping.pairs.start; pr < yn->data.mapping.pairs.top; pr++) {
            yaml_node_t *yk = yaml_document_get_node(cx->doc, pr->key);
            if (yk->type != YAML_SCALAR_NODE) {
                st = HP_ERROR_SET(HP_ERR_CONFIG, "%s:%d:%d: mapping key is not a plain word; expected a key like 'width'",
                                  cx->file, (int)yk->start_mark.line + 1, (int)yk->start_mark.column + 1);
                goto fail;
            }
            hp__node *key = NULL, *value = NULL;
            HP_CALL_GOTO(st, convert(cx, yk, depth + 1, &key), fail);
            if (hp__node_map_index(n, key->text) >= 0) {
                st = HP_ERROR_SET(HP_ERR_CONFIG, "%s:%d:%d: %s: duplicate key; expected each key once per mapping",
                                  cx->file, key->line, key->col, key->text);
                hp__node_free(key);
                goto fail;
            }
            st = convert(cx, yaml_document_get_node(cx->doc, pr->value), depth + 1, &value);
            if (st != HP_OK) {
                hp__node_free(key);
                goto fail;
            }
            st = hp__node_map_put(n, key, value);
            if (st != HP_OK) {
                hp__node_free(key);
                hp__node_free(value);
                goto fail;
            }
        }
        break;
    default:
        HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: empty YAML node; expected a value", cx->file, line, col);
    }
    *out = n;
    return HP_OK;
fail:
    hp__node_free(n);
    return st;
}

hp_status hp__yaml_parse(const char *text, size_t length, const char *file, hp__node **out) {
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) HP_ERROR(HP_ERR_NOMEM, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);
    if (!yaml_parser_load(&parser, &doc)) {
        hp_status st = HP_ERROR_SET(HP_ERR_CONFIG, "%s:%d:%d: YAML syntax error: %s%s%s; expected valid YAML",
                                    file, (int)parser.problem_mark.line + 1,
                                    (int)parser.problem_mark.column + 1,
                                    parser.problem ? parser.problem : "unknown problem",
                                    parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return st;
    }
    hp_status st = HP_OK;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        *out = hp__node_new(HP__MAPPING, file, 1, 1);
        if (!*out) st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory reading YAML");
    } else {
        convert_ctx cx = {&doc, file, HP__MAX_NODES};
        st = convert(&cx, root, 0, out);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return st;
}
