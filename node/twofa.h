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

#define AC_NODE_TWOFA_ISSUER     "AlexClaw"
#define AC_NODE_TWOFA_LOCK_AFTER 10 /* wrong codes in a row (any path, any node) that lock checks for a while */

bool ac_node_twofa_enabled(ac_node_settings_t *s);
/* Whether changing this setting needs a current code while 2FA is on (SECURITY.md, the 2FA matrix):
 * telegram.chat_id, auth.*, shell.*, api.token, and llm.*, skill.*, github.* and coder.* (where data goes). */
bool ac_node_twofa_key_guarded(const char *key);

/* Starts a setup: a new secret becomes auth.totp.pending_secret (replacing any earlier pending one). While 2FA is on,
 * re-keying needs a valid current code (code; NULL when 2FA is off). OUT: secret (AC_POLICY_TOTP_SECRET_LEN + 1) and
 * the otpauth:// URI (uri, cap) for the QR code. Returns 0, -AC_EPERM (code missing, wrong or replayed), or a
 * database error. */
int ac_node_twofa_setup(PGconn *c, ac_node_settings_t *s, const char *account, const char *code, int64_t now,
                        char *secret, char *uri, size_t cap, ac_errmsg_t *err);
/* The same, for an action a 2FA challenge approved (node/challenge.h): the code was checked there. Only callers that
 * hold such an approval (node/action.c) call it. */
int ac_node_twofa_setup_approved(PGconn *c, ac_node_settings_t *s, const char *account, char *secret, char *uri,
                                 size_t cap, ac_errmsg_t *err);
/* Confirms the pending setup with a code from it: the pending secret becomes auth.totp.secret and 2FA is on.
 * Returns 0, -AC_ENOENT (no setup pending), -AC_EPERM (wrong or replayed code) or a database error. */
int ac_node_twofa_confirm(PGconn *c, ac_node_settings_t *s, const char *code, int64_t now, ac_errmsg_t *err);
/* Turns 2FA off; needs a valid current code. Returns 0, -AC_ESTATE (2FA is off), -AC_EPERM, or a database error. */
int ac_node_twofa_disable(PGconn *c, ac_node_settings_t *s, const char *code, int64_t now, ac_errmsg_t *err);
/* Turns 2FA off for an approved challenge (the code was checked there). -AC_ESTATE when it is off already. */
int ac_node_twofa_disable_approved(PGconn *c, ac_node_settings_t *s, ac_errmsg_t *err);
/* Checks a code against the active secret and, when it matches, takes its step (never accepted again). Wrong and
 * replayed codes are counted across every path and node: AC_NODE_TWOFA_LOCK_AFTER in a row lock every check for
 * 5 minutes (doubling with each further run, at most a day); a valid code resets the count. Returns 0, -AC_ESTATE
 * (2FA is off), -AC_EPERM (wrong, or a step already used), -AC_EINVAL (not 6 digits), -AC_EAGAIN (locked; err says
 * for how long) or a database error. Setup's re-keying check and confirm follow the same rules. */
int ac_node_twofa_verify(PGconn *c, ac_node_settings_t *s, const char *code, int64_t now, ac_errmsg_t *err);

#endif
