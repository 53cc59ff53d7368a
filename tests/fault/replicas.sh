#!/usr/bin/env bash
# replicas.sh — three bpmd processes on one MariaDB database; one is killed.
#
# A private MariaDB (a directory of our own, so its general query log can be
# switched on) and three bpmd replicas on one database, with a test clock that
# runs fast (FAULT_CLOCK_STEP_MS per 0.25 s) so timers fall due during the
# run. fault_client drive spreads the load over the three (fail-over on
# errors): the approval chain, fault-timers instances (tests/fault/workflows:
# reminders, then overdue auto-approvals, twice per instance), and
# key-evaluation instances of an agency whose endpoint is a fault_client
# receiver (push outbox), plus a puller fetching the agency's external tasks
# with 1 s locks that expire (re-delivery). Replica b is killed with SIGKILL
# mid-load and not restarted. Afterwards:
#   - every timer is fired or cancelled (none pending, none lost), every
#     fired timer has exactly one history event (reminded/overdue), no task
#     has a timer event twice, and every fault-timers instance completed;
#   - fault_client verify: every acknowledged call exactly once in the
#     history, chained histories, one instance per subject; and every outbox
#     message delivered and received by the agency (none lost);
#   - the timer, outbox and external-task claims ran as
#     SELECT ... FOR UPDATE SKIP LOCKED (MariaDB's general query log);
#   - the clients met no definitive error; a and c stop cleanly.
# Sizes (environment): FAULT_CLIENTS (6), FAULT_LOAD_SECONDS (before and
# after the kill, 5 each), FAULT_CLOCK_STEP_MS (7200000: 2 h per 0.25 s).
set -euo pipefail
# shellcheck source=tests/fault/lib.sh
source "$(dirname "$0")/lib.sh"

clients=${FAULT_CLIENTS:-6}
load_seconds=${FAULT_LOAD_SECONDS:-5}
clock_step=${FAULT_CLOCK_STEP_MS:-7200000}
agency=ag-fault

mdir=$work/mariadb
start_private_mariadb "$mdir"
info=$mdir/info
store=$(fresh_mysql_url "$info" replicas)
db=${store##*/}

# The test clock: 2026-03-02 10:00 China time, then running fast.
clock=$work/clock
echo 1772416800000 >"$clock"
echo "$clock_step" >"$work/clock.step"
(
  while [[ ! -f "$work/clock.stop" ]]; do
    now=$(($(cat "$clock") + $(cat "$work/clock.step")))
    echo "$now" >"$clock.tmp" && mv "$clock.tmp" "$clock"
    sleep 0.25
  done
) &
bg_pids+=("$!")

# One after another: each deploys the workflows at start.
for name in a b c; do
  start_bpmd "$name" "$store" 0 --test-clock-file="$clock" --tick-ms=50
done
servers=127.0.0.1:${bpmd_port[a]},127.0.0.1:${bpmd_port[b]},127.0.0.1:${bpmd_port[c]}
log "bpmd a, b, c on $servers; MariaDB database $db"

"$FAULT_CLIENT" receive --port-file "$work/receiver.port" --log "$work/deliveries.log" \
  --stop-file "$work/receiver.stop" >"$work/receiver.log" 2>&1 &
bg_pids+=("$!")
for _ in $(seq 1 200); do [[ -s "$work/receiver.port" ]] && break; sleep 0.05; done
[[ -s "$work/receiver.port" ]] || fail "the receiver did not start"
BPM_SERVER=127.0.0.1:${bpmd_port[a]} BPM_USER=qian BPM_ROLES=perf_head,workflow_admin BPM_ORG=czj \
  "$BPMCTL" agency register "$agency" --name 故障测试评价机构 --credit-code 91360700MA35K0XX1Y \
  --type consulting --endpoint "127.0.0.1:$(cat "$work/receiver.port")" >"$work/register.log" 2>&1 ||
  fail "cannot register the agency: $(cat "$work/register.log")"

"$FAULT_CLIENT" drive --server "$servers" --clients "$clients" --stop-file "$work/stop" \
  --log-dir "$work/acks" --stats-file "$work/drive.stats" --tag rp --timer-every 2 \
  --agency-every 3 --agency "$agency" --pull >"$work/drive.log" 2>&1 &
drive=$!
bg_pids+=("$drive")
wait_acks_above 0 30 || fail "no acknowledgement within 30 s"

# A window of the general query log, while all three replicas claim work.
sql "$info" "$db" "SET GLOBAL general_log_file = '$mdir/general.log'; SET GLOBAL general_log = ON"
sleep "$load_seconds"
sql "$info" "$db" "SET GLOBAL general_log = OFF"

before=$(count_acks)
log "killing bpmd b at $before acknowledgements"
kill_bpmd b
sleep "$load_seconds"
wait_acks_above "$before" 30 || fail "no progress after bpmd b was killed"

touch "$work/stop"
wait "$drive" || fail "fault_client drive failed: $(cat "$work/drive.log")"
cat "$work/drive.log"
definitive=$(stat_of "$work/drive.stats" definitive)
((definitive == 0)) || fail "the clients got $definitive definitive errors (see above)"

# Let the clock run faster until every timer has fired or was cancelled.
echo $((12 * 3600 * 1000)) >"$work/clock.step"
for _ in $(seq 1 600); do
  pending=$(sql "$info" "$db" "SELECT COUNT(*) FROM timers WHERE fired_ms = 0")
  ((pending == 0)) && break
  sleep 0.1
done
((pending == 0)) || fail "$pending timers still pending: lost"

timers=$(sql "$info" "$db" "SELECT COUNT(*) FROM timers WHERE fired_ms > 0")
cancelled=$(sql "$info" "$db" "SELECT COUNT(*) FROM timers WHERE fired_ms < 0")
((timers > 0)) || fail "no timer fired"
bad=$(sql "$info" "$db" "
  SELECT t.id, t.name, t.task_id, COUNT(e.seq) AS n FROM timers t
  LEFT JOIN events e ON e.instance_id = t.instance_id AND e.task_id = t.task_id AND
    e.kind = CASE t.name WHEN 'remind' THEN 'reminded' WHEN 'overdue' THEN 'overdue' ELSE 'timer' END
  WHERE t.fired_ms > 0 GROUP BY t.id, t.name, t.task_id HAVING n <> 1")
[[ -z "$bad" ]] || fail "fired timers without exactly one history event (id name task events):
$bad"
twice=$(sql "$info" "$db" "
  SELECT instance_id, task_id, kind, COUNT(*) AS n FROM events
  WHERE kind IN ('reminded', 'overdue', 'timer') GROUP BY instance_id, task_id, kind HAVING n > 1")
[[ -z "$twice" ]] || fail "timer events recorded twice (instance task kind count):
$twice"
unfinished=$(sql "$info" "$db" "
  SELECT id, state, status FROM instances WHERE def_key = 'fault-timers' AND status <> 'completed'")
[[ -z "$unfinished" ]] || fail "fault-timers instances not completed by their timers:
$unfinished"
log "timers: $timers fired exactly once, $cancelled cancelled, none pending"

"$FAULT_CLIENT" verify --server "127.0.0.1:${bpmd_port[a]},127.0.0.1:${bpmd_port[c]}" \
  --log-dir "$work/acks" --min-acks 50 --outbox-log "$work/deliveries.log" \
  --outbox-wait-ms 60000 || fail "verify found violations"
touch "$work/clock.stop" "$work/receiver.stop"

# Every claim path ran with SKIP LOCKED.
for table in timers outbox external_tasks; do
  grep -q "FROM $table WHERE.*FOR UPDATE SKIP LOCKED" "$mdir/general.log" ||
    fail "no SELECT ... FROM $table ... FOR UPDATE SKIP LOCKED in MariaDB's general log"
done
log "claims of timers, outbox and external_tasks used FOR UPDATE SKIP LOCKED"

stop_bpmd a
stop_bpmd c
log "PASS: 3 replicas, b killed mid-load; $(count_acks) acknowledgements verified; $timers timers fired once"
