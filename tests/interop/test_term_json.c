/* tests/interop/test_term_json.c - dist/term_json.c: terms built with ei_x_encode_* (and by hand, for encodings ei
 * does not write) convert to the JSON of the table in dist/term_json.h and back; every refused type is refused with a
 * message naming it and its byte; truncated, hostile and random buffers never crash or read past their end (inputs
 * are exact-size heap copies, so AddressSanitizer sees a one-byte overread); a jansson that cannot allocate gives
 * -AC_ENOMEM without leaks. The real-node oracle is tests/interop/term_json.sh. */
#include "dist/term_json.h"
#include "policy/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- helpers --------------------------------------------------------------------------------------------------- */

/* An exact-size heap copy of n bytes, so ASan reports any read past the end. */
static char *dup_exact(const void *p, size_t n)
{
    char *c = malloc(n > 0 ? n : 1);
    assert_non_null(c);
    if (n > 0)
        memcpy(c, p, n);
    return c;
}

/* Runs the conversion on an exact-size copy of buf[0..len). On failure checks the contract (index unchanged, no
 * output, a message). Returns the result; *used is what the term took. */
static int convert_some(const void *buf, size_t len, const ac_dist_term_limits_t *lim, json_t **out, ac_errmsg_t *err,
                        int *used)
{
    char *copy = dup_exact(buf, len);
    int index = 0, ret;

    err->msg[0] = '\0';
    *out = (json_t *)1; /* must be overwritten */
    ret = ac_dist_term_to_json(copy, (int)len, &index, lim, out, err);
    if (ret == 0) {
        assert_non_null(*out);
        assert_true(index > 0 && index <= (int)len);
    } else {
        assert_true(ret < 0);
        assert_null(*out);
        assert_int_equal(index, 0);
        assert_true(err->msg[0] != '\0');
    }
    free(copy);
    *used = index;
    return ret;
}

/* As convert_some(), and a term that converts must take the whole buffer. */
static int convert_lim(const void *buf, size_t len, const ac_dist_term_limits_t *lim, json_t **out, ac_errmsg_t *err)
{
    int used, ret = convert_some(buf, len, lim, out, err, &used);
    if (ret == 0)
        assert_int_equal(used, (int)len);
    return ret;
}

static int convert(const void *buf, size_t len, json_t **out, ac_errmsg_t *err)
{
    return convert_lim(buf, len, NULL, out, err);
}

static void assert_json_is(json_t *j, const char *expected)
{
    json_error_t jerr;
    json_t *e = json_loads(expected, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    assert_non_null(e);
    if (!json_equal(j, e)) {
        char *got = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        print_error("got %s, expected %s\n", got, expected);
        free(got);
        fail();
    }
    json_decref(e);
}

/* The term in x converts to `expected`. Frees x. */
static void expect_x(ei_x_buff *x, const char *expected)
{
    ac_errmsg_t err;
    json_t *j = NULL;
    int ret = convert(x->buff, (size_t)x->index, &j, &err);
    if (ret != 0)
        print_error("refused: %s\n", err.msg);
    assert_int_equal(ret, 0);
    assert_json_is(j, expected);
    json_decref(j);
    ei_x_free(x);
}

/* The bytes are refused with `code` and a message containing each of the NULL-terminated fragments. */
static void expect_refused(const void *buf, size_t len, int code, ...)
{
    ac_errmsg_t err;
    json_t *j = NULL;
    const char *frag;
    va_list ap;
    int ret = convert(buf, len, &j, &err);

    if (ret != code)
        print_error("expected %s, got %d (%s)\n", ac_strerror_name(code), ret, err.msg);
    assert_int_equal(ret, code);
    va_start(ap, code);
    while ((frag = va_arg(ap, const char *)) != NULL) {
        if (strstr(err.msg, frag) == NULL)
            print_error("message \"%s\" lacks \"%s\"\n", err.msg, frag);
        assert_non_null(strstr(err.msg, frag));
    }
    va_end(ap);
}

static void expect_x_refused(ei_x_buff *x, int code, const char *frag1, const char *frag2)
{
    expect_refused(x->buff, (size_t)x->index, code, frag1, frag2, (const char *)NULL);
    ei_x_free(x);
}

static ei_x_buff new_x(void)
{
    ei_x_buff x;
    assert_int_equal(ei_x_new(&x), 0);
    return x;
}

/* ---- term -> JSON: the table ----------------------------------------------------------------------------------- */

static void converts_utf8_binary_to_string(void **state)
{
    ei_x_buff x = new_x();
    ei_x_encode_binary(&x, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15);
    expect_x(&x, "\"h\\u00e9llo \\u20ac \\ud83d\\ude00\"");

    x = new_x();
    ei_x_encode_binary(&x, "a\0b", 3); /* NUL is a character like any other */
    expect_x(&x, "\"a\\u0000b\"");

    x = new_x();
    ei_x_encode_binary(&x, "", 0);
    expect_x(&x, "\"\"");
}

static void converts_map_keys_to_strings(void **state)
{
    ei_x_buff x = new_x();
    ei_x_encode_map_header(&x, 6);
    ei_x_encode_binary(&x, "bin", 3);
    ei_x_encode_long(&x, 1);
    ei_x_encode_atom(&x, "atom");
    ei_x_encode_long(&x, 2);
    ei_x_encode_long(&x, 7);
    ei_x_encode_long(&x, 3);
    ei_x_encode_longlong(&x, -(1LL << 40));
    ei_x_encode_long(&x, 4);
    ei_x_encode_atom(&x, "nil"); /* special only as a value */
    ei_x_encode_long(&x, 5);
    ei_x_encode_atom(&x, "true");
    ei_x_encode_long(&x, 6);
    expect_x(&x, "{\"bin\":1,\"atom\":2,\"7\":3,\"-1099511627776\":4,\"nil\":5,\"true\":6}");

    x = new_x();
    ei_x_encode_map_header(&x, 0);
    expect_x(&x, "{}");
}

static void converts_nested_containers(void **state)
{
    ei_x_buff x = new_x();
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "ok");
    ei_x_encode_list_header(&x, 2);
    ei_x_encode_map_header(&x, 1);
    ei_x_encode_binary(&x, "k", 1);
    ei_x_encode_list_header(&x, 1);
    ei_x_encode_double(&x, 1.5);
    ei_x_encode_empty_list(&x);
    ei_x_encode_empty_list(&x);
    ei_x_encode_empty_list(&x);
    ei_x_encode_tuple_header(&x, 0);
    expect_x(&x, "[\"ok\",[{\"k\":[1.5]},[]],[]]");
}

static void converts_charlist_to_array_of_numbers(void **state)
{
    ei_x_buff x = new_x();
    ei_x_encode_string(&x, "abc"); /* STRING_EXT */
    expect_x(&x, "[97,98,99]");

    x = new_x();
    ei_x_encode_list_header(&x, 2); /* the same list as LIST_EXT */
    ei_x_encode_long(&x, 300);
    ei_x_encode_long(&x, 97);
    ei_x_encode_empty_list(&x);
    expect_x(&x, "[300,97]");
}

static void converts_nil_to_empty_array(void **state)
{
    ei_x_buff x = new_x();
    ei_x_encode_empty_list(&x);
    expect_x(&x, "[]");
}

static void converts_integers_within_int64(void **state)
{
    static const long long values[] = {
        0,         1,         255,       256,       -1,           INT32_MAX, INT32_MIN, 1LL << 27, -(1LL << 27) - 1,
        1LL << 32, 1LL << 62, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char want[32];
        ei_x_buff x = new_x();
        ei_x_encode_longlong(&x, values[i]);
        snprintf(want, sizeof(want), "%lld", values[i]);
        expect_x(&x, want);
    }
    /* A bignum with zero digits beyond the eighth is still within int64. */
    static const unsigned char padded[] = {'n', 10, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    json_t *j = NULL;
    ac_errmsg_t err;
    assert_int_equal(convert(padded, sizeof(padded), &j, &err), 0);
    assert_json_is(j, "5");
    json_decref(j);
    /* LARGE_BIG_EXT, negative. */
    static const unsigned char large[] = {'o', 0, 0, 0, 2, 1, 0x34, 0x12};
    assert_int_equal(convert(large, sizeof(large), &j, &err), 0);
    assert_json_is(j, "-4660");
    json_decref(j);
}

static void refuses_integers_beyond_int64(void **state)
{
    ei_x_buff x = new_x();
    ei_x_encode_ulonglong(&x, UINT64_MAX);
    expect_x_refused(&x, -AC_EINVAL, "integer at byte 0", "64 bits");

    x = new_x();
    ei_x_encode_ulonglong(&x, (unsigned long long)INT64_MAX + 1);
    expect_x_refused(&x, -AC_EINVAL, "integer", "64 bits");

    /* -2^63 - 1 */
    static const unsigned char below[] = {'n', 8, 1, 1, 0, 0, 0, 0, 0, 0, 0x80};
    expect_refused(below, sizeof(below), -AC_EINVAL, "64 bits", (const char *)NULL);
    /* 2^64, nine digits */
    static const unsigned char nine[] = {'n', 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    expect_refused(nine, sizeof(nine), -AC_EINVAL, "64 bits", (const char *)NULL);
    /* A sign byte other than 0 or 1. */
    static const unsigned char sign[] = {'n', 1, 2, 1};
    expect_refused(sign, sizeof(sign), -AC_EINVAL, "sign", (const char *)NULL);
}

static void converts_floats(void **state)
{
    ei_x_buff x = new_x();
    ei_x_encode_double(&x, 3.25);
    expect_x(&x, "3.25");

    x = new_x();
    ei_x_encode_double(&x, -1e300);
    expect_x(&x, "-1e300");

    /* The old FLOAT_EXT: "%.20e" text NUL-padded to 31 bytes. */
    unsigned char old[32] = {'c'};
    memcpy(old + 1, "1.50000000000000000000e+00", 26);
    json_t *j = NULL;
    ac_errmsg_t err;
    assert_int_equal(convert(old, sizeof(old), &j, &err), 0);
    assert_json_is(j, "1.5");
    json_decref(j);
}

static void refuses_nan_and_infinite_floats(void **state)
{
    static const unsigned char nan[] = {'F', 0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
    static const unsigned char inf[] = {'F', 0x7f, 0xf0, 0, 0, 0, 0, 0, 0};
    static const unsigned char ninf[] = {'F', 0xff, 0xf0, 0, 0, 0, 0, 0, 0};
    expect_refused(nan, sizeof(nan), -AC_EINVAL, "float at byte 0", "NaN", (const char *)NULL);
    expect_refused(inf, sizeof(inf), -AC_EINVAL, "float", "infinite", (const char *)NULL);
    expect_refused(ninf, sizeof(ninf), -AC_EINVAL, "float", (const char *)NULL);

    unsigned char old[32] = {'c'};
    memcpy(old + 1, "inf", 3);
    expect_refused(old, sizeof(old), -AC_EINVAL, "float", (const char *)NULL);
    memcpy(old + 1, "nan", 3);
    expect_refused(old, sizeof(old), -AC_EINVAL, "float", (const char *)NULL);
    memcpy(old + 1, "1e999", 5);
    expect_refused(old, sizeof(old), -AC_EINVAL, "float", (const char *)NULL);
    /* Text that fills all 31 bytes, unterminated: parsed from a terminated copy, never past the term. */
    memset(old + 1, '1', 31);
    json_t *j = NULL;
    ac_errmsg_t err;
    assert_int_equal(convert(old, sizeof(old), &j, &err), 0);
    json_decref(j);
    memset(old + 1, 0, 31);
    expect_refused(old, sizeof(old), -AC_EINVAL, "malformed float", (const char *)NULL);
    memcpy(old + 1, "1.5 garbage", 11);
    expect_refused(old, sizeof(old), -AC_EINVAL, "malformed float", (const char *)NULL);
}

static void converts_atoms(void **state)
{
    ei_x_buff x = new_x();
    ei_x_encode_list_header(&x, 6);
    ei_x_encode_atom(&x, "true");
    ei_x_encode_atom(&x, "false");
    ei_x_encode_atom(&x, "nil");
    ei_x_encode_atom(&x, "null"); /* not special: only Elixir's nil is null */
    ei_x_encode_atom(&x, "Elixir.AlexClaw.Cluster.Manager");
    ei_x_encode_atom_as(&x, "h\xc3\xa9", ERLANG_UTF8, ERLANG_UTF8);
    ei_x_encode_empty_list(&x);
    expect_x(&x, "[true,false,null,\"null\",\"Elixir.AlexClaw.Cluster.Manager\",\"h\\u00e9\"]");

    /* Latin-1 encodings (ATOM_EXT, SMALL_ATOM_EXT) become UTF-8. */
    static const unsigned char latin1[] = {'l', 0, 0, 0, 2, 'd', 0, 2, 'h', 0xe9, 's', 1, 0xff, 'j'};
    json_t *j = NULL;
    ac_errmsg_t err;
    assert_int_equal(convert(latin1, sizeof(latin1), &j, &err), 0);
    assert_json_is(j, "[\"h\\u00e9\",\"\\u00ff\"]");
    json_decref(j);
    /* The longest atoms: 255 Latin-1 characters (510 bytes of UTF-8), 255 four-byte characters. */
    unsigned char big[3 + 255] = {'d', 0, 255};
    memset(big + 3, 0xe9, 255);
    assert_int_equal(convert(big, sizeof(big), &j, &err), 0);
    assert_int_equal(json_string_length(j), 510);
    json_decref(j);
    unsigned char wide[3 + 1020] = {'v', 1020 >> 8, 1020 & 0xff};
    for (int i = 0; i < 255; i++)
        memcpy(wide + 3 + 4 * i, "\xf0\x9f\x98\x80", 4);
    assert_int_equal(convert(wide, sizeof(wide), &j, &err), 0);
    assert_int_equal(json_string_length(j), 1020);
    json_decref(j);
}

static void refuses_bad_atoms(void **state)
{
    /* Length fields beyond what an atom can hold, with the bytes present. */
    unsigned char *huge = calloc(1, 3 + 0xffff);
    huge[0] = 'v';
    huge[1] = huge[2] = 0xff;
    memset(huge + 3, 'a', 0xffff);
    expect_refused(huge, 3 + 0xffff, -AC_EINVAL, "atom at byte 0", "255", (const char *)NULL);
    huge[0] = 'd';
    expect_refused(huge, 3 + 0xffff, -AC_EINVAL, "atom", (const char *)NULL);
    huge[1] = 1;
    huge[2] = 0; /* 256 Latin-1 characters */
    expect_refused(huge, 3 + 256, -AC_EINVAL, "atom", (const char *)NULL);
    free(huge);
    /* Length claimed, bytes missing. */
    static const unsigned char truncated[] = {'v', 0xff, 0xff, 'a', 'b'};
    expect_refused(truncated, sizeof(truncated), -AC_EINVAL, "truncated", "atom", (const char *)NULL);
    /* Not UTF-8; and 256 characters in fewer than 1021 bytes. */
    static const unsigned char bad[] = {'w', 2, 0xc3, 0x28};
    expect_refused(bad, sizeof(bad), -AC_EINVAL, "atom", "UTF-8", (const char *)NULL);
    unsigned char many[3 + 256] = {'v', 1, 0};
    memset(many + 3, 'a', 256);
    expect_refused(many, sizeof(many), -AC_EINVAL, "atom", (const char *)NULL);
}

/* ---- term -> JSON: refusals ------------------------------------------------------------------------------------ */

static void refuses_pids_refs_ports_funs(void **state)
{
    erlang_pid pid = {.node = "a@localhost", .num = 9, .serial = 0, .creation = 1};
    erlang_ref ref = {.node = "a@localhost", .len = 3, .n = {1, 2, 3}, .creation = 1};
    erlang_port port = {.node = "a@localhost", .id = 5, .creation = 1};

    ei_x_buff x = new_x();
    ei_x_encode_pid(&x, &pid);
    expect_x_refused(&x, -AC_EINVAL, "pid", "byte 0");

    x = new_x();
    ei_x_encode_ref(&x, &ref);
    expect_x_refused(&x, -AC_EINVAL, "reference", "byte 0");

    x = new_x();
    ei_x_encode_port(&x, &port);
    expect_x_refused(&x, -AC_EINVAL, "port", "byte 0");

    /* Inside containers, the message names the offending byte. */
    x = new_x();
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "from");
    ei_x_encode_pid(&x, &pid);
    expect_x_refused(&x, -AC_EINVAL, "pid", "byte 8"); /* after {2 and the atom from */

    static const unsigned char fun[] = {'p', 0, 0, 0, 4, 0};
    expect_refused(fun, sizeof(fun), -AC_EINVAL, "fun", "byte 0", (const char *)NULL);
    static const unsigned char oldfun[] = {'u', 0, 0, 0, 0};
    expect_refused(oldfun, sizeof(oldfun), -AC_EINVAL, "fun", (const char *)NULL);
    static const unsigned char export[] = {'q', 's', 1, 'm', 's', 1, 'f', 'a', 1};
    expect_refused(export, sizeof(export), -AC_EINVAL, "external fun", (const char *)NULL);
    static const unsigned char compressed[] = {'P', 0, 0, 0, 9, 0x78, 0x9c};
    expect_refused(compressed, sizeof(compressed), -AC_EINVAL, "compressed", (const char *)NULL);
    static const unsigned char unknown[] = {'z', 1, 2};
    expect_refused(unknown, sizeof(unknown), -AC_EINVAL, "unknown tag", (const char *)NULL);
}

static void refuses_improper_lists(void **state)
{
    ei_x_buff x = new_x();
    ei_x_encode_list_header(&x, 1);
    ei_x_encode_long(&x, 1);
    ei_x_encode_long(&x, 2); /* [1 | 2] */
    expect_x_refused(&x, -AC_EINVAL, "improper list", "byte 0");

    /* [alias | Ref], the gen:call tag */
    erlang_ref ref = {.node = "a@localhost", .len = 3, .n = {1, 2, 3}, .creation = 1};
    x = new_x();
    ei_x_encode_list_header(&x, 1);
    ei_x_encode_atom(&x, "alias");
    ei_x_encode_ref(&x, &ref);
    expect_x_refused(&x, -AC_EINVAL, "improper list", "reference");
}

static void follows_list_tails_that_are_lists(void **state)
{
    /* [1 | [2 | "ab"]]: binary_to_term reads this as [1, 2, 97, 98]. */
    static const unsigned char chain[] = {'l', 0, 0, 0, 1, 'a', 1, 'l', 0, 0, 0, 1, 'a', 2, 'k', 0, 2, 'a', 'b'};
    json_t *j = NULL;
    ac_errmsg_t err;
    assert_int_equal(convert(chain, sizeof(chain), &j, &err), 0);
    assert_json_is(j, "[1,2,97,98]");
    json_decref(j);
}

static void refuses_binaries_that_are_not_utf8(void **state)
{
    static const char *const bad[] = {
        "\xff",             /* never valid */
        "\xc0\x80",         /* overlong NUL */
        "\xe0\x80\xaf",     /* overlong '/' */
        "\xed\xa0\x80",     /* surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xe2\x82",         /* truncated sequence */
        "a\x80",            /* lone continuation */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ei_x_buff x = new_x();
        ei_x_encode_binary(&x, bad[i], (int)strlen(bad[i]));
        expect_x_refused(&x, -AC_EINVAL, "binary at byte 0", "UTF-8");
    }
}

static void refuses_bitstrings(void **state)
{
    ei_x_buff x = new_x();
    ei_x_encode_bitstring(&x, "\xa0", 0, 3);
    expect_x_refused(&x, -AC_EINVAL, "bitstring", "byte 0");
}

static void refuses_map_keys_of_other_types(void **state)
{
    ei_x_buff x = new_x();
    ei_x_encode_map_header(&x, 1);
    ei_x_encode_double(&x, 1.0);
    ei_x_encode_long(&x, 1);
    expect_x_refused(&x, -AC_EINVAL, "map key of type float", "byte 5");

    x = new_x();
    ei_x_encode_map_header(&x, 1);
    ei_x_encode_tuple_header(&x, 0);
    ei_x_encode_long(&x, 1);
    expect_x_refused(&x, -AC_EINVAL, "map key of type tuple", NULL);

    x = new_x();
    ei_x_encode_map_header(&x, 1);
    ei_x_encode_binary(&x, "\xff", 1);
    ei_x_encode_long(&x, 1);
    expect_x_refused(&x, -AC_EINVAL, "UTF-8", NULL);

    /* NUL in a key (not in a value): jansson's parser refuses such keys and object walkers see C strings. */
    x = new_x();
    ei_x_encode_map_header(&x, 1);
    ei_x_encode_binary(&x, "a\0b", 3);
    ei_x_encode_binary(&x, "c\0d", 3);
    expect_x_refused(&x, -AC_EINVAL, "key at byte 5", "NUL");

    x = new_x();
    ei_x_encode_map_header(&x, 1);
    ei_x_encode_ulonglong(&x, UINT64_MAX);
    ei_x_encode_long(&x, 1);
    expect_x_refused(&x, -AC_EINVAL, "64 bits", NULL);
}

static void refuses_keys_that_collide_once_converted(void **state)
{
    ei_x_buff x = new_x();
    ei_x_encode_map_header(&x, 2);
    ei_x_encode_atom(&x, "a");
    ei_x_encode_long(&x, 1);
    ei_x_encode_binary(&x, "a", 1);
    ei_x_encode_long(&x, 2);
    expect_x_refused(&x, -AC_EINVAL, "map at byte 0", "same JSON key");

    x = new_x();
    ei_x_encode_map_header(&x, 2);
    ei_x_encode_long(&x, 1);
    ei_x_encode_atom(&x, "x");
    ei_x_encode_binary(&x, "1", 1);
    ei_x_encode_atom(&x, "y");
    expect_x_refused(&x, -AC_EINVAL, "same JSON key", NULL);
}

/* ---- limits ------------------------------------------------------------------------------------------------------ */

/* `levels` lists nested in one another, the innermost empty: [[[...]]]. */
static void nested_lists(ei_x_buff *x, int levels)
{
    for (int i = 0; i < levels - 1; i++)
        ei_x_encode_list_header(x, 1);
    ei_x_encode_empty_list(x);
    for (int i = 0; i < levels - 1; i++)
        ei_x_encode_empty_list(x);
}

static void bounds_depth(void **state)
{
    ac_dist_term_limits_t lim = {.max_depth = 3};
    ac_errmsg_t err;
    json_t *j = NULL;

    ei_x_buff x = new_x();
    nested_lists(&x, AC_DIST_TERM_MAX_DEPTH);
    assert_int_equal(convert(x.buff, (size_t)x.index, &j, &err), 0);
    json_decref(j);
    ei_x_free(&x);

    x = new_x();
    nested_lists(&x, AC_DIST_TERM_MAX_DEPTH + 1);
    expect_x_refused(&x, -AC_ETOOLONG, "deep", NULL);

    x = new_x();
    nested_lists(&x, 1000);
    expect_x_refused(&x, -AC_ETOOLONG, "32 deep", NULL);

    /* Maps and tuples count too; a caller's own limit applies. */
    x = new_x();
    ei_x_encode_map_header(&x, 1);
    ei_x_encode_atom(&x, "k");
    ei_x_encode_tuple_header(&x, 1);
    ei_x_encode_string(&x, "ab");
    assert_int_equal(convert_lim(x.buff, (size_t)x.index, &lim, &j, &err), 0);
    json_decref(j);
    lim.max_depth = 2;
    assert_int_equal(convert_lim(x.buff, (size_t)x.index, &lim, &j, &err), -AC_ETOOLONG);
    ei_x_free(&x);

    /* Depth beyond the cap is capped, not trusted. */
    lim.max_depth = 1u << 30;
    x = new_x();
    nested_lists(&x, AC_DIST_TERM_DEPTH_CAP + 1);
    assert_int_equal(convert_lim(x.buff, (size_t)x.index, &lim, &j, &err), -AC_ETOOLONG);
    ei_x_free(&x);
}

static void bounds_elements(void **state)
{
    ac_dist_term_limits_t lim = {.max_elements = 10};
    ac_errmsg_t err;
    json_t *j = NULL;

    /* A list of 9 plus itself: 10 terms. */
    ei_x_buff x = new_x();
    ei_x_encode_list_header(&x, 9);
    for (int i = 0; i < 9; i++)
        ei_x_encode_long(&x, i);
    ei_x_encode_empty_list(&x);
    assert_int_equal(convert_lim(x.buff, (size_t)x.index, &lim, &j, &err), 0);
    json_decref(j);
    ei_x_free(&x);

    x = new_x();
    ei_x_encode_list_header(&x, 10);
    for (int i = 0; i < 10; i++)
        ei_x_encode_long(&x, i);
    ei_x_encode_empty_list(&x);
    assert_int_equal(convert_lim(x.buff, (size_t)x.index, &lim, &j, &err), -AC_ETOOLONG);
    assert_non_null(strstr(err.msg, "10 elements"));
    ei_x_free(&x);

    /* Charlist characters and map keys count. */
    x = new_x();
    ei_x_encode_string(&x, "0123456789");
    assert_int_equal(convert_lim(x.buff, (size_t)x.index, &lim, &j, &err), -AC_ETOOLONG);
    ei_x_free(&x);
    x = new_x();
    ei_x_encode_map_header(&x, 5);
    for (int i = 0; i < 5; i++) {
        ei_x_encode_long(&x, i);
        ei_x_encode_long(&x, i);
    }
    assert_int_equal(convert_lim(x.buff, (size_t)x.index, &lim, &j, &err), -AC_ETOOLONG);
    ei_x_free(&x);

    /* The default: 100000. A list of 100000 small integers (plus itself) is one too many. */
    x = new_x();
    ei_x_encode_list_header(&x, AC_DIST_TERM_MAX_ELEMENTS);
    for (int i = 0; i < AC_DIST_TERM_MAX_ELEMENTS; i++)
        ei_x_encode_long(&x, i & 0xff);
    ei_x_encode_empty_list(&x);
    expect_x_refused(&x, -AC_ETOOLONG, "100000 elements", NULL);
}

static void bounds_string_bytes(void **state)
{
    ac_dist_term_limits_t lim = {.max_string_bytes = 10};
    ac_errmsg_t err;
    json_t *j = NULL;

    ei_x_buff x = new_x();
    ei_x_encode_binary(&x, "0123456789", 10);
    assert_int_equal(convert_lim(x.buff, (size_t)x.index, &lim, &j, &err), 0);
    json_decref(j);
    ei_x_free(&x);

    x = new_x();
    ei_x_encode_list_header(&x, 3);
    ei_x_encode_binary(&x, "0123", 4);
    ei_x_encode_atom(&x, "abcd");
    ei_x_encode_binary(&x, "xyz", 3);
    ei_x_encode_empty_list(&x);
    assert_int_equal(convert_lim(x.buff, (size_t)x.index, &lim, &j, &err), -AC_ETOOLONG);
    assert_non_null(strstr(err.msg, "binary at byte"));
    ei_x_free(&x);

    /* Keys count, integers keys as their decimal text. */
    x = new_x();
    ei_x_encode_map_header(&x, 2);
    ei_x_encode_long(&x, 123456);
    ei_x_encode_atom(&x, "true");
    ei_x_encode_atom(&x, "abcde");
    ei_x_encode_atom(&x, "nil");
    assert_int_equal(convert_lim(x.buff, (size_t)x.index, &lim, &j, &err), -AC_ETOOLONG);
    ei_x_free(&x);

    /* The default, 8 MiB: one byte more is refused before anything is allocated for it. */
    size_t n = AC_DIST_TERM_MAX_STRING_BYTES + 1;
    char *big = malloc(n);
    memset(big, 'a', n);
    x = new_x();
    ei_x_encode_binary(&x, big, (int)n);
    free(big);
    expect_x_refused(&x, -AC_ETOOLONG, "bytes of strings", NULL);
}

/* ---- hostile buffers --------------------------------------------------------------------------------------------- */

/* A term with one of everything that converts. */
static void rich_term(ei_x_buff *x)
{
    ei_x_encode_map_header(x, 5);
    ei_x_encode_atom(x, "list");
    ei_x_encode_list_header(x, 4);
    ei_x_encode_longlong(x, 1LL << 40);
    ei_x_encode_double(x, 2.5);
    ei_x_encode_string(x, "xyz");
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "nil");
    ei_x_encode_atom(x, "true");
    ei_x_encode_empty_list(x);
    ei_x_encode_binary(x, "key", 3);
    ei_x_encode_binary(x, "v\xc3\xa9", 3);
    ei_x_encode_long(x, -70000);
    ei_x_encode_map_header(x, 1);
    ei_x_encode_long(x, 1);
    ei_x_encode_empty_list(x);
    ei_x_encode_atom_as(x, "\xc3\xa9t\xc3\xa9", ERLANG_UTF8, ERLANG_UTF8);
    ei_x_encode_long(x, 255);
    ei_x_encode_atom(x, "empty");
    ei_x_encode_binary(x, "", 0);
}

static void refuses_every_truncation(void **state)
{
    ei_x_buff x = new_x();
    ac_errmsg_t err;
    json_t *j = NULL;

    rich_term(&x);
    assert_int_equal(convert(x.buff, (size_t)x.index, &j, &err), 0);
    json_decref(j);
    for (int cut = 0; cut < x.index; cut++) {
        int ret = convert(x.buff, (size_t)cut, &j, &err);
        if (ret != -AC_EINVAL)
            print_error("prefix of %d bytes: %d (%s)\n", cut, ret, err.msg);
        assert_int_equal(ret, -AC_EINVAL);
        assert_non_null(strstr(err.msg, "truncated"));
    }
    ei_x_free(&x);
}

static void refuses_counts_the_input_cannot_hold(void **state)
{
    static const struct {
        const char *name;
        unsigned char bytes[12];
        size_t len;
    } cases[] = {
        {"list of 2^31", {'l', 0x80, 0, 0, 0, 'j'}, 6},
        {"list of 2^32-1", {'l', 0xff, 0xff, 0xff, 0xff, 'a', 1, 'j'}, 8},
        {"tuple of 2^32-1", {'i', 0xff, 0xff, 0xff, 0xff, 'a', 1}, 7},
        {"small tuple of 255", {'h', 0xff, 'a', 1}, 4},
        {"map of 2^31 pairs", {'t', 0x80, 0, 0, 0, 'a', 1, 'a', 2}, 9},
        {"map of 2^32-1 pairs", {'t', 0xff, 0xff, 0xff, 0xff}, 5},
        {"binary of 2^32-1 bytes", {'m', 0xff, 0xff, 0xff, 0xff, 'a'}, 6},
        {"binary of 2^31 bytes", {'m', 0x80, 0, 0, 0}, 5},
        {"string of 65535", {'k', 0xff, 0xff, 'a'}, 4},
        {"bignum of 2^32-1 digits", {'o', 0xff, 0xff, 0xff, 0xff, 0, 1}, 7},
        {"small bignum of 255 digits", {'n', 0xff, 0, 1, 2}, 5},
        {"bitstring", {'M', 0xff, 0xff, 0xff, 0xff, 3}, 6},
        {"float", {'F', 0, 0}, 3},
        {"old float", {'c', '1', '.', '0'}, 4},
        {"list tail missing", {'l', 0, 0, 0, 1, 'a', 1}, 7},
        {"atom", {'d', 0, 5, 'a'}, 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ac_errmsg_t err;
        json_t *j = NULL;
        int ret = convert(cases[i].bytes, cases[i].len, &j, &err);
        if (ret >= 0)
            print_error("%s: accepted\n", cases[i].name);
        assert_true(ret < 0);
    }
}

/* xorshift64*: reproducible without global state. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void survives_random_and_mutated_bytes(void **state)
{
    static const unsigned char tags[] = "abcdFjklmnoqrstvwhiMXgZpPR";
    ac_dist_term_limits_t lim = {.max_depth = 8, .max_elements = 200, .max_string_bytes = 256};
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    unsigned char buf[64];
    ei_x_buff x = new_x();
    ac_errmsg_t err;
    json_t *j = NULL;
    int used;

    rich_term(&x);
    for (int round = 0; round < 20000; round++) {
        size_t len;
        if (round % 2 == 0) {
            /* Random bytes biased towards tags and small counts. */
            len = next_rand(&seed) % sizeof(buf);
            for (size_t i = 0; i < len; i++) {
                uint64_t r = next_rand(&seed);
                buf[i] = r % 3 == 0 ? tags[(r >> 8) % (sizeof(tags) - 1)] : r % 3 == 1 ? (r >> 8) % 4 : r >> 8;
            }
            (void)convert_some(buf, len, round % 4 == 0 ? &lim : NULL, &j, &err, &used);
        } else {
            /* The rich term with a few bytes changed, truncated at random. */
            char *m = dup_exact(x.buff, (size_t)x.index);
            for (int k = 0; k < 3; k++)
                m[next_rand(&seed) % (uint64_t)x.index] = (char)next_rand(&seed);
            len = next_rand(&seed) % (uint64_t)(x.index + 1);
            (void)convert_some(m, len, NULL, &j, &err, &used);
            free(m);
        }
        json_decref(j);
        j = NULL;
    }
    ei_x_free(&x);
}

static void reads_one_term_and_advances_the_index(void **state)
{
    ei_x_buff x;
    ac_errmsg_t err;
    json_t *j = NULL;
    int index;

    assert_int_equal(ei_x_new_with_version(&x), 0);
    ei_x_encode_atom(&x, "first");
    ei_x_encode_long(&x, 2);
    index = 1;
    assert_int_equal(ac_dist_term_to_json(x.buff, x.index, &index, NULL, &j, &err), 0);
    assert_int_equal(index, 1 + 7);
    assert_json_is(j, "\"first\"");
    json_decref(j);
    assert_int_equal(ac_dist_term_to_json(x.buff, x.index, &index, NULL, &j, &err), 0);
    assert_int_equal(index, x.index);
    assert_json_is(j, "2");
    json_decref(j);
    /* At the end: nothing to read. */
    assert_int_equal(ac_dist_term_to_json(x.buff, x.index, &index, NULL, &j, &err), -AC_EINVAL);
    assert_int_equal(index, x.index);
    ei_x_free(&x);
}

static void refuses_bad_arguments(void **state)
{
    ac_errmsg_t err;
    json_t *j = NULL;
    int index = 5;

    assert_int_equal(ac_dist_term_to_json("j", 1, &index, NULL, &j, &err), -AC_EINVAL);
    index = -1;
    assert_int_equal(ac_dist_term_to_json("j", 1, &index, NULL, &j, &err), -AC_EINVAL);
    index = 0;
    assert_int_equal(ac_dist_term_to_json("j", -1, &index, NULL, &j, &err), -AC_EINVAL);
    assert_int_equal(ac_dist_term_to_json(NULL, 0, &index, NULL, &j, &err), -AC_EINVAL);
    assert_int_equal(ac_dist_term_to_json("j", 1, &index, NULL, NULL, &err), -AC_EINVAL);
    assert_int_equal(ac_dist_term_to_json("j", 1, &index, NULL, &j, NULL), 0); /* err is optional */
    json_decref(j);
}

/* ---- allocation failure ---------------------------------------------------------------------------------------- */

/* jansson's allocator, failing after a countdown. Only this test installs it; frees are always plain free(). */
static long alloc_budget = -1;

static void *counting_malloc(size_t n)
{
    if (alloc_budget == 0)
        return NULL;
    if (alloc_budget > 0)
        alloc_budget--;
    return malloc(n);
}

static void returns_enomem_when_jansson_cannot_allocate(void **state)
{
    ei_x_buff x = new_x();
    ac_errmsg_t err;
    json_t *j = NULL;
    bool succeeded = false;

    rich_term(&x);
    json_set_alloc_funcs(counting_malloc, free);
    for (long budget = 0; budget < 1000 && !succeeded; budget++) {
        alloc_budget = budget;
        int ret = convert(x.buff, (size_t)x.index, &j, &err);
        if (ret == 0) {
            succeeded = true;
            json_decref(j);
        } else {
            assert_int_equal(ret, -AC_ENOMEM);
            assert_non_null(strstr(err.msg, "out of memory"));
        }
    }
    alloc_budget = -1;
    json_set_alloc_funcs(malloc, free);
    assert_true(succeeded);
    ei_x_free(&x);
}

/* ---- JSON -> term ---------------------------------------------------------------------------------------------- */

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    assert_non_null(j);
    return j;
}

static void encodes_each_json_type(void **state)
{
    json_t *j =
        parse("{\"s\":\"h\\u00e9\",\"a\":[1,-2.5,true,false,null],\"e\":[],\"o\":{},\"big\":-9223372036854775808}");
    ac_errmsg_t err;
    ei_x_buff x = new_x();
    char s[16];
    int index = 0, arity, type, size;
    long l;
    long long ll;
    double d;

    assert_int_equal(ac_dist_json_to_term(j, &x, &err), 0);
    assert_int_equal(ei_decode_map_header(x.buff, &index, &arity), 0);
    assert_int_equal(arity, 5);
    /* "s" => <<"hé">> : keys and strings are binaries */
    assert_int_equal(ei_get_type(x.buff, &index, &type, &size), 0);
    assert_int_equal(type, ERL_BINARY_EXT);
    assert_int_equal(ei_decode_binary(x.buff, &index, s, &l), 0);
    assert_memory_equal(s, "s", 1);
    assert_int_equal(ei_get_type(x.buff, &index, &type, &size), 0);
    assert_int_equal(type, ERL_BINARY_EXT);
    assert_int_equal(ei_decode_binary(x.buff, &index, s, &l), 0);
    assert_int_equal(l, 3);
    assert_memory_equal(s, "h\xc3\xa9", 3);
    /* "a" => [1, -2.5, true, false, nil] */
    assert_int_equal(ei_decode_binary(x.buff, &index, s, &l), 0);
    assert_int_equal(ei_decode_list_header(x.buff, &index, &arity), 0);
    assert_int_equal(arity, 5);
    assert_int_equal(ei_decode_long(x.buff, &index, &l), 0);
    assert_int_equal(l, 1);
    assert_int_equal(ei_decode_double(x.buff, &index, &d), 0);
    assert_true(d == -2.5);
    assert_int_equal(ei_decode_atom(x.buff, &index, s), 0);
    assert_string_equal(s, "true");
    assert_int_equal(ei_decode_atom(x.buff, &index, s), 0);
    assert_string_equal(s, "false");
    assert_int_equal(ei_decode_atom(x.buff, &index, s), 0);
    assert_string_equal(s, "nil");
    assert_int_equal(ei_decode_list_header(x.buff, &index, &arity), 0);
    assert_int_equal(arity, 0); /* the tail */
    /* "e" => [], "o" => #{} */
    assert_int_equal(ei_decode_binary(x.buff, &index, s, &l), 0);
    assert_int_equal(ei_get_type(x.buff, &index, &type, &size), 0);
    assert_int_equal(type, ERL_NIL_EXT);
    assert_int_equal(ei_decode_list_header(x.buff, &index, &arity), 0);
    assert_int_equal(ei_decode_binary(x.buff, &index, s, &l), 0);
    assert_int_equal(ei_decode_map_header(x.buff, &index, &arity), 0);
    assert_int_equal(arity, 0);
    assert_int_equal(ei_decode_binary(x.buff, &index, s, &l), 0);
    assert_int_equal(ei_decode_longlong(x.buff, &index, &ll), 0);
    assert_true(ll == INT64_MIN);
    assert_int_equal(index, x.index);
    ei_x_free(&x);
    json_decref(j);
}

static void round_trips_json_through_terms(void **state)
{
    static const char *const docs[] = {
        "{\"name\":\"w\",\"data\":{\"n\":[1,2,{\"deep\":[[],{}]}],\"f\":0.1,\"u\":\"\\u0000\\ud83d\\ude00\"},\"x\":"
        "null}",
        "[]",
        "\"\"",
        "9223372036854775807",
        "-0.0",
        "[true,false,null,1e-300]",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *j = parse(docs[i]), *back = NULL;
        ac_errmsg_t err;
        ei_x_buff x = new_x();
        assert_int_equal(ac_dist_json_to_term(j, &x, &err), 0);
        assert_int_equal(convert(x.buff, (size_t)x.index, &back, &err), 0);
        assert_true(json_equal(j, back));
        json_decref(back);
        json_decref(j);
        ei_x_free(&x);
    }
}

static void bounds_json_depth(void **state)
{
    char text[2 * 40 + 1];
    ac_errmsg_t err;
    ei_x_buff x = new_x();
    json_t *j;

    for (int levels = AC_DIST_TERM_MAX_DEPTH; levels <= AC_DIST_TERM_MAX_DEPTH + 1; levels++) {
        memset(text, '[', (size_t)levels);
        memset(text + levels, ']', (size_t)levels);
        text[2 * levels] = '\0';
        j = parse(text);
        ei_x_encode_atom(&x, "before");
        int before = x.index;
        int ret = ac_dist_json_to_term(j, &x, &err);
        if (levels == AC_DIST_TERM_MAX_DEPTH) {
            assert_int_equal(ret, 0);
        } else {
            assert_int_equal(ret, -AC_ETOOLONG);
            assert_non_null(strstr(err.msg, "deep"));
            assert_int_equal(x.index, before); /* nothing half-written is left */
        }
        json_decref(j);
    }
    ei_x_free(&x);
    /* A cycle (possible with jansson's API) ends at the depth bound instead of looping. */
    j = json_array();
    json_t *inner = json_array();
    json_array_append(j, inner);
    json_array_append(inner, j);
    x = new_x();
    assert_int_equal(ac_dist_json_to_term(j, &x, &err), -AC_ETOOLONG);
    ei_x_free(&x);
    json_array_clear(inner);
    json_decref(inner);
    json_decref(j);
}

static void refuses_bad_json_arguments(void **state)
{
    ac_errmsg_t err;
    ei_x_buff x = new_x();
    json_t *j = json_integer(1);
    assert_int_equal(ac_dist_json_to_term(NULL, &x, &err), -AC_EINVAL);
    assert_int_equal(ac_dist_json_to_term(j, NULL, &err), -AC_EINVAL);
    json_decref(j);
    ei_x_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(converts_utf8_binary_to_string),
        cmocka_unit_test(converts_map_keys_to_strings),
        cmocka_unit_test(converts_nested_containers),
        cmocka_unit_test(converts_charlist_to_array_of_numbers),
        cmocka_unit_test(converts_nil_to_empty_array),
        cmocka_unit_test(converts_integers_within_int64),
        cmocka_unit_test(refuses_integers_beyond_int64),
        cmocka_unit_test(converts_floats),
        cmocka_unit_test(refuses_nan_and_infinite_floats),
        cmocka_unit_test(converts_atoms),
        cmocka_unit_test(refuses_bad_atoms),
        cmocka_unit_test(refuses_pids_refs_ports_funs),
        cmocka_unit_test(refuses_improper_lists),
        cmocka_unit_test(follows_list_tails_that_are_lists),
        cmocka_unit_test(refuses_binaries_that_are_not_utf8),
        cmocka_unit_test(refuses_bitstrings),
        cmocka_unit_test(refuses_map_keys_of_other_types),
        cmocka_unit_test(refuses_keys_that_collide_once_converted),
        cmocka_unit_test(bounds_depth),
        cmocka_unit_test(bounds_elements),
        cmocka_unit_test(bounds_string_bytes),
        cmocka_unit_test(refuses_every_truncation),
        cmocka_unit_test(refuses_counts_the_input_cannot_hold),
        cmocka_unit_test(survives_random_and_mutated_bytes),
        cmocka_unit_test(reads_one_term_and_advances_the_index),
        cmocka_unit_test(refuses_bad_arguments),
        cmocka_unit_test(returns_enomem_when_jansson_cannot_allocate),
        cmocka_unit_test(encodes_each_json_type),
        cmocka_unit_test(round_trips_json_through_terms),
        cmocka_unit_test(bounds_json_depth),
        cmocka_unit_test(refuses_bad_json_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
