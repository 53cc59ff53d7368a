#!/usr/bin/env bash
# Installs what bpm needs from Debian 12 (only packages that are missing),
# then configures and builds. Shared by deploy/run.sh and deploy/test.sh.
#
#   deploy/setup.sh [--build-dir DIR] [--werror] [--sanitize] [--fuzz] [--tsan]
#                   [--no-tests] [TARGET...]
#
#   --sanitize  ASan+UBSan (Debug) with the default compiler (gcc)
#   --fuzz      clang, ASan+UBSan and the libFuzzer targets of tests/fuzz
#               (BPM_FUZZ=ON; installs clang and its sanitizer runtimes)
#   --tsan      ThreadSanitizer (BPM_TSAN=ON, RelWithDebInfo)
#
# Idempotent and non-interactive; re-running only rebuilds what changed. With
# --fuzz, a build directory configured with another compiler is reconfigured
# from scratch (its CMake cache is removed; objects are rebuilt).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build"
cmake_args=()
targets=()
tests=ON
compiler=default
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --werror) cmake_args+=(-DBPM_WERROR=ON); shift ;;
    --sanitize) cmake_args+=(-DBPM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug); shift ;;
    --fuzz) compiler=clang; cmake_args+=(-DBPM_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug); shift ;;
    --tsan) cmake_args+=(-DBPM_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo); shift ;;
    --no-tests) tests=OFF; shift ;;
    -*) echo "setup.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libsoci-dev libmariadb-dev libsqlite3-dev libboost-dev libyaml-cpp-dev
  libssl-dev libcli11-dev libgtest-dev libgmock-dev libgoogle-perftools-dev libjwt-dev
  libxlsxwriter-dev  # bpmctl report --format xlsx
  mariadb-server-core mariadb-client-core
  graphviz fonts-wqy-zenhei  # bpmctl graph --format svg: Graphviz, and a CJK font to size labels
)
if [[ $compiler == clang ]]; then
  # clang 14 with libFuzzer and the sanitizer runtimes (libclang_rt).
  packages+=(clang libclang-rt-14-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup.sh: installing ${missing[*]}"
  sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cc="" cxx=""
if [[ $compiler == clang ]]; then
  cc=$(command -v clang) cxx=$(command -v clang++)
fi
if [[ -f "$build_dir/CMakeCache.txt" && -n $cxx ]] && \
   ! grep -qx "CMAKE_CXX_COMPILER:[A-Z]*=$cxx" "$build_dir/CMakeCache.txt"; then
  echo "setup.sh: $build_dir was configured with another compiler; reconfiguring with $cxx"
  rm -rf "$build_dir/CMakeCache.txt" "$build_dir/CMakeFiles"
fi
if [[ ! -f "$build_dir/CMakeCache.txt" && -n $cxx ]]; then
  cmake_args+=(-DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx")
fi
if [[ ! -f "$build_dir/CMakeCache.txt" ]] || [[ ${#cmake_args[@]} -gt 0 ]] || \
   ! grep -q "BPM_BUILD_TESTS:BOOL=$tests" "$build_dir/CMakeCache.txt"; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DBPM_BUILD_TESTS=$tests "${cmake_args[@]}"
fi
jobs=$(nproc 2>/dev/null || echo 2)
if [[ ${#targets[@]} -gt 0 ]]; then
  cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}"
else
  cmake --build "$build_dir" -j "$jobs"
fi
