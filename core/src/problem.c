/* problem.c — the fine-scale problem of a pipeline: expressions parsed once,
 * evaluated once on the point sets (collocation, boundary, validation), and
 * which reference solution to compute (reference.c computes it). */
#include "problem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "hpinn/coarse.h"
#include "collocation.h"
#include "comm.h"
#include "pipeline.h"

static void point_set_free(hp__point_set *s) {
    free(s->x);
    free(s->K);
    free(s->gradK);
    free(s->q);
    memset(s, 0, sizeof *s);
}

void hp__problem_destroy(hp__problem *p) {
    if (!p) return;
    hp_expr_destroy(p->K);
    hp_expr_destroy(p->q);
    hp_expr_destroy(p->dK[0]);
    hp_expr_destroy(p->dK[1]);
    hp_expr_destroy(p->exact);
    point_set_free(&p->collocation);
    point_set_free(&p->boundary);
    point_set_free(&p->validation);
    free(p->validation_interior);
    free(p->collocation_weights);
    free(p->u_reference);
    free(p->reference_key);
    free(p);
}

/* Allocate a set of n points and evaluate K, ∇K, q there (x filled by caller). */
static hp_status point_set_alloc(hp__point_set *s, size_t n, int dim) {
    s->n = n;
    HP_CALL(hp_calloc(n * (size_t)dim, sizeof *s->x, &s->x));
    HP_CALL(hp_calloc(n, sizeof *s->K, &s->K));
    HP_CALL(hp_calloc(n * (size_t)dim, sizeof *s->gradK, &s->gradK));
    HP_CALL(hp_calloc(n, sizeof *s->q, &s->q));
    return HP_OK;
}

/* The coordinates of a point, for messages. */
static void point_text(const double *x, int dim, char *buf, size_t size) {
    if (dim == 1) snprintf(buf, size, "x = %.6g", x[0]);
    else snprintf(buf, size, "(x, y) = (%.6g, %.6g)", x[0], x[1]);
}

/* K, ∇K and q at one point, checked: K finite and positive, ∇K and q finite. A
 * violation is the pipeline's error (exit 2), located at the expression. */
static hp_status evaluate_point(const hp__problem *p, const double *x, double *K, double *gradK, double *q,
                                const char *set) {
    char at[96];
    double k = hp_expr_eval(p->K, x);
    if (!isfinite(k)) {
        point_text(x, p->dim, at, sizeof at);
        HP_ERROR(HP_ERR_CONFIG, "%s: K is %s at %s (%s point); expected a finite positive conductivity everywhere "
                                "in the domain (check divisions, roots and logarithms, and the constants they use)",
                 p->K_where, isnan(k) ? "not a number" : "infinite", at, set);
    }
    if (!(k > 0.0)) {
        point_text(x, p->dim, at, sizeof at);
        HP_ERROR(HP_ERR_CONFIG, "%s: K = %g <= 0 at %s (%s point); expected a positive conductivity everywhere in "
                                "the domain", p->K_where, k, at, set);
    }
    for (int a = 0; a < p->dim; a++) {
        double g = hp_expr_eval(p->dK[a], x);
        if (!isfinite(g)) {
            point_text(x, p->dim, at, sizeof at);
            HP_ERROR(HP_ERR_CONFIG, "%s: dK/dx_%d is %s at %s (%s point); expected K differentiable in the domain",
                     p->K_where, a + 1, isnan(g) ? "not a number" : "infinite", at, set);
        }
        if (gradK) gradK[a] = g;
    }
    double qv = hp_expr_eval(p->q, x);
    if (!isfinite(qv)) {
        point_text(x, p->dim, at, sizeof at);
        HP_ERROR(HP_ERR_CONFIG, "%s: q is %s at %s (%s point); expected a finite source everywhere in the domain",
                 p->q_where, isnan(qv) ? "not a number" : "infinite", at, set);
    }
    if (K) *K = k;
    if (q) *q = qv;
    return HP_OK;
}

static hp_status point_set_evaluate(const hp__problem *p, hp__point_set *s, const char *name) {
    size_t d = (size_t)p->dim;
    for (size_t r = 0; r < s->n; r++)
        HP_CALL(evaluate_point(p, s->x + r * d, &s->K[r], s->gradK + r * d, &s->q[r], name));
    s->inverse_K = p->residual_inverse_K;
    return HP_OK;
}

/* K > 0 and everything finite between the collocation points too: K sampled on
 * a grid several times finer (a K that dips below zero between the points would
 * otherwise go unnoticed until the coarse or reference solve). */
static hp_status check_grid(const hp__problem *p, size_t per_axis_points) {
    size_t n = per_axis_points * 8;
    if (n < 4096) n = 4096;
    size_t cap = p->dim == 1 ? 1000000 : 1024;
    if (n > cap) n = cap;
    double x[2];
    size_t total = p->dim == 1 ? n : n * n;
    for (size_t r = 0; r < total; r++) {
        x[0] = ((double)(r % n) + 0.5) / (double)n;
        if (p->dim == 2) x[1] = ((double)(r / n) + 0.5) / (double)n;
        HP_CALL(evaluate_point(p, x, NULL, NULL, NULL, "check grid"));
    }
    return HP_OK;
}

static hp_status parse(const hp_config *c, const char *key, const char *text, int dim, hp_expr **out,
                       char where[600]) {
    char path[64];
    snprintf(path, sizeof path, "problem.%s", key);
    hp_config_location(c, path, where, 600);
    size_t used = strlen(where);
    snprintf(where + used, 600 - used, ": %s", path);
    size_t n = hp_config_constant_count(c);
    const char *names[HP_CONFIG_MAX_CONSTANTS];
    double values[HP_CONFIG_MAX_CONSTANTS];
    if (n > HP_CONFIG_MAX_CONSTANTS)
        HP_ERROR(HP_ERR_CONFIG, "%s: more than %d constants; expected fewer", where, HP_CONFIG_MAX_CONSTANTS);
    for (size_t i = 0; i < n; i++) {
        names[i] = hp_config_constant_name(c, i);
        values[i] = hp_config_constant_value(c, i);
    }
    HP_CALL(hp_expr_parse(text, dim, names, values, n, where, out));
    return HP_OK;
}

/* |∇K| / K at a point: the inverse of K's local length scale (points: auto). */
static double K_scale(const double *x, void *ctx) {
    const hp__problem *p = ctx;
    double k = hp_expr_eval(p->K, x), g2 = 0.0;
    for (int a = 0; a < p->dim; a++) {
        double g = hp_expr_eval(p->dK[a], x);
        g2 += g * g;
    }
    return sqrt(g2) / fabs(k);
}

/* Measured (docs/collocation.md): in 1-D fewer than ~8 points per length scale
 * let a network with more parameters than points fit them and not the gaps; in
 * 2-D the same network meets M = m² points, and 3 per axis already keep the
 * fine residual at the training loss. */
double hp__problem_default_points_per_width(int dim) { return dim == 1 ? 8.0 : 3.0; }

size_t hp__problem_resolving_points(const hp__problem *p, double points_per_width, double *length_scale) {
    return hp__collocation_auto(p->dim, K_scale, (void *)p, points_per_width, p->dim == 1 ? 200 : 32,
                                p->dim == 1 ? 100000 : 1024, length_scale);
}

/* Collocation points per axis: the pipeline's number, or for auto the density
 * that resolves K's shortest length scale (1-D at least 200 points, 2-D at
 * least 32 per axis). */
static size_t collocation_per_axis(const hp__problem *p, const hp_params *pp, double *length_scale) {
    *length_scale = 0.0;
    if (!hp_params_is_auto(pp, "collocation.points")) return (size_t)hp_params_int(pp, "collocation.points");
    double per_width = hp_params_is_auto(pp, "collocation.points_per_width")
                           ? hp__problem_default_points_per_width(p->dim)
                           : hp_params_real(pp, "collocation.points_per_width");
    return hp__problem_resolving_points(p, per_width, length_scale);
}

/* Validation points per axis; auto: at least four times (1-D) or twice (2-D,
 * capped at 1025) the collocation density, so the fine residual sees between
 * the collocation points. */
static size_t validation_per_axis(int dim, const hp_params *pp, size_t collocation_m) {
    if (!hp_params_is_auto(pp, "validation.points")) return (size_t)hp_params_int(pp, "validation.points");
    size_t nv = dim == 1 ? (4 * collocation_m + 1 > 1000 ? 4 * collocation_m + 1 : 1000)
                         : (2 * collocation_m + 1 > 201 ? 2 * collocation_m + 1 : 201);
    return dim == 2 && nv > 1025 ? 1025 : nv;
}

/* The collocation plan from the pipeline and its first point set (round 0). */
static hp_status create_collocation(hp__problem *p, const hp_params *pp) {
    hp__collocation *c = &p->plan;
    int dim = p->dim;
    c->dim = dim;
    c->sampling = (hp__sampling)hp_params_enum_index(pp, "collocation.sampling");
    c->seed = (uint64_t)hp_params_int(pp, "collocation.seed");
    c->resample_every = hp_params_int(pp, "collocation.resample_every");
    c->rad = hp_params_enum_index(pp, "collocation.adaptive") == 1;
    c->rad_k = hp_params_real(pp, "collocation.rad_k");
    c->rad_c = hp_params_real(pp, "collocation.rad_c");
    if (c->sampling == HP__SAMPLING_GRID && (c->resample_every > 0 || c->rad))
        return hp_params_error(pp, "collocation.sampling", "grid points cannot be resampled; expected uniform, sobol or "
                                                           "halton with resample_every or adaptive: rad");
    if (c->rad && c->resample_every == 0)
        return hp_params_error(pp, "collocation.adaptive", "rad needs collocation.resample_every > 0; expected how often "
                                                          "the points follow the residual");
    double length_scale = 0.0;
    size_t m = collocation_per_axis(p, pp, &length_scale);
    p->points_auto = hp_params_is_auto(pp, "collocation.points");
    p->length_scale = length_scale;
    c->per_axis = m;
    c->n = dim == 1 ? m : m * m;
    c->rad_candidates = hp_params_is_auto(pp, "collocation.rad_candidates") ? 8 * c->n
                                                                             : (size_t)hp_params_int(pp, "collocation.rad_candidates");
    if (c->rad && c->rad_candidates < c->n)
        return hp_params_error(pp, "collocation.rad_candidates", "%zu candidates for %zu points; expected at least as "
                                                                "many candidates as points", c->rad_candidates, c->n);
    /* data-parallel: every rank draws the same global set and keeps its share */
    size_t lo = 0, hi = c->n;
    if (p->distributed) hp__comm_range(c->n, &lo, &hi);
    p->collocation_total = c->n;
    p->collocation_lo = lo;
    double *all;
    HP_CALL(hp_malloc(c->n * (size_t)dim * sizeof *all, &all));
    hp__collocation_points(c, 0, all);
    hp_status st = point_set_alloc(&p->collocation, hi - lo, dim);
    if (st == HP_OK) st = hp_malloc((hi - lo ? hi - lo : 1) * sizeof *p->collocation_weights, &p->collocation_weights);
    if (st == HP_OK) memcpy(p->collocation.x, all + lo * (size_t)dim, (hi - lo) * (size_t)dim * sizeof *all);
    free(all);
    HP_CALL(st);
    for (size_t r = 0; r < hi - lo; r++) p->collocation_weights[r] = 1.0 / (double)c->n;
    HP_CALL(point_set_evaluate(p, &p->collocation, "collocation"));
    HP_CALL(check_grid(p, m));
    return HP_OK;
}

hp_status hp__problem_set_collocation(hp__problem *p, const double *x, const double *weights) {
    hp__point_set *s = &p->collocation;
    size_t lo = p->collocation_lo; /* x, weights: the whole set; this rank keeps its share */
    memcpy(s->x, x + lo * (size_t)p->dim, s->n * (size_t)p->dim * sizeof *x);
    memcpy(p->collocation_weights, weights + lo, s->n * sizeof *weights);
    HP_CALL(point_set_evaluate(p, s, "collocation"));
    return HP_OK;
}

hp_status hp__problem_evaluate_points(const hp__problem *p, hp__point_set *s) {
    HP_CALL(point_set_evaluate(p, s, "candidate"));
    return HP_OK;
}

/* Boundary points for the soft penalty: 1-D the two ends; 2-D b per side. */
static hp_status create_boundary(hp__problem *p, size_t b) {
    size_t nb = p->dim == 1 ? 2 : 4 * b;
    HP_CALL(point_set_alloc(&p->boundary, nb, p->dim));
    if (p->dim == 1) {
        p->boundary.x[0] = 0.0;
        p->boundary.x[1] = 1.0;
    } else {
        for (size_t k = 0; k < b; k++) {
            double t = (double)k / (double)b; /* each side from one corner, corners once */
            double *x = p->boundary.x + 8 * k;
            x[0] = t, x[1] = 0.0;             /* bottom */
            x[2] = 1.0, x[3] = t;             /* right */
            x[4] = 1.0 - t, x[5] = 1.0;       /* top */
            x[6] = 0.0, x[7] = 1.0 - t;       /* left */
        }
    }
    HP_CALL(point_set_evaluate(p, &p->boundary, "boundary"));
    return HP_OK;
}

/* The validation grid: equispaced including the boundary. */
static hp_status create_validation(hp__problem *p, const hp_params *pp) {
    int dim = p->dim;
    size_t nv = validation_per_axis(dim, pp, p->plan.per_axis);
    p->validation_per_axis = (int)nv;
    size_t NV = dim == 1 ? nv : nv * nv;
    HP_CALL(point_set_alloc(&p->validation, NV, dim));
    HP_CALL(hp_calloc(NV, 1, &p->validation_interior));
    for (size_t r = 0; r < NV; r++) {
        size_t i = dim == 1 ? r : r % nv, j = dim == 1 ? 0 : r / nv;
        double x = (double)i / (double)(nv - 1), y = (double)j / (double)(nv - 1);
        p->validation.x[r * (size_t)dim] = x;
        if (dim == 2) p->validation.x[2 * r + 1] = y;
        p->validation_interior[r] = i > 0 && i + 1 < nv && (dim == 1 || (j > 0 && j + 1 < nv));
    }
    HP_CALL(point_set_evaluate(p, &p->validation, "validation"));
    return HP_OK;
}

/* K, q, ∇K and the exact solution of the pipeline, parsed. */
static hp_status parse_expressions(const hp_config *c, const hp_params *pp, hp__problem *p) {
    HP_CALL(parse(c, "K", hp_params_string(pp, "K"), p->dim, &p->K, p->K_where));
    HP_CALL(parse(c, "q", hp_params_string(pp, "q"), p->dim, &p->q, p->q_where));
    for (int a = 0; a < p->dim; a++) HP_CALL(hp_expr_derivative(p->K, a, &p->dK[a]));
    char where[600];
    if (hp_params_string(pp, "reference.exact"))
        HP_CALL(parse(c, "reference.exact", hp_params_string(pp, "reference.exact"), p->dim, &p->exact, where));
    return HP_OK;
}

hp_status hp__problem_sizes(const hp_config *c, size_t *collocation_per_axis_out, size_t *validation_per_axis_out) {
    hp_params *pp = NULL;
    HP_CALL(hp_config_section(c, "problem", hp__problem_params, &pp));
    hp__problem p = {.dim = (int)hp_params_int(pp, "dim")};
    hp_status st = parse_expressions(c, pp, &p);
    if (st == HP_OK) {
        double ell;
        *collocation_per_axis_out = collocation_per_axis(&p, pp, &ell);
        *validation_per_axis_out = validation_per_axis(p.dim, pp, *collocation_per_axis_out);
    }
    hp_expr_destroy(p.K);
    hp_expr_destroy(p.q);
    for (int a = 0; a < 2; a++) hp_expr_destroy(p.dK[a]);
    hp_expr_destroy(p.exact);
    hp_params_destroy(pp);
    return st;
}

hp_status hp__problem_create(const hp_config *c, hp__problem **out) {
    *out = NULL;
    hp_params *pp = NULL;
    HP_CALL(hp_config_section(c, "problem", hp__problem_params, &pp));
    hp__problem *p = calloc(1, sizeof *p);
    hp_status st = HP_OK;
    if (!p) {
        hp_params_destroy(pp);
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    int dim = p->dim = (int)hp_params_int(pp, "dim");
    p->hard_bc = strcmp(hp_params_string(pp, "boundary"), "hard") == 0;
    p->residual_inverse_K = strcmp(hp_params_string(pp, "residual_scale"), "inverse_K") == 0;
    p->distributed = hp__comm_data_parallel();
    HP_CALL_GOTO(st, parse_expressions(c, pp, p), fail);

    HP_CALL_GOTO(st, create_collocation(p, pp), fail);
    if (!p->hard_bc) HP_CALL_GOTO(st, create_boundary(p, (size_t)hp_params_int(pp, "collocation.boundary_points")), fail);
    HP_CALL_GOTO(st, create_validation(p, pp), fail);

    /* which reference */
    const char *kind = hp_params_string(pp, "reference.kind");
    if (strcmp(kind, "auto") == 0)
        kind = p->exact ? "exact" : (dim == 1 ? "integral" : "fem");
    if (strcmp(kind, "exact") == 0) {
        if (!p->exact) {
            st = hp_params_error(pp, "reference.kind", "kind exact needs reference.exact; expected an expression for u");
            goto fail;
        }
        p->reference = HP__REFERENCE_EXACT;
    } else if (strcmp(kind, "integral") == 0) {
        if (dim != 1) {
            st = hp_params_error(pp, "reference.kind", "the integral reference exists in 1-D only; expected fem or exact in 2-D");
            goto fail;
        }
        p->reference = HP__REFERENCE_INTEGRAL;
    } else if (strcmp(kind, "fem") == 0) {
        p->reference = HP__REFERENCE_FEM;
    } else {
        p->reference = HP__REFERENCE_NONE;
    }
    p->fem_elements = (int)hp_params_int(pp, "reference.fem_elements");
    if (p->fem_elements == 0) p->fem_elements = dim == 1 ? 20000 : 512;
    p->integral_intervals = (int)hp_params_int(pp, "reference.integral_intervals");
    {
        char *key = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&key, &len);
        if (!f) {
            st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
            goto fail;
        }
            fprintf(f, "K=%s|q=%s|dim=%d|validation=%d|fem_elements=%d", hp_params_string(pp, "K"),
                hp_params_string(pp, "q"), dim, p->validation_per_axis, p->fem_elements);
        for (size_t i = 0; i < hp_config_constant_count(c); i++)
            fprintf(f, "|%s=%.17g", hp_config_constant_name(c, i), hp_config_constant_value(c, i));
        fclose(f);
        p->reference_key = key;
    }
    hp_params_destroy(pp);
    *out = p;
    return HP_OK;
fail:
    hp_params_destroy(pp);
    hp__problem_destroy(p);
    return st;
}
