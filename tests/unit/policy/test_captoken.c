/* tests/unit/policy/test_captoken.c - capability tokens: the key (known answer from `openssl kdf`), the signed
 * encoding (known answer from `openssl dgst -mac HMAC` and `basenc --base64url`), tampering with every field, another
 * key, the expiry and depth boundaries, attenuation that only shrinks and only tightens, and the text form against
 * hostile input. */
#include "policy/captoken.h"
#include "policy/error.h"
#include "policy/perm.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* 66 bytes */
#define SKB "AlexClaw test SECRET_KEY_BASE, 64 bytes long: 0123456789abcdefghij"

/* openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt key:"$SKB" -kdfopt salt: \
 *     -kdfopt info:AlexClaw.Auth.CapabilityToken HKDF
 * (the same with hexsalt: of 32 zero bytes, and Python's hmac module by hand, agree) */
static const uint8_t skb_key[32] = {0x0c, 0x79, 0x64, 0x5b, 0x22, 0x1e, 0x36, 0x9a, 0x82, 0x1e, 0xed,
                                    0xa3, 0x0c, 0x5a, 0x94, 0xca, 0x84, 0xb2, 0xc1, 0xb9, 0x8b, 0x6c,
                                    0xe6, 0x2d, 0x9b, 0x68, 0x9a, 0x10, 0x5c, 0x21, 0xc0, 0x2b};

/* perms llm|web_read, run 42, expires 1700000000000, max depth 2 under skb_key:
 *   body = 01 00000081 000000000000002a 0000018bcfe56800 00000002
 *   sig  = printf 'AlexClaw.Auth.CapabilityToken\0' + body | openssl dgst -sha256 -mac HMAC -macopt hexkey:<key>
 *   text = body + sig | basenc --base64url -w0 */
static const uint8_t kat_sig[32] = {0xd2, 0x27, 0x81, 0xa0, 0x08, 0x13, 0xd4, 0x31, 0xdd, 0x4c, 0x07,
                                    0x92, 0x43, 0xd7, 0x5d, 0x80, 0xc4, 0x7d, 0xc6, 0x71, 0xa5, 0xbd,
                                    0xe1, 0x3e, 0x3e, 0x4e, 0x77, 0x80, 0x68, 0xb8, 0xd0, 0xc4};
#define KAT_TEXT "AQAAAIEAAAAAAAAAKgAAAYvP5WgAAAAAAtIngaAIE9Qx3UwHkkPXXYDEfcZxpb3hPj5Od4BouNDE"
/* perms all, run 0, no expiry, no depth caveat (max_depth -1 = ffffffff) under skb_key */
#define KAT_TEXT_NOCAV "AQAAP_8AAAAAAAAAAAAAAAAAAAAA_____3cuaguwnJ1dgrrtS3u-cfcsv8-zUZ-5E35QZ0FW3K7D"

#define NOW   INT64_C(1700000000000)
#define LATER (NOW + 60000)

static const uint8_t other_key[32] = {1, 2, 3};

static ac_policy_captoken_t mint(ac_policy_perms_t perms, int64_t run, int64_t exp, int depth)
{
    ac_policy_captoken_t t;
    ac_policy_captoken_mint(skb_key, perms, run, exp, depth, &t);
    return t;
}

static void the_key_is_hkdf_of_secret_key_base_with_the_token_info(void **state)
{
    (void)state;
    uint8_t key[32];
    assert_int_equal(ac_policy_captoken_key(SKB, strlen(SKB), key), 0);
    assert_memory_equal(key, skb_key, 32);

    /* 32 bytes is the minimum */
    assert_int_equal(ac_policy_captoken_key(SKB, 32, key), 0);
    assert_memory_not_equal(key, skb_key, 32);
    assert_int_equal(ac_policy_captoken_key(SKB, 31, key), -AC_EINVAL);
    assert_int_equal(ac_policy_captoken_key(NULL, 40, key), -AC_EINVAL);
}

static void the_signature_and_text_match_the_independent_computation(void **state)
{
    (void)state;
    ac_policy_captoken_t t = mint(AC_POLICY_PERM_LLM | AC_POLICY_PERM_WEB_READ, 42, NOW, 2);
    assert_memory_equal(t.sig, kat_sig, 32);
    char text[AC_POLICY_CAPTOKEN_TEXT_LEN + 1];
    assert_int_equal(ac_policy_captoken_encode(&t, text, sizeof(text)), 0);
    assert_string_equal(text, KAT_TEXT);

    t = mint(AC_POLICY_PERM_ALL, 0, 0, -1);
    assert_int_equal(ac_policy_captoken_encode(&t, text, sizeof(text)), 0);
    assert_string_equal(text, KAT_TEXT_NOCAV);
}

static void a_minted_token_verifies_and_grants_its_permissions(void **state)
{
    (void)state;
    ac_policy_captoken_t t = mint(AC_POLICY_PERM_LLM | AC_POLICY_PERM_WEB_READ, 42, LATER, 3);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), 0);
    assert_string_equal(ac_policy_captoken_reason(0), "valid capability token");
    assert_int_equal(t.run_id, 42);
    assert_true(ac_policy_captoken_grants(&t, AC_POLICY_PERM_LLM));
    assert_true(ac_policy_captoken_grants(&t, AC_POLICY_PERM_WEB_READ));
    assert_true(ac_policy_captoken_grants(&t, AC_POLICY_PERM_LLM | AC_POLICY_PERM_WEB_READ));
    assert_false(ac_policy_captoken_grants(&t, AC_POLICY_PERM_MEMORY_WRITE));
    assert_false(ac_policy_captoken_grants(&t, AC_POLICY_PERM_LLM | AC_POLICY_PERM_MEMORY_WRITE));
    assert_false(ac_policy_captoken_grants(&t, 0));
    assert_false(ac_policy_captoken_grants(NULL, AC_POLICY_PERM_LLM));
}

static void a_token_without_caveats_never_expires_and_has_no_depth_limit(void **state)
{
    (void)state;
    ac_policy_captoken_t t = mint(AC_POLICY_PERM_MEMORY_READ, 0, 0, -1);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, 0, 0), 0);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, INT64_MAX, 0), 0);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 1000000), 0);
    ac_policy_captoken_t none = mint(0, 7, 0, -1); /* the empty set is a valid token that grants nothing */
    assert_int_equal(ac_policy_captoken_verify(skb_key, &none, NOW, 0), 0);
    assert_false(ac_policy_captoken_grants(&none, AC_POLICY_PERM_LLM));
}

static void tampering_with_any_field_makes_it_invalid(void **state)
{
    (void)state;
    const ac_policy_captoken_t good = mint(AC_POLICY_PERM_LLM | AC_POLICY_PERM_WEB_READ, 42, LATER, 2);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &good, NOW, 0), 0);

    for (int bit = 0; bit < 32; bit++) { /* every perms bit, granted or not, known or not */
        ac_policy_captoken_t t = good;
        t.perms ^= (ac_policy_perms_t)1 << bit;
        assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
    }
    ac_policy_captoken_t t = good;
    t.run_id = 43;
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
    t = good;
    t.run_id = 0; /* unbinding from the run */
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
    t = good;
    t.expires_at = LATER + 1;
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
    t = good;
    t.expires_at = 0; /* dropping the caveat */
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
    t = good;
    t.max_depth = 3;
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
    t = good;
    t.max_depth = -1;
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
    for (size_t i = 0; i < sizeof(good.sig); i++) {
        t = good;
        t.sig[i] ^= 0x01;
        assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
    }
    t = good;
    memset(t.sig, 0, sizeof(t.sig));
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
    assert_string_equal(ac_policy_captoken_reason(-AC_EPERM), "invalid capability token");
}

static void a_token_minted_with_another_key_is_invalid(void **state)
{
    (void)state;
    ac_policy_captoken_t t;
    ac_policy_captoken_mint(other_key, AC_POLICY_PERM_LLM, 42, 0, -1, &t);
    assert_int_equal(ac_policy_captoken_verify(other_key, &t, NOW, 0), 0);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
}

static void fields_out_of_range_are_invalid_even_when_signed(void **state)
{
    (void)state;
    ac_policy_captoken_t t = mint(AC_POLICY_PERM_ALL + 1, 1, 0, -1);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
    t = mint(AC_POLICY_PERM_LLM, -1, 0, -1);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
    t = mint(AC_POLICY_PERM_LLM, 1, -1, -1);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
    t = mint(AC_POLICY_PERM_LLM, 1, 0, -2);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_EPERM);
    assert_int_equal(ac_policy_captoken_verify(skb_key, NULL, NOW, 0), -AC_EPERM);

    t = mint(AC_POLICY_PERM_LLM, 1, 0, -1);
    assert_int_equal(ac_policy_captoken_verify(NULL, &t, NOW, 0), -AC_EINVAL);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, -1), -AC_EINVAL);
}

static void expiry_is_exclusive(void **state)
{
    (void)state;
    ac_policy_captoken_t t = mint(AC_POLICY_PERM_LLM, 42, NOW, -1);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW - 1, 0), 0);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), -AC_ETIMEDOUT);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW + 1, 0), -AC_ETIMEDOUT);
    assert_string_equal(ac_policy_captoken_reason(-AC_ETIMEDOUT), "capability token expired");
    /* a forged token is invalid, not expired: the signature is checked first */
    t.sig[0] ^= 1;
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW + 1, 0), -AC_EPERM);
}

static void depth_is_inclusive(void **state)
{
    (void)state;
    ac_policy_captoken_t t = mint(AC_POLICY_PERM_SKILL_INVOKE, 42, 0, 2);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), 0);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 2), 0);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 3), -AC_ETOOLONG);
    assert_string_equal(ac_policy_captoken_reason(-AC_ETOOLONG), "token max depth exceeded");
    t = mint(AC_POLICY_PERM_SKILL_INVOKE, 42, 0, 0);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), 0);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 1), -AC_ETOOLONG);
    /* expiry is checked before depth, as the original's caveat order */
    t = mint(AC_POLICY_PERM_SKILL_INVOKE, 42, NOW, 0);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 1), -AC_ETIMEDOUT);
}

static void attenuation_only_shrinks_permissions(void **state)
{
    (void)state;
    const ac_policy_perms_t base = AC_POLICY_PERM_LLM | AC_POLICY_PERM_WEB_READ | AC_POLICY_PERM_SKILL_INVOKE;
    ac_policy_captoken_t in = mint(base, 42, 0, -1), out;

    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &in, AC_POLICY_PERM_WEB_READ, 0, -1, NOW, 1, &out), 0);
    assert_int_equal(out.perms, AC_POLICY_PERM_WEB_READ);
    assert_int_equal(out.run_id, 42);
    assert_int_equal(out.expires_at, 0);
    assert_int_equal(out.max_depth, -1);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &out, NOW, 1), 0);
    assert_false(ac_policy_captoken_grants(&out, AC_POLICY_PERM_LLM));

    /* a superset keeps the original set */
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &in, AC_POLICY_PERM_ALL, 0, -1, NOW, 0, &out), 0);
    assert_int_equal(out.perms, base);
    assert_false(ac_policy_captoken_grants(&out, AC_POLICY_PERM_SKILL_MANAGE));

    /* disjoint: the empty set */
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &in, AC_POLICY_PERM_MEMORY_WRITE, 0, -1, NOW, 0, &out), 0);
    assert_int_equal(out.perms, 0);

    /* in place, twice: it never grows back */
    ac_policy_captoken_t t = in;
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &t, AC_POLICY_PERM_LLM, 0, -1, NOW, 0, &t), 0);
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &t, base, 0, -1, NOW, 0, &t), 0);
    assert_int_equal(t.perms, AC_POLICY_PERM_LLM);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW, 0), 0);
}

static void attenuation_only_tightens_caveats(void **state)
{
    (void)state;
    ac_policy_captoken_t in = mint(AC_POLICY_PERM_LLM, 42, LATER, 3), out;

    /* 0 and -1 keep the old caveats */
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &in, AC_POLICY_PERM_ALL, 0, -1, NOW, 0, &out), 0);
    assert_int_equal(out.expires_at, LATER);
    assert_int_equal(out.max_depth, 3);
    /* looser values are ignored */
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &in, AC_POLICY_PERM_ALL, LATER + 1000, 10, NOW, 0, &out), 0);
    assert_int_equal(out.expires_at, LATER);
    assert_int_equal(out.max_depth, 3);
    /* tighter values win */
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &in, AC_POLICY_PERM_ALL, NOW + 10, 1, NOW, 0, &out), 0);
    assert_int_equal(out.expires_at, NOW + 10);
    assert_int_equal(out.max_depth, 1);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &out, NOW + 9, 1), 0);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &out, NOW + 10, 1), -AC_ETIMEDOUT);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &out, NOW + 9, 2), -AC_ETOOLONG);

    /* a token without caveats gains them */
    ac_policy_captoken_t open = mint(AC_POLICY_PERM_LLM, 42, 0, -1);
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &open, AC_POLICY_PERM_ALL, LATER, 0, NOW, 0, &out), 0);
    assert_int_equal(out.expires_at, LATER);
    assert_int_equal(out.max_depth, 0);

    /* malformed caveat arguments */
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &in, AC_POLICY_PERM_ALL, -5, -1, NOW, 0, &out), -AC_EINVAL);
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &in, AC_POLICY_PERM_ALL, 0, -2, NOW, 0, &out), -AC_EINVAL);
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &in, AC_POLICY_PERM_ALL, 0, -1, NOW, 0, NULL), -AC_EINVAL);
}

static void attenuating_a_bad_token_fails_as_verify_does(void **state)
{
    (void)state;
    ac_policy_captoken_t out;
    ac_policy_captoken_t forged = mint(AC_POLICY_PERM_LLM, 42, 0, -1);
    forged.perms |= AC_POLICY_PERM_SKILL_MANAGE;
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &forged, AC_POLICY_PERM_ALL, 0, -1, NOW, 0, &out),
                     -AC_EPERM);
    assert_int_equal(out.perms, 0);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &out, NOW, 0), -AC_EPERM);

    ac_policy_captoken_t expired = mint(AC_POLICY_PERM_LLM, 42, NOW, -1);
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &expired, AC_POLICY_PERM_LLM, 0, -1, NOW, 0, &out),
                     -AC_ETIMEDOUT);
    ac_policy_captoken_t shallow = mint(AC_POLICY_PERM_LLM, 42, 0, 1);
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &shallow, AC_POLICY_PERM_LLM, 0, -1, NOW, 2, &out),
                     -AC_ETOOLONG);
    ac_policy_captoken_t foreign;
    ac_policy_captoken_mint(other_key, AC_POLICY_PERM_LLM, 42, 0, -1, &foreign);
    assert_int_equal(ac_policy_captoken_attenuate(skb_key, &foreign, AC_POLICY_PERM_LLM, 0, -1, NOW, 0, &out),
                     -AC_EPERM);
}

static void encode_and_decode_round_trip(void **state)
{
    (void)state;
    const ac_policy_captoken_t cases[] = {
        mint(AC_POLICY_PERM_LLM | AC_POLICY_PERM_WEB_READ, 42, LATER, 2),
        mint(AC_POLICY_PERM_ALL, INT64_MAX, INT64_MAX, INT32_MAX),
        mint(0, 0, 0, -1),
        mint(AC_POLICY_PERM_WORKFLOW_MANAGE, 1, 1, 0),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[AC_POLICY_CAPTOKEN_TEXT_LEN + 1];
        ac_policy_captoken_t back;
        assert_int_equal(ac_policy_captoken_encode(&cases[i], text, sizeof(text)), 0);
        assert_int_equal(strlen(text), AC_POLICY_CAPTOKEN_TEXT_LEN);
        assert_int_equal(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                         AC_POLICY_CAPTOKEN_TEXT_LEN);
        assert_int_equal(ac_policy_captoken_decode(text, strlen(text), &back), 0);
        assert_int_equal(back.perms, cases[i].perms);
        assert_int_equal(back.run_id, cases[i].run_id);
        assert_int_equal(back.expires_at, cases[i].expires_at);
        assert_int_equal(back.max_depth, cases[i].max_depth);
        assert_memory_equal(back.sig, cases[i].sig, 32);
        assert_int_equal(ac_policy_captoken_verify(skb_key, &back, 0, 0), 0);
    }

    /* the known-answer text decodes to its fields */
    ac_policy_captoken_t k;
    assert_int_equal(ac_policy_captoken_decode(KAT_TEXT, strlen(KAT_TEXT), &k), 0);
    assert_int_equal(k.perms, AC_POLICY_PERM_LLM | AC_POLICY_PERM_WEB_READ);
    assert_int_equal(k.run_id, 42);
    assert_int_equal(k.expires_at, NOW);
    assert_int_equal(k.max_depth, 2);
    assert_memory_equal(k.sig, kat_sig, 32);
}

static void encode_refuses_small_buffers_and_fields_out_of_range(void **state)
{
    (void)state;
    ac_policy_captoken_t t = mint(AC_POLICY_PERM_LLM, 42, 0, -1);
    char text[AC_POLICY_CAPTOKEN_TEXT_LEN + 1];
    assert_int_equal(ac_policy_captoken_encode(&t, text, AC_POLICY_CAPTOKEN_TEXT_LEN), -AC_ETOOLONG);
    assert_string_equal(text, "");
    assert_int_equal(ac_policy_captoken_encode(&t, text, 0), -AC_ETOOLONG);
    assert_int_equal(ac_policy_captoken_encode(&t, NULL, sizeof(text)), -AC_EINVAL);
    assert_int_equal(ac_policy_captoken_encode(NULL, text, sizeof(text)), -AC_EINVAL);
    t.max_depth = -2;
    assert_int_equal(ac_policy_captoken_encode(&t, text, sizeof(text)), -AC_EINVAL);
    t = mint(AC_POLICY_PERM_ALL + 1, 42, 0, -1);
    assert_int_equal(ac_policy_captoken_encode(&t, text, sizeof(text)), -AC_EINVAL);
}

/* Decodes `text` (its strlen) and expects -AC_EINVAL and a zeroed token. */
static void refused(const char *text, size_t len)
{
    ac_policy_captoken_t t;
    memset(&t, 0xa5, sizeof(t));
    assert_int_equal(ac_policy_captoken_decode(text, len, &t), -AC_EINVAL);
    static const ac_policy_captoken_t zero;
    assert_memory_equal(&t, &zero, sizeof(t));
}

/* KAT_TEXT with characters replaced from position `at`. */
static void patched(char out[AC_POLICY_CAPTOKEN_TEXT_LEN + 1], size_t at, const char *with)
{
    memcpy(out, KAT_TEXT, AC_POLICY_CAPTOKEN_TEXT_LEN + 1);
    memcpy(out + at, with, strlen(with));
}

static void decode_refuses_hostile_input(void **state)
{
    (void)state;
    char s[AC_POLICY_CAPTOKEN_TEXT_LEN + 1];
    char big[4 * AC_POLICY_CAPTOKEN_TEXT_LEN];

    refused("", 0);
    refused(NULL, 0);
    refused(NULL, AC_POLICY_CAPTOKEN_TEXT_LEN);
    refused(KAT_TEXT, AC_POLICY_CAPTOKEN_TEXT_LEN - 1); /* truncated */
    refused(KAT_TEXT, AC_POLICY_CAPTOKEN_TEXT_LEN - 4);
    refused(KAT_TEXT, 1);
    /* extra bytes, padding, whitespace */
    refused(KAT_TEXT "A", AC_POLICY_CAPTOKEN_TEXT_LEN + 1);
    refused(KAT_TEXT "====", AC_POLICY_CAPTOKEN_TEXT_LEN + 4);
    refused(KAT_TEXT "\n", AC_POLICY_CAPTOKEN_TEXT_LEN + 1);
    refused(" " KAT_TEXT, AC_POLICY_CAPTOKEN_TEXT_LEN + 1);
    /* a huge length is refused before anything is read: `big` is much shorter than SIZE_MAX */
    memcpy(big, KAT_TEXT, AC_POLICY_CAPTOKEN_TEXT_LEN);
    refused(big, SIZE_MAX);
    refused(big, (size_t)1 << 40);

    /* bad alphabet: standard base64's own characters, padding, NUL, non-ASCII, space, at several positions */
    static const char *const bad[] = {"+", "/", "=", " ", ".", "\x80", "\xff", "*"};
    static const size_t at[] = {0, 1, 37, 74, 75};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        for (size_t j = 0; j < sizeof(at) / sizeof(at[0]); j++) {
            patched(s, at[j], bad[i]);
            refused(s, AC_POLICY_CAPTOKEN_TEXT_LEN);
        }
    memcpy(s, KAT_TEXT, sizeof(s));
    s[40] = '\0';
    refused(s, AC_POLICY_CAPTOKEN_TEXT_LEN);

    /* wrong version: first byte 0x00 ("AA...") and 0x02 ("Ag...") instead of 0x01 ("AQ...") */
    patched(s, 0, "AA");
    refused(s, AC_POLICY_CAPTOKEN_TEXT_LEN);
    patched(s, 0, "Ag");
    refused(s, AC_POLICY_CAPTOKEN_TEXT_LEN);
    patched(s, 0, "_w"); /* 0xff */
    refused(s, AC_POLICY_CAPTOKEN_TEXT_LEN);

    /* well-formed, right version, fields out of range: perms 0xffffffff ("AQ____...") */
    patched(s, 0, "AQ_____");
    refused(s, AC_POLICY_CAPTOKEN_TEXT_LEN);
    /* negative run id: its top byte (body byte 5, chars 6-7) set */
    patched(s, 6, "_w");
    refused(s, AC_POLICY_CAPTOKEN_TEXT_LEN);
    /* max depth -2 (fffffffe) instead of -1: the no-caveat KAT with its depth's last byte changed */
    memcpy(s, KAT_TEXT_NOCAV, sizeof(s));
    ac_policy_captoken_t ok;
    assert_int_equal(ac_policy_captoken_decode(s, AC_POLICY_CAPTOKEN_TEXT_LEN, &ok), 0);
    assert_int_equal(ok.max_depth, -1);
    /* chars 28-31 are body bytes 21-23; char 32 and the top 2 bits of char 33 are byte 24 */
    assert_memory_equal(s + 28, "_____3", 6);
    s[33] = 'n'; /* '3' = 110111 -> 'n' = 100111: byte 24 0xff -> 0xfe */
    refused(s, AC_POLICY_CAPTOKEN_TEXT_LEN);
}

static void a_decoded_token_must_still_verify(void **state)
{
    (void)state;
    char s[AC_POLICY_CAPTOKEN_TEXT_LEN + 1];
    ac_policy_captoken_t t;
    /* flip one character of the signature part: still well-formed, no longer valid */
    memcpy(s, KAT_TEXT, sizeof(s));
    s[60] = s[60] == 'A' ? 'B' : 'A';
    assert_int_equal(ac_policy_captoken_decode(s, AC_POLICY_CAPTOKEN_TEXT_LEN, &t), 0);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW - 1, 0), -AC_EPERM);
    /* change the body: run id 42 -> 43 (body byte 12 is char 16 and the top 2 bits of char 17: "Kg" -> "Kw") */
    memcpy(s, KAT_TEXT, sizeof(s));
    assert_int_equal(ac_policy_captoken_decode(s, AC_POLICY_CAPTOKEN_TEXT_LEN, &t), 0);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW - 1, 0), 0);
    assert_memory_equal(s + 16, "Kg", 2);
    s[17] = 'w';
    assert_int_equal(ac_policy_captoken_decode(s, AC_POLICY_CAPTOKEN_TEXT_LEN, &t), 0);
    assert_int_equal(t.run_id, 43);
    assert_int_equal(t.expires_at, NOW);
    assert_int_equal(ac_policy_captoken_verify(skb_key, &t, NOW - 1, 0), -AC_EPERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_key_is_hkdf_of_secret_key_base_with_the_token_info),
        cmocka_unit_test(the_signature_and_text_match_the_independent_computation),
        cmocka_unit_test(a_minted_token_verifies_and_grants_its_permissions),
        cmocka_unit_test(a_token_without_caveats_never_expires_and_has_no_depth_limit),
        cmocka_unit_test(tampering_with_any_field_makes_it_invalid),
        cmocka_unit_test(a_token_minted_with_another_key_is_invalid),
        cmocka_unit_test(fields_out_of_range_are_invalid_even_when_signed),
        cmocka_unit_test(expiry_is_exclusive),
        cmocka_unit_test(depth_is_inclusive),
        cmocka_unit_test(attenuation_only_shrinks_permissions),
        cmocka_unit_test(attenuation_only_tightens_caveats),
        cmocka_unit_test(attenuating_a_bad_token_fails_as_verify_does),
        cmocka_unit_test(encode_and_decode_round_trip),
        cmocka_unit_test(encode_refuses_small_buffers_and_fields_out_of_range),
        cmocka_unit_test(decode_refuses_hostile_input),
        cmocka_unit_test(a_decoded_token_must_still_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
