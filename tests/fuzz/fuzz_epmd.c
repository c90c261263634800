/* tests/fuzz/fuzz_epmd.c - libFuzzer target for epmd/proto.c: arbitrary bytes into the request parser (as the daemon
 * reads a stream: one request after another) and into every response parser (as the client reads them), with the
 * codec's invariants checked (abort() on any violation).
 *
 * Invariants: a decoder never reads past `size` (AddressSanitizer), returns either a length within the input or one of
 * its documented codes, explains every refusal but "need more" in err; what decodes re-encodes to the same bytes
 * (requests, ALIVE2 replies and PORT2_RESP are canonical), and a decoded NAMES line round-trips through its encoder;
 * every decoded name passes ac_epmd_name_check. Built as `fuzz_epmd` (libFuzzer) and as `replay_epmd`
 * (tests/fuzz/replay.c), which runs the seed corpus under ctest. */
#include "epmd/proto.h"
#include "policy/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_epmd: invariant violated: %s\n", what);
        abort();
    }
}

static void check_node(const ac_epmd_node_t *n)
{
    check(ac_epmd_name_check((const uint8_t *)n->name, n->name_len) == 0, "decoded name passes the name check");
    check(strlen(n->name) == n->name_len, "decoded name is NUL-terminated at name_len");
    check(n->extra_len <= AC_EPMD_EXTRA_MAX, "extra within its bound");
    check(n->port != 0 && n->lowest <= n->highest, "port and versions checked");
}

static void requests(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (off < size) {
        ac_epmd_req_t req;
        ac_errmsg_t err = {{0}};
        uint8_t again[AC_EPMD_REQ_MAX];
        int n = ac_epmd_req_decode(data + off, size - off, &req, &err);

        if (n < 0) {
            check(n == -AC_EAGAIN || n == -AC_ETOOLONG || n == -AC_ETYPE || n == -AC_EINVAL, "request error code");
            check((n == -AC_EAGAIN) == (err.msg[0] == '\0'), "refusals say why, need-more does not");
            return; /* the daemon closes the connection (or waits for more) */
        }
        check(n >= 3 && (size_t)n <= size - off && n <= AC_EPMD_REQ_MAX, "consumed length within the input");
        switch (req.tag) {
        case AC_EPMD_ALIVE2_REQ:
            check_node(&req.node);
            check(ac_epmd_alive2_req_encode(again, sizeof(again), &req.node) == n, "ALIVE2_REQ re-encodes");
            check(memcmp(again, data + off, (size_t)n) == 0, "ALIVE2_REQ re-encodes to the same bytes");
            break;
        case AC_EPMD_PORT_PLEASE2_REQ:
            check(ac_epmd_port_please2_req_encode(again, sizeof(again), req.node.name, req.node.name_len) == n,
                  "PORT_PLEASE2_REQ re-encodes");
            check(memcmp(again, data + off, (size_t)n) == 0, "PORT_PLEASE2_REQ re-encodes to the same bytes");
            break;
        case AC_EPMD_NAMES_REQ:
            check(ac_epmd_names_req_encode(again, sizeof(again)) == n && memcmp(again, data + off, 3) == 0,
                  "NAMES_REQ re-encodes");
            break;
        case AC_EPMD_DUMP_REQ:
        case AC_EPMD_KILL_REQ: check(n == 3, "DUMP_REQ and KILL_REQ are the tag alone"); break;
        case AC_EPMD_STOP_REQ: break;
        default: check(0, "only known tags decode");
        }
        off += (size_t)n;
    }
}

static void responses(const uint8_t *data, size_t size)
{
    uint8_t again[AC_EPMD_PORT2_RESP_MAX], result = 0;
    uint32_t c32 = 0, epmd_port = 0;
    uint16_t c16 = 0;
    ac_epmd_node_t node;
    ac_errmsg_t err = {{0}};
    int n;

    n = ac_epmd_alive2_x_resp_decode(data, size, &result, &c32, &err);
    check(n == 6 || n == -AC_EAGAIN || n == -AC_ETYPE, "ALIVE2_X_RESP result");
    if (n == 6)
        check(ac_epmd_alive2_x_resp_encode(again, sizeof(again), result, c32) == 6 && memcmp(again, data, 6) == 0,
              "ALIVE2_X_RESP re-encodes to the same bytes");

    n = ac_epmd_alive2_resp_decode(data, size, &result, &c16, &err);
    check(n == 4 || n == -AC_EAGAIN || n == -AC_ETYPE, "ALIVE2_RESP result");
    if (n == 4)
        check(ac_epmd_alive2_resp_encode(again, sizeof(again), result, c16) == 4 && memcmp(again, data, 4) == 0,
              "ALIVE2_RESP re-encodes to the same bytes");

    err.msg[0] = '\0';
    n = ac_epmd_port2_resp_decode(data, size, &result, &node, &err);
    check(n > 0 || n == -AC_EAGAIN || n == -AC_ETYPE || n == -AC_EINVAL, "PORT2_RESP result");
    check(n != -AC_EINVAL || err.msg[0] != '\0', "PORT2_RESP refusals say why");
    if (n > 0) {
        check((size_t)n <= size && n <= AC_EPMD_PORT2_RESP_MAX, "PORT2_RESP length within the input");
        if (result == AC_EPMD_RESULT_OK)
            check_node(&node);
        check(ac_epmd_port2_resp_encode(again, sizeof(again), result, &node) == n &&
                  memcmp(again, data, (size_t)n) == 0,
              "PORT2_RESP re-encodes to the same bytes");
    }

    /* NAMES_RESP: the head, then line after line until one is refused or incomplete. */
    if (ac_epmd_names_resp_head_decode(data, size, &epmd_port) != 4)
        return;
    for (size_t off = 4; off < size;) {
        char name[AC_EPMD_NAME_MAX + 1], name2[AC_EPMD_NAME_MAX + 1];
        uint16_t name_len = 0, port = 0, name_len2 = 0, port2 = 0;
        uint8_t line[AC_EPMD_NAMES_LINE_MAX];

        n = ac_epmd_names_resp_line_decode(data + off, size - off, name, &name_len, &port, &err);
        check(n > 0 || n == -AC_EAGAIN || n == -AC_EINVAL, "NAMES line result");
        if (n <= 0)
            return;
        check((size_t)n <= size - off && n <= AC_EPMD_NAMES_LINE_MAX, "NAMES line length within bounds");
        check(ac_epmd_name_check((const uint8_t *)name, name_len) == 0 && port != 0, "NAMES line fields checked");
        int m = ac_epmd_names_resp_line_encode(line, sizeof(line), name, name_len, port);
        check(m > 0, "NAMES line re-encodes");
        check(ac_epmd_names_resp_line_decode(line, (size_t)m, name2, &name_len2, &port2, NULL) == m &&
                  name_len2 == name_len && port2 == port && memcmp(name, name2, name_len) == 0,
              "NAMES line round-trips");
        off += (size_t)n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    requests(data, size);
    responses(data, size);
    (void)ac_epmd_name_check(data, size);
    return 0;
}
