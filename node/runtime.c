/* node/runtime.c - opening and closing the node's resources in order (runtime.h). */
#include "node/runtime.h"

#include "node/db.h"
#include "node/log.h"
#include "node/migrate.h"
#include "policy/alloc.h"
#include "policy/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p with mode 0755 for the parts it creates. */
static int mkdirs(const char *path, ac_errmsg_t *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return ac_errmsg_set(err, -AC_ETOOLONG, "ALEXCLAW_DATA_DIR is too long");
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (buf[0] != '\0' && mkdir(buf, 0755) != 0 && errno != EEXIST)
                return ac_errmsg_set(err, -AC_ESYS, "cannot create data directory %s: %s", buf, strerror(errno));
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return 0;
}

static int open_data_dir(ac_node_runtime_t *rt, ac_errmsg_t *err)
{
    const char *d = ac_node_env_get(&rt->env, "ALEXCLAW_DATA_DIR");
    if (d == NULL)
        d = "./var";
    int rc = mkdirs(d, err);
    if (rc != 0)
        return rc;
    char abs[PATH_MAX];
    if (realpath(d, abs) == NULL)
        return ac_errmsg_set(err, -AC_ESYS, "cannot resolve data directory %s: %s", d, strerror(errno));
    struct stat st;
    if (stat(abs, &st) != 0 || !S_ISDIR(st.st_mode))
        return ac_errmsg_set(err, -AC_ECONFIG, "data directory %s is not a directory", abs);
    /* It will hold the secrets file and the database: another user must not own it or be able to write to it. */
    if (st.st_uid != geteuid())
        return ac_errmsg_set(err, -AC_EPERM, "data directory %s belongs to uid %u, not to this user (uid %u)", abs,
                             (unsigned)st.st_uid, (unsigned)geteuid());
    if ((st.st_mode & 022) != 0)
        return ac_errmsg_set(err, -AC_EPERM,
                             "data directory %s is writable by group or others (mode %04o); run: chmod go-w %s", abs,
                             (unsigned)(st.st_mode & 07777), abs);
    rt->data_dir = ac_strdup(abs);
    ac_log_info("node", "data_dir", "path=%s", rt->data_dir);
    return 0;
}

/* One node per data directory: a second `serve` would share the embedded server and the node's files. The lock
 * file holds the holder's pid, for the message. */
static int lock_node(ac_node_runtime_t *rt, ac_errmsg_t *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/node.lock", rt->data_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return ac_errmsg_set(err, -AC_ESYS, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? strcspn(pid, "\n") : 0] = '\0';
        close(fd);
        return ac_errmsg_set(err, -AC_ESTATE, "another node (pid %s) is running with the data directory %s",
                             pid[0] ? pid : "?", rt->data_dir);
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        ac_log_warn("node", "lock_write_failed", "path=%s", path);
    rt->node_lock_fd = fd;
    return 0;
}

/* Nodes sharing a database must have distinct identities (crash recovery and scheduling rely on it): the live node
 * holds a session advisory lock on its name for as long as its connection lives. */
static int lock_identity(ac_node_runtime_t *rt, ac_errmsg_t *err)
{
    char cls[16];
    snprintf(cls, sizeof(cls), "%d", AC_NODE_DB_LOCK_IDENTITY_CLASS);
    const char *p[] = {cls, rt->node_name};
    PGresult *r =
        PQexecParams(rt->db, "SELECT pg_try_advisory_lock($1::integer, hashtext($2))", 2, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = ac_errmsg_set(err, -AC_EDB, "taking the node identity lock: %s", PQerrorMessage(rt->db));
    else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        rc = ac_errmsg_set(err, -AC_ESTATE,
                           "another live node uses the identity %s on this database; give each node its own NODE_NAME",
                           rt->node_name);
    PQclear(r);
    return rc;
}

static int open_database(ac_node_runtime_t *rt, unsigned flags, volatile sig_atomic_t *stop, ac_errmsg_t *err)
{
    const char *url = ac_node_env_get(&rt->env, "DATABASE_URL");
    if (url == NULL) {
        ac_node_pgembed_opts_t o = {rt->data_dir, ac_node_env_get(&rt->env, "ALEXCLAW_PG_USER"),
                                    ac_node_env_get(&rt->env, "ALEXCLAW_PG_BINDIR")};
        int rc = ac_node_pgembed_start(&o, &rt->pg, err);
        if (rc != 0)
            return rc;
        url = ac_node_pgembed_conninfo(rt->pg);
    }
    rt->conninfo = ac_strdup(url);
    int rc = ac_node_db_connect_retry(rt->conninfo, (flags & AC_RT_WAIT_DB) ? -1 : 30, stop, &rt->db, err);
    if (rc != 0)
        return rc;
    char where[512];
    ac_node_db_describe(rt->db, where, sizeof(where));
    ac_log_info("db", "connected", "database=%s server_version=%d embedded=%s", where, PQserverVersion(rt->db),
                rt->pg != NULL ? "true" : "false");
    return 0;
}

static int run_migrations(ac_node_runtime_t *rt, ac_errmsg_t *err)
{
    const char *dir = ac_node_env_get(&rt->env, "ALEXCLAW_MIGRATIONS_DIR");
    ac_node_migration_t *list = NULL;
    size_t n = ac_node_migrations_embedded_count;
    if (dir != NULL) {
        int rc = ac_node_migrate_load_dir(dir, &list, &n, err);
        if (rc != 0)
            return rc;
    }
    int applied = 0;
    int rc = ac_node_migrate_run(rt->db, list != NULL ? list : ac_node_migrations_embedded, n, &applied, err);
    if (list != NULL)
        ac_node_migrate_list_free(list, n);
    if (rc == 0)
        ac_log_info("migrate", "done", "applied=%d known=%zu", applied, n);
    return rc;
}

static int open_settings(ac_node_runtime_t *rt, unsigned flags, ac_errmsg_t *err)
{
    const char *skb = ac_node_env_get(&rt->env, "SECRET_KEY_BASE");
    uint8_t key[AC_POLICY_CRYPTO_KEY_LEN];
    int rc = ac_policy_crypto_derive_key(skb, strlen(skb), AC_POLICY_CRYPTO_INFO_SETTINGS, key);
    if (rc != 0)
        return ac_errmsg_set(err, rc, "deriving the settings key: %s", ac_strerror(rc));
    rt->settings = ac_node_settings_new(key);
    explicit_bzero(key, sizeof(key));
    if ((rc = ac_node_settings_store_boot(rt->db, &rt->env, rt->settings, err)) != 0)
        return rc;
    if (flags & AC_RT_LISTEN)
        rc = ac_node_settings_listener_start(rt->conninfo, rt->settings, &rt->listener, err);
    return rc;
}

int ac_node_runtime_open(ac_node_runtime_t *rt, unsigned flags, volatile sig_atomic_t *stop, ac_errmsg_t *err)
{
    memset(rt, 0, sizeof(*rt));
    rt->node_lock_fd = -1;
    if (flags & (AC_RT_SETTINGS | AC_RT_LISTEN))
        flags |= AC_RT_SECRET | AC_RT_SETTINGS;
    /* The level first, so that loading the environment can already log at debug level. */
    const char *lvl = getenv("LOG_LEVEL");
    ac_log_level_t level;
    if (lvl != NULL && ac_log_level_parse(lvl, &level) == 0)
        ac_log_level_set(level);
    int rc = ac_node_env_load(&rt->env, err);
    if (rc != 0)
        return rc;
    if ((flags & AC_RT_SECRET) && (rc = ac_node_env_require_secret(&rt->env, err)) != 0)
        goto Exit;
    const char *name = ac_node_env_get(&rt->env, "NODE_NAME");
    if (name != NULL) {
        rt->node_name = ac_strdup(name);
    } else {
        char host[256] = "localhost";
        gethostname(host, sizeof(host) - 1);
        rt->node_name = ac_malloc(strlen(host) + 10);
        sprintf(rt->node_name, "alexclaw@%s", host);
    }
    if ((rc = open_data_dir(rt, err)) != 0)
        goto Exit;
    if ((flags & AC_RT_NODE) && (rc = lock_node(rt, err)) != 0)
        goto Exit;
    if ((rc = open_database(rt, flags, stop, err)) != 0)
        goto Exit;
    if ((flags & AC_RT_NODE) && (rc = lock_identity(rt, err)) != 0)
        goto Exit;
    if ((flags & AC_RT_MIGRATE) && (rc = run_migrations(rt, err)) != 0)
        goto Exit;
    if ((flags & AC_RT_SETTINGS) && (rc = open_settings(rt, flags, err)) != 0)
        goto Exit;
Exit:
    if (rc != 0)
        ac_node_runtime_close(rt);
    return rc;
}

void ac_node_runtime_close(ac_node_runtime_t *rt)
{
    ac_node_settings_listener_stop(rt->listener);
    ac_node_settings_free(rt->settings);
    if (rt->db != NULL)
        PQfinish(rt->db);
    ac_node_pgembed_stop(rt->pg);
    ac_free_secret_str(rt->conninfo);
    if (rt->node_lock_fd >= 0)
        close(rt->node_lock_fd);
    free(rt->data_dir);
    free(rt->node_name);
    ac_node_env_free(&rt->env);
    memset(rt, 0, sizeof(*rt));
    rt->node_lock_fd = -1;
}

int64_t ac_node_runtime_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int64_t kb = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtoll(line + 6, NULL, 10);
    if (f != NULL)
        fclose(f);
    return kb * 1024;
}
