/* tests/unit/node/test_settings.c - node/settings.c without a database: type names, key and value checks for every
 * type (length limits, character set, UTF-8, integer/float/boolean syntax, JSON depth), the sensitivity rule and
 * masking, and the cache itself: put/replace/remove/replace_all, typed getters and their errors, fallbacks, masked
 * listings, describe, the generation counter, and several readers against one writer on separate threads. */
#include "node/config.h"
#include "node/settings.h"
#include "policy/alloc.h"
#include "policy/error.h"

#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const uint8_t test_key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* A row whose every field comes from ac_malloc, as ac_node_settings_put() expects. */
static ac_node_setting_t make_row(const char *key, const char *value, ac_node_setting_type_t type, const char *category,
                                  bool sensitive, int error)
{
    ac_node_setting_t r;
    memset(&r, 0, sizeof(r));
    r.key = ac_strdup(key);
    r.value = value != NULL ? ac_strdup(value) : NULL;
    r.type = type;
    r.category = category != NULL ? ac_strdup(category) : NULL;
    r.description = ac_strdup("a test setting");
    r.sensitive = sensitive;
    r.error = error;
    return r;
}

static void put_row(ac_node_settings_t *s, const char *key, const char *value, ac_node_setting_type_t type,
                    const char *category, bool sensitive, int error)
{
    ac_node_setting_t r = make_row(key, value, type, category, sensitive, error);
    ac_node_settings_put(s, &r);
}

static void put_plain(ac_node_settings_t *s, const char *key, const char *value, ac_node_setting_type_t type)
{
    put_row(s, key, value, type, "general", false, 0);
}

static int cache_setup(void **state)
{
    *state = ac_node_settings_new(test_key);
    return *state != NULL ? 0 : -1;
}

static int cache_teardown(void **state)
{
    ac_node_settings_free(*state);
    return 0;
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

/* depth nested arrays (open == '[') or objects (open == '{') around the number 1. */
static char *nested_json(char open, size_t depth)
{
    size_t per = open == '[' ? 1 : 5; /* "{\"a\":" */
    char *s = malloc(depth * (per + 1) + 2);
    assert_non_null(s);
    size_t o = 0;
    for (size_t i = 0; i < depth; i++) {
        if (open == '[') {
            s[o++] = '[';
        } else {
            memcpy(s + o, "{\"a\":", 5);
            o += 5;
        }
    }
    s[o++] = '1';
    for (size_t i = 0; i < depth; i++)
        s[o++] = open == '[' ? ']' : '}';
    s[o] = '\0';
    return s;
}

/* --- types --- */

static void parses_every_type_name_and_names_it_back(void **state)
{
    static const struct {
        const char *name;
        ac_node_setting_type_t type;
    } types[] = {{"string", AC_SETTING_STRING},
                 {"integer", AC_SETTING_INTEGER},
                 {"float", AC_SETTING_FLOAT},
                 {"boolean", AC_SETTING_BOOLEAN},
                 {"json", AC_SETTING_JSON}};

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        ac_node_setting_type_t t = (ac_node_setting_type_t)99;
        assert_int_equal(ac_node_setting_type_parse(types[i].name, &t), 0);
        assert_int_equal(t, types[i].type);
        assert_string_equal(ac_node_setting_type_name(types[i].type), types[i].name);
    }
}

static void rejects_unknown_type_names(void **state)
{
    static const char *const bad[] = {"", "int", "String", "bool", "json ", "object"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_node_setting_type_t t = AC_SETTING_JSON;
        assert_int_equal(ac_node_setting_type_parse(bad[i], &t), -AC_ETYPE);
        assert_int_equal(t, AC_SETTING_JSON);
    }
}

static void names_an_out_of_range_type_unknown(void **state)
{
    assert_string_equal(ac_node_setting_type_name((ac_node_setting_type_t)5), "unknown");
    assert_string_equal(ac_node_setting_type_name((ac_node_setting_type_t)-1), "unknown");
}

/* --- keys --- */

static void accepts_keys_of_letters_digits_underscore_dot_and_dash(void **state)
{
    static const char *const good[] = {"a", "Z", "0", "telegram.bot_token", "auth.rate-limit.max_attempts", "A.b_C-9"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(ac_node_setting_key_check(good[i], NULL), 0);
}

static void accepts_key_of_255_chars(void **state)
{
    char *key = repeat('k', AC_SETTING_KEY_MAX);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_setting_key_check(key, &err), 0);
    free(key);
}

static void rejects_key_of_256_chars(void **state)
{
    char *key = repeat('k', AC_SETTING_KEY_MAX + 1);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_setting_key_check(key, &err), -AC_ETOOLONG);
    assert_true(err.msg[0] != '\0');
    free(key);
}

static void rejects_empty_key(void **state)
{
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_setting_key_check("", &err), -AC_EINVAL);
    assert_true(err.msg[0] != '\0');
}

static void rejects_keys_with_characters_outside_the_set(void **state)
{
    static const char *const bad[] = {"a b",    "a/b", "a=b", "a:b", "a\tb", "key\n", "caf\xc3\xa9", "a'b", "a\"b",
                                      "a;drop", "a*",  "a%b", "a,b", "\x7f", "a\\b",  "$HOME",       "a+b", "~"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_errmsg_t err = {{0}};
        assert_int_equal(ac_node_setting_key_check(bad[i], &err), -AC_EINVAL);
        assert_true(err.msg[0] != '\0');
    }
}

/* --- values --- */

static void accepts_valid_utf8_strings(void **state)
{
    static const char *const good[] = {"",
                                       "plain ascii",
                                       "caf\xc3\xa9",
                                       "\xe2\x82\xac 5",
                                       "\xf0\x9f\x98\x80",
                                       "\xf4\x8f\xbf\xbf",
                                       "\xed\x9f\xbf",
                                       "\xee\x80\x80"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(ac_node_setting_value_check(AC_SETTING_STRING, good[i], NULL), 0);
}

static void rejects_bad_utf8(void **state)
{
    static const char *const bad[] = {
        "\xff",                 /* never valid */
        "\x80",                 /* lone continuation byte */
        "ab\xc3",               /* truncated 2-byte sequence */
        "\xc3\x28",             /* bad continuation */
        "\xe2\x82",             /* truncated 3-byte sequence */
        "\xc0\xaf",             /* overlong '/' */
        "\xc1\xbf",             /* overlong */
        "\xe0\x80\xaf",         /* overlong 3-byte */
        "\xf0\x80\x80\xaf",     /* overlong 4-byte */
        "\xed\xa0\x80",         /* UTF-16 surrogate */
        "\xed\xbf\xbf",         /* UTF-16 surrogate */
        "\xf4\x90\x80\x80",     /* above U+10FFFF */
        "\xf8\x88\x80\x80\x80", /* 5-byte form */
        "ok\xfe",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_errmsg_t err = {{0}};
        assert_int_equal(ac_node_setting_value_check(AC_SETTING_STRING, bad[i], &err), -AC_EINVAL);
        assert_true(err.msg[0] != '\0');
    }
}

static void rejects_bad_utf8_for_every_type(void **state)
{
    assert_int_equal(ac_node_setting_value_check(AC_SETTING_JSON, "\"\xc0\xaf\"", NULL), -AC_EINVAL);
    assert_int_equal(ac_node_setting_value_check(AC_SETTING_INTEGER, "1\xff", NULL), -AC_EINVAL);
}

static void accepts_value_of_the_maximum_length(void **state)
{
    char *v = repeat('v', AC_SETTING_VALUE_MAX);
    assert_int_equal(ac_node_setting_value_check(AC_SETTING_STRING, v, NULL), 0);
    free(v);
}

static void rejects_value_one_byte_over_the_maximum(void **state)
{
    char *v = repeat('v', AC_SETTING_VALUE_MAX + 1);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_setting_value_check(AC_SETTING_STRING, v, &err), -AC_ETOOLONG);
    assert_true(err.msg[0] != '\0');
    free(v);
}

static void accepts_decimal_int64_values(void **state)
{
    static const char *const good[] = {"0", "-42", "1000", "9223372036854775807", "-9223372036854775808", "007"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(ac_node_setting_value_check(AC_SETTING_INTEGER, good[i], NULL), 0);
}

static void rejects_malformed_integers(void **state)
{
    static const char *const bad[] = {"",  " 1",  "1 ",  "1x",  "1.5", "0x10", "abc",
                                      "-", "1e3", "\t1", "\n1", "1\n", "--1",  "9223372036854775808"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_errmsg_t err = {{0}};
        assert_int_equal(ac_node_setting_value_check(AC_SETTING_INTEGER, bad[i], &err), -AC_ETYPE);
        assert_true(err.msg[0] != '\0');
    }
}

static void accepts_finite_floats(void **state)
{
    static const char *const good[] = {"1.5", "-0.25", "3", "1e10", "2.5E-3", "0"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(ac_node_setting_value_check(AC_SETTING_FLOAT, good[i], NULL), 0);
}

static void rejects_non_finite_and_malformed_floats(void **state)
{
    static const char *const bad[] = {"nan", "NaN",  "inf",  "-inf", "infinity", "1e999", "-1e999",
                                      "",    " 1.0", "1.0 ", "1.0x", "abc",      "."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_errmsg_t err = {{0}};
        assert_int_equal(ac_node_setting_value_check(AC_SETTING_FLOAT, bad[i], &err), -AC_ETYPE);
        assert_true(err.msg[0] != '\0');
    }
}

static void accepts_true_and_false_only_as_booleans(void **state)
{
    static const char *const bad[] = {"yes", "no", "TRUE", "False", "1", "0", "", " true", "true ", "t", "on"};
    assert_int_equal(ac_node_setting_value_check(AC_SETTING_BOOLEAN, "true", NULL), 0);
    assert_int_equal(ac_node_setting_value_check(AC_SETTING_BOOLEAN, "false", NULL), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_errmsg_t err = {{0}};
        assert_int_equal(ac_node_setting_value_check(AC_SETTING_BOOLEAN, bad[i], &err), -AC_ETYPE);
        assert_true(err.msg[0] != '\0');
    }
}

static void accepts_json_values_of_any_kind(void **state)
{
    static const char *const good[] = {"{}",       "[]", "[1,2,3]", "{\"a\":{\"b\":[true,null]}}",
                                       "\"text\"", "42", "null",    " {\"x\": 1} "};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(ac_node_setting_value_check(AC_SETTING_JSON, good[i], NULL), 0);
}

static void rejects_malformed_json(void **state)
{
    static const char *const bad[] = {"", "{", "[1,]", "{\"a\":1,\"a\":2}", "undefined", "{a:1}", "[1] [2]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_errmsg_t err = {{0}};
        assert_int_equal(ac_node_setting_value_check(AC_SETTING_JSON, bad[i], &err), -AC_ETYPE);
        assert_true(err.msg[0] != '\0');
    }
}

static void accepts_json_nested_32_levels(void **state)
{
    char *arrays = nested_json('[', AC_SETTING_JSON_DEPTH);
    char *objects = nested_json('{', AC_SETTING_JSON_DEPTH);
    assert_int_equal(ac_node_setting_value_check(AC_SETTING_JSON, arrays, NULL), 0);
    assert_int_equal(ac_node_setting_value_check(AC_SETTING_JSON, objects, NULL), 0);
    free(arrays);
    free(objects);
}

static void rejects_json_nested_deeper_than_32_levels(void **state)
{
    char *arrays = nested_json('[', AC_SETTING_JSON_DEPTH + 1);
    char *objects = nested_json('{', AC_SETTING_JSON_DEPTH + 1);
    char *deep = nested_json('[', 1000);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_setting_value_check(AC_SETTING_JSON, arrays, &err), -AC_ETYPE);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(ac_node_setting_value_check(AC_SETTING_JSON, objects, NULL), -AC_ETYPE);
    assert_int_equal(ac_node_setting_value_check(AC_SETTING_JSON, deep, NULL), -AC_ETYPE);
    free(arrays);
    free(objects);
    free(deep);
}

static void rejects_values_of_an_unknown_type(void **state)
{
    assert_int_equal(ac_node_setting_value_check((ac_node_setting_type_t)42, "x", NULL), -AC_ETYPE);
}

/* --- sensitivity and masking --- */

static void flags_keys_containing_a_secret_word_in_any_case(void **state)
{
    static const char *const keys[] = {"llm.openai_api_key", "x.token",      "db.password",    "foo.secret",
                                       "X.API_KEY",          "Some.Token",   "PassWord",       "client_secret_id",
                                       "refresh_tokens",     "a.b.SeCrEt.c", "mypasswordhash", "tokenizer.model"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_true(ac_node_setting_key_is_sensitive(keys[i]));
}

static void flags_registry_sensitive_and_fixed_keys(void **state)
{
    size_t seen = 0;
    for (size_t i = 0; i < ac_node_config_registry_count; i++) {
        const ac_node_config_entry_t *e = &ac_node_config_registry[i];
        if (e->key != NULL && (e->flags & AC_CFG_SENSITIVE)) {
            assert_true(ac_node_setting_key_is_sensitive(e->key));
            seen++;
        }
    }
    assert_true(seen > 0);
    assert_true(ac_node_setting_key_is_sensitive("discord.bot_token"));
    assert_true(ac_node_setting_key_is_sensitive("auth.totp.secret"));
    assert_true(ac_node_setting_key_is_sensitive("auth.totp.pending_secret"));
}

static void does_not_flag_ordinary_keys(void **state)
{
    static const char *const keys[] = {"telegram.enabled",
                                       "llm.ollama_host",
                                       "identity.name",
                                       "api.key",
                                       "tok.en",
                                       "pass_word",
                                       "secre.t",
                                       "shell.whitelist",
                                       "",
                                       "apikey",
                                       "keys"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_false(ac_node_setting_key_is_sensitive(keys[i]));
}

static void masks_empty_value_as_empty(void **state)
{
    char *m = ac_node_setting_mask("");
    assert_string_equal(m, "");
    free(m);
}

static void masks_short_values_with_one_star_per_char(void **state)
{
    static const struct {
        const char *value, *masked;
    } cases[] = {{"a", "*"}, {"ab", "**"}, {"abcd", "****"}, {"abcdefg", "*******"}, {"abcdefgh", "********"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *m = ac_node_setting_mask(cases[i].value);
        assert_string_equal(m, cases[i].masked);
        free(m);
    }
}

static void masks_longer_values_to_first_4_stars_and_last_4(void **state)
{
    static const struct {
        const char *value, *masked;
    } cases[] = {{"abcdefghi", "abcd********fghi"},
                 {"sk-ant-0123456789abcdef", "sk-a********cdef"},
                 {"0123456789012345678901234567890123456789", "0123********6789"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *m = ac_node_setting_mask(cases[i].value);
        assert_string_equal(m, cases[i].masked);
        free(m);
    }
}

/* --- the cache --- */

static void keeps_its_own_copy_of_the_settings_key(void **state)
{
    uint8_t key[32];
    memcpy(key, test_key, sizeof(key));
    ac_node_settings_t *s = ac_node_settings_new(key);
    memset(key, 0xee, sizeof(key));
    assert_memory_equal(ac_node_settings_key(s), test_key, 32);
    ac_node_settings_free(s);
}

static void starts_empty_at_generation_zero(void **state)
{
    ac_node_settings_t *s = *state;
    ac_node_setting_t *rows = NULL;
    size_t n = 99;
    assert_true(ac_node_settings_generation(s) == 0);
    assert_int_equal(ac_node_settings_list(s, NULL, &rows, &n), 0);
    assert_non_null(rows);
    assert_int_equal(n, 0);
    ac_node_settings_rows_free(rows, n);
    /* Freeing nothing is allowed. */
    ac_node_settings_free(NULL);
    ac_node_setting_clear(NULL);
}

static void returns_enoent_from_every_getter_for_an_absent_key(void **state)
{
    ac_node_settings_t *s = *state;
    char *str = (char *)"untouched";
    int64_t i;
    double d;
    bool b;
    json_t *j = NULL;
    put_plain(s, "present", "1", AC_SETTING_INTEGER);
    assert_int_equal(ac_node_settings_get_str(s, "absent", &str), -AC_ENOENT);
    assert_null(str);
    assert_int_equal(ac_node_settings_get_int(s, "absent", &i), -AC_ENOENT);
    assert_int_equal(ac_node_settings_get_float(s, "absent", &d), -AC_ENOENT);
    assert_int_equal(ac_node_settings_get_bool(s, "absent", &b), -AC_ENOENT);
    assert_int_equal(ac_node_settings_get_json(s, "absent", &j), -AC_ENOENT);
    assert_null(j);
}

static void returns_a_copy_of_a_string_value(void **state)
{
    ac_node_settings_t *s = *state;
    char *v = NULL;
    put_plain(s, "identity.name", "AlexClaw", AC_SETTING_STRING);
    assert_int_equal(ac_node_settings_get_str(s, "identity.name", &v), 0);
    assert_string_equal(v, "AlexClaw");
    v[0] = 'X'; /* the caller's copy: the cache must not change */
    free(v);
    assert_int_equal(ac_node_settings_get_str(s, "identity.name", &v), 0);
    assert_string_equal(v, "AlexClaw");
    free(v);
}

static void reads_typed_values(void **state)
{
    ac_node_settings_t *s = *state;
    int64_t i = 0;
    double d = 0;
    bool b = false;
    json_t *j = NULL;
    put_plain(s, "n", "-9223372036854775808", AC_SETTING_INTEGER);
    put_plain(s, "f", "-0.25", AC_SETTING_FLOAT);
    put_plain(s, "b", "true", AC_SETTING_BOOLEAN);
    put_plain(s, "j", "{\"n\":3,\"l\":[1,2]}", AC_SETTING_JSON);

    assert_int_equal(ac_node_settings_get_int(s, "n", &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(ac_node_settings_get_float(s, "f", &d), 0);
    assert_true(d == -0.25);
    assert_int_equal(ac_node_settings_get_bool(s, "b", &b), 0);
    assert_true(b);
    assert_int_equal(ac_node_settings_get_json(s, "j", &j), 0);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "n")), 3);
    assert_int_equal(json_array_size(json_object_get(j, "l")), 2);
    json_decref(j);
}

static void reads_false_as_false(void **state)
{
    ac_node_settings_t *s = *state;
    bool b = true;
    put_plain(s, "b", "false", AC_SETTING_BOOLEAN);
    assert_int_equal(ac_node_settings_get_bool(s, "b", &b), 0);
    assert_false(b);
}

static void returns_etype_when_the_value_does_not_parse_as_requested(void **state)
{
    ac_node_settings_t *s = *state;
    int64_t i = 77;
    double d = 7.5;
    bool b = true;
    json_t *j = NULL;
    put_plain(s, "word", "hello", AC_SETTING_STRING);
    put_plain(s, "num", "1.5", AC_SETTING_FLOAT);
    put_plain(s, "yes", "yes", AC_SETTING_STRING);

    assert_int_equal(ac_node_settings_get_int(s, "word", &i), -AC_ETYPE);
    assert_int_equal(ac_node_settings_get_int(s, "num", &i), -AC_ETYPE);
    assert_int_equal(i, 77);
    assert_int_equal(ac_node_settings_get_float(s, "word", &d), -AC_ETYPE);
    assert_true(d == 7.5);
    assert_int_equal(ac_node_settings_get_bool(s, "yes", &b), -AC_ETYPE);
    assert_true(b);
    assert_int_equal(ac_node_settings_get_json(s, "word", &j), -AC_ETYPE);
    assert_null(j);
}

static void returns_the_stored_error_of_an_unreadable_entry(void **state)
{
    ac_node_settings_t *s = *state;
    char *v = (char *)"untouched";
    int64_t i;
    bool b;
    put_row(s, "llm.gemini_api_key", NULL, AC_SETTING_STRING, "llm", true, -AC_EDECRYPT);
    put_row(s, "broken.count", "12", AC_SETTING_INTEGER, "general", false, -AC_ECIPHERTEXT);
    put_row(s, "broken.flag", "true", AC_SETTING_BOOLEAN, "general", false, -AC_EBASE64);

    assert_int_equal(ac_node_settings_get_str(s, "llm.gemini_api_key", &v), -AC_EDECRYPT);
    assert_null(v);
    /* A value that happens to be present does not override the error. */
    assert_int_equal(ac_node_settings_get_int(s, "broken.count", &i), -AC_ECIPHERTEXT);
    assert_int_equal(ac_node_settings_get_bool(s, "broken.flag", &b), -AC_EBASE64);
}

static void reads_an_entry_without_value_as_absent(void **state)
{
    ac_node_settings_t *s = *state;
    char *v = NULL;
    put_row(s, "no.value", NULL, AC_SETTING_STRING, "general", false, 0);
    assert_int_equal(ac_node_settings_get_str(s, "no.value", &v), -AC_ENOENT);
    assert_null(v);
}

static void falls_back_when_an_integer_is_absent_or_unusable(void **state)
{
    ac_node_settings_t *s = *state;
    put_plain(s, "good", "1000", AC_SETTING_INTEGER);
    put_plain(s, "bad", "1x", AC_SETTING_STRING);
    put_row(s, "err", "5", AC_SETTING_INTEGER, "general", false, -AC_EDECRYPT);
    assert_true(ac_node_settings_int_or(s, "good", -1) == 1000);
    assert_true(ac_node_settings_int_or(s, "bad", -1) == -1);
    assert_true(ac_node_settings_int_or(s, "err", -2) == -2);
    assert_true(ac_node_settings_int_or(s, "absent", 42) == 42);
}

static void falls_back_when_a_boolean_is_absent_or_unusable(void **state)
{
    ac_node_settings_t *s = *state;
    put_plain(s, "on", "true", AC_SETTING_BOOLEAN);
    put_plain(s, "off", "false", AC_SETTING_BOOLEAN);
    put_plain(s, "yes", "yes", AC_SETTING_STRING);
    put_row(s, "err", "true", AC_SETTING_BOOLEAN, "general", false, -AC_EDECRYPT);
    assert_true(ac_node_settings_bool_or(s, "on", false));
    assert_false(ac_node_settings_bool_or(s, "off", true));
    assert_true(ac_node_settings_bool_or(s, "yes", true));
    assert_false(ac_node_settings_bool_or(s, "yes", false));
    assert_false(ac_node_settings_bool_or(s, "err", false));
    assert_true(ac_node_settings_bool_or(s, "absent", true));
}

static void replaces_an_entry_put_twice(void **state)
{
    ac_node_settings_t *s = *state;
    ac_node_setting_t *rows = NULL;
    size_t n = 0;
    put_plain(s, "k", "1", AC_SETTING_INTEGER);
    put_plain(s, "k", "2", AC_SETTING_INTEGER);
    assert_true(ac_node_settings_int_or(s, "k", 0) == 2);
    assert_int_equal(ac_node_settings_list(s, NULL, &rows, &n), 0);
    assert_int_equal(n, 1);
    ac_node_settings_rows_free(rows, n);
}

static void lists_entries_ordered_by_key(void **state)
{
    ac_node_settings_t *s = *state;
    static const char *const order[] = {"a", "a.b", "b", "c", "z"};
    ac_node_setting_t *rows = NULL;
    size_t n = 0;
    put_plain(s, "c", "3", AC_SETTING_STRING);
    put_plain(s, "a.b", "2", AC_SETTING_STRING);
    put_plain(s, "z", "5", AC_SETTING_STRING);
    put_plain(s, "a", "1", AC_SETTING_STRING);
    put_plain(s, "b", "x", AC_SETTING_STRING);
    assert_int_equal(ac_node_settings_list(s, NULL, &rows, &n), 0);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(rows[i].key, order[i]);
    ac_node_settings_rows_free(rows, n);
}

static void keeps_many_entries_findable(void **state)
{
    ac_node_settings_t *s = *state;
    char key[32], value[32];
    /* More than the initial capacity, inserted in descending order so every put shifts the array. */
    for (int i = 199; i >= 0; i--) {
        snprintf(key, sizeof(key), "k%03d", i);
        snprintf(value, sizeof(value), "%d", i);
        put_plain(s, key, value, AC_SETTING_INTEGER);
    }
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        assert_true(ac_node_settings_int_or(s, key, -1) == i);
    }
}

static void removes_an_entry(void **state)
{
    ac_node_settings_t *s = *state;
    put_plain(s, "a", "1", AC_SETTING_INTEGER);
    put_plain(s, "b", "2", AC_SETTING_INTEGER);
    put_plain(s, "c", "3", AC_SETTING_INTEGER);
    ac_node_settings_remove(s, "b");
    assert_true(ac_node_settings_int_or(s, "b", -1) == -1);
    assert_true(ac_node_settings_int_or(s, "a", -1) == 1);
    assert_true(ac_node_settings_int_or(s, "c", -1) == 3);
    ac_node_settings_remove(s, "c");
    ac_node_settings_remove(s, "a");
    assert_true(ac_node_settings_int_or(s, "a", -1) == -1);
}

static void ignores_removal_of_an_absent_key(void **state)
{
    ac_node_settings_t *s = *state;
    put_plain(s, "a", "1", AC_SETTING_INTEGER);
    uint64_t g = ac_node_settings_generation(s);
    ac_node_settings_remove(s, "zzz");
    assert_true(ac_node_settings_generation(s) == g);
    assert_true(ac_node_settings_int_or(s, "a", -1) == 1);
}

static void replace_all_swaps_the_whole_content(void **state)
{
    ac_node_settings_t *s = *state;
    ac_node_setting_t *rows = NULL;
    size_t n = 0;
    put_plain(s, "old", "1", AC_SETTING_INTEGER);
    ac_node_setting_t fresh[3] = {make_row("zeta", "26", AC_SETTING_INTEGER, "general", false, 0),
                                  make_row("alpha", "1", AC_SETTING_INTEGER, "general", false, 0),
                                  make_row("mu", "12", AC_SETTING_INTEGER, "general", false, 0)};
    ac_node_settings_replace_all(s, fresh, 3);

    assert_true(ac_node_settings_int_or(s, "old", -1) == -1);
    assert_true(ac_node_settings_int_or(s, "alpha", -1) == 1);
    assert_true(ac_node_settings_int_or(s, "mu", -1) == 12);
    assert_true(ac_node_settings_int_or(s, "zeta", -1) == 26);
    assert_int_equal(ac_node_settings_list(s, NULL, &rows, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].key, "alpha");
    assert_string_equal(rows[1].key, "mu");
    assert_string_equal(rows[2].key, "zeta");
    ac_node_settings_rows_free(rows, n);
}

static void replace_all_with_no_rows_empties_the_cache_and_accepts_new_entries(void **state)
{
    ac_node_settings_t *s = *state;
    ac_node_setting_t *rows = NULL;
    size_t n = 99;
    ac_node_setting_t none[1];
    put_plain(s, "a", "1", AC_SETTING_INTEGER);
    ac_node_settings_replace_all(s, none, 0);
    assert_int_equal(ac_node_settings_list(s, NULL, &rows, &n), 0);
    assert_int_equal(n, 0);
    ac_node_settings_rows_free(rows, n);
    put_plain(s, "b", "2", AC_SETTING_INTEGER);
    put_plain(s, "c", "3", AC_SETTING_INTEGER);
    assert_true(ac_node_settings_int_or(s, "b", -1) == 2);
    assert_true(ac_node_settings_int_or(s, "c", -1) == 3);
}

static void lists_one_category(void **state)
{
    ac_node_settings_t *s = *state;
    ac_node_setting_t *rows = NULL;
    size_t n = 0;
    put_row(s, "telegram.enabled", "true", AC_SETTING_BOOLEAN, "telegram", false, 0);
    put_row(s, "llm.ollama_host", "http://localhost:11434", AC_SETTING_STRING, "llm", false, 0);
    put_row(s, "telegram.chat_id", "123", AC_SETTING_STRING, "telegram", false, 0);

    assert_int_equal(ac_node_settings_list(s, "telegram", &rows, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].key, "telegram.chat_id");
    assert_string_equal(rows[0].category, "telegram");
    assert_string_equal(rows[0].value, "123");
    assert_string_equal(rows[1].key, "telegram.enabled");
    assert_int_equal(rows[1].type, AC_SETTING_BOOLEAN);
    assert_string_equal(rows[1].description, "a test setting");
    ac_node_settings_rows_free(rows, n);

    assert_int_equal(ac_node_settings_list(s, "nothing-here", &rows, &n), 0);
    assert_int_equal(n, 0);
    ac_node_settings_rows_free(rows, n);
}

static void lists_entries_without_category_as_general(void **state)
{
    ac_node_settings_t *s = *state;
    ac_node_setting_t *rows = NULL;
    size_t n = 0;
    put_row(s, "uncategorised", "v", AC_SETTING_STRING, NULL, false, 0);
    assert_int_equal(ac_node_settings_list(s, NULL, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].category, "general");
    ac_node_settings_rows_free(rows, n);
}

static void masks_sensitive_values_in_listings(void **state)
{
    ac_node_settings_t *s = *state;
    ac_node_setting_t *rows = NULL;
    size_t n = 0;
    put_row(s, "llm.anthropic_api_key", "sk-ant-0123456789abcdef", AC_SETTING_STRING, "llm", true, 0);
    put_row(s, "llm.short_secret", "abc", AC_SETTING_STRING, "llm", true, 0);
    put_row(s, "llm.gemini_api_key", NULL, AC_SETTING_STRING, "llm", true, -AC_EDECRYPT);
    put_row(s, "llm.ollama_model", "llama3.2", AC_SETTING_STRING, "llm", false, 0);

    assert_int_equal(ac_node_settings_list(s, "llm", &rows, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(rows[0].key, "llm.anthropic_api_key");
    assert_string_equal(rows[0].value, "sk-a********cdef");
    assert_true(rows[0].sensitive);
    assert_string_equal(rows[1].key, "llm.gemini_api_key");
    assert_null(rows[1].value);
    assert_int_equal(rows[1].error, -AC_EDECRYPT);
    assert_string_equal(rows[2].key, "llm.ollama_model");
    assert_string_equal(rows[2].value, "llama3.2");
    assert_false(rows[2].sensitive);
    assert_string_equal(rows[3].key, "llm.short_secret");
    assert_string_equal(rows[3].value, "***");
    ac_node_settings_rows_free(rows, n);

    /* The getters still hand the plaintext to code that needs it. */
    char *v = NULL;
    assert_int_equal(ac_node_settings_get_str(s, "llm.anthropic_api_key", &v), 0);
    assert_string_equal(v, "sk-ant-0123456789abcdef");
    free(v);
}

static void describes_one_entry_masked_when_sensitive(void **state)
{
    ac_node_settings_t *s = *state;
    ac_node_setting_t row;
    put_row(s, "github.webhook_secret", "whsec_0123456789", AC_SETTING_STRING, "github", true, 0);
    put_row(s, "github.default_repo", "owner/repo", AC_SETTING_STRING, "github", false, 0);

    assert_int_equal(ac_node_settings_describe(s, "github.webhook_secret", &row), 0);
    assert_string_equal(row.key, "github.webhook_secret");
    assert_string_equal(row.value, "whse********6789");
    assert_string_equal(row.category, "github");
    assert_true(row.sensitive);
    assert_int_equal(row.error, 0);
    ac_node_setting_clear(&row);
    assert_null(row.key);

    assert_int_equal(ac_node_settings_describe(s, "github.default_repo", &row), 0);
    assert_string_equal(row.value, "owner/repo");
    assert_false(row.sensitive);
    ac_node_setting_clear(&row);
}

static void describes_an_absent_key_as_enoent_with_an_empty_row(void **state)
{
    ac_node_settings_t *s = *state;
    ac_node_setting_t row;
    memset(&row, 0x5a, sizeof(row));
    assert_int_equal(ac_node_settings_describe(s, "absent", &row), -AC_ENOENT);
    assert_null(row.key);
    assert_null(row.value);
    assert_null(row.category);
    assert_null(row.description);
    ac_node_setting_clear(&row);
}

static void counts_every_change_in_the_generation(void **state)
{
    ac_node_settings_t *s = *state;
    ac_node_setting_t one[1];
    uint64_t g0 = ac_node_settings_generation(s);
    put_plain(s, "a", "1", AC_SETTING_INTEGER);
    assert_true(ac_node_settings_generation(s) == g0 + 1);
    put_plain(s, "a", "2", AC_SETTING_INTEGER);
    assert_true(ac_node_settings_generation(s) == g0 + 2);
    ac_node_settings_remove(s, "a");
    assert_true(ac_node_settings_generation(s) == g0 + 3);
    ac_node_settings_remove(s, "a");
    assert_true(ac_node_settings_generation(s) == g0 + 3);
    one[0] = make_row("b", "1", AC_SETTING_INTEGER, "general", false, 0);
    ac_node_settings_replace_all(s, one, 1);
    assert_true(ac_node_settings_generation(s) == g0 + 4);
    /* Reads change nothing. */
    (void)ac_node_settings_int_or(s, "b", 0);
    assert_true(ac_node_settings_generation(s) == g0 + 4);
}

/* --- concurrency: readers never see a torn or unsorted cache while one writer churns it --- */

#define CC_READERS 4
#define CC_KEYS    16
#define CC_WRITES  3000
#define CC_READS   3000
#define CC_SECRET  "sk-live-0123456789abcdef"

static pthread_barrier_t cc_start; /* every thread begins together, so reads and writes overlap */

typedef struct {
    ac_node_settings_t *s;
    unsigned seed;
    unsigned bad; /* invariant violations; asserted on the main thread (cmocka asserts are not thread-safe) */
    uint64_t changes;
} cc_arg_t;

static void cc_key(char *buf, size_t cap, unsigned i)
{
    snprintf(buf, cap, "cc.k%02u", i % CC_KEYS);
}

static void *cc_writer(void *p)
{
    cc_arg_t *a = p;
    bool present[CC_KEYS] = {false};
    char key[32], value[32];
    pthread_barrier_wait(&cc_start);
    for (unsigned it = 0; it < CC_WRITES; it++) {
        unsigned k = (it * 7u) % CC_KEYS;
        cc_key(key, sizeof(key), k);
        if (it % 500 == 499) {
            ac_node_setting_t rows[CC_KEYS / 2];
            for (unsigned r = 0; r < CC_KEYS / 2; r++) {
                char rk[32];
                cc_key(rk, sizeof(rk), r * 2);
                snprintf(value, sizeof(value), "%u", it);
                rows[r] = make_row(rk, value, AC_SETTING_INTEGER, "cc", false, 0);
            }
            ac_node_settings_replace_all(a->s, rows, CC_KEYS / 2);
            for (unsigned r = 0; r < CC_KEYS; r++)
                present[r] = r % 2 == 0;
            a->changes++;
        } else if (it % 3 == 2) {
            ac_node_settings_remove(a->s, key);
            if (present[k])
                a->changes++;
            present[k] = false;
        } else {
            snprintf(value, sizeof(value), "%u", it);
            put_row(a->s, key, value, AC_SETTING_INTEGER, "cc", false, 0);
            present[k] = true;
            a->changes++;
        }
        if (it % 100 == 0) {
            put_row(a->s, "cc.api_token", CC_SECRET, AC_SETTING_STRING, "cc", true, 0);
            a->changes++;
        }
    }
    return NULL;
}

static void *cc_reader(void *p)
{
    cc_arg_t *a = p;
    char key[32];
    uint64_t last_gen = 0;
    pthread_barrier_wait(&cc_start);
    for (unsigned it = 0; it < CC_READS; it++) {
        unsigned k = (unsigned)rand_r(&a->seed);
        cc_key(key, sizeof(key), k);
        int64_t v = -1;
        int rc = ac_node_settings_get_int(a->s, key, &v);
        if (!(rc == -AC_ENOENT || (rc == 0 && v >= 0 && v < CC_WRITES)))
            a->bad++;

        uint64_t g = ac_node_settings_generation(a->s);
        if (g < last_gen)
            a->bad++;
        last_gen = g;

        if (it % 8 == 0) {
            ac_node_setting_t *rows = NULL;
            size_t n = 0;
            if (ac_node_settings_list(a->s, "cc", &rows, &n) != 0 || n > CC_KEYS + 1)
                a->bad++;
            for (size_t i = 0; i < n; i++) {
                if (rows[i].key == NULL || rows[i].value == NULL ||
                    (i > 0 && strcmp(rows[i - 1].key, rows[i].key) >= 0))
                    a->bad++;
                else if (strstr(rows[i].value, CC_SECRET) != NULL)
                    a->bad++;
            }
            ac_node_settings_rows_free(rows, n);
        }
        if (it % 8 == 4) {
            ac_node_setting_t row;
            rc = ac_node_settings_describe(a->s, "cc.api_token", &row);
            if (rc == 0 && (row.value == NULL || strcmp(row.value, "sk-l********cdef") != 0))
                a->bad++;
            else if (rc != 0 && rc != -AC_ENOENT)
                a->bad++;
            ac_node_setting_clear(&row);
        }
    }
    return NULL;
}

static void serves_concurrent_readers_while_one_writer_churns(void **state)
{
    ac_node_settings_t *s = *state;
    pthread_t readers[CC_READERS], writer;
    cc_arg_t rargs[CC_READERS], wargs = {s, 0, 0, 0};
    uint64_t g0 = ac_node_settings_generation(s);

    assert_int_equal(pthread_barrier_init(&cc_start, NULL, CC_READERS + 1), 0);
    for (unsigned i = 0; i < CC_READERS; i++) {
        rargs[i] = (cc_arg_t){s, 1234u + i, 0, 0};
        assert_int_equal(pthread_create(&readers[i], NULL, cc_reader, &rargs[i]), 0);
    }
    assert_int_equal(pthread_create(&writer, NULL, cc_writer, &wargs), 0);
    pthread_join(writer, NULL);
    for (unsigned i = 0; i < CC_READERS; i++)
        pthread_join(readers[i], NULL);
    pthread_barrier_destroy(&cc_start);

    for (unsigned i = 0; i < CC_READERS; i++)
        assert_int_equal(rargs[i].bad, 0);
    assert_true(wargs.changes > 0);
    assert_true(ac_node_settings_generation(s) == g0 + wargs.changes);
}

#define C(f) cmocka_unit_test_setup_teardown(f, cache_setup, cache_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_every_type_name_and_names_it_back),
        cmocka_unit_test(rejects_unknown_type_names),
        cmocka_unit_test(names_an_out_of_range_type_unknown),
        cmocka_unit_test(accepts_keys_of_letters_digits_underscore_dot_and_dash),
        cmocka_unit_test(accepts_key_of_255_chars),
        cmocka_unit_test(rejects_key_of_256_chars),
        cmocka_unit_test(rejects_empty_key),
        cmocka_unit_test(rejects_keys_with_characters_outside_the_set),
        cmocka_unit_test(accepts_valid_utf8_strings),
        cmocka_unit_test(rejects_bad_utf8),
        cmocka_unit_test(rejects_bad_utf8_for_every_type),
        cmocka_unit_test(accepts_value_of_the_maximum_length),
        cmocka_unit_test(rejects_value_one_byte_over_the_maximum),
        cmocka_unit_test(accepts_decimal_int64_values),
        cmocka_unit_test(rejects_malformed_integers),
        cmocka_unit_test(accepts_finite_floats),
        cmocka_unit_test(rejects_non_finite_and_malformed_floats),
        cmocka_unit_test(accepts_true_and_false_only_as_booleans),
        cmocka_unit_test(accepts_json_values_of_any_kind),
        cmocka_unit_test(rejects_malformed_json),
        cmocka_unit_test(accepts_json_nested_32_levels),
        cmocka_unit_test(rejects_json_nested_deeper_than_32_levels),
        cmocka_unit_test(rejects_values_of_an_unknown_type),
        cmocka_unit_test(flags_keys_containing_a_secret_word_in_any_case),
        cmocka_unit_test(flags_registry_sensitive_and_fixed_keys),
        cmocka_unit_test(does_not_flag_ordinary_keys),
        cmocka_unit_test(masks_empty_value_as_empty),
        cmocka_unit_test(masks_short_values_with_one_star_per_char),
        cmocka_unit_test(masks_longer_values_to_first_4_stars_and_last_4),
        cmocka_unit_test(keeps_its_own_copy_of_the_settings_key),
        C(starts_empty_at_generation_zero),
        C(returns_enoent_from_every_getter_for_an_absent_key),
        C(returns_a_copy_of_a_string_value),
        C(reads_typed_values),
        C(reads_false_as_false),
        C(returns_etype_when_the_value_does_not_parse_as_requested),
        C(returns_the_stored_error_of_an_unreadable_entry),
        C(reads_an_entry_without_value_as_absent),
        C(falls_back_when_an_integer_is_absent_or_unusable),
        C(falls_back_when_a_boolean_is_absent_or_unusable),
        C(replaces_an_entry_put_twice),
        C(lists_entries_ordered_by_key),
        C(keeps_many_entries_findable),
        C(removes_an_entry),
        C(ignores_removal_of_an_absent_key),
        C(replace_all_swaps_the_whole_content),
        C(replace_all_with_no_rows_empties_the_cache_and_accepts_new_entries),
        C(lists_one_category),
        C(lists_entries_without_category_as_general),
        C(masks_sensitive_values_in_listings),
        C(describes_one_entry_masked_when_sensitive),
        C(describes_an_absent_key_as_enoent_with_an_empty_row),
        C(counts_every_change_in_the_generation),
        C(serves_concurrent_readers_while_one_writer_churns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
