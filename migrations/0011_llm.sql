-- LLM providers and their daily usage (issue 8), as the original's llm_providers and llm_usage (reference section 1)
-- with one difference: api_key holds the encrypted-settings format ("enc:" + base64(IV || ciphertext || tag), the
-- settings key), never the key in clear; NULL or '' means "use the key of the provider's type from the settings"
-- (llm.gemini_api_key, llm.anthropic_api_key), which is how the seeded providers are recorded. varchar(255) would
-- not hold a sealed key, so api_key is text.
CREATE TABLE llm_providers (
    id bigserial PRIMARY KEY,
    name varchar(255) NOT NULL,
    type varchar(255) NOT NULL DEFAULT 'openai_compatible',
    tier varchar(255) NOT NULL,
    host varchar(255),
    model varchar(255) NOT NULL,
    api_key text,
    daily_limit integer,
    headers jsonb NOT NULL DEFAULT '{}',
    enabled boolean NOT NULL DEFAULT true,
    priority integer NOT NULL DEFAULT 100,
    options jsonb NOT NULL DEFAULT '{}',
    inserted_at timestamp(0) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at timestamp(0) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    CONSTRAINT llm_providers_type_check CHECK (type IN ('openai_compatible', 'ollama', 'gemini', 'anthropic', 'custom')),
    CONSTRAINT llm_providers_tier_check CHECK (tier IN ('light', 'medium', 'heavy', 'local')),
    CONSTRAINT llm_providers_priority_check CHECK (priority >= 0),
    CONSTRAINT llm_providers_daily_limit_check CHECK (daily_limit IS NULL OR daily_limit >= 0),
    CONSTRAINT llm_providers_local_check CHECK (tier <> 'local' OR type NOT IN ('gemini', 'anthropic')),
    CONSTRAINT llm_providers_api_key_check CHECK (api_key IS NULL OR api_key = '' OR api_key LIKE 'enc:%'),
    CONSTRAINT llm_providers_headers_check CHECK (jsonb_typeof(headers) = 'object'),
    CONSTRAINT llm_providers_options_check CHECK (jsonb_typeof(options) = 'object')
);
CREATE UNIQUE INDEX llm_providers_name_index ON llm_providers (name);

-- Successful calls per provider per UTC day; model is "provider_<id>" as in the original.
CREATE TABLE llm_usage (
    id bigserial PRIMARY KEY,
    model varchar(255) NOT NULL,
    date date NOT NULL,
    count integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX llm_usage_model_date_index ON llm_usage (model, date);

-- The default providers a node added (skills/llm_store.c, ac_skills_llm_seed): each is added once per database, so
-- one the owner deleted is not added again at the next start (the original re-created every missing default).
CREATE TABLE llm_seeded (
    name varchar(255) PRIMARY KEY
);
