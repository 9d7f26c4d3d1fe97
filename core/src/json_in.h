/* json_in.h (private) — reading back the JSON records hpinn writes (run.json,
 * summary.json, sweep.json). JSON as json_out.h writes it (double-quoted
 * strings with \ escapes, numbers, true/false/null, ": " after keys) is YAML
 * flow text, so the YAML parser of the pipelines reads it, with its limits and
 * located errors; no second parser. */
#ifndef HPINN_JSON_IN_H
#define HPINN_JSON_IN_H

#include "hpinn/status.h"
#include "yaml_tree.h"

typedef struct hp__json_doc {
    char *path;    /* the nodes point to it */
    hp__node *root;
} hp__json_doc;

/* Read and parse path. HP_ERR_NOT_FOUND when it does not exist; HP_ERR_CORRUPT
 * naming the file when it is not such a JSON object. */
hp_status hp__json_load(const char *path, hp__json_doc *doc);
void hp__json_free(hp__json_doc *doc);

/* Member `key` of an object, or NULL (also when obj is NULL or not an object). */
const hp__node *hp__json_get(const hp__node *obj, const char *key);
/* A string's text; NULL for null, a number or a collection. */
const char *hp__json_str(const hp__node *n);
/* *out = a malloc'd copy of s (NULL stays NULL): the records' readers keep
 * strings past hp__json_free. */
hp_status hp__json_dup(const char *s, char **out);
/* A number; NaN for null, a string or a collection. */
double hp__json_num(const hp__node *n);
/* 1 for true, 0 for false, -1 otherwise. */
int hp__json_bool(const hp__node *n);

#endif
