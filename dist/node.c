/* dist/node.c - the distribution node of node.h: its life cycle, the event loop and its inbox, the listener and the
 * EPMD registration. The loop's connections are in node_conn.c, the messages it serves in node_serve.c, our own
 * calls to other nodes in node_call.c; what they share is in node_int.h.
 *
 * Threads: the loop (epoll over the listener, the EPMD connection, every peer and an eventfd); one short-lived
 * thread per handshake (accepted or initiated), which hands the connected socket to the loop; worker threads that
 * call ac_dist_node_answer() or ac_dist_node_trigger_remote(), which post to the loop's inbox and wake it. */
#include "dist/node_int.h"

#include "epmd/client.h"
#include "node/log.h"
#include "policy/alloc.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t ac_dist_node__now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void ac_dist_node__wake(ac_dist_node_t *n)
{
    uint64_t one = 1;
    ssize_t w = write(n->wake_fd, &one, sizeof(one));
    (void)w;
}

void ac_dist_node__inbox_push(ac_dist_node_t *n, event_t *e)
{
    if (n->inbox_tail != NULL)
        n->inbox_tail->next = e;
    else
        n->inbox = e;
    n->inbox_tail = e;
}

void ac_dist_node__post(ac_dist_node_t *n, event_t *e)
{
    pthread_mutex_lock(&n->lock);
    ac_dist_node__inbox_push(n, e);
    pthread_mutex_unlock(&n->lock);
    ac_dist_node__wake(n);
}

static void epmd_register(ac_dist_node_t *n)
{
    ac_errmsg_t err = {{0}};
    uint32_t creation = 0;
    if (ac_epmd_client_ensure_daemon(n->self_exe, n->epmd_host, n->cfg.epmd_port, &err) != 0 ||
        ac_epmd_client_register(n->epmd_host, n->cfg.epmd_port, n->alive, (uint16_t)n->port, &n->epmd_fd, &creation,
                                &err) != 0) {
        ac_log_warn("dist", "epmd_register_failed", "error=%s retry_in_s=%d", err.msg, 5);
        n->epmd_fd = -1;
        n->epmd_retry_at = ac_dist_node__now_ms() + 5000;
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &n->epmd_fd};
    epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->epmd_fd, &ev);
    ac_log_info("dist", "epmd_registered", "name=%s port=%d", n->alive, n->port);
}

static void drain_inbox(ac_dist_node_t *n)
{
    pthread_mutex_lock(&n->lock);
    event_t *e = n->inbox;
    n->inbox = n->inbox_tail = NULL;
    pthread_mutex_unlock(&n->lock);
    while (e != NULL) {
        event_t *next = e->next;
        switch (e->kind) {
        case EV_CONN:
            ac_dist_node__connecting(n, e->name, -1);
            ac_dist_node__conn_add(n, e->fd, e->name, e->flags);
            break;
        case EV_ANSWER: ac_dist_node__answer_now(n, e->token, e->error_atom, e->unauthorized); break;
        case EV_CALL: {
            conn_t *c = ac_dist_node__conn_by_name(n, e->name);
            pthread_mutex_lock(&n->lock);
            for (call_t *call = n->calls; call != NULL; call = call->next) {
                if (!call->sent && !call->done && strcmp(call->peer, e->name) == 0 && c != NULL) {
                    ac_dist_node__conn_send(n, c, call->frame, call->flen);
                    call->sent = true;
                    call->conn_id = c->id;
                }
            }
            pthread_mutex_unlock(&n->lock);
            if (c != NULL || ac_dist_node__connecting(n, e->name, 0))
                break; /* sent, or a connection attempt is under way and will send it */
            if (ac_dist_node__start_handshake(n, -1, e->name, NULL)) {
                ac_dist_node__connecting(n, e->name, +1);
            } else {
                pthread_mutex_lock(&n->lock);
                for (call_t *call = n->calls; call != NULL; call = call->next)
                    if (!call->done && strcmp(call->peer, e->name) == 0)
                        ac_dist_node__call_fail(call, "rpc_failed: too many connections in progress");
                pthread_mutex_unlock(&n->lock);
            }
            break;
        }
        case EV_CONNECT_FAILED:
            if (e->name[0])
                ac_dist_node__connecting(n, e->name, -1);
            pthread_mutex_lock(&n->lock);
            for (call_t *call = n->calls; call != NULL; call = call->next)
                if (!call->done && !call->sent && e->name[0] && strcmp(call->peer, e->name) == 0)
                    ac_dist_node__call_fail(call, e->err);
            pthread_mutex_unlock(&n->lock);
            break;
        }
        free(e->error_atom);
        free(e->unauthorized);
        free(e);
        e = next;
    }
}

static void *loop_main(void *arg)
{
    ac_dist_node_t *n = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    epmd_register(n);
    int64_t last_tick_check = ac_dist_node__now_ms();
    while (!n->stop) {
        struct epoll_event evs[64];
        int k = epoll_wait(n->epfd, evs, 64, 1000);
        /* replies produced by this round (a SPAWN_REPLY and its MONITOR_P_EXIT, say) leave in one send per peer */
        n->defer_flush = true;
        for (int i = 0; i < k; i++) {
            void *p = evs[i].data.ptr;
            if (p == &n->listen_fd) {
                for (;;) {
                    struct sockaddr_storage ss;
                    socklen_t sl = sizeof(ss);
                    int fd = accept4(n->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
                    if (fd < 0)
                        break;
                    char addr[64] = "?";
                    getnameinfo((struct sockaddr *)&ss, sl, addr, sizeof(addr), NULL, 0, NI_NUMERICHOST);
                    if (!ac_dist_node__start_handshake(n, fd, NULL, addr)) {
                        ac_log_warn("dist", "accept_refused", "address=%s reason=%s", addr,
                                    "too many handshakes in progress");
                        close(fd);
                    }
                }
            } else if (p == &n->wake_fd) {
                uint64_t v;
                ssize_t r = read(n->wake_fd, &v, sizeof(v));
                (void)r;
                drain_inbox(n);
            } else if (p == &n->epmd_fd) {
                ac_log_warn("dist", "epmd_lost", "retry_in_s=%d", 1);
                epoll_ctl(n->epfd, EPOLL_CTL_DEL, n->epmd_fd, NULL);
                close(n->epmd_fd);
                n->epmd_fd = -1;
                n->epmd_retry_at = ac_dist_node__now_ms() + 1000;
            } else {
                conn_t *c = p;
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    ac_dist_node__conn_read(n, c);
                if (!c->dead && (evs[i].events & EPOLLOUT))
                    ac_dist_node__conn_flush(n, c);
            }
        }
        n->defer_flush = false;
        for (size_t i = 0; i < n->nconns; i++) {
            conn_t *c = n->conns[i];
            if (!c->dead && !c->want_out && c->out.len > c->out.off)
                ac_dist_node__conn_flush(n, c);
        }
        int64_t t = ac_dist_node__now_ms();
        if (n->epmd_fd < 0 && t >= n->epmd_retry_at)
            epmd_register(n);
        if (t - last_tick_check >= 1000) {
            last_tick_check = t;
            for (size_t i = 0; i < n->nconns; i++) {
                conn_t *c = n->conns[i];
                if (t - c->last_recv > (int64_t)n->cfg.net_ticktime_s * 1000) {
                    ac_log_warn("dist", "peer_silent", "peer=%s seconds=%d", c->name, n->cfg.net_ticktime_s);
                    c->dead = true;
                } else if (t - c->last_send >= (AC_DIST_NODE_TICK_EVERY_MS < n->cfg.net_ticktime_s * 250
                                                    ? AC_DIST_NODE_TICK_EVERY_MS
                                                    : n->cfg.net_ticktime_s * 250)) {
                    static const char tick[4] = {0, 0, 0, 0};
                    ac_dist_node__conn_send(n, c, tick, sizeof(tick));
                }
            }
            /* calls past their deadline */
            pthread_mutex_lock(&n->lock);
            for (call_t *call = n->calls; call != NULL; call = call->next)
                if (!call->done && t >= call->deadline)
                    ac_dist_node__call_fail(call, "rpc_failed: timeout");
            pthread_mutex_unlock(&n->lock);
        }
        ac_dist_node__conn_reap(n);
    }
    for (size_t i = 0; i < n->nconns; i++)
        n->conns[i]->dead = true;
    ac_dist_node__conn_reap(n);
    return NULL;
}

static int listen_on(ac_dist_node_t *n, ac_errmsg_t *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST}, *res;
    if (getaddrinfo(n->bind_addr, NULL, &hints, &res) != 0)
        return ac_errmsg_set(err, -AC_ECONFIG, "cannot use %s as the distribution listen address", n->bind_addr);
    int lo = n->cfg.port_min > 0 ? n->cfg.port_min : 0, hi = n->cfg.port_max > 0 ? n->cfg.port_max : lo;
    int rc = -AC_EIO;
    for (int port = lo; port <= hi && rc != 0; port++) {
        int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_storage ss;
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        if (ss.ss_family == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        if (fd >= 0 && bind(fd, (struct sockaddr *)&ss, res->ai_addrlen) == 0 && listen(fd, 64) == 0) {
            socklen_t sl = sizeof(ss);
            getsockname(fd, (struct sockaddr *)&ss, &sl);
            n->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
            n->listen_fd = fd;
            rc = 0;
        } else if (fd >= 0) {
            close(fd);
        }
    }
    freeaddrinfo(res);
    if (rc != 0)
        return ac_errmsg_set(err, -AC_EIO, "cannot listen for distribution on %s ports %d-%d", n->bind_addr, lo, hi);
    return 0;
}

int ac_dist_node_start(const ac_dist_node_cfg_t *cfg, ac_dist_node_t **out, ac_errmsg_t *err)
{
    const char *at = strchr(cfg->name, '@');
    if (at == NULL || at == cfg->name || at[1] == '\0' || strlen(cfg->name) > 255)
        return ac_errmsg_set(err, -AC_ECONFIG, "NODE_NAME must look like name@host (got %.64s)", cfg->name);
    ac_dist_node_t *n = ac_calloc(1, sizeof(*n));
    n->cfg = *cfg;
    if (n->cfg.net_ticktime_s <= 0)
        n->cfg.net_ticktime_s = 60;
    n->name = ac_strdup(cfg->name);
    n->alive = ac_strndup(cfg->name, (size_t)(at - cfg->name));
    n->host = ac_strdup(at + 1);
    n->cookie = ac_strdup(cfg->cookie);
    n->bind_addr = ac_strdup(cfg->bind_addr != NULL ? cfg->bind_addr : "127.0.0.1");
    n->epmd_host = ac_strdup(cfg->epmd_host != NULL ? cfg->epmd_host : "127.0.0.1");
    n->self_exe = ac_strdup(cfg->self_exe != NULL ? cfg->self_exe : "/proc/self/exe");
    n->listen_fd = n->epfd = n->wake_fd = n->epmd_fd = -1;
    pthread_mutex_init(&n->lock, NULL);
    /* our flags and a new creation for every start, so stale pids never reach this incarnation (pitfall P4) */
    int rc = ac_dist_local_init(&n->local, n->name, err);
    n->local.admit = ac_dist_node__admit;
    n->local.admit_ctx = n;
    if (rc == 0)
        rc = listen_on(n, err);
    if (rc == 0) {
        n->epfd = epoll_create1(EPOLL_CLOEXEC);
        n->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        struct epoll_event a = {.events = EPOLLIN, .data.ptr = &n->listen_fd};
        struct epoll_event b = {.events = EPOLLIN, .data.ptr = &n->wake_fd};
        epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->listen_fd, &a);
        epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->wake_fd, &b);
        if (pthread_create(&n->loop, NULL, loop_main, n) != 0)
            rc = ac_errmsg_set(err, -AC_ESYS, "cannot start the distribution thread");
        else
            n->loop_started = true;
    }
    if (rc != 0) {
        ac_dist_node_stop(n);
        return rc;
    }
    ac_log_info("dist", "listening", "node=%s address=%s port=%d", n->name, n->bind_addr, n->port);
    *out = n;
    return 0;
}

int ac_dist_node_port(const ac_dist_node_t *n)
{
    return n->port;
}

void ac_dist_node_stop(ac_dist_node_t *n)
{
    if (n == NULL)
        return;
    n->stop = 1;
    if (n->loop_started) {
        ac_dist_node__wake(n);
        pthread_join(n->loop, NULL);
    }
    /* Handshake threads post to the inbox and touch the counters: wait for them (each is bounded by its EPMD, connect
     * and handshake timeouts). One that is still running after that keeps the node alive: leaked, never freed. */
    int h = 0;
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&n->lock);
        h = n->handshakes_in + n->handshakes_out;
        pthread_mutex_unlock(&n->lock);
        if (h == 0)
            break;
        usleep(10000);
    }
    if (h != 0) {
        ac_log_error("dist", "stop_incomplete", "handshakes=%d note=%s", h, "node state left allocated");
        return;
    }
    event_t *e = n->inbox;
    while (e != NULL) {
        event_t *next = e->next;
        if (e->kind == EV_CONN)
            close(e->fd);
        free(e->error_atom);
        free(e->unauthorized);
        free(e);
        e = next;
    }
    while (n->pending != NULL) {
        pending_t *p = n->pending;
        n->pending = p->next;
        ac_dist_node__pending_free(p);
    }
    if (n->epmd_fd >= 0)
        close(n->epmd_fd);
    if (n->listen_fd >= 0)
        close(n->listen_fd);
    if (n->wake_fd >= 0)
        close(n->wake_fd);
    if (n->epfd >= 0)
        close(n->epfd);
    free(n->conns);
    free(n->up);
    free(n->connecting);
    pthread_mutex_destroy(&n->lock);
    free(n->name);
    free(n->alive);
    free(n->host);
    ac_free_secret_str(n->cookie);
    free(n->bind_addr);
    free(n->epmd_host);
    free(n->self_exe);
    free(n);
}

void ac_dist_node_answer(ac_dist_node_t *n, uint64_t token, const char *error_atom, const char *unauthorized)
{
    event_t *e = ac_calloc(1, sizeof(*e));
    e->kind = EV_ANSWER;
    e->token = token;
    e->error_atom = error_atom != NULL ? ac_strdup(error_atom) : NULL;
    e->unauthorized = unauthorized != NULL ? ac_strdup(unauthorized) : NULL;
    ac_dist_node__post(n, e);
}

void ac_dist_node_connect(ac_dist_node_t *n, const char *peer)
{
    if (strchr(peer, '@') == NULL || strlen(peer) > 255 || strcmp(peer, n->name) == 0)
        return;
    event_t *e = ac_calloc(1, sizeof(*e));
    e->kind = EV_CALL; /* with no call waiting, it only connects */
    snprintf(e->name, sizeof(e->name), "%s", peer);
    ac_dist_node__post(n, e);
}

bool ac_dist_node_connected(ac_dist_node_t *n, const char *peer)
{
    pthread_mutex_lock(&n->lock);
    bool up = false;
    for (size_t i = 0; i < n->nup && !up; i++)
        up = strcmp(n->up[i], peer) == 0;
    pthread_mutex_unlock(&n->lock);
    return up;
}
