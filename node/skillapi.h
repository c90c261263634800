/* node/skillapi.h - the SkillAPI server (issue 7): what a sandboxed dynamic skill's calls do. Each call arrives as a
 * parsed channel message (skills/channel.h) while the skill's sandbox waits; it is authorized first with the policy
 * engine (node/authorize.h: chain depth, the skill's capability token, the rules, its declared permissions; every
 * denial audited), then its arguments are validated with size limits, and only then is it performed.
 *
 * Functions (reference 5.3; the Lua arguments in order, see skills/channel.c):
 *   llm_complete(prompt, {tier, provider, system})  llm: the router (skills/llm.h); answers the text (cut at 900 KiB)
 *   send_message|send_telegram(text)         gateway_send, or telegram_send: plain text to the owner's chat
 *   send_html|send_telegram_html(text)       the same, as Telegram HTML (plain text if Telegram refuses the markup)
 *   memory_search(query, {kind, limit})      memory_read     memory_recent({kind, limit})   memory_exists(source)
 *   memory_store(kind, content, {source, metadata, ttl_seconds})                            memory_write
 *   knowledge_search / knowledge_exists / knowledge_store: the same on the knowledge store   knowledge_*
 *   http_get(url, {headers, timeout_ms, max_bytes}) / http_post(url, body, {...}) /
 *   http_request(method, url, {headers, body, ...})   web_read: never to loopback, private or link-local addresses
 *                                            unless listed in skills.web_read.allow; connects to the address it checked
 *   config_get(key, default)                 config_read: never a secret (the key is refused)
 *   list_resources({type}) / get_resource(id)                                               resources_read
 *   run_skill(name, {input, config})         skill_invoke: dynamic skills only (a core skill runs with the node's
 *                                            trust), chain depth + 1, the callee's token attenuated from ours
 *   write_skill(filename, source) / read_skill(filename)   skill_write: <name>.lua directly in SKILLS_DIR, never
 *                                            another loaded skill's file, at most AC_NODE_SKILLAPI_FILES_MAX files
 *   load_skill(filename) / unload_skill(name) / reload_skill(name)   skill_manage: a 2FA challenge to the owner's
 *                                            chat when 2FA is on (the code carries it out), refused when it is off
 *   create_workflow / add_workflow_step / run_workflow / get_workflow_result   workflow_manage: created disabled,
 *                                            steps only into a disabled workflow the skill created, results of those
 *                                            workflows only; a run it starts is one level deeper in the chain
 * A denial answers "permission_denied: <reason>"; bad arguments "invalid_argument: <what>". */
#ifndef AC_NODE_SKILLAPI_H
#define AC_NODE_SKILLAPI_H

#include "node/authorize.h"
#include "node/dynskills.h"
#include "node/tg_client.h"
#include "node/wf_pool.h"
#include "skills/channel.h"
#include "skills/skill.h"

#define AC_NODE_SKILLAPI_DENIALS_MAX 20  /* denied calls after which a run's sandbox is stopped */
#define AC_NODE_SKILLAPI_FILES_MAX   200 /* skill files in SKILLS_DIR that write_skill lets exist */

typedef struct ac_node_skillapi ac_node_skillapi_t;

typedef struct ac_node_skillapi_cfg {
    ac_node_authorizer_t authz;     /* copied; the pointers in it outlive the server */
    ac_node_tg_client_t *tg;        /* NULL: sends fail */
    ac_skills_registry_t *registry; /* run_skill */
    ac_node_dynskills_t *dyn;       /* write/read/load/unload/reload */
    ac_node_wf_pool_t *pool;        /* run_workflow; NULL: refused */
    ac_node_settings_t *settings;
} ac_node_skillapi_cfg_t;

ac_node_skillapi_t *ac_node_skillapi_new(const ac_node_skillapi_cfg_t *cfg);
void ac_node_skillapi_free(ac_node_skillapi_t *api);
void ac_node_skillapi_set_pool(ac_node_skillapi_t *api, ac_node_wf_pool_t *pool);

/* Who is calling: one sandboxed run of one dynamic skill. */
typedef struct ac_node_skillapi_caller {
    ac_node_skillapi_t *api;
    const char *skill;                 /* its name */
    ac_policy_perms_t declared;        /* its declared permissions */
    const ac_policy_captoken_t *token; /* minted (or attenuated) for this run */
    const ac_skill_ctx_t *ctx;         /* settings, run id, deadline, cancel, chain depth */
    PGconn *db;                        /* the connection the calls use */
    int64_t deadline_ms;               /* the sandbox's own limit (CLOCK_MONOTONIC ms): no call outlives it */
    unsigned denials;                  /* denied calls so far in this run */
    bool asked;                        /* this run asked the owner (load/unload/reload) already */
} ac_node_skillapi_caller_t;

/* The token key (32 bytes), for minting a run's token (node/dynskills.c). */
void ac_node_skillapi_token_key(const ac_node_skillapi_t *api, uint8_t key[AC_POLICY_CAPTOKEN_KEY_LEN]);
/* Records a denial the policy engine did not make in the audit log: a sandbox that was killed or broke the channel
 * (permission "sandbox"), a chain whose token could not be attenuated ("skill_invoke"). */
void ac_node_skillapi_audit_deny(ac_node_skillapi_t *api, PGconn *db, const char *skill, const char *permission,
                                 int64_t run_id, int depth, const char *reason);
/* One web_read exchange for w (http_get/http_post/http_request): the allow-list from skills.web_read.allow, options
 * {headers, timeout_ms (<= 30 s), max_bytes (<= 256 KiB, longer bodies are cut)}. A refused destination is a
 * denial and is audited. OUT: *result {status, content_type, body, truncated, url}. */
int ac_node_skillapi_http(ac_node_skillapi_caller_t *w, const char *method, const char *url, const char *body,
                          size_t body_len, const json_t *options, json_t **result, char *err, size_t errcap);

/* An ac_skills_sandbox_serve_fn: ud is an ac_node_skillapi_caller_t. Returns -2 (stop the sandbox) at the
 * AC_NODE_SKILLAPI_DENIALS_MAX-th denied call of a run. */
int ac_node_skillapi_serve(void *ud, const ac_skills_channel_msg_t *call, json_t **result, char *err, size_t errcap);

#endif
