#!/usr/bin/env bash
# make test-kernels: the whole suite once per OpenBLAS kernel this CPU can run.
#
# OpenBLAS (DYNAMIC_ARCH, as Debian builds it) picks its kernels by CPU, or by
# OPENBLAS_CORETYPE when the environment sets it. Users' machines pick kernels
# ours do not, and bits differ between kernels, so a test that passes here only
# because of our kernel is a test bug. This runs ctest with each kernel forced
# and reports:
#   - tests that fail under SOME kernels only: kernel-dependent tests (fix them:
#     compare across code paths with a tolerance, never bit for bit);
#   - tests that fail under EVERY kernel: a real failure (or, if the suite passes
#     normally, an OpenBLAS kernel computing wrong results on this CPU; report it,
#     do not bend the tests to it).
# The normal suite (`make test`, CI) never sets OPENBLAS_CORETYPE: it leaves the
# kernel to the machine. Usage: tests/test_kernels.sh BUILD_DIR [KERNEL...]
set -uo pipefail
build=${1:?usage: test_kernels.sh BUILD_DIR [KERNEL...]}
shift
hpinn="$build/bin/hpinn"
[ -x "$hpinn" ] || { echo "test-kernels: $hpinn is missing; build first"; exit 2; }
flags=$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2)
has() { for f in "$@"; do [[ " $flags " == *" $f "* ]] || return 1; done; }
# The instruction sets each kernel needs (OpenBLAS driver/others/dynamic.c).
needs() {
  case $1 in
    Prescott) echo "pni" ;;  # SSE3 is "pni" in /proc/cpuinfo
    Core2|Atom) echo "ssse3" ;;
    Nehalem) echo "sse4_2" ;;
    Sandybridge) echo "avx" ;;
    Haswell|Zen) echo "avx2 fma" ;;
    SkylakeX) echo "avx512f avx512cd avx512bw avx512dq avx512vl" ;;
    Cooperlake) echo "avx512f avx512cd avx512bw avx512dq avx512vl avx512_bf16" ;;
    Bulldozer|Piledriver) echo "avx fma4" ;;
    Steamroller|Excavator) echo "avx2 fma4" ;;
    *) echo "unknown" ;;
  esac
}
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(Prescott Core2 Nehalem Sandybridge Haswell Zen SkylakeX Cooperlake)
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
declare -A failed_under
tried=()
for k in "${kernels[@]}"; do
  req=$(needs "$k")
  if [ "$req" = unknown ] || ! has $req; then
    echo "== $k: skipped (this CPU lacks: $req)"
    continue
  fi
  picked=$(OPENBLAS_CORETYPE=$k "$hpinn" --version | sed -n 's/.*kernel \([A-Za-z0-9]*\),.*/\1/p')
  if [ "$picked" != "$k" ]; then
    echo "== $k: skipped (OpenBLAS chose $picked instead)"
    continue
  fi
  tried+=("$k")
  echo "== $k"
  OPENBLAS_CORETYPE=$k ctest --test-dir "$build" -j"${JOBS:-2}" >"$log/$k.log" 2>&1
  fails=$(sed -n 's/^[[:space:]]*[0-9]* - \([A-Za-z0-9_]*\) (.*/\1/p' "$log/$k.log")
  grep -h "tests passed" "$log/$k.log" | sed "s/^/   /"
  for t in $fails; do failed_under[$t]="${failed_under[$t]:-} $k"; echo "   FAILED: $t"; done
done
echo
echo "kernels tried: ${tried[*]:-none}"
status=0
for t in "${!failed_under[@]}"; do
  n=$(wc -w <<<"${failed_under[$t]}")
  if [ "$n" -eq "${#tried[@]}" ]; then
    echo "fails under every kernel: $t (a real failure, or an OpenBLAS kernel wrong on this CPU)"
  else
    echo "kernel-dependent: $t fails under${failed_under[$t]} only"
  fi
  status=1
done
[ $status -eq 0 ] && echo "the suite passes under every kernel tried"
exit $status
