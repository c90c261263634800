/* tests/integration/test_memory.c - the memory and knowledge stores (node/memory.h) against a real PostgreSQL server:
 * full-text search ranked then newest, the kind filter, recent entries newest first, exists as the original matched
 * (memories: source or content; knowledge: source), expired entries hidden at once and pruned, a child dying with its
 * parent, the two tables independent, every input limit just inside and just outside (a refusal stores nothing and
 * never repeats the input), queries that look like SQL injection or tsquery syntax, Unicode, and a lost connection. */
#include "node/memory.h"
#include "policy/alloc.h"
#include "tests/support/testdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define MEM  AC_NODE_MEMORY_MEMORIES
#define KNO  AC_NODE_MEMORY_KNOWLEDGE
#define S(s) (s), strlen(s) /* a text and its length */

typedef struct {
    ac_test_db_t db;
} fx_t;

static int setup(void **state)
{
    fx_t *f = ac_calloc(1, sizeof(*f));
    ac_test_db_open_migrated("memory", &f->db);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    ac_test_db_close(&f->db);
    free(f);
    return 0;
}

static int64_t put(PGconn *c, ac_node_memory_table_t t, const char *kind, const char *content, const char *source,
                   int64_t ttl_s, int64_t parent)
{
    ac_node_memory_entry_t e = {kind, S(content), source, source != NULL ? strlen(source) : 0, NULL, ttl_s, parent};
    int64_t id = 0;
    ac_errmsg_t err = {{0}};
    if (ac_node_memory_store(c, t, &e, &id, &err) != 0)
        fail_msg("store: %s", err.msg);
    assert_true(id > 0);
    return id;
}

static json_t *search(PGconn *c, ac_node_memory_table_t t, const char *q, const char *kind, int limit)
{
    json_t *out = NULL;
    ac_errmsg_t err = {{0}};
    if (ac_node_memory_search(c, t, S(q), kind, limit, &out, &err) != 0)
        fail_msg("search: %s", err.msg);
    assert_true(json_is_array(out));
    return out;
}

static json_t *recent(PGconn *c, ac_node_memory_table_t t, const char *kind, int limit)
{
    json_t *out = NULL;
    ac_errmsg_t err = {{0}};
    if (ac_node_memory_recent(c, t, kind, limit, &out, &err) != 0)
        fail_msg("recent: %s", err.msg);
    assert_true(json_is_array(out));
    return out;
}

static bool exists(PGconn *c, ac_node_memory_table_t t, const char *v)
{
    bool found = true;
    ac_errmsg_t err = {{0}};
    if (ac_node_memory_exists(c, t, S(v), &found, &err) != 0)
        fail_msg("exists: %s", err.msg);
    return found;
}

static int64_t id_at(json_t *a, size_t i)
{
    return json_integer_value(json_object_get(json_array_get(a, i), "id"));
}

static const char *str_at(json_t *a, size_t i, const char *field)
{
    return json_string_value(json_object_get(json_array_get(a, i), field));
}

static int64_t prune(PGconn *c, ac_node_memory_table_t t)
{
    int64_t n = -1;
    ac_errmsg_t err = {{0}};
    if (ac_node_memory_prune_expired(c, t, &n, &err) != 0)
        fail_msg("prune: %s", err.msg);
    return n;
}

static void search_ranks_by_relevance_then_newest(void **state)
{
    fx_t *f = *state;
    int64_t once = put(f->db.c, MEM, "fact", "the quick brown fox", NULL, 0, 0);
    int64_t thrice = put(f->db.c, MEM, "fact", "fox fox fox", "https://example.org/fox", 0, 0);
    put(f->db.c, MEM, "fact", "a lazy dog", NULL, 0, 0);
    int64_t red = put(f->db.c, MEM, "fact", "red cat", NULL, 0, 0);
    int64_t blue = put(f->db.c, MEM, "fact", "blue cat", NULL, 0, 0);

    json_t *a = search(f->db.c, MEM, "fox", NULL, 10);
    assert_int_equal(json_array_size(a), 2);
    assert_int_equal(id_at(a, 0), thrice);
    assert_int_equal(id_at(a, 1), once);
    double r0 = json_real_value(json_object_get(json_array_get(a, 0), "rank"));
    double r1 = json_real_value(json_object_get(json_array_get(a, 1), "rank"));
    assert_true(r0 > r1 && r1 > 0);
    /* the whole shape of a result */
    json_t *o = json_array_get(a, 0);
    assert_int_equal(json_object_size(o), 7);
    assert_string_equal(str_at(a, 0, "kind"), "fact");
    assert_string_equal(str_at(a, 0, "content"), "fox fox fox");
    assert_string_equal(str_at(a, 0, "source"), "https://example.org/fox");
    assert_true(json_is_null(json_object_get(json_array_get(a, 1), "source")));
    assert_true(json_is_object(json_object_get(o, "metadata")));
    assert_int_equal(json_object_size(json_object_get(o, "metadata")), 0);
    const char *at = str_at(a, 0, "inserted_at");
    assert_int_equal(strlen(at), 20);
    assert_true(at[4] == '-' && at[7] == '-' && at[10] == 'T' && at[13] == ':' && at[16] == ':' && at[19] == 'Z');
    char *now = ac_test_db_value(f->db.c, "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')");
    assert_memory_equal(at, now, 10);
    free(now);
    json_decref(a);

    /* equal ranks: the newest first */
    a = search(f->db.c, MEM, "cat", NULL, 10);
    assert_int_equal(json_array_size(a), 2);
    assert_int_equal(id_at(a, 0), blue);
    assert_int_equal(id_at(a, 1), red);
    json_decref(a);

    /* every word must be there (websearch syntax: quotes, "or", "-") */
    a = search(f->db.c, MEM, "quick fox", NULL, 10);
    assert_int_equal(json_array_size(a), 1);
    json_decref(a);
    a = search(f->db.c, MEM, "dog or cat", NULL, 10);
    assert_int_equal(json_array_size(a), 3);
    json_decref(a);
    a = search(f->db.c, MEM, "fox -quick", NULL, 10);
    assert_int_equal(json_array_size(a), 1);
    assert_int_equal(id_at(a, 0), thrice);
    json_decref(a);
    a = search(f->db.c, MEM, "\"brown fox\"", NULL, 10);
    assert_int_equal(json_array_size(a), 1);
    assert_int_equal(id_at(a, 0), once);
    json_decref(a);
    /* case does not matter */
    a = search(f->db.c, MEM, "FOX", NULL, 10);
    assert_int_equal(json_array_size(a), 2);
    json_decref(a);
}

static void search_and_recent_take_a_limit(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < 55; i++)
        put(f->db.c, MEM, "note", "same words here", NULL, 0, 0);
    json_t *a = search(f->db.c, MEM, "words", NULL, AC_NODE_MEMORY_LIMIT_DEFAULT);
    assert_int_equal(json_array_size(a), 10);
    json_decref(a);
    a = search(f->db.c, MEM, "words", NULL, 1);
    assert_int_equal(json_array_size(a), 1);
    json_decref(a);
    a = search(f->db.c, MEM, "words", NULL, AC_NODE_MEMORY_LIMIT_MAX);
    assert_int_equal(json_array_size(a), 50);
    json_decref(a);
    a = recent(f->db.c, MEM, NULL, AC_NODE_MEMORY_LIMIT_MAX);
    assert_int_equal(json_array_size(a), 50);
    json_decref(a);

    json_t *out = (json_t *)1;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_memory_search(f->db.c, MEM, S("words"), NULL, 0, &out, &err), -AC_EINVAL);
    assert_null(out);
    assert_non_null(strstr(err.msg, "limit"));
    assert_int_equal(ac_node_memory_search(f->db.c, MEM, S("words"), NULL, 51, &out, &err), -AC_EINVAL);
    assert_int_equal(ac_node_memory_search(f->db.c, MEM, S("words"), NULL, -1, &out, &err), -AC_EINVAL);
    assert_int_equal(ac_node_memory_recent(f->db.c, MEM, NULL, 0, &out, &err), -AC_EINVAL);
    assert_int_equal(ac_node_memory_recent(f->db.c, MEM, NULL, 51, &out, &err), -AC_EINVAL);
    assert_null(out);
}

static void the_kind_filter_applies(void **state)
{
    fx_t *f = *state;
    int64_t news = put(f->db.c, MEM, "news_item", "market report today", NULL, 0, 0);
    int64_t fact = put(f->db.c, MEM, "fact", "market hours are nine to five", NULL, 0, 0);
    json_t *a = search(f->db.c, MEM, "market", "news_item", 10);
    assert_int_equal(json_array_size(a), 1);
    assert_int_equal(id_at(a, 0), news);
    json_decref(a);
    a = search(f->db.c, MEM, "market", "fact", 10);
    assert_int_equal(json_array_size(a), 1);
    assert_int_equal(id_at(a, 0), fact);
    json_decref(a);
    a = search(f->db.c, MEM, "market", "summary", 10);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    a = recent(f->db.c, MEM, "news_item", 10);
    assert_int_equal(json_array_size(a), 1);
    assert_int_equal(id_at(a, 0), news);
    json_decref(a);
    /* a filter that looks like SQL is not a kind */
    json_t *out = NULL;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_memory_search(f->db.c, MEM, S("market"), "fact' OR '1'='1", 10, &out, &err), -AC_EINVAL);
    assert_int_equal(ac_node_memory_recent(f->db.c, MEM, "Fact", 10, &out, &err), -AC_EINVAL);
    assert_int_equal(ac_node_memory_recent(f->db.c, MEM, "", 10, &out, &err), -AC_EINVAL);
    assert_null(out);
}

static void recent_lists_newest_first(void **state)
{
    fx_t *f = *state;
    json_t *a = recent(f->db.c, MEM, NULL, 10);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    int64_t id1 = put(f->db.c, MEM, "note", "first", NULL, 0, 0);
    int64_t id2 = put(f->db.c, MEM, "note", "second", NULL, 0, 0);
    int64_t id3 = put(f->db.c, MEM, "other", "third", NULL, 0, 0);
    /* an older entry written later (an import) sorts by its time, not its id */
    ac_test_db_exec(f->db.c, "INSERT INTO memories (kind, content, inserted_at) VALUES ('note', 'old', now() - "
                             "interval '1 day')");
    a = recent(f->db.c, MEM, NULL, 10);
    assert_int_equal(json_array_size(a), 4);
    assert_int_equal(id_at(a, 0), id3);
    assert_int_equal(id_at(a, 1), id2);
    assert_int_equal(id_at(a, 2), id1);
    assert_string_equal(str_at(a, 3, "content"), "old");
    assert_null(json_object_get(json_array_get(a, 0), "rank"));
    assert_int_equal(json_object_size(json_array_get(a, 0)), 6);
    json_decref(a);
    a = recent(f->db.c, MEM, "note", 2);
    assert_int_equal(json_array_size(a), 2);
    assert_int_equal(id_at(a, 0), id2);
    assert_int_equal(id_at(a, 1), id1);
    json_decref(a);
}

static void exists_matches_as_the_original(void **state)
{
    fx_t *f = *state;
    put(f->db.c, MEM, "news_item", "Rates rise again", "https://example.org/a", 0, 0);
    put(f->db.c, KNO, "doc", "How to install", "https://docs.example.org/install", 0, 0);
    /* memories: the source or the whole content, exactly */
    assert_true(exists(f->db.c, MEM, "https://example.org/a"));
    assert_true(exists(f->db.c, MEM, "Rates rise again"));
    assert_false(exists(f->db.c, MEM, "rates rise again"));
    assert_false(exists(f->db.c, MEM, "Rates rise"));
    assert_false(exists(f->db.c, MEM, "https://example.org/"));
    assert_false(exists(f->db.c, MEM, "%"));
    /* knowledge: the source only */
    assert_true(exists(f->db.c, KNO, "https://docs.example.org/install"));
    assert_false(exists(f->db.c, KNO, "How to install"));
    assert_false(exists(f->db.c, KNO, "https://example.org/a"));

    bool found = true;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_memory_exists(f->db.c, MEM, "", 0, &found, &err), -AC_EINVAL);
    assert_false(found);
    assert_int_equal(ac_node_memory_exists(f->db.c, KNO, NULL, 0, &found, &err), -AC_EINVAL);
    /* the limits: memories take a content, knowledge a source */
    char *big = ac_malloc(AC_NODE_MEMORY_CONTENT_MAX + 1);
    memset(big, 'x', AC_NODE_MEMORY_CONTENT_MAX + 1);
    assert_int_equal(ac_node_memory_exists(f->db.c, MEM, big, AC_NODE_MEMORY_CONTENT_MAX, &found, &err), 0);
    assert_int_equal(ac_node_memory_exists(f->db.c, MEM, big, AC_NODE_MEMORY_CONTENT_MAX + 1, &found, &err),
                     -AC_ETOOLONG);
    assert_int_equal(ac_node_memory_exists(f->db.c, KNO, big, AC_NODE_MEMORY_SOURCE_MAX, &found, &err), 0);
    assert_int_equal(ac_node_memory_exists(f->db.c, KNO, big, AC_NODE_MEMORY_SOURCE_MAX + 1, &found, &err),
                     -AC_ETOOLONG);
    assert_int_equal(ac_node_memory_exists(f->db.c, MEM, "a\0b", 3, &found, &err), -AC_EINVAL);
    assert_int_equal(ac_node_memory_exists(f->db.c, MEM, "\xff", 1, &found, &err), -AC_EINVAL);
    free(big);
}

static void expired_entries_are_hidden_and_pruned(void **state)
{
    fx_t *f = *state;
    int64_t keep = put(f->db.c, MEM, "news_item", "lasting story", "https://example.org/keep", 0, 0);
    int64_t later = put(f->db.c, MEM, "news_item", "story for an hour", "https://example.org/later", 3600, 0);
    int64_t gone = put(f->db.c, MEM, "news_item", "story gone soon", "https://example.org/gone", 3600, 0);
    ac_test_assert_sql(f->db.c,
                       "SELECT expires_at BETWEEN now() + interval '3590 s' AND now() + interval '3610 s' FROM "
                       "memories WHERE content = 'story for an hour'",
                       "t");
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM memories WHERE expires_at IS NULL", "1");
    assert_int_equal(prune(f->db.c, MEM), 0);

    /* the hour has passed for one of them */
    ac_test_db_exec(f->db.c,
                    "UPDATE memories SET expires_at = now() - interval '1 s' WHERE content = 'story gone soon'");
    json_t *a = search(f->db.c, MEM, "story", NULL, 10);
    assert_int_equal(json_array_size(a), 2);
    assert_int_equal(id_at(a, 0), later);
    assert_int_equal(id_at(a, 1), keep);
    json_decref(a);
    a = recent(f->db.c, MEM, NULL, 10);
    assert_int_equal(json_array_size(a), 2);
    json_decref(a);
    assert_false(exists(f->db.c, MEM, "https://example.org/gone"));
    assert_false(exists(f->db.c, MEM, "story gone soon"));
    assert_true(exists(f->db.c, MEM, "https://example.org/later"));
    /* an expired entry cannot be a parent either */
    ac_node_memory_entry_t e = {"note", S("child"), NULL, 0, NULL, 0, gone};
    int64_t id = -1;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_memory_store(f->db.c, MEM, &e, &id, &err), -AC_ENOENT);
    assert_int_equal(id, 0);

    assert_int_equal(prune(f->db.c, MEM), 1);
    ac_test_assert_sql(f->db.c, "SELECT string_agg(content, ',' ORDER BY id) FROM memories",
                       "lasting story,story for an hour");
    assert_int_equal(prune(f->db.c, MEM), 0);

    /* a real one-second expiry, without touching the row */
    put(f->db.c, MEM, "note", "ephemeral words", NULL, 1, 0);
    a = search(f->db.c, MEM, "ephemeral", NULL, 10);
    assert_int_equal(json_array_size(a), 1);
    json_decref(a);
    usleep(1200 * 1000);
    a = search(f->db.c, MEM, "ephemeral", NULL, 10);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    assert_int_equal(prune(f->db.c, MEM), 1);
}

static void children_go_with_their_parent(void **state)
{
    fx_t *f = *state;
    int64_t parent = put(f->db.c, MEM, "doc", "parent document", NULL, 0, 0);
    int64_t child = put(f->db.c, MEM, "doc", "chunk one", NULL, 0, parent);
    put(f->db.c, MEM, "doc", "chunk two", NULL, 0, child);
    int64_t other = put(f->db.c, MEM, "doc", "unrelated", NULL, 0, 0);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT parent_id FROM memories WHERE id = %lld", (long long)child);
    char want[32];
    snprintf(want, sizeof(want), "%lld", (long long)parent);
    ac_test_assert_sql(f->db.c, sql, want);

    /* a parent that does not exist, or lives in the other table */
    ac_node_memory_entry_t e = {"doc", S("orphan"), NULL, 0, NULL, 0, other + 1000};
    int64_t id = -1;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_memory_store(f->db.c, MEM, &e, &id, &err), -AC_ENOENT);
    assert_non_null(strstr(err.msg, "parent"));
    e.parent_id = parent;
    assert_int_equal(ac_node_memory_store(f->db.c, KNO, &e, &id, &err), -AC_ENOENT);
    e.parent_id = -1;
    assert_int_equal(ac_node_memory_store(f->db.c, MEM, &e, &id, &err), -AC_EINVAL);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM memories", "4");
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM knowledge_entries", "0");

    /* deleting the parent deletes its children, grandchildren included */
    snprintf(sql, sizeof(sql), "DELETE FROM memories WHERE id = %lld", (long long)parent);
    ac_test_db_exec(f->db.c, sql);
    ac_test_assert_sql(f->db.c, "SELECT string_agg(content, ',') FROM memories", "unrelated");

    /* a child never outlives its parent: its expiry is capped, and pruning takes both */
    int64_t p2 = put(f->db.c, KNO, "doc", "short lived parent", NULL, 60, 0);
    put(f->db.c, KNO, "doc", "long lived child", NULL, 0, p2);
    put(f->db.c, KNO, "doc", "longer lived child", NULL, 7200, p2);
    ac_test_assert_sql(f->db.c,
                       "SELECT count(DISTINCT expires_at) || '/' || count(*) FROM knowledge_entries "
                       "WHERE expires_at IS NOT NULL",
                       "1/3");
    ac_test_db_exec(f->db.c, "UPDATE knowledge_entries SET expires_at = now() - interval '1 s'");
    json_t *a = recent(f->db.c, KNO, NULL, 10);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    assert_int_equal(prune(f->db.c, KNO), 3);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM knowledge_entries", "0");
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM memories", "1");
}

static void the_two_tables_are_independent(void **state)
{
    fx_t *f = *state;
    int64_t m = put(f->db.c, MEM, "fact", "shared word alpha", "https://example.org/s", 0, 0);
    int64_t k = put(f->db.c, KNO, "guide", "shared word beta", "https://example.org/s", 60, 0);
    assert_int_equal(m, k); /* each table counts its own ids */

    json_t *a = search(f->db.c, MEM, "shared", NULL, 10);
    assert_int_equal(json_array_size(a), 1);
    assert_string_equal(str_at(a, 0, "content"), "shared word alpha");
    json_decref(a);
    a = search(f->db.c, KNO, "shared", NULL, 10);
    assert_int_equal(json_array_size(a), 1);
    assert_string_equal(str_at(a, 0, "content"), "shared word beta");
    json_decref(a);
    a = search(f->db.c, KNO, "alpha", NULL, 10);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    a = recent(f->db.c, KNO, "fact", 10);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    assert_false(exists(f->db.c, KNO, "shared word alpha"));

    ac_test_db_exec(f->db.c, "UPDATE knowledge_entries SET expires_at = now() - interval '1 s'");
    assert_int_equal(prune(f->db.c, MEM), 0);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM knowledge_entries", "1");
    assert_int_equal(prune(f->db.c, KNO), 1);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM memories", "1");

    /* no third table */
    json_t *out = NULL;
    int64_t id = 0, n = 0;
    bool found = false;
    ac_errmsg_t err = {{0}};
    ac_node_memory_entry_t e = {"fact", S("x"), NULL, 0, NULL, 0, 0};
    assert_int_equal(ac_node_memory_store(f->db.c, (ac_node_memory_table_t)2, &e, &id, &err), -AC_EINVAL);
    assert_int_equal(ac_node_memory_search(f->db.c, (ac_node_memory_table_t)-1, S("x"), NULL, 1, &out, &err),
                     -AC_EINVAL);
    assert_int_equal(ac_node_memory_recent(f->db.c, (ac_node_memory_table_t)2, NULL, 1, &out, &err), -AC_EINVAL);
    assert_int_equal(ac_node_memory_exists(f->db.c, (ac_node_memory_table_t)2, S("x"), &found, &err), -AC_EINVAL);
    assert_int_equal(ac_node_memory_prune_expired(f->db.c, (ac_node_memory_table_t)2, &n, &err), -AC_EINVAL);
}

/* Stores e and expects code; the message must not repeat the marker the content, source or metadata holds. */
static void refused(fx_t *f, const ac_node_memory_entry_t *e, int code, const char *needle)
{
    int64_t id = -1;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_memory_store(f->db.c, MEM, e, &id, &err);
    if (rc != code)
        fail_msg("store returned %d (%s), want %d", rc, err.msg, code);
    assert_int_equal(id, 0);
    assert_non_null(strstr(err.msg, needle));
    assert_null(strstr(err.msg, "MARK"));
}

static void accepted(fx_t *f, const ac_node_memory_entry_t *e)
{
    int64_t id = 0;
    ac_errmsg_t err = {{0}};
    if (ac_node_memory_store(f->db.c, MEM, e, &id, &err) != 0)
        fail_msg("store: %s", err.msg);
}

static json_t *nested(int depth) /* objects and arrays, depth levels in all, an object on top */
{
    json_t *v = json_object();
    json_object_set_new(v, "leaf", json_string("MARK"));
    for (int d = 2; d <= depth; d++) {
        json_t *o = d == depth || d % 2 == 1 ? json_object() : json_array();
        if (json_is_array(o))
            json_array_append_new(o, v);
        else
            json_object_set_new(o, "in", v);
        v = o;
    }
    return v;
}

static void every_store_limit_holds(void **state)
{
    fx_t *f = *state;
    char *buf = ac_malloc(AC_NODE_MEMORY_CONTENT_MAX + 2);
    memset(buf, 'M', AC_NODE_MEMORY_CONTENT_MAX + 1);
    memcpy(buf, "MARK ", 5);
    ac_node_memory_entry_t ok = {"fact", S("MARK fine"), NULL, 0, NULL, 0, 0};
    ac_node_memory_entry_t e;

    /* kind */
    char k64[AC_NODE_MEMORY_KIND_MAX + 2];
    memset(k64, 'k', sizeof(k64));
    k64[AC_NODE_MEMORY_KIND_MAX] = '\0';
    const char *const good_kinds[] = {"a", "news_item", "a1_", k64};
    for (size_t i = 0; i < sizeof(good_kinds) / sizeof(good_kinds[0]); i++) {
        e = ok;
        e.kind = good_kinds[i];
        accepted(f, &e);
    }
    char k65[AC_NODE_MEMORY_KIND_MAX + 2];
    memset(k65, 'k', sizeof(k65));
    k65[AC_NODE_MEMORY_KIND_MAX + 1] = '\0';
    const char *const bad_kinds[] = {"", "1abc", "_a", "News", "news-item", "news item", "caf\xc3\xa9", NULL, k65};
    for (size_t i = 0; i < sizeof(bad_kinds) / sizeof(bad_kinds[0]); i++) {
        e = ok;
        e.kind = bad_kinds[i];
        refused(f, &e, -AC_EINVAL, "kind");
    }

    /* content */
    e = ok;
    e.content = buf;
    e.content_len = AC_NODE_MEMORY_CONTENT_MAX;
    accepted(f, &e);
    e.content_len = AC_NODE_MEMORY_CONTENT_MAX + 1;
    refused(f, &e, -AC_ETOOLONG, "65536");
    e.content_len = 0;
    refused(f, &e, -AC_EINVAL, "content is empty");
    e.content = NULL;
    e.content_len = 5;
    refused(f, &e, -AC_EINVAL, "content is empty");
    static const char *const bad_utf8[] = {"MARK\x00x",        "MARK\xff",        "MARK\xc0\xaf",
                                           "MARK\xed\xa0\x80", "MARK\xe2\x82",    "MARK\xf4\x90\x80\x80",
                                           "MARK\x80",         "MARK\xe0\x80\xaf"};
    static const size_t bad_len[] = {6, 5, 6, 7, 6, 8, 5, 7};
    for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
        e = ok;
        e.content = bad_utf8[i];
        e.content_len = bad_len[i];
        refused(f, &e, -AC_EINVAL, "UTF-8");
    }
    /* a 4-byte character that ends exactly at the limit */
    memcpy(buf + AC_NODE_MEMORY_CONTENT_MAX - 4, "\xf0\x9f\xa6\x8a", 4);
    e = ok;
    e.content = buf;
    e.content_len = AC_NODE_MEMORY_CONTENT_MAX;
    accepted(f, &e);
    memset(buf, 'M', AC_NODE_MEMORY_CONTENT_MAX + 1);

    /* source */
    e = ok;
    e.source = buf;
    e.source_len = AC_NODE_MEMORY_SOURCE_MAX;
    accepted(f, &e);
    e.source_len = AC_NODE_MEMORY_SOURCE_MAX + 1;
    refused(f, &e, -AC_ETOOLONG, "source is 2049 bytes, at most 2048");
    e.source_len = 0;
    refused(f, &e, -AC_EINVAL, "source is empty");
    e.source = "MARK\xfe";
    e.source_len = 5;
    refused(f, &e, -AC_EINVAL, "source is not valid UTF-8");

    /* ttl and parent */
    e = ok;
    e.ttl_s = AC_NODE_MEMORY_TTL_MAX_S;
    accepted(f, &e);
    e.ttl_s = AC_NODE_MEMORY_TTL_MAX_S + 1;
    refused(f, &e, -AC_EINVAL, "ttl");
    e.ttl_s = -1;
    refused(f, &e, -AC_EINVAL, "ttl");
    e.ttl_s = INT64_MIN;
    refused(f, &e, -AC_EINVAL, "ttl");
    e = ok;
    e.parent_id = INT64_MIN;
    refused(f, &e, -AC_EINVAL, "parent");

    /* metadata: an object, at most 8 levels, at most 16 KiB, no NUL and valid UTF-8 anywhere */
    e = ok;
    json_t *m = nested(AC_NODE_MEMORY_METADATA_DEPTH_MAX);
    e.metadata = m;
    accepted(f, &e);
    json_decref(m);
    m = nested(AC_NODE_MEMORY_METADATA_DEPTH_MAX + 1);
    e.metadata = m;
    refused(f, &e, -AC_ETOOLONG, "nested more than 8 levels");
    json_decref(m);
    m = json_array();
    e.metadata = m;
    refused(f, &e, -AC_EINVAL, "must be a JSON object");
    json_decref(m);
    m = json_string("MARK");
    e.metadata = m;
    refused(f, &e, -AC_EINVAL, "must be a JSON object");
    json_decref(m);
    /* {"k":"xxx..."}: 8 bytes around the string */
    m = json_object();
    json_object_set_new(m, "k", json_stringn(buf, AC_NODE_MEMORY_METADATA_MAX - 8));
    e.metadata = m;
    accepted(f, &e);
    json_object_set_new(m, "k", json_stringn(buf, AC_NODE_MEMORY_METADATA_MAX - 7));
    refused(f, &e, -AC_ETOOLONG, "16384 bytes");
    json_object_set_new(m, "k", json_stringn("MARK\0x", 6));
    refused(f, &e, -AC_EINVAL, "metadata string");
    json_object_set_new(m, "k", json_string_nocheck("MARK\xff"));
    refused(f, &e, -AC_EINVAL, "metadata string");
    json_object_del(m, "k");
    json_object_setn_new(m, "MARK\0k", 6, json_true());
    refused(f, &e, -AC_EINVAL, "metadata key");
    json_decref(m);
    /* containers that hold each other stop at the depth limit */
    m = json_object();
    json_t *a1 = json_array(), *a2 = json_array();
    json_object_set(m, "loop", a1);
    json_array_append(a1, a2);
    json_array_append(a2, a1);
    e.metadata = m;
    refused(f, &e, -AC_ETOOLONG, "nested");
    json_array_clear(a2);
    json_decref(a2);
    json_decref(a1);
    json_decref(m);

    /* nothing refused was stored: 4 kinds, 2 contents, 1 source, 1 ttl, 2 metadata */
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM memories", "10");
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM knowledge_entries", "0");
    free(buf);
}

static void every_query_limit_holds(void **state)
{
    fx_t *f = *state;
    put(f->db.c, MEM, "fact", "limits", NULL, 0, 0);
    char q[AC_NODE_MEMORY_QUERY_MAX + 1];
    memset(q, 'w', sizeof(q));
    json_t *out = NULL;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_memory_search(f->db.c, MEM, q, AC_NODE_MEMORY_QUERY_MAX, NULL, 10, &out, &err), 0);
    assert_int_equal(json_array_size(out), 0);
    json_decref(out);
    out = NULL;
    assert_int_equal(ac_node_memory_search(f->db.c, MEM, q, AC_NODE_MEMORY_QUERY_MAX + 1, NULL, 10, &out, &err),
                     -AC_ETOOLONG);
    assert_non_null(strstr(err.msg, "query is 1025 bytes, at most 1024"));
    assert_int_equal(ac_node_memory_search(f->db.c, MEM, "", 0, NULL, 10, &out, &err), -AC_EINVAL);
    assert_non_null(strstr(err.msg, "query is empty"));
    assert_int_equal(ac_node_memory_search(f->db.c, MEM, NULL, 3, NULL, 10, &out, &err), -AC_EINVAL);
    assert_int_equal(ac_node_memory_search(f->db.c, MEM, "MARK\0x", 6, NULL, 10, &out, &err), -AC_EINVAL);
    assert_null(strstr(err.msg, "MARK"));
    assert_int_equal(ac_node_memory_search(f->db.c, MEM, "MARK\xc3", 5, NULL, 10, &out, &err), -AC_EINVAL);
    assert_null(strstr(err.msg, "MARK"));
    assert_int_equal(ac_node_memory_search(f->db.c, MEM, S("limits"), "bad kind", 10, &out, &err), -AC_EINVAL);
    assert_null(out);
    /* the query need not end with a NUL: only its length counts */
    char word[8] = {'l', 'i', 'm', 'i', 't', 's', 'X', 'X'};
    assert_int_equal(ac_node_memory_search(f->db.c, MEM, word, 6, NULL, 10, &out, &err), 0);
    assert_int_equal(json_array_size(out), 1);
    json_decref(out);
}

static void hostile_queries_are_just_words(void **state)
{
    fx_t *f = *state;
    const char *inj = "x'); DROP TABLE memories; --";
    int64_t id = put(f->db.c, MEM, "fact", inj, inj, 0, 0);
    put(f->db.c, MEM, "fact", "drop the table please", NULL, 0, 0);
    static const char *const queries[] = {
        "'; DROP TABLE memories; --",
        "x'); DROP TABLE memories; --",
        "' OR '1'='1",
        "1; SELECT pg_sleep(10)",
        "$1 $2 ::text",
        "fox & | ! ( ) <-> :* :A",
        "!!!",
        "(((",
        "\"unclosed quote",
        "-",
        "- or",
        "or",
        "a <2> b",
        "\\",
        "% _ %%",
        "fox:*",
        "'fox':*A",
        "--",
        "/* comment */",
        "\xe2\x80\x8b", /* a zero-width space */
    };
    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        json_t *out = NULL;
        ac_errmsg_t err = {{0}};
        if (ac_node_memory_search(f->db.c, MEM, S(queries[i]), NULL, 10, &out, &err) != 0)
            fail_msg("query %zu: %s", i, err.msg);
        assert_true(json_is_array(out));
        json_decref(out);
    }
    /* the injection text is stored and found as text */
    json_t *a = search(f->db.c, MEM, "drop table memories", NULL, 10);
    assert_int_equal(json_array_size(a), 1);
    assert_int_equal(id_at(a, 0), id);
    assert_string_equal(str_at(a, 0, "content"), inj);
    assert_string_equal(str_at(a, 0, "source"), inj);
    json_decref(a);
    assert_true(exists(f->db.c, MEM, inj));
    /* queries without a word match nothing */
    a = search(f->db.c, MEM, "!!! ---", NULL, 10);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM memories", "2");
}

static void unicode_round_trips_and_folds_case(void **state)
{
    fx_t *f = *state;
    const char *text = "\xc3\x89"
                       "cole d'\xc3\xa9t\xc3\xa9 \xe2\x80\x94 Stra\xc3\x9f"
                       "e, \xe6\x9d\xb1\xe4\xba\xac, "
                       "\xd0\xa2\xd0\x95\xd0\xa1\xd0\xa2 \xf0\x9f\xa6\x8a";
    const char *source = "https://example.org/\xc3\xa9t\xc3\xa9";
    ac_node_memory_entry_t e = {"fact", S(text), S(source), NULL, 0, 0};
    json_t *meta = json_pack("{s:s, s:[i, f, b, n], s:{s:s}}", "lang", "fr \xc3\xa9", "list", 1, 2.5, 1, "obj", "k",
                             "\xe6\x9d\xb1");
    e.metadata = meta;
    int64_t id = 0;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_memory_store(f->db.c, MEM, &e, &id, &err), 0);

    json_t *a = recent(f->db.c, MEM, NULL, 10);
    assert_int_equal(json_array_size(a), 1);
    assert_string_equal(str_at(a, 0, "content"), text);
    assert_string_equal(str_at(a, 0, "source"), source);
    assert_true(json_equal(json_object_get(json_array_get(a, 0), "metadata"), meta));
    json_decref(a);
    json_decref(meta);

    /* case folds beyond ASCII, whatever the database's locale */
    static const char *const hits[] = {
        "\xc3\xa9"
        "cole", /* école */
        "\xc3\x89"
        "COLE",                             /* ÉCOLE */
        "\xe6\x9d\xb1\xe4\xba\xac",         /* 東京 */
        "\xd1\x82\xd0\xb5\xd1\x81\xd1\x82", /* тест */
        "stra\xc3\x9f"
        "e", /* straße */
        "\"\xc3\xa9"
        "cole d'\xc3\xa9t\xc3\xa9\"", /* a phrase */
    };
    for (size_t i = 0; i < sizeof(hits) / sizeof(hits[0]); i++) {
        a = search(f->db.c, MEM, hits[i], NULL, 10);
        if (json_array_size(a) != 1)
            fail_msg("query %zu found %zu", i, json_array_size(a));
        assert_int_equal(id_at(a, 0), id);
        json_decref(a);
    }
    a = search(f->db.c, MEM, "ecole", NULL, 10); /* accents are not folded */
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    assert_true(exists(f->db.c, MEM, text));
    assert_true(exists(f->db.c, MEM, source));
}

static void a_lost_connection_is_reported(void **state)
{
    fx_t *f = *state;
    PGconn *c = ac_test_db_connect(f->db.ci);
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d, 10000)", PQbackendPID(c)); /* waits */
    ac_test_db_exec(f->db.c, sql);
    json_t *out = NULL;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_memory_search(c, MEM, S("anything"), NULL, 10, &out, &err);
    assert_true(rc == -AC_EDBDOWN || rc == -AC_EDB);
    assert_null(out);
    assert_int_equal(ac_node_memory_recent(c, MEM, NULL, 10, &out, &err), -AC_EDBDOWN);
    assert_non_null(strstr(err.msg, "memory: recent"));
    int64_t id = -1;
    ac_node_memory_entry_t e = {"fact", S("x"), NULL, 0, NULL, 0, 0};
    assert_int_equal(ac_node_memory_store(c, KNO, &e, &id, &err), -AC_EDBDOWN);
    assert_int_equal(id, 0);
    PQfinish(c);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(search_ranks_by_relevance_then_newest),
        T(search_and_recent_take_a_limit),
        T(the_kind_filter_applies),
        T(recent_lists_newest_first),
        T(exists_matches_as_the_original),
        T(expired_entries_are_hidden_and_pruned),
        T(children_go_with_their_parent),
        T(the_two_tables_are_independent),
        T(every_store_limit_holds),
        T(every_query_limit_holds),
        T(hostile_queries_are_just_words),
        T(unicode_round_trips_and_folds_case),
        T(a_lost_connection_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
