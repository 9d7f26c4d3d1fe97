/* expr.c — expressions over GNU libmatheval, with pipeline constants and
 * symbolic derivatives. Also evaluates the constant expressions that real-valued
 * parameters may use ("1/48", "2*eps").
 *
 * libmatheval reports a syntax error only as a NULL evaluator, without position;
 * we report the whole string's location and the text. Names are checked against
 * the allowed variables and constants before any evaluation, so an unknown name
 * is a config error instead of a silent zero. */
#include "hpinn/expr.h"

#include <ctype.h>
#include <math.h>
#include <matheval.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params_internal.h"

struct hp_expr {
    void *evaluator;
    int dim;
    size_t n_names;     /* dim variables followed by the constants */
    char **names;
    double *values;     /* scratch: variable values, then constant values */
    char *where;
};

static const char *const hp__variables[2] = {"x", "y"};

/* Syntax check before libmatheval sees the text. libmatheval reports a syntax
 * error only as NULL, without position, and leaks its partial parse tree when it
 * does; our own recursive-descent pass over the same grammar gives the column
 * and keeps invalid text away from it. Grammar (libmatheval's):
 *   expr  := term (('+'|'-') term)*        term := unary (('*'|'/') unary)*
 *   unary := '-' unary | power             power := primary ('^' unary)?
 * (no unary '+': libmatheval rejects it; and a^b^c is (a^b)^c there)
 *   primary := number | name | function '(' expr ')' | '(' expr ')'        */
static const char *const hp__functions[] = {
    "exp", "log", "sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan", "acot",
    "asec", "acsc", "sinh", "cosh", "tanh", "coth", "sech", "csch", "asinh", "acosh", "atanh", "acoth",
    "asech", "acsch", "abs", "step", "delta", "nandelta", "erf", NULL};

typedef struct syntax {
    const char *text, *p;
    const char *error; /* what was expected at p */
    int depth;
} syntax;

static void skip_space(syntax *s) {
    while (*s->p == ' ' || *s->p == '\t') s->p++;
}

static int parse_sum(syntax *s);

static int parse_primary(syntax *s) {
    skip_space(s);
    const char *p = s->p;
    if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
        while (isdigit((unsigned char)*p)) p++;
        if (*p == '.') p++;
        while (isdigit((unsigned char)*p)) p++;
        if ((*p == 'e' || *p == 'E') && (isdigit((unsigned char)p[1]) ||
                                          ((p[1] == '+' || p[1] == '-') && isdigit((unsigned char)p[2])))) {
            p += 2;
            while (isdigit((unsigned char)*p)) p++;
        }
        s->p = p;
        return 1;
    }
    if (isalpha((unsigned char)*p) || *p == '_') {
        const char *start = p;
        while (isalnum((unsigned char)*p) || *p == '_') p++;
        size_t len = (size_t)(p - start);
        s->p = p;
        skip_space(s);
        int is_function = 0;
        for (int i = 0; hp__functions[i]; i++)
            if (strlen(hp__functions[i]) == len && strncmp(hp__functions[i], start, len) == 0) is_function = 1;
        if (!is_function) {
            if (*s->p == '(') {
                s->error = "a known function (sin, cos, exp, log, sqrt, tanh, abs, ...) before '('";
                s->p = start;
                return 0;
            }
            return 1;
        }
        if (*s->p != '(') {
            s->error = "'(' after the function name";
            return 0;
        }
        s->p++;
        if (!parse_sum(s)) return 0;
        skip_space(s);
        if (*s->p != ')') {
            s->error = "')'";
            return 0;
        }
        s->p++;
        return 1;
    }
    if (*p == '(') {
        s->p = p + 1;
        if (!parse_sum(s)) return 0;
        skip_space(s);
        if (*s->p != ')') {
            s->error = "')'";
            return 0;
        }
        s->p++;
        return 1;
    }
    s->error = "a number, a name or '('";
    return 0;
}

static int parse_unary(syntax *s) {
    if (++s->depth > 200) {
        s->error = "less deeply nested text";
        return 0;
    }
    skip_space(s);
    int ok;
    if (*s->p == '-') {
        s->p++;
        ok = parse_unary(s);
    } else {
        ok = parse_primary(s);
        skip_space(s);
        if (ok && *s->p == '^') {
            s->p++;
            ok = parse_unary(s);
        }
    }
    s->depth--;
    return ok;
}

static int parse_product(syntax *s) {
    if (!parse_unary(s)) return 0;
    for (skip_space(s); *s->p == '*' || *s->p == '/'; skip_space(s)) {
        s->p++;
        if (!parse_unary(s)) return 0;
    }
    return 1;
}

static int parse_sum(syntax *s) {
    if (!parse_product(s)) return 0;
    for (skip_space(s); *s->p == '+' || *s->p == '-'; skip_space(s)) {
        s->p++;
        if (!parse_product(s)) return 0;
    }
    return 1;
}

/* 0 on success, else the 1-based column of the problem and *expected filled. */
static int syntax_error_column(const char *text, const char **expected) {
    syntax s = {text, text, NULL, 0};
    if (strlen(text) > 4096) {
        *expected = "at most 4096 characters";
        return 4097;
    }
    if (parse_sum(&s)) {
        skip_space(&s);
        if (*s.p == '\0') return 0;
        s.error = "an operator (+ - * / ^) or the end of the expression";
    }
    *expected = s.error;
    return (int)(s.p - text) + 1;
}

static hp_status build(void *evaluator, int dim, const char *const *names, const double *values,
                       size_t n_constants, const char *where, const char *text, hp_expr **out) {
    hp_expr *e = calloc(1, sizeof *e);
    if (!e) {
        evaluator_destroy(evaluator);
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    e->evaluator = evaluator;
    e->dim = dim;
    e->n_names = (size_t)dim + n_constants;
    e->names = calloc(e->n_names, sizeof *e->names);
    e->values = calloc(e->n_names, sizeof *e->values);
    e->where = strdup(where ? where : "expression");
    if (!e->names || !e->values || !e->where) goto nomem;
    for (int a = 0; a < dim; a++)
        if (!(e->names[a] = strdup(hp__variables[a]))) goto nomem;
    for (size_t i = 0; i < n_constants; i++) {
        if (!(e->names[dim + i] = strdup(names[i]))) goto nomem;
        e->values[dim + i] = values[i];
    }
    /* every name the expression uses must be a variable or a constant */
    char **used;
    int n_used;
    evaluator_get_variables(evaluator, &used, &n_used);
    for (int u = 0; u < n_used; u++) {
        int known = 0;
        for (size_t i = 0; i < e->n_names; i++)
            if (strcmp(used[u], e->names[i]) == 0) known = 1;
        if (!known) {
            char allowed[1024] = "";
            size_t len = 0;
            for (size_t i = 0; i < e->n_names && len + 70 < sizeof allowed; i++)
                len += (size_t)snprintf(allowed + len, sizeof allowed - len, "%s%s", i ? ", " : "", e->names[i]);
            hp_status st = HP_ERROR_SET(HP_ERR_CONFIG, "%s: unknown name '%s' in \"%s\"; expected only %s (and pi, e)",
                                        e->where, used[u], text, allowed);
            hp_expr_destroy(e);
            return st;
        }
    }
    *out = e;
    return HP_OK;
nomem:
    hp_expr_destroy(e);
    HP_ERROR(HP_ERR_NOMEM, "out of memory");
}

hp_status hp_expr_parse(const char *text, int dim, const char *const *names, const double *values,
                        size_t n_constants, const char *where, hp_expr **out) {
    *out = NULL;
    if (dim < 1 || dim > 2) HP_ERROR(HP_ERR_INTERNAL, "expressions support dim 1 or 2, not %d", dim);
    for (size_t i = 0; i < n_constants; i++)
        for (int a = 0; a < dim; a++)
            if (strcmp(names[i], hp__variables[a]) == 0)
                HP_ERROR(HP_ERR_CONFIG, "%s: constant '%s' shadows the variable of the same name; expected another name",
                         where ? where : "expression", names[i]);
    const char *expected = NULL;
    int column = syntax_error_column(text, &expected);
    if (column)
        HP_ERROR(HP_ERR_CONFIG, "%s: cannot parse \"%s\" at character %d; expected %s", where ? where : "expression",
                 text, column, expected);
    void *ev = evaluator_create((char *)text);
    if (!ev)
        HP_ERROR(HP_ERR_CONFIG, "%s: cannot parse \"%s\"; expected an expression in %s with + - * / ^, functions such as sin, exp, sqrt, and the pipeline's constants",
                 where ? where : "expression", text, dim == 1 ? "x" : "x, y");
    return build(ev, dim, names, values, n_constants, where, text, out);
}

hp_status hp_expr_derivative(const hp_expr *e, int axis, hp_expr **out) {
    *out = NULL;
    if (axis < 0 || axis >= e->dim) HP_ERROR(HP_ERR_INTERNAL, "derivative along axis %d in dimension %d", axis, e->dim);
    void *d = evaluator_derivative(e->evaluator, (char *)hp__variables[axis]);
    if (!d) HP_ERROR(HP_ERR_CONFIG, "%s: cannot differentiate \"%s\" with respect to %s", e->where,
                     evaluator_get_string(e->evaluator), hp__variables[axis]);
    size_t nc = e->n_names - (size_t)e->dim;
    return build(d, e->dim, (const char *const *)e->names + e->dim, e->values + e->dim, nc, e->where,
                 evaluator_get_string(d), out);
}

double hp_expr_eval(const hp_expr *e, const double *x) {
    for (int a = 0; a < e->dim; a++) e->values[a] = x[a];
    return evaluator_evaluate(e->evaluator, (int)e->n_names, e->names, e->values);
}

hp_status hp_expr_eval_points(const hp_expr *e, const double *x, size_t n, double *out) {
    for (size_t p = 0; p < n; p++) {
        out[p] = hp_expr_eval(e, x + p * (size_t)e->dim);
        if (!isfinite(out[p])) {
            if (e->dim == 1)
                HP_ERROR(HP_ERR_NUMERIC, "%s: \"%s\" is not finite at x = %.17g", e->where,
                         evaluator_get_string(e->evaluator), x[p]);
            HP_ERROR(HP_ERR_NUMERIC, "%s: \"%s\" is not finite at (x, y) = (%.17g, %.17g)", e->where,
                     evaluator_get_string(e->evaluator), x[2 * p], x[2 * p + 1]);
        }
    }
    return HP_OK;
}

double hp_expr_field(const double *x, void *ctx) { return hp_expr_eval((const hp_expr *)ctx, x); }

const char *hp_expr_text(const hp_expr *e) { return evaluator_get_string(e->evaluator); }
int hp_expr_dim(const hp_expr *e) { return e->dim; }

void hp_expr_destroy(hp_expr *e) {
    if (!e) return;
    if (e->evaluator) evaluator_destroy(e->evaluator);
    for (size_t i = 0; e->names && i < e->n_names; i++) free(e->names[i]);
    free(e->names);
    free(e->values);
    free(e->where);
    free(e);
}

int hp__eval_constant_expression(const char *text, const hp__constants *c, double *value, char *err,
                                 size_t err_size) {
    const char *expected = NULL;
    int column = syntax_error_column(text, &expected);
    if (column) {
        snprintf(err, err_size, "not a number or expression: at character %d expected %s", column, expected);
        return 0;
    }
    void *ev = evaluator_create((char *)text);
    if (!ev) {
        snprintf(err, err_size, "not a number or expression");
        return 0;
    }
    char **used;
    int n_used;
    evaluator_get_variables(ev, &used, &n_used);
    size_t n = c ? c->count : 0;
    for (int u = 0; u < n_used; u++) {
        int known = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(used[u], c->names[i]) == 0) known = 1;
        if (!known) {
            snprintf(err, err_size, "unknown name '%s'%s", used[u],
                     n ? "; not one of the pipeline's constants" : "; no constants are defined");
            evaluator_destroy(ev);
            return 0;
        }
    }
    *value = evaluator_evaluate(ev, (int)n, n ? c->names : NULL, n ? c->values : NULL);
    evaluator_destroy(ev);
    if (!isfinite(*value)) {
        snprintf(err, err_size, "evaluates to %g", *value);
        return 0;
    }
    return 1;
}
