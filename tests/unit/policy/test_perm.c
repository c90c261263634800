/* tests/unit/policy/test_perm.c - SkillAPI permissions: the bit of every known name (their numbering is part of the
 * signed token encoding), exact lower-case parsing, declared lists (unknown names refused and named in the message,
 * duplicates fine), and sorted formatting with its buffer bound. */
#include "policy/error.h"
#include "policy/perm.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* The reference's known set (section 5.3) in bit order: bit i must be names[i], forever. */
static const char *const known[] = {
    "llm",      "telegram_send", "gateway_send",   "memory_read",  "memory_write", "knowledge_read", "knowledge_write",
    "web_read", "config_read",   "resources_read", "skill_invoke", "skill_write",  "skill_manage",   "workflow_manage",
};

static void every_known_name_has_its_fixed_bit(void **state)
{
    (void)state;
    assert_int_equal(sizeof(known) / sizeof(known[0]), AC_POLICY_PERM_COUNT);
    for (int i = 0; i < AC_POLICY_PERM_COUNT; i++) {
        assert_int_equal(ac_policy_perm_parse(known[i]), 1 << i);
        assert_string_equal(ac_policy_perm_name((ac_policy_perms_t)1 << i), known[i]);
        assert_true(strlen(known[i]) <= AC_POLICY_PERM_NAME_MAX);
    }
    assert_int_equal(AC_POLICY_PERM_ALL, 0x3fff);
    assert_int_equal(AC_POLICY_PERM_LLM, 1u << 0);
    assert_int_equal(AC_POLICY_PERM_WEB_READ, 1u << 7);
    assert_int_equal(AC_POLICY_PERM_SKILL_INVOKE, 1u << 10);
    assert_int_equal(AC_POLICY_PERM_WORKFLOW_MANAGE, 1u << 13);
}

static void names_of_non_single_bits_are_null(void **state)
{
    (void)state;
    assert_null(ac_policy_perm_name(0));
    assert_null(ac_policy_perm_name(AC_POLICY_PERM_LLM | AC_POLICY_PERM_WEB_READ));
    assert_null(ac_policy_perm_name((ac_policy_perms_t)1 << AC_POLICY_PERM_COUNT));
    assert_null(ac_policy_perm_name((ac_policy_perms_t)1 << 31));
    assert_null(ac_policy_perm_name(AC_POLICY_PERM_ALL));
}

static void parsing_is_exact_and_lower_case(void **state)
{
    (void)state;
    static const char *const bad[] = {"",     "LLM",      "Llm",   " llm",       "llm ",          "ll",
                                      "llmx", "web-read", "shell", "web_read\n", "resource_read", "workflow_read"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ac_policy_perm_parse(bad[i]), -AC_EINVAL);
    assert_int_equal(ac_policy_perm_parse(NULL), -AC_EINVAL);
}

static void a_declared_list_becomes_a_set_and_duplicates_are_fine(void **state)
{
    (void)state;
    const char *names[] = {"web_read", "llm", "web_read", "memory_read", "llm"};
    ac_policy_perms_t set = 0xdead;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_policy_perms_parse(names, 5, &set, &err), 0);
    assert_int_equal(set, AC_POLICY_PERM_WEB_READ | AC_POLICY_PERM_LLM | AC_POLICY_PERM_MEMORY_READ);

    assert_int_equal(ac_policy_perms_parse(NULL, 0, &set, &err), 0);
    assert_int_equal(set, 0);

    assert_int_equal(ac_policy_perms_parse(known, AC_POLICY_PERM_COUNT, &set, NULL), 0);
    assert_int_equal(set, AC_POLICY_PERM_ALL);
}

static void an_unknown_name_is_refused_and_named(void **state)
{
    (void)state;
    const char *names[] = {"llm", "shell", "web_read"};
    ac_policy_perms_t set = 0xdead;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_policy_perms_parse(names, 3, &set, &err), -AC_EINVAL);
    assert_int_equal(set, 0);
    assert_non_null(strstr(err.msg, "\"shell\""));
    assert_non_null(strstr(err.msg, "entry 2"));

    /* the original's documented-but-wrong names are unknown too */
    const char *doc[] = {"resource_read"};
    assert_int_equal(ac_policy_perms_parse(doc, 1, &set, &err), -AC_EINVAL);
    assert_non_null(strstr(err.msg, "\"resource_read\""));

    /* a NULL entry, and a NULL list with entries */
    const char *holes[] = {"llm", NULL};
    assert_int_equal(ac_policy_perms_parse(holes, 2, &set, &err), -AC_EINVAL);
    assert_non_null(strstr(err.msg, "entry 2"));
    assert_int_equal(ac_policy_perms_parse(NULL, 1, &set, &err), -AC_EINVAL);
    assert_int_equal(ac_policy_perms_parse(names, 1, NULL, &err), -AC_EINVAL);
    assert_int_equal(ac_policy_perms_parse(names, 3, &set, NULL), -AC_EINVAL); /* err may be NULL */
}

static void a_hostile_name_is_cut_and_made_printable_in_the_message(void **state)
{
    (void)state;
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    const char *names[] = {"llm\x1b[31m\n", longname};
    ac_policy_perms_t set;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_policy_perms_parse(names, 1, &set, &err), -AC_EINVAL);
    assert_non_null(strstr(err.msg, "\"llm?[31m?\""));
    assert_null(strchr(err.msg, '\n'));
    assert_null(strchr(err.msg, '\x1b'));

    assert_int_equal(ac_policy_perms_parse(names + 1, 1, &set, &err), -AC_EINVAL);
    assert_non_null(strstr(err.msg, "aaa...\""));
    assert_true(strlen(err.msg) < 100);
}

static void formatting_is_sorted_by_name(void **state)
{
    (void)state;
    char out[AC_POLICY_PERMS_FORMAT_MAX];
    int n = ac_policy_perms_format(AC_POLICY_PERM_WEB_READ | AC_POLICY_PERM_LLM | AC_POLICY_PERM_KNOWLEDGE_READ, out,
                                   sizeof(out));
    assert_string_equal(out, "knowledge_read,llm,web_read");
    assert_int_equal(n, (int)strlen(out));

    assert_int_equal(ac_policy_perms_format(0, out, sizeof(out)), 0);
    assert_string_equal(out, "");

    assert_int_equal(
        ac_policy_perms_format(AC_POLICY_PERM_SKILL_WRITE | AC_POLICY_PERM_SKILL_MANAGE | AC_POLICY_PERM_SKILL_INVOKE,
                               out, sizeof(out)),
        (int)strlen("skill_invoke,skill_manage,skill_write"));
    assert_string_equal(out, "skill_invoke,skill_manage,skill_write");

    /* the whole set: every name once, each strictly after the previous one */
    n = ac_policy_perms_format(AC_POLICY_PERM_ALL, out, sizeof(out));
    assert_int_equal(n, AC_POLICY_PERMS_FORMAT_MAX - 1);
    assert_string_equal(out, "config_read,gateway_send,knowledge_read,knowledge_write,llm,memory_read,memory_write,"
                             "resources_read,skill_invoke,skill_manage,skill_write,telegram_send,web_read,"
                             "workflow_manage");
    char copy[AC_POLICY_PERMS_FORMAT_MAX];
    strcpy(copy, out);
    const char *prev = "";
    int count = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        assert_true(strcmp(prev, tok) < 0);
        assert_true(ac_policy_perm_parse(tok) > 0);
        prev = tok;
        count++;
    }
    assert_int_equal(count, AC_POLICY_PERM_COUNT);
}

static void formatting_respects_the_buffer_and_refuses_unknown_bits(void **state)
{
    (void)state;
    char out[AC_POLICY_PERMS_FORMAT_MAX];
    assert_int_equal(ac_policy_perms_format(AC_POLICY_PERM_ALL, out, AC_POLICY_PERMS_FORMAT_MAX - 1), -AC_ETOOLONG);
    assert_string_equal(out, "");
    assert_int_equal(ac_policy_perms_format(AC_POLICY_PERM_LLM, out, 4), 3);
    assert_string_equal(out, "llm");
    assert_int_equal(ac_policy_perms_format(AC_POLICY_PERM_LLM, out, 3), -AC_ETOOLONG);
    assert_int_equal(ac_policy_perms_format(0, out, 1), 0);
    assert_int_equal(ac_policy_perms_format(0, out, 0), -AC_ETOOLONG);
    assert_int_equal(ac_policy_perms_format(AC_POLICY_PERM_ALL + 1, out, sizeof(out)), -AC_EINVAL);
    assert_int_equal(ac_policy_perms_format((ac_policy_perms_t)1 << 31, out, sizeof(out)), -AC_EINVAL);
    assert_int_equal(ac_policy_perms_format(AC_POLICY_PERM_LLM, NULL, 10), -AC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_known_name_has_its_fixed_bit),
        cmocka_unit_test(names_of_non_single_bits_are_null),
        cmocka_unit_test(parsing_is_exact_and_lower_case),
        cmocka_unit_test(a_declared_list_becomes_a_set_and_duplicates_are_fine),
        cmocka_unit_test(an_unknown_name_is_refused_and_named),
        cmocka_unit_test(a_hostile_name_is_cut_and_made_printable_in_the_message),
        cmocka_unit_test(formatting_is_sorted_by_name),
        cmocka_unit_test(formatting_respects_the_buffer_and_refuses_unknown_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
