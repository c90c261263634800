/* dist/term_json.c - Erlang terms <-> JSON, the one table both directions share (see dist/term_json.h for the table,
 * the refusals and the bignum decision). Remote triggers hand their data in as a term and workflows work on JSON;
 * send_to_workflow makes the way back.
 *
 * Reference: "External Term Format" in the erts documentation (erlang-doc). The shapes read here, after the version
 * byte (131) the caller has skipped; integers are big-endian:
 *
 *   'a' u8                      SMALL_INTEGER      'b' i32                       INTEGER
 *   'n' u8 n, u8 sign, n digits SMALL_BIG          'o' u32 n, u8 sign, n digits  LARGE_BIG (digits little-endian)
 *   'F' 8 bytes IEEE 754        NEW_FLOAT          'c' 31 bytes "%.20e", NUL pad FLOAT (old)
 *   'd' u16 len, Latin-1        ATOM               's' u8 len, Latin-1           SMALL_ATOM
 *   'v' u16 len, UTF-8          ATOM_UTF8          'w' u8 len, UTF-8             SMALL_ATOM_UTF8
 *   'm' u32 len, bytes          BINARY             'k' u16 len, bytes            STRING (list of bytes)
 *   'j'                         NIL ([])           'l' u32 n, n terms, tail      LIST
 *   'h' u8 n, n terms           SMALL_TUPLE        'i' u32 n, n terms            LARGE_TUPLE
 *   't' u32 n, n key/value      MAP                'M' u32 len, u8 bits, bytes   BIT_BINARY (refused)
 *
 * Decoding does not go through ei's decoders: they trust their input (ei_decode_double runs sscanf over the 31-byte
 * FLOAT_EXT text, which is not terminated, and the list and binary decoders take lengths at their word). A cursor
 * checks every length and count against the bytes that remain before it is used; ei only converts atoms, on bytes
 * already bounded. Encoding is ei's (ei_x_encode_*), which writes what binary_to_term reads.
 *
 * Allocation: jansson allocates each node with malloc and has no bounded arena, so the limits (terms, string bytes,
 * depth) are checked before anything is allocated for them, and a NULL from jansson becomes -AC_ENOMEM. */
#include "dist/term_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tags ei.h does not name. */
#define TAG_COMPRESSED     'P'
#define TAG_ATOM_CACHE_REF 'R'

/* Erlang atoms hold at most 255 characters. */
#define ATOM_MAX_CHARS 255

/* One term-to-JSON conversion: the input, the cursor, the budget left, and scratch space for an atom (kept here, not
 * in the recursive frames, so deep terms do not cost a kilobyte of stack per level). */
typedef struct conv {
    const unsigned char *buf;
    size_t len;
    size_t pos;
    unsigned max_depth;
    size_t max_elements, elements;
    size_t max_string_bytes, string_bytes;
    ac_errmsg_t *err;
    char atom[MAXATOMLEN_UTF8];
    size_t atom_len;
} conv_t;

/* Names used in messages, by tag. */
static const char *tag_name(unsigned tag)
{
    switch (tag) {
    case ERL_SMALL_INTEGER_EXT:
    case ERL_INTEGER_EXT:
    case ERL_SMALL_BIG_EXT:
    case ERL_LARGE_BIG_EXT: return "integer";
    case ERL_FLOAT_EXT:
    case NEW_FLOAT_EXT: return "float";
    case ERL_ATOM_EXT:
    case ERL_SMALL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT: return "atom";
    case ERL_BINARY_EXT: return "binary";
    case ERL_BIT_BINARY_EXT: return "bitstring";
    case ERL_NIL_EXT:
    case ERL_STRING_EXT:
    case ERL_LIST_EXT: return "list";
    case ERL_SMALL_TUPLE_EXT:
    case ERL_LARGE_TUPLE_EXT: return "tuple";
    case ERL_MAP_EXT: return "map";
    case ERL_PID_EXT:
    case ERL_NEW_PID_EXT: return "pid";
    case ERL_REFERENCE_EXT:
    case ERL_NEW_REFERENCE_EXT:
    case ERL_NEWER_REFERENCE_EXT: return "reference";
    case ERL_PORT_EXT:
    case ERL_NEW_PORT_EXT:
    case ERL_V4_PORT_EXT: return "port";
    case ERL_NEW_FUN_EXT:
    case ERL_FUN_EXT: return "fun";
    case ERL_EXPORT_EXT: return "external fun";
    case TAG_COMPRESSED: return "compressed term";
    case TAG_ATOM_CACHE_REF: return "atom cache reference";
    default: return "unknown term";
    }
}

/* ---- bounded reader ------------------------------------------------------------------------------------------ */

/* The name of the term that starts at `at`, for messages (at may be the end of the input). */
static const char *what(const conv_t *c, size_t at)
{
    return at < c->len ? tag_name(c->buf[at]) : "term";
}

/* Fails unless n more bytes remain; `at` is the start of the term being read, for the message. */
static int need(conv_t *c, uint64_t n, size_t at)
{
    if (n > c->len - c->pos)
        return ac_errmsg_set(c->err, -AC_EINVAL,
                             "truncated term: the %s at byte %zu needs %" PRIu64 " more bytes, %zu remain", what(c, at),
                             at, n, c->len - c->pos);
    return 0;
}

static int rd_u8(conv_t *c, size_t at, uint8_t *v)
{
    int ret = need(c, 1, at);
    *v = 0; /* defined on failure too */
    if (ret == 0)
        *v = c->buf[c->pos++];
    return ret;
}

static int rd_u16(conv_t *c, size_t at, uint16_t *v)
{
    int ret = need(c, 2, at);
    *v = 0; /* defined on failure too */
    if (ret == 0) {
        *v = (uint16_t)(c->buf[c->pos] << 8 | c->buf[c->pos + 1]);
        c->pos += 2;
    }
    return ret;
}

static int rd_u32(conv_t *c, size_t at, uint32_t *v)
{
    int ret = need(c, 4, at);
    *v = 0; /* defined on failure too */
    if (ret == 0) {
        const unsigned char *p = c->buf + c->pos;
        *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        c->pos += 4;
    }
    return ret;
}

/* ---- budget ----------------------------------------------------------------------------------------------------- */

/* Fails when n more terms would exceed the budget; takes them when `take`. */
static int budget_terms(conv_t *c, uint64_t n, size_t at, bool take)
{
    if (n > c->max_elements - c->elements)
        return ac_errmsg_set(c->err, -AC_ETOOLONG, "the %s at byte %zu takes the term past the limit of %zu elements",
                             what(c, at), at, c->max_elements);
    if (take)
        c->elements += (size_t)n;
    return 0;
}

static int budget_string(conv_t *c, size_t n, size_t at)
{
    if (n > c->max_string_bytes - c->string_bytes)
        return ac_errmsg_set(c->err, -AC_ETOOLONG,
                             "the %s at byte %zu takes the term past the limit of %zu bytes of strings", what(c, at),
                             at, c->max_string_bytes);
    c->string_bytes += n;
    return 0;
}

/* A container at `depth` (the number of containers around it). */
static int enter(conv_t *c, unsigned depth, size_t at)
{
    if (depth >= c->max_depth)
        return ac_errmsg_set(c->err, -AC_ETOOLONG, "the %s at byte %zu nests containers more than %u deep", what(c, at),
                             at, c->max_depth);
    return 0;
}

static int nomem(conv_t *c, size_t at)
{
    return ac_errmsg_set(c->err, -AC_ENOMEM, "out of memory converting the %s at byte %zu", what(c, at), at);
}

/* ---- scalars --------------------------------------------------------------------------------------------------- */

/* Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), as Erlang's unicode module
 * and jansson both require. Counts the characters into *chars. */
static bool utf8_valid(const unsigned char *s, size_t n, size_t *chars)
{
    size_t i = 0, count = 0;

    while (i < n) {
        unsigned b = s[i], more;
        uint32_t cp, min;
        if (b < 0x80) {
            i++;
            count++;
            continue;
        }
        if ((b & 0xE0) == 0xC0) {
            more = 1, cp = b & 0x1F, min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            more = 2, cp = b & 0x0F, min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            more = 3, cp = b & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i - 1 < more)
            return false;
        for (unsigned k = 1; k <= more; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += more + 1;
        count++;
    }
    *chars = count;
    return true;
}

/* Reads the integer whose tag (at byte `at`) has been consumed. Bignums must fit int64 (see the header). */
static int read_integer(conv_t *c, uint8_t tag, size_t at, int64_t *v)
{
    uint32_t n = 0, u32;
    uint8_t u8, sign;
    uint64_t mag = 0;
    bool too_big = false;
    int ret;

    switch (tag) {
    case ERL_SMALL_INTEGER_EXT:
        if ((ret = rd_u8(c, at, &u8)) == 0)
            *v = u8;
        return ret;
    case ERL_INTEGER_EXT:
        if ((ret = rd_u32(c, at, &u32)) == 0)
            *v = u32 > INT32_MAX ? (int64_t)u32 - ((int64_t)1 << 32) : (int64_t)u32;
        return ret;
    case ERL_SMALL_BIG_EXT:
        if ((ret = rd_u8(c, at, &u8)) < 0)
            return ret;
        n = u8;
        break;
    default:
        if ((ret = rd_u32(c, at, &n)) < 0)
            return ret;
        break;
    }
    if ((ret = rd_u8(c, at, &sign)) < 0 || (ret = need(c, n, at)) < 0)
        return ret;
    if (sign > 1)
        return ac_errmsg_set(c->err, -AC_EINVAL, "malformed integer at byte %zu: sign byte %u", at, sign);
    /* Digits are little-endian; any non-zero digit past the eighth puts the value beyond 64 bits. */
    for (uint32_t i = 0; i < n; i++) {
        unsigned d = c->buf[c->pos + i];
        if (i < 8)
            mag |= (uint64_t)d << (8 * i);
        else if (d != 0)
            too_big = true;
    }
    c->pos += n;
    if (too_big || mag > (uint64_t)INT64_MAX + sign)
        return ac_errmsg_set(
            c->err, -AC_EINVAL,
            "integer at byte %zu does not fit in 64 bits (bignums beyond int64 have no JSON form here)", at);
    if (sign == 0)
        *v = (int64_t)mag;
    else
        *v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    return 0;
}

static int read_float(conv_t *c, uint8_t tag, size_t at, double *v)
{
    int ret;

    if (tag == NEW_FLOAT_EXT) {
        uint64_t bits = 0;
        if ((ret = need(c, 8, at)) < 0)
            return ret;
        for (int i = 0; i < 8; i++)
            bits = bits << 8 | c->buf[c->pos + i];
        c->pos += 8;
        memcpy(v, &bits, sizeof(*v));
    } else {
        /* Old FLOAT_EXT: printf text in 31 bytes, padded with NULs. Parsed from a terminated copy. */
        char text[32], *end = NULL;
        if ((ret = need(c, 31, at)) < 0)
            return ret;
        memcpy(text, c->buf + c->pos, 31);
        text[31] = '\0';
        c->pos += 31;
        *v = strtod(text, &end);
        if (end == text)
            return ac_errmsg_set(c->err, -AC_EINVAL, "malformed float at byte %zu", at);
        for (; end < text + 31; end++)
            if (*end != '\0')
                return ac_errmsg_set(c->err, -AC_EINVAL, "malformed float at byte %zu", at);
    }
    if (!isfinite(*v))
        return ac_errmsg_set(c->err, -AC_EINVAL, "float at byte %zu is NaN or infinite, which JSON cannot hold", at);
    return 0;
}

/* Reads the atom whose tag has been consumed into c->atom as UTF-8 (c->atom_len bytes). */
static int read_atom(conv_t *c, uint8_t tag, size_t at)
{
    bool latin1 = tag == ERL_ATOM_EXT || tag == ERL_SMALL_ATOM_EXT;
    size_t n, chars, out = 0;
    uint16_t u16;
    uint8_t u8;
    int ret, idx = (int)at;

    if (tag == ERL_SMALL_ATOM_EXT || tag == ERL_SMALL_ATOM_UTF8_EXT) {
        if ((ret = rd_u8(c, at, &u8)) < 0)
            return ret;
        n = u8;
    } else {
        if ((ret = rd_u16(c, at, &u16)) < 0)
            return ret;
        n = u16;
    }
    if ((ret = need(c, n, at)) < 0)
        return ret;
    /* Bounded before ei sees it: Latin-1 doubles at most (510 bytes), UTF-8 is copied; both fit c->atom. */
    if (n > (latin1 ? ATOM_MAX_CHARS : sizeof(c->atom) - 1))
        return ac_errmsg_set(c->err, -AC_EINVAL, "atom at byte %zu is %zu bytes long; atoms hold at most %d characters",
                             at, n, ATOM_MAX_CHARS);
    if (ei_decode_atom_as((const char *)c->buf, &idx, c->atom, (int)sizeof(c->atom), ERLANG_UTF8, NULL, NULL) < 0 ||
        (size_t)idx != c->pos + n)
        return ac_errmsg_set(c->err, -AC_EINVAL, "malformed atom at byte %zu", at);
    for (size_t i = 0; i < n; i++)
        out += latin1 && (c->buf[c->pos + i] & 0x80) ? 2 : 1;
    c->pos += n;
    if (!utf8_valid((const unsigned char *)c->atom, out, &chars) || chars > ATOM_MAX_CHARS)
        return ac_errmsg_set(c->err, -AC_EINVAL, "atom at byte %zu is not valid UTF-8 of at most %d characters", at,
                             ATOM_MAX_CHARS);
    c->atom_len = out;
    return 0;
}

/* Reads a BINARY_EXT body (tag consumed) that must be UTF-8; points *s into the input. */
static int read_utf8_binary(conv_t *c, size_t at, const char **s, size_t *n)
{
    uint32_t len;
    size_t chars;
    int ret;

    if ((ret = rd_u32(c, at, &len)) < 0 || (ret = need(c, len, at)) < 0)
        return ret;
    if (!utf8_valid(c->buf + c->pos, len, &chars))
        return ac_errmsg_set(c->err, -AC_EINVAL,
                             "binary at byte %zu is not valid UTF-8 (only UTF-8 binaries become JSON strings)", at);
    *s = (const char *)c->buf + c->pos;
    *n = len;
    c->pos += len;
    return 0;
}

static int make_string(conv_t *c, const char *s, size_t n, size_t at, json_t **out)
{
    int ret;

    if ((ret = budget_string(c, n, at)) < 0)
        return ret;
    /* Validated above; jansson's own check would turn a mismatch into a NULL we would misreport as ENOMEM. */
    if ((*out = json_stringn_nocheck(s, n)) == NULL)
        return nomem(c, at);
    return 0;
}

/* ---- containers ------------------------------------------------------------------------------------------------ */

static int convert(conv_t *c, unsigned depth, json_t **out);

/* Appends the n elements of a term sequence (list or tuple body) to arr. */
static int append_terms(conv_t *c, unsigned depth, json_t *arr, uint32_t n, size_t at)
{
    json_t *v = NULL;
    int ret;

    /* Every element takes at least one byte: a count the input cannot hold is refused before any work. */
    if ((ret = need(c, n, at)) < 0 || (ret = budget_terms(c, n, at, false)) < 0)
        return ret;
    for (uint32_t i = 0; i < n; i++) {
        if ((ret = convert(c, depth + 1, &v)) < 0)
            return ret;
        if (json_array_append_new(arr, v) != 0)
            return nomem(c, at);
    }
    return 0;
}

/* Appends the bytes of a STRING_EXT body (tag consumed) as integers. */
static int append_chars(conv_t *c, json_t *arr, size_t at)
{
    uint16_t n;
    int ret;

    if ((ret = rd_u16(c, at, &n)) < 0 || (ret = need(c, n, at)) < 0 || (ret = budget_terms(c, n, at, true)) < 0)
        return ret;
    for (uint16_t i = 0; i < n; i++)
        if (json_array_append_new(arr, json_integer(c->buf[c->pos + i])) != 0)
            return nomem(c, at);
    c->pos += n;
    return 0;
}

/* LIST_EXT (tag consumed). A tail that is itself a list ([1 | [2]], which binary_to_term accepts) is followed; any
 * other tail makes an improper list. */
static int convert_list(conv_t *c, unsigned depth, json_t *arr, size_t at)
{
    uint32_t n;
    uint8_t tag;
    size_t tail_at;
    int ret;

    for (;;) {
        if ((ret = rd_u32(c, at, &n)) < 0 || (ret = append_terms(c, depth, arr, n, at)) < 0)
            return ret;
        tail_at = c->pos;
        if ((ret = rd_u8(c, at, &tag)) < 0)
            return ret;
        if (tag == ERL_NIL_EXT)
            return 0;
        if (tag == ERL_STRING_EXT)
            return append_chars(c, arr, tail_at);
        if (tag != ERL_LIST_EXT)
            return ac_errmsg_set(
                c->err, -AC_EINVAL,
                "cannot convert an improper list to JSON: the list at byte %zu ends in a %s at byte %zu", at,
                tag_name(tag), tail_at);
    }
}

/* A map key (binary, atom or integer) as a JSON string. */
static int convert_key(conv_t *c, json_t **out)
{
    size_t at = c->pos, n;
    const char *s;
    char num[24];
    int64_t v;
    uint8_t tag;
    int ret;

    if ((ret = budget_terms(c, 1, at, true)) < 0 || (ret = rd_u8(c, at, &tag)) < 0)
        return ret;
    switch (tag) {
    case ERL_BINARY_EXT:
        if ((ret = read_utf8_binary(c, at, &s, &n)) < 0)
            return ret;
        return make_string(c, s, n, at, out);
    case ERL_ATOM_EXT:
    case ERL_SMALL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT:
        if ((ret = read_atom(c, tag, at)) < 0)
            return ret;
        return make_string(c, c->atom, c->atom_len, at, out);
    case ERL_SMALL_INTEGER_EXT:
    case ERL_INTEGER_EXT:
    case ERL_SMALL_BIG_EXT:
    case ERL_LARGE_BIG_EXT:
        if ((ret = read_integer(c, tag, at, &v)) < 0)
            return ret;
        n = (size_t)snprintf(num, sizeof(num), "%" PRId64, v);
        return make_string(c, num, n, at, out);
    default:
        return ac_errmsg_set(c->err, -AC_EINVAL,
                             "cannot convert a map key of type %s (at byte %zu) to JSON: only binaries, atoms and "
                             "integers can be keys",
                             tag_name(tag), at);
    }
}

/* MAP_EXT (tag consumed). */
static int convert_map(conv_t *c, unsigned depth, json_t *obj, size_t at)
{
    json_t *key = NULL, *v = NULL;
    uint32_t n;
    size_t key_at;
    int ret;

    if ((ret = rd_u32(c, at, &n)) < 0 || (ret = need(c, 2 * (uint64_t)n, at)) < 0 ||
        (ret = budget_terms(c, 2 * (uint64_t)n, at, false)) < 0)
        return ret;
    for (uint32_t i = 0; i < n; i++) {
        key_at = c->pos;
        if ((ret = convert_key(c, &key)) < 0 || (ret = convert(c, depth + 1, &v)) < 0)
            goto Exit;
        /* jansson's parser refuses NUL in keys, and code that walks objects sees keys as C strings: "a" and
         * "a\0b" would look alike there. */
        if (memchr(json_string_value(key), '\0', json_string_length(key)) != NULL) {
            ret = ac_errmsg_set(c->err, -AC_EINVAL,
                                "cannot convert the map at byte %zu to JSON: its key at byte %zu contains a NUL "
                                "character, which JSON object keys here cannot hold",
                                at, key_at);
            goto Exit;
        }
        if (json_object_getn(obj, json_string_value(key), json_string_length(key)) != NULL) {
            ret = ac_errmsg_set(c->err, -AC_EINVAL,
                                "cannot convert the map at byte %zu to JSON: its key at byte %zu becomes the same "
                                "JSON key as an earlier one",
                                at, key_at);
            goto Exit;
        }
        ret = json_object_setn_new_nocheck(obj, json_string_value(key), json_string_length(key), v);
        v = NULL; /* taken by jansson, even on failure */
        json_decref(key);
        key = NULL;
        if (ret != 0) {
            ret = nomem(c, at);
            goto Exit;
        }
    }
    ret = 0;

Exit:
    json_decref(key);
    json_decref(v);
    return ret;
}

static int convert_container(conv_t *c, unsigned depth, uint8_t tag, size_t at, json_t **out)
{
    json_t *j = NULL;
    uint32_t n;
    uint8_t u8;
    int ret;

    if ((ret = enter(c, depth, at)) < 0)
        return ret;
    if ((j = tag == ERL_MAP_EXT ? json_object() : json_array()) == NULL)
        return nomem(c, at);
    switch (tag) {
    case ERL_NIL_EXT: ret = 0; break;
    case ERL_STRING_EXT: ret = append_chars(c, j, at); break;
    case ERL_LIST_EXT: ret = convert_list(c, depth, j, at); break;
    case ERL_MAP_EXT: ret = convert_map(c, depth, j, at); break;
    case ERL_SMALL_TUPLE_EXT:
        if ((ret = rd_u8(c, at, &u8)) == 0)
            ret = append_terms(c, depth, j, u8, at);
        break;
    default: /* ERL_LARGE_TUPLE_EXT */
        if ((ret = rd_u32(c, at, &n)) == 0)
            ret = append_terms(c, depth, j, n, at);
        break;
    }
    if (ret < 0) {
        json_decref(j);
        return ret;
    }
    *out = j;
    return 0;
}

/* Converts the term at c->pos, `depth` containers deep. On failure *out is left alone and nothing is leaked. */
static int convert(conv_t *c, unsigned depth, json_t **out)
{
    size_t at = c->pos, n;
    const char *s;
    int64_t i;
    double d;
    uint8_t tag;
    int ret;

    if (at >= c->len)
        return ac_errmsg_set(c->err, -AC_EINVAL, "truncated term: a term expected at byte %zu", at);
    if ((ret = budget_terms(c, 1, at, true)) < 0)
        return ret;
    tag = c->buf[c->pos++];
    switch (tag) {
    case ERL_SMALL_INTEGER_EXT:
    case ERL_INTEGER_EXT:
    case ERL_SMALL_BIG_EXT:
    case ERL_LARGE_BIG_EXT:
        if ((ret = read_integer(c, tag, at, &i)) < 0)
            return ret;
        *out = json_integer(i);
        break;
    case NEW_FLOAT_EXT:
    case ERL_FLOAT_EXT:
        if ((ret = read_float(c, tag, at, &d)) < 0)
            return ret;
        *out = json_real(d);
        break;
    case ERL_ATOM_EXT:
    case ERL_SMALL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT:
        if ((ret = read_atom(c, tag, at)) < 0)
            return ret;
        if (c->atom_len == 4 && memcmp(c->atom, "true", 4) == 0)
            *out = json_true();
        else if (c->atom_len == 5 && memcmp(c->atom, "false", 5) == 0)
            *out = json_false();
        else if (c->atom_len == 3 && memcmp(c->atom, "nil", 3) == 0)
            *out = json_null();
        else
            return make_string(c, c->atom, c->atom_len, at, out);
        break;
    case ERL_BINARY_EXT:
        if ((ret = read_utf8_binary(c, at, &s, &n)) < 0)
            return ret;
        return make_string(c, s, n, at, out);
    case ERL_NIL_EXT:
    case ERL_STRING_EXT:
    case ERL_LIST_EXT:
    case ERL_SMALL_TUPLE_EXT:
    case ERL_LARGE_TUPLE_EXT:
    case ERL_MAP_EXT: return convert_container(c, depth, tag, at, out);
    case ERL_BIT_BINARY_EXT:
        return ac_errmsg_set(
            c->err, -AC_EINVAL,
            "cannot convert a bitstring (at byte %zu) to JSON: its size is not a whole number of bytes", at);
    case ERL_PID_EXT:
    case ERL_NEW_PID_EXT:
    case ERL_REFERENCE_EXT:
    case ERL_NEW_REFERENCE_EXT:
    case ERL_NEWER_REFERENCE_EXT:
    case ERL_PORT_EXT:
    case ERL_NEW_PORT_EXT:
    case ERL_V4_PORT_EXT:
    case ERL_NEW_FUN_EXT:
    case ERL_FUN_EXT:
    case ERL_EXPORT_EXT:
    case TAG_COMPRESSED:
    case TAG_ATOM_CACHE_REF:
        return ac_errmsg_set(c->err, -AC_EINVAL, "cannot convert a %s (at byte %zu) to JSON", tag_name(tag), at);
    default: return ac_errmsg_set(c->err, -AC_EINVAL, "malformed term: unknown tag %u at byte %zu", tag, at);
    }
    if (*out == NULL)
        return nomem(c, at);
    return 0;
}

int ac_dist_term_to_json(const char *buf, int len, int *index, const ac_dist_term_limits_t *lim, json_t **out,
                         ac_errmsg_t *err)
{
    conv_t c = {0};
    json_t *j = NULL;
    int ret;

    if (out != NULL)
        *out = NULL;
    if (out == NULL || index == NULL || len < 0 || (buf == NULL && len > 0) || *index < 0 || *index > len)
        return ac_errmsg_set(err, -AC_EINVAL, "invalid arguments to ac_dist_term_to_json");
    c.buf = (const unsigned char *)buf;
    c.len = (size_t)len;
    c.pos = (size_t)*index;
    c.err = err;
    c.max_depth = lim != NULL && lim->max_depth != 0 ? lim->max_depth : AC_DIST_TERM_MAX_DEPTH;
    if (c.max_depth > AC_DIST_TERM_DEPTH_CAP)
        c.max_depth = AC_DIST_TERM_DEPTH_CAP;
    c.max_elements = lim != NULL && lim->max_elements != 0 ? lim->max_elements : AC_DIST_TERM_MAX_ELEMENTS;
    c.max_string_bytes =
        lim != NULL && lim->max_string_bytes != 0 ? lim->max_string_bytes : AC_DIST_TERM_MAX_STRING_BYTES;
    if ((ret = convert(&c, 0, &j)) < 0)
        return ret;
    *index = (int)c.pos;
    *out = j;
    return 0;
}

/* ---- JSON -> term ---------------------------------------------------------------------------------------------- */

static int encode(const json_t *j, ei_x_buff *x, unsigned depth, ac_errmsg_t *err);

static int enc_fail(ac_errmsg_t *err)
{
    return ac_errmsg_set(err, -AC_ENOMEM, "out of memory encoding a term");
}

static int encode_container(const json_t *j, ei_x_buff *x, unsigned depth, ac_errmsg_t *err)
{
    size_t n = json_is_object(j) ? json_object_size(j) : json_array_size(j);
    int ret;

    if (depth >= AC_DIST_TERM_MAX_DEPTH)
        return ac_errmsg_set(err, -AC_ETOOLONG, "JSON value nests containers more than %d deep",
                             AC_DIST_TERM_MAX_DEPTH);
    if (n > UINT32_MAX)
        return ac_errmsg_set(err, -AC_ETOOLONG, "JSON container with %zu entries is too large for a term", n);
    if (json_is_array(j)) {
        if (n > 0 && ei_x_encode_list_header(x, (long)n) < 0)
            return enc_fail(err);
        for (size_t i = 0; i < n; i++)
            if ((ret = encode(json_array_get(j, i), x, depth + 1, err)) < 0)
                return ret;
        return ei_x_encode_empty_list(x) < 0 ? enc_fail(err) : 0;
    }
    if (ei_x_encode_map_header(x, (long)n) < 0)
        return enc_fail(err);
    /* jansson's iterators take a non-const object; they do not modify it. */
    for (void *it = json_object_iter((json_t *)j); it != NULL; it = json_object_iter_next((json_t *)j, it)) {
        size_t klen = json_object_iter_key_len(it);
        if (klen > INT32_MAX)
            return ac_errmsg_set(err, -AC_ETOOLONG, "JSON object key of %zu bytes is too long for a term", klen);
        if (ei_x_encode_binary(x, json_object_iter_key(it), (int)klen) < 0)
            return enc_fail(err);
        if ((ret = encode(json_object_iter_value(it), x, depth + 1, err)) < 0)
            return ret;
    }
    return 0;
}

static int encode(const json_t *j, ei_x_buff *x, unsigned depth, ac_errmsg_t *err)
{
    size_t n;
    double d;
    int ret;

    if (j == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "no JSON value to encode");
    switch (json_typeof(j)) {
    case JSON_OBJECT:
    case JSON_ARRAY: return encode_container(j, x, depth, err);
    case JSON_STRING:
        n = json_string_length(j);
        if (n > INT32_MAX)
            return ac_errmsg_set(err, -AC_ETOOLONG, "JSON string of %zu bytes is too long for a term", n);
        ret = ei_x_encode_binary(x, json_string_value(j), (int)n);
        break;
    case JSON_INTEGER: ret = ei_x_encode_longlong(x, json_integer_value(j)); break;
    case JSON_REAL:
        if (!isfinite(d = json_real_value(j)))
            return ac_errmsg_set(err, -AC_EINVAL, "JSON real is NaN or infinite");
        ret = ei_x_encode_double(x, d);
        break;
    case JSON_TRUE: ret = ei_x_encode_atom(x, "true"); break;
    case JSON_FALSE: ret = ei_x_encode_atom(x, "false"); break;
    case JSON_NULL: ret = ei_x_encode_atom(x, "nil"); break;
    default: return ac_errmsg_set(err, -AC_EINVAL, "unknown JSON type %d", (int)json_typeof(j));
    }
    return ret < 0 ? enc_fail(err) : 0;
}

int ac_dist_json_to_term(const json_t *j, ei_x_buff *x, ac_errmsg_t *err)
{
    int start, ret;

    if (x == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "invalid arguments to ac_dist_json_to_term");
    start = x->index;
    if ((ret = encode(j, x, 0, err)) < 0)
        x->index = start;
    return ret;
}
