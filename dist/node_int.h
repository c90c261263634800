/* dist/node_int.h - what the files of the distribution node share, private to dist/node*.c: its limits, the types of
 * a connection, a trigger waiting for its answer, an outgoing call and an event for the loop, the node itself, and
 * the functions one of its files calls in another.
 *
 *   node.c        life cycle, the event loop and its inbox, the listener, EPMD registration, the public calls
 *   node_conn.c   peer connections (buffers, sending, reading frames, nodeup/nodedown) and the handshake threads
 *   node_serve.c  the control messages we serve: rex and net_kernel calls, erpc spawns, links and monitors
 *   node_call.c   our own calls to other nodes (send_to_workflow): the request, its reply, its end
 *
 * Everything here belongs to the loop's thread unless it is marked "under lock" (n->lock). */
#ifndef AC_DIST_NODE_INT_H
#define AC_DIST_NODE_INT_H

#include "dist/ctrl.h"
#include "dist/handshake.h"
#include "dist/node.h"

#include <ei.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The one function callers may run here (node_serve.c), and the one we call on other nodes (node_call.c). */
#define AC_DIST_NODE_TRIGGER_MODULE   "Elixir.AlexClaw.Cluster.Manager"
#define AC_DIST_NODE_TRIGGER_FUNCTION "receive_workflow_data"

#define AC_DIST_NODE_MAX_FRAME   (64u * 1024 * 1024)
#define AC_DIST_NODE_READ_BUDGET (1u * 1024 * 1024) /* bytes read from one peer per round of events */
/* a peer that stops reading is dropped past this many bytes unsent */
#define AC_DIST_NODE_MAX_OUTBUF                  (64u * 1024 * 1024)
#define AC_DIST_NODE_HANDSHAKE_TIMEOUT_MS        5000
#define AC_DIST_NODE_HANDSHAKE_ACCEPT_TIMEOUT_MS 2000
/* handshakes at once: incoming, incoming from one address, and outgoing (budgeted apart, so that incoming floods
 * cannot block send_to_workflow) */
#define AC_DIST_NODE_MAX_HANDSHAKES_IN    16
#define AC_DIST_NODE_MAX_HANDSHAKES_IN_IP 4
#define AC_DIST_NODE_MAX_HANDSHAKES_OUT   8
#define AC_DIST_NODE_MAX_PENDING_PER_PEER 128 /* triggers of one peer waiting for their answer */
/* zero bytes after a frame: a decoder overrunning a term meets invalid tags */
#define AC_DIST_NODE_PAD           64
#define AC_DIST_NODE_TICK_EVERY_MS 15000

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
    } hs_ip[AC_DIST_NODE_MAX_HANDSHAKES_IN]; /* incoming handshakes per source address */
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

/* node.c */
int64_t ac_dist_node__now_ms(void);
void ac_dist_node__wake(ac_dist_node_t *n);
void ac_dist_node__post(ac_dist_node_t *n, event_t *e);       /* takes e; wakes the loop */
void ac_dist_node__inbox_push(ac_dist_node_t *n, event_t *e); /* takes e; under lock; does not wake */

/* node_conn.c (loop thread, except admit, which handshake threads call) */
conn_t *ac_dist_node__conn_by_id(ac_dist_node_t *n, uint64_t id);        /* NULL: gone or dead */
conn_t *ac_dist_node__conn_by_name(ac_dist_node_t *n, const char *name); /* NULL: not connected */
void ac_dist_node__conn_flush(ac_dist_node_t *n, conn_t *c);
/* Queues one frame (copied) and sends it now, or at the end of the round of events; a peer with more than
 * AC_DIST_NODE_MAX_OUTBUF unsent is marked dead. */
void ac_dist_node__conn_send(ac_dist_node_t *n, conn_t *c, const char *frame, size_t len);
void ac_dist_node__send_terms(ac_dist_node_t *n, conn_t *c, ei_x_buff *ctrl, ei_x_buff *msg); /* msg may be NULL */
void ac_dist_node__send_to_pid(ac_dist_node_t *n, conn_t *c, const erlang_pid *to, ei_x_buff *msg);
void ac_dist_node__conn_add(ac_dist_node_t *n, int fd, const char *name, uint64_t flags); /* takes fd */
void ac_dist_node__conn_reap(ac_dist_node_t *n); /* closes and frees the dead connections */
void ac_dist_node__conn_read(ac_dist_node_t *n, conn_t *c);
ac_dist_admit_t ac_dist_node__admit(void *ctx, const char *peer_name, uint64_t peer_flags);
/* Starts a handshake thread: outgoing to peer (fd -1), or incoming on fd from addr (peer NULL). false: no room. */
bool ac_dist_node__start_handshake(ac_dist_node_t *n, int fd, const char *peer, const char *addr);
/* Is an outgoing handshake to peer in progress? change +1 records one, -1 forgets it. */
bool ac_dist_node__connecting(ac_dist_node_t *n, const char *peer, int change);

/* node_serve.c */
void ac_dist_node__our_pid(ac_dist_node_t *n, erlang_pid *p); /* any thread */
void ac_dist_node__our_ref(ac_dist_node_t *n, erlang_ref *r); /* any thread */
void ac_dist_node__pending_free(pending_t *p);
/* Answers the trigger waiting under token (if its caller is still connected) and forgets it: the loop's own side of
 * the public ac_dist_node_answer(), which other threads call. */
void ac_dist_node__answer_now(ac_dist_node_t *n, uint64_t token, const char *error_atom, const char *unauthorized);
void ac_dist_node__on_frame(ac_dist_node_t *n, conn_t *c, const char *frame, size_t len);

/* node_call.c */
void ac_dist_node__on_send_to_us(ac_dist_node_t *n, conn_t *c, const ac_dist_ctrl_t *m);
void ac_dist_node__call_fail(call_t *call, const char *err); /* under lock */

#endif
