/* web/session.h - admin sessions, kept server-side, and the login form's CSRF binding.
 *
 * A session id is 32 random bytes (base64url, 43 characters) given to the browser in an HttpOnly cookie; the server
 * keeps only its SHA-256, with the session's CSRF token (32 random bytes) and its creation time. A session lives
 * AC_WEB_SESSION_LIFETIME_S from login (absolute, not sliding); logout destroys it, so a copied cookie stops working.
 * Sessions live in memory: a restart logs everyone out. At most AC_WEB_SESSION_MAX exist; a new login beyond that
 * ends the oldest.
 *
 * Before login there is no session: GET /login gives the browser a random pre-session cookie, and the form's hidden
 * token is HMAC-SHA256(key, pre-session id) with a key random per process. POST /login must bring both and they must
 * match (constant time). Thread-safe. */
#ifndef AC_WEB_SESSION_H
#define AC_WEB_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AC_WEB_SESSION_LIFETIME_S (8 * 3600)
#define AC_WEB_SESSION_MAX        64
#define AC_WEB_TOKEN_LEN          43 /* base64url of 32 bytes, without padding */

typedef struct ac_web_sessions ac_web_sessions_t;

/* lifetime_s <= 0: AC_WEB_SESSION_LIFETIME_S. NULL when the random source fails. */
ac_web_sessions_t *ac_web_sessions_new(int64_t lifetime_s);
int64_t ac_web_sessions_lifetime(const ac_web_sessions_t *s);
void ac_web_sessions_free(ac_web_sessions_t *s);

/* A new session. OUT: id and csrf (AC_WEB_TOKEN_LEN + 1 bytes each). Returns 0 or -AC_ECRYPTO. */
int ac_web_session_create(ac_web_sessions_t *s, int64_t now, char *id, char *csrf);
/* The live session with this id: 0 and its CSRF token (csrf may be NULL) and creation time (may be NULL), or
 * -AC_ENOENT (unknown, expired, malformed). */
int ac_web_session_find(ac_web_sessions_t *s, const char *id, int64_t now, char *csrf, int64_t *created);
/* Ends the session (no error when unknown). */
void ac_web_session_destroy(ac_web_sessions_t *s, const char *id);
int ac_web_session_count(ac_web_sessions_t *s);

/* A random token (pre-session ids). OUT: out (AC_WEB_TOKEN_LEN + 1). */
int ac_web_token_new(char *out);
/* The login form's token for a pre-session id. OUT: out (AC_WEB_TOKEN_LEN + 1). Returns 0 or -AC_ECRYPTO. */
int ac_web_login_csrf(ac_web_sessions_t *s, const char *pre, char *out);
/* True when token is the login form's token for pre (constant time). */
bool ac_web_login_csrf_ok(ac_web_sessions_t *s, const char *pre, const char *token);
/* True for a token of our shape (43 base64url characters). */
bool ac_web_token_well_formed(const char *t);
/* Constant-time equality of two NUL-terminated tokens. */
bool ac_web_token_equal(const char *a, const char *b);

#endif
