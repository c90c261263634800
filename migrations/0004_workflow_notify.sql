-- The trigger intake (node/wf_intake.c) caches workflows by name. Every change to a workflow or its steps, from any
-- node, the CLI or psql, tells every node sharing this database to drop that cache. One notification per
-- transaction (PostgreSQL folds identical ones).
CREATE FUNCTION alexclaw_workflows_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('alexclaw_workflows', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER workflows_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workflows
    FOR EACH STATEMENT EXECUTE FUNCTION alexclaw_workflows_notify();
CREATE TRIGGER workflow_steps_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workflow_steps
    FOR EACH STATEMENT EXECUTE FUNCTION alexclaw_workflows_notify();
