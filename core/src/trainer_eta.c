/* trainer_eta.c — the remaining time of a run, stage by stage (the rule is in
 * trainer_eta.h): measured times per step, the optimizers' cost hints in
 * measured seconds, and the objective wrapper that measures them. */
#include "trainer_eta.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "fileio.h"

enum { K_VALUE, K_GRADIENT, K_JACOBIAN, K_PRODUCT, K_COUNT };

struct hp__eta {
    hp_objective inner;
    size_t n_stages;
    hp__eta_stage *stages;
    double *seconds;      /* per stage, this session */
    double *first;        /* the first step's part of it (workspaces, first factorizations) */
    uint64_t *steps;
    double mark;          /* when the last step (or the stage) began */
    double kind_seconds[K_COUNT];
    unsigned long long kind_calls[K_COUNT];
    double warm_seconds[K_COUNT];         /* the calls inside stages' first steps */
    unsigned long long warm_calls[K_COUNT];
    int probe_failed[K_COUNT];
    double flop_rate;     /* flops per second; 0: not measured yet */
    size_t current;       /* the stage running (n_stages: none yet) */
    double (*clock)(void *ctx); /* seconds; hp__now_seconds unless a test sets one */
    void *clock_ctx;
};

static double clock_now(const hp__eta *e) {
    return e->clock ? e->clock(e->clock_ctx) : hp__now_seconds();
}

/* A call inside a stage's first step is not timed into its kind (add): like
 * the step, it allocates and touches what later calls reuse; it is kept apart
 * as a warm-up call. A probe's is timed. */
static void add_probe(hp__eta *e, int kind, double t0) {
    e->kind_seconds[kind] += clock_now(e) - t0;
    e->kind_calls[kind]++;
}

static void add(hp__eta *e, int kind, double t0) {
    if (e->current < e->n_stages && !e->steps[e->current]) {
        e->warm_seconds[kind] += clock_now(e) - t0;
        e->warm_calls[kind]++;
        return;
    }
    add_probe(e, kind, t0);
}

static hp_status timed_value_and_gradient(void *ctx, const double *theta, double *value, double *grad) {
    hp__eta *e = ctx;
    double t0 = clock_now(e);
    hp_status st = e->inner.value_and_gradient(e->inner.ctx, theta, value, grad);
    add(e, grad ? K_GRADIENT : K_VALUE, t0);
    return st;
}

static hp_status timed_residuals(void *ctx, const double *theta, double *r, double *J) {
    hp__eta *e = ctx;
    double t0 = clock_now(e);
    hp_status st = e->inner.residuals_and_jacobian(e->inner.ctx, theta, r, J);
    add(e, J ? K_JACOBIAN : K_VALUE, t0);
    return st;
}

static hp_status timed_linearize(void *ctx, const double *theta, double *r) {
    hp__eta *e = ctx;
    double t0 = clock_now(e);
    hp_status st = e->inner.linearize(e->inner.ctx, theta, r);
    add(e, K_PRODUCT, t0);
    return st;
}

static hp_status timed_jvp(void *ctx, const double *theta, const double *v, double *Jv) {
    hp__eta *e = ctx;
    double t0 = clock_now(e);
    hp_status st = e->inner.jvp(e->inner.ctx, theta, v, Jv);
    add(e, K_PRODUCT, t0);
    return st;
}

static hp_status timed_vjp(void *ctx, const double *theta, const double *u, double *JTu) {
    hp__eta *e = ctx;
    double t0 = clock_now(e);
    hp_status st = e->inner.vjp(e->inner.ctx, theta, u, JTu);
    add(e, K_PRODUCT, t0);
    return st;
}

hp_status hp__eta_create(size_t n_stages, const hp__eta_stage *stages, const hp_objective *inner, hp__eta **out) {
    *out = NULL;
    hp__eta *e;
    HP_CALL(hp_calloc(1, sizeof *e, &e));
    e->inner = *inner;
    e->n_stages = n_stages;
    hp_status st = hp_calloc(n_stages ? n_stages : 1, sizeof *e->stages, &e->stages);
    if (st == HP_OK) st = hp_calloc(n_stages ? n_stages : 1, sizeof *e->seconds, &e->seconds);
    if (st == HP_OK) st = hp_calloc(n_stages ? n_stages : 1, sizeof *e->first, &e->first);
    if (st == HP_OK) st = hp_calloc(n_stages ? n_stages : 1, sizeof *e->steps, &e->steps);
    if (st != HP_OK) {
        hp__eta_destroy(e);
        return st;
    }
    memcpy(e->stages, stages, n_stages * sizeof *stages);
    e->current = n_stages;
    e->mark = clock_now(e);
    *out = e;
    return HP_OK;
}

void hp__eta_set_clock(hp__eta *e, double (*clock)(void *ctx), void *ctx) {
    e->clock = clock;
    e->clock_ctx = ctx;
    e->mark = clock_now(e);
}

void hp__eta_destroy(hp__eta *e) {
    if (!e) return;
    free(e->stages);
    free(e->seconds);
    free(e->first);
    free(e->steps);
    free(e);
}

hp_objective hp__eta_objective(hp__eta *e) {
    hp_objective o = e->inner;
    o.ctx = e;
    o.value_and_gradient = e->inner.value_and_gradient ? timed_value_and_gradient : NULL;
    o.residuals_and_jacobian = e->inner.residuals_and_jacobian ? timed_residuals : NULL;
    int mf = e->inner.linearize && e->inner.jvp && e->inner.vjp;
    o.linearize = mf ? timed_linearize : NULL;
    o.jvp = mf ? timed_jvp : NULL;
    o.vjp = mf ? timed_vjp : NULL;
    return o;
}

void hp__eta_stage_begin(hp__eta *e, size_t stage) {
    e->current = stage;
    e->mark = clock_now(e);
}

void hp__eta_step(hp__eta *e, size_t stage) {
    double now = clock_now(e);
    if (stage < e->n_stages) {
        if (!e->steps[stage]) e->first[stage] = now - e->mark;
        e->seconds[stage] += now - e->mark;
        e->steps[stage]++;
    }
    e->mark = now;
}

/* One evaluation of `kind` at θ, timed into the tables (rule 3's probe). */
static void probe(hp__eta *e, int kind, const double *theta) {
    const hp_objective *o = &e->inner;
    size_t n = o->n, m = o->m;
    double *a = NULL, *b = NULL, v;
    hp_status st = HP_ERR_NOT_FOUND;
    double t0 = clock_now(e);
    if (kind == K_VALUE && o->value_and_gradient) {
        st = o->value_and_gradient(o->ctx, theta, &v, NULL);
        if (st == HP_OK) add_probe(e, K_VALUE, t0);
    } else if (kind == K_GRADIENT && o->value_and_gradient && hp_calloc(n ? n : 1, sizeof *a, &a) == HP_OK) {
        st = o->value_and_gradient(o->ctx, theta, &v, a);
        if (st == HP_OK) add_probe(e, K_GRADIENT, t0);
    } else if (kind == K_JACOBIAN && o->residuals_and_jacobian && m && hp_calloc(m, sizeof *a, &a) == HP_OK &&
               hp_calloc(m * (n ? n : 1), sizeof *b, &b) == HP_OK) {
        st = o->residuals_and_jacobian(o->ctx, theta, a, b); /* touches b and the workspaces */
        t0 = clock_now(e);
        if (st == HP_OK) st = o->residuals_and_jacobian(o->ctx, theta, a, b);
        if (st == HP_OK) add_probe(e, K_JACOBIAN, t0);
    } else if (kind == K_PRODUCT && o->linearize && o->jvp && o->vjp && m &&
               hp_calloc(m > n ? m : n, sizeof *a, &a) == HP_OK && hp_calloc(m > n ? m : n, sizeof *b, &b) == HP_OK) {
        for (size_t i = 0; i < n; i++) a[i] = 1.0 / (double)(i + 1);
        t0 = clock_now(e);
        st = o->linearize(o->ctx, theta, b);
        if (st == HP_OK) st = o->jvp(o->ctx, theta, a, b);
        if (st == HP_OK) {
            e->kind_seconds[K_PRODUCT] += (clock_now(e) - t0) / 2.0; /* linearize + J v: two products' worth */
            e->kind_calls[K_PRODUCT]++;
        }
    }
    free(a);
    free(b);
    if (st != HP_OK) {
        hp_error_clear(); /* an estimate is not worth failing the run: without it, rule 4 */
        e->probe_failed[kind] = 1;
    }
}

/* A kind's mean time. A Jacobian called only inside first steps is not probed
 * but priced at those calls' mean (an upper bound): the probe allocates an
 * m x n matrix of its own, and the optimizer that called it holds one already
 * (resumed into a 2-D LM stage: 2 x 10 GB, which a 24 GB machine does not have). */
static double kind_seconds(hp__eta *e, int kind, const double *theta) {
    if (!e->kind_calls[kind] && kind == K_JACOBIAN && e->warm_calls[kind])
        return e->warm_seconds[kind] / (double)e->warm_calls[kind];
    if (!e->kind_calls[kind] && !e->probe_failed[kind] && theta) {
        double t0 = clock_now(e);
        probe(e, kind, theta);
        e->mark += clock_now(e) - t0; /* the probe is no step's time */
    }
    return e->kind_calls[kind] ? e->kind_seconds[kind] / (double)e->kind_calls[kind] : NAN;
}

/* Flops per second of one 384 x 384 x 384 GEMM (the best of two). */
static double flop_rate(hp__eta *e) {
    if (e->flop_rate > 0.0) return e->flop_rate;
    const int k = 384;
    double *a = malloc((size_t)k * k * sizeof *a), *c = malloc((size_t)k * k * sizeof *c);
    if (!a || !c) {
        free(a);
        free(c);
        return NAN;
    }
    for (int i = 0; i < k * k; i++) a[i] = 1.0 / (double)(1 + i % 97);
    double best = INFINITY, t0 = clock_now(e);
    for (int rep = 0; rep < 2; rep++) {
        double t = clock_now(e);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, k, k, 1.0, a, k, a, k, 0.0, c, k);
        t = clock_now(e) - t;
        if (t < best) best = t;
    }
    e->mark += clock_now(e) - t0;
    free(a);
    free(c);
    e->flop_rate = best > 0.0 ? 2.0 * k * (double)k * k / best : NAN;
    return e->flop_rate;
}

/* Rule 3: the hint in seconds, or NAN. */
static double hinted(hp__eta *e, const hp__eta_stage *s, const double *theta) {
    if (!s->ops || !HP_OP_PRESENT(s->ops, step_cost)) return NAN;
    hp_opt_step_cost c;
    memset(&c, 0, sizeof c);
    const hp_opt_shape shape = {e->inner.n, e->inner.m, s->blocks ? s->blocks : 1, s->shared_rows};
    s->ops->step_cost(s->params, &shape, &c);
    const double counts[K_COUNT] = {c.values, c.gradients, c.jacobians, c.products};
    double t = 0.0;
    for (int k = 0; k < K_COUNT; k++) {
        if (counts[k] <= 0.0) continue;
        double per = kind_seconds(e, k, theta);
        if (!isfinite(per)) return NAN;
        t += counts[k] * per;
    }
    if (c.flops > 0.0) {
        double rate = flop_rate(e);
        if (!(rate > 0.0)) return NAN;
        t += c.flops / rate;
    }
    return t;
}

/* A stage's measured time per step without its first step (which allocates
 * the workspaces and, for an LM stage, touches a Jacobian of many megabytes:
 * several times a later step); a stage with one step: that step. */
static double measured(const hp__eta *e, size_t s) {
    if (e->steps[s] >= 2) return (e->seconds[s] - e->first[s]) / (double)(e->steps[s] - 1);
    return e->seconds[s] / (double)e->steps[s];
}

/* Stage s itself, or else the latest earlier stage of its plugin, with at
 * least `steps` steps: its index, or n_stages. */
static size_t measured_like(const hp__eta *e, size_t s, uint64_t steps) {
    if (e->steps[s] >= steps) return s;
    for (size_t k = s; k-- > 0;)
        if (e->steps[k] >= steps && strcmp(e->stages[k].optimizer, e->stages[s].optimizer) == 0) return k;
    return e->n_stages;
}

static double per_step(hp__eta *e, size_t s, const double *theta, int *estimated) {
    size_t k = measured_like(e, s, 2);
    if (k == s) return measured(e, s);
    if (k < e->n_stages) {
        /* an earlier stage of the plugin, scaled by the two stages' hints where
         * both have one (a coupled LM stage and an uncoupled one differ by their
         * Jacobian's structure; the same settings give a ratio of 1) */
        double here = hinted(e, &e->stages[s], theta), there = hinted(e, &e->stages[k], theta);
        double scale = isfinite(here) && isfinite(there) && there > 0.0 ? here / there : 1.0;
        return measured(e, k) * scale;
    }
    *estimated = 1;
    double t = hinted(e, &e->stages[s], theta);
    if (isfinite(t)) return t;
    if ((k = measured_like(e, s, 1)) < e->n_stages) return measured(e, k); /* a first step only */
    double seconds = 0.0;
    uint64_t steps = 0;
    for (size_t i = 0; i < e->n_stages; i++) {
        seconds += e->seconds[i];
        steps += e->steps[i];
    }
    return steps ? seconds / (double)steps : NAN;
}

/* Rule 5: what the first step of stage s, not begun in this session, costs
 * beyond a later one: the excess of the first step of the stage rule 2 takes
 * the rate from (an LM stage's first step allocates and first touches its
 * Jacobian: at 256² in 2-D 15-25 s, against 10 s for a later step); 0 without
 * such a stage. */
static double first_step_excess(const hp__eta *e, size_t s) {
    if (e->steps[s]) return 0.0;
    size_t k = measured_like(e, s, 2);
    if (k >= e->n_stages) return 0.0;
    return fmax(0.0, e->first[k] - measured(e, k));
}

double hp__eta_remaining(hp__eta *e, size_t stage, uint64_t done, const double *theta, int *estimated) {
    *estimated = 0;
    double total = 0.0;
    for (size_t s = stage; s < e->n_stages; s++) {
        uint64_t planned = e->stages[s].iterations, taken = s == stage ? done : 0;
        if (planned <= taken) continue;
        double per = per_step(e, s, theta, estimated);
        if (!isfinite(per)) return NAN;
        total += per * (double)(planned - taken) + first_step_excess(e, s);
    }
    return total;
}
