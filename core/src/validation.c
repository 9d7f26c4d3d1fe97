/* validation.c — what `hpinn check` and `hpinn run` both refuse before anything
 * is computed (validation.h): one function, so check can never accept what run
 * would refuse. The order matters: the memory a pipeline asks for is estimated
 * from its sizes before any point set is allocated (a request for 10^12 points
 * must be an error message, not an allocation failure), and the problem's
 * coefficients are evaluated last. */
#include "validation.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hpinn/coarse.h"
#include "hpinn/optimizer.h"
#include "hpinn/upscaling.h"
#include "network_runner.h"
#include "pipeline.h"
#include "problem.h"
#include "trainer.h"

/* Bytes of memory the machine can give a new process: MemAvailable, else the
 * physical memory. */
double hp__machine_memory_bytes(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            unsigned long long kb;
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
                fclose(f);
                return 1024.0 * (double)kb;
            }
        }
        fclose(f);
    }
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : INFINITY;
}

static void human_bytes(double b, char *buf, size_t size) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (b >= 1024.0 && u < 6) b /= 1024.0, u++;
    snprintf(buf, size, "%.3g %s", b, units[u]);
}

typedef struct estimate {
    double total; /* what the run holds at its peak: the shared parts and the largest stage */
    double largest;
    double stage_peak; /* stages run one after another: each frees its optimizer (trainer.c) */
    char largest_key[96];
    char parts[1024];
} estimate;

static void add_part(estimate *e, double bytes, const char *key, const char *what) {
    if (bytes > e->largest) {
        e->largest = bytes;
        snprintf(e->largest_key, sizeof e->largest_key, "%s", key);
    }
    char b[32];
    human_bytes(bytes, b, sizeof b);
    size_t used = strlen(e->parts);
    snprintf(e->parts + used, sizeof e->parts - used, "%s%s %s", used ? ", " : "", what, b);
}

static void add(estimate *e, double bytes, const char *key, const char *what) {
    e->total += bytes;
    add_part(e, bytes, key, what);
}

/* A stage's optimizer: only the largest one counts towards the peak. */
static void add_stage(estimate *e, double bytes, const char *key, const char *what) {
    if (bytes > e->stage_peak) {
        e->total += bytes - e->stage_peak;
        e->stage_peak = bytes;
    }
    add_part(e, bytes, key, what);
}

/* The sizes of the pipeline: points of each set, coarse nodes, directions,
 * network parameters and tape width. Plugins are created (not run) for it. */
static hp_status estimate_memory(const hp_config *c, const hp_registry *r, estimate *e) {
    memset(e, 0, sizeof *e);
    hp_params *pp = NULL;
    HP_CALL(hp_config_section(c, "problem", hp__problem_params, &pp));
    int dim = (int)hp_params_int(pp, "dim");
    size_t m_axis = 0, nv_axis = 0;
    hp_status sizes = hp__problem_sizes(c, &m_axis, &nv_axis);
    if (sizes != HP_OK) {
        hp_params_destroy(pp);
        return sizes;
    }
    double m = (double)m_axis, M = dim == 1 ? m : m * m;
    double nv = (double)nv_axis;
    double NV = dim == 1 ? nv : nv * nv;
    double candidates = hp_params_enum_index(pp, "collocation.adaptive") == 1
                            ? (hp_params_is_auto(pp, "collocation.rad_candidates")
                                   ? 8.0 * M
                                   : (double)hp_params_int(pp, "collocation.rad_candidates"))
                            : 0.0;
    double nb = strcmp(hp_params_string(pp, "boundary"), "hard") == 0 ? 0.0
                : (dim == 1 ? 2.0 : 4.0 * (double)hp_params_int(pp, "collocation.boundary_points"));
    hp_params_destroy(pp);

    /* directions and coarse nodes from the upscaling and coarse plugins */
    const hp_plugin_descriptor *ud = NULL, *cd = NULL, *nd = NULL;
    hp_params *up = NULL, *cp = NULL, *np = NULL;
    void *us = NULL;
    hp__net *net = NULL;
    hp_status st = HP_OK;
    double nodes = 0.0;
    int n_dir = 1;
    HP_CALL_GOTO(st, hp_config_plugin_section(c, "upscaling", HP_PLUGIN_UPSCALING,
                                              hp__pipeline_default_plugin("upscaling", dim), r, &ud, &up), done);
    HP_CALL_GOTO(st, ((const hp_upscaling_ops *)ud->ops)->create(up, dim, &us), done);
    n_dir = ((const hp_upscaling_ops *)ud->ops)->n_directions(us);
    HP_CALL_GOTO(st, hp_config_plugin_section(c, "coarse", HP_PLUGIN_COARSE, hp__pipeline_default_plugin("coarse", dim),
                                              r, &cd, &cp), done);
    for (const hp_param_def *t = cd->params; t && t->name; t++)
        if (strcmp(t->name, "elements") == 0) nodes = pow((double)hp_params_int(cp, "elements") + 1.0, dim);
    HP_CALL_GOTO(st, hp_config_plugin_section(c, "network", HP_PLUGIN_NETWORK, NULL, r, &nd, &np), done);
    HP_CALL_GOTO(st, hp__net_create(nd, np, dim, 1, &net), done);
    double n_theta = (double)hp__net_n_params(net) * n_dir;
    double C2 = 2.0 + dim, residuals = n_dir * (M + nb + nodes);

    /* the hybrid: tapes of every set, the work buffers on the collocation points */
    add(e, n_dir * (hp__net_tape_bytes(net, (size_t)fmin(M, 1e15), 2) + hp__net_tape_bytes(net, (size_t)nodes, 0) +
                    hp__net_tape_bytes(net, (size_t)nb, 0)) +
               8.0 * M * (C2 * 4.0 + dim * 6.0 + 4.0),
        "problem.collocation.points", "collocation tapes and buffers");
    add(e, 8.0 * NV * (dim + 4.0) * (n_dir + 1.0), "problem.validation.points", "validation grid");
    if (candidates > 0) add(e, 8.0 * candidates * (2.0 * dim + 3.0), "problem.collocation.rad_candidates", "RAD candidates");
    /* each stage's optimizer; a dense Gauss-Newton one also makes the hybrid
     * keep Jacobian rows of one direction at a time, once for the run */
    double hybrid_rows = 0.0;
    size_t n_stages = hp_config_list_length(c, "stages");
    for (size_t i = 0; i < n_stages && i < HP__TRAINER_MAX_STAGES; i++) {
        char path[64], what[96];
        snprintf(path, sizeof path, "stages[%zu].optimizer", i);
        const hp_plugin_descriptor *od = NULL;
        hp_params *op = NULL;
        HP_CALL_GOTO(st, hp_config_plugin_section(c, path, HP_PLUGIN_OPTIMIZER,
                                                  hp__pipeline_default_plugin("stages", dim), r, &od, &op), done);
        const hp_optimizer_ops *oo = od->ops;
        if (HP_OP_PRESENT(oo, memory_bytes)) {
            double b = oo->memory_bytes(op, (size_t)fmin(n_theta, 1e15), (size_t)fmin(residuals, 1e15));
            if (b >= 8.0 * residuals * n_theta) hybrid_rows = 8.0 * fmax(M, nodes) * n_theta / n_dir;
            snprintf(what, sizeof what, "stage %zu (%s)", i, od->name);
            add_stage(e, b, path, what);
        }
        hp_params_destroy(op);
    }
    if (hybrid_rows > 0.0) add(e, hybrid_rows, "stages", "Jacobian rows of one direction");
done:
    hp__net_destroy(net);
    if (us) ((const hp_upscaling_ops *)ud->ops)->destroy(us);
    hp_params_destroy(up);
    hp_params_destroy(cp);
    hp_params_destroy(np);
    return st;
}

hp_status hp__pipeline_validate(const hp_config *c, const hp_registry *r) {
    HP_CALL(hp_config_resolve(c, r, NULL));
    HP_CALL(hp_config_check_run(c));
    estimate e;
    HP_CALL(estimate_memory(c, r, &e));
    double have = hp__machine_memory_bytes();
    if (e.total > 0.9 * have) {
        char need[32], avail[32], where[600];
        human_bytes(e.total, need, sizeof need);
        human_bytes(have, avail, sizeof avail);
        hp_config_location(c, e.largest_key, where, sizeof where);
        HP_ERROR(HP_ERR_CONFIG,
                 "%s: %s: the pipeline needs about %s of memory (%s; the stages run one at a time, the largest "
                 "counts), and this machine has %s available; expected "
                 "sizes that fit (the largest part is %s)",
                 where, e.largest_key, need, e.parts, avail, e.largest_key);
    }
    hp__problem *p = NULL;
    HP_CALL(hp__problem_create(c, &p));
    hp__problem_destroy(p);
    return HP_OK;
}
