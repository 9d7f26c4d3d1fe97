/* yaml_tree.c — libyaml events → hp__node tree with positions, under limits.
 *
 * libyaml marks are 0-based; we store 1-based line:column because that is what
 * editors show and what every config error message prints.
 *
 * The tree is built from libyaml's event API, not its document loader, so that
 * hostile input is refused as soon as it crosses a limit (yaml_tree.h): the loader
 * reads the whole document first (libyaml scans a deep "[[[[..." in quadratic
 * time, and keeps anchors in a list searched linearly), forgets where an alias was
 * written, and silently drops every document after the first. Aliases are copied
 * into the tree; the copies count against the node budget and, for the bytes of
 * their scalars, against the alias byte budget (a 20 KB scalar aliased 200000
 * times would otherwise take 4 GB). */
#include "yaml_tree.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "checksum.h"

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

/* Append a pair whose key is known to be new: building a mapping from the text
 * checks duplicates once at its end (sorted), not per key (quadratic). */
static hp_status map_append(hp__node *map, hp__node *key, hp__node *value) {
    HP_CALL(node_grow(map));
    map->keys[map->count] = key;
    map->items[map->count] = value;
    map->count++;
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
    return map_append(map, key, value);
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
            if (!key || map_append(c, key, item) != HP_OK) {
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

/* ---- building the tree from events ------------------------------------------ */

typedef struct anchor {
    char *name;
    size_t len;
    uint64_t hash;  /* with len, spares comparing long names that cannot match */
    hp__node *node;
    int open;       /* its collection has not ended: an alias to it would be recursive */
} anchor;

typedef struct frame {
    hp__node *node;     /* the open collection */
    hp__node *key;      /* MAPPING: the key waiting for its value (owned here) */
    long anchor;        /* index in anchors of the collection's own anchor, or -1 */
} frame;

typedef struct builder {
    const char *file;
    size_t nodes;       /* created so far, aliases expanded */
    size_t alias_bytes; /* scalar bytes copied by aliases so far */
    hp__node *root;
    int documents;
    int depth;
    frame stack[HP__YAML_MAX_DEPTH];
    anchor anchors[HP__YAML_MAX_ANCHORS];
    size_t n_anchors;
} builder;

static int mark_line(const yaml_mark_t *m) { return (int)m->line + 1; }
static int mark_col(const yaml_mark_t *m) { return (int)m->column + 1; }

static hp_status count_node(builder *b, const yaml_mark_t *m, const char *alias) {
    if (++b->nodes <= HP__YAML_MAX_NODES) return HP_OK;
    if (alias)
        HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: *%.64s: the document expands to more than %d nodes through this alias; "
                 "expected a pipeline of reasonable size",
                 b->file, mark_line(m), mark_col(m), alias, HP__YAML_MAX_NODES);
    HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: YAML document expands to more than %d nodes; "
             "expected a pipeline of reasonable size", b->file, mark_line(m), mark_col(m), HP__YAML_MAX_NODES);
}

static hp_status nesting_error(const builder *b, const yaml_mark_t *m) {
    HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: YAML nesting deeper than %d levels; expected a flatter document", b->file,
             mark_line(m), mark_col(m), HP__YAML_MAX_DEPTH);
}

static anchor *find_anchor(builder *b, const char *name) {
    size_t len = strlen(name);
    uint64_t h = hp__fnv1a64((const unsigned char *)name, len);
    for (size_t i = 0; i < b->n_anchors; i++)
        if (b->anchors[i].hash == h && b->anchors[i].len == len && strcmp(b->anchors[i].name, name) == 0)
            return &b->anchors[i];
    return NULL;
}

/* Record `node` under `name`; a later anchor of the same name replaces it (YAML).
 * *index receives its slot (for closing a collection's anchor), or -1. */
static hp_status add_anchor(builder *b, const yaml_char_t *name, hp__node *node, int open, const yaml_mark_t *m,
                            long *index) {
    if (index) *index = -1;
    if (!name) return HP_OK;
    anchor *a = find_anchor(b, (const char *)name);
    if (!a) {
        if (b->n_anchors == HP__YAML_MAX_ANCHORS)
            HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: &%.64s: more than %d anchors; expected fewer", b->file, mark_line(m),
                     mark_col(m), (const char *)name, HP__YAML_MAX_ANCHORS);
        a = &b->anchors[b->n_anchors];
        if (!(a->name = strdup((const char *)name))) HP_ERROR(HP_ERR_NOMEM, "out of memory reading YAML");
        a->len = strlen(a->name);
        a->hash = hp__fnv1a64((const unsigned char *)a->name, a->len);
        b->n_anchors++;
    }
    a->node = node;
    a->open = open;
    if (index) *index = (long)(a - b->anchors);
    return HP_OK;
}

/* Put a finished or just-opened node where the open collection expects it. On
 * failure the caller still owns n. */
static hp_status attach(builder *b, hp__node *n) {
    if (b->depth == 0) {
        b->root = n;
        return HP_OK;
    }
    frame *f = &b->stack[b->depth - 1];
    if (f->node->kind == HP__SEQUENCE) return hp__node_append(f->node, n);
    if (!f->key) {
        if (n->kind != HP__SCALAR)
            HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: mapping key is not a plain word; expected a key like 'width'", b->file,
                     n->line, n->col);
        f->key = n;
        return HP_OK;
    }
    HP_CALL(map_append(f->node, f->key, n));
    f->key = NULL;
    return HP_OK;
}

/* Copy of an anchored node for an alias written at m, with its own depth
 * (`depth` open collections around it) and both budgets checked. */
static hp_status expand(builder *b, const hp__node *n, int depth, const char *alias, const yaml_mark_t *m,
                        hp__node **out) {
    *out = NULL;
    if (n->kind != HP__SCALAR && depth >= HP__YAML_MAX_DEPTH) return nesting_error(b, m);
    HP_CALL(count_node(b, m, alias));
    hp__node *c = hp__node_new(n->kind, n->file, n->line, n->col);
    if (!c) HP_ERROR(HP_ERR_NOMEM, "out of memory reading YAML");
    c->quoted = n->quoted;
    hp_status st = HP_OK;
    if (n->text) {
        size_t len = strlen(n->text);
        if (len > HP__YAML_MAX_ALIAS_BYTES - b->alias_bytes) {
            st = HP_ERROR_SET(HP_ERR_CONFIG, "%s:%d:%d: *%.64s: aliases copy more than %zu bytes of text; "
                              "expected a pipeline that repeats less through aliases",
                              b->file, mark_line(m), mark_col(m), alias, HP__YAML_MAX_ALIAS_BYTES);
            goto fail;
        }
        b->alias_bytes += len;
        if (!(c->text = strdup(n->text))) {
            st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory reading YAML");
            goto fail;
        }
    }
    for (size_t i = 0; i < n->count; i++) {
        hp__node *key = NULL, *item = NULL;
        if (n->kind == HP__MAPPING) HP_CALL_GOTO(st, expand(b, n->keys[i], depth + 1, alias, m, &key), fail);
        st = expand(b, n->items[i], depth + 1, alias, m, &item);
        if (st == HP_OK) st = n->kind == HP__MAPPING ? map_append(c, key, item) : hp__node_append(c, item);
        if (st != HP_OK) {
            hp__node_free(key);
            hp__node_free(item);
            goto fail;
        }
    }
    *out = c;
    return HP_OK;
fail:
    hp__node_free(c);
    return st;
}

typedef struct key_ref {
    const char *text;
    size_t index;
} key_ref;

static int key_ref_cmp(const void *pa, const void *pb) {
    const key_ref *a = pa, *b = pb;
    int c = strcmp(a->text, b->text);
    if (c) return c;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* The first key (in document order) equal to an earlier one, found by sorting:
 * O(n log n) for a mapping of any size. */
static hp_status check_duplicates(const builder *b, const hp__node *map) {
    if (map->count < 2) return HP_OK;
    key_ref *refs = malloc(map->count * sizeof *refs);
    if (!refs) HP_ERROR(HP_ERR_NOMEM, "out of memory reading YAML");
    for (size_t i = 0; i < map->count; i++) refs[i] = (key_ref){map->keys[i]->text, i};
    qsort(refs, map->count, sizeof *refs, key_ref_cmp);
    size_t dup = map->count;
    for (size_t i = 1; i < map->count; i++)
        if (strcmp(refs[i].text, refs[i - 1].text) == 0 && refs[i].index < dup) dup = refs[i].index;
    free(refs);
    if (dup == map->count) return HP_OK;
    const hp__node *key = map->keys[dup];
    HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: %.64s: duplicate key; expected each key once per mapping", b->file, key->line,
             key->col, key->text);
}

static hp_status on_scalar(builder *b, const yaml_event_t *ev) {
    const yaml_mark_t *m = &ev->start_mark;
    HP_CALL(count_node(b, m, NULL));
    hp__node *n = hp__node_new(HP__SCALAR, b->file, mark_line(m), mark_col(m));
    if (!n) HP_ERROR(HP_ERR_NOMEM, "out of memory reading YAML");
    hp_status st = HP_OK;
    size_t len = ev->data.scalar.length;
    if (memchr(ev->data.scalar.value, '\0', len)) {
        st = HP_ERROR_SET(HP_ERR_CONFIG, "%s:%d:%d: scalar contains a NUL character; expected text", b->file,
                          n->line, n->col);
        goto fail;
    }
    if (!(n->text = malloc(len + 1))) {
        st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory reading YAML");
        goto fail;
    }
    memcpy(n->text, ev->data.scalar.value, len);
    n->text[len] = '\0';
    n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    HP_CALL_GOTO(st, attach(b, n), fail);
    return add_anchor(b, ev->data.scalar.anchor, n, 0, m, NULL);
fail:
    hp__node_free(n);
    return st;
}

static hp_status on_collection_start(builder *b, const yaml_event_t *ev, hp__node_kind kind) {
    const yaml_mark_t *m = &ev->start_mark;
    if (b->depth == HP__YAML_MAX_DEPTH) return nesting_error(b, m);
    HP_CALL(count_node(b, m, NULL));
    hp__node *n = hp__node_new(kind, b->file, mark_line(m), mark_col(m));
    if (!n) HP_ERROR(HP_ERR_NOMEM, "out of memory reading YAML");
    hp_status st = attach(b, n);
    if (st != HP_OK) {
        hp__node_free(n);
        return st;
    }
    frame *f = &b->stack[b->depth++];
    f->node = n;
    f->key = NULL;
    const yaml_char_t *name = kind == HP__MAPPING ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    return add_anchor(b, name, n, 1, m, &f->anchor);
}

static hp_status on_collection_end(builder *b) {
    frame *f = &b->stack[--b->depth];
    if (f->anchor >= 0 && b->anchors[f->anchor].node == f->node) b->anchors[f->anchor].open = 0;
    if (f->node->kind == HP__MAPPING) HP_CALL(check_duplicates(b, f->node));
    return HP_OK;
}

static hp_status on_alias(builder *b, const yaml_event_t *ev) {
    const yaml_mark_t *m = &ev->start_mark;
    const char *name = (const char *)ev->data.alias.anchor;
    const anchor *a = find_anchor(b, name);
    if (!a)
        HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: *%.64s: alias of an undefined anchor; expected &%.64s earlier in the file",
                 b->file, mark_line(m), mark_col(m), name, name);
    if (a->open)
        HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: *%.64s: alias inside the collection it names; expected a value that does "
                 "not contain itself", b->file, mark_line(m), mark_col(m), name);
    const frame *f = b->depth ? &b->stack[b->depth - 1] : NULL;
    if (f && f->node->kind == HP__MAPPING && !f->key && a->node->kind != HP__SCALAR) /* the copy has &name's place */
        HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: *%.64s: mapping key is not a plain word; expected a key like 'width'",
                 b->file, mark_line(m), mark_col(m), name);
    hp__node *copy;
    HP_CALL(expand(b, a->node, b->depth, name, m, &copy));
    hp_status st = attach(b, copy);
    if (st != HP_OK) hp__node_free(copy);
    return st;
}

static hp_status on_event(builder *b, const yaml_event_t *ev, int *done) {
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (b->documents++ > 0)
            HP_ERROR(HP_ERR_CONFIG, "%s:%d:%d: a second YAML document starts here; expected one pipeline per file",
                     b->file, mark_line(&ev->start_mark), mark_col(&ev->start_mark));
        return HP_OK;
    case YAML_SCALAR_EVENT: return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT: return on_collection_start(b, ev, HP__SEQUENCE);
    case YAML_MAPPING_START_EVENT: return on_collection_start(b, ev, HP__MAPPING);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: return on_collection_end(b);
    case YAML_ALIAS_EVENT: return on_alias(b, ev);
    case YAML_STREAM_END_EVENT: *done = 1; return HP_OK;
    default: return HP_OK; /* stream start, document end */
    }
}

hp_status hp__yaml_parse(const char *text, size_t length, const char *file, hp__node **out) {
    *out = NULL;
    builder *b = calloc(1, sizeof *b);
    if (!b) HP_ERROR(HP_ERR_NOMEM, "cannot initialise the YAML parser");
    b->file = file;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        free(b);
        HP_ERROR(HP_ERR_NOMEM, "cannot initialise the YAML parser");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);
    hp_status st = HP_OK;
    for (int done = 0; !done && st == HP_OK;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            st = HP_ERROR_SET(HP_ERR_CONFIG, "%s:%d:%d: YAML syntax error: %s%s%s; expected valid YAML", file,
                              mark_line(&parser.problem_mark), mark_col(&parser.problem_mark),
                              parser.problem ? parser.problem : "unknown problem", parser.context ? " " : "",
                              parser.context ? parser.context : "");
            break;
        }
        st = on_event(b, &ev, &done);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    for (int i = 0; i < b->depth; i++) hp__node_free(b->stack[i].key);
    for (size_t i = 0; i < b->n_anchors; i++) free(b->anchors[i].name);
    if (st == HP_OK && !b->root && !(b->root = hp__node_new(HP__MAPPING, file, 1, 1)))
        st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory reading YAML");
    if (st == HP_OK) {
        *out = b->root;
    } else {
        hp__node_free(b->root);
    }
    free(b);
    return st;
}
