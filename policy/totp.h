/* policy/totp.h - TOTP (RFC 6238) for the second factor: HMAC-SHA1, 6 digits, 30 s steps, the original's secret
 * format (20 random bytes, base32 without padding: 32 characters) and otpauth:// URI. liboath computes the codes.
 *
 * Stronger than the original: a code is accepted in the current step and one step either side (clock drift), and
 * ac_policy_totp_verify tells which step matched, so the caller can refuse a step at or below the last one it
 * accepted (a code is never accepted twice; the compare-and-set across nodes lives with the caller). Pure:
 * the clock is the caller's. Thread-safe. */
#ifndef AC_POLICY_TOTP_H
#define AC_POLICY_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define AC_POLICY_TOTP_SECRET_BYTES 20
#define AC_POLICY_TOTP_SECRET_LEN   32 /* base32 characters of the secret */
#define AC_POLICY_TOTP_STEP_S       30
#define AC_POLICY_TOTP_DIGITS       6

/* Must be called once before the functions below (process start). Returns 0 or -AC_ECRYPTO. */
int ac_policy_totp_init(void);
void ac_policy_totp_done(void);

/* A new secret: 20 random bytes in base32 without padding. OUT: out (AC_POLICY_TOTP_SECRET_LEN + 1 bytes). */
int ac_policy_totp_new_secret(char *out);
/* otpauth://totp/<issuer>:<account>?secret=<secret>&issuer=<issuer> (issuer and account percent-encoded), what
 * authenticator apps scan. Returns 0, or -AC_ETOOLONG when it does not fit in cap. */
int ac_policy_totp_uri(const char *secret, const char *issuer, const char *account, char *out, size_t cap);
/* The code of the step that holds `now` (unix seconds). OUT: out (AC_POLICY_TOTP_DIGITS + 1). -AC_EINVAL for a
 * malformed secret. */
int ac_policy_totp_code(const char *secret, int64_t now, char *out);
/* Checks `code` (exactly 6 digits) against the steps now-30 s, now, now+30 s. Returns 0 and the matching step number
 * (unix seconds / 30) in *step, -AC_EPERM when it matches none, -AC_EINVAL for a malformed code or secret. */
int ac_policy_totp_verify(const char *secret, const char *code, int64_t now, int64_t *step);

#endif
