#!/usr/bin/env bash
# Admin UI throughput (issue 5): wrk against the node's own h2o server, in one run, on loopback:
#   baseline  GET /bench-static/small.json: h2o's own file handler serving a 51-byte file from the same server
#             (ALEXCLAW_WEB_BENCH_STATIC_DIR), the floor of this h2o on this machine;
#   health    GET /health: public; one `SELECT 1` on a web database worker per request;
#   session   GET /api/session with Authorization: Bearer: the API token check, no database;
#   runs      GET /api/runs?limit=10 with Authorization: Bearer: an authenticated API read from PostgreSQL.
# Each runs WRK_SECONDS (default 10) with 1 wrk thread and WRK_CONNECTIONS (default 20) connections, after a 2 s
# warm-up. Ratios are requests/s against the baseline. PostgreSQL is a private durable server as in run.sh.
# Reproduce: tests/bench/bench_web.sh   (builds build/bench first)
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
SECS=${WRK_SECONDS:-10}
CONNS=${WRK_CONNECTIONS:-20}
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DAC_BENCH=ON -DAC_TESTS=OFF >/dev/null
cmake --build build/bench -j"$(nproc)" --target alexclaw >/dev/null
B=$src/build/bench/alexclaw

dir=$(mktemp -d /tmp/ac-bench-web.XXXXXX); chmod 0755 "$dir"
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"
node=; pg=0
cleanup() {
  if [ -n "$node" ]; then kill -TERM "$node" 2>/dev/null; wait "$node" 2>/dev/null || true; fi
  [ "$pg" = 1 ] && as_pg "$bindir/pg_ctl" stop -m fast -D "$dir/data" >/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth-local=trust >/dev/null 2>&1
as_pg mkdir -m 0700 "$dir/sock"
as_pg "$bindir/pg_ctl" start -w -D "$dir/data" -l "$dir/pg.log" -o "-c listen_addresses='' -c unix_socket_directories=$dir/sock" >/dev/null
pg=1
export DATABASE_URL="postgresql://postgres@/postgres?host=$dir/sock" SECRET_KEY_BASE=$(openssl rand -base64 48 | tr -d '\n')
export ALEXCLAW_DATA_DIR=$dir/node
mkdir -p "$dir/static" "$dir/node"
printf '{"status":"ok","version":"0.1.0","db":"connected"}' >"$dir/static/small.json"
TOKEN=$(openssl rand -hex 24)
LOG_LEVEL=warn "$B" config set api.token - <<<"$TOKEN" >/dev/null
# a few runs for the API read
cat >"$dir/wf.json" <<'JSON'
{"version": 1, "workflow": {"name": "bench_wf"}, "steps": [{"position": 1, "name": "s", "skill": "no_such_skill", "config": {"on_missing_skill": "skip"}}]}
JSON
LOG_LEVEL=warn "$B" workflow import "$dir/wf.json" >/dev/null
LOG_LEVEL=warn "$B" workflow enable bench_wf >/dev/null
for i in $(seq 10); do LOG_LEVEL=warn "$B" workflow run bench_wf >/dev/null; done

PORT=0 LOG_LEVEL=info ALEXCLAW_WEB_BENCH_STATIC_DIR="$dir/static" ADMIN_PASSWORD=$(openssl rand -hex 16) \
  "$B" serve >"$dir/node.log" 2>&1 &
node=$!
for i in $(seq 100); do grep -qs "event=ready" "$dir/node.log" && break; sleep 0.1; done
port=$(sed -n 's/.*module=web event=listening .* port=\([0-9]*\) .*/\1/p' "$dir/node.log" | head -1)
URL="http://127.0.0.1:$port"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/runs?limit=10")" = 200 ] ||
  { echo "the API read does not answer 200" >&2; exit 1; }

# run NAME PATH [HEADER]: prints "NAME req/s p50_ms p99_ms"
run() {
  local name=$1 path=$2 hdr=${3:-}
  local args=(-t1 -c"$CONNS" --latency)
  [ -n "$hdr" ] && args+=(-H "$hdr")
  wrk "${args[@]}" -d2s "$URL$path" >/dev/null
  local out
  out=$(wrk "${args[@]}" -d"${SECS}s" "$URL$path")
  local rps p50 p99 non2xx
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "$name $rps $p50 $p99 ${non2xx:-0}"
}
echo "== admin UI: wrk -t1 -c$CONNS, ${SECS}s each, after 2 s of warm-up; loopback; Release build"
echo "machine: nproc $(nproc); $(wrk --version 2>&1 | head -1); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
results=()
results+=("$(run baseline /bench-static/small.json)")
results+=("$(run health /health)")
results+=("$(run session /api/session "Authorization: Bearer $TOKEN")")
results+=("$(run runs '/api/runs?limit=10' "Authorization: Bearer $TOKEN")")
base=$(awk '{print $2}' <<<"${results[0]}")
printf '%-10s %12s %10s %10s %8s %8s\n' target "req/s" "p50" "p99" non-2xx "ratio"
for r in "${results[@]}"; do
  read -r name rps p50 p99 bad <<<"$r"
  printf '%-10s %12s %10s %10s %8s %8.2f\n' "$name" "$rps" "$p50" "$p99" "$bad" "$(awk -v a="$rps" -v b="$base" 'BEGIN {print a / b}')"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); node RSS after: $(awk '/VmRSS/ {print $2, $3}' /proc/$node/status)"
