# tests/support/lib.sh - shared helpers for the scenario tests (sourced; bash).
# Each scenario counts checks with ok/fail, and ends with `finish`, which prints "N passed, M failed" and sets the
# exit status. Every scenario gets a scratch directory (mode 0755, reachable by the postgres user), removed at exit
# together with the nodes it started.
set -uo pipefail

: "${AC_TEST_BIN:?run through ctest}" "${AC_TEST_PGHOST:?run through ctest}" "${AC_SOURCE_DIR:?run through ctest}"
T_PASS=0; T_FAIL=0; T_PIDS=(); T_DBS=()
T_DIR=$(mktemp -d /tmp/ac-test.XXXXXX); chmod 0755 "$T_DIR"
T_NAME=$(basename "$0" .sh)
# Sanitizer builds: every report of every process this scenario starts lands in $T_DIR; finish() fails on any.
export ASAN_OPTIONS="log_path=$T_DIR/sanitizer:detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$T_DIR/sanitizer:print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

ok()   { T_PASS=$((T_PASS + 1)); echo "ok   - $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
matches() { [[ $1 =~ $2 ]]; }        # matches VALUE REGEX
starts_with() { [[ $1 == "$2"* ]]; } # starts_with VALUE PREFIX
not() { ! "$@"; }                    # not COMMAND...: succeeds when COMMAND fails

psql_admin() { psql -X -q -At -h "$AC_TEST_PGHOST" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
# db_create NAME: a fresh database; prints its DATABASE_URL.
db_create() {
  local name="${T_NAME//-/_}_$1_$$"
  psql_admin -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
  T_DBS+=("$name")
  echo "postgresql://postgres@/$name?host=$AC_TEST_PGHOST"
}
# psql_url URL ARGS...: psql against a test database.
psql_url() { local url=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 "$url" "$@"; }

new_secret() { openssl rand -base64 48 | tr -d '\n'; }

# Nodes of scenarios that run in parallel must not fight over the admin UI's default port: any free port (the node
# logs it: `module=web event=listening ... port=N`).
export PORT=0

# start_node LOG [ENV=VAL ...]: runs `alexclaw serve` in the background with the given extra environment.
start_node() {
  local log=$1; shift
  env "$@" "$AC_TEST_BIN" serve >"$log" 2>&1 &
  T_PIDS+=($!)
  LAST_PID=$!
}
# wait_log FILE PATTERN [SECONDS]: waits until FILE has a line matching PATTERN (grep -E).
wait_log() {
  local f=$1 pat=$2 secs=${3:-30} i
  for ((i = 0; i < secs * 10; i++)); do
    grep -qE -- "$pat" "$f" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "  (timed out after ${secs}s waiting for /$pat/ in $f; last lines:)"; tail -5 "$f" | sed 's/^/    /'
  return 1
}
# private_epmd: points this scenario's nodes at an EPMD port of its own (a node starts its own EPMD there when none
# answers); cleanup stops it.
T_EPMD_PORT=
private_epmd() {
  T_EPMD_PORT=$(( 45000 + RANDOM % 900 ))
  while ss -ltn 2>/dev/null | grep -q ":$T_EPMD_PORT "; do T_EPMD_PORT=$(( T_EPMD_PORT + 1 )); done
  export ERL_EPMD_PORT=$T_EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1
}

# stop_node PID: SIGTERM, then checks that the node exited with status 0.
stop_node() {
  local pid=$1 rc
  kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rc=$?
  check "node $pid exited cleanly after SIGTERM (status $rc)" [ "$rc" = 0 ]
}

finish() {
  local f
  for f in "$T_DIR"/sanitizer.*; do
    [ -e "$f" ] || continue
    fail "sanitizer report $(basename "$f")"; sed 's/^/    /' "$f" | head -40
  done
  echo "$T_PASS passed, $T_FAIL failed"
  [ "$T_FAIL" -eq 0 ]
}

cleanup() {
  local pid
  for pid in "${T_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${T_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  # embedded servers of nodes that did not get to stop them
  local d bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  for d in "$T_DIR"/*/postgres "$T_DIR"/*/*/postgres; do
    [ -f "$d/postmaster.pid" ] || continue
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$bindir/pg_ctl" stop -m immediate -D "$d" >/dev/null 2>&1
    else "$bindir/pg_ctl" stop -m immediate -D "$d" >/dev/null 2>&1; fi
  done
  [ -n "$T_EPMD_PORT" ] && pkill -f "alexclaw epmd --port $T_EPMD_PORT" 2>/dev/null
  for db in "${T_DBS[@]}"; do psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; done
  rm -rf "$T_DIR"
}
trap cleanup EXIT
