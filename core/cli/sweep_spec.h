/* sweep_spec.h (private to the hpinn command) — what a sweep is: axes of
 * override values, from the pipeline's `sweep:` section and the command line,
 * their cartesian product as members (each a list of --set overrides and a
 * directory name), and the checks that the keys exist in the pipeline and (for
 * `hpinn check`) that every value is accepted. */
#ifndef HPINN_SWEEP_SPEC_H
#define HPINN_SWEEP_SPEC_H

#include <stddef.h>

#include "hpinn/config.h"
#include "hpinn/registry.h"
#include "hpinn/status.h"

#define HP__SWEEP_MAX_MEMBERS 10000
#define HP__SWEEP_NAME_MAX 224     /* a member's directory name, with its terminator */
#define HP__SWEEP_SEED_KEY "network.seed"

typedef struct hp__sweep_axis {
    char *key;          /* "coupling.tau2" */
    char **values;      /* YAML texts, as --set takes them */
    size_t n_values;    /* 1: the same value for every member */
    char *where;        /* where it was given, for messages ("FILE:LINE:COL: sweep.grid.KEY", "--set ...") */
    char **value_where; /* per value (YAML) or NULL (command line) */
} hp__sweep_axis;

typedef struct hp__sweep_spec {
    hp__sweep_axis *axes;
    size_t n_axes;
    char *out;          /* sweep.out (the command line's --out wins) */
    int jobs;           /* sweep.jobs; 0: auto */
    int from_file;      /* the pipeline has a sweep: section */
} hp__sweep_spec;

typedef enum hp__member_status {
    HP__MEMBER_PENDING = 0, /* not run, or interrupted (resumable) */
    HP__MEMBER_RUNNING,     /* a sweep process is running it now */
    HP__MEMBER_DONE,        /* summary.json says completed */
    HP__MEMBER_FAILED       /* exited with an error or a signal */
} hp__member_status;

const char *hp__member_status_name(hp__member_status s);

typedef struct hp__sweep_member {
    char name[HP__SWEEP_NAME_MAX];
    char **overrides;   /* "key=value", every axis (seed last) */
    size_t n_overrides;
    hp__member_status status;
    int exit_code;      /* of its last run; -1: none */
    char error[512];    /* the last error line of a failed run */
} hp__sweep_member;

/* Split "v1,v2,..." at the commas outside brackets, braces, parentheses and
 * quotes ("[1,2],[3,4]" is two values); items are trimmed, an empty one is
 * HP_ERR_USAGE naming `where`. */
hp_status hp__sweep_split_values(const char *text, const char *where, char ***values, size_t *n);
void hp__sweep_strings_free(char **v, size_t n);

/* The `sweep:` section of the pipeline file (types checked, located); a file
 * without one gives an empty spec. The file must already load as a pipeline. */
hp_status hp__sweep_spec_from_file(const char *path, hp__sweep_spec *spec);
/* --set KEY=V1,V2,...: replaces the axis of KEY, or adds one. */
hp_status hp__sweep_spec_set(hp__sweep_spec *spec, const char *assignment);
/* --seeds 1,2,3: the network.seed axis (replacing one from the file). */
hp_status hp__sweep_spec_seeds(hp__sweep_spec *spec, const char *list);
void hp__sweep_spec_free(hp__sweep_spec *spec);

/* The cartesian product: the first axis varies slowest, network.seed fastest.
 * Names join KEY=VALUE of the axes with more than one value by '_' (network.seed
 * as seed=N), made filesystem-safe and unique. HP_ERR_USAGE above
 * HP__SWEEP_MAX_MEMBERS. */
hp_status hp__sweep_members(const hp__sweep_spec *spec, hp__sweep_member **members, size_t *n);
void hp__sweep_members_free(hp__sweep_member *m, size_t n);

/* Every axis key exists in the pipeline `c` (core tables, the plugins the
 * sections name or the grid's plugin values, the stages, the constants);
 * HP_ERR_CONFIG naming where the key was given and what exists. */
hp_status hp__sweep_check_keys(const hp__sweep_spec *spec, const hp_config *c, const hp_registry *r);

/* 1 when hp__sweep_check_keys would accept `key` (0, the error cleared, when not). */
int hp__sweep_key_exists(const hp__sweep_spec *spec, const hp_config *c, const hp_registry *r, const char *key);

/* For `hpinn check`: every value, with the other axes at their first value, is
 * accepted by the same validation as `hpinn run` (HP_ERR_CONFIG naming the
 * value's place). */
hp_status hp__sweep_check_values(const hp__sweep_spec *spec, const char *config_path, const hp_registry *r);

#endif
