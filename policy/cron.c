/* policy/cron.c - 5-field cron expressions in UTC: a strict parser into bitsets, and next/prev searches over them.
 *
 * The workflow scheduler asks, once per workflow per tick, whether a workflow is due and when it is due next; the
 * expressions come from users, so the parser names the field and the reason of every refusal instead of guessing.
 * The search works a calendar month at a time: the days of a month that match are one bitmask (day-of-month bits
 * combined with the weekday bits shifted to where that month's weekdays fall), and hours and minutes are found with
 * count-trailing-zeros, so even an expression that never matches costs about a hundred cheap steps. Calendar
 * arithmetic is the proleptic Gregorian days-from-civil / civil-from-days pair (H. Hinnant's formulation), so
 * nothing depends on the C library's time zone state. */
#include "policy/cron.h"

#include <string.h>

/* ---- calendar ---------------------------------------------------------------------------------------------------- */

#define MINUTES_ALL ((UINT64_C(1) << 60) - 1)
#define HOURS_ALL   ((UINT64_C(1) << 24) - 1)
#define MDAYS_ALL   UINT64_C(0xfffffffe)
#define MONTHS_ALL  UINT64_C(0x1ffe)
#define WDAYS_ALL   UINT64_C(0x7f)
/* Days 1, 8, 15, 22, 29 of a month: the days that share the weekday of the 1st. */
#define WEEKLY                                                                                                         \
    ((UINT64_C(1) << 1) | (UINT64_C(1) << 8) | (UINT64_C(1) << 15) | (UINT64_C(1) << 22) | (UINT64_C(1) << 29))

/* A UTC minute taken apart. */
typedef struct moment {
    int64_t y;
    int m, d, h, mi;
} moment_t;

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m];
}

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian; m 1-12, d 1-31). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* 0..399 */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365, the year starting in March */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, moment_t *t)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    t->d = (int)(doy - (153 * mp + 2) / 5 + 1);
    t->m = (int)(mp < 10 ? mp + 3 : mp - 9);
    t->y = yoe + era * 400 + (t->m <= 2);
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int weekday(int64_t days)
{
    int64_t w = (days + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static void split_minute(int64_t minute, moment_t *t)
{
    int64_t day = floor_div(minute, 1440);
    int rest = (int)(minute - day * 1440);

    civil_from_days(day, t);
    t->h = rest / 60;
    t->mi = rest % 60;
}

static int64_t join_minute(const moment_t *t)
{
    return (days_from_civil(t->y, t->m, t->d) * 1440 + t->h * 60 + t->mi) * 60;
}

/* The days (bits 1-31) of month y-m that match c's day-of-month and day-of-week under the Vixie rule. */
static uint64_t month_days(const ac_policy_cron_t *c, int64_t y, int m)
{
    int dim = days_in_month(y, m);
    int first = weekday(days_from_civil(y, m, 1));
    uint64_t by_wday = 0, days;

    for (int w = 0; w < 7; w++) {
        if (c->wdays >> w & 1)
            by_wday |= WEEKLY << ((w - first + 7) % 7);
    }
    if (c->flags & (AC_POLICY_CRON_DOM_STAR | AC_POLICY_CRON_DOW_STAR))
        days = (c->mdays & MDAYS_ALL) & by_wday;
    else
        days = (c->mdays & MDAYS_ALL) | by_wday;
    return days & ((UINT64_C(1) << (dim + 1)) - 2);
}

/* Lowest set bit >= from, or -1. */
static int bit_at_or_after(uint64_t set, int from)
{
    if (from > 63)
        return -1;
    set &= ~UINT64_C(0) << from;
    return set == 0 ? -1 : __builtin_ctzll(set);
}

/* Highest set bit <= upto, or -1. */
static int bit_at_or_before(uint64_t set, int upto)
{
    if (upto < 0)
        return -1;
    if (upto < 63)
        set &= (UINT64_C(2) << upto) - 1;
    return set == 0 ? -1 : 63 - __builtin_clzll(set);
}

/* Earliest allowed time of day at or after t->h:t->mi; writes it into t. */
static bool time_at_or_after(uint64_t hours, uint64_t minutes, moment_t *t)
{
    int h = bit_at_or_after(hours, t->h), mi;

    if (h == t->h && (mi = bit_at_or_after(minutes, t->mi)) >= 0) {
        t->mi = mi;
        return true;
    }
    if (h == t->h)
        h = bit_at_or_after(hours, t->h + 1);
    if (h < 0)
        return false;
    t->h = h;
    t->mi = bit_at_or_after(minutes, 0);
    return true;
}

/* Latest allowed time of day at or before t->h:t->mi; writes it into t. */
static bool time_at_or_before(uint64_t hours, uint64_t minutes, moment_t *t)
{
    int h = bit_at_or_before(hours, t->h), mi;

    if (h == t->h && (mi = bit_at_or_before(minutes, t->mi)) >= 0) {
        t->mi = mi;
        return true;
    }
    if (h == t->h)
        h = bit_at_or_before(hours, t->h - 1);
    if (h < 0)
        return false;
    t->h = h;
    t->mi = bit_at_or_before(minutes, 59);
    return true;
}

bool ac_policy_cron_matches(const ac_policy_cron_t *c, int64_t unix_time)
{
    moment_t t;

    split_minute(floor_div(unix_time, 60), &t);
    return (c->minutes & MINUTES_ALL) >> t.mi & 1 && (c->hours & HOURS_ALL) >> t.h & 1 &&
           (c->months & MONTHS_ALL) >> t.m & 1 && month_days(c, t.y, t.m) >> t.d & 1;
}

int ac_policy_cron_next(const ac_policy_cron_t *c, int64_t after, int64_t *next)
{
    uint64_t minutes, hours, months;
    moment_t t;

    if (c == NULL || next == NULL || after > AC_POLICY_CRON_TIME_LIMIT || after < -AC_POLICY_CRON_TIME_LIMIT)
        return -AC_EINVAL;
    minutes = c->minutes & MINUTES_ALL;
    hours = c->hours & HOURS_ALL;
    months = c->months & MONTHS_ALL;
    if (minutes == 0 || hours == 0)
        return -AC_ENOENT;

    split_minute(floor_div(after, 60) + 1, &t);
    for (int i = 0; i <= AC_POLICY_CRON_HORIZON_MONTHS; i++) {
        if (months >> t.m & 1) {
            uint64_t days = month_days(c, t.y, t.m) & (~UINT64_C(0) << t.d);
            for (; days != 0; days &= days - 1) {
                int d = __builtin_ctzll(days);
                if (d != t.d) {
                    t.d = d;
                    t.h = 0;
                    t.mi = 0;
                }
                if (time_at_or_after(hours, minutes, &t)) {
                    *next = join_minute(&t);
                    return 0;
                }
            }
        }
        if (++t.m > 12) {
            t.m = 1;
            t.y++;
        }
        t.d = 1;
        t.h = 0;
        t.mi = 0;
    }
    return -AC_ENOENT;
}

int ac_policy_cron_prev(const ac_policy_cron_t *c, int64_t at_or_before, int64_t *prev)
{
    uint64_t minutes, hours, months;
    moment_t t;

    if (c == NULL || prev == NULL || at_or_before > AC_POLICY_CRON_TIME_LIMIT ||
        at_or_before < -AC_POLICY_CRON_TIME_LIMIT)
        return -AC_EINVAL;
    minutes = c->minutes & MINUTES_ALL;
    hours = c->hours & HOURS_ALL;
    months = c->months & MONTHS_ALL;
    if (minutes == 0 || hours == 0)
        return -AC_ENOENT;

    split_minute(floor_div(at_or_before, 60), &t);
    for (int i = 0; i <= AC_POLICY_CRON_HORIZON_MONTHS; i++) {
        if (months >> t.m & 1) {
            uint64_t days = month_days(c, t.y, t.m) & ((UINT64_C(2) << t.d) - 1);
            while (days != 0) {
                int d = 63 - __builtin_clzll(days);
                if (d != t.d) {
                    t.d = d;
                    t.h = 23;
                    t.mi = 59;
                }
                if (time_at_or_before(hours, minutes, &t)) {
                    *prev = join_minute(&t);
                    return 0;
                }
                days &= ~(UINT64_C(1) << d);
            }
        }
        if (--t.m < 1) {
            t.m = 12;
            t.y--;
        }
        t.d = days_in_month(t.y, t.m);
        t.h = 23;
        t.mi = 59;
    }
    return -AC_ENOENT;
}

/* ---- parser ------------------------------------------------------------------------------------------------------ */

#define MAX_DIGITS 3

typedef struct field {
    const char *name;
    int min, max;             /* values the expression may write */
    int last;                 /* where `*` and `a/n` stop: max, except day-of-week, whose 7 repeats Sunday */
    const char *const *names; /* three-letter names of min_name, min_name + 1, ...; NULL when names are refused */
    int nnames, min_name;
} field_t;

static const char *const month_names[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                            "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const wday_names[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

/* clang-format off */
static const field_t fields[5] = {
    /* name            min max last names        nnames min_name */
    {"minute",         0,  59, 59,  NULL,        0,     0},
    {"hour",           0,  23, 23,  NULL,        0,     0},
    {"day-of-month",   1,  31, 31,  NULL,        0,     0},
    {"month",          1,  12, 12,  month_names, 12,    1},
    {"day-of-week",    0,  7,  6,   wday_names,  7,     0},
};
/* clang-format on */

/* clang-format off */
/* The macros accepted instead of five fields (compared without regard to case). @reboot is deliberately absent. */
static const struct {
    const char *name;
    const char *fields;
} macros[] = {
    {"@yearly",   "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly",  "0 0 1 * *"},
    {"@weekly",   "0 0 * * 0"},
    {"@daily",    "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly",   "0 * * * *"},
};
/* clang-format on */

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static char upper(char ch)
{
    return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

static bool equal_nocase(const char *s, size_t n, const char *lit)
{
    size_t i = 0;

    for (; i < n && lit[i] != '\0'; i++) {
        if (upper(s[i]) != upper(lit[i]))
            return false;
    }
    return i == n && lit[i] == '\0';
}

/* Renders up to 16 bytes of user input for an error message: printable ASCII as is, anything else as \xNN, "..."
 * when cut. buf must hold 16 * 4 + 4 bytes. */
#define SHOW_MAX 16
#define SHOW_BUF (SHOW_MAX * 4 + 4)
static const char *show(const char *s, size_t n, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < n && i < SHOW_MAX; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch > 0x20 && ch < 0x7f && ch != '\\') {
            buf[o++] = (char)ch;
        } else {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[ch >> 4];
            buf[o++] = hex[ch & 0xf];
        }
    }
    if (n > SHOW_MAX) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static int unexpected(const field_t *f, const char *s, size_t p, ac_errmsg_t *err)
{
    char buf[SHOW_BUF];
    return ac_errmsg_set(err, -AC_EINVAL, "%s: unexpected character '%s' at column %zu", f->name, show(s + p, 1, buf),
                         p + 1);
}

/* Reads a run of at most MAX_DIGITS digits at s[*pp]; the caller has checked there is one. */
static int parse_number(const field_t *f, const char *s, size_t *pp, size_t end, int *out, ac_errmsg_t *err)
{
    size_t p = *pp, q = p;
    int v = 0;
    char buf[SHOW_BUF];

    while (q < end && is_digit(s[q]))
        q++;
    if (q - p > MAX_DIGITS)
        return ac_errmsg_set(err, -AC_EINVAL, "%s: number %s has too many digits (at most %d)", f->name,
                             show(s + p, q - p, buf), MAX_DIGITS);
    for (; p < q; p++)
        v = v * 10 + (s[p] - '0');
    *out = v;
    *pp = q;
    return 0;
}

/* Reads one value (a number or, in month and day-of-week, a name) at s[*pp] and checks it against the field. */
static int parse_value(const field_t *f, const char *s, size_t *pp, size_t end, int *out, ac_errmsg_t *err)
{
    size_t p = *pp, q = p;
    char buf[SHOW_BUF];
    int ret;

    if (p < end && is_digit(s[p])) {
        if ((ret = parse_number(f, s, pp, end, out, err)) != 0)
            return ret;
        if (*out < f->min || *out > f->max)
            return ac_errmsg_set(err, -AC_EINVAL, "%s: %d is out of range %d-%d", f->name, *out, f->min, f->max);
        return 0;
    }
    if (p == end || !is_alpha(s[p]))
        return unexpected(f, s, p, err);

    while (q < end && is_alpha(s[q]))
        q++;
    if (f->names == NULL)
        return ac_errmsg_set(err, -AC_EINVAL,
                             "%s: unexpected name %s (names are only allowed in month and day-of-week)", f->name,
                             show(s + p, q - p, buf));
    for (int i = 0; i < f->nnames; i++) {
        if (equal_nocase(s + p, q - p, f->names[i])) {
            *out = f->min_name + i;
            *pp = q;
            return 0;
        }
    }
    return ac_errmsg_set(err, -AC_EINVAL, "%s: unknown name %s", f->name, show(s + p, q - p, buf));
}

/* Parses one field, s[p..end) (no blanks inside), into a bitset of the values it allows. */
static int parse_field(const field_t *f, const char *s, size_t p, size_t end, uint64_t *bits, ac_errmsg_t *err)
{
    uint64_t set = 0;
    char buf[SHOW_BUF];
    int ret;

    for (;;) {
        size_t elem = p;
        int lo, hi, step = 1;
        bool single = false;

        if (p == end)
            return ac_errmsg_set(err, -AC_EINVAL, "%s: trailing comma", f->name);
        if (s[p] == ',')
            return ac_errmsg_set(err, -AC_EINVAL, "%s: empty list element at column %zu", f->name, p + 1);

        if (s[p] == '*') {
            lo = f->min;
            hi = f->last;
            p++;
        } else {
            if ((ret = parse_value(f, s, &p, end, &lo, err)) != 0)
                return ret;
            hi = lo;
            single = true;
            if (p < end && s[p] == '-') {
                p++;
                if (p == end || s[p] == ',' || s[p] == '/')
                    return ac_errmsg_set(err, -AC_EINVAL, "%s: range %s has no end", f->name,
                                         show(s + elem, p - elem, buf));
                if ((ret = parse_value(f, s, &p, end, &hi, err)) != 0)
                    return ret;
                if (hi < lo)
                    return ac_errmsg_set(err, -AC_EINVAL, "%s: range %s is reversed", f->name,
                                         show(s + elem, p - elem, buf));
                single = false;
            }
        }

        if (p < end && s[p] == '/') {
            p++;
            if (p == end || !is_digit(s[p]))
                return p == end || s[p] == ',' ? ac_errmsg_set(err, -AC_EINVAL, "%s: missing step after '/'", f->name)
                                               : unexpected(f, s, p, err);
            if ((ret = parse_number(f, s, &p, end, &step, err)) != 0)
                return ret;
            if (step == 0)
                return ac_errmsg_set(err, -AC_EINVAL, "%s: step 0 is not allowed", f->name);
            if (step > f->last - f->min)
                return ac_errmsg_set(err, -AC_EINVAL, "%s: step %d is too large (at most %d)", f->name, step,
                                     f->last - f->min);
            /* `a/n` runs from a to the end of the field; a day-of-week 7 (Sunday) is past that end and stays alone. */
            if (single && f->last > lo)
                hi = f->last;
        }

        if (p < end && s[p] != ',')
            return unexpected(f, s, p, err);
        for (int v = lo; v <= hi; v += step)
            set |= UINT64_C(1) << v;
        if (p == end)
            break;
        p++; /* the comma */
    }
    *bits = set;
    return 0;
}

/* Splits s[0..len) at blanks. Returns the number of fields; the first `cap` are stored in start[] and end[]. */
static size_t split_fields(const char *s, size_t len, size_t *start, size_t *end, size_t cap)
{
    size_t n = 0, p = 0;

    for (;;) {
        while (p < len && is_blank(s[p]))
            p++;
        if (p == len)
            return n;
        if (n < cap)
            start[n] = p;
        while (p < len && !is_blank(s[p]))
            p++;
        if (n < cap)
            end[n] = p;
        n++;
    }
}

static int parse_five(const char *s, size_t len, ac_policy_cron_t *c, ac_errmsg_t *err)
{
    size_t start[5], end[5], n = split_fields(s, len, start, end, 5);
    uint64_t bits[5];
    int ret;

    if (n != 5)
        return ac_errmsg_set(err, -AC_EINVAL, "expected 5 fields, got %zu", n);
    for (int i = 0; i < 5; i++) {
        if ((ret = parse_field(&fields[i], s, start[i], end[i], &bits[i], err)) != 0)
            return ret;
    }
    c->minutes = bits[0];
    c->hours = (uint32_t)bits[1];
    c->mdays = (uint32_t)bits[2];
    c->months = (uint16_t)bits[3];
    c->wdays = (uint8_t)((bits[4] | bits[4] >> 7) & WDAYS_ALL); /* 7 is Sunday too */
    c->flags = (uint8_t)((s[start[2]] == '*' ? AC_POLICY_CRON_DOM_STAR : 0) |
                         (s[start[4]] == '*' ? AC_POLICY_CRON_DOW_STAR : 0));
    return 0;
}

int ac_policy_cron_parse(const char *expr, size_t len, ac_policy_cron_t *out, ac_errmsg_t *err)
{
    ac_policy_cron_t c = {0};
    size_t start[1], end[1], n;
    const char *nul;
    char buf[SHOW_BUF];
    int ret = 0;

    if (out == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "no place for the result");
    if (expr == NULL && len != 0) {
        ret = ac_errmsg_set(err, -AC_EINVAL, "expression is missing");
        goto Exit;
    }
    if (len > AC_POLICY_CRON_MAX_LEN) {
        ret = ac_errmsg_set(err, -AC_EINVAL, "expression is %zu bytes long, at most %d are allowed", len,
                            AC_POLICY_CRON_MAX_LEN);
        goto Exit;
    }
    if (len != 0 && (nul = memchr(expr, '\0', len)) != NULL) {
        ret = ac_errmsg_set(err, -AC_EINVAL, "NUL byte at column %zu", (size_t)(nul - expr) + 1);
        goto Exit;
    }

    n = split_fields(expr, len, start, end, 1);
    if (n == 0 || expr[start[0]] != '@') {
        ret = parse_five(expr, len, &c, err);
        goto Exit;
    }
    for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
        if (equal_nocase(expr + start[0], end[0] - start[0], macros[i].name)) {
            if (n != 1)
                ret = ac_errmsg_set(err, -AC_EINVAL, "expected nothing after %s, got %zu more fields", macros[i].name,
                                    n - 1);
            else
                ret = parse_five(macros[i].fields, strlen(macros[i].fields), &c, err);
            goto Exit;
        }
    }
    if (equal_nocase(expr + start[0], end[0] - start[0], "@reboot"))
        ret = ac_errmsg_set(err, -AC_EINVAL, "@reboot is not supported: it names no time");
    else
        ret = ac_errmsg_set(err, -AC_EINVAL, "unknown macro %s", show(expr + start[0], end[0] - start[0], buf));

Exit:
    if (ret != 0)
        memset(&c, 0, sizeof(c));
    *out = c;
    return ret;
}
