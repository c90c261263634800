#!/usr/bin/env bash
# The admin UI over HTTP: the contract of issue 5 (test_web_http, libcurl) against a real node, the LLM page's test
# calls going to a loopback fake provider (tests/support/fake_llm.py); then, with curl, a node without ADMIN_PASSWORD,
# session expiry, a busy executor on a node without dynamic skills, and the node serving TLS itself (HTTP/2, Secure
# cookies, HSTS).
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
export DATABASE_URL=$(db_create web) SECRET_KEY_BASE=$(new_secret) ALEXCLAW_DATA_DIR="$T_DIR/n" LOG_LEVEL=info
PW="pw-$(openssl rand -hex 12)"
port_of() { sed -n 's/.*module=web event=listening .* port=\([0-9]*\) .*/\1/p' "$1" | head -1; }
# the fake LLM server's stdin is the coprocess pipe: it exits when this script does
coproc FAKE_LLM { python3 "$AC_SOURCE_DIR/tests/support/fake_llm.py" --exit-on-stdin-eof 2>/dev/null; }
read -r _ LLM_PORT <&"${FAKE_LLM[0]}"
T_PIDS+=($FAKE_LLM_PID)
check "the fake LLM server listens ($LLM_PORT)" [ -n "$LLM_PORT" ]

start_node "$T_DIR/a.log" ADMIN_PASSWORD="$PW" PORT=0; a=$LAST_PID
check "node ready" wait_log "$T_DIR/a.log" "event=ready" 60
check "the admin UI listens on loopback" grep -q "module=web event=listening address=127.0.0.1 port=" "$T_DIR/a.log"
URL="http://127.0.0.1:$(port_of "$T_DIR/a.log")"
AC_WEB_URL=$URL AC_ADMIN_PASSWORD=$PW AC_FAKE_LLM_URL="http://127.0.0.1:$LLM_PORT" "$AC_TEST_WEB_HTTP" \
  >"$T_DIR/http.out" 2>&1
rc=$?
cat "$T_DIR/http.out"
check "the HTTP contract (test_web_http)" [ "$rc" = 0 ]
check "the password never reached the log" not grep -q -- "$PW" "$T_DIR/a.log"
check "the LLM providers' API keys never reached the log" not grep -q -e "sk-web-http-secret-4711" \
  -e "sk-web-http-guarded-0815" "$T_DIR/a.log"
check "failed logins were logged with the client address" grep -q "event=login_failed client=203.0.113.7" "$T_DIR/a.log"
stop_node "$a"

# no ADMIN_PASSWORD: the page says so and nobody gets in
DB_B=$(db_create web_b)
start_node "$T_DIR/b.log" PORT=0 DATABASE_URL="$DB_B"; b=$LAST_PID
check "node without a password ready" wait_log "$T_DIR/b.log" "event=ready" 60
URL="http://127.0.0.1:$(port_of "$T_DIR/b.log")"
page=$(curl -s -c "$T_DIR/b.jar" "$URL/login")
check "the login page says ADMIN_PASSWORD is not set" grep -q "ADMIN_PASSWORD is not set" <<<"$page"
tok=$(sed -n 's/.*name="_csrf_token" value="\([^"]*\)".*/\1/p' <<<"$page")
code=$(curl -s -o "$T_DIR/b.body" -w '%{http_code}' -b "$T_DIR/b.jar" --data-urlencode "_csrf_token=$tok" \
  --data-urlencode "password=" "$URL/login")
check "a login attempt is 401 and says why" bash -c '[ "$0" = 401 ] && grep -q "ADMIN_PASSWORD is not set" "$1"' "$code" "$T_DIR/b.body"
# the database goes away: /health says so (503), quickly
psql_admin -c "DROP DATABASE $(sed 's|.*/\([^?]*\)?.*|\1|' <<<"$DB_B") WITH (FORCE)" >/dev/null
out=$(curl -s -m 10 -w ' %{http_code} %{time_total}' "$URL/health")
check "with the database gone /health answers 503 degraded ($out)" bash -c '[[ $0 == *"\"db\":\"unreachable\""*" 503 "* ]]' "$out"
stop_node "$b"

# sessions end after their lifetime (8 h by default; 2 s here)
start_node "$T_DIR/c.log" ADMIN_PASSWORD="$PW" PORT=0 ALEXCLAW_WEB_SESSION_SECONDS=2; c=$LAST_PID
check "node with short sessions ready" wait_log "$T_DIR/c.log" "event=ready" 60
URL="http://127.0.0.1:$(port_of "$T_DIR/c.log")"
login() { # login URL JAR [CURL ARGS]: signs in, keeping cookies in JAR
  local url=$1 jar=$2; shift 2
  local t
  t=$(curl -s "$@" -c "$jar" -b "$jar" "$url/login" | sed -n 's/.*name="_csrf_token" value="\([^"]*\)".*/\1/p')
  curl -s "$@" -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" --data-urlencode "_csrf_token=$t" \
    --data-urlencode "password=$PW" "$url/login"
}
check "signed in" [ "$(login "$URL" "$T_DIR/c.jar")" = 302 ]
check "the session works" [ "$(curl -s -o /dev/null -w '%{http_code}' -b "$T_DIR/c.jar" "$URL/api/session")" = 200 ]
sleep 3
check "after its lifetime it is gone" [ "$(curl -s -o /dev/null -w '%{http_code}' -b "$T_DIR/c.jar" "$URL/api/session")" = 401 ]
stop_node "$c"

# "Run now" while the executor is busy: answered 202 queued after a few seconds, never left waiting. This node also
# runs without dynamic skills (its sandbox user does not exist): the Skills API says so and every change answers 503.
start_node "$T_DIR/e.log" ADMIN_PASSWORD="$PW" ALEXCLAW_WORKERS=1 ALEXCLAW_SANDBOX_USER=no_such_sandbox_user; e=$LAST_PID
check "node with one executor worker ready" wait_log "$T_DIR/e.log" "event=ready" 60
URL="http://127.0.0.1:$(port_of "$T_DIR/e.log")"
"$B" config set shell.enabled true >/dev/null 2>&1
"$B" config set shell.whitelist '["sleep"]' >/dev/null 2>&1
cat >"$T_DIR/nap.json" <<'JSON'
{"version": 1, "workflow": {"name": "nap"}, "steps": [{"position": 1, "name": "s", "skill": "shell", "config": {"command": "sleep 12"}}]}
JSON
"$B" workflow import "$T_DIR/nap.json" >/dev/null 2>&1
"$B" workflow enable nap >/dev/null 2>&1
check "signed in" [ "$(login "$URL" "$T_DIR/e.jar")" = 302 ]
csrf=$(curl -s -b "$T_DIR/e.jar" "$URL/api/session" | sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p')
check "dynamic skills off: said in the log" grep -q "module=skills event=dynamic_off" "$T_DIR/e.log"
out=$(curl -s -b "$T_DIR/e.jar" "$URL/api/skills")
check "dynamic skills off: /api/skills says so and still lists the core skills" \
  bash -c '[[ $0 == *"\"dynamic_skills\":{\"enabled\":false"* && $0 == *"\"name\":\"shell\""* ]]' "$out"
skill_post() { curl -s -o /dev/null -w '%{http_code}' -b "$T_DIR/e.jar" -H "X-CSRF-Token: $csrf" -X POST "$@"; }
check "dynamic skills off: an upload answers 503" \
  [ "$(skill_post -d '{"filename":"a.lua","source":"x"}' "$URL/api/skills/files")" = 503 ]
check "dynamic skills off: a load answers 503" [ "$(skill_post -d '{"file":"a.lua"}' "$URL/api/skills/load")" = 503 ]
check "dynamic skills off: an unload answers 503" [ "$(skill_post "$URL/api/skills/a/unload")" = 503 ]
check "dynamic skills off: a core skill is still never unloaded (403)" [ "$(skill_post "$URL/api/skills/shell/unload")" = 403 ]
first=$(curl -s -m 10 -b "$T_DIR/e.jar" -H "X-CSRF-Token: $csrf" -X POST "$URL/api/workflows/nap/run")
check "the first run starts at once ($first)" grep -q '"run_id":' <<<"$first"
second=$(curl -s -m 10 -w ' %{http_code}' -b "$T_DIR/e.jar" -H "X-CSRF-Token: $csrf" -X POST "$URL/api/workflows/nap/run")
check "the second is answered 202 queued while the worker is busy ($second)" bash -c '[[ $0 == *"\"queued\":true"*" 202" ]]' "$second"
# an HTTP/2 client that gives up on a waiting request: h2o frees the request at once (stream reset); the answer that
# comes later must find it gone, not touch freed memory (the sanitizer build would report it)
curl -s -m 1 --http2-prior-knowledge -o /dev/null -b "$T_DIR/e.jar" -H "X-CSRF-Token: $csrf" -X POST "$URL/api/workflows/nap/run"
check "an HTTP/2 request cancelled while it waited gave up on the client side" [ $? = 28 ]
sleep 5 # past the 5 s "queued" timer of the cancelled request
check "the node is still up and answering" [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ]
stop_node "$e"

# TLS served by the node itself
openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=localhost" -days 2 -keyout "$T_DIR/key.pem" \
  -out "$T_DIR/cert.pem" >/dev/null 2>&1
start_node "$T_DIR/d.log" ADMIN_PASSWORD="$PW" PORT=0 TLS_CERT_FILE="$T_DIR/cert.pem" TLS_KEY_FILE="$T_DIR/key.pem"; d=$LAST_PID
check "TLS node ready" wait_log "$T_DIR/d.log" "event=ready" 60
URL="https://127.0.0.1:$(port_of "$T_DIR/d.log")"
out=$(curl -sk -o /dev/null -w '%{http_version} %{http_code}' "$URL/health")
check "HTTPS with HTTP/2 (ALPN): $out" [ "$out" = "2 200" ]
check "HSTS over TLS" bash -c "curl -sk -D - -o /dev/null '$URL/health' | grep -qi '^strict-transport-security: max-age='"
check "signed in over TLS" [ "$(login "$URL" "$T_DIR/d.jar" -k)" = 302 ]
check "the session cookie is Secure" grep -q "#HttpOnly_127.0.0.1.*TRUE.*ac_session" "$T_DIR/d.jar"
stop_node "$d"
out=$(ADMIN_PASSWORD=x PORT=0 TLS_CERT_FILE="$T_DIR/cert.pem" "$B" serve 2>&1 | tail -1)
check "a certificate without a key is refused with a clear message" grep -q "TLS needs both TLS_CERT_FILE and TLS_KEY_FILE" <<<"$out"
finish
