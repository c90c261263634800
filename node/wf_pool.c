/* node/wf_pool.c - the executor pool of wf_pool.h. */
#include "node/wf_pool.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"
#include "skills/gate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    ac_node_wf_job_t job;
    char *name;
} item_t;

typedef struct {
    int64_t run_id; /* 0: free */
    volatile sig_atomic_t cancel;
} inflight_t;

struct ac_node_wf_pool {
    ac_node_wf_pool_cfg_t cfg;
    char *conninfo;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    item_t queue[AC_NODE_WF_POOL_QUEUE];
    size_t head, count;
    int reserved; /* places promised to the trigger intake */
    bool stopping;
    int running;
    pthread_t *threads;
    int nthreads;
    inflight_t *inflight; /* one per worker */
    pthread_t listener;
    bool listener_started;
    int wake[2];
};

typedef struct {
    ac_node_wf_pool_t *p;
    int index;
} worker_arg_t;

static void block_signals(void)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
}

static void refuse(item_t *it, int code, const char *reason)
{
    ac_log_warn("workflow", "refused", "workflow=%s trigger=%d reason=%s", it->name != NULL ? it->name : "(by id)",
                (int)it->job.trigger, reason);
    if (it->job.on_refused != NULL)
        it->job.on_refused(it->job.arg, code, reason);
}

static void item_free(item_t *it)
{
    if (it->job.gate != NULL)
        ac_node_wf_gate_clear(it->job.gate);
    free(it->job.gate);
    ac_node_wf_free(it->job.wf);
    json_decref(it->job.input);
    json_decref(it->job.extra_config);
    free(it->name);
    memset(it, 0, sizeof(*it));
}

typedef struct {
    item_t *it;
    ac_node_wf_pool_t *p;
    int index;
    int64_t run_id;
} started_t;

static void on_started(void *arg, int64_t run_id)
{
    started_t *s = arg;
    pthread_mutex_lock(&s->p->lock);
    s->p->inflight[s->index].run_id = run_id;
    pthread_mutex_unlock(&s->p->lock);
    if (s->it->job.on_started != NULL)
        s->it->job.on_started(s->it->job.arg, run_id);
}

const char *ac_node_wf_remote_refusal(const ac_node_wf_t *wf, json_t *extra_config)
{
    const char *source = json_string_value(json_object_get(extra_config, "_source_node"));
    if (wf->nsteps == 0 || strcmp(wf->steps[0].skill, "receive_from_workflow") != 0)
        return "no_receive_gate";
    if (ac_node_wf_requires_2fa(wf))
        return "requires_2fa";
    if (source == NULL || !ac_skills_gate_admits(json_object_get(wf->steps[0].config, "allowed_nodes"), source))
        return "unauthorized_node";
    return NULL;
}

static int ensure_db(ac_node_wf_pool_t *p, PGconn **db, ac_errmsg_t *err)
{
    if (*db != NULL && PQstatus(*db) == CONNECTION_OK)
        return 0;
    if (*db != NULL)
        PQfinish(*db);
    *db = NULL;
    int rc = ac_node_db_connect_retry(p->conninfo, 10, NULL, db, err);
    if (rc != 0)
        *db = NULL;
    return rc;
}

static void set_inflight(ac_node_wf_pool_t *p, int index, int64_t run_id)
{
    pthread_mutex_lock(&p->lock);
    p->inflight[index].run_id = run_id;
    p->inflight[index].cancel = 0;
    pthread_mutex_unlock(&p->lock);
}

/* Goes on with a run the intake recorded up to its gate: first this worker's own hold on it, then the intake may let
 * go of its own. A run that is no longer running (cancelled, or ended by recovery while it waited here) is left as it
 * is. A run this worker cannot hold (its connection failed) is marked failed by the intake. */
static void resume_item(ac_node_wf_pool_t *p, int index, PGconn **db, item_t *it)
{
    ac_errmsg_t err = {{0}};
    int64_t run_id = it->job.run_id;
    bool running = false;
    int rc = ensure_db(p, db, &err);
    if (rc == 0)
        rc = ac_node_wf_record_hold(*db, run_id, &running, &err);
    if (it->job.on_held != NULL)
        it->job.on_held(it->job.held_arg, run_id, rc == 0);
    if (rc != 0) {
        ac_log_error("workflow", "resume_failed", "run=%lld error=%s", (long long)run_id, err.msg);
        return;
    }
    if (!running) {
        ac_node_wf_record_unhold(*db, run_id);
        ac_log_info("workflow", "run_not_resumed", "run=%lld reason=%s", (long long)run_id, "no longer running");
        return;
    }
    set_inflight(p, index, run_id);
    ac_node_wf_env_t env = {*db, p->cfg.registry, p->cfg.breakers, p->cfg.base};
    ac_node_wf_run_opts_t opts = {it->job.input, it->job.extra_config, &p->inflight[index].cancel, NULL, NULL, 0};
    ac_node_wf_outcome_t out;
    if (ac_node_wf_continue(&env, it->job.wf, &opts, run_id, it->job.gate, &out, &err) != 0)
        ac_log_error("workflow", "resume_failed", "run=%lld error=%s", (long long)run_id, err.msg);
    ac_node_wf_outcome_clear(&out);
    set_inflight(p, index, 0);
}

static void run_item(ac_node_wf_pool_t *p, int index, PGconn **db, item_t *it)
{
    ac_errmsg_t err = {{0}};
    if (it->job.run_id != 0) {
        resume_item(p, index, db, it);
        return;
    }
    if (ensure_db(p, db, &err) != 0) {
        refuse(it, -AC_EDBDOWN, "database unreachable");
        return;
    }
    ac_node_wf_t *wf = NULL;
    int rc = ac_node_wf_load(*db, it->job.workflow_id, it->name, &wf, &err);
    if (rc == -AC_ENOENT || (rc == 0 && !wf->enabled)) {
        refuse(it, -AC_ENOENT, "workflow_not_found");
        ac_node_wf_free(wf);
        return;
    }
    if (rc != 0) {
        refuse(it, rc, err.msg);
        return;
    }
    if (it->job.trigger == AC_WF_TRIGGER_REMOTE) {
        /* what the original answers, checked before anything is recorded: a refused trigger leaves no run row */
        const char *reason = ac_node_wf_remote_refusal(wf, it->job.extra_config);
        if (reason != NULL) {
            refuse(it, -AC_EPERM, reason);
            ac_node_wf_free(wf);
            return;
        }
    }
    if ((it->job.trigger != AC_WF_TRIGGER_PERSON || it->job.refuse_2fa) && ac_node_wf_requires_2fa(wf)) {
        refuse(it, -AC_EPERM, "requires_2fa");
        ac_node_wf_free(wf);
        return;
    }
    ac_node_wf_env_t env = {*db, p->cfg.registry, p->cfg.breakers, p->cfg.base};
    started_t st = {it, p, index, 0};
    set_inflight(p, index, 0);
    ac_node_wf_run_opts_t opts = {.input = it->job.input,
                                  .extra_config = it->job.extra_config,
                                  .cancel = &p->inflight[index].cancel,
                                  .on_started = on_started,
                                  .arg = &st,
                                  .chain_depth = it->job.chain_depth};
    ac_node_wf_outcome_t out;
    rc = ac_node_wf_run(&env, wf, &opts, &out, &err);
    if (rc != 0) /* the run could not even be recorded */
        refuse(it, rc, err.msg);
    ac_node_wf_outcome_clear(&out);
    set_inflight(p, index, 0);
    ac_node_wf_free(wf);
}

static void *worker_main(void *arg)
{
    worker_arg_t *wa = arg;
    ac_node_wf_pool_t *p = wa->p;
    int index = wa->index;
    free(wa);
    block_signals();
    PGconn *db = NULL;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (p->count == 0 && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        item_t it = p->queue[p->head];
        p->head = (p->head + 1) % AC_NODE_WF_POOL_QUEUE;
        p->count--;
        p->running++;
        pthread_mutex_unlock(&p->lock);
        run_item(p, index, &db, &it);
        item_free(&it);
        pthread_mutex_lock(&p->lock);
        p->running--;
        pthread_mutex_unlock(&p->lock);
    }
    if (db != NULL)
        PQfinish(db);
    return NULL;
}

/* Sets the cancel flag of the run named in each notification. */
static void *listener_main(void *arg)
{
    ac_node_wf_pool_t *p = arg;
    block_signals();
    PGconn *c = NULL;
    int delay = 1;
    for (;;) {
        if (c == NULL) {
            ac_errmsg_t err = {{0}};
            if (ac_node_db_connect(p->conninfo, &c, &err) != 0 ||
                ac_node_db_exec(c, "LISTEN alexclaw_runs", "listen", &err) != 0) {
                if (c != NULL)
                    PQfinish(c);
                c = NULL;
                struct pollfd w = {p->wake[0], POLLIN, 0};
                if (poll(&w, 1, delay * 1000) > 0)
                    break;
                delay = delay * 2 > 30 ? 30 : delay * 2;
                continue;
            }
            delay = 1;
        }
        PGnotify *n;
        while ((n = PQnotifies(c)) != NULL) {
            int64_t id = strtoll(n->extra, NULL, 10);
            pthread_mutex_lock(&p->lock);
            for (int i = 0; i < p->nthreads; i++) {
                if (p->inflight[i].run_id == id && id != 0) {
                    p->inflight[i].cancel = 1;
                    ac_log_info("workflow", "cancel_requested", "run=%lld", (long long)id);
                }
            }
            pthread_mutex_unlock(&p->lock);
            PQfreemem(n);
        }
        struct pollfd f[2] = {{PQsocket(c), POLLIN, 0}, {p->wake[0], POLLIN, 0}};
        int r = poll(f, 2, 30000);
        if ((r < 0 && errno != EINTR) || f[1].revents != 0)
            break;
        if (PQconsumeInput(c) == 0 || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = NULL;
        }
    }
    if (c != NULL)
        PQfinish(c);
    return NULL;
}

int ac_node_wf_pool_start(const ac_node_wf_pool_cfg_t *cfg, ac_node_wf_pool_t **out, ac_errmsg_t *err)
{
    ac_node_wf_pool_t *p = ac_calloc(1, sizeof(*p));
    p->cfg = *cfg;
    p->conninfo = ac_strdup(cfg->conninfo);
    p->nthreads = cfg->workers > 0 ? cfg->workers : 4;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->threads = ac_calloc((size_t)p->nthreads, sizeof(pthread_t));
    p->inflight = ac_calloc((size_t)p->nthreads, sizeof(inflight_t));
    if (pipe2(p->wake, O_CLOEXEC) != 0) {
        int e = errno;
        free(p->threads);
        free(p->inflight);
        ac_free_secret_str(p->conninfo);
        free(p);
        return ac_errmsg_set(err, -AC_ESYS, "pipe: %s", strerror(e));
    }
    int started = 0;
    for (; started < p->nthreads; started++) {
        worker_arg_t *wa = ac_malloc(sizeof(*wa));
        *wa = (worker_arg_t){p, started};
        if (pthread_create(&p->threads[started], NULL, worker_main, wa) != 0) {
            free(wa);
            break;
        }
    }
    p->nthreads = started;
    p->listener_started = pthread_create(&p->listener, NULL, listener_main, p) == 0;
    if (started == 0) {
        ac_node_wf_pool_stop(p);
        return ac_errmsg_set(err, -AC_ESYS, "cannot start executor threads");
    }
    ac_log_info("workflow", "pool_started", "workers=%d", started);
    *out = p;
    return 0;
}

/* Queues a copy of job; the caller holds p->lock and has checked there is room. */
static void enqueue(ac_node_wf_pool_t *p, const ac_node_wf_job_t *job)
{
    item_t *it = &p->queue[(p->head + p->count) % AC_NODE_WF_POOL_QUEUE];
    it->job = *job;
    it->name = job->workflow_name != NULL ? ac_strdup(job->workflow_name) : NULL;
    it->job.workflow_name = NULL;
    if (it->job.input != NULL)
        json_incref(it->job.input);
    if (it->job.extra_config != NULL)
        json_incref(it->job.extra_config);
    p->count++;
    pthread_cond_signal(&p->cond);
}

int ac_node_wf_pool_submit(ac_node_wf_pool_t *p, const ac_node_wf_job_t *job)
{
    pthread_mutex_lock(&p->lock);
    if (p->stopping || p->count + (size_t)p->reserved >= AC_NODE_WF_POOL_QUEUE) {
        pthread_mutex_unlock(&p->lock);
        return p->stopping ? -AC_ESTOPPED : -AC_EAGAIN;
    }
    enqueue(p, job);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int ac_node_wf_pool_reserve(ac_node_wf_pool_t *p, int n)
{
    pthread_mutex_lock(&p->lock);
    int room = p->stopping ? 0 : AC_NODE_WF_POOL_QUEUE - (int)p->count - p->reserved;
    int got = n < room ? n : room;
    got = got > 0 ? got : 0;
    p->reserved += got;
    pthread_mutex_unlock(&p->lock);
    return got;
}

void ac_node_wf_pool_unreserve(ac_node_wf_pool_t *p, int n)
{
    pthread_mutex_lock(&p->lock);
    p->reserved -= n;
    pthread_mutex_unlock(&p->lock);
}

int ac_node_wf_pool_submit_reserved(ac_node_wf_pool_t *p, const ac_node_wf_job_t *job)
{
    pthread_mutex_lock(&p->lock);
    p->reserved--;
    if (p->stopping) {
        pthread_mutex_unlock(&p->lock);
        return -AC_ESTOPPED;
    }
    enqueue(p, job);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void ac_node_wf_pool_stats(ac_node_wf_pool_t *p, int *running, int *queued)
{
    pthread_mutex_lock(&p->lock);
    *running = p->running;
    *queued = (int)p->count;
    pthread_mutex_unlock(&p->lock);
}

void ac_node_wf_pool_stop(ac_node_wf_pool_t *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    for (int i = 0; i < p->nthreads; i++)
        if (p->inflight[i].run_id != 0)
            p->inflight[i].cancel = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    char b = 1;
    ssize_t w = write(p->wake[1], &b, 1);
    (void)w;
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    if (p->listener_started)
        pthread_join(p->listener, NULL);
    while (p->count > 0) {
        item_t *it = &p->queue[p->head];
        if (it->job.run_id != 0) /* recorded up to its gate: stays running; recovery at the next start ends it */
            ac_log_warn("workflow", "run_abandoned", "run=%lld reason=%s", (long long)it->job.run_id, "node stopping");
        else
            refuse(it, -AC_ESTOPPED, "node stopping");
        item_free(it);
        p->head = (p->head + 1) % AC_NODE_WF_POOL_QUEUE;
        p->count--;
    }
    close(p->wake[0]);
    close(p->wake[1]);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->threads);
    free(p->inflight);
    ac_free_secret_str(p->conninfo);
    free(p);
}
