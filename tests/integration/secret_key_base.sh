#!/usr/bin/env bash
# serve never invents secrets: without SECRET_KEY_BASE, or with one shorter than 32 bytes, it refuses to start with
# one line that says how to make one, and touches nothing (no data directory, no database).
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
url=$(db_create skb)

out=$(timeout 30 env -u SECRET_KEY_BASE DATABASE_URL="$url" ALEXCLAW_DATA_DIR="$T_DIR/d1" "$B" serve 2>&1); rc=$?
check "missing SECRET_KEY_BASE: exit 1" [ "$rc" = 1 ]
check "missing SECRET_KEY_BASE: says so" grep -q "SECRET_KEY_BASE is not set" <<<"$out"
check "missing SECRET_KEY_BASE: says how to make one" grep -q "openssl rand" <<<"$out"
check "missing SECRET_KEY_BASE: one line" [ "$(wc -l <<<"$out")" = 1 ]
check "missing SECRET_KEY_BASE: no data directory created" [ ! -e "$T_DIR/d1" ]
check "missing SECRET_KEY_BASE: database untouched" [ "$(psql_url "$url" -c "SELECT count(*) FROM pg_tables WHERE schemaname='public'")" = 0 ]

short=0123456789abcdef0123456789abcde   # 31 bytes
out=$(SECRET_KEY_BASE=$short DATABASE_URL="$url" ALEXCLAW_DATA_DIR="$T_DIR/d2" timeout 30 "$B" serve 2>&1); rc=$?
check "31-byte SECRET_KEY_BASE: exit 1" [ "$rc" = 1 ]
check "31-byte SECRET_KEY_BASE: says too short" grep -q "too short (31 bytes; need at least 32)" <<<"$out"
check "31-byte SECRET_KEY_BASE: value not echoed" bash -c "! grep -qF '$short' <<<'$out'"

out=$(env -u SECRET_KEY_BASE DATABASE_URL="$url" ALEXCLAW_DATA_DIR="$T_DIR/d3" "$B" config list 2>&1); rc=$?
check "config commands need it too" [ "$rc" = 1 ]
# migrate does not decrypt anything, so it runs without one
env -u SECRET_KEY_BASE DATABASE_URL="$url" ALEXCLAW_DATA_DIR="$T_DIR/d4" "$B" migrate >/dev/null 2>&1
check "migrate runs without SECRET_KEY_BASE" [ $? = 0 ]
finish
