#!/usr/bin/env bash
# mariadb_restart.sh — the database goes away under load and comes back.
#
# A private MariaDB (tests/mysql/mariadb.sh in a directory of our own, not the
# shared fixture) and one bpmd on it; fault_client drive runs the approval
# chain with idempotency keys. The script stops MariaDB mid-load, keeps it
# down for a while and starts it again on the same data directory and port;
# outages alternate between a clean stop (SIGTERM) and a crash (SIGKILL).
# bpmd is never restarted. Afterwards:
#   - the clients saw UNAVAILABLE during the outages (counted by code), and
#     never INTERNAL (the API's contract for a database outage);
#   - after each outage the clients made progress again through the same
#     bpmd process, which is still alive: it recovered by itself;
#   - the clients met no definitive error;
#   - fault_client verify: nothing acknowledged was lost, nothing applied
#     twice, histories contiguous and chained (as in kill9.sh);
#   - bpmd stops cleanly.
# Sizes (environment): FAULT_OUTAGES (2), FAULT_DOWN_SECONDS (3),
# FAULT_CLIENTS (4), FAULT_LOAD_SECONDS (load between outages, 2),
# FAULT_OUTAGE_MODES (how MariaDB goes down, in turn: "term kill").
set -euo pipefail
# shellcheck source=tests/fault/lib.sh
source "$(dirname "$0")/lib.sh"

outages=${FAULT_OUTAGES:-2}
down=${FAULT_DOWN_SECONDS:-3}
clients=${FAULT_CLIENTS:-4}
load_seconds=${FAULT_LOAD_SECONDS:-2}
read -r -a modes <<<"${FAULT_OUTAGE_MODES:-term kill}"

mdir=$work/mariadb
start_private_mariadb "$mdir"
store=$(fresh_mysql_url "$mdir/info" restart)
start_bpmd a "$store" 0
server=127.0.0.1:${bpmd_port[a]}
pid=${bpmd_pid[a]}
log "bpmd $pid on $server, MariaDB in $mdir; $clients clients; $outages outages of ${down}s"

"$FAULT_CLIENT" drive --server "$server" --clients "$clients" --stop-file "$work/stop" \
  --log-dir "$work/acks" --stats-file "$work/drive.stats" --tag mr --deadline-ms 3000 \
  >"$work/drive.log" 2>&1 &
drive=$!
bg_pids+=("$drive")

wait_acks_above 0 30 || fail "no acknowledgement within 30 s"
for i in $(seq 1 "$outages"); do
  sleep "$load_seconds"
  how=${modes[$(((i - 1) % ${#modes[@]}))]}
  before=$(count_acks)
  log "outage $i: MariaDB down ($how) for ${down}s at $before acknowledgements"
  bash "$MARIADB_SH" restart "$mdir" "$down" "$how" >/dev/null || fail "cannot restart MariaDB"
  during=$(count_acks)
  log "MariaDB is back; $((during - before)) acknowledgements during the outage"
  wait_acks_above "$during" 30 || fail "bpmd did not recover within 30 s after outage $i"
  kill -0 "$pid" 2>/dev/null || fail "bpmd died during outage $i"
done
sleep "$load_seconds"

touch "$work/stop"
wait "$drive" || fail "fault_client drive failed: $(cat "$work/drive.log")"
cat "$work/drive.log"
unavailable=$(stat_of "$work/drive.stats" code_UNAVAILABLE)
((unavailable > 0)) || fail "the clients never saw UNAVAILABLE during the outages"
internal=$(stat_of "$work/drive.stats" code_INTERNAL)
((internal == 0)) || fail "the clients got INTERNAL $internal times: a database outage must read UNAVAILABLE"
definitive=$(stat_of "$work/drive.stats" definitive)
((definitive == 0)) || fail "the clients got $definitive definitive errors (see above)"
if [[ ${bpmd_pid[a]} != "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then fail "bpmd was restarted or died"; fi

"$FAULT_CLIENT" verify --server "$server" --log-dir "$work/acks" --min-acks 50 ||
  fail "verify found violations"
stop_bpmd a
log "PASS: $outages MariaDB outages, UNAVAILABLE seen $unavailable times, $(count_acks) acknowledgements verified"
