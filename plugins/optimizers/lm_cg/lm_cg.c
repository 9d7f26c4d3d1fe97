/* lm_cg.c — matrix-free Levenberg–Marquardt ("lm_cg"): the damped Gauss–Newton
 * step of `lm`, solved by preconditioned conjugate gradients with Jacobian
 * products instead of a Jacobian. Memory O(n + m) plus the preconditioner's n x
 * rank, where dense LM needs O(m n); each CG iteration costs one J v and one
 * Jᵀ u, about two gradient evaluations.
 *
 * The step δ minimises ½‖r + Jδ‖² + ½λ‖δ‖²:  (JᵀJ + λI) δ = −Jᵀr,
 * solved by CG from δ = 0 to a relative residual cg_rtol (or cg_max_iterations).
 * Truncated CG from zero decreases the damped model monotonically, so every CG
 * iterate is a descent step; the predicted decrease of the undamped model,
 * ½‖r‖² − ½‖r + Jδ‖², follows from CG's own residual (no extra product):
 *   q(δ) = gᵀδ + ½δᵀ(JᵀJ + λI)δ = ½(gᵀδ − δᵀs),  s = −g − (JᵀJ + λI)δ,
 *   predicted = −q(δ) + ½λ‖δ‖².
 * Gain ratio and damping updates are lm's (docs/optimizers.md).
 *
 * Preconditioner (preconditioner: nystrom): a randomized Nyström approximation
 * of H = JᵀJ from `rank` products with a Gaussian test matrix (Frangella, Tropp
 * and Udell's construction: shift ν = √n ε ‖Y‖, Cholesky of Ωᵀ(Y + νΩ), SVD of
 * the result), H ≈ U Λ Uᵀ, and for the damped system
 *   P⁻¹ = (λ_r + μ) U (Λ + μI)⁻¹ Uᵀ + (I − UUᵀ),  μ = λ (the damping).
 * It is rebuilt every `sketch_every` steps (the Jacobian changes slowly), from a
 * test matrix drawn from `seed` and the step count, so a run is reproducible; U
 * and Λ are part of the saved state, so a resumed run continues bit for bit. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "hpinn/optimizer.h"
#include "hpinn/plugin.h"
#include "hpinn/rng.h"

#define LMCG_RHO_ACCEPT 1e-4
#define LMCG_RHO_LOW 0.25
#define LMCG_RHO_HIGH 0.75
#define LMCG_STATE_VERSION 1u

enum { PRECOND_NONE = 0, PRECOND_NYSTROM = 1 };

static const hp_param_def lm_cg_params[] = {
    {"lambda0", HP_PARAM_REAL, "1e-3", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 0.0, 0.0, NULL, 0, "initial damping lambda"},
    {"lambda_increase", HP_PARAM_REAL, "10", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 1.0, 0.0, NULL, 0,
     "factor (> 1) on lambda after a rejected or poor (rho < 0.25) trial"},
    {"lambda_decrease", HP_PARAM_REAL, "0.1", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN | HP_PARAM_HAS_MAX, 0.0, 1.0, NULL,
     0, "factor (< 1) on lambda after a very good (rho > 0.75) step"},
    {"lambda_min", HP_PARAM_REAL, "1e-15", HP_PARAM_HAS_MIN, 0.0, 0.0, NULL, 0, "lambda never decreases below this"},
    {"lambda_max", HP_PARAM_REAL, "1e12", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 0.0, 0.0, NULL, 0,
     "stop (damping limit) when lambda would exceed this"},
    {"cg_max_iterations", HP_PARAM_INT, "100", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 100000, NULL, 0,
     "CG iterations per solve (each: one J v and one J' u)"},
    {"cg_rtol", HP_PARAM_REAL, "1e-3", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN | HP_PARAM_HAS_MAX, 0.0, 1.0, NULL, 0,
     "stop CG when its residual is below cg_rtol times ||J'r||"},
    {"preconditioner", HP_PARAM_ENUM, "nystrom", 0u, 0.0, 0.0, "none|nystrom", 0,
     "none, or a randomized Nystrom approximation of J'J of rank `rank`"},
    {"rank", HP_PARAM_INT, "40", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 4096, NULL, 0,
     "rank of the Nystrom preconditioner (products per rebuild)"},
    {"sketch_every", HP_PARAM_INT, "5", HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX, 1, 1000000, NULL, 0,
     "rebuild the preconditioner every this many steps"},
    {"seed", HP_PARAM_INT, "1", HP_PARAM_HAS_MIN, 0, 0, NULL, 0, "seed of the Nystrom test matrices"},
    {"gtol", HP_PARAM_REAL, "1e-10", HP_PARAM_HAS_MIN, 0.0, 0.0, NULL, 0, "stop when ||J'r||_2 <= gtol"},
    {"xtol", HP_PARAM_REAL, "1e-14", HP_PARAM_HAS_MIN, 0.0, 0.0, NULL, 0,
     "stop when an accepted step has ||delta||_2 <= xtol max(1, ||theta||_2)"},
    {"ftol", HP_PARAM_REAL, "1e-14", HP_PARAM_HAS_MIN, 0.0, 0.0, NULL, 0,
     "stop when an accepted step decreases L by <= ftol L (relative change)"},
    {"max_evals", HP_PARAM_INT, "20", HP_PARAM_HAS_MIN, 1.0, 0.0, NULL, 0,
     "trial evaluations allowed in one step"},
    HP_PARAM_END};

typedef struct lm_cg {
    size_t n, m, rank;
    double lambda0, increase, decrease, lambda_min, lambda_max, gtol, xtol, ftol, cg_rtol;
    size_t cg_max, max_evals, sketch_every;
    int precond;
    uint64_t seed;
    /* state */
    double lambda;
    uint64_t iterations;
    int have_sketch;
    double *U, *Lam;     /* n x rank (column-major: column j at U + j n), rank; the Nystrom factors */
    /* workspaces */
    double *r, *r_trial, *Jv;                      /* m */
    double *g, *delta, *res, *z, *p, *Ap, *theta_trial, *work; /* n */
    double *Omega, *Y, *small, *sv, *smallU;       /* n x rank, n x rank, rank x rank, rank, rank x rank */
} lm_cg;

static void lm_cg_destroy(void *state) {
    lm_cg *o = state;
    if (!o) return;
    double *bufs[] = {o->U, o->Lam, o->r, o->r_trial, o->Jv, o->g, o->delta, o->res, o->z, o->p, o->Ap,
                      o->theta_trial, o->work, o->Omega, o->Y, o->small, o->sv, o->smallU};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(o);
}

static hp_status lm_cg_create(const hp_params *params, size_t n, void **state) {
    double lambda0 = hp_params_real(params, "lambda0"), lambda_max = hp_params_real(params, "lambda_max");
    double lambda_min = hp_params_real(params, "lambda_min");
    if (lambda0 > lambda_max || lambda0 < lambda_min)
        return hp_params_error(params, "lambda0", "%g is outside [lambda_min, lambda_max] = [%g, %g]", lambda0,
                               lambda_min, lambda_max);
    lm_cg *o;
    HP_CALL(hp_calloc(1, sizeof *o, &o));
    hp_status st;
    o->n = n;
    o->lambda = o->lambda0 = lambda0;
    o->increase = hp_params_real(params, "lambda_increase");
    o->decrease = hp_params_real(params, "lambda_decrease");
    o->lambda_min = lambda_min;
    o->lambda_max = lambda_max;
    o->gtol = hp_params_real(params, "gtol");
    o->xtol = hp_params_real(params, "xtol");
    o->ftol = hp_params_real(params, "ftol");
    o->cg_rtol = hp_params_real(params, "cg_rtol");
    o->cg_max = (size_t)hp_params_int(params, "cg_max_iterations");
    o->max_evals = (size_t)hp_params_int(params, "max_evals");
    o->precond = hp_params_enum_index(params, "preconditioner");
    o->rank = (size_t)hp_params_int(params, "rank");
    if (o->rank > n) o->rank = n ? n : 1;
    o->sketch_every = (size_t)hp_params_int(params, "sketch_every");
    o->seed = (uint64_t)hp_params_int(params, "seed");
    size_t nn = n ? n : 1, k = o->rank;
    double **vecs[] = {&o->g, &o->delta, &o->res, &o->z, &o->p, &o->Ap, &o->theta_trial, &o->work};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) HP_CALL_GOTO(st, hp_calloc(nn, sizeof(double), vecs[i]), fail);
    if (o->precond == PRECOND_NYSTROM) {
        HP_CALL_GOTO(st, hp_calloc(nn * k, sizeof(double), &o->U), fail);
        HP_CALL_GOTO(st, hp_calloc(k, sizeof(double), &o->Lam), fail);
        HP_CALL_GOTO(st, hp_calloc(nn * k, sizeof(double), &o->Omega), fail);
        HP_CALL_GOTO(st, hp_calloc(nn * k, sizeof(double), &o->Y), fail);
        HP_CALL_GOTO(st, hp_calloc(k * k, sizeof(double), &o->small), fail);
        HP_CALL_GOTO(st, hp_calloc(k, sizeof(double), &o->sv), fail);
        HP_CALL_GOTO(st, hp_calloc(k * k, sizeof(double), &o->smallU), fail);
    }
    *state = o;
    return HP_OK;
fail:
    lm_cg_destroy(o);
    return st;
}

static hp_status workspace(lm_cg *o, size_t m) {
    if (o->m == m) return HP_OK;
    free(o->r), free(o->r_trial), free(o->Jv);
    o->r = o->r_trial = o->Jv = NULL;
    HP_CALL(hp_calloc(m ? m : 1, sizeof(double), &o->r));
    HP_CALL(hp_calloc(m ? m : 1, sizeof(double), &o->r_trial));
    HP_CALL(hp_calloc(m ? m : 1, sizeof(double), &o->Jv));
    o->m = m;
    return HP_OK;
}

static double dot(const double *a, const double *b, size_t n) { return n ? cblas_ddot((int)n, a, 1, b, 1) : 0.0; }

/* out = JᵀJ v (n), through the m-vector Jv. */
static hp_status gram_product(lm_cg *o, const hp_objective *obj, const double *theta, const double *v, double *out,
                              hp_opt_step_info *info) {
    HP_CALL(obj->jvp(obj->ctx, theta, v, o->Jv));
    HP_CALL(obj->vjp(obj->ctx, theta, o->Jv, out));
    info->products += 2;
    return HP_OK;
}

/* The Nystrom factors U, Λ of JᵀJ at the linearized point. */
static hp_status build_sketch(lm_cg *o, const hp_objective *obj, const double *theta, hp_opt_step_info *info) {
    size_t n = o->n, k = o->rank;
    hp_rng rng;
    hp_rng_seed(&rng, o->seed, 1000003u + o->iterations);
    for (size_t i = 0; i < n * k; i++) o->Omega[i] = hp_rng_normal(&rng);
    /* orthonormal test matrix (QR), column-major n x k */
    double *tau = o->sv;
    if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)k, o->Omega, (lapack_int)n, tau) != 0 ||
        LAPACKE_dorgqr(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)k, (lapack_int)k, o->Omega, (lapack_int)n, tau) != 0)
        HP_ERROR(HP_ERR_NUMERIC, "lm_cg: QR of the Nystrom test matrix failed");
    for (size_t j = 0; j < k; j++) HP_CALL(gram_product(o, obj, theta, o->Omega + j * n, o->Y + j * n, info));
    double ynorm = cblas_dnrm2((int)(n * k), o->Y, 1);
    double nu = sqrt((double)n) * 2.220446049250313e-16 * ynorm;
    for (size_t i = 0; i < n * k; i++) o->Y[i] += nu * o->Omega[i];
    /* small = Ωᵀ Y_ν (k x k), Cholesky (upper: small = RᵀR) */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)k, (int)k, (int)n, 1.0, o->Omega, (int)n, o->Y, (int)n,
                0.0, o->small, (int)k);
    for (size_t a = 0; a < k; a++) /* symmetrize against rounding */
        for (size_t b = a + 1; b < k; b++) {
            double s = 0.5 * (o->small[a * k + b] + o->small[b * k + a]);
            o->small[a * k + b] = o->small[b * k + a] = s;
        }
    if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)k, o->small, (lapack_int)k) != 0) {
        o->have_sketch = 0; /* J'J too degenerate for this rank: go on without a preconditioner */
        return HP_OK;
    }
    /* B = Y_ν R⁻¹ (n x k), in Y */
    cblas_dtrsm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, (int)n, (int)k, 1.0, o->small,
                (int)k, o->Y, (int)n);
    /* thin SVD of B: U Σ Vᵀ (U overwrites B's storage, copied to o->U) */
    double superb[4096];
    if (LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'O', 'N', (lapack_int)n, (lapack_int)k, o->Y, (lapack_int)n, o->sv, NULL, 1,
                       NULL, 1, superb) != 0) {
        o->have_sketch = 0;
        return HP_OK;
    }
    memcpy(o->U, o->Y, n * k * sizeof *o->U);
    for (size_t j = 0; j < k; j++) o->Lam[j] = fmax(0.0, o->sv[j] * o->sv[j] - nu);
    o->have_sketch = 1;
    return HP_OK;
}

/* z = P⁻¹ res (the identity without a sketch). */
static void apply_preconditioner(lm_cg *o, const double *res, double *z, double mu) {
    size_t n = o->n, k = o->rank;
    memcpy(z, res, n * sizeof *z);
    if (!o->have_sketch) return;
    double coef[4096], lk = o->Lam[k - 1];
    /* coef = Uᵀ res; z = res − U coef + (λ_k + μ) U diag(1/(Λ + μ)) coef */
    cblas_dgemv(CblasColMajor, CblasTrans, (int)n, (int)k, 1.0, o->U, (int)n, res, 1, 0.0, coef, 1);
    for (size_t j = 0; j < k; j++) coef[j] = coef[j] * ((lk + mu) / (o->Lam[j] + mu) - 1.0);
    cblas_dgemv(CblasColMajor, CblasNoTrans, (int)n, (int)k, 1.0, o->U, (int)n, coef, 1, 1.0, z, 1);
}

typedef struct cg_result {
    size_t iterations;
    int breakdown;
    double model;  /* q(δ) of the damped model */
    double rel;    /* final relative residual */
} cg_result;

/* Preconditioned CG on (JᵀJ + λI) δ = −g from δ = 0. */
static hp_status cg_solve(lm_cg *o, const hp_objective *obj, const double *theta, double gnorm, cg_result *out,
                          hp_opt_step_info *info) {
    size_t n = o->n;
    double lambda = o->lambda;
    memset(o->delta, 0, n * sizeof *o->delta);
    for (size_t i = 0; i < n; i++) o->res[i] = -o->g[i];
    apply_preconditioner(o, o->res, o->z, lambda);
    memcpy(o->p, o->z, n * sizeof *o->p);
    double rz = dot(o->res, o->z, n);
    memset(out, 0, sizeof *out);
    out->rel = 1.0;
    for (size_t it = 0; it < o->cg_max; it++) {
        HP_CALL(gram_product(o, obj, theta, o->p, o->Ap, info));
        for (size_t i = 0; i < n; i++) o->Ap[i] += lambda * o->p[i];
        double pAp = dot(o->p, o->Ap, n);
        out->iterations = it + 1;
        if (!(pAp > 0.0) || !isfinite(pAp) || !(rz > 0.0)) {
            out->breakdown = 1;
            break;
        }
        double alpha = rz / pAp;
        for (size_t i = 0; i < n; i++) {
            o->delta[i] += alpha * o->p[i];
            o->res[i] -= alpha * o->Ap[i];
        }
        double rn = cblas_dnrm2((int)n, o->res, 1);
        out->rel = gnorm > 0.0 ? rn / gnorm : 0.0;
        if (out->rel <= o->cg_rtol) break;
        apply_preconditioner(o, o->res, o->z, lambda);
        double rz_new = dot(o->res, o->z, n);
        double beta = rz_new / rz;
        rz = rz_new;
        for (size_t i = 0; i < n; i++) o->p[i] = o->z[i] + beta * o->p[i];
    }
    /* q(δ) = ½(gᵀδ − δᵀs), s the CG residual = −g − Aδ */
    out->model = 0.5 * (dot(o->g, o->delta, n) - dot(o->delta, o->res, n));
    info->inner_iterations += out->iterations;
    return HP_OK;
}

static double half_squared_norm(const double *v, size_t m) {
    double s = 0.0;
    for (size_t i = 0; i < m; ++i) s += v[i] * v[i];
    return 0.5 * s;
}

static hp_status lm_cg_step(void *state, double *theta, const hp_objective *obj, hp_opt_step_info *info) {
    lm_cg *o = state;
    const size_t n = o->n;
    hp_opt_info_init(info);
    info->damping = o->lambda;
    if (obj->n != n)
        HP_ERROR(HP_ERR_INTERNAL, "lm_cg: objective has %zu parameters, optimizer was created for %zu", obj->n, n);
    if (!obj->linearize || !obj->jvp || !obj->vjp || obj->m == 0)
        HP_ERROR(HP_ERR_CONFIG, "optimizer 'lm_cg' needs Jacobian-vector products (a network plugin with a tangent "
                                "pass), which this objective does not provide; use lm, lbfgs or adam");
    const size_t m = obj->m;
    HP_CALL(workspace(o, m));
    HP_CALL(obj->linearize(obj->ctx, theta, o->r));
    info->evaluations = 1;
    double L = half_squared_norm(o->r, m);
    if (obj->sum_over_ranks) HP_CALL(obj->sum_over_ranks(obj->ctx, &L, 1)); /* rows over processes; Jᵀu is complete */
    info->value = L;
    if (!isfinite(L)) {
        hp_opt_info_stop(info, HP_OPT_NON_FINITE, "lm_cg: residuals not finite at the current parameters (L = %g) after "
                                                  "%llu iterations", L, (unsigned long long)o->iterations);
        return HP_OK;
    }
    HP_CALL(obj->vjp(obj->ctx, theta, o->r, o->g));
    info->products++;
    double gnorm = cblas_dnrm2((int)n, o->g, 1);
    info->grad_norm = gnorm;
    if (!isfinite(gnorm)) {
        hp_opt_info_stop(info, HP_OPT_NON_FINITE, "lm_cg: gradient J'r not finite (L = %g)", L);
        return HP_OK;
    }
    if (gnorm <= o->gtol) {
        hp_opt_info_stop(info, HP_OPT_CONVERGED_GRADIENT, "lm_cg: ||J'r|| = %.3e <= gtol = %.3e after %llu iterations "
                                                          "(L = %.6e)", gnorm, o->gtol, (unsigned long long)o->iterations, L);
        return HP_OK;
    }
    if (o->precond == PRECOND_NYSTROM && (!o->have_sketch || o->iterations % o->sketch_every == 0))
        HP_CALL(build_sketch(o, obj, theta, info));

    size_t trials = 0;
    double last_rho = NAN;
    for (;;) {
        if (o->lambda > o->lambda_max) {
            hp_opt_info_stop(info, HP_OPT_DAMPING_LIMIT, "lm_cg: damping %.3e exceeds lambda_max = %.3e without an "
                                                         "acceptable step (%zu trials, last gain ratio %.3g, L = %.6e); "
                                                         "parameters unchanged",
                             o->lambda, o->lambda_max, trials, last_rho, L);
            info->damping = o->lambda;
            return HP_OK;
        }
        if (trials >= o->max_evals) {
            hp_opt_info_stop(info, HP_OPT_MAX_EVALUATIONS, "lm_cg: %zu trials (max_evals) without an acceptable step "
                                                           "(damping %.3e, last gain ratio %.3g, L = %.6e); parameters "
                                                           "unchanged", trials, o->lambda, last_rho, L);
            info->damping = o->lambda;
            return HP_OK;
        }
        if (trials > 0) { /* the trial evaluation moved the objective off θ */
            HP_CALL(obj->linearize(obj->ctx, theta, o->r_trial));
            info->evaluations++;
        }
        cg_result cg;
        HP_CALL(cg_solve(o, obj, theta, gnorm, &cg, info));
        if (cg.breakdown && cg.iterations == 1) {
            hp_opt_info_stop(info, HP_OPT_INNER_BREAKDOWN, "lm_cg: CG broke down at its first iteration (p'Ap <= 0 or "
                                                           "not finite; damping %.3e, L = %.6e); parameters unchanged",
                             o->lambda, L);
            return HP_OK;
        }
        double dd = dot(o->delta, o->delta, n);
        const double predicted = -cg.model + 0.5 * o->lambda * dd;
        for (size_t j = 0; j < n; ++j) o->theta_trial[j] = theta[j] + o->delta[j];
        HP_CALL(obj->residuals_and_jacobian(obj->ctx, o->theta_trial, o->r_trial, NULL));
        trials++;
        info->evaluations++;
        double L_trial = half_squared_norm(o->r_trial, m);
        if (obj->sum_over_ranks) HP_CALL(obj->sum_over_ranks(obj->ctx, &L_trial, 1));
        const double actual = L - L_trial;
        const double rho = (isfinite(L_trial) && predicted > 0.0) ? actual / predicted : -INFINITY;
        last_rho = rho;
        if (!(rho > LMCG_RHO_ACCEPT)) {
            o->lambda *= o->increase;
            continue;
        }
        if (rho > LMCG_RHO_HIGH) o->lambda = fmax(o->lambda * o->decrease, o->lambda_min);
        else if (rho < LMCG_RHO_LOW) o->lambda *= o->increase;
        const double step_norm = sqrt(dd);
        memcpy(theta, o->theta_trial, n * sizeof(double));
        o->iterations++;
        info->value = L_trial;
        info->grad_norm = NAN;
        info->step_norm = step_norm;
        info->damping = o->lambda;
        const double theta_norm = cblas_dnrm2((int)n, theta, 1);
        if (step_norm <= o->xtol * fmax(1.0, theta_norm))
            hp_opt_info_stop(info, HP_OPT_CONVERGED_STEP, "lm_cg: step ||delta|| = %.3e <= xtol max(1, ||theta||) after "
                                                          "%llu iterations (L = %.6e)", step_norm,
                             (unsigned long long)o->iterations, L_trial);
        else if (actual <= o->ftol * L)
            hp_opt_info_stop(info, HP_OPT_CONVERGED_VALUE, "lm_cg: decrease of L %.3e <= ftol L = %.3e after %llu "
                                                           "iterations (L = %.6e)", actual, o->ftol * L,
                             (unsigned long long)o->iterations, L_trial);
        return HP_OK;
    }
}

/* payload: u64 iterations | u64 have_sketch | lambda | U (n x rank) | Λ (rank); the
 * factors are saved so a resumed run preconditions exactly as it would have. */
static size_t lm_cg_payload(const lm_cg *o) {
    size_t k = o->precond == PRECOND_NYSTROM ? o->rank : 0;
    return 2 * sizeof(uint64_t) + (1 + o->n * k + k) * sizeof(double);
}

static size_t lm_cg_state_size(const void *state) { return hp_opt_state_bytes(lm_cg_payload(state)); }

static hp_status lm_cg_save(const void *state, void *buf) {
    const lm_cg *o = state;
    hp_opt_state_writer w;
    hp_opt_state_write_begin(&w, buf, "lm_cg", LMCG_STATE_VERSION, o->n, lm_cg_payload(o));
    hp_opt_state_put_u64(&w, o->iterations);
    hp_opt_state_put_u64(&w, (uint64_t)o->have_sketch);
    hp_opt_state_put_f64s(&w, &o->lambda, 1);
    if (o->precond == PRECOND_NYSTROM) {
        hp_opt_state_put_f64s(&w, o->U, o->n * o->rank);
        hp_opt_state_put_f64s(&w, o->Lam, o->rank);
    }
    HP_CALL(hp_opt_state_write_end(&w));
    return HP_OK;
}

static hp_status lm_cg_load(void *state, const void *buf, size_t size) {
    lm_cg *o = state;
    hp_opt_state_reader r;
    uint64_t iterations, have;
    double lambda;
    HP_CALL(hp_opt_state_read_begin(&r, buf, size, "lm_cg", LMCG_STATE_VERSION, o->n, lm_cg_payload(o)));
    HP_CALL(hp_opt_state_get_u64(&r, &iterations));
    HP_CALL(hp_opt_state_get_u64(&r, &have));
    HP_CALL(hp_opt_state_get_f64s(&r, &lambda, 1));
    if (!(lambda > 0.0) || !isfinite(lambda) || have > 1)
        HP_ERROR(HP_ERR_CORRUPT, "lm_cg optimizer state: damping %g or sketch flag %llu out of range", lambda,
                 (unsigned long long)have);
    if (o->precond == PRECOND_NYSTROM) {
        HP_CALL(hp_opt_state_get_f64s(&r, o->U, o->n * o->rank));
        HP_CALL(hp_opt_state_get_f64s(&r, o->Lam, o->rank));
    }
    o->iterations = iterations;
    o->have_sketch = (int)have;
    o->lambda = lambda;
    return HP_OK;
}

/* n-vectors, the m-vectors, and the sketch's two n x rank matrices. */
static double lm_cg_memory_bytes(const hp_params *params, size_t n, size_t m) {
    double k = hp_params_enum_index(params, "preconditioner") == PRECOND_NYSTROM ? (double)hp_params_int(params, "rank")
                                                                                 : 0.0;
    return 8.0 * (8.0 * (double)n + 3.0 * (double)m + 3.0 * (double)n * k + 2.0 * k * k);
}

/* A new objective (resampled points): the preconditioner was J'J of the old one. */
static void lm_cg_reset(void *state) { ((lm_cg *)state)->have_sketch = 0; }

static const hp_optimizer_ops lm_cg_ops = {
    .struct_size = sizeof(hp_optimizer_ops),
    .create = lm_cg_create,
    .destroy = lm_cg_destroy,
    .step = lm_cg_step,
    .state_size = lm_cg_state_size,
    .save = lm_cg_save,
    .load = lm_cg_load,
    .memory_bytes = lm_cg_memory_bytes,
    .reset = lm_cg_reset,
};

HP_PLUGIN_DEFINE(HP_PLUGIN_OPTIMIZER, "lm_cg", "1.0.0",
                 "matrix-free Levenberg-Marquardt: CG on the damped normal equations, Nystrom-preconditioned",
                 lm_cg_params, &lm_cg_ops)
