#!/usr/bin/env bash
# The ctest smoke of one fuzz target: runs it for SECONDS on a temporary copy
# of its seed corpus (libFuzzer writes new inputs into the corpus directory;
# the repository's copy stays untouched). Exit status: the fuzzer's (non-zero
# on a crash, a leak, a sanitizer report or a timeout of one input).
#   smoke.sh FUZZER CORPUS_DIR SECONDS
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/bpm-fuzz-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/artifacts"
cp -R "$corpus"/. "$work/corpus/"
cd "$work"
# -timeout: one input taking longer than 25 s is a hang (a finding).
if ! "$fuzzer" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=3072 -print_final_stats=1 \
     -artifact_prefix="$work/artifacts/" "$work/corpus"; then
  echo "smoke.sh: $(basename "$fuzzer") failed; the input that did it:" >&2
  for f in "$work"/artifacts/*; do
    [[ -f $f ]] && { echo "== $f (base64)" >&2; base64 -w 0 "$f" >&2; echo >&2; }
  done
  exit 1
fi
