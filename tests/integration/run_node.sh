#!/usr/bin/env bash
# The quick start's run command (deploy/run-node.sh), with the build step skipped (ALEXCLAW_BIN): on first start it
# creates SECRET_KEY_BASE and ADMIN_PASSWORD in a mode-0600 env file in the data directory and says where, never
# printing the values; later starts reuse them; values given in the environment win.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
RUN="$AC_SOURCE_DIR/deploy/run-node.sh"
export ALEXCLAW_BIN=$AC_TEST_BIN ALEXCLAW_DATA_DIR="$T_DIR/var"
unset SECRET_KEY_BASE ADMIN_PASSWORD DATABASE_URL

"$RUN" >"$T_DIR/r1.log" 2>&1 &
T_PIDS+=($!); pid=$!
check "first start: node ready" wait_log "$T_DIR/r1.log" "event=ready" 90
envfile="$T_DIR/var/alexclaw.env"
check "env file created" [ -f "$envfile" ]
check "env file mode 0600" [ "$(stat -c %a "$envfile")" = 600 ]
skb=$(sed -n 's/^SECRET_KEY_BASE=//p' "$envfile"); pw=$(sed -n 's/^ADMIN_PASSWORD=//p' "$envfile")
check "SECRET_KEY_BASE created, at least 32 bytes" [ "${#skb}" -ge 32 ]
check "ADMIN_PASSWORD created" [ "${#pw}" -ge 16 ]
check "says where the secrets are" grep -q "secrets file $envfile" "$T_DIR/r1.log"
check "never prints SECRET_KEY_BASE" not grep -qF "$skb" "$T_DIR/r1.log"
check "never prints ADMIN_PASSWORD" not grep -qF "$pw" "$T_DIR/r1.log"
kill -TERM "$pid"; wait "$pid"; rc=$?
check "Ctrl-C/SIGTERM stops it cleanly" [ "$rc" = 0 ]

"$RUN" >"$T_DIR/r2.log" 2>&1 &
T_PIDS+=($!); pid=$!
check "second start: ready" wait_log "$T_DIR/r2.log" "event=ready" 60
check "second start: secrets reused" [ "$(sed -n 's/^SECRET_KEY_BASE=//p' "$envfile")" = "$skb" ]
check "second start: nothing created" not grep -q "created" "$T_DIR/r2.log"
check "second start: settings still readable (same key)" not grep -q "event=unreadable" "$T_DIR/r2.log"
kill -TERM "$pid"; wait "$pid"

mine=$(new_secret)
SECRET_KEY_BASE=$mine ALEXCLAW_DATA_DIR="$T_DIR/var2" "$RUN" >"$T_DIR/r3.log" 2>&1 &
T_PIDS+=($!); pid=$!
check "given SECRET_KEY_BASE: ready" wait_log "$T_DIR/r3.log" "event=ready" 90
check "given SECRET_KEY_BASE: not written to the file" not grep -q "^SECRET_KEY_BASE=" "$T_DIR/var2/alexclaw.env"
check "given SECRET_KEY_BASE: ADMIN_PASSWORD still created" grep -q "^ADMIN_PASSWORD=" "$T_DIR/var2/alexclaw.env"
kill -TERM "$pid"; wait "$pid"
finish
