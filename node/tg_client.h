/* node/tg_client.h - the Telegram Bot API client: getUpdates, sendMessage, sendPhoto over skills/http.h.
 *
 * A client is the API base URL and the settings it reads the token (telegram.bot_token), the switch
 * (telegram.enabled) and the default chat (telegram.chat_id) from at every call, so a changed token takes effect at
 * once. The token is in every URL's path: it is registered with the logger's redaction when first used, and every
 * error text is scrubbed of it before it leaves this module. Thread-safe; any number of clients may exist. */
#ifndef AC_NODE_TG_CLIENT_H
#define AC_NODE_TG_CLIENT_H

#include "node/settings.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AC_NODE_TG_DEFAULT_API  "https://api.telegram.org"
#define AC_NODE_TG_API_URL_MAX  512
#define AC_NODE_TG_MSG_MAX      4000 /* bytes per sendMessage; longer texts are split */
#define AC_NODE_TG_MSG_PIECES   5    /* at most this many messages per text; the rest is cut */
#define AC_NODE_TG_SEND_TIMEOUT 15000

typedef struct ac_node_tg_client ac_node_tg_client_t;

/* Checks the base URL (http or https, at most AC_NODE_TG_API_URL_MAX bytes; NULL: the default) and copies it. */
int ac_node_tg_client_new(const char *api_url, ac_node_settings_t *settings, ac_node_tg_client_t **out,
                          ac_errmsg_t *err);
void ac_node_tg_client_free(ac_node_tg_client_t *c);

/* Whether telegram.enabled is on and a well-formed token is set. */
bool ac_node_tg_client_configured(ac_node_tg_client_t *c);

/* The answer of one API call. */
typedef struct ac_node_tg_answer {
    long status; /* HTTP status; 0 when none arrived */
    char *body;  /* from ac_malloc; NULL unless a response arrived */
    size_t len;
} ac_node_tg_answer_t;
void ac_node_tg_answer_free(ac_node_tg_answer_t *a);

/* getUpdates with offset and a long-poll timeout (seconds). cancel: non-zero stops it within a second. Returns 0
 * when an answer arrived (any status), -AC_ESTATE (off or no token), -AC_ESTOPPED, -AC_ETOOLONG (the answer is over
 * 4 MiB: ask for fewer updates), or -AC_EIO/-AC_ETIMEDOUT with a sentence in err (never the token). */
int ac_node_tg_client_get_updates(ac_node_tg_client_t *c, int64_t offset, int timeout_s, int limit,
                                  volatile sig_atomic_t *cancel, ac_node_tg_answer_t *ans, ac_errmsg_t *err);
/* The bot's id: the digits before the token's ':' (public; update ids are per bot). OUT: out (cap >= 24); returns
 * 0, or -AC_ESTATE without a usable token. */
int ac_node_tg_client_bot_id(ac_node_tg_client_t *c, char *out, size_t cap);

/* sendMessage to chat_id (NULL or "": telegram.chat_id): html with parse_mode HTML, or, when Telegram refuses the
 * markup (400) or html is NULL, plain without a parse mode. Long texts are split (AC_NODE_TG_MSG_MAX bytes,
 * at most AC_NODE_TG_MSG_PIECES pieces, the last one ending in "... (truncated)"). A 429 is waited out once when
 * retry_after is at most 10 s. Returns 0, -AC_ESTATE (off, no token, no chat), -AC_EIO (refused or failed). */
int ac_node_tg_client_send(ac_node_tg_client_t *c, const char *chat_id, const char *html, const char *plain,
                           ac_errmsg_t *err);

/* sendPhoto: a PNG (multipart/form-data, filename qr.png) with a caption (at most 1024 bytes). */
int ac_node_tg_client_send_photo(ac_node_tg_client_t *c, const char *chat_id, const uint8_t *png, size_t len,
                                 const char *caption, ac_errmsg_t *err);

#endif
