/* policy/captoken.c - capability tokens of captoken.h: the canonical body, its HMAC-SHA256, the caveat checks,
 * attenuation and the base64url text form.
 *
 * One function (body) turns the fields into the bytes that are signed and sent, and one (parse_body) turns bytes
 * back into fields, so the signed form and the wire form cannot drift apart. The HMAC and the constant-time compare
 * are policy/crypto.c's; base64 is policy/b64.c's strict decoder, with the two URL-safe characters swapped in and
 * out around it. */
#include "policy/captoken.h"

#include "policy/b64.h"
#include "policy/crypto.h"
#include "policy/error.h"

#include <limits.h>
#include <string.h>

_Static_assert(INT_MAX == INT32_MAX && INT_MIN == INT32_MIN, "max_depth travels as a 32-bit integer");
_Static_assert(AC_POLICY_CAPTOKEN_KEY_LEN == AC_POLICY_CRYPTO_KEY_LEN, "one key length");
_Static_assert(AC_POLICY_CAPTOKEN_RAW_LEN % 3 == 0 && AC_POLICY_CAPTOKEN_RAW_LEN / 3 * 4 == AC_POLICY_CAPTOKEN_TEXT_LEN,
               "the text form has no padding");

/* Prefixed to the body in the HMAC input, NUL included, so these bytes mean a capability token and nothing else. */
static const char domain[] = "AlexClaw.Auth.CapabilityToken";

/* Field offsets in the body. */
enum { OFF_VERSION = 0, OFF_PERMS = 1, OFF_RUN_ID = 5, OFF_EXPIRES = 13, OFF_DEPTH = 21 };

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

/* Two's complement back to a signed value without implementation-defined conversions. */
static int64_t to_i64(uint64_t v)
{
    return v <= INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1;
}

static int32_t to_i32(uint32_t v)
{
    return v <= INT32_MAX ? (int32_t)v : -(int32_t)(~v) - 1;
}

/* The field ranges of captoken.h. */
static int in_range(ac_policy_perms_t perms, int64_t run_id, int64_t expires_at, int max_depth)
{
    return (perms & ~AC_POLICY_PERM_ALL) == 0 && run_id >= 0 && expires_at >= 0 && max_depth >= -1;
}

static void body(const ac_policy_captoken_t *t, uint8_t out[AC_POLICY_CAPTOKEN_BODY_LEN])
{
    out[OFF_VERSION] = AC_POLICY_CAPTOKEN_VERSION;
    put_u32(out + OFF_PERMS, t->perms);
    put_u64(out + OFF_RUN_ID, (uint64_t)t->run_id);
    put_u64(out + OFF_EXPIRES, (uint64_t)t->expires_at);
    put_u32(out + OFF_DEPTH, (uint32_t)t->max_depth);
}

/* Fills *t's fields from a body. Returns 0, or -AC_EINVAL for another version or a field out of range. */
static int parse_body(const uint8_t in[AC_POLICY_CAPTOKEN_BODY_LEN], ac_policy_captoken_t *t)
{
    if (in[OFF_VERSION] != AC_POLICY_CAPTOKEN_VERSION)
        return -AC_EINVAL;
    t->perms = get_u32(in + OFF_PERMS);
    t->run_id = to_i64(get_u64(in + OFF_RUN_ID));
    t->expires_at = to_i64(get_u64(in + OFF_EXPIRES));
    t->max_depth = to_i32(get_u32(in + OFF_DEPTH));
    return in_range(t->perms, t->run_id, t->expires_at, t->max_depth) ? 0 : -AC_EINVAL;
}

/* HMAC-SHA256(key, domain NUL body). Returns 0 or -AC_ECRYPTO. */
static int sign(const uint8_t key[AC_POLICY_CAPTOKEN_KEY_LEN], const ac_policy_captoken_t *t,
                uint8_t sig[AC_POLICY_CAPTOKEN_SIG_LEN])
{
    uint8_t msg[sizeof(domain) + AC_POLICY_CAPTOKEN_BODY_LEN];
    memcpy(msg, domain, sizeof(domain));
    body(t, msg + sizeof(domain));
    return ac_policy_crypto_hmac_sha256(key, AC_POLICY_CAPTOKEN_KEY_LEN, msg, sizeof(msg), sig);
}

int ac_policy_captoken_key(const char *secret_key_base, size_t len, uint8_t key[AC_POLICY_CAPTOKEN_KEY_LEN])
{
    return ac_policy_crypto_derive_key(secret_key_base, len, AC_POLICY_CRYPTO_INFO_CAPABILITY, key);
}

void ac_policy_captoken_mint(const uint8_t key[AC_POLICY_CAPTOKEN_KEY_LEN], ac_policy_perms_t perms, int64_t run_id,
                             int64_t expires_at, int max_depth, ac_policy_captoken_t *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    out->perms = perms;
    out->run_id = run_id;
    out->expires_at = expires_at;
    out->max_depth = max_depth;
    /* a failed HMAC leaves the all-zero signature, which verify refuses */
    if (key == NULL || sign(key, out, out->sig) != 0)
        memset(out->sig, 0, sizeof(out->sig));
}

int ac_policy_captoken_verify(const uint8_t key[AC_POLICY_CAPTOKEN_KEY_LEN], const ac_policy_captoken_t *t,
                              int64_t now_ms, int chain_depth)
{
    static const uint8_t zero[AC_POLICY_CAPTOKEN_SIG_LEN];
    uint8_t want[AC_POLICY_CAPTOKEN_SIG_LEN];

    if (key == NULL || chain_depth < 0)
        return -AC_EINVAL;
    if (t == NULL || !in_range(t->perms, t->run_id, t->expires_at, t->max_depth))
        return -AC_EPERM;
    if (sign(key, t, want) != 0 || !ac_policy_crypto_ct_equal(want, sizeof(want), t->sig, sizeof(t->sig)) ||
        ac_policy_crypto_ct_equal(zero, sizeof(zero), t->sig, sizeof(t->sig)))
        return -AC_EPERM;
    if (t->expires_at != 0 && now_ms >= t->expires_at)
        return -AC_ETIMEDOUT;
    if (t->max_depth != -1 && chain_depth > t->max_depth)
        return -AC_ETOOLONG;
    return 0;
}

const char *ac_policy_captoken_reason(int rc)
{
    switch (rc) {
    case 0: return "valid capability token";
    case -AC_EPERM: return "invalid capability token";
    case -AC_ETIMEDOUT: return "capability token expired";
    case -AC_ETOOLONG: return "token max depth exceeded";
    default: return ac_strerror(rc);
    }
}

int ac_policy_captoken_grants(const ac_policy_captoken_t *t, ac_policy_perms_t perm)
{
    return t != NULL && perm != 0 && (t->perms & perm) == perm;
}

int ac_policy_captoken_attenuate(const uint8_t key[AC_POLICY_CAPTOKEN_KEY_LEN], const ac_policy_captoken_t *in,
                                 ac_policy_perms_t subset, int64_t expires_at, int max_depth, int64_t now_ms,
                                 int chain_depth, ac_policy_captoken_t *out)
{
    if (out == NULL)
        return -AC_EINVAL;
    if (expires_at < 0 || max_depth < -1) {
        memset(out, 0, sizeof(*out));
        return -AC_EINVAL;
    }
    int rc = ac_policy_captoken_verify(key, in, now_ms, chain_depth);
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }

    ac_policy_captoken_t t = *in; /* in may be out */
    t.perms &= subset;
    if (expires_at != 0 && (t.expires_at == 0 || expires_at < t.expires_at))
        t.expires_at = expires_at;
    if (max_depth != -1 && (t.max_depth == -1 || max_depth < t.max_depth))
        t.max_depth = max_depth;
    ac_policy_captoken_mint(key, t.perms, t.run_id, t.expires_at, t.max_depth, out);
    return 0;
}

int ac_policy_captoken_encode(const ac_policy_captoken_t *t, char *out, size_t cap)
{
    uint8_t raw[AC_POLICY_CAPTOKEN_RAW_LEN];

    if (out == NULL)
        return -AC_EINVAL;
    if (cap < AC_POLICY_CAPTOKEN_TEXT_LEN + 1) {
        if (cap > 0)
            out[0] = '\0';
        return -AC_ETOOLONG;
    }
    if (t == NULL || !in_range(t->perms, t->run_id, t->expires_at, t->max_depth)) {
        out[0] = '\0';
        return -AC_EINVAL;
    }
    body(t, raw);
    memcpy(raw + AC_POLICY_CAPTOKEN_BODY_LEN, t->sig, AC_POLICY_CAPTOKEN_SIG_LEN);
    ac_policy_b64_encode(raw, sizeof(raw), out); /* 76 characters and a NUL, no padding (static assert above) */
    for (size_t i = 0; i < AC_POLICY_CAPTOKEN_TEXT_LEN; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return 0;
}

int ac_policy_captoken_decode(const char *s, size_t len, ac_policy_captoken_t *out)
{
    char std[AC_POLICY_CAPTOKEN_TEXT_LEN];
    uint8_t raw[AC_POLICY_CAPTOKEN_RAW_LEN];
    size_t n = 0;

    if (out == NULL)
        return -AC_EINVAL;
    memset(out, 0, sizeof(*out));
    if (s == NULL || len != AC_POLICY_CAPTOKEN_TEXT_LEN)
        return -AC_EINVAL;
    /* Map base64url to standard base64 for the strict decoder, refusing the standard alphabet's own '+', '/' and
     * the padding '=' so that every token has exactly one spelling. */
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+' || c == '/' || c == '=')
            return -AC_EINVAL;
        std[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    if (ac_policy_b64_decode(std, sizeof(std), raw, sizeof(raw), &n) != 0 || n != sizeof(raw))
        return -AC_EINVAL;
    ac_policy_captoken_t t;
    memset(&t, 0, sizeof(t));
    if (parse_body(raw, &t) != 0)
        return -AC_EINVAL;
    memcpy(t.sig, raw + AC_POLICY_CAPTOKEN_BODY_LEN, AC_POLICY_CAPTOKEN_SIG_LEN);
    *out = t;
    return 0;
}
