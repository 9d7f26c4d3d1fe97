/* sweep_record.h (private to the hpinn command) — DIR/sweep.json, the record
 * of a sweep: the pipeline it was started from (its path and a checksum of its
 * sections other than sweep:), the grid, and every member with its overrides,
 * status, exit code and last error. `hpinn sweep` rewrites it (atomically) at
 * every start and end of a member and refuses to continue a sweep whose grid
 * differs from it; `hpinn compare DIR` expands a sweep through it. */
#ifndef HPINN_SWEEP_RECORD_H
#define HPINN_SWEEP_RECORD_H

#include "sweep_spec.h"

#define HP__SWEEP_RECORD_FILE "sweep.json"

typedef struct hp__sweep_record {
    char *config;        /* as given on the command line */
    char *config_path;   /* its absolute path */
    char *checksum;      /* "fnv1a64:<16 hex>" of the pipeline without its sweep: section */
    hp__sweep_spec grid; /* axes only */
    hp__sweep_member *members;
    size_t n_members;
} hp__sweep_record;

/* The checksum of the pipeline file's sections other than sweep: (their flow
 * text: comments, layout and the sweep: section do not change it). */
hp_status hp__sweep_pipeline_checksum(const char *config_path, char out[40]);

/* Write dir/sweep.json. `rec` gives config, config_path, checksum and grid;
 * the members (and their states) are passed apart. argv: the sweep's command. */
hp_status hp__sweep_record_write(const char *dir, const hp__sweep_record *rec, const hp__sweep_member *members,
                                 size_t n, int argc, char **argv);
/* Read dir/sweep.json: HP_ERR_NOT_FOUND without one, HP_ERR_CORRUPT when it is
 * not one. */
hp_status hp__sweep_record_read(const char *dir, hp__sweep_record *rec);
void hp__sweep_record_free(hp__sweep_record *rec);

/* HP_ERR_USAGE naming every difference between the recorded sweep and `now`
 * (pipeline, checksum, keys, values); HP_OK when they are the same sweep. */
hp_status hp__sweep_record_compare(const hp__sweep_record *recorded, const hp__sweep_record *now, const char *dir);

#endif
