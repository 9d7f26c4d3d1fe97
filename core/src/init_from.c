/* init_from.c — warm starts from another run's θ (rules in init_from.h). */
#include "init_from.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hybrid_internal.h"
#include "network_runner.h"
#include "pipeline.h"
#include "yaml_tree.h"

/* A node's value as text: a scalar, or a flow list of scalars. */
static void node_text(const hp__node *n, char *buf, size_t size) {
    buf[0] = '\0';
    if (!n) {
        snprintf(buf, size, "(absent)");
    } else if (n->kind == HP__SCALAR) {
        snprintf(buf, size, "%s", n->text ? n->text : "");
    } else if (n->kind == HP__SEQUENCE) {
        size_t used = (size_t)snprintf(buf, size, "[");
        for (size_t i = 0; i < n->count && used < size; i++) {
            char item[128];
            node_text(n->items[i], item, sizeof item);
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", item);
        }
        if (used < size) snprintf(buf + used, size - used, "]");
    } else {
        snprintf(buf, size, "(a mapping)");
    }
}

/* "network.width: 12 (RUN) vs 16 (this pipeline); ..." for every key of the
 * network section that differs, but the runner's threads and chunk_points. */
static size_t network_differences(const char *then, const char *now, const char *dir, char *out, size_t size) {
    out[0] = '\0';
    hp__node *a = NULL, *b = NULL;
    size_t count = 0, used = 0;
    if (hp__yaml_parse(then, strlen(then), "the run's pipeline", &a) != HP_OK ||
        hp__yaml_parse(now, strlen(now), "this pipeline", &b) != HP_OK) {
        hp_error_clear();
        hp__node_free(a);
        hp__node_free(b);
        return 0;
    }
    const hp__node *na = hp__node_map_get(a, "network"), *nb = hp__node_map_get(b, "network");
    for (int pass = 0; pass < 2; pass++) {
        const hp__node *m = pass ? nb : na, *other = pass ? na : nb;
        for (size_t i = 0; m && m->kind == HP__MAPPING && i < m->count; i++) {
            const char *key = m->keys[i]->text;
            if (strcmp(key, "threads") == 0 || strcmp(key, "chunk_points") == 0) continue;
            if (pass && other && hp__node_map_get(other, key)) continue; /* compared in the first pass */
            char va[256], vb[256];
            node_text(pass ? hp__node_map_get(other, key) : m->items[i], va, sizeof va);
            node_text(pass ? m->items[i] : (other ? hp__node_map_get(other, key) : NULL), vb, sizeof vb);
            if (strcmp(va, vb) == 0) continue;
            count++;
            if (used < size)
                used += (size_t)snprintf(out + used, size - used, "%snetwork.%s: %s (%s) vs %s (this pipeline)",
                                         used ? "; " : "", key, va, dir, vb);
        }
    }
    hp__node_free(a);
    hp__node_free(b);
    return count;
}

/* The run's checkpoint, or the one before it when the newest is damaged. */
static hp_status read_source(const char *dir, hp__checkpoint *ck, FILE *notes) {
    hp_status st = hp__checkpoint_read(dir, HP__CHECKPOINT_FILE, 0, ck);
    if (st == HP_ERR_NOT_FOUND)
        HP_ERROR(HP_ERR_NOT_FOUND, "run --init-from %s: no checkpoint there (%s); expected the directory of an hpinn "
                                   "run that has written one", dir, HP__CHECKPOINT_FILE);
    if (st != HP_ERR_CORRUPT) return st;
    char why[1024];
    snprintf(why, sizeof why, "%s", hp_error_message());
    if (hp__checkpoint_read(dir, HP__CHECKPOINT_PREVIOUS_FILE, 0, ck) != HP_OK) {
        hp_error_clear();
        HP_ERROR(HP_ERR_CORRUPT, "run --init-from: %s (and there is no good %s)", why, HP__CHECKPOINT_PREVIOUS_FILE);
    }
    if (notes) fprintf(notes, "hpinn run: note: %s; --init-from takes %s (iteration %llu)\n", why,
                       HP__CHECKPOINT_PREVIOUS_FILE, (unsigned long long)ck->iteration);
    return HP_OK;
}

static int same_layout(const hp__net *a, const hp__net *b) {
    const hp_param_block *ba, *bb;
    size_t na = hp__net_layout(a, &ba), nb = hp__net_layout(b, &bb);
    if (na != nb || hp__net_n_params(a) != hp__net_n_params(b)) return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(ba[i].name, bb[i].name) != 0 || ba[i].rows != bb[i].rows || ba[i].cols != bb[i].cols ||
            ba[i].offset != bb[i].offset)
            return 0;
    return 1;
}

/* Largest |N_src(x) - N_new(x)| relative to max |N_src| over a few points and
 * every direction, with the same θ. */
static hp_status function_difference(hp__net *src, hp__hybrid *h, const double *theta, double *rel) {
    enum { P = 7 };
    double x[P * P * 2], va[P * P], vb[P * P];
    size_t n = h->dim == 1 ? P : P * P;
    for (size_t k = 0; k < n; k++) {
        x[k * (size_t)h->dim] = ((double)(k % P) + 0.5) / P;
        if (h->dim == 2) x[k * 2 + 1] = ((double)(k / P) + 0.5) / P;
    }
    double diff = 0.0, scale = 0.0;
    for (int i = 0; i < h->n_dir; i++) {
        const double *t = theta + (size_t)i * h->n_theta_dir;
        HP_CALL(hp__net_eval(src, t, x, n, 0, va));
        HP_CALL(hp__net_eval(h->net[i], t, x, n, 0, vb));
        for (size_t k = 0; k < n; k++) {
            diff = fmax(diff, fabs(va[k] - vb[k]));
            scale = fmax(scale, fabs(va[k]));
        }
    }
    *rel = diff / fmax(scale, 1e-300);
    return HP_OK;
}

static hp_status check_and_copy(const char *dir, const char *text, const hp_registry *r, hp__hybrid *h,
                                const hp__checkpoint *ck, hp_config *src, double *theta, FILE *notes) {
    const hp_plugin_descriptor *sd = NULL;
    hp_params *sp = NULL, *prob = NULL;
    HP_CALL(hp_config_plugin_section(src, "network", HP_PLUGIN_NETWORK, NULL, r, &sd, &sp));
    hp_status st = hp_config_section(src, "problem", hp__problem_params, &prob);
    int src_dim = st == HP_OK ? (int)hp_params_int(prob, "dim") : 0;
    hp_params_destroy(prob);
    char keys[2048];
    size_t n_keys = network_differences(ck->config, text, dir, keys, sizeof keys);
    const hp_plugin_descriptor *nd = hp__net_descriptor(h->net[0]);
    hp__net *sn = NULL;
    if (st == HP_OK && strcmp(sd->name, nd->name) != 0)
        st = HP_ERROR_SET(HP_ERR_CONFIG, "run --init-from %s: its network is '%s', this pipeline's is '%s'; a warm start "
                                         "needs the same network plugin", dir, sd->name, nd->name);
    if (st == HP_OK && src_dim != h->dim)
        st = HP_ERROR_SET(HP_ERR_CONFIG, "run --init-from %s: problem.dim is %d there and %d here; a warm start needs "
                                         "networks of the same input dimension", dir, src_dim, h->dim);
    if (st == HP_OK) st = hp__net_create(sd, sp, src_dim, 1, &sn);
    size_t per = st == HP_OK ? hp__net_n_params(sn) : 0;
    if (st == HP_OK && (per == 0 || ck->n_theta % per != 0))
        st = HP_ERROR_SET(HP_ERR_CORRUPT, "run --init-from %s: its checkpoint holds %zu parameters, not a multiple of "
                                          "its network's %zu", dir, ck->n_theta, per);
    size_t src_dirs = per ? ck->n_theta / per : 0;
    if (st == HP_OK && src_dirs != (size_t)h->n_dir)
        st = HP_ERROR_SET(HP_ERR_CONFIG, "run --init-from %s: it trained %zu network%s (directions) and this pipeline "
                                         "has %d (upscaling.mode decides: isotropic 1, anisotropic 2)", dir, src_dirs,
                          src_dirs == 1 ? "" : "s", h->n_dir);
    if (st == HP_OK && !same_layout(sn, h->net[0]))
        st = HP_ERROR_SET(HP_ERR_CONFIG, "run --init-from %s: its network has %zu parameters per direction in another "
                                         "layout than this pipeline's %zu (%s); a warm start needs the same architecture",
                          dir, per, hp__net_n_params(h->net[0]), n_keys ? keys : "the same keys: another version?");
    double rel = 0.0;
    if (st == HP_OK && n_keys) st = function_difference(sn, h, ck->theta, &rel);
    if (st == HP_OK && n_keys && !(rel <= 1e-12))
        st = HP_ERROR_SET(HP_ERR_CONFIG, "run --init-from %s: the networks have the same shape, but the same θ gives "
                                         "another function here (relative difference %.2g): %s. Use the run's values "
                                         "of these keys", dir, rel, keys);
    if (st == HP_OK && n_keys && notes)
        fprintf(notes, "hpinn run: note: --init-from %s: %s; the same θ gives the same network, so it is taken\n", dir,
                keys);
    if (st == HP_OK) memcpy(theta, ck->theta, ck->n_theta * sizeof *theta);
    hp__net_destroy(sn);
    hp_params_destroy(sp);
    return st;
}

hp_status hp__init_from_run(const char *dir, const char *text, const hp_registry *r, hp__hybrid *h, double *theta,
                            hp__init_from *info, FILE *notes) {
    hp__checkpoint ck;
    memset(&ck, 0, sizeof ck);
    HP_CALL(read_source(dir, &ck, notes));
    hp_config *src = NULL;
    char name[HP__PATH_MAX + 64];
    snprintf(name, sizeof name, "%s/%s (the pipeline it was trained with)", dir, HP__CHECKPOINT_FILE);
    hp_status st = hp_config_load_string(ck.config, strlen(ck.config), name, &src);
    if (st == HP_OK) st = check_and_copy(dir, text, r, h, &ck, src, theta, notes);
    if (st == HP_OK) {
        snprintf(info->run_id, sizeof info->run_id, "%s", ck.run_id);
        info->iteration = ck.iteration;
    }
    hp_config_destroy(src);
    hp__checkpoint_clear(&ck);
    return st;
}
