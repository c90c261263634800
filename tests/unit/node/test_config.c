/* tests/unit/node/test_config.c - node/config.c: sanity of the configuration registry (unique names and keys, valid
 * types and defaults, upper-case variable names, sensitivity flags that agree with the settings rule) and the three
 * documents generated from it (--help, .env.example, the README's markdown tables), which must name every variable
 * and setting and, for markdown, keep every table row to the column count of its header. */
#include "node/config.h"
#include "node/settings.h"
#include "policy/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#define REG   ac_node_config_registry
#define REG_N ac_node_config_registry_count

/* Output of one print function, from open_memstream; caller frees. */
/* Not inlined: gcc 12 at -O3 takes buf, which open_memstream() fills, for a dangling local (-Wdangling-pointer). */
__attribute__((noinline)) static char *capture(void (*print)(FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    print(f);
    assert_int_equal(fclose(f), 0);
    assert_non_null(buf);
    return buf;
}

/* Pipes in line[0..n) not escaped by an odd run of backslashes. */
static size_t unescaped_pipes(const char *line, size_t n)
{
    size_t pipes = 0, backslashes = 0;
    for (size_t i = 0; i < n; i++) {
        if (line[i] == '\\') {
            backslashes++;
            continue;
        }
        if (line[i] == '|' && backslashes % 2 == 0)
            pipes++;
        backslashes = 0;
    }
    return pipes;
}

static bool is_upper_env_name(const char *s)
{
    if (s[0] == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* --- the registry --- */

static void registry_entries_have_an_env_name_or_a_key_and_a_description(void **state)
{
    assert_true(REG_N > 0);
    for (size_t i = 0; i < REG_N; i++) {
        assert_true(REG[i].env != NULL || REG[i].key != NULL);
        assert_non_null(REG[i].def);
        assert_non_null(REG[i].description);
        assert_true(REG[i].description[0] != '\0');
    }
}

static void registry_has_no_duplicate_env_names(void **state)
{
    for (size_t i = 0; i < REG_N; i++)
        for (size_t j = i + 1; j < REG_N; j++)
            if (REG[i].env != NULL && REG[j].env != NULL)
                assert_string_not_equal(REG[i].env, REG[j].env);
}

static void registry_has_no_duplicate_keys(void **state)
{
    for (size_t i = 0; i < REG_N; i++)
        for (size_t j = i + 1; j < REG_N; j++)
            if (REG[i].key != NULL && REG[j].key != NULL)
                assert_string_not_equal(REG[i].key, REG[j].key);
}

static void env_names_are_upper_case_letters_digits_and_underscores(void **state)
{
    for (size_t i = 0; i < REG_N; i++) {
        if (REG[i].env == NULL)
            continue;
        if (!is_upper_env_name(REG[i].env))
            fail_msg("bad environment variable name \"%s\"", REG[i].env);
    }
}

static void setting_keys_pass_the_key_check(void **state)
{
    for (size_t i = 0; i < REG_N; i++) {
        ac_errmsg_t err = {{0}};
        if (REG[i].key != NULL && ac_node_setting_key_check(REG[i].key, &err) != 0)
            fail_msg("key \"%s\": %s", REG[i].key, err.msg);
    }
}

static void settings_have_a_known_type_a_category_and_a_default_valid_for_that_type(void **state)
{
    size_t settings = 0;
    for (size_t i = 0; i < REG_N; i++) {
        const ac_node_config_entry_t *e = &REG[i];
        if (e->key == NULL)
            continue;
        settings++;
        ac_node_setting_type_t t;
        ac_errmsg_t err = {{0}};
        assert_non_null(e->type);
        if (ac_node_setting_type_parse(e->type, &t) != 0)
            fail_msg("key \"%s\": unknown type \"%s\"", e->key, e->type);
        if (ac_node_setting_value_check(t, e->def, &err) != 0)
            fail_msg("key \"%s\": default \"%s\" is not a valid %s: %s", e->key, e->def, e->type, err.msg);
        assert_non_null(e->category);
        assert_true(e->category[0] != '\0');
    }
    assert_true(settings > 0);
}

static void process_variables_have_no_type_or_category(void **state)
{
    for (size_t i = 0; i < REG_N; i++) {
        if (REG[i].key != NULL)
            continue;
        assert_non_null(REG[i].env);
        assert_null(REG[i].type);
        assert_null(REG[i].category);
    }
}

static void settings_matching_the_sensitivity_rule_are_flagged_sensitive(void **state)
{
    for (size_t i = 0; i < REG_N; i++) {
        const ac_node_config_entry_t *e = &REG[i];
        if (e->key != NULL && ac_node_setting_key_is_sensitive(e->key) && !(e->flags & AC_CFG_SENSITIVE))
            fail_msg("key \"%s\" is secret by the settings rule but not flagged AC_CFG_SENSITIVE", e->key);
    }
}

static void settings_flagged_sensitive_are_secret_by_the_settings_rule(void **state)
{
    size_t flagged = 0;
    for (size_t i = 0; i < REG_N; i++) {
        const ac_node_config_entry_t *e = &REG[i];
        if (e->key == NULL || !(e->flags & AC_CFG_SENSITIVE))
            continue;
        flagged++;
        if (!ac_node_setting_key_is_sensitive(e->key))
            fail_msg("key \"%s\" is flagged AC_CFG_SENSITIVE but the settings rule does not see it", e->key);
    }
    assert_true(flagged > 0);
}

/* A variable named like a secret must be erased from the environment and never logged. */
static void variables_named_like_secrets_are_flagged_sensitive(void **state)
{
    static const char *const words[] = {"PASSWORD", "SECRET", "TOKEN", "API_KEY", "COOKIE"};
    for (size_t i = 0; i < REG_N; i++) {
        const ac_node_config_entry_t *e = &REG[i];
        if (e->env == NULL)
            continue;
        for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
            if (strcasestr(e->env, words[w]) != NULL && !(e->flags & AC_CFG_SENSITIVE))
                fail_msg("variable %s looks secret but is not flagged AC_CFG_SENSITIVE", e->env);
    }
    assert_true(ac_node_config_find_env("DATABASE_URL")->flags & AC_CFG_SENSITIVE);
}

static void finds_every_entry_by_env_name_and_by_key(void **state)
{
    for (size_t i = 0; i < REG_N; i++) {
        if (REG[i].env != NULL)
            assert_ptr_equal(ac_node_config_find_env(REG[i].env), &REG[i]);
        if (REG[i].key != NULL)
            assert_ptr_equal(ac_node_config_find_key(REG[i].key), &REG[i]);
    }
}

static void finds_nothing_for_unknown_or_mixed_up_names(void **state)
{
    assert_null(ac_node_config_find_env("NO_SUCH_VARIABLE"));
    assert_null(ac_node_config_find_env("database_url"));
    assert_null(ac_node_config_find_env(""));
    assert_null(ac_node_config_find_key("no.such.key"));
    assert_null(ac_node_config_find_key(""));
    /* A key is not an env name and vice versa. */
    assert_null(ac_node_config_find_env("telegram.bot_token"));
    assert_null(ac_node_config_find_key("TELEGRAM_BOT_TOKEN"));
}

/* --- generated documents --- */

static void help_names_every_variable_and_the_setting_it_seeds(void **state)
{
    char *out = capture(ac_node_config_print_help);
    char want[300];
    for (size_t i = 0; i < REG_N; i++) {
        const ac_node_config_entry_t *e = &REG[i];
        if (e->env == NULL)
            continue;
        snprintf(want, sizeof(want), "  %s", e->env);
        if (strstr(out, want) == NULL)
            fail_msg("--help does not list %s", e->env);
        if (e->key != NULL) {
            snprintf(want, sizeof(want), "[setting %s]", e->key);
            if (strstr(out, want) == NULL)
                fail_msg("--help does not name setting %s", e->key);
        }
    }
    free(out);
}

static void env_example_names_every_variable_commented_out(void **state)
{
    char *out = capture(ac_node_config_print_env_example);
    char want[300];
    for (size_t i = 0; i < REG_N; i++) {
        if (REG[i].env == NULL)
            continue;
        snprintf(want, sizeof(want), "\n#%s=", REG[i].env);
        if (strstr(out, want) == NULL)
            fail_msg(".env.example does not list %s", REG[i].env);
    }
    free(out);
}

/* Sourcing the file unedited must set nothing: every line is a comment or blank. */
static void env_example_sets_no_variable_until_edited(void **state)
{
    char *out = capture(ac_node_config_print_env_example);
    for (char *line = out; *line != '\0';) {
        char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
        if (n > 0 && line[0] != '#')
            fail_msg("uncommented line in .env.example: %.*s", (int)n, line);
        line += n + (nl != NULL);
    }
    free(out);
}

static void env_example_lists_development_variables_last(void **state)
{
    char *out = capture(ac_node_config_print_env_example);
    char want[300];
    const char *last_regular = NULL, *first_dev = NULL;
    for (size_t i = 0; i < REG_N; i++) {
        if (REG[i].env == NULL)
            continue;
        snprintf(want, sizeof(want), "\n#%s=", REG[i].env);
        const char *at = strstr(out, want);
        assert_non_null(at);
        if (REG[i].flags & AC_CFG_DEV) {
            if (first_dev == NULL || at < first_dev)
                first_dev = at;
        } else if (last_regular == NULL || at > last_regular) {
            last_regular = at;
        }
    }
    assert_non_null(last_regular);
    if (first_dev != NULL)
        assert_true(first_dev > last_regular);
    free(out);
}

static void markdown_names_every_variable_and_every_setting(void **state)
{
    char *out = capture(ac_node_config_print_markdown);
    char want[300];
    for (size_t i = 0; i < REG_N; i++) {
        if (REG[i].env != NULL) {
            snprintf(want, sizeof(want), "`%s`", REG[i].env);
            if (strstr(out, want) == NULL)
                fail_msg("markdown does not list %s", REG[i].env);
        }
        if (REG[i].key != NULL) {
            snprintf(want, sizeof(want), "| `%s` |", REG[i].key);
            if (strstr(out, want) == NULL)
                fail_msg("markdown does not list setting %s", REG[i].key);
        }
    }
    free(out);
}

/* Every row of a table has as many unescaped '|' as its header, so no cell content splits a row. */
static void markdown_rows_have_as_many_cells_as_their_header(void **state)
{
    char *out = capture(ac_node_config_print_markdown);
    size_t tables = 0, rows = 0, header_pipes = 0;
    bool in_table = false;
    for (char *line = out; *line != '\0';) {
        char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
        if (n > 0 && line[0] == '|') {
            size_t pipes = unescaped_pipes(line, n);
            if (!in_table) {
                in_table = true;
                tables++;
                header_pipes = pipes;
                assert_true(header_pipes >= 2);
            } else if (pipes != header_pipes) {
                fail_msg("row has %zu unescaped pipes, header %zu: %.*s", pipes, header_pipes, (int)n, line);
            }
            rows++;
        } else {
            in_table = false;
        }
        line += n + (nl != NULL);
    }
    assert_int_equal(tables, 2);
    /* Two header lines, two separator lines, one row per entry. */
    assert_int_equal(rows, REG_N + 4);
    /* The registry holds defaults with '|' (shell.blocklist): the escaping path is exercised. */
    assert_non_null(strstr(out, "\\|"));
    free(out);
}

static void markdown_escapes_pipes_in_cells(void **state)
{
    char *out = capture(ac_node_config_print_markdown);
    const char *row = strstr(out, "| `shell.blocklist` |");
    assert_non_null(row);
    const char *end = strchr(row, '\n');
    assert_non_null(end);
    size_t n = (size_t)(end - row);
    char *line = strndup(row, n);
    assert_non_null(line);
    assert_non_null(strstr(line, "\"\\|\\|\",\"\\|\""));
    free(line);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry_entries_have_an_env_name_or_a_key_and_a_description),
        cmocka_unit_test(registry_has_no_duplicate_env_names),
        cmocka_unit_test(registry_has_no_duplicate_keys),
        cmocka_unit_test(env_names_are_upper_case_letters_digits_and_underscores),
        cmocka_unit_test(setting_keys_pass_the_key_check),
        cmocka_unit_test(settings_have_a_known_type_a_category_and_a_default_valid_for_that_type),
        cmocka_unit_test(process_variables_have_no_type_or_category),
        cmocka_unit_test(settings_matching_the_sensitivity_rule_are_flagged_sensitive),
        cmocka_unit_test(settings_flagged_sensitive_are_secret_by_the_settings_rule),
        cmocka_unit_test(variables_named_like_secrets_are_flagged_sensitive),
        cmocka_unit_test(finds_every_entry_by_env_name_and_by_key),
        cmocka_unit_test(finds_nothing_for_unknown_or_mixed_up_names),
        cmocka_unit_test(help_names_every_variable_and_the_setting_it_seeds),
        cmocka_unit_test(env_example_names_every_variable_commented_out),
        cmocka_unit_test(env_example_sets_no_variable_until_edited),
        cmocka_unit_test(env_example_lists_development_variables_last),
        cmocka_unit_test(markdown_names_every_variable_and_every_setting),
        cmocka_unit_test(markdown_rows_have_as_many_cells_as_their_header),
        cmocka_unit_test(markdown_escapes_pipes_in_cells),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
