/* test_upscale_reference.c — the reference upscaling driver (`hpinn upscale`)
 * with plugins that leave optional vtable members out, as a third-party plugin
 * may: an upscaling strategy without needs_values runs as one that returns 0,
 * and a fine solver without set_coefficient_field or element_data is refused
 * with a message naming the member, before anything is solved. The plugins are
 * the built-in p1_1d and global with those members set to NULL. */
#include "test_util.h"

#include "hpinn/coarse.h"
#include "hpinn/registry.h"
#include "hpinn/upscaling.h"
#include "upscale_reference.h"

/* K of the paper's 1-D problem with eps = 1/16: K̃ -> 1/1.2 under refinement. */
static double K_paper(const double *x, void *ctx) {
    (void)ctx;
    return 1.0 / (1.2 + sin(2.0 * M_PI * 16.0 * x[0]));
}

typedef struct setup {
    const hp_plugin_descriptor *fine, *global;
    hp_params *global_params;
    hp__upscale_strategy strategy;
    int sizes[2];
    hp__upscale_reference_config cfg;
} setup;

static void setup_open(setup *s) {
    memset(s, 0, sizeof *s);
    OK(hp_registry_find(registry, HP_PLUGIN_COARSE, "p1_1d", &s->fine));
    OK(hp_registry_find(registry, HP_PLUGIN_UPSCALING, "global", &s->global));
    const char *args[] = {"form=flux", "mode=isotropic"};
    OK(hp_params_from_strings(s->global->params, "upscale.global", args, 2, &s->global_params));
    s->strategy = (hp__upscale_strategy){s->global, s->global_params, "global"};
    s->sizes[0] = 512;
    s->sizes[1] = 1024;
    s->cfg = (hp__upscale_reference_config){1, K_paper, NULL, NULL, NULL, s->fine, NULL, NULL, s->sizes, 2,
                                           &s->strategy, 1, NULL, HP__UPSCALE_FIELDS_NONE, NULL, NULL, NULL, 0, NULL};
}

static void setup_close(setup *s) { hp_params_destroy(s->global_params); }

static void test_strategy_without_needs_values(void **state) {
    (void)state;
    setup s;
    setup_open(&s);
    hp__upscale_reference_result *full = NULL, *partial = NULL;
    OK(hp__upscale_reference_run(&s.cfg, &full));
    /* the same strategy without the optional member: same K̃, bit for bit */
    hp_upscaling_ops ops = *(const hp_upscaling_ops *)s.global->ops;
    assert_non_null(ops.needs_values);
    ops.needs_values = NULL;
    hp_plugin_descriptor bare = *s.global;
    bare.name = "global_bare";
    bare.ops = &ops;
    s.strategy.desc = &bare;
    OK(hp__upscale_reference_run(&s.cfg, &partial));
    for (size_t k = 0; k < 2; k++) {
        assert_true(partial->Kt[k][0] == full->Kt[k][0]);
        assert_double_equal(partial->Kt[k][0], 1.0 / 1.2, 1e-2); /* a real K̃, not a default */
    }
    hp__upscale_reference_result_destroy(full);
    hp__upscale_reference_result_destroy(partial);
    setup_close(&s);
}

static void test_fine_solver_without_optional_members(void **state) {
    (void)state;
    setup s;
    setup_open(&s);
    hp_coarse_ops ops = *(const hp_coarse_ops *)s.fine->ops;
    hp_plugin_descriptor bare = *s.fine;
    bare.name = "p1_bare";
    bare.ops = &ops;
    s.cfg.fine = &bare;
    hp__upscale_reference_result *res = NULL;
    ops.element_data = NULL;
    assert_int_equal(hp__upscale_reference_run(&s.cfg, &res), HP_ERR_CONFIG);
    assert_null(res);
    assert_contains(hp_error_message(), "coarse plugin 'p1_bare' has no element_data, which a fine-scale solve needs");
    assert_contains(hp_error_message(), "such as p1_1d or p1_2d");
    ops = *(const hp_coarse_ops *)s.fine->ops;
    ops.set_coefficient_field = NULL;
    assert_int_equal(hp__upscale_reference_run(&s.cfg, &res), HP_ERR_CONFIG);
    assert_null(res);
    assert_contains(hp_error_message(),
                    "coarse plugin 'p1_bare' has no set_coefficient_field, which a fine-scale solve needs");
    setup_close(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strategy_without_needs_values),
        cmocka_unit_test(test_fine_solver_without_optional_members),
    };
    return cmocka_run_group_tests(tests, hp_test_registry_setup, hp_test_registry_teardown);
}
