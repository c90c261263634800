/* node/wf_intake.c - the trigger intake of wf_intake.h. */
#include "node/wf_intake.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_MAX   256
#define NAME_MAX_DB 1020              /* workflows.name is varchar(255): characters, up to 4 bytes each */
#define PAYLOAD_MAX (8 * 1024 * 1024) /* a group's records go in statements of about this size at most */
#define STMT        "ac_intake_group"
#define STMT_ONE    "ac_intake_one"
#define STMT_END    "ac_intake_end"

/* One statement for a group: ids drawn first, so each input row knows its run; the rows (only for workflows that
 * still exist: a cached workflow deleted meanwhile inserts nothing, and its trigger is looked up again), the gates'
 * records, then -- only once both inserts are done (the one-time filter on `o`) -- a shared liveness lock on every run
 * that goes on. All committed at once. Locks are taken last because a session lock outlives a failed statement. */
static const char group_sql[] =
    "WITH d AS MATERIALIZED (SELECT x.*, nextval(pg_get_serial_sequence('workflow_runs', 'id')) AS id "
    "FROM jsonb_to_recordset($1::jsonb) AS x(i integer, workflow_id bigint, status text, result jsonb, error text, "
    "step_results jsonb, pos integer, skill text, duration_ms integer, snapshot jsonb, metadata jsonb)), "
    "ins AS (INSERT INTO workflow_runs (id, workflow_id, status, started_at, completed_at, result, error, "
    "step_results, node) SELECT d.id, d.workflow_id, d.status, now() AT TIME ZONE 'utc', CASE WHEN d.status <> "
    "'running' THEN now() AT TIME ZONE 'utc' END, coalesce(d.result, '{}'), d.error, d.step_results, $2 "
    "FROM d JOIN workflows w ON w.id = d.workflow_id RETURNING id), "
    "o AS (INSERT INTO skill_outcomes (workflow_run_id, step_position, skill_name, duration_ms, output_snapshot, "
    "metadata) SELECT d.id, d.pos, d.skill, d.duration_ms, d.snapshot, d.metadata FROM d JOIN ins ON ins.id = d.id "
    "RETURNING workflow_run_id) "
    "SELECT d.i, d.id, CASE WHEN d.status = 'running' THEN pg_advisory_lock_shared($3::bigint + d.id) END "
    "FROM d JOIN ins ON ins.id = d.id WHERE (SELECT count(*) FROM o) >= 0 ORDER BY d.i";

/* The same for a trigger that arrives alone (the common case when triggers are few): parameters instead of a JSON
 * array to unpack, which saves the database a little work on every lone trigger. */
static const char one_sql[] =
    "WITH ins AS (INSERT INTO workflow_runs (workflow_id, status, started_at, completed_at, result, error, "
    "step_results, node) SELECT $1::bigint, $2::text, now() AT TIME ZONE 'utc', CASE WHEN $2::text <> 'running' "
    "THEN now() AT TIME ZONE 'utc' END, coalesce($3::jsonb, '{}'), $4::text, $5::jsonb, $6::text FROM workflows "
    "WHERE id = $1::bigint RETURNING id), "
    "o AS (INSERT INTO skill_outcomes (workflow_run_id, step_position, skill_name, duration_ms, output_snapshot, "
    "metadata) SELECT id, $7::integer, $8::text, $9::integer, $10::jsonb, $11::jsonb FROM ins RETURNING "
    "workflow_run_id) "
    "SELECT 0, id, CASE WHEN $2::text = 'running' THEN pg_advisory_lock_shared($12::bigint + id) END FROM ins "
    "WHERE (SELECT count(*) FROM o) >= 0";

/* A lone trigger whose gate ended its run (a gate-only workflow, or a gate that failed): no liveness lock to take, so
 * no one-time filter either -- the two inserts and nothing else, which the database does measurably faster
 * (tests/bench/RESULTS.md). A workflow deleted since it was cached fails the run row's foreign key (23503): nothing
 * is inserted, and the trigger is looked up again by name once (retry_or_refuse). */
static const char end_sql[] =
    "WITH ins AS (INSERT INTO workflow_runs (workflow_id, status, started_at, completed_at, result, error, "
    "step_results, node) VALUES ($1::bigint, $2::text, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc', "
    "coalesce($3::jsonb, '{}'), $4::text, $5::jsonb, $6::text) RETURNING id) "
    "INSERT INTO skill_outcomes (workflow_run_id, step_position, skill_name, duration_ms, output_snapshot, metadata) "
    "SELECT id, $7::integer, $8::text, $9::integer, $10::jsonb, $11::jsonb FROM ins RETURNING 0, workflow_run_id";

typedef struct {
    char *name;
    ac_node_wf_t *wf; /* NULL: no workflow of that name */
} cached_t;

typedef struct {
    int64_t *v;
    size_t n, cap;
} ids_t;

struct ac_node_wf_intake {
    ac_node_wf_intake_cfg_t cfg;
    char *conninfo;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    ac_node_wf_job_t *queue; /* ring; workflow_name copied, JSON referenced */
    size_t head, count;
    ids_t held;    /* runs this connection holds until their worker does */
    ids_t release; /* of those, the ones to let go of now */
    ids_t abandon; /* of those, the ones no worker could take over: to be marked failed first */
    bool stopping, stopped;
    ac_node_wf_intake_stats_t stats;
    /* the intake thread's own: */
    PGconn *db;
    cached_t cache[CACHE_MAX];
    size_t ncache;
    int64_t cache_at;
    ac_node_wf_job_t *redo; /* during a group's first pass: its triggers whose cached workflow had gone (else NULL) */
    size_t nredo;
};

/* One admitted trigger of a group. */
typedef struct {
    ac_node_wf_job_t *job;
    ac_node_wf_t *wf; /* a reference of its own: the cache may be dropped before the group is recorded */
    ac_node_wf_gate_t *gate;
} entry_t;

/* A growing JSON array text. */
typedef struct {
    char *s;
    size_t len, cap;
} text_t;

static void ids_push(ids_t *l, int64_t id)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = ac_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = id;
}

static void text_add(text_t *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = ac_realloc(t->s, t->cap);
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void job_release(ac_node_wf_job_t *job)
{
    free((char *)job->workflow_name);
    json_decref(job->input);
    json_decref(job->extra_config);
    memset(job, 0, sizeof(*job));
}

static void refuse(ac_node_wf_intake_t *in, ac_node_wf_job_t *job, int code, const char *reason)
{
    pthread_mutex_lock(&in->lock);
    in->stats.refused++;
    pthread_mutex_unlock(&in->lock);
    ac_log_warn("workflow", "refused", "workflow=%s trigger=%d reason=%s", job->workflow_name,
                (int)AC_WF_TRIGGER_REMOTE, reason);
    job->on_refused(job->arg, code, reason);
    job_release(job);
}

static void cache_clear(ac_node_wf_intake_t *in)
{
    for (size_t i = 0; i < in->ncache; i++) {
        free(in->cache[i].name);
        ac_node_wf_free(in->cache[i].wf);
    }
    in->ncache = 0;
}

/* A trigger whose cached workflow turned out to be deleted: in a group's first pass it is kept to be looked up again
 * by name (a workflow made again under that name before its notification was read is the one it starts); in the
 * second pass it is refused. */
static void retry_or_refuse(ac_node_wf_intake_t *in, ac_node_wf_job_t *job)
{
    if (in->redo == NULL) { /* intake_main drops the cache after this pass */
        refuse(in, job, -AC_ENOENT, "workflow_not_found");
        return;
    }
    in->redo[in->nredo++] = *job; /* the job's own memory goes with it */
    memset(job, 0, sizeof(*job));
}

static void drop_connection(ac_node_wf_intake_t *in)
{
    if (in->db != NULL)
        PQfinish(in->db); /* what it held is let go of by the server */
    in->db = NULL;
    cache_clear(in);
    pthread_mutex_lock(&in->lock);
    in->held.n = 0;
    in->release.n = 0;
    in->abandon.n = 0;
    pthread_mutex_unlock(&in->lock);
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* e.g. letting go of a hold a dropped connection already lost */
}

static int connect_if_needed(ac_node_wf_intake_t *in)
{
    if (in->db != NULL && PQstatus(in->db) == CONNECTION_OK)
        return 0;
    drop_connection(in);
    ac_errmsg_t err = {{0}};
    if (ac_node_db_connect(in->conninfo, &in->db, &err) != 0) {
        in->db = NULL;
        ac_log_warn("workflow", "intake_db_unreachable", "error=%s", err.msg);
        return -AC_EDBDOWN;
    }
    PQsetNoticeProcessor(in->db, quiet, NULL);
    PGresult *r = NULL, *r1 = NULL, *r2 = NULL;
    if (ac_node_db_exec(in->db, "LISTEN alexclaw_workflows", "listen", &err) != 0 ||
        PQresultStatus(r = PQprepare(in->db, STMT, group_sql, 3, NULL)) != PGRES_COMMAND_OK ||
        PQresultStatus(r1 = PQprepare(in->db, STMT_ONE, one_sql, 12, NULL)) != PGRES_COMMAND_OK ||
        PQresultStatus(r2 = PQprepare(in->db, STMT_END, end_sql, 11, NULL)) != PGRES_COMMAND_OK) {
        ac_log_error("workflow", "intake_setup_failed", "error=%s", r != NULL ? PQerrorMessage(in->db) : err.msg);
        PQclear(r);
        PQclear(r1);
        PQclear(r2);
        drop_connection(in);
        return -AC_EDB;
    }
    PQclear(r);
    PQclear(r1);
    PQclear(r2);
    return 0;
}

/* Reads what the server sent meanwhile: a change to the workflows drops the cache, and so does its age. */
static void poll_notifications(ac_node_wf_intake_t *in)
{
    if (PQconsumeInput(in->db) == 0) {
        drop_connection(in);
        return;
    }
    bool changed = false;
    PGnotify *nf;
    while ((nf = PQnotifies(in->db)) != NULL) {
        changed = true;
        PQfreemem(nf);
    }
    if (changed || ac_skill_now_ms() - in->cache_at > AC_NODE_WF_INTAKE_CACHE_MS)
        cache_clear(in);
}

/* ids as a PostgreSQL array literal, "{1,2,3}" (from malloc). */
static char *ids_literal(const ids_t *ids)
{
    text_t arr = {0};
    text_add(&arr, "{", 1);
    for (size_t i = 0; i < ids->n; i++) {
        char b[32];
        int n = snprintf(b, sizeof(b), "%s%lld", i ? "," : "", (long long)ids->v[i]);
        text_add(&arr, b, (size_t)n);
    }
    text_add(&arr, "}", 1);
    return arr.s;
}

static void let_go(ac_node_wf_intake_t *in, const ids_t *rel)
{
    text_t arr = {ids_literal(rel), 0, 0};
    char base[32];
    snprintf(base, sizeof(base), "%lld", AC_NODE_DB_LOCK_RUN_BASE);
    const char *p[] = {base, arr.s};
    PQclear(PQexecParams(in->db, "SELECT count(pg_advisory_unlock_shared($1::bigint + x)) FROM unnest($2::bigint[]) x",
                         2, NULL, p, NULL, NULL, 0));
    free(arr.s);
}

/* Runs no worker could take over: failed, then let go of. */
static void mark_abandoned(ac_node_wf_intake_t *in, const ids_t *ab)
{
    text_t arr = {ids_literal(ab), 0, 0};
    const char *p[] = {arr.s};
    PQclear(PQexecParams(in->db,
                         "UPDATE workflow_runs SET status = 'failed', completed_at = now() AT TIME ZONE 'utc', "
                         "updated_at = now() AT TIME ZONE 'utc', error = 'the executor could not take the run over "
                         "(its database connection failed)' WHERE id = ANY($1::bigint[]) AND status = 'running'",
                         1, NULL, p, NULL, NULL, 0));
    free(arr.s);
    for (size_t i = 0; i < ab->n; i++)
        ac_log_warn("workflow", "run_abandoned", "run=%lld reason=%s", (long long)ab->v[i], "no worker could hold it");
    let_go(in, ab);
}

/* The workflow named `name`: 0 (*wf is the cache's), -AC_ENOENT, or a database error. */
static int lookup(ac_node_wf_intake_t *in, const char *name, ac_node_wf_t **wf, ac_errmsg_t *err)
{
    if (strlen(name) > NAME_MAX_DB)
        return -AC_ENOENT;
    for (size_t i = 0; i < in->ncache; i++) {
        if (strcmp(in->cache[i].name, name) == 0) {
            *wf = in->cache[i].wf;
            return *wf != NULL ? 0 : -AC_ENOENT;
        }
    }
    ac_node_wf_t *loaded = NULL;
    int rc = ac_node_wf_load(in->db, 0, name, &loaded, err);
    if (rc != 0 && rc != -AC_ENOENT)
        return rc;
    if (in->ncache == CACHE_MAX)
        cache_clear(in);
    if (in->ncache == 0)
        in->cache_at = ac_skill_now_ms();
    in->cache[in->ncache++] = (cached_t){ac_strdup(name), rc == 0 ? loaded : NULL};
    *wf = loaded;
    return rc;
}

/* The run row of e (index i in its statement) as JSON text (from malloc). */
static char *row_text(size_t i, const entry_t *e)
{
    const ac_node_wf_gate_t *g = e->gate;
    json_t *results, *snap, *meta;
    ac_node_wf_step_rec_build(&e->wf->steps[0], &g->r, &results, &snap, &meta);
    json_t *row =
        json_pack("{s:I,s:I,s:s,s:o,s:i,s:s,s:I,s:o,s:o}", "i", (json_int_t)i, "workflow_id", (json_int_t)e->wf->id,
                  "status", g->end ? ac_node_wf_status_name(g->outcome.status) : "running", "step_results", results,
                  "pos", e->wf->steps[0].position, "skill", e->wf->steps[0].skill, "duration_ms",
                  (json_int_t)(g->took_ms > INT32_MAX ? INT32_MAX : g->took_ms), "snapshot", snap, "metadata", meta);
    if (g->end && g->outcome.status == AC_WF_COMPLETED)
        json_object_set(row, "result", g->outcome.result);
    else if (g->end)
        json_object_set_new(row, "error", json_string(g->outcome.error));
    char *text = json_dumps(row, JSON_COMPACT);
    json_decref(row);
    return text;
}

/* A worker took over run_id (held), or could not (its connection failed): the intake lets go of its own hold, after
 * marking the run failed in the second case (its caller was told it started; it must not stay `running`). */
static void held_cb(void *arg, int64_t run_id, bool held)
{
    ac_node_wf_intake_t *in = arg;
    pthread_mutex_lock(&in->lock);
    for (size_t i = 0; !in->stopped && i < in->held.n; i++) {
        if (in->held.v[i] == run_id) {
            in->held.v[i] = in->held.v[--in->held.n];
            ids_push(held ? &in->release : &in->abandon, run_id);
            pthread_cond_signal(&in->cond);
            break;
        }
    }
    pthread_mutex_unlock(&in->lock);
}

static void entry_clear(entry_t *e)
{
    if (e->gate != NULL)
        ac_node_wf_gate_clear(e->gate);
    free(e->gate);
    e->gate = NULL;
    ac_node_wf_free(e->wf);
    e->wf = NULL;
}

/* The caller was answered: a run its gate ended is over; one that goes on goes to the pool. */
static void hand_over(ac_node_wf_intake_t *in, entry_t *e, int64_t run_id)
{
    if (e->gate->end) {
        entry_clear(e);
        job_release(e->job);
        return;
    }
    ac_node_wf_job_t job = {.input = e->job->input,
                            .extra_config = e->job->extra_config,
                            .trigger = AC_WF_TRIGGER_REMOTE,
                            .run_id = run_id,
                            .wf = e->wf,
                            .gate = e->gate,
                            .on_held = held_cb,
                            .held_arg = in};
    e->gate = NULL;
    e->wf = NULL;
    if (ac_node_wf_pool_submit_reserved(in->cfg.pool, &job) != 0) {
        /* the pool stops: the run stays running and unheld once this connection closes; recovery ends it */
        ac_log_warn("workflow", "run_abandoned", "run=%lld reason=%s", (long long)run_id, "node stopping");
        ac_node_wf_free(job.wf);
        ac_node_wf_gate_clear(job.gate);
        free(job.gate);
    }
    job_release(e->job);
}

static PGresult *record_group(ac_node_wf_intake_t *in, text_t *rows, const char *base)
{
    text_add(rows, "]", 1);
    const char *p[] = {rows->s, in->cfg.base.node_name, base};
    return PQexecPrepared(in->db, STMT, 3, p, NULL, NULL, 0);
}

static PGresult *record_one(ac_node_wf_intake_t *in, const entry_t *e, const char *base)
{
    const ac_node_wf_gate_t *g = e->gate;
    ac_node_wf_step_rec_t rec;
    ac_errmsg_t err = {{0}};
    if (ac_node_wf_step_rec_encode(&e->wf->steps[0], &g->r, &rec, &err) != 0)
        return NULL;
    char wid[32], pos[16], dur[32];
    snprintf(wid, sizeof(wid), "%lld", (long long)e->wf->id);
    snprintf(pos, sizeof(pos), "%d", e->wf->steps[0].position);
    snprintf(dur, sizeof(dur), "%lld", (long long)(g->took_ms > INT32_MAX ? INT32_MAX : g->took_ms));
    bool completed = g->end && g->outcome.status == AC_WF_COMPLETED;
    char *result = completed ? json_dumps(g->outcome.result, JSON_COMPACT) : NULL;
    const char *p[] = {wid,          g->end ? ac_node_wf_status_name(g->outcome.status) : "running",
                       result,       g->end && !completed ? g->outcome.error : NULL,
                       rec.results,  in->cfg.base.node_name,
                       pos,          e->wf->steps[0].skill,
                       dur,          rec.snapshot,
                       rec.metadata, base};
    PGresult *r = g->end ? PQexecPrepared(in->db, STMT_END, 11, p, NULL, NULL, 0)
                         : PQexecPrepared(in->db, STMT_ONE, 12, p, NULL, NULL, 0);
    free(result);
    ac_node_wf_step_rec_clear(&rec);
    return r;
}

/* The statement succeeded: answers each caller whose row came back and hands its run on. A row that did not come back
 * belongs to a workflow deleted since it was cached: nothing was inserted for it. */
static void answer(ac_node_wf_intake_t *in, entry_t *e, size_t n, PGresult *r)
{
    bool *done = ac_calloc(n, sizeof(bool));
    pthread_mutex_lock(&in->lock);
    in->stats.groups++;
    in->stats.recorded += (uint64_t)PQntuples(r);
    pthread_mutex_unlock(&in->lock);
    for (int row = 0; row < PQntuples(r); row++) {
        size_t i = strtoul(PQgetvalue(r, row, 0), NULL, 10);
        int64_t run_id = strtoll(PQgetvalue(r, row, 1), NULL, 10);
        if (i >= n || done[i])
            continue;
        done[i] = true;
        if (!e[i].gate->end) {
            pthread_mutex_lock(&in->lock);
            ids_push(&in->held, run_id);
            pthread_mutex_unlock(&in->lock);
        }
        e[i].job->on_started(e[i].job->arg, run_id); /* the caller first; the log lines can wait */
        ac_node_wf_gate_log(e[i].wf, run_id, e[i].gate);
        hand_over(in, &e[i], run_id);
    }
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        if (!e[i].gate->end)
            ac_node_wf_pool_unreserve(in->cfg.pool, 1);
        entry_clear(&e[i]);
        retry_or_refuse(in, e[i].job);
    }
    free(done);
}

/* Did end_sql fail because the run's workflow was deleted since it was cached? */
static bool workflow_gone(const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *constraint = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    return state != NULL && strcmp(state, "23503") == 0 && constraint != NULL &&
           strcmp(constraint, "workflow_runs_workflow_id_fkey") == 0;
}

/* Records entries e[0..n) in one statement and answers each caller. */
static void flush(ac_node_wf_intake_t *in, entry_t *e, size_t n, text_t *rows)
{
    if (n == 0)
        return;
    if (in->db == NULL)
        connect_if_needed(in);
    char base[32];
    snprintf(base, sizeof(base), "%lld", AC_NODE_DB_LOCK_RUN_BASE);
    PGresult *r = in->db == NULL ? NULL : n == 1 ? record_one(in, &e[0], base) : record_group(in, rows, base);
    rows->len = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        answer(in, e, n, r);
        PQclear(r);
        return;
    }
    if (n == 1 && e[0].gate->end && workflow_gone(r)) { /* end_sql took no lock: the connection stays */
        PQclear(r);
        entry_clear(&e[0]);
        retry_or_refuse(in, e[0].job);
        return;
    }
    bool down = in->db == NULL || PQstatus(in->db) != CONNECTION_OK;
    ac_log_error("workflow", "intake_record_failed", "runs=%zu error=%s", n,
                 in->db != NULL ? PQerrorMessage(in->db) : "no connection");
    PQclear(r);
    /* A session lock outlives a failed statement. Locks come last in the statement, but start afresh all the same, so
     * that none can linger (the runs this connection held for workers still on their way check their status). */
    if (in->db != NULL)
        drop_connection(in);
    if (n > 1 && connect_if_needed(in) == 0) {
        for (size_t i = 0; i < n; i++) /* one bad row must not fail the others: each alone */
            flush(in, &e[i], 1, rows);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!e[i].gate->end)
            ac_node_wf_pool_unreserve(in->cfg.pool, 1);
        entry_clear(&e[i]);
        refuse(in, e[i].job, down ? -AC_EDBDOWN : -AC_EDB, "database error");
    }
}

/* A gate whose config can send it to another skill (a fallback when its breaker is open or the skill is missing)
 * may do real I/O: such triggers take the executor pool's path, as a whole run on a worker. */
static bool gate_needs_worker(const ac_node_wf_t *wf)
{
    static const char *const keys[] = {"on_circuit_open", "on_missing_skill"};
    for (size_t i = 0; i < 2; i++) {
        const char *mode = json_string_value(json_object_get(wf->steps[0].config, keys[i]));
        if (mode != NULL && strcmp(mode, "fallback") == 0)
            return true;
    }
    return false;
}

/* Admits, runs the gates of, records and answers a group of triggers. */
static void process(ac_node_wf_intake_t *in, ac_node_wf_job_t *group, size_t n)
{
    entry_t *e = ac_calloc(n, sizeof(*e));
    size_t ne = 0;
    text_t rows = {0};
    ac_node_wf_env_t env = {in->db, in->cfg.registry, in->cfg.breakers, in->cfg.base};
    for (size_t k = 0; k < n; k++) {
        ac_node_wf_job_t *job = &group[k];
        ac_errmsg_t err = {{0}};
        ac_node_wf_t *wf = NULL;
        if (in->db == NULL)
            connect_if_needed(in);
        int rc = in->db != NULL ? lookup(in, job->workflow_name, &wf, &err) : -AC_EDBDOWN;
        if (rc == 0 && !wf->enabled)
            rc = -AC_ENOENT;
        if (rc != 0) {
            if (rc != -AC_ENOENT && in->db != NULL && PQstatus(in->db) != CONNECTION_OK)
                drop_connection(in); /* entries so far hold their own workflow references */
            refuse(in, job, rc, rc == -AC_ENOENT ? "workflow_not_found" : "database unreachable");
            continue;
        }
        const char *reason = ac_node_wf_remote_refusal(wf, job->extra_config);
        if (reason != NULL) {
            refuse(in, job, -AC_EPERM, reason);
            continue;
        }
        if (gate_needs_worker(wf)) {
            int prc = ac_node_wf_pool_submit(in->cfg.pool, job); /* copies what it keeps */
            if (prc != 0)
                refuse(in, job, -AC_EAGAIN, "busy");
            else
                job_release(job);
            continue;
        }
        ac_node_wf_gate_t *gate = ac_malloc(sizeof(*gate));
        ac_node_wf_run_opts_t opts = {job->input, job->extra_config, NULL, NULL, NULL, 0};
        ac_node_wf_gate_run(&env, wf, &opts, gate);
        if (!gate->end && ac_node_wf_pool_reserve(in->cfg.pool, 1) != 1) {
            ac_node_wf_gate_clear(gate);
            free(gate);
            refuse(in, job, -AC_EAGAIN, "busy");
            continue;
        }
        entry_t entry = {job, ac_node_wf_retain(wf), gate};
        if (n == 1) { /* a lone trigger is recorded with record_one's parameters: no group text to build */
            e[ne++] = entry;
            continue;
        }
        char *row = row_text(ne, &entry);
        size_t rlen = row != NULL ? strlen(row) : 0;
        if (ne > 0 && rows.len + rlen > PAYLOAD_MAX) { /* a statement of about PAYLOAD_MAX at most */
            flush(in, e, ne, &rows);
            memset(e, 0, ne * sizeof(*e));
            ne = 0;
            free(row);
            row = row_text(0, &entry);
            rlen = row != NULL ? strlen(row) : 0;
        }
        e[ne++] = entry;
        text_add(&rows, rows.len == 0 ? "[" : ",", 1);
        text_add(&rows, row != NULL ? row : "null", row != NULL ? rlen : 4);
        free(row);
    }
    flush(in, e, ne, &rows);
    free(rows.s);
    free(e);
}

static void *intake_main(void *arg)
{
    ac_node_wf_intake_t *in = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    ac_node_wf_job_t *group = ac_calloc(AC_NODE_WF_INTAKE_GROUP, sizeof(*group));
    ac_node_wf_job_t *redo = ac_calloc(AC_NODE_WF_INTAKE_GROUP, sizeof(*redo));
    for (;;) {
        pthread_mutex_lock(&in->lock);
        if (in->count == 0 && in->release.n == 0 && in->abandon.n == 0 && !in->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1; /* at least once a second: read notifications, so the server never queues them up */
            pthread_cond_timedwait(&in->cond, &in->lock, &ts);
        }
        if (in->stopping) {
            pthread_mutex_unlock(&in->lock);
            break;
        }
        size_t n = 0;
        for (; in->count > 0 && n < AC_NODE_WF_INTAKE_GROUP; n++) {
            group[n] = in->queue[in->head];
            in->head = (in->head + 1) % AC_NODE_WF_INTAKE_QUEUE;
            in->count--;
        }
        ids_t rel = in->release, ab = in->abandon;
        in->release = in->abandon = (ids_t){0};
        pthread_mutex_unlock(&in->lock);
        if ((n > 0 || in->db != NULL) && connect_if_needed(in) == 0) {
            if (ab.n > 0)
                mark_abandoned(in, &ab);
            if (rel.n > 0)
                let_go(in, &rel);
            poll_notifications(in);
        }
        free(rel.v);
        free(ab.v);
        if (n == 0)
            continue;
        in->redo = redo;
        in->nredo = 0;
        process(in, group, n);
        in->redo = NULL;
        if (in->nredo > 0) { /* the cache was stale, its notifications behind: looked up afresh, and not kept */
            ac_log_info("workflow", "intake_cache_stale", "triggers=%zu note=%s", in->nredo,
                        "a cached workflow was deleted: looked up again by name");
            cache_clear(in);
            process(in, redo, in->nredo);
            cache_clear(in);
        }
    }
    free(group);
    free(redo);
    return NULL;
}

int ac_node_wf_intake_start(const ac_node_wf_intake_cfg_t *cfg, ac_node_wf_intake_t **out, ac_errmsg_t *err)
{
    ac_node_wf_intake_t *in = ac_calloc(1, sizeof(*in));
    in->cfg = *cfg;
    in->conninfo = ac_strdup(cfg->conninfo);
    in->queue = ac_calloc(AC_NODE_WF_INTAKE_QUEUE, sizeof(*in->queue));
    pthread_mutex_init(&in->lock, NULL);
    pthread_cond_init(&in->cond, NULL);
    if (pthread_create(&in->thread, NULL, intake_main, in) != 0) {
        ac_node_wf_intake_free(in);
        return ac_errmsg_set(err, -AC_ESYS, "cannot start the trigger intake thread");
    }
    in->started = true;
    *out = in;
    return 0;
}

int ac_node_wf_intake_submit(ac_node_wf_intake_t *in, const ac_node_wf_job_t *job)
{
    pthread_mutex_lock(&in->lock);
    if (in->stopping || in->count == AC_NODE_WF_INTAKE_QUEUE) {
        pthread_mutex_unlock(&in->lock);
        return in->stopping ? -AC_ESTOPPED : -AC_EAGAIN;
    }
    ac_node_wf_job_t *q = &in->queue[(in->head + in->count) % AC_NODE_WF_INTAKE_QUEUE];
    *q = *job;
    q->workflow_name = ac_strdup(job->workflow_name != NULL ? job->workflow_name : "");
    if (q->input != NULL)
        json_incref(q->input);
    if (q->extra_config != NULL)
        json_incref(q->extra_config);
    in->count++;
    pthread_cond_signal(&in->cond);
    pthread_mutex_unlock(&in->lock);
    return 0;
}

void ac_node_wf_intake_stats(ac_node_wf_intake_t *in, ac_node_wf_intake_stats_t *out)
{
    pthread_mutex_lock(&in->lock);
    *out = in->stats;
    pthread_mutex_unlock(&in->lock);
}

void ac_node_wf_intake_stop(ac_node_wf_intake_t *in)
{
    if (in == NULL)
        return;
    pthread_mutex_lock(&in->lock);
    in->stopping = true;
    pthread_cond_signal(&in->cond);
    pthread_mutex_unlock(&in->lock);
    if (in->started)
        pthread_join(in->thread, NULL);
    in->started = false;
    while (in->count > 0) {
        refuse(in, &in->queue[in->head], -AC_ESTOPPED, "node stopping");
        in->head = (in->head + 1) % AC_NODE_WF_INTAKE_QUEUE;
        in->count--;
    }
    if (in->db != NULL)
        PQfinish(in->db);
    in->db = NULL;
    cache_clear(in);
    pthread_mutex_lock(&in->lock);
    in->stopped = true;
    pthread_mutex_unlock(&in->lock);
}

void ac_node_wf_intake_free(ac_node_wf_intake_t *in)
{
    if (in == NULL)
        return;
    ac_node_wf_intake_stop(in);
    pthread_mutex_destroy(&in->lock);
    pthread_cond_destroy(&in->cond);
    free(in->queue);
    free(in->held.v);
    free(in->release.v);
    free(in->abandon.v);
    ac_free_secret_str(in->conninfo);
    free(in);
}
