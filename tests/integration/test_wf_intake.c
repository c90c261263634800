/* tests/integration/test_wf_intake.c - the trigger intake against a real PostgreSQL server, with the executor pool:
 * triggers arriving together are recorded by one statement and each caller is answered exactly once, with its own
 * run; every refusal (unknown, disabled, no gate, unauthorized peer, requires_2fa) leaves no row; a run that goes on
 * after its gate is finished by a worker, which holds it before the intake lets go; a change to a workflow reaches
 * the intake's cache at once, and one the intake missed is found again by name; a statement that fails answers every
 * caller of its group. */
#include "node/db.h"
#include "node/migrate.h"
#include "node/settings_store.h"
#include "node/wf_intake.h"
#include "node/wf_io.h"
#include "policy/alloc.h"
#include "tests/support/testdb.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_ANSWERS 256

static const char *const any_routes[] = {"on_success", NULL};

/* Appends its config "tag" to the input text. */
static int t_tag(const ac_skill_ctx_t *ctx, const ac_skill_args_t *a, ac_skill_result_t *res)
{
    (void)ctx;
    char *in = ac_skill_input_text(a->input);
    const char *tag = ac_skill_config_str(a->config, "tag");
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s%s", in, tag != NULL ? tag : "");
    free(in);
    return ac_skill_ok(res, json_string(buf), NULL);
}
static const ac_skill_def_t d_tag = {"t_tag", "", any_routes, "", false, t_tag, NULL};

/* Blocks its worker until the test opens the gate (`release`), so that later jobs wait in the pool's queue. */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static int held_open, hold_entered;
static int t_hold(const ac_skill_ctx_t *ctx, const ac_skill_args_t *a, ac_skill_result_t *res)
{
    (void)ctx;
    (void)a;
    pthread_mutex_lock(&hold_lock);
    hold_entered++;
    pthread_cond_broadcast(&hold_cond);
    while (!held_open)
        pthread_cond_wait(&hold_cond, &hold_lock);
    pthread_mutex_unlock(&hold_lock);
    return ac_skill_ok(res, json_string("held"), NULL);
}
static const ac_skill_def_t d_hold = {"t_hold", "", any_routes, "", false, t_hold, NULL};

/* Lets every held t_hold return (and later ones pass at once). */
static void open_hold(void)
{
    pthread_mutex_lock(&hold_lock);
    held_open = 1;
    pthread_cond_broadcast(&hold_cond);
    pthread_mutex_unlock(&hold_lock);
}

/* What each caller heard. */
typedef struct {
    int64_t run_id; /* started */
    int code;       /* refused */
    char reason[64];
    int calls;
} answer_t;

typedef struct {
    char ci[512];
    PGconn *c;
    ac_node_env_t env;
    ac_node_settings_t *s;
    ac_skills_registry_t *reg;
    ac_skills_breakers_t *br;
    ac_node_wf_pool_t *pool;
    ac_node_wf_intake_t *in;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    answer_t answers[MAX_ANSWERS];
    int answered;
} fx_t;

typedef struct {
    fx_t *f;
    int i;
} slot_t;
static slot_t slots[MAX_ANSWERS];

static void answered(fx_t *f)
{
    f->answered++;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

static void on_started(void *arg, int64_t run_id)
{
    slot_t *s = arg;
    pthread_mutex_lock(&s->f->lock);
    s->f->answers[s->i].run_id = run_id;
    s->f->answers[s->i].calls++;
    answered(s->f);
}

static void on_refused(void *arg, int code, const char *reason)
{
    slot_t *s = arg;
    pthread_mutex_lock(&s->f->lock);
    s->f->answers[s->i].code = code;
    snprintf(s->f->answers[s->i].reason, sizeof(s->f->answers[s->i].reason), "%s", reason);
    s->f->answers[s->i].calls++;
    answered(s->f);
}

static int setup(void **state)
{
    fx_t *f = ac_calloc(1, sizeof(*f));
    snprintf(f->ci, sizeof(f->ci), "%s", ac_test_db_create("wfintake"));
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
    ac_skills_registry_add(f->reg, &d_hold, false);
    held_open = hold_entered = 0;
    f->br = ac_skills_breakers_new(3, 300000);
    ac_skill_ctx_t base = {.settings = f->s, .node_name = "test@localhost"};
    ac_node_wf_pool_cfg_t pcfg = {f->ci, 1, f->reg, f->br, base}; /* one worker: later jobs queue */
    if (ac_node_wf_pool_start(&pcfg, &f->pool, &err) != 0)
        fail_msg("pool: %s", err.msg);
    ac_node_wf_intake_cfg_t icfg = {f->ci, f->pool, f->reg, f->br, base};
    if (ac_node_wf_intake_start(&icfg, &f->in, &err) != 0)
        fail_msg("intake: %s", err.msg);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    for (int i = 0; i < MAX_ANSWERS; i++)
        slots[i] = (slot_t){f, i};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    open_hold(); /* a test that failed while a worker was held must not hang here */
    ac_node_wf_intake_stop(f->in);
    ac_node_wf_pool_stop(f->pool);
    ac_node_wf_intake_free(f->in);
    ac_skills_breakers_free(f->br);
    ac_skills_registry_free(f->reg);
    ac_node_settings_free(f->s);
    ac_node_env_free(&f->env);
    PQfinish(f->c);
    ac_test_db_drop(f->ci);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    free(f);
    return 0;
}

static void make(fx_t *f, const char *name, const char *meta, const char *steps_json)
{
    char doc[4096];
    snprintf(doc, sizeof(doc), "{\"version\":1,\"workflow\":{\"name\":\"%s\"%s},\"steps\":%s}", name, meta, steps_json);
    ac_node_wf_import_result_t r;
    ac_errmsg_t err = {{0}};
    if (ac_node_wf_import(f->c, doc, strlen(doc), &r, &err) != 0)
        fail_msg("import: %s", err.msg);
    json_decref(r.warnings);
    ac_test_db_exec(f->c, "UPDATE workflows SET enabled = true");
}

/* Makes the pool's one worker busy with workflow "busy" (a t_hold step; made by the caller), so that later jobs wait
 * in its queue until open_hold(). */
static void hold_worker(fx_t *f)
{
    ac_node_wf_job_t job = {.workflow_name = "busy", .trigger = AC_WF_TRIGGER_PERSON};
    assert_int_equal(ac_node_wf_pool_submit(f->pool, &job), 0);
    pthread_mutex_lock(&hold_lock);
    while (!hold_entered)
        pthread_cond_wait(&hold_cond, &hold_lock);
    pthread_mutex_unlock(&hold_lock);
}

/* Switches the workflow change notifications off or on, to change workflows behind the intake's back as if it had
 * not read the notification yet. */
static void notifications(fx_t *f, bool on)
{
    ac_test_db_exec(f->c, on ? "ALTER TABLE workflows ENABLE TRIGGER workflows_notify"
                             : "ALTER TABLE workflows DISABLE TRIGGER workflows_notify");
    ac_test_db_exec(f->c, on ? "ALTER TABLE workflow_steps ENABLE TRIGGER workflow_steps_notify"
                             : "ALTER TABLE workflow_steps DISABLE TRIGGER workflow_steps_notify");
}

#define GATE(allowed)                                                                                                  \
    "{\"position\":1,\"name\":\"gate\",\"skill\":\"receive_from_workflow\",\"config\":{\"allowed_nodes\":" allowed "}" \
    "}"

/* Queues a trigger of `name` from `peer` with input `data` as caller number i. */
static void trigger(fx_t *f, int i, const char *name, const char *peer, json_t *data)
{
    json_t *extra = json_pack("{s:s}", "_source_node", peer);
    ac_node_wf_job_t job = {.workflow_name = name,
                            .input = data,
                            .extra_config = extra,
                            .trigger = AC_WF_TRIGGER_REMOTE,
                            .on_started = on_started,
                            .on_refused = on_refused,
                            .arg = &slots[i]};
    assert_int_equal(ac_node_wf_intake_submit(f->in, &job), 0);
    json_decref(extra);
    json_decref(data);
}

static void wait_answers(fx_t *f, int n)
{
    pthread_mutex_lock(&f->lock);
    for (int waited = 0; f->answered < n && waited < 200; waited++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&f->cond, &f->lock, &ts);
    }
    int got = f->answered;
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(got, n);
}

/* Polls until the SQL's value is want (5 s at most), then asserts it. */
static void eventually(fx_t *f, const char *sql, const char *want)
{
    for (int i = 0; i < 100; i++) {
        char *v = ac_test_db_value(f->c, sql);
        int same = strcmp(v, want) == 0;
        free(v);
        if (same)
            break;
        usleep(50000);
    }
    ac_test_assert_sql(f->c, sql, want);
}

/* advisory locks held in this test's database (the server is shared with other tests) */
#define HELD                                                                                                           \
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE "     \
    "datname = current_database())"
#define LOCKS                                                                                                          \
    "SELECT string_agg(l.pid || ':' || l.classid || ':' || l.objid, ',' ORDER BY l.pid, l.objid) FROM pg_locks l "     \
    "WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
#define assert_q(f, sql, want) ac_test_assert_sql((f)->c, (sql), (want))

static void triggers_arriving_together_share_one_commit(void **state)
{
    fx_t *f = *state;
    make(f, "gated", "", "[" GATE("[\"a@h\"]") "]");
    /* hold the intake's first statement until every trigger is queued: the rest must go in one group */
    PGconn *blocker = ac_test_db_connect(f->ci);
    ac_test_db_exec(blocker, "BEGIN");
    ac_test_db_exec(blocker, "LOCK TABLE skill_outcomes IN EXCLUSIVE MODE");
    for (int i = 0; i < 50; i++)
        trigger(f, i, "gated", "a@h", json_pack("{s:i}", "n", i));
    usleep(200000);
    ac_test_db_exec(blocker, "COMMIT");
    PQfinish(blocker);
    wait_answers(f, 50);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(f->answers[i].calls, 1);
        assert_true(f->answers[i].run_id > 0);
        for (int j = 0; j < i; j++)
            assert_true(f->answers[i].run_id != f->answers[j].run_id);
        char sql[256], want[64];
        snprintf(sql, sizeof(sql),
                 "SELECT status || '|' || (result->'output'->>'n') FROM workflow_runs WHERE id = %lld",
                 (long long)f->answers[i].run_id);
        snprintf(want, sizeof(want), "completed|%d", i);
        assert_q(f, sql, want); /* each caller got the run of its own input */
    }
    assert_q(f, "SELECT count(*) FROM skill_outcomes WHERE skill_name = 'receive_from_workflow'", "50");
    assert_q(f, "SELECT count(*) FROM workflow_runs WHERE completed_at IS NULL OR node <> 'test@localhost'", "0");
    ac_node_wf_intake_stats_t st;
    ac_node_wf_intake_stats(f->in, &st);
    assert_int_equal(st.recorded, 50);
    assert_true(st.groups <= 2); /* the first statement (1 or more triggers), then the rest together */
    assert_q(f, HELD, "0");      /* runs over: nobody holds */
}

static void refusals_leave_no_row(void **state)
{
    fx_t *f = *state;
    make(f, "gated", "", "[" GATE("[\"a@h\"]") "]");
    make(f, "nogate", "", "[{\"position\":1,\"name\":\"x\",\"skill\":\"t_tag\"}]");
    make(f, "secret", ",\"metadata\":{\"requires_2fa\":true}", "[" GATE("[\"a@h\"]") "]");
    make(f, "off", "", "[" GATE("[\"a@h\"]") "]");
    ac_test_db_exec(f->c, "UPDATE workflows SET enabled = false WHERE name = 'off'");
    trigger(f, 0, "nope", "a@h", json_integer(1));
    trigger(f, 1, "gated", "intruder@h", json_integer(1));
    trigger(f, 2, "nogate", "a@h", json_integer(1));
    trigger(f, 3, "secret", "a@h", json_integer(1));
    trigger(f, 4, "off", "a@h", json_integer(1));
    wait_answers(f, 5);
    const char *want[] = {"workflow_not_found", "unauthorized_node", "no_receive_gate", "requires_2fa",
                          "workflow_not_found"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(f->answers[i].calls, 1);
        assert_string_equal(f->answers[i].reason, want[i]);
        assert_int_equal(f->answers[i].code, i == 0 || i == 4 ? -AC_ENOENT : -AC_EPERM);
    }
    assert_q(f, "SELECT count(*) FROM workflow_runs", "0");
    ac_node_wf_intake_stats_t st;
    ac_node_wf_intake_stats(f->in, &st);
    assert_int_equal(st.refused, 5);
    assert_int_equal(st.recorded, 0);
}

static void a_run_that_goes_on_is_finished_by_a_worker(void **state)
{
    fx_t *f = *state;
    make(f, "two", "",
         "[" GATE("[\"a@h\"]") ",{\"position\":2,\"name\":\"t\",\"skill\":\"t_tag\",\"config\":{\"tag\":\"!\"}}]");
    trigger(f, 0, "two", "a@h", json_string("hi"));
    wait_answers(f, 1);
    assert_true(f->answers[0].run_id > 0);
    eventually(f, "SELECT status FROM workflow_runs", "completed");
    assert_q(f,
             "SELECT (step_results->'1'->>'output') || '|' || (step_results->'2'->>'output') || '|' || "
             "(result->>'output') FROM workflow_runs",
             "hi|hi!|hi!");
    assert_q(f, "SELECT string_agg(skill_name, ',' ORDER BY step_position) FROM skill_outcomes",
             "receive_from_workflow,t_tag");
    /* the worker's hold and the intake's are both gone */
    eventually(f, HELD, "0");
}

static void a_change_reaches_the_cache_at_once(void **state)
{
    fx_t *f = *state;
    make(f, "gated", "", "[" GATE("[\"a@h\"]") "]");
    trigger(f, 0, "gated", "a@h", json_integer(1));
    wait_answers(f, 1);
    assert_true(f->answers[0].run_id > 0);
    /* cached now; the changes below come from another session */
    ac_test_db_exec(f->c, "UPDATE workflows SET enabled = false");
    usleep(100000); /* the notification's trip (milliseconds; generous for loaded CI) */
    trigger(f, 1, "gated", "a@h", json_integer(2));
    wait_answers(f, 2);
    assert_string_equal(f->answers[1].reason, "workflow_not_found");
    ac_test_db_exec(f->c, "UPDATE workflows SET enabled = true");
    ac_test_db_exec(f->c, "UPDATE workflow_steps SET config = '{\"allowed_nodes\": [\"b@h\"]}'");
    usleep(100000);
    trigger(f, 2, "gated", "a@h", json_integer(3));
    trigger(f, 3, "gated", "b@h", json_integer(4));
    wait_answers(f, 4);
    assert_string_equal(f->answers[2].reason, "unauthorized_node");
    assert_true(f->answers[3].run_id > 0);
    assert_q(f, "SELECT count(*) FROM workflow_runs", "2");
}

static void a_failed_statement_answers_its_whole_group(void **state)
{
    fx_t *f = *state;
    make(f, "gated", "", "[" GATE("[\"a@h\"]") "]");
    make(f, "two", "", "[" GATE("[\"a@h\"]") ",{\"position\":2,\"name\":\"t\",\"skill\":\"t_tag\"}]");
    trigger(f, 0, "gated", "a@h", json_integer(1));
    wait_answers(f, 1);
    /* the next statements fail inside the database: every caller hears it, nothing is recorded, and no liveness lock
     * of a run that does not exist is left behind (a session lock would outlive the failed statement) */
    ac_test_db_exec(f->c, "ALTER TABLE skill_outcomes ADD CONSTRAINT no_more CHECK (step_position < 0) NOT VALID");
    for (int i = 1; i <= 3; i++)
        trigger(f, i, i == 2 ? "gated" : "two", "a@h", json_integer(i));
    wait_answers(f, 4);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(f->answers[i].calls, 1);
        assert_int_equal(f->answers[i].code, -AC_EDB);
    }
    assert_q(f, "SELECT count(*) FROM workflow_runs", "1");
    eventually(f, HELD, "0");
    /* and the intake goes on once the database accepts rows again */
    ac_test_db_exec(f->c, "ALTER TABLE skill_outcomes DROP CONSTRAINT no_more");
    trigger(f, 4, "gated", "a@h", json_integer(5));
    wait_answers(f, 5);
    assert_true(f->answers[4].run_id > 0);
}

static void a_bad_value_does_not_fail_the_others(void **state)
{
    fx_t *f = *state;
    make(f, "gated", "", "[" GATE("[\"a@h\"]") "]");
    PGconn *blocker = ac_test_db_connect(f->ci);
    ac_test_db_exec(blocker, "BEGIN");
    ac_test_db_exec(blocker, "LOCK TABLE skill_outcomes IN EXCLUSIVE MODE");
    trigger(f, 0, "gated", "a@h", json_integer(0));
    trigger(f, 1, "gated", "a@h", json_stringn("nul\0here", 8)); /* jsonb cannot hold U+0000 */
    trigger(f, 2, "gated", "a@h", json_integer(2));
    usleep(200000);
    ac_test_db_exec(blocker, "COMMIT");
    PQfinish(blocker);
    wait_answers(f, 3);
    for (int i = 0; i < 3; i++)
        assert_true(f->answers[i].run_id > 0);
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT result->>'output' FROM workflow_runs WHERE id = %lld",
             (long long)f->answers[1].run_id);
    assert_q(f, sql, "nul\xef\xbf\xbdhere");
}

static void a_run_cancelled_while_queued_does_not_go_on(void **state)
{
    fx_t *f = *state;
    make(f, "busy", "", "[{\"position\":1,\"name\":\"h\",\"skill\":\"t_hold\"}]");
    make(f, "two", "",
         "[" GATE("[\"a@h\"]") ",{\"position\":2,\"name\":\"t\",\"skill\":\"t_tag\",\"config\":{\"tag\":\"!\"}}]");
    /* the pool's one worker is busy */
    hold_worker(f);
    trigger(f, 0, "two", "a@h", json_string("x"));
    wait_answers(f, 1);
    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE workflow_runs SET status = 'cancelled' WHERE id = %lld",
             (long long)f->answers[0].run_id);
    ac_test_db_exec(f->c, sql);
    open_hold();
    eventually(f, "SELECT count(*) FROM workflow_runs WHERE status = 'completed'", "1"); /* "busy" */
    eventually(f, HELD, "0");
    snprintf(sql, sizeof(sql),
             "SELECT status || '|' || count(o.id) FROM workflow_runs r LEFT JOIN skill_outcomes o "
             "ON o.workflow_run_id = r.id WHERE r.id = %lld GROUP BY r.status",
             (long long)f->answers[0].run_id);
    assert_q(f, sql, "cancelled|1"); /* the gate's record only: step 2 never ran */
}

/* A lone trigger whose gate ends its run takes no lock: when its workflow was deleted after it was cached (the change's
 * notification not read yet), the run row's foreign key refuses it. The caller hears workflow_not_found, nothing is
 * recorded, and the intake keeps its connection, with the liveness locks it holds for runs still waiting for a
 * worker. */
static void a_workflow_deleted_since_it_was_cached_is_not_found(void **state)
{
    fx_t *f = *state;
    make(f, "busy", "", "[{\"position\":1,\"name\":\"h\",\"skill\":\"t_hold\"}]");
    make(f, "two", "", "[" GATE("[\"a@h\"]") ",{\"position\":2,\"name\":\"t\",\"skill\":\"t_tag\"}]");
    make(f, "gated", "", "[" GATE("[\"a@h\"]") "]");
    trigger(f, 0, "gated", "a@h", json_integer(1)); /* now cached */
    wait_answers(f, 1);
    assert_true(f->answers[0].run_id > 0);
    hold_worker(f);
    trigger(f, 1, "two", "a@h", json_string("x")); /* waits for the busy worker: the intake holds its run */
    wait_answers(f, 2);
    assert_true(f->answers[1].run_id > 0);
    char *locks = ac_test_db_value(f->c, LOCKS); /* the worker's hold on its run, the intake's on "two"'s */
    assert_non_null(strchr(locks, ','));         /* two holds, so the comparison below compares something */
    /* deleted without the notification, as if the intake had not read it yet */
    notifications(f, false);
    ac_test_db_exec(f->c, "DELETE FROM workflows WHERE name = 'gated'");
    notifications(f, true);
    trigger(f, 2, "gated", "a@h", json_integer(2));
    wait_answers(f, 3);
    assert_int_equal(f->answers[2].code, -AC_ENOENT);
    assert_string_equal(f->answers[2].reason, "workflow_not_found");
    assert_q(f, "SELECT count(*) || '|' || count(workflow_id) FROM workflow_runs", "3|2"); /* gated's first: NULL */
    assert_q(f, "SELECT count(*) FROM skill_outcomes", "2");
    assert_q(f, LOCKS, locks); /* the same sessions hold the same runs: no connection was dropped */
    free(locks);
    open_hold();
    eventually(f, "SELECT count(*) FROM workflow_runs WHERE status = 'completed'", "3");
    eventually(f, HELD, "0");
    /* the stale cache was dropped: a workflow of that name made meanwhile (its notification not read either) is found
     * by name, under its new id */
    notifications(f, false);
    make(f, "gated", "", "[" GATE("[\"a@h\"]") "]");
    notifications(f, true);
    trigger(f, 3, "gated", "a@h", json_integer(3));
    wait_answers(f, 4);
    assert_true(f->answers[3].run_id > 0);
}

/* Workflows deleted and made again under the same names before the intake read the notification: their triggers fail
 * on the old ids, are looked up again by name, and start the new ones (alone or in a group, as they happen to come),
 * each answered once; nothing is refused. A run that goes on after its gate gave its queue place back before the
 * second pass and took one again: once all is done, every place is free. */
static void a_workflow_made_again_under_its_name_is_the_one_started(void **state)
{
    fx_t *f = *state;
    static const char *const names[] = {"gated", "two"};
    const char *steps[] = {"[" GATE("[\"a@h\"]") "]",
                           "[" GATE("[\"a@h\"]") ",{\"position\":2,\"name\":\"t\",\"skill\":\"t_tag\"}]"};
    for (int w = 0; w < 2; w++) {
        make(f, names[w], "", steps[w]);
        trigger(f, w, names[w], "a@h", json_integer(w)); /* now cached */
    }
    wait_answers(f, 2);
    assert_true(f->answers[0].run_id > 0 && f->answers[1].run_id > 0);
    eventually(f, "SELECT count(*) FROM workflow_runs WHERE status = 'completed'", "2");
    notifications(f, false);
    ac_test_db_exec(f->c, "DELETE FROM workflows WHERE name IN ('gated', 'two')");
    for (int w = 0; w < 2; w++)
        make(f, names[w], "", steps[w]);
    notifications(f, true);
    PGconn *blocker = ac_test_db_connect(f->ci); /* so that most of them come to the intake together */
    ac_test_db_exec(blocker, "BEGIN");
    ac_test_db_exec(blocker, "LOCK TABLE skill_outcomes IN EXCLUSIVE MODE");
    for (int i = 2; i < 12; i++)
        trigger(f, i, names[i % 2], "a@h", json_integer(i));
    usleep(200000);
    ac_test_db_exec(blocker, "COMMIT");
    PQfinish(blocker);
    wait_answers(f, 12);
    for (int i = 2; i < 12; i++) {
        assert_int_equal(f->answers[i].calls, 1);
        assert_true(f->answers[i].run_id > 0);
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT r.workflow_id = w.id FROM workflow_runs r, workflows w WHERE r.id = %lld AND w.name = '%s'",
                 (long long)f->answers[i].run_id, names[i % 2]);
        assert_q(f, sql, "t"); /* the new workflow's run */
    }
    ac_node_wf_intake_stats_t st;
    ac_node_wf_intake_stats(f->in, &st);
    assert_int_equal(st.refused, 0);
    assert_int_equal(st.recorded, 12);
    eventually(f, "SELECT count(*) FROM workflow_runs WHERE status = 'completed'", "12");
    assert_q(f, "SELECT count(*) FROM skill_outcomes", "18"); /* 6 gates alone, 6 gates and tags */
    eventually(f, HELD, "0");
    /* no queue place is left reserved: all of them can be reserved now */
    assert_int_equal(ac_node_wf_pool_reserve(f->pool, AC_NODE_WF_POOL_QUEUE), AC_NODE_WF_POOL_QUEUE);
    ac_node_wf_pool_unreserve(f->pool, AC_NODE_WF_POOL_QUEUE);
}

/* The pool refuses a requires_2fa workflow for every machine trigger -- cron (what the scheduler submits), a webhook,
 * a remote trigger that took the pool's path -- and for a person whose second factor was not checked; nothing is
 * recorded. A person who passed the second factor runs it. */
static void machines_never_run_a_requires_2fa_workflow(void **state)
{
    fx_t *f = *state;
    make(f, "secret", ",\"metadata\":{\"requires_2fa\":true}",
         "[" GATE("[\"a@h\"]") ",{\"position\":2,\"name\":\"t\",\"skill\":\"t_tag\",\"config\":{\"tag\":\"!\"}}]");
    char *id = ac_test_db_value(f->c, "SELECT id FROM workflows WHERE name = 'secret'");
    const struct {
        ac_node_wf_trigger_t trigger;
        bool refuse_2fa;
    } jobs[] = {{AC_WF_TRIGGER_CRON, false},
                {AC_WF_TRIGGER_WEBHOOK, false},
                {AC_WF_TRIGGER_REMOTE, false},
                {AC_WF_TRIGGER_PERSON, true},
                {AC_WF_TRIGGER_PERSON, false}};
    for (int i = 0; i < 5; i++) {
        ac_node_wf_job_t job = {.workflow_id = strtoll(id, NULL, 10),
                                .input = json_string("x"),
                                .trigger = jobs[i].trigger,
                                .refuse_2fa = jobs[i].refuse_2fa,
                                .on_started = on_started,
                                .on_refused = on_refused,
                                .arg = &slots[i]};
        if (jobs[i].trigger == AC_WF_TRIGGER_REMOTE) /* as the intake hands it on: the caller's node in extra_config */
            job.extra_config = json_pack("{s:s}", "_source_node", "a@h");
        assert_int_equal(ac_node_wf_pool_submit(f->pool, &job), 0);
        json_decref(job.input);
        json_decref(job.extra_config);
        wait_answers(f, i + 1);
    }
    free(id);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(f->answers[i].calls, 1);
        assert_int_equal(f->answers[i].code, -AC_EPERM);
        assert_string_equal(f->answers[i].reason, "requires_2fa");
    }
    assert_true(f->answers[4].run_id > 0);
    eventually(f, "SELECT count(*) || ':' || min(status) || ':' || min(result->>'output') FROM workflow_runs",
               "1:completed:x!");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(triggers_arriving_together_share_one_commit),
        T(refusals_leave_no_row),
        T(a_run_that_goes_on_is_finished_by_a_worker),
        T(a_change_reaches_the_cache_at_once),
        T(a_failed_statement_answers_its_whole_group),
        T(a_bad_value_does_not_fail_the_others),
        T(a_run_cancelled_while_queued_does_not_go_on),
        T(a_workflow_deleted_since_it_was_cached_is_not_found),
        T(a_workflow_made_again_under_its_name_is_the_one_started),
        T(machines_never_run_a_requires_2fa_workflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
