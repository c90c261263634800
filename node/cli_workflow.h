/* node/cli_workflow.h - `alexclaw workflow ...`: list, show, run, import, export, runs and cancel workflows from the
 * command line, against the configured database. */
#ifndef AC_NODE_CLI_WORKFLOW_H
#define AC_NODE_CLI_WORKFLOW_H

/* argv holds the words after "workflow". Returns the exit status (0, 1 failure, 2 usage). */
int ac_node_cli_workflow(int argc, char **argv);

#endif
