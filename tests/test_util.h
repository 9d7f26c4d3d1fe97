/* test_util.h — small helpers shared by the test files: temporary files and
 * message assertions that print what was actually received. */
#ifndef HPINN_TEST_UTIL_H
#define HPINN_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

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

#endif
