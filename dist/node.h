/* dist/node.h - the distribution node: one event-loop thread that owns every peer socket, speaks the Erlang
 * distribution protocol after the handshake, and serves exactly what AlexClaw needs (DESIGN.md, Distribution):
 *
 *   - net_kernel {is_auth, Node}             -> yes           (so net_adm:ping answers pong)
 *   - rex {call | block_call, M, F, A, GL}   -> {Tag, Reply}  (rpc:block_call, gen_server:call({rex, N}, ...))
 *   - SPAWN_REQUEST erpc:execute_call/4      -> SPAWN_REPLY + MONITOR_P_EXIT {Ref, return, Value}  (rpc:call, erpc:call)
 *   - SPAWN_REQUEST erpc:execute_cast/3      -> SPAWN_REPLY   (rpc:cast)
 *   - LINK, MONITOR_P to our pids            -> EXIT / MONITOR_P_EXIT noproc; UNLINK_ID -> UNLINK_ID_ACK
 *
 * The only function callers may reach is 'Elixir.AlexClaw.Cluster.Manager':receive_workflow_data/3 (the allow-list
 * at the top of node.c); anything else gets the answer a BEAM node gives for an undefined function. A trigger is
 * handed to the caller's callback with the AUTHENTICATED peer name; the answer comes back later (after the run is
 * durably recorded) through ac_dist_node_answer(). The loop never blocks on the database or a slow peer: handshakes
 * run in short-lived threads, writes are buffered (a peer whose buffer exceeds the limit is dropped), ticks keep
 * flowing to every other peer. */
#ifndef AC_DIST_NODE_H
#define AC_DIST_NODE_H

#include "policy/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ac_dist_node ac_dist_node_t;

/* On the loop thread; must not block. data is borrowed (take a reference to keep it). */
typedef void (*ac_dist_trigger_fn)(void *arg, uint64_t token, const char *peer, const char *workflow, json_t *data,
                                   const char *claimed_source);
/* On the loop thread; must not block. */
typedef void (*ac_dist_membership_fn)(void *arg, const char *peer, bool up);

typedef struct ac_dist_node_cfg {
    const char *name;       /* alive@host */
    const char *cookie;     /* secret */
    const char *bind_addr;  /* address the listener binds (loopback by default) */
    int port_min, port_max; /* 0, 0: any port */
    const char *epmd_host;
    uint16_t epmd_port;
    const char *self_exe; /* to start `alexclaw epmd` when no EPMD answers */
    int net_ticktime_s;   /* peer silent this long is dropped (default 60) */
    ac_dist_trigger_fn trigger;
    ac_dist_membership_fn membership;
    void *arg;
} ac_dist_node_cfg_t;

int ac_dist_node_start(const ac_dist_node_cfg_t *cfg, ac_dist_node_t **out, ac_errmsg_t *err);
void ac_dist_node_stop(ac_dist_node_t *n);
/* The port the listener got. */
int ac_dist_node_port(const ac_dist_node_t *n);

/* Answers a trigger, from any thread: {ok, started} when error_atom and unauthorized are NULL; {error, error_atom};
 * or {error, {unauthorized_node, <<unauthorized>>}}. A token whose peer went away is ignored. */
void ac_dist_node_answer(ac_dist_node_t *n, uint64_t token, const char *error_atom, const char *unauthorized);

/* From any thread: opens a connection to peer unless one exists (failures are logged). */
void ac_dist_node_connect(ac_dist_node_t *n, const char *peer);
/* Whether a connection to peer is up (any thread). */
bool ac_dist_node_connected(ac_dist_node_t *n, const char *peer);

/* From a worker thread: calls receive_workflow_data(workflow, data, our name) on `peer` through its rex server,
 * connecting first when needed; waits at most timeout_ms. Returns 0 for {ok, _}; otherwise -1 with err set to the
 * remote error ("workflow_not_found", "unauthorized_node: x") or "rpc_failed: <reason>". */
int ac_dist_node_trigger_remote(ac_dist_node_t *n, const char *peer, const char *workflow, const json_t *data,
                                int timeout_ms, char *err, size_t errlen);

#endif
