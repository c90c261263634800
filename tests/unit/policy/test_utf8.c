/* tests/unit/policy/test_utf8.c - cutting UTF-8 at character boundaries, and the timespec arithmetic. */
#include "policy/utf8.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

static void validity_follows_the_standard(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
        bool ok;
    } cases[] = {
        {"", 0, true},
        {"plain", 5, true},
        {"\xc3\xa9", 2, true},         /* é */
        {"\xe2\x82\xac", 3, true},     /* € */
        {"\xf0\x9f\x98\x80", 4, true}, /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4, true}, /* U+10FFFF, the last */
        {"a\0b", 3, true},             /* NUL is UTF-8; callers refuse it themselves */
        {"\xc3", 1, false},            /* cut short */
        {"\xe2\x82", 2, false},
        {"\x80", 1, false},             /* a lone continuation byte */
        {"\xc0\xaf", 2, false},         /* overlong "/" */
        {"\xe0\x80\xaf", 3, false},     /* overlong */
        {"\xf0\x80\x80\xaf", 4, false}, /* overlong */
        {"\xed\xa0\x80", 3, false},     /* a surrogate */
        {"\xf4\x90\x80\x80", 4, false}, /* above U+10FFFF */
        {"\xff", 1, false},
        {"\xc3\x28", 2, false}, /* a continuation that is not one */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (ac_policy_utf8_valid(cases[i].s, cases[i].n) != cases[i].ok)
            fail_msg("case %zu", i);
}

static void clip_marks_a_cut(void **state)
{
    (void)state;
    char out[32];
    ac_policy_utf8_clip("short", 10, out, sizeof(out));
    assert_string_equal(out, "short");
    ac_policy_utf8_clip("caf\xc3\xa9 au lait", 4, out, sizeof(out)); /* never half of the é */
    assert_string_equal(out, "caf...");
    ac_policy_utf8_clip(NULL, 4, out, sizeof(out));
    assert_string_equal(out, "?");
}

static void text_for_a_message_keeps_valid_utf8_and_masks_the_rest(void **state)
{
    (void)state;
    char ok[] = "caf\xc3\xa9 \xe2\x98\xba";
    ac_policy_utf8_or_ascii(ok, strlen(ok));
    assert_string_equal(ok, "caf\xc3\xa9 \xe2\x98\xba"); /* valid: untouched */
    char bad[] = "near '\xc3\xa9\xff' x";
    ac_policy_utf8_or_ascii(bad, strlen(bad));
    assert_string_equal(bad, "near '\?\?\?' x"); /* one bad byte: every byte above ASCII masked */
    char cut[] = "ab\xe2\x98";                   /* a character cut short */
    ac_policy_utf8_or_ascii(cut, strlen(cut));
    assert_string_equal(cut, "ab??");
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
        cmocka_unit_test(validity_follows_the_standard),
        cmocka_unit_test(clip_marks_a_cut),
        cmocka_unit_test(text_for_a_message_keeps_valid_utf8_and_masks_the_rest),
        cmocka_unit_test(milliseconds_carry_into_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
