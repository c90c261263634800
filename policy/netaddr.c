/* policy/netaddr.c - special-purpose IP address classes and the web_read allow-list (netaddr.h).
 *
 * The two range tables below are the security-relevant content of this file: an address that no row matches is
 * public (IPv4) or, for IPv6, public only inside 2000::/3. Rows are tried in order and the first match wins, so a
 * narrower range comes before a wider one that contains it. Everything else is prefix comparison and the strict
 * parsing of allow-list entries. Sources: the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890,
 * RFC 8190), RFC 6598 (shared address space), RFC 8215 (local-use NAT64), RFC 9637 (3fff::/20). */
#include "policy/netaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    uint8_t net[4];
    uint8_t prefix;
    ac_policy_netaddr_class_t cls;
} v4_range_t;

static const v4_range_t v4_ranges[] = {
    {{0, 0, 0, 0}, 32, AC_POLICY_NETADDR_UNSPECIFIED},
    {{255, 255, 255, 255}, 32, AC_POLICY_NETADDR_BROADCAST},
    {{0, 0, 0, 0}, 8, AC_POLICY_NETADDR_RESERVED}, /* "this network" */
    {{10, 0, 0, 0}, 8, AC_POLICY_NETADDR_PRIVATE},
    {{100, 64, 0, 0}, 10, AC_POLICY_NETADDR_SHARED},
    {{127, 0, 0, 0}, 8, AC_POLICY_NETADDR_LOOPBACK},
    {{169, 254, 0, 0}, 16, AC_POLICY_NETADDR_LINK_LOCAL},
    {{172, 16, 0, 0}, 12, AC_POLICY_NETADDR_PRIVATE},
    {{192, 0, 0, 0}, 24, AC_POLICY_NETADDR_RESERVED}, /* IETF protocol assignments (DS-Lite, NAT64 discovery) */
    {{192, 0, 2, 0}, 24, AC_POLICY_NETADDR_DOCUMENTATION},
    {{192, 88, 99, 0}, 24, AC_POLICY_NETADDR_RESERVED}, /* 6to4 relay anycast, deprecated */
    {{192, 168, 0, 0}, 16, AC_POLICY_NETADDR_PRIVATE},
    {{198, 18, 0, 0}, 15, AC_POLICY_NETADDR_BENCHMARK},
    {{198, 51, 100, 0}, 24, AC_POLICY_NETADDR_DOCUMENTATION},
    {{203, 0, 113, 0}, 24, AC_POLICY_NETADDR_DOCUMENTATION},
    {{224, 0, 0, 0}, 4, AC_POLICY_NETADDR_MULTICAST},
    {{240, 0, 0, 0}, 4, AC_POLICY_NETADDR_RESERVED}, /* future use */
};

/* embed >= 0: the range carries an IPv4 address at that byte offset, and the address gets its class. */
typedef struct {
    uint8_t net[16];
    uint8_t prefix;
    int8_t embed;
    ac_policy_netaddr_class_t cls;
} v6_range_t;

static const v6_range_t v6_ranges[] = {
    {{0}, 128, -1, AC_POLICY_NETADDR_UNSPECIFIED},                                           /* :: */
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, -1, AC_POLICY_NETADDR_LOOPBACK}, /* ::1 */
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, 12, AC_POLICY_NETADDR_PUBLIC},          /* ::ffff:0:0/96 mapped */
    {{0}, 96, 12, AC_POLICY_NETADDR_PUBLIC},                                                 /* ::/96 compatible */
    {{0x00, 0x64, 0xff, 0x9b}, 96, 12, AC_POLICY_NETADDR_PUBLIC},                            /* 64:ff9b::/96 NAT64 */
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, -1, AC_POLICY_NETADDR_PRIVATE},               /* 64:ff9b:1::/48 */
    {{0x01, 0x00}, 64, -1, AC_POLICY_NETADDR_RESERVED},                                      /* 100::/64 discard */
    {{0x20, 0x01, 0x00, 0x02, 0x00, 0x00}, 48, -1, AC_POLICY_NETADDR_BENCHMARK},             /* 2001:2::/48 */
    {{0x20, 0x01, 0x00, 0x00}, 23, -1, AC_POLICY_NETADDR_RESERVED},                          /* 2001::/23, Teredo */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, -1, AC_POLICY_NETADDR_DOCUMENTATION},                     /* 2001:db8::/32 */
    {{0x20, 0x02}, 16, 2, AC_POLICY_NETADDR_PUBLIC},                                         /* 2002::/16 6to4 */
    {{0x3f, 0xff, 0x00}, 20, -1, AC_POLICY_NETADDR_DOCUMENTATION},                           /* 3fff::/20 */
    {{0xfc}, 7, -1, AC_POLICY_NETADDR_PRIVATE},                                              /* fc00::/7 ULA */
    {{0xfe, 0x80}, 10, -1, AC_POLICY_NETADDR_LINK_LOCAL},                                    /* fe80::/10 */
    {{0xfe, 0xc0}, 10, -1, AC_POLICY_NETADDR_SITE_LOCAL},                                    /* fec0::/10 */
    {{0xff}, 8, -1, AC_POLICY_NETADDR_MULTICAST},                                            /* ff00::/8 */
};

/* Global unicast, 2000::/3: the only IPv6 space that may be public. */
static const uint8_t v6_global[16] = {0x20};

static const char *const class_names[] = {
    [AC_POLICY_NETADDR_PUBLIC] = "public",         [AC_POLICY_NETADDR_UNSPECIFIED] = "unspecified",
    [AC_POLICY_NETADDR_LOOPBACK] = "loopback",     [AC_POLICY_NETADDR_PRIVATE] = "private",
    [AC_POLICY_NETADDR_LINK_LOCAL] = "link-local", [AC_POLICY_NETADDR_SITE_LOCAL] = "site-local",
    [AC_POLICY_NETADDR_SHARED] = "shared",         [AC_POLICY_NETADDR_MULTICAST] = "multicast",
    [AC_POLICY_NETADDR_BROADCAST] = "broadcast",   [AC_POLICY_NETADDR_DOCUMENTATION] = "documentation",
    [AC_POLICY_NETADDR_BENCHMARK] = "benchmark",   [AC_POLICY_NETADDR_RESERVED] = "reserved",
};

static const char *const class_descs[] = {
    [AC_POLICY_NETADDR_PUBLIC] = "a public address",
    [AC_POLICY_NETADDR_UNSPECIFIED] = "an unspecified address",
    [AC_POLICY_NETADDR_LOOPBACK] = "a loopback address",
    [AC_POLICY_NETADDR_PRIVATE] = "a private address",
    [AC_POLICY_NETADDR_LINK_LOCAL] = "a link-local address",
    [AC_POLICY_NETADDR_SITE_LOCAL] = "a site-local address",
    [AC_POLICY_NETADDR_SHARED] = "a carrier-grade NAT address",
    [AC_POLICY_NETADDR_MULTICAST] = "a multicast address",
    [AC_POLICY_NETADDR_BROADCAST] = "a broadcast address",
    [AC_POLICY_NETADDR_DOCUMENTATION] = "a documentation address",
    [AC_POLICY_NETADDR_BENCHMARK] = "a benchmarking address",
    [AC_POLICY_NETADDR_RESERVED] = "a reserved address",
};

#define N_CLASSES (sizeof(class_names) / sizeof(class_names[0]))

/* Bytes of a refused allow-list entry that go into an error message. */
#define SHOWN_MAX 48

/* Whether the first `prefix` bits of a and net are equal. */
static bool in_prefix(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return ((a[full] ^ net[full]) & mask) == 0;
}

static ac_policy_netaddr_class_t classify4(const uint8_t a[4])
{
    for (size_t k = 0; k < sizeof(v4_ranges) / sizeof(v4_ranges[0]); k++)
        if (in_prefix(a, v4_ranges[k].net, v4_ranges[k].prefix))
            return v4_ranges[k].cls;
    return AC_POLICY_NETADDR_PUBLIC;
}

static ac_policy_netaddr_class_t classify6(const uint8_t a[16])
{
    for (size_t k = 0; k < sizeof(v6_ranges) / sizeof(v6_ranges[0]); k++) {
        const v6_range_t *r = &v6_ranges[k];
        if (in_prefix(a, r->net, r->prefix))
            return r->embed >= 0 ? classify4(a + r->embed) : r->cls;
    }
    return in_prefix(a, v6_global, 3) ? AC_POLICY_NETADDR_PUBLIC : AC_POLICY_NETADDR_RESERVED;
}

ac_policy_netaddr_class_t ac_policy_netaddr_classify_v4(const struct in_addr *a)
{
    uint8_t b[4];
    memcpy(b, &a->s_addr, 4);
    return classify4(b);
}

ac_policy_netaddr_class_t ac_policy_netaddr_classify_v6(const struct in6_addr *a)
{
    return classify6(a->s6_addr);
}

/* The address of sa as family and bytes; an IPv4-mapped IPv6 address becomes IPv4. Returns false for an unusable
 * sa. */
static bool sockaddr_bytes(const struct sockaddr *sa, socklen_t len, int *family, uint8_t out[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof(in));
        memcpy(out, &in.sin_addr.s_addr, 4);
        *family = AF_INET;
        return true;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof(in6));
        if (memcmp(in6.sin6_addr.s6_addr, mapped, sizeof(mapped)) == 0) {
            memcpy(out, in6.sin6_addr.s6_addr + 12, 4);
            *family = AF_INET;
        } else {
            memcpy(out, in6.sin6_addr.s6_addr, 16);
            *family = AF_INET6;
        }
        return true;
    }
    return false;
}

int ac_policy_netaddr_classify(const struct sockaddr *sa, socklen_t len, ac_policy_netaddr_class_t *out)
{
    uint8_t b[16];
    int family;
    if (out == NULL)
        return -AC_EINVAL;
    *out = AC_POLICY_NETADDR_RESERVED;
    if (!sockaddr_bytes(sa, len, &family, b))
        return -AC_EINVAL;
    *out = family == AF_INET ? classify4(b) : classify6(b);
    return 0;
}

const char *ac_policy_netaddr_class_name(ac_policy_netaddr_class_t cls)
{
    return (unsigned)cls < N_CLASSES ? class_names[cls] : class_names[AC_POLICY_NETADDR_RESERVED];
}

const char *ac_policy_netaddr_class_desc(ac_policy_netaddr_class_t cls)
{
    return (unsigned)cls < N_CLASSES ? class_descs[cls] : class_descs[AC_POLICY_NETADDR_RESERVED];
}

/* ---- the allow-list ------------------------------------------------------------------------------------------- */

/* Copies at most SHOWN_MAX bytes of s[0..n) into out (SHOWN_MAX + 4 bytes), bytes outside printable ASCII as '?'
 * and "..." when cut: the text comes from a setting and ends up in logs and on the admin page. */
static void shown(const char *s, size_t n, char out[SHOWN_MAX + 4])
{
    size_t i = 0;
    for (; i < n && i < SHOWN_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (i < n) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* A decimal number without sign or leading zeros, at most max. Returns it, or -1. */
static int parse_dec(const char *s, size_t n, int max)
{
    int v = 0;
    if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

/* Exactly four decimal parts 0..255 separated by dots: the one IPv4 spelling an allow-list takes. */
static bool parse_quad(const char *s, uint8_t out[4])
{
    for (int part = 0; part < 4; part++) {
        size_t n = strcspn(s, ".");
        int v = parse_dec(s, n, 255);
        if (v < 0 || (part < 3 ? s[n] != '.' : s[n] != '\0'))
            return false;
        out[part] = (uint8_t)v;
        s += n + 1;
    }
    return true;
}

/* Parses one entry s[0..n) (n <= AC_POLICY_NETADDR_ENTRY_MAX) into *e. Returns NULL, or why it is refused. */
static const char *parse_entry(const char *s, size_t n, ac_policy_netaddr_cidr_t *e, char *why, size_t why_cap)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char addr[AC_POLICY_NETADDR_ENTRY_MAX + 1];
    const char *slash = memchr(s, '/', n);
    size_t addr_len = slash != NULL ? (size_t)(slash - s) : n;
    memcpy(addr, s, addr_len);
    addr[addr_len] = '\0';

    memset(e, 0, sizeof(*e));
    if (memchr(addr, ':', addr_len) != NULL) {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, addr, &a6) != 1)
            return "not an IPv6 address (no brackets or zone)";
        e->family = AF_INET6;
        memcpy(e->bytes, a6.s6_addr, 16);
    } else {
        if (!parse_quad(addr, e->bytes))
            return "not an IPv4 address (four decimal parts 0 to 255)";
        e->family = AF_INET;
    }
    int max = e->family == AF_INET ? 32 : 128;
    if (slash == NULL) {
        e->prefix = (uint8_t)max;
    } else {
        int p = parse_dec(slash + 1, n - addr_len - 1, max);
        if (p < 0)
            return e->family == AF_INET ? "prefix must be 0 to 32" : "prefix must be 0 to 128";
        e->prefix = (uint8_t)p;
    }
    /* Bits past the prefix must be zero; say which network that would be. */
    uint8_t net[16] = {0};
    memcpy(net, e->bytes, (size_t)e->prefix / 8);
    if (e->prefix % 8 != 0)
        net[e->prefix / 8] = (uint8_t)(e->bytes[e->prefix / 8] & (0xff << (8 - e->prefix % 8)));
    if (memcmp(net, e->bytes, e->family == AF_INET ? 4 : 16) != 0) {
        char text[INET6_ADDRSTRLEN];
        inet_ntop(e->family, net, text, sizeof(text));
        snprintf(why, why_cap, "bits set after the prefix (the network is %s/%u)", text, e->prefix);
        return why;
    }
    /* ::ffff:a.b.c.d/n is the IPv4 network a.b.c.d/(n - 96): mapped addresses are matched as IPv4. */
    if (e->family == AF_INET6 && e->prefix >= 96 && memcmp(e->bytes, mapped, sizeof(mapped)) == 0) {
        memmove(e->bytes, e->bytes + 12, 4);
        memset(e->bytes + 4, 0, 12);
        e->family = AF_INET;
        e->prefix = (uint8_t)(e->prefix - 96);
    }
    return NULL;
}

static bool is_separator(char c)
{
    return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int ac_policy_netaddr_allow_parse(ac_policy_netaddr_allow_t *allow, const char *text, ac_errmsg_t *err)
{
    char show[SHOWN_MAX + 4], why_buf[128];
    size_t index = 0;
    if (allow == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "no place for the allow-list");
    memset(allow, 0, sizeof(*allow));
    if (text == NULL)
        return 0;
    for (const char *p = text;;) {
        while (*p != '\0' && is_separator(*p))
            p++;
        if (*p == '\0')
            return 0;
        size_t n = 0;
        while (p[n] != '\0' && !is_separator(p[n]))
            n++;
        index++;
        if (allow->n == AC_POLICY_NETADDR_ALLOW_MAX) {
            memset(allow, 0, sizeof(*allow));
            return ac_errmsg_set(err, -AC_ETOOLONG, "allow-list has more than %d entries", AC_POLICY_NETADDR_ALLOW_MAX);
        }
        const char *why = n > AC_POLICY_NETADDR_ENTRY_MAX
                              ? "too long"
                              : parse_entry(p, n, &allow->entries[allow->n], why_buf, sizeof(why_buf));
        if (why != NULL) {
            shown(p, n, show);
            memset(allow, 0, sizeof(*allow));
            return ac_errmsg_set(err, -AC_EINVAL, "allow-list entry %zu \"%s\": %s", index, show, why);
        }
        allow->n++;
        p += n;
    }
}

bool ac_policy_netaddr_allow_match(const ac_policy_netaddr_allow_t *allow, const struct sockaddr *sa, socklen_t len)
{
    uint8_t b[16];
    int family;
    if (allow == NULL || !sockaddr_bytes(sa, len, &family, b))
        return false;
    for (size_t k = 0; k < allow->n && k < AC_POLICY_NETADDR_ALLOW_MAX; k++) {
        const ac_policy_netaddr_cidr_t *e = &allow->entries[k];
        unsigned max = family == AF_INET ? 32 : 128;
        if (e->family == family && e->prefix <= max && in_prefix(b, e->bytes, e->prefix))
            return true;
    }
    return false;
}

int ac_policy_netaddr_check(const ac_policy_netaddr_allow_t *allow, const struct sockaddr *sa, socklen_t len,
                            ac_policy_netaddr_class_t *cls)
{
    ac_policy_netaddr_class_t c;
    int rc = ac_policy_netaddr_classify(sa, len, &c);
    if (cls != NULL)
        *cls = c;
    if (rc != 0)
        return rc;
    switch (c) {
    case AC_POLICY_NETADDR_PUBLIC: return 0;
    case AC_POLICY_NETADDR_UNSPECIFIED:
    case AC_POLICY_NETADDR_MULTICAST:
    case AC_POLICY_NETADDR_BROADCAST: return -AC_EPERM;
    default: return ac_policy_netaddr_allow_match(allow, sa, len) ? 0 : -AC_EPERM;
    }
}
