#!/usr/bin/env bash
# Starts or stops a private MariaDB for the test suite, on 127.0.0.1 and a free
# port, without systemd. Used by ctest as the "mariadb" fixture:
#   mariadb.sh start DIR   -> server running; DIR/info has two lines:
#                             the store URL prefix (append a database name)
#                             and an admin client command line
#   mariadb.sh stop DIR    -> server stopped, DIR removed
#   mariadb.sh restart DIR [DOWN_SECONDS] [term|kill]
#                          -> the server of DIR stopped (SIGTERM, or SIGKILL:
#                             a crash), down for DOWN_SECONDS (default 0),
#                             then started again on the same data directory
#                             and port; DIR/info stays valid (fault tests)
# BPM_MARIADB_ARGS: more server options, appended (bench/run.sh sizes the
# buffer pool and redo log for its large stores; the tests keep them small).
set -euo pipefail

usage="usage: mariadb.sh start|stop DIR | restart DIR [DOWN_SECONDS] [term|kill]"
cmd=${1:?$usage}
dir=${2:?$usage}

stop() {
  if [[ -f "$dir/mariadb.pid" ]]; then
    local pid
    pid=$(cat "$dir/mariadb.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -rf "$dir"
}

# A port nobody listens on, below the kernel's ephemeral range: a port in that
# range can be the local end of some test's client connection, which no
# connect probe sees and which makes mariadbd's bind fail (EADDRINUSE).
free_port() {
  local port low=32768 span
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  span=$(( low > 12000 ? low - 10000 : 20000 ))
  for _ in $(seq 1 50); do
    port=$(( low > 12000 ? (RANDOM % span) + 10000 : (RANDOM % span) + 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  echo "mariadb.sh: no free port found" >&2
  return 1
}

# Starts mariadbd on the data directory of $dir and port $1; waits until it
# answers on its socket.
launch() {
  local port=$1 user sock pid
  user=$(id -un)
  sock="$dir/mariadb.sock"
  mariadbd --no-defaults --user="$user" --datadir="$dir/data" --tmpdir="$dir/tmp" \
    --socket="$sock" --port="$port" \
    --bind-address=127.0.0.1 --pid-file="$dir/mariadb.pid" --log-error="$dir/error.log" \
    --skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --innodb-log-file-size=16M --max-connections=500 ${BPM_MARIADB_ARGS:-} \
    >>"$dir/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/mariadb.pid"
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      # Another process took the port between the probe and the bind: the
      # caller may try another.
      if grep -q 'Address already in use' "$dir/error.log"; then return 2; fi
      echo "mariadb.sh: mariadbd died at start:" >&2; cat "$dir/error.log" >&2; exit 1
    fi
    if mariadb --no-defaults --socket="$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
}

restart() {
  local down=${1:-0} how=${2:-term} pid port
  if [[ ! -f "$dir/info" || ! -f "$dir/mariadb.pid" ]]; then
    echo "mariadb.sh: no server was started in $dir" >&2; exit 1
  fi
  port=$(head -n 1 "$dir/info" | sed -E 's|.*:([0-9]+)/$|\1|')
  pid=$(cat "$dir/mariadb.pid")
  case "$how" in
    term) kill -TERM "$pid" ;;
    kill) kill -KILL "$pid" ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "mariadb.sh: mariadbd $pid did not stop" >&2; exit 1; fi
  sleep "$down"
  launch "$port" || { echo "mariadb.sh: port $port was taken while MariaDB was down:" >&2
                       cat "$dir/error.log" >&2; exit 1; }
  echo "mariadb.sh: MariaDB restarted on 127.0.0.1:$port (pid $(cat "$dir/mariadb.pid"), $how, down ${down}s)"
}

start() {
  stop
  # A private tmpdir: two servers bootstrapping at once in /tmp (the test
  # fixture and a fault test) removed each other's temporary tables.
  mkdir -p "$dir/data" "$dir/tmp"
  for tool in mariadb-install-db mariadbd mariadb; do
    command -v "$tool" >/dev/null || { echo "mariadb.sh: $tool not found (apt-get install mariadb-server-core mariadb-client-core)" >&2; exit 1; }
  done
  local user port sock
  user=$(id -un)
  port=$(free_port)
  sock="$dir/mariadb.sock"
  mariadb-install-db --no-defaults --user="$user" --datadir="$dir/data" --tmpdir="$dir/tmp" \
    --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve --force \
    >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; exit 1; }
  local tries=0
  until launch "$port"; do
    tries=$((tries + 1))
    [[ $tries -lt 5 ]] || { echo "mariadb.sh: no port could be bound:" >&2; cat "$dir/error.log" >&2; exit 1; }
    echo "mariadb.sh: port $port was taken; trying another" >&2
    : >"$dir/error.log"
    port=$(free_port)
  done
  local pid
  pid=$(cat "$dir/mariadb.pid")
  mariadb --no-defaults --socket="$sock" -uroot -e "
    CREATE USER 'bpm'@'127.0.0.1' IDENTIFIED BY 'bpm';
    CREATE USER 'bpm'@'localhost' IDENTIFIED BY 'bpm';
    GRANT ALL ON *.* TO 'bpm'@'127.0.0.1';
    GRANT ALL ON *.* TO 'bpm'@'localhost';"
  printf 'mysql://bpm:bpm@127.0.0.1:%s/\nmariadb --no-defaults -h127.0.0.1 -P%s -ubpm -pbpm\n' \
    "$port" "$port" >"$dir/info"
  echo "mariadb.sh: MariaDB on 127.0.0.1:$port (pid $pid, data in $dir)"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart) restart "${3:-0}" "${4:-term}" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
