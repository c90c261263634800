#!/usr/bin/env bash
# Workflows inside a running node: a run whose process was killed (kill -9) mid-run is marked failed with a clear
# reason when its node starts again; the node's scheduler starts a cron workflow on the minute through the executor
# pool; `workflow cancel` from another process stops that run, killing its shell command's process group.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
# no NODE_NAME: the CLI and the node share the default identity alexclaw@<hostname> (and no distribution starts)
export DATABASE_URL=$(db_create serve) SECRET_KEY_BASE=$(new_secret) ALEXCLAW_DATA_DIR="$T_DIR/n" LOG_LEVEL=info
ME="alexclaw@$(hostname)"
sql() { psql_url "$DATABASE_URL" -c "$1"; }
"$B" config set shell.enabled true 2>/dev/null
"$B" config set shell.whitelist '["sleep","date"]' 2>/dev/null
cat >"$T_DIR/sleep.json" <<'JSON'
{"version": 1, "workflow": {"name": "sleeper"},
 "steps": [{"position": 1, "name": "nap", "skill": "shell", "config": {"command": "sleep 47", "timeout_ms": 120000}}]}
JSON
"$B" workflow import "$T_DIR/sleep.json" >/dev/null 2>&1
sql "UPDATE workflows SET enabled = true"
"$B" config set shell.timeout_seconds 100 2>/dev/null

# --- crash recovery ---
"$B" workflow run sleeper >"$T_DIR/cli.log" 2>&1 &
cli=$!
for i in $(seq 100); do [ "$(sql "SELECT count(*) FROM workflow_runs WHERE status = 'running'")" = 1 ] && break; sleep 0.1; done
check "the CLI run is recorded as running" [ "$(sql "SELECT count(*) FROM workflow_runs WHERE status = 'running'")" = 1 ]
sleep 0.5
kill -9 "$cli"; wait "$cli" 2>/dev/null
check "after kill -9 the run is still marked running" [ "$(sql "SELECT status FROM workflow_runs")" = running ]
for i in $(seq 50); do pgrep -f "sleep 47" >/dev/null || break; sleep 0.1; done
check "its shell command died with it (parent-death signal)" not pgrep -f "sleep 47"

sql "UPDATE workflows SET schedule = '* * * * *'"
start_node "$T_DIR/node.log"; node=$LAST_PID
check "node ready" wait_log "$T_DIR/node.log" "event=ready" 60
check "the node recovered the interrupted run" grep -q "event=run_recovered run=1 status=failed" "$T_DIR/node.log"
check "the run is failed with a clear reason, never dangling" \
  [ "$(sql "SELECT status || '|' || error FROM workflow_runs WHERE id = 1")" = "failed|interrupted: the process running it on node $ME stopped (crash or kill) before the run finished" ]

# --- the scheduler and the pool ---
check "the scheduler starts it on the minute" wait_log "$T_DIR/node.log" "module=scheduler event=due workflow=sleeper" 75
for i in $(seq 100); do [ "$(sql "SELECT count(*) FROM workflow_runs WHERE status = 'running'")" = 1 ] && break; sleep 0.1; done
run=$(sql "SELECT id FROM workflow_runs WHERE status = 'running'")
check "the scheduled run is running on this node" [ "$(sql "SELECT node FROM workflow_runs WHERE id = ${run:-0}")" = "$ME" ]
check "claimed once for that minute" [ "$(sql "SELECT count(*) FROM workflow_schedule_claims")" = 1 ]
sql "UPDATE workflows SET schedule = NULL"
for i in $(seq 50); do pgrep -f "sleep 47" >/dev/null && break; sleep 0.1; done
check "its shell command runs" pgrep -f "sleep 47"

# --- cancel from another process ---
t0=$(date +%s%3N)
out=$("$B" workflow cancel "$run" 2>&1)
check "cancel answers" grep -q "cancelled run $run" <<<"$out"
check "the node hears the cancellation" wait_log "$T_DIR/node.log" "event=cancel_requested run=$run" 10
for i in $(seq 100); do pgrep -f "sleep 47" >/dev/null || break; sleep 0.1; done
check "the shell command is killed" not pgrep -f "sleep 47"
echo "  cancel to kill: $(( $(date +%s%3N) - t0 )) ms"
check "the run stays cancelled" [ "$(sql "SELECT status FROM workflow_runs WHERE id = $run")" = cancelled ]
check "the node finished the run as cancelled" wait_log "$T_DIR/node.log" "event=run_finished run=$run workflow=sleeper status=cancelled" 10
stop_node "$node"
finish
