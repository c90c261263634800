-- The audit log's run id as wide as workflow_runs.id (bigint), and no NULL where the chain reads 0: a NULL and a 0
-- would hash the same (node/audit.c reads coalesce(..., 0)).
ALTER TABLE auth_audit_log ALTER COLUMN workflow_run_id TYPE bigint;
UPDATE auth_audit_log SET chain_depth = 0 WHERE chain_depth IS NULL;
ALTER TABLE auth_audit_log ALTER COLUMN chain_depth SET NOT NULL;
