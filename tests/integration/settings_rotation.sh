#!/usr/bin/env bash
# SECRET_KEY_BASE changed: encrypted settings become unreadable. The node still boots, reports each unreadable key
# clearly, never shows ciphertext or plaintext where the masked value belongs, and replaces the value from its
# environment variable when one is given (and logs that).
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
PYC="$AC_SOURCE_DIR/tests/support/settings_crypto.py"
export DATABASE_URL=$(db_create rot) ALEXCLAW_DATA_DIR="$T_DIR/n"
K1=$(new_secret); K2=$(new_secret)

SECRET_KEY_BASE=$K1 TELEGRAM_BOT_TOKEN=tok-under-K1-abcdef "$B" config list >/dev/null 2>&1
old=$(psql_url "$DATABASE_URL" -c "SELECT value FROM settings WHERE key = 'telegram.bot_token'")

out=$(SECRET_KEY_BASE=$K2 "$B" config list 2>"$T_DIR/k2.log"); rc=$?
check "boots with the new key" [ "$rc" = 0 ]
check "the token is reported unreadable" grep -q $'^telegram.bot_token\tstring\t<unreadable: decryption failed>' <<<"$out"
check "no ciphertext shown" bash -c "! grep -q 'enc:' <<<\"\$0\"" "$out"
check "no plaintext shown" bash -c "! grep -q tok-under-K1 <<<\"\$0\"" "$out"
check "the log names the key and the likely cause" \
  grep -q 'event=unreadable key=telegram.bot_token error="decryption failed" note="wrong SECRET_KEY_BASE' "$T_DIR/k2.log"
check "other settings are fine" grep -q $'^shell.timeout_seconds\tinteger\t30$' <<<"$out"
check "the stored value is left alone (no data loss)" \
  [ "$(psql_url "$DATABASE_URL" -c "SELECT value FROM settings WHERE key = 'telegram.bot_token'")" = "$old" ]

start_node "$T_DIR/serve.log" SECRET_KEY_BASE="$K2"
check "serve starts despite the unreadable value" wait_log "$T_DIR/serve.log" "event=ready" 60
stop_node "$LAST_PID"

out=$(SECRET_KEY_BASE=$K2 TELEGRAM_BOT_TOKEN=tok-under-K2-ghijkl "$B" config get telegram.bot_token 2>"$T_DIR/k2env.log")
check "the environment variable replaces it" grep -q $'^telegram.bot_token\tstring\ttok-\\*\\*\\*\\*\\*\\*\\*\\*ijkl' <<<"$out"
check "the replacement is logged" grep -q "event=replaced_from_env key=telegram.bot_token env=TELEGRAM_BOT_TOKEN" "$T_DIR/k2env.log"
v=$(psql_url "$DATABASE_URL" -c "SELECT value FROM settings WHERE key = 'telegram.bot_token'")
check "stored under the new key" [ "$(SECRET_KEY_BASE=$K2 python3 "$PYC" decrypt "$v")" = "tok-under-K2-ghijkl" ]
# once readable, the environment no longer overrides the database
out=$(SECRET_KEY_BASE=$K2 TELEGRAM_BOT_TOKEN=tok-ignored-mnopqr "$B" config get telegram.bot_token 2>/dev/null)
check "afterwards the database wins again" grep -q 'tok-\*\*\*\*\*\*\*\*ijkl' <<<"$out"
finish
