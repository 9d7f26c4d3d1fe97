/* outputs.c — the end-of-run files of `hpinn run`: the fields at θ (CSV, VTK)
 * and summary.json. JSON is written by hand (json_out.h; no dependency for a
 * flat record). Final values are computed from θ here, not copied from the
 * trainer, so the summary describes exactly the parameters of the fields files.
 * Every file is written atomically (fileio.h). */
#include "outputs.h"

#include "comm.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpinn/hpinn.h"
#include "fileio.h"
#include "hybrid_internal.h"
#include "json_out.h"
#include "machine.h"
#include "pipeline.h"

#define json_string hp__json_string
#define json_number hp__json_number

/* With the coupling off the coarse state the network implies is computed all
 * the same: it is what the coupling would compare with. */
hp_status hp__outputs_coarse_state(hp__hybrid *h, const double *theta, int *have) {
    double value;
    HP_CALL(hp__hybrid_evaluate(h, theta, &value, NULL)); /* y, z, K̃ at θ */
    int coupled = hp__coupling_active(&h->coupling, h->terms.fallback);
    if (!coupled && !h->terms.fallback) {
        hp_status st = h->co->set_coefficient_blocks(h->co_state, h->ktilde);
        if (st == HP_OK) {
            for (int i = 0; i < h->n_dir; i++) {
                HP_CALL(h->co->solve_state(h->co_state, i, h->node_y[i]));
                HP_CALL(hp__hybrid_network_jet(h, i, h->tape_nodes[i], theta, h->node_v[i]));
                (void)hp__coupling_value(&h->coupling, h->node_v[i], h->node_y[i], h->node_z[i], h->node_yc[i],
                                         &h->node_yhat[i]);
            }
            coupled = 1;
        } else {
            hp_error_clear();
        }
    }
    *have = coupled;
    return HP_OK;
}

/* In pieces of HP__VALIDATION_CHUNK points: a fine grid never needs one jet for
 * all of its points, and the pieces are those of fields.csv (the same values). */
hp_status hp__outputs_network(hp__hybrid *h, int i, const double *theta, const double *x, size_t n, int order,
                              double *out) {
    size_t d = (size_t)h->dim, C = (size_t)hp_jet_components(order, h->dim);
    double *jet = NULL;
    if (C > 1) HP_CALL(hp_calloc(C * (n < HP__VALIDATION_CHUNK ? (n ? n : 1) : HP__VALIDATION_CHUNK), sizeof *jet, &jet));
    for (size_t off = 0; off < n; off += HP__VALIDATION_CHUNK) {
        size_t cnt = n - off < HP__VALIDATION_CHUNK ? n - off : HP__VALIDATION_CHUNK;
        hp_status st = hp__hybrid_network_eval(h, i, theta, x + off * d, cnt, order, C > 1 ? jet : out + off);
        if (st != HP_OK) {
            free(jet);
            return st;
        }
        for (size_t c = 0; C > 1 && c < C; c++) memcpy(out + c * n + off, jet + c * cnt, cnt * sizeof *out);
    }
    free(jet);
    return HP_OK;
}

hp_status hp__outputs_coarse_at(hp__hybrid *h, int i, const double *x, size_t n, double *qv, double *y) {
    HP_CALL(HP_USE_OP(h->co, evaluate, h->co_state, h->node_z[i], x, n, qv));
    HP_CALL(HP_USE_OP(h->co, evaluate, h->co_state, h->node_y[i], x, n, y));
    return HP_OK;
}

void hp__outputs_nodes(const hp__hybrid *h, const double **coords, size_t *n) {
    *coords = h->mesh->coords;
    *n = h->mesh->n_nodes;
}

/* 1-D fields.csv (validation grid: x, v_i, u_i, K) and nodes.csv (coarse nodes:
 * x, v_i, Q̄v_i, y_i); 2-D the same as CSV plus legacy VTK (fields.vtk,
 * nodes.vtk). */
hp_status hp__outputs_write_fields(hp__hybrid *h, const double *theta, const char *dir) {
    hp__problem *p = h->problem;
    const hp__point_set *val = &p->validation;
    size_t n = val->n, d = (size_t)h->dim, nn = h->mesh->n_nodes;
    int coupled;
    HP_CALL(hp__outputs_coarse_state(h, theta, &coupled));
    /* the validation grid: network value (all directions) and reference */
    double *vals = NULL;
    HP_CALL(hp_calloc((size_t)h->n_dir * n, sizeof *vals, &vals));
    for (int i = 0; i < h->n_dir; i++) {
        hp_status st = hp__outputs_network(h, i, theta, val->x, n, 0, vals + (size_t)i * n);
        if (st != HP_OK) {
            free(vals);
            return st;
        }
    }
    hp__out_file out;
    hp_status st = hp__out_open(&out, dir, "fields.csv");
    if (st != HP_OK) {
        free(vals);
        return st;
    }
    FILE *f = out.f;
    fprintf(f, d == 1 ? "x" : "x,y");
    for (int i = 0; i < h->n_dir; i++) fprintf(f, ",v%d", i + 1);
    for (int i = 0; i < p->n_reference_directions; i++) fprintf(f, ",u%d", i + 1);
    fprintf(f, ",K\n");
    for (size_t r = 0; r < n; r++) {
        for (size_t a = 0; a < d; a++) fprintf(f, "%s%.17g", a ? "," : "", val->x[r * d + a]);
        for (int i = 0; i < h->n_dir; i++) fprintf(f, ",%.17g", vals[(size_t)i * n + r]);
        for (int i = 0; i < p->n_reference_directions; i++) fprintf(f, ",%.17g", p->u_reference[(size_t)i * n + r]);
        fprintf(f, ",%.17g\n", val->K[r]);
    }
    st = hp__out_commit(&out, NULL);
    if (st == HP_OK && d == 2) {
        const char *names[5];
        const double *cols[5];
        char nm[5][16];
        int k = 0;
        for (int i = 0; i < h->n_dir; i++) {
            snprintf(nm[k], sizeof nm[k], "v%d", i + 1);
            names[k] = nm[k];
            cols[k++] = vals + (size_t)i * n;
        }
        for (int i = 0; i < p->n_reference_directions && k < 4; i++) {
            snprintf(nm[k], sizeof nm[k], "u%d", i + 1);
            names[k] = nm[k];
            cols[k++] = p->u_reference + (size_t)i * n;
        }
        names[k] = "K";
        cols[k++] = val->K;
        st = hp__write_vtk_grid(dir, "fields.vtk", p->validation_per_axis, names, cols, k);
    }
    free(vals);
    if (st != HP_OK) return st;

    /* coarse nodes: v, Q̄v, y */
    HP_CALL(hp__out_open(&out, dir, "nodes.csv"));
    f = out.f;
    fprintf(f, d == 1 ? "x" : "x,y");
    for (int i = 0; i < h->n_dir; i++) fprintf(f, ",v%d,Qv%d,y%d", i + 1, i + 1, i + 1);
    fprintf(f, "\n");
    for (size_t k = 0; k < nn; k++) {
        for (size_t a = 0; a < d; a++) fprintf(f, "%s%.17g", a ? "," : "", h->mesh->coords[k * d + a]);
        for (int i = 0; i < h->n_dir; i++) {
            if (coupled)
                fprintf(f, ",%.17g,%.17g,%.17g", h->node_v[i][k], h->node_z[i][k], h->node_y[i][k]);
            else
                fprintf(f, ",nan,nan,nan");
        }
        fprintf(f, "\n");
    }
    HP_CALL(hp__out_commit(&out, NULL));
    if (d == 2 && coupled) {
        const char *names[6];
        const double *cols[6];
        char nm[6][16];
        int k = 0;
        for (int i = 0; i < h->n_dir; i++) {
            snprintf(nm[k], sizeof nm[k], "Qv%d", i + 1);
            names[k] = nm[k];
            cols[k++] = h->node_z[i];
            snprintf(nm[k], sizeof nm[k], "y%d", i + 1);
            names[k] = nm[k];
            cols[k++] = h->node_y[i];
        }
        HP_CALL(hp__write_vtk_grid(dir, "nodes.vtk", h->mesh->elements_per_dim + 1, names, cols, k));
    }
    return HP_OK;
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

/* "label", "command", "overrides", "resumed", "git_commit", "machine": what ran,
 * how it was asked for, and where. */
static void write_meta(FILE *f, const hp__run_meta *m) {
    fprintf(f, ",\n  \"label\": ");
    if (m && m->label) json_string(f, m->label);
    else fputs("null", f);
    fprintf(f, ",\n  \"command\": [");
    for (int i = 0; m && i < m->argc; i++) {
        if (i) fputs(", ", f);
        json_string(f, m->argv[i]);
    }
    fprintf(f, "],\n  \"overrides\": [");
    for (size_t i = 0; m && i < m->n_overrides; i++) {
        if (i) fputs(", ", f);
        json_string(f, m->overrides[i]);
    }
    fprintf(f, "],\n  \"resumed\": %s,\n  \"git_commit\": ", m && m->resumed ? "true" : "false");
    json_string(f, hp__git_commit());
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    fprintf(f, ",\n  \"machine\": {\"cores\": %d, \"openblas_num_threads\": ", hp__machine_cores());
    if (env) json_string(f, env);
    else fputs("null", f);
    fprintf(f, ", \"blas_threads\": %d, \"blas\": ", hp__blas_threads());
    json_string(f, hp_blas_info());
    /* data-parallel runs: the MPI ranks (1: a serial run) */
    fprintf(f, ", \"ranks\": %d, \"communication_seconds\": %.6g}", hp__comm_data_parallel() ? hp__comm_size() : 1,
            hp__comm_seconds());
}

hp_status hp__outputs_write_summary(const hp_config *c, const hp_registry *r, hp__hybrid *h, const double *theta,
                                   const hp__trainer_result *res, const hp__run_meta *meta, const char *dir,
                                   hp__run_outcome *outcome) {
    /* final values at θ */
    double value = NAN;
    hp__hybrid_terms terms;
    memset(&terms, 0, sizeof terms);
    hp__hybrid_validation val = {.rel_l2 = NAN, .fine_residual = NAN, .zero_residual = NAN};
    hp__warnings warn = {0};
    size_t n_k = hp__hybrid_n_blocks(h) * (size_t)hp__hybrid_dim(h) * (size_t)hp__hybrid_dim(h);
    double *k = NULL;
    HP_CALL(hp_calloc(n_k, sizeof *k, &k));
    if (theta) {
        hp_objective o = hp__hybrid_objective(h);
        hp_status st = o.value_and_gradient(o.ctx, theta, &value, NULL);
        if (st == HP_OK) {
            terms = *hp__hybrid_last_terms(h);
            memcpy(k, terms.ktilde, n_k * sizeof *k);
            st = hp__hybrid_validate(h, theta, &val);
            if (st == HP_OK)
                hp__diagnose_resolution(hp__hybrid_problem(h), terms.j_pinn, val.fine_residual, val.zero_residual,
                                        &warn);
            hp__hybrid_diagnose_setup(h, &warn);
        }
        if (st != HP_OK) {
            free(k);
            return st;
        }
    }

    hp__out_file out;
    hp_status ost = hp__out_open(&out, dir, HP__OUTPUTS_SUMMARY_FILE);
    if (ost != HP_OK) {
        free(k);
        return ost;
    }
    FILE *f = out.f;
    double tau1, tau2;
    hp__hybrid_get_weights(h, &tau1, &tau2);
    fprintf(f, "{\n  \"hpinn_version\": ");
    json_string(f, hp_version());
    fprintf(f, ",\n  \"config\": ");
    json_string(f, hp_config_file(c));
    write_meta(f, meta);
    fprintf(f, ",\n  \"completed\": %s,\n  \"diverged\": %s,\n  \"stop_reason\": ", res->completed ? "true" : "false",
            res->diverged ? "true" : "false");
    json_string(f, res->stop_reason);
    fprintf(f, ",\n  \"iterations\": %llu,\n  \"wall_seconds\": ", (unsigned long long)res->iterations);
    json_number(f, res->seconds);
    fprintf(f, ",\n  \"ms_per_iteration\": ");
    json_number(f, res->session_iterations ? 1e3 * res->session_seconds / (double)res->session_iterations : NAN);
    fprintf(f, ",\n  \"fallback_steps\": %llu", (unsigned long long)res->fallback_steps);
    fprintf(f, ",\n  \"init_from\": ");
    if (res->init_from[0]) {
        fprintf(f, "{\"dir\": ");
        json_string(f, res->init_from);
        fprintf(f, ", \"run_id\": ");
        json_string(f, res->init_from_run_id);
        fprintf(f, ", \"iteration\": %llu}", (unsigned long long)res->init_from_iteration);
    } else {
        fputs("null", f);
    }
    const hp__hybrid_timing *tm = hp__hybrid_get_timing(h);
    fprintf(f, ",\n  \"objective\": {\"evaluations\": %llu, \"seconds\": ", tm->evaluations);
    json_number(f, tm->total_seconds);
    fprintf(f, ", \"coarse_seconds\": ");
    json_number(f, tm->coarse_seconds);
    fprintf(f, ", \"coarse_share\": ");
    json_number(f, tm->total_seconds > 0.0 ? tm->coarse_seconds / tm->total_seconds : NAN);
    fprintf(f, "}");
    fprintf(f, ",\n  \"final\": {\n    \"rel_l2\": ");
    json_number(f, val.rel_l2);
    fprintf(f, ",\n    \"rel_l2_directions\": [");
    for (int i = 0; i < val.n_directions; i++) {
        if (i) fputs(", ", f);
        json_number(f, val.rel_l2_direction[i]);
    }
    fputc(']', f);
    fprintf(f, ",\n    \"fine_residual\": ");
    json_number(f, val.fine_residual);
    fprintf(f, ",\n    \"J_pinn\": ");
    json_number(f, theta ? terms.j_pinn : NAN);
    fprintf(f, ",\n    \"boundary\": ");
    json_number(f, theta ? terms.boundary : NAN);
    fprintf(f, ",\n    \"R\": ");
    json_number(f, theta ? terms.coupling : NAN);
    fprintf(f, ",\n    \"A\": ");
    json_number(f, theta && hp__hybrid_averaged_on(h) ? terms.averaged : NAN); /* null: the run has no A */
    fprintf(f, ",\n    \"J_hat\": ");
    json_number(f, value);
    fprintf(f, ",\n    \"fallback\": %s,\n    \"tau1\": ", theta && terms.fallback ? "true" : "false");
    json_number(f, tau1);
    fprintf(f, ",\n    \"tau2\": ");
    json_number(f, tau2);
    fprintf(f, ",\n    \"tau3\": ");
    json_number(f, hp__hybrid_tau3(h));
    fprintf(f, "\n  },\n  \"ktilde\": {\"dim\": %d, \"blocks\": %zu, \"values\": [", hp__hybrid_dim(h),
            hp__hybrid_n_blocks(h));
    for (size_t i = 0; i < n_k; i++) {
        if (i) fputs(", ", f);
        json_number(f, theta ? k[i] : NAN);
    }
    fprintf(f, "]},\n");
    double kref[4];
    const char *ref_label = NULL;
    int n_ref = hp__hybrid_reference_ktilde(h, kref, &ref_label);
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
    fprintf(f, "\",\n  \"parameters\": %zu,\n  \"plugins\": {", hp__hybrid_n_params(h));
    double k0[4] = {0};
    for (size_t i = 0; i < 4 && i < n_k; i++) k0[i] = k[i];
    free(k);

    int first = 1;
    const hp_plugin_descriptor *net = NULL;
    hp_params *net_params = NULL;
    hp_status st = plugin_entry(f, c, r, "network", NULL, &first, &net, &net_params);
    if (st == HP_OK) st = plugin_entry(f, c, r, "upscaling", hp__pipeline_default_plugin("upscaling", hp__hybrid_dim(h)), &first, NULL, NULL);
    if (st == HP_OK)
        st = plugin_entry(f, c, r, "coarse", hp__pipeline_default_plugin("coarse", hp__hybrid_dim(h)), &first, NULL, NULL);
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
    fprintf(f, "\n  ],\n  \"warnings\": [");
    for (int i = 0; i < warn.n; i++) {
        fprintf(f, "%s\n    {\"key\": ", i ? "," : "");
        json_string(f, warn.key[i]);
        fprintf(f, ", \"message\": ");
        json_string(f, warn.text[i]);
        fputc('}', f);
    }
    fprintf(f, "%s]\n}\n", warn.n ? "\n  " : "");
    if (outcome) {
        memset(outcome, 0, sizeof *outcome);
        outcome->rel_l2 = val.rel_l2;
        outcome->n_directions = val.n_directions;
        for (int i = 0; i < val.n_directions; i++) outcome->rel_l2_direction[i] = val.rel_l2_direction[i];
        outcome->fine_residual = val.fine_residual;
        outcome->j_pinn = theta ? terms.j_pinn : NAN;
        outcome->n_ktilde = theta ? hp__hybrid_dim(h) * hp__hybrid_dim(h) : 0;
        for (int i = 0; i < outcome->n_ktilde; i++) outcome->ktilde[i] = k0[i];
        outcome->n_ktilde_reference = n_ref;
        for (int i = 0; i < n_ref && i < 4; i++) outcome->ktilde_reference[i] = kref[i];
        outcome->reference_label = ref_label;
        outcome->warnings = warn;
    }
    if (st != HP_OK) {
        hp__out_abort(&out);
        return st;
    }
    HP_CALL(hp__out_commit(&out, NULL));
    return HP_OK;
}
