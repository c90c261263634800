/* skills/llm_store.c - the provider store of llm_store.h: the rows of llm_providers (with today's count from
 * llm_usage), their validation on save, the sealing of API keys, and the original's default providers.
 *
 * A key is sealed (policy/crypto.h, the settings key) as soon as it is accepted and is never returned: lists say only
 * whether one is set, and values of headers that look secret are masked. The router (skills/llm.c) reads rows for a
 * call and opens a key through the few internals at the end of llm_store.h. Every statement takes its values as
 * parameters; a save checks every field before it writes anything. */
#include "skills/llm_store.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"
#include "policy/crypto.h"
#include "policy/utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MASK             "********"
#define HEADERS_MAX      16
#define HEADER_NAME_MAX  256
#define HEADER_VALUE_MAX 4096
#define OPTIONS_MAX      (16 * 1024)
#define OPTIONS_DEPTH    32
#define API_KEY_MAX      1024
#define HOST_MAX         255
#define INT32_LIMIT      2147483647

static const char *const tiers[] = {"light", "medium", "heavy", "local"};

/* The fields provider_save accepts; anything else is refused. */
static const char *const save_fields[] = {"name",        "type",    "tier",    "host",     "model",  "api_key",
                                          "daily_limit", "headers", "enabled", "priority", "options"};

/* Header names (lower-cased) containing one of these have their values masked in lists. */
static const char *const secret_header_parts[] = {"auth", "key", "token", "secret", "password", "cookie"};

/* Header names a provider may not set: the HTTP layer or the wire format owns them (llm_wire.h). */
static const char *const reserved_headers[] = {"authorization", "content-length", "host", "transfer-encoding"};

/* The original's default providers (reference section 10). Cloud ones use the type's key setting and are enabled
 * when it is non-empty; local ones take host and model from settings and are enabled by their flag and a host. */
typedef struct seed {
    const char *name, *type, *tier, *model;
    int priority;
    int daily_limit; /* -1: none */
    const char *key_setting;
    const char *enabled_setting, *host_setting, *model_setting;
} seed_t;

static const seed_t seeds[] = {
    {"Gemini Flash", "gemini", "light", "gemini-2.0-flash", 10, -1, "llm.gemini_api_key", NULL, NULL, NULL},
    {"Gemini Pro", "gemini", "medium", "gemini-2.0-pro", 10, -1, "llm.gemini_api_key", NULL, NULL, NULL},
    {"Claude Haiku", "anthropic", "light", "claude-haiku-4-5-20251001", 20, 1000, "llm.anthropic_api_key", NULL, NULL,
     NULL},
    {"Claude Sonnet", "anthropic", "medium", "claude-sonnet-4-6-20250514", 20, 5, "llm.anthropic_api_key", NULL, NULL,
     NULL},
    {"Claude Opus", "anthropic", "heavy", "claude-opus-4-6-20250514", 10, -1, "llm.anthropic_api_key", NULL, NULL,
     NULL},
    {"Ollama", "ollama", "local", NULL, 50, -1, NULL, "llm.ollama_enabled", "llm.ollama_host", "llm.ollama_model"},
    {"LM Studio", "openai_compatible", "local", NULL, 40, -1, NULL, "llm.lmstudio_enabled", "llm.lmstudio_host",
     "llm.lmstudio_model"},
};

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

#define COLUMNS                                                                                                        \
    "p.id, p.name, p.type, p.tier, p.host, p.model, p.api_key, p.daily_limit, p.headers::text, p.options::text, "      \
    "p.enabled, p.priority, "                                                                                          \
    "COALESCE((SELECT u.count FROM llm_usage u WHERE u.model = 'provider_' || p.id AND u.date = " AC_SKILLS_LLM__TODAY \
    "), 0)"
#define ORDER "p.priority, p.name COLLATE \"C\", p.id"

static const char sql_list[] = "SELECT " COLUMNS " FROM llm_providers p "
                               "ORDER BY array_position(ARRAY['light','medium','heavy','local'], p.tier::text), " ORDER;
static const char sql_by_tier[] = "SELECT " COLUMNS " FROM llm_providers p WHERE p.enabled AND p.tier = $1 "
                                  "ORDER BY " ORDER;
static const char sql_by_name[] = "SELECT " COLUMNS " FROM llm_providers p WHERE p.name = $1 AND p.enabled "
                                  "AND (NOT $2::bool OR (p.tier = 'local' AND p.type NOT IN ('gemini', 'anthropic')))";
static const char sql_by_id[] = "SELECT " COLUMNS " FROM llm_providers p WHERE p.id = $1::bigint";
static const char sql_lock_id[] = "SELECT " COLUMNS " FROM llm_providers p WHERE p.id = $1::bigint FOR UPDATE";

static const char sql_insert[] =
    "INSERT INTO llm_providers (name, type, tier, host, model, api_key, daily_limit, headers, enabled, priority, "
    "options) VALUES ($1, $2, $3, $4, $5, $6, $7::int, $8::jsonb, $9::bool, $10::int, $11::jsonb) RETURNING id";
static const char sql_update[] =
    "UPDATE llm_providers SET name = $1, type = $2, tier = $3, host = $4, model = $5, api_key = $6, "
    "daily_limit = $7::int, headers = $8::jsonb, enabled = $9::bool, priority = $10::int, options = $11::jsonb, "
    "updated_at = (now() AT TIME ZONE 'utc') WHERE id = $12::bigint";
static const char sql_delete[] = "DELETE FROM llm_providers WHERE id = $1::bigint";
/* A default is added once per database: llm_seeded remembers it, so a provider the owner deleted stays deleted. */
static const char sql_seed[] =
    "WITH mark AS (INSERT INTO llm_seeded (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING name) "
    "INSERT INTO llm_providers (name, type, tier, host, model, daily_limit, enabled, priority) "
    "SELECT $1, $2, $3, $4, $5, $6::int, $7::bool, $8::int FROM mark ON CONFLICT (name) DO NOTHING";

/* --- providers as rows -------------------------------------------------------------------------------------------- */

static void prov_clear(ac_skills_llm__row_t *p)
{
    free(p->name);
    free(p->type_name);
    free(p->tier);
    free(p->host);
    free(p->model);
    free(p->api_key);
    json_decref(p->headers);
    json_decref(p->options);
    memset(p, 0, sizeof(*p));
}

void ac_skills_llm__rows_free(ac_skills_llm__row_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        prov_clear(&p[i]);
    free(p);
}

static char *col_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : ac_strdup(PQgetvalue(r, row, col));
}

static int64_t col_int(const PGresult *r, int row, int col, int64_t null_value)
{
    return PQgetisnull(r, row, col) ? null_value : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static json_t *col_object(const PGresult *r, int row, int col)
{
    json_t *v = PQgetisnull(r, row, col) ? NULL : json_loads(PQgetvalue(r, row, col), 0, NULL);
    if (!json_is_object(v)) {
        json_decref(v);
        v = json_object(); /* the table's check constraint makes this unreachable */
    }
    return v;
}

/* Reads a result of COLUMNS. OUT: *out (array of *n rows, NULL when none; free with ac_skills_llm__rows_free). */
static void provs_read(const PGresult *r, ac_skills_llm__row_t **out, size_t *n)
{
    *n = (size_t)PQntuples(r);
    *out = *n > 0 ? ac_calloc(*n, sizeof(ac_skills_llm__row_t)) : NULL;
    for (size_t i = 0; i < *n; i++) {
        ac_skills_llm__row_t *p = &(*out)[i];
        int row = (int)i;
        p->id = col_int(r, row, 0, 0);
        p->name = col_str(r, row, 1);
        p->type_name = col_str(r, row, 2);
        if (ac_skills_llm_type_parse(p->type_name, &p->type) != 0)
            p->type = AC_SKILLS_LLM_OPENAI_COMPATIBLE; /* unreachable: a check constraint */
        p->tier = col_str(r, row, 3);
        p->host = col_str(r, row, 4);
        p->model = col_str(r, row, 5);
        p->api_key = col_str(r, row, 6);
        p->daily_limit = col_int(r, row, 7, -1);
        p->headers = col_object(r, row, 8);
        p->options = col_object(r, row, 9);
        p->enabled = strcmp(PQgetvalue(r, row, 10), "t") == 0;
        p->priority = col_int(r, row, 11, 0);
        p->usage_today = col_int(r, row, 12, 0);
    }
}

/* Runs a query of COLUMNS with text parameters. */
static int provs_query(PGconn *c, const char *sql, int nparams, const char *const *params, const char *what,
                       ac_skills_llm__row_t **out, size_t *n, ac_errmsg_t *err)
{
    *out = NULL;
    *n = 0;
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = ac_node_db_fail(c, "llm", what, err);
    else
        provs_read(r, out, n);
    PQclear(r);
    return rc;
}

int ac_skills_llm__rows_by_tier(PGconn *c, const char *tier, ac_skills_llm__row_t **out, size_t *n, ac_errmsg_t *err)
{
    const char *params[] = {tier};
    return provs_query(c, sql_by_tier, 1, params, "read the providers", out, n, err);
}

int ac_skills_llm__rows_by_name(PGconn *c, const char *name, bool local_only, ac_skills_llm__row_t **out, size_t *n,
                                ac_errmsg_t *err)
{
    const char *params[] = {name, local_only ? "t" : "f"};
    return provs_query(c, sql_by_name, 2, params, "read the provider", out, n, err);
}

int ac_skills_llm__rows_by_id(PGconn *c, int64_t id, ac_skills_llm__row_t **out, size_t *n, ac_errmsg_t *err)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *params[] = {idbuf};
    return provs_query(c, sql_by_id, 1, params, "read the provider", out, n, err);
}

/* --- keys and settings -------------------------------------------------------------------------------------------- */

static bool has_own_key(const ac_skills_llm__row_t *p)
{
    return p->api_key != NULL && p->api_key[0] != '\0';
}

static const char *key_setting_of(ac_skills_llm_type_t t)
{
    return t == AC_SKILLS_LLM_GEMINI      ? "llm.gemini_api_key"
           : t == AC_SKILLS_LLM_ANTHROPIC ? "llm.anthropic_api_key"
                                          : NULL;
}

char *ac_skills_llm__setting_str(ac_node_settings_t *s, const char *key)
{
    char *v = NULL;
    if (s == NULL || key == NULL || ac_node_settings_get_str(s, key, &v) != 0 || v == NULL) {
        ac_free_secret_str(v);
        return ac_strdup("");
    }
    return v;
}

static bool setting_nonempty(ac_node_settings_t *s, const char *key)
{
    char *v = ac_skills_llm__setting_str(s, key);
    bool yes = v[0] != '\0';
    ac_free_secret_str(v);
    return yes;
}

/* The key a request carries: the provider's own (opened), else for gemini/anthropic the type's setting. OUT: *key
 * from ac_malloc (free with ac_free_secret_str), NULL when there is none. */
int ac_skills_llm__key_open(ac_node_settings_t *s, const ac_skills_llm__row_t *p, char **key, ac_errmsg_t *err)
{
    *key = NULL;
    if (p->type == AC_SKILLS_LLM_OLLAMA)
        return 0;
    if (has_own_key(p)) {
        int rc = ac_policy_crypto_open(ac_node_settings_key(s), p->api_key, strlen(p->api_key), key, NULL);
        if (rc != 0)
            return ac_errmsg_set(err, -AC_ECONFIG,
                                 "api_key_not_set: the provider's stored key does not open with the settings key "
                                 "(enter it again)");
    } else if (key_setting_of(p->type) != NULL) {
        *key = ac_skills_llm__setting_str(s, key_setting_of(p->type));
    }
    if (*key != NULL && (*key)[0] == '\0') {
        ac_free_secret_str(*key);
        *key = NULL;
    }
    if (*key == NULL && ac_skills_llm_type_needs_key(p->type))
        return ac_errmsg_set(err, -AC_ECONFIG, "api_key_not_set");
    return 0;
}

int ac_skills_llm__headers_open(ac_node_settings_t *s, const ac_skills_llm__row_t *p, json_t **headers,
                                ac_errmsg_t *err)
{
    *headers = NULL;
    if (!json_is_object(p->headers) || json_object_size(p->headers) == 0)
        return 0;
    json_t *h = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(p->headers, k, v)
    {
        const char *val = json_string_value(v);
        if (val == NULL || !ac_policy_crypto_is_sealed(val)) {
            json_object_set_new(h, k, json_incref(v));
            continue;
        }
        char *plain = NULL;
        size_t pl = 0;
        if (ac_policy_crypto_open(ac_node_settings_key(s), val, strlen(val), &plain, &pl) != 0) {
            ac_skills_llm__headers_wipe(h);
            return ac_errmsg_set(err, -AC_ECONFIG,
                                 "a stored header value of the provider does not open with the settings key (enter "
                                 "it again)");
        }
        json_object_set_new(h, k, json_stringn(plain, pl));
        ac_free_secret_str(plain);
    }
    *headers = h;
    return 0;
}

void ac_skills_llm__headers_wipe(json_t *headers)
{
    const char *k;
    json_t *v;
    json_object_foreach(headers, k, v)
    {
        if (json_is_string(v) && json_string_length(v) > 0)
            explicit_bzero((char *)json_string_value(v), json_string_length(v));
    }
    json_decref(headers);
}

int ac_skills_llm_headers_seal(ac_node_settings_t *s, json_t *fields, ac_errmsg_t *err)
{
    json_t *h = json_object_get(fields, "headers");
    if (!json_is_object(h))
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v)
    {
        const char *val = json_string_value(v);
        if (val == NULL || val[0] == '\0' || !ac_skills_llm_header_secret(k) || strcmp(val, MASK) == 0 ||
            ac_policy_crypto_is_sealed(val))
            continue;
        char *sealed = NULL;
        if (ac_policy_crypto_seal(ac_node_settings_key(s), val, json_string_length(v), &sealed) != 0)
            return ac_errmsg_set(err, -AC_ECRYPTO, "a secret header value could not be sealed");
        explicit_bzero((char *)val, json_string_length(v));
        json_object_set_new(h, k, json_string(sealed));
        free(sealed);
    }
    return 0;
}

/* --- small checks ------------------------------------------------------------------------------------------------- */

const char *ac_skills_llm__tier_static(const char *tier)
{
    for (size_t i = 0; tier != NULL && i < sizeof(tiers) / sizeof(tiers[0]); i++)
        if (strcmp(tier, tiers[i]) == 0)
            return tiers[i];
    return NULL;
}

int ac_skills_llm_tier_check(const char *tier)
{
    return ac_skills_llm__tier_static(tier) != NULL ? 0 : -AC_EINVAL;
}

/* 1..max bytes of UTF-8 without control characters (C0, DEL, C1). */
static bool plain_text(const char *s, size_t max)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > max || !ac_policy_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f || (ch == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0))
            return false;
    }
    return true;
}

/* An http(s):// URL of printable ASCII with a host, without userinfo, query or fragment. */
static bool host_ok(const char *u)
{
    size_t n = strlen(u), skip;
    if (n > HOST_MAX)
        return false;
    if (strncmp(u, "http://", 7) == 0)
        skip = 7;
    else if (strncmp(u, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f || u[i] == '?' || u[i] == '#' || u[i] == '@' ||
            u[i] == '\\')
            return false;
    return strcspn(u + skip, "/") > 0;
}

static bool token_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool header_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > HEADER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!token_char((unsigned char)name[i]))
            return false;
    return true;
}

/* UTF-8 without control characters but TAB, at most HEADER_VALUE_MAX bytes. */
static bool header_value_ok(const char *v, size_t n)
{
    if (n > HEADER_VALUE_MAX || memchr(v, '\0', n) != NULL || !ac_policy_utf8_valid(v, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
            return false;
    return true;
}

static bool header_reserved(const char *name)
{
    for (size_t i = 0; i < sizeof(reserved_headers) / sizeof(reserved_headers[0]); i++)
        if (strcasecmp(name, reserved_headers[i]) == 0)
            return true;
    return false;
}

bool ac_skills_llm_header_secret(const char *name)
{
    char low[HEADER_NAME_MAX + 1];
    size_t n = strlen(name);
    if (n > HEADER_NAME_MAX)
        return true;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    for (size_t i = 0; i < sizeof(secret_header_parts) / sizeof(secret_header_parts[0]); i++)
        if (strstr(low, secret_header_parts[i]) != NULL)
            return true;
    return false;
}

/* Options: depth bounded, no NUL in keys or strings (jsonb refuses \u0000). */
static bool options_ok(const json_t *v, int depth)
{
    if (depth > OPTIONS_DEPTH)
        return false;
    if (json_is_object(v)) {
        const char *k;
        const json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (strlen(k) != json_object_iter_key_len(json_object_key_to_iter(k)) || !options_ok(x, depth + 1))
                return false;
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!options_ok(json_array_get(v, i), depth + 1))
                return false;
    } else if (json_is_string(v)) {
        return memchr(json_string_value(v), '\0', json_string_length(v)) == NULL &&
               ac_policy_utf8_valid(json_string_value(v), json_string_length(v));
    }
    return true;
}

/* --- listing ------------------------------------------------------------------------------------------------------ */

static json_t *headers_masked(const json_t *h)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)h, k, v)
    {
        json_object_set_new(out, k, ac_skills_llm_header_secret(k) ? json_string(MASK) : json_incref(v));
    }
    return out;
}

int ac_skills_llm_providers_list(PGconn *c, ac_node_settings_t *s, ac_skills_llm_provider_t **out, size_t *n,
                                 ac_errmsg_t *err)
{
    *out = NULL;
    *n = 0;
    if (c == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "llm: listing providers needs a database connection");
    ac_skills_llm__row_t *rows;
    size_t nr;
    int rc = provs_query(c, sql_list, 0, NULL, "list providers", &rows, &nr, err);
    if (rc != 0)
        return rc;
    bool gemini_key = setting_nonempty(s, "llm.gemini_api_key");
    bool anthropic_key = setting_nonempty(s, "llm.anthropic_api_key");
    ac_skills_llm_provider_t *ps = nr > 0 ? ac_calloc(nr, sizeof(*ps)) : NULL;
    for (size_t i = 0; i < nr; i++) {
        ac_skills_llm__row_t *r = &rows[i];
        ac_skills_llm_provider_t *p = &ps[i];
        p->id = r->id;
        p->name = r->name;
        p->type = r->type_name;
        p->tier = r->tier;
        p->host = r->host;
        p->model = r->model;
        r->name = r->type_name = r->tier = r->host = r->model = NULL;
        p->has_api_key = has_own_key(r);
        p->uses_setting_key = !p->has_api_key && ((r->type == AC_SKILLS_LLM_GEMINI && gemini_key) ||
                                                  (r->type == AC_SKILLS_LLM_ANTHROPIC && anthropic_key));
        p->daily_limit = r->daily_limit;
        p->headers = headers_masked(r->headers);
        p->options = json_incref(r->options);
        p->enabled = r->enabled;
        p->priority = (int)r->priority;
        p->usage_today = r->usage_today;
        p->cloud = ac_skills_llm_type_is_cloud(r->type);
    }
    ac_skills_llm__rows_free(rows, nr);
    *out = ps;
    *n = nr;
    return 0;
}

void ac_skills_llm_providers_free(ac_skills_llm_provider_t *p, size_t n)
{
    for (size_t i = 0; p != NULL && i < n; i++) {
        free(p[i].name);
        free(p[i].type);
        free(p[i].tier);
        free(p[i].host);
        free(p[i].model);
        json_decref(p[i].headers);
        json_decref(p[i].options);
    }
    free(p);
}

json_t *ac_skills_llm_provider_json(const ac_skills_llm_provider_t *p)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:s, s:s, s:b, s:b, s:o, s:o, s:o, s:b, s:i, s:I, s:b}", "id",
                     (json_int_t)p->id, "name", p->name, "type", p->type, "tier", p->tier, "host",
                     p->host != NULL ? json_string(p->host) : json_null(), "model", p->model, "api_key",
                     p->has_api_key ? MASK : "", "has_api_key", p->has_api_key, "uses_setting_key", p->uses_setting_key,
                     "daily_limit", p->daily_limit >= 0 ? json_integer(p->daily_limit) : json_null(), "headers",
                     p->headers != NULL ? json_incref(p->headers) : json_object(), "options",
                     p->options != NULL ? json_incref(p->options) : json_object(), "enabled", p->enabled, "priority",
                     p->priority, "usage_today", (json_int_t)p->usage_today, "cloud", p->cloud);
}

/* --- saving ------------------------------------------------------------------------------------------------------- */

/* A string field: OUT *out borrowed from fields, NULL when absent or null (*present says whether it was given). */
static int str_field(const json_t *fields, const char *name, bool nullable, const char **out, bool *present,
                     ac_errmsg_t *err)
{
    json_t *v = json_object_get(fields, name);
    *out = NULL;
    *present = v != NULL;
    if (v == NULL || (nullable && json_is_null(v)))
        return 0;
    if (!json_is_string(v))
        return ac_errmsg_set(err, -AC_EINVAL, "%s must be a string", name);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return ac_errmsg_set(err, -AC_EINVAL, "%s must not contain a NUL character", name);
    *out = json_string_value(v);
    return 0;
}

/* An integer field in [0, INT32_LIMIT], or null when nullable (*out -1). Unchanged when absent. */
static int int_field(const json_t *fields, const char *name, bool nullable, int64_t *out, ac_errmsg_t *err)
{
    json_t *v = json_object_get(fields, name);
    if (v == NULL)
        return 0;
    if (nullable && json_is_null(v)) {
        *out = -1;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_LIMIT)
        return ac_errmsg_set(err, -AC_EINVAL, "%s must be an integer from 0 to %d%s", name, INT32_LIMIT,
                             nullable ? ", or null for none" : "");
    *out = json_integer_value(v);
    return 0;
}

static void replace(char **dst, const char *v)
{
    free(*dst);
    *dst = v != NULL ? ac_strdup(v) : NULL;
}

/* The stored value of header name in old (exact name first, then any case). */
static const json_t *old_header(const json_t *old, const char *name)
{
    const json_t *v = json_object_get(old, name);
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)old, k, x)
    {
        if (v == NULL && strcasecmp(k, name) == 0)
            v = x;
    }
    return json_is_string(v) ? v : NULL;
}

/* A header value as stored: a secret-looking header's value sealed with the settings key; a value sealed already (a
 * pending 2FA action's) must open and pass the value checks. OUT: *stored (new reference). NULL bad on success, else
 * the sentence. */
static const char *header_store(ac_node_settings_t *s, const char *name, json_t *v, json_t **stored)
{
    const char *val = json_string_value(v);
    *stored = NULL;
    if (ac_policy_crypto_is_sealed(val)) {
        char *plain = NULL;
        size_t pl = 0;
        if (ac_policy_crypto_open(ac_node_settings_key(s), val, json_string_length(v), &plain, &pl) != 0)
            return "a sealed header value does not open with this node's settings key";
        bool ok = header_value_ok(plain, pl);
        ac_free_secret_str(plain);
        if (!ok)
            return "a header value must be at most 4096 bytes of UTF-8 without control characters";
        *stored = json_incref(v);
        return NULL;
    }
    if (!header_value_ok(val, json_string_length(v)))
        return "a header value must be at most 4096 bytes of UTF-8 without control characters";
    if (!ac_skills_llm_header_secret(name) || val[0] == '\0') {
        *stored = json_incref(v);
        return NULL;
    }
    char *sealed = NULL;
    if (ac_policy_crypto_seal(ac_node_settings_key(s), val, json_string_length(v), &sealed) != 0)
        return "a secret header value could not be sealed";
    *stored = json_string(sealed);
    free(sealed);
    return NULL;
}

static int headers_merge(ac_node_settings_t *s, const json_t *given, const json_t *old, json_t **out, ac_errmsg_t *err)
{
    *out = NULL;
    if (!json_is_object(given))
        return ac_errmsg_set(err, -AC_EINVAL, "headers must be an object of strings");
    if (json_object_size(given) > HEADERS_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "headers: at most %d headers", HEADERS_MAX);
    json_t *h = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)given, k, v)
    {
        const char *bad = NULL;
        if (strlen(k) != json_object_iter_key_len(json_object_key_to_iter(k)) || !header_name_ok(k))
            bad = "a header name must be 1 to 256 characters of an HTTP token (letters, digits, !#$%&'*+-.^_`|~)";
        else if (header_reserved(k))
            bad = "Authorization, Content-Length, Host and Transfer-Encoding cannot be set (an API key goes in "
                  "api_key)";
        else if (!json_is_string(v))
            bad = "a header value must be a string";
        for (void *it = json_object_iter(h); bad == NULL && it != NULL; it = json_object_iter_next(h, it))
            if (strcasecmp(json_object_iter_key(it), k) == 0)
                bad = "a header is given twice (names are case-insensitive)";
        json_t *stored = NULL;
        if (bad == NULL && strcmp(json_string_value(v), MASK) == 0) {
            const json_t *keep = old_header(old, k);
            if (keep == NULL)
                bad = "\"********\" keeps a stored header value, and this header has none";
            else
                stored = json_incref((json_t *)keep);
        } else if (bad == NULL) {
            bad = header_store(s, k, v, &stored);
        }
        if (bad != NULL) {
            json_decref(h);
            return ac_errmsg_set(err, -AC_EINVAL, "headers: %s", bad);
        }
        json_object_set_new(h, k, stored);
    }
    *out = h;
    return 0;
}

/* Applies fields to p (the stored row, or a new row's defaults), checking every field. s seals a new key. */
static int save_merge(ac_node_settings_t *s, const json_t *fields, bool create, ac_skills_llm__row_t *p,
                      ac_errmsg_t *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)fields, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof(save_fields) / sizeof(save_fields[0]); i++)
            known = known || strcmp(k, save_fields[i]) == 0;
        if (!known) {
            char shown[64];
            ac_policy_utf8_clip(k, 40, shown, sizeof(shown));
            for (char *c = shown; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                    *c = '?';
            return ac_errmsg_set(err, -AC_EINVAL, "unknown field \"%s\"", shown);
        }
    }
    const char *str;
    bool present;
    int rc;
    /* name, model, type, tier */
    if ((rc = str_field(fields, "name", false, &str, &present, err)) != 0)
        return rc;
    if (present && !plain_text(str, AC_SKILLS_LLM_NAME_MAX))
        return ac_errmsg_set(err, -AC_EINVAL, "name must be 1 to 255 bytes of UTF-8 without control characters");
    if (create && !present)
        return ac_errmsg_set(err, -AC_EINVAL, "name is required");
    if (present)
        replace(&p->name, str);
    if ((rc = str_field(fields, "model", false, &str, &present, err)) != 0)
        return rc;
    if (present && !plain_text(str, AC_SKILLS_LLM_NAME_MAX))
        return ac_errmsg_set(err, -AC_EINVAL, "model must be 1 to 255 bytes of UTF-8 without control characters");
    if (create && !present)
        return ac_errmsg_set(err, -AC_EINVAL, "model is required");
    if (present)
        replace(&p->model, str);
    if ((rc = str_field(fields, "type", false, &str, &present, err)) != 0)
        return rc;
    if (present) {
        if (ac_skills_llm_type_parse(str, &p->type) != 0)
            return ac_errmsg_set(err, -AC_EINVAL,
                                 "type must be one of openai_compatible, ollama, gemini, anthropic, custom");
        replace(&p->type_name, ac_skills_llm_type_name(p->type));
    }
    if ((rc = str_field(fields, "tier", false, &str, &present, err)) != 0)
        return rc;
    if (present && ac_skills_llm_tier_check(str) != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "tier must be one of light, medium, heavy, local");
    if (create && !present)
        return ac_errmsg_set(err, -AC_EINVAL, "tier is required");
    if (present)
        replace(&p->tier, str);
    /* the local tier is what never leaves the owner's machines (the coder uses nothing else): a cloud API is not */
    if (p->tier != NULL && strcmp(p->tier, "local") == 0 && p->type_name != NULL &&
        ac_skills_llm_type_is_cloud(p->type))
        return ac_errmsg_set(err, -AC_EINVAL, "tier: a %s provider is a cloud API and cannot be in the local tier",
                             p->type_name);
    /* host: null or "" for none */
    if ((rc = str_field(fields, "host", true, &str, &present, err)) != 0)
        return rc;
    if (str != NULL && str[0] != '\0' && !host_ok(str))
        return ac_errmsg_set(err, -AC_EINVAL,
                             "host must be an http:// or https:// URL of at most 255 characters, without user "
                             "name, password, query or fragment");
    if (present)
        replace(&p->host, str != NULL && str[0] != '\0' ? str : NULL);
    /* numbers and flags */
    if ((rc = int_field(fields, "daily_limit", true, &p->daily_limit, err)) != 0 ||
        (rc = int_field(fields, "priority", false, &p->priority, err)) != 0)
        return rc;
    json_t *en = json_object_get(fields, "enabled");
    if (en != NULL && !json_is_boolean(en))
        return ac_errmsg_set(err, -AC_EINVAL, "enabled must be true or false");
    if (en != NULL)
        p->enabled = json_is_true(en);
    /* headers and options */
    json_t *h = json_object_get(fields, "headers");
    if (h != NULL) {
        json_t *merged;
        if ((rc = headers_merge(s, h, p->headers, &merged, err)) != 0)
            return rc;
        json_decref(p->headers);
        p->headers = merged;
    }
    json_t *o = json_object_get(fields, "options");
    if (o != NULL) {
        char *text = json_is_object(o) ? json_dumps(o, JSON_COMPACT) : NULL;
        size_t tl = text != NULL ? strlen(text) : 0;
        free(text);
        if (!json_is_object(o) || tl > OPTIONS_MAX || !options_ok(o, 1))
            return ac_errmsg_set(err, -AC_EINVAL,
                                 "options must be an object of at most 16 KiB as JSON, nested at most %d levels, "
                                 "without NUL characters",
                                 OPTIONS_DEPTH);
        json_decref(p->options);
        p->options = json_incref(o);
    }
    /* api_key last: sealing is the only costly step. Never quoted in a message. */
    json_t *kv = json_object_get(fields, "api_key");
    if (kv != NULL && !json_is_null(kv) && !json_is_string(kv))
        return ac_errmsg_set(err, -AC_EINVAL, "api_key must be a string or null");
    const char *key = json_string_value(kv);
    if (kv != NULL && (key == NULL || key[0] == '\0')) {
        replace(&p->api_key, NULL);
    } else if (key != NULL && strcmp(key, MASK) != 0) {
        size_t kl = json_string_length(kv);
        bool ok = kl <= API_KEY_MAX && strlen(key) == kl;
        for (size_t i = 0; ok && i < kl; i++)
            ok = (unsigned char)key[i] > 0x20 && (unsigned char)key[i] < 0x7f;
        if (!ok)
            return ac_errmsg_set(err, -AC_EINVAL,
                                 "api_key must be at most %d printable ASCII characters without blanks", API_KEY_MAX);
        char *sealed = NULL;
        if ((rc = ac_policy_crypto_seal(ac_node_settings_key(s), key, kl, &sealed)) != 0)
            return ac_errmsg_set(err, rc, "api_key could not be sealed: %s", ac_strerror(rc));
        free(p->api_key);
        p->api_key = sealed;
    }
    return 0;
}

static int tx(PGconn *c, const char *sql, ac_errmsg_t *err)
{
    return ac_node_db_exec(c, sql, sql, err);
}

int ac_skills_llm_provider_save(PGconn *c, ac_node_settings_t *s, int64_t id, const json_t *fields, int64_t *id_out,
                                ac_errmsg_t *err)
{
    if (id_out != NULL)
        *id_out = 0;
    if (c == NULL || s == NULL || id < 0)
        return ac_errmsg_set(err, -AC_EINVAL, "llm: saving a provider needs a connection, the settings and an id");
    if (!json_is_object(fields))
        return ac_errmsg_set(err, -AC_EINVAL, "a provider is saved from a JSON object");
    bool own_tx = PQtransactionStatus(c) == PQTRANS_IDLE;
    bool in_tx = false;
    ac_skills_llm__row_t *rows = NULL;
    size_t nr = 0;
    ac_skills_llm__row_t p = {0};
    PGresult *r = NULL;
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    int rc;
    if (id > 0) {
        /* the row is locked while merged, so "********" keeps what is stored at the time of the write */
        if (own_tx && (rc = tx(c, "BEGIN", err)) != 0)
            goto Exit;
        in_tx = own_tx;
        const char *params[] = {idbuf};
        if ((rc = provs_query(c, sql_lock_id, 1, params, "read the provider", &rows, &nr, err)) != 0)
            goto Exit;
        if (nr == 0) {
            rc = ac_errmsg_set(err, -AC_ENOENT, "there is no provider with id %" PRId64, id);
            goto Exit;
        }
        p = rows[0];
        memset(&rows[0], 0, sizeof(rows[0]));
    } else {
        p.type = AC_SKILLS_LLM_OPENAI_COMPATIBLE;
        p.type_name = ac_strdup(ac_skills_llm_type_name(p.type));
        p.daily_limit = -1;
        p.headers = json_object();
        p.options = json_object();
        p.enabled = true;
        p.priority = 100;
    }
    if ((rc = save_merge(s, fields, id == 0, &p, err)) != 0)
        goto Exit;
    char limit[24], prio[24];
    snprintf(limit, sizeof(limit), "%" PRId64, p.daily_limit);
    snprintf(prio, sizeof(prio), "%" PRId64, p.priority);
    char *headers = json_dumps(p.headers, JSON_COMPACT | JSON_SORT_KEYS);
    char *options = json_dumps(p.options, JSON_COMPACT);
    const char *params[] = {
        p.name,  p.type_name,           p.tier, p.host,  p.model, p.api_key, p.daily_limit >= 0 ? limit : NULL,
        headers, p.enabled ? "t" : "f", prio,   options, idbuf};
    r = PQexecParams(c, id > 0 ? sql_update : sql_insert, id > 0 ? 12 : 11, NULL, params, NULL, NULL, 0);
    free(headers);
    free(options);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state != NULL && strcmp(state, "23505") == 0)
            rc = ac_errmsg_set(err, -AC_EEXIST, "name: another provider is already named that");
        else
            rc = ac_node_db_fail(c, "llm", "save the provider", err);
        goto Exit;
    }
    if (in_tx && (rc = tx(c, "COMMIT", err)) != 0) {
        in_tx = false;
        goto Exit;
    }
    in_tx = false;
    if (id_out != NULL)
        *id_out = id > 0 ? id : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    rc = 0;
Exit:
    if (in_tx) {
        ac_errmsg_t ignored;
        tx(c, "ROLLBACK", &ignored);
    }
    PQclear(r);
    ac_skills_llm__rows_free(rows, nr);
    prov_clear(&p);
    return rc;
}

int ac_skills_llm_provider_delete(PGconn *c, int64_t id, ac_errmsg_t *err)
{
    if (c == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "llm: deleting a provider needs a database connection");
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *params[] = {idbuf};
    PGresult *r = PQexecParams(c, sql_delete, 1, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = ac_node_db_fail(c, "llm", "delete the provider", err);
    else if (strcmp(PQcmdTuples(r), "0") == 0)
        rc = ac_errmsg_set(err, -AC_ENOENT, "there is no provider with id %" PRId64, id);
    PQclear(r);
    return rc;
}

int ac_skills_llm_seed(PGconn *c, ac_node_settings_t *s, ac_errmsg_t *err)
{
    if (c == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "llm: seeding providers needs a database connection");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        const seed_t *d = &seeds[i];
        char *host = NULL, *model = NULL;
        bool enabled;
        if (d->key_setting != NULL) {
            enabled = setting_nonempty(s, d->key_setting);
            model = ac_strdup(d->model);
        } else {
            host = ac_skills_llm__setting_str(s, d->host_setting);
            model = ac_skills_llm__setting_str(s, d->model_setting);
            if (host[0] != '\0' && !host_ok(host)) {
                ac_log_warn("llm", "seed_host_invalid", "provider=%s setting=%s", d->name, d->host_setting);
                host[0] = '\0';
            }
            if (!plain_text(model, AC_SKILLS_LLM_NAME_MAX))
                replace(&model, "default");
            enabled = s != NULL && ac_node_settings_bool_or(s, d->enabled_setting, false) && host[0] != '\0';
        }
        char limit[16], prio[16];
        snprintf(limit, sizeof(limit), "%d", d->daily_limit);
        snprintf(prio, sizeof(prio), "%d", d->priority);
        const char *params[] = {d->name,
                                d->type,
                                d->tier,
                                host != NULL && host[0] != '\0' ? host : NULL,
                                model,
                                d->daily_limit >= 0 ? limit : NULL,
                                enabled ? "t" : "f",
                                prio};
        PGresult *r = PQexecParams(c, sql_seed, 8, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = ac_node_db_fail(c, "llm", "seed the providers", err);
        else if (strcmp(PQcmdTuples(r), "1") == 0)
            ac_log_info("llm", "seeded", "provider=%s enabled=%s", d->name, enabled ? "true" : "false");
        PQclear(r);
        free(host);
        free(model);
    }
    return rc;
}
