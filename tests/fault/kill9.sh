#!/usr/bin/env bash
# kill9.sh [sqlite|mysql] — kill -9 bpmd again and again under load.
#
# One bpmd on a fresh store (SQLite file, or a fresh database on the mariadb
# fixture's server named by BPM_TEST_MYSQL_INFO); fault_client drive runs the
# approval chain with idempotency keys and logs every acknowledgement. The
# script kills bpmd with SIGKILL at random moments (each while the clients are
# making progress) and restarts it on the same store and port; the clients
# retry through the outage with the same keys. Afterwards:
#   - every restart recovered (the clients made progress after each one);
#   - the clients met no definitive error (every call succeeded eventually);
#   - fault_client verify: every acknowledged call is in the history exactly
#     once, nothing applied twice, one instance per subject, every history
#     contiguous and chained along the definition's transitions;
#   - the last bpmd stops cleanly.
# Sizes (environment): FAULT_KILLS (20), FAULT_CLIENTS (4), FAULT_MAX_UP_MS
# (extra random up time after progress, 600), FAULT_DEADLINE_MS (per call, 5000;
# a few ms make the clients time out and retry while the first try still runs).
set -euo pipefail
# shellcheck source=tests/fault/lib.sh
source "$(dirname "$0")/lib.sh"

backend=${1:-sqlite}
kills=${FAULT_KILLS:-20}
clients=${FAULT_CLIENTS:-4}
max_up_ms=${FAULT_MAX_UP_MS:-600}
deadline_ms=${FAULT_DEADLINE_MS:-5000}

case "$backend" in
  sqlite) store="sqlite:$work/bpm.db" ;;
  mysql) store=$(fresh_mysql_url "${BPM_TEST_MYSQL_INFO:?the mysql variant needs the mariadb fixture}" kill9) ;;
  *) fail "usage: kill9.sh [sqlite|mysql]" ;;
esac

start_bpmd a "$store" 0
port=${bpmd_port[a]}
server=127.0.0.1:$port
log "bpmd on $server ($backend); $clients clients; $kills kills"

"$FAULT_CLIENT" drive --server "$server" --clients "$clients" --stop-file "$work/stop" \
  --log-dir "$work/acks" --stats-file "$work/drive.stats" --tag k9 --deadline-ms "$deadline_ms" >"$work/drive.log" 2>&1 &
drive=$!
bg_pids+=("$drive")

wait_acks_above 0 30 || fail "no acknowledgement within 30 s"
for i in $(seq 1 "$kills"); do
  sleep_ms "$(random_between 0 "$max_up_ms")"
  before=$(count_acks)
  kill_bpmd a
  start_bpmd a "$store" "$port"
  # The next kill only once the clients are through again.
  wait_acks_above "$before" 30 || fail "no progress within 30 s after restart $i"
done
log "$kills kills done, $(count_acks) acknowledgements"

touch "$work/stop"
wait "$drive" || fail "fault_client drive failed: $(cat "$work/drive.log")"
cat "$work/drive.log"
definitive=$(stat_of "$work/drive.stats" definitive)
((definitive == 0)) || fail "the clients got $definitive definitive errors (see above)"

"$FAULT_CLIENT" verify --server "$server" --log-dir "$work/acks" --min-acks 50 ||
  fail "verify found violations"
stop_bpmd a
log "PASS: $kills kills of bpmd, $(count_acks) acknowledgements verified"
