/* sweep_record.c — sweep.json written, read back and compared (sweep_record.h). */
#include "sweep_record.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "cli.h"
#include "fileio.h"
#include "hpinn/hpinn.h"
#include "json_in.h"
#include "json_out.h"
#include "machine.h"
#include "yaml_flat.h"

hp_status hp__sweep_pipeline_checksum(const char *config_path, char out[40]) {
    hp__json_doc doc;
    HP_CALL(hp__json_load(config_path, &doc));
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        hp__json_free(&doc);
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < doc.root->count; i++) {
        if (strcmp(doc.root->keys[i]->text, "sweep") == 0) continue;
        hp__node_write_flow(doc.root->keys[i], mem);
        fputs(": ", mem);
        hp__node_write_flow(doc.root->items[i], mem);
        fputc('\n', mem);
    }
    fclose(mem);
    hp__json_free(&doc);
    if (!text) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    snprintf(out, 40, "fnv1a64:%016" PRIx64, hp__fnv1a64((const unsigned char *)text, len));
    free(text);
    return HP_OK;
}

static void string_list(FILE *f, char *const *v, size_t n) {
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        hp__json_string(f, v[i]);
    }
    fputc(']', f);
}

hp_status hp__sweep_record_write(const char *dir, const hp__sweep_record *rec, const hp__sweep_member *m, size_t n,
                                 int argc, char **argv) {
    hp__out_file o;
    HP_CALL(hp__out_open(&o, dir, HP__SWEEP_RECORD_FILE));
    FILE *f = o.f;
    fprintf(f, "{\n  \"hpinn_version\": ");
    hp__json_string(f, hp_version());
    fprintf(f, ",\n  \"git_commit\": ");
    hp__json_string(f, hp__git_commit());
    fprintf(f, ",\n  \"config\": ");
    hp__json_string(f, rec->config);
    fprintf(f, ",\n  \"config_path\": ");
    hp__json_string(f, rec->config_path);
    fprintf(f, ",\n  \"pipeline_checksum\": ");
    hp__json_string(f, rec->checksum);
    fprintf(f, ",\n  \"command\": [");
    hp__json_string(f, hp__cli_program ? hp__cli_program : "hpinn");
    for (int i = 0; i < argc; i++) {
        fputs(", ", f);
        hp__json_string(f, argv[i]);
    }
    fputc(']', f);
    fprintf(f, ",\n  \"grid\": [");
    for (size_t i = 0; i < rec->grid.n_axes; i++) {
        fprintf(f, "%s\n    {\"key\": ", i ? "," : "");
        hp__json_string(f, rec->grid.axes[i].key);
        fprintf(f, ", \"values\": ");
        string_list(f, rec->grid.axes[i].values, rec->grid.axes[i].n_values);
        fputc('}', f);
    }
    fprintf(f, "%s],\n  \"members\": [", rec->grid.n_axes ? "\n  " : "");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s\n    {\"dir\": ", i ? "," : "");
        hp__json_string(f, m[i].name);
        fprintf(f, ", \"overrides\": ");
        string_list(f, m[i].overrides, m[i].n_overrides);
        fprintf(f, ", \"status\": \"%s\", \"exit_code\": ", hp__member_status_name(m[i].status));
        if (m[i].exit_code >= 0) fprintf(f, "%d", m[i].exit_code);
        else fputs("null", f);
        fprintf(f, ", \"error\": ");
        if (m[i].error[0]) hp__json_string(f, m[i].error);
        else fputs("null", f);
        fputc('}', f);
    }
    fprintf(f, "%s]\n}\n", n ? "\n  " : "");
    HP_CALL(hp__out_commit(&o, NULL));
    return HP_OK;
}

static hp_status strings_of(const hp__node *list, char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!list || list->kind != HP__SEQUENCE) return HP_OK;
    if (!(*out = calloc(list->count ? list->count : 1, sizeof **out))) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < list->count; i++) {
        const char *s = hp__json_str(list->items[i]);
        HP_CALL(hp__json_dup(s ? s : "", &(*out)[i]));
        ++*n;
    }
    return HP_OK;
}

static hp_status read_members(const hp__node *list, hp__sweep_record *rec, const char *path) {
    if (!list || list->kind != HP__SEQUENCE) return HP_OK;
    if (!(rec->members = calloc(list->count ? list->count : 1, sizeof *rec->members)))
        HP_ERROR(HP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < list->count; i++) {
        const hp__node *e = list->items[i];
        hp__sweep_member *m = &rec->members[rec->n_members];
        const char *dir = hp__json_str(hp__json_get(e, "dir"));
        if (!dir || !*dir || strchr(dir, '/') || strcmp(dir, "..") == 0)
            HP_ERROR(HP_ERR_CORRUPT, "%s: member %zu has no directory name; expected the sweep.json hpinn sweep wrote",
                     path, i + 1);
        snprintf(m->name, sizeof m->name, "%s", dir);
        m->exit_code = -1;
        rec->n_members++;
        HP_CALL(strings_of(hp__json_get(e, "overrides"), &m->overrides, &m->n_overrides));
        const char *status = hp__json_str(hp__json_get(e, "status"));
        m->status = !status ? HP__MEMBER_PENDING
                    : strcmp(status, "done") == 0 ? HP__MEMBER_DONE
                    : strcmp(status, "failed") == 0 ? HP__MEMBER_FAILED
                    : strcmp(status, "running") == 0 ? HP__MEMBER_RUNNING
                    : HP__MEMBER_PENDING;
        double code = hp__json_num(hp__json_get(e, "exit_code"));
        if (code == code) m->exit_code = (int)code;
        const char *err = hp__json_str(hp__json_get(e, "error"));
        if (err) snprintf(m->error, sizeof m->error, "%s", err);
    }
    return HP_OK;
}

static hp_status read_grid(const hp__node *list, hp__sweep_spec *grid) {
    if (!list || list->kind != HP__SEQUENCE) return HP_OK;
    if (!(grid->axes = calloc(list->count ? list->count : 1, sizeof *grid->axes))) HP_ERROR(HP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < list->count; i++) {
        hp__sweep_axis *a = &grid->axes[grid->n_axes++];
        HP_CALL(hp__json_dup(hp__json_str(hp__json_get(list->items[i], "key")), &a->key));
        if (!a->key) HP_CALL(hp__json_dup("", &a->key));
        HP_CALL(strings_of(hp__json_get(list->items[i], "values"), &a->values, &a->n_values));
    }
    return HP_OK;
}

hp_status hp__sweep_record_read(const char *dir, hp__sweep_record *rec) {
    memset(rec, 0, sizeof *rec);
    char path[HP__PATH_MAX];
    HP_CALL(hp__path_join(path, sizeof path, dir, HP__SWEEP_RECORD_FILE));
    hp__json_doc doc;
    HP_CALL(hp__json_load(path, &doc));
    hp_status st = hp__json_dup(hp__json_str(hp__json_get(doc.root, "config")), &rec->config);
    if (st == HP_OK) st = hp__json_dup(hp__json_str(hp__json_get(doc.root, "config_path")), &rec->config_path);
    if (st == HP_OK) st = hp__json_dup(hp__json_str(hp__json_get(doc.root, "pipeline_checksum")), &rec->checksum);
    if (st == HP_OK) st = read_grid(hp__json_get(doc.root, "grid"), &rec->grid);
    if (st == HP_OK) st = read_members(hp__json_get(doc.root, "members"), rec, path);
    if (st == HP_OK && !hp__json_get(doc.root, "members"))
        st = HP_ERROR_SET(HP_ERR_CORRUPT, "%s has no members; expected the sweep.json hpinn sweep wrote", path);
    hp__json_free(&doc);
    if (st != HP_OK) hp__sweep_record_free(rec);
    return st;
}

void hp__sweep_record_free(hp__sweep_record *rec) {
    free(rec->config);
    free(rec->config_path);
    free(rec->checksum);
    hp__sweep_spec_free(&rec->grid);
    hp__sweep_members_free(rec->members, rec->n_members);
    memset(rec, 0, sizeof *rec);
}

static void values_text(const hp__sweep_axis *a, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < a->n_values && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", a->values[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

static const hp__sweep_axis *axis_of(const hp__sweep_spec *g, const char *key) {
    for (size_t i = 0; i < g->n_axes; i++)
        if (strcmp(g->axes[i].key, key) == 0) return &g->axes[i];
    return NULL;
}

static int same_values(const hp__sweep_axis *a, const hp__sweep_axis *b) {
    if (a->n_values != b->n_values) return 0;
    for (size_t i = 0; i < a->n_values; i++)
        if (strcmp(a->values[i], b->values[i]) != 0) return 0;
    return 1;
}

hp_status hp__sweep_record_compare(const hp__sweep_record *was, const hp__sweep_record *now, const char *dir) {
    char diff[3000] = "";
    size_t used = 0;
#define DIFF(...)                                                                                   \
    do {                                                                                            \
        if (used < sizeof diff - 200) {                                                             \
            used += (size_t)snprintf(diff + used, sizeof diff - used, "%s", used ? "; " : "");      \
            used += (size_t)snprintf(diff + used, sizeof diff - used, __VA_ARGS__);                 \
        }                                                                                           \
    } while (0)
    const char *wp = was->config_path ? was->config_path : was->config;
    if (!wp || strcmp(wp, now->config_path) != 0)
        DIFF("the pipeline: %s was recorded, now %s", wp ? wp : "(none)", now->config_path);
    else if (!was->checksum || strcmp(was->checksum, now->checksum) != 0)
        DIFF("%s changed since the sweep started (its sections other than sweep: are not the ones recorded)",
             now->config);
    char a_text[700], b_text[700];
    for (size_t i = 0; i < now->grid.n_axes; i++) {
        const hp__sweep_axis *b = &now->grid.axes[i], *a = axis_of(&was->grid, b->key);
        values_text(b, b_text, sizeof b_text);
        if (!a) {
            DIFF("%s %s: not in the recorded sweep", b->key, b_text);
        } else if (!same_values(a, b)) {
            values_text(a, a_text, sizeof a_text);
            DIFF("%s: %s was recorded, now %s", b->key, a_text, b_text);
        }
    }
    for (size_t i = 0; i < was->grid.n_axes; i++) {
        const hp__sweep_axis *a = &was->grid.axes[i];
        if (axis_of(&now->grid, a->key)) continue;
        values_text(a, a_text, sizeof a_text);
        DIFF("%s %s: recorded, not given now", a->key, a_text);
    }
    if (!used) {
        /* same keys and values: the order decides the members' names and order */
        for (size_t i = 0; i < now->grid.n_axes && i < was->grid.n_axes; i++)
            if (strcmp(now->grid.axes[i].key, was->grid.axes[i].key) != 0) {
                DIFF("the keys are in another order (recorded: %s first, now: %s)", was->grid.axes[i].key,
                     now->grid.axes[i].key);
                break;
            }
    }
#undef DIFF
    if (!used) return HP_OK;
    HP_ERROR(HP_ERR_USAGE, "sweep: %s/%s records another sweep: %s; run this one into another --out (or remove "
             "%s/%s to start it over in %s)", dir, HP__SWEEP_RECORD_FILE, diff, dir, HP__SWEEP_RECORD_FILE, dir);
}
