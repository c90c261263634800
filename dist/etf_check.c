/* dist/etf_check.c - the bounded term walk of etf_check.h.
 *
 * Tags and layouts: Erlang's "External Term Format" (erts user's guide). Lengths are big-endian. Containers are
 * walked with an explicit stack (no recursion), so depth is bounded by AC_DIST_ETF_MAX_DEPTH and element counts are
 * bounded by the bytes left (every element takes at least one byte). Besides the compressed and cached forms, the
 * old text float (FLOAT_EXT) and funs are refused: see below. Atoms, node names in pids, ports and references
 * included, must be what a BEAM node accepts: at most 255 characters, and well-formed UTF-8 under the UTF-8 tags (ei
 * copies such bytes as they come, and could not encode them again: a reply naming the pid would be malformed). */
#include "dist/etf_check.h"

#include "policy/utf8.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum {
    NEW_FLOAT_EXT = 70,
    BIT_BINARY_EXT = 77,
    COMPRESSED = 80,
    ATOM_CACHE_REF = 82,
    NEW_PID_EXT = 88,
    NEW_PORT_EXT = 89,
    NEWER_REFERENCE_EXT = 90,
    SMALL_INTEGER_EXT = 97,
    INTEGER_EXT = 98,
    FLOAT_EXT = 99,
    ATOM_EXT = 100,
    REFERENCE_EXT = 101,
    PORT_EXT = 102,
    PID_EXT = 103,
    SMALL_TUPLE_EXT = 104,
    LARGE_TUPLE_EXT = 105,
    NIL_EXT = 106,
    STRING_EXT = 107,
    LIST_EXT = 108,
    BINARY_EXT = 109,
    SMALL_BIG_EXT = 110,
    LARGE_BIG_EXT = 111,
    NEW_FUN_EXT = 112,
    EXPORT_EXT = 113,
    NEW_REFERENCE_EXT = 114,
    SMALL_ATOM_EXT = 115,
    MAP_EXT = 116,
    FUN_EXT = 117,
    ATOM_UTF8_EXT = 118,
    SMALL_ATOM_UTF8_EXT = 119,
    V4_PORT_EXT = 120,
    LOCAL_EXT = 121,
};

typedef struct {
    const unsigned char *b;
    size_t len, pos;
} cur_t;

static int need(cur_t *c, size_t n)
{
    return n <= c->len - c->pos ? 0 : -1;
}

static int u8(cur_t *c, uint32_t *v)
{
    if (need(c, 1) != 0)
        return -1;
    *v = c->b[c->pos++];
    return 0;
}

static int u16(cur_t *c, uint32_t *v)
{
    if (need(c, 2) != 0)
        return -1;
    *v = (uint32_t)c->b[c->pos] << 8 | c->b[c->pos + 1];
    c->pos += 2;
    return 0;
}

static int u32(cur_t *c, uint32_t *v)
{
    if (need(c, 4) != 0)
        return -1;
    *v = (uint32_t)c->b[c->pos] << 24 | (uint32_t)c->b[c->pos + 1] << 16 | (uint32_t)c->b[c->pos + 2] << 8 |
         c->b[c->pos + 3];
    c->pos += 4;
    return 0;
}

static int skip(cur_t *c, size_t n)
{
    if (need(c, n) != 0)
        return -1;
    c->pos += n;
    return 0;
}

/* An atom of tag `tag` (n bytes of text at the cursor): at most 255 characters, and under the UTF-8 tags well-formed
 * UTF-8. Moves the cursor past it. */
static int atom(cur_t *c, uint32_t tag, uint32_t n)
{
    if (need(c, n) != 0)
        return -1;
    const unsigned char *p = c->b + c->pos;
    c->pos += n;
    if (tag == ATOM_EXT || tag == SMALL_ATOM_EXT)
        return n <= 255 ? 0 : -1; /* Latin-1: one byte a character */
    if (!ac_policy_utf8_valid((const char *)p, n))
        return -1;
    uint32_t chars = 0;
    for (uint32_t i = 0; i < n; i++)
        chars += (p[i] & 0xC0) != 0x80;
    return chars <= 255 ? 0 : -1;
}

/* Pending work: how many more terms a container still needs. */
typedef struct {
    uint64_t left;
} frame_t;

int ac_dist_etf_check(const char *buf, size_t len, size_t *index, ac_errmsg_t *err)
{
    cur_t c = {(const unsigned char *)buf, len, *index};
    frame_t stack[AC_DIST_ETF_MAX_DEPTH + 1];
    int depth = 0;
    stack[0].left = 1; /* the one term we check */
    uint32_t tag = 0, n;
    size_t at = c.pos;
    if (c.pos > len)
        goto Bad;
    while (depth >= 0) {
        if (stack[depth].left == 0) {
            depth--;
            continue;
        }
        stack[depth].left--;
        at = c.pos;
        if (u8(&c, &tag) != 0)
            goto Bad;
        uint64_t children = 0;
        switch (tag) {
        case SMALL_INTEGER_EXT:
            if (skip(&c, 1))
                goto Bad;
            break;
        case INTEGER_EXT:
            if (skip(&c, 4))
                goto Bad;
            break;
        case NEW_FLOAT_EXT:
            if (skip(&c, 8))
                goto Bad;
            break;
        /* FLOAT_EXT (99), the pre-R11 text float, falls to the default: peers with NEW_FLOATS (mandatory since OTP 25)
         * never send it, and ei parses its 31 bytes with sscanf, which may read past an unterminated buffer. */
        case ATOM_EXT:
        case ATOM_UTF8_EXT:
            if (u16(&c, &n) || atom(&c, tag, n))
                goto Bad;
            break;
        case SMALL_ATOM_EXT:
        case SMALL_ATOM_UTF8_EXT:
            if (u8(&c, &n) || atom(&c, tag, n))
                goto Bad;
            break;
        case NIL_EXT: break;
        case STRING_EXT:
            if (u16(&c, &n) || skip(&c, n))
                goto Bad;
            break;
        case BINARY_EXT:
            if (u32(&c, &n) || skip(&c, n))
                goto Bad;
            break;
        case BIT_BINARY_EXT: {
            /* the bits used of the last byte: 1 to 8, or 0 for no bytes, as a BEAM node and ei require (ei_skip_term
             * of a list holding a bad one stops there and still returns 0: a span measured by it would be short) */
            uint32_t bits;
            if (u32(&c, &n) || u8(&c, &bits) || (bits == 0) != (n == 0) || bits > 8 || skip(&c, n))
                goto Bad;
            break;
        }
        case SMALL_BIG_EXT:
            if (u8(&c, &n) || skip(&c, 1) || skip(&c, n))
                goto Bad;
            break;
        case LARGE_BIG_EXT:
            if (u32(&c, &n) || skip(&c, 1) || skip(&c, n))
                goto Bad;
            break;
        case SMALL_TUPLE_EXT:
            if (u8(&c, &n))
                goto Bad;
            children = n;
            break;
        case LARGE_TUPLE_EXT:
            if (u32(&c, &n))
                goto Bad;
            children = n;
            break;
        case LIST_EXT:
            if (u32(&c, &n))
                goto Bad;
            children = (uint64_t)n + 1;
            break; /* elements + tail */
        case MAP_EXT:
            if (u32(&c, &n))
                goto Bad;
            children = (uint64_t)n * 2;
            break;
        /* pids, ports and references: a node name (an atom term) then fixed fields */
        case PID_EXT:
        case NEW_PID_EXT:
        case PORT_EXT:
        case NEW_PORT_EXT:
        case V4_PORT_EXT:
        case REFERENCE_EXT:
        case NEW_REFERENCE_EXT:
        case NEWER_REFERENCE_EXT: {
            size_t tail = tag == PID_EXT         ? 9
                          : tag == NEW_PID_EXT   ? 12
                          : tag == PORT_EXT      ? 5
                          : tag == NEW_PORT_EXT  ? 8
                          : tag == V4_PORT_EXT   ? 12
                          : tag == REFERENCE_EXT ? 5
                                                 : 0;
            uint32_t ids = 0;
            if (tag == NEW_REFERENCE_EXT || tag == NEWER_REFERENCE_EXT) {
                if (u16(&c, &ids) || ids > 5)
                    goto Bad;
                tail = (tag == NEW_REFERENCE_EXT ? 1 : 4) + 4 * (size_t)ids;
            }
            /* the node: an atom, checked inline */
            uint32_t at_tag, al;
            if (u8(&c, &at_tag))
                goto Bad;
            if (at_tag == ATOM_EXT || at_tag == ATOM_UTF8_EXT) {
                if (u16(&c, &al) || atom(&c, at_tag, al))
                    goto Bad;
            } else if (at_tag == SMALL_ATOM_EXT || at_tag == SMALL_ATOM_UTF8_EXT) {
                if (u8(&c, &al) || atom(&c, at_tag, al))
                    goto Bad;
            } else {
                goto Bad;
            }
            if (skip(&c, tail))
                goto Bad;
            break;
        }
        /* Funs (NEW_FUN_EXT, EXPORT_EXT, FUN_EXT) fall to the default: nothing we serve takes one, and ei measures a
         * NEW_FUN_EXT one byte longer than its Size field says, so a checked span and ei's idea of it could differ. */
        default: goto Bad; /* COMPRESSED, ATOM_CACHE_REF, LOCAL_EXT and unknown tags */
        }
        if (children > 0) {
            /* every child needs at least one byte: refuse counts the buffer cannot hold */
            if (children > c.len - c.pos + 1)
                goto Bad;
            if (depth + 1 > AC_DIST_ETF_MAX_DEPTH) {
                ac_errmsg_set(err, -AC_EINVAL, "term nested deeper than %d levels at offset %zu", AC_DIST_ETF_MAX_DEPTH,
                              at);
                return -AC_EINVAL;
            }
            stack[++depth].left = children;
        }
    }
    *index = c.pos;
    return 0;
Bad:
    return ac_errmsg_set(err, -AC_EINVAL, "malformed or truncated term (tag %u at offset %zu)", tag, at);
}
