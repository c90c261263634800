/* tests/unit/node/test_tg_proto.c - node/tg_proto.c: getUpdates answers (fields, order, the updates that are not
 * messages, the limits, the answers refused whole, bodies read only up to len, error sentences without the body),
 * error answers (retry_after and its cap, the description cleaned and cut), answer_ok, the owner's command lines
 * (every name, the bot suffix, exact names, trimmed arguments, 6-digit codes) and the splitting of long texts
 * (line ends, then spaces, never inside a UTF-8 sequence, pieces that give back the text). */
#include "node/tg_proto.h"
#include "policy/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- helpers ------------------------------------------------------------------------------------------------ */

static int parse(const char *body, ac_node_tg_updates_t *u, ac_errmsg_t *err)
{
    memset(err, 0, sizeof(*err));
    return ac_node_tg_parse_updates(body, strlen(body), u, err);
}

/* Parses body and expects it refused whole: -AC_EINVAL, nothing in out, a sentence without `secret` in err. */
static void expect_refused(const char *body, const char *secret)
{
    ac_node_tg_updates_t u = {(ac_node_tg_update_t *)1, 7};
    ac_errmsg_t err;
    assert_int_equal(parse(body, &u, &err), -AC_EINVAL);
    assert_null(u.v);
    assert_int_equal(u.n, 0);
    assert_true(err.msg[0] != '\0');
    if (secret != NULL)
        assert_null(strstr(err.msg, secret));
}

/* A string of n copies of c, from malloc. */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* A getUpdates answer with one message update whose text is `text` (already JSON-escaped), from malloc. */
static char *one_message(const char *text)
{
    static const char fmt[] = "{\"ok\":true,\"result\":[{\"update_id\":1,\"message\":{\"message_id\":1,"
                              "\"from\":{\"id\":5,\"first_name\":\"Al\"},\"chat\":{\"id\":5,\"type\":\"private\"},"
                              "\"date\":1700000000,\"text\":\"%s\"}}]}";
    size_t n = strlen(fmt) + strlen(text) + 1;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, fmt, text);
    return s;
}

/* The answer of n updates with ids 1..n, each a message "m<id>", from malloc. */
static char *many_messages(size_t n)
{
    size_t cap = 64 + n * 128, len = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    len += (size_t)snprintf(s + len, cap - len, "{\"ok\":true,\"result\":[");
    for (size_t i = 1; i <= n; i++)
        len += (size_t)snprintf(s + len, cap - len,
                                "%s{\"update_id\":%zu,\"message\":{\"chat\":{\"id\":42},\"text\":\"m%zu\"}}",
                                i > 1 ? "," : "", i, i);
    snprintf(s + len, cap - len, "]}");
    return s;
}

/* ---- updates ------------------------------------------------------------------------------------------------ */

static void parses_messages_with_ids_chats_texts_and_names(void **state)
{
    const char *body =
        "{\"ok\":true,\"result\":["
        "{\"update_id\":700000001,\"message\":{\"message_id\":10,\"from\":{\"id\":111,\"is_bot\":false,"
        "\"first_name\":\"Alex\",\"username\":\"alex\"},\"chat\":{\"id\":111,\"first_name\":\"Alex\","
        "\"type\":\"private\"},\"date\":1700000000,\"text\":\"/status\"}},"
        "{\"update_id\":700000002,\"message\":{\"message_id\":11,\"from\":{\"id\":222,\"first_name\":\"Bea\"},"
        "\"chat\":{\"id\":-1001234567890,\"title\":\"Ops\",\"type\":\"supergroup\"},\"date\":1700000001,"
        "\"text\":\"hello \\u00e9t\\u00e9\\nsecond line\"}},"
        "{\"update_id\":700000003,\"message\":{\"message_id\":12,\"from\":{\"id\":333,\"first_name\":\"Cy\"},"
        "\"chat\":{\"id\":-4567,\"type\":\"group\"},\"date\":1700000002,\"text\":\"123456\"}}"
        "]}";
    ac_node_tg_updates_t u;
    ac_errmsg_t err;

    (void)state;
    assert_int_equal(parse(body, &u, &err), 0);
    assert_int_equal(u.n, 3);
    assert_non_null(u.v);

    assert_int_equal(u.v[0].update_id, 700000001);
    assert_true(u.v[0].is_message);
    assert_string_equal(u.v[0].chat_id, "111");
    assert_string_equal(u.v[0].from, "Alex");
    assert_string_equal(u.v[0].text, "/status");

    assert_int_equal(u.v[1].update_id, 700000002);
    assert_true(u.v[1].is_message);
    assert_string_equal(u.v[1].chat_id, "-1001234567890");
    assert_string_equal(u.v[1].from, "Bea");
    assert_string_equal(u.v[1].text, "hello \xc3\xa9t\xc3\xa9\nsecond line");

    assert_int_equal(u.v[2].update_id, 700000003);
    assert_true(u.v[2].is_message);
    assert_string_equal(u.v[2].chat_id, "-4567");
    assert_string_equal(u.v[2].from, "Cy");
    assert_string_equal(u.v[2].text, "123456");

    ac_node_tg_updates_free(&u);
    assert_null(u.v);
    assert_int_equal(u.n, 0);
}

static void reads_the_largest_chat_ids_in_full(void **state)
{
    const char *body = "{\"ok\":true,\"result\":["
                       "{\"update_id\":1,\"message\":{\"chat\":{\"id\":-9223372036854775808},\"text\":\"a\"}},"
                       "{\"update_id\":2,\"message\":{\"chat\":{\"id\":9223372036854775807},\"text\":\"b\"}}]}";
    ac_node_tg_updates_t u;
    ac_errmsg_t err;

    (void)state;
    assert_int_equal(parse(body, &u, &err), 0);
    assert_int_equal(u.n, 2);
    assert_string_equal(u.v[0].chat_id, "-9223372036854775808");
    assert_string_equal(u.v[1].chat_id, "9223372036854775807");
    assert_string_equal(u.v[0].from, "");
    ac_node_tg_updates_free(&u);
}

static void sorts_updates_by_update_id(void **state)
{
    const char *body = "{\"ok\":true,\"result\":["
                       "{\"update_id\":30,\"message\":{\"chat\":{\"id\":1},\"text\":\"thirty\"}},"
                       "{\"update_id\":10,\"message\":{\"chat\":{\"id\":1},\"text\":\"ten\"}},"
                       "{\"update_id\":40,\"edited_message\":{\"chat\":{\"id\":1},\"text\":\"forty\"}},"
                       "{\"update_id\":0,\"message\":{\"chat\":{\"id\":2},\"text\":\"zero\"}},"
                       "{\"update_id\":20,\"message\":{\"chat\":{\"id\":3},\"text\":\"twenty\"}}]}";
    ac_node_tg_updates_t u;
    ac_errmsg_t err;

    (void)state;
    assert_int_equal(parse(body, &u, &err), 0);
    assert_int_equal(u.n, 5);
    assert_int_equal(u.v[0].update_id, 0);
    assert_int_equal(u.v[1].update_id, 10);
    assert_int_equal(u.v[2].update_id, 20);
    assert_int_equal(u.v[3].update_id, 30);
    assert_int_equal(u.v[4].update_id, 40);
    /* every field travels with its update */
    assert_string_equal(u.v[0].text, "zero");
    assert_string_equal(u.v[0].chat_id, "2");
    assert_string_equal(u.v[1].text, "ten");
    assert_string_equal(u.v[2].text, "twenty");
    assert_string_equal(u.v[2].chat_id, "3");
    assert_string_equal(u.v[3].text, "thirty");
    assert_false(u.v[4].is_message);
    assert_null(u.v[4].text);
    ac_node_tg_updates_free(&u);
}

static void keeps_updates_other_than_text_messages_as_others(void **state)
{
    const char *body =
        "{\"ok\":true,\"result\":["
        "{\"update_id\":5,\"edited_message\":{\"message_id\":1,\"from\":{\"first_name\":\"Ed\"},"
        "\"chat\":{\"id\":7},\"text\":\"/run x\"}},"
        "{\"update_id\":6,\"channel_post\":{\"message_id\":2,\"chat\":{\"id\":-1009},\"text\":\"/shell rm\"}},"
        "{\"update_id\":7,\"callback_query\":{\"id\":\"99\",\"from\":{\"id\":7,\"first_name\":\"Ed\"},"
        "\"message\":{\"chat\":{\"id\":7},\"text\":\"menu\"},\"data\":\"/run y\"}},"
        "{\"update_id\":8,\"message\":{\"message_id\":3,\"from\":{\"first_name\":\"Ed\"},\"chat\":{\"id\":7},"
        "\"photo\":[{\"file_id\":\"abc\",\"width\":90,\"height\":90}],\"caption\":\"/run z\"}},"
        "{\"update_id\":9,\"message\":{\"chat\":{\"id\":7},\"text\":42}},"
        "{\"update_id\":10,\"message\":\"not an object\"},"
        "{\"update_id\":11}"
        "]}";
    ac_node_tg_updates_t u;
    ac_errmsg_t err;

    (void)state;
    assert_int_equal(parse(body, &u, &err), 0);
    assert_int_equal(u.n, 7);
    for (size_t i = 0; i < u.n; i++) {
        assert_int_equal(u.v[i].update_id, (int64_t)(5 + i));
        assert_false(u.v[i].is_message);
        assert_null(u.v[i].text);
    }
    /* not "message": nothing is read from them */
    assert_string_equal(u.v[0].chat_id, "");
    assert_string_equal(u.v[0].from, "");
    assert_string_equal(u.v[1].chat_id, "");
    assert_string_equal(u.v[2].chat_id, "");
    assert_string_equal(u.v[5].chat_id, "");
    assert_string_equal(u.v[6].chat_id, "");
    ac_node_tg_updates_free(&u);
}

static void a_message_without_an_integer_chat_id_is_not_a_message(void **state)
{
    const char *body = "{\"ok\":true,\"result\":["
                       "{\"update_id\":1,\"message\":{\"from\":{\"first_name\":\"A\"},\"text\":\"no chat\"}},"
                       "{\"update_id\":2,\"message\":{\"chat\":{\"type\":\"private\"},\"text\":\"no id\"}},"
                       "{\"update_id\":3,\"message\":{\"chat\":{\"id\":\"123\"},\"text\":\"string id\"}},"
                       "{\"update_id\":4,\"message\":{\"chat\":{\"id\":12.5},\"text\":\"float id\"}},"
                       "{\"update_id\":5,\"message\":{\"chat\":{\"id\":null},\"text\":\"null id\"}},"
                       "{\"update_id\":6,\"message\":{\"chat\":123,\"text\":\"chat not an object\"}},"
                       "{\"update_id\":7,\"message\":{\"chat\":{\"id\":77},\"text\":\"fine\"}}]}";
    ac_node_tg_updates_t u;
    ac_errmsg_t err;

    (void)state;
    assert_int_equal(parse(body, &u, &err), 0);
    assert_int_equal(u.n, 7);
    for (size_t i = 0; i < 6; i++) {
        assert_false(u.v[i].is_message);
        assert_null(u.v[i].text);
        assert_string_equal(u.v[i].chat_id, "");
    }
    assert_true(u.v[6].is_message);
    assert_string_equal(u.v[6].chat_id, "77");
    assert_string_equal(u.v[6].text, "fine");
    ac_node_tg_updates_free(&u);
}

/* A NUL inside the text (JSON "\u0000") must not make the text look shorter than it is: that update is not a message,
 * and, since the answer is otherwise fine, the others still come through (refusing the whole answer would make the
 * gateway retry the same offset for ever). */
static void a_text_with_an_embedded_nul_is_not_a_message(void **state)
{
    const char *body = "{\"ok\":true,\"result\":["
                       "{\"update_id\":1,\"message\":{\"chat\":{\"id\":5},\"text\":\"/run safe\\u0000; rm -rf /\"}},"
                       "{\"update_id\":2,\"message\":{\"chat\":{\"id\":5},\"text\":\"after\"}}]}";
    ac_node_tg_updates_t u = {NULL, 0};
    ac_errmsg_t err;

    (void)state;
    assert_int_equal(parse(body, &u, &err), 0);
    assert_int_equal(u.n, 2);
    assert_int_equal(u.v[0].update_id, 1);
    assert_false(u.v[0].is_message);
    assert_null(u.v[0].text);
    assert_int_equal(u.v[1].update_id, 2);
    assert_true(u.v[1].is_message);
    assert_string_equal(u.v[1].text, "after");
    ac_node_tg_updates_free(&u);
}

static void a_text_up_to_the_limit_is_a_message_and_longer_is_not(void **state)
{
    char *at = repeat('a', AC_NODE_TG_TEXT_MAX), *over = repeat('b', AC_NODE_TG_TEXT_MAX + 1);
    char *body_at = one_message(at), *body_over = one_message(over);
    /* 5462 x U+20AC is 16386 bytes but only 5462 characters: the limit is in bytes */
    char *euros = malloc(5462 * 6 + 1);
    assert_non_null(euros);
    for (size_t i = 0; i < 5462; i++)
        memcpy(euros + i * 6, "\\u20ac", 6);
    euros[5462 * 6] = '\0';
    char *body_euros = one_message(euros);
    ac_node_tg_updates_t u;
    ac_errmsg_t err;

    (void)state;
    assert_int_equal(parse(body_at, &u, &err), 0);
    assert_int_equal(u.n, 1);
    assert_true(u.v[0].is_message);
    assert_int_equal(strlen(u.v[0].text), AC_NODE_TG_TEXT_MAX);
    ac_node_tg_updates_free(&u);

    assert_int_equal(parse(body_over, &u, &err), 0);
    assert_int_equal(u.n, 1);
    assert_int_equal(u.v[0].update_id, 1);
    assert_false(u.v[0].is_message);
    assert_null(u.v[0].text);
    ac_node_tg_updates_free(&u);

    assert_int_equal(parse(body_euros, &u, &err), 0);
    assert_int_equal(u.n, 1);
    assert_false(u.v[0].is_message);
    assert_null(u.v[0].text);
    ac_node_tg_updates_free(&u);

    free(at);
    free(over);
    free(body_at);
    free(body_over);
    free(euros);
    free(body_euros);
}

static void accepts_max_updates_and_refuses_more(void **state)
{
    char *at = many_messages(AC_NODE_TG_MAX_UPDATES), *over = many_messages(AC_NODE_TG_MAX_UPDATES + 1);
    ac_node_tg_updates_t u;
    ac_errmsg_t err;

    (void)state;
    assert_int_equal(parse(at, &u, &err), 0);
    assert_int_equal(u.n, AC_NODE_TG_MAX_UPDATES);
    for (size_t i = 0; i < u.n; i++) {
        char want[32];
        snprintf(want, sizeof(want), "m%zu", i + 1);
        assert_int_equal(u.v[i].update_id, (int64_t)(i + 1));
        assert_string_equal(u.v[i].text, want);
    }
    ac_node_tg_updates_free(&u);

    expect_refused(over, "m101");
    free(at);
    free(over);
}

/* The bad update comes after messages whose texts were already copied: they must be released (LeakSanitizer). */
static void refuses_the_whole_answer_when_an_update_id_is_not_a_non_negative_integer(void **state)
{
    static const char *const bad_ids[] = {
        "",                                    /* missing */
        "\"update_id\":\"12\",",               /* a string */
        "\"update_id\":-1,",                   /* negative */
        "\"update_id\":12.0,",                 /* a float, even a whole one */
        "\"update_id\":1e3,",                  /* exponent: a real in JSON */
        "\"update_id\":null,",                 /* null */
        "\"update_id\":true,",                 /* a boolean */
        "\"update_id\":[12],",                 /* a list */
        "\"update_id\":99999999999999999999,", /* beyond 64 bits */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        char body[1024];
        snprintf(body, sizeof(body),
                 "{\"ok\":true,\"result\":["
                 "{\"update_id\":1,\"message\":{\"chat\":{\"id\":5},\"text\":\"first\"}},"
                 "{\"update_id\":2,\"message\":{\"chat\":{\"id\":5},\"text\":\"second\"}},"
                 "{%s\"message\":{\"chat\":{\"id\":5},\"text\":\"SECRET-TEXT\"}},"
                 "{\"update_id\":4,\"message\":{\"chat\":{\"id\":5},\"text\":\"fourth\"}}]}",
                 bad_ids[i]);
        expect_refused(body, "SECRET");
    }
    /* the first one bad, and one that is not even an object */
    expect_refused("{\"ok\":true,\"result\":[{\"message\":{\"chat\":{\"id\":5},\"text\":\"x\"}}]}", NULL);
    expect_refused("{\"ok\":true,\"result\":[{\"update_id\":1,\"message\":{\"chat\":{\"id\":5},\"text\":\"x\"}},"
                   "17]}",
                   NULL);
}

static void refuses_answers_that_are_not_ok_lists(void **state)
{
    static const char *const bodies[] = {
        "",
        "SECRET not json",
        "[{\"update_id\":1}]",
        "\"SECRET\"",
        "{}",
        "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized SECRET\"}",
        "{\"ok\":false,\"result\":[]}",
        "{\"ok\":\"true\",\"result\":[]}",
        "{\"ok\":1,\"result\":[]}",
        "{\"ok\":true}",
        "{\"ok\":true,\"result\":{\"update_id\":1,\"SECRET\":2}}",
        "{\"ok\":true,\"result\":\"SECRET\"}",
        "{\"ok\":true,\"result\":null}",
        "{\"ok\":true,\"result\":[]",              /* truncated */
        "{\"ok\":true,\"result\":[]} trailing",    /* not one value */
        "{\"ok\":true,\"ok\":true,\"result\":[]}", /* duplicate key */
        "{\"ok\":true,\"result\":[\"SECRET\"]}",   /* an update that is not an object */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        expect_refused(bodies[i], "SECRET");
}

static void refuses_a_null_body(void **state)
{
    ac_node_tg_updates_t u = {(ac_node_tg_update_t *)1, 3};
    ac_errmsg_t err = {{0}};

    (void)state;
    assert_int_equal(ac_node_tg_parse_updates(NULL, 10, &u, &err), -AC_EINVAL);
    assert_null(u.v);
    assert_int_equal(u.n, 0);
    assert_true(err.msg[0] != '\0');
    /* and a NULL err is allowed */
    assert_int_equal(ac_node_tg_parse_updates("x", 1, &u, NULL), -AC_EINVAL);
}

static void accepts_an_empty_result_list(void **state)
{
    ac_node_tg_updates_t u = {(ac_node_tg_update_t *)1, 3};
    ac_errmsg_t err;

    (void)state;
    assert_int_equal(parse("{\"ok\":true,\"result\":[]}", &u, &err), 0);
    assert_null(u.v);
    assert_int_equal(u.n, 0);
    ac_node_tg_updates_free(&u);
    assert_int_equal(parse(" {\n \"result\" : [ ] , \"ok\" : true , \"extra\" : {\"a\":[1,2]} }\n", &u, &err), 0);
    assert_int_equal(u.n, 0);
    ac_node_tg_updates_free(&u);
}

/* The body is an exact-size heap copy with no NUL after it, so AddressSanitizer sees a read past len. */
static void reads_only_len_bytes_of_a_body(void **state)
{
    const char good[] =
        "{\"ok\":true,\"result\":[{\"update_id\":3,\"message\":{\"chat\":{\"id\":9},\"text\":\"hi\"}}]}";
    const char tail[] = "{\"ok\":false}";
    size_t gl = strlen(good), tl = strlen(tail);
    char *buf = malloc(gl + tl);
    ac_node_tg_updates_t u;
    ac_errmsg_t err = {{0}};

    (void)state;
    assert_non_null(buf);
    memcpy(buf, good, gl);
    memcpy(buf + gl, tail, tl); /* no NUL anywhere */

    assert_int_equal(ac_node_tg_parse_updates(buf, gl, &u, &err), 0);
    assert_int_equal(u.n, 1);
    assert_int_equal(u.v[0].update_id, 3);
    assert_string_equal(u.v[0].text, "hi");
    ac_node_tg_updates_free(&u);

    /* the whole buffer: two values, refused */
    assert_int_equal(ac_node_tg_parse_updates(buf, gl + tl, &u, &err), -AC_EINVAL);
    /* one byte short: truncated, refused */
    assert_int_equal(ac_node_tg_parse_updates(buf, gl - 1, &u, &err), -AC_EINVAL);
    assert_int_equal(ac_node_tg_parse_updates(buf, 0, &u, &err), -AC_EINVAL);
    assert_null(u.v);

    /* the same for the other two readers */
    assert_true(ac_node_tg_answer_ok(buf, gl));
    assert_false(ac_node_tg_answer_ok(buf, gl - 1));
    int ra = -1;
    char desc[AC_NODE_TG_DESC_MAX];
    assert_int_equal(ac_node_tg_parse_error(buf + gl, tl, &ra, desc), 0);
    assert_int_equal(ra, 0);
    assert_int_equal(ac_node_tg_parse_error(buf + gl, tl - 1, &ra, desc), -AC_EINVAL);
    free(buf);
}

static void cleans_and_cuts_the_sender_name(void **state)
{
    /* 40 x U+00E9 (80 bytes) with a tab and a newline in front: cut below 64 bytes on a character boundary */
    char name[512] = "A\\tB\\n";
    for (int i = 0; i < 40; i++)
        strcat(name, "\\u00e9");
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"ok\":true,\"result\":[{\"update_id\":1,\"message\":{\"from\":{\"first_name\":\"%s\"},"
             "\"chat\":{\"id\":1},\"text\":\"x\"}}]}",
             name);
    ac_node_tg_updates_t u;
    ac_errmsg_t err;

    (void)state;
    assert_int_equal(parse(body, &u, &err), 0);
    const char *f = u.v[0].from;
    size_t fl = strlen(f);
    assert_true(fl < AC_NODE_TG_NAME_MAX);
    assert_memory_equal(f, "A B ", 4);
    assert_int_equal(fl, 62); /* 4 + 29 x 2: the 30th would need byte 64 */
    for (size_t i = 4; i < fl; i += 2)
        assert_memory_equal(f + i, "\xc3\xa9", 2);
    ac_node_tg_updates_free(&u);
}

/* ---- error answers ------------------------------------------------------------------------------------------ */

static int parse_error(const char *body, int *retry_after, char desc[AC_NODE_TG_DESC_MAX])
{
    return ac_node_tg_parse_error(body, strlen(body), retry_after, desc);
}

static void reads_retry_after_from_a_429_answer(void **state)
{
    int ra = -1;
    char desc[AC_NODE_TG_DESC_MAX];

    (void)state;
    assert_int_equal(parse_error("{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after "
                                 "35\",\"parameters\":{\"retry_after\":35}}",
                                 &ra, desc),
                     0);
    assert_int_equal(ra, 35);
    assert_string_equal(desc, "Too Many Requests: retry after 35");

    assert_int_equal(
        parse_error("{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}", &ra, desc), 0);
    assert_int_equal(ra, 0);
    assert_string_equal(desc, "Bad Request: chat not found");

    assert_int_equal(parse_error("{\"ok\":false}", &ra, desc), 0);
    assert_int_equal(ra, 0);
    assert_string_equal(desc, "");
}

static void caps_retry_after_at_an_hour(void **state)
{
    static const struct {
        const char *value;
        int want;
    } cases[] = {
        {"1", 1},
        {"3599", 3599},
        {"3600", 3600},
        {"3601", 3600},
        {"2147483648", 3600},
        {"9223372036854775807", 3600},
        {"0", 0},
        {"-5", 0},
        {"-9223372036854775808", 0},
        {"30.5", 0},
        {"\"30\"", 0},
        {"null", 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[256], desc[AC_NODE_TG_DESC_MAX];
        int ra = -1;
        snprintf(body, sizeof(body),
                 "{\"ok\":false,\"error_code\":429,\"description\":\"slow down\",\"parameters\":{\"retry_after\":%s}}",
                 cases[i].value);
        assert_int_equal(parse_error(body, &ra, desc), 0);
        assert_int_equal(ra, cases[i].want);
        assert_string_equal(desc, "slow down");
    }
}

static void replaces_control_characters_in_the_description(void **state)
{
    int ra = -1;
    char desc[AC_NODE_TG_DESC_MAX];

    (void)state;
    assert_int_equal(
        parse_error("{\"ok\":false,\"description\":\"a\\nb\\rc\\td\\u0001e\\u001bf\\u007fg \\u00e9\"}", &ra, desc), 0);
    assert_string_equal(desc, "a b c d e f g \xc3\xa9");
}

static void cuts_a_long_description_on_a_character_boundary(void **state)
{
    char body[2048], desc[AC_NODE_TG_DESC_MAX];
    int ra;

    (void)state;
    /* 100 x U+20AC: 199 bytes would end one byte into the 67th euro, so 198 remain */
    strcpy(body, "{\"ok\":false,\"description\":\"");
    for (int i = 0; i < 100; i++)
        strcat(body, "\\u20ac");
    strcat(body, "\"}");
    assert_int_equal(parse_error(body, &ra, desc), 0);
    assert_int_equal(strlen(desc), 198);
    for (size_t i = 0; i < 198; i += 3)
        assert_memory_equal(desc + i, "\xe2\x82\xac", 3);

    /* "a" then 100 euros: 199 bytes end exactly after the 66th, nothing dropped */
    strcpy(body, "{\"ok\":false,\"description\":\"a");
    for (int i = 0; i < 100; i++)
        strcat(body, "\\u20ac");
    strcat(body, "\"}");
    assert_int_equal(parse_error(body, &ra, desc), 0);
    assert_int_equal(strlen(desc), 199);
    assert_memory_equal(desc + 196, "\xe2\x82\xac", 3);

    /* 300 ASCII letters: cut to 199 */
    char *letters = repeat('z', 300);
    snprintf(body, sizeof(body), "{\"ok\":false,\"description\":\"%s\"}", letters);
    assert_int_equal(parse_error(body, &ra, desc), 0);
    assert_int_equal(strlen(desc), AC_NODE_TG_DESC_MAX - 1);
    free(letters);
}

static void refuses_bodies_that_are_not_error_answers(void **state)
{
    static const char *const bodies[] = {
        "",
        "not json",
        "[false]",
        "false",
        "{}",
        "{\"error_code\":429,\"parameters\":{\"retry_after\":5}}",
        "{\"ok\":true,\"result\":[]}",
        "{\"ok\":\"false\",\"description\":\"x\"}",
        "{\"ok\":0,\"description\":\"x\"}",
        "{\"ok\":false,\"description\":\"x\"",
        "{\"ok\":false,\"ok\":false}",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        int ra = 77;
        char desc[AC_NODE_TG_DESC_MAX] = "stale";
        assert_int_equal(parse_error(bodies[i], &ra, desc), -AC_EINVAL);
        assert_int_equal(ra, 0);
        assert_string_equal(desc, "");
    }
    int ra = 77;
    char desc[AC_NODE_TG_DESC_MAX] = "stale";
    assert_int_equal(ac_node_tg_parse_error(NULL, 5, &ra, desc), -AC_EINVAL);
    assert_int_equal(ra, 0);
    assert_string_equal(desc, "");
}

/* ---- answer_ok ---------------------------------------------------------------------------------------------- */

static bool answer_ok(const char *body)
{
    return ac_node_tg_answer_ok(body, strlen(body));
}

static void answer_ok_only_for_an_object_with_ok_true(void **state)
{
    (void)state;
    assert_true(answer_ok("{\"ok\":true,\"result\":{\"message_id\":5,\"chat\":{\"id\":1},\"text\":\"x\"}}"));
    assert_true(answer_ok("{\"ok\":true}"));
    assert_true(answer_ok(" { \"result\" : true , \"ok\" : true } "));
    assert_false(answer_ok("{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request\"}"));
    assert_false(answer_ok("{\"ok\":\"true\"}"));
    assert_false(answer_ok("{\"ok\":1}"));
    assert_false(answer_ok("{\"result\":true}"));
    assert_false(answer_ok("[{\"ok\":true}]"));
    assert_false(answer_ok("true"));
    assert_false(answer_ok("{\"ok\":true"));
    assert_false(answer_ok("{\"ok\":true} {\"ok\":true}"));
    assert_false(answer_ok("<html>502 Bad Gateway</html>"));
    assert_false(answer_ok(""));
    assert_false(ac_node_tg_answer_ok(NULL, 0));
    assert_false(ac_node_tg_answer_ok(NULL, 11));
}

/* ---- commands ----------------------------------------------------------------------------------------------- */

static void expect_cmd(const char *text, ac_node_tg_cmd_kind_t kind, const char *arg)
{
    ac_node_tg_cmd_t c;
    memset(&c, 0xA5, sizeof(c));
    ac_node_tg_cmd_parse(text, &c);
    if (c.kind != kind)
        fail_msg("\"%s\": kind %d (%s), expected %d (%s)", text != NULL ? text : "(null)", (int)c.kind,
                 ac_node_tg_cmd_name(c.kind), (int)kind, ac_node_tg_cmd_name(kind));
    assert_non_null(c.arg);
    if (text != NULL) { /* the argument points into the text */
        size_t tl = strlen(text);
        assert_true(c.arg >= text && c.arg <= text + tl);
        assert_true(c.arg_len <= (size_t)(text + tl - c.arg));
    }
    if (c.arg_len != strlen(arg) || memcmp(c.arg, arg, c.arg_len) != 0)
        fail_msg("\"%s\": arg \"%.*s\", expected \"%s\"", text != NULL ? text : "(null)", (int)c.arg_len, c.arg, arg);
}

static void recognizes_every_command_in_the_table(void **state)
{
    static const struct {
        const char *name;
        ac_node_tg_cmd_kind_t kind;
    } table[] = {
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
    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "/%s", table[i].name);
        expect_cmd(text, table[i].kind, "");
        snprintf(text, sizeof(text), "/%s some arg", table[i].name);
        expect_cmd(text, table[i].kind, "some arg");
        snprintf(text, sizeof(text), "/%s@AlexClawBot", table[i].name);
        expect_cmd(text, table[i].kind, "");
        assert_string_equal(ac_node_tg_cmd_name(table[i].kind), table[i].name);
    }
    assert_string_equal(ac_node_tg_cmd_name(AC_TG_CMD_TEXT), "text");
    assert_string_equal(ac_node_tg_cmd_name(AC_TG_CMD_CODE), "code");
    assert_string_equal(ac_node_tg_cmd_name(AC_TG_CMD_UNKNOWN), "unknown");
}

static void drops_the_bot_name_after_the_command(void **state)
{
    (void)state;
    expect_cmd("/run@MyBot 12", AC_TG_CMD_RUN, "12");
    expect_cmd("/run@MyBot\n12", AC_TG_CMD_RUN, "12");
    expect_cmd("/status@MyBot", AC_TG_CMD_STATUS, "");
    expect_cmd("/confirm@MyBot 2fa 123456", AC_TG_CMD_CONFIRM, "2fa 123456");
    expect_cmd("/runx@MyBot 12", AC_TG_CMD_UNKNOWN, "12");
}

static void matches_command_names_exactly_not_by_prefix(void **state)
{
    (void)state;
    expect_cmd("/runs", AC_TG_CMD_RUNS, "");
    expect_cmd("/runs 5", AC_TG_CMD_RUNS, "5");
    expect_cmd("/run", AC_TG_CMD_RUN, "");
    expect_cmd("/runx", AC_TG_CMD_UNKNOWN, "");
    expect_cmd("/runsx 5", AC_TG_CMD_UNKNOWN, "5");
    expect_cmd("/r", AC_TG_CMD_UNKNOWN, "");
    expect_cmd("/ru 1", AC_TG_CMD_UNKNOWN, "1");
    expect_cmd("/skill", AC_TG_CMD_SKILL, "");
    expect_cmd("/skills", AC_TG_CMD_SKILLS, "");
    expect_cmd("/skillset", AC_TG_CMD_UNKNOWN, "");
    expect_cmd("/starting", AC_TG_CMD_UNKNOWN, "");
    expect_cmd("/statu", AC_TG_CMD_UNKNOWN, "");
    expect_cmd("/shell-x ls", AC_TG_CMD_UNKNOWN, "ls");
    expect_cmd("//run", AC_TG_CMD_UNKNOWN, "");
}

static void trims_arguments_on_both_sides(void **state)
{
    (void)state;
    expect_cmd("/run   daily report \n\t ", AC_TG_CMD_RUN, "daily report");
    expect_cmd("  \n/run\n12\r\n", AC_TG_CMD_RUN, "12");
    expect_cmd("/run\t\tbackup\tnow\t", AC_TG_CMD_RUN, "backup\tnow");
    expect_cmd("/shell  ls -la\n/tmp  \n\n", AC_TG_CMD_SHELL, "ls -la\n/tmp");
    expect_cmd("/run \n \n ", AC_TG_CMD_RUN, "");

    /* the argument runs on to the end of the text: trailing white space is there, arg_len leaves it out */
    const char *t = "/run  x y  \n";
    ac_node_tg_cmd_t c;
    ac_node_tg_cmd_parse(t, &c);
    assert_ptr_equal(c.arg, t + 6);
    assert_int_equal(c.arg_len, 3);
}

static void reads_setup_and_confirm_arguments(void **state)
{
    (void)state;
    expect_cmd("/setup 2fa", AC_TG_CMD_SETUP, "2fa");
    expect_cmd("/confirm 2fa 123456", AC_TG_CMD_CONFIRM, "2fa 123456");
    expect_cmd("/confirm  2fa   123456  ", AC_TG_CMD_CONFIRM, "2fa   123456");
    expect_cmd("/disable 2fa", AC_TG_CMD_DISABLE, "2fa");
}

static void classifies_exactly_six_digits_as_a_code(void **state)
{
    (void)state;
    expect_cmd("123456", AC_TG_CMD_CODE, "123456");
    expect_cmd("  000000 \n", AC_TG_CMD_CODE, "000000");
    expect_cmd("\t987654\r\n", AC_TG_CMD_CODE, "987654");
}

static void treats_other_texts_as_free_text(void **state)
{
    (void)state;
    expect_cmd("12345", AC_TG_CMD_TEXT, "12345");
    expect_cmd("1234567", AC_TG_CMD_TEXT, "1234567");
    expect_cmd("12345a", AC_TG_CMD_TEXT, "12345a");
    expect_cmd("a12345", AC_TG_CMD_TEXT, "a12345");
    expect_cmd("123 456", AC_TG_CMD_TEXT, "123 456");
    expect_cmd(" 123456 7", AC_TG_CMD_TEXT, "123456 7");
    expect_cmd("\xd9\xa1\xd9\xa2\xd9\xa3", AC_TG_CMD_TEXT, "\xd9\xa1\xd9\xa2\xd9\xa3"); /* Arabic-Indic digits */
    expect_cmd("  hello there /run  ", AC_TG_CMD_TEXT, "hello there /run");
    expect_cmd("run 12", AC_TG_CMD_TEXT, "run 12");
}

static void handles_null_empty_and_bare_slash(void **state)
{
    (void)state;
    expect_cmd(NULL, AC_TG_CMD_TEXT, "");
    expect_cmd("", AC_TG_CMD_TEXT, "");
    expect_cmd(" \n\t\r ", AC_TG_CMD_TEXT, "");
    expect_cmd("/", AC_TG_CMD_UNKNOWN, "");
    expect_cmd("  /  ", AC_TG_CMD_UNKNOWN, "");
    expect_cmd("/ run", AC_TG_CMD_UNKNOWN, "run");
    expect_cmd("/@bot", AC_TG_CMD_UNKNOWN, "");
    expect_cmd("/@", AC_TG_CMD_UNKNOWN, "");
}

/* ---- split -------------------------------------------------------------------------------------------------- */

#define MAX_PIECES 4096

typedef struct pieces {
    const char *p[MAX_PIECES];
    size_t n[MAX_PIECES];
    size_t count;
} pieces_t;

static void collect(void *arg, const char *p, size_t n)
{
    pieces_t *ps = arg;
    assert_true(ps->count < MAX_PIECES);
    ps->p[ps->count] = p;
    ps->n[ps->count] = n;
    ps->count++;
}

static bool is_cont(char c)
{
    return ((unsigned char)c & 0xC0) == 0x80;
}

/* Splits text and checks what holds for every text: as many calls as the count returned, pieces one after the other
 * that give back the text exactly, none longer than max, none empty (but the one of an empty text), and no piece
 * starting inside a UTF-8 sequence. Returns the pieces, from malloc. */
static pieces_t *split(const char *text, size_t max)
{
    pieces_t *ps = calloc(1, sizeof(*ps));
    assert_non_null(ps);
    size_t len = strlen(text), off = 0;
    size_t ret = ac_node_tg_split(text, max, collect, ps);
    assert_int_equal(ret, ps->count);
    assert_true(ps->count >= 1);
    for (size_t i = 0; i < ps->count; i++) {
        assert_ptr_equal(ps->p[i], text + off);
        assert_true(ps->n[i] <= max);
        assert_true(ps->n[i] > 0 || len == 0);
        assert_false(is_cont(text[off]) && off > 0);
        off += ps->n[i];
    }
    assert_int_equal(off, len);
    return ps;
}

static void assert_piece(const pieces_t *ps, size_t i, const char *want)
{
    assert_true(i < ps->count);
    if (ps->n[i] != strlen(want) || memcmp(ps->p[i], want, ps->n[i]) != 0)
        fail_msg("piece %zu is \"%.*s\", expected \"%s\"", i, (int)ps->n[i], ps->p[i], want);
}

static void keeps_a_short_text_in_one_piece(void **state)
{
    pieces_t *ps;
    char *exact = repeat('q', 4096);

    (void)state;
    ps = split("hello, world\nsecond line", 4096);
    assert_int_equal(ps->count, 1);
    assert_piece(ps, 0, "hello, world\nsecond line");
    free(ps);

    ps = split(exact, 4096); /* exactly max */
    assert_int_equal(ps->count, 1);
    assert_int_equal(ps->n[0], 4096);
    free(ps);
    free(exact);
}

static void gives_one_empty_piece_for_an_empty_text(void **state)
{
    (void)state;
    pieces_t *ps = split("", 4096);
    assert_int_equal(ps->count, 1);
    assert_int_equal(ps->n[0], 0);
    free(ps);
}

static void splits_at_a_line_end_before_a_later_space(void **state)
{
    (void)state;
    /* max 20: the window "aaaaaaaaaaaa\nbbb ccc" has a space after the line end; the line end wins */
    pieces_t *ps = split("aaaaaaaaaaaa\nbbb ccc ddd eee", 20);
    assert_int_equal(ps->count, 2);
    assert_piece(ps, 0, "aaaaaaaaaaaa\n");
    assert_piece(ps, 1, "bbb ccc ddd eee");
    free(ps);

    /* the last line end in the window, not the first */
    ps = split("aaaaaa\nbbbbbb\ncccc\ndddddddddd", 20);
    assert_int_equal(ps->count, 2);
    assert_piece(ps, 0, "aaaaaa\nbbbbbb\ncccc\n");
    assert_piece(ps, 1, "dddddddddd");
    free(ps);
}

static void splits_at_spaces_when_there_is_no_line_end(void **state)
{
    (void)state;
    pieces_t *ps = split("aaaa bbbb cccc dddd eeee ffff", 12);
    assert_int_equal(ps->count, 3);
    assert_piece(ps, 0, "aaaa bbbb ");
    assert_piece(ps, 1, "cccc dddd ");
    assert_piece(ps, 2, "eeee ffff");
    free(ps);
}

static void cuts_a_text_without_spaces_or_line_ends_at_max(void **state)
{
    char *x = repeat('x', 100);

    (void)state;
    pieces_t *ps = split(x, 30);
    assert_int_equal(ps->count, 4);
    assert_int_equal(ps->n[0], 30);
    assert_int_equal(ps->n[1], 30);
    assert_int_equal(ps->n[2], 30);
    assert_int_equal(ps->n[3], 10);
    free(ps);
    free(x);
}

/* prefix ASCII letters, then count copies of the UTF-8 sequence seq; from malloc. */
static char *utf8_text(size_t prefix, const char *seq, size_t count)
{
    size_t sl = strlen(seq);
    char *s = malloc(prefix + sl * count + 1);
    assert_non_null(s);
    memset(s, 'p', prefix);
    for (size_t i = 0; i < count; i++)
        memcpy(s + prefix + i * sl, seq, sl);
    s[prefix + sl * count] = '\0';
    return s;
}

static void never_cuts_inside_a_utf8_sequence(void **state)
{
    static const char *const seqs[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"}; /* é, €, 😀 */
    (void)state;
    /* every length of each sequence against every offset of the boundary within it */
    for (size_t s = 0; s < 3; s++) {
        size_t sl = strlen(seqs[s]);
        for (size_t prefix = 0; prefix < sl; prefix++) {
            for (size_t max = 8; max <= 13; max++) {
                char *t = utf8_text(prefix, seqs[s], 40);
                pieces_t *ps = split(t, max); /* split() checks that no piece starts inside a sequence */
                assert_true(ps->count >= (strlen(t) + max - 1) / max);
                for (size_t i = 0; i + 1 < ps->count; i++) /* a piece gives up at most one incomplete sequence */
                    assert_true(ps->n[i] > max - sl);
                free(ps);
                free(t);
            }
        }
    }

    /* 2-byte characters, max 9: 8 bytes a piece, never 9 */
    char *t = utf8_text(0, "\xd0\x96", 20); /* Ж */
    pieces_t *ps = split(t, 9);
    assert_int_equal(ps->count, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(ps->n[i], 8);
    free(ps);
    free(t);
}

static void splits_a_long_multilingual_message_at_line_ends(void **state)
{
    static const char *const lines[] = {
        "Workflow \xc2\xab"
        "daily backup\xc2\xbb finished in 12.3 s \xe2\x9c\x85",
        "\xd0\x9e\xd1\x82\xd1\x87\xd1\x91\xd1\x82: \xd0\xb2\xd1\x81\xd0\xb5 \xd1\x85\xd0\xbe\xd1\x80\xd0\xbe\xd1\x88"
        "\xd0\xbe",
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe8\xa1\x8c",
        "emoji \xf0\x9f\x9a\x80\xf0\x9f\x94\xa5\xf0\x9f\x98\x80 and text",
        "",
    };
    size_t cap = 40000, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (size_t i = 0; len + 200 < cap - 1000; i++) {
        const char *l = lines[i % 5];
        len += (size_t)snprintf(text + len, cap - len, "%zu. %s\n", i, l);
    }
    (void)state;
    pieces_t *ps = split(text, 4096);
    assert_true(ps->count >= len / 4096 + 1);
    for (size_t i = 0; i + 1 < ps->count; i++) { /* short lines: every piece but the last ends a line */
        assert_true(ps->n[i] > 2048);
        assert_int_equal(ps->p[i][ps->n[i] - 1], '\n');
    }
    free(ps);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_messages_with_ids_chats_texts_and_names),
        cmocka_unit_test(reads_the_largest_chat_ids_in_full),
        cmocka_unit_test(sorts_updates_by_update_id),
        cmocka_unit_test(keeps_updates_other_than_text_messages_as_others),
        cmocka_unit_test(a_message_without_an_integer_chat_id_is_not_a_message),
        cmocka_unit_test(a_text_with_an_embedded_nul_is_not_a_message),
        cmocka_unit_test(a_text_up_to_the_limit_is_a_message_and_longer_is_not),
        cmocka_unit_test(accepts_max_updates_and_refuses_more),
        cmocka_unit_test(refuses_the_whole_answer_when_an_update_id_is_not_a_non_negative_integer),
        cmocka_unit_test(refuses_answers_that_are_not_ok_lists),
        cmocka_unit_test(refuses_a_null_body),
        cmocka_unit_test(accepts_an_empty_result_list),
        cmocka_unit_test(reads_only_len_bytes_of_a_body),
        cmocka_unit_test(cleans_and_cuts_the_sender_name),
        cmocka_unit_test(reads_retry_after_from_a_429_answer),
        cmocka_unit_test(caps_retry_after_at_an_hour),
        cmocka_unit_test(replaces_control_characters_in_the_description),
        cmocka_unit_test(cuts_a_long_description_on_a_character_boundary),
        cmocka_unit_test(refuses_bodies_that_are_not_error_answers),
        cmocka_unit_test(answer_ok_only_for_an_object_with_ok_true),
        cmocka_unit_test(recognizes_every_command_in_the_table),
        cmocka_unit_test(drops_the_bot_name_after_the_command),
        cmocka_unit_test(matches_command_names_exactly_not_by_prefix),
        cmocka_unit_test(trims_arguments_on_both_sides),
        cmocka_unit_test(reads_setup_and_confirm_arguments),
        cmocka_unit_test(classifies_exactly_six_digits_as_a_code),
        cmocka_unit_test(treats_other_texts_as_free_text),
        cmocka_unit_test(handles_null_empty_and_bare_slash),
        cmocka_unit_test(keeps_a_short_text_in_one_piece),
        cmocka_unit_test(gives_one_empty_piece_for_an_empty_text),
        cmocka_unit_test(splits_at_a_line_end_before_a_later_space),
        cmocka_unit_test(splits_at_spaces_when_there_is_no_line_end),
        cmocka_unit_test(cuts_a_text_without_spaces_or_line_ends_at_max),
        cmocka_unit_test(never_cuts_inside_a_utf8_sequence),
        cmocka_unit_test(splits_a_long_multilingual_message_at_line_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
