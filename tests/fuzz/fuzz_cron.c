/* tests/fuzz/fuzz_cron.c - libFuzzer target for policy/cron.c: arbitrary bytes into the parser, and, when they parse,
 * next/prev/matches at a spread of times with their invariants checked (abort() on any violation).
 *
 * Invariants, for every start time t the search accepts:
 *   next(t) = n:  n > t, n is a minute start, matches(n), prev(n) = n, next(n - 1) = n (no match in between is
 *                 skipped), and n is within the search horizon;
 *   prev(t) = p:  p <= t, p is a minute start, matches(p), next(p - 1) = p;
 *   matches(t) exactly when prev(t) is the start of t's minute.
 * A refused input must leave a zeroed result and a non-empty message. Built as `fuzz_cron` (libFuzzer) and as
 * `replay_cron` (tests/fuzz/replay.c), which runs the seed corpus under ctest. */
#include "policy/cron.h"
#include "policy/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The search never looks further than the horizon plus the rest of the starting month. */
#define HORIZON_SECONDS ((int64_t)(AC_POLICY_CRON_HORIZON_MONTHS + 1) * 31 * 86400)

static void check(bool ok, const char *what, int64_t t)
{
    if (!ok) {
        fprintf(stderr, "fuzz_cron: invariant violated: %s (t = %lld)\n", what, (long long)t);
        abort();
    }
}

static bool minute_start(int64_t t)
{
    return t % 60 == 0;
}

/* Whether next() and prev() accept t as a start time (near the limits, the follow-up checks would not). */
static bool searchable(int64_t t)
{
    return t >= -AC_POLICY_CRON_TIME_LIMIT && t <= AC_POLICY_CRON_TIME_LIMIT;
}

static void check_at(const ac_policy_cron_t *c, int64_t t)
{
    int64_t n = 0, p = 0, again = 0;
    int rn = ac_policy_cron_next(c, t, &n), rp = ac_policy_cron_prev(c, t, &p);

    check(rn == 0 || rn == -AC_ENOENT, "next returns 0 or ENOENT", t);
    check(rp == 0 || rp == -AC_ENOENT, "prev returns 0 or ENOENT", t);
    if (rn == 0) {
        check(n > t, "next > after", t);
        check(n - t <= HORIZON_SECONDS, "next within the horizon", t);
        check(minute_start(n), "next is a minute start", t);
        check(ac_policy_cron_matches(c, n), "matches(next)", t);
        if (searchable(n)) {
            check(ac_policy_cron_prev(c, n, &again) == 0 && again == n, "prev(next) == next", t);
            check(ac_policy_cron_next(c, n - 1, &again) == 0 && again == n, "next(next - 1) == next", t);
        }
    }
    if (rp == 0) {
        check(p <= t, "prev <= at", t);
        check(t - p <= HORIZON_SECONDS, "prev within the horizon", t);
        check(minute_start(p), "prev is a minute start", t);
        check(ac_policy_cron_matches(c, p), "matches(prev)", t);
        if (searchable(p - 1))
            check(ac_policy_cron_next(c, p - 1, &again) == 0 && again == p, "next(prev - 1) == prev", t);
    }
    int64_t start = t - ((t % 60) + 60) % 60;
    check(ac_policy_cron_matches(c, t) == (rp == 0 && p == start), "matches(t) iff prev(t) is t's minute", t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* clang-format off */
    static const int64_t times[] = {
        0, -1, 59, 60,
        951782399,   /* 2000-02-28T23:59:59 */
        1709164800,  /* 2024-02-29T00:00:00 */
        1735689599,  /* 2024-12-31T23:59:59 */
        4107542400,  /* 2100-03-01T00:00:00 */
        -2208988801, /* 1899-12-31T23:59:59 */
        AC_POLICY_CRON_TIME_LIMIT, -AC_POLICY_CRON_TIME_LIMIT,
    };
    /* clang-format on */
    ac_policy_cron_t c;
    ac_errmsg_t err = {{0}};
    uint64_t h = 1469598103934665603u;

    if (ac_policy_cron_parse((const char *)data, size, &c, &err) != 0) {
        static const ac_policy_cron_t zero;
        check(memcmp(&c, &zero, sizeof(c)) == 0, "a refused expression leaves a zeroed result", 0);
        check(err.msg[0] != '\0', "a refused expression says why", 0);
        return 0;
    }
    check(c.minutes != 0 && c.hours != 0 && c.months != 0 && c.wdays != 0 && c.mdays != 0,
          "a parsed expression allows something in every field", 0);

    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
        check_at(&c, times[i]);
    /* A few more times, derived from the input (FNV-1a), within 1900..2300. */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211u;
    for (int i = 0; i < 4; i++) {
        h = h * 6364136223846793005u + 1442695040888963407u;
        check_at(&c, -2208988800 + (int64_t)(h >> 33) % (INT64_C(400) * 31556952));
    }
    return 0;
}
