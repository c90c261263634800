/* tests/fuzz/fuzz_serve.c - frames as an authenticated peer sends them, through the distribution node's handlers
 * (ac_dist_node__on_frame: dist/node_serve.c and node_call.c) on a node with no sockets. Whatever arrives:
 *   - nothing crashes, reads out of bounds or leaks (the sanitizers of the build);
 *   - the trigger hook runs at most once, only when the frame, decoded here independently, calls the one allowed
 *     function ('Elixir.AlexClaw.Cluster.Manager':receive_workflow_data/3 through rex or erpc), and only with the
 *     connection's own node as the peer and as the claimed source (a spoofed source never reaches it);
 *   - every trigger is answered: no pending entry is left once the hook's answers are in (the answer is decided by the
 *     workflow name's first byte: {ok, started}, an error atom or unauthorized_node at once, or later, after
 *     on_frame returned, as the loop answers when the intake is done);
 *   - what the node queued for the peer is a sequence of whole frames, each a tick or a control message our own
 *     parser accepts;
 *   - a reply to the one outgoing call waiting (reference {1, 2, 3}, from peer@localhost) ends it with a status and a
 *     terminated message.
 * fuzz_serve_last says what the last input did, for the seed expectations of serve_seeds.c. */
#include "tests/fuzz/fuzz_serve.h"

#include "dist/frame.h"
#include "dist/node_int.h"
#include "node/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PEER "peer@localhost"

fuzz_serve_result_t fuzz_serve_last;

static uint64_t deferred[8];
static size_t ndeferred;

static void hook(void *arg, uint64_t token, const char *peer, const char *workflow, json_t *data,
                 const char *claimed_source)
{
    ac_dist_node_t *n = arg;
    fuzz_serve_last.hooks++;
    /* only the authenticated peer, as its own source, with a name */
    if (strcmp(peer, PEER) != 0 || strcmp(claimed_source, PEER) != 0 || workflow[0] == '\0')
        abort();
    /* the answer is decided by the input, so that a crash replays */
    switch ((unsigned char)workflow[0] % 4) {
    case 0: ac_dist_node__answer_now(n, token, NULL, NULL); break;
    case 1: ac_dist_node__answer_now(n, token, "workflow_not_found", NULL); break;
    case 2: ac_dist_node__answer_now(n, token, NULL, claimed_source); break;
    default: /* later, as the loop does once the intake answered */
        if (ndeferred == sizeof(deferred) / sizeof(deferred[0]))
            abort(); /* one frame, one call */
        deferred[ndeferred++] = token;
    }
}

/* M, F and the length of the argument list of a call in the frame, decoded here without the node's code: a REG_SEND
 * to rex ({'$gen_call', {From, Tag}, {call | block_call, M, F, A, _}} or {From, {call, M, F, A, _}}) or an erpc
 * SPAWN_REQUEST (execute_call [Ref, M, F, A], execute_cast [M, F, A]). false: the frame holds no such call. */
static bool called(const char *b, const ac_dist_ctrl_t *m, char *mod, char *fun, int *arity)
{
    int idx, ar, t, sz;
    char a[MAXATOMLEN_UTF8];
    if (m->msg < 0)
        return false;
    if (m->op == AC_DIST_REG_SEND || m->op == AC_DIST_REG_SEND_TT) {
        idx = m->msg;
        if (ei_decode_tuple_header(b, &idx, &ar) != 0)
            return false;
        if (ar == 3) { /* '$gen_call', {From, Tag} */
            if (ei_decode_atom(b, &idx, a) != 0 || strcmp(a, "$gen_call") != 0 || ei_skip_term(b, &idx) != 0)
                return false;
        } else if (ar != 2 || ei_skip_term(b, &idx) != 0) { /* From */
            return false;
        }
        if (ei_decode_tuple_header(b, &idx, &ar) != 0 || ar != 5 || ei_decode_atom(b, &idx, a) != 0 ||
            (strcmp(a, "call") != 0 && strcmp(a, "block_call") != 0))
            return false;
    } else if (m->op == AC_DIST_SPAWN_REQUEST || m->op == AC_DIST_SPAWN_REQUEST_TT) {
        long fa;
        idx = m->ctrl;
        for (int i = 0; i < 3; i++) /* ReqId, From, GroupLeader */
            if (ei_skip_term(b, &idx) != 0)
                return false;
        if (ei_decode_tuple_header(b, &idx, &ar) != 0 || ar != 3 || ei_decode_atom(b, &idx, a) != 0 ||
            strcmp(a, "erpc") != 0 || ei_decode_atom(b, &idx, a) != 0 || ei_decode_long(b, &idx, &fa) != 0)
            return false;
        bool call = strcmp(a, "execute_call") == 0 && fa == 4, cast = strcmp(a, "execute_cast") == 0 && fa == 3;
        idx = m->msg;
        if ((!call && !cast) || ei_decode_list_header(b, &idx, &ar) != 0 || ar != (call ? 4 : 3) ||
            (call && ei_skip_term(b, &idx) != 0))
            return false;
    } else {
        return false;
    }
    if (ei_decode_atom(b, &idx, mod) != 0 || ei_decode_atom(b, &idx, fun) != 0 || ei_get_type(b, &idx, &t, &sz) != 0)
        return false;
    *arity = t == ERL_LIST_EXT || t == ERL_NIL_EXT ? sz : -1;
    return true;
}

/* The hook ran only for the one allowed function. */
static void check_hook(const uint8_t *data, size_t size)
{
    if (fuzz_serve_last.hooks == 0)
        return;
    if (fuzz_serve_last.hooks > 1)
        abort(); /* one frame, one call */
    char *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    ac_dist_ctrl_t m;
    ac_errmsg_t err;
    char mod[MAXATOMLEN_UTF8], fun[MAXATOMLEN_UTF8];
    int arity = -1;
    if (ac_dist_ctrl_parse(copy, size, &m, &err) != 0 || !called(m.buf, &m, mod, fun, &arity) ||
        strcmp(mod, AC_DIST_NODE_TRIGGER_MODULE) != 0 || strcmp(fun, AC_DIST_NODE_TRIGGER_FUNCTION) != 0 || arity != 3)
        abort();
    free(copy);
}

/* Everything queued for the peer: whole frames, each a tick or a control message ac_dist_ctrl_parse accepts. */
static void check_output(const buf_t *out)
{
    size_t off = out->off;
    while (off < out->len) {
        size_t consumed = 0, plen = 0;
        const uint8_t *payload = NULL;
        if (ac_dist_frame_next((const uint8_t *)out->p + off, out->len - off, AC_DIST_NODE_MAX_FRAME, &consumed,
                               &payload, &plen) <= 0)
            abort(); /* a partial or bad frame */
        if (plen > 0) {
            char *copy = malloc(plen); /* exact size: a read past the frame is caught */
            memcpy(copy, payload, plen);
            ac_dist_ctrl_t m;
            ac_errmsg_t err;
            if (ac_dist_ctrl_parse(copy, plen, &m, &err) != 0)
                abort();
            free(copy);
            fuzz_serve_last.frames++;
        }
        off += consumed;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ac_log_level_set(AC_LOG_OFF);
    memset(&fuzz_serve_last, 0, sizeof(fuzz_serve_last));
    ndeferred = 0;
    char name[] = "fz@localhost";
    ac_dist_node_t n;
    memset(&n, 0, sizeof(n));
    n.name = name;
    n.local.creation = 7;
    n.listen_fd = n.epfd = n.wake_fd = n.epmd_fd = -1;
    n.defer_flush = true; /* frames stay in the connection's buffer: no socket */
    n.cfg.trigger = hook;
    n.cfg.arg = &n;
    pthread_mutex_init(&n.lock, NULL);
    conn_t c;
    memset(&c, 0, sizeof(c));
    c.fd = -1;
    c.id = ++n.next_id;
    snprintf(c.name, sizeof(c.name), "%s", PEER);
    conn_t *conns[1] = {&c};
    n.conns = conns;
    n.nconns = 1;
    call_t call;
    memset(&call, 0, sizeof(call));
    snprintf(call.peer, sizeof(call.peer), "%s", PEER);
    call.ref.len = 3;
    call.ref.n[0] = 1;
    call.ref.n[1] = 2;
    call.ref.n[2] = 3;
    call.sent = true;
    call.conn_id = c.id;
    pthread_cond_init(&call.cond, NULL);
    n.calls = &call;

    char *frame = malloc(size ? size : 1); /* exact size */
    memcpy(frame, data, size);
    ac_dist_node__on_frame(&n, &c, frame, size);
    free(frame);
    for (size_t i = 0; i < ndeferred; i++) /* the intake's answers, posted to the loop */
        ac_dist_node__answer_now(&n, deferred[i], NULL, NULL);

    if (n.pending != NULL)
        abort(); /* a trigger left without its answer */
    check_hook(data, size);
    check_output(&c.out);
    if (call.done && (call.rc != 0 && call.rc != -1))
        abort();
    if (call.done && memchr(call.err, '\0', sizeof(call.err)) == NULL)
        abort();
    fuzz_serve_last.call_done = call.done;
    fuzz_serve_last.call_rc = call.rc;
    fuzz_serve_last.dead = c.dead;
    pthread_cond_destroy(&call.cond);
    pthread_mutex_destroy(&n.lock);
    free(c.in.p);
    free(c.out.p);
    return 0;
}
