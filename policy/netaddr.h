/* policy/netaddr.h - is an IP address a public destination? The classes of special-purpose addresses, and the
 * allow-list of CIDRs an operator may open for the SkillAPI's web_read.
 *
 * A dynamic skill with web_read chooses its URLs; without this check it could reach the node's own services
 * (127.0.0.1:5001, the embedded PostgreSQL), the LAN, or a cloud metadata endpoint (169.254.169.254). The caller
 * (skills/webread.c) resolves the host, asks ac_policy_netaddr_check() about every address, and connects only to
 * addresses that passed.
 *
 * The classes follow the IANA special-purpose registries (RFC 6890 and successors). IPv6 forms that carry an IPv4
 * address are judged by that address: ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible, deprecated), 64:ff9b::/96
 * (NAT64 well-known prefix), 2002::/16 (6to4). IPv6 outside 2000::/3 that is not named below is "reserved": public
 * IPv6 is global unicast only, so an address space IANA hands out later is refused until this table learns it.
 *
 * An IPv4-mapped IPv6 address is the same destination as its IPv4 address everywhere here: it gets the IPv4 class,
 * it matches IPv4 allow-list entries, and an allow-list entry written as ::ffff:a.b.c.d/n (n >= 96) is stored as
 * the IPv4 entry a.b.c.d/(n - 96).
 *
 * Pure: no I/O, no allocation, no state; thread-safe. Addresses are in network byte order, as in the socket API. */
#ifndef AC_POLICY_NETADDR_H
#define AC_POLICY_NETADDR_H

#include "policy/error.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Why an address is not public. The order is the order of the enum only; ac_policy_netaddr_class_name() and
 * ac_policy_netaddr_class_desc() give the words. */
typedef enum ac_policy_netaddr_class {
    AC_POLICY_NETADDR_PUBLIC = 0,    /* a destination on the Internet */
    AC_POLICY_NETADDR_UNSPECIFIED,   /* 0.0.0.0, :: (Linux connects them to the local host) */
    AC_POLICY_NETADDR_LOOPBACK,      /* 127/8, ::1 */
    AC_POLICY_NETADDR_PRIVATE,       /* 10/8, 172.16/12, 192.168/16, fc00::/7, 64:ff9b:1::/48 (local NAT64) */
    AC_POLICY_NETADDR_LINK_LOCAL,    /* 169.254/16 (cloud metadata), fe80::/10 */
    AC_POLICY_NETADDR_SITE_LOCAL,    /* fec0::/10 (deprecated, still routed on some networks) */
    AC_POLICY_NETADDR_SHARED,        /* 100.64/10, carrier-grade NAT */
    AC_POLICY_NETADDR_MULTICAST,     /* 224/4, ff00::/8 */
    AC_POLICY_NETADDR_BROADCAST,     /* 255.255.255.255 */
    AC_POLICY_NETADDR_DOCUMENTATION, /* 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20 */
    AC_POLICY_NETADDR_BENCHMARK,     /* 198.18/15 */
    AC_POLICY_NETADDR_RESERVED,      /* 0/8, 192.0.0/24, 192.88.99/24, 240/4, 100::/64, 2001::/23, IPv6
                                       * outside 2000::/3 */
} ac_policy_netaddr_class_t;

/* Classifies an IPv4 address (network byte order). */
ac_policy_netaddr_class_t ac_policy_netaddr_classify_v4(const struct in_addr *a);

/* Classifies an IPv6 address; the forms that embed IPv4 (above) get the class of the embedded address. */
ac_policy_netaddr_class_t ac_policy_netaddr_classify_v6(const struct in6_addr *a);

/* Classifies sa, an AF_INET (len >= sizeof(struct sockaddr_in)) or AF_INET6 (len >= sizeof(struct sockaddr_in6))
 * socket address; the port, flow label and scope id are ignored.
 * OUT: *out receives the class (AC_POLICY_NETADDR_RESERVED on failure, so a caller that ignores the return value
 * still refuses).
 * Returns 0; -AC_EINVAL when sa or out is NULL, len is too short, or the family is neither. */
int ac_policy_netaddr_classify(const struct sockaddr *sa, socklen_t len, ac_policy_netaddr_class_t *out);

/* A short static name: "public", "unspecified", "loopback", "private", "link-local", "site-local", "shared",
 * "multicast", "broadcast", "documentation", "benchmark", "reserved"; "reserved" for a value outside the enum. */
const char *ac_policy_netaddr_class_name(ac_policy_netaddr_class_t cls);

/* The class as a noun phrase for messages ("a loopback address", "a carrier-grade NAT address", ...), static. */
const char *ac_policy_netaddr_class_desc(ac_policy_netaddr_class_t cls);

/* ---- the allow-list ------------------------------------------------------------------------------------------- */

#define AC_POLICY_NETADDR_ALLOW_MAX 64 /* entries */
#define AC_POLICY_NETADDR_ENTRY_MAX 64 /* bytes of one entry in the text ("ffff:...:ffff/128" is 43) */

/* One network: family AF_INET (prefix 0..32, bytes[0..4)) or AF_INET6 (prefix 0..128); bits past the prefix are 0. */
typedef struct ac_policy_netaddr_cidr {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t prefix;
    uint8_t bytes[16];
} ac_policy_netaddr_cidr_t;

/* A parsed allow-list; a plain value (about 1.2 KiB), no heap. A zeroed struct is the empty list. */
typedef struct ac_policy_netaddr_allow {
    size_t n;
    ac_policy_netaddr_cidr_t entries[AC_POLICY_NETADDR_ALLOW_MAX];
} ac_policy_netaddr_allow_t;

/* Parses text, entries separated by commas and/or white space (runs of separators count as one; leading and trailing
 * ones are fine), each either an address or address/prefix:
 *     IPv4: dotted quad with decimal parts, no leading zeros ("127.0.0.1", "10.0.0.0/8"); no short or hex forms.
 *     IPv6: inet_pton's text form without brackets or zone ("::1", "fd00::/8", "::ffff:10.0.0.0/104").
 * A single address is /32 or /128. The prefix is decimal without leading zeros. An address with bits set past the
 * prefix ("10.1.0.0/8") is refused: it usually means a typo, and guessing which network was meant could open the
 * wrong one. NULL and "" are the empty list.
 * OUT: *allow receives the list; it is the empty list on failure.
 * Returns 0; -AC_EINVAL for a bad entry, with err (may be NULL) quoting it and giving its position, e.g.
 * `allow-list entry 2 "10.0.0.0/33": prefix must be 0 to 32` (the entry is cut to 48 bytes, bytes outside printable
 * ASCII shown as '?'); -AC_ETOOLONG for more than AC_POLICY_NETADDR_ALLOW_MAX entries; -AC_EINVAL when allow is
 * NULL. */
int ac_policy_netaddr_allow_parse(ac_policy_netaddr_allow_t *allow, const char *text, ac_errmsg_t *err);

/* Returns whether sa (as for ac_policy_netaddr_classify) lies in one of allow's networks. An IPv4-mapped IPv6
 * address is matched as its IPv4 address. False for a NULL or empty list, NULL sa or an unusable sa. */
bool ac_policy_netaddr_allow_match(const ac_policy_netaddr_allow_t *allow, const struct sockaddr *sa, socklen_t len);

/* The decision for one destination address: public addresses pass; unspecified, multicast and broadcast addresses
 * never pass (they are not destinations, and 0.0.0.0 reaches the local host: an allow-list entry cannot open them,
 * not even 0.0.0.0/0); every other class passes only when allow (may be NULL: empty) matches.
 * OUT: *cls (may be NULL) receives the address's class, also when it passes thanks to the allow-list.
 * Returns 0 when the address may be connected to; -AC_EPERM when not; -AC_EINVAL for an unusable sa (as for
 * ac_policy_netaddr_classify). */
int ac_policy_netaddr_check(const ac_policy_netaddr_allow_t *allow, const struct sockaddr *sa, socklen_t len,
                            ac_policy_netaddr_class_t *cls);

#endif
