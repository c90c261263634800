/* policy/authz.h - the policy engine: may this caller use this permission now? Pure: the caller passes the clock, the
 * rules (loaded and cached by the node), the rate limiter and the token key; nothing here does I/O.
 *
 * The order is the original's (reference 4.2): a core skill is allowed; for a dynamic skill, the chain depth (deeper
 * than max_chain_depth is denied; default 3), then its capability token (when it has one: valid, not expired, depth
 * caveat, grants the permission), then the rules by priority (the first denial ends it), then the permissions the
 * skill declared. Every decision fills a reason; a denial's reason is the original's wording.
 *
 * Rules (table auth_policies; config is JSON):
 *   rate_limit          {"permission"?, "max_calls" (10), "window_seconds" (60)}: calls per (caller, permission)
 *   time_window         {"permission"?, "deny_start_hour" (0), "deny_end_hour" (6)}: denies inside [start, end) UTC
 *   chain_restriction   {"caller_pattern"}: a caller containing the pattern may not act inside a chain (depth > 0)
 *   permission_override {"permission", "action", "expires_at"?}: "deny" denies until expires_at (ISO 8601); any
 *                       other action does nothing (an override can deny, never grant); an expired one does nothing
 * The original accepted anything in config; we refuse a config that does not fit its type (a clear error for the
 * Policies page) and skip such a rule when it comes from the database (the node logs it). */
#ifndef AC_POLICY_AUTHZ_H
#define AC_POLICY_AUTHZ_H

#include "policy/captoken.h"
#include "policy/error.h"
#include "policy/perm.h"
#include "policy/skillrate.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AC_POLICY_AUTHZ_MAX_DEPTH   3 /* the original's maximum chain depth (configurable here) */
#define AC_POLICY_AUTHZ_REASON_MAX  256
#define AC_POLICY_AUTHZ_PATTERN_MAX 128
#define AC_POLICY_AUTHZ_CONFIG_MAX  4096 /* bytes of a rule's JSON config */

typedef enum {
    AC_POLICY_CALLER_CORE = 0,
    AC_POLICY_CALLER_DYNAMIC,
} ac_policy_caller_type_t;

/* Who asks for what (reference 4.1). */
typedef struct ac_policy_authctx {
    const char *caller; /* a dynamic skill: "dynamic:<name>"; a core skill: its name */
    ac_policy_caller_type_t type;
    ac_policy_perms_t permission;      /* exactly one bit */
    ac_policy_perms_t declared;        /* what the skill declared (dynamic) */
    int chain_depth;                   /* 0 for a step's own call; +1 per skill_invoke */
    int64_t run_id;                    /* 0 outside a run */
    int64_t now_ms;                    /* unix milliseconds */
    const ac_policy_captoken_t *token; /* NULL: none */
} ac_policy_authctx_t;

typedef enum {
    AC_POLICY_RULE_RATE_LIMIT = 0,
    AC_POLICY_RULE_TIME_WINDOW,
    AC_POLICY_RULE_CHAIN_RESTRICTION,
    AC_POLICY_RULE_PERMISSION_OVERRIDE,
} ac_policy_rule_type_t;

typedef struct ac_policy_rule {
    int64_t id;
    int priority;
    ac_policy_rule_type_t type;
    ac_policy_perms_t permission;                         /* 0: every permission (rate_limit, time_window) */
    int max_calls, window_s;                              /* rate_limit */
    int deny_start_hour, deny_end_hour;                   /* time_window, 0..24 */
    char caller_pattern[AC_POLICY_AUTHZ_PATTERN_MAX + 1]; /* chain_restriction, non-empty */
    size_t pattern_len;
    bool deny;             /* permission_override: action "deny" */
    int64_t expires_at_ms; /* permission_override: 0 never expires */
} ac_policy_rule_t;

/* Parses a rule (type name and its JSON config) for the rule table. Returns 0 or -AC_EINVAL with a sentence naming
 * the field. */
int ac_policy_rule_parse(const char *type, const char *config, size_t len, ac_policy_rule_t *out, ac_errmsg_t *err);
const char *ac_policy_rule_type_name(ac_policy_rule_type_t t);

/* Sorts rules by priority, highest first (ties keep their order). */
void ac_policy_rules_sort(ac_policy_rule_t *rules, size_t n);

/* Parses an ISO 8601 UTC time ("2026-11-26T10:00:00Z", fractions and +hh:mm offsets accepted) into unix ms.
 * Returns 0 or -AC_EINVAL. */
int ac_policy_iso8601_ms(const char *s, int64_t *out);

typedef struct ac_policy_authz_cfg {
    const uint8_t *token_key; /* 32 bytes (ac_policy_captoken_key) */
    int max_chain_depth;      /* <= 0: AC_POLICY_AUTHZ_MAX_DEPTH */
    bool require_token;       /* a dynamic caller without a token is denied (the node mints one for every call;
                               * the original let a missing token pass) */
} ac_policy_authz_cfg_t;

/* The decision: 0 allows, -AC_EPERM denies; reason (cap bytes) says why either way. rules must be sorted
 * (ac_policy_rules_sort); rl may be NULL only when no rate_limit rule is given. */
int ac_policy_authz_decide(const ac_policy_authz_cfg_t *cfg, const ac_policy_rule_t *rules, size_t n,
                           ac_policy_skillrate_t *rl, const ac_policy_authctx_t *ctx, char *reason, size_t cap);

#endif
