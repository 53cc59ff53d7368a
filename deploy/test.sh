#!/usr/bin/env bash
# The README's second command (and what CI runs): set up, build everything
# with warnings as errors, and run the whole test suite with ctest — unit
# tests, the integration tests against a real bpmd, and the same suites on a
# private MariaDB that ctest starts on loopback and stops afterwards.
#
#   deploy/test.sh                 whole suite, build/ directory
#   deploy/test.sh --sanitize      the same under ASan+UBSan, build-asan/
#   deploy/test.sh -- -L unit      extra arguments after -- go to ctest
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build"
setup_args=(--werror)
ctest_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sanitize) build_dir="$root/build-asan"; setup_args+=(--sanitize); shift ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

"$root/deploy/setup.sh" --build-dir "$build_dir" "${setup_args[@]}"
cd "$build_dir"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" "${ctest_args[@]}"
