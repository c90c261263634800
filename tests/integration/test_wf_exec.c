/* tests/integration/test_wf_exec.c - the workflow executor against a real PostgreSQL server, with test skills:
 * every routing rule of reference section 6, input passing, the run result, errors, missing skills, open circuits
 * (skip / fallback / halt), timeouts, cancellation, the remote gate's source node, persistence of step results and
 * skill outcomes, and crash recovery. */
#include "node/db.h"
#include "node/migrate.h"
#include "node/settings_store.h"
#include "node/wf_exec.h"
#include "node/wf_io.h"
#include "policy/alloc.h"
#include "policy/crypto.h"
#include "tests/support/testdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* --- test skills --- */

static const char *const any_routes[] = {"on_success", "on_a", "on_b", "on_error", NULL};
static int calls_fail, calls_fallback;

/* Appends its config "tag" to the input text; takes the branch in config "branch". */
static int t_tag(const ac_skill_ctx_t *ctx, const ac_skill_args_t *a, ac_skill_result_t *res)
{
    char *in = ac_skill_input_text(a->input);
    const char *tag = ac_skill_config_str(a->config, "tag");
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s%s", in, tag != NULL ? tag : "");
    free(in);
    return ac_skill_ok(res, json_string(buf), ac_skill_config_str(a->config, "branch"));
}

static int t_fail(const ac_skill_ctx_t *ctx, const ac_skill_args_t *a, ac_skill_result_t *res)
{
    calls_fail++;
    return ac_skill_fail(res, "boom", "%s", "on purpose");
}

static int t_fallback(const ac_skill_ctx_t *ctx, const ac_skill_args_t *a, ac_skill_result_t *res)
{
    calls_fallback++;
    return ac_skill_ok(res, json_string("from fallback"), NULL);
}

static int t_config(const ac_skill_ctx_t *ctx, const ac_skill_args_t *a, ac_skill_result_t *res)
{
    return ac_skill_ok(res, json_deep_copy(a->config), NULL);
}

/* Waits for the deadline or the cancel flag, like a well-behaved blocking skill. */
static int t_slow(const ac_skill_ctx_t *ctx, const ac_skill_args_t *a, ac_skill_result_t *res)
{
    while (ac_skill_ms_left(ctx) > 0) {
        if (ctx->cancel != NULL && *ctx->cancel)
            return ac_skill_fail(res, "cancelled", NULL);
        usleep(10000);
    }
    return ac_skill_fail(res, "timeout", NULL);
}

/* 1.2 MB of two-byte characters: over the stored-output limit, with a character on the cut */
static int t_big(const ac_skill_ctx_t *ctx, const ac_skill_args_t *a, ac_skill_result_t *res)
{
    size_t n = 600001;
    char *s = ac_malloc(2 * n + 2);
    s[0] = 'x'; /* shift by one byte so the 1 MiB cut falls inside a character */
    for (size_t i = 0; i < n; i++)
        memcpy(s + 1 + 2 * i, "\xc3\xa9", 2);
    s[1 + 2 * n] = '\0';
    json_t *j = json_string(s);
    free(s);
    return ac_skill_ok(res, j, NULL);
}

static const ac_skill_def_t d_tag = {"t_tag", "", any_routes, "", false, t_tag, NULL};
static const ac_skill_def_t d_fail = {"t_fail", "", any_routes, "", false, t_fail, NULL};
static const ac_skill_def_t d_fallback = {"t_fallback", "", any_routes, "", false, t_fallback, NULL};
static const ac_skill_def_t d_config = {"t_config", "", any_routes, "", false, t_config, NULL};
static const ac_skill_def_t d_slow = {"t_slow", "", any_routes, "", false, t_slow, NULL};
static const ac_skill_def_t d_big = {"t_big", "", any_routes, "", false, t_big, NULL};

/* --- fixture --- */

typedef struct {
    char ci[512];
    PGconn *c;
    ac_node_env_t env;
    ac_node_settings_t *s;
    ac_skills_registry_t *reg;
    ac_skills_breakers_t *br;
    ac_node_wf_env_t wenv;
} fx_t;

static int setup(void **state)
{
    fx_t *f = ac_calloc(1, sizeof(*f));
    snprintf(f->ci, sizeof(f->ci), "%s", ac_test_db_create("wfexec"));
    f->c = ac_test_db_connect(f->ci);
    ac_errmsg_t err = {{0}};
    if (ac_node_migrate_run(f->c, ac_node_migrations_embedded, ac_node_migrations_embedded_count, NULL, &err) != 0)
        fail_msg("migrate: %s", err.msg);
    f->env.values = ac_calloc(ac_node_config_registry_count, sizeof(char *));
    uint8_t key[32] = {1};
    f->s = ac_node_settings_new(key);
    if (ac_node_settings_store_boot(f->c, &f->env, f->s, &err) != 0)
        fail_msg("settings: %s", err.msg);
    f->reg = ac_skills_registry_new();
    ac_skills_registry_add_core(f->reg);
    ac_skills_registry_add(f->reg, &d_tag, false);
    ac_skills_registry_add(f->reg, &d_fail, false);
    ac_skills_registry_add(f->reg, &d_fallback, false);
    ac_skills_registry_add(f->reg, &d_config, false);
    ac_skills_registry_add(f->reg, &d_slow, false);
    ac_skills_registry_add(f->reg, &d_big, false);
    f->br = ac_skills_breakers_new(3, 300000);
    f->wenv = (ac_node_wf_env_t){f->c, f->reg, f->br, {.settings = f->s, .node_name = "test@localhost"}};
    calls_fail = calls_fallback = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    ac_skills_breakers_free(f->br);
    ac_skills_registry_free(f->reg);
    ac_node_settings_free(f->s);
    ac_node_env_free(&f->env);
    PQfinish(f->c);
    ac_test_db_drop(f->ci);
    free(f);
    return 0;
}

/* Imports a workflow from `steps_json` (a JSON array of steps), enables it and loads it. */
static ac_node_wf_t *make(fx_t *f, const char *name, const char *steps_json)
{
    char doc[8192];
    snprintf(doc, sizeof(doc), "{\"version\":1,\"workflow\":{\"name\":\"%s\"},\"steps\":%s}", name, steps_json);
    ac_node_wf_import_result_t r;
    ac_errmsg_t err = {{0}};
    if (ac_node_wf_import(f->c, doc, strlen(doc), &r, &err) != 0)
        fail_msg("import: %s", err.msg);
    json_decref(r.warnings);
    ac_test_db_exec(f->c, "UPDATE workflows SET enabled = true");
    ac_node_wf_t *wf = NULL;
    assert_int_equal(ac_node_wf_load(f->c, r.id, NULL, &wf, &err), 0);
    return wf;
}

static ac_node_wf_outcome_t run(fx_t *f, ac_node_wf_t *wf, const ac_node_wf_run_opts_t *opts)
{
    ac_node_wf_outcome_t out;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_wf_run(&f->wenv, wf, opts, &out, &err), 0);
    return out;
}

static const char *output_str(const ac_node_wf_outcome_t *o)
{
    json_t *v = json_object_get(o->result, "output");
    return json_is_string(v) ? json_string_value(v) : "(not a string)";
}

#define q(f, sql)              ac_test_db_value((f)->c, (sql))
#define assert_q(f, sql, want) ac_test_assert_sql((f)->c, (sql), (want))

#define STEP(pos, skill, extra) "{\"position\":" #pos ",\"name\":\"s" #pos "\",\"skill\":\"" skill "\"" extra "}"

/* --- tests --- */

static void runs_steps_in_position_order_and_chains_outputs(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf =
        make(f, "linear",
             "[" STEP(3, "t_tag", ",\"config\":{\"tag\":\"c\"}") "," STEP(
                 1, "t_tag", ",\"config\":{\"tag\":\"a\"}") "," STEP(2, "t_tag", ",\"config\":{\"tag\":\"b\"}") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_COMPLETED);
    assert_string_equal(output_str(&o), "abc");
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT status || '|' || (result->>'output') FROM workflow_runs WHERE id = %lld",
             (long long)o.run_id);
    assert_q(f, sql, "completed|abc");
    assert_q(f, "SELECT count(*) FROM skill_outcomes", "3");
    assert_q(f, "SELECT (step_results->'2'->>'branch') || (step_results->'2'->>'output') FROM workflow_runs",
             "on_successab");
    assert_q(f, "SELECT node FROM workflow_runs", "test@localhost");
    assert_q(f, "SELECT (completed_at IS NOT NULL)::text FROM workflow_runs", "true");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void input_from_takes_a_named_steps_output(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(
        f, "input_from",
        "[" STEP(1, "t_tag", ",\"config\":{\"tag\":\"a\"}") "," STEP(
            2, "t_tag", ",\"config\":{\"tag\":\"b\"}") "," STEP(3, "t_tag",
                                                                ",\"config\":{\"tag\":\"c\"},\"input_from\":1") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_string_equal(output_str(&o), "ac");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void routes_by_branch_and_skips_steps_not_taken(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(
        f, "branch",
        "[" STEP(
            1, "t_tag",
            ",\"config\":{\"tag\":\"a\",\"branch\":\"on_b\"},\"routes\":[{\"branch\":\"on_a\",\"goto\":2},{\"branch\":"
            "\"on_b\",\"goto\":3}]") "," STEP(2, "t_tag",
                                              ",\"config\":{\"tag\":\"X\"}") "," STEP(3, "t_tag",
                                                                                      ",\"config\":{\"tag\":"
                                                                                      "\"c\"}") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_COMPLETED);
    /* as in the original, step 3's input is the output of position 2, which was jumped over: none */
    assert_string_equal(output_str(&o), "c");
    assert_q(f, "SELECT (step_results ? '2')::text FROM workflow_runs", "false");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void takes_the_default_route_when_no_branch_matches(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(
        f, "default",
        "[" STEP(1, "t_tag",
                 ",\"config\":{\"tag\":\"a\",\"branch\":\"on_b\"},\"routes\":[{\"branch\":\"on_a\",\"goto\":2},{"
                 "\"branch\":\"default\",\"goto\":3}]") "," STEP(2, "t_tag",
                                                                 ",\"config\":{\"tag\":\"X\"}") "," STEP(3, "t_tag",
                                                                                                         ",\"config\":{"
                                                                                                         "\"tag\":"
                                                                                                         "\"d\"}") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_string_equal(output_str(&o), "d");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void ends_when_routes_exist_but_none_matches(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(f, "nomatch",
                            "[" STEP(1, "t_tag",
                                     ",\"config\":{\"tag\":\"a\",\"branch\":\"on_b\"},\"routes\":[{\"branch\":\"on_a\","
                                     "\"goto\":2}]") "," STEP(2, "t_tag", ",\"config\":{\"tag\":\"X\"}") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_COMPLETED);
    assert_string_equal(output_str(&o), "a");
    assert_q(f, "SELECT count(*) FROM skill_outcomes", "1");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void goto_end_and_goto_a_missing_position_both_complete(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(f, "end",
                            "[" STEP(1, "t_tag",
                                     ",\"config\":{\"tag\":\"a\"},\"routes\":[{\"branch\":\"on_success\",\"goto\":"
                                     "\"end\"}]") "," STEP(2, "t_tag", ",\"config\":{\"tag\":\"X\"}") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_COMPLETED);
    assert_string_equal(output_str(&o), "a");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
    wf = make(
        f, "missing_pos",
        "[" STEP(
            1, "t_tag",
            ",\"config\":{\"tag\":\"a\"},\"routes\":[{\"branch\":\"on_success\",\"goto\":42}]") "," STEP(2, "t_tag",
                                                                                                         ",\"config\":{"
                                                                                                         "\"tag\":"
                                                                                                         "\"X\"}") "]");
    o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_COMPLETED);
    assert_string_equal(output_str(&o), "a");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

/* advisory locks held in this test's own database (other tests share the server and hold theirs) */
#define ADVISORY_LOCKS_HERE                                                                                            \
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "                                        \
    "(SELECT oid FROM pg_database WHERE datname = current_database())"

static void an_error_without_routes_fails_the_run(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf =
        make(f, "err", "[" STEP(1, "t_fail", "") "," STEP(2, "t_tag", ",\"config\":{\"tag\":\"X\"}") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_FAILED);
    assert_string_equal(o.error, "boom: on purpose");
    assert_q(f, "SELECT status || '|' || error FROM workflow_runs", "failed|boom: on purpose");
    assert_q(f, "SELECT step_results->'1'->>'error' FROM workflow_runs", "boom: on purpose");
    assert_q(f, "SELECT metadata->>'error' FROM skill_outcomes", "boom: on purpose");
    assert_q(f, "SELECT count(*) FROM skill_outcomes", "1");
    assert_q(f, ADVISORY_LOCKS_HERE, "0");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void an_error_takes_on_error_then_default_and_passes_the_error_on(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(f, "onerr",
                            "[" STEP(1, "t_fail", ",\"routes\":[{\"branch\":\"on_error\",\"goto\":3}]") "," STEP(
                                2, "t_tag", ",\"config\":{\"tag\":\"X\"}") "," STEP(3, "t_config", "") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_COMPLETED);
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
    /* "default" catches errors too; the next step's input is {"error": reason} */
    wf = make(f, "deferr",
              "[" STEP(1, "t_fail", ",\"routes\":[{\"branch\":\"default\",\"goto\":2}]") "," STEP(
                  2, "t_tag", ",\"config\":{\"tag\":\"!\"}") "]");
    o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_COMPLETED);
    assert_string_equal(output_str(&o), "{\"error\":\"boom: on purpose\"}!");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
    /* routes, but neither on_error nor default: the run fails */
    wf = make(
        f, "noerr",
        "[" STEP(1, "t_fail", ",\"routes\":[{\"branch\":\"on_success\",\"goto\":2}]") "," STEP(2, "t_tag", "") "]");
    o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_FAILED);
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void revisiting_a_position_fails_with_loop_detected(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf =
        make(f, "loop",
             "[" STEP(1, "t_tag", ",\"config\":{\"tag\":\"a\"}") "," STEP(
                 2, "t_tag", ",\"config\":{\"tag\":\"b\"},\"routes\":[{\"branch\":\"on_success\",\"goto\":1}]") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_FAILED);
    assert_string_equal(o.error, "loop_detected");
    assert_q(f, "SELECT error FROM workflow_runs", "loop_detected");
    /* the first execution of step 1 keeps its result; nothing is recorded for the refused revisit */
    assert_q(f, "SELECT step_results->'1'->>'output' FROM workflow_runs", "a");
    assert_q(f, "SELECT count(*) FROM skill_outcomes", "2");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void the_result_is_the_output_of_the_highest_position_executed(void **state)
{
    fx_t *f = *state;
    /* 1 -> 3 -> 2 -> end: the last step executed is 2, but the result is 3's output (as in the original);
     * 3's input is 2's output, which did not exist yet: none */
    ac_node_wf_t *wf = make(
        f, "highest",
        "[" STEP(1, "t_tag", ",\"config\":{\"tag\":\"a\"},\"routes\":[{\"branch\":\"on_success\",\"goto\":3}]") "," STEP(
            2, "t_tag",
            ",\"config\":{\"tag\":\"b\"},\"routes\":[{\"branch\":\"on_success\",\"goto\":\"end\"}]") "," STEP(3,
                                                                                                              "t_tag",
                                                                                                              ",\"confi"
                                                                                                              "g\":{"
                                                                                                              "\"tag\":"
                                                                                                              "\"c\"},"
                                                                                                              "\"routes"
                                                                                                              "\":[{"
                                                                                                              "\"branch"
                                                                                                              "\":\"on_"
                                                                                                              "success"
                                                                                                              "\","
                                                                                                              "\"goto\""
                                                                                                              ":2}]") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_COMPLETED);
    assert_string_equal(output_str(&o), "c");
    assert_q(f, "SELECT step_results->'2'->>'output' FROM workflow_runs", "ab");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void a_missing_skill_fails_or_is_skipped_or_falls_back(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf =
        make(f, "missing", "[" STEP(1, "t_tag", ",\"config\":{\"tag\":\"a\"}") "," STEP(2, "no_such_skill", "") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_FAILED);
    assert_string_equal(o.error, "unknown_skill: no_such_skill");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);

    wf = make(
        f, "missing_skip",
        "[" STEP(1, "t_tag", ",\"config\":{\"tag\":\"a\"}") "," STEP(
            2, "no_such_skill",
            ",\"config\":{\"on_missing_skill\":\"skip\"}") "," STEP(3, "t_tag", ",\"config\":{\"tag\":\"c\"}") "]");
    o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_COMPLETED);
    assert_string_equal(output_str(&o), "ac"); /* the skipped step passed its input on */
    assert_q(f, "SELECT step_results->'2'->>'branch' FROM workflow_runs ORDER BY id DESC LIMIT 1", "skipped");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);

    wf = make(f, "missing_fb",
              "[" STEP(1, "no_such_skill",
                       ",\"config\":{\"on_missing_skill\":\"fallback\",\"fallback_skill\":\"t_fallback\"}") "]");
    o = run(f, wf, NULL);
    assert_string_equal(output_str(&o), "from fallback");
    assert_int_equal(calls_fallback, 1);
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void an_open_circuit_halts_skips_or_falls_back_without_calling_the_skill(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(f, "breaker", "[" STEP(1, "t_fail", "") "]");
    for (int i = 0; i < 3; i++) {
        ac_node_wf_outcome_t o = run(f, wf, NULL);
        assert_string_equal(o.error, "boom: on purpose");
        ac_node_wf_outcome_clear(&o);
    }
    assert_int_equal(calls_fail, 3);
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_FAILED);
    assert_string_equal(o.error, "circuit_open: t_fail");
    assert_int_equal(calls_fail, 3); /* not called */
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);

    wf = make(f, "breaker_skip",
              "[" STEP(1, "t_fail", ",\"config\":{\"on_circuit_open\":\"skip\"}") "," STEP(
                  2, "t_tag", ",\"config\":{\"tag\":\"z\"}") "]");
    o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_COMPLETED);
    assert_string_equal(output_str(&o), "z");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);

    wf = make(
        f, "breaker_fb",
        "[" STEP(1, "t_fail", ",\"config\":{\"on_circuit_open\":\"fallback\",\"fallback_skill\":\"t_fallback\"}") "]");
    o = run(f, wf, NULL);
    assert_string_equal(output_str(&o), "from fallback");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);

    wf = make(f, "breaker_fb_missing",
              "[" STEP(1, "t_fail", ",\"config\":{\"on_circuit_open\":\"fallback\",\"fallback_skill\":\"nope\"}") "]");
    o = run(f, wf, NULL);
    assert_string_equal(o.error, "fallback_not_found: nope");
    assert_int_equal(calls_fail, 3);
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);

    /* a fallback goes through its own breaker: falling back to a skill whose circuit is open does not call it */
    wf = make(f, "fb_open",
              "[" STEP(1, "nope", ",\"config\":{\"on_missing_skill\":\"fallback\",\"fallback_skill\":\"t_fail\"}") "]");
    o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_FAILED);
    assert_string_equal(o.error, "circuit_open: t_fail");
    assert_int_equal(calls_fail, 3);
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void a_step_times_out_at_its_timeout_ms(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(f, "timeout", "[" STEP(1, "t_slow", ",\"config\":{\"timeout_ms\":200}") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_FAILED);
    assert_string_equal(o.error, "timeout");
    char *ms = q(f, "SELECT duration_ms FROM skill_outcomes");
    assert_true(atoi(ms) >= 190 && atoi(ms) < 2000);
    free(ms);
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void a_run_cancelled_before_a_step_stops_there(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(
        f, "cancel",
        "[" STEP(1, "t_tag", ",\"config\":{\"tag\":\"a\"}") "," STEP(2, "t_tag", ",\"config\":{\"tag\":\"b\"}") "]");
    volatile sig_atomic_t cancel = 1;
    ac_node_wf_run_opts_t opts = {.cancel = &cancel};
    ac_node_wf_outcome_t o = run(f, wf, &opts);
    assert_int_equal(o.status, AC_WF_CANCELLED);
    assert_q(f, "SELECT status FROM workflow_runs", "cancelled");
    assert_q(f, "SELECT count(*) FROM skill_outcomes", "0");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

typedef struct {
    fx_t *f;
    int64_t run_id;
} cancel_arg_t;

static void cancel_from_another_session(void *arg, int64_t run_id)
{
    cancel_arg_t *a = arg;
    a->run_id = run_id;
    PGconn *other = ac_test_db_connect(a->f->ci);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_wf_cancel(other, run_id, &err), 0);
    assert_int_equal(ac_node_wf_cancel(other, run_id, &err), -AC_ESTATE);
    assert_int_equal(ac_node_wf_cancel(other, run_id + 1000, &err), -AC_ENOENT);
    PQfinish(other);
}

static void a_run_cancelled_in_the_database_stops_after_the_current_step(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(
        f, "dbcancel",
        "[" STEP(1, "t_tag", ",\"config\":{\"tag\":\"a\"}") "," STEP(2, "t_tag", ",\"config\":{\"tag\":\"b\"}") "]");
    cancel_arg_t a = {f, 0};
    ac_node_wf_run_opts_t opts = {.on_started = cancel_from_another_session, .arg = &a};
    ac_node_wf_outcome_t o = run(f, wf, &opts);
    assert_int_equal(o.status, AC_WF_CANCELLED);
    assert_int_equal(o.run_id, a.run_id);
    assert_q(f, "SELECT status FROM workflow_runs", "cancelled");
    assert_q(f, "SELECT count(*) FROM skill_outcomes", "0"); /* the first step's result was refused, nothing ran on */
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

/* The last step's record and the outcome share one statement: a cancel that lands during the last step must still
 * end the run as cancelled, record nothing more, and release the run's liveness lock. */
static void a_run_cancelled_during_its_last_step_ends_cancelled_and_unlocked(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(f, "dbcancel1", "[" STEP(1, "t_tag", ",\"config\":{\"tag\":\"a\"}") "]");
    cancel_arg_t a = {f, 0};
    ac_node_wf_run_opts_t opts = {.on_started = cancel_from_another_session, .arg = &a};
    ac_node_wf_outcome_t o = run(f, wf, &opts);
    assert_int_equal(o.status, AC_WF_CANCELLED);
    assert_null(o.result);
    assert_q(f, "SELECT status || ':' || (coalesce(result, '{}') ? 'output')::text FROM workflow_runs",
             "cancelled:false");
    assert_q(f, "SELECT count(*) FROM skill_outcomes", "0");
    assert_q(f, ADVISORY_LOCKS_HERE, "0");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void a_finished_run_holds_no_lock_and_records_every_step_once(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(
        f, "unlock",
        "[" STEP(1, "t_tag", ",\"config\":{\"tag\":\"a\"}") "," STEP(2, "t_tag", ",\"config\":{\"tag\":\"b\"}") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_COMPLETED);
    assert_q(f, "SELECT status FROM workflow_runs", "completed");
    assert_q(f, "SELECT string_agg(step_position::text, ',' ORDER BY step_position) FROM skill_outcomes", "1,2");
    assert_q(f, "SELECT string_agg(k, ',' ORDER BY k) FROM workflow_runs, jsonb_object_keys(step_results) k", "1,2");
    assert_q(f, ADVISORY_LOCKS_HERE, "0");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void the_gate_sees_the_callers_source_node_not_the_steps_claim(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(
        f, "gate",
        "[" STEP(1, "receive_from_workflow",
                 ",\"config\":{\"allowed_nodes\":[\"good@host\"],\"_source_node\":\"good@host\"}") "," STEP(2,
                                                                                                            "t_config",
                                                                                                            "") "]");
    json_t *input = json_string("payload");
    json_t *extra = json_pack("{s:s}", "_source_node", "evil@host");
    ac_node_wf_run_opts_t opts = {.input = input, .extra_config = extra};
    ac_node_wf_outcome_t o = run(f, wf, &opts);
    assert_int_equal(o.status, AC_WF_FAILED);
    assert_string_equal(o.error, "unauthorized_node: evil@host");
    ac_node_wf_outcome_clear(&o);
    json_decref(extra);
    extra = json_pack("{s:s}", "_source_node", "good@host");
    opts.extra_config = extra;
    o = run(f, wf, &opts);
    assert_int_equal(o.status, AC_WF_COMPLETED);
    ac_node_wf_outcome_clear(&o);
    json_decref(extra);
    json_decref(input);
    ac_node_wf_free(wf);
}

static void a_huge_output_is_stored_cut_and_never_wipes_earlier_results(void **state)
{
    fx_t *f = *state;
    ac_node_wf_t *wf = make(f, "big",
                            "[" STEP(1, "t_tag", ",\"config\":{\"tag\":\"a\"}") "," STEP(2, "t_big", "") "," STEP(
                                3, "t_tag", ",\"config\":{\"tag\":\"z\"},\"input_from\":1") "]");
    ac_node_wf_outcome_t o = run(f, wf, NULL);
    assert_int_equal(o.status, AC_WF_COMPLETED);
    assert_q(f, "SELECT step_results->'1'->>'output' FROM workflow_runs", "a");
    assert_q(f, "SELECT (length(step_results->'2'->>'output') BETWEEN 500000 AND 524288)::text FROM workflow_runs",
             "true");
    assert_q(f, "SELECT step_results->'3'->>'output' FROM workflow_runs", "az");
    ac_node_wf_outcome_clear(&o);
    ac_node_wf_free(wf);
}

static void recovery_fails_dead_runs_and_leaves_live_ones(void **state)
{
    fx_t *f = *state;
    ac_test_db_exec(f->c, "INSERT INTO workflows (name) VALUES ('r')");
    ac_test_db_exec(f->c, "INSERT INTO workflow_runs (id, workflow_id, status, started_at, node) VALUES "
                          "(101, NULL, 'running', now(), 'me@host'), (102, NULL, 'running', now(), 'me@host'), "
                          "(103, NULL, 'running', now(), 'other@host')");
    /* run 102 is alive: its executor holds the lock */
    PGconn *live = ac_test_db_connect(f->ci);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)", AC_NODE_DB_LOCK_RUN_BASE + 102);
    ac_test_db_exec(live, sql);
    int n = -1;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_wf_recover(f->c, "me@host", &n, &err), 0);
    assert_int_equal(n, 1);
    assert_q(f, "SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM workflow_runs",
             "101:failed,102:running,103:running");
    assert_q(f, "SELECT error FROM workflow_runs WHERE id = 101",
             "interrupted: the process running it on node me@host stopped (crash or kill) before the run finished");
    PQfinish(live);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(runs_steps_in_position_order_and_chains_outputs),
        T(input_from_takes_a_named_steps_output),
        T(routes_by_branch_and_skips_steps_not_taken),
        T(takes_the_default_route_when_no_branch_matches),
        T(ends_when_routes_exist_but_none_matches),
        T(goto_end_and_goto_a_missing_position_both_complete),
        T(an_error_without_routes_fails_the_run),
        T(an_error_takes_on_error_then_default_and_passes_the_error_on),
        T(revisiting_a_position_fails_with_loop_detected),
        T(the_result_is_the_output_of_the_highest_position_executed),
        T(a_missing_skill_fails_or_is_skipped_or_falls_back),
        T(an_open_circuit_halts_skips_or_falls_back_without_calling_the_skill),
        T(a_step_times_out_at_its_timeout_ms),
        T(a_run_cancelled_before_a_step_stops_there),
        T(a_run_cancelled_in_the_database_stops_after_the_current_step),
        T(a_run_cancelled_during_its_last_step_ends_cancelled_and_unlocked),
        T(a_finished_run_holds_no_lock_and_records_every_step_once),
        T(the_gate_sees_the_callers_source_node_not_the_steps_claim),
        T(a_huge_output_is_stored_cut_and_never_wipes_earlier_results),
        T(recovery_fails_dead_runs_and_leaves_live_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
