/* tests/unit/skills/test_sandbox.c - the SafeExecutor: the real alexclaw-sandbox helper runs skills (declaration,
 * run, SkillAPI round trips, value conversion), enforces its walls (seccomp on, no new privileges, another user
 * when root, limits), and contains every skill of the hostile corpus (tests/hostile/, at least 25, each trying one
 * escape; its first line says what must happen). A misbehaving stand-in helper (fake_sandbox.sh) checks the node
 * side's handling of protocol violations, silent deaths and a helper that will not exit. */
#include "skills/sandbox.h"
#include "skills/skill.h"

#include <signal.h>

#include <dirent.h>
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

static const char *helper(void)
{
    const char *h = getenv("AC_SANDBOX_BIN");
    assert_non_null(h);
    return h;
}

static ac_skills_sandbox_opts_t opts_for(unsigned wall_ms)
{
    return (ac_skills_sandbox_opts_t){
        .helper = helper(), .uid = 65534, .gid = 65534, .memory = 32u * 1024 * 1024, .wall_ms = wall_ms};
}

static int run_src(const ac_skills_sandbox_opts_t *o, const char *mode, const char *src, const json_t *args,
                   ac_skills_sandbox_serve_fn serve, void *ud, ac_skills_sandbox_result_t *res)
{
    ac_errmsg_t err = {{0}};
    int rc = ac_skills_sandbox_run(o, mode, "t", src, strlen(src), args, serve, ud, res, &err);
    if (rc != 0)
        print_message("sandbox: %s\n", err.msg);
    return rc;
}

/* A SkillAPI stand-in: config_get answers, echo returns its args, everything else is denied. */
typedef struct served {
    unsigned calls;
} served_t;

static int serve(void *ud, const ac_skills_channel_msg_t *call, json_t **result, char *err, size_t errcap)
{
    served_t *s = ud;
    s->calls++;
    if (strcmp(call->fn->name, "config_get") == 0) {
        const char *key = json_string_value(json_object_get(call->args, "key"));
        *result = json_pack("{s:s, s:O}", "key", key != NULL ? key : "", "args", call->args);
        return 0;
    }
    snprintf(err, errcap, "permission_denied");
    return -1;
}

/* What a skill that declared no permission meets: every call denied. */
static int serve_deny(void *ud, const ac_skills_channel_msg_t *call, json_t **result, char *err, size_t errcap)
{
    (void)call;
    (void)result;
    ((served_t *)ud)->calls++;
    snprintf(err, errcap, "permission_denied");
    return -1;
}

static void declares_a_skill(void **state)
{
    (void)state;
    ac_skills_sandbox_opts_t o = opts_for(0);
    ac_skills_sandbox_result_t res;
    const char *src = "skill = { name = \"weather\", version = 2, description = \"Wetter \xc3\xa4\",\n"
                      "  permissions = { \"web_read\", \"memory_write\" }, routes = { \"on_success\", \"on_rain\" } }\n"
                      "function run(args) return true, 'x' end\n";
    assert_int_equal(run_src(&o, "declare", src, NULL, NULL, NULL, &res), 0);
    assert_int_equal(res.outcome, AC_SKILLS_SANDBOX_OK);
    json_t *d = res.output;
    assert_string_equal(json_string_value(json_object_get(d, "name")), "weather");
    assert_string_equal(json_string_value(json_object_get(d, "version")), "2");
    assert_string_equal(json_string_value(json_object_get(d, "description")), "Wetter \xc3\xa4");
    assert_int_equal(json_array_size(json_object_get(d, "permissions")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "routes"), 1)), "on_rain");
    ac_skills_sandbox_result_clear(&res);

    /* no run, no skill table, a wrong type, a syntax error: each a failed declaration saying why */
    static const char *const bad[][2] = {
        {"skill = { name = 'x' }", "no function run"},
        {"function run() end", "no table skill"},
        {"skill = { name = 'x', permissions = 'llm' } function run() end", "list of"},
        {"skill = { name = 'x' function run() end", "does not load"},
        {"skill = { name = {} } function run() end", "skill.name must be a string"},
        {"while true do end", "time limit exceeded"},
        {"SkillAPI.config_get('x')", "global 'SkillAPI'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(run_src(&o, "declare", bad[i][0], NULL, NULL, NULL, &res), 0);
        if (res.outcome != AC_SKILLS_SANDBOX_FAILED || strstr(res.error, bad[i][1]) == NULL)
            fail_msg("declaration %zu: outcome %s, error '%s'", i, ac_skills_sandbox_outcome_name(res.outcome),
                     res.error);
        ac_skills_sandbox_result_clear(&res);
    }
}

static void runs_with_values_and_skillapi(void **state)
{
    (void)state;
    ac_skills_sandbox_opts_t o = opts_for(5000);
    served_t s = {0};
    ac_skills_sandbox_result_t res;
    const char *src = "skill = { name = 't' }\n"
                      "function run(args)\n"
                      "  local r, e = SkillAPI.config_get('k', { 1, 2.5, true, 'x', { a = 'b' } })\n"
                      "  assert(r, e)\n"
                      "  local d, de = SkillAPI.memory_store('note', 'hello')\n"
                      "  assert(d == nil and de == 'permission_denied')\n"
                      "  return true, { input = args.input, n = args.config.n, echoed = r.args.default,\n"
                      "                 key = r.key, list = {}, utf8 = '\xe2\x82\xac' }, 'on_done'\n"
                      "end\n";
    json_t *args = json_pack("{s:s, s:{s:i}}", "input", "hi", "config", "n", 7);
    assert_int_equal(run_src(&o, "run", src, args, serve, &s, &res), 0);
    json_decref(args);
    if (res.outcome != AC_SKILLS_SANDBOX_OK)
        fail_msg("outcome %s: %s", ac_skills_sandbox_outcome_name(res.outcome), res.error);
    assert_string_equal(res.branch, "on_done");
    assert_int_equal(res.calls, 2);
    assert_int_equal(s.calls, 2);
    json_t *out = res.output;
    assert_string_equal(json_string_value(json_object_get(out, "input")), "hi");
    assert_int_equal(json_integer_value(json_object_get(out, "n")), 7);
    assert_string_equal(json_string_value(json_object_get(out, "key")), "k");
    json_t *e = json_object_get(out, "echoed");
    assert_int_equal(json_array_size(e), 5);
    assert_true(json_real_value(json_array_get(e, 1)) == 2.5);
    assert_true(json_is_true(json_array_get(e, 2)));
    assert_string_equal(json_string_value(json_object_get(json_array_get(e, 4), "a")), "b");
    assert_true(json_is_object(json_object_get(out, "list")));
    assert_string_equal(json_string_value(json_object_get(out, "utf8")), "\xe2\x82\xac");
    ac_skills_sandbox_result_clear(&res);

    /* nil, err is a failure with the skill's reason; a plain true is on_success without output */
    json_t *none = json_object();
    assert_int_equal(run_src(&o, "run", "function run() return nil, 'no data' end", none, NULL, NULL, &res), 0);
    json_decref(none);
    assert_int_equal(res.outcome, AC_SKILLS_SANDBOX_FAILED);
    assert_string_equal(res.error, "no data");
    ac_skills_sandbox_result_clear(&res);
    json_t *empty = json_object();
    assert_int_equal(run_src(&o, "run", "function run() return true end", empty, NULL, NULL, &res), 0);
    json_decref(empty);
    assert_int_equal(res.outcome, AC_SKILLS_SANDBOX_OK);
    assert_string_equal(res.branch, "on_success");
    assert_null(res.output);
    ac_skills_sandbox_result_clear(&res);
}

/* Reads /proc/<helper>/status while the helper waits for this reply (res->pid is set before the first call). */
typedef struct watch {
    ac_skills_sandbox_result_t *res;
    char status[4096];
} watch_t;

static int serve_status(void *ud, const ac_skills_channel_msg_t *call, json_t **result, char *err, size_t errcap)
{
    watch_t *w = ud;
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/status", (int)w->res->pid);
    FILE *f = fopen(p, "r");
    if (f == NULL) {
        snprintf(err, errcap, "no status");
        return -1;
    }
    size_t n = fread(w->status, 1, sizeof(w->status) - 1, f);
    w->status[n] = '\0';
    fclose(f);
    *result = NULL;
    return 0;
}

static const char *status_field(const char *status, const char *field, char *buf, size_t cap)
{
    const char *p = strstr(status, field);
    assert_non_null(p);
    p += strlen(field);
    p += strspn(p, " \t");
    size_t n = strcspn(p, "\n");
    snprintf(buf, cap, "%.*s", (int)n, p);
    return buf;
}

static void the_walls_are_up(void **state)
{
    (void)state;
    ac_skills_sandbox_opts_t o = opts_for(5000);
    ac_skills_sandbox_result_t res;
    watch_t w = {.res = &res};
    json_t *args = json_object();
    assert_int_equal(run_src(&o, "run", "function run() assert(SkillAPI.config_get('x')) return true end", args,
                             serve_status, &w, &res),
                     0);
    json_decref(args);
    if (res.outcome != AC_SKILLS_SANDBOX_OK)
        fail_msg("outcome %s: %s", ac_skills_sandbox_outcome_name(res.outcome), res.error);
    ac_skills_sandbox_result_clear(&res);
    char v[128];
    assert_string_equal(status_field(w.status, "Seccomp:", v, sizeof(v)), "2"); /* filter mode */
    assert_string_equal(status_field(w.status, "NoNewPrivs:", v, sizeof(v)), "1");
    if (geteuid() == 0) {
        assert_string_equal(status_field(w.status, "Uid:", v, sizeof(v)), "65534\t65534\t65534\t65534");
        assert_string_equal(status_field(w.status, "Gid:", v, sizeof(v)), "65534\t65534\t65534\t65534");
        assert_string_equal(status_field(w.status, "Groups:", v, sizeof(v)), "");
        assert_string_equal(status_field(w.status, "CapEff:", v, sizeof(v)), "0000000000000000");
    }
}

/* The corpus: every file's first line is "-- expect: <outcome>[|<outcome>] [<text in the error>]". */
static void contains_the_hostile_corpus(void **state)
{
    (void)state;
    DIR *d = opendir(AC_HOSTILE_DIR);
    assert_non_null(d);
    struct dirent *e;
    unsigned n = 0, failures = 0;
    unlink("/tmp/ac_hostile_pwned");
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", AC_HOSTILE_DIR, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static char src[65536];
        size_t sn = fread(src, 1, sizeof(src) - 1, f);
        fclose(f);
        src[sn] = '\0';
        char outcomes[64] = "", text[200] = "", line[256];
        snprintf(line, sizeof(line), "%.*s", (int)strcspn(src, "\n"), src);
        assert_true(sscanf(line, "-- expect: %63s %199[^\n]", outcomes, text) >= 1);
        ac_skills_sandbox_opts_t o = opts_for(2000);
        served_t s = {0};
        ac_skills_sandbox_result_t res;
        json_t *args = json_pack("{s:s}", "input", "x");
        int64_t t0 = ac_skill_now_ms();
        assert_int_equal(run_src(&o, "run", src, args, serve_deny, &s, &res), 0);
        int64_t took = ac_skill_now_ms() - t0;
        json_decref(args);
        const char *got = ac_skills_sandbox_outcome_name(res.outcome);
        char want[80];
        snprintf(want, sizeof(want), "|%s|", outcomes);
        char gotbar[32];
        snprintf(gotbar, sizeof(gotbar), "|%s|", got);
        /* the text may list alternatives: "stack overflow|not enough memory" */
        bool text_ok = text[0] == '\0';
        for (char *alt = strtok(text, "|"); alt != NULL && !text_ok; alt = strtok(NULL, "|"))
            text_ok = strstr(res.error, alt) != NULL;
        bool ok = strstr(want, gotbar) != NULL && text_ok && took < 5000;
        if (!ok) {
            print_message("hostile %s: expected %s '%s', got %s '%s' after %lld ms\n", e->d_name, outcomes, text, got,
                          res.error, (long long)took);
            failures++;
        }
        ac_skills_sandbox_result_clear(&res);
        n++;
    }
    closedir(d);
    assert_true(n >= 25);
    assert_int_equal(failures, 0);
    struct stat st;
    assert_int_not_equal(stat("/tmp/ac_hostile_pwned", &st), 0);
}

static void refuses_bytecode(void **state)
{
    (void)state;
    ac_skills_sandbox_opts_t o = opts_for(2000);
    ac_skills_sandbox_result_t res;
    json_t *args = json_object();
    assert_int_equal(run_src(&o, "run", "\x1bLuaT\x01\x02", args, NULL, NULL, &res), 0);
    json_decref(args);
    assert_int_equal(res.outcome, AC_SKILLS_SANDBOX_FAILED);
    assert_non_null(strstr(res.error, "binary chunk"));
    ac_skills_sandbox_result_clear(&res);
}

static volatile sig_atomic_t cancel_flag;
static void *cancel_soon(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    cancel_flag = 1;
    return NULL;
}

static void cancels_promptly(void **state)
{
    (void)state;
    ac_skills_sandbox_opts_t o = opts_for(20000);
    o.cancel = &cancel_flag;
    cancel_flag = 0;
    pthread_t t;
    pthread_create(&t, NULL, cancel_soon, NULL);
    ac_skills_sandbox_result_t res;
    json_t *args = json_object();
    int64_t t0 = ac_skill_now_ms();
    assert_int_equal(run_src(&o, "run", "function run() while true do end end", args, NULL, NULL, &res), 0);
    int64_t took = ac_skill_now_ms() - t0;
    pthread_join(t, NULL);
    json_decref(args);
    assert_int_equal(res.outcome, AC_SKILLS_SANDBOX_CANCELLED);
    assert_true(took < 2000);
    ac_skills_sandbox_result_clear(&res);
}

/* The node side against a helper that misbehaves in ways a Lua skill cannot (fake_sandbox.sh). */
static void survives_a_broken_helper(void **state)
{
    (void)state;
    static const struct {
        const char *how;
        ac_skills_sandbox_outcome_t outcome;
        const char *text;
    } cases[] = {
        {"badframe", AC_SKILLS_SANDBOX_PROTOCOL, "bad frame"},
        {"garbage", AC_SKILLS_SANDBOX_PROTOCOL, "one JSON object"},
        {"silent", AC_SKILLS_SANDBOX_KILLED, "status 3"},
        {"linger", AC_SKILLS_SANDBOX_OK, ""},
        {"hang", AC_SKILLS_SANDBOX_TIMEOUT, "skill_timeout"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ac_skills_sandbox_opts_t o = opts_for(1500);
        o.helper = AC_FAKE_SANDBOX;
        ac_skills_sandbox_result_t res;
        json_t *args = json_object();
        int64_t t0 = ac_skill_now_ms();
        assert_int_equal(run_src(&o, "run", cases[i].how, args, NULL, NULL, &res), 0);
        int64_t took = ac_skill_now_ms() - t0;
        json_decref(args);
        if (res.outcome != cases[i].outcome || strstr(res.error, cases[i].text) == NULL || took > 3000)
            fail_msg("%s: got %s '%s' after %lld ms", cases[i].how, ac_skills_sandbox_outcome_name(res.outcome),
                     res.error, (long long)took);
        ac_skills_sandbox_result_clear(&res);
    }
    /* a missing helper is an error before anything runs */
    ac_skills_sandbox_opts_t o = opts_for(1000);
    o.helper = "/nonexistent/alexclaw-sandbox";
    ac_skills_sandbox_result_t res;
    ac_errmsg_t err = {{0}};
    json_t *args = json_object();
    assert_true(ac_skills_sandbox_run(&o, "run", "t", "x", 1, args, NULL, NULL, &res, &err) < 0);
    json_decref(args);
    assert_non_null(strstr(err.msg, "cannot start"));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(declares_a_skill),         cmocka_unit_test(runs_with_values_and_skillapi),
        cmocka_unit_test(the_walls_are_up),         cmocka_unit_test(contains_the_hostile_corpus),
        cmocka_unit_test(refuses_bytecode),         cmocka_unit_test(cancels_promptly),
        cmocka_unit_test(survives_a_broken_helper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
