/* problem.c — the fine-scale problem of a pipeline: expressions parsed once,
 * evaluated once on the fixed point sets, and the reference solution.
 *
 * References (MATH.md §6): `exact` evaluates a closed form; `integral` (1-D only)
 * integrates the flux relation K w' = C − Q(x), Q = ∫_0^x q, w(0) = 0, w(1) = 1, by
 * composite Gauss–Legendre — a converged reference, unlike the paper's 1000-point
 * FEM; `fem` solves the fine problem with the coarse plugin on a fine mesh with
 * element quadrature of K. */
#include "problem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "hpinn/coarse.h"
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

static hp_status point_set_evaluate(const hp__problem *p, hp__point_set *s, const char *name) {
    HP_CALL(hp_expr_eval_points(p->K, s->x, s->n, s->K));
    HP_CALL(hp_expr_eval_points(p->q, s->x, s->n, s->q));
    for (size_t r = 0; r < s->n; r++) {
        if (!(s->K[r] > 0.0))
            HP_ERROR(HP_ERR_CONFIG, "problem.K: K = %g <= 0 at %s point %zu (x = %g); expected a positive conductivity",
                     s->K[r], name, r, s->x[r * (size_t)p->dim]);
        for (int a = 0; a < p->dim; a++) {
            double g = hp_expr_eval(p->dK[a], s->x + r * (size_t)p->dim);
            if (!isfinite(g))
                HP_ERROR(HP_ERR_NUMERIC, "problem.K: dK/dx_%d is not finite at %s point %zu", a + 1, name, r);
            s->gradK[r * (size_t)p->dim + (size_t)a] = g;
        }
    }
    return HP_OK;
}

static hp_status parse(const hp_config *c, const char *key, const char *text, int dim, hp_expr **out) {
    char path[64], where[600];
    snprintf(path, sizeof path, "problem.%s", key);
    hp_config_location(c, path, where, sizeof where);
    size_t used = strlen(where);
    snprintf(where + used, sizeof where - used, ": %s", path);
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
    HP_CALL_GOTO(st, parse(c, "K", hp_params_string(pp, "K"), dim, &p->K), fail);
    HP_CALL_GOTO(st, parse(c, "q", hp_params_string(pp, "q"), dim, &p->q), fail);
    for (int a = 0; a < dim; a++) HP_CALL_GOTO(st, hp_expr_derivative(p->K, a, &p->dK[a]), fail);
    if (hp_params_string(pp, "reference.exact"))
        HP_CALL_GOTO(st, parse(c, "reference.exact", hp_params_string(pp, "reference.exact"), dim, &p->exact), fail);

    /* collocation: interior equispaced, x_r = r/(m+1) per axis */
    size_t m = (size_t)hp_params_int(pp, "collocation.points");
    size_t M = dim == 1 ? m : m * m;
    HP_CALL_GOTO(st, point_set_alloc(&p->collocation, M, dim), fail);
    for (size_t r = 0; r < M; r++) {
        if (dim == 1) {
            p->collocation.x[r] = (double)(r + 1) / (double)(m + 1);
        } else {
            p->collocation.x[2 * r] = (double)(r % m + 1) / (double)(m + 1);
            p->collocation.x[2 * r + 1] = (double)(r / m + 1) / (double)(m + 1);
        }
    }
    HP_CALL_GOTO(st, point_set_evaluate(p, &p->collocation, "collocation"), fail);

    /* boundary points for the soft penalty: 1-D the two ends; 2-D b per side */
    if (!p->hard_bc) {
        size_t b = (size_t)hp_params_int(pp, "collocation.boundary_points");
        size_t nb = dim == 1 ? 2 : 4 * b;
        HP_CALL_GOTO(st, point_set_alloc(&p->boundary, nb, dim), fail);
        if (dim == 1) {
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
        HP_CALL_GOTO(st, point_set_evaluate(p, &p->boundary, "boundary"), fail);
    }

    /* validation grid: equispaced including the boundary */
    size_t nv = (size_t)hp_params_int(pp, "validation.points");
    if (nv == 0) nv = dim == 1 ? 1000 : 201;
    if (nv < 2) {
        st = hp_params_error(pp, "validation.points", "%zu points; expected 0 (default) or at least 2", nv);
        goto fail;
    }
    p->validation_per_axis = (int)nv;
    size_t NV = dim == 1 ? nv : nv * nv;
    HP_CALL_GOTO(st, point_set_alloc(&p->validation, NV, dim), fail);
    HP_CALL_GOTO(st, hp_calloc(NV, 1, &p->validation_interior), fail);
    for (size_t r = 0; r < NV; r++) {
        size_t i = dim == 1 ? r : r % nv, j = dim == 1 ? 0 : r / nv;
        double x = (double)i / (double)(nv - 1), y = (double)j / (double)(nv - 1);
        p->validation.x[r * (size_t)dim] = x;
        if (dim == 2) p->validation.x[2 * r + 1] = y;
        p->validation_interior[r] = i > 0 && i + 1 < nv && (dim == 1 || (j > 0 && j + 1 < nv));
    }
    HP_CALL_GOTO(st, point_set_evaluate(p, &p->validation, "validation"), fail);

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
        fprintf(f, "K=%s|q=%s|dim=%d|validation=%zu|fem_elements=%d", hp_params_string(pp, "K"),
                hp_params_string(pp, "q"), dim, nv, p->fem_elements);
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

/* ---- references ------------------------------------------------------------- */

/* 1-D: w(x) = ∫_0^x (C − Q(s))/K(s) ds with C = (1 + ∫ Q/K) / ∫ 1/K, u = w − x.
 * Each validation interval is split into `sub` pieces with an 8-point rule; Q at a
 * quadrature node s is Q(a) + ∫_a^s q by the same rule on [a, s].
 * One sweep computes ∫ 1/K and ∫ Q/K (w == NULL); a second, with C known, the
 * cumulative w at the validation points. */
static hp_status flux_sweep(const hp__problem *p, size_t sub, const double *gx, const double *gw, double C,
                            double *int_invK, double *int_QinvK, double *int_Q, double *w) {
    size_t nv = p->validation.n;
    double Q = 0.0, I1 = 0.0, I2 = 0.0, I3 = 0.0, W = 0.0;
    if (w) w[0] = 0.0;
    for (size_t j = 0; j + 1 < nv; j++) {
        double x0 = p->validation.x[j], h = (p->validation.x[j + 1] - x0) / (double)sub;
        for (size_t k = 0; k < sub; k++) {
            double a = x0 + (double)k * h;
            for (int g = 0; g < 8; g++) {
                double s = a + gx[g] * h, Qs = Q;
                for (int g2 = 0; g2 < 8; g2++) {
                    double t = a + gx[g2] * (s - a);
                    Qs += gw[g2] * (s - a) * hp_expr_eval(p->q, &t);
                }
                double invK = 1.0 / hp_expr_eval(p->K, &s);
                if (!isfinite(invK) || !isfinite(Qs))
                    HP_ERROR(HP_ERR_NUMERIC, "integral reference: K or q is not finite at x = %g", s);
                I1 += gw[g] * h * invK;
                I2 += gw[g] * h * Qs * invK;
                I3 += gw[g] * h * Qs;
                W += gw[g] * h * (C - Qs) * invK;
            }
            for (int g = 0; g < 8; g++) {
                double t = a + gx[g] * h;
                Q += gw[g] * h * hp_expr_eval(p->q, &t);
            }
        }
        if (w) w[j + 1] = W;
    }
    *int_invK = I1;
    *int_QinvK = I2;
    *int_Q = I3;
    return HP_OK;
}

static hp_status reference_integral(hp__problem *p, int intervals) {
    double gx[8], gw[8], I1, I2, IQ;
    HP_CALL(hp_gauss_legendre(8, gx, gw));
    size_t nv = p->validation.n;
    size_t sub = ((size_t)intervals + nv - 2) / (nv - 1);
    if (sub < 1) sub = 1;
    HP_CALL(flux_sweep(p, sub, gx, gw, 0.0, &I1, &I2, &IQ, NULL));
    if (!(I1 > 0.0)) HP_ERROR(HP_ERR_NUMERIC, "integral reference: ∫ 1/K = %g is not positive", I1);
    double C = (1.0 + I2) / I1;
    double *w = p->u_reference;
    HP_CALL(flux_sweep(p, sub, gx, gw, C, &I1, &I2, &IQ, w));
    /* flux form (43) of the exact solution: K̃ = ∫ K (u' + 1) = ∫ K w' = ∫ (C − Q) */
    p->n_ktilde_reference = 1;
    p->ktilde_reference[0] = C - IQ;
    for (size_t j = 0; j < nv; j++) w[j] -= p->validation.x[j]; /* u = w − x */
    w[nv - 1] = 0.0; /* w(1) = 1 up to rounding: u vanishes on the boundary exactly */
    snprintf(p->reference_label, sizeof p->reference_label,
             "1-D flux integral K w' = C - Q, %zu x 8-point Gauss-Legendre", (nv - 1) * sub);
    return HP_OK;
}

static hp_status reference_fem(hp__problem *p, int n_directions, const hp_plugin_descriptor *d, int elements,
                               FILE *log) {
    const hp_coarse_ops *ops = d->ops;
    char arg[64];
    snprintf(arg, sizeof arg, "elements=%d", elements);
    const char *args[] = {arg};
    hp_params *params = NULL;
    void *state = NULL;
    double *u = NULL, *measure = NULL, *K_mean = NULL, *grad = NULL;
    hp_status st = HP_OK;
    HP_CALL_GOTO(st, hp_params_from_strings(d->params, "reference", args, 1, &params), done);
    if (log) fprintf(log, "hpinn: reference: fine %s solve with %d elements per axis...\n", d->name, elements);
    HP_CALL_GOTO(st, ops->create(params, p->dim, 1, &state), done);
    if (!ops->set_coefficient_field)
        HP_CALL_GOTO(st, HP_ERROR_SET(HP_ERR_CONFIG, "coarse plugin '%s' cannot solve with a coefficient field; expected p1_1d or p1_2d", d->name), done);
    HP_CALL_GOTO(st, ops->set_source(state, hp_expr_field, p->q), done);
    HP_CALL_GOTO(st, ops->set_coefficient_field(state, hp_expr_field, p->K), done);
    const hp_coarse_mesh *mesh = ops->mesh(state);
    HP_CALL_GOTO(st, hp_calloc(mesh->n_nodes, sizeof *u, &u), done);
    if (ops->element_data) {
        HP_CALL_GOTO(st, hp_calloc(mesh->n_elements, sizeof *measure, &measure), done);
        HP_CALL_GOTO(st, hp_calloc(mesh->n_elements, sizeof *K_mean, &K_mean), done);
        HP_CALL_GOTO(st, hp_calloc(mesh->n_elements * (size_t)p->dim, sizeof *grad, &grad), done);
    }
    for (int i = 0; i < n_directions; i++) {
        HP_CALL_GOTO(st, ops->solve_state(state, i, u), done);
        HP_CALL_GOTO(st, ops->evaluate(state, u, p->validation.x, p->validation.n,
                                       p->u_reference + (size_t)i * p->validation.n), done);
        if (!ops->element_data) continue;
        /* flux form (43), exact for the P1 solution: K̃_ji = Σ_e ∫_e K (∂_j u_i + δ_ij) */
        HP_CALL_GOTO(st, ops->element_data(state, u, NULL, measure, K_mean, grad), done);
        for (int j = 0; j < p->dim; j++) {
            double sum = 0.0;
            for (size_t e = 0; e < mesh->n_elements; e++)
                sum += measure[e] * K_mean[e] * (grad[e * (size_t)p->dim + (size_t)j] + (i == j ? 1.0 : 0.0));
            p->ktilde_reference[j * p->dim + i] = sum;
        }
        p->n_ktilde_reference = p->dim * p->dim;
    }
    snprintf(p->reference_label, sizeof p->reference_label, "fine FEM (%s, %d elements per axis)", d->name, elements);
done:
    free(u);
    free(measure);
    free(K_mean);
    free(grad);
    if (state) ops->destroy(state);
    hp_params_destroy(params);
    return st;
}

/* ---- the fem reference cache ------------------------------------------------
 * reference.cache, a checked record (fileio.h) "HPINNREF" version 2:
 *   string key (what the reference depends on) | u64 count | f64 u[count] |
 *   u32 K̃ entries | f64 K̃[4]
 * A cache whose key differs, or that fails any check, is recomputed. */

#define REFERENCE_CACHE_FILE "reference.cache"
#define REFERENCE_CACHE_MAGIC "HPINNREF"

static void full_key(const hp__problem *p, int n_directions, const hp_plugin_descriptor *coarse, char *buf,
                     size_t size) {
    snprintf(buf, size, "hpinn reference v2|%s|directions=%d|solver=%s %s", p->reference_key, n_directions,
             coarse->name, coarse->version);
}

static int cache_load(hp__problem *p, int n_directions, const hp_plugin_descriptor *coarse, const char *dir) {
    char key[8192];
    full_key(p, n_directions, coarse, key, sizeof key);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (hp__record_read(dir, REFERENCE_CACHE_FILE, REFERENCE_CACHE_MAGIC, 2, "an hpinn reference cache", &buf, &len) !=
        HP_OK) {
        hp_error_clear();
        return 0;
    }
    hp__reader r = {buf, len, 0, 0};
    char *stored = hp__get_string(&r, sizeof key);
    size_t nu = (size_t)n_directions * p->validation.n;
    int ok = stored && strcmp(stored, key) == 0 && hp__get_u64(&r) == nu;
    if (ok) {
        hp__get_f64s(&r, p->u_reference, nu);
        uint32_t nk = hp__get_u32(&r);
        double k[4];
        hp__get_f64s(&r, k, 4);
        ok = hp__reader_done(&r, "reference cache") == HP_OK && nk <= 4;
        if (ok) {
            p->n_ktilde_reference = (int)nk;
            memcpy(p->ktilde_reference, k, sizeof k);
        }
    }
    hp_error_clear();
    free(stored);
    free(buf);
    return ok;
}

static void cache_store(const hp__problem *p, int n_directions, const hp_plugin_descriptor *coarse, const char *dir,
                        FILE *log) {
    char key[8192];
    full_key(p, n_directions, coarse, key, sizeof key);
    size_t nu = (size_t)n_directions * p->validation.n;
    hp__bytes b = {0};
    hp__put_string(&b, key);
    hp__put_u64(&b, nu);
    hp__put_f64s(&b, p->u_reference, nu);
    hp__put_u32(&b, (uint32_t)p->n_ktilde_reference);
    hp__put_f64s(&b, p->ktilde_reference, 4);
    hp_status st = hp__record_write(dir, REFERENCE_CACHE_FILE, REFERENCE_CACHE_MAGIC, 2, &b, NULL);
    hp__bytes_free(&b);
    /* a cache that cannot be written only costs the next run a solve */
    if (st != HP_OK && log)
        fprintf(log, "hpinn: reference: could not write the cache in %s (the run goes on): %s\n", dir,
                hp_error_message());
    hp_error_clear();
}

hp_status hp__problem_compute_reference(hp__problem *p, int n_directions, const hp_plugin_descriptor *coarse,
                                       FILE *log, const char *cache_dir) {
    if (p->reference == HP__REFERENCE_NONE) {
        p->n_reference_directions = 0;
        snprintf(p->reference_label, sizeof p->reference_label, "none");
        return HP_OK;
    }
    int nd = p->reference == HP__REFERENCE_FEM ? n_directions : 1;
    HP_CALL(hp_calloc((size_t)nd * p->validation.n, sizeof *p->u_reference, &p->u_reference));
    p->n_reference_directions = nd;
    switch (p->reference) {
    case HP__REFERENCE_EXACT:
        HP_CALL(hp_expr_eval_points(p->exact, p->validation.x, p->validation.n, p->u_reference));
        snprintf(p->reference_label, sizeof p->reference_label, "exact expression %s", hp_expr_text(p->exact));
        break;
    case HP__REFERENCE_INTEGRAL:
        HP_CALL(reference_integral(p, p->integral_intervals));
        break;
    case HP__REFERENCE_FEM:
        if (cache_dir && cache_load(p, n_directions, coarse, cache_dir)) {
            snprintf(p->reference_label, sizeof p->reference_label, "fine FEM (%s, %d elements per axis; cached)",
                     coarse->name, p->fem_elements);
            if (log) fprintf(log, "hpinn: reference: read from %s/reference.cache\n", cache_dir);
            break;
        }
        HP_CALL(reference_fem(p, n_directions, coarse, p->fem_elements, log));
        if (cache_dir) cache_store(p, n_directions, coarse, cache_dir, log);
        break;
    default:
        break;
    }
    return HP_OK;
}
