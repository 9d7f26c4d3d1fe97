/* run_dir.c — the lock, the identity and the clearing of a run directory
 * (run_dir.h). */
#include "run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "hpinn/hpinn.h"
#include "json_in.h"
#include "json_out.h"

hp_status hp__run_lock_acquire(const char *dir, hp__run_lock *lock) {
    lock->fd = -1;
    char path[HP__PATH_MAX];
    HP_CALL(hp__path_join(path, sizeof path, dir, HP__RUN_LOCK_FILE));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) HP_ERROR(HP_ERR_IO, "cannot create the run lock %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char text[32] = "";
        ssize_t n = pread(fd, text, sizeof text - 1, 0);
        close(fd);
        if (e != EWOULDBLOCK)
            HP_ERROR(HP_ERR_IO, "cannot lock the run directory %s: %s", dir, strerror(e));
        long pid = n > 0 ? strtol(text, NULL, 10) : 0;
        if (pid > 0)
            HP_ERROR(HP_ERR_USAGE,
                     "run directory %s is in use by another hpinn process (pid %ld); wait for it to finish, stop "
                     "it, or choose another --out",
                     dir, pid);
        HP_ERROR(HP_ERR_USAGE, "run directory %s is in use by another hpinn process; choose another --out", dir);
    }
    /* the holder's pid, for the message of the next one that tries */
    char text[32];
    int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        /* the lock is held all the same; only the message of a second run loses the pid */
    }
    lock->fd = fd;
    return HP_OK;
}

void hp__run_lock_release(hp__run_lock *lock) {
    if (lock->fd >= 0) close(lock->fd);
    lock->fd = -1;
}

hp_status hp__run_id_new(char id[HP__RUN_ID_CHARS + 1]) {
    unsigned char raw[HP__RUN_ID_CHARS / 2];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, raw, sizeof raw) : -1;
    if (fd >= 0) close(fd);
    if (got != (ssize_t)sizeof raw) {
        /* no urandom (a chroot): time and pid still make two runs' ids differ */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t a = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec, b = (uint64_t)getpid();
        for (size_t i = 0; i < sizeof raw; i++) raw[i] = (unsigned char)((i < 8 ? a >> (8 * i) : b >> (8 * (i - 8))));
    }
    for (size_t i = 0; i < sizeof raw; i++) snprintf(id + 2 * i, 3, "%02x", raw[i]);
    id[HP__RUN_ID_CHARS] = '\0';
    return HP_OK;
}

hp_status hp__run_info_write(const char *dir, const hp__run_info *info) {
    hp__out_file o;
    HP_CALL(hp__out_open(&o, dir, HP__RUN_INFO_FILE));
    FILE *f = o.f;
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f, "{\n  \"run_id\": ");
    hp__json_string(f, info->run_id);
    fprintf(f, ",\n  \"created\": ");
    hp__json_string(f, when);
    fprintf(f, ",\n  \"hpinn_version\": ");
    hp__json_string(f, hp_version());
    fprintf(f, ",\n  \"config\": ");
    hp__json_string(f, info->config_source);
    fprintf(f, ",\n  \"label\": ");
    if (info->label) hp__json_string(f, info->label);
    else fputs("null", f);
    fprintf(f, ",\n  \"init_from\": ");
    if (info->init_from) {
        fprintf(f, "{\"dir\": ");
        hp__json_string(f, info->init_from);
        fprintf(f, ", \"run_id\": ");
        hp__json_string(f, info->init_from_run_id);
        fprintf(f, ", \"iteration\": %llu}", info->init_from_iteration);
    } else {
        fputs("null", f);
    }
    fprintf(f, ",\n  \"command\": [");
    for (int i = 0; i < info->argc; i++) {
        if (i) fputs(", ", f);
        hp__json_string(f, info->argv[i]);
    }
    fprintf(f, "],\n  \"overrides\": [");
    for (size_t i = 0; i < info->n_overrides; i++) {
        if (i) fputs(", ", f);
        hp__json_string(f, info->overrides[i]);
    }
    fprintf(f, "]\n}\n");
    HP_CALL(hp__out_commit(&o, NULL));
    return HP_OK;
}

hp_status hp__run_info_read_id(const char *dir, char id[HP__RUN_ID_CHARS + 1]) {
    char path[HP__PATH_MAX];
    HP_CALL(hp__path_join(path, sizeof path, dir, HP__RUN_INFO_FILE));
    FILE *f = fopen(path, "rb");
    if (!f) HP_ERROR(errno == ENOENT ? HP_ERR_NOT_FOUND : HP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *key = strstr(text, "\"run_id\"");
    const char *q = key ? strchr(key + 8, '"') : NULL;
    if (!q || strspn(q + 1, "0123456789abcdef") != HP__RUN_ID_CHARS || q[1 + HP__RUN_ID_CHARS] != '"')
        HP_ERROR(HP_ERR_CORRUPT, "%s holds no run id; expected the run.json hpinn wrote when the run started", path);
    memcpy(id, q + 1, HP__RUN_ID_CHARS);
    id[HP__RUN_ID_CHARS] = '\0';
    return HP_OK;
}

hp_status hp__run_record_read(const char *dir, hp__run_record *rec) {
    memset(rec, 0, sizeof *rec);
    char path[HP__PATH_MAX];
    HP_CALL(hp__path_join(path, sizeof path, dir, HP__RUN_INFO_FILE));
    hp__json_doc doc;
    HP_CALL(hp__json_load(path, &doc));
    hp_status st = hp__json_dup(hp__json_str(hp__json_get(doc.root, "label")), &rec->label);
    if (st == HP_OK) st = hp__json_dup(hp__json_str(hp__json_get(doc.root, "config")), &rec->config);
    const hp__node *ov = hp__json_get(doc.root, "overrides");
    if (st == HP_OK && ov && ov->kind == HP__SEQUENCE && ov->count) {
        if (!(rec->overrides = calloc(ov->count, sizeof *rec->overrides))) st = HP_ERROR_SET(HP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == HP_OK && i < ov->count; i++) {
            const char *t = hp__json_str(ov->items[i]);
            if (!t) continue;
            st = hp__json_dup(t, &rec->overrides[rec->n_overrides]);
            if (st == HP_OK) rec->n_overrides++;
        }
    }
    hp__json_free(&doc);
    if (st != HP_OK) hp__run_record_free(rec);
    return st;
}

void hp__run_record_free(hp__run_record *rec) {
    free(rec->label);
    free(rec->config);
    for (size_t i = 0; i < rec->n_overrides; i++) free(rec->overrides[i]);
    free(rec->overrides);
    memset(rec, 0, sizeof *rec);
}

/* Written by hp__run_info_write above: {"dir": "...", "run_id": "...", "iteration": N}
 * on one line; the directory is unescaped for \" and \\ only (what paths hold). */
int hp__run_info_read_init_from(const char *dir, char *from, size_t size, char id[HP__RUN_ID_CHARS + 1],
                                unsigned long long *iteration) {
    char path[HP__PATH_MAX];
    if (hp__path_join(path, sizeof path, dir, HP__RUN_INFO_FILE) != HP_OK) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *p = strstr(text, "\"init_from\": {\"dir\": \"");
    if (!p) return 0;
    p += strlen("\"init_from\": {\"dir\": \"");
    size_t k = 0;
    for (; *p && *p != '"' && k + 1 < size; p++) {
        if (*p == '\\' && p[1]) p++;
        from[k++] = *p;
    }
    from[k] = '\0';
    const char *q = strstr(p, "\"run_id\": \"");
    if (!q) return 0;
    q += strlen("\"run_id\": \"");
    snprintf(id, HP__RUN_ID_CHARS + 1, "%.*s", (int)strcspn(q, "\""), q);
    const char *it = strstr(q, "\"iteration\": ");
    *iteration = it ? strtoull(it + strlen("\"iteration\": "), NULL, 10) : 0;
    return 1;
}

/* Every file a run writes into its directory (plots/ is handled apart). */
static const char *const run_outputs[] = {
    HP__RUN_INFO_FILE, HP__RUN_CONFIG_FILE, "history.csv", "events.jsonl", "summary.json", "fields.csv",
    "nodes.csv", "fields.vtk", "nodes.vtk", HP__CHECKPOINT_FILE, HP__CHECKPOINT_PREVIOUS_FILE, NULL};

int hp__run_dir_has_run(const char *dir) {
    static const char *const marks[] = {HP__RUN_INFO_FILE, HP__CHECKPOINT_FILE, "history.csv", NULL};
    for (const char *const *m = marks; *m; m++) {
        char path[HP__PATH_MAX];
        if (hp__path_join(path, sizeof path, dir, *m) != HP_OK) return 0;
        if (access(path, F_OK) == 0) return 1;
    }
    return 0;
}

static hp_status remove_file(const char *path) {
    if (unlink(path) != 0 && errno != ENOENT) HP_ERROR(HP_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    return HP_OK;
}

/* plots/: the figures and gnuplot scripts `hpinn plot` wrote; the directory
 * goes too when nothing else is left in it. */
static hp_status clear_plots(const char *dir) {
    char plots[HP__PATH_MAX];
    HP_CALL(hp__path_join(plots, sizeof plots, dir, "plots"));
    DIR *d = opendir(plots);
    if (!d) return HP_OK;
    static const char *const kinds[] = {".png", ".svg", ".pdf", ".gp", ".dat", NULL};
    struct dirent *e;
    hp_status st = HP_OK;
    while (st == HP_OK && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        for (const char *const *k = kinds; *k; k++) {
            size_t kl = strlen(*k);
            if (len > kl && strcmp(e->d_name + len - kl, *k) == 0) {
                char path[HP__PATH_MAX + 256];
                snprintf(path, sizeof path, "%s/%s", plots, e->d_name);
                st = remove_file(path);
                break;
            }
        }
    }
    closedir(d);
    if (st == HP_OK) (void)rmdir(plots); /* fails, harmlessly, when the user keeps files there */
    return st;
}

hp_status hp__run_dir_clear(const char *dir) {
    for (const char *const *f = run_outputs; *f; f++) {
        char path[HP__PATH_MAX];
        HP_CALL(hp__path_join(path, sizeof path, dir, *f));
        HP_CALL(remove_file(path));
    }
    HP_CALL(clear_plots(dir));
    return HP_OK;
}
