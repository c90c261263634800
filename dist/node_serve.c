/* dist/node_serve.c - the control messages the distribution node serves, on the loop's thread: REG_SEND to rex
 * (call, block_call, the ei_rpc form) and net_kernel (is_auth), SPAWN_REQUEST for erpc's execute_call and
 * execute_cast, LINK, MONITOR_P and UNLINK_ID; the one function callers may run (allow_list) goes to the node's
 * trigger hook, and its answer back as rex, erpc or ei_rpc expect it. Anything else gets what a BEAM node answers
 * for an undefined function. */
#include "dist/node_int.h"

#include "dist/term_json.h"
#include "node/log.h"
#include "policy/alloc.h"
#include "policy/crypto.h"
#include "policy/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What callers may run here: nothing else, whatever they hold. */
static const struct {
    const char *module, *function;
    int arity;
} allow_list[] = {
    {AC_DIST_NODE_TRIGGER_MODULE, AC_DIST_NODE_TRIGGER_FUNCTION, 3},
};

void ac_dist_node__our_pid(ac_dist_node_t *n, erlang_pid *p)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->node, sizeof(p->node), "%s", n->name);
    /* called from the loop and from worker threads */
    p->num = (__atomic_add_fetch(&n->pid_num, 1, __ATOMIC_RELAXED) & 0x7fff) | 1;
    p->serial = 0;
    p->creation = n->local.creation;
}

void ac_dist_node__our_ref(ac_dist_node_t *n, erlang_ref *r)
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
    conn_t *c = ac_dist_node__conn_by_id(n, p->conn_id);
    if (c == NULL)
        return;
    ei_x_buff msg;
    ei_x_new(&msg);
    if (p->kind == PEND_REX) { /* {Tag, Reply} to From */
        ei_x_encode_tuple_header(&msg, 2);
        ei_x_append_buf(&msg, p->tag, p->taglen);
        ei_x_append_buf(&msg, value, vlen);
        ac_dist_node__send_to_pid(n, c, &p->from, &msg);
    } else if (p->kind == PEND_EI_RPC) { /* {rex, Reply} */
        ei_x_encode_tuple_header(&msg, 2);
        ei_x_encode_atom(&msg, "rex");
        ei_x_append_buf(&msg, value, vlen);
        ac_dist_node__send_to_pid(n, c, &p->from, &msg);
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
            ac_dist_node__send_terms(n, c, &ctrl, NULL);
            ctrl.index = 0;
        }
        if (p->link) { /* EXIT {3, FromPid, ToPid, Reason} */
            ei_x_encode_tuple_header(&ctrl, 4);
            ei_x_encode_long(&ctrl, AC_DIST_EXIT);
            ei_x_encode_pid(&ctrl, &p->newpid);
            ei_x_encode_pid(&ctrl, &p->from);
            ei_x_append_buf(&ctrl, reason.buff, reason.index);
            ac_dist_node__send_terms(n, c, &ctrl, NULL);
        }
        ei_x_free(&ctrl);
        ei_x_free(&reason);
    }
    ei_x_free(&msg);
}

void ac_dist_node__pending_free(pending_t *p)
{
    free(p->tag);
    free(p);
}

void ac_dist_node__answer_now(ac_dist_node_t *n, uint64_t token, const char *error_atom, const char *unauthorized)
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
    ac_dist_node__pending_free(p);
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
    ac_dist_node__pending_free(p);
}

/* A workflow or node name from a peer: UTF-8 text without NUL (a NUL would cut the C string short, so that another
 * name than the one sent would be used; the database refuses text that is not UTF-8). */
static bool text_ok(const char *s, long n)
{
    return n > 0 && memchr(s, '\0', (size_t)n) == NULL && ac_policy_utf8_valid(s, (size_t)n);
}

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
        ac_dist_node__pending_free(p);
        return;
    }
    /* receive_workflow_data(Name :: binary, Data :: term, SourceNode :: binary) */
    char name[256] = "", source[256] = "";
    json_t *data = NULL;
    ac_errmsg_t err = {{0}};
    long blen;
    idx = args_at;
    int list;
    const char *why = "expected (binary, term, binary)";
    bool ok = ei_decode_list_header(buf, &idx, &list) == 0 && ei_get_type(buf, &idx, &type, &size) == 0 &&
              type == ERL_BINARY_EXT && size > 0 && size < (int)sizeof(name) &&
              ei_decode_binary(buf, &idx, name, &blen) == 0;
    if (ok && !text_ok(name, blen)) {
        ok = false;
        why = "the workflow name is not UTF-8 text without NUL";
    }
    if (ok) {
        name[blen] = '\0';
        ok = ac_dist_term_to_json(buf, args_end, &idx, NULL, &data, &err) == 0;
    }
    if (ok)
        ok = ei_get_type(buf, &idx, &type, &size) == 0 && type == ERL_BINARY_EXT && size > 0 &&
             size < (int)sizeof(source) && ei_decode_binary(buf, &idx, source, &blen) == 0;
    if (ok && !text_ok(source, blen)) {
        ok = false;
        why = "the source node is not UTF-8 text without NUL";
    }
    if (ok)
        source[blen] = '\0';
    if (!ok) {
        ac_log_warn("dist", "trigger_bad_arguments", "peer=%s error=%s", c->name, err.msg[0] ? err.msg : why);
        json_decref(data);
        /* what erpc/rpc report for a function_clause on a BEAM node is close enough: badarg as an error */
        ei_x_buff v;
        ei_x_new(&v);
        ei_x_encode_tuple_header(&v, 2);
        ei_x_encode_atom(&v, "error");
        ei_x_encode_atom(&v, "badarg");
        reply_value(n, p, v.buff, v.index, false);
        ei_x_free(&v);
        ac_dist_node__pending_free(p);
        return;
    }
    int waiting = 0;
    for (pending_t *q = n->pending; q != NULL; q = q->next)
        waiting += q->conn_id == c->id;
    p->token = ++n->next_id;
    p->next = n->pending;
    n->pending = p;
    if (waiting >= AC_DIST_NODE_MAX_PENDING_PER_PEER) {
        ac_dist_node__answer_now(n, p->token, "busy", NULL);
        json_decref(data);
        return;
    }
    ac_log_info("dist", "trigger", "peer=%s workflow=%s claimed_source=%s", c->name, name, source);
    if (strcmp(source, c->name) != 0) {
        /* the source is the authenticated peer, never what the caller claims */
        ac_dist_node__answer_now(n, p->token, NULL, source);
        json_decref(data);
        return;
    }
    if (n->cfg.trigger != NULL)
        n->cfg.trigger(n->cfg.arg, p->token, c->name, name, data, source);
    else
        ac_dist_node__answer_now(n, p->token, "workflow_not_found", NULL);
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
        ac_dist_node__pending_free(p);
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
    ac_dist_node__our_pid(n, &p->newpid);
    /* SPAWN_REPLY {31, ReqId, To, Flags, Result}: flags 1 = link set up, 2 = monitor set up */
    ei_x_buff ctrl;
    ei_x_new(&ctrl);
    ei_x_encode_tuple_header(&ctrl, 5);
    ei_x_encode_long(&ctrl, AC_DIST_SPAWN_REPLY);
    ei_x_encode_ref(&ctrl, &reqid);
    ei_x_encode_pid(&ctrl, &from);
    ei_x_encode_long(&ctrl, (link ? 1 : 0) | (monitor ? 2 : 0));
    ei_x_encode_pid(&ctrl, &p->newpid);
    ac_dist_node__send_terms(n, c, &ctrl, NULL);
    ei_x_free(&ctrl);

    int args_at = m->msg;
    if (args_at < 0) {
        reply_badarg(n, p);
        return;
    }
    bool call = strcmp(mod, "erpc") == 0 && strcmp(fun, "execute_call") == 0 && arity == 4;
    bool cast = strcmp(mod, "erpc") == 0 && strcmp(fun, "execute_cast") == 0 && arity == 3;
    if (call || cast) {
        /* call: [ResRef, M, F, A]; cast: [M, F, A], run like a call, but its "process" reports back only if the
         * caller asked for a monitor or link (rpc:cast does not) */
        int i = args_at, cnt;
        char m2[MAXATOMLEN_UTF8], f2[MAXATOMLEN_UTF8];
        if (ei_decode_list_header(b, &i, &cnt) != 0 || cnt != (call ? 4 : 3)) {
            reply_badarg(n, p);
            return;
        }
        if (call) {
            int ref_at = i;
            if (ei_skip_term(b, &i) != 0 || i > m->msg_end) {
                reply_badarg(n, p);
                return;
            }
            p->taglen = i - ref_at;
            p->tag = ac_malloc((size_t)p->taglen);
            memcpy(p->tag, b + ref_at, (size_t)p->taglen);
        }
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
    ac_dist_node__pending_free(p);
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
        ac_dist_node__send_terms(n, c, &ctrl, NULL);
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
            ac_dist_node__send_terms(n, c, &ctrl, NULL);
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
    ac_dist_node__send_terms(n, c, &ctrl, NULL);
    ei_x_free(&ctrl);
}

void ac_dist_node__on_frame(ac_dist_node_t *n, conn_t *c, const char *frame, size_t len)
{
    ac_dist_ctrl_t m;
    ac_errmsg_t err = {{0}};
    /* A private copy with zero padding: decoders are bounded by arity checks, and a slip past the end of a term
     * meets invalid tags, never the bytes of another frame. */
    char *payload = ac_calloc(len + AC_DIST_NODE_PAD, 1);
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
    case AC_DIST_SEND_SENDER_TT: ac_dist_node__on_send_to_us(n, c, &m); break;
    case AC_DIST_SPAWN_REQUEST:
    case AC_DIST_SPAWN_REQUEST_TT: on_spawn_request(n, c, &m); break;
    case AC_DIST_LINK:
    case AC_DIST_MONITOR_P: on_link_or_monitor(n, c, &m); break;
    case AC_DIST_UNLINK_ID: on_unlink_id(n, c, &m); break;
    default: break; /* exits, unlinks, demonitors, group leader, acks: nothing of ours to change */
    }
    free(payload);
}
