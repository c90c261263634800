/* policy/b64.h - standard base64 (RFC 4648 section 4): alphabet A-Z a-z 0-9 + /, '=' padding.
 *
 * The decoder is strict, because every value it reads was written by an encoder (ours or the original Elixir
 * AlexClaw's Base.encode64): one canonical spelling per byte string, anything else is an error. */
#ifndef AC_POLICY_B64_H
#define AC_POLICY_B64_H

#include <stddef.h>
#include <stdint.h>

/* Returns the number of characters ac_policy_b64_encode() writes for n input bytes, without the NUL:
 * 4 * ceil(n / 3). n must not exceed SIZE_MAX / 4 * 3 (the result would not fit a size_t). */
size_t ac_policy_b64_encoded_len(size_t n);

/* Encodes n bytes at `in` (NULL is fine when n is 0) with '=' padding.
 * OUT: out receives ac_policy_b64_encoded_len(n) characters and a NUL; the caller provides that many plus one. */
void ac_policy_b64_encode(const uint8_t *in, size_t n, char *out);

/* Returns an upper bound of the bytes ac_policy_b64_decode() writes for `len` input characters (3 per 4 characters,
 * before padding is taken off). A buffer of this size never fails with -AC_ETOOLONG. */
size_t ac_policy_b64_decoded_max(size_t len);

/* Decodes `len` characters at `in` (need not be NUL-terminated; NULL is fine when len is 0).
 * Accepts only the canonical encoding: len a multiple of 4; only alphabet characters, then 0, 1 or 2 '=' at the very
 * end; no whitespace; the unused low bits of the last character before the padding all zero.
 * Returns 0 and sets *outlen (when outlen is not NULL) to the number of bytes written at `out`;
 * -AC_EBASE64 when the input is malformed; -AC_ETOOLONG when it is well-formed but decodes to more than `cap` bytes.
 * The whole input is checked before anything is written: on failure `out` is untouched and *outlen is 0. */
int ac_policy_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);

#endif
