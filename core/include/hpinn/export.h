/* hpinn/export.h — what libhpinn exports, and how the core calls plugin
 * operations.
 *
 * libhpinn is built with -fvisibility=hidden: only what the public headers
 * declare between HP_BEGIN_API and HP_END_API is exported (`nm -D libhpinn.so`
 * lists exactly the hp_ API); every private hp__ symbol stays inside. The pair
 * also gives C++ callers C linkage.
 *
 * Ops tables start with `uint32_t struct_size` (the sizeof the plugin was built
 * with), so hpinn can append optional members without breaking built plugins:
 * a member that lies beyond a plugin's struct_size is treated as NULL. */
#ifndef HPINN_EXPORT_H
#define HPINN_EXPORT_H

#include <stddef.h>

#if defined(__GNUC__)
#define HP__PRAGMA(x) _Pragma(#x)
#define HP__VISIBILITY_PUSH HP__PRAGMA(GCC visibility push(default))
#define HP__VISIBILITY_POP HP__PRAGMA(GCC visibility pop)
#else
#define HP__VISIBILITY_PUSH
#define HP__VISIBILITY_POP
#endif

#ifdef __cplusplus
#define HP_BEGIN_API extern "C" { HP__VISIBILITY_PUSH
#define HP_END_API HP__VISIBILITY_POP }
#else
#define HP_BEGIN_API HP__VISIBILITY_PUSH
#define HP_END_API HP__VISIBILITY_POP
#endif

/* Nonzero when the ops table `ops` (a pointer) has `member` within the size the
 * plugin declared and it is set. The size is tested first: a member beyond it is
 * never read. */
#define HP_OP_PRESENT(ops, member)                                                            \
    ((size_t)((const char *)&(ops)->member - (const char *)(ops)) + sizeof((ops)->member) <=  \
         (size_t)(ops)->struct_size &&                                                        \
     (ops)->member != NULL)

/* Call a required operation that returns hp_status. The registry refuses plugins
 * that lack one, so this is a safety net: HP_ERR_PLUGIN naming the member rather
 * than a crash. */
#define HP_USE_OP(ops, member, ...)                                                           \
    (HP_OP_PRESENT(ops, member)                                                               \
         ? (ops)->member(__VA_ARGS__)                                                         \
         : hp_error_set(HP_ERR_PLUGIN, __FILE__, __LINE__, __func__,                          \
                        "plugin lacks its required operation '%s'", #member))

/* Call an optional operation that returns hp_status: HP_OK when it is absent. */
#define HP_TRY_OP(ops, member, ...) (HP_OP_PRESENT(ops, member) ? (ops)->member(__VA_ARGS__) : HP_OK)

#endif
