/* skills/gate.h - the cluster skills: `receive_from_workflow`, the gate a remotely triggered workflow starts with,
 * and `send_to_workflow`, which triggers a workflow on another node.
 *
 * The gate checks `allowed_nodes` against `_source_node`, which only the executor sets, from the authenticated peer
 * of the distribution connection (a step's own config can never override it). An empty `allowed_nodes` admits the
 * nodes an administrator approved; until the cluster layer provides that list (issue 4), it admits none.
 * send_to_workflow validates its config as the original does and hands the call to the RPC function the cluster
 * layer installs; until then it fails with `rpc_failed: distribution is not running`. */
#ifndef AC_SKILLS_GATE_H
#define AC_SKILLS_GATE_H

#include "skills/skill.h"

#include <stdbool.h>
#include <stddef.h>

extern const ac_skill_def_t ac_skills_receive_from_workflow;
extern const ac_skill_def_t ac_skills_send_to_workflow;

/* Triggers `workflow` on `node` with `data`, waiting at most timeout_ms. Returns 0 when the remote answered
 * {ok, _}; otherwise fills err with the remote error ("workflow_not_found") or "rpc_failed: <reason>" and returns -1. */
typedef int (*ac_skills_gate_rpc_fn)(void *arg, const char *node, const char *workflow, const json_t *data,
                                     int timeout_ms, char *err, size_t errlen);
/* Whether `node` was approved by an administrator (for an empty allowed_nodes). */
typedef int (*ac_skills_gate_approved_fn)(void *arg, const char *node);
void ac_skills_gate_set_cluster(ac_skills_gate_rpc_fn rpc, ac_skills_gate_approved_fn approved, void *arg);

/* The gate's rule, for the skill and for the pool's check before a remote run is recorded: a non-empty
 * allowed_nodes list must contain source; an empty or absent one admits only approved nodes. */
bool ac_skills_gate_admits(const json_t *allowed_nodes, const char *source);

#endif
