/* web/internal.h - the server state the web modules share (server.c owns it), and their entry points. Not for use
 * outside web/. */
#ifndef AC_WEB_INTERNAL_H
#define AC_WEB_INTERNAL_H

#include "node/tg_client.h"
#include "policy/ratelimit.h"
#include "web/http.h"
#include "web/jobs.h"
#include "web/server.h"
#include "web/session.h"

#include <openssl/ssl.h>
#include <pthread.h>

#define AC_WEB_WEBHOOK_SEEN 256 /* deliveries remembered against replays */

struct ac_web_server {
    ac_web_cfg_t cfg; /* strings below are our copies */
    char *bind_addr, *tls_cert, *tls_key, *conninfo, *admin_password, *node_name;
    char *gemini_url, *anthropic_url; /* NULL: the public APIs (web/llm.c's test calls) */
    /* X-GitHub-Delivery ids of the last accepted webhook deliveries (loop thread only): a replay is not acted on */
    char webhook_seen[AC_WEB_WEBHOOK_SEEN][40];
    unsigned webhook_seen_next;
    uint8_t
        admin_digest[32]; /* SHA-256 of admin_password: logins compare digests, so time says nothing of its length */
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_evloop_t *loop;
    h2o_socket_t *listener;
    SSL_CTX *ssl;
    int port;
    int wake[2];
    h2o_socket_t *wake_sock;
    ac_web_jobs_t *jobs;
    h2o_timeout_t runnow_timeout; /* "Run now" answers 202 queued when the run has not started by then */
    ac_web_sessions_t *sessions;
    ac_policy_ratelimit_t *limiter; /* loop thread only */
    ac_node_tg_client_t *tg_client; /* prompts for 2FA challenges go to the owner's chat */
    bool closing;                   /* ac_web_server_quiesce ran: every request is answered 503 */
    /* cfg.audit_key's copy (zeroed at free); audit_key_set: there was one */
    uint8_t audit_key[AC_POLICY_AUDIT_HASH_LEN];
    bool audit_key_set;
    volatile sig_atomic_t llm_cancel; /* set by ac_web_server_quiesce: an LLM test call in flight gives up */
    int llm_tests;                    /* LLM test calls queued or running (loop thread only; web/llm.c) */
};

/* Who is asking: set by ac_web_auth_check. */
typedef struct ac_web_who {
    bool session; /* a browser session (CSRF applies) */
    bool bearer;  /* the API token */
    char csrf[AC_WEB_TOKEN_LEN + 1];
} ac_web_who_t;

/* auth.c */
void ac_web_login_page(ac_web_server_t *s, h2o_req_t *req);
void ac_web_login_post(ac_web_server_t *s, h2o_req_t *req);
void ac_web_logout(ac_web_server_t *s, h2o_req_t *req);
/* True when the request has a live session or the API token (bearer only when allow_bearer). */
bool ac_web_auth_check(ac_web_server_t *s, h2o_req_t *req, bool allow_bearer, ac_web_who_t *who);
/* For a state-changing request with a session: the X-CSRF-Token header must be the session's token. */
bool ac_web_csrf_ok(h2o_req_t *req, const ac_web_who_t *who);
bool ac_web_cookie_secure(ac_web_server_t *s, h2o_req_t *req);

/* api.c */
void ac_web_health(ac_web_server_t *s, h2o_req_t *req);
void ac_web_metrics(ac_web_server_t *s, h2o_req_t *req);
void ac_web_api(ac_web_server_t *s, h2o_req_t *req, const char *path, const ac_web_who_t *who);

/* webhook.c */
void ac_web_webhook_github(ac_web_server_t *s, h2o_req_t *req);

/* assets.c: the embedded UI files. */
typedef struct ac_web_asset {
    const char *path; /* "/assets/app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} ac_web_asset_t;
const ac_web_asset_t *ac_web_asset_find(const char *path);

int64_t ac_web_now(void); /* unix seconds */

#define AC_WEB_RUNNOW_WAIT_MS 5000

#endif
