/* node/app.h - the node's workflow machinery on top of the runtime: the skill registry, the circuit breakers, the
 * executor pool, the scheduler, and crash recovery at start. `serve` starts all of it; `workflow run` uses the
 * registry, the breakers and the skill context to run one workflow in the calling process. */
#ifndef AC_NODE_APP_H
#define AC_NODE_APP_H

#include "node/chat_task.h"
#include "node/dynskills.h"
#include "node/policies.h"
#include "node/runtime.h"
#include "node/scheduler.h"
#include "node/skillapi.h"
#include "node/telegram.h"
#include "node/tg_client.h"
#include "node/wf_intake.h"
#include "node/wf_pool.h"

typedef struct ac_node_app {
    ac_node_runtime_t *rt;
    char *backup_dir;
    ac_skills_registry_t *registry;
    ac_skills_breakers_t *breakers;
    ac_skill_ctx_t base;
    ac_node_wf_pool_t *pool;
    ac_node_wf_intake_t *intake; /* remote triggers */
    ac_node_scheduler_t *scheduler;
    struct ac_node_cluster *cluster; /* NULL unless NODE_NAME is set */
    ac_node_tg_client_t *tg_client;  /* sends: telegram_notify, breaker notices, replies */
    ac_node_telegram_t *telegram;    /* the poller (serve only) */
    int64_t started_at;
    uint8_t audit_key[32];          /* the audit chain's key (policy/audit.h) */
    uint8_t token_key[32];          /* capability tokens' key (policy/captoken.h) */
    ac_node_policies_t *policies;   /* the rule cache the SkillAPI's decisions use */
    ac_policy_skillrate_t *rate;    /* rate_limit rules' counters */
    ac_node_dynskills_t *dynskills; /* NULL when the sandbox helper is missing (dynamic skills off) */
    ac_node_skillapi_t *skillapi;
    ac_node_chat_tasks_t *tasks;   /* the chat's conversations and /github reviews (serve only) */
    ac_node_chat_tasks_t *reviews; /* the webhook's reviews: one at a time, apart, so they never crowd out the chat */
    struct ac_node_coder *coder;   /* the coder skill and /coder (NULL when dynamic skills are off) */
} ac_node_app_t;

/* Builds the registry, breakers, skill context and the Telegram client, and installs the telegram_notify sender and
 * the circuit breakers' notices (no threads); then the SkillAPI and the dynamic skills recorded in the database
 * (each one's declaration read again in its sandbox; a changed file is skipped and the owner told). */
int ac_node_app_init(ac_node_app_t *app, ac_node_runtime_t *rt, ac_errmsg_t *err);
/* Recovers interrupted runs of this node, then starts the pool, the trigger intake, the scheduler and (with
 * NODE_NAME) the cluster, and the Telegram poller. */
int ac_node_app_start(ac_node_app_t *app, ac_errmsg_t *err);
/* A GitHub security review the webhook asks for (pull request number or commit sha of repo), run on the chat task
 * runner; the result goes to the owner's chat. arg: the app. -AC_EAGAIN when as many tasks run as allowed. */
int ac_node_app_github_review(void *arg, const char *repo, bool pr, const char *ref, ac_errmsg_t *err);
/* Stops the scheduler, the intake (triggers waiting are refused), the pool (runs in flight end as cancelled) and
 * then the cluster, and frees everything. */
void ac_node_app_close(ac_node_app_t *app);

#endif
