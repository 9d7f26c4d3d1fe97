/* test_checkpoint.c — the trainer's checkpoint file: a bit-exact round trip, and
 * every way a file can be bad (a flipped byte anywhere, truncation at any length,
 * trailing garbage, wrong magic or version, a θ of another size, non-finite θ)
 * refused with HP_ERR_CORRUPT and a message naming the file and the problem. */
#include "test_util.h"

#include <stdint.h>
#include <sys/stat.h>

#include "checkpoint.h"

#define N_THETA 37
#define OPT_BYTES 53

static void make(hp_checkpoint *ck, double *theta, unsigned char *opt) {
    memset(ck, 0, sizeof *ck);
    for (int i = 0; i < N_THETA; i++) theta[i] = sin(1.0 + i) * pow(10.0, (i % 7) - 3);
    theta[3] = -0.0;
    theta[4] = 5e-324; /* denormal survives */
    for (int i = 0; i < OPT_BYTES; i++) opt[i] = (unsigned char)(i * 37 + 11);
    ck->iteration = 123456789012ull;
    ck->stage = 2;
    ck->stage_iteration = 77;
    ck->flags = HP_CHECKPOINT_FLAG_STAGE_FINISHED;
    ck->history_bytes = 98765;
    ck->tau1 = 1.5;
    ck->tau2 = 5e5;
    ck->elapsed_seconds = 12.25;
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

static void test_round_trip(void **state) {
    (void)state;
    double theta[N_THETA];
    unsigned char opt[OPT_BYTES];
    hp_checkpoint ck, back;
    make(&ck, theta, opt);
    assert_int_equal(hp_checkpoint_write("rt.ckpt", &ck), HP_OK);
    assert_int_equal(file_size("rt.ckpt.tmp"), -1); /* the temp file was renamed */
    assert_int_equal(file_size("rt.ckpt"), HP_CHECKPOINT_HEADER_SIZE + 64 + 8 * N_THETA + OPT_BYTES + 8);
    assert_int_equal(hp_checkpoint_read("rt.ckpt", N_THETA, &back), HP_OK);
    assert_int_equal(back.iteration, ck.iteration);
    assert_int_equal(back.stage, 2);
    assert_int_equal(back.stage_iteration, 77);
    assert_int_equal(back.flags, HP_CHECKPOINT_FLAG_STAGE_FINISHED);
    assert_int_equal(back.history_bytes, 98765);
    assert_true(back.tau1 == 1.5 && back.tau2 == 5e5 && back.elapsed_seconds == 12.25);
    assert_string_equal(back.optimizer, "adam");
    assert_int_equal(back.n_theta, N_THETA);
    assert_memory_equal(back.theta, theta, sizeof theta); /* bit for bit, -0 and denormals too */
    assert_int_equal(back.optimizer_bytes, OPT_BYTES);
    assert_memory_equal(back.optimizer_state, opt, OPT_BYTES);
    hp_checkpoint_clear(&back);
    assert_null(back.theta);

    /* 0 means "any size"; overwriting replaces the file */
    ck.iteration = 5;
    ck.optimizer_bytes = 0;
    ck.optimizer_state = NULL;
    ck.optimizer[0] = '\0';
    assert_int_equal(hp_checkpoint_write("rt.ckpt", &ck), HP_OK);
    assert_int_equal(hp_checkpoint_read("rt.ckpt", 0, &back), HP_OK);
    assert_int_equal(back.iteration, 5);
    assert_int_equal(back.optimizer_bytes, 0);
    assert_string_equal(back.optimizer, "");
    hp_checkpoint_clear(&back);
}

static void expect_corrupt(const char *path, size_t n, const char *what) {
    hp_checkpoint back;
    hp_status st = hp_checkpoint_read(path, n, &back);
    if (st != HP_ERR_CORRUPT) fail_msg("expected HP_ERR_CORRUPT for %s, got %d: %s", what, st, hp_error_message());
    assert_contains(hp_error_message(), path);
    assert_null(back.theta);
    assert_null(back.optimizer_state);
}

static void test_every_flipped_byte_is_refused(void **state) {
    (void)state;
    double theta[N_THETA];
    unsigned char opt[OPT_BYTES];
    hp_checkpoint ck;
    make(&ck, theta, opt);
    assert_int_equal(hp_checkpoint_write("flip.ckpt", &ck), HP_OK);
    long size;
    unsigned char *good = read_bytes("flip.ckpt", &size);
    unsigned char *bad = malloc((size_t)size);
    for (long i = 0; i < size; i++) {
        memcpy(bad, good, (size_t)size);
        bad[i] ^= 0x10;
        write_bytes("flip.ckpt", bad, size);
        char what[64];
        snprintf(what, sizeof what, "byte %ld flipped", i);
        expect_corrupt("flip.ckpt", N_THETA, what);
    }
    /* the messages say what is wrong */
    memcpy(bad, good, (size_t)size);
    bad[HP_CHECKPOINT_HEADER_SIZE + 64 + 8] ^= 1; /* inside theta[1] */
    write_bytes("flip.ckpt", bad, size);
    expect_corrupt("flip.ckpt", N_THETA, "theta byte");
    assert_contains(hp_error_message(), "checksum mismatch");
    memcpy(bad, good, (size_t)size);
    bad[0] = 'X';
    write_bytes("flip.ckpt", bad, size);
    expect_corrupt("flip.ckpt", N_THETA, "magic");
    assert_contains(hp_error_message(), "not an hpinn checkpoint");
    memcpy(bad, good, (size_t)size);
    bad[8] = 9; /* version 9 */
    write_bytes("flip.ckpt", bad, size);
    expect_corrupt("flip.ckpt", N_THETA, "version");
    assert_contains(hp_error_message(), "format version 9");
    assert_contains(hp_error_message(), "reads version 1");
    memcpy(bad, good, (size_t)size);
    bad[16 + 7] = 0x7f; /* absurd theta count */
    write_bytes("flip.ckpt", bad, size);
    expect_corrupt("flip.ckpt", N_THETA, "size");
    assert_contains(hp_error_message(), "inconsistent sizes");
    free(bad);
    free(good);
}

static void test_truncated_and_extended_are_refused(void **state) {
    (void)state;
    double theta[N_THETA];
    unsigned char opt[OPT_BYTES];
    hp_checkpoint ck;
    make(&ck, theta, opt);
    assert_int_equal(hp_checkpoint_write("trunc.ckpt", &ck), HP_OK);
    long size;
    unsigned char *good = read_bytes("trunc.ckpt", &size);
    for (long len = 0; len < size; len++) {
        write_bytes("trunc.ckpt", good, len);
        char what[64];
        snprintf(what, sizeof what, "truncated to %ld bytes", len);
        expect_corrupt("trunc.ckpt", N_THETA, what);
        assert_contains(hp_error_message(), "truncated");
    }
    unsigned char *longer = calloc((size_t)size + 3, 1);
    memcpy(longer, good, (size_t)size);
    write_bytes("trunc.ckpt", longer, size + 3);
    expect_corrupt("trunc.ckpt", N_THETA, "trailing bytes");
    assert_contains(hp_error_message(), "trailing bytes");
    free(longer);
    free(good);
}

static void test_wrong_size_missing_and_nonfinite(void **state) {
    (void)state;
    double theta[N_THETA];
    unsigned char opt[OPT_BYTES];
    hp_checkpoint ck, back;
    make(&ck, theta, opt);
    assert_int_equal(hp_checkpoint_write("size.ckpt", &ck), HP_OK);
    expect_corrupt("size.ckpt", N_THETA + 1, "wrong theta size");
    assert_contains(hp_error_message(), "holds 37 network parameters but the pipeline's network has 38");

    assert_int_equal(hp_checkpoint_read("no/such.ckpt", N_THETA, &back), HP_ERR_NOT_FOUND);
    assert_contains(hp_error_message(), "no/such.ckpt");

    theta[5] = NAN; /* a writer's bad numbers are still refused at load */
    assert_int_equal(hp_checkpoint_write("nan.ckpt", &ck), HP_OK);
    expect_corrupt("nan.ckpt", N_THETA, "nan theta");
    assert_contains(hp_error_message(), "theta[5] is not finite");

    /* a directory that cannot be written: an I/O error, not a crash */
    theta[5] = 0.0;
    assert_int_equal(hp_checkpoint_write("no/such/dir/x.ckpt", &ck), HP_ERR_IO);
    assert_contains(hp_error_message(), "cannot write checkpoint no/such/dir/x.ckpt.tmp");
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
