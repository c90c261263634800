/* dist/flags.h - the Erlang distribution capability flags, as one audited table (dist/flags.c).
 *
 * Spec: erts user's guide, "Distribution Protocol", section "Distribution Flags"; values as in OTP 25's
 * kernel/include/dist.hrl (the HTML guide prints DFLAG_MANDATORY_25_DIGEST as 1 bsl 36; dist.hrl and the wire say
 * 16#04000000, bit 26, which is what we use). Each flag has a name, a bit, whether we advertise it, and the first OTP
 * release that refuses a peer without it. What we advertise is the flag set of an OTP 25 hidden node as erl_interface
 * 5.3 sends it (0x407074f9c) plus DFLAG_SPAWN, so unmodified rpc:call/erpc:call from OTP 25+ reaches us (reference
 * erlang-dist.md sections 0 and 3.4). Not advertised: PUBLISHED (we stay hidden, so BEAM nodes do not sync `global`
 * with us), ALIAS, FRAGMENTS, DIST_HDR_ATOM_CACHE. A future mandatory flag is a one-line change in the table. */
#ifndef AC_DIST_FLAGS_H
#define AC_DIST_FLAGS_H

#include "policy/error.h"

#include <stddef.h>
#include <stdint.h>

#define AC_DFLAG_PUBLISHED           UINT64_C(0x1)
#define AC_DFLAG_ATOM_CACHE          UINT64_C(0x2)
#define AC_DFLAG_EXTENDED_REFERENCES UINT64_C(0x4)
#define AC_DFLAG_DIST_MONITOR        UINT64_C(0x8)
#define AC_DFLAG_FUN_TAGS            UINT64_C(0x10)
#define AC_DFLAG_DIST_MONITOR_NAME   UINT64_C(0x20)
#define AC_DFLAG_HIDDEN_ATOM_CACHE   UINT64_C(0x40)
#define AC_DFLAG_NEW_FUN_TAGS        UINT64_C(0x80)
#define AC_DFLAG_EXTENDED_PIDS_PORTS UINT64_C(0x100)
#define AC_DFLAG_EXPORT_PTR_TAG      UINT64_C(0x200)
#define AC_DFLAG_BIT_BINARIES        UINT64_C(0x400)
#define AC_DFLAG_NEW_FLOATS          UINT64_C(0x800)
#define AC_DFLAG_UNICODE_IO          UINT64_C(0x1000)
#define AC_DFLAG_DIST_HDR_ATOM_CACHE UINT64_C(0x2000)
#define AC_DFLAG_SMALL_ATOM_TAGS     UINT64_C(0x4000)
#define AC_DFLAG_UTF8_ATOMS          UINT64_C(0x10000)
#define AC_DFLAG_MAP_TAG             UINT64_C(0x20000)
#define AC_DFLAG_BIG_CREATION        UINT64_C(0x40000)
#define AC_DFLAG_SEND_SENDER         UINT64_C(0x80000)
#define AC_DFLAG_BIG_SEQTRACE_LABELS UINT64_C(0x100000)
#define AC_DFLAG_EXIT_PAYLOAD        UINT64_C(0x400000)
#define AC_DFLAG_FRAGMENTS           UINT64_C(0x800000)
#define AC_DFLAG_HANDSHAKE_23        UINT64_C(0x1000000)
#define AC_DFLAG_UNLINK_ID           UINT64_C(0x2000000)
#define AC_DFLAG_MANDATORY_25_DIGEST UINT64_C(0x4000000)
#define AC_DFLAG_SPAWN               (UINT64_C(0x1) << 32)
#define AC_DFLAG_NAME_ME             (UINT64_C(0x2) << 32)
#define AC_DFLAG_V4_NC               (UINT64_C(0x4) << 32)
#define AC_DFLAG_ALIAS               (UINT64_C(0x8) << 32)
#define AC_DFLAG_LOCAL_EXT           (UINT64_C(0x10) << 32)
#define AC_DFLAG_ALTACT_SIG          (UINT64_C(0x20) << 32)

/* One row of the table. */
typedef struct ac_dist_flag_info {
    const char *name;    /* "SPAWN": the DFLAG_ name without its prefix, as OTP's dflag2str/1 prints it */
    uint64_t bit;        /* exactly one bit set */
    int advertised;      /* 1 when ac_dist_flags_ours() includes it */
    int mandatory_since; /* first OTP release that refuses a peer without it; 0 = never */
} ac_dist_flag_info_t;

/* The table itself, in bit order; *count receives its length. Static storage, never NULL. */
const ac_dist_flag_info_t *ac_dist_flags_table(size_t *count);

/* The flags we advertise in send_name and in our challenge (0x507074f9c). */
uint64_t ac_dist_flags_ours(void);

/* The flags an OTP node of release `otp_release` (25, 26, 27 ...) refuses to connect without; 0 before 25. */
uint64_t ac_dist_flags_mandatory(unsigned otp_release);

/* A peer's flags as OTP reads them: DFLAG_MANDATORY_25_DIGEST stands for the whole OTP 25 mandatory set, so a peer
 * that sets it is treated as setting each of those flags (dist_util:expand_mandatory_25_flag/1). */
uint64_t ac_dist_flags_expand(uint64_t peer);

/* Refuses a peer lacking a flag OTP 25 makes mandatory (after ac_dist_flags_expand()).
 * `mask` limits the check to the bits the peer could state: ~0 normally, 0xffffffff for a legacy 'n' send_name that
 * carries only the low 32 bits (OTP does the same until the complement message arrives).
 * Returns 0; -AC_EPERM with err naming every missing flag ("peer lacks flags OTP 25 requires: MAP_TAG|UTF8_ATOMS"). */
int ac_dist_flags_check_peer_masked(uint64_t peer, uint64_t mask, ac_errmsg_t *err);
/* ac_dist_flags_check_peer_masked(peer, ~0, err). */
int ac_dist_flags_check_peer(uint64_t peer, ac_errmsg_t *err);

/* The name of a single flag bit ("SPAWN"), or NULL when `bit` is not exactly one known flag. */
const char *ac_dist_flags_name(uint64_t bit);

/* Writes a readable form of `flags` for logs: "0x507074f9c EXTENDED_REFERENCES|DIST_MONITOR|...", with unknown bits
 * as one trailing hex group ("|0x8000"); "0x0 (none)" for 0. Always NUL-terminates (truncates to fit; cap >= 1).
 * Returns buf. */
char *ac_dist_flags_describe(uint64_t flags, char *buf, size_t cap);

#endif
