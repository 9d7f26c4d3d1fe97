/* pipeline.h (private) — the sections a pipeline may have, and the parameter
 * tables of the core sections. The config module validates against this list;
 * the commands (check, run, upscale) read sections through it. */
#ifndef HPINN_PIPELINE_H
#define HPINN_PIPELINE_H

#include "hpinn/params.h"
#include "hpinn/plugin.h"

typedef enum hp__section_kind {
    HP__SECTION_CONSTANTS = 1, /* name -> number or expression of earlier constants */
    HP__SECTION_CORE,          /* validated against a core table */
    HP__SECTION_PLUGIN,        /* `plugin:` + that plugin's table */
    HP__SECTION_STAGES,        /* list of core stage entries, each with an `optimizer` plugin */
    HP__SECTION_SWEEP          /* `hpinn sweep`'s grid: ignored by run, validated by check and sweep */
} hp__section_kind;

typedef struct hp__section_def {
    const char *name;
    hp__section_kind kind;
    const hp_param_def *table;  /* CORE, STAGES (the per-stage table) */
    hp_plugin_kind plugin_kind; /* PLUGIN, STAGES (the optimizer) */
    const char *default_plugin; /* PLUGIN: used when `plugin:` is absent (may be NULL) */
    const char *doc;
} hp__section_def;

/* Terminated by an entry with name NULL. */
extern const hp__section_def hp__pipeline_sections[];

const hp__section_def *hp__pipeline_section(const char *name);

/* The plugin a section uses when it names none (the one place defaults live):
 * upscaling "global", coarse "p1_1d" or "p1_2d" by dim, stage optimizers "adam";
 * NULL when the section must name one (network). */
const char *hp__pipeline_default_plugin(const char *section, int dim);

extern const hp_param_def hp__problem_params[];
extern const hp_param_def hp__coupling_params[];
extern const hp_param_def hp__stage_params[];
extern const hp_param_def hp__output_params[];
extern const hp_param_def hp__upscale_params[];

#endif
