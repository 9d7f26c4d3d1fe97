/* bench_time_to_accuracy.c — wall time to first reach a relative L2 error of
 * 1e-1, 1e-2 and 1e-3: hpinn against the recipe PINN codes use today, a
 * PyTorch twin (time_to_accuracy_torch.py: float64, Adam then torch.optim.LBFGS
 * with strong-Wolfe line search), side by side in one invocation on the same
 * problem, network, initial weights, collocation points and reference.
 *
 * The pipeline is a 1-D config (default configs/beyond/eps48.yaml) run as a
 * plain PINN (coupling.tau2 = 0 in every stage), because the twin is a plain
 * PINN: the comparison is of the solvers, not of the coupling. hpinn runs first
 * through its CLI (`hpinn run`, history every 10 iterations; its clock includes
 * its own validation passes); then the problem is rebuilt here from the same
 * config (hp__problem_create: the same points, K, ∇K, q, validation grid and
 * reference) with the network's initial θ and frozen features, dumped, and the
 * twin trains on them (its clock stops while it validates).
 *
 *   bench_time_to_accuracy [--config FILE] [--budget S] [--out DIR] [--set KEY=VALUE]...
 *
 * --budget: the twin's training wall time (default 900 s); --set: overrides for
 * both (e.g. network.threads=1). Prints the table of docs/performance.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpinn/config.h"
#include "hpinn/params.h"
#include "hpinn/registry.h"
#include "network_runner.h"
#include "pipeline.h"
#include "problem.h"
#include "reference.h"

#ifndef HPINN_SOURCE_DIR
#define HPINN_SOURCE_DIR "."
#endif
#ifndef HPINN_CLI
#define HPINN_CLI "hpinn"
#endif

static const double k_targets[3] = {1e-1, 1e-2, 1e-3};

static void die(const char *what) {
    fprintf(stderr, "bench_time_to_accuracy: %s: %s\n%s", what, hp_error_message(), hp_error_trace());
    exit(1);
}

static int write_all(FILE *fp, const double *v, size_t n) { return fwrite(v, sizeof *v, n, fp) == n; }

/* First time each target is reached in hpinn's history.csv (NAN: never), its
 * final error and wall time. */
static int read_history(const char *path, double first[3], double *final_rel, double *wall, double *j0) {
    FILE *fp = fopen(path, "r");
    if (!fp) return -1;
    char line[8192];
    int c_sec = -1, c_rel = -1, c_j = -1;
    if (fgets(line, sizeof line, fp)) {
        int c = 0;
        for (char *tok = strtok(line, ",\n"); tok; tok = strtok(NULL, ",\n"), c++) {
            if (!strcmp(tok, "seconds")) c_sec = c;
            if (!strcmp(tok, "rel_l2")) c_rel = c;
            if (!strcmp(tok, "J_pinn")) c_j = c;
        }
    }
    for (int k = 0; k < 3; k++) first[k] = NAN;
    *final_rel = *wall = *j0 = NAN;
    while (c_sec >= 0 && c_rel >= 0 && fgets(line, sizeof line, fp)) {
        double sec = NAN, rel = NAN;
        int c = 0;
        for (char *p = line; p; c++) {
            if (c == c_sec) sec = strtod(p, NULL);
            if (c == c_rel) rel = strtod(p, NULL);
            if (c == c_j && isnan(*j0)) *j0 = strtod(p, NULL);
            p = strchr(p, ',');
            if (p) p++;
        }
        for (int k = 0; k < 3; k++)
            if (isnan(first[k]) && rel <= k_targets[k]) first[k] = sec;
        *final_rel = rel;
        *wall = sec;
    }
    fclose(fp);
    return c_sec >= 0 && c_rel >= 0 ? 0 : -1;
}

static hp_config *load(const char *file, char **sets, int n_sets, const char *extra) {
    hp_config *c;
    if (hp_config_load_file(file, &c) != HP_OK) die("config");
    for (int i = 0; i < n_sets; i++)
        if (hp_config_set(c, sets[i]) != HP_OK) die("--set");
    if (hp_config_set(c, "coupling.tau2=0") != HP_OK) die("coupling.tau2");
    if (extra && hp_config_set(c, extra) != HP_OK) die(extra);
    return c;
}

/* The twin's input: header, frozen B_k, θ0, collocation x K ∇K f, validation x, u. */
static void dump_twin(const char *config, char **sets, int n_sets, const char *path, double *adam_lr,
                      long *adam_iters) {
    hp_registry *reg;
    if (hp_registry_open(&reg) != HP_OK) die("registry");
    hp_config *c = load(config, sets, n_sets, NULL), *ct = load(config, sets, n_sets, "network.trainable_features=true");
    hp__problem *p;
    const hp_plugin_descriptor *coarse, *global;
    if (hp__problem_create(c, &p) != HP_OK || hp_registry_find(reg, HP_PLUGIN_COARSE, "p1_1d", &coarse) != HP_OK ||
        hp_registry_find(reg, HP_PLUGIN_UPSCALING, "global", &global) != HP_OK ||
        hp__reference_compute(p, 1, coarse, global, NULL, NULL) != HP_OK)
        die("problem");
    if (p->dim != 1 || !p->hard_bc || !p->u_reference) {
        fprintf(stderr, "bench_time_to_accuracy: the twin covers 1-D, hard boundary, with a reference\n");
        exit(2);
    }
    const hp_plugin_descriptor *desc;
    hp_params *np, *npt;
    if (hp_config_plugin_section(c, "network", HP_PLUGIN_NETWORK, NULL, reg, &desc, &np) != HP_OK) die("network");
    if (strcmp(desc->name, "msff") != 0) {
        fprintf(stderr, "bench_time_to_accuracy: the twin implements msff, not %s\n", desc->name);
        exit(2);
    }
    if (hp_config_plugin_section(ct, "network", HP_PLUGIN_NETWORK, NULL, reg, &desc, &npt) != HP_OK) die("network");
    hp__net *net, *twin;
    if (hp__net_create(desc, np, 1, 1, &net) != HP_OK || hp__net_create(desc, npt, 1, 1, &twin) != HP_OK)
        die("network");
    size_t n = hp__net_n_params(net), n_twin = hp__net_n_params(twin);
    double *theta = malloc(n * sizeof *theta), *theta_twin = malloc(n_twin * sizeof *theta_twin);
    if (hp__net_init(net, theta) != HP_OK || hp__net_init(twin, theta_twin) != HP_OK) die("init");
    size_t n_scales;
    hp_params_reals(np, "sigmas", &n_scales);
    long features = (long)hp_params_int(np, "features");
    /* the first stage's Adam (iterations, lr) is the twin's Adam */
    hp_params *stage, *opt;
    const hp_plugin_descriptor *od;
    if (hp_config_section_except(c, "stages[0]", hp__stage_params, "optimizer", &stage) != HP_OK) die("stages[0]");
    *adam_iters = (long)hp_params_int(stage, "iterations");
    hp_params_destroy(stage);
    if (hp_config_plugin_section(c, "stages[0].optimizer", HP_PLUGIN_OPTIMIZER, "adam", reg, &od, &opt) != HP_OK)
        die("stages[0].optimizer");
    if (strcmp(od->name, "adam") != 0) {
        fprintf(stderr, "bench_time_to_accuracy: the first stage's optimizer is %s; the twin's recipe starts with adam\n",
                od->name);
        exit(2);
    }
    *adam_lr = hp_params_real(opt, "lr");
    hp_params_destroy(opt);
    const hp__point_set *col = &p->collocation, *val = &p->validation;
    double *f = malloc(col->n * sizeof *f);
    for (size_t r = 0; r < col->n; r++) f[r] = hp__problem_f(col, 1, r, 0);
    FILE *fp = fopen(path, "wb");
    if (!fp) die("dump");
    double hdr[8] = {1, (double)hp_params_int(np, "depth"), (double)hp_params_int(np, "width"), (double)features,
                     (double)n_scales, (double)col->n, strcmp(hp_params_string(np, "activation"), "tanh") ? 1.0 : 0.0,
                     (double)val->n};
    int ok = write_all(fp, hdr, 8) && write_all(fp, theta_twin, n_scales * (size_t)features) &&
             write_all(fp, theta, n) && write_all(fp, col->x, col->n) && write_all(fp, col->K, col->n) &&
             write_all(fp, col->gradK, col->n) && write_all(fp, f, col->n) && write_all(fp, val->x, val->n) &&
             write_all(fp, p->u_reference, val->n);
    if (fclose(fp) != 0 || !ok) die("dump write");
    free(f);
    free(theta);
    free(theta_twin);
    hp__net_destroy(net);
    hp__net_destroy(twin);
    hp_params_destroy(np);
    hp_params_destroy(npt);
    hp__problem_destroy(p);
    hp_config_destroy(c);
    hp_config_destroy(ct);
    hp_registry_close(reg);
}

static void print_row(const char *name, const double first[3], double final_rel, double wall) {
    printf("%-26s", name);
    for (int k = 0; k < 3; k++)
        if (isnan(first[k])) printf(" %12s", "not reached");
        else printf(" %11.1fs", first[k]);
    printf(" %11.3g %9.1fs\n", final_rel, wall);
}

int main(int argc, char **argv) {
    const char *config = HPINN_SOURCE_DIR "/configs/beyond/eps48.yaml", *out = "bench_tta";
    double budget = 900;
    char *sets[16];
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "--budget") && i + 1 < argc) budget = atof(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc && n_sets < 16) sets[n_sets++] = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--config FILE] [--budget S] [--out DIR] [--set KEY=VALUE]...\n", argv[0]);
            return 2;
        }
    }
    char cmd[16384];
    int len = snprintf(cmd, sizeof cmd, "mkdir -p '%s' && '%s' run '%s' --set coupling.tau2=0 --set output.log_every=10 "
                                        "--set output.checkpoint_every=1000000 --out '%s/hpinn' --force",
                       out, HPINN_CLI, config, out);
    for (int i = 0; i < n_sets; i++) len += snprintf(cmd + len, sizeof cmd - (size_t)len, " --set '%s'", sets[i]);
    snprintf(cmd + len, sizeof cmd - (size_t)len, " > '%s/hpinn.log' 2>&1", out);
    printf("config: %s (plain PINN: coupling.tau2=0)\nhpinn: %s\n", config, cmd);
    fflush(stdout);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_time_to_accuracy: hpinn run failed; see %s/hpinn.log\n", out);
        return 1;
    }
    char path[4096];
    double h_first[3], h_final, h_wall, h_j0;
    snprintf(path, sizeof path, "%s/hpinn/history.csv", out);
    if (read_history(path, h_first, &h_final, &h_wall, &h_j0) != 0) {
        fprintf(stderr, "bench_time_to_accuracy: cannot read %s\n", path);
        return 1;
    }

    double lr;
    long adam_iters;
    snprintf(path, sizeof path, "%s/twin.bin", out);
    dump_twin(config, sets, n_sets, path, &lr, &adam_iters);
    char torch_out[4096];
    snprintf(torch_out, sizeof torch_out, "%s/torch.csv", out);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' --adam %ld --lr %.17g --budget %.17g --history '%s'",
             HPINN_SOURCE_DIR "/bench/time_to_accuracy_torch.py", path, adam_iters, lr, budget, torch_out);
    printf("twin:  %s\n", cmd);
    fflush(stdout);
    FILE *pp = popen(cmd, "r");
    if (!pp) die("popen");
    double t_first[3] = {NAN, NAN, NAN}, t_final = NAN, t_wall = NAN, j0 = NAN;
    char line[512];
    while (fgets(line, sizeof line, pp)) {
        fputs(line, stdout);
        if (sscanf(line, "twin J0 %lf", &j0) == 1) continue;
        sscanf(line, "twin first %lf %lf %lf final %lf wall %lf", &t_first[0], &t_first[1], &t_first[2], &t_final,
               &t_wall);
    }
    if (pclose(pp) != 0) {
        fprintf(stderr, "bench_time_to_accuracy: the PyTorch twin failed (it needs Debian's python3-torch for "
                        "/usr/bin/python3: apt-get install python3-torch)\n");
        return 1;
    }
    printf("J_pinn at θ0: hpinn %.10g, twin %.10g, relative difference %.1e (the same network, weights and points)\n",
           h_j0, j0, fabs(h_j0 - j0) / fabs(h_j0));
    printf("\n%-26s %12s %12s %12s %11s %10s\n", "wall time to rel. L2", "1e-1", "1e-2", "1e-3", "final", "total");
    print_row("hpinn (Adam, then LM)", h_first, h_final, h_wall);
    print_row("PyTorch (Adam, then LBFGS)", t_first, t_final, t_wall);
    printf("%-26s", "ratio PyTorch / hpinn");
    for (int k = 0; k < 3; k++) {
        if (isnan(h_first[k])) printf(" %12s", "-");
        else if (isnan(t_first[k])) printf("  > %8.1fx", t_wall / h_first[k]);
        else printf(" %11.1fx", t_first[k] / h_first[k]);
    }
    printf("\n(\"> Nx\": the twin did not reach it within its budget of %.0f s; N = budget / hpinn's time)\n", budget);
    return 0;
}
