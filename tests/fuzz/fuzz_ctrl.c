/* tests/fuzz/fuzz_ctrl.c - distribution frames as a peer sends them after the handshake: the bounded term walk
 * (dist/etf_check.c) and the control-message split (dist/ctrl.c) must accept only well-formed input, and everything
 * they accept must decode with ei without reading outside the frame. */
#include "dist/ctrl.h"

#include <ei.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walks a checked term with ei, as the node's handlers would. */
static void walk(const char *buf, int *idx, int depth)
{
    int type, size;
    if (depth > 70 || ei_get_type(buf, idx, &type, &size) != 0) {
        ei_skip_term(buf, idx);
        return;
    }
    char atom[MAXATOMLEN_UTF8];
    erlang_pid pid;
    erlang_ref ref;
    int arity;
    switch (type) {
    case ERL_SMALL_TUPLE_EXT:
    case ERL_LARGE_TUPLE_EXT:
        ei_decode_tuple_header(buf, idx, &arity);
        for (int i = 0; i < arity; i++)
            walk(buf, idx, depth + 1);
        break;
    case ERL_ATOM_EXT:
    case ERL_SMALL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT:
        if (ei_decode_atom(buf, idx, atom) != 0)
            ei_skip_term(buf, idx);
        break;
    case ERL_PID_EXT:
    case ERL_NEW_PID_EXT:
        if (ei_decode_pid(buf, idx, &pid) != 0)
            ei_skip_term(buf, idx);
        break;
    case ERL_NEW_REFERENCE_EXT:
    case ERL_NEWER_REFERENCE_EXT:
        if (ei_decode_ref(buf, idx, &ref) != 0)
            ei_skip_term(buf, idx);
        break;
    default: ei_skip_term(buf, idx);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size heap copy, so any read past the frame is caught */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    ac_dist_ctrl_t m;
    ac_errmsg_t err;
    if (ac_dist_ctrl_parse(buf, size, &m, &err) == 0) {
        int idx = m.ctrl;
        for (int i = 1; i < m.ctrl_arity; i++)
            walk(m.buf, &idx, 0);
        if (m.msg >= 0) {
            idx = m.msg;
            walk(m.buf, &idx, 0);
            if ((size_t)idx != size)
                abort(); /* the split said the message ends the frame */
        }
    }
    free(buf);
    return 0;
}
