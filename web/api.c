/* web/api.c - /health, /metrics and the JSON API under /api/ (internal.h); /api/2fa and /api/policies, /api/audit go
 * to twofa.c and policies.c, /api/skills to skills.c, /api/llm to llm.c.
 *
 * Handlers that need PostgreSQL run their query on a web database worker (jobs.h) and answer from the loop. Every
 * error is JSON {"error": "..."} with a fitting status. Secrets never leave: settings that are sensitive are sent
 * masked, and the API token is shown once, when it is made. */
#include "web/call.h"
#include "web/llm.h"
#include "web/policies.h"
#include "web/skills.h"
#include "web/twofa.h"

#include "node/action.h"
#include "node/cluster.h"
#include "node/log.h"
#include "node/runtime.h"
#include "node/settings.h"
#include "node/settings_store.h"
#include "node/telegram.h"
#include "node/twofa.h"
#include "node/wf_io.h"
#include "policy/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 200
/* A run as lists show it (runs r, workflows w). */
#define UTC_TEXT(col) "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define RUN_COLUMNS                                                                                                    \
    "r.id, w.name AS workflow, r.status, " UTC_TEXT("r.started_at") " AS started_at, " UTC_TEXT(                       \
        "r.completed_at") " AS completed_at, r.node, r.error"

/* --- /health --- */

static void health_run(PGconn *db, ac_web_call_t *c)
{
    PGresult *r = PQexec(db, "SELECT 1");
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    c->status = ok ? 200 : 503;
    c->body = json_pack("{s:s,s:s,s:s,s:s,s:s}", "status", ok ? "ok" : "degraded", "version", AC_VERSION, "db",
                        ok ? "connected" : "unreachable", "mcp", "disabled", "node", c->s->node_name);
}

static void health_down(ac_web_call_t *c)
{
    c->status = 503;
    c->body = json_pack("{s:s,s:s,s:s,s:s,s:s}", "status", "degraded", "version", AC_VERSION, "db", "unreachable",
                        "mcp", "disabled", "node", c->s->node_name);
}

static void health_call(PGconn *db, void *arg)
{
    ac_web_call_t *c = arg;
    if (db == NULL)
        health_down(c);
    else
        health_run(db, c);
}

void ac_web_health(ac_web_server_t *s, h2o_req_t *req)
{
    ac_web_jobs_defer(s->jobs, req, health_call, ac_web_call_done, ac_web_call_new(s, health_run));
}

/* --- /metrics and the dashboard --- */

static json_t *breakers_json(ac_web_server_t *s)
{
    ac_skills_breaker_view_t v[64];
    size_t n = ac_skills_breakers_snapshot(s->cfg.breakers, v, 64);
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_string(v[i].last_error); /* NULL when the cut split a character */
        json_object_set_new(o, v[i].skill,
                            json_pack("{s:s,s:i,s:o}", "state", ac_skills_breaker_state_name(v[i].state),
                                      "failure_count", v[i].failures, "last_error",
                                      e != NULL ? e : json_string("(not valid UTF-8)")));
    }
    return o;
}

static const char runs_today_sql[] =
    "SELECT count(*), count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'), "
    "count(*) FILTER (WHERE status = 'running'), count(*) FILTER (WHERE status = 'cancelled') FROM workflow_runs "
    "WHERE started_at >= date_trunc('day', now() AT TIME ZONE 'utc')";

static json_t *system_json(ac_web_server_t *s)
{
    int running = 0, queued = 0;
    ac_node_wf_pool_stats(s->cfg.pool, &running, &queued);
    return json_pack("{s:I,s:I,s:{s:i,s:i}}", "uptime_seconds", (json_int_t)(ac_web_now() - s->cfg.started_at),
                     "memory_bytes", (json_int_t)ac_node_runtime_rss_bytes(), "executor", "running", running, "queued",
                     queued);
}

static void metrics_run(PGconn *db, ac_web_call_t *c)
{
    PGresult *r;
    if (!ac_web_call_query(db, c, runs_today_sql, 0, NULL, &r))
        return;
    json_t *wf = json_pack("{s:I,s:I,s:I,s:I,s:I}", "total", (json_int_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10),
                           "completed", (json_int_t)strtoll(PQgetvalue(r, 0, 1), NULL, 10), "failed",
                           (json_int_t)strtoll(PQgetvalue(r, 0, 2), NULL, 10), "running",
                           (json_int_t)strtoll(PQgetvalue(r, 0, 3), NULL, 10), "cancelled",
                           (json_int_t)strtoll(PQgetvalue(r, 0, 4), NULL, 10));
    PQclear(r);
    c->body = json_pack("{s:o,s:o,s:{s:o},s:o,s:{s:s,s:i}}", "system", system_json(c->s), "workflows", wf, "skills",
                        "circuit_breakers", breakers_json(c->s), "llm", ac_web_llm_metrics(db, c->s), "mcp", "status",
                        "disabled", "tools_registered", 0);
}

/* A Prometheus label value: backslash, double quote and line feed escaped (a provider's name is the owner's text). */
static void label_value(FILE *f, const char *v)
{
    for (const char *p = v != NULL ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"') {
            fputc('\\', f);
            fputc(*p, f);
        } else if (*p == '\n') {
            fputs("\\n", f);
        } else {
            fputc(*p, f);
        }
    }
}

/* Prometheus text exposition of the same figures. */
static void metrics_text(h2o_req_t *req, json_t *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    json_t *sys = json_object_get(m, "system"), *wf = json_object_get(m, "workflows");
    fprintf(f,
            "# HELP alexclaw_uptime_seconds Seconds since the node started.\n# TYPE alexclaw_uptime_seconds gauge\n");
    fprintf(f, "alexclaw_uptime_seconds %lld\n", (long long)json_integer_value(json_object_get(sys, "uptime_seconds")));
    fprintf(f, "# HELP alexclaw_memory_bytes Resident memory of the node.\n# TYPE alexclaw_memory_bytes gauge\n");
    fprintf(f, "alexclaw_memory_bytes %lld\n", (long long)json_integer_value(json_object_get(sys, "memory_bytes")));
    json_t *ex = json_object_get(sys, "executor");
    fprintf(f,
            "# HELP alexclaw_executor_jobs Executor jobs running and queued.\n# TYPE alexclaw_executor_jobs gauge\n");
    fprintf(f, "alexclaw_executor_jobs{state=\"running\"} %lld\nalexclaw_executor_jobs{state=\"queued\"} %lld\n",
            (long long)json_integer_value(json_object_get(ex, "running")),
            (long long)json_integer_value(json_object_get(ex, "queued")));
    fprintf(f, "# HELP alexclaw_workflow_runs_today Runs started today (UTC) by status.\n"
               "# TYPE alexclaw_workflow_runs_today gauge\n");
    const char *k;
    json_t *v;
    json_object_foreach(wf, k, v)
    {
        if (strcmp(k, "total") != 0)
            fprintf(f, "alexclaw_workflow_runs_today{status=\"%s\"} %lld\n", k, (long long)json_integer_value(v));
    }
    fprintf(f, "# HELP alexclaw_circuit_breaker_open 1 when a skill's breaker is open or half-open.\n"
               "# TYPE alexclaw_circuit_breaker_open gauge\n");
    json_object_foreach(json_object_get(json_object_get(m, "skills"), "circuit_breakers"), k, v)
    {
        fprintf(f, "alexclaw_circuit_breaker_open{skill=\"%s\"} %d\n", k,
                strcmp(json_string_value(json_object_get(v, "state")), "closed") != 0);
    }
    json_t *llm = json_object_get(m, "llm");
    fprintf(f, "# HELP alexclaw_llm_calls_today Successful LLM calls today (UTC).\n"
               "# TYPE alexclaw_llm_calls_today gauge\n");
    fprintf(f, "alexclaw_llm_calls_today %lld\n",
            (long long)json_integer_value(json_object_get(llm, "total_calls_today")));
    fprintf(f, "# HELP alexclaw_llm_provider_calls_today Successful LLM calls today (UTC) by provider.\n"
               "# TYPE alexclaw_llm_provider_calls_today gauge\n");
    size_t i;
    json_array_foreach(json_object_get(llm, "providers"), i, v)
    {
        fputs("alexclaw_llm_provider_calls_today{provider=\"", f);
        label_value(f, json_string_value(json_object_get(v, "name")));
        fprintf(f, "\"} %lld\n", (long long)json_integer_value(json_object_get(v, "usage_today")));
    }
    fclose(f);
    ac_web_respond(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", buf, len, NULL);
    free(buf);
}

static void metrics_done(h2o_req_t *req, void *arg)
{
    ac_web_call_t *c = arg;
    h2o_iovec_t accept = req != NULL ? ac_web_header(req, "accept") : h2o_iovec_init(NULL, 0);
    if (req != NULL && c->status == 200 && accept.base != NULL &&
        h2o_strstr(accept.base, accept.len, H2O_STRLIT("text/plain")) != SIZE_MAX &&
        h2o_strstr(accept.base, accept.len, H2O_STRLIT("application/json")) == SIZE_MAX) {
        metrics_text(req, c->body);
        json_decref(c->body);
        c->body = NULL;
        req = NULL;
    }
    ac_web_call_done(req, c);
}

void ac_web_metrics(ac_web_server_t *s, h2o_req_t *req)
{
    ac_web_jobs_defer(s->jobs, req, ac_web_call_run, metrics_done, ac_web_call_new(s, metrics_run));
}

/* --- /api/session, /api/status --- */

static void api_session(ac_web_server_t *s, h2o_req_t *req, const ac_web_who_t *who)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "via", who->session ? "session" : "token", "node", s->node_name,
                          "version", AC_VERSION, "tls", ac_web_is_tls(req));
    if (who->session)
        json_object_set_new(o, "csrf_token", json_string(who->csrf));
    ac_web_respond_json(req, 200, o);
}

/* The Telegram gateway's state for the Dashboard, and why it ignores messages when it does. */
static json_t *telegram_json(ac_web_server_t *s)
{
    ac_node_telegram_stats_t st;
    ac_node_telegram_stats(s->cfg.telegram, &st);
    ac_node_settings_t *set = s->cfg.settings;
    char *chat = NULL, *token = NULL;
    if (ac_node_settings_get_str(set, "telegram.chat_id", &chat) != 0)
        chat = NULL;
    if (ac_node_settings_get_str(set, "telegram.bot_token", &token) != 0)
        token = NULL;
    bool chat_set = chat != NULL && chat[0] != '\0', token_set = token != NULL && token[0] != '\0';
    bool enabled = ac_node_settings_bool_or(set, "telegram.enabled", true);
    free(chat);
    ac_free_secret_str(token);
    const char *note =
        !enabled     ? "Telegram is switched off (telegram.enabled)."
        : !token_set ? "No bot token (telegram.bot_token): Telegram is off."
        : !chat_set  ? "No chat id (telegram.chat_id): every message is ignored. Set it to your own "
                       "chat's id."
        : strcmp(st.state, "standby") == 0 ? "Another node sharing the database polls Telegram."
        : strcmp(st.state, "elsewhere") == 0
            ? "telegram.node names another node: that node polls Telegram (if it runs)."
        : strcmp(st.state, "conflict") == 0
            ? "Telegram refuses polling because a webhook is set for this bot: delete it (deleteWebhook)."
        : strcmp(st.state, "unauthorized") == 0 ? "Telegram refuses the bot token."
                                                : "";
    return json_pack("{s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:s}", "state", st.state, "token_configured", token_set,
                     "chat_configured", chat_set, "handled", (json_int_t)st.handled, "ignored_chat",
                     (json_int_t)st.ignored_chat, "ignored_other", (json_int_t)st.ignored_other, "errors",
                     (json_int_t)st.errors, "note", note);
}

static void status_run(PGconn *db, ac_web_call_t *c)
{
    PGresult *r;
    if (!ac_web_call_query(db, c,
                           "SELECT " RUN_COLUMNS " FROM workflow_runs r LEFT JOIN workflows w ON w.id = r.workflow_id "
                           "ORDER BY r.id DESC LIMIT 10",
                           0, NULL, &r))
        return;
    json_t *recent = ac_web_rows_json(r);
    PQclear(r);
    json_t *st = json_object();
    json_object_set_new(st, "node", json_string(c->s->node_name));
    json_object_set_new(st, "version", json_string(AC_VERSION));
    json_object_set_new(st, "system", system_json(c->s));
    json_object_set_new(st, "db", json_string("connected"));
    json_object_set_new(st, "recent_runs", recent);
    json_object_set_new(st, "circuit_breakers", breakers_json(c->s));
    json_object_set(st, "telegram", c->in); /* taken on the loop thread: the poller outlives the loop, not us */
    c->body = st;
}

/* --- workflows --- */

static void workflows_run(PGconn *db, ac_web_call_t *c)
{
    PGresult *r;
    if (!ac_web_call_query(db, c,
                           "SELECT w.id, w.name, w.description, w.enabled, w.schedule, w.node, "
                           "coalesce(w.metadata->'requires_2fa' = 'true'::jsonb, false) AS requires_2fa, "
                           "(SELECT count(*)::int FROM workflow_steps s WHERE s.workflow_id = w.id) AS steps "
                           "FROM workflows w ORDER BY w.name LIMIT 1000",
                           0, NULL, &r))
        return;
    c->body = json_pack("{s:o}", "workflows", ac_web_rows_json(r));
    PQclear(r);
}

static void workflow_export_run(PGconn *db, ac_web_call_t *c)
{
    char *text = NULL;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_wf_export(db, c->name, &text, &err);
    if (rc != 0) {
        c->status = rc == -AC_ENOENT ? 404 : 500;
        c->body = ac_web_error_body(rc == -AC_ENOENT ? "no such workflow" : err.msg);
        return;
    }
    c->body = json_loads(text, 0, NULL);
    free(text);
    if (c->body == NULL) {
        c->status = 500;
        c->body = ac_web_error_body("export failed");
    }
}

static void workflow_import_run(PGconn *db, ac_web_call_t *c)
{
    char *text = json_dumps(c->in, JSON_COMPACT);
    ac_node_wf_import_result_t res;
    ac_errmsg_t err = {{0}};
    int rc = text != NULL ? ac_node_wf_import(db, text, strlen(text), &res, &err) : -AC_EINVAL;
    free(text);
    if (rc != 0) {
        c->status = rc == -AC_EDB || rc == -AC_EDBDOWN ? 500 : 422;
        c->body = ac_web_error_body(err.msg[0] ? err.msg : "import failed");
        return;
    }
    c->status = 201;
    c->body = json_pack("{s:I,s:o,s:b}", "id", (json_int_t)res.id, "warnings", res.warnings, "enabled", 0);
}

/* Whether the workflow named c->name requires 2FA (false when there is none); false with c filled on a database
 * error (*failed set). */
static bool guarded_workflow(PGconn *db, ac_web_call_t *c, bool *failed)
{
    const char *p[] = {c->name};
    PGresult *r;
    *failed = false;
    if (!ac_web_call_query(db, c,
                           "SELECT coalesce(metadata->'requires_2fa' = 'true'::jsonb, false) FROM workflows "
                           "WHERE name = $1",
                           1, p, &r)) {
        *failed = true;
        return false;
    }
    bool g = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return g;
}

static void workflow_replace_run(PGconn *db, ac_web_call_t *c)
{
    bool failed = false;
    if (guarded_workflow(db, c, &failed) &&
        ac_web_twofa_gate(db, c, ac_node_action_workflow_replace(c->name, c->in), true))
        return;
    if (failed)
        return;
    char *text = json_dumps(c->in, JSON_COMPACT);
    ac_errmsg_t err = {{0}};
    int64_t id = 0;
    int rc = text != NULL ? ac_node_wf_replace(db, c->name, text, strlen(text), &id, &err) : -AC_EINVAL;
    free(text);
    c->status = rc == 0 ? 200 : rc == -AC_ENOENT ? 404 : rc == -AC_EEXIST ? 409 : rc == -AC_EINVAL ? 422 : 500;
    c->body = rc == 0 ? json_pack("{s:I,s:s}", "id", (json_int_t)id, "name",
                                  json_string_value(json_object_get(json_object_get(c->in, "workflow"), "name")))
                      : ac_web_error_body(err.msg[0] ? err.msg : "could not save the workflow");
    if (rc == 0)
        ac_log_info("web", "workflow_saved", "workflow=%s", c->name);
}

/* --- cluster --- */

static void cluster_run(PGconn *db, ac_web_call_t *c)
{
    PGresult *r;
    if (!ac_web_call_query(db, c,
                           "SELECT name, label, status, approved, " UTC_TEXT(
                               "last_seen_at") " AS "
                                               "last_seen_at FROM cluster_nodes ORDER BY name LIMIT 1000",
                           0, NULL, &r))
        return;
    c->body = json_pack("{s:s,s:b,s:o}", "node", c->s->node_name, "distribution", c->s->cfg.distribution, "nodes",
                        ac_web_rows_json(r));
    PQclear(r);
}

static void cluster_admin_run(PGconn *db, ac_web_call_t *c)
{
    ac_errmsg_t err = {{0}};
    ac_node_cluster_op_t op = (ac_node_cluster_op_t)c->id;
    int rc = ac_node_cluster_admin(db, c->name, op, &err);
    c->status = rc == 0 ? 200 : rc == -AC_ENOENT ? 404 : rc == -AC_EINVAL ? 400 : 500;
    c->body = rc == 0 ? json_pack("{s:s,s:s}", "name", c->name, "done",
                                  op == AC_NODE_CLUSTER_APPROVE  ? "approved"
                                  : op == AC_NODE_CLUSTER_REVOKE ? "revoked"
                                                                 : "removed")
                      : ac_web_error_body(err.msg);
    if (rc == 0)
        ac_log_info("web", "cluster_changed", "node=%s op=%d", c->name, (int)op);
}

static void workflow_enable_run(PGconn *db, ac_web_call_t *c)
{
    bool failed = false;
    if (guarded_workflow(db, c, &failed) &&
        ac_web_twofa_gate(db, c, ac_node_action_workflow_enable(c->name, c->id != 0), true))
        return;
    if (failed)
        return;
    const char *p[] = {c->name, c->id ? "true" : "false"};
    PGresult *r;
    if (!ac_web_call_query(
            db, c, "UPDATE workflows SET enabled = $2::boolean, updated_at = now() AT TIME ZONE 'utc' WHERE name = $1",
            2, p, &r))
        return;
    bool found = atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    c->status = found ? 200 : 404;
    c->body =
        found ? json_pack("{s:s,s:b}", "name", c->name, "enabled", (int)c->id) : ac_web_error_body("no such workflow");
}

/* Run now: handed to the executor pool as a person's run; answered once the run row is committed. */
typedef struct {
    h2o_timeout_entry_t wait; /* first: the timer's callback gets this entry */
    ac_web_server_t *s;
    ac_web_pending_t *pending;
    bool answered; /* the timer answered "queued" */
    int64_t run_id;
    int code;
    char reason[128];
    char name[AC_WEB_NAME_MAX + 1];
} runnow_t;

/* A person's "Run now" of a workflow that requires 2FA while 2FA is on: a challenge for exactly that run. */
static void runnow_challenge_run(PGconn *db, ac_web_call_t *c)
{
    const char *p[] = {c->name};
    PGresult *r;
    if (!ac_web_call_query(db, c, "SELECT id FROM workflows WHERE name = $1", 1, p, &r))
        return;
    if (PQntuples(r) != 1) {
        PQclear(r);
        c->status = 404;
        c->body = ac_web_error_body("no such workflow");
        return;
    }
    int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    ac_web_twofa_gate(db, c, ac_node_action_run_workflow(id, c->name), true);
}

/* The executor is busy: the run waits in its queue. Answer now rather than keep the client waiting for hours. */
static void runnow_waited(h2o_timeout_entry_t *entry)
{
    runnow_t *rn = (runnow_t *)entry;
    h2o_req_t *req = ac_web_jobs_pending_req(rn->pending);
    rn->answered = true;
    if (req != NULL)
        ac_web_respond_json(req, 202,
                            json_pack("{s:b,s:s}", "queued", 1, "note",
                                      "the executor is busy: the run starts when a worker is free (see Runs)"));
}

static void runnow_started(void *arg, int64_t run_id)
{
    runnow_t *rn = arg;
    rn->run_id = run_id;
    ac_web_jobs_resolve(rn->s->jobs, rn->pending);
}

static void runnow_refused(void *arg, int code, const char *reason)
{
    runnow_t *rn = arg;
    rn->code = code;
    snprintf(rn->reason, sizeof(rn->reason), "%s", reason);
    ac_web_jobs_resolve(rn->s->jobs, rn->pending);
}

static void runnow_done(h2o_req_t *req, void *arg)
{
    runnow_t *rn = arg;
    if (h2o_timeout_is_linked(&rn->wait))
        h2o_timeout_unlink(&rn->wait);
    if (rn->answered)
        req = NULL; /* answered already (queued) */
    if (req != NULL && rn->run_id > 0)
        ac_web_respond_json(req, 202, json_pack("{s:I}", "run_id", (json_int_t)rn->run_id));
    else if (req != NULL && strcmp(rn->reason, "requires_2fa") == 0 && !ac_node_twofa_enabled(rn->s->cfg.settings))
        ac_web_respond_json(req, 403,
                            json_pack("{s:s,s:s}", "error",
                                      "this workflow requires two-factor authentication: set up 2FA first (Config)",
                                      "reason", "requires_2fa"));
    else if (req != NULL && strcmp(rn->reason, "requires_2fa") == 0) {
        ac_web_call_t *c = ac_web_call_new(rn->s, runnow_challenge_run); /* the code decides */
        snprintf(c->name, sizeof(c->name), "%s", rn->name);
        ac_web_call_defer(rn->s, req, c);
    } else if (req != NULL)
        ac_web_error(req, rn->code == -AC_ENOENT ? 404 : 503,
                     rn->code == -AC_ENOENT ? "no such workflow, or it is disabled" : rn->reason);
    free(rn);
}

static void workflow_run_now(ac_web_server_t *s, h2o_req_t *req, const char *name)
{
    runnow_t *rn = ac_calloc(1, sizeof(*rn));
    rn->s = s;
    snprintf(rn->name, sizeof(rn->name), "%s", name);
    rn->pending = ac_web_jobs_pend(s->jobs, req, runnow_done, rn);
    ac_node_wf_job_t job = {.workflow_name = name,
                            .trigger = AC_WF_TRIGGER_PERSON,
                            .refuse_2fa = true, /* a workflow that requires 2FA gets a challenge (runnow_done) */
                            .on_started = runnow_started,
                            .on_refused = runnow_refused,
                            .arg = rn};
    if (ac_node_wf_pool_submit(s->cfg.pool, &job) != 0) {
        rn->code = -AC_EAGAIN;
        snprintf(rn->reason, sizeof(rn->reason), "the executor is busy; try again");
        ac_web_jobs_resolve(s->jobs, rn->pending);
        return;
    }
    rn->wait.cb = runnow_waited;
    h2o_timeout_link(s->loop, &s->runnow_timeout, &rn->wait);
}

/* --- runs --- */

static void runs_run(PGconn *db, ac_web_call_t *c)
{
    char limit[32];
    snprintf(limit, sizeof(limit), "%lld", (long long)c->limit);
    const char *p[] = {c->name[0] ? c->name : NULL, limit};
    PGresult *r;
    if (!ac_web_call_query(db, c,
                           "SELECT " RUN_COLUMNS " FROM workflow_runs r LEFT JOIN workflows w ON w.id = r.workflow_id "
                           "WHERE $1::text IS NULL OR w.name = $1 ORDER BY r.id DESC LIMIT $2::int",
                           2, p, &r))
        return;
    c->body = json_pack("{s:o}", "runs", ac_web_rows_json(r));
    PQclear(r);
}

static void run_one_run(PGconn *db, ac_web_call_t *c)
{
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)c->id);
    const char *p[] = {id};
    PGresult *r;
    if (!ac_web_call_query(
            db, c,
            "SELECT " RUN_COLUMNS ", r.result::text AS result_json, r.step_results::text AS step_results_json, "
            "(SELECT json_agg(json_build_object('position', o.step_position, 'skill', o.skill_name, "
            "'duration_ms', o.duration_ms, 'metadata', o.metadata) ORDER BY o.id)::text FROM skill_outcomes o "
            "WHERE o.workflow_run_id = r.id) AS path_json "
            "FROM workflow_runs r LEFT JOIN workflows w ON w.id = r.workflow_id WHERE r.id = $1::bigint",
            1, p, &r))
        return;
    json_t *rows = ac_web_rows_json(r);
    PQclear(r);
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        c->status = 404;
        c->body = ac_web_error_body("no such run");
        return;
    }
    c->body = json_incref(json_array_get(rows, 0));
    json_decref(rows);
}

static void run_cancel_run(PGconn *db, ac_web_call_t *c)
{
    ac_errmsg_t err = {{0}};
    int rc = ac_node_wf_cancel(db, c->id, &err);
    c->status = rc == 0 ? 200 : rc == -AC_ENOENT ? 404 : rc == -AC_ESTATE ? 409 : 500;
    c->body =
        rc == 0 ? json_pack("{s:I,s:s}", "id", (json_int_t)c->id, "status", "cancelled") : ac_web_error_body(err.msg);
}

/* --- settings and the API token --- */

static void settings_list(ac_web_server_t *s, h2o_req_t *req)
{
    ac_node_setting_t *rows = NULL;
    size_t n = 0;
    ac_node_settings_list(s->cfg.settings, NULL, &rows, &n); /* sensitive values come masked */
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        ac_node_setting_t *r = &rows[i];
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "key", r->key, "type", ac_node_setting_type_name(r->type),
                              "category", r->category != NULL ? r->category : "", "description",
                              r->description != NULL ? r->description : "", "sensitive", r->sensitive, "readable",
                              r->error == 0);
        json_object_set_new(o, "value", r->value == NULL ? json_null() : json_string(r->value));
        if (r->sensitive) /* the mask of a non-empty value is non-empty */
            json_object_set_new(o, "set", json_boolean(r->value != NULL && r->value[0] != '\0'));
        json_array_append_new(a, o);
    }
    ac_node_settings_rows_free(rows, n);
    ac_web_respond_json(req, 200, json_pack("{s:o}", "settings", a));
}

static void setting_set_run(PGconn *db, ac_web_call_t *c)
{
    json_t *v = json_object_get(c->in, "value");
    char num[64];
    const char *value = json_is_string(v) ? json_string_value(v) : NULL;
    if (json_is_integer(v) || json_is_boolean(v) || json_is_real(v)) {
        if (json_is_integer(v))
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        else if (json_is_boolean(v))
            snprintf(num, sizeof(num), "%s", json_is_true(v) ? "true" : "false");
        else
            snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        value = num;
    }
    if (value == NULL) {
        c->status = 400;
        c->body = ac_web_error_body("the body must be {\"value\": string, number or boolean}");
        return;
    }
    if (ac_node_twofa_key_guarded(c->name) &&
        ac_web_twofa_gate(db, c, ac_node_action_setting(c->s->cfg.settings, c->name, value, NULL), true))
        return;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_settings_store_set(db, c->s->cfg.settings, c->name, value, NULL, &err);
    c->status = rc == 0 ? 200 : rc == -AC_EDB || rc == -AC_EDBDOWN ? 503 : 422;
    c->body = rc == 0 ? json_pack("{s:s,s:b}", "key", c->name, "saved", 1) : ac_web_error_body(err.msg);
    ac_log_info("web", "setting_changed", "key=%s ok=%s", c->name, rc == 0 ? "yes" : "no");
}

/* POST /api/token: a new token, after a code while 2FA is on (approved in the admin UI only: the answer is the
 * token). */
static void token_rotate_run(PGconn *db, ac_web_call_t *c)
{
    if (ac_web_twofa_gate(db, c, json_pack("{s:s}", "type", "api_token"), false))
        return;
    ac_web_twofa_token_rotate(db, c);
}

static void logs_get(h2o_req_t *req)
{
    char *lines[AC_LOG_RING_LINES];
    size_t n = ac_log_ring_copy(lines, AC_LOG_RING_LINES);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_string(lines[i]));
        free(lines[i]);
    }
    ac_web_respond_json(req, 200, json_pack("{s:o}", "lines", a));
}

/* --- dispatch --- */

/* The path segment after prefix, copied into out (no '/'); false when absent, empty, too long or not printable. */
static bool segment(const char *path, const char *prefix, char *out, size_t cap, const char **rest)
{
    size_t pl = strlen(prefix);
    if (strncmp(path, prefix, pl) != 0)
        return false;
    const char *p = path + pl, *end = strchr(p, '/');
    size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
    if (n == 0 || n >= 3 * cap) /* encoded, each byte may take 3 characters; the decoded length is checked below */
        return false;
    bool ok = ac_web_percent_decode(p, n, false, out, cap) && out[0] != '\0';
    for (const char *q = out; ok && *q; q++)
        ok = (unsigned char)*q >= 0x20;
    *rest = end != NULL ? end : "";
    return ok;
}

static json_t *body_json(h2o_req_t *req)
{
    if (req->entity.base == NULL || req->entity.len == 0)
        return NULL;
    return json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, NULL);
}

void ac_web_api(ac_web_server_t *s, h2o_req_t *req, const char *path, const ac_web_who_t *who)
{
    bool get = ac_web_method_is(req, "GET") || ac_web_method_is(req, "HEAD");
    bool post = ac_web_method_is(req, "POST"), put = ac_web_method_is(req, "PUT");
    char name[AC_WEB_NAME_MAX + 1];
    const char *rest = "";
    ac_web_call_t *c;

    if (strcmp(path, "/api/session") == 0 && get) {
        api_session(s, req, who);
    } else if (strcmp(path, "/api/status") == 0 && get) {
        ac_web_call_t *st = ac_web_call_new(s, status_run);
        st->in = telegram_json(s);
        ac_web_call_defer(s, req, st);
    } else if (strcmp(path, "/api/workflows") == 0 && get) {
        ac_web_call_defer(s, req, ac_web_call_new(s, workflows_run));
    } else if (strcmp(path, "/api/workflows") == 0 && post) {
        json_t *in = body_json(req);
        if (!json_is_object(in)) {
            json_decref(in);
            ac_web_error(req, 400, "the body must be a workflow export (JSON object)");
            return;
        }
        c = ac_web_call_new(s, workflow_import_run);
        c->in = in;
        ac_web_call_defer(s, req, c);
    } else if (segment(path, "/api/workflows/", name, sizeof(name), &rest)) {
        if (rest[0] == '\0' && get) {
            c = ac_web_call_new(s, workflow_export_run);
            snprintf(c->name, sizeof(c->name), "%s", name);
            ac_web_call_defer(s, req, c);
        } else if (rest[0] == '\0' && put) {
            json_t *in = body_json(req);
            if (!json_is_object(in)) {
                json_decref(in);
                ac_web_error(req, 400, "the body must be the workflow in the export format (JSON object)");
                return;
            }
            c = ac_web_call_new(s, workflow_replace_run);
            snprintf(c->name, sizeof(c->name), "%s", name);
            c->in = in;
            ac_web_call_defer(s, req, c);
        } else if (strcmp(rest, "/run") == 0 && post) {
            workflow_run_now(s, req, name);
        } else if ((strcmp(rest, "/enable") == 0 || strcmp(rest, "/disable") == 0) && post) {
            c = ac_web_call_new(s, workflow_enable_run);
            snprintf(c->name, sizeof(c->name), "%s", name);
            c->id = strcmp(rest, "/enable") == 0;
            ac_web_call_defer(s, req, c);
        } else {
            ac_web_error(req, 404, "no such endpoint");
        }
    } else if (strcmp(path, "/api/runs") == 0 && get) {
        char q[32];
        c = ac_web_call_new(s, runs_run);
        c->limit = ac_web_query_value(req, "limit", q, sizeof(q)) ? strtoll(q, NULL, 10) : 50;
        c->limit = c->limit < 1 ? 1 : c->limit > LIST_MAX ? LIST_MAX : c->limit;
        if (!ac_web_query_value(req, "workflow", c->name, sizeof(c->name)))
            c->name[0] = '\0';
        ac_web_call_defer(s, req, c);
    } else if (segment(path, "/api/runs/", name, sizeof(name), &rest)) {
        char *end = NULL;
        long long id = strtoll(name, &end, 10);
        if (end == NULL || *end != '\0' || id <= 0) {
            ac_web_error(req, 404, "no such run");
        } else if ((rest[0] == '\0' && get) || (strcmp(rest, "/cancel") == 0 && post)) {
            c = ac_web_call_new(s, rest[0] == '\0' ? run_one_run : run_cancel_run);
            c->id = id;
            ac_web_call_defer(s, req, c);
        } else {
            ac_web_error(req, 404, "no such endpoint");
        }
    } else if (strcmp(path, "/api/settings") == 0 && get) {
        settings_list(s, req);
    } else if (segment(path, "/api/settings/", name, sizeof(name), &rest) && rest[0] == '\0' && put) {
        ac_errmsg_t err = {{0}};
        json_t *in = body_json(req);
        if (ac_node_setting_key_check(name, &err) != 0 || strcmp(name, "api.token") == 0 ||
            ac_web_twofa_key_reserved(name) || !json_is_object(in)) {
            json_decref(in);
            ac_web_error(req, 400,
                         err.msg[0]                        ? err.msg
                         : strcmp(name, "api.token") == 0  ? "api.token is made with POST /api/token"
                         : ac_web_twofa_key_reserved(name) ? "two-factor settings change through /api/2fa"
                                                           : "the body must be {\"value\": ...}");
            return;
        }
        c = ac_web_call_new(s, setting_set_run);
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->in = in;
        ac_web_call_defer(s, req, c);
    } else if (strcmp(path, "/api/token") == 0 && post) {
        ac_web_call_defer(s, req, ac_web_call_new(s, token_rotate_run));
    } else if (strcmp(path, "/api/2fa") == 0 || strncmp(path, "/api/2fa/", 9) == 0) {
        ac_web_twofa_api(s, req, path);
    } else if (strcmp(path, "/api/policies") == 0 || strncmp(path, "/api/policies/", 14) == 0 ||
               strcmp(path, "/api/audit") == 0 || strncmp(path, "/api/audit/", 11) == 0) {
        ac_web_policies_api(s, req, path);
    } else if (strcmp(path, "/api/cluster") == 0 && get) {
        ac_web_call_defer(s, req, ac_web_call_new(s, cluster_run));
    } else if (segment(path, "/api/cluster/", name, sizeof(name), &rest) && post &&
               (strcmp(rest, "/approve") == 0 || strcmp(rest, "/revoke") == 0 || strcmp(rest, "/remove") == 0)) {
        c = ac_web_call_new(s, cluster_admin_run);
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->id = strcmp(rest, "/approve") == 0  ? AC_NODE_CLUSTER_APPROVE
                : strcmp(rest, "/revoke") == 0 ? AC_NODE_CLUSTER_REVOKE
                                               : AC_NODE_CLUSTER_REMOVE;
        ac_web_call_defer(s, req, c);
    } else if (strcmp(path, "/api/skills") == 0 || strncmp(path, "/api/skills/", 12) == 0) {
        ac_web_skills_api(s, req, path);
    } else if (strncmp(path, "/api/llm/", 9) == 0) {
        ac_web_llm_api(s, req, path);
    } else if (strcmp(path, "/api/logs") == 0 && get) {
        logs_get(req);
    } else {
        ac_web_error(req, 404, "no such endpoint");
    }
}
