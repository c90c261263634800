/* node/tg_client.c - the Telegram Bot API client of tg_client.h. */
#include "node/tg_client.h"

#include "node/env.h"
#include "node/log.h"
#include "node/tg_proto.h"
#include "policy/alloc.h"
#include "policy/crypto.h"
#include "skills/http.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_MAX 128

struct ac_node_tg_client {
    char *api_url; /* without a trailing slash */
    ac_node_settings_t *settings;
};

int ac_node_tg_client_new(const char *api_url, ac_node_settings_t *settings, ac_node_tg_client_t **out,
                          ac_errmsg_t *err)
{
    *out = NULL;
    if (api_url == NULL || api_url[0] == '\0')
        api_url = AC_NODE_TG_DEFAULT_API;
    size_t n = strlen(api_url);
    if (n > AC_NODE_TG_API_URL_MAX)
        return ac_errmsg_set(err, -AC_ECONFIG, "TELEGRAM_API_URL is too long");
    int rc = ac_node_env_api_url_check("TELEGRAM_API_URL", api_url, err);
    if (rc != 0)
        return rc;
    ac_node_tg_client_t *c = ac_calloc(1, sizeof(*c));
    c->api_url = ac_strdup(api_url);
    while (n > 0 && c->api_url[n - 1] == '/')
        c->api_url[--n] = '\0';
    c->settings = settings;
    *out = c;
    return 0;
}

void ac_node_tg_client_free(ac_node_tg_client_t *c)
{
    if (c == NULL)
        return;
    free(c->api_url);
    free(c);
}

void ac_node_tg_answer_free(ac_node_tg_answer_t *a)
{
    free(a->body);
    a->body = NULL;
    a->len = 0;
}

/* A token is "<digits>:<[A-Za-z0-9_-]+>" (BotFather's form); anything else would change the URL's meaning. */
static bool token_ok(const char *t)
{
    size_t d = strspn(t, "0123456789");
    if (d == 0 || t[d] != ':' || strlen(t) > TOKEN_MAX)
        return false;
    const char *r = t + d + 1;
    return r[0] != '\0' && strspn(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(r);
}

/* The token, when Telegram is on and it is well-formed; registered for redaction. From ac_malloc. */
static char *token_get(ac_node_tg_client_t *c)
{
    if (!ac_node_settings_bool_or(c->settings, "telegram.enabled", true))
        return NULL;
    char *t = NULL;
    if (ac_node_settings_get_str(c->settings, "telegram.bot_token", &t) != 0 || t == NULL || !token_ok(t)) {
        ac_free_secret_str(t);
        return NULL;
    }
    ac_log_secret_add(t);
    return t;
}

bool ac_node_tg_client_configured(ac_node_tg_client_t *c)
{
    char *t = token_get(c);
    bool ok = t != NULL;
    ac_free_secret_str(t);
    return ok;
}

/* Overwrites every occurrence of the token in s (in place) with stars. */
static void scrub(char *s, const char *token)
{
    size_t tl = strlen(token);
    char *p;
    while (tl > 0 && (p = strstr(s, token)) != NULL)
        memset(p, '*', tl);
}

static int call(ac_node_tg_client_t *c, const char *method, const char *query, const char *ctype, const char *body,
                size_t body_len, int64_t timeout_ms, volatile sig_atomic_t *cancel, ac_node_tg_answer_t *ans,
                ac_errmsg_t *err)
{
    ans->status = 0;
    ans->body = NULL;
    ans->len = 0;
    char *token = token_get(c);
    if (token == NULL)
        return ac_errmsg_set(err, -AC_ESTATE, "Telegram is off or telegram.bot_token is not set (or malformed)");
    size_t ul = strlen(c->api_url) + strlen(token) + strlen(method) + (query ? strlen(query) : 0) + 16;
    char *url = ac_malloc(ul);
    snprintf(url, ul, "%s/bot%s/%s%s%s", c->api_url, token, method, query ? "?" : "", query ? query : "");
    ac_skills_http_header_t h[] = {{"Content-Type", ctype}};
    ac_skills_http_req_t req = {
        .method = body != NULL ? "POST" : "GET",
        .url = url,
        .headers = ctype != NULL ? h : NULL,
        .n_headers = ctype != NULL ? 1 : 0,
        .body = body,
        .body_len = body_len,
        .deadline_ms = ac_skill_now_ms() + timeout_ms,
        .max_bytes = 4u * 1024 * 1024,
        .max_redirects = 0,
        .cancel = cancel,
    };
    ac_skills_http_resp_t resp;
    int rc = ac_skills_http_request(&req, &resp);
    explicit_bzero(url, strlen(url));
    free(url);
    if (rc == 0) {
        ans->status = resp.status;
        ans->body = resp.body;
        ans->len = resp.body_len;
        resp.body = NULL;
    } else {
        scrub(resp.error, token);
        if (rc == -AC_ETIMEDOUT)
            ac_errmsg_set(err, rc, "Telegram %s timed out", method);
        else if (rc == -AC_ESTOPPED)
            ac_errmsg_set(err, rc, "stopped");
        else
            ac_errmsg_set(err, rc, "Telegram %s failed: %s", method, resp.error[0] ? resp.error : ac_strerror(rc));
        if (rc != -AC_ETIMEDOUT && rc != -AC_ESTOPPED && rc != -AC_ETOOLONG)
            rc = -AC_EIO;
    }
    ac_skills_http_resp_free(&resp);
    ac_free_secret_str(token);
    return rc;
}

int ac_node_tg_client_bot_id(ac_node_tg_client_t *c, char *out, size_t cap)
{
    char *t = token_get(c);
    if (t == NULL)
        return -AC_ESTATE;
    snprintf(out, cap, "%.*s", (int)strspn(t, "0123456789"), t);
    ac_free_secret_str(t);
    return 0;
}

int ac_node_tg_client_get_updates(ac_node_tg_client_t *c, int64_t offset, int timeout_s, int limit,
                                  volatile sig_atomic_t *cancel, ac_node_tg_answer_t *ans, ac_errmsg_t *err)
{
    char q[96];
    if (limit < 1 || limit > AC_NODE_TG_MAX_UPDATES)
        limit = AC_NODE_TG_MAX_UPDATES;
    snprintf(q, sizeof(q), "offset=%lld&timeout=%d&limit=%d", (long long)offset, timeout_s, limit);
    return call(c, "getUpdates", q, NULL, NULL, 0, (int64_t)(timeout_s + 15) * 1000, cancel, ans, err);
}

/* The chat: the argument, or telegram.chat_id. From ac_malloc; NULL when there is none. */
static char *chat_get(ac_node_tg_client_t *c, const char *chat_id)
{
    if (chat_id != NULL && chat_id[0] != '\0')
        return ac_strdup(chat_id);
    char *v = NULL;
    if (ac_node_settings_get_str(c->settings, "telegram.chat_id", &v) != 0 || v == NULL || v[0] == '\0') {
        free(v);
        return NULL;
    }
    return v;
}

/* One sendMessage; *status_out gets the HTTP status; a 429's retry_after in *retry_after. */
static int send_one(ac_node_tg_client_t *c, const char *chat, const char *text, size_t len, bool html, long *status,
                    int *retry_after, ac_errmsg_t *err)
{
    json_t *o = json_pack("{s:s, s:s%}", "chat_id", chat, "text", text, len);
    if (o == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "the message is not valid UTF-8");
    if (html)
        json_object_set_new(o, "parse_mode", json_string("HTML"));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    ac_node_tg_answer_t ans;
    int rc =
        call(c, "sendMessage", NULL, "application/json", body, strlen(body), AC_NODE_TG_SEND_TIMEOUT, NULL, &ans, err);
    free(body);
    *status = ans.status;
    *retry_after = 0;
    if (rc == 0 && (ans.status != 200 || !ac_node_tg_answer_ok(ans.body, ans.len))) {
        char desc[AC_NODE_TG_DESC_MAX];
        ac_node_tg_parse_error(ans.body, ans.len, retry_after, desc);
        rc = ac_errmsg_set(err, -AC_EIO, "Telegram refused the message (HTTP %ld%s%s)", ans.status, desc[0] ? ": " : "",
                           desc);
    }
    ac_node_tg_answer_free(&ans);
    return rc;
}

static int send_retrying(ac_node_tg_client_t *c, const char *chat, const char *text, size_t len, bool html,
                         long *status, ac_errmsg_t *err)
{
    int ra = 0;
    int rc = send_one(c, chat, text, len, html, status, &ra, err);
    if (rc != 0 && *status == 429 && ra > 0 && ra <= 10) {
        sleep((unsigned)ra);
        rc = send_one(c, chat, text, len, html, status, &ra, err);
    }
    return rc;
}

typedef struct pieces {
    ac_node_tg_client_t *c;
    const char *chat;
    const char *end; /* the text's end: a piece before it is not the last */
    size_t count;
    int rc;
    ac_errmsg_t *err;
} pieces_t;

static void send_piece(void *arg, const char *p, size_t n)
{
    pieces_t *ps = arg;
    ps->count++;
    if (ps->rc != 0 || ps->count > AC_NODE_TG_MSG_PIECES)
        return;
    long st = 0;
    if (ps->count == AC_NODE_TG_MSG_PIECES && p + n < ps->end) { /* more would follow: say it was cut */
        char *last = ac_malloc(n + 32);
        memcpy(last, p, n);
        memcpy(last + n, "\n... (truncated)", 17);
        ps->rc = send_retrying(ps->c, ps->chat, last, strlen(last), false, &st, ps->err);
        free(last);
        return;
    }
    ps->rc = send_retrying(ps->c, ps->chat, p, n, false, &st, ps->err);
}

int ac_node_tg_client_send(ac_node_tg_client_t *c, const char *chat_id, const char *html, const char *plain,
                           ac_errmsg_t *err)
{
    char *chat = chat_get(c, chat_id);
    if (chat == NULL)
        return ac_errmsg_set(err, -AC_ESTATE, "no chat: telegram.chat_id is not set");
    int rc;
    long st = 0;
    if (html != NULL && strlen(html) <= AC_NODE_TG_MSG_MAX) {
        rc = send_retrying(c, chat, html, strlen(html), true, &st, err);
        if (rc != 0 && st == 400 && plain != NULL) /* markup refused: once more without it */
            rc = send_retrying(c, chat, plain, strlen(plain), false, &st, err);
    } else {
        const char *text = plain != NULL ? plain : html;
        if (text == NULL)
            text = "";
        pieces_t ps = {.c = c, .chat = chat, .end = text + strlen(text), .err = err};
        ac_node_tg_split(text, AC_NODE_TG_MSG_MAX - 20, send_piece, &ps);
        rc = ps.rc;
    }
    free(chat);
    if (rc != 0)
        ac_log_warn("telegram", "send_failed", "error=%s", err->msg);
    return rc;
}

int ac_node_tg_client_send_photo(ac_node_tg_client_t *c, const char *chat_id, const uint8_t *png, size_t len,
                                 const char *caption, ac_errmsg_t *err)
{
    char *chat = chat_get(c, chat_id);
    if (chat == NULL)
        return ac_errmsg_set(err, -AC_ESTATE, "no chat: telegram.chat_id is not set");
    uint8_t rnd[12];
    char boundary[40];
    ac_policy_crypto_random(rnd, sizeof(rnd));
    int bl = snprintf(boundary, sizeof(boundary), "alexclaw-");
    for (size_t i = 0; i < sizeof(rnd); i++)
        bl += snprintf(boundary + bl, sizeof(boundary) - (size_t)bl, "%02x", rnd[i]);
    char cap[1025];
    snprintf(cap, sizeof(cap), "%s", caption != NULL ? caption : "");
    FILE *f;
    char *body = NULL;
    size_t body_len = 0;
    if ((f = open_memstream(&body, &body_len)) == NULL)
        abort();
    fprintf(f, "--%s\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n%s\r\n", boundary, chat);
    fprintf(f, "--%s\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n%s\r\n", boundary, cap);
    fprintf(f,
            "--%s\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"qr.png\"\r\nContent-Type: "
            "image/png\r\n\r\n",
            boundary);
    fwrite(png, 1, len, f);
    fprintf(f, "\r\n--%s--\r\n", boundary);
    fclose(f);
    char ctype[80];
    snprintf(ctype, sizeof(ctype), "multipart/form-data; boundary=%s", boundary);
    ac_node_tg_answer_t ans;
    int rc = call(c, "sendPhoto", NULL, ctype, body, body_len, AC_NODE_TG_SEND_TIMEOUT, NULL, &ans, err);
    if (rc == 0 && (ans.status != 200 || !ac_node_tg_answer_ok(ans.body, ans.len)))
        rc = ac_errmsg_set(err, -AC_EIO, "Telegram refused the photo (HTTP %ld)", ans.status);
    ac_node_tg_answer_free(&ans);
    free(body);
    free(chat);
    if (rc != 0)
        ac_log_warn("telegram", "send_photo_failed", "error=%s", err->msg);
    return rc;
}
