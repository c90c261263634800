/* tests/interop/dist_tool.c - a test helper that speaks our distribution handshake to real Erlang/Elixir nodes (used
 * by handshake.sh; never installed).
 *
 *   ac_dist_tool listen  NAME COOKIE PORTFILE [SECONDS]   listen on 127.0.0.1 (ephemeral port), register NAME with
 *                                                        EPMD, write the port to PORTFILE, accept one connection
 *   ac_dist_tool connect NAME PEER COOKIE [SECONDS]       look PEER up with EPMD (PORT_PLEASE2) and connect to it
 *
 *   ac_dist_tool flood   NAME PEER COOKIE MIB             connect as above, then send rpc calls of an undefined
 *                                                        function, each with a 1 MiB binary argument that the
 *                                                        answer repeats, at most MIB MiB of them, and never read
 *
 * Either way it runs the handshake, prints "peer <name> flags 0x<hex> creation <n>", then stays connected for SECONDS
 * (default 10), answering every tick with a tick, and prints "ticks <n> messages <n>" when it leaves. Exit status: 0
 * after staying the whole time; 1 when the handshake fails (stderr says "handshake refused: ..." for -AC_EPERM); 2 for
 * usage and setup errors; 3 when the peer closed the connection early. `flood` exits 3 when the peer drops the
 * connection (printing "dropped after <n> MiB"), 0 when all MIB MiB went out, 4 when the peer stopped reading for 10 s
 * without dropping it.
 *
 * The EPMD part (ALIVE2_REQ/ALIVE2_X_RESP and PORT_PLEASE2_REQ/PORT2_RESP, erts user's guide "EPMD Protocol") is a
 * few lines here because epmd/ is written in parallel; ERL_EPMD_PORT is honoured (default 4369), the daemon is
 * reached on 127.0.0.1 for registration and on the peer's host (IPv4) for lookups. */
#include "dist/ctrl.h"
#include "dist/flags.h"
#include "dist/frame.h"
#include "dist/handshake.h"
#include "policy/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <ei.h>

#define EPMD_TIMEOUT_MS    5000
#define ACCEPT_TIMEOUT_MS  30000
#define HANDSHAKE_TIMEOUT  5000
#define MAX_FRAME          (1024 * 1024)
#define EPMD_ALIVE2_REQ    120 /* 'x' */
#define EPMD_ALIVE2_X_RESP 118 /* 'v' */
#define EPMD_ALIVE2_RESP   121 /* 'y' */
#define EPMD_PORT_PLEASE2  122 /* 'z' */
#define EPMD_PORT2_RESP    119 /* 'w' */
#define NODE_TYPE_HIDDEN   104 /* 'h' */

static int die(int status, const char *what)
{
    fprintf(stderr, "ac_dist_tool: %s\n", what);
    return status;
}

static uint16_t epmd_port(void)
{
    const char *p = getenv("ERL_EPMD_PORT");
    long v = p != NULL ? strtol(p, NULL, 10) : 0;
    return v > 0 && v < 65536 ? (uint16_t)v : 4369;
}

/* Resolves an IPv4 host name. Returns 0 or -1. */
static int resolve4(const char *host, struct in_addr *out)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;

    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return -1;
    *out = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return 0;
}

static int tcp_connect(struct in_addr addr, uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = addr};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Reads until n bytes, end of stream or timeout. Returns the count read, or -1. */
static ssize_t read_upto(int fd, uint8_t *buf, size_t n, int timeout_ms)
{
    size_t got = 0;

    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r;
        if (poll(&p, 1, timeout_ms) <= 0)
            return -1;
        if ((r = recv(fd, buf + got, n - got, 0)) < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* ALIVE2_REQ for `alive` on `port`; the returned fd must stay open for the registration to last. */
static int epmd_register(const char *alive, uint16_t port)
{
    uint8_t req[300], resp[8];
    ac_dist_wr_t wr;
    struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
    size_t n = strlen(alive);
    ssize_t got;
    int fd;

    ac_dist_wr_init(&wr, req, sizeof(req));
    ac_dist_wr_u16(&wr, (uint16_t)(13 + n));
    ac_dist_wr_u8(&wr, EPMD_ALIVE2_REQ);
    ac_dist_wr_u16(&wr, port);
    ac_dist_wr_u8(&wr, NODE_TYPE_HIDDEN);
    ac_dist_wr_u8(&wr, 0);  /* TCP/IPv4 */
    ac_dist_wr_u16(&wr, 6); /* highest version */
    ac_dist_wr_u16(&wr, 6); /* lowest version */
    ac_dist_wr_u16(&wr, (uint16_t)n);
    ac_dist_wr_bytes(&wr, alive, n);
    ac_dist_wr_u16(&wr, 0); /* no extra */
    if (wr.err != 0 || (fd = tcp_connect(lo, epmd_port())) < 0)
        return -1;
    if (send(fd, req, wr.len, MSG_NOSIGNAL) != (ssize_t)wr.len ||
        (got = read_upto(fd, resp, 2, EPMD_TIMEOUT_MS)) != 2 ||
        (resp[0] != EPMD_ALIVE2_X_RESP && resp[0] != EPMD_ALIVE2_RESP) || resp[1] != 0) {
        close(fd);
        return -1;
    }
    /* The creation that follows is EPMD's suggestion; like ei we keep our own (reference pitfall P4). */
    (void)read_upto(fd, resp + 2, resp[0] == EPMD_ALIVE2_X_RESP ? 4 : 2, EPMD_TIMEOUT_MS);
    return fd;
}

/* PORT_PLEASE2_REQ. Returns the distribution port of `alive` at addr, or 0. */
static uint16_t epmd_lookup(struct in_addr addr, const char *alive)
{
    uint8_t req[300], resp[600];
    ac_dist_wr_t wr;
    ac_dist_rd_t rd;
    uint8_t tag = 0, result = 1;
    uint16_t port = 0;
    size_t n = strlen(alive);
    ssize_t got;
    int fd;

    ac_dist_wr_init(&wr, req, sizeof(req));
    ac_dist_wr_u16(&wr, (uint16_t)(1 + n));
    ac_dist_wr_u8(&wr, EPMD_PORT_PLEASE2);
    ac_dist_wr_bytes(&wr, alive, n);
    if (wr.err != 0 || (fd = tcp_connect(addr, epmd_port())) < 0)
        return 0;
    if (send(fd, req, wr.len, MSG_NOSIGNAL) == (ssize_t)wr.len &&
        (got = read_upto(fd, resp, sizeof(resp), EPMD_TIMEOUT_MS)) > 0) {
        ac_dist_rd_init(&rd, resp, (size_t)got);
        if (ac_dist_rd_u8(&rd, &tag) != 0 || tag != EPMD_PORT2_RESP || ac_dist_rd_u8(&rd, &result) != 0 ||
            result != 0 || ac_dist_rd_u16(&rd, &port) != 0)
            port = 0;
    }
    close(fd);
    return port;
}

/* Answers ticks for `seconds`. Returns the exit status. */
static int stay(int fd, int seconds)
{
    static uint8_t buf[MAX_FRAME + AC_DIST_FRAME_HDR_LEN];
    int64_t end = ac_dist_clock_ms() + (int64_t)seconds * 1000, t0 = ac_dist_clock_ms();
    size_t have = 0;
    unsigned long ticks = 0, messages = 0;
    int status = 0;

    for (;;) {
        int64_t left = end - ac_dist_clock_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        const uint8_t *payload;
        size_t consumed, plen;
        ssize_t r;
        int rc;

        if (left <= 0)
            break;
        if (poll(&p, 1, left > 1000 ? 1000 : (int)left) <= 0)
            continue;
        r = recv(fd, buf + have, sizeof(buf) - have, 0);
        if (r <= 0) {
            printf("closed by peer after %.1f s\n", (double)(ac_dist_clock_ms() - t0) / 1000.0);
            status = 3;
            break;
        }
        have += (size_t)r;
        while ((rc = ac_dist_frame_next(buf, have, MAX_FRAME, &consumed, &payload, &plen)) == 1) {
            if (plen == 0) {
                ticks++;
                if (send(fd, "\0\0\0\0", 4, MSG_NOSIGNAL) != 4) {
                    status = 3;
                    break;
                }
            } else {
                messages++;
            }
            memmove(buf, buf + consumed, have - consumed);
            have -= consumed;
        }
        if (rc < 0) {
            fprintf(stderr, "ac_dist_tool: bad frame: %s\n", ac_strerror(rc));
            status = 2;
            break;
        }
        if (status != 0)
            break;
    }
    printf("ticks %lu messages %lu\n", ticks, messages);
    return status;
}

/* The flood: REG_SEND {6, Us, '', rex} + {'$gen_call', {Us, Ref}, {call, no_such_module, echo, [<<1 MiB>>], user}},
 * over and over, never reading. The node answers each with {badrpc, {'EXIT', {undef, [{M, F, Args, []}]}}}, the
 * megabyte included; once the answers it could not write pass its output limit it must drop us. */
static int flood(int fd, const ac_dist_local_t *me, int max_mib)
{
    enum { ARG = 1024 * 1024 };
    char *arg = calloc(1, ARG), *frame = NULL;
    erlang_pid us = {.num = 1, .serial = 0, .creation = me->creation};
    erlang_ref ref = {.len = 3, .n = {1, 2, 3}, .creation = me->creation};
    ei_x_buff ctrl, msg;
    size_t flen = 0, sent = 0;
    struct timeval tv = {.tv_sec = 10};
    int status = 0;

    if (arg == NULL)
        return die(2, "out of memory");
    snprintf(us.node, sizeof(us.node), "%s", me->name);
    snprintf(ref.node, sizeof(ref.node), "%s", me->name);
    ei_x_new(&ctrl);
    ei_x_new(&msg);
    ei_x_encode_tuple_header(&ctrl, 4);
    ei_x_encode_long(&ctrl, AC_DIST_REG_SEND);
    ei_x_encode_pid(&ctrl, &us);
    ei_x_encode_atom(&ctrl, "");
    ei_x_encode_atom(&ctrl, "rex");
    ei_x_encode_tuple_header(&msg, 3);
    ei_x_encode_atom(&msg, "$gen_call");
    ei_x_encode_tuple_header(&msg, 2);
    ei_x_encode_pid(&msg, &us);
    ei_x_encode_ref(&msg, &ref);
    ei_x_encode_tuple_header(&msg, 5);
    ei_x_encode_atom(&msg, "call");
    ei_x_encode_atom(&msg, "no_such_module");
    ei_x_encode_atom(&msg, "echo");
    ei_x_encode_list_header(&msg, 1);
    ei_x_encode_binary(&msg, arg, ARG);
    ei_x_encode_empty_list(&msg);
    ei_x_encode_atom(&msg, "user");
    ac_dist_ctrl_frame(&ctrl, &msg, &frame, &flen);
    ei_x_free(&ctrl);
    ei_x_free(&msg);
    free(arg);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    while (sent < (size_t)max_mib * ARG) {
        size_t off = 0;
        while (off < flen) {
            ssize_t w = send(fd, frame + off, flen - off, MSG_NOSIGNAL);
            if (w > 0) {
                off += (size_t)w;
                continue;
            }
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                printf("stalled after %zu MiB: the peer stopped reading without dropping us\n", sent / ARG);
                status = 4;
            } else {
                printf("dropped after %zu MiB\n", sent / ARG);
                status = 3;
            }
            goto Exit;
        }
        sent += flen;
    }
    printf("not dropped after %zu MiB\n", sent / ARG);

Exit:
    free(frame);
    return status;
}

static void print_peer(const ac_dist_peer_t *peer)
{
    char desc[512];
    printf("peer %s flags 0x%llx creation %u\n", peer->name, (unsigned long long)peer->flags, peer->creation);
    printf("peer flags: %s\n", ac_dist_flags_describe(peer->flags, desc, sizeof(desc)));
}

static int handshake_failed(int rc, const ac_errmsg_t *err)
{
    if (rc == -AC_EPERM)
        fprintf(stderr, "ac_dist_tool: handshake refused: %s\n", err->msg);
    else
        fprintf(stderr, "ac_dist_tool: handshake failed (%s): %s\n", ac_strerror_name(rc), err->msg);
    return 1;
}

static int cmd_listen(const char *name, const char *cookie, const char *portfile, int seconds)
{
    ac_dist_local_t me;
    ac_dist_peer_t peer;
    ac_errmsg_t err = {{0}};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof(sa);
    char alive[AC_DIST_NODE_NAME_MAX + 1], tmp[4096];
    struct pollfd p;
    FILE *f;
    int lfd = -1, efd = -1, fd = -1, rc, status = 2;

    if (ac_dist_local_init(&me, name, &err) != 0) {
        fprintf(stderr, "ac_dist_tool: %s\n", err.msg);
        goto Exit;
    }
    snprintf(alive, sizeof(alive), "%.*s", (int)(strchr(name, '@') - name), name);
    if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 || bind(lfd, (struct sockaddr *)&sa, salen) != 0 ||
        listen(lfd, 4) != 0 || getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0) {
        status = die(2, "cannot listen on 127.0.0.1");
        goto Exit;
    }
    if ((efd = epmd_register(alive, ntohs(sa.sin_port))) < 0) {
        status = die(2, "EPMD registration failed (is epmd running on ERL_EPMD_PORT?)");
        goto Exit;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
    if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%u\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0 ||
        rename(tmp, portfile) != 0) {
        status = die(2, "cannot write the port file");
        goto Exit;
    }
    p = (struct pollfd){.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, ACCEPT_TIMEOUT_MS) != 1 || (fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
        status = die(2, "no connection arrived");
        goto Exit;
    }
    if ((rc = ac_dist_handshake_accept(fd, &me, cookie, HANDSHAKE_TIMEOUT, &peer, &err)) != 0) {
        status = handshake_failed(rc, &err);
        goto Exit;
    }
    print_peer(&peer);
    fflush(stdout);
    status = stay(fd, seconds);

Exit:
    if (fd >= 0)
        close(fd);
    if (efd >= 0)
        close(efd);
    if (lfd >= 0)
        close(lfd);
    return status;
}

/* flood_mib > 0: flood with at most that many MiB; otherwise stay for `seconds`. */
static int cmd_connect(const char *name, const char *peer_name, const char *cookie, int seconds, int flood_mib)
{
    ac_dist_local_t me;
    ac_dist_peer_t peer;
    ac_errmsg_t err = {{0}};
    struct in_addr addr;
    char alive[AC_DIST_NODE_NAME_MAX + 1];
    const char *at = strchr(peer_name, '@');
    uint16_t port;
    int fd = -1, rc, status = 2;

    if (ac_dist_local_init(&me, name, &err) != 0) {
        fprintf(stderr, "ac_dist_tool: %s\n", err.msg);
        goto Exit;
    }
    if (at == NULL || ac_dist_node_name_check(peer_name, strlen(peer_name), &err) != 0) {
        status = die(2, "PEER must be name@host");
        goto Exit;
    }
    snprintf(alive, sizeof(alive), "%.*s", (int)(at - peer_name), peer_name);
    if (resolve4(at + 1, &addr) != 0) {
        status = die(2, "cannot resolve the peer's host");
        goto Exit;
    }
    if ((port = epmd_lookup(addr, alive)) == 0) {
        status = die(2, "EPMD does not know the peer");
        goto Exit;
    }
    if ((fd = tcp_connect(addr, port)) < 0) {
        status = die(2, "cannot connect to the peer's distribution port");
        goto Exit;
    }
    if ((rc = ac_dist_handshake_connect(fd, &me, peer_name, cookie, HANDSHAKE_TIMEOUT, &peer, &err)) != 0) {
        status = handshake_failed(rc, &err);
        goto Exit;
    }
    print_peer(&peer);
    fflush(stdout);
    status = flood_mib > 0 ? flood(fd, &me, flood_mib) : stay(fd, seconds);

Exit:
    if (fd >= 0)
        close(fd);
    return status;
}

int main(int argc, char **argv)
{
    int seconds = 10;

    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 5 && strcmp(argv[1], "listen") == 0) {
        if (argc >= 6)
            seconds = atoi(argv[5]);
        if (strchr(argv[2], '@') == NULL)
            return die(2, "NAME must be name@host");
        return cmd_listen(argv[2], argv[3], argv[4], seconds);
    }
    if (argc >= 5 && strcmp(argv[1], "connect") == 0) {
        if (argc >= 6)
            seconds = atoi(argv[5]);
        return cmd_connect(argv[2], argv[3], argv[4], seconds, 0);
    }
    if (argc == 6 && strcmp(argv[1], "flood") == 0 && atoi(argv[5]) > 0)
        return cmd_connect(argv[2], argv[3], argv[4], 0, atoi(argv[5]));
    fprintf(stderr, "usage: ac_dist_tool listen NAME COOKIE PORTFILE [SECONDS]\n"
                    "       ac_dist_tool connect NAME PEER COOKIE [SECONDS]\n"
                    "       ac_dist_tool flood NAME PEER COOKIE MIB\n");
    return 2;
}
