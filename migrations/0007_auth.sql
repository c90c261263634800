-- The authorization layer's tables (reference section 1, "Auth tables"), plus the audit chain (policy/audit.h).

CREATE TABLE auth_policies (
    id bigserial PRIMARY KEY,
    name varchar(255) NOT NULL,
    description text,
    rule_type varchar(255) NOT NULL,
    config jsonb NOT NULL DEFAULT '{}',
    enabled boolean DEFAULT true,
    priority integer DEFAULT 0,
    inserted_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX auth_policies_enabled_index ON auth_policies (enabled);
CREATE INDEX auth_policies_rule_type_index ON auth_policies (rule_type);

-- Any change of a rule reaches every node's policy cache at once.
CREATE FUNCTION alexclaw_policies_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('alexclaw_policies', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER auth_policies_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON auth_policies
    FOR EACH STATEMENT EXECUTE FUNCTION alexclaw_policies_notify();

-- The original's columns, and ours: count and last_at (identical denials within a minute coalesced into one row),
-- prev_hash and hash (the chain). Decision 'checkpoint' rows record a prune inside the chain.
CREATE TABLE auth_audit_log (
    id bigserial PRIMARY KEY,
    caller varchar(255) NOT NULL,
    caller_type varchar(255) NOT NULL,
    permission varchar(255) NOT NULL,
    decision varchar(255) NOT NULL,
    reason varchar(255),
    workflow_run_id integer,
    chain_depth integer DEFAULT 0,
    inserted_at timestamp(0) without time zone NOT NULL,
    count integer NOT NULL DEFAULT 1,
    last_at timestamp(0) without time zone NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
);
CREATE INDEX auth_audit_log_inserted_at_index ON auth_audit_log (inserted_at);
CREATE INDEX auth_audit_log_decision_index ON auth_audit_log (decision);
CREATE INDEX auth_audit_log_caller_index ON auth_audit_log (caller);

-- The chain's two ends, each pinned by a mark (an HMAC only the node's secret can make): the first row kept (after
-- pruning) with the hash before it, and the last row with its hash. Dropping rows at either end is found.
CREATE TABLE auth_audit_ends (
    id smallint PRIMARY KEY CHECK (id = 1),
    first_id bigint NOT NULL DEFAULT 0,
    first_prev bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000',
    first_mark bytea,
    last_id bigint NOT NULL DEFAULT 0,
    last_hash bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000',
    last_mark bytea
);
INSERT INTO auth_audit_ends (id) VALUES (1);
