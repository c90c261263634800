/* node/audit.h - the audit log (table auth_audit_log, migration 0007): appends that keep one hash chain across every
 * thread and node (an advisory lock serialises them), coalescing of identical denials within a minute, verification
 * of the whole chain, and pruning that records itself in the chain. The hashes are policy/audit.h's. */
#ifndef AC_NODE_AUDIT_H
#define AC_NODE_AUDIT_H

#include "policy/audit.h"
#include "policy/error.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#define AC_NODE_AUDIT_COALESCE_S 60           /* identical denials within this many seconds share a row */
#define AC_NODE_AUDIT_KEEP_S     (30 * 86400) /* rows older than this are pruned */
#define AC_NODE_AUDIT_REASON_MAX 255

typedef struct ac_node_audit_entry {
    const char *caller;      /* "dynamic:<name>", a core skill, "alexclaw" */
    const char *caller_type; /* "dynamic", "core", "node" */
    const char *permission;
    const char *decision; /* "deny", "allow", "checkpoint" */
    const char *reason;   /* may be NULL; cut to 255 bytes */
    int64_t run_id;       /* 0: none */
    int chain_depth;
} ac_node_audit_entry_t;

/* The chain's last row and the first 8 bytes of its hash in hex ("" when empty), for the node's log: a copy of the
 * head outside the database shows a rollback of the whole table to an older state, which no mark inside it can. */
int ac_node_audit_head(PGconn *c, int64_t *last_id, char hash16[17], ac_errmsg_t *err);

/* Runs its own transaction on c: never call it inside one. Appends an entry at unix time now (a denial identical to the chain's last row within a minute raises that row's
 * count instead). One transaction; the chain's last-row mark moves with it. */
int ac_node_audit_append(PGconn *c, const uint8_t key[AC_POLICY_AUDIT_HASH_LEN], const ac_node_audit_entry_t *e,
                         int64_t now, ac_errmsg_t *err);

typedef struct ac_node_audit_report {
    int64_t rows;     /* rows checked */
    int64_t first_id; /* the chain's first and last rows */
    int64_t last_id;
    int64_t bad_id;    /* the first row found wrong (0: none, or the fault is at an end) */
    char problem[256]; /* "" when intact */
} ac_node_audit_report_t;

/* Walks the whole chain. Returns 0 (intact), -AC_ESTATE (broken: rep->problem and rep->bad_id say where), or a
 * database error. */
int ac_node_audit_verify(PGconn *c, const uint8_t key[AC_POLICY_AUDIT_HASH_LEN], ac_node_audit_report_t *rep,
                         ac_errmsg_t *err);

#define AC_NODE_AUDIT_PAGE_MAX 200 /* rows one ac_node_audit_list call returns at most */

/* Which rows a list shows. Strings NULL or "" match anything. */
typedef struct ac_node_audit_filter {
    const char *decision;   /* exactly: "deny", "allow", "checkpoint" */
    const char *caller;     /* rows whose caller contains it, case-insensitive */
    const char *permission; /* exactly */
    int64_t from, to;       /* unix seconds, 0: open. A row whose time span [inserted_at, last_at] meets [from, to] */
    int64_t before_id;      /* 0: the newest rows; else rows with a smaller id (the next, older page) */
    int limit;              /* rows asked for, clamped to 1..AC_NODE_AUDIT_PAGE_MAX */
} ac_node_audit_filter_t;

/* The rows that pass f, newest first (by id), at most limit + 1 of them: the one beyond limit only says that an older
 * page exists. OUT: *out, a result the caller frees with PQclear, columns id (int8), at and last_at (ISO 8601 UTC
 * text), caller, caller_type, permission, decision, reason (may be NULL), run_id (int8, NULL: none), chain_depth,
 * count (int4). Returns 0 or a database error (-AC_EDB, -AC_EDBDOWN). Reads only: no lock, no transaction. */
int ac_node_audit_list(PGconn *c, const ac_node_audit_filter_t *f, PGresult **out, ac_errmsg_t *err);

/* Deletes the rows older than now - keep_s, moves the chain's first-row mark to the oldest row kept, and appends a
 * checkpoint row that says what was pruned. OUT: *pruned. Returns 0 or a database error. */
int ac_node_audit_prune(PGconn *c, const uint8_t key[AC_POLICY_AUDIT_HASH_LEN], int64_t now, int64_t keep_s,
                        int64_t *pruned, ac_errmsg_t *err);

#endif
