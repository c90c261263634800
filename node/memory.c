/* node/memory.c - the memory and the knowledge base of memory.h: the checks that stand between a sandboxed skill and
 * the tables memories and knowledge_entries, and the one statement per call that follows them.
 *
 * The two tables have the same columns, so each statement is written once as a macro and expanded for each table at
 * compile time (the table below): no table name is ever put into SQL at run time. Free texts travel as binary
 * parameters with their lengths (the bytes of a text; the server checks their encoding again), so the caller's buffers
 * need no terminating NUL and are not copied. */
#include "node/memory.h"

#include "policy/utf8.h"

#include "node/log.h"
#include "policy/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Visible entries: not expired. */
#define LIVE "(expires_at IS NULL OR expires_at > now())"
/* $1, the query, as a tsquery built as the column is (migration 0009). A query that holds no word is NULL (matches
 * nothing) rather than an empty tsquery, which the server would answer with a notice. */
#define TSQUERY                                                                                                        \
    "CASE WHEN length(to_tsvector('simple', lower($1::text COLLATE \"und-x-icu\"))) = 0 THEN NULL "                    \
    "ELSE websearch_to_tsquery('simple', lower($1::text COLLATE \"und-x-icu\")) END"
#define COLUMNS                                                                                                        \
    "id, kind, content, source, metadata::text, "                                                                      \
    "to_char(inserted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* $1 kind, $2 content, $3 source, $4 metadata, $5 ttl (s), $6 parent id. The parent must be visible; the child's
 * expiry is the earlier of its own and its parent's (LEAST ignores NULLs). */
#define INSERT_SQL(T)                                                                                                  \
    "INSERT INTO " T " (kind, content, source, metadata, expires_at, parent_id) "                                      \
    "SELECT $1::text, $2::text, $3::text, $4::jsonb, "                                                                 \
    "LEAST(CASE WHEN $5::bigint > 0 THEN now() + make_interval(secs => $5::bigint) END, p.expires_at), p.id "          \
    "FROM (SELECT NULL::bigint AS id, NULL::timestamptz AS expires_at WHERE $6::bigint = 0 "                           \
    "UNION ALL SELECT id, expires_at FROM " T " WHERE $6::bigint <> 0 AND id = $6::bigint AND " LIVE ") AS p "         \
    "RETURNING id"
/* $1 query, $2 kind or NULL, $3 limit. */
#define SEARCH_SQL(T)                                                                                                  \
    "SELECT " COLUMNS ", ts_rank(search, q) AS rank FROM " T ", (SELECT " TSQUERY " AS q) AS query "                   \
    "WHERE search @@ q AND ($2::text IS NULL OR kind = $2::text) AND " LIVE " "                                        \
    "ORDER BY rank DESC, inserted_at DESC, id DESC LIMIT $3::int"
/* $1 kind or NULL, $2 limit. */
#define RECENT_SQL(T)                                                                                                  \
    "SELECT " COLUMNS " FROM " T " WHERE ($1::text IS NULL OR kind = $1::text) AND " LIVE " "                          \
    "ORDER BY inserted_at DESC, id DESC LIMIT $2::int"
#define PRUNE_SQL(T) "WITH gone AS (DELETE FROM " T " WHERE expires_at <= now() RETURNING 1) SELECT count(*) FROM gone"

typedef struct table {
    const char *name; /* for messages and the log: "memory" or "knowledge" */
    const char *insert, *search, *recent, *exists, *prune;
    size_t exists_max; /* the longest value exists() accepts */
} table_t;

/* The original's exists?: Memory matches content or source, Knowledge the source only (reference 5.3). */
static const table_t tables[] = {
    {"memory", INSERT_SQL("memories"), SEARCH_SQL("memories"), RECENT_SQL("memories"),
     "SELECT EXISTS (SELECT 1 FROM memories WHERE (content = $1::text OR source = $1::text) AND " LIVE ")",
     PRUNE_SQL("memories"), AC_NODE_MEMORY_CONTENT_MAX},
    {"knowledge", INSERT_SQL("knowledge_entries"), SEARCH_SQL("knowledge_entries"), RECENT_SQL("knowledge_entries"),
     "SELECT EXISTS (SELECT 1 FROM knowledge_entries WHERE source = $1::text AND " LIVE ")",
     PRUNE_SQL("knowledge_entries"), AC_NODE_MEMORY_SOURCE_MAX},
};

static const table_t *table_of(ac_node_memory_table_t t, ac_errmsg_t *err)
{
    if ((unsigned)t >= sizeof(tables) / sizeof(tables[0])) {
        ac_errmsg_set(err, -AC_EINVAL, "memory: unknown store %d", (int)t);
        return NULL;
    }
    return &tables[t];
}

static int db_fail(PGconn *c, const PGresult *r, const table_t *tb, const char *what, ac_errmsg_t *err)
{
    if (PQstatus(c) != CONNECTION_OK)
        return ac_errmsg_set(err, -AC_EDBDOWN, "%s: %s: the database connection is lost", tb->name, what);
    /* the primary message only: the detail and context lines may quote values the caller sent */
    const char *m = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    return ac_errmsg_set(err, -AC_EDB, "%s: %s: %s", tb->name, what, m != NULL ? m : PQerrorMessage(c));
}

/* Well-formed UTF-8 without a NUL byte. */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    return memchr(s, '\0', n) == NULL && ac_policy_utf8_valid((const char *)s, n);
}

/* A free text of 1 .. max bytes. Messages give lengths, never the text. */
static int check_text(const table_t *tb, const char *what, const char *s, size_t n, size_t max, ac_errmsg_t *err)
{
    if (s == NULL || n == 0)
        return ac_errmsg_set(err, -AC_EINVAL, "%s: %s is empty", tb->name, what);
    if (n > max)
        return ac_errmsg_set(err, -AC_ETOOLONG, "%s: %s is %zu bytes, at most %zu", tb->name, what, n, max);
    if (!utf8_ok((const unsigned char *)s, n))
        return ac_errmsg_set(err, -AC_EINVAL, "%s: %s is not valid UTF-8 or holds a NUL byte", tb->name, what);
    return 0;
}

static int check_kind(const table_t *tb, const char *kind, ac_errmsg_t *err)
{
    size_t n = kind != NULL ? strnlen(kind, AC_NODE_MEMORY_KIND_MAX + 1) : 0;
    bool ok = n >= 1 && n <= AC_NODE_MEMORY_KIND_MAX && kind[0] >= 'a' && kind[0] <= 'z';
    for (size_t i = 1; ok && i < n; i++)
        ok = (kind[i] >= 'a' && kind[i] <= 'z') || (kind[i] >= '0' && kind[i] <= '9') || kind[i] == '_';
    if (!ok)
        return ac_errmsg_set(
            err, -AC_EINVAL,
            "%s: kind must be 1 to %d characters: a lower-case letter, then lower-case letters, digits "
            "or '_'",
            tb->name, AC_NODE_MEMORY_KIND_MAX);
    return 0;
}

static int check_limit(const table_t *tb, int limit, ac_errmsg_t *err)
{
    if (limit < 1 || limit > AC_NODE_MEMORY_LIMIT_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "%s: limit must be 1 to %d", tb->name, AC_NODE_MEMORY_LIMIT_MAX);
    return 0;
}

/* Depth (containers only; the top object is 1), and every key and string well-formed UTF-8 without NUL (jsonb
 * refuses \u0000). The depth bound also stops a container that holds itself. */
static int check_json(const table_t *tb, json_t *v, int depth, ac_errmsg_t *err)
{
    if ((json_is_object(v) || json_is_array(v)) && depth > AC_NODE_MEMORY_METADATA_DEPTH_MAX)
        return ac_errmsg_set(err, -AC_ETOOLONG, "%s: metadata is nested more than %d levels deep", tb->name,
                             AC_NODE_MEMORY_METADATA_DEPTH_MAX);
    int rc = 0;
    if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it != NULL && rc == 0; it = json_object_iter_next(v, it)) {
            if (!utf8_ok((const unsigned char *)json_object_iter_key(it), json_object_iter_key_len(it)))
                return ac_errmsg_set(err, -AC_EINVAL, "%s: a metadata key is not valid UTF-8 or holds a NUL byte",
                                     tb->name);
            rc = check_json(tb, json_object_iter_value(it), depth + 1, err);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && rc == 0; i++)
            rc = check_json(tb, json_array_get(v, i), depth + 1, err);
    } else if (json_is_string(v) && !utf8_ok((const unsigned char *)json_string_value(v), json_string_length(v))) {
        rc = ac_errmsg_set(err, -AC_EINVAL, "%s: a metadata string is not valid UTF-8 or holds a NUL byte", tb->name);
    }
    return rc;
}

typedef struct sink {
    char *buf;
    size_t len;
} sink_t;

/* jansson's dump callback: stops the dump (-1) once it passes the limit, so a huge object is never written out. */
static int sink_add(const char *b, size_t n, void *data)
{
    sink_t *s = data;
    if (n > AC_NODE_MEMORY_METADATA_MAX - s->len)
        return -1;
    memcpy(s->buf + s->len, b, n);
    s->len += n;
    return 0;
}

/* OUT: meta->buf (from ac_malloc; caller frees), NUL-terminated compact JSON. */
static int metadata_text(const table_t *tb, const json_t *metadata, sink_t *meta, ac_errmsg_t *err)
{
    meta->buf = ac_malloc(AC_NODE_MEMORY_METADATA_MAX + 1);
    meta->len = 0;
    if (metadata == NULL) {
        memcpy(meta->buf, "{}", 3);
        return 0;
    }
    if (!json_is_object(metadata))
        return ac_errmsg_set(err, -AC_EINVAL, "%s: metadata must be a JSON object", tb->name);
    int rc = check_json(tb, (json_t *)metadata, 1, err);
    if (rc != 0)
        return rc;
    if (json_dump_callback(metadata, sink_add, meta, JSON_COMPACT) != 0)
        return ac_errmsg_set(err, -AC_ETOOLONG, "%s: metadata is more than %d bytes as JSON", tb->name,
                             AC_NODE_MEMORY_METADATA_MAX);
    meta->buf[meta->len] = '\0';
    return 0;
}

int ac_node_memory_store(PGconn *c, ac_node_memory_table_t t, const ac_node_memory_entry_t *e, int64_t *id,
                         ac_errmsg_t *err)
{
    const table_t *tb = table_of(t, err);
    if (id != NULL)
        *id = 0;
    if (tb == NULL)
        return -AC_EINVAL;
    if (e == NULL || id == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "%s: store needs an entry", tb->name);
    sink_t meta = {NULL, 0};
    PGresult *r = NULL;
    int rc;
    if ((rc = check_kind(tb, e->kind, err)) != 0 ||
        (rc = check_text(tb, "content", e->content, e->content_len, AC_NODE_MEMORY_CONTENT_MAX, err)) != 0 ||
        (e->source != NULL &&
         (rc = check_text(tb, "source", e->source, e->source_len, AC_NODE_MEMORY_SOURCE_MAX, err)) != 0))
        goto Exit;
    if (e->ttl_s < 0 || e->ttl_s > AC_NODE_MEMORY_TTL_MAX_S) {
        rc = ac_errmsg_set(err, -AC_EINVAL, "%s: ttl must be 0 (no expiry) to %lld seconds (10 years)", tb->name,
                           (long long)AC_NODE_MEMORY_TTL_MAX_S);
        goto Exit;
    }
    if (e->parent_id < 0) {
        rc = ac_errmsg_set(err, -AC_EINVAL, "%s: parent id must be 0 (none) or an entry's id", tb->name);
        goto Exit;
    }
    if ((rc = metadata_text(tb, e->metadata, &meta, err)) != 0)
        goto Exit;

    char ttl[32], parent[32];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)e->ttl_s);
    snprintf(parent, sizeof(parent), "%lld", (long long)e->parent_id);
    const char *p[] = {e->kind, e->content, e->source, meta.buf, ttl, parent};
    const int lens[] = {0, (int)e->content_len, e->source != NULL ? (int)e->source_len : 0, 0, 0, 0};
    const int fmts[] = {0, 1, 1, 0, 0, 0}; /* content and source in binary: the bytes, by length */
    r = PQexecParams(c, tb->insert, 6, NULL, p, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state != NULL && strcmp(state, "23503") == 0) /* the parent went away after we looked */
            rc =
                ac_errmsg_set(err, -AC_ENOENT, "%s: no entry %lld to be the parent", tb->name, (long long)e->parent_id);
        else
            rc = db_fail(c, r, tb, "store", err);
        goto Exit;
    }
    if (PQntuples(r) != 1) {
        rc = ac_errmsg_set(err, -AC_ENOENT, "%s: no entry %lld to be the parent (missing or expired)", tb->name,
                           (long long)e->parent_id);
        goto Exit;
    }
    *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    ac_log_debug("memory", "stored", "store=%s id=%lld kind=%s bytes=%zu", tb->name, (long long)*id, e->kind,
                 e->content_len);
Exit:
    PQclear(r);
    free(meta.buf);
    return rc;
}

/* One result row as a JSON object; NULL when a stored text is not UTF-8 (a row written around this module). */
static json_t *row_json(PGresult *r, int i, bool with_rank)
{
    json_t *kind = json_stringn(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
    json_t *content = json_stringn(PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2));
    json_t *source =
        PQgetisnull(r, i, 3) ? json_null() : json_stringn(PQgetvalue(r, i, 3), (size_t)PQgetlength(r, i, 3));
    if (kind == NULL || content == NULL || source == NULL) {
        json_decref(kind);
        json_decref(content);
        json_decref(source);
        return NULL;
    }
    json_error_t jerr;
    json_t *meta = json_loadb(PQgetvalue(r, i, 4), (size_t)PQgetlength(r, i, 4), 0, &jerr);
    if (!json_is_object(meta)) { /* numbers jansson cannot hold, from a row written around this module */
        json_decref(meta);
        meta = json_object();
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(strtoll(PQgetvalue(r, i, 0), NULL, 10)));
    json_object_set_new(o, "kind", kind);
    json_object_set_new(o, "content", content);
    json_object_set_new(o, "source", source);
    json_object_set_new(o, "metadata", meta);
    json_object_set_new(o, "inserted_at", json_string(PQgetvalue(r, i, 5)));
    if (with_rank)
        json_object_set_new(o, "rank", json_real(strtod(PQgetvalue(r, i, 6), NULL)));
    return o;
}

static int rows_json(PGconn *c, PGresult *r, const table_t *tb, const char *what, bool with_rank, json_t **out,
                     ac_errmsg_t *err)
{
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_fail(c, r, tb, what, err);
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = row_json(r, i, with_rank);
        if (o == NULL) {
            ac_log_warn("memory", "row_skipped", "store=%s id=%s reason=\"stored text is not UTF-8\"", tb->name,
                        PQgetvalue(r, i, 0));
            continue;
        }
        json_array_append_new(a, o);
    }
    *out = a;
    return 0;
}

int ac_node_memory_search(PGconn *c, ac_node_memory_table_t t, const char *query, size_t query_len, const char *kind,
                          int limit, json_t **out, ac_errmsg_t *err)
{
    const table_t *tb = table_of(t, err);
    if (out != NULL)
        *out = NULL;
    if (tb == NULL)
        return -AC_EINVAL;
    if (out == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "%s: search needs a result", tb->name);
    int rc;
    if ((rc = check_text(tb, "query", query, query_len, AC_NODE_MEMORY_QUERY_MAX, err)) != 0 ||
        (kind != NULL && (rc = check_kind(tb, kind, err)) != 0) || (rc = check_limit(tb, limit, err)) != 0)
        return rc;
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[] = {query, kind, lim};
    const int lens[] = {(int)query_len, 0, 0};
    const int fmts[] = {1, 0, 0};
    PGresult *r = PQexecParams(c, tb->search, 3, NULL, p, lens, fmts, 0);
    rc = rows_json(c, r, tb, "search", true, out, err);
    PQclear(r);
    return rc;
}

int ac_node_memory_recent(PGconn *c, ac_node_memory_table_t t, const char *kind, int limit, json_t **out,
                          ac_errmsg_t *err)
{
    const table_t *tb = table_of(t, err);
    if (out != NULL)
        *out = NULL;
    if (tb == NULL)
        return -AC_EINVAL;
    if (out == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "%s: recent needs a result", tb->name);
    int rc;
    if ((kind != NULL && (rc = check_kind(tb, kind, err)) != 0) || (rc = check_limit(tb, limit, err)) != 0)
        return rc;
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[] = {kind, lim};
    PGresult *r = PQexecParams(c, tb->recent, 2, NULL, p, NULL, NULL, 0);
    rc = rows_json(c, r, tb, "recent", false, out, err);
    PQclear(r);
    return rc;
}

int ac_node_memory_exists(PGconn *c, ac_node_memory_table_t t, const char *value, size_t value_len, bool *found,
                          ac_errmsg_t *err)
{
    const table_t *tb = table_of(t, err);
    if (found != NULL)
        *found = false;
    if (tb == NULL)
        return -AC_EINVAL;
    if (found == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "%s: exists needs a result", tb->name);
    int rc = check_text(tb, t == AC_NODE_MEMORY_MEMORIES ? "value" : "source", value, value_len, tb->exists_max, err);
    if (rc != 0)
        return rc;
    const char *p[] = {value};
    const int lens[] = {(int)value_len};
    const int fmts[] = {1};
    PGresult *r = PQexecParams(c, tb->exists, 1, NULL, p, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        rc = db_fail(c, r, tb, "exists", err);
    else
        *found = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return rc;
}

int ac_node_memory_prune_expired(PGconn *c, ac_node_memory_table_t t, int64_t *count, ac_errmsg_t *err)
{
    const table_t *tb = table_of(t, err);
    if (count != NULL)
        *count = 0;
    if (tb == NULL)
        return -AC_EINVAL;
    if (count == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "%s: prune needs a count", tb->name);
    PGresult *r = PQexec(c, tb->prune);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        rc = db_fail(c, r, tb, "prune", err);
    } else {
        *count = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        if (*count > 0)
            ac_log_info("memory", "pruned", "store=%s rows=%lld", tb->name, (long long)*count);
    }
    PQclear(r);
    return rc;
}
