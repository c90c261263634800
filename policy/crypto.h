/* policy/crypto.h - the encrypted-settings format of AlexClaw, byte for byte the one the Elixir original wrote.
 *
 *   key    = HKDF-SHA256(IKM = SECRET_KEY_BASE, salt = 32 zero bytes, info = "AlexClaw.Config.Crypto", L = 32)
 *   stored = "enc:" || base64(IV[12] || AES-256-GCM ciphertext || tag[16])     (empty AAD, fresh random IV)
 *
 * An empty plaintext is stored as "" (never encrypted) and a stored value without the "enc:" prefix is plain text,
 * read as it is. The helpers for constant-time comparison and random bytes live here too so that every secret
 * comparison in the project goes through one audited function. */
#ifndef AC_POLICY_CRYPTO_H
#define AC_POLICY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define AC_POLICY_CRYPTO_KEY_LEN 32
/* SECRET_KEY_BASE shorter than this is refused, as the original did. */
#define AC_POLICY_CRYPTO_MIN_SECRET_LEN 32
#define AC_POLICY_CRYPTO_IV_LEN         12
#define AC_POLICY_CRYPTO_TAG_LEN        16
#define AC_POLICY_CRYPTO_PREFIX         "enc:"
/* Upper bound on a stored value (prefix included) that seal writes and open reads: 1 MiB. */
#define AC_POLICY_CRYPTO_MAX_STORED (1024 * 1024)

/* HKDF `info` strings: one key per purpose, all derived from SECRET_KEY_BASE. */
#define AC_POLICY_CRYPTO_INFO_SETTINGS   "AlexClaw.Config.Crypto"
#define AC_POLICY_CRYPTO_INFO_CAPABILITY "AlexClaw.Auth.CapabilityToken"
#define AC_POLICY_CRYPTO_INFO_AUDIT      "AlexClaw.Auth.AuditChain"

/* RFC 5869 HKDF with SHA-256 (extract then expand).
 * ikm: ikm_len > 0 bytes. salt: NULL or salt_len 0 means the RFC's default, 32 zero bytes. info: NULL is fine when
 * info_len is 0; at most 1024 bytes (OpenSSL's limit). out_len: 1 to 255 * 32.
 * OUT: out receives out_len bytes.
 * Returns 0; -AC_EINVAL for arguments outside these bounds; -AC_ECRYPTO when OpenSSL fails (out is then zeroed). */
int ac_policy_crypto_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                                 const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

/* Derives a 32-byte key from SECRET_KEY_BASE: HKDF-SHA256(IKM = the `len` bytes at secret_key_base,
 * salt = 32 zero bytes, info = the NUL-terminated `info`, L = 32). Use AC_POLICY_CRYPTO_INFO_* for `info`.
 * OUT: out receives the key; the caller zeroes it when done (OPENSSL_cleanse / explicit_bzero).
 * Returns 0; -AC_EINVAL when len < AC_POLICY_CRYPTO_MIN_SECRET_LEN or an argument is NULL; -AC_ECRYPTO. */
int ac_policy_crypto_derive_key(const char *secret_key_base, size_t len, const char *info,
                                uint8_t out[AC_POLICY_CRYPTO_KEY_LEN]);

/* Encrypts the `len` bytes at `plain` under `key` with a fresh random IV.
 * OUT: *out = "enc:" + base64(IV || ciphertext || tag), NUL-terminated, from ac_malloc(); caller frees.
 *      An empty plaintext is not encrypted: *out is a fresh "" (as the original).
 * Returns 0; -AC_EINVAL when plain contains a NUL byte (open would refuse it) or an argument is NULL;
 * -AC_ETOOLONG when the result would exceed AC_POLICY_CRYPTO_MAX_STORED; -AC_ECRYPTO. On failure *out is NULL. */
int ac_policy_crypto_seal(const uint8_t key[AC_POLICY_CRYPTO_KEY_LEN], const char *plain, size_t len, char **out);

/* Reads a stored value of `len` bytes (need not be NUL-terminated).
 * Without the "enc:" prefix the value is plain text and *out is a copy of it, as the original did.
 * With it: base64 that is not canonical -> -AC_EBASE64; fewer than 12 + 16 decoded bytes -> -AC_ECIPHERTEXT; wrong
 * key or any altered byte (tag check fails) -> -AC_EDECRYPT; a plaintext containing a NUL byte -> -AC_ECIPHERTEXT.
 * Values longer than AC_POLICY_CRYPTO_MAX_STORED -> -AC_ETOOLONG; NULL arguments -> -AC_EINVAL; OpenSSL -> -AC_ECRYPTO.
 * OUT: on success *out is the NUL-terminated plaintext from ac_malloc(); the caller frees it, preferably with
 *      ac_free_secret_str(). *outlen (when outlen is not NULL) is its length. On failure *out is NULL, *outlen 0. */
int ac_policy_crypto_open(const uint8_t key[AC_POLICY_CRYPTO_KEY_LEN], const char *stored, size_t len, char **out,
                          size_t *outlen);

/* Returns 1 when the NUL-terminated s starts with "enc:", 0 otherwise (NULL included). */
int ac_policy_crypto_is_sealed(const char *s);

/* Returns 1 when the two byte strings are equal, 0 otherwise. Lengths are compared first (they are not secret);
 * equal-length contents are compared in time that depends on the length only (CRYPTO_memcmp). NULL is fine with a
 * length of 0. */
int ac_policy_crypto_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* HMAC-SHA256 of msg under key, and SHA-256 of msg. OUT: out[32]. Return 0 or -AC_ECRYPTO. */
int ac_policy_crypto_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len, uint8_t out[32]);
int ac_policy_crypto_sha256(const void *msg, size_t msg_len, uint8_t out[32]);

/* Fills n bytes at buf from OpenSSL's CSPRNG. Returns 0, or -AC_ECRYPTO (buf is then zeroed). */
int ac_policy_crypto_random(void *buf, size_t n);

#endif
