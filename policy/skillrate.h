/* policy/skillrate.h - the policy engine's rate limiter (rule type rate_limit, reference 4.6): calls per (caller,
 * permission) in a sliding window.
 *
 * check() keeps the calls at or after now - window (inclusive, as the original) and refuses when max are there; a
 * refused call is not recorded. Limits come with every call (from the rule), so a changed rule applies at once.
 * Memory is bounded: at most AC_POLICY_SKILLRATE_MAX_KEYS keys, each keeping at most max_calls timestamps
 * (max_calls is capped at AC_POLICY_SKILLRATE_MAX_CALLS); keys with no call in the last AC_POLICY_SKILLRATE_IDLE_S
 * seconds are dropped to make room. When the table is full of active keys a new key is refused (fail closed).
 * Thread-safe (one mutex). The clock is the caller's (unix seconds). */
#ifndef AC_POLICY_SKILLRATE_H
#define AC_POLICY_SKILLRATE_H

#include "policy/perm.h"

#include <stddef.h>
#include <stdint.h>

#define AC_POLICY_SKILLRATE_MAX_KEYS  4096
#define AC_POLICY_SKILLRATE_MAX_CALLS 100000
#define AC_POLICY_SKILLRATE_IDLE_S    300
#define AC_POLICY_SKILLRATE_KEY_MAX   160 /* caller names are cut to this many bytes */

typedef struct ac_policy_skillrate ac_policy_skillrate_t;

ac_policy_skillrate_t *ac_policy_skillrate_new(void);
void ac_policy_skillrate_free(ac_policy_skillrate_t *rl);

/* Returns 0 (the call is recorded), or -AC_EAGAIN (max_calls already in the window, or no room for a new key). */
int ac_policy_skillrate_check(ac_policy_skillrate_t *rl, const char *caller, ac_policy_perms_t perm, int max_calls,
                              int window_s, int64_t now);
/* Several limits on the same calls (every rate_limit rule that applies to a decision): the call is checked against
 * each limit's window and recorded once when none is reached (the original recorded it once per rule, so two rules
 * halved each other's limits). OUT: *hit, the index of the first limit reached. Returns 0 or -AC_EAGAIN. */
typedef struct ac_policy_skillrate_limit {
    int max_calls;
    int window_s;
} ac_policy_skillrate_limit_t;
int ac_policy_skillrate_check_all(ac_policy_skillrate_t *rl, const char *caller, ac_policy_perms_t perm,
                                  const ac_policy_skillrate_limit_t *limits, size_t n, int64_t now, size_t *hit);
/* Drops timestamps older than AC_POLICY_SKILLRATE_IDLE_S and keys left empty (the node calls it every minute). */
void ac_policy_skillrate_prune(ac_policy_skillrate_t *rl, int64_t now);
/* Keys tracked (tests). */
size_t ac_policy_skillrate_size(ac_policy_skillrate_t *rl);

#endif
