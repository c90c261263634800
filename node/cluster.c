/* node/cluster.c - clustering for the node (cluster.h): the trigger path, membership, approvals, the RPC hook. */
#include "node/cluster.h"

#include "dist/node.h"
#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"
#include "skills/gate.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Cookies that are published somewhere (the original's compose files, tutorials): refused whatever their length. */
static const char *const cookie_deny_list[] = {
    "alexclaw_default", "alexclaw_swarm", "cookie",   "secret",       "changeme", "change_me",
    "monster",          "erlang",         "nocookie", "secretcookie", NULL,
};

#define COOKIE_MIN          16
#define REFRESH_MS          60000
#define APPROVED_REFRESH_MS 10000

typedef struct member_ev {
    char name[256];
    bool up;
    struct member_ev *next;
} member_ev_t;

struct ac_node_cluster {
    ac_node_app_t *app;
    ac_dist_node_t *dist;
    pthread_t thread;
    bool started;
    int wake[2];
    pthread_mutex_t lock;
    member_ev_t *events;
    char (*approved)[256];
    size_t napproved;
    bool stopping;
    volatile int quiesced; /* no new triggers: the pool is about to stop */
};

int ac_node_cluster_check_cookie(const char *cookie, ac_errmsg_t *err)
{
    if (cookie == NULL || cookie[0] == '\0')
        return ac_errmsg_set(err, -AC_ECONFIG,
                             "NODE_NAME is set, so CLUSTER_COOKIE is required; make one with: openssl rand -base64 32");
    for (size_t i = 0; cookie_deny_list[i] != NULL; i++)
        if (strcasecmp(cookie, cookie_deny_list[i]) == 0)
            return ac_errmsg_set(err, -AC_ECONFIG,
                                 "CLUSTER_COOKIE is a well-known value; make one with: openssl rand -base64 32");
    if (strlen(cookie) < COOKIE_MIN)
        return ac_errmsg_set(err, -AC_ECONFIG,
                             "CLUSTER_COOKIE is too short (need at least %d characters); make one with: openssl rand "
                             "-base64 32",
                             COOKIE_MIN);
    for (const char *p = cookie; *p != '\0'; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            return ac_errmsg_set(err, -AC_ECONFIG, "CLUSTER_COOKIE may only hold printable ASCII without blanks");
    return 0;
}

/* --- administration --- */

bool ac_node_cluster_name_ok(const char *n)
{
    const char *at = strchr(n, '@');
    size_t len = strlen(n);
    if (at == NULL || at == n || at[1] == '\0' || len > 255 || strchr(at + 1, '@') != NULL)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= '0' && n[i] <= '9') ||
              strchr("_-.@", n[i]) != NULL))
            return false;
    return true;
}

int ac_node_cluster_admin(PGconn *db, const char *name, ac_node_cluster_op_t op, ac_errmsg_t *err)
{
    if (!ac_node_cluster_name_ok(name))
        return ac_errmsg_set(err, -AC_EINVAL, "a node name looks like name@host (letters, digits, _ - .)");
    const char *p[] = {name, strchr(name, '@') + 1};
    const char *sql = op == AC_NODE_CLUSTER_APPROVE
                          ? "INSERT INTO cluster_nodes (name, label, approved) VALUES ($1, $2, true) "
                            "ON CONFLICT (name) DO UPDATE SET approved = true, updated_at = now() AT TIME ZONE 'utc'"
                      : op == AC_NODE_CLUSTER_REVOKE
                          ? "UPDATE cluster_nodes SET approved = false, updated_at = now() AT "
                            "TIME ZONE 'utc' WHERE name = $1"
                          : "DELETE FROM cluster_nodes WHERE name = $1";
    PGresult *r = PQexecParams(db, sql, op == AC_NODE_CLUSTER_APPROVE ? 2 : 1, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = ac_errmsg_set(err, -AC_EDB, "%s", PQerrorMessage(db));
    else if (atoi(PQcmdTuples(r)) == 0)
        rc = ac_errmsg_set(err, -AC_ENOENT, "no such node: %s", name);
    PQclear(r);
    return rc;
}

/* --- the trigger path --- */

typedef struct {
    ac_node_cluster_t *c;
    uint64_t token;
    char source[256];
} trig_t;

static void trig_started(void *arg, int64_t run_id)
{
    trig_t *t = arg;
    ac_dist_node_answer(t->c->dist, t->token, NULL, NULL);
    free(t);
}

static void trig_refused(void *arg, int code, const char *reason)
{
    trig_t *t = arg;
    if (strcmp(reason, "unauthorized_node") == 0)
        ac_dist_node_answer(t->c->dist, t->token, NULL, t->source);
    else if (strcmp(reason, "no_receive_gate") == 0 || strcmp(reason, "requires_2fa") == 0)
        ac_dist_node_answer(t->c->dist, t->token, reason, NULL);
    else if (code == -AC_ENOENT)
        ac_dist_node_answer(t->c->dist, t->token, "workflow_not_found", NULL);
    else if (code == -AC_EAGAIN)
        ac_dist_node_answer(t->c->dist, t->token, "busy", NULL);
    else
        ac_dist_node_answer(t->c->dist, t->token, "unavailable", NULL); /* database down, node stopping */
    free(t);
}

static void on_trigger(void *arg, uint64_t token, const char *peer, const char *workflow, json_t *data,
                       const char *claimed)
{
    ac_node_cluster_t *c = arg;
    if (__atomic_load_n(&c->quiesced, __ATOMIC_ACQUIRE)) {
        ac_dist_node_answer(c->dist, token, "unavailable", NULL);
        return;
    }
    trig_t *t = ac_calloc(1, sizeof(*t));
    t->c = c;
    t->token = token;
    snprintf(t->source, sizeof(t->source), "%s", peer);
    json_t *extra = json_pack("{s:s}", "_source_node", peer);
    ac_node_wf_job_t job = {.workflow_name = workflow,
                            .input = data,
                            .extra_config = extra,
                            .trigger = AC_WF_TRIGGER_REMOTE,
                            .on_started = trig_started,
                            .on_refused = trig_refused,
                            .arg = t};
    int rc = ac_node_wf_intake_submit(c->app->intake, &job);
    json_decref(extra);
    if (rc != 0) {
        ac_dist_node_answer(c->dist, token, "busy", NULL);
        free(t);
    }
}

/* --- membership --- */

static void on_membership(void *arg, const char *peer, bool up)
{
    ac_node_cluster_t *c = arg;
    member_ev_t *e = ac_calloc(1, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", peer);
    e->up = up;
    pthread_mutex_lock(&c->lock);
    e->next = c->events;
    c->events = e;
    pthread_mutex_unlock(&c->lock);
    char b = 1;
    ssize_t w = write(c->wake[1], &b, 1);
    (void)w;
}

static int approved_fn(void *arg, const char *node)
{
    ac_node_cluster_t *c = arg;
    pthread_mutex_lock(&c->lock);
    int ok = 0;
    for (size_t i = 0; i < c->napproved && !ok; i++)
        ok = strcmp(c->approved[i], node) == 0;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

static int rpc_fn(void *arg, const char *node, const char *workflow, const json_t *data, int timeout_ms, char *err,
                  size_t errlen)
{
    ac_node_cluster_t *c = arg;
    return ac_dist_node_trigger_remote(c->dist, node, workflow, data, timeout_ms, err, errlen);
}

static void upsert(PGconn *db, const char *name, const char *status)
{
    const char *at = strchr(name, '@');
    const char *p[] = {name, at != NULL ? at + 1 : name, status};
    PQclear(PQexecParams(db,
                         "INSERT INTO cluster_nodes (name, label, status, last_seen_at) "
                         "VALUES ($1, $2, $3, now() AT TIME ZONE 'utc') ON CONFLICT (name) DO UPDATE SET "
                         "status = $3, last_seen_at = CASE WHEN $3 = 'connected' THEN now() AT TIME ZONE 'utc' "
                         "ELSE cluster_nodes.last_seen_at END, updated_at = now() AT TIME ZONE 'utc'",
                         3, NULL, p, NULL, NULL, 0));
}

static void load_approved(ac_node_cluster_t *c, PGconn *db)
{
    PGresult *r = PQexec(db, "SELECT name FROM cluster_nodes WHERE approved ORDER BY name");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return;
    }
    size_t n = (size_t)PQntuples(r);
    char(*list)[256] = ac_calloc(n ? n : 1, 256);
    for (size_t i = 0; i < n; i++)
        snprintf(list[i], 256, "%s", PQgetvalue(r, (int)i, 0));
    PQclear(r);
    pthread_mutex_lock(&c->lock);
    free(c->approved);
    c->approved = list;
    c->napproved = n;
    pthread_mutex_unlock(&c->lock);
}

/* Connects the approved nodes and refreshes their status. Only approved rows: a peer's claimed name is recorded,
 * but must never make this node connect to hosts an administrator did not name. */
static void refresh(ac_node_cluster_t *c, PGconn *db)
{
    const char *p[] = {c->app->rt->node_name};
    PGresult *r =
        PQexecParams(db, "SELECT name FROM cluster_nodes WHERE name <> $1 AND approved", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(r); i++) {
            const char *name = PQgetvalue(r, i, 0);
            bool up = ac_dist_node_connected(c->dist, name);
            upsert(db, name, up ? "connected" : "disconnected");
            if (!up)
                ac_dist_node_connect(c->dist, name);
        }
    }
    PQclear(r);
    upsert(db, c->app->rt->node_name, "connected");
}

static void *thread_main(void *arg)
{
    ac_node_cluster_t *c = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    PGconn *db = NULL;
    int64_t next_refresh = 0, next_approved = 0;
    for (;;) {
        if (db == NULL || PQstatus(db) != CONNECTION_OK) {
            ac_errmsg_t err = {{0}};
            if (db != NULL)
                PQfinish(db);
            db = NULL;
            if (ac_node_db_connect(c->app->rt->conninfo, &db, &err) != 0) {
                db = NULL;
                ac_log_warn("cluster", "db_unreachable", "error=%s", err.msg);
            }
        }
        pthread_mutex_lock(&c->lock);
        member_ev_t *e = c->events;
        c->events = NULL;
        bool stopping = c->stopping;
        pthread_mutex_unlock(&c->lock);
        while (e != NULL) {
            member_ev_t *next = e->next;
            if (db != NULL)
                upsert(db, e->name, e->up ? "connected" : "disconnected");
            free(e);
            e = next;
        }
        if (stopping)
            break;
        int64_t t = ac_skill_now_ms();
        if (db != NULL && t >= next_approved) {
            load_approved(c, db);
            next_approved = t + APPROVED_REFRESH_MS;
        }
        if (db != NULL && t >= next_refresh) {
            refresh(c, db);
            next_refresh = t + REFRESH_MS;
        }
        struct pollfd w = {c->wake[0], POLLIN, 0};
        if (poll(&w, 1, 1000) > 0) {
            char buf[64];
            ssize_t r = read(c->wake[0], buf, sizeof(buf));
            (void)r;
        }
    }
    if (db != NULL) {
        upsert(db, c->app->rt->node_name, "disconnected");
        PQfinish(db);
    }
    return NULL;
}

/* The listener must be reachable under NODE_NAME's host: its addresses must include the bind address. */
static int check_host(const char *node_name, const char *bind_addr, ac_errmsg_t *err)
{
    const char *host = strchr(node_name, '@') + 1;
    if (strcmp(bind_addr, "0.0.0.0") == 0 || strcmp(bind_addr, "::") == 0)
        return 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return ac_errmsg_set(err, -AC_ECONFIG, "the host part of NODE_NAME (%s) does not resolve", host);
    bool found = false;
    for (struct addrinfo *ai = res; ai != NULL && !found; ai = ai->ai_next) {
        char a[64];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, a, sizeof(a), NULL, 0, NI_NUMERICHOST) == 0)
            found = strcmp(a, bind_addr) == 0;
    }
    freeaddrinfo(res);
    if (!found)
        return ac_errmsg_set(err, -AC_ECONFIG,
                             "the distribution listener binds %s, but %s (the host part of NODE_NAME) does not resolve "
                             "to it: peers could not reach this node; set DIST_BIND_ADDRESS or NODE_NAME",
                             bind_addr, host);
    return 0;
}

int ac_node_cluster_start(ac_node_app_t *app, ac_node_cluster_t **out, ac_errmsg_t *err)
{
    *out = NULL;
    ac_node_runtime_t *rt = app->rt;
    if (ac_node_env_get(&rt->env, "NODE_NAME") == NULL) {
        ac_log_info("cluster", "disabled", "reason=%s", "NODE_NAME is not set");
        return 0;
    }
    const char *cookie = ac_node_env_get(&rt->env, "CLUSTER_COOKIE");
    int rc = ac_node_cluster_check_cookie(cookie, err);
    if (rc != 0)
        return rc;
    const char *bind = ac_node_env_get(&rt->env, "DIST_BIND_ADDRESS");
    if (bind == NULL)
        bind = ac_node_env_get(&rt->env, "BIND_ADDRESS");
    if (bind == NULL)
        bind = "127.0.0.1";
    if ((rc = check_host(rt->node_name, bind, err)) != 0)
        return rc;
    ac_node_cluster_t *c = ac_calloc(1, sizeof(*c));
    c->app = app;
    pthread_mutex_init(&c->lock, NULL);
    if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(c);
        return ac_errmsg_set(err, -AC_ESYS, "pipe: %s", strerror(errno));
    }
    /* approved at start: CLUSTER_APPROVED_NODES */
    const char *approved = ac_node_env_get(&rt->env, "CLUSTER_APPROVED_NODES");
    if (approved != NULL) {
        char *list = ac_strdup(approved), *save = NULL;
        for (char *name = strtok_r(list, ", ", &save); name != NULL; name = strtok_r(NULL, ", ", &save)) {
            if (strchr(name, '@') == NULL || strlen(name) > 255)
                continue;
            const char *p[] = {name, strchr(name, '@') + 1};
            PQclear(PQexecParams(rt->db,
                                 "INSERT INTO cluster_nodes (name, label, approved) VALUES ($1, $2, true) "
                                 "ON CONFLICT (name) DO UPDATE SET approved = true",
                                 2, NULL, p, NULL, NULL, 0));
        }
        free(list);
    }
    const char *pmin = ac_node_env_get(&rt->env, "DIST_PORT_MIN"), *pmax = ac_node_env_get(&rt->env, "DIST_PORT_MAX");
    const char *eport = ac_node_env_get(&rt->env, "ERL_EPMD_PORT");
    /* ERL_EPMD_ADDRESS may list several addresses (for the daemon); a node talks to the first */
    char eaddr[256] = "127.0.0.1";
    const char *eaddr_env = ac_node_env_get(&rt->env, "ERL_EPMD_ADDRESS");
    if (eaddr_env != NULL)
        snprintf(eaddr, sizeof(eaddr), "%.*s", (int)strcspn(eaddr_env, ", "), eaddr_env);
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[sl > 0 ? sl : 0] = '\0';
    ac_dist_node_cfg_t cfg = {
        .name = rt->node_name,
        .cookie = cookie,
        .bind_addr = bind,
        .port_min = pmin != NULL ? atoi(pmin) : 0,
        .port_max = pmax != NULL ? atoi(pmax) : (pmin != NULL ? atoi(pmin) : 0),
        .epmd_host = eaddr,
        .epmd_port = (uint16_t)(eport != NULL ? atoi(eport) : 4369),
        .self_exe = self,
        .net_ticktime_s = ac_node_env_get(&rt->env, "DIST_NET_TICKTIME") != NULL
                              ? atoi(ac_node_env_get(&rt->env, "DIST_NET_TICKTIME"))
                              : 60,
        .trigger = on_trigger,
        .membership = on_membership,
        .arg = c,
    };
    if ((rc = ac_dist_node_start(&cfg, &c->dist, err)) != 0) {
        close(c->wake[0]);
        close(c->wake[1]);
        free(c);
        return rc;
    }
    ac_skills_gate_set_cluster(rpc_fn, approved_fn, c);
    if (pthread_create(&c->thread, NULL, thread_main, c) == 0)
        c->started = true;
    *out = c;
    return 0;
}

void ac_node_cluster_quiesce(ac_node_cluster_t *c)
{
    if (c != NULL)
        __atomic_store_n(&c->quiesced, 1, __ATOMIC_RELEASE);
}

void ac_node_cluster_stop(ac_node_cluster_t *c)
{
    if (c == NULL)
        return;
    ac_node_cluster_quiesce(c);
    ac_skills_gate_set_cluster(NULL, NULL, NULL);
    /* the cluster thread uses the dist node: join it first, then stop the dist node */
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_mutex_unlock(&c->lock);
    char b = 1;
    ssize_t w = write(c->wake[1], &b, 1);
    (void)w;
    if (c->started)
        pthread_join(c->thread, NULL);
    ac_dist_node_stop(c->dist);
    while (c->events != NULL) {
        member_ev_t *e = c->events;
        c->events = e->next;
        free(e);
    }
    close(c->wake[0]);
    close(c->wake[1]);
    free(c->approved);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
