/* tests/interop/test_dist_frame.c - dist/frame.c: the bounded reader and writer, and the 2- and 4-byte frame
 * extractors, including every truncated and malformed case. */
#include "dist/frame.h"
#include "policy/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void reader_decodes_big_endian(void **state)
{
    static const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
                                0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15};
    ac_dist_rd_t rd;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    const uint8_t *p;

    ac_dist_rd_init(&rd, b, sizeof(b));
    assert_int_equal(ac_dist_rd_u8(&rd, &u8), 0);
    assert_int_equal(u8, 0x01);
    assert_int_equal(ac_dist_rd_u16(&rd, &u16), 0);
    assert_int_equal(u16, 0x0203);
    assert_int_equal(ac_dist_rd_u32(&rd, &u32), 0);
    assert_int_equal(u32, 0x04050607);
    assert_int_equal(ac_dist_rd_u64(&rd, &u64), 0);
    assert_true(u64 == UINT64_C(0x08090a0b0c0d0e0f));
    assert_int_equal(ac_dist_rd_left(&rd), 6);
    assert_int_equal(ac_dist_rd_bytes(&rd, 2, &p), 0);
    assert_ptr_equal(p, b + 15);
    assert_int_equal(ac_dist_rd_left(&rd), 4);
}

static void reader_refuses_reads_past_the_end_and_stays_put(void **state)
{
    static const uint8_t b[] = {0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9};
    ac_dist_rd_t rd;
    uint16_t u16 = 7;
    uint32_t u32 = 7;
    uint64_t u64 = 7;
    uint8_t u8 = 7;
    const uint8_t *p = NULL;

    /* For every length shorter than the read, the read fails and neither the cursor nor the value moves. */
    for (size_t len = 0; len < 8; len++) {
        ac_dist_rd_init(&rd, b, len);
        assert_int_equal(ac_dist_rd_u64(&rd, &u64), -AC_EINVAL);
        assert_true(u64 == 7);
        if (len < 4) {
            assert_int_equal(ac_dist_rd_u32(&rd, &u32), -AC_EINVAL);
            assert_int_equal(u32, 7);
        }
        if (len < 2) {
            assert_int_equal(ac_dist_rd_u16(&rd, &u16), -AC_EINVAL);
            assert_int_equal(u16, 7);
        }
        if (len < 1) {
            assert_int_equal(ac_dist_rd_u8(&rd, &u8), -AC_EINVAL);
            assert_int_equal(u8, 7);
        }
        assert_int_equal(ac_dist_rd_bytes(&rd, len + 1, &p), -AC_EINVAL);
        assert_null(p);
        assert_int_equal(ac_dist_rd_left(&rd), len);
    }
    /* Reading up to the end exactly works; one more byte does not. */
    ac_dist_rd_init(&rd, b, 7);
    assert_int_equal(ac_dist_rd_u32(&rd, &u32), 0);
    assert_int_equal(ac_dist_rd_u16(&rd, &u16), 0);
    assert_int_equal(ac_dist_rd_u8(&rd, &u8), 0);
    assert_int_equal(ac_dist_rd_u8(&rd, &u8), -AC_EINVAL);
    assert_int_equal(ac_dist_rd_left(&rd), 0);
    /* A NULL buffer is an empty one. */
    ac_dist_rd_init(&rd, NULL, 10);
    assert_int_equal(ac_dist_rd_left(&rd), 0);
    assert_int_equal(ac_dist_rd_u8(&rd, &u8), -AC_EINVAL);
}

static void reader_cstr_checks_both_bounds_before_copying(void **state)
{
    static const uint8_t b[] = {'a', '@', 'b', 'x'};
    ac_dist_rd_t rd;
    char dst[4];

    memset(dst, 'Z', sizeof(dst));
    ac_dist_rd_init(&rd, b, sizeof(b));
    /* n + 1 > cap: refused, nothing copied or consumed */
    assert_int_equal(ac_dist_rd_cstr(&rd, 4, dst, sizeof(dst)), -AC_ETOOLONG);
    assert_int_equal(dst[0], 'Z');
    assert_int_equal(ac_dist_rd_left(&rd), 4);
    /* more than remains */
    ac_dist_rd_init(&rd, b, 2);
    assert_int_equal(ac_dist_rd_cstr(&rd, 3, dst, sizeof(dst)), -AC_EINVAL);
    assert_int_equal(dst[0], 'Z');
    /* cap 0 */
    assert_int_equal(ac_dist_rd_cstr(&rd, 0, dst, 0), -AC_ETOOLONG);
    /* exact fit */
    ac_dist_rd_init(&rd, b, sizeof(b));
    assert_int_equal(ac_dist_rd_cstr(&rd, 3, dst, sizeof(dst)), 0);
    assert_string_equal(dst, "a@b");
    assert_int_equal(ac_dist_rd_left(&rd), 1);
    assert_int_equal(ac_dist_rd_cstr(&rd, 0, dst, sizeof(dst)), 0);
    assert_string_equal(dst, "");
}

static void writer_encodes_big_endian_and_fails_sticky(void **state)
{
    uint8_t b[16];
    ac_dist_wr_t wr;
    static const uint8_t want[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                   0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 'x'};

    ac_dist_wr_init(&wr, b, sizeof(b));
    assert_int_equal(ac_dist_wr_u8(&wr, 0x01), 0);
    assert_int_equal(ac_dist_wr_u16(&wr, 0x0203), 0);
    assert_int_equal(ac_dist_wr_u32(&wr, 0x04050607), 0);
    assert_int_equal(ac_dist_wr_u64(&wr, UINT64_C(0x08090a0b0c0d0e0f)), 0);
    assert_int_equal(ac_dist_wr_bytes(&wr, "x", 1), 0);
    assert_int_equal(wr.len, 16);
    assert_memory_equal(b, want, 16);
    /* full: every further write fails, nothing moves */
    assert_int_equal(ac_dist_wr_u8(&wr, 0), -AC_ETOOLONG);
    assert_int_equal(wr.err, -AC_ETOOLONG);
    assert_int_equal(wr.len, 16);

    /* a write that does not fit writes nothing, and the failure sticks even for one that would */
    ac_dist_wr_init(&wr, b, 3);
    assert_int_equal(ac_dist_wr_u32(&wr, 0xdeadbeef), -AC_ETOOLONG);
    assert_int_equal(wr.len, 0);
    assert_int_equal(ac_dist_wr_u8(&wr, 1), -AC_ETOOLONG);
    assert_int_equal(wr.len, 0);
    assert_int_equal(wr.err, -AC_ETOOLONG);

    /* zero capacity */
    ac_dist_wr_init(&wr, NULL, 100);
    assert_int_equal(ac_dist_wr_bytes(&wr, "", 0), 0);
    assert_int_equal(ac_dist_wr_u8(&wr, 1), -AC_ETOOLONG);
}

static void frame_next_waits_for_a_whole_frame(void **state)
{
    static const uint8_t s[] = {0, 0, 0, 3, 'p', 'q', 'r', 0, 0, 0, 0, 0, 0, 0, 1, 'z'};
    const uint8_t *payload = NULL;
    size_t consumed = 99, plen = 99;

    /* every prefix shorter than the first frame: need more */
    for (size_t len = 0; len < 7; len++) {
        assert_int_equal(ac_dist_frame_next(s, len, 0, &consumed, &payload, &plen), 0);
        assert_int_equal(consumed, 0);
    }
    assert_int_equal(ac_dist_frame_next(s, 7, 0, &consumed, &payload, &plen), 1);
    assert_int_equal(consumed, 7);
    assert_int_equal(plen, 3);
    assert_ptr_equal(payload, s + 4);
    assert_memory_equal(payload, "pqr", 3);

    /* the tick after it */
    assert_int_equal(ac_dist_frame_next(s + 7, 3, 0, &consumed, &payload, &plen), 0);
    assert_int_equal(ac_dist_frame_next(s + 7, 4, 0, &consumed, &payload, &plen), 1);
    assert_int_equal(consumed, 4);
    assert_int_equal(plen, 0);

    /* and the last one, with bytes of nothing else after it */
    assert_int_equal(ac_dist_frame_next(s + 11, 4, 0, &consumed, &payload, &plen), 0);
    assert_int_equal(ac_dist_frame_next(s + 11, 5, 0, &consumed, &payload, &plen), 1);
    assert_int_equal(consumed, 5);
    assert_int_equal(plen, 1);
    assert_int_equal(payload[0], 'z');
}

static void frame_next_walks_a_stream(void **state)
{
    static const uint8_t s[] = {0, 0, 0, 0, 0, 0, 0, 2, 'a', 'b', 0, 0, 0, 0, 0, 0, 0, 1, 'c'};
    size_t off = 0, frames = 0, total = 0, consumed, plen;
    const uint8_t *payload;
    int rc;

    while ((rc = ac_dist_frame_next(s + off, sizeof(s) - off, 16, &consumed, &payload, &plen)) == 1) {
        assert_true(consumed >= 4 && consumed <= sizeof(s) - off);
        off += consumed;
        total += plen;
        frames++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(off, sizeof(s));
    assert_int_equal(frames, 4);
    assert_int_equal(total, 3);
}

static void frame_next_refuses_oversized_frames_from_the_header(void **state)
{
    static const uint8_t big[] = {0xff, 0xff, 0xff, 0xff};
    static const uint8_t eleven[] = {0, 0, 0, 11};
    static const uint8_t ten[] = {0, 0, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    static const uint8_t over_default[] = {0x04, 0x00, 0x00, 0x01}; /* 64 MiB + 1 */
    static const uint8_t at_default[] = {0x04, 0x00, 0x00, 0x00};   /* exactly 64 MiB: wait for it */
    const uint8_t *payload;
    size_t consumed, plen;

    assert_int_equal(ac_dist_frame_next(big, sizeof(big), 0, &consumed, &payload, &plen), -AC_ETOOLONG);
    assert_int_equal(ac_dist_frame_next(eleven, sizeof(eleven), 10, &consumed, &payload, &plen), -AC_ETOOLONG);
    assert_int_equal(ac_dist_frame_next(ten, sizeof(ten), 10, &consumed, &payload, &plen), 1);
    assert_int_equal(plen, 10);
    assert_int_equal(ac_dist_frame_next(over_default, 4, 0, &consumed, &payload, &plen), -AC_ETOOLONG);
    assert_int_equal(ac_dist_frame_next(at_default, 4, 0, &consumed, &payload, &plen), 0);
    assert_int_equal(AC_DIST_FRAME_MAX_DEFAULT, 64 * 1024 * 1024);
}

static void frame_next_refuses_bad_arguments(void **state)
{
    static const uint8_t t[] = {0, 0, 0, 0};
    const uint8_t *payload;
    size_t consumed, plen;

    assert_int_equal(ac_dist_frame_next(NULL, 4, 0, &consumed, &payload, &plen), -AC_EINVAL);
    assert_int_equal(ac_dist_frame_next(t, 4, 0, NULL, &payload, &plen), -AC_EINVAL);
    assert_int_equal(ac_dist_frame_next(t, 4, 0, &consumed, NULL, &plen), -AC_EINVAL);
    assert_int_equal(ac_dist_frame_next(t, 4, 0, &consumed, &payload, NULL), -AC_EINVAL);
    assert_int_equal(ac_dist_frame_next(NULL, 0, 0, &consumed, &payload, &plen), 0);
}

static void hs_frame_next_uses_two_byte_lengths_and_refuses_empty_messages(void **state)
{
    static const uint8_t msg[] = {0, 3, 's', 'o', 'k', 0xee};
    static const uint8_t empty[] = {0, 0};
    static const uint8_t big[] = {0xff, 0xff};
    const uint8_t *payload;
    size_t consumed, plen;

    for (size_t len = 0; len < 5; len++)
        assert_int_equal(ac_dist_hs_frame_next(msg, len, 0, &consumed, &payload, &plen), 0);
    assert_int_equal(ac_dist_hs_frame_next(msg, sizeof(msg), 0, &consumed, &payload, &plen), 1);
    assert_int_equal(consumed, 5);
    assert_int_equal(plen, 3);
    assert_memory_equal(payload, "sok", 3);
    assert_int_equal(ac_dist_hs_frame_next(empty, 2, 0, &consumed, &payload, &plen), -AC_EINVAL);
    assert_int_equal(ac_dist_hs_frame_next(big, 2, 0, &consumed, &payload, &plen), 0); /* 65535 is legal */
    assert_int_equal(ac_dist_hs_frame_next(big, 2, 512, &consumed, &payload, &plen), -AC_ETOOLONG);
    assert_int_equal(ac_dist_hs_frame_next(msg, sizeof(msg), 2, &consumed, &payload, &plen), -AC_ETOOLONG);
}

static void frame_header_round_trips(void **state)
{
    uint8_t h[4];
    const uint8_t *payload;
    size_t consumed, plen;

    assert_int_equal(ac_dist_frame_header(h, 0), 0);
    assert_memory_equal(h, "\0\0\0\0", 4);
    assert_int_equal(ac_dist_frame_header(h, 0x01020304), 0);
    assert_memory_equal(h, "\x01\x02\x03\x04", 4);
    assert_int_equal(ac_dist_frame_next(h, 4, SIZE_MAX, &consumed, &payload, &plen), 0); /* payload still missing */
    assert_int_equal(ac_dist_frame_header(h, UINT32_MAX), 0);
    assert_memory_equal(h, "\xff\xff\xff\xff", 4);
#if SIZE_MAX > UINT32_MAX
    assert_int_equal(ac_dist_frame_header(h, (size_t)UINT32_MAX + 1), -AC_ETOOLONG);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reader_decodes_big_endian),
        cmocka_unit_test(reader_refuses_reads_past_the_end_and_stays_put),
        cmocka_unit_test(reader_cstr_checks_both_bounds_before_copying),
        cmocka_unit_test(writer_encodes_big_endian_and_fails_sticky),
        cmocka_unit_test(frame_next_waits_for_a_whole_frame),
        cmocka_unit_test(frame_next_walks_a_stream),
        cmocka_unit_test(frame_next_refuses_oversized_frames_from_the_header),
        cmocka_unit_test(frame_next_refuses_bad_arguments),
        cmocka_unit_test(hs_frame_next_uses_two_byte_lengths_and_refuses_empty_messages),
        cmocka_unit_test(frame_header_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
