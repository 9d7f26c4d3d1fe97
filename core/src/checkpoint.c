/* checkpoint.c — writing and checking the trainer's checkpoint files (layout in
 * checkpoint.h). The file is assembled in memory, checksummed, then written to a
 * temporary file that replaces the old checkpoint only once it is safely on disk.
 * Every field is encoded little-endian byte by byte, so a checkpoint means the
 * same thing on any machine and a reader never trusts a length it has not checked
 * against the file's actual size. */
#include "checksum.h"
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAYLOAD_FIXED_BYTES (5u * 8u + 3u * 8u) /* five u64 counters, three f64 */
#define TRAILER_BYTES 8u

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_f64(unsigned char *p, double d) {
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put_u64(p, v);
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static double get_f64(const unsigned char *p) {
    uint64_t v = get_u64(p);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* Write all of buf to fd, retrying short writes. */
static int write_all(int fd, const unsigned char *buf, size_t len) {
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* fsync the directory holding `path`, so the rename itself is durable. */
static void sync_parent_dir(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return; /* best effort: the data itself is already synced */
    (void)fsync(fd);
    close(fd);
}

hp_status hp_checkpoint_write(const char *path, const hp_checkpoint *ck) {
    if (ck->n_theta && !ck->theta) HP_ERROR(HP_ERR_INTERNAL, "checkpoint %s: theta is NULL", path);
    if (ck->optimizer_bytes && !ck->optimizer_state)
        HP_ERROR(HP_ERR_INTERNAL, "checkpoint %s: optimizer state is NULL", path);
    size_t name_len = strlen(ck->optimizer);
    if (name_len >= HP_CHECKPOINT_NAME_MAX)
        HP_ERROR(HP_ERR_INTERNAL, "checkpoint %s: optimizer name '%s' longer than %u characters", path, ck->optimizer,
                 HP_CHECKPOINT_NAME_MAX - 1);
    if (ck->n_theta > (SIZE_MAX - PAYLOAD_FIXED_BYTES - ck->optimizer_bytes) / 16)
        HP_ERROR(HP_ERR_INTERNAL, "checkpoint %s: sizes too large", path);

    size_t payload = PAYLOAD_FIXED_BYTES + 8 * ck->n_theta + ck->optimizer_bytes;
    size_t total = HP_CHECKPOINT_HEADER_SIZE + payload + TRAILER_BYTES;
    unsigned char *buf = NULL;
    HP_CALL(hp_calloc(total, 1, &buf));

    unsigned char *p = buf;
    memcpy(p, HP_CHECKPOINT_MAGIC, 8);
    put_u32(p + 8, HP_CHECKPOINT_VERSION);
    put_u32(p + 12, HP_CHECKPOINT_HEADER_SIZE);
    put_u64(p + 16, ck->n_theta);
    put_u64(p + 24, ck->optimizer_bytes);
    put_u64(p + 32, payload);
    memcpy(p + 40, ck->optimizer, name_len); /* rest stays NUL */
    p += HP_CHECKPOINT_HEADER_SIZE;
    put_u64(p, ck->iteration);
    put_u64(p + 8, ck->stage);
    put_u64(p + 16, ck->stage_iteration);
    put_u64(p + 24, ck->flags);
    put_u64(p + 32, ck->history_bytes);
    put_f64(p + 40, ck->tau1);
    put_f64(p + 48, ck->tau2);
    put_f64(p + 56, ck->elapsed_seconds);
    p += PAYLOAD_FIXED_BYTES;
    for (size_t i = 0; i < ck->n_theta; i++) put_f64(p + 8 * i, ck->theta[i]);
    p += 8 * ck->n_theta;
    if (ck->optimizer_bytes) memcpy(p, ck->optimizer_state, ck->optimizer_bytes);
    p += ck->optimizer_bytes;
    put_u64(p, hp__fnv1a64(buf, total - TRAILER_BYTES));

    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        free(buf);
        HP_ERROR(HP_ERR_IO, "checkpoint path too long: %s", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        free(buf);
        HP_ERROR(HP_ERR_IO, "cannot write checkpoint %s: %s", tmp, strerror(e));
    }
    int failed = write_all(fd, buf, total) != 0 || fsync(fd) != 0;
    int e = errno;
    if (close(fd) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    free(buf);
    if (failed) {
        unlink(tmp);
        HP_ERROR(HP_ERR_IO, "cannot write checkpoint %s: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        HP_ERROR(HP_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    sync_parent_dir(path);
    return HP_OK;
}

void hp_checkpoint_clear(hp_checkpoint *ck) {
    free(ck->theta);
    free(ck->optimizer_state);
    memset(ck, 0, sizeof *ck);
}

hp_status hp_checkpoint_read(const char *path, size_t expected_n_theta, hp_checkpoint *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        HP_ERROR(e == ENOENT ? HP_ERR_NOT_FOUND : HP_ERR_IO, "cannot open checkpoint %s: %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        HP_ERROR(HP_ERR_CORRUPT, "checkpoint %s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < HP_CHECKPOINT_HEADER_SIZE) {
        fclose(f);
        HP_ERROR(HP_ERR_CORRUPT, "checkpoint %s is truncated: %zu bytes, shorter than the %u-byte header", path,
                 size, HP_CHECKPOINT_HEADER_SIZE);
    }
    unsigned char header[HP_CHECKPOINT_HEADER_SIZE];
    if (fread(header, 1, sizeof header, f) != sizeof header) {
        fclose(f);
        HP_ERROR(HP_ERR_IO, "cannot read checkpoint %s", path);
    }
    if (memcmp(header, HP_CHECKPOINT_MAGIC, 8) != 0) {
        fclose(f);
        HP_ERROR(HP_ERR_CORRUPT, "%s is not an hpinn checkpoint (wrong magic; expected \"%s\")", path,
                 HP_CHECKPOINT_MAGIC);
    }
    uint32_t version = get_u32(header + 8), header_size = get_u32(header + 12);
    if (version != HP_CHECKPOINT_VERSION || header_size != HP_CHECKPOINT_HEADER_SIZE) {
        fclose(f);
        HP_ERROR(HP_ERR_CORRUPT,
                 "checkpoint %s has format version %u (header %u bytes); this hpinn reads version %u (header %u bytes)",
                 path, version, header_size, HP_CHECKPOINT_VERSION, HP_CHECKPOINT_HEADER_SIZE);
    }
    uint64_t n_theta = get_u64(header + 16), opt_bytes = get_u64(header + 24), payload = get_u64(header + 32);
    /* the announced sizes must add up (without overflow) and match the file's
     * length before anything is allocated */
    if (n_theta > (UINT64_MAX >> 8) || opt_bytes > (UINT64_MAX >> 8) ||
        payload != PAYLOAD_FIXED_BYTES + 8 * n_theta + opt_bytes) {
        fclose(f);
        HP_ERROR(HP_ERR_CORRUPT,
                 "checkpoint %s is corrupted: inconsistent sizes in the header (theta %llu, optimizer state %llu, "
                 "payload %llu bytes)",
                 path, (unsigned long long)n_theta, (unsigned long long)opt_bytes, (unsigned long long)payload);
    }
    uint64_t expected_size = HP_CHECKPOINT_HEADER_SIZE + payload + TRAILER_BYTES;
    if ((uint64_t)size != expected_size) {
        fclose(f);
        HP_ERROR(HP_ERR_CORRUPT, "checkpoint %s is %s: %zu bytes, the header announces %llu", path,
                 (uint64_t)size < expected_size ? "truncated" : "corrupted (trailing bytes)", size,
                 (unsigned long long)expected_size);
    }
    unsigned char *buf = NULL;
    hp_status st = hp_malloc(size, &buf);
    if (st != HP_OK) {
        fclose(f);
        return st;
    }
    memcpy(buf, header, sizeof header);
    size_t got = fread(buf + sizeof header, 1, size - sizeof header, f);
    fclose(f);
    if (got != size - sizeof header) {
        free(buf);
        HP_ERROR(HP_ERR_IO, "cannot read checkpoint %s (got %zu of %zu bytes)", path, got + sizeof header, size);
    }
    if (hp__fnv1a64(buf, size - TRAILER_BYTES) != get_u64(buf + size - TRAILER_BYTES)) {
        free(buf);
        HP_ERROR(HP_ERR_CORRUPT, "checkpoint %s is corrupted: checksum mismatch", path);
    }
    if (header[40 + HP_CHECKPOINT_NAME_MAX - 1] != '\0') {
        free(buf);
        HP_ERROR(HP_ERR_CORRUPT, "checkpoint %s is corrupted: optimizer name not terminated", path);
    }
    if (expected_n_theta && n_theta != expected_n_theta) {
        free(buf);
        HP_ERROR(HP_ERR_CORRUPT,
                 "checkpoint %s holds %llu network parameters but the pipeline's network has %zu; "
                 "it belongs to another configuration",
                 path, (unsigned long long)n_theta, expected_n_theta);
    }

    const unsigned char *p = buf + HP_CHECKPOINT_HEADER_SIZE;
    hp_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    memcpy(ck.optimizer, header + 40, HP_CHECKPOINT_NAME_MAX);
    ck.iteration = get_u64(p);
    ck.stage = get_u64(p + 8);
    ck.stage_iteration = get_u64(p + 16);
    ck.flags = get_u64(p + 24);
    ck.history_bytes = get_u64(p + 32);
    ck.tau1 = get_f64(p + 40);
    ck.tau2 = get_f64(p + 48);
    ck.elapsed_seconds = get_f64(p + 56);
    p += PAYLOAD_FIXED_BYTES;
    ck.n_theta = (size_t)n_theta;
    ck.optimizer_bytes = (size_t)opt_bytes;
    st = hp_malloc(8 * ck.n_theta, &ck.theta);
    if (st == HP_OK) st = hp_malloc(ck.optimizer_bytes, &ck.optimizer_state);
    if (st != HP_OK) {
        free(buf);
        hp_checkpoint_clear(&ck);
        return st;
    }
    for (size_t i = 0; i < ck.n_theta; i++) ck.theta[i] = get_f64(p + 8 * i);
    p += 8 * ck.n_theta;
    if (ck.optimizer_bytes) memcpy(ck.optimizer_state, p, ck.optimizer_bytes);
    free(buf);
    /* a checksum protects against accidents, not against a writer that stored bad
     * numbers: those are refused too, so a resumed run never starts from them */
    for (size_t i = 0; i < ck.n_theta; i++) {
        if (!isfinite(ck.theta[i])) {
            size_t bad = i;
            hp_checkpoint_clear(&ck);
            HP_ERROR(HP_ERR_CORRUPT, "checkpoint %s is corrupted: theta[%zu] is not finite", path, bad);
        }
    }
    *out = ck;
    return HP_OK;
}
