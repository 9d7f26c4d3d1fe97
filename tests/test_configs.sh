#!/usr/bin/env bash
# test_configs.sh — a smoke run of every config the repository ships
# (configs/*.yaml and configs/*/*.yaml): `hpinn run` with every stage cut to two
# iterations (HPINN_TEST_MAX_ITERATIONS=2; one for 2-D configs, whose dense LM
# steps cost seconds each), so that a config cannot rot while
# the code moves on. `hpinn check --gradient` on the same files (test_objective)
# checks the objective; this test checks that the whole pipeline (reference,
# every stage, outputs, summary) runs. 2-D configs run on 24² points and a 64²
# FEM reference (their
# 128² points and 512² references only make the test slow). Each run must exit 0 and write a summary.json
# that says it completed.
#
# Usage: HPINN_SOURCE_DIR=... HPINN_BUILD_DIR=... bash tests/test_configs.sh
set -u
src=${HPINN_SOURCE_DIR:?HPINN_SOURCE_DIR is not set}
build=${HPINN_BUILD_DIR:?HPINN_BUILD_DIR is not set}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/hpinn-configs-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export HPINN_TEST_MAX_ITERATIONS=2 HPINN_PLUGIN_PATH=

failures=0 ran=0
cd "$src" || exit 1
for config in configs/*.yaml configs/*/*.yaml; do
    [ -f "$config" ] || continue
    name=${config#configs/}
    name=${name%.yaml}
    out="$scratch/${name//\//-}"
    extra=() cut=2
    if grep -q '^ *dim: *2' "$config"; then
        extra=(--set problem.collocation.points=24 --set problem.reference.fem_elements=64) cut=1
    fi
    ran=$((ran + 1)) started=$SECONDS
    if ! HPINN_TEST_MAX_ITERATIONS=$cut timeout 300 "$build/bin/hpinn" run "$config" --out "$out" "${extra[@]}" \
        >"$scratch/log" 2>&1; then
        echo "FAIL: hpinn run $config ${extra[*]} (exit $?)"
        tail -n 20 "$scratch/log"
        failures=$((failures + 1))
    elif ! grep -q '"completed": *true' "$out/summary.json"; then
        echo "FAIL: $config: summary.json does not say completed"
        failures=$((failures + 1))
    else
        echo "ok: $config ($((SECONDS - started)) s)"
    fi
done
echo "$ran configs run, $failures failed"
[ "$ran" -gt 0 ] && [ "$failures" -eq 0 ]
