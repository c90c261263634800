/* tests/integration/test_twofa.c - the second factor's state against a real PostgreSQL server: setup and confirm,
 * a code never accepted twice (also from a second node sharing the database), steps before the last accepted one
 * refused, re-keying and disabling only with a current code, secrets encrypted at rest. Then the 2FA challenges
 * (node/challenge.c) and the actions they approve (node/action.c): exactly the stored action comes back, once; one
 * pending challenge per scope; expiry; counted attempts; replayed codes; 2FA off; sealed setting values; two nodes
 * resolving the same challenge at once. */
#include "node/action.h"
#include "node/challenge.h"
#include "node/migrate.h"
#include "node/settings_store.h"
#include "node/twofa.h"
#include "policy/alloc.h"
#include "tests/support/testdb.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct {
    ac_test_db_t db;
    PGconn *c2; /* a second node's connection */
    ac_node_env_t env;
    ac_node_settings_t *s, *s2; /* two nodes' caches */
} fx_t;

static int setup(void **state)
{
    fx_t *f = ac_calloc(1, sizeof(*f));
    ac_test_db_open_migrated("twofa", &f->db);
    f->c2 = ac_test_db_connect(f->db.ci);
    f->env.values = ac_calloc(ac_node_config_registry_count, sizeof(char *));
    uint8_t key[32] = {7};
    f->s = ac_node_settings_new(key);
    f->s2 = ac_node_settings_new(key);
    ac_errmsg_t err = {{0}};
    if (ac_node_settings_store_boot(f->db.c, &f->env, f->s, &err) != 0 ||
        ac_node_settings_store_load(f->c2, f->s2, &err) != 0)
        fail_msg("settings: %s", err.msg);
    assert_int_equal(ac_policy_totp_init(), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    ac_policy_totp_done();
    ac_node_settings_free(f->s);
    ac_node_settings_free(f->s2);
    ac_node_env_free(&f->env);
    PQfinish(f->c2);
    ac_test_db_close(&f->db);
    free(f);
    return 0;
}

#define T0 1700000000 /* a step boundary plus 20 s: 1700000000 = 56666666 * 30 + 20 */

static void code_at(const char *secret, int64_t t, char *out)
{
    assert_int_equal(ac_policy_totp_code(secret, t, out), 0);
}

/* Sets 2FA up and confirms it at time t. OUT: secret. */
static void enable(fx_t *f, int64_t t, char *secret)
{
    char uri[256], code[8];
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_twofa_setup(f->db.c, f->s, "admin", NULL, t, secret, uri, sizeof(uri), &err), 0);
    code_at(secret, t, code);
    assert_int_equal(ac_node_twofa_confirm(f->db.c, f->s, code, t, &err), 0);
    assert_true(ac_node_twofa_enabled(f->s));
}

static void setup_then_confirm_enables_it(void **state)
{
    fx_t *f = *state;
    char secret[40], uri[256], code[8];
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_twofa_confirm(f->db.c, f->s, "123456", T0, &err), -AC_ENOENT); /* nothing pending */
    assert_int_equal(ac_node_twofa_setup(f->db.c, f->s, "admin", NULL, T0, secret, uri, sizeof(uri), &err), 0);
    assert_non_null(strstr(uri, "otpauth://totp/AlexClaw:admin?secret="));
    assert_false(ac_node_twofa_enabled(f->s));
    code_at(secret, T0 + 90, code); /* three steps later: outside the window */
    assert_int_equal(ac_node_twofa_confirm(f->db.c, f->s, code, T0, &err), -AC_EPERM);
    code_at(secret, T0, code);
    assert_int_equal(ac_node_twofa_confirm(f->db.c, f->s, code, T0, &err), 0);
    assert_true(ac_node_twofa_enabled(f->s));
    /* the secret is encrypted at rest; the pending one is cleared */
    char *raw = ac_test_db_value(f->db.c, "SELECT value FROM settings WHERE key = 'auth.totp.secret'");
    assert_non_null(strstr(raw, "enc:"));
    assert_null(strstr(raw, secret));
    free(raw);
    ac_test_assert_sql(f->db.c, "SELECT value FROM settings WHERE key = 'auth.totp.pending_secret'", "");
}

static void a_code_is_never_accepted_twice_on_any_node(void **state)
{
    fx_t *f = *state;
    char secret[40], code[8], next[8], prev[8];
    ac_errmsg_t err = {{0}};
    enable(f, T0, secret);
    /* the confirming code's step is used up already */
    code_at(secret, T0, code);
    assert_int_equal(ac_node_twofa_verify(f->db.c, f->s, code, T0, &err), -AC_EPERM);
    code_at(secret, T0 + 30, next);
    assert_int_equal(ac_node_twofa_verify(f->db.c, f->s, next, T0 + 30, &err), 0);
    /* the same code on another node sharing the database: refused */
    ac_node_settings_store_load(f->c2, f->s2, &err);
    assert_true(ac_node_twofa_enabled(f->s2));
    assert_int_equal(ac_node_twofa_verify(f->c2, f->s2, next, T0 + 31, &err), -AC_EPERM);
    /* an older code still inside the window is refused too: its step is below the last one accepted */
    code_at(secret, T0, prev);
    assert_int_equal(ac_node_twofa_verify(f->c2, f->s2, prev, T0 + 31, &err), -AC_EPERM);
    assert_int_equal(ac_node_twofa_verify(f->db.c, f->s, "12345", T0 + 60, &err), -AC_EINVAL);
}

static void wrong_codes_in_a_row_lock_every_check_for_a_while(void **state)
{
    fx_t *f = *state;
    char secret[40], code[8], wrong[8];
    ac_errmsg_t err = {{0}};
    enable(f, T0, secret);
    /* wrong codes on two nodes (and through challenges, the CLI or the web: all of them call verify) count together */
    for (int i = 0; i < AC_NODE_TWOFA_LOCK_AFTER; i++) {
        code_at(secret, T0 + 30, wrong);
        wrong[5] = wrong[5] == '9' ? '0' : (char)(wrong[5] + 1);
        PGconn *c = i % 2 == 0 ? f->db.c : f->c2;
        ac_node_settings_t *s = i % 2 == 0 ? f->s : f->s2;
        if (i == 1)
            ac_node_settings_store_load(f->c2, f->s2, &err);
        assert_int_equal(ac_node_twofa_verify(c, s, wrong, T0 + 30, &err), -AC_EPERM);
    }
    /* locked: even the right code is refused, and says for how long; the step is not taken */
    code_at(secret, T0 + 30, code);
    assert_int_equal(ac_node_twofa_verify(f->db.c, f->s, code, T0 + 30, &err), -AC_EAGAIN);
    assert_non_null(strstr(err.msg, "locked for 300 more seconds"));
    assert_int_equal(ac_node_twofa_verify(f->db.c, f->s, code, T0 + 329, &err), -AC_EAGAIN);
    /* after 5 minutes a valid code works again and resets the count */
    code_at(secret, T0 + 331, code);
    assert_int_equal(ac_node_twofa_verify(f->db.c, f->s, code, T0 + 331, &err), 0);
    ac_test_assert_sql(f->db.c, "SELECT failures FROM totp_steps", "0");
    /* a second run of wrong codes without a valid one between locks for twice as long */
    for (int i = 0; i < 2 * AC_NODE_TWOFA_LOCK_AFTER; i++) {
        int64_t t = T0 + 400 + (i / AC_NODE_TWOFA_LOCK_AFTER) * 400;
        code_at(secret, t, wrong);
        wrong[5] = wrong[5] == '9' ? '0' : (char)(wrong[5] + 1);
        int rc = ac_node_twofa_verify(f->db.c, f->s, wrong, t, &err);
        assert_int_equal(rc, -AC_EPERM);
    }
    ac_test_assert_sql(f->db.c, "SELECT locked_until - 800 - 1700000000 FROM totp_steps", "600");
    /* a malformed code is not a guess: it counts nothing */
    assert_int_equal(ac_node_twofa_verify(f->db.c, f->s, "12a456", T0 + 2000, &err), -AC_EINVAL);
    ac_test_assert_sql(f->db.c, "SELECT failures FROM totp_steps", "20");
}

static void rekeying_and_disabling_need_a_current_code(void **state)
{
    fx_t *f = *state;
    char secret[40], secret2[40], uri[256], code[8];
    ac_errmsg_t err = {{0}};
    enable(f, T0, secret);
    assert_int_equal(ac_node_twofa_setup(f->db.c, f->s, "admin", NULL, T0 + 30, secret2, uri, sizeof(uri), &err),
                     -AC_EPERM);
    code_at(secret, T0 + 30, code);
    code[0] = code[0] == '9' ? '0' : (char)(code[0] + 1); /* surely wrong */
    assert_int_equal(ac_node_twofa_disable(f->db.c, f->s, code, T0 + 30, &err), -AC_EPERM);
    code_at(secret, T0 + 30, code);
    assert_int_equal(ac_node_twofa_setup(f->db.c, f->s, "admin", code, T0 + 30, secret2, uri, sizeof(uri), &err), 0);
    assert_string_not_equal(secret, secret2);
    code_at(secret, T0 + 60, code);
    assert_int_equal(ac_node_twofa_disable(f->db.c, f->s, code, T0 + 60, &err), 0);
    assert_false(ac_node_twofa_enabled(f->s));
    ac_test_assert_sql(f->db.c, "SELECT value FROM settings WHERE key = 'auth.totp.secret'", "");
    assert_int_equal(ac_node_twofa_verify(f->db.c, f->s, code, T0 + 90, &err), -AC_ESTATE);
}

/* --- 2FA challenges (node/challenge.c) and the actions they approve (node/action.c) -------------------------- */

#define SCOPE  "telegram:42"
#define SCOPE2 "telegram:43"
#define ID_ABC "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* Fails the test unless the SQL built from fmt has the value want. */
__attribute__((format(printf, 3, 4))) static void assert_sqlf(PGconn *c, const char *want, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    ac_test_assert_sql(c, sql, want);
}

/* The time step of unix time t, as the text totp_steps.last_step holds. */
static void step_text(int64_t t, char *out, size_t cap)
{
    snprintf(out, cap, "%lld", (long long)(t / AC_POLICY_TOTP_STEP_S));
}

static void assert_last_step(PGconn *c, int64_t t)
{
    char want[32];
    step_text(t, want, sizeof(want));
    ac_test_assert_sql(c, "SELECT last_step FROM totp_steps WHERE id = 1", want);
}

/* A 6-digit code matching none of the steps around now (so surely wrong); k picks one of many. */
static void wrong_code(const char *secret, int64_t now, int k, char out[8])
{
    char w[3][8];
    for (int i = 0; i < 3; i++)
        code_at(secret, now + (i - 1) * AC_POLICY_TOTP_STEP_S, w[i]);
    for (unsigned n = (unsigned)k * 7919u % 1000000u;; n = (n + 1) % 1000000u) {
        snprintf(out, 8, "%06u", n % 1000000u);
        if (strcmp(out, w[0]) != 0 && strcmp(out, w[1]) != 0 && strcmp(out, w[2]) != 0)
            return;
    }
}

static void create(fx_t *f, const char *scope, const json_t *action, int64_t now, char id[AC_NODE_CHALLENGE_ID_MAX])
{
    ac_errmsg_t err = {{0}};
    char *desc = ac_node_action_describe(action);
    int rc = ac_node_challenge_create(f->db.c, scope, action, desc, now, id, &err);
    free(desc);
    if (rc != 0)
        fail_msg("create: %d %s", rc, err.msg);
}

/* Resolves with the code of the time step holding code_t, at time now. OUT: *action, *left. */
static int resolve(fx_t *f, const char *scope, const char *id, const char *secret, int64_t code_t, int64_t now,
                   json_t **action, int *left)
{
    char code[8];
    code_at(secret, code_t, code);
    ac_errmsg_t err = {{0}};
    *left = -1;
    return ac_node_challenge_resolve(f->db.c, f->s, scope, id, code, now, action, left, &err);
}

static ac_node_action_env_t env_of(fx_t *f)
{
    return (ac_node_action_env_t){.conn = f->db.c, .settings = f->s, .pool = NULL, .base = NULL, .account = "admin"};
}

static void create_then_resolve_by_scope_returns_exactly_the_stored_action(void **state)
{
    fx_t *f = *state;
    char secret[40], id[AC_NODE_CHALLENGE_ID_MAX];
    json_t *got = NULL;
    int left = -1;
    enable(f, T0, secret);
    json_t *want = json_pack("{s:s, s:s, s:I, s:[i, f, n, b, s], s:{s:s, s:{}}}", "type", "shell_command", "command",
                             "echo 'h\xc3\xa9llo \xe2\x9c\x93' \"q\" \\ \n\t", "big", (json_int_t)1234567890123LL,
                             "list", 1, 2.5, 1, "", "nested", "k", "v", "empty");
    assert_non_null(want);
    create(f, SCOPE, want, T0, id);
    assert_int_equal(strlen(id), 22);
    assert_int_equal(strspn(id, ID_ABC), 22);
    assert_sqlf(f->db.c, "1", "SELECT count(*) FROM twofa_challenges WHERE id = '%s' AND scope = '" SCOPE "'", id);
    char *desc = ac_node_action_describe(want);
    assert_sqlf(f->db.c, desc, "SELECT description FROM twofa_challenges WHERE id = '%s'", id);
    free(desc);
    /* the confirming code took T0's step: the next step's code, still inside the window at T0 + 5 */
    assert_int_equal(resolve(f, SCOPE, NULL, secret, T0 + 30, T0 + 5, &got, &left), 0);
    assert_non_null(got);
    assert_true(got != want);
    assert_true(json_equal(got, want));
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "0");
    assert_last_step(f->db.c, T0 + 30);
    json_decref(got);
    /* once only: the same code, or the next one, finds nothing */
    got = (json_t *)1;
    assert_int_equal(resolve(f, SCOPE, NULL, secret, T0 + 30, T0 + 5, &got, &left), -AC_ENOENT);
    assert_null(got);
    assert_int_equal(resolve(f, SCOPE, NULL, secret, T0 + 60, T0 + 40, &got, &left), -AC_ENOENT);
    assert_null(got);
    /* nothing was decided: that next code was not used up */
    char code[8];
    ac_errmsg_t err = {{0}};
    code_at(secret, T0 + 60, code);
    assert_int_equal(ac_node_twofa_verify(f->db.c, f->s, code, T0 + 40, &err), 0);
    json_decref(want);
}

static void resolve_by_id_works_and_an_unknown_id_is_not_found(void **state)
{
    fx_t *f = *state;
    char secret[40], id1[AC_NODE_CHALLENGE_ID_MAX], id2[AC_NODE_CHALLENGE_ID_MAX];
    json_t *got = NULL;
    int left = -1;
    enable(f, T0, secret);
    json_t *a1 = ac_node_action_run_workflow(7, "nightly"), *a2 = ac_node_action_shell("uptime");
    create(f, "web", a1, T0, id1);
    create(f, SCOPE, a2, T0, id2);
    assert_string_not_equal(id1, id2);
    assert_int_equal(resolve(f, NULL, "AAAAAAAAAAAAAAAAAAAAAA", secret, T0 + 30, T0 + 5, &got, &left), -AC_ENOENT);
    assert_null(got);
    assert_int_equal(left, 0);
    assert_int_equal(resolve(f, "telegram:999", NULL, secret, T0 + 30, T0 + 5, &got, &left), -AC_ENOENT);
    assert_null(got);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "2");

    assert_int_equal(resolve(f, NULL, id1, secret, T0 + 30, T0 + 5, &got, &left), 0);
    assert_true(json_equal(got, a1));
    json_decref(got);
    assert_sqlf(f->db.c, "0", "SELECT count(*) FROM twofa_challenges WHERE id = '%s'", id1);
    assert_sqlf(f->db.c, "1", "SELECT count(*) FROM twofa_challenges WHERE id = '%s'", id2); /* the other stays */
    assert_int_equal(resolve(f, NULL, id1, secret, T0 + 60, T0 + 40, &got, &left), -AC_ENOENT);
    assert_null(got);

    assert_int_equal(resolve(f, NULL, id2, secret, T0 + 60, T0 + 40, &got, &left), 0);
    assert_true(json_equal(got, a2));
    json_decref(got);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "0");
    json_decref(a1);
    json_decref(a2);
}

static void a_new_challenge_replaces_the_pending_one_of_its_scope(void **state)
{
    fx_t *f = *state;
    char secret[40], bad[8], id1[AC_NODE_CHALLENGE_ID_MAX], id2[AC_NODE_CHALLENGE_ID_MAX],
        id3[AC_NODE_CHALLENGE_ID_MAX];
    json_t *got = NULL;
    int left = -1;
    ac_errmsg_t err = {{0}};
    enable(f, T0, secret);
    json_t *a1 = ac_node_action_shell("df -h"), *a2 = ac_node_action_shell("uptime"),
           *a3 = ac_node_action_twofa("twofa_disable");
    create(f, SCOPE, a1, T0, id1);
    wrong_code(secret, T0 + 1, 0, bad);
    assert_int_equal(ac_node_challenge_resolve(f->db.c, f->s, SCOPE, NULL, bad, T0 + 1, &got, &left, &err), -AC_EPERM);
    assert_int_equal(left, 4);
    create(f, SCOPE, a2, T0 + 1, id2);
    assert_string_not_equal(id1, id2);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges WHERE scope = '" SCOPE "'", "1");
    /* the replacement starts afresh: no attempts, its own expiry */
    assert_sqlf(f->db.c, "0", "SELECT attempts FROM twofa_challenges WHERE id = '%s'", id2);
    assert_sqlf(f->db.c, "1700000121", "SELECT expires_at FROM twofa_challenges WHERE id = '%s'", id2);
    create(f, SCOPE2, a3, T0 + 2, id3); /* another scope coexists */
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "2");

    assert_int_equal(resolve(f, NULL, id1, secret, T0 + 30, T0 + 5, &got, &left), -AC_ENOENT);
    assert_null(got);
    assert_int_equal(resolve(f, SCOPE, NULL, secret, T0 + 30, T0 + 5, &got, &left), 0);
    assert_true(json_equal(got, a2));
    assert_false(json_equal(got, a1));
    json_decref(got);
    assert_int_equal(resolve(f, SCOPE2, NULL, secret, T0 + 60, T0 + 40, &got, &left), 0);
    assert_true(json_equal(got, a3));
    json_decref(got);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "0");
    json_decref(a1);
    json_decref(a2);
    json_decref(a3);
}

static void a_challenge_expires_ttl_seconds_after_it_was_made(void **state)
{
    fx_t *f = *state;
    char secret[40], id[AC_NODE_CHALLENGE_ID_MAX];
    json_t *got = NULL;
    int left = -1;
    enable(f, T0, secret);
    json_t *a = ac_node_action_shell("df -h");
    /* one second before the end: still good */
    create(f, SCOPE, a, T0, id);
    int64_t last = T0 + AC_NODE_CHALLENGE_TTL_S - 1;
    assert_int_equal(resolve(f, SCOPE, NULL, secret, last, last, &got, &left), 0);
    assert_true(json_equal(got, a));
    json_decref(got);
    /* at the end: expired (a code otherwise valid for that time), and gone */
    int64_t t1 = T0 + 1000, dead = t1 + AC_NODE_CHALLENGE_TTL_S;
    create(f, SCOPE, a, t1, id);
    got = (json_t *)1;
    assert_int_equal(resolve(f, SCOPE, NULL, secret, dead, dead, &got, &left), -AC_ETIMEDOUT);
    assert_null(got);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "0");
    assert_int_equal(resolve(f, SCOPE, NULL, secret, dead, dead, &got, &left), -AC_ENOENT);
    /* long after, by id */
    int64_t t2 = T0 + 2000, later = t2 + AC_NODE_CHALLENGE_TTL_S + 3600;
    create(f, SCOPE, a, t2, id);
    assert_int_equal(resolve(f, NULL, id, secret, later, later, &got, &left), -AC_ETIMEDOUT);
    assert_null(got);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "0");
    json_decref(a);
}

static void wrong_codes_are_counted_and_the_fifth_ends_the_challenge(void **state)
{
    fx_t *f = *state;
    char secret[40], bad[8], id[AC_NODE_CHALLENGE_ID_MAX], id2[AC_NODE_CHALLENGE_ID_MAX], want[8];
    json_t *got = NULL;
    int left = -1;
    ac_errmsg_t err = {{0}};
    enable(f, T0, secret);
    json_t *a = ac_node_action_shell("df -h"), *b = ac_node_action_twofa("twofa_disable");
    create(f, SCOPE, a, T0, id);
    for (int i = 0; i < AC_NODE_CHALLENGE_ATTEMPTS - 1; i++) {
        wrong_code(secret, T0 + 5, i, bad);
        got = (json_t *)1;
        assert_int_equal(ac_node_challenge_resolve(f->db.c, f->s, SCOPE, NULL, bad, T0 + 5, &got, &left, &err),
                         -AC_EPERM);
        assert_null(got);
        assert_int_equal(left, AC_NODE_CHALLENGE_ATTEMPTS - 1 - i);
        snprintf(want, sizeof(want), "%d", i + 1);
        assert_sqlf(f->db.c, want, "SELECT attempts FROM twofa_challenges WHERE id = '%s'", id);
    }
    assert_last_step(f->db.c, T0); /* no wrong code took a step */
    assert_int_equal(resolve(f, SCOPE, NULL, secret, T0 + 30, T0 + 5, &got, &left), 0);
    assert_true(json_equal(got, a));
    json_decref(got);

    create(f, "web", b, T0 + 40, id2);
    for (int i = 0; i < AC_NODE_CHALLENGE_ATTEMPTS; i++) {
        if (i == 2)
            snprintf(bad, sizeof(bad), "12a45"); /* a malformed code counts too */
        else
            wrong_code(secret, T0 + 40, 10 + i, bad);
        assert_int_equal(ac_node_challenge_resolve(f->db.c, f->s, NULL, id2, bad, T0 + 40, &got, &left, &err),
                         -AC_EPERM);
        assert_null(got);
        assert_int_equal(left, AC_NODE_CHALLENGE_ATTEMPTS - 1 - i);
    }
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "0");
    assert_int_equal(resolve(f, NULL, id2, secret, T0 + 60, T0 + 40, &got, &left), -AC_ENOENT);
    assert_null(got);
    assert_int_equal(resolve(f, "web", NULL, secret, T0 + 60, T0 + 40, &got, &left), -AC_ENOENT);
    assert_true(ac_node_twofa_enabled(f->s)); /* the twofa_disable never ran */
    json_decref(a);
    json_decref(b);
}

static void a_replayed_code_is_a_wrong_attempt(void **state)
{
    fx_t *f = *state;
    char secret[40], c1[8], id[AC_NODE_CHALLENGE_ID_MAX];
    json_t *got = NULL;
    int left = -1;
    ac_errmsg_t err = {{0}};
    enable(f, T0, secret);
    json_t *a = ac_node_action_shell("df -h");
    /* a step taken by twofa_verify */
    code_at(secret, T0 + 30, c1);
    assert_int_equal(ac_node_twofa_verify(f->db.c, f->s, c1, T0 + 5, &err), 0);
    create(f, SCOPE, a, T0 + 5, id);
    assert_int_equal(ac_node_challenge_resolve(f->db.c, f->s, SCOPE, NULL, c1, T0 + 5, &got, &left, &err), -AC_EPERM);
    assert_null(got);
    assert_int_equal(left, 4);
    assert_sqlf(f->db.c, "1", "SELECT attempts FROM twofa_challenges WHERE id = '%s'", id);
    /* the step the confirmation took */
    assert_int_equal(resolve(f, SCOPE, NULL, secret, T0, T0 + 5, &got, &left), -AC_EPERM);
    assert_null(got);
    assert_int_equal(left, 3);
    assert_int_equal(resolve(f, SCOPE, NULL, secret, T0 + 60, T0 + 40, &got, &left), 0);
    assert_true(json_equal(got, a));
    json_decref(got);
    /* a step an earlier resolution took, on the next challenge; and one below it, still inside the window */
    create(f, SCOPE, a, T0 + 41, id);
    assert_int_equal(resolve(f, SCOPE, NULL, secret, T0 + 60, T0 + 41, &got, &left), -AC_EPERM);
    assert_null(got);
    assert_int_equal(left, 4);
    assert_int_equal(resolve(f, SCOPE, NULL, secret, T0 + 30, T0 + 41, &got, &left), -AC_EPERM);
    assert_int_equal(left, 3);
    assert_sqlf(f->db.c, "2", "SELECT attempts FROM twofa_challenges WHERE id = '%s'", id);
    assert_last_step(f->db.c, T0 + 60);
    assert_int_equal(resolve(f, SCOPE, NULL, secret, T0 + 90, T0 + 70, &got, &left), 0);
    assert_true(json_equal(got, a));
    json_decref(got);
    json_decref(a);
}

static void with_2fa_off_a_challenge_is_left_alone(void **state)
{
    fx_t *f = *state;
    char secret[40], code[8], id[AC_NODE_CHALLENGE_ID_MAX];
    json_t *got = NULL;
    int left = -1;
    ac_errmsg_t err = {{0}};
    json_t *a = ac_node_action_shell("df -h");
    /* never enabled */
    create(f, SCOPE, a, T0, id);
    got = (json_t *)1;
    assert_int_equal(ac_node_challenge_resolve(f->db.c, f->s, SCOPE, NULL, "123456", T0, &got, &left, &err),
                     -AC_ESTATE);
    assert_null(got);
    assert_sqlf(f->db.c, "0", "SELECT attempts FROM twofa_challenges WHERE id = '%s'", id);
    /* enabled, then turned off: a code of the old secret changes nothing */
    enable(f, T0, secret);
    code_at(secret, T0 + 30, code);
    assert_int_equal(ac_node_twofa_disable(f->db.c, f->s, code, T0 + 5, &err), 0);
    assert_int_equal(resolve(f, NULL, id, secret, T0 + 60, T0 + 40, &got, &left), -AC_ESTATE);
    assert_null(got);
    assert_sqlf(f->db.c, "1", "SELECT count(*) FROM twofa_challenges WHERE id = '%s' AND attempts = 0", id);
    assert_last_step(f->db.c, T0 + 30);
    bool pending = false;
    assert_int_equal(ac_node_challenge_pending(f->db.c, SCOPE, T0 + 40, &pending, &err), 0);
    assert_true(pending);
    json_decref(a);
}

static void pending_until_expiry_or_cancel(void **state)
{
    fx_t *f = *state;
    char id[AC_NODE_CHALLENGE_ID_MAX];
    ac_errmsg_t err = {{0}};
    bool p = true;
    json_t *a = ac_node_action_shell("df -h");
    assert_int_equal(ac_node_challenge_pending(f->db.c, SCOPE, T0, &p, &err), 0);
    assert_false(p);
    create(f, SCOPE, a, T0, id);
    assert_int_equal(ac_node_challenge_pending(f->db.c, SCOPE, T0, &p, &err), 0);
    assert_true(p);
    assert_int_equal(ac_node_challenge_pending(f->db.c, SCOPE, T0 + AC_NODE_CHALLENGE_TTL_S - 1, &p, &err), 0);
    assert_true(p);
    assert_int_equal(ac_node_challenge_pending(f->db.c, SCOPE, T0 + AC_NODE_CHALLENGE_TTL_S, &p, &err), 0);
    assert_false(p);
    assert_int_equal(ac_node_challenge_pending(f->db.c, SCOPE2, T0, &p, &err), 0);
    assert_false(p);
    /* cancelling another scope leaves it; cancelling its own drops it */
    assert_int_equal(ac_node_challenge_cancel(f->db.c, SCOPE2, &err), 0);
    assert_int_equal(ac_node_challenge_pending(f->db.c, SCOPE, T0, &p, &err), 0);
    assert_true(p);
    assert_int_equal(ac_node_challenge_cancel(f->db.c, SCOPE, &err), 0);
    assert_int_equal(ac_node_challenge_pending(f->db.c, SCOPE, T0, &p, &err), 0);
    assert_false(p);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "0");
    assert_int_equal(ac_node_challenge_cancel(f->db.c, SCOPE, &err), 0);
    char scope[AC_NODE_CHALLENGE_SCOPE_MAX];
    ac_node_challenge_scope_telegram("-100123", scope, sizeof(scope));
    assert_string_equal(scope, "telegram:-100123");
    json_decref(a);
}

/* A request the owner did not make (a skill's, the coder's) never replaces one that waits: the insert itself
 * decides, so one made between a skill's "pending?" check and its insert is kept. */
static void a_machine_request_never_replaces_a_waiting_one(void **state)
{
    fx_t *f = *state;
    char id[AC_NODE_CHALLENGE_ID_MAX], id2[AC_NODE_CHALLENGE_ID_MAX];
    ac_errmsg_t err = {{0}};
    json_t *owner = ac_node_action_shell("df -h"), *skill = ac_node_action_shell("uptime");
    create(f, SCOPE, owner, T0, id);
    assert_int_equal(ac_node_challenge_create_if_free(f->db.c, SCOPE, skill, "skill", T0 + 5, id2, &err), -AC_EAGAIN);
    assert_non_null(strstr(err.msg, "busy"));
    ac_test_assert_sql(f->db.c, "SELECT action::text FROM twofa_challenges",
                       "{\"type\":\"shell_command\",\"command\":\"df -h\"}");
    /* another scope is free; an expired one may be replaced */
    assert_int_equal(ac_node_challenge_create_if_free(f->db.c, SCOPE2, skill, "skill", T0 + 5, id2, &err), 0);
    assert_int_equal(
        ac_node_challenge_create_if_free(f->db.c, SCOPE, skill, "skill", T0 + AC_NODE_CHALLENGE_TTL_S, id2, &err), 0);
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT description FROM twofa_challenges WHERE scope = '%s'", SCOPE);
    ac_test_assert_sql(f->db.c, sql, "skill");
    json_decref(owner);
    json_decref(skill);
}

static void create_refuses_a_bad_scope_or_action(void **state)
{
    fx_t *f = *state;
    char id[AC_NODE_CHALLENGE_ID_MAX], scope[AC_NODE_CHALLENGE_SCOPE_MAX + 1];
    ac_errmsg_t err = {{0}};
    json_t *a = ac_node_action_shell("df -h"), *arr = json_array();
    assert_int_equal(ac_node_challenge_create(f->db.c, "", a, "d", T0, id, &err), -AC_EINVAL);
    assert_int_equal(ac_node_challenge_create(f->db.c, NULL, a, "d", T0, id, &err), -AC_EINVAL);
    memset(scope, 'x', AC_NODE_CHALLENGE_SCOPE_MAX);
    scope[AC_NODE_CHALLENGE_SCOPE_MAX] = '\0';
    assert_int_equal(ac_node_challenge_create(f->db.c, scope, a, "d", T0, id, &err), -AC_EINVAL);
    assert_int_equal(ac_node_challenge_create(f->db.c, SCOPE, arr, "d", T0, id, &err), -AC_EINVAL);
    assert_int_equal(ac_node_challenge_create(f->db.c, SCOPE, NULL, "d", T0, id, &err), -AC_EINVAL);
    size_t n = 1024 * 1024 + 8192; /* above the 1 MiB (and some) an action may take */
    char *big = ac_malloc(n);
    memset(big, 'a', n - 1);
    big[n - 1] = '\0';
    json_t *huge = ac_node_action_shell(big);
    free(big);
    assert_int_equal(ac_node_challenge_create(f->db.c, SCOPE, huge, "d", T0, id, &err), -AC_ETOOLONG);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "0");
    /* a long description is cut to AC_NODE_CHALLENGE_DESC_MAX bytes, never inside a character */
    char desc[1 + 2 * 600 + 1];
    desc[0] = 'a';
    for (int i = 0; i < 600; i++)
        memcpy(desc + 1 + 2 * i, "\xc3\xa9", 2);
    desc[sizeof(desc) - 1] = '\0';
    assert_int_equal(ac_node_challenge_create(f->db.c, SCOPE, a, desc, T0, id, &err), 0);
    assert_sqlf(f->db.c, "1099", "SELECT octet_length(description) FROM twofa_challenges WHERE id = '%s'", id);
    json_decref(a);
    json_decref(arr);
    json_decref(huge);
}

static void a_sensitive_setting_action_is_sealed_and_runs_in_clear(void **state)
{
    fx_t *f = *state;
    const char *clear = "tok-3f9a1c-very-private";
    char secret[40], id[AC_NODE_CHALLENGE_ID_MAX];
    json_t *got = NULL, *res = NULL;
    int left = -1;
    ac_errmsg_t err = {{0}};
    ac_node_action_env_t env = env_of(f);

    json_t *a = ac_node_action_setting(f->s, "shell.token_x", clear, "string");
    assert_non_null(a);
    assert_string_equal(json_string_value(json_object_get(a, "type")), "setting_set");
    assert_string_equal(json_string_value(json_object_get(a, "key")), "shell.token_x");
    assert_null(json_object_get(a, "value"));
    const char *sealed = json_string_value(json_object_get(a, "value_sealed"));
    assert_non_null(sealed);
    assert_int_equal(strncmp(sealed, "enc:", 4), 0);
    char *dump = json_dumps(a, 0);
    assert_null(strstr(dump, clear));
    free(dump);
    char *desc = ac_node_action_describe(a);
    assert_string_equal(desc, "Change setting `shell.token_x` to a new secret value"); /* never the secret */
    free(desc);

    /* stored in a challenge: the table holds no clear value either */
    enable(f, T0, secret);
    create(f, SCOPE, a, T0, id);
    char *raw = ac_test_db_value(f->db.c, "SELECT action::text FROM twofa_challenges");
    assert_null(strstr(raw, clear));
    assert_non_null(strstr(raw, "enc:"));
    free(raw);
    assert_int_equal(resolve(f, SCOPE, NULL, secret, T0 + 30, T0 + 5, &got, &left), 0);
    assert_true(json_equal(got, a));
    assert_int_equal(ac_node_action_exec(&env, got, &res, &err), 0);
    json_t *want = json_pack("{s:s}", "key", "shell.token_x");
    assert_true(json_equal(res, want));
    json_decref(want);
    json_decref(res);
    json_decref(got);
    char *v = NULL;
    assert_int_equal(ac_node_settings_get_str(f->s, "shell.token_x", &v), 0);
    assert_string_equal(v, clear);
    free(v);
    raw = ac_test_db_value(f->db.c, "SELECT value FROM settings WHERE key = 'shell.token_x'");
    assert_int_equal(strncmp(raw, "enc:", 4), 0);
    assert_null(strstr(raw, clear));
    free(raw);
    ac_test_assert_sql(f->db.c, "SELECT sensitive::text FROM settings WHERE key = 'shell.token_x'", "true");
    assert_int_equal(ac_node_settings_store_load(f->c2, f->s2, &err), 0); /* another node reads it in clear */
    assert_int_equal(ac_node_settings_get_str(f->s2, "shell.token_x", &v), 0);
    assert_string_equal(v, clear);
    free(v);

    /* any key holding "secret" is sealed too */
    json_t *b = ac_node_action_setting(f->s, "custom.my_secret", "hunter2", "string");
    assert_null(json_object_get(b, "value"));
    assert_int_equal(strncmp(json_string_value(json_object_get(b, "value_sealed")), "enc:", 4), 0);
    assert_int_equal(ac_node_action_exec(&env, b, &res, &err), 0);
    json_decref(res);
    assert_int_equal(ac_node_settings_get_str(f->s, "custom.my_secret", &v), 0);
    assert_string_equal(v, "hunter2");
    free(v);

    /* a sealed value that does not open is refused, and nothing is written */
    json_t *t = json_deep_copy(a);
    json_object_set_new(t, "key", json_string("shell.token_y"));
    json_object_set_new(t, "value_sealed", json_string("enc:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    res = (json_t *)1;
    assert_int_equal(ac_node_action_exec(&env, t, &res, &err), -AC_EINVAL);
    assert_null(res);
    assert_int_equal(ac_node_settings_get_str(f->s, "shell.token_y", &v), -AC_ENOENT);
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM settings WHERE key = 'shell.token_y'", "0");

    /* a key that is not sensitive keeps its value */
    json_t *c = ac_node_action_setting(f->s, "telegram.chat_id", "-100123", "string");
    assert_string_equal(json_string_value(json_object_get(c, "value")), "-100123");
    assert_null(json_object_get(c, "value_sealed"));
    assert_int_equal(ac_node_action_exec(&env, c, &res, &err), 0);
    json_decref(res);
    assert_int_equal(ac_node_settings_get_str(f->s, "telegram.chat_id", &v), 0);
    assert_string_equal(v, "-100123");
    free(v);
    ac_test_assert_sql(f->db.c, "SELECT value FROM settings WHERE key = 'telegram.chat_id'", "-100123");
    /* without a type the key keeps its own */
    json_t *d = ac_node_action_setting(f->s, "shell.timeout_seconds", "45", NULL);
    assert_null(json_object_get(d, "value_type"));
    assert_int_equal(ac_node_action_exec(&env, d, &res, &err), 0);
    json_decref(res);
    json_decref(d);
    int64_t n = 0;
    assert_int_equal(ac_node_settings_get_int(f->s, "shell.timeout_seconds", &n), 0);
    assert_int_equal(n, 45);
    ac_test_assert_sql(f->db.c, "SELECT type || '=' || value FROM settings WHERE key = 'shell.timeout_seconds'",
                       "integer=45");
    json_decref(a);
    json_decref(b);
    json_decref(t);
    json_decref(c);
}

static void an_approved_twofa_disable_turns_2fa_off(void **state)
{
    fx_t *f = *state;
    char secret[40], id[AC_NODE_CHALLENGE_ID_MAX];
    json_t *got = NULL, *res = NULL;
    int left = -1;
    ac_errmsg_t err = {{0}};
    ac_node_action_env_t env = env_of(f);
    enable(f, T0, secret);
    json_t *a = ac_node_action_twofa("twofa_disable");
    create(f, SCOPE, a, T0, id);
    assert_int_equal(resolve(f, SCOPE, NULL, secret, T0 + 30, T0 + 5, &got, &left), 0);
    assert_true(json_equal(got, a));
    assert_true(ac_node_twofa_enabled(f->s)); /* approving is not running */
    assert_int_equal(ac_node_action_exec(&env, got, &res, &err), 0);
    assert_true(json_is_object(res));
    assert_int_equal(json_object_size(res), 0);
    json_decref(res);
    assert_false(ac_node_twofa_enabled(f->s));
    ac_test_assert_sql(f->db.c, "SELECT value FROM settings WHERE key = 'auth.totp.enabled'", "false");
    ac_test_assert_sql(f->db.c, "SELECT value FROM settings WHERE key = 'auth.totp.secret'", "");
    res = (json_t *)1;
    assert_int_equal(ac_node_action_exec(&env, got, &res, &err), -AC_ESTATE); /* off already */
    assert_null(res);
    json_decref(got);
    json_decref(a);
}

static void exec_refuses_unknown_or_malformed_actions(void **state)
{
    fx_t *f = *state;
    ac_errmsg_t err = {{0}};
    ac_node_action_env_t env = env_of(f);
    struct {
        const char *json;
        int want;
    } cases[] = {
        {"{\"type\": \"format_disk\"}", -AC_EINVAL},
        {"{\"command\": \"df -h\"}", -AC_EINVAL},
        {"{\"type\": 5}", -AC_EINVAL},
        {"{\"type\": \"shell_command\", \"command\": \"df -h\"}", -AC_ESTATE}, /* no chat context here */
        {"{\"type\": \"setting_set\", \"key\": \"shell.x\", \"value_type\": \"string\"}", -AC_EINVAL},
        {"{\"type\": \"setting_set\", \"key\": \"bad key!\", \"value\": \"1\", \"value_type\": \"string\"}",
         -AC_EINVAL},
        {"{\"type\": \"run_workflow\"}", -AC_EINVAL},
        {"{\"type\": \"run_workflow\", \"workflow_id\": 3, \"name\": \"x\"}", -AC_ESTATE}, /* no pool here */
        {"{\"type\": \"workflow_enable\", \"name\": \"x\"}", -AC_EINVAL},
        {"{\"type\": \"workflow_enable\", \"name\": \"no-such-workflow\", \"enabled\": true}", -AC_ENOENT},
        {"{\"type\": \"workflow_replace\", \"name\": \"x\"}", -AC_EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *a = json_loads(cases[i].json, 0, NULL), *res = (json_t *)1;
        assert_non_null(a);
        int rc = ac_node_action_exec(&env, a, &res, &err);
        if (rc != cases[i].want)
            fail_msg("%s: got %d (%s), want %d", cases[i].json, rc, err.msg, cases[i].want);
        assert_null(res);
        json_decref(a);
    }
    ac_test_assert_sql(f->db.c, "SELECT count(*) FROM settings WHERE key IN ('shell.x', 'bad key!')", "0");
}

static void describe_says_what_will_run(void **state)
{
    fx_t *f = *state;
    json_t *doc = json_pack("{s:[{},{}]}", "steps"); /* the action takes its own reference */
    struct {
        json_t *a;
        const char *want;
    } cases[] = {
        {ac_node_action_run_workflow(7, "nightly"), "Run workflow `nightly` (id 7)"},
        {ac_node_action_shell("df -h"), "Execute: `df -h`"},
        {ac_node_action_twofa("twofa_setup"), "Set up 2FA again with a new secret"},
        {ac_node_action_twofa("twofa_disable"), "Disable 2FA"},
        {ac_node_action_setting(f->s, "telegram.chat_id", "-100123", "string"),
         "Change setting `telegram.chat_id` to `-100123`"},
        {ac_node_action_setting(f->s, "auth.api_token", "sekrit-42", "string"),
         "Change setting `auth.api_token` to a new secret value"},
        {ac_node_action_workflow_enable("nightly", false), "Disable workflow `nightly`"},
        {ac_node_action_workflow_enable("nightly", true), "Enable workflow `nightly`"},
        {ac_node_action_workflow_replace("nightly", doc),
         "Save changes to workflow `nightly` (2 steps, document a41e2ac9)"},
        {json_pack("{s:s}", "type", "format_disk"), "an unknown action"},
        {json_object(), "an unknown action"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_non_null(cases[i].a);
        char *d = ac_node_action_describe(cases[i].a);
        assert_string_equal(d, cases[i].want);
        free(d);
        json_decref(cases[i].a);
    }
    json_decref(doc);
    char *prompt = ac_node_challenge_prompt("Disable 2FA");
    assert_string_equal(prompt, "This action requires 2FA verification.\nDisable 2FA\n\nEnter your 6-digit "
                                "authenticator code:");
    free(prompt);
}

/* describe cuts long commands and names: never inside a character, or the database refuses the description (and a
 * chat would refuse the prompt). */
static void a_long_non_ascii_command_still_makes_a_challenge(void **state)
{
    fx_t *f = *state;
    char id[AC_NODE_CHALLENGE_ID_MAX], cmd[256] = "echo ", name[512] = "";
    for (int i = 0; i < 50; i++)
        strcat(cmd, "\xc3\xa9"); /* byte 80 falls inside an e-acute */
    for (int i = 0; i < 100; i++)
        strcat(name, "\xe2\x9c\x93"); /* byte 120 too, inside a check mark */
    json_t *acts[] = {ac_node_action_shell(cmd), ac_node_action_run_workflow(3, name)};
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
        ac_errmsg_t err = {{0}};
        char *desc = ac_node_action_describe(acts[i]);
        int rc = ac_node_challenge_create(f->db.c, SCOPE, acts[i], desc, T0, id, &err);
        if (rc != 0)
            fail_msg("%s: create: %d %s", desc, rc, err.msg);
        assert_sqlf(f->db.c, desc, "SELECT description FROM twofa_challenges WHERE id = '%s'", id);
        free(desc);
        json_decref(acts[i]);
    }
}

/* An action is returned exactly as stored, numbers included (a workflow document may hold any JSON number). */
static void numbers_in_an_action_come_back_as_they_were(void **state)
{
    fx_t *f = *state;
    char secret[40], id[AC_NODE_CHALLENGE_ID_MAX];
    json_t *got = NULL;
    int left = -1;
    enable(f, T0, secret);
    json_t *a = json_pack("{s:s, s:s, s:{s:f, s:f, s:f, s:I}}", "type", "workflow_replace", "name", "nightly", "doc",
                          "limit", 1e17, "huge", 1e20, "tiny", 1e-7, "max", (json_int_t)INT64_MAX);
    create(f, SCOPE, a, T0, id);
    int rc = resolve(f, SCOPE, NULL, secret, T0 + 30, T0 + 5, &got, &left);
    if (rc != 0)
        fail_msg("resolve: %d", rc);
    if (!json_equal(got, a)) {
        char *x = json_dumps(a, JSON_SORT_KEYS), *y = json_dumps(got, JSON_SORT_KEYS);
        fprintf(stderr, "stored:   %s\nresolved: %s\n", x, y);
        free(x);
        free(y);
        fail();
    }
    json_decref(got);
    json_decref(a);
}

/* One node's attempt in the race below: its own connection and settings cache. */
typedef struct {
    PGconn *c;
    ac_node_settings_t *s;
    const char *scope, *id;
    char code[8];
    int64_t now;
    pthread_barrier_t *go;
    int rc, left;
    json_t *action;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    ac_errmsg_t err = {{0}};
    pthread_barrier_wait(r->go);
    r->rc = ac_node_challenge_resolve(r->c, r->s, r->scope, r->id, r->code, r->now, &r->action, &r->left, &err);
    return NULL;
}

static void two_nodes_resolving_one_challenge_at_once_approve_it_once(void **state)
{
    fx_t *f = *state;
    char secret[40], id[AC_NODE_CHALLENGE_ID_MAX];
    ac_errmsg_t err = {{0}};
    enable(f, T0, secret);
    assert_int_equal(ac_node_settings_store_load(f->c2, f->s2, &err), 0);
    assert_true(ac_node_twofa_enabled(f->s2));
    for (int round = 0; round < 20; round++) {
        int64_t now = T0 + 40 + 60 * round; /* its step and the next are above every step taken before */
        json_t *a = json_pack("{s:s, s:s, s:i}", "type", "shell_command", "command", "uptime", "round", round);
        create(f, SCOPE, a, now, id);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        racer_t r[2] = {
            {.c = f->db.c, .s = f->s, .scope = SCOPE, .now = now, .go = &go},
            {.c = f->c2, .s = f->s2, .id = id, .now = now, .go = &go},
        };
        code_at(secret, now, r[0].code);
        code_at(secret, now + AC_POLICY_TOTP_STEP_S, r[1].code);
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        if ((r[0].rc == 0) + (r[1].rc == 0) != 1)
            fail_msg("round %d: rc %d and %d, want exactly one 0", round, r[0].rc, r[1].rc);
        racer_t *won = r[0].rc == 0 ? &r[0] : &r[1], *lost = r[0].rc == 0 ? &r[1] : &r[0];
        assert_true(json_equal(won->action, a));
        assert_int_equal(lost->rc, -AC_ENOENT);
        assert_null(lost->action);
        ac_test_assert_sql(f->db.c, "SELECT count(*) FROM twofa_challenges", "0");
        assert_last_step(f->db.c, won == &r[0] ? now : now + AC_POLICY_TOTP_STEP_S);
        json_decref(won->action);
        json_decref(a);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(setup_then_confirm_enables_it),
        T(a_code_is_never_accepted_twice_on_any_node),
        T(wrong_codes_in_a_row_lock_every_check_for_a_while),
        T(rekeying_and_disabling_need_a_current_code),
        T(create_then_resolve_by_scope_returns_exactly_the_stored_action),
        T(resolve_by_id_works_and_an_unknown_id_is_not_found),
        T(a_new_challenge_replaces_the_pending_one_of_its_scope),
        T(a_challenge_expires_ttl_seconds_after_it_was_made),
        T(wrong_codes_are_counted_and_the_fifth_ends_the_challenge),
        T(a_replayed_code_is_a_wrong_attempt),
        T(with_2fa_off_a_challenge_is_left_alone),
        T(pending_until_expiry_or_cancel),
        T(create_refuses_a_bad_scope_or_action),
        T(a_machine_request_never_replaces_a_waiting_one),
        T(a_sensitive_setting_action_is_sealed_and_runs_in_clear),
        T(an_approved_twofa_disable_turns_2fa_off),
        T(exec_refuses_unknown_or_malformed_actions),
        T(describe_says_what_will_run),
        T(two_nodes_resolving_one_challenge_at_once_approve_it_once),
        T(a_long_non_ascii_command_still_makes_a_challenge),
        T(numbers_in_an_action_come_back_as_they_were),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
