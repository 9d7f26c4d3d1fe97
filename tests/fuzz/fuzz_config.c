/* fuzz_config.c — libFuzzer target: bytes → pipeline → validation.
 *
 * The input is a YAML pipeline, optionally followed by a line "#--set k=v" per
 * override, so the fuzzer also explores the override paths. The registry is
 * opened once; every section is validated against the real plugins' tables.
 * Any crash, leak or UB report is a bug; `make fuzz` runs it for FUZZ_SECONDS
 * and crashes found become cases in tests/test_config.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpinn/config.h"
#include "hpinn/registry.h"

static hp_registry *registry;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (hp_registry_open(&registry) != HP_OK) {
        fprintf(stderr, "fuzz_config: cannot open the registry: %s\n", hp_error_message());
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hp_config *c = NULL;
    if (hp_config_load_string((const char *)data, size, "fuzz.yaml", &c) != HP_OK) return 0;
    /* overrides embedded as "#--set " lines (YAML comments, ignored by the parser) */
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = '\0';
    hp_status st = HP_OK;
    for (char *line = strstr(text, "#--set "); line && st == HP_OK; line = strstr(line + 1, "#--set ")) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        st = hp_config_set(c, line + 7);
        if (end) *end = '\n';
    }
    free(text);
    if (st == HP_OK) {
        FILE *sink = fopen("/dev/null", "w");
        if (hp_config_resolve(c, registry, sink) == HP_OK) (void)hp_config_check_run(c);
        if (sink) fclose(sink);
    }
    hp_config_destroy(c);
    return 0;
}
