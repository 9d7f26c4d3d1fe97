/* yaml_tree.h (private) — a YAML document as a tree of nodes that remember where
 * they were written (file, line, column), built with libyaml's document API.
 * Everything that reports a config error with FILE:LINE:COL reads it from here. */
#ifndef HPINN_YAML_TREE_H
#define HPINN_YAML_TREE_H

#include <stddef.h>

#include "hpinn/status.h"

typedef enum hp__node_kind { HP__SCALAR = 1, HP__SEQUENCE = 2, HP__MAPPING = 3 } hp__node_kind;

typedef struct hp__node {
    hp__node_kind kind;
    const char *file;       /* shared, owned by the tree's creator */
    int line, col;          /* 1-based; line 0 means "no position" (file only) */
    char *text;             /* SCALAR: its text */
    int quoted;             /* SCALAR: written in quotes (a string, never a number) */
    size_t count;           /* SEQUENCE items / MAPPING pairs */
    size_t capacity;
    struct hp__node **items;/* SEQUENCE items, MAPPING values */
    struct hp__node **keys; /* MAPPING keys (scalar nodes) */
} hp__node;

/* Limits of a parsed text. Real pipelines have a few hundred nodes, a nesting
 * depth below 10 and a handful of anchors; the limits keep a hostile 16 MB file
 * (the size limit of a pipeline file) within about a second and 100 MB. */
#define HP__YAML_MAX_DEPTH 64                    /* nested lists/mappings */
#define HP__YAML_MAX_NODES 500000                /* nodes, aliases expanded */
#define HP__YAML_MAX_ALIAS_BYTES ((size_t)4 << 20) /* scalar bytes copied by aliases */
#define HP__YAML_MAX_ANCHORS 256                 /* distinct anchor names */

/* Parse one YAML document. A syntax error is HP_ERR_CONFIG "FILE:LINE:COL: YAML
 * syntax error: ...". An empty text gives an empty mapping. A second document, a
 * duplicate key, an undefined or recursive alias and a text past one of the limits
 * above are HP_ERR_CONFIG at the place where it happens. */
hp_status hp__yaml_parse(const char *text, size_t length, const char *file, hp__node **out);

hp__node *hp__node_new(hp__node_kind kind, const char *file, int line, int col);
hp_status hp__node_append(hp__node *seq, hp__node *item);
hp_status hp__node_map_put(hp__node *map, hp__node *key, hp__node *value);
hp__node *hp__node_map_get(const hp__node *map, const char *key);
/* Index of key in map, or -1. */
long hp__node_map_index(const hp__node *map, const char *key);
hp__node *hp__node_clone(const hp__node *n);
void hp__node_free(hp__node *n);

/* "FILE:LINE:COL" (or "FILE" when line is 0) into buf. */
void hp__node_location(const hp__node *n, char *buf, size_t size);

#endif
