-- tests/bench/trigger/run.sql - pgbench script for bench_trigger.sh: what the node sends to the database for one
-- remote trigger of the one-step workflow "gated" that arrives alone (node/wf_intake.c, one_sql): the workflow comes
-- from the intake's cache, so this one statement is all -- the run row, the gate step's record and skill_outcomes
-- row, and the outcome (the gate ends this run); one commit, and the node answers {ok, started} after it. Triggers
-- that arrive together share one statement of the same shape (group_sql). The values come as parameters, as the node
-- sends them (pgbench -M prepared turns each :variable into one; bench_trigger.sh sets them with -D), so the server
-- parses the JSON and plans as it does for the node: literals would be folded into the prepared plan once.
WITH ins AS (INSERT INTO workflow_runs (workflow_id, status, started_at, completed_at, result, error, step_results, node) SELECT :wid::bigint, :status::text, now() AT TIME ZONE 'utc', CASE WHEN :status::text <> 'running' THEN now() AT TIME ZONE 'utc' END, coalesce(:result::jsonb, '{}'), NULL::text, :step_results::jsonb, :node::text FROM workflows WHERE id = :wid::bigint RETURNING id), o AS (INSERT INTO skill_outcomes (workflow_run_id, step_position, skill_name, duration_ms, output_snapshot, metadata) SELECT id, :pos::integer, :skill::text, :duration::integer, :snapshot::jsonb, :metadata::jsonb FROM ins RETURNING workflow_run_id) SELECT 0, id, CASE WHEN :status::text = 'running' THEN pg_advisory_lock_shared(:lock_base::bigint + id) END FROM ins WHERE (SELECT count(*) FROM o) >= 0;
