/* policy/audit.h - the audit log's hash chain: what a row's hash covers, and the marks that pin the chain's two ends.
 * Pure: node/audit.c stores and walks the rows.
 *
 * Each row stores hash = HMAC-SHA256(key, "row" || prev || canonical row), where prev is the hash of the row before
 * it and the canonical row is every column in a fixed, length-prefixed order (id included, so rows cannot be
 * reordered). Stronger than a plain SHA-256 chain: the key is derived from SECRET_KEY_BASE (HKDF, info
 * AC_POLICY_CRYPTO_INFO_AUDIT), so someone who can write to the database but does not hold the secret cannot forge a
 * consistent chain after editing or deleting rows. The chain's first row (after pruning) and its last row are pinned
 * by marks, HMACs over (what, id, hash), so dropping rows at either end is found as well. */
#ifndef AC_POLICY_AUDIT_H
#define AC_POLICY_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#define AC_POLICY_AUDIT_HASH_LEN 32

typedef struct ac_policy_audit_row {
    int64_t id;
    const char *caller, *caller_type, *permission, *decision, *reason; /* reason may be NULL */
    int64_t run_id;                                                    /* 0: none */
    int chain_depth;
    int64_t inserted_at; /* unix seconds */
    int count;           /* identical denials coalesced into the row */
    int64_t last_at;     /* unix seconds of the latest of them */
} ac_policy_audit_row_t;

/* Derives the chain key (HKDF-SHA256 of SECRET_KEY_BASE). Returns 0 or the error of ac_policy_crypto_derive_key. */
int ac_policy_audit_key(const char *secret_key_base, size_t len, uint8_t key[AC_POLICY_AUDIT_HASH_LEN]);
/* The row's hash given the previous row's (all zero before the first row ever). Returns 0 or -AC_ECRYPTO. */
int ac_policy_audit_hash(const uint8_t key[AC_POLICY_AUDIT_HASH_LEN], const uint8_t prev[AC_POLICY_AUDIT_HASH_LEN],
                         const ac_policy_audit_row_t *row, uint8_t out[AC_POLICY_AUDIT_HASH_LEN]);
/* A mark over one end of the chain: what is "first" or "last", id the row's id, hash the value pinned there. */
int ac_policy_audit_mark(const uint8_t key[AC_POLICY_AUDIT_HASH_LEN], const char *what, int64_t id,
                         const uint8_t hash[AC_POLICY_AUDIT_HASH_LEN], uint8_t out[AC_POLICY_AUDIT_HASH_LEN]);

#endif
