#!/usr/bin/env bash
# A private PostgreSQL server for the test run (ctest fixtures pg_start / pg_stop).
#   testpg.sh start DIR   initdb DIR/data on first use, start it on a Unix socket in DIR/sock (no TCP)
#   testpg.sh stop DIR    stop it
# Runs the server as user postgres when called as root. Tests connect with host=DIR/sock user=postgres.
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?directory}
bindir=${ALEXCLAW_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$bindir/pg_ctl" ] || { echo "testpg: PostgreSQL server programs not found (install postgresql)"; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$cmd" in
start)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  chmod 0755 "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    rm -rf "$dir/data"
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C --auth-local=trust --auth-host=reject >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log"; exit 1; }
  fi
  as_pg mkdir -p "$dir/sock"
  if as_pg "$bindir/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
    echo "testpg: already running in $dir"; exit 0
  fi
  # fsync off: test data is disposable, and the suite runs faster.
  as_pg "$bindir/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" \
    -o "-c listen_addresses='' -c unix_socket_directories=$dir/sock -c fsync=off -c max_connections=200" >/dev/null \
    || { tail -20 "$dir/server.log"; exit 1; }
  echo "testpg: running, socket in $dir/sock"
  ;;
stop)
  if [ -d "$dir/data" ]; then
    as_pg "$bindir/pg_ctl" stop -w -t 60 -m fast -D "$dir/data" >/dev/null 2>&1 || true
  fi
  echo "testpg: stopped"
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
