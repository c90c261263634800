/* node/policies.c - the policy rules of policies.h. */
#include "node/policies.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ac_node_policies {
    pthread_mutex_t mu;
    char *conninfo;
    PGconn *listen; /* LISTEN alexclaw_policies; NULL until made or after it was lost */
    ac_node_rules_t *rules;
    int64_t loaded_at_ms;
    bool stale;
    int64_t listen_tried_ms; /* the last attempt to (re)make the LISTEN connection */
};

ac_node_policies_t *ac_node_policies_new(const char *conninfo)
{
    ac_node_policies_t *p = ac_calloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    p->conninfo = ac_strdup(conninfo);
    p->stale = true;
    return p;
}

void ac_node_rules_release(ac_node_rules_t *r)
{
    if (r == NULL || __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    free(r->v);
    free(r);
}

void ac_node_policies_free(ac_node_policies_t *p)
{
    if (p == NULL)
        return;
    if (p->listen != NULL)
        PQfinish(p->listen);
    ac_node_rules_release(p->rules);
    explicit_bzero(p->conninfo, strlen(p->conninfo));
    free(p->conninfo);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void ac_node_policies_invalidate(ac_node_policies_t *p)
{
    pthread_mutex_lock(&p->mu);
    p->stale = true;
    pthread_mutex_unlock(&p->mu);
}

/* Reads what the LISTEN connection received (never blocks); makes it when missing. Under p->mu. */
static void listen_poll(ac_node_policies_t *p, int64_t now_ms)
{
    if (p->listen == NULL) {
        /* at most one attempt every 10 s: while the database is unreachable a connect waits up to its timeout, and
         * every decision waits on this lock */
        if (p->listen_tried_ms != 0 && now_ms - p->listen_tried_ms < 10000 && now_ms >= p->listen_tried_ms)
            return;
        p->listen_tried_ms = now_ms;
        ac_errmsg_t err = {{0}};
        if (ac_node_db_connect(p->conninfo, &p->listen, &err) != 0 ||
            ac_node_db_exec(p->listen, "LISTEN alexclaw_policies", "listen", &err) != 0) {
            if (p->listen != NULL)
                PQfinish(p->listen);
            p->listen = NULL; /* the TTL still bounds staleness; try again at the next reload */
            return;
        }
        p->stale = true; /* changes while we did not listen */
    }
    if (PQconsumeInput(p->listen) == 0 || PQstatus(p->listen) != CONNECTION_OK) {
        PQfinish(p->listen);
        p->listen = NULL;
        p->stale = true;
        return;
    }
    PGnotify *n;
    while ((n = PQnotifies(p->listen)) != NULL) {
        p->stale = true;
        PQfreemem(n);
    }
}

static int load(PGconn *c, ac_node_rules_t **out, ac_errmsg_t *err)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", AC_NODE_POLICIES_MAX);
    const char *p[] = {lim};
    PGresult *r = PQexecParams(c,
                               "SELECT id, rule_type, config::text, coalesce(priority, 0), name FROM auth_policies "
                               "WHERE enabled IS NOT FALSE ORDER BY priority DESC, id LIMIT $1::int",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc =
            ac_errmsg_set(err, PQstatus(c) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN, "policies: %s", PQerrorMessage(c));
        PQclear(r);
        return rc;
    }
    ac_node_rules_t *rules = ac_calloc(1, sizeof(*rules));
    rules->refs = 1;
    rules->v = ac_calloc((size_t)PQntuples(r) + 1, sizeof(ac_policy_rule_t));
    for (int i = 0; i < PQntuples(r); i++) {
        ac_errmsg_t perr = {{0}};
        ac_policy_rule_t *rule = &rules->v[rules->n];
        const char *cfg = PQgetvalue(r, i, 2);
        if (ac_policy_rule_parse(PQgetvalue(r, i, 1), cfg, strlen(cfg), rule, &perr) != 0) {
            rules->skipped++;
            ac_log_warn("policy", "rule_skipped", "id=%s name=%s error=%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 4),
                        perr.msg);
            continue;
        }
        rule->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        rule->priority = atoi(PQgetvalue(r, i, 3));
        rules->n++;
    }
    PQclear(r);
    ac_policy_rules_sort(rules->v, rules->n);
    *out = rules;
    return 0;
}

int ac_node_policies_get(ac_node_policies_t *p, PGconn *c, int64_t now_ms, ac_node_rules_t **out, ac_errmsg_t *err)
{
    *out = NULL;
    pthread_mutex_lock(&p->mu);
    listen_poll(p, now_ms);
    int rc = 0;
    if (p->stale || p->rules == NULL || now_ms - p->loaded_at_ms >= AC_NODE_POLICIES_TTL_MS ||
        now_ms < p->loaded_at_ms) {
        ac_node_rules_t *fresh = NULL;
        rc = load(c, &fresh, err);
        if (rc == 0) {
            ac_node_rules_release(p->rules);
            p->rules = fresh;
            p->loaded_at_ms = now_ms;
            p->stale = false;
        } else if (p->rules != NULL) {
            rc = 0; /* keep serving what we had; the next lookup tries again */
        }
    }
    if (p->rules != NULL) {
        __atomic_add_fetch(&p->rules->refs, 1, __ATOMIC_ACQ_REL);
        *out = p->rules;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int ac_node_policies_check(const char *name, const char *description, const char *rule_type, const char *config,
                           int priority, const char **field, ac_errmsg_t *err)
{
    const char *unused;
    if (field == NULL)
        field = &unused;
    *field = NULL;
    if (name == NULL || name[0] == '\0' || strlen(name) > AC_NODE_POLICIES_NAME_MAX) {
        *field = "name";
        return ac_errmsg_set(err, -AC_EINVAL, "name: 1 to %d characters", AC_NODE_POLICIES_NAME_MAX);
    }
    if (description != NULL && strlen(description) > AC_NODE_POLICIES_DESC_MAX) {
        *field = "description";
        return ac_errmsg_set(err, -AC_EINVAL, "description: at most %d characters", AC_NODE_POLICIES_DESC_MAX);
    }
    if (priority < -AC_NODE_POLICIES_PRIORITY_MAX || priority > AC_NODE_POLICIES_PRIORITY_MAX) {
        *field = "priority";
        return ac_errmsg_set(err, -AC_EINVAL, "priority: an integer from %d to %d", -AC_NODE_POLICIES_PRIORITY_MAX,
                             AC_NODE_POLICIES_PRIORITY_MAX);
    }
    bool known = false; /* the parser names a bad type too; knowing it first tells which field is at fault */
    for (int t = AC_POLICY_RULE_RATE_LIMIT; t <= AC_POLICY_RULE_PERMISSION_OVERRIDE && !known; t++)
        known = rule_type != NULL && strcmp(rule_type, ac_policy_rule_type_name((ac_policy_rule_type_t)t)) == 0;
    ac_policy_rule_t rule;
    int rc = ac_policy_rule_parse(rule_type, config, config != NULL ? strlen(config) : 0, &rule, err);
    if (rc != 0)
        *field = known ? "config" : "rule_type";
    return rc;
}

static int db_fail(PGconn *c, ac_errmsg_t *err)
{
    return ac_node_db_fail(c, "policies", NULL, err);
}

int ac_node_policies_add(PGconn *c, const char *name, const char *description, const char *rule_type,
                         const char *config, int priority, bool enabled, int64_t *id, ac_errmsg_t *err)
{
    int rc = ac_node_policies_check(name, description, rule_type, config, priority, NULL, err);
    if (rc != 0)
        return rc;
    char pr[16];
    snprintf(pr, sizeof(pr), "%d", priority);
    const char *p[] = {name, description, rule_type, config, enabled ? "true" : "false", pr};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO auth_policies (name, description, rule_type, config, enabled, priority) "
                               "VALUES ($1, $2, $3, $4::jsonb, $5::boolean, $6::int) RETURNING id",
                               6, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = db_fail(c, err);
    } else {
        *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        ac_log_info("policy", "rule_added", "id=%lld type=%s", (long long)*id, rule_type);
    }
    PQclear(r);
    return rc;
}

int ac_node_policies_update(PGconn *c, int64_t id, const char *name, const char *description, const char *rule_type,
                            const char *config, int priority, bool enabled, ac_errmsg_t *err)
{
    int rc = ac_node_policies_check(name, description, rule_type, config, priority, NULL, err);
    if (rc != 0)
        return rc;
    char ids[32], pr[16];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    snprintf(pr, sizeof(pr), "%d", priority);
    const char *p[] = {ids, name, description, rule_type, config, enabled ? "true" : "false", pr};
    PGresult *r = PQexecParams(c,
                               "UPDATE auth_policies SET name = $2, description = $3, rule_type = $4, config = "
                               "$5::jsonb, enabled = $6::boolean, priority = $7::int, updated_at = now() AT TIME ZONE "
                               "'utc' WHERE id = $1::bigint",
                               7, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = db_fail(c, err);
    else if (atoi(PQcmdTuples(r)) != 1)
        rc = ac_errmsg_set(err, -AC_ENOENT, "no policy rule %lld", (long long)id);
    else
        ac_log_info("policy", "rule_updated", "id=%lld type=%s", (long long)id, rule_type);
    PQclear(r);
    return rc;
}

static int one_row(PGconn *c, const char *sql, int64_t id, const char *extra, const char *what, ac_errmsg_t *err)
{
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *p[] = {ids, extra};
    PGresult *r = PQexecParams(c, sql, extra != NULL ? 2 : 1, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = db_fail(c, err);
    else if (atoi(PQcmdTuples(r)) != 1)
        rc = ac_errmsg_set(err, -AC_ENOENT, "no policy rule %lld", (long long)id);
    PQclear(r);
    if (rc == 0)
        ac_log_info("policy", what, "id=%lld", (long long)id);
    return rc;
}

int ac_node_policies_enable(PGconn *c, int64_t id, bool enabled, ac_errmsg_t *err)
{
    return one_row(c,
                   "UPDATE auth_policies SET enabled = $2::boolean, updated_at = now() AT TIME ZONE 'utc' WHERE id = "
                   "$1::bigint",
                   id, enabled ? "true" : "false", enabled ? "rule_enabled" : "rule_disabled", err);
}

int ac_node_policies_remove(PGconn *c, int64_t id, ac_errmsg_t *err)
{
    return one_row(c, "DELETE FROM auth_policies WHERE id = $1::bigint", id, NULL, "rule_removed", err);
}
