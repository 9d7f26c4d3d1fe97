/* test_util.h — small helpers shared by the test files: temporary files and
 * message assertions that print what was actually received. */
#ifndef HPINN_TEST_UTIL_H
#define HPINN_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sys/wait.h>

#include "hpinn/registry.h"
#include "hpinn/status.h"

/* HP_ABI_VERSION as text, for the messages that name it ("... has ABI 4"); the
 * assertion makes a bump of the ABI update this one line. */
#include "hpinn/plugin.h"
#define HP__ABI_NUMBER 4
_Static_assert(HP__ABI_NUMBER == HP_ABI_VERSION, "tests/test_util.h: set HP__ABI_NUMBER to HP_ABI_VERSION");
#define HP__ABI_STR2(x) #x
#define HP__ABI_STR(x) HP__ABI_STR2(x)
#define HP__ABI_TEXT HP__ABI_STR(HP__ABI_NUMBER)

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* CMocka 1.1.5 (Debian 12) has no double comparison. */
#ifndef assert_double_equal
#define assert_double_equal(a, b, eps)                                                     \
    do {                                                                                   \
        double hp__a = (a), hp__b = (b), hp__e = (eps);                                    \
        if (!(fabs(hp__a - hp__b) <= hp__e))                                               \
            fail_msg("%.17g != %.17g (tolerance %g)", hp__a, hp__b, hp__e);                \
    } while (0)
#endif

/* Assert that `haystack` contains `needle`, showing both on failure. */
#define assert_contains(haystack, needle)                                                     \
    do {                                                                                      \
        const char *hp__h = (haystack), *hp__n = (needle);                                    \
        if (!hp__h || !strstr(hp__h, hp__n))                                                  \
            fail_msg("expected to find\n  \"%s\"\nin\n  \"%s\"", hp__n, hp__h ? hp__h : "(null)"); \
    } while (0)

/* Write text to a fresh file in the test's working directory; returns its path
 * (static storage, one per call site is enough for these tests). */
static inline const char *hp_test_write_file(const char *name, const char *text) {
    static char path[8][512];
    static int next = 0;
    char *p = path[next++ % 8];
    snprintf(p, 512, "%s", name);
    FILE *f = fopen(p, "w");
    if (!f) fail_msg("cannot write %s", p);
    fputs(text, f);
    fclose(f);
    return p;
}

/* Read a whole file into a malloc'ed string (NULL if missing). */
static inline char *hp_test_read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* Copy a file (e.g. a plugin into a temporary directory). */
static inline void hp_test_copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    if (!in || !out) fail_msg("cannot copy %s to %s", from, to);
    char buf[1 << 14];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) fail_msg("cannot write %s", to);
    fclose(in);
    if (fclose(out) != 0) fail_msg("cannot write %s", to);
}

/* 64-bit FNV-1a of a whole file, written out here rather than taken from
 * core/src/checksum.h so that a test compares two implementations. */
static inline uint64_t hp_test_file_fnv1a64(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot read %s", path);
    uint64_t h = 14695981039346656037ull;
    int c;
    while ((c = fgetc(f)) != EOF) {
        h ^= (unsigned char)c;
        h *= 1099511628211ull;
    }
    fclose(f);
    return h;
}

/* Fail with hpinn's error message when a call does not return HP_OK. */
#define OK(expr)                                                         \
    do {                                                                 \
        hp_status st_ = (expr);                                          \
        if (st_ != HP_OK) fail_msg("%s: %s", #expr, hp_error_message()); \
    } while (0)

/* The plugin registry of the build tree, opened once per test file by the group
 * fixtures below (cmocka_run_group_tests(tests, hp_test_registry_setup,
 * hp_test_registry_teardown)). */
static hp_registry *registry __attribute__((unused));

static inline int hp_test_registry_setup(void **state) {
    (void)state;
    return hp_registry_open(&registry) == HP_OK ? 0 : -1;
}

static inline int hp_test_registry_teardown(void **state) {
    (void)state;
    hp_registry_close(registry);
    return 0;
}

/* Run `$HPINN_BUILD_DIR/bin/hpinn ARGS` through the shell, stdout and stderr
 * captured into out/err (files `tag`.out/.err in the working directory); returns
 * the exit code. */
static inline int hp_test_run_hpinn(const char *args, const char *tag, char *out, size_t out_size, char *err,
                                    size_t err_size) {
    char cmd[8192], out_path[256], err_path[256];
    snprintf(out_path, sizeof out_path, "%s.out", tag);
    snprintf(err_path, sizeof err_path, "%s.err", tag);
    snprintf(cmd, sizeof cmd, "%s/bin/hpinn %s >%s 2>%s", getenv("HPINN_BUILD_DIR"), args, out_path, err_path);
    int status = system(cmd);
    char *o = hp_test_read_file(out_path), *e = hp_test_read_file(err_path);
    snprintf(out, out_size, "%s", o ? o : "");
    snprintf(err, err_size, "%s", e ? e : "");
    free(o);
    free(e);
    if (!WIFEXITED(status)) fail_msg("hpinn %s did not exit normally (status %d)", args, status);
    return WEXITSTATUS(status);
}

#endif
