/* skills/notify.c - the telegram_notify skill (notify.h): message text, Markdown to Telegram HTML, the sender hook. */
#include "skills/notify.h"

#include "node/log.h"
#include "policy/alloc.h"
#include "policy/strbuf.h"
#include "policy/utf8.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const routes[] = {"on_delivered", "on_error", NULL};

static pthread_mutex_t sender_lock = PTHREAD_MUTEX_INITIALIZER;
static ac_skills_notify_send_fn sender;
static void *sender_arg;

void ac_skills_notify_set_sender(ac_skills_notify_send_fn fn, void *arg)
{
    pthread_mutex_lock(&sender_lock);
    sender = fn;
    sender_arg = arg;
    pthread_mutex_unlock(&sender_lock);
}

static void put_escaped(ac_policy_strbuf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': ac_policy_strbuf_put(b, "&amp;", 5); break;
        case '<': ac_policy_strbuf_put(b, "&lt;", 4); break;
        case '>': ac_policy_strbuf_put(b, "&gt;", 4); break;
        case '"': ac_policy_strbuf_put(b, "&quot;", 6); break;
        default: ac_policy_strbuf_put(b, &s[i], 1);
        }
    }
}

/* Finds the closing marker on the same line (for inline spans); returns its offset or -1. */
static long find_close(const char *s, size_t from, size_t n, const char *mark)
{
    size_t ml = strlen(mark);
    for (size_t i = from; i + ml <= n; i++) {
        if (s[i] == '\n')
            return -1;
        if (memcmp(s + i, mark, ml) == 0)
            return (long)i;
    }
    return -1;
}

static void inline_md(ac_policy_strbuf_t *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        long c;
        if (s[i] == '`' && (c = find_close(s, i + 1, n, "`")) > (long)i + 1) {
            ac_policy_strbuf_put(b, "<code>", 6);
            put_escaped(b, s + i + 1, (size_t)c - i - 1);
            ac_policy_strbuf_put(b, "</code>", 7);
            i = (size_t)c + 1;
        } else if (i + 1 < n && s[i] == '*' && s[i + 1] == '*' && (c = find_close(s, i + 2, n, "**")) > (long)i + 2) {
            ac_policy_strbuf_put(b, "<b>", 3);
            put_escaped(b, s + i + 2, (size_t)c - i - 2);
            ac_policy_strbuf_put(b, "</b>", 4);
            i = (size_t)c + 2;
        } else if ((s[i] == '*' || s[i] == '_') && i + 1 < n && s[i + 1] != ' ' &&
                   (c = find_close(s, i + 1, n, s[i] == '*' ? "*" : "_")) > (long)i + 1) {
            ac_policy_strbuf_put(b, "<i>", 3);
            put_escaped(b, s + i + 1, (size_t)c - i - 1);
            ac_policy_strbuf_put(b, "</i>", 4);
            i = (size_t)c + 1;
        } else if (s[i] == '[') {
            long close = find_close(s, i + 1, n, "](");
            long end = close > 0 ? find_close(s, (size_t)close + 2, n, ")") : -1;
            const char *url = close > 0 ? s + close + 2 : NULL;
            size_t ul = end > 0 ? (size_t)end - (size_t)close - 2 : 0;
            bool safe = url != NULL && end > 0 && (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0);
            if (safe) {
                ac_policy_strbuf_put(b, "<a href=\"", 9);
                put_escaped(b, url, ul);
                ac_policy_strbuf_put(b, "\">", 2);
                put_escaped(b, s + i + 1, (size_t)close - i - 1);
                ac_policy_strbuf_put(b, "</a>", 4);
                i = (size_t)end + 1;
            } else {
                put_escaped(b, s + i, 1);
                i++;
            }
        } else {
            put_escaped(b, s + i, 1);
            i++;
        }
    }
}

/* Markdown (the subset LLMs and people write in notifications) to Telegram HTML: ``` blocks, `code`, **bold**,
 * *italic* / _italic_, [text](http(s) url), "# heading" lines as bold. Everything else is escaped. */
static char *md_to_html(const char *s, size_t n)
{
    ac_policy_strbuf_t b = {0};
    ac_policy_strbuf_put(&b, "", 0);
    size_t i = 0;
    while (i < n) {
        if (n - i >= 3 && memcmp(s + i, "```", 3) == 0) {
            const char *end = NULL;
            for (size_t k = i + 3; k + 3 <= n; k++)
                if (memcmp(s + k, "```", 3) == 0) {
                    end = s + k;
                    break;
                }
            if (end != NULL) {
                size_t start = i + 3;
                while (start < (size_t)(end - s) && s[start] != '\n') /* language tag */
                    start++;
                if (start < (size_t)(end - s))
                    start++;
                ac_policy_strbuf_put(&b, "<pre>", 5);
                put_escaped(&b, s + start, (size_t)(end - s) - start);
                ac_policy_strbuf_put(&b, "</pre>", 6);
                i = (size_t)(end - s) + 3;
                continue;
            }
        }
        size_t eol = i;
        while (eol < n && s[eol] != '\n')
            eol++;
        size_t h = i;
        while (h < eol && s[h] == '#')
            h++;
        if (h > i && h - i <= 6 && h < eol && s[h] == ' ') {
            ac_policy_strbuf_put(&b, "<b>", 3);
            inline_md(&b, s + h + 1, eol - h - 1);
            ac_policy_strbuf_put(&b, "</b>", 4);
        } else {
            inline_md(&b, s + i, eol - i);
        }
        if (eol < n)
            ac_policy_strbuf_put(&b, "\n", 1);
        i = eol + 1;
    }
    return b.p;
}

/* Cuts s to at most max UTF-8 characters; returns the byte length kept. */
static size_t cut_chars(const char *s, size_t n, size_t max)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (chars == max)
                return i;
            chars++;
        }
    }
    return n;
}

void ac_skills_notify_format(const json_t *input, char **plain, char **html)
{
    char *text = ac_skill_input_text(input);
    if (text[0] == '\0') {
        free(text);
        text = ac_strdup("Workflow completed (no output)");
    }
    size_t n = strlen(text);
    size_t keep = cut_chars(text, n, AC_SKILLS_NOTIFY_MAX_CHARS);
    if (keep < n) {
        static const char more[] = "\n... (truncated)";
        char *t = ac_malloc(keep + sizeof(more));
        memcpy(t, text, keep);
        memcpy(t + keep, more, sizeof(more));
        free(text);
        text = t;
    }
    *html = md_to_html(text, strlen(text));
    *plain = text;
}

/* Sends a notice to the owner's chat through the installed sender; a failure is logged, nothing else. */
static void notice(ac_policy_strbuf_t *html, ac_policy_strbuf_t *plain)
{
    pthread_mutex_lock(&sender_lock);
    ac_skills_notify_send_fn fn = sender;
    void *arg = sender_arg;
    pthread_mutex_unlock(&sender_lock);
    char err[256] = "";
    if (fn != NULL && fn(arg, NULL, html->p, plain->p, err, sizeof(err)) != 0)
        ac_log_warn("notify", "notice_failed", "error=%s", err);
    free(html->p);
    free(plain->p);
}

static void both(ac_policy_strbuf_t *html, ac_policy_strbuf_t *plain, const char *s, bool escape)
{
    if (escape)
        put_escaped(html, s, strlen(s));
    else
        ac_policy_strbuf_put(html, s, strlen(s));
    ac_policy_strbuf_put(plain, s, strlen(s));
}

void ac_skills_notify_run_started(const char *workflow, const char *const *steps, size_t n)
{
    ac_policy_strbuf_t h = {0}, p = {0};
    both(&h, &p, "\xe2\x9a\x99\xef\xb8\x8f ", false); /* the gear of the original */
    ac_policy_strbuf_put(&h, "<b>", 3);
    both(&h, &p, workflow, true);
    ac_policy_strbuf_put(&h, "</b>", 4);
    both(&h, &p, " started\n", false);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            both(&h, &p, " \xe2\x86\x92 ", false); /* -> */
        both(&h, &p, steps[i], true);
    }
    notice(&h, &p);
}

void ac_skills_notify_run_failed(const char *workflow, const char *step, const char *reason)
{
    char r[201];
    snprintf(r, sizeof(r), "%.*s", (int)ac_policy_utf8_fit(reason, strlen(reason), 200), reason);
    ac_policy_strbuf_t h = {0}, p = {0};
    both(&h, &p, "\xe2\x9d\x8c ", false);
    ac_policy_strbuf_put(&h, "<b>", 3);
    both(&h, &p, workflow, true);
    ac_policy_strbuf_put(&h, "</b>", 4);
    both(&h, &p, " failed at ", false);
    ac_policy_strbuf_put(&h, "<i>", 3);
    both(&h, &p, step, true);
    ac_policy_strbuf_put(&h, "</i>", 4);
    both(&h, &p, "\n", false);
    ac_policy_strbuf_put(&h, "<code>", 6);
    both(&h, &p, r, true);
    ac_policy_strbuf_put(&h, "</code>", 7);
    notice(&h, &p);
}

static int run(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, ac_skill_result_t *res)
{
    char *chat = NULL;
    if (ac_node_settings_get_str(ctx->settings, "telegram.chat_id", &chat) != 0 || chat[0] == '\0') {
        free(chat);
        return ac_skill_fail(res, "no_chat_id", "telegram.chat_id is not set");
    }
    /* A step config's chat_id may pick another chat of the owner; the token never comes from the step. */
    const char *step_chat = ac_skill_config_str(args->config, "chat_id");
    char *plain, *html;
    ac_skills_notify_format(args->input, &plain, &html);
    pthread_mutex_lock(&sender_lock);
    ac_skills_notify_send_fn fn = sender;
    void *arg = sender_arg;
    pthread_mutex_unlock(&sender_lock);
    char err[256] = "";
    int rc =
        fn != NULL ? fn(arg, step_chat != NULL && step_chat[0] ? step_chat : chat, html, plain, err, sizeof(err)) : -1;
    if (fn == NULL)
        snprintf(err, sizeof(err), "the Telegram gateway is not running in this process");
    free(chat);
    free(plain);
    free(html);
    if (rc != 0)
        return ac_skill_fail(res, fn == NULL ? "telegram_unavailable" : "send_failed", "%s", err);
    return ac_skill_ok(res, args->input != NULL ? json_incref(args->input) : NULL, "on_delivered");
}

const ac_skill_def_t ac_skills_telegram_notify = {
    .name = "telegram_notify",
    .description = "Sends the input to the owner's Telegram chat (Markdown rendered, cut at 4000 characters).",
    .routes = routes,
    .config_hint = "chat_id (optional; the bot token always comes from settings)",
    .external = false,
    .run = run,
};
