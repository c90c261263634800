/* node/cli_workflow.h - `alexclaw workflow ...`: list, show, run, import, export, runs and cancel workflows from the
 * command line, against the configured database. */
#ifndef AC_NODE_CLI_WORKFLOW_H
#define AC_NODE_CLI_WORKFLOW_H

#include "node/runtime.h"

#include <stdbool.h>

/* argv holds the words after "workflow". Returns the exit status (0, 1 failure, 2 usage). */
int ac_node_cli_workflow(int argc, char **argv);

/* The second factor on the command line (--code), for every command that needs one. required: the action needs 2FA
 * to be on (running a workflow that requires it, managing dynamic skills); otherwise a code is needed only while
 * 2FA is on. Says why on stderr when it refuses. Returns 0 or the exit status. */
int ac_node_cli_second_factor(ac_node_runtime_t *rt, const char *code, bool required, const char *what);

#endif
