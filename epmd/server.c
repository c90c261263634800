/* epmd/server.c - the EPMD-compatible daemon of server.h: listeners, connections, registrations, one poll() loop.
 *
 * Real nodes expect exactly epmd's behaviour (erts "Distribution Protocol" > "EPMD Protocol"; reference/erlang-dist.md
 * section 5): a registration is the TCP connection that sent ALIVE2_REQ and ends when it closes; PORT_PLEASE2 and NAMES
 * are answered and the connection closed. Everything else about a connection is bounded so that no client, however
 * slow or hostile, can hold the loop: a connection buffers at most one request (AC_EPMD_REQ_MAX bytes), a new request
 * is not read while an answer is still being written, an unregistered connection lives at most timeout_ms, and the
 * number of connections is capped. The loop never blocks: sockets are non-blocking and all waiting happens in poll().
 *
 * Connections that end during an iteration are marked dead (socket closed, registration dropped) and swept out of the
 * table after the iteration, so indices stay valid while events are handled. */
#include "epmd/server.h"

#include "epmd/client.h"
#include "epmd/proto.h"
#include "node/log.h"
#include "policy/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOOP_TICK_MS    250 /* longest poll(): how late a *stop set by another thread may be seen */
#define ACCEPT_BATCH    64  /* accepts per listener per iteration, so one busy listener cannot starve the others */
#define ACCEPT_PAUSE_MS 100 /* after EMFILE and the like, so a full descriptor table does not spin the loop */
#define LIMIT_LOG_MS    10000
#define ADDR_LIST_MAX   1024
#define MAX_LISTENERS   (AC_EPMD_SERVER_MAX_ADDRESSES + 2)

typedef struct listener {
    int fd;
    char addr[INET6_ADDRSTRLEN];
} listener_t;

typedef struct conn {
    int fd;              /* -1 once dead */
    bool dead;           /* closed during this iteration; swept afterwards */
    bool closing;        /* close as soon as the answer is written */
    int64_t deadline;    /* monotonic ms; 0 for a registered connection */
    ac_epmd_node_t *reg; /* the registration this connection holds, or NULL */
    uint32_t creation;   /* creation given to reg */
    uint8_t *out;        /* answer not yet written: out[out_off..out_len) */
    size_t out_len, out_off;
    size_t in_len; /* bytes of an unfinished request in in[] */
    uint8_t in[AC_EPMD_REQ_MAX];
} conn_t;

struct ac_epmd_server {
    listener_t listeners[MAX_LISTENERS];
    size_t nlisteners;
    conn_t **conns; /* max_conns slots */
    size_t nconns;
    struct pollfd *pfds; /* nlisteners + max_conns slots */
    uint16_t port;
    uint32_t next_creation;
    int max_conns, timeout_ms;
    int64_t accept_paused_until, limit_logged_at;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- addresses and listeners ------------------------------------------------------------------------------------- */

typedef struct addr {
    int family;
    union {
        struct in_addr v4;
        struct in6_addr v6;
    } u;
    bool optional; /* added by us (::1): skipped when the host has no such address */
} addr_t;

static bool addr_equal(const addr_t *a, const addr_t *b)
{
    return a->family == b->family &&
           (a->family == AF_INET ? a->u.v4.s_addr == b->u.v4.s_addr : memcmp(&a->u.v6, &b->u.v6, 16) == 0);
}

static bool addr_listed(const addr_t *list, size_t n, const addr_t *a)
{
    for (size_t i = 0; i < n; i++)
        if (addr_equal(&list[i], a))
            return true;
    return false;
}

static int addr_parse(const char *s, addr_t *a)
{
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(s);

    memset(a, 0, sizeof(*a));
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') { /* "[::1]" as well as "::1" */
        s++;
        n -= 2;
    }
    if (n >= sizeof(buf))
        return -AC_ECONFIG;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, &a->u.v4) == 1)
        a->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, &a->u.v6) == 1)
        a->family = AF_INET6;
    else
        return -AC_ECONFIG;
    return 0;
}

/* Parses the comma list (blanks around entries allowed) into out[], then adds the loopback addresses. */
static int addresses_parse(const char *list, addr_t *out, size_t *n_out, ac_errmsg_t *err)
{
    char buf[ADDR_LIST_MAX];
    char *save = NULL, *tok;
    size_t n = 0;
    addr_t lo4 = {.family = AF_INET}, any4 = {.family = AF_INET}, lo6 = {.family = AF_INET6, .optional = true},
           any6 = {.family = AF_INET6};

    if (strlen(list) >= sizeof(buf))
        return ac_errmsg_set(err, -AC_ECONFIG, "EPMD address list longer than %d bytes", ADDR_LIST_MAX - 1);
    strcpy(buf, list);
    for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        addr_t a;
        char *end;
        while (*tok == ' ' || *tok == '\t')
            tok++;
        end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*tok == '\0')
            continue;
        if (addr_parse(tok, &a) != 0)
            return ac_errmsg_set(err, -AC_ECONFIG, "EPMD address \"%.64s\" is not a numeric IPv4 or IPv6 address", tok);
        if (addr_listed(out, n, &a))
            continue;
        if (n == AC_EPMD_SERVER_MAX_ADDRESSES)
            return ac_errmsg_set(err, -AC_ECONFIG, "more than %d EPMD addresses", AC_EPMD_SERVER_MAX_ADDRESSES);
        out[n++] = a;
    }
    /* Like epmd: local nodes register through loopback, so it is always served unless a wildcard already covers it. */
    lo4.u.v4.s_addr = htonl(INADDR_LOOPBACK);
    any4.u.v4.s_addr = htonl(INADDR_ANY);
    lo6.u.v6 = in6addr_loopback;
    any6.u.v6 = in6addr_any;
    if (!addr_listed(out, n, &lo4) && !addr_listed(out, n, &any4))
        out[n++] = lo4;
    if (!addr_listed(out, n, &lo6) && !addr_listed(out, n, &any6))
        out[n++] = lo6;
    *n_out = n;
    return 0;
}

/* Binds and listens on a at port (0: any). Returns 0 with *l set, 1 when an optional address does not exist here, or
 * a negative code. */
static int listener_open(const addr_t *a, uint16_t port, listener_t *l, ac_errmsg_t *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1, fd;

    memset(&ss, 0, sizeof(ss));
    if (a->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr = a->u.v4;
        len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        sin6->sin6_addr = a->u.v6;
        len = sizeof(*sin6);
    }
    inet_ntop(a->family, &a->u, l->addr, sizeof(l->addr));
    if ((fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
        if (a->optional && errno == EAFNOSUPPORT)
            return 1;
        return ac_errmsg_set(err, -AC_ESYS, "socket for EPMD on %s: %s", l->addr, strerror(errno));
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (a->family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE)
            return ac_errmsg_set(err, -AC_EEXIST, "EPMD port %u on %s is in use", port, l->addr);
        if (a->optional && (e == EADDRNOTAVAIL || e == EAFNOSUPPORT))
            return 1;
        return ac_errmsg_set(err, -AC_ESYS, "cannot listen on %s port %u: %s", l->addr, port, strerror(e));
    }
    l->fd = fd;
    return 0;
}

/* ---- connections ------------------------------------------------------------------------------------------------- */

/* Ends c: closes its socket and drops its registration. Swept from the table after the iteration. */
static void conn_close(conn_t *c, const char *why)
{
    if (c->dead)
        return;
    if (c->reg != NULL)
        ac_log_info("epmd", "unregistered", "name=%s port=%u reason=%s", c->reg->name, c->reg->port, why);
    else
        ac_log_debug("epmd", "connection_closed", "reason=%s", why);
    close(c->fd);
    c->fd = -1;
    c->dead = true;
    free(c->reg);
    c->reg = NULL;
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
}

static bool out_pending(const conn_t *c)
{
    return c->out_off < c->out_len;
}

/* Writes what the socket takes now; closes c when done and closing, or when the peer is gone. */
static void conn_flush(conn_t *c)
{
    while (!c->dead && out_pending(c)) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w > 0) {
            c->out_off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return; /* POLLOUT will call again */
        } else {
            conn_close(c, "write_failed");
            return;
        }
    }
    if (c->dead)
        return;
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    if (c->closing)
        conn_close(c, "answered");
}

/* Queues an answer (appended to whatever is still pending) and tries to write it at once. */
static void conn_send(conn_t *c, const uint8_t *buf, size_t n)
{
    c->out = ac_realloc(c->out, c->out_len + n);
    memcpy(c->out + c->out_len, buf, n);
    c->out_len += n;
    conn_flush(c);
}

/* The live connection holding name, or NULL. */
static conn_t *find_registration(ac_epmd_server_t *srv, const char *name, uint16_t name_len)
{
    for (size_t i = 0; i < srv->nconns; i++) {
        conn_t *c = srv->conns[i];
        if (!c->dead && c->reg != NULL && c->reg->name_len == name_len && memcmp(c->reg->name, name, name_len) == 0)
            return c;
    }
    return NULL;
}

/* Whether the peer of a registration has gone away without our having read its end of stream yet. A node that
 * restarts at once re-registers in the same poll round in which its old connection reports the close. */
static bool peer_gone(conn_t *c)
{
    uint8_t b;
    ssize_t r = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static uint32_t creation_next(ac_epmd_server_t *srv)
{
    uint32_t c;
    do /* creations 0..3 mean something else to older nodes (reference section 6, P4) */
        c = srv->next_creation++;
    while (c < 4);
    return c;
}

static void answer_alive2(conn_t *c, const ac_epmd_node_t *node, uint8_t result, uint32_t creation)
{
    uint8_t resp[8];
    int n = node->highest >= 6 ? ac_epmd_alive2_x_resp_encode(resp, sizeof(resp), result, creation)
                               : ac_epmd_alive2_resp_encode(resp, sizeof(resp), result, (uint16_t)(creation % 3 + 1));
    conn_send(c, resp, (size_t)n);
}

static void on_alive2(ac_epmd_server_t *srv, conn_t *c, const ac_epmd_node_t *node)
{
    conn_t *holder;

    if (c->reg != NULL) {
        /* A second ALIVE2 on a registered connection: refused, the first registration stays. */
        ac_log_info("epmd", "register_refused", "name=%s reason=connection_already_registered", node->name);
        answer_alive2(c, node, AC_EPMD_RESULT_FAIL, 0);
        return;
    }
    if ((holder = find_registration(srv, node->name, node->name_len)) != NULL && peer_gone(holder))
        conn_close(holder, "closed");
    else if (holder != NULL) {
        ac_log_info("epmd", "register_refused", "name=%s port=%u reason=name_taken", node->name, node->port);
        c->closing = true;
        answer_alive2(c, node, AC_EPMD_RESULT_FAIL, 0);
        return;
    }
    c->reg = ac_malloc(sizeof(*c->reg));
    *c->reg = *node;
    c->creation = creation_next(srv);
    c->deadline = 0;
    ac_log_info("epmd", "registered", "name=%s port=%u type=%u highest=%u lowest=%u creation=%u", node->name,
                node->port, node->node_type, node->highest, node->lowest, c->creation);
    answer_alive2(c, node, AC_EPMD_RESULT_OK, c->creation);
}

static void on_port_please2(ac_epmd_server_t *srv, conn_t *c, const char *name, uint16_t name_len)
{
    uint8_t resp[AC_EPMD_PORT2_RESP_MAX];
    conn_t *holder = name_len > 0 ? find_registration(srv, name, name_len) : NULL;
    int n = holder != NULL ? ac_epmd_port2_resp_encode(resp, sizeof(resp), AC_EPMD_RESULT_OK, holder->reg)
                           : ac_epmd_port2_resp_encode(resp, sizeof(resp), AC_EPMD_RESULT_FAIL, NULL);
    c->closing = true;
    conn_send(c, resp, (size_t)n);
}

static void on_names(ac_epmd_server_t *srv, conn_t *c)
{
    size_t nreg = 0, len = 0;
    uint8_t *buf;

    for (size_t i = 0; i < srv->nconns; i++)
        nreg += !srv->conns[i]->dead && srv->conns[i]->reg != NULL;
    buf = ac_malloc(4 + nreg * AC_EPMD_NAMES_LINE_MAX);
    len += (size_t)ac_epmd_names_resp_head_encode(buf, 4, srv->port);
    for (size_t i = 0; i < srv->nconns; i++) {
        const conn_t *r = srv->conns[i];
        if (!r->dead && r->reg != NULL)
            len += (size_t)ac_epmd_names_resp_line_encode(buf + len, AC_EPMD_NAMES_LINE_MAX, r->reg->name,
                                                          r->reg->name_len, r->reg->port);
    }
    c->closing = true;
    /* Hand the buffer over instead of copying it: it is the whole answer. */
    free(c->out);
    c->out = buf;
    c->out_len = len;
    c->out_off = 0;
    conn_flush(c);
}

/* Handles every complete request buffered on c, one at a time: nothing new is taken while an answer is pending. */
static void conn_process(ac_epmd_server_t *srv, conn_t *c)
{
    while (!c->dead && !c->closing && !out_pending(c) && c->in_len > 0) {
        ac_epmd_req_t req;
        ac_errmsg_t err = {{0}};
        int n = ac_epmd_req_decode(c->in, c->in_len, &req, &err);

        if (n == -AC_EAGAIN)
            return;
        if (n < 0) {
            ac_log_debug("epmd", "bad_request", "error=%s", err.msg);
            if (n == -AC_EINVAL && req.tag == AC_EPMD_PORT_PLEASE2_REQ)
                on_port_please2(srv, c, "", 0); /* a name that cannot be registered is not registered */
            else
                conn_close(c, "bad_request");
            return;
        }
        switch (req.tag) {
        case AC_EPMD_ALIVE2_REQ: on_alive2(srv, c, &req.node); break;
        case AC_EPMD_PORT_PLEASE2_REQ: on_port_please2(srv, c, req.node.name, req.node.name_len); break;
        case AC_EPMD_NAMES_REQ: on_names(srv, c); break;
        default: /* DUMP_REQ, KILL_REQ, STOP_REQ: administration is not offered over the wire */
            ac_log_info("epmd", "request_refused", "request=%s",
                        req.tag == AC_EPMD_KILL_REQ   ? "kill"
                        : req.tag == AC_EPMD_STOP_REQ ? "stop"
                                                      : "dump");
            conn_close(c, "refused");
            return;
        }
        if (c->dead)
            return;
        memmove(c->in, c->in + n, c->in_len - (size_t)n);
        c->in_len -= (size_t)n;
    }
}

static void conn_read(ac_epmd_server_t *srv, conn_t *c)
{
    if (c->in_len == sizeof(c->in)) { /* cannot happen (the decoder refuses longer requests); never read 0 bytes */
        conn_close(c, "bad_request");
        return;
    }
    for (;;) {
        ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
        if (r > 0) {
            c->in_len += (size_t)r;
            break;
        }
        if (r == 0) {
            conn_close(c, "closed");
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            conn_close(c, "read_failed");
        return;
    }
    conn_process(srv, c);
}

static void conn_event(ac_epmd_server_t *srv, conn_t *c, short revents)
{
    if (c->dead || revents == 0)
        return;
    if (revents & (POLLERR | POLLNVAL)) {
        conn_close(c, "socket_error");
        return;
    }
    if (out_pending(c)) {
        if (revents & POLLHUP) {
            conn_close(c, "closed");
            return;
        }
        if (revents & POLLOUT)
            conn_flush(c);
        conn_process(srv, c); /* requests that arrived while the answer was pending */
        return;
    }
    if (revents & (POLLIN | POLLHUP))
        conn_read(srv, c);
}

static void accept_from(ac_epmd_server_t *srv, listener_t *l, int64_t now)
{
    for (int k = 0; k < ACCEPT_BATCH; k++) {
        int one = 1, fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                ac_log_warn("epmd", "accept_failed", "error=%s", strerror(errno));
                srv->accept_paused_until = now + ACCEPT_PAUSE_MS;
            }
            return;
        }
        if (srv->nconns >= (size_t)srv->max_conns) {
            close(fd);
            if (now - srv->limit_logged_at >= LIMIT_LOG_MS) {
                ac_log_warn("epmd", "too_many_connections", "limit=%d", srv->max_conns);
                srv->limit_logged_at = now;
            }
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_t *c = ac_calloc(1, sizeof(*c));
        c->fd = fd;
        c->deadline = now + srv->timeout_ms;
        srv->conns[srv->nconns++] = c;
    }
}

/* Removes the connections that died during the iteration. */
static void sweep(ac_epmd_server_t *srv)
{
    size_t j = 0;
    for (size_t i = 0; i < srv->nconns; i++) {
        if (srv->conns[i]->dead)
            free(srv->conns[i]);
        else
            srv->conns[j++] = srv->conns[i];
    }
    srv->nconns = j;
}

/* ---- the server -------------------------------------------------------------------------------------------------- */

int ac_epmd_server_open(const ac_epmd_server_opts_t *opts, ac_epmd_server_t **out, ac_errmsg_t *err)
{
    addr_t addrs[MAX_LISTENERS];
    size_t naddrs = 0;
    const char *list = opts->addresses;
    ac_epmd_server_t *srv = NULL;
    uint16_t port = opts->port;
    int ret;

    *out = NULL;
    if (list == NULL || list[0] == '\0')
        list = getenv("ERL_EPMD_ADDRESS");
    if (list == NULL || list[0] == '\0')
        list = "127.0.0.1";
    if ((ret = addresses_parse(list, addrs, &naddrs, err)) != 0)
        return ret;
    if (opts->any_port)
        port = 0;
    else if (port == 0 && (ret = ac_epmd_client_env_port(&port, err)) != 0)
        return ret;

    srv = ac_calloc(1, sizeof(*srv));
    srv->max_conns = opts->max_conns > 0 ? opts->max_conns : AC_EPMD_SERVER_MAX_CONNS;
    srv->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : AC_EPMD_SERVER_TIMEOUT_MS;
    srv->limit_logged_at = now_ms() - LIMIT_LOG_MS;
    for (size_t i = 0; i < naddrs; i++) {
        listener_t *l = &srv->listeners[srv->nlisteners];
        if ((ret = listener_open(&addrs[i], port, l, err)) < 0)
            goto Exit;
        if (ret == 1) {
            ac_log_debug("epmd", "address_skipped", "address=%s", l->addr);
            continue;
        }
        srv->nlisteners++;
        if (port == 0) { /* any_port: every further address takes the port the kernel chose for the first */
            struct sockaddr_storage ss;
            socklen_t len = sizeof(ss);
            getsockname(l->fd, (struct sockaddr *)&ss, &len);
            port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                 : ((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    srv->port = port;
    srv->conns = ac_calloc((size_t)srv->max_conns, sizeof(*srv->conns));
    srv->pfds = ac_calloc(srv->nlisteners + (size_t)srv->max_conns, sizeof(*srv->pfds));
    /* Creations start at a random value so that a restarted daemon does not hand a node its previous creation. */
    if (getrandom(&srv->next_creation, sizeof(srv->next_creation), GRND_NONBLOCK) != (ssize_t)sizeof(uint32_t))
        srv->next_creation = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
    for (size_t i = 0; i < srv->nlisteners; i++)
        ac_log_info("epmd", "listening", "address=%s port=%u", srv->listeners[i].addr, port);
    *out = srv;
    srv = NULL;
    ret = 0;

Exit:
    ac_epmd_server_free(srv);
    return ret;
}

uint16_t ac_epmd_server_port(const ac_epmd_server_t *srv)
{
    return srv->port;
}

int ac_epmd_server_serve(ac_epmd_server_t *srv, volatile sig_atomic_t *stop, ac_errmsg_t *err)
{
    int ret = 0;

    while (!*stop) {
        int64_t now = now_ms(), wake = now + LOOP_TICK_MS;
        bool accepting = now >= srv->accept_paused_until;
        size_t nl = srv->nlisteners, nc = srv->nconns;

        for (size_t i = 0; i < nc; i++) {
            conn_t *c = srv->conns[i];
            if (c->deadline != 0 && c->deadline <= now)
                conn_close(c, "timeout");
            else if (c->deadline != 0 && c->deadline < wake)
                wake = c->deadline;
        }
        sweep(srv);
        nc = srv->nconns;
        if (!accepting && srv->accept_paused_until < wake)
            wake = srv->accept_paused_until;
        for (size_t i = 0; i < nl; i++)
            srv->pfds[i] = (struct pollfd){.fd = srv->listeners[i].fd, .events = accepting ? POLLIN : 0};
        for (size_t i = 0; i < nc; i++) {
            conn_t *c = srv->conns[i];
            srv->pfds[nl + i] = (struct pollfd){.fd = c->fd, .events = out_pending(c) ? POLLOUT : POLLIN};
        }
        int n = poll(srv->pfds, nl + nc, (int)(wake > now ? wake - now : 0));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ret = ac_errmsg_set(err, -AC_ESYS, "poll: %s", strerror(errno));
            break;
        }
        if (n == 0)
            continue;
        now = now_ms();
        for (size_t i = 0; i < nc; i++)
            conn_event(srv, srv->conns[i], srv->pfds[nl + i].revents);
        sweep(srv);
        for (size_t i = 0; i < nl; i++)
            if (srv->pfds[i].revents & POLLIN)
                accept_from(srv, &srv->listeners[i], now);
    }
    for (size_t i = 0; i < srv->nconns; i++)
        conn_close(srv->conns[i], "stopping");
    sweep(srv);
    ac_log_info("epmd", "stopped", "port=%u", srv->port);
    return ret;
}

void ac_epmd_server_free(ac_epmd_server_t *srv)
{
    if (srv == NULL)
        return;
    for (size_t i = 0; i < srv->nconns; i++)
        conn_close(srv->conns[i], "stopping");
    sweep(srv);
    for (size_t i = 0; i < srv->nlisteners; i++)
        close(srv->listeners[i].fd);
    free(srv->conns);
    free(srv->pfds);
    free(srv);
}

int ac_epmd_server_run(const ac_epmd_server_opts_t *opts, volatile sig_atomic_t *stop, ac_errmsg_t *err)
{
    ac_epmd_server_t *srv = NULL;
    int ret = ac_epmd_server_open(opts, &srv, err);

    if (ret == 0)
        ret = ac_epmd_server_serve(srv, stop, err);
    ac_epmd_server_free(srv);
    return ret;
}
