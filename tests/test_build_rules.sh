#!/usr/bin/env bash
# The test registration rules (cmake/HpinnTest.cmake): a tests/*.cmake fragment
# that names a missing test file must fail the configure with a message naming
# the file, and one whose files exist must configure. Without this, deleting a
# test file silently dropped its tests from the suite.
set -euo pipefail
src=${HPINN_SOURCE_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/proj"
cat > "$tmp/proj/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(rules C)
list(APPEND CMAKE_MODULE_PATH "$src/cmake")
include(HpinnTest)
enable_testing()
add_library(hpinn_internal INTERFACE)
add_library(PkgConfig::CMOCKA INTERFACE IMPORTED)
hp_add_test(test_present SOURCES present.c)
if(WITH_MISSING)
  hp_add_test(test_gone SOURCES gone.c)
endif()
CM
echo 'int main(void) { return 0; }' > "$tmp/proj/present.c"
if ! cmake -S "$tmp/proj" -B "$tmp/ok" >"$tmp/ok.log" 2>&1; then
  cat "$tmp/ok.log"; echo "FAIL: a fragment whose files exist did not configure"; exit 1
fi
if cmake -S "$tmp/proj" -B "$tmp/bad" -DWITH_MISSING=ON >"$tmp/bad.log" 2>&1; then
  cat "$tmp/bad.log"; echo "FAIL: a missing test source configured without error"; exit 1
fi
grep -q "source gone.c does not exist" "$tmp/bad.log" || { cat "$tmp/bad.log"; echo "FAIL: message does not name the file"; exit 1; }
echo "PASS: missing test sources are configure errors"
