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
  # The path is predictable (it is derived from the build directory), so never follow a link someone planted there,
  # and never adopt a directory that belongs to another user.
  if [ -L "$dir" ]; then echo "testpg: $dir is a symbolic link; refusing"; exit 1; fi
  if [ -e "$dir" ]; then
    owner=$(stat -c %U "$dir")
    case "$owner" in "$(id -un)"|postgres) ;; *) echo "testpg: $dir belongs to $owner; refusing"; exit 1 ;; esac
  else
    mkdir -m 0700 "$dir"
  fi
  [ "$(id -u)" = 0 ] && chown -h postgres: "$dir"
  chmod 0700 "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    rm -rf "$dir/data"
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C --auth-local=trust --auth-host=reject >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log"; exit 1; }
  fi
  as_pg mkdir -p -m 0700 "$dir/sock"
  if as_pg "$bindir/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
    echo "testpg: already running in $dir"; exit 0
  fi
  # fsync off: test data is disposable, and the suite runs faster.
  as_pg "$bindir/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" \
    -o "-c listen_addresses='' -c unix_socket_directories=$dir/sock -c unix_socket_permissions=0700 -c fsync=off -c max_connections=200" >/dev/null \
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
