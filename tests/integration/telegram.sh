#!/usr/bin/env bash
# The Telegram gateway and the command dispatcher against a loopback Bot API server (tests/support/fake_telegram.py):
# chat filtering, error survival, the offset across restarts, one poller among nodes sharing a database, the 2FA
# setup and every chat path the second factor guards (refused without a code, with a wrong code and with a replayed
# code; runs once with a valid one).
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
TOKEN="123456789:AAtestTOKENnever_in_logs-x"
CHAT=4242
# the fixture's stdin is the coprocess pipe: it exits when this script does
coproc FAKE { python3 "$AC_SOURCE_DIR/tests/support/fake_telegram.py" --token "$TOKEN" --exit-on-stdin-eof 2>/dev/null; }
read -r TGPORT <&"${FAKE[0]}"
T_PIDS+=($FAKE_PID)
API="http://127.0.0.1:$TGPORT"
export DATABASE_URL=$(db_create telegram) SECRET_KEY_BASE=$(new_secret) ALEXCLAW_DATA_DIR="$T_DIR/n" LOG_LEVEL=info
export TELEGRAM_API_URL=$API TELEGRAM_BOT_TOKEN=$TOKEN TELEGRAM_CHAT_ID=$CHAT ADMIN_PASSWORD=pw-for-the-admin-ui
export GITHUB_API_URL=http://127.0.0.1:9 # nothing listens there: reviews fail at once
sql() { psql_url "$DATABASE_URL" -c "$1"; }

# tg_update JSON-OBJECT: queues one update; tg_msg TEXT [CHAT]: a text message
tg_update() { curl -s -X POST --data-binary "[$1]" "$API/_test/updates" >/dev/null; }
tg_msg() {
  local text chat=${2:-$CHAT}
  text=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1")
  tg_update "{\"message\": {\"message_id\": 1, \"date\": 1, \"chat\": {\"id\": $chat, \"type\": \"private\"}, \"from\": {\"id\": $chat, \"first_name\": \"Owner\"}, \"text\": $text}}"
}
sent_json() { curl -s "$API/_test/sent"; }
sent_count() { sent_json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
# sent_from N: the texts (and photo captions) sent after the first N, one JSON object per line
sent_from() { sent_json | python3 -c 'import json,sys; [print(json.dumps(m)) for m in json.load(sys.stdin)[int(sys.argv[1]):]]' "$1"; }
# wait_sent N REGEX [SECONDS]: waits until a message after the first N matches REGEX
wait_sent() {
  local n=$1 re=$2 secs=${3:-15} i
  for ((i = 0; i < secs * 10; i++)); do sent_from "$n" | grep -qE -- "$re" && return 0; sleep 0.1; done
  echo "  (no message matching /$re/; sent after $n:)"; sent_from "$n" | sed 's/^/    /' | tail -5
  return 1
}
# ask TEXT REGEX: sends TEXT and waits for a reply matching REGEX
ask() { local n; n=$(sent_count); tg_msg "$1"; wait_sent "$n" "$2" "${3:-15}"; }
totp() { # totp SECRET [STEP_OFFSET]
  python3 - "$1" "${2:-0}" <<'PY'
import base64, hashlib, hmac, struct, sys, time
s = sys.argv[1]; key = base64.b32decode(s + "=" * (-len(s) % 8))
step = int(time.time()) // 30 + int(sys.argv[2])
h = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest(); o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7fffffff) % 1000000))
PY
}

"$B" config set telegram.poll_interval 0 2>/dev/null
"$B" config set shell.enabled true 2>/dev/null
"$B" config set shell.whitelist '["date","echo"]' 2>/dev/null
cat >"$T_DIR/wf.json" <<'JSON'
{"version": 1, "workflow": {"name": "guarded", "metadata": {"requires_2fa": true}},
 "steps": [{"position": 1, "name": "hello", "skill": "shell", "config": {"command": "echo guarded ran"}}]}
JSON
"$B" workflow import "$T_DIR/wf.json" >/dev/null 2>&1
cat >"$T_DIR/wf2.json" <<'JSON'
{"version": 1, "workflow": {"name": "plain"},
 "steps": [{"position": 1, "name": "hello", "skill": "shell", "config": {"command": "echo plain ran"}}]}
JSON
"$B" workflow import "$T_DIR/wf2.json" >/dev/null 2>&1
cat >"$T_DIR/wf3.json" <<'JSON'
{"version": 1, "workflow": {"name": "notifier"},
 "steps": [{"position": 1, "name": "hello", "skill": "shell", "config": {"command": "echo from the notifier"}},
           {"position": 2, "name": "tell", "skill": "telegram_notify"}]}
JSON
"$B" workflow import "$T_DIR/wf3.json" >/dev/null 2>&1
cat >"$T_DIR/wf4.json" <<'JSON'
{"version": 1, "workflow": {"name": "breaks"},
 "steps": [{"position": 1, "name": "bad step", "skill": "shell", "config": {"command": "uname -a"}},
           {"position": 2, "name": "tell", "skill": "telegram_notify"}]}
JSON
"$B" workflow import "$T_DIR/wf4.json" >/dev/null 2>&1
sql "UPDATE workflows SET enabled = true"

start_node "$T_DIR/node.log"; node=$LAST_PID
check "node ready" wait_log "$T_DIR/node.log" "event=ready" 60
check "the node becomes the poller" wait_log "$T_DIR/node.log" "module=telegram event=state .*to=polling" 20

# --- commands and chat filtering ---
check "/ping answers from the node" ask "/ping" '"text": "pong from'
n=$(sent_count)
tg_msg "/ping" 777
tg_update '{"edited_message": {"message_id": 1, "date": 1, "chat": {"id": 4242, "type": "private"}, "text": "/ping"}}'
tg_update '{"message": {"message_id": 2, "date": 1, "chat": {"id": 4242, "type": "private"}, "photo": [{"file_id": "x"}]}}'
tg_update '{"callback_query": {"id": "1", "data": "x"}}'
check "/help after them is answered" ask "/help" '"text": "Commands:'
check "another chat, an edited message, a photo and a callback got no answer" \
  [ "$(sent_from "$n" | grep -c '"chat_id": "777"\|pong')" = 0 ]
check "/run@Bot with an unknown workflow" ask "/run@AlexClawBot nosuch" 'Workflow not found: '
check "/workflows lists both" ask "/workflows" 'guarded.*plain|plain.*guarded'
check "unknown commands get help" ask "/frobnicate" 'Unknown command'
check "free text without a language model says how to get one" ask "hello there" 'No language model is available.*LLM page'
check "/github says why a review cannot be made" ask "/github pr a/b 1" 'review failed: github: .*(onnect|refused)'
check "/run plain starts it" ask "/run plain" 'Workflow <b>plain</b> started \(run [0-9]+\)'
check "the run completes" wait_log "$T_DIR/node.log" "event=run_finished run=[0-9]+ workflow=plain status=completed" 20
n=$(sent_count); tg_msg "/run notifier"
check "a workflow with a telegram_notify step says it started, with its steps" wait_sent "$n" '<b>notifier</b> started\\nhello \S+ tell'
check "and its telegram_notify step delivers the output" wait_sent "$n" 'Exit: 0[^"]*from the notifier'
n=$(sent_count); tg_msg "/run breaks"
check "a failed run says where and why" wait_sent "$n" '<b>breaks</b> failed at <i>bad step</i>\\n<code>[a-z_]*not_whitelisted'
sql "INSERT INTO workflows (name, enabled) SELECT 'long_' || repeat('n', 240) || i, false FROM generate_series(1, 100) i"
n=$(sent_count); tg_msg "/workflows"
check "a long reply is split into messages of at most 4000 bytes" wait_sent "$n" 'long_n+100'
sleep 1
check "at most 5 of them, the last one marked as cut" python3 -c '
import json,sys,urllib.request
m=[x for x in json.load(urllib.request.urlopen(sys.argv[1]+"/_test/sent"))[int(sys.argv[2]):] if "long_" in x.get("text","")]
ok = 2 <= len(m) <= 5 and all(len(x["text"].encode()) <= 4000 for x in m) and m[-1]["text"].endswith("... (truncated)")
print(len(m), [len(x["text"].encode()) for x in m]); sys.exit(0 if ok else 1)' "$API" "$n"
sql "DELETE FROM workflows WHERE name LIKE 'long_%'"
n=$(sent_count); tg_msg "/run REFUSE_MARKUP"
check "a reply whose markup Telegram refuses is sent again as plain text" wait_sent "$n" '"text": "Workflow not found: REFUSE_MARKUP.*"parse_mode": null'

# --- errors are survived, the offset never moves back ---
curl -s -X POST -d '{"mode": "500", "count": 1}' "$API/_test/fail" >/dev/null
curl -s -X POST -d '{"mode": "garbage", "count": 1}' "$API/_test/fail" >/dev/null
curl -s -X POST -d '{"mode": "429", "count": 1, "retry_after": 1}' "$API/_test/fail" >/dev/null
curl -s -X POST -d '{"mode": "drop", "count": 1}' "$API/_test/fail" >/dev/null
sleep 1.2 # the long poll in flight ends (the fixture holds one for at most 1 s): the failures come first
check "after 500s, garbage, a 429 and a dropped connection /ping is answered" ask "/ping" 'pong from' 30
check "the 429's retry_after was logged" grep -q 'event=poll_refused status=429 .*retry_after=1' "$T_DIR/node.log"
check "the garbage was refused as a bad answer" grep -q 'event=bad_answer' "$T_DIR/node.log"
check "offsets never went back" python3 -c '
import json,sys,urllib.request
p=json.load(urllib.request.urlopen(sys.argv[1]+"/_test/polls")); sys.exit(0 if p==sorted(p) else 1)' "$API"

# --- an answer over the client's 4 MiB cap: the node asks for fewer updates instead of stalling ---
python3 - "$API" <<'PY'
import json, sys, urllib.request
big = "\u0436" * 4096  # 6 bytes each in Telegram's \uXXXX JSON
ups = [{"message": {"message_id": i, "date": 1, "chat": {"id": 777, "type": "private"}, "text": big,
        "reply_to_message": {"message_id": 1, "date": 1, "chat": {"id": 777, "type": "private"}, "text": big}}}
       for i in range(100)]
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_test/updates", json.dumps(ups).encode())).read()
PY
check "after 100 large updates from a stranger the owner's /ping is still answered" ask "/ping" 'pong from' 30
check "the node asked for fewer updates" grep -q 'event=answer_too_large limit=50' "$T_DIR/node.log"

# --- 2FA setup ---
check "/run of a requires_2fa workflow while 2FA is off is refused" ask "/run guarded" 'requires 2FA. Set up 2FA first'
check "/disable 2fa while off" ask "/disable 2fa" '2FA is not enabled'
n=$(sent_count); tg_msg "/setup 2fa"
check "/setup 2fa sends the QR code as a PNG photo" wait_sent "$n" '"method": "sendPhoto".*"caption": "Scan from another device.*"png": true'
check "and the manual key" wait_sent "$n" 'Manual key: <code>[A-Z2-7]{32}</code>'
SECRET=$(sent_from "$n" | grep -oE 'Manual key: <code>[A-Z2-7]{32}' | grep -oE '[A-Z2-7]{32}$' | tail -1)
check "a wrong confirmation code is refused" ask "/confirm 2fa 000000" 'Invalid code'
check "/confirm 2fa with a valid code turns 2FA on" ask "/confirm 2fa $(totp "$SECRET")" '2FA enabled'
check "the secret is stored encrypted" matches "$(sql "SELECT value FROM settings WHERE key = 'auth.totp.secret'")" '^enc:'

# --- /shell: challenge, wrong code, valid code, replayed code ---
# (codes of the current step or the next only: a code of the step before may fall out of the window on its way)
sql "UPDATE totp_steps SET last_step = 0"
check "/shell with 2FA on asks for a code" ask "/shell date" 'requires 2FA verification.*Execute: `date`'
check "a wrong code is refused with the attempts left" ask "000000" 'Invalid code. Try again \(4 attempts left\)'
C1=$(totp "$SECRET")
n=$(sent_count); tg_msg "$C1"
check "a valid code runs exactly the approved command" wait_sent "$n" '<pre>\$ date'
check "the chat heard Code verified first" wait_sent "$n" 'Code verified. Executing'
check "/shell again asks again" ask "/shell echo twice" 'Execute: `echo twice`'
check "the same code a second time is refused (replay)" ask "$C1" 'Invalid code'
check "the shell did not run the second command" not grep -q "command=\"echo twice\"" "$T_DIR/node.log"
for i in 1 2 3; do ask "111111" 'Invalid code|Too many' >/dev/null; done
check "the fifth wrong code kills the challenge" ask "222222" 'Too many wrong codes'
check "a valid code afterwards approves nothing" ask "$(totp "$SECRET" 1)" 'No 2FA request is waiting'

# --- /run of a requires_2fa workflow ---
sql "UPDATE totp_steps SET last_step = 0" # fresh steps for the next cases (the replay case is above)
check "/run guarded asks for a code" ask "/run guarded" 'Run workflow `guarded`'
check "the code starts exactly that run" ask "$(totp "$SECRET")" 'Workflow <b>guarded</b> started \(run [0-9]+\)'
check "it runs once" wait_log "$T_DIR/node.log" "event=run_finished run=[0-9]+ workflow=guarded status=completed" 20
check "one run of guarded recorded" [ "$(sql "SELECT count(*) FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE w.name = 'guarded'")" = 1 ]

# --- the command line: --code ---
sql "UPDATE totp_steps SET last_step = 0"
out=$("$B" workflow run guarded 2>&1); rc=$?
check "the CLI refuses a requires_2fa workflow without --code" [ "$rc" = 1 ]
check "and says to add --code" grep -q -- "add --code" <<<"$out"
out=$("$B" workflow run guarded --code 000000 2>&1); rc=$?
check "and with a wrong code" [ "$rc" = 1 ]
check "saying the code was refused" grep -q "code was refused" <<<"$out"
C2=$(totp "$SECRET")
out=$("$B" workflow run guarded --code "$C2" 2>&1); rc=$?
check "a valid code runs it from the CLI" [ "$rc" = 0 ]
check "to completion" grep -q '"status": "completed"' <<<"$out"
out=$("$B" workflow run guarded --code "$C2" 2>&1); rc=$?
check "the same code again is refused" [ "$rc" = 1 ]
out=$("$B" config set shell.timeout_seconds 12 2>&1); rc=$?
check "a guarded setting needs --code on the CLI" [ "$rc" = 1 ]
check "unchanged" [ "$(sql "SELECT value FROM settings WHERE key = 'shell.timeout_seconds'")" = 30 ]
out=$("$B" config set shell.timeout_seconds 12 --code "$(totp "$SECRET" 1)" 2>&1); rc=$?
check "and changes with a valid one" [ "$rc" = 0 ]
check "changed" [ "$(sql "SELECT value FROM settings WHERE key = 'shell.timeout_seconds'")" = 12 ]
for kv in skill.conversational.provider=elsewhere llm.ollama_host=http://elsewhere.example github.default_repo=else/where coder.max_retries=9; do
  out=$("$B" config set "${kv%%=*}" "${kv#*=}" 2>&1); rc=$?
  check "where data goes needs --code too: ${kv%%=*}" [ "$rc" = 1 ]
  check "(refused for want of a code)" grep -qi -- "--code" <<<"$out"
done
check "none of them changed" [ "$(sql "SELECT count(*) FROM settings WHERE value IN ('elsewhere', 'http://elsewhere.example', 'else/where', '9')")" = 0 ]
out=$("$B" workflow disable guarded 2>&1); rc=$?
check "disabling a requires_2fa workflow needs --code" [ "$rc" = 1 ]
check "it stays enabled" [ "$(sql "SELECT enabled FROM workflows WHERE name = 'guarded'")" = t ]
"$B" config set telegram.poll_interval 0 >/dev/null 2>&1
check "settings 2FA does not guard change without a code" [ "$?" = 0 ]
sql "UPDATE totp_steps SET last_step = 0"

# --- a challenge made by the admin UI, answered in the chat ---
WEB="http://127.0.0.1:$(grep -oE 'module=web event=listening .*port=[0-9]+' "$T_DIR/node.log" | grep -oE '[0-9]+$')"
J="$T_DIR/cookies"
tok=$(curl -s -c "$J" -b "$J" "$WEB/login" | grep -oE 'name="_csrf_token" value="[^"]+"' | sed 's/.*value="//; s/"$//')
curl -s -c "$J" -b "$J" --data-urlencode "_csrf_token=$tok" --data-urlencode "password=$ADMIN_PASSWORD" "$WEB/login" -o /dev/null
csrf=$(curl -s -b "$J" "$WEB/api/session" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("csrf_token", ""))')
check "signed in to the admin UI" [ -n "$csrf" ]
webapi() { curl -s -b "$J" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' -X "$1" ${3:+--data-binary "$3"} "$WEB$2"; }
n=$(sent_count)
out=$(webapi PUT /api/settings/shell.timeout_seconds '{"value": 33}')
check "a guarded change in the admin UI answers a challenge the chat can answer" matches "$out" '"error":"2fa_required".*"telegram":true'
check "the chat gets the same prompt" wait_sent "$n" 'requires 2FA verification.*Change setting `shell.timeout_seconds`'
check "the code typed in the chat approves it" ask "$(totp "$SECRET")" 'Setting <code>shell.timeout_seconds</code> changed'
check "the setting changed" [ "$(sql "SELECT value FROM settings WHERE key = 'shell.timeout_seconds'")" = 33 ]
n=$(sent_count)
out=$(webapi POST /api/token)
check "a new API token is approved in the admin UI only" matches "$out" '"error":"2fa_required".*"telegram":false'
sleep 1
check "so the chat is not asked" [ "$(sent_from "$n" | wc -l)" = 0 ]
check "and a code in the chat approves nothing" ask "$(totp "$SECRET" 1)" 'No 2FA request is waiting'
sql "UPDATE totp_steps SET last_step = 0"

# --- dynamic skills: loading needs the second factor (the CLI's --code; a skill's load_skill asks the chat) ---
SKD="$T_DIR/n/skills"
check "SKILLS_DIR is made under the data directory" [ -d "$SKD" ]
cat >"$SKD/hello.lua" <<'LUA'
skill = { name = "hello", version = "1", description = "greets", permissions = { "telegram_send" } }
function run(args)
  local ok, err = SkillAPI.send_message("hello from the sandbox: " .. tostring(args.input))
  if not ok then return nil, err end
  return true, "sent"
end
LUA
cat >"$SKD/loader.lua" <<'LUA'
skill = { name = "loader", version = "1", permissions = { "skill_manage" } }
function run(args)
  local r, e = SkillAPI.load_skill("later.lua")
  if not r then return nil, e end
  return true, r.status
end
LUA
cat >"$SKD/later.lua" <<'LUA'
skill = { name = "later", version = "7" }
function run() return true, "later ran" end
LUA
out=$("$B" skill load hello.lua 2>&1); rc=$?
check "the CLI refuses to load a skill without --code" [ "$rc" = 1 ]
check "saying why" grep -q "requires 2FA" <<<"$out"
out=$("$B" skill load hello.lua --code "$(totp "$SECRET")" 2>&1); rc=$?
check "and loads it with a valid code" [ "$rc" = 0 ]
check "printing what it loaded" grep -q "loaded hello 1" <<<"$out"
check "the running node picks the load up" wait_log "$T_DIR/node.log" "module=skills event=loaded skill=hello" 10
out=$("$B" skill load loader.lua --code "$(totp "$SECRET" 1)" 2>&1)
check "a second skill loads" grep -q "loaded loader 1" <<<"$out"
check "/skills lists the dynamic skills" ask "/skills" 'hello.*loader|loader.*hello'
cat >"$T_DIR/wf5.json" <<'JSON'
{"version": 1, "workflow": {"name": "dyn"},
 "steps": [{"position": 1, "name": "greet", "skill": "hello"}]}
JSON
"$B" workflow import "$T_DIR/wf5.json" >/dev/null 2>&1
cat >"$T_DIR/wf6.json" <<'JSON'
{"version": 1, "workflow": {"name": "asks"},
 "steps": [{"position": 1, "name": "load", "skill": "loader"}]}
JSON
"$B" workflow import "$T_DIR/wf6.json" >/dev/null 2>&1
sql "UPDATE workflows SET enabled = true WHERE name IN ('dyn', 'asks')"
n=$(sent_count)
check "a workflow step runs the sandboxed skill" ask "/run dyn" 'started'
check "whose SkillAPI call reaches the chat" wait_sent "$n" 'hello from the sandbox'
sql "UPDATE totp_steps SET last_step = 0"
n=$(sent_count)
tg_msg "/run asks"
check "a skill's load_skill asks the owner for a code" wait_sent "$n" 'requires 2FA verification.*Load the dynamic skill `later` version `7` from `later.lua` with permissions: none; routes: on_success, on_error; SHA-256 [0-9a-f]{16}\.\.\. \(asked by the dynamic skill loader\)'
check "later is not loaded before the code" not grep -q "skill=later" "$T_DIR/node.log"
check "the code loads it" ask "$(totp "$SECRET")" 'Skill <code>later</code> loaded \(version 7\)'
check "it is recorded" [ "$(sql "SELECT version FROM dynamic_skills WHERE name = 'later'")" = 7 ]
out=$("$B" skill unload later --code "$(totp "$SECRET" 1)" 2>&1); rc=$?
check "the CLI unloads it with a code" [ "$rc" = 0 ]
check "the node drops it" wait_log "$T_DIR/node.log" "event=unloaded skill=later" 10
out=$("$B" skill unload shell 2>&1); rc=$?
check "core skills can never be unloaded" [ "$rc" = 1 ]
sql "UPDATE totp_steps SET last_step = 0"

check "re-keying needs a code" ask "/setup 2fa" 'Set up 2FA again'
check "/disable 2fa replaces that challenge and asks for a code" ask "/disable 2fa" 'requires 2FA verification.*Disable 2FA'
check "the code turns 2FA off" ask "$(totp "$SECRET" 1)" '2FA disabled'
check "2FA is off in settings" [ "$(sql "SELECT value FROM settings WHERE key = 'auth.totp.enabled'")" = false ]

check "the bot token never appears in the node's log" not grep -qF "$TOKEN" "$T_DIR/node.log"
check "nor its secret part" not grep -qF "AAtestTOKENnever_in_logs" "$T_DIR/node.log"

# --- the offset across restarts ---
stop_node "$node"
before=$(sql "SELECT next_offset FROM gateway_state WHERE gateway = 'telegram:123456789'")
check "the offset is kept per bot" [ -n "$before" ]
n=$(sent_count)
tg_msg "/ping"   # arrives while the node is down
start_node "$T_DIR/node2.log"; node=$LAST_PID
check "restarted node ready" wait_log "$T_DIR/node2.log" "event=ready" 60
check "the message sent while it was down is answered" wait_sent "$n" 'pong from'
sleep 1.5
check "exactly once, and nothing older again" [ "$(sent_from "$n" | wc -l)" = 1 ]
check "the first poll after the restart asked for the stored offset" python3 -c '
import json,sys,urllib.request
p=json.load(urllib.request.urlopen(sys.argv[1]+"/_test/polls")); sys.exit(0 if int(sys.argv[2]) in p else 1)' "$API" "$before"

# --- one poller among nodes sharing the database ---
private_epmd
start_node "$T_DIR/node3.log" ALEXCLAW_DATA_DIR="$T_DIR/n3" NODE_NAME=second@127.0.0.1 CLUSTER_COOKIE="$(new_secret)"
node3=$LAST_PID
check "a second node is ready" wait_log "$T_DIR/node3.log" "event=ready" 60
check "and stands by" wait_log "$T_DIR/node3.log" "module=telegram event=state .*to=standby" 15
stop_node "$node"
check "it takes over when the poller stops" wait_log "$T_DIR/node3.log" "module=telegram event=elected" 20
check "and answers" ask "/ping" 'pong from'
stop_node "$node3"
finish
