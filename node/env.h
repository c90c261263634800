/* node/env.h - reads the process environment once, validates it, and erases secrets from it.
 *
 * ac_node_env_load() copies every variable of the configuration registry, checks the ones it can check on its own
 * (SECRET_KEY_BASE length, DATABASE_URL syntax, LOG_LEVEL, typed setting seeds), registers secret values with the
 * logger's redaction, and then erases the secret variables from the process environment block in place, so that
 * /proc/<pid>/environ and `ps e` no longer show them. */
#ifndef AC_NODE_ENV_H
#define AC_NODE_ENV_H

#include "node/config.h"
#include "policy/error.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ac_node_env {
    char **values; /* parallel to ac_node_config_registry; NULL when unset or empty */
} ac_node_env_t;

/* Fills env from the process environment. On failure err says which variable is wrong and why (never its value),
 * env holds nothing, and the environment is untouched. OUT: env, released with ac_node_env_free(). */
int ac_node_env_load(ac_node_env_t *env, ac_errmsg_t *err);
void ac_node_env_free(ac_node_env_t *env);

/* Returns the value of a registry variable (by environment name), or NULL when unset. Valid until env is freed. */
const char *ac_node_env_get(const ac_node_env_t *env, const char *name);

/* Checks SECRET_KEY_BASE for commands that need it: present and at least 32 bytes. */
int ac_node_env_require_secret(const ac_node_env_t *env, ac_errmsg_t *err);

/* Removes `name` from the environment and overwrites its original "NAME=value" bytes with zeros. */
void ac_node_env_erase(const char *name);

/* Checks the base URL of an outside API a secret travels to (TELEGRAM_API_URL, GEMINI_API_URL, ANTHROPIC_API_URL,
 * GITHUB_API_URL; name is the variable, for the message): http:// or https://, at most 512 bytes, no spaces, query,
 * fragment or user name; plain http:// only to this host (127.x, localhost, [::1]), since the key or token would
 * cross the network in clear. Returns 0 or -AC_ECONFIG with err. */
int ac_node_env_api_url_check(const char *name, const char *url, ac_errmsg_t *err);

#endif
