/* node/settings_store.c - the `settings` table of settings_store.h: boot, load, write, and the listener thread. */
#include "node/settings_store.h"

#include "node/config.h"
#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"
#include "policy/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOTIFY_CHANNEL "alexclaw_settings"
#define SELECT_COLS    "SELECT key, value, type, category, description, sensitive FROM settings"

/* Turns result row i into a cache entry (decrypting), reporting problems without values. */
static void row_from_result(PGresult *r, int i, const uint8_t *key32, ac_node_setting_t *row)
{
    memset(row, 0, sizeof(*row));
    row->key = ac_strdup(PQgetvalue(r, i, 0));
    const char *stored = PQgetvalue(r, i, 1);
    const char *type = PQgetvalue(r, i, 2);
    row->category = ac_strdup(PQgetisnull(r, i, 3) ? "general" : PQgetvalue(r, i, 3));
    row->description = PQgetisnull(r, i, 4) ? NULL : ac_strdup(PQgetvalue(r, i, 4));
    /* the naming rule counts even before a boot has flagged the row (a key added by hand while nodes run) */
    row->sensitive = strcmp(PQgetvalue(r, i, 5), "t") == 0 || ac_node_setting_key_is_sensitive(row->key);
    if (ac_node_setting_type_parse(type, &row->type) != 0) {
        row->error = -AC_ETYPE;
        ac_log_error("settings", "unknown_type", "key=%s type=%.32s note=%s", row->key, type,
                     "value ignored; allowed types: string, integer, float, boolean, json");
        return;
    }
    if (row->sensitive && ac_policy_crypto_is_sealed(stored)) {
        size_t len;
        int rc = ac_policy_crypto_open(key32, stored, strlen(stored), &row->value, &len);
        if (rc != 0) {
            row->error = rc;
            row->value = NULL;
            ac_log_error("settings", "unreadable", "key=%s error=%s note=%s", row->key, ac_strerror(rc),
                         "wrong SECRET_KEY_BASE or corrupted value; set it again");
            return;
        }
    } else {
        row->value = ac_strdup(stored);
    }
    if (row->sensitive)
        ac_log_secret_add(row->value);
    ac_errmsg_t why;
    if (ac_node_setting_value_check(row->type, row->value, &why) != 0) /* a parser's message may quote the value */
        ac_log_warn("settings", "bad_value", "key=%s type=%s error=%s", row->key, type,
                    row->sensitive ? "does not fit its type" : why.msg);
}

int ac_node_settings_store_load(PGconn *c, ac_node_settings_t *s, ac_errmsg_t *err)
{
    PGresult *r = PQexec(c, SELECT_COLS);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = ac_errmsg_set(err, PQstatus(c) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN, "loading settings: %s",
                               PQerrorMessage(c));
        PQclear(r);
        return rc;
    }
    int n = PQntuples(r);
    ac_node_setting_t *rows = ac_calloc((size_t)(n ? n : 1), sizeof(*rows));
    for (int i = 0; i < n; i++)
        row_from_result(r, i, ac_node_settings_key(s), &rows[i]);
    PQclear(r);
    ac_node_settings_replace_all(s, rows, (size_t)n);
    free(rows);
    return 0;
}

int ac_node_settings_store_load_key(PGconn *c, ac_node_settings_t *s, const char *key, ac_errmsg_t *err)
{
    const char *params[] = {key};
    PGresult *r = PQexecParams(c, SELECT_COLS " WHERE key = $1", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = ac_errmsg_set(err, PQstatus(c) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN, "loading setting: %s",
                               PQerrorMessage(c));
        PQclear(r);
        return rc;
    }
    if (PQntuples(r) == 0) {
        ac_node_settings_remove(s, key);
    } else {
        ac_node_setting_t row;
        row_from_result(r, 0, ac_node_settings_key(s), &row);
        ac_node_settings_put(s, &row);
    }
    PQclear(r);
    return 0;
}

/* Runs a parameterised statement; returns 0 or -AC_EDB with err filled. */
static int exec_params(PGconn *c, const char *sql, int n, const char *const *params, const char *what, ac_errmsg_t *err)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc =
            ac_errmsg_set(err, PQstatus(c) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN, "%s: %s", what, PQerrorMessage(c));
    PQclear(r);
    return rc;
}

/* Encrypts value for storage when sensitive (empty stays empty). OUT: *stored from ac_malloc. */
static int to_stored(const uint8_t *key32, bool sensitive, const char *value, char **stored)
{
    if (!sensitive || value[0] == '\0') {
        *stored = ac_strdup(value);
        return 0;
    }
    return ac_policy_crypto_seal(key32, value, strlen(value), stored);
}

static int seed(PGconn *c, const ac_node_env_t *env, const uint8_t *key32, ac_errmsg_t *err)
{
    for (size_t i = 0; i < ac_node_config_registry_count; i++) {
        const ac_node_config_entry_t *e = &ac_node_config_registry[i];
        if (e->key == NULL)
            continue;
        const char *v = e->env != NULL ? ac_node_env_get(env, e->env) : NULL;
        bool sensitive = (e->flags & AC_CFG_SENSITIVE) != 0;
        char *stored = NULL;
        int rc = to_stored(key32, sensitive, v != NULL ? v : e->def, &stored);
        if (rc != 0)
            return ac_errmsg_set(err, rc, "encrypting seed for %s: %s", e->key, ac_strerror(rc));
        const char *params[] = {e->key, stored, e->type, e->description, e->category, sensitive ? "true" : "false"};
        rc = exec_params(c,
                         "INSERT INTO settings (key, value, type, description, category, sensitive) "
                         "VALUES ($1, $2, $3, $4, $5, $6::boolean) ON CONFLICT (key) DO NOTHING",
                         6, params, "seeding settings", err);
        ac_free_secret_str(stored);
        if (rc != 0)
            return rc;
    }
    /* Sensitivity only ever grows: registry secrets, and every key the naming rule calls secret. */
    PGresult *r = PQexec(c, "SELECT key FROM settings WHERE NOT sensitive");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return ac_errmsg_set(err, -AC_EDB, "reading settings: %s", PQerrorMessage(c));
    }
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const char *k = PQgetvalue(r, i, 0);
        if (!ac_node_setting_key_is_sensitive(k))
            continue;
        const char *params[] = {k};
        rc =
            exec_params(c, "UPDATE settings SET sensitive = true, updated_at = now() AT TIME ZONE 'utc' WHERE key = $1",
                        1, params, "marking a setting sensitive", err);
        if (rc == 0)
            ac_log_info("settings", "marked_sensitive", "key=%s", k);
    }
    PQclear(r);
    return rc;
}

/* Encrypts sensitive values stored in clear, and replaces undecryptable ones from the environment when possible. */
static int reseal(PGconn *c, const ac_node_env_t *env, const uint8_t *key32, ac_errmsg_t *err)
{
    PGresult *r = PQexec(c, "SELECT key, value FROM settings WHERE sensitive AND value <> '' FOR UPDATE");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return ac_errmsg_set(err, -AC_EDB, "reading sensitive settings: %s", PQerrorMessage(c));
    }
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const char *k = PQgetvalue(r, i, 0), *v = PQgetvalue(r, i, 1);
        const char *plain = NULL, *event = NULL;
        char *opened = NULL;
        size_t len;
        if (!ac_policy_crypto_is_sealed(v)) {
            plain = v;
            event = "encrypted_in_place";
        } else if (ac_policy_crypto_open(key32, v, strlen(v), &opened, &len) != 0) {
            const ac_node_config_entry_t *e = ac_node_config_find_key(k);
            const char *from_env = e != NULL && e->env != NULL ? ac_node_env_get(env, e->env) : NULL;
            if (from_env != NULL) {
                plain = from_env;
                event = "replaced_from_env";
            }
        }
        ac_free_secret_str(opened);
        if (plain == NULL)
            continue;
        char *stored = NULL;
        if ((rc = to_stored(key32, true, plain, &stored)) != 0) {
            rc = ac_errmsg_set(err, rc, "encrypting %s: %s", k, ac_strerror(rc));
            break;
        }
        const char *params[] = {k, stored};
        rc = exec_params(c, "UPDATE settings SET value = $2, updated_at = now() AT TIME ZONE 'utc' WHERE key = $1", 2,
                         params, "re-encrypting a setting", err);
        ac_free_secret_str(stored);
        if (rc == 0) {
            const ac_node_config_entry_t *e = ac_node_config_find_key(k);
            ac_log_warn("settings", event, "key=%s env=%s", k, e != NULL && e->env != NULL ? e->env : "-");
        }
    }
    PQclear(r);
    return rc;
}

int ac_node_settings_store_boot(PGconn *c, const ac_node_env_t *env, ac_node_settings_t *s, ac_errmsg_t *err)
{
    const uint8_t *key32 = ac_node_settings_key(s);
    char lock_sql[96];
    snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_xact_lock(%lld)", AC_NODE_DB_LOCK_SETTINGS_BOOT);
    int rc = ac_node_db_exec(c, "BEGIN", "settings boot", err);
    if (rc == 0)
        rc = ac_node_db_exec(c, lock_sql, "settings boot lock", err);
    if (rc == 0)
        rc = seed(c, env, key32, err);
    if (rc == 0)
        rc = reseal(c, env, key32, err);
    if (rc == 0)
        rc = ac_node_db_exec(c, "COMMIT", "settings boot commit", err);
    if (rc != 0) {
        PGresult *r = PQexec(c, "ROLLBACK");
        PQclear(r);
        return rc;
    }
    return ac_node_settings_store_load(c, s, err);
}

int ac_node_settings_store_set(PGconn *c, ac_node_settings_t *s, const char *key, const char *value,
                               const char *type_name, ac_errmsg_t *err)
{
    int rc = ac_node_setting_key_check(key, err);
    if (rc != 0)
        return rc;
    const ac_node_config_entry_t *e = ac_node_config_find_key(key);
    const char *params1[] = {key};
    PGresult *r = PQexecParams(c, "SELECT type, sensitive, category FROM settings WHERE key = $1", 1, NULL, params1,
                               NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = ac_errmsg_set(err, -AC_EDB, "reading setting: %s", PQerrorMessage(c));
        PQclear(r);
        return rc;
    }
    bool exists = PQntuples(r) == 1;
    char type_buf[64], category[256];
    snprintf(type_buf, sizeof(type_buf), "%s",
             type_name != NULL ? type_name
             : exists          ? PQgetvalue(r, 0, 0)
             : e != NULL       ? e->type
                               : "string");
    bool sensitive = (exists && strcmp(PQgetvalue(r, 0, 1), "t") == 0) || ac_node_setting_key_is_sensitive(key);
    snprintf(category, sizeof(category), "%s",
             exists && !PQgetisnull(r, 0, 2)  ? PQgetvalue(r, 0, 2)
             : e != NULL                      ? e->category
             : strncmp(key, "skill.", 6) == 0 ? "skills"
                                              : "general");
    PQclear(r);

    ac_node_setting_type_t type;
    if (ac_node_setting_type_parse(type_buf, &type) != 0)
        return ac_errmsg_set(err, -AC_ETYPE, "unknown setting type '%.32s' (string, integer, float, boolean, json)",
                             type_buf);
    ac_errmsg_t why;
    if ((rc = ac_node_setting_value_check(type, value, &why)) != 0)
        return ac_errmsg_set(err, rc, "%s: %s", key, why.msg);
    char *stored = NULL;
    if ((rc = to_stored(ac_node_settings_key(s), sensitive, value, &stored)) != 0)
        return ac_errmsg_set(err, rc, "encrypting %s: %s", key, ac_strerror(rc));
    const char *params[] = {key,
                            stored,
                            ac_node_setting_type_name(type),
                            sensitive ? "true" : "false",
                            category,
                            e != NULL ? e->description : NULL};
    rc = exec_params(c,
                     "INSERT INTO settings (key, value, type, sensitive, category, description) "
                     "VALUES ($1, $2, $3, $4::boolean, $5, $6) ON CONFLICT (key) DO UPDATE SET value = $2, type = $3, "
                     "sensitive = $4::boolean, updated_at = now() AT TIME ZONE 'utc'",
                     6, params, "writing setting", err);
    ac_free_secret_str(stored);
    if (rc != 0)
        return rc;
    if (sensitive)
        ac_log_secret_add(value);
    ac_node_setting_t row = {ac_strdup(key),
                             ac_strdup(value),
                             type,
                             ac_strdup(category),
                             e != NULL ? ac_strdup(e->description) : NULL,
                             sensitive,
                             0};
    ac_node_settings_put(s, &row);
    ac_log_info("settings", "set", "key=%s type=%s sensitive=%s", key, ac_node_setting_type_name(type),
                sensitive ? "true" : "false");
    return 0;
}

int ac_node_settings_store_delete(PGconn *c, ac_node_settings_t *s, const char *key, ac_errmsg_t *err)
{
    int rc = ac_node_setting_key_check(key, err);
    if (rc != 0)
        return rc;
    const char *params[] = {key};
    if ((rc = exec_params(c, "DELETE FROM settings WHERE key = $1", 1, params, "deleting setting", err)) != 0)
        return rc;
    ac_node_settings_remove(s, key);
    return 0;
}

/* --- listener --- */

struct ac_node_settings_listener {
    pthread_t thread;
    char *conninfo;
    ac_node_settings_t *settings;
    int wake[2]; /* write a byte to stop */
};

static bool wait_or_stop(ac_node_settings_listener_t *l, int ms)
{
    struct pollfd p = {l->wake[0], POLLIN, 0};
    return poll(&p, 1, ms) > 0;
}

static PGconn *listen_connect(ac_node_settings_listener_t *l)
{
    int delay = 1;
    for (;;) {
        PGconn *c = NULL;
        ac_errmsg_t err = {{0}};
        if (ac_node_db_connect(l->conninfo, &c, &err) == 0 &&
            ac_node_db_exec(c, "LISTEN " NOTIFY_CHANNEL, "listen", &err) == 0 &&
            ac_node_settings_store_load(c, l->settings, &err) == 0)
            return c;
        if (c != NULL)
            PQfinish(c);
        ac_log_warn("settings", "listener_reconnect", "retry_in_s=%d error=%s", delay, err.msg);
        if (wait_or_stop(l, delay * 1000))
            return NULL;
        delay = delay * 2 > 30 ? 30 : delay * 2;
    }
}

/* Applies every notification libpq has queued. Returns false when the connection turned out to be lost. */
static bool drain(ac_node_settings_listener_t *l, PGconn *c)
{
    PGnotify *note;
    bool ok = true;
    while ((note = PQnotifies(c)) != NULL) {
        ac_errmsg_t err = {{0}};
        if (ac_node_setting_key_check(note->extra, NULL) == 0 &&
            ac_node_settings_store_load_key(c, l->settings, note->extra, &err) == 0)
            ac_log_info("settings", "changed", "key=%s", note->extra);
        else if (err.msg[0] != '\0')
            ok = ok && PQstatus(c) == CONNECTION_OK;
        PQfreemem(note);
    }
    return ok;
}

static void *listener_main(void *arg)
{
    ac_node_settings_listener_t *l = arg;
    sigset_t all; /* signals are the main thread's business */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    PGconn *c = listen_connect(l);
    while (c != NULL) {
        /* Notifications can arrive while we run queries (the reload, the idle check, a key reload): libpq queues
         * them without the socket becoming readable again, so apply the queue before every wait. */
        bool lost = !drain(l, c);
        int n = 0;
        if (!lost) {
            struct pollfd p[2] = {{PQsocket(c), POLLIN, 0}, {l->wake[0], POLLIN, 0}};
            n = poll(p, 2, 30000);
            if ((n < 0 && errno != EINTR) || p[1].revents != 0)
                break;
            lost = PQconsumeInput(c) == 0 || PQstatus(c) != CONNECTION_OK;
        }
        if (n == 0 && !lost) {
            /* idle: make sure the connection is still there, so a dead one is noticed within 30 s */
            PGresult *r = PQexec(c, "SELECT 1");
            lost = PQresultStatus(r) != PGRES_TUPLES_OK;
            PQclear(r);
        }
        if (lost) {
            ac_log_warn("settings", "listener_lost", "error=%s", PQerrorMessage(c));
            PQfinish(c);
            c = listen_connect(l);
        }
    }
    if (c != NULL)
        PQfinish(c);
    return NULL;
}

int ac_node_settings_listener_start(const char *conninfo, ac_node_settings_t *s, ac_node_settings_listener_t **out,
                                    ac_errmsg_t *err)
{
    ac_node_settings_listener_t *l = ac_calloc(1, sizeof(*l));
    l->settings = s;
    if (pipe2(l->wake, O_CLOEXEC) != 0) {
        free(l);
        return ac_errmsg_set(err, -AC_ESYS, "pipe: %s", strerror(errno));
    }
    l->conninfo = ac_strdup(conninfo);
    int e = pthread_create(&l->thread, NULL, listener_main, l);
    if (e != 0) {
        close(l->wake[0]);
        close(l->wake[1]);
        ac_free_secret_str(l->conninfo);
        free(l);
        return ac_errmsg_set(err, -AC_ESYS, "pthread_create: %s", strerror(e));
    }
    *out = l;
    return 0;
}

void ac_node_settings_listener_stop(ac_node_settings_listener_t *l)
{
    if (l == NULL)
        return;
    char b = 1;
    ssize_t w = write(l->wake[1], &b, 1);
    (void)w;
    pthread_join(l->thread, NULL);
    close(l->wake[0]);
    close(l->wake[1]);
    ac_free_secret_str(l->conninfo);
    free(l);
}
