/* test_plugins.c — plugins for the registry tests, one source compiled into
 * several modules by preprocessor switches:
 *   GOOD       a valid optimizer plugin "testgood"
 *   BAD_ABI    a descriptor claiming ABI version 999
 *   NO_SYMBOL  a shared object without the entry symbol
 *   DUP_NAME   a valid optimizer plugin "testdup", version DUP_NAME (built twice
 *              as hpinn_testdup.so, in two directories: duplicates)
 *   NULL_STEP  an optimizer leaving a mandatory vtable member empty
 *   PARTIAL_STATE  an optimizer that can save its state but not load it
 *   CTOR       a valid optimizer plugin "testctor" whose constructor creates the
 *              file named by HPINN_TEST_CTOR_MARKER: it shows when the registry
 *              opened the file, which it must do only when the plugin is used */
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hpinn/optimizer.h"
#include "hpinn/plugin.h"

static const hp_param_def params[] __attribute__((unused)) = {
    {"rate", HP_PARAM_REAL, "0.5", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 0.0, 0.0, NULL, 0, "step length"},
    HP_PARAM_END};

static hp_status create(const hp_params *p, size_t n, void **state) {
    double *rate = malloc(sizeof *rate);
    if (!rate) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    *rate = hp_params_real(p, "rate");
    (void)n;
    *state = rate;
    return HP_OK;
}
static void destroy(void *state) { free(state); }
__attribute__((unused)) static hp_status step(void *state, double *theta, const hp_objective *o, hp_opt_step_info *info) {
    double *g = malloc(o->n * sizeof *g);
    if (!g) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    double value;
    hp_status st = o->value_and_gradient(o->ctx, theta, &value, g);
    for (size_t i = 0; st == HP_OK && i < o->n; i++) theta[i] -= *(double *)state * g[i];
    free(g);
    info->value = value;
    info->stop = HP_OPT_CONTINUE;
    return st;
}

#if defined(PARTIAL_STATE)
static size_t state_size(const void *state) {
    (void)state;
    return sizeof(double);
}
static hp_status save(const void *state, void *buf) {
    memcpy(buf, state, sizeof(double));
    return HP_OK;
}
static const hp_optimizer_ops ops = {sizeof(hp_optimizer_ops), create, destroy, step, state_size, save, NULL, NULL, NULL, NULL};
#elif defined(NULL_STEP)
static const hp_optimizer_ops ops = {sizeof(hp_optimizer_ops), create, destroy, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
#elif defined(SHORT_OPS)
/* a table whose declared size ends before its mandatory `step`: as if built
 * against a header that had no step (the pointer is set but must not be read) */
static const hp_optimizer_ops ops = {(uint32_t)offsetof(hp_optimizer_ops, step), create, destroy, step, NULL, NULL,
                                     NULL, (double (*)(const hp_params *, size_t, size_t))1, NULL, NULL};
#elif defined(OLD_OPS)
/* built before the optional memory_bytes was appended: the size ends at load,
 * and what lies beyond (here garbage) must count as absent */
static const hp_optimizer_ops ops = {(uint32_t)offsetof(hp_optimizer_ops, memory_bytes), create, destroy, step, NULL,
                                     NULL, NULL, (double (*)(const hp_params *, size_t, size_t))1, NULL, NULL};
#else
static const hp_optimizer_ops ops = {sizeof(hp_optimizer_ops), create, destroy, step, NULL, NULL, NULL, NULL, NULL, NULL};
#endif

#if defined(GOOD)
HP_PLUGIN_DEFINE(HP_PLUGIN_OPTIMIZER, "testgood", "1.2.3", "gradient descent for the registry tests", params, &ops)
#elif defined(DUP_NAME)
HP_PLUGIN_DEFINE(HP_PLUGIN_OPTIMIZER, "testdup", DUP_NAME, "duplicate name", params, &ops)
#elif defined(CTOR)
__attribute__((constructor)) static void mark_opened(void) {
    const char *marker = getenv("HPINN_TEST_CTOR_MARKER");
    FILE *f = marker && *marker ? fopen(marker, "a") : NULL;
    if (f) {
        fputs("opened\n", f);
        fclose(f);
    }
}
HP_PLUGIN_DEFINE(HP_PLUGIN_OPTIMIZER, "testctor", "1.0", "records that its constructor ran", params, &ops)
#elif defined(PARTIAL_STATE)
HP_PLUGIN_DEFINE(HP_PLUGIN_OPTIMIZER, "testpartialstate", "1.0", "saves its state, cannot load it", params, &ops)
#elif defined(NULL_STEP)
HP_PLUGIN_DEFINE(HP_PLUGIN_OPTIMIZER, "testnullstep", "1.0", "leaves step empty", params, &ops)
#elif defined(SHORT_OPS)
HP_PLUGIN_DEFINE(HP_PLUGIN_OPTIMIZER, "testshortops", "1.0", "an ops table too short for step", params, &ops)
#elif defined(OLD_OPS)
HP_PLUGIN_DEFINE(HP_PLUGIN_OPTIMIZER, "testoldops", "1.0", "an ops table of an older minor version", params, &ops)
#elif defined(BAD_ABI)
HP_PLUGIN_EXPORT const hp_plugin_descriptor *hp_plugin_entry(void);
HP_PLUGIN_EXPORT const hp_plugin_descriptor *hp_plugin_entry(void) {
    static const hp_plugin_descriptor d = {999u, (uint32_t)sizeof(hp_plugin_descriptor), HP_PLUGIN_OPTIMIZER,
                                           "testbadabi", "1.0", "claims ABI 999", params, &ops};
    return &d;
}
#elif defined(NO_SYMBOL)
HP_PLUGIN_EXPORT int hp_not_the_entry(void);
HP_PLUGIN_EXPORT int hp_not_the_entry(void) { return ops.step != NULL; }
#endif
