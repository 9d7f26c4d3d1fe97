/* p1_2d.h — private to the p1_2d plugin: the plugin state and the linear-solver
 * back ends (p1_2d_solvers.c) the assembly in p1_2d.c hands its stencil to. */
#ifndef HPINN_P1_2D_H
#define HPINN_P1_2D_H

#include <stddef.h>

#include "hpinn/coarse.h"

/* The assembled interior matrix is kept as a 7-point stencil per interior node:
 * stencil[slot * N + I] = B[I][neighbour], neighbour offsets in grid units below.
 * With a scalar coefficient (or symmetric tensors without off-diagonal) the two
 * diagonal slots are exactly zero and the matrix is the 5-point stencil. */
enum { ST_C = 0, ST_E, ST_W, ST_N, ST_S, ST_NE, ST_SW, ST_SLOTS };

typedef enum p1_2d_backend {
    P1_2D_CHOLMOD = 0, /* sparse Cholesky (symmetric B) */
    P1_2D_BANDED = 1,  /* LAPACK banded Cholesky dpbtrf (symmetric B) */
    P1_2D_LU = 2       /* LAPACK banded LU dgbtrf (non-symmetric B) */
} p1_2d_backend;

typedef struct p1_2d_solver p1_2d_solver; /* opaque, in p1_2d_solvers.c */

/* m = interior nodes per dimension, N = m². seven_point: include diagonal couplings. */
hp_status p1_2d_solver_create(p1_2d_solver **out);
void p1_2d_solver_destroy(p1_2d_solver *s);
/* Factorize the stencil matrix with the given back end (symmetric back ends read
 * only the C, W, S, SW slots). A matrix that is not positive definite ->
 * HP_ERR_NUMERIC naming the interior unknown. */
hp_status p1_2d_solver_factorize(p1_2d_solver *s, p1_2d_backend backend, int m, int seven_point,
                                 const double *stencil);
/* Solve B x = b (transpose: Bᵀ x = b) in place on N interior values. */
hp_status p1_2d_solver_solve(p1_2d_solver *s, int transpose, double *x);
/* Bytes held by the factorization (for the benchmark). */
size_t p1_2d_solver_factor_bytes(const p1_2d_solver *s);

#endif
