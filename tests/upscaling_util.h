/* upscaling_util.h — the whole-point-set upscaling passes the tests use: K̃ from
 * all points (moments, then finish) and its reverse (finish_backward, then
 * moments_backward), as the hybrid runs them on one rank. */
#ifndef HPINN_TEST_UPSCALING_UTIL_H
#define HPINN_TEST_UPSCALING_UTIL_H

#include <stdlib.h>

#include "hpinn/upscaling.h"

static inline hp_status up_forward(const hp_upscaling_ops *ops, void *state, const hp_upscaling_input *in,
                                   double *Kt, hp_upscaling_report *rep) {
    size_t nm = ops->n_moments(state);
    double *m = calloc(nm ? nm : 1, sizeof *m);
    hp_status st = ops->moments(state, in, m);
    if (st == HP_OK) st = ops->finish(state, m, Kt, rep);
    free(m);
    return st;
}

/* ACCUMULATES dv (may be NULL without values) and dgrad, like moments_backward. */
static inline hp_status up_backward(const hp_upscaling_ops *ops, void *state, const hp_upscaling_input *in,
                                    const double *dKt, double *dv, double *dgrad) {
    size_t nm = ops->n_moments(state);
    double *m = calloc(nm ? nm : 1, sizeof *m), *dm = calloc(nm ? nm : 1, sizeof *dm);
    hp_status st = ops->moments(state, in, m);
    if (st == HP_OK) st = ops->finish_backward(state, m, dKt, dm);
    if (st == HP_OK) st = ops->moments_backward(state, in, dm, dv, dgrad);
    free(m);
    free(dm);
    return st;
}

#endif
