#!/usr/bin/env bash
# Bad configuration input gets a clear error and changes nothing: wrong types, unknown types, over-long and invalid
# keys, invalid UTF-8, bad environment seeds, and rows damaged by hand in the database.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
export DATABASE_URL=$(db_create bad) SECRET_KEY_BASE=$(new_secret) ALEXCLAW_DATA_DIR="$T_DIR/n"
"$B" config list >/dev/null 2>&1
snapshot() { psql_url "$DATABASE_URL" -c "SELECT key, value, type, sensitive FROM settings ORDER BY key" | md5sum; }
before=$(snapshot)

expect_refused() { # expect_refused WHAT MESSAGE-REGEX COMMAND...
  local what=$1 msg=$2; shift 2
  local out rc
  out=$(timeout 30 "$@" 2>&1 </dev/null); rc=$? # a start that is not refused fails the check instead of hanging
  check "$what: refused (exit 1)" [ "$rc" = 1 ]
  check "$what: says why" grep -qE -- "$msg" <<<"$out"
}
expect_refused "integer setting set to abc" "shell.timeout_seconds: value is not an integer" "$B" config set shell.timeout_seconds abc
expect_refused "boolean setting set to yes" "value must be true or false" "$B" config set telegram.enabled yes
expect_refused "unknown type" "unknown setting type 'blob'" "$B" config set custom.x 1 --type blob
expect_refused "invalid JSON for a json setting" "not valid JSON" "$B" config set custom.j '{"a":' --type json
expect_refused "over-long key" "longer than 255" "$B" config set "$(printf 'k%.0s' {1..300})" v
expect_refused "key with a blank" "may only hold" "$B" config set "bad key" v
expect_refused "key with a quote" "may only hold" "$B" config get "x';DROP TABLE settings;--"
out=$("$B" config set github.token ghp_OnTheCommandLine123 2>&1); rc=$?
check "a secret on the command line: refused as a usage error" [ "$rc" = 2 ]
check "a secret on the command line: says to use stdin" grep -q "give its value on standard input" <<<"$out"
out=$(printf 'caf\xe9\n' | "$B" config set identity.persona - 2>&1); rc=$?
check "invalid UTF-8 from stdin: refused" [ "$rc" = 1 ]
check "invalid UTF-8 from stdin: says why" grep -q "not valid UTF-8" <<<"$out"
check "nothing changed by any refused write" [ "$(snapshot)" = "$before" ]

expect_refused "environment seed of the wrong type" "OLLAMA_ENABLED \(seeds setting llm.ollama_enabled\): value must be true or false" \
  env OLLAMA_ENABLED=yes "$B" serve
expect_refused "unknown LOG_LEVEL" "LOG_LEVEL must be" env LOG_LEVEL=loud "$B" serve
check "nothing changed by refused starts" [ "$(snapshot)" = "$before" ]

# Rows damaged by hand: the node boots, reports each, and shows no ciphertext
psql_url "$DATABASE_URL" -c "UPDATE settings SET value = 'enc:***' WHERE key = 'github.token'" \
  -c "UPDATE settings SET value = 'enc:QUJD' WHERE key = 'telegram.bot_token'" \
  -c "INSERT INTO settings (key, value, type) VALUES ('custom.weird', 'x', 'blob')" \
  -c "UPDATE settings SET value = 'lots' WHERE key = 'shell.max_output_chars'"
out=$("$B" config list 2>"$T_DIR/boot.log"); rc=$?
check "boots with damaged rows" [ "$rc" = 0 ]
check "corrupted base64 reported" grep -q $'^github.token\tstring\t<unreadable: invalid base64>' <<<"$out"
check "truncated ciphertext reported" grep -q $'^telegram.bot_token\tstring\t<unreadable: invalid ciphertext>' <<<"$out"
check "no ciphertext shown" bash -c "! grep -q 'enc:' <<<\"\$0\"" "$out"
check "unknown type in the table is logged" grep -q 'event=unknown_type key=custom.weird type=blob' "$T_DIR/boot.log"
check "value of the wrong type is logged" grep -q 'event=bad_value key=shell.max_output_chars type=integer' "$T_DIR/boot.log"
start_node "$T_DIR/serve.log"
check "serve starts with damaged rows" wait_log "$T_DIR/serve.log" "event=ready" 60
stop_node "$LAST_PID"
finish
