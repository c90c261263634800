#!/usr/bin/env bash
# `alexclaw audit verify|list|prune` and `alexclaw policy ...` against a real database: an empty chain verifies, a
# row forged with SQL (no key) is found and the command exits 1 without printing any secret; policy rules are
# validated when added, listed, disabled and removed; usage errors exit 2.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
export DATABASE_URL=$(db_create audit) SECRET_KEY_BASE=$(new_secret) ALEXCLAW_DATA_DIR="$T_DIR/n" LOG_LEVEL=warn
out=$("$B" audit verify 2>&1); rc=$?
check "an empty chain verifies" [ "$rc" = 0 ]
check "and says so" grep -q "^ok: 0 rows" <<<"$out"
out=$("$B" audit prune 2>&1); rc=$?
check "prune with nothing to prune" [ "$rc" = 0 ]
check "says none" grep -q "pruned 0 rows" <<<"$out"
psql_url "$DATABASE_URL" -c "INSERT INTO auth_audit_log (caller, caller_type, permission, decision, inserted_at, last_at, prev_hash, hash) VALUES ('dynamic:x', 'dynamic', 'llm', 'allow', now(), now(), '\\x00', '\\x00')"
out=$("$B" audit verify 2>&1); rc=$?
check "a row forged with SQL breaks the chain (exit 1)" [ "$rc" = 1 ]
check "and the report says what" grep -q "^BROKEN: the chain.s first row is missing" <<<"$out"
check "no secret in the output" not grep -qF "$SECRET_KEY_BASE" <<<"$out"
out=$("$B" audit list 2>&1); rc=$?
check "list shows the rows" [ "$rc" = 0 ]
check "with the forged one" grep -q "dynamic:x" <<<"$out"
"$B" audit frobnicate >/dev/null 2>&1; rc=$?
check "a usage error exits 2" [ "$rc" = 2 ]

out=$("$B" policy add nightly time_window '{"deny_start_hour": 0, "deny_end_hour": 6}' --priority 5 2>&1); rc=$?
check "a valid rule is added" [ "$rc" = 0 ]
id=$(grep -oE '[0-9]+$' <<<"$out")
out=$("$B" policy add broken rate_limit '{"max_calls": "ten"}' 2>&1); rc=$?
check "an invalid rule is refused" [ "$rc" = 1 ]
check "saying which field" grep -q "max_calls: must be an integer" <<<"$out"
out=$("$B" policy add odd mcp_restriction '{}' 2>&1); rc=$?
check "an unknown rule type is refused" [ "$rc" = 1 ]
out=$("$B" policy list 2>&1)
check "list shows the rule" grep -qE "^$id	nightly	time_window	true	5	" <<<"$out"
check "and only it" [ "$(grep -c . <<<"$out")" = 2 ]
"$B" policy disable "$id" >/dev/null 2>&1
check "disable" [ "$(psql_url "$DATABASE_URL" -c "SELECT enabled FROM auth_policies WHERE id = $id")" = f ]
"$B" policy remove "$id" >/dev/null 2>&1
check "remove" [ "$(psql_url "$DATABASE_URL" -c "SELECT count(*) FROM auth_policies")" = 0 ]
"$B" policy remove "$id" >/dev/null 2>&1; rc=$?
check "removing it again fails" [ "$rc" = 1 ]
finish
