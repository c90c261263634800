/* tests/interop/test_dist_handshake.c - dist/handshake.c and dist/flags.c.
 *
 * Three layers: the flag table and the name rules on their own; the handshake on memory buffers against scripted
 * peers, byte for byte (a fixed "random" challenge makes the digests predictable), including every truncation and
 * malformed message; and both of our sides against each other over a socketpair (success, wrong cookie, statuses,
 * a silent and a trickling peer against the overall timeout). Real OTP nodes are the oracle in handshake.sh.
 *
 * Pinned digest (checked with `erl`: erlang:md5(["secret", integer_to_list(3735928559)])):
 *   md5("secret" ++ "3735928559") = c3939b31d7a913d82e2ace09247c7b41 */
#include "dist/flags.h"
#include "dist/frame.h"
#include "dist/handshake.h"
#include "policy/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define COOKIE          "unit-test-cookie-0123456789"
#define WRONG_COOKIE    "another-cookie-9876543210"
#define FIXED_CHALLENGE 0x11223344u
#define PEER_CHALLENGE  0xdeadbeefu
#define OUR_NAME        "alexclaw@localhost"
#define PEER_NAME       "erl1@localhost"
#define ERL25_FLAGS     UINT64_C(0xd07df7fbd) /* what OTP 25.2.3 erl sends (reference section 6) */
#define EI53_FLAGS      UINT64_C(0x407074f9c) /* what erl_interface 5.3 sends */
/* Both set MANDATORY_25_DIGEST, which stands for the whole OTP 25 set; to take a mandatory flag away, drop it too. */
#define ERL25_NO_DIGEST (ERL25_FLAGS & ~AC_DFLAG_MANDATORY_25_DIGEST)

/* ---- helpers ----------------------------------------------------------------------------------------------------- */

/* The transport's random hook: every challenge is FIXED_CHALLENGE. */
static int fixed_random(void *ctx, void *buf, size_t n)
{
    static const uint8_t pat[4] = {0x11, 0x22, 0x33, 0x44};
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)buf)[i] = pat[i % 4];
    return 0;
}

static void local(ac_dist_local_t *me, const char *name)
{
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_dist_local_init(me, name, &err), 0);
}

typedef struct stream {
    uint8_t b[8192];
    size_t len;
} stream_t;

static void put_msg(stream_t *s, const void *payload, size_t n)
{
    assert_true(s->len + 2 + n <= sizeof(s->b));
    s->b[s->len++] = (uint8_t)(n >> 8);
    s->b[s->len++] = (uint8_t)n;
    memcpy(s->b + s->len, payload, n);
    s->len += n;
}

static void put_name_new(stream_t *s, uint64_t flags, uint32_t creation, const char *name, size_t trailer)
{
    uint8_t m[2048];
    ac_dist_wr_t wr;
    ac_dist_wr_init(&wr, m, sizeof(m));
    ac_dist_wr_u8(&wr, 'N');
    ac_dist_wr_u64(&wr, flags);
    ac_dist_wr_u32(&wr, creation);
    ac_dist_wr_u16(&wr, (uint16_t)strlen(name));
    ac_dist_wr_bytes(&wr, name, strlen(name));
    for (size_t i = 0; i < trailer; i++)
        ac_dist_wr_u8(&wr, 0xa5);
    assert_int_equal(wr.err, 0);
    put_msg(s, m, wr.len);
}

static void put_name_old(stream_t *s, uint32_t flags, const char *name)
{
    uint8_t m[512];
    ac_dist_wr_t wr;
    ac_dist_wr_init(&wr, m, sizeof(m));
    ac_dist_wr_u8(&wr, 'n');
    ac_dist_wr_u16(&wr, 5);
    ac_dist_wr_u32(&wr, flags);
    ac_dist_wr_bytes(&wr, name, strlen(name));
    put_msg(s, m, wr.len);
}

static void put_status(stream_t *s, const char *status)
{
    uint8_t m[64];
    m[0] = 's';
    memcpy(m + 1, status, strlen(status));
    put_msg(s, m, 1 + strlen(status));
}

static void put_challenge_new(stream_t *s, uint64_t flags, uint32_t challenge, uint32_t creation, const char *name)
{
    uint8_t m[512];
    ac_dist_wr_t wr;
    ac_dist_wr_init(&wr, m, sizeof(m));
    ac_dist_wr_u8(&wr, 'N');
    ac_dist_wr_u64(&wr, flags);
    ac_dist_wr_u32(&wr, challenge);
    ac_dist_wr_u32(&wr, creation);
    ac_dist_wr_u16(&wr, (uint16_t)strlen(name));
    ac_dist_wr_bytes(&wr, name, strlen(name));
    put_msg(s, m, wr.len);
}

static void put_challenge_old(stream_t *s, uint32_t flags, uint32_t challenge, const char *name)
{
    uint8_t m[512];
    ac_dist_wr_t wr;
    ac_dist_wr_init(&wr, m, sizeof(m));
    ac_dist_wr_u8(&wr, 'n');
    ac_dist_wr_u16(&wr, 5);
    ac_dist_wr_u32(&wr, flags);
    ac_dist_wr_u32(&wr, challenge);
    ac_dist_wr_bytes(&wr, name, strlen(name));
    put_msg(s, m, wr.len);
}

static void put_complement(stream_t *s, uint32_t hi, uint32_t creation)
{
    uint8_t m[9];
    ac_dist_wr_t wr;
    ac_dist_wr_init(&wr, m, sizeof(m));
    ac_dist_wr_u8(&wr, 'c');
    ac_dist_wr_u32(&wr, hi);
    ac_dist_wr_u32(&wr, creation);
    put_msg(s, m, wr.len);
}

/* 'r' challenge digest(cookie, digest_of) */
static void put_reply(stream_t *s, uint32_t challenge, const char *cookie, uint32_t digest_of)
{
    uint8_t m[21];
    m[0] = 'r';
    m[1] = (uint8_t)(challenge >> 24);
    m[2] = (uint8_t)(challenge >> 16);
    m[3] = (uint8_t)(challenge >> 8);
    m[4] = (uint8_t)challenge;
    assert_int_equal(ac_dist_handshake_digest(cookie, digest_of, m + 5), 0);
    put_msg(s, m, sizeof(m));
}

static void put_ack(stream_t *s, const char *cookie, uint32_t digest_of)
{
    uint8_t m[17];
    m[0] = 'a';
    assert_int_equal(ac_dist_handshake_digest(cookie, digest_of, m + 1), 0);
    put_msg(s, m, sizeof(m));
}

/* A whole, valid initiator stream for our acceptor. */
static void initiator_stream(stream_t *s, uint64_t flags, const char *name, const char *cookie)
{
    put_name_new(s, flags, 77, name, 0);
    put_reply(s, PEER_CHALLENGE, cookie, FIXED_CHALLENGE);
}

/* A whole, valid acceptor stream for our initiator. */
static void acceptor_stream(stream_t *s, uint64_t flags, const char *name, const char *cookie)
{
    put_status(s, "ok");
    put_challenge_new(s, flags, PEER_CHALLENGE, 88, name);
    put_ack(s, cookie, FIXED_CHALLENGE);
}

typedef struct run {
    int rc;
    ac_dist_peer_t peer;
    ac_errmsg_t err;
    stream_t out;
    size_t consumed;
} run_t;

static void run_accept_mem(const stream_t *in, const ac_dist_local_t *me, const char *cookie, run_t *r)
{
    ac_dist_io_mem_t m;
    ac_dist_io_t io;

    memset(r, 0, sizeof(*r));
    ac_dist_io_mem_init(&m, &io, in->b, in->len, r->out.b, sizeof(r->out.b));
    io.random = fixed_random;
    r->rc = ac_dist_handshake_accept_io(&io, me, cookie, 1000, &r->peer, &r->err);
    r->out.len = m.out_len;
    r->consumed = m.in_pos;
    if (cookie[0] != '\0')
        assert_null(strstr(r->err.msg, cookie)); /* never the cookie */
}

static void run_connect_mem(const stream_t *in, const ac_dist_local_t *me, const char *peer_name, const char *cookie,
                            run_t *r)
{
    ac_dist_io_mem_t m;
    ac_dist_io_t io;

    memset(r, 0, sizeof(*r));
    ac_dist_io_mem_init(&m, &io, in->b, in->len, r->out.b, sizeof(r->out.b));
    io.random = fixed_random;
    r->rc = ac_dist_handshake_connect_io(&io, me, peer_name, cookie, 1000, &r->peer, &r->err);
    r->out.len = m.out_len;
    r->consumed = m.in_pos;
    if (cookie[0] != '\0')
        assert_null(strstr(r->err.msg, cookie));
}

/* Whether the n bytes at needle occur in s (string literals: pass sizeof - 1, they may hold NUL bytes). */
static int contains_n(const stream_t *s, const char *needle, size_t n)
{
    for (size_t i = 0; i + n <= s->len; i++)
        if (memcmp(s->b + i, needle, n) == 0)
            return 1;
    return 0;
}
#define contains(s, lit) contains_n((s), (lit), sizeof(lit) - 1)

/* ---- flags ------------------------------------------------------------------------------------------------------- */

static void flags_ours_are_ei_flags_plus_spawn(void **state)
{
    uint64_t ours = ac_dist_flags_ours();

    assert_true(ours == (EI53_FLAGS | AC_DFLAG_SPAWN));
    assert_true(ours == UINT64_C(0x507074f9c));
    assert_false(ours & AC_DFLAG_PUBLISHED);
    assert_false(ours & AC_DFLAG_ALIAS);
    assert_false(ours & AC_DFLAG_FRAGMENTS);
    assert_false(ours & AC_DFLAG_DIST_HDR_ATOM_CACHE);
    assert_false(ours & AC_DFLAG_NAME_ME);
    /* what OTP 26 will require of us, too */
    assert_true((ours & ac_dist_flags_mandatory(26)) == ac_dist_flags_mandatory(26));
    assert_true((ours & ac_dist_flags_mandatory(27)) == ac_dist_flags_mandatory(27));
}

static void flags_mandatory_sets_follow_otp(void **state)
{
    assert_true(ac_dist_flags_mandatory(24) == 0);
    assert_true(ac_dist_flags_mandatory(25) == UINT64_C(0x1070f94)); /* dist.hrl MANDATORY_DFLAGS_25 */
    assert_true(ac_dist_flags_mandatory(26) == (UINT64_C(0x1070f94) | AC_DFLAG_V4_NC | AC_DFLAG_UNLINK_ID));
    assert_true(ac_dist_flags_mandatory(27) == (ac_dist_flags_mandatory(26) | AC_DFLAG_MANDATORY_25_DIGEST));
}

static void flags_table_is_well_formed(void **state)
{
    size_t n;
    const ac_dist_flag_info_t *t = ac_dist_flags_table(&n);

    assert_true(n >= 30);
    for (size_t i = 0; i < n; i++) {
        assert_true(t[i].bit != 0 && (t[i].bit & (t[i].bit - 1)) == 0);
        assert_true(i == 0 || t[i].bit > t[i - 1].bit);
        assert_string_equal(ac_dist_flags_name(t[i].bit), t[i].name);
    }
    assert_null(ac_dist_flags_name(0));
    assert_null(ac_dist_flags_name(3));
    assert_null(ac_dist_flags_name(UINT64_C(1) << 63));
}

static void flags_check_accepts_otp_and_ei_peers(void **state)
{
    ac_errmsg_t err = {{0}};

    assert_int_equal(ac_dist_flags_check_peer(ERL25_FLAGS, &err), 0);
    assert_int_equal(ac_dist_flags_check_peer(EI53_FLAGS, &err), 0);
    assert_int_equal(ac_dist_flags_check_peer(ac_dist_flags_ours(), &err), 0);
    /* the OTP 25 digest flag stands for the whole mandatory set */
    assert_int_equal(ac_dist_flags_check_peer(AC_DFLAG_MANDATORY_25_DIGEST, &err), 0);
    assert_true(ac_dist_flags_expand(AC_DFLAG_MANDATORY_25_DIGEST) ==
                (AC_DFLAG_MANDATORY_25_DIGEST | ac_dist_flags_mandatory(25)));
}

static void flags_check_names_every_missing_flag(void **state)
{
    ac_errmsg_t err = {{0}};

    assert_int_equal(ac_dist_flags_check_peer(ERL25_FLAGS & ~AC_DFLAG_MAP_TAG, &err), 0); /* the digest covers it */
    assert_int_equal(ac_dist_flags_check_peer(ERL25_NO_DIGEST & ~AC_DFLAG_MAP_TAG, &err), -AC_EPERM);
    assert_non_null(strstr(err.msg, "MAP_TAG"));
    assert_null(strstr(err.msg, "UTF8_ATOMS"));
    assert_int_equal(ac_dist_flags_check_peer(ERL25_NO_DIGEST & ~(AC_DFLAG_HANDSHAKE_23 | AC_DFLAG_UTF8_ATOMS), &err),
                     -AC_EPERM);
    assert_non_null(strstr(err.msg, "HANDSHAKE_23"));
    assert_non_null(strstr(err.msg, "UTF8_ATOMS"));
    assert_int_equal(ac_dist_flags_check_peer(0, &err), -AC_EPERM);
    assert_non_null(strstr(err.msg, "EXTENDED_REFERENCES"));
    assert_non_null(strstr(err.msg, "BIG_CREATION"));
    /* with the low-32 mask (legacy send_name), high flags are not asked for; none of OTP 25's are high anyway */
    assert_int_equal(ac_dist_flags_check_peer_masked(EI53_FLAGS & 0xffffffff, 0xffffffff, &err), 0);
}

static void flags_describe_is_readable_and_bounded(void **state)
{
    char buf[512], tiny[8];

    ac_dist_flags_describe(AC_DFLAG_SPAWN | AC_DFLAG_PUBLISHED, buf, sizeof(buf));
    assert_string_equal(buf, "0x100000001 PUBLISHED|SPAWN");
    ac_dist_flags_describe(0, buf, sizeof(buf));
    assert_string_equal(buf, "0x0 (none)");
    ac_dist_flags_describe(AC_DFLAG_MAP_TAG | UINT64_C(0x8000) | (UINT64_C(1) << 60), buf, sizeof(buf));
    assert_string_equal(buf, "0x1000000000028000 MAP_TAG|0x1000000000008000");
    ac_dist_flags_describe(ERL25_FLAGS, buf, sizeof(buf));
    assert_non_null(strstr(buf, "ALIAS"));
    ac_dist_flags_describe(ERL25_FLAGS, tiny, sizeof(tiny));
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    ac_dist_flags_describe(~UINT64_C(0), buf, 20);
    assert_int_equal(strlen(buf), 19);
}

/* ---- names and digest -------------------------------------------------------------------------------------------- */

static void node_names_are_checked(void **state)
{
    static const char *good[] = {"a@b",   "alexclaw@localhost", "x_y-z.1+2@node1.local", "n@127.0.0.1",
                                 "n@::1", "Elixir-node@Host_1"};
    static const char *bad[] = {"",        "nohost", "@host", "name@", "a@b@c", "a b@host",
                                "a@ho st", "a\n@b",  "a@b\r", "a/b@c", "a@b;c", "\xc3\xa9@b"};
    char longname[300];
    ac_errmsg_t err = {{0}};

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(ac_dist_node_name_check(good[i], strlen(good[i]), &err), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ac_dist_node_name_check(bad[i], strlen(bad[i]), &err), -AC_EINVAL);
        assert_true(err.msg[0] != '\0');
    }
    assert_int_equal(ac_dist_node_name_check("a@b\0c", 5, &err), -AC_EINVAL); /* embedded NUL */
    memset(longname, 'a', sizeof(longname));
    longname[0] = 'x';
    longname[1] = '@';
    assert_int_equal(ac_dist_node_name_check(longname, 255, &err), 0);
    assert_int_equal(ac_dist_node_name_check(longname, 256, &err), -AC_EINVAL);
}

static void local_init_picks_a_creation_of_at_least_4(void **state)
{
    ac_dist_local_t a, b;
    ac_errmsg_t err = {{0}};

    local(&a, OUR_NAME);
    local(&b, OUR_NAME);
    assert_string_equal(a.name, OUR_NAME);
    assert_true(a.flags == ac_dist_flags_ours());
    assert_true(a.creation >= 4 && b.creation >= 4);
    assert_true(a.creation != b.creation); /* 1 in 2^32 to fail */
    assert_null(a.admit);
    assert_int_equal(ac_dist_local_init(&a, "bad", &err), -AC_EINVAL);
    assert_int_equal(ac_dist_local_init(&a, NULL, &err), -AC_EINVAL);
}

static void digest_is_md5_of_cookie_and_unsigned_decimal(void **state)
{
    static const uint8_t want[16] = {0xc3, 0x93, 0x9b, 0x31, 0xd7, 0xa9, 0x13, 0xd8,
                                     0x2e, 0x2a, 0xce, 0x09, 0x24, 0x7c, 0x7b, 0x41};
    uint8_t d[16];

    assert_int_equal(ac_dist_handshake_digest("secret", 3735928559u, d), 0);
    assert_memory_equal(d, want, 16);
}

/* ---- acceptor on memory -------------------------------------------------------------------------------------- */

static void accept_completes_against_a_scripted_initiator(void **state)
{
    ac_dist_local_t me;
    stream_t in = {0}, want = {0};
    run_t r;

    local(&me, OUR_NAME);
    me.creation = 1234;
    initiator_stream(&in, ERL25_FLAGS, PEER_NAME, COOKIE);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.peer.name, PEER_NAME);
    assert_true(r.peer.flags == ERL25_FLAGS);
    assert_int_equal(r.peer.creation, 77);
    assert_int_equal(r.peer.replaced, 0);
    assert_int_equal(r.consumed, in.len);

    /* byte for byte: "sok", our challenge, our ack */
    put_status(&want, "ok");
    put_challenge_new(&want, ac_dist_flags_ours(), FIXED_CHALLENGE, 1234, OUR_NAME);
    put_ack(&want, COOKIE, PEER_CHALLENGE);
    assert_int_equal(r.out.len, want.len);
    assert_memory_equal(r.out.b, want.b, want.len);
}

static void accept_fails_cleanly_on_every_truncation(void **state)
{
    ac_dist_local_t me;
    stream_t in = {0}, cut;
    run_t r;

    local(&me, OUR_NAME);
    initiator_stream(&in, ERL25_FLAGS, PEER_NAME, COOKIE);
    for (size_t len = 0; len < in.len; len++) {
        memcpy(&cut, &in, sizeof(in));
        cut.len = len;
        run_accept_mem(&cut, &me, COOKIE, &r);
        assert_int_equal(r.rc, -AC_EIO);
        assert_true(r.err.msg[0] != '\0');
        assert_string_equal(r.peer.name, "");
    }
}

static void accept_refuses_a_wrong_cookie_without_saying_it(void **state)
{
    ac_dist_local_t me;
    stream_t in = {0}, want = {0};
    run_t r;

    local(&me, OUR_NAME);
    initiator_stream(&in, ERL25_FLAGS, PEER_NAME, WRONG_COOKIE);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EPERM);
    assert_non_null(strstr(r.err.msg, "cookie"));
    assert_non_null(strstr(r.err.msg, PEER_NAME));
    assert_null(strstr(r.err.msg, WRONG_COOKIE));
    /* no ack went out: status and challenge only */
    put_status(&want, "ok");
    put_challenge_new(&want, me.flags, FIXED_CHALLENGE, me.creation, OUR_NAME);
    assert_int_equal(r.out.len, want.len);
    assert_string_equal(r.peer.name, "");
}

static void accept_takes_legacy_send_name_with_complement(void **state)
{
    ac_dist_local_t me;
    stream_t in = {0};
    run_t r;

    local(&me, OUR_NAME);
    put_name_old(&in, (uint32_t)ERL25_FLAGS, PEER_NAME);
    put_complement(&in, (uint32_t)(ERL25_FLAGS >> 32), 4242);
    put_reply(&in, PEER_CHALLENGE, COOKIE, FIXED_CHALLENGE);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, 0);
    assert_true(r.peer.flags == ERL25_FLAGS);
    assert_int_equal(r.peer.creation, 4242);

    /* a 'r' where the complement belongs */
    memset(&in, 0, sizeof(in));
    put_name_old(&in, (uint32_t)ERL25_FLAGS, PEER_NAME);
    put_reply(&in, PEER_CHALLENGE, COOKIE, FIXED_CHALLENGE);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
    assert_non_null(strstr(r.err.msg, "recv_complement"));
}

static void accept_refuses_peers_missing_mandatory_flags(void **state)
{
    ac_dist_local_t me;
    stream_t in = {0};
    run_t r;

    local(&me, OUR_NAME);
    initiator_stream(&in, ERL25_NO_DIGEST & ~(AC_DFLAG_BIG_CREATION | AC_DFLAG_MAP_TAG), PEER_NAME, COOKIE);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EPERM);
    assert_non_null(strstr(r.err.msg, "BIG_CREATION"));
    assert_non_null(strstr(r.err.msg, "MAP_TAG"));
    assert_true(contains(&r.out, "snot_allowed"));

    /* a pre-OTP-23 peer: legacy 'n' without HANDSHAKE_23 */
    memset(&in, 0, sizeof(in));
    put_name_old(&in, (uint32_t)(ERL25_NO_DIGEST & ~AC_DFLAG_HANDSHAKE_23), PEER_NAME);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EPERM);
    assert_non_null(strstr(r.err.msg, "HANDSHAKE_23"));

    /* a request for a dynamic name, which we never assign */
    memset(&in, 0, sizeof(in));
    put_name_new(&in, AC_DFLAG_NAME_ME | ERL25_FLAGS, 1, "localhost", 0); /* the name is then a host name */
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EPERM);
    assert_non_null(strstr(r.err.msg, "NAME_ME"));
    assert_true(contains(&r.out, "snot_allowed"));
}

static void accept_refuses_bad_names(void **state)
{
    static const char *bad[] = {"noatsign", "@localhost", "x@", "a@b@c", "a b@c", "x@y\n"};
    ac_dist_local_t me;
    stream_t in;
    run_t r;
    char longname[400];

    local(&me, OUR_NAME);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&in, 0, sizeof(in));
        initiator_stream(&in, ERL25_FLAGS, bad[i], COOKIE);
        run_accept_mem(&in, &me, COOKIE, &r);
        assert_int_equal(r.rc, -AC_EPERM);
        assert_non_null(strstr(r.err.msg, "malformed node name"));
        assert_true(contains(&r.out, "snot_allowed"));
    }
    /* 256 bytes: over the atom limit */
    memset(longname, 'a', sizeof(longname));
    memcpy(longname, "x@", 2);
    longname[256] = '\0';
    memset(&in, 0, sizeof(in));
    initiator_stream(&in, ERL25_FLAGS, longname, COOKIE);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_ETOOLONG);
    /* the same through the legacy format, where the name is "the rest of the message" */
    memset(&in, 0, sizeof(in));
    put_name_old(&in, (uint32_t)ERL25_FLAGS, longname);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_ETOOLONG);
}

static void accept_refuses_malformed_messages(void **state)
{
    ac_dist_local_t me;
    stream_t in;
    run_t r;
    uint8_t m[64];

    local(&me, OUR_NAME);
    /* an empty message */
    memset(&in, 0, sizeof(in));
    in.b[0] = 0;
    in.b[1] = 0;
    in.len = 2;
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
    /* an unknown tag */
    memset(&in, 0, sizeof(in));
    put_msg(&in, "Xhello", 6);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
    /* 'N' cut inside the flags, inside the creation, before the name length, inside the name */
    for (size_t n = 1; n < 1 + 8 + 4 + 2 + 14; n++) {
        stream_t full = {0};
        put_name_new(&full, ERL25_FLAGS, 1, PEER_NAME, 0);
        memset(&in, 0, sizeof(in));
        put_msg(&in, full.b + 2, n);
        run_accept_mem(&in, &me, COOKIE, &r);
        assert_int_equal(r.rc, -AC_EINVAL);
    }
    /* a name length pointing past the message */
    memset(&in, 0, sizeof(in));
    memcpy(m,
           "N\0\0\0\x0d\x07\xdf\x7f\xbd\0\0\0\1\0\xff"
           "a@b",
           18);
    put_msg(&in, m, 18);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
    /* a challenge reply of the wrong size or tag */
    memset(&in, 0, sizeof(in));
    put_name_new(&in, ERL25_FLAGS, 1, PEER_NAME, 0);
    put_msg(&in, "r\0\0\0\1", 5);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
    memset(&in, 0, sizeof(in));
    put_name_new(&in, ERL25_FLAGS, 1, PEER_NAME, 0);
    memset(m, 0, sizeof(m));
    m[0] = 'R';
    put_msg(&in, m, 21);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
    memset(&in, 0, sizeof(in));
    put_name_new(&in, ERL25_FLAGS, 1, PEER_NAME, 0);
    m[0] = 'r';
    put_msg(&in, m, 22);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
}

static void accept_ignores_data_after_the_name(void **state)
{
    ac_dist_local_t me;
    stream_t in = {0};
    run_t r;

    local(&me, OUR_NAME);
    put_name_new(&in, ERL25_FLAGS, 5, PEER_NAME, 1500); /* longer than what we keep: read and dropped */
    put_reply(&in, PEER_CHALLENGE, COOKIE, FIXED_CHALLENGE);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.peer.name, PEER_NAME);
    assert_int_equal(r.consumed, in.len);
}

static ac_dist_admit_t admit_as(void *ctx, const char *name, uint64_t flags)
{
    assert_string_equal(name, PEER_NAME);
    assert_true(flags == ERL25_FLAGS);
    return *(const ac_dist_admit_t *)ctx;
}

static void accept_sends_the_status_the_caller_chose(void **state)
{
    ac_dist_local_t me;
    stream_t in;
    run_t r;
    ac_dist_admit_t a;

    local(&me, OUR_NAME);
    me.admit = admit_as;
    me.admit_ctx = &a;

    a = AC_DIST_ADMIT_NOK;
    memset(&in, 0, sizeof(in));
    initiator_stream(&in, ERL25_FLAGS, PEER_NAME, COOKIE);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EEXIST);
    assert_true(r.out.len == 6 && memcmp(r.out.b, "\0\4snok", 6) == 0);

    a = AC_DIST_ADMIT_NOT_ALLOWED;
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EPERM);
    assert_true(r.out.len == 14 && memcmp(r.out.b, "\0\14snot_allowed", 14) == 0);

    a = AC_DIST_ADMIT_OK_SIMULTANEOUS;
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, 0);
    assert_true(memcmp(r.out.b, "\0\20sok_simultaneous", 18) == 0);

    /* alive: the peer answers true (go on, replaced) or false (stop) */
    a = AC_DIST_ADMIT_ALIVE;
    memset(&in, 0, sizeof(in));
    put_name_new(&in, ERL25_FLAGS, 1, PEER_NAME, 0);
    put_status(&in, "true");
    put_reply(&in, PEER_CHALLENGE, COOKIE, FIXED_CHALLENGE);
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.peer.replaced, 1);
    assert_true(memcmp(r.out.b, "\0\6salive", 8) == 0);

    memset(&in, 0, sizeof(in));
    put_name_new(&in, ERL25_FLAGS, 1, PEER_NAME, 0);
    put_status(&in, "false");
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EEXIST);

    memset(&in, 0, sizeof(in));
    put_name_new(&in, ERL25_FLAGS, 1, PEER_NAME, 0);
    put_status(&in, "maybe");
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
}

static void handshake_refuses_bad_arguments(void **state)
{
    ac_dist_local_t me;
    stream_t in = {0};
    run_t r;
    char longcookie[300];

    local(&me, OUR_NAME);
    initiator_stream(&in, ERL25_FLAGS, PEER_NAME, COOKIE);
    run_accept_mem(&in, &me, "", &r);
    assert_int_equal(r.rc, -AC_EINVAL);
    memset(longcookie, 'c', sizeof(longcookie));
    longcookie[sizeof(longcookie) - 1] = '\0';
    run_accept_mem(&in, &me, longcookie, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
    me.creation = 3;
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
    local(&me, OUR_NAME);
    strcpy(me.name, "nope");
    run_accept_mem(&in, &me, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
    local(&me, OUR_NAME);
    run_connect_mem(&in, &me, "bad name", COOKIE, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
    assert_int_equal(r.out.len, 0);
    {
        ac_dist_peer_t p;
        ac_errmsg_t err = {{0}};
        assert_int_equal(ac_dist_handshake_accept(-1, &me, COOKIE, 100, &p, &err), -AC_EINVAL);
        assert_int_equal(ac_dist_handshake_connect(-1, &me, NULL, COOKIE, 100, &p, &err), -AC_EINVAL);
        assert_int_equal(ac_dist_handshake_accept_io(NULL, &me, COOKIE, 100, &p, &err), -AC_EINVAL);
    }
}

/* ---- initiator on memory ------------------------------------------------------------------------------------- */

static void connect_completes_against_a_scripted_acceptor(void **state)
{
    ac_dist_local_t me;
    stream_t in = {0}, want = {0};
    run_t r;

    local(&me, OUR_NAME);
    me.creation = 999;
    acceptor_stream(&in, ERL25_FLAGS, PEER_NAME, COOKIE);
    run_connect_mem(&in, &me, PEER_NAME, COOKIE, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.peer.name, PEER_NAME);
    assert_true(r.peer.flags == ERL25_FLAGS);
    assert_int_equal(r.peer.creation, 88);
    assert_int_equal(r.consumed, in.len);

    put_name_new(&want, ac_dist_flags_ours(), 999, OUR_NAME, 0);
    put_reply(&want, FIXED_CHALLENGE, COOKIE, PEER_CHALLENGE);
    assert_int_equal(r.out.len, want.len);
    assert_memory_equal(r.out.b, want.b, want.len);

    /* peer_name NULL: any valid name is taken */
    run_connect_mem(&in, &me, NULL, COOKIE, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.peer.name, PEER_NAME);
}

static void connect_does_not_read_past_the_ack(void **state)
{
    ac_dist_local_t me;
    stream_t in = {0};
    run_t r;

    local(&me, OUR_NAME);
    acceptor_stream(&in, ERL25_FLAGS, PEER_NAME, COOKIE);
    memcpy(in.b + in.len, "\0\0\0\0", 4); /* a tick right behind the ack */
    in.len += 4;
    run_connect_mem(&in, &me, PEER_NAME, COOKIE, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.consumed, in.len - 4);
}

static void connect_fails_cleanly_on_every_truncation(void **state)
{
    ac_dist_local_t me;
    stream_t in = {0}, cut;
    run_t r;

    local(&me, OUR_NAME);
    acceptor_stream(&in, ERL25_FLAGS, PEER_NAME, COOKIE);
    for (size_t len = 0; len < in.len; len++) {
        memcpy(&cut, &in, sizeof(in));
        cut.len = len;
        run_connect_mem(&cut, &me, PEER_NAME, COOKIE, &r);
        assert_true(r.rc == -AC_EIO || r.rc == -AC_EPERM);
        assert_true(r.err.msg[0] != '\0');
        assert_string_equal(r.peer.name, "");
    }
}

static void connect_treats_a_close_after_the_reply_as_refusal(void **state)
{
    ac_dist_local_t me;
    stream_t in = {0};
    run_t r;

    local(&me, OUR_NAME);
    put_status(&in, "ok");
    put_challenge_new(&in, ERL25_FLAGS, PEER_CHALLENGE, 88, PEER_NAME);
    run_connect_mem(&in, &me, PEER_NAME, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EPERM);
    assert_non_null(strstr(r.err.msg, "refused"));
}

static void connect_refuses_a_wrong_ack(void **state)
{
    ac_dist_local_t me;
    stream_t in = {0};
    run_t r;

    local(&me, OUR_NAME);
    acceptor_stream(&in, ERL25_FLAGS, PEER_NAME, WRONG_COOKIE);
    run_connect_mem(&in, &me, PEER_NAME, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EPERM);
    assert_non_null(strstr(r.err.msg, "cookie"));
    assert_null(strstr(r.err.msg, WRONG_COOKIE));

    /* an ack for a different challenge than ours (a replay) */
    memset(&in, 0, sizeof(in));
    put_status(&in, "ok");
    put_challenge_new(&in, ERL25_FLAGS, PEER_CHALLENGE, 88, PEER_NAME);
    put_ack(&in, COOKIE, FIXED_CHALLENGE + 1);
    run_connect_mem(&in, &me, PEER_NAME, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EPERM);
}

static void connect_handles_every_status(void **state)
{
    static const struct {
        const char *status;
        int rc;
    } cases[] = {{"nok", -AC_EEXIST},    {"not_allowed", -AC_EPERM}, {"bogus", -AC_EINVAL},
                 {"named:", -AC_EINVAL}, {"", -AC_EINVAL},           {"ok_simultaneous", 0}};
    ac_dist_local_t me;
    stream_t in;
    run_t r;

    local(&me, OUR_NAME);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&in, 0, sizeof(in));
        put_status(&in, cases[i].status);
        put_challenge_new(&in, ERL25_FLAGS, PEER_CHALLENGE, 88, PEER_NAME);
        put_ack(&in, COOKIE, FIXED_CHALLENGE);
        run_connect_mem(&in, &me, PEER_NAME, COOKIE, &r);
        assert_int_equal(r.rc, cases[i].rc);
    }
    /* "alive" is answered "true" and the handshake goes on */
    memset(&in, 0, sizeof(in));
    put_status(&in, "alive");
    put_challenge_new(&in, ERL25_FLAGS, PEER_CHALLENGE, 88, PEER_NAME);
    put_ack(&in, COOKIE, FIXED_CHALLENGE);
    run_connect_mem(&in, &me, PEER_NAME, COOKIE, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.peer.replaced, 1);
    assert_true(contains(&r.out, "\0\5strue"));
    /* a status with a NUL inside is no status */
    memset(&in, 0, sizeof(in));
    put_msg(&in, "sok\0", 4);
    run_connect_mem(&in, &me, PEER_NAME, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
}

static void connect_checks_the_peer_name_and_flags(void **state)
{
    ac_dist_local_t me;
    stream_t in;
    run_t r;

    local(&me, OUR_NAME);
    memset(&in, 0, sizeof(in));
    acceptor_stream(&in, ERL25_FLAGS, "impostor@localhost", COOKIE);
    run_connect_mem(&in, &me, PEER_NAME, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EPERM);
    assert_non_null(strstr(r.err.msg, "impostor@localhost"));

    memset(&in, 0, sizeof(in));
    acceptor_stream(&in, ERL25_NO_DIGEST & ~AC_DFLAG_NEW_FLOATS, PEER_NAME, COOKIE);
    run_connect_mem(&in, &me, PEER_NAME, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EPERM);
    assert_non_null(strstr(r.err.msg, "NEW_FLOATS"));

    /* the old challenge format parses; an OTP 22 peer is then refused for its flags */
    memset(&in, 0, sizeof(in));
    put_status(&in, "ok");
    put_challenge_old(&in, (uint32_t)(ERL25_NO_DIGEST & ~AC_DFLAG_HANDSHAKE_23), PEER_CHALLENGE, PEER_NAME);
    run_connect_mem(&in, &me, PEER_NAME, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EPERM);
    assert_non_null(strstr(r.err.msg, "HANDSHAKE_23"));
    /* and one that does have the flags completes, without a creation */
    memset(&in, 0, sizeof(in));
    put_status(&in, "ok");
    put_challenge_old(&in, (uint32_t)ERL25_FLAGS, PEER_CHALLENGE, PEER_NAME);
    put_ack(&in, COOKIE, FIXED_CHALLENGE);
    run_connect_mem(&in, &me, PEER_NAME, COOKIE, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.peer.creation, 0);

    memset(&in, 0, sizeof(in));
    put_status(&in, "ok");
    put_msg(&in, "a0123456789abcdef", 17); /* an ack where the challenge belongs */
    run_connect_mem(&in, &me, PEER_NAME, COOKIE, &r);
    assert_int_equal(r.rc, -AC_EINVAL);
}

/* ---- both sides over a socketpair ---------------------------------------------------------------------------- */

typedef struct side {
    int fd;
    const ac_dist_local_t *me;
    const char *cookie;
    const char *peer_name;
    int timeout_ms;
    int tick_after; /* acceptor: send a tick right after a successful handshake */
    int rc;
    ac_dist_peer_t peer;
    ac_errmsg_t err;
} side_t;

static void *accept_thread(void *arg)
{
    side_t *s = arg;
    s->rc = ac_dist_handshake_accept(s->fd, s->me, s->cookie, s->timeout_ms, &s->peer, &s->err);
    if (s->rc == 0 && s->tick_after)
        (void)send(s->fd, "\0\0\0\0", 4, MSG_NOSIGNAL);
    if (s->rc != 0)
        shutdown(s->fd, SHUT_RDWR); /* as a real acceptor would: close */
    return NULL;
}

/* Runs our acceptor (thread) against our initiator (this thread) on a socketpair. */
static void pair_run(side_t *acc, side_t *con)
{
    int sv[2];
    pthread_t t;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    acc->fd = sv[0];
    con->fd = sv[1];
    assert_int_equal(pthread_create(&t, NULL, accept_thread, acc), 0);
    con->rc = ac_dist_handshake_connect(con->fd, con->me, con->peer_name, con->cookie, con->timeout_ms, &con->peer,
                                        &con->err);
    if (con->rc != 0)
        shutdown(con->fd, SHUT_RDWR); /* as a real initiator would: close */
    pthread_join(t, NULL);
}

static void pair_close(side_t *acc, side_t *con)
{
    close(acc->fd);
    close(con->fd);
}

static void pair_completes_and_leaves_the_stream_aligned(void **state)
{
    ac_dist_local_t a, b;
    side_t acc = {0}, con = {0};
    uint8_t tick[4] = {1, 1, 1, 1};
    struct pollfd p;

    local(&a, "acceptor@localhost");
    local(&b, "initiator@localhost");
    acc = (side_t){.me = &a, .cookie = COOKIE, .timeout_ms = 2000, .tick_after = 1};
    con = (side_t){.me = &b, .cookie = COOKIE, .peer_name = "acceptor@localhost", .timeout_ms = 2000};
    pair_run(&acc, &con);
    assert_int_equal(acc.rc, 0);
    assert_int_equal(con.rc, 0);
    assert_string_equal(acc.peer.name, "initiator@localhost");
    assert_string_equal(con.peer.name, "acceptor@localhost");
    assert_true(acc.peer.flags == ac_dist_flags_ours());
    assert_true(con.peer.flags == ac_dist_flags_ours());
    assert_int_equal(acc.peer.creation, b.creation);
    assert_int_equal(con.peer.creation, a.creation);
    /* what follows the handshake is the first 4-byte frame: the tick */
    p = (struct pollfd){.fd = con.fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);
    assert_int_equal(recv(con.fd, tick, sizeof(tick), 0), 4);
    assert_memory_equal(tick, "\0\0\0\0", 4);
    pair_close(&acc, &con);
}

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);
    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

static void pair_over_tcp_sets_nodelay_and_keepalive(void **state)
{
    ac_dist_local_t a, b;
    side_t acc, con;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof(sa);
    int lfd, cfd, afd;
    pthread_t t;

    local(&a, "acceptor@localhost");
    local(&b, "initiator@localhost");
    assert_true((lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, salen), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
    assert_true((cfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(connect(cfd, (struct sockaddr *)&sa, salen), 0);
    assert_true((afd = accept(lfd, NULL, NULL)) >= 0);
    assert_int_equal(sockopt(afd, IPPROTO_TCP, TCP_NODELAY), 0);

    acc = (side_t){.fd = afd, .me = &a, .cookie = COOKIE, .timeout_ms = 2000};
    con = (side_t){.fd = cfd, .me = &b, .cookie = COOKIE, .timeout_ms = 2000};
    assert_int_equal(pthread_create(&t, NULL, accept_thread, &acc), 0);
    con.rc = ac_dist_handshake_connect(cfd, &b, "acceptor@localhost", COOKIE, 2000, &con.peer, &con.err);
    pthread_join(t, NULL);
    assert_int_equal(acc.rc, 0);
    assert_int_equal(con.rc, 0);
    assert_int_equal(sockopt(afd, IPPROTO_TCP, TCP_NODELAY), 1);
    assert_int_equal(sockopt(cfd, IPPROTO_TCP, TCP_NODELAY), 1);
    assert_int_equal(sockopt(afd, SOL_SOCKET, SO_KEEPALIVE), 1);
    assert_int_equal(sockopt(cfd, SOL_SOCKET, SO_KEEPALIVE), 1);
    close(afd);
    close(cfd);
    close(lfd);
}

static void pair_refuses_wrong_cookies_in_both_directions(void **state)
{
    ac_dist_local_t a, b;
    side_t acc, con;

    local(&a, "acceptor@localhost");
    local(&b, "initiator@localhost");
    /* the initiator holds the wrong cookie */
    acc = (side_t){.me = &a, .cookie = COOKIE, .timeout_ms = 2000};
    con = (side_t){.me = &b, .cookie = WRONG_COOKIE, .timeout_ms = 2000};
    pair_run(&acc, &con);
    assert_int_equal(acc.rc, -AC_EPERM);
    assert_int_equal(con.rc, -AC_EPERM);
    assert_non_null(strstr(acc.err.msg, "cookie"));
    assert_non_null(strstr(con.err.msg, "refused"));
    assert_null(strstr(acc.err.msg, COOKIE));
    assert_null(strstr(con.err.msg, WRONG_COOKIE));
    assert_string_equal(acc.peer.name, "");
    assert_string_equal(con.peer.name, "");
    pair_close(&acc, &con);
    /* the acceptor holds the wrong cookie */
    acc = (side_t){.me = &a, .cookie = WRONG_COOKIE, .timeout_ms = 2000};
    con = (side_t){.me = &b, .cookie = COOKIE, .timeout_ms = 2000};
    pair_run(&acc, &con);
    assert_int_equal(acc.rc, -AC_EPERM);
    assert_int_equal(con.rc, -AC_EPERM);
    assert_null(strstr(acc.err.msg, WRONG_COOKIE));
    assert_null(strstr(con.err.msg, COOKIE));
    pair_close(&acc, &con);
}

static ac_dist_admit_t admit_alive(void *ctx, const char *name, uint64_t flags)
{
    return AC_DIST_ADMIT_ALIVE;
}

static ac_dist_admit_t admit_refuse(void *ctx, const char *name, uint64_t flags)
{
    return AC_DIST_ADMIT_NOT_ALLOWED;
}

static void pair_handles_alive_and_refusal(void **state)
{
    ac_dist_local_t a, b;
    side_t acc, con;

    local(&a, "acceptor@localhost");
    local(&b, "initiator@localhost");
    a.admit = admit_alive;
    acc = (side_t){.me = &a, .cookie = COOKIE, .timeout_ms = 2000};
    con = (side_t){.me = &b, .cookie = COOKIE, .timeout_ms = 2000};
    pair_run(&acc, &con);
    assert_int_equal(acc.rc, 0);
    assert_int_equal(con.rc, 0);
    assert_int_equal(acc.peer.replaced, 1);
    assert_int_equal(con.peer.replaced, 1);
    pair_close(&acc, &con);

    a.admit = admit_refuse;
    pair_run(&acc, &con);
    assert_int_equal(acc.rc, -AC_EPERM);
    assert_int_equal(con.rc, -AC_EPERM);
    assert_non_null(strstr(con.err.msg, "not_allowed"));
    pair_close(&acc, &con);
}

static void accept_times_out_on_a_silent_peer(void **state)
{
    ac_dist_local_t a;
    ac_dist_peer_t p;
    ac_errmsg_t err = {{0}};
    int sv[2];
    int64_t t0, dt;

    local(&a, OUR_NAME);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t0 = ac_dist_clock_ms();
    assert_int_equal(ac_dist_handshake_accept(sv[0], &a, COOKIE, 300, &p, &err), -AC_ETIMEDOUT);
    dt = ac_dist_clock_ms() - t0;
    assert_true(dt >= 290 && dt < 1000);
    assert_non_null(strstr(err.msg, "timed out"));
    close(sv[0]);
    close(sv[1]);
}

static void connect_times_out_on_a_silent_peer(void **state)
{
    ac_dist_local_t a;
    ac_dist_peer_t p;
    ac_errmsg_t err = {{0}};
    int sv[2];
    int64_t t0, dt;

    local(&a, OUR_NAME);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t0 = ac_dist_clock_ms();
    assert_int_equal(ac_dist_handshake_connect(sv[0], &a, PEER_NAME, COOKIE, 300, &p, &err), -AC_ETIMEDOUT);
    dt = ac_dist_clock_ms() - t0;
    assert_true(dt >= 290 && dt < 1000);
    close(sv[0]);
    close(sv[1]);
}

typedef struct trickle {
    int fd;
    atomic_int stop;
} trickle_t;

/* Sends a valid send_name one byte every 20 ms: never idle long, never done in time. */
static void *trickle_thread(void *arg)
{
    trickle_t *t = arg;
    stream_t s = {0};

    put_name_new(&s, ERL25_FLAGS, 1, PEER_NAME, 200);
    for (size_t i = 0; i < s.len && !atomic_load(&t->stop); i++) {
        if (send(t->fd, s.b + i, 1, MSG_NOSIGNAL) != 1)
            break;
        usleep(20000);
    }
    return NULL;
}

static void accept_bounds_a_trickling_peer_by_the_overall_timeout(void **state)
{
    ac_dist_local_t a;
    ac_dist_peer_t p;
    ac_errmsg_t err = {{0}};
    trickle_t t;
    pthread_t th;
    int sv[2];
    int64_t t0, dt;

    local(&a, OUR_NAME);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t.fd = sv[1];
    atomic_init(&t.stop, 0);
    assert_int_equal(pthread_create(&th, NULL, trickle_thread, &t), 0);
    t0 = ac_dist_clock_ms();
    assert_int_equal(ac_dist_handshake_accept(sv[0], &a, COOKIE, 300, &p, &err), -AC_ETIMEDOUT);
    dt = ac_dist_clock_ms() - t0;
    assert_true(dt >= 290 && dt < 1000);
    atomic_store(&t.stop, 1);
    pthread_join(th, NULL);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flags_ours_are_ei_flags_plus_spawn),
        cmocka_unit_test(flags_mandatory_sets_follow_otp),
        cmocka_unit_test(flags_table_is_well_formed),
        cmocka_unit_test(flags_check_accepts_otp_and_ei_peers),
        cmocka_unit_test(flags_check_names_every_missing_flag),
        cmocka_unit_test(flags_describe_is_readable_and_bounded),
        cmocka_unit_test(node_names_are_checked),
        cmocka_unit_test(local_init_picks_a_creation_of_at_least_4),
        cmocka_unit_test(digest_is_md5_of_cookie_and_unsigned_decimal),
        cmocka_unit_test(accept_completes_against_a_scripted_initiator),
        cmocka_unit_test(accept_fails_cleanly_on_every_truncation),
        cmocka_unit_test(accept_refuses_a_wrong_cookie_without_saying_it),
        cmocka_unit_test(accept_takes_legacy_send_name_with_complement),
        cmocka_unit_test(accept_refuses_peers_missing_mandatory_flags),
        cmocka_unit_test(accept_refuses_bad_names),
        cmocka_unit_test(accept_refuses_malformed_messages),
        cmocka_unit_test(accept_ignores_data_after_the_name),
        cmocka_unit_test(accept_sends_the_status_the_caller_chose),
        cmocka_unit_test(handshake_refuses_bad_arguments),
        cmocka_unit_test(connect_completes_against_a_scripted_acceptor),
        cmocka_unit_test(connect_does_not_read_past_the_ack),
        cmocka_unit_test(connect_fails_cleanly_on_every_truncation),
        cmocka_unit_test(connect_treats_a_close_after_the_reply_as_refusal),
        cmocka_unit_test(connect_refuses_a_wrong_ack),
        cmocka_unit_test(connect_handles_every_status),
        cmocka_unit_test(connect_checks_the_peer_name_and_flags),
        cmocka_unit_test(pair_completes_and_leaves_the_stream_aligned),
        cmocka_unit_test(pair_over_tcp_sets_nodelay_and_keepalive),
        cmocka_unit_test(pair_refuses_wrong_cookies_in_both_directions),
        cmocka_unit_test(pair_handles_alive_and_refusal),
        cmocka_unit_test(accept_times_out_on_a_silent_peer),
        cmocka_unit_test(connect_times_out_on_a_silent_peer),
        cmocka_unit_test(accept_bounds_a_trickling_peer_by_the_overall_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
