#!/bin/bash
# bench_scaling.sh [POINTS_PER_AXIS] [BUILD] — data-parallel scaling on one
# machine (docs/scaling.md): the 2-D pipeline configs/2d/k1_eps8.yaml on
# POINTS² collocation points (default 256² = 65536), 30 Adam iterations then
# 2 Levenberg–Marquardt steps, once on 1 rank x 2 threads and once on 2 ranks
# x 1 thread (the same total thread count), side by side in one invocation.
#
# Prints per stage the ms per iteration of each (validation every 10 iterations
# included, alike on both; Adam after its first 10 iterations, the start-up
# apart), the speedup, the share of the wall time rank 0 spent
# in collectives (summary.json's communication_seconds: transfer plus waiting
# for the slowest rank), and how far the two histories are apart.
set -u
P=${1:-256}
BUILD=${2:-build}
H="$BUILD/bin/hpinn"
OUT=${OUT:-/tmp/hpinn-bench-scaling}
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
rm -rf "$OUT" && mkdir -p "$OUT"
common=(configs/2d/k1_eps8.yaml --set "problem.collocation.points=$P" --set problem.validation.points=201
        --set problem.reference.fem_elements=128 --set output.log_every=10 --set output.checkpoint_every=1000000
        --set 'stages=[{name: adam, iterations: 30, optimizer: {plugin: adam, lr: 2e-3}}, {name: lm, iterations: 2, optimizer: {plugin: lm, form: parameter}}]')
echo "collocation ${P}² = $((P * P)) points; load average at start: $(cut -d' ' -f1 /proc/loadavg)"
OPENBLAS_NUM_THREADS=2 "$H" run "${common[@]}" --set network.threads=2 --out "$OUT/r1" > "$OUT/r1.log" 2>&1 \
  || { cat "$OUT/r1.log"; exit 1; }
OPENBLAS_NUM_THREADS=1 mpirun -np 2 --bind-to none "$H" run "${common[@]}" --set network.threads=1 --out "$OUT/r2" \
  > "$OUT/r2.log" 2>&1 || { cat "$OUT/r2.log"; exit 1; }
/usr/bin/python3 - "$OUT/r1" "$OUT/r2" <<'EOF'
import csv, json, sys
def stages(d):
    """ms per iteration of each stage; Adam's first 10 iterations excluded (the
    start-up: first touch of the tapes, and the trainer's one-off timing probe of
    the LM stage's Jacobian for the ETA), reported apart."""
    rows = [(int(r["iteration"]), float(r["seconds"])) for r in csv.DictReader(open(d + "/history.csv"))]
    t, bounds = {}, []
    for line in open(d + "/events.jsonl"):
        e = json.loads(line)
        if e["event"] == "stage_start":
            bounds.append([e["name"], e["iteration"], e["elapsed"], None, None])
        elif e["event"] == "stage_end":
            bounds[-1][3:] = [e["iteration"], e["elapsed"]]
    for name, i0, s0, i1, s1 in bounds:
        if name == "adam":
            ia, sa = next((i, s) for i, s in rows if i >= i0 + 10)
            t[name] = (1e3 * (s1 - sa) / (i1 - ia), i1 - ia)
            t["start-up"] = (1e3 * (sa - s0), 1)
        else:
            t[name] = (1e3 * (s1 - s0) / (i1 - i0), i1 - i0)
    s = json.load(open(d + "/summary.json"))
    return t, s["wall_seconds"], s["machine"].get("communication_seconds", 0.0), s["parameters"]
(t1, w1, c1, n), (t2, w2, c2, _) = stages(sys.argv[1]), stages(sys.argv[2])
print(f"{n} parameters")
print(f"{'stage':<9} {'steps':>5} {'1 rank x 2 thr ms/it':>21} {'2 ranks x 1 thr ms/it':>22} {'speedup':>8}")
for k in t1:
    print(f"{k:<9} {t1[k][1]:>5} {t1[k][0]:>21.1f} {t2[k][0]:>22.1f} {t1[k][0] / t2[k][0]:>7.2f}x")
print(f"whole run: {w1:.1f} s vs {w2:.1f} s; rank 0 in collectives: {c2:.2f} s ({100 * c2 / w2:.1f}% of its wall time)")
import csv, math
a, b = (list(csv.DictReader(open(d + "/history.csv"))) for d in sys.argv[1:3])
worst = 0.0
for x, y in zip(a, b):
    for k in x:
        if k in ("seconds", "iteration") or not x[k] or not y[k]:
            continue
        u, v = float(x[k]), float(y[k])
        if u != v and not (math.isnan(u) and math.isnan(v)):
            worst = max(worst, abs(u - v) / max(abs(u), 1e-300))
print(f"histories (every 10 iterations, {len(a)} rows): worst relative difference 1 rank vs 2 ranks {worst:.1e}")
EOF
