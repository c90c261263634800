#!/usr/bin/env bash
# The reverse-proxy example deploy/nginx/alexclaw.conf, run for real: nginx (Debian's nginx-light) on loopback test
# ports with a test certificate, in front of a node on its loopback port. Through the proxy: HTTPS, the redirect from
# HTTP, login, a Secure session cookie, and the login rate limiter counting the address nginx saw, whatever
# X-Forwarded-For the client sends.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
NGINX=$(command -v nginx || true)
if [ -z "$NGINX" ]; then fail "nginx is needed (deploy/install-deps.sh --test installs nginx-light)"; finish; fi
export DATABASE_URL=$(db_create proxy) SECRET_KEY_BASE=$(new_secret) ALEXCLAW_DATA_DIR="$T_DIR/n" LOG_LEVEL=info
PW="pw-$(openssl rand -hex 12)"
"$B" config set auth.trust_proxy_headers true >/dev/null 2>&1
"$B" config set web.cookie_secure true >/dev/null 2>&1
start_node "$T_DIR/node.log" ADMIN_PASSWORD="$PW"; n=$LAST_PID
check "node ready" wait_log "$T_DIR/node.log" "event=ready" 60
port=$(sed -n 's/.*module=web event=listening .* port=\([0-9]*\) .*/\1/p' "$T_DIR/node.log" | head -1)

free_port() { local p; while :; do p=$(( 40000 + RANDOM % 5000 )); ss -ltn | grep -q ":$p " || { echo "$p"; return; }; done; }
HTTPS=$(free_port); HTTP=$(free_port)
d=$T_DIR/nginx; mkdir -p "$d/tmp"
openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=localhost" -days 2 -keyout "$d/key.pem" -out "$d/cert.pem" \
  >/dev/null 2>&1
# the example as shipped, with test ports, certificate and upstream (and without the IPv6 listeners)
sed -e "s|listen 443 ssl http2;|listen 127.0.0.1:$HTTPS ssl http2;|" -e '/listen \[::\]/d' \
    -e "s|listen 80;|listen 127.0.0.1:$HTTP;|" \
    -e "s|/etc/ssl/certs/alexclaw.pem|$d/cert.pem|" -e "s|/etc/ssl/private/alexclaw.key|$d/key.pem|" \
    -e "s|proxy_pass http://127.0.0.1:5001;|proxy_pass http://127.0.0.1:$port;|" \
    "$AC_SOURCE_DIR/deploy/nginx/alexclaw.conf" >"$d/site.conf"
check "the example was adapted (ports, certificate, upstream)" bash -c "grep -q 'proxy_pass http://127.0.0.1:$port;' '$d/site.conf' && ! grep -Eq 'listen (443|80);|/etc/ssl' '$d/site.conf'"
cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  include $d/site.conf;
}
CONF
check "nginx accepts the configuration" "$NGINX" -t -q -p "$d" -c "$d/nginx.conf" -e "$d/error.log"
"$NGINX" -p "$d" -c "$d/nginx.conf" -e "$d/error.log" -g 'daemon off;' &
ngx=$!
T_PIDS+=("$ngx")
for i in $(seq 50); do curl -sk -o /dev/null "https://127.0.0.1:$HTTPS/health" && break; sleep 0.1; done
URL="https://127.0.0.1:$HTTPS"
check "HTTPS through nginx: /health" [ "$(curl -sk -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ]
check "plain HTTP redirects to HTTPS" bash -c "curl -s -D - -o /dev/null 'http://127.0.0.1:$HTTP/x' | grep -qi '^location: https://'"
login() { # login PASSWORD [FORGED-XFF]: prints the status of POST /login through the proxy
  local t jar=$T_DIR/jar.$RANDOM
  t=$(curl -sk -c "$jar" -b "$jar" "$URL/login" | sed -n 's/.*name="_csrf_token" value="\([^"]*\)".*/\1/p')
  curl -sk -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" ${2:+-H "X-Forwarded-For: $2"} \
    --data-urlencode "_csrf_token=$t" --data-urlencode "password=$1" "$URL/login"
  cp "$jar" "$T_DIR/last.jar"
}
check "login through the proxy" [ "$(login "$PW")" = 302 ]
check "the session cookie is Secure (web.cookie_secure)" grep -q "#HttpOnly_127.0.0.1.*TRUE.*ac_session" "$T_DIR/last.jar"
for i in 1 2 3 4 5; do
  code=$(login wrong "10.1.2.$i")
  [ "$code" = 401 ] || fail "failure $i answered $code"
done
check "after 5 failures with forged X-Forwarded-For the next attempt is blocked" [ "$(login "$PW" 10.9.9.9)" = 429 ]
check "the node counted the address nginx saw" grep -q "event=login_failed client=127.0.0.1 " "$T_DIR/node.log"
check "never the forged one" not grep -q "event=login_failed client=10.1.2" "$T_DIR/node.log"
# the public name: refused until web.allowed_hosts names it (a setting: it reaches the running node within a second)
pub() { curl -sk -o /dev/null -w '%{http_code}' --resolve "alexclaw.example.org:$HTTPS:127.0.0.1" "https://alexclaw.example.org:$HTTPS/health"; }
check "the public name is refused until it is allowed" [ "$(pub)" = 403 ]
"$B" config set web.allowed_hosts alexclaw.example.org >/dev/null 2>&1
for i in $(seq 30); do [ "$(pub)" = 200 ] && break; sleep 0.1; done
check "and answered once web.allowed_hosts names it" [ "$(pub)" = 200 ]
kill -QUIT "$ngx" 2>/dev/null; wait "$ngx" 2>/dev/null
stop_node "$n"
finish
