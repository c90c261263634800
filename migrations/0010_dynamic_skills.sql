-- Dynamic skills (issue 7): the Lua skills a node has loaded from SKILLS_DIR, as in the original's dynamic_skills
-- (reference section 1) plus the declaration's version and description. The source itself stays in the file;
-- checksum is the lowercase hex SHA-256 of the file as loaded, and a node refuses at boot a file that no longer
-- matches it (the owner reloads or unloads it). module_name is the skill's name (Lua has no modules to name).
CREATE TABLE dynamic_skills (
    id bigserial PRIMARY KEY,
    name varchar(48) NOT NULL,
    module_name varchar(255) NOT NULL,
    file_path varchar(255) NOT NULL,
    permissions varchar(32)[] NOT NULL DEFAULT '{}',
    checksum varchar(64) NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    routes varchar(64)[] NOT NULL DEFAULT '{}',
    version varchar(32) NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    inserted_at timestamp(0) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at timestamp(0) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    CONSTRAINT dynamic_skills_name_check CHECK (name ~ '^[a-z][a-z0-9_]{0,47}$'),
    CONSTRAINT dynamic_skills_checksum_check CHECK (checksum ~ '^[0-9a-f]{64}$')
);
CREATE UNIQUE INDEX dynamic_skills_name_index ON dynamic_skills (name);
CREATE UNIQUE INDEX dynamic_skills_module_name_index ON dynamic_skills (module_name);

-- Every node keeps its registry in line with this table: a change made anywhere (a node, the CLI) is announced.
CREATE FUNCTION alexclaw_dynamic_skills_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('alexclaw_dynamic_skills', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER dynamic_skills_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dynamic_skills
    FOR EACH STATEMENT EXECUTE FUNCTION alexclaw_dynamic_skills_notify();
