/* node/wf_intake.h - the trigger intake: remote triggers admitted and recorded in groups, one commit per group.
 *
 * One thread with its own connection takes every trigger waiting (up to AC_NODE_WF_INTAKE_GROUP), checks each
 * against its workflow (workflow_not_found, no_receive_gate, requires_2fa, the gate's allowed_nodes against the
 * authenticated peer), runs the admitted gates (pure, no I/O), and records the whole group in one statement: the
 * run rows, each gate's step record and skill_outcomes row, the outcome of every run its gate ends, and a shared
 * liveness lock on each run that goes on. Every caller is answered after that commit; a refused trigger leaves no
 * row. Runs that go on are handed to the executor pool; the worker takes its own hold of the run before the intake
 * lets go of its own, so a running run is never without a holder (wf_record.h).
 *
 * Loaded workflows (and "no such workflow") are cached by name; the cache is dropped on every change to the
 * workflows or their steps from any node (NOTIFY alexclaw_workflows, migration 0004), when the connection is made
 * again, and every AC_NODE_WF_INTAKE_CACHE_MS. */
#ifndef AC_NODE_WF_INTAKE_H
#define AC_NODE_WF_INTAKE_H

#include "node/wf_pool.h"

#define AC_NODE_WF_INTAKE_QUEUE    1024
#define AC_NODE_WF_INTAKE_GROUP    128
#define AC_NODE_WF_INTAKE_CACHE_MS 10000

typedef struct ac_node_wf_intake_cfg {
    const char *conninfo;
    ac_node_wf_pool_t *pool; /* runs that go on after their gate */
    ac_skills_registry_t *registry;
    ac_skills_breakers_t *breakers;
    ac_skill_ctx_t base;
} ac_node_wf_intake_cfg_t;

typedef struct ac_node_wf_intake ac_node_wf_intake_t;

int ac_node_wf_intake_start(const ac_node_wf_intake_cfg_t *cfg, ac_node_wf_intake_t **out, ac_errmsg_t *err);
/* Queues a remote trigger: workflow_name, input, extra_config (with the authenticated _source_node), on_started,
 * on_refused and arg as for the pool (called on the intake thread). Returns 0, -AC_EAGAIN (queue full) or
 * -AC_ESTOPPED; then no callback is called. */
int ac_node_wf_intake_submit(ac_node_wf_intake_t *in, const ac_node_wf_job_t *job);
/* Counters since start (for /metrics and tests): statements that recorded a group, triggers recorded, refused. */
typedef struct ac_node_wf_intake_stats {
    uint64_t groups, recorded, refused;
} ac_node_wf_intake_stats_t;
void ac_node_wf_intake_stats(ac_node_wf_intake_t *in, ac_node_wf_intake_stats_t *out);
/* Refuses what still waits (-AC_ESTOPPED), joins the thread and closes its connection. The struct stays valid for
 * the pool's callbacks until ac_node_wf_intake_free (after the pool stopped). NULL is fine. */
void ac_node_wf_intake_stop(ac_node_wf_intake_t *in);
void ac_node_wf_intake_free(ac_node_wf_intake_t *in);

#endif
