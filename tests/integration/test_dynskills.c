/* tests/integration/test_dynskills.c - dynamic skills end to end in one process, against the suite's PostgreSQL and
 * the real sandbox helper: loading (every check), running through the registry like a workflow step, the SkillAPI's
 * permission checks with their audit rows, chain depth and token attenuation, web_read's destination guard against a
 * loopback server, write_skill's file rules, workflow_manage's limits, 2FA for load/unload/reload, boot with a
 * changed file, unload, and the hostile corpus (tests/hostile/) run through the node: contained, audited, the node
 * unharmed. */
#include "node/action.h"
#include "node/audit.h"
#include "node/config.h"
#include "node/dynskills.h"
#include "node/env.h"
#include "node/settings_store.h"
#include "node/skillapi.h"
#include "policy/alloc.h"
#include "policy/audit.h"
#include "tests/support/testdb.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define SKB "test-secret-key-base-0123456789-0123456789-abcdef"

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
    char root[PATH_MAX], dir[PATH_MAX + 16];
    char alerts[2048];
} fx_t;

static void put(fx_t *f, const char *name, const char *src)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", f->dir, name);
    FILE *o = fopen(p, "wb");
    assert_non_null(o);
    fputs(src, o);
    fclose(o);
}

static void make_dyn(fx_t *f)
{
    ac_errmsg_t err = {{0}};
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
}

static void drop_dyn(fx_t *f)
{
    ac_node_dynskills_free(f->dyn);
    ac_node_skillapi_free(f->api);
    f->dyn = NULL;
    f->api = NULL;
}

static int setup(void **state)
{
    fx_t *f = ac_calloc(1, sizeof(*f));
    ac_test_db_open_migrated("dynskills", &f->db);
    f->env.values = ac_calloc(ac_node_config_registry_count, sizeof(char *));
    uint8_t key[32] = {9};
    f->s = ac_node_settings_new(key);
    ac_errmsg_t err = {{0}};
    if (ac_node_settings_store_boot(f->db.c, &f->env, f->s, &err) != 0)
        fail_msg("settings: %s", err.msg);
    f->reg = ac_skills_registry_new();
    ac_skills_registry_add_core(f->reg);
    f->pol = ac_node_policies_new(f->db.ci);
    f->rate = ac_policy_skillrate_new();
    assert_int_equal(ac_policy_captoken_key(SKB, strlen(SKB), f->token_key), 0);
    assert_int_equal(ac_policy_audit_key(SKB, strlen(SKB), f->audit_key), 0);
    snprintf(f->root, sizeof(f->root), "/tmp/ac-dynskills-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    chmod(f->root, 0755); /* the sandbox user never reads files, but keep the tree ordinary */
    snprintf(f->dir, sizeof(f->dir), "%s/skills", f->root);
    make_dyn(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    drop_dyn(f);
    ac_node_policies_free(f->pol);
    ac_policy_skillrate_free(f->rate);
    ac_skills_registry_free(f->reg);
    ac_node_settings_free(f->s);
    ac_node_env_free(&f->env);
    ac_test_db_close(&f->db);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
    (void)system(cmd);
    free(f);
    return 0;
}

static int load(fx_t *f, const char *file, bool force, ac_errmsg_t *err)
{
    json_t *info = NULL;
    int rc = ac_node_dynskills_load(f->dyn, f->db.c, file, force, &info, err);
    json_decref(info);
    return rc;
}

static void load_ok(fx_t *f, const char *file)
{
    ac_errmsg_t err = {{0}};
    if (load(f, file, true, &err) != 0)
        fail_msg("load %s: %s", file, err.msg);
}

/* Runs a definition like a workflow step does. Returns its rc; res filled. */
static int run_def(fx_t *f, const ac_skill_def_t *def, json_t *input, ac_skill_result_t *res)
{
    ac_skill_ctx_t ctx = {
        .settings = f->s, .run_id = 0, .deadline_ms = ac_skill_now_ms() + 20000, .db = f->db.c, .self = def};
    json_t *config = json_object();
    ac_skill_args_t a = {input, config, NULL, NULL, NULL};
    memset(res, 0, sizeof(*res));
    int rc = def->run(&ctx, &a, res);
    json_decref(config);
    return rc;
}

/* Runs a registered skill: found (held), run, given back. */
static int run(fx_t *f, const char *name, json_t *input, ac_skill_result_t *res)
{
    const ac_skill_def_t *def = ac_skills_registry_find(f->reg, name);
    assert_non_null(def);
    int rc = run_def(f, def, input, res);
    ac_skills_registry_release(f->reg, def);
    return rc;
}

static void set(fx_t *f, const char *key, const char *value)
{
    ac_errmsg_t err = {{0}};
    if (ac_node_settings_store_set(f->db.c, f->s, key, value, NULL, &err) != 0)
        fail_msg("set %s: %s", key, err.msg);
}

static char *audit_count(fx_t *f, const char *caller, const char *perm)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM auth_audit_log WHERE caller = 'dynamic:%s' AND permission = '%s' AND "
             "decision = 'deny'",
             caller, perm);
    return ac_test_db_value(f->db.c, sql);
}

#define assert_audited(f, caller, perm)                                                                                \
    do {                                                                                                               \
        char *n_ = audit_count((f), (caller), (perm));                                                                 \
        if (atoi(n_) < 1)                                                                                              \
            fail_msg("no audited denial of %s for %s", (perm), (caller));                                              \
        free(n_);                                                                                                      \
    } while (0)

static void loads_checks_and_runs(void **state)
{
    fx_t *f = *state;
    put(f, "greet.lua",
        "skill = { name = 'greet', version = '1.0', description = 'says hello',\n"
        "  permissions = { 'memory_write' }, routes = { 'on_success', 'on_shy', 'on_error' } }\n"
        "function run(args)\n"
        "  local r, e = SkillAPI.memory_store('greeting', 'hello ' .. args.input)\n"
        "  if not r then return nil, e end\n"
        "  return true, { text = 'hello ' .. args.input, id = r.id }, 'on_shy'\n"
        "end\n");
    load_ok(f, "greet.lua");
    ac_test_assert_sql(f->db.c,
                       "SELECT name || ' ' || version || ' ' || array_to_string(permissions, ',') || ' ' || "
                       "array_to_string(routes, ',') || ' ' || file_path FROM dynamic_skills",
                       "greet 1.0 memory_write on_success,on_shy,on_error greet.lua");
    char *sum = ac_test_db_value(f->db.c, "SELECT checksum FROM dynamic_skills WHERE name = 'greet'");
    assert_int_equal(strlen(sum), 64);
    free(sum);
    ac_skill_result_t res;
    json_t *in = json_string("world");
    assert_int_equal(run(f, "greet", in, &res), 0);
    json_decref(in);
    assert_string_equal(res.branch, "on_shy");
    assert_string_equal(json_string_value(json_object_get(res.output, "text")), "hello world");
    json_decref(res.output);
    ac_test_assert_sql(f->db.c, "SELECT kind || ':' || content FROM memories", "greeting:hello world");

    /* the same version again: refused unless forced */
    ac_errmsg_t err = {{0}};
    assert_int_equal(load(f, "greet.lua", false, &err), -AC_EEXIST);
    assert_non_null(strstr(err.msg, "same_version"));
    assert_int_equal(load(f, "greet.lua", true, &err), 0);

    /* every check */
    char outside[PATH_MAX * 2], evil[PATH_MAX * 2], link[PATH_MAX * 2];
    snprintf(outside, sizeof(outside), "%s/skills_evil", f->root);
    mkdir(outside, 0755);
    snprintf(evil, sizeof(evil), "%s/skills_evil/evil.lua", f->root);
    FILE *o = fopen(evil, "w");
    fputs("skill = { name = 'evil' } function run() return true end", o);
    fclose(o);
    snprintf(link, sizeof(link), "%s/link.lua", f->dir);
    assert_int_equal(symlink(evil, link), 0);
    put(f, "shellish.lua", "skill = { name = 'shell' } function run() return true end");
    put(f, "badperm.lua", "skill = { name = 'badperm', permissions = { 'shell' } } function run() return true end");
    put(f, "norun.lua", "skill = { name = 'norun' }");
    put(f, "badroute.lua", "skill = { name = 'badroute', routes = { 'success' } } function run() return true end");
    put(f, "bytecode.lua", "\x1bLuaT\x01");
    put(f, "notes.txt", "skill = { name = 'notes' } function run() return true end");
    static const struct {
        const char *file;
        int rc;
        const char *text;
    } bad[] = {
        {"../skills_evil/evil.lua", -AC_EPERM, ""},
        {"link.lua", -AC_EPERM, ""},
        {"shellish.lua", -AC_EPERM, "core"},
        {"badperm.lua", -AC_EINVAL, "shell"},
        {"norun.lua", -AC_EINVAL, "run"},
        {"badroute.lua", -AC_EINVAL, "on_"},
        {"bytecode.lua", -AC_EPERM, ""},
        {"notes.txt", -AC_EPERM, ""},
        {"missing.lua", -AC_ENOENT, ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_errmsg_t e = {{0}};
        int rc = load(f, bad[i].file, true, &e);
        if (rc != bad[i].rc || strstr(e.msg, bad[i].text) == NULL)
            fail_msg("%s: rc %d (%s), want %d with '%s'", bad[i].file, rc, e.msg, bad[i].rc, bad[i].text);
    }
    ac_test_assert_sql(f->db.c, "SELECT string_agg(name, ',') FROM dynamic_skills", "greet");
    assert_false(ac_skills_registry_has(f->reg, "evil"));
}

static void permissions_are_checked_and_denials_audited(void **state)
{
    fx_t *f = *state;
    put(f, "nosy.lua",
        "skill = { name = 'nosy', version = '1' }\n"
        "function run() local v, e = SkillAPI.config_get('identity.name') return nil, e end\n");
    put(f, "reader.lua",
        "skill = { name = 'reader', version = '1', permissions = { 'config_read' } }\n"
        "function run(a)\n"
        "  local v = SkillAPI.config_get('identity.name')\n"
        "  local s, e = SkillAPI.config_get('telegram.bot_token')\n"
        "  local d = SkillAPI.config_get('no.such.key', 'fallback')\n"
        "  return true, { name = v, secret = s, err = e, d = d }\n"
        "end\n");
    load_ok(f, "nosy.lua");
    load_ok(f, "reader.lua");
    ac_skill_result_t res;
    assert_int_not_equal(run(f, "nosy", NULL, &res), 0);
    assert_non_null(strstr(res.error, "permission_denied"));
    assert_audited(f, "nosy", "config_read");

    assert_int_equal(run(f, "reader", NULL, &res), 0);
    assert_string_equal(json_string_value(json_object_get(res.output, "name")), "AlexClaw");
    assert_null(json_object_get(res.output, "secret"));
    assert_non_null(strstr(json_string_value(json_object_get(res.output, "err")), "secret"));
    assert_string_equal(json_string_value(json_object_get(res.output, "d")), "fallback");
    json_decref(res.output);

    /* a rule denies what the declaration allows: the engine's order */
    ac_test_db_exec(f->db.c, "INSERT INTO auth_policies (name, rule_type, config, enabled, priority) VALUES "
                             "('no config', 'permission_override', '{\"permission\": \"config_read\", \"action\": "
                             "\"deny\"}', true, 10)");
    ac_node_policies_invalidate(f->pol);
    assert_int_equal(run(f, "reader", NULL, &res), 0);
    assert_null(json_object_get(res.output, "name"));
    assert_null(json_object_get(res.output, "d"));
    assert_non_null(strstr(json_string_value(json_object_get(res.output, "err")), "permission_denied"));
    json_decref(res.output);
    assert_audited(f, "reader", "config_read");
}

static void chains_are_bounded_and_tokens_attenuated(void **state)
{
    fx_t *f = *state;
    /* recursion through run_skill: stopped at the maximum depth, denied and audited */
    put(f, "rec.lua",
        "skill = { name = 'rec', version = '1', permissions = { 'skill_invoke' } }\n"
        "function run(a)\n"
        "  local n = (a.input or 0) + 1\n"
        "  local r, e = SkillAPI.run_skill('rec', { input = n })\n"
        "  if not r then return true, { depth = n, err = e } end\n"
        "  return true, r.output\n"
        "end\n");
    load_ok(f, "rec.lua");
    ac_skill_result_t res;
    json_t *zero = json_integer(0);
    assert_int_equal(run(f, "rec", zero, &res), 0);
    json_decref(zero);
    assert_int_equal(json_integer_value(json_object_get(res.output, "depth")), 4);
    assert_non_null(strstr(json_string_value(json_object_get(res.output, "err")), "permission_denied"));
    json_decref(res.output);
    assert_audited(f, "rec", "skill_invoke");

    /* the callee's token is attenuated from the caller's: inner's declared memory_write does not reach it */
    put(f, "inner.lua",
        "skill = { name = 'inner', version = '1', permissions = { 'memory_write' } }\n"
        "function run() local r, e = SkillAPI.memory_store('x', 'y') return r ~= nil, e end\n");
    put(f, "outer.lua",
        "skill = { name = 'outer', version = '1', permissions = { 'skill_invoke' } }\n"
        "function run() local r, e = SkillAPI.run_skill('inner', {}) return true, { r = r, e = e } end\n");
    load_ok(f, "inner.lua");
    load_ok(f, "outer.lua");
    assert_int_equal(run(f, "outer", NULL, &res), 0);
    const char *e = json_string_value(json_object_get(res.output, "e"));
    if (e == NULL || strstr(e, "permission_denied") == NULL)
        fail_msg("inner ran with a permission outer lacks: %s", e ? e : "(no error)");
    json_decref(res.output);
    assert_audited(f, "inner", "memory_write");
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM memories", "0");
    /* alone, inner may */
    assert_int_equal(run(f, "inner", NULL, &res), 0);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM memories", "1");
    /* a core skill never runs on a sandboxed skill's behalf (it would carry the node's trust: any address, shell) */
    put(f, "proxy.lua",
        "skill = { name = 'proxy', version = '1', permissions = { 'skill_invoke' } }\n"
        "function run() local r, e = SkillAPI.run_skill('api_request', { config = { url = "
        "'http://127.0.0.1:1/' } }) return true, { r = r, e = e } end\n");
    load_ok(f, "proxy.lua");
    assert_int_equal(run(f, "proxy", NULL, &res), 0);
    assert_null(json_object_get(res.output, "r"));
    assert_non_null(strstr(json_string_value(json_object_get(res.output, "e")), "dynamic skills only"));
    json_decref(res.output);
}

/* A loopback HTTP server answering one fixed response per connection. */
static int http_fd = -1;
static int http_port;
static void *http_serve(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(http_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[4096];
        (void)!read(c, buf, sizeof(buf));
        const char *r = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
                        "hello";
        (void)!write(c, r, strlen(r));
        close(c);
    }
}

static void web_read_refuses_private_destinations(void **state)
{
    fx_t *f = *state;
    http_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(http_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    getsockname(http_fd, (struct sockaddr *)&a, &al);
    http_port = ntohs(a.sin_port);
    listen(http_fd, 8);
    pthread_t t;
    pthread_create(&t, NULL, http_serve, NULL);
    pthread_detach(t);
    char src[1024];
    snprintf(src, sizeof(src),
             "skill = { name = 'fetch', version = '1', permissions = { 'web_read' } }\n"
             "function run(a)\n"
             "  local r, e = SkillAPI.http_get(a.input)\n"
             "  if not r then return nil, e end\n"
             "  return true, r\n"
             "end\n");
    put(f, "fetch.lua", src);
    load_ok(f, "fetch.lua");
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", http_port);
    static const char *const refused[] = {"http://127.0.0.1", "http://localhost", "http://[::1]", "http://2130706433",
                                          "http://169.254.169.254"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char u[128];
        snprintf(u, sizeof(u), "%s:%d/x", refused[i], http_port);
        json_t *in = json_string(u);
        ac_skill_result_t res;
        assert_int_not_equal(run(f, "fetch", in, &res), 0);
        json_decref(in);
        if (strstr(res.error, "permission_denied") == NULL && strstr(res.error, "invalid_argument") == NULL)
            fail_msg("%s: %s", u, res.error);
    }
    assert_audited(f, "fetch", "web_read");
    /* allow-listed: it connects, and gets the answer */
    set(f, "skills.web_read.allow", "127.0.0.1/32");
    json_t *in = json_string(url);
    ac_skill_result_t res;
    if (run(f, "fetch", in, &res) != 0)
        fail_msg("allowed fetch failed: %s", res.error);
    json_decref(in);
    assert_int_equal(json_integer_value(json_object_get(res.output, "status")), 200);
    assert_string_equal(json_string_value(json_object_get(res.output, "body")), "hello");
    json_decref(res.output);
    set(f, "skills.web_read.allow", "");
    close(http_fd);
}

static void write_skill_stays_inside(void **state)
{
    fx_t *f = *state;
    put(f, "writer.lua",
        "skill = { name = 'writer', version = '1', permissions = { 'skill_write' } }\n"
        "function run(a)\n"
        "  local r, e = SkillAPI.write_skill(a.input, 'skill = { name = \"made\" } function run() "
        "return true end')\n"
        "  if not r then return nil, e end\n"
        "  return true, r\n"
        "end\n");
    load_ok(f, "writer.lua");
    static const char *const bad[] = {"../evil.lua", "/tmp/evil.lua", "a/b.lua", "x.txt",
                                      "..\\\\x.lua", "Made.lua",      ".lua"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *in = json_string(bad[i]);
        ac_skill_result_t res;
        assert_int_not_equal(run(f, "writer", in, &res), 0);
        json_decref(in);
        if (strstr(res.error, "invalid_filename") == NULL)
            fail_msg("%s: %s", bad[i], res.error);
    }
    /* a symlink named like the file is replaced, never followed */
    char target[PATH_MAX * 2], link[PATH_MAX * 2];
    snprintf(target, sizeof(target), "%s/outside.lua", f->root);
    FILE *o = fopen(target, "w");
    fputs("-- untouched\n", o);
    fclose(o);
    snprintf(link, sizeof(link), "%s/made.lua", f->dir);
    assert_int_equal(symlink(target, link), 0);
    json_t *in = json_string("made.lua");
    ac_skill_result_t res;
    if (run(f, "writer", in, &res) != 0)
        fail_msg("write_skill: %s", res.error);
    json_decref(in);
    json_decref(res.output);
    char buf[64] = "";
    o = fopen(target, "r");
    assert_non_null(fgets(buf, sizeof(buf), o));
    fclose(o);
    assert_string_equal(buf, "-- untouched\n");
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    /* what it wrote loads like any file (by the owner) */
    load_ok(f, "made.lua");
}

static void management_needs_2fa_and_workflows_start_disabled(void **state)
{
    fx_t *f = *state;
    put(f, "boss.lua",
        "skill = { name = 'boss', version = '1', permissions = { 'skill_manage', 'workflow_manage' } }\n"
        "function run(a)\n"
        "  local l, le = SkillAPI.load_skill('boss.lua')\n"
        "  local u, ue = SkillAPI.unload_skill('shell')\n"
        "  local w, we = SkillAPI.create_workflow('made by boss', { description = 'x' })\n"
        "  local s, se = SkillAPI.add_workflow_step(w.id, 'telegram_notify', { config = { a = 1 } })\n"
        "  local o, oe = SkillAPI.add_workflow_step(a.input, 'shell', {})\n"
        "  return true, { le = le, ue = ue, w = w, s = s, oe = oe }\n"
        "end\n");
    load_ok(f, "boss.lua");
    ac_test_db_exec(f->db.c, "INSERT INTO workflows (name, enabled) VALUES ('owners', true)");
    char *owners = ac_test_db_value(f->db.c, "SELECT id FROM workflows WHERE name = 'owners'");
    json_t *in = json_integer(atoll(owners));
    free(owners);
    ac_skill_result_t res;
    if (run(f, "boss", in, &res) != 0)
        fail_msg("boss: %s", res.error);
    json_decref(in);
    assert_non_null(strstr(json_string_value(json_object_get(res.output, "le")), "requires_2fa"));
    assert_non_null(strstr(json_string_value(json_object_get(res.output, "ue")), "cannot_unload_core"));
    assert_non_null(strstr(json_string_value(json_object_get(res.output, "oe")), "permission_denied"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res.output, "s"), "position")), 1);
    json_decref(res.output);
    ac_test_assert_sql(f->db.c, "SELECT enabled::text FROM workflows WHERE name = 'made by boss'", "false");
    ac_test_assert_sql(f->db.c,
                       "SELECT count(*) FROM workflow_steps s JOIN workflows w ON w.id = s.workflow_id "
                       "WHERE w.name = 'owners'",
                       "0");
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "0");
    assert_true(ac_skills_registry_has(f->reg, "shell"));
}

static void alert(void *arg, const char *text)
{
    fx_t *f = arg;
    strncat(f->alerts, text, sizeof(f->alerts) - strlen(f->alerts) - 2);
    strcat(f->alerts, "\n");
}

static void boot_skips_changed_files_and_unload_removes(void **state)
{
    fx_t *f = *state;
    put(f, "a.lua", "skill = { name = 'a', version = '1' } function run() return true, 'a' end");
    put(f, "b.lua", "skill = { name = 'b', version = '1' } function run() return true, 'b' end");
    load_ok(f, "a.lua");
    load_ok(f, "b.lua");
    put(f, "b.lua", "skill = { name = 'b', version = '1' } function run() return true, 'changed' end");
    drop_dyn(f);
    assert_false(ac_skills_registry_has(f->reg, "a"));
    make_dyn(f);
    int loaded = 0, skipped = 0;
    ac_errmsg_t err = {{0}};
    f->alerts[0] = '\0';
    assert_int_equal(ac_node_dynskills_boot(f->dyn, f->db.c, alert, f, &loaded, &skipped, &err), 0);
    assert_int_equal(loaded, 1);
    assert_int_equal(skipped, 1);
    assert_non_null(strstr(f->alerts, "'b' file changed since last load"));
    assert_true(ac_skills_registry_has(f->reg, "a"));
    assert_false(ac_skills_registry_has(f->reg, "b"));
    /* reload takes the new file */
    json_t *info = NULL;
    assert_int_equal(ac_node_dynskills_reload(f->dyn, f->db.c, "b", &info, &err), 0);
    json_decref(info);
    ac_skill_result_t res;
    assert_int_equal(run(f, "b", NULL, &res), 0);
    assert_string_equal(json_string_value(res.output), "changed");
    json_decref(res.output);
    /* a reload whose file now declares another name changes nothing */
    put(f, "b.lua",
        "skill = { name = 'a', version = '9', permissions = { 'config_read' } } function run() return "
        "true, 'hijacked' end");
    assert_int_equal(ac_node_dynskills_reload(f->dyn, f->db.c, "b", &info, &err), -AC_EINVAL);
    assert_non_null(strstr(err.msg, "now declares the name a"));
    ac_test_assert_sql(f->db.c,
                       "SELECT string_agg(name || ':' || file_path || ':' || version, ',' ORDER BY name) FROM "
                       "dynamic_skills",
                       "a:a.lua:1,b:b.lua:1");
    assert_int_equal(run(f, "a", NULL, &res), 0);
    assert_string_equal(json_string_value(res.output), "a");
    json_decref(res.output);
    /* same bytes, another declaration (a top level that is not deterministic): skipped at the next sync */
    put(f, "b.lua", "skill = { name = 'b', version = '1' } function run() return true, 'changed' end");
    ac_test_db_exec(f->db.c, "UPDATE dynamic_skills SET permissions = '{memory_read}' WHERE name = 'b'");
    drop_dyn(f);
    make_dyn(f);
    f->alerts[0] = '\0';
    assert_int_equal(ac_node_dynskills_boot(f->dyn, f->db.c, alert, f, &loaded, &skipped, &err), 0);
    assert_int_equal(skipped, 1);
    assert_non_null(strstr(f->alerts, "declares other permissions"));
    assert_false(ac_skills_registry_has(f->reg, "b"));
    ac_test_db_exec(f->db.c, "UPDATE dynamic_skills SET permissions = '{}' WHERE name = 'b'");
    assert_int_equal(ac_node_dynskills_boot(f->dyn, f->db.c, alert, f, &loaded, &skipped, &err), 0);
    assert_true(ac_skills_registry_has(f->reg, "b"));
    /* unload: core refused, unknown refused, dynamic gone */
    assert_int_equal(ac_node_dynskills_unload(f->dyn, f->db.c, "shell", &err), -AC_EPERM);
    assert_int_equal(ac_node_dynskills_unload(f->dyn, f->db.c, "nope", &err), -AC_ENOENT);
    assert_int_equal(ac_node_dynskills_unload(f->dyn, f->db.c, "a", &err), 0);
    assert_false(ac_skills_registry_has(f->reg, "a"));
    ac_test_assert_sql(f->db.c, "SELECT string_agg(name, ',') FROM dynamic_skills", "b");
}

/* A 2FA approval covers exactly what the person read: the file's code and declaration when the challenge was made. */
static void an_approval_binds_the_code_and_declaration(void **state)
{
    fx_t *f = *state;
    put(f, "late.lua", "skill = { name = 'late', version = '1' } function run() return true, 'v1' end");
    json_t *action = NULL;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_action_skill(f->dyn, f->db.c, "skill_load", "late.lua", &action, &err), 0);
    char *desc = ac_node_action_describe(action);
    assert_non_null(strstr(desc, "Load the dynamic skill `late` version `1` from `late.lua` with permissions: none"));
    assert_non_null(strstr(desc, "SHA-256 "));
    free(desc);
    /* the file grows a permission after the prompt went out: the approval loads nothing */
    put(f, "late.lua",
        "skill = { name = 'late', version = '1', permissions = { 'config_read' } } function run() "
        "return true, 'v2' end");
    ac_node_action_env_t env = {.conn = f->db.c, .settings = f->s, .dynskills = f->dyn};
    json_t *res = NULL;
    assert_int_equal(ac_node_action_exec(&env, action, &res, &err), -AC_EPERM);
    assert_non_null(strstr(err.msg, "changed since the load was approved"));
    assert_false(ac_skills_registry_has(f->reg, "late"));
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM dynamic_skills", "0");
    json_decref(action);
    /* approved as it is now: loaded */
    assert_int_equal(ac_node_action_skill(f->dyn, f->db.c, "skill_load", "late.lua", &action, &err), 0);
    assert_int_equal(ac_node_action_exec(&env, action, &res, &err), 0);
    json_decref(res);
    json_decref(action);
    assert_true(ac_skills_registry_has(f->reg, "late"));
    /* a reload binds too, and says what it replaces */
    put(f, "late.lua", "skill = { name = 'late', version = '2' } function run() return true, 'v3' end");
    assert_int_equal(ac_node_action_skill(f->dyn, f->db.c, "skill_reload", "late", &action, &err), 0);
    desc = ac_node_action_describe(action);
    assert_non_null(strstr(desc, "Reload the dynamic skill `late` as version `2`"));
    assert_non_null(strstr(desc, "replaces version `1`, permissions: config_read"));
    free(desc);
    put(f, "late.lua", "skill = { name = 'late', version = '2' } function run() return true, 'sneaky' end");
    assert_int_equal(ac_node_action_exec(&env, action, &res, &err), -AC_EPERM);
    json_decref(action);
    ac_skill_result_t r;
    assert_int_equal(run(f, "late", NULL, &r), 0);
    assert_string_equal(json_string_value(r.output), "v2");
    json_decref(r.output);
    /* core skills: no challenge at all */
    assert_int_not_equal(ac_node_action_skill(f->dyn, f->db.c, "skill_unload", "shell", &action, &err), 0);
    assert_null(action);
}

/* A skill that keeps making denied calls is stopped, and the audit log stays small. */
static void a_denial_flood_is_stopped(void **state)
{
    fx_t *f = *state;
    put(f, "knock.lua",
        "skill = { name = 'knock', version = '1' }\n"
        "function run() for i = 1, 100000 do SkillAPI.config_get('x') SkillAPI.memory_recent({}) end "
        "return true end\n");
    load_ok(f, "knock.lua");
    ac_skill_result_t res;
    assert_int_not_equal(run(f, "knock", NULL, &res), 0);
    assert_non_null(strstr(res.error, "sandbox_violation"));
    assert_non_null(strstr(res.error, "stopped"));
    char *n = ac_test_db_value(f->db.c, "SELECT count(*) FROM auth_audit_log WHERE caller = 'dynamic:knock'");
    int rows = atoi(n);
    free(n);
    if (rows < 2 || rows > AC_NODE_SKILLAPI_DENIALS_MAX + 2)
        fail_msg("%d audit rows", rows);
    assert_audited(f, "knock", "sandbox");
    /* and write_skill never replaces a loaded skill's file */
    put(f, "scribe.lua",
        "skill = { name = 'scribe', version = '1', permissions = { 'skill_write' } }\n"
        "function run() local r, e = SkillAPI.write_skill('knock.lua', 'x = 1') return r ~= nil, e end\n");
    load_ok(f, "scribe.lua");
    assert_int_not_equal(run(f, "scribe", NULL, &res), 0);
    assert_non_null(strstr(res.error, "belongs to a loaded skill"));
}

/* Another process's loads and unloads reach a watching node's registry. */
static void another_process_changes_reach_the_registry(void **state)
{
    fx_t *f = *state;
    ac_skills_registry_t *reg2 = ac_skills_registry_new();
    ac_skills_registry_add_core(reg2);
    ac_node_dynskills_t *other = NULL;
    ac_errmsg_t err = {{0}};
    ac_node_dynskills_cfg_t dc = {.skills_dir = f->dir,
                                  .helper = getenv("AC_SANDBOX_BIN"),
                                  .uid = 65534,
                                  .gid = 65534,
                                  .registry = reg2,
                                  .settings = f->s,
                                  .api = f->api,
                                  .conninfo = f->db.ci};
    assert_int_equal(ac_node_dynskills_new(&dc, &other, &err), 0);
    assert_int_equal(ac_node_dynskills_watch(other, alert, f, &err), 0);
    usleep(300 * 1000); /* LISTEN is in place */
    put(f, "w.lua", "skill = { name = 'w', version = '1' } function run() return true, 'w' end");
    load_ok(f, "w.lua");
    int waited = 0;
    while (!ac_skills_registry_has(reg2, "w") && waited < 5000) {
        usleep(50 * 1000);
        waited += 50;
    }
    assert_true(ac_skills_registry_has(reg2, "w"));
    assert_int_equal(ac_node_dynskills_unload(f->dyn, f->db.c, "w", &err), 0);
    waited = 0;
    while (ac_skills_registry_has(reg2, "w") && waited < 5000) {
        usleep(50 * 1000);
        waited += 50;
    }
    assert_false(ac_skills_registry_has(reg2, "w"));
    ac_node_dynskills_free(other);
    ac_skills_registry_free(reg2);
}

/* The corpus through the node: loaded from SKILLS_DIR, run like a step; every run fails cleanly and the process
 * goes on; SkillAPI denials and sandbox kills are in the audit log. */
static void hostile_corpus_is_contained_and_audited(void **state)
{
    fx_t *f = *state;
    set(f, "skills.sandbox.timeout_ms", "2000");
    DIR *d = opendir(AC_HOSTILE_DIR);
    assert_non_null(d);
    struct dirent *e;
    unsigned n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0)
            continue;
        char path[PATH_MAX * 2];
        snprintf(path, sizeof(path), "%s/%s", AC_HOSTILE_DIR, e->d_name);
        FILE *in = fopen(path, "rb");
        static char src[65536];
        size_t sn = fread(src, 1, sizeof(src) - 1, in);
        fclose(in);
        src[sn] = '\0';
        put(f, e->d_name, src);
        load_ok(f, e->d_name);
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(len - 4), e->d_name);
        ac_skill_result_t res;
        json_t *input = json_string("x");
        int rc = run(f, name, input, &res);
        json_decref(input);
        if (rc == 0)
            fail_msg("hostile %s succeeded: %s", name, res.branch);
        /* the outcome its first line expects, as the executor reports it */
        char outcomes[64] = "";
        sscanf(src, "-- expect: %63s", outcomes);
        bool ok = (strstr(outcomes, "failed") != NULL && strncmp(res.error, "skill_failed", 12) == 0) ||
                  (strstr(outcomes, "timeout") != NULL && strncmp(res.error, "skill_timeout", 13) == 0) ||
                  (strstr(outcomes, "killed") != NULL && strncmp(res.error, "sandbox_violation", 17) == 0);
        if (!ok)
            fail_msg("hostile %s: expected %s, got '%s'", name, outcomes, res.error);
        n++;
    }
    closedir(d);
    assert_true(n >= 25);
    assert_audited(f, "skillapi_denied", "config_read");
    assert_audited(f, "spin_in_c", "sandbox");
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM memories", "0");
    /* the chain still verifies after all of it */
    ac_node_audit_report_t rep;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_audit_verify(f->db.c, f->audit_key, &rep, &err), 0);
    assert_true(rep.rows > 0);
}

/* A skill replaced or unloaded while a caller (a run in flight) holds its definition stays whole for that caller; its
 * last release frees it, and one nobody holds is freed at once. */
static void a_held_definition_outlives_its_reload_and_unload(void **state)
{
    fx_t *f = *state;
    put(f, "h.lua", "skill = { name = 'h', version = '1' } function run() return true, 'old' end");
    load_ok(f, "h.lua");
    const ac_skill_def_t *held = ac_skills_registry_find(f->reg, "h");
    assert_non_null(held);
    assert_int_equal(ac_node_dynskills_retired_held(f->dyn), 0);

    put(f, "h.lua", "skill = { name = 'h', version = '2' } function run() return true, 'new' end");
    json_t *info = NULL;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_dynskills_reload(f->dyn, f->db.c, "h", &info, &err), 0);
    json_decref(info);
    assert_int_equal(ac_node_dynskills_retired_held(f->dyn), 1);
    ac_skill_result_t res;
    assert_int_equal(run(f, "h", NULL, &res), 0); /* the registry has the new one */
    assert_string_equal(json_string_value(res.output), "new");
    json_decref(res.output);
    assert_int_equal(run_def(f, held, NULL, &res), 0); /* the holder still runs what it found */
    assert_string_equal(json_string_value(res.output), "old");
    json_decref(res.output);
    assert_string_equal(held->name, "h");

    assert_int_equal(ac_node_dynskills_unload(f->dyn, f->db.c, "h", &err), 0);
    assert_false(ac_skills_registry_has(f->reg, "h"));
    assert_int_equal(ac_node_dynskills_retired_held(f->dyn), 1); /* the new one, held by nobody, is gone */
    ac_skills_registry_release(f->reg, held);
    assert_int_equal(ac_node_dynskills_retired_held(f->dyn), 0); /* the last release freed the old one */
    ac_skills_registry_release(f->reg, NULL);                    /* NULL is ignored */
}

/* Readers find, use and give back a skill's definition while it is reloaded and unloaded over and over: every record
 * they touch is whole (AddressSanitizer would see a use after free), and none is left held at the end. */
typedef struct {
    fx_t *f;
    volatile int stop;
    long uses, bad;
} churn_t;

static void *churn_reader(void *arg)
{
    churn_t *c = arg;
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
        const ac_skill_def_t *def = ac_skills_registry_find(c->f->reg, "churn");
        if (def == NULL)
            continue;
        ac_policy_perms_t perms; /* reads the record behind the definition (no cmocka asserts off the main thread) */
        if (!ac_node_dynskills_perms(def, &perms) || perms == 0 || strcmp(def->name, "churn") != 0 ||
            def->routes == NULL || def->routes[0] == NULL)
            __atomic_add_fetch(&c->bad, 1, __ATOMIC_RELAXED);
        ac_skills_registry_release(c->f->reg, def);
        __atomic_add_fetch(&c->uses, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void definitions_survive_concurrent_reloads_and_unloads(void **state)
{
    fx_t *f = *state;
    churn_t c = {f, 0, 0, 0};
    pthread_t readers[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, churn_reader, &c), 0);
    ac_errmsg_t err = {{0}};
    for (int round = 0; round < 12; round++) {
        char src[160];
        snprintf(src, sizeof(src),
                 "skill = { name = 'churn', version = '%d', permissions = {'web_read'} } function run() return true "
                 "end",
                 round);
        put(f, "churn.lua", src);
        if (round % 3 == 2) {
            json_t *info = NULL;
            assert_int_equal(ac_node_dynskills_reload(f->dyn, f->db.c, "churn", &info, &err), 0);
            json_decref(info);
            assert_int_equal(ac_node_dynskills_unload(f->dyn, f->db.c, "churn", &err), 0);
        } else {
            load_ok(f, "churn.lua");
        }
    }
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++)
        pthread_join(readers[i], NULL);
    assert_true(c.uses > 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(ac_node_dynskills_retired_held(f->dyn), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(loads_checks_and_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(permissions_are_checked_and_denials_audited, setup, teardown),
        cmocka_unit_test_setup_teardown(chains_are_bounded_and_tokens_attenuated, setup, teardown),
        cmocka_unit_test_setup_teardown(web_read_refuses_private_destinations, setup, teardown),
        cmocka_unit_test_setup_teardown(write_skill_stays_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(management_needs_2fa_and_workflows_start_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(boot_skips_changed_files_and_unload_removes, setup, teardown),
        cmocka_unit_test_setup_teardown(another_process_changes_reach_the_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(an_approval_binds_the_code_and_declaration, setup, teardown),
        cmocka_unit_test_setup_teardown(a_denial_flood_is_stopped, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_corpus_is_contained_and_audited, setup, teardown),
        cmocka_unit_test_setup_teardown(a_held_definition_outlives_its_reload_and_unload, setup, teardown),
        cmocka_unit_test_setup_teardown(definitions_survive_concurrent_reloads_and_unloads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
