/* node/wf_exec.c - the workflow executor of wf_exec.h. */
#include "node/wf_exec.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAPSHOT_CHARS    2048
#define STORED_OUTPUT_MAX (1024 * 1024) /* a step output larger than this is stored cut, as a string */

typedef enum { STEP_OK, STEP_SKIPPED, STEP_ERROR } step_kind_t;

typedef struct {
    step_kind_t kind;
    json_t *output; /* ok: the output; skipped: the input passed on; owned */
    char branch[AC_SKILL_BRANCH_MAX];
    char error[AC_SKILL_ERROR_MAX];
} step_result_t;

const char *ac_node_wf_status_name(ac_node_wf_status_t s)
{
    static const char *const names[] = {"completed", "failed", "cancelled"};
    return (unsigned)s < 3 ? names[s] : "unknown";
}

void ac_node_wf_outcome_clear(ac_node_wf_outcome_t *out)
{
    json_decref(out->result);
    memset(out, 0, sizeof(*out));
}

static const ac_node_wf_step_t *step_at(const ac_node_wf_t *wf, int pos)
{
    for (size_t i = 0; i < wf->nsteps; i++)
        if (wf->steps[i].position == pos)
            return &wf->steps[i];
    return NULL;
}

/* The next position after pos, or -1 (steps are sorted). */
static int next_position(const ac_node_wf_t *wf, int pos, bool *found)
{
    for (size_t i = 0; i < wf->nsteps; i++) {
        if (wf->steps[i].position > pos) {
            *found = true;
            return wf->steps[i].position;
        }
    }
    *found = false;
    return 0;
}

/* Resolves a route target: *end = true for "end" (or a bad goto); else *pos. */
static void route_target(json_t *route, int *pos, bool *end)
{
    json_t *g = json_object_get(route, "goto");
    if (json_is_integer(g) && json_integer_value(g) >= INT32_MIN && json_integer_value(g) <= INT32_MAX) {
        *pos = (int)json_integer_value(g);
        *end = false;
    } else {
        *end = true;
    }
}

/* Finds the route for `branch` (then "default"). Returns the route object or NULL. */
static json_t *find_route(json_t *routes, const char *branch)
{
    size_t i;
    json_t *r;
    json_array_foreach(routes, i, r)
    {
        json_t *b = json_object_get(r, "branch");
        if (json_is_string(b) && strcmp(json_string_value(b), branch) == 0)
            return r;
    }
    json_array_foreach(routes, i, r)
    {
        json_t *b = json_object_get(r, "branch");
        if (json_is_string(b) && strcmp(json_string_value(b), "default") == 0)
            return r;
    }
    return NULL;
}

static int64_t step_timeout_ms(const ac_node_wf_env_t *env, const ac_node_wf_step_t *st)
{
    json_t *t = json_object_get(st->config, "timeout_ms");
    if (json_is_integer(t) && json_integer_value(t) > 0)
        return json_integer_value(t) < 86400000 ? json_integer_value(t) : 86400000; /* at most a day */
    int64_t d = ac_node_settings_int_or(env->base.settings, "workflow.step_timeout_ms", 60000);
    return d > 0 ? d : 60000;
}

/* Calls one skill through its breaker. Returns 0 when it ran (result filled), -AC_ESTATE when its circuit is open. */
static int call_skill(ac_node_wf_env_t *env, const ac_skill_def_t *def, const ac_node_wf_step_t *st, json_t *input,
                      json_t *config, int64_t run_id, volatile sig_atomic_t *cancel, step_result_t *out)
{
    ac_skills_breaker_ticket_t ticket;
    /* limits follow the settings at runtime */
    ac_skills_breakers_configure(
        env->breakers, (int)ac_node_settings_int_or(env->base.settings, "skills.circuit_breaker.max_failures", 3),
        ac_node_settings_int_or(env->base.settings, "skills.circuit_breaker.reset_seconds", 300) * 1000);
    if (ac_skills_breakers_acquire(env->breakers, def->name, ac_skill_now_ms(), &ticket) != 0)
        return -AC_ESTATE;
    ac_skill_ctx_t ctx = env->base;
    int64_t timeout = step_timeout_ms(env, st);
    ctx.run_id = run_id;
    ctx.deadline_ms = ac_skill_now_ms() + timeout;
    ctx.cancel = cancel;
    ac_skill_args_t args = {input, config, st->prompt_template, st->llm_tier, st->llm_model};
    ac_skill_result_t res;
    memset(&res, 0, sizeof(res));
    int rc = def->run(&ctx, &args, &res);
    /* The contract makes skills stop at the deadline; one that returned late failed the step all the same. */
    if (rc == 0 && ac_skill_now_ms() > ctx.deadline_ms + 1000) {
        json_decref(res.output);
        res.output = NULL;
        rc = ac_skill_fail(&res, "timeout", "step exceeded %lld ms", (long long)timeout);
    }
    ac_skills_breakers_release(env->breakers, def->name, &ticket, rc == 0, res.error, ac_skill_now_ms());
    if (rc == 0) {
        out->kind = STEP_OK;
        out->output = res.output;
        snprintf(out->branch, sizeof(out->branch), "%s", res.branch[0] ? res.branch : "on_success");
    } else {
        json_decref(res.output);
        out->kind = STEP_ERROR;
        snprintf(out->error, sizeof(out->error), "%s", res.error[0] ? res.error : "skill_failed");
    }
    return 0;
}

static void skip(step_result_t *out, json_t *input)
{
    out->kind = STEP_SKIPPED;
    out->output = input != NULL ? json_incref(input) : NULL;
}

/* Sets the step's error to "code: detail". */
static void fail(step_result_t *out, const char *code, const char *detail)
{
    out->kind = STEP_ERROR;
    snprintf(out->error, sizeof(out->error), "%s: %s", code, detail);
}

/* Runs a fallback skill named in config[key_name] (through its breaker). */
static void run_fallback(ac_node_wf_env_t *env, const ac_node_wf_step_t *st, json_t *input, json_t *config,
                         int64_t run_id, volatile sig_atomic_t *cancel, step_result_t *out)
{
    json_t *fb = json_object_get(config, "fallback_skill");
    const char *name = json_is_string(fb) ? json_string_value(fb) : "";
    const ac_skill_def_t *def = name[0] ? ac_skills_registry_find(env->registry, name) : NULL;
    if (def == NULL) {
        fail(out, "fallback_not_found", name);
        return;
    }
    if (call_skill(env, def, st, input, config, run_id, cancel, out) != 0)
        fail(out, "circuit_open", def->name);
}

static void exec_step(ac_node_wf_env_t *env, const ac_node_wf_step_t *st, json_t *input, json_t *config, int64_t run_id,
                      volatile sig_atomic_t *cancel, step_result_t *out)
{
    const ac_skill_def_t *def = ac_skills_registry_find(env->registry, st->skill);
    const char *mode;
    if (def == NULL) {
        mode = json_string_value(json_object_get(config, "on_missing_skill"));
        if (mode != NULL && strcmp(mode, "skip") == 0)
            skip(out, input);
        else if (mode != NULL && strcmp(mode, "fallback") == 0)
            run_fallback(env, st, input, config, run_id, cancel, out);
        else
            fail(out, "unknown_skill", st->skill);
        return;
    }
    if (call_skill(env, def, st, input, config, run_id, cancel, out) == 0)
        return;
    mode = json_string_value(json_object_get(config, "on_circuit_open"));
    if (mode != NULL && strcmp(mode, "skip") == 0)
        skip(out, input);
    else if (mode != NULL && strcmp(mode, "fallback") == 0)
        run_fallback(env, st, input, config, run_id, cancel, out);
    else
        fail(out, "circuit_open", st->skill);
}

/* Length of the longest prefix of s (at most max bytes) that ends on a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

/* A JSON value fit for storage: itself, or (when its encoding is larger than STORED_OUTPUT_MAX) its text cut on a
 * character boundary. Never NULL. */
static json_t *storable(json_t *v)
{
    if (v == NULL)
        return json_null();
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t n = s != NULL ? strlen(s) : 0;
    if (s != NULL && n <= STORED_OUTPUT_MAX) {
        free(s);
        return json_incref(v);
    }
    const char *src = json_is_string(v) ? json_string_value(v) : s;
    size_t srclen = json_is_string(v) ? json_string_length(v) : n;
    json_t *cut = src != NULL ? json_stringn(src, utf8_cut(src, srclen, STORED_OUTPUT_MAX)) : NULL;
    free(s);
    return cut != NULL ? cut : json_string("(output not storable)");
}

static json_t *snapshot(json_t *v)
{
    char *t = ac_skill_input_text(v);
    size_t n = strlen(t), chars = 0, i = 0;
    for (; i < n; i++) {
        if (((unsigned char)t[i] & 0xc0) != 0x80 && chars++ == SNAPSHOT_CHARS)
            break;
    }
    json_t *s = json_stringn(t, i);
    free(t);
    return s != NULL ? s : json_string("");
}

/* Commits one step: its entry in step_results and its skill_outcomes row, in one statement. With fin (the run ends
 * with this step) the same statement also records the run's outcome and releases its liveness lock: one commit
 * instead of two. Returns 0, -AC_ESTATE when the run is no longer running (cancelled), or a database error. */
static int persist_step(PGconn *c, int64_t run_id, const ac_node_wf_step_t *st, const step_result_t *r,
                        int64_t duration_ms, const ac_node_wf_outcome_t *fin, ac_errmsg_t *err)
{
    json_t *entry = json_object(), *snap = json_object(), *meta = json_object();
    json_object_set_new(entry, "name", json_string(st->name));
    json_object_set_new(entry, "skill", json_string(st->skill));
    if (r->kind == STEP_ERROR) {
        json_object_set_new(entry, "error", json_string(r->error));
        json_object_set_new(snap, "error", json_string(r->error));
        json_object_set_new(meta, "error", json_string(r->error));
    } else if (r->kind == STEP_SKIPPED) {
        json_object_set_new(entry, "branch", json_string("skipped"));
        json_object_set_new(entry, "output", storable(r->output));
        json_object_set_new(meta, "skipped", json_true());
    } else {
        json_object_set_new(entry, "branch", json_string(r->branch));
        json_object_set_new(entry, "output", storable(r->output));
        json_object_set_new(snap, "output", snapshot(r->output));
        json_object_set_new(meta, "branch", json_string(r->branch));
    }
    json_t *results = json_object();
    char pos[16];
    snprintf(pos, sizeof(pos), "%d", st->position);
    json_object_set_new(results, pos, entry);
    char *results_s = json_dumps(results, JSON_COMPACT);
    char *snap_s = json_dumps(snap, JSON_COMPACT);
    char *meta_s = json_dumps(meta, JSON_COMPACT);
    json_decref(results);
    json_decref(snap);
    json_decref(meta);
    if (results_s == NULL || snap_s == NULL || meta_s == NULL) {
        /* never bind NULL: `step_results || NULL` would wipe every earlier result */
        free(results_s);
        free(snap_s);
        free(meta_s);
        return ac_errmsg_set(err, -AC_EINVAL, "step %d: result could not be encoded", st->position);
    }
    char id[32], dur[32], base[32];
    snprintf(id, sizeof(id), "%lld", (long long)run_id);
    snprintf(dur, sizeof(dur), "%lld", (long long)(duration_ms > INT32_MAX ? INT32_MAX : duration_ms));
    snprintf(base, sizeof(base), "%lld", AC_NODE_DB_LOCK_RUN_BASE);
    char *result = fin != NULL && fin->result != NULL ? json_dumps(fin->result, JSON_COMPACT) : NULL;
    PGresult *res;
    if (fin == NULL) {
        const char *p[] = {id, results_s, pos, st->skill, dur, snap_s, meta_s};
        res = PQexecParams(
            c,
            "WITH u AS (UPDATE workflow_runs SET step_results = step_results || $2::jsonb, "
            "updated_at = now() AT TIME ZONE 'utc' WHERE id = $1::bigint AND status = 'running' RETURNING id) "
            "INSERT INTO skill_outcomes (workflow_run_id, step_position, skill_name, duration_ms, output_snapshot, "
            "metadata) SELECT id, $3::integer, $4, $5::integer, $6::jsonb, $7::jsonb FROM u RETURNING 1",
            7, NULL, p, NULL, NULL, 0);
    } else {
        const char *p[] = {id,
                           results_s,
                           pos,
                           st->skill,
                           dur,
                           snap_s,
                           meta_s,
                           ac_node_wf_status_name(fin->status),
                           result != NULL ? result : "{}",
                           fin->status == AC_WF_COMPLETED ? NULL : fin->error,
                           base};
        res = PQexecParams(
            c,
            "WITH u AS (UPDATE workflow_runs SET step_results = step_results || $2::jsonb, status = $8, "
            "completed_at = now() AT TIME ZONE 'utc', result = $9::jsonb, error = $10, "
            "updated_at = now() AT TIME ZONE 'utc' WHERE id = $1::bigint AND status = 'running' RETURNING id), "
            "o AS (INSERT INTO skill_outcomes (workflow_run_id, step_position, skill_name, duration_ms, "
            "output_snapshot, metadata) SELECT id, $3::integer, $4, $5::integer, $6::jsonb, $7::jsonb FROM u "
            "RETURNING 1) "
            "SELECT (SELECT count(*) FROM o), pg_advisory_unlock($11::bigint + $1::bigint)",
            11, NULL, p, NULL, NULL, 0);
    }
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = ac_errmsg_set(err, PQstatus(c) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN, "recording step %d: %s",
                           st->position, PQerrorMessage(c));
    else if (PQntuples(res) == 0 || (fin != NULL && strcmp(PQgetvalue(res, 0, 0), "0") == 0))
        rc = -AC_ESTATE; /* with fin the lock is released either way */
    PQclear(res);
    free(result);
    free(results_s);
    free(snap_s);
    free(meta_s);
    return rc;
}

/* Records the run in one statement (one round trip, one commit): the row and its liveness lock, taken inside the
 * same statement, so no other session can see the row without the lock already held. */
static int start_run(PGconn *c, const ac_node_wf_t *wf, const char *node, int64_t *run_id, ac_errmsg_t *err)
{
    char wid[32], base[32];
    snprintf(wid, sizeof(wid), "%lld", (long long)wf->id);
    snprintf(base, sizeof(base), "%lld", AC_NODE_DB_LOCK_RUN_BASE);
    const char *p[] = {wid, node, base};
    PGresult *r = PQexecParams(c,
                               "WITH ins AS (INSERT INTO workflow_runs (workflow_id, status, started_at, node) "
                               "VALUES ($1::bigint, 'running', now() AT TIME ZONE 'utc', $2) RETURNING id) "
                               "SELECT id, pg_advisory_lock($3::bigint + id) FROM ins",
                               3, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        rc = ac_errmsg_set(err, PQstatus(c) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN, "recording run: %s",
                           PQerrorMessage(c));
    else
        *run_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

/* Records the outcome and releases the liveness lock, in one statement. */
static void finish_run(PGconn *c, int64_t run_id, ac_node_wf_outcome_t *out)
{
    char id[32], base[32];
    snprintf(id, sizeof(id), "%lld", (long long)run_id);
    snprintf(base, sizeof(base), "%lld", AC_NODE_DB_LOCK_RUN_BASE);
    char *result = out->result != NULL ? json_dumps(out->result, JSON_COMPACT) : NULL;
    const char *p[] = {id, ac_node_wf_status_name(out->status), result != NULL ? result : "{}",
                       out->status == AC_WF_COMPLETED ? NULL : out->error, base};
    PGresult *r = PQexecParams(c,
                               "WITH u AS (UPDATE workflow_runs SET status = $2, completed_at = now() AT TIME ZONE "
                               "'utc', result = $3::jsonb, error = $4, updated_at = now() AT TIME ZONE 'utc' "
                               "WHERE id = $1::bigint AND status = 'running' RETURNING id) "
                               "SELECT (SELECT count(*) FROM u), pg_advisory_unlock($5::bigint + $1::bigint)",
                               5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ac_log_error("workflow", "finish_failed", "run=%lld error=%s", (long long)run_id, PQerrorMessage(c));
        /* never keep the liveness lock of a run that is over: recovery can then mark it failed */
        PQclear(PQexecParams(c, "SELECT pg_advisory_unlock($2::bigint + $1::bigint)", 2, NULL,
                             (const char *[]){id, base}, NULL, NULL, 0));
    } else if (strcmp(PQgetvalue(r, 0, 0), "0") == 0) {
        /* cancelled in the meantime: the caller hears what the database says */
        out->status = AC_WF_CANCELLED;
        snprintf(out->error, sizeof(out->error), "cancelled");
        json_decref(out->result);
        out->result = NULL;
    }
    PQclear(r);
    free(result);
}

/* outputs: a small map position -> output, in the order steps ran. */
typedef struct {
    int pos;
    json_t *v;
} slot_t;

static json_t *output_of(slot_t *o, size_t n, int pos)
{
    for (size_t i = 0; i < n; i++)
        if (o[i].pos == pos)
            return o[i].v;
    return NULL;
}

/* The original's default input: the output of the step at the highest position below pos, or none when that step
 * did not run (it was jumped over). */
static json_t *previous_output(const ac_node_wf_t *wf, slot_t *o, size_t n, int pos)
{
    bool any = false;
    int prev = 0;
    for (size_t i = 0; i < wf->nsteps; i++) {
        if (wf->steps[i].position < pos && (!any || wf->steps[i].position > prev)) {
            prev = wf->steps[i].position;
            any = true;
        }
    }
    return any ? output_of(o, n, prev) : NULL;
}

int ac_node_wf_run(ac_node_wf_env_t *env, const ac_node_wf_t *wf, const ac_node_wf_run_opts_t *opts,
                   ac_node_wf_outcome_t *out, ac_errmsg_t *err)
{
    memset(out, 0, sizeof(*out));
    int64_t run_id = 0;
    int rc = start_run(env->db, wf, env->base.node_name, &run_id, err);
    if (rc != 0)
        return rc;
    out->run_id = run_id;
    ac_log_info("workflow", "run_started", "run=%lld workflow=%s steps=%zu", (long long)run_id, wf->name, wf->nsteps);
    if (opts != NULL && opts->on_started != NULL)
        opts->on_started(opts->arg, run_id);

    volatile sig_atomic_t *cancel = opts != NULL ? opts->cancel : NULL;
    slot_t *outputs = ac_calloc(wf->nsteps + 1, sizeof(*outputs));
    size_t nout = 0;
    int visited_n = 0, *visited = ac_calloc(wf->nsteps + 1, sizeof(int));
    size_t iterations = 0, max_iterations = 2 * wf->nsteps;
    int highest_pos = 0;
    bool any_ran = false;
    json_t *highest_output = NULL;
    bool finished = false; /* finished: the outcome is recorded and the lock released */
    int pos = wf->nsteps > 0 ? wf->steps[0].position : 0;
    out->status = AC_WF_COMPLETED;

    while (wf->nsteps > 0) {
        const ac_node_wf_step_t *st = step_at(wf, pos);
        if (st == NULL)
            break; /* a position that does not exist ends the run */
        if (cancel != NULL && *cancel) {
            out->status = AC_WF_CANCELLED;
            snprintf(out->error, sizeof(out->error), "cancelled");
            break;
        }
        if (++iterations > max_iterations) {
            out->status = AC_WF_FAILED;
            snprintf(out->error, sizeof(out->error), "loop_protection");
            break;
        }
        bool seen = false;
        for (int i = 0; i < visited_n; i++)
            seen = seen || visited[i] == pos;
        if (seen) {
            out->status = AC_WF_FAILED;
            snprintf(out->error, sizeof(out->error), "loop_detected");
            break; /* as the original: nothing recorded for a step that does not run again */
        }
        visited[visited_n++] = pos;

        json_t *input =
            st->has_input_from ? output_of(outputs, nout, st->input_from) : previous_output(wf, outputs, nout, pos);
        json_t *config = json_deep_copy(st->config);
        /* remote input and the caller's facts go to the gate, the first step, and nowhere else */
        if (st == &wf->steps[0] && strcmp(st->skill, "receive_from_workflow") == 0 && opts != NULL &&
            (opts->input != NULL || opts->extra_config != NULL)) {
            input = opts->input;
            /* As in the original the step's own config wins over the caller's extra config -- except for the
             * executor's own facts ("_" keys, such as the authenticated _source_node), which a step cannot fake. */
            const char *k;
            json_t *v;
            json_object_foreach(opts->extra_config, k, v)
            {
                if (k[0] == '_' || json_object_get(config, k) == NULL)
                    json_object_set(config, k, v);
            }
        }
        step_result_t r;
        memset(&r, 0, sizeof(r));
        int64_t t0 = ac_skill_now_ms();
        exec_step(env, st, input, config, run_id, cancel, &r);
        int64_t took = ac_skill_now_ms() - t0;
        json_decref(config);
        ac_log_info("workflow", "step_done", "run=%lld position=%d skill=%s result=%s ms=%lld", (long long)run_id,
                    st->position, st->skill,
                    r.kind == STEP_OK        ? r.branch
                    : r.kind == STEP_SKIPPED ? "skipped"
                                             : r.error,
                    (long long)took);

        /* remember the output, and the output of the highest position executed (the run's result) */
        json_t *stored = r.output;
        if (r.kind == STEP_ERROR) {
            stored = json_object();
            json_object_set_new(stored, "error", json_string(r.error));
        }
        outputs[nout].pos = pos;
        outputs[nout].v = stored != NULL ? stored : json_null();
        nout++;
        if (!any_ran || pos > highest_pos) {
            highest_pos = pos;
            highest_output = outputs[nout - 1].v;
            any_ran = true;
        }

        bool end = false, found;
        int next = 0;
        size_t nroutes = json_array_size(st->routes);
        if (r.kind == STEP_SKIPPED || (r.kind == STEP_OK && nroutes == 0)) {
            next = next_position(wf, pos, &found);
            end = !found;
        } else if (r.kind == STEP_OK) {
            json_t *route = find_route(st->routes, r.branch);
            if (route == NULL)
                end = true;
            else
                route_target(route, &next, &end);
        } else {
            json_t *route = nroutes > 0 ? find_route(st->routes, "on_error") : NULL;
            if (route == NULL) {
                out->status = AC_WF_FAILED;
                snprintf(out->error, sizeof(out->error), "%s", r.error);
                end = true;
            } else {
                route_target(route, &next, &end);
            }
        }
        /* the last step's record and the run's outcome are committed together */
        if (end && out->status == AC_WF_COMPLETED) {
            out->result = json_object();
            json_object_set(out->result, "output", highest_output != NULL ? highest_output : json_null());
        }
        int prc = persist_step(env->db, run_id, st, &r, took, end ? out : NULL, err);
        if (prc == -AC_ESTATE) {
            out->status = AC_WF_CANCELLED;
            snprintf(out->error, sizeof(out->error), "cancelled");
            json_decref(out->result);
            out->result = NULL;
            finished = end;
            break;
        }
        if (prc != 0) {
            out->status = AC_WF_FAILED;
            snprintf(out->error, sizeof(out->error), "database: %.480s", err != NULL ? err->msg : "error");
            json_decref(out->result);
            out->result = NULL;
            break;
        }
        if (end) {
            finished = true;
            break;
        }
        pos = next;
    }

    if (!finished) {
        if (out->status == AC_WF_COMPLETED) {
            out->result = json_object();
            json_object_set(out->result, "output", highest_output != NULL ? highest_output : json_null());
        }
        finish_run(env->db, run_id, out);
    }
    ac_log(out->status == AC_WF_COMPLETED ? AC_LOG_INFO : AC_LOG_WARN, "workflow", "run_finished",
           "run=%lld workflow=%s status=%s error=%s", (long long)run_id, wf->name, ac_node_wf_status_name(out->status),
           out->error);
    for (size_t i = 0; i < nout; i++)
        json_decref(outputs[i].v);
    free(outputs);
    free(visited);
    return 0;
}

int ac_node_wf_recover(PGconn *c, const char *node_name, int *count, ac_errmsg_t *err)
{
    if (count != NULL)
        *count = 0;
    const char *p[] = {node_name};
    PGresult *r = PQexecParams(c, "SELECT id FROM workflow_runs WHERE status = 'running' AND node = $1 ORDER BY id", 1,
                               NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = ac_errmsg_set(err, -AC_EDB, "finding interrupted runs: %s", PQerrorMessage(c));
        PQclear(r);
        return rc;
    }
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        long long id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "UPDATE workflow_runs SET status = 'failed', completed_at = now() AT TIME ZONE 'utc', "
                 "updated_at = now() AT TIME ZONE 'utc', error = 'interrupted: the process running it on node ' || "
                 "node || ' stopped (crash or kill) before the run finished' "
                 "WHERE id = %lld AND status = 'running' AND pg_try_advisory_xact_lock(%lld)",
                 id, AC_NODE_DB_LOCK_RUN_BASE + id);
        PGresult *u = PQexec(c, sql);
        if (PQresultStatus(u) != PGRES_COMMAND_OK) {
            rc = ac_errmsg_set(err, -AC_EDB, "recovering run %lld: %s", id, PQerrorMessage(c));
        } else if (atoi(PQcmdTuples(u)) == 1) {
            ac_log_warn("workflow", "run_recovered", "run=%lld status=failed reason=%s", id, "interrupted");
            if (count != NULL)
                (*count)++;
        }
        PQclear(u);
    }
    PQclear(r);
    return rc;
}

int ac_node_wf_cancel(PGconn *c, int64_t run_id, ac_errmsg_t *err)
{
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)run_id);
    const char *p[] = {id};
    PGresult *r =
        PQexecParams(c,
                     "UPDATE workflow_runs SET status = 'cancelled', completed_at = now() AT TIME ZONE 'utc', "
                     "updated_at = now() AT TIME ZONE 'utc', error = 'cancelled' "
                     "WHERE id = $1::bigint AND status = 'running'",
                     1, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = ac_errmsg_set(err, -AC_EDB, "cancelling: %s", PQerrorMessage(c));
    } else if (atoi(PQcmdTuples(r)) == 0) {
        PQclear(r);
        r = PQexecParams(c, "SELECT status FROM workflow_runs WHERE id = $1::bigint", 1, NULL, p, NULL, NULL, 0);
        rc = PQntuples(r) == 0 ? ac_errmsg_set(err, -AC_ENOENT, "no run %s", id)
                               : ac_errmsg_set(err, -AC_ESTATE, "run %s is %s, not running", id, PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return rc;
}
