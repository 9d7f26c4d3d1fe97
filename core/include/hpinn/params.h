/* hpinn/params.h — parameter tables and resolved parameter sets.
 *
 * Every plugin and every core section of a pipeline declares its parameters in
 * a table of hp_param_def. The core validates a YAML mapping against the table
 * (unknown keys, types, bounds, required values) and hands the plugin an
 * hp_params: every value resolved (defaults filled in) and remembering where it
 * came from, so that a plugin's own cross-parameter checks can still report
 * FILE:LINE:COL through hp_params_error(). */
#ifndef HPINN_PARAMS_H
#define HPINN_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "hpinn/export.h"
#include "hpinn/status.h"

HP_BEGIN_API

typedef enum hp_param_type {
    HP_PARAM_INT = 1,    /* 64-bit signed integer */
    HP_PARAM_REAL = 2,   /* double; also accepts integers and the constants of the pipeline */
    HP_PARAM_BOOL = 3,   /* true/false (YAML 1.1 yes/no/on/off accepted) */
    HP_PARAM_STRING = 4, /* free text */
    HP_PARAM_ENUM = 5,   /* one of the words in `choices` ("a|b|c") */
    HP_PARAM_REALS = 6   /* list of reals ([1, 48] or a single number) */
} hp_param_type;

/* Flags for hp_param_def.flags. */
#define HP_PARAM_REQUIRED 0x1u  /* no default: the pipeline must give it */
#define HP_PARAM_HAS_MIN 0x2u   /* value (or each list entry) >= min */
#define HP_PARAM_HAS_MAX 0x4u   /* value (or each list entry) <= max */
#define HP_PARAM_MIN_OPEN 0x8u  /* with HAS_MIN: value > min (strict) */
#define HP_PARAM_AUTO 0x10u     /* INT, REAL: the word `auto` is accepted too (hp_params_is_auto) */

/* One parameter. Tables are static const arrays ended by an entry with name NULL
 * (HP_PARAM_END). The default is given as text, parsed like a YAML scalar
 * ("100", "1e-3", "tanh", "[1, 48]"); NULL with HP_PARAM_REQUIRED. */
typedef struct hp_param_def {
    const char *name;       /* [a-z0-9_]+ */
    hp_param_type type;
    const char *default_value;
    unsigned flags;
    double min, max;        /* bounds, used per the flags (ints compared as doubles) */
    const char *choices;    /* ENUM: "tanh|swish|sin|gelu" */
    size_t min_len;         /* REALS: minimum number of entries (e.g. 1: not empty) */
    const char *doc;        /* one line for `hpinn plugins NAME` */
} hp_param_def;

#define HP_PARAM_END {NULL, (hp_param_type)0, NULL, 0u, 0.0, 0.0, NULL, 0u, NULL}

/* A resolved parameter set (opaque). */
typedef struct hp_params hp_params;

/* Typed access by name. Asking for a name the table does not declare, or with
 * the wrong type, is a programming error in the plugin and aborts via HP_ASSERT. */
int64_t hp_params_int(const hp_params *p, const char *name);
double hp_params_real(const hp_params *p, const char *name);
int hp_params_bool(const hp_params *p, const char *name);
const char *hp_params_string(const hp_params *p, const char *name); /* also ENUM */
/* REALS: pointer to the entries (valid while p lives) and their count. */
const double *hp_params_reals(const hp_params *p, const char *name, size_t *count);
/* ENUM: index of the chosen word in `choices`. */
int hp_params_enum_index(const hp_params *p, const char *name);
/* Nonzero when an INT or REAL parameter with HP_PARAM_AUTO was given as `auto`
 * (hp_params_int then returns -1, hp_params_real NaN). */
int hp_params_is_auto(const hp_params *p, const char *name);
/* Nonzero when the value came from the pipeline or --set, not from the default. */
int hp_params_is_set(const hp_params *p, const char *name);

/* For a plugin's own checks: set an HP_ERR_CONFIG error located at the value of
 * `name` (or at the section when the value is a default), formatted as
 *   FILE:LINE:COL: section.name: <what was wrong>; <what is expected>
 * and return HP_ERR_CONFIG. */
hp_status hp_params_error(const hp_params *p, const char *name, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Build a parameter set without YAML, from "key=value" strings (values parsed as
 * YAML scalars or flow lists), validated against the table exactly as a pipeline
 * would be. For tests and for programs embedding hpinn. `section` names the set in
 * messages; locations read "<args>:1:N" with N the argument index. */
hp_status hp_params_from_strings(const hp_param_def *table, const char *section,
                                 const char *const *assignments, size_t count,
                                 hp_params **out);

void hp_params_destroy(hp_params *p);

/* Text of a parameter type ("int", "real", ...). */
const char *hp_param_type_name(hp_param_type t);

HP_END_API
#endif
