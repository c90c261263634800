/* tests/unit/skills/test_notify.c - telegram_notify: the message text (no output, truncation at 4000 characters),
 * Markdown to Telegram HTML with everything else escaped, the chat id from settings, the token never from the step,
 * and the sender hook the Telegram gateway installs. */
#include "skills/notify.h"

#include "policy/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void html_of(const char *in, const char *want)
{
    json_t *j = json_string(in);
    char *plain, *html;
    ac_skills_notify_format(j, &plain, &html);
    if (strcmp(html, want) != 0)
        fail_msg("for %s\n  got:  %s\n  want: %s", in, html, want);
    free(plain);
    free(html);
    json_decref(j);
}

static void renders_markdown_and_escapes_the_rest(void **state)
{
    html_of("plain <b>not bold</b> & more", "plain &lt;b&gt;not bold&lt;/b&gt; &amp; more");
    html_of("**bold** and *it* and _it_", "<b>bold</b> and <i>it</i> and <i>it</i>");
    html_of("use `a<b`", "use <code>a&lt;b</code>");
    html_of("```sh\nls -la\n```", "<pre>ls -la\n</pre>");
    html_of("# Title\nbody", "<b>Title</b>\nbody");
    html_of("[site](https://example.com/?a=1&b=2)", "<a href=\"https://example.com/?a=1&amp;b=2\">site</a>");
    /* only http(s) links become links */
    html_of("[x](javascript:alert(1))", "[x](javascript:alert(1))");
    html_of("a * b * c", "a * b * c");
    html_of("unclosed **bold", "unclosed **bold");
    html_of("[q](https://e.com/\" onclick=\"x)", "<a href=\"https://e.com/&quot; onclick=&quot;x\">q</a>");
}

static void no_output_and_long_output_read_like_the_original(void **state)
{
    char *plain, *html;
    ac_skills_notify_format(NULL, &plain, &html);
    assert_string_equal(plain, "Workflow completed (no output)");
    free(plain);
    free(html);
    json_t *null = json_null();
    ac_skills_notify_format(null, &plain, &html);
    assert_string_equal(plain, "Workflow completed (no output)");
    free(plain);
    free(html);
    json_decref(null);

    char *big = ac_malloc(5000 * 2 + 1); /* 5000 two-byte characters */
    for (int i = 0; i < 5000; i++)
        memcpy(big + 2 * i, "\xc3\xa9", 2);
    big[10000] = '\0';
    json_t *j = json_string(big);
    ac_skills_notify_format(j, &plain, &html);
    const char *tail = "\n... (truncated)";
    assert_int_equal(strlen(plain), 4000 * 2 + strlen(tail));
    assert_string_equal(plain + 8000, tail);
    free(plain);
    free(html);
    json_decref(j);
    free(big);

    j = json_pack("{s:i}", "n", 3); /* non-string input is JSON-encoded */
    ac_skills_notify_format(j, &plain, &html);
    assert_string_equal(plain, "{\"n\":3}");
    free(plain);
    free(html);
    json_decref(j);
}

static char last_chat[64], last_html[256];
static int sender(void *arg, const char *chat, const char *html, const char *plain, char *err, size_t errlen)
{
    snprintf(last_chat, sizeof(last_chat), "%s", chat);
    snprintf(last_html, sizeof(last_html), "%s", html);
    if (strcmp(chat, "fail") == 0) {
        snprintf(err, errlen, "Bad Request");
        return -1;
    }
    return 0;
}

static void sends_through_the_installed_sender_to_the_configured_chat(void **state)
{
    uint8_t key[32] = {0};
    ac_node_settings_t *s = ac_node_settings_new(key);
    ac_skill_ctx_t ctx = {.settings = s, .deadline_ms = ac_skill_now_ms() + 1000};
    json_t *cfg = json_pack("{s:s}", "bot_token", "123:stolen"), *in = json_string("*hi*");
    ac_skill_args_t args = {in, cfg, NULL, NULL, NULL};
    ac_skill_result_t res;

    memset(&res, 0, sizeof(res));
    assert_int_equal(ac_skills_telegram_notify.run(&ctx, &args, &res), -1);
    assert_string_equal(res.error, "no_chat_id: telegram.chat_id is not set");

    ac_node_setting_t row = {
        ac_strdup("telegram.chat_id"), ac_strdup("4242"), AC_SETTING_STRING, ac_strdup("telegram"), NULL, false, 0};
    ac_node_settings_put(s, &row);
    memset(&res, 0, sizeof(res));
    assert_int_equal(ac_skills_telegram_notify.run(&ctx, &args, &res), -1);
    assert_string_equal(res.error, "telegram_unavailable: the Telegram gateway is not running in this process");

    ac_skills_notify_set_sender(sender, NULL);
    memset(&res, 0, sizeof(res));
    assert_int_equal(ac_skills_telegram_notify.run(&ctx, &args, &res), 0);
    assert_string_equal(res.branch, "on_delivered");
    assert_ptr_equal(res.output, in); /* the input passes through */
    json_decref(res.output);
    assert_string_equal(last_chat, "4242");
    assert_string_equal(last_html, "<i>hi</i>");

    json_object_set_new(cfg, "chat_id", json_string("fail"));
    memset(&res, 0, sizeof(res));
    assert_int_equal(ac_skills_telegram_notify.run(&ctx, &args, &res), -1);
    assert_string_equal(res.error, "send_failed: Bad Request");
    ac_skills_notify_set_sender(NULL, NULL);
    json_decref(cfg);
    json_decref(in);
    ac_node_settings_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(renders_markdown_and_escapes_the_rest),
        cmocka_unit_test(no_output_and_long_output_read_like_the_original),
        cmocka_unit_test(sends_through_the_installed_sender_to_the_configured_chat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
