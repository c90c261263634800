/* node/cluster.h - the node's place in the cluster: starts the distribution layer when NODE_NAME is set, turns
 * remote triggers into executor jobs (answering once the run is durably recorded), records membership in
 * `cluster_nodes`, keeps the approved-node list for the receive_from_workflow gate, connects to known nodes, and
 * gives send_to_workflow its RPC. */
#ifndef AC_NODE_CLUSTER_H
#define AC_NODE_CLUSTER_H

#include "node/app.h"

typedef struct ac_node_cluster ac_node_cluster_t;

/* Checks CLUSTER_COOKIE (at least 16 characters, not a well-known value). Returns 0 or -AC_ECONFIG with err. */
int ac_node_cluster_check_cookie(const char *cookie, ac_errmsg_t *err);

/* Starts clustering when NODE_NAME is set (*out stays NULL otherwise). */
int ac_node_cluster_start(ac_node_app_t *app, ac_node_cluster_t **out, ac_errmsg_t *err);
/* Stops accepting triggers (they are answered `unavailable`); answers already owed still go out. */
void ac_node_cluster_quiesce(ac_node_cluster_t *c);
/* Quiesces, joins the cluster thread, then stops the distribution layer. Call after the pool has stopped, so that
 * the pool's callbacks still find a live distribution layer. NULL is fine. */
void ac_node_cluster_stop(ac_node_cluster_t *c);

/* Administration of `cluster_nodes` (the CLI and the admin UI): approve (the row is created when missing), revoke,
 * remove. A running node reloads its approvals within 10 s. */
typedef enum { AC_NODE_CLUSTER_APPROVE, AC_NODE_CLUSTER_REVOKE, AC_NODE_CLUSTER_REMOVE } ac_node_cluster_op_t;
/* True for name@host made of letters, digits, '_', '-', '.', at most 255 bytes. */
bool ac_node_cluster_name_ok(const char *name);
/* Returns 0, -AC_EINVAL (a malformed name), -AC_ENOENT (no such node, for revoke and remove) or -AC_EDB. */
int ac_node_cluster_admin(PGconn *db, const char *name, ac_node_cluster_op_t op, ac_errmsg_t *err);

#endif
