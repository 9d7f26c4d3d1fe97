/* more_thuente.c — Moré–Thuente line search: a transcription of MINPACK-2's
 * dcsrch (driver) and dcstep (safeguarded cubic/quadratic step), plus the barrier
 * for non-finite values described in more_thuente.h.
 *
 * Variable names follow the paper and MINPACK-2 so the code can be checked
 * against them line by line: stx is the best step so far (lowest modified
 * function value), sty the other end of the interval of uncertainty, brackt
 * whether a minimiser is bracketed, stage 1 uses the modified function
 * psi(stp) = phi(stp) - phi(0) - c1 stp phi'(0) until a step with psi <= 0 and
 * phi' >= 0 is found. */
#include "more_thuente.h"

#include <math.h>

#define XTRAPL 1.1
#define XTRAPU 4.0

static double max3(double a, double b, double c) {
    double m = a > b ? a : b;
    return m > c ? m : c;
}

/* dcstep: compute a safeguarded step for the interval [stx, sty] and the trial
 * stp, and update the interval. */
static void more_thuente_step(double *stx, double *fx, double *dx, double *sty, double *fy,
                              double *dy, double *stp, double fp, double dp, int *brackt,
                              double stpmin, double stpmax) {
    double sgnd = dp * (*dx / fabs(*dx));
    double stpf, stpc, stpq, theta, s, gamma, p, q, r;

    if (fp > *fx) {
        /* Case 1: higher function value. The minimum is bracketed. Take the cubic
         * step if closer to stx, else the average of cubic and quadratic. */
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = max3(fabs(theta), fabs(*dx), fabs(dp));
        gamma = s * sqrt((theta / s) * (theta / s) - (*dx / s) * (dp / s));
        if (*stp < *stx) gamma = -gamma;
        p = (gamma - *dx) + theta;
        q = ((gamma - *dx) + gamma) + dp;
        r = p / q;
        stpc = *stx + r * (*stp - *stx);
        stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
        if (fabs(stpc - *stx) < fabs(stpq - *stx))
            stpf = stpc;
        else
            stpf = stpc + (stpq - stpc) / 2.0;
        *brackt = 1;
    } else if (sgnd < 0.0) {
        /* Case 2: lower value, derivatives of opposite sign: bracketed. Take the
         * step farther from stp among cubic and secant. */
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = max3(fabs(theta), fabs(*dx), fabs(dp));
        gamma = s * sqrt((theta / s) * (theta / s) - (*dx / s) * (dp / s));
        if (*stp > *stx) gamma = -gamma;
        p = (gamma - dp) + theta;
        q = ((gamma - dp) + gamma) + *dx;
        r = p / q;
        stpc = *stp + r * (*stx - *stp);
        stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if (fabs(stpc - *stp) > fabs(stpq - *stp))
            stpf = stpc;
        else
            stpf = stpq;
        *brackt = 1;
    } else if (fabs(dp) < fabs(*dx)) {
        /* Case 3: lower value, same-sign derivative decreasing in magnitude. The
         * cubic may not have a minimiser in the direction of the step. */
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = max3(fabs(theta), fabs(*dx), fabs(dp));
        double disc = (theta / s) * (theta / s) - (*dx / s) * (dp / s);
        gamma = s * sqrt(disc > 0.0 ? disc : 0.0);
        if (*stp > *stx) gamma = -gamma;
        p = (gamma - dp) + theta;
        q = (gamma + (*dx - dp)) + gamma;
        r = p / q;
        if (r < 0.0 && gamma != 0.0)
            stpc = *stp + r * (*stx - *stp);
        else if (*stp > *stx)
            stpc = stpmax;
        else
            stpc = stpmin;
        stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if (*brackt) {
            /* A minimiser has been bracketed: take the step closer to stp, but not
             * too close to the far end. */
            stpf = fabs(stpc - *stp) < fabs(stpq - *stp) ? stpc : stpq;
            if (*stp > *stx)
                stpf = fmin(*stp + 0.66 * (*sty - *stp), stpf);
            else
                stpf = fmax(*stp + 0.66 * (*sty - *stp), stpf);
        } else {
            stpf = fabs(stpc - *stp) > fabs(stpq - *stp) ? stpc : stpq;
            stpf = fmin(stpmax, stpf);
            stpf = fmax(stpmin, stpf);
        }
    } else {
        /* Case 4: lower value, same-sign derivative not decreasing: the minimiser
         * is beyond stp (or at the bracket's cubic step). */
        if (*brackt) {
            theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
            s = max3(fabs(theta), fabs(*dy), fabs(dp));
            gamma = s * sqrt((theta / s) * (theta / s) - (*dy / s) * (dp / s));
            if (*stp > *sty) gamma = -gamma;
            p = (gamma - dp) + theta;
            q = ((gamma - dp) + gamma) + *dy;
            r = p / q;
            stpc = *stp + r * (*sty - *stp);
            stpf = stpc;
        } else if (*stp > *stx) {
            stpf = stpmax;
        } else {
            stpf = stpmin;
        }
    }

    /* Update the interval which contains a minimiser. */
    if (fp > *fx) {
        *sty = *stp;
        *fy = fp;
        *dy = dp;
    } else {
        if (sgnd < 0.0) {
            *sty = *stx;
            *fy = *fx;
            *dy = *dx;
        }
        *stx = *stp;
        *fx = fp;
        *dx = dp;
    }
    *stp = stpf;
}

more_thuente_task more_thuente_start(more_thuente *ls, double c1, double c2, double xtol,
                                     double stpmin, double stpmax, double f0, double g0,
                                     double *stp) {
    if (!(g0 < 0.0) || !isfinite(f0) || !(c1 > 0.0) || !(c2 > c1) || !(c2 < 1.0) ||
        !(xtol >= 0.0) || !(stpmin >= 0.0) || !(stpmax > stpmin) || !(*stp > 0.0))
        return MORE_THUENTE_BAD_INPUT;
    if (*stp < stpmin) *stp = stpmin;
    if (*stp > stpmax) *stp = stpmax;
    ls->c1 = c1;
    ls->c2 = c2;
    ls->xtol = xtol;
    ls->stpmin = stpmin;
    ls->stpmax = stpmax;
    ls->brackt = 0;
    ls->stage = 1;
    ls->finit = f0;
    ls->ginit = g0;
    ls->gtest = c1 * g0;
    ls->width = stpmax - stpmin;
    ls->width1 = 2.0 * ls->width;
    ls->stx = 0.0;
    ls->fx = f0;
    ls->gx = g0;
    ls->sty = 0.0;
    ls->fy = f0;
    ls->gy = g0;
    ls->stmin = 0.0;
    ls->stmax = *stp + XTRAPU * *stp;
    ls->barrier = INFINITY;
    return MORE_THUENTE_EVALUATE;
}

/* Next trial after a non-finite value at *stp: halfway back towards stx. */
static more_thuente_task more_thuente_retreat(more_thuente *ls, double *stp) {
    if (*stp < ls->barrier) ls->barrier = *stp;
    double next = ls->stx + 0.5 * (ls->barrier - ls->stx);
    if (next == ls->stx || next == ls->barrier || next < ls->stpmin)
        return MORE_THUENTE_NON_FINITE;
    *stp = next;
    return MORE_THUENTE_EVALUATE;
}

more_thuente_task more_thuente_next(more_thuente *ls, double f, double g, double *stp) {
    if (!isfinite(f) || !isfinite(g)) return more_thuente_retreat(ls, stp);

    more_thuente_task task = MORE_THUENTE_EVALUATE;
    const double ftest = ls->finit + *stp * ls->gtest;
    if (ls->stage == 1 && f <= ftest && g >= 0.0) ls->stage = 2;

    if (ls->brackt && (*stp <= ls->stmin || *stp >= ls->stmax)) task = MORE_THUENTE_ROUNDING;
    if (ls->brackt && ls->stmax - ls->stmin <= ls->xtol * ls->stmax) task = MORE_THUENTE_INTERVAL;
    if (*stp == ls->stpmax && f <= ftest && g <= ls->gtest) task = MORE_THUENTE_AT_MAX;
    if (*stp == ls->stpmin && (f > ftest || g >= ls->gtest)) task = MORE_THUENTE_AT_MIN;
    if (f <= ftest && fabs(g) <= ls->c2 * (-ls->ginit)) task = MORE_THUENTE_CONVERGED;
    if (task != MORE_THUENTE_EVALUATE) return task;

    if (ls->stage == 1 && f <= ls->fx && f > ftest) {
        /* Stage 1 on the modified function psi, whose minimiser is still a point of
         * sufficient decrease. */
        double fm = f - *stp * ls->gtest;
        double fxm = ls->fx - ls->stx * ls->gtest, fym = ls->fy - ls->sty * ls->gtest;
        double gm = g - ls->gtest, gxm = ls->gx - ls->gtest, gym = ls->gy - ls->gtest;
        more_thuente_step(&ls->stx, &fxm, &gxm, &ls->sty, &fym, &gym, stp, fm, gm,
                          &ls->brackt, ls->stmin, ls->stmax);
        ls->fx = fxm + ls->stx * ls->gtest;
        ls->fy = fym + ls->sty * ls->gtest;
        ls->gx = gxm + ls->gtest;
        ls->gy = gym + ls->gtest;
    } else {
        more_thuente_step(&ls->stx, &ls->fx, &ls->gx, &ls->sty, &ls->fy, &ls->gy, stp, f, g,
                          &ls->brackt, ls->stmin, ls->stmax);
    }

    /* Force a sufficient decrease in the size of the interval of uncertainty. */
    if (ls->brackt) {
        if (fabs(ls->sty - ls->stx) >= 0.66 * ls->width1)
            *stp = ls->stx + 0.5 * (ls->sty - ls->stx);
        ls->width1 = ls->width;
        ls->width = fabs(ls->sty - ls->stx);
    }
    if (ls->brackt) {
        ls->stmin = fmin(ls->stx, ls->sty);
        ls->stmax = fmax(ls->stx, ls->sty);
    } else {
        ls->stmin = *stp + XTRAPL * (*stp - ls->stx);
        ls->stmax = *stp + XTRAPU * (*stp - ls->stx);
    }
    *stp = fmax(*stp, ls->stpmin);
    *stp = fmin(*stp, ls->stpmax);
    /* If further progress is not possible, let stp be the best point so far. */
    if ((ls->brackt && (*stp <= ls->stmin || *stp >= ls->stmax)) ||
        (ls->brackt && ls->stmax - ls->stmin <= ls->xtol * ls->stmax))
        *stp = ls->stx;
    /* Never step onto or past a known non-finite point. */
    if (*stp >= ls->barrier) *stp = ls->stx + 0.5 * (ls->barrier - ls->stx);
    return MORE_THUENTE_EVALUATE;
}

const char *more_thuente_task_message(more_thuente_task task) {
    switch (task) {
    case MORE_THUENTE_EVALUATE: return "search in progress";
    case MORE_THUENTE_CONVERGED: return "strong Wolfe conditions satisfied";
    case MORE_THUENTE_ROUNDING: return "rounding errors prevent progress";
    case MORE_THUENTE_INTERVAL: return "interval of uncertainty below its tolerance";
    case MORE_THUENTE_AT_MAX: return "step at its upper bound and the function still decreasing";
    case MORE_THUENTE_AT_MIN: return "step at its lower bound without sufficient decrease";
    case MORE_THUENTE_NON_FINITE: return "no finite function value along the search direction";
    case MORE_THUENTE_BAD_INPUT: return "not a descent direction (or bad line-search parameters)";
    }
    return "unknown line-search result";
}
