/* epmd/proto.h - the EPMD protocol as a pure codec: one function per message and direction, no I/O.
 *
 * Spec: "Distribution Protocol", section "EPMD Protocol", in the erts user's guide (Debian's erlang-doc package:
 * /usr/share/doc/erlang-doc/erts-VERSION/doc/html/erl_dist_protocol.html), checked against real OTP 25 nodes
 * (reference/erlang-dist.md section 5). All integers are big-endian. Tags keep the spec's names.
 *
 * Requests travel as a 2-byte length followed by the body; responses have no length prefix and the daemon closes the
 * connection after all of them except the ALIVE2 replies, whose connection is the registration. Decoders read through a
 * bounded cursor (ac_epmd_rd_*), never through offsets, and check both bounds before any copy. Nothing here
 * allocates: a request, a node record and every response fit in fixed buffers (AC_EPMD_*_MAX). */
#ifndef AC_EPMD_PROTO_H
#define AC_EPMD_PROTO_H

#include "policy/error.h"

#include <stddef.h>
#include <stdint.h>

#define AC_EPMD_DEFAULT_PORT 4369
#define AC_EPMD_NAME_MAX     255  /* bytes of a node's alive name (the part before '@') */
#define AC_EPMD_EXTRA_MAX    1024 /* bytes of an ALIVE2_REQ's Extra field we accept */

/* Largest request body accepted: ALIVE2_REQ with the longest name and Extra (11 fixed bytes before the name, Elen). */
#define AC_EPMD_REQ_BODY_MAX (13 + AC_EPMD_NAME_MAX + AC_EPMD_EXTRA_MAX)
/* Largest request on the wire, length prefix included. */
#define AC_EPMD_REQ_MAX (2 + AC_EPMD_REQ_BODY_MAX)
/* Largest PORT2_RESP (Result 0 with the longest name and Extra). */
#define AC_EPMD_PORT2_RESP_MAX (14 + AC_EPMD_NAME_MAX + AC_EPMD_EXTRA_MAX)
/* Largest NAMES_RESP line: "name " NAME " at port " 65535 "\n". */
#define AC_EPMD_NAMES_LINE_MAX (5 + AC_EPMD_NAME_MAX + 9 + 5 + 1)

/* Message tags, as in the spec. */
enum {
    AC_EPMD_DUMP_REQ = 100,         /* 'd': debug dump; recognised so the daemon can refuse it */
    AC_EPMD_KILL_REQ = 107,         /* 'k': stop the daemon; refused */
    AC_EPMD_NAMES_REQ = 110,        /* 'n' */
    AC_EPMD_STOP_REQ = 115,         /* 's': unregister by name; refused */
    AC_EPMD_ALIVE2_X_RESP = 118,    /* 'v': Result u8, Creation u32 (distribution version 6) */
    AC_EPMD_PORT2_RESP = 119,       /* 'w' */
    AC_EPMD_ALIVE2_REQ = 120,       /* 'x' */
    AC_EPMD_ALIVE2_RESP = 121,      /* 'y': Result u8, Creation u16 (legacy, HighestVersion < 6) */
    AC_EPMD_PORT_PLEASE2_REQ = 122, /* 'z' */
};

enum { AC_EPMD_NODE_TYPE_HIDDEN = 72, AC_EPMD_NODE_TYPE_NORMAL = 77 };
enum { AC_EPMD_PROTOCOL_TCP = 0 };
/* Result byte of ALIVE2_*RESP and PORT2_RESP: 0 ok; the daemon sends 1 for every failure. */
enum { AC_EPMD_RESULT_OK = 0, AC_EPMD_RESULT_FAIL = 1 };

/* ---- bounded reader ------------------------------------------------------------------------------------------------ */

typedef struct ac_epmd_cur {
    const uint8_t *p;   /* next unread byte */
    const uint8_t *end; /* one past the last byte */
} ac_epmd_cur_t;

/* Points cur at the len bytes at buf (buf may be NULL when len is 0). */
void ac_epmd_cur_init(ac_epmd_cur_t *cur, const uint8_t *buf, size_t len);
/* Bytes left to read. */
size_t ac_epmd_cur_left(const ac_epmd_cur_t *cur);
/* Each reads one big-endian value and advances. Returns 0, or -AC_EAGAIN when fewer bytes remain than the value needs;
 * the cursor and *v are then left unchanged. */
int ac_epmd_rd_u8(ac_epmd_cur_t *cur, uint8_t *v);
int ac_epmd_rd_u16(ac_epmd_cur_t *cur, uint16_t *v);
int ac_epmd_rd_u32(ac_epmd_cur_t *cur, uint32_t *v);
/* Sets *out to the next n bytes (inside the cursor's buffer, no copy) and advances. 0 or -AC_EAGAIN as above. */
int ac_epmd_rd_bytes(ac_epmd_cur_t *cur, size_t n, const uint8_t **out);

/* ---- node names ---------------------------------------------------------------------------------------------------- */

/* Checks an alive name: 1..AC_EPMD_NAME_MAX bytes, each an ASCII letter, digit, '_', '-', '.' or '+', or part of a
 * well-formed UTF-8 sequence for a character above U+007F (the spec's names are UTF-8). No control characters,
 * blanks, '@' or NUL: names end up in log lines and in the NAMES text. Returns 0 or -AC_EINVAL. */
int ac_epmd_name_check(const uint8_t *name, size_t len);

/* What a node registers and what PORT2_RESP reports about it. */
typedef struct ac_epmd_node {
    uint16_t port;                   /* distribution listen port, 1..65535 */
    uint8_t node_type;               /* AC_EPMD_NODE_TYPE_* (other values are passed through) */
    uint8_t protocol;                /* AC_EPMD_PROTOCOL_TCP (others passed through) */
    uint16_t highest;                /* highest distribution version (6 on OTP 23+) */
    uint16_t lowest;                 /* lowest distribution version, <= highest */
    uint16_t name_len;               /* 1..AC_EPMD_NAME_MAX */
    char name[AC_EPMD_NAME_MAX + 1]; /* NUL-terminated; passes ac_epmd_name_check() */
    uint16_t extra_len;              /* 0..AC_EPMD_EXTRA_MAX */
    uint8_t extra[AC_EPMD_EXTRA_MAX];
} ac_epmd_node_t;

/* ---- requests (node -> EPMD) ------------------------------------------------------------------------------------- */

/* One decoded request. */
typedef struct ac_epmd_req {
    uint8_t tag;         /* AC_EPMD_*_REQ; also set when the body is refused, once the tag byte was read */
    ac_epmd_node_t node; /* ALIVE2_REQ: every field; PORT_PLEASE2_REQ: name and name_len; otherwise zeroed */
} ac_epmd_req_t;

/* Decodes the length-prefixed request at the start of buf[0..len). Returns:
 *   > 0            bytes consumed (2 + Length): *req holds the request;
 *   -AC_EAGAIN     buf does not hold the whole request yet (read more; nothing else is known);
 *   -AC_ETOOLONG   the length field exceeds AC_EPMD_REQ_BODY_MAX (known from the first 2 bytes);
 *   -AC_ETYPE      unknown tag (req->tag holds it);
 *   -AC_EINVAL     Length 0, or a body that breaks its message's format (req->tag says which message).
 * DUMP_REQ, KILL_REQ and NAMES_REQ must be the tag alone; STOP_REQ's name is not looked at. err (may be NULL) gets a
 * sentence for every failure but -AC_EAGAIN. Trailing bytes after the request are left for the next call. */
int ac_epmd_req_decode(const uint8_t *buf, size_t len, ac_epmd_req_t *req, ac_errmsg_t *err);

/* ALIVE2_REQ (120) body, tag included:
 *   120 | PortNo u16 | NodeType u8 | Protocol u8 | HighestVersion u16 | LowestVersion u16 | Nlen u16 | NodeName | Elen
 *   u16 | Extra
 * Returns 0 with *node filled, or -AC_EINVAL: wrong tag, truncated, trailing bytes, port 0, lowest > highest, a name
 * refused by ac_epmd_name_check(), Elen > AC_EPMD_EXTRA_MAX. */
int ac_epmd_alive2_req_decode(const uint8_t *body, size_t len, ac_epmd_node_t *node, ac_errmsg_t *err);
/* Writes the framed ALIVE2_REQ (length prefix included) for node into buf[0..cap). Returns the bytes written,
 * -AC_EINVAL when node would not pass the decoder, or -AC_ETOOLONG when cap is too small. */
int ac_epmd_alive2_req_encode(uint8_t *buf, size_t cap, const ac_epmd_node_t *node);

/* PORT_PLEASE2_REQ (122) body, tag included: 122 | NodeName (the rest of the body). Copies the name, NUL-terminated,
 * into name[AC_EPMD_NAME_MAX + 1] and its length into *name_len. Returns 0, or -AC_EINVAL for a wrong tag or a name
 * refused by ac_epmd_name_check(). */
int ac_epmd_port_please2_req_decode(const uint8_t *body, size_t len, char *name, uint16_t *name_len, ac_errmsg_t *err);
/* Writes the framed PORT_PLEASE2_REQ. Bytes written, -AC_EINVAL (bad name) or -AC_ETOOLONG (cap). */
int ac_epmd_port_please2_req_encode(uint8_t *buf, size_t cap, const char *name, size_t name_len);

/* Writes the framed NAMES_REQ (0 1 110). Bytes written (3) or -AC_ETOOLONG. */
int ac_epmd_names_req_encode(uint8_t *buf, size_t cap);

/* ---- responses (EPMD -> node); decoders read a stream: -AC_EAGAIN means "not all here yet" -------------------------- */

/* ALIVE2_X_RESP (118): 118 | Result u8 | Creation u32. Encode returns 6 or -AC_ETOOLONG. Decode returns 6 with
 * *result and *creation set, -AC_EAGAIN, or -AC_ETYPE when buf[0] is not 118. */
int ac_epmd_alive2_x_resp_encode(uint8_t *buf, size_t cap, uint8_t result, uint32_t creation);
int ac_epmd_alive2_x_resp_decode(const uint8_t *buf, size_t len, uint8_t *result, uint32_t *creation, ac_errmsg_t *err);

/* ALIVE2_RESP (121), legacy: 121 | Result u8 | Creation u16. As above, with 4 bytes. */
int ac_epmd_alive2_resp_encode(uint8_t *buf, size_t cap, uint8_t result, uint16_t creation);
int ac_epmd_alive2_resp_decode(const uint8_t *buf, size_t len, uint8_t *result, uint16_t *creation, ac_errmsg_t *err);

/* PORT2_RESP (119): 119 | Result u8, and when Result is 0 the node's fields as in ALIVE2_REQ:
 *   | PortNo u16 | NodeType u8 | Protocol u8 | HighestVersion u16 | LowestVersion u16 | Nlen u16 | NodeName | Elen u16
 *   | Extra
 * Encode: node is read only when result is 0 (then it must pass the ALIVE2_REQ checks: -AC_EINVAL otherwise); returns
 * the bytes written or -AC_ETOOLONG. Decode: returns the bytes consumed with *result set (and *node filled when it is
 * 0), -AC_EAGAIN, -AC_ETYPE (not 119), or -AC_EINVAL (a node record the ALIVE2_REQ checks refuse). */
int ac_epmd_port2_resp_encode(uint8_t *buf, size_t cap, uint8_t result, const ac_epmd_node_t *node);
int ac_epmd_port2_resp_decode(const uint8_t *buf, size_t len, uint8_t *result, ac_epmd_node_t *node, ac_errmsg_t *err);

/* NAMES_RESP: EPMDPortNo u32, then one line per registered node, io:format("name ~ts at port ~p~n"), then close.
 * head: encode returns 4 or -AC_ETOOLONG; decode returns 4 with *epmd_port set, or -AC_EAGAIN.
 * line: encode writes "name NAME at port PORT\n" and returns its length, -AC_EINVAL (bad name, port 0) or
 * -AC_ETOOLONG;
 * decode reads one such line into name[AC_EPMD_NAME_MAX + 1] / *name_len / *port and returns its length, -AC_EAGAIN
 * (no newline yet, and fewer than AC_EPMD_NAMES_LINE_MAX bytes), or -AC_EINVAL (anything else). */
int ac_epmd_names_resp_head_encode(uint8_t *buf, size_t cap, uint32_t epmd_port);
int ac_epmd_names_resp_head_decode(const uint8_t *buf, size_t len, uint32_t *epmd_port);
int ac_epmd_names_resp_line_encode(uint8_t *buf, size_t cap, const char *name, size_t name_len, uint16_t port);
int ac_epmd_names_resp_line_decode(const uint8_t *buf, size_t len, char *name, uint16_t *name_len, uint16_t *port,
                                   ac_errmsg_t *err);

#endif
