/* tests/unit/node/test_cluster_cookie.c - ac_node_cluster_check_cookie() of node/cluster.c, the rule `serve` applies
 * to CLUSTER_COOKIE once NODE_NAME is set (SECURITY.md C2): a missing or empty cookie, one on the deny-list of
 * published values (whatever its case and length), one shorter than 16 characters, and one with blanks, control or
 * non-ASCII characters are refused with -AC_ECONFIG and a message that says how to make a good one and never repeats
 * the cookie; 16 printable characters and `openssl rand -base64 32` output pass. */
#include "node/cluster.h"
#include "policy/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void assert_refused(const char *cookie, const char *why)
{
    ac_errmsg_t err = {{0}};
    int rc = ac_node_cluster_check_cookie(cookie, &err);
    if (rc != -AC_ECONFIG)
        fail_msg("cookie \"%s\": got %d, want -AC_ECONFIG", cookie != NULL ? cookie : "(null)", rc);
    if (strstr(err.msg, why) == NULL)
        fail_msg("cookie \"%s\": message \"%s\" does not say \"%s\"", cookie != NULL ? cookie : "(null)", err.msg, why);
    if (cookie != NULL && cookie[0] != '\0' && strstr(err.msg, cookie) != NULL)
        fail_msg("the message repeats the cookie: %s", err.msg);
}

static void assert_accepted(const char *cookie)
{
    ac_errmsg_t err = {{0}};
    int rc = ac_node_cluster_check_cookie(cookie, &err);
    if (rc != 0)
        fail_msg("cookie \"%s\" refused: %s", cookie, err.msg);
}

static void a_missing_cookie_is_refused(void **state)
{
    (void)state;
    assert_refused(NULL, "CLUSTER_COOKIE is required");
    assert_refused("", "CLUSTER_COOKIE is required");
}

static void published_cookies_are_refused_in_any_case(void **state)
{
    (void)state;
    static const char *const published[] = {"alexclaw_default", "ALEXCLAW_DEFAULT", "AlexClaw_Swarm", "alexclaw_swarm",
                                            "cookie",           "Secret",           "changeme",       "change_me",
                                            "monster",          "erlang",           "nocookie",       "secretcookie",
                                            "SecretCookie"};
    for (size_t i = 0; i < sizeof(published) / sizeof(published[0]); i++)
        assert_refused(published[i], "well-known value");
}

static void short_cookies_are_refused(void **state)
{
    (void)state;
    assert_refused("Qz9Wk", "too short");
    assert_refused("0123456789abcde", "too short"); /* 15 */
    assert_accepted("0123456789abcdef");            /* 16 */
}

static void blanks_control_and_non_ascii_characters_are_refused(void **state)
{
    (void)state;
    assert_refused("0123456789 abcdef", "printable ASCII");
    assert_refused("0123456789\tabcdef", "printable ASCII");
    assert_refused("0123456789abcdef\n", "printable ASCII");
    assert_refused("0123456789abcdef\x7f", "printable ASCII");
    assert_refused("0123456789abcd\xc3\xa9"
                   "f",
                   "printable ASCII");
}

static void generated_cookies_pass(void **state)
{
    (void)state;
    assert_accepted("Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5Zm8="); /* openssl rand -base64 32 */
    assert_accepted("alexclaw_default_but_longer");                      /* not the published value itself */
    assert_accepted("!#$%&'()*+,-./:;<=>?@[]^_`{|}~");                   /* every printable is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_missing_cookie_is_refused),
        cmocka_unit_test(published_cookies_are_refused_in_any_case),
        cmocka_unit_test(short_cookies_are_refused),
        cmocka_unit_test(blanks_control_and_non_ascii_characters_are_refused),
        cmocka_unit_test(generated_cookies_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
