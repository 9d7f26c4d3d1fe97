#!/bin/bash
# test_mpi_cli.sh MPIEXEC — `mpirun hpinn run` as users call it (docs/scaling.md):
#   - one rank under mpirun: the serial history, bit for bit;
#   - two and three ranks: the serial history to round-off (1e-8 relative in
#     every column but the wall time), 1-D with Adam then LM (dense, and
#     matrix-free lm_cg), 2-D anisotropic;
#   - resume with another rank count (2 -> 1 and 1 -> 2) ends where the
#     uninterrupted serial run ends, to the same tolerance;
#   - an error on one rank only (its scratch directory cannot be created) stops
#     every rank with that rank's message and one exit code, and nothing hangs;
#   - only rank 0 writes: no rank's scratch copy is left behind;
#   - `mpirun hpinn sweep`: members handed out to both ranks, a failing member
#     reported without stopping the others, a rerun skips what is finished.
# lm runs in its parameter form (J'J), the one form with distributed rows.
# Threads are pinned (network.threads=1, OPENBLAS_NUM_THREADS=1 from CTest): the
# bits depend on them, and mpirun binds a lone rank to one core.
set -u
MPIEXEC=${1:?usage: test_mpi_cli.sh MPIEXEC}
H="$HPINN_BUILD_DIR/bin/hpinn"
MPI=("$MPIEXEC" --oversubscribe --bind-to none)
W=mpi_cli
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
export TMPDIR="$PWD/tmp" && mkdir -p "$TMPDIR"
fail() { echo "FAIL: $*"; exit 1; }

cat > one.yaml <<'EOF'
constants: {eps: 0.0625}
problem:
  dim: 1
  K: "1/(1.2 + sin(2*pi*x/eps))"
  q: "-3*(2*x - 1)"
  collocation: {points: 600}
  validation: {points: 401}
network: {plugin: msff, width: 8, depth: 2, features: 4, sigmas: [1, 1/eps], seed: 1, threads: 1}
upscaling: {plugin: global}
coarse: {plugin: p1_1d, elements: 16}
coupling: {form: full, window: 1, delta: eps, tau2: 100}
stages:
  - {name: adam, iterations: 40, optimizer: {plugin: adam, lr: 2e-3}}
  - {name: lm, iterations: 12, optimizer: {plugin: lm, form: parameter}}
output: {log_every: 4, checkpoint_every: 8}
EOF
cat > two.yaml <<'EOF'
problem:
  dim: 2
  K: "2 + sin(2*pi*x/0.25)*sin(2*pi*y/0.25)"
  q: "1 + x*y"
  collocation: {points: 20}
  validation: {points: 21}
  reference: {kind: fem, fem_elements: 32}
network: {plugin: mlp, width: 10, depth: 2, activation: tanh, seed: 2, threads: 1}
upscaling: {plugin: global, mode: anisotropic}
coarse: {plugin: p1_2d, elements: 4}
coupling: {form: full, window: 1, delta: 0.25, tau2: 10}
stages:
  - {name: adam, iterations: 20, optimizer: {plugin: adam, lr: 5e-3}}
  - {name: lm, iterations: 5, optimizer: {plugin: lm, form: parameter}}
output: {log_every: 5, checkpoint_every: 5}
EOF

# compare A B TOL: every history.csv column but `seconds`, row by row (TOL 0: bit for bit)
compare() {
  /usr/bin/python3 - "$1/history.csv" "$2/history.csv" "$3" <<'EOF' || fail "histories $1 and $2 differ (tolerance $3)"
import csv, math, sys
a, b = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
tol = float(sys.argv[3])
assert len(a) == len(b) and len(a) > 3, f"{len(a)} rows vs {len(b)}"
worst = 0.0
for x, y in zip(a, b):
    assert x["iteration"] == y["iteration"]
    for k in x:
        if k == "seconds":
            continue
        if tol == 0:
            assert x[k] == y[k], f"iteration {x['iteration']} {k}: {x[k]} vs {y[k]}"
            continue
        u, v = float(x[k] or "nan"), float(y[k] or "nan")
        if math.isnan(u) and math.isnan(v):
            continue
        d = abs(u - v) / max(abs(u), 1e-300) if u != v else 0.0
        worst = max(worst, d)
        assert d <= tol, f"iteration {x['iteration']} {k}: {u} vs {v} (rel {d:.2e})"
print(f"  {sys.argv[1]} vs {sys.argv[2]}: {len(a)} rows, worst relative difference {worst:.2e}")
EOF
}

run() { "$@" > last.out 2> last.err || { cat last.err; fail "$* exited $?"; }; }

echo "1-D: serial, then 1, 2 and 3 ranks"
run "$H" run one.yaml --out serial
run "${MPI[@]}" -np 1 "$H" run one.yaml --out np1
compare serial np1 0
run "${MPI[@]}" -np 2 "$H" run one.yaml --out np2
compare serial np2 1e-8
grep -q '"ranks": 2' np2/summary.json || fail "summary.json does not record 2 ranks"
run "${MPI[@]}" -np 3 "$H" run one.yaml --out np3
compare serial np3 1e-8
[ -z "$(ls -A "$TMPDIR")" ] || fail "a rank left its scratch copy behind: $(ls "$TMPDIR")"
[ ! -e np2/hpinn-rank1 ] || fail "rank 1 wrote into the run directory"

# CG solved tightly: with the default cg_rtol (1e-3) the round-off of the sums
# changes the inexact steps at the level of that tolerance (2e-4 here), not 1e-8
echo "1-D: matrix-free LM (lm_cg) on 2 ranks"
cg='stages[1].optimizer={plugin: lm_cg, cg_rtol: 1e-12, cg_max_iterations: 2000}'
run "$H" run one.yaml --out cg1 --set "$cg"
run "${MPI[@]}" -np 2 "$H" run one.yaml --out cg2 --set "$cg"
compare cg1 cg2 1e-8

echo "1-D: resume with another rank count"
run "${MPI[@]}" -np 2 "$H" run one.yaml --out r21 --set 'stages[1].iterations=4'
run "$H" run --resume r21 --set 'stages[1].iterations=12'
compare serial r21 1e-8
run "$H" run one.yaml --out r12 --set 'stages[1].iterations=4'
run "${MPI[@]}" -np 2 "$H" run --resume r12 --set 'stages[1].iterations=12'
compare serial r12 1e-8

echo "2-D (anisotropic, two directions): serial and 2 ranks"
run "$H" run two.yaml --out serial2d
run "${MPI[@]}" -np 2 "$H" run two.yaml --out np2_2d
compare serial2d np2_2d 1e-8

echo "an error on rank 1 only"
timeout 120 "${MPI[@]}" -np 2 sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then export TMPDIR=/nonexistent-hpinn-dir; fi; exec "$0" "$@"' \
  "$H" run one.yaml --out err > err.out 2> err.err
rc=$?
[ $rc -ne 124 ] || fail "a rank hung after rank 1 failed"
[ $rc -eq 1 ] || { cat err.err; fail "exit code $rc, expected 1 (an i/o failure) from every rank"; }
grep -q "hpinn: error: rank 1: cannot create this rank's scratch directory in /nonexistent-hpinn-dir" err.err \
  || { cat err.err; fail "rank 0 did not report rank 1's message"; }
[ ! -e err/history.csv ] || fail "the failed run wrote a history"

echo "mpirun hpinn sweep: members over the ranks, a failing member, resume"
sweep=("${MPI[@]}" -np 2 "$H" sweep one.yaml --set 'stages[1].iterations=2' --set coupling.tau2=0,-1,100 --seeds 1,2 --out sw)
timeout 300 "${sweep[@]}" > sw.out 2> sw.err
rc=$?
[ $rc -eq 1 ] || { cat sw.out sw.err; fail "sweep with a failing member exited $rc, expected 1"; }
grep -q "(rank 1)" sw.out || { cat sw.out; fail "no member ran on rank 1"; }
grep -q "sweep: 4 done, 2 failed, 0 pending of 6 in sw" sw.out || { cat sw.out; fail "sweep summary"; }
for s in 1 2; do
  [ -s "sw/coupling.tau2=100_seed=$s/summary.json" ] || fail "member coupling.tau2=100_seed=$s has no summary"
done
timeout 300 "${sweep[@]}" > sw2.out 2> sw2.err
grep -q "6 members in sw: 4 done, 2 failed, 0 to run" sw2.out || { cat sw2.out sw2.err; fail "the rerun did not skip the finished members"; }

echo "the averaged residual (tau3) is refused data-parallel, with the reason"
timeout 120 "${MPI[@]}" -np 2 "$H" run one.yaml --out avg --set coupling.tau3=1 > avg.out 2> avg.err
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat avg.err; fail "tau3 under mpirun exited $rc, expected a configuration error"; }
grep -q "the averaged residual does not run data-parallel yet" avg.err || { cat avg.err; fail "no reason given for tau3"; }
[ ! -e avg/history.csv ] || fail "the refused run wrote a history"

echo "PASS"
