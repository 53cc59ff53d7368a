# shellcheck shell=bash
# Shared helpers of the fault scripts (tests/fault/*.sh), sourced, not run.
# Needs BPM_BINARY_DIR, BPM_SOURCE_DIR and BPM_PLUGIN_DIR (ctest sets them);
# FAULT_BPMD runs another bpmd binary than BPM_BINARY_DIR's.
# Gives a work directory ($work, kept on failure or with FAULT_KEEP=1), bpmd
# processes by name (start_bpmd/kill_bpmd/stop_bpmd), private MariaDB
# servers, store URLs, and cleanup of everything started here on exit.

: "${BPM_BINARY_DIR:?run through ctest, or set BPM_BINARY_DIR}"
: "${BPM_SOURCE_DIR:?run through ctest, or set BPM_SOURCE_DIR}"
: "${BPM_PLUGIN_DIR:?run through ctest, or set BPM_PLUGIN_DIR}"

FAULT_CLIENT=$BPM_BINARY_DIR/bin/fault_client
BPMD=${FAULT_BPMD:-$BPM_BINARY_DIR/bin/bpmd}  # FAULT_BPMD: try another build
BPMCTL=$BPM_BINARY_DIR/bin/bpmctl
MARIADB_SH=$BPM_SOURCE_DIR/tests/mysql/mariadb.sh
for bin in "$FAULT_CLIENT" "$BPMD" "$BPMCTL"; do
  [[ -x "$bin" ]] || { echo "FAIL: $bin is not built" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/bpm-fault-XXXXXX")
script_start=$SECONDS
declare -A bpmd_pid=() bpmd_port=()
declare -a bg_pids=() mariadb_dirs=()

log() { echo "[$(date +%T) +$((SECONDS - script_start))s] $*"; }

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

cleanup() {
  local status=$?
  set +e
  for name in "${!bpmd_pid[@]}"; do
    local pid=${bpmd_pid[$name]}
    [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  for pid in "${bg_pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  for dir in "${mariadb_dirs[@]}"; do
    [[ $status -ne 0 && -f "$dir/error.log" ]] && cp "$dir/error.log" "$work/mariadb-error.log"
    bash "$MARIADB_SH" stop "$dir" >/dev/null 2>&1
  done
  # In the TSan build a report in a bpmd that was SIGKILLed afterwards, or in
  # a client whose failure the script tolerated (retries), must still fail
  # the test: look for reports in every log of the run.
  local reports
  reports=$(grep -l 'WARNING: ThreadSanitizer' "$work"/*.log 2>/dev/null)
  if [[ -n "$reports" ]]; then
    echo "FAIL: ThreadSanitizer reports in:" $reports >&2
    for f in $reports; do
      sed -n '/WARNING: ThreadSanitizer/,/^SUMMARY: ThreadSanitizer/p' "$f" | head -n 80 >&2
    done
    [[ $status -ne 0 ]] || status=1
  fi
  if [[ $status -ne 0 || -n "${FAULT_KEEP:-}" ]]; then
    echo "work directory kept: $work (bpmd logs *.log, ack logs acks/)" >&2
    if [[ $status -ne 0 ]]; then
      for f in "$work"/bpmd-*.log; do
        [[ -f "$f" ]] || continue
        echo "---- last lines of $f" >&2
        tail -n 15 "$f" >&2
      done
    fi
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT

# Milliseconds as a sleep argument: sleep_ms 250.
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# A random integer in [lo, hi].
random_between() { echo $(($1 + RANDOM % ($2 - $1 + 1))); }

# Lines in the ack logs so far.
count_acks() { cat "$work"/acks/ack-*.log 2>/dev/null | wc -l; }

# Waits up to $2 seconds (default 30) until the ack count exceeds $1.
wait_acks_above() {
  local n=$1 limit=${2:-30} start=$SECONDS
  while (($(count_acks) <= n)); do
    ((SECONDS - start < limit)) || return 1
    sleep 0.05
  done
}

# A counter of fault_client drive's stats file ($1), 0 when absent.
stat_of() { awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }' "$1"; }

# start_bpmd NAME STORE_URL [PORT] [extra bpmd flags...]: starts bpmd NAME on
# 127.0.0.1:PORT (0 or empty: any free port) with the real plugins, the bundled
# workflows and tests/fault/workflows; waits until it is SERVING. Sets
# bpmd_pid[NAME] and bpmd_port[NAME]. Log: $work/bpmd-NAME.log.
start_bpmd() {
  local name=$1 store=$2 port=${3:-0}
  shift 3 || shift $#
  local port_file=$work/bpmd-$name.port
  rm -f "$port_file"
  local _
  for _ in 1 2 3 4 5; do
    "$BPMD" --listen="127.0.0.1:$port" --store="$store" --plugins="$BPM_PLUGIN_DIR" \
      --workflows="$BPM_SOURCE_DIR/workflows" --workflows="$BPM_SOURCE_DIR/tests/fault/workflows" \
      --calendars="$BPM_SOURCE_DIR/deploy/calendars" --port-file="$port_file" --dev-identity \
      "$@" >>"$work/bpmd-$name.log" 2>&1 &
    bpmd_pid[$name]=$!
    for _ in $(seq 1 300); do
      [[ -s "$port_file" ]] && break
      kill -0 "${bpmd_pid[$name]}" 2>/dev/null || break
      sleep 0.05
    done
    if [[ -s "$port_file" ]]; then
      bpmd_port[$name]=$(cat "$port_file")
      "$FAULT_CLIENT" ready --server "127.0.0.1:${bpmd_port[$name]}" --timeout-ms 30000 ||
        fail "bpmd $name is not SERVING"
      return 0
    fi
    # Did not come up (e.g. the port was not free yet): try again.
    kill -KILL "${bpmd_pid[$name]}" 2>/dev/null
    wait "${bpmd_pid[$name]}" 2>/dev/null || true
    bpmd_pid[$name]=
    sleep 0.2
  done
  fail "bpmd $name did not start (see $work/bpmd-$name.log)"
}

# kill_bpmd NAME: SIGKILL, then reap.
kill_bpmd() {
  local pid=${bpmd_pid[$1]}
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  bpmd_pid[$1]=
}

# stop_bpmd NAME: SIGTERM; a clean stop exits 0.
stop_bpmd() {
  local pid=${bpmd_pid[$1]} status=0
  kill -TERM "$pid"
  wait "$pid" || status=$?
  bpmd_pid[$1]=
  ((status == 0)) || fail "bpmd $1 did not stop cleanly (exit $status)"
}

# start_private_mariadb DIR: a MariaDB of our own (tests/mysql/mariadb.sh),
# stopped on exit.
start_private_mariadb() {
  mariadb_dirs+=("$1")
  bash "$MARIADB_SH" start "$1" >/dev/null || fail "cannot start MariaDB in $1"
}

# fresh_mysql_url INFO_FILE TAG: creates an empty database on the server
# described by INFO_FILE (line 1: URL prefix, line 2: admin client command)
# and prints its store URL.
fresh_mysql_url() {
  local info=$1 tag=$2 prefix client db
  [[ -s "$info" ]] || fail "MariaDB info file $info is missing (is the mariadb fixture running?)"
  prefix=$(sed -n 1p "$info")
  client=$(sed -n 2p "$info")
  db="fault_${tag}_$(date +%s)_$RANDOM"
  $client -e "CREATE DATABASE $db CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" ||
    fail "cannot create database $db"
  echo "$prefix$db"
}

# sql INFO_FILE DATABASE QUERY: runs a query, prints the rows tab separated.
sql() {
  local client
  client=$(sed -n 2p "$1")
  $client -N -B -D "$2" -e "$3"
}
