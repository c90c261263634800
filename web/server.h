/* web/server.h - the node's admin web server: h2o on one loop (the main thread runs it), plain HTTP or TLS, serving the static UI, the
 * JSON API under /api/ (the LLM page's under /api/llm/, web/llm.h), login and logout, /health, /metrics and the GitHub
 * webhook.
 *
 * The loop never waits on PostgreSQL: handlers that need it go through web/jobs.h. Request bodies are limited to
 * AC_WEB_BODY_MAX (h2o answers 413 beyond it). See docs/ARCHITECTURE.md, "The web layer", for the routes and the
 * authentication rules. */
#ifndef AC_WEB_SERVER_H
#define AC_WEB_SERVER_H

#include "node/wf_pool.h"
#include "policy/audit.h"
#include "policy/error.h"
#include "skills/breaker.h"
#include "skills/registry.h"

#include <signal.h>
#include <stdint.h>

#define AC_WEB_BODY_MAX (1024 * 1024)

struct ac_node_dynskills;

typedef struct ac_web_cfg {
    const char *bind_addr; /* numeric IPv4 or IPv6 address */
    int port;              /* 0: any free port (tests; ac_web_server_port tells which) */
    const char *tls_cert;  /* PEM files; both or neither */
    const char *tls_key;
    const char *conninfo;       /* secret: never logged */
    const char *admin_password; /* NULL or "": nobody can log in */
    ac_node_settings_t *settings;
    ac_node_wf_pool_t *pool;
    ac_skills_breakers_t *breakers;
    ac_skills_registry_t *registry;      /* the skills steps may name */
    struct ac_node_dynskills *dynskills; /* loads, reloads and unloads dynamic skills (web/skills.h); NULL: dynamic
                                          * skills are off (no sandbox helper, or no usable SKILLS_DIR) */
    struct ac_node_telegram *telegram;   /* the Telegram poller (its state on the Dashboard); NULL: none */
    const char *telegram_api_url;        /* TELEGRAM_API_URL (NULL: Telegram's), for 2FA prompts to the chat */
    const char *gemini_url;              /* GEMINI_API_URL, ANTHROPIC_API_URL (NULL: the public APIs): where the LLM */
    const char *anthropic_url;           /* page's test calls go, and what it says receives the owner's data */
    const char *node_name;
    const uint8_t *audit_key;     /* the audit chain's key (AC_POLICY_AUDIT_HASH_LEN bytes, copied; secret); NULL: the
                                   * Policies page cannot verify the chain */
    bool distribution;            /* Erlang distribution runs (NODE_NAME set) */
    int64_t started_at;           /* unix seconds */
    int64_t session_seconds;      /* 0: AC_WEB_SESSION_LIFETIME_S */
    const char *bench_static_dir; /* NULL, or a directory served under /bench-static/ by h2o's file handler */
    /* GitHub security reviews of accepted webhook events (node/app.h ac_node_app_github_review); NULL: none */
    int (*github_review)(void *arg, const char *repo, bool pr, const char *ref, ac_errmsg_t *err);
    void *github_review_arg;
} ac_web_cfg_t;

typedef struct ac_web_server ac_web_server_t;

/* Binds and prepares the loop (and the database workers it hands work to). Strings are copied. */
int ac_web_server_start(const ac_web_cfg_t *cfg, ac_web_server_t **out, ac_errmsg_t *err);
int ac_web_server_port(const ac_web_server_t *s);
/* Runs the loop on the calling thread until *stop is set; a signal handler sets it and writes a byte to
 * ac_web_server_stop_fd() (async-signal-safe) to wake the loop. Then stops accepting and lets connections finish
 * (at most a few seconds). The loop runs on the main thread so that h2o's thread-local memory caches live as long as
 * the process. */
int ac_web_server_stop_fd(const ac_web_server_t *s);
void ac_web_server_run(ac_web_server_t *s, volatile sig_atomic_t *stop);
/* After run returned and before the engine below stops (the pool, the Telegram poller): joins the database workers,
 * so no approved action reaches the pool any more, and answers every later request 503. */
void ac_web_server_quiesce(ac_web_server_t *s);
/* Stops the database workers and frees everything (after run returned, on the same thread). NULL is fine. */
void ac_web_server_free(ac_web_server_t *s);

#endif
