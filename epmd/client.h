/* epmd/client.h - what a node needs from EPMD: register its name, look up another node's port, list names, and make
 * sure a daemon runs.
 *
 * Every call connects to `host` (a numeric address or a name resolved with getaddrinfo; NULL means 127.0.0.1, where a
 * local EPMD always listens) on `port` (0 means ERL_EPMD_PORT, else 4369), sets TCP_NODELAY, and bounds each step
 * (connect, send, receive) by poll() against one deadline. Name resolution itself is not bounded: pass numeric
 * addresses where that matters. Errors: -AC_EINVAL (bad argument or name), -AC_ECONFIG (bad ERL_EPMD_PORT),
 * -AC_EIO (connection refused or closed, or a malformed answer), -AC_ETIMEDOUT, -AC_ESYS; err gets one sentence. */
#ifndef AC_EPMD_CLIENT_H
#define AC_EPMD_CLIENT_H

#include "policy/error.h"

#include <stdint.h>

#define AC_EPMD_CLIENT_TIMEOUT_MS 5000          /* register's timeout, and the default when timeout_ms is 0 */
#define AC_EPMD_CLIENT_NAMES_MAX  (1024 * 1024) /* largest NAMES answer accepted */
#define AC_EPMD_ENSURE_WAIT_MS    3000          /* how long ensure_daemon waits for a daemon it started */

/* Sets *port to ERL_EPMD_PORT when that is set (it must be a number in 1..65535: -AC_ECONFIG otherwise), else to
 * AC_EPMD_DEFAULT_PORT. Returns 0 or -AC_ECONFIG. */
int ac_epmd_client_env_port(uint16_t *port, ac_errmsg_t *err);

/* Registers alive_name (e.g. "alexclaw" for alexclaw@host) for a node listening on dist_port: ALIVE2_REQ with
 * HighestVersion 6, LowestVersion 5, NodeType 72 (hidden, as erl_interface's C nodes), Protocol 0, no Extra; waits at
 * most AC_EPMD_CLIENT_TIMEOUT_MS. Returns 0 with *fd_out holding the registration's connection (O_NONBLOCK,
 * O_CLOEXEC; the caller owns it: closing it unregisters) and *creation_out the creation EPMD assigned (32-bit from
 * ALIVE2_X_RESP, or the 16-bit legacy value). Poll *fd_out for POLLIN: it becomes readable only when EPMD closed it
 * (or misbehaves), and the caller then closes it and registers again. -AC_EEXIST when EPMD refused the name (taken);
 * *fd_out is -1 on every failure. */
int ac_epmd_client_register(const char *host, uint16_t port, const char *alive_name, uint16_t dist_port, int *fd_out,
                            uint32_t *creation_out, ac_errmsg_t *err);

/* Asks for alive_name's distribution port (PORT_PLEASE2_REQ). Returns 0 with *dist_port and *highest (its highest
 * distribution version; may be NULL) set, or -AC_ENOENT when no such name is registered. timeout_ms bounds the whole
 * exchange (0: AC_EPMD_CLIENT_TIMEOUT_MS). */
int ac_epmd_client_port_please(const char *host, uint16_t port, const char *alive_name, int timeout_ms,
                               uint16_t *dist_port, uint16_t *highest, ac_errmsg_t *err);

/* Lists the registered names (NAMES_REQ). Returns 0 with *text set to the answer after its 4-byte port header: lines
 * "name NAME at port PORT\n", possibly none; from ac_malloc(), NUL-terminated, caller frees with free(). The text is
 * checked to hold no NUL and no control character but '\n' (it may go to a terminal); answers over
 * AC_EPMD_CLIENT_NAMES_MAX are refused. *text is NULL on failure. */
int ac_epmd_client_names(const char *host, uint16_t port, int timeout_ms, char **text, ac_errmsg_t *err);

/* Makes sure an EPMD answers on host:port. When one already does (a NAMES request succeeds), returns 0 at once.
 * Otherwise starts `self_exe epmd --port PORT` (plus `--address HOST` when host is a numeric address and
 * ERL_EPMD_ADDRESS is not set; the daemon reads ERL_EPMD_ADDRESS itself) as a detached daemon that outlives the caller:
 * double fork and setsid, cwd /, stdin/stdout/stderr on /dev/null, every other descriptor closed, signal mask and
 * dispositions reset, and only async-signal-safe calls between fork and exec (the caller may have threads). Then
 * waits up to AC_EPMD_ENSURE_WAIT_MS for it to answer. Several callers racing are fine: every daemon but the one that
 * binds finds the port answering as EPMD and exits with status 0. Returns 0, or -AC_ESYS (fork, exec) /
 * -AC_ETIMEDOUT (nothing answered in time). */
int ac_epmd_client_ensure_daemon(const char *self_exe, const char *host, uint16_t port, ac_errmsg_t *err);

#endif
