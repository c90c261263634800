/* node/policies.h - the policy rules of table auth_policies (migration 0007) as the engine (policy/authz.h) needs
 * them: enabled, parsed, sorted by priority, cached for AC_NODE_POLICIES_TTL_MS, and dropped at once when any node
 * changes a rule (a trigger sends NOTIFY alexclaw_policies; the cache keeps a LISTEN connection of its own and reads
 * what arrived, without blocking, on every lookup). Also the rule table's edits, each config validated first.
 *
 * A stored rule whose config does not parse (edited with SQL) is skipped and counted; the node logs it once per
 * reload. Thread-safe: any number of threads may look up at once. */
#ifndef AC_NODE_POLICIES_H
#define AC_NODE_POLICIES_H

#include "policy/authz.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AC_NODE_POLICIES_TTL_MS 30000
#define AC_NODE_POLICIES_MAX    1000 /* enabled rules read at most */

typedef struct ac_node_rules {
    ac_policy_rule_t *v;
    size_t n;
    size_t skipped; /* stored rules that did not parse */
    int refs;       /* atomic */
} ac_node_rules_t;

typedef struct ac_node_policies ac_node_policies_t;

/* No I/O yet: the LISTEN connection is made at the first lookup (and again after it was lost). */
ac_node_policies_t *ac_node_policies_new(const char *conninfo);
void ac_node_policies_free(ac_node_policies_t *p);

/* The rules now (a reference: release it). Reloads with c when the cache is older than the TTL or was invalidated.
 * A reload that fails keeps serving the previous rules (and says so in err with a non-zero return only when there
 * are none yet). */
int ac_node_policies_get(ac_node_policies_t *p, PGconn *c, int64_t now_ms, ac_node_rules_t **out, ac_errmsg_t *err);
void ac_node_rules_release(ac_node_rules_t *r);
/* Drops the cache (this process changed a rule). */
void ac_node_policies_invalidate(ac_node_policies_t *p);

#define AC_NODE_POLICIES_NAME_MAX     255
#define AC_NODE_POLICIES_DESC_MAX     4096
#define AC_NODE_POLICIES_PRIORITY_MAX 1000000 /* priorities lie within +-this */

/* The checks every edit makes before it writes, without I/O: name 1 to 255 bytes, description NULL or at most 4096
 * bytes, rule_type and config as ac_policy_rule_parse wants them (the engine and the rule table agree), priority
 * within +-AC_NODE_POLICIES_PRIORITY_MAX. Returns 0, or -AC_EINVAL with a sentence in err and *field (may be NULL)
 * naming the input at fault: "name", "description", "rule_type", "config" or "priority" (static strings). */
int ac_node_policies_check(const char *name, const char *description, const char *rule_type, const char *config,
                           int priority, const char **field, ac_errmsg_t *err);

/* Edits of the rule table. Each statement fires the table's trigger, so every node's cache drops its rules (NOTIFY
 * alexclaw_policies). add: checks (ac_node_policies_check) and inserts; OUT: *id. update: the same checks, then
 * replaces every field of rule id; -AC_ENOENT when there is none. enable, remove: -AC_ENOENT when there is none.
 * Database errors are -AC_EDB or -AC_EDBDOWN with the server's message in err (for logs, not for a browser). */
int ac_node_policies_add(PGconn *c, const char *name, const char *description, const char *rule_type,
                         const char *config, int priority, bool enabled, int64_t *id, ac_errmsg_t *err);
int ac_node_policies_update(PGconn *c, int64_t id, const char *name, const char *description, const char *rule_type,
                            const char *config, int priority, bool enabled, ac_errmsg_t *err);
int ac_node_policies_enable(PGconn *c, int64_t id, bool enabled, ac_errmsg_t *err);
int ac_node_policies_remove(PGconn *c, int64_t id, ac_errmsg_t *err);

#endif
