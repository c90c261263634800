/* policy/utf8.h - checking UTF-8 text and cutting it without splitting a character, and small time arithmetic: the helpers every
 * layer that bounds a text (prompts, descriptions, Telegram messages) or a wait needs. Pure: no I/O, no allocation. */
#ifndef AC_POLICY_UTF8_H
#define AC_POLICY_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The longest prefix of s (len bytes) of at most max bytes that does not end inside a UTF-8 sequence: len when it
 * fits, else max moved back over continuation bytes. For valid UTF-8 the prefix is valid UTF-8. */
size_t ac_policy_utf8_fit(const char *s, size_t len, size_t max);

/* Whether s (n bytes) is well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. A NUL byte is
 * valid UTF-8; callers that refuse it check for it themselves. */
bool ac_policy_utf8_valid(const char *s, size_t n);

/* Makes s (n bytes, changed in place) valid UTF-8 for a message: when it is not, every byte >= 0x80 becomes '?'.
 * Valid text is left as it is. */
void ac_policy_utf8_or_ascii(char *s, size_t n);

/* s (NULL: "?") cut to at most max bytes, never inside a UTF-8 sequence, with "..." after it when it was cut, into
 * out (cap bytes, always NUL-terminated). */
void ac_policy_utf8_clip(const char *s, size_t max, char *out, size_t cap);

/* Adds ms milliseconds (>= 0) to ts, keeping tv_nsec below one second. */
void ac_policy_timespec_add_ms(struct timespec *ts, int64_t ms);

#endif
