/* tests/support/testdb.c - per-test databases on the suite's private PostgreSQL server (testdb.h). */
#include "tests/support/testdb.h"

#include "node/migrate.h"
#include "policy/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char last[512];

static const char *pghost(void)
{
    const char *h = getenv("AC_TEST_PGHOST");
    if (h == NULL || h[0] == '\0') {
        fprintf(stderr, "AC_TEST_PGHOST is not set: run this test through ctest (fixture pg_start)\n");
        abort();
    }
    return h;
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *ac_test_db_connect(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "test database connection failed: %s\n", PQerrorMessage(c));
        abort();
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

void ac_test_db_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "test SQL failed: %s\n  %s\n", PQerrorMessage(c), sql);
        abort();
    }
    PQclear(r);
}

static void admin_exec(const char *sql)
{
    char ci[512];
    snprintf(ci, sizeof(ci), "host=%s dbname=postgres user=postgres", pghost());
    PGconn *c = ac_test_db_connect(ci);
    ac_test_db_exec(c, sql);
    PQfinish(c);
}

const char *ac_test_db_create(const char *prefix)
{
    static int n;
    char name[128], sql[256];
    snprintf(name, sizeof(name), "%s_%d_%d", prefix, (int)getpid(), n++);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", name);
    admin_exec(sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    admin_exec(sql);
    snprintf(last, sizeof(last), "host=%s dbname=%s user=postgres", pghost(), name);
    return last;
}

void ac_test_db_drop(const char *conninfo)
{
    const char *d = strstr(conninfo, "dbname=");
    if (d == NULL)
        return;
    char name[128], sql[256];
    snprintf(name, sizeof(name), "%.*s", (int)strcspn(d + 7, " "), d + 7);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    admin_exec(sql);
}

char *ac_test_db_value(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "test SQL failed: %s\n  %s\n", PQerrorMessage(c), sql);
        abort();
    }
    char *v = ac_strdup(PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return v;
}

void ac_test_db_open_migrated(const char *prefix, ac_test_db_t *db)
{
    snprintf(db->ci, sizeof(db->ci), "%s", ac_test_db_create(prefix));
    db->c = ac_test_db_connect(db->ci);
    ac_errmsg_t err = {{0}};
    if (ac_node_migrate_run(db->c, ac_node_migrations_embedded, ac_node_migrations_embedded_count, NULL, &err) != 0) {
        fprintf(stderr, "migrate: %s\n", err.msg);
        abort();
    }
}

void ac_test_db_close(ac_test_db_t *db)
{
    PQfinish(db->c);
    ac_test_db_drop(db->ci);
    db->c = NULL;
}
