/* node/cli_config.h - `alexclaw config ...`: read and change settings from the command line. */
#ifndef AC_NODE_CLI_CONFIG_H
#define AC_NODE_CLI_CONFIG_H

/* argv holds the words after "config". Returns the process exit status (0, 1 failure, 2 usage). */
int ac_node_cli_config(int argc, char **argv);

#endif
