/* yaml_flat.h (private) — a YAML tree (yaml_tree.h) as one line of flow text
 * and as flat key=value pairs: what `hpinn sweep` passes to `--set` and
 * compares between runs of a sweep, and what `hpinn compare` compares between
 * resolved pipelines.
 *
 * Flattening: mapping keys join with '.', a list of scalars stays one value
 * ("network.sigmas" = "[1, 16]"), a list holding mappings or lists is indexed
 * ("stages[0].iterations"). Scalars are their text, without quotes. */
#ifndef HPINN_YAML_FLAT_H
#define HPINN_YAML_FLAT_H

#include <stdio.h>

#include "hpinn/status.h"
#include "yaml_tree.h"

/* One-line YAML flow text of n that parses back to the same tree: scalars
 * plain where that is safe, double-quoted (escaped) where they were quoted or
 * would read otherwise. */
void hp__node_write_flow(const hp__node *n, FILE *f);
/* The same into a malloc'ed string (HP_ERR_NOMEM). */
hp_status hp__node_flow_text(const hp__node *n, char **text);

typedef struct hp__flat {
    size_t n, cap;
    char **keys;   /* in document order */
    char **values;
} hp__flat;

/* Append the pairs of `n` under `prefix` (NULL or "": the root) to *out. */
hp_status hp__flatten(const hp__node *n, const char *prefix, hp__flat *out);
/* Add or replace one pair. */
hp_status hp__flat_put(hp__flat *f, const char *key, const char *value);
/* The value of key, or NULL. */
const char *hp__flat_get(const hp__flat *f, const char *key);
void hp__flat_free(hp__flat *f);

#endif
