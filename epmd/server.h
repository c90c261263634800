/* epmd/server.h - an EPMD-compatible daemon: real `erl` nodes, erl_interface and `epmd -names` use it as they use epmd.
 *
 * One thread, one poll() loop. A registration (ALIVE2_REQ) lasts while its TCP connection lives; PORT_PLEASE2_REQ and
 * NAMES_REQ are answered and the connection closed; DUMP_REQ, KILL_REQ and STOP_REQ are refused (connection closed,
 * nothing done), as is anything malformed. Bounds: AC_EPMD_SERVER_MAX_CONNS connections (more are accepted and closed
 * at once), a request of at most AC_EPMD_REQ_MAX bytes, AC_EPMD_SERVER_TIMEOUT_MS for a connection to complete its
 * request and take its answer (registered connections are exempt). Registrations and unregistrations are logged at
 * info (module=epmd). */
#ifndef AC_EPMD_SERVER_H
#define AC_EPMD_SERVER_H

#include "policy/error.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define AC_EPMD_SERVER_MAX_CONNS     1024
#define AC_EPMD_SERVER_TIMEOUT_MS    5000
#define AC_EPMD_SERVER_MAX_ADDRESSES 16

typedef struct ac_epmd_server_opts {
    /* Comma-separated numeric IPv4/IPv6 addresses to listen on ("127.0.0.1", "::1", "10.0.0.5,127.0.0.1"). NULL or
     * empty: ERL_EPMD_ADDRESS when set, else 127.0.0.1. As with epmd, 127.0.0.1 and (when the host has IPv6) ::1 are
     * added unless a wildcard of their family is listed: local nodes register through loopback. */
    const char *addresses;
    uint16_t port;  /* 0: ERL_EPMD_PORT when set, else 4369 */
    bool any_port;  /* tests: let the kernel pick a free port (read it with ac_epmd_server_port) */
    int max_conns;  /* 0: AC_EPMD_SERVER_MAX_CONNS */
    int timeout_ms; /* 0: AC_EPMD_SERVER_TIMEOUT_MS */
} ac_epmd_server_opts_t;

typedef struct ac_epmd_server ac_epmd_server_t;

/* Binds and listens on every address (SO_REUSEADDR; IPv6 sockets IPV6_V6ONLY) and returns the server in *out (free it
 * with ac_epmd_server_free). Returns 0, -AC_ECONFIG (an address that is not a numeric IP, too many, bad
 * ERL_EPMD_PORT), -AC_EEXIST when the port is in use on one of the addresses (err: "EPMD port 4369 on 127.0.0.1 is in
 * use"), or -AC_ESYS. Nothing stays bound on failure. */
int ac_epmd_server_open(const ac_epmd_server_opts_t *opts, ac_epmd_server_t **out, ac_errmsg_t *err);

/* The port the server listens on. */
uint16_t ac_epmd_server_port(const ac_epmd_server_t *srv);

/* Serves until *stop becomes non-zero (checked at least every 250 ms and after every signal that interrupts poll),
 * then closes every connection (so every registration ends). Returns 0, or -AC_ESYS when poll() fails. */
int ac_epmd_server_serve(ac_epmd_server_t *srv, volatile sig_atomic_t *stop, ac_errmsg_t *err);

/* Closes everything and frees srv (NULL is fine). */
void ac_epmd_server_free(ac_epmd_server_t *srv);

/* ac_epmd_server_open(), ac_epmd_server_serve(), ac_epmd_server_free(). Returns what the first failing step returned,
 * or 0 after *stop. */
int ac_epmd_server_run(const ac_epmd_server_opts_t *opts, volatile sig_atomic_t *stop, ac_errmsg_t *err);

#endif
