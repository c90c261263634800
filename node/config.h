/* node/config.h - the one registry of configuration: every environment variable and every seeded setting.
 *
 * `alexclaw --help`, `.env.example` and the README's configuration tables are generated from this table
 * (`alexclaw config reference env|markdown`), and a test fails when the committed copies drift from it. Later
 * issues add their rows here. */
#ifndef AC_NODE_CONFIG_H
#define AC_NODE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum {
    AC_CFG_SENSITIVE = 1u << 0, /* a secret: encrypted at rest, erased from the environment, masked, never logged */
    AC_CFG_DEV = 1u << 1,       /* for development and tests; listed after the others */
};

typedef struct ac_node_config_entry {
    const char *env;         /* environment variable, or NULL for a setting without one */
    const char *key;         /* setting key, or NULL for a process-level variable (not stored in `settings`) */
    const char *def;         /* default value ("" for none); for process variables, a description of the default */
    const char *type;        /* setting type: string | integer | float | boolean | json */
    const char *category;    /* setting category */
    unsigned flags;          /* AC_CFG_* */
    const char *description; /* one sentence */
} ac_node_config_entry_t;

extern const ac_node_config_entry_t ac_node_config_registry[];
extern const size_t ac_node_config_registry_count;

/* Returns the entry for an environment variable name or a setting key, or NULL. */
const ac_node_config_entry_t *ac_node_config_find_env(const char *env);
const ac_node_config_entry_t *ac_node_config_find_key(const char *key);

/* Writes the environment-variable section of --help, `.env.example`, or the README tables. */
void ac_node_config_print_help(FILE *out);
void ac_node_config_print_env_example(FILE *out);
void ac_node_config_print_markdown(FILE *out);

#endif
