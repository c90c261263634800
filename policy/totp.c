/* policy/totp.c - TOTP codes of totp.h, on liboath. */
#include "policy/totp.h"

#include "policy/crypto.h"
#include "policy/error.h"

#include <liboath/oath.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ac_policy_totp_init(void)
{
    return oath_init() == OATH_OK ? 0 : -AC_ECRYPTO;
}

void ac_policy_totp_done(void)
{
    oath_done();
}

int ac_policy_totp_new_secret(char *out)
{
    unsigned char raw[AC_POLICY_TOTP_SECRET_BYTES];
    char *b32 = NULL;
    size_t len = 0;
    if (ac_policy_crypto_random(raw, sizeof(raw)) != 0 ||
        oath_base32_encode((const char *)raw, sizeof(raw), &b32, &len) != OATH_OK || len != AC_POLICY_TOTP_SECRET_LEN) {
        explicit_bzero(raw, sizeof(raw));
        free(b32);
        return -AC_ECRYPTO;
    }
    memcpy(out, b32, len); /* 20 bytes are 160 bits: 32 characters exactly, no padding */
    out[len] = '\0';
    explicit_bzero(raw, sizeof(raw));
    explicit_bzero(b32, len);
    free(b32);
    return 0;
}

/* Decodes the base32 secret. OUT: *raw (from malloc, caller wipes and frees), *len. */
static int decode(const char *secret, char **raw, size_t *len)
{
    if (secret == NULL || strlen(secret) == 0 || strlen(secret) > 128 ||
        oath_base32_decode(secret, strlen(secret), raw, len) != OATH_OK || *len == 0) {
        *raw = NULL;
        return -AC_EINVAL;
    }
    return 0;
}

int ac_policy_totp_code(const char *secret, int64_t now, char *out)
{
    char *raw;
    size_t len;
    if (decode(secret, &raw, &len) != 0)
        return -AC_EINVAL;
    int rc = oath_totp_generate(raw, len, (time_t)now, AC_POLICY_TOTP_STEP_S, 0, AC_POLICY_TOTP_DIGITS, out);
    explicit_bzero(raw, len);
    free(raw);
    return rc == OATH_OK ? 0 : -AC_EINVAL;
}

int ac_policy_totp_verify(const char *secret, const char *code, int64_t now, int64_t *step)
{
    if (code == NULL || strlen(code) != AC_POLICY_TOTP_DIGITS || strspn(code, "0123456789") != AC_POLICY_TOTP_DIGITS)
        return -AC_EINVAL;
    char *raw;
    size_t len;
    if (decode(secret, &raw, &len) != 0)
        return -AC_EINVAL;
    int pos = 0;
    /* window 1: the steps before and after the current one; pos tells which matched (-1, 0, +1) */
    int rc = oath_totp_validate2(raw, len, (time_t)now, AC_POLICY_TOTP_STEP_S, 0, 1, &pos, code);
    explicit_bzero(raw, len);
    free(raw);
    if (rc < 0)
        return -AC_EPERM;
    *step = now / AC_POLICY_TOTP_STEP_S + pos;
    return 0;
}

/* Percent-encodes s (RFC 3986 unreserved characters stay) into out. Returns the new length or -1 when out is full. */
static int pct(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-._~", c);
        if (o + (plain ? 1 : 3) >= cap)
            return -1;
        if (plain)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
    }
    out[o] = '\0';
    return (int)o;
}

int ac_policy_totp_uri(const char *secret, const char *issuer, const char *account, char *out, size_t cap)
{
    char is[256], ac[256];
    if (pct(issuer, is, sizeof(is)) < 0 || pct(account, ac, sizeof(ac)) < 0)
        return -AC_ETOOLONG;
    int n = snprintf(out, cap, "otpauth://totp/%s:%s?secret=%s&issuer=%s", is, ac, secret, is);
    return n > 0 && (size_t)n < cap ? 0 : -AC_ETOOLONG;
}
