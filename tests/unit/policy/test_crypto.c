/* tests/unit/policy/test_crypto.c - policy/crypto.c: HKDF against RFC 5869, the settings format against values
 * pinned from an independent implementation, and every way a stored value can be damaged.
 *
 * Pinned values were made with Python's `cryptography` package (48.0.0), independently of this code:
 *
 *   skb = b"AlexClaw unit-test SECRET_KEY_BASE, not a real secret: 0123456789abcdef"
 *   key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"\0" * 32, info=INFO).derive(skb)
 *   iv  = bytes(range(12))
 *   "enc:" + base64.b64encode(iv + AESGCM(key).encrypt(iv, plaintext, None)).decode()
 *
 * with INFO b"AlexClaw.Config.Crypto" (settings) or b"AlexClaw.Auth.CapabilityToken". */
#include "policy/alloc.h"
#include "policy/b64.h"
#include "policy/crypto.h"
#include "policy/crypto_int.h"
#include "policy/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char test_skb[] = "AlexClaw unit-test SECRET_KEY_BASE, not a real secret: 0123456789abcdef";

static const uint8_t settings_key_kat[32] = {
    0x38, 0xde, 0x03, 0xa7, 0x46, 0x91, 0x53, 0x47, 0xdd, 0x4d, 0x53, 0xbd, 0x87, 0x84, 0x5f, 0x2f,
    0xd3, 0x12, 0x84, 0xa5, 0xb7, 0x59, 0x35, 0x53, 0xee, 0x5f, 0xbf, 0xd0, 0xf5, 0x4f, 0xfe, 0x41,
};
static const uint8_t capability_key_kat[32] = {
    0x4c, 0x27, 0x2c, 0xaa, 0xe8, 0x18, 0x29, 0x96, 0xa4, 0x42, 0xe0, 0x16, 0xb5, 0xa8, 0x8f, 0x61,
    0x31, 0x16, 0x47, 0x45, 0x96, 0xe9, 0xe8, 0xdd, 0x62, 0xe5, 0x88, 0x35, 0xf1, 0x3f, 0xed, 0xda,
};
static const uint8_t kat_iv[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
/* "sk-test-1234567890" sealed under settings_key_kat with kat_iv. */
static const char kat_sealed[] = "enc:AAECAwQFBgcICQoLBdofqpZhTeZnCfK6G4UFAC9DHgnhJ+mECGqaPrgvM9UxsA==";
/* The empty plaintext sealed the same way: 28 bytes, IV and tag only (the original never writes it, but it is a
 * well-formed value and opens to ""). */
static const char kat_sealed_empty[] = "enc:AAECAwQFBgcICQoLRtO1k7hZoxZzS2Ns2KwZVQ==";
/* "a\0b" sealed the same way: authentic, but not a C string. */
static const char kat_sealed_nul[] = "enc:AAECAwQFBgcICQoLF7FQnoTabSR4S/cVz9fatgYKQQ==";

static void settings_key(uint8_t key[32])
{
    assert_int_equal(ac_policy_crypto_derive_key(test_skb, strlen(test_skb), AC_POLICY_CRYPTO_INFO_SETTINGS, key), 0);
}

static int open_str(const uint8_t key[32], const char *stored, char **out)
{
    return ac_policy_crypto_open(key, stored, strlen(stored), out, NULL);
}

/* Decodes the base64 part of a sealed value into raw (IV || ciphertext || tag); returns its length. */
static size_t unwrap(const char *sealed, uint8_t *raw, size_t cap)
{
    size_t n;

    assert_true(ac_policy_crypto_is_sealed(sealed));
    assert_int_equal(ac_policy_b64_decode(sealed + 4, strlen(sealed) - 4, raw, cap, &n), 0);
    return n;
}

/* The inverse of unwrap(): "enc:" + base64(raw), from ac_malloc(). */
static char *wrap(const uint8_t *raw, size_t n)
{
    char *s = ac_malloc(4 + ac_policy_b64_encoded_len(n) + 1);
    memcpy(s, "enc:", 4);
    ac_policy_b64_encode(raw, n, s + 4);
    return s;
}

/* --- HKDF ------------------------------------------------------------------------------------------------------ */

static void hkdf_matches_rfc5869_test_case_1(void **state)
{
    static const uint8_t okm[42] = {
        0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac, 0xd5, 0x7a, 0x90, 0x43, 0x4f, 0x64, 0xd0, 0x36,
        0x2f, 0x2a, 0x2d, 0x2d, 0x0a, 0x90, 0xcf, 0x1a, 0x5a, 0x4c, 0x5d, 0xb0, 0x2d, 0x56,
        0xec, 0xc4, 0xc5, 0xbf, 0x34, 0x00, 0x72, 0x08, 0xd5, 0xb8, 0x87, 0x18, 0x58, 0x65,
    };
    uint8_t ikm[22], salt[13], info[10], out[42];

    memset(ikm, 0x0b, sizeof(ikm));
    for (size_t i = 0; i < sizeof(salt); i++)
        salt[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(info); i++)
        info[i] = (uint8_t)(0xf0 + i);
    assert_int_equal(
        ac_policy_crypto_hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info), out, sizeof(out)), 0);
    assert_memory_equal(out, okm, sizeof(okm));
}

static void hkdf_without_salt_matches_rfc5869_test_case_3(void **state)
{
    static const uint8_t okm[42] = {
        0x8d, 0xa4, 0xe7, 0x75, 0xa5, 0x63, 0xc1, 0x8f, 0x71, 0x5f, 0x80, 0x2a, 0x06, 0x3c,
        0x5a, 0x31, 0xb8, 0xa1, 0x1f, 0x5c, 0x5e, 0xe1, 0x87, 0x9e, 0xc3, 0x45, 0x4e, 0x5f,
        0x3c, 0x73, 0x8d, 0x2d, 0x9d, 0x20, 0x13, 0x95, 0xfa, 0xa4, 0xb6, 0x1a, 0x96, 0xc8,
    };
    static const uint8_t zeros[32];
    uint8_t ikm[22], out[42];

    memset(ikm, 0x0b, sizeof(ikm));
    assert_int_equal(ac_policy_crypto_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, out, sizeof(out)), 0);
    assert_memory_equal(out, okm, sizeof(okm));
    /* The default salt is HashLen zeros, the salt the settings key uses explicitly. */
    assert_int_equal(ac_policy_crypto_hkdf_sha256(ikm, sizeof(ikm), zeros, sizeof(zeros), NULL, 0, out, sizeof(out)),
                     0);
    assert_memory_equal(out, okm, sizeof(okm));
}

static void hkdf_refuses_out_of_range_arguments(void **state)
{
    uint8_t ikm[8] = {0}, out[32];
    static uint8_t big[255 * 32 + 1];

    assert_int_equal(ac_policy_crypto_hkdf_sha256(ikm, 0, NULL, 0, NULL, 0, out, sizeof(out)), -AC_EINVAL);
    assert_int_equal(ac_policy_crypto_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, out, 0), -AC_EINVAL);
    assert_int_equal(ac_policy_crypto_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, big, sizeof(big)), -AC_EINVAL);
    assert_int_equal(ac_policy_crypto_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, big, sizeof(big) - 1), 0);
    assert_int_equal(ac_policy_crypto_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, big, 1025, out, sizeof(out)), -AC_EINVAL);
}

/* --- key derivation ---------------------------------------------------------------------------------------------- */

static void derives_pinned_settings_key(void **state)
{
    uint8_t key[32];

    settings_key(key);
    assert_memory_equal(key, settings_key_kat, sizeof(key));
}

static void derives_a_different_pinned_key_per_purpose(void **state)
{
    uint8_t key[32];

    assert_int_equal(ac_policy_crypto_derive_key(test_skb, strlen(test_skb), AC_POLICY_CRYPTO_INFO_CAPABILITY, key), 0);
    assert_memory_equal(key, capability_key_kat, sizeof(key));
}

static void refuses_secret_key_base_shorter_than_32_bytes(void **state)
{
    uint8_t key[32];

    assert_int_equal(ac_policy_crypto_derive_key(test_skb, 31, AC_POLICY_CRYPTO_INFO_SETTINGS, key), -AC_EINVAL);
    assert_int_equal(ac_policy_crypto_derive_key(test_skb, 0, AC_POLICY_CRYPTO_INFO_SETTINGS, key), -AC_EINVAL);
    assert_int_equal(ac_policy_crypto_derive_key(test_skb, 32, AC_POLICY_CRYPTO_INFO_SETTINGS, key), 0);
}

/* --- seal / open ------------------------------------------------------------------------------------------------- */

static void seal_with_iv_matches_pinned_value(void **state)
{
    uint8_t key[32];
    char *out = NULL;

    settings_key(key);
    assert_int_equal(ac_policy_crypto__seal_with_iv(key, kat_iv, "sk-test-1234567890", 18, &out), 0);
    assert_string_equal(out, kat_sealed);
    free(out);
}

static void opens_pinned_value(void **state)
{
    uint8_t key[32];
    char *out = NULL;
    size_t outlen = 0;

    settings_key(key);
    assert_int_equal(ac_policy_crypto_open(key, kat_sealed, strlen(kat_sealed), &out, &outlen), 0);
    assert_string_equal(out, "sk-test-1234567890");
    assert_int_equal(outlen, 18);
    ac_free_secret_str(out);
}

static void opens_iv_and_tag_only_to_empty(void **state)
{
    uint8_t key[32];
    char *out = NULL;
    size_t outlen = 99;

    settings_key(key);
    assert_int_equal(ac_policy_crypto_open(key, kat_sealed_empty, strlen(kat_sealed_empty), &out, &outlen), 0);
    assert_string_equal(out, "");
    assert_int_equal(outlen, 0);
    ac_free_secret_str(out);
}

static void round_trips_plaintexts_of_many_lengths(void **state)
{
    static const size_t lens[] = {1, 2, 3, 15, 16, 17, 31, 32, 33, 100, 4096, 65537};
    uint8_t key[32];

    settings_key(key);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        char *plain = ac_malloc(lens[i] + 1), *sealed = NULL, *back = NULL;
        size_t backlen = 0;

        for (size_t j = 0; j < lens[i]; j++)
            plain[j] = (char)(1 + (j * 31 + i) % 255); /* every byte but NUL */
        plain[lens[i]] = '\0';
        assert_int_equal(ac_policy_crypto_seal(key, plain, lens[i], &sealed), 0);
        assert_int_equal(strlen(sealed), 4 + ac_policy_b64_encoded_len(12 + lens[i] + 16));
        assert_int_equal(ac_policy_crypto_open(key, sealed, strlen(sealed), &back, &backlen), 0);
        assert_int_equal(backlen, lens[i]);
        assert_memory_equal(back, plain, lens[i] + 1);
        free(plain);
        free(sealed);
        ac_free_secret_str(back);
    }
}

static void round_trips_utf8(void **state)
{
    static const char plain[] = "p\xc3\xa4ssw\xc3\xb6rd \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x91";
    uint8_t key[32];
    char *sealed = NULL, *back = NULL;

    settings_key(key);
    assert_int_equal(ac_policy_crypto_seal(key, plain, strlen(plain), &sealed), 0);
    assert_int_equal(open_str(key, sealed, &back), 0);
    assert_string_equal(back, plain);
    free(sealed);
    ac_free_secret_str(back);
}

static void two_seals_of_the_same_plaintext_differ(void **state)
{
    uint8_t key[32];
    char *a = NULL, *b = NULL;

    settings_key(key);
    assert_int_equal(ac_policy_crypto_seal(key, "same", 4, &a), 0);
    assert_int_equal(ac_policy_crypto_seal(key, "same", 4, &b), 0);
    assert_string_not_equal(a, b);
    /* A fresh IV each time: the first 16 base64 characters encode the 12 IV bytes. */
    assert_memory_not_equal(a + 4, b + 4, 16);
    free(a);
    free(b);
}

static void empty_plaintext_stays_empty(void **state)
{
    uint8_t key[32];
    char *sealed = NULL, *back = NULL;
    size_t backlen = 99;

    settings_key(key);
    assert_int_equal(ac_policy_crypto_seal(key, "", 0, &sealed), 0);
    assert_non_null(sealed);
    assert_string_equal(sealed, "");
    assert_int_equal(ac_policy_crypto__seal_with_iv(key, kat_iv, NULL, 0, &back), 0);
    assert_string_equal(back, "");
    free(back);
    back = NULL;
    assert_int_equal(ac_policy_crypto_open(key, sealed, 0, &back, &backlen), 0);
    assert_string_equal(back, "");
    assert_int_equal(backlen, 0);
    free(sealed);
    ac_free_secret_str(back);
}

static void unprefixed_value_passes_through(void **state)
{
    static const char *plains[] = {"hello", "ENC:abc", "enc", "en", "x", " enc:AAAA"};
    uint8_t key[32];

    settings_key(key);
    for (size_t i = 0; i < sizeof(plains) / sizeof(plains[0]); i++) {
        char *out = NULL;
        size_t outlen = 0;
        assert_int_equal(ac_policy_crypto_open(key, plains[i], strlen(plains[i]), &out, &outlen), 0);
        assert_string_equal(out, plains[i]);
        assert_int_equal(outlen, strlen(plains[i]));
        assert_ptr_not_equal(out, plains[i]);
        free(out);
    }
}

static void wrong_key_fails_with_edecrypt(void **state)
{
    uint8_t key[32];
    char *out = (char *)"sentinel";

    assert_int_equal(ac_policy_crypto_derive_key(test_skb, strlen(test_skb), AC_POLICY_CRYPTO_INFO_CAPABILITY, key), 0);
    assert_int_equal(open_str(key, kat_sealed, &out), -AC_EDECRYPT);
    assert_null(out);
}

static void rejects_any_flipped_bit_in_iv_ciphertext_or_tag(void **state)
{
    uint8_t key[32], raw[64];
    size_t n;

    settings_key(key);
    n = unwrap(kat_sealed, raw, sizeof(raw));
    assert_int_equal(n, 12 + 18 + 16);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            char *tampered, *out = (char *)"sentinel";
            raw[i] ^= (uint8_t)(1u << bit);
            tampered = wrap(raw, n);
            assert_int_equal(open_str(key, tampered, &out), -AC_EDECRYPT);
            assert_null(out);
            free(tampered);
            raw[i] ^= (uint8_t)(1u << bit);
        }
    }
}

static void rejects_truncated_tag(void **state)
{
    uint8_t key[32], raw[64];
    size_t n;
    char *tampered, *out = (char *)"sentinel";

    settings_key(key);
    n = unwrap(kat_sealed, raw, sizeof(raw));
    tampered = wrap(raw, n - 1);
    assert_int_equal(open_str(key, tampered, &out), -AC_EDECRYPT);
    assert_null(out);
    free(tampered);
}

static void rejects_appended_byte(void **state)
{
    uint8_t key[32], raw[64];
    size_t n;
    char *tampered, *out = (char *)"sentinel";

    settings_key(key);
    n = unwrap(kat_sealed, raw, sizeof(raw));
    raw[n] = 0;
    tampered = wrap(raw, n + 1);
    assert_int_equal(open_str(key, tampered, &out), -AC_EDECRYPT);
    assert_null(out);
    free(tampered);
}

static void rejects_fewer_than_28_decoded_bytes(void **state)
{
    uint8_t key[32], raw[64];
    size_t n;
    char *out = (char *)"sentinel";

    settings_key(key);
    n = unwrap(kat_sealed_empty, raw, sizeof(raw));
    assert_int_equal(n, 28);
    for (size_t len = 0; len < 28; len++) {
        char *tampered = wrap(raw, len);
        assert_int_equal(open_str(key, tampered, &out), -AC_ECIPHERTEXT);
        assert_null(out);
        free(tampered);
    }
    assert_int_equal(open_str(key, "enc:", &out), -AC_ECIPHERTEXT);
}

static void rejects_bad_base64(void **state)
{
    static const char *bad[] = {
        "enc:!!!!",
        "enc:AAECAwQFBgcICQoLBdofqpZhTeZnCfK6G4UFAC9DHgnhJ+mECGqaPrgvM9UxsA=",   /* length */
        "enc:AAECAwQFBgcICQoLBdofqpZhTeZnCfK6G4UFAC9DHgnhJ+mECGqaPrgvM9UxsA== ", /* trailing space */
        "enc: AAECAwQFBgcICQoLBdofqpZhTeZnCfK6G4UFAC9DHgnhJ+mECGqaPrgvM9UxsA=",  /* leading space */
        "enc:AAECAwQFBgcICQoLBdofqpZhTeZnCfK6G4UFAC9DHgnhJ-mECGqaPrgvM9UxsA==",  /* base64url */
        "enc:AAECAwQFBgcICQoLBdofqpZhTeZnCfK6G4UFAC9DHgnhJ+mECGqaPrgvM9UxsB==",  /* trailing bits */
    };
    uint8_t key[32];

    settings_key(key);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out = (char *)"sentinel";
        assert_int_equal(open_str(key, bad[i], &out), -AC_EBASE64);
        assert_null(out);
    }
}

static void rejects_plaintext_containing_nul(void **state)
{
    uint8_t key[32];
    char *out = (char *)"sentinel";

    settings_key(key);
    assert_int_equal(open_str(key, kat_sealed_nul, &out), -AC_ECIPHERTEXT);
    assert_null(out);
    /* And seal refuses to write such a value in the first place. */
    out = (char *)"sentinel";
    assert_int_equal(ac_policy_crypto_seal(key, "a\0b", 3, &out), -AC_EINVAL);
    assert_null(out);
}

static void refuses_values_over_one_mib(void **state)
{
    uint8_t key[32];
    size_t big = AC_POLICY_CRYPTO_MAX_STORED + 1;
    char *value = ac_malloc(big + 1), *out = (char *)"sentinel";

    settings_key(key);
    memset(value, 'A', big);
    value[big] = '\0';
    assert_int_equal(ac_policy_crypto_open(key, value, big, &out, NULL), -AC_ETOOLONG);
    assert_null(out);
    memcpy(value, "enc:", 4);
    out = (char *)"sentinel";
    assert_int_equal(ac_policy_crypto_open(key, value, big, &out, NULL), -AC_ETOOLONG);
    assert_null(out);
    /* Seal refuses what open would refuse: the base64 of a 1 MiB plaintext is longer than 1 MiB. */
    out = (char *)"sentinel";
    assert_int_equal(ac_policy_crypto_seal(key, value, AC_POLICY_CRYPTO_MAX_STORED, &out), -AC_ETOOLONG);
    assert_null(out);
    free(value);
}

static void seals_the_largest_value_open_accepts(void **state)
{
    /* "enc:" + 4 * ceil((n + 28) / 3) <= 1 MiB gives n <= (1 MiB - 4) / 4 * 3 - 28 = 786401. */
    size_t max_plain = (AC_POLICY_CRYPTO_MAX_STORED - 4) / 4 * 3 - 28;
    uint8_t key[32];
    char *plain = ac_malloc(max_plain + 2), *sealed = NULL, *back = NULL;

    settings_key(key);
    memset(plain, 'z', max_plain + 1);
    plain[max_plain + 1] = '\0';
    assert_int_equal(ac_policy_crypto_seal(key, plain, max_plain + 1, &sealed), -AC_ETOOLONG);
    assert_int_equal(ac_policy_crypto_seal(key, plain, max_plain, &sealed), 0);
    assert_true(strlen(sealed) <= AC_POLICY_CRYPTO_MAX_STORED);
    assert_int_equal(open_str(key, sealed, &back), 0);
    assert_int_equal(strlen(back), max_plain);
    free(plain);
    free(sealed);
    ac_free_secret_str(back);
}

static void is_sealed_checks_the_prefix(void **state)
{
    assert_true(ac_policy_crypto_is_sealed("enc:"));
    assert_true(ac_policy_crypto_is_sealed(kat_sealed));
    assert_false(ac_policy_crypto_is_sealed("enc"));
    assert_false(ac_policy_crypto_is_sealed("ENC:AAAA"));
    assert_false(ac_policy_crypto_is_sealed(""));
    assert_false(ac_policy_crypto_is_sealed(NULL));
}

/* --- helpers ----------------------------------------------------------------------------------------------------- */

static void ct_equal_compares_contents_and_lengths(void **state)
{
    assert_true(ac_policy_crypto_ct_equal("abcdef", 6, "abcdef", 6));
    assert_false(ac_policy_crypto_ct_equal("abcdef", 6, "abcdeg", 6));
    assert_false(ac_policy_crypto_ct_equal("abcdef", 6, "xbcdef", 6));
    assert_false(ac_policy_crypto_ct_equal("abcdef", 6, "abcde", 5));
    assert_false(ac_policy_crypto_ct_equal("abc", 3, "abcdef", 6));
    assert_true(ac_policy_crypto_ct_equal("", 0, "", 0));
    assert_true(ac_policy_crypto_ct_equal(NULL, 0, NULL, 0));
    assert_false(ac_policy_crypto_ct_equal(NULL, 0, "a", 1));
    assert_true(ac_policy_crypto_ct_equal("a\0b", 3, "a\0b", 3));
    assert_false(ac_policy_crypto_ct_equal("a\0b", 3, "a\0c", 3));
}

static void random_fills_the_buffer(void **state)
{
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};

    assert_int_equal(ac_policy_crypto_random(a, sizeof(a)), 0);
    assert_int_equal(ac_policy_crypto_random(b, sizeof(b)), 0);
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(ac_policy_crypto_random(NULL, 0), 0);
}

/* RFC 4231 test case 2 and the SHA-256 of "abc" (FIPS 180-2). */
static void hmac_and_sha256_known_answers(void **state)
{
    (void)state;
    static const uint8_t want_hmac[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
                                          0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
                                          0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    static const uint8_t want_sha[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                         0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                         0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    uint8_t out[32];
    const char *msg = "what do ya want for nothing?";
    assert_int_equal(ac_policy_crypto_hmac_sha256("Jefe", 4, msg, strlen(msg), out), 0);
    assert_memory_equal(out, want_hmac, 32);
    assert_int_equal(ac_policy_crypto_sha256("abc", 3, out), 0);
    assert_memory_equal(out, want_sha, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hkdf_matches_rfc5869_test_case_1),
        cmocka_unit_test(hkdf_without_salt_matches_rfc5869_test_case_3),
        cmocka_unit_test(hkdf_refuses_out_of_range_arguments),
        cmocka_unit_test(derives_pinned_settings_key),
        cmocka_unit_test(derives_a_different_pinned_key_per_purpose),
        cmocka_unit_test(refuses_secret_key_base_shorter_than_32_bytes),
        cmocka_unit_test(seal_with_iv_matches_pinned_value),
        cmocka_unit_test(opens_pinned_value),
        cmocka_unit_test(opens_iv_and_tag_only_to_empty),
        cmocka_unit_test(round_trips_plaintexts_of_many_lengths),
        cmocka_unit_test(round_trips_utf8),
        cmocka_unit_test(two_seals_of_the_same_plaintext_differ),
        cmocka_unit_test(empty_plaintext_stays_empty),
        cmocka_unit_test(unprefixed_value_passes_through),
        cmocka_unit_test(wrong_key_fails_with_edecrypt),
        cmocka_unit_test(rejects_any_flipped_bit_in_iv_ciphertext_or_tag),
        cmocka_unit_test(rejects_truncated_tag),
        cmocka_unit_test(rejects_appended_byte),
        cmocka_unit_test(rejects_fewer_than_28_decoded_bytes),
        cmocka_unit_test(rejects_bad_base64),
        cmocka_unit_test(rejects_plaintext_containing_nul),
        cmocka_unit_test(refuses_values_over_one_mib),
        cmocka_unit_test(seals_the_largest_value_open_accepts),
        cmocka_unit_test(is_sealed_checks_the_prefix),
        cmocka_unit_test(ct_equal_compares_contents_and_lengths),
        cmocka_unit_test(random_fills_the_buffer),
        cmocka_unit_test(hmac_and_sha256_known_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
