/* node/runtime.h - what every command of the node needs, opened in one place and in one order:
 * environment -> data directory -> database (embedded or DATABASE_URL) -> migrations -> settings -> listener.
 *
 * `serve` opens everything; `migrate` stops after the migrations; `config` needs the settings but no listener.
 * Closing releases in reverse order and stops an embedded server this process started (unless others use it). */
#ifndef AC_NODE_RUNTIME_H
#define AC_NODE_RUNTIME_H

#include "node/env.h"
#include "node/pgembed.h"
#include "node/settings.h"
#include "node/settings_store.h"

#include <libpq-fe.h>
#include <signal.h>

enum {
    AC_RT_SECRET = 1u << 0,   /* SECRET_KEY_BASE required (settings need the key) */
    AC_RT_MIGRATE = 1u << 1,  /* apply migrations */
    AC_RT_SETTINGS = 1u << 2, /* seed and load settings (implies AC_RT_SECRET) */
    AC_RT_LISTEN = 1u << 3,   /* keep the settings cache current (LISTEN/NOTIFY thread) */
    AC_RT_WAIT_DB = 1u << 4,  /* wait for the database forever (serve); otherwise up to 30 s */
    AC_RT_NODE = 1u << 5,     /* this process is the node: one per data directory (flock on <data>/node.lock) */
};

typedef struct ac_node_runtime {
    ac_node_env_t env;
    char *data_dir;   /* absolute */
    char *node_name;  /* NODE_NAME, else alexclaw@<hostname> */
    int node_lock_fd; /* AC_RT_NODE: held while the node runs; -1 otherwise */
    ac_node_pgembed_t *pg;
    char *conninfo; /* secret: may hold a password */
    PGconn *db;
    ac_node_settings_t *settings;
    ac_node_settings_listener_t *listener;
} ac_node_runtime_t;

/* Opens what `flags` ask for. *stop (may be NULL) interrupts waiting for the database. On failure err holds one
 * sentence for the operator, everything opened so far is closed, and rt is zeroed. */
int ac_node_runtime_open(ac_node_runtime_t *rt, unsigned flags, volatile sig_atomic_t *stop, ac_errmsg_t *err);
void ac_node_runtime_close(ac_node_runtime_t *rt);

/* This process's resident memory in bytes (VmRSS of /proc/self/status); 0 when unknown. */
int64_t ac_node_runtime_rss_bytes(void);

#endif
