/* epmd/proto.c - the EPMD codec of proto.h: requests and responses to and from byte buffers, nothing else.
 *
 * Spec: erts user's guide, "Distribution Protocol" > "EPMD Protocol" (erl_dist_protocol.html in erlang-doc); message
 * bytes checked against OTP 25 in reference/erlang-dist.md section 5. Every request is framed as
 *
 *   +--------+---------------------------------------------------------------+
 *   | Len u16| body: Tag u8 | fields ...                          (Len bytes) |
 *   +--------+---------------------------------------------------------------+
 *   ALIVE2_REQ       120 | PortNo u16 | NodeType u8 | Protocol u8 | Highest u16 | Lowest u16 | Nlen u16 | Name | Elen u16
 *                        | Extra
 *   PORT_PLEASE2_REQ 122 | Name                     NAMES_REQ 110      DUMP_REQ 100   KILL_REQ 107   STOP_REQ 115 | Name
 *
 * and responses are bare:
 *
 *   ALIVE2_X_RESP  118 | Result u8 | Creation u32        ALIVE2_RESP 121 | Result u8 | Creation u16 (Highest < 6)
 *   PORT2_RESP     119 | Result u8 [ | PortNo u16 | NodeType u8 | Protocol u8 | Highest u16 | Lowest u16 | Nlen u16
 *                      | Name | Elen u16 | Extra ]      (the bracketed part only when Result is 0)
 *   NAMES_RESP     EPMDPortNo u32 | "name ~ts at port ~p\n"*
 *
 * The input is hostile (any local process, or the network when the daemon listens there), so every read goes through
 * the bounded cursor, lengths are checked against the buffer and against our own limits before anything is copied, and
 * names are held to a small character set (the table below) because they reach logs and the NAMES text. */
#include "epmd/proto.h"

#include <stdbool.h>
#include <string.h>

/* ASCII characters allowed in a node name besides letters and digits (bytes >= 0x80 must form well-formed UTF-8). */
static const char name_punct[] = "_-.+";

/* ---- cursor ------------------------------------------------------------------------------------------------------ */

void ac_epmd_cur_init(ac_epmd_cur_t *cur, const uint8_t *buf, size_t len)
{
    cur->p = buf;
    cur->end = buf != NULL ? buf + len : buf;
}

size_t ac_epmd_cur_left(const ac_epmd_cur_t *cur)
{
    return (size_t)(cur->end - cur->p);
}

int ac_epmd_rd_bytes(ac_epmd_cur_t *cur, size_t n, const uint8_t **out)
{
    if (ac_epmd_cur_left(cur) < n)
        return -AC_EAGAIN;
    *out = cur->p;
    cur->p += n;
    return 0;
}

int ac_epmd_rd_u8(ac_epmd_cur_t *cur, uint8_t *v)
{
    const uint8_t *b;
    if (ac_epmd_rd_bytes(cur, 1, &b) != 0)
        return -AC_EAGAIN;
    *v = b[0];
    return 0;
}

int ac_epmd_rd_u16(ac_epmd_cur_t *cur, uint16_t *v)
{
    const uint8_t *b;
    if (ac_epmd_rd_bytes(cur, 2, &b) != 0)
        return -AC_EAGAIN;
    *v = (uint16_t)((b[0] << 8) | b[1]);
    return 0;
}

int ac_epmd_rd_u32(ac_epmd_cur_t *cur, uint32_t *v)
{
    const uint8_t *b;
    if (ac_epmd_rd_bytes(cur, 4, &b) != 0)
        return -AC_EAGAIN;
    *v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    return 0;
}

/* ---- writer: a bounded buffer that remembers overflow, checked once at the end -------------------------------------- */

typedef struct wr {
    uint8_t *p, *end;
    bool overflow;
} wr_t;

static void wr_bytes(wr_t *w, const void *src, size_t n)
{
    if (w->overflow || (size_t)(w->end - w->p) < n) {
        w->overflow = true;
        return;
    }
    if (n > 0)
        memcpy(w->p, src, n);
    w->p += n;
}

static void wr_u8(wr_t *w, uint8_t v)
{
    wr_bytes(w, &v, 1);
}

static void wr_u16(wr_t *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    wr_bytes(w, b, 2);
}

static void wr_u32(wr_t *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    wr_bytes(w, b, 4);
}

/* Returns the bytes written since start, or -AC_ETOOLONG when anything did not fit. */
static int wr_done(const wr_t *w, const uint8_t *start)
{
    return w->overflow ? -AC_ETOOLONG : (int)(w->p - start);
}

/* ---- names ------------------------------------------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence (above U+009F, so no C1 controls) at s[0..n), or 0. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;

    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        if (c == 0xc2)
            lo = 0xa0;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f; /* no UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

int ac_epmd_name_check(const uint8_t *name, size_t len)
{
    if (name == NULL || len == 0 || len > AC_EPMD_NAME_MAX)
        return -AC_EINVAL;
    for (size_t i = 0; i < len;) {
        uint8_t c = name[i];
        if (c >= 0x80) {
            size_t k = utf8_seq(name + i, len - i);
            if (k == 0)
                return -AC_EINVAL;
            i += k;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c != '\0' && strchr(name_punct, c) != NULL);
        if (!ok)
            return -AC_EINVAL;
        i++;
    }
    return 0;
}

/* ---- node record (shared by ALIVE2_REQ and PORT2_RESP) ----------------------------------------------------------- */

/* Reads PortNo .. Extra into *node. Returns 0, -AC_EAGAIN (truncated) or -AC_EINVAL (refused, err says why). */
static int node_read(ac_epmd_cur_t *cur, ac_epmd_node_t *node, ac_errmsg_t *err)
{
    const uint8_t *name, *extra;
    int ret;

    if ((ret = ac_epmd_rd_u16(cur, &node->port)) != 0 || (ret = ac_epmd_rd_u8(cur, &node->node_type)) != 0 ||
        (ret = ac_epmd_rd_u8(cur, &node->protocol)) != 0 || (ret = ac_epmd_rd_u16(cur, &node->highest)) != 0 ||
        (ret = ac_epmd_rd_u16(cur, &node->lowest)) != 0 || (ret = ac_epmd_rd_u16(cur, &node->name_len)) != 0)
        return ret;
    if (node->name_len == 0 || node->name_len > AC_EPMD_NAME_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "node name length %u is outside 1..%d", node->name_len, AC_EPMD_NAME_MAX);
    if ((ret = ac_epmd_rd_bytes(cur, node->name_len, &name)) != 0)
        return ret;
    if (ac_epmd_name_check(name, node->name_len) != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "node name has a character outside the allowed set");
    if ((ret = ac_epmd_rd_u16(cur, &node->extra_len)) != 0)
        return ret;
    if (node->extra_len > AC_EPMD_EXTRA_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "extra field of %u bytes exceeds %d", node->extra_len, AC_EPMD_EXTRA_MAX);
    if ((ret = ac_epmd_rd_bytes(cur, node->extra_len, &extra)) != 0)
        return ret;
    if (node->port == 0)
        return ac_errmsg_set(err, -AC_EINVAL, "port 0");
    if (node->lowest > node->highest)
        return ac_errmsg_set(err, -AC_EINVAL, "lowest version %u above highest %u", node->lowest, node->highest);
    /* Both bounds are checked above: name_len <= AC_EPMD_NAME_MAX < sizeof(name), extra_len <= sizeof(extra). */
    memcpy(node->name, name, node->name_len);
    node->name[node->name_len] = '\0';
    if (node->extra_len > 0)
        memcpy(node->extra, extra, node->extra_len);
    return 0;
}

/* Whether node would pass node_read() (encoders refuse what our decoders would). */
static bool node_valid(const ac_epmd_node_t *node)
{
    return node->port != 0 && node->lowest <= node->highest && node->extra_len <= AC_EPMD_EXTRA_MAX &&
           ac_epmd_name_check((const uint8_t *)node->name, node->name_len) == 0;
}

static void node_write(wr_t *w, const ac_epmd_node_t *node)
{
    wr_u16(w, node->port);
    wr_u8(w, node->node_type);
    wr_u8(w, node->protocol);
    wr_u16(w, node->highest);
    wr_u16(w, node->lowest);
    wr_u16(w, node->name_len);
    wr_bytes(w, node->name, node->name_len);
    wr_u16(w, node->extra_len);
    wr_bytes(w, node->extra, node->extra_len);
}

/* ---- requests ---------------------------------------------------------------------------------------------------- */

int ac_epmd_alive2_req_decode(const uint8_t *body, size_t len, ac_epmd_node_t *node, ac_errmsg_t *err)
{
    ac_epmd_cur_t cur;
    uint8_t tag = 0;
    int ret;

    memset(node, 0, sizeof(*node));
    ac_epmd_cur_init(&cur, body, len);
    if (ac_epmd_rd_u8(&cur, &tag) != 0 || tag != AC_EPMD_ALIVE2_REQ)
        return ac_errmsg_set(err, -AC_EINVAL, "not an ALIVE2_REQ");
    if ((ret = node_read(&cur, node, err)) != 0) {
        memset(node, 0, sizeof(*node));
        return ret == -AC_EAGAIN ? ac_errmsg_set(err, -AC_EINVAL, "truncated ALIVE2_REQ") : ret;
    }
    if (ac_epmd_cur_left(&cur) != 0) {
        memset(node, 0, sizeof(*node));
        return ac_errmsg_set(err, -AC_EINVAL, "%zu bytes after the end of ALIVE2_REQ", ac_epmd_cur_left(&cur));
    }
    return 0;
}

int ac_epmd_alive2_req_encode(uint8_t *buf, size_t cap, const ac_epmd_node_t *node)
{
    wr_t w = {buf, buf + cap, false};

    if (!node_valid(node))
        return -AC_EINVAL;
    wr_u16(&w, (uint16_t)(13 + node->name_len + node->extra_len));
    wr_u8(&w, AC_EPMD_ALIVE2_REQ);
    node_write(&w, node);
    return wr_done(&w, buf);
}

int ac_epmd_port_please2_req_decode(const uint8_t *body, size_t len, char *name, uint16_t *name_len, ac_errmsg_t *err)
{
    name[0] = '\0';
    *name_len = 0;
    if (len < 1 || body[0] != AC_EPMD_PORT_PLEASE2_REQ)
        return ac_errmsg_set(err, -AC_EINVAL, "not a PORT_PLEASE2_REQ");
    if (ac_epmd_name_check(body + 1, len - 1) != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "PORT_PLEASE2_REQ for an invalid node name (%zu bytes)", len - 1);
    memcpy(name, body + 1, len - 1); /* len - 1 <= AC_EPMD_NAME_MAX, checked by ac_epmd_name_check() */
    name[len - 1] = '\0';
    *name_len = (uint16_t)(len - 1);
    return 0;
}

int ac_epmd_port_please2_req_encode(uint8_t *buf, size_t cap, const char *name, size_t name_len)
{
    wr_t w = {buf, buf + cap, false};

    if (ac_epmd_name_check((const uint8_t *)name, name_len) != 0)
        return -AC_EINVAL;
    wr_u16(&w, (uint16_t)(1 + name_len));
    wr_u8(&w, AC_EPMD_PORT_PLEASE2_REQ);
    wr_bytes(&w, name, name_len);
    return wr_done(&w, buf);
}

int ac_epmd_names_req_encode(uint8_t *buf, size_t cap)
{
    wr_t w = {buf, buf + cap, false};

    wr_u16(&w, 1);
    wr_u8(&w, AC_EPMD_NAMES_REQ);
    return wr_done(&w, buf);
}

int ac_epmd_req_decode(const uint8_t *buf, size_t len, ac_epmd_req_t *req, ac_errmsg_t *err)
{
    ac_epmd_cur_t cur;
    const uint8_t *body;
    uint16_t body_len;
    int ret = 0;

    memset(req, 0, sizeof(*req));
    ac_epmd_cur_init(&cur, buf, len);
    if (ac_epmd_rd_u16(&cur, &body_len) != 0)
        return -AC_EAGAIN;
    if (body_len == 0)
        return ac_errmsg_set(err, -AC_EINVAL, "empty request");
    if (body_len > AC_EPMD_REQ_BODY_MAX)
        return ac_errmsg_set(err, -AC_ETOOLONG, "request of %u bytes exceeds %d", body_len, AC_EPMD_REQ_BODY_MAX);
    if (ac_epmd_rd_bytes(&cur, body_len, &body) != 0)
        return -AC_EAGAIN;
    req->tag = body[0];
    switch (req->tag) {
    case AC_EPMD_ALIVE2_REQ: ret = ac_epmd_alive2_req_decode(body, body_len, &req->node, err); break;
    case AC_EPMD_PORT_PLEASE2_REQ:
        ret = ac_epmd_port_please2_req_decode(body, body_len, req->node.name, &req->node.name_len, err);
        break;
    case AC_EPMD_NAMES_REQ:
    case AC_EPMD_DUMP_REQ:
    case AC_EPMD_KILL_REQ:
        if (body_len != 1)
            ret = ac_errmsg_set(err, -AC_EINVAL, "request %u with %u bytes after its tag", req->tag, body_len - 1u);
        break;
    case AC_EPMD_STOP_REQ: break;
    default: return ac_errmsg_set(err, -AC_ETYPE, "unknown request tag %u", req->tag);
    }
    return ret != 0 ? ret : 2 + body_len;
}

/* ---- responses --------------------------------------------------------------------------------------------------- */

int ac_epmd_alive2_x_resp_encode(uint8_t *buf, size_t cap, uint8_t result, uint32_t creation)
{
    wr_t w = {buf, buf + cap, false};

    wr_u8(&w, AC_EPMD_ALIVE2_X_RESP);
    wr_u8(&w, result);
    wr_u32(&w, creation);
    return wr_done(&w, buf);
}

int ac_epmd_alive2_x_resp_decode(const uint8_t *buf, size_t len, uint8_t *result, uint32_t *creation, ac_errmsg_t *err)
{
    ac_epmd_cur_t cur;
    uint8_t tag, r;
    uint32_t c;

    ac_epmd_cur_init(&cur, buf, len);
    if (ac_epmd_rd_u8(&cur, &tag) != 0)
        return -AC_EAGAIN;
    if (tag != AC_EPMD_ALIVE2_X_RESP)
        return ac_errmsg_set(err, -AC_ETYPE, "expected ALIVE2_X_RESP (118), got %u", tag);
    if (ac_epmd_rd_u8(&cur, &r) != 0 || ac_epmd_rd_u32(&cur, &c) != 0)
        return -AC_EAGAIN;
    *result = r;
    *creation = c;
    return 6;
}

int ac_epmd_alive2_resp_encode(uint8_t *buf, size_t cap, uint8_t result, uint16_t creation)
{
    wr_t w = {buf, buf + cap, false};

    wr_u8(&w, AC_EPMD_ALIVE2_RESP);
    wr_u8(&w, result);
    wr_u16(&w, creation);
    return wr_done(&w, buf);
}

int ac_epmd_alive2_resp_decode(const uint8_t *buf, size_t len, uint8_t *result, uint16_t *creation, ac_errmsg_t *err)
{
    ac_epmd_cur_t cur;
    uint8_t tag, r;
    uint16_t c;

    ac_epmd_cur_init(&cur, buf, len);
    if (ac_epmd_rd_u8(&cur, &tag) != 0)
        return -AC_EAGAIN;
    if (tag != AC_EPMD_ALIVE2_RESP)
        return ac_errmsg_set(err, -AC_ETYPE, "expected ALIVE2_RESP (121), got %u", tag);
    if (ac_epmd_rd_u8(&cur, &r) != 0 || ac_epmd_rd_u16(&cur, &c) != 0)
        return -AC_EAGAIN;
    *result = r;
    *creation = c;
    return 4;
}

int ac_epmd_port2_resp_encode(uint8_t *buf, size_t cap, uint8_t result, const ac_epmd_node_t *node)
{
    wr_t w = {buf, buf + cap, false};

    if (result == AC_EPMD_RESULT_OK && (node == NULL || !node_valid(node)))
        return -AC_EINVAL;
    wr_u8(&w, AC_EPMD_PORT2_RESP);
    wr_u8(&w, result);
    if (result == AC_EPMD_RESULT_OK)
        node_write(&w, node);
    return wr_done(&w, buf);
}

int ac_epmd_port2_resp_decode(const uint8_t *buf, size_t len, uint8_t *result, ac_epmd_node_t *node, ac_errmsg_t *err)
{
    ac_epmd_cur_t cur;
    uint8_t tag, r;
    int ret;

    memset(node, 0, sizeof(*node));
    ac_epmd_cur_init(&cur, buf, len);
    if (ac_epmd_rd_u8(&cur, &tag) != 0)
        return -AC_EAGAIN;
    if (tag != AC_EPMD_PORT2_RESP)
        return ac_errmsg_set(err, -AC_ETYPE, "expected PORT2_RESP (119), got %u", tag);
    if (ac_epmd_rd_u8(&cur, &r) != 0)
        return -AC_EAGAIN;
    if (r == AC_EPMD_RESULT_OK && (ret = node_read(&cur, node, err)) != 0) {
        memset(node, 0, sizeof(*node));
        return ret;
    }
    *result = r;
    return (int)(cur.p - buf);
}

int ac_epmd_names_resp_head_encode(uint8_t *buf, size_t cap, uint32_t epmd_port)
{
    wr_t w = {buf, buf + cap, false};

    wr_u32(&w, epmd_port);
    return wr_done(&w, buf);
}

int ac_epmd_names_resp_head_decode(const uint8_t *buf, size_t len, uint32_t *epmd_port)
{
    ac_epmd_cur_t cur;

    ac_epmd_cur_init(&cur, buf, len);
    return ac_epmd_rd_u32(&cur, epmd_port) != 0 ? -AC_EAGAIN : 4;
}

int ac_epmd_names_resp_line_encode(uint8_t *buf, size_t cap, const char *name, size_t name_len, uint16_t port)
{
    wr_t w = {buf, buf + cap, false};
    char digits[8];
    size_t n = 0;

    if (ac_epmd_name_check((const uint8_t *)name, name_len) != 0 || port == 0)
        return -AC_EINVAL;
    /* Decimal by hand: snprintf would do, but this keeps the codec free of locale and format machinery. */
    do {
        digits[n++] = (char)('0' + port % 10);
        port /= 10;
    } while (port > 0);
    wr_bytes(&w, "name ", 5);
    wr_bytes(&w, name, name_len);
    wr_bytes(&w, " at port ", 9);
    while (n > 0)
        wr_u8(&w, (uint8_t)digits[--n]);
    wr_u8(&w, '\n');
    return wr_done(&w, buf);
}

int ac_epmd_names_resp_line_decode(const uint8_t *buf, size_t len, char *name, uint16_t *name_len, uint16_t *port,
                                   ac_errmsg_t *err)
{
    static const char pre[] = "name ", mid[] = " at port ";
    const size_t pre_len = sizeof(pre) - 1, mid_len = sizeof(mid) - 1;
    const uint8_t *nl = len > 0 ? memchr(buf, '\n', len < AC_EPMD_NAMES_LINE_MAX ? len : AC_EPMD_NAMES_LINE_MAX) : NULL;
    uint32_t value = 0;
    size_t line, digits_at, n;

    name[0] = '\0';
    *name_len = 0;
    *port = 0;
    if (nl == NULL) {
        if (len < AC_EPMD_NAMES_LINE_MAX)
            return -AC_EAGAIN;
        return ac_errmsg_set(err, -AC_EINVAL, "NAMES line longer than %d bytes", AC_EPMD_NAMES_LINE_MAX);
    }
    line = (size_t)(nl - buf); /* without the newline */
    if (line < pre_len || memcmp(buf, pre, pre_len) != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "NAMES line does not start with \"name \"");
    /* The name holds no blank (ac_epmd_name_check), so the first " at port " after it ends it. */
    for (digits_at = pre_len; digits_at + mid_len <= line; digits_at++)
        if (memcmp(buf + digits_at, mid, mid_len) == 0)
            break;
    if (digits_at + mid_len > line)
        return ac_errmsg_set(err, -AC_EINVAL, "NAMES line without \" at port \"");
    n = digits_at - pre_len;
    if (ac_epmd_name_check(buf + pre_len, n) != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "NAMES line with an invalid node name");
    digits_at += mid_len;
    if (digits_at == line || line - digits_at > 5)
        return ac_errmsg_set(err, -AC_EINVAL, "NAMES line with a bad port number");
    for (size_t i = digits_at; i < line; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return ac_errmsg_set(err, -AC_EINVAL, "NAMES line with a bad port number");
        value = value * 10 + (uint32_t)(buf[i] - '0');
    }
    if (value == 0 || value > 65535)
        return ac_errmsg_set(err, -AC_EINVAL, "NAMES line with port %u out of range", value);
    memcpy(name, buf + pre_len, n); /* n <= AC_EPMD_NAME_MAX, checked by ac_epmd_name_check() */
    name[n] = '\0';
    *name_len = (uint16_t)n;
    *port = (uint16_t)value;
    return (int)(line + 1);
}
