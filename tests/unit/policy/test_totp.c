/* tests/unit/policy/test_totp.c - TOTP: the RFC 6238 SHA-1 test vectors (last 6 digits), the one-step window and the
 * step it reports (what replay protection builds on), malformed input, new secrets, the otpauth:// URI. */
#include "policy/error.h"
#include "policy/totp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* RFC 6238 appendix B: the ASCII secret "12345678901234567890", in base32 */
#define RFC_SECRET "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

static int setup(void **state)
{
    (void)state;
    return ac_policy_totp_init();
}

static int teardown(void **state)
{
    (void)state;
    ac_policy_totp_done();
    return 0;
}

static void codes_match_the_rfc_vectors(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        const char *code;
    } v[] = {{59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
             {1234567890, "005924"}, {2000000000, "279037"}, {20000000000LL, "353130"}};
    char out[AC_POLICY_TOTP_DIGITS + 1];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(ac_policy_totp_code(RFC_SECRET, v[i].t, out), 0);
        assert_string_equal(out, v[i].code);
    }
}

static void one_step_either_side_is_accepted_and_named(void **state)
{
    (void)state;
    int64_t t = 1234567890, step = 0; /* step 41152263 */
    char prev[8], cur[8], next[8], far[8];
    ac_policy_totp_code(RFC_SECRET, t - 30, prev);
    ac_policy_totp_code(RFC_SECRET, t, cur);
    ac_policy_totp_code(RFC_SECRET, t + 30, next);
    ac_policy_totp_code(RFC_SECRET, t + 60, far);
    assert_int_equal(ac_policy_totp_verify(RFC_SECRET, cur, t, &step), 0);
    assert_int_equal(step, t / 30);
    assert_int_equal(ac_policy_totp_verify(RFC_SECRET, prev, t, &step), 0);
    assert_int_equal(step, t / 30 - 1);
    assert_int_equal(ac_policy_totp_verify(RFC_SECRET, next, t, &step), 0);
    assert_int_equal(step, t / 30 + 1);
    assert_int_equal(ac_policy_totp_verify(RFC_SECRET, far, t, &step), -AC_EPERM);
    assert_int_equal(ac_policy_totp_verify(RFC_SECRET, "000000", t, &step), strcmp(cur, "000000") == 0 ? 0 : -AC_EPERM);
}

static void malformed_codes_and_secrets_are_refused(void **state)
{
    (void)state;
    int64_t step;
    char out[8];
    const char *bad_codes[] = {"", "12345", "1234567", "12345a", " 12345", "１２３４５６", NULL};
    for (size_t i = 0; bad_codes[i] != NULL; i++)
        assert_int_equal(ac_policy_totp_verify(RFC_SECRET, bad_codes[i], 59, &step), -AC_EINVAL);
    assert_int_equal(ac_policy_totp_verify(RFC_SECRET, NULL, 59, &step), -AC_EINVAL);
    assert_int_equal(ac_policy_totp_verify("not base32!", "287082", 59, &step), -AC_EINVAL);
    assert_int_equal(ac_policy_totp_verify("", "287082", 59, &step), -AC_EINVAL);
    assert_int_equal(ac_policy_totp_code("0189", 59, out), -AC_EINVAL); /* 0, 1, 8, 9 are not base32 */
}

static void new_secrets_are_32_base32_characters_and_differ(void **state)
{
    (void)state;
    char a[AC_POLICY_TOTP_SECRET_LEN + 1], b[AC_POLICY_TOTP_SECRET_LEN + 1], code[8];
    assert_int_equal(ac_policy_totp_new_secret(a), 0);
    assert_int_equal(ac_policy_totp_new_secret(b), 0);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 32);
    assert_string_not_equal(a, b);
    int64_t step;
    assert_int_equal(ac_policy_totp_code(a, 1000000, code), 0);
    assert_int_equal(ac_policy_totp_verify(a, code, 1000000, &step), 0);
}

static void the_uri_is_what_authenticator_apps_read(void **state)
{
    (void)state;
    char uri[512];
    assert_int_equal(ac_policy_totp_uri(RFC_SECRET, "AlexClaw", "admin", uri, sizeof(uri)), 0);
    assert_string_equal(uri, "otpauth://totp/AlexClaw:admin?secret=" RFC_SECRET "&issuer=AlexClaw");
    assert_int_equal(ac_policy_totp_uri(RFC_SECRET, "Alex Claw", "me@node", uri, sizeof(uri)), 0);
    assert_string_equal(uri, "otpauth://totp/Alex%20Claw:me%40node?secret=" RFC_SECRET "&issuer=Alex%20Claw");
    assert_int_equal(ac_policy_totp_uri(RFC_SECRET, "AlexClaw", "admin", uri, 20), -AC_ETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codes_match_the_rfc_vectors),
        cmocka_unit_test(one_step_either_side_is_accepted_and_named),
        cmocka_unit_test(malformed_codes_and_secrets_are_refused),
        cmocka_unit_test(new_secrets_are_32_base32_characters_and_differ),
        cmocka_unit_test(the_uri_is_what_authenticator_apps_read),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
