/* upscale_reference.c — reference K̃ from fine FEM solutions (`hpinn upscale`).
 *
 * One pass per fine mesh size: create the fine P1 solver, integrate K per element,
 * solve the direction problems (38) (the solver's right-hand side
 * ∫qφ − ∫K e_i·∇φ is exactly their weak form), and hand the element data to every
 * upscaling strategy through the same hp_upscaling_input the hybrid solver uses.
 * With points = element centroids, weights = areas, K = ∫_e K/|e| and ∇u_i per
 * element, the flux form (43) is evaluated exactly for the FEM solution. */
#define _POSIX_C_SOURCE 200809L
#include "upscale_reference.h"

#include "fileio.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* K̃ of all the points at once: their moments, then the finish. */
static hp_status upscaling_apply(const hp_upscaling_ops *ops, void *state, const hp_upscaling_input *in, double *Kt,
                                 hp_upscaling_report *rep) {
    size_t nm = ops->n_moments(state);
    double *m = NULL;
    HP_CALL(hp_calloc(nm ? nm : 1, sizeof *m, &m));
    hp_status st = ops->moments(state, in, m);
    if (st == HP_OK) st = ops->finish(state, m, Kt, rep);
    free(m);
    return st;
}

static void progress(const hp__upscale_reference_config *cfg, const char *fmt, ...) {
    if (!cfg->progress) return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cfg->progress(msg, cfg->progress_ctx);
}

void hp__upscale_reference_result_destroy(hp__upscale_reference_result *r) {
    if (!r) return;
    size_t n = r->n_sizes * r->n_strategies;
    for (size_t k = 0; k < n; ++k) {
        if (r->Kt) free(r->Kt[k]);
        if (r->positive_definite) free(r->positive_definite[k]);
        if (r->condition) free(r->condition[k]);
    }
    free(r->Kt);
    free(r->positive_definite);
    free(r->condition);
    free(r->mesh_sizes);
    free(r->n_blocks);
    free(r->seconds);
    free(r);
}

static hp_status check_config(const hp__upscale_reference_config *c) {
    if (c->dim != 1 && c->dim != 2)
        HP_ERROR(HP_ERR_CONFIG, "upscale: problem dimension %d; expected 1 or 2", c->dim);
    if (!c->K) HP_ERROR(HP_ERR_CONFIG, "upscale: no coefficient K given");
    if (!c->fine || c->fine->kind != HP_PLUGIN_COARSE)
        HP_ERROR(HP_ERR_CONFIG, "upscale: the fine solver must be a coarse-kind plugin (p1_1d, p1_2d)");
    /* optional members of hp_coarse_ops that a fine solve cannot do without:
     * said before any mesh is built, not found by a crash */
    const hp_coarse_ops *fops = c->fine->ops;
    const char *missing = !HP_OP_PRESENT(fops, set_coefficient_field) ? "set_coefficient_field"
                          : !HP_OP_PRESENT(fops, element_data)        ? "element_data"
                                                       : NULL;
    if (missing)
        HP_ERROR(HP_ERR_CONFIG, "coarse plugin '%s' has no %s, which a fine-scale solve needs (`hpinn upscale` and the fem reference solve with the "
                                "coefficient field K and upscales from per-element data); choose a coarse plugin "
                                "that provides it, such as p1_1d or p1_2d", c->fine->name, missing);
    if (c->n_mesh_sizes == 0) HP_ERROR(HP_ERR_CONFIG, "upscale: no fine mesh sizes given");
    for (size_t k = 0; k < c->n_mesh_sizes; ++k) {
        if (c->mesh_sizes[k] < 1)
            HP_ERROR(HP_ERR_CONFIG, "upscale: mesh size %d; expected a positive number of elements",
                     c->mesh_sizes[k]);
        if (k && c->mesh_sizes[k] <= c->mesh_sizes[k - 1])
            HP_ERROR(HP_ERR_CONFIG, "upscale: mesh sizes must increase (%d after %d)", c->mesh_sizes[k],
                     c->mesh_sizes[k - 1]);
    }
    if (c->n_strategies == 0) HP_ERROR(HP_ERR_CONFIG, "upscale: no upscaling strategy given");
    for (size_t s = 0; s < c->n_strategies; ++s)
        if (!c->strategies[s].desc || c->strategies[s].desc->kind != HP_PLUGIN_UPSCALING)
            HP_ERROR(HP_ERR_CONFIG, "upscale: strategy %zu is not an upscaling plugin", s);
    return HP_OK;
}

static hp_status default_fine_params(const hp_plugin_descriptor *fine, int elements, hp_params **out) {
    char arg[48];
    snprintf(arg, sizeof arg, "elements=%d", elements);
    const char *args[] = {arg};
    return hp_params_from_strings(fine->params, "upscale.fine", args, 1, out);
}

/* ---- output files --------------------------------------------------------- */
static hp_status open_output(const char *dir, const char *name, FILE **f) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *f = fopen(path, "w");
    if (!*f) HP_ERROR(HP_ERR_IO, "cannot write %s (does the output directory exist?)", path);
    return HP_OK;
}

static hp_status close_output(FILE *f, const char *dir, const char *name) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) HP_ERROR(HP_ERR_IO, "error writing %s/%s", dir, name);
    return HP_OK;
}

/* fine_<N>.csv: node coordinates, u_i and w_i = u_i + x_i per direction;
 * 2-D also fine_<N>.vtk (STRUCTURED_POINTS, the node grid) for ParaView. */
static hp_status write_fields(const hp__upscale_reference_config *cfg, const hp_coarse_mesh *mesh,
                              int n_dir, double *const *u) {
    char name[64];
    FILE *f;
    int N = mesh->elements_per_dim, d = mesh->dim;
    snprintf(name, sizeof name, "fine_%d.csv", N);
    HP_CALL(open_output(cfg->output_dir, name, &f));
    fprintf(f, d == 1 ? "x" : "x,y");
    for (int i = 0; i < n_dir; ++i) fprintf(f, ",u_%d,w_%d", i + 1, i + 1);
    fputc('\n', f);
    for (size_t k = 0; k < mesh->n_nodes; ++k) {
        for (int a = 0; a < d; ++a) fprintf(f, a ? ",%.17g" : "%.17g", mesh->coords[k * d + a]);
        for (int i = 0; i < n_dir; ++i)
            fprintf(f, ",%.17g,%.17g", u[i][k], u[i][k] + mesh->coords[k * d + i]);
        fputc('\n', f);
    }
    HP_CALL(close_output(f, cfg->output_dir, name));
    if (d != 2) return HP_OK;
    snprintf(name, sizeof name, "fine_%d.vtk", N);
    HP_CALL(open_output(cfg->output_dir, name, &f));
    fprintf(f, "# vtk DataFile Version 3.0\nhpinn fine solutions, %d x %d P1 nodes\nASCII\n"
               "DATASET STRUCTURED_POINTS\nDIMENSIONS %d %d 1\nORIGIN 0 0 0\nSPACING %.17g %.17g 1\n"
               "POINT_DATA %zu\n", N + 1, N + 1, N + 1, N + 1, 1.0 / N, 1.0 / N, mesh->n_nodes);
    for (int i = 0; i < n_dir; ++i)
        for (int which = 0; which < 2; ++which) {
            fprintf(f, "SCALARS %s_%d double 1\nLOOKUP_TABLE default\n", which ? "w" : "u", i + 1);
            for (size_t k = 0; k < mesh->n_nodes; ++k)
                fprintf(f, "%.17g\n", u[i][k] + (which ? mesh->coords[2 * k + i] : 0.0));
        }
    return close_output(f, cfg->output_dir, name);
}

/* ---- one mesh size ----------------------------------------------------------- */
typedef struct size_work {
    void *fine;
    hp_params *fine_params;
    void *ups[8];
    double *u[2], *x, *w, *K, *q, *v, *grad;
} size_work;

static void free_work(const hp__upscale_reference_config *cfg, size_work *W) {
    const hp_coarse_ops *fops = cfg->fine->ops;
    if (W->fine) fops->destroy(W->fine);
    hp_params_destroy(W->fine_params);
    for (size_t s = 0; s < cfg->n_strategies && s < 8; ++s)
        if (W->ups[s]) ((const hp_upscaling_ops *)cfg->strategies[s].desc->ops)->destroy(W->ups[s]);
    free(W->u[0]), free(W->u[1]), free(W->x), free(W->w), free(W->K), free(W->q), free(W->v), free(W->grad);
    memset(W, 0, sizeof *W);
}

static hp_status run_size(const hp__upscale_reference_config *cfg, hp__upscale_reference_result *r,
                          size_t k, size_work *W) {
    const hp_coarse_ops *fops = cfg->fine->ops;
    int N = cfg->mesh_sizes[k], d = cfg->dim;
    double t0 = hp__now_seconds();
    if (cfg->fine_params) HP_CALL(cfg->fine_params(N, cfg->fine_params_ctx, &W->fine_params));
    else HP_CALL(default_fine_params(cfg->fine, N, &W->fine_params));
    HP_CALL(fops->create(W->fine_params, d, 1, &W->fine));
    const hp_coarse_mesh *mesh = fops->mesh(W->fine);
    size_t P = mesh->n_elements;
    int n_dir = 1, values = 0;
    for (size_t s = 0; s < cfg->n_strategies; ++s) {
        const hp_upscaling_ops *uops = cfg->strategies[s].desc->ops;
        HP_CALL(uops->create(cfg->strategies[s].params, d, &W->ups[s]));
        int nd = uops->n_directions(W->ups[s]), nb = uops->blocks_per_dim(W->ups[s]);
        if (nd > n_dir) n_dir = nd;
        values |= HP_OP_PRESENT(uops, needs_values) && uops->needs_values(W->ups[s]) != 0; /* optional: NULL means no */
        if (nb < 1 || N % nb != 0)
            HP_ERROR(HP_ERR_CONFIG, "upscale: fine mesh of %d elements per dimension cannot be split "
                                    "into the %d blocks per dimension of strategy '%s'; use sizes "
                                    "that are multiples of %d", N, nb, cfg->strategies[s].label, nb);
        size_t n_blocks = d == 1 ? (size_t)nb : (size_t)nb * nb;
        if (k == 0) r->n_blocks[s] = n_blocks;
        size_t idx = k * cfg->n_strategies + s;
        HP_CALL(hp_calloc(n_blocks * d * d, sizeof(double), &r->Kt[idx]));
        HP_CALL(hp_calloc(n_blocks, 1, &r->positive_definite[idx]));
        HP_CALL(hp_calloc(n_blocks, sizeof(double), &r->condition[idx]));
    }
    for (int i = 0; i < n_dir; ++i) HP_CALL(hp_malloc(sizeof(double) * mesh->n_nodes, &W->u[i]));
    HP_CALL(hp_malloc(sizeof(double) * P * d, &W->x));
    HP_CALL(hp_malloc(sizeof(double) * P, &W->w));
    HP_CALL(hp_malloc(sizeof(double) * P, &W->K));
    HP_CALL(hp_malloc(sizeof(double) * P * d * n_dir, &W->grad));
    progress(cfg, "fine mesh %d%s: assembling and factorizing", N, d == 2 ? "^2" : "");
    HP_CALL(fops->set_source(W->fine, cfg->q, cfg->q_ctx));
    HP_CALL(fops->set_coefficient_field(W->fine, cfg->K, cfg->K_ctx));
    for (int i = 0; i < n_dir; ++i) {
        progress(cfg, "fine mesh %d%s: solving direction %d of %d", N, d == 2 ? "^2" : "", i + 1, n_dir);
        HP_CALL(fops->solve_state(W->fine, i, W->u[i]));
        HP_CALL(fops->element_data(W->fine, W->u[i], i ? NULL : W->x, i ? NULL : W->w, i ? NULL : W->K,
                                   W->grad + (size_t)i * P * d));
    }
    if (values) {
        /* energy form: u_i and q at the centroids (one-point rule per element) */
        HP_CALL(hp_malloc(sizeof(double) * P * n_dir, &W->v));
        HP_CALL(hp_malloc(sizeof(double) * P, &W->q));
        for (int i = 0; i < n_dir; ++i) HP_CALL(fops->evaluate(W->fine, W->u[i], W->x, P, W->v + (size_t)i * P));
        for (size_t p = 0; p < P; ++p) W->q[p] = cfg->q ? cfg->q(W->x + p * d, cfg->q_ctx) : 0.0;
    }
    hp_upscaling_input in = {d, n_dir, P, W->x, W->w, W->K, W->q, W->v, W->grad};
    for (size_t s = 0; s < cfg->n_strategies; ++s) {
        const hp_upscaling_ops *uops = cfg->strategies[s].desc->ops;
        size_t idx = k * cfg->n_strategies + s;
        hp_upscaling_report rep = {r->positive_definite[idx], r->condition[idx], 0, 0};
        HP_CALL(upscaling_apply(uops, W->ups[s], &in, r->Kt[idx], &rep));
    }
    r->seconds[k] = hp__now_seconds() - t0;
    progress(cfg, "fine mesh %d%s: done in %.2f s", N, d == 2 ? "^2" : "", r->seconds[k]);
    int last = k + 1 == cfg->n_mesh_sizes;
    if (last && cfg->eval_u)
        for (int i = 0; i < n_dir; ++i)
            HP_CALL(fops->evaluate(W->fine, W->u[i], cfg->eval_points, cfg->n_eval, cfg->eval_u + (size_t)i * cfg->n_eval));
    if (cfg->output_dir && (cfg->fields == HP__UPSCALE_FIELDS_ALL || (cfg->fields && last)))
        HP_CALL(write_fields(cfg, mesh, n_dir, W->u));
    return HP_OK;
}

double hp__upscale_reference_order(const hp__upscale_reference_result *r, size_t s, size_t k) {
    if (k < 2 || k >= r->n_sizes || s >= r->n_strategies) return NAN;
    size_t m = r->n_blocks[s] * (size_t)r->dim * r->dim;
    double D[2] = {0, 0};
    for (int t = 0; t < 2; ++t) {
        const double *a = r->Kt[(k - t) * r->n_strategies + s], *b = r->Kt[(k - t - 1) * r->n_strategies + s];
        for (size_t j = 0; j < m; ++j) D[t] = fmax(D[t], fabs(a[j] - b[j]));
    }
    if (!(D[0] > 0) || !(D[1] > 0)) return NAN;
    return log(D[1] / D[0]) / log((double)r->mesh_sizes[k] / r->mesh_sizes[k - 1]);
}

static void write_rows(const hp__upscale_reference_result *r, const hp__upscale_reference_config *cfg,
                       FILE *f, int csv) {
    int d = r->dim;
    const char *sep = csv ? "," : "  ";
    if (csv) fprintf(f, "elements,h,strategy,block");
    else fprintf(f, "%9s  %-12s %6s", "elements", "strategy", "block");
    const char *names[4] = {"K11", "K12", "K21", "K22"};
    for (int t = 0; t < d * d; ++t) fprintf(f, csv ? ",%s" : "  %10s", d == 1 ? "K" : names[t]);
    if (csv) fprintf(f, ",positive_definite,condition,max_change,observed_order,seconds\n");
    else fprintf(f, "  %3s %9s %10s %6s %8s\n", "spd", "cond(T)", "max_change", "order", "seconds");
    for (size_t k = 0; k < r->n_sizes; ++k)
        for (size_t s = 0; s < r->n_strategies; ++s) {
            size_t idx = k * r->n_strategies + s;
            double change = NAN;
            if (k) {
                change = 0;
                for (size_t j = 0; j < r->n_blocks[s] * d * d; ++j)
                    change = fmax(change, fabs(r->Kt[idx][j] - r->Kt[idx - r->n_strategies][j]));
            }
            double order = hp__upscale_reference_order(r, s, k);
            for (size_t b = 0; b < r->n_blocks[s]; ++b) {
                if (csv) fprintf(f, "%d,%.17g,%s,%zu", r->mesh_sizes[k], 1.0 / r->mesh_sizes[k],
                                 cfg->strategies[s].label, b);
                else fprintf(f, "%9d  %-12s %6zu", r->mesh_sizes[k], cfg->strategies[s].label, b);
                for (int t = 0; t < d * d; ++t)
                    fprintf(f, csv ? ",%.17g" : "  %10.6f", r->Kt[idx][b * d * d + t]);
                if (csv)
                    fprintf(f, "%s%d%s%.17g%s%.17g%s%.17g%s%.6g\n", sep, r->positive_definite[idx][b], sep,
                            r->condition[idx][b], sep, change, sep, order, sep, r->seconds[k]);
                else
                    fprintf(f, "  %3s %9.3g %10.3g %6.2f %8.2f\n", r->positive_definite[idx][b] ? "yes" : "NO",
                            r->condition[idx][b], change, order, r->seconds[k]);
            }
        }
}

hp_status hp__upscale_reference_write_table(const hp__upscale_reference_result *r,
                                           const hp__upscale_reference_config *cfg, FILE *out) {
    write_rows(r, cfg, out, 0);
    if (ferror(out)) HP_ERROR(HP_ERR_IO, "error writing the K̃ table");
    return HP_OK;
}

hp_status hp__upscale_reference_run(const hp__upscale_reference_config *cfg,
                                   hp__upscale_reference_result **out) {
    HP_CALL(check_config(cfg));
    if (cfg->n_strategies > 8) HP_ERROR(HP_ERR_CONFIG, "upscale: at most 8 strategies at once");
    hp__upscale_reference_result *r = NULL;
    hp_status st;
    size_t n = cfg->n_mesh_sizes * cfg->n_strategies;
    HP_CALL(hp_calloc(1, sizeof *r, &r));
    r->dim = cfg->dim;
    r->n_sizes = cfg->n_mesh_sizes;
    r->n_strategies = cfg->n_strategies;
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double *), &r->Kt), fail);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(unsigned char *), &r->positive_definite), fail);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double *), &r->condition), fail);
    HP_CALL_GOTO(st, hp_calloc(r->n_sizes, sizeof(int), &r->mesh_sizes), fail);
    HP_CALL_GOTO(st, hp_calloc(r->n_strategies, sizeof(size_t), &r->n_blocks), fail);
    HP_CALL_GOTO(st, hp_calloc(r->n_sizes, sizeof(double), &r->seconds), fail);
    memcpy(r->mesh_sizes, cfg->mesh_sizes, sizeof(int) * r->n_sizes);
    for (size_t k = 0; k < r->n_sizes; ++k) {
        size_work W;
        memset(&W, 0, sizeof W);
        st = run_size(cfg, r, k, &W);
        free_work(cfg, &W);
        if (st != HP_OK) {
            hp_error_push_frame(__FILE__, __LINE__, __func__);
            goto fail;
        }
    }
    if (cfg->output_dir) {
        FILE *f;
        HP_CALL_GOTO(st, open_output(cfg->output_dir, "ktilde.csv", &f), fail);
        write_rows(r, cfg, f, 1);
        HP_CALL_GOTO(st, close_output(f, cfg->output_dir, "ktilde.csv"), fail);
    }
    *out = r;
    return HP_OK;
fail:
    hp__upscale_reference_result_destroy(r);
    return st;
}
