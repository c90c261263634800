/* skills/registry.c - the skill registry of registry.h and the list of core skills. */
#include "skills/registry.h"

#include "policy/alloc.h"
#include "policy/error.h"
#include "skills/db_backup.h"
#include "skills/gate.h"
#include "skills/github_review.h"
#include "skills/http.h"
#include "skills/llm_skills.h"
#include "skills/notify.h"
#include "skills/shell.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The core skills of this build (the coder is registered by node/app.c: it needs the dynamic skill loader). Names of
 * the original's other core skills (RSS, Google, ...) are reserved below so a dynamic skill can never take them. */
static const ac_skill_def_t *const core_defs[] = {
    &ac_skills_shell,
    &ac_skills_web_fetch,
    &ac_skills_api_request,
    &ac_skills_db_backup,
    &ac_skills_telegram_notify,
    &ac_skills_receive_from_workflow,
    &ac_skills_send_to_workflow,
    &ac_skills_llm_transform,
    &ac_skills_llm_score,
    &ac_skills_conversational,
    &ac_skills_github_security_review,
};

const char *const ac_skills_core_names[] = {
    "rss_collector",
    "web_search",
    "web_browse",
    "research",
    "conversational",
    "llm_transform",
    "telegram_notify",
    "discord_notify",
    "api_request",
    "github_security_review",
    "google_calendar",
    "google_tasks",
    "web_automation",
    "shell",
    "coder",
    "send_to_workflow",
    "receive_from_workflow",
    "db_backup",
    "web_fetch",
    "web_search_fetch",
    "rss_fetch",
    "llm_score",
    NULL,
};

typedef struct {
    const ac_skill_def_t *def;
    bool core;
} slot_t;

struct ac_skills_registry {
    pthread_rwlock_t lock;
    slot_t *s;
    size_t n, cap;
    ac_skills_registry_holder_t holder; /* hold == NULL: none */
};

ac_skills_registry_t *ac_skills_registry_new(void)
{
    ac_skills_registry_t *r = ac_calloc(1, sizeof(*r));
    pthread_rwlock_init(&r->lock, NULL);
    return r;
}

void ac_skills_registry_free(ac_skills_registry_t *r)
{
    if (r == NULL)
        return;
    pthread_rwlock_destroy(&r->lock);
    free(r->s);
    free(r);
}

static slot_t *find_locked(ac_skills_registry_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->s[i].def->name, name) == 0)
            return &r->s[i];
    return NULL;
}

int ac_skills_registry_add(ac_skills_registry_t *r, const ac_skill_def_t *def, bool core)
{
    pthread_rwlock_wrlock(&r->lock);
    int rc = 0;
    if (find_locked(r, def->name) != NULL) {
        rc = -AC_EEXIST;
    } else {
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 32;
            r->s = ac_realloc(r->s, r->cap * sizeof(*r->s));
        }
        r->s[r->n++] = (slot_t){def, core};
    }
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

void ac_skills_registry_add_core(ac_skills_registry_t *r)
{
    for (size_t i = 0; i < sizeof(core_defs) / sizeof(core_defs[0]); i++)
        ac_skills_registry_add(r, core_defs[i], true);
}

int ac_skills_registry_remove(ac_skills_registry_t *r, const char *name)
{
    pthread_rwlock_wrlock(&r->lock);
    int rc = -AC_ENOENT;
    slot_t *s = find_locked(r, name);
    if (s != NULL && s->core) {
        rc = -AC_EPERM;
    } else if (s != NULL) {
        size_t i = (size_t)(s - r->s);
        memmove(&r->s[i], &r->s[i + 1], (r->n - i - 1) * sizeof(*r->s));
        r->n--;
        rc = 0;
    }
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

void ac_skills_registry_set_holder(ac_skills_registry_t *r, const ac_skills_registry_holder_t *h)
{
    pthread_rwlock_wrlock(&r->lock);
    r->holder = h != NULL ? *h : (ac_skills_registry_holder_t){0};
    pthread_rwlock_unlock(&r->lock);
}

/* Takes a hold on s's definition for a caller. Locked (read). */
static const ac_skill_def_t *held(ac_skills_registry_t *r, const slot_t *s)
{
    if (!s->core && r->holder.hold != NULL)
        r->holder.hold(r->holder.arg, s->def);
    return s->def;
}

const ac_skill_def_t *ac_skills_registry_find(ac_skills_registry_t *r, const char *name)
{
    pthread_rwlock_rdlock(&r->lock);
    slot_t *s = find_locked(r, name);
    const ac_skill_def_t *d = s != NULL ? held(r, s) : NULL;
    pthread_rwlock_unlock(&r->lock);
    return d;
}

bool ac_skills_registry_has(ac_skills_registry_t *r, const char *name)
{
    pthread_rwlock_rdlock(&r->lock);
    bool has = find_locked(r, name) != NULL;
    pthread_rwlock_unlock(&r->lock);
    return has;
}

void ac_skills_registry_release(ac_skills_registry_t *r, const ac_skill_def_t *def)
{
    if (def != NULL)
        ac_skills_registry_release_list(r, &def, 1);
}

void ac_skills_registry_release_list(ac_skills_registry_t *r, const ac_skill_def_t *const *defs, size_t n)
{
    pthread_rwlock_rdlock(&r->lock);
    for (size_t i = 0; i < n && r->holder.release != NULL; i++)
        if (defs[i] != NULL)
            r->holder.release(r->holder.arg, defs[i]);
    pthread_rwlock_unlock(&r->lock);
}

bool ac_skills_registry_is_core(ac_skills_registry_t *r, const char *name)
{
    for (size_t i = 0; ac_skills_core_names[i] != NULL; i++)
        if (strcmp(ac_skills_core_names[i], name) == 0)
            return true;
    pthread_rwlock_rdlock(&r->lock);
    slot_t *s = find_locked(r, name);
    bool core = s != NULL && s->core;
    pthread_rwlock_unlock(&r->lock);
    return core;
}

static int cmp_def(const void *a, const void *b)
{
    return strcmp((*(const ac_skill_def_t *const *)a)->name, (*(const ac_skill_def_t *const *)b)->name);
}

size_t ac_skills_registry_list(ac_skills_registry_t *r, const ac_skill_def_t **out, size_t max)
{
    pthread_rwlock_rdlock(&r->lock);
    size_t n = r->n;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = held(r, &r->s[i]);
    pthread_rwlock_unlock(&r->lock);
    qsort(out, n < max ? n : max, sizeof(*out), cmp_def);
    return n;
}

bool ac_skills_def_has_route(const ac_skill_def_t *def, const char *branch)
{
    for (size_t i = 0; def->routes != NULL && def->routes[i] != NULL; i++)
        if (strcmp(def->routes[i], branch) == 0)
            return true;
    return false;
}
