-- tests/bench/trigger/run.sql - pgbench script for bench_trigger.sh: the statements the node's executor sends for one
-- remote trigger of the one-step workflow "gated" (node/wf_pool.c, node/wf_exec.c), as bare SQL: load the workflow,
-- record the run row with its liveness lock and commit (the node answers {ok, started} here), record the gate step,
-- finish the run, unlock. Three commits. WID is replaced by the workflow's id.
SELECT id, name, description, enabled, schedule, metadata, default_provider, node FROM workflows WHERE name = 'gated';
SELECT id, position, name, skill, llm_tier, llm_model, prompt_template, config, input_from, routes FROM workflow_steps WHERE workflow_id = WID ORDER BY position, id;
BEGIN;
INSERT INTO workflow_runs (workflow_id, status, started_at, node) VALUES (WID, 'running', now() AT TIME ZONE 'utc', 'bench') RETURNING id \gset
SELECT pg_advisory_lock(4702721604067524608 + :id);
COMMIT;
WITH u AS (UPDATE workflow_runs SET step_results = step_results || '{"1": {"name": "gate", "skill": "receive_from_workflow", "branch": "on_success", "output": {"n": 1, "from": "client@localhost"}}}'::jsonb, updated_at = now() AT TIME ZONE 'utc' WHERE id = :id AND status = 'running' RETURNING id) INSERT INTO skill_outcomes (workflow_run_id, step_position, skill_name, duration_ms, output_snapshot, metadata) SELECT id, 1, 'receive_from_workflow', 0, '{"output": "{\"from\":\"client@localhost\",\"n\":1}"}'::jsonb, '{"branch": "on_success"}'::jsonb FROM u RETURNING 1;
UPDATE workflow_runs SET status = 'completed', completed_at = now() AT TIME ZONE 'utc', result = '{"output": {"n": 1, "from": "client@localhost"}}'::jsonb, error = NULL, updated_at = now() AT TIME ZONE 'utc' WHERE id = :id AND status = 'running';
SELECT pg_advisory_unlock(4702721604067524608 + :id);
