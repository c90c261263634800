/* policy/alloc.c - allocation wrappers of alloc.h: abort with a location on exhaustion, never return NULL. */
#include "policy/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t n, const char *file, int line)
{
    fprintf(stderr, "level=fatal module=alloc event=out_of_memory bytes=%zu at=%s:%d\n", n, file, line);
    abort();
}

void *ac__malloc(size_t n, const char *file, int line)
{
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL)
        out_of_memory(n, file, line);
    return p;
}

void *ac__calloc(size_t n, size_t sz, const char *file, int line)
{
    void *p = calloc(n == 0 ? 1 : n, sz == 0 ? 1 : sz);
    if (p == NULL)
        out_of_memory(n * sz, file, line);
    return p;
}

void *ac__realloc(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n == 0 ? 1 : n);
    if (q == NULL)
        out_of_memory(n, file, line);
    return q;
}

char *ac__strdup(const char *s, const char *file, int line)
{
    return ac__strndup(s, strlen(s), file, line);
}

char *ac__strndup(const char *s, size_t n, const char *file, int line)
{
    size_t len = strnlen(s, n);
    char *p = ac__malloc(len + 1, file, line);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void ac_free_secret(void *p, size_t n)
{
    if (p == NULL)
        return;
    explicit_bzero(p, n);
    free(p);
}

void ac_free_secret_str(char *s)
{
    if (s != NULL)
        ac_free_secret(s, strlen(s));
}
