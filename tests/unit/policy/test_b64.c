/* tests/unit/policy/test_b64.c - policy/b64.c: RFC 4648 vectors, round trips, and every class of malformed input
 * the strict decoder must refuse. */
#include "policy/b64.h"
#include "policy/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* RFC 4648 section 10. */
static const struct {
    const char *plain;
    const char *encoded;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static int decode_str(const char *in, uint8_t *out, size_t cap, size_t *outlen)
{
    return ac_policy_b64_decode(in, strlen(in), out, cap, outlen);
}

static void encodes_rfc4648_vectors(void **state)
{
    char buf[16];

    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        size_t n = strlen(rfc4648[i].plain);
        memset(buf, 'X', sizeof(buf));
        assert_int_equal(ac_policy_b64_encoded_len(n), strlen(rfc4648[i].encoded));
        ac_policy_b64_encode((const uint8_t *)rfc4648[i].plain, n, buf);
        assert_string_equal(buf, rfc4648[i].encoded);
    }
}

static void decodes_rfc4648_vectors(void **state)
{
    uint8_t buf[16];
    size_t outlen;

    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        size_t n = strlen(rfc4648[i].plain);
        outlen = 99;
        assert_int_equal(decode_str(rfc4648[i].encoded, buf, sizeof(buf), &outlen), 0);
        assert_int_equal(outlen, n);
        assert_memory_equal(buf, rfc4648[i].plain, n);
    }
}

static void encoded_len_counts_padded_quanta(void **state)
{
    assert_int_equal(ac_policy_b64_encoded_len(0), 0);
    assert_int_equal(ac_policy_b64_encoded_len(1), 4);
    assert_int_equal(ac_policy_b64_encoded_len(3), 4);
    assert_int_equal(ac_policy_b64_encoded_len(4), 8);
    assert_int_equal(ac_policy_b64_encoded_len(46), 64);
    assert_int_equal(ac_policy_b64_decoded_max(0), 0);
    assert_int_equal(ac_policy_b64_decoded_max(4), 3);
    assert_int_equal(ac_policy_b64_decoded_max(64), 48);
    assert_int_equal(ac_policy_b64_decoded_max(5), 6);
}

static void round_trips_every_byte_value_at_every_length_mod_3(void **state)
{
    uint8_t in[258], back[258];
    char enc[400];
    size_t outlen;

    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 256; n <= 258; n++) {
        ac_policy_b64_encode(in, n, enc);
        assert_int_equal(strlen(enc), ac_policy_b64_encoded_len(n));
        assert_int_equal(decode_str(enc, back, ac_policy_b64_decoded_max(strlen(enc)), &outlen), 0);
        assert_int_equal(outlen, n);
        assert_memory_equal(back, in, n);
    }
}

static void encodes_the_whole_alphabet(void **state)
{
    /* Each 6-bit group counts 0..63, so the output is the alphabet in order (bytes from Python's base64.b64decode). */
    static const uint8_t in[48] = {
        0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b, 0x30, 0xd3, 0x8f, 0x41, 0x14, 0x93, 0x51,
        0x55, 0x97, 0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f, 0x82, 0x18, 0xa3, 0x92, 0x59, 0xa7, 0xa2, 0x9a,
        0xab, 0xb2, 0xdb, 0xaf, 0xc3, 0x1c, 0xb3, 0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf,
    };
    char enc[65];
    uint8_t back[48];
    size_t outlen;

    ac_policy_b64_encode(in, sizeof(in), enc);
    assert_string_equal(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    assert_int_equal(decode_str(enc, back, sizeof(back), &outlen), 0);
    assert_memory_equal(back, in, sizeof(in));
}

static void expect_malformed(const char *in, size_t len)
{
    uint8_t buf[64];
    size_t outlen = 99;

    memset(buf, 0xaa, sizeof(buf));
    assert_int_equal(ac_policy_b64_decode(in, len, buf, sizeof(buf), &outlen), -AC_EBASE64);
    assert_int_equal(outlen, 0);
    /* Nothing is written before the whole input has been checked. */
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0xaa);
}

#define MALFORMED(s) expect_malformed((s), sizeof(s) - 1)

static void rejects_length_not_multiple_of_4(void **state)
{
    MALFORMED("Z");
    MALFORMED("Zm");
    MALFORMED("Zm9");
    MALFORMED("Zm9vY");
    MALFORMED("Zm9vYg=");
    MALFORMED("Zg");  /* unpadded */
    MALFORMED("Zm8"); /* unpadded */
}

static void rejects_characters_outside_the_alphabet(void **state)
{
    MALFORMED("Zm9v!A==");
    MALFORMED("Zm-v"); /* base64url */
    MALFORMED("Zm_v"); /* base64url */
    MALFORMED("Zm.v");
    MALFORMED("Zm\x80v");
    MALFORMED("Zm\xffv");
    MALFORMED("Zm\0v");
}

static void rejects_whitespace(void **state)
{
    MALFORMED("Zm9v\nYmFy");
    MALFORMED("Zm9vYmF\n");
    MALFORMED(" Zm9vYmF");
    MALFORMED("Zm9 ");
    MALFORMED("Zm9\t");
    MALFORMED("Zm9vYg\r\n");
}

static void rejects_padding_before_the_end(void **state)
{
    MALFORMED("Zg==Zm9v");
    MALFORMED("Zm8=Zm9v");
    MALFORMED("Zm=v");
    MALFORMED("=Zm9");
    MALFORMED("Zm9vY=Fy");
}

static void rejects_three_or_more_padding_characters(void **state)
{
    MALFORMED("Z===");
    MALFORMED("====");
    MALFORMED("Zm9v====");
}

static void rejects_nonzero_trailing_bits(void **state)
{
    /* "Zg==" is the only spelling of "f": 'h' sets one of the 4 unused bits. */
    MALFORMED("Zh==");
    MALFORMED("Zv==");
    /* "Zm8=" is the only spelling of "fo": '9' sets one of the 2 unused bits. */
    MALFORMED("Zm9=");
    MALFORMED("Zm/=");
}

static void refuses_output_larger_than_cap(void **state)
{
    uint8_t buf[6];
    size_t outlen = 99;

    assert_int_equal(decode_str("Zm9vYmFy", buf, 5, &outlen), -AC_ETOOLONG);
    assert_int_equal(outlen, 0);
    assert_int_equal(decode_str("Zm9vYmFy", buf, 6, &outlen), 0);
    assert_int_equal(outlen, 6);
    /* The bound counts the bytes after padding is removed. */
    assert_int_equal(decode_str("Zm9vYmE=", buf, 5, &outlen), 0);
    assert_int_equal(outlen, 5);
}

static void decodes_empty_input_without_a_buffer(void **state)
{
    size_t outlen = 99;

    assert_int_equal(ac_policy_b64_decode(NULL, 0, NULL, 0, &outlen), 0);
    assert_int_equal(outlen, 0);
    assert_int_equal(ac_policy_b64_decode("", 0, NULL, 0, NULL), 0);
}

static void decodes_only_len_characters(void **state)
{
    uint8_t buf[8];
    size_t outlen;

    /* The input need not be NUL-terminated: whatever follows len is not read. */
    assert_int_equal(ac_policy_b64_decode("Zm9v!!!!", 4, buf, sizeof(buf), &outlen), 0);
    assert_int_equal(outlen, 3);
    assert_memory_equal(buf, "foo", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encodes_rfc4648_vectors),
        cmocka_unit_test(decodes_rfc4648_vectors),
        cmocka_unit_test(encoded_len_counts_padded_quanta),
        cmocka_unit_test(round_trips_every_byte_value_at_every_length_mod_3),
        cmocka_unit_test(encodes_the_whole_alphabet),
        cmocka_unit_test(rejects_length_not_multiple_of_4),
        cmocka_unit_test(rejects_characters_outside_the_alphabet),
        cmocka_unit_test(rejects_whitespace),
        cmocka_unit_test(rejects_padding_before_the_end),
        cmocka_unit_test(rejects_three_or_more_padding_characters),
        cmocka_unit_test(rejects_nonzero_trailing_bits),
        cmocka_unit_test(refuses_output_larger_than_cap),
        cmocka_unit_test(decodes_empty_input_without_a_buffer),
        cmocka_unit_test(decodes_only_len_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
