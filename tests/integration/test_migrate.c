/* tests/integration/test_migrate.c - the migration runner against a real PostgreSQL server: order, idempotence,
 * a failing migration that leaves no trace, a changed migration refused, and two runners racing on one database. */
#include "node/migrate.h"
#include "tests/support/testdb.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define M(v, n, s)                                                                                                     \
    {                                                                                                                  \
        v, n, s, sizeof(s) - 1                                                                                         \
    }

static const ac_node_migration_t good[] = {
    M(1, "one", "CREATE TABLE t1 (id int); INSERT INTO t1 VALUES (1);"),
    M(2, "two", "CREATE TABLE t2 (id int);"),
};

static const ac_node_migration_t with_bad[] = {
    M(1, "one", "CREATE TABLE t1 (id int); INSERT INTO t1 VALUES (1);"),
    M(2, "two", "CREATE TABLE t2 (id int);"),
    /* the first statement succeeds, the second fails: the table of the first must not survive */
    M(3, "broken", "CREATE TABLE t3 (id int); SELEC 1;"),
    M(4, "after", "CREATE TABLE t4 (id int);"),
};

static long scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static long table_exists(PGconn *c, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_tables WHERE tablename = '%s'", name);
    return scalar(c, sql);
}

static void applies_in_order_and_records_each(void **state)
{
    const char *ci = ac_test_db_create("mig_order");
    PGconn *c = ac_test_db_connect(ci);
    ac_errmsg_t err = {{0}};
    int applied = -1;
    assert_int_equal(ac_node_migrate_run(c, good, 2, &applied, &err), 0);
    assert_int_equal(applied, 2);
    assert_int_equal(table_exists(c, "t1"), 1);
    assert_int_equal(table_exists(c, "t2"), 1);
    assert_int_equal(scalar(c, "SELECT count(*) FROM alexclaw_schema_migrations"), 2);
    assert_int_equal(scalar(c, "SELECT count(*) FROM alexclaw_schema_migrations WHERE length(checksum) = 64"), 2);
    /* a second run applies nothing and changes nothing */
    assert_int_equal(ac_node_migrate_run(c, good, 2, &applied, &err), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(scalar(c, "SELECT count(*) FROM t1"), 1);
    PQfinish(c);
    ac_test_db_drop(ci);
}

static void failing_migration_leaves_no_trace_and_is_named(void **state)
{
    const char *ci = ac_test_db_create("mig_fail");
    PGconn *c = ac_test_db_connect(ci);
    ac_errmsg_t err = {{0}};
    int applied = -1;
    int rc = ac_node_migrate_run(c, with_bad, 4, &applied, &err);
    assert_int_equal(rc, -AC_EMIGRATION);
    assert_int_equal(applied, 2);
    assert_non_null(strstr(err.msg, "0003_broken"));
    assert_non_null(strstr(err.msg, "syntax error"));
    assert_null(strchr(err.msg, '\n'));
    assert_int_equal(table_exists(c, "t3"), 0);
    assert_int_equal(table_exists(c, "t4"), 0);
    assert_int_equal(scalar(c, "SELECT max(version) FROM alexclaw_schema_migrations"), 2);
    /* the connection is usable afterwards (no transaction left open) */
    assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
    PQfinish(c);
    ac_test_db_drop(ci);
}

static void changed_migration_is_refused(void **state)
{
    const char *ci = ac_test_db_create("mig_changed");
    PGconn *c = ac_test_db_connect(ci);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_migrate_run(c, good, 2, NULL, &err), 0);
    ac_node_migration_t edited[] = {good[0], M(2, "two", "CREATE TABLE t2 (id bigint);")};
    assert_int_equal(ac_node_migrate_run(c, edited, 2, NULL, &err), -AC_EMIGRATION);
    assert_non_null(strstr(err.msg, "0002_two"));
    assert_non_null(strstr(err.msg, "changed"));
    PQfinish(c);
    ac_test_db_drop(ci);
}

static void unknown_newer_version_is_tolerated(void **state)
{
    const char *ci = ac_test_db_create("mig_newer");
    PGconn *c = ac_test_db_connect(ci);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_migrate_run(c, good, 2, NULL, &err), 0);
    /* an older binary that only knows migration 1 still starts */
    assert_int_equal(ac_node_migrate_run(c, good, 1, NULL, &err), 0);
    PQfinish(c);
    ac_test_db_drop(ci);
}

typedef struct {
    const char *ci;
    int rc, applied;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    PGconn *c = ac_test_db_connect(r->ci);
    ac_errmsg_t err = {{0}};
    r->rc = ac_node_migrate_run(c, good, 2, &r->applied, &err);
    PQfinish(c);
    return NULL;
}

static void concurrent_runners_apply_each_migration_once(void **state)
{
    const char *ci = ac_test_db_create("mig_race");
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", ci);
    enum { N = 6 };
    racer_t r[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer_t){copy, -1, -1};
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].rc, 0);
        total += r[i].applied;
    }
    assert_int_equal(total, 2);
    PGconn *c = ac_test_db_connect(copy);
    assert_int_equal(scalar(c, "SELECT count(*) FROM t1"), 1);
    PQfinish(c);
    ac_test_db_drop(copy);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void loads_directory_in_version_order(void **state)
{
    char dir[] = "/tmp/ac-migdir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_file(dir, "0002_second.sql", "SELECT 2;");
    write_file(dir, "0001_first.sql", "SELECT 1;");
    write_file(dir, "README.txt", "ignored");
    ac_node_migration_t *list = NULL;
    size_t n = 0;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_migrate_load_dir(dir, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].version, 1);
    assert_string_equal(list[0].name, "first");
    assert_string_equal(list[1].sql, "SELECT 2;");
    ac_node_migrate_list_free(list, n);

    write_file(dir, "0002_dup.sql", "SELECT 3;");
    assert_int_equal(ac_node_migrate_load_dir(dir, &list, &n, &err), -AC_ECONFIG);
    assert_non_null(strstr(err.msg, "0002"));
    char p[512];
    snprintf(p, sizeof(p), "%s/0002_dup.sql", dir);
    unlink(p);
    write_file(dir, "3_Bad-Name.sql", "SELECT 4;");
    assert_int_equal(ac_node_migrate_load_dir(dir, &list, &n, &err), -AC_ECONFIG);
    assert_non_null(strstr(err.msg, "3_Bad-Name.sql"));
    assert_int_equal(system("rm -rf /tmp/ac-migdir-*"), 0);
}

static void embedded_set_is_ordered_and_named(void **state)
{
    assert_true(ac_node_migrations_embedded_count >= 1);
    for (size_t i = 0; i < ac_node_migrations_embedded_count; i++) {
        assert_true(ac_node_migrations_embedded[i].version > 0);
        assert_true(ac_node_migrations_embedded[i].len == strlen(ac_node_migrations_embedded[i].sql));
        if (i > 0)
            assert_true(ac_node_migrations_embedded[i].version > ac_node_migrations_embedded[i - 1].version);
    }
    assert_string_equal(ac_node_migrations_embedded[0].name, "settings");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(applies_in_order_and_records_each),
        cmocka_unit_test(failing_migration_leaves_no_trace_and_is_named),
        cmocka_unit_test(changed_migration_is_refused),
        cmocka_unit_test(unknown_newer_version_is_tolerated),
        cmocka_unit_test(concurrent_runners_apply_each_migration_once),
        cmocka_unit_test(loads_directory_in_version_order),
        cmocka_unit_test(embedded_set_is_ordered_and_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
