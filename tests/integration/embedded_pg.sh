#!/usr/bin/env bash
# The embedded default database (no DATABASE_URL): created with initdb on first start under the data directory, run
# as an unprivileged user when we are root, Unix socket only, shared with `alexclaw config` while the node runs,
# stopped when the node exits, reused on the next start, adopted after a crash; and a data directory the server's
# user cannot reach is refused with a message that says which directory and what to do.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
unset DATABASE_URL
export SECRET_KEY_BASE=$(new_secret) ALEXCLAW_DATA_DIR="$T_DIR/data"
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_running() { if [ "$(id -u)" = 0 ]; then runuser -u alexclaw -- "$bindir/pg_ctl" status -D "$T_DIR/data/postgres" >/dev/null 2>&1
               else "$bindir/pg_ctl" status -D "$T_DIR/data/postgres" >/dev/null 2>&1; fi; }

start_node "$T_DIR/n1.log"; node=$LAST_PID
check "first start: initdb" wait_log "$T_DIR/n1.log" "module=pgembed event=initdb" 30
check "first start: ready" wait_log "$T_DIR/n1.log" "event=ready" 90
check "data directory printed as an absolute path" grep -q "event=data_dir path=$T_DIR/data" "$T_DIR/n1.log"
sock=$(sed -nE 's/.*event=started .*socket_dir=([^ ]+).*/\1/p' "$T_DIR/n1.log" | head -1)
check "socket directory inside the data directory" [ "$sock" = "$T_DIR/data/postgres-run" ]
check "socket directory mode 0700" [ "$(stat -c %a "$sock")" = 700 ]
if [ "$(id -u)" = 0 ]; then
  check "cluster owned by the server's own user" [ "$(stat -c %U "$T_DIR/data/postgres")" = alexclaw ]
  check "socket directory owned by it" [ "$(stat -c %U "$sock")" = alexclaw ]
  check "server runs as that user" [ "$(ps -o user= -p "$(head -1 "$T_DIR/data/postgres/postmaster.pid")")" = alexclaw ]
else
  echo "skip - ownership checks need root"
fi
check "cluster directory mode 0700" [ "$(stat -c %a "$T_DIR/data/postgres")" = 700 ]
check "no TCP port: listen_addresses is empty" [ "$(psql -X -At -h "$sock" -U alexclaw -d alexclaw -c 'SHOW listen_addresses')" = "" ]
check "the node's tables are there" [ "$(psql -X -At -h "$sock" -U alexclaw -d alexclaw -c "SELECT count(*) FROM settings")" -gt 30 ]

out=$(timeout 30 "$B" serve 2>&1); rc=$?
check "a second node on the same data directory: refused" [ "$rc" = 1 ]
check "a second node on the same data directory: says which node holds it" \
  grep -q "another node (pid $node) is running with the data directory $T_DIR/data" <<<"$out"

out=$("$B" config set display.timezone Asia/Tokyo 2>&1); rc=$?
check "config while the node runs: works" [ "$rc" = 0 ]
check "config while the node runs: attaches to the running server" grep -q "event=attached" <<<"$out"
check "config while the node runs: leaves the server running" grep -q "event=left_running" <<<"$out"
check "node still serves after the CLI left" pg_running
check "node saw the change" wait_log "$T_DIR/n1.log" "event=changed key=display.timezone" 5

stop_node "$node"
check "stop: server stopped with the node" grep -q "module=pgembed event=stopped" "$T_DIR/n1.log"
check "stop: no server left running" not pg_running

start_node "$T_DIR/n2.log"; node=$LAST_PID
check "second start: ready" wait_log "$T_DIR/n2.log" "event=ready" 60
check "second start: no initdb" bash -c "! grep -q event=initdb '$T_DIR/n2.log'"
check "second start: settings kept" grep -q $'\tAsia/Tokyo' <<<"$("$B" config get display.timezone 2>/dev/null)"

kill -9 "$node"; wait "$node" 2>/dev/null
check "after kill -9 the server is still there" pg_running
start_node "$T_DIR/n3.log"; node=$LAST_PID
check "restart after a crash: attaches to the orphaned server" wait_log "$T_DIR/n3.log" "event=attached" 60
check "restart after a crash: ready" wait_log "$T_DIR/n3.log" "event=ready" 60
stop_node "$node"
check "restart after a crash: stops it on exit" grep -q "module=pgembed event=stopped" "$T_DIR/n3.log"

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$T_DIR/private/data"; chmod 0700 "$T_DIR/private"
  out=$(ALEXCLAW_DATA_DIR="$T_DIR/private/data" timeout 30 "$B" serve 2>&1); rc=$?
  check "unreachable data directory: exit 1" [ "$rc" = 1 ]
  check "unreachable data directory: names the user, the directory and its mode" \
    grep -q "runs as user 'alexclaw', which cannot reach the data directory $T_DIR/private/data: no search permission on $T_DIR/private (mode 0700)" <<<"$out"
  check "unreachable data directory: says what to do" grep -q "Choose ALEXCLAW_DATA_DIR" <<<"$out"
  out=$(ALEXCLAW_PG_USER=nosuchuser timeout 30 "$B" serve 2>&1); rc=$?
  check "missing server user: refused with a clear message" grep -q "user 'nosuchuser' does not exist" <<<"$out"
  mkdir -p "$T_DIR/foreign"; chown nobody "$T_DIR/foreign"
  out=$(ALEXCLAW_DATA_DIR="$T_DIR/foreign" timeout 30 "$B" serve 2>&1); rc=$?
  check "data directory of another user: refused" grep -q "data directory $T_DIR/foreign belongs to uid" <<<"$out"
else
  echo "skip - unreachable-directory checks need root"
fi
mkdir -p "$T_DIR/open"; chmod 0777 "$T_DIR/open"
out=$(ALEXCLAW_DATA_DIR="$T_DIR/open" timeout 30 "$B" serve 2>&1); rc=$?
check "world-writable data directory: refused" [ "$rc" = 1 ]
check "world-writable data directory: says how to fix it" grep -q "writable by group or others (mode 0777); run: chmod go-w $T_DIR/open" <<<"$out"
out=$(ALEXCLAW_DATA_DIR="$T_DIR/we\$(id)ird" timeout 30 "$B" serve 2>&1); rc=$?
check "shell metacharacters in the data directory path: refused" grep -q "may not contain" <<<"$out"
finish
