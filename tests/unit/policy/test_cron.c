/* tests/unit/policy/test_cron.c - policy/cron.c: every syntax form, every class of refused input (with its message),
 * next/prev across month, year and leap-day boundaries, the day-of-month / day-of-week rule, and a cross-check of
 * next/prev/matches against a brute-force search that uses the C library's calendar (timegm, gmtime_r) instead of
 * the module's own. */
#include "policy/cron.h"
#include "policy/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* ---- helpers ------------------------------------------------------------------------------------------------------ */

/* Unix seconds of a UTC date and time, from the C library (an oracle independent of the module's arithmetic). */
static int64_t utc(int y, int mon, int d, int h, int mi)
{
    struct tm tm = {0};

    tm.tm_year = y - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return (int64_t)timegm(&tm);
}

static ac_policy_cron_t parse_ok(const char *expr)
{
    ac_policy_cron_t c;
    ac_errmsg_t err = {{0}};
    int ret = ac_policy_cron_parse(expr, strlen(expr), &c, &err);

    if (ret != 0)
        fail_msg("\"%s\" was refused: %s", expr, err.msg);
    return c;
}

static void expect_refused_n(const char *expr, size_t len, const char *msg)
{
    ac_policy_cron_t c;
    ac_errmsg_t err = {{0}};

    memset(&c, 0xaa, sizeof(c));
    assert_int_equal(ac_policy_cron_parse(expr, len, &c, &err), -AC_EINVAL);
    assert_string_equal(err.msg, msg);
    /* A refused expression leaves a value that matches nothing. */
    assert_int_equal(c.minutes, 0);
    assert_int_equal(c.hours, 0);
    assert_int_equal(c.mdays, 0);
    assert_int_equal(c.months, 0);
    assert_int_equal(c.wdays, 0);
    assert_int_equal(c.flags, 0);
}

static void expect_refused(const char *expr, const char *msg)
{
    expect_refused_n(expr, strlen(expr), msg);
}

static uint64_t bits(const int *v, size_t n)
{
    uint64_t b = 0;

    for (size_t i = 0; i < n; i++)
        b |= UINT64_C(1) << v[i];
    return b;
}

#define BITS(...) bits((const int[]){__VA_ARGS__}, sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

static uint64_t range_bits(int lo, int hi)
{
    uint64_t b = 0;

    for (int v = lo; v <= hi; v++)
        b |= UINT64_C(1) << v;
    return b;
}

static int64_t next_of(const char *expr, int64_t after)
{
    ac_policy_cron_t c = parse_ok(expr);
    int64_t t = -1;

    assert_int_equal(ac_policy_cron_next(&c, after, &t), 0);
    return t;
}

static int64_t prev_of(const char *expr, int64_t at)
{
    ac_policy_cron_t c = parse_ok(expr);
    int64_t t = -1;

    assert_int_equal(ac_policy_cron_prev(&c, at, &t), 0);
    return t;
}

/* ---- syntax ------------------------------------------------------------------------------------------------------- */

static void parses_all_stars_as_every_minute(void **state)
{
    ac_policy_cron_t c = parse_ok("* * * * *");

    assert_int_equal(c.minutes, range_bits(0, 59));
    assert_int_equal(c.hours, range_bits(0, 23));
    assert_int_equal(c.mdays, range_bits(1, 31));
    assert_int_equal(c.months, range_bits(1, 12));
    assert_int_equal(c.wdays, range_bits(0, 6));
    assert_int_equal(c.flags, AC_POLICY_CRON_DOM_STAR | AC_POLICY_CRON_DOW_STAR);
}

static void parses_single_values(void **state)
{
    ac_policy_cron_t c = parse_ok("7 13 21 4 3");

    assert_int_equal(c.minutes, BITS(7));
    assert_int_equal(c.hours, BITS(13));
    assert_int_equal(c.mdays, BITS(21));
    assert_int_equal(c.months, BITS(4));
    assert_int_equal(c.wdays, BITS(3));
    assert_int_equal(c.flags, 0);
}

static void parses_field_bounds(void **state)
{
    ac_policy_cron_t c = parse_ok("0,59 0,23 1,31 1,12 0,6");

    assert_int_equal(c.minutes, BITS(0, 59));
    assert_int_equal(c.hours, BITS(0, 23));
    assert_int_equal(c.mdays, BITS(1, 31));
    assert_int_equal(c.months, BITS(1, 12));
    assert_int_equal(c.wdays, BITS(0, 6));
}

static void parses_ranges_and_lists(void **state)
{
    ac_policy_cron_t c = parse_ok("1-3,10,58-59 9-17 1-5,15 6-8 1-5");

    assert_int_equal(c.minutes, BITS(1, 2, 3, 10, 58, 59));
    assert_int_equal(c.hours, range_bits(9, 17));
    assert_int_equal(c.mdays, BITS(1, 2, 3, 4, 5, 15));
    assert_int_equal(c.months, BITS(6, 7, 8));
    assert_int_equal(c.wdays, range_bits(1, 5));
    /* A one-value range and overlapping elements are fine. */
    c = parse_ok("5-5,4-6 * * * *");
    assert_int_equal(c.minutes, BITS(4, 5, 6));
}

static void parses_star_step(void **state)
{
    ac_policy_cron_t c = parse_ok("*/15 */6 */10 */3 */2");

    assert_int_equal(c.minutes, BITS(0, 15, 30, 45));
    assert_int_equal(c.hours, BITS(0, 6, 12, 18));
    assert_int_equal(c.mdays, BITS(1, 11, 21, 31));
    assert_int_equal(c.months, BITS(1, 4, 7, 10));
    assert_int_equal(c.wdays, BITS(0, 2, 4, 6));
}

static void parses_range_step(void **state)
{
    ac_policy_cron_t c = parse_ok("5-59/20 1-10/3 2-30/7 2-12/5 1-5/2");

    assert_int_equal(c.minutes, BITS(5, 25, 45));
    assert_int_equal(c.hours, BITS(1, 4, 7, 10));
    assert_int_equal(c.mdays, BITS(2, 9, 16, 23, 30));
    assert_int_equal(c.months, BITS(2, 7, 12));
    assert_int_equal(c.wdays, BITS(1, 3, 5));
}

static void parses_value_step_up_to_the_field_end(void **state)
{
    ac_policy_cron_t c = parse_ok("10/20 3/8 25/3 11/1 4/1");

    assert_int_equal(c.minutes, BITS(10, 30, 50));
    assert_int_equal(c.hours, BITS(3, 11, 19));
    assert_int_equal(c.mdays, BITS(25, 28, 31));
    assert_int_equal(c.months, BITS(11, 12));
    /* The week ends on Saturday (6); a 7 (Sunday) with a step stays alone. */
    assert_int_equal(c.wdays, BITS(4, 5, 6));
    c = parse_ok("* * * * 7/2");
    assert_int_equal(c.wdays, BITS(0));
}

static void parses_month_names_in_any_case(void **state)
{
    ac_policy_cron_t c = parse_ok("0 0 1 JAN,feb,Mar-MAY,jul-9,OcT-dec/2 *");

    assert_int_equal(c.months, BITS(1, 2, 3, 4, 5, 7, 8, 9, 10, 12));
    static const char *const names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                        "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    for (int i = 0; i < 12; i++) {
        char expr[32];
        snprintf(expr, sizeof(expr), "0 0 1 %s *", names[i]);
        assert_int_equal(parse_ok(expr).months, BITS(i + 1));
    }
}

static void parses_weekday_names_in_any_case(void **state)
{
    static const char *const names[] = {"sun", "MON", "Tue", "wED", "THU", "fri", "SAT"};

    for (int i = 0; i < 7; i++) {
        char expr[32];
        snprintf(expr, sizeof(expr), "0 0 * * %s", names[i]);
        assert_int_equal(parse_ok(expr).wdays, BITS(i));
    }
    assert_int_equal(parse_ok("0 0 * * MON-FRI").wdays, range_bits(1, 5));
    assert_int_equal(parse_ok("0 0 * * SUN,sat").wdays, BITS(0, 6));
    assert_int_equal(parse_ok("0 0 * * 1-fri").wdays, range_bits(1, 5));
    assert_int_equal(parse_ok("0 0 * * MON/2").wdays, BITS(1, 3, 5));
}

static void treats_7_as_sunday(void **state)
{
    assert_int_equal(parse_ok("0 0 * * 7").wdays, BITS(0));
    assert_int_equal(parse_ok("0 0 * * 0,7").wdays, BITS(0));
    assert_int_equal(parse_ok("0 0 * * 5-7").wdays, BITS(0, 5, 6));
    assert_int_equal(parse_ok("0 0 * * 0-7").wdays, range_bits(0, 6));
    assert_int_equal(parse_ok("0 0 * * FRI-7").wdays, BITS(0, 5, 6));
    /* And it fires on Sundays: 2024-06-02 was a Sunday. */
    assert_int_equal(next_of("0 0 * * 7", utc(2024, 5, 30, 12, 0)), utc(2024, 6, 2, 0, 0));
}

static void accepts_blanks_around_and_between_fields(void **state)
{
    ac_policy_cron_t a = parse_ok("5 4 * * 1");
    ac_policy_cron_t b = parse_ok("  5\t4   *\t\t* 1  ");

    assert_memory_equal(&a, &b, sizeof(a));
}

static void accepts_leading_zeros_up_to_three_digits(void **state)
{
    ac_policy_cron_t c = parse_ok("05 007 01 09 00");

    assert_int_equal(c.minutes, BITS(5));
    assert_int_equal(c.hours, BITS(7));
    assert_int_equal(c.mdays, BITS(1));
    assert_int_equal(c.months, BITS(9));
    assert_int_equal(c.wdays, BITS(0));
}

static void accepts_the_largest_steps(void **state)
{
    ac_policy_cron_t c = parse_ok("*/59 */23 */30 */11 */6");

    assert_int_equal(c.minutes, BITS(0, 59));
    assert_int_equal(c.hours, BITS(0, 23));
    assert_int_equal(c.mdays, BITS(1, 31));
    assert_int_equal(c.months, BITS(1, 12));
    assert_int_equal(c.wdays, BITS(0, 6));
}

static void expands_macros_in_any_case(void **state)
{
    static const struct {
        const char *macro, *fields;
    } cases[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}, {"@DAILY", "0 0 * * *"},    {"  @Hourly\t", "0 * * * *"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ac_policy_cron_t a = parse_ok(cases[i].macro);
        ac_policy_cron_t b = parse_ok(cases[i].fields);
        assert_memory_equal(&a, &b, sizeof(a));
    }
}

static void marks_fields_that_start_with_a_star(void **state)
{
    assert_int_equal(parse_ok("0 0 1 * MON").flags, 0);
    assert_int_equal(parse_ok("0 0 * * MON").flags, AC_POLICY_CRON_DOM_STAR);
    assert_int_equal(parse_ok("0 0 1 * *").flags, AC_POLICY_CRON_DOW_STAR);
    /* Vixie cron goes by the first character: a stepped star is unrestricted, an explicit full range is not. */
    assert_int_equal(parse_ok("0 0 */2 * MON").flags, AC_POLICY_CRON_DOM_STAR);
    assert_int_equal(parse_ok("0 0 1-31 * MON").flags, 0);
    assert_int_equal(parse_ok("0 0 1 * */2").flags, AC_POLICY_CRON_DOW_STAR);
}

static void reads_only_len_bytes(void **state)
{
    static const char expr[] = "0 0 * * *garbage";
    ac_policy_cron_t a, b = parse_ok("0 0 * * *");

    assert_int_equal(ac_policy_cron_parse(expr, 9, &a, NULL), 0);
    assert_memory_equal(&a, &b, sizeof(a));
}

static void accepts_exactly_the_maximum_length(void **state)
{
    char expr[AC_POLICY_CRON_MAX_LEN + 1];
    ac_policy_cron_t c;

    memset(expr, ' ', sizeof(expr));
    memcpy(expr, "0 0 * * *", 9);
    assert_int_equal(ac_policy_cron_parse(expr, AC_POLICY_CRON_MAX_LEN, &c, NULL), 0);
    assert_int_equal(c.minutes, BITS(0));
}

/* ---- refusals ----------------------------------------------------------------------------------------------------- */

static void rejects_wrong_field_count(void **state)
{
    expect_refused("", "expected 5 fields, got 0");
    expect_refused(" \t ", "expected 5 fields, got 0");
    expect_refused("* * * *", "expected 5 fields, got 4");
    expect_refused("* * * * * *", "expected 5 fields, got 6");
    expect_refused("0 0 * * * /usr/bin/true", "expected 5 fields, got 6");
    expect_refused_n(NULL, 0, "expected 5 fields, got 0");
}

static void rejects_values_out_of_range(void **state)
{
    expect_refused("60 * * * *", "minute: 60 is out of range 0-59");
    expect_refused("* 24 * * *", "hour: 24 is out of range 0-23");
    expect_refused("* * 0 * *", "day-of-month: 0 is out of range 1-31");
    expect_refused("* * 32 * *", "day-of-month: 32 is out of range 1-31");
    expect_refused("* * * 0 *", "month: 0 is out of range 1-12");
    expect_refused("* * * 13 *", "month: 13 is out of range 1-12");
    expect_refused("* * * * 8", "day-of-week: 8 is out of range 0-7");
    expect_refused("999 * * * *", "minute: 999 is out of range 0-59");
    expect_refused("1-60 * * * *", "minute: 60 is out of range 0-59");
    expect_refused("1,2,100 * * * *", "minute: 100 is out of range 0-59");
}

static void rejects_numbers_with_too_many_digits(void **state)
{
    expect_refused("0005 * * * *", "minute: number 0005 has too many digits (at most 3)");
    expect_refused("* 99999999999999999999 * * *", "hour: number 9999999999999999... has too many digits (at most 3)");
    expect_refused("*/0015 * * * *", "minute: number 0015 has too many digits (at most 3)");
}

static void rejects_zero_steps(void **state)
{
    expect_refused("*/0 * * * *", "minute: step 0 is not allowed");
    expect_refused("* */0 * * *", "hour: step 0 is not allowed");
    expect_refused("* * 1-10/00 * *", "day-of-month: step 0 is not allowed");
    expect_refused("* * * 3/000 *", "month: step 0 is not allowed");
}

static void rejects_steps_larger_than_the_field(void **state)
{
    expect_refused("*/60 * * * *", "minute: step 60 is too large (at most 59)");
    expect_refused("* */24 * * *", "hour: step 24 is too large (at most 23)");
    expect_refused("* * */31 * *", "day-of-month: step 31 is too large (at most 30)");
    expect_refused("* * * */12 *", "month: step 12 is too large (at most 11)");
    expect_refused("* * * * */7", "day-of-week: step 7 is too large (at most 6)");
}

static void rejects_reversed_ranges(void **state)
{
    expect_refused("* * * 5-3 *", "month: range 5-3 is reversed");
    expect_refused("30-10 * * * *", "minute: range 30-10 is reversed");
    expect_refused("* * * * SAT-SUN", "day-of-week: range SAT-SUN is reversed");
    expect_refused("* * * DEC-JAN *", "month: range DEC-JAN is reversed");
    expect_refused("* * * * 7-1", "day-of-week: range 7-1 is reversed");
}

static void rejects_unknown_names(void **state)
{
    expect_refused("* * * * FOO", "day-of-week: unknown name FOO");
    expect_refused("* * * * MONDAY", "day-of-week: unknown name MONDAY");
    expect_refused("* * * JANUARY *", "month: unknown name JANUARY");
    expect_refused("* * * * JAN", "day-of-week: unknown name JAN");
    expect_refused("* * * MON *", "month: unknown name MON");
    expect_refused("* * * * MON-XYZ", "day-of-week: unknown name XYZ");
}

static void rejects_names_outside_month_and_weekday(void **state)
{
    expect_refused("MON * * * *", "minute: unexpected name MON (names are only allowed in month and day-of-week)");
    expect_refused("* * L * *", "day-of-month: unexpected name L (names are only allowed in month and day-of-week)");
    expect_refused("* 1-x * * *", "hour: unexpected name x (names are only allowed in month and day-of-week)");
}

static void rejects_other_characters(void **state)
{
    expect_refused("5# * * * *", "minute: unexpected character '#' at column 2");
    expect_refused("0 0 ? * *", "day-of-month: unexpected character '?' at column 5");
    expect_refused("0 0 * * 1#2", "day-of-week: unexpected character '#' at column 10");
    expect_refused("0 0 * * *\n", "day-of-week: unexpected character '\\x0a' at column 10");
    expect_refused("0 0 * * \xc3\xa9", "day-of-week: unexpected character '\\xc3' at column 9");
    expect_refused("-5 * * * *", "minute: unexpected character '-' at column 1");
    expect_refused("*-5 * * * *", "minute: unexpected character '-' at column 2");
    expect_refused("1--5 * * * *", "minute: unexpected character '-' at column 3");
    expect_refused("*/5/2 * * * *", "minute: unexpected character '/' at column 4");
    expect_refused("*/x * * * *", "minute: unexpected character 'x' at column 3");
    expect_refused("0 @daily * * *", "hour: unexpected character '@' at column 3");
    expect_refused("MON1 * * * 1", "minute: unexpected name MON (names are only allowed in month and day-of-week)");
    expect_refused("* * * * MON1", "day-of-week: unexpected character '1' at column 12");
}

static void rejects_empty_list_elements_and_trailing_commas(void **state)
{
    expect_refused("1,,2 * * * *", "minute: empty list element at column 3");
    expect_refused(",1 * * * *", "minute: empty list element at column 1");
    expect_refused("* 1, * * *", "hour: trailing comma");
    expect_refused("* * * * MON,", "day-of-week: trailing comma");
    expect_refused(", * * * *", "minute: empty list element at column 1");
}

static void rejects_incomplete_ranges_and_steps(void **state)
{
    expect_refused("5- * * * *", "minute: range 5- has no end");
    expect_refused("5-,6 * * * *", "minute: range 5- has no end");
    expect_refused("5-/2 * * * *", "minute: range 5- has no end");
    expect_refused("*/ * * * *", "minute: missing step after '/'");
    expect_refused("1-5/,6 * * * *", "minute: missing step after '/'");
    expect_refused("* * * * MON/TUE", "day-of-week: unexpected character 'T' at column 13");
}

static void rejects_input_longer_than_256_bytes(void **state)
{
    char expr[AC_POLICY_CRON_MAX_LEN + 1];

    memset(expr, ' ', sizeof(expr));
    memcpy(expr, "0 0 * * *", 9);
    expect_refused_n(expr, sizeof(expr), "expression is 257 bytes long, at most 256 are allowed");
}

static void rejects_nul_bytes(void **state)
{
    static const char expr[] = "0 0\0 * * *";

    expect_refused_n(expr, sizeof(expr) - 1, "NUL byte at column 4");
    expect_refused_n("0 0 * * *", 10, "NUL byte at column 10"); /* the terminator, when len counts it */
}

static void rejects_unknown_and_misused_macros(void **state)
{
    expect_refused("@reboot", "@reboot is not supported: it names no time");
    expect_refused("@every", "unknown macro @every");
    expect_refused("@", "unknown macro @");
    expect_refused("@daily 5", "expected nothing after @daily, got 1 more fields");
    expect_refused("@hourly * * * *", "expected nothing after @hourly, got 4 more fields");
    expect_refused("@da\x01ly", "unknown macro @da\\x01ly");
    expect_refused("@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "unknown macro @aaaaaaaaaaaaaaa...");
}

static void rejects_missing_arguments(void **state)
{
    ac_errmsg_t err = {{0}};
    ac_policy_cron_t c;

    assert_int_equal(ac_policy_cron_parse("* * * * *", 9, NULL, &err), -AC_EINVAL);
    assert_string_equal(err.msg, "no place for the result");
    assert_int_equal(ac_policy_cron_parse(NULL, 3, &c, &err), -AC_EINVAL);
    assert_string_equal(err.msg, "expression is missing");
    /* err may be NULL. */
    assert_int_equal(ac_policy_cron_parse("60 * * * *", 10, &c, NULL), -AC_EINVAL);
}

static void leaves_err_untouched_on_success(void **state)
{
    ac_errmsg_t err;
    ac_policy_cron_t c;

    strcpy(err.msg, "earlier");
    assert_int_equal(ac_policy_cron_parse("* * * * *", 9, &c, &err), 0);
    assert_string_equal(err.msg, "earlier");
}

/* ---- matching and searching --------------------------------------------------------------------------------------- */

static void matches_the_whole_minute_and_negative_times(void **state)
{
    ac_policy_cron_t c = parse_ok("59 23 31 12 *");

    assert_true(ac_policy_cron_matches(&c, -60));
    assert_true(ac_policy_cron_matches(&c, -1));
    assert_false(ac_policy_cron_matches(&c, 0));
    assert_false(ac_policy_cron_matches(&c, -61));
    c = parse_ok("30 12 * * *");
    assert_true(ac_policy_cron_matches(&c, utc(2024, 5, 1, 12, 30)));
    assert_true(ac_policy_cron_matches(&c, utc(2024, 5, 1, 12, 30) + 59));
    assert_false(ac_policy_cron_matches(&c, utc(2024, 5, 1, 12, 30) + 60));
    assert_false(ac_policy_cron_matches(&c, utc(2024, 5, 1, 12, 30) - 1));
}

static void matches_nothing_when_zeroed(void **state)
{
    ac_policy_cron_t c;
    int64_t t = 42;

    memset(&c, 0, sizeof(c));
    assert_false(ac_policy_cron_matches(&c, 0));
    assert_int_equal(ac_policy_cron_next(&c, 0, &t), -AC_ENOENT);
    assert_int_equal(ac_policy_cron_prev(&c, 0, &t), -AC_ENOENT);
    assert_int_equal(t, 42);
}

static void tolerates_extreme_times_in_matches(void **state)
{
    ac_policy_cron_t c = parse_ok("* * * * *");

    assert_true(ac_policy_cron_matches(&c, INT64_MAX));
    assert_true(ac_policy_cron_matches(&c, INT64_MIN));
}

static void next_of_every_15_minutes_is_strictly_after(void **state)
{
    int64_t base = utc(2024, 5, 1, 10, 0);

    assert_int_equal(next_of("*/15 * * * *", base + 7 * 60 + 30), base + 15 * 60);
    assert_int_equal(next_of("*/15 * * * *", base + 15 * 60), base + 30 * 60);
    assert_int_equal(next_of("*/15 * * * *", base + 15 * 60 - 1), base + 15 * 60);
    assert_int_equal(next_of("*/15 * * * *", base + 45 * 60), base + 60 * 60);
    assert_int_equal(next_of("* * * * *", base), base + 60);
    assert_int_equal(next_of("* * * * *", base + 59), base + 60);
}

static void next_of_5_59_20_walks_5_25_45(void **state)
{
    int64_t base = utc(2024, 5, 1, 10, 0);

    assert_int_equal(next_of("5-59/20 * * * *", base), base + 5 * 60);
    assert_int_equal(next_of("5-59/20 * * * *", base + 5 * 60), base + 25 * 60);
    assert_int_equal(next_of("5-59/20 * * * *", base + 25 * 60), base + 45 * 60);
    assert_int_equal(next_of("5-59/20 * * * *", base + 45 * 60), base + 65 * 60);
}

static void next_moves_to_the_next_hour_and_day(void **state)
{
    assert_int_equal(next_of("10 9-17 * * *", utc(2024, 5, 1, 9, 30)), utc(2024, 5, 1, 10, 10));
    assert_int_equal(next_of("10 9-17 * * *", utc(2024, 5, 1, 17, 10)), utc(2024, 5, 2, 9, 10));
    assert_int_equal(next_of("0 0 * * *", utc(2024, 5, 1, 0, 0)), utc(2024, 5, 2, 0, 0));
}

static void next_crosses_month_ends(void **state)
{
    assert_int_equal(next_of("0 12 1 * *", utc(2024, 1, 31, 13, 0)), utc(2024, 2, 1, 12, 0));
    /* April has no 31st: skipped. */
    assert_int_equal(next_of("0 0 31 * *", utc(2024, 4, 1, 0, 0)), utc(2024, 5, 31, 0, 0));
    assert_int_equal(next_of("0 0 31 * *", utc(2024, 5, 31, 0, 0)), utc(2024, 7, 31, 0, 0));
    assert_int_equal(next_of("* * * * *", utc(2024, 4, 30, 23, 59)), utc(2024, 5, 1, 0, 0));
    assert_int_equal(next_of("0 0 30 * *", utc(2023, 1, 30, 0, 0)), utc(2023, 3, 30, 0, 0));
}

static void next_finds_leap_days(void **state)
{
    assert_int_equal(next_of("0 0 29 2 *", utc(2023, 3, 1, 0, 0)), utc(2024, 2, 29, 0, 0));
    assert_int_equal(next_of("0 0 29 2 *", utc(2024, 2, 29, 0, 0)), utc(2028, 2, 29, 0, 0));
    /* 2100 is not a leap year, 2000 was. */
    assert_int_equal(next_of("0 0 29 2 *", utc(2096, 3, 1, 0, 0)), utc(2104, 2, 29, 0, 0));
    assert_int_equal(next_of("0 0 29 2 *", utc(1997, 1, 1, 0, 0)), utc(2000, 2, 29, 0, 0));
    assert_int_equal(next_of("0 0 * 3 *", utc(2024, 2, 28, 0, 0)), utc(2024, 3, 1, 0, 0));
    assert_int_equal(next_of("0 0 28-31 2 *", utc(2024, 2, 28, 0, 0)), utc(2024, 2, 29, 0, 0));
    assert_int_equal(next_of("0 0 28-31 2 *", utc(2023, 2, 28, 0, 0)), utc(2024, 2, 28, 0, 0));
}

static void next_crosses_the_year_end(void **state)
{
    assert_int_equal(next_of("0 0 1 1 *", utc(2024, 12, 31, 23, 59) + 30), utc(2025, 1, 1, 0, 0));
    assert_int_equal(next_of("59 23 31 12 *", utc(2024, 12, 31, 23, 59)), utc(2025, 12, 31, 23, 59));
    assert_int_equal(next_of("@yearly", utc(2024, 6, 1, 0, 0)), utc(2025, 1, 1, 0, 0));
    assert_int_equal(next_of("0 9 * * MON", utc(2024, 12, 31, 0, 0)), utc(2025, 1, 6, 9, 0));
}

static void ignores_daylight_saving_time(void **state)
{
    /* The times are UTC whatever TZ says: the European and US spring-forward and fall-back dates are ordinary days. */
    const char *old = getenv("TZ");
    char *saved = old != NULL ? strdup(old) : NULL;

    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    assert_int_equal(next_of("30 2 * * *", utc(2024, 3, 31, 0, 0)), utc(2024, 3, 31, 2, 30));
    assert_int_equal(next_of("30 2 * * *", utc(2024, 10, 27, 2, 30)), utc(2024, 10, 28, 2, 30));
    setenv("TZ", "America/New_York", 1);
    tzset();
    assert_int_equal(next_of("30 2 * * *", utc(2024, 3, 10, 0, 0)), utc(2024, 3, 10, 2, 30));
    assert_int_equal(prev_of("0 * * * *", utc(2024, 11, 3, 2, 0)), utc(2024, 11, 3, 2, 0));
    assert_int_equal(next_of("0 * * * *", utc(2024, 11, 3, 1, 0)), utc(2024, 11, 3, 2, 0));
    if (saved != NULL) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
}

static void fires_when_either_restricted_day_field_matches(void **state)
{
    /* 2024-09-13 was a Friday; the 13th or any Friday. */
    ac_policy_cron_t c = parse_ok("0 0 13 * FRI");

    assert_true(ac_policy_cron_matches(&c, utc(2024, 9, 13, 0, 0)));
    assert_true(ac_policy_cron_matches(&c, utc(2024, 9, 20, 0, 0)));  /* a Friday */
    assert_true(ac_policy_cron_matches(&c, utc(2024, 10, 13, 0, 0))); /* a Sunday */
    assert_false(ac_policy_cron_matches(&c, utc(2024, 10, 14, 0, 0)));
    assert_int_equal(next_of("0 0 13 * FRI", utc(2024, 10, 4, 0, 0)), utc(2024, 10, 11, 0, 0));
    assert_int_equal(next_of("0 0 13 * FRI", utc(2024, 10, 11, 0, 0)), utc(2024, 10, 13, 0, 0));
    assert_int_equal(next_of("0 0 1 * MON", utc(2024, 5, 27, 0, 0)), utc(2024, 6, 1, 0, 0));
}

static void filters_only_by_the_restricted_day_field(void **state)
{
    /* Day-of-month unrestricted: only Fridays. */
    assert_int_equal(next_of("0 0 * * FRI", utc(2024, 9, 13, 0, 0)), utc(2024, 9, 20, 0, 0));
    /* Day-of-week unrestricted: only the 13th. */
    assert_int_equal(next_of("0 0 13 * *", utc(2024, 9, 13, 0, 0)), utc(2024, 10, 13, 0, 0));
    /* A stepped star counts as unrestricted (Vixie cron), so both must hold: an odd day that is a Friday. */
    assert_int_equal(next_of("0 0 */2 * FRI", utc(2024, 9, 1, 0, 0)), utc(2024, 9, 13, 0, 0));
    assert_int_equal(next_of("0 0 */2 * FRI", utc(2024, 9, 13, 0, 0)), utc(2024, 9, 27, 0, 0));
    /* An explicit full range is restricted, so either holds: every day. */
    assert_int_equal(next_of("0 0 1-31 * FRI", utc(2024, 9, 13, 0, 0)), utc(2024, 9, 14, 0, 0));
}

static void finds_weekdays_by_name(void **state)
{
    /* 2024-06-01 was a Saturday. */
    assert_int_equal(next_of("0 8 * * MON-FRI", utc(2024, 6, 1, 0, 0)), utc(2024, 6, 3, 8, 0));
    assert_int_equal(next_of("0 8 * * mon-fri", utc(2024, 6, 7, 8, 0)), utc(2024, 6, 10, 8, 0));
    assert_int_equal(next_of("0 8 * JUN SAT,SUN", utc(2024, 6, 1, 8, 0)), utc(2024, 6, 2, 8, 0));
    assert_int_equal(next_of("0 8 1 JUL-AUG *", utc(2024, 6, 1, 8, 0)), utc(2024, 7, 1, 8, 0));
}

static void prev_includes_the_minute_containing_the_time(void **state)
{
    int64_t base = utc(2024, 5, 1, 10, 0);

    assert_int_equal(prev_of("*/15 * * * *", base + 15 * 60 + 45), base + 15 * 60);
    assert_int_equal(prev_of("*/15 * * * *", base + 15 * 60), base + 15 * 60);
    assert_int_equal(prev_of("*/15 * * * *", base + 15 * 60 - 1), base);
    assert_int_equal(prev_of("5-59/20 * * * *", base + 4 * 60), base - 15 * 60);
}

static void prev_crosses_month_year_and_leap_boundaries(void **state)
{
    assert_int_equal(prev_of("0 12 31 * *", utc(2024, 5, 30, 0, 0)), utc(2024, 3, 31, 12, 0));
    assert_int_equal(prev_of("59 23 * * *", utc(2024, 3, 1, 0, 0)), utc(2024, 2, 29, 23, 59));
    assert_int_equal(prev_of("59 23 * * *", utc(2023, 3, 1, 0, 0)), utc(2023, 2, 28, 23, 59));
    assert_int_equal(prev_of("0 0 29 2 *", utc(2024, 2, 28, 0, 0)), utc(2020, 2, 29, 0, 0));
    assert_int_equal(prev_of("0 0 29 2 *", utc(2104, 2, 28, 0, 0)), utc(2096, 2, 29, 0, 0));
    assert_int_equal(prev_of("59 23 31 12 *", utc(2025, 1, 1, 0, 0)), utc(2024, 12, 31, 23, 59));
    assert_int_equal(prev_of("0 0 1 1 *", utc(2025, 1, 1, 0, 0) - 1), utc(2024, 1, 1, 0, 0));
    assert_int_equal(prev_of("0 0 13 * FRI", utc(2024, 10, 13, 0, 0) - 1), utc(2024, 10, 11, 0, 0));
    assert_int_equal(prev_of("* * * * *", 0), 0);
    assert_int_equal(prev_of("* * * * *", -1), -60);
}

static void reports_enoent_for_impossible_dates(void **state)
{
    static const char *const impossible[] = {"0 0 30 2 *", "0 0 31 2 *", "0 0 31 4,6,9,11 *", "* * 30-31 FEB *"};
    int64_t t = 42;

    for (size_t i = 0; i < sizeof(impossible) / sizeof(impossible[0]); i++) {
        ac_policy_cron_t c = parse_ok(impossible[i]);
        assert_int_equal(ac_policy_cron_next(&c, utc(2024, 1, 1, 0, 0), &t), -AC_ENOENT);
        assert_int_equal(ac_policy_cron_prev(&c, utc(2024, 1, 1, 0, 0), &t), -AC_ENOENT);
        assert_int_equal(t, 42);
    }
}

static void refuses_times_beyond_the_limit_and_null_arguments(void **state)
{
    ac_policy_cron_t c = parse_ok("* * * * *");
    int64_t t = 42;

    assert_int_equal(ac_policy_cron_next(&c, AC_POLICY_CRON_TIME_LIMIT + 1, &t), -AC_EINVAL);
    assert_int_equal(ac_policy_cron_next(&c, -AC_POLICY_CRON_TIME_LIMIT - 1, &t), -AC_EINVAL);
    assert_int_equal(ac_policy_cron_prev(&c, INT64_MAX, &t), -AC_EINVAL);
    assert_int_equal(ac_policy_cron_prev(&c, INT64_MIN, &t), -AC_EINVAL);
    assert_int_equal(ac_policy_cron_next(NULL, 0, &t), -AC_EINVAL);
    assert_int_equal(ac_policy_cron_next(&c, 0, NULL), -AC_EINVAL);
    assert_int_equal(ac_policy_cron_prev(NULL, 0, &t), -AC_EINVAL);
    assert_int_equal(ac_policy_cron_prev(&c, 0, NULL), -AC_EINVAL);
    assert_int_equal(t, 42);
    /* The limits themselves work. */
    assert_int_equal(ac_policy_cron_next(&c, AC_POLICY_CRON_TIME_LIMIT, &t), 0);
    assert_true(t > AC_POLICY_CRON_TIME_LIMIT);
    assert_int_equal(ac_policy_cron_prev(&c, -AC_POLICY_CRON_TIME_LIMIT, &t), 0);
    assert_true(t <= -AC_POLICY_CRON_TIME_LIMIT);
}

/* ---- cross-check against brute force ------------------------------------------------------------------------------ */

/* The oracle: the C library's calendar and a direct reading of the Vixie rule. */
static bool oracle_day(const ac_policy_cron_t *c, const struct tm *tm)
{
    bool dom = c->mdays >> tm->tm_mday & 1, dow = c->wdays >> tm->tm_wday & 1;

    if (!(c->months >> (tm->tm_mon + 1) & 1))
        return false;
    if (c->flags & (AC_POLICY_CRON_DOM_STAR | AC_POLICY_CRON_DOW_STAR))
        return dom && dow;
    return dom || dow;
}

/* Walks minute by minute, skipping a whole day or hour only when the oracle says nothing in it can match. */
static int64_t brute_next(const ac_policy_cron_t *c, int64_t after)
{
    int64_t t = (after >= 0 ? after / 60 : (after - 59) / 60) * 60 + 60;
    int64_t limit = after + INT64_C(10) * 366 * 86400;

    while (t <= limit) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        if (!oracle_day(c, &tm))
            t += 86400 - (tm.tm_hour * 3600 + tm.tm_min * 60);
        else if (!(c->hours >> tm.tm_hour & 1))
            t += 3600 - tm.tm_min * 60;
        else if (!(c->minutes >> tm.tm_min & 1))
            t += 60;
        else
            return t;
    }
    return INT64_MIN;
}

static int64_t brute_prev(const ac_policy_cron_t *c, int64_t at)
{
    int64_t t = (at >= 0 ? at / 60 : (at - 59) / 60) * 60;
    int64_t limit = at - INT64_C(10) * 366 * 86400;

    while (t >= limit) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        if (!oracle_day(c, &tm))
            t -= tm.tm_hour * 3600 + tm.tm_min * 60 + 60;
        else if (!(c->hours >> tm.tm_hour & 1))
            t -= tm.tm_min * 60 + 60;
        else if (!(c->minutes >> tm.tm_min & 1))
            t -= 60;
        else
            return t;
    }
    return INT64_MIN;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void agrees_with_brute_force_on_random_times(void **state)
{
    static const char *const exprs[] = {
        "* * * * *",       "*/15 * * * *",       "5-59/20 3,15 * * *",
        "0 0 13 * FRI",    "30 */6 * * MON-FRI", "0 0 * * 7",
        "0 0 */2 * FRI",   "0 12 31 * *",        "0 0 29 2 *",
        "59 23 30,31 * *", "17 4 1,15 * 3",      "0 9-17/2 * JAN,JUL *",
        "@weekly",         "45 23 28-31 * *",    "0 0 1 * MON",
    };
    /* 1900-01-01 .. 2200-01-01: years before and after the Unix epoch, two non-leap centuries and 2000. */
    const int64_t lo = utc(1900, 1, 1, 0, 0), hi = utc(2200, 1, 1, 0, 0);
    uint64_t seed = 0x9e3779b97f4a7c15u;
    size_t checked = 0;

    for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
        ac_policy_cron_t c = parse_ok(exprs[e]);
        for (int i = 0; i < 250; i++) {
            int64_t t = lo + (int64_t)(xorshift(&seed) % (uint64_t)(hi - lo)), got = 0, want;
            /* A quarter of the times sit just before or on a minute boundary, where off-by-ones live. */
            if (i % 4 == 0)
                t -= ((t % 60) + 60) % 60 + (i % 8 == 0 ? 1 : 0);

            want = brute_next(&c, t);
            assert_int_not_equal(want, INT64_MIN);
            assert_int_equal(ac_policy_cron_next(&c, t, &got), 0);
            if (got != want)
                fail_msg("%s: next after %lld: got %lld, want %lld", exprs[e], (long long)t, (long long)got,
                         (long long)want);

            want = brute_prev(&c, t);
            assert_int_not_equal(want, INT64_MIN);
            assert_int_equal(ac_policy_cron_prev(&c, t, &got), 0);
            if (got != want)
                fail_msg("%s: prev of %lld: got %lld, want %lld", exprs[e], (long long)t, (long long)got,
                         (long long)want);

            time_t tt = (time_t)t;
            struct tm tm;
            gmtime_r(&tt, &tm);
            bool want_match = oracle_day(&c, &tm) && (c.hours >> tm.tm_hour & 1) && (c.minutes >> tm.tm_min & 1);
            assert_int_equal(ac_policy_cron_matches(&c, t), want_match);
            checked++;
        }
    }
    assert_true(checked >= 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_all_stars_as_every_minute),
        cmocka_unit_test(parses_single_values),
        cmocka_unit_test(parses_field_bounds),
        cmocka_unit_test(parses_ranges_and_lists),
        cmocka_unit_test(parses_star_step),
        cmocka_unit_test(parses_range_step),
        cmocka_unit_test(parses_value_step_up_to_the_field_end),
        cmocka_unit_test(parses_month_names_in_any_case),
        cmocka_unit_test(parses_weekday_names_in_any_case),
        cmocka_unit_test(treats_7_as_sunday),
        cmocka_unit_test(accepts_blanks_around_and_between_fields),
        cmocka_unit_test(accepts_leading_zeros_up_to_three_digits),
        cmocka_unit_test(accepts_the_largest_steps),
        cmocka_unit_test(expands_macros_in_any_case),
        cmocka_unit_test(marks_fields_that_start_with_a_star),
        cmocka_unit_test(reads_only_len_bytes),
        cmocka_unit_test(accepts_exactly_the_maximum_length),
        cmocka_unit_test(rejects_wrong_field_count),
        cmocka_unit_test(rejects_values_out_of_range),
        cmocka_unit_test(rejects_numbers_with_too_many_digits),
        cmocka_unit_test(rejects_zero_steps),
        cmocka_unit_test(rejects_steps_larger_than_the_field),
        cmocka_unit_test(rejects_reversed_ranges),
        cmocka_unit_test(rejects_unknown_names),
        cmocka_unit_test(rejects_names_outside_month_and_weekday),
        cmocka_unit_test(rejects_other_characters),
        cmocka_unit_test(rejects_empty_list_elements_and_trailing_commas),
        cmocka_unit_test(rejects_incomplete_ranges_and_steps),
        cmocka_unit_test(rejects_input_longer_than_256_bytes),
        cmocka_unit_test(rejects_nul_bytes),
        cmocka_unit_test(rejects_unknown_and_misused_macros),
        cmocka_unit_test(rejects_missing_arguments),
        cmocka_unit_test(leaves_err_untouched_on_success),
        cmocka_unit_test(matches_the_whole_minute_and_negative_times),
        cmocka_unit_test(matches_nothing_when_zeroed),
        cmocka_unit_test(tolerates_extreme_times_in_matches),
        cmocka_unit_test(next_of_every_15_minutes_is_strictly_after),
        cmocka_unit_test(next_of_5_59_20_walks_5_25_45),
        cmocka_unit_test(next_moves_to_the_next_hour_and_day),
        cmocka_unit_test(next_crosses_month_ends),
        cmocka_unit_test(next_finds_leap_days),
        cmocka_unit_test(next_crosses_the_year_end),
        cmocka_unit_test(ignores_daylight_saving_time),
        cmocka_unit_test(fires_when_either_restricted_day_field_matches),
        cmocka_unit_test(filters_only_by_the_restricted_day_field),
        cmocka_unit_test(finds_weekdays_by_name),
        cmocka_unit_test(prev_includes_the_minute_containing_the_time),
        cmocka_unit_test(prev_crosses_month_year_and_leap_boundaries),
        cmocka_unit_test(reports_enoent_for_impossible_dates),
        cmocka_unit_test(refuses_times_beyond_the_limit_and_null_arguments),
        cmocka_unit_test(agrees_with_brute_force_on_random_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
