#!/bin/bash
# bench_blas_kernel.sh [BUILD] — what the choice of the OpenBLAS kernel is worth
# (docs/performance.md): on a CPU that OpenBLAS does not know, it falls back to
# its generic Prescott kernels and `hpinn` runs itself again with a kernel the
# CPU supports (core/cli/blas_kernel.c). This runs one short 2-D pipeline
# (configs/2d/k1_eps8.yaml on 128² points: 5 Adam iterations, 4 dense LM steps)
# with OpenBLAS's own choice (HPINN_BLAS_AUTO=0) and with hpinn's, in turns
# A B A B, and prints the kernels, the ms per LM step of each run (the first
# step apart: workspaces) and the ratio per pair. On a CPU that OpenBLAS knows,
# both runs use the same kernel and the ratio is noise around 1.
set -u
BUILD=${1:-build}
H="$BUILD/bin/hpinn"
OUT=${OUT:-/tmp/hpinn-bench-blas-kernel}
rm -rf "$OUT" && mkdir -p "$OUT"
common=(configs/2d/k1_eps8.yaml --set problem.collocation.points=128 --set problem.validation.points=101
        --set problem.reference.fem_elements=64 --set output.log_every=1 --set output.checkpoint_every=1000000
        --set 'stages=[{name: adam, iterations: 5, optimizer: {plugin: adam, lr: 2e-3}}, {name: lm, iterations: 4, optimizer: {plugin: lm}}]')
echo "A: $(HPINN_BLAS_AUTO=0 "$H" --version | grep BLAS)"
echo "B: $("$H" --version | grep BLAS)"
echo "load average at start: $(cut -d' ' -f1 /proc/loadavg)"
for pair in 1 2; do
  HPINN_BLAS_AUTO=0 "$H" run "${common[@]}" --out "$OUT/a$pair" > "$OUT/a$pair.log" 2>&1 || { cat "$OUT/a$pair.log"; exit 1; }
  "$H" run "${common[@]}" --out "$OUT/b$pair" > "$OUT/b$pair.log" 2>&1 || { cat "$OUT/b$pair.log"; exit 1; }
done
/usr/bin/python3 - "$OUT" <<'PY'
import csv, json, sys
out = sys.argv[1]
def lm_ms(d):
    """ms per LM step after the first (history rows every step), and the whole run's wall seconds."""
    rows = [(int(r["iteration"]), float(r["seconds"])) for r in csv.DictReader(open(f"{out}/{d}/history.csv"))]
    lm = [(i, s) for i, s in rows if i >= 6]  # iterations 6..9: LM steps 2..4 end there
    (i0, s0), (i1, s1) = lm[0], lm[-1]
    return 1e3 * (s1 - s0) / (i1 - i0), json.load(open(f"{out}/{d}/summary.json"))["wall_seconds"]
print(f"{'pair':<5} {'A ms/LM step':>13} {'B ms/LM step':>13} {'A/B':>6} {'A run s':>8} {'B run s':>8} {'A/B':>6}")
for p in (1, 2):
    (a, wa), (b, wb) = lm_ms(f"a{p}"), lm_ms(f"b{p}")
    print(f"{p:<5} {a:>13.0f} {b:>13.0f} {a / b:>5.2f}x {wa:>8.1f} {wb:>8.1f} {wa / wb:>5.2f}x")
PY
