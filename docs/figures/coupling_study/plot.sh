#!/usr/bin/env bash
# plot.sh — the summary figures of docs/coupling-study.md, drawn from
# `hpinn compare --format csv` of the study's sweeps (run from the repository
# root after the sweeps of docs/coupling-study.md):
#   final_vs_tau2.png   final rel. L2 against τ2: fixed coupling and coupled-then-
#                       uncoupled, both forms, the plain PINN's seeds as a band
#   final_vs_window.png the same against the window ω at τ2 = 1000
#   final_vs_tau2_seeds.png  form (11), seeds 1-3 (the sweep
#                       runs/study/coupling_eps48_seeds): median and min-max bars
# The curves against iteration and time come from `hpinn compare --plot`.
set -euo pipefail
hpinn=${HPINN:-build/bin/hpinn}
out=$(cd "$(dirname "$0")" && pwd)
study=${STUDY:-runs/study}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One csv per sweep, every member on its own row (no seed grouping).
"$hpinn" compare "$study/coupling_eps48" --no-group --format csv > "$tmp/grid.csv"
"$hpinn" compare "$study/coupling_eps48_window" --no-group --format csv > "$tmp/window.csv"
"$hpinn" compare "$study/coupling_eps48_pinn" --no-group --format csv > "$tmp/pinn.csv"

# Columns by name, so that a change of compare's column order cannot shift them.
column() { # FILE NAME...: the named columns, space separated, header dropped
    awk -F, -v names="${*:2}" 'NR == 1 { n = split(names, want, " ");
        for (i = 1; i <= NF; i++) idx[$i] = i; next }
        { line = ""; for (k = 1; k <= n; k++) line = line (k > 1 ? " " : "") $(idx[want[k]]); print line }' "$1"
}
for form in full compressed; do
    column "$tmp/grid.csv" coupling.tau2 'stages[2].tau2' coupling.form rel_l2 |
        awk -v f="$form" '$3 == f && $2 != 0 { print $1, $4 }' > "$tmp/fixed_$form.dat"
    column "$tmp/grid.csv" coupling.tau2 'stages[2].tau2' coupling.form rel_l2 |
        awk -v f="$form" '$3 == f && $2 == 0 { print $1, $4 }' > "$tmp/off_$form.dat"
    column "$tmp/window.csv" coupling.window 'stages[2].tau2' coupling.form rel_l2 |
        awk -v f="$form" '$3 == f && $2 != 0 { print $1, $4 }' > "$tmp/wfixed_$form.dat"
    column "$tmp/window.csv" coupling.window 'stages[2].tau2' coupling.form rel_l2 |
        awk -v f="$form" '$3 == f && $2 == 0 { print $1, $4 }' > "$tmp/woff_$form.dat"
done
# ω = 1 is the main grid's τ2 = 1000 column.
for s in fixed off; do for form in full compressed; do
    awk '$1 == 1000 { print 1, $2 }' "$tmp/${s}_$form.dat" >> "$tmp/w${s}_$form.dat"
done; done
read -r pinn_min pinn_max < <(column "$tmp/pinn.csv" rel_l2 | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo, hi }')

# The plot command of both figures: the plain PINN's band and the four
# (schedule, form) series of the data files with prefix $1.
curves() {
    local p=$1
    cat <<PLOT
plot $pinn_min with lines dt 2 lc rgb "gray40" title "plain PINN, seeds 1-2 (min)", \\
     $pinn_max with lines dt 2 lc rgb "gray70" title "plain PINN, seeds 1-2 (max)", \\
     "< sort -g ${p}fixed_full.dat" with linespoints pt 7 lc rgb "#c0392b" title "fixed {/Symbol t}_2, form (11) full", \\
     "< sort -g ${p}fixed_compressed.dat" with linespoints pt 6 ps 1.6 lc rgb "#e67e22" title "fixed {/Symbol t}_2, form (16) compressed", \\
     "< sort -g ${p}off_full.dat" with linespoints pt 5 lc rgb "#2471a3" title "last stage {/Symbol t}_2 = 0, form (11)", \\
     "< sort -g ${p}off_compressed.dat" with linespoints pt 4 ps 1.6 lc rgb "#17a589" title "last stage {/Symbol t}_2 = 0, form (16)"
PLOT
}

cd "$tmp"
gnuplot <<GP
set terminal pngcairo size 900,560 enhanced font ",11"
set logscale y
set yrange [1e-5:1]
set format y "10^{%L}"
set grid
set key outside right top
set ylabel "final rel. L2 error"
set output "$out/final_vs_tau2.png"
set logscale x
set xlabel "coupling strength {/Symbol t}_2 (coupled stages)"
set xrange [5:20000]
set title "{/Symbol e} = 1/48, Adam 1000 + LM 300 coupled + LM 500 last stage (seed 1)"
$(curves "")
set output "$out/final_vs_window.png"
unset logscale x
set xlabel "window {/Symbol w} (coarse nodes), {/Symbol t}_2 = 1000"
set xrange [0.5:3.5]
set xtics 1
$(curves w)
GP
echo "wrote $out/final_vs_tau2.png $out/final_vs_window.png"

# Seeds 1-3 of form (11): one line per (τ2, schedule) with median, min and max.
cd "$OLDPWD"
[ -d "$study/coupling_eps48_seeds" ] || exit 0
"$hpinn" compare "$study/coupling_eps48_seeds" --no-group --format csv > "$tmp/seeds.csv"
spread() { # SCHEDULE (fixed|off): "tau2 median min max" per τ2
    column "$tmp/seeds.csv" constants.tau2 'stages[2].tau2' status rel_l2 |
        awk -v s="$1" '$3 == "done" { fixed = ($2 != 0); if ((s == "fixed") == fixed) print $1, $4 }' |
        sort -g -k1,1 -k2,2 |
        awk '{ v[$1] = v[$1] " " $2 } END { for (t in v) { n = split(v[t], x, " ");
              print t, (n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2), x[1], x[n] } }' | sort -g
}
spread fixed > "$tmp/seeds_fixed.dat"
spread off > "$tmp/seeds_off.dat"
cd "$tmp"
gnuplot <<GP
set terminal pngcairo size 900,560 enhanced font ",11"
set logscale xy
set yrange [1e-5:1]
set xrange [5:20000]
set format y "10^{%L}"
set grid
set key outside right top
set xlabel "coupling strength {/Symbol t}_2 (coupled stages)"
set ylabel "final rel. L2 error"
set title "{/Symbol e} = 1/48, form (11), seeds 1-3: median, bars min-max"
set output "$out/final_vs_tau2_seeds.png"
plot "seeds_fixed.dat" using 1:2:3:4 with yerrorlines pt 7 lc rgb "#c0392b" title "fixed {/Symbol t}_2", \\
     "seeds_off.dat" using 1:2:3:4 with yerrorlines pt 5 lc rgb "#2471a3" title "last stage {/Symbol t}_2 = 0"
GP
echo "wrote $out/final_vs_tau2_seeds.png"
