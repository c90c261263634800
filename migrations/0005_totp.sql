-- The second factor's replay protection (node/twofa.c): the last TOTP time step any node accepted. A code is
-- accepted only when its step is above it, and the step is advanced in the same statement (compare-and-set), so no
-- code is ever accepted twice, across all nodes sharing this database.
CREATE TABLE totp_steps (
    id smallint PRIMARY KEY CHECK (id = 1),
    last_step bigint NOT NULL DEFAULT 0,
    updated_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
INSERT INTO totp_steps (id, last_step) VALUES (1, 0);
