/* params_internal.h (private) — how the config module builds hp_params from YAML
 * nodes, and the pipeline constants that real-valued parameters may refer to. */
#ifndef HPINN_PARAMS_INTERNAL_H
#define HPINN_PARAMS_INTERNAL_H

#include <stdio.h>

#include "hpinn/params.h"
#include "yaml_tree.h"

/* Named constants of a pipeline (`constants:`), in declaration order. */
typedef struct hp__constants {
    size_t count;
    char **names;
    double *values;
} hp__constants;

/* Validate mapping `map` (NULL: section absent) against `table` and resolve every
 * parameter. `section` names the section in messages; `where` is the node used to
 * locate errors about missing values (the section itself, or its parent). Keys
 * equal to `ignore_key` (e.g. "plugin") are skipped. */
hp_status hp__params_resolve(const hp_param_def *table, const char *section,
                             const hp__node *map, const hp__node *where,
                             const char *ignore_key, const hp__constants *constants,
                             hp_params **out);

/* Write the resolved values as YAML mapping entries, `indent` spaces deep. */
void hp__params_write_yaml(const hp_params *p, FILE *out, int indent);

/* Evaluate a constant expression ("1/48", "2*eps") over the constants.
 * Returns 1 on success; else 0 with a reason in err. */
int hp__eval_constant_expression(const char *text, const hp__constants *constants,
                                 double *value, char *err, size_t err_size);

/* Closest word of `candidates` (count strings) to `word` by edit distance, or NULL
 * when none is close enough to be a plausible typo. */
const char *hp__did_you_mean(const char *word, const char *const *candidates, size_t count);

#endif
