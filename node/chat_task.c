/* node/chat_task.c - threads for long chat work (chat_task.h).
 *
 * Every task has a slot; a finished task marks its slot done and the next start (or the final free) joins it, so no
 * thread is ever detached and stopping knows exactly what still runs. */
#include "node/chat_task.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS_MAX 8

typedef struct slot {
    bool used; /* a thread exists (running or done, not joined) */
    bool done;
    pthread_t th;
    struct ac_node_chat_tasks *owner;
    char what[32];
    int64_t timeout_ms;
    ac_node_chat_task_fn fn;
    void (*free_arg)(void *);
    void *arg;
} slot_t;

struct ac_node_chat_tasks {
    char *conninfo;
    ac_skill_ctx_t base;
    int max;
    pthread_mutex_t mu;
    bool stopping;
    volatile sig_atomic_t cancel;
    slot_t slots[SLOTS_MAX];
};

ac_node_chat_tasks_t *ac_node_chat_tasks_new(const char *conninfo, const ac_skill_ctx_t *base, int max)
{
    ac_node_chat_tasks_t *t = ac_calloc(1, sizeof(*t));
    t->conninfo = ac_strdup(conninfo);
    t->base = *base;
    t->max = max < 1 ? 1 : max > SLOTS_MAX ? SLOTS_MAX : max;
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

static void *task_main(void *p)
{
    slot_t *sl = p;
    ac_node_chat_tasks_t *t = sl->owner;
    ac_skill_ctx_t ctx = t->base;
    ctx.cancel = &t->cancel;
    ctx.run_id = 0;
    ctx.deadline_ms = ac_skill_now_ms() + sl->timeout_ms;
    PGconn *c = NULL;
    ac_errmsg_t err = {{0}};
    if (ac_node_db_connect(t->conninfo, &c, &err) != 0) {
        ac_log_warn("chat", "no_database", "task=%s error=%s", sl->what, err.msg);
        c = NULL;
    }
    ctx.db = c;
    int64_t t0 = ac_skill_now_ms();
    sl->fn(sl->arg, &ctx);
    ac_log_info("chat", "task_done", "task=%s ms=%lld", sl->what, (long long)(ac_skill_now_ms() - t0));
    if (c != NULL)
        PQfinish(c);
    if (sl->free_arg != NULL)
        sl->free_arg(sl->arg);
    pthread_mutex_lock(&t->mu);
    sl->arg = NULL;
    sl->done = true;
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* Joins the slots whose thread has finished. Called with the lock held; the threads are done, so joining is quick. */
static void reap(ac_node_chat_tasks_t *t)
{
    for (int i = 0; i < SLOTS_MAX; i++)
        if (t->slots[i].used && t->slots[i].done) {
            pthread_join(t->slots[i].th, NULL);
            memset(&t->slots[i], 0, sizeof(t->slots[i]));
        }
}

int ac_node_chat_tasks_run(ac_node_chat_tasks_t *t, const char *what, int64_t timeout_ms, ac_node_chat_task_fn fn,
                           void (*free_arg)(void *), void *arg, ac_errmsg_t *err)
{
    int rc = 0;
    pthread_mutex_lock(&t->mu);
    reap(t);
    int running = 0, free_i = -1;
    for (int i = 0; i < SLOTS_MAX; i++) {
        if (t->slots[i].used)
            running++;
        else if (free_i < 0)
            free_i = i;
    }
    if (t->stopping) {
        rc = ac_errmsg_set(err, -AC_ESTATE, "the node is stopping");
    } else if (running >= t->max || free_i < 0) {
        rc = ac_errmsg_set(err, -AC_EAGAIN, "busy: %d long tasks are running already; try again when one is done",
                           running);
    } else {
        slot_t *sl = &t->slots[free_i];
        *sl = (slot_t){.used = true, .owner = t, .timeout_ms = timeout_ms, .fn = fn, .free_arg = free_arg, .arg = arg};
        snprintf(sl->what, sizeof(sl->what), "%s", what);
        int e = pthread_create(&sl->th, NULL, task_main, sl);
        if (e != 0) {
            memset(sl, 0, sizeof(*sl));
            rc = ac_errmsg_set(err, -AC_ESYS, "cannot start a thread: %s", strerror(e));
        }
    }
    pthread_mutex_unlock(&t->mu);
    if (rc != 0 && free_arg != NULL)
        free_arg(arg);
    return rc;
}

void ac_node_chat_tasks_free(ac_node_chat_tasks_t *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    t->cancel = 1;
    pthread_mutex_unlock(&t->mu);
    /* the threads take the lock only to mark themselves done, so joining without it cannot deadlock */
    for (int i = 0; i < SLOTS_MAX; i++)
        if (t->slots[i].used)
            pthread_join(t->slots[i].th, NULL);
    pthread_mutex_destroy(&t->mu);
    free(t->conninfo);
    free(t);
}
