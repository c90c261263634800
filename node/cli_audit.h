/* node/cli_audit.h - `alexclaw audit verify|list|prune`: the audit log's hash chain from the command line. */
#ifndef AC_NODE_CLI_AUDIT_H
#define AC_NODE_CLI_AUDIT_H

/* argv holds the words after "audit". Returns the exit status (0; 1 failure or a broken chain; 2 usage). */
int ac_node_cli_audit(int argc, char **argv);

#endif
