/* node/scheduler.c - the cron scheduler of scheduler.h. */
#include "node/scheduler.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"
#include "policy/cron.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct release {
    int64_t wid, due;
    struct release *next;
} release_t;

struct ac_node_scheduler {
    pthread_mutex_t lock;
    release_t *releases;
    int64_t last_recover;
    char *conninfo;
    char *node;
    ac_node_scheduler_submit_fn submit;
    void *arg;
    int64_t last_minute; /* the last minute handled (unix seconds, a multiple of 60); 0 before the first tick */
    int64_t last_prune;
    ac_node_scheduler_chore_fn chore;
    void *chore_arg;
    pthread_t thread;
    bool started;
    int wake[2];
};

ac_node_scheduler_t *ac_node_scheduler_new(const char *conninfo, const char *node_name,
                                           ac_node_scheduler_submit_fn submit, void *arg)
{
    ac_node_scheduler_t *s = ac_calloc(1, sizeof(*s));
    s->conninfo = ac_strdup(conninfo);
    s->node = ac_strdup(node_name);
    s->submit = submit;
    s->arg = arg;
    s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void ac_node_scheduler_free(ac_node_scheduler_t *s)
{
    if (s == NULL)
        return;
    ac_free_secret_str(s->conninfo);
    free(s->node);
    while (s->releases != NULL) {
        release_t *r = s->releases;
        s->releases = r->next;
        free(r);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Inserts the claim; returns 1 when this node won it, 0 when another did, or a negative error. */
static int claim(ac_node_scheduler_t *s, PGconn *c, const char *wf_id, int64_t minute, ac_errmsg_t *err)
{
    char due[32];
    snprintf(due, sizeof(due), "%lld", (long long)minute);
    const char *p[] = {wf_id, due, s->node};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO workflow_schedule_claims (workflow_id, due_at, node) "
                               "VALUES ($1::bigint, to_timestamp($2::bigint) AT TIME ZONE 'utc', $3) "
                               "ON CONFLICT DO NOTHING RETURNING 1",
                               3, NULL, p, NULL, NULL, 0);
    int rc;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = ac_errmsg_set(err, -AC_EDB, "claiming a scheduled run: %s", PQerrorMessage(c));
    else
        rc = PQntuples(r) == 1;
    PQclear(r);
    return rc;
}

void ac_node_scheduler_release(ac_node_scheduler_t *s, int64_t workflow_id, int64_t due)
{
    release_t *r = ac_calloc(1, sizeof(*r));
    r->wid = workflow_id;
    r->due = due;
    pthread_mutex_lock(&s->lock);
    r->next = s->releases;
    s->releases = r;
    pthread_mutex_unlock(&s->lock);
}

static void unclaim(PGconn *c, const char *wf_id, int64_t minute)
{
    char due[32];
    snprintf(due, sizeof(due), "%lld", (long long)minute);
    const char *p[] = {wf_id, due};
    PQclear(PQexecParams(c,
                         "DELETE FROM workflow_schedule_claims WHERE workflow_id = $1::bigint "
                         "AND due_at = to_timestamp($2::bigint) AT TIME ZONE 'utc'",
                         2, NULL, p, NULL, NULL, 0));
}

static void prune(ac_node_scheduler_t *s, PGconn *c, int64_t now)
{
    if (now - s->last_prune < 3600)
        return;
    s->last_prune = now;
    char sql[256];
    snprintf(sql, sizeof(sql),
             "DELETE FROM workflow_schedule_claims WHERE pg_try_advisory_xact_lock(%lld) "
             "AND claimed_at < (now() AT TIME ZONE 'utc') - interval '7 days'",
             AC_NODE_DB_LOCK_CLAIMS_PRUNE);
    PQclear(PQexec(c, sql));
    if (s->chore != NULL)
        s->chore(s->chore_arg, c, now);
}

void ac_node_scheduler_set_chore(ac_node_scheduler_t *s, ac_node_scheduler_chore_fn fn, void *arg)
{
    s->chore = fn;
    s->chore_arg = arg;
}

int ac_node_scheduler_tick(ac_node_scheduler_t *s, PGconn *c, int64_t now, ac_errmsg_t *err)
{
    pthread_mutex_lock(&s->lock);
    release_t *rel = s->releases;
    s->releases = NULL;
    pthread_mutex_unlock(&s->lock);
    while (rel != NULL) {
        release_t *next = rel->next;
        char id[32];
        snprintf(id, sizeof(id), "%lld", (long long)rel->wid);
        unclaim(c, id, rel->due);
        ac_log_warn("scheduler", "claim_released", "workflow_id=%lld due=%lld", (long long)rel->wid,
                    (long long)rel->due);
        free(rel);
        rel = next;
    }
    if (now - s->last_recover >= 300) {
        s->last_recover = now;
        int n = 0;
        ac_errmsg_t e = {{0}};
        if (ac_node_wf_recover(c, s->node, &n, &e) == 0 && n > 0)
            ac_log_warn("scheduler", "recovered", "runs=%d", n);
    }
    int64_t minute = now - (now % 60);
    int64_t from = s->last_minute == 0 ? minute : s->last_minute + 60;
    if (minute - from >= AC_NODE_SCHEDULER_CATCHUP * 60)
        from = minute - (AC_NODE_SCHEDULER_CATCHUP - 1) * 60;
    if (from > minute)
        return 0;
    const char *p[] = {s->node};
    PGresult *r = PQexecParams(c,
                               "SELECT id, name, schedule FROM workflows WHERE enabled AND schedule IS NOT NULL "
                               "AND schedule <> '' AND (node IS NULL OR node = '' OR node = $1) ORDER BY id",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = ac_errmsg_set(err, PQstatus(c) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN,
                               "reading scheduled workflows: %s", PQerrorMessage(c));
        PQclear(r);
        return rc;
    }
    int submitted = 0, rc = 0;
    for (int i = 0; rc >= 0 && i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0), *name = PQgetvalue(r, i, 1), *sched = PQgetvalue(r, i, 2);
        ac_policy_cron_t cron;
        ac_errmsg_t why = {{0}};
        if (ac_policy_cron_parse(sched, strlen(sched), &cron, &why) != 0) {
            if (s->last_minute == 0 || minute % 3600 == 0) /* once at start, then hourly: not every minute */
                ac_log_warn("scheduler", "invalid_schedule", "workflow=%s error=%s", name, why.msg);
            continue;
        }
        for (int64_t m = from; m <= minute; m += 60) {
            if (!ac_policy_cron_matches(&cron, m))
                continue;
            int won = claim(s, c, id, m, err);
            if (won < 0) {
                rc = won;
                break;
            }
            if (won == 0)
                continue;
            int64_t wid = strtoll(id, NULL, 10);
            if (s->submit(s->arg, wid, name, m) != 0) {
                ac_log_error("scheduler", "submit_failed", "workflow=%s due=%lld reason=%s", name, (long long)m,
                             "executor queue full");
                unclaim(c, id, m); /* another node may take it */
                continue;
            }
            ac_log_info("scheduler", "due", "workflow=%s due=%lld", name, (long long)m);
            submitted++;
        }
    }
    PQclear(r);
    if (rc < 0)
        return rc;
    s->last_minute = minute;
    prune(s, c, now);
    return submitted;
}

static void *thread_main(void *arg)
{
    ac_node_scheduler_t *s = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    PGconn *c = NULL;
    for (;;) {
        if (c == NULL || PQstatus(c) != CONNECTION_OK) {
            ac_errmsg_t err = {{0}};
            if (c != NULL)
                PQfinish(c);
            c = NULL;
            if (ac_node_db_connect(s->conninfo, &c, &err) != 0) {
                ac_log_warn("scheduler", "db_unreachable", "error=%s", err.msg);
                c = NULL;
            }
        }
        if (c != NULL) {
            ac_errmsg_t err = {{0}};
            if (ac_node_scheduler_tick(s, c, (int64_t)time(NULL), &err) < 0)
                ac_log_warn("scheduler", "tick_failed", "error=%s", err.msg);
        }
        /* sleep to one second past the next minute boundary, or until stopped */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int ms = (int)((60 - now.tv_sec % 60) * 1000 - now.tv_nsec / 1000000) + 1000;
        struct pollfd w = {s->wake[0], POLLIN, 0};
        if (poll(&w, 1, ms) > 0)
            break;
    }
    if (c != NULL)
        PQfinish(c);
    return NULL;
}

int ac_node_scheduler_start(ac_node_scheduler_t *s, ac_errmsg_t *err)
{
    if (pipe2(s->wake, O_CLOEXEC) != 0)
        return ac_errmsg_set(err, -AC_ESYS, "pipe: %s", strerror(errno));
    int e = pthread_create(&s->thread, NULL, thread_main, s);
    if (e != 0) {
        close(s->wake[0]);
        close(s->wake[1]);
        return ac_errmsg_set(err, -AC_ESYS, "pthread_create: %s", strerror(e));
    }
    s->started = true;
    return 0;
}

void ac_node_scheduler_stop(ac_node_scheduler_t *s)
{
    if (s == NULL || !s->started)
        return;
    char b = 1;
    ssize_t w = write(s->wake[1], &b, 1);
    (void)w;
    pthread_join(s->thread, NULL);
    close(s->wake[0]);
    close(s->wake[1]);
    s->started = false;
}
