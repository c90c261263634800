/* node/settings_store.h - the `settings` table behind the cache of settings.h: seeding, encryption at rest, loading,
 * writing, and the LISTEN/NOTIFY listener that keeps every node's cache current within a second.
 *
 * Sensitive values are stored exactly as the original AlexClaw stores them (policy/crypto.h): "enc:" + base64 of
 * IV || AES-256-GCM ciphertext || tag, key HKDF-SHA256(SECRET_KEY_BASE, zero salt, "AlexClaw.Config.Crypto");
 * an empty value is stored empty. The cache holds plaintext; nothing here logs a value. */
#ifndef AC_NODE_SETTINGS_STORE_H
#define AC_NODE_SETTINGS_STORE_H

#include "node/env.h"
#include "node/settings.h"

#include <libpq-fe.h>

/* Boot: under an advisory lock and in one transaction, seeds missing registry keys (their environment variable's
 * value when given, else the default), only ever flips `sensitive` from false to true, encrypts sensitive values
 * found in clear, and replaces sensitive values that no longer decrypt with their environment variable when one is
 * given (logged). Then loads the cache. Values that stay unreadable are reported per key and the boot goes on. */
int ac_node_settings_store_boot(PGconn *c, const ac_node_env_t *env, ac_node_settings_t *s, ac_errmsg_t *err);

/* Reloads every row into the cache. */
int ac_node_settings_store_load(PGconn *c, ac_node_settings_t *s, ac_errmsg_t *err);
/* Reloads one key (removes it from the cache when its row is gone). */
int ac_node_settings_store_load_key(PGconn *c, ac_node_settings_t *s, const char *key, ac_errmsg_t *err);

/* Writes one setting: validates key, type and value (type_name NULL keeps the row's type, else the registry's, else
 * string), encrypts when the key is sensitive, upserts, and updates the cache. Nothing changes on error. */
int ac_node_settings_store_set(PGconn *c, ac_node_settings_t *s, const char *key, const char *value,
                               const char *type_name, ac_errmsg_t *err);
/* Deletes one setting (no error when absent). */
int ac_node_settings_store_delete(PGconn *c, ac_node_settings_t *s, const char *key, ac_errmsg_t *err);

/* The listener: a thread with its own connection, LISTENing on channel "alexclaw_settings" and reloading the keys
 * named in notifications. It reconnects with backoff when the connection drops, and reloads everything after. */
typedef struct ac_node_settings_listener ac_node_settings_listener_t;
int ac_node_settings_listener_start(const char *conninfo, ac_node_settings_t *s, ac_node_settings_listener_t **out,
                                    ac_errmsg_t *err);
void ac_node_settings_listener_stop(ac_node_settings_listener_t *l);

#endif
