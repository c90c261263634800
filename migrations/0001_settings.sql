-- Runtime configuration, as in the original AlexClaw (reference section 1, `settings`).
-- Sensitive values are stored as "enc:" + base64(IV || ciphertext || tag) (AES-256-GCM; see node/settings_store.c).
CREATE TABLE settings (
    id bigserial PRIMARY KEY,
    key varchar(255) NOT NULL,
    value text NOT NULL DEFAULT '',
    type varchar(255) NOT NULL DEFAULT 'string',
    description text,
    category varchar(255) DEFAULT 'general',
    sensitive boolean NOT NULL DEFAULT false,
    inserted_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE UNIQUE INDEX settings_key_index ON settings (key);
CREATE INDEX settings_category_index ON settings (category);

-- Every change, from any node or from psql, tells the nodes sharing this database which key to reload.
CREATE FUNCTION alexclaw_settings_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('alexclaw_settings', OLD.key);
    ELSE
        PERFORM pg_notify('alexclaw_settings', NEW.key);
        IF TG_OP = 'UPDATE' AND OLD.key <> NEW.key THEN
            PERFORM pg_notify('alexclaw_settings', OLD.key);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER settings_notify AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH ROW EXECUTE FUNCTION alexclaw_settings_notify();
