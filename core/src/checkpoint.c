/* checkpoint.c — writing and checking the trainer's checkpoints (layout in
 * checkpoint.h) on the checked record files of fileio.h. A reader never trusts
 * a length it has not checked against the record, and refuses non-finite θ:
 * a checksum protects against accidents, not against a writer that stored bad
 * numbers, and a resumed run must never start from them. */
#include "checkpoint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

#define MAGIC "HPINNCKP"
#define CONFIG_MAX (64u << 20)

hp_status hp__checkpoint_write(const char *dir, const hp__checkpoint *ck) {
    if (ck->n_theta && !ck->theta) HP_ERROR(HP_ERR_INTERNAL, "checkpoint: theta is NULL");
    if (ck->optimizer_bytes && !ck->optimizer_state) HP_ERROR(HP_ERR_INTERNAL, "checkpoint: optimizer state is NULL");
    hp__bytes b = {0};
    hp__put_string(&b, ck->run_id);
    hp__put_string(&b, ck->config ? ck->config : "");
    hp__put_u64(&b, ck->iteration);
    hp__put_u64(&b, ck->stage);
    hp__put_u64(&b, ck->stage_iteration);
    hp__put_u64(&b, ck->flags);
    hp__put_u64(&b, ck->history_bytes);
    hp__put_u64(&b, ck->history_hash);
    hp__put_f64(&b, ck->elapsed_seconds);
    hp__put_f64(&b, ck->best_value);
    hp__put_u64(&b, ck->n_theta);
    hp__put_f64s(&b, ck->theta, ck->n_theta);
    hp__put_string(&b, ck->optimizer);
    hp__put_u64(&b, ck->optimizer_bytes);
    hp__put_raw(&b, ck->optimizer_state, ck->optimizer_bytes);
    hp__put_u64(&b, ck->n_points);
    hp__put_u64(&b, ck->dim);
    hp__put_f64s(&b, ck->points, ck->n_points * ck->dim);
    hp__put_f64s(&b, ck->weights, ck->n_points);
    hp_status st = hp__record_write(dir, HP__CHECKPOINT_FILE, MAGIC, HP__CHECKPOINT_VERSION, &b,
                                    HP__CHECKPOINT_PREVIOUS_FILE);
    hp__bytes_free(&b);
    if (st != HP_OK) hp_error_push_frame(__FILE__, __LINE__, __func__);
    return st;
}

void hp__checkpoint_clear(hp__checkpoint *ck) {
    free(ck->config);
    free(ck->theta);
    free(ck->optimizer_state);
    free(ck->points);
    free(ck->weights);
    memset(ck, 0, sizeof *ck);
}

hp_status hp__checkpoint_read(const char *dir, const char *name, size_t expected_n_theta, hp__checkpoint *out) {
    memset(out, 0, sizeof *out);
    char what[HP__PATH_MAX + 32];
    snprintf(what, sizeof what, "checkpoint %s/%s", dir, name);
    unsigned char *buf = NULL;
    size_t len = 0;
    HP_CALL(hp__record_read(dir, name, MAGIC, HP__CHECKPOINT_VERSION, "an hpinn checkpoint", &buf, &len));
    hp__reader r = {buf, len, 0, 0};
    hp__checkpoint ck;
    memset(&ck, 0, sizeof ck);
    hp_status st = HP_OK;
    char *id = hp__get_string(&r, HP__RUN_ID_CHARS);
    if (id) snprintf(ck.run_id, sizeof ck.run_id, "%s", id);
    free(id);
    ck.config = hp__get_string(&r, CONFIG_MAX);
    ck.iteration = hp__get_u64(&r);
    ck.stage = hp__get_u64(&r);
    ck.stage_iteration = hp__get_u64(&r);
    ck.flags = hp__get_u64(&r);
    ck.history_bytes = hp__get_u64(&r);
    ck.history_hash = hp__get_u64(&r);
    ck.elapsed_seconds = hp__get_f64(&r);
    ck.best_value = hp__get_f64(&r);
    uint64_t n = hp__get_u64(&r);
    if (!r.failed && n > hp__reader_left(&r) / 8) r.failed = 1;
    if (!r.failed && expected_n_theta && n != expected_n_theta) {
        st = HP_ERROR_SET(HP_ERR_CORRUPT,
                          "%s holds %llu network parameters but the pipeline's network has %zu; it belongs to "
                          "another configuration",
                          what, (unsigned long long)n, expected_n_theta);
        goto fail;
    }
    if (!r.failed) {
        ck.n_theta = (size_t)n;
        ck.theta = malloc(ck.n_theta ? 8 * ck.n_theta : 1);
        if (!ck.theta) {
            st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory reading %s", what);
            goto fail;
        }
        hp__get_f64s(&r, ck.theta, ck.n_theta);
    }
    char *opt = hp__get_string(&r, sizeof ck.optimizer - 1);
    if (opt) snprintf(ck.optimizer, sizeof ck.optimizer, "%s", opt);
    free(opt);
    uint64_t ob = hp__get_u64(&r);
    if (!r.failed && ob > hp__reader_left(&r)) r.failed = 1;
    if (!r.failed) {
        ck.optimizer_bytes = (size_t)ob;
        ck.optimizer_state = malloc(ob ? (size_t)ob : 1);
        if (!ck.optimizer_state) {
            st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory reading %s", what);
            goto fail;
        }
        hp__get_raw(&r, ck.optimizer_state, ck.optimizer_bytes);
    }
    uint64_t np = hp__get_u64(&r), pd = hp__get_u64(&r);
    if (!r.failed && (pd > 3 || np > hp__reader_left(&r) / 8 / (pd + 1))) r.failed = 1;
    if (!r.failed && np) {
        ck.n_points = (size_t)np;
        ck.dim = (size_t)pd;
        ck.points = malloc(ck.n_points * ck.dim * 8);
        ck.weights = malloc(ck.n_points * 8);
        if (!ck.points || !ck.weights) {
            st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory reading %s", what);
            goto fail;
        }
        hp__get_f64s(&r, ck.points, ck.n_points * ck.dim);
        hp__get_f64s(&r, ck.weights, ck.n_points);
    }
    HP_CALL_GOTO(st, hp__reader_done(&r, what), fail);
    if (!ck.config || strlen(ck.run_id) != HP__RUN_ID_CHARS) {
        st = HP_ERROR_SET(HP_ERR_CORRUPT, "%s is corrupted: no run id or configuration", what);
        goto fail;
    }
    for (size_t i = 0; i < ck.n_theta; i++) {
        if (!isfinite(ck.theta[i])) {
            st = HP_ERROR_SET(HP_ERR_CORRUPT, "%s is corrupted: theta[%zu] is not finite", what, i);
            goto fail;
        }
    }
    free(buf);
    *out = ck;
    return HP_OK;
fail:
    free(buf);
    hp__checkpoint_clear(&ck);
    return st;
}
