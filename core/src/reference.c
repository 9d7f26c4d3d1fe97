/* reference.c — the reference solution u_i on the validation grid and the K̃ of
 * the reference (docs/math.md §6), and the cache of the expensive one.
 *
 *   exact:    a closed form, evaluated;
 *   integral: 1-D only, the flux relation K w' = C − Q(x), Q = ∫_0^x q, w(0) = 0,
 *             w(1) = 1, by composite Gauss–Legendre: converged, unlike the paper's
 *             1000-point FEM;
 *   fem:      the fine problem on a fine mesh (reference_fem), cached in the run
 *             directory (keyed by what it depends on, checksummed). */
#include "reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "hpinn/coarse.h"
#include "upscale_reference.h"

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

/* The fine FEM reference through `hpinn upscale`'s driver (upscale_reference.c):
 * the coarse plugin on a fine mesh with element quadrature of K, u_i at the
 * validation points, and K̃ of the FEM solution with the global flux-form
 * strategy, exact for it (the same code the hybrid's K̃ goes through). Isotropic
 * problems solve one direction and report K̃11 alone. */
static hp_status reference_fem(hp__problem *p, int n_directions, const hp_plugin_descriptor *coarse,
                               const hp_plugin_descriptor *global, FILE *log) {
    const char *args[] = {"form=flux", n_directions > 1 ? "mode=anisotropic" : "mode=isotropic"};
    hp_params *gp = NULL;
    HP_CALL(hp_params_from_strings(global->params, "reference", args, 2, &gp));
    hp__upscale_strategy strategy = {global, gp, "global"};
    int sizes[1] = {p->fem_elements};
    hp__upscale_reference_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dim = p->dim;
    cfg.K = hp_expr_field;
    cfg.K_ctx = p->K;
    cfg.q = hp_expr_field;
    cfg.q_ctx = p->q;
    cfg.fine = coarse;
    cfg.mesh_sizes = sizes;
    cfg.n_mesh_sizes = 1;
    cfg.strategies = &strategy;
    cfg.n_strategies = 1;
    cfg.eval_points = p->validation.x;
    cfg.n_eval = p->validation.n;
    cfg.eval_u = p->u_reference;
    if (log) fprintf(log, "hpinn: reference: fine %s solve with %d elements per axis...\n", coarse->name, p->fem_elements);
    hp__upscale_reference_result *res = NULL;
    hp_status st = hp__upscale_reference_run(&cfg, &res);
    if (st == HP_OK) {
        int d = p->dim;
        p->n_ktilde_reference = n_directions > 1 ? d * d : 1;
        for (int k = 0; k < p->n_ktilde_reference; k++) p->ktilde_reference[k] = res->Kt[0][k];
        snprintf(p->reference_label, sizeof p->reference_label, "fine FEM (%s, %d elements per axis)%s", coarse->name,
                 p->fem_elements, n_directions > 1 ? "" : "; K~11 of the isotropic tensor");
    }
    hp__upscale_reference_result_destroy(res);
    hp_params_destroy(gp);
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
    snprintf(buf, size, "hpinn reference v3|%s|directions=%d|solver=%s %s", p->reference_key, n_directions,
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

hp_status hp__reference_compute(hp__problem *p, int n_directions, const hp_plugin_descriptor *coarse,
                                const hp_plugin_descriptor *global, FILE *log, const char *cache_dir) {
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
        HP_CALL(reference_fem(p, n_directions, coarse, global, log));
        if (cache_dir) cache_store(p, n_directions, coarse, cache_dir, log);
        break;
    default:
        break;
    }
    return HP_OK;
}
