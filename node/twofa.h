/* node/twofa.h - the second factor's state: setup (a pending secret), confirm, disable, and the check of a code,
 * which accepts each 30-second time step at most once across every node sharing the database (table totp_steps,
 * compare-and-set). Secrets live in the sensitive settings auth.totp.pending_secret and auth.totp.secret (encrypted
 * at rest like every secret); auth.totp.enabled says whether 2FA is on. policy/totp.h computes the codes. The
 * Telegram commands and the admin UI's challenges (issue 6) build on this. */
#ifndef AC_NODE_TWOFA_H
#define AC_NODE_TWOFA_H

#include "node/settings.h"
#include "policy/totp.h"

#include <libpq-fe.h>
#include <stdbool.h>

#define AC_NODE_TWOFA_ISSUER "AlexClaw"

bool ac_node_twofa_enabled(ac_node_settings_t *s);

/* Starts a setup: a new secret becomes auth.totp.pending_secret (replacing any earlier pending one). While 2FA is on,
 * re-keying needs a valid current code (code; NULL when 2FA is off). OUT: secret (AC_POLICY_TOTP_SECRET_LEN + 1) and
 * the otpauth:// URI (uri, cap) for the QR code. Returns 0, -AC_EPERM (code missing, wrong or replayed), or a
 * database error. */
int ac_node_twofa_setup(PGconn *c, ac_node_settings_t *s, const char *account, const char *code, int64_t now,
                        char *secret, char *uri, size_t cap, ac_errmsg_t *err);
/* Confirms the pending setup with a code from it: the pending secret becomes auth.totp.secret and 2FA is on.
 * Returns 0, -AC_ENOENT (no setup pending), -AC_EPERM (wrong or replayed code) or a database error. */
int ac_node_twofa_confirm(PGconn *c, ac_node_settings_t *s, const char *code, int64_t now, ac_errmsg_t *err);
/* Turns 2FA off; needs a valid current code. Returns 0, -AC_ESTATE (2FA is off), -AC_EPERM, or a database error. */
int ac_node_twofa_disable(PGconn *c, ac_node_settings_t *s, const char *code, int64_t now, ac_errmsg_t *err);
/* Checks a code against the active secret and, when it matches, takes its step (never accepted again). Returns 0,
 * -AC_ESTATE (2FA is off), -AC_EPERM (wrong, or a step already used), -AC_EINVAL (not 6 digits) or a database
 * error. */
int ac_node_twofa_verify(PGconn *c, ac_node_settings_t *s, const char *code, int64_t now, ac_errmsg_t *err);

#endif
