/* tests/interop/test_dist_etf_check.c - dist/etf_check.c's rules for atoms, which a BEAM node applies too: at most
 * 255 characters, and well-formed UTF-8 under the UTF-8 tags, for plain atoms and for the node names inside pids,
 * ports and references; and the bits of a bitstring's last byte. What a real node sends at those limits passes.
 * (The walk's bounds on lengths and depth are exercised by the fuzz targets' corpora.) */
#include "dist/etf_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum { NEW_PID = 88, NEWER_REF = 90, ATOM = 100, SMALL_ATOM = 115, ATOM_UTF8 = 118, SMALL_ATOM_UTF8 = 119 };

static uint8_t buf[4096];

/* An atom term of tag `tag` holding n bytes of text; returns its length. */
static size_t atom_term(uint8_t *b, int tag, const uint8_t *text, size_t n)
{
    size_t at = 0;
    b[at++] = (uint8_t)tag;
    if (tag == ATOM || tag == ATOM_UTF8) {
        b[at++] = (uint8_t)(n >> 8);
        b[at++] = (uint8_t)n;
    } else {
        b[at++] = (uint8_t)n;
    }
    memcpy(b + at, text, n);
    return at + n;
}

/* Whether the one term in buf[0..len) passes, and passing uses all of it. */
static int check(size_t len)
{
    size_t idx = 0;
    ac_errmsg_t err = {{0}};
    int rc = ac_dist_etf_check((const char *)buf, len, &idx, &err);
    if (rc == 0 && idx != len)
        return -1;
    return rc;
}

static void atoms_hold_at_most_255_characters(void **state)
{
    uint8_t text[1100];
    memset(text, 'a', sizeof(text));
    assert_int_equal(check(atom_term(buf, ATOM, text, 255)), 0);
    assert_int_not_equal(check(atom_term(buf, ATOM, text, 256)), 0);
    assert_int_equal(check(atom_term(buf, SMALL_ATOM, text, 255)), 0);
    /* UTF-8: characters, not bytes -- 255 two-byte characters pass, 256 do not */
    for (size_t i = 0; i < sizeof(text); i += 2) {
        text[i] = 0xC3;
        text[i + 1] = 0xA9; /* é */
    }
    assert_int_equal(check(atom_term(buf, ATOM_UTF8, text, 510)), 0);
    assert_int_not_equal(check(atom_term(buf, ATOM_UTF8, text, 512)), 0);
    assert_int_equal(check(atom_term(buf, SMALL_ATOM_UTF8, text, 254)), 0);
    /* 255 four-byte characters (1020 bytes) pass, 256 do not; the empty atom passes under every tag */
    for (size_t i = 0; i + 4 <= sizeof(text); i += 4) {
        text[i] = 0xF0;
        text[i + 1] = 0x9F;
        text[i + 2] = 0x98;
        text[i + 3] = 0x80; /* U+1F600 */
    }
    assert_int_equal(check(atom_term(buf, ATOM_UTF8, text, 1020)), 0);
    assert_int_not_equal(check(atom_term(buf, ATOM_UTF8, text, 1024)), 0);
    assert_int_equal(check(atom_term(buf, ATOM, text, 0)), 0);
    assert_int_equal(check(atom_term(buf, SMALL_ATOM, text, 0)), 0);
    assert_int_equal(check(atom_term(buf, ATOM_UTF8, text, 0)), 0);
    assert_int_equal(check(atom_term(buf, SMALL_ATOM_UTF8, text, 0)), 0);
}

static void utf8_atoms_must_be_well_formed(void **state)
{
    static const uint8_t ok[] = "caf\xC3\xA9";
    static const uint8_t bad[][4] = {{0xFF}, {0xC3}, {0xC0, 0x80}, {0xED, 0xA0, 0x80}, {0x80}};
    static const size_t badlen[] = {1, 1, 2, 3, 1};
    assert_int_equal(check(atom_term(buf, SMALL_ATOM_UTF8, ok, 5)), 0);
    assert_int_equal(check(atom_term(buf, ATOM_UTF8, ok, 5)), 0);
    for (size_t i = 0; i < sizeof(badlen) / sizeof(badlen[0]); i++) {
        assert_int_not_equal(check(atom_term(buf, SMALL_ATOM_UTF8, bad[i], badlen[i])), 0);
        assert_int_not_equal(check(atom_term(buf, ATOM_UTF8, bad[i], badlen[i])), 0);
        /* the same bytes as Latin-1 are characters like any other */
        assert_int_equal(check(atom_term(buf, SMALL_ATOM, bad[i], badlen[i])), 0);
    }
}

/* NEW_PID_EXT: node atom, ID, Serial, Creation (4 bytes each); NEWER_REFERENCE_EXT: Len, node, Creation, ids. */
static size_t pid_term(uint8_t *b, int atom_tag, const uint8_t *node, size_t n)
{
    b[0] = NEW_PID;
    size_t at = 1 + atom_term(b + 1, atom_tag, node, n);
    memset(b + at, 0, 12);
    return at + 12;
}

static size_t ref_term(uint8_t *b, int atom_tag, const uint8_t *node, size_t n)
{
    b[0] = NEWER_REF;
    b[1] = 0;
    b[2] = 3;
    size_t at = 3 + atom_term(b + 3, atom_tag, node, n);
    memset(b + at, 0, 4 + 12);
    return at + 16;
}

static void node_names_in_pids_and_references_follow_the_same_rules(void **state)
{
    static const uint8_t good[] = "peer@localhost";
    uint8_t bad[255];
    memset(bad, 0xFF, sizeof(bad));
    uint8_t longname[300];
    memset(longname, 'n', sizeof(longname));
    assert_int_equal(check(pid_term(buf, SMALL_ATOM_UTF8, good, 14)), 0);
    assert_int_equal(check(ref_term(buf, SMALL_ATOM_UTF8, good, 14)), 0);
    assert_int_not_equal(check(pid_term(buf, SMALL_ATOM_UTF8, bad, sizeof(bad))), 0);
    assert_int_not_equal(check(ref_term(buf, ATOM_UTF8, bad, 3)), 0);
    assert_int_equal(check(pid_term(buf, SMALL_ATOM, bad, sizeof(bad))), 0); /* Latin-1 */
    assert_int_not_equal(check(pid_term(buf, ATOM, longname, 256)), 0);
    assert_int_not_equal(check(ref_term(buf, ATOM, longname, 300)), 0);
    /* ports: NEW_PORT_EXT (node, ID 4, Creation 4) and V4_PORT_EXT (node, ID 8, Creation 4), as OTP 25 sends them */
    static const int port_tag[] = {89, 120};
    static const size_t port_tail[] = {8, 12};
    for (int k = 0; k < 2; k++) {
        buf[0] = (uint8_t)port_tag[k];
        size_t at = 1 + atom_term(buf + 1, SMALL_ATOM_UTF8, good, 14);
        memset(buf + at, 0, port_tail[k]);
        assert_int_equal(check(at + port_tail[k]), 0);
        at = 1 + atom_term(buf + 1, SMALL_ATOM_UTF8, bad, 2);
        memset(buf + at, 0, port_tail[k]);
        assert_int_not_equal(check(at + port_tail[k]), 0);
    }
    /* Latin-1 node names with bytes above 0x7F, as an old node may send them */
    static const uint8_t latin1[] = "n\xE9@h\xF4te";
    assert_int_equal(check(pid_term(buf, ATOM, latin1, 7)), 0);
}

/* BIT_BINARY_EXT: Len, Bits, data -- Bits 1 to 8 when there are bytes, 0 when there are none. */
static void bitstrings_say_how_many_bits_of_the_last_byte(void **state)
{
    static const struct {
        uint8_t len, bits;
        int ok;
    } cases[] = {{1, 1, 1}, {1, 8, 1}, {0, 0, 1}, {1, 0, 0}, {1, 9, 0}, {0, 3, 0}, {2, 112, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t b[] = {77, 0, 0, 0, cases[i].len, cases[i].bits, 0xAA, 0xBB};
        memcpy(buf, b, sizeof(b));
        int rc = check(6 + cases[i].len);
        if (cases[i].ok)
            assert_int_equal(rc, 0);
        else
            assert_int_not_equal(rc, 0);
    }
    /* in a list: refused as a whole, never measured short */
    static const uint8_t list[] = {108, 0, 0, 0, 2, 97, 1, 77, 0, 0, 0, 1, 112, 0xAA, 106};
    memcpy(buf, list, sizeof(list));
    assert_int_not_equal(check(sizeof(list)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(atoms_hold_at_most_255_characters),
        cmocka_unit_test(utf8_atoms_must_be_well_formed),
        cmocka_unit_test(node_names_in_pids_and_references_follow_the_same_rules),
        cmocka_unit_test(bitstrings_say_how_many_bits_of_the_last_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
