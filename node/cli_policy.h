/* node/cli_policy.h - `alexclaw policy list|add|enable|disable|remove`: the policy rules (auth_policies) from the
 * command line, each config validated as the engine reads it. */
#ifndef AC_NODE_CLI_POLICY_H
#define AC_NODE_CLI_POLICY_H

/* argv holds the words after "policy". Returns the exit status (0, 1 failure, 2 usage). */
int ac_node_cli_policy(int argc, char **argv);

#endif
