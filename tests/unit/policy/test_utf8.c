/* tests/unit/policy/test_utf8.c - cutting UTF-8 at character boundaries, and the timespec arithmetic. */
#include "policy/utf8.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void a_text_that_fits_is_kept_whole(void **state)
{
    (void)state;
    assert_int_equal(ac_policy_utf8_fit("abc", 3, 3), 3);
    assert_int_equal(ac_policy_utf8_fit("abc", 3, 10), 3);
    assert_int_equal(ac_policy_utf8_fit("", 0, 0), 0);
}

static void a_cut_never_splits_a_character(void **state)
{
    (void)state;
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"; /* a, e-acute (2), euro (3), emoji (4), z */
    size_t n = strlen(s);
    /* every max lands on a boundary: 0, 1, 3, 6, 10 */
    static const size_t want[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10};
    for (size_t max = 0; max <= 10; max++)
        assert_int_equal(ac_policy_utf8_fit(s, n, max), want[max]);
    assert_int_equal(ac_policy_utf8_fit(s, n, 11), 11);
}

static void ascii_is_cut_exactly(void **state)
{
    (void)state;
    assert_int_equal(ac_policy_utf8_fit("hello world", 11, 5), 5);
}

static void milliseconds_carry_into_seconds(void **state)
{
    (void)state;
    struct timespec ts = {10, 999000000L};
    ac_policy_timespec_add_ms(&ts, 1);
    assert_int_equal(ts.tv_sec, 11);
    assert_int_equal(ts.tv_nsec, 0);
    ac_policy_timespec_add_ms(&ts, 2500);
    assert_int_equal(ts.tv_sec, 13);
    assert_int_equal(ts.tv_nsec, 500000000L);
    ac_policy_timespec_add_ms(&ts, 0);
    assert_int_equal(ts.tv_sec, 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_text_that_fits_is_kept_whole),
        cmocka_unit_test(a_cut_never_splits_a_character),
        cmocka_unit_test(ascii_is_cut_exactly),
        cmocka_unit_test(milliseconds_carry_into_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
