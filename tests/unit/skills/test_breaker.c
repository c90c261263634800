/* tests/unit/skills/test_breaker.c - circuit breaker transitions with a test clock: closed -> open after N
 * consecutive failures, refusals while open, exactly one probe in half-open, probe success closes, probe failure
 * re-opens, stale calls change nothing, runtime limits, the hook, and concurrent probes. */
#include "skills/breaker.h"

#include "policy/error.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static ac_skills_breaker_state_t state_of(ac_skills_breakers_t *b, const char *skill, int *failures)
{
    ac_skills_breaker_view_t v[16];
    size_t n = ac_skills_breakers_snapshot(b, v, 16);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].skill, skill) == 0) {
            if (failures != NULL)
                *failures = v[i].failures;
            return v[i].state;
        }
    }
    fail_msg("no breaker for %s", skill);
    return AC_BREAKER_CLOSED;
}

static void call(ac_skills_breakers_t *b, const char *skill, bool ok, int64_t now)
{
    ac_skills_breaker_ticket_t t;
    assert_int_equal(ac_skills_breakers_acquire(b, skill, now, &t), 0);
    ac_skills_breakers_release(b, skill, &t, ok, ok ? NULL : "err", now);
}

static void opens_after_max_consecutive_failures(void **state)
{
    ac_skills_breakers_t *b = ac_skills_breakers_new(3, 1000);
    call(b, "s", false, 0);
    call(b, "s", false, 0);
    assert_int_equal(state_of(b, "s", NULL), AC_BREAKER_CLOSED);
    call(b, "s", false, 0);
    int failures;
    assert_int_equal(state_of(b, "s", &failures), AC_BREAKER_OPEN);
    assert_int_equal(failures, 3);
    ac_skills_breaker_ticket_t t;
    assert_int_equal(ac_skills_breakers_acquire(b, "s", 999, &t), -AC_ESTATE);
    ac_skills_breakers_free(b);
}

static void a_success_resets_the_failure_count(void **state)
{
    ac_skills_breakers_t *b = ac_skills_breakers_new(3, 1000);
    call(b, "s", false, 0);
    call(b, "s", false, 0);
    call(b, "s", true, 0);
    call(b, "s", false, 0);
    call(b, "s", false, 0);
    assert_int_equal(state_of(b, "s", NULL), AC_BREAKER_CLOSED);
    ac_skills_breakers_free(b);
}

static void half_open_admits_exactly_one_probe(void **state)
{
    ac_skills_breakers_t *b = ac_skills_breakers_new(1, 1000);
    call(b, "s", false, 0);
    ac_skills_breaker_ticket_t probe, other;
    assert_int_equal(ac_skills_breakers_acquire(b, "s", 1000, &probe), 0);
    assert_true(probe.probe);
    assert_int_equal(state_of(b, "s", NULL), AC_BREAKER_HALF_OPEN);
    /* while the probe runs, every other call is refused */
    for (int i = 0; i < 5; i++)
        assert_int_equal(ac_skills_breakers_acquire(b, "s", 1001 + i, &other), -AC_ESTATE);
    ac_skills_breakers_release(b, "s", &probe, true, NULL, 1010);
    assert_int_equal(state_of(b, "s", NULL), AC_BREAKER_CLOSED);
    assert_int_equal(ac_skills_breakers_acquire(b, "s", 1011, &other), 0);
    assert_false(other.probe);
    ac_skills_breakers_free(b);
}

static void a_failed_probe_opens_it_again_for_another_cooldown(void **state)
{
    ac_skills_breakers_t *b = ac_skills_breakers_new(2, 1000);
    call(b, "s", false, 0);
    call(b, "s", false, 0);
    ac_skills_breaker_ticket_t t;
    assert_int_equal(ac_skills_breakers_acquire(b, "s", 1500, &t), 0);
    ac_skills_breakers_release(b, "s", &t, false, "still down", 1600);
    assert_int_equal(state_of(b, "s", NULL), AC_BREAKER_OPEN);
    assert_int_equal(ac_skills_breakers_acquire(b, "s", 2599, &t), -AC_ESTATE); /* cooldown from 1600 */
    assert_int_equal(ac_skills_breakers_acquire(b, "s", 2600, &t), 0);
    assert_true(t.probe);
    ac_skills_breakers_free(b);
}

static void a_stale_call_does_not_close_an_open_breaker(void **state)
{
    ac_skills_breakers_t *b = ac_skills_breakers_new(1, 1000);
    ac_skills_breaker_ticket_t slow;
    assert_int_equal(ac_skills_breakers_acquire(b, "s", 0, &slow), 0); /* started while closed */
    call(b, "s", false, 10);                                           /* another call opens it */
    ac_skills_breakers_release(b, "s", &slow, true, NULL, 20);         /* the slow one succeeds late */
    assert_int_equal(state_of(b, "s", NULL), AC_BREAKER_OPEN);
    ac_skills_breakers_free(b);
}

static void breakers_are_per_skill(void **state)
{
    ac_skills_breakers_t *b = ac_skills_breakers_new(1, 1000);
    call(b, "a", false, 0);
    ac_skills_breaker_ticket_t t;
    assert_int_equal(ac_skills_breakers_acquire(b, "b", 0, &t), 0);
    assert_int_equal(ac_skills_breakers_acquire(b, "a", 0, &t), -AC_ESTATE);
    ac_skills_breakers_free(b);
}

static void limits_change_at_runtime_and_reset_closes(void **state)
{
    ac_skills_breakers_t *b = ac_skills_breakers_new(3, 1000);
    ac_skills_breakers_configure(b, 1, 50);
    call(b, "s", false, 0);
    assert_int_equal(state_of(b, "s", NULL), AC_BREAKER_OPEN);
    ac_skills_breaker_ticket_t t;
    assert_int_equal(ac_skills_breakers_acquire(b, "s", 50, &t), 0);
    ac_skills_breakers_release(b, "s", &t, false, "x", 50);
    ac_skills_breakers_reset(b, "s");
    assert_int_equal(state_of(b, "s", NULL), AC_BREAKER_CLOSED);
    ac_skills_breakers_configure(b, 0, -1); /* ignored */
    call(b, "s", false, 60);
    assert_int_equal(state_of(b, "s", NULL), AC_BREAKER_OPEN);
    ac_skills_breakers_free(b);
}

static int hook_calls;
static ac_skills_breaker_state_t hook_to[8];
static void hook(void *arg, const char *skill, ac_skills_breaker_state_t from, ac_skills_breaker_state_t to,
                 int failures, const char *last_error)
{
    if (hook_calls < 8)
        hook_to[hook_calls] = to;
    hook_calls++;
}

static void the_hook_hears_every_transition(void **state)
{
    ac_skills_breakers_t *b = ac_skills_breakers_new(1, 10);
    hook_calls = 0;
    ac_skills_breakers_set_hook(b, hook, NULL);
    call(b, "s", false, 0); /* closed -> open */
    call(b, "s", true, 10); /* open -> half_open -> closed */
    assert_int_equal(hook_calls, 3);
    assert_int_equal(hook_to[0], AC_BREAKER_OPEN);
    assert_int_equal(hook_to[1], AC_BREAKER_HALF_OPEN);
    assert_int_equal(hook_to[2], AC_BREAKER_CLOSED);
    ac_skills_breakers_free(b);
}

typedef struct {
    ac_skills_breakers_t *b;
    int admitted;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    ac_skills_breaker_ticket_t t;
    for (int i = 0; i < 200; i++)
        if (ac_skills_breakers_acquire(r->b, "s", 5000, &t) == 0)
            r->admitted++; /* never released: the probe stays in flight */
    return NULL;
}

static void concurrent_callers_get_a_single_probe(void **state)
{
    ac_skills_breakers_t *b = ac_skills_breakers_new(1, 1000);
    call(b, "s", false, 0);
    racer_t r[4] = {{b, 0}, {b, 0}, {b, 0}, {b, 0}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, race, &r[i]);
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += r[i].admitted;
    }
    assert_int_equal(total, 1);
    ac_skills_breakers_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opens_after_max_consecutive_failures),
        cmocka_unit_test(a_success_resets_the_failure_count),
        cmocka_unit_test(half_open_admits_exactly_one_probe),
        cmocka_unit_test(a_failed_probe_opens_it_again_for_another_cooldown),
        cmocka_unit_test(a_stale_call_does_not_close_an_open_breaker),
        cmocka_unit_test(breakers_are_per_skill),
        cmocka_unit_test(limits_change_at_runtime_and_reset_closes),
        cmocka_unit_test(the_hook_hears_every_transition),
        cmocka_unit_test(concurrent_callers_get_a_single_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
