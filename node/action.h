/* node/action.h - the actions a person's second factor guards, as JSON objects a 2FA challenge stores
 * (node/challenge.h), and their execution once a code approved them. The same execution serves every person path
 * (Telegram, admin UI, HTTP API), so what was approved is exactly what runs.
 *
 * Actions ({"type": ..., fields}):
 *   run_workflow   {"workflow_id": N, "name": S}   a person's run of a workflow that requires 2FA
 *   shell_command  {"command": S}                  the chat's /shell
 *   twofa_setup    {}                              re-keying while 2FA is on
 *   twofa_disable  {}                              turning 2FA off
 *   setting_set    {"key": S, "value": S | "value_sealed": S, "value_type": S}  a change of telegram.chat_id,
 *                  auth.*, shell.* (a sensitive value is sealed like a stored secret; no value_type: the key's own)
 *   workflow_replace {"name": S, "doc": {export format}}  a change of a workflow that requires 2FA
 *   workflow_enable  {"name": S, "enabled": B}            its flag
 *   api_token      {}                                     executed by the admin UI itself (web/twofa.c)
 *   skill_load     {"file": "<name>.lua", "expect": B}    load a dynamic skill file (node/dynskills.h) exactly as
 *   skill_reload   {"name": S, "expect": B}               it was inspected when the challenge was made: B binds the
 *                                                         checksum and the declaration (ac_node_dynskills_inspect)
 *   skill_unload   {"name": S}                            unload a dynamic skill
 * Each is validated again when it runs (sizes, types, names); an unknown type is refused. */
#ifndef AC_NODE_ACTION_H
#define AC_NODE_ACTION_H

#include "node/wf_pool.h"
#include "skills/registry.h"

#include <jansson.h>
#include <libpq-fe.h>

#define AC_NODE_ACTION_COMMAND_MAX 1000 /* a /shell command; shown whole in its 2FA prompt */
#define AC_NODE_ACTION_RUN_WAIT_MS 5000 /* how long a run waits for a free executor before "queued" */

typedef struct ac_node_action_env {
    PGconn *conn;
    ac_node_settings_t *settings;
    ac_node_wf_pool_t *pool;             /* NULL: runs are refused (-AC_ESTATE) */
    const ac_skill_ctx_t *base;          /* NULL: shell commands are refused (the admin UI never asks for one) */
    const char *account;                 /* the TOTP account label for twofa_setup ("admin") */
    volatile sig_atomic_t *cancel;       /* stops a shell command in flight; may be NULL */
    struct ac_node_dynskills *dynskills; /* NULL: skill_* actions are refused (-AC_ESTATE) */
} ac_node_action_env_t;

json_t *ac_node_action_run_workflow(int64_t workflow_id, const char *name);
json_t *ac_node_action_shell(const char *command);
json_t *ac_node_action_twofa(const char *type); /* "twofa_setup" or "twofa_disable" */
/* A setting change; the value of a sensitive key is sealed with the settings key (never stored in clear). */
json_t *ac_node_action_setting(ac_node_settings_t *s, const char *key, const char *value, const char *type);

json_t *ac_node_action_workflow_replace(const char *name, const json_t *doc);
json_t *ac_node_action_workflow_enable(const char *name, bool enabled);
/* type "skill_load" with a file "<name>.lua", or "skill_unload"/"skill_reload" with a skill name. A load or reload
 * reads and declares the file now (in the sandbox) and binds what it found, so the approval covers exactly that code
 * and declaration, which the description shows. Returns 0 with *action, or the loader's error (err says why: a core
 * skill, a bad file, ...). */
int ac_node_action_skill(struct ac_node_dynskills *d, PGconn *c, const char *type, const char *arg, json_t **action,
                         ac_errmsg_t *err);

/* A short description for the person who must approve it ("Run workflow `x`", "Execute: `df -h`"), from ac_malloc. */
char *ac_node_action_describe(const json_t *action);

/* Runs an approved action. OUT *result, a new JSON object:
 *   run_workflow   {"run_id": N} or {"queued": true}
 *   shell_command  {"output": S, "branch": S} (a failed command is a result too: {"error": S})
 *   twofa_setup    {"secret": S, "uri": S}   (secret material: only for the person who asked)
 *   twofa_disable  {}
 *   setting_set    {"key": S}
 *   workflow_replace {"id": N, "name": S}; workflow_enable {"name": S, "enabled": B}
 *   skill_load / skill_reload {name, version, permissions, ...}; skill_unload {"name": S}
 * Returns 0, or an error code with a sentence in err: -AC_EINVAL (malformed action), -AC_ENOENT (the workflow is
 * gone), -AC_EPERM (refused: disabled workflow, ...), -AC_ESTATE, or a database error. */
int ac_node_action_exec(const ac_node_action_env_t *env, const json_t *action, json_t **result, ac_errmsg_t *err);

/* Queues a person's run of a workflow (by id) on the pool and waits up to wait_ms for its row: OUT *run_id (0 when
 * it is still queued). refuse_2fa: refuse a workflow that requires 2FA (the person's code was not checked). */
int ac_node_action_run_and_wait(ac_node_wf_pool_t *pool, int64_t workflow_id, bool refuse_2fa, int wait_ms,
                                int64_t *run_id, ac_errmsg_t *err);
/* The same for a run a skill starts (SkillAPI run_workflow): its steps run at chain_depth, so skills that start
 * workflows that start skills stop at the maximum depth. */
int ac_node_action_run_at_depth(ac_node_wf_pool_t *pool, int64_t workflow_id, bool refuse_2fa, int chain_depth,
                                int wait_ms, int64_t *run_id, ac_errmsg_t *err);

#endif
