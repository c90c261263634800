/* tests/support/testdb.h - a fresh database per test on the suite's private PostgreSQL server (testpg.sh). */
#ifndef AC_TESTS_SUPPORT_TESTDB_H
#define AC_TESTS_SUPPORT_TESTDB_H

#include <libpq-fe.h>
#include <stdbool.h>

/* Creates an empty database named <prefix>_<pid>_<n> and returns its libpq connection string (static storage,
 * valid until the next call). Aborts the test process when the server is not there (AC_TEST_PGHOST). */
const char *ac_test_db_create(const char *prefix);
/* Drops a database created by ac_test_db_create (terminating leftover sessions). */
void ac_test_db_drop(const char *conninfo);
/* Connects or aborts. */
PGconn *ac_test_db_connect(const char *conninfo);
/* Runs SQL or aborts with the server's message. */
void ac_test_db_exec(PGconn *c, const char *sql);
/* The first column of the first row as text ("" when there is no row); aborts on an SQL error. From ac_malloc. */
char *ac_test_db_value(PGconn *c, const char *sql);

/* A fresh database with the embedded migrations applied, and a connection to it. */
typedef struct ac_test_db {
    char ci[512];
    PGconn *c;
} ac_test_db_t;
void ac_test_db_open_migrated(const char *prefix, ac_test_db_t *db);
void ac_test_db_close(ac_test_db_t *db);

/* In cmocka tests: fails the test unless the SQL's value equals want (shows both). */
#define ac_test_assert_sql(c, sql, want)                                                                               \
    do {                                                                                                               \
        char *v_ = ac_test_db_value((c), (sql));                                                                       \
        bool same_ = strcmp(v_, (want)) == 0;                                                                          \
        if (!same_)                                                                                                    \
            fprintf(stderr, "%s\n  got:  %s\n  want: %s\n", (sql), v_, (want));                                        \
        free(v_);                                                                                                      \
        if (!same_)                                                                                                    \
            fail();                                                                                                    \
    } while (0)

#endif
