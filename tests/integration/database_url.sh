#!/usr/bin/env bash
# DATABASE_URL: malformed values are refused with a clear message that never shows the password; an unreachable
# database is retried with backoff (and said so) until it comes up, and then the node starts.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
export SECRET_KEY_BASE=$(new_secret)
PW=Sup3rS3cretPW

for bad in "postgresql://u:$PW@host:notaport/db" "this is not a url" "postgresql://u:$PW@h/db?sslmode=sometimes" \
           "postgresql://u:pa%zz$PW@h/db"; do
  out=$(DATABASE_URL=$bad ALEXCLAW_DATA_DIR="$T_DIR/d" timeout 30 "$B" serve 2>&1); rc=$?
  check "malformed '${bad//$PW/***}': exit 1" [ "$rc" = 1 ]
  check "malformed '${bad//$PW/***}': says malformed" grep -q "DATABASE_URL is malformed" <<<"$out"
  check "malformed '${bad//$PW/***}': password not shown" bash -c "! grep -q '$PW' <<<'$out'"
done
check "malformed URL: nothing created" [ ! -e "$T_DIR/d" ]

# Unreachable: a socket directory where no server runs yet.
pg2="$T_DIR/pg2"
url="postgresql://postgres:$PW@/postgres?host=$pg2/sock"
start_node "$T_DIR/node.log" DATABASE_URL="$url" ALEXCLAW_DATA_DIR="$T_DIR/n"
node=$LAST_PID
check "unreachable: retries and says so" wait_log "$T_DIR/node.log" "event=unreachable attempt=2 retry_in_s=2" 20
check "unreachable: the node waits (still running)" kill -0 "$node"
"$AC_SOURCE_DIR/tests/support/testpg.sh" start "$pg2" >/dev/null
check "unreachable: starts once the database is up" wait_log "$T_DIR/node.log" "event=ready" 60
check "unreachable: password never logged" bash -c "! grep -q '$PW' '$T_DIR/node.log'"
stop_node "$node"
check "node stopped cleanly" grep -q "event=stopped" "$T_DIR/node.log"
"$AC_SOURCE_DIR/tests/support/testpg.sh" stop "$pg2" >/dev/null

# SIGTERM while waiting for the database ends the node at once, with status 0.
start_node "$T_DIR/node2.log" DATABASE_URL="postgresql://postgres@/postgres?host=$T_DIR/none" ALEXCLAW_DATA_DIR="$T_DIR/n"
check "waiting node logs its first attempt" wait_log "$T_DIR/node2.log" "event=unreachable" 20
kill -TERM "$LAST_PID"; wait "$LAST_PID"; rc=$?
check "SIGTERM while waiting: exit 0" [ "$rc" = 0 ]
# migrate (and config) give up after about 30 seconds, saying why
start=$(date +%s)
out=$(DATABASE_URL="postgresql://postgres@/postgres?host=$T_DIR/none" ALEXCLAW_DATA_DIR="$T_DIR/n" timeout 90 "$B" migrate 2>&1); rc=$?
took=$(( $(date +%s) - start ))
check "migrate with no database: exit 1" [ "$rc" = 1 ]
check "migrate with no database: gives up after about 30 s (took ${took}s)" [ "$took" -ge 28 ] && [ "$took" -le 40 ]
check "migrate with no database: says so" grep -q "database unreachable after [0-9]* attempts in 3[0-9]s" <<<"$out"
finish
