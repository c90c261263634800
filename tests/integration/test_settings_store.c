/* tests/integration/test_settings_store.c - the settings table against a real PostgreSQL server: seeding, the
 * sensitive flag, encryption at rest, unreadable values, validation on write, and propagation to a second cache
 * through LISTEN/NOTIFY. */
#include "node/config.h"
#include "node/migrate.h"
#include "node/settings_store.h"
#include "policy/alloc.h"
#include "policy/crypto.h"
#include "tests/support/testdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static const char skb_a[] = "test-secret-key-base-A-0123456789abcdefghijklmnopqrstuvwxyz";
static const char skb_b[] = "test-secret-key-base-B-0123456789abcdefghijklmnopqrstuvwxyz";

typedef struct {
    char ci[512];
    PGconn *c;
    ac_node_env_t env;
    ac_node_settings_t *s;
} fx_t;

static ac_node_settings_t *new_cache(const char *skb)
{
    uint8_t key[32];
    assert_int_equal(ac_policy_crypto_derive_key(skb, strlen(skb), AC_POLICY_CRYPTO_INFO_SETTINGS, key), 0);
    return ac_node_settings_new(key);
}

static void env_set(ac_node_env_t *env, const char *name, const char *value)
{
    for (size_t i = 0; i < ac_node_config_registry_count; i++) {
        if (ac_node_config_registry[i].env != NULL && strcmp(ac_node_config_registry[i].env, name) == 0) {
            free(env->values[i]);
            env->values[i] = value != NULL ? ac_strdup(value) : NULL;
            return;
        }
    }
    fail_msg("no registry variable %s", name);
}

static int setup(void **state)
{
    fx_t *f = ac_calloc(1, sizeof(*f));
    snprintf(f->ci, sizeof(f->ci), "%s", ac_test_db_create("settings"));
    f->c = ac_test_db_connect(f->ci);
    ac_errmsg_t err = {{0}};
    if (ac_node_migrate_run(f->c, ac_node_migrations_embedded, ac_node_migrations_embedded_count, NULL, &err) != 0)
        fail_msg("migrate: %s", err.msg);
    f->env.values = ac_calloc(ac_node_config_registry_count, sizeof(char *));
    f->s = new_cache(skb_a);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    ac_node_settings_free(f->s);
    ac_node_env_free(&f->env);
    PQfinish(f->c);
    ac_test_db_drop(f->ci);
    free(f);
    return 0;
}

static void boot(fx_t *f)
{
    ac_errmsg_t err = {{0}};
    if (ac_node_settings_store_boot(f->c, &f->env, f->s, &err) != 0)
        fail_msg("boot: %s", err.msg);
}

static char *raw(fx_t *f, const char *key)
{
    const char *p[] = {key};
    PGresult *r = PQexecParams(f->c, "SELECT value FROM settings WHERE key = $1", 1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    char *v = PQntuples(r) == 1 ? ac_strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return v;
}

static long count(fx_t *f, const char *sql)
{
    PGresult *r = PQexec(f->c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static size_t registry_settings(void)
{
    size_t n = 0;
    for (size_t i = 0; i < ac_node_config_registry_count; i++)
        n += ac_node_config_registry[i].key != NULL;
    return n;
}

static void seeds_every_registry_key_and_only_missing_ones(void **state)
{
    fx_t *f = *state;
    boot(f);
    assert_int_equal(count(f, "SELECT count(*) FROM settings"), (long)registry_settings());
    ac_test_db_exec(f->c, "UPDATE settings SET value = '42' WHERE key = 'shell.timeout_seconds'");
    ac_test_db_exec(f->c, "DELETE FROM settings WHERE key = 'backup.max_files'");
    boot(f);
    assert_int_equal(ac_node_settings_int_or(f->s, "shell.timeout_seconds", -1), 42);
    assert_int_equal(ac_node_settings_int_or(f->s, "backup.max_files", -1), 7);
    assert_int_equal(count(f, "SELECT count(*) FROM settings"), (long)registry_settings());
}

static void environment_seeds_first_boot_then_database_wins(void **state)
{
    fx_t *f = *state;
    env_set(&f->env, "TELEGRAM_CHAT_ID", "12345");
    env_set(&f->env, "OLLAMA_ENABLED", "true");
    boot(f);
    char *v = NULL;
    assert_int_equal(ac_node_settings_get_str(f->s, "telegram.chat_id", &v), 0);
    assert_string_equal(v, "12345");
    free(v);
    assert_true(ac_node_settings_bool_or(f->s, "llm.ollama_enabled", false));
    env_set(&f->env, "TELEGRAM_CHAT_ID", "99999");
    boot(f);
    assert_int_equal(ac_node_settings_get_str(f->s, "telegram.chat_id", &v), 0);
    assert_string_equal(v, "12345");
    free(v);
}

static void sensitive_flag_only_grows(void **state)
{
    fx_t *f = *state;
    boot(f);
    ac_test_db_exec(f->c, "UPDATE settings SET sensitive = false WHERE key = 'github.token'");
    ac_test_db_exec(f->c,
                    "INSERT INTO settings (key, value, sensitive) VALUES ('custom.api_key', 'k-123456789', false)");
    ac_test_db_exec(f->c, "UPDATE settings SET sensitive = true WHERE key = 'display.timezone'");
    boot(f);
    assert_int_equal(count(f, "SELECT count(*) FROM settings WHERE sensitive AND key IN "
                              "('github.token', 'custom.api_key', 'display.timezone')"),
                     3);
    char *v = raw(f, "custom.api_key");
    assert_true(ac_policy_crypto_is_sealed(v));
    free(v);
}

static void plaintext_secret_is_encrypted_in_place(void **state)
{
    fx_t *f = *state;
    boot(f);
    ac_test_db_exec(f->c, "UPDATE settings SET value = 'plain-bot-token-123' WHERE key = 'telegram.bot_token'");
    boot(f);
    char *v = raw(f, "telegram.bot_token");
    assert_true(ac_policy_crypto_is_sealed(v));
    assert_null(strstr(v, "plain-bot-token-123"));
    free(v);
    assert_int_equal(ac_node_settings_get_str(f->s, "telegram.bot_token", &v), 0);
    assert_string_equal(v, "plain-bot-token-123");
    free(v);
    assert_int_equal(
        count(f, "SELECT count(*) FROM settings WHERE sensitive AND value <> '' AND value NOT LIKE 'enc:%'"), 0);
}

static void undecryptable_secret_is_reported_masked_and_boot_goes_on(void **state)
{
    fx_t *f = *state;
    env_set(&f->env, "TELEGRAM_BOT_TOKEN", "token-under-key-A");
    boot(f);
    /* the node restarts with another SECRET_KEY_BASE and no token in its environment */
    ac_node_settings_free(f->s);
    f->s = new_cache(skb_b);
    env_set(&f->env, "TELEGRAM_BOT_TOKEN", NULL);
    boot(f);
    char *v = NULL;
    assert_int_equal(ac_node_settings_get_str(f->s, "telegram.bot_token", &v), -AC_EDECRYPT);
    assert_null(v);
    ac_node_setting_t row;
    assert_int_equal(ac_node_settings_describe(f->s, "telegram.bot_token", &row), 0);
    assert_int_equal(row.error, -AC_EDECRYPT);
    assert_null(row.value); /* neither ciphertext nor plaintext */
    ac_node_setting_clear(&row);
    /* other settings are unaffected */
    assert_int_equal(ac_node_settings_int_or(f->s, "shell.timeout_seconds", -1), 30);

    /* given the variable again, the boot replaces the unreadable value */
    env_set(&f->env, "TELEGRAM_BOT_TOKEN", "token-under-key-B");
    boot(f);
    assert_int_equal(ac_node_settings_get_str(f->s, "telegram.bot_token", &v), 0);
    assert_string_equal(v, "token-under-key-B");
    free(v);
}

static void corrupted_values_get_their_own_error(void **state)
{
    fx_t *f = *state;
    boot(f);
    ac_test_db_exec(f->c, "UPDATE settings SET value = 'enc:!!!not-base64!!!' WHERE key = 'github.token'");
    ac_test_db_exec(f->c, "UPDATE settings SET value = 'enc:QUJD' WHERE key = 'github.webhook_secret'");
    boot(f);
    char *v = NULL;
    assert_int_equal(ac_node_settings_get_str(f->s, "github.token", &v), -AC_EBASE64);
    assert_int_equal(ac_node_settings_get_str(f->s, "github.webhook_secret", &v), -AC_ECIPHERTEXT);
    /* and the corrupted values are left for the owner to replace, not silently rewritten */
    v = raw(f, "github.token");
    assert_string_equal(v, "enc:!!!not-base64!!!");
    free(v);
}

static void unknown_type_row_is_reported_and_ignored(void **state)
{
    fx_t *f = *state;
    boot(f);
    ac_test_db_exec(f->c, "INSERT INTO settings (key, value, type) VALUES ('custom.blob', 'x', 'blob')");
    boot(f);
    char *v = NULL;
    assert_int_equal(ac_node_settings_get_str(f->s, "custom.blob", &v), -AC_ETYPE);
    assert_int_equal(ac_node_settings_int_or(f->s, "shell.timeout_seconds", -1), 30);
}

static void bad_writes_change_nothing(void **state)
{
    fx_t *f = *state;
    boot(f);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_settings_store_set(f->c, f->s, "shell.timeout_seconds", "abc", NULL, &err), -AC_ETYPE);
    assert_non_null(strstr(err.msg, "integer"));
    assert_int_equal(ac_node_settings_store_set(f->c, f->s, "shell.timeout_seconds", "5", "blob", &err), -AC_ETYPE);
    assert_non_null(strstr(err.msg, "unknown setting type"));
    assert_int_equal(ac_node_settings_store_set(f->c, f->s, "telegram.enabled", "yes", NULL, &err), -AC_ETYPE);
    char longkey[300];
    memset(longkey, 'k', 256);
    longkey[256] = '\0';
    assert_int_equal(ac_node_settings_store_set(f->c, f->s, longkey, "v", NULL, &err), -AC_ETOOLONG);
    assert_int_equal(ac_node_settings_store_set(f->c, f->s, "bad key", "v", NULL, &err), -AC_EINVAL);
    char *v = raw(f, "shell.timeout_seconds");
    assert_string_equal(v, "30");
    free(v);
    assert_int_equal(count(f, "SELECT count(*) FROM settings"), (long)registry_settings());
    assert_int_equal(ac_node_settings_int_or(f->s, "shell.timeout_seconds", -1), 30);
}

static void writes_encrypt_secrets_and_update_the_cache(void **state)
{
    fx_t *f = *state;
    boot(f);
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_settings_store_set(f->c, f->s, "custom.service_token", "tok-abcdef-123", NULL, &err), 0);
    char *v = raw(f, "custom.service_token");
    assert_true(ac_policy_crypto_is_sealed(v));
    free(v);
    assert_int_equal(ac_node_settings_get_str(f->s, "custom.service_token", &v), 0);
    assert_string_equal(v, "tok-abcdef-123");
    free(v);
    assert_int_equal(ac_node_settings_store_set(f->c, f->s, "custom.limit", "17", "integer", &err), 0);
    assert_int_equal(ac_node_settings_int_or(f->s, "custom.limit", -1), 17);
    /* an empty secret is stored empty, never encrypted */
    assert_int_equal(ac_node_settings_store_set(f->c, f->s, "github.token", "", NULL, &err), 0);
    v = raw(f, "github.token");
    assert_string_equal(v, "");
    free(v);
    assert_int_equal(ac_node_settings_store_delete(f->c, f->s, "custom.limit", &err), 0);
    assert_int_equal(ac_node_settings_int_or(f->s, "custom.limit", -1), -1);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Waits (bounded) until cache b's generation moves past g; returns the seconds it took. */
static double wait_change(ac_node_settings_t *b, uint64_t g, double limit)
{
    double t0 = now_s();
    while (ac_node_settings_generation(b) == g && now_s() - t0 < limit)
        usleep(2000);
    return now_s() - t0;
}

static void a_write_reaches_another_cache_within_a_second(void **state)
{
    fx_t *f = *state;
    boot(f);
    ac_node_settings_t *b = new_cache(skb_a);
    ac_node_settings_listener_t *l = NULL;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_settings_listener_start(f->ci, b, &l, &err), 0);
    /* the listener loads everything once connected */
    double t0 = now_s();
    while (ac_node_settings_int_or(b, "shell.timeout_seconds", -1) != 30 && now_s() - t0 < 10)
        usleep(10000);
    assert_int_equal(ac_node_settings_int_or(b, "shell.timeout_seconds", -1), 30);

    uint64_t g = ac_node_settings_generation(b);
    assert_int_equal(ac_node_settings_store_set(f->c, f->s, "shell.timeout_seconds", "12", NULL, &err), 0);
    double took = wait_change(b, g, 5.0);
    assert_int_equal(ac_node_settings_int_or(b, "shell.timeout_seconds", -1), 12);
    assert_true(took < 1.0);

    /* secrets arrive decrypted; changes made outside the node (psql) arrive too, deletes included */
    g = ac_node_settings_generation(b);
    assert_int_equal(ac_node_settings_store_set(f->c, f->s, "telegram.bot_token", "tok-propagated-1", NULL, &err), 0);
    wait_change(b, g, 5.0);
    char *v = NULL;
    assert_int_equal(ac_node_settings_get_str(b, "telegram.bot_token", &v), 0);
    assert_string_equal(v, "tok-propagated-1");
    free(v);
    g = ac_node_settings_generation(b);
    ac_test_db_exec(f->c, "DELETE FROM settings WHERE key = 'identity.persona'");
    took = wait_change(b, g, 5.0);
    assert_int_equal(ac_node_settings_get_str(b, "identity.persona", &v), -AC_ENOENT);
    assert_true(took < 1.0);

    ac_node_settings_listener_stop(l);
    ac_node_settings_free(b);
}

static void a_write_during_the_listeners_first_load_is_not_delayed(void **state)
{
    /* Notifications that arrive while the listener runs a query are queued by libpq without waking poll(); they
     * must still be applied at once, not after the 30 s idle check. */
    fx_t *f = *state;
    boot(f);
    ac_node_settings_t *b = new_cache(skb_a);
    ac_node_settings_listener_t *l = NULL;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_settings_listener_start(f->ci, b, &l, &err), 0);
    for (int i = 0; i < 20; i++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", 100 + i);
        assert_int_equal(ac_node_settings_store_set(f->c, f->s, "shell.max_output_chars", v, NULL, &err), 0);
        usleep(5000);
    }
    double t0 = now_s();
    while (ac_node_settings_int_or(b, "shell.max_output_chars", -1) != 119 && now_s() - t0 < 5)
        usleep(5000);
    assert_int_equal(ac_node_settings_int_or(b, "shell.max_output_chars", -1), 119);
    assert_true(now_s() - t0 < 1.0);
    ac_node_settings_listener_stop(l);
    ac_node_settings_free(b);
}

static void listener_recovers_after_its_connection_is_killed(void **state)
{
    fx_t *f = *state;
    boot(f);
    ac_node_settings_t *b = new_cache(skb_a);
    ac_node_settings_listener_t *l = NULL;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_settings_listener_start(f->ci, b, &l, &err), 0);
    double t0 = now_s();
    while (ac_node_settings_generation(b) == 0 && now_s() - t0 < 10)
        usleep(10000);
    assert_true(ac_node_settings_generation(b) > 0);
    ac_test_db_exec(f->c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    /* a change made while it reconnects is not lost: it reloads everything once back */
    ac_test_db_exec(f->c, "UPDATE settings SET value = '77' WHERE key = 'shell.max_output_chars'");
    t0 = now_s();
    while (ac_node_settings_int_or(b, "shell.max_output_chars", -1) != 77 && now_s() - t0 < 15)
        usleep(20000);
    assert_int_equal(ac_node_settings_int_or(b, "shell.max_output_chars", -1), 77);
    ac_node_settings_listener_stop(l);
    ac_node_settings_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(seeds_every_registry_key_and_only_missing_ones, setup, teardown),
        cmocka_unit_test_setup_teardown(environment_seeds_first_boot_then_database_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(sensitive_flag_only_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(plaintext_secret_is_encrypted_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(undecryptable_secret_is_reported_masked_and_boot_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupted_values_get_their_own_error, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_type_row_is_reported_and_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_writes_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(writes_encrypt_secrets_and_update_the_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(a_write_reaches_another_cache_within_a_second, setup, teardown),
        cmocka_unit_test_setup_teardown(a_write_during_the_listeners_first_load_is_not_delayed, setup, teardown),
        cmocka_unit_test_setup_teardown(listener_recovers_after_its_connection_is_killed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
