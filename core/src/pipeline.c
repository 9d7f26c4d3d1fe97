/* pipeline.c — what a pipeline may contain: its sections and the parameter
 * tables of the core sections (problem, coupling, stages, output, upscale).
 * Plugin sections are declared by their plugins. The docs in these tables are
 * what `hpinn help pipeline` and docs/pipeline-reference.md show. */
#include "pipeline.h"

#include <string.h>

#define MIN(v) HP_PARAM_HAS_MIN, (v), 0.0
#define MIN_OPEN(v) (HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN), (v), 0.0
#define RANGE(a, b) (HP_PARAM_HAS_MIN | HP_PARAM_HAS_MAX), (a), (b)
#define NOBOUND 0u, 0.0, 0.0

const hp_param_def hp__problem_params[] = {
    {"dim", HP_PARAM_INT, "1", RANGE(1, 2), NULL, 0, "space dimension d of Ω = (0,1)^d"},
    {"K", HP_PARAM_STRING, NULL, HP_PARAM_REQUIRED, 0.0, 0.0, NULL, 0,
     "conductivity K(x) (or K(x,y)): an expression with the pipeline's constants"},
    {"q", HP_PARAM_STRING, "0", NOBOUND, NULL, 0, "source q as an expression"},
    {"boundary", HP_PARAM_ENUM, "hard", NOBOUND, "hard|soft", 0,
     "hard: v = l(x) N(x) with l = Π x_a (1 - x_a); soft: v = N(x) plus a tau1 penalty"},
    {"residual_scale", HP_PARAM_ENUM, "none", NOBOUND, "none|inverse_K", 0,
     "inverse_K: the PINN residual divided by K(x), which weighs the error in grad u alike where K is large and "
     "small (high-contrast K); none: the strong form as written"},
    {"collocation.points", HP_PARAM_INT, "auto", HP_PARAM_HAS_MIN | HP_PARAM_AUTO, 1.0, 0.0, NULL, 0,
     "collocation points (1-D: count M; 2-D: per axis m, M = m^2); auto: points_per_width per length scale of K "
     "(1 / max |grad K|/K on a fine grid)"},
    {"collocation.points_per_width", HP_PARAM_REAL, "auto", HP_PARAM_HAS_MIN | HP_PARAM_MIN_OPEN | HP_PARAM_AUTO, 0.0,
     0.0, NULL, 0, "points: auto: collocation points per length scale of K, per axis; auto: 8 in 1-D, 3 in 2-D"},
    {"collocation.sampling", HP_PARAM_ENUM, "grid", NOBOUND, "grid|uniform|sobol|halton", 0,
     "grid: interior equispaced; uniform: random; sobol, halton: low-discrepancy sequences (shifted by seed)"},
    {"collocation.resample_every", HP_PARAM_INT, "0", MIN(0), NULL, 0,
     "draw a new point set every this many iterations (0: never; not for the grid)"},
    {"collocation.adaptive", HP_PARAM_ENUM, "none", NOBOUND, "none|rad", 0,
     "rad: at each resample keep points with probability ~ |rho|^rad_k / mean + rad_c (residual-based, Wu et al. 2023)"},
    {"collocation.rad_k", HP_PARAM_REAL, "1", MIN(0), NULL, 0, "RAD exponent k"},
    {"collocation.rad_c", HP_PARAM_REAL, "1", MIN(0), NULL, 0, "RAD offset c (larger: closer to uniform)"},
    {"collocation.rad_candidates", HP_PARAM_INT, "auto", HP_PARAM_HAS_MIN | HP_PARAM_AUTO, 1.0, 0.0, NULL, 0,
     "RAD candidate points per resample; auto: 8 times the points"},
    {"collocation.seed", HP_PARAM_INT, "1", MIN(0), NULL, 0, "seed of random and low-discrepancy points"},
    {"collocation.boundary_points", HP_PARAM_INT, "64", MIN(1), NULL, 0,
     "boundary points for the soft penalty (1-D: the two end points; 2-D: per side)"},
    {"reference.kind", HP_PARAM_ENUM, "auto", NOBOUND, "auto|exact|integral|fem|none", 0,
     "reference u for validation: exact (reference.exact), integral (1-D: K w' = C - ∫q by quadrature), "
     "fem (fine P1 solve with the coarse plugin), none; auto: exact if given, else integral in 1-D, else fem"},
    {"reference.exact", HP_PARAM_STRING, NULL, NOBOUND, NULL, 0,
     "closed-form fine solution u(x) of direction 1 (u = w - x_1)"},
    {"reference.fem_elements", HP_PARAM_INT, "0", MIN(0), NULL, 0,
     "elements per axis of the fine FEM reference solve (kind fem); 0: 20000 in 1-D, 512 in 2-D"},
    {"reference.integral_intervals", HP_PARAM_INT, "20000", RANGE(1, 1000000), NULL, 0,
     "sub-intervals (8-point Gauss-Legendre each) of the 1-D integral reference"},
    {"validation.points", HP_PARAM_INT, "auto", HP_PARAM_HAS_MIN | HP_PARAM_AUTO, 2.0, 0.0, NULL, 0,
     "validation grid points (1-D count, 2-D per axis) for errors and the fine residual; auto: max(1000, 4 m + 1) in "
     "1-D, max(201, 2 m + 1) capped at 1025 in 2-D (m: collocation points per axis)"},
    HP_PARAM_END};

const hp_param_def hp__coupling_params[] = {
    {"form", HP_PARAM_ENUM, "full", NOBOUND, "full|compressed|none", 0,
     "coupling term: full (11) ||Q̄v - y||², compressed (16) ||Q̄v - Q̄y||², none: plain PINN"},
    {"window", HP_PARAM_INT, "1", MIN(0), NULL, 0, "moving-average window ω in coarse nodes"},
    {"window_shape", HP_PARAM_ENUM, "square", NOBOUND, "square|disk", 0, "2-D window shape"},
    {"delta", HP_PARAM_REAL, "0", MIN(0), NULL, 0,
     "δ: nodes closer than δ/2 to the boundary are not averaged (paper: ε)"},
    {"tau1", HP_PARAM_REAL, "1", MIN(0), NULL, 0, "weight of the soft boundary penalty"},
    {"tau2", HP_PARAM_REAL, "0", MIN(0), NULL, 0, "weight of the coupling term (0: plain PINN)"},
    {"tau3", HP_PARAM_REAL, "0", MIN(0), NULL, 0,
     "weight of the coarse-averaged residual: the PINN residual averaged with the hat functions of the coarse "
     "nodes, which sees the macro-scale error (0: off; no floor, unlike tau2)"},
    HP_PARAM_END};

const hp_param_def hp__stage_params[] = {
    {"iterations", HP_PARAM_INT, NULL, HP_PARAM_REQUIRED | HP_PARAM_HAS_MIN, 0.0, 0.0, NULL, 0,
     "optimizer iterations of this stage"},
    {"name", HP_PARAM_STRING, NULL, NOBOUND, NULL, 0, "label in logs"},
    {"tau2", HP_PARAM_REAL, NULL, MIN(0), NULL, 0, "override of coupling.tau2 for this stage"},
    {"tau1", HP_PARAM_REAL, NULL, MIN(0), NULL, 0, "override of coupling.tau1 for this stage"},
    {"tau3", HP_PARAM_REAL, NULL, MIN(0), NULL, 0, "override of coupling.tau3 for this stage"},
    {"divergence", HP_PARAM_REAL, "1e6", MIN(0), NULL, 0,
     "stop the run (exit 1, last good checkpoint kept) when J rises above this multiple of the stage's lowest J "
     "so far; 0: never"},
    HP_PARAM_END};

const hp_param_def hp__output_params[] = {
    {"dir", HP_PARAM_STRING, NULL, NOBOUND, NULL, 0,
     "output directory of the run; unset: runs/<stem of the pipeline file> (configs/x.yaml: runs/x)"},
    {"log_every", HP_PARAM_INT, "100", MIN(1), NULL, 0, "iterations between history rows"},
    {"checkpoint_every", HP_PARAM_INT, "1000", MIN(0), NULL, 0,
     "iterations between checkpoints (0: only at the end)"},
    HP_PARAM_END};

const hp_param_def hp__upscale_params[] = {
    {"fine_elements", HP_PARAM_REALS, "[1000]", MIN(1), NULL, 1,
     "fine mesh sizes (elements per axis); several give a convergence table"},
    {"quadrature_rule", HP_PARAM_ENUM, "gauss", NOBOUND, "gauss|nodal", 0,
     "element quadrature of K in the fine solves: gauss (converged) or nodal (the paper's 1-D reference)"},
    {"quadrature_order", HP_PARAM_INT, "0", MIN(0), NULL, 0,
     "Gauss points per element (sub-interval) of the fine solves; 0: the fine solver's default"},
    {"quadrature_subdivisions", HP_PARAM_INT, "0", MIN(0), NULL, 0,
     "sub-intervals per element of the fine solves' quadrature; 0: the fine solver's default"},
    {"include_global", HP_PARAM_BOOL, "true", NOBOUND, NULL, 0,
     "also report the global anisotropic flux tensor when the upscaling section is block-wise"},
    {"fields", HP_PARAM_ENUM, "finest", NOBOUND, "none|finest|all", 0, "which fine solutions to write"},
    HP_PARAM_END};

const hp__section_def hp__pipeline_sections[] = {
    {"constants", HP__SECTION_CONSTANTS, NULL, 0, NULL, "named numbers usable in expressions and real parameters"},
    {"problem", HP__SECTION_CORE, hp__problem_params, 0, NULL, "the fine-scale problem"},
    {"network", HP__SECTION_PLUGIN, NULL, HP_PLUGIN_NETWORK, NULL, "the PINN architecture"},
    {"upscaling", HP__SECTION_PLUGIN, NULL, HP_PLUGIN_UPSCALING, "global", "how K̃ is computed"},
    {"coarse", HP__SECTION_PLUGIN, NULL, HP_PLUGIN_COARSE, NULL,
     "the coarse FEM solver (default p1_1d or p1_2d, by problem.dim)"},
    {"coupling", HP__SECTION_CORE, hp__coupling_params, 0, NULL, "the coupling term"},
    {"stages", HP__SECTION_STAGES, hp__stage_params, HP_PLUGIN_OPTIMIZER, "adam", "training stages"},
    {"output", HP__SECTION_CORE, hp__output_params, 0, NULL, "where results go"},
    {"upscale", HP__SECTION_CORE, hp__upscale_params, 0, NULL, "settings of `hpinn upscale`"},
    {"sweep", HP__SECTION_SWEEP, NULL, 0, NULL,
     "`hpinn sweep`'s grid (ignored by run): grid: {KEY: [v1, v2, ...], ...}, seeds: [1, 2, 3] (network.seed), "
     "jobs: N|auto, out: DIR (hpinn help sweep)"},
    {NULL, 0, NULL, 0, NULL, NULL}};

const char *hp__pipeline_default_plugin(const char *section, int dim) {
    if (strcmp(section, "coarse") == 0) return dim == 2 ? "p1_2d" : "p1_1d";
    const hp__section_def *s = hp__pipeline_section(section);
    return s ? s->default_plugin : NULL;
}

const hp__section_def *hp__pipeline_section(const char *name) {
    for (const hp__section_def *s = hp__pipeline_sections; s->name; s++)
        if (strcmp(s->name, name) == 0) return s;
    return NULL;
}
