#!/usr/bin/env bash
# Migrations through the binary: a failing migration is rolled back whole, earlier ones stay applied and recorded,
# migrate exits 1 and serve refuses to start, both naming it; once fixed, it applies. Parallel runs never race.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
export DATABASE_URL=$(db_create mig) SECRET_KEY_BASE=$(new_secret) ALEXCLAW_DATA_DIR="$T_DIR/n"
M="$T_DIR/migrations"; mkdir -p "$M"
cp "$AC_SOURCE_DIR"/migrations/*.sql "$M/"
last=$(ls "$M" | tail -1); next=$(( 10#${last:0:4} + 1 ))
good=$(printf '%04d_extra_good.sql' "$next"); bad=$(printf '%04d_extra_bad.sql' $((next + 1)))
echo "CREATE TABLE extra_good (id int);" >"$M/$good"
echo "CREATE TABLE extra_bad (id int); INSERT INTO no_such_table VALUES (1);" >"$M/$bad"
tables() { psql_url "$DATABASE_URL" -c "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE tablename LIKE 'extra_%'"; }

out=$(ALEXCLAW_MIGRATIONS_DIR="$M" "$B" migrate 2>&1); rc=$?
check "failing migration: exit 1" [ "$rc" = 1 ]
check "failing migration: named, with the cause" grep -q "migration ${bad%.sql} failed: sql: relation .*no_such_table.* does not exist (at character 46)" <<<"$out"
check "earlier migrations applied" [ "$(tables)" = "extra_good" ]
check "earlier migrations recorded, the failing one not" \
  [ "$(psql_url "$DATABASE_URL" -c "SELECT max(version) FROM alexclaw_schema_migrations")" = "$next" ]

start_node "$T_DIR/serve.log" ALEXCLAW_MIGRATIONS_DIR="$M"
wait "$LAST_PID"; rc=$?
check "serve refuses to start: exit 1" [ "$rc" = 1 ]
check "serve names the migration" grep -q "event=fatal error=\"migration ${bad%.sql} failed" "$T_DIR/serve.log"
check "serve never became ready" bash -c "! grep -q event=ready '$T_DIR/serve.log'"

echo "CREATE TABLE extra_bad (id int);" >"$M/$bad"
out=$(ALEXCLAW_MIGRATIONS_DIR="$M" "$B" migrate 2>&1); rc=$?
check "fixed migration applies" [ "$rc" = 0 ]
check "both tables now" [ "$(tables)" = "extra_bad,extra_good" ]
out=$(ALEXCLAW_MIGRATIONS_DIR="$M" "$B" migrate 2>&1)
check "running again applies nothing" grep -q "event=done applied=0" <<<"$out"

echo "CREATE TABLE extra_good (id bigint);" >"$M/$good"
out=$(ALEXCLAW_MIGRATIONS_DIR="$M" "$B" migrate 2>&1); rc=$?
check "an applied migration edited afterwards is refused" [ "$rc" = 1 ]
check "and named" grep -q "migration ${good%.sql} was changed after it was applied" <<<"$out"

# Four processes migrate one fresh database at once
export DATABASE_URL=$(db_create race)
for i in 1 2 3 4; do "$B" migrate >"$T_DIR/race$i.log" 2>&1 & done
rcs=0; for i in 1 2 3 4; do wait %$i || rcs=1; done
check "parallel migrate: all succeed" [ "$rcs" = 0 ]
total=$(cat "$T_DIR"/race*.log | sed -nE 's/.*event=done applied=([0-9]+).*/\1/p' | awk '{ s += $1 } END { print s }')
check "parallel migrate: each migration applied exactly once" \
  [ "$total" = "$(ls "$AC_SOURCE_DIR"/migrations/*.sql | wc -l)" ]
finish
