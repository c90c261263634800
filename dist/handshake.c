/* dist/handshake.c - the version-6 distribution handshake (OTP 23+), both sides, over a small transport interface.
 *
 * This is where a peer proves it holds the cookie and where we prove the same to it, so it is written for hostile
 * input: every message is length-checked before it is parsed, parsed through the bounded reader of dist/frame.h,
 * names are validated before they reach a log or an error, digests are compared in constant time and wiped after
 * use, and one deadline bounds the whole exchange. One function per message and direction, named as in the spec
 * (send_name/recv_name, send_status/recv_status, send_challenge/recv_challenge, recv_complement,
 * send_challenge_reply/recv_challenge_reply, send_challenge_ack/recv_challenge_ack). The message layouts are drawn
 * in handshake.h. The transport is ac_dist_io_t: the socket version below, or memory buffers for tests and fuzzing.
 *
 * Reads never go past the end of the current handshake message: data the peer sends right after the handshake (OTP
 * often sends a tick at once) stays in the socket for the connection's own reader. */
#include "dist/handshake.h"

#include "dist/flags.h"
#include "dist/frame.h"
#include "node/log.h"
#include "policy/crypto.h"
#include "policy/error.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#define DIGEST_LEN 16
/* The longest handshake message we keep: a challenge 'N' is 19 bytes plus a name of at most 255; anything a peer
 * appends after the name ("must be accepted and ignored") is read and dropped. */
#define HS_BUF 512
/* Status strings are short ("ok_simultaneous" is the longest we accept). */
#define STATUS_MAX 32
#define LOW32      UINT64_C(0xffffffff)

/* ---- transport: sockets ------------------------------------------------------------------------------------------ */

int64_t ac_dist_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for `events` or the deadline passes. Returns 0, -AC_ETIMEDOUT or -AC_EIO. */
static int fd_wait(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - ac_dist_clock_ms();
        struct pollfd p = {.fd = fd, .events = events};
        int n;

        if (left <= 0)
            return -AC_ETIMEDOUT;
        n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 0; /* readable, writable, or an error/hangup the next recv/send reports */
        if (n < 0 && errno != EINTR)
            return -AC_EIO;
    }
}

static ssize_t fd_read(void *ctx, void *buf, size_t n, int64_t deadline_ms)
{
    int fd = *(const int *)ctx;

    for (;;) {
        /* MSG_DONTWAIT: a blocking fd must not block us past the deadline. */
        ssize_t r = recv(fd, buf, n, MSG_DONTWAIT);
        int rc;

        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -AC_EIO;
        if ((rc = fd_wait(fd, POLLIN, deadline_ms)) != 0)
            return rc;
    }
}

static int fd_write(void *ctx, const void *buf, size_t n, int64_t deadline_ms)
{
    int fd = *(const int *)ctx;
    const uint8_t *p = buf;

    while (n > 0) {
        /* MSG_NOSIGNAL: a peer that went away is an error here, not a SIGPIPE for the whole process. */
        ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        int rc;

        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -AC_EIO;
        if ((rc = fd_wait(fd, POLLOUT, deadline_ms)) != 0)
            return rc;
    }
    return 0;
}

/* After a successful handshake: no Nagle (pitfall P13: +40 ms per request/response otherwise) and keep-alives.
 * Only TCP sockets have these; a Unix socketpair (tests) is left alone. */
static int tune_socket(int fd, ac_errmsg_t *err)
{
    int domain = 0, one = 1;
    socklen_t len = sizeof(domain);

    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0)
        return ac_errmsg_set(err, -AC_ESYS, "getsockopt(SO_DOMAIN) failed: %s", strerror(errno));
    if (domain != AF_INET && domain != AF_INET6)
        return 0;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) != 0)
        return ac_errmsg_set(err, -AC_ESYS, "setting TCP_NODELAY/SO_KEEPALIVE failed: %s", strerror(errno));
    return 0;
}

/* ---- transport: memory ------------------------------------------------------------------------------------------- */

static ssize_t mem_read(void *ctx, void *buf, size_t n, int64_t deadline_ms)
{
    ac_dist_io_mem_t *m = ctx;
    size_t left = m->in_len - m->in_pos;

    (void)deadline_ms;
    if (n > left)
        n = left;
    if (n > 0)
        memcpy(buf, m->in + m->in_pos, n);
    m->in_pos += n;
    return (ssize_t)n;
}

static int mem_write(void *ctx, const void *buf, size_t n, int64_t deadline_ms)
{
    ac_dist_io_mem_t *m = ctx;

    (void)deadline_ms;
    if (n > m->out_cap - m->out_len)
        return -AC_EIO;
    if (n > 0)
        memcpy(m->out + m->out_len, buf, n);
    m->out_len += n;
    return 0;
}

void ac_dist_io_mem_init(ac_dist_io_mem_t *m, ac_dist_io_t *io, const uint8_t *in, size_t in_len, uint8_t *out,
                         size_t out_cap)
{
    *m = (ac_dist_io_mem_t){.in = in, .in_len = in != NULL ? in_len : 0, .out = out, .out_cap = out ? out_cap : 0};
    *io = (ac_dist_io_t){.read = mem_read, .write = mem_write, .random = NULL, .ctx = m};
}

/* ---- names, cookie, digest --------------------------------------------------------------------------------------- */

static int alive_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == '+';
}

static int host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ':';
}

int ac_dist_node_name_check(const char *name, size_t len, ac_errmsg_t *err)
{
    size_t at = len;

    if (name == NULL || len == 0)
        return ac_errmsg_set(err, -AC_EINVAL, "node name is empty");
    if (len > AC_DIST_NODE_NAME_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "node name is %zu bytes, longer than %d", len, AC_DIST_NODE_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '@') {
            if (at != len)
                return ac_errmsg_set(err, -AC_EINVAL, "node name has more than one '@'");
            at = i;
        } else if (at == len ? !alive_char(c) : !host_char(c)) {
            return ac_errmsg_set(err, -AC_EINVAL,
                                 "node name has a character outside [A-Za-z0-9_.+-]@[A-Za-z0-9_.:-] "
                                 "(byte 0x%02x at offset %zu)",
                                 c, i);
        }
    }
    if (at == len)
        return ac_errmsg_set(err, -AC_EINVAL, "node name has no '@' (expected name@host)");
    if (at == 0 || at == len - 1)
        return ac_errmsg_set(err, -AC_EINVAL, "node name has an empty %s part", at == 0 ? "name" : "host");
    return 0;
}

int ac_dist_handshake_digest(const char *cookie, uint32_t challenge, uint8_t out[DIGEST_LEN])
{
    EVP_MD_CTX *ctx = NULL;
    char dec[16];
    unsigned int outlen = 0;
    int n, ret = -AC_ECRYPTO;

    /* The spec's gen_digest: MD5 over the cookie followed by the challenge as unsigned decimal text. */
    n = snprintf(dec, sizeof(dec), "%u", (unsigned)challenge);
    if ((ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, cookie, strlen(cookie)) != 1 || EVP_DigestUpdate(ctx, dec, (size_t)n) != 1 ||
        EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != DIGEST_LEN) {
        OPENSSL_cleanse(out, DIGEST_LEN);
        ERR_clear_error();
        goto Exit;
    }
    ret = 0;

Exit:
    EVP_MD_CTX_free(ctx);
    return ret;
}

int ac_dist_local_init(ac_dist_local_t *me, const char *name, ac_errmsg_t *err)
{
    uint32_t c = 0;
    int ret;

    memset(me, 0, sizeof(*me));
    if (name == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "node name is empty");
    if ((ret = ac_dist_node_name_check(name, strlen(name), err)) != 0)
        return ret;
    /* Creations 0..3 are special to OTP (pitfall P4); a random 32-bit value keeps stale pids of an earlier
     * incarnation from ever matching this one. */
    while (c < 4)
        if ((ret = ac_policy_crypto_random(&c, sizeof(c))) != 0)
            return ac_errmsg_set(err, ret, "no random creation: %s", ac_strerror(ret));
    memcpy(me->name, name, strlen(name) + 1);
    me->flags = ac_dist_flags_ours();
    me->creation = c;
    return 0;
}

/* ---- message I/O ------------------------------------------------------------------------------------------------- */

typedef struct hs {
    const ac_dist_io_t *io;
    int64_t deadline;
    int timeout_ms;
    ac_errmsg_t *err;
    const char *who; /* "peer" until its name has been checked, then the name */
    int closed;      /* the last recv found end of stream before the first byte of a message */
} hs_t;

/* What a name or challenge message told us. */
typedef struct hello {
    char name[AC_DIST_NODE_NAME_MAX + 1];
    uint64_t flags;
    uint32_t creation;
    uint32_t challenge; /* challenge messages only */
    int legacy;         /* the old 'n' format: flags are the low 32 bits, no creation */
} hello_t;

static int io_fail(hs_t *hs, int rc, const char *step, const char *when)
{
    if (rc == -AC_ETIMEDOUT)
        return ac_errmsg_set(hs->err, rc, "handshake with %s timed out (%d ms) %s %s", hs->who, hs->timeout_ms, when,
                             step);
    return ac_errmsg_set(hs->err, -AC_EIO, "connection to %s failed %s %s", hs->who, when, step);
}

/* Reads exactly n bytes. Returns 0; -AC_EIO on end of stream (*got says how many bytes came first); or the
 * transport's error. */
static int read_exact(hs_t *hs, uint8_t *buf, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t r = hs->io->read(hs->io->ctx, buf + *got, n - *got, hs->deadline);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return -AC_EIO;
        *got += (size_t)r;
    }
    return 0;
}

/* Receives one handshake message. OUT: buf receives its first min(length, cap) bytes, *kept how many, *full the
 * length the peer announced (the rest is read and dropped). Returns 0 or a negative code with hs->err set. */
static int hs_recv_msg(hs_t *hs, const char *step, uint8_t *buf, size_t cap, size_t *kept, size_t *full)
{
    uint8_t hdr[AC_DIST_HS_HDR_LEN], drop[64];
    ac_dist_rd_t rd;
    uint16_t len;
    size_t got;
    int rc;

    hs->closed = 0;
    if ((rc = read_exact(hs, hdr, sizeof(hdr), &got)) != 0) {
        if (rc == -AC_EIO && got == 0) {
            hs->closed = 1;
            return ac_errmsg_set(hs->err, -AC_EIO, "%s closed the connection before %s", hs->who, step);
        }
        return io_fail(hs, rc, step, "while receiving");
    }
    ac_dist_rd_init(&rd, hdr, sizeof(hdr));
    ac_dist_rd_u16(&rd, &len);
    if (len == 0)
        return ac_errmsg_set(hs->err, -AC_EINVAL, "%s sent an empty handshake message in %s", hs->who, step);
    *full = len;
    *kept = len < cap ? len : cap;
    if ((rc = read_exact(hs, buf, *kept, &got)) != 0)
        return rc == -AC_EIO ? ac_errmsg_set(hs->err, rc, "%s closed the connection in the middle of %s", hs->who, step)
                             : io_fail(hs, rc, step, "while receiving");
    for (size_t left = len - *kept; left > 0;) {
        size_t n = left < sizeof(drop) ? left : sizeof(drop);
        if ((rc = read_exact(hs, drop, n, &got)) != 0)
            return rc == -AC_EIO
                       ? ac_errmsg_set(hs->err, rc, "%s closed the connection in the middle of %s", hs->who, step)
                       : io_fail(hs, rc, step, "while receiving");
        left -= n;
    }
    return 0;
}

/* Sends one handshake message: the 2-byte length, then the payload the writer holds. */
static int hs_send_msg(hs_t *hs, const char *step, const ac_dist_wr_t *payload)
{
    uint8_t buf[AC_DIST_HS_HDR_LEN + HS_BUF];
    ac_dist_wr_t wr;
    int rc;

    ac_dist_wr_init(&wr, buf, sizeof(buf));
    ac_dist_wr_u16(&wr, (uint16_t)payload->len);
    ac_dist_wr_bytes(&wr, payload->p, payload->len);
    if (payload->err != 0 || wr.err != 0 || payload->len > UINT16_MAX)
        return ac_errmsg_set(hs->err, -AC_ETOOLONG, "%s message too long", step);
    rc = hs->io->write(hs->io->ctx, buf, wr.len, hs->deadline);
    OPENSSL_cleanse(buf, sizeof(buf)); /* may have held a digest */
    return rc == 0 ? 0 : io_fail(hs, rc, step, "while sending");
}

/* Puts `prefix` in front of the sentence already in err (which cannot be both source and target of one
 * ac_errmsg_set). Returns code. */
static int err_prefix(ac_errmsg_t *err, int code, const char *prefix)
{
    char why[AC_ERRMSG_MAX];

    if (err == NULL)
        return code;
    snprintf(why, sizeof(why), "%s", err->msg);
    return ac_errmsg_set(err, code, "%s: %s", prefix, why);
}

/* Parses "nlen:16 name" (new format) or "name = the rest" (legacy) into h->name and checks its syntax. */
static int parse_name(hs_t *hs, ac_dist_rd_t *rd, size_t full, int legacy, hello_t *h, const char *step)
{
    size_t n;
    uint16_t nlen;

    if (legacy) {
        /* The name is the rest of the message, of which we may have kept only a prefix. */
        n = ac_dist_rd_left(rd) + (full - rd->len);
    } else {
        if (ac_dist_rd_u16(rd, &nlen) != 0)
            return ac_errmsg_set(hs->err, -AC_EINVAL, "%s: message from %s truncated before the name", step, hs->who);
        n = nlen;
    }
    if (n > AC_DIST_NODE_NAME_MAX)
        return ac_errmsg_set(hs->err, -AC_ETOOLONG, "%s: %s announced a %zu-byte node name (limit %d)", step, hs->who,
                             n, AC_DIST_NODE_NAME_MAX);
    if (ac_dist_rd_cstr(rd, n, h->name, sizeof(h->name)) != 0)
        return ac_errmsg_set(hs->err, -AC_EINVAL, "%s: the node name from %s is truncated", step, hs->who);
    /* Bytes after the name in an 'N' message are allowed by the spec and ignored. */
    if (ac_dist_node_name_check(h->name, n, hs->err) != 0) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "%s: refused a malformed node name", step);
        return err_prefix(hs->err, -AC_EPERM, prefix);
    }
    return 0;
}

/* ---- the messages ------------------------------------------------------------------------------------------------ */

/* A -> B: 'N' flags:64 creation:32 nlen:16 name. */
static int send_name(hs_t *hs, const ac_dist_local_t *me)
{
    uint8_t buf[HS_BUF];
    ac_dist_wr_t wr;
    size_t n = strlen(me->name);

    ac_dist_wr_init(&wr, buf, sizeof(buf));
    ac_dist_wr_u8(&wr, 'N');
    ac_dist_wr_u64(&wr, me->flags);
    ac_dist_wr_u32(&wr, me->creation);
    ac_dist_wr_u16(&wr, (uint16_t)n);
    ac_dist_wr_bytes(&wr, me->name, n);
    return hs_send_msg(hs, "send_name", &wr);
}

/* B <- A: 'N' flags:64 creation:32 nlen:16 name [ignored], or legacy 'n' version:16 flags:32 name. */
static int recv_name(hs_t *hs, hello_t *h)
{
    uint8_t buf[HS_BUF];
    ac_dist_rd_t rd;
    size_t kept, full;
    uint8_t tag;
    uint16_t version;
    uint32_t flags32;
    int rc;

    if ((rc = hs_recv_msg(hs, "recv_name", buf, sizeof(buf), &kept, &full)) != 0)
        return rc;
    ac_dist_rd_init(&rd, buf, kept);
    ac_dist_rd_u8(&rd, &tag);
    if (tag == 'N') {
        if (ac_dist_rd_u64(&rd, &h->flags) != 0 || ac_dist_rd_u32(&rd, &h->creation) != 0)
            return ac_errmsg_set(hs->err, -AC_EINVAL, "recv_name: message truncated (%zu bytes)", full);
        h->legacy = 0;
        /* Checked before the name, which is then only a host name. */
        if (h->flags & AC_DFLAG_NAME_ME)
            return ac_errmsg_set(hs->err, -AC_EPERM,
                                 "recv_name: the peer asked for a dynamic node name (NAME_ME), which we do not assign");
    } else if (tag == 'n') {
        if (ac_dist_rd_u16(&rd, &version) != 0 || ac_dist_rd_u32(&rd, &flags32) != 0)
            return ac_errmsg_set(hs->err, -AC_EINVAL, "recv_name: legacy message truncated (%zu bytes)", full);
        h->flags = flags32;
        h->creation = 0;
        h->legacy = 1;
    } else {
        return ac_errmsg_set(hs->err, -AC_EINVAL, "recv_name: unexpected tag 0x%02x (expected 'N' or 'n')", tag);
    }
    return parse_name(hs, &rd, full, h->legacy, h, "recv_name");
}

/* B -> A (and A -> B after "alive"): 's' status. */
static int send_status(hs_t *hs, const char *status)
{
    uint8_t buf[STATUS_MAX + 1];
    ac_dist_wr_t wr;

    ac_dist_wr_init(&wr, buf, sizeof(buf));
    ac_dist_wr_u8(&wr, 's');
    ac_dist_wr_bytes(&wr, status, strlen(status));
    return hs_send_msg(hs, "send_status", &wr);
}

/* A refusal on the way out: best effort, and it must not replace the reason already in hs->err. */
static void send_status_quietly(hs_t *hs, const char *status)
{
    ac_errmsg_t *saved = hs->err;
    hs->err = NULL;
    (void)send_status(hs, status);
    hs->err = saved;
}

/* <- 's' status. OUT: status as a NUL-terminated string (cap bytes): "named:" for a dynamic-name status (whatever
 * follows it), "" for one too long for cap or holding a NUL byte, else the text. */
static int recv_status(hs_t *hs, char *status, size_t cap)
{
    uint8_t buf[STATUS_MAX + 1];
    ac_dist_rd_t rd;
    size_t kept, full, n;
    uint8_t tag;
    int rc;

    if ((rc = hs_recv_msg(hs, "recv_status", buf, sizeof(buf), &kept, &full)) != 0)
        return rc;
    ac_dist_rd_init(&rd, buf, kept);
    ac_dist_rd_u8(&rd, &tag);
    if (tag != 's')
        return ac_errmsg_set(hs->err, -AC_EINVAL, "recv_status: unexpected tag 0x%02x (expected 's')", tag);
    status[0] = '\0'; /* matches no known status */
    n = ac_dist_rd_left(&rd);
    if (n >= 6 && memcmp(buf + 1, "named:", 6) == 0)
        snprintf(status, cap, "named:"); /* followed by binary data; recognised, never used */
    else if (full == kept && n < cap && memchr(buf + 1, '\0', n) == NULL)
        ac_dist_rd_cstr(&rd, n, status, cap);
    return 0;
}

/* B -> A: 'N' flags:64 challenge:32 creation:32 nlen:16 name. */
static int send_challenge(hs_t *hs, const ac_dist_local_t *me, uint32_t challenge)
{
    uint8_t buf[HS_BUF];
    ac_dist_wr_t wr;
    size_t n = strlen(me->name);

    ac_dist_wr_init(&wr, buf, sizeof(buf));
    ac_dist_wr_u8(&wr, 'N');
    ac_dist_wr_u64(&wr, me->flags);
    ac_dist_wr_u32(&wr, challenge);
    ac_dist_wr_u32(&wr, me->creation);
    ac_dist_wr_u16(&wr, (uint16_t)n);
    ac_dist_wr_bytes(&wr, me->name, n);
    return hs_send_msg(hs, "send_challenge", &wr);
}

/* A <- B: 'N' flags:64 challenge:32 creation:32 nlen:16 name [ignored], or old 'n' version:16 flags:32 challenge:32
 * name. */
static int recv_challenge(hs_t *hs, hello_t *h)
{
    uint8_t buf[HS_BUF];
    ac_dist_rd_t rd;
    size_t kept, full;
    uint8_t tag;
    uint16_t version;
    uint32_t flags32;
    int rc;

    if ((rc = hs_recv_msg(hs, "recv_challenge", buf, sizeof(buf), &kept, &full)) != 0)
        return rc;
    ac_dist_rd_init(&rd, buf, kept);
    ac_dist_rd_u8(&rd, &tag);
    if (tag == 'N') {
        if (ac_dist_rd_u64(&rd, &h->flags) != 0 || ac_dist_rd_u32(&rd, &h->challenge) != 0 ||
            ac_dist_rd_u32(&rd, &h->creation) != 0)
            return ac_errmsg_set(hs->err, -AC_EINVAL, "recv_challenge: message truncated (%zu bytes)", full);
        h->legacy = 0;
    } else if (tag == 'n') {
        if (ac_dist_rd_u16(&rd, &version) != 0 || ac_dist_rd_u32(&rd, &flags32) != 0 ||
            ac_dist_rd_u32(&rd, &h->challenge) != 0)
            return ac_errmsg_set(hs->err, -AC_EINVAL, "recv_challenge: old-style message truncated (%zu bytes)", full);
        h->flags = flags32;
        h->creation = 0;
        h->legacy = 1;
    } else {
        return ac_errmsg_set(hs->err, -AC_EINVAL, "recv_challenge: unexpected tag 0x%02x (expected 'N' or 'n')", tag);
    }
    return parse_name(hs, &rd, full, h->legacy, h, "recv_challenge");
}

/* B <- A, after a legacy 'n' send_name: 'c' flags_high:32 creation:32 (dist_util:recv_complement/1). */
static int recv_complement(hs_t *hs, hello_t *h)
{
    uint8_t buf[16];
    ac_dist_rd_t rd;
    size_t kept, full;
    uint8_t tag = 0;
    uint32_t hi, creation;
    int rc;

    if ((rc = hs_recv_msg(hs, "recv_complement", buf, sizeof(buf), &kept, &full)) != 0)
        return rc;
    ac_dist_rd_init(&rd, buf, kept);
    if (full != 9 || ac_dist_rd_u8(&rd, &tag) != 0 || tag != 'c' || ac_dist_rd_u32(&rd, &hi) != 0 ||
        ac_dist_rd_u32(&rd, &creation) != 0)
        return ac_errmsg_set(hs->err, -AC_EINVAL, "recv_complement: expected 'c' in 9 bytes, got tag 0x%02x in %zu",
                             tag, full);
    h->flags |= (uint64_t)hi << 32;
    h->creation = creation;
    h->legacy = 0;
    return 0;
}

/* A -> B: 'r' challenge:32 digest[16]. */
static int send_challenge_reply(hs_t *hs, uint32_t challenge, const uint8_t digest[DIGEST_LEN])
{
    uint8_t buf[1 + 4 + DIGEST_LEN];
    ac_dist_wr_t wr;
    int rc;

    ac_dist_wr_init(&wr, buf, sizeof(buf));
    ac_dist_wr_u8(&wr, 'r');
    ac_dist_wr_u32(&wr, challenge);
    ac_dist_wr_bytes(&wr, digest, DIGEST_LEN);
    rc = hs_send_msg(hs, "send_challenge_reply", &wr);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

/* B <- A: 'r' challenge:32 digest[16], exactly 21 bytes. */
static int recv_challenge_reply(hs_t *hs, uint32_t *challenge, uint8_t digest[DIGEST_LEN])
{
    uint8_t buf[32];
    ac_dist_rd_t rd;
    const uint8_t *d;
    size_t kept, full;
    uint8_t tag = 0;
    int rc;

    if ((rc = hs_recv_msg(hs, "recv_challenge_reply", buf, sizeof(buf), &kept, &full)) != 0)
        return rc;
    ac_dist_rd_init(&rd, buf, kept);
    if (full != 1 + 4 + DIGEST_LEN || ac_dist_rd_u8(&rd, &tag) != 0 || tag != 'r' ||
        ac_dist_rd_u32(&rd, challenge) != 0 || ac_dist_rd_bytes(&rd, DIGEST_LEN, &d) != 0)
        rc = ac_errmsg_set(hs->err, -AC_EINVAL,
                           "recv_challenge_reply: expected 'r' in 21 bytes from %s, got tag 0x%02x in %zu", hs->who,
                           tag, full);
    else
        memcpy(digest, d, DIGEST_LEN);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

/* B -> A: 'a' digest[16]. */
static int send_challenge_ack(hs_t *hs, const uint8_t digest[DIGEST_LEN])
{
    uint8_t buf[1 + DIGEST_LEN];
    ac_dist_wr_t wr;
    int rc;

    ac_dist_wr_init(&wr, buf, sizeof(buf));
    ac_dist_wr_u8(&wr, 'a');
    ac_dist_wr_bytes(&wr, digest, DIGEST_LEN);
    rc = hs_send_msg(hs, "send_challenge_ack", &wr);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

/* A <- B: 'a' digest[16], exactly 17 bytes. */
static int recv_challenge_ack(hs_t *hs, uint8_t digest[DIGEST_LEN])
{
    uint8_t buf[32];
    ac_dist_rd_t rd;
    const uint8_t *d;
    size_t kept, full;
    uint8_t tag = 0;
    int rc;

    if ((rc = hs_recv_msg(hs, "recv_challenge_ack", buf, sizeof(buf), &kept, &full)) != 0)
        return rc;
    ac_dist_rd_init(&rd, buf, kept);
    if (full != 1 + DIGEST_LEN || ac_dist_rd_u8(&rd, &tag) != 0 || tag != 'a' ||
        ac_dist_rd_bytes(&rd, DIGEST_LEN, &d) != 0)
        rc = ac_errmsg_set(hs->err, -AC_EINVAL,
                           "recv_challenge_ack: expected 'a' in 17 bytes from %s, got tag 0x%02x in %zu", hs->who, tag,
                           full);
    else
        memcpy(digest, d, DIGEST_LEN);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

/* ---- the two sides ----------------------------------------------------------------------------------------------- */

static int new_challenge(hs_t *hs, uint32_t *challenge)
{
    uint8_t b[4];
    int rc = hs->io->random != NULL ? hs->io->random(hs->io->ctx, b, sizeof(b)) : ac_policy_crypto_random(b, sizeof(b));

    if (rc != 0)
        return ac_errmsg_set(hs->err, -AC_ECRYPTO, "no random challenge: %s", ac_strerror(rc));
    *challenge = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

static int check_args(const ac_dist_io_t *io, const ac_dist_local_t *me, const char *cookie, int timeout_ms,
                      ac_dist_peer_t *peer, ac_errmsg_t *err)
{
    size_t clen;

    if (peer != NULL)
        memset(peer, 0, sizeof(*peer));
    if (io == NULL || io->read == NULL || io->write == NULL || me == NULL || peer == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "handshake: missing argument");
    if (timeout_ms <= 0)
        return ac_errmsg_set(err, -AC_EINVAL, "handshake: timeout must be positive (got %d ms)", timeout_ms);
    if (cookie == NULL || (clen = strnlen(cookie, AC_DIST_COOKIE_MAX + 1)) == 0 || clen > AC_DIST_COOKIE_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "handshake: the cookie must be 1 to %d bytes", AC_DIST_COOKIE_MAX);
    if (memchr(me->name, '\0', sizeof(me->name)) == NULL ||
        ac_dist_node_name_check(me->name, strlen(me->name), err) != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "handshake: our own node name is not valid (ac_dist_local_init?)");
    if (me->creation < 4)
        return ac_errmsg_set(err, -AC_EINVAL, "handshake: our creation must be >= 4 (got %u)", me->creation);
    return 0;
}

static void hs_init(hs_t *hs, const ac_dist_io_t *io, int timeout_ms, ac_errmsg_t *err)
{
    *hs = (hs_t){
        .io = io, .deadline = ac_dist_clock_ms() + timeout_ms, .timeout_ms = timeout_ms, .err = err, .who = "peer"};
}

int ac_dist_handshake_accept_io(const ac_dist_io_t *io, const ac_dist_local_t *me, const char *cookie, int timeout_ms,
                                ac_dist_peer_t *peer, ac_errmsg_t *err)
{
    static const char *const status_text[] = {
        [AC_DIST_ADMIT_OK] = "ok",       [AC_DIST_ADMIT_OK_SIMULTANEOUS] = "ok_simultaneous",
        [AC_DIST_ADMIT_NOK] = "nok",     [AC_DIST_ADMIT_NOT_ALLOWED] = "not_allowed",
        [AC_DIST_ADMIT_ALIVE] = "alive",
    };
    hs_t hs;
    hello_t h = {0};
    uint32_t ours = 0, theirs = 0;
    uint8_t expect[DIGEST_LEN] = {0}, got[DIGEST_LEN] = {0}, ack[DIGEST_LEN] = {0};
    char reply[STATUS_MAX];
    ac_dist_admit_t admit = AC_DIST_ADMIT_OK;
    int replaced = 0, ret;

    if ((ret = check_args(io, me, cookie, timeout_ms, peer, err)) != 0)
        goto Exit;
    hs_init(&hs, io, timeout_ms, err);

    if ((ret = recv_name(&hs, &h)) != 0) {
        if (ret == -AC_EPERM)
            send_status_quietly(&hs, "not_allowed");
        goto Exit;
    }
    hs.who = h.name;
    h.flags = ac_dist_flags_expand(h.flags);
    if ((ret = ac_dist_flags_check_peer_masked(h.flags, h.legacy ? LOW32 : ~UINT64_C(0), err)) != 0) {
        send_status_quietly(&hs, "not_allowed");
        ret = err_prefix(err, ret, "refused the connection");
        goto Exit;
    }

    /* send_status */
    if (me->admit != NULL)
        admit = me->admit(me->admit_ctx, h.name, h.flags);
    if ((unsigned)admit > AC_DIST_ADMIT_ALIVE)
        admit = AC_DIST_ADMIT_NOT_ALLOWED;
    if ((ret = send_status(&hs, status_text[admit])) != 0)
        goto Exit;
    switch (admit) {
    case AC_DIST_ADMIT_NOK:
        ret = ac_errmsg_set(err, -AC_EEXIST, "refused %s with \"nok\" (our own connection attempt wins)", h.name);
        goto Exit;
    case AC_DIST_ADMIT_NOT_ALLOWED:
        ret = ac_errmsg_set(err, -AC_EPERM, "refused %s with \"not_allowed\"", h.name);
        goto Exit;
    case AC_DIST_ADMIT_ALIVE:
        /* 3B: the peer says whether its old connection is dead ("true": go on) or this one was a mistake. */
        if ((ret = recv_status(&hs, reply, sizeof(reply))) != 0)
            goto Exit;
        if (strcmp(reply, "true") != 0) {
            ret = strcmp(reply, "false") == 0
                      ? ac_errmsg_set(err, -AC_EEXIST,
                                      "%s answered \"alive\" with \"false\": keeping the old "
                                      "connection",
                                      h.name)
                      : ac_errmsg_set(err, -AC_EINVAL, "%s answered \"alive\" with an unknown status", h.name);
            goto Exit;
        }
        replaced = 1;
        break;
    default: break;
    }

    if ((ret = new_challenge(&hs, &ours)) != 0 || (ret = send_challenge(&hs, me, ours)) != 0)
        goto Exit;
    if (h.legacy) {
        if ((ret = recv_complement(&hs, &h)) != 0)
            goto Exit;
        h.flags = ac_dist_flags_expand(h.flags);
        if ((ret = ac_dist_flags_check_peer(h.flags, err)) != 0) {
            ret = err_prefix(err, ret, "refused the connection");
            goto Exit;
        }
    }
    if ((ret = recv_challenge_reply(&hs, &theirs, got)) != 0)
        goto Exit;
    if ((ret = ac_dist_handshake_digest(cookie, ours, expect)) != 0) {
        ret = ac_errmsg_set(err, ret, "handshake with %s: MD5 failed", h.name);
        goto Exit;
    }
    if (!ac_policy_crypto_ct_equal(expect, DIGEST_LEN, got, DIGEST_LEN)) {
        ret = ac_errmsg_set(err, -AC_EPERM, "refused %s: it failed the cookie challenge (the cookies differ)", h.name);
        goto Exit;
    }
    if ((ret = ac_dist_handshake_digest(cookie, theirs, ack)) != 0) {
        ret = ac_errmsg_set(err, ret, "handshake with %s: MD5 failed", h.name);
        goto Exit;
    }
    if ((ret = send_challenge_ack(&hs, ack)) != 0)
        goto Exit;

    memcpy(peer->name, h.name, sizeof(peer->name));
    peer->flags = h.flags;
    peer->creation = h.creation;
    peer->replaced = replaced;
    ac_log_debug("dist", "handshake_accepted", "peer=%s flags=0x%llx creation=%u replaced=%d", peer->name,
                 (unsigned long long)peer->flags, peer->creation, replaced);

Exit:
    OPENSSL_cleanse(expect, sizeof(expect));
    OPENSSL_cleanse(got, sizeof(got));
    OPENSSL_cleanse(ack, sizeof(ack));
    return ret;
}

int ac_dist_handshake_connect_io(const ac_dist_io_t *io, const ac_dist_local_t *me, const char *peer_name,
                                 const char *cookie, int timeout_ms, ac_dist_peer_t *peer, ac_errmsg_t *err)
{
    hs_t hs;
    hello_t h = {0};
    uint32_t ours = 0;
    uint8_t reply[DIGEST_LEN] = {0}, expect[DIGEST_LEN] = {0}, got[DIGEST_LEN] = {0};
    char status[STATUS_MAX];
    int replaced = 0, ret;

    if ((ret = check_args(io, me, cookie, timeout_ms, peer, err)) != 0)
        goto Exit;
    if (peer_name != NULL && ac_dist_node_name_check(peer_name, strlen(peer_name), err) != 0) {
        ret = ac_errmsg_set(err, -AC_EINVAL, "handshake: the name of the node to connect to is not valid");
        goto Exit;
    }
    hs_init(&hs, io, timeout_ms, err);
    if (peer_name != NULL)
        hs.who = peer_name;

    if ((ret = send_name(&hs, me)) != 0 || (ret = recv_status(&hs, status, sizeof(status))) != 0)
        goto Exit;
    if (strcmp(status, "alive") == 0) {
        /* The peer still sees an older connection from us. We are not connected to it (or the caller would not be
         * connecting), so that one is dead: say "true" and go on. */
        if ((ret = send_status(&hs, "true")) != 0)
            goto Exit;
        replaced = 1;
    } else if (strcmp(status, "nok") == 0) {
        ret = ac_errmsg_set(err, -AC_EEXIST, "%s refused the connection with \"nok\" (simultaneous connect)", hs.who);
        goto Exit;
    } else if (strcmp(status, "not_allowed") == 0) {
        ret = ac_errmsg_set(err, -AC_EPERM, "%s refused the connection: not_allowed", hs.who);
        goto Exit;
    } else if (strcmp(status, "named:") == 0) {
        ret = ac_errmsg_set(err, -AC_EINVAL, "%s assigned us a dynamic name, which we did not ask for", hs.who);
        goto Exit;
    } else if (strcmp(status, "ok") != 0 && strcmp(status, "ok_simultaneous") != 0) {
        ret = ac_errmsg_set(err, -AC_EINVAL, "%s sent an unknown handshake status", hs.who);
        goto Exit;
    }

    if ((ret = recv_challenge(&hs, &h)) != 0)
        goto Exit;
    if (peer_name != NULL && strcmp(h.name, peer_name) != 0) {
        ret = ac_errmsg_set(err, -AC_EPERM, "connected to %s but the node answered as %s", peer_name, h.name);
        goto Exit;
    }
    hs.who = h.name;
    h.flags = ac_dist_flags_expand(h.flags);
    if ((ret = ac_dist_flags_check_peer_masked(h.flags, h.legacy ? LOW32 : ~UINT64_C(0), err)) != 0) {
        ret = err_prefix(err, ret, "aborted the connection");
        goto Exit;
    }

    if ((ret = ac_dist_handshake_digest(cookie, h.challenge, reply)) != 0) {
        ret = ac_errmsg_set(err, ret, "handshake with %s: MD5 failed", h.name);
        goto Exit;
    }
    if ((ret = new_challenge(&hs, &ours)) != 0 || (ret = send_challenge_reply(&hs, ours, reply)) != 0)
        goto Exit;
    if ((ret = recv_challenge_ack(&hs, got)) != 0) {
        /* An OTP node that finds our digest wrong logs "Invalid challenge reply" and closes without a word. */
        if (hs.closed)
            ret = ac_errmsg_set(err, -AC_EPERM,
                                "%s refused the connection after our challenge reply (most likely "
                                "the cookies differ)",
                                h.name);
        goto Exit;
    }
    if ((ret = ac_dist_handshake_digest(cookie, ours, expect)) != 0) {
        ret = ac_errmsg_set(err, ret, "handshake with %s: MD5 failed", h.name);
        goto Exit;
    }
    if (!ac_policy_crypto_ct_equal(expect, DIGEST_LEN, got, DIGEST_LEN)) {
        ret = ac_errmsg_set(err, -AC_EPERM, "refused %s: its challenge ack is wrong (the cookies differ)", h.name);
        goto Exit;
    }

    memcpy(peer->name, h.name, sizeof(peer->name));
    peer->flags = h.flags;
    peer->creation = h.creation;
    peer->replaced = replaced;
    ac_log_debug("dist", "handshake_connected", "peer=%s flags=0x%llx creation=%u replaced=%d", peer->name,
                 (unsigned long long)peer->flags, peer->creation, replaced);

Exit:
    OPENSSL_cleanse(reply, sizeof(reply));
    OPENSSL_cleanse(expect, sizeof(expect));
    OPENSSL_cleanse(got, sizeof(got));
    return ret;
}

int ac_dist_handshake_accept(int fd, const ac_dist_local_t *me, const char *cookie, int timeout_ms,
                             ac_dist_peer_t *peer, ac_errmsg_t *err)
{
    ac_dist_io_t io = {.read = fd_read, .write = fd_write, .random = NULL, .ctx = &fd};
    int ret;

    if (fd < 0)
        return ac_errmsg_set(err, -AC_EINVAL, "handshake: no socket");
    if ((ret = ac_dist_handshake_accept_io(&io, me, cookie, timeout_ms, peer, err)) == 0 &&
        (ret = tune_socket(fd, err)) != 0)
        memset(peer, 0, sizeof(*peer));
    return ret;
}

int ac_dist_handshake_connect(int fd, const ac_dist_local_t *me, const char *peer_name, const char *cookie,
                              int timeout_ms, ac_dist_peer_t *peer, ac_errmsg_t *err)
{
    ac_dist_io_t io = {.read = fd_read, .write = fd_write, .random = NULL, .ctx = &fd};
    int ret;

    if (fd < 0)
        return ac_errmsg_set(err, -AC_EINVAL, "handshake: no socket");
    if ((ret = ac_dist_handshake_connect_io(&io, me, peer_name, cookie, timeout_ms, peer, err)) == 0 &&
        (ret = tune_socket(fd, err)) != 0)
        memset(peer, 0, sizeof(*peer));
    return ret;
}
