/* node/audit.c - the audit log of audit.h. */
#include "node/audit.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/crypto.h"
#include "policy/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H AC_POLICY_AUDIT_HASH_LEN

static int db_fail(PGconn *c, ac_errmsg_t *err, const char *what)
{
    return ac_node_db_fail(c, "audit", what, err);
}

static void to_hex(const uint8_t *b, char out[2 * H + 1])
{
    static const char x[] = "0123456789abcdef";
    for (int i = 0; i < H; i++) {
        out[2 * i] = x[b[i] >> 4];
        out[2 * i + 1] = x[b[i] & 15];
    }
    out[2 * H] = '\0';
}

static bool from_hex(const char *s, uint8_t out[H])
{
    if (s == NULL || strlen(s) != 2 * H)
        return false;
    for (int i = 0; i < H; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = s[2 * i + k];
            unsigned d = ch >= '0' && ch <= '9'   ? (unsigned)(ch - '0')
                         : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
                                                  : 16;
            if (d > 15)
                return false;
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return true;
}

static int lock_chain(PGconn *c, ac_errmsg_t *err)
{
    char k[32];
    snprintf(k, sizeof(k), "%lld", (long long)AC_NODE_DB_LOCK_AUDIT);
    const char *p[] = {k};
    PGresult *r = PQexecParams(c, "SELECT pg_advisory_xact_lock($1::bigint)", 1, NULL, p, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : db_fail(c, err, "lock");
    PQclear(r);
    return rc;
}

typedef struct ends {
    int64_t first_id, last_id;
    uint8_t first_prev[H], last_hash[H];
    bool first_marked, last_marked;
    uint8_t first_mark[H], last_mark[H];
} ends_t;

static int read_ends(PGconn *c, ends_t *e, ac_errmsg_t *err)
{
    PGresult *r = PQexec(c, "SELECT first_id, encode(first_prev, 'hex'), encode(first_mark, 'hex'), last_id, "
                            "encode(last_hash, 'hex'), encode(last_mark, 'hex') FROM auth_audit_ends WHERE id = 1");
    int rc = 0;
    memset(e, 0, sizeof(*e));
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        rc = db_fail(c, err, "ends");
    } else {
        e->first_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        e->last_id = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
        if (!from_hex(PQgetvalue(r, 0, 1), e->first_prev) || !from_hex(PQgetvalue(r, 0, 4), e->last_hash))
            rc = ac_errmsg_set(err, -AC_ESTATE, "audit: the chain's ends are unreadable");
        e->first_marked = !PQgetisnull(r, 0, 2) && from_hex(PQgetvalue(r, 0, 2), e->first_mark);
        e->last_marked = !PQgetisnull(r, 0, 5) && from_hex(PQgetvalue(r, 0, 5), e->last_mark);
    }
    PQclear(r);
    return rc;
}

/* Moves one end: "first" (id, the hash before it) or "last" (id, its hash), with its mark. */
static int set_end(PGconn *c, const uint8_t key[H], const char *what, int64_t id, const uint8_t hash[H],
                   ac_errmsg_t *err)
{
    uint8_t mark[H];
    if (ac_policy_audit_mark(key, what, id, hash, mark) != 0)
        return ac_errmsg_set(err, -AC_ECRYPTO, "audit: cannot sign the chain's end");
    char ids[32], hx[2 * H + 1], mx[2 * H + 1];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    to_hex(hash, hx);
    to_hex(mark, mx);
    const char *p[] = {ids, hx, mx};
    PGresult *r =
        PQexecParams(c,
                     strcmp(what, "first") == 0
                         ? "UPDATE auth_audit_ends SET first_id = $1::bigint, first_prev = decode($2, 'hex'), "
                           "first_mark = decode($3, 'hex') WHERE id = 1"
                         : "UPDATE auth_audit_ends SET last_id = $1::bigint, last_hash = decode($2, 'hex'), "
                           "last_mark = decode($3, 'hex') WHERE id = 1",
                     3, NULL, p, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : db_fail(c, err, "ends");
    PQclear(r);
    return rc;
}

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Columns of a row as the chain reads them. */
#define ROW_COLUMNS                                                                                                    \
    "id, caller, caller_type, permission, decision, reason, coalesce(workflow_run_id, 0), coalesce(chain_depth, 0), "  \
    "extract(epoch from inserted_at)::bigint, count, extract(epoch from last_at)::bigint, encode(prev_hash, 'hex'), "  \
    "encode(hash, 'hex')"

static void row_of(PGresult *r, int i, ac_policy_audit_row_t *row)
{
    row->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    row->caller = PQgetvalue(r, i, 1);
    row->caller_type = PQgetvalue(r, i, 2);
    row->permission = PQgetvalue(r, i, 3);
    row->decision = PQgetvalue(r, i, 4);
    row->reason = PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5);
    row->run_id = strtoll(PQgetvalue(r, i, 6), NULL, 10);
    row->chain_depth = atoi(PQgetvalue(r, i, 7));
    row->inserted_at = strtoll(PQgetvalue(r, i, 8), NULL, 10);
    row->count = atoi(PQgetvalue(r, i, 9));
    row->last_at = strtoll(PQgetvalue(r, i, 10), NULL, 10);
}

/* Inside the transaction, with the chain locked. */
static int append_locked(PGconn *c, const uint8_t key[H], const ac_node_audit_entry_t *e, int64_t now, bool coalesce,
                         ac_errmsg_t *err)
{
    ends_t ends;
    int rc = read_ends(c, &ends, err);
    if (rc != 0)
        return rc;
    char reason[AC_NODE_AUDIT_REASON_MAX + 1];
    if (e->reason != NULL)
        snprintf(reason, sizeof(reason), "%.*s",
                 (int)ac_policy_utf8_fit(e->reason, strlen(e->reason), AC_NODE_AUDIT_REASON_MAX), e->reason);
    const char *why = e->reason != NULL ? reason : NULL;
    char nows[32], ids[32];
    snprintf(nows, sizeof(nows), "%lld", (long long)now);
    if (coalesce && ends.last_id > 0 && strcmp(e->decision, "deny") == 0) {
        snprintf(ids, sizeof(ids), "%lld", (long long)ends.last_id);
        const char *p[] = {ids};
        PGresult *r = PQexecParams(c, "SELECT " ROW_COLUMNS " FROM auth_audit_log WHERE id = $1::bigint", 1, NULL, p,
                                   NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            PQclear(r);
            return db_fail(c, err, "last row");
        }
        ac_policy_audit_row_t last;
        if (PQntuples(r) == 1 && (row_of(r, 0, &last), true) && same(last.caller, e->caller) &&
            same(last.caller_type, e->caller_type) && same(last.permission, e->permission) &&
            same(last.decision, e->decision) && same(last.reason, why) && last.run_id == e->run_id &&
            last.chain_depth == e->chain_depth && now - last.inserted_at < AC_NODE_AUDIT_COALESCE_S &&
            now >= last.inserted_at) {
            uint8_t prev[H], hash[H];
            last.count++;
            last.last_at = now;
            bool ok = from_hex(PQgetvalue(r, 0, 11), prev) && ac_policy_audit_hash(key, prev, &last, hash) == 0;
            PQclear(r);
            if (!ok)
                return ac_errmsg_set(err, -AC_ESTATE, "audit: the last row is unreadable");
            char hx[2 * H + 1], cnt[16];
            to_hex(hash, hx);
            snprintf(cnt, sizeof(cnt), "%d", last.count);
            const char *q[] = {ids, cnt, nows, hx};
            r = PQexecParams(c,
                             "UPDATE auth_audit_log SET count = $2::int, last_at = to_timestamp($3::bigint) AT TIME "
                             "ZONE 'utc', hash = decode($4, 'hex') WHERE id = $1::bigint",
                             4, NULL, q, NULL, NULL, 0);
            rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : db_fail(c, err, "coalesce");
            PQclear(r);
            return rc != 0 ? rc : set_end(c, key, "last", ends.last_id, hash, err);
        }
        PQclear(r);
    }
    PGresult *r = PQexec(c, "SELECT nextval('auth_audit_log_id_seq')");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return db_fail(c, err, "id");
    }
    int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    ac_policy_audit_row_t row = {
        id, e->caller, e->caller_type, e->permission, e->decision, why, e->run_id, e->chain_depth, now, 1, now};
    uint8_t hash[H];
    if (ac_policy_audit_hash(key, ends.last_hash, &row, hash) != 0)
        return ac_errmsg_set(err, -AC_ECRYPTO, "audit: cannot hash the row");
    char hx[2 * H + 1], px[2 * H + 1], run[32], depth[16];
    to_hex(hash, hx);
    to_hex(ends.last_hash, px);
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    snprintf(run, sizeof(run), "%lld", (long long)e->run_id);
    snprintf(depth, sizeof(depth), "%d", e->chain_depth);
    const char *p[] = {ids, e->caller, e->caller_type, e->permission, e->decision, why, run, depth, nows, px, hx};
    r = PQexecParams(c,
                     "INSERT INTO auth_audit_log (id, caller, caller_type, permission, decision, reason, "
                     "workflow_run_id, chain_depth, inserted_at, count, last_at, prev_hash, hash) VALUES ($1::bigint, "
                     "$2, $3, $4, $5, $6, nullif($7::bigint, 0), $8::int, to_timestamp($9::bigint) AT TIME ZONE 'utc', "
                     "1, to_timestamp($9::bigint) AT TIME ZONE 'utc', decode($10, 'hex'), decode($11, 'hex'))",
                     11, NULL, p, NULL, NULL, 0);
    rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : db_fail(c, err, "insert");
    PQclear(r);
    if (rc == 0 && ends.first_id == 0)
        rc = set_end(c, key, "first", id, ends.last_hash, err);
    if (rc == 0)
        rc = set_end(c, key, "last", id, hash, err);
    return rc;
}

int ac_node_audit_head(PGconn *c, int64_t *last_id, char hash16[17], ac_errmsg_t *err)
{
    ends_t e;
    int rc = read_ends(c, &e, err);
    if (rc != 0)
        return rc;
    *last_id = e.last_id;
    char hx[2 * H + 1];
    to_hex(e.last_hash, hx);
    snprintf(hash16, 17, "%.16s", e.last_id != 0 ? hx : "");
    return 0;
}

int ac_node_audit_append(PGconn *c, const uint8_t key[H], const ac_node_audit_entry_t *e, int64_t now, ac_errmsg_t *err)
{
    if (e->caller == NULL || e->caller_type == NULL || e->permission == NULL || e->decision == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "audit: an entry needs caller, type, permission and decision");
    int rc = ac_node_db_exec(c, "BEGIN", "audit", err);
    if (rc != 0)
        return rc;
    if ((rc = lock_chain(c, err)) == 0)
        rc = append_locked(c, key, e, now, true, err);
    ac_errmsg_t e2 = {{0}};
    if (rc == 0)
        rc = ac_node_db_exec(c, "COMMIT", "audit", err);
    else
        ac_node_db_exec(c, "ROLLBACK", "audit", &e2);
    return rc;
}

static int broken(ac_node_audit_report_t *rep, int64_t id, const char *problem)
{
    rep->bad_id = id;
    snprintf(rep->problem, sizeof(rep->problem), "%s", problem);
    return -AC_ESTATE;
}

int ac_node_audit_verify(PGconn *c, const uint8_t key[H], ac_node_audit_report_t *rep, ac_errmsg_t *err)
{
    memset(rep, 0, sizeof(*rep));
    int rc = ac_node_db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ", "audit", err);
    if (rc != 0)
        return rc;
    ends_t ends;
    if ((rc = read_ends(c, &ends, err)) != 0) {
        ac_node_db_exec(c, "ROLLBACK", "audit", err);
        return rc;
    }
    rep->first_id = ends.first_id;
    rep->last_id = ends.last_id;
    uint8_t m[H];
    int res = 0;
    if (ends.last_id != 0 && (!ends.first_marked || !ends.last_marked ||
                              ac_policy_audit_mark(key, "first", ends.first_id, ends.first_prev, m) != 0 ||
                              !ac_policy_crypto_ct_equal(m, H, ends.first_mark, H) ||
                              ac_policy_audit_mark(key, "last", ends.last_id, ends.last_hash, m) != 0 ||
                              !ac_policy_crypto_ct_equal(m, H, ends.last_mark, H)))
        res = broken(rep, 0, "the chain's ends were changed (their marks do not match)");
    PGresult *r = NULL;
    if (res == 0) {
        r = PQexec(c, "SELECT count(*) FROM auth_audit_log WHERE id < (SELECT first_id FROM auth_audit_ends)");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = db_fail(c, err, "count");
            PQclear(r);
            ac_node_db_exec(c, "ROLLBACK", "audit", err);
            return rc;
        }
        if (strcmp(PQgetvalue(r, 0, 0), "0") != 0)
            res = broken(rep, 0, "rows older than the chain's first row were added");
        PQclear(r);
    }
    if (res == 0 &&
        (rc = ac_node_db_exec(c,
                              "DECLARE audit_walk NO SCROLL CURSOR FOR SELECT " ROW_COLUMNS
                              " FROM auth_audit_log WHERE id >= (SELECT first_id FROM auth_audit_ends) ORDER BY id",
                              "audit", err)) != 0) {
        ac_node_db_exec(c, "ROLLBACK", "audit", err);
        return rc;
    }
    uint8_t expect[H];
    memcpy(expect, ends.first_prev, H);
    int64_t last_seen = 0;
    while (res == 0) {
        r = PQexec(c, "FETCH 1000 FROM audit_walk");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = db_fail(c, err, "walk");
            PQclear(r);
            ac_node_db_exec(c, "ROLLBACK", "audit", err);
            return rc;
        }
        int n = PQntuples(r);
        for (int i = 0; i < n && res == 0; i++) {
            ac_policy_audit_row_t row;
            row_of(r, i, &row);
            uint8_t prev[H], stored[H], hash[H];
            if (rep->rows == 0 && row.id != ends.first_id)
                res = broken(rep, row.id, "the chain's first row is missing");
            else if (!from_hex(PQgetvalue(r, i, 11), prev) || !from_hex(PQgetvalue(r, i, 12), stored))
                res = broken(rep, row.id, "a row's hashes are unreadable");
            else if (!ac_policy_crypto_ct_equal(prev, H, expect, H))
                res = broken(rep, row.id, "a row does not follow the one before it (rows deleted or reordered)");
            else if (ac_policy_audit_hash(key, prev, &row, hash) != 0 || !ac_policy_crypto_ct_equal(hash, H, stored, H))
                res = broken(rep, row.id, "a row was changed or forged");
            memcpy(expect, stored, H);
            last_seen = row.id;
            rep->rows++;
        }
        PQclear(r);
        if (n == 0)
            break;
    }
    if (res == 0 && ends.last_id != 0 &&
        (last_seen != ends.last_id || !ac_policy_crypto_ct_equal(expect, H, ends.last_hash, H)))
        res = broken(rep, last_seen, "rows at the end of the chain were removed or added");
    if (res == 0 && ends.last_id == 0 && rep->rows > 0)
        res = broken(rep, 0, "rows exist but the chain has no end");
    ac_node_db_exec(c, "ROLLBACK", "audit", err);
    return res;
}

static const char *or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

int ac_node_audit_list(PGconn *c, const ac_node_audit_filter_t *f, PGresult **out, ac_errmsg_t *err)
{
    *out = NULL;
    int limit = f->limit < 1 ? 1 : f->limit > AC_NODE_AUDIT_PAGE_MAX ? AC_NODE_AUDIT_PAGE_MAX : f->limit;
    char from[32], to[32], before[32], lim[16];
    snprintf(from, sizeof(from), "%lld", (long long)f->from);
    snprintf(to, sizeof(to), "%lld", (long long)f->to);
    snprintf(before, sizeof(before), "%lld", (long long)f->before_id);
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[] = {or_null(f->decision), or_null(f->caller), or_null(f->permission), from, to, before, lim};
    /* strpos, not LIKE: a caller typed in a filter is text, never a pattern */
    PGresult *r = PQexecParams(
        c,
        "SELECT id, to_char(inserted_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS at, "
        "to_char(last_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS last_at, caller, caller_type, permission, decision, "
        "reason, workflow_run_id AS run_id, chain_depth, count FROM auth_audit_log "
        "WHERE ($1::text IS NULL OR decision = $1) AND ($2::text IS NULL OR strpos(lower(caller), lower($2)) > 0) "
        "AND ($3::text IS NULL OR permission = $3) "
        "AND ($4::bigint = 0 OR last_at >= to_timestamp($4::bigint) AT TIME ZONE 'utc') "
        "AND ($5::bigint = 0 OR inserted_at <= to_timestamp($5::bigint) AT TIME ZONE 'utc') "
        "AND ($6::bigint = 0 OR id < $6::bigint) ORDER BY id DESC LIMIT $7::int",
        7, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return db_fail(c, err, "list");
    }
    *out = r;
    return 0;
}

int ac_node_audit_prune(PGconn *c, const uint8_t key[H], int64_t now, int64_t keep_s, int64_t *pruned, ac_errmsg_t *err)
{
    *pruned = 0;
    int rc = ac_node_db_exec(c, "BEGIN", "audit", err);
    if (rc != 0)
        return rc;
    char cut[32];
    snprintf(cut, sizeof(cut), "%lld", (long long)(now - keep_s));
    const char *p[] = {cut};
    PGresult *r = NULL;
    if ((rc = lock_chain(c, err)) == 0) { /* appends are short; a prune waits its turn like one */
        /* a prefix of the chain by id: every row before the first one that is not old enough (ids and times can
         * disagree by a little across nodes; deleting by time alone could cut a hole in the chain) */
        r = PQexecParams(c,
                         "WITH keep AS (SELECT min(id) AS id FROM auth_audit_log WHERE inserted_at >= "
                         "to_timestamp($1::bigint) AT TIME ZONE 'utc'), gone AS (DELETE FROM auth_audit_log WHERE "
                         "id < coalesce((SELECT id FROM keep), (SELECT max(id) + 1 FROM auth_audit_log)) RETURNING id) "
                         "SELECT count(*), coalesce(max(id), 0) FROM gone",
                         1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = db_fail(c, err, "prune");
    }
    int64_t n = 0, upto = 0;
    if (rc == 0) {
        n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        upto = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    }
    PQclear(r);
    if (rc == 0 && n > 0) {
        /* the chain now starts at the oldest row kept, if any; else the checkpoint below starts it */
        r = PQexec(c, "SELECT id, encode(prev_hash, 'hex') FROM auth_audit_log ORDER BY id LIMIT 1");
        uint8_t prev[H];
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = db_fail(c, err, "first row");
        else if (PQntuples(r) == 1 && from_hex(PQgetvalue(r, 0, 1), prev))
            rc = set_end(c, key, "first", strtoll(PQgetvalue(r, 0, 0), NULL, 10), prev, err);
        else if (PQntuples(r) == 0)
            rc = ac_node_db_exec(c, "UPDATE auth_audit_ends SET first_id = 0 WHERE id = 1", "audit", err);
        PQclear(r);
        char why[160];
        snprintf(why, sizeof(why), "pruned %lld rows older than %lld days (ids up to %lld)", (long long)n,
                 (long long)(keep_s / 86400), (long long)upto);
        ac_node_audit_entry_t cp = {"alexclaw", "node", "audit", "checkpoint", why, 0, 0};
        if (rc == 0)
            rc = append_locked(c, key, &cp, now, false, err);
    }
    ac_errmsg_t e2 = {{0}};
    if (rc == 0)
        rc = ac_node_db_exec(c, "COMMIT", "audit", err);
    else
        ac_node_db_exec(c, "ROLLBACK", "audit", &e2);
    if (rc == 0) {
        *pruned = n;
        if (n > 0)
            ac_log_info("audit", "pruned", "rows=%lld upto=%lld", (long long)n, (long long)upto);
    }
    return rc;
}
