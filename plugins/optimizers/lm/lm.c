/* lm.c — Levenberg–Marquardt (damped Gauss–Newton) on L = 1/2 ||r||^2, with the
 * damping adapted by the gain ratio and the linear system solved in whichever
 * space is smaller.
 *
 * The step delta minimises the model 1/2 ||r + J delta||^2 + lambda/2 delta' D delta:
 *   parameter form (n <= m):  (J'J + lambda D) delta = -J'r          (n x n)
 *   kernel form    (m <  n):  delta = -D^{-1/2} Js' (Js Js' + lambda I)^{-1} r,
 *                             Js = J D^{-1/2}                          (m x m)
 * Both are the same step (push-through identity applied to the column-scaled
 * Jacobian), for D = I and for the Jacobian scaling alike; the kernel form is the
 * identity-damped form in the scaled variables. Each is one Gram matrix (J'J by
 * hp_gram_lower, which multiplies each run of rows on its nonzero columns only:
 * with one network per direction, a quarter of a full SYRK's flops for two
 * directions; Js Js' by one SYRK) and one Cholesky factorisation + solve
 * (LAPACKE dpotrf/dpotrs) per trial; in the parameter form one per diagonal
 * block of the Gram matrix (find_blocks: with the coupling off, one per
 * direction's network).
 *
 * Subsampled Gram matrix (gram_rows = f < 1, parameter form only): the Gram
 * matrix of step t is sum_{i in S} J_i'J_i / p_i over a pseudo-random subset S of
 * the rows, row i kept with probability p_i = min(1, c ||J_i||^2), c such that
 * sum p_i = f m (row-norm importance sampling: the sum is J'J in expectation, and
 * rows that carry much of it — the few dense coupling or averaged-residual rows
 * weighted by tau — are always kept). Row i is in S when
 * splitmix64(t << 32 ^ i) / 2^64 < p_i, so a step and its resume draw the same
 * rows. The gradient J'r, the damping's diag(J'J) and every acceptance test use
 * all rows. It costs about f of the Gram flops (the largest part of a step when
 * m >> n); the gain ratio keeps the iteration honest where the sampled model is
 * poor. A step whose trials would end at the damping limit or max_evals with the
 * sample goes on with the exact Gram matrix from min(its starting damping,
 * lambda0), so a sampled run stops only where the exact method would (the sample
 * is a copy: about f m n more doubles).
 *
 * gram_precision: single forms that Gram matrix (sampled, or with gram_rows 1
 * the whole one) from a float copy of the rows by SSYRK, in about half the time;
 * its rounding, ~1e-7 of the diagonal, is far below a sample's error and is
 * another perturbation of the model that the gain ratio judges. The factorisation,
 * the gradient and every test stay double, and the exact-Gram fallback above is
 * the double one (also for gram_rows 1 in single).
 *
 * D is I (scaling: identity, Levenberg) or Moré's diag: the running maximum over
 * iterations of diag(J'J) (scaling: jacobian, Marquardt), with 1 for parameters
 * whose Jacobian column has always been zero.
 *
 * Gain ratio rho = (L - L_trial) / (predicted decrease), the predicted decrease
 * of the model being 1/2 (lambda delta' D delta - g' delta) > 0. A trial with
 * rho > 1e-4 is accepted; rho > 0.75 multiplies lambda by lambda_decrease, rho <
 * 0.25 (or a rejection, or a failed factorisation) by lambda_increase. One step()
 * tries until a trial is accepted, lambda exceeds lambda_max, or max_evals
 * residual evaluations are spent; non-finite trial residuals count as rejections.
 *
 * Workspaces are allocated at the first step with a given m (the residual count
 * of the objective) and reused afterwards. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "hpinn/optimizer.h"
#include "hpinn/plugin.h"
#include "hpinn/rng.h"

enum { LM_SCALING_IDENTITY = 0, LM_SCALING_JACOBIAN = 1 };
enum { LM_FORM_AUTO = 0, LM_FORM_PARAMETER = 1, LM_FORM_KERNEL = 2 };

#define LM_RHO_ACCEPT 1e-4
#define LM_RHO_LOW 0.25
#define LM_RHO_HIGH 0.75
#define LM_STATE_VERSION 1u

static const hp_param_def lm_params[] = {
    {"lambda0", HP_PARAM_REAL, "1e-3", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 0.0, 0.0, NULL, 0,
     "initial damping lambda"},
    {"lambda_increase", HP_PARAM_REAL, "10", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 1.0, 0.0,
     NULL, 0, "factor (> 1) on lambda after a rejected or poor (rho < 0.25) trial"},
    {"lambda_decrease", HP_PARAM_REAL, "0.1", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN | HP_PARAM_HAS_MAX,
     0.0, 1.0, NULL, 0, "factor (< 1) on lambda after a very good (rho > 0.75) step"},
    {"lambda_min", HP_PARAM_REAL, "1e-15", HP_PARAM_HAS_MIN, 0.0, 0.0, NULL, 0,
     "lambda never decreases below this"},
    {"lambda_max", HP_PARAM_REAL, "1e12", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN, 0.0, 0.0, NULL, 0,
     "stop (damping limit) when lambda would exceed this"},
    {"scaling", HP_PARAM_ENUM, "identity", 0u, 0.0, 0.0, "identity|jacobian", 0,
     "damping matrix D: identity (Levenberg) or running max of diag(J'J) (Marquardt/Moré)"},
    {"form", HP_PARAM_ENUM, "auto", 0u, 0.0, 0.0, "auto|parameter|kernel", 0,
     "normal equations in parameter space (n x n) or kernel form (m x m); auto: the smaller"},
    {"gtol", HP_PARAM_REAL, "1e-10", HP_PARAM_HAS_MIN, 0.0, 0.0, NULL, 0,
     "stop when ||J'r||_2 <= gtol"},
    {"xtol", HP_PARAM_REAL, "1e-14", HP_PARAM_HAS_MIN, 0.0, 0.0, NULL, 0,
     "stop when an accepted step has ||delta||_2 <= xtol max(1, ||theta||_2)"},
    {"ftol", HP_PARAM_REAL, "1e-14", HP_PARAM_HAS_MIN, 0.0, 0.0, NULL, 0,
     "stop when an accepted step decreases L by <= ftol L (relative change)"},
    {"max_evals", HP_PARAM_INT, "30", HP_PARAM_HAS_MIN, 1.0, 0.0, NULL, 0,
     "residual evaluations allowed for the trials of one step"},
    {"gram_rows", HP_PARAM_REAL, "1", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN | HP_PARAM_HAS_MAX, 0.0, 1.0, NULL, 0,
     "expected fraction of the residual rows in each step's Gram matrix (a new random subset, drawn by row norm "
     "and weighted back); the gradient uses every row (parameter form only; 1: the exact Gram matrix)"},
    {"gram_precision", HP_PARAM_ENUM, "double", 0u, 0.0, 0.0, "double|single", 0,
     "precision of the Gram matrix's products: single is about twice as fast, rounding ~1e-7 of the diagonal; "
     "a step that would stop with it goes on with the double one (parameter form only)"},
    HP_PARAM_END};

enum { LM_GRAM_DOUBLE = 0, LM_GRAM_SINGLE = 1 };

typedef struct lm {
    size_t n;
    double lambda0, increase, decrease, lambda_min, lambda_max, gtol, xtol, ftol;
    size_t max_evals;
    int scaling, form_choice;
    double gram_rows;
    int gram_single;   /* gram_precision: single */
    /* state */
    double lambda;
    uint64_t iterations;
    double *dmax;      /* running max of diag(J'J) (n) */
    /* workspaces for the current m */
    size_t m, k;       /* k: size of the system (n or m) */
    int form;          /* LM_FORM_PARAMETER or LM_FORM_KERNEL for this m */
    double *r, *J, *r_trial;      /* m, m x n, m */
    double *Js;                   /* m x n scaled Jacobian (kernel form + jacobian scaling) */
    double *gram, *factor;        /* k x k, column-major lower */
    double *Jsample;              /* the sampled rows (gram_rows < 1), sample_cap rows allocated */
    float *Jsingle, *gram_single_work; /* gram_precision single: the rows as floats (sample_cap), n x n */
    size_t *block_end, n_blocks;  /* parameter form: the Gram matrix's diagonal blocks (ends, exclusive) */
    size_t sample_cap;
    double *g, *d, *delta, *theta_trial, *rhs;  /* n, n, n, n, max(m, n) */
} lm;

static void lm_free_workspace(lm *o) {
    free(o->r);
    free(o->J);
    free(o->r_trial);
    free(o->Js);
    free(o->gram);
    free(o->factor);
    free(o->rhs);
    free(o->Jsample);
    free(o->Jsingle);
    free(o->gram_single_work);
    free(o->block_end);
    o->block_end = NULL;
    o->n_blocks = 0;
    o->r = o->J = o->r_trial = o->Js = o->gram = o->factor = o->rhs = o->Jsample = NULL;
    o->m = o->sample_cap = 0;
}

static void lm_destroy(void *state) {
    lm *o = state;
    if (!o) return;
    lm_free_workspace(o);
    free(o->dmax);
    free(o->g);
    free(o->d);
    free(o->delta);
    free(o->theta_trial);
    free(o);
}

static hp_status lm_create(const hp_params *params, size_t n, void **state) {
    hp_status st;
    lm *o = NULL;
    double lambda0 = hp_params_real(params, "lambda0");
    double lambda_max = hp_params_real(params, "lambda_max");
    double lambda_min = hp_params_real(params, "lambda_min");
    if (lambda0 > lambda_max)
        return hp_params_error(params, "lambda0", "%g is above lambda_max = %g; expected "
                               "lambda_min <= lambda0 <= lambda_max", lambda0, lambda_max);
    if (lambda0 < lambda_min)
        return hp_params_error(params, "lambda0", "%g is below lambda_min = %g; expected "
                               "lambda_min <= lambda0 <= lambda_max", lambda0, lambda_min);
    if (hp_params_real(params, "lambda_decrease") >= 1.0)
        return hp_params_error(params, "lambda_decrease", "%g is not below 1; expected a "
                               "factor in (0, 1)", hp_params_real(params, "lambda_decrease"));
    HP_CALL(hp_calloc(1, sizeof *o, &o));
    o->n = n;
    o->lambda0 = lambda0;
    o->increase = hp_params_real(params, "lambda_increase");
    o->decrease = hp_params_real(params, "lambda_decrease");
    o->lambda_min = lambda_min;
    o->lambda_max = lambda_max;
    o->gtol = hp_params_real(params, "gtol");
    o->xtol = hp_params_real(params, "xtol");
    o->ftol = hp_params_real(params, "ftol");
    o->max_evals = (size_t)hp_params_int(params, "max_evals");
    o->scaling = hp_params_enum_index(params, "scaling");
    o->form_choice = hp_params_enum_index(params, "form");
    o->gram_rows = hp_params_real(params, "gram_rows");
    o->gram_single = hp_params_enum_index(params, "gram_precision") == LM_GRAM_SINGLE;
    if (o->gram_single && o->form_choice == LM_FORM_KERNEL) {
        lm_destroy(o);
        return hp_params_error(params, "gram_precision", "single needs the parameter form; expected form: parameter "
                               "or auto (or gram_precision: double with form: kernel)");
    }
    if (o->gram_rows < 1.0 && o->form_choice == LM_FORM_KERNEL) {
        lm_destroy(o);
        return hp_params_error(params, "gram_rows", "%g needs the parameter form; expected form: parameter or auto "
                               "(or gram_rows: 1 with form: kernel)", hp_params_real(params, "gram_rows"));
    }
    o->lambda = lambda0;
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double), &o->dmax), fail);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double), &o->g), fail);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double), &o->d), fail);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double), &o->delta), fail);
    HP_CALL_GOTO(st, hp_calloc(n, sizeof(double), &o->theta_trial), fail);
    *state = o;
    return HP_OK;
fail:
    lm_destroy(o);
    return st;
}

/* Allocate the workspaces for m residuals (only when m changes). */
static hp_status lm_workspace(lm *o, size_t m, int distributed) {
    if (o->m == m) return HP_OK;
    lm_free_workspace(o);
    const size_t n = o->n;
    int form = o->form_choice;
    if (distributed && form == LM_FORM_KERNEL)
        HP_ERROR(HP_ERR_CONFIG, "lm: form kernel needs every residual row in one process, and this run spreads them "
                                "over MPI ranks; expected form: parameter or auto");
    if (form == LM_FORM_AUTO)
        form = n <= m || distributed || o->gram_rows < 1.0 || o->gram_single ? LM_FORM_PARAMETER : LM_FORM_KERNEL;
    const size_t k = form == LM_FORM_PARAMETER ? n : m;
    if (n && m > ((size_t)-1) / sizeof(double) / n)
        HP_ERROR(HP_ERR_NOMEM, "lm: a %zu x %zu Jacobian does not fit in memory", m, n);
    HP_CALL(hp_malloc(m * sizeof(double), &o->r));
    HP_CALL(hp_malloc(m * sizeof(double), &o->r_trial));
    HP_CALL(hp_malloc(m * n * sizeof(double), &o->J));
    if (form == LM_FORM_KERNEL && o->scaling == LM_SCALING_JACOBIAN)
        HP_CALL(hp_malloc(m * n * sizeof(double), &o->Js));
    HP_CALL(hp_calloc(k * k, sizeof(double), &o->gram));
    HP_CALL(hp_calloc(k * k, sizeof(double), &o->factor));
    HP_CALL(hp_malloc((m > n ? m : n) * sizeof(double), &o->rhs));
    if (form == LM_FORM_PARAMETER) HP_CALL(hp_malloc((n ? n : 1) * sizeof(size_t), &o->block_end));
    if (form == LM_FORM_PARAMETER && o->gram_single)
        HP_CALL(hp_malloc((n ? n * n : 1) * sizeof(float), &o->gram_single_work));
    o->m = m;
    o->k = k;
    o->form = form;
    return HP_OK;
}

static double half_squared_norm(const double *v, size_t m) {
    double s = 0.0;
    for (size_t i = 0; i < m; ++i) s += v[i] * v[i];
    return 0.5 * s;
}

static int all_finite(const double *v, size_t count) {
    for (size_t i = 0; i < count; ++i)
        if (!isfinite(v[i])) return 0;
    return 1;
}

/* Sums over residual rows spread over processes (hp_objective.sum_over_ranks). */
static hp_status rows_sum(const hp_objective *obj, double *buf, size_t count) {
    return obj->sum_over_ranks ? obj->sum_over_ranks(obj->ctx, buf, count) : HP_OK;
}

/* Row i of step t is in the Gram sample when this is below its p_i. */
static double sample_draw(uint64_t t, size_t i) { return hp_rng_hash_uniform(t << 32 ^ (uint64_t)i); }

/* The diagonal blocks of the (lower, column-major) Gram matrix: index j closes
 * a block when no column up to j has a nonzero below row j. With the coupling
 * off, the 2-D Gram matrix is block-diagonal, one block per direction, and each
 * block is factored alone: 1/d² of one Cholesky's flops for d directions. */
static void find_blocks(lm *o) {
    const size_t n = o->n;
    size_t reach = 0;
    o->n_blocks = 0;
    for (size_t j = 0; j < n; ++j) {
        const double *col = o->gram + j * n;
        size_t last = j;
        for (size_t i = n; i-- > j + 1;)
            if (col[i] != 0.0) {
                last = i;
                break;
            }
        if (last > reach) reach = last;
        if (reach <= j) o->block_end[o->n_blocks++] = j + 1;
    }
}

/* c of p_i = min(1, c w_i) with sum p_i = target (< count of w_i > 0): the
 * fixed point of c = (target - #clipped) / (sum of the unclipped w), whose
 * clipped set only grows, from c = target / sum w. */
static double sample_level(const double *w, size_t m, double target) {
    double c = 0.0, total = 0.0;
    for (size_t i = 0; i < m; ++i) total += w[i];
    if (!(total > 0.0)) return 0.0;
    c = target / total;
    for (;;) {
        double rest = 0.0;
        size_t clipped = 0;
        for (size_t i = 0; i < m; ++i) {
            if (c * w[i] >= 1.0) clipped++;
            else rest += w[i];
        }
        if (!(rest > 0.0) || (double)clipped >= target) return c;
        double next = (target - (double)clipped) / rest;
        if (!(next > c)) return c;
        c = next;
    }
}

/* Room for `rows` rows in the Gram rows' buffer (Jsingle or Jsample). */
static hp_status reserve_rows(lm *o, size_t rows) {
    if (rows <= o->sample_cap) return HP_OK;
    const size_t cap = rows + rows / 8 + 1, n = o->n ? o->n : 1;
    free(o->Jsample);
    free(o->Jsingle);
    o->Jsample = NULL;
    o->Jsingle = NULL;
    o->sample_cap = 0;
    if (o->gram_single) HP_CALL(hp_malloc(cap * n * sizeof(float), &o->Jsingle));
    else HP_CALL(hp_malloc(cap * n * sizeof(double), &o->Jsample));
    o->sample_cap = cap;
    return HP_OK;
}

/* Row i of J times scale as row `at` of the Gram rows' buffer. */
static void put_row(lm *o, size_t at, size_t i, double scale) {
    const size_t n = o->n;
    const double *src = o->J + i * n;
    if (o->gram_single)
        for (size_t j = 0; j < n; ++j) o->Jsingle[at * n + j] = (float)(scale * src[j]);
    else
        for (size_t j = 0; j < n; ++j) o->Jsample[at * n + j] = scale * src[j];
}

/* The rows the Gram matrix is formed from, in Jsample (double) or Jsingle
 * (gram_precision single), their count in *rows: when `sampled`, the sample,
 * each row scaled by 1/sqrt(p_i); else (single) every row. */
static hp_status gram_rows_copy(lm *o, int sampled, size_t *rows) {
    const size_t n = o->n, m = o->m;
    if (!sampled) {
        HP_CALL(reserve_rows(o, m));
        for (size_t i = 0; i < m; ++i) put_row(o, i, i, 1.0);
        *rows = m;
        return HP_OK;
    }
    double *w = o->r_trial; /* free until the first trial: the squared row norms, then p_i */
    for (size_t i = 0; i < m; ++i) w[i] = cblas_ddot((int)n, o->J + i * n, 1, o->J + i * n, 1);
    const double c = sample_level(w, m, o->gram_rows * (double)m);
    size_t kept = 0;
    for (size_t i = 0; i < m; ++i) {
        w[i] = fmin(1.0, c * w[i]);
        kept += sample_draw(o->iterations, i) < w[i];
    }
    HP_CALL(reserve_rows(o, kept));
    kept = 0;
    for (size_t i = 0; i < m; ++i)
        if (sample_draw(o->iterations, i) < w[i]) put_row(o, kept++, i, 1.0 / sqrt(w[i]));
    *rows = kept;
    return HP_OK;
}

/* gram = J'J (parameter form; when `approximate`, as gram_rows and
 * gram_precision say: the scaled sample's, in single precision) or Js Js'
 * (kernel form), lower triangle, column-major; D in o->d. */
static hp_status lm_prepare(lm *o, const hp_objective *obj, int approximate) {
    const size_t n = o->n, m = o->m;
    const int sampled = approximate && o->gram_rows < 1.0, single = approximate && o->gram_single;
    if (o->scaling == LM_SCALING_JACOBIAN) { /* squared column norms (o->d as their buffer), row by row */
        memset(o->d, 0, n * sizeof *o->d);   /* (each column's sum in the same order as column by column) */
        for (size_t i = 0; i < m; ++i) {
            const double *row = o->J + i * n;
            for (size_t j = 0; j < n; ++j) o->d[j] += row[j] * row[j];
        }
        HP_CALL(rows_sum(obj, o->d, n));
    }
    for (size_t j = 0; j < n; ++j) {
        if (o->scaling == LM_SCALING_JACOBIAN) {
            if (o->d[j] > o->dmax[j]) o->dmax[j] = o->d[j];
            o->d[j] = o->dmax[j] > 0.0 ? o->dmax[j] : 1.0;
        } else {
            o->d[j] = 1.0;
        }
    }
    /* The row-major m x n J is the column-major n x m matrix J'. */
    if (o->form == LM_FORM_PARAMETER) {
        size_t rows = m;
        if (sampled || single) HP_CALL(gram_rows_copy(o, sampled, &rows));
        /* hp_gram_lower skips the zero blocks of one network per direction */
        if (single) hp_gram_lower_single(o->Jsingle, rows, n, o->gram_single_work, o->gram, NULL);
        else hp_gram_lower(sampled ? o->Jsample : o->J, rows, n, o->gram, NULL);
        HP_CALL(rows_sum(obj, o->gram, n * n));
        find_blocks(o);
    } else {
        const double *Js = o->J;
        if (o->Js) {
            for (size_t i = 0; i < m; ++i)
                for (size_t j = 0; j < n; ++j) o->Js[i * n + j] = o->J[i * n + j] / sqrt(o->d[j]);
            Js = o->Js;
        }
        cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, (int)m, (int)n, 1.0, Js, (int)n, 0.0,
                    o->gram, (int)m);
    }
    return HP_OK;
}

/* Solve for delta at the current lambda. Returns nonzero when the damped matrix
 * is not numerically positive definite (the caller raises lambda). */
static int lm_solve(lm *o) {
    const size_t n = o->n, m = o->m, k = o->k;
    const lapack_int K = (lapack_int)k;
    memcpy(o->factor, o->gram, k * k * sizeof(double));
    for (size_t j = 0; j < k; ++j)
        o->factor[j * k + j] += o->lambda * (o->form == LM_FORM_PARAMETER ? o->d[j] : 1.0);
    if (o->form == LM_FORM_PARAMETER) {
        for (size_t j = 0; j < n; ++j) o->rhs[j] = -o->g[j];
        for (size_t b = 0, start = 0; b < o->n_blocks; start = o->block_end[b++]) {
            const lapack_int S = (lapack_int)(o->block_end[b] - start);
            double *block = o->factor + start * k + start;
            if (LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', S, block, K) != 0) return 1;
            if (LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'L', S, 1, block, K, o->rhs + start, S) != 0) return 1;
        }
        memcpy(o->delta, o->rhs, n * sizeof(double));
    } else {
        if (LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', K, o->factor, K) != 0) return 1;
        for (size_t i = 0; i < m; ++i) o->rhs[i] = -o->r[i];
        if (LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'L', K, 1, o->factor, K, o->rhs, K) != 0)
            return 1;
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)m, (int)n, 1.0, o->Js ? o->Js : o->J,
                    (int)n, o->rhs, 1, 0.0, o->delta, 1);
        if (o->Js)
            for (size_t j = 0; j < n; ++j) o->delta[j] /= sqrt(o->d[j]);
    }
    return !all_finite(o->delta, n);
}

static hp_status lm_step(void *state, double *theta, const hp_objective *obj,
                         hp_opt_step_info *info) {
    lm *o = state;
    const size_t n = o->n;
    hp_opt_info_init(info);
    info->damping = o->lambda;
    if (obj->n != n)
        HP_ERROR(HP_ERR_INTERNAL, "lm: objective has %zu parameters, optimizer was created "
                 "for %zu", obj->n, n);
    if (!obj->residuals_and_jacobian || obj->m == 0)
        HP_ERROR(HP_ERR_CONFIG, "optimizer 'lm' needs residuals and their Jacobian, which this "
                 "objective does not provide; use adam or lbfgs");
    const size_t m = obj->m;
    HP_CALL(lm_workspace(o, m, obj->sum_over_ranks != NULL));

    HP_CALL(obj->residuals_and_jacobian(obj->ctx, theta, o->r, o->J));
    info->evaluations = 1;
    double sums[2] = {half_squared_norm(o->r, m), all_finite(o->J, m * n) ? 0.0 : 1.0}; /* L, non-finite J */
    HP_CALL(rows_sum(obj, sums, 2));
    const double L = sums[0];
    info->value = L;
    if (!isfinite(L) || sums[1] != 0.0) {
        hp_opt_info_stop(info, HP_OPT_NON_FINITE,
                         "lm: %s not finite at the current parameters (L = %g) after %llu "
                         "iterations", isfinite(L) ? "Jacobian" : "residuals", L,
                         (unsigned long long)o->iterations);
        return HP_OK;
    }
    if (n) cblas_dgemv(CblasRowMajor, CblasTrans, (int)m, (int)n, 1.0, o->J, (int)n, o->r, 1,
                       0.0, o->g, 1);
    HP_CALL(rows_sum(obj, o->g, n));
    double gnorm = n ? cblas_dnrm2((int)n, o->g, 1) : 0.0;
    info->grad_norm = gnorm;
    if (!isfinite(gnorm)) {
        hp_opt_info_stop(info, HP_OPT_NON_FINITE,
                         "lm: gradient J'r overflows at the current parameters (L = %g) after "
                         "%llu iterations", L, (unsigned long long)o->iterations);
        return HP_OK;
    }
    if (gnorm <= o->gtol) {
        hp_opt_info_stop(info, HP_OPT_CONVERGED_GRADIENT,
                         "lm: ||J'r|| = %.3e <= gtol = %.3e after %llu iterations (L = %.6e)",
                         gnorm, o->gtol, (unsigned long long)o->iterations, L);
        return HP_OK;
    }
    int approximate = (o->gram_rows < 1.0 || o->gram_single) && o->form == LM_FORM_PARAMETER;
    HP_CALL(lm_prepare(o, obj, approximate));

    size_t trials = 0, indefinite = 0;
    double last_rho = NAN, lambda_start = o->lambda;
    for (;;) {
        if (approximate && (o->lambda > o->lambda_max || trials >= o->max_evals)) {
            approximate = 0; /* this step goes on with the exact Gram matrix */
            HP_CALL(lm_prepare(o, obj, 0));
            /* the sampled steps before may have raised the damping far above what the exact model needs */
            o->lambda = fmax(o->lambda_min, fmin(lambda_start, o->lambda0));
            trials = 0;
        }
        if (o->lambda > o->lambda_max) {
            hp_opt_info_stop(info, HP_OPT_DAMPING_LIMIT,
                             "lm: damping %.3e exceeds lambda_max = %.3e without an acceptable "
                             "step (%zu trials, last gain ratio %.3g; %zu damped systems not "
                             "numerically positive definite; ||J'r|| = %.3e, L = %.6e); "
                             "parameters unchanged", o->lambda, o->lambda_max, trials,
                             last_rho, indefinite, gnorm, L);
            info->damping = o->lambda;
            return HP_OK;
        }
        if (trials >= o->max_evals) {
            hp_opt_info_stop(info, HP_OPT_MAX_EVALUATIONS,
                             "lm: %zu trials (max_evals) without an acceptable step (damping "
                             "%.3e, last gain ratio %.3g, L = %.6e); parameters unchanged",
                             trials, o->lambda, last_rho, L);
            info->damping = o->lambda;
            return HP_OK;
        }
        if (lm_solve(o)) {
            indefinite++;
            o->lambda *= o->increase; /* not positive definite at this damping */
            continue;
        }
        double dDd = 0.0, gd = 0.0;
        for (size_t j = 0; j < n; ++j) {
            dDd += o->d[j] * o->delta[j] * o->delta[j];
            gd += o->g[j] * o->delta[j];
            o->theta_trial[j] = theta[j] + o->delta[j];
        }
        const double predicted = 0.5 * (o->lambda * dDd - gd);
        HP_CALL(obj->residuals_and_jacobian(obj->ctx, o->theta_trial, o->r_trial, NULL));
        trials++;
        info->evaluations++;
        double L_trial = half_squared_norm(o->r_trial, m);
        HP_CALL(rows_sum(obj, &L_trial, 1));
        const double actual = L - L_trial;
        const double rho = (isfinite(L_trial) && predicted > 0.0) ? actual / predicted : -INFINITY;
        last_rho = rho;
        if (!(rho > LM_RHO_ACCEPT)) {
            o->lambda *= o->increase;
            continue;
        }
        /* accepted */
        if (rho > LM_RHO_HIGH)
            o->lambda = fmax(o->lambda * o->decrease, o->lambda_min);
        else if (rho < LM_RHO_LOW)
            o->lambda *= o->increase;
        const double step_norm = cblas_dnrm2((int)n, o->delta, 1);
        memcpy(theta, o->theta_trial, n * sizeof(double));
        o->iterations++;
        info->value = L_trial;
        info->grad_norm = NAN; /* J at the new point is not known yet */
        info->step_norm = step_norm;
        info->damping = o->lambda;
        const double theta_norm = cblas_dnrm2((int)n, theta, 1);
        if (step_norm <= o->xtol * fmax(1.0, theta_norm))
            hp_opt_info_stop(info, HP_OPT_CONVERGED_STEP,
                             "lm: step ||delta|| = %.3e <= xtol max(1, ||theta||) = %.3e after "
                             "%llu iterations (L = %.6e)", step_norm,
                             o->xtol * fmax(1.0, theta_norm), (unsigned long long)o->iterations,
                             L_trial);
        else if (actual <= o->ftol * L)
            hp_opt_info_stop(info, HP_OPT_CONVERGED_VALUE,
                             "lm: decrease of L %.3e <= ftol L = %.3e after %llu iterations "
                             "(L = %.6e)", actual, o->ftol * L,
                             (unsigned long long)o->iterations, L_trial);
        return HP_OK;
    }
}

/* payload: u64 iterations | lambda | dmax (n) */
static size_t lm_payload(const lm *o) {
    return sizeof(uint64_t) + (1 + o->n) * sizeof(double);
}

static size_t lm_state_size(const void *state) { return hp_opt_state_bytes(lm_payload(state)); }

static hp_status lm_save(const void *state, void *buf) {
    const lm *o = state;
    hp_opt_state_writer w;
    hp_opt_state_write_begin(&w, buf, "lm", LM_STATE_VERSION, o->n, lm_payload(o));
    hp_opt_state_put_u64(&w, o->iterations);
    hp_opt_state_put_f64s(&w, &o->lambda, 1);
    hp_opt_state_put_f64s(&w, o->dmax, o->n);
    HP_CALL(hp_opt_state_write_end(&w));
    return HP_OK;
}

static hp_status lm_load(void *state, const void *buf, size_t size) {
    lm *o = state;
    hp_opt_state_reader r;
    uint64_t iterations;
    double lambda;
    HP_CALL(hp_opt_state_read_begin(&r, buf, size, "lm", LM_STATE_VERSION, o->n, lm_payload(o)));
    HP_CALL(hp_opt_state_get_u64(&r, &iterations));
    HP_CALL(hp_opt_state_get_f64s(&r, &lambda, 1));
    if (!(lambda > 0.0) || !isfinite(lambda))
        HP_ERROR(HP_ERR_CORRUPT, "lm optimizer state: damping %g is not a positive number",
                 lambda);
    o->iterations = iterations;
    o->lambda = lambda;
    HP_CALL(hp_opt_state_get_f64s(&r, o->dmax, o->n));
    return HP_OK;
}

/* The dense Jacobian (twice with Jacobian scaling in the kernel form), the Gram
 * matrix and its factor in the smaller space, the copy of the Gram rows
 * (gram_rows < 1 or single precision; 1/8 slack), and a few vectors. */
static double lm_memory_bytes(const hp_params *params, size_t n, size_t m) {
    int form = hp_params_enum_index(params, "form");
    const double f = hp_params_real(params, "gram_rows");
    const int single = hp_params_enum_index(params, "gram_precision") == LM_GRAM_SINGLE;
    if (form == LM_FORM_AUTO) form = n <= m || f < 1.0 || single ? LM_FORM_PARAMETER : LM_FORM_KERNEL;
    double dn = (double)n, dm = (double)m, k = form == LM_FORM_PARAMETER ? dn : dm;
    double jac = dm * dn * (form == LM_FORM_KERNEL && hp_params_enum_index(params, "scaling") == LM_SCALING_JACOBIAN ? 2 : 1);
    double copy = 0.0;
    if (form == LM_FORM_PARAMETER && (f < 1.0 || single))
        copy = 1.125 * f * dm * dn * (single ? 0.5 : 1.0) + (single ? 0.5 * dn * dn : 0.0);
    return 8.0 * (jac + 2.0 * k * k + copy + 3.0 * dm + 6.0 * dn);
}

/* One Jacobian, the Gram matrix and a Cholesky factorization per trial (usually
 * one or two trials per step), in the space of size k the form solves in. The
 * parameter form's Gram matrix is formed on each row's nonzero columns
 * (hp_gram_lower): n² / blocks² per block row, n² per shared row, times the
 * sampled share; it is factored in blocks when no row is shared (find_blocks),
 * else whole. The kernel form's SYRK and Cholesky are dense. */
static void lm_step_cost(const hp_params *params, const hp_opt_shape *shape, hp_opt_step_cost *cost) {
    const size_t n = shape->n, m = shape->m;
    int form = hp_params_enum_index(params, "form");
    int kernel = form == LM_FORM_KERNEL || (form == LM_FORM_AUTO && m < n && hp_params_real(params, "gram_rows") >= 1.0 &&
                                            hp_params_enum_index(params, "gram_precision") == LM_GRAM_DOUBLE);
    const double trials = 1.5, dn = (double)n, dm = (double)m;
    cost->jacobians = 1.0;
    cost->values = trials;
    if (kernel) {
        cost->flops = dn * dm * dm + trials * dm * dm * dm / 3.0;
        return;
    }
    const double b = shape->blocks > 1 ? (double)shape->blocks : 1.0;
    const double shared = (double)(shape->shared_rows < m ? shape->shared_rows : m);
    double sampled = hp_params_real(params, "gram_rows");
    if (hp_params_enum_index(params, "gram_precision") == LM_GRAM_SINGLE) sampled *= 0.5; /* SSYRK */
    const double gram = sampled * ((dm - shared) * dn * dn / (b * b) + shared * dn * dn);
    const double factor = shared > 0.0 ? dn * dn * dn / 3.0 : dn * dn * dn / (3.0 * b * b);
    cost->flops = gram + trials * factor;
}

static const hp_optimizer_ops lm_ops = {
    .struct_size = sizeof(hp_optimizer_ops),
    .create = lm_create,
    .destroy = lm_destroy,
    .step = lm_step,
    .state_size = lm_state_size,
    .save = lm_save,
    .load = lm_load,
    .memory_bytes = lm_memory_bytes,
    .step_cost = lm_step_cost,
};

HP_PLUGIN_DEFINE(HP_PLUGIN_OPTIMIZER, "lm", "1.2.0",
                 "Levenberg-Marquardt: gain-ratio damping, parameter or kernel normal equations",
                 lm_params, &lm_ops)
