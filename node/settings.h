/* node/settings.h - the in-memory settings cache: typed getters, validation, sensitivity and masking.
 *
 * The cache holds plaintext values (decrypted at load) behind a read-write lock, safe for any number of concurrent
 * readers. It does no I/O: node/settings_store.h loads it from PostgreSQL, writes through it, and keeps it current
 * when any node sharing the database changes a setting. Getters copy out, so no pointer into the cache escapes. */
#ifndef AC_NODE_SETTINGS_H
#define AC_NODE_SETTINGS_H

#include "policy/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AC_SETTING_KEY_MAX    255          /* varchar(255) in the schema */
#define AC_SETTING_VALUE_MAX  (256 * 1024) /* prompts are the longest values */
#define AC_SETTING_JSON_DEPTH 32

typedef enum {
    AC_SETTING_STRING = 0,
    AC_SETTING_INTEGER,
    AC_SETTING_FLOAT,
    AC_SETTING_BOOLEAN,
    AC_SETTING_JSON,
} ac_node_setting_type_t;

/* A setting as the store hands it to the cache, and as listings hand it out. */
typedef struct ac_node_setting {
    char *key;
    char *value; /* plaintext; NULL when unreadable */
    ac_node_setting_type_t type;
    char *category;
    char *description;
    bool sensitive;
    int error; /* 0, or why the value is unusable: -AC_EDECRYPT/-AC_ECIPHERTEXT/-AC_EBASE64, -AC_ETYPE */
} ac_node_setting_t;

typedef struct ac_node_settings ac_node_settings_t;

/* --- pure checks --- */
int ac_node_setting_type_parse(const char *name, ac_node_setting_type_t *out);
const char *ac_node_setting_type_name(ac_node_setting_type_t t);
/* A key is 1..255 bytes of [A-Za-z0-9_.-]. */
int ac_node_setting_key_check(const char *key, ac_errmsg_t *err);
/* Checks a value against a type: integer (decimal int64), float (finite), boolean ("true"/"false"), json
 * (valid, depth-bounded), string (valid UTF-8); no NUL, at most AC_SETTING_VALUE_MAX bytes. */
int ac_node_setting_value_check(ac_node_setting_type_t type, const char *value, ac_errmsg_t *err);
/* True for the keys that are always secret: the registry's sensitive keys, and any key containing api_key, token,
 * password or secret (case-insensitive). */
bool ac_node_setting_key_is_sensitive(const char *key);
/* The masked form shown wherever a secret would appear: "" for empty, all '*' up to 8 chars, else the first 4 chars,
 * "********" and the last 4 (reference section 2.4). From ac_malloc; caller frees. */
char *ac_node_setting_mask(const char *value);

/* --- the cache --- */
/* Creates an empty cache. Keeps a copy of the 32-byte settings key (zeroed on free); the store uses it. */
ac_node_settings_t *ac_node_settings_new(const uint8_t key[32]);
void ac_node_settings_free(ac_node_settings_t *s);
/* The settings key (for the store). */
const uint8_t *ac_node_settings_key(const ac_node_settings_t *s);

/* Inserts or replaces one entry; takes ownership of every field of *row (row itself is not freed). */
void ac_node_settings_put(ac_node_settings_t *s, ac_node_setting_t *row);
/* Removes an entry; no-op when absent. */
void ac_node_settings_remove(ac_node_settings_t *s, const char *key);
/* Replaces the whole content with rows[0..n) (ownership of their fields taken). */
void ac_node_settings_replace_all(ac_node_settings_t *s, ac_node_setting_t *rows, size_t n);

/* Typed getters. Return 0 and fill *out; -AC_ENOENT when absent; the entry's error when unreadable; -AC_ETYPE when
 * the stored value does not parse as the requested type. */
int ac_node_settings_get_str(ac_node_settings_t *s, const char *key, char **out); /* from ac_malloc */
int ac_node_settings_get_int(ac_node_settings_t *s, const char *key, int64_t *out);
int ac_node_settings_get_float(ac_node_settings_t *s, const char *key, double *out);
int ac_node_settings_get_bool(ac_node_settings_t *s, const char *key, bool *out);
int ac_node_settings_get_json(ac_node_settings_t *s, const char *key, json_t **out); /* new reference */
/* Like the getters, with a fallback returned when the key is absent or unusable. */
int64_t ac_node_settings_int_or(ac_node_settings_t *s, const char *key, int64_t fallback);
bool ac_node_settings_bool_or(ac_node_settings_t *s, const char *key, bool fallback);

/* Copies the entries (all, or one category), ordered by key, with sensitive values masked. OUT: *rows from
 * ac_malloc, released with ac_node_settings_rows_free(). */
int ac_node_settings_list(ac_node_settings_t *s, const char *category, ac_node_setting_t **rows, size_t *n);
/* Copies one entry (value masked when sensitive). */
int ac_node_settings_describe(ac_node_settings_t *s, const char *key, ac_node_setting_t *row);
void ac_node_setting_clear(ac_node_setting_t *row);
void ac_node_settings_rows_free(ac_node_setting_t *rows, size_t n);

/* Counts every change applied to the cache; lets waiters notice updates. */
uint64_t ac_node_settings_generation(ac_node_settings_t *s);

#endif
