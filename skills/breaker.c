/* skills/breaker.c - the circuit breakers of breaker.h: a small table of per-skill state under one mutex. */
#include "skills/breaker.h"

#include "node/log.h"
#include "policy/alloc.h"
#include "policy/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char skill[64];
    ac_skills_breaker_state_t state;
    int failures;
    int64_t opened_at;
    bool probe_in_flight;
    char last_error[200];
} entry_t;

struct ac_skills_breakers {
    pthread_mutex_t lock;
    entry_t *e;
    size_t n, cap;
    int max_failures;
    int64_t reset_ms;
    ac_skills_breaker_hook_fn hook;
    void *hook_arg;
};

static const char *const state_names[] = {"closed", "open", "half_open"};

const char *ac_skills_breaker_state_name(ac_skills_breaker_state_t s)
{
    return (unsigned)s < 3 ? state_names[s] : "unknown";
}

ac_skills_breakers_t *ac_skills_breakers_new(int max_failures, int64_t reset_ms)
{
    ac_skills_breakers_t *b = ac_calloc(1, sizeof(*b));
    pthread_mutex_init(&b->lock, NULL);
    b->max_failures = max_failures > 0 ? max_failures : 3;
    b->reset_ms = reset_ms > 0 ? reset_ms : 300000;
    return b;
}

void ac_skills_breakers_free(ac_skills_breakers_t *b)
{
    if (b == NULL)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b->e);
    free(b);
}

void ac_skills_breakers_configure(ac_skills_breakers_t *b, int max_failures, int64_t reset_ms)
{
    pthread_mutex_lock(&b->lock);
    if (max_failures > 0)
        b->max_failures = max_failures;
    if (reset_ms > 0)
        b->reset_ms = reset_ms;
    pthread_mutex_unlock(&b->lock);
}

void ac_skills_breakers_set_hook(ac_skills_breakers_t *b, ac_skills_breaker_hook_fn hook, void *arg)
{
    pthread_mutex_lock(&b->lock);
    b->hook = hook;
    b->hook_arg = arg;
    pthread_mutex_unlock(&b->lock);
}

/* Finds or creates the entry of skill. Lock held. */
static entry_t *get(ac_skills_breakers_t *b, const char *skill)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->e[i].skill, skill) == 0)
            return &b->e[i];
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->e = ac_realloc(b->e, b->cap * sizeof(*b->e));
    }
    entry_t *e = &b->e[b->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->skill, sizeof(e->skill), "%s", skill);
    return e;
}

typedef struct {
    bool fire;
    char skill[64];
    ac_skills_breaker_state_t from, to;
    int failures;
    char last_error[200];
} transition_t;

static void move(entry_t *e, ac_skills_breaker_state_t to, transition_t *t)
{
    t->fire = true;
    memcpy(t->skill, e->skill, sizeof(t->skill));
    t->from = e->state;
    t->to = to;
    e->state = to;
    t->failures = e->failures;
    memcpy(t->last_error, e->last_error, sizeof(t->last_error));
}

static void announce(ac_skills_breakers_t *b, const transition_t *t)
{
    if (!t->fire)
        return;
    ac_log(t->to == AC_BREAKER_OPEN ? AC_LOG_WARN : AC_LOG_INFO, "breaker", "transition",
           "skill=%s from=%s to=%s failures=%d last_error=%s", t->skill, ac_skills_breaker_state_name(t->from),
           ac_skills_breaker_state_name(t->to), t->failures, t->last_error);
    pthread_mutex_lock(&b->lock);
    ac_skills_breaker_hook_fn hook = b->hook;
    void *arg = b->hook_arg;
    pthread_mutex_unlock(&b->lock);
    if (hook != NULL)
        hook(arg, t->skill, t->from, t->to, t->failures, t->last_error);
}

int ac_skills_breakers_acquire(ac_skills_breakers_t *b, const char *skill, int64_t now_ms,
                               ac_skills_breaker_ticket_t *t)
{
    transition_t tr = {0};
    int rc = 0;
    t->probe = false;
    pthread_mutex_lock(&b->lock);
    entry_t *e = get(b, skill);
    if (e->state == AC_BREAKER_OPEN && now_ms - e->opened_at >= b->reset_ms)
        move(e, AC_BREAKER_HALF_OPEN, &tr);
    if (e->state == AC_BREAKER_OPEN) {
        rc = -AC_ESTATE;
    } else if (e->state == AC_BREAKER_HALF_OPEN) {
        if (e->probe_in_flight) {
            rc = -AC_ESTATE;
        } else {
            e->probe_in_flight = true;
            t->probe = true;
        }
    }
    pthread_mutex_unlock(&b->lock);
    announce(b, &tr);
    return rc;
}

void ac_skills_breakers_release(ac_skills_breakers_t *b, const char *skill, const ac_skills_breaker_ticket_t *t,
                                bool success, const char *error, int64_t now_ms)
{
    transition_t tr = {0};
    pthread_mutex_lock(&b->lock);
    entry_t *e = get(b, skill);
    if (t->probe)
        e->probe_in_flight = false;
    if (success) {
        if (e->state == AC_BREAKER_CLOSED) {
            e->failures = 0;
            e->last_error[0] = '\0';
        } else if (e->state == AC_BREAKER_HALF_OPEN && t->probe) {
            e->failures = 0;
            e->last_error[0] = '\0';
            move(e, AC_BREAKER_CLOSED, &tr);
        }
    } else if (e->state != AC_BREAKER_OPEN && (e->state == AC_BREAKER_CLOSED || t->probe)) {
        e->failures++;
        snprintf(e->last_error, sizeof(e->last_error), "%s", error != NULL ? error : "");
        if (e->state == AC_BREAKER_HALF_OPEN || e->failures >= b->max_failures) {
            e->opened_at = now_ms;
            move(e, AC_BREAKER_OPEN, &tr);
        }
    }
    pthread_mutex_unlock(&b->lock);
    announce(b, &tr);
}

void ac_skills_breakers_reset(ac_skills_breakers_t *b, const char *skill)
{
    transition_t tr = {0};
    pthread_mutex_lock(&b->lock);
    entry_t *e = get(b, skill);
    e->failures = 0;
    e->probe_in_flight = false;
    e->last_error[0] = '\0';
    if (e->state != AC_BREAKER_CLOSED)
        move(e, AC_BREAKER_CLOSED, &tr);
    pthread_mutex_unlock(&b->lock);
    announce(b, &tr);
}

static int cmp_view(const void *a, const void *b)
{
    return strcmp(((const ac_skills_breaker_view_t *)a)->skill, ((const ac_skills_breaker_view_t *)b)->skill);
}

size_t ac_skills_breakers_snapshot(ac_skills_breakers_t *b, ac_skills_breaker_view_t *out, size_t max)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->n < max ? b->n : max;
    for (size_t i = 0; i < n; i++) {
        memcpy(out[i].skill, b->e[i].skill, sizeof(out[i].skill));
        out[i].state = b->e[i].state;
        out[i].failures = b->e[i].failures;
        memcpy(out[i].last_error, b->e[i].last_error, sizeof(out[i].last_error));
    }
    pthread_mutex_unlock(&b->lock);
    qsort(out, n, sizeof(*out), cmp_view);
    return n;
}
