/* node/cli_cluster.h - `alexclaw cluster list|approve|revoke|remove`: the cluster_nodes table from the command line. */
#ifndef AC_NODE_CLI_CLUSTER_H
#define AC_NODE_CLI_CLUSTER_H

/* argv holds the words after "cluster". Returns the exit status (0, 1 failure, 2 usage). */
int ac_node_cli_cluster(int argc, char **argv);

#endif
