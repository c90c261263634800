/* policy/ratelimit.c - the login rate limiter of ratelimit.h: an open-addressing table of clients, each with the
 * times of its recent failures in a small ring. */
#include "policy/ratelimit.h"

#include "policy/alloc.h"
#include "policy/error.h"

#include <stdlib.h>
#include <string.h>

#define SLOTS (AC_POLICY_RATELIMIT_MAX_CLIENTS * 2) /* load factor at most 1/2 */

typedef struct {
    char key[AC_POLICY_RATELIMIT_KEY_MAX + 1];
    int64_t fails[AC_POLICY_RATELIMIT_MAX_ATTEMPTS]; /* ring of failure times */
    int nfails, head;
    int64_t blocked_until; /* 0: not blocked */
    int64_t last;          /* last failure */
} client_t;

struct ac_policy_ratelimit {
    client_t **slot; /* SLOTS entries; NULL: empty */
    int count;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Durations beyond this are taken as this, so that now + duration cannot overflow. */
#define DURATION_MAX ((int64_t)10 * 365 * 86400)

static int64_t clamp_duration(int64_t d)
{
    return d < 1 ? 1 : d > DURATION_MAX ? DURATION_MAX : d;
}

static int clamp_attempts(int n)
{
    return n < 1 ? 1 : n > AC_POLICY_RATELIMIT_MAX_ATTEMPTS ? AC_POLICY_RATELIMIT_MAX_ATTEMPTS : n;
}

ac_policy_ratelimit_t *ac_policy_ratelimit_new(void)
{
    ac_policy_ratelimit_t *rl = ac_calloc(1, sizeof(*rl));
    rl->slot = ac_calloc(SLOTS, sizeof(*rl->slot));
    return rl;
}

void ac_policy_ratelimit_free(ac_policy_ratelimit_t *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        free(rl->slot[i]);
    free(rl->slot);
    free(rl);
}

static void cut_key(const char *client, char out[AC_POLICY_RATELIMIT_KEY_MAX + 1])
{
    size_t n = strlen(client);
    n = n > AC_POLICY_RATELIMIT_KEY_MAX ? AC_POLICY_RATELIMIT_KEY_MAX : n;
    memcpy(out, client, n);
    out[n] = '\0';
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find(const ac_policy_ratelimit_t *rl, const char *key)
{
    size_t i = hash(key) % SLOTS;
    while (rl->slot[i] != NULL && strcmp(rl->slot[i]->key, key) != 0)
        i = (i + 1) % SLOTS;
    return i;
}

/* Removes slot i, re-placing the entries of its probe run behind it (linear probing deletion). */
static void remove_at(ac_policy_ratelimit_t *rl, size_t i)
{
    free(rl->slot[i]);
    rl->slot[i] = NULL;
    rl->count--;
    for (size_t j = (i + 1) % SLOTS; rl->slot[j] != NULL; j = (j + 1) % SLOTS) {
        client_t *c = rl->slot[j];
        rl->slot[j] = NULL;
        rl->slot[find(rl, c->key)] = c;
    }
}

/* Failures of c within the window ending at now. */
static int recent(const client_t *c, const ac_policy_ratelimit_cfg_t *cfg, int64_t now)
{
    int n = 0;
    for (int k = 0; k < c->nfails; k++)
        if (now - c->fails[k] < clamp_duration(cfg->window_s))
            n++;
    return n;
}

static int stale(const client_t *c, const ac_policy_ratelimit_cfg_t *cfg, int64_t now)
{
    return c->blocked_until <= now && recent(c, cfg, now) == 0;
}

/* Makes room when the table is full: drops the clients with nothing recent, and if that frees less than a tenth of the
 * table, every client that is not blocked (a flood of addresses resets partial streaks, never blocks). Amortised:
 * after it, many inserts fit before the next. Returns 0, or -AC_EAGAIN when every tracked client is blocked. */
static int make_room(ac_policy_ratelimit_t *rl, const ac_policy_ratelimit_cfg_t *cfg, int64_t now)
{
    for (int pass = 0; pass < 2 && rl->count > AC_POLICY_RATELIMIT_MAX_CLIENTS * 9 / 10; pass++) {
        for (size_t i = 0; i < SLOTS; i++) {
            client_t *c = rl->slot[i];
            /* remove_at may move a later entry into slot i: look at the slot again */
            while (c != NULL && (pass == 0 ? stale(c, cfg, now) : c->blocked_until <= now)) {
                remove_at(rl, i);
                c = rl->slot[i];
            }
        }
    }
    return rl->count < AC_POLICY_RATELIMIT_MAX_CLIENTS ? 0 : -AC_EAGAIN;
}

int ac_policy_ratelimit_check(ac_policy_ratelimit_t *rl, const char *client, const ac_policy_ratelimit_cfg_t *cfg,
                              int64_t now, int64_t *retry_after_s)
{
    char key[AC_POLICY_RATELIMIT_KEY_MAX + 1];
    cut_key(client, key);
    size_t i = find(rl, key);
    client_t *c = rl->slot[i];
    if (c == NULL)
        return 0;
    if (c->blocked_until > now) {
        *retry_after_s = c->blocked_until - now;
        return -AC_EPERM;
    }
    if (c->blocked_until != 0) { /* the block is over: a fresh start */
        remove_at(rl, i);
        return 0;
    }
    return 0;
}

int ac_policy_ratelimit_fail(ac_policy_ratelimit_t *rl, const char *client, const ac_policy_ratelimit_cfg_t *cfg,
                             int64_t now)
{
    char key[AC_POLICY_RATELIMIT_KEY_MAX + 1];
    cut_key(client, key);
    size_t i = find(rl, key);
    if (rl->slot[i] == NULL) {
        if (rl->count >= AC_POLICY_RATELIMIT_MAX_CLIENTS) {
            if (make_room(rl, cfg, now) != 0)
                return 0; /* every tracked client is blocked: this one is not tracked */
            i = find(rl, key);
        }
        rl->slot[i] = ac_calloc(1, sizeof(client_t));
        memcpy(rl->slot[i]->key, key, sizeof(key));
        rl->count++;
    }
    client_t *c = rl->slot[i];
    int max = clamp_attempts(cfg->max_attempts);
    if (c->blocked_until > now) { /* a failure while blocked (a caller that did not check): a fresh block */
        c->blocked_until = now + clamp_duration(cfg->block_s);
        return 0;
    }
    c->fails[c->head] = now;
    c->head = (c->head + 1) % AC_POLICY_RATELIMIT_MAX_ATTEMPTS;
    if (c->nfails < AC_POLICY_RATELIMIT_MAX_ATTEMPTS)
        c->nfails++;
    c->last = now;
    if (recent(c, cfg, now) >= max) {
        c->blocked_until = now + clamp_duration(cfg->block_s);
        c->nfails = c->head = 0;
        return 1;
    }
    return 0;
}

void ac_policy_ratelimit_clear(ac_policy_ratelimit_t *rl, const char *client)
{
    char key[AC_POLICY_RATELIMIT_KEY_MAX + 1];
    cut_key(client, key);
    size_t i = find(rl, key);
    if (rl->slot[i] != NULL)
        remove_at(rl, i);
}

int ac_policy_ratelimit_count(const ac_policy_ratelimit_t *rl)
{
    return rl->count;
}
