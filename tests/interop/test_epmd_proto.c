/* tests/interop/test_epmd_proto.c - epmd/proto.c: the exact bytes real OTP 25 nodes and epmd exchange (reference
 * erlang-dist.md section 5), round trips, every class of malformed request and response, and the bounded reader. */
#include "epmd/proto.h"
#include "policy/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* ---- helpers ------------------------------------------------------------------------------------------------------ */

static ac_epmd_node_t make_node(const char *name, uint16_t port, uint16_t extra_len)
{
    ac_epmd_node_t n;

    memset(&n, 0, sizeof(n));
    n.port = port;
    n.node_type = AC_EPMD_NODE_TYPE_NORMAL;
    n.protocol = AC_EPMD_PROTOCOL_TCP;
    n.highest = 6;
    n.lowest = 5;
    n.name_len = (uint16_t)strlen(name);
    memcpy(n.name, name, n.name_len + 1u);
    n.extra_len = extra_len;
    for (uint16_t i = 0; i < extra_len; i++)
        n.extra[i] = (uint8_t)(i * 7);
    return n;
}

static void assert_node_equal(const ac_epmd_node_t *a, const ac_epmd_node_t *b)
{
    assert_int_equal(a->port, b->port);
    assert_int_equal(a->node_type, b->node_type);
    assert_int_equal(a->protocol, b->protocol);
    assert_int_equal(a->highest, b->highest);
    assert_int_equal(a->lowest, b->lowest);
    assert_int_equal(a->name_len, b->name_len);
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->extra_len, b->extra_len);
    assert_memory_equal(a->extra, b->extra, a->extra_len);
}

/* Decodes a whole framed request that must be refused with `code`, the tag seen, and a message. */
static void expect_req_refused(const uint8_t *buf, size_t len, int code, uint8_t tag)
{
    ac_epmd_req_t req;
    ac_errmsg_t err = {{0}};

    assert_int_equal(ac_epmd_req_decode(buf, len, &req, &err), code);
    assert_int_equal(req.tag, tag);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(req.node.name_len, 0);
    assert_int_equal(req.node.port, 0);
}

/* A framed ALIVE2_REQ written field by field (no validation), for malformed variants. */
static size_t raw_alive2(uint8_t *buf, uint16_t port, uint16_t hi, uint16_t lo, uint16_t nlen, const char *name,
                         size_t name_bytes, uint16_t elen, size_t extra_bytes)
{
    size_t n = 2;
    buf[n++] = AC_EPMD_ALIVE2_REQ;
    buf[n++] = (uint8_t)(port >> 8);
    buf[n++] = (uint8_t)port;
    buf[n++] = 77;
    buf[n++] = 0;
    buf[n++] = (uint8_t)(hi >> 8);
    buf[n++] = (uint8_t)hi;
    buf[n++] = (uint8_t)(lo >> 8);
    buf[n++] = (uint8_t)lo;
    buf[n++] = (uint8_t)(nlen >> 8);
    buf[n++] = (uint8_t)nlen;
    memcpy(buf + n, name, name_bytes);
    n += name_bytes;
    buf[n++] = (uint8_t)(elen >> 8);
    buf[n++] = (uint8_t)elen;
    memset(buf + n, 0xab, extra_bytes);
    n += extra_bytes;
    buf[0] = (uint8_t)((n - 2) >> 8);
    buf[1] = (uint8_t)(n - 2);
    return n;
}

/* ---- the bounded reader ------------------------------------------------------------------------------------------- */

static void reader_fails_when_too_few_bytes_remain(void **state)
{
    const uint8_t buf[] = {0x12, 0x34, 0x56, 0x78, 0x9a};
    ac_epmd_cur_t cur;
    uint8_t v8 = 0;
    uint16_t v16 = 0;
    uint32_t v32 = 0;
    const uint8_t *p = NULL;

    ac_epmd_cur_init(&cur, buf, 1);
    assert_int_equal(ac_epmd_rd_u16(&cur, &v16), -AC_EAGAIN);
    assert_int_equal(v16, 0);
    assert_int_equal(ac_epmd_cur_left(&cur), 1); /* unchanged */
    assert_int_equal(ac_epmd_rd_u8(&cur, &v8), 0);
    assert_int_equal(v8, 0x12);
    assert_int_equal(ac_epmd_rd_u8(&cur, &v8), -AC_EAGAIN);

    ac_epmd_cur_init(&cur, buf, sizeof(buf));
    assert_int_equal(ac_epmd_rd_u16(&cur, &v16), 0);
    assert_int_equal(v16, 0x1234);
    assert_int_equal(ac_epmd_rd_u32(&cur, &v32), -AC_EAGAIN);
    assert_int_equal(ac_epmd_cur_left(&cur), 3);
    assert_int_equal(ac_epmd_rd_bytes(&cur, 4, &p), -AC_EAGAIN);
    assert_int_equal(ac_epmd_rd_bytes(&cur, 3, &p), 0);
    assert_ptr_equal(p, buf + 2);
    assert_int_equal(ac_epmd_cur_left(&cur), 0);

    ac_epmd_cur_init(&cur, buf + 1, 4);
    assert_int_equal(ac_epmd_rd_u32(&cur, &v32), 0);
    assert_int_equal(v32, 0x3456789a);

    ac_epmd_cur_init(&cur, NULL, 0);
    assert_int_equal(ac_epmd_rd_u8(&cur, &v8), -AC_EAGAIN);
}

/* ---- names ------------------------------------------------------------------------------------------------------- */

static void accepts_valid_names(void **state)
{
    char longest[AC_EPMD_NAME_MAX];
    static const char *ok[] = {"x",
                               "alexclaw",
                               "node_1",
                               "my-node.v2",
                               "rabbitmqcli-123-rabbit",
                               "a+b",
                               "n\xc3\xa9ud",      /* é */
                               "\xe2\x82\xac",     /* € */
                               "\xf0\x9f\x98\x80", /* U+1F600 */
                               "\xc2\xa0x" /* U+00A0, just above the C1 controls */};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(ac_epmd_name_check((const uint8_t *)ok[i], strlen(ok[i])), 0);
    memset(longest, 'a', sizeof(longest));
    assert_int_equal(ac_epmd_name_check((const uint8_t *)longest, sizeof(longest)), 0);
}

static void rejects_bad_names(void **state)
{
    char too_long[AC_EPMD_NAME_MAX + 1];
    static const struct {
        const char *s;
        size_t len;
    } bad[] = {
        {"", 0},
        {"a b", 3},
        {"a@host", 6},
        {"a\nname b at port 1", 18},
        {"a\0b", 3},
        {"tab\t", 4},
        {"a/b", 3},
        {"a'b", 3},
        {"\x7f", 1},
        {"\xc2\x80", 2},         /* U+0080, a C1 control */
        {"\xc2\x9b", 2},         /* U+009B, CSI */
        {"\xc0\x80", 2},         /* overlong NUL */
        {"\xe0\x80\x80", 3},     /* overlong */
        {"\xed\xa0\x80", 3},     /* UTF-16 surrogate */
        {"\xf4\x90\x80\x80", 4}, /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 4},
        {"\xc3", 1}, /* truncated sequence */
        {"\xe2\x82", 2},
        {"\x80", 1}, /* stray continuation byte */
        {"\xc3\x28", 2},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ac_epmd_name_check((const uint8_t *)bad[i].s, bad[i].len), -AC_EINVAL);
    memset(too_long, 'a', sizeof(too_long));
    assert_int_equal(ac_epmd_name_check((const uint8_t *)too_long, sizeof(too_long)), -AC_EINVAL);
    assert_int_equal(ac_epmd_name_check(NULL, 1), -AC_EINVAL);
}

/* ---- exact bytes of reference section 5 ---------------------------------------------------------------------------- */

/* erl -sname x: 78 8577 4d 00 0006 0005 0001 "x" 0000, after the 2-byte length. */
static const uint8_t erl_alive2[] = {0x00, 0x0e, 0x78, 0x85, 0x77, 0x4d, 0x00, 0x00,
                                     0x06, 0x00, 0x05, 0x00, 0x01, 'x',  0x00, 0x00};
/* ei C node: 78 90e9 68 00 0006 0006 0005 "cnode" 0000. */
static const uint8_t ei_alive2[] = {0x00, 0x12, 0x78, 0x90, 0xe9, 0x68, 0x00, 0x00, 0x06, 0x00,
                                    0x06, 0x00, 0x05, 'c',  'n',  'o',  'd',  'e',  0x00, 0x00};

static void decodes_erl_alive2_req(void **state)
{
    ac_epmd_req_t req;
    ac_errmsg_t err = {{0}};
    uint8_t buf[64];

    assert_int_equal(ac_epmd_req_decode(erl_alive2, sizeof(erl_alive2), &req, &err), (int)sizeof(erl_alive2));
    assert_int_equal(req.tag, AC_EPMD_ALIVE2_REQ);
    assert_int_equal(req.node.port, 34167);
    assert_int_equal(req.node.node_type, AC_EPMD_NODE_TYPE_NORMAL);
    assert_int_equal(req.node.protocol, 0);
    assert_int_equal(req.node.highest, 6);
    assert_int_equal(req.node.lowest, 5);
    assert_string_equal(req.node.name, "x");
    assert_int_equal(req.node.name_len, 1);
    assert_int_equal(req.node.extra_len, 0);
    /* and back, byte for byte */
    assert_int_equal(ac_epmd_alive2_req_encode(buf, sizeof(buf), &req.node), (int)sizeof(erl_alive2));
    assert_memory_equal(buf, erl_alive2, sizeof(erl_alive2));
}

static void decodes_ei_alive2_req(void **state)
{
    ac_epmd_req_t req;
    uint8_t buf[64];

    assert_int_equal(ac_epmd_req_decode(ei_alive2, sizeof(ei_alive2), &req, NULL), (int)sizeof(ei_alive2));
    assert_int_equal(req.node.port, 0x90e9);
    assert_int_equal(req.node.node_type, 104);
    assert_int_equal(req.node.highest, 6);
    assert_int_equal(req.node.lowest, 6);
    assert_string_equal(req.node.name, "cnode");
    assert_int_equal(ac_epmd_alive2_req_encode(buf, sizeof(buf), &req.node), (int)sizeof(ei_alive2));
    assert_memory_equal(buf, ei_alive2, sizeof(ei_alive2));
}

static void encodes_alive2_x_resp_as_epmd_25(void **state)
{
    static const uint8_t want[] = {0x76, 0x00, 0x6b, 0x07, 0x57, 0x5e};
    uint8_t buf[8], result = 9;
    uint32_t creation = 0;

    assert_int_equal(ac_epmd_alive2_x_resp_encode(buf, sizeof(buf), 0, 0x6b07575e), 6);
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(ac_epmd_alive2_x_resp_decode(want, sizeof(want), &result, &creation, NULL), 6);
    assert_int_equal(result, 0);
    assert_int_equal(creation, 0x6b07575e);
}

static void encodes_legacy_alive2_resp(void **state)
{
    static const uint8_t want[] = {0x79, 0x01, 0x00, 0x03};
    uint8_t buf[4], result = 0;
    uint16_t creation = 0;

    assert_int_equal(ac_epmd_alive2_resp_encode(buf, sizeof(buf), 1, 3), 4);
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(ac_epmd_alive2_resp_decode(want, sizeof(want), &result, &creation, NULL), 4);
    assert_int_equal(result, 1);
    assert_int_equal(creation, 3);
}

static void encodes_port_please2_req_and_port2_resp(void **state)
{
    /* PORT_PLEASE2_REQ "cnode"; PORT2_RESP 77 00 95dd 68 00 0006 0006 0005 "cnode" 0000; not found 77 01. */
    static const uint8_t req_want[] = {0x00, 0x06, 0x7a, 'c', 'n', 'o', 'd', 'e'};
    static const uint8_t resp_want[] = {0x77, 0x00, 0x95, 0xdd, 0x68, 0x00, 0x00, 0x06, 0x00, 0x06,
                                        0x00, 0x05, 'c',  'n',  'o',  'd',  'e',  0x00, 0x00};
    static const uint8_t missing[] = {0x77, 0x01};
    uint8_t buf[64], result = 9;
    ac_epmd_req_t req;
    ac_epmd_node_t node = make_node("cnode", 0x95dd, 0);

    assert_int_equal(ac_epmd_port_please2_req_encode(buf, sizeof(buf), "cnode", 5), (int)sizeof(req_want));
    assert_memory_equal(buf, req_want, sizeof(req_want));
    assert_int_equal(ac_epmd_req_decode(req_want, sizeof(req_want), &req, NULL), (int)sizeof(req_want));
    assert_int_equal(req.tag, AC_EPMD_PORT_PLEASE2_REQ);
    assert_string_equal(req.node.name, "cnode");
    assert_int_equal(req.node.name_len, 5);

    node.node_type = 104;
    node.lowest = 6;
    assert_int_equal(ac_epmd_port2_resp_encode(buf, sizeof(buf), 0, &node), (int)sizeof(resp_want));
    assert_memory_equal(buf, resp_want, sizeof(resp_want));
    memset(&node, 0, sizeof(node));
    assert_int_equal(ac_epmd_port2_resp_decode(resp_want, sizeof(resp_want), &result, &node, NULL),
                     (int)sizeof(resp_want));
    assert_int_equal(result, 0);
    assert_int_equal(node.port, 0x95dd);
    assert_string_equal(node.name, "cnode");

    assert_int_equal(ac_epmd_port2_resp_encode(buf, sizeof(buf), 1, NULL), 2);
    assert_memory_equal(buf, missing, sizeof(missing));
    assert_int_equal(ac_epmd_port2_resp_decode(missing, sizeof(missing), &result, &node, NULL), 2);
    assert_int_equal(result, 1);
    assert_int_equal(node.port, 0);
}

static void encodes_names_req_and_resp(void **state)
{
    static const uint8_t req_want[] = {0x00, 0x01, 0x6e};
    static const char line[] = "name x at port 34167\n";
    uint8_t buf[64], head[4] = {0x00, 0x00, 0x11, 0x11};
    ac_epmd_req_t req;
    uint32_t epmd_port = 0;
    char name[AC_EPMD_NAME_MAX + 1];
    uint16_t name_len = 0, port = 0;

    assert_int_equal(ac_epmd_names_req_encode(buf, sizeof(buf)), 3);
    assert_memory_equal(buf, req_want, 3);
    assert_int_equal(ac_epmd_req_decode(req_want, 3, &req, NULL), 3);
    assert_int_equal(req.tag, AC_EPMD_NAMES_REQ);

    assert_int_equal(ac_epmd_names_resp_head_encode(buf, sizeof(buf), 4369), 4);
    assert_memory_equal(buf, head, 4);
    assert_int_equal(ac_epmd_names_resp_head_decode(head, 4, &epmd_port), 4);
    assert_int_equal(epmd_port, 4369);
    assert_int_equal(ac_epmd_names_resp_head_decode(head, 3, &epmd_port), -AC_EAGAIN);

    assert_int_equal(ac_epmd_names_resp_line_encode(buf, sizeof(buf), "x", 1, 34167), (int)strlen(line));
    assert_memory_equal(buf, line, strlen(line));
    assert_int_equal(ac_epmd_names_resp_line_decode((const uint8_t *)line, strlen(line), name, &name_len, &port, NULL),
                     (int)strlen(line));
    assert_string_equal(name, "x");
    assert_int_equal(name_len, 1);
    assert_int_equal(port, 34167);
}

/* ---- round trips --------------------------------------------------------------------------------------------------- */

static void round_trips_the_largest_alive2_req(void **state)
{
    char name[AC_EPMD_NAME_MAX + 1];
    uint8_t buf[AC_EPMD_REQ_MAX + 8];
    ac_epmd_req_t req;
    ac_epmd_node_t n;

    memset(name, 'n', AC_EPMD_NAME_MAX);
    name[AC_EPMD_NAME_MAX] = '\0';
    n = make_node(name, 65535, AC_EPMD_EXTRA_MAX);
    n.node_type = AC_EPMD_NODE_TYPE_HIDDEN;
    assert_int_equal(ac_epmd_alive2_req_encode(buf, sizeof(buf), &n), AC_EPMD_REQ_MAX);
    assert_int_equal(ac_epmd_alive2_req_encode(buf, AC_EPMD_REQ_MAX - 1, &n), -AC_ETOOLONG);
    assert_int_equal(ac_epmd_req_decode(buf, AC_EPMD_REQ_MAX, &req, NULL), AC_EPMD_REQ_MAX);
    assert_node_equal(&req.node, &n);
}

static void round_trips_port2_resp_at_every_size(void **state)
{
    static const char *names[] = {"a", "alexclaw", "n\xc3\xa9ud"};
    uint8_t buf[AC_EPMD_PORT2_RESP_MAX];

    for (size_t i = 0; i < 3; i++) {
        for (uint16_t extra = 0; extra <= AC_EPMD_EXTRA_MAX; extra += 341) {
            ac_epmd_node_t n = make_node(names[i], (uint16_t)(1000 + extra), extra), back;
            uint8_t result = 9;
            int len = ac_epmd_port2_resp_encode(buf, sizeof(buf), 0, &n);
            assert_true(len > 0);
            assert_int_equal(ac_epmd_port2_resp_decode(buf, (size_t)len, &result, &back, NULL), len);
            assert_int_equal(result, 0);
            assert_node_equal(&back, &n);
            /* every proper prefix asks for more */
            for (int k = 0; k < len; k++)
                assert_int_equal(ac_epmd_port2_resp_decode(buf, (size_t)k, &result, &back, NULL), -AC_EAGAIN);
        }
    }
}

static void decodes_back_to_back_requests_one_at_a_time(void **state)
{
    uint8_t buf[128];
    size_t len = 0;
    ac_epmd_req_t req;
    int n;

    memcpy(buf, erl_alive2, sizeof(erl_alive2));
    len += sizeof(erl_alive2);
    len += (size_t)ac_epmd_names_req_encode(buf + len, sizeof(buf) - len);
    buf[len++] = 0x00; /* the start of a third */

    assert_int_equal(n = ac_epmd_req_decode(buf, len, &req, NULL), (int)sizeof(erl_alive2));
    assert_int_equal(req.tag, AC_EPMD_ALIVE2_REQ);
    assert_int_equal(ac_epmd_req_decode(buf + n, len - (size_t)n, &req, NULL), 3);
    assert_int_equal(req.tag, AC_EPMD_NAMES_REQ);
    assert_int_equal(ac_epmd_req_decode(buf + n + 3, 1, &req, NULL), -AC_EAGAIN);
}

static void recognises_admin_requests(void **state)
{
    static const uint8_t dump[] = {0, 1, 100}, kill[] = {0, 1, 107}, stop[] = {0, 4, 115, 'a', 'b', 'c'};
    ac_epmd_req_t req;

    assert_int_equal(ac_epmd_req_decode(dump, sizeof(dump), &req, NULL), 3);
    assert_int_equal(req.tag, AC_EPMD_DUMP_REQ);
    assert_int_equal(ac_epmd_req_decode(kill, sizeof(kill), &req, NULL), 3);
    assert_int_equal(req.tag, AC_EPMD_KILL_REQ);
    assert_int_equal(ac_epmd_req_decode(stop, sizeof(stop), &req, NULL), 6);
    assert_int_equal(req.tag, AC_EPMD_STOP_REQ);
}

/* ---- malformed requests ------------------------------------------------------------------------------------------ */

static void asks_for_more_until_a_request_is_complete(void **state)
{
    ac_epmd_req_t req;
    ac_errmsg_t err = {{0}};

    for (size_t k = 0; k < sizeof(erl_alive2); k++) {
        assert_int_equal(ac_epmd_req_decode(erl_alive2, k, &req, &err), -AC_EAGAIN);
        assert_string_equal(err.msg, "");
    }
}

static void rejects_bad_framing(void **state)
{
    static const uint8_t empty[] = {0x00, 0x00, 0x6e};
    static const uint8_t huge[] = {0xff, 0xff, 0x78};
    static const uint8_t unknown[] = {0x00, 0x01, 0x61}; /* ALIVE_REQ 'a', long gone */
    uint8_t just_over[3] = {(AC_EPMD_REQ_BODY_MAX + 1) >> 8, (AC_EPMD_REQ_BODY_MAX + 1) & 0xff, 0x78};

    expect_req_refused(empty, sizeof(empty), -AC_EINVAL, 0);
    expect_req_refused(huge, sizeof(huge), -AC_ETOOLONG, 0);
    expect_req_refused(just_over, 2, -AC_ETOOLONG, 0); /* known from the length alone */
    expect_req_refused(unknown, sizeof(unknown), -AC_ETYPE, 0x61);
}

static void rejects_malformed_alive2_req(void **state)
{
    uint8_t buf[AC_EPMD_REQ_MAX + 64];
    char name256[AC_EPMD_NAME_MAX + 1];
    size_t n;

    memset(name256, 'a', sizeof(name256));
    /* well-formed, for reference */
    n = raw_alive2(buf, 4000, 6, 5, 1, "x", 1, 0, 0);
    assert_int_equal(ac_epmd_req_decode(buf, n, &(ac_epmd_req_t){0}, NULL), (int)n);
    /* Nlen 0, Nlen over the limit, Nlen past the end of the body */
    n = raw_alive2(buf, 4000, 6, 5, 0, "", 0, 0, 0);
    expect_req_refused(buf, n, -AC_EINVAL, AC_EPMD_ALIVE2_REQ);
    n = raw_alive2(buf, 4000, 6, 5, 256, name256, 256, 0, 0);
    expect_req_refused(buf, n, -AC_EINVAL, AC_EPMD_ALIVE2_REQ);
    n = raw_alive2(buf, 4000, 6, 5, 9, "abc", 3, 0, 0);
    expect_req_refused(buf, n, -AC_EINVAL, AC_EPMD_ALIVE2_REQ);
    /* a forbidden character */
    n = raw_alive2(buf, 4000, 6, 5, 3, "a b", 3, 0, 0);
    expect_req_refused(buf, n, -AC_EINVAL, AC_EPMD_ALIVE2_REQ);
    n = raw_alive2(buf, 4000, 6, 5, 3, "a\nb", 3, 0, 0);
    expect_req_refused(buf, n, -AC_EINVAL, AC_EPMD_ALIVE2_REQ);
    /* Elen over the limit (even when the bytes are there), Elen past the end */
    n = raw_alive2(buf, 4000, 6, 5, 1, "x", 1, AC_EPMD_EXTRA_MAX + 1, 0);
    expect_req_refused(buf, n, -AC_EINVAL, AC_EPMD_ALIVE2_REQ);
    n = raw_alive2(buf, 4000, 6, 5, 1, "x", 1, 10, 4);
    expect_req_refused(buf, n, -AC_EINVAL, AC_EPMD_ALIVE2_REQ);
    /* trailing bytes inside the body */
    n = raw_alive2(buf, 4000, 6, 5, 1, "x", 1, 0, 3);
    expect_req_refused(buf, n, -AC_EINVAL, AC_EPMD_ALIVE2_REQ);
    /* port 0; versions the wrong way round */
    n = raw_alive2(buf, 0, 6, 5, 1, "x", 1, 0, 0);
    expect_req_refused(buf, n, -AC_EINVAL, AC_EPMD_ALIVE2_REQ);
    n = raw_alive2(buf, 4000, 5, 6, 1, "x", 1, 0, 0);
    expect_req_refused(buf, n, -AC_EINVAL, AC_EPMD_ALIVE2_REQ);
    /* the body cut short in every fixed field (the length prefix says so too) */
    for (uint8_t body = 1; body < 11; body++) {
        uint8_t cut[16];
        memcpy(cut, erl_alive2, sizeof(erl_alive2));
        cut[1] = body;
        expect_req_refused(cut, 2u + body, -AC_EINVAL, AC_EPMD_ALIVE2_REQ);
    }
}

static void rejects_malformed_short_requests(void **state)
{
    static const uint8_t names_long[] = {0x00, 0x02, 0x6e, 0x00};
    static const uint8_t kill_long[] = {0x00, 0x03, 0x6b, 'x', 'y'};
    static const uint8_t pp_empty[] = {0x00, 0x01, 0x7a};
    static const uint8_t pp_bad[] = {0x00, 0x04, 0x7a, 'a', 0x00, 'b'};
    uint8_t pp_long[2 + 1 + AC_EPMD_NAME_MAX + 1];

    expect_req_refused(names_long, sizeof(names_long), -AC_EINVAL, AC_EPMD_NAMES_REQ);
    expect_req_refused(kill_long, sizeof(kill_long), -AC_EINVAL, AC_EPMD_KILL_REQ);
    expect_req_refused(pp_empty, sizeof(pp_empty), -AC_EINVAL, AC_EPMD_PORT_PLEASE2_REQ);
    expect_req_refused(pp_bad, sizeof(pp_bad), -AC_EINVAL, AC_EPMD_PORT_PLEASE2_REQ);
    pp_long[0] = (1 + AC_EPMD_NAME_MAX + 1) >> 8;
    pp_long[1] = (1 + AC_EPMD_NAME_MAX + 1) & 0xff;
    pp_long[2] = AC_EPMD_PORT_PLEASE2_REQ;
    memset(pp_long + 3, 'a', AC_EPMD_NAME_MAX + 1);
    expect_req_refused(pp_long, sizeof(pp_long), -AC_EINVAL, AC_EPMD_PORT_PLEASE2_REQ);
}

static void body_decoders_check_their_tag(void **state)
{
    ac_epmd_node_t node;
    char name[AC_EPMD_NAME_MAX + 1];
    uint16_t name_len;
    ac_errmsg_t err = {{0}};

    assert_int_equal(ac_epmd_alive2_req_decode(ei_alive2 + 2, sizeof(ei_alive2) - 2, &node, &err), 0);
    assert_int_equal(ac_epmd_alive2_req_decode((const uint8_t *)"zabc", 4, &node, &err), -AC_EINVAL);
    assert_int_equal(ac_epmd_alive2_req_decode(NULL, 0, &node, &err), -AC_EINVAL);
    assert_int_equal(ac_epmd_port_please2_req_decode((const uint8_t *)"xabc", 4, name, &name_len, &err), -AC_EINVAL);
    assert_int_equal(ac_epmd_port_please2_req_decode((const uint8_t *)"zabc", 4, name, &name_len, &err), 0);
    assert_string_equal(name, "abc");
}

/* ---- encoders refuse what decoders would ------------------------------------------------------------------------- */

static void encoders_refuse_invalid_input_and_small_buffers(void **state)
{
    uint8_t buf[AC_EPMD_PORT2_RESP_MAX];
    ac_epmd_node_t n = make_node("ok", 1, 0);

    n.port = 0;
    assert_int_equal(ac_epmd_alive2_req_encode(buf, sizeof(buf), &n), -AC_EINVAL);
    assert_int_equal(ac_epmd_port2_resp_encode(buf, sizeof(buf), 0, &n), -AC_EINVAL);
    n = make_node("ok", 1, 0);
    n.lowest = 7;
    assert_int_equal(ac_epmd_alive2_req_encode(buf, sizeof(buf), &n), -AC_EINVAL);
    n = make_node("ok", 1, 0);
    n.extra_len = AC_EPMD_EXTRA_MAX + 1;
    assert_int_equal(ac_epmd_alive2_req_encode(buf, sizeof(buf), &n), -AC_EINVAL);
    n = make_node("a b", 1, 0);
    assert_int_equal(ac_epmd_alive2_req_encode(buf, sizeof(buf), &n), -AC_EINVAL);
    assert_int_equal(ac_epmd_port2_resp_encode(buf, sizeof(buf), 0, NULL), -AC_EINVAL);
    assert_int_equal(ac_epmd_port_please2_req_encode(buf, sizeof(buf), "", 0), -AC_EINVAL);
    assert_int_equal(ac_epmd_names_resp_line_encode(buf, sizeof(buf), "a@b", 3, 1), -AC_EINVAL);
    assert_int_equal(ac_epmd_names_resp_line_encode(buf, sizeof(buf), "ab", 2, 0), -AC_EINVAL);

    n = make_node("cnode", 4000, 3);
    for (size_t cap = 0; cap < 23; cap++) /* 2 + 13 + "cnode" + 3 bytes of Extra */
        assert_int_equal(ac_epmd_alive2_req_encode(buf, cap, &n), -AC_ETOOLONG);
    assert_int_equal(ac_epmd_alive2_req_encode(buf, 23, &n), 23);
    assert_int_equal(ac_epmd_alive2_x_resp_encode(buf, 5, 0, 1), -AC_ETOOLONG);
    assert_int_equal(ac_epmd_alive2_resp_encode(buf, 3, 0, 1), -AC_ETOOLONG);
    assert_int_equal(ac_epmd_port2_resp_encode(buf, 1, 1, NULL), -AC_ETOOLONG);
    assert_int_equal(ac_epmd_names_req_encode(buf, 2), -AC_ETOOLONG);
    assert_int_equal(ac_epmd_names_resp_head_encode(buf, 3, 1), -AC_ETOOLONG);
    assert_int_equal(ac_epmd_names_resp_line_encode(buf, 20, "x", 1, 34167), -AC_ETOOLONG);
    assert_int_equal(ac_epmd_names_resp_line_encode(buf, 21, "x", 1, 34167), 21);
    assert_int_equal(ac_epmd_port_please2_req_encode(buf, 7, "cnode", 5), -AC_ETOOLONG);
}

/* ---- malformed responses ----------------------------------------------------------------------------------------- */

static void response_decoders_want_the_whole_message_and_their_tag(void **state)
{
    static const uint8_t x[] = {0x76, 0x00, 0x00, 0x00, 0x00, 0x09};
    static const uint8_t y[] = {0x79, 0x00, 0x00, 0x02};
    uint8_t result;
    uint32_t c32;
    uint16_t c16;
    ac_epmd_node_t node;
    ac_errmsg_t err = {{0}};

    for (size_t k = 0; k < sizeof(x); k++)
        assert_int_equal(ac_epmd_alive2_x_resp_decode(x, k, &result, &c32, NULL), -AC_EAGAIN);
    for (size_t k = 0; k < sizeof(y); k++)
        assert_int_equal(ac_epmd_alive2_resp_decode(y, k, &result, &c16, NULL), -AC_EAGAIN);
    assert_int_equal(ac_epmd_alive2_x_resp_decode(y, sizeof(y), &result, &c32, &err), -AC_ETYPE);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(ac_epmd_alive2_resp_decode(x, sizeof(x), &result, &c16, NULL), -AC_ETYPE);
    assert_int_equal(ac_epmd_port2_resp_decode(x, sizeof(x), &result, &node, NULL), -AC_ETYPE);
}

static void rejects_malformed_port2_resp(void **state)
{
    /* name with a blank; Nlen 0; Elen over the limit */
    static const uint8_t blank[] = {0x77, 0, 0x10, 0, 77, 0, 0, 6, 0, 5, 0, 3, 'a', ' ', 'b', 0, 0};
    static const uint8_t no_name[] = {0x77, 0, 0x10, 0, 77, 0, 0, 6, 0, 5, 0, 0, 0, 0};
    static const uint8_t big_extra[] = {0x77, 0, 0x10, 0, 77, 0, 0, 6, 0, 5, 0, 1, 'a', 0x04, 0x01};
    uint8_t result = 7;
    ac_epmd_node_t node;
    ac_errmsg_t err = {{0}};

    assert_int_equal(ac_epmd_port2_resp_decode(blank, sizeof(blank), &result, &node, &err), -AC_EINVAL);
    assert_int_equal(ac_epmd_port2_resp_decode(no_name, sizeof(no_name), &result, &node, &err), -AC_EINVAL);
    assert_int_equal(ac_epmd_port2_resp_decode(big_extra, sizeof(big_extra), &result, &node, &err), -AC_EINVAL);
    assert_int_equal(result, 7); /* untouched */
    assert_int_equal(node.port, 0);
}

static void rejects_malformed_names_lines(void **state)
{
    static const char *bad[] = {
        "nam x at port 1\n",
        "name x at port\n",
        "name x at port 0\n",
        "name x at port 65536\n",
        "name x at port 1a\n",
        "name x at port 123456\n",
        "name  at port 1\n",
        "name a b at port 1\n",
        "name x at  port 1\n",
        "name x at port -1\n",
        "\n",
        "name x at port 1 \n",
    };
    char name[AC_EPMD_NAME_MAX + 1];
    uint16_t name_len, port;
    uint8_t longline[AC_EPMD_NAMES_LINE_MAX + 10];
    ac_errmsg_t err = {{0}};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.msg[0] = '\0';
        assert_int_equal(
            ac_epmd_names_resp_line_decode((const uint8_t *)bad[i], strlen(bad[i]), name, &name_len, &port, &err),
            -AC_EINVAL);
        assert_true(err.msg[0] != '\0');
        assert_int_equal(name_len, 0);
    }
    /* no newline yet: more, until the line could not be valid any more */
    assert_int_equal(ac_epmd_names_resp_line_decode((const uint8_t *)"name x at", 9, name, &name_len, &port, NULL),
                     -AC_EAGAIN);
    memset(longline, 'a', sizeof(longline));
    assert_int_equal(ac_epmd_names_resp_line_decode(longline, AC_EPMD_NAMES_LINE_MAX - 1, name, &name_len, &port, NULL),
                     -AC_EAGAIN);
    assert_int_equal(ac_epmd_names_resp_line_decode(longline, AC_EPMD_NAMES_LINE_MAX, name, &name_len, &port, NULL),
                     -AC_EINVAL);
    assert_int_equal(ac_epmd_names_resp_line_decode(NULL, 0, name, &name_len, &port, NULL), -AC_EAGAIN);
}

static void names_line_of_the_longest_name_fits_the_limit(void **state)
{
    char name[AC_EPMD_NAME_MAX + 1], back[AC_EPMD_NAME_MAX + 1];
    uint8_t buf[AC_EPMD_NAMES_LINE_MAX];
    uint16_t name_len = 0, port = 0;

    memset(name, 'z', AC_EPMD_NAME_MAX);
    name[AC_EPMD_NAME_MAX] = '\0';
    assert_int_equal(ac_epmd_names_resp_line_encode(buf, sizeof(buf), name, AC_EPMD_NAME_MAX, 65535),
                     AC_EPMD_NAMES_LINE_MAX);
    assert_int_equal(ac_epmd_names_resp_line_decode(buf, sizeof(buf), back, &name_len, &port, NULL),
                     AC_EPMD_NAMES_LINE_MAX);
    assert_string_equal(back, name);
    assert_int_equal(port, 65535);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reader_fails_when_too_few_bytes_remain),
        cmocka_unit_test(accepts_valid_names),
        cmocka_unit_test(rejects_bad_names),
        cmocka_unit_test(decodes_erl_alive2_req),
        cmocka_unit_test(decodes_ei_alive2_req),
        cmocka_unit_test(encodes_alive2_x_resp_as_epmd_25),
        cmocka_unit_test(encodes_legacy_alive2_resp),
        cmocka_unit_test(encodes_port_please2_req_and_port2_resp),
        cmocka_unit_test(encodes_names_req_and_resp),
        cmocka_unit_test(round_trips_the_largest_alive2_req),
        cmocka_unit_test(round_trips_port2_resp_at_every_size),
        cmocka_unit_test(decodes_back_to_back_requests_one_at_a_time),
        cmocka_unit_test(recognises_admin_requests),
        cmocka_unit_test(asks_for_more_until_a_request_is_complete),
        cmocka_unit_test(rejects_bad_framing),
        cmocka_unit_test(rejects_malformed_alive2_req),
        cmocka_unit_test(rejects_malformed_short_requests),
        cmocka_unit_test(body_decoders_check_their_tag),
        cmocka_unit_test(encoders_refuse_invalid_input_and_small_buffers),
        cmocka_unit_test(response_decoders_want_the_whole_message_and_their_tag),
        cmocka_unit_test(rejects_malformed_port2_resp),
        cmocka_unit_test(rejects_malformed_names_lines),
        cmocka_unit_test(names_line_of_the_longest_name_fits_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
