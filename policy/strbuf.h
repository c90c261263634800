/* policy/strbuf.h - a growing text buffer: append bytes, take the NUL-terminated result. The one the prompt, message
 * and HTML builders share (skills/notify.c, skills/llm_skills.c, skills/github_review.c). Allocation never fails
 * (policy/alloc.h). */
#ifndef AC_POLICY_STRBUF_H
#define AC_POLICY_STRBUF_H

#include <stddef.h>

/* Zero-initialise ({0}) before use. p is NULL until the first append, then always NUL-terminated. */
typedef struct ac_policy_strbuf {
    char *p;
    size_t len, cap;
} ac_policy_strbuf_t;

/* Appends the n bytes at s (which may hold NUL bytes; s may be NULL when n is 0). */
void ac_policy_strbuf_put(ac_policy_strbuf_t *b, const char *s, size_t n);
/* Appends the NUL-terminated s. */
void ac_policy_strbuf_puts(ac_policy_strbuf_t *b, const char *s);
/* Returns the text (never NULL: "" when nothing was appended; the caller frees it) and leaves b empty. */
char *ac_policy_strbuf_take(ac_policy_strbuf_t *b);

#endif
