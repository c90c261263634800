-- Workflows, their steps and runs, per-step outcomes, and resources, as in the original AlexClaw (reference section 1),
-- plus the claims that make a scheduled run happen once per due time across nodes sharing this database.
CREATE TABLE resources (
    id bigserial PRIMARY KEY,
    name varchar(255) NOT NULL,
    type varchar(255) NOT NULL,
    url varchar(255),
    content text,
    metadata jsonb DEFAULT '{}',
    tags varchar(255)[] DEFAULT '{}',
    enabled boolean DEFAULT true,
    inserted_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    CONSTRAINT resources_type_check CHECK (type IN ('rss_feed', 'website', 'document', 'api', 'automation'))
);
CREATE INDEX resources_type_index ON resources (type);
CREATE INDEX resources_enabled_index ON resources (enabled);

CREATE TABLE workflows (
    id bigserial PRIMARY KEY,
    name varchar(255) NOT NULL,
    description varchar(255),
    enabled boolean DEFAULT true,
    schedule varchar(255),
    metadata jsonb DEFAULT '{}',
    default_provider varchar(255),
    node varchar(255),
    inserted_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE UNIQUE INDEX workflows_name_index ON workflows (name);

CREATE TABLE workflow_steps (
    id bigserial PRIMARY KEY,
    workflow_id bigint NOT NULL CONSTRAINT workflow_steps_workflow_id_fkey REFERENCES workflows (id) ON DELETE CASCADE,
    position integer NOT NULL,
    name varchar(255) NOT NULL,
    skill varchar(255) NOT NULL,
    llm_tier varchar(255),
    llm_model varchar(255),
    prompt_template text,
    config jsonb DEFAULT '{}',
    input_from integer DEFAULT NULL,
    routes jsonb DEFAULT '[]',
    inserted_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    CONSTRAINT workflow_steps_llm_tier_check CHECK (llm_tier IS NULL OR llm_tier IN ('light', 'medium', 'heavy', 'local'))
);
CREATE INDEX workflow_steps_workflow_id_position_index ON workflow_steps (workflow_id, position);

CREATE TABLE workflow_runs (
    id bigserial PRIMARY KEY,
    workflow_id bigint CONSTRAINT workflow_runs_workflow_id_fkey REFERENCES workflows (id) ON DELETE SET NULL,
    status varchar(255) NOT NULL DEFAULT 'running',
    started_at timestamp(0) without time zone NOT NULL,
    completed_at timestamp(0) without time zone,
    result jsonb DEFAULT '{}',
    error text,
    step_results jsonb DEFAULT '{}',
    node varchar(255),
    inserted_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    CONSTRAINT workflow_runs_status_check CHECK (status IN ('running', 'completed', 'failed', 'cancelled'))
);
CREATE INDEX workflow_runs_workflow_id_status_index ON workflow_runs (workflow_id, status);
CREATE INDEX workflow_runs_node_status_index ON workflow_runs (node, status);

CREATE TABLE workflow_resources (
    id bigserial PRIMARY KEY,
    workflow_id bigint NOT NULL CONSTRAINT workflow_resources_workflow_id_fkey REFERENCES workflows (id) ON DELETE CASCADE,
    resource_id bigint NOT NULL CONSTRAINT workflow_resources_resource_id_fkey REFERENCES resources (id) ON DELETE CASCADE,
    role varchar(255) DEFAULT 'input',
    inserted_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE UNIQUE INDEX workflow_resources_workflow_id_resource_id_index ON workflow_resources (workflow_id, resource_id);

CREATE TABLE skill_outcomes (
    id bigserial PRIMARY KEY,
    workflow_run_id bigint NOT NULL CONSTRAINT skill_outcomes_workflow_run_id_fkey REFERENCES workflow_runs (id) ON DELETE CASCADE,
    step_position integer NOT NULL,
    skill_name varchar(255) NOT NULL,
    result_quality varchar(255) DEFAULT 'neutral',
    user_feedback text,
    duration_ms integer,
    output_snapshot jsonb DEFAULT '{}',
    metadata jsonb DEFAULT '{}',
    inserted_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    CONSTRAINT skill_outcomes_result_quality_check CHECK (result_quality IN ('thumbs_up', 'thumbs_down', 'neutral'))
);
CREATE INDEX skill_outcomes_workflow_run_id_index ON skill_outcomes (workflow_run_id);
CREATE INDEX skill_outcomes_skill_name_result_quality_index ON skill_outcomes (skill_name, result_quality);

-- One row per (workflow, due minute): the node that inserts it runs the workflow; the others see the conflict.
CREATE TABLE workflow_schedule_claims (
    workflow_id bigint NOT NULL CONSTRAINT workflow_schedule_claims_workflow_id_fkey REFERENCES workflows (id) ON DELETE CASCADE,
    due_at timestamp(0) without time zone NOT NULL,
    node varchar(255) NOT NULL,
    run_id bigint,
    claimed_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    PRIMARY KEY (workflow_id, due_at)
);

-- Cancelling a run (from any process) wakes the node that executes it.
CREATE FUNCTION alexclaw_runs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'cancelled' AND OLD.status = 'running' THEN
        PERFORM pg_notify('alexclaw_runs', NEW.id::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER workflow_runs_notify AFTER UPDATE OF status ON workflow_runs
    FOR EACH ROW EXECUTE FUNCTION alexclaw_runs_notify();
