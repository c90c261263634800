/* node/db.h - PostgreSQL connections: URL validation, connecting with retries, and the advisory-lock keys.
 *
 * Every lock key the project takes lives in this one table, so two features can never pick the same number. */
#ifndef AC_NODE_DB_H
#define AC_NODE_DB_H

#include "policy/error.h"

#include <libpq-fe.h>
#include <signal.h>

/* pg_advisory_lock keys (bigint). */
#define AC_NODE_DB_LOCK_MIGRATE       0x41436c6177000001LL /* "AClaw" + 1: schema migrations */
#define AC_NODE_DB_LOCK_SETTINGS_BOOT 0x41436c6177000002LL /* seeding and re-encrypting settings */
/* + workflow_runs.id (< 2^32): held (session) by the process executing that run, so crash recovery can tell a live
 * run from one whose process died. */
#define AC_NODE_DB_LOCK_RUN_BASE 0x41436c6200000000LL
/* (class, hashtext(NODE_NAME)) in the two-key form: held by the live node of that identity for its lifetime */
#define AC_NODE_DB_LOCK_IDENTITY_CLASS 0x41436c69
#define AC_NODE_DB_LOCK_CLAIMS_PRUNE   0x41436c6177000003LL /* one node at a time prunes old schedule claims */
#define AC_NODE_DB_LOCK_TELEGRAM       0x41436c6177000004LL /* the Telegram poller when telegram.node is empty */
#define AC_NODE_DB_LOCK_AUDIT          0x41436c6177000005LL /* audit appends and prunes: one chain */

/* Checks the syntax of a DATABASE_URL (a postgres:// or postgresql:// URL, or a libpq key=value string) without
 * connecting. err never contains the password. */
int ac_node_db_url_check(const char *url, ac_errmsg_t *err);

/* One connection attempt. The URL's own parameters win; otherwise connect_timeout=10 and application_name=alexclaw.
 * On failure err says why (libpq's message, which names host and user but never the password). OUT: *conn. */
int ac_node_db_connect(const char *conninfo, PGconn **conn, ac_errmsg_t *err);

/* Connects, retrying with exponential backoff (1 s doubling to 30 s) and logging each failure, until it succeeds,
 * max_wait_s seconds have passed (negative: forever), or *stop becomes non-zero (-AC_ESTOPPED). */
int ac_node_db_connect_retry(const char *conninfo, int max_wait_s, volatile sig_atomic_t *stop, PGconn **conn,
                             ac_errmsg_t *err);

/* Runs one statement without results; on failure fills err with `what` and the server's message. */
int ac_node_db_exec(PGconn *c, const char *sql, const char *what, ac_errmsg_t *err);

/* Fills err with "<module>: <what>: <the server's message>" (what may be NULL) and returns -AC_EDBDOWN when the
 * connection is lost, else -AC_EDB: the one way a failed statement becomes an error value. */
int ac_node_db_fail(PGconn *c, const char *module, const char *what, ac_errmsg_t *err);

/* A short description of where conninfo points (host or socket directory, port, database), without secrets. */
void ac_node_db_describe(PGconn *c, char *buf, size_t cap);

#endif
