/* hpinn/config.h — pipelines: YAML documents with locations, command-line
 * overrides, validation of every section against its parameter table, and the
 * resolved configuration (all defaults filled in).
 *
 * A pipeline is a YAML mapping of sections. Core sections (problem, coupling,
 * output, and each entry of the `stages` list) are validated against tables
 * declared by the core; plugin sections (network, upscaling, coarse, and each
 * stage's `optimizer`) name their plugin with `plugin:` and are validated against
 * that plugin's table. `constants:` maps names to numbers or expressions of
 * earlier constants; any real-valued parameter may use them ("delta: eps"). */
#ifndef HPINN_CONFIG_H
#define HPINN_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "hpinn/export.h"
#include "hpinn/params.h"
#include "hpinn/plugin.h"
#include "hpinn/registry.h"
#include "hpinn/status.h"

HP_BEGIN_API

typedef struct hp_config hp_config;

/* Sizes a pipeline may have, refused at load (constants) or by hp_config_resolve
 * (stages) with the location of the first entry too many: the problem's
 * expressions take at most this many constants, the trainer this many stages. */
#define HP_CONFIG_MAX_CONSTANTS 64
#define HP_CONFIG_MAX_STAGES 64

/* Load a pipeline. A YAML syntax error, a top level that is not a mapping, an
 * unknown section, a bad `constants:` entry or more than HP_CONFIG_MAX_CONSTANTS
 * of them is HP_ERR_CONFIG with FILE:LINE:COL. */
hp_status hp_config_load_file(const char *path, hp_config **out);
/* Same from memory; `name` stands for the file name in messages. */
hp_status hp_config_load_string(const char *text, size_t length, const char *name,
                                hp_config **out);
void hp_config_destroy(hp_config *c);

/* Apply one override "path=value": path is dotted keys with optional list
 * indices ("network.width", "stages[1].optimizer.lr", "network.sigmas"); value is
 * parsed as YAML ("[1, 48]" is a list). Intermediate mappings are created. The
 * new value is validated with its section, so a key that the section does not
 * declare is an error naming the --set argument. */
hp_status hp_config_set(hp_config *c, const char *assignment);

const char *hp_config_file(const hp_config *c);
/* Nonzero if the top-level section (or list entry, "stages[0]") is present. */
int hp_config_has(const hp_config *c, const char *path);
/* Number of entries of a top-level list section ("stages"); 0 if absent. */
size_t hp_config_list_length(const hp_config *c, const char *path);

/* Resolve a core section against `table` (absent section: all defaults, and an
 * error for a required parameter). `path` is "problem", "stages[0]", ... */
hp_status hp_config_section(const hp_config *c, const char *path, const hp_param_def *table,
                            hp_params **out);
/* Same, skipping the key `ignore_key` of the section (a nested plugin section such
 * as a stage's `optimizer:`, resolved separately with hp_config_plugin_section). */
hp_status hp_config_section_except(const hp_config *c, const char *path, const hp_param_def *table,
                                   const char *ignore_key, hp_params **out);
/* Resolve a plugin section: its `plugin:` key (or `default_plugin` when absent and
 * not NULL) is looked up in the registry for `kind`, the rest validated against
 * the plugin's table. */
hp_status hp_config_plugin_section(const hp_config *c, const char *path, hp_plugin_kind kind,
                                   const char *default_plugin, const hp_registry *r,
                                   const hp_plugin_descriptor **desc, hp_params **out);

/* Constants of the pipeline, in declaration order. */
size_t hp_config_constant_count(const hp_config *c);
const char *hp_config_constant_name(const hp_config *c, size_t i);
double hp_config_constant_value(const hp_config *c, size_t i);

/* Validate the whole pipeline (every present section, plugins looked up; a
 * `stages:` list of 1 to HP_CONFIG_MAX_STAGES entries) and, if `out` is not NULL,
 * write the resolved configuration as YAML to it. */
hp_status hp_config_resolve(const hp_config *c, const hp_registry *r, FILE *out);

/* What a training run needs beyond valid sections: a `network:` section and a
 * `stages:` list (hp_config_resolve already refuses an empty list or more than
 * HP_CONFIG_MAX_STAGES). `hpinn check` and `hpinn run` both apply it, so check
 * refuses what run would; `hpinn upscale` needs neither section. */
hp_status hp_config_check_run(const hp_config *c);

/* Location "FILE:LINE:COL" of the node at `path` (or of the nearest existing
 * ancestor) written into buf; for messages about values read through sections. */
void hp_config_location(const hp_config *c, const char *path, char *buf, size_t size);

HP_END_API
#endif
