/* web/jobs.h - database work for the web loop. A handler that needs PostgreSQL hands a job to worker threads, each
 * with its own connection, and the request is answered on the loop thread when the job is done; the loop itself never
 * waits on the database.
 *
 * Each job runs `run` on a worker (with its connection, or NULL while the database is unreachable) and then `done` on
 * the loop thread, with the request, or with NULL when the client went away meanwhile (an HTTP/2 stream reset frees
 * the request at once: a dispose hook in the request's pool tells the job). `done` owns `arg` and frees it either
 * way. Worker connections have statement_timeout = AC_WEB_JOBS_STATEMENT_TIMEOUT_MS, so every job ends and every
 * request is answered. A full queue answers 503 at once. */
#ifndef AC_WEB_JOBS_H
#define AC_WEB_JOBS_H

#include "policy/error.h"
#include "web/http.h"

#include <libpq-fe.h>

#define AC_WEB_JOBS_QUEUE                1024
#define AC_WEB_JOBS_STATEMENT_TIMEOUT_MS 10000

typedef struct ac_web_jobs ac_web_jobs_t;
typedef void (*ac_web_job_run_fn)(PGconn *db, void *arg);
typedef void (*ac_web_job_done_fn)(h2o_req_t *req, void *arg);

int ac_web_jobs_start(const char *conninfo, int workers, h2o_loop_t *loop, ac_web_jobs_t **out, ac_errmsg_t *err);
/* Loop thread. req may be NULL (work with no request to answer). */
void ac_web_jobs_defer(ac_web_jobs_t *j, h2o_req_t *req, ac_web_job_run_fn run, ac_web_job_done_fn done, void *arg);
/* Work finished elsewhere (the executor pool): pend registers the request on the loop thread and returns a handle;
 * resolve, from any thread, has done(req or NULL, arg) called on the loop. Exactly one resolve per handle. */
typedef struct job ac_web_pending_t;
ac_web_pending_t *ac_web_jobs_pend(ac_web_jobs_t *j, h2o_req_t *req, ac_web_job_done_fn done, void *arg);
void ac_web_jobs_resolve(ac_web_jobs_t *j, ac_web_pending_t *p);
/* The request of a pending handle, or NULL once h2o freed it (loop thread). */
h2o_req_t *ac_web_jobs_pending_req(ac_web_pending_t *p);
/* After the loop has stopped: joins the workers; jobs not finished get done(NULL, arg). */
void ac_web_jobs_stop(ac_web_jobs_t *j);
/* Joins the workers (no job runs after it returns; jobs still queued are dropped by ac_web_jobs_stop). Resolving a
 * pending answer stays safe until ac_web_jobs_stop. */
void ac_web_jobs_quiesce(ac_web_jobs_t *j);

#endif
