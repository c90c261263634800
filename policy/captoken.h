/* policy/captoken.h - capability tokens: a set of SkillAPI permissions, bound to a workflow run, with an expiry and
 * a chain-depth caveat, signed with HMAC-SHA256 (reference section 4.3, adapted).
 *
 * The node mints a token for every dynamic-skill call (the skill's declared permissions, the run) and checks it, with
 * the policy engine, before it performs any SkillAPI request the skill makes. skill_invoke attenuates the caller's
 * token to the target's permissions: attenuation only ever removes permissions and only ever tightens caveats.
 *
 *   key = HKDF-SHA256(IKM = SECRET_KEY_BASE, salt = 32 zero bytes, info = "AlexClaw.Auth.CapabilityToken", L = 32)
 *
 *   body (25 bytes, all integers big-endian, signed ones two's complement):
 *     version u8 (1) | perms u32 | run_id i64 | expires_at i64 | max_depth i32
 *   sig  = HMAC-SHA256(key, "AlexClaw.Auth.CapabilityToken" 0x00 | body)        (32 bytes)
 *   text = base64url without padding of body | sig: always AC_POLICY_CAPTOKEN_TEXT_LEN (76) characters
 *
 * Every field has a fixed width, so the encoding is unambiguous; the version byte and the domain string keep it from
 * being confused with any other message signed now or later. Unlike the original, the text form exists: a token can
 * travel over the SafeExecutor's pipe.
 *
 * Results of verify (and attenuate) and what ac_policy_captoken_reason() says for them, the original's messages:
 *     0              valid                                         "valid capability token"
 *     -AC_EPERM      signature mismatch, or a field out of range   "invalid capability token"
 *     -AC_ETIMEDOUT  expires_at set and now_ms >= expires_at       "capability token expired"
 *     -AC_ETOOLONG   max_depth set and chain_depth > max_depth     "token max depth exceeded"
 *     -AC_EINVAL     a programming error: NULL key or output, negative chain depth, malformed caveat arguments
 * After the argument checks, the token checks run in the order of the table (signature first: nothing of a forged
 * token is believed).
 *
 * Field ranges (anything else is invalid): perms within AC_POLICY_PERM_ALL; run_id >= 0 (0 = bound to no run);
 * expires_at >= 0 (unix milliseconds, 0 = never expires); max_depth >= -1 (-1 = no depth caveat).
 *
 * Pure: no state, no allocation; the clock and the chain depth are the caller's. Thread-safe. */
#ifndef AC_POLICY_CAPTOKEN_H
#define AC_POLICY_CAPTOKEN_H

#include "policy/perm.h"

#include <stddef.h>
#include <stdint.h>

#define AC_POLICY_CAPTOKEN_VERSION 1
#define AC_POLICY_CAPTOKEN_KEY_LEN 32
#define AC_POLICY_CAPTOKEN_SIG_LEN 32
/* Length of the signed body and of body + signature, in bytes. */
#define AC_POLICY_CAPTOKEN_BODY_LEN 25
#define AC_POLICY_CAPTOKEN_RAW_LEN  (AC_POLICY_CAPTOKEN_BODY_LEN + AC_POLICY_CAPTOKEN_SIG_LEN)
/* Characters of the text form (57 bytes are 76 base64 characters exactly, no padding), without the NUL. */
#define AC_POLICY_CAPTOKEN_TEXT_LEN 76

/* A token. A plain value type: copy it freely, nothing to free. Build it only with mint, attenuate or decode; change
 * a field and it no longer verifies. Only sig is secret-ish: whoever holds a valid token holds its permissions. */
typedef struct ac_policy_captoken {
    ac_policy_perms_t perms; /* permissions granted */
    int64_t run_id;          /* workflow run the token is bound to, 0 = none */
    int64_t expires_at;      /* unix milliseconds; valid while now < expires_at; 0 = no expiry */
    int max_depth;           /* valid while chain depth <= max_depth; -1 = no depth caveat */
    uint8_t sig[AC_POLICY_CAPTOKEN_SIG_LEN];
} ac_policy_captoken_t;

/* Derives the token key from the len bytes of SECRET_KEY_BASE (see the top of this file).
 * OUT: key receives 32 bytes; the caller keeps it for the node's lifetime and zeroes it when done.
 * Returns 0; -AC_EINVAL when len < 32 (AC_POLICY_CRYPTO_MIN_SECRET_LEN) or an argument is NULL; -AC_ECRYPTO. */
int ac_policy_captoken_key(const char *secret_key_base, size_t len, uint8_t key[AC_POLICY_CAPTOKEN_KEY_LEN]);

/* Mints a token with exactly these fields, signed under key.
 * OUT: *out. Values outside the field ranges above give a token that never verifies (fail closed, never clamped);
 * so does a failure of the HMAC itself (sig is then all zeros, which verify refuses). */
void ac_policy_captoken_mint(const uint8_t key[AC_POLICY_CAPTOKEN_KEY_LEN], ac_policy_perms_t perms, int64_t run_id,
                             int64_t expires_at, int max_depth, ac_policy_captoken_t *out);

/* Checks t's fields, its signature under key (constant-time compare), then its caveats against the caller's clock
 * (now_ms, unix milliseconds) and the current chain depth (0 for a skill called by a workflow step, +1 per
 * skill_invoke). Returns 0 or one of the codes in the table at the top. A NULL t is invalid (-AC_EPERM). */
int ac_policy_captoken_verify(const uint8_t key[AC_POLICY_CAPTOKEN_KEY_LEN], const ac_policy_captoken_t *t,
                              int64_t now_ms, int chain_depth);

/* Returns a static sentence for a result of verify or attenuate (the table at the top); ac_strerror(rc) for any
 * other code. Safe to log and to show. */
const char *ac_policy_captoken_reason(int rc);

/* Returns 1 when t grants every bit of perm (perm non-zero), 0 otherwise (t NULL included). Looks at t->perms only:
 * verify the token first. */
int ac_policy_captoken_grants(const ac_policy_captoken_t *t, ac_policy_perms_t perm);

/* Derives a narrower token from `in`, which is verified first with now_ms and chain_depth (same results as verify;
 * on failure *out is zeroed). Then:
 *     perms      = in->perms & subset            (a superset keeps in->perms: never grows)
 *     expires_at = expires_at == 0 ? in->expires_at : in->expires_at == 0 ? expires_at : the earlier of the two
 *     max_depth  = max_depth == -1 ? in->max_depth : in->max_depth == -1 ? max_depth : the smaller of the two
 *     run_id     = in->run_id
 * and re-signed under key. in and out may be the same token.
 * Returns 0; a verify result; -AC_EINVAL when expires_at < 0, max_depth < -1 or an argument is NULL. */
int ac_policy_captoken_attenuate(const uint8_t key[AC_POLICY_CAPTOKEN_KEY_LEN], const ac_policy_captoken_t *in,
                                 ac_policy_perms_t subset, int64_t expires_at, int max_depth, int64_t now_ms,
                                 int chain_depth, ac_policy_captoken_t *out);

/* Writes t's text form (top of the file): AC_POLICY_CAPTOKEN_TEXT_LEN characters of base64url, then a NUL.
 * Does not check the signature. Returns 0; -AC_EINVAL when a field is out of range (decode would refuse the text) or
 * an argument is NULL; -AC_ETOOLONG when cap < AC_POLICY_CAPTOKEN_TEXT_LEN + 1 (out is then "" when cap > 0). */
int ac_policy_captoken_encode(const ac_policy_captoken_t *t, char *out, size_t cap);

/* Reads a text form of exactly `len` bytes at s (need not be NUL-terminated; never reads past len). Strict: len must
 * be AC_POLICY_CAPTOKEN_TEXT_LEN, every byte in A-Z a-z 0-9 - _, the version byte AC_POLICY_CAPTOKEN_VERSION and
 * every field in range. A decoded token is not trusted: verify it.
 * OUT: *out, zeroed on failure. Returns 0 or -AC_EINVAL for anything malformed (or a NULL argument). */
int ac_policy_captoken_decode(const char *s, size_t len, ac_policy_captoken_t *out);

#endif
