-- Wrong codes are counted across every path and node (node/twofa.c): 10 in a row lock code checks for 5 minutes,
-- doubling with every further 10 (at most a day); a valid code resets the count.
ALTER TABLE totp_steps ADD COLUMN failures integer NOT NULL DEFAULT 0,
                       ADD COLUMN locked_until bigint NOT NULL DEFAULT 0;

-- 2FA challenges (node/challenge.c): an action a person asked for that waits for a TOTP code. One pending challenge
-- per scope ("telegram:<chat id>" for the chat and for the admin UI's actions when a chat is configured, else "web"):
-- a new one replaces it. It expires 120 s after it was made and dies after 5 wrong codes. The action (JSON) is
-- executed exactly as stored: a code approves this row and nothing else.
CREATE TABLE twofa_challenges (
    id text PRIMARY KEY,
    scope text NOT NULL UNIQUE,
    action json NOT NULL, -- json, not jsonb: kept exactly as written (jsonb would rewrite numbers)
    description text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamp(3) without time zone NOT NULL DEFAULT (clock_timestamp() AT TIME ZONE 'utc'),
    expires_at bigint NOT NULL -- unix seconds
);

-- The gateways' positions (node/telegram.c): per bot ("telegram:<bot id>") the next update_id, claimed with a
-- compare-and-set before an update is handled, so no update is handled twice or skipped across restarts or when
-- another node takes over polling.
CREATE TABLE gateway_state (
    gateway text PRIMARY KEY,
    next_offset bigint NOT NULL DEFAULT 0,
    updated_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
