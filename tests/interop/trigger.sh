#!/usr/bin/env bash
# Remote triggers across real nodes: unmodified rpc:call, erpc:call and rpc:block_call from OTP 25 Erlang and
# :rpc.call from Elixir 1.14 reach the gate of a workflow here and start a durable run; every error reply; a wrong
# cookie refused; a spoofed SourceNode and a node outside allowed_nodes refused with no run row; calls outside the
# allow-list answered as undefined functions; a C node triggering a real BEAM node (a stand-in of Cluster.Manager)
# and another C node through send_to_workflow; a peer that stops reading (dropped after net_ticktime) and one that calls
# without reading the answers (dropped at the output limit, through tests/interop/dist_tool.c); the node's own EPMD as
# seen by `epmd -names`.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
COOKIE=interop-cookie-$(openssl rand -hex 8)
EPORT=$(( 45000 + RANDOM % 900 ))
while ss -ltn 2>/dev/null | grep -q ":$EPORT "; do EPORT=$(( EPORT + 1 )); done
export ERL_EPMD_PORT=$EPORT ERL_EPMD_ADDRESS=127.0.0.1 SECRET_KEY_BASE=$(new_secret) LOG_LEVEL=info
export DATABASE_URL=$(db_create trig)
sql() { psql_url "$DATABASE_URL" -c "$1"; }
M="'Elixir.AlexClaw.Cluster.Manager'"
ERLOPTS=(-noshell -kernel inet_dist_use_interface '{127,0,0,1}')
cleanup_interop() {
  pkill -f "alexclaw epmd --port $EPORT" 2>/dev/null
  pkill -f "epmd -port $EPORT" 2>/dev/null
  pkill -f -- "-setcookie $COOKIE" 2>/dev/null
}
trap 'cleanup_interop; cleanup' EXIT
# erl_eval NAME EXPR: runs EXPR on a fresh node NAME@localhost with our cookie and prints its value
erl_eval() {
  local name=$1 expr=$2
  timeout 30 erl -sname "$name@localhost" -setcookie "$COOKIE" "${ERLOPTS[@]}" -eval "io:format(\"~p~n\", [$expr]), halt()." 2>&1
}

cat >"$T_DIR/wf.json" <<'JSON'
{"version": 1, "workflow": {"name": "gated"},
 "steps": [{"position": 1, "name": "gate", "skill": "receive_from_workflow", "config": {"allowed_nodes": ["e1@localhost", "elx@localhost", "cn2@localhost"]}}]}
JSON
cat >"$T_DIR/nogate.json" <<'JSON'
{"version": 1, "workflow": {"name": "nogate"}, "steps": [{"position": 1, "name": "x", "skill": "receive_from_workflow"}, {"position": 0, "name": "first", "skill": "telegram_notify"}]}
JSON
cat >"$T_DIR/2fa.json" <<'JSON'
{"version": 1, "workflow": {"name": "secret_wf", "metadata": {"requires_2fa": true}},
 "steps": [{"position": 1, "name": "gate", "skill": "receive_from_workflow", "config": {"allowed_nodes": ["e1@localhost"]}}]}
JSON
for f in wf nogate 2fa; do ALEXCLAW_DATA_DIR="$T_DIR/a" "$B" workflow import "$T_DIR/$f.json" >/dev/null 2>&1; done
sql "UPDATE workflows SET enabled = true"

# configuration refused before anything listens
for bad in "short-cookie" "alexclaw_default" "changeme"; do
  out=$(NODE_NAME=cn@localhost CLUSTER_COOKIE=$bad ALEXCLAW_DATA_DIR="$T_DIR/a" timeout 30 "$B" serve 2>&1); rc=$?
  check "cookie '$bad' refused" bash -c '[ "$0" = 1 ] && grep -q "CLUSTER_COOKIE is" <<<"$1"' "$rc" "$out"
done
out=$(NODE_NAME=cn@localhost ALEXCLAW_DATA_DIR="$T_DIR/a" timeout 30 env -u CLUSTER_COOKIE "$B" serve 2>&1)
check "no cookie with NODE_NAME: refused" grep -q "CLUSTER_COOKIE is required" <<<"$out"
out=$(NODE_NAME=cn@no-such-host.invalid CLUSTER_COOKIE="$COOKIE" ALEXCLAW_DATA_DIR="$T_DIR/a" timeout 30 "$B" serve 2>&1)
check "a NODE_NAME host that does not resolve to the listen address: refused" grep -q "does not resolve" <<<"$out"
out=$(NODE_NAME=cn@localhost DIST_BIND_ADDRESS=127.0.0.2 CLUSTER_COOKIE="$COOKIE" ALEXCLAW_DATA_DIR="$T_DIR/a" \
  timeout 30 "$B" serve 2>&1)
check "a NODE_NAME host that resolves, but not to DIST_BIND_ADDRESS: refused" \
  grep -q "binds 127.0.0.2, but localhost (the host part of NODE_NAME) does not resolve to it" <<<"$out"
out=$(NODE_NAME=bad-name CLUSTER_COOKIE="$COOKIE" ALEXCLAW_DATA_DIR="$T_DIR/a" timeout 30 "$B" serve 2>&1)
check "a malformed NODE_NAME: refused" grep -q "NODE_NAME must look like name@host" <<<"$out"

start_node "$T_DIR/cn.log" NODE_NAME=cn@localhost CLUSTER_COOKIE="$COOKIE" ALEXCLAW_DATA_DIR="$T_DIR/a" DIST_NET_TICKTIME=4 \
  CLUSTER_APPROVED_NODES="friend@localhost, ally@localhost"
cn=$LAST_PID
check "node ready" wait_log "$T_DIR/cn.log" "event=ready" 60
check "registered with an EPMD it started itself" wait_log "$T_DIR/cn.log" "event=epmd_registered name=cn" 20
check "epmd -names lists it" bash -c "epmd -port $EPORT -names | grep -q '^name cn at port'"
dport=$(epmd -port "$EPORT" -names | sed -n 's/^name cn at port \([0-9]*\)$/\1/p')
check "the distribution listener binds loopback by default (port $dport)" \
  bash -c '[ -n "$0" ] && [ "$(ss -Hltn "sport = :$0" | awk "{print \$4}")" = "127.0.0.1:$0" ]' "$dport"
out=$(NODE_NAME=cn@localhost CLUSTER_COOKIE="$COOKIE" ALEXCLAW_DATA_DIR="$T_DIR/other" timeout 30 "$B" serve 2>&1); rc=$?
check "a second live node with the same identity on this database: refused" \
  bash -c '[ "$0" = 1 ] && grep -q "another live node uses the identity cn@localhost" <<<"$1"' "$rc" "$out"
check "CLUSTER_APPROVED_NODES approved at start" \
  [ "$(sql "SELECT string_agg(name, ',' ORDER BY name) FROM cluster_nodes WHERE approved")" = "ally@localhost,friend@localhost" ]

out=$(erl_eval e1 "net_adm:ping(cn@localhost)")
check "net_adm:ping: pong" grep -q '^pong$' <<<"$out"
out=$(erl_eval e1 "rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"gated\">>, #{<<\"k\">> => [1,2.5,nil,true]}, <<\"e1@localhost\">>], 5000)")
check "rpc:call (unmodified, OTP 25): {ok,started}" grep -q '^{ok,started}$' <<<"$out"
out=$(erl_eval e1 "erpc:call(cn@localhost, $M, receive_workflow_data, [<<\"gated\">>, 7, <<\"e1@localhost\">>], 5000)")
check "erpc:call: {ok,started}" grep -q '^{ok,started}$' <<<"$out"
out=$(erl_eval e1 "rpc:block_call(cn@localhost, $M, receive_workflow_data, [<<\"gated\">>, <<\"text\">>, <<\"e1@localhost\">>], 5000)")
check "rpc:block_call: {ok,started}" grep -q '^{ok,started}$' <<<"$out"
out=$(timeout 40 elixir --sname elx@localhost --cookie "$COOKIE" --erl "-kernel inet_dist_use_interface {127,0,0,1}" \
  -e 'IO.inspect :rpc.call(:"cn@localhost", AlexClaw.Cluster.Manager, :receive_workflow_data, ["gated", %{a: nil, b: "x"}, "elx@localhost"], 5000)' 2>&1)
check "Elixir :rpc.call: {:ok, :started}" grep -q '^{:ok, :started}$' <<<"$out"
sleep 1
check "four runs recorded and completed" [ "$(sql "SELECT count(*) FROM workflow_runs WHERE status = 'completed'")" = 4 ]
check "the data arrived as JSON" [ "$(sql "SELECT result->'output' FROM workflow_runs ORDER BY id LIMIT 1")" = '{"k": [1, 2.5, null, true]}' ]
check "Elixir nil arrived as null" [ "$(sql "SELECT result->'output'->>'b' || coalesce(result->'output'->>'a', 'NULL') FROM workflow_runs ORDER BY id DESC LIMIT 1")" = "xNULL" ]
check "each run recorded its gate step" [ "$(sql "SELECT count(*) FROM skill_outcomes")" = 4 ]
check "each trigger was logged with the authenticated peer" [ "$(grep -c 'event=trigger peer=e1@localhost workflow=gated' "$T_DIR/cn.log")" = 3 ]
# a cast is fire-and-forget: connect first, and follow it with a call on the same connection (signals between two
# nodes stay ordered) so that the node does not halt before the cast has left
out=$(erl_eval e1 "begin pong = net_adm:ping(cn@localhost), true = rpc:cast(cn@localhost, $M, receive_workflow_data, [<<\"gated\">>, <<\"cast\">>, <<\"e1@localhost\">>]), rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"nope\">>, 1, <<\"e1@localhost\">>], 5000) end")
# the run row appears before its result: wait for the completed run, not just the row
for i in $(seq 100); do [ "$(sql "SELECT count(*) FROM workflow_runs WHERE result->>'output' = 'cast'")" = 1 ] && break; sleep 0.1; done
check "rpc:cast starts a run too" [ "$(sql "SELECT count(*) FROM workflow_runs WHERE result->>'output' = 'cast'")" = 1 ]

runs_before=$(sql "SELECT count(*) FROM workflow_runs")
out=$(erl_eval e1 "rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"nope\">>, 1, <<\"e1@localhost\">>], 5000)")
check "unknown workflow: {error,workflow_not_found}" grep -q '^{error,workflow_not_found}$' <<<"$out"
sql "UPDATE workflows SET enabled = false WHERE name = 'gated'"
out=$(erl_eval e1 "rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"gated\">>, 1, <<\"e1@localhost\">>], 5000)")
check "disabled workflow: {error,workflow_not_found}" grep -q '^{error,workflow_not_found}$' <<<"$out"
sql "UPDATE workflows SET enabled = true WHERE name = 'gated'"
out=$(erl_eval e1 "rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"nogate\">>, 1, <<\"e1@localhost\">>], 5000)")
check "first step is not the gate: {error,no_receive_gate}" grep -q '^{error,no_receive_gate}$' <<<"$out"
out=$(erl_eval e1 "rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"secret_wf\">>, 1, <<\"e1@localhost\">>], 5000)")
check "requires_2fa workflow: {error,requires_2fa}" grep -q '^{error,requires_2fa}$' <<<"$out"
out=$(erl_eval e1 "rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"gated\">>, 1, <<\"other@localhost\">>], 5000)")
check "spoofed SourceNode: refused" grep -q '^{error,{unauthorized_node,<<"other@localhost">>}}$' <<<"$out"
out=$(erl_eval e9 "rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"gated\">>, 1, <<\"e9@localhost\">>], 5000)")
check "node not in allowed_nodes: refused" grep -q '^{error,{unauthorized_node,<<"e9@localhost">>}}$' <<<"$out"
# a NUL would cut the name short in C ("gated"); text that is not UTF-8 the database would refuse
out=$(erl_eval e1 "[rpc:call(cn@localhost, $M, receive_workflow_data, Args, 5000) || Args <- [[<<\"gated\", 0, \"x\">>, 1, <<\"e1@localhost\">>], [<<\"gated\">>, 1, <<\"e1@localhost\", 0>>], [<<\"gated\", 255>>, 1, <<\"e1@localhost\">>]]]")
check "a name with a NUL byte or not in UTF-8: {error,badarg}" grep -q '^\[{error,badarg},{error,badarg},{error,badarg}\]$' <<<"$out"
check "no refused trigger created a run row" [ "$(sql "SELECT count(*) FROM workflow_runs")" = "$runs_before" ]
out=$(erl_eval e1 "rpc:call(cn@localhost, os, cmd, [\"id\"], 5000)")
check "anything else is an undefined function (rpc)" grep -q "^{badrpc,{'EXIT',{undef,\[{os,cmd,\[\"id\"\],\[\]}\]}}}$" <<<"$out"
out=$(erl_eval e1 "catch erpc:call(cn@localhost, erlang, halt, [], 5000)"); echo "  erpc answer: $out"
check "anything else is an undefined function (erpc)" grep -q "{exception,undef,\[{erlang,halt,\[\],\[\]}\]}" <<<"$out"
check "the node is still up" kill -0 "$cn"
out=$(timeout 30 erl -sname bad@localhost -setcookie wrong-cookie-0123456789 "${ERLOPTS[@]}" \
  -eval "io:format(\"~p~n\", [rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"gated\">>, 1, <<\"bad@localhost\">>], 5000)]), halt()." 2>&1)
check "wrong cookie: refused, nothing runs" grep -q '^{badrpc,nodedown}$' <<<"$out"
check "still no new run" [ "$(sql "SELECT count(*) FROM workflow_runs")" = "$runs_before" ]
check "peers are recorded in cluster_nodes, not approved" [ "$(sql "SELECT approved FROM cluster_nodes WHERE name = 'e1@localhost'")" = f ]

# A peer that stops reading (and answering) is dropped after net_ticktime, without stalling anyone else
timeout 60 erl -sname frozen@localhost -setcookie "$COOKIE" -kernel net_ticktime 4 "${ERLOPTS[@]}" \
  -eval "pong = net_adm:ping(cn@localhost), receive after 50000 -> ok end." >/dev/null 2>&1 &
frozen=$!
check "the soon-frozen peer connected" wait_log "$T_DIR/cn.log" "event=nodeup peer=frozen@localhost" 20
pkill -STOP -f "sname frozen@localhost" # the erl VM, not the timeout wrapper
t0=$(date +%s)
ok_calls=0
for i in 1 2 3; do
  out=$(erl_eval e1 "rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"gated\">>, $i, <<\"e1@localhost\">>], 5000)")
  grep -q '^{ok,started}$' <<<"$out" && ok_calls=$((ok_calls + 1))
done
check "other peers are served while one is frozen" [ "$ok_calls" = 3 ]
check "the frozen peer is dropped after net_ticktime" wait_log "$T_DIR/cn.log" "event=peer_silent peer=frozen@localhost" 20
echo "  dropped after $(( $(date +%s) - t0 ))s (DIST_NET_TICKTIME=4)"
pkill -9 -f "sname frozen@localhost" 2>/dev/null

# A peer that keeps calling but never reads the answers is dropped once the answers it was not sent pass 64 MiB
# (each call here has a 1 MiB argument, which the undef answer repeats); the node serves the others afterwards
out=$("$AC_DIST_TOOL" flood flood@localhost cn@localhost "$COOKIE" 512 2>&1); rc=$?
echo "  flood: $(tail -1 <<<"$out")"
check "a peer that does not read its answers is dropped (status $rc)" [ "$rc" = 3 ]
check "the node says why" wait_log "$T_DIR/cn.log" "event=peer_not_reading peer=flood@localhost" 10
out=$(erl_eval e1 "rpc:call(cn@localhost, os, cmd, [\"id\"], 5000)")
check "other peers are served after it" grep -q "^{badrpc,{'EXIT',{undef," <<<"$out"
check "the node is still up after the flood" kill -0 "$cn"

# C -> BEAM: a real erl node with a stand-in of Cluster.Manager
erlc -o "$T_DIR" "$AC_SOURCE_DIR/tests/interop/erl/Elixir.AlexClaw.Cluster.Manager.erl"
MANAGER_LOG="$T_DIR/manager.log" timeout 120 erl -sname beam@localhost -setcookie "$COOKIE" "${ERLOPTS[@]}" -pa "$T_DIR" \
  -eval "code:ensure_loaded($M), receive after 100000 -> ok end." >/dev/null 2>&1 &
beam=$!
sleep 2
cat >"$T_DIR/send.json" <<'JSON'
{"version": 1, "workflow": {"name": "sender"},
 "steps": [{"position": 1, "name": "gate", "skill": "receive_from_workflow"},
           {"position": 2, "name": "send", "skill": "send_to_workflow", "config": {"target_node": "beam@localhost", "target_workflow": "report"}}]}
JSON
ALEXCLAW_DATA_DIR="$T_DIR/a" "$B" workflow import "$T_DIR/send.json" >/dev/null 2>&1
sql "UPDATE workflows SET enabled = true WHERE name = 'sender'"
# the node's send_to_workflow runs on the node: trigger "sender" remotely, which then calls the BEAM node
sql "UPDATE workflow_steps SET config = '{\"allowed_nodes\": [\"e1@localhost\"]}' WHERE skill = 'receive_from_workflow' AND workflow_id = (SELECT id FROM workflows WHERE name = 'sender')"
out=$(erl_eval e1 "rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"sender\">>, #{<<\"n\">> => 1}, <<\"e1@localhost\">>], 5000)")
check "sender started" grep -q '^{ok,started}$' <<<"$out"
for i in $(seq 50); do [ -s "$T_DIR/manager.log" ] && break; sleep 0.2; done
check "the BEAM node received the call from the C node, with its name as the source" \
  grep -q '^report cn@localhost #{<<"n">> => 1}$' "$T_DIR/manager.log"
for i in $(seq 50); do [ "$(sql "SELECT status FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE w.name = 'sender'")" = completed ] && break; sleep 0.2; done
check "the sender run completed on_sent" [ "$(sql "SELECT step_results->'2'->>'branch' FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE w.name = 'sender'")" = on_sent ]
kill "$beam" 2>/dev/null

# A run that goes on after its gate: the intake records the row and the gate step, and holds the run until the
# worker that goes on holds it too; then only the worker does (one advisory lock holder), and nobody once it is over.
ALEXCLAW_DATA_DIR="$T_DIR/a" "$B" config set shell.enabled true >/dev/null 2>&1
ALEXCLAW_DATA_DIR="$T_DIR/a" "$B" config set shell.whitelist '["sleep"]' >/dev/null 2>&1
cat >"$T_DIR/slow.json" <<'JSON'
{"version": 1, "workflow": {"name": "slow"},
 "steps": [{"position": 1, "name": "gate", "skill": "receive_from_workflow", "config": {"allowed_nodes": ["e1@localhost"]}},
           {"position": 2, "name": "nap", "skill": "shell", "config": {"command": "sleep 3"}}]}
JSON
ALEXCLAW_DATA_DIR="$T_DIR/a" "$B" workflow import "$T_DIR/slow.json" >/dev/null 2>&1
sql "UPDATE workflows SET enabled = true WHERE name = 'slow'"
out=$(erl_eval e1 "rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"slow\">>, 7, <<\"e1@localhost\">>], 5000)")
check "slow started" grep -q '^{ok,started}$' <<<"$out"
slow_run() { sql "SELECT $1 FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE w.name = 'slow'"; }
run_holders() { sql "SELECT count(*) FROM pg_locks l, workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE w.name = 'slow' AND l.locktype = 'advisory' AND l.granted AND l.classid = x'41436c62'::bigint AND l.objid = r.id AND l.objsubid = 1"; }
check "it is running, its gate step recorded with the row" [ "$(slow_run "status || '|' || (step_results->'1'->>'branch')")" = "running|on_success" ]
for i in $(seq 30); do [ "$(run_holders)" = 1 ] && break; sleep 0.1; done
check "exactly one session holds it: the worker's (the intake let go)" [ "$(run_holders)" = 1 ]
check "recovery cannot take it while it runs" [ "$(sql "SELECT pg_try_advisory_xact_lock($((0x41436c6200000000)) + r.id) FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE w.name = 'slow'")" = f ]
for i in $(seq 60); do [ "$(slow_run status)" = completed ] && break; sleep 0.2; done
check "it completed after its second step" [ "$(slow_run "status || '|' || (step_results->'2'->>'branch')")" = "completed|on_success" ]
check "two skill_outcomes rows" [ "$(sql "SELECT count(*) FROM skill_outcomes o JOIN workflow_runs r ON r.id = o.workflow_run_id JOIN workflows w ON w.id = r.workflow_id WHERE w.name = 'slow'")" = 2 ]
check "nobody holds it once it is over" [ "$(run_holders)" = 0 ]

# Triggers arriving together are recorded together: 40 concurrent calls, 40 runs, every caller answered once.
max_before=$(sql "SELECT coalesce(max(id), 0) FROM workflow_runs")
out=$(erl_eval e1 "begin Self = self(), [spawn(fun() -> Self ! rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"gated\">>, N, <<\"e1@localhost\">>], 10000) end) || N <- lists:seq(1, 40)], lists:usort([receive R -> R after 15000 -> timeout end || _ <- lists:seq(1, 40)]) end")
check "40 concurrent triggers: all {ok,started}" grep -q '^\[{ok,started}\]$' <<<"$out"
check "40 runs recorded and completed, one per input" \
  [ "$(sql "SELECT count(DISTINCT result->'output') || '|' || count(*) FROM workflow_runs WHERE id > $max_before AND status = 'completed'")" = "40|40" ]

# C -> C: a second node triggers the first one's gated workflow
export DATABASE_URL2=$(db_create trig2)
DATABASE_URL=$DATABASE_URL2 ALEXCLAW_DATA_DIR="$T_DIR/b" "$B" workflow import "$T_DIR/send.json" >/dev/null 2>&1
psql_url "$DATABASE_URL2" -c "UPDATE workflows SET enabled = true" \
  -c "UPDATE workflow_steps SET config = '{\"target_node\": \"cn@localhost\", \"target_workflow\": \"gated\"}' WHERE skill = 'send_to_workflow'"
start_node "$T_DIR/cn2.log" NODE_NAME=cn2@localhost CLUSTER_COOKIE="$COOKIE" ALEXCLAW_DATA_DIR="$T_DIR/b" DATABASE_URL="$DATABASE_URL2"
cn2=$LAST_PID
check "second node ready" wait_log "$T_DIR/cn2.log" "event=ready" 60
before=$(sql "SELECT count(*) FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE w.name = 'gated'")
# (a CLI process has no distribution; the node does: trigger the second node's sender remotely)
out=$(erl_eval e1 "rpc:call(cn2@localhost, $M, receive_workflow_data, [<<\"sender\">>, #{<<\"from\">> => <<\"cn2\">>}, <<\"e1@localhost\">>], 5000)")
check "an empty allowed_nodes admits no unapproved node" grep -q '{error,{unauthorized_node' <<<"$out"
psql_url "$DATABASE_URL2" -c "UPDATE workflow_steps SET config = '{\"allowed_nodes\": [\"e1@localhost\"]}' WHERE skill = 'receive_from_workflow'"
out=$(erl_eval e1 "rpc:call(cn2@localhost, $M, receive_workflow_data, [<<\"sender\">>, #{<<\"from\">> => <<\"cn2\">>}, <<\"e1@localhost\">>], 5000)")
check "second node's sender started after allowing e1" grep -q '^{ok,started}$' <<<"$out"
for i in $(seq 50); do
  [ "$(sql "SELECT count(*) FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE w.name = 'gated'")" -gt "$before" ] && break
  sleep 0.2
done
check "C -> C: the first node ran its gated workflow for cn2" \
  [ "$(sql "SELECT result->'output'->>'from' FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE w.name = 'gated' ORDER BY r.id DESC LIMIT 1")" = cn2 ]
# approvals: an empty allowed_nodes admits exactly the approved nodes
sql "UPDATE workflow_steps SET config = '{}' WHERE workflow_id = (SELECT id FROM workflows WHERE name = 'gated')"
out=$(erl_eval e1 "rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"gated\">>, 1, <<\"e1@localhost\">>], 5000)")
check "empty allowed_nodes, e1 not approved: refused" grep -q '^{error,{unauthorized_node,<<"e1@localhost">>}}$' <<<"$out"
out=$(ALEXCLAW_DATA_DIR="$T_DIR/a" "$B" cluster approve e1@localhost 2>&1)
check "cluster approve" grep -q "e1@localhost: approved" <<<"$out"
check "cluster list shows it approved" grep -qP '^e1@localhost\t\w+\tyes\t' <<<"$(ALEXCLAW_DATA_DIR="$T_DIR/a" "$B" cluster list 2>/dev/null)"
sleep 11 # the node reloads approvals every 10 s
out=$(erl_eval e1 "rpc:call(cn@localhost, $M, receive_workflow_data, [<<\"gated\">>, 1, <<\"e1@localhost\">>], 5000)")
check "approved e1 is admitted by an empty allowed_nodes" grep -q '^{ok,started}$' <<<"$out"
ALEXCLAW_DATA_DIR="$T_DIR/a" "$B" cluster revoke e1@localhost >/dev/null 2>&1
check "cluster list after revoke" grep -qP '^e1@localhost\t\w+\tno\t' <<<"$(ALEXCLAW_DATA_DIR="$T_DIR/a" "$B" cluster list 2>/dev/null)"
ALEXCLAW_DATA_DIR="$T_DIR/a" "$B" cluster approve 'bad name' >/dev/null 2>&1
check "a malformed node name is refused" [ $? = 1 ]
stop_node "$cn2"
stop_node "$cn"
finish
