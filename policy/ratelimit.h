/* policy/ratelimit.h - the login rate limiter: failed attempts per client address, with a sliding window and a block.
 *
 * A client that fails `max_attempts` times within `window_s` seconds is blocked for `block_s` seconds; while blocked
 * every attempt is refused, whatever the password (the caller checks before it looks at the password). Failures
 * older than the window are forgotten (the original kept them until a success). A success clears the client.
 * Limits are passed on every call, so a change of the settings applies at once. The clock is the caller's (seconds).
 * Nonsense limits never switch the limiter off: max_attempts is taken within 1..AC_POLICY_RATELIMIT_MAX_ATTEMPTS,
 * durations within 1 s..10 years.
 *
 * Memory is bounded: at most AC_POLICY_RATELIMIT_MAX_CLIENTS clients are tracked (about 200 bytes each); when the
 * table is full, clients with nothing recent are dropped, and if that is not enough, every client that is not blocked
 * (a flood of new addresses resets partial streaks). A blocked client is never dropped to make room, so a flood
 * cannot unblock an attacker. Not thread-safe: one owner (the web loop). */
#ifndef AC_POLICY_RATELIMIT_H
#define AC_POLICY_RATELIMIT_H

#include <stdint.h>

#define AC_POLICY_RATELIMIT_MAX_CLIENTS  10000
#define AC_POLICY_RATELIMIT_MAX_ATTEMPTS 20 /* max_attempts is clamped to 1..this */
#define AC_POLICY_RATELIMIT_KEY_MAX      64 /* client keys are cut to this many bytes */

typedef struct ac_policy_ratelimit ac_policy_ratelimit_t;

typedef struct ac_policy_ratelimit_cfg {
    int max_attempts;
    int64_t block_s;
    int64_t window_s;
} ac_policy_ratelimit_cfg_t;

ac_policy_ratelimit_t *ac_policy_ratelimit_new(void);
void ac_policy_ratelimit_free(ac_policy_ratelimit_t *rl);

/* 0 when `client` may try now; else -AC_EPERM and *retry_after_s (>= 1) seconds until it may. */
int ac_policy_ratelimit_check(ac_policy_ratelimit_t *rl, const char *client, const ac_policy_ratelimit_cfg_t *cfg,
                              int64_t now, int64_t *retry_after_s);
/* Records a failure; returns 1 when this failure blocked the client, else 0. */
int ac_policy_ratelimit_fail(ac_policy_ratelimit_t *rl, const char *client, const ac_policy_ratelimit_cfg_t *cfg,
                             int64_t now);
/* Forgets the client (after a successful login). */
void ac_policy_ratelimit_clear(ac_policy_ratelimit_t *rl, const char *client);
/* Clients tracked (tests, metrics). */
int ac_policy_ratelimit_count(const ac_policy_ratelimit_t *rl);

#endif
