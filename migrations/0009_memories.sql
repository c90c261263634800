-- The memory and the knowledge base (reference section 1, "memories" and "knowledge_entries"), the stores that
-- dynamic skills reach through the SkillAPI (node/memory.h). The original's columns without the embedding ones
-- (embedding, embedding_model, embedding_dim, embedded_at; Debian 12 has no pgvector): search is PostgreSQL full-text
-- search on a stored generated column instead.
--
-- Text search configuration 'simple', in both tables and in every query (node/memory.c): what is stored is news, web
-- pages and notes in any language, and the original matched words with ILIKE, language-neutral. 'english' would stem
-- and drop stop words in English only, mangle other languages, and turn a query of stop words into no query at all.
-- 'simple' lower-cases with the database's LC_CTYPE, which is C for our servers (ASCII only), so the text is first
-- lower-cased with the ICU root collation ("und-x-icu", needs a PostgreSQL built with ICU, as Debian's is): "École"
-- matches "école" whatever the database's locale.
--
-- Ours: timestamptz (not the original's timestamp(0)) with microseconds, so "newest first" is an order even within a
-- second; source is varchar(2048) (the original's varchar(255) refused long URLs); metadata NOT NULL and always an
-- object. A row's parent is in the same table and takes its children with it.

CREATE TABLE memories (
    id bigserial PRIMARY KEY,
    kind varchar(255) NOT NULL,
    content text NOT NULL,
    source varchar(2048),
    metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    expires_at timestamptz,
    parent_id bigint REFERENCES memories (id) ON DELETE CASCADE,
    chunk_index integer,
    inserted_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    search tsvector NOT NULL GENERATED ALWAYS AS (to_tsvector('simple', lower(content COLLATE "und-x-icu"))) STORED
);
CREATE INDEX memories_kind_inserted_at_index ON memories (kind, inserted_at);
CREATE INDEX memories_source_index ON memories (source);
CREATE INDEX memories_parent_id_index ON memories (parent_id);
CREATE INDEX memories_search_index ON memories USING gin (search);
-- memory_exists? matches the whole content too (node/memory.h); a hash index takes values of any length.
CREATE INDEX memories_content_index ON memories USING hash (content);

CREATE TABLE knowledge_entries (
    id bigserial PRIMARY KEY,
    kind varchar(255) NOT NULL,
    content text NOT NULL,
    source varchar(2048),
    metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    expires_at timestamptz,
    parent_id bigint REFERENCES knowledge_entries (id) ON DELETE CASCADE,
    chunk_index integer,
    inserted_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    search tsvector NOT NULL GENERATED ALWAYS AS (to_tsvector('simple', lower(content COLLATE "und-x-icu"))) STORED
);
CREATE INDEX knowledge_entries_kind_inserted_at_index ON knowledge_entries (kind, inserted_at);
CREATE INDEX knowledge_entries_source_index ON knowledge_entries (source);
CREATE INDEX knowledge_entries_parent_id_index ON knowledge_entries (parent_id);
CREATE INDEX knowledge_entries_search_index ON knowledge_entries USING gin (search);
