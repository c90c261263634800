/* node/log.c - the key=value logger of log.h: formatting with value quoting, redaction, stderr and the ring buffer.
 *
 * Format strings are walked here instead of handed to vsnprintf whole, so that every %s value can be quoted and
 * escaped on its own: a value holding a newline or `level=error` cannot forge a second event. */
#include "node/log.h"

#include "policy/alloc.h"
#include "policy/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_SECRETS 1024 /* a single-user node has a few dozen; the bound keeps a bug from growing it forever */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int min_level = AC_LOG_INFO; /* read without the lock on every call */
static FILE *output;                        /* NULL until set: stderr */
static bool output_set;
static char *ring[AC_LOG_RING_LINES];
static size_t ring_next, ring_count;
static char **secrets; /* grows to MAX_SECRETS */
static size_t secret_cap;
static size_t secret_count;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

/* A bounded output buffer; writes past the end are dropped and the line ends with "..." */
typedef struct {
    char *p;
    size_t len, cap;
    bool truncated;
} sink_t;

static void put(sink_t *s, const char *b, size_t n)
{
    if (s->len + n >= s->cap) {
        n = s->cap - 1 > s->len ? s->cap - 1 - s->len : 0;
        s->truncated = true;
    }
    memcpy(s->p + s->len, b, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void putc_(sink_t *s, char c)
{
    put(s, &c, 1);
}

static bool needs_quotes(const char *v, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
            return true;
    }
    return false;
}

/* Copies v to out with every registered secret replaced by [REDACTED], before any escaping (an escaped secret
 * would no longer match). Only the first cap - 1 bytes matter: the line is cut long before. Returns the length. */
static size_t redact_raw(const char *v, size_t n, char *out, size_t cap)
{
    static const char mark[] = "[REDACTED]";
    size_t o = 0, i = 0;
    pthread_mutex_lock(&lock);
    while (i < n && o + 1 < cap) {
        bool hit = false;
        for (size_t k = 0; k < secret_count; k++) {
            size_t sl = strlen(secrets[k]);
            if (secrets[k][0] == v[i] && sl <= n - i && memcmp(v + i, secrets[k], sl) == 0) {
                size_t m = sizeof(mark) - 1 < cap - 1 - o ? sizeof(mark) - 1 : cap - 1 - o;
                memcpy(out + o, mark, m);
                o += m;
                i += sl;
                hit = true;
                break;
            }
        }
        if (!hit)
            out[o++] = v[i++];
    }
    pthread_mutex_unlock(&lock);
    return o;
}

static void put_value(sink_t *s, const char *raw, size_t rawlen)
{
    if (raw == NULL) {
        put(s, "(null)", 6);
        return;
    }
    char v[2 * AC_LOG_LINE_MAX];
    size_t n = redact_raw(raw, rawlen, v, sizeof(v));
    if (!needs_quotes(v, n)) {
        put(s, v, n);
        return;
    }
    putc_(s, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        char esc[5];
        switch (c) {
        case '"': put(s, "\\\"", 2); break;
        case '\\': put(s, "\\\\", 2); break;
        case '\n': put(s, "\\n", 2); break;
        case '\r': put(s, "\\r", 2); break;
        case '\t': put(s, "\\t", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(esc, sizeof(esc), "\\x%02x", c);
                put(s, esc, 4);
            } else {
                putc_(s, (char)c);
            }
        }
    }
    putc_(s, '"');
}

/* Walks fmt; %s values go through put_value(), every other conversion through snprintf with its own spec. */
static void format_fields(sink_t *s, const char *fmt, va_list ap)
{
    const char *p = fmt;
    while (*p != '\0') {
        const char *pct = strchr(p, '%');
        if (pct == NULL) {
            put(s, p, strlen(p));
            return;
        }
        put(s, p, (size_t)(pct - p));
        const char *q = pct + 1;
        if (*q == '%') {
            putc_(s, '%');
            p = q + 1;
            continue;
        }
        char spec[32];
        size_t sl = 0;
        spec[sl++] = '%';
        int prec = -1;
        while (*q != '\0' && strchr("-+ #0", *q) != NULL && sl < 8)
            spec[sl++] = *q++;
        if (*q == '*') {
            sl += (size_t)snprintf(spec + sl, 8, "%d", va_arg(ap, int) % 1000);
            q++;
        }
        while (*q >= '0' && *q <= '9' && sl < 16)
            spec[sl++] = *q++;
        if (*q == '.') {
            q++;
            if (*q == '*') {
                prec = va_arg(ap, int);
                q++;
            } else {
                prec = 0;
                while (*q >= '0' && *q <= '9')
                    prec = prec * 10 + (*q++ - '0');
            }
        }
        char len[3] = {0};
        size_t ll = 0;
        while (*q != '\0' && strchr("hlzjtL", *q) != NULL && ll < 2)
            len[ll++] = *q++;
        char conv = *q;
        if (conv == '\0')
            return;
        p = q + 1;
        char num[64];
        if (conv == 's') {
            const char *v = va_arg(ap, const char *);
            size_t n = v == NULL ? 0 : (prec >= 0 ? strnlen(v, (size_t)prec) : strlen(v));
            put_value(s, v, n);
            continue;
        }
        if (prec >= 0)
            sl += (size_t)snprintf(spec + sl, sizeof(spec) - sl - 4, ".%d", prec);
        memcpy(spec + sl, len, ll);
        sl += ll;
        spec[sl++] = conv;
        spec[sl] = '\0';
        int n = 0;
/* spec is rebuilt from the caller's literal format (checked by the compiler through ac_log's format attribute),
 * one conversion at a time, so it is not a literal here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        switch (conv) {
        case 'd':
        case 'i':
            if (strcmp(len, "ll") == 0)
                n = snprintf(num, sizeof(num), spec, va_arg(ap, long long));
            else if (strcmp(len, "l") == 0)
                n = snprintf(num, sizeof(num), spec, va_arg(ap, long));
            else if (strcmp(len, "z") == 0)
                n = snprintf(num, sizeof(num), spec, va_arg(ap, ssize_t));
            else if (strcmp(len, "j") == 0)
                n = snprintf(num, sizeof(num), spec, va_arg(ap, intmax_t));
            else if (strcmp(len, "t") == 0)
                n = snprintf(num, sizeof(num), spec, va_arg(ap, ptrdiff_t));
            else
                n = snprintf(num, sizeof(num), spec, va_arg(ap, int));
            break;
        case 'u':
        case 'x':
        case 'X':
        case 'o':
            if (strcmp(len, "ll") == 0)
                n = snprintf(num, sizeof(num), spec, va_arg(ap, unsigned long long));
            else if (strcmp(len, "l") == 0)
                n = snprintf(num, sizeof(num), spec, va_arg(ap, unsigned long));
            else if (strcmp(len, "z") == 0)
                n = snprintf(num, sizeof(num), spec, va_arg(ap, size_t));
            else if (strcmp(len, "j") == 0)
                n = snprintf(num, sizeof(num), spec, va_arg(ap, uintmax_t));
            else if (strcmp(len, "t") == 0)
                n = snprintf(num, sizeof(num), spec, (size_t)va_arg(ap, ptrdiff_t));
            else
                n = snprintf(num, sizeof(num), spec, va_arg(ap, unsigned int));
            break;
        case 'f':
        case 'g':
        case 'e':
        case 'G':
        case 'E':
            if (strcmp(len, "L") == 0)
                n = snprintf(num, sizeof(num), spec, va_arg(ap, long double));
            else
                n = snprintf(num, sizeof(num), spec, va_arg(ap, double));
            break;
        case 'c': { /* a character is a value too: a newline must not start a forged line */
            char ch = (char)va_arg(ap, int);
            put_value(s, &ch, 1);
            continue;
        }
        case 'p': n = snprintf(num, sizeof(num), "%p", va_arg(ap, void *)); break;
        default:
            /* An unknown conversion is a programming error; show it rather than guess the argument type. */
            n = snprintf(num, sizeof(num), "%%%c", conv);
            break;
        }
#pragma GCC diagnostic pop
        if (n > 0)
            put(s, num, (size_t)n < sizeof(num) ? (size_t)n : sizeof(num) - 1);
    }
}

/* Replaces every registered secret in buf (length *len, capacity cap) with [REDACTED]. Called with lock held. */
static void redact(char *buf, size_t *len, size_t cap)
{
    static const char mark[] = "[REDACTED]";
    const size_t ml = sizeof(mark) - 1;
    for (size_t i = 0; i < secret_count; i++) {
        size_t sl = strlen(secrets[i]);
        char *hit;
        size_t from = 0;
        while (from < *len && (hit = memmem(buf + from, *len - from, secrets[i], sl)) != NULL) {
            size_t at = (size_t)(hit - buf);
            size_t tail = *len - at - sl;
            if (at + ml >= cap) { /* no room for the mark: cut the line where the secret began */
                *len = at;
                buf[at] = '\0';
                break;
            }
            if (at + ml + tail >= cap)
                tail = cap - 1 - at - ml;
            memmove(buf + at + ml, buf + at + sl, tail);
            memcpy(buf + at, mark, ml);
            *len = at + ml + tail;
            buf[*len] = '\0';
            from = at + ml;
        }
    }
}

static size_t vformat(char *buf, size_t cap, ac_log_level_t level, const char *module, const char *event,
                      const char *fmt, va_list ap)
{
    sink_t s = {buf, 0, cap, false};
    buf[0] = '\0';
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char head[96];
    int n = snprintf(head, sizeof(head), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s module=", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                     level_names[level < AC_LOG_OFF ? level : AC_LOG_ERROR]);
    put(&s, head, (size_t)n);
    put_value(&s, module, strlen(module));
    put(&s, " event=", 7);
    put_value(&s, event, strlen(event));
    if (fmt != NULL && fmt[0] != '\0') {
        putc_(&s, ' ');
        format_fields(&s, fmt, ap);
    }
    if (s.truncated && cap > 4)
        memcpy(buf + cap - 4, "...", 4), s.len = cap - 1;
    return s.len;
}

/* Formats into a buffer twice the line limit, redacts there (so a secret is never half cut by truncation and half
 * shown), then copies at most cap - 1 bytes to out, ending a cut line with "...". Returns the length in out. */
static size_t render(char *out, size_t cap, ac_log_level_t level, const char *module, const char *event,
                     const char *fmt, va_list ap)
{
    char wide[2 * AC_LOG_LINE_MAX];
    size_t n = vformat(wide, sizeof(wide), level, module, event, fmt, ap);
    pthread_mutex_lock(&lock);
    redact(wide, &n, sizeof(wide));
    pthread_mutex_unlock(&lock);
    if (cap == 0)
        return 0;
    if (n >= cap) {
        n = cap - 1;
        if (cap > 4)
            memcpy(wide + cap - 4, "...", 3);
    }
    memcpy(out, wide, n);
    out[n] = '\0';
    return n;
}

size_t ac_log_format(char *buf, size_t cap, ac_log_level_t level, const char *module, const char *event,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = render(buf, cap, level, module, event, fmt, ap);
    va_end(ap);
    return n;
}

void ac_log(ac_log_level_t level, const char *module, const char *event, const char *fmt, ...)
{
    if ((int)level < atomic_load(&min_level) || level >= AC_LOG_OFF)
        return;
    char buf[AC_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    size_t n = render(buf, sizeof(buf), level, module, event, fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&lock);
    FILE *out = output_set ? output : stderr;
    if (out != NULL) {
        fwrite(buf, 1, n, out);
        fputc('\n', out);
        fflush(out);
    }
    free(ring[ring_next]);
    ring[ring_next] = ac_strndup(buf, n);
    ring_next = (ring_next + 1) % AC_LOG_RING_LINES;
    if (ring_count < AC_LOG_RING_LINES)
        ring_count++;
    pthread_mutex_unlock(&lock);
}

int ac_log_level_parse(const char *name, ac_log_level_t *out)
{
    for (int i = 0; i <= AC_LOG_OFF; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (ac_log_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = AC_LOG_WARN;
        return 0;
    }
    return -AC_EINVAL;
}

void ac_log_level_set(ac_log_level_t level)
{
    atomic_store(&min_level, (int)level);
}

void ac_log_output_set(FILE *f)
{
    pthread_mutex_lock(&lock);
    output = f;
    output_set = true;
    pthread_mutex_unlock(&lock);
}

void ac_log_secret_add(const char *secret)
{
    if (secret == NULL || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < secret_count; i++) {
        if (strcmp(secrets[i], secret) == 0) {
            pthread_mutex_unlock(&lock);
            return;
        }
    }
    if (secret_count == MAX_SECRETS) {
        pthread_mutex_unlock(&lock);
        /* never silently: this line says that redaction is no longer complete */
        fprintf(stderr,
                "level=error module=log event=too_many_secrets max=%d note=\"later secrets are not redacted\"\n",
                MAX_SECRETS);
        return;
    }
    if (secret_count == secret_cap) {
        secret_cap = secret_cap ? secret_cap * 2 : 32;
        secrets = ac_realloc(secrets, secret_cap * sizeof(*secrets));
    }
    secrets[secret_count++] = ac_strdup(secret);
    pthread_mutex_unlock(&lock);
}

size_t ac_log_ring_copy(char **out, size_t max)
{
    pthread_mutex_lock(&lock);
    size_t n = ring_count < max ? ring_count : max;
    size_t start = (ring_next + AC_LOG_RING_LINES - n) % AC_LOG_RING_LINES;
    for (size_t i = 0; i < n; i++)
        out[i] = ac_strdup(ring[(start + i) % AC_LOG_RING_LINES]);
    pthread_mutex_unlock(&lock);
    return n;
}

void ac_log_shutdown(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < AC_LOG_RING_LINES; i++) {
        ac_free_secret_str(ring[i]); /* a line may quote a secret that was registered too late */
        ring[i] = NULL;
    }
    ring_next = ring_count = 0;
    for (size_t i = 0; i < secret_count; i++)
        ac_free_secret_str(secrets[i]);
    free(secrets);
    secrets = NULL;
    secret_count = secret_cap = 0;
    pthread_mutex_unlock(&lock);
}
