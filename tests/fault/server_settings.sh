#!/usr/bin/env bash
# server_settings.sh — bpmd will not run on a MariaDB that could lose what it
# acknowledges (Store::CheckDurability).
#
# A private MariaDB (not the shared fixture: its global settings change here)
# started with innodb_flush_log_at_trx_commit = 2, a binary log with
# sync_binlog = 0, and max_allowed_packet = 4M. bpmd is started on it four
# times; each of the first three refuses to serve, exits non-zero, names
# the first setting still wrong, its value and the value needed, and has
# written nothing (the database still has no table: the check comes before
# the migrations); each setting is then fixed with SET GLOBAL, and the
# fourth bpmd serves and runs a command.
set -euo pipefail
# shellcheck source=tests/fault/lib.sh
source "$(dirname "$0")/lib.sh"

mdir=$work/mariadb
BPM_MARIADB_ARGS="--innodb-flush-log-at-trx-commit=2 --log-bin=bpm-bin --sync-binlog=0 \
--max-allowed-packet=4M" start_private_mariadb "$mdir"
store=$(fresh_mysql_url "$mdir/info" settings)
client=$(sed -n 2p "$mdir/info")
db=${store##*/}

# expect_refusal TEXT: bpmd exits non-zero, without serving, saying TEXT.
expect_refusal() {
  local out=$work/bpmd-refused.log status=0
  timeout 60 "$BPMD" --listen=127.0.0.1:0 --store="$store" --plugins="$BPM_PLUGIN_DIR" \
    --workflows="$BPM_SOURCE_DIR/workflows" --calendars="$BPM_SOURCE_DIR/deploy/calendars" \
    --port-file="$work/refused.port" --dev-identity >"$out" 2>&1 || status=$?
  [[ $status -ne 0 && $status -ne 124 ]] ||
    fail "bpmd did not refuse (exit $status), expected: $1; its output: $(cat "$out")"
  [[ ! -s "$work/refused.port" ]] || fail "bpmd listened before refusing"
  grep -qF -- "$1" "$out" || fail "bpmd's refusal does not say \"$1\": $(cat "$out")"
  local tables
  tables=$($client -N -B -D "$db" -e "SHOW TABLES")
  [[ -z "$tables" ]] || fail "the refused bpmd wrote to the database: tables $tables"
  log "refused (exit $status): $(grep -F -- "$1" "$out" | head -n 1 | cut -c1-160)..."
}

expect_refusal "innodb_flush_log_at_trx_commit = 2, not 1"
$client -e "SET GLOBAL innodb_flush_log_at_trx_commit = 1"
expect_refusal "binary log with sync_binlog = 0, not 1"
$client -e "SET GLOBAL sync_binlog = 1"
expect_refusal "max_allowed_packet = 4194304 bytes"
$client -e "SET GLOBAL max_allowed_packet = 16777216"

start_bpmd a "$store" 0
"$BPMCTL" --server "127.0.0.1:${bpmd_port[a]}" --user zhang --roles unit_filer --org 906017 \
  start target-filing --subject P1 --org 906017 >"$work/start.out" 2>&1 ||
  fail "a start on the fixed server failed: $(cat "$work/start.out")"
stop_bpmd a
log "PASS: three unsafe settings refused by name, nothing written; the fixed server serves"
