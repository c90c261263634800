/* node/tg_proto.c - Telegram Bot API JSON and command lines, as tg_proto.h describes. */
#include "node/tg_proto.h"

#include "policy/alloc.h"
#include "policy/utf8.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies s into out (cap), cutting at a UTF-8 boundary and replacing control characters by spaces. */
static void copy_clean(char *out, size_t cap, const char *s)
{
    if (s == NULL)
        s = "";
    size_t n = ac_policy_utf8_fit(s, strlen(s), cap - 1);
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    out[n] = '\0';
}

static json_t *load(const char *body, size_t len)
{
    json_error_t jerr;
    if (body == NULL)
        return NULL;
    /* JSON_ALLOW_NUL: a "\u0000" inside one text makes that update no message (parse_updates checks); it must not
     * refuse the whole answer, or one such update would stop the gateway for good */
    return json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
}

/* chat.id is an integer (up to 52 bits in practice); refuse anything else. */
static void chat_of(json_t *msg, char out[AC_NODE_TG_CHAT_ID_MAX])
{
    out[0] = '\0';
    json_t *chat = json_object_get(msg, "chat");
    json_t *id = json_object_get(chat, "id");
    if (json_is_integer(id))
        snprintf(out, AC_NODE_TG_CHAT_ID_MAX, "%lld", (long long)json_integer_value(id));
}

static int cmp_update(const void *a, const void *b)
{
    int64_t x = ((const ac_node_tg_update_t *)a)->update_id, y = ((const ac_node_tg_update_t *)b)->update_id;
    return x < y ? -1 : x > y;
}

int ac_node_tg_parse_updates(const char *body, size_t len, ac_node_tg_updates_t *out, ac_errmsg_t *err)
{
    out->v = NULL;
    out->n = 0;
    json_t *root = load(body, len);
    if (!json_is_object(root)) {
        json_decref(root);
        return ac_errmsg_set(err, -AC_EINVAL, "the answer is not a JSON object");
    }
    json_t *result = json_object_get(root, "result");
    if (!json_is_true(json_object_get(root, "ok")) || !json_is_array(result)) {
        json_decref(root);
        return ac_errmsg_set(err, -AC_EINVAL, "the answer has no \"ok\": true and \"result\" list");
    }
    size_t n = json_array_size(result);
    if (n > AC_NODE_TG_MAX_UPDATES) {
        json_decref(root);
        return ac_errmsg_set(err, -AC_EINVAL, "the answer has %zu updates (at most %d)", n, AC_NODE_TG_MAX_UPDATES);
    }
    ac_node_tg_update_t *v = n > 0 ? ac_calloc(n, sizeof(*v)) : NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *u = json_array_get(result, i);
        json_t *id = json_object_get(u, "update_id");
        if (!json_is_integer(id) || json_integer_value(id) < 0) {
            out->v = v;
            out->n = i;
            ac_node_tg_updates_free(out);
            json_decref(root);
            return ac_errmsg_set(err, -AC_EINVAL, "update %zu has no integer update_id", i);
        }
        v[i].update_id = json_integer_value(id);
        json_t *msg = json_object_get(u, "message"); /* edited_message, channel_post, ...: other */
        if (!json_is_object(msg))
            continue;
        chat_of(msg, v[i].chat_id);
        json_t *from = json_object_get(msg, "from");
        copy_clean(v[i].from, sizeof(v[i].from), json_string_value(json_object_get(from, "first_name")));
        json_t *text = json_object_get(msg, "text");
        if (!json_is_string(text) || v[i].chat_id[0] == '\0')
            continue;
        size_t tl = json_string_length(text);
        const char *t = json_string_value(text);
        if (tl > AC_NODE_TG_TEXT_MAX || memchr(t, '\0', tl) != NULL)
            continue; /* longer than Telegram allows, or a NUL inside: not a message we act on */
        v[i].text = ac_strdup(t);
        v[i].is_message = true;
    }
    json_decref(root);
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_update);
    out->v = v;
    out->n = n;
    return 0;
}

void ac_node_tg_updates_free(ac_node_tg_updates_t *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->v[i].text);
    free(u->v);
    u->v = NULL;
    u->n = 0;
}

int ac_node_tg_parse_error(const char *body, size_t len, int *retry_after, char desc[AC_NODE_TG_DESC_MAX])
{
    *retry_after = 0;
    desc[0] = '\0';
    json_t *root = load(body, len);
    if (!json_is_object(root) || !json_is_false(json_object_get(root, "ok"))) {
        json_decref(root);
        return -AC_EINVAL;
    }
    copy_clean(desc, AC_NODE_TG_DESC_MAX, json_string_value(json_object_get(root, "description")));
    json_t *ra = json_object_get(json_object_get(root, "parameters"), "retry_after");
    if (json_is_integer(ra) && json_integer_value(ra) > 0)
        *retry_after = json_integer_value(ra) > 3600 ? 3600 : (int)json_integer_value(ra);
    json_decref(root);
    return 0;
}

bool ac_node_tg_answer_ok(const char *body, size_t len)
{
    json_t *root = load(body, len);
    bool ok = json_is_object(root) && json_is_true(json_object_get(root, "ok"));
    json_decref(root);
    return ok;
}

static const struct {
    const char *name;
    ac_node_tg_cmd_kind_t kind;
} commands[] = {
    {"start", AC_TG_CMD_START},
    {"ping", AC_TG_CMD_PING},
    {"status", AC_TG_CMD_STATUS},
    {"help", AC_TG_CMD_HELP},
    {"workflows", AC_TG_CMD_WORKFLOWS},
    {"run", AC_TG_CMD_RUN},
    {"runs", AC_TG_CMD_RUNS},
    {"cancel", AC_TG_CMD_CANCEL},
    {"skills", AC_TG_CMD_SKILLS},
    {"skill", AC_TG_CMD_SKILL},
    {"shell", AC_TG_CMD_SHELL},
    {"setup", AC_TG_CMD_SETUP},
    {"confirm", AC_TG_CMD_CONFIRM},
    {"disable", AC_TG_CMD_DISABLE},
    {"github", AC_TG_CMD_GITHUB},
    {"rate", AC_TG_CMD_RATE},
    {"llm", AC_TG_CMD_LLM},
    {"coder", AC_TG_CMD_CODER},
};

const char *ac_node_tg_cmd_name(ac_node_tg_cmd_kind_t kind)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].kind == kind)
            return commands[i].name;
    return kind == AC_TG_CMD_CODE ? "code" : kind == AC_TG_CMD_UNKNOWN ? "unknown" : "text";
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void set_arg(ac_node_tg_cmd_t *out, const char *p)
{
    while (is_space(*p))
        p++;
    size_t n = strlen(p);
    while (n > 0 && is_space(p[n - 1]))
        n--;
    out->arg = p;
    out->arg_len = n;
}

void ac_node_tg_cmd_parse(const char *text, ac_node_tg_cmd_t *out)
{
    out->kind = AC_TG_CMD_TEXT;
    set_arg(out, text != NULL ? text : "");
    if (text == NULL)
        return;
    const char *t = out->arg;
    size_t tl = out->arg_len;
    if (tl == 6 && strspn(t, "0123456789") >= 6) {
        out->kind = AC_TG_CMD_CODE;
        return;
    }
    if (t[0] != '/')
        return;
    size_t nl = strcspn(t + 1, " \t\r\n@");
    const char *rest = t + 1 + nl;
    if (*rest == '@') /* "/run@MyBot args": the bot's name goes */
        rest += strcspn(rest, " \t\r\n");
    out->kind = AC_TG_CMD_UNKNOWN;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strlen(commands[i].name) == nl && strncmp(commands[i].name, t + 1, nl) == 0) {
            out->kind = commands[i].kind;
            break;
        }
    set_arg(out, rest);
}

size_t ac_node_tg_split(const char *text, size_t max, void (*fn)(void *arg, const char *p, size_t n), void *arg)
{
    size_t len = strlen(text), off = 0, pieces = 0;
    if (max < 8)
        max = 8;
    while (off < len || (len == 0 && pieces == 0)) {
        size_t n = len - off;
        if (n > max) {
            n = ac_policy_utf8_fit(text + off, len - off, max); /* not inside a sequence */
            size_t cut = 0;
            for (size_t k = n; k > max / 2; k--)
                if (text[off + k - 1] == '\n') {
                    cut = k;
                    break;
                }
            for (size_t k = n; cut == 0 && k > max / 2; k--)
                if (text[off + k - 1] == ' ') {
                    cut = k;
                    break;
                }
            if (cut != 0)
                n = cut;
            if (n == 0)
                n = max; /* cannot happen with valid UTF-8; never loop forever */
        }
        fn(arg, text + off, n);
        pieces++;
        off += n;
        if (len == 0)
            break;
    }
    return pieces;
}
