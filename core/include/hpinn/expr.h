/* hpinn/expr.h — coefficient and source expressions ("1/(1.2 + sin(2*pi*x/eps))")
 * over GNU libmatheval: variables x (1-D) or x, y (2-D), named constants from the
 * pipeline, and symbolic partial derivatives (∇K for the PINN residual).
 *
 * Expressions are evaluated once on fixed point sets, never inside a training
 * iteration, so libmatheval's interpreted evaluation costs nothing that matters.
 * libmatheval's parser is not thread-safe: parse on one thread. */
#ifndef HPINN_EXPR_H
#define HPINN_EXPR_H

#include <stddef.h>

#include "hpinn/export.h"
#include "hpinn/status.h"

HP_BEGIN_API

typedef struct hp_expr hp_expr;

/* Parse `text` in dimension dim (1: variable x; 2: x and y) with constants
 * names[i] = values[i]. `where` ("FILE:LINE:COL: problem.K") prefixes messages:
 * a syntax error or an unknown name is HP_ERR_CONFIG naming the offender. */
hp_status hp_expr_parse(const char *text, int dim, const char *const *names,
                        const double *values, size_t n_constants, const char *where,
                        hp_expr **out);
/* Symbolic derivative with respect to x (axis 0) or y (axis 1). */
hp_status hp_expr_derivative(const hp_expr *e, int axis, hp_expr **out);
/* Value at one point (x has dim entries). */
double hp_expr_eval(const hp_expr *e, const double *x);
/* Values at n points (n x dim, row-major); non-finite results are HP_ERR_NUMERIC
 * naming the first such point. */
hp_status hp_expr_eval_points(const hp_expr *e, const double *x, size_t n, double *out);
/* The expression as libmatheval prints it (for logs). */
const char *hp_expr_text(const hp_expr *e);
int hp_expr_dim(const hp_expr *e);
void hp_expr_destroy(hp_expr *e);

/* Adapter for hp_scalar_field callbacks (coarse.h): ctx is the hp_expr. */
double hp_expr_field(const double *x, void *ctx);

HP_END_API
#endif
