/* policy/crypto_int.h - internals of policy/crypto.c exposed to its tests only.
 *
 * Sealing with a chosen IV makes the output deterministic, which known-answer tests need. Production code must
 * never call it: reusing an IV under one GCM key gives away the plaintexts and the authentication key. */
#ifndef AC_POLICY_CRYPTO_INT_H
#define AC_POLICY_CRYPTO_INT_H

#include "policy/crypto.h"

/* ac_policy_crypto_seal() with the IV given instead of drawn at random. Same contract otherwise. */
int ac_policy_crypto__seal_with_iv(const uint8_t key[AC_POLICY_CRYPTO_KEY_LEN],
                                   const uint8_t iv[AC_POLICY_CRYPTO_IV_LEN], const char *plain, size_t len,
                                   char **out);

#endif
