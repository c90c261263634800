/* node/pgembed.h - the embedded default database: a private PostgreSQL cluster under the node's data directory.
 *
 * Used when DATABASE_URL is not set. Layout: <data>/postgres is the cluster (created with initdb on first use, owned
 * by the server's user, mode 0700). The server listens on a Unix socket only (listen_addresses = ''), in a short
 * directory owned by the server's user with mode 0700 -- <data>/postgres-run, or /tmp/.alexclaw-pg-<hash of the data
 * directory> when that path would be too long for a socket (107 bytes) -- and trusts local connections: only that
 * user and root can reach the socket.
 * When the node runs as root, the server runs as an unprivileged user of its own (ALEXCLAW_PG_USER, default
 * "alexclaw", created by deploy/install-deps.sh), not the shared "postgres" account, so the superuser of another
 * cluster on the host cannot reach this one.
 *
 * Several alexclaw processes may use one data directory at a time (a node and an `alexclaw config` command, say):
 * the first one starts the server and stops it when it exits, unless another still uses it; the others attach.
 * Users are counted with flock(2) on <data>/postgres.users, so a crashed process never holds a count. */
#ifndef AC_NODE_PGEMBED_H
#define AC_NODE_PGEMBED_H

#include "policy/error.h"

#define AC_NODE_PGEMBED_DEFAULT_USER "alexclaw"

typedef struct ac_node_pgembed ac_node_pgembed_t;

typedef struct ac_node_pgembed_opts {
    const char *data_dir; /* absolute, existing */
    const char *run_as;   /* server user when running as root (NULL: AC_NODE_PGEMBED_DEFAULT_USER) */
    const char *bindir;   /* directory with initdb/pg_ctl/postgres (NULL: search) */
} ac_node_pgembed_opts_t;

/* Creates the cluster if needed and starts the server unless it runs already. On failure err says what to do
 * (install PostgreSQL, pick a data directory the server user can reach, read the server log at ...).
 * OUT: *out, released with ac_node_pgembed_stop(). */
int ac_node_pgembed_start(const ac_node_pgembed_opts_t *opts, ac_node_pgembed_t **out, ac_errmsg_t *err);

/* libpq connection string for the embedded server's `alexclaw` database. Valid until stop. */
const char *ac_node_pgembed_conninfo(const ac_node_pgembed_t *pg);

/* Detaches; stops the server (fast shutdown) when no other process uses it. Frees pg. NULL is fine. */
void ac_node_pgembed_stop(ac_node_pgembed_t *pg);

#endif
