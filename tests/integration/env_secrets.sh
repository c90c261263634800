#!/usr/bin/env bash
# Secrets read from the environment are erased from the node's own environment block (/proc/<pid>/environ, ps e)
# and never reach its log, even at debug level.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
url=$(db_create env)
S1=$(new_secret); P1=AdminPw-Zx81-secret; T1=123456:TokTelegramZZZ-secret; C1=CookieQQ-77-secret; G1=GemKey-88-secret
A1=AnthKey-99-secret
W1=DbPw-Secret-4242
url_pw=${url/postgres@/postgres:$W1@}

start_node "$T_DIR/node.log" SECRET_KEY_BASE="$S1" ADMIN_PASSWORD="$P1" TELEGRAM_BOT_TOKEN="$T1" CLUSTER_COOKIE="$C1" \
  GEMINI_API_KEY="$G1" ANTHROPIC_API_KEY="$A1" DATABASE_URL="$url_pw" LOG_LEVEL=debug ALEXCLAW_DATA_DIR="$T_DIR/n"
pid=$LAST_PID
check "node ready" wait_log "$T_DIR/node.log" "event=ready" 60

environ=$(tr '\0' '\n' <"/proc/$pid/environ")
pse=$(ps eww -p "$pid" -o command=)
for pair in "SECRET_KEY_BASE:$S1" "ADMIN_PASSWORD:$P1" "TELEGRAM_BOT_TOKEN:$T1" "CLUSTER_COOKIE:$C1" \
            "GEMINI_API_KEY:$G1" "ANTHROPIC_API_KEY:$A1" "DATABASE_URL:$W1"; do
  name=${pair%%:*}; value=${pair#*:}
  check "$name: value not in /proc/pid/environ" bash -c "! grep -qF -- '$value' <<<\"\$0\"" "$environ"
  check "$name: name not in /proc/pid/environ" bash -c "! grep -q '^$name=' <<<\"\$0\"" "$environ"
  check "$name: not in ps e" bash -c "! grep -qF -- '$value' <<<\"\$0\"" "$pse"
  check "$name: not in the log" bash -c "! grep -qF -- '$value' '$T_DIR/node.log'"
done
check "non-secret variables stay (LOG_LEVEL)" grep -q '^LOG_LEVEL=debug$' <<<"$environ"
check "the log is at debug level (the check above saw everything)" grep -q "level=debug" "$T_DIR/node.log"

# The seeded secrets are usable by the node: the CLI (another process) sees them masked, never in clear.
out=$(SECRET_KEY_BASE="$S1" DATABASE_URL="$url" ALEXCLAW_DATA_DIR="$T_DIR/n" "$B" config get telegram.bot_token 2>/dev/null)
check "CLI shows the token masked" grep -qF "1234********cret" <<<"$out"
check "CLI never shows it in clear" bash -c "! grep -qF -- '$T1' <<<\"\$0\"" "$out"
stop_node "$pid"
check "log still free of secrets after shutdown" bash -c "! grep -qF -e '$S1' -e '$T1' -e '$W1' '$T_DIR/node.log'"
finish
