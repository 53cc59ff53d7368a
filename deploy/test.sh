#!/usr/bin/env bash
# The README's second command (and what CI runs): set up, build with warnings
# as errors, and run the whole test suite with ctest — unit tests, the
# integration tests against a real bpmd, and the same suites on a private
# MariaDB that ctest starts on loopback and stops afterwards.
#
# The default run has two passes, each building the tree once:
#   1. gcc, build/: what ships (bpmd, bpmctl, the bundled plugins, the
#      examples; target bpm_shipped), -Werror. This is the compiler and the
#      configuration deploy/run.sh builds; its tests are not run here.
#   2. clang, build-asan/: everything, tests included, under AddressSanitizer
#      and UndefinedBehaviorSanitizer (LeakSanitizer included), -Werror, plus
#      the libFuzzer targets of tests/fuzz; then the whole suite, and a 30 s
#      smoke run of each fuzzer on its seed corpus (ctest label fuzz).
# Every test thus runs once, under the sanitizers; building the whole tree
# twice more (and running the suite twice) would not fit CI's time on two
# cores.
#
#   deploy/test.sh                 both passes (what CI runs)
#   deploy/test.sh --quick         gcc only, build/: everything, tests included,
#                                  and the whole suite unsanitized (the fast local loop)
#   deploy/test.sh --sanitize      only the ASan+UBSan pass, build-asan/
#   deploy/test.sh --tsan          only a ThreadSanitizer pass, build-tsan/ (not in CI)
#   deploy/test.sh -- -L unit      extra arguments after -- go to ctest (every pass that runs tests)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
passes=(shipped asan)
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
  targets=()
  case $pass in
    shipped) build_dir="$root/build"; setup_args=(--werror); targets=(bpm_shipped) ;;
    gcc) build_dir="$root/build"; setup_args=(--werror) ;;
    asan) build_dir="$root/build-asan"; setup_args=(--werror --fuzz) ;;
    tsan) build_dir="$root/build-tsan"; setup_args=(--tsan) ;;
  esac
  echo "test.sh: $pass pass in $build_dir"
  "$root/deploy/setup.sh" --build-dir "$build_dir" "${setup_args[@]}" "${targets[@]}"
  [[ $pass == shipped ]] && continue
  (
    cd "$build_dir"
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
    # One test more than cores: the suites wait on bpmd, MariaDB and child
    # processes (about 1.3 of 2 cores busy at -j2); -j3 saves about 2 of the
    # sanitizer pass's 9.5 minutes on two cores.
    ctest --output-on-failure -j "$((jobs + 1))" "${ctest_args[@]}"
  )
done
