/* node/cli_config.c - `alexclaw config list|get|set|unset|reference`.
 *
 * Values of sensitive settings are never printed: list and get show the masked form. `set KEY -` reads the value
 * from standard input so that a secret does not appear in the process list or the shell history. */
#include "node/cli_config.h"

#include "node/config.h"
#include "node/log.h"
#include "node/runtime.h"
#include "node/twofa.h"
#include "policy/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void print_row(const ac_node_setting_t *r)
{
    const char *v = r->value;
    char state[96] = "";
    if (r->error != 0) {
        snprintf(state, sizeof(state), "<unreadable: %s>", ac_strerror(r->error));
        v = state;
    }
    printf("%s\t%s\t%s%s\n", r->key, ac_node_setting_type_name(r->type), v != NULL ? v : "",
           r->sensitive ? "\t(secret)" : "");
}

/* Reads all of stdin (bounded); strips one trailing newline. OUT: *out from ac_malloc. */
static int read_stdin_value(char **out)
{
    /* One fixed buffer: growing it with realloc would leave copies of a secret behind. */
    size_t cap = AC_SETTING_VALUE_MAX + 2, len = 0;
    char *buf = ac_malloc(cap);
    size_t n;
    while (len < cap - 1 && (n = fread(buf + len, 1, cap - 1 - len, stdin)) > 0)
        len += n;
    int rc = 0;
    if (len > AC_SETTING_VALUE_MAX + 1 || (len == cap - 1 && fgetc(stdin) != EOF))
        rc = -AC_ETOOLONG;
    else if (memchr(buf, '\0', len) != NULL)
        rc = -AC_EINVAL;
    if (rc != 0) {
        ac_free_secret(buf, cap);
        return rc;
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len > AC_SETTING_VALUE_MAX) {
        ac_free_secret(buf, cap);
        return -AC_ETOOLONG;
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: alexclaw config list [CATEGORY] | get KEY | set KEY VALUE|- [--type TYPE] [--code CODE] |"
                    " unset KEY [--code CODE] | reference env|markdown\n"
                    "  --code: a current code from your authenticator app, to change telegram.chat_id, auth.*, shell.*"
                    " or api.token while 2FA is on\n");
    return 2;
}

int ac_node_cli_config(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    const char *sub = argv[0];
    if (strcmp(sub, "reference") == 0) {
        if (argc == 2 && strcmp(argv[1], "env") == 0)
            ac_node_config_print_env_example(stdout);
        else if (argc == 2 && strcmp(argv[1], "markdown") == 0)
            ac_node_config_print_markdown(stdout);
        else
            return usage();
        return 0;
    }
    const char *type = NULL, *code = NULL;
    if (strcmp(sub, "set") == 0 || strcmp(sub, "unset") == 0) {
        int npos = strcmp(sub, "set") == 0 ? 3 : 2;
        if (argc < npos)
            return usage();
        for (int i = npos; i < argc; i += 2) {
            if (i + 1 < argc && strcmp(argv[i], "--type") == 0 && type == NULL && npos == 3)
                type = argv[i + 1];
            else if (i + 1 < argc && strcmp(argv[i], "--code") == 0 && code == NULL)
                code = argv[i + 1];
            else
                return usage();
        }
    } else if (strcmp(sub, "get") == 0 ? argc != 2 : strcmp(sub, "list") == 0 ? argc > 2 : true) {
        return usage();
    }

    /* Say what is wrong with the arguments before touching the database. */
    ac_errmsg_t err = {{0}};
    if (strcmp(sub, "list") != 0 && ac_node_setting_key_check(argv[1], &err) != 0) {
        fprintf(stderr, "alexclaw config: %s\n", err.msg);
        return 1;
    }
    char *value = NULL;
    int rc = 0;
    if (strcmp(sub, "set") == 0) {
        if (strcmp(argv[2], "-") == 0) {
            if ((rc = read_stdin_value(&value)) != 0) {
                fprintf(stderr, "alexclaw config: cannot read the value from stdin: %s\n", ac_strerror(rc));
                return 1;
            }
        } else if (ac_node_setting_key_is_sensitive(argv[1])) {
            /* the command line is world-readable (ps, /proc/<pid>/cmdline) and lands in shell history */
            fprintf(stderr,
                    "alexclaw config: %s is a secret: give its value on standard input "
                    "(alexclaw config set %s -)\n",
                    argv[1], argv[1]);
            return 2;
        } else {
            value = ac_strdup(argv[2]);
        }
    }

    ac_node_runtime_t rt;
    rc = ac_node_runtime_open(&rt, AC_RT_MIGRATE | AC_RT_SETTINGS, NULL, &err);
    if (rc != 0) {
        fprintf(stderr, "alexclaw config: %s\n", err.msg[0] ? err.msg : ac_strerror(rc));
        ac_free_secret_str(value);
        return 1;
    }
    if (strcmp(sub, "list") == 0) {
        ac_node_setting_t *rows;
        size_t n;
        ac_node_settings_list(rt.settings, argc == 2 ? argv[1] : NULL, &rows, &n);
        for (size_t i = 0; i < n; i++)
            print_row(&rows[i]);
        ac_node_settings_rows_free(rows, n);
    } else if (strcmp(sub, "get") == 0) {
        ac_node_setting_t row;
        if ((rc = ac_node_settings_describe(rt.settings, argv[1], &row)) == 0)
            print_row(&row);
        else
            snprintf(err.msg, sizeof(err.msg), "no setting %s", argv[1]);
        ac_node_setting_clear(&row);
    } else if (strncmp(argv[1], "auth.totp.", 10) == 0) {
        /* only the 2FA flows change these: setting auth.totp.enabled by hand would lock everyone out */
        rc = ac_errmsg_set(&err, -AC_EPERM,
                           "%s is managed by the 2FA setup (/setup 2fa in Telegram, or Config in the admin UI)",
                           argv[1]);
    } else if (ac_node_twofa_key_guarded(argv[1]) && ac_node_twofa_enabled(rt.settings) &&
               (rc = code != NULL ? ac_node_twofa_verify(rt.db, rt.settings, code, (int64_t)time(NULL), &err)
                                  : ac_errmsg_set(&err, -AC_EPERM,
                                                  "changing %s needs 2FA: add --code with a current code from your "
                                                  "authenticator app",
                                                  argv[1])) != 0) {
        /* refused; err says why */
    } else if (strcmp(sub, "set") == 0) {
        rc = ac_node_settings_store_set(rt.db, rt.settings, argv[1], value, type, &err);
    } else {
        rc = ac_node_settings_store_delete(rt.db, rt.settings, argv[1], &err);
    }
    ac_free_secret_str(value);
    ac_node_runtime_close(&rt);
    if (rc != 0) {
        fprintf(stderr, "alexclaw config: %s\n", err.msg[0] ? err.msg : ac_strerror(rc));
        return 1;
    }
    return 0;
}
