/* cmd_upscale.c — `hpinn upscale CONFIG`: the fine-scale problems of a pipeline
 * solved with the P1 plugin on fine meshes, then K̃ by the pipeline's upscaling
 * strategy (and the global tensor beside a block-wise one), as a table with the
 * observed order under refinement; fine solutions and the table are written to
 * the output directory. The reference values of docs/results.md come from here.
 * Only the table goes to stdout; progress goes to stderr on a terminal or with -v. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "hpinn/expr.h"
#include "pipeline.h"
#include "problem.h"
#include "upscale_reference.h"

typedef struct fine_ctx {
    const hp_plugin_descriptor *fine;
    const char *rule;
    int order, subdivisions;
} fine_ctx;

static hp_status fine_params(int elements, void *ctx, hp_params **out) {
    const fine_ctx *f = ctx;
    char a[4][64];
    const char *args[4];
    size_t n = 0;
    snprintf(a[n], sizeof a[n], "elements=%d", elements), args[n] = a[n], n++;
    snprintf(a[n], sizeof a[n], "quadrature_rule=%s", f->rule), args[n] = a[n], n++;
    if (f->order > 0) snprintf(a[n], sizeof a[n], "quadrature_order=%d", f->order), args[n] = a[n], n++;
    if (f->subdivisions > 0)
        snprintf(a[n], sizeof a[n], "quadrature_subdivisions=%d", f->subdivisions), args[n] = a[n], n++;
    HP_CALL(hp_params_from_strings(f->fine->params, "upscale", args, n, out));
    return HP_OK;
}

/* Progress is for a person watching: on a terminal, or with -v; a script or a
 * log gets the result table alone. */
static void progress(const char *message, void *ctx) {
    (void)ctx;
    fprintf(stderr, "hpinn upscale: %s\n", message);
}

hp_status hp__cmd_upscale(int argc, char **argv) {
    hp__cli_pipeline_args a;
    hp_config *c = NULL;
    hp_registry *r = NULL;
    hp_params *up = NULL, *out_params = NULL, *strat_params = NULL, *global_params = NULL;
    hp__problem *problem = NULL;
    hp__upscale_reference_result *result = NULL;
    int *sizes = NULL;
    hp_status st = hp__cli_parse_pipeline_args(argc, argv, "out,verbose", &a);
    if (st != HP_OK) goto done;
    HP_CALL_GOTO(st, hp__cli_load_config(&a, &c), done);
    HP_CALL_GOTO(st, hp_registry_open(&r), done);
    HP_CALL_GOTO(st, hp_config_resolve(c, r, NULL), done);
    HP_CALL_GOTO(st, hp_config_section(c, "upscale", hp__upscale_params, &up), done);
    HP_CALL_GOTO(st, hp_config_section(c, "output", hp__output_params, &out_params), done);
    HP_CALL_GOTO(st, hp__problem_create(c, &problem), done);
    int dim = problem->dim;

    /* the fine solver: the coarse section's plugin kind, P1 of the right dimension */
    const hp_plugin_descriptor *fine;
    hp_params *coarse_params = NULL;
    HP_CALL_GOTO(st, hp_config_plugin_section(c, "coarse", HP_PLUGIN_COARSE, dim == 1 ? "p1_1d" : "p1_2d", r, &fine,
                                              &coarse_params), done);
    hp_params_destroy(coarse_params);
    fine_ctx fctx = {fine, hp_params_string(up, "quadrature_rule"), (int)hp_params_int(up, "quadrature_order"),
                     (int)hp_params_int(up, "quadrature_subdivisions")};

    /* strategies: the pipeline's upscaling section, plus the global tensor beside blocks */
    hp__upscale_strategy strategies[2];
    size_t n_strategies = 0;
    const hp_plugin_descriptor *strat;
    HP_CALL_GOTO(st, hp_config_plugin_section(c, "upscaling", HP_PLUGIN_UPSCALING, "global", r, &strat, &strat_params),
                 done);
    if (strcmp(strat->name, "global") != 0 && hp_params_bool(up, "include_global")) {
        const hp_plugin_descriptor *g;
        HP_CALL_GOTO(st, hp_registry_find(r, HP_PLUGIN_UPSCALING, "global", &g), done);
        const char *args[] = {"form=flux", dim == 1 ? "mode=isotropic" : "mode=anisotropic"};
        HP_CALL_GOTO(st, hp_params_from_strings(g->params, "upscale.global", args, 2, &global_params), done);
        strategies[n_strategies++] = (hp__upscale_strategy){g, global_params, "global"};
    }
    strategies[n_strategies++] = (hp__upscale_strategy){strat, strat_params, strat->name};

    size_t n_sizes;
    const double *fe = hp_params_reals(up, "fine_elements", &n_sizes);
    HP_CALL_GOTO(st, hp_calloc(n_sizes, sizeof *sizes, &sizes), done);
    for (size_t i = 0; i < n_sizes; i++) {
        if (fe[i] != floor(fe[i]) || fe[i] > 1e8 || (i > 0 && fe[i] <= fe[i - 1])) {
            st = hp_params_error(up, "fine_elements", "%g at position %zu; expected increasing whole numbers", fe[i], i);
            goto done;
        }
        sizes[i] = (int)fe[i];
    }
    const char *dir = a.out_dir ? a.out_dir : hp_params_is_set(out_params, "dir") ? hp_params_string(out_params, "dir") : "runs/default";
    HP_CALL_GOTO(st, hp__cli_make_dirs(dir), done);
    int fields = hp_params_enum_index(up, "fields");
    hp__upscale_reference_config cfg = {
        dim, hp_expr_field, problem->K, hp_expr_field, problem->q, fine, fine_params, &fctx, sizes, n_sizes,
        strategies, n_strategies, dir,
        fields == 0 ? HP__UPSCALE_FIELDS_NONE : (fields == 1 ? HP__UPSCALE_FIELDS_FINEST : HP__UPSCALE_FIELDS_ALL),
        (a.verbose || isatty(STDERR_FILENO)) ? progress : NULL, NULL, NULL, 0, NULL};
    HP_CALL_GOTO(st, hp__upscale_reference_run(&cfg, &result), done);
    printf("# %s: K̃ by fine %s solves (%s quadrature of K), q = %s\n", a.config, fine->name, fctx.rule,
           hp_expr_text(problem->q));
    HP_CALL_GOTO(st, hp__upscale_reference_write_table(result, &cfg, stdout), done);
    printf("# written to %s/\n", dir);
done:
    free(sizes);
    hp__upscale_reference_result_destroy(result);
    hp__problem_destroy(problem);
    hp_params_destroy(global_params);
    hp_params_destroy(strat_params);
    hp_params_destroy(out_params);
    hp_params_destroy(up);
    size_t notes = 0;
    hp__cli_print_registry_notes(r, &notes);
    hp_registry_close(r);
    hp_config_destroy(c);
    hp__cli_pipeline_args_free(&a);
    return st;
}
