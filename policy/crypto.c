/* policy/crypto.c - the encrypted-settings format (see crypto.h): HKDF key derivation and AES-256-GCM seal/open.
 *
 * Values written by the Elixir AlexClaw must open here and values sealed here must open there, so the layout is
 * fixed: "enc:" + base64(IV[12] || ciphertext || tag[16]), empty AAD, key = HKDF-SHA256 of SECRET_KEY_BASE with a
 * zero salt. OpenSSL 3 does the cryptography (EVP_KDF "HKDF", EVP aes-256-gcm, RAND_bytes); this file adds the
 * framing, the bounds and the zeroing of every temporary that held a key or a plaintext. */
#include "policy/crypto.h"

#include "policy/alloc.h"
#include "policy/b64.h"
#include "policy/crypto_int.h"
#include "policy/error.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define PREFIX_LEN (sizeof(AC_POLICY_CRYPTO_PREFIX) - 1)
#define OVERHEAD   (AC_POLICY_CRYPTO_IV_LEN + AC_POLICY_CRYPTO_TAG_LEN)
#define SHA256_LEN 32
/* OpenSSL 3's HKDF refuses a longer info (HKDF_MAXBUF). */
#define HKDF_MAX_INFO 1024

/* RFC 5869's default salt, and the one the original passes explicitly: HashLen zero bytes. */
static const uint8_t zero_salt[SHA256_LEN];

int ac_policy_crypto_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                                 const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[5], *p = params;
    int ret = 0;

    if (ikm == NULL || ikm_len == 0 || (info == NULL && info_len != 0) || info_len > HKDF_MAX_INFO || out == NULL ||
        out_len == 0 || out_len > 255 * SHA256_LEN) {
        ret = -AC_EINVAL;
        goto Exit;
    }
    /* RFC 5869 2.2: "if not provided, [salt] is set to a string of HashLen zeros". Pass them explicitly rather than
     * rely on how OpenSSL treats an absent salt. */
    if (salt == NULL || salt_len == 0) {
        salt = zero_salt;
        salt_len = sizeof(zero_salt);
    }

    if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL)) == NULL || (kctx = EVP_KDF_CTX_new(kdf)) == NULL) {
        ret = -AC_ECRYPTO;
        goto Exit;
    }
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info_len != 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    *p = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, out, out_len, params) != 1) {
        OPENSSL_cleanse(out, out_len);
        ret = -AC_ECRYPTO;
        goto Exit;
    }

Exit:
    EVP_KDF_CTX_free(kctx); /* cleanses the PRK and the copy of the IKM it holds */
    EVP_KDF_free(kdf);
    if (ret == -AC_ECRYPTO)
        ERR_clear_error();
    return ret;
}

int ac_policy_crypto_derive_key(const char *secret_key_base, size_t len, const char *info,
                                uint8_t out[AC_POLICY_CRYPTO_KEY_LEN])
{
    if (secret_key_base == NULL || info == NULL || out == NULL || len < AC_POLICY_CRYPTO_MIN_SECRET_LEN)
        return -AC_EINVAL;
    return ac_policy_crypto_hkdf_sha256((const uint8_t *)secret_key_base, len, zero_salt, sizeof(zero_salt),
                                        (const uint8_t *)info, strlen(info), out, AC_POLICY_CRYPTO_KEY_LEN);
}

int ac_policy_crypto__seal_with_iv(const uint8_t key[AC_POLICY_CRYPTO_KEY_LEN],
                                   const uint8_t iv[AC_POLICY_CRYPTO_IV_LEN], const char *plain, size_t len, char **out)
{
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *raw = NULL;
    size_t raw_len = 0, out_len;
    char *res = NULL;
    int n, ret = 0;

    if (out == NULL)
        return -AC_EINVAL;
    *out = NULL;
    if (key == NULL || iv == NULL || (plain == NULL && len != 0)) {
        ret = -AC_EINVAL;
        goto Exit;
    }
    if (len == 0) {
        /* The original never encrypts "": an empty setting reads as empty under any key. */
        res = ac_strdup("");
        goto Exit;
    }
    if (len > AC_POLICY_CRYPTO_MAX_STORED) {
        ret = -AC_ETOOLONG;
        goto Exit;
    }
    raw_len = OVERHEAD + len;
    out_len = PREFIX_LEN + ac_policy_b64_encoded_len(raw_len);
    if (out_len > AC_POLICY_CRYPTO_MAX_STORED) {
        ret = -AC_ETOOLONG;
        goto Exit;
    }
    /* Values travel as C strings; a NUL inside would be sealed but never read back whole. */
    if (memchr(plain, '\0', len) != NULL) {
        ret = -AC_EINVAL;
        goto Exit;
    }

    raw = ac_malloc(raw_len);
    memcpy(raw, iv, AC_POLICY_CRYPTO_IV_LEN);
    if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
        EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key, iv, NULL) != 1 || /* GCM's default IV length is 12 */
        EVP_EncryptUpdate(ctx, raw + AC_POLICY_CRYPTO_IV_LEN, &n, (const uint8_t *)plain, (int)len) != 1 ||
        (size_t)n != len || EVP_EncryptFinal_ex(ctx, raw + AC_POLICY_CRYPTO_IV_LEN + len, &n) != 1 || n != 0 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AC_POLICY_CRYPTO_TAG_LEN,
                            raw + AC_POLICY_CRYPTO_IV_LEN + len) != 1) {
        ret = -AC_ECRYPTO;
        goto Exit;
    }

    res = ac_malloc(out_len + 1);
    memcpy(res, AC_POLICY_CRYPTO_PREFIX, PREFIX_LEN);
    ac_policy_b64_encode(raw, raw_len, res + PREFIX_LEN);

Exit:
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    /* raw holds only IV, ciphertext and tag, none of them secret; zero it anyway so no buffer of this file ever
     * returns to the heap with anything derived from the key in it. */
    ac_free_secret(raw, raw_len);
    if (ret == -AC_ECRYPTO)
        ERR_clear_error();
    if (ret == 0)
        *out = res;
    return ret;
}

int ac_policy_crypto_seal(const uint8_t key[AC_POLICY_CRYPTO_KEY_LEN], const char *plain, size_t len, char **out)
{
    uint8_t iv[AC_POLICY_CRYPTO_IV_LEN] = {0};
    int ret = 0;

    if (out == NULL)
        return -AC_EINVAL;
    *out = NULL;
    /* No IV is drawn for "": it is stored as "" and must not depend on a CSPRNG call that could fail. */
    if (len != 0 && (ret = ac_policy_crypto_random(iv, sizeof(iv))) != 0)
        goto Exit;
    ret = ac_policy_crypto__seal_with_iv(key, iv, plain, len, out);

Exit:
    return ret;
}

int ac_policy_crypto_open(const uint8_t key[AC_POLICY_CRYPTO_KEY_LEN], const char *stored, size_t len, char **out,
                          size_t *outlen)
{
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *raw = NULL, tag[AC_POLICY_CRYPTO_TAG_LEN];
    size_t raw_cap = 0, raw_len = 0, ct_len = 0, plain_cap = 0, res_len = 0;
    char *plain = NULL;
    int n, ret = 0;

    if (outlen != NULL)
        *outlen = 0;
    if (out == NULL)
        return -AC_EINVAL;
    *out = NULL;
    if (key == NULL || (stored == NULL && len != 0)) {
        ret = -AC_EINVAL;
        goto Exit;
    }
    if (len > AC_POLICY_CRYPTO_MAX_STORED) {
        ret = -AC_ETOOLONG;
        goto Exit;
    }

    if (len < PREFIX_LEN || memcmp(stored, AC_POLICY_CRYPTO_PREFIX, PREFIX_LEN) != 0) {
        /* Plain text, stored before the setting was marked sensitive or never sensitive: returned as it is. */
        plain_cap = len + 1;
        plain = ac_malloc(plain_cap);
        if (len != 0)
            memcpy(plain, stored, len);
        plain[len] = '\0';
        res_len = len;
        goto Exit;
    }

    raw_cap = ac_policy_b64_decoded_max(len - PREFIX_LEN);
    raw = ac_malloc(raw_cap);
    if (ac_policy_b64_decode(stored + PREFIX_LEN, len - PREFIX_LEN, raw, raw_cap, &raw_len) != 0) {
        ret = -AC_EBASE64;
        goto Exit;
    }
    if (raw_len < OVERHEAD) {
        ret = -AC_ECIPHERTEXT;
        goto Exit;
    }
    ct_len = raw_len - OVERHEAD;
    memcpy(tag, raw + AC_POLICY_CRYPTO_IV_LEN + ct_len, sizeof(tag));

    plain_cap = ct_len + 1;
    plain = ac_malloc(plain_cap);
    if ((ctx = EVP_CIPHER_CTX_new()) == NULL || EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), key, raw, NULL) != 1) {
        ret = -AC_ECRYPTO;
        goto Exit;
    }
    /* ct_len fits an int: the stored value is bounded by AC_POLICY_CRYPTO_MAX_STORED. */
    if (ct_len != 0 && (EVP_DecryptUpdate(ctx, (uint8_t *)plain, &n, raw + AC_POLICY_CRYPTO_IV_LEN, (int)ct_len) != 1 ||
                        (size_t)n != ct_len)) {
        ret = -AC_ECRYPTO;
        goto Exit;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, sizeof(tag), tag) != 1) {
        ret = -AC_ECRYPTO;
        goto Exit;
    }
    /* The plaintext written by Update is unauthenticated until Final checks the tag; on failure it is zeroed below
     * and never returned. */
    if (EVP_DecryptFinal_ex(ctx, (uint8_t *)plain + ct_len, &n) != 1) {
        ret = -AC_EDECRYPT;
        goto Exit;
    }
    if (memchr(plain, '\0', ct_len) != NULL) {
        ret = -AC_ECIPHERTEXT;
        goto Exit;
    }
    plain[ct_len] = '\0';
    res_len = ct_len;

Exit:
    EVP_CIPHER_CTX_free(ctx);
    ac_free_secret(raw, raw_cap);
    if (ret != 0) {
        ac_free_secret(plain, plain_cap);
        plain = NULL;
        res_len = 0;
        ERR_clear_error();
    }
    *out = plain;
    if (outlen != NULL)
        *outlen = res_len;
    return ret;
}

int ac_policy_crypto_is_sealed(const char *s)
{
    return s != NULL && strncmp(s, AC_POLICY_CRYPTO_PREFIX, PREFIX_LEN) == 0;
}

int ac_policy_crypto_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    /* Lengths are public (a token's or a digest's length is fixed by its format); only the contents are secret. */
    if (alen != blen)
        return 0;
    if (alen == 0)
        return 1;
    if (a == NULL || b == NULL)
        return 0;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

int ac_policy_crypto_random(void *buf, size_t n)
{
    uint8_t *p = buf;
    size_t done = 0;

    while (done < n) {
        size_t chunk = n - done > INT_MAX ? INT_MAX : n - done;
        if (RAND_bytes(p + done, (int)chunk) != 1) {
            OPENSSL_cleanse(buf, n);
            ERR_clear_error();
            return -AC_ECRYPTO;
        }
        done += chunk;
    }
    return 0;
}

int ac_policy_crypto_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len, uint8_t out[32])
{
    unsigned int n = 0;
    if (key_len > INT_MAX || HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &n) == NULL || n != 32)
        return -AC_ECRYPTO;
    return 0;
}

int ac_policy_crypto_sha256(const void *msg, size_t msg_len, uint8_t out[32])
{
    unsigned int n = 0;
    return EVP_Digest(msg, msg_len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -AC_ECRYPTO;
}
