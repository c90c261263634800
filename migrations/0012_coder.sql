-- The coder skill's audit trail (issue 8, SECURITY.md "Autonomous Skill Generation"): one row per generation
-- attempt, whatever became of it. source is the code the local model wrote (NULL when its answer had no code block,
-- or was not UTF-8 text); sha256 is the lowercase hex SHA-256 of source, the checksum a load of that file records
-- in dynamic_skills. outcome: 'rejected' (refused by the checks: forbidden functions, the file rules, the declared
-- name or permissions, no code), 'broken' (its Lua does not load, or run fails or returns no text in the test run),
-- 'valid' (written, and offered to the owner for approval). error says why for the first two.
CREATE TABLE coder_generations (
    id bigserial PRIMARY KEY,
    goal text NOT NULL,
    skill_name varchar(48) NOT NULL,
    attempt integer NOT NULL,
    source text,
    sha256 varchar(64),
    outcome varchar(16) NOT NULL,
    error text,
    inserted_at timestamp(0) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    CONSTRAINT coder_generations_outcome_check CHECK (outcome IN ('rejected', 'broken', 'valid')),
    CONSTRAINT coder_generations_attempt_check CHECK (attempt BETWEEN 1 AND 10),
    CONSTRAINT coder_generations_sha256_check CHECK (sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT coder_generations_source_check CHECK ((source IS NULL) = (sha256 IS NULL)),
    CONSTRAINT coder_generations_valid_check CHECK (outcome <> 'valid' OR source IS NOT NULL)
);
CREATE INDEX coder_generations_skill_name_index ON coder_generations (skill_name, inserted_at);
