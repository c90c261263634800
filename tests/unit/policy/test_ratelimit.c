/* tests/unit/policy/test_ratelimit.c - the login rate limiter: block after N failures, the block's length and end,
 * the sliding window, success clears, limits that change between calls, and the memory bound under a flood. */
#include "policy/error.h"
#include "policy/ratelimit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const ac_policy_ratelimit_cfg_t defaults = {5, 900, 300};

static void five_failures_block_for_the_block_duration(void **state)
{
    (void)state;
    ac_policy_ratelimit_t *rl = ac_policy_ratelimit_new();
    int64_t left = 0, t = 1000;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ac_policy_ratelimit_check(rl, "1.2.3.4", &defaults, t, &left), 0);
        assert_int_equal(ac_policy_ratelimit_fail(rl, "1.2.3.4", &defaults, t), 0);
        t += 10;
    }
    assert_int_equal(ac_policy_ratelimit_fail(rl, "1.2.3.4", &defaults, t), 1); /* the fifth blocks */
    assert_int_equal(ac_policy_ratelimit_check(rl, "1.2.3.4", &defaults, t, &left), -AC_EPERM);
    assert_int_equal(left, 900);
    assert_int_equal(ac_policy_ratelimit_check(rl, "1.2.3.4", &defaults, t + 899, &left), -AC_EPERM);
    assert_int_equal(left, 1);
    /* another address is not affected */
    assert_int_equal(ac_policy_ratelimit_check(rl, "1.2.3.5", &defaults, t, &left), 0);
    /* the block ends, and the client starts afresh: four more failures do not block */
    assert_int_equal(ac_policy_ratelimit_check(rl, "1.2.3.4", &defaults, t + 900, &left), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ac_policy_ratelimit_fail(rl, "1.2.3.4", &defaults, t + 900 + i), 0);
    assert_int_equal(ac_policy_ratelimit_check(rl, "1.2.3.4", &defaults, t + 905, &left), 0);
    ac_policy_ratelimit_free(rl);
}

static void failures_older_than_the_window_are_forgotten(void **state)
{
    (void)state;
    ac_policy_ratelimit_t *rl = ac_policy_ratelimit_new();
    int64_t left;
    for (int i = 0; i < 4; i++)
        ac_policy_ratelimit_fail(rl, "a", &defaults, 1000 + i);
    /* 300 s after the first four, one more failure is the only recent one */
    assert_int_equal(ac_policy_ratelimit_fail(rl, "a", &defaults, 1000 + 304), 0);
    assert_int_equal(ac_policy_ratelimit_check(rl, "a", &defaults, 1000 + 304, &left), 0);
    /* but spread inside the window they add up */
    for (int i = 1; i <= 3; i++)
        assert_int_equal(ac_policy_ratelimit_fail(rl, "a", &defaults, 1304 + i * 60), 0);
    assert_int_equal(ac_policy_ratelimit_fail(rl, "a", &defaults, 1304 + 290), 1);
    assert_int_equal(ac_policy_ratelimit_check(rl, "a", &defaults, 1600, &left), -AC_EPERM);
    ac_policy_ratelimit_free(rl);
}

static void success_clears_the_client(void **state)
{
    (void)state;
    ac_policy_ratelimit_t *rl = ac_policy_ratelimit_new();
    int64_t left;
    for (int i = 0; i < 4; i++)
        ac_policy_ratelimit_fail(rl, "a", &defaults, 10);
    ac_policy_ratelimit_clear(rl, "a");
    assert_int_equal(ac_policy_ratelimit_count(rl), 0);
    assert_int_equal(ac_policy_ratelimit_fail(rl, "a", &defaults, 11), 0); /* one failure, not five */
    assert_int_equal(ac_policy_ratelimit_check(rl, "a", &defaults, 11, &left), 0);
    ac_policy_ratelimit_free(rl);
}

static void limits_apply_as_they_change(void **state)
{
    (void)state;
    ac_policy_ratelimit_t *rl = ac_policy_ratelimit_new();
    int64_t left;
    ac_policy_ratelimit_cfg_t strict = {2, 60, 300};
    ac_policy_ratelimit_fail(rl, "a", &defaults, 10);
    assert_int_equal(ac_policy_ratelimit_fail(rl, "a", &strict, 11), 1); /* two failures are enough now */
    assert_int_equal(ac_policy_ratelimit_check(rl, "a", &strict, 11, &left), -AC_EPERM);
    assert_int_equal(left, 60);
    /* nonsense limits are clamped, never "no limit": zero attempts is one, a zero window is one second */
    ac_policy_ratelimit_cfg_t zero = {0, 0, -5};
    assert_int_equal(ac_policy_ratelimit_fail(rl, "b", &zero, 20), 1);
    assert_int_equal(ac_policy_ratelimit_check(rl, "b", &zero, 20, &left), -AC_EPERM);
    ac_policy_ratelimit_cfg_t forever = {1, INT64_MAX, INT64_MAX}; /* no overflow */
    assert_int_equal(ac_policy_ratelimit_fail(rl, "d", &forever, 30), 1);
    assert_int_equal(ac_policy_ratelimit_check(rl, "d", &forever, 30 + 86400, &left), -AC_EPERM);
    ac_policy_ratelimit_cfg_t huge = {100000, 10, 300};
    for (int i = 0; i < 19; i++)
        assert_int_equal(ac_policy_ratelimit_fail(rl, "c", &huge, 30), 0);
    assert_int_equal(ac_policy_ratelimit_fail(rl, "c", &huge, 30), 1); /* clamped to 20 */
    ac_policy_ratelimit_free(rl);
}

static void a_flood_of_addresses_stays_bounded_and_keeps_blocks(void **state)
{
    (void)state;
    ac_policy_ratelimit_t *rl = ac_policy_ratelimit_new();
    int64_t left;
    for (int i = 0; i < 5; i++)
        ac_policy_ratelimit_fail(rl, "attacker", &defaults, 100);
    char ip[64];
    for (int i = 0; i < 3 * AC_POLICY_RATELIMIT_MAX_CLIENTS; i++) {
        snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        ac_policy_ratelimit_fail(rl, ip, &defaults, 100 + i / 1000);
    }
    assert_true(ac_policy_ratelimit_count(rl) <= AC_POLICY_RATELIMIT_MAX_CLIENTS);
    assert_int_equal(ac_policy_ratelimit_check(rl, "attacker", &defaults, 200, &left), -AC_EPERM);
    /* a very long key is cut, not overflowed, and still tracked */
    char longkey[300];
    memset(longkey, 'x', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    for (int i = 0; i < 5; i++)
        ac_policy_ratelimit_fail(rl, longkey, &defaults, 5000);
    assert_int_equal(ac_policy_ratelimit_check(rl, longkey, &defaults, 5000, &left), -AC_EPERM);
    ac_policy_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(five_failures_block_for_the_block_duration),
        cmocka_unit_test(failures_older_than_the_window_are_forgotten),
        cmocka_unit_test(success_clears_the_client),
        cmocka_unit_test(limits_apply_as_they_change),
        cmocka_unit_test(a_flood_of_addresses_stays_bounded_and_keeps_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
