/* policy/strbuf.c - the growing text buffer of strbuf.h. */
#include "policy/strbuf.h"

#include "policy/alloc.h"

#include <string.h>

void ac_policy_strbuf_put(ac_policy_strbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = ac_realloc(b->p, b->cap);
    }
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void ac_policy_strbuf_puts(ac_policy_strbuf_t *b, const char *s)
{
    ac_policy_strbuf_put(b, s, strlen(s));
}

char *ac_policy_strbuf_take(ac_policy_strbuf_t *b)
{
    char *s = b->p != NULL ? b->p : ac_strdup("");
    *b = (ac_policy_strbuf_t){0};
    return s;
}
