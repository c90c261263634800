/* skills/llm_store.h - the provider store of the LLM router (reference section 10): the table llm_providers
 * (migration 0011), read together with today's count from llm_usage, which the router (skills/llm.h) keeps.
 *
 * Providers live in the database (shared by every node of a cluster that shares it); each call reads the enabled
 * providers it may use (one small query; an LLM call costs seconds). API keys are stored sealed with the settings key
 * (policy/crypto.h, the format of encrypted settings) and opened only to build a request; they never reach a log, an
 * error, the admin UI or a list (has_api_key says whether one is set). A provider without a key of its own uses the
 * setting of its type (llm.gemini_api_key, llm.anthropic_api_key), which is how the seeded providers are recorded.
 *
 * This header owns the provider as lists show it, listing, saving (with the validation of every field and the sealing
 * of keys), deleting and seeding; at its end, a few internals the router shares (a stored row, reading rows for a
 * call, opening a key). Thread-safe; no state of its own besides the database. */
#ifndef AC_SKILLS_LLM_STORE_H
#define AC_SKILLS_LLM_STORE_H

#include "node/settings.h"
#include "policy/error.h"
#include "skills/llm_wire.h"
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AC_SKILLS_LLM_NAME_MAX 255

/* "light", "medium", "heavy", "local": 0, else -AC_EINVAL. */
int ac_skills_llm_tier_check(const char *tier);

/* A provider as lists show it: never the key. */
typedef struct ac_skills_llm_provider {
    int64_t id;
    char *name, *type, *tier, *host, *model; /* host may be NULL */
    bool has_api_key;                        /* a key of its own is stored (sealed) */
    bool uses_setting_key;                   /* no key of its own, and the type's setting has one */
    int64_t daily_limit;                     /* -1: no limit */
    json_t *headers; /* object; values of headers whose name looks secret (authorization, *key*, *token*,
                           *secret*) replaced by "********" */
    json_t *options; /* object */
    bool enabled;
    int priority;
    int64_t usage_today; /* successful calls this UTC day */
    bool cloud;          /* ac_skills_llm_type_is_cloud */
} ac_skills_llm_provider_t;

/* Every provider, ordered by tier (light, medium, heavy, local), priority, name, with today's usage. s: for
 * uses_setting_key. OUT: *out (array owned, free with ac_skills_llm_providers_free), *n. */
int ac_skills_llm_providers_list(PGconn *c, ac_node_settings_t *s, ac_skills_llm_provider_t **out, size_t *n,
                                 ac_errmsg_t *err);
void ac_skills_llm_providers_free(ac_skills_llm_provider_t *p, size_t n);
/* One provider as a JSON object (the fields above; "api_key": "********" when has_api_key, else ""). Owned. */
json_t *ac_skills_llm_provider_json(const ac_skills_llm_provider_t *p);

/* Creates (id 0) or updates (id > 0) a provider from a JSON object with the fields name, type, tier, host, model,
 * api_key, daily_limit (integer >= 0 or null), headers (object of strings, at most 16), enabled, priority
 * (integer >= 0), options (object). On create name, tier and model are required (type defaults to
 * openai_compatible); on update absent fields keep their value. api_key: absent or "********" keeps the stored key,
 * "" or null removes it, anything else is sealed with the settings key. A header value of "********" keeps that
 * header's stored value. Validation (with a sentence per field, nothing written on error): name 1..255 characters
 * UTF-8 without control characters; type and tier from their sets; host null/"" or an http(s):// URL without
 * userinfo, query or fragment (<= 255); model 1..255; headers as llm_wire.h accepts them; options an object of at
 * most 16 KiB encoded; unknown fields refused.
 * OUT: *id_out (may be NULL) the row's id. Errors: -AC_EINVAL (err names the field), -AC_EEXIST (name taken),
 * -AC_ENOENT (no such id), database errors. */
int ac_skills_llm_provider_save(PGconn *c, ac_node_settings_t *s, int64_t id, const json_t *fields, int64_t *id_out,
                                ac_errmsg_t *err);
/* Deletes a provider (its usage rows stay, as history). -AC_ENOENT when there is none. */
int ac_skills_llm_provider_delete(PGconn *c, int64_t id, ac_errmsg_t *err);

/* Inserts the original's default providers not added before (reference section 10): Gemini Flash/Pro, Claude
 * Haiku/Sonnet/Opus (no key of their own: the settings' keys; enabled when that setting is non-empty), Ollama and
 * LM Studio (model and host from llm.ollama_* / llm.lmstudio_*; enabled when llm.ollama_enabled /
 * llm.lmstudio_enabled is true and the host is set: the original ignored those flags and enabled a provider on
 * localhost by default). Each default is added once per database (table llm_seeded): one the owner deleted is not
 * added again (the original re-created it at every start). Safe when several nodes boot together. */
int ac_skills_llm_seed(PGconn *c, ac_node_settings_t *s, ac_errmsg_t *err);

/* Whether a provider header's value is a secret by its name (case-insensitive; it contains auth, key, token, secret,
 * password or cookie): such values are stored sealed like api_key, masked in lists, and scrubbed from errors. */
bool ac_skills_llm_header_secret(const char *name);
/* Seals the values of fields.headers whose name looks secret (ac_skills_llm_header_secret), in place, so a pending
 * 2FA action never holds them in clear; "********" and values sealed already are left as they are. The store accepts
 * the sealed form back (it must open with the settings key). Returns 0 or -AC_ECRYPTO. */
int ac_skills_llm_headers_seal(ac_node_settings_t *s, json_t *fields, ac_errmsg_t *err);

/* --- internals shared with the router (skills/llm.c); not for other callers --------------------------------------- */

/* The UTC day llm_usage counts by (SQL): the store's usage_today and the router's reservations must agree on it. */
#define AC_SKILLS_LLM__TODAY "(now() AT TIME ZONE 'utc')::date"

/* A provider row as stored: api_key is the sealed text (or NULL), never a key in clear. */
typedef struct ac_skills_llm__row {
    int64_t id;
    char *name, *type_name, *tier, *host, *model, *api_key;
    ac_skills_llm_type_t type;
    int64_t daily_limit; /* -1: none */
    json_t *headers, *options;
    bool enabled;
    int64_t priority;
    int64_t usage_today;
} ac_skills_llm__row_t;

/* The rows a call may use, each with today's usage, ordered by priority, then name. By tier: the enabled providers of
 * tier. By name: the enabled provider named name (when local_only, only if its tier is local). By id: provider id,
 * enabled or not. OUT: *out (array of *n rows, NULL when none; free with ac_skills_llm__rows_free). Database errors
 * only (none found is *n == 0). */
int ac_skills_llm__rows_by_tier(PGconn *c, const char *tier, ac_skills_llm__row_t **out, size_t *n, ac_errmsg_t *err);
int ac_skills_llm__rows_by_name(PGconn *c, const char *name, bool local_only, ac_skills_llm__row_t **out, size_t *n,
                                ac_errmsg_t *err);
int ac_skills_llm__rows_by_id(PGconn *c, int64_t id, ac_skills_llm__row_t **out, size_t *n, ac_errmsg_t *err);
void ac_skills_llm__rows_free(ac_skills_llm__row_t *p, size_t n);

/* The key a request to p carries: none for ollama; its own (opened with the settings key of s); else for
 * gemini/anthropic the type's setting. OUT: *key from ac_malloc (free with ac_free_secret_str), NULL when there is
 * none. Returns 0, or -AC_ECONFIG with err "api_key_not_set[: ...]" when the stored key does not open or the type
 * needs a key and there is none (never quoting a key). */
int ac_skills_llm__key_open(ac_node_settings_t *s, const ac_skills_llm__row_t *p, char **key, ac_errmsg_t *err);

/* The provider's headers as a request sends them: values stored sealed (secret-looking headers, see
 * ac_skills_llm_header_secret) opened with the settings key. OUT: *headers (owned; free with
 * ac_skills_llm__headers_wipe, which zeroes the opened values), NULL when p has none. Returns 0, or -AC_ECONFIG when a
 * sealed value does not open (never quoting it). */
int ac_skills_llm__headers_open(ac_node_settings_t *s, const ac_skills_llm__row_t *p, json_t **headers,
                                ac_errmsg_t *err);
/* Zeroes every string value of headers (from ac_skills_llm__headers_open) and releases it. NULL is fine. */
void ac_skills_llm__headers_wipe(json_t *headers);

/* A setting's text, "" when s or key is NULL, or the setting is absent or unreadable. From ac_malloc; may be a
 * secret: free with ac_free_secret_str. */
char *ac_skills_llm__setting_str(ac_node_settings_t *s, const char *key);

/* The static spelling of a tier ("light", "medium", "heavy", "local"), NULL for none. */
const char *ac_skills_llm__tier_static(const char *tier);

#endif
