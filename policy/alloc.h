/* policy/alloc.h - general allocation that never returns NULL, and explicit zeroing for secrets.
 *
 * ac_malloc() and friends abort the process with file and line when memory is exhausted: they serve the node's own
 * bookkeeping, where there is no sensible way to go on. Parsers of outside input must not use them for sizes an
 * attacker controls; they bound the size first (or use an arena that fails with -AC_ENOMEM, added with the first
 * parser that needs one). */
#ifndef AC_POLICY_ALLOC_H
#define AC_POLICY_ALLOC_H

#include <stddef.h>

#define ac_malloc(n)     ac__malloc((n), __FILE__, __LINE__)
#define ac_calloc(n, sz) ac__calloc((n), (sz), __FILE__, __LINE__)
#define ac_realloc(p, n) ac__realloc((p), (n), __FILE__, __LINE__)
#define ac_strdup(s)     ac__strdup((s), __FILE__, __LINE__)
#define ac_strndup(s, n) ac__strndup((s), (n), __FILE__, __LINE__)

void *ac__malloc(size_t n, const char *file, int line);
void *ac__calloc(size_t n, size_t sz, const char *file, int line);
void *ac__realloc(void *p, size_t n, const char *file, int line);
char *ac__strdup(const char *s, const char *file, int line);
char *ac__strndup(const char *s, size_t n, const char *file, int line);

/* Zeroes `n` bytes at p in a way the compiler may not elide, then frees p. For buffers that held secrets. */
void ac_free_secret(void *p, size_t n);
/* ac_free_secret() for a NUL-terminated string (NULL is fine). */
void ac_free_secret_str(char *s);

#endif
