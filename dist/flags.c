/* dist/flags.c - the distribution flags as data: one static table from which what we advertise, what OTP requires of
 * a peer, and the names in logs and errors all come.
 *
 * Why a table: OTP adds a mandatory flag every few releases (HANDSHAKE_23 in 25; V4_NC and UNLINK_ID in 26;
 * MANDATORY_25_DIGEST in 27). Keeping name, bit, "we advertise it" and "mandatory since" in one row makes each such
 * change one line that can be audited without reading code. Values: OTP 25 kernel/include/dist.hrl. */
#include "dist/flags.h"

#include <stdio.h>
#include <string.h>

/* clang-format off */
static const ac_dist_flag_info_t flag_table[] = {
    /* name                   bit                              advertised  mandatory since OTP */
    {"PUBLISHED",            AC_DFLAG_PUBLISHED,              0,          0},  /* hidden node: never */
    {"ATOM_CACHE",           AC_DFLAG_ATOM_CACHE,             0,          0},  /* obsolete */
    {"EXTENDED_REFERENCES",  AC_DFLAG_EXTENDED_REFERENCES,    1,          25},
    {"DIST_MONITOR",         AC_DFLAG_DIST_MONITOR,           1,          0},
    {"FUN_TAGS",             AC_DFLAG_FUN_TAGS,               1,          25},
    {"DIST_MONITOR_NAME",    AC_DFLAG_DIST_MONITOR_NAME,      0,          0},
    {"HIDDEN_ATOM_CACHE",    AC_DFLAG_HIDDEN_ATOM_CACHE,      0,          0},  /* obsolete */
    {"NEW_FUN_TAGS",         AC_DFLAG_NEW_FUN_TAGS,           1,          25},
    {"EXTENDED_PIDS_PORTS",  AC_DFLAG_EXTENDED_PIDS_PORTS,    1,          25},
    {"EXPORT_PTR_TAG",       AC_DFLAG_EXPORT_PTR_TAG,         1,          25},
    {"BIT_BINARIES",         AC_DFLAG_BIT_BINARIES,           1,          25},
    {"NEW_FLOATS",           AC_DFLAG_NEW_FLOATS,             1,          25},
    {"UNICODE_IO",           AC_DFLAG_UNICODE_IO,             0,          0},
    {"DIST_HDR_ATOM_CACHE",  AC_DFLAG_DIST_HDR_ATOM_CACHE,    0,          0},  /* we send no atom cache header */
    {"SMALL_ATOM_TAGS",      AC_DFLAG_SMALL_ATOM_TAGS,        1,          0},
    {"UTF8_ATOMS",           AC_DFLAG_UTF8_ATOMS,             1,          25},
    {"MAP_TAG",              AC_DFLAG_MAP_TAG,                1,          25},
    {"BIG_CREATION",         AC_DFLAG_BIG_CREATION,           1,          25},
    {"SEND_SENDER",          AC_DFLAG_SEND_SENDER,            0,          0},
    {"BIG_SEQTRACE_LABELS",  AC_DFLAG_BIG_SEQTRACE_LABELS,    0,          0},
    {"EXIT_PAYLOAD",         AC_DFLAG_EXIT_PAYLOAD,           0,          0},
    {"FRAGMENTS",            AC_DFLAG_FRAGMENTS,              0,          0},  /* we never reassemble fragments */
    {"HANDSHAKE_23",         AC_DFLAG_HANDSHAKE_23,           1,          25},
    {"UNLINK_ID",            AC_DFLAG_UNLINK_ID,              1,          26},
    {"MANDATORY_25_DIGEST",  AC_DFLAG_MANDATORY_25_DIGEST,    1,          27},
    {"SPAWN",                AC_DFLAG_SPAWN,                  1,          0},  /* rpc:call/erpc on OTP 25+ need it */
    {"NAME_ME",              AC_DFLAG_NAME_ME,                0,          0},  /* a request, not a capability */
    {"V4_NC",                AC_DFLAG_V4_NC,                  1,          26},
    {"ALIAS",                AC_DFLAG_ALIAS,                  0,          0},
    {"LOCAL_EXT",            AC_DFLAG_LOCAL_EXT,              0,          0},  /* OTP-internal */
    {"ALTACT_SIG",           AC_DFLAG_ALTACT_SIG,             0,          0},
};
/* clang-format on */

#define FLAG_COUNT (sizeof(flag_table) / sizeof(flag_table[0]))

/* The OTP 25 mandatory set, which DFLAG_MANDATORY_25_DIGEST abbreviates (dist.hrl MANDATORY_DFLAGS_25). */
static uint64_t mandatory_25(void)
{
    uint64_t m = 0;
    for (size_t i = 0; i < FLAG_COUNT; i++)
        if (flag_table[i].mandatory_since == 25)
            m |= flag_table[i].bit;
    return m;
}

const ac_dist_flag_info_t *ac_dist_flags_table(size_t *count)
{
    if (count != NULL)
        *count = FLAG_COUNT;
    return flag_table;
}

uint64_t ac_dist_flags_ours(void)
{
    uint64_t f = 0;
    for (size_t i = 0; i < FLAG_COUNT; i++)
        if (flag_table[i].advertised)
            f |= flag_table[i].bit;
    return f;
}

uint64_t ac_dist_flags_mandatory(unsigned otp_release)
{
    uint64_t f = 0;
    for (size_t i = 0; i < FLAG_COUNT; i++)
        if (flag_table[i].mandatory_since != 0 && (unsigned)flag_table[i].mandatory_since <= otp_release)
            f |= flag_table[i].bit;
    return f;
}

uint64_t ac_dist_flags_expand(uint64_t peer)
{
    return (peer & AC_DFLAG_MANDATORY_25_DIGEST) ? peer | mandatory_25() : peer;
}

const char *ac_dist_flags_name(uint64_t bit)
{
    for (size_t i = 0; i < FLAG_COUNT; i++)
        if (flag_table[i].bit == bit)
            return flag_table[i].name;
    return NULL;
}

/* Appends "|NAME" (or "NAME" first) for each known flag in `flags`, then the unknown rest as hex.
 * Returns the number of characters that the full text needs (as snprintf), writing what fits. */
static size_t names_append(uint64_t flags, char *buf, size_t cap, size_t pos)
{
    uint64_t known = 0;
    int first = 1;

    for (size_t i = 0; i < FLAG_COUNT; i++) {
        if (!(flags & flag_table[i].bit))
            continue;
        known |= flag_table[i].bit;
        int n = snprintf(buf + (pos < cap ? pos : cap - 1), pos < cap ? cap - pos : 1, "%s%s", first ? "" : "|",
                         flag_table[i].name);
        pos += n > 0 ? (size_t)n : 0;
        first = 0;
    }
    if (flags & ~known) {
        int n = snprintf(buf + (pos < cap ? pos : cap - 1), pos < cap ? cap - pos : 1, "%s0x%llx", first ? "" : "|",
                         (unsigned long long)(flags & ~known));
        pos += n > 0 ? (size_t)n : 0;
    }
    return pos;
}

int ac_dist_flags_check_peer_masked(uint64_t peer, uint64_t mask, ac_errmsg_t *err)
{
    uint64_t missing = ac_dist_flags_mandatory(25) & mask & ~ac_dist_flags_expand(peer);
    char names[512];

    if (missing == 0)
        return 0;
    names[0] = '\0';
    names_append(missing, names, sizeof(names), 0);
    return ac_errmsg_set(err, -AC_EPERM, "peer lacks flags OTP 25 requires: %s (peer flags 0x%llx)", names,
                         (unsigned long long)peer);
}

int ac_dist_flags_check_peer(uint64_t peer, ac_errmsg_t *err)
{
    return ac_dist_flags_check_peer_masked(peer, ~UINT64_C(0), err);
}

char *ac_dist_flags_describe(uint64_t flags, char *buf, size_t cap)
{
    int n;

    if (buf == NULL || cap == 0)
        return buf;
    if (flags == 0) {
        snprintf(buf, cap, "0x0 (none)");
        return buf;
    }
    n = snprintf(buf, cap, "0x%llx ", (unsigned long long)flags);
    if (n < 0 || (size_t)n >= cap)
        return buf;
    names_append(flags, buf, cap, (size_t)n);
    return buf;
}
