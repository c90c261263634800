/* dist/handshake.h - the Erlang distribution handshake, version 6 (OTP 23+), as acceptor and as initiator.
 *
 * Spec: erts user's guide, "Distribution Protocol", section "Distribution Handshake" (OTP 25 edition), and
 * kernel/src/dist_util.erl for the legacy 'n' send_name and its 'c' complement, which OTP 25.3+ still accepts.
 * A (initiator, ac_dist_handshake_connect)          B (acceptor, ac_dist_handshake_accept)
 *   send_name            'N' flags:64 creation:32 nlen:16 name   ->
 *                     <- 's' status ("ok", "ok_simultaneous", "nok", "not_allowed", "alive")   send_status
 *   ("alive" only:)      's' "true" | "false"    ->
 *                     <- 'N' flags:64 challenge:32 creation:32 nlen:16 name                     send_challenge
 *   (legacy 'n' only:)   'c' flags_hi:32 creation:32   ->                                       recv_complement
 *   send_challenge_reply 'r' challenge:32 digest[16]  ->   digest = md5(cookie ++ decimal(B's challenge))
 *                     <- 'a' digest[16]                                                          send_challenge_ack
 * Every message carries a 2-byte big-endian length (dist/frame.h); afterwards the stream switches to 4-byte frames.
 *
 * Security: the digests are compared in constant time (ac_policy_crypto_ct_equal); the cookie and the digests never
 * appear in an error message or a log line; a peer must hold OTP 25's mandatory flags (dist/flags.h); peer names are
 * bounded and restricted to a safe character set before anyone logs them; every step runs against one overall
 * deadline, so a silent or trickling peer costs at most `timeout_ms`. */
#ifndef AC_DIST_HANDSHAKE_H
#define AC_DIST_HANDSHAKE_H

#include "policy/error.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A node name is an atom: at most 255 bytes ("alive@host"). */
#define AC_DIST_NODE_NAME_MAX 255
/* The cookie is an atom too; we accept up to this many bytes. */
#define AC_DIST_COOKIE_MAX 255
/* OTP's net_setuptime default (7 s), a sensible timeout_ms for callers without their own. */
#define AC_DIST_HANDSHAKE_TIMEOUT_DEFAULT_MS 7000

/* What the acceptor answers a well-formed send_name with (the statuses of the spec, step 3). */
typedef enum {
    AC_DIST_ADMIT_OK = 0,          /* "ok": go on */
    AC_DIST_ADMIT_OK_SIMULTANEOUS, /* "ok_simultaneous": go on; our own attempt to this peer will be shut down */
    AC_DIST_ADMIT_NOK,             /* "nok": we have our own attempt in progress and it wins; -AC_EEXIST */
    AC_DIST_ADMIT_NOT_ALLOWED,     /* "not_allowed": refused; -AC_EPERM */
    AC_DIST_ADMIT_ALIVE,           /* "alive": already connected; the peer answers "true" (replace, go on) or "false" */
} ac_dist_admit_t;

/* Asked by the acceptor once the peer's name and flags have passed the checks, before anything is authenticated:
 * the name is only claimed at that point, so the callback must decide from connection state alone ("already
 * connected?") and have no side effects: the handshake may still fail after it ran. */
typedef ac_dist_admit_t (*ac_dist_admit_fn)(void *ctx, const char *peer_name, uint64_t peer_flags);

/* Our side of a connection. */
typedef struct ac_dist_local {
    char name[AC_DIST_NODE_NAME_MAX + 1]; /* full node name, e.g. "alexclaw@localhost" */
    uint64_t flags;                       /* what we advertise; ac_dist_flags_ours() */
    uint32_t creation;                    /* this incarnation's creation, >= 4, new on every start */
    ac_dist_admit_fn admit;               /* acceptor only; NULL answers "ok" to every acceptable peer */
    void *admit_ctx;
} ac_dist_local_t;

/* The authenticated peer, filled only when a handshake succeeds. */
typedef struct ac_dist_peer {
    char name[AC_DIST_NODE_NAME_MAX + 1];
    uint64_t flags;    /* as advertised, with MANDATORY_25_DIGEST expanded (ac_dist_flags_expand) */
    uint32_t creation; /* 0 only when an old-style challenge 'n' carried none */
    int replaced;      /* 1 when an "alive" status was answered "true": the older connection to this peer is stale
                          and the caller must close it */
} ac_dist_peer_t;

/* Fills *me for the node `name`: flags = ac_dist_flags_ours(), a fresh random creation >= 4, no admit callback.
 * Returns 0; -AC_EINVAL with err for a name that fails ac_dist_node_name_check(); -AC_ECRYPTO. */
int ac_dist_local_init(ac_dist_local_t *me, const char *name, ac_errmsg_t *err);

/* Checks the syntax of a full node name: "alive@host", 3 to 255 bytes, exactly one '@', a non-empty alive part of
 * [A-Za-z0-9_.+-] and a non-empty host part of [A-Za-z0-9_.:-] (so a name is always safe to log and to compare).
 * Returns 0, or -AC_EINVAL with err saying what is wrong (the name itself is not repeated when it is malformed). */
int ac_dist_node_name_check(const char *name, size_t len, ac_errmsg_t *err);

/* ---- the transport --------------------------------------------------------------------------------------------- */

/* What the handshake needs from a byte stream. The socket version (below) polls one fd; ac_dist_io_mem_t runs the
 * same code on buffers for tests and fuzzing. Deadlines are CLOCK_MONOTONIC milliseconds (ac_dist_clock_ms()). */
typedef struct ac_dist_io {
    /* Reads 1..n bytes. Returns the count, 0 at end of stream, -AC_ETIMEDOUT once the deadline passed, -AC_EIO. */
    ssize_t (*read)(void *ctx, void *buf, size_t n, int64_t deadline_ms);
    /* Writes all n bytes. Returns 0, -AC_ETIMEDOUT, or -AC_EIO (the peer went away). */
    int (*write)(void *ctx, const void *buf, size_t n, int64_t deadline_ms);
    /* Optional: n random bytes for challenges. NULL means ac_policy_crypto_random(); only tests set it. */
    int (*random)(void *ctx, void *buf, size_t n);
    void *ctx;
} ac_dist_io_t;

/* Now on CLOCK_MONOTONIC, in milliseconds. */
int64_t ac_dist_clock_ms(void);

/* An in-memory transport: reads come from `in` (end of stream after in_len bytes), writes are appended to `out`
 * (-AC_EIO once out_cap would be exceeded). Deadlines are ignored. */
typedef struct ac_dist_io_mem {
    const uint8_t *in;
    size_t in_len, in_pos;
    uint8_t *out;
    size_t out_cap, out_len;
} ac_dist_io_mem_t;

/* Sets up *m over the caller's buffers (which must outlive it) and *io to use it; io->random stays NULL. */
void ac_dist_io_mem_init(ac_dist_io_mem_t *m, ac_dist_io_t *io, const uint8_t *in, size_t in_len, uint8_t *out,
                         size_t out_cap);

/* ---- the handshake ------------------------------------------------------------------------------------------------ */

/* Acceptor side on a connected socket fd (blocking or not; its mode is left as it was; reads and writes use
 * recv/send with MSG_DONTWAIT and MSG_NOSIGNAL, so it must be a socket). Runs recv_name ('N', or the
 * legacy 'n' followed later by 'c'), checks the name and the flags, send_status (from me->admit), send_challenge,
 * recv_challenge_reply (digest checked in constant time) and send_challenge_ack. On success it sets TCP_NODELAY and
 * SO_KEEPALIVE on TCP sockets. Never blocks past timeout_ms (> 0) in total.
 * me: initialised (ac_dist_local_init). cookie: NUL-terminated, 1..AC_DIST_COOKIE_MAX bytes.
 * OUT: *peer on success (zeroed on failure).
 * Returns 0;
 *   -AC_EPERM: wrong cookie ("node X failed the cookie challenge"), flags missing, a refused or malformed name
 *              ("not_allowed" sent), or the peer asked for a dynamic name (NAME_ME);
 *   -AC_EEXIST: refused as "nok", or the peer answered "alive" with "false";
 *   -AC_EINVAL: malformed message, or bad arguments; -AC_ETOOLONG: a field over its bound;
 *   -AC_EIO: the peer closed or the socket failed; -AC_ETIMEDOUT; -AC_ECRYPTO; -AC_ESYS (socket options).
 * err says which step failed; it never holds the cookie or a digest. The fd is never closed here. */
int ac_dist_handshake_accept(int fd, const ac_dist_local_t *me, const char *cookie, int timeout_ms,
                             ac_dist_peer_t *peer, ac_errmsg_t *err);

/* Initiator side on a socket connected to the peer's distribution port: send_name ('N' with HANDSHAKE_23),
 * recv_status ("ok", "ok_simultaneous"; "alive" is answered "true"), recv_challenge ('N', or the old 'n'), checks the
 * peer's name (equal to peer_name when that is not NULL) and flags, send_challenge_reply, recv_challenge_ack (checked
 * in constant time). Socket options and timeout as for accept.
 * Returns 0;
 *   -AC_EPERM: status "not_allowed", the peer's ack is wrong, or the peer closed the connection after our challenge
 *              reply (what an OTP node does when the cookies differ: "refused, most likely a cookie mismatch"),
 *              flags missing, or the peer answered under another name;
 *   -AC_EEXIST: status "nok"; other codes as for accept. */
int ac_dist_handshake_connect(int fd, const ac_dist_local_t *me, const char *peer_name, const char *cookie,
                              int timeout_ms, ac_dist_peer_t *peer, ac_errmsg_t *err);

/* The same two on any transport (no socket options are touched). */
int ac_dist_handshake_accept_io(const ac_dist_io_t *io, const ac_dist_local_t *me, const char *cookie, int timeout_ms,
                                ac_dist_peer_t *peer, ac_errmsg_t *err);
int ac_dist_handshake_connect_io(const ac_dist_io_t *io, const ac_dist_local_t *me, const char *peer_name,
                                 const char *cookie, int timeout_ms, ac_dist_peer_t *peer, ac_errmsg_t *err);

/* The digest of the spec: md5(cookie ++ decimal(challenge)), challenge read as unsigned. Exposed for tests.
 * OUT: out[16]; the caller zeroes it when done. Returns 0 or -AC_ECRYPTO. */
int ac_dist_handshake_digest(const char *cookie, uint32_t challenge, uint8_t out[16]);

#endif
