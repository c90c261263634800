/* node/ask_owner.c - a 2FA challenge for the owner, asked for by the node itself (ask_owner.h). Moved here from the
 * SkillAPI's load/unload/reload so the coder and the SkillAPI ask the same way. */
#include "node/ask_owner.h"

#include "node/action.h"
#include "node/log.h"
#include "node/twofa.h"
#include "policy/alloc.h"
#include "policy/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool tg_ready(void *arg)
{
    return arg != NULL && ac_node_tg_client_configured(arg);
}

static int tg_send(void *arg, const char *chat_id, const char *text)
{
    ac_errmsg_t err = {{0}};
    if (arg == NULL)
        return -AC_ESTATE;
    int rc = ac_node_tg_client_send(arg, chat_id, NULL, text, &err);
    if (rc != 0)
        ac_log_warn("twofa", "prompt_not_sent", "error=%s", err.msg);
    return rc;
}

void ac_node_ask_owner_telegram(ac_node_ask_owner_t *o, ac_node_settings_t *settings, ac_node_tg_client_t *tg)
{
    *o = (ac_node_ask_owner_t){.settings = settings, .ready = tg_ready, .send = tg_send, .arg = tg};
}

int ac_node_ask_owner(const ac_node_ask_owner_t *o, PGconn *c, ac_node_ask_owner_build_fn build, void *build_arg,
                      const char *asked_by, ac_node_ask_owner_result_t *out, ac_errmsg_t *err)
{
    memset(out, 0, sizeof(*out));
    if (!ac_node_twofa_enabled(o->settings)) {
        out->status = AC_NODE_ASK_OWNER_NO_2FA;
        return ac_errmsg_set(err, -AC_ESTATE,
                             "requires_2fa: two-factor authentication is off; turn it on to approve this in the chat");
    }
    char *chat = NULL;
    if (ac_node_settings_get_str(o->settings, "telegram.chat_id", &chat) != 0 || chat == NULL || chat[0] == '\0' ||
        o->send == NULL || (o->ready != NULL && !o->ready(o->arg))) {
        free(chat);
        out->status = AC_NODE_ASK_OWNER_NO_CHAT;
        return ac_errmsg_set(err, -AC_ECONFIG, "requires_2fa: no Telegram chat to ask the owner; use the admin UI");
    }
    ac_node_challenge_scope_telegram(chat, out->scope, sizeof(out->scope));
    int64_t now = (int64_t)time(NULL);
    bool pending = false;
    int rc = ac_node_challenge_pending(c, out->scope, now, &pending, err);
    if (rc != 0) {
        free(chat);
        out->status = AC_NODE_ASK_OWNER_FAILED;
        return rc;
    }
    if (pending) { /* never replace the owner's own request (or another machine's) */
        free(chat);
        out->status = AC_NODE_ASK_OWNER_BUSY;
        return ac_errmsg_set(err, -AC_EAGAIN, "busy: the owner has a 2FA request waiting; ask again later");
    }
    json_t *action = NULL;
    if ((rc = build(build_arg, c, &action, err)) != 0 || action == NULL) {
        json_decref(action);
        free(chat);
        out->status = AC_NODE_ASK_OWNER_REFUSED;
        return rc != 0 ? rc : ac_errmsg_set(err, -AC_EINVAL, "nothing to approve");
    }
    char *desc = ac_node_action_describe(action);
    if (asked_by != NULL && asked_by[0] != '\0') {
        size_t fl = strlen(desc) + strlen(asked_by) + 4;
        char *full = ac_malloc(fl);
        snprintf(full, fl, "%s (%s)", desc, asked_by);
        free(desc);
        desc = full;
    }
    /* the description stored with the challenge is cut the same way */
    size_t dl = ac_policy_utf8_fit(desc, strlen(desc), sizeof(out->description) - 1);
    memcpy(out->description, desc, dl);
    out->description[dl] = '\0';
    /* the check above answers early; this insert decides: a request made meanwhile (the owner's /shell, say) is
     * never replaced, so a code typed for it can never approve this instead */
    rc = ac_node_challenge_create_if_free(c, out->scope, action, desc, now, out->id, err);
    json_decref(action);
    if (rc != 0) {
        free(desc);
        free(chat);
        out->status = rc == -AC_EAGAIN ? AC_NODE_ASK_OWNER_BUSY : AC_NODE_ASK_OWNER_FAILED;
        return rc;
    }
    out->status = AC_NODE_ASK_OWNER_ASKED;
    char *prompt = ac_node_challenge_prompt(desc);
    out->sent = o->send(o->arg, chat, prompt) == 0;
    free(prompt);
    free(desc);
    free(chat);
    return 0;
}
