/* node/challenge.c - 2FA challenges of challenge.h, in table twofa_challenges (migration 0006). */
#include "node/challenge.h"

#include "node/db.h"
#include "node/log.h"
#include "node/twofa.h"
#include "policy/alloc.h"
#include "policy/crypto.h"
#include "policy/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTION_MAX (1024 * 1024 + 4096) /* a workflow document up to the admin UI's 1 MiB body */

static int db_fail(PGconn *c, ac_errmsg_t *err, const char *what)
{
    return ac_node_db_fail(c, "2FA challenge", what, err);
}

char *ac_node_challenge_prompt_replacing(const char *description, const char *replaced)
{
    char *base = ac_node_challenge_prompt(description);
    if (replaced == NULL)
        return base;
    static const char fmt[] = "%s\n\n(It replaces the earlier request, which can no longer be approved: %s)";
    size_t n = strlen(fmt) + strlen(base) + strlen(replaced) + 1;
    char *out = ac_malloc(n);
    snprintf(out, n, fmt, base, replaced);
    free(base);
    return out;
}

char *ac_node_challenge_prompt(const char *description)
{
    static const char fmt[] = "This action requires 2FA verification.\n%s\n\nEnter your 6-digit authenticator code:";
    size_t n = strlen(fmt) + strlen(description) + 1;
    char *out = ac_malloc(n);
    snprintf(out, n, fmt, description);
    return out;
}

void ac_node_challenge_scope_telegram(const char *chat_id, char *out, size_t cap)
{
    snprintf(out, cap, "telegram:%s", chat_id);
}

static void new_id(char id[AC_NODE_CHALLENGE_ID_MAX])
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[16];
    if (ac_policy_crypto_random(raw, sizeof(raw)) != 0)
        abort(); /* RAND_bytes failing means the process cannot make any secret; ac_malloc's policy */
    /* 128 bits as 22 base64url characters (the last carries 2 bits) */
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < sizeof(raw); i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            id[n++] = abc[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        id[n++] = abc[(acc << (6 - bits)) & 63];
    id[n] = '\0';
}

/* Stores a challenge; replace: over any challenge of the scope, else only over an expired one (-AC_EAGAIN when one
 * waits, decided by the one statement, so no request made in between is ever replaced). */
static int create_row(PGconn *c, const char *scope, const json_t *action, const char *description, int64_t now,
                      bool replace, char id[AC_NODE_CHALLENGE_ID_MAX], ac_errmsg_t *err)
{
    if (scope == NULL || scope[0] == '\0' || strlen(scope) >= AC_NODE_CHALLENGE_SCOPE_MAX || !json_is_object(action))
        return ac_errmsg_set(err, -AC_EINVAL, "2FA challenge: bad scope or action");
    char *doc = json_dumps(action, JSON_COMPACT);
    if (doc == NULL || strlen(doc) > ACTION_MAX) {
        free(doc);
        return ac_errmsg_set(err, -AC_ETOOLONG, "2FA challenge: the action is too large");
    }
    char desc[AC_NODE_CHALLENGE_DESC_MAX + 1];
    if (description == NULL)
        description = "";
    snprintf(desc, sizeof(desc), "%.*s",
             (int)ac_policy_utf8_fit(description, strlen(description), AC_NODE_CHALLENGE_DESC_MAX), description);
    new_id(id);
    char exp[32], nw[32];
    snprintf(exp, sizeof(exp), "%lld", (long long)(now + AC_NODE_CHALLENGE_TTL_S));
    snprintf(nw, sizeof(nw), "%lld", (long long)now);
    const char *p[] = {id, scope, doc, desc, exp, nw};
    PGresult *r = PQexecParams(c,
                               replace ? "INSERT INTO twofa_challenges (id, scope, action, description, expires_at) "
                                         "VALUES ($1, $2, $3::json, $4, $5::bigint) ON CONFLICT (scope) DO UPDATE SET "
                                         "id = EXCLUDED.id, action = EXCLUDED.action, description = "
                                         "EXCLUDED.description, attempts = 0, created_at = EXCLUDED.created_at, "
                                         "expires_at = EXCLUDED.expires_at"
                                       : "INSERT INTO twofa_challenges (id, scope, action, description, expires_at) "
                                         "VALUES ($1, $2, $3::json, $4, $5::bigint) ON CONFLICT (scope) DO UPDATE SET "
                                         "id = EXCLUDED.id, action = EXCLUDED.action, description = "
                                         "EXCLUDED.description, attempts = 0, created_at = EXCLUDED.created_at, "
                                         "expires_at = EXCLUDED.expires_at "
                                         "WHERE twofa_challenges.expires_at <= $6::bigint RETURNING 1",
                               replace ? 5 : 6, NULL, p, NULL, NULL, 0);
    free(doc);
    int rc;
    if (replace)
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : db_fail(c, err, "create");
    else if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = db_fail(c, err, "create");
    else if (PQntuples(r) != 1)
        rc = ac_errmsg_set(err, -AC_EAGAIN, "busy: the owner has a 2FA request waiting; ask again later");
    else
        rc = 0;
    PQclear(r);
    if (rc == 0)
        ac_log_info("twofa", "challenge_created", "scope=%s", scope);
    return rc;
}

int ac_node_challenge_create(PGconn *c, const char *scope, const json_t *action, const char *description, int64_t now,
                             char id[AC_NODE_CHALLENGE_ID_MAX], ac_errmsg_t *err)
{
    return create_row(c, scope, action, description, now, true, id, err);
}

int ac_node_challenge_create_if_free(PGconn *c, const char *scope, const json_t *action, const char *description,
                                     int64_t now, char id[AC_NODE_CHALLENGE_ID_MAX], ac_errmsg_t *err)
{
    return create_row(c, scope, action, description, now, false, id, err);
}

int ac_node_challenge_pending(PGconn *c, const char *scope, int64_t now, bool *pending, ac_errmsg_t *err)
{
    char nw[32];
    snprintf(nw, sizeof(nw), "%lld", (long long)now);
    const char *p[] = {scope, nw};
    PGresult *r = PQexecParams(c, "SELECT 1 FROM twofa_challenges WHERE scope = $1 AND expires_at > $2::bigint", 2,
                               NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = db_fail(c, err, "lookup");
    else
        *pending = PQntuples(r) > 0;
    PQclear(r);
    return rc;
}

int ac_node_challenge_live_description(PGconn *c, const char *scope, int64_t now, char **desc, ac_errmsg_t *err)
{
    *desc = NULL;
    char nw[32];
    snprintf(nw, sizeof(nw), "%lld", (long long)now);
    const char *p[] = {scope, nw};
    PGresult *r =
        PQexecParams(c, "SELECT description FROM twofa_challenges WHERE scope = $1 AND expires_at > $2::bigint", 2,
                     NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = db_fail(c, err, "lookup");
    else if (PQntuples(r) == 1)
        *desc = ac_strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

int ac_node_challenge_cancel(PGconn *c, const char *scope, ac_errmsg_t *err)
{
    const char *p[] = {scope};
    PGresult *r = PQexecParams(c, "DELETE FROM twofa_challenges WHERE scope = $1", 1, NULL, p, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : db_fail(c, err, "cancel");
    PQclear(r);
    return rc;
}

static int delete_row(PGconn *c, const char *id, ac_errmsg_t *err);

int ac_node_challenge_cancel_id(PGconn *c, const char *id, ac_errmsg_t *err)
{
    int rc = delete_row(c, id, err);
    if (rc == 0)
        ac_log_info("twofa", "challenge_cancelled", "by=%s", "the person");
    return rc;
}

static int delete_row(PGconn *c, const char *id, ac_errmsg_t *err)
{
    const char *p[] = {id};
    PGresult *r = PQexecParams(c, "DELETE FROM twofa_challenges WHERE id = $1", 1, NULL, p, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : db_fail(c, err, "delete");
    PQclear(r);
    return rc;
}

/* Inside the transaction: the row is locked. Checks the code; on a wrong one counts the attempt. */
static int resolve_locked(PGconn *c, ac_node_settings_t *s, PGresult *row, const char *code, int64_t now,
                          json_t **action, int *attempts_left, ac_errmsg_t *err)
{
    const char *id = PQgetvalue(row, 0, 0);
    int attempts = atoi(PQgetvalue(row, 0, 2));
    long long expires = strtoll(PQgetvalue(row, 0, 3), NULL, 10);
    if (expires <= now) {
        int rc = delete_row(c, id, err);
        return rc != 0 ? rc : ac_errmsg_set(err, -AC_ETIMEDOUT, "the challenge expired; ask again");
    }
    ac_errmsg_t verr = {0};
    int rc = ac_node_twofa_verify(c, s, code, now, &verr);
    if (rc == -AC_ESTATE || rc == -AC_EAGAIN || rc == -AC_EDB || rc == -AC_EDBDOWN)
        return ac_errmsg_set(err, rc, "%s", verr.msg); /* nothing decided about this challenge */
    if (rc != 0) {                                     /* wrong, malformed or replayed: one attempt gone */
        attempts++;
        *attempts_left = AC_NODE_CHALLENGE_ATTEMPTS - attempts;
        if (*attempts_left <= 0) {
            *attempts_left = 0;
            if ((rc = delete_row(c, id, err)) != 0)
                return rc;
        } else {
            char at[16];
            snprintf(at, sizeof(at), "%d", attempts);
            const char *p[] = {id, at};
            PGresult *r = PQexecParams(c, "UPDATE twofa_challenges SET attempts = $2::int WHERE id = $1", 2, NULL, p,
                                       NULL, NULL, 0);
            rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : db_fail(c, err, "count");
            PQclear(r);
            if (rc != 0)
                return rc;
        }
        return ac_errmsg_set(err, -AC_EPERM, "%s", verr.msg);
    }
    json_error_t jerr;
    json_t *a = json_loads(PQgetvalue(row, 0, 1), 0, &jerr);
    if (!json_is_object(a)) {
        json_decref(a);
        return ac_errmsg_set(err, -AC_EDB, "2FA challenge: stored action unreadable");
    }
    if ((rc = delete_row(c, id, err)) != 0) {
        json_decref(a);
        return rc;
    }
    *action = a;
    return 0;
}

int ac_node_challenge_resolve(PGconn *c, ac_node_settings_t *s, const char *scope, const char *id, const char *code,
                              int64_t now, json_t **action, int *attempts_left, ac_errmsg_t *err)
{
    *action = NULL;
    *attempts_left = 0;
    if ((id == NULL && scope == NULL) || code == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "2FA challenge: nothing to resolve");
    int rc = ac_node_db_exec(c, "BEGIN", "2FA challenge", err);
    if (rc != 0)
        return rc;
    const char *p[] = {id != NULL ? id : scope};
    PGresult *row = PQexecParams(c,
                                 id != NULL ? "SELECT id, action::text, attempts, expires_at FROM twofa_challenges "
                                              "WHERE id = $1 FOR UPDATE"
                                            : "SELECT id, action::text, attempts, expires_at FROM twofa_challenges "
                                              "WHERE scope = $1 FOR UPDATE",
                                 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(row) != PGRES_TUPLES_OK)
        rc = db_fail(c, err, "lookup");
    else if (PQntuples(row) == 0)
        rc = ac_errmsg_set(err, -AC_ENOENT, "no 2FA challenge is waiting");
    else
        rc = resolve_locked(c, s, row, code, now, action, attempts_left, err);
    PQclear(row);
    /* Commit on every decision (a counted attempt, an expiry, an approval); roll back only on database errors and
     * when nothing was decided (ENOENT, 2FA off). */
    bool decided = rc == 0 || rc == -AC_EPERM || rc == -AC_ETIMEDOUT;
    ac_errmsg_t cerr = {0};
    int crc = ac_node_db_exec(c, decided ? "COMMIT" : "ROLLBACK", "2FA challenge", &cerr);
    if (crc != 0 && decided) {
        json_decref(*action);
        *action = NULL;
        *attempts_left = 0;
        return ac_errmsg_set(err, crc, "%s", cerr.msg);
    }
    if (rc == 0)
        ac_log_info("twofa", "challenge_approved", "scope=%s", scope != NULL ? scope : "(by id)");
    else if (rc == -AC_EPERM)
        ac_log_warn("twofa", "challenge_code_refused", "attempts_left=%d", *attempts_left);
    return rc;
}
