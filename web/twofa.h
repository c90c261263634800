/* web/twofa.h - two-factor authentication in the admin UI and the HTTP API: the endpoints under /api/2fa and the
 * gate the other handlers call before an action 2FA guards (SECURITY.md, "The 2FA matrix").
 *
 *   GET  /api/2fa            {"enabled", "pending_setup", "telegram"}: the state, and whether the chat can answer
 *   POST /api/2fa/setup      2FA off: a new pending secret, {"secret", "uri", "qr_png"} (base64 PNG). 2FA on: a
 *                            challenge (re-keying needs a code)
 *   POST /api/2fa/confirm    {"code"}: turns 2FA on with a code of the pending secret
 *   POST /api/2fa/disable    2FA on: a challenge; off: 409
 *   POST /api/2fa/cancel     {"challenge"}: drops it (the person said no; a code typed later approves nothing)
 *   POST /api/2fa/verify     {"challenge", "code"}: approves a challenge and runs exactly its action;
 *                            {"approved": true, "type", "result"}; 403 {"error", "attempts_left"} for a wrong code,
 *                            404 none, 410 expired
 *
 * A guarded request while 2FA is on answers 403 {"error": "2fa_required", "challenge": ID, "description",
 * "telegram": bool}. The challenge is also sent to the Telegram chat when one is configured, and a code typed there
 * approves it as well; the API token's rotation is approved in the admin UI only (its result is the new token).
 * Dynamic skills' loads, reloads and unloads (web/skills.h) are approved here like the node's other actions, with the
 * node's dynamic skills; one that fails once approved answers the loader's sentence with "approved": true. */
#ifndef AC_WEB_TWOFA_H
#define AC_WEB_TWOFA_H

#include "web/call.h"

/* Routes /api/2fa and /api/2fa/...; answers 404 for anything else there. */
void ac_web_twofa_api(ac_web_server_t *s, h2o_req_t *req, const char *path);

/* On a database worker. While 2FA is on: stores a challenge for action, sends the prompt to the chat (when
 * telegram is true and a chat is configured), fills c with the 403 and returns true (the caller is done). While it
 * is off returns false (the caller goes on). Takes action either way. A database error fills c (503) and returns
 * true. */
bool ac_web_twofa_gate(PGconn *db, ac_web_call_t *c, json_t *action, bool telegram);

/* Settings only /api/2fa may change (auth.totp.*). */
bool ac_web_twofa_key_reserved(const char *key);

/* Makes a new API token, stores it (api.token) and fills c with 201 {"token", "note"}. */
void ac_web_twofa_token_rotate(PGconn *db, ac_web_call_t *c);

#endif
