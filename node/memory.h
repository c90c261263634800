/* node/memory.h - the memory and the knowledge base (tables memories and knowledge_entries, migration 0009): store,
 * full-text search, recent entries, an existence check and the pruning of expired entries. This module owns those two
 * tables; the SkillAPI (memory_search, memory_recent, memory_exists?, memory_store, knowledge_search,
 * knowledge_exists?, knowledge_store, reference 5.3) calls it after its own permission checks, which are not made here.
 *
 * Every input may come from a hostile sandboxed skill: each is checked against the limits below before any SQL runs,
 * a refused call changes nothing, and no error message repeats what the caller sent (only lengths and limits). All
 * SQL is parameterised; table names come from a fixed table inside memory.c, never from input.
 *
 * Search is PostgreSQL full-text search (no pgvector on Debian 12): the 'simple' configuration on the content
 * lower-cased with ICU (see the migration), websearch_to_tsquery on the query (quotes, "or" and a leading "-" are its
 * syntax; nothing the caller writes can make it fail), ts_rank then newest first. A query without any word (only
 * punctuation, say) matches nothing. The original's hybrid vector search, its query rewriting and its chunker are not
 * ported.
 *
 * Expired entries (expires_at passed) are invisible to search, recent and exists from the moment they expire, and are
 * deleted by ac_node_memory_prune_expired(). A child entry never outlives its parent: its expiry is the earlier of its
 * own and its parent's, and deleting a parent deletes its children (ON DELETE CASCADE).
 *
 * Results are JSON arrays of objects {"id", "kind", "content", "source" (string or null), "metadata" (object),
 * "inserted_at" ("YYYY-MM-DDTHH:MM:SSZ", UTC)} plus "rank" (a number) from search. The worst case is large: 50
 * entries of 64 KiB content and 16 KiB metadata, more once JSON escapes them; the SkillAPI channel's frame is 1 MiB
 * (skills/channel.h), so the SkillAPI must cut a reply that does not fit.
 *
 * Stateless and thread-safe as far as libpq allows: one connection per thread, as everywhere in the node. Each
 * function is one statement (its own transaction unless the caller opened one). */
#ifndef AC_NODE_MEMORY_H
#define AC_NODE_MEMORY_H

#include "policy/error.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits on input (bytes unless said otherwise). */
#define AC_NODE_MEMORY_KIND_MAX           64          /* ^[a-z][a-z0-9_]{0,63}$ */
#define AC_NODE_MEMORY_CONTENT_MAX        (64 * 1024) /* 1 .. this, valid UTF-8, no NUL */
#define AC_NODE_MEMORY_SOURCE_MAX         2048        /* 1 .. this when given, valid UTF-8, no NUL */
#define AC_NODE_MEMORY_METADATA_MAX       (16 * 1024) /* a JSON object, serialized compactly */
#define AC_NODE_MEMORY_METADATA_DEPTH_MAX 8           /* the object itself is depth 1 */
#define AC_NODE_MEMORY_QUERY_MAX          1024        /* 1 .. this, valid UTF-8, no NUL */
#define AC_NODE_MEMORY_LIMIT_MAX          50          /* entries per search or recent: 1 .. this */
/* The limit the SkillAPI uses when the skill gives none (the original's search default; its recent used 20). */
#define AC_NODE_MEMORY_LIMIT_DEFAULT 10
#define AC_NODE_MEMORY_TTL_MAX_S     (10LL * 365 * 86400) /* 10 years of 365 days; 0 = no expiry */

/* Which store: the SkillAPI's memory_* functions use MEMORIES, knowledge_* use KNOWLEDGE. */
typedef enum ac_node_memory_table {
    AC_NODE_MEMORY_MEMORIES = 0, /* table memories */
    AC_NODE_MEMORY_KNOWLEDGE,    /* table knowledge_entries */
} ac_node_memory_table_t;

/* One entry to store. Texts are given with their length (a JSON string may hold a NUL, which is refused). */
typedef struct ac_node_memory_entry {
    const char *kind;       /* NUL-terminated, ^[a-z][a-z0-9_]{0,63}$ */
    const char *content;    /* content_len bytes */
    size_t content_len;     /* 1 .. AC_NODE_MEMORY_CONTENT_MAX */
    const char *source;     /* NULL: none; else source_len bytes, 1 .. AC_NODE_MEMORY_SOURCE_MAX */
    size_t source_len;      /* ignored when source is NULL */
    const json_t *metadata; /* NULL: {}; else an object (limits above; no NUL in any key or string). Not taken. */
    int64_t ttl_s;          /* 0: never expires; else 1 .. AC_NODE_MEMORY_TTL_MAX_S seconds from now */
    int64_t parent_id;      /* 0: none; else an entry of the same table that has not expired */
} ac_node_memory_entry_t;

/* Inserts e into table t. OUT: *id, the new entry's id. Returns 0; -AC_EINVAL or -AC_ETOOLONG for input outside the
 * limits (err says which field and why); -AC_ENOENT when the parent does not exist in t or has expired; -AC_EDB or
 * -AC_EDBDOWN. On any failure nothing was stored and *id is 0. */
int ac_node_memory_store(PGconn *c, ac_node_memory_table_t t, const ac_node_memory_entry_t *e, int64_t *id,
                         ac_errmsg_t *err);

/* Full-text search of t for query (query_len bytes, 1 .. AC_NODE_MEMORY_QUERY_MAX), only entries of kind when kind is
 * not NULL, at most limit (1 .. AC_NODE_MEMORY_LIMIT_MAX) entries, best rank first, then newest. OUT: *out, a new JSON
 * array (caller json_decref()s it; possibly empty), NULL on failure. Returns 0, -AC_EINVAL, -AC_ETOOLONG, -AC_EDB or
 * -AC_EDBDOWN. */
int ac_node_memory_search(PGconn *c, ac_node_memory_table_t t, const char *query, size_t query_len, const char *kind,
                          int limit, json_t **out, ac_errmsg_t *err);

/* The newest entries of t (of kind when not NULL), at most limit (1 .. AC_NODE_MEMORY_LIMIT_MAX), newest first.
 * OUT: *out as for search, without "rank". Returns 0, -AC_EINVAL, -AC_EDB or -AC_EDBDOWN. */
int ac_node_memory_recent(PGconn *c, ac_node_memory_table_t t, const char *kind, int limit, json_t **out,
                          ac_errmsg_t *err);

/* The original's memory_exists? and knowledge_exists?: whether an entry that has not expired matches value exactly
 * (value_len bytes, valid UTF-8, no NUL). As in the original, MEMORIES matches an entry whose source OR whole content
 * equals value (it is used both to skip a URL already read and a fact already stored), so value may be
 * 1 .. AC_NODE_MEMORY_CONTENT_MAX bytes; KNOWLEDGE matches the source only, 1 .. AC_NODE_MEMORY_SOURCE_MAX bytes.
 * Comparisons are byte for byte (case matters). OUT: *found. Returns 0, -AC_EINVAL, -AC_ETOOLONG, -AC_EDB or
 * -AC_EDBDOWN. */
int ac_node_memory_exists(PGconn *c, ac_node_memory_table_t t, const char *value, size_t value_len, bool *found,
                          ac_errmsg_t *err);

/* Deletes the entries of t whose expires_at has passed (and, by cascade, their children). OUT: *count, the expired
 * entries deleted (children deleted with them are not counted). For the node's periodic housekeeping, not the
 * SkillAPI. Returns 0, -AC_EINVAL, -AC_EDB or -AC_EDBDOWN. */
int ac_node_memory_prune_expired(PGconn *c, ac_node_memory_table_t t, int64_t *count, ac_errmsg_t *err);

#endif
