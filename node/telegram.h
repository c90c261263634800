/* node/telegram.h - the Telegram gateway: one thread that long-polls the Bot API (getUpdates) and hands the owner's
 * messages to the dispatcher (node/dispatch.h). Sending is node/tg_client.h.
 *
 * Only messages from the chat in setting telegram.chat_id are handled; with none configured every message is
 * ignored (counted, never answered; the admin Dashboard says why). Among nodes sharing a database exactly one polls:
 * the node named in telegram.node, or, when that is empty, the holder of the advisory lock AC_NODE_DB_LOCK_TELEGRAM
 * (a session lock, so another node takes over when the holder dies). The next update_id is stored in gateway_state
 * before an update is handled: a restart or a new poller neither repeats nor skips one (a crash in the middle of
 * handling an update loses that update's answer rather than running its command twice).
 *
 * Errors are survived: network failures, 5xx and malformed answers back off (1 s doubling to 60 s), 429 waits
 * retry_after, 401/404 (a wrong token) back off 60 s. The token never appears in a log line or an error. */
#ifndef AC_NODE_TELEGRAM_H
#define AC_NODE_TELEGRAM_H

#include "node/dispatch.h"
#include "node/tg_client.h"

#include <stdbool.h>
#include <stdint.h>

#define AC_NODE_TELEGRAM_LONG_POLL_S 30

typedef struct ac_node_telegram ac_node_telegram_t;

typedef struct ac_node_telegram_cfg {
    const char *conninfo;            /* secret */
    ac_node_tg_client_t *client;     /* borrowed; outlives the gateway */
    const char *node_name;           /* matched against telegram.node */
    ac_node_dispatch_cfg_t dispatch; /* what the commands need; `out` is filled by the gateway */
    int long_poll_s;                 /* 0: AC_NODE_TELEGRAM_LONG_POLL_S */
} ac_node_telegram_cfg_t;

typedef struct ac_node_telegram_stats {
    char state[32];         /* "off", "standby", "polling", "backoff", "unauthorized", "stopped" */
    uint64_t handled;       /* messages from the configured chat */
    uint64_t ignored_chat;  /* messages from other chats, or from any chat while no chat id is configured */
    uint64_t ignored_other; /* edited messages, non-text, other update kinds */
    uint64_t errors;        /* failed polls */
} ac_node_telegram_stats_t;

/* Starts the poller thread. */
int ac_node_telegram_start(const ac_node_telegram_cfg_t *cfg, ac_node_telegram_t **out, ac_errmsg_t *err);
/* Stops the poller (a long poll in flight is abandoned within a second) and frees it. NULL is fine. */
void ac_node_telegram_stop(ac_node_telegram_t *tg);
void ac_node_telegram_stats(ac_node_telegram_t *tg, ac_node_telegram_stats_t *out);

#endif
