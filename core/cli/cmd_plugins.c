/* cmd_plugins.c — `hpinn plugins [NAME]`: what the registry found, and the
 * parameter table of one plugin. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_bounds(const hp_param_def *d, char *buf, size_t size) {
    buf[0] = '\0';
    int has_min = (d->flags & HP_PARAM_HAS_MIN) != 0, has_max = (d->flags & HP_PARAM_HAS_MAX) != 0;
    if (d->type == HP_PARAM_ENUM) {
        snprintf(buf, size, "%s", d->choices ? d->choices : "");
    } else if (has_min && has_max) {
        snprintf(buf, size, "%c%g, %g]", (d->flags & HP_PARAM_MIN_OPEN) ? '(' : '[', d->min, d->max);
    } else if (has_min) {
        snprintf(buf, size, "%s %g", (d->flags & HP_PARAM_MIN_OPEN) ? ">" : ">=", d->min);
    } else if (has_max) {
        snprintf(buf, size, "<= %g", d->max);
    }
    if (d->type == HP_PARAM_REALS && d->min_len) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%slen >= %zu", used ? ", " : "", d->min_len);
    }
}

static void print_plugin(const hp_plugin_descriptor *d, const char *file) {
    printf("%s plugin '%s' %s — %s\nfile: %s\n\n", hp_plugin_kind_name(d->kind), d->name, d->version, d->summary, file);
    printf("%-22s %-14s %-14s %-18s %s\n", "parameter", "type", "default", "bounds", "doc");
    for (const hp_param_def *p = d->params; p && p->name; p++) {
        char bounds[256];
        print_bounds(p, bounds, sizeof bounds);
        const char *def = p->default_value ? p->default_value : ((p->flags & HP_PARAM_REQUIRED) ? "(required)" : "(none)");
        printf("%-22s %-14s %-14s %-18s %s\n", p->name, hp_param_type_name(p->type), def, bounds, p->doc ? p->doc : "");
    }
}

hp_status hp__cmd_plugins(int argc, char **argv) {
    if (argc > 2) HP_ERROR(HP_ERR_USAGE, "plugins: expected at most one NAME, got %d arguments", argc - 1);
    hp_registry *r;
    HP_CALL(hp_registry_open(&r));
    hp_status st = HP_OK;
    if (argc == 2) {
        int found = 0;
        for (size_t i = 0; i < hp_registry_count(r); i++) {
            const char *file;
            const hp_plugin_descriptor *d = hp_registry_get(r, i, &file);
            if (strcmp(d->name, argv[1]) != 0) continue;
            if (found) printf("\n");
            print_plugin(d, file);
            found = 1;
        }
        if (!found) {
            char list[2048] = "";
            size_t used = 0;
            for (size_t i = 0; i < hp_registry_count(r) && used + 80 < sizeof list; i++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                         hp_registry_get(r, i, NULL)->name);
            st = HP_ERROR_SET(HP_ERR_NOT_FOUND, "plugins: no plugin named '%s'; available: %s", argv[1],
                              used ? list : "none");
        }
    } else {
        printf("%-10s %-12s %-8s %-56s %s\n", "kind", "name", "version", "summary", "file");
        for (int kind = HP_PLUGIN_NETWORK; kind <= HP_PLUGIN_OPTIMIZER; kind++) {
            for (size_t i = 0; i < hp_registry_count(r); i++) {
                const char *file;
                const hp_plugin_descriptor *d = hp_registry_get(r, i, &file);
                if ((int)d->kind != kind) continue;
                printf("%-10s %-12s %-8s %-56s %s\n", hp_plugin_kind_name(d->kind), d->name, d->version, d->summary, file);
            }
        }
        if (hp_registry_count(r) == 0) printf("(no plugins found; searched %s)\n", hp_registry_search_path(r));
        else
            printf("\nWhich optimizer when (docs/optimizers.md): adam for the rough start and resampled points; lbfgs to\n"
                   "refine on fixed points; lm for the residual least squares while min(n, m) is in the low thousands\n"
                   "and the m x n Jacobian fits in memory (gram_rows: 0.25 and gram_precision: single when the rows\n"
                   "outnumber the unknowns ~10:1);\n"
                   "lm_cg when it does not fit (J v and J'u products, O(n + m) memory, more time per step).\n");
        size_t np = hp_registry_problem_count(r);
        if (np) {
            fprintf(stderr, "\n%zu plugin file%s could not be used:\n", np, np == 1 ? "" : "s");
            for (size_t i = 0; i < np; i++) {
                const hp_registry_problem *p = hp_registry_get_problem(r, i);
                fprintf(stderr, "  %s %s\n", p->file, p->message);
            }
        }
    }
    size_t notes = 0;
    hp__cli_print_registry_notes(r, &notes);
    hp_registry_close(r);
    return st;
}
