#!/usr/bin/env bash
# The README's second command (and what CI runs): set up, build everything
# with warnings as errors, and run the whole test suite with ctest — unit
# tests, the integration tests against a real bpmd, and the same suites on a
# private MariaDB that ctest starts on loopback and stops afterwards — first
# with gcc in build/, then again with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer (LeakSanitizer included) in build-asan/, where
# the libFuzzer targets of tests/fuzz are built too and each gets a 30 s
# smoke run on its seed corpus (ctest label fuzz).
#
#   deploy/test.sh                 both passes: build/ (gcc), then build-asan/ (clang ASan+UBSan)
#   deploy/test.sh --quick         only the gcc pass (the fast local loop)
#   deploy/test.sh --sanitize      only the ASan+UBSan pass, build-asan/
#   deploy/test.sh --tsan          only a ThreadSanitizer pass, build-tsan/ (not in CI)
#   deploy/test.sh -- -L unit      extra arguments after -- go to ctest (every pass)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
passes=(gcc asan)
ctest_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) passes=(gcc); shift ;;
    --sanitize) passes=(asan); shift ;;
    --tsan) passes=(tsan); shift ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

jobs=$(nproc 2>/dev/null || echo 2)
for pass in "${passes[@]}"; do
  case $pass in
    gcc) build_dir="$root/build"; setup_args=(--werror) ;;
    asan) build_dir="$root/build-asan"; setup_args=(--werror --fuzz) ;;
    tsan) build_dir="$root/build-tsan"; setup_args=(--tsan) ;;
  esac
  echo "test.sh: $pass pass in $build_dir"
  "$root/deploy/setup.sh" --build-dir "$build_dir" "${setup_args[@]}"
  (
    cd "$build_dir"
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
    ctest --output-on-failure -j "$jobs" "${ctest_args[@]}"
  )
done
