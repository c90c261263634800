/* tests/integration/test_policies.c - the rule table and its cache against a real PostgreSQL server: rules are
 * validated when added; the cache serves enabled rules sorted by priority; a change made through another connection
 * (another node) reaches it at the next lookup through NOTIFY, not after the TTL; a stored rule that does not parse is
 * skipped; and one decision with its audit row (node/authorize.c): denials always recorded, allows only when
 * auth.audit.allows is on, and a looping skill's denials coalesced. */
#include "node/audit.h"
#include "node/authorize.h"
#include "node/policies.h"
#include "node/settings_store.h"
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

#define NOON 1795003200000LL /* 2026-11-18T12:00:00Z */

typedef struct {
    ac_test_db_t db;
    PGconn *c2;
    ac_node_env_t env;
    ac_node_settings_t *s;
    ac_node_policies_t *p;
    ac_policy_skillrate_t *rl;
    uint8_t tkey[32], akey[32];
} fx_t;

static int setup(void **state)
{
    fx_t *f = ac_calloc(1, sizeof(*f));
    ac_test_db_open_migrated("policies", &f->db);
    f->c2 = ac_test_db_connect(f->db.ci);
    f->env.values = ac_calloc(ac_node_config_registry_count, sizeof(char *));
    uint8_t key[32] = {9};
    f->s = ac_node_settings_new(key);
    ac_errmsg_t err = {{0}};
    if (ac_node_settings_store_boot(f->db.c, &f->env, f->s, &err) != 0)
        fail_msg("settings: %s", err.msg);
    f->p = ac_node_policies_new(f->db.ci);
    f->rl = ac_policy_skillrate_new();
    memset(f->tkey, 1, 32);
    memset(f->akey, 2, 32);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    ac_policy_skillrate_free(f->rl);
    ac_node_policies_free(f->p);
    ac_node_settings_free(f->s);
    ac_node_env_free(&f->env);
    PQfinish(f->c2);
    ac_test_db_close(&f->db);
    free(f);
    return 0;
}

static int64_t add(PGconn *c, const char *type, const char *config, int priority, bool enabled)
{
    int64_t id = 0;
    ac_errmsg_t err = {{0}};
    if (ac_node_policies_add(c, "rule", NULL, type, config, priority, enabled, &id, &err) != 0)
        fail_msg("add %s %s: %s", type, config, err.msg);
    return id;
}

static size_t rules_now(fx_t *f, int64_t now_ms, int64_t *first_id)
{
    ac_node_rules_t *r = NULL;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_policies_get(f->p, f->db.c, now_ms, &r, &err), 0);
    size_t n = r->n;
    if (first_id != NULL)
        *first_id = n > 0 ? r->v[0].id : 0;
    ac_node_rules_release(r);
    return n;
}

static void rules_are_validated_when_added(void **state)
{
    fx_t *f = *state;
    int64_t id = 0;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_policies_add(f->db.c, "r", NULL, "rate_limit", "{\"max_calls\": -1}", 0, true, &id, &err),
                     -AC_EINVAL);
    assert_non_null(strstr(err.msg, "max_calls"));
    assert_int_equal(ac_node_policies_add(f->db.c, "r", NULL, "mcp_restriction", "{}", 0, true, &id, &err), -AC_EINVAL);
    assert_int_equal(ac_node_policies_add(f->db.c, "", NULL, "rate_limit", "{}", 0, true, &id, &err), -AC_EINVAL);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM auth_policies", "0");
    assert_int_equal(ac_node_policies_enable(f->db.c, 42, false, &err), -AC_ENOENT);
    assert_int_equal(ac_node_policies_remove(f->db.c, 42, &err), -AC_ENOENT);
}

static void the_cache_serves_enabled_rules_by_priority(void **state)
{
    fx_t *f = *state;
    add(f->db.c, "time_window", "{}", 1, true);
    int64_t high = add(f->db.c, "rate_limit", "{}", 9, true);
    add(f->db.c, "chain_restriction", "{\"caller_pattern\": \"x\"}", 50, false);
    int64_t first = 0;
    assert_int_equal(rules_now(f, NOON, &first), 2);
    assert_int_equal(first, high);
}

static void a_change_through_another_node_is_seen_at_the_next_lookup(void **state)
{
    fx_t *f = *state;
    add(f->db.c, "time_window", "{}", 1, true);
    assert_int_equal(rules_now(f, NOON, NULL), 1);
    /* another node adds a rule: NOTIFY reaches this cache well before the 30 s TTL */
    int64_t id = add(f->c2, "rate_limit", "{}", 0, true);
    size_t n = 0;
    for (int i = 0; i < 50 && (n = rules_now(f, NOON + 1, NULL)) != 2; i++)
        usleep(20000);
    assert_int_equal(n, 2);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_policies_enable(f->c2, id, false, &err), 0);
    for (int i = 0; i < 50 && (n = rules_now(f, NOON + 2, NULL)) != 1; i++)
        usleep(20000);
    assert_int_equal(n, 1);
    assert_int_equal(ac_node_policies_remove(f->c2, id, &err), 0);
}

static void a_stored_rule_that_does_not_parse_is_skipped(void **state)
{
    fx_t *f = *state;
    add(f->db.c, "time_window", "{}", 1, true);
    ac_test_db_exec(f->db.c, "INSERT INTO auth_policies (name, rule_type, config) VALUES ('bad', 'time_window', "
                             "'{\"deny_start_hour\": \"noon\"}'), ('odd', 'mcp_restriction', '{}')");
    ac_node_rules_t *r = NULL;
    ac_errmsg_t err = {{0}};
    ac_node_policies_invalidate(f->p);
    assert_int_equal(ac_node_policies_get(f->p, f->db.c, NOON, &r, &err), 0);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->skipped, 2);
    ac_node_rules_release(r);
}

static ac_policy_captoken_t tok; /* the token the node mints for the skill's run */

static ac_policy_authctx_t ctx(ac_policy_perms_t perm, ac_policy_perms_t declared)
{
    return (ac_policy_authctx_t){.token = &tok,
                                 .caller = "dynamic:weather",
                                 .type = AC_POLICY_CALLER_DYNAMIC,
                                 .permission = perm,
                                 .declared = declared,
                                 .run_id = 3,
                                 .now_ms = NOON};
}

static void denials_are_audited_and_allows_only_on_request(void **state)
{
    fx_t *f = *state;
    ac_node_authorizer_t a = {f->p, f->rl, f->tkey, f->akey, f->s};
    char why[AC_POLICY_AUTHZ_REASON_MAX];
    ac_policy_captoken_mint(f->tkey, AC_POLICY_PERM_ALL, 3, 0, -1, &tok);
    ac_policy_authctx_t c = ctx(AC_POLICY_PERM_LLM, AC_POLICY_PERM_LLM);
    assert_int_equal(ac_node_authorize(&a, f->db.c, &c, why, sizeof(why)), 0);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM auth_audit_log", "0");
    c = ctx(AC_POLICY_PERM_MEMORY_WRITE, AC_POLICY_PERM_LLM);
    for (int i = 0; i < 20; i++) /* a looping skill: one row */
        assert_int_equal(ac_node_authorize(&a, f->db.c, &c, why, sizeof(why)), -AC_EPERM);
    ac_test_assert_sql(
        f->db.c,
        "SELECT caller || '|' || caller_type || '|' || permission || '|' || decision || '|' || reason || "
        "'|' || workflow_run_id || '|' || count FROM auth_audit_log",
        "dynamic:weather|dynamic|memory_write|deny|permission :memory_write not declared|3|20");
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_settings_store_set(f->db.c, f->s, "auth.audit.allows", "true", NULL, &err), 0);
    c = ctx(AC_POLICY_PERM_LLM, AC_POLICY_PERM_LLM);
    assert_int_equal(ac_node_authorize(&a, f->db.c, &c, why, sizeof(why)), 0);
    ac_test_assert_sql(f->db.c, "SELECT decision FROM auth_audit_log ORDER BY id DESC LIMIT 1", "allow");
    /* a rule from the table applies */
    add(f->db.c, "permission_override", "{\"permission\": \"llm\", \"action\": \"deny\"}", 0, true);
    ac_node_policies_invalidate(f->p);
    assert_int_equal(ac_node_authorize(&a, f->db.c, &c, why, sizeof(why)), -AC_EPERM);
    assert_string_equal(why, "denied by permission override policy");
    ac_node_audit_report_t rep;
    assert_int_equal(ac_node_audit_verify(f->db.c, f->akey, &rep, &err), 0);
    assert_int_equal(rep.rows, 3);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(rules_are_validated_when_added),
        T(the_cache_serves_enabled_rules_by_priority),
        T(a_change_through_another_node_is_seen_at_the_next_lookup),
        T(a_stored_rule_that_does_not_parse_is_skipped),
        T(denials_are_audited_and_allows_only_on_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
