/* node/wf_pool.h - the executor pool: worker threads that run workflow runs from a bounded queue, each with its
 * own database connection, plus one thread that LISTENs for cancellations ("alexclaw_runs") and stops the run it
 * names at its next step (a shell command in flight is killed through the skill's cancel flag).
 *
 * Triggers decide what may run: a machine (cron, remote trigger, webhook) never runs a workflow that requires 2FA;
 * a disabled or missing workflow is refused. Refusals create no run row. */
#ifndef AC_NODE_WF_POOL_H
#define AC_NODE_WF_POOL_H

#include "node/wf_exec.h"

#define AC_NODE_WF_POOL_QUEUE 256

typedef enum {
    AC_WF_TRIGGER_PERSON = 0, /* CLI, admin UI, Telegram: the caller handled 2FA */
    AC_WF_TRIGGER_CRON,
    AC_WF_TRIGGER_REMOTE,
    AC_WF_TRIGGER_WEBHOOK,
} ac_node_wf_trigger_t;

typedef struct ac_node_wf_job {
    int64_t workflow_id;       /* or 0, and then: */
    const char *workflow_name; /* copied */
    json_t *input;             /* borrowed at submit, referenced by the pool */
    json_t *extra_config;      /* same */
    ac_node_wf_trigger_t trigger;
    bool refuse_2fa; /* a person whose second factor was not checked: a requires_2fa workflow is refused */
    int chain_depth; /* > 0: started by a skill (SkillAPI run_workflow); its steps run at this chain depth */
    /* Exactly one of these is called, on a worker thread: */
    void (*on_started)(void *arg, int64_t run_id);               /* the run row is committed */
    void (*on_refused)(void *arg, int code, const char *reason); /* not run: -AC_ENOENT, -AC_EPERM, ... */
    void *arg;
    /* Or a run the trigger intake recorded up to its gate (then the fields above except input/extra_config are
     * unused, and so are on_started/on_refused): */
    int64_t run_id;
    ac_node_wf_t *wf;        /* a reference, handed over */
    ac_node_wf_gate_t *gate; /* heap, handed over */
    /* the worker holds the run (held) or could not (its connection failed): the intake may let go */
    void (*on_held)(void *arg, int64_t run_id, bool held);
    void *held_arg;
} ac_node_wf_job_t;

typedef struct ac_node_wf_pool_cfg {
    const char *conninfo;
    int workers;
    ac_skills_registry_t *registry;
    ac_skills_breakers_t *breakers;
    ac_skill_ctx_t base; /* settings, dirs, node name; strings must outlive the pool */
} ac_node_wf_pool_cfg_t;

typedef struct ac_node_wf_pool ac_node_wf_pool_t;

int ac_node_wf_pool_start(const ac_node_wf_pool_cfg_t *cfg, ac_node_wf_pool_t **out, ac_errmsg_t *err);
/* Stops taking jobs, cancels the runs in flight (they end as cancelled), drops queued jobs (their on_refused is
 * called with -AC_ESTOPPED), joins every thread. NULL is fine. */
void ac_node_wf_pool_stop(ac_node_wf_pool_t *p);
/* Queues a job (copied). Returns 0, or -AC_EAGAIN when the queue is full (the callbacks are not called). */
int ac_node_wf_pool_submit(ac_node_wf_pool_t *p, const ac_node_wf_job_t *job);
/* Why a remote trigger of wf is refused before anything is recorded ("no_receive_gate", "requires_2fa",
 * "unauthorized_node" for the authenticated "_source_node" of extra_config), or NULL when the gate admits it. */
const char *ac_node_wf_remote_refusal(const ac_node_wf_t *wf, json_t *extra_config);
/* Reserves up to n queue places for ac_node_wf_pool_submit_reserved; returns how many it reserved. */
int ac_node_wf_pool_reserve(ac_node_wf_pool_t *p, int n);
void ac_node_wf_pool_unreserve(ac_node_wf_pool_t *p, int n);
/* Queues a job in a reserved place. Fails (-AC_ESTOPPED) only when the pool is stopping. */
int ac_node_wf_pool_submit_reserved(ac_node_wf_pool_t *p, const ac_node_wf_job_t *job);
/* Runs in flight and jobs waiting (for /metrics and tests). */
void ac_node_wf_pool_stats(ac_node_wf_pool_t *p, int *running, int *queued);

#endif
