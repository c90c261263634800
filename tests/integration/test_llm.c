/* tests/integration/test_llm.c - the LLM router and provider store (skills/llm.h) against a migrated database and the
 * loopback providers of tests/support/fake_llm.h: every provider type end to end (the request the server recorded:
 * URL, headers, body; the answer), selection (tier by priority then name, fallback to local, named, local_only),
 * daily limits (sequential and 20 concurrent calls), usage counted on success only, Gemini's 429 retries, HTTP and
 * transport failures (status, malformed JSON, oversized, slow, closed), keys sealed at rest and never in an error
 * text or a log line, provider_save's validation, seeding and the list's masking. */
#include "node/config.h"
#include "node/env.h"
#include "node/log.h"
#include "node/settings.h"
#include "node/settings_store.h"
#include "policy/alloc.h"
#include "policy/crypto.h"
#include "skills/llm.h"
#include "tests/support/fake_llm.h"
#include "tests/support/testdb.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define ANT_KEY "sk-ant-test-4f9a2c7e1b"
#define GEM_KEY "AIzaFakeGeminiKey_93kd02"
#define OAI_KEY "sk-openai-fake-77f1e0"

static ac_fake_llm_t fake; /* one server for the whole run, reset before each test */

typedef struct {
    ac_test_db_t db;
    ac_node_env_t env;
    ac_node_settings_t *s;
} fx_t;

static int group_setup(void **state)
{
    (void)state;
    ac_fake_llm_start(&fake);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ac_fake_llm_stop(&fake);
    return 0;
}

static int setup(void **state)
{
    fx_t *f = ac_calloc(1, sizeof(*f));
    ac_fake_llm_control(&fake, "reset", "{}");
    ac_test_db_open_migrated("llm", &f->db);
    f->env.values = ac_calloc(ac_node_config_registry_count, sizeof(char *));
    uint8_t key[32] = {7, 1, 2};
    f->s = ac_node_settings_new(key);
    ac_errmsg_t err = {{0}};
    if (ac_node_settings_store_boot(f->db.c, &f->env, f->s, &err) != 0)
        fail_msg("settings: %s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    ac_node_settings_free(f->s);
    ac_node_env_free(&f->env);
    ac_test_db_close(&f->db);
    free(f);
    return 0;
}

/* --- helpers ------------------------------------------------------------------------------------------------------- */

static void set(fx_t *f, const char *key, const char *value)
{
    ac_errmsg_t err = {{0}};
    if (ac_node_settings_store_set(f->db.c, f->s, key, value, NULL, &err) != 0)
        fail_msg("set %s: %s", key, err.msg);
}

/* Saves a provider from a JSON text in which "@URL@" stands for the fake server's URL. */
static int save(fx_t *f, int64_t id, const char *text, int64_t *id_out, ac_errmsg_t *err)
{
    size_t cap = strlen(text) + sizeof(fake.url) + 1;
    char *buf = ac_malloc(cap);
    const char *at = strstr(text, "@URL@");
    if (at != NULL)
        snprintf(buf, cap, "%.*s%s%s", (int)(at - text), text, fake.url, at + 5);
    else
        snprintf(buf, cap, "%s", text);
    json_error_t je;
    json_t *j = json_loads(buf, 0, &je);
    if (j == NULL)
        fail_msg("bad test JSON: %s: %s", je.text, buf);
    free(buf);
    int rc = ac_skills_llm_provider_save(f->db.c, f->s, id, j, id_out, err);
    json_decref(j);
    return rc;
}

static int64_t prov(fx_t *f, const char *text)
{
    int64_t id = 0;
    ac_errmsg_t err = {{0}};
    if (save(f, 0, text, &id, &err) != 0)
        fail_msg("save %s: %s", text, err.msg);
    assert_true(id > 0);
    return id;
}

/* An Ollama provider on the fake server. */
static int64_t local(fx_t *f, const char *name, const char *tier, int prio, const char *extra)
{
    char t[1024];
    snprintf(t, sizeof(t),
             "{\"name\": \"%s\", \"type\": \"ollama\", \"tier\": \"%s\", \"priority\": %d, \"model\": \"m-%s\", "
             "\"host\": \"@URL@\"%s%s}",
             name, tier, prio, name, extra != NULL ? ", " : "", extra != NULL ? extra : "");
    return prov(f, t);
}

static ac_skill_ctx_t ctx_of(fx_t *f, PGconn *c, int64_t ms)
{
    ac_skill_ctx_t ctx = {.settings = f->s,
                          .db = c != NULL ? c : f->db.c,
                          .deadline_ms = ac_skill_now_ms() + ms,
                          .gemini_url = fake.url,
                          .anthropic_url = fake.url};
    return ctx;
}

static int ask_ex(fx_t *f, const ac_skills_llm_call_t *call, int64_t ms, ac_skills_llm_answer_t *ans, ac_errmsg_t *err)
{
    ac_skill_ctx_t ctx = ctx_of(f, NULL, ms);
    return ac_skills_llm_complete(&ctx, call, ans, err);
}

static int ask(fx_t *f, const char *tier, const char *provider, const char *prompt, ac_skills_llm_answer_t *ans,
               ac_errmsg_t *err)
{
    ac_skills_llm_call_t call = {.prompt = prompt, .tier = tier, .provider = provider};
    return ask_ex(f, &call, 20000, ans, err);
}

/* Asks and expects success from provider `who` with the echo answer. */
static void ask_ok(fx_t *f, const char *tier, const char *provider, const char *who)
{
    ac_skills_llm_answer_t ans;
    ac_errmsg_t err = {{0}};
    int rc = ask(f, tier, provider, "ping", &ans, &err);
    if (rc != 0)
        fail_msg("complete: %d %s", rc, err.msg);
    assert_string_equal(ans.text, "echo: ping");
    assert_string_equal(ans.provider, who);
    ac_skills_llm_answer_free(&ans);
}

/* Asks and expects failure rc with an error starting with prefix. */
static void ask_fails(fx_t *f, const char *tier, const char *provider, int want_rc, const char *prefix)
{
    ac_skills_llm_answer_t ans;
    ac_errmsg_t err = {{0}};
    int rc = ask(f, tier, provider, "ping", &ans, &err);
    if (rc != want_rc || strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("want %d \"%s...\", got %d \"%s\"", want_rc, prefix, rc, err.msg);
    assert_null(ans.text);
    ac_skills_llm_answer_free(&ans);
}

static void script(const char *route, const char *responses)
{
    char body[8192];
    snprintf(body, sizeof(body), "{\"route\": \"%s\", \"responses\": %s}", route, responses);
    ac_fake_llm_control(&fake, "script", body);
}

static size_t n_requests(void)
{
    json_t *r = ac_fake_llm_requests(&fake);
    size_t n = json_array_size(r);
    json_decref(r);
    return n;
}

static long usage(fx_t *f, int64_t id)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT COALESCE(sum(count), 0) FROM llm_usage WHERE model = 'provider_%lld'",
             (long long)id);
    char *v = ac_test_db_value(f->db.c, sql);
    long n = strtol(v, NULL, 10);
    free(v);
    return n;
}

static long rows(fx_t *f, const char *sql)
{
    char *v = ac_test_db_value(f->db.c, sql);
    long n = strtol(v, NULL, 10);
    free(v);
    return n;
}

static void assert_json_eq(const json_t *got, const char *want_text)
{
    json_t *want = json_loads(want_text, 0, NULL);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        fprintf(stderr, "got  %s\nwant %s\n", g, want_text);
        free(g);
        json_decref(want);
        fail();
    }
    json_decref(want);
}

/* The only recorded request. Owned by the returned array *all. */
static json_t *only_request(json_t **all)
{
    *all = ac_fake_llm_requests(&fake);
    assert_int_equal(json_array_size(*all), 1);
    return json_array_get(*all, 0);
}

static const char *hdr(const json_t *req, const char *name)
{
    return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

/* --- every provider type end to end -------------------------------------------------------------------------------- */

static void anthropic_request_and_answer(void **state)
{
    fx_t *f = *state;
    ac_fake_llm_control(&fake, "keys", "{\"anthropic\": \"" ANT_KEY "\"}");
    prov(f, "{\"name\": \"Claude\", \"type\": \"anthropic\", \"tier\": \"medium\", \"model\": \"claude-x\", "
            "\"api_key\": \"" ANT_KEY "\"}");
    ac_skills_llm_call_t call = {.prompt = "hello there", .system = "be brief", .tier = "medium"};
    ac_skills_llm_answer_t ans;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ask_ex(f, &call, 20000, &ans, &err), 0);
    assert_string_equal(ans.text, "echo: hello there");
    assert_string_equal(ans.provider, "Claude");
    assert_string_equal(ans.model, "claude-x");
    ac_skills_llm_answer_free(&ans);
    json_t *all, *r = only_request(&all);
    assert_string_equal(json_string_value(json_object_get(r, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/v1/messages");
    assert_string_equal(json_string_value(json_object_get(r, "query")), "");
    assert_string_equal(hdr(r, "x-api-key"), ANT_KEY);
    assert_string_equal(hdr(r, "anthropic-version"), "2023-06-01");
    assert_non_null(strstr(hdr(r, "content-type"), "application/json"));
    assert_null(hdr(r, "authorization"));
    assert_json_eq(json_object_get(r, "body"),
                   "{\"model\": \"claude-x\", \"max_tokens\": 4096, \"system\": \"be brief\", "
                   "\"messages\": [{\"role\": \"user\", \"content\": \"hello there\"}]}");
    json_decref(all);

    /* without a system prompt the field is absent */
    ac_fake_llm_control(&fake, "reset", "{}");
    call.system = "";
    assert_int_equal(ask_ex(f, &call, 20000, &ans, &err), 0);
    ac_skills_llm_answer_free(&ans);
    r = only_request(&all);
    assert_json_eq(json_object_get(r, "body"), "{\"model\": \"claude-x\", \"max_tokens\": 4096, "
                                               "\"messages\": [{\"role\": \"user\", \"content\": \"hello there\"}]}");
    json_decref(all);
}

static void gemini_request_and_answer_with_the_setting_key(void **state)
{
    fx_t *f = *state;
    ac_fake_llm_control(&fake, "keys", "{\"gemini\": \"" GEM_KEY "\"}");
    set(f, "llm.gemini_api_key", GEM_KEY);
    prov(f, "{\"name\": \"Gem\", \"type\": \"gemini\", \"tier\": \"light\", \"model\": \"gemini-x\"}");
    ac_skills_llm_call_t call = {.prompt = "hi", .system = "sys"};
    ac_skills_llm_answer_t ans;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ask_ex(f, &call, 20000, &ans, &err), 0);
    assert_string_equal(ans.text, "echo: hi");
    ac_skills_llm_answer_free(&ans);
    json_t *all, *r = only_request(&all);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/v1beta/models/gemini-x:generateContent");
    assert_string_equal(json_string_value(json_object_get(r, "query")), ""); /* the key is never in the URL */
    assert_string_equal(hdr(r, "x-goog-api-key"), GEM_KEY);
    assert_null(hdr(r, "x-api-key"));
    assert_json_eq(json_object_get(r, "body"),
                   "{\"contents\": [{\"role\": \"user\", \"parts\": [{\"text\": \"hi\"}]}], "
                   "\"systemInstruction\": {\"parts\": [{\"text\": \"sys\"}]}}");
    json_decref(all);

    ac_fake_llm_control(&fake, "reset", "{}");
    call.system = NULL;
    assert_int_equal(ask_ex(f, &call, 20000, &ans, &err), 0);
    ac_skills_llm_answer_free(&ans);
    r = only_request(&all);
    assert_json_eq(json_object_get(r, "body"),
                   "{\"contents\": [{\"role\": \"user\", \"parts\": [{\"text\": \"hi\"}]}]}");
    json_decref(all);
}

static void ollama_request_and_answer(void **state)
{
    fx_t *f = *state;
    local(f, "Llama", "local", 1, "\"options\": {\"temperature\": 0.5, \"num_ctx\": null}");
    ac_skills_llm_call_t call = {.prompt = "q", .system = "s", .tier = "local"};
    ac_skills_llm_answer_t ans;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ask_ex(f, &call, 20000, &ans, &err), 0);
    assert_string_equal(ans.text, "echo: q");
    ac_skills_llm_answer_free(&ans);
    json_t *all, *r = only_request(&all);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/api/chat");
    assert_null(hdr(r, "authorization"));
    assert_json_eq(json_object_get(r, "body"),
                   "{\"model\": \"m-Llama\", \"stream\": false, \"options\": {\"temperature\": 0.5}, "
                   "\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": "
                   "\"q\"}]}");
    json_decref(all);

    ac_fake_llm_control(&fake, "reset", "{}");
    call.system = NULL;
    assert_int_equal(ask_ex(f, &call, 20000, &ans, &err), 0);
    ac_skills_llm_answer_free(&ans);
    r = only_request(&all);
    assert_json_eq(json_object_get(r, "body"), "{\"model\": \"m-Llama\", \"stream\": false, \"options\": "
                                               "{\"temperature\": 0.5}, \"messages\": [{\"role\": \"user\", "
                                               "\"content\": \"q\"}]}");
    json_decref(all);
}

static void openai_compatible_and_custom_requests(void **state)
{
    fx_t *f = *state;
    ac_fake_llm_control(&fake, "keys", "{\"openai\": \"" OAI_KEY "\"}");
    prov(f, "{\"name\": \"LMS\", \"type\": \"openai_compatible\", \"tier\": \"heavy\", \"model\": \"qwen\", "
            "\"host\": \"@URL@/\", \"api_key\": \"" OAI_KEY "\", \"headers\": {\"X-Extra\": \"one\", "
            "\"X-Gateway-Token\": \"gw-secret-value-77\"}, "
            "\"options\": {\"temperature\": 0.2, \"num_predict\": 64, \"thinking\": false}}");
    ac_skills_llm_call_t call = {.prompt = "p", .system = "s", .tier = "heavy"};
    ac_skills_llm_answer_t ans;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ask_ex(f, &call, 20000, &ans, &err), 0);
    assert_string_equal(ans.text, "echo: p");
    ac_skills_llm_answer_free(&ans);
    json_t *all, *r = only_request(&all);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/v1/chat/completions");
    assert_string_equal(hdr(r, "authorization"), "Bearer " OAI_KEY);
    assert_string_equal(hdr(r, "x-extra"), "one");
    assert_string_equal(hdr(r, "x-gateway-token"), "gw-secret-value-77"); /* opened for the request only */
    /* stored: the secret-looking header sealed like the key, the plain one as it is */
    ac_test_assert_sql(
        f->db.c,
        "SELECT (headers->>'X-Gateway-Token') LIKE 'enc:%' AND strpos(headers::text, "
        "'gw-secret-value-77') = 0 AND headers->>'X-Extra' = 'one' FROM llm_providers WHERE name = 'LMS'",
        "t");
    assert_json_eq(json_object_get(r, "body"),
                   "{\"model\": \"qwen\", \"stream\": false, \"temperature\": 0.2, \"max_tokens\": 64, "
                   "\"chat_template_kwargs\": {\"enable_thinking\": false}, \"messages\": [{\"role\": \"system\", "
                   "\"content\": \"s\"}, {\"role\": \"user\", \"content\": \"p\"}]}");
    json_decref(all);
    /* a server that echoes the header back in an error: the value is scrubbed from what the caller sees */
    ac_fake_llm_control(&fake, "script",
                        "{\"route\": \"openai\", \"responses\": [{\"status\": 502, \"text\": \"bad gateway "
                        "token gw-secret-value-77 refused\"}]}");
    assert_int_not_equal(ask_ex(f, &call, 20000, &ans, &err), 0);
    assert_null(strstr(err.msg, "gw-secret-value-77"));
    assert_non_null(strstr(err.msg, "502"));
    ac_skills_llm_answer_free(&ans);

    /* custom: the same API; without a key no Authorization header */
    ac_fake_llm_control(&fake, "reset", "{}");
    prov(f,
         "{\"name\": \"Mine\", \"type\": \"custom\", \"tier\": \"local\", \"model\": \"tiny\", \"host\": \"@URL@\"}");
    call.tier = "local";
    call.system = NULL;
    assert_int_equal(ask_ex(f, &call, 20000, &ans, &err), 0);
    assert_string_equal(ans.provider, "Mine");
    ac_skills_llm_answer_free(&ans);
    r = only_request(&all);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/v1/chat/completions");
    assert_null(hdr(r, "authorization"));
    assert_json_eq(json_object_get(r, "body"), "{\"model\": \"tiny\", \"stream\": false, \"messages\": "
                                               "[{\"role\": \"user\", \"content\": \"p\"}]}");
    json_decref(all);
}

/* --- selection ------------------------------------------------------------------------------------------------------ */

static void tier_selection_by_priority_then_name(void **state)
{
    fx_t *f = *state;
    local(f, "b", "light", 10, NULL);
    local(f, "a", "light", 10, NULL);
    int64_t c = local(f, "c", "light", 5, NULL);
    local(f, "z", "medium", 1, NULL);
    ask_ok(f, NULL, NULL, "c"); /* default tier light */
    ask_ok(f, "light", "auto", "c");
    ac_errmsg_t err = {{0}};
    assert_int_equal(save(f, c, "{\"enabled\": false}", NULL, &err), 0);
    ask_ok(f, "light", "", "a");
    ask_ok(f, "medium", NULL, "z");
    ask_fails(f, "huge", NULL, -AC_EINVAL, "invalid_tier");
}

static void falls_back_to_local_then_no_available_model(void **state)
{
    fx_t *f = *state;
    ask_fails(f, "light", NULL, -AC_ENOENT, "no_available_model");
    int64_t l = local(f, "loc", "local", 1, NULL);
    local(f, "off", "heavy", 1, "\"enabled\": false");
    ask_ok(f, "heavy", NULL, "loc");
    ask_ok(f, "local", NULL, "loc");
    ac_errmsg_t err = {{0}};
    assert_int_equal(save(f, l, "{\"enabled\": false}", NULL, &err), 0);
    ask_fails(f, "heavy", NULL, -AC_ENOENT, "no_available_model");
    ask_fails(f, "local", NULL, -AC_ENOENT, "no_available_model");
    assert_int_equal(n_requests(), 2);
}

static void named_provider(void **state)
{
    fx_t *f = *state;
    local(f, "first", "light", 1, NULL);
    local(f, "Other One", "heavy", 1, NULL);
    local(f, "disabled", "light", 0, "\"enabled\": false");
    ask_ok(f, "light", "Other One", "Other One"); /* the name wins over the tier */
    ask_fails(f, "light", "nope", -AC_ENOENT, "unknown_provider: nope");
    ask_fails(f, "light", "disabled", -AC_ENOENT, "unknown_provider: disabled");
    ask_fails(f, "light", "other one", -AC_ENOENT, "unknown_provider"); /* exact names */
}

static void local_only_stays_local(void **state)
{
    fx_t *f = *state;
    local(f, "cloudish", "light", 1, NULL);
    ac_skills_llm_call_t call = {.prompt = "ping", .tier = "heavy", .local_only = true};
    ac_skills_llm_answer_t ans;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ask_ex(f, &call, 20000, &ans, &err), -AC_ENOENT);
    assert_string_equal(err.msg, "no_available_model");
    local(f, "mine", "local", 1, NULL);
    assert_int_equal(ask_ex(f, &call, 20000, &ans, &err), 0);
    assert_string_equal(ans.provider, "mine");
    ac_skills_llm_answer_free(&ans);
    call.provider = "cloudish";
    assert_int_equal(ask_ex(f, &call, 20000, &ans, &err), -AC_ENOENT);
    assert_string_equal(err.msg, "unknown_provider: cloudish");
    call.provider = "mine";
    assert_int_equal(ask_ex(f, &call, 20000, &ans, &err), 0);
    ac_skills_llm_answer_free(&ans);
}

/* --- daily limits and usage ----------------------------------------------------------------------------------------- */

static void daily_limits(void **state)
{
    fx_t *f = *state;
    int64_t zero = local(f, "zero", "light", 1, "\"daily_limit\": 0");
    int64_t one = local(f, "one", "light", 2, "\"daily_limit\": 1");
    int64_t two = local(f, "two", "light", 3, "\"daily_limit\": 2");
    local(f, "loc", "local", 1, NULL);
    ask_ok(f, "light", NULL, "one");
    ask_ok(f, "light", NULL, "two");
    ask_ok(f, "light", NULL, "two");
    ask_fails(f, "light", NULL, -AC_ENOENT, "all_providers_at_limit"); /* no fallback to local then */
    ask_fails(f, "light", "two", -AC_ENOENT, "all_providers_at_limit");
    assert_int_equal(n_requests(), 3);
    assert_int_equal(usage(f, zero), 0);
    assert_int_equal(usage(f, one), 1);
    assert_int_equal(usage(f, two), 2);
    ac_test_assert_sql(f->db.c,
                       "SELECT count(*) = 2 AND bool_and(date = (now() AT TIME ZONE 'utc')::date) FROM llm_usage", "t");
    /* yesterday's usage does not count today */
    ac_test_db_exec(f->db.c, "UPDATE llm_usage SET date = date - 1");
    ask_ok(f, "light", NULL, "one");
    /* a provider without a limit just counts */
    ask_ok(f, "local", NULL, "loc");
    ask_ok(f, "local", NULL, "loc");
    ac_test_assert_sql(f->db.c,
                       "SELECT count FROM llm_usage u JOIN llm_providers p ON u.model = 'provider_' || p.id "
                       "WHERE p.name = 'loc'",
                       "2");
}

typedef struct worker {
    fx_t *f;
    int rc;
    char msg[AC_ERRMSG_MAX];
} worker_t;

static void *work(void *arg)
{
    worker_t *w = arg;
    PGconn *c = PQconnectdb(w->f->db.ci);
    if (PQstatus(c) != CONNECTION_OK) {
        w->rc = 1;
        PQfinish(c);
        return NULL;
    }
    ac_skill_ctx_t ctx = ctx_of(w->f, c, 30000);
    ac_skills_llm_call_t call = {.prompt = "concurrent"};
    ac_skills_llm_answer_t ans;
    ac_errmsg_t err = {{0}};
    w->rc = ac_skills_llm_complete(&ctx, &call, &ans, &err);
    snprintf(w->msg, sizeof(w->msg), "%s", w->rc == 0 ? ans.text : err.msg);
    ac_skills_llm_answer_free(&ans);
    PQfinish(c);
    return NULL;
}

static void concurrent_calls_never_pass_the_limit(void **state)
{
    fx_t *f = *state;
    /* a little delay so the calls overlap */
    script("ollama", "[{\"text\": \"a\", \"delay_ms\": 100}, {\"text\": \"a\", \"delay_ms\": 100}, "
                     "{\"text\": \"a\", \"delay_ms\": 100}, {\"text\": \"a\", \"delay_ms\": 100}, "
                     "{\"text\": \"a\", \"delay_ms\": 100}]");
    int64_t id = local(f, "limited", "light", 1, "\"daily_limit\": 5");
    enum { N = 20 };
    worker_t w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker_t){.f = f, .rc = 99};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    int ok = 0, at_limit = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (w[i].rc == 0 && strcmp(w[i].msg, "a") == 0)
            ok++;
        else if (w[i].rc == -AC_ENOENT && strcmp(w[i].msg, "all_providers_at_limit") == 0)
            at_limit++;
        else
            fail_msg("call %d: %d %s", i, w[i].rc, w[i].msg);
    }
    assert_int_equal(ok, 5);
    assert_int_equal(at_limit, 15);
    assert_int_equal(usage(f, id), 5);
    assert_int_equal(n_requests(), 5);
}

static void usage_counts_successes_only(void **state)
{
    fx_t *f = *state;
    int64_t id = local(f, "l", "light", 1, "\"daily_limit\": 1");
    script("ollama", "[{\"status\": 500}]");
    ask_fails(f, "light", NULL, -AC_EIO, "ollama: 500");
    assert_int_equal(usage(f, id), 0);
    /* the unit given back is usable: the limit of 1 still admits one success */
    ask_ok(f, "light", NULL, "l");
    assert_int_equal(usage(f, id), 1);
    ask_fails(f, "light", NULL, -AC_ENOENT, "all_providers_at_limit");
    assert_int_equal(n_requests(), 2);
}

/* --- Gemini's 429 --------------------------------------------------------------------------------------------------- */

static void gemini_429_is_retried_then_succeeds(void **state)
{
    fx_t *f = *state;
    set(f, "llm.gemini_api_key", GEM_KEY);
    set(f, "llm.gemini_retry_ms", "30");
    int64_t id = prov(f, "{\"name\": \"G\", \"type\": \"gemini\", \"tier\": \"light\", \"model\": \"g\"}");
    script("gemini", "[{\"status\": 429}, {\"status\": 429}]");
    int64_t t0 = ac_skill_now_ms();
    ask_ok(f, "light", NULL, "G");
    assert_true(ac_skill_now_ms() - t0 >= 30 + 60);
    assert_int_equal(n_requests(), 3);
    assert_int_equal(usage(f, id), 1);
}

static void gemini_quota_exhausted_is_not_retried(void **state)
{
    fx_t *f = *state;
    set(f, "llm.gemini_api_key", GEM_KEY);
    set(f, "llm.gemini_retry_ms", "10");
    int64_t id = prov(f, "{\"name\": \"G\", \"type\": \"gemini\", \"tier\": \"light\", \"model\": \"g\"}");
    script("gemini", "[{\"status\": 429, \"body\": {\"error\": {\"code\": 429, \"message\": \"Quota exceeded\", "
                     "\"status\": \"RESOURCE_EXHAUSTED\"}}}]");
    ask_fails(f, "light", NULL, -AC_EIO, "gemini_quota_exhausted");
    assert_int_equal(n_requests(), 1);
    assert_int_equal(usage(f, id), 0);
}

static void gemini_429_until_retries_are_spent(void **state)
{
    fx_t *f = *state;
    set(f, "llm.gemini_api_key", GEM_KEY);
    set(f, "llm.gemini_retry_ms", "10");
    int64_t id = prov(f, "{\"name\": \"G\", \"type\": \"gemini\", \"tier\": \"light\", \"model\": \"g\"}");
    script("gemini", "[{\"status\": 429}, {\"status\": 429}, {\"status\": 429}, {\"status\": 429}, "
                     "{\"status\": 429}]");
    ask_fails(f, "light", NULL, -AC_EIO, "gemini: 429");
    assert_int_equal(n_requests(), 4); /* the first try and 3 retries */
    assert_int_equal(usage(f, id), 0);

    /* a retry that would pass the deadline is not waited for: the 429 is the answer at once */
    ac_fake_llm_control(&fake, "reset", "{}");
    set(f, "llm.gemini_retry_ms", "5000");
    script("gemini", "[{\"status\": 429}]");
    ac_skills_llm_call_t call = {.prompt = "x"};
    ac_skills_llm_answer_t ans;
    ac_errmsg_t err = {{0}};
    int64_t t0 = ac_skill_now_ms();
    assert_int_equal(ask_ex(f, &call, 2000, &ans, &err), -AC_EIO);
    assert_true(ac_skill_now_ms() - t0 < 1500);
    assert_non_null(strstr(err.msg, "gemini: 429"));
    assert_int_equal(n_requests(), 1);
}

/* --- failures ------------------------------------------------------------------------------------------------------- */

static void http_errors_per_type(void **state)
{
    fx_t *f = *state;
    set(f, "llm.gemini_api_key", GEM_KEY);
    set(f, "llm.anthropic_api_key", ANT_KEY);
    prov(f, "{\"name\": \"A\", \"type\": \"anthropic\", \"tier\": \"light\", \"model\": \"a\"}");
    prov(f, "{\"name\": \"G\", \"type\": \"gemini\", \"tier\": \"light\", \"model\": \"g\"}");
    local(f, "O", "light", 1, NULL);
    prov(f, "{\"name\": \"C\", \"type\": \"openai_compatible\", \"tier\": \"light\", \"model\": \"c\", "
            "\"host\": \"@URL@\"}");
    script("anthropic", "[{\"status\": 529}]");
    script("gemini", "[{\"status\": 400, \"text\": \"bad thing\"}]");
    script("ollama", "[{\"status\": 404}]");
    script("openai", "[{\"status\": 503}]");
    ask_fails(f, "light", "A", -AC_EIO, "anthropic: 529: ");
    ask_fails(f, "light", "G", -AC_EIO, "gemini: 400: ");
    ask_fails(f, "light", "O", -AC_EIO, "ollama: 404: ");
    ask_fails(f, "light", "C", -AC_EIO, "openai_compat: 503: ");
    assert_int_equal(rows(f, "SELECT COALESCE(sum(count), 0) FROM llm_usage"), 0);
}

static void malformed_and_empty_answers(void **state)
{
    fx_t *f = *state;
    local(f, "O", "light", 1, NULL);
    prov(f, "{\"name\": \"C\", \"type\": \"custom\", \"tier\": \"light\", \"model\": \"c\", \"host\": \"@URL@\"}");
    script("ollama", "[{\"status\": 200, \"body\": \"this is not JSON\"}, {\"status\": 200, \"body\": {\"x\": 1}}]");
    ask_fails(f, "light", "O", -AC_EIO, "ollama: malformed_response");
    ask_fails(f, "light", "O", -AC_EIO, "ollama: malformed_response");
    script("openai", "[{\"status\": 200, \"body\": {\"choices\": [{\"message\": {\"role\": \"assistant\"}}]}}]");
    ask_fails(f, "light", "C", -AC_EIO, "openai_compat: empty_response");
}

static void oversized_response_is_too_large(void **state)
{
    fx_t *f = *state;
    set(f, "llm.max_response_kb", "1");
    int64_t id = local(f, "O", "light", 1, NULL);
    char big[4200], resp[4400];
    memset(big, 'x', 4000);
    big[4000] = '\0';
    snprintf(resp, sizeof(resp), "[{\"text\": \"%s\"}]", big);
    script("ollama", resp);
    ask_fails(f, "light", NULL, -AC_ETOOLONG, "too_large");
    assert_int_equal(usage(f, id), 0);
    /* a small answer still passes */
    ask_ok(f, "light", NULL, "O");
}

static void slow_server_times_out_within_the_deadline(void **state)
{
    fx_t *f = *state;
    int64_t id = local(f, "O", "light", 1, NULL);
    script("ollama", "[{\"text\": \"late\", \"delay_ms\": 3000}]");
    ac_skills_llm_call_t call = {.prompt = "x"};
    ac_skills_llm_answer_t ans;
    ac_errmsg_t err = {{0}};
    int64_t t0 = ac_skill_now_ms();
    assert_int_equal(ask_ex(f, &call, 400, &ans, &err), -AC_ETIMEDOUT);
    int64_t took = ac_skill_now_ms() - t0;
    assert_true(took >= 350 && took < 1500);
    assert_string_equal(err.msg, "timeout");
    assert_int_equal(usage(f, id), 0);

    /* the type's own limit (local_timeout_seconds) applies within a longer deadline */
    set(f, "llm.local_timeout_seconds", "1");
    script("ollama", "[{\"text\": \"late\", \"delay_ms\": 3000}]");
    t0 = ac_skill_now_ms();
    assert_int_equal(ask_ex(f, &call, 20000, &ans, &err), -AC_ETIMEDOUT);
    took = ac_skill_now_ms() - t0;
    assert_true(took >= 900 && took < 2500);
}

static void closed_connection_is_request_failed(void **state)
{
    fx_t *f = *state;
    int64_t id = local(f, "O", "light", 1, NULL);
    script("ollama", "[{\"close\": true}]");
    ask_fails(f, "light", NULL, -AC_EIO, "request_failed");
    assert_int_equal(usage(f, id), 0);
}

static void cancelled_call(void **state)
{
    fx_t *f = *state;
    local(f, "O", "light", 1, NULL);
    volatile sig_atomic_t cancel = 1;
    ac_skill_ctx_t ctx = ctx_of(f, NULL, 20000);
    ctx.cancel = &cancel;
    ac_skills_llm_call_t call = {.prompt = "x"};
    ac_skills_llm_answer_t ans;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_skills_llm_complete(&ctx, &call, &ans, &err), -AC_ESTOPPED);
    assert_string_equal(err.msg, "cancelled");
    assert_int_equal(n_requests(), 0);
}

/* --- keys ------------------------------------------------------------------------------------------------------------ */

static void keys_never_appear_in_errors_or_logs(void **state)
{
    fx_t *f = *state;
    prov(f, "{\"name\": \"A\", \"type\": \"anthropic\", \"tier\": \"light\", \"model\": \"a\", \"api_key\": \"" ANT_KEY
            "\"}");
    prov(f, "{\"name\": \"C\", \"type\": \"openai_compatible\", \"tier\": \"light\", \"model\": \"c\", "
            "\"host\": \"@URL@\", \"api_key\": \"" OAI_KEY "\"}");
    set(f, "llm.gemini_api_key", GEM_KEY);
    prov(f, "{\"name\": \"G\", \"type\": \"gemini\", \"tier\": \"light\", \"model\": \"g\"}");
    script("anthropic", "[{\"status\": 401, \"text\": \"invalid x-api-key " ANT_KEY "\"}]");
    script("openai", "[{\"status\": 401, \"text\": \"Incorrect API key provided: " OAI_KEY "\"}]");
    script("gemini", "[{\"status\": 400, \"text\": \"API key not valid: " GEM_KEY "\"}]");
    const char *names[] = {"A", "C", "G"}, *keys[] = {ANT_KEY, OAI_KEY, GEM_KEY};
    for (int i = 0; i < 3; i++) {
        ac_skills_llm_answer_t ans;
        ac_errmsg_t err = {{0}};
        assert_int_equal(ask(f, "light", names[i], "secret prompt text", &ans, &err), -AC_EIO);
        if (strstr(err.msg, keys[i]) != NULL || strstr(err.msg, "[redacted]") == NULL)
            fail_msg("%s: %s", names[i], err.msg);
    }
    /* the log lines of the calls name provider and status, never the key or the prompt */
    char *lines[AC_LOG_RING_LINES];
    size_t n = ac_log_ring_copy(lines, AC_LOG_RING_LINES);
    int calls = 0;
    for (size_t i = 0; i < n; i++) {
        if (strstr(lines[i], "module=llm") != NULL && strstr(lines[i], "event=call") != NULL)
            calls++;
        for (int k = 0; k < 3; k++)
            assert_null(strstr(lines[i], keys[k]));
        assert_null(strstr(lines[i], "secret prompt"));
        free(lines[i]);
    }
    assert_true(calls >= 3);
    /* nothing in the database holds a key in clear */
    ac_test_assert_sql(
        f->db.c,
        "SELECT count(*) FROM llm_providers WHERE api_key LIKE '%" ANT_KEY "%' OR api_key LIKE '%" OAI_KEY "%'", "0");
}

static char *stored_key(fx_t *f, int64_t id)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT COALESCE(api_key, '<null>') FROM llm_providers WHERE id = %lld", (long long)id);
    return ac_test_db_value(f->db.c, sql);
}

static void keys_are_sealed_kept_and_removed(void **state)
{
    fx_t *f = *state;
    int64_t id = prov(f, "{\"name\": \"A\", \"type\": \"anthropic\", \"tier\": \"light\", \"model\": \"a\", "
                         "\"api_key\": \"" ANT_KEY "\"}");
    char *sealed = stored_key(f, id);
    assert_true(strncmp(sealed, "enc:", 4) == 0);
    assert_null(strstr(sealed, ANT_KEY));
    char *plain = NULL;
    assert_int_equal(ac_policy_crypto_open(ac_node_settings_key(f->s), sealed, strlen(sealed), &plain, NULL), 0);
    assert_string_equal(plain, ANT_KEY);
    ac_free_secret_str(plain);
    /* "********" and an absent api_key keep it */
    ac_errmsg_t err = {{0}};
    assert_int_equal(save(f, id, "{\"api_key\": \"********\", \"priority\": 3}", NULL, &err), 0);
    assert_int_equal(save(f, id, "{\"model\": \"b\"}", NULL, &err), 0);
    char *now = stored_key(f, id);
    assert_string_equal(now, sealed);
    free(now);
    ac_fake_llm_control(&fake, "keys", "{\"anthropic\": \"" ANT_KEY "\"}");
    ask_ok(f, "light", NULL, "A");
    /* "" removes it: then the setting's key is used, and without one api_key_not_set */
    assert_int_equal(save(f, id, "{\"api_key\": \"\"}", NULL, &err), 0);
    now = stored_key(f, id);
    assert_string_equal(now, "<null>");
    free(now);
    ask_fails(f, "light", NULL, -AC_ECONFIG, "api_key_not_set");
    set(f, "llm.anthropic_api_key", ANT_KEY);
    ask_ok(f, "light", NULL, "A");
    /* a new key replaces it; null removes it too */
    assert_int_equal(save(f, id, "{\"api_key\": \"other-key-1234\"}", NULL, &err), 0);
    now = stored_key(f, id);
    assert_true(strncmp(now, "enc:", 4) == 0 && strcmp(now, sealed) != 0);
    free(now);
    ask_fails(f, "light", NULL, -AC_EIO, "anthropic: 401"); /* the provider's own key wins over the setting */
    assert_int_equal(save(f, id, "{\"api_key\": null}", NULL, &err), 0);
    ask_ok(f, "light", NULL, "A");
    free(sealed);
}

static void api_key_and_host_not_set(void **state)
{
    fx_t *f = *state;
    int64_t a = prov(f, "{\"name\": \"A\", \"type\": \"anthropic\", \"tier\": \"light\", \"model\": \"a\"}");
    ask_fails(f, "light", NULL, -AC_ECONFIG, "api_key_not_set");
    prov(f, "{\"name\": \"G\", \"type\": \"gemini\", \"tier\": \"light\", \"model\": \"g\"}");
    ask_fails(f, "light", "G", -AC_ECONFIG, "api_key_not_set");
    int64_t o = prov(f, "{\"name\": \"O\", \"type\": \"ollama\", \"tier\": \"local\", \"model\": \"o\"}");
    ask_fails(f, "local", NULL, -AC_ECONFIG, "host_not_set");
    prov(f,
         "{\"name\": \"C\", \"type\": \"openai_compatible\", \"tier\": \"medium\", \"model\": \"c\", \"host\": \"\"}");
    ask_fails(f, "medium", NULL, -AC_ECONFIG, "host_not_set");
    assert_int_equal(n_requests(), 0);
    assert_int_equal(usage(f, a), 0);
    assert_int_equal(usage(f, o), 0);
}

/* --- the store ------------------------------------------------------------------------------------------------------- */

static void provider_save_refuses_each_bad_field(void **state)
{
    fx_t *f = *state;
    int64_t id = local(f, "good", "light", 1, "\"headers\": {\"X-A\": \"1\"}");
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM llm_providers", "1");
    static const struct {
        const char *json, *word;
    } bad[] = {
        {"{\"tier\": \"light\", \"model\": \"m\"}", "name"},
        {"{\"name\": \"n\", \"model\": \"m\"}", "tier"},
        {"{\"name\": \"n\", \"tier\": \"light\"}", "model"},
        {"{\"name\": \"\", \"tier\": \"light\", \"model\": \"m\"}", "name"},
        {"{\"name\": \"a\\nb\", \"tier\": \"light\", \"model\": \"m\"}", "name"},
        {"{\"name\": 5, \"tier\": \"light\", \"model\": \"m\"}", "name"},
        {"{\"name\": \"n\", \"tier\": \"huge\", \"model\": \"m\"}", "tier"},
        {"{\"name\": \"n\", \"type\": \"anthropic\", \"tier\": \"local\", \"model\": \"m\"}", "tier"},
        {"{\"name\": \"n\", \"type\": \"gemini\", \"tier\": \"local\", \"model\": \"m\"}", "tier"},
        {"{\"name\": \"n\", \"type\": \"openai\", \"tier\": \"light\", \"model\": \"m\"}", "type"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"\"}", "model"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"host\": \"ftp://x\"}", "host"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"host\": \"http://u:p@x\"}", "host"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"host\": \"http://x/?a=1\"}", "host"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"host\": \"http://x/#f\"}", "host"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"host\": \"http://\"}", "host"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"daily_limit\": -1}", "daily_limit"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"daily_limit\": 1.5}", "daily_limit"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"priority\": -1}", "priority"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"priority\": null}", "priority"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"enabled\": \"yes\"}", "enabled"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"headers\": []}", "headers"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"headers\": {\"Bad Name\": \"v\"}}", "headers"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"headers\": {\"X\": \"a\\r\\nb\"}}", "headers"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"headers\": {\"X\": 1}}", "headers"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"headers\": {\"Authorization\": \"v\"}}",
         "headers"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"headers\": {\"X-A\": \"********\"}}", "headers"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"options\": []}", "options"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"api_key\": \"has space\"}", "api_key"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"api_key\": 7}", "api_key"},
        {"{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"id\": 3}", "unknown field \"id\""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_errmsg_t err = {{0}};
        int64_t out = 77;
        int rc = save(f, 0, bad[i].json, &out, &err);
        if (rc != -AC_EINVAL || strstr(err.msg, bad[i].word) == NULL)
            fail_msg("%s: %d %s", bad[i].json, rc, err.msg);
        assert_int_equal(out, 0);
        /* the same field refused on an update, nothing changed (a missing field is refused on create only) */
        if (strstr(bad[i].json, "\"name\": \"n\"") != NULL && strstr(bad[i].json, "********") == NULL &&
            strstr(err.msg, "required") == NULL) {
            rc = save(f, id, bad[i].json, NULL, &err);
            if (rc != -AC_EINVAL || strstr(err.msg, bad[i].word) == NULL)
                fail_msg("update %s: %d %s", bad[i].json, rc, err.msg);
        }
    }
    /* 17 headers, and headers differing only in case */
    char many[2048] = "{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"headers\": {";
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s\"X-%d\": \"v\"", i ? ", " : "", i);
    strcat(many, "}}");
    ac_errmsg_t err = {{0}};
    assert_int_equal(save(f, 0, many, NULL, &err), -AC_EINVAL);
    assert_non_null(strstr(err.msg, "headers"));
    assert_int_equal(save(f, 0,
                          "{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"headers\": "
                          "{\"X-A\": \"1\", \"x-a\": \"2\"}}",
                          NULL, &err),
                     -AC_EINVAL);
    /* options over 16 KiB */
    char *big = ac_malloc(20000);
    snprintf(big, 20000, "{\"name\": \"n\", \"tier\": \"light\", \"model\": \"m\", \"options\": {\"x\": \"%0*d\"}}",
             17000, 0);
    assert_int_equal(save(f, 0, big, NULL, &err), -AC_EINVAL);
    assert_non_null(strstr(err.msg, "options"));
    free(big);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM llm_providers", "1");
    ac_test_assert_sql(f->db.c,
                       "SELECT name || ' ' || tier || ' ' || model || ' ' || priority || ' ' || headers::text "
                       "FROM llm_providers",
                       "good light m-good 1 {\"X-A\": \"1\"}");
    /* update of a missing id, delete */
    assert_int_equal(save(f, id + 100, "{\"priority\": 1}", NULL, &err), -AC_ENOENT);
    assert_int_equal(ac_skills_llm_provider_delete(f->db.c, id + 100, &err), -AC_ENOENT);
    assert_int_equal(ac_skills_llm_provider_delete(f->db.c, id, &err), 0);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM llm_providers", "0");
}

static void duplicate_names_are_refused(void **state)
{
    fx_t *f = *state;
    local(f, "one", "light", 1, NULL);
    int64_t two = local(f, "two", "light", 1, NULL);
    ac_errmsg_t err = {{0}};
    int64_t out = 5;
    assert_int_equal(save(f, 0, "{\"name\": \"one\", \"tier\": \"heavy\", \"model\": \"x\"}", &out, &err), -AC_EEXIST);
    assert_int_equal(out, 0);
    assert_non_null(strstr(err.msg, "name"));
    assert_int_equal(save(f, two, "{\"name\": \"one\", \"priority\": 9}", NULL, &err), -AC_EEXIST);
    ac_test_assert_sql(f->db.c, "SELECT string_agg(name || priority, ',' ORDER BY name) FROM llm_providers",
                       "one1,two1");
    /* the connection is usable afterwards (no transaction left open) */
    assert_int_equal(save(f, two, "{\"name\": \"three\"}", NULL, &err), 0);
    assert_int_equal(PQtransactionStatus(f->db.c), PQTRANS_IDLE);
}

static void seed_is_idempotent_and_enables_by_settings(void **state)
{
    fx_t *f = *state;
    set(f, "llm.gemini_api_key", GEM_KEY);
    set(f, "llm.anthropic_api_key", "");
    set(f, "llm.ollama_enabled", "true");
    set(f, "llm.ollama_host", "http://127.0.0.1:11434");
    set(f, "llm.ollama_model", "llama-test");
    set(f, "llm.lmstudio_enabled", "false");
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_skills_llm_seed(f->db.c, f->s, &err), 0);
    ac_test_assert_sql(f->db.c,
                       "SELECT string_agg(name || '|' || type || '|' || tier || '|' || model || '|' || "
                       "COALESCE(host, '-') || '|' || COALESCE(daily_limit::text, '-') || '|' || enabled || '|' || "
                       "priority || '|' || COALESCE(api_key, '-'), ';' ORDER BY name) FROM llm_providers",
                       "Claude Haiku|anthropic|light|claude-haiku-4-5-20251001|-|1000|false|20|-;"
                       "Claude Opus|anthropic|heavy|claude-opus-4-6-20250514|-|-|false|10|-;"
                       "Claude Sonnet|anthropic|medium|claude-sonnet-4-6-20250514|-|5|false|20|-;"
                       "Gemini Flash|gemini|light|gemini-2.0-flash|-|-|true|10|-;"
                       "Gemini Pro|gemini|medium|gemini-2.0-pro|-|-|true|10|-;"
                       "LM Studio|openai_compatible|local|qwen2.5-14b-instruct|http://localhost:1234|-|false|40|-;"
                       "Ollama|ollama|local|llama-test|http://127.0.0.1:11434|-|true|50|-");
    /* idempotent: an edited provider keeps its edits, a deleted one stays deleted (the owner's decision, also
     * when its key is set now), even when the settings would enable it */
    ac_test_db_exec(f->db.c, "UPDATE llm_providers SET priority = 99 WHERE name = 'Gemini Pro'");
    ac_test_db_exec(f->db.c, "DELETE FROM llm_providers WHERE name = 'Claude Opus'");
    set(f, "llm.anthropic_api_key", ANT_KEY);
    assert_int_equal(ac_skills_llm_seed(f->db.c, f->s, &err), 0);
    assert_int_equal(ac_skills_llm_seed(f->db.c, f->s, &err), 0);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM llm_providers", "6");
    ac_test_assert_sql(f->db.c, "SELECT priority FROM llm_providers WHERE name = 'Gemini Pro'", "99");
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM llm_providers WHERE name = 'Claude Opus'", "0");
    ac_test_assert_sql(f->db.c, "SELECT enabled FROM llm_providers WHERE name = 'Claude Haiku'", "f");
    /* a default not added yet (a newer build's, say) is added, with the settings of now */
    ac_test_db_exec(f->db.c, "DELETE FROM llm_seeded WHERE name = 'Claude Opus'");
    assert_int_equal(ac_skills_llm_seed(f->db.c, f->s, &err), 0);
    ac_test_assert_sql(f->db.c, "SELECT enabled FROM llm_providers WHERE name = 'Claude Opus'", "t");

    /* the local ones need their flag and a host */
    ac_test_db_exec(f->db.c, "DELETE FROM llm_providers");
    ac_test_db_exec(f->db.c, "DELETE FROM llm_seeded");
    set(f, "llm.ollama_host", "");
    set(f, "llm.ollama_model", "");
    set(f, "llm.lmstudio_enabled", "true");
    assert_int_equal(ac_skills_llm_seed(f->db.c, f->s, &err), 0);
    ac_test_assert_sql(f->db.c,
                       "SELECT enabled || ' ' || model || ' ' || COALESCE(host, '-') FROM llm_providers "
                       "WHERE name = 'Ollama'",
                       "false default -");
    ac_test_assert_sql(f->db.c, "SELECT enabled FROM llm_providers WHERE name = 'LM Studio'", "t");
}

static void list_masks_secrets_and_orders_by_tier(void **state)
{
    fx_t *f = *state;
    set(f, "llm.gemini_api_key", GEM_KEY);
    int64_t o = local(f, "zeta", "light", 5,
                      "\"headers\": {\"X-Api-Key\": \"hk-1\", \"X-Custom-Token\": \"t-1\", "
                      "\"X-Plain\": \"p\", \"Cookie\": \"c=1\"}, \"daily_limit\": 10");
    local(f, "alpha", "light", 5, NULL);
    local(f, "first", "light", 1, NULL);
    local(f, "loc", "local", 0, NULL);
    prov(f, "{\"name\": \"G\", \"type\": \"gemini\", \"tier\": \"heavy\", \"model\": \"g\"}");
    prov(f, "{\"name\": \"A\", \"type\": \"anthropic\", \"tier\": \"medium\", \"model\": \"a\", \"api_key\": \"" ANT_KEY
            "\"}");
    prov(f, "{\"name\": \"A2\", \"type\": \"anthropic\", \"tier\": \"medium\", \"model\": \"a\"}");
    ask_ok(f, "light", "zeta", "zeta");
    ac_skills_llm_provider_t *ps = NULL;
    size_t n = 0;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_skills_llm_providers_list(f->db.c, f->s, &ps, &n, &err), 0);
    assert_int_equal(n, 7);
    const char *order[] = {"first", "alpha", "zeta", "A", "A2", "G", "loc"};
    for (size_t i = 0; i < n; i++)
        assert_string_equal(ps[i].name, order[i]);
    ac_skills_llm_provider_t *z = &ps[2];
    assert_int_equal(z->id, o);
    assert_int_equal(z->usage_today, 1);
    assert_int_equal(z->daily_limit, 10);
    assert_false(z->cloud);
    assert_json_eq(z->headers, "{\"X-Api-Key\": \"********\", \"X-Custom-Token\": \"********\", \"X-Plain\": \"p\", "
                               "\"Cookie\": \"********\"}");
    assert_true(ps[3].has_api_key && !ps[3].uses_setting_key && ps[3].cloud);
    assert_true(!ps[4].has_api_key && !ps[4].uses_setting_key);
    assert_true(!ps[5].has_api_key && ps[5].uses_setting_key);
    assert_int_equal(ps[6].daily_limit, -1);
    json_t *j = ac_skills_llm_provider_json(&ps[3]);
    assert_string_equal(json_string_value(json_object_get(j, "api_key")), "********");
    assert_true(json_is_null(json_object_get(j, "host")) && json_is_null(json_object_get(j, "daily_limit")));
    char *text = json_dumps(j, 0);
    assert_null(strstr(text, ANT_KEY));
    free(text);
    json_decref(j);
    j = ac_skills_llm_provider_json(z);
    assert_string_equal(json_string_value(json_object_get(j, "api_key")), "");
    assert_string_equal(json_string_value(json_object_get(j, "host")), fake.url);
    assert_int_equal(json_integer_value(json_object_get(j, "usage_today")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "ollama");
    json_decref(j);
    ac_skills_llm_providers_free(ps, n);

    /* a masked header sent back keeps its stored (sealed) value; others change */
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT headers->>'X-Api-Key' FROM llm_providers WHERE id = %lld", (long long)o);
    char *before = ac_test_db_value(f->db.c, sql);
    assert_true(strncmp(before, "enc:", 4) == 0);
    assert_int_equal(save(f, o, "{\"headers\": {\"X-Api-Key\": \"********\", \"X-Plain\": \"q\"}}", NULL, &err), 0);
    ac_test_assert_sql(f->db.c, sql, before);
    free(before);
    snprintf(sql, sizeof(sql), "SELECT headers->>'X-Plain' FROM llm_providers WHERE id = %lld", (long long)o);
    ac_test_assert_sql(f->db.c, sql, "q");
}

static void test_call_reaches_a_disabled_provider_and_counts(void **state)
{
    fx_t *f = *state;
    int64_t id = local(f, "off", "light", 1, "\"enabled\": false, \"daily_limit\": 1");
    ac_skill_ctx_t ctx = ctx_of(f, NULL, 20000);
    ac_skills_llm_answer_t ans;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_skills_llm_test(&ctx, id, &ans, &err), 0);
    assert_string_equal(ans.text, "echo: Reply with the single word: ok");
    assert_string_equal(ans.provider, "off");
    ac_skills_llm_answer_free(&ans);
    assert_int_equal(usage(f, id), 1);
    assert_int_equal(ac_skills_llm_test(&ctx, id, &ans, &err), -AC_ENOENT);
    assert_string_equal(err.msg, "all_providers_at_limit");
    assert_int_equal(ac_skills_llm_test(&ctx, id + 1, &ans, &err), -AC_ENOENT);
    assert_true(strncmp(err.msg, "unknown_provider", 16) == 0);
}

static void tier_and_provider_for_a_skill(void **state)
{
    fx_t *f = *state;
    ac_skill_ctx_t ctx = ctx_of(f, NULL, 20000);
    ac_skill_args_t args = {0};
    char buf[AC_SKILLS_LLM_NAME_MAX + 1];
    assert_string_equal(ac_skills_llm_tier_for(&ctx, &args, "github_review", "light", buf, sizeof(buf)), "medium");
    assert_string_equal(ac_skills_llm_tier_for(&ctx, &args, "nothing_here", "heavy", buf, sizeof(buf)), "heavy");
    set(f, "skill.github_review.tier", "bogus");
    assert_string_equal(ac_skills_llm_tier_for(&ctx, &args, "github_review", "light", buf, sizeof(buf)), "light");
    args.llm_tier = "local";
    assert_string_equal(ac_skills_llm_tier_for(&ctx, &args, "github_review", "light", buf, sizeof(buf)), "local");
    assert_string_equal(ac_skills_llm_provider_for(&ctx, &args, "github_review", buf, sizeof(buf)), "auto");
    set(f, "skill.github_review.provider", "My Claude");
    assert_string_equal(ac_skills_llm_provider_for(&ctx, &args, "github_review", buf, sizeof(buf)), "My Claude");
    args.llm_model = "Step One";
    assert_string_equal(ac_skills_llm_provider_for(&ctx, &args, "github_review", buf, sizeof(buf)), "Step One");
    assert_int_equal(ac_skills_llm_tier_check("medium"), 0);
    assert_int_equal(ac_skills_llm_tier_check("Medium"), -AC_EINVAL);
    assert_int_equal(ac_skills_llm_tier_check(NULL), -AC_EINVAL);
}

int main(void)
{
    ac_log_output_set(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(anthropic_request_and_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(gemini_request_and_answer_with_the_setting_key, setup, teardown),
        cmocka_unit_test_setup_teardown(ollama_request_and_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(openai_compatible_and_custom_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(tier_selection_by_priority_then_name, setup, teardown),
        cmocka_unit_test_setup_teardown(falls_back_to_local_then_no_available_model, setup, teardown),
        cmocka_unit_test_setup_teardown(named_provider, setup, teardown),
        cmocka_unit_test_setup_teardown(local_only_stays_local, setup, teardown),
        cmocka_unit_test_setup_teardown(daily_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_calls_never_pass_the_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(usage_counts_successes_only, setup, teardown),
        cmocka_unit_test_setup_teardown(gemini_429_is_retried_then_succeeds, setup, teardown),
        cmocka_unit_test_setup_teardown(gemini_quota_exhausted_is_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(gemini_429_until_retries_are_spent, setup, teardown),
        cmocka_unit_test_setup_teardown(http_errors_per_type, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_and_empty_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_response_is_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(slow_server_times_out_within_the_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(closed_connection_is_request_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(cancelled_call, setup, teardown),
        cmocka_unit_test_setup_teardown(keys_never_appear_in_errors_or_logs, setup, teardown),
        cmocka_unit_test_setup_teardown(keys_are_sealed_kept_and_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(api_key_and_host_not_set, setup, teardown),
        cmocka_unit_test_setup_teardown(provider_save_refuses_each_bad_field, setup, teardown),
        cmocka_unit_test_setup_teardown(duplicate_names_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(seed_is_idempotent_and_enables_by_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(list_masks_secrets_and_orders_by_tier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_reaches_a_disabled_provider_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(tier_and_provider_for_a_skill, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
