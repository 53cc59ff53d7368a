#!/usr/bin/env bash
# Instructions per transition of bpmd, counted by valgrind's callgrind: the
# same workload as bench/run.sh (load_bench run), on a small SQLite store.
# Unlike transitions/s, the count does not depend on the machine's load or
# clock, so two builds compare to a fraction of a percent in one run each.
#
#   bench/instructions.sh [--build-dir build] [--bpmd PATH] [--instances 150]
#                         [--keep DIR]
#
# --bpmd: another bpmd binary to count (the plugins always come from
# --build-dir, and both use its libbpm_plugin_proto.so: the binary must be
# built from the same plugin.proto; for an older commit whose protocol
# differs, run that checkout's script with its own --build-dir). --keep: leave callgrind's output
# in DIR (callgrind_annotate --inclusive=yes DIR/callgrind.out.*.1 shows where
# the instructions go). Prints "instructions per transition N".
#
# Only bpmd's threads are counted, from after a warm-up (definitions compiled,
# caches filled) to the end of the measured run. Callgrind runs bpmd about 50
# times slower; with the default 150 instances a run takes about 20 s.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build"
bpmd=
instances=150
keep=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --bpmd) bpmd=$2; shift 2 ;;
    --instances) instances=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "instructions.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || {
  echo "instructions.sh: needs valgrind (apt-get install valgrind)" >&2
  exit 1
}
[[ -f "$build_dir/CMakeCache.txt" ]] || "$root/deploy/setup.sh" --build-dir "$build_dir" bpmd
cmake -S "$root" -B "$build_dir" -DBPM_BUILD_BENCH=ON >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target bpmd load_bench bpm_stage_plugins >/dev/null
bpmd=${bpmd:-$build_dir/bin/bpmd}
bench="$build_dir/bin/load_bench"

work=$(mktemp -d /tmp/bpm-instructions.XXXXXX)
pid=
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$bench" seed --store "sqlite:$work/bench.db" --instances 1000 >/dev/null
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out.%p" \
  "$bpmd" --listen 127.0.0.1:0 --port-file "$work/port" --store "sqlite:$work/bench.db" \
  --workflows "$root/workflows" --plugins "$build_dir/plugins" \
  --calendars "$root/deploy/calendars" --dev-identity --db-pool 16 >"$work/bpmd.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [[ -s "$work/port" ]] && break; sleep 0.2; done
[[ -s "$work/port" ]] || { cat "$work/bpmd.log" >&2; exit 1; }
addr="127.0.0.1:$(cat "$work/port")"
"$bench" run --server "$addr" --clients 8 --seconds 600 --instances 30 >/dev/null
callgrind_control --zero "$pid" >/dev/null
out=$("$bench" run --server "$addr" --clients 8 --seconds 600 --instances "$instances")
callgrind_control --dump "$pid" >/dev/null
transitions=$(sed -n 's/.*(transitions \([0-9]*\),.*/\1/p' <<<"$out")
# The dump after --zero is callgrind.out.PID.1; "summary:" holds its total.
instructions=$(awk '/^(summary|totals):/ {print $2; exit}' "$work"/callgrind.out.*.1)
[[ -n "$transitions" && "$transitions" -gt 0 && -n "$instructions" ]] || {
  echo "instructions.sh: no count (load_bench said: $out)" >&2
  exit 1
}
echo "transitions $transitions"
echo "instructions $instructions"
echo "instructions per transition $((instructions / transitions))"
if [[ -n "$keep" ]]; then
  mkdir -p "$keep"
  cp "$work"/callgrind.out.*.1 "$keep"/
fi
