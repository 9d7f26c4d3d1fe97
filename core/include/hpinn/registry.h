/* hpinn/registry.h — finding plugins by (kind, name).
 *
 * Search order: the directories of HPINN_PLUGIN_PATH (colon-separated; relative
 * entries are skipped with a note), then the plugin directory next to the libhpinn
 * in use (the build tree, or the install prefix), then the configured install
 * prefix. Files and directories that are world-writable or owned by a user other
 * than root and the current one are refused before anything is opened. Only files named hpinn_<name>.so
 * are considered; each is opened with dlopen(RTLD_NOW|RTLD_LOCAL) and must export
 * the entry symbol of hpinn/plugin.h with a matching ABI version and struct size,
 * and declare the <name> of its file name.
 *
 * Opening a plugin runs its code, so nothing is opened before it is needed: a
 * lookup opens only the files named hpinn_<name>.so, in search-path order, until
 * one is of the kind asked for; enumerating (hp_registry_count/get) opens every
 * plugin file on the path. A duplicate (kind, name) is reported and the first one
 * found wins. Names from a configuration are only ever looked up here, never
 * opened as paths.
 *
 * Lookups fill the registry's cache of opened files through a const pointer (the
 * registry is logically const); a registry is not to be used by two threads at
 * once. */
#ifndef HPINN_REGISTRY_H
#define HPINN_REGISTRY_H

#include <stddef.h>

#include "hpinn/export.h"
#include "hpinn/plugin.h"
#include "hpinn/status.h"

HP_BEGIN_API

typedef struct hp_registry hp_registry;

/* A problem met while scanning (bad ABI, missing symbol, duplicate name): the
 * scan goes on, the problems are kept for `hpinn plugins` to show. */
typedef struct hp_registry_problem {
    const char *file;
    const char *message;
} hp_registry_problem;

/* Set up the search path; no plugin is opened yet. */
hp_status hp_registry_open(hp_registry **out);
void hp_registry_close(hp_registry *r);

/* Look a plugin up, opening the files hpinn_<name>.so on the path in order until
 * one is a plugin of this kind. Unknown name -> HP_ERR_NOT_FOUND whose message
 * lists the plugin names on the path (from the file names, none is opened for it)
 * and the nearest one. An invalid name ([a-z0-9_]+) -> HP_ERR_NOT_FOUND. */
hp_status hp_registry_find(const hp_registry *r, hp_plugin_kind kind, const char *name,
                           const hp_plugin_descriptor **out);

/* Enumerate: count, then i-th descriptor and the file it came from. The first
 * call opens every plugin file on the search path (for listings only: a pipeline
 * uses hp_registry_find) and clears the calling thread's error message. */
size_t hp_registry_count(const hp_registry *r);
const hp_plugin_descriptor *hp_registry_get(const hp_registry *r, size_t i, const char **file);
/* The problems met so far: by lookups, and by every file once enumerated. The
 * message follows the file name: "<file> <message>". */
size_t hp_registry_problem_count(const hp_registry *r);
const hp_registry_problem *hp_registry_get_problem(const hp_registry *r, size_t i);

/* The file descriptor d was loaded from, and in *checksum (may be NULL) the
 * 64-bit FNV-1a checksum of that file's bytes as they were checked before it was
 * opened: what a record of a run (summary.json) needs to name the code that ran.
 * NULL, *checksum untouched, for a descriptor this registry did not load. */
const char *hp_registry_file_of(const hp_registry *r, const hp_plugin_descriptor *d, uint64_t *checksum);

/* Notes: what the user should hear about although nothing failed, one line
 * each, recorded once ("warning: HPINN_PLUGIN_PATH entry 'plugins' is a relative
 * path ..."). They grow as lookups go on; the command line prints them. */
size_t hp_registry_note_count(const hp_registry *r);
const char *hp_registry_get_note(const hp_registry *r, size_t i);

/* Load a single plugin file, checking it exactly as lookups and enumeration do
 * (used by them and by tests). The handle stays open until hp_registry_close. */
hp_status hp_registry_load_file(hp_registry *r, const char *path);

/* The directories searched, in order, joined by ':' (for messages). */
const char *hp_registry_search_path(const hp_registry *r);

HP_END_API
#endif
