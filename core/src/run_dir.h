/* run_dir.h (private) — a run directory belongs to one run.
 *
 *   - a lock: every `hpinn run` and `run --resume` holds an exclusive flock on
 *     DIR/.hpinn.lock for its whole life (the kernel releases it when the
 *     process dies, however it dies); a second one is refused, naming the
 *     holder's pid;
 *   - an identity: DIR/run.json names the run's id, written when the run starts;
 *     checkpoints carry the same id, so a checkpoint copied from another run is
 *     refused (checkpoint.h);
 *   - clearing: `--force` removes exactly the files an earlier run wrote (and its
 *     plots), only after the new pipeline has been validated completely; files
 *     hpinn did not write are left alone, and so is the fine reference cache
 *     (keyed by what it depends on, problem.c).
 */
#ifndef HPINN_RUN_DIR_H
#define HPINN_RUN_DIR_H

#include <stddef.h>

#include "checkpoint.h"
#include "hpinn/status.h"

#define HP__RUN_LOCK_FILE ".hpinn.lock"
#define HP__RUN_INFO_FILE "run.json"
#define HP__RUN_CONFIG_FILE "config.resolved.yaml"

typedef struct hp__run_lock {
    int fd; /* -1: not held */
} hp__run_lock;

/* Lock dir (which must exist). Another holder: HP_ERR_USAGE naming its pid. */
hp_status hp__run_lock_acquire(const char *dir, hp__run_lock *lock);
/* Release (also done by the kernel at exit). */
void hp__run_lock_release(hp__run_lock *lock);

/* A new random run id of HP__RUN_ID_CHARS hex digits. */
hp_status hp__run_id_new(char id[HP__RUN_ID_CHARS + 1]);

/* What run.json records when the run starts. */
typedef struct hp__run_info {
    const char *run_id;
    const char *config_source;  /* the pipeline file the run was started from */
    const char *label;          /* may be NULL */
    const char *init_from;      /* --init-from: the run directory θ came from, or NULL */
    const char *init_from_run_id;
    unsigned long long init_from_iteration;
    int argc;                   /* the command line */
    char **argv;
    const char *const *overrides; /* the --set arguments, in order (n_overrides of them) */
    size_t n_overrides;
} hp__run_info;

hp_status hp__run_info_write(const char *dir, const hp__run_info *info);

/* What run.json says about how the run was started, read back (a resumed run's
 * summary and `hpinn compare` use it). Absent members are NULL / empty. */
typedef struct hp__run_record {
    char *label;
    char *config;
    char **overrides;
    size_t n_overrides;
} hp__run_record;
/* HP_ERR_NOT_FOUND without run.json, HP_ERR_CORRUPT when it is not JSON. */
hp_status hp__run_record_read(const char *dir, hp__run_record *rec);
void hp__run_record_free(hp__run_record *rec);
/* The run id in dir/run.json; HP_ERR_NOT_FOUND without the file, HP_ERR_CORRUPT
 * when it holds no id. */
hp_status hp__run_info_read_id(const char *dir, char id[HP__RUN_ID_CHARS + 1]);

/* The init_from record of dir/run.json (dir, run id, iteration): 1 when there
 * is one, 0 when the run started from its own initialisation or there is no
 * run.json. */
int hp__run_info_read_init_from(const char *dir, char *from, size_t size, char id[HP__RUN_ID_CHARS + 1],
                                unsigned long long *iteration);

/* Nonzero when dir holds outputs of an earlier run. */
int hp__run_dir_has_run(const char *dir);
/* Remove an earlier run's outputs (see the file comment). */
hp_status hp__run_dir_clear(const char *dir);

#endif
