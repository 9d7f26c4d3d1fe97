/* cmd_check.c — `hpinn check CONFIG`: validate a pipeline and print it resolved
 * (`hpinn run`, which validates the same way before training, is in cmd_run.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hybrid.h"
#include "pipeline.h"
#include "sweep_spec.h"
#include "validation.h"

/* `check --gradient`: the full objective's gradient against central differences
 * on a random subset of parameters, at the initial θ — the first thing a plugin
 * author runs. */
static hp_status check_gradient(const hp_config *c, const hp_registry *r) {
    hp__hybrid *h = NULL;
    double *theta = NULL;
    hp_status st = HP_OK;
    HP_CALL_GOTO(st, hp__hybrid_create(c, r, stderr, NULL, &h), done);
    size_t n = hp__hybrid_n_params(h);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof *theta, &theta), done);
    HP_CALL_GOTO(st, hp__hybrid_init_params(h, theta), done);
    double worst;
    size_t at;
    const size_t count = 24;
    printf("gradient check: %zu of %zu parameters, 4-point central differences with relative step 1e-3\n",
           count < n ? count : n, n);
    HP_CALL_GOTO(st, hp__hybrid_check_gradient(h, theta, count, 12345, 1e-3, &worst, &at, stdout), done);
    const hp__hybrid_terms *t = hp__hybrid_last_terms(h);
    char averaged[64] = "";
    if (hp__hybrid_averaged_on(h)) snprintf(averaged, sizeof averaged, "  A %.6e (tau3 %g)", t->averaged, hp__hybrid_tau3(h));
    printf("J_pinn %.6e  boundary %.6e  R %.6e%s  total %.6e%s\n", t->j_pinn, t->boundary, t->coupling, averaged,
           t->total, t->fallback ? "  (K~ not positive definite: plain PINN gradient)" : "");
    printf("worst relative error %.3e at theta[%zu]: %s\n", worst, at, worst < 1e-5 ? "PASS" : "FAIL");
    if (!(worst < 1e-5))
        st = HP_ERROR_SET(HP_ERR_NUMERIC, "check --gradient: worst relative error %.3e exceeds 1e-5", worst);
done:
    free(theta);
    hp__hybrid_destroy(h);
    return st;
}

/* The sweep: section (ignored by run): its form, its keys, and each of its
 * values with the others at their first, validated as run would validate the
 * member. *note: a comment line for the printout. */
static hp_status check_sweep(const hp__cli_pipeline_args *a, const hp_config *c, const hp_registry *r, char *note,
                             size_t size) {
    hp__sweep_spec spec;
    HP_CALL(hp__sweep_spec_from_file(a->config, &spec));
    hp_status st = hp__sweep_check_keys(&spec, c, r);
    if (st == HP_OK) st = hp__sweep_check_values(&spec, a->config, r);
    hp__sweep_member *m = NULL;
    size_t n = 0;
    if (st == HP_OK) st = hp__sweep_members(&spec, &m, &n);
    if (st == HP_OK) snprintf(note, size, "# sweep: %zu member%s (hpinn sweep %s; `run` ignores the section)\n", n,
                              n == 1 ? "" : "s", a->config);
    hp__sweep_members_free(m, n);
    hp__sweep_spec_free(&spec);
    return st;
}

hp_status hp__cmd_check(int argc, char **argv) {
    hp__cli_pipeline_args a;
    hp_status st = hp__cli_parse_pipeline_args(argc, argv, "gradient", &a);
    hp_config *c = NULL;
    hp_registry *r = NULL;
    if (st == HP_OK) st = hp__cli_load_config(&a, &c);
    if (st == HP_OK) st = hp_registry_open(&r);
    if (st == HP_OK) {
        /* resolve into memory first: nothing is printed for an invalid pipeline */
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (!mem) {
            st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
        } else {
            st = hp_config_resolve(c, r, mem);
            fclose(mem);
            if (st == HP_OK) st = hp__pipeline_validate(c, r); /* exactly what `hpinn run` refuses */
            char sweep[160] = "";
            if (st == HP_OK && hp_config_has(c, "sweep")) st = check_sweep(&a, c, r, sweep, sizeof sweep);
            if (st == HP_OK && !a.gradient)
                printf("# %s — resolved pipeline (defaults filled in)\n%s%s", a.config, sweep, text);
            free(text);
        }
    }
    if (st == HP_OK && a.gradient) st = check_gradient(c, r);
    size_t notes = 0;
    hp__cli_print_registry_notes(r, &notes);
    hp_registry_close(r);
    hp_config_destroy(c);
    hp__cli_pipeline_args_free(&a);
    return st;
}
