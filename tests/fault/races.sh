#!/usr/bin/env bash
# races.sh [sqlite|mysql] — two actors on one task, FAULT_ROUNDS times (1000).
#
# One bpmd on a fresh store; fault_client race brings each round's
# target-filing instance to the authority review (a group task any
# authority_reviewer may take) and fires two Act calls at once from two
# threads: even rounds two different reviewers (approve / return), odd rounds
# one reviewer with two different actions and idempotency keys. Asserts per
# round: exactly one call succeeds, the other gets ABORTED or
# FAILED_PRECONDITION; the history has exactly one action on the task and one
# transition out of the review, the winner's; the instance is at the state
# and version the winner was told. Then fault_client verify checks every
# instance's history chain (no acknowledgement logs: all are unacknowledged).
# Sizes (environment): FAULT_ROUNDS (1000), FAULT_PARALLEL (rounds at once, 2).
set -euo pipefail
# shellcheck source=tests/fault/lib.sh
source "$(dirname "$0")/lib.sh"

backend=${1:-sqlite}
rounds=${FAULT_ROUNDS:-1000}
parallel=${FAULT_PARALLEL:-2}

case "$backend" in
  sqlite) store="sqlite:$work/bpm.db" ;;
  mysql) store=$(fresh_mysql_url "${BPM_TEST_MYSQL_INFO:?the mysql variant needs the mariadb fixture}" races) ;;
  *) fail "usage: races.sh [sqlite|mysql]" ;;
esac

start_bpmd a "$store" 0
server=127.0.0.1:${bpmd_port[a]}
log "bpmd on $server ($backend); $rounds rounds, $parallel at once"
"$FAULT_CLIENT" race --server "$server" --rounds "$rounds" --parallel "$parallel" ||
  fail "fault_client race found violations"
mkdir -p "$work/acks"
"$FAULT_CLIENT" verify --server "$server" --log-dir "$work/acks" --min-acks 0 \
  --max-unacked-per-client -1 >"$work/verify.log" 2>&1 || {
  cat "$work/verify.log"
  fail "verify found violations"
}
tail -n 1 "$work/verify.log"
stop_bpmd a
log "PASS: $rounds races, one winner each"
