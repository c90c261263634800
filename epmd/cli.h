/* epmd/cli.h - `alexclaw epmd [--port N] [--address A[,B...]] [-names]`: the EPMD daemon in the foreground, or a
 * listing of what a running EPMD holds (like `epmd -names`). The detached daemon a node starts when it finds no EPMD
 * (ac_epmd_client_ensure_daemon) is this same command, run with stdin, stdout and stderr on /dev/null. */
#ifndef AC_EPMD_CLI_H
#define AC_EPMD_CLI_H

/* argv holds the words after "epmd" (as node/main.c passes them: ac_epmd_cli(argc - 2, argv + 2)).
 *   --port N / -port N          port (default ERL_EPMD_PORT, else 4369)
 *   --address LIST / -address   comma list of numeric addresses (default ERL_EPMD_ADDRESS, else 127.0.0.1)
 *   -names / --names            print the registered names and exit
 * Serving installs SIGTERM and SIGINT handlers that stop the loop (every registration ends with it) and ignores
 * SIGPIPE. When the port is already in use and answers as an EPMD, the command exits with status 0 after one info
 * line: another daemon won the race, and that is what was wanted. Returns the exit status: 0, 1 failure (one line on
 * stderr says why), 2 usage. */
int ac_epmd_cli(int argc, char **argv);

#endif
