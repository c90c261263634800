#!/usr/bin/env bash
# The workflow command line end to end: import (file and stdin), export, list, show, run (exit status follows the
# run), runs, cancel; requires_2fa and disabled workflows refused; an export of the original AlexClaw imports with
# every field kept.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
export DATABASE_URL=$(db_create wf) SECRET_KEY_BASE=$(new_secret) ALEXCLAW_DATA_DIR="$T_DIR/n" LOG_LEVEL=warn
sql() { psql_url "$DATABASE_URL" -c "$1"; }

out=$("$B" workflow import "$AC_SOURCE_DIR/tests/integration/data/original_export.json" 2>&1); rc=$?
check "import a file: exit 0" [ "$rc" = 0 ]
check "import says the name and that it is disabled" grep -q "imported Full Export Test (id [0-9]*, disabled)" <<<"$out"
check "import lists its warnings" grep -q "warning: Resource 'Tech Feed' created" <<<"$out"
"$B" workflow export "Full Export Test" >"$T_DIR/export.json" 2>/dev/null
check "export is the original's document (enabled aside)" python3 - "$T_DIR/export.json" \
  "$AC_SOURCE_DIR/tests/integration/data/original_export.json" <<'PY'
import json, sys
ours, theirs = (json.load(open(p)) for p in sys.argv[1:3])
theirs["workflow"]["enabled"] = False
sys.exit(0 if ours == theirs else 1)
PY
out=$("$B" workflow import - <"$T_DIR/export.json" 2>&1)
check "import from stdin, with a free name" grep -q "imported Full Export Test (imported 1)" <<<"$out"
out=$("$B" workflow import "$T_DIR/nope.json" 2>&1); rc=$?
check "import of a missing file: exit 1" [ "$rc" = 1 ]
out=$(echo '{"version": 3}' | "$B" workflow import - 2>&1); rc=$?
check "import of a bad document: exit 1 with the reason" \
  bash -c '[ "$0" = 1 ] && grep -q "Unsupported or missing version (expected 1, got 3)" <<<"$1"' "$rc" "$out"

cat >"$T_DIR/gate.json" <<'JSON'
{"version": 1, "workflow": {"name": "cli_ok"},
 "steps": [{"position": 1, "name": "gate", "skill": "receive_from_workflow"}]}
JSON
cat >"$T_DIR/send.json" <<'JSON'
{"version": 1, "workflow": {"name": "cli_fail"},
 "steps": [{"position": 1, "name": "send", "skill": "send_to_workflow",
            "config": {"target_node": "other@localhost", "target_workflow": "x"}}]}
JSON
cat >"$T_DIR/2fa.json" <<'JSON'
{"version": 1, "workflow": {"name": "cli_2fa", "metadata": {"requires_2fa": true}},
 "steps": [{"position": 1, "name": "gate", "skill": "receive_from_workflow"}]}
JSON
for f in gate send 2fa; do "$B" workflow import "$T_DIR/$f.json" >/dev/null 2>&1; done

out=$("$B" workflow run cli_ok --input '"hello"' 2>&1); rc=$?
check "a disabled workflow is not run" [ "$rc" = 1 ]
check "and says so" grep -q "cli_ok is disabled" <<<"$out"
for w in cli_ok cli_fail cli_2fa; do "$B" workflow enable "$w" >/dev/null 2>&1; done
check "enable turns it on" [ "$(sql "SELECT count(*) FROM workflows WHERE enabled")" = 3 ]
out=$("$B" workflow schedule cli_ok '*/15 * * * *' 2>&1)
check "schedule sets a valid cron expression" [ "$(sql "SELECT schedule FROM workflows WHERE name = 'cli_ok'")" = '*/15 * * * *' ]
out=$("$B" workflow schedule cli_ok '61 * * * *' 2>&1); rc=$?
check "an invalid schedule is refused with the reason" bash -c '[ "$0" = 1 ] && grep -q "invalid schedule: minute" <<<"$1"' "$rc" "$out"
check "and changes nothing" [ "$(sql "SELECT schedule FROM workflows WHERE name = 'cli_ok'")" = '*/15 * * * *' ]
"$B" workflow schedule cli_ok none >/dev/null 2>&1
check "schedule none removes it" [ "$(sql "SELECT coalesce(schedule, 'NULL') FROM workflows WHERE name = 'cli_ok'")" = NULL ]
out=$("$B" workflow enable nope 2>&1); rc=$?
check "enable of an unknown workflow: exit 1" [ "$rc" = 1 ]
out=$("$B" workflow run cli_ok --input '"hello"' 2>&1); rc=$?
check "run completes: exit 0" [ "$rc" = 0 ]
check "run prints the result" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["status"]=="completed" and d["result"]["output"]=="hello" else 1)' "$out"
check "run is recorded as completed by this node" \
  [ "$(sql "SELECT r.status || '|' || r.node FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE w.name = 'cli_ok'")" = "completed|alexclaw@$(hostname)" ]
out=$("$B" workflow run cli_ok 2>&1); rc=$?
check "a gate without input fails: exit 1" [ "$rc" = 1 ]
check "with the original's reason" grep -q '"error": "no_input_received"' <<<"$out"
out=$("$B" workflow run cli_fail 2>&1); rc=$?
check "send_to_workflow without distribution: exit 1" [ "$rc" = 1 ]
check "with rpc_failed" grep -q 'rpc_failed: distribution is not running on this node' <<<"$out"
out=$("$B" workflow run cli_2fa --input '1' 2>&1); rc=$?
check "a requires_2fa workflow is refused by the CLI" [ "$rc" = 1 ]
check "and says why" grep -q "requires 2FA" <<<"$out"
check "and no run row was created" \
  [ "$(sql "SELECT count(*) FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE w.name = 'cli_2fa'")" = 0 ]
out=$("$B" workflow run no_such_workflow 2>&1); rc=$?
check "an unknown workflow: exit 1" [ "$rc" = 1 ]

out=$("$B" workflow list 2>/dev/null)
check "list shows the workflows with their flags" grep -qP '^\d+\tcli_2fa\tyes\t\t\t1\ttrue$' <<<"$out"
out=$("$B" workflow runs cli_ok 2>/dev/null)
check "runs lists the runs of a workflow" [ "$(grep -c $'\tcli_ok\t' <<<"$out")" = 2 ]
out=$("$B" workflow cancel 999999 2>&1); rc=$?
check "cancel of an unknown run: exit 1" bash -c '[ "$0" = 1 ] && grep -q "no run 999999" <<<"$1"' "$rc" "$out"
done_run=$(sql "SELECT max(id) FROM workflow_runs")
out=$("$B" workflow cancel "$done_run" 2>&1); rc=$?
check "cancel of a finished run: exit 1, says its status" bash -c '[ "$0" = 1 ] && grep -q "is failed, not running" <<<"$1"' "$rc" "$out"
"$B" workflow frobnicate >/dev/null 2>&1; check "unknown subcommand: usage (2)" [ $? = 2 ]
"$B" workflow run cli_ok --input '{bad' >/dev/null 2>&1; check "bad --input JSON: usage (2)" [ $? = 2 ]
finish
