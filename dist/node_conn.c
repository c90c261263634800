/* dist/node_conn.c - the distribution node's peer connections: their buffers, sending (bounded: a peer that stops
 * reading is dropped), reading and splitting frames (bounded per round), nodeup and nodedown, and the handshake
 * threads that make them, incoming and outgoing, within their budgets. Runs on the loop's thread, except the
 * handshake threads, which hand a connected socket to the loop through its inbox. */
#include "dist/node_int.h"

#include "dist/frame.h"
#include "epmd/client.h"
#include "node/log.h"
#include "policy/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static void buf_append(buf_t *b, const char *p, size_t n)
{
    if (b->off > 0 && b->off == b->len)
        b->off = b->len = 0;
    if (b->len + n > b->cap) {
        if (b->off > 0) { /* compact first */
            memmove(b->p, b->p + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        if (b->len + n > b->cap) {
            b->cap = (b->len + n) * 2;
            b->p = ac_realloc(b->p, b->cap);
        }
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

conn_t *ac_dist_node__conn_by_id(ac_dist_node_t *n, uint64_t id)
{
    for (size_t i = 0; i < n->nconns; i++)
        if (n->conns[i]->id == id && !n->conns[i]->dead)
            return n->conns[i];
    return NULL;
}

conn_t *ac_dist_node__conn_by_name(ac_dist_node_t *n, const char *name)
{
    for (size_t i = 0; i < n->nconns; i++)
        if (strcmp(n->conns[i]->name, name) == 0 && !n->conns[i]->dead)
            return n->conns[i];
    return NULL;
}

void ac_dist_node__conn_flush(ac_dist_node_t *n, conn_t *c)
{
    while (c->out.len > c->out.off) {
        ssize_t w = send(c->fd, c->out.p + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
        if (w > 0) {
            c->out.off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        c->dead = true;
        return;
    }
    bool want = c->out.len > c->out.off;
    if (want != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(n->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
}

void ac_dist_node__conn_send(ac_dist_node_t *n, conn_t *c, const char *frame, size_t len)
{
    if (c->dead)
        return;
    if (c->out.len - c->out.off + len > AC_DIST_NODE_MAX_OUTBUF) {
        ac_log_warn("dist", "peer_not_reading", "peer=%s buffered=%zu", c->name, c->out.len - c->out.off);
        c->dead = true;
        return;
    }
    buf_append(&c->out, frame, len);
    c->last_send = ac_dist_node__now_ms();
    if (!n->defer_flush)
        ac_dist_node__conn_flush(n, c);
}

void ac_dist_node__send_terms(ac_dist_node_t *n, conn_t *c, ei_x_buff *ctrl, ei_x_buff *msg)
{
    char *f;
    size_t fl;
    ac_dist_ctrl_frame(ctrl, msg, &f, &fl);
    ac_dist_node__conn_send(n, c, f, fl);
    free(f);
}

/* SEND {2, '', To} + Msg */
void ac_dist_node__send_to_pid(ac_dist_node_t *n, conn_t *c, const erlang_pid *to, ei_x_buff *msg)
{
    ei_x_buff ctrl;
    ei_x_new(&ctrl);
    ei_x_encode_tuple_header(&ctrl, 3);
    ei_x_encode_long(&ctrl, AC_DIST_SEND);
    ei_x_encode_atom(&ctrl, "");
    ei_x_encode_pid(&ctrl, to);
    ac_dist_node__send_terms(n, c, &ctrl, msg);
    ei_x_free(&ctrl);
}

static void set_sock_opts(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

void ac_dist_node__conn_add(ac_dist_node_t *n, int fd, const char *name, uint64_t flags)
{
    conn_t *old = ac_dist_node__conn_by_name(n, name);
    if (old != NULL) { /* the peer reconnected (it restarted): the old connection is stale */
        ac_log_info("dist", "replacing_connection", "peer=%s", name);
        old->dead = true;
    }
    conn_t *c = ac_calloc(1, sizeof(*c));
    c->fd = fd;
    c->id = ++n->next_id;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->flags = flags;
    c->last_recv = c->last_send = ac_dist_node__now_ms();
    set_sock_opts(fd);
    if (n->nconns == n->capconns) {
        n->capconns = n->capconns ? n->capconns * 2 : 16;
        n->conns = ac_realloc(n->conns, n->capconns * sizeof(*n->conns));
    }
    n->conns[n->nconns++] = c;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(n->epfd, EPOLL_CTL_ADD, fd, &ev);
    ac_log_info("dist", "nodeup", "peer=%s", name);
    pthread_mutex_lock(&n->lock);
    if (n->nup == n->capup) {
        n->capup = n->capup ? n->capup * 2 : 16;
        n->up = ac_realloc(n->up, n->capup * sizeof(*n->up));
    }
    snprintf(n->up[n->nup++], 256, "%s", name);
    pthread_mutex_unlock(&n->lock);
    if (n->cfg.membership != NULL)
        n->cfg.membership(n->cfg.arg, name, true);
    /* calls waiting for this peer go out now */
    pthread_mutex_lock(&n->lock);
    for (call_t *call = n->calls; call != NULL; call = call->next) {
        if (!call->sent && !call->done && strcmp(call->peer, name) == 0) {
            ac_dist_node__conn_send(n, c, call->frame, call->flen);
            call->sent = true;
            call->conn_id = c->id;
        }
    }
    pthread_mutex_unlock(&n->lock);
}

void ac_dist_node__conn_reap(ac_dist_node_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < n->nconns; i++) {
        conn_t *c = n->conns[i];
        if (!c->dead) {
            n->conns[k++] = c;
            continue;
        }
        epoll_ctl(n->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        ac_log_info("dist", "nodedown", "peer=%s", c->name);
        pthread_mutex_lock(&n->lock);
        for (size_t u = 0; u < n->nup; u++) {
            if (strcmp(n->up[u], c->name) == 0) {
                memmove(&n->up[u], &n->up[u + 1], (n->nup - u - 1) * sizeof(*n->up));
                n->nup--;
                break;
            }
        }
        pthread_mutex_unlock(&n->lock);
        if (n->cfg.membership != NULL && ac_dist_node__conn_by_name(n, c->name) == NULL)
            n->cfg.membership(n->cfg.arg, c->name, false);
        /* pending triggers of this peer can never be answered */
        pending_t **pp = &n->pending;
        while (*pp != NULL) {
            if ((*pp)->conn_id == c->id) {
                pending_t *p = *pp;
                *pp = p->next;
                ac_dist_node__pending_free(p);
            } else {
                pp = &(*pp)->next;
            }
        }
        pthread_mutex_lock(&n->lock);
        for (call_t *call = n->calls; call != NULL; call = call->next) {
            if (call->sent && !call->done && call->conn_id == c->id) {
                ac_dist_node__call_fail(call, "rpc_failed: nodedown");
            }
        }
        pthread_mutex_unlock(&n->lock);
        free(c->in.p);
        free(c->out.p);
        free(c);
    }
    n->nconns = k;
}

void ac_dist_node__conn_read(ac_dist_node_t *n, conn_t *c)
{
    char tmp[65536];
    /* Bounded: at most AC_DIST_NODE_READ_BUDGET per call (other peers get their turn; epoll is level-triggered, so
     * the rest is read next round) and never more buffered than one whole frame of the largest size, so a peer that
     * sends faster than we parse cannot grow c->in without limit. */
    size_t budget = AC_DIST_NODE_READ_BUDGET;
    while (budget > 0 && c->in.len - c->in.off < AC_DIST_NODE_MAX_FRAME + 4) {
        ssize_t r = recv(c->fd, tmp, sizeof(tmp), 0);
        if (r > 0) {
            buf_append(&c->in, tmp, (size_t)r);
            c->last_recv = ac_dist_node__now_ms();
            budget = (size_t)r < budget ? budget - (size_t)r : 0;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        c->dead = true; /* closed or failed */
        break;
    }
    for (;;) {
        size_t consumed = 0, plen = 0;
        const uint8_t *payload = NULL;
        int fr = ac_dist_frame_next((const uint8_t *)c->in.p + c->in.off, c->in.len - c->in.off, AC_DIST_NODE_MAX_FRAME,
                                    &consumed, &payload, &plen);
        if (fr == 0)
            break;
        if (fr < 0) {
            ac_log_warn("dist", "bad_frame", "peer=%s error=%s", c->name, ac_strerror(fr));
            c->dead = true;
            break;
        }
        if (plen == 0) {
            /* Answer a tick only when we have sent nothing for a second: peers with a short net_ticktime hear from
             * us in time, and two AlexClaw/C nodes never bounce ticks back and forth. */
            static const char tick[4] = {0, 0, 0, 0};
            if (ac_dist_node__now_ms() - c->last_send >= 1000)
                ac_dist_node__conn_send(n, c, tick, sizeof(tick));
        } else {
            ac_dist_node__on_frame(n, c, (const char *)payload, plen);
        }
        c->in.off += consumed;
        if (c->dead)
            break;
    }
}

/* --- handshake threads --- */

typedef struct {
    ac_dist_node_t *n;
    int fd;
    char peer[256]; /* connect: who; accept: the source address */
    bool connect;
} hs_arg_t;

/* Who may finish an incoming handshake: never a peer claiming our own name; a name that is connected already gets
 * "alive", and the protocol lets the peer confirm that it is a new incarnation (which then replaces the old one). */
ac_dist_admit_t ac_dist_node__admit(void *ctx, const char *peer_name, uint64_t peer_flags)
{
    ac_dist_node_t *n = ctx;
    if (strcmp(peer_name, n->name) == 0)
        return AC_DIST_ADMIT_NOT_ALLOWED;
    return ac_dist_node_connected(n, peer_name) ? AC_DIST_ADMIT_ALIVE : AC_DIST_ADMIT_OK;
}

/* connect(2) bounded by the handshake deadline (a blocking connect can wait minutes for SYN retries). */
static int connect_bounded(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int rc = connect(fd, sa, len);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd p = {fd, POLLOUT, 0};
        int err = 0;
        socklen_t el = sizeof(err);
        rc = poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0 ? 0 : -1;
    }
    fcntl(fd, F_SETFL, fl);
    return rc;
}

static void *handshake_main(void *arg)
{
    hs_arg_t *a = arg;
    ac_dist_node_t *n = a->n;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    ac_dist_peer_t peer;
    memset(&peer, 0, sizeof(peer));
    ac_errmsg_t err = {{0}};
    int rc;
    int fd = a->fd;
    if (a->connect) {
        /* EPMD lookup of the peer's port on its host */
        char alive[256], host[256];
        const char *at = strchr(a->peer, '@');
        snprintf(alive, sizeof(alive), "%.*s", (int)(at - a->peer), a->peer);
        snprintf(host, sizeof(host), "%s", at + 1);
        uint16_t port = 0, highest = 0;
        rc = ac_epmd_client_port_please(host, n->cfg.epmd_port, alive, AC_DIST_NODE_HANDSHAKE_TIMEOUT_MS, &port,
                                        &highest, &err);
        if (rc == 0) {
            struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
            char ps[8];
            snprintf(ps, sizeof(ps), "%u", port);
            rc = getaddrinfo(host, ps, &hints, &res) == 0 ? 0 : ac_errmsg_set(&err, -AC_EIO, "cannot resolve %s", host);
            fd = -1;
            for (struct addrinfo *ai = res; rc == 0 && ai != NULL && fd < 0; ai = ai->ai_next) {
                fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd >= 0 &&
                    connect_bounded(fd, ai->ai_addr, ai->ai_addrlen, AC_DIST_NODE_HANDSHAKE_TIMEOUT_MS) != 0) {
                    close(fd);
                    fd = -1;
                }
            }
            if (res != NULL)
                freeaddrinfo(res);
            if (rc == 0 && fd < 0)
                rc = ac_errmsg_set(&err, -AC_EIO, "cannot connect to %s port %u", host, port);
        }
        if (rc == 0)
            rc = ac_dist_handshake_connect(fd, &n->local, a->peer, n->cookie, AC_DIST_NODE_HANDSHAKE_TIMEOUT_MS, &peer,
                                           &err);
    } else {
        /* an honest peer needs milliseconds; a short deadline makes idle connections a poor way to fill the slots */
        rc = ac_dist_handshake_accept(fd, &n->local, n->cookie, AC_DIST_NODE_HANDSHAKE_ACCEPT_TIMEOUT_MS, &peer, &err);
    }
    event_t *e = ac_calloc(1, sizeof(*e));
    if (rc == 0) {
        e->kind = EV_CONN;
        e->fd = fd;
        snprintf(e->name, sizeof(e->name), "%s", peer.name);
        e->flags = peer.flags;
    } else {
        if (fd >= 0)
            close(fd);
        ac_log_warn("dist", a->connect ? "connect_failed" : "handshake_failed", "peer=%s error=%s", a->peer, err.msg);
        e->kind = EV_CONNECT_FAILED;
        snprintf(e->name, sizeof(e->name), "%s", a->connect ? a->peer : "");
        snprintf(e->err, sizeof(e->err), "rpc_failed: %.200s", err.msg);
    }
    /* the event and the count change under one lock: stop() frees the node only when the count is zero */
    pthread_mutex_lock(&n->lock);
    ac_dist_node__inbox_push(n, e);
    if (a->connect) {
        n->handshakes_out--;
    } else {
        n->handshakes_in--;
        for (int i = 0; i < AC_DIST_NODE_MAX_HANDSHAKES_IN; i++)
            if (n->hs_ip[i].count > 0 && strcmp(n->hs_ip[i].addr, a->peer) == 0) {
                n->hs_ip[i].count--;
                break;
            }
    }
    if (!n->stop)
        ac_dist_node__wake(n);
    pthread_mutex_unlock(&n->lock);
    free(a);
    return NULL;
}

/* Starts a handshake thread within its budget: incoming by total and by source address, outgoing apart. */
bool ac_dist_node__start_handshake(ac_dist_node_t *n, int fd, const char *peer, const char *addr)
{
    pthread_mutex_lock(&n->lock);
    bool room;
    if (peer != NULL) {
        room = n->handshakes_out < AC_DIST_NODE_MAX_HANDSHAKES_OUT;
        if (room)
            n->handshakes_out++;
    } else {
        int slot = -1, same = 0;
        for (int i = 0; i < AC_DIST_NODE_MAX_HANDSHAKES_IN; i++) {
            if (n->hs_ip[i].count > 0 && strcmp(n->hs_ip[i].addr, addr) == 0) {
                slot = i;
                same = n->hs_ip[i].count;
            }
        }
        if (slot < 0)
            for (int i = 0; i < AC_DIST_NODE_MAX_HANDSHAKES_IN && slot < 0; i++)
                if (n->hs_ip[i].count == 0)
                    slot = i;
        room =
            n->handshakes_in < AC_DIST_NODE_MAX_HANDSHAKES_IN && same < AC_DIST_NODE_MAX_HANDSHAKES_IN_IP && slot >= 0;
        if (room) {
            n->handshakes_in++;
            snprintf(n->hs_ip[slot].addr, sizeof(n->hs_ip[slot].addr), "%s", addr);
            n->hs_ip[slot].count++;
        }
    }
    pthread_mutex_unlock(&n->lock);
    if (!room)
        return false;
    hs_arg_t *a = ac_calloc(1, sizeof(*a));
    a->n = n;
    a->fd = fd;
    a->connect = peer != NULL;
    snprintf(a->peer, sizeof(a->peer), "%s", peer != NULL ? peer : addr);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&t, &attr, handshake_main, a);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        pthread_mutex_lock(&n->lock);
        if (peer != NULL) {
            n->handshakes_out--;
        } else {
            n->handshakes_in--;
            for (int i = 0; i < AC_DIST_NODE_MAX_HANDSHAKES_IN; i++)
                if (n->hs_ip[i].count > 0 && strcmp(n->hs_ip[i].addr, addr) == 0) {
                    n->hs_ip[i].count--;
                    break;
                }
        }
        pthread_mutex_unlock(&n->lock);
        free(a);
        return false;
    }
    return true;
}

/* The outgoing handshakes in progress, so concurrent calls to one peer share a single connection attempt. */
bool ac_dist_node__connecting(ac_dist_node_t *n, const char *peer, int change)
{
    for (size_t i = 0; i < n->nconnecting; i++) {
        if (strcmp(n->connecting[i], peer) == 0) {
            if (change < 0) {
                memmove(&n->connecting[i], &n->connecting[i + 1], (n->nconnecting - i - 1) * sizeof(*n->connecting));
                n->nconnecting--;
            }
            return true;
        }
    }
    if (change > 0) {
        if (n->nconnecting == n->capconnecting) {
            n->capconnecting = n->capconnecting ? n->capconnecting * 2 : 8;
            n->connecting = ac_realloc(n->connecting, n->capconnecting * sizeof(*n->connecting));
        }
        snprintf(n->connecting[n->nconnecting++], 256, "%s", peer);
    }
    return false;
}
