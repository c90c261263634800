/* node/wf_exec.c - the workflow executor of wf_exec.h. */
#include "node/wf_exec.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"
#include "skills/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
                      json_t *config, int64_t run_id, volatile sig_atomic_t *cancel, ac_node_wf_step_result_t *out)
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
    ctx.db = env->db;
    ctx.self = def;
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
        out->kind = AC_WF_STEP_OK;
        out->output = res.output;
        snprintf(out->branch, sizeof(out->branch), "%s", res.branch[0] ? res.branch : "on_success");
    } else {
        json_decref(res.output);
        out->kind = AC_WF_STEP_ERROR;
        snprintf(out->error, sizeof(out->error), "%s", res.error[0] ? res.error : "skill_failed");
    }
    return 0;
}

static void skip(ac_node_wf_step_result_t *out, json_t *input)
{
    out->kind = AC_WF_STEP_SKIPPED;
    out->output = input != NULL ? json_incref(input) : NULL;
}

/* Sets the step's error to "code: detail". */
static void fail(ac_node_wf_step_result_t *out, const char *code, const char *detail)
{
    out->kind = AC_WF_STEP_ERROR;
    snprintf(out->error, sizeof(out->error), "%s: %s", code, detail);
}

/* Runs a fallback skill named in config[key_name] (through its breaker). */
static void run_fallback(ac_node_wf_env_t *env, const ac_node_wf_step_t *st, json_t *input, json_t *config,
                         int64_t run_id, volatile sig_atomic_t *cancel, ac_node_wf_step_result_t *out)
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
    ac_skills_registry_release(env->registry, def);
}

static void exec_step(ac_node_wf_env_t *env, const ac_node_wf_step_t *st, json_t *input, json_t *config, int64_t run_id,
                      volatile sig_atomic_t *cancel, ac_node_wf_step_result_t *out)
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
    int called = call_skill(env, def, st, input, config, run_id, cancel, out);
    ac_skills_registry_release(env->registry, def);
    if (called == 0)
        return;
    mode = json_string_value(json_object_get(config, "on_circuit_open"));
    if (mode != NULL && strcmp(mode, "skip") == 0)
        skip(out, input);
    else if (mode != NULL && strcmp(mode, "fallback") == 0)
        run_fallback(env, st, input, config, run_id, cancel, out);
    else
        fail(out, "circuit_open", st->skill);
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

/* Where the walk goes after step st ended with r: *end, or the position *next. A failure that ends the run is put
 * in out. */
static void decide(const ac_node_wf_t *wf, const ac_node_wf_step_t *st, const ac_node_wf_step_result_t *r,
                   ac_node_wf_outcome_t *out, int *next, bool *end)
{
    bool found;
    *next = 0;
    *end = false;
    size_t nroutes = json_array_size(st->routes);
    if (r->kind == AC_WF_STEP_SKIPPED || (r->kind == AC_WF_STEP_OK && nroutes == 0)) {
        *next = next_position(wf, st->position, &found);
        *end = !found;
    } else if (r->kind == AC_WF_STEP_OK) {
        json_t *route = find_route(st->routes, r->branch);
        if (route == NULL)
            *end = true;
        else
            route_target(route, next, end);
    } else {
        json_t *route = nroutes > 0 ? find_route(st->routes, "on_error") : NULL;
        if (route == NULL) {
            out->status = AC_WF_FAILED;
            snprintf(out->error, sizeof(out->error), "%s", r->error);
            *end = true;
        } else {
            route_target(route, next, end);
        }
    }
}

/* Runs step st: its config (for the gate, the first step, merged with the caller's facts) and its input. */
static void run_step(ac_node_wf_env_t *env, const ac_node_wf_t *wf, const ac_node_wf_step_t *st, json_t *input,
                     const ac_node_wf_run_opts_t *opts, int64_t run_id, ac_node_wf_step_result_t *r, int64_t *took)
{
    volatile sig_atomic_t *cancel = opts != NULL ? opts->cancel : NULL;
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
    memset(r, 0, sizeof(*r));
    int64_t t0 = ac_skill_now_ms();
    exec_step(env, st, input, config, run_id, cancel, r);
    *took = ac_skill_now_ms() - t0;
    json_decref(config);
}

static void log_step(ac_log_level_t level, int64_t run_id, const ac_node_wf_step_t *st,
                     const ac_node_wf_step_result_t *r, int64_t took)
{
    ac_log(level, "workflow", "step_done", "run=%lld position=%d skill=%s result=%s ms=%lld", (long long)run_id,
           st->position, st->skill,
           r->kind == AC_WF_STEP_OK        ? r->branch
           : r->kind == AC_WF_STEP_SKIPPED ? "skipped"
                                           : r->error,
           (long long)took);
}

static void log_finished(int64_t run_id, const ac_node_wf_t *wf, const ac_node_wf_outcome_t *out)
{
    ac_log(out->status == AC_WF_COMPLETED ? AC_LOG_INFO : AC_LOG_WARN, "workflow", "run_finished",
           "run=%lld workflow=%s status=%s error=%s", (long long)run_id, wf->name, ac_node_wf_status_name(out->status),
           out->error);
}

/* The walk's memory: outputs by position (in the order steps ran), positions visited, the highest position run. */
typedef struct {
    slot_t *outputs;
    size_t nout;
    int *visited;
    int nvisited;
    size_t iterations;
    bool any_ran;
    int highest_pos;
    json_t *highest_output;
} walk_t;

/* The value a step leaves for the steps after it: its output, or {"error": ...}. New reference. */
static json_t *stored_output(const ac_node_wf_step_result_t *r)
{
    if (r->kind == AC_WF_STEP_ERROR)
        return json_pack("{s:s}", "error", r->error);
    return r->output != NULL ? json_incref(r->output) : json_null();
}

static void remember(walk_t *w, int pos, const ac_node_wf_step_result_t *r)
{
    w->outputs[w->nout].pos = pos;
    w->outputs[w->nout].v = stored_output(r);
    w->nout++;
    if (!w->any_ran || pos > w->highest_pos) {
        w->highest_pos = pos;
        w->highest_output = w->outputs[w->nout - 1].v;
        w->any_ran = true;
    }
}

/* Walks wf from its first step, or, with gate, from the step after the gate (already run and recorded). The run
 * row exists and this session holds its liveness lock. */
/* Whether the owner hears of this workflow's runs (it has a telegram_notify step), as the original decided. */
static bool notifies(const ac_node_wf_t *wf)
{
    for (size_t i = 0; i < wf->nsteps; i++)
        if (strcmp(wf->steps[i].skill, "telegram_notify") == 0)
            return true;
    return false;
}

static void notify_started(const ac_node_wf_t *wf)
{
    const char **names = ac_calloc(wf->nsteps + 1, sizeof(*names));
    for (size_t i = 0; i < wf->nsteps; i++)
        names[i] = wf->steps[i].name;
    ac_skills_notify_run_started(wf->name, names, wf->nsteps);
    free(names);
}

static void walk(ac_node_wf_env_t *env, const ac_node_wf_t *wf, const ac_node_wf_run_opts_t *opts, int64_t run_id,
                 const ac_node_wf_gate_t *gate, ac_node_wf_outcome_t *out, ac_errmsg_t *err)
{
    bool notify = notifies(wf);
    if (notify)
        notify_started(wf);
    const ac_node_wf_step_t *last = gate != NULL && wf->nsteps > 0 ? &wf->steps[0] : NULL;
    volatile sig_atomic_t *cancel = opts != NULL ? opts->cancel : NULL;
    walk_t w = {
        ac_calloc(wf->nsteps + 1, sizeof(slot_t)), 0, ac_calloc(wf->nsteps + 1, sizeof(int)), 0, 0, false, 0, NULL};
    size_t max_iterations = 2 * wf->nsteps;
    bool finished = false; /* finished: the outcome is recorded and the lock released */
    int pos = wf->nsteps > 0 ? wf->steps[0].position : 0;
    out->status = AC_WF_COMPLETED;
    if (gate != NULL) {
        remember(&w, pos, &gate->r);
        w.visited[w.nvisited++] = pos;
        w.iterations = 1;
        pos = gate->next;
    }

    while (wf->nsteps > 0) {
        const ac_node_wf_step_t *st = step_at(wf, pos);
        if (st == NULL)
            break; /* a position that does not exist ends the run */
        last = st;
        if (cancel != NULL && *cancel) {
            out->status = AC_WF_CANCELLED;
            snprintf(out->error, sizeof(out->error), "cancelled");
            break;
        }
        if (++w.iterations > max_iterations) {
            out->status = AC_WF_FAILED;
            snprintf(out->error, sizeof(out->error), "loop_protection");
            break;
        }
        bool seen = false;
        for (int i = 0; i < w.nvisited; i++)
            seen = seen || w.visited[i] == pos;
        if (seen) {
            out->status = AC_WF_FAILED;
            snprintf(out->error, sizeof(out->error), "loop_detected");
            break; /* as the original: nothing recorded for a step that does not run again */
        }
        w.visited[w.nvisited++] = pos;

        json_t *input = st->has_input_from ? output_of(w.outputs, w.nout, st->input_from)
                                           : previous_output(wf, w.outputs, w.nout, pos);
        ac_node_wf_step_result_t r;
        int64_t took;
        run_step(env, wf, st, input, opts, run_id, &r, &took);
        log_step(AC_LOG_INFO, run_id, st, &r, took);
        remember(&w, pos, &r);

        bool end;
        int next;
        decide(wf, st, &r, out, &next, &end);
        /* the last step's record and the run's outcome are committed together */
        if (end && out->status == AC_WF_COMPLETED)
            out->result = ac_node_wf_result_of(w.highest_output);
        int prc = ac_node_wf_record_step(env->db, run_id, st, &r, took, end ? out : NULL, err);
        json_decref(r.output);
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
        if (out->status == AC_WF_COMPLETED)
            out->result = ac_node_wf_result_of(w.highest_output);
        ac_node_wf_record_finish(env->db, run_id, out);
    }
    log_finished(run_id, wf, out);
    if (notify && out->status == AC_WF_FAILED)
        ac_skills_notify_run_failed(wf->name, last != NULL ? last->name : "?", out->error);
    for (size_t i = 0; i < w.nout; i++)
        json_decref(w.outputs[i].v);
    free(w.outputs);
    free(w.visited);
}

int ac_node_wf_run(ac_node_wf_env_t *env, const ac_node_wf_t *wf, const ac_node_wf_run_opts_t *opts,
                   ac_node_wf_outcome_t *out, ac_errmsg_t *err)
{
    memset(out, 0, sizeof(*out));
    int64_t run_id = 0;
    int rc = ac_node_wf_record_start(env->db, wf, env->base.node_name, &run_id, err);
    if (rc != 0)
        return rc;
    out->run_id = run_id;
    ac_log_info("workflow", "run_started", "run=%lld workflow=%s steps=%zu", (long long)run_id, wf->name, wf->nsteps);
    if (opts != NULL && opts->on_started != NULL)
        opts->on_started(opts->arg, run_id);
    env->base.chain_depth = opts != NULL ? opts->chain_depth : 0; /* every step's skill context starts from base */
    walk(env, wf, opts, run_id, NULL, out, err);
    env->base.chain_depth = 0;
    return 0;
}

void ac_node_wf_gate_run(ac_node_wf_env_t *env, const ac_node_wf_t *wf, const ac_node_wf_run_opts_t *opts,
                         ac_node_wf_gate_t *g)
{
    memset(g, 0, sizeof(*g));
    const ac_node_wf_step_t *st = &wf->steps[0];
    run_step(env, wf, st, NULL, opts, 0, &g->r, &g->took_ms);
    g->outcome.status = AC_WF_COMPLETED;
    decide(wf, st, &g->r, &g->outcome, &g->next, &g->end);
    if (g->end && g->outcome.status == AC_WF_COMPLETED) {
        json_t *v = stored_output(&g->r);
        g->outcome.result = ac_node_wf_result_of(v);
        json_decref(v);
    }
}

void ac_node_wf_gate_clear(ac_node_wf_gate_t *g)
{
    json_decref(g->r.output);
    ac_node_wf_outcome_clear(&g->outcome);
    memset(g, 0, sizeof(*g));
}

void ac_node_wf_gate_log(const ac_node_wf_t *wf, int64_t run_id, const ac_node_wf_gate_t *g)
{
    /* a run its gate ends was started and finished by one commit: one line says it (the step at debug level) */
    if (!g->end)
        ac_log_info("workflow", "run_started", "run=%lld workflow=%s steps=%zu", (long long)run_id, wf->name,
                    wf->nsteps);
    log_step(g->end ? AC_LOG_DEBUG : AC_LOG_INFO, run_id, &wf->steps[0], &g->r, g->took_ms);
    if (g->end)
        log_finished(run_id, wf, &g->outcome);
}

int ac_node_wf_continue(ac_node_wf_env_t *env, const ac_node_wf_t *wf, const ac_node_wf_run_opts_t *opts,
                        int64_t run_id, const ac_node_wf_gate_t *g, ac_node_wf_outcome_t *out, ac_errmsg_t *err)
{
    memset(out, 0, sizeof(*out));
    if (g->end || wf->nsteps == 0)
        return ac_errmsg_set(err, -AC_EINVAL, "run %lld ended with its gate", (long long)run_id);
    out->run_id = run_id;
    walk(env, wf, opts, run_id, g, out, err);
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
