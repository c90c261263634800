/* tests/unit/policy/test_authz.c - the policy engine (reference 4.2): the order of the checks, every rule type with its
 * boundaries, the token step, the parsing of rule configs, ISO 8601 times, and the skill rate limiter. */
#include "policy/authz.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define KEYBASE "0123456789abcdef0123456789abcdef-test-secret-key-base"
#define NOON    1795003200000LL /* 2026-11-18T12:00:00Z in ms */

static uint8_t key[32];

static int setup(void **state)
{
    (void)state;
    return ac_policy_captoken_key(KEYBASE, strlen(KEYBASE), key);
}

static ac_policy_authctx_t dyn(ac_policy_perms_t perm, ac_policy_perms_t declared)
{
    return (ac_policy_authctx_t){.caller = "dynamic:weather",
                                 .type = AC_POLICY_CALLER_DYNAMIC,
                                 .permission = perm,
                                 .declared = declared,
                                 .chain_depth = 0,
                                 .run_id = 7,
                                 .now_ms = NOON};
}

static ac_policy_rule_t rule(const char *type, const char *config)
{
    ac_policy_rule_t r;
    ac_errmsg_t err = {{0}};
    if (ac_policy_rule_parse(type, config, strlen(config), &r, &err) != 0)
        fail_msg("%s %s: %s", type, config, err.msg);
    return r;
}

static int decide(const ac_policy_rule_t *rules, size_t n, ac_policy_skillrate_t *rl, const ac_policy_authctx_t *ctx,
                  char *reason)
{
    ac_policy_authz_cfg_t cfg = {.token_key = key, .max_chain_depth = 0};
    return ac_policy_authz_decide(&cfg, rules, n, rl, ctx, reason, AC_POLICY_AUTHZ_REASON_MAX);
}

static void core_skills_are_allowed_and_undeclared_permissions_denied(void **state)
{
    (void)state;
    char why[AC_POLICY_AUTHZ_REASON_MAX];
    ac_policy_authctx_t c = dyn(AC_POLICY_PERM_WEB_READ, 0);
    c.type = AC_POLICY_CALLER_CORE;
    assert_int_equal(decide(NULL, 0, NULL, &c, why), 0);
    c = dyn(AC_POLICY_PERM_WEB_READ, AC_POLICY_PERM_WEB_READ | AC_POLICY_PERM_LLM);
    assert_int_equal(decide(NULL, 0, NULL, &c, why), 0);
    c = dyn(AC_POLICY_PERM_MEMORY_WRITE, AC_POLICY_PERM_WEB_READ);
    assert_int_equal(decide(NULL, 0, NULL, &c, why), -AC_EPERM);
    assert_string_equal(why, "permission :memory_write not declared");
    c.permission = AC_POLICY_PERM_WEB_READ | AC_POLICY_PERM_LLM; /* two at once: nonsense */
    assert_int_equal(decide(NULL, 0, NULL, &c, why), -AC_EPERM);
    assert_string_equal(why, "unknown permission state");
    c.permission = 0;
    assert_int_equal(decide(NULL, 0, NULL, &c, why), -AC_EPERM);
}

static void chain_depth_three_is_allowed_and_four_denied(void **state)
{
    (void)state;
    char why[AC_POLICY_AUTHZ_REASON_MAX];
    ac_policy_authctx_t c = dyn(AC_POLICY_PERM_LLM, AC_POLICY_PERM_LLM);
    c.chain_depth = 3;
    assert_int_equal(decide(NULL, 0, NULL, &c, why), 0);
    c.chain_depth = 4;
    assert_int_equal(decide(NULL, 0, NULL, &c, why), -AC_EPERM);
    assert_string_equal(why, "chain depth 4 exceeds maximum 3");
    ac_policy_authz_cfg_t cfg = {.token_key = key, .max_chain_depth = 5}; /* configurable here */
    assert_int_equal(ac_policy_authz_decide(&cfg, NULL, 0, NULL, &c, why, sizeof(why)), 0);
}

static void the_token_is_checked_before_rules_and_declarations(void **state)
{
    (void)state;
    char why[AC_POLICY_AUTHZ_REASON_MAX];
    ac_policy_captoken_t t;
    ac_policy_captoken_mint(key, AC_POLICY_PERM_WEB_READ, 7, NOON + 1000, 2, &t);
    ac_policy_authctx_t c = dyn(AC_POLICY_PERM_WEB_READ, AC_POLICY_PERM_WEB_READ | AC_POLICY_PERM_LLM);
    c.token = &t;
    assert_int_equal(decide(NULL, 0, NULL, &c, why), 0);
    c.permission = AC_POLICY_PERM_LLM; /* declared, but the token does not grant it */
    assert_int_equal(decide(NULL, 0, NULL, &c, why), -AC_EPERM);
    assert_string_equal(why, "token does not grant :llm");
    c.permission = AC_POLICY_PERM_WEB_READ;
    c.now_ms = NOON + 1000;
    assert_int_equal(decide(NULL, 0, NULL, &c, why), -AC_EPERM);
    assert_string_equal(why, "capability token expired");
    c.now_ms = NOON;
    c.chain_depth = 3;
    assert_int_equal(decide(NULL, 0, NULL, &c, why), -AC_EPERM);
    assert_string_equal(why, "token max depth exceeded");
    c.chain_depth = 0;
    /* a token minted for another run (say, a direct run of the skill with more permissions) is refused here */
    c.run_id = 8;
    assert_int_equal(decide(NULL, 0, NULL, &c, why), -AC_EPERM);
    assert_string_equal(why, "capability token is for another run");
    c.run_id = 7;
    /* without a token, when the node requires one */
    c.token = NULL;
    ac_policy_authz_cfg_t strict = {.token_key = key, .require_token = true};
    assert_int_equal(ac_policy_authz_decide(&strict, NULL, 0, NULL, &c, why, sizeof(why)), -AC_EPERM);
    assert_string_equal(why, "no capability token");
    /* a negative depth is nonsense, never a way past chain restrictions */
    c.chain_depth = -1;
    assert_int_equal(decide(NULL, 0, NULL, &c, why), -AC_EPERM);
    c.chain_depth = 0;
    c.token = &t;
    ac_policy_captoken_t forged = t;
    forged.perms |= AC_POLICY_PERM_LLM;
    c.token = &forged;
    assert_int_equal(decide(NULL, 0, NULL, &c, why), -AC_EPERM);
    assert_string_equal(why, "invalid capability token");
}

static void time_windows_deny_inside_start_to_end(void **state)
{
    (void)state;
    char why[AC_POLICY_AUTHZ_REASON_MAX];
    ac_policy_rule_t r = rule("time_window", "{\"deny_start_hour\": 12, \"deny_end_hour\": 13}");
    ac_policy_authctx_t c = dyn(AC_POLICY_PERM_LLM, AC_POLICY_PERM_LLM);
    assert_int_equal(decide(&r, 1, NULL, &c, why), -AC_EPERM); /* 12:00 is inside */
    assert_string_equal(why, "blocked by time window policy (12:00-13:00 UTC)");
    c.now_ms = NOON - 1; /* 11:59:59.999 */
    assert_int_equal(decide(&r, 1, NULL, &c, why), 0);
    c.now_ms = NOON + 3600 * 1000; /* 13:00 is outside */
    assert_int_equal(decide(&r, 1, NULL, &c, why), 0);
    /* a window for another permission does not apply */
    ac_policy_rule_t r2 = rule("time_window", "{\"permission\": \"web_read\", \"deny_start_hour\": 0, "
                                              "\"deny_end_hour\": 24}");
    c.now_ms = NOON;
    assert_int_equal(decide(&r2, 1, NULL, &c, why), 0);
    /* defaults: 0 to 6 */
    ac_policy_rule_t r3 = rule("time_window", "{}");
    c.now_ms = NOON - 12LL * 3600 * 1000 + 5LL * 3600 * 1000; /* 05:00 */
    assert_int_equal(decide(&r3, 1, NULL, &c, why), -AC_EPERM);
    assert_string_equal(why, "blocked by time window policy (0:00-6:00 UTC)");
}

static void chain_restrictions_apply_only_inside_a_chain(void **state)
{
    (void)state;
    char why[AC_POLICY_AUTHZ_REASON_MAX];
    ac_policy_rule_t r = rule("chain_restriction", "{\"caller_pattern\": \"weather\"}");
    ac_policy_authctx_t c = dyn(AC_POLICY_PERM_LLM, AC_POLICY_PERM_LLM);
    assert_int_equal(decide(&r, 1, NULL, &c, why), 0);
    c.chain_depth = 1;
    assert_int_equal(decide(&r, 1, NULL, &c, why), -AC_EPERM);
    assert_string_equal(why, "chain restriction: weather cannot invoke other skills");
    c.caller = "dynamic:news";
    assert_int_equal(decide(&r, 1, NULL, &c, why), 0);
}

static void overrides_deny_until_they_expire_and_never_grant(void **state)
{
    (void)state;
    char why[AC_POLICY_AUTHZ_REASON_MAX];
    ac_policy_rule_t r = rule("permission_override", "{\"permission\": \"llm\", \"action\": \"deny\", "
                                                     "\"expires_at\": \"2026-11-18T12:00:01Z\"}");
    ac_policy_authctx_t c = dyn(AC_POLICY_PERM_LLM, AC_POLICY_PERM_LLM);
    assert_int_equal(decide(&r, 1, NULL, &c, why), -AC_EPERM);
    assert_string_equal(why, "denied by permission override policy");
    c.now_ms = NOON + 1000; /* expired: no effect */
    assert_int_equal(decide(&r, 1, NULL, &c, why), 0);
    /* "allow" cannot grant an undeclared permission */
    ac_policy_rule_t a = rule("permission_override", "{\"permission\": \"memory_write\", \"action\": \"allow\"}");
    c = dyn(AC_POLICY_PERM_MEMORY_WRITE, AC_POLICY_PERM_LLM);
    assert_int_equal(decide(&a, 1, NULL, &c, why), -AC_EPERM);
    assert_string_equal(why, "permission :memory_write not declared");
}

static void rate_limits_count_per_caller_and_permission(void **state)
{
    (void)state;
    char why[AC_POLICY_AUTHZ_REASON_MAX];
    ac_policy_skillrate_t *rl = ac_policy_skillrate_new();
    ac_policy_rule_t r = rule("rate_limit", "{\"permission\": \"web_read\", \"max_calls\": 2, \"window_seconds\": 10}");
    ac_policy_authctx_t c = dyn(AC_POLICY_PERM_WEB_READ, AC_POLICY_PERM_WEB_READ | AC_POLICY_PERM_LLM);
    assert_int_equal(decide(&r, 1, rl, &c, why), 0);
    assert_int_equal(decide(&r, 1, rl, &c, why), 0);
    assert_int_equal(decide(&r, 1, rl, &c, why), -AC_EPERM);
    assert_string_equal(why, "rate limit exceeded: max 2/10s");
    c.caller = "dynamic:other"; /* its own count */
    assert_int_equal(decide(&r, 1, rl, &c, why), 0);
    c.caller = "dynamic:weather";
    c.permission = AC_POLICY_PERM_LLM; /* another permission: the rule does not apply */
    assert_int_equal(decide(&r, 1, rl, &c, why), 0);
    c.permission = AC_POLICY_PERM_WEB_READ;
    c.now_ms = NOON + 10000; /* the window is inclusive: the calls at NOON still count */
    assert_int_equal(decide(&r, 1, rl, &c, why), -AC_EPERM);
    c.now_ms = NOON + 10001 + 999; /* one second later they are out */
    assert_int_equal(decide(&r, 1, rl, &c, why), 0);
    ac_policy_skillrate_free(rl);
}

static void several_rate_limits_count_a_call_once(void **state)
{
    (void)state;
    char why[AC_POLICY_AUTHZ_REASON_MAX];
    ac_policy_skillrate_t *rl = ac_policy_skillrate_new();
    /* the original recorded a call once per rule: with these two, the second call would already have been refused */
    ac_policy_rule_t rules[2] = {rule("rate_limit", "{\"max_calls\": 3, \"window_seconds\": 60}"),
                                 rule("rate_limit", "{\"max_calls\": 100, \"window_seconds\": 3600}")};
    ac_policy_authctx_t c = dyn(AC_POLICY_PERM_LLM, AC_POLICY_PERM_LLM);
    for (int i = 0; i < 3; i++)
        assert_int_equal(decide(rules, 2, rl, &c, why), 0);
    assert_int_equal(decide(rules, 2, rl, &c, why), -AC_EPERM);
    assert_string_equal(why, "rate limit exceeded: max 3/60s");
    /* the longer window still remembers them after the shorter one forgot */
    ac_policy_rule_t tight[2] = {rule("rate_limit", "{\"max_calls\": 3, \"window_seconds\": 60}"),
                                 rule("rate_limit", "{\"max_calls\": 4, \"window_seconds\": 3600}")};
    c.now_ms = NOON + 61000;
    assert_int_equal(decide(tight, 2, rl, &c, why), 0); /* 4th call within the hour */
    assert_int_equal(decide(tight, 2, rl, &c, why), -AC_EPERM);
    assert_string_equal(why, "rate limit exceeded: max 4/3600s");
    ac_policy_skillrate_free(rl);
}

static void the_first_denial_by_priority_wins(void **state)
{
    (void)state;
    char why[AC_POLICY_AUTHZ_REASON_MAX];
    ac_policy_rule_t rules[2] = {rule("time_window", "{\"deny_start_hour\": 12, \"deny_end_hour\": 13}"),
                                 rule("permission_override", "{\"permission\": \"llm\", \"action\": \"deny\"}")};
    rules[0].id = 1;
    rules[0].priority = 1;
    rules[1].id = 2;
    rules[1].priority = 5;
    ac_policy_rules_sort(rules, 2);
    assert_int_equal(rules[0].id, 2);
    ac_policy_authctx_t c = dyn(AC_POLICY_PERM_LLM, AC_POLICY_PERM_LLM);
    assert_int_equal(decide(rules, 2, NULL, &c, why), -AC_EPERM);
    assert_string_equal(why, "denied by permission override policy");
}

static void rule_configs_are_checked(void **state)
{
    (void)state;
    ac_policy_rule_t r;
    ac_errmsg_t err = {{0}};
    static const struct {
        const char *type, *config, *msg;
    } bad[] = {
        {"mcp_restriction", "{}", "rule type"},
        {"rate_limit", "[]", "JSON object"},
        {"rate_limit", "{\"max_calls\": 0}", "max_calls"},
        {"rate_limit", "{\"max_calls\": \"5\"}", "max_calls"},
        {"rate_limit", "{\"permission\": \"root\"}", "unknown permission \"root\""},
        {"rate_limit", "{\"max_call\": 5}", "unknown field \"max_call\""},
        {"time_window", "{\"deny_start_hour\": 6, \"deny_end_hour\": 6}", "before deny_end_hour"},
        {"time_window", "{\"deny_end_hour\": 25}", "deny_end_hour"},
        {"chain_restriction", "{}", "caller_pattern"},
        {"chain_restriction", "{\"caller_pattern\": \"\"}", "caller_pattern"},
        {"permission_override", "{\"action\": \"deny\"}", "permission: is required"},
        {"permission_override", "{\"permission\": \"llm\", \"action\": \"grant\"}", "action"},
        {"permission_override", "{\"permission\": \"llm\", \"action\": \"deny\", \"expires_at\": \"tomorrow\"}",
         "expires_at"},
        {"permission_override",
         "{\"permission\": \"llm\", \"action\": \"deny\", \"expires_at\": \"2026-11-18T12:00:00\"}", "expires_at"},
        {"rate_limit", "{\"max_calls\": 1, \"max_calls\": 2}", "JSON object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        if (ac_policy_rule_parse(bad[i].type, bad[i].config, strlen(bad[i].config), &r, &err) != -AC_EINVAL)
            fail_msg("%s %s was accepted", bad[i].type, bad[i].config);
        if (strstr(err.msg, bad[i].msg) == NULL)
            fail_msg("%s %s: \"%s\" does not say \"%s\"", bad[i].type, bad[i].config, err.msg, bad[i].msg);
    }
    r = rule("rate_limit", "{}");
    assert_int_equal(r.max_calls, 10);
    assert_int_equal(r.window_s, 60);
    assert_int_equal(r.permission, 0);
}

static void iso8601_times(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(ac_policy_iso8601_ms("2026-11-18T12:00:00Z", &t), 0);
    assert_int_equal(t, NOON);
    assert_int_equal(ac_policy_iso8601_ms("2026-11-18T13:30:00+01:30", &t), 0);
    assert_int_equal(t, NOON);
    assert_int_equal(ac_policy_iso8601_ms("2026-11-18T12:00:00.25Z", &t), 0);
    assert_int_equal(t, NOON + 250);
    assert_int_equal(ac_policy_iso8601_ms("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(ac_policy_iso8601_ms("2024-02-29T00:00:00Z", &t), 0);
    static const char *const bad[] = {"2026-02-29T00:00:00Z",  "2026-13-01T00:00:00Z", "2026-11-18T24:00:00Z",
                                      "2026-11-18T12:00:00",   "2026-11-18",           "2026-11-18T12:00:00+0100",
                                      "2026-11-18T12:00:00.Z", "x026-11-18T12:00:00Z", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ac_policy_iso8601_ms(bad[i], &t) == 0)
            fail_msg("%s was accepted", bad[i]);
}

static void the_rate_limiter_is_bounded(void **state)
{
    (void)state;
    ac_policy_skillrate_t *rl = ac_policy_skillrate_new();
    char name[32];
    for (int i = 0; i < AC_POLICY_SKILLRATE_MAX_KEYS; i++) {
        snprintf(name, sizeof(name), "dynamic:s%d", i);
        assert_int_equal(ac_policy_skillrate_check(rl, name, AC_POLICY_PERM_LLM, 5, 60, 1000), 0);
    }
    /* full of active keys: a new one is refused (fail closed), a known one still counts */
    assert_int_equal(ac_policy_skillrate_check(rl, "dynamic:new", AC_POLICY_PERM_LLM, 5, 60, 1000), -AC_EAGAIN);
    assert_int_equal(ac_policy_skillrate_check(rl, "dynamic:s1", AC_POLICY_PERM_LLM, 5, 60, 1000), 0);
    /* once they are idle they make room */
    assert_int_equal(
        ac_policy_skillrate_check(rl, "dynamic:new", AC_POLICY_PERM_LLM, 5, 60, 1000 + AC_POLICY_SKILLRATE_IDLE_S + 1),
        0);
    assert_true(ac_policy_skillrate_size(rl) < 10);
    ac_policy_skillrate_prune(rl, 1000000);
    assert_int_equal(ac_policy_skillrate_size(rl), 0);
    /* a large limit grows the ring and keeps the order */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ac_policy_skillrate_check(rl, "dynamic:busy", AC_POLICY_PERM_LLM, 1000, 100, 5000 + i / 10),
                         0);
    assert_int_equal(ac_policy_skillrate_check(rl, "dynamic:busy", AC_POLICY_PERM_LLM, 1000, 100, 5099), -AC_EAGAIN);
    /* 100 s after the first ten calls they leave the window: exactly ten places again */
    for (int i = 0; i < 10; i++)
        assert_int_equal(ac_policy_skillrate_check(rl, "dynamic:busy", AC_POLICY_PERM_LLM, 1000, 100, 5101), 0);
    assert_int_equal(ac_policy_skillrate_check(rl, "dynamic:busy", AC_POLICY_PERM_LLM, 1000, 100, 5101), -AC_EAGAIN);
    ac_policy_skillrate_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(core_skills_are_allowed_and_undeclared_permissions_denied),
        cmocka_unit_test(chain_depth_three_is_allowed_and_four_denied),
        cmocka_unit_test(the_token_is_checked_before_rules_and_declarations),
        cmocka_unit_test(time_windows_deny_inside_start_to_end),
        cmocka_unit_test(chain_restrictions_apply_only_inside_a_chain),
        cmocka_unit_test(overrides_deny_until_they_expire_and_never_grant),
        cmocka_unit_test(rate_limits_count_per_caller_and_permission),
        cmocka_unit_test(several_rate_limits_count_a_call_once),
        cmocka_unit_test(the_first_denial_by_priority_wins),
        cmocka_unit_test(rule_configs_are_checked),
        cmocka_unit_test(iso8601_times),
        cmocka_unit_test(the_rate_limiter_is_bounded),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
