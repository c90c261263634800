/* node/ask_owner.h - asking the owner to approve an action with a 2FA code in the owner's chat.
 *
 * The one place where something the node wants to do on its own (a skill's SkillAPI load_skill, the coder's new
 * skill) becomes a 2FA challenge (node/challenge.h) for the owner, with the rules of the 2FA matrix: only while 2FA is
 * on, only when there is a chat to ask (telegram.chat_id set and a sender that can reach it), never replacing a
 * request that already waits for the owner (a machine must not push the owner's own request away), the challenge
 * bound to exactly the action a builder made (node/action.h) with its description, and the prompt sent through a
 * send function (the Telegram client in the node, a callback in tests). The code typed in the chat runs the action
 * through the dispatcher (node/dispatch.c, ac_node_action_exec); nothing here executes anything.
 *
 * The order of the checks is fixed: 2FA, chat, pending request, then the action is built (which may cost a sandbox
 * run), then the challenge is stored and the prompt sent. A prompt that cannot be delivered leaves the challenge in
 * place (it expires; the admin UI shows it) and is reported in the result. */
#ifndef AC_NODE_ASK_OWNER_H
#define AC_NODE_ASK_OWNER_H

#include "node/challenge.h"
#include "node/settings.h"
#include "node/tg_client.h"
#include "policy/error.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

/* How the owner is reached. ready (may be NULL: always ready) says whether send can deliver now; send delivers one
 * plain-text message to chat_id and returns 0 or a negative code. Both run on the caller's thread. */
typedef struct ac_node_ask_owner {
    ac_node_settings_t *settings; /* auth.totp.enabled, telegram.chat_id */
    bool (*ready)(void *arg);
    int (*send)(void *arg, const char *chat_id, const char *text);
    void *arg;
} ac_node_ask_owner_t;

/* Fills o to reach the owner through a Telegram client (ready: ac_node_tg_client_configured; send: a plain message).
 * tg may be NULL: then nobody can be asked. */
void ac_node_ask_owner_telegram(ac_node_ask_owner_t *o, ac_node_settings_t *settings, ac_node_tg_client_t *tg);

/* Builds the action to approve, once the checks passed. OUT: *action (a new reference). Returns 0 or a negative
 * code with err (the caller reports it as a refusal: a core skill, a bad file, ...). */
typedef int (*ac_node_ask_owner_build_fn)(void *arg, PGconn *c, json_t **action, ac_errmsg_t *err);

typedef enum {
    AC_NODE_ASK_OWNER_ASKED = 0, /* the challenge waits for the owner's code */
    AC_NODE_ASK_OWNER_NO_2FA,    /* 2FA is off: nothing can be approved in the chat */
    AC_NODE_ASK_OWNER_NO_CHAT,   /* no telegram.chat_id, or no sender ready */
    AC_NODE_ASK_OWNER_BUSY,      /* a request already waits in that chat */
    AC_NODE_ASK_OWNER_REFUSED,   /* the builder refused */
    AC_NODE_ASK_OWNER_FAILED,    /* the database failed (checking for, or storing, the challenge) */
} ac_node_ask_owner_status_t;

typedef struct ac_node_ask_owner_result {
    ac_node_ask_owner_status_t status;
    char id[AC_NODE_CHALLENGE_ID_MAX];            /* the challenge (ASKED) */
    char scope[AC_NODE_CHALLENGE_SCOPE_MAX];      /* "telegram:<chat id>" (once the chat is known) */
    char description[AC_NODE_CHALLENGE_DESC_MAX]; /* what the owner is asked to approve (ASKED) */
    bool sent;                                    /* the prompt was delivered */
} ac_node_ask_owner_result_t;

/* Asks the owner to approve what build(build_arg, c, ...) makes, on connection c. asked_by (may be NULL) is added to
 * the description in parentheses ("asked by the dynamic skill x"), so the owner knows who wants it. Returns 0 when the
 * challenge was stored (out->status ASKED; out->sent says whether the prompt went out), or a negative code with
 * out->status and err saying why:
 *   -AC_ESTATE  NO_2FA   "requires_2fa: two-factor authentication is off; turn it on to approve this in the chat"
 *   -AC_ECONFIG NO_CHAT  "requires_2fa: no Telegram chat to ask the owner; use the admin UI"
 *   -AC_EAGAIN  BUSY     "busy: the owner has a 2FA request waiting; ask again later"
 *   build's code, REFUSED (err from build), or a database error, FAILED. */
int ac_node_ask_owner(const ac_node_ask_owner_t *o, PGconn *c, ac_node_ask_owner_build_fn build, void *build_arg,
                      const char *asked_by, ac_node_ask_owner_result_t *out, ac_errmsg_t *err);

#endif
