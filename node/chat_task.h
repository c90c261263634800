/* node/chat_task.h - long work a person or GitHub asked for (a conversation with the LLM, a security review), run on
 * threads of its own so that the Telegram poller and the web loop stay free: the owner can still answer a 2FA
 * challenge or /cancel while a model thinks for a minute.
 *
 * At most `max` tasks run at once; one more is refused (-AC_EAGAIN) rather than queued, so nothing piles up behind a
 * slow model. Each task gets a skill context copied from the node's (settings, API URLs), its own database
 * connection, a deadline, and the cancel flag that stopping sets. Stopping waits for every task; a task must honour
 * ctx->cancel and ctx->deadline_ms like any skill (skills/skill.h). */
#ifndef AC_NODE_CHAT_TASK_H
#define AC_NODE_CHAT_TASK_H

#include "policy/error.h"
#include "skills/skill.h"

#include <stdint.h>

#define AC_NODE_CHAT_TASKS_MAX       2
#define AC_NODE_CHAT_TASK_TIMEOUT_MS (10 * 60 * 1000) /* a conversation or a review: a local model may take minutes */

typedef struct ac_node_chat_tasks ac_node_chat_tasks_t;

/* The task's body: runs on the task's thread; ctx->db is its connection (NULL when the database is unreachable:
 * the task says so to whoever waits). */
typedef void (*ac_node_chat_task_fn)(void *arg, const ac_skill_ctx_t *ctx);

/* base: copied (its strings must outlive the runner). max: 1..8. */
ac_node_chat_tasks_t *ac_node_chat_tasks_new(const char *conninfo, const ac_skill_ctx_t *base, int max);
/* Starts fn(arg) on a new thread with a deadline of timeout_ms. what: a short name for logs. free_arg (may be NULL)
 * releases arg after fn returned, or at once when the task is refused. Returns 0, -AC_EAGAIN (as many tasks run as
 * allowed), -AC_ESTATE (stopping), -AC_ESYS. */
int ac_node_chat_tasks_run(ac_node_chat_tasks_t *t, const char *what, int64_t timeout_ms, ac_node_chat_task_fn fn,
                           void (*free_arg)(void *), void *arg, ac_errmsg_t *err);
/* Sets the cancel flag, waits for every task and frees the runner. NULL is fine. */
void ac_node_chat_tasks_free(ac_node_chat_tasks_t *t);

#endif
