/* hpinn/plugin.h — the plugin ABI.
 *
 * A plugin is a shared object (CMake MODULE library) that exports exactly one
 * symbol, HP_PLUGIN_ENTRY_NAME, a function returning a pointer to a static
 * descriptor. The descriptor starts with the ABI version and its own size so the
 * loader can reject a plugin built against another hpinn before touching any
 * other field. The kind-specific vtable (hp_network_ops, hp_coarse_ops,
 * hp_upscaling_ops, hp_optimizer_ops) hangs off `ops`.
 *
 * Bump HP_ABI_VERSION whenever this struct, a vtable or a type they use changes
 * incompatibly. */
#ifndef HPINN_PLUGIN_H
#define HPINN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "hpinn/export.h"
#include "hpinn/params.h"

HP_BEGIN_API

#define HP_ABI_VERSION 4u
#define HP_PLUGIN_ENTRY_NAME "hp_plugin_entry"

typedef enum hp_plugin_kind {
    HP_PLUGIN_NETWORK = 1,
    HP_PLUGIN_COARSE = 2,
    HP_PLUGIN_UPSCALING = 3,
    HP_PLUGIN_OPTIMIZER = 4
} hp_plugin_kind;

typedef struct hp_plugin_descriptor {
    uint32_t abi_version;      /* HP_ABI_VERSION the plugin was built with */
    uint32_t struct_size;      /* sizeof(hp_plugin_descriptor) at build time */
    hp_plugin_kind kind;
    const char *name;          /* [a-z0-9_]+, unique per kind */
    const char *version;       /* the plugin's own version, e.g. "1.0.0" */
    const char *summary;       /* one line for `hpinn plugins` */
    const hp_param_def *params;/* table ended by HP_PARAM_END */
    const void *ops;           /* const hp_<kind>_ops * */
} hp_plugin_descriptor;

typedef const hp_plugin_descriptor *(*hp_plugin_entry_fn)(void);

/* Plugins are compiled with -fvisibility=hidden; this marks the one export. */
#if defined(__GNUC__)
#define HP_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define HP_PLUGIN_EXPORT
#endif

/* Define the entry symbol of a plugin in one line:
 *   HP_PLUGIN_DEFINE(HP_PLUGIN_NETWORK, "mlp", "1.0.0", "plain MLP", mlp_params, &mlp_ops)
 */
#define HP_PLUGIN_DEFINE(kind_, name_, version_, summary_, params_, ops_)        \
    HP_PLUGIN_EXPORT const hp_plugin_descriptor *hp_plugin_entry(void);          \
    HP_PLUGIN_EXPORT const hp_plugin_descriptor *hp_plugin_entry(void) {         \
        static const hp_plugin_descriptor hp__descriptor = {                     \
            HP_ABI_VERSION, (uint32_t)sizeof(hp_plugin_descriptor), (kind_),     \
            (name_), (version_), (summary_), (params_), (ops_)};                 \
        return &hp__descriptor;                                                  \
    }

const char *hp_plugin_kind_name(hp_plugin_kind k); /* "network", ... */

HP_END_API
#endif
