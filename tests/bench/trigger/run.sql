-- tests/bench/trigger/run.sql - pgbench script for bench_trigger.sh: what the node sends to the database for one
-- remote trigger of the one-step workflow "gated" that arrives alone (node/wf_intake.c, end_sql: its gate ends the
-- run, so no liveness lock is taken): the workflow comes from the intake's cache, so this one statement is all -- the
-- run row with the gate step's record and the outcome, and the gate's skill_outcomes row; one commit, and the node
-- answers {ok, started} after it. Triggers that arrive together share one statement of another shape (group_sql).
-- The values come as parameters, as the node sends them (pgbench -M prepared turns each :variable into one;
-- bench_trigger.sh sets them with -D), so the server parses the JSON and plans as it does for the node: literals
-- would be folded into the prepared plan once.
WITH ins AS (INSERT INTO workflow_runs (workflow_id, status, started_at, completed_at, result, error, step_results, node) VALUES (:wid::bigint, :status::text, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc', coalesce(:result::jsonb, '{}'), NULL::text, :step_results::jsonb, :node::text) RETURNING id) INSERT INTO skill_outcomes (workflow_run_id, step_position, skill_name, duration_ms, output_snapshot, metadata) SELECT id, :pos::integer, :skill::text, :duration::integer, :snapshot::jsonb, :metadata::jsonb FROM ins RETURNING 0, workflow_run_id;
