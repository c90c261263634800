/* node/twofa.c - the second factor's state of twofa.h. */
#include "node/twofa.h"
#include "node/db.h"

#include "node/log.h"
#include "node/settings_store.h"
#include "policy/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ac_node_twofa_enabled(ac_node_settings_t *s)
{
    return ac_node_settings_bool_or(s, "auth.totp.enabled", false);
}

bool ac_node_twofa_key_guarded(const char *key)
{
    /* llm.*, skill.* and github.*: which provider (and whose account) receives prompts, chats and diffs;
     * coder.*: how much generated code runs */
    return strcmp(key, "telegram.chat_id") == 0 || strcmp(key, "api.token") == 0 || strncmp(key, "auth.", 5) == 0 ||
           strncmp(key, "shell.", 6) == 0 || strncmp(key, "llm.", 4) == 0 || strncmp(key, "skill.", 6) == 0 ||
           strncmp(key, "github.", 7) == 0 || strncmp(key, "coder.", 6) == 0;
}

static int db_fail(PGconn *c, ac_errmsg_t *err)
{
    return ac_node_db_fail(c, "2FA", NULL, err);
}

/* Takes `step` if no node took it or a later one: the compare-and-set on totp_steps. A taken step also ends a run of
 * wrong codes. */
static int take_step(PGconn *c, int64_t step, ac_errmsg_t *err)
{
    char st[32];
    snprintf(st, sizeof(st), "%lld", (long long)step);
    const char *p[] = {st};
    PGresult *r = PQexecParams(c,
                               "UPDATE totp_steps SET last_step = $1::bigint, failures = 0, "
                               "updated_at = now() AT TIME ZONE 'utc' WHERE id = 1 AND last_step < $1::bigint",
                               1, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = db_fail(c, err);
    else if (atoi(PQcmdTuples(r)) != 1)
        rc = ac_errmsg_set(err, -AC_EPERM, "that code was used already; wait for the next one");
    PQclear(r);
    return rc;
}

/* Whether code checks are locked after too many wrong codes: 0, -AC_EAGAIN (locked), or a database error. */
static int lockout(PGconn *c, int64_t now, ac_errmsg_t *err)
{
    PGresult *r = PQexec(c, "SELECT locked_until FROM totp_steps WHERE id = 1");
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        rc = db_fail(c, err);
    } else {
        long long until = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        if (until > now)
            rc = ac_errmsg_set(err, -AC_EAGAIN, "too many wrong codes: 2FA is locked for %lld more seconds",
                               until - (long long)now);
    }
    PQclear(r);
    return rc;
}

/* Counts a wrong code; every AC_NODE_TWOFA_LOCK_AFTER in a row lock checks (5 minutes, doubling, at most a day). */
static void count_failure(PGconn *c, int64_t now)
{
    char nw[32], after[16];
    snprintf(nw, sizeof(nw), "%lld", (long long)now);
    snprintf(after, sizeof(after), "%d", AC_NODE_TWOFA_LOCK_AFTER);
    const char *p[] = {nw, after};
    PGresult *r = PQexecParams(c,
                               "UPDATE totp_steps SET failures = failures + 1, locked_until = CASE "
                               "WHEN (failures + 1) % $2::int = 0 THEN $1::bigint + LEAST(300::bigint * "
                               "(2 ^ LEAST((failures + 1) / $2::int - 1, 10))::bigint, 86400) "
                               "ELSE locked_until END WHERE id = 1 RETURNING failures, locked_until",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && strtoll(PQgetvalue(r, 0, 1), NULL, 10) > now)
        ac_log_warn("twofa", "locked", "failures=%s until=%s", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
    PQclear(r);
}

/* Checks code against secret (lockout first), then takes its step. A wrong or replayed code counts a failure; a
 * malformed one (not 6 digits) is refused without counting. */
static int check_secret(PGconn *c, const char *secret, const char *code, int64_t now, ac_errmsg_t *err)
{
    int rc = lockout(c, now, err);
    if (rc != 0)
        return rc;
    int64_t step = 0;
    rc = ac_policy_totp_verify(secret, code, now, &step);
    if (rc == -AC_EINVAL)
        return ac_errmsg_set(err, -AC_EINVAL, "a code is 6 digits");
    rc = rc != 0 ? ac_errmsg_set(err, -AC_EPERM, "invalid code") : take_step(c, step, err);
    if (rc == -AC_EPERM)
        count_failure(c, now);
    return rc;
}

/* Checks code against the secret in setting `key`. */
static int check(PGconn *c, ac_node_settings_t *s, const char *key, const char *code, int64_t now, ac_errmsg_t *err)
{
    char *secret = NULL;
    if (ac_node_settings_get_str(s, key, &secret) != 0 || secret == NULL || secret[0] == '\0') {
        ac_free_secret_str(secret);
        return ac_errmsg_set(err, -AC_ENOENT, "no secret");
    }
    int rc = check_secret(c, secret, code, now, err);
    ac_free_secret_str(secret);
    return rc;
}

int ac_node_twofa_verify(PGconn *c, ac_node_settings_t *s, const char *code, int64_t now, ac_errmsg_t *err)
{
    if (!ac_node_twofa_enabled(s))
        return ac_errmsg_set(err, -AC_ESTATE, "two-factor authentication is not enabled");
    int rc = check(c, s, "auth.totp.secret", code, now, err);
    if (rc == -AC_ENOENT)
        return ac_errmsg_set(err, -AC_ESTATE, "2FA is on but has no secret; set it up again");
    if (rc != 0)
        ac_log_warn("twofa", "code_refused", "reason=%s", err->msg);
    return rc;
}

static int setup_secret(PGconn *c, ac_node_settings_t *s, const char *account, char *secret, char *uri, size_t cap,
                        ac_errmsg_t *err)
{
    int rc;
    if ((rc = ac_policy_totp_new_secret(secret)) != 0)
        return ac_errmsg_set(err, rc, "no random source");
    if ((rc = ac_policy_totp_uri(secret, AC_NODE_TWOFA_ISSUER, account, uri, cap)) != 0 ||
        (rc = ac_node_settings_store_set(c, s, "auth.totp.pending_secret", secret, "string", err)) != 0) {
        explicit_bzero(secret, AC_POLICY_TOTP_SECRET_LEN);
        return rc == -AC_ETOOLONG ? ac_errmsg_set(err, rc, "account name too long") : rc;
    }
    ac_log_info("twofa", "setup_started", "account=%s", account);
    return 0;
}

int ac_node_twofa_setup(PGconn *c, ac_node_settings_t *s, const char *account, const char *code, int64_t now,
                        char *secret, char *uri, size_t cap, ac_errmsg_t *err)
{
    int rc;
    if (ac_node_twofa_enabled(s) && (rc = ac_node_twofa_verify(c, s, code != NULL ? code : "", now, err)) != 0)
        return rc == -AC_EINVAL ? ac_errmsg_set(err, -AC_EPERM, "2FA is on: setting it up again needs a current code")
                                : rc;
    return setup_secret(c, s, account, secret, uri, cap, err);
}

int ac_node_twofa_setup_approved(PGconn *c, ac_node_settings_t *s, const char *account, char *secret, char *uri,
                                 size_t cap, ac_errmsg_t *err)
{
    return setup_secret(c, s, account, secret, uri, cap, err);
}

int ac_node_twofa_confirm(PGconn *c, ac_node_settings_t *s, const char *code, int64_t now, ac_errmsg_t *err)
{
    /* one read of the pending secret: the code is checked against exactly the secret that becomes active */
    char *secret = NULL;
    if (ac_node_settings_get_str(s, "auth.totp.pending_secret", &secret) != 0 || secret == NULL || secret[0] == '\0') {
        ac_free_secret_str(secret);
        return ac_errmsg_set(err, -AC_ENOENT, "no 2FA setup is pending; start one first");
    }
    int rc = check_secret(c, secret, code, now, err);
    if (rc == 0 && (rc = ac_node_settings_store_set(c, s, "auth.totp.secret", secret, "string", err)) == 0 &&
        (rc = ac_node_settings_store_set(c, s, "auth.totp.enabled", "true", "boolean", err)) == 0)
        rc = ac_node_settings_store_set(c, s, "auth.totp.pending_secret", "", "string", err);
    ac_free_secret_str(secret);
    if (rc == 0)
        ac_log_info("twofa", "enabled", "by=%s", "confirmed setup");
    return rc;
}

static int turn_off(PGconn *c, ac_node_settings_t *s, const char *by, ac_errmsg_t *err)
{
    int rc;
    if ((rc = ac_node_settings_store_set(c, s, "auth.totp.enabled", "false", "boolean", err)) == 0 &&
        (rc = ac_node_settings_store_set(c, s, "auth.totp.secret", "", "string", err)) == 0)
        rc = ac_node_settings_store_set(c, s, "auth.totp.pending_secret", "", "string", err);
    if (rc == 0)
        ac_log_info("twofa", "disabled", "by=%s", by);
    return rc;
}

int ac_node_twofa_disable(PGconn *c, ac_node_settings_t *s, const char *code, int64_t now, ac_errmsg_t *err)
{
    int rc = ac_node_twofa_verify(c, s, code, now, err);
    if (rc != 0)
        return rc;
    return turn_off(c, s, "a valid code", err);
}

int ac_node_twofa_disable_approved(PGconn *c, ac_node_settings_t *s, ac_errmsg_t *err)
{
    if (!ac_node_twofa_enabled(s))
        return ac_errmsg_set(err, -AC_ESTATE, "two-factor authentication is not enabled");
    return turn_off(c, s, "an approved challenge", err);
}
