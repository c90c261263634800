/* policy/b64.c - standard base64 (RFC 4648 section 4), table-driven.
 *
 * Base64 carries the encrypted settings ("enc:" + base64(IV || ciphertext || tag)) and, later, capability tokens.
 * Written here rather than taken from OpenSSL's EVP_DecodeBlock, which skips surrounding whitespace and returns the
 * padding as zero bytes; the stored format has exactly one spelling per value, and this decoder refuses every other
 * one, so a tampered or truncated value is reported as such instead of being silently repaired. */
#include "policy/b64.h"

#include "policy/error.h"

static const char alphabet[65] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Byte value -> sextet; 0xff marks every byte outside the alphabet, '=' included (padding is handled apart). */
/* clang-format off */
static const uint8_t sextet_of[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* 0x00 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* 0x10 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,   62, 0xff, 0xff, 0xff,   63,  /* 0x20 */
      52,   53,   54,   55,   56,   57,   58,   59,   60,   61, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* 0x30 */
    0xff,    0,    1,    2,    3,    4,    5,    6,    7,    8,    9,   10,   11,   12,   13,   14,  /* 0x40 */
      15,   16,   17,   18,   19,   20,   21,   22,   23,   24,   25, 0xff, 0xff, 0xff, 0xff, 0xff,  /* 0x50 */
    0xff,   26,   27,   28,   29,   30,   31,   32,   33,   34,   35,   36,   37,   38,   39,   40,  /* 0x60 */
      41,   42,   43,   44,   45,   46,   47,   48,   49,   50,   51, 0xff, 0xff, 0xff, 0xff, 0xff,  /* 0x70 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* 0x80 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* 0x90 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* 0xa0 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* 0xb0 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* 0xc0 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* 0xd0 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* 0xe0 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* 0xf0 */
};
/* clang-format on */

size_t ac_policy_b64_encoded_len(size_t n)
{
    /* n / 3 * 4 plus one padded quantum, written so that n + 2 cannot wrap. */
    return n / 3 * 4 + (n % 3 != 0 ? 4 : 0);
}

void ac_policy_b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0;

    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = alphabet[v >> 18 & 0x3f];
        *out++ = alphabet[v >> 12 & 0x3f];
        *out++ = alphabet[v >> 6 & 0x3f];
        *out++ = alphabet[v & 0x3f];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *out++ = alphabet[v >> 18 & 0x3f];
        *out++ = alphabet[v >> 12 & 0x3f];
        *out++ = '=';
        *out++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *out++ = alphabet[v >> 18 & 0x3f];
        *out++ = alphabet[v >> 12 & 0x3f];
        *out++ = alphabet[v >> 6 & 0x3f];
        *out++ = '=';
    }
    *out = '\0';
}

size_t ac_policy_b64_decoded_max(size_t len)
{
    return len / 4 * 3 + (len % 4 != 0 ? 3 : 0);
}

int ac_policy_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    const uint8_t *s = (const uint8_t *)in;
    size_t pad = 0, body, need, i, o = 0;
    int ret = 0;

    if (outlen != NULL)
        *outlen = 0;
    if (len % 4 != 0) {
        ret = -AC_EBASE64;
        goto Exit;
    }
    if (len == 0)
        goto Exit;

    /* Padding is only ever the last one or two characters; an '=' anywhere else fails the table lookup below. */
    if (s[len - 1] == '=')
        pad = s[len - 2] == '=' ? 2 : 1;
    body = len - pad;

    /* Check everything before writing anything, so a failure leaves `out` as it was. */
    for (i = 0; i < body; i++) {
        if (sextet_of[s[i]] == 0xff) {
            ret = -AC_EBASE64;
            goto Exit;
        }
    }
    /* The canonical encoding leaves the bits below the last data byte zero: 4 of them before "==", 2 before "=".
     * Accepting others would give one byte string several spellings. */
    if ((pad == 2 && (sextet_of[s[body - 1]] & 0x0f) != 0) || (pad == 1 && (sextet_of[s[body - 1]] & 0x03) != 0)) {
        ret = -AC_EBASE64;
        goto Exit;
    }
    need = len / 4 * 3 - pad;
    if (need > cap) {
        ret = -AC_ETOOLONG;
        goto Exit;
    }

    for (i = 0; i + 4 <= body; i += 4) {
        uint32_t v = (uint32_t)sextet_of[s[i]] << 18 | (uint32_t)sextet_of[s[i + 1]] << 12 |
                     (uint32_t)sextet_of[s[i + 2]] << 6 | sextet_of[s[i + 3]];
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    if (pad == 2) {
        uint32_t v = (uint32_t)sextet_of[s[i]] << 18 | (uint32_t)sextet_of[s[i + 1]] << 12;
        out[o++] = (uint8_t)(v >> 16);
    } else if (pad == 1) {
        uint32_t v =
            (uint32_t)sextet_of[s[i]] << 18 | (uint32_t)sextet_of[s[i + 1]] << 12 | (uint32_t)sextet_of[s[i + 2]] << 6;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
    }
    if (outlen != NULL)
        *outlen = o;

Exit:
    return ret;
}
