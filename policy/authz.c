/* policy/authz.c - the policy engine of authz.h. */
#include "policy/authz.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {"rate_limit", "time_window", "chain_restriction", "permission_override"};

const char *ac_policy_rule_type_name(ac_policy_rule_type_t t)
{
    return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "unknown";
}

/* --- ISO 8601 --- */

static int64_t days_from_civil(int64_t y, int m, int d) /* days since 1970-01-01 of a proleptic Gregorian date */
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int ac_policy_iso8601_ms(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se;
    if (s == NULL || strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') || !digits(s + 11, 2, &h) || s[13] != ':' ||
        !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
        return -AC_EINVAL;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 ||
        se > 59)
        return -AC_EINVAL;
    const char *p = s + 19;
    int64_t ms = 0;
    if (*p == '.') { /* a fraction: milliseconds kept, the rest dropped */
        p++;
        int n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n < 3)
                ms = ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0 || n > 9)
            return -AC_EINVAL;
        for (; n < 3; n++)
            ms *= 10;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' && p[1] == '\0') {
        offset_s = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -AC_EINVAL;
        offset_s = (int64_t)(oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
    } else {
        return -AC_EINVAL; /* a time without a zone means nothing here */
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_s;
    *out = secs * 1000 + ms;
    return 0;
}

/* --- rules --- */

/* An optional integer field within [lo, hi] (absent: def). */
static int int_field(json_t *o, const char *k, int def, int lo, int hi, int *out, ac_errmsg_t *err)
{
    json_t *v = json_object_get(o, k);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return ac_errmsg_set(err, -AC_EINVAL, "%s: must be an integer from %d to %d", k, lo, hi);
    *out = (int)json_integer_value(v);
    return 0;
}

/* An optional (or required) permission name. */
static int perm_field(json_t *o, bool required, ac_policy_perms_t *out, ac_errmsg_t *err)
{
    json_t *v = json_object_get(o, "permission");
    *out = 0;
    if (v == NULL || json_is_null(v))
        return required ? ac_errmsg_set(err, -AC_EINVAL, "permission: is required") : 0;
    if (!json_is_string(v))
        return ac_errmsg_set(err, -AC_EINVAL, "permission: must be a permission name");
    int b = ac_policy_perm_parse(json_string_value(v));
    if (b < 0)
        return ac_errmsg_set(err, -AC_EINVAL, "permission: unknown permission \"%.64s\"", json_string_value(v));
    *out = (ac_policy_perms_t)b;
    return 0;
}

/* Refuses keys the type does not know (a typo would otherwise silently change what the rule does). */
static int known_keys(json_t *o, const char *const *keys, ac_errmsg_t *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        bool ok = false;
        for (size_t i = 0; keys[i] != NULL && !ok; i++)
            ok = strcmp(keys[i], k) == 0;
        if (!ok)
            return ac_errmsg_set(err, -AC_EINVAL, "unknown field \"%.64s\"", k);
    }
    return 0;
}

int ac_policy_rule_parse(const char *type, const char *config, size_t len, ac_policy_rule_t *out, ac_errmsg_t *err)
{
    memset(out, 0, sizeof(*out));
    int t = -1;
    for (size_t i = 0; type != NULL && i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (strcmp(type, type_names[i]) == 0)
            t = (int)i;
    if (t < 0)
        return ac_errmsg_set(err, -AC_EINVAL,
                             "rule type must be rate_limit, time_window, chain_restriction or permission_override");
    if (config == NULL || len > AC_POLICY_AUTHZ_CONFIG_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "config: at most %d bytes of JSON", AC_POLICY_AUTHZ_CONFIG_MAX);
    json_error_t jerr;
    json_t *o = json_loadb(config, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        return ac_errmsg_set(err, -AC_EINVAL, "config: must be a JSON object");
    }
    out->type = (ac_policy_rule_type_t)t;
    int rc = 0;
    switch (out->type) {
    case AC_POLICY_RULE_RATE_LIMIT: {
        static const char *const keys[] = {"permission", "max_calls", "window_seconds", NULL};
        if ((rc = known_keys(o, keys, err)) == 0 && (rc = perm_field(o, false, &out->permission, err)) == 0 &&
            (rc = int_field(o, "max_calls", 10, 1, AC_POLICY_SKILLRATE_MAX_CALLS, &out->max_calls, err)) == 0)
            rc = int_field(o, "window_seconds", 60, 1, 86400, &out->window_s, err);
        break;
    }
    case AC_POLICY_RULE_TIME_WINDOW: {
        static const char *const keys[] = {"permission", "deny_start_hour", "deny_end_hour", NULL};
        if ((rc = known_keys(o, keys, err)) == 0 && (rc = perm_field(o, false, &out->permission, err)) == 0 &&
            (rc = int_field(o, "deny_start_hour", 0, 0, 23, &out->deny_start_hour, err)) == 0)
            rc = int_field(o, "deny_end_hour", 6, 0, 24, &out->deny_end_hour, err);
        if (rc == 0 && out->deny_start_hour >= out->deny_end_hour)
            rc = ac_errmsg_set(err, -AC_EINVAL,
                               "deny_start_hour must be before deny_end_hour (the window is [start, end) UTC)");
        break;
    }
    case AC_POLICY_RULE_CHAIN_RESTRICTION: {
        static const char *const keys[] = {"caller_pattern", NULL};
        json_t *p = json_object_get(o, "caller_pattern");
        if ((rc = known_keys(o, keys, err)) == 0 &&
            (!json_is_string(p) || json_string_length(p) == 0 || json_string_length(p) > AC_POLICY_AUTHZ_PATTERN_MAX ||
             strlen(json_string_value(p)) != json_string_length(p)))
            rc = ac_errmsg_set(err, -AC_EINVAL, "caller_pattern: a text of 1 to %d bytes", AC_POLICY_AUTHZ_PATTERN_MAX);
        if (rc == 0) {
            snprintf(out->caller_pattern, sizeof(out->caller_pattern), "%s", json_string_value(p));
            out->pattern_len = strlen(out->caller_pattern);
        }
        break;
    }
    case AC_POLICY_RULE_PERMISSION_OVERRIDE: {
        static const char *const keys[] = {"permission", "action", "expires_at", NULL};
        json_t *a = json_object_get(o, "action"), *e = json_object_get(o, "expires_at");
        if ((rc = known_keys(o, keys, err)) == 0 && (rc = perm_field(o, true, &out->permission, err)) == 0 &&
            !json_is_string(a))
            rc = ac_errmsg_set(err, -AC_EINVAL, "action: must be \"deny\" (an override cannot grant)");
        if (rc == 0 && strcmp(json_string_value(a), "deny") != 0 && strcmp(json_string_value(a), "allow") != 0)
            rc = ac_errmsg_set(err, -AC_EINVAL, "action: must be \"deny\" or \"allow\" (which does nothing)");
        if (rc == 0)
            out->deny = strcmp(json_string_value(a), "deny") == 0;
        if (rc == 0 && e != NULL && !json_is_null(e) &&
            (!json_is_string(e) || ac_policy_iso8601_ms(json_string_value(e), &out->expires_at_ms) != 0))
            rc = ac_errmsg_set(err, -AC_EINVAL, "expires_at: an ISO 8601 time with a zone, e.g. 2026-12-31T23:00:00Z");
        break;
    }
    }
    json_decref(o);
    return rc;
}

static int by_priority(const void *a, const void *b)
{
    const ac_policy_rule_t *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id; /* ties: the older rule first, a stable order */
}

void ac_policy_rules_sort(ac_policy_rule_t *rules, size_t n)
{
    if (n > 1)
        qsort(rules, n, sizeof(*rules), by_priority);
}

/* --- the decision --- */

static int deny(char *reason, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int deny(char *reason, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, cap, fmt, ap);
    va_end(ap);
    return -AC_EPERM;
}

/* Whether hay (hn bytes) contains needle (nn bytes): memchr for the first byte, then memcmp. For the short patterns
 * of chain_restriction this is several times faster than strstr, whose setup dominates at these sizes; the engine
 * runs it for every such rule on every decision inside a chain. */
static bool contains(const char *hay, size_t hn, const char *needle, size_t nn)
{
    if (nn == 0)
        return true;
    if (hay == NULL || nn > hn)
        return false;
    const char *end = hay + (hn - nn) + 1;
    for (const char *p = hay; p < end && (p = memchr(p, needle[0], (size_t)(end - p))) != NULL; p++)
        if (memcmp(p, needle, nn) == 0)
            return true;
    return false;
}

/* One rule: 0 (no objection) or -AC_EPERM. */
static int apply(const ac_policy_rule_t *r, ac_policy_skillrate_t *rl, const ac_policy_authctx_t *ctx,
                 size_t caller_len, int hour, char *reason, size_t cap)
{
    switch (r->type) {
    case AC_POLICY_RULE_RATE_LIMIT: return 0; /* all of them at once, in decide() */
    case AC_POLICY_RULE_TIME_WINDOW: {
        if (r->permission != 0 && r->permission != ctx->permission)
            return 0;
        if (hour >= r->deny_start_hour && hour < r->deny_end_hour)
            return deny(reason, cap, "blocked by time window policy (%d:00-%d:00 UTC)", r->deny_start_hour,
                        r->deny_end_hour);
        return 0;
    }
    case AC_POLICY_RULE_CHAIN_RESTRICTION:
        if (ctx->chain_depth > 0 && contains(ctx->caller, caller_len, r->caller_pattern, r->pattern_len))
            return deny(reason, cap, "chain restriction: %s cannot invoke other skills", r->caller_pattern);
        return 0;
    case AC_POLICY_RULE_PERMISSION_OVERRIDE:
        if (r->permission != ctx->permission || !r->deny)
            return 0;
        if (r->expires_at_ms != 0 && ctx->now_ms >= r->expires_at_ms)
            return 0; /* expired: no effect */
        return deny(reason, cap, "denied by permission override policy");
    }
    return 0;
}

/* Every rate_limit rule from rules[0] on that applies, checked against one record of the call (one lookup; the call
 * counted once whatever the number of rules). The first limit reached, by priority, gives the reason. */
static int rate_limits(const ac_policy_rule_t *rules, size_t n, ac_policy_skillrate_t *rl,
                       const ac_policy_authctx_t *ctx, char *reason, size_t cap)
{
    ac_policy_skillrate_limit_t stack[32], *limits = stack;
    const ac_policy_rule_t *which[32], **whichp = which;
    size_t k = 0;
    if (n > 32) {
        limits = malloc(n * sizeof(*limits));
        whichp = malloc(n * sizeof(*whichp));
        if (limits == NULL || whichp == NULL) {
            free(limits);
            free(whichp);
            return deny(reason, cap, "rate limit check failed (out of memory)");
        }
    }
    for (size_t i = 0; i < n; i++)
        if (rules[i].type == AC_POLICY_RULE_RATE_LIMIT &&
            (rules[i].permission == 0 || rules[i].permission == ctx->permission)) {
            limits[k] = (ac_policy_skillrate_limit_t){rules[i].max_calls, rules[i].window_s};
            whichp[k++] = &rules[i];
        }
    size_t hit = 0;
    int rc = rl == NULL
                 ? -AC_EAGAIN
                 : ac_policy_skillrate_check_all(rl, ctx->caller, ctx->permission, limits, k, ctx->now_ms / 1000, &hit);
    if (rc != 0)
        rc = deny(reason, cap, "rate limit exceeded: max %d/%ds", whichp[hit]->max_calls, whichp[hit]->window_s);
    if (limits != stack) {
        free(limits);
        free(whichp);
    }
    return rc;
}

int ac_policy_authz_decide(const ac_policy_authz_cfg_t *cfg, const ac_policy_rule_t *rules, size_t n,
                           ac_policy_skillrate_t *rl, const ac_policy_authctx_t *ctx, char *reason, size_t cap)
{
    reason[0] = '\0';
    if (ctx->type == AC_POLICY_CALLER_CORE) {
        snprintf(reason, cap, "core skill");
        return 0;
    }
    if (ctx->type != AC_POLICY_CALLER_DYNAMIC || ctx->caller == NULL || ctx->permission == 0 ||
        (ctx->permission & (ctx->permission - 1)) != 0 || (ctx->permission & ~AC_POLICY_PERM_ALL) != 0)
        return deny(reason, cap, "unknown permission state");
    const char *perm = ac_policy_perm_name(ctx->permission);
    int max_depth = cfg->max_chain_depth > 0 ? cfg->max_chain_depth : AC_POLICY_AUTHZ_MAX_DEPTH;
    if (ctx->chain_depth < 0)
        return deny(reason, cap, "unknown permission state");
    if (ctx->chain_depth > max_depth)
        return deny(reason, cap, "chain depth %d exceeds maximum %d", ctx->chain_depth, max_depth);
    if (ctx->token == NULL && cfg->require_token)
        return deny(reason, cap, "no capability token");
    if (ctx->token != NULL && ctx->token->run_id != ctx->run_id) /* a token from another run (or a direct run) */
        return deny(reason, cap, "capability token is for another run");
    if (ctx->token != NULL) {
        int rc = ac_policy_captoken_verify(cfg->token_key, ctx->token, ctx->now_ms, ctx->chain_depth);
        if (rc != 0)
            return deny(reason, cap, "%s", ac_policy_captoken_reason(rc));
        if (!ac_policy_captoken_grants(ctx->token, ctx->permission))
            return deny(reason, cap, "token does not grant :%s", perm);
    }
    size_t caller_len = strlen(ctx->caller);
    int64_t secs = ctx->now_ms / 1000;
    int hour = (int)(((secs % 86400) + 86400) % 86400 / 3600); /* UTC, once per decision */
    bool limited = false; /* the rate limits were checked (at the first one, all together) */
    for (size_t i = 0; i < n; i++) {
        if (rules[i].type == AC_POLICY_RULE_RATE_LIMIT && !limited &&
            (rules[i].permission == 0 || rules[i].permission == ctx->permission)) {
            limited = true;
            if (rate_limits(rules + i, n - i, rl, ctx, reason, cap) != 0)
                return -AC_EPERM;
        }
        if (apply(&rules[i], rl, ctx, caller_len, hour, reason, cap) != 0)
            return -AC_EPERM;
    }
    if ((ctx->declared & ctx->permission) == 0)
        return deny(reason, cap, "permission :%s not declared", perm);
    snprintf(reason, cap, "allowed");
    return 0;
}
