/* fileio.c — atomic outputs, the little-endian codec, checked record files and
 * VTK (contracts in fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checksum.h"

hp_status hp__path_join(char *buf, size_t size, const char *dir, const char *name) {
    int n = dir ? snprintf(buf, size, "%s/%s", dir, name) : snprintf(buf, size, "%s", name);
    if (n < 0 || (size_t)n >= size) HP_ERROR(HP_ERR_USAGE, "path too long: %s/%s", dir ? dir : "", name);
    return HP_OK;
}

/* ---- atomic outputs ------------------------------------------------------------ */

/* fsync the directory holding `path`, so a rename in it is durable. */
static void sync_parent_dir(const char *path) {
    char dir[HP__PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return; /* best effort: the data itself is synced */
    (void)fsync(fd);
    close(fd);
}

hp_status hp__out_open(hp__out_file *o, const char *dir, const char *name) {
    memset(o, 0, sizeof *o);
    HP_CALL(hp__path_join(o->path, sizeof o->path, dir, name));
    /* the pid keeps two writers of one name from sharing a temporary file */
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", o->path, (long)getpid());
    int fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) HP_ERROR(HP_ERR_IO, "cannot write %s: %s", o->path, strerror(errno));
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        int e = errno;
        close(fd);
        unlink(o->tmp);
        HP_ERROR(HP_ERR_IO, "cannot write %s: %s", o->path, strerror(e));
    }
    return HP_OK;
}

void hp__out_abort(hp__out_file *o) {
    if (o->f) fclose(o->f);
    if (o->tmp[0]) unlink(o->tmp);
    o->f = NULL;
    o->tmp[0] = '\0';
}

/* Keep the file at `path` as `previous` (same directory) before it is replaced:
 * a hard link keeps `path` itself in place until the final rename, so there is
 * no moment without a file at `path`. */
static void keep_as_previous(const char *path, const char *previous) {
    char prev[HP__PATH_MAX + 64], prev_tmp[HP__PATH_MAX + 96];
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) : 0;
    if (slash) snprintf(prev, sizeof prev, "%.*s/%s", dir_len, path, previous);
    else snprintf(prev, sizeof prev, "%s", previous);
    snprintf(prev_tmp, sizeof prev_tmp, "%s.tmp.%ld", prev, (long)getpid());
    unlink(prev_tmp);
    if (link(path, prev_tmp) != 0) return; /* no earlier file (or no hard links): nothing to keep */
    if (rename(prev_tmp, prev) != 0) unlink(prev_tmp);
}

hp_status hp__out_commit(hp__out_file *o, const char *keep_previous) {
    FILE *f = o->f;
    o->f = NULL;
    int failed = fflush(f) != 0 || ferror(f);
    int e = failed ? errno : 0;
    if (!failed && fsync(fileno(f)) != 0) {
        failed = 1;
        e = errno;
    }
    if (fclose(f) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    if (failed) {
        unlink(o->tmp);
        HP_ERROR(HP_ERR_IO, "cannot write %s: %s (the previous file, if any, is unchanged)", o->path,
                 e ? strerror(e) : "write error");
    }
    if (keep_previous) keep_as_previous(o->path, keep_previous);
    if (rename(o->tmp, o->path) != 0) {
        e = errno;
        unlink(o->tmp);
        HP_ERROR(HP_ERR_IO, "cannot rename %s to %s: %s", o->tmp, o->path, strerror(e));
    }
    sync_parent_dir(o->path);
    return HP_OK;
}

hp_status hp__write_atomic(const char *dir, const char *name, const void *data, size_t len,
                           const char *keep_previous) {
    hp__out_file o;
    HP_CALL(hp__out_open(&o, dir, name));
    if (len && fwrite(data, 1, len, o.f) != len) {
        int e = errno;
        hp__out_abort(&o);
        HP_ERROR(HP_ERR_IO, "cannot write %s: %s", o.path, strerror(e));
    }
    HP_CALL(hp__out_commit(&o, keep_previous));
    return HP_OK;
}

/* ---- little-endian encoding --------------------------------------------------------- */

void hp__bytes_free(hp__bytes *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

static int bytes_reserve(hp__bytes *b, size_t more) {
    if (b->failed) return 0;
    if (more > SIZE_MAX - b->len) {
        b->failed = 1;
        return 0;
    }
    if (b->len + more <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more) cap = cap > SIZE_MAX / 2 ? b->len + more : 2 * cap;
    unsigned char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return 0;
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

void hp__put_raw(hp__bytes *b, const void *data, size_t len) {
    if (!len || !bytes_reserve(b, len)) return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void hp__put_u32(hp__bytes *b, uint32_t v) {
    unsigned char p[4];
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
    hp__put_raw(b, p, 4);
}

void hp__put_u64(hp__bytes *b, uint64_t v) {
    unsigned char p[8];
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
    hp__put_raw(b, p, 8);
}

void hp__put_f64(hp__bytes *b, double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    hp__put_u64(b, u);
}

void hp__put_f64s(hp__bytes *b, const double *v, size_t n) {
    if (n > SIZE_MAX / 8 || !bytes_reserve(b, 8 * n)) {
        b->failed = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) hp__put_f64(b, v[i]);
}

void hp__put_string(hp__bytes *b, const char *s) {
    size_t n = s ? strlen(s) : 0;
    hp__put_u64(b, n);
    hp__put_raw(b, s, n);
}

hp_status hp__bytes_status(const hp__bytes *b) {
    if (b->failed) HP_ERROR(HP_ERR_NOMEM, "out of memory assembling a file of more than %zu bytes", b->len);
    return HP_OK;
}

void hp__get_raw(hp__reader *r, void *out, size_t len) {
    if (r->failed || len > r->len - r->pos) {
        r->failed = 1;
        if (out && len) memset(out, 0, len);
        return;
    }
    if (len) memcpy(out, r->p + r->pos, len);
    r->pos += len;
}

uint32_t hp__get_u32(hp__reader *r) {
    unsigned char p[4];
    hp__get_raw(r, p, 4);
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

uint64_t hp__get_u64(hp__reader *r) {
    unsigned char p[8];
    hp__get_raw(r, p, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

double hp__get_f64(hp__reader *r) {
    uint64_t u = hp__get_u64(r);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

void hp__get_f64s(hp__reader *r, double *out, size_t n) {
    if (r->failed || n > (r->len - r->pos) / 8) {
        r->failed = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) out[i] = hp__get_f64(r);
}

char *hp__get_string(hp__reader *r, size_t max_len) {
    uint64_t n = hp__get_u64(r);
    if (r->failed || n > max_len || n > r->len - r->pos) {
        r->failed = 1;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->failed = 1;
        return NULL;
    }
    hp__get_raw(r, s, (size_t)n);
    s[n] = '\0';
    return s;
}

hp_status hp__reader_done(const hp__reader *r, const char *what) {
    if (r->failed) HP_ERROR(HP_ERR_CORRUPT, "%s is corrupted: a field runs past the end of its data", what);
    if (r->pos != r->len)
        HP_ERROR(HP_ERR_CORRUPT, "%s is corrupted: %zu unexpected bytes after its last field", what,
                 r->len - r->pos);
    return HP_OK;
}

/* ---- checked record files ---------------------------------------------------------- */

#define RECORD_HEADER 20u /* magic 8 | version 4 | payload length 8 */

hp_status hp__record_write(const char *dir, const char *name, const char magic[8], uint32_t version,
                           const hp__bytes *payload, const char *keep_previous) {
    HP_CALL(hp__bytes_status(payload));
    hp__bytes b = {0};
    hp__put_raw(&b, magic, 8);
    hp__put_u32(&b, version);
    hp__put_u64(&b, payload->len);
    hp__put_raw(&b, payload->data, payload->len);
    hp_status st = hp__bytes_status(&b);
    if (st == HP_OK) {
        hp__put_u64(&b, hp__fnv1a64(b.data, b.len));
        st = hp__bytes_status(&b);
    }
    if (st == HP_OK) st = hp__write_atomic(dir, name, b.data, b.len, keep_previous);
    hp__bytes_free(&b);
    if (st != HP_OK) hp_error_push_frame(__FILE__, __LINE__, __func__);
    return st;
}

hp_status hp__record_read(const char *dir, const char *name, const char magic[8], uint32_t version,
                          const char *what, unsigned char **payload, size_t *len) {
    *payload = NULL;
    *len = 0;
    char path[HP__PATH_MAX];
    HP_CALL(hp__path_join(path, sizeof path, dir, name));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        HP_ERROR(e == ENOENT ? HP_ERR_NOT_FOUND : HP_ERR_IO, "cannot open %s: %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        HP_ERROR(HP_ERR_CORRUPT, "%s is not a regular file; expected %s", path, what);
    }
    size_t size = (size_t)sb.st_size;
    if (size < RECORD_HEADER + 8) {
        close(fd);
        HP_ERROR(HP_ERR_CORRUPT, "%s is truncated: %zu bytes; expected %s", path, size, what);
    }
    unsigned char *buf = malloc(size);
    if (!buf) {
        close(fd);
        HP_ERROR(HP_ERR_NOMEM, "out of memory reading %s (%zu bytes)", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    hp_status st = HP_OK;
    hp__reader r = {buf, size, 0, 0};
    char m[8];
    hp__get_raw(&r, m, 8);
    uint32_t v = hp__get_u32(&r);
    uint64_t plen = hp__get_u64(&r);
    if (got != size) {
        st = HP_ERROR_SET(HP_ERR_IO, "cannot read %s (got %zu of %zu bytes)", path, got, size);
    } else if (memcmp(m, magic, 8) != 0) {
        st = HP_ERROR_SET(HP_ERR_CORRUPT, "%s is not %s (wrong magic; expected \"%.8s\")", path, what, magic);
    } else if (v != version) {
        st = HP_ERROR_SET(HP_ERR_CORRUPT, "%s has format version %u; this hpinn reads %s version %u", path, v,
                          what, version);
    } else if (plen != size - RECORD_HEADER - 8) {
        st = HP_ERROR_SET(HP_ERR_CORRUPT, "%s is %s: %zu bytes, its header announces %llu", path,
                          plen > size - RECORD_HEADER - 8 ? "truncated" : "corrupted (trailing bytes)", size,
                          (unsigned long long)(plen + RECORD_HEADER + 8));
    } else {
        hp__reader tail = {buf + size - 8, 8, 0, 0};
        if (hp__fnv1a64(buf, size - 8) != hp__get_u64(&tail))
            st = HP_ERROR_SET(HP_ERR_CORRUPT, "%s is corrupted: checksum mismatch", path);
    }
    if (st != HP_OK) {
        free(buf);
        return st;
    }
    memmove(buf, buf + RECORD_HEADER, (size_t)plen);
    *payload = buf;
    *len = (size_t)plen;
    return HP_OK;
}

/* ---- VTK ------------------------------------------------------------------------------ */

hp_status hp__write_vtk_grid(const char *dir, const char *name, int per_axis, const char *const *names,
                             const double *const *cols, int n_cols) {
    hp__out_file o;
    HP_CALL(hp__out_open(&o, dir, name));
    FILE *f = o.f;
    size_t n = (size_t)per_axis * (size_t)per_axis;
    double h = 1.0 / (double)(per_axis - 1);
    fprintf(f, "# vtk DataFile Version 3.0\nhpinn %s\nASCII\nDATASET STRUCTURED_POINTS\n", name);
    fprintf(f, "DIMENSIONS %d %d 1\nORIGIN 0 0 0\nSPACING %.17g %.17g 1\nPOINT_DATA %zu\n", per_axis, per_axis, h,
            h, n);
    for (int c = 0; c < n_cols; c++) {
        fprintf(f, "SCALARS %s double 1\nLOOKUP_TABLE default\n", names[c]);
        for (size_t r = 0; r < n; r++) fprintf(f, "%.17g\n", cols[c][r]);
    }
    HP_CALL(hp__out_commit(&o, NULL));
    return HP_OK;
}
