/* tests/unit/skills/test_llm_wire.c - skills/llm_wire.c: each provider's request byte for byte (URL, headers, body;
 * with and without a system prompt; options), every refusal of a configuration or a prompt, the reading of each
 * format's answers, errors and malformed bodies, Gemini's 429 classification both ways, the error excerpt (200
 * bytes, UTF-8 boundary, control characters) and the scrubbing of a key. Last, each format against
 * tests/support/fake_llm.py through skills/http.c: what we send, the fake (a stand-in for the real APIs) accepts,
 * and what it answers, we read. */
#include "skills/http.h"
#include "skills/llm_wire.h"
#include "skills/skill.h"
#include "tests/support/fake_llm.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- helpers ------------------------------------------------------------------------------------------------------ */

static ac_skills_llm_wire_provider_t prov(ac_skills_llm_type_t t, const char *base, const char *model, const char *key)
{
    ac_skills_llm_wire_provider_t p = {.type = t, .base_url = base, .model = model, .api_key = key};
    return p;
}

static json_t *js(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (j == NULL)
        fail_msg("bad JSON in the test: %s", e.text);
    return j;
}

static void assert_header(const ac_skills_llm_wire_req_t *r, size_t i, const char *name, const char *value)
{
    assert_true(i < r->n_headers);
    assert_string_equal(r->headers[i].name, name);
    assert_string_equal(r->headers[i].value, value);
}

static void assert_body(const ac_skills_llm_wire_req_t *r, const char *body)
{
    assert_non_null(r->body);
    assert_string_equal(r->body, body);
    assert_int_equal(r->body_len, strlen(body));
}

/* Builds and expects a refusal with code rc and a message containing want; the request owns nothing after it. */
static void refused(const ac_skills_llm_wire_provider_t *p, const char *system, const char *prompt, int rc,
                    const char *want)
{
    ac_skills_llm_wire_req_t r;
    memset(&r, 0x5a, sizeof(r));
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_skills_llm_wire_build(p, system, prompt, &r, &err), rc);
    if (strstr(err.msg, want) == NULL)
        fail_msg("error \"%s\" does not say \"%s\"", err.msg, want);
    assert_null(r.url);
    assert_null(r.body);
    assert_int_equal(r.n_headers, 0);
    assert_int_equal(r.body_len, 0);
    if (p->api_key != NULL && strlen(p->api_key) >= 4)
        assert_null(strstr(err.msg, p->api_key));
}

typedef struct {
    ac_skills_llm_wire_outcome_t oc;
    char *text;
    ac_errmsg_t err;
} parsed_t;

static parsed_t parse_n(ac_skills_llm_type_t t, long status, const char *body, size_t len)
{
    parsed_t p = {.oc = 99, .text = (char *)"unset"};
    strcpy(p.err.msg, "stale");
    p.oc = ac_skills_llm_wire_parse(t, status, body, len, &p.text, &p.err);
    if (p.oc == AC_SKILLS_LLM_WIRE_OK) {
        assert_non_null(p.text);
        assert_string_equal(p.err.msg, "");
    } else {
        assert_null(p.text);
        assert_true(p.err.msg[0] != '\0');
    }
    return p;
}

static parsed_t parse_s(ac_skills_llm_type_t t, long status, const char *body)
{
    return parse_n(t, status, body, strlen(body));
}

/* Expects OK with text. */
static void parses_to(ac_skills_llm_type_t t, const char *body, const char *text)
{
    parsed_t p = parse_s(t, 200, body);
    assert_int_equal(p.oc, AC_SKILLS_LLM_WIRE_OK);
    assert_string_equal(p.text, text);
    free(p.text);
}

/* Expects outcome oc with exactly the error msg. */
static void parses_err(ac_skills_llm_type_t t, long status, const char *body, ac_skills_llm_wire_outcome_t oc,
                       const char *msg)
{
    parsed_t p = parse_s(t, status, body);
    assert_int_equal(p.oc, oc);
    assert_string_equal(p.err.msg, msg);
}

/* ---- types -------------------------------------------------------------------------------------------------------- */

static void types_parse_and_name(void **state)
{
    (void)state;
    static const char *const names[] = {"openai_compatible", "ollama", "gemini", "anthropic", "custom"};
    for (size_t i = 0; i < 5; i++) {
        ac_skills_llm_type_t t;
        assert_int_equal(ac_skills_llm_type_parse(names[i], &t), 0);
        assert_string_equal(ac_skills_llm_type_name(t), names[i]);
    }
    ac_skills_llm_type_t t = AC_SKILLS_LLM_OLLAMA;
    assert_int_equal(ac_skills_llm_type_parse("Gemini", &t), -AC_EINVAL);
    assert_int_equal(ac_skills_llm_type_parse("openai", &t), -AC_EINVAL);
    assert_int_equal(ac_skills_llm_type_parse("", &t), -AC_EINVAL);
    assert_int_equal(ac_skills_llm_type_parse(NULL, &t), -AC_EINVAL);
    assert_int_equal(t, AC_SKILLS_LLM_OLLAMA);
    assert_true(ac_skills_llm_type_is_cloud(AC_SKILLS_LLM_GEMINI));
    assert_true(ac_skills_llm_type_is_cloud(AC_SKILLS_LLM_ANTHROPIC));
    assert_false(ac_skills_llm_type_is_cloud(AC_SKILLS_LLM_OLLAMA));
    assert_false(ac_skills_llm_type_is_cloud(AC_SKILLS_LLM_OPENAI_COMPATIBLE));
    assert_false(ac_skills_llm_type_is_cloud(AC_SKILLS_LLM_CUSTOM));
    assert_true(ac_skills_llm_type_needs_key(AC_SKILLS_LLM_GEMINI));
    assert_true(ac_skills_llm_type_needs_key(AC_SKILLS_LLM_ANTHROPIC));
    assert_false(ac_skills_llm_type_needs_key(AC_SKILLS_LLM_OLLAMA));
    assert_false(ac_skills_llm_type_needs_key(AC_SKILLS_LLM_CUSTOM));
}

/* ---- requests ----------------------------------------------------------------------------------------------------- */

static void anthropic_request(void **state)
{
    (void)state;
    ac_skills_llm_wire_provider_t p = prov(AC_SKILLS_LLM_ANTHROPIC, NULL, "claude-haiku-4-5-20251001", "sk-ant-k1");
    ac_skills_llm_wire_req_t r;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_skills_llm_wire_build(&p, NULL, "Hi \"there\"\n", &r, &err), 0);
    assert_string_equal(r.url, "https://api.anthropic.com/v1/messages");
    assert_int_equal(r.n_headers, 3);
    assert_header(&r, 0, "x-api-key", "sk-ant-k1");
    assert_header(&r, 1, "anthropic-version", "2023-06-01");
    assert_header(&r, 2, "content-type", "application/json");
    assert_body(&r, "{\"model\":\"claude-haiku-4-5-20251001\",\"max_tokens\":4096,\"messages\":[{\"role\":\"user\","
                    "\"content\":\"Hi \\\"there\\\"\\n\"}]}");
    ac_skills_llm_wire_req_free(&r);
    assert_null(r.url);

    /* with a system prompt, another base URL (trailing slash dropped), UTF-8 sent as is; "" system is none */
    p.base_url = "http://127.0.0.1:8080/";
    assert_int_equal(ac_skills_llm_wire_build(&p, "Be brief. ☕", "Grüße", &r, &err), 0);
    assert_string_equal(r.url, "http://127.0.0.1:8080/v1/messages");
    assert_body(&r, "{\"model\":\"claude-haiku-4-5-20251001\",\"max_tokens\":4096,\"messages\":[{\"role\":\"user\","
                    "\"content\":\"Grüße\"}],\"system\":\"Be brief. ☕\"}");
    ac_skills_llm_wire_req_free(&r);
    assert_int_equal(ac_skills_llm_wire_build(&p, "", "x", &r, &err), 0);
    assert_null(strstr(r.body, "system"));
    ac_skills_llm_wire_req_free(&r);
    /* options and headers do not apply to anthropic */
    json_t *h = js("{\"X-Extra\": \"1\"}"), *o = js("{\"temperature\": 0.5}");
    p.headers = h;
    p.options = o;
    assert_int_equal(ac_skills_llm_wire_build(&p, NULL, "x", &r, &err), 0);
    assert_int_equal(r.n_headers, 3);
    assert_null(strstr(r.body, "temperature"));
    ac_skills_llm_wire_req_free(&r);
    json_decref(h);
    json_decref(o);
}

static void gemini_request(void **state)
{
    (void)state;
    ac_skills_llm_wire_provider_t p = prov(AC_SKILLS_LLM_GEMINI, NULL, "gemini-2.0-flash", "AIza_k-1.~");
    ac_skills_llm_wire_req_t r;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_skills_llm_wire_build(&p, NULL, "What is 2+2?", &r, &err), 0);
    assert_string_equal(r.url, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:"
                               "generateContent");
    assert_int_equal(r.n_headers, 2);
    assert_header(&r, 0, "x-goog-api-key", "AIza_k-1.~");
    assert_header(&r, 1, "content-type", "application/json");
    assert_body(&r, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"What is 2+2?\"}]}]}");
    ac_skills_llm_wire_req_free(&r);

    /* the model percent-encoded (it cannot add a parameter or a path segment); the key never in the URL */
    p.model = "models/x y?key=1";
    p.api_key = "a b&c=d/é";
    p.base_url = "http://127.0.0.1:9000//";
    assert_int_equal(ac_skills_llm_wire_build(&p, "sys", "P", &r, &err), 0);
    assert_string_equal(r.url, "http://127.0.0.1:9000/v1beta/models/models%2Fx%20y%3Fkey%3D1:generateContent");
    assert_header(&r, 0, "x-goog-api-key", "a b&c=d/é");
    assert_body(&r, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"P\"}]}],\"systemInstruction\":"
                    "{\"parts\":[{\"text\":\"sys\"}]}}");
    ac_skills_llm_wire_req_free(&r);
}

static void ollama_request(void **state)
{
    (void)state;
    ac_skills_llm_wire_provider_t p = prov(AC_SKILLS_LLM_OLLAMA, "http://localhost:11434/", "llama3.2", NULL);
    ac_skills_llm_wire_req_t r;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_skills_llm_wire_build(&p, NULL, "hello", &r, &err), 0);
    assert_string_equal(r.url, "http://localhost:11434/api/chat");
    assert_int_equal(r.n_headers, 1);
    assert_header(&r, 0, "content-type", "application/json");
    assert_body(&r,
                "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"stream\":false}");
    ac_skills_llm_wire_req_free(&r);

    /* options minus nulls, in their order, values as they are; the system message first */
    json_t *o = js("{\"temperature\": 0.25, \"num_ctx\": null, \"num_predict\": 256, \"stop\": [\"x\"], "
                   "\"thinking\": false}");
    p.options = o;
    p.api_key = "ignored-key";
    assert_int_equal(ac_skills_llm_wire_build(&p, "S", "U", &r, &err), 0);
    assert_int_equal(r.n_headers, 1);
    assert_body(&r, "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\","
                    "\"content\":\"U\"}],\"stream\":false,\"options\":{\"temperature\":0.25,\"num_predict\":256,"
                    "\"stop\":[\"x\"],\"thinking\":false}}");
    ac_skills_llm_wire_req_free(&r);
    json_decref(o);

    /* options that are all null, or empty, are omitted; a JSON null is no options */
    static const char *const empties[] = {"{\"a\": null, \"b\": null}", "{}", "null"};
    for (size_t i = 0; i < 3; i++) {
        o = js(empties[i]);
        p.options = o;
        assert_int_equal(ac_skills_llm_wire_build(&p, NULL, "hello", &r, &err), 0);
        assert_body(
            &r, "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"stream\":false}");
        ac_skills_llm_wire_req_free(&r);
        json_decref(o);
    }
}

static void openai_request(void **state)
{
    (void)state;
    ac_skills_llm_wire_provider_t p = prov(AC_SKILLS_LLM_OPENAI_COMPATIBLE, "http://localhost:1234", "default", NULL);
    ac_skills_llm_wire_req_t r;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_skills_llm_wire_build(&p, NULL, "hello", &r, &err), 0);
    assert_string_equal(r.url, "http://localhost:1234/v1/chat/completions");
    assert_int_equal(r.n_headers, 1); /* no key: no authorization */
    assert_header(&r, 0, "content-type", "application/json");
    assert_body(&r,
                "{\"model\":\"default\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"stream\":false}");
    ac_skills_llm_wire_req_free(&r);

    /* the provider's headers, then the key, then the content type; options mapped, num_predict -> max_tokens,
     * thinking false -> chat_template_kwargs, other options not sent */
    json_t *h = js("{\"X-Title\": \"AlexClaw\", \"HTTP-Referer\": \"https://example.org\\tx\"}");
    json_t *o = js("{\"num_ctx\": 8192, \"top_p\": 0.5, \"num_predict\": 128, \"thinking\": false, "
                   "\"temperature\": 0.25, \"seed\": 1}");
    p.type = AC_SKILLS_LLM_CUSTOM;
    p.headers = h;
    p.options = o;
    p.api_key = "sk-local";
    assert_int_equal(ac_skills_llm_wire_build(&p, "You are terse.", "hello", &r, &err), 0);
    assert_int_equal(r.n_headers, 4);
    assert_header(&r, 0, "X-Title", "AlexClaw");
    assert_header(&r, 1, "HTTP-Referer", "https://example.org\tx");
    assert_header(&r, 2, "authorization", "Bearer sk-local");
    assert_header(&r, 3, "content-type", "application/json");
    assert_body(&r, "{\"model\":\"default\",\"messages\":[{\"role\":\"system\",\"content\":\"You are terse.\"},"
                    "{\"role\":\"user\",\"content\":\"hello\"}],\"stream\":false,\"temperature\":0.25,\"top_p\":0.5,"
                    "\"max_tokens\":128,\"chat_template_kwargs\":{\"enable_thinking\":false}}");
    ac_skills_llm_wire_req_free(&r);
    json_decref(o);

    /* max_tokens wins over num_predict; thinking true (or anything but false) adds nothing; nulls are skipped */
    o = js("{\"max_tokens\": 64, \"num_predict\": 128, \"thinking\": true, \"temperature\": null}");
    p.options = o;
    assert_int_equal(ac_skills_llm_wire_build(&p, NULL, "hello", &r, &err), 0);
    assert_body(&r, "{\"model\":\"default\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"stream\":false,"
                    "\"max_tokens\":64}");
    ac_skills_llm_wire_req_free(&r);
    json_decref(o);
    o = js("{\"max_tokens\": null, \"num_predict\": 32, \"thinking\": 0}");
    p.options = o;
    assert_int_equal(ac_skills_llm_wire_build(&p, NULL, "hello", &r, &err), 0);
    assert_body(&r, "{\"model\":\"default\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"stream\":false,"
                    "\"max_tokens\":32}");
    ac_skills_llm_wire_req_free(&r);
    json_decref(o);
    json_decref(h);

    /* a Content-Type of the provider's replaces ours */
    h = js("{\"Content-Type\": \"application/json; charset=utf-8\"}");
    p.headers = h;
    p.options = NULL;
    p.api_key = "";
    assert_int_equal(ac_skills_llm_wire_build(&p, NULL, "hello", &r, &err), 0);
    assert_int_equal(r.n_headers, 1);
    assert_header(&r, 0, "Content-Type", "application/json; charset=utf-8");
    ac_skills_llm_wire_req_free(&r);
    json_decref(h);
}

static void refuses_missing_key_and_host(void **state)
{
    (void)state;
    ac_skills_llm_wire_provider_t p = prov(AC_SKILLS_LLM_ANTHROPIC, NULL, "m", NULL);
    refused(&p, NULL, "x", -AC_ECONFIG, "api_key_not_set");
    p.api_key = "";
    refused(&p, NULL, "x", -AC_ECONFIG, "api_key_not_set");
    p.type = AC_SKILLS_LLM_GEMINI;
    refused(&p, NULL, "x", -AC_ECONFIG, "api_key_not_set");
    p = prov(AC_SKILLS_LLM_OLLAMA, NULL, "m", "k");
    refused(&p, NULL, "x", -AC_ECONFIG, "host_not_set");
    p.base_url = "";
    refused(&p, NULL, "x", -AC_ECONFIG, "host_not_set");
    p.type = AC_SKILLS_LLM_OPENAI_COMPATIBLE;
    refused(&p, NULL, "x", -AC_ECONFIG, "host_not_set");
    p.type = AC_SKILLS_LLM_CUSTOM;
    refused(&p, NULL, "x", -AC_ECONFIG, "host_not_set");
    /* a key with a control character could split a header line; the message never shows it */
    p = prov(AC_SKILLS_LLM_ANTHROPIC, NULL, "m", "sk-ant-evil\r\nX-Injected: 1");
    refused(&p, NULL, "x", -AC_ECONFIG, "API key");
    p = prov(AC_SKILLS_LLM_OPENAI_COMPATIBLE, "http://h", "m", "sk-\n");
    refused(&p, NULL, "x", -AC_ECONFIG, "API key");
}

static void refuses_bad_hosts(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "localhost:11434", "ftp://h",          "file:///etc/passwd", "http://",
        "http:///x",       "http://user:pw@h", "http://user@h:1/",   "http://h/?q=1",
        "http://h?",       "http://h/#frag",   "http://h x",         "http://h\n",
        "http://h:0",      "http://h:65536",   "http://h:",          "http://h:12a",
        "http://[::1",     "http://[]/",       "http://[::1]x",      "http://hé",
        "http://h/\"",     "http://h\\@evil",  " http://h",          "javascript:alert(1)",
        "http://h/{x}",    "http://h%00",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_skills_llm_wire_provider_t p = prov(AC_SKILLS_LLM_OLLAMA, bad[i], "m", NULL);
        ac_skills_llm_wire_req_t r;
        ac_errmsg_t err = {{0}};
        int rc = ac_skills_llm_wire_build(&p, NULL, "x", &r, &err);
        if (rc != -AC_ECONFIG)
            fail_msg("host \"%s\" was not refused (%d)", bad[i], rc);
        assert_null(r.url);
        /* the same check for a cloud API's base URL; the message names neither the URL nor the key */
        p = prov(AC_SKILLS_LLM_GEMINI, bad[i], "m", "secret-key-1");
        refused(&p, NULL, "x", -AC_ECONFIG, "base URL");
    }
    char longurl[2100] = "http://h/";
    memset(longurl + 9, 'a', sizeof(longurl) - 10);
    longurl[sizeof(longurl) - 1] = '\0';
    ac_skills_llm_wire_provider_t p = prov(AC_SKILLS_LLM_OLLAMA, longurl, "m", NULL);
    refused(&p, NULL, "x", -AC_ECONFIG, "longer");

    /* and some that are fine */
    static const struct {
        const char *in, *url;
    } good[] = {
        {"HTTP://Host.example:8080/", "http://Host.example:8080/api/chat"},
        {"https://[::1]:11434", "https://[::1]:11434/api/chat"},
        {"http://10.0.0.2/ollama/", "http://10.0.0.2/ollama/api/chat"},
        {"http://my_host", "http://my_host/api/chat"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        p = prov(AC_SKILLS_LLM_OLLAMA, good[i].in, "m", NULL);
        ac_skills_llm_wire_req_t r;
        ac_errmsg_t err = {{0}};
        assert_int_equal(ac_skills_llm_wire_build(&p, NULL, "x", &r, &err), 0);
        assert_string_equal(r.url, good[i].url);
        ac_skills_llm_wire_req_free(&r);
    }
}

static void refuses_bad_headers(void **state)
{
    (void)state;
    static const struct {
        const char *headers, *why;
    } bad[] = {
        {"{\"Authorization\": \"Bearer other\"}", "Authorization may not be set by hand"},
        {"{\"authorization\": \"x\"}", "authorization may not be set by hand"},
        {"{\"AUTHORIZATION\": \"x\"}", "may not be set by hand"},
        {"{\"Content-Length\": \"5\"}", "Content-Length may not be set by hand"},
        {"{\"host\": \"evil\"}", "host may not be set by hand"},
        {"{\"Transfer-Encoding\": \"chunked\"}", "Transfer-Encoding may not be set by hand"},
        {"{\"X Bad\": \"v\"}", "not a valid token"},
        {"{\"X:Bad\": \"v\"}", "not a valid token"},
        {"{\"\": \"v\"}", "not a valid token"},
        {"{\"X-A\": \"v\\r\\nX-Injected: 1\"}", "value of X-A"},
        {"{\"X-A\": \"v\\u0000w\"}", "value of X-A"},
        {"{\"X-A\": 5}", "value of X-A"},
        {"{\"X-A\": null}", "value of X-A"},
        {"[\"X-A\"]", "object of strings"},
        {"\"X-A: 1\"", "object of strings"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *h = json_loads(bad[i].headers, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
        assert_non_null(h);
        ac_skills_llm_wire_provider_t p = prov(AC_SKILLS_LLM_OPENAI_COMPATIBLE, "http://h", "m", "sk-secret-9");
        p.headers = h;
        refused(&p, NULL, "x", -AC_ECONFIG, bad[i].why);
        json_decref(h);
    }
    /* the error never shows a value */
    json_t *h = js("{\"X-Secret\": \"hunter2-value\\n\"}");
    ac_skills_llm_wire_provider_t p = prov(AC_SKILLS_LLM_OPENAI_COMPATIBLE, "http://h", "m", NULL);
    p.headers = h;
    ac_skills_llm_wire_req_t r;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_skills_llm_wire_build(&p, NULL, "x", &r, &err), -AC_ECONFIG);
    assert_null(strstr(err.msg, "hunter2"));
    json_decref(h);
    /* 16 headers are fine, 17 are not */
    h = json_object();
    for (int i = 0; i < 16; i++) {
        char name[16];
        snprintf(name, sizeof(name), "X-H%d", i);
        json_object_set_new(h, name, json_string("v"));
    }
    p.headers = h;
    assert_int_equal(ac_skills_llm_wire_build(&p, NULL, "x", &r, &err), 0);
    assert_int_equal(r.n_headers, 17);
    ac_skills_llm_wire_req_free(&r);
    p.api_key = "k-123";
    assert_int_equal(ac_skills_llm_wire_build(&p, NULL, "x", &r, &err), 0);
    assert_int_equal(r.n_headers, 18);
    ac_skills_llm_wire_req_free(&r);
    json_object_set_new(h, "X-H16", json_string("v"));
    refused(&p, NULL, "x", -AC_ECONFIG, "more than 16 headers");
    json_decref(h);
    /* options must be an object */
    json_t *o = js("[1, 2]");
    p.headers = NULL;
    p.options = o;
    refused(&p, NULL, "x", -AC_ECONFIG, "options must be an object");
    json_decref(o);
}

static void refuses_bad_prompts(void **state)
{
    (void)state;
    ac_skills_llm_wire_provider_t p = prov(AC_SKILLS_LLM_ANTHROPIC, NULL, "m", "sk-ant-1");
    refused(&p, NULL, NULL, -AC_EINVAL, "no prompt");
    refused(&p, NULL, "caf\xe9", -AC_EINVAL, "UTF-8");
    refused(&p, "\xc0\x80", "ok", -AC_EINVAL, "UTF-8");
    refused(&p, NULL, "\xed\xa0\x80", -AC_EINVAL, "UTF-8"); /* a surrogate */
    p.model = "";
    refused(&p, NULL, "x", -AC_EINVAL, "no model");
    p.model = NULL;
    refused(&p, NULL, "x", -AC_EINVAL, "no model");
    p.model = "bad\nmodel";
    refused(&p, NULL, "x", -AC_EINVAL, "model");
    char longmodel[300];
    memset(longmodel, 'm', sizeof(longmodel) - 1);
    longmodel[sizeof(longmodel) - 1] = '\0';
    p.model = longmodel;
    refused(&p, NULL, "x", -AC_EINVAL, "model");
}

static void prompt_size_limit(void **state)
{
    (void)state;
    ac_skills_llm_wire_provider_t p = prov(AC_SKILLS_LLM_OLLAMA, "http://h", "m", NULL);
    size_t max = AC_SKILLS_LLM_PROMPT_MAX;
    char *big = malloc(max + 2);
    memset(big, 'a', max + 1);
    big[max + 1] = '\0';
    refused(&p, NULL, big, -AC_EINVAL, "exceed");
    big[max] = '\0'; /* exactly the limit */
    ac_skills_llm_wire_req_t r;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_skills_llm_wire_build(&p, NULL, big, &r, &err), 0);
    ac_skills_llm_wire_req_free(&r);
    /* prompt and system together */
    big[max - 10] = '\0';
    refused(&p, "01234567890", big, -AC_EINVAL, "exceed");
    assert_int_equal(ac_skills_llm_wire_build(&p, "0123456789", big, &r, &err), 0);
    ac_skills_llm_wire_req_free(&r);
    free(big);
    /* a NULL provider */
    assert_int_equal(ac_skills_llm_wire_build(NULL, NULL, "x", &r, &err), -AC_EINVAL);
    assert_null(r.url);
}

/* ---- responses ---------------------------------------------------------------------------------------------------- */

static void parses_anthropic(void **state)
{
    (void)state;
    const ac_skills_llm_type_t t = AC_SKILLS_LLM_ANTHROPIC;
    parses_to(
        t,
        "{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"Hello ☕\\nworld\"}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":3,"
        "\"output_tokens\":4}}",
        "Hello ☕\nworld");
    parses_to(t, "{\"content\":[{\"type\":\"text\",\"text\":\"\"}]}", "");
    /* extended thinking: the thinking blocks come first and are not the answer; text blocks are joined in order */
    parses_to(t,
              "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"Let me see.\",\"signature\":\"sig\"},"
              "{\"type\":\"redacted_thinking\",\"data\":\"xx\"},{\"type\":\"text\",\"text\":\"Paris\"}]}",
              "Paris");
    parses_to(t,
              "{\"content\":[{\"type\":\"text\",\"text\":\"The answer \"},{\"type\":\"tool_use\",\"id\":\"t\","
              "\"name\":\"x\",\"input\":{}},{\"type\":\"text\",\"text\":\"is 42.\"}]}",
              "The answer is 42.");
    parses_err(t, 401,
               "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}",
               AC_SKILLS_LLM_WIRE_HTTP_ERROR,
               "anthropic: 401: {\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid "
               "x-api-key\"}}");
    /* only Gemini's 429 is classified */
    parses_err(t, 429, "{}", AC_SKILLS_LLM_WIRE_HTTP_ERROR, "anthropic: 429: {}");
    parses_err(t, 529, "", AC_SKILLS_LLM_WIRE_HTTP_ERROR, "anthropic: 529: ");
    parses_err(t, 302, "moved", AC_SKILLS_LLM_WIRE_HTTP_ERROR, "anthropic: 302: moved");
    parses_err(t, 0, "", AC_SKILLS_LLM_WIRE_HTTP_ERROR, "anthropic: 0: ");
    static const char *const malformed[] = {
        "<html>oops</html>",
        "",
        "{\"content\":[]}",
        "{\"content\":{}}",
        "{\"content\":[{\"type\":\"text\"}]}",
        "{\"content\":[{\"type\":\"text\",\"text\":5}]}",
        "{\"content\":[{\"type\":\"text\",\"text\":null}]}",
        "{\"content\":[\"text\"]}",
        "{\"text\":\"hi\"}",
        "[]",
        "{\"content\":[{\"text\":\"a\"}]} trailing",
        "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"only thinking\"}]}",
        "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\"},{\"type\":\"text\",\"text\":\"a\\u0000b\"}]}",
        "{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":[]}]}",
        "{\"content\":[{\"type\":5,\"text\":\"a\"}]}",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        parsed_t p = parse_s(t, 200, malformed[i]);
        assert_int_equal(p.oc, AC_SKILLS_LLM_WIRE_MALFORMED);
        assert_non_null(strstr(p.err.msg, "anthropic: malformed_response: "));
    }
    parses_err(t, 200, "not json", AC_SKILLS_LLM_WIRE_MALFORMED, "anthropic: malformed_response: not JSON");
}

static void parses_gemini(void **state)
{
    (void)state;
    const ac_skills_llm_type_t t = AC_SKILLS_LLM_GEMINI;
    parses_to(
        t,
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Four.\"},{\"text\":\"ignored\"}],\"role\":\"model\"},"
        "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":5,"
        "\"candidatesTokenCount\":1,\"totalTokenCount\":6}}",
        "Four.");
    parses_err(t, 200, "{\"candidates\":[]}", AC_SKILLS_LLM_WIRE_MALFORMED,
               "gemini: malformed_response: no candidates");
    parses_err(t, 200, "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}", AC_SKILLS_LLM_WIRE_MALFORMED,
               "gemini: malformed_response: no candidates");
    static const char *const malformed[] = {
        "{\"candidates\":[{\"finishReason\":\"SAFETY\"}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[]}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"inlineData\":{}}]}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":{\"text\":\"x\"}}}]}",
        "{\"candidates\":{\"content\":{}}}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":[\"x\"]}]}}]}",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        parsed_t p = parse_s(t, 200, malformed[i]);
        assert_int_equal(p.oc, AC_SKILLS_LLM_WIRE_MALFORMED);
        assert_non_null(strstr(p.err.msg, "gemini: malformed_response: "));
    }
    parses_err(t, 400,
               "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a valid API key.\",\"status\":"
               "\"INVALID_ARGUMENT\"}}",
               AC_SKILLS_LLM_WIRE_HTTP_ERROR,
               "gemini: 400: {\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a valid API key.\","
               "\"status\":\"INVALID_ARGUMENT\"}}");
    parses_err(t, 503, "{}", AC_SKILLS_LLM_WIRE_HTTP_ERROR, "gemini: 503: {}");
}

static void gemini_429_quota_or_retry(void **state)
{
    (void)state;
    const ac_skills_llm_type_t t = AC_SKILLS_LLM_GEMINI;
    /* RESOURCE_EXHAUSTED and no detail with retryDelay: the quota is spent */
    static const char *const quota[] = {
        "{\"error\":{\"code\":429,\"message\":\"Quota exceeded\",\"status\":\"RESOURCE_EXHAUSTED\"}}",
        "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[]}}",
        "{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc."
        "QuotaFailure\",\"violations\":[{\"quotaId\":\"GenerateRequestsPerDayPerProjectPerModel-FreeTier\"}]},"
        "{\"@type\":\"type.googleapis.com/google.rpc.Help\"}]}}",
        "{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[\"retryDelay\", 5, null]}}",
        "{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\",\"details\":{\"retryDelay\":\"5s\"}}}",
    };
    for (size_t i = 0; i < sizeof(quota) / sizeof(quota[0]); i++) {
        parsed_t p = parse_s(t, 429, quota[i]);
        assert_int_equal(p.oc, AC_SKILLS_LLM_WIRE_QUOTA);
        assert_true(strncmp(p.err.msg,
                            "gemini_quota_exhausted: {\"error\":", strlen("gemini_quota_exhausted: {\"error\":")) == 0);
    }
    parses_err(t, 429, quota[0], AC_SKILLS_LLM_WIRE_QUOTA,
               "gemini_quota_exhausted: {\"error\":{\"code\":429,"
               "\"message\":\"Quota exceeded\",\"status\":\"RESOURCE_EXHAUSTED\"}}");
    /* a retryDelay anywhere in details, another status, or no JSON at all: retry */
    static const char *const retry[] = {
        "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis.com/"
        "google.rpc.QuotaFailure\"},{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"38s\"}]}}",
        "{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"retryDelay\":null}]}}",
        "{\"error\":{\"code\":429,\"status\":\"UNAVAILABLE\"}}",
        "{\"error\":{\"code\":429,\"status\":\"resource_exhausted\"}}",
        "{\"status\":\"RESOURCE_EXHAUSTED\"}",
        "Too Many Requests",
        "",
    };
    for (size_t i = 0; i < sizeof(retry) / sizeof(retry[0]); i++) {
        parsed_t p = parse_s(t, 429, retry[i]);
        assert_int_equal(p.oc, AC_SKILLS_LLM_WIRE_RETRY);
        assert_true(strncmp(p.err.msg, "gemini: 429: ", 13) == 0);
    }
    parses_err(t, 429, "Too Many Requests", AC_SKILLS_LLM_WIRE_RETRY, "gemini: 429: Too Many Requests");
}

static void parses_ollama(void **state)
{
    (void)state;
    const ac_skills_llm_type_t t = AC_SKILLS_LLM_OLLAMA;
    parses_to(t,
              "{\"model\":\"llama3.2\",\"created_at\":\"2025-01-01T00:00:00Z\",\"message\":{\"role\":\"assistant\","
              "\"content\":\"Hi!\"},\"done_reason\":\"stop\",\"done\":true,\"eval_count\":2}",
              "Hi!");
    parses_to(t, "{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true}", "");
    parses_err(t, 200, "{\"message\":{\"role\":\"assistant\"}}", AC_SKILLS_LLM_WIRE_MALFORMED,
               "ollama: malformed_response: no text in message.content");
    parses_err(t, 200, "{\"message\":\"hi\"}", AC_SKILLS_LLM_WIRE_MALFORMED,
               "ollama: malformed_response: no text in message.content");
    parses_err(t, 200, "{\"message\":{\"content\":1}}", AC_SKILLS_LLM_WIRE_MALFORMED,
               "ollama: malformed_response: no text in message.content");
    parses_err(t, 404, "{\"error\":\"model \\\"x\\\" not found, try pulling it first\"}", AC_SKILLS_LLM_WIRE_HTTP_ERROR,
               "ollama: 404: {\"error\":\"model \\\"x\\\" not found, try pulling it first\"}");
}

static void parses_openai(void **state)
{
    (void)state;
    const ac_skills_llm_type_t t = AC_SKILLS_LLM_OPENAI_COMPATIBLE;
    parses_to(
        t,
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":"
        "0,\"message\":{\"role\":\"assistant\",\"content\":\"Sure.\"},\"finish_reason\":\"stop\"}],\"usage\":{}}",
        "Sure.");
    /* reasoning_content when content is absent, null or empty */
    parses_to(t, "{\"choices\":[{\"message\":{\"reasoning_content\":\"thought\"}}]}", "thought");
    parses_to(t, "{\"choices\":[{\"message\":{\"content\":null,\"reasoning_content\":\"thought\"}}]}", "thought");
    parses_to(t, "{\"choices\":[{\"message\":{\"content\":\"\",\"reasoning_content\":\"thought\"}}]}", "thought");
    parses_to(t, "{\"choices\":[{\"message\":{\"content\":\"c\",\"reasoning_content\":\"thought\"}}]}", "c");
    /* neither: empty_response, for both OpenAI-compatible types */
    static const char *const empty[] = {
        "{\"choices\":[{\"message\":{\"role\":\"assistant\"}}]}",
        "{\"choices\":[{\"message\":{\"content\":null}}]}",
        "{\"choices\":[{\"message\":{\"content\":\"\",\"reasoning_content\":\"\"}}]}",
        "{\"choices\":[{\"message\":{\"content\":null,\"reasoning_content\":null}}]}",
    };
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        parses_err(t, 200, empty[i], AC_SKILLS_LLM_WIRE_EMPTY, "openai_compat: empty_response");
        parses_err(AC_SKILLS_LLM_CUSTOM, 200, empty[i], AC_SKILLS_LLM_WIRE_EMPTY, "openai_compat: empty_response");
    }
    static const char *const malformed[] = {
        "{\"choices\":[]}",
        "{\"choices\":null}",
        "{}",
        "{\"choices\":[{\"text\":\"legacy\"}]}",
        "{\"choices\":[{\"message\":\"x\"}]}",
        "{\"choices\":[{\"message\":{\"content\":5}}]}",
        "{\"choices\":[{\"message\":{\"content\":null,\"reasoning_content\":[\"x\"]}}]}",
        "data: {\"choices\":[]}",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        parsed_t p = parse_s(AC_SKILLS_LLM_CUSTOM, 200, malformed[i]);
        assert_int_equal(p.oc, AC_SKILLS_LLM_WIRE_MALFORMED);
        assert_non_null(strstr(p.err.msg, "openai_compat: malformed_response: "));
    }
    parses_err(
        t, 401,
        "{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":\"invalid_request_error\",\"param\":null,"
        "\"code\":\"invalid_api_key\"}}",
        AC_SKILLS_LLM_WIRE_HTTP_ERROR,
        "openai_compat: 401: {\"error\":{\"message\":\"Incorrect API key provided\",\"type\":"
        "\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}");
}

static void parse_reads_only_len_bytes(void **state)
{
    (void)state;
    /* not NUL-terminated: the bytes after len are not read */
    const char buf[] = "{\"message\":{\"content\":\"ok\"}}GARBAGE";
    parsed_t p = parse_n(AC_SKILLS_LLM_OLLAMA, 200, buf, strlen(buf) - 7);
    assert_int_equal(p.oc, AC_SKILLS_LLM_WIRE_OK);
    assert_string_equal(p.text, "ok");
    free(p.text);
    char raw[4] = {'a', 'b', 'c', 'd'};
    p = parse_n(AC_SKILLS_LLM_OLLAMA, 500, raw, 2);
    assert_string_equal(p.err.msg, "ollama: 500: ab");
    /* NULL body */
    p = parse_n(AC_SKILLS_LLM_OLLAMA, 200, NULL, 0);
    assert_int_equal(p.oc, AC_SKILLS_LLM_WIRE_MALFORMED);
    assert_string_equal(p.err.msg, "ollama: malformed_response: not JSON");
    p = parse_n(AC_SKILLS_LLM_GEMINI, 429, NULL, 0);
    assert_int_equal(p.oc, AC_SKILLS_LLM_WIRE_RETRY);
    /* a NUL inside the text: refused, not cut */
    p = parse_s(AC_SKILLS_LLM_OLLAMA, 200, "{\"message\":{\"content\":\"a\\u0000b\"}}");
    assert_int_equal(p.oc, AC_SKILLS_LLM_WIRE_MALFORMED);
    /* invalid UTF-8 inside JSON: not JSON */
    p = parse_s(AC_SKILLS_LLM_OLLAMA, 200, "{\"message\":{\"content\":\"caf\xe9\"}}");
    assert_int_equal(p.oc, AC_SKILLS_LLM_WIRE_MALFORMED);
    /* err may be NULL */
    char *text = (char *)"x";
    assert_int_equal(ac_skills_llm_wire_parse(AC_SKILLS_LLM_OLLAMA, 500, "x", 1, &text, NULL),
                     AC_SKILLS_LLM_WIRE_HTTP_ERROR);
    assert_null(text);
}

static void error_excerpt(void **state)
{
    (void)state;
    char body[400], want[300];
    /* 200 bytes at most */
    memset(body, 'a', 300);
    body[300] = '\0';
    parsed_t p = parse_s(AC_SKILLS_LLM_OLLAMA, 500, body);
    snprintf(want, sizeof(want), "ollama: 500: %.200s", body);
    assert_string_equal(p.err.msg, want);
    /* a character that would straddle byte 200 is left out whole */
    memset(body, 'b', 199);
    strcpy(body + 199, "é and more");
    p = parse_s(AC_SKILLS_LLM_OLLAMA, 500, body);
    snprintf(want, sizeof(want), "ollama: 500: %.199s", body);
    assert_string_equal(p.err.msg, want);
    memset(body, 'b', 198);
    strcpy(body + 198, "é and more");
    p = parse_s(AC_SKILLS_LLM_OLLAMA, 500, body);
    snprintf(want, sizeof(want), "ollama: 500: %.198sé", body);
    assert_string_equal(p.err.msg, want);
    /* a 4-byte character at the edge */
    memset(body, 'c', 197);
    strcpy(body + 197, "😀x");
    p = parse_s(AC_SKILLS_LLM_OLLAMA, 500, body);
    snprintf(want, sizeof(want), "ollama: 500: %.197s", body);
    assert_string_equal(p.err.msg, want);
    /* control characters (C0, DEL, C1) become spaces, bytes that are not UTF-8 become '?' */
    p = parse_s(AC_SKILLS_LLM_ANTHROPIC, 502, "line1\r\nline2\tx\x1b[31m\x7f\xc2\x85y\xff\xfez\xe2\x82");
    assert_string_equal(p.err.msg, "anthropic: 502: line1  line2 x [31m  y??z??");
    const char nul[] = {'a', '\0', 'b'};
    p = parse_n(AC_SKILLS_LLM_ANTHROPIC, 500, nul, 3);
    assert_string_equal(p.err.msg, "anthropic: 500: a b");
    /* the quota message uses the same excerpt */
    char q[400] = "{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\",\"message\":\"";
    size_t n = strlen(q);
    memset(q + n, 'q', 250);
    strcpy(q + n + 250, "\"}}");
    p = parse_s(AC_SKILLS_LLM_GEMINI, 429, q);
    assert_int_equal(p.oc, AC_SKILLS_LLM_WIRE_QUOTA);
    snprintf(want, sizeof(want), "gemini_quota_exhausted: %.200s", q);
    assert_string_equal(p.err.msg, want);
}

static void scrub(void **state)
{
    (void)state;
    char s[128];
    strcpy(s, "key=SECRET1234&x=SECRET1234SECRET1234.");
    ac_skills_llm_wire_scrub(s, sizeof(s), "SECRET1234");
    assert_string_equal(s, "key=[redacted]&x=[redacted][redacted].");
    /* no secret, or one shorter than 4 bytes: nothing changes */
    strcpy(s, "abc abc");
    ac_skills_llm_wire_scrub(s, sizeof(s), "abc");
    assert_string_equal(s, "abc abc");
    ac_skills_llm_wire_scrub(s, sizeof(s), "");
    ac_skills_llm_wire_scrub(s, sizeof(s), NULL);
    assert_string_equal(s, "abc abc");
    strcpy(s, "abcd");
    ac_skills_llm_wire_scrub(s, sizeof(s), "abcd");
    assert_string_equal(s, "[redacted]");
    /* a text ending inside the key (an excerpt cut at 200 bytes) loses that part too, from 4 bytes on */
    strcpy(s, "gemini: 400: {\"key\":\"AIzaSyA1");
    ac_skills_llm_wire_scrub(s, sizeof(s), "AIzaSyA1B2C3D4");
    assert_string_equal(s, "gemini: 400: {\"key\":\"[redacted]");
    strcpy(s, "tail AIz");
    ac_skills_llm_wire_scrub(s, sizeof(s), "AIzaSyA1B2C3D4");
    assert_string_equal(s, "tail AIz");
    /* the result is cut to the buffer, on a UTF-8 boundary */
    char small[16];
    strcpy(small, "é KEY1 KEY1");
    ac_skills_llm_wire_scrub(small, sizeof(small), "KEY1");
    assert_string_equal(small, "é [redacted] ["); /* 15 bytes and the NUL */
    char tiny[13];
    strcpy(tiny, "ab KEY1 é");
    ac_skills_llm_wire_scrub(tiny, sizeof(tiny), "KEY1");
    assert_string_equal(tiny, "ab [redacted");
    char utf[14];
    strcpy(utf, "KEY1éé");
    ac_skills_llm_wire_scrub(utf, sizeof(utf), "KEY1");
    assert_string_equal(utf, "[redacted]é"); /* 12 bytes: the next é would need 14 */
    /* a buffer not terminated within cap is terminated */
    char unterminated[8];
    memset(unterminated, 'x', sizeof(unterminated));
    ac_skills_llm_wire_scrub(unterminated, sizeof(unterminated), "KEY1");
    assert_int_equal(strlen(unterminated), 7);
    /* a server's echo of the key, through parse and scrub */
    const char *body = "{\"error\":{\"message\":\"API key sk-live-0123456789 is not valid\"}}";
    parsed_t p = parse_s(AC_SKILLS_LLM_OPENAI_COMPATIBLE, 401, body);
    ac_skills_llm_wire_scrub(p.err.msg, sizeof(p.err.msg), "sk-live-0123456789");
    assert_string_equal(p.err.msg, "openai_compat: 401: {\"error\":{\"message\":\"API key [redacted] is not valid\"}}");
}

/* ---- against the fake providers ----------------------------------------------------------------------------------- */

static ac_fake_llm_t fake;

static int fake_up(void **state)
{
    (void)state;
    ac_fake_llm_start(&fake);
    return 0;
}

static int fake_down(void **state)
{
    (void)state;
    ac_fake_llm_stop(&fake);
    return 0;
}

/* Builds, sends through skills/http.c, parses. OUT: *text (owned) or err. */
static ac_skills_llm_wire_outcome_t exchange(const ac_skills_llm_wire_provider_t *p, const char *system,
                                             const char *prompt, char **text, ac_errmsg_t *err)
{
    ac_skills_llm_wire_req_t r;
    assert_int_equal(ac_skills_llm_wire_build(p, system, prompt, &r, err), 0);
    ac_skills_http_req_t hr = {.method = "POST",
                               .url = r.url,
                               .headers = r.headers,
                               .n_headers = r.n_headers,
                               .body = r.body,
                               .body_len = r.body_len,
                               .deadline_ms = ac_skill_now_ms() + 20000};
    ac_skills_http_resp_t resp;
    int rc = ac_skills_http_request(&hr, &resp);
    ac_skills_llm_wire_req_free(&r);
    if (rc != 0) {
        ac_skills_http_resp_free(&resp);
        *text = NULL;
        snprintf(err->msg, sizeof(err->msg), "transport: %s", resp.error);
        return (ac_skills_llm_wire_outcome_t)-1;
    }
    ac_skills_llm_wire_outcome_t oc =
        ac_skills_llm_wire_parse(p->type, resp.status, resp.body, resp.body_len, text, err);
    ac_skills_http_resp_free(&resp);
    return oc;
}

static json_t *last_request(void)
{
    json_t *all = ac_fake_llm_requests(&fake);
    assert_true(json_array_size(all) > 0);
    json_t *last = json_incref(json_array_get(all, json_array_size(all) - 1));
    json_decref(all);
    return last;
}

static void each_format_against_the_fake(void **state)
{
    (void)state;
    ac_fake_llm_control(&fake, "reset", NULL);
    ac_fake_llm_control(&fake, "keys", "{\"anthropic\": \"sk-ant-1\", \"gemini\": \"g key/1\", \"openai\": \"sk-o\"}");
    static const struct {
        ac_skills_llm_type_t type;
        const char *model, *key, *route, *path;
    } cases[] = {
        {AC_SKILLS_LLM_ANTHROPIC, "claude-x", "sk-ant-1", "anthropic", "/v1/messages"},
        {AC_SKILLS_LLM_GEMINI, "gemini-2.0-flash", "g key/1", "gemini",
         "/v1beta/models/gemini-2.0-flash:generateContent"},
        {AC_SKILLS_LLM_OLLAMA, "llama3.2", NULL, "ollama", "/api/chat"},
        {AC_SKILLS_LLM_OPENAI_COMPATIBLE, "default", "sk-o", "openai", "/v1/chat/completions"},
        {AC_SKILLS_LLM_CUSTOM, "default", "sk-o", "openai", "/v1/chat/completions"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ac_skills_llm_wire_provider_t p = prov(cases[i].type, fake.url, cases[i].model, cases[i].key);
        char *text = NULL;
        ac_errmsg_t err = {{0}};
        ac_skills_llm_wire_outcome_t oc = exchange(&p, "Be brief.", "Grüße, ☕?", &text, &err);
        if (oc != AC_SKILLS_LLM_WIRE_OK)
            fail_msg("%s: %s", cases[i].route, err.msg);
        assert_string_equal(text, "echo: Grüße, ☕?");
        free(text);
        json_t *req = last_request();
        assert_string_equal(json_string_value(json_object_get(req, "route")), cases[i].route);
        assert_string_equal(json_string_value(json_object_get(req, "path")), cases[i].path);
        json_t *h = json_object_get(req, "headers");
        assert_string_equal(json_string_value(json_object_get(h, "content-type")), "application/json");
        if (cases[i].type == AC_SKILLS_LLM_GEMINI) {
            assert_string_equal(json_string_value(json_object_get(req, "query")), "");
            assert_string_equal(json_string_value(json_object_get(h, "x-goog-api-key")), "g key/1");
        }
        json_decref(req);

        /* a wrong key gets the API's own refusal, which we report as an HTTP error */
        if (cases[i].key != NULL) {
            p.api_key = "wrong-key";
            oc = exchange(&p, NULL, "x", &text, &err);
            assert_int_equal(oc, AC_SKILLS_LLM_WIRE_HTTP_ERROR);
            assert_null(text);
            long want = cases[i].type == AC_SKILLS_LLM_GEMINI ? 400 : 401;
            char prefix[64];
            snprintf(prefix, sizeof(prefix), "%s: %ld: {",
                     cases[i].type == AC_SKILLS_LLM_ANTHROPIC ? "anthropic"
                     : cases[i].type == AC_SKILLS_LLM_GEMINI  ? "gemini"
                                                              : "openai_compat",
                     want);
            if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
                fail_msg("%s: \"%s\" does not start with \"%s\"", cases[i].route, err.msg, prefix);
        }
    }
}

static void gemini_429_from_the_fake(void **state)
{
    (void)state;
    ac_fake_llm_control(&fake, "reset", NULL);
    ac_fake_llm_control(&fake, "script",
                        "{\"route\": \"gemini\", \"responses\": [{\"status\": 429}, {\"status\": 429, \"body\": "
                        "{\"error\": {\"code\": 429, \"message\": \"Quota exceeded for metric\", \"status\": "
                        "\"RESOURCE_EXHAUSTED\", \"details\": [{\"@type\": \"type.googleapis.com/google.rpc."
                        "QuotaFailure\"}]}}}, {\"status\": 200, \"text\": \"after\"}]}");
    ac_skills_llm_wire_provider_t p = prov(AC_SKILLS_LLM_GEMINI, fake.url, "gemini-2.0-flash", "k-1");
    char *text = NULL;
    ac_errmsg_t err = {{0}};
    assert_int_equal(exchange(&p, NULL, "x", &text, &err), AC_SKILLS_LLM_WIRE_RETRY);
    assert_int_equal(exchange(&p, NULL, "x", &text, &err), AC_SKILLS_LLM_WIRE_QUOTA);
    assert_non_null(strstr(err.msg, "gemini_quota_exhausted: "));
    assert_int_equal(exchange(&p, NULL, "x", &text, &err), AC_SKILLS_LLM_WIRE_OK);
    assert_string_equal(text, "after");
    free(text);
    /* an OpenAI-compatible server that answers with reasoning only, then nothing */
    ac_fake_llm_control(&fake, "script",
                        "{\"route\": \"openai\", \"responses\": [{\"body\": {\"choices\": [{\"index\": 0, \"message\": "
                        "{\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \"hmm\"}}]}}, "
                        "{\"body\": {\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": "
                        "null}}]}}]}");
    p = prov(AC_SKILLS_LLM_OPENAI_COMPATIBLE, fake.url, "m", NULL);
    assert_int_equal(exchange(&p, NULL, "x", &text, &err), AC_SKILLS_LLM_WIRE_OK);
    assert_string_equal(text, "hmm");
    free(text);
    assert_int_equal(exchange(&p, NULL, "x", &text, &err), AC_SKILLS_LLM_WIRE_EMPTY);
    assert_string_equal(err.msg, "openai_compat: empty_response");
    ac_fake_llm_say(&fake, "ollama", "said");
    p = prov(AC_SKILLS_LLM_OLLAMA, fake.url, "m", NULL);
    assert_int_equal(exchange(&p, NULL, "x", &text, &err), AC_SKILLS_LLM_WIRE_OK);
    assert_string_equal(text, "said");
    free(text);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(types_parse_and_name),
        cmocka_unit_test(anthropic_request),
        cmocka_unit_test(gemini_request),
        cmocka_unit_test(ollama_request),
        cmocka_unit_test(openai_request),
        cmocka_unit_test(refuses_missing_key_and_host),
        cmocka_unit_test(refuses_bad_hosts),
        cmocka_unit_test(refuses_bad_headers),
        cmocka_unit_test(refuses_bad_prompts),
        cmocka_unit_test(prompt_size_limit),
        cmocka_unit_test(parses_anthropic),
        cmocka_unit_test(parses_gemini),
        cmocka_unit_test(gemini_429_quota_or_retry),
        cmocka_unit_test(parses_ollama),
        cmocka_unit_test(parses_openai),
        cmocka_unit_test(parse_reads_only_len_bytes),
        cmocka_unit_test(error_excerpt),
        cmocka_unit_test(scrub),
    };
    const struct CMUnitTest wire[] = {
        cmocka_unit_test(each_format_against_the_fake),
        cmocka_unit_test(gemini_429_from_the_fake),
    };
    int failed = cmocka_run_group_tests_name("llm_wire", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("llm_wire_fake", wire, fake_up, fake_down);
    return failed;
}
