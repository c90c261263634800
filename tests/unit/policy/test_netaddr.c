/* tests/unit/policy/test_netaddr.c - policy/netaddr.c: the class of every special-purpose range (both edges of each),
 * IPv6 forms that carry IPv4 judged by the IPv4 address, socket addresses, the allow-list's strict parsing (every
 * refusal names the entry), matching (prefix edges, mapped addresses as IPv4), and the decision that an allow-list
 * cannot open unspecified, multicast or broadcast addresses. */
#include "policy/error.h"
#include "policy/netaddr.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    const char *addr;
    ac_policy_netaddr_class_t cls;
} case_t;

/* A socket address for text (IPv4 or IPv6), port 80. */
static socklen_t sockaddr_of(const char *text, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(80);
        return sizeof(*in);
    }
    if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(80);
        return sizeof(*in6);
    }
    fail_msg("bad test address %s", text);
    return 0;
}

static void expect_classes(const case_t *cases, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        struct sockaddr_storage ss;
        socklen_t len = sockaddr_of(cases[k].addr, &ss);
        ac_policy_netaddr_class_t got;
        assert_int_equal(ac_policy_netaddr_classify((struct sockaddr *)&ss, len, &got), 0);
        if (got != cases[k].cls)
            fail_msg("%s: expected %s, got %s", cases[k].addr, ac_policy_netaddr_class_name(cases[k].cls),
                     ac_policy_netaddr_class_name(got));
        /* the in_addr/in6_addr entry points agree (a mapped address through classify_v6 too) */
        ac_policy_netaddr_class_t direct =
            ss.ss_family == AF_INET ? ac_policy_netaddr_classify_v4(&((struct sockaddr_in *)&ss)->sin_addr)
                                    : ac_policy_netaddr_classify_v6(&((struct sockaddr_in6 *)&ss)->sin6_addr);
        if (direct != cases[k].cls)
            fail_msg("%s: direct classification gave %s", cases[k].addr, ac_policy_netaddr_class_name(direct));
    }
}

static bool allowed(const ac_policy_netaddr_allow_t *allow, const char *text)
{
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_of(text, &ss);
    return ac_policy_netaddr_allow_match(allow, (struct sockaddr *)&ss, len);
}

static int check(const ac_policy_netaddr_allow_t *allow, const char *text, ac_policy_netaddr_class_t *cls)
{
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_of(text, &ss);
    return ac_policy_netaddr_check(allow, (struct sockaddr *)&ss, len, cls);
}

/* ---- classes ------------------------------------------------------------------------------------------------------ */

static void ipv4_special_ranges_have_their_class_at_both_edges(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"0.0.0.0", AC_POLICY_NETADDR_UNSPECIFIED},
        {"0.0.0.1", AC_POLICY_NETADDR_RESERVED},
        {"0.255.255.255", AC_POLICY_NETADDR_RESERVED},
        {"1.0.0.0", AC_POLICY_NETADDR_PUBLIC},
        {"9.255.255.255", AC_POLICY_NETADDR_PUBLIC},
        {"10.0.0.0", AC_POLICY_NETADDR_PRIVATE},
        {"10.255.255.255", AC_POLICY_NETADDR_PRIVATE},
        {"11.0.0.0", AC_POLICY_NETADDR_PUBLIC},
        {"100.63.255.255", AC_POLICY_NETADDR_PUBLIC},
        {"100.64.0.0", AC_POLICY_NETADDR_SHARED},
        {"100.127.255.255", AC_POLICY_NETADDR_SHARED},
        {"100.128.0.0", AC_POLICY_NETADDR_PUBLIC},
        {"126.255.255.255", AC_POLICY_NETADDR_PUBLIC},
        {"127.0.0.0", AC_POLICY_NETADDR_LOOPBACK},
        {"127.0.0.1", AC_POLICY_NETADDR_LOOPBACK},
        {"127.255.255.255", AC_POLICY_NETADDR_LOOPBACK},
        {"128.0.0.0", AC_POLICY_NETADDR_PUBLIC},
        {"169.253.255.255", AC_POLICY_NETADDR_PUBLIC},
        {"169.254.0.0", AC_POLICY_NETADDR_LINK_LOCAL},
        {"169.254.169.254", AC_POLICY_NETADDR_LINK_LOCAL},
        {"169.254.255.255", AC_POLICY_NETADDR_LINK_LOCAL},
        {"169.255.0.0", AC_POLICY_NETADDR_PUBLIC},
        {"172.15.255.255", AC_POLICY_NETADDR_PUBLIC},
        {"172.16.0.0", AC_POLICY_NETADDR_PRIVATE},
        {"172.31.255.255", AC_POLICY_NETADDR_PRIVATE},
        {"172.32.0.0", AC_POLICY_NETADDR_PUBLIC},
        {"192.0.0.0", AC_POLICY_NETADDR_RESERVED},
        {"192.0.0.255", AC_POLICY_NETADDR_RESERVED},
        {"192.0.1.255", AC_POLICY_NETADDR_PUBLIC},
        {"192.0.2.0", AC_POLICY_NETADDR_DOCUMENTATION},
        {"192.0.2.255", AC_POLICY_NETADDR_DOCUMENTATION},
        {"192.0.3.0", AC_POLICY_NETADDR_PUBLIC},
        {"192.88.99.1", AC_POLICY_NETADDR_RESERVED},
        {"192.88.100.0", AC_POLICY_NETADDR_PUBLIC},
        {"192.167.255.255", AC_POLICY_NETADDR_PUBLIC},
        {"192.168.0.0", AC_POLICY_NETADDR_PRIVATE},
        {"192.168.255.255", AC_POLICY_NETADDR_PRIVATE},
        {"192.169.0.0", AC_POLICY_NETADDR_PUBLIC},
        {"198.17.255.255", AC_POLICY_NETADDR_PUBLIC},
        {"198.18.0.0", AC_POLICY_NETADDR_BENCHMARK},
        {"198.19.255.255", AC_POLICY_NETADDR_BENCHMARK},
        {"198.20.0.0", AC_POLICY_NETADDR_PUBLIC},
        {"198.51.99.255", AC_POLICY_NETADDR_PUBLIC},
        {"198.51.100.0", AC_POLICY_NETADDR_DOCUMENTATION},
        {"198.51.100.255", AC_POLICY_NETADDR_DOCUMENTATION},
        {"198.51.101.0", AC_POLICY_NETADDR_PUBLIC},
        {"203.0.112.255", AC_POLICY_NETADDR_PUBLIC},
        {"203.0.113.0", AC_POLICY_NETADDR_DOCUMENTATION},
        {"203.0.113.255", AC_POLICY_NETADDR_DOCUMENTATION},
        {"203.0.114.0", AC_POLICY_NETADDR_PUBLIC},
        {"223.255.255.255", AC_POLICY_NETADDR_PUBLIC},
        {"224.0.0.0", AC_POLICY_NETADDR_MULTICAST},
        {"239.255.255.255", AC_POLICY_NETADDR_MULTICAST},
        {"240.0.0.0", AC_POLICY_NETADDR_RESERVED},
        {"255.255.255.254", AC_POLICY_NETADDR_RESERVED},
        {"255.255.255.255", AC_POLICY_NETADDR_BROADCAST},
        {"8.8.8.8", AC_POLICY_NETADDR_PUBLIC},
        {"93.184.216.34", AC_POLICY_NETADDR_PUBLIC},
    };
    expect_classes(cases, N(cases));
}

static void ipv6_special_ranges_have_their_class_at_both_edges(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"::", AC_POLICY_NETADDR_UNSPECIFIED},
        {"::1", AC_POLICY_NETADDR_LOOPBACK},
        {"::2", AC_POLICY_NETADDR_RESERVED},       /* compatible 0.0.0.2 */
        {"::1:0:0:0", AC_POLICY_NETADDR_RESERVED}, /* outside 2000::/3 */
        {"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AC_POLICY_NETADDR_RESERVED},
        {"2000::", AC_POLICY_NETADDR_PUBLIC},
        {"2001:4860:4860::8888", AC_POLICY_NETADDR_PUBLIC},
        {"2a00:1450:4001:80b::200e", AC_POLICY_NETADDR_PUBLIC},
        {"3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AC_POLICY_NETADDR_PUBLIC},
        {"3fff::", AC_POLICY_NETADDR_DOCUMENTATION},
        {"3fff:0fff:ffff:ffff:ffff:ffff:ffff:ffff", AC_POLICY_NETADDR_DOCUMENTATION},
        {"3fff:1000::", AC_POLICY_NETADDR_PUBLIC},
        {"4000::", AC_POLICY_NETADDR_RESERVED},
        {"5f00::1", AC_POLICY_NETADDR_RESERVED},
        {"100::", AC_POLICY_NETADDR_RESERVED},
        {"100::ffff:ffff:ffff:ffff", AC_POLICY_NETADDR_RESERVED},
        {"2001::1", AC_POLICY_NETADDR_RESERVED}, /* Teredo */
        {"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", AC_POLICY_NETADDR_RESERVED},
        {"2001:200::", AC_POLICY_NETADDR_PUBLIC},
        {"2001:2::1", AC_POLICY_NETADDR_BENCHMARK},
        {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", AC_POLICY_NETADDR_PUBLIC},
        {"2001:db8::", AC_POLICY_NETADDR_DOCUMENTATION},
        {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", AC_POLICY_NETADDR_DOCUMENTATION},
        {"2001:db9::", AC_POLICY_NETADDR_PUBLIC},
        {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AC_POLICY_NETADDR_RESERVED},
        {"fc00::", AC_POLICY_NETADDR_PRIVATE},
        {"fd12:3456::1", AC_POLICY_NETADDR_PRIVATE},
        {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AC_POLICY_NETADDR_PRIVATE},
        {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AC_POLICY_NETADDR_RESERVED},
        {"fe80::", AC_POLICY_NETADDR_LINK_LOCAL},
        {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AC_POLICY_NETADDR_LINK_LOCAL},
        {"fec0::", AC_POLICY_NETADDR_SITE_LOCAL},
        {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AC_POLICY_NETADDR_SITE_LOCAL},
        {"ff00::", AC_POLICY_NETADDR_MULTICAST},
        {"ff02::1", AC_POLICY_NETADDR_MULTICAST},
        {"64:ff9b:1::1", AC_POLICY_NETADDR_PRIVATE},
        {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", AC_POLICY_NETADDR_PRIVATE},
    };
    expect_classes(cases, N(cases));
}

static void ipv6_forms_that_carry_ipv4_are_judged_by_the_ipv4_address(void **state)
{
    (void)state;
    static const case_t cases[] = {
        /* mapped ::ffff:0:0/96 */
        {"::ffff:127.0.0.1", AC_POLICY_NETADDR_LOOPBACK},
        {"::ffff:7f00:1", AC_POLICY_NETADDR_LOOPBACK},
        {"::ffff:0.0.0.0", AC_POLICY_NETADDR_UNSPECIFIED},
        {"::ffff:10.1.2.3", AC_POLICY_NETADDR_PRIVATE},
        {"::ffff:169.254.169.254", AC_POLICY_NETADDR_LINK_LOCAL},
        {"::ffff:255.255.255.255", AC_POLICY_NETADDR_BROADCAST},
        {"::ffff:8.8.8.8", AC_POLICY_NETADDR_PUBLIC},
        /* compatible ::/96 */
        {"::127.0.0.1", AC_POLICY_NETADDR_LOOPBACK},
        {"::192.168.1.1", AC_POLICY_NETADDR_PRIVATE},
        {"::8.8.8.8", AC_POLICY_NETADDR_PUBLIC},
        /* NAT64 well-known prefix */
        {"64:ff9b::127.0.0.1", AC_POLICY_NETADDR_LOOPBACK},
        {"64:ff9b::10.0.0.1", AC_POLICY_NETADDR_PRIVATE},
        {"64:ff9b::a9fe:a9fe", AC_POLICY_NETADDR_LINK_LOCAL},
        {"64:ff9b::8.8.8.8", AC_POLICY_NETADDR_PUBLIC},
        /* 6to4: the IPv4 address is in bits 16..47 */
        {"2002:7f00:1::", AC_POLICY_NETADDR_LOOPBACK},
        {"2002:a00:1::1", AC_POLICY_NETADDR_PRIVATE},
        {"2002:c0a8:101:1::1", AC_POLICY_NETADDR_PRIVATE},
        {"2002:a9fe:a9fe::", AC_POLICY_NETADDR_LINK_LOCAL},
        {"2002:6440:1::", AC_POLICY_NETADDR_SHARED},
        {"2002:808:808::1", AC_POLICY_NETADDR_PUBLIC},
        /* SIIT ::ffff:0:0:0/96 is outside 2000::/3 and not a recognised embedding: reserved */
        {"::ffff:0:8.8.8.8", AC_POLICY_NETADDR_RESERVED},
    };
    expect_classes(cases, N(cases));
}

static void unusable_socket_addresses_are_refused_as_reserved(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    ac_policy_netaddr_class_t cls = AC_POLICY_NETADDR_PUBLIC;
    socklen_t len = sockaddr_of("8.8.8.8", &ss);
    assert_int_equal(ac_policy_netaddr_classify((struct sockaddr *)&ss, len - 1, &cls), -AC_EINVAL);
    assert_int_equal(cls, AC_POLICY_NETADDR_RESERVED);
    cls = AC_POLICY_NETADDR_PUBLIC;
    len = sockaddr_of("2001:4860:4860::8888", &ss);
    assert_int_equal(ac_policy_netaddr_classify((struct sockaddr *)&ss, sizeof(struct sockaddr_in), &cls), -AC_EINVAL);
    assert_int_equal(cls, AC_POLICY_NETADDR_RESERVED);
    ss.ss_family = AF_UNIX;
    cls = AC_POLICY_NETADDR_PUBLIC;
    assert_int_equal(ac_policy_netaddr_classify((struct sockaddr *)&ss, sizeof(ss), &cls), -AC_EINVAL);
    assert_int_equal(cls, AC_POLICY_NETADDR_RESERVED);
    assert_int_equal(ac_policy_netaddr_classify(NULL, sizeof(ss), &cls), -AC_EINVAL);
    assert_int_equal(ac_policy_netaddr_classify((struct sockaddr *)&ss, sizeof(ss), NULL), -AC_EINVAL);
    assert_int_equal(ac_policy_netaddr_check(NULL, (struct sockaddr *)&ss, sizeof(ss), &cls), -AC_EINVAL);
    assert_int_equal(ac_policy_netaddr_check(NULL, NULL, 0, NULL), -AC_EINVAL);
    assert_false(ac_policy_netaddr_allow_match(NULL, NULL, 0));
}

static void every_class_has_a_name_and_a_description(void **state)
{
    (void)state;
    for (int c = AC_POLICY_NETADDR_PUBLIC; c <= AC_POLICY_NETADDR_RESERVED; c++) {
        assert_non_null(ac_policy_netaddr_class_name((ac_policy_netaddr_class_t)c));
        assert_non_null(strstr(ac_policy_netaddr_class_desc((ac_policy_netaddr_class_t)c), "address"));
    }
    assert_string_equal(ac_policy_netaddr_class_name(AC_POLICY_NETADDR_LINK_LOCAL), "link-local");
    assert_string_equal(ac_policy_netaddr_class_desc(AC_POLICY_NETADDR_PRIVATE), "a private address");
    assert_string_equal(ac_policy_netaddr_class_desc(AC_POLICY_NETADDR_LOOPBACK), "a loopback address");
    assert_string_equal(ac_policy_netaddr_class_name((ac_policy_netaddr_class_t)99), "reserved");
    assert_string_equal(ac_policy_netaddr_class_desc((ac_policy_netaddr_class_t)-1), "a reserved address");
}

/* ---- the allow-list ----------------------------------------------------------------------------------------------- */

static void the_allow_list_takes_addresses_and_cidrs_of_both_families(void **state)
{
    (void)state;
    ac_policy_netaddr_allow_t allow;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_policy_netaddr_allow_parse(
                         &allow, " 127.0.0.1/32,10.0.0.0/8 , 192.168.1.7\tfd00::/8\n::1,,fe80::/10 ", &err),
                     0);
    assert_int_equal(allow.n, 6);
    assert_int_equal(allow.entries[0].family, AF_INET);
    assert_int_equal(allow.entries[0].prefix, 32);
    assert_int_equal(allow.entries[2].prefix, 32);
    assert_int_equal(allow.entries[3].family, AF_INET6);
    assert_int_equal(allow.entries[3].prefix, 8);
    assert_int_equal(allow.entries[4].prefix, 128);

    assert_true(allowed(&allow, "127.0.0.1"));
    assert_false(allowed(&allow, "127.0.0.2"));
    assert_true(allowed(&allow, "10.0.0.0"));
    assert_true(allowed(&allow, "10.255.255.255"));
    assert_false(allowed(&allow, "11.0.0.0"));
    assert_false(allowed(&allow, "9.255.255.255"));
    assert_true(allowed(&allow, "192.168.1.7"));
    assert_false(allowed(&allow, "192.168.1.8"));
    assert_true(allowed(&allow, "fd12::1"));
    assert_false(allowed(&allow, "fc00::1"));
    assert_true(allowed(&allow, "::1"));
    assert_false(allowed(&allow, "::2"));
    assert_true(allowed(&allow, "febf::1"));
    assert_false(allowed(&allow, "fec0::1"));
}

static void mapped_addresses_match_as_ipv4(void **state)
{
    (void)state;
    ac_policy_netaddr_allow_t allow;
    assert_int_equal(ac_policy_netaddr_allow_parse(&allow, "127.0.0.1/32", NULL), 0);
    assert_true(allowed(&allow, "::ffff:127.0.0.1"));
    assert_false(allowed(&allow, "::ffff:127.0.0.2"));
    assert_false(allowed(&allow, "::127.0.0.1")); /* compatible is not the same destination */
    assert_false(allowed(&allow, "64:ff9b::127.0.0.1"));

    /* an entry written in the mapped form is the IPv4 network */
    assert_int_equal(ac_policy_netaddr_allow_parse(&allow, "::ffff:10.0.0.0/104", NULL), 0);
    assert_int_equal(allow.entries[0].family, AF_INET);
    assert_int_equal(allow.entries[0].prefix, 8);
    assert_true(allowed(&allow, "10.9.9.9"));
    assert_true(allowed(&allow, "::ffff:10.9.9.9"));
    assert_false(allowed(&allow, "11.0.0.1"));

    /* ::/0 is IPv6 only: a mapped address is an IPv4 destination */
    assert_int_equal(ac_policy_netaddr_allow_parse(&allow, "::/0", NULL), 0);
    assert_true(allowed(&allow, "fd00::1"));
    assert_false(allowed(&allow, "::ffff:10.0.0.1"));
    assert_false(allowed(&allow, "10.0.0.1"));
}

static void prefix_edges_match_exactly(void **state)
{
    (void)state;
    ac_policy_netaddr_allow_t allow;
    assert_int_equal(ac_policy_netaddr_allow_parse(&allow, "172.16.0.0/12 100.64.0.0/10 2001:db8:8000::/33", NULL), 0);
    assert_true(allowed(&allow, "172.31.255.255"));
    assert_false(allowed(&allow, "172.32.0.0"));
    assert_false(allowed(&allow, "172.15.255.255"));
    assert_true(allowed(&allow, "100.127.0.1"));
    assert_false(allowed(&allow, "100.128.0.1"));
    assert_true(allowed(&allow, "2001:db8:8000::1"));
    assert_true(allowed(&allow, "2001:db8:ffff::1"));
    assert_false(allowed(&allow, "2001:db8:7fff::1"));

    assert_int_equal(ac_policy_netaddr_allow_parse(&allow, "0.0.0.0/0", NULL), 0);
    assert_true(allowed(&allow, "10.0.0.1"));
    assert_true(allowed(&allow, "255.255.255.255"));
    assert_false(allowed(&allow, "fd00::1"));
}

static void empty_lists_match_nothing(void **state)
{
    (void)state;
    ac_policy_netaddr_allow_t allow;
    static const char *const empties[] = {"", " ", ", ,\t\n", ","};
    for (size_t k = 0; k < N(empties); k++) {
        assert_int_equal(ac_policy_netaddr_allow_parse(&allow, empties[k], NULL), 0);
        assert_int_equal(allow.n, 0);
        assert_false(allowed(&allow, "127.0.0.1"));
    }
    assert_int_equal(ac_policy_netaddr_allow_parse(&allow, NULL, NULL), 0);
    assert_int_equal(allow.n, 0);
    assert_int_equal(ac_policy_netaddr_allow_parse(NULL, "127.0.0.1", NULL), -AC_EINVAL);
}

static void bad_entries_are_refused_and_named(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"127.1", "allow-list entry 1 \"127.1\": not an IPv4 address (four decimal parts 0 to 255)"},
        {"10.0.0.0/8, 0x7f.0.0.1", "allow-list entry 2 \"0x7f.0.0.1\": not an IPv4 address"},
        {"2130706433", "allow-list entry 1 \"2130706433\": not an IPv4 address"},
        {"127.000.0.1", "allow-list entry 1 \"127.000.0.1\": not an IPv4 address"},
        {"010.0.0.1", "allow-list entry 1 \"010.0.0.1\": not an IPv4 address"},
        {"256.0.0.1", "allow-list entry 1 \"256.0.0.1\": not an IPv4 address"},
        {"1.2.3.4.5", "allow-list entry 1 \"1.2.3.4.5\": not an IPv4 address"},
        {"1.2.3.", "allow-list entry 1 \"1.2.3.\": not an IPv4 address"},
        {"+1.2.3.4", "allow-list entry 1 \"+1.2.3.4\": not an IPv4 address"},
        {"localhost", "allow-list entry 1 \"localhost\": not an IPv4 address"},
        {"a b", "allow-list entry 1 \"a\": not an IPv4 address"},
        {"::1 [::1]", "allow-list entry 2 \"[::1]\": not an IPv6 address (no brackets or zone)"},
        {"fe80::1%eth0", "allow-list entry 1 \"fe80::1%eth0\": not an IPv6 address"},
        {"1::2::3", "allow-list entry 1 \"1::2::3\": not an IPv6 address"},
        {"10.0.0.0/33", "allow-list entry 1 \"10.0.0.0/33\": prefix must be 0 to 32"},
        {"10.0.0.0/", "allow-list entry 1 \"10.0.0.0/\": prefix must be 0 to 32"},
        {"10.0.0.0/08", "allow-list entry 1 \"10.0.0.0/08\": prefix must be 0 to 32"},
        {"10.0.0.0/-8", "allow-list entry 1 \"10.0.0.0/-8\": prefix must be 0 to 32"},
        {"10.0.0.0/8/8", "allow-list entry 1 \"10.0.0.0/8/8\": prefix must be 0 to 32"},
        {"fd00::/129", "allow-list entry 1 \"fd00::/129\": prefix must be 0 to 128"},
        {"fd00::/1000", "allow-list entry 1 \"fd00::/1000\": prefix must be 0 to 128"},
        {"10.1.0.0/8", "allow-list entry 1 \"10.1.0.0/8\": bits set after the prefix (the network is 10.0.0.0/8)"},
        {"172.17.0.0/12",
         "allow-list entry 1 \"172.17.0.0/12\": bits set after the prefix (the network is 172.16.0.0/12)"},
        {"fd00::1/8", "allow-list entry 1 \"fd00::1/8\": bits set after the prefix (the network is fd00::/8)"},
        {"127.0.0.1;10.0.0.0/8", "allow-list entry 1 \"127.0.0.1;10.0.0.0/8\": not an IPv4 address"},
        {"1.1.1.1 \x01\xff", "allow-list entry 2 \"??\": not an IPv4 address"},
    };
    for (size_t k = 0; k < N(cases); k++) {
        ac_policy_netaddr_allow_t allow;
        ac_errmsg_t err = {{0}};
        assert_int_equal(ac_policy_netaddr_allow_parse(&allow, cases[k].text, &err), -AC_EINVAL);
        if (strncmp(err.msg, cases[k].msg, strlen(cases[k].msg)) != 0)
            fail_msg("%s: expected [%s], got [%s]", cases[k].text, cases[k].msg, err.msg);
        assert_int_equal(allow.n, 0); /* nothing half-parsed survives */
    }
}

static void a_long_entry_is_cut_in_the_message(void **state)
{
    (void)state;
    char text[300];
    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    ac_policy_netaddr_allow_t allow;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_policy_netaddr_allow_parse(&allow, text, &err), -AC_EINVAL);
    assert_non_null(strstr(err.msg, "...\": too long"));
    assert_true(strlen(err.msg) < 120);

    /* the longest IPv6 spelling with a prefix still fits */
    assert_int_equal(ac_policy_netaddr_allow_parse(&allow, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", &err),
                     0);
}

static void at_most_64_entries(void **state)
{
    (void)state;
    char text[64 * 16 + 32] = "";
    size_t len = 0;
    for (int i = 0; i < 64; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "10.0.%d.0/24,", i);
    ac_policy_netaddr_allow_t allow;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_policy_netaddr_allow_parse(&allow, text, &err), 0);
    assert_int_equal(allow.n, 64);
    assert_true(allowed(&allow, "10.0.63.9"));
    snprintf(text + len, sizeof(text) - len, " 10.0.64.0/24");
    assert_int_equal(ac_policy_netaddr_allow_parse(&allow, text, &err), -AC_ETOOLONG);
    assert_string_equal(err.msg, "allow-list has more than 64 entries");
    assert_int_equal(allow.n, 0);
}

/* ---- the decision ------------------------------------------------------------------------------------------------- */

static void check_passes_public_and_allow_listed_addresses_only(void **state)
{
    (void)state;
    ac_policy_netaddr_allow_t allow;
    ac_policy_netaddr_class_t cls;
    assert_int_equal(ac_policy_netaddr_allow_parse(&allow, "127.0.0.1/32 10.0.0.0/8", NULL), 0);

    assert_int_equal(check(NULL, "8.8.8.8", &cls), 0);
    assert_int_equal(cls, AC_POLICY_NETADDR_PUBLIC);
    assert_int_equal(check(NULL, "2001:4860:4860::8888", NULL), 0);

    assert_int_equal(check(NULL, "127.0.0.1", &cls), -AC_EPERM);
    assert_int_equal(cls, AC_POLICY_NETADDR_LOOPBACK);
    assert_int_equal(check(&allow, "127.0.0.1", &cls), 0);
    assert_int_equal(cls, AC_POLICY_NETADDR_LOOPBACK); /* the class is still told */
    assert_int_equal(check(&allow, "::ffff:127.0.0.1", NULL), 0);
    assert_int_equal(check(&allow, "127.0.0.2", NULL), -AC_EPERM);
    assert_int_equal(check(&allow, "::1", &cls), -AC_EPERM);
    assert_int_equal(cls, AC_POLICY_NETADDR_LOOPBACK);
    assert_int_equal(check(&allow, "10.20.30.40", NULL), 0);
    assert_int_equal(check(&allow, "192.168.0.1", &cls), -AC_EPERM);
    assert_int_equal(cls, AC_POLICY_NETADDR_PRIVATE);
    assert_int_equal(check(&allow, "169.254.169.254", &cls), -AC_EPERM);
    assert_int_equal(cls, AC_POLICY_NETADDR_LINK_LOCAL);
    assert_int_equal(check(&allow, "64:ff9b::a00:1", &cls), -AC_EPERM); /* NAT64 10.0.0.1: an IPv6 destination */
    assert_int_equal(cls, AC_POLICY_NETADDR_PRIVATE);
}

static void no_allow_list_opens_unspecified_multicast_or_broadcast(void **state)
{
    (void)state;
    ac_policy_netaddr_allow_t allow;
    ac_policy_netaddr_class_t cls;
    assert_int_equal(ac_policy_netaddr_allow_parse(&allow, "0.0.0.0/0 ::/0", NULL), 0);
    assert_int_equal(check(&allow, "0.0.0.0", &cls), -AC_EPERM);
    assert_int_equal(cls, AC_POLICY_NETADDR_UNSPECIFIED);
    assert_int_equal(check(&allow, "::", &cls), -AC_EPERM);
    assert_int_equal(check(&allow, "::ffff:0.0.0.0", &cls), -AC_EPERM);
    assert_int_equal(cls, AC_POLICY_NETADDR_UNSPECIFIED);
    assert_int_equal(check(&allow, "224.0.0.1", &cls), -AC_EPERM);
    assert_int_equal(cls, AC_POLICY_NETADDR_MULTICAST);
    assert_int_equal(check(&allow, "ff02::1", NULL), -AC_EPERM);
    assert_int_equal(check(&allow, "255.255.255.255", &cls), -AC_EPERM);
    assert_int_equal(cls, AC_POLICY_NETADDR_BROADCAST);
    /* everything else is opened by such a list */
    assert_int_equal(check(&allow, "127.0.0.1", NULL), 0);
    assert_int_equal(check(&allow, "240.0.0.1", NULL), 0);
    assert_int_equal(check(&allow, "fe80::1", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ipv4_special_ranges_have_their_class_at_both_edges),
        cmocka_unit_test(ipv6_special_ranges_have_their_class_at_both_edges),
        cmocka_unit_test(ipv6_forms_that_carry_ipv4_are_judged_by_the_ipv4_address),
        cmocka_unit_test(unusable_socket_addresses_are_refused_as_reserved),
        cmocka_unit_test(every_class_has_a_name_and_a_description),
        cmocka_unit_test(the_allow_list_takes_addresses_and_cidrs_of_both_families),
        cmocka_unit_test(mapped_addresses_match_as_ipv4),
        cmocka_unit_test(prefix_edges_match_exactly),
        cmocka_unit_test(empty_lists_match_nothing),
        cmocka_unit_test(bad_entries_are_refused_and_named),
        cmocka_unit_test(a_long_entry_is_cut_in_the_message),
        cmocka_unit_test(at_most_64_entries),
        cmocka_unit_test(check_passes_public_and_allow_listed_addresses_only),
        cmocka_unit_test(no_allow_list_opens_unspecified_multicast_or_broadcast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
