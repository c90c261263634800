/* policy/cron.h - standard 5-field cron expressions in UTC: parse once, then ask whether a minute matches and when the
 * next (or previous) matching minute is.
 *
 * Syntax, one expression of at most AC_POLICY_CRON_MAX_LEN bytes:
 *
 *     minute  hour  day-of-month  month  day-of-week
 *     0-59    0-23  1-31          1-12   0-7 (0 and 7 are Sunday)
 *
 * Fields are separated by spaces or tabs (leading and trailing ones are ignored). Each field is a comma-separated list
 * of elements; an element is `*`, a number `a`, a range `a-b` (a <= b), optionally followed by a step `/n`:
 * `*` / n is every n-th value of the field, `a-b/n` every n-th from a to b, and `a/n` every n-th from a to the field's
 * last value (59, 23, 31, 12, or 6 = Saturday). A step is 1 up to the field's span (59, 23, 30, 11, 6). Months may be
 * written JAN-DEC and weekdays SUN-SAT, in any case, wherever a number may stand. Numbers are decimal, at most 3 digits.
 *
 * Day-of-month and day-of-week follow Vixie cron (and cronie): a field whose text starts with `*` is "unrestricted".
 * When both are restricted, a day matches if either field matches it ("0 0 1 * MON": the 1st and every Monday); when
 * one or both are unrestricted, a day must match both fields, so only the restricted one filters ("0 0 * * MON":
 * Mondays). As in Vixie cron this goes by the first character: "*" + "/2" counts as unrestricted, "1-31" does not.
 *
 * Instead of the five fields, an expression may be one of these macros (any case):
 *     @yearly, @annually  = 0 0 1 1 *        @weekly            = 0 0 * * 0
 *     @monthly            = 0 0 1 * *        @daily, @midnight  = 0 0 * * *
 *     @hourly             = 0 * * * *
 * @reboot is refused: it names no time.
 *
 * Everything is UTC, so daylight saving time plays no part. The module keeps no state and allocates nothing. */
#ifndef AC_POLICY_CRON_H
#define AC_POLICY_CRON_H

#include "policy/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest accepted expression, in bytes. */
#define AC_POLICY_CRON_MAX_LEN 256

/* How far next() and prev() look: the calendar month of the starting time and this many months after (or before)
 * it. 8 years, the longest gap between two February 29ths (2096 -> 2104), so "0 0 29 2 *" is always found. */
#define AC_POLICY_CRON_HORIZON_MONTHS (8 * 12)

/* The times next() and prev() accept: |t| <= 2^62 seconds (about 146 billion years), so no arithmetic overflows. */
#define AC_POLICY_CRON_TIME_LIMIT (INT64_C(1) << 62)

/* ac_policy_cron_t.flags: the field's text started with `*` (see the day-of-month / day-of-week rule above). */
#define AC_POLICY_CRON_DOM_STAR 0x01
#define AC_POLICY_CRON_DOW_STAR 0x02

/* A parsed expression: one bit per allowed value. A plain value type (copy it freely; nothing to free). */
typedef struct ac_policy_cron {
    uint64_t minutes; /* bit m: minute m, 0-59 */
    uint32_t hours;   /* bit h: hour h, 0-23 */
    uint32_t mdays;   /* bit d: day of month d, 1-31 (bit 0 unused) */
    uint16_t months;  /* bit m: month m, 1-12 (bit 0 unused) */
    uint8_t wdays;    /* bit w: weekday w, 0-6, 0 = Sunday (a 7 in the expression sets bit 0) */
    uint8_t flags;    /* AC_POLICY_CRON_DOM_STAR, AC_POLICY_CRON_DOW_STAR */
} ac_policy_cron_t;

/* Parses `len` bytes at `expr` (need not be NUL-terminated; NULL is fine when len is 0) as described at the top.
 * Returns 0 and fills *out; or -AC_EINVAL, with *out zeroed (it then matches nothing) and one sentence in err->msg
 * (err may be NULL) naming the field and the reason, e.g. "minute: 60 is out of range 0-59", "expected 5 fields,
 * got 6", "hour: step 0 is not allowed", "day-of-week: unknown name FOO", "month: range 5-3 is reversed". Refused:
 * a field count other than 5, empty list elements and trailing commas, values outside the field, steps of 0 or above
 * the field's span, reversed ranges, unknown names, any other character (NUL included), numbers of more than 3 digits,
 * and inputs longer than AC_POLICY_CRON_MAX_LEN. On success err is left as it was. */
int ac_policy_cron_parse(const char *expr, size_t len, ac_policy_cron_t *out, ac_errmsg_t *err);

/* Returns true when the UTC minute containing `unix_time` (seconds since 1970-01-01T00:00:00Z; the seconds within
 * the minute are ignored, negative times are fine) matches `c`. Any int64_t is accepted. */
bool ac_policy_cron_matches(const ac_policy_cron_t *c, int64_t unix_time);

/* Finds the first matching minute strictly after `after` (unix seconds, UTC).
 * OUT: *next receives its start (a multiple of 60, > after).
 * Returns 0; -AC_ENOENT when no minute matches in the months searched (AC_POLICY_CRON_HORIZON_MONTHS after the
 * month of `after`), e.g. "0 0 30 2 *"; -AC_EINVAL when an argument is NULL or |after| > AC_POLICY_CRON_TIME_LIMIT.
 * *next is written only on success. Cost: a few operations per month searched, never one per minute or day. */
int ac_policy_cron_next(const ac_policy_cron_t *c, int64_t after, int64_t *next);

/* Finds the latest matching minute whose start is at or before `at_or_before` (unix seconds, UTC): the minute that
 * contains it, when that matches.
 * OUT: *prev receives its start (a multiple of 60, <= at_or_before).
 * Returns 0; -AC_ENOENT when no minute matches in the months searched (AC_POLICY_CRON_HORIZON_MONTHS before the
 * month of `at_or_before`); -AC_EINVAL as for ac_policy_cron_next(). *prev is written only on success. */
int ac_policy_cron_prev(const ac_policy_cron_t *c, int64_t at_or_before, int64_t *prev);

#endif
