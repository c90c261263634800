/* tests/unit/skills/test_channel.c - the SkillAPI channel's codec: frames (lengths, partial input, limits), calls
 * (ids, known functions with their permissions, args), done messages, every refusal, and replies. */
#include "skills/channel.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int parse(const char *s, ac_skills_channel_msg_t *m)
{
    ac_errmsg_t err = {{0}};
    int rc = ac_skills_channel_parse((const uint8_t *)s, strlen(s), m, &err);
    if (rc != 0)
        assert_true(err.msg[0] != '\0');
    return rc;
}

static void frames(void **state)
{
    (void)state;
    const uint8_t *p;
    size_t n, used;
    uint8_t buf[16] = {0, 0, 0, 2, '{', '}', 0, 0, 0};
    assert_int_equal(ac_skills_channel_frame(buf, 3, &p, &n, &used), 1);
    assert_int_equal(ac_skills_channel_frame(buf, 5, &p, &n, &used), 1); /* the payload is not all there */
    assert_int_equal(ac_skills_channel_frame(buf, 6, &p, &n, &used), 0);
    assert_int_equal(n, 2);
    assert_int_equal(used, 6);
    assert_ptr_equal(p, buf + 4);
    uint8_t zero[4] = {0, 0, 0, 0};
    assert_int_equal(ac_skills_channel_frame(zero, 4, &p, &n, &used), -AC_EINVAL);
    uint8_t big[4] = {0, 0x10, 0, 1}; /* 1 MiB + 1 */
    assert_int_equal(ac_skills_channel_frame(big, 4, &p, &n, &used), -AC_ETOOLONG);
    uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(ac_skills_channel_frame(huge, 4, &p, &n, &used), -AC_ETOOLONG);
}

static void calls(void **state)
{
    (void)state;
    ac_skills_channel_msg_t m;
    assert_int_equal(parse("{\"id\": 7, \"call\": \"http_get\", \"args\": {\"url\": \"https://example.org\"}}", &m), 0);
    assert_int_equal(m.kind, AC_SKILLS_CHANNEL_CALL);
    assert_int_equal(m.id, 7);
    assert_string_equal(m.fn->name, "http_get");
    assert_int_equal(m.fn->perm, AC_POLICY_PERM_WEB_READ);
    assert_string_equal(json_string_value(json_object_get(m.args, "url")), "https://example.org");
    ac_skills_channel_msg_clear(&m);
    assert_int_equal(parse("{\"id\": 2147483647, \"call\": \"run_skill\"}", &m), 0); /* args default {} */
    assert_true(json_is_object(m.args));
    assert_int_equal(m.fn->perm, AC_POLICY_PERM_SKILL_INVOKE);
    ac_skills_channel_msg_clear(&m);
    static const struct {
        const char *name;
        ac_policy_perms_t perm;
    } table[] = {{"llm_complete", AC_POLICY_PERM_LLM},
                 {"send_message", AC_POLICY_PERM_GATEWAY_SEND},
                 {"memory_store", AC_POLICY_PERM_MEMORY_WRITE},
                 {"knowledge_search", AC_POLICY_PERM_KNOWLEDGE_READ},
                 {"config_get", AC_POLICY_PERM_CONFIG_READ},
                 {"get_resource", AC_POLICY_PERM_RESOURCES_READ},
                 {"write_skill", AC_POLICY_PERM_SKILL_WRITE},
                 {"load_skill", AC_POLICY_PERM_SKILL_MANAGE},
                 {"create_workflow", AC_POLICY_PERM_WORKFLOW_MANAGE}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const ac_skills_channel_fn_t *f = ac_skills_channel_fn_find(table[i].name);
        assert_non_null(f);
        assert_int_equal(f->perm, table[i].perm);
    }
    assert_null(ac_skills_channel_fn_find("shell"));
    assert_null(ac_skills_channel_fn_find(NULL));
}

static void done_messages(void **state)
{
    (void)state;
    ac_skills_channel_msg_t m;
    assert_int_equal(parse("{\"done\": true, \"ok\": true, \"output\": {\"t\": 21}, \"branch\": \"on_hot\"}", &m), 0);
    assert_int_equal(m.kind, AC_SKILLS_CHANNEL_DONE);
    assert_true(m.ok);
    assert_string_equal(m.branch, "on_hot");
    assert_int_equal(json_integer_value(json_object_get(m.output, "t")), 21);
    ac_skills_channel_msg_clear(&m);
    assert_int_equal(parse("{\"done\": true, \"ok\": true}", &m), 0);
    assert_string_equal(m.branch, "on_success");
    assert_null(m.output);
    ac_skills_channel_msg_clear(&m);
    assert_int_equal(parse("{\"done\": true, \"ok\": false, \"error\": \"no data\"}", &m), 0);
    assert_false(m.ok);
    assert_string_equal(m.error, "no data");
    ac_skills_channel_msg_clear(&m);
    /* a long error is cut, never inside a character */
    char big[2000] = "{\"done\": true, \"ok\": false, \"error\": \"";
    for (int i = 0; i < 400; i++)
        strcat(big, "\xc3\xa9");
    strcat(big, "\"}");
    assert_int_equal(parse(big, &m), 0);
    assert_int_equal(strlen(m.error), 510);
    ac_skills_channel_msg_clear(&m);
}

static void refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[]",
        "\"x\"",
        "{}",
        "{\"id\": 0, \"call\": \"http_get\"}",
        "{\"id\": -1, \"call\": \"http_get\"}",
        "{\"id\": 2147483648, \"call\": \"http_get\"}",
        "{\"id\": 1.5, \"call\": \"http_get\"}",
        "{\"id\": \"1\", \"call\": \"http_get\"}",
        "{\"id\": 1, \"call\": \"os_execute\"}",
        "{\"id\": 1, \"call\": 5}",
        "{\"id\": 1, \"call\": \"http_get\", \"args\": []}",
        "{\"id\": 1, \"call\": \"http_get\", \"token\": \"forged\"}",
        "{\"id\": 1, \"id\": 2, \"call\": \"http_get\"}",
        "{\"done\": false, \"ok\": true}",
        "{\"done\": true}",
        "{\"done\": true, \"ok\": false}",
        "{\"done\": true, \"ok\": false, \"error\": \"\"}",
        "{\"done\": true, \"ok\": true, \"branch\": \"On_Hot\"}",
        "{\"done\": true, \"ok\": true, \"branch\": \"\"}",
        "{\"done\": true, \"ok\": true, \"extra\": 1}",
        "{\"id\": 1, \"call\": \"http_get\", \"args\": {\"a\": \"\\u0000\"}}",
        "{\"id\": 1, \"call\": \"http_get\"",
        "{\"id\": 1, \"call\": \"http_get\"} trailing",
    };
    ac_skills_channel_msg_t m;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &m) != -AC_EINVAL)
            fail_msg("accepted: %s", bad[i]);
        assert_null(m.args);
        assert_null(m.fn);
    }
    /* nesting: the message itself, args and 30 arrays are 32 levels, the limit; one more is refused */
    char deep[300];
    for (int arrays = 30; arrays <= 31; arrays++) {
        int n = snprintf(deep, sizeof(deep), "{\"id\": 1, \"call\": \"http_get\", \"args\": {\"a\": ");
        for (int i = 0; i < arrays; i++)
            deep[n++] = '[';
        for (int i = 0; i < arrays; i++)
            deep[n++] = ']';
        snprintf(deep + n, sizeof(deep) - (size_t)n, "}}");
        assert_int_equal(parse(deep, &m), arrays == 30 ? 0 : -AC_EINVAL);
        ac_skills_channel_msg_clear(&m);
    }
}

static void replies(void **state)
{
    (void)state;
    uint8_t *f = NULL;
    size_t n = 0;
    json_t *r = json_pack("{s:s}", "body", "ok");
    assert_int_equal(ac_skills_channel_reply(7, true, r, NULL, &f, &n), 0);
    json_decref(r);
    const uint8_t *p;
    size_t pl, used;
    assert_int_equal(ac_skills_channel_frame(f, n, &p, &pl, &used), 0);
    assert_int_equal(used, n);
    assert_memory_equal(p, "{\"id\":7,\"ok\":true,\"result\":{\"body\":\"ok\"}}", pl);
    free(f);
    assert_int_equal(ac_skills_channel_reply(8, false, NULL, "permission_denied", &f, &n), 0);
    assert_memory_equal(f + 4, "{\"id\":8,\"ok\":false,\"error\":\"permission_denied\"}", n - 4);
    free(f);
    assert_int_equal(ac_skills_channel_reply(9, true, NULL, NULL, &f, &n), 0);
    assert_memory_equal(f + 4, "{\"id\":9,\"ok\":true,\"result\":null}", n - 4);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frames),   cmocka_unit_test(calls),   cmocka_unit_test(done_messages),
        cmocka_unit_test(refusals), cmocka_unit_test(replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
