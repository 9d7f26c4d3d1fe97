/* more_thuente.h — the Moré–Thuente line search (ACM TOMS 20(3), 1994; the
 * MINPACK-2 routines dcsrch/dcstep) in reverse-communication form, extended to
 * survive non-finite trial values.
 *
 * It searches phi(stp) = f(x + stp d) for a step satisfying the strong Wolfe
 * conditions
 *     phi(stp) <= phi(0) + c1 stp phi'(0)          (sufficient decrease)
 *     |phi'(stp)| <= c2 |phi'(0)|                  (curvature)
 * with phi'(0) < 0. The caller evaluates phi and phi' wherever the search asks:
 *
 *     more_thuente ls; double stp = first trial;
 *     task = more_thuente_start(&ls, c1, c2, phi0, dphi0, &stp);
 *     while (task == MORE_THUENTE_EVALUATE) {
 *         evaluate phi(stp), phi'(stp);
 *         task = more_thuente_next(&ls, phi, dphi, &stp);
 *     }
 *
 * On MORE_THUENTE_CONVERGED stp is the accepted step and the last evaluation was
 * at it. A non-finite phi or phi' at a trial marks that step as a barrier: the
 * next trial is halfway back towards the best step so far, and no later trial
 * goes beyond the barrier. This is what lets an optimizer cross into a region
 * where the objective overflows or is undefined and come back, instead of
 * stopping or propagating NaN. The search never loops by itself: every call
 * returns, and the caller owns the evaluation budget. */
#ifndef HPINN_PLUGINS_MORE_THUENTE_H
#define HPINN_PLUGINS_MORE_THUENTE_H

typedef enum more_thuente_task {
    MORE_THUENTE_EVALUATE = 0,  /* evaluate at *stp and call more_thuente_next */
    MORE_THUENTE_CONVERGED,     /* strong Wolfe conditions hold at *stp */
    MORE_THUENTE_ROUNDING,      /* rounding errors prevent progress */
    MORE_THUENTE_INTERVAL,      /* interval of uncertainty below xtol */
    MORE_THUENTE_AT_MAX,        /* stp is at stpmax and still decreasing */
    MORE_THUENTE_AT_MIN,        /* stp is at stpmin without sufficient decrease */
    MORE_THUENTE_NON_FINITE,    /* non-finite values wherever the search looked */
    MORE_THUENTE_BAD_INPUT      /* phi'(0) >= 0, or inconsistent parameters */
} more_thuente_task;

typedef struct more_thuente {
    double c1, c2, xtol, stpmin, stpmax;
    int brackt, stage;
    double finit, ginit, gtest, width, width1;
    double stx, fx, gx, sty, fy, gy, stmin, stmax;
    double barrier;  /* smallest step found non-finite (INFINITY: none) */
} more_thuente;

/* c1 < c2 in (0, 1); xtol: relative width of the interval of uncertainty below
 * which the search gives up; [stpmin, stpmax]: allowed steps. *stp holds the first
 * trial (> 0) and is clamped to the allowed range. */
more_thuente_task more_thuente_start(more_thuente *ls, double c1, double c2, double xtol,
                                     double stpmin, double stpmax, double f0, double g0,
                                     double *stp);

/* f, g: phi and phi' at the *stp of the previous call. Updates *stp. */
more_thuente_task more_thuente_next(more_thuente *ls, double f, double g, double *stp);

/* One line on what a task means, for stop messages. */
const char *more_thuente_task_message(more_thuente_task task);

#endif
