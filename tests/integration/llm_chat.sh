#!/usr/bin/env bash
# The LLM through the node's person paths, against loopback servers speaking the real wire formats: the Telegram Bot
# API (fake_telegram.py) and an Ollama server plus the GitHub API (fake_llm.py). Free text becomes a conversation
# (the model's answer comes back, also while another message is being answered), /llm lists the seeded providers,
# /github reviews a pull request and a commit, a signed webhook event gets its review sent to the chat, and the
# GitHub token never reaches a log or a message.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
TOKEN="123456789:AAtestTOKENnever_in_logs-x"
GHTOKEN="ghp_thisIsTheGitHubTokenNeverInLogs42"
HOOKSECRET="webhook-secret-for-the-test"
CHAT=4242
coproc FAKE { python3 "$AC_SOURCE_DIR/tests/support/fake_telegram.py" --token "$TOKEN" --exit-on-stdin-eof 2>/dev/null; }
read -r TGPORT <&"${FAKE[0]}"
T_PIDS+=($FAKE_PID)
coproc LLM { python3 "$AC_SOURCE_DIR/tests/support/fake_llm.py" --exit-on-stdin-eof 2>/dev/null; }
read -r _ LLMPORT <&"${LLM[0]}"
T_PIDS+=($LLM_PID)
API="http://127.0.0.1:$TGPORT"
LLMURL="http://127.0.0.1:$LLMPORT"
export DATABASE_URL=$(db_create llm_chat) SECRET_KEY_BASE=$(new_secret) ALEXCLAW_DATA_DIR="$T_DIR/n" LOG_LEVEL=info
export TELEGRAM_API_URL=$API TELEGRAM_BOT_TOKEN=$TOKEN TELEGRAM_CHAT_ID=$CHAT ADMIN_PASSWORD=pw-for-the-admin-ui
export GITHUB_API_URL=$LLMURL OLLAMA_ENABLED=true OLLAMA_HOST=$LLMURL OLLAMA_MODEL=fake-local
sql() { psql_url "$DATABASE_URL" -c "$1"; }
ctl() { curl -s -X POST --data-binary "$2" "$LLMURL/_control/$1" >/dev/null; }
llm_requests() { curl -s "$LLMURL/_control/requests"; }

tg_msg() {
  local text
  text=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1")
  curl -s -X POST --data-binary "[{\"message\": {\"message_id\": 1, \"date\": 1, \"chat\": {\"id\": $CHAT, \"type\": \"private\"}, \"from\": {\"id\": $CHAT, \"first_name\": \"Owner\"}, \"text\": $text}}]" "$API/_test/updates" >/dev/null
}
sent_json() { curl -s "$API/_test/sent"; }
sent_count() { sent_json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
sent_from() { sent_json | python3 -c 'import json,sys; [print(json.dumps(m)) for m in json.load(sys.stdin)[int(sys.argv[1]):]]' "$1"; }
wait_sent() {
  local n=$1 re=$2 secs=${3:-20} i
  for ((i = 0; i < secs * 10; i++)); do sent_from "$n" | grep -qE -- "$re" && return 0; sleep 0.1; done
  echo "  (no message matching /$re/; sent after $n:)"; sent_from "$n" | sed 's/^/    /' | tail -5
  return 1
}
ask() { local n; n=$(sent_count); tg_msg "$1"; wait_sent "$n" "$2" "${3:-20}"; }

"$B" config set telegram.poll_interval 0 >/dev/null 2>&1
printf '%s' "$GHTOKEN" | "$B" config set github.token - >/dev/null 2>&1
printf '%s' "$HOOKSECRET" | "$B" config set github.webhook_secret - >/dev/null 2>&1
"$B" config set skill.github_review.tier local >/dev/null 2>&1

start_node "$T_DIR/node.log"; node=$LAST_PID
check "node ready" wait_log "$T_DIR/node.log" "event=ready" 60
check "the node becomes the poller" wait_log "$T_DIR/node.log" "module=telegram event=state .*to=polling" 20

# --- seeded providers ---
check "the original's seven providers are seeded" [ "$(sql "SELECT count(*) FROM llm_providers")" = 7 ]
check "Ollama is enabled (OLLAMA_ENABLED and a host), on the fake server" \
  [ "$(sql "SELECT enabled::text || ' ' || host || ' ' || model FROM llm_providers WHERE name = 'Ollama'")" = "true $LLMURL fake-local" ]
check "the cloud providers are off without keys, and store no key of their own" \
  [ "$(sql "SELECT count(*) FROM llm_providers WHERE type IN ('gemini','anthropic') AND (enabled OR api_key IS NOT NULL)")" = 0 ]
check "/llm lists them with their state" ask "/llm" 'Ollama.*local, ollama.*enabled.*Claude Sonnet.*disabled|Claude Sonnet.*disabled.*Ollama.*local, ollama.*enabled'

# --- conversation ---
check "free text gets the model's answer (light tier falls back to local)" ask "hello there, node" 'echo: hello there, node'
check "the model saw the system prompt with the agent's name" python3 -c '
import json,sys
r=[q for q in json.load(sys.stdin) if q["route"]=="ollama"][-1]["body"]
m=r["messages"]; sys.exit(0 if m[0]["role"]=="system" and "AlexClaw" in m[0]["content"] and m[-1]["content"]=="hello there, node" else 1)' <<<"$(llm_requests)"
n=$(llm_requests | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
check "six digits with no challenge waiting are never sent to the model" ask "123456" 'No 2FA request is waiting'
check "(the model saw nothing)" [ "$(llm_requests | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = "$n" ]
# a slow answer does not hold the chat: /ping is answered while the model thinks
ctl script '{"route": "ollama", "responses": [{"text": "a slow thought", "delay_ms": 3000}]}'
n=$(sent_count)
tg_msg "think slowly"
check "/ping is answered while the model is still thinking" ask "/ping" 'pong from'
check "the slow answer arrives afterwards" wait_sent "$n" 'a slow thought'
check "ping came first" python3 -c '
import json,sys
t=[m.get("text","") for m in json.load(sys.stdin)[int(sys.argv[1]):]]
p=[i for i,x in enumerate(t) if "pong" in x]; s=[i for i,x in enumerate(t) if "slow thought" in x]
sys.exit(0 if p and s and p[0] < s[0] else 1)' "$n" <<<"$(sent_json)"
ctl script '{"route": "ollama", "responses": [{"status": 500, "text": "model crashed"}]}'
check "a provider failure is told plainly" ask "are you there?" 'conversation failed: ollama: 500'

# --- /github ---
DIFF='diff --git a/app.c b/app.c\n+    strcpy(buf, user_input);\n'
ctl github "{\"acme/widget\": {\"pulls\": {\"7\": {\"title\": \"Add parser\", \"diff\": \"$DIFF\"}}, \"commits\": {\"0123456789abcdef0123456789abcdef01234567\": {\"message\": \"Fix bounds\", \"diff\": \"$DIFF\"}}}}"
ctl keys "{\"github\": \"$GHTOKEN\"}"
ctl script '{"route": "ollama", "responses": [{"text": "RISK LEVEL: HIGH\nFINDINGS:\n- strcpy into a fixed buffer\nSUMMARY:\nUnsafe copy.\nRECOMMENDATION:\nUse a bounded copy."}]}'
check "/github pr reviews the pull request" ask "/github pr acme/widget 7" 'HIGH.*strcpy into a fixed buffer|strcpy into a fixed buffer.*HIGH' 30
check "GitHub was asked for the diff with the token" python3 -c '
import json,sys
g=[q for q in json.load(sys.stdin) if q["route"]=="github" and q["path"]=="/repos/acme/widget/pulls/7"]
sys.exit(0 if any("diff" in q["headers"].get("accept","") and q["headers"].get("authorization","").endswith(sys.argv[1]) for q in g) else 1)' "$GHTOKEN" <<<"$(llm_requests)"
check "the model got the diff" python3 -c '
import json,sys
r=[q for q in json.load(sys.stdin) if q["route"]=="ollama"][-1]["body"]["messages"]
sys.exit(0 if any("strcpy(buf, user_input)" in m["content"] for m in r) else 1)' <<<"$(llm_requests)"
ctl script '{"route": "ollama", "responses": [{"text": "RISK LEVEL: LOW\nFINDINGS:\nnone\nSUMMARY:\nfine\nRECOMMENDATION:\nmerge"}]}'
check "/github commit reviews a commit" ask "/github commit acme/widget 0123456789abcdef0123456789abcdef01234567" 'LOW' 30
check "an unknown pull request is an error, told plainly" ask "/github pr acme/widget 99" 'review failed' 30
check "a bad repository is refused before any request" ask "/github pr ../etc 1" 'Usage: /github'

# --- the webhook ---
WEB="http://127.0.0.1:$(grep -oE 'module=web event=listening .*port=[0-9]+' "$T_DIR/node.log" | grep -oE '[0-9]+$')"
hook() { # hook EVENT BODY [DELIVERY]
  local sig
  sig=$(printf '%s' "$2" | openssl dgst -sha256 -hmac "$HOOKSECRET" -r | cut -d' ' -f1)
  curl -s -o /dev/null -w '%{http_code}' -H "X-GitHub-Event: $1" -H "X-Hub-Signature-256: sha256=$sig" \
    -H "X-GitHub-Delivery: ${3:-$(uuidgen 2>/dev/null || echo $RANDOM-$RANDOM)}" \
    -H 'Content-Type: application/json' --data-binary "$2" "$WEB/webhooks/github"
}
ctl script '{"route": "ollama", "responses": [{"text": "RISK LEVEL: CRITICAL\nFINDINGS:\n- webhook-reviewed\nSUMMARY:\nx\nRECOMMENDATION:\ny"}]}'
n=$(sent_count)
PR_EVENT='{"action": "opened", "number": 7, "pull_request": {"number": 7}, "repository": {"full_name": "acme/widget"}}'
code=$(hook pull_request "$PR_EVENT" delivery-0001)
check "a signed pull_request event is accepted" [ "$code" = 200 ]
check "its review reaches the chat" wait_sent "$n" 'webhook-reviewed' 30
before=$(llm_requests | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
code=$(hook pull_request "$PR_EVENT" delivery-0001)
sleep 1
check "the same delivery sent again is accepted but not acted on" \
  [ "$code $before" = "200 $(llm_requests | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" ]
check "(and logged as a replay)" wait_log "$T_DIR/node.log" 'event=webhook_replayed' 5
ctl script '{"route": "ollama", "responses": [{"text": "RISK LEVEL: MEDIUM\nFINDINGS:\n- push-reviewed\nSUMMARY:\nx\nRECOMMENDATION:\ny"}]}'
n=$(sent_count)
code=$(hook push '{"ref": "refs/heads/main", "after": "0123456789abcdef0123456789abcdef01234567", "repository": {"full_name": "acme/widget"}}')
check "a push to a watched branch is reviewed" wait_sent "$n" 'push-reviewed' 30
before=$(llm_requests | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
code=$(hook push '{"ref": "refs/heads/feature", "after": "0123456789abcdef0123456789abcdef01234567", "repository": {"full_name": "acme/widget"}}')
code2=$(hook pull_request '{"action": "closed", "number": 7, "pull_request": {"number": 7}, "repository": {"full_name": "acme/widget"}}')
sleep 1
check "other branches and actions are accepted but not reviewed" [ "$code $code2 $before" = "200 200 $(llm_requests | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" ]
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-GitHub-Event: push" -H "X-Hub-Signature-256: sha256=$(printf '0%.0s' $(seq 64))" --data-binary '{}' "$WEB/webhooks/github")
check "a wrong signature is refused" [ "$code" = 401 ]

# --- secrets ---
check "the GitHub token is in no log line" bash -c "! grep -qF '$GHTOKEN' '$T_DIR/node.log'"
check "nor in any message to the chat" bash -c "! curl -s '$API/_test/sent' | grep -qF '$GHTOKEN'"
check "the GitHub token is stored encrypted" [ "$(sql "SELECT value LIKE 'enc:%' FROM settings WHERE key = 'github.token'")" = t ]
stop_node "$node"
finish
