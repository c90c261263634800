/* node/dispatch.h - the command dispatcher: what the owner's Telegram messages do. Deterministic routing (the LLM
 * never decides what runs): /start, /ping, /status, /help, /workflows, /run, /runs, /cancel, /skills, /skill,
 * /shell, /setup 2fa, /confirm 2fa, /disable 2fa, /github, /llm, /coder, /rate, a 6-digit code answering the chat's
 * 2FA challenge, and free text, which goes to the conversational skill (skills/llm_skills.h). Conversations and
 * GitHub reviews run on the chat task runner (node/chat_task.h), so the poller stays free for the next message.
 *
 * 2FA (SECURITY.md, "The 2FA matrix"): /shell while 2FA is on, /run of a workflow that requires 2FA, /disable 2fa
 * and /setup 2fa while 2FA is on create a challenge (node/challenge.h) bound to exactly that action; the code runs
 * it. A workflow that requires 2FA is refused while 2FA is off. Challenges made by the admin UI for this chat are
 * answered here the same way. */
#ifndef AC_NODE_DISPATCH_H
#define AC_NODE_DISPATCH_H

#include "node/wf_pool.h"
#include "skills/registry.h"

#include <libpq-fe.h>
#include <stdint.h>

/* Where replies go (the Telegram gateway). html is Telegram's HTML subset; plain the same text without markup. */
typedef struct ac_node_dispatch_out {
    int (*text)(void *arg, const char *chat_id, const char *html, const char *plain);
    int (*photo)(void *arg, const char *chat_id, const uint8_t *png, size_t len, const char *caption);
    void *arg;
} ac_node_dispatch_out_t;

typedef struct ac_node_dispatch_cfg {
    ac_node_settings_t *settings;
    ac_node_wf_pool_t *pool; /* NULL: /run answers that this process runs no workflows */
    ac_skills_registry_t *registry;
    ac_skill_ctx_t base; /* for /shell; strings outlive the dispatcher */
    const char *node_name;
    int64_t started_at;            /* unix seconds, for /status */
    volatile sig_atomic_t *cancel; /* non-zero: stop a /shell command in flight (the node is stopping); may be NULL */
    struct ac_node_dynskills *dynskills; /* approved skill_* actions; NULL: refused */
    struct ac_node_chat_tasks *tasks;    /* conversations and reviews run there; NULL: on the calling thread */
    struct ac_node_coder *coder;         /* /coder; NULL: refused (dynamic skills are off) */
    void (*coder_say)(void *arg, const char *chat_id, const char *text); /* the coder's reports (outlive the poller) */
    void *coder_say_arg;
    ac_node_dispatch_out_t out;
} ac_node_dispatch_cfg_t;

/* Handles one message of the owner's chat on the calling thread, with its database connection. now: unix seconds
 * (TOTP). Never fails: every problem becomes a reply. */
void ac_node_dispatch_message(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat_id, const char *text,
                              int64_t now);

/* Sends the chat the prompt for a challenge it must answer (also used for the admin UI's challenges). */
void ac_node_dispatch_prompt(const ac_node_dispatch_cfg_t *d, const char *chat_id, const char *description);

#endif
