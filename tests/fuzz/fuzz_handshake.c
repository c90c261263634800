/* tests/fuzz/fuzz_handshake.c - libFuzzer target for dist/handshake.c and dist/frame.c: arbitrary bytes as everything
 * the peer sends during a handshake, through the in-memory transport (ac_dist_io_mem_t), on either side.
 *
 * Input: byte 0 picks the scenario, the rest is the peer's byte stream.
 *   bit 0     0: we accept (the input is an initiator), 1: we connect (the input is an acceptor)
 *   bits 1-3  accept: what the admit callback answers (0 ok, 1 ok_simultaneous, 2 nok, 3 not_allowed, 4 alive,
 *             5-7 no callback)
 *   bit 4     connect: expect no particular peer name (peer_name NULL) instead of "peer@localhost"
 * Our challenge is always 0x11223344 (the transport's random hook), so a seed can carry correct digests and reach
 * the end of the handshake; the cookie is "fuzz-cookie".
 * Invariants (abort() on violation): the result is one of the documented codes; success means a syntactically valid
 * peer name (the expected one when given) whose flags pass OTP 25's check, and failure means an empty peer and a
 * non-empty message; no message contains the cookie (unless the peer sent its text itself); we never write more than the handshake needs. The same bytes
 * also go through both frame extractors, whose frames must stay inside the buffer.
 * Built as `fuzz_handshake` (libFuzzer) and as `replay_handshake` (tests/fuzz/replay.c) for the seed corpus. */
#include "dist/flags.h"
#include "dist/frame.h"
#include "dist/handshake.h"
#include "policy/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define COOKIE    "fuzz-cookie"
#define OUR_NAME  "fuzz@localhost"
#define PEER_NAME "peer@localhost"
/* Everything we may send: send_name or status + challenge + ack, each under 300 bytes. */
#define OUT_CAP 1024

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_handshake: invariant violated: %s\n", what);
        abort();
    }
}

static int fixed_random(void *ctx, void *buf, size_t n)
{
    static const uint8_t pat[4] = {0x11, 0x22, 0x33, 0x44};
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)buf)[i] = pat[i % 4];
    return 0;
}

static ac_dist_admit_t admit(void *ctx, const char *name, uint64_t flags)
{
    check(ac_dist_node_name_check(name, strlen(name), NULL) == 0, "admit sees a checked name");
    check(ac_dist_flags_check_peer(flags, NULL) == 0, "admit sees checked flags");
    return *(const ac_dist_admit_t *)ctx;
}

static void frames(const uint8_t *data, size_t size)
{
    size_t off = 0, consumed, plen;
    const uint8_t *payload;
    int rc;

    while ((rc = ac_dist_frame_next(data + off, size - off, 4096, &consumed, &payload, &plen)) == 1) {
        check(consumed == AC_DIST_FRAME_HDR_LEN + plen && consumed <= size - off, "frame inside the buffer");
        check(payload == data + off + AC_DIST_FRAME_HDR_LEN && plen <= 4096, "payload where the frame is");
        off += consumed;
    }
    check(rc == 0 || rc == -AC_ETOOLONG, "frame_next returns 1, 0 or ETOOLONG");
    off = 0;
    while ((rc = ac_dist_hs_frame_next(data + off, size - off, 0, &consumed, &payload, &plen)) == 1) {
        check(plen > 0 && consumed == AC_DIST_HS_HDR_LEN + plen && consumed <= size - off, "hs frame inside");
        off += consumed;
    }
    check(rc == 0 || rc == -AC_EINVAL, "hs_frame_next returns 1, 0 or EINVAL");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[OUT_CAP];
    ac_dist_local_t me;
    ac_dist_peer_t peer;
    ac_errmsg_t err = {{0}};
    ac_dist_io_mem_t m;
    ac_dist_io_t io;
    ac_dist_admit_t choice;
    const char *want = PEER_NAME;
    uint8_t mode;
    int rc;

    if (size == 0)
        return 0;
    mode = data[0];
    frames(data + 1, size - 1);

    memset(&me, 0, sizeof(me));
    snprintf(me.name, sizeof(me.name), "%s", OUR_NAME);
    me.flags = ac_dist_flags_ours();
    me.creation = 0x12345678;
    choice = (ac_dist_admit_t)((mode >> 1) & 7);
    if (choice <= AC_DIST_ADMIT_ALIVE) {
        me.admit = admit;
        me.admit_ctx = &choice;
    }
    ac_dist_io_mem_init(&m, &io, data + 1, size - 1, out, sizeof(out));
    io.random = fixed_random;

    if (mode & 1) {
        if (mode & 0x10)
            want = NULL;
        rc = ac_dist_handshake_connect_io(&io, &me, want, COOKIE, 1000, &peer, &err);
    } else {
        want = NULL;
        rc = ac_dist_handshake_accept_io(&io, &me, COOKIE, 1000, &peer, &err);
    }

    check(rc == 0 || rc == -AC_EPERM || rc == -AC_EEXIST || rc == -AC_EINVAL || rc == -AC_ETOOLONG || rc == -AC_EIO,
          "documented result code");
    /* A peer may put the cookie's text into its own node name; short of that, it never shows up. */
    check(strstr(err.msg, COOKIE) == NULL || memmem(data, size, COOKIE, strlen(COOKIE)) != NULL,
          "no cookie in messages");
    check(m.out_len <= 300, "bounded output");
    check(m.in_pos <= size - 1, "never reads past the input");
    if (rc == 0) {
        check(ac_dist_node_name_check(peer.name, strlen(peer.name), NULL) == 0, "peer name valid");
        check(want == NULL || strcmp(peer.name, want) == 0, "peer is who we asked for");
        check(ac_dist_flags_check_peer(peer.flags, NULL) == 0, "peer flags pass OTP 25's check");
        check(peer.replaced == 0 || peer.replaced == 1, "replaced is a flag");
    } else {
        check(err.msg[0] != '\0', "a failure says why");
        check(peer.name[0] == '\0' && peer.flags == 0 && peer.creation == 0, "no peer on failure");
    }
    return 0;
}
