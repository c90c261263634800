/* node/challenge.h - 2FA challenges: an action a person asked for, stored until a TOTP code approves it.
 *
 * A challenge lives in table twofa_challenges, so a code typed on any node (the Telegram poller's, or the admin UI of
 * another) approves it. One pending challenge per scope ("telegram:<chat id>", or "web" when no chat is configured):
 * a new one replaces it. It expires AC_NODE_CHALLENGE_TTL_S seconds after it was made and dies after
 * AC_NODE_CHALLENGE_ATTEMPTS wrong codes. Resolving it returns exactly the action stored with it, and deletes it in
 * the same transaction that took the code's time step, so an approval runs one action, once. */
#ifndef AC_NODE_CHALLENGE_H
#define AC_NODE_CHALLENGE_H

#include "node/settings.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#define AC_NODE_CHALLENGE_TTL_S     120
#define AC_NODE_CHALLENGE_ATTEMPTS  5
#define AC_NODE_CHALLENGE_ID_MAX    32   /* 16 random bytes as base64url (22) + NUL, rounded up */
#define AC_NODE_CHALLENGE_DESC_MAX  1100 /* a shell command (up to 1000 bytes) is shown whole */
#define AC_NODE_CHALLENGE_SCOPE_MAX 96

/* What the person is asked: "This action requires 2FA verification.\n<description>\n\nEnter your 6-digit
 * authenticator code:". From ac_malloc. */
char *ac_node_challenge_prompt(const char *description);
/* The same, saying that it replaces the request described by `replaced` (NULL: none). */
char *ac_node_challenge_prompt_replacing(const char *description, const char *replaced);

/* The scope of a chat: "telegram:<chat id>". */
void ac_node_challenge_scope_telegram(const char *chat_id, char *out, size_t cap);

/* Stores a challenge for `scope` (replacing any there) with the action (a JSON object, at most 1 MiB encoded) and a
 * description for the person (cut to AC_NODE_CHALLENGE_DESC_MAX bytes). now: unix seconds. OUT: id. */
int ac_node_challenge_create(PGconn *c, const char *scope, const json_t *action, const char *description, int64_t now,
                             char id[AC_NODE_CHALLENGE_ID_MAX], ac_errmsg_t *err);
/* The same, for a request the owner did not make (a skill's, the coder's): never replaces a challenge that has not
 * expired. -AC_EAGAIN ("busy: ...") when one waits; the check and the insert are one statement. */
int ac_node_challenge_create_if_free(PGconn *c, const char *scope, const json_t *action, const char *description,
                                     int64_t now, char id[AC_NODE_CHALLENGE_ID_MAX], ac_errmsg_t *err);

/* Whether a live challenge (not expired) waits in scope. */
int ac_node_challenge_pending(PGconn *c, const char *scope, int64_t now, bool *pending, ac_errmsg_t *err);

/* Resolves the challenge named by id (when id is not NULL; then scope may be NULL) or the one of scope, with a code.
 * Returns:
 *   0             the code is valid: the challenge is gone, *action (new reference) is what it approved
 *   -AC_ENOENT    no such challenge
 *   -AC_ETIMEDOUT it expired (it is gone)
 *   -AC_EPERM     wrong, malformed or replayed code; *attempts_left says how many tries remain (0: it is gone)
 *   -AC_ESTATE    2FA is off (the challenge is left alone)
 *   -AC_EAGAIN    code checks are locked after too many wrong codes (node/twofa.h); err says for how long; the
 *                 challenge is left alone
 *   a database error */
int ac_node_challenge_resolve(PGconn *c, ac_node_settings_t *s, const char *scope, const char *id, const char *code,
                              int64_t now, json_t **action, int *attempts_left, ac_errmsg_t *err);

/* The description of the live challenge of scope, if one waits (before a new one replaces it: the person is told).
 * OUT: *desc from ac_malloc, or NULL. */
int ac_node_challenge_live_description(PGconn *c, const char *scope, int64_t now, char **desc, ac_errmsg_t *err);

/* Drops the challenge of scope, if any. */
int ac_node_challenge_cancel(PGconn *c, const char *scope, ac_errmsg_t *err);
/* Drops the challenge with this id, if any (the person said no). */
int ac_node_challenge_cancel_id(PGconn *c, const char *id, ac_errmsg_t *err);

#endif
