/* node/authorize.h - one authorization decision as the node makes it: the cached rules (node/policies.h), the rate
 * limiter and the token key handed to the pure engine (policy/authz.h), and the audit log (node/audit.h): every
 * denial is written, and every allow too when auth.audit.allows is on. The SkillAPI calls this for each request a
 * sandboxed skill makes. */
#ifndef AC_NODE_AUTHORIZE_H
#define AC_NODE_AUTHORIZE_H

#include "node/policies.h"
#include "node/settings.h"

#include <libpq-fe.h>

typedef struct ac_node_authorizer {
    ac_node_policies_t *policies;
    ac_policy_skillrate_t *rate;
    const uint8_t *token_key;     /* 32 bytes */
    const uint8_t *audit_key;     /* 32 bytes */
    ac_node_settings_t *settings; /* auth.audit.allows, auth.max_chain_depth */
} ac_node_authorizer_t;

/* 0 allows, -AC_EPERM denies (reason says why); a failure to read the rules or to write a denial to the audit log
 * denies too (fail closed; the reason says so). */
int ac_node_authorize(const ac_node_authorizer_t *a, PGconn *c, const ac_policy_authctx_t *ctx, char *reason,
                      size_t cap);

#endif
