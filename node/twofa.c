/* node/twofa.c - the second factor's state of twofa.h. */
#include "node/twofa.h"

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

/* Takes `step` if no node took it or a later one: the compare-and-set on totp_steps. */
static int take_step(PGconn *c, int64_t step, ac_errmsg_t *err)
{
    char st[32];
    snprintf(st, sizeof(st), "%lld", (long long)step);
    const char *p[] = {st};
    PGresult *r = PQexecParams(c,
                               "UPDATE totp_steps SET last_step = $1::bigint, updated_at = now() AT TIME ZONE 'utc' "
                               "WHERE id = 1 AND last_step < $1::bigint",
                               1, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = ac_errmsg_set(err, PQstatus(c) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN, "2FA: %s", PQerrorMessage(c));
    else if (atoi(PQcmdTuples(r)) != 1)
        rc = ac_errmsg_set(err, -AC_EPERM, "that code was used already; wait for the next one");
    PQclear(r);
    return rc;
}

/* Checks code against the secret in setting `key`, then takes its step. */
static int check(PGconn *c, ac_node_settings_t *s, const char *key, const char *code, int64_t now, ac_errmsg_t *err)
{
    char *secret = NULL;
    if (ac_node_settings_get_str(s, key, &secret) != 0 || secret == NULL || secret[0] == '\0') {
        ac_free_secret_str(secret);
        return ac_errmsg_set(err, -AC_ENOENT, "no secret");
    }
    int64_t step = 0;
    int rc = ac_policy_totp_verify(secret, code, now, &step);
    ac_free_secret_str(secret);
    if (rc == -AC_EINVAL)
        return ac_errmsg_set(err, -AC_EINVAL, "a code is 6 digits");
    if (rc != 0)
        return ac_errmsg_set(err, -AC_EPERM, "invalid code");
    return take_step(c, step, err);
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

int ac_node_twofa_setup(PGconn *c, ac_node_settings_t *s, const char *account, const char *code, int64_t now,
                        char *secret, char *uri, size_t cap, ac_errmsg_t *err)
{
    int rc;
    if (ac_node_twofa_enabled(s) && (rc = ac_node_twofa_verify(c, s, code != NULL ? code : "", now, err)) != 0)
        return rc == -AC_EINVAL ? ac_errmsg_set(err, -AC_EPERM, "2FA is on: setting it up again needs a current code")
                                : rc;
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

int ac_node_twofa_confirm(PGconn *c, ac_node_settings_t *s, const char *code, int64_t now, ac_errmsg_t *err)
{
    int rc = check(c, s, "auth.totp.pending_secret", code, now, err);
    if (rc == -AC_ENOENT)
        return ac_errmsg_set(err, -AC_ENOENT, "no 2FA setup is pending; start one first");
    if (rc != 0)
        return rc;
    char *secret = NULL;
    if ((rc = ac_node_settings_get_str(s, "auth.totp.pending_secret", &secret)) != 0)
        return ac_errmsg_set(err, rc, "the pending secret went away");
    if ((rc = ac_node_settings_store_set(c, s, "auth.totp.secret", secret, "string", err)) == 0 &&
        (rc = ac_node_settings_store_set(c, s, "auth.totp.enabled", "true", "boolean", err)) == 0)
        rc = ac_node_settings_store_set(c, s, "auth.totp.pending_secret", "", "string", err);
    ac_free_secret_str(secret);
    if (rc == 0)
        ac_log_info("twofa", "enabled", "by=%s", "confirmed setup");
    return rc;
}

int ac_node_twofa_disable(PGconn *c, ac_node_settings_t *s, const char *code, int64_t now, ac_errmsg_t *err)
{
    int rc = ac_node_twofa_verify(c, s, code, now, err);
    if (rc != 0)
        return rc;
    if ((rc = ac_node_settings_store_set(c, s, "auth.totp.enabled", "false", "boolean", err)) == 0 &&
        (rc = ac_node_settings_store_set(c, s, "auth.totp.secret", "", "string", err)) == 0)
        rc = ac_node_settings_store_set(c, s, "auth.totp.pending_secret", "", "string", err);
    if (rc == 0)
        ac_log_info("twofa", "disabled", "by=%s", "a valid code");
    return rc;
}
