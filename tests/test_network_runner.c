/* test_network_runner.c — hpinn's network runner (network_runner.h) and its
 * worker team (team.h): every thread runs a task once per run; chunks tile the
 * points; gather/scatter against their definition; tapes keep their memory and
 * their points; a tape-less evaluation gives the same bits as a tape's forward;
 * passes give the same bits for any thread count and any OPENBLAS thread count. */
#include "test_util.h"

#include "hpinn/jets.h"
#include "hpinn/rng.h"
#include "network_runner.h"
#include "team.h"

static double *alloc_doubles(size_t n) {
    double *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

static hp_rng g_rng;
static void fill_random(double *v, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) v[i] = scale * (2.0 * hp_rng_uniform(&g_rng) - 1.0);
}

typedef struct team_probe {
    int calls[8];
    int n_seen[8];
    double *work; /* one slot per thread, written only by that thread */
} team_probe;

static void team_probe_task(void *ctx, int thread, int n_threads) {
    team_probe *p = ctx;
    p->calls[thread]++;
    p->n_seen[thread] = n_threads;
    double s = 0.0; /* some work so the threads overlap */
    for (int i = 1; i <= 20000; i++) s += 1.0 / ((double)i * (thread + 1));
    p->work[thread] = s;
}

/* Every thread runs the task exactly once per run with its index and the team
 * size, over many consecutive runs (the generation counter), for several sizes;
 * a NULL team runs it once on the caller. */
static void test_team(void **state) {
    (void)state;
    for (int n = 1; n <= 4; n++) {
        hp__team *team;
        assert_int_equal(hp__team_create(n, &team), HP_OK);
        assert_int_equal(hp__team_size(team), n);
        team_probe p;
        memset(&p, 0, sizeof p);
        p.work = alloc_doubles(8);
        for (int run = 0; run < 50; run++) hp__team_run(team, team_probe_task, &p);
        for (int t = 0; t < 8; t++) {
            assert_int_equal(p.calls[t], t < n ? 50 : 0);
            if (t < n) assert_int_equal(p.n_seen[t], n);
        }
        hp__team_destroy(team);
        free(p.work);
    }
    team_probe p;
    memset(&p, 0, sizeof p);
    p.work = alloc_doubles(8);
    hp__team_run(NULL, team_probe_task, &p);
    assert_int_equal(p.calls[0], 1);
    assert_int_equal(p.n_seen[0], 1);
    assert_int_equal(hp__team_size(NULL), 1);
    free(p.work);
    hp__team *team; /* one per CPU: at least one thread */
    assert_int_equal(hp__team_create(0, &team), HP_OK);
    assert_true(hp__team_size(team) >= 1);
    hp__team_destroy(team);
    hp__team_destroy(NULL);
}

/* The chunks tile [0, P) in order, without overlap, at most max_chunk points
 * each and within one point of each other. */
static void test_chunks(void **state) {
    (void)state;
    const size_t Ps[] = {0, 1, 2, 5, 64, 100, 840, 1001, 4096};
    const size_t chunks[] = {1, 3, 64, 128, 5000};
    for (size_t ip = 0; ip < sizeof Ps / sizeof Ps[0]; ip++)
        for (size_t ic = 0; ic < sizeof chunks / sizeof chunks[0]; ic++) {
            size_t P = Ps[ip], mc = chunks[ic], next = 0, lo = (size_t)-1, hi = 0;
            size_t n = hp__chunk_count(P, mc);
            assert_true(n * mc >= P && (n == 0 || (n - 1) * mc < P));
            for (size_t i = 0; i < n; i++) {
                hp__chunk c = hp__chunk_at(P, n, i);
                assert_int_equal(c.first, next);
                assert_true(c.count >= 1 && c.count <= mc);
                next += c.count;
                if (c.count < lo) lo = c.count;
                if (c.count > hi) hi = c.count;
            }
            assert_int_equal(next, P);
            if (n) assert_true(hi - lo <= 1);
        }
    assert_int_equal(hp__chunk_at(5, 0, 0).count, 0);
}

/* Chunk gather/scatter against the definition: column c*P + first + j of the jet
 * is column c*count + j of the chunk's jet. */
static void test_chunk_gather_scatter(void **state) {
    (void)state;
    const size_t rows = 3, P = 11;
    for (int dim = 1; dim <= 2; dim++)
        for (int order = 0; order <= 2; order++) {
            size_t C = (size_t)hp_jet_components(order, dim);
            hp__chunk ch = {4, 5};
            double *jet = alloc_doubles(rows * C * P), *chunk = alloc_doubles(rows * C * ch.count);
            double *back = alloc_doubles(rows * C * P);
            fill_random(jet, rows * C * P, 1.0);
            hp__chunk_gather(chunk, jet, rows, P, ch, (int)C);
            for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < C; c++)
                    for (size_t j = 0; j < ch.count; j++)
                        assert_true(chunk[r * C * ch.count + c * ch.count + j] == jet[r * C * P + c * P + ch.first + j]);
            fill_random(back, rows * C * P, 1.0);
            memcpy(back, jet, rows * C * P * sizeof *back);
            for (size_t k = 0; k < rows * C * ch.count; k++) chunk[k] += 1.0;
            hp__chunk_scatter(back, chunk, rows, P, ch, (int)C);
            for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < C; c++)
                    for (size_t p = 0; p < P; p++) {
                        double want = jet[r * C * P + c * P + p] + (p >= ch.first && p < ch.first + ch.count ? 1.0 : 0.0);
                        assert_true(back[r * C * P + c * P + p] == want);
                    }
            free(jet);
            free(chunk);
            free(back);
        }
}


/* A network through the runner: eval (no tape) and the tape's forward agree bit
 * for bit (the same chunks and kernels), at every order; a tape's output buffer
 * stays in place; new points on a tape are used. */
static void test_tape_and_eval(void **state) {
    (void)state;
    const hp_plugin_descriptor *desc;
    OK(hp_registry_find(registry, HP_PLUGIN_NETWORK, "msff", &desc));
    const char *set[] = {"width=6", "features=4", "sigmas=[1, 5]", "chunk_points=7", "threads=2"};
    hp_params *p;
    OK(hp_params_from_strings(desc->params, "network", set, 5, &p));
    hp__net *net;
    OK(hp__net_create(desc, p, 2, 1, &net));
    size_t n = hp__net_n_params(net), P = 40;
    double *theta = alloc_doubles(n), *x = alloc_doubles(2 * P), *x2 = alloc_doubles(2 * P);
    OK(hp__net_init(net, theta));
    fill_random(x, 2 * P, 0.5);
    for (size_t i = 0; i < 2 * P; i++) x[i] += 0.5, x2[i] = 1.0 - x[i];
    for (int order = 0; order <= 2; order++) {
        size_t len = (size_t)hp_jet_components(order, 2) * P;
        hp__tape *t;
        OK(hp__tape_create(net, x, P, order, &t));
        const double *out, *again;
        double *ev = alloc_doubles(len);
        OK(hp__net_forward(net, t, theta, &out));
        OK(hp__net_eval(net, theta, x, P, order, ev));
        assert_memory_equal(out, ev, len * sizeof *ev);
        hp__tape_set_points(t, x2);
        OK(hp__net_forward(net, t, theta, &again));
        assert_ptr_equal(out, again);
        OK(hp__net_eval(net, theta, x2, P, order, ev));
        assert_memory_equal(again, ev, len * sizeof *ev);
        free(ev);
        hp__tape_destroy(t);
    }
    free(theta), free(x), free(x2);
    hp__net_destroy(net);
    hp_params_destroy(p);
}

int main(void) {
    hp_rng_seed(&g_rng, 99, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_team),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_chunk_gather_scatter),
        cmocka_unit_test(test_tape_and_eval),
    };
    return cmocka_run_group_tests(tests, hp_test_registry_setup, hp_test_registry_teardown);
}
