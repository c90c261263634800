/* policy/skillrate.c - the policy engine's rate limiter (skillrate.h). */
#include "policy/skillrate.h"

#include "policy/alloc.h"
#include "policy/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char key[AC_POLICY_SKILLRATE_KEY_MAX + 1];
    ac_policy_perms_t perm;
    int64_t *ts; /* a ring of call times, oldest at head */
    size_t head, n, cap;
} entry_t;

struct ac_policy_skillrate {
    pthread_mutex_t mu;
    entry_t *v;
    size_t n;
};

ac_policy_skillrate_t *ac_policy_skillrate_new(void)
{
    ac_policy_skillrate_t *rl = ac_calloc(1, sizeof(*rl));
    pthread_mutex_init(&rl->mu, NULL);
    rl->v = ac_calloc(AC_POLICY_SKILLRATE_MAX_KEYS, sizeof(entry_t));
    return rl;
}

void ac_policy_skillrate_free(ac_policy_skillrate_t *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i < rl->n; i++)
        free(rl->v[i].ts);
    free(rl->v);
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

static int64_t at(const entry_t *e, size_t i)
{
    return e->ts[(e->head + i) % e->cap];
}

/* Drops the calls before `from` (the ring is in time order). */
static void expire(entry_t *e, int64_t from)
{
    while (e->n > 0 && at(e, 0) < from) {
        e->head = (e->head + 1) % e->cap;
        e->n--;
    }
}

static void drop(ac_policy_skillrate_t *rl, size_t i)
{
    free(rl->v[i].ts);
    rl->v[i] = rl->v[rl->n - 1];
    memset(&rl->v[rl->n - 1], 0, sizeof(entry_t));
    rl->n--;
}

static void prune_locked(ac_policy_skillrate_t *rl, int64_t now)
{
    for (size_t i = rl->n; i > 0; i--) {
        entry_t *e = &rl->v[i - 1];
        expire(e, now - AC_POLICY_SKILLRATE_IDLE_S);
        if (e->n == 0)
            drop(rl, i - 1);
    }
}

static entry_t *find(ac_policy_skillrate_t *rl, const char *key, ac_policy_perms_t perm, int64_t now)
{
    for (size_t i = 0; i < rl->n; i++)
        if (rl->v[i].perm == perm && strcmp(rl->v[i].key, key) == 0)
            return &rl->v[i];
    if (rl->n == AC_POLICY_SKILLRATE_MAX_KEYS)
        prune_locked(rl, now);
    if (rl->n == AC_POLICY_SKILLRATE_MAX_KEYS)
        return NULL;
    entry_t *e = &rl->v[rl->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->perm = perm;
    return e;
}

int ac_policy_skillrate_check(ac_policy_skillrate_t *rl, const char *caller, ac_policy_perms_t perm, int max_calls,
                              int window_s, int64_t now)
{
    if (max_calls < 1)
        max_calls = 1;
    if (max_calls > AC_POLICY_SKILLRATE_MAX_CALLS)
        max_calls = AC_POLICY_SKILLRATE_MAX_CALLS;
    if (window_s < 1)
        window_s = 1;
    char key[AC_POLICY_SKILLRATE_KEY_MAX + 1];
    snprintf(key, sizeof(key), "%s", caller != NULL ? caller : "");
    pthread_mutex_lock(&rl->mu);
    entry_t *e = find(rl, key, perm, now);
    int rc = 0;
    if (e == NULL) {
        rc = -AC_EAGAIN;
    } else {
        expire(e, now - window_s);
        if (e->n >= (size_t)max_calls) {
            rc = -AC_EAGAIN;
        } else {
            if (e->n == e->cap) { /* grow the ring (keeping its order) up to max_calls */
                size_t cap = e->cap == 0 ? 8 : e->cap * 2;
                if (cap > (size_t)max_calls)
                    cap = (size_t)max_calls;
                int64_t *ts = ac_malloc(cap * sizeof(*ts));
                for (size_t i = 0; i < e->n; i++)
                    ts[i] = at(e, i);
                free(e->ts);
                e->ts = ts;
                e->cap = cap;
                e->head = 0;
            }
            e->ts[(e->head + e->n) % e->cap] = now;
            e->n++;
        }
    }
    pthread_mutex_unlock(&rl->mu);
    return rc;
}

void ac_policy_skillrate_prune(ac_policy_skillrate_t *rl, int64_t now)
{
    pthread_mutex_lock(&rl->mu);
    prune_locked(rl, now);
    pthread_mutex_unlock(&rl->mu);
}

size_t ac_policy_skillrate_size(ac_policy_skillrate_t *rl)
{
    pthread_mutex_lock(&rl->mu);
    size_t n = rl->n;
    pthread_mutex_unlock(&rl->mu);
    return n;
}
