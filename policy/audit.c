/* policy/audit.c - the audit chain's hashes (audit.h). */
#include "policy/audit.h"

#include "policy/alloc.h"
#include "policy/crypto.h"
#include "policy/error.h"

#include <stdlib.h>
#include <string.h>

int ac_policy_audit_key(const char *secret_key_base, size_t len, uint8_t key[AC_POLICY_AUDIT_HASH_LEN])
{
    return ac_policy_crypto_derive_key(secret_key_base, len, AC_POLICY_CRYPTO_INFO_AUDIT, key);
}

/* The canonical bytes: a tag, then fields, each an 8-byte big-endian integer or a 4-byte length and the bytes (NULL:
 * length 0xffffffff and nothing). */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf_t;

static void put(buf_t *b, const void *s, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = ac_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void put_int(buf_t *b, int64_t v)
{
    uint8_t x[8];
    for (int i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
        x[i] = (uint8_t)(v & 0xff);
    put(b, x, 8);
}

static void put_str(buf_t *b, const char *s)
{
    uint32_t n = s == NULL ? 0xffffffffu : (uint32_t)strlen(s);
    uint8_t x[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    put(b, x, 4);
    if (s != NULL)
        put(b, s, strlen(s));
}

static int mac(const uint8_t key[AC_POLICY_AUDIT_HASH_LEN], buf_t *b, uint8_t out[AC_POLICY_AUDIT_HASH_LEN])
{
    int rc = ac_policy_crypto_hmac_sha256(key, AC_POLICY_AUDIT_HASH_LEN, b->p, b->n, out);
    free(b->p);
    if (rc != 0) {
        memset(out, 0, AC_POLICY_AUDIT_HASH_LEN);
        return -AC_ECRYPTO;
    }
    return 0;
}

int ac_policy_audit_hash(const uint8_t key[AC_POLICY_AUDIT_HASH_LEN], const uint8_t prev[AC_POLICY_AUDIT_HASH_LEN],
                         const ac_policy_audit_row_t *r, uint8_t out[AC_POLICY_AUDIT_HASH_LEN])
{
    buf_t b = {0};
    put(&b, "row", 4);
    put(&b, prev, AC_POLICY_AUDIT_HASH_LEN);
    put_int(&b, r->id);
    put_str(&b, r->caller);
    put_str(&b, r->caller_type);
    put_str(&b, r->permission);
    put_str(&b, r->decision);
    put_str(&b, r->reason);
    put_int(&b, r->run_id);
    put_int(&b, r->chain_depth);
    put_int(&b, r->inserted_at);
    put_int(&b, r->count);
    put_int(&b, r->last_at);
    return mac(key, &b, out);
}

int ac_policy_audit_mark(const uint8_t key[AC_POLICY_AUDIT_HASH_LEN], const char *what, int64_t id,
                         const uint8_t hash[AC_POLICY_AUDIT_HASH_LEN], uint8_t out[AC_POLICY_AUDIT_HASH_LEN])
{
    buf_t b = {0};
    put(&b, "mark", 5);
    put_str(&b, what);
    put_int(&b, id);
    put(&b, hash, AC_POLICY_AUDIT_HASH_LEN);
    return mac(key, &b, out);
}
