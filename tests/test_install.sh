#!/usr/bin/env bash
# test_install.sh — install hpinn into a temporary prefix, build the example
# plugin of docs/examples/ out of tree against the installed package (CMake
# package config, and pkg-config), load it through HPINN_PLUGIN_PATH with the
# installed hpinn, and run it through a pipeline check.
set -euo pipefail
build=${HPINN_BUILD_DIR:?} src=${HPINN_SOURCE_DIR:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
test -f "$prefix/include/hpinn/plugin.h"
test -f "$prefix/lib/pkgconfig/hpinn.pc" || test -f "$prefix"/lib*/pkgconfig/hpinn.pc
# libhpinn exports its public API only: every defined dynamic symbol is hp_<name>
# (no private hp__ symbol, no helper of another name), and the public API is there
lib=$(ls "$prefix"/lib*/libhpinn.so | head -n1)
others=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^hp_[a-z]' || true)
[ -z "$others" ] || { echo "libhpinn exports non-API symbols:"; echo "$others"; exit 1; }
for api in hp_registry_open hp_config_load_file hp_jet_dense_forward hp_cli_main hp_params_int; do
  nm -D --defined-only "$lib" | grep -qw "$api" || { echo "libhpinn does not export $api"; exit 1; }
done

# 1. CMake package config
cmake -S "$src/docs/examples/sgd_momentum" -B "$work/ex" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="${HPINN_EXAMPLE_CFLAGS:-}" >"$work/configure.log"
cmake --build "$work/ex" >"$work/build.log"
test -f "$work/ex/hpinn_sgd_momentum.so"
# only the entry symbol is exported
exports=$(nm -D --defined-only "$work/ex/hpinn_sgd_momentum.so" | awk '$2 == "T" {print $3}')
[ "$exports" = "hp_plugin_entry" ] || { echo "unexpected exports: $exports"; exit 1; }

# 2. pkg-config
pcdir=$(dirname "$(ls "$prefix"/lib*/pkgconfig/hpinn.pc | head -n1)")
mkdir -p "$work/pc"
cc -shared -fPIC -fvisibility=hidden ${HPINN_EXAMPLE_CFLAGS:-} $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags hpinn) \
  "$src/docs/examples/sgd_momentum/sgd_momentum.c" -o "$work/pc/hpinn_sgd_momentum.so" \
  $(PKG_CONFIG_PATH=$pcdir pkg-config --libs hpinn) -lm

hpinn=$prefix/bin/hpinn
for dir in "$work/ex" "$work/pc"; do
  out=$(HPINN_PLUGIN_PATH=$dir "$hpinn" plugins)
  echo "$out" | grep -q "optimizer  sgd_momentum" || { echo "$out"; echo "example plugin not listed from $dir"; exit 1; }
  echo "$out" | grep -q "$dir/hpinn_sgd_momentum.so"
  HPINN_PLUGIN_PATH=$dir "$hpinn" plugins sgd_momentum | grep -q "momentum"
  # the plugin's table validates a pipeline: a bad value is a config error (exit 2)
  cat >"$work/p.yaml" <<YAML
problem: {K: "1 + x"}
network: {plugin: mlp, width: 4, depth: 1}
stages:
  - iterations: 5
    optimizer: {plugin: sgd_momentum, lr: 0.01, momentum: 0.5}
YAML
  HPINN_PLUGIN_PATH=$dir "$hpinn" check "$work/p.yaml" | grep -q "plugin: sgd_momentum"
  set +e
  HPINN_PLUGIN_PATH=$dir "$hpinn" check "$work/p.yaml" --set 'stages[0].optimizer.momentum=1.5' 2>"$work/err"
  rc=$?
  set -e
  [ $rc = 2 ] || { echo "expected exit 2, got $rc"; exit 1; }
  grep -q "stages\[0\].optimizer.momentum: 1.5 is out of range" "$work/err"
done
echo "install + out-of-tree example plugin: OK"
