/* tests/unit/node/test_log.c - node/log.c: the shape of a line (timestamp, level, module, event), quoting and escaping
 * of %s values so no value can forge a field or a line, the other conversions against printf, redaction of registered
 * secrets (also at the very end of a full buffer), levels, truncation, and the ring buffer of recent lines. Every test
 * captures the output in a memory stream and resets the logger (ring and secrets) afterwards. */
#include "node/log.h"
#include "policy/error.h"

#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>

static FILE *out_f;
static char *out_buf;
static size_t out_len;

static int setup(void **state)
{
    out_buf = NULL;
    out_len = 0;
    out_f = open_memstream(&out_buf, &out_len);
    if (out_f == NULL)
        return -1;
    ac_log_output_set(out_f);
    ac_log_level_set(AC_LOG_INFO);
    return 0;
}

static int teardown(void **state)
{
    ac_log_output_set(NULL);
    fclose(out_f);
    free(out_buf);
    out_f = NULL;
    out_buf = NULL;
    ac_log_level_set(AC_LOG_INFO);
    ac_log_shutdown();
    return 0;
}

/* Everything written so far. */
static const char *output(void)
{
    fflush(out_f);
    return out_buf != NULL ? out_buf : "";
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += *s == c;
    return n;
}

/* The fields after the fixed head of a line logged with module "t" and event "e". */
static const char *fields_of(const char *line)
{
    const char *p = strstr(line, " event=e ");
    assert_non_null(p);
    return p + strlen(" event=e ");
}

/* Formats one line with module "t", event "e" and compares what follows the head. */
#define assert_fields(expected, ...)                                                                                   \
    do {                                                                                                               \
        char line_[AC_LOG_LINE_MAX];                                                                                   \
        ac_log_format(line_, sizeof(line_), AC_LOG_INFO, "t", "e", __VA_ARGS__);                                       \
        assert_string_equal(fields_of(line_), (expected));                                                             \
    } while (0)

/* True when s starts with pattern, where '#' in the pattern stands for any decimal digit. */
static int matches_head(const char *s, const char *pattern)
{
    for (; *pattern != '\0'; pattern++, s++) {
        if (*pattern == '#') {
            if (*s < '0' || *s > '9')
                return 0;
        } else if (*s != *pattern) {
            return 0;
        }
    }
    return 1;
}

static void frees_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
}

/* --- line shape --- */

static void writes_one_line_with_timestamp_level_module_and_event(void **state)
{
    ac_log_info("db", "connected", "host=%s attempt=%d", "/tmp/x", 3);
    const char *o = output();
    assert_true(matches_head(o, "ts=####-##-##T##:##:##.###Z level=info module=db event=connected "));
    const char *f = strstr(o, " event=connected ") + strlen(" event=connected ");
    assert_string_equal(f, "host=/tmp/x attempt=3\n");
    assert_int_equal(count_char(o, '\n'), 1);
}

static void names_each_level_in_the_line(void **state)
{
    static const struct {
        ac_log_level_t level;
        const char *name;
    } levels[] = {{AC_LOG_DEBUG, "debug"}, {AC_LOG_INFO, "info"}, {AC_LOG_WARN, "warn"}, {AC_LOG_ERROR, "error"}};
    char line[AC_LOG_LINE_MAX], want[64];

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        ac_log_format(line, sizeof(line), levels[i].level, "t", "e", "k=%d", 1);
        snprintf(want, sizeof(want), " level=%s module=t event=e k=1", levels[i].name);
        assert_non_null(strstr(line, want));
    }
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-zero-length"
static void ends_after_the_event_when_there_are_no_fields(void **state)
{
    char line[AC_LOG_LINE_MAX];
    size_t n = ac_log_format(line, sizeof(line), AC_LOG_INFO, "t", "e", "");
    assert_int_equal(n, strlen(line));
    assert_true(n > strlen(" event=e"));
    assert_string_equal(line + n - strlen(" event=e"), " event=e");
}
#pragma GCC diagnostic pop

static void format_returns_the_line_length(void **state)
{
    char line[AC_LOG_LINE_MAX];
    size_t n = ac_log_format(line, sizeof(line), AC_LOG_INFO, "t", "e", "a=%s b=%d", "x y", 42);
    assert_int_equal(n, strlen(line));
    assert_string_equal(fields_of(line), "a=\"x y\" b=42");
}

static void format_writes_neither_output_nor_ring(void **state)
{
    char line[AC_LOG_LINE_MAX];
    char *ring[4];
    ac_log_format(line, sizeof(line), AC_LOG_ERROR, "t", "e", "k=%d", 1);
    assert_string_equal(output(), "");
    assert_int_equal(ac_log_ring_copy(ring, 4), 0);
}

static void quotes_module_and_event_when_needed(void **state)
{
    char line[AC_LOG_LINE_MAX];
    ac_log_format(line, sizeof(line), AC_LOG_INFO, "a b", "x=y", "k=%d", 1);
    assert_non_null(strstr(line, " module=\"a b\" event=\"x=y\" k=1"));
}

/* --- %s values --- */

static void leaves_plain_value_unquoted(void **state)
{
    assert_fields("v=abc-123_/.:,@", "v=%s", "abc-123_/.:,@");
}

static void passes_utf8_bytes_through_unquoted(void **state)
{
    assert_fields("v=caf\xc3\xa9", "v=%s", "caf\xc3\xa9");
}

static void quotes_value_with_spaces(void **state)
{
    assert_fields("v=\"hello world\" n=1", "v=%s n=%d", "hello world", 1);
}

static void quotes_empty_value(void **state)
{
    assert_fields("v=\"\"", "v=%s", "");
}

static void quotes_value_containing_equals_sign(void **state)
{
    assert_fields("v=\"level=error\"", "v=%s", "level=error");
}

static void escapes_quotes_and_backslashes(void **state)
{
    assert_fields("v=\"say \\\"hi\\\" c:\\\\dir\"", "v=%s", "say \"hi\" c:\\dir");
}

static void escapes_newline_so_a_value_cannot_forge_a_line(void **state)
{
    ac_log_info("t", "e", "v=%s", "x\nts=2020-01-01T00:00:00.000Z level=error module=auth event=forged");
    const char *o = output();
    assert_int_equal(count_char(o, '\n'), 1);
    assert_string_equal(fields_of(o), "v=\"x\\nts=2020-01-01T00:00:00.000Z level=error module=auth event=forged\"\n");
}

static void escapes_carriage_return_and_tab(void **state)
{
    assert_fields("v=\"a\\rb\\tc\"", "v=%s", "a\rb\tc");
}

static void escapes_other_control_characters_as_hex(void **state)
{
    assert_fields("v=\"\\x01\\x1b[0m\\x7f\"", "v=%s", "\x01\x1b[0m\x7f");
}

static void prints_null_string_as_null_marker(void **state)
{
    const char *volatile nothing = NULL;
    assert_fields("v=(null) n=2", "v=%s n=%d", nothing, 2);
}

static void honours_string_precision(void **state)
{
    assert_fields("a=abc b=\"x \"", "a=%.3s b=%.*s", "abcdef", 2, "x yz");
}

static void prints_percent_sign_for_double_percent(void **state)
{
    assert_fields("pct=100% n=7", "pct=100%% n=%d", 7);
}

/* --- other conversions --- */

static void formats_signed_integers_like_printf(void **state)
{
    char want[256];
    long long ll = LLONG_MIN;
    intmax_t j = INTMAX_MAX;
    snprintf(want, sizeof(want), "a=%d b=%ld c=%lld d=%i e=%05d f=%-4d| g=%+d h=%jd i=%hd", -5, LONG_MIN, ll, 9, 42, 7,
             3, j, (short)-2);
    assert_fields(want, "a=%d b=%ld c=%lld d=%i e=%05d f=%-4d| g=%+d h=%jd i=%hd", -5, LONG_MIN, ll, 9, 42, 7, 3, j,
                  (short)-2);
}

/* The logger accepts the 't' length modifier; the value must be read as a ptrdiff_t, not an int. */
static void formats_ptrdiff_like_printf(void **state)
{
    char want[64];
    ptrdiff_t t = PTRDIFF_MAX;
    snprintf(want, sizeof(want), "n=%td", t);
    assert_fields(want, "n=%td", t);
}

/* The logger accepts the 'L' length modifier; the value must be read as a long double, not a double. */
static void formats_long_double_like_printf(void **state)
{
    char want[64];
    long double x = 2.5L;
    snprintf(want, sizeof(want), "x=%.1Lf n=%d", x, 7);
    assert_fields(want, "x=%.1Lf n=%d", x, 7);
}

static void formats_unsigned_and_hex_like_printf(void **state)
{
    char want[256];
    size_t z = SIZE_MAX;
    unsigned long long ull = ULLONG_MAX;
    snprintf(want, sizeof(want), "a=%u b=%zu c=%x d=%X e=%#x f=%o g=%llu h=%08lx i=%ju", UINT_MAX, z, 255u, 0xabcu, 16u,
             8u, ull, 0xbeefUL, (uintmax_t)77);
    assert_fields(want, "a=%u b=%zu c=%x d=%X e=%#x f=%o g=%llu h=%08lx i=%ju", UINT_MAX, z, 255u, 0xabcu, 16u, 8u, ull,
                  0xbeefUL, (uintmax_t)77);
}

static void formats_signed_size_like_printf(void **state)
{
    char want[64];
    ssize_t zd = -9;
    snprintf(want, sizeof(want), "n=%zd", zd);
    assert_fields(want, "n=%zd", zd);
}

static void formats_floating_point_like_printf(void **state)
{
    char want[256];
    snprintf(want, sizeof(want), "a=%f b=%.2f c=%g d=%e e=%G f=%8.3f", 1.5, 3.14159, 0.0001, 12345.678, 1e-10, -2.5);
    assert_fields(want, "a=%f b=%.2f c=%g d=%e e=%G f=%8.3f", 1.5, 3.14159, 0.0001, 12345.678, 1e-10, -2.5);
}

static void formats_char_and_pointer_like_printf(void **state)
{
    char want[128];
    int x;
    void *p = &x;
    snprintf(want, sizeof(want), "c=%c p=%p", 'Q', p);
    assert_fields(want, "c=%c p=%p", 'Q', p);
}

static void keeps_arguments_aligned_after_precision_star(void **state)
{
    assert_fields("a=ab n=5 f=1.25", "a=%.*s n=%d f=%.2f", 2, "abc", 5, 1.25);
}

static void escapes_a_char_argument_like_a_value(void **state)
{
    ac_log_info("t", "e", "c=%c d=%c", '\n', 'x');
    const char *o = output();
    assert_string_equal(fields_of(o), "c=\"\\n\" d=x\n");
}

/* --- truncation --- */

static void truncates_a_long_line_with_an_ellipsis(void **state)
{
    char value[300];
    char line[64];
    memset(value, 'x', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    size_t n = ac_log_format(line, sizeof(line), AC_LOG_INFO, "t", "e", "v=%s", value);
    assert_int_equal(n, sizeof(line) - 1);
    assert_int_equal(strlen(line), n);
    assert_string_equal(line + n - 3, "...");
}

static void truncates_lines_longer_than_line_max_in_output(void **state)
{
    char *value = malloc(2 * AC_LOG_LINE_MAX);
    assert_non_null(value);
    memset(value, 'y', 2 * AC_LOG_LINE_MAX - 1);
    value[2 * AC_LOG_LINE_MAX - 1] = '\0';
    ac_log_info("t", "e", "v=%s", value);
    free(value);
    const char *o = output();
    assert_int_equal(strlen(o), AC_LOG_LINE_MAX - 1 + 1); /* the line, then '\n' */
    assert_string_equal(o + AC_LOG_LINE_MAX - 4, "...\n");
}

/* --- redaction --- */

static void redacts_a_registered_secret(void **state)
{
    ac_log_secret_add("hunter2-Secret");
    ac_log_info("t", "e", "pw=%s user=%s", "hunter2-Secret", "bob");
    const char *o = output();
    assert_null(strstr(o, "hunter2-Secret"));
    assert_string_equal(fields_of(o), "pw=[REDACTED] user=bob\n");
}

static void redacts_a_secret_that_the_quoting_would_escape(void **state)
{
    /* escaping happens after redaction: a secret with quotes or backslashes must still be found */
    ac_log_secret_add("pa\"ss\\wo rd");
    ac_log_info("t", "e", "pw=%s", "pa\"ss\\wo rd");
    const char *o = output();
    assert_null(strstr(o, "ss"));
    assert_string_equal(fields_of(o), "pw=[REDACTED]\n");
}

static void redacts_every_occurrence_of_a_secret(void **state)
{
    ac_log_secret_add("tok-1234");
    assert_fields("a=[REDACTED] b=\"x [REDACTED] y\" c=[REDACTED][REDACTED]", "a=%s b=%s c=%s", "tok-1234",
                  "x tok-1234 y", "tok-1234tok-1234");
}

static void redacts_every_registered_secret(void **state)
{
    ac_log_secret_add("first-secret");
    ac_log_secret_add("second-secret");
    assert_fields("a=[REDACTED] b=[REDACTED]", "a=%s b=%s", "first-secret", "second-secret");
}

static void redacts_a_secret_inside_a_longer_value(void **state)
{
    ac_log_secret_add("Sup3rS3cretPW");
    assert_fields("url=postgresql://u:[REDACTED]@h/db", "url=%s", "postgresql://u:Sup3rS3cretPW@h/db");
}

static void redacts_a_secret_written_by_a_numeric_conversion(void **state)
{
    ac_log_secret_add("987654321");
    assert_fields("pin=[REDACTED]", "pin=%d", 987654321);
}

static void ignores_secrets_shorter_than_4_bytes(void **state)
{
    ac_log_secret_add("abc");
    ac_log_secret_add("");
    ac_log_secret_add(NULL);
    assert_fields("v=abc", "v=%s", "abc");
}

static void redacts_a_secret_of_exactly_4_bytes(void **state)
{
    ac_log_secret_add("wxyz");
    assert_fields("v=[REDACTED]", "v=%s", "wxyz");
}

static void forgets_secrets_on_shutdown(void **state)
{
    ac_log_secret_add("temporary-secret");
    ac_log_shutdown();
    assert_fields("v=temporary-secret", "v=%s", "temporary-secret");
}

static void redacts_lines_kept_in_the_ring(void **state)
{
    char *lines[2];
    ac_log_secret_add("ring-secret-value");
    ac_log_output_set(NULL);
    ac_log_warn("t", "e", "v=%s", "ring-secret-value");
    assert_int_equal(ac_log_ring_copy(lines, 2), 1);
    assert_null(strstr(lines[0], "ring-secret-value"));
    assert_non_null(strstr(lines[0], "v=[REDACTED]"));
    frees_lines(lines, 1);
}

/* --- levels --- */

static void drops_lines_below_the_minimum_level(void **state)
{
    char *lines[4];
    ac_log_level_set(AC_LOG_WARN);
    ac_log_debug("t", "e", "n=%d", 1);
    ac_log_info("t", "e", "n=%d", 2);
    assert_string_equal(output(), "");
    assert_int_equal(ac_log_ring_copy(lines, 4), 0);
    ac_log_warn("t", "e", "n=%d", 3);
    ac_log_error("t", "e", "n=%d", 4);
    assert_int_equal(count_char(output(), '\n'), 2);
    assert_non_null(strstr(output(), "level=warn module=t event=e n=3\n"));
    assert_non_null(strstr(output(), "level=error module=t event=e n=4\n"));
}

static void writes_debug_lines_at_debug_level(void **state)
{
    ac_log_level_set(AC_LOG_DEBUG);
    ac_log_debug("t", "e", "n=%d", 1);
    assert_non_null(strstr(output(), "level=debug module=t event=e n=1\n"));
}

static void writes_nothing_at_level_off(void **state)
{
    char *lines[4];
    ac_log_level_set(AC_LOG_OFF);
    ac_log_error("t", "e", "n=%d", 1);
    assert_string_equal(output(), "");
    assert_int_equal(ac_log_ring_copy(lines, 4), 0);
}

static void never_writes_a_line_at_level_off(void **state)
{
    ac_log_level_set(AC_LOG_DEBUG);
    ac_log(AC_LOG_OFF, "t", "e", "n=%d", 1);
    assert_string_equal(output(), "");
}

static void parses_level_names_case_insensitively(void **state)
{
    static const struct {
        const char *name;
        ac_log_level_t level;
    } names[] = {{"debug", AC_LOG_DEBUG},  {"INFO", AC_LOG_INFO},   {"Warn", AC_LOG_WARN},
                 {"warning", AC_LOG_WARN}, {"error", AC_LOG_ERROR}, {"off", AC_LOG_OFF}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ac_log_level_t l = (ac_log_level_t)99;
        assert_int_equal(ac_log_level_parse(names[i].name, &l), 0);
        assert_int_equal(l, names[i].level);
    }
}

static void rejects_unknown_level_names(void **state)
{
    static const char *const bad[] = {"", "verbose", "info ", "err", "3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_log_level_t l = AC_LOG_ERROR;
        assert_int_equal(ac_log_level_parse(bad[i], &l), -AC_EINVAL);
        assert_int_equal(l, AC_LOG_ERROR);
    }
}

/* --- output and ring --- */

static void fills_the_ring_when_output_is_silenced(void **state)
{
    char *lines[2];
    ac_log_output_set(NULL);
    ac_log_info("t", "e", "n=%d", 1);
    assert_string_equal(output(), "");
    assert_int_equal(ac_log_ring_copy(lines, 2), 1);
    assert_string_equal(fields_of(lines[0]), "n=1");
    frees_lines(lines, 1);
}

static void ring_holds_lines_without_newline_as_written(void **state)
{
    char *lines[2];
    ac_log_info("t", "e", "v=%s", "a b");
    assert_int_equal(ac_log_ring_copy(lines, 2), 1);
    size_t n = strlen(lines[0]);
    assert_int_equal(n + 1, strlen(output()));
    assert_memory_equal(lines[0], output(), n);
    assert_int_equal(count_char(lines[0], '\n'), 0);
    frees_lines(lines, 1);
}

static void ring_returns_lines_oldest_first(void **state)
{
    char *lines[10];
    ac_log_info("t", "e", "n=%d", 1);
    ac_log_info("t", "e", "n=%d", 2);
    ac_log_info("t", "e", "n=%d", 3);
    assert_int_equal(ac_log_ring_copy(lines, 10), 3);
    assert_string_equal(fields_of(lines[0]), "n=1");
    assert_string_equal(fields_of(lines[1]), "n=2");
    assert_string_equal(fields_of(lines[2]), "n=3");
    frees_lines(lines, 3);
}

static void ring_copy_returns_the_most_recent_lines_up_to_max(void **state)
{
    char *lines[2];
    for (int i = 1; i <= 5; i++)
        ac_log_info("t", "e", "n=%d", i);
    assert_int_equal(ac_log_ring_copy(lines, 2), 2);
    assert_string_equal(fields_of(lines[0]), "n=4");
    assert_string_equal(fields_of(lines[1]), "n=5");
    frees_lines(lines, 2);
    assert_int_equal(ac_log_ring_copy(lines, 0), 0);
}

static void ring_keeps_only_the_last_ring_lines(void **state)
{
    char **lines = calloc(AC_LOG_RING_LINES + 10, sizeof(*lines));
    char want[32];
    assert_non_null(lines);
    ac_log_output_set(NULL);
    for (int i = 0; i < AC_LOG_RING_LINES + 5; i++)
        ac_log_info("t", "e", "n=%d", i);
    size_t n = ac_log_ring_copy(lines, AC_LOG_RING_LINES + 10);
    assert_int_equal(n, AC_LOG_RING_LINES);
    for (size_t i = 0; i < n; i++) {
        snprintf(want, sizeof(want), "n=%zu", i + 5);
        assert_string_equal(fields_of(lines[i]), want);
    }
    frees_lines(lines, n);
    free(lines);
}

static void shutdown_empties_the_ring(void **state)
{
    char *lines[2];
    ac_log_info("t", "e", "n=%d", 1);
    ac_log_shutdown();
    assert_int_equal(ac_log_ring_copy(lines, 2), 0);
}

#define LOG_THREADS          4
#define LOG_LINES_PER_THREAD 200

static void *log_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < LOG_LINES_PER_THREAD; i++)
        ac_log_info("t", "e", "thread=%d n=%d v=%s", id, i, "a b");
    return NULL;
}

static void keeps_lines_whole_when_threads_log_at_once(void **state)
{
    pthread_t th[LOG_THREADS];
    char **lines = calloc(AC_LOG_RING_LINES, sizeof(*lines));
    assert_non_null(lines);
    for (int i = 0; i < LOG_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, log_worker, (void *)(intptr_t)i), 0);
    for (int i = 0; i < LOG_THREADS; i++)
        pthread_join(th[i], NULL);

    const char *o = output();
    assert_int_equal(count_char(o, '\n'), LOG_THREADS * LOG_LINES_PER_THREAD);
    for (const char *l = o; *l != '\0'; l = strchr(l, '\n') + 1) {
        assert_true(matches_head(l, "ts=####-##-##T##:##:##.###Z level=info module=t event=e thread="));
        assert_non_null(strstr(l, " v=\"a b\"\n"));
    }
    size_t n = ac_log_ring_copy(lines, AC_LOG_RING_LINES);
    assert_int_equal(n, LOG_THREADS * LOG_LINES_PER_THREAD);
    frees_lines(lines, n);
    free(lines);
}

/* Kept last: with the overflow they catch, AddressSanitizer aborts the whole binary. */
/* The marker is longer than a short secret: a secret that ends the line must not push the marker past the buffer. */
static void redacts_a_secret_at_the_end_of_a_full_buffer(void **state)
{
    char probe[AC_LOG_LINE_MAX];
    const char *value = "aaaaaaaaaaaaaaaaaaaaSECR";
    size_t full = ac_log_format(probe, sizeof(probe), AC_LOG_INFO, "t", "e", "v=%s", value);
    size_t cap = full + 1; /* the line fits exactly, with the secret as its last bytes */
    char *line = malloc(cap);
    assert_non_null(line);

    ac_log_secret_add("SECR");
    size_t n = ac_log_format(line, cap, AC_LOG_INFO, "t", "e", "v=%s", value);
    assert_true(n < cap);
    assert_int_equal(strlen(line), n);
    assert_null(strstr(line, "SECR"));
    free(line);
}

/* The realistic path to the same overflow: a long value cut at AC_LOG_LINE_MAX with a short secret just before the
 * "..." mark, logged through ac_log() (whose buffer is on the stack). */
static void redacts_a_secret_just_before_the_truncation_mark(void **state)
{
    char probe[AC_LOG_LINE_MAX];
    char *lines[1];
    size_t head = ac_log_format(probe, sizeof(probe), AC_LOG_INFO, "t", "e", "v=%s", "a") - 1;
    size_t at = AC_LOG_LINE_MAX - 10; /* the secret ends 2 bytes before "..." */
    assert_true(head < at);
    char *value = malloc(AC_LOG_LINE_MAX + 200);
    assert_non_null(value);
    memset(value, 'a', at - head);
    memcpy(value + at - head, "SECR", 4);
    memset(value + at - head + 4, 'b', 100);
    value[at - head + 4 + 100] = '\0';

    ac_log_secret_add("SECR");
    ac_log_output_set(NULL);
    ac_log_info("t", "e", "v=%s", value);
    free(value);
    assert_int_equal(ac_log_ring_copy(lines, 1), 1);
    assert_true(strlen(lines[0]) < AC_LOG_LINE_MAX);
    assert_null(strstr(lines[0], "SECR"));
    frees_lines(lines, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(writes_one_line_with_timestamp_level_module_and_event),
        T(names_each_level_in_the_line),
        T(ends_after_the_event_when_there_are_no_fields),
        T(format_returns_the_line_length),
        T(format_writes_neither_output_nor_ring),
        T(quotes_module_and_event_when_needed),
        T(leaves_plain_value_unquoted),
        T(passes_utf8_bytes_through_unquoted),
        T(quotes_value_with_spaces),
        T(quotes_empty_value),
        T(quotes_value_containing_equals_sign),
        T(escapes_quotes_and_backslashes),
        T(escapes_newline_so_a_value_cannot_forge_a_line),
        T(escapes_carriage_return_and_tab),
        T(escapes_other_control_characters_as_hex),
        T(prints_null_string_as_null_marker),
        T(honours_string_precision),
        T(prints_percent_sign_for_double_percent),
        T(formats_signed_integers_like_printf),
        T(formats_ptrdiff_like_printf),
        T(escapes_a_char_argument_like_a_value),
        T(redacts_a_secret_that_the_quoting_would_escape),
        T(formats_long_double_like_printf),
        T(formats_unsigned_and_hex_like_printf),
        T(formats_signed_size_like_printf),
        T(formats_floating_point_like_printf),
        T(formats_char_and_pointer_like_printf),
        T(keeps_arguments_aligned_after_precision_star),
        T(truncates_a_long_line_with_an_ellipsis),
        T(truncates_lines_longer_than_line_max_in_output),
        T(redacts_a_registered_secret),
        T(redacts_every_occurrence_of_a_secret),
        T(redacts_every_registered_secret),
        T(redacts_a_secret_inside_a_longer_value),
        T(redacts_a_secret_written_by_a_numeric_conversion),
        T(ignores_secrets_shorter_than_4_bytes),
        T(redacts_a_secret_of_exactly_4_bytes),
        T(forgets_secrets_on_shutdown),
        T(redacts_lines_kept_in_the_ring),
        T(drops_lines_below_the_minimum_level),
        T(writes_debug_lines_at_debug_level),
        T(writes_nothing_at_level_off),
        T(never_writes_a_line_at_level_off),
        T(parses_level_names_case_insensitively),
        T(rejects_unknown_level_names),
        T(fills_the_ring_when_output_is_silenced),
        T(ring_holds_lines_without_newline_as_written),
        T(ring_returns_lines_oldest_first),
        T(ring_copy_returns_the_most_recent_lines_up_to_max),
        T(ring_keeps_only_the_last_ring_lines),
        T(shutdown_empties_the_ring),
        T(keeps_lines_whole_when_threads_log_at_once),
        T(redacts_a_secret_at_the_end_of_a_full_buffer),
        T(redacts_a_secret_just_before_the_truncation_mark),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
