/* node/authorize.c - one authorization decision with its audit row (authorize.h). */
#include "node/authorize.h"

#include "node/audit.h"
#include "node/log.h"

#include <stdio.h>
#include <string.h>

int ac_node_authorize(const ac_node_authorizer_t *a, PGconn *c, const ac_policy_authctx_t *ctx, char *reason,
                      size_t cap)
{
    ac_node_rules_t *rules = NULL;
    ac_errmsg_t err = {{0}};
    int rc;
    if (ctx->type != AC_POLICY_CALLER_CORE && ac_node_policies_get(a->policies, c, ctx->now_ms, &rules, &err) != 0) {
        snprintf(reason, cap, "policy rules unavailable (database error)");
        rc = -AC_EPERM;
    } else {
        ac_policy_authz_cfg_t cfg = {
            .token_key = a->token_key,
            .require_token = true,
            .max_chain_depth =
                (int)ac_node_settings_int_or(a->settings, "auth.max_chain_depth", AC_POLICY_AUTHZ_MAX_DEPTH),
        };
        rc = ac_policy_authz_decide(&cfg, rules != NULL ? rules->v : NULL, rules != NULL ? rules->n : 0, a->rate, ctx,
                                    reason, cap);
    }
    ac_node_rules_release(rules);
    if (ctx->type == AC_POLICY_CALLER_CORE)
        return rc; /* trusted code: no row per call */
    bool audit = rc != 0 || ac_node_settings_bool_or(a->settings, "auth.audit.allows", false);
    if (audit) {
        const char *perm = ac_policy_perm_name(ctx->permission);
        ac_node_audit_entry_t e = {
            ctx->caller, "dynamic",       perm != NULL ? perm : "unknown", rc == 0 ? "allow" : "deny", reason,
            ctx->run_id, ctx->chain_depth};
        if (ac_node_audit_append(c, a->audit_key, &e, ctx->now_ms / 1000, &err) != 0) {
            ac_log_error("audit", "append_failed", "error=%s", err.msg);
            if (rc == 0) { /* an allow that cannot be recorded while recording is asked for: refuse */
                snprintf(reason, cap, "the audit log is unavailable");
                rc = -AC_EPERM;
            }
        }
    }
    if (rc != 0)
        ac_log_warn("policy", "denied", "caller=%s permission=%s reason=%s", ctx->caller,
                    ac_policy_perm_name(ctx->permission) ? ac_policy_perm_name(ctx->permission) : "?", reason);
    return rc;
}
