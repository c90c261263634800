/* node/migrate.c - the migration runner of migrate.h. */
#include "node/migrate.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MIGRATION_MAX_BYTES (1024 * 1024)

static const char create_tracking[] =
    "CREATE TABLE IF NOT EXISTS alexclaw_schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'))";

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int cmp_version(const void *a, const void *b)
{
    const ac_node_migration_t *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

void ac_node_migrate_list_free(ac_node_migration_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)list[i].name);
        free((char *)list[i].sql);
    }
    free(list);
}

int ac_node_migrate_load_dir(const char *dir, ac_node_migration_t **out, size_t *n, ac_errmsg_t *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return ac_errmsg_set(err, -AC_ECONFIG, "cannot open migrations directory %s: %s", dir, strerror(errno));
    ac_node_migration_t *list = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t len = strlen(nm);
        if (len < 4 || strcmp(nm + len - 4, ".sql") != 0)
            continue;
        int version = 0;
        bool ok = len > 9 && nm[4] == '_';
        for (int i = 0; ok && i < 4; i++) {
            ok = nm[i] >= '0' && nm[i] <= '9';
            version = version * 10 + (nm[i] - '0');
        }
        for (size_t i = 5; ok && i < len - 4; i++)
            ok = (nm[i] >= 'a' && nm[i] <= 'z') || (nm[i] >= '0' && nm[i] <= '9') || nm[i] == '_';
        if (!ok) {
            rc = ac_errmsg_set(err, -AC_ECONFIG, "migration file %s: name must be NNNN_name.sql (lower case)", nm);
            goto Exit;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, nm);
        FILE *f = fopen(path, "rb");
        struct stat st;
        if (f == NULL || fstat(fileno(f), &st) != 0 || st.st_size > MIGRATION_MAX_BYTES) {
            rc = ac_errmsg_set(err, -AC_ECONFIG, "cannot read migration %s (or larger than %d bytes)", path,
                               MIGRATION_MAX_BYTES);
            if (f != NULL)
                fclose(f);
            goto Exit;
        }
        char *sql = ac_malloc((size_t)st.st_size + 1);
        size_t got = fread(sql, 1, (size_t)st.st_size, f);
        fclose(f);
        sql[got] = '\0';
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            list = ac_realloc(list, cap * sizeof(*list));
        }
        list[count++] = (ac_node_migration_t){version, ac_strndup(nm + 5, len - 9), sql, got};
    }
    qsort(list, count, sizeof(*list), cmp_version);
    for (size_t i = 1; i < count; i++) {
        if (list[i].version == list[i - 1].version) {
            rc = ac_errmsg_set(err, -AC_ECONFIG, "two migrations have version %04d", list[i].version);
            goto Exit;
        }
    }
Exit:
    closedir(d);
    if (rc != 0) {
        ac_node_migrate_list_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

/* Applies one migration in its own transaction. */
static int apply_one(PGconn *c, const ac_node_migration_t *m, const char *sum, ac_errmsg_t *err)
{
    ac_errmsg_t e = {{0}};
    int rc = ac_node_db_exec(c, "BEGIN", "begin", &e);
    if (rc == 0)
        rc = ac_node_db_exec(c, m->sql, "sql", &e);
    if (rc == 0) {
        char v[16];
        snprintf(v, sizeof(v), "%d", m->version);
        const char *params[] = {v, m->name, sum};
        PGresult *r = PQexecParams(c,
                                   "INSERT INTO alexclaw_schema_migrations (version, name, checksum) "
                                   "VALUES ($1::integer, $2, $3)",
                                   3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = ac_errmsg_set(&e, -AC_EDB, "recording: %s", PQerrorMessage(c));
        PQclear(r);
    }
    if (rc == 0)
        rc = ac_node_db_exec(c, "COMMIT", "commit", &e);
    if (rc != 0) {
        PGresult *r = PQexec(c, "ROLLBACK");
        PQclear(r);
        /* one line: the server's message may span several */
        for (char *p = e.msg; *p != '\0'; p++)
            if (*p == '\n')
                *p = ' ';
        return ac_errmsg_set(err, rc == -AC_EDBDOWN ? rc : -AC_EMIGRATION, "migration %04d_%s failed: %s", m->version,
                             m->name, e.msg);
    }
    return 0;
}

int ac_node_migrate_run(PGconn *c, const ac_node_migration_t *list, size_t n, int *applied, ac_errmsg_t *err)
{
    int rc, count = 0;
    char lock_sql[96], unlock_sql[96];
    snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_lock(%lld)", AC_NODE_DB_LOCK_MIGRATE);
    snprintf(unlock_sql, sizeof(unlock_sql), "SELECT pg_advisory_unlock(%lld)", AC_NODE_DB_LOCK_MIGRATE);
    if (applied != NULL)
        *applied = 0;
    if ((rc = ac_node_db_exec(c, lock_sql, "taking the migration lock", err)) != 0)
        return rc;
    if ((rc = ac_node_db_exec(c, create_tracking, "creating alexclaw_schema_migrations", err)) != 0)
        goto Exit;

    PGresult *r = PQexec(c, "SELECT version, name, checksum FROM alexclaw_schema_migrations ORDER BY version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = ac_errmsg_set(err, -AC_EDB, "reading alexclaw_schema_migrations: %s", PQerrorMessage(c));
        PQclear(r);
        goto Exit;
    }
    int rows = PQntuples(r);
    for (size_t i = 0; i < n; i++) {
        const ac_node_migration_t *m = &list[i];
        char sum[65];
        sha256_hex(m->sql, m->len, sum);
        const char *recorded = NULL;
        for (int k = 0; k < rows; k++) {
            if (atoi(PQgetvalue(r, k, 0)) == m->version)
                recorded = PQgetvalue(r, k, 2);
        }
        if (recorded != NULL) {
            if (strcmp(recorded, sum) != 0) {
                rc = ac_errmsg_set(err, -AC_EMIGRATION,
                                   "migration %04d_%s was changed after it was applied to this database "
                                   "(checksum differs); write a new migration instead",
                                   m->version, m->name);
                break;
            }
            continue;
        }
        if ((rc = apply_one(c, m, sum, err)) != 0)
            break;
        ac_log_info("migrate", "applied", "version=%04d name=%s", m->version, m->name);
        count++;
    }
    /* A newer binary may have migrated this database already (a rolling upgrade of a cluster). */
    for (int k = 0; rc == 0 && k < rows; k++) {
        int v = atoi(PQgetvalue(r, k, 0));
        bool known = false;
        for (size_t i = 0; i < n; i++)
            known = known || list[i].version == v;
        if (!known)
            ac_log_warn("migrate", "unknown_version", "version=%04d name=%s note=%s", v, PQgetvalue(r, k, 1),
                        "applied by a newer alexclaw; this binary may not use every table");
    }
    PQclear(r);
Exit:;
    ac_errmsg_t ignore;
    ac_node_db_exec(c, unlock_sql, "releasing the migration lock", &ignore);
    if (applied != NULL)
        *applied = count;
    return rc;
}
