#!/usr/bin/env bash
# The issue-5 benchmark matrix: for each backend and each stored-instance
# count, seed a fresh store, start bpmd on it, run load_bench flat out, then
# at half the peak rate (for latency), and print bpmd's memory and the raw
# commit rate of the same database on the same disk.
#
#   bench/run.sh [--backend sqlite|mysql|both] [--sizes "10000 100000 1000000"]
#                [--clients 32] [--seconds 20] [--build-dir build]
#
# Needs a build with -DBPM_BUILD_BENCH=ON (this script configures it). The
# MariaDB runs are on a private server started from tests/mysql/mariadb.sh.
# Work files go to $BPM_BENCH_DIR (default /tmp/bpm-bench), removed afterwards.
# Extra bpmd flags from $BPM_BENCH_BPMD_ARGS (e.g. --sync-commands, for an A/B).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
backend=sqlite
sizes="10000 100000 1000000"
clients=32
seconds=20
build_dir="$root/build"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --backend) backend=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

# Packages, and a configured build directory, come from the README's setup.
[[ -f "$build_dir/CMakeCache.txt" ]] || "$root/deploy/setup.sh" --build-dir "$build_dir" bpmd
cmake -S "$root" -B "$build_dir" -DBPM_BUILD_BENCH=ON >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target bpmd load_bench bpm_stage_plugins \
  >/dev/null
bench="$build_dir/bin/load_bench"
work=${BPM_BENCH_DIR:-/tmp/bpm-bench}
rm -rf "$work"
mkdir -p "$work"
bpmd_pid=
mariadb_dir="$work/mariadb"
cleanup() {
  [[ -n "$bpmd_pid" ]] && kill "$bpmd_pid" 2>/dev/null && wait "$bpmd_pid" 2>/dev/null
  [[ -d "$mariadb_dir" ]] && bash "$root/tests/mysql/mariadb.sh" stop "$mariadb_dir"
  rm -rf "$work"
}
trap cleanup EXIT

start_bpmd() {  # store url
  rm -f "$work/port"
  "$build_dir/bin/bpmd" --listen 127.0.0.1:0 --port-file "$work/port" --store "$1" \
    --workflows "$root/workflows" --plugins "$build_dir/plugins" \
    --calendars "$root/deploy/calendars" --dev-identity --db-pool 16 ${BPM_BENCH_BPMD_ARGS:-} \
    >"$work/bpmd.log" 2>&1 &
  bpmd_pid=$!
  for _ in $(seq 1 300); do [[ -s "$work/port" ]] && break; sleep 0.1; done
  [[ -s "$work/port" ]] || { cat "$work/bpmd.log" >&2; exit 1; }
}

stop_bpmd() {
  kill "$bpmd_pid"
  wait "$bpmd_pid" 2>/dev/null || true
  bpmd_pid=
}

one() {  # backend size
  local url
  if [[ $1 == sqlite ]]; then
    rm -f "$work"/bench.db*
    url="sqlite:$work/bench.db"
  else
    local prefix admin
    prefix=$(sed -n 1p "$mariadb_dir/info")
    admin=$(sed -n 2p "$mariadb_dir/info")
    $admin -e "DROP DATABASE IF EXISTS bpm_bench; CREATE DATABASE bpm_bench"
    url="${prefix}bpm_bench"
  fi
  echo "== $1, $2 stored instances =="
  "$bench" seed --store "$url" --instances "$2"
  start_bpmd "$url"
  local addr="127.0.0.1:$(cat "$work/port")"
  "$bench" run --server "$addr" --clients "$clients" --seconds "$seconds" --store "$url" \
    --bpmd-pid "$bpmd_pid" | tee "$work/peak.txt"
  local peak
  peak=$(awk '/^transitions\/s/ {print $2}' "$work/peak.txt")
  echo "-- at half the peak rate ($((peak / 2)) calls/s) --"
  "$bench" run --server "$addr" --clients "$clients" --seconds "$seconds" \
    --rate "$((peak / 2))" --bpmd-pid "$bpmd_pid"
  stop_bpmd
}

for b in sqlite mysql; do
  [[ $backend == both || $backend == "$b" ]] || continue
  if [[ $b == mysql ]]; then
    # Sized like a production server for stores of up to a million instances
    # (the test fixture's defaults: a 128 MB buffer pool, a 16 MB redo log).
    BPM_MARIADB_ARGS=${BPM_MARIADB_ARGS:---innodb-buffer-pool-size=2G --innodb-log-file-size=1G} \
      bash "$root/tests/mysql/mariadb.sh" start "$mariadb_dir"
  fi
  for n in $sizes; do one "$b" "$n"; done
done
