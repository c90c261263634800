/* tests/integration/test_coder.c - the coder skill end to end in one process, against the suite's PostgreSQL, the
 * real sandbox helper and a loopback "local model" (tests/support/fake_llm.h, an Ollama provider of the local tier):
 * a hostile, a broken and a valid answer in a row (three audited attempts, the errors fed back into the next prompts),
 * the owner's 2FA approval (nothing is loaded before it; the approved skill then runs with its permissions), the
 * disabled workflow, exhaustion, rejected declarations, no_code_block, only the local tier ever asked, names that
 * cannot escape SKILLS_DIR or take a taken name, approval not requested without 2FA or while a request waits, and the
 * /coder chat command (one at a time). */
#include "node/action.h"
#include "node/ask_owner.h"
#include "node/challenge.h"
#include "node/coder.h"
#include "node/config.h"
#include "node/dynskills.h"
#include "node/env.h"
#include "node/settings_store.h"
#include "node/skillapi.h"
#include "node/twofa.h"
#include "policy/alloc.h"
#include "policy/audit.h"
#include "policy/totp.h"
#include "skills/llm.h"
#include "tests/support/fake_llm.h"
#include "tests/support/testdb.h"

#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define SKB  "test-secret-key-base-0123456789-0123456789-abcdef"
#define CHAT "4242"

static ac_fake_llm_t fake; /* one server for the whole run, reset before each test */

typedef struct {
    ac_test_db_t db;
    ac_node_env_t env;
    ac_node_settings_t *s;
    ac_skills_registry_t *reg;
    ac_node_policies_t *pol;
    ac_policy_skillrate_t *rate;
    uint8_t token_key[32], audit_key[32];
    ac_node_dynskills_t *dyn;
    ac_node_skillapi_t *api;
    ac_node_coder_t *coder;
    char root[PATH_MAX], dir[PATH_MAX + 16];
    char secret[AC_POLICY_TOTP_SECRET_LEN + 1];
    pthread_mutex_t lock;
    char sent[8192]; /* what ask_owner sent to the chat */
    int sends;
    char said[8192]; /* what the /coder command said */
    int says;
} fx_t;

static int capture_send(void *arg, const char *chat_id, const char *text)
{
    fx_t *f = arg;
    pthread_mutex_lock(&f->lock);
    size_t n = strlen(f->sent);
    snprintf(f->sent + n, sizeof(f->sent) - n, "[%s] %s\n", chat_id, text);
    f->sends++;
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static void capture_say(void *arg, const char *chat_id, const char *text)
{
    fx_t *f = arg;
    pthread_mutex_lock(&f->lock);
    size_t n = strlen(f->said);
    snprintf(f->said + n, sizeof(f->said) - n, "[%s] %s\n", chat_id, text);
    f->says++;
    pthread_mutex_unlock(&f->lock);
}

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

static void set(fx_t *f, const char *key, const char *value)
{
    ac_errmsg_t err = {{0}};
    if (ac_node_settings_store_set(f->db.c, f->s, key, value, NULL, &err) != 0)
        fail_msg("set %s: %s", key, err.msg);
}

/* Saves a provider from a JSON text in which "@URL@" stands for the fake server's URL. */
static int64_t provider(fx_t *f, const char *text)
{
    char buf[1024];
    const char *at = strstr(text, "@URL@");
    assert_non_null(at);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - text), text, fake.url, at + 5);
    json_error_t je;
    json_t *j = json_loads(buf, 0, &je);
    if (j == NULL)
        fail_msg("bad test JSON: %s", je.text);
    int64_t id = 0;
    ac_errmsg_t err = {{0}};
    if (ac_skills_llm_provider_save(f->db.c, f->s, 0, j, &id, &err) != 0)
        fail_msg("provider: %s", err.msg);
    json_decref(j);
    return id;
}

static int setup(void **state)
{
    fx_t *f = ac_calloc(1, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    ac_fake_llm_control(&fake, "reset", "{}");
    ac_test_db_open_migrated("coder", &f->db);
    f->env.values = ac_calloc(ac_node_config_registry_count, sizeof(char *));
    uint8_t key[32] = {4, 2};
    f->s = ac_node_settings_new(key);
    ac_errmsg_t err = {{0}};
    if (ac_node_settings_store_boot(f->db.c, &f->env, f->s, &err) != 0)
        fail_msg("settings: %s", err.msg);
    assert_int_equal(ac_policy_totp_init(), 0);
    f->reg = ac_skills_registry_new();
    ac_skills_registry_add_core(f->reg);
    f->pol = ac_node_policies_new(f->db.ci);
    f->rate = ac_policy_skillrate_new();
    assert_int_equal(ac_policy_captoken_key(SKB, strlen(SKB), f->token_key), 0);
    assert_int_equal(ac_policy_audit_key(SKB, strlen(SKB), f->audit_key), 0);
    snprintf(f->root, sizeof(f->root), "/tmp/ac-coder-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    chmod(f->root, 0755);
    snprintf(f->dir, sizeof(f->dir), "%s/skills", f->root);
    ac_node_dynskills_cfg_t dc = {.skills_dir = f->dir,
                                  .helper = getenv("AC_SANDBOX_BIN"),
                                  .uid = 65534,
                                  .gid = 65534,
                                  .registry = f->reg,
                                  .settings = f->s,
                                  .conninfo = f->db.ci};
    assert_non_null(dc.helper);
    if (ac_node_dynskills_new(&dc, &f->dyn, &err) != 0)
        fail_msg("dynskills: %s", err.msg);
    ac_node_skillapi_cfg_t ac = {
        .authz = {f->pol, f->rate, f->token_key, f->audit_key, f->s},
        .registry = f->reg,
        .dyn = f->dyn,
        .settings = f->s,
    };
    f->api = ac_node_skillapi_new(&ac);
    ac_node_dynskills_set_api(f->dyn, f->api);
    ac_skill_ctx_t base = {.settings = f->s, .gemini_url = fake.url, .anthropic_url = fake.url};
    ac_node_coder_cfg_t cc = {.dyn = f->dyn,
                              .settings = f->s,
                              .ask = {.settings = f->s, .send = capture_send, .arg = f},
                              .conninfo = f->db.ci,
                              .base = &base};
    f->coder = ac_node_coder_new(&cc);
    assert_int_equal(ac_node_coder_register(f->coder, f->reg, &err), 0);
    assert_int_equal(ac_node_coder_register(f->coder, f->reg, &err), -AC_EEXIST);
    /* the local model, and providers the coder must never use: a light-tier cloud one and a light-tier Ollama */
    provider(f, "{\"name\": \"Local\", \"type\": \"ollama\", \"tier\": \"local\", \"model\": \"m-local\", "
                "\"host\": \"@URL@\"}");
    provider(f, "{\"name\": \"Claude Haiku\", \"type\": \"anthropic\", \"tier\": \"light\", \"model\": \"haiku\", "
                "\"api_key\": \"sk-ant-coder-test\", \"priority\": 1, \"host\": \"@URL@\"}");
    provider(f, "{\"name\": \"Remote Ollama\", \"type\": \"ollama\", \"tier\": \"light\", \"model\": \"m-light\", "
                "\"host\": \"@URL@\", \"priority\": 2}");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    ac_node_coder_free(f->coder);
    ac_node_dynskills_free(f->dyn);
    ac_node_skillapi_free(f->api);
    ac_node_policies_free(f->pol);
    ac_policy_skillrate_free(f->rate);
    ac_skills_registry_free(f->reg);
    ac_policy_totp_done();
    ac_node_settings_free(f->s);
    ac_node_env_free(&f->env);
    ac_test_db_close(&f->db);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
    (void)system(cmd);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return 0;
}

/* 2FA on (confirmed with the current step's code) and the owner's chat configured. */
static void enable_2fa(fx_t *f)
{
    set(f, "telegram.chat_id", CHAT);
    char uri[256], code[8];
    ac_errmsg_t err = {{0}};
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(ac_node_twofa_setup(f->db.c, f->s, "admin", NULL, now, f->secret, uri, sizeof(uri), &err), 0);
    assert_int_equal(ac_policy_totp_code(f->secret, now, code), 0);
    if (ac_node_twofa_confirm(f->db.c, f->s, code, now, &err) != 0)
        fail_msg("confirm: %s", err.msg);
    assert_true(ac_node_twofa_enabled(f->s));
}

/* Runs the coder like a workflow step. config: a JSON text or NULL. */
static int run_coder(fx_t *f, const char *goal, const char *config, ac_skill_result_t *res)
{
    const ac_skill_def_t *def = ac_skills_registry_find(f->reg, "coder");
    assert_non_null(def);
    assert_ptr_equal(def, ac_node_coder_def(f->coder));
    ac_skill_ctx_t ctx = {.settings = f->s,
                          .deadline_ms = ac_skill_now_ms() + 120000,
                          .db = f->db.c,
                          .self = def,
                          .gemini_url = fake.url,
                          .anthropic_url = fake.url};
    json_t *cfg = config != NULL ? json_loads(config, 0, NULL) : json_object();
    assert_non_null(cfg);
    json_t *in = goal != NULL ? json_string(goal) : NULL;
    ac_skill_args_t a = {in, cfg, NULL, NULL, NULL};
    memset(res, 0, sizeof(*res));
    int rc = def->run(&ctx, &a, res);
    ac_skills_registry_release(f->reg, def);
    json_decref(in);
    json_decref(cfg);
    return rc;
}

static int run_skill(fx_t *f, const char *name, const char *input, ac_skill_result_t *res)
{
    const ac_skill_def_t *def = ac_skills_registry_find(f->reg, name);
    assert_non_null(def);
    ac_skill_ctx_t ctx = {.settings = f->s, .deadline_ms = ac_skill_now_ms() + 20000, .db = f->db.c, .self = def};
    json_t *in = json_string(input), *cfg = json_object();
    ac_skill_args_t a = {in, cfg, NULL, NULL, NULL};
    memset(res, 0, sizeof(*res));
    int rc = def->run(&ctx, &a, res);
    ac_skills_registry_release(f->reg, def);
    json_decref(in);
    json_decref(cfg);
    return rc;
}

/* The model's next answer. */
static void answer(const char *text)
{
    ac_fake_llm_say(&fake, "ollama", text);
}

/* The user message of the i-th recorded request (owned), after checking that every request went to the local
 * model with the coder's system prompt. OUT: *count. */
static char *user_message(int i, size_t *count)
{
    json_t *all = ac_fake_llm_requests(&fake);
    *count = json_array_size(all);
    size_t k;
    json_t *r;
    json_array_foreach(all, k, r)
    {
        const char *route = json_string_value(json_object_get(r, "route"));
        if (route == NULL || strcmp(route, "ollama") != 0)
            fail_msg("request %zu went to %s", k, route != NULL ? route : "?");
        json_t *body = json_object_get(r, "body");
        assert_string_equal(json_string_value(json_object_get(body, "model")), "m-local");
        json_t *sys = json_array_get(json_object_get(body, "messages"), 0);
        assert_string_equal(json_string_value(json_object_get(sys, "role")), "system");
        assert_non_null(strstr(json_string_value(json_object_get(sys, "content")), "SkillAPI"));
    }
    json_t *msgs = json_object_get(json_object_get(json_array_get(all, (size_t)i), "body"), "messages");
    const char *u = json_string_value(json_object_get(json_array_get(msgs, 1), "content"));
    char *out = u != NULL ? ac_strdup(u) : NULL;
    json_decref(all);
    return out;
}

static char *sql(fx_t *f, const char *q)
{
    return ac_test_db_value(f->db.c, q);
}

#define VALID_WORDS(name)                                                                                              \
    "skill = { name = '" name "', version = '1.0', description = 'counts words',\n"                                    \
    "  permissions = { 'memory_read' }, routes = { 'on_success', 'on_error' } }\n"                                     \
    "function run(args)\n"                                                                                             \
    "  local n = 0\n"                                                                                                  \
    "  for _ in tostring(args.input or ''):gmatch('%S+') do n = n + 1 end\n"                                           \
    "  local r, e = SkillAPI.memory_recent({ limit = 1 })\n"                                                           \
    "  local seen = r and 'memory ok' or ('memory ' .. tostring(e))\n"                                                 \
    "  return true, 'words: ' .. n .. ' (' .. seen .. ')'\n"                                                           \
    "end\n"

#define GOAL "Please create a skill that counts the words of a text"

/* Hostile, then broken, then valid: three audited attempts; approval by 2FA loads exactly that skill. */
static void hostile_broken_valid_then_owner_approves(void **state)
{
    fx_t *f = *state;
    enable_2fa(f);
    answer("Sure.\n```lua\nskill = { name = 'counts_words_text', version = '1' }\n"
           "function run(args) os.execute('touch /tmp/ac-coder-pwned') return true, 'done' end\n```\n");
    answer("```lua\nskill = { name = 'counts_words_text', version = '1' }\nfunction run(args) return true, 'x' \n```");
    answer("<think>First a draft:\n```lua\nskill = { name = 'wrong' }\n```\nno.</think>\nHere is the file:\n"
           "```lua\n" VALID_WORDS("counts_words_text") "```\nDone.");
    ac_skill_result_t res;
    if (run_coder(f, GOAL, "{\"create_workflow\": true}", &res) != 0)
        fail_msg("coder: %s", res.error);
    assert_string_equal(res.branch, "on_workflow_created");
    assert_string_equal(json_string_value(json_object_get(res.output, "skill")), "counts_words_text");
    assert_string_equal(json_string_value(json_object_get(res.output, "file")), "counts_words_text.lua");
    assert_string_equal(json_string_value(json_object_get(res.output, "approval")), "pending_2fa");
    assert_int_equal(json_integer_value(json_object_get(res.output, "attempts")), 3);
    json_int_t wid = json_integer_value(json_object_get(res.output, "workflow_id"));
    assert_true(wid > 0);
    char want_sum[65];
    snprintf(want_sum, sizeof(want_sum), "%s", json_string_value(json_object_get(res.output, "checksum")));
    json_decref(res.output);

    /* the audit trail: one row per attempt, every source kept */
    ac_test_assert_sql(f->db.c,
                       "SELECT string_agg(attempt || ':' || outcome || ':' || skill_name, ',' ORDER BY attempt) "
                       "FROM coder_generations",
                       "1:rejected:counts_words_text,2:broken:counts_words_text,3:valid:counts_words_text");
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM coder_generations WHERE source IS NULL OR goal <> '" GOAL "'",
                       "0");
    ac_test_assert_sql(f->db.c, "SELECT error IS NULL FROM coder_generations WHERE attempt = 3", "t");
    char *sum = sql(f, "SELECT sha256 FROM coder_generations WHERE attempt = 3");
    assert_string_equal(sum, want_sum);
    free(sum);
    char *e1 = sql(f, "SELECT error FROM coder_generations WHERE attempt = 1");
    char *e2 = sql(f, "SELECT error FROM coder_generations WHERE attempt = 2");
    assert_non_null(strstr(e1, "os"));
    assert_non_null(strstr(e2, "'end' expected"));

    /* the prompts: the name, and from the second attempt the previous error; only the local model was asked */
    size_t count = 0;
    char *p1 = user_message(0, &count), *p2 = user_message(1, &count), *p3 = user_message(2, &count);
    assert_int_equal(count, 3);
    assert_non_null(strstr(p1, GOAL));
    assert_non_null(strstr(p1, "The skill's name must be: counts_words_text"));
    assert_null(strstr(p1, "previous attempt"));
    assert_non_null(strstr(p2, e1));
    assert_non_null(strstr(p3, e2));
    assert_null(strstr(p3, e1));
    free(p1);
    free(p2);
    free(p3);
    free(e1);
    free(e2);

    /* nothing is loaded: the owner was asked, with the checksum bound */
    assert_false(ac_skills_registry_has(f->reg, "counts_words_text"));
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM dynamic_skills", "0");
    ac_test_assert_sql(f->db.c,
                       "SELECT scope || ' ' || (action->>'type') || ' ' || (action->>'file') FROM twofa_challenges",
                       "telegram:" CHAT " skill_load counts_words_text.lua");
    ac_test_assert_sql(f->db.c,
                       "SELECT (SELECT action->'expect'->>'checksum' FROM twofa_challenges) = sha256 FROM "
                       "coder_generations WHERE attempt = 3",
                       "t");
    assert_int_equal(f->sends, 1);
    assert_non_null(strstr(f->sent, "[" CHAT "] This action requires 2FA verification."));
    assert_non_null(strstr(f->sent, "Load the dynamic skill `counts_words_text`"));
    assert_non_null(strstr(f->sent, "written by the coder skill"));
    /* the failed attempts' files are gone; the valid one stays for the approval */
    assert_int_equal(ac_node_dynskills_count_files(f->dyn), 1);

    /* the workflow: disabled, [skill, telegram_notify] */
    char q[256];
    snprintf(q, sizeof(q),
             "SELECT w.name || ':' || coalesce(w.enabled::text, 'null') || ':' || string_agg(s.skill, ',' ORDER BY "
             "s.position) FROM workflows w JOIN workflow_steps s ON s.workflow_id = w.id WHERE w.id = %lld GROUP BY "
             "w.id",
             (long long)wid);
    ac_test_assert_sql(f->db.c, q, "Auto: counts_words_text:false:counts_words_text,telegram_notify");

    /* the owner approves with a code of the next step */
    char code[8];
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(ac_policy_totp_code(f->secret, now + 30, code), 0);
    json_t *action = NULL;
    int left = 0;
    ac_errmsg_t err = {{0}};
    if (ac_node_challenge_resolve(f->db.c, f->s, "telegram:" CHAT, NULL, code, now, &action, &left, &err) != 0)
        fail_msg("resolve: %s", err.msg);
    ac_node_action_env_t env = {.conn = f->db.c, .settings = f->s, .dynskills = f->dyn};
    json_t *result = NULL;
    if (ac_node_action_exec(&env, action, &result, &err) != 0)
        fail_msg("exec: %s", err.msg);
    json_decref(result);
    json_decref(action);
    assert_true(ac_skills_registry_has(f->reg, "counts_words_text"));
    ac_test_assert_sql(f->db.c,
                       "SELECT checksum = (SELECT sha256 FROM coder_generations WHERE attempt = 3) FROM "
                       "dynamic_skills WHERE name = 'counts_words_text'",
                       "t");
    /* loaded, it runs with its declared permission (the test run had none) */
    ac_skill_result_t r2;
    if (run_skill(f, "counts_words_text", "one two three", &r2) != 0)
        fail_msg("run: %s", r2.error);
    assert_string_equal(json_string_value(r2.output), "words: 3 (memory ok)");
    json_decref(r2.output);
    assert_int_not_equal(access("/tmp/ac-coder-pwned", F_OK), 0);
}

/* Declarations the loader refuses, Lua that fails, and the end: generation_failed with the last error. */
static void exhausted_attempts_fail_and_leave_nothing(void **state)
{
    fx_t *f = *state;
    enable_2fa(f);
    answer("```lua\nskill = { name = 'shell', version = '1' }\nfunction run() return true, 'x' end\n```");
    answer("```lua\nskill = { name = 'counts_words_text', version = '1', permissions = { 'root_access' } }\n"
           "function run() return true, 'x' end\n```");
    answer("```lua\nskill = { name = 'counts_words_text', version = '1' }\n"
           "function run(args) error('boom at ' .. args.input) end\n```");
    answer("```lua\n" VALID_WORDS("counts_words_text") "```"); /* never asked for */
    ac_skill_result_t res;
    assert_int_not_equal(run_coder(f, GOAL, "{\"max_retries\": 3}", &res), 0);
    assert_non_null(strstr(res.error, "generation_failed"));
    assert_non_null(strstr(res.error, "boom at test"));
    ac_test_assert_sql(f->db.c, "SELECT string_agg(outcome, ',' ORDER BY attempt) FROM coder_generations",
                       "rejected,rejected,broken");
    char *e1 = sql(f, "SELECT error FROM coder_generations WHERE attempt = 1");
    char *e2 = sql(f, "SELECT error FROM coder_generations WHERE attempt = 2");
    assert_non_null(strstr(e1, "shell"));
    assert_non_null(strstr(e2, "root_access"));
    free(e1);
    free(e2);
    size_t count = 0;
    free(user_message(0, &count));
    assert_int_equal(count, 3);
    assert_int_equal(ac_node_dynskills_count_files(f->dyn), 0);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "0");
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM workflows", "0");
    assert_int_equal(f->sends, 0);
    assert_false(ac_skills_registry_has(f->reg, "counts_words_text"));
    /* a bad max_retries is refused, not replaced */
    assert_int_not_equal(run_coder(f, GOAL, "{\"max_retries\": 11}", &res), 0);
    assert_non_null(strstr(res.error, "invalid_config"));
    /* no goal */
    assert_int_not_equal(run_coder(f, "   ", "{}", &res), 0);
    assert_non_null(strstr(res.error, "no_goal"));
    char big[AC_NODE_CODER_GOAL_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_not_equal(run_coder(f, big, "{}", &res), 0);
    assert_non_null(strstr(res.error, "goal_too_long"));
    /* no local model: the cloud and light-tier providers are never used instead */
    ac_test_db_exec(f->db.c, "UPDATE llm_providers SET enabled = false WHERE tier = 'local'");
    ac_fake_llm_control(&fake, "reset", "{}");
    assert_int_not_equal(run_coder(f, GOAL, "{}", &res), 0);
    assert_non_null(strstr(res.error, "generation_failed"));
    assert_non_null(strstr(res.error, "no_available_model"));
    json_t *all = ac_fake_llm_requests(&fake);
    assert_int_equal(json_array_size(all), 0);
    json_decref(all);
}

/* The setting coder.max_retries, no_code_block, a bare ``` block, names that collide, approval without 2FA. */
static void no_code_block_names_and_no_2fa(void **state)
{
    fx_t *f = *state;
    set(f, "coder.max_retries", "1");
    answer("I would rather not write code today.");
    ac_skill_result_t res;
    assert_int_not_equal(run_coder(f, NULL, "{\"goal\": \"Shell!\"}", &res), 0);
    assert_non_null(strstr(res.error, "generation_failed: no_code_block"));
    ac_test_assert_sql(f->db.c,
                       "SELECT outcome || ':' || skill_name || ':' || (source IS NULL)::text || ':' || "
                       "(sha256 IS NULL)::text FROM coder_generations",
                       "rejected:shell_2:true:true");
    size_t count = 0;
    free(user_message(0, &count));
    assert_int_equal(count, 1);

    /* shell is a core skill, shell_2.lua exists: shell_3; a bare ``` block is taken when there is no ```lua */
    ac_test_db_exec(f->db.c, "DELETE FROM coder_generations");
    ac_fake_llm_control(&fake, "reset", "{}");
    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/shell_2.lua", f->dir);
    FILE *o = fopen(path, "w");
    assert_non_null(o);
    fputs("-- the owner's own file\n", o);
    fclose(o);
    /* the coder's writer never replaces an existing entry (decided by the rename), unlike the plain writer */
    ac_errmsg_t werr = {{0}};
    assert_int_equal(ac_node_dynskills_write_new(f->dyn, "shell_2.lua", "x = 1\n", 6, &werr), -AC_EEXIST);
    char *kept = NULL;
    size_t kept_len = 0;
    char kept_sha[65];
    assert_int_equal(ac_skills_dynfile_read(f->dir, path, &kept, &kept_len, kept_sha, &werr), 0);
    assert_string_equal(kept, "-- the owner's own file\n");
    free(kept);
    answer("no code here");
    answer("```\n" VALID_WORDS("shell_3") "```");
    if (run_coder(f, "Shell!", "{\"max_retries\": \"2\"}", &res) != 0)
        fail_msg("coder: %s", res.error);
    assert_string_equal(res.branch, "on_created");
    assert_string_equal(json_string_value(json_object_get(res.output, "skill")), "shell_3");
    const char *approval = json_string_value(json_object_get(res.output, "approval"));
    assert_non_null(strstr(approval, "not_requested: 2FA is off"));
    assert_non_null(strstr(approval, "admin UI (Skills page)"));
    assert_null(json_object_get(res.output, "workflow_id"));
    json_decref(res.output);
    char *p1 = user_message(0, &count), *p2 = user_message(1, &count);
    assert_int_equal(count, 2);
    assert_non_null(strstr(p1, "The skill's name must be: shell_3"));
    assert_non_null(strstr(p2, "no_code_block"));
    free(p1);
    free(p2);
    ac_test_assert_sql(f->db.c, "SELECT string_agg(outcome, ',' ORDER BY attempt) FROM coder_generations",
                       "rejected,valid");
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "0");
    assert_false(ac_skills_registry_has(f->reg, "shell_3"));
    assert_int_equal(ac_node_dynskills_count_files(f->dyn), 2); /* the owner's file is untouched */
    o = fopen(path, "r");
    char line[64] = "";
    assert_non_null(fgets(line, sizeof(line), o));
    fclose(o);
    assert_string_equal(line, "-- the owner's own file\n");
    assert_int_equal(f->sends, 0);

    /* a name recorded in dynamic_skills (another node's skill) and one loaded here are taken too */
    ac_test_db_exec(f->db.c, "INSERT INTO dynamic_skills (name, module_name, file_path, checksum) VALUES ('shell_4', "
                             "'shell_4', 'elsewhere.lua', repeat('a', 64))");
    snprintf(path, sizeof(path), "%s/loaded.lua", f->dir);
    o = fopen(path, "w");
    assert_non_null(o);
    fputs("skill = { name = 'shell_5', version = '1' } function run() return true, 'x' end\n", o);
    fclose(o);
    json_t *info = NULL;
    ac_errmsg_t err = {{0}};
    if (ac_node_dynskills_load(f->dyn, f->db.c, "loaded.lua", false, &info, &err) != 0)
        fail_msg("load: %s", err.msg);
    json_decref(info);
    answer("still no code");
    assert_int_not_equal(run_coder(f, "shell", "{\"max_retries\": 1}", &res), 0);
    ac_test_assert_sql(f->db.c,
                       "SELECT skill_name FROM coder_generations WHERE outcome = 'rejected' ORDER BY id DESC "
                       "LIMIT 1",
                       "shell_6");
}

/* Names never leave SKILLS_DIR and never take a reserved one; extraction of the code. */
static void names_and_extraction(void **state)
{
    (void)state;
    static const struct {
        const char *goal, *name;
    } cases[] = {
        {GOAL, "counts_words_text"},
        {"../../etc/passwd", "etcpasswd"},
        {"..\\..\\windows /x/ ..", "windows_x"},
        {"Fetch   the\tWeather\nfor Paris and Berlin", "fetch_weather_paris_berlin"},
        {"123 numbers first", "generated_skill"},
        {"the a an of", "generated_skill"},
        {"", "generated_skill"},
        {"Résumé crème brûlée", "rsum_crme_brle"},
        {"supercalifragilisticexpialidocious extraordinarily long words", "supercalifragilisticexpialidocious_extra"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64];
        ac_node_coder_name_from_goal(cases[i].goal, out, sizeof(out));
        if (strcmp(out, cases[i].name) != 0)
            fail_msg("%s -> %s, want %s", cases[i].goal, out, cases[i].name);
        assert_true(strlen(out) <= AC_NODE_CODER_NAME_MAX);
        assert_null(strstr(out, ".."));
        assert_null(strchr(out, '/'));
        assert_null(strchr(out, '\\'));
    }
    size_t n;
    char *c = ac_node_coder_extract("x\n```Lua\nlocal a = 1\n```\n```lua\nlocal b = 2\n```", &n);
    assert_string_equal(c, "local a = 1\n");
    assert_int_equal(n, strlen(c));
    free(c);
    c = ac_node_coder_extract("```python\nprint(1)\n```\n```lua\nskill = {}\n```", &n);
    assert_string_equal(c, "skill = {}\n");
    free(c);
    c = ac_node_coder_extract("```python\nprint(1)\n```", &n); /* the first ``` block when there is no lua one */
    assert_string_equal(c, "print(1)\n");
    free(c);
    c = ac_node_coder_extract("draft</think>```lua\nreal\n```", &n);
    assert_string_equal(c, "real\n");
    free(c);
    assert_null(ac_node_coder_extract("<think>```lua\nhidden\n```", &n));
    assert_null(ac_node_coder_extract("```lua\nnever closed", &n));
    assert_null(ac_node_coder_extract("```lua\n  \n```", &n));
    assert_null(ac_node_coder_extract("plain text", &n));
}

static bool wait_idle(fx_t *f, int ms)
{
    for (int waited = 0; ac_node_coder_chat_busy(f->coder) && waited < ms; waited += 50)
        usleep(50 * 1000);
    return !ac_node_coder_chat_busy(f->coder);
}

/* /coder: its own thread, one at a time, progress and result in the chat; a request already waiting for the owner
 * is never replaced. */
static void chat_command_one_at_a_time(void **state)
{
    fx_t *f = *state;
    enable_2fa(f);
    /* the owner's own request waits */
    json_t *mine = ac_node_action_shell("uptime");
    char id[AC_NODE_CHALLENGE_ID_MAX];
    ac_errmsg_t err = {{0}};
    assert_int_equal(
        ac_node_challenge_create(f->db.c, "telegram:" CHAT, mine, "Execute: `uptime`", (int64_t)time(NULL), id, &err),
        0);
    json_decref(mine);
    ac_fake_llm_control(&fake, "script",
                        "{\"route\": \"ollama\", \"responses\": [{\"delay_ms\": 1500, \"text\": \"```lua\\nskill = { "
                        "name = 'word_counter', version = '1' }\\nfunction run(a) return true, 'ok' end\\n```\"}]}");
    assert_int_equal(ac_node_coder_chat_start(f->coder, CHAT, "a word counter", false, capture_say, f, &err), 0);
    assert_int_equal(ac_node_coder_chat_start(f->coder, CHAT, "another one", false, capture_say, f, &err), -AC_EAGAIN);
    assert_non_null(strstr(err.msg, "busy"));
    assert_int_equal(ac_node_coder_chat_start(f->coder, CHAT, "  ", false, capture_say, f, &err), -AC_EINVAL);
    assert_true(wait_idle(f, 60000));
    pthread_mutex_lock(&f->lock);
    assert_non_null(strstr(f->said, "[" CHAT "] Coder: writing the skill word_counter"));
    assert_non_null(strstr(f->said, "the skill word_counter is written (word_counter.lua, attempt 1"));
    assert_non_null(strstr(f->said, "NOT loaded (not_requested: the owner has a 2FA request waiting"));
    pthread_mutex_unlock(&f->lock);
    char q[160];
    snprintf(q, sizeof(q), "SELECT id = '%s' AND action->>'type' = 'shell_command' FROM twofa_challenges", id);
    ac_test_assert_sql(f->db.c, q, "t");
    assert_int_equal(f->sends, 0);
    assert_false(ac_skills_registry_has(f->reg, "word_counter"));

    /* once the owner answered, the next /coder asks; a second run after the first ended is fine */
    assert_int_equal(ac_node_challenge_cancel(f->db.c, "telegram:" CHAT, &err), 0);
    answer("```lua\nskill = { name = 'word_counter_2', version = '1' }\nfunction run(a) return true, 'ok' end\n```");
    assert_int_equal(ac_node_coder_chat_start(f->coder, CHAT, "a word counter", true, capture_say, f, &err), 0);
    assert_true(wait_idle(f, 60000));
    pthread_mutex_lock(&f->lock);
    assert_non_null(strstr(f->said, "answer the 2FA request with your code"));
    assert_non_null(strstr(f->said, "Workflow \"Auto: word_counter_2\" created, disabled"));
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(f->sends, 1);
    ac_test_assert_sql(f->db.c, "SELECT action->>'file' FROM twofa_challenges", "word_counter_2.lua");

    /* freeing stops a generation in flight */
    ac_fake_llm_control(&fake, "script",
                        "{\"route\": \"ollama\", \"responses\": [{\"delay_ms\": 20000, \"text\": \"late\"}]}");
    assert_int_equal(ac_node_coder_chat_start(f->coder, CHAT, "slow one", false, capture_say, f, &err), 0);
    usleep(300 * 1000);
    int64_t t0 = ac_skill_now_ms();
    ac_node_coder_free(f->coder);
    f->coder = NULL;
    assert_true(ac_skill_now_ms() - t0 < 10000);
    pthread_mutex_lock(&f->lock);
    assert_non_null(strstr(f->said, "no skill was made"));
    pthread_mutex_unlock(&f->lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_and_extraction),
        cmocka_unit_test_setup_teardown(hostile_broken_valid_then_owner_approves, setup, teardown),
        cmocka_unit_test_setup_teardown(exhausted_attempts_fail_and_leave_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(no_code_block_names_and_no_2fa, setup, teardown),
        cmocka_unit_test_setup_teardown(chat_command_one_at_a_time, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
