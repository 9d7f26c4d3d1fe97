/* outputs.c — summary.json of a run. JSON is written by hand (no dependency for a
 * flat record): numbers with 17 significant digits, non-finite numbers as null,
 * strings escaped. Final values are computed from θ here, not copied from the
 * trainer, so the summary describes exactly the parameters of the fields files. */
#include "outputs.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hpinn/hpinn.h"
#include "fileio.h"
#include "pipeline.h"

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void json_number(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fputs("null", f);
}

/* "name": {"plugin": ..., "version": ..., "file": ..., "checksum": "fnv1a64:<hex>"}
 * of a plugin section, when present: which code ran, down to the file's bytes. */
static hp_status plugin_entry(FILE *f, const hp_config *c, const hp_registry *r, const char *section,
                              const char *default_plugin, int *first, const hp_plugin_descriptor **desc_out,
                              hp_params **params_out) {
    const hp_plugin_descriptor *d = NULL;
    hp_params *p = NULL;
    if (!hp_config_has(c, section) && !default_plugin) return HP_OK;
    HP_CALL(hp_config_plugin_section(c, section, hp__pipeline_section(section)->plugin_kind, default_plugin, r, &d, &p));
    fprintf(f, "%s\n    ", *first ? "" : ",");
    *first = 0;
    json_string(f, section);
    fprintf(f, ": {\"plugin\": ");
    json_string(f, d->name);
    fprintf(f, ", \"version\": ");
    json_string(f, d->version);
    uint64_t sum = 0;
    const char *file = hp_registry_file_of(r, d, &sum);
    fprintf(f, ", \"file\": ");
    json_string(f, file);
    fprintf(f, ", \"checksum\": \"fnv1a64:%016" PRIx64 "\"}", sum);
    if (desc_out) *desc_out = d;
    if (params_out) *params_out = p;
    else hp_params_destroy(p);
    return HP_OK;
}

static int table_has(const hp_param_def *t, const char *name) {
    for (; t && t->name; t++)
        if (strcmp(t->name, name) == 0) return 1;
    return 0;
}

hp_status hp_outputs_write_summary(const hp_config *c, const hp_registry *r, hp_hybrid *h, const double *theta,
                                   const hp__trainer_result *res, const char *dir) {
    /* final values at θ */
    double value = NAN;
    hp_hybrid_terms terms;
    memset(&terms, 0, sizeof terms);
    hp_hybrid_validation val = {NAN, NAN};
    size_t n_k = hp_hybrid_n_blocks(h) * (size_t)hp_hybrid_dim(h) * (size_t)hp_hybrid_dim(h);
    double *k = NULL;
    HP_CALL(hp_calloc(n_k, sizeof *k, &k));
    if (theta) {
        hp_objective o = hp_hybrid_objective(h);
        hp_status st = o.value_and_gradient(o.ctx, theta, &value, NULL);
        if (st == HP_OK) {
            terms = *hp_hybrid_last_terms(h);
            memcpy(k, terms.ktilde, n_k * sizeof *k);
            st = hp_hybrid_validate(h, theta, &val);
        }
        if (st != HP_OK) {
            free(k);
            return st;
        }
    }

    hp__out_file out;
    hp_status ost = hp__out_open(&out, dir, HP_OUTPUTS_SUMMARY_FILE);
    if (ost != HP_OK) {
        free(k);
        return ost;
    }
    FILE *f = out.f;
    double tau1, tau2;
    hp_hybrid_get_weights(h, &tau1, &tau2);
    fprintf(f, "{\n  \"hpinn_version\": ");
    json_string(f, hp_version());
    fprintf(f, ",\n  \"config\": ");
    json_string(f, hp_config_file(c));
    fprintf(f, ",\n  \"completed\": %s,\n  \"diverged\": %s,\n  \"stop_reason\": ", res->completed ? "true" : "false",
            res->diverged ? "true" : "false");
    json_string(f, res->stop_reason);
    fprintf(f, ",\n  \"iterations\": %llu,\n  \"wall_seconds\": ", (unsigned long long)res->iterations);
    json_number(f, res->seconds);
    fprintf(f, ",\n  \"ms_per_iteration\": ");
    json_number(f, res->session_iterations ? 1e3 * res->session_seconds / (double)res->session_iterations : NAN);
    fprintf(f, ",\n  \"fallback_steps\": %llu", (unsigned long long)res->fallback_steps);
    const hp_hybrid_timing *tm = hp_hybrid_get_timing(h);
    fprintf(f, ",\n  \"objective\": {\"evaluations\": %llu, \"seconds\": ", tm->evaluations);
    json_number(f, tm->total_seconds);
    fprintf(f, ", \"coarse_seconds\": ");
    json_number(f, tm->coarse_seconds);
    fprintf(f, ", \"coarse_share\": ");
    json_number(f, tm->total_seconds > 0.0 ? tm->coarse_seconds / tm->total_seconds : NAN);
    fprintf(f, "}");
    fprintf(f, ",\n  \"final\": {\n    \"rel_l2\": ");
    json_number(f, val.rel_l2);
    fprintf(f, ",\n    \"fine_residual\": ");
    json_number(f, val.fine_residual);
    fprintf(f, ",\n    \"J_pinn\": ");
    json_number(f, theta ? terms.j_pinn : NAN);
    fprintf(f, ",\n    \"boundary\": ");
    json_number(f, theta ? terms.boundary : NAN);
    fprintf(f, ",\n    \"R\": ");
    json_number(f, theta ? terms.coupling : NAN);
    fprintf(f, ",\n    \"J_hat\": ");
    json_number(f, value);
    fprintf(f, ",\n    \"fallback\": %s,\n    \"tau1\": ", theta && terms.fallback ? "true" : "false");
    json_number(f, tau1);
    fprintf(f, ",\n    \"tau2\": ");
    json_number(f, tau2);
    fprintf(f, "\n  },\n  \"ktilde\": {\"dim\": %d, \"blocks\": %zu, \"values\": [", hp_hybrid_dim(h),
            hp_hybrid_n_blocks(h));
    for (size_t i = 0; i < n_k; i++) {
        if (i) fputs(", ", f);
        json_number(f, theta ? k[i] : NAN);
    }
    fprintf(f, "]},\n");
    double kref[4];
    const char *ref_label = NULL;
    int n_ref = hp_hybrid_reference_ktilde(h, kref, &ref_label);
    if (n_ref > 0) {
        fprintf(f, "  \"ktilde_reference\": [");
        for (int i = 0; i < n_ref; i++) {
            if (i) fputs(", ", f);
            json_number(f, kref[i]);
        }
        fprintf(f, "],\n");
    }
    fprintf(f, "  \"reference\": \"");
    for (const char *ch = ref_label ? ref_label : ""; *ch; ch++) {
        if (*ch == '"' || *ch == '\\') fputc('\\', f);
        fputc(*ch, f);
    }
    fprintf(f, "\",\n  \"parameters\": %zu,\n  \"plugins\": {", hp_hybrid_n_params(h));
    free(k);

    int first = 1;
    const hp_plugin_descriptor *net = NULL;
    hp_params *net_params = NULL;
    hp_status st = plugin_entry(f, c, r, "network", NULL, &first, &net, &net_params);
    if (st == HP_OK) st = plugin_entry(f, c, r, "upscaling", "global", &first, NULL, NULL);
    if (st == HP_OK)
        st = plugin_entry(f, c, r, "coarse", hp_hybrid_dim(h) == 1 ? "p1_1d" : "p1_2d", &first, NULL, NULL);
    fprintf(f, "\n  },\n  \"seed\": ");
    if (net && net_params && table_has(net->params, "seed"))
        fprintf(f, "%lld", (long long)hp_params_int(net_params, "seed"));
    else
        fputs("null", f);
    hp_params_destroy(net_params);
    fprintf(f, ",\n  \"stages\": [");
    for (size_t i = 0; i < res->n_stages; i++) {
        const hp__trainer_stage_report *s = &res->stages[i];
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        json_string(f, s->name);
        fprintf(f, ", \"optimizer\": ");
        json_string(f, s->optimizer);
        fprintf(f, ", \"optimizer_version\": ");
        json_string(f, s->optimizer_version);
        fprintf(f, ", \"iterations\": %llu, \"stop\": ", (unsigned long long)s->planned);
        if (s->stop[0]) json_string(f, s->stop);
        else fputs("null", f);
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
    if (st != HP_OK) {
        hp__out_abort(&out);
        return st;
    }
    HP_CALL(hp__out_commit(&out, NULL));
    return HP_OK;
}
