/* policy/skillrate.c - the policy engine's rate limiter (skillrate.h). */
#include "policy/skillrate.h"

#include "policy/alloc.h"
#include "policy/error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 8192 /* a power of two, twice AC_POLICY_SKILLRATE_MAX_KEYS: short probe runs */

typedef struct entry {
    bool used;
    uint32_t hash;
    char key[AC_POLICY_SKILLRATE_KEY_MAX + 1];
    ac_policy_perms_t perm;
    int64_t *ts; /* a ring of call times, oldest at head */
    size_t head, n, cap;
} entry_t;

/* An open-addressing hash table of (caller, permission): the engine looks a key up on every rate-limited decision,
 * so the lookup must not grow with the number of callers. */
struct ac_policy_skillrate {
    pthread_mutex_t mu;
    entry_t *v; /* SLOTS */
    size_t n;
};

ac_policy_skillrate_t *ac_policy_skillrate_new(void)
{
    ac_policy_skillrate_t *rl = ac_calloc(1, sizeof(*rl));
    pthread_mutex_init(&rl->mu, NULL);
    rl->v = ac_calloc(SLOTS, sizeof(entry_t));
    return rl;
}

void ac_policy_skillrate_free(ac_policy_skillrate_t *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        free(rl->v[i].ts);
    free(rl->v);
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

static uint32_t hash_of(const char *key, size_t n, ac_policy_perms_t perm)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)key[i]) * 16777619u;
    return (h ^ perm) * 2654435761u;
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

/* The slot of (key, perm), or of the empty slot where it would go. */
static entry_t *slot(ac_policy_skillrate_t *rl, const char *key, size_t kn, ac_policy_perms_t perm, uint32_t h)
{
    for (size_t i = h & (SLOTS - 1);; i = (i + 1) & (SLOTS - 1)) {
        entry_t *e = &rl->v[i];
        if (!e->used || (e->hash == h && e->perm == perm && strncmp(e->key, key, kn) == 0 && e->key[kn] == '\0'))
            return e;
    }
}

/* Keeps the keys with a call in the last AC_POLICY_SKILLRATE_IDLE_S seconds: the table is rebuilt without the others
 * (open addressing has no cheap delete). */
static void prune_locked(ac_policy_skillrate_t *rl, int64_t now)
{
    entry_t *old = rl->v;
    rl->v = ac_calloc(SLOTS, sizeof(entry_t));
    rl->n = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        entry_t *e = &old[i];
        if (!e->used)
            continue;
        expire(e, now - AC_POLICY_SKILLRATE_IDLE_S);
        if (e->n == 0) {
            free(e->ts);
            continue;
        }
        entry_t *dst = slot(rl, e->key, strlen(e->key), e->perm, e->hash);
        *dst = *e;
        rl->n++;
    }
    free(old);
}

static entry_t *find(ac_policy_skillrate_t *rl, const char *key, size_t kn, ac_policy_perms_t perm, int64_t now)
{
    uint32_t h = hash_of(key, kn, perm);
    entry_t *e = slot(rl, key, kn, perm, h);
    if (e->used)
        return e;
    if (rl->n == AC_POLICY_SKILLRATE_MAX_KEYS) {
        prune_locked(rl, now);
        if (rl->n == AC_POLICY_SKILLRATE_MAX_KEYS)
            return NULL;
        e = slot(rl, key, kn, perm, h);
    }
    memset(e, 0, sizeof(*e));
    e->used = true;
    e->hash = h;
    memcpy(e->key, key, kn);
    e->key[kn] = '\0';
    e->perm = perm;
    rl->n++;
    return e;
}

/* Calls at or after `from`: the ring is in time order, so a binary search finds the first. */
static size_t count_since(const entry_t *e, int64_t from)
{
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (at(e, mid) < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return e->n - lo;
}

int ac_policy_skillrate_check_all(ac_policy_skillrate_t *rl, const char *caller, ac_policy_perms_t perm,
                                  const ac_policy_skillrate_limit_t *limits, size_t n, int64_t now, size_t *hit)
{
    *hit = 0;
    if (n == 0)
        return 0;
    int64_t longest = 1;
    size_t room = 1;
    for (size_t i = 0; i < n; i++) {
        int64_t w = limits[i].window_s < 1 ? 1 : limits[i].window_s;
        size_t m = limits[i].max_calls < 1                               ? 1
                   : limits[i].max_calls > AC_POLICY_SKILLRATE_MAX_CALLS ? AC_POLICY_SKILLRATE_MAX_CALLS
                                                                         : (size_t)limits[i].max_calls;
        longest = w > longest ? w : longest;
        room = m > room ? m : room;
    }
    const char *key = caller != NULL ? caller : "";
    size_t kn = strnlen(key, AC_POLICY_SKILLRATE_KEY_MAX); /* longer callers are cut */
    pthread_mutex_lock(&rl->mu);
    entry_t *e = find(rl, key, kn, perm, now);
    int rc = 0;
    if (e == NULL) {
        rc = -AC_EAGAIN; /* no room for a new key: fail closed */
    } else {
        expire(e, now - longest);
        for (size_t i = 0; i < n && rc == 0; i++) {
            int64_t w = limits[i].window_s < 1 ? 1 : limits[i].window_s;
            size_t m = limits[i].max_calls < 1 ? 1 : (size_t)limits[i].max_calls;
            if (count_since(e, now - w) >= m) {
                rc = -AC_EAGAIN;
                *hit = i;
            }
        }
        if (rc == 0 && e->n == e->cap) { /* grow the ring (keeping its order) up to the largest limit */
            size_t cap = e->cap == 0 ? 8 : e->cap * 2;
            if (cap > room)
                cap = room;
            if (cap <= e->n) {
                rc = -AC_EAGAIN; /* cannot happen within the limits; never overwrite a call */
            } else {
                int64_t *ts = ac_malloc(cap * sizeof(*ts));
                for (size_t k = 0; k < e->n; k++)
                    ts[k] = at(e, k);
                free(e->ts);
                e->ts = ts;
                e->cap = cap;
                e->head = 0;
            }
        }
        if (rc == 0) { /* one call, recorded once, whatever number of rules counted it */
            e->ts[(e->head + e->n) % e->cap] = now;
            e->n++;
        }
    }
    pthread_mutex_unlock(&rl->mu);
    return rc;
}

int ac_policy_skillrate_check(ac_policy_skillrate_t *rl, const char *caller, ac_policy_perms_t perm, int max_calls,
                              int window_s, int64_t now)
{
    ac_policy_skillrate_limit_t l = {max_calls, window_s};
    size_t hit;
    return ac_policy_skillrate_check_all(rl, caller, perm, &l, 1, now, &hit);
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
