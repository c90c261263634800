/* node/scheduler.h - the cron scheduler: once a minute (UTC) it runs every enabled workflow whose schedule matches
 * that minute and whose `node` is empty or this node's name.
 *
 * Several nodes may share one database: for each workflow and due minute, the node that inserts the row in
 * `workflow_schedule_claims` runs it, the others see the conflict, so a workflow with an empty `node` runs once per
 * due time across the cluster. A tick that comes late (the node was busy or paused) catches up on the minutes it
 * missed: it handles at most AC_NODE_SCHEDULER_CATCHUP minutes in all (the current one and the ones just before);
 * minutes missed while the node was down are not run later.
 * Every few minutes the thread also fails this node's runs whose process died (ac_node_wf_recover), so a run
 * orphaned by a killed `alexclaw workflow run` does not wait for the node's next restart. */
#ifndef AC_NODE_SCHEDULER_H
#define AC_NODE_SCHEDULER_H

#include "node/wf_pool.h"

#define AC_NODE_SCHEDULER_CATCHUP 5

typedef struct ac_node_scheduler ac_node_scheduler_t;

/* submit: where due runs go (the pool); node_name: this node. due: the minute (unix seconds) being run. */
typedef int (*ac_node_scheduler_submit_fn)(void *arg, int64_t workflow_id, const char *name, int64_t due);

ac_node_scheduler_t *ac_node_scheduler_new(const char *conninfo, const char *node_name,
                                           ac_node_scheduler_submit_fn submit, void *arg);
void ac_node_scheduler_free(ac_node_scheduler_t *s);

/* One tick at unix time `now` (seconds, UTC), on connection c: claims and submits the due runs of every minute
 * after the previous tick up to now's minute. Returns how many runs it submitted, or a negative error. The thread
 * calls it; tests call it directly with their own clock. */
int ac_node_scheduler_tick(ac_node_scheduler_t *s, PGconn *c, int64_t now, ac_errmsg_t *err);

/* Gives a claimed due time back (the run was refused before it was recorded: database down, node stopping), so
 * that another node still catching up on that minute can run it. Any thread; applied at the next tick. */
void ac_node_scheduler_release(ac_node_scheduler_t *s, int64_t workflow_id, int64_t due);

/* Housekeeping the scheduler thread runs once an hour with its connection (the app prunes the audit log there). Set
 * before start. */
typedef void (*ac_node_scheduler_chore_fn)(void *arg, PGconn *c, int64_t now);
void ac_node_scheduler_set_chore(ac_node_scheduler_t *s, ac_node_scheduler_chore_fn fn, void *arg);

/* Starts / stops the thread that ticks at the start of every minute. */
int ac_node_scheduler_start(ac_node_scheduler_t *s, ac_errmsg_t *err);
void ac_node_scheduler_stop(ac_node_scheduler_t *s);

#endif
