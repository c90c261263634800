/* tests/fuzz/fuzz_llm_wire.c - libFuzzer target for skills/llm_wire.c: arbitrary bytes as a provider's response body
 * (each provider type, statuses 200, 204, 429, 500), as a prompt, and as a provider's host.
 *
 * Invariants (abort() on a violation): an OK answer has text in valid UTF-8 and an empty error; every other outcome
 * has no text and an error that is valid UTF-8 without control characters, starts with the type's name, and is the
 * one the status allows (RETRY and QUOTA only for Gemini's 429, EMPTY only for OpenAI-compatible 2xx, HTTP_ERROR
 * exactly for the other non-2xx); scrubbing the error of a secret leaves no occurrence of it. A prompt builds iff it is
 * valid UTF-8, and then the body is JSON that carries it where the format puts it. A host is refused or gives a URL
 * without userinfo, query, fragment, spaces or control characters. Built as `fuzz_llm_wire` (libFuzzer) and as
 * `replay_llm_wire` (tests/fuzz/replay.c), which runs the seed corpus under ctest. */
#include "policy/utf8.h"
#include "skills/llm_wire.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_llm_wire: invariant violated: %s\n", what);
        abort();
    }
}

static const ac_skills_llm_type_t types[] = {AC_SKILLS_LLM_OPENAI_COMPATIBLE, AC_SKILLS_LLM_OLLAMA,
                                             AC_SKILLS_LLM_GEMINI, AC_SKILLS_LLM_ANTHROPIC, AC_SKILLS_LLM_CUSTOM};

static void parse_one(ac_skills_llm_type_t t, long status, const uint8_t *data, size_t size)
{
    char *text = (char *)"unset";
    ac_errmsg_t err = {{0}};
    ac_skills_llm_wire_outcome_t oc = ac_skills_llm_wire_parse(t, status, (const char *)data, size, &text, &err);
    bool ok2xx = status >= 200 && status <= 299,
         openai = t == AC_SKILLS_LLM_OPENAI_COMPATIBLE || t == AC_SKILLS_LLM_CUSTOM;
    if (oc == AC_SKILLS_LLM_WIRE_OK) {
        check(ok2xx, "OK only for 2xx");
        check(text != NULL && ac_policy_utf8_valid(text, strlen(text)), "the text is UTF-8");
        check(err.msg[0] == '\0', "no error with an answer");
        check(!openai || text[0] != '\0', "openai: an empty answer is EMPTY");
        free(text);
        return;
    }
    check(text == NULL, "no text without an answer");
    size_t n = strlen(err.msg);
    check(n > 0 && ac_policy_utf8_valid(err.msg, n), "the error is UTF-8");
    for (size_t i = 0; i < n; i++)
        check((unsigned char)err.msg[i] >= 0x20 && (unsigned char)err.msg[i] != 0x7f, "no control characters");
    const char *name = openai ? "openai_compat" : ac_skills_llm_type_name(t);
    switch (oc) {
    case AC_SKILLS_LLM_WIRE_RETRY:
        check(t == AC_SKILLS_LLM_GEMINI && status == 429 && strncmp(err.msg, "gemini: 429: ", 13) == 0, "retry");
        break;
    case AC_SKILLS_LLM_WIRE_QUOTA:
        check(t == AC_SKILLS_LLM_GEMINI && status == 429 && strncmp(err.msg, "gemini_quota_exhausted: ", 24) == 0,
              "quota");
        break;
    case AC_SKILLS_LLM_WIRE_HTTP_ERROR:
        check(!ok2xx && !(t == AC_SKILLS_LLM_GEMINI && status == 429), "http error only for other statuses");
        check(strncmp(err.msg, name, strlen(name)) == 0, "http error names the type");
        break;
    case AC_SKILLS_LLM_WIRE_EMPTY:
        check(ok2xx && openai && strcmp(err.msg, "openai_compat: empty_response") == 0, "empty");
        break;
    case AC_SKILLS_LLM_WIRE_MALFORMED:
        check(ok2xx && strncmp(err.msg, name, strlen(name)) == 0 && strstr(err.msg, ": malformed_response: "),
              "malformed");
        break;
    default: check(false, "a known outcome");
    }
    /* the error of a server that echoed a "key": scrubbed, none of it is left */
    if (size >= 6) {
        char secret[7];
        memcpy(secret, data, 6);
        secret[6] = '\0';
        /* (a secret sharing bytes with "[redacted]" can meet the mark's own bytes and reappear; real keys do not) */
        if (strlen(secret) == 6 && strpbrk(secret, "[redacted]") == NULL) {
            ac_skills_llm_wire_scrub(err.msg, sizeof(err.msg), secret);
            check(strstr(err.msg, secret) == NULL, "scrubbed");
            check(strlen(err.msg) < sizeof(err.msg), "scrub stays in the buffer");
        }
    }
}

/* The prompt's place in each format's body. */
static const char *prompt_in(ac_skills_llm_type_t t, json_t *body)
{
    json_t *v;
    if (t == AC_SKILLS_LLM_GEMINI)
        v = json_object_get(
            json_array_get(json_object_get(json_array_get(json_object_get(body, "contents"), 0), "parts"), 0), "text");
    else
        v = json_object_get(json_array_get(json_object_get(body, "messages"), 0), "content");
    return json_string_value(v);
}

static void build_one(ac_skills_llm_type_t t, const char *prompt, const char *host)
{
    ac_skills_llm_wire_provider_t p = {.type = t, .base_url = host, .model = "m", .api_key = "k-123"};
    ac_skills_llm_wire_req_t r;
    ac_errmsg_t err = {{0}};
    int rc = ac_skills_llm_wire_build(&p, NULL, prompt, &r, &err);
    if (rc != 0) {
        check(r.url == NULL && r.body == NULL && r.n_headers == 0, "a refusal owns nothing");
        check(rc == -AC_EINVAL || rc == -AC_ECONFIG, "refusal codes");
        check(strstr(err.msg, "k-123") == NULL, "the key is never in an error");
        return;
    }
    check(r.url != NULL && r.body != NULL && r.body_len == strlen(r.body), "a request");
    check(strncmp(r.url, "http://", 7) == 0 || strncmp(r.url, "https://", 8) == 0, "http(s)");
    const char *q = strchr(r.url, '?');
    const char *auth = strstr(r.url, "://") + 3;
    check(memchr(auth, '@', strcspn(auth, "/")) == NULL, "no userinfo");
    check(strchr(r.url, '#') == NULL, "no fragment");
    check(q == NULL || (t == AC_SKILLS_LLM_GEMINI && strchr(q + 1, '?') == NULL), "only gemini's key as a query");
    for (const char *c = r.url; *c; c++)
        check((unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f, "a URL of printable ASCII");
    json_t *body = json_loadb(r.body, r.body_len, 0, NULL);
    check(body != NULL, "the body is JSON");
    const char *got = prompt_in(t, body);
    check(got != NULL && strcmp(got, prompt) == 0, "the prompt in its place");
    json_decref(body);
    ac_skills_llm_wire_req_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 204, 429, 500};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        for (size_t k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++)
            parse_one(types[i], statuses[k], data, size);

    /* the input up to its first NUL as a prompt (to a fixed host) and as a host (with a fixed prompt) */
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    bool utf8 = ac_policy_utf8_valid(s, strlen(s));
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        ac_skills_llm_wire_provider_t p = {
            .type = types[i], .base_url = "http://127.0.0.1:1", .model = "m", .api_key = "k-123"};
        ac_skills_llm_wire_req_t r;
        ac_errmsg_t err = {{0}};
        int rc = ac_skills_llm_wire_build(&p, NULL, s, &r, &err);
        check(utf8 == (rc == 0), "a prompt builds iff it is UTF-8");
        ac_skills_llm_wire_req_free(&r);
        if (utf8)
            build_one(types[i], s, "http://127.0.0.1:1");
        build_one(types[i], "hello", s);
    }
    free(s);
    return 0;
}
