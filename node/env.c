/* node/env.c - loading, checking and erasing the process environment (env.h). */
#include "node/env.h"

#include "node/db.h"
#include "node/log.h"
#include "node/settings.h"
#include "policy/alloc.h"
#include "policy/crypto.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define ENV_VALUE_MAX (64 * 1024)

/* Whether the host part of an http URL (after "http://") is this host: 127.x.y.z, localhost or [::1]. */
static bool loopback_host(const char *h)
{
    size_t n = strcspn(h, ":/");
    if (h[0] == '[')
        return strncmp(h, "[::1]", 5) == 0 && (h[5] == '\0' || h[5] == ':' || h[5] == '/');
    if (n == 9 && strncmp(h, "localhost", 9) == 0)
        return true;
    return n >= 7 && strncmp(h, "127.", 4) == 0 && strspn(h, "0123456789.") == n;
}

int ac_node_env_api_url_check(const char *name, const char *url, ac_errmsg_t *err)
{
    if (strlen(url) > 512 || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        strpbrk(url, " \t\r\n?#@") != NULL)
        return ac_errmsg_set(err, -AC_ECONFIG, "%s must be an http:// or https:// URL without a query", name);
    if (strncmp(url, "http://", 7) == 0 && !loopback_host(url + 7))
        return ac_errmsg_set(err, -AC_ECONFIG,
                             "%s: a key or token travels to it, so plain http:// is only for a server on this host "
                             "(127.x, localhost, [::1]); use https://",
                             name);
    return 0;
}

void ac_node_env_erase(const char *name)
{
    size_t nl = strlen(name);
    for (;;) {
        char *entry = NULL;
        for (char **e = environ; e != NULL && *e != NULL; e++) {
            if (strncmp(*e, name, nl) == 0 && (*e)[nl] == '=') {
                entry = *e;
                break;
            }
        }
        if (entry == NULL)
            return;
        /* unsetenv drops the pointer from environ but leaves the bytes where the kernel put them (the top of the
         * stack, which /proc/<pid>/environ reads); overwrite them too. */
        unsetenv(name);
        explicit_bzero(entry, strlen(entry));
    }
}

void ac_node_env_free(ac_node_env_t *env)
{
    if (env->values == NULL)
        return;
    for (size_t i = 0; i < ac_node_config_registry_count; i++)
        ac_free_secret_str(env->values[i]);
    free(env->values);
    env->values = NULL;
}

const char *ac_node_env_get(const ac_node_env_t *env, const char *name)
{
    for (size_t i = 0; i < ac_node_config_registry_count; i++)
        if (ac_node_config_registry[i].env != NULL && strcmp(ac_node_config_registry[i].env, name) == 0)
            return env->values[i];
    return NULL;
}

int ac_node_env_require_secret(const ac_node_env_t *env, ac_errmsg_t *err)
{
    const char *skb = ac_node_env_get(env, "SECRET_KEY_BASE");
    if (skb == NULL)
        return ac_errmsg_set(
            err, -AC_ECONFIG,
            "SECRET_KEY_BASE is not set; make one with: export SECRET_KEY_BASE=$(openssl rand -base64 48)");
    if (strlen(skb) < AC_POLICY_CRYPTO_MIN_SECRET_LEN)
        return ac_errmsg_set(err, -AC_ECONFIG,
                             "SECRET_KEY_BASE is too short (%zu bytes; need at least %d); make one with: "
                             "export SECRET_KEY_BASE=$(openssl rand -base64 48)",
                             strlen(skb), AC_POLICY_CRYPTO_MIN_SECRET_LEN);
    return 0;
}

static int check_one(const ac_node_config_entry_t *e, const char *v, ac_errmsg_t *err)
{
    ac_errmsg_t why = {{0}};
    if (strlen(v) > ENV_VALUE_MAX)
        return ac_errmsg_set(err, -AC_ECONFIG, "%s is longer than %d bytes", e->env, ENV_VALUE_MAX);
    if (strcmp(e->env, "DATABASE_URL") == 0) {
        int rc = ac_node_db_url_check(v, &why);
        return rc == 0 ? 0 : ac_errmsg_set(err, rc, "%s", why.msg);
    }
    if (strcmp(e->env, "LOG_LEVEL") == 0) {
        ac_log_level_t l;
        return ac_log_level_parse(v, &l) == 0
                   ? 0
                   : ac_errmsg_set(err, -AC_ECONFIG, "LOG_LEVEL must be debug, info, warn or error");
    }
    if (strcmp(e->env, "DIST_PORT_MIN") == 0 || strcmp(e->env, "DIST_PORT_MAX") == 0 ||
        strcmp(e->env, "ERL_EPMD_PORT") == 0) {
        char *end;
        long n = strtol(v, &end, 10);
        return *end == '\0' && n >= 0 && n <= 65535
                   ? 0
                   : ac_errmsg_set(err, -AC_ECONFIG, "%s must be a port number (0-65535)", e->env);
    }
    if (strcmp(e->env, "NODE_NAME") == 0) {
        const char *at = strchr(v, '@');
        size_t n = strlen(v);
        bool ok = at != NULL && at != v && at[1] != '\0' && n <= 255 && strchr(at + 1, '@') == NULL;
        for (size_t i = 0; ok && i < n; i++)
            ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') ||
                 strchr("_-.@", v[i]) != NULL;
        return ok ? 0 : ac_errmsg_set(err, -AC_ECONFIG, "NODE_NAME must look like name@host (letters, digits, _ - .)");
    }
    if (strcmp(e->env, "DIST_NET_TICKTIME") == 0) {
        char *end;
        long n = strtol(v, &end, 10);
        return *end == '\0' && n >= 2 && n <= 3600
                   ? 0
                   : ac_errmsg_set(err, -AC_ECONFIG, "DIST_NET_TICKTIME must be a number of seconds from 2 to 3600");
    }
    if (strcmp(e->env, "ALEXCLAW_WORKERS") == 0) {
        char *end;
        long n = strtol(v, &end, 10);
        return *end == '\0' && n >= 1 && n <= 64
                   ? 0
                   : ac_errmsg_set(err, -AC_ECONFIG, "ALEXCLAW_WORKERS must be a number from 1 to 64");
    }
    if (e->key != NULL) {
        ac_node_setting_type_t t;
        if (ac_node_setting_type_parse(e->type, &t) != 0)
            return ac_errmsg_set(err, -AC_ECONFIG, "%s: registry type %s unknown", e->env, e->type);
        if (ac_node_setting_value_check(t, v, &why) != 0)
            return ac_errmsg_set(err, -AC_ECONFIG, "%s (seeds setting %s): %s", e->env, e->key, why.msg);
    }
    return 0;
}

/* The password inside DATABASE_URL is a secret of its own: libpq messages could quote it without the rest. */
static void add_url_password(const char *url)
{
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
            ac_log_secret_add(o->val);
    PQconninfoFree(opts);
}

int ac_node_env_load(ac_node_env_t *env, ac_errmsg_t *err)
{
    env->values = ac_calloc(ac_node_config_registry_count, sizeof(char *));
    for (size_t i = 0; i < ac_node_config_registry_count; i++) {
        const ac_node_config_entry_t *e = &ac_node_config_registry[i];
        if (e->env == NULL)
            continue;
        const char *v = getenv(e->env);
        if (v == NULL || v[0] == '\0')
            continue;
        int rc = check_one(e, v, err);
        if (rc != 0) {
            ac_node_env_free(env);
            return rc;
        }
        env->values[i] = ac_strdup(v);
    }
    /* Names only, at debug level: which variables this process was given. */
    char names[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < ac_node_config_registry_count; i++) {
        if (env->values[i] != NULL && used + strlen(ac_node_config_registry[i].env) + 2 < sizeof(names))
            used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", used ? "," : "",
                                     ac_node_config_registry[i].env);
    }
    ac_log_debug("env", "loaded", "set=%s", names);
    for (size_t i = 0; i < ac_node_config_registry_count; i++) {
        const ac_node_config_entry_t *e = &ac_node_config_registry[i];
        if (e->env == NULL || !(e->flags & AC_CFG_SENSITIVE))
            continue;
        if (env->values[i] != NULL)
            ac_log_secret_add(env->values[i]);
        if (env->values[i] != NULL && strcmp(e->env, "DATABASE_URL") == 0)
            add_url_password(env->values[i]);
        ac_node_env_erase(e->env);
    }
    return 0;
}
