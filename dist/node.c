/* dist/node.c - the distribution node of node.h: listener, EPMD registration, handshake threads, the event loop,
 * the control messages we serve, and the rex client used by send_to_workflow.
 *
 * Threads: the loop (epoll over the listener, the EPMD connection, every peer and an eventfd); one short-lived
 * thread per handshake (accepted or initiated), which hands the connected socket to the loop; worker threads that
 * call ac_dist_node_answer() or ac_dist_node_trigger_remote(), which post to the loop's inbox and wake it. */
#include "dist/node.h"

#include "dist/ctrl.h"
#include "dist/flags.h"
#include "dist/frame.h"
#include "dist/handshake.h"
#include "dist/term_json.h"
#include "epmd/client.h"
#include "node/log.h"
#include "policy/alloc.h"
#include "policy/crypto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* What callers may run here: nothing else, whatever they hold. */
static const struct {
    const char *module, *function;
    int arity;
} allow_list[] = {
    {"Elixir.AlexClaw.Cluster.Manager", "receive_workflow_data", 3},
};

#define MAX_FRAME                   (64u * 1024 * 1024)
#define READ_BUDGET                 (1u * 1024 * 1024)  /* bytes read from one peer per round of events */
#define MAX_OUTBUF                  (64u * 1024 * 1024) /* a peer that stops reading is dropped past this */
#define HANDSHAKE_TIMEOUT_MS        5000
#define HANDSHAKE_ACCEPT_TIMEOUT_MS 2000
#define MAX_HANDSHAKES_IN           16  /* incoming handshakes at once ... */
#define MAX_HANDSHAKES_IN_IP        4   /* ... and from one address */
#define MAX_HANDSHAKES_OUT          8   /* outgoing, budgeted apart so incoming floods cannot block send_to_workflow */
#define MAX_PENDING_PER_PEER        128 /* triggers of one peer waiting for their answer */
#define PAD                         64  /* zero bytes after a frame: a decoder overrunning a term meets invalid tags */
#define TICK_EVERY_MS               15000

typedef struct {
    char *p;
    size_t len, cap, off; /* off: bytes already consumed/sent from the front */
} buf_t;

typedef struct conn {
    int fd;
    uint64_t id;
    char name[256];
    uint64_t flags;
    buf_t in, out;
    int64_t last_recv, last_send;
    bool dead;
    bool want_out; /* EPOLLOUT is registered: the socket refused part of out */
} conn_t;

typedef enum { PEND_REX, PEND_SPAWN, PEND_EI_RPC } pend_kind_t;

/* A trigger waiting for its answer. */
typedef struct pending {
    uint64_t token, conn_id;
    pend_kind_t kind;
    erlang_pid from;
    char *tag; /* rex: the gen_call tag bytes, copied verbatim; spawn: the erpc result ref bytes */
    int taglen;
    erlang_ref reqid; /* spawn */
    erlang_pid newpid;
    bool monitor, link;
    struct pending *next;
} pending_t;

/* An outgoing call waiting for its reply. */
typedef struct call {
    uint64_t id;
    char peer[256];
    uint64_t conn_id; /* the connection it was sent on */
    erlang_ref ref;
    char *frame; /* to send once connected */
    size_t flen;
    bool sent, done;
    int rc;
    char err[256];
    int64_t deadline;
    pthread_cond_t cond;
    struct call *next;
} call_t;

typedef enum { EV_CONN, EV_ANSWER, EV_CALL, EV_CONNECT_FAILED } ev_kind_t;

typedef struct event {
    ev_kind_t kind;
    int fd;         /* EV_CONN */
    char name[256]; /* EV_CONN, EV_CONNECT_FAILED: peer */
    uint64_t flags; /* EV_CONN */
    uint64_t token; /* EV_ANSWER */
    char *error_atom, *unauthorized;
    char err[256]; /* EV_CONNECT_FAILED */
    struct event *next;
} event_t;

struct ac_dist_node {
    ac_dist_node_cfg_t cfg;
    char *name, *cookie, *alive, *host, *bind_addr, *epmd_host, *self_exe;
    ac_dist_local_t local;
    int listen_fd, port, epfd, wake_fd, epmd_fd;
    int64_t epmd_retry_at;
    pthread_t loop;
    bool loop_started;
    bool defer_flush; /* inside one round of events: frames are queued, then sent together at its end */
    volatile sig_atomic_t stop;
    pthread_mutex_t lock; /* inbox, calls, handshake count */
    event_t *inbox, *inbox_tail;
    call_t *calls;
    int handshakes_in, handshakes_out;
    struct {
        char addr[64];
        int count;
    } hs_ip[MAX_HANDSHAKES_IN]; /* incoming handshakes per source address */
    /* loop-thread state */
    char (*connecting)[256]; /* outgoing handshakes in progress, by peer name */
    size_t nconnecting, capconnecting;
    conn_t **conns;
    size_t nconns, capconns;
    char (*up)[256]; /* names of connected peers, under lock, for other threads */
    size_t nup, capup;
    pending_t *pending;
    uint64_t next_id;
    unsigned pid_num;
    uint32_t ref_counter;
};

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void wake(ac_dist_node_t *n)
{
    uint64_t one = 1;
    ssize_t w = write(n->wake_fd, &one, sizeof(one));
    (void)w;
}

static void post(ac_dist_node_t *n, event_t *e)
{
    pthread_mutex_lock(&n->lock);
    if (n->inbox_tail != NULL)
        n->inbox_tail->next = e;
    else
        n->inbox = e;
    n->inbox_tail = e;
    pthread_mutex_unlock(&n->lock);
    wake(n);
}

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

/* --- our pids and refs --- */

static void our_pid(ac_dist_node_t *n, erlang_pid *p)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->node, sizeof(p->node), "%s", n->name);
    /* called from the loop and from worker threads */
    p->num = (__atomic_add_fetch(&n->pid_num, 1, __ATOMIC_RELAXED) & 0x7fff) | 1;
    p->serial = 0;
    p->creation = n->local.creation;
}

static void our_ref(ac_dist_node_t *n, erlang_ref *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->node, sizeof(r->node), "%s", n->name);
    r->len = 3;
    uint32_t rnd[2];
    ac_policy_crypto_random(rnd, sizeof(rnd));
    r->n[0] = __atomic_add_fetch(&n->ref_counter, 1, __ATOMIC_RELAXED) & 0x3ffff;
    r->n[1] = rnd[0];
    r->n[2] = rnd[1];
    r->creation = n->local.creation;
}

/* --- sending --- */

static conn_t *conn_by_id(ac_dist_node_t *n, uint64_t id)
{
    for (size_t i = 0; i < n->nconns; i++)
        if (n->conns[i]->id == id && !n->conns[i]->dead)
            return n->conns[i];
    return NULL;
}

static conn_t *conn_by_name(ac_dist_node_t *n, const char *name)
{
    for (size_t i = 0; i < n->nconns; i++)
        if (strcmp(n->conns[i]->name, name) == 0 && !n->conns[i]->dead)
            return n->conns[i];
    return NULL;
}

static void conn_flush(ac_dist_node_t *n, conn_t *c)
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

static void conn_send(ac_dist_node_t *n, conn_t *c, const char *frame, size_t len)
{
    if (c->dead)
        return;
    if (c->out.len - c->out.off + len > MAX_OUTBUF) {
        ac_log_warn("dist", "peer_not_reading", "peer=%s buffered=%zu", c->name, c->out.len - c->out.off);
        c->dead = true;
        return;
    }
    buf_append(&c->out, frame, len);
    c->last_send = now_ms();
    if (!n->defer_flush)
        conn_flush(n, c);
}

static void send_terms(ac_dist_node_t *n, conn_t *c, ei_x_buff *ctrl, ei_x_buff *msg)
{
    char *f;
    size_t fl;
    ac_dist_ctrl_frame(ctrl, msg, &f, &fl);
    conn_send(n, c, f, fl);
    free(f);
}

/* SEND {2, '', To} + Msg */
static void send_to_pid(ac_dist_node_t *n, conn_t *c, const erlang_pid *to, ei_x_buff *msg)
{
    ei_x_buff ctrl;
    ei_x_new(&ctrl);
    ei_x_encode_tuple_header(&ctrl, 3);
    ei_x_encode_long(&ctrl, AC_DIST_SEND);
    ei_x_encode_atom(&ctrl, "");
    ei_x_encode_pid(&ctrl, to);
    send_terms(n, c, &ctrl, msg);
    ei_x_free(&ctrl);
}

/* --- answers --- */

/* Encodes the reply value for a trigger: {ok, started} | {error, Atom} | {error, {unauthorized_node, <<N>>}}. */
static void encode_answer(ei_x_buff *x, const char *error_atom, const char *unauthorized)
{
    ei_x_encode_tuple_header(x, 2);
    if (error_atom == NULL && unauthorized == NULL) {
        ei_x_encode_atom(x, "ok");
        ei_x_encode_atom(x, "started");
        return;
    }
    ei_x_encode_atom(x, "error");
    if (unauthorized != NULL) {
        ei_x_encode_tuple_header(x, 2);
        ei_x_encode_atom(x, "unauthorized_node");
        ei_x_encode_binary(x, unauthorized, (long)strlen(unauthorized));
    } else {
        ei_x_encode_atom(x, error_atom);
    }
}

/* Sends a complete reply (an already encoded value) for a pending call. */
static void reply_value(ac_dist_node_t *n, pending_t *p, const char *value, int vlen, bool is_error_exit)
{
    conn_t *c = conn_by_id(n, p->conn_id);
    if (c == NULL)
        return;
    ei_x_buff msg;
    ei_x_new(&msg);
    if (p->kind == PEND_REX) { /* {Tag, Reply} to From */
        ei_x_encode_tuple_header(&msg, 2);
        ei_x_append_buf(&msg, p->tag, p->taglen);
        ei_x_append_buf(&msg, value, vlen);
        send_to_pid(n, c, &p->from, &msg);
    } else if (p->kind == PEND_EI_RPC) { /* {rex, Reply} */
        ei_x_encode_tuple_header(&msg, 2);
        ei_x_encode_atom(&msg, "rex");
        ei_x_append_buf(&msg, value, vlen);
        send_to_pid(n, c, &p->from, &msg);
    } else if (p->monitor || p->link) {
        /* erpc: the spawned "process" exits with {ResRef, return, Value} (or an error tuple already in value) */
        ei_x_buff reason;
        ei_x_new(&reason);
        if (is_error_exit) {
            ei_x_append_buf(&reason, value, vlen);
        } else {
            ei_x_encode_tuple_header(&reason, 3);
            ei_x_append_buf(&reason, p->tag, p->taglen);
            ei_x_encode_atom(&reason, "return");
            ei_x_append_buf(&reason, value, vlen);
        }
        ei_x_buff ctrl;
        ei_x_new(&ctrl);
        if (p->monitor) { /* MONITOR_P_EXIT {21, FromProc, ToPid, Ref, Reason} */
            ei_x_encode_tuple_header(&ctrl, 5);
            ei_x_encode_long(&ctrl, AC_DIST_MONITOR_P_EXIT);
            ei_x_encode_pid(&ctrl, &p->newpid);
            ei_x_encode_pid(&ctrl, &p->from);
            ei_x_encode_ref(&ctrl, &p->reqid);
            ei_x_append_buf(&ctrl, reason.buff, reason.index);
            send_terms(n, c, &ctrl, NULL);
            ctrl.index = 0;
        }
        if (p->link) { /* EXIT {3, FromPid, ToPid, Reason} */
            ei_x_encode_tuple_header(&ctrl, 4);
            ei_x_encode_long(&ctrl, AC_DIST_EXIT);
            ei_x_encode_pid(&ctrl, &p->newpid);
            ei_x_encode_pid(&ctrl, &p->from);
            ei_x_append_buf(&ctrl, reason.buff, reason.index);
            send_terms(n, c, &ctrl, NULL);
        }
        ei_x_free(&ctrl);
        ei_x_free(&reason);
    }
    ei_x_free(&msg);
}

static void pending_free(pending_t *p)
{
    free(p->tag);
    free(p);
}

static void answer(ac_dist_node_t *n, uint64_t token, const char *error_atom, const char *unauthorized)
{
    pending_t **pp = &n->pending;
    while (*pp != NULL && (*pp)->token != token)
        pp = &(*pp)->next;
    pending_t *p = *pp;
    if (p == NULL)
        return;
    *pp = p->next;
    ei_x_buff v;
    ei_x_new(&v);
    encode_answer(&v, error_atom, unauthorized);
    reply_value(n, p, v.buff, v.index, false);
    ei_x_free(&v);
    pending_free(p);
}

/* The answer a BEAM node gives for an undefined function, per call kind. */
static void reply_undef(ac_dist_node_t *n, pending_t *p, const char *m, const char *f, const char *args, int alen)
{
    ei_x_buff v;
    ei_x_new(&v);
    if (p->kind == PEND_SPAWN) { /* {ResRef, error, undef, [{M, F, Args, []}]} */
        ei_x_encode_tuple_header(&v, 4);
        ei_x_append_buf(&v, p->tag, p->taglen);
        ei_x_encode_atom(&v, "error");
        ei_x_encode_atom(&v, "undef");
    } else { /* {badrpc, {'EXIT', {undef, [{M, F, Args, []}]}}} */
        ei_x_encode_tuple_header(&v, 2);
        ei_x_encode_atom(&v, "badrpc");
        ei_x_encode_tuple_header(&v, 2);
        ei_x_encode_atom(&v, "EXIT");
        ei_x_encode_tuple_header(&v, 2);
        ei_x_encode_atom(&v, "undef");
    }
    ei_x_encode_list_header(&v, 1);
    ei_x_encode_tuple_header(&v, 4);
    ei_x_encode_atom(&v, m);
    ei_x_encode_atom(&v, f);
    ei_x_append_buf(&v, args, alen);
    ei_x_encode_empty_list(&v);
    ei_x_encode_empty_list(&v);
    reply_value(n, p, v.buff, v.index, true);
    ei_x_free(&v);
}

/* A request we cannot read still gets an answer ({badrpc, badarg}; for erpc the spawned "process" exits with
 * badarg), never silence: rpc:call and erpc:call wait forever by default. Frees p. */
static void reply_badarg(ac_dist_node_t *n, pending_t *p)
{
    ei_x_buff v;
    ei_x_new(&v);
    if (p->kind == PEND_SPAWN) {
        ei_x_encode_atom(&v, "badarg");
    } else {
        ei_x_encode_tuple_header(&v, 2);
        ei_x_encode_atom(&v, "badrpc");
        ei_x_encode_atom(&v, "badarg");
    }
    reply_value(n, p, v.buff, v.index, p->kind == PEND_SPAWN);
    ei_x_free(&v);
    pending_free(p);
}

/* --- the calls we serve --- */

/* Handles M:F(Args) for a pending call p (which this function owns). args is the span of the argument list. */
static void serve_mfa(ac_dist_node_t *n, conn_t *c, pending_t *p, const char *m, const char *f, const char *buf,
                      int args_at, int args_end)
{
    int idx = args_at, arity = -1;
    int type, size;
    if (ei_get_type(buf, &idx, &type, &size) == 0 && (type == ERL_LIST_EXT || type == ERL_NIL_EXT))
        arity = size;
    bool allowed = false;
    for (size_t i = 0; i < sizeof(allow_list) / sizeof(allow_list[0]); i++)
        allowed = allowed || (strcmp(m, allow_list[i].module) == 0 && strcmp(f, allow_list[i].function) == 0 &&
                              arity == allow_list[i].arity);
    if (!allowed) {
        ac_log_info("dist", "call_refused", "peer=%s module=%s function=%s arity=%d", c->name, m, f, arity);
        reply_undef(n, p, m, f, buf + args_at, args_end - args_at);
        pending_free(p);
        return;
    }
    /* receive_workflow_data(Name :: binary, Data :: term, SourceNode :: binary) */
    char name[256] = "", source[256] = "";
    json_t *data = NULL;
    ac_errmsg_t err = {{0}};
    long blen;
    idx = args_at;
    int list;
    bool ok = ei_decode_list_header(buf, &idx, &list) == 0 && ei_get_type(buf, &idx, &type, &size) == 0 &&
              type == ERL_BINARY_EXT && size > 0 && size < (int)sizeof(name) &&
              ei_decode_binary(buf, &idx, name, &blen) == 0;
    if (ok) {
        name[blen] = '\0';
        ok = ac_dist_term_to_json(buf, args_end, &idx, NULL, &data, &err) == 0;
    }
    if (ok)
        ok = ei_get_type(buf, &idx, &type, &size) == 0 && type == ERL_BINARY_EXT && size > 0 &&
             size < (int)sizeof(source) && ei_decode_binary(buf, &idx, source, &blen) == 0;
    if (ok)
        source[blen] = '\0';
    if (!ok) {
        ac_log_warn("dist", "trigger_bad_arguments", "peer=%s error=%s", c->name,
                    err.msg[0] ? err.msg : "expected (binary, term, binary)");
        json_decref(data);
        /* what erpc/rpc report for a function_clause on a BEAM node is close enough: badarg as an error */
        ei_x_buff v;
        ei_x_new(&v);
        ei_x_encode_tuple_header(&v, 2);
        ei_x_encode_atom(&v, "error");
        ei_x_encode_atom(&v, "badarg");
        reply_value(n, p, v.buff, v.index, false);
        ei_x_free(&v);
        pending_free(p);
        return;
    }
    int waiting = 0;
    for (pending_t *q = n->pending; q != NULL; q = q->next)
        waiting += q->conn_id == c->id;
    p->token = ++n->next_id;
    p->next = n->pending;
    n->pending = p;
    if (waiting >= MAX_PENDING_PER_PEER) {
        answer(n, p->token, "busy", NULL);
        json_decref(data);
        return;
    }
    ac_log_info("dist", "trigger", "peer=%s workflow=%s claimed_source=%s", c->name, name, source);
    if (strcmp(source, c->name) != 0) {
        /* the source is the authenticated peer, never what the caller claims */
        answer(n, p->token, NULL, source);
        json_decref(data);
        return;
    }
    if (n->cfg.trigger != NULL)
        n->cfg.trigger(n->cfg.arg, p->token, c->name, name, data, source);
    else
        answer(n, p->token, "workflow_not_found", NULL);
    json_decref(data);
}

static pending_t *new_pending(conn_t *c, pend_kind_t kind, const erlang_pid *from)
{
    pending_t *p = ac_calloc(1, sizeof(*p));
    p->kind = kind;
    p->conn_id = c->id;
    p->from = *from;
    return p;
}

/* REG_SEND to rex or net_kernel: {'$gen_call', {From, Tag}, Request} (or the ei_rpc form {From, Request}). */
static void on_reg_send(ac_dist_node_t *n, conn_t *c, const ac_dist_ctrl_t *m, const char *to)
{
    if (m->msg < 0)
        return;
    const char *b = m->buf;
    int idx = m->msg, arity, ra;
    char atom[MAXATOMLEN_UTF8];
    erlang_pid from;
    if (ei_decode_tuple_header(b, &idx, &arity) != 0)
        return;
    pend_kind_t kind = PEND_REX;
    int tag_at = 0, tag_end = 0;
    if (arity == 3 && ei_decode_atom(b, &idx, atom) == 0 && strcmp(atom, "$gen_call") == 0) {
        if (ei_decode_tuple_header(b, &idx, &ra) != 0 || ra != 2 || ei_decode_pid(b, &idx, &from) != 0)
            return;
        tag_at = idx;
        if (ei_skip_term(b, &idx) != 0 || idx > m->msg_end)
            return;
        tag_end = idx;
    } else if (arity == 2 && strcmp(to, "rex") == 0) {
        idx = m->msg;
        ei_decode_tuple_header(b, &idx, &arity);
        if (ei_decode_pid(b, &idx, &from) != 0)
            return;
        kind = PEND_EI_RPC;
    } else {
        return; /* not a call: dropped, as a BEAM process would ignore it */
    }
    pending_t *p = new_pending(c, kind, &from);
    if (kind == PEND_REX) {
        p->taglen = tag_end - tag_at;
        p->tag = ac_malloc((size_t)p->taglen);
        memcpy(p->tag, b + tag_at, (size_t)p->taglen);
    }
    /* the request */
    int req_arity;
    if (ei_decode_tuple_header(b, &idx, &req_arity) != 0 || req_arity < 1 || ei_decode_atom(b, &idx, atom) != 0) {
        reply_badarg(n, p);
        return;
    }
    if (strcmp(to, "net_kernel") == 0) {
        ei_x_buff v;
        ei_x_new(&v);
        ei_x_encode_atom(&v, strcmp(atom, "is_auth") == 0 ? "yes" : "no");
        reply_value(n, p, v.buff, v.index, false);
        ei_x_free(&v);
        pending_free(p);
        return;
    }
    /* rex: {call | block_call, M, F, A, GL} */
    char mod[MAXATOMLEN_UTF8], fun[MAXATOMLEN_UTF8];
    if ((strcmp(atom, "call") != 0 && strcmp(atom, "block_call") != 0) || req_arity != 5 ||
        ei_decode_atom(b, &idx, mod) != 0 || ei_decode_atom(b, &idx, fun) != 0) {
        reply_badarg(n, p);
        return;
    }
    int args_at = idx;
    if (ei_skip_term(b, &idx) != 0 || idx > m->msg_end) {
        reply_badarg(n, p);
        return;
    }
    serve_mfa(n, c, p, mod, fun, b, args_at, idx);
}

/* SPAWN_REQUEST {29, ReqId, From, GroupLeader, {M, F, Arity}, OptList} + ArgList */
static void on_spawn_request(ac_dist_node_t *n, conn_t *c, const ac_dist_ctrl_t *m)
{
    const char *b = m->buf;
    int idx = m->ctrl, ar;
    erlang_ref reqid;
    erlang_pid from;
    char mod[MAXATOMLEN_UTF8], fun[MAXATOMLEN_UTF8];
    long arity;
    if (m->ctrl_arity < 6 || ei_decode_ref(b, &idx, &reqid) != 0 || ei_decode_pid(b, &idx, &from) != 0 ||
        ei_skip_term(b, &idx) != 0 || ei_decode_tuple_header(b, &idx, &ar) != 0 || ar != 3 ||
        ei_decode_atom(b, &idx, mod) != 0 || ei_decode_atom(b, &idx, fun) != 0 || ei_decode_long(b, &idx, &arity) != 0)
        return;
    /* options: monitor, link, {reply, _}, ... */
    bool monitor = false, link = false;
    int type, size;
    if (ei_get_type(b, &idx, &type, &size) == 0 && type == ERL_LIST_EXT) {
        int cnt;
        ei_decode_list_header(b, &idx, &cnt);
        for (int i = 0; i < cnt; i++) {
            char opt[MAXATOMLEN_UTF8];
            int save = idx;
            if (ei_decode_atom(b, &idx, opt) == 0) {
                monitor = monitor || strcmp(opt, "monitor") == 0;
                link = link || strcmp(opt, "link") == 0;
            } else {
                idx = save;
                ei_skip_term(b, &idx);
            }
        }
    }
    pending_t *p = new_pending(c, PEND_SPAWN, &from);
    p->reqid = reqid;
    p->monitor = monitor;
    p->link = link;
    our_pid(n, &p->newpid);
    /* SPAWN_REPLY {31, ReqId, To, Flags, Result}: flags 1 = link set up, 2 = monitor set up */
    ei_x_buff ctrl;
    ei_x_new(&ctrl);
    ei_x_encode_tuple_header(&ctrl, 5);
    ei_x_encode_long(&ctrl, AC_DIST_SPAWN_REPLY);
    ei_x_encode_ref(&ctrl, &reqid);
    ei_x_encode_pid(&ctrl, &from);
    ei_x_encode_long(&ctrl, (link ? 1 : 0) | (monitor ? 2 : 0));
    ei_x_encode_pid(&ctrl, &p->newpid);
    send_terms(n, c, &ctrl, NULL);
    ei_x_free(&ctrl);

    int args_at = m->msg;
    if (args_at < 0) {
        reply_badarg(n, p);
        return;
    }
    if (strcmp(mod, "erpc") == 0 && strcmp(fun, "execute_call") == 0 && arity == 4) {
        /* [ResRef, M, F, A] */
        int i = args_at, cnt;
        char m2[MAXATOMLEN_UTF8], f2[MAXATOMLEN_UTF8];
        if (ei_decode_list_header(b, &i, &cnt) != 0 || cnt != 4) {
            reply_badarg(n, p);
            return;
        }
        int ref_at = i;
        if (ei_skip_term(b, &i) != 0 || i > m->msg_end) {
            reply_badarg(n, p);
            return;
        }
        p->taglen = i - ref_at;
        p->tag = ac_malloc((size_t)p->taglen);
        memcpy(p->tag, b + ref_at, (size_t)p->taglen);
        if (ei_decode_atom(b, &i, m2) != 0 || ei_decode_atom(b, &i, f2) != 0) {
            reply_badarg(n, p);
            return;
        }
        int a_at = i;
        if (ei_skip_term(b, &i) != 0 || i > m->msg_end) {
            reply_badarg(n, p);
            return;
        }
        serve_mfa(n, c, p, m2, f2, b, a_at, i);
        return;
    }
    if (strcmp(mod, "erpc") == 0 && strcmp(fun, "execute_cast") == 0 && arity == 3) {
        /* [M, F, A]: run it like a call, but nobody waits for the answer */
        int i = args_at, cnt;
        char m2[MAXATOMLEN_UTF8], f2[MAXATOMLEN_UTF8];
        if (ei_decode_list_header(b, &i, &cnt) != 0 || cnt != 3 || ei_decode_atom(b, &i, m2) != 0 ||
            ei_decode_atom(b, &i, f2) != 0) {
            reply_badarg(n, p);
            return;
        }
        int a_at = i;
        if (ei_skip_term(b, &i) != 0 || i > m->msg_end) {
            reply_badarg(n, p);
            return;
        }
        /* a cast's "process" reports back only if the caller asked for a monitor or link; it did not in rpc:cast */
        serve_mfa(n, c, p, m2, f2, b, a_at, i);
        return;
    }
    /* Any other spawn: what a BEAM node does for an undefined function -- the process dies with undef. */
    ac_log_info("dist", "spawn_refused", "peer=%s module=%s function=%s arity=%ld", c->name, mod, fun, arity);
    ei_x_buff reason;
    ei_x_new(&reason);
    ei_x_encode_tuple_header(&reason, 2);
    ei_x_encode_atom(&reason, "undef");
    ei_x_encode_list_header(&reason, 1);
    ei_x_encode_tuple_header(&reason, 4);
    ei_x_encode_atom(&reason, mod);
    ei_x_encode_atom(&reason, fun);
    ei_x_append_buf(&reason, b + args_at, m->msg_end - args_at);
    ei_x_encode_empty_list(&reason);
    ei_x_encode_empty_list(&reason);
    reply_value(n, p, reason.buff, reason.index, true);
    ei_x_free(&reason);
    pending_free(p);
}

/* LINK / MONITOR_P to one of our pids: it does not exist any more (our "processes" end at once). */
static void on_link_or_monitor(ac_dist_node_t *n, conn_t *c, const ac_dist_ctrl_t *m)
{
    const char *b = m->buf;
    int idx = m->ctrl;
    erlang_pid from, to;
    ei_x_buff ctrl;
    ei_x_new(&ctrl);
    if (m->op == AC_DIST_LINK && ei_decode_pid(b, &idx, &from) == 0 && ei_decode_pid(b, &idx, &to) == 0) {
        ei_x_encode_tuple_header(&ctrl, 4);
        ei_x_encode_long(&ctrl, AC_DIST_EXIT);
        ei_x_encode_pid(&ctrl, &to);
        ei_x_encode_pid(&ctrl, &from);
        ei_x_encode_atom(&ctrl, "noproc");
        send_terms(n, c, &ctrl, NULL);
    } else if (m->op == AC_DIST_MONITOR_P && ei_decode_pid(b, &idx, &from) == 0) {
        int to_at = idx;
        erlang_ref ref;
        if (ei_skip_term(b, &idx) == 0) {
            int to_end = idx;
            if (ei_decode_ref(b, &idx, &ref) != 0) {
                ei_x_free(&ctrl);
                return;
            }
            ei_x_encode_tuple_header(&ctrl, 5);
            ei_x_encode_long(&ctrl, AC_DIST_MONITOR_P_EXIT);
            ei_x_append_buf(&ctrl, b + to_at, to_end - to_at); /* FromProc: the monitored pid or name */
            ei_x_encode_pid(&ctrl, &from);
            ei_x_encode_ref(&ctrl, &ref);
            ei_x_encode_atom(&ctrl, "noproc");
            send_terms(n, c, &ctrl, NULL);
        }
    }
    ei_x_free(&ctrl);
}

/* UNLINK_ID {35, Id, FromPid, ToPid} -> UNLINK_ID_ACK {36, Id, FromPid(us), ToPid(them)} */
static void on_unlink_id(ac_dist_node_t *n, conn_t *c, const ac_dist_ctrl_t *m)
{
    const char *b = m->buf;
    int idx = m->ctrl, id_at = idx;
    erlang_pid from, to;
    if (ei_skip_term(b, &idx) != 0)
        return;
    int id_end = idx;
    if (ei_decode_pid(b, &idx, &from) != 0 || ei_decode_pid(b, &idx, &to) != 0)
        return;
    ei_x_buff ctrl;
    ei_x_new(&ctrl);
    ei_x_encode_tuple_header(&ctrl, 4);
    ei_x_encode_long(&ctrl, AC_DIST_UNLINK_ID_ACK);
    ei_x_append_buf(&ctrl, b + id_at, id_end - id_at);
    ei_x_encode_pid(&ctrl, &to);
    ei_x_encode_pid(&ctrl, &from);
    send_terms(n, c, &ctrl, NULL);
    ei_x_free(&ctrl);
}

/* A reply to one of our outgoing calls: SEND to our pid with {Ref, Reply}. */
static void on_send_to_us(ac_dist_node_t *n, conn_t *c, const ac_dist_ctrl_t *m)
{
    if (m->msg < 0)
        return;
    const char *b = m->buf;
    int idx = m->msg, ar;
    erlang_ref ref;
    if (ei_decode_tuple_header(b, &idx, &ar) != 0 || ar != 2 || ei_decode_ref(b, &idx, &ref) != 0)
        return;
    pthread_mutex_lock(&n->lock);
    call_t *call = n->calls;
    while (call != NULL && !(call->ref.n[0] == ref.n[0] && call->ref.n[1] == ref.n[1] && call->ref.n[2] == ref.n[2] &&
                             strcmp(call->peer, c->name) == 0))
        call = call->next;
    if (call != NULL && !call->done) {
        /* {ok, _} | {error, Reason} | {badrpc, Reason} */
        int k = idx, a2;
        char tag[MAXATOMLEN_UTF8] = "";
        call->rc = -1;
        if (ei_decode_tuple_header(b, &k, &a2) == 0 && a2 >= 2 && ei_decode_atom(b, &k, tag) == 0) {
            int k2 = k, a3, t3, s3;
            char inner[MAXATOMLEN_UTF8], bin[256];
            long bl;
            if (strcmp(tag, "ok") == 0) {
                call->rc = 0;
            } else if (strcmp(tag, "error") == 0 && ei_decode_tuple_header(b, &k2, &a3) == 0 && a3 == 2 &&
                       ei_decode_atom(b, &k2, inner) == 0 && ei_get_type(b, &k2, &t3, &s3) == 0 &&
                       t3 == ERL_BINARY_EXT && s3 < (int)sizeof(bin) && ei_decode_binary(b, &k2, bin, &bl) == 0) {
                /* {error, {unauthorized_node, <<"x@h">>}}: said the way our own gate says it */
                bin[bl] = '\0';
                snprintf(call->err, sizeof(call->err), "%.64s: %.180s", inner, bin);
            } else {
                char *s = NULL;
                ei_s_print_term(&s, b, &k);
                if (strcmp(tag, "error") == 0 && s != NULL && strspn(s, "abcdefghijklmnopqrstuvwxyz_") == strlen(s))
                    snprintf(call->err, sizeof(call->err), "%s", s);
                else if (strcmp(tag, "error") == 0)
                    snprintf(call->err, sizeof(call->err), "%.200s", s != NULL ? s : "error");
                else
                    snprintf(call->err, sizeof(call->err), "rpc_failed: %.200s", s != NULL ? s : tag);
                free(s);
            }
        } else {
            snprintf(call->err, sizeof(call->err), "rpc_failed: unexpected reply");
        }
        call->done = true;
        pthread_cond_broadcast(&call->cond);
    }
    pthread_mutex_unlock(&n->lock);
}

static void on_frame(ac_dist_node_t *n, conn_t *c, const char *frame, size_t len)
{
    ac_dist_ctrl_t m;
    ac_errmsg_t err = {{0}};
    /* A private copy with zero padding: decoders are bounded by arity checks, and a slip past the end of a term
     * meets invalid tags, never the bytes of another frame. */
    char *payload = ac_calloc(len + PAD, 1);
    memcpy(payload, frame, len);
    if (ac_dist_ctrl_parse(payload, len, &m, &err) != 0) {
        ac_log_warn("dist", "bad_frame", "peer=%s error=%s", c->name, err.msg);
        c->dead = true; /* the stream can no longer be trusted */
        free(payload);
        return;
    }
    const char *b = m.buf;
    int idx = m.ctrl;
    char to[MAXATOMLEN_UTF8];
    switch (m.op) {
    case AC_DIST_REG_SEND:
    case AC_DIST_REG_SEND_TT:
        /* {6, FromPid, Unused, ToName} */
        if (ei_skip_term(b, &idx) == 0 && ei_skip_term(b, &idx) == 0 && ei_decode_atom(b, &idx, to) == 0 &&
            (strcmp(to, "rex") == 0 || strcmp(to, "net_kernel") == 0))
            on_reg_send(n, c, &m, to);
        break;
    case AC_DIST_SEND:
    case AC_DIST_SEND_TT:
    case AC_DIST_SEND_SENDER:
    case AC_DIST_SEND_SENDER_TT: on_send_to_us(n, c, &m); break;
    case AC_DIST_SPAWN_REQUEST:
    case AC_DIST_SPAWN_REQUEST_TT: on_spawn_request(n, c, &m); break;
    case AC_DIST_LINK:
    case AC_DIST_MONITOR_P: on_link_or_monitor(n, c, &m); break;
    case AC_DIST_UNLINK_ID: on_unlink_id(n, c, &m); break;
    default: break; /* exits, unlinks, demonitors, group leader, acks: nothing of ours to change */
    }
    free(payload);
}

/* --- connections --- */

static void set_sock_opts(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void conn_add(ac_dist_node_t *n, int fd, const char *name, uint64_t flags)
{
    conn_t *old = conn_by_name(n, name);
    if (old != NULL) { /* the peer reconnected (it restarted): the old connection is stale */
        ac_log_info("dist", "replacing_connection", "peer=%s", name);
        old->dead = true;
    }
    conn_t *c = ac_calloc(1, sizeof(*c));
    c->fd = fd;
    c->id = ++n->next_id;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->flags = flags;
    c->last_recv = c->last_send = now_ms();
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
            conn_send(n, c, call->frame, call->flen);
            call->sent = true;
            call->conn_id = c->id;
        }
    }
    pthread_mutex_unlock(&n->lock);
}

static void conn_reap(ac_dist_node_t *n)
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
        if (n->cfg.membership != NULL && conn_by_name(n, c->name) == NULL)
            n->cfg.membership(n->cfg.arg, c->name, false);
        /* pending triggers of this peer can never be answered */
        pending_t **pp = &n->pending;
        while (*pp != NULL) {
            if ((*pp)->conn_id == c->id) {
                pending_t *p = *pp;
                *pp = p->next;
                pending_free(p);
            } else {
                pp = &(*pp)->next;
            }
        }
        pthread_mutex_lock(&n->lock);
        for (call_t *call = n->calls; call != NULL; call = call->next) {
            if (call->sent && !call->done && call->conn_id == c->id) {
                call->rc = -1;
                snprintf(call->err, sizeof(call->err), "rpc_failed: nodedown");
                call->done = true;
                pthread_cond_broadcast(&call->cond);
            }
        }
        pthread_mutex_unlock(&n->lock);
        free(c->in.p);
        free(c->out.p);
        free(c);
    }
    n->nconns = k;
}

static void conn_read(ac_dist_node_t *n, conn_t *c)
{
    char tmp[65536];
    /* Bounded: at most READ_BUDGET per call (other peers get their turn; epoll is level-triggered, so the rest is
     * read next round) and never more buffered than one whole frame of the largest size, so a peer that sends
     * faster than we parse cannot grow c->in without limit. */
    size_t budget = READ_BUDGET;
    while (budget > 0 && c->in.len - c->in.off < MAX_FRAME + 4) {
        ssize_t r = recv(c->fd, tmp, sizeof(tmp), 0);
        if (r > 0) {
            buf_append(&c->in, tmp, (size_t)r);
            c->last_recv = now_ms();
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
        int fr = ac_dist_frame_next((const uint8_t *)c->in.p + c->in.off, c->in.len - c->in.off, MAX_FRAME, &consumed,
                                    &payload, &plen);
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
            if (now_ms() - c->last_send >= 1000)
                conn_send(n, c, tick, sizeof(tick));
        } else {
            on_frame(n, c, (const char *)payload, plen);
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
static ac_dist_admit_t admit(void *ctx, const char *peer_name, uint64_t peer_flags)
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
        rc = ac_epmd_client_port_please(host, n->cfg.epmd_port, alive, HANDSHAKE_TIMEOUT_MS, &port, &highest, &err);
        if (rc == 0) {
            struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
            char ps[8];
            snprintf(ps, sizeof(ps), "%u", port);
            rc = getaddrinfo(host, ps, &hints, &res) == 0 ? 0 : ac_errmsg_set(&err, -AC_EIO, "cannot resolve %s", host);
            fd = -1;
            for (struct addrinfo *ai = res; rc == 0 && ai != NULL && fd < 0; ai = ai->ai_next) {
                fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd >= 0 && connect_bounded(fd, ai->ai_addr, ai->ai_addrlen, HANDSHAKE_TIMEOUT_MS) != 0) {
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
            rc = ac_dist_handshake_connect(fd, &n->local, a->peer, n->cookie, HANDSHAKE_TIMEOUT_MS, &peer, &err);
    } else {
        /* an honest peer needs milliseconds; a short deadline makes idle connections a poor way to fill the slots */
        rc = ac_dist_handshake_accept(fd, &n->local, n->cookie, HANDSHAKE_ACCEPT_TIMEOUT_MS, &peer, &err);
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
    if (n->inbox_tail != NULL)
        n->inbox_tail->next = e;
    else
        n->inbox = e;
    n->inbox_tail = e;
    if (a->connect) {
        n->handshakes_out--;
    } else {
        n->handshakes_in--;
        for (int i = 0; i < MAX_HANDSHAKES_IN; i++)
            if (n->hs_ip[i].count > 0 && strcmp(n->hs_ip[i].addr, a->peer) == 0) {
                n->hs_ip[i].count--;
                break;
            }
    }
    if (!n->stop)
        wake(n);
    pthread_mutex_unlock(&n->lock);
    free(a);
    return NULL;
}

/* Starts a handshake thread within its budget: incoming by total and by source address, outgoing apart. */
static bool start_handshake(ac_dist_node_t *n, int fd, const char *peer, const char *addr)
{
    pthread_mutex_lock(&n->lock);
    bool room;
    if (peer != NULL) {
        room = n->handshakes_out < MAX_HANDSHAKES_OUT;
        if (room)
            n->handshakes_out++;
    } else {
        int slot = -1, same = 0;
        for (int i = 0; i < MAX_HANDSHAKES_IN; i++) {
            if (n->hs_ip[i].count > 0 && strcmp(n->hs_ip[i].addr, addr) == 0) {
                slot = i;
                same = n->hs_ip[i].count;
            }
        }
        if (slot < 0)
            for (int i = 0; i < MAX_HANDSHAKES_IN && slot < 0; i++)
                if (n->hs_ip[i].count == 0)
                    slot = i;
        room = n->handshakes_in < MAX_HANDSHAKES_IN && same < MAX_HANDSHAKES_IN_IP && slot >= 0;
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
            for (int i = 0; i < MAX_HANDSHAKES_IN; i++)
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
static bool connecting(ac_dist_node_t *n, const char *peer, int change)
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

/* --- EPMD --- */

static void epmd_register(ac_dist_node_t *n)
{
    ac_errmsg_t err = {{0}};
    uint32_t creation = 0;
    if (ac_epmd_client_ensure_daemon(n->self_exe, n->epmd_host, n->cfg.epmd_port, &err) != 0 ||
        ac_epmd_client_register(n->epmd_host, n->cfg.epmd_port, n->alive, (uint16_t)n->port, &n->epmd_fd, &creation,
                                &err) != 0) {
        ac_log_warn("dist", "epmd_register_failed", "error=%s retry_in_s=%d", err.msg, 5);
        n->epmd_fd = -1;
        n->epmd_retry_at = now_ms() + 5000;
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &n->epmd_fd};
    epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->epmd_fd, &ev);
    ac_log_info("dist", "epmd_registered", "name=%s port=%d", n->alive, n->port);
}

/* --- the loop --- */

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
            connecting(n, e->name, -1);
            conn_add(n, e->fd, e->name, e->flags);
            break;
        case EV_ANSWER: answer(n, e->token, e->error_atom, e->unauthorized); break;
        case EV_CALL: {
            conn_t *c = conn_by_name(n, e->name);
            pthread_mutex_lock(&n->lock);
            for (call_t *call = n->calls; call != NULL; call = call->next) {
                if (!call->sent && !call->done && strcmp(call->peer, e->name) == 0 && c != NULL) {
                    conn_send(n, c, call->frame, call->flen);
                    call->sent = true;
                    call->conn_id = c->id;
                }
            }
            pthread_mutex_unlock(&n->lock);
            if (c != NULL || connecting(n, e->name, 0))
                break; /* sent, or a connection attempt is under way and will send it */
            if (start_handshake(n, -1, e->name, NULL)) {
                connecting(n, e->name, +1);
            } else {
                pthread_mutex_lock(&n->lock);
                for (call_t *call = n->calls; call != NULL; call = call->next)
                    if (!call->done && strcmp(call->peer, e->name) == 0) {
                        call->rc = -1;
                        snprintf(call->err, sizeof(call->err), "rpc_failed: too many connections in progress");
                        call->done = true;
                        pthread_cond_broadcast(&call->cond);
                    }
                pthread_mutex_unlock(&n->lock);
            }
            break;
        }
        case EV_CONNECT_FAILED:
            if (e->name[0])
                connecting(n, e->name, -1);
            pthread_mutex_lock(&n->lock);
            for (call_t *call = n->calls; call != NULL; call = call->next)
                if (!call->done && !call->sent && e->name[0] && strcmp(call->peer, e->name) == 0) {
                    call->rc = -1;
                    snprintf(call->err, sizeof(call->err), "%s", e->err);
                    call->done = true;
                    pthread_cond_broadcast(&call->cond);
                }
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
    int64_t last_tick_check = now_ms();
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
                    if (!start_handshake(n, fd, NULL, addr)) {
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
                n->epmd_retry_at = now_ms() + 1000;
            } else {
                conn_t *c = p;
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    conn_read(n, c);
                if (!c->dead && (evs[i].events & EPOLLOUT))
                    conn_flush(n, c);
            }
        }
        n->defer_flush = false;
        for (size_t i = 0; i < n->nconns; i++) {
            conn_t *c = n->conns[i];
            if (!c->dead && !c->want_out && c->out.len > c->out.off)
                conn_flush(n, c);
        }
        int64_t t = now_ms();
        if (n->epmd_fd < 0 && t >= n->epmd_retry_at)
            epmd_register(n);
        if (t - last_tick_check >= 1000) {
            last_tick_check = t;
            for (size_t i = 0; i < n->nconns; i++) {
                conn_t *c = n->conns[i];
                if (t - c->last_recv > (int64_t)n->cfg.net_ticktime_s * 1000) {
                    ac_log_warn("dist", "peer_silent", "peer=%s seconds=%d", c->name, n->cfg.net_ticktime_s);
                    c->dead = true;
                } else if (t - c->last_send >= (TICK_EVERY_MS < n->cfg.net_ticktime_s * 250
                                                    ? TICK_EVERY_MS
                                                    : n->cfg.net_ticktime_s * 250)) {
                    static const char tick[4] = {0, 0, 0, 0};
                    conn_send(n, c, tick, sizeof(tick));
                }
            }
            /* calls past their deadline */
            pthread_mutex_lock(&n->lock);
            for (call_t *call = n->calls; call != NULL; call = call->next)
                if (!call->done && t >= call->deadline) {
                    call->rc = -1;
                    snprintf(call->err, sizeof(call->err), "rpc_failed: timeout");
                    call->done = true;
                    pthread_cond_broadcast(&call->cond);
                }
            pthread_mutex_unlock(&n->lock);
        }
        conn_reap(n);
    }
    for (size_t i = 0; i < n->nconns; i++)
        n->conns[i]->dead = true;
    conn_reap(n);
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
    n->local.admit = admit;
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
        wake(n);
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
        pending_free(p);
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
    post(n, e);
}

void ac_dist_node_connect(ac_dist_node_t *n, const char *peer)
{
    if (strchr(peer, '@') == NULL || strlen(peer) > 255 || strcmp(peer, n->name) == 0)
        return;
    event_t *e = ac_calloc(1, sizeof(*e));
    e->kind = EV_CALL; /* with no call waiting, it only connects */
    snprintf(e->name, sizeof(e->name), "%s", peer);
    post(n, e);
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

int ac_dist_node_trigger_remote(ac_dist_node_t *n, const char *peer, const char *workflow, const json_t *data,
                                int timeout_ms, char *err, size_t errlen)
{
    if (strchr(peer, '@') == NULL || strlen(peer) > 255) {
        snprintf(err, errlen, "rpc_failed: bad node name");
        return -1;
    }
    call_t *call = ac_calloc(1, sizeof(*call));
    snprintf(call->peer, sizeof(call->peer), "%s", peer);
    pthread_cond_init(&call->cond, NULL);
    /* REG_SEND {6, OurPid, '', rex} + {'$gen_call', {OurPid, Ref}, {call, M, F, [Name, Data, Us], user}} */
    ei_x_buff ctrl, msg;
    ei_x_new(&ctrl);
    ei_x_new(&msg);
    ac_errmsg_t e2 = {{0}};
    erlang_pid us;
    our_pid(n, &us);
    our_ref(n, &call->ref);
    ei_x_encode_tuple_header(&ctrl, 4);
    ei_x_encode_long(&ctrl, AC_DIST_REG_SEND);
    ei_x_encode_pid(&ctrl, &us);
    ei_x_encode_atom(&ctrl, "");
    ei_x_encode_atom(&ctrl, "rex");
    ei_x_encode_tuple_header(&msg, 3);
    ei_x_encode_atom(&msg, "$gen_call");
    ei_x_encode_tuple_header(&msg, 2);
    ei_x_encode_pid(&msg, &us);
    ei_x_encode_ref(&msg, &call->ref);
    ei_x_encode_tuple_header(&msg, 5);
    ei_x_encode_atom(&msg, "call");
    ei_x_encode_atom(&msg, allow_list[0].module);
    ei_x_encode_atom(&msg, allow_list[0].function);
    ei_x_encode_list_header(&msg, 3);
    ei_x_encode_binary(&msg, workflow, (long)strlen(workflow));
    int rc = ac_dist_json_to_term(data != NULL ? data : json_null(), &msg, &e2);
    ei_x_encode_binary(&msg, n->name, (long)strlen(n->name));
    ei_x_encode_empty_list(&msg);
    ei_x_encode_atom(&msg, "user");
    if (rc != 0) {
        snprintf(err, errlen, "rpc_failed: %s", e2.msg);
        ei_x_free(&ctrl);
        ei_x_free(&msg);
        pthread_cond_destroy(&call->cond);
        free(call);
        return -1;
    }
    ac_dist_ctrl_frame(&ctrl, &msg, &call->frame, &call->flen);
    ei_x_free(&ctrl);
    ei_x_free(&msg);
    call->deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 5000);
    pthread_mutex_lock(&n->lock);
    call->next = n->calls;
    n->calls = call;
    pthread_mutex_unlock(&n->lock);
    event_t *e = ac_calloc(1, sizeof(*e));
    e->kind = EV_CALL;
    snprintf(e->name, sizeof(e->name), "%s", peer);
    post(n, e);
    pthread_mutex_lock(&n->lock);
    while (!call->done && !n->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&call->cond, &n->lock, &ts);
    }
    rc = call->done ? call->rc : -1;
    snprintf(err, errlen, "%s", call->done ? call->err : "rpc_failed: node stopping");
    call_t **pp = &n->calls;
    while (*pp != call)
        pp = &(*pp)->next;
    *pp = call->next;
    pthread_mutex_unlock(&n->lock);
    pthread_cond_destroy(&call->cond);
    free(call->frame);
    free(call);
    return rc;
}
