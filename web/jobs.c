/* web/jobs.c - the database workers of jobs.h. */
#include "web/jobs.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"
#include "skills/skill.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOWN_BACKOFF_MS 2000

typedef struct job job_t; /* also ac_web_pending_t */

/* Lives in the request's pool; its dispose hook tells the job when h2o frees the request. */
typedef struct {
    job_t *job;
} holder_t;

struct job {
    h2o_req_t *req; /* NULL once the request is gone */
    holder_t *holder;
    ac_web_job_run_fn run;
    ac_web_job_done_fn done;
    void *arg;
    job_t *next;
};

struct ac_web_jobs {
    char *conninfo;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job_t *head, *tail; /* waiting */
    size_t waiting;
    job_t *finished; /* done by a worker, to be answered on the loop */
    bool stopping;
    pthread_t *threads;
    int nthreads;
    int pipe[2];
    h2o_socket_t *sock;    /* the pipe's read end on the loop */
    int64_t down_until_ms; /* after a failed connect, jobs get no connection until then (no 10 s waits each) */
};

static void on_dispose(void *p)
{
    holder_t *h = p;
    if (h->job != NULL) {
        h->job->req = NULL;
        h->job->holder = NULL;
    }
}

static void finish(job_t *job)
{
    if (job->holder != NULL)
        job->holder->job = NULL;
    job->done(job->req, job->arg);
    free(job);
}

static void on_finished(h2o_socket_t *sock, const char *err)
{
    ac_web_jobs_t *j = sock->data;
    if (err == NULL)
        h2o_buffer_consume(&sock->input, sock->input->size);
    pthread_mutex_lock(&j->lock);
    job_t *list = j->finished;
    j->finished = NULL;
    pthread_mutex_unlock(&j->lock);
    /* answer in the order the jobs finished */
    job_t *rev = NULL;
    while (list != NULL) {
        job_t *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    while (rev != NULL) {
        job_t *next = rev->next;
        finish(rev);
        rev = next;
    }
}

static PGconn *connect_db(ac_web_jobs_t *j)
{
    PGconn *c = NULL;
    ac_errmsg_t err = {{0}};
    if (ac_node_db_connect(j->conninfo, &c, &err) != 0) {
        ac_log_warn("web", "db_unreachable", "error=%s", err.msg);
        return NULL;
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "SET statement_timeout = %d", AC_WEB_JOBS_STATEMENT_TIMEOUT_MS);
    if (ac_node_db_exec(c, sql, "statement timeout", &err) != 0) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

static void *worker_main(void *arg)
{
    ac_web_jobs_t *j = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    PGconn *db = NULL;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        while (j->head == NULL && !j->stopping)
            pthread_cond_wait(&j->cond, &j->lock);
        if (j->stopping) {
            pthread_mutex_unlock(&j->lock);
            break;
        }
        job_t *job = j->head;
        j->head = job->next;
        if (j->head == NULL)
            j->tail = NULL;
        j->waiting--;
        pthread_mutex_unlock(&j->lock);
        if (db != NULL && PQstatus(db) != CONNECTION_OK) {
            PQfinish(db);
            db = NULL;
        }
        if (db == NULL && ac_skill_now_ms() >= __atomic_load_n(&j->down_until_ms, __ATOMIC_RELAXED)) {
            db = connect_db(j);
            if (db == NULL)
                __atomic_store_n(&j->down_until_ms, ac_skill_now_ms() + DOWN_BACKOFF_MS, __ATOMIC_RELAXED);
        }
        job->run(db, job->arg);
        ac_web_jobs_resolve(j, job);
    }
    if (db != NULL)
        PQfinish(db);
    return NULL;
}

int ac_web_jobs_start(const char *conninfo, int workers, h2o_loop_t *loop, ac_web_jobs_t **out, ac_errmsg_t *err)
{
    ac_web_jobs_t *j = ac_calloc(1, sizeof(*j));
    if (pipe2(j->pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        int e = errno;
        free(j);
        return ac_errmsg_set(err, -AC_ESYS, "pipe: %s", strerror(e));
    }
    j->conninfo = ac_strdup(conninfo);
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
    j->sock = h2o_evloop_socket_create(loop, j->pipe[0], H2O_SOCKET_FLAG_DONT_READ);
    j->sock->data = j;
    h2o_socket_read_start(j->sock, on_finished);
    j->threads = ac_calloc((size_t)workers, sizeof(pthread_t));
    for (; j->nthreads < workers; j->nthreads++)
        if (pthread_create(&j->threads[j->nthreads], NULL, worker_main, j) != 0)
            break;
    if (j->nthreads == 0) {
        ac_web_jobs_stop(j);
        return ac_errmsg_set(err, -AC_ESYS, "cannot start the web's database threads");
    }
    *out = j;
    return 0;
}

void ac_web_jobs_resolve(ac_web_jobs_t *j, ac_web_pending_t *p)
{
    pthread_mutex_lock(&j->lock);
    p->next = j->finished;
    j->finished = p;
    pthread_mutex_unlock(&j->lock);
    char b = 1;
    ssize_t w = write(j->pipe[1], &b, 1); /* a full pipe already holds a wake-up */
    (void)w;
}

static job_t *job_new(h2o_req_t *req, ac_web_job_run_fn run, ac_web_job_done_fn done, void *arg)
{
    job_t *job = ac_calloc(1, sizeof(*job));
    *job = (job_t){req, NULL, run, done, arg, NULL};
    if (req != NULL) {
        job->holder = h2o_mem_alloc_shared(&req->pool, sizeof(holder_t), on_dispose);
        job->holder->job = job;
    }
    return job;
}

h2o_req_t *ac_web_jobs_pending_req(ac_web_pending_t *p)
{
    return p->req;
}

ac_web_pending_t *ac_web_jobs_pend(ac_web_jobs_t *j, h2o_req_t *req, ac_web_job_done_fn done, void *arg)
{
    (void)j;
    return job_new(req, NULL, done, arg);
}

void ac_web_jobs_defer(ac_web_jobs_t *j, h2o_req_t *req, ac_web_job_run_fn run, ac_web_job_done_fn done, void *arg)
{
    pthread_mutex_lock(&j->lock);
    bool full = j->waiting >= AC_WEB_JOBS_QUEUE || j->stopping;
    pthread_mutex_unlock(&j->lock);
    if (full) {
        if (req != NULL)
            ac_web_error(req, 503, "the node is busy; try again");
        done(NULL, arg);
        return;
    }
    job_t *job = job_new(req, run, done, arg);
    pthread_mutex_lock(&j->lock);
    if (j->tail != NULL)
        j->tail->next = job;
    else
        j->head = job;
    j->tail = job;
    j->waiting++;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
}

void ac_web_jobs_quiesce(ac_web_jobs_t *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->lock);
    j->stopping = true;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    for (int i = 0; i < j->nthreads; i++)
        pthread_join(j->threads[i], NULL);
    j->nthreads = 0; /* joined: stop does not join them again */
}

void ac_web_jobs_stop(ac_web_jobs_t *j)
{
    if (j == NULL)
        return;
    ac_web_jobs_quiesce(j);
    /* the loop is gone: whatever is left has no request to answer */
    job_t *lists[2] = {j->head, j->finished};
    for (int k = 0; k < 2; k++) {
        while (lists[k] != NULL) {
            job_t *next = lists[k]->next;
            lists[k]->req = NULL;
            if (lists[k]->holder != NULL)
                lists[k]->holder->job = NULL;
            lists[k]->done(NULL, lists[k]->arg);
            free(lists[k]);
            lists[k] = next;
        }
    }
    if (j->sock != NULL) {
        h2o_socket_read_stop(j->sock);
        h2o_socket_close(j->sock); /* closes pipe[0] */
    } else {
        close(j->pipe[0]);
    }
    close(j->pipe[1]);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->cond);
    free(j->threads);
    ac_free_secret_str(j->conninfo);
    free(j);
}
