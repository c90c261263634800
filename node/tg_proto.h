/* node/tg_proto.h - the Telegram Bot API's JSON as the gateway reads it, and the owner's command lines. Pure: no
 * I/O, no clock, no globals; fuzzed (tests/fuzz/fuzz_telegram.c).
 *
 * Updates: a getUpdates answer {"ok":true,"result":[...]} becomes a bounded list. Only "message" updates with text
 * are messages; edited messages, channel posts, callbacks and the rest are kept as "other" so the offset still moves
 * past them. An answer that is not that shape, or an update without an integer update_id, is refused whole: the
 * gateway retries later with the same offset, so nothing is skipped.
 *
 * Commands: "/name[@bot] args" with name matched exactly (not by prefix, unlike the original), a 6-digit code, or
 * free text. */
#ifndef AC_NODE_TG_PROTO_H
#define AC_NODE_TG_PROTO_H

#include "policy/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AC_NODE_TG_MAX_UPDATES 100   /* getUpdates' own limit */
#define AC_NODE_TG_TEXT_MAX    16384 /* bytes of a message's text we read (Telegram's limit is 4096 characters) */
#define AC_NODE_TG_CHAT_ID_MAX 24    /* a 64-bit integer in decimal, with sign */
#define AC_NODE_TG_NAME_MAX    64
#define AC_NODE_TG_DESC_MAX    200

typedef struct ac_node_tg_update {
    int64_t update_id;
    bool is_message;                      /* a new message with text (not edited, not a post, not a callback) */
    char chat_id[AC_NODE_TG_CHAT_ID_MAX]; /* decimal; "" when the update has none */
    char from[AC_NODE_TG_NAME_MAX];       /* sender's first name, cut; for replies only */
    char *text;                           /* from ac_malloc; NULL unless is_message */
} ac_node_tg_update_t;

typedef struct ac_node_tg_updates {
    ac_node_tg_update_t *v;
    size_t n;
} ac_node_tg_updates_t;

/* Parses a getUpdates response body (at most len bytes; need not be NUL-terminated). Returns 0, or -AC_EINVAL with
 * a sentence in err (never the body). Updates come out in ascending update_id order. */
int ac_node_tg_parse_updates(const char *body, size_t len, ac_node_tg_updates_t *out, ac_errmsg_t *err);
void ac_node_tg_updates_free(ac_node_tg_updates_t *u);

/* An error answer {"ok":false,"error_code":N,"description":"...","parameters":{"retry_after":S}}: OUT retry_after
 * (seconds, 0 when absent; capped at 3600) and the description (cut, control characters replaced). Returns 0 when the
 * body has that shape, -AC_EINVAL otherwise. */
int ac_node_tg_parse_error(const char *body, size_t len, int *retry_after, char desc[AC_NODE_TG_DESC_MAX]);

/* Whether a sendMessage/sendPhoto answer says "ok": true. */
bool ac_node_tg_answer_ok(const char *body, size_t len);

typedef enum {
    AC_TG_CMD_TEXT = 0, /* free text */
    AC_TG_CMD_CODE,     /* exactly 6 digits (after trimming) */
    AC_TG_CMD_UNKNOWN,  /* "/something" we do not know */
    AC_TG_CMD_START,
    AC_TG_CMD_PING,
    AC_TG_CMD_STATUS,
    AC_TG_CMD_HELP,
    AC_TG_CMD_WORKFLOWS,
    AC_TG_CMD_RUN,
    AC_TG_CMD_RUNS,
    AC_TG_CMD_CANCEL,
    AC_TG_CMD_SKILLS,
    AC_TG_CMD_SKILL, /* /skill ... (management happens in the admin UI) */
    AC_TG_CMD_SHELL,
    AC_TG_CMD_SETUP,
    AC_TG_CMD_CONFIRM,
    AC_TG_CMD_DISABLE,
    AC_TG_CMD_GITHUB,
    AC_TG_CMD_RATE,
    AC_TG_CMD_LLM,   /* /llm: the providers */
    AC_TG_CMD_CODER, /* /coder <goal> */
} ac_node_tg_cmd_kind_t;

typedef struct ac_node_tg_cmd {
    ac_node_tg_cmd_kind_t kind;
    const char *arg; /* points into the text: the rest after the command and its spaces, trailing spaces kept */
    size_t arg_len;  /* without trailing white space */
} ac_node_tg_cmd_t;

/* Classifies a message text. Never fails; NULL text is free text with an empty arg. */
void ac_node_tg_cmd_parse(const char *text, ac_node_tg_cmd_t *out);
/* The command's name as typed after the slash ("run"), for logs. */
const char *ac_node_tg_cmd_name(ac_node_tg_cmd_kind_t kind);

/* Splits a UTF-8 text into pieces of at most max bytes (max >= 8), preferring line ends, then spaces, never
 * inside a UTF-8 sequence. Calls fn for each piece (pointer into text, length) in order. Returns the number of
 * pieces. */
size_t ac_node_tg_split(const char *text, size_t max, void (*fn)(void *arg, const char *p, size_t n), void *arg);

#endif
