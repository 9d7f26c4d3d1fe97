/* test_checkpoint.c — the trainer's checkpoint file: a bit-exact round trip
 * (run id, pipeline, counters, θ with -0 and denormals, optimizer state), the
 * previous checkpoint kept on every write, and every way a file can be bad (a
 * flipped byte anywhere, truncation at any length, trailing garbage, wrong magic
 * or version, a θ of another size, non-finite θ) refused with HP_ERR_CORRUPT and
 * a message naming the file and the problem. */
#include "test_util.h"

#include <stdint.h>
#include <sys/stat.h>

#include "checkpoint.h"

#define N_THETA 37
#define OPT_BYTES 53
#define RUN "0123456789abcdef0123456789abcdef"

static void make(hp__checkpoint *ck, double *theta, unsigned char *opt) {
    memset(ck, 0, sizeof *ck);
    for (int i = 0; i < N_THETA; i++) theta[i] = sin(1.0 + i) * pow(10.0, (i % 7) - 3);
    theta[3] = -0.0;
    theta[4] = 5e-324; /* denormal survives */
    for (int i = 0; i < OPT_BYTES; i++) opt[i] = (unsigned char)(i * 37 + 11);
    snprintf(ck->run_id, sizeof ck->run_id, RUN);
    ck->config = "problem: {K: \"1\"}\n";
    ck->iteration = 123456789012ull;
    ck->stage = 2;
    ck->stage_iteration = 77;
    ck->flags = HP__CHECKPOINT_FLAG_STAGE_FINISHED;
    ck->history_bytes = 98765;
    ck->history_hash = 0xfeedfacecafebeefull;
    ck->elapsed_seconds = 12.25;
    ck->best_value = 3.5e-7;
    ck->n_theta = N_THETA;
    ck->theta = theta;
    snprintf(ck->optimizer, sizeof ck->optimizer, "adam");
    ck->optimizer_bytes = OPT_BYTES;
    ck->optimizer_state = opt;
}

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static unsigned char *read_bytes(const char *path, long *size) {
    *size = file_size(path);
    unsigned char *b = malloc((size_t)*size);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(b, 1, (size_t)*size, f), (size_t)*size);
    fclose(f);
    return b;
}

static void write_bytes(const char *path, const unsigned char *b, long size) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, (size_t)size, f), (size_t)size);
    fclose(f);
}

static void fresh_dir(const char *dir) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    assert_int_equal(system(cmd), 0);
}

static void test_round_trip(void **state) {
    (void)state;
    double theta[N_THETA];
    unsigned char opt[OPT_BYTES];
    hp__checkpoint ck, back;
    fresh_dir("ck_rt");
    make(&ck, theta, opt);
    OK(hp__checkpoint_write("ck_rt", &ck));
    assert_int_equal(system("ls ck_rt | grep -c tmp > /dev/null"), 256); /* no temporary file is left */
    OK(hp__checkpoint_read("ck_rt", HP__CHECKPOINT_FILE, N_THETA, &back));
    assert_string_equal(back.run_id, RUN);
    assert_string_equal(back.config, ck.config);
    assert_int_equal(back.iteration, ck.iteration);
    assert_int_equal(back.stage, 2);
    assert_int_equal(back.stage_iteration, 77);
    assert_int_equal(back.flags, HP__CHECKPOINT_FLAG_STAGE_FINISHED);
    assert_int_equal(back.history_bytes, 98765);
    assert_true(back.history_hash == ck.history_hash);
    assert_true(back.elapsed_seconds == 12.25 && back.best_value == 3.5e-7);
    assert_string_equal(back.optimizer, "adam");
    assert_int_equal(back.n_theta, N_THETA);
    assert_memory_equal(back.theta, theta, sizeof theta); /* bit for bit, -0 and denormals too */
    assert_int_equal(back.optimizer_bytes, OPT_BYTES);
    assert_memory_equal(back.optimizer_state, opt, OPT_BYTES);
    hp__checkpoint_clear(&back);
    assert_null(back.theta);

    /* 0 means "any size"; a new write replaces the file and keeps the old one */
    ck.iteration = 5;
    ck.optimizer_bytes = 0;
    ck.optimizer_state = NULL;
    ck.optimizer[0] = '\0';
    OK(hp__checkpoint_write("ck_rt", &ck));
    OK(hp__checkpoint_read("ck_rt", HP__CHECKPOINT_FILE, 0, &back));
    assert_int_equal(back.iteration, 5);
    assert_int_equal(back.optimizer_bytes, 0);
    assert_string_equal(back.optimizer, "");
    hp__checkpoint_clear(&back);
    OK(hp__checkpoint_read("ck_rt", HP__CHECKPOINT_PREVIOUS_FILE, N_THETA, &back));
    assert_int_equal(back.iteration, 123456789012ull);
    assert_int_equal(back.optimizer_bytes, OPT_BYTES);
    hp__checkpoint_clear(&back);
}

static void expect_corrupt(const char *dir, size_t n, const char *what) {
    hp__checkpoint back;
    hp_status st = hp__checkpoint_read(dir, HP__CHECKPOINT_FILE, n, &back);
    if (st != HP_ERR_CORRUPT) fail_msg("expected HP_ERR_CORRUPT for %s, got %d: %s", what, st, hp_error_message());
    assert_contains(hp_error_message(), dir);
    assert_null(back.theta);
    assert_null(back.optimizer_state);
    assert_null(back.config);
}

static void test_every_flipped_byte_is_refused(void **state) {
    (void)state;
    double theta[N_THETA];
    unsigned char opt[OPT_BYTES];
    hp__checkpoint ck;
    fresh_dir("ck_flip");
    make(&ck, theta, opt);
    OK(hp__checkpoint_write("ck_flip", &ck));
    const char *path = "ck_flip/" HP__CHECKPOINT_FILE;
    long size;
    unsigned char *good = read_bytes(path, &size);
    unsigned char *bad = malloc((size_t)size);
    for (long i = 0; i < size; i++) {
        memcpy(bad, good, (size_t)size);
        bad[i] ^= 0x10;
        write_bytes(path, bad, size);
        char what[64];
        snprintf(what, sizeof what, "byte %ld flipped", i);
        expect_corrupt("ck_flip", N_THETA, what);
    }
    /* the messages say what is wrong */
    memcpy(bad, good, (size_t)size);
    bad[size - 20] ^= 1; /* inside the optimizer state */
    write_bytes(path, bad, size);
    expect_corrupt("ck_flip", N_THETA, "payload byte");
    assert_contains(hp_error_message(), "checksum mismatch");
    memcpy(bad, good, (size_t)size);
    bad[0] = 'X';
    write_bytes(path, bad, size);
    expect_corrupt("ck_flip", N_THETA, "magic");
    assert_contains(hp_error_message(), "is not an hpinn checkpoint");
    memcpy(bad, good, (size_t)size);
    bad[8] = 9; /* version 9 */
    write_bytes(path, bad, size);
    expect_corrupt("ck_flip", N_THETA, "version");
    assert_contains(hp_error_message(), "format version 9");
    assert_contains(hp_error_message(), "version 2");
    free(bad);
    free(good);
}

static void test_truncated_and_extended_are_refused(void **state) {
    (void)state;
    double theta[N_THETA];
    unsigned char opt[OPT_BYTES];
    hp__checkpoint ck;
    fresh_dir("ck_trunc");
    make(&ck, theta, opt);
    OK(hp__checkpoint_write("ck_trunc", &ck));
    const char *path = "ck_trunc/" HP__CHECKPOINT_FILE;
    long size;
    unsigned char *good = read_bytes(path, &size);
    for (long len = 0; len < size; len++) {
        write_bytes(path, good, len);
        char what[64];
        snprintf(what, sizeof what, "truncated to %ld bytes", len);
        expect_corrupt("ck_trunc", N_THETA, what);
    }
    write_bytes(path, good, 27);
    expect_corrupt("ck_trunc", N_THETA, "header only");
    assert_contains(hp_error_message(), "truncated");
    unsigned char *longer = calloc((size_t)size + 3, 1);
    memcpy(longer, good, (size_t)size);
    write_bytes(path, longer, size + 3);
    expect_corrupt("ck_trunc", N_THETA, "trailing bytes");
    assert_contains(hp_error_message(), "trailing bytes");
    free(longer);
    free(good);
}

static void test_wrong_size_missing_and_nonfinite(void **state) {
    (void)state;
    double theta[N_THETA];
    unsigned char opt[OPT_BYTES];
    hp__checkpoint ck, back;
    fresh_dir("ck_size");
    make(&ck, theta, opt);
    OK(hp__checkpoint_write("ck_size", &ck));
    expect_corrupt("ck_size", N_THETA + 1, "wrong theta size");
    assert_contains(hp_error_message(), "holds 37 network parameters but the pipeline's network has 38");

    assert_int_equal(hp__checkpoint_read("no/such", HP__CHECKPOINT_FILE, N_THETA, &back), HP_ERR_NOT_FOUND);
    assert_contains(hp_error_message(), "no/such");

    theta[5] = NAN; /* a writer's bad numbers are still refused at load */
    OK(hp__checkpoint_write("ck_size", &ck));
    expect_corrupt("ck_size", N_THETA, "nan theta");
    assert_contains(hp_error_message(), "theta[5] is not finite");

    /* a directory that cannot be written: an I/O error, not a crash */
    theta[5] = 0.0;
    assert_int_equal(hp__checkpoint_write("no/such/dir", &ck), HP_ERR_IO);
    assert_contains(hp_error_message(), "cannot write no/such/dir/checkpoint.bin");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_every_flipped_byte_is_refused),
        cmocka_unit_test(test_truncated_and_extended_are_refused),
        cmocka_unit_test(test_wrong_size_missing_and_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
