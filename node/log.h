/* node/log.h - one key=value line per event to stderr, a ring buffer of recent lines, and secret redaction.
 *
 * A line reads: `ts=2026-11-25T22:35:41.123Z level=info module=db event=connected host=/tmp/x attempt=3`.
 * Callers write the keys in the format and pass values as arguments; every `%s` value is quoted when it contains
 * blanks, quotes, '=' or control characters, and control characters are escaped, so a value can never forge a line.
 * Other conversions (%d, %ld, %lld, %u, %zu, %x, %f, %g ...) are formatted as printf would.
 *
 * Redaction is a second line of defence: any registered secret (ac_log_secret_add) that appears in a formatted line
 * is replaced with [REDACTED] before the line is written anywhere. Code still must not log secrets.
 * Thread-safe. */
#ifndef AC_NODE_LOG_H
#define AC_NODE_LOG_H

#include <stddef.h>
#include <stdio.h>

typedef enum { AC_LOG_DEBUG = 0, AC_LOG_INFO, AC_LOG_WARN, AC_LOG_ERROR, AC_LOG_OFF } ac_log_level_t;

#define AC_LOG_LINE_MAX   4096
#define AC_LOG_RING_LINES 1000

/* Logs one event. `module` and `event` are short identifiers ([a-z0-9_]); `fmt` holds the rest of the line. */
void ac_log(ac_log_level_t level, const char *module, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define ac_log_debug(m, e, ...) ac_log(AC_LOG_DEBUG, (m), (e), __VA_ARGS__)
#define ac_log_info(m, e, ...)  ac_log(AC_LOG_INFO, (m), (e), __VA_ARGS__)
#define ac_log_warn(m, e, ...)  ac_log(AC_LOG_WARN, (m), (e), __VA_ARGS__)
#define ac_log_error(m, e, ...) ac_log(AC_LOG_ERROR, (m), (e), __VA_ARGS__)

/* Sets the minimum level written (default info). Returns 0, or -AC_EINVAL for an unknown name. */
int ac_log_level_parse(const char *name, ac_log_level_t *out);
void ac_log_level_set(ac_log_level_t level);
/* Redirects output (default stderr); NULL silences it. The ring buffer is filled either way. */
void ac_log_output_set(FILE *f);

/* Registers a secret to be redacted from every later line. Values shorter than 4 bytes are ignored (they would
 * redact ordinary words). The logger keeps its own copy, zeroed on ac_log_shutdown(). */
void ac_log_secret_add(const char *secret);

/* Copies up to `max` of the most recent lines (oldest first) into out[]; each from ac_malloc, caller frees.
 * Returns the number copied. */
size_t ac_log_ring_copy(char **out, size_t max);

/* Formats one line into buf without writing it (used by the logger and by tests). Returns its length. */
size_t ac_log_format(char *buf, size_t cap, ac_log_level_t level, const char *module, const char *event,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Frees the ring buffer and zeroes the secret copies. */
void ac_log_shutdown(void);

#endif
