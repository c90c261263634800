/* tests/integration/test_scheduler.c - the cron scheduler against a real PostgreSQL server, with a test clock:
 * due workflows are submitted once per due minute across several nodes sharing the database; node assignment,
 * disabled workflows and invalid schedules are respected; late ticks catch up a bounded number of minutes. */
#include "node/migrate.h"
#include "node/scheduler.h"
#include "policy/alloc.h"
#include "tests/support/testdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define T0 1767225600LL /* 2026-01-01T00:00:00Z, a Thursday */

typedef struct {
    int submitted;
    char names[64][64];
    int fail; /* simulate a full queue */
} sink_t;

static int submit(void *arg, int64_t id, const char *name, int64_t due)
{
    sink_t *s = arg;
    if (s->fail)
        return -AC_EAGAIN;
    if (s->submitted < 64)
        snprintf(s->names[s->submitted], sizeof(s->names[0]), "%s", name);
    s->submitted++;
    return 0;
}

typedef ac_test_db_t fx_t;

static int setup(void **state)
{
    fx_t *f = ac_calloc(1, sizeof(*f));
    ac_test_db_open_migrated("sched", f);
    ac_test_db_exec(f->c, "INSERT INTO workflows (name, enabled, schedule, node) VALUES "
                          "('every_minute', true, '* * * * *', NULL), "
                          "('every_5', true, '*/5 * * * *', ''), "
                          "('mine', true, '* * * * *', 'a@host'), "
                          "('theirs', true, '* * * * *', 'c@host'), "
                          "('disabled', false, '* * * * *', NULL), "
                          "('broken', true, 'not a cron', NULL), "
                          "('unscheduled', true, NULL, NULL)");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    ac_test_db_close(*state);
    free(*state);
    return 0;
}

static bool has(const sink_t *s, const char *name)
{
    for (int i = 0; i < s->submitted && i < 64; i++)
        if (strcmp(s->names[i], name) == 0)
            return true;
    return false;
}

static void submits_due_workflows_of_this_node_only(void **state)
{
    fx_t *f = *state;
    sink_t s = {0};
    ac_node_scheduler_t *a = ac_node_scheduler_new(f->ci, "a@host", submit, &s);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_scheduler_tick(a, f->c, T0 + 5, &err), 3);
    assert_true(has(&s, "every_minute"));
    assert_true(has(&s, "every_5")); /* minute 0 matches */
    assert_true(has(&s, "mine"));
    assert_false(has(&s, "theirs"));
    assert_false(has(&s, "disabled"));
    /* the same minute again: nothing new */
    assert_int_equal(ac_node_scheduler_tick(a, f->c, T0 + 30, &err), 0);
    /* the next minute: every_5 is not due */
    s.submitted = 0;
    assert_int_equal(ac_node_scheduler_tick(a, f->c, T0 + 61, &err), 2);
    assert_false(has(&s, "every_5"));
    ac_node_scheduler_free(a);
}

static void nodes_sharing_a_database_run_each_due_time_once(void **state)
{
    fx_t *f = *state;
    sink_t sa = {0}, sb = {0};
    ac_node_scheduler_t *a = ac_node_scheduler_new(f->ci, "a@host", submit, &sa);
    ac_node_scheduler_t *b = ac_node_scheduler_new(f->ci, "b@host", submit, &sb);
    PGconn *cb = ac_test_db_connect(f->ci);
    ac_errmsg_t err = {{0}};
    for (int64_t m = 0; m < 5; m++) {
        /* both tick the same minute, in either order */
        if (m % 2 == 0) {
            ac_node_scheduler_tick(a, f->c, T0 + m * 60 + 1, &err);
            ac_node_scheduler_tick(b, cb, T0 + m * 60 + 2, &err);
        } else {
            ac_node_scheduler_tick(b, cb, T0 + m * 60 + 1, &err);
            ac_node_scheduler_tick(a, f->c, T0 + m * 60 + 2, &err);
        }
    }
    /* every_minute: 5 due times; every_5: 1; mine: only a, 5 */
    PGresult *r = PQexec(f->c, "SELECT w.name, count(*), count(DISTINCT c.due_at) FROM workflow_schedule_claims c "
                               "JOIN workflows w ON w.id = c.workflow_id GROUP BY w.name ORDER BY w.name");
    assert_int_equal(PQntuples(r), 3);
    assert_string_equal(PQgetvalue(r, 0, 0), "every_5");
    assert_string_equal(PQgetvalue(r, 0, 1), "1");
    assert_string_equal(PQgetvalue(r, 1, 0), "every_minute");
    assert_string_equal(PQgetvalue(r, 1, 1), "5");
    assert_string_equal(PQgetvalue(r, 1, 2), "5");
    assert_string_equal(PQgetvalue(r, 2, 0), "mine");
    assert_string_equal(PQgetvalue(r, 2, 1), "5");
    PQclear(r);
    assert_int_equal(sa.submitted + sb.submitted, 11);
    PQfinish(cb);
    ac_node_scheduler_free(a);
    ac_node_scheduler_free(b);
}

static void a_late_tick_catches_up_a_bounded_number_of_minutes(void **state)
{
    fx_t *f = *state;
    ac_test_db_exec(f->c, "UPDATE workflows SET enabled = false WHERE name <> 'every_minute'");
    sink_t s = {0};
    ac_node_scheduler_t *a = ac_node_scheduler_new(f->ci, "a@host", submit, &s);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_scheduler_tick(a, f->c, T0, &err), 1);
    /* three minutes late: the three missed minutes run */
    assert_int_equal(ac_node_scheduler_tick(a, f->c, T0 + 3 * 60 + 7, &err), 3);
    /* an hour late (the machine slept): at most AC_NODE_SCHEDULER_CATCHUP */
    assert_int_equal(ac_node_scheduler_tick(a, f->c, T0 + 3600, &err), AC_NODE_SCHEDULER_CATCHUP);
    ac_node_scheduler_free(a);
}

static void a_full_queue_releases_the_claim_for_another_node(void **state)
{
    fx_t *f = *state;
    ac_test_db_exec(f->c, "UPDATE workflows SET enabled = false WHERE name <> 'every_minute'");
    sink_t full = {.fail = 1}, ok = {0};
    ac_node_scheduler_t *a = ac_node_scheduler_new(f->ci, "a@host", submit, &full);
    ac_node_scheduler_t *b = ac_node_scheduler_new(f->ci, "b@host", submit, &ok);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_scheduler_tick(a, f->c, T0, &err), 0);
    assert_int_equal(ac_node_scheduler_tick(b, f->c, T0 + 1, &err), 1);
    ac_node_scheduler_free(a);
    ac_node_scheduler_free(b);
}

static void a_released_claim_is_given_back(void **state)
{
    fx_t *f = *state;
    ac_test_db_exec(f->c, "UPDATE workflows SET enabled = false WHERE name <> 'every_minute'");
    sink_t s = {0};
    ac_node_scheduler_t *a = ac_node_scheduler_new(f->ci, "a@host", submit, &s);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_scheduler_tick(a, f->c, T0, &err), 1);
    ac_test_assert_sql(f->c, "SELECT count(*) FROM workflow_schedule_claims", "1");
    char *id = ac_test_db_value(f->c, "SELECT id FROM workflows WHERE name = 'every_minute'");
    ac_node_scheduler_release(a, atoll(id), T0); /* the pool could not record the run */
    free(id);
    assert_int_equal(ac_node_scheduler_tick(a, f->c, T0 + 60, &err), 1);
    ac_test_assert_sql(
        f->c,
        "SELECT count(*) FROM workflow_schedule_claims WHERE due_at = to_timestamp(1767225600) AT TIME ZONE 'utc'",
        "0");
    ac_node_scheduler_free(a);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(submits_due_workflows_of_this_node_only),
        T(nodes_sharing_a_database_run_each_due_time_once),
        T(a_late_tick_catches_up_a_bounded_number_of_minutes),
        T(a_full_queue_releases_the_claim_for_another_node),
        T(a_released_claim_is_given_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
