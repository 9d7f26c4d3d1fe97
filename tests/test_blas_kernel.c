/* test_blas_kernel.c — the OpenBLAS kernel hpinn chooses where OpenBLAS fell
 * back to its generic one (core/cli/blas_kernel.c): the decision on every kind
 * of CPU, and the hpinn command on this one (re-executed with the kernel, the
 * user's OPENBLAS_CORETYPE and HPINN_BLAS_AUTO=0 respected). */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static char out_text[1 << 14], err_text[1 << 14];

static int run(const char *args) {
    return hp_test_run_hpinn(args, "blas_kernel", out_text, sizeof out_text, err_text, sizeof err_text);
}

static void test_decision(void **state) {
    (void)state;
    const hp__cpu_features none = {0}, avx2 = {.avx2 = 1, .fma = 1},
                           avx512 = {1, 1, 1, 1, 1, 1, 1}, avx512f_only = {.avx2 = 1, .fma = 1, .avx512f = 1},
                           avx2_no_fma = {.avx2 = 1};
    /* the generic fallback on a modern CPU: the best kernel its features allow */
    assert_string_equal(hp__blas_kernel_fallback("Prescott", &avx512), "SkylakeX");
    assert_string_equal(hp__blas_kernel_fallback("PRESCOTT", &avx512), "SkylakeX");
    assert_string_equal(hp__blas_kernel_fallback("Prescott", &avx2), "Haswell");
    assert_string_equal(hp__blas_kernel_fallback("Prescott", &avx512f_only), "Haswell"); /* SkylakeX needs VL/BW/DQ too */
    /* a CPU as old as the kernel, or a kernel OpenBLAS chose by model: kept */
    assert_null(hp__blas_kernel_fallback("Prescott", &none));
    assert_null(hp__blas_kernel_fallback("Prescott", &avx2_no_fma));
    assert_null(hp__blas_kernel_fallback("SkylakeX", &avx512));
    assert_null(hp__blas_kernel_fallback("Haswell", &avx512));
    assert_null(hp__blas_kernel_fallback("Zen", &avx2));
    assert_null(hp__blas_kernel_fallback(NULL, &avx512));
}

/* The kernel `hpinn --version` reports ("kernel NAME" up to the next , or space). */
static void reported_kernel(char *name, size_t size) {
    const char *k = strstr(out_text, "kernel ");
    if (!k) fail_msg("no kernel in hpinn --version: %s", out_text);
    k += 7;
    size_t len = strcspn(k, ", \n");
    snprintf(name, size, "%.*s", (int)(len < size ? len : size - 1), k);
}

static void test_command(void **state) {
    (void)state;
    const char *saved = getenv("OPENBLAS_CORETYPE");
    char keep[64] = "";
    if (saved) snprintf(keep, sizeof keep, "%s", saved);
    char kernel[64], own[64];
    /* OpenBLAS's own choice on this CPU */
    unsetenv("OPENBLAS_CORETYPE");
    setenv("HPINN_BLAS_AUTO", "0", 1);
    assert_int_equal(run("--version"), 0);
    reported_kernel(own, sizeof own);
    assert_null(strstr(out_text, "set by hpinn"));
    /* with the choice left to hpinn */
    unsetenv("HPINN_BLAS_AUTO");
    assert_int_equal(run("--version"), 0);
    reported_kernel(kernel, sizeof kernel);
    __builtin_cpu_init();
    int modern = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    print_message("this CPU: OpenBLAS chooses %s, hpinn runs %s%s\n", own, kernel,
                  modern ? " (the CPU has AVX2 and FMA)" : "");
    if (strcasecmp(own, "Prescott") == 0 && modern) {
        if (strcasecmp(kernel, "Prescott") == 0) fail_msg("hpinn kept the Prescott fallback on an AVX2 CPU: %s", out_text);
        assert_contains(out_text, "(set by hpinn: OpenBLAS chose Prescott on this CPU)");
    } else {
        assert_string_equal(kernel, own); /* nothing to correct: OpenBLAS's choice stands */
        assert_null(strstr(out_text, "set by hpinn"));
    }
    /* the user's choice is never overridden */
    setenv("OPENBLAS_CORETYPE", "Prescott", 1);
    assert_int_equal(run("--version"), 0);
    reported_kernel(kernel, sizeof kernel);
    assert_string_equal(kernel, "Prescott");
    assert_null(strstr(out_text, "set by hpinn"));
    if (saved) setenv("OPENBLAS_CORETYPE", keep, 1);
    else unsetenv("OPENBLAS_CORETYPE");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision),
        cmocka_unit_test(test_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
