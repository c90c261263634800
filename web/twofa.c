/* web/twofa.c - the admin UI's and the HTTP API's two-factor authentication (twofa.h). */
#include "web/twofa.h"

#include "web/llm.h"
#include "web/policies.h"
#include "web/skills.h"

#include "node/action.h"
#include "node/challenge.h"
#include "node/log.h"
#include "node/settings_store.h"
#include "node/twofa.h"
#include "policy/alloc.h"
#include "policy/b64.h"
#include "policy/qrpng.h"
#include "policy/totp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CODE_MAX 16

bool ac_web_twofa_key_reserved(const char *key)
{
    return strncmp(key, "auth.totp.", 10) == 0;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* The owner's chat, when Telegram can carry a prompt; from ac_malloc, or NULL. */
static char *chat_of(ac_web_server_t *s)
{
    char *chat = NULL;
    if (ac_node_settings_get_str(s->cfg.settings, "telegram.chat_id", &chat) != 0 || chat == NULL || chat[0] == '\0' ||
        !ac_node_tg_client_configured(s->tg_client)) {
        free(chat);
        return NULL;
    }
    return chat;
}

bool ac_web_twofa_gate(PGconn *db, ac_web_call_t *c, json_t *action, bool telegram)
{
    if (!ac_node_twofa_enabled(c->s->cfg.settings)) {
        json_decref(action);
        return false;
    }
    if (action == NULL) {
        c->status = 500;
        c->body = ac_web_error_body("could not describe the action");
        return true;
    }
    char *chat = telegram ? chat_of(c->s) : NULL;
    char scope[AC_NODE_CHALLENGE_SCOPE_MAX], id[AC_NODE_CHALLENGE_ID_MAX];
    if (chat != NULL)
        ac_node_challenge_scope_telegram(chat, scope, sizeof(scope));
    else
        snprintf(scope, sizeof(scope), "web");
    char *desc = ac_web_policies_describe(action), *replaced = NULL; /* NULL: not one of the web's own actions */
    if (desc == NULL)
        desc = ac_web_llm_describe(action);
    if (desc == NULL)
        desc = ac_node_action_describe(action);
    ac_errmsg_t err = {{0}};
    int rc = ac_node_challenge_live_description(db, scope, now_s(), &replaced, &err);
    if (rc == 0)
        rc = ac_node_challenge_create(db, scope, action, desc, now_s(), id, &err);
    json_decref(action);
    if (rc != 0) {
        c->status = rc == -AC_EDB || rc == -AC_EDBDOWN ? 503 : 422;
        c->body = ac_web_error_body(rc == -AC_ETOOLONG ? "the change is too large to hold for 2FA" : "database error");
    } else {
        if (chat != NULL) {
            char *prompt = ac_node_challenge_prompt_replacing(desc, replaced);
            ac_errmsg_t serr = {{0}};
            if (ac_node_tg_client_send(c->s->tg_client, chat, NULL, prompt, &serr) != 0)
                chat[0] = '\0'; /* the chat did not get it: only the UI can answer */
            free(prompt);
        }
        bool tg = chat != NULL && chat[0] != '\0';
        c->status = 403;
        c->body = json_pack("{s:s, s:s, s:s, s:b, s:s}", "error", "2fa_required", "challenge", id, "description", desc,
                            "telegram", tg, "message",
                            tg ? "This action requires 2FA verification: enter a code from your authenticator app "
                                 "here, or send it to the Telegram bot."
                               : "This action requires 2FA verification: enter a code from your authenticator app.");
        ac_log_info("web", "2fa_challenge", "scope=%s", chat != NULL ? "telegram" : "web");
    }
    free(replaced);
    free(desc);
    free(chat);
    return true;
}

void ac_web_twofa_token_rotate(PGconn *db, ac_web_call_t *c)
{
    char token[AC_WEB_TOKEN_LEN + 1];
    ac_errmsg_t err = {{0}};
    int rc = ac_web_token_new(token);
    if (rc == 0)
        rc = ac_node_settings_store_set(db, c->s->cfg.settings, "api.token", token, "string", &err);
    c->status = rc == 0 ? 201 : 503;
    c->body = rc == 0 ? json_pack("{s:s,s:s}", "token", token, "note", "shown once; store it now")
                      : ac_web_error_body(err.msg[0] ? err.msg : "could not make a token");
    explicit_bzero(token, sizeof(token));
    ac_log_info("web", "api_token_rotated", "ok=%s", rc == 0 ? "yes" : "no");
}

/* Adds "qr_png" (base64) for the otpauth URI in o. */
static void add_qr(json_t *o)
{
    const char *uri = json_string_value(json_object_get(o, "uri"));
    uint8_t *png = NULL;
    size_t len = 0;
    ac_errmsg_t err = {{0}};
    if (uri == NULL || ac_policy_qrpng_render(uri, 6, &png, &len, &err) != 0)
        return;
    char *b = ac_malloc(ac_policy_b64_encoded_len(len) + 1);
    ac_policy_b64_encode(png, len, b);
    json_object_set_new(o, "qr_png", json_string(b));
    free(b);
    free(png);
}

/* --- the endpoints --- */

static void state_run(PGconn *db, ac_web_call_t *c)
{
    (void)db;
    ac_node_settings_t *s = c->s->cfg.settings;
    char *pending = NULL;
    bool has_pending =
        ac_node_settings_get_str(s, "auth.totp.pending_secret", &pending) == 0 && pending != NULL && pending[0] != '\0';
    ac_free_secret_str(pending);
    char *chat = chat_of(c->s);
    c->body = json_pack("{s:b, s:b, s:b}", "enabled", ac_node_twofa_enabled(s), "pending_setup", has_pending,
                        "telegram", chat != NULL);
    free(chat);
}

static void setup_run(PGconn *db, ac_web_call_t *c)
{
    if (ac_web_twofa_gate(db, c, ac_node_action_twofa("twofa_setup"), true))
        return;
    char secret[AC_POLICY_TOTP_SECRET_LEN + 1], uri[512];
    ac_errmsg_t err = {{0}};
    int rc = ac_node_twofa_setup(db, c->s->cfg.settings, "admin", NULL, now_s(), secret, uri, sizeof(uri), &err);
    if (rc != 0) {
        c->status = 503;
        c->body = ac_web_error_body("could not start the setup (database error)");
        return;
    }
    c->body = json_pack("{s:s, s:s}", "secret", secret, "uri", uri);
    add_qr(c->body);
    explicit_bzero(secret, sizeof(secret));
    explicit_bzero(uri, sizeof(uri));
}

static void confirm_run(PGconn *db, ac_web_call_t *c)
{
    const char *code = json_string_value(json_object_get(c->in, "code"));
    ac_errmsg_t err = {{0}};
    int rc = ac_node_twofa_confirm(db, c->s->cfg.settings, code != NULL ? code : "", now_s(), &err);
    if (rc == -AC_EAGAIN) {
        c->status = 429;
        c->body = ac_web_error_body(err.msg);
        return;
    }
    c->status = rc == 0 ? 200 : rc == -AC_ENOENT ? 409 : rc == -AC_EPERM || rc == -AC_EINVAL ? 403 : 503;
    c->body = rc == 0                               ? json_pack("{s:b}", "enabled", 1)
              : rc == -AC_ENOENT                    ? ac_web_error_body("no 2FA setup is pending; start one first")
              : rc == -AC_EPERM || rc == -AC_EINVAL ? ac_web_error_body("invalid code")
                                                    : ac_web_error_body("database error");
}

static void disable_run(PGconn *db, ac_web_call_t *c)
{
    if (!ac_node_twofa_enabled(c->s->cfg.settings)) {
        c->status = 409;
        c->body = ac_web_error_body("2FA is not enabled");
        return;
    }
    ac_web_twofa_gate(db, c, ac_node_action_twofa("twofa_disable"), true);
}

static void verify_run(PGconn *db, ac_web_call_t *c)
{
    const char *id = json_string_value(json_object_get(c->in, "challenge"));
    const char *code = json_string_value(json_object_get(c->in, "code"));
    if (id == NULL || code == NULL || strlen(id) >= AC_NODE_CHALLENGE_ID_MAX || strlen(code) > CODE_MAX) {
        c->status = 400;
        c->body = ac_web_error_body("the body must be {\"challenge\": id, \"code\": \"123456\"}");
        return;
    }
    json_t *action = NULL;
    int left = 0;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_challenge_resolve(db, c->s->cfg.settings, NULL, id, code, now_s(), &action, &left, &err);
    if (rc == -AC_EAGAIN) {
        c->status = 429;
        c->body = ac_web_error_body(err.msg);
        return;
    }
    if (rc != 0) {
        c->status = rc == -AC_ENOENT      ? 404
                    : rc == -AC_ETIMEDOUT ? 410
                    : rc == -AC_EPERM     ? 403
                    : rc == -AC_ESTATE    ? 409
                                          : 503;
        c->body = rc == -AC_EPERM
                      ? json_pack("{s:s, s:i}", "error",
                                  left > 0 ? "invalid code" : "invalid code: too many, the action is cancelled",
                                  "attempts_left", left)
                  : rc == -AC_ENOENT ? ac_web_error_body("no such challenge (it was answered, replaced or cancelled)")
                  : rc == -AC_ETIMEDOUT ? ac_web_error_body("the challenge expired; ask again")
                  : rc == -AC_ESTATE    ? ac_web_error_body("2FA is not enabled")
                                        : ac_web_error_body("database error");
        return;
    }
    const char *type = json_string_value(json_object_get(action, "type"));
    if (type != NULL && strcmp(type, "api_token") == 0) {
        ac_web_twofa_token_rotate(db, c);
        json_decref(action);
        return;
    }
    if (ac_web_policies_is_action(action)) { /* policy rule changes: the web layer runs them (web/policies.h) */
        ac_web_policies_exec_approved(db, c, action);
        json_decref(action);
        return;
    }
    if (ac_web_llm_is_action(action)) { /* LLM provider changes: the web layer runs them (web/llm.h) */
        ac_web_llm_exec_approved(db, c, action);
        json_decref(action);
        return;
    }
    ac_node_action_env_t env = {.conn = db,
                                .settings = c->s->cfg.settings,
                                .pool = c->s->cfg.pool,
                                .base = NULL,
                                .account = "admin",
                                .dynskills = c->s->cfg.dynskills};
    json_t *result = NULL;
    rc = ac_node_action_exec(&env, action, &result, &err);
    if (rc != 0 && type != NULL && strncmp(type, "skill_", 6) == 0) { /* the loader's sentence (web/skills.h) */
        ac_web_skills_fail(c, rc, &err, true);
    } else if (rc != 0) {
        c->status = rc == -AC_ENOENT ? 404 : rc == -AC_EINVAL ? 422 : rc == -AC_EPERM ? 403 : 503;
        c->body = json_pack("{s:s, s:b}", "error", err.msg, "approved", 1);
    } else {
        if (type != NULL && strcmp(type, "twofa_setup") == 0)
            add_qr(result);
        c->body = json_pack("{s:b, s:s, s:o}", "approved", 1, "type", type != NULL ? type : "", "result", result);
    }
    json_decref(action);
}

static void cancel_run(PGconn *db, ac_web_call_t *c)
{
    const char *id = json_string_value(json_object_get(c->in, "challenge"));
    if (id == NULL || strlen(id) >= AC_NODE_CHALLENGE_ID_MAX) {
        c->status = 400;
        c->body = ac_web_error_body("the body must be {\"challenge\": id}");
        return;
    }
    ac_errmsg_t err = {{0}};
    int rc = ac_node_challenge_cancel_id(db, id, &err);
    c->status = rc == 0 ? 200 : 503;
    c->body = rc == 0 ? json_pack("{s:b}", "cancelled", 1) : ac_web_error_body("database error");
}

void ac_web_twofa_api(ac_web_server_t *s, h2o_req_t *req, const char *path)
{
    bool get = ac_web_method_is(req, "GET") || ac_web_method_is(req, "HEAD");
    bool post = ac_web_method_is(req, "POST");
    void (*fn)(PGconn *, ac_web_call_t *) = NULL;
    bool needs_body = false;
    if (strcmp(path, "/api/2fa") == 0 && get)
        fn = state_run;
    else if (strcmp(path, "/api/2fa/setup") == 0 && post)
        fn = setup_run;
    else if (strcmp(path, "/api/2fa/confirm") == 0 && post)
        fn = confirm_run, needs_body = true;
    else if (strcmp(path, "/api/2fa/disable") == 0 && post)
        fn = disable_run;
    else if (strcmp(path, "/api/2fa/verify") == 0 && post)
        fn = verify_run, needs_body = true;
    else if (strcmp(path, "/api/2fa/cancel") == 0 && post)
        fn = cancel_run, needs_body = true;
    if (fn == NULL) {
        ac_web_error(req, 404, "no such endpoint");
        return;
    }
    json_t *in = NULL;
    if (needs_body && (in = ac_web_call_body(req, 0, "the body must be a JSON object")) == NULL)
        return;
    ac_web_call_t *c = ac_web_call_new(s, fn);
    c->in = in;
    ac_web_call_defer(s, req, c);
}
