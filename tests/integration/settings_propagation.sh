#!/usr/bin/env bash
# Two nodes share one database: a setting written by another process reaches both nodes' caches within a second,
# with no restart, whether it is written through alexclaw or by hand with psql.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
export DATABASE_URL=$(db_create prop) SECRET_KEY_BASE=$(new_secret)
ms_now() { date +%s%3N; }
# log_ms FILE PATTERN: the timestamp (epoch ms) of the first line matching PATTERN
log_ms() { local ts; ts=$(grep -E -m1 -- "$2" "$1" | sed -E 's/^ts=([^ ]+)Z .*/\1/'); date -u -d "$ts" +%s%3N; }

# two live nodes on one database need two identities (one NODE_NAME each), hence a cookie and an EPMD
private_epmd
export CLUSTER_COOKIE=prop-cookie-$(openssl rand -hex 8)
start_node "$T_DIR/a.log" ALEXCLAW_DATA_DIR="$T_DIR/a" NODE_NAME=propa@localhost; a=$LAST_PID
start_node "$T_DIR/b.log" ALEXCLAW_DATA_DIR="$T_DIR/b" NODE_NAME=propb@localhost; b=$LAST_PID
check "node a ready" wait_log "$T_DIR/a.log" "event=ready" 60
check "node b ready" wait_log "$T_DIR/b.log" "event=ready" 60
sleep 0.5 # both listeners connected

ALEXCLAW_DATA_DIR="$T_DIR/c" "$B" config set display.timezone Europe/Paris 2>/dev/null
t1=$(ms_now)
for n in a b; do
  check "node $n sees the CLI write" wait_log "$T_DIR/$n.log" "event=changed key=display.timezone" 5
  d=$(( $(log_ms "$T_DIR/$n.log" "event=changed key=display.timezone") - t1 ))
  echo "  node $n: change seen ${d} ms after the writer exited"
  check "node $n saw it within a second" [ "$d" -lt 1000 ]
done

psql_url "$DATABASE_URL" -c "UPDATE settings SET value = '45' WHERE key = 'shell.timeout_seconds'"
t1=$(ms_now)
for n in a b; do
  check "node $n sees a psql write" wait_log "$T_DIR/$n.log" "event=changed key=shell.timeout_seconds" 5
  d=$(( $(log_ms "$T_DIR/$n.log" "event=changed key=shell.timeout_seconds") - t1 ))
  check "node $n saw the psql write within a second" [ "$d" -lt 1000 ]
done
check "nodes never log setting values" bash -c "! grep -q Europe/Paris '$T_DIR/a.log' '$T_DIR/b.log'"
stop_node "$a"; stop_node "$b"
finish
