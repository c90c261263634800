/* tests/integration/test_twofa.c - the second factor's state against a real PostgreSQL server: setup and confirm,
 * a code never accepted twice (also from a second node sharing the database), steps before the last accepted one
 * refused, re-keying and disabling only with a current code, secrets encrypted at rest. */
#include "node/migrate.h"
#include "node/settings_store.h"
#include "node/twofa.h"
#include "policy/alloc.h"
#include "tests/support/testdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(setup_then_confirm_enables_it),
        T(a_code_is_never_accepted_twice_on_any_node),
        T(rekeying_and_disabling_need_a_current_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
