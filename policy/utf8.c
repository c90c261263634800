/* policy/utf8.c - see utf8.h. */
#include "policy/utf8.h"

#include <stdio.h>
#include <string.h>

size_t ac_policy_utf8_fit(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) /* s[n] continues the character before it */
        n--;
    return n;
}

void ac_policy_timespec_add_ms(struct timespec *ts, int64_t ms)
{
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

bool ac_policy_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0)
            len = 2, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            len = 3, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
            len = 4, cp = c & 0x07;
        else
            return false;
        if (len > n - i)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

void ac_policy_utf8_or_ascii(char *s, size_t n)
{
    if (ac_policy_utf8_valid(s, n))
        return;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            s[i] = '?';
}

void ac_policy_utf8_clip(const char *s, size_t max, char *out, size_t cap)
{
    if (s == NULL)
        s = "?";
    size_t n = strlen(s), k = ac_policy_utf8_fit(s, n, max);
    snprintf(out, cap, "%.*s%s", (int)k, s, k < n ? "..." : "");
}
