/* tests/support/testdb.h - a fresh database per test on the suite's private PostgreSQL server (testpg.sh). */
#ifndef AC_TESTS_SUPPORT_TESTDB_H
#define AC_TESTS_SUPPORT_TESTDB_H

#include <libpq-fe.h>

/* Creates an empty database named <prefix>_<pid>_<n> and returns its libpq connection string (static storage,
 * valid until the next call). Aborts the test process when the server is not there (AC_TEST_PGHOST). */
const char *ac_test_db_create(const char *prefix);
/* Drops a database created by ac_test_db_create (terminating leftover sessions). */
void ac_test_db_drop(const char *conninfo);
/* Connects or aborts. */
PGconn *ac_test_db_connect(const char *conninfo);
/* Runs SQL or aborts with the server's message. */
void ac_test_db_exec(PGconn *c, const char *sql);

#endif
