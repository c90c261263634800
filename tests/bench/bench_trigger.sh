#!/usr/bin/env bash
# Remote triggers (issue 4): rpc:call latency and throughput from one erl client, all on loopback, in one run, against
#   (a) a real BEAM node bsrv@localhost serving a trivial 'Elixir.AlexClaw.Cluster.Manager':receive_workflow_data/3
#       that answers {ok, started} (the protocol's floor here),
#   (b) our node's full trigger path: the gate of workflow "gated" and its durable run row ({ok, started} is sent once
#       the row is committed),
#   (c) our node answering a trivial call on its event loop without the database (erlang:node/0, which it answers as
#       an undefined function: our loop's floor),
#   (d) a bare durable INSERT of a run row into the same database (pgbench, 1 client and 20 clients),
#   (e) for the analysis only: the node's own SQL for one triggered run (trigger/run.sql: 1 statement, 1 commit, its
#       values as parameters), as pgbench (1 client and 20 clients),
#   (d') and (e') for the analysis only: (d) and (e) with 1 client when each statement follows an idle gap as long as
#       the (c) median, as the node's statement does when triggers come one after another (the database waits a
#       network round trip between them); pgbench -r's mean per statement, the gap itself not counted,
# sequentially (200 warm-up calls, then N timed calls in 5 rounds; each round ends with 3 s of (d), so that every
# round's ratio (b) / ((a) + (d)) compares figures measured one right after the other, and the goal row is the median
# of those ratios) and concurrently (3 client nodes x 20 processes), plus the idle VmRSS of our node and of the BEAM
# node. PostgreSQL is a private durable server (initdb defaults: fsync on,
# synchronous_commit on) on a Unix socket in a fresh /tmp directory, as in run.sh; everything this script starts is
# stopped and removed at exit.
#
# Reproduce: tests/bench/bench_trigger.sh [N [CALLS_PER_PROCESS]]   (defaults 2000 and 300; builds build/bench first)
# Environment: PGBENCH_SECONDS (default 10) per pgbench run; BENCH_ROUNDS (default 5) and ROUND_SECONDS (default 3)
# for the sequential rounds; ALEXCLAW_WORKERS is passed to the node (default 4).
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
N=${1:-2000}
PER=${2:-300}
PEERS=3
PROCS=20
PGSECS=${PGBENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-5}     # sequential rounds, each with its own (d)
ROUNDSECS=${ROUND_SECONDS:-3} # (d) per round
WORKERS=${ALEXCLAW_WORKERS:-4}

cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DAC_BENCH=ON -DAC_TESTS=OFF >/dev/null
cmake --build build/bench -j"$(nproc)" --target alexclaw >/dev/null
B=$src/build/bench/alexclaw

dir=$(mktemp -d /tmp/ac-bench-trig.XXXXXX); chmod 0755 "$dir"
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"

pg_started=0; cn=; bsrv=; client=; EPORT=
cleanup() {
  local p
  [ -n "$client" ] && kill "$client" 2>/dev/null && wait "$client" 2>/dev/null
  [ -n "$bsrv" ] && kill "$bsrv" 2>/dev/null && wait "$bsrv" 2>/dev/null
  if [ -n "$cn" ]; then kill -TERM "$cn" 2>/dev/null; wait "$cn" 2>/dev/null; fi
  # the EPMD daemon the node started for itself (detached): the process listening on our private port
  if [ -n "$EPORT" ]; then
    for p in $(ss -Hltnp "sport = :$EPORT" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
      grep -q epmd "/proc/$p/cmdline" 2>/dev/null && kill "$p" 2>/dev/null
    done
  fi
  [ "$pg_started" = 1 ] && as_pg "$bindir/pg_ctl" stop -m fast -D "$dir/data" >/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- PostgreSQL: private, durable, Unix socket only ---
as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth-local=trust >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
as_pg mkdir -m 0700 "$dir/sock"
as_pg "$bindir/pg_ctl" start -w -D "$dir/data" -l "$dir/pg.log" -o "-c listen_addresses='' -c unix_socket_directories=$dir/sock" >/dev/null
pg_started=1
psql() { command psql -X -q -At -v ON_ERROR_STOP=1 -h "$dir/sock" -U postgres "$@"; }
psql -d postgres -c "CREATE DATABASE bench"
pgver=$(psql -d bench -c "SHOW server_version"); fsync=$(psql -d bench -c "SHOW fsync"); sc=$(psql -d bench -c "SHOW synchronous_commit")

# --- our node, with the gated workflow ---
COOKIE=bench-cookie-$(openssl rand -hex 8)
EPORT=$(( 46000 + RANDOM % 900 ))
while ss -ltn 2>/dev/null | grep -q ":$EPORT "; do EPORT=$(( EPORT + 1 )); done
export ERL_EPMD_PORT=$EPORT ERL_EPMD_ADDRESS=127.0.0.1
export DATABASE_URL="postgresql://postgres@/bench?host=$dir/sock"
export SECRET_KEY_BASE=$(openssl rand -base64 48 | tr -d '\n')
export ALEXCLAW_DATA_DIR=$dir/node
mkdir -p "$dir/node" "$dir/ebin"
clients='"client@localhost"'
for i in $(seq $PEERS); do clients+=", \"bench_c$i@localhost\""; done
cat >"$dir/wf.json" <<JSON
{"version": 1, "workflow": {"name": "gated"},
 "steps": [{"position": 1, "name": "gate", "skill": "receive_from_workflow", "config": {"allowed_nodes": [$clients]}}]}
JSON
LOG_LEVEL=warn "$B" workflow import "$dir/wf.json" >/dev/null # also applies the migrations
LOG_LEVEL=warn "$B" workflow enable gated >/dev/null
wid=$(psql -d bench -c "SELECT id FROM workflows WHERE name = 'gated'")

# the node runs with the default LOG_LEVEL (info): 2 lines per trigger of this gate-only workflow (the call, the finished
# run), 1 per refused call, to a file
env PORT=0 NODE_NAME=cn@localhost CLUSTER_COOKIE="$COOKIE" ALEXCLAW_WORKERS="$WORKERS" "$B" serve >"$dir/cn.log" 2>&1 &
cn=$!
wait_for() { # wait_for SECONDS COMMAND...
  local i secs=$1; shift
  for ((i = 0; i < secs * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out waiting for: $*" >&2; tail -20 "$dir/cn.log" >&2; return 1
}
wait_for 60 grep -q "event=epmd_registered name=cn" "$dir/cn.log"

# --- the real BEAM node, and the client's module ---
erlc -o "$dir/ebin" "$src/tests/bench/trigger/Elixir.AlexClaw.Cluster.Manager.erl" "$src/tests/bench/trigger/bench_trigger.erl"
ERLOPTS=(-setcookie "$COOKIE" -noshell -kernel inet_dist_use_interface '{127,0,0,1}' -pa "$dir/ebin")
# the client nodes do not busy-wait for work, so they leave the 2 CPUs to the nodes measured (the BEAM node keeps
# the defaults: it is the baseline as deployed)
NOSPIN=(+sbwt none +sbwtdcpu none +sbwtdio none)
erl -sname bsrv@localhost "${ERLOPTS[@]}" -eval "code:ensure_loaded('Elixir.AlexClaw.Cluster.Manager')." >"$dir/bsrv.log" 2>&1 &
bsrv=$!
wait_for 30 bash -c "epmd -port $EPORT -names | grep -q '^name bsrv at port'"

# (d) in every sequential round: the bare durable INSERT of a run row, pgbench 1 client for a few seconds, its median
echo "INSERT INTO workflow_runs (workflow_id, status, started_at, node) VALUES ($wid, 'running', now(), 'bench');" >"$dir/insert.sql"
cat >"$dir/d_round.sh" <<SH
#!/bin/bash
rm -f "$dir"/pgb_round.*
"$bindir/pgbench" -n -M extended -h "$dir/sock" -U postgres -f "$dir/insert.sql" -c 1 -j 1 -T $ROUNDSECS \
  -l --log-prefix="$dir/pgb_round" bench >/dev/null 2>&1 || { echo 0; exit 0; }
cat "$dir"/pgb_round.* | awk '{print \$3}' | sort -n | awk '{v[NR] = \$1} END {m = int(NR * 0.5); if (m < NR * 0.5) m++; print v[m]}'
SH
chmod +x "$dir/d_round.sh"

echo "== remote triggers: $ROUNDS rounds of $((N / ROUNDS)) sequential calls per target after 200 warm-up calls (each" \
  "round followed by ${ROUNDSECS}s of (d)); $PEERS nodes x $PROCS processes x $PER calls concurrently"
BENCH_ROUNDS=$ROUNDS BENCH_D_ROUND="$dir/d_round.sh" erl -sname client@localhost "${ERLOPTS[@]}" "${NOSPIN[@]}" \
  -run bench_trigger main cn@localhost bsrv@localhost "$N" "$PEERS" "$PROCS" "$PER" "$cn" "$dir/ebin" >"$dir/client.out" 2>&1 &
client=$!
load0=$(cut -d' ' -f1-3 /proc/loadavg)
rc=0; wait "$client" || rc=$?; client=
if [ "$rc" != 0 ] || grep -q '^R error' "$dir/client.out"; then
  echo "the erl client failed (status $rc):" >&2; cat "$dir/client.out" >&2; tail -20 "$dir/cn.log" >&2; exit 1
fi
kill -0 "$cn" # our node is still up
bad=$(grep -cE 'level=(error|warn)' "$dir/cn.log" || true)

# --- (d) the bare durable INSERT of a run row, same database and table (insert.sql, written above) ---
cp "$src/tests/bench/trigger/run.sql" "$dir/run.sql"
# the values of run.sql's parameters: what the node sends for a trigger of "gated" from client@localhost
RUNVARS=(-D "wid=$wid" -D status=completed -D 'result={"output": {"n": 1, "from": "client@localhost"}}'
  -D 'step_results={"1": {"name": "gate", "skill": "receive_from_workflow", "branch": "on_success", "output": {"n": 1, "from": "client@localhost"}}}'
  -D node=bench -D pos=1 -D skill=receive_from_workflow -D duration=0
  -D 'snapshot={"output": "{\"from\":\"client@localhost\",\"n\":1}"}' -D 'metadata={"branch": "on_success"}')
pgb() { # pgb CLIENTS THREADS TAG SCRIPT [MODE]: prints "tps median_us p99_us mean_us"
  local out tps
  out=$("$bindir/pgbench" -n -M "${5:-extended}" "${RUNVARS[@]}" -h "$dir/sock" -U postgres -f "$4" -c "$1" -j "$2" -T "$PGSECS" \
        -l --log-prefix="$dir/pgb_$3" bench 2>&1)
  tps=$(sed -n 's/^tps = \([0-9]*\.[0-9]\).*/\1/p' <<<"$out" | head -1)
  [ -n "$tps" ] || { echo "$out" >&2; return 1; }
  # per-transaction log: client_id transaction_no latency_us script_no epoch us
  cat "$dir/pgb_$3".* | awk '{print $3}' | sort -n |
    awk -v tps="$tps" '{v[NR] = $1; s += $1} END {
      m = int(NR * 0.50); if (m < NR * 0.50) m++; p = int(NR * 0.99); if (p < NR * 0.99) p++;
      printf "%s %d %d %.1f\n", tps, v[m], v[p], s / NR }'
}
read -r d1_tps d1_med d1_p99 d1_mean < <(pgb 1 1 c1 "$dir/insert.sql")
read -r d20_tps d20_med d20_p99 d20_mean < <(pgb 20 2 c20 "$dir/insert.sql")
# (e), for the analysis: the node's own statements for one run (3 commits), as bare SQL
# (e) prepared, as the node prepares its statement
read -r e1_tps e1_med e1_p99 e1_mean < <(pgb 1 1 e1 "$dir/run.sql" prepared)
read -r e20_tps e20_med e20_p99 e20_mean < <(pgb 20 2 e20 "$dir/run.sql" prepared)
# (d') and (e'): 1 client, each statement after an idle gap of the (c) median; pgbench -r's mean latency of the
# statement line (the \sleep line is timed apart)
cgap=$(awk '$1 == "R" && $2 == "seq" && $3 == "c" {print $5}' "$dir/client.out")
pgb_gap() { # pgb_gap SCRIPT MODE: prints the statement's mean latency in us
  { echo "\\sleep $cgap us"; grep -v '^--' "$1"; } >"$1.gap"
  "$bindir/pgbench" -n -M "$2" "${RUNVARS[@]}" -h "$dir/sock" -U postgres -f "$1.gap" -c 1 -j 1 -T "$PGSECS" -r bench 2>&1 |
    awk '/^ +[0-9.]+ +[0-9]+ +(INSERT|WITH)/ {printf "%.1f\n", $1 * 1000}'
}
dg_mean=$(pgb_gap "$dir/insert.sql" extended)
eg_mean=$(pgb_gap "$dir/run.sql" prepared)
[ -n "$d1_tps" ] && [ -n "$d20_tps" ] && [ -n "$e1_tps" ] && [ -n "$e20_tps" ] && [ -n "$dg_mean" ] && [ -n "$eg_mean" ] ||
  { echo "pgbench failed" >&2; exit 1; }

load1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- summary ---
get() { awk -v m="$1" -v k="$2" -v f="$3" '$1 == "R" && $2 == m && $3 == k {print $f}' "$dir/client.out"; }
rss() { awk -v w="$1" -v f="$2" '$1 == "R" && $2 == "rss" && $3 == w {print $f}' "$dir/client.out"; }
echo
echo "machine: nproc $(nproc), $(free -g | awk '/^Mem:/ {print $2}') GiB; PostgreSQL $pgver (fsync $fsync, synchronous_commit $sc, Unix socket);" \
  "OTP $(cat "$(dirname "$(readlink -f "$(command -v erl)")")/../releases/"*/OTP_VERSION 2>/dev/null | head -1); ALEXCLAW_WORKERS=$WORKERS"
echo "load average (1, 5, 15 min) before the calls: $load0; after pgbench: $load1"
echo
printf '%-58s %8s %10s %10s %10s %10s\n' "sequential (1 process, $N calls)" calls "median us" "p99 us" "mean us" "calls/s"
for k in a b c; do
  case $k in a) what="(a) rpc:call real BEAM node, trivial";; b) what="(b) rpc:call our node, trigger (gate + run row)";;
             c) what="(c) rpc:call our node, trivial (loop floor)";; esac
  printf '%-58s %8s %10s %10s %10s %10s\n' "$what" "$(get seq $k 4)" "$(get seq $k 5)" "$(get seq $k 6)" "$(get seq $k 7)" "$(get seq $k 8)"
done
printf '%-58s %8s %10s %10s %10s %10s\n' "(d) INSERT run row, pgbench 1 client, ${PGSECS}s" "-" "$d1_med" "$d1_p99" "$d1_mean" "$d1_tps"
printf '%-58s %8s %10s %10s %10s %10s\n' "(e) a run's SQL (run.sql, 1 commit), pgbench 1 client" "-" "$e1_med" "$e1_p99" "$e1_mean" "$e1_tps"
printf '%-58s %8s %10s %10s %10s %10s\n' "(d') (d) after an idle gap of ${cgap} us, mean of the INSERT" "-" "-" "-" "$dg_mean" "-"
printf '%-58s %8s %10s %10s %10s %10s\n' "(e') (e) after an idle gap of ${cgap} us, mean of the statement" "-" "-" "-" "$eg_mean" "-"
echo
printf '%-58s %8s %10s %10s %10s %10s\n' "concurrent ($PEERS nodes x $PROCS processes)" calls "median us" "p99 us" "mean us" "calls/s"
for k in a b c; do
  case $k in a) what="(a) real BEAM node, trivial";; b) what="(b) our node, trigger";; c) what="(c) our node, trivial";; esac
  printf '%-58s %8s %10s %10s %10s %10s\n' "$what" "$(get conc $k 4)" "$(get conc $k 5)" "$(get conc $k 6)" "$(get conc $k 7)" "$(get conc $k 8)"
done
printf '%-58s %8s %10s %10s %10s %10s\n' "(d) INSERT run row, pgbench 20 clients -j 2, ${PGSECS}s" "-" "$d20_med" "$d20_p99" "$d20_mean" "$d20_tps"
printf '%-58s %8s %10s %10s %10s %10s\n' "(e) a run's SQL (run.sql, 1 commit), pgbench 20 clients" "-" "$e20_med" "$e20_p99" "$e20_mean" "$e20_tps"
echo
printf '%-58s %10s %10s\n' "idle VmRSS (kB)" "our node" "BEAM node"
printf '%-58s %10s %10s\n' "after warm-up" "$(rss idle_after_warmup 4)" "$(rss idle_after_warmup 5)"
printf '%-58s %10s %10s\n' "after the benchmark" "$(rss idle_after_benchmark 4)" "$(rss idle_after_benchmark 5)"
echo
printf '%-58s %10s %10s %10s %10s %10s\n' "sequential rounds, medians (us)" "(a)" "(b)" "(c)" "(d)" "(b)/((a)+(d))"
rr=()
for i in $(seq "$ROUNDS"); do
  ra=$(awk -v i="$i" '$1 == "R" && $2 == "seqround" && $3 == i && $4 == "a" {print $6}' "$dir/client.out")
  rb=$(awk -v i="$i" '$1 == "R" && $2 == "seqround" && $3 == i && $4 == "b" {print $6}' "$dir/client.out")
  rcm=$(awk -v i="$i" '$1 == "R" && $2 == "seqround" && $3 == i && $4 == "c" {print $6}' "$dir/client.out")
  rd=$(awk -v i="$i" '$1 == "R" && $2 == "seqround" && $3 == i && $4 == "d" {print $5}' "$dir/client.out")
  case $rd in '' | 0 | *[!0-9]*) echo "round $i: (d) did not run (pgbench failed?): '$rd'" >&2; exit 1;; esac
  r=$(awk -v b="$rb" -v a="$ra" -v d="$rd" 'BEGIN {printf "%.2f", (a + d > 0) ? b / (a + d) : 0}')
  rr+=("$r")
  printf '%-58s %10s %10s %10s %10s %10s\n' "round $i" "$ra" "$rb" "$rcm" "$rd" "$r"
done
r_rounds=$(printf '%s\n' "${rr[@]}" | sort -n |
  awk '{v[NR] = $1} END {printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
echo
am=$(get seq a 5); bm=$(get seq b 5); cm=$(get seq c 5); bt=$(get conc b 8)
r_ca=$(awk -v c="$cm" -v a="$am" 'BEGIN {printf "%.2f", c / a}')
r_bad=$(awk -v b="$bm" -v a="$am" -v d="$d1_med" 'BEGIN {printf "%.2f", b / (a + d)}')
r_conc=$(awk -v b="$bt" -v d="$d20_tps" 'BEGIN {printf "%.2f", b / d}')
r_rss=$(awk -v o="$(rss idle_after_warmup 4)" -v e="$(rss idle_after_warmup 5)" 'BEGIN {printf "%.3f", o / e}')
verdict() { awk -v r="$1" -v g="$2" -v op="$3" 'BEGIN {print ((op == "le" ? r <= g : r >= g) ? "met" : "MISSED")}'; }
printf '%-72s %8s %6s %s\n' "ratio" value goal ""
printf '%-72s %8s %6s %s\n' "(c)/(a) median ($cm / $am us)" "$r_ca" "<= 1" "$(verdict "$r_ca" 1 le)"
printf '%-72s %8s %6s %s\n' "(b)/((a)+(d 1 client)), median of the $ROUNDS rounds' ratios" "$r_rounds" "<= 1.2" "$(verdict "$r_rounds" 1.2 le)"

printf '%-72s %8s %6s %s\n' "concurrent (b) calls/s / (d) 20-client tps ($bt / $d20_tps)" "$r_conc" ">= 0.8" "$(verdict "$r_conc" 0.8 ge)"
printf '%-72s %8s %6s %s\n' "idle VmRSS ours / BEAM (after warm-up)" "$r_rss" "< 1" "$(verdict "$r_rss" 1 le)"
printf '%-72s %8s\n' "(analysis) (b)/((a)+(d)) single shot: all calls, (d) ${PGSECS}s after ($bm / ($am + $d1_med))" "$r_bad"
printf '%-72s %8s\n' "(analysis) concurrent (b) calls/s / (e) 20-client runs/s ($bt / $e20_tps)" \
  "$(awk -v b="$bt" -v e="$e20_tps" 'BEGIN {printf "%.2f", b / e}')"
printf '%-72s %8s\n' "(analysis) (b) median / ((a) median + (d') mean) ($bm / ($am + $dg_mean) us)" \
  "$(awk -v b="$bm" -v a="$am" -v d="$dg_mean" 'BEGIN {printf "%.2f", b / (a + d)}')"
printf '%-72s %8s\n' "(analysis) (b) median / ((c) median + (e') mean) ($bm / ($cm + $eg_mean) us)" \
  "$(awk -v b="$bm" -v c="$cm" -v e="$eg_mean" 'BEGIN {printf "%.2f", b / (c + e)}')"
echo
echo "runs recorded by the node: $(psql -d bench -c "SELECT count(*) FROM workflow_runs WHERE node = 'cn@localhost'")" \
  "($(psql -d bench -c "SELECT count(*) FROM workflow_runs WHERE node = 'cn@localhost' AND status = 'completed'") completed);" \
  "warn/error lines in the node's log: $bad"
