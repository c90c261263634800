/* dist/node_call.c - the distribution node's own calls to other nodes (send_to_workflow): the rex request to a
 * peer's receive_workflow_data, sent once the loop has a connection to it, its reply matched by reference, and its
 * end by reply, nodedown, refusal or deadline. The caller's thread waits; the loop does the rest. */
#include "dist/node_int.h"

#include "dist/term_json.h"
#include "policy/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A reply to one of our outgoing calls: SEND to our pid with {Ref, Reply}. */
void ac_dist_node__on_send_to_us(ac_dist_node_t *n, conn_t *c, const ac_dist_ctrl_t *m)
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
    ac_dist_node__our_pid(n, &us);
    ac_dist_node__our_ref(n, &call->ref);
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
    ei_x_encode_atom(&msg, AC_DIST_NODE_TRIGGER_MODULE);
    ei_x_encode_atom(&msg, AC_DIST_NODE_TRIGGER_FUNCTION);
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
    call->deadline = ac_dist_node__now_ms() + (timeout_ms > 0 ? timeout_ms : 5000);
    pthread_mutex_lock(&n->lock);
    call->next = n->calls;
    n->calls = call;
    pthread_mutex_unlock(&n->lock);
    event_t *e = ac_calloc(1, sizeof(*e));
    e->kind = EV_CALL;
    snprintf(e->name, sizeof(e->name), "%s", peer);
    ac_dist_node__post(n, e);
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

/* Ends a waiting call with an error (n->lock held): its caller wakes with -1 and err. */
void ac_dist_node__call_fail(call_t *call, const char *err)
{
    call->rc = -1;
    snprintf(call->err, sizeof(call->err), "%s", err);
    call->done = true;
    pthread_cond_broadcast(&call->cond);
}
