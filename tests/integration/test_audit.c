/* tests/integration/test_audit.c - the audit log's hash chain against a real PostgreSQL server: appends from two
 * connections at once keep one chain; identical denials within a minute share a row; every kind of tampering (a
 * changed field, a deleted row in the middle, at the start or at the end, an added row, a forged row without the key,
 * reordering) is found; pruning keeps the chain verifiable and records itself. */
#include "node/audit.h"
#include "policy/alloc.h"
#include "tests/support/testdb.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SKB "test-secret-key-base-0123456789-0123456789-abcdef"
#define T0  1790000000

typedef struct {
    ac_test_db_t db;
    uint8_t key[AC_POLICY_AUDIT_HASH_LEN];
} fx_t;

static int setup(void **state)
{
    fx_t *f = ac_calloc(1, sizeof(*f));
    ac_test_db_open_migrated("audit", &f->db);
    assert_int_equal(ac_policy_audit_key(SKB, strlen(SKB), f->key), 0);
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

static void deny(fx_t *f, PGconn *c, const char *caller, const char *perm, const char *reason, int64_t now)
{
    ac_node_audit_entry_t e = {caller, "dynamic", perm, "deny", reason, 7, 0};
    ac_errmsg_t err = {{0}};
    if (ac_node_audit_append(c, f->key, &e, now, &err) != 0)
        fail_msg("append: %s", err.msg);
}

static int verify(fx_t *f, ac_node_audit_report_t *rep)
{
    ac_errmsg_t err = {{0}};
    return ac_node_audit_verify(f->db.c, f->key, rep, &err);
}

static void fill(fx_t *f, int n)
{
    char reason[64];
    for (int i = 0; i < n; i++) {
        snprintf(reason, sizeof(reason), "permission :llm not declared (%d)", i);
        deny(f, f->db.c, "dynamic:weather", "llm", reason, T0 + i);
    }
}

static void an_intact_chain_verifies(void **state)
{
    fx_t *f = *state;
    ac_node_audit_report_t rep;
    assert_int_equal(verify(f, &rep), 0); /* empty */
    fill(f, 10);
    assert_int_equal(verify(f, &rep), 0);
    assert_int_equal(rep.rows, 10);
    /* another key (another SECRET_KEY_BASE) does not verify it */
    const char *other = "another-secret-key-base-0123456789-0123456789-xyz";
    uint8_t k2[32];
    assert_int_equal(ac_policy_audit_key(other, strlen(other), k2), 0);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_audit_verify(f->db.c, k2, &rep, &err), -AC_ESTATE);
}

static void identical_denials_within_a_minute_share_a_row(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < 100; i++) /* a looping skill */
        deny(f, f->db.c, "dynamic:loop", "web_read", "rate limit exceeded: max 10/60s", T0 + i / 10);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM auth_audit_log", "1");
    ac_test_assert_sql(f->db.c, "SELECT count FROM auth_audit_log", "100");
    deny(f, f->db.c, "dynamic:loop", "web_read", "rate limit exceeded: max 10/60s", T0 + 60); /* a minute later */
    deny(f, f->db.c, "dynamic:loop", "llm", "rate limit exceeded: max 10/60s", T0 + 60);      /* another perm */
    deny(f, f->db.c, "dynamic:loop", "web_read", "rate limit exceeded: max 10/60s", T0 + 61); /* not the last row */
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM auth_audit_log", "4");
    ac_node_audit_report_t rep;
    assert_int_equal(verify(f, &rep), 0);
    /* allows are never coalesced */
    ac_node_audit_entry_t a = {"dynamic:loop", "dynamic", "llm", "allow", "allowed", 0, 0};
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_audit_append(f->db.c, f->key, &a, T0 + 62, &err), 0);
    assert_int_equal(ac_node_audit_append(f->db.c, f->key, &a, T0 + 62, &err), 0);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM auth_audit_log", "6");
    assert_int_equal(verify(f, &rep), 0);
}

static void expect_broken(fx_t *f, const char *sql, const char *problem)
{
    ac_test_db_exec(f->db.c, sql);
    ac_node_audit_report_t rep;
    assert_int_equal(verify(f, &rep), -AC_ESTATE);
    if (strstr(rep.problem, problem) == NULL)
        fail_msg("after %s: \"%s\" does not say \"%s\"", sql, rep.problem, problem);
}

static void a_changed_field_is_found(void **state)
{
    fx_t *f = *state;
    fill(f, 5);
    expect_broken(f, "UPDATE auth_audit_log SET reason = 'nothing to see' WHERE id = 3", "changed");
}

static void a_changed_count_is_found(void **state)
{
    fx_t *f = *state;
    fill(f, 5);
    expect_broken(f, "UPDATE auth_audit_log SET count = 1, decision = 'allow' WHERE id = 5", "changed");
}

static void a_deleted_middle_row_is_found(void **state)
{
    fx_t *f = *state;
    fill(f, 5);
    expect_broken(f, "DELETE FROM auth_audit_log WHERE id = 3", "does not follow");
}

static void a_deleted_first_row_is_found(void **state)
{
    fx_t *f = *state;
    fill(f, 5);
    expect_broken(f, "DELETE FROM auth_audit_log WHERE id = 1", "first row is missing");
}

static void a_deleted_last_row_is_found(void **state)
{
    fx_t *f = *state;
    fill(f, 5);
    expect_broken(f, "DELETE FROM auth_audit_log WHERE id = 5", "end of the chain");
}

static void moving_the_ends_without_the_key_is_found(void **state)
{
    fx_t *f = *state;
    fill(f, 5);
    /* drop the last row and point the end at the one before: the mark does not match */
    expect_broken(f,
                  "DELETE FROM auth_audit_log WHERE id = 5; UPDATE auth_audit_ends SET last_id = 4, last_hash = "
                  "(SELECT hash FROM auth_audit_log WHERE id = 4)",
                  "ends were changed");
}

static void an_added_row_is_found(void **state)
{
    fx_t *f = *state;
    fill(f, 3);
    expect_broken(f,
                  "INSERT INTO auth_audit_log (caller, caller_type, permission, decision, inserted_at, last_at, "
                  "prev_hash, hash) SELECT 'dynamic:x', 'dynamic', 'llm', 'allow', now(), now(), hash, hash FROM "
                  "auth_audit_log WHERE id = 3",
                  "changed or forged");
}

static void swapped_rows_are_found(void **state)
{
    fx_t *f = *state;
    fill(f, 4);
    expect_broken(f,
                  "UPDATE auth_audit_log SET id = -2 WHERE id = 2; UPDATE auth_audit_log SET id = 2 WHERE id = 3; "
                  "UPDATE auth_audit_log SET id = 3 WHERE id = -2",
                  "");
}

typedef struct {
    fx_t *f;
    const char *conninfo;
    int who;
} worker_t;

static void *appender(void *arg)
{
    worker_t *w = arg;
    PGconn *c = ac_test_db_connect(w->conninfo);
    char caller[32], reason[32];
    for (int i = 0; i < 50; i++) {
        snprintf(caller, sizeof(caller), "dynamic:w%d", w->who);
        snprintf(reason, sizeof(reason), "denial %d", i);
        deny(w->f, c, caller, "llm", reason, T0 + i);
    }
    PQfinish(c);
    return NULL;
}

static void two_nodes_appending_at_once_keep_one_chain(void **state)
{
    fx_t *f = *state;
    pthread_t t[2];
    worker_t w[2] = {{f, f->db.ci, 0}, {f, f->db.ci, 1}};
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, appender, &w[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM auth_audit_log", "100");
    ac_node_audit_report_t rep;
    assert_int_equal(verify(f, &rep), 0);
    assert_int_equal(rep.rows, 100);
}

static void pruning_cuts_a_prefix_even_when_times_disagree_with_ids(void **state)
{
    fx_t *f = *state;
    /* two nodes with a few seconds of clock skew: ids and times are not in the same order */
    deny(f, f->db.c, "dynamic:a", "llm", "one", T0 + 5);
    deny(f, f->db.c, "dynamic:b", "llm", "two", T0);
    deny(f, f->db.c, "dynamic:c", "llm", "three", T0 + 100);
    int64_t pruned = 0;
    ac_errmsg_t err = {{0}};
    /* cut at T0 + 2: row 2 is old enough but row 1 before it is not; the chain keeps both */
    assert_int_equal(
        ac_node_audit_prune(f->db.c, f->key, T0 + 2 + AC_NODE_AUDIT_KEEP_S, AC_NODE_AUDIT_KEEP_S, &pruned, &err), 0);
    assert_int_equal(pruned, 0);
    ac_node_audit_report_t rep;
    assert_int_equal(verify(f, &rep), 0);
    assert_int_equal(rep.rows, 3);
    int64_t last = 0;
    char h[17];
    assert_int_equal(ac_node_audit_head(f->db.c, &last, h, &err), 0);
    assert_int_equal(last, 3);
    assert_int_equal(strlen(h), 16);
}

static void pruning_keeps_the_chain_and_records_itself(void **state)
{
    fx_t *f = *state;
    fill(f, 5); /* T0 .. T0+4 */
    for (int i = 0; i < 3; i++)
        deny(f, f->db.c, "dynamic:new", "llm", i == 0 ? "a" : i == 1 ? "b" : "c", T0 + AC_NODE_AUDIT_KEEP_S + i);
    int64_t pruned = 0;
    ac_errmsg_t err = {{0}};
    assert_int_equal(
        ac_node_audit_prune(f->db.c, f->key, T0 + AC_NODE_AUDIT_KEEP_S + 10, AC_NODE_AUDIT_KEEP_S, &pruned, &err), 0);
    assert_int_equal(pruned, 5);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM auth_audit_log", "4"); /* 3 kept + the checkpoint */
    ac_test_assert_sql(f->db.c, "SELECT reason FROM auth_audit_log WHERE decision = 'checkpoint'",
                       "pruned 5 rows older than 30 days (ids up to 5)");
    ac_node_audit_report_t rep;
    assert_int_equal(verify(f, &rep), 0);
    assert_int_equal(rep.rows, 4);
    /* nothing to prune: no checkpoint */
    assert_int_equal(
        ac_node_audit_prune(f->db.c, f->key, T0 + AC_NODE_AUDIT_KEEP_S + 11, AC_NODE_AUDIT_KEEP_S, &pruned, &err), 0);
    assert_int_equal(pruned, 0);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM auth_audit_log", "4");
    /* everything pruned: the checkpoint starts the chain */
    assert_int_equal(
        ac_node_audit_prune(f->db.c, f->key, T0 + 3 * AC_NODE_AUDIT_KEEP_S, AC_NODE_AUDIT_KEEP_S, &pruned, &err), 0);
    assert_int_equal(pruned, 4);
    assert_int_equal(verify(f, &rep), 0);
    assert_int_equal(rep.rows, 1);
    fill(f, 2);
    assert_int_equal(verify(f, &rep), 0);
    /* a pruned row put back (or an old row kept by hand) is found */
    expect_broken(f,
                  "INSERT INTO auth_audit_log (id, caller, caller_type, permission, decision, inserted_at, last_at, "
                  "prev_hash, hash) VALUES (1, 'x', 'dynamic', 'llm', 'deny', now(), now(), '\\x00', '\\x00')",
                  "older than the chain's first row");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(an_intact_chain_verifies),
        T(identical_denials_within_a_minute_share_a_row),
        T(a_changed_field_is_found),
        T(a_changed_count_is_found),
        T(a_deleted_middle_row_is_found),
        T(a_deleted_first_row_is_found),
        T(a_deleted_last_row_is_found),
        T(moving_the_ends_without_the_key_is_found),
        T(an_added_row_is_found),
        T(swapped_rows_are_found),
        T(two_nodes_appending_at_once_keep_one_chain),
        T(pruning_cuts_a_prefix_even_when_times_disagree_with_ids),
        T(pruning_keeps_the_chain_and_records_itself),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
