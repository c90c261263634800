/* node/skillapi.c - the SkillAPI server (skillapi.h). */
#include "node/skillapi.h"

#include "node/action.h"
#include "node/ask_owner.h"
#include "node/audit.h"
#include "node/challenge.h"
#include "node/log.h"
#include "node/memory.h"
#include "node/twofa.h"
#include "policy/alloc.h"
#include "policy/utf8.h"
#include "skills/dynfile.h"
#include "skills/llm.h"
#include "skills/webread.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TEXT_MAX       (16 * 1024)  /* a message to the owner */
#define REPLY_MAX      (900 * 1024) /* what a search may hand back (the frame is 1 MiB) */
#define NAME_MAX_W     255          /* workflow and step names */
#define LLM_PROMPT_MAX (512 * 1024) /* llm_complete: the prompt */
#define LLM_SYSTEM_MAX (64 * 1024)  /* and the system prompt */

struct ac_node_skillapi {
    ac_node_skillapi_cfg_t cfg;
};

ac_node_skillapi_t *ac_node_skillapi_new(const ac_node_skillapi_cfg_t *cfg)
{
    ac_node_skillapi_t *api = ac_calloc(1, sizeof(*api));
    api->cfg = *cfg;
    return api;
}

void ac_node_skillapi_free(ac_node_skillapi_t *api)
{
    free(api);
}

void ac_node_skillapi_set_pool(ac_node_skillapi_t *api, ac_node_wf_pool_t *pool)
{
    api->cfg.pool = pool;
}

void ac_node_skillapi_token_key(const ac_node_skillapi_t *api, uint8_t key[AC_POLICY_CAPTOKEN_KEY_LEN])
{
    memcpy(key, api->cfg.authz.token_key, AC_POLICY_CAPTOKEN_KEY_LEN);
}

/* A denial the policy engine did not make (a refused destination, a sandbox violation), in the same audit log. */
static void audit_deny(ac_node_skillapi_t *api, PGconn *db, const char *skill, const char *perm, int64_t run_id,
                       int depth, const char *reason)
{
    char caller[64];
    snprintf(caller, sizeof(caller), "dynamic:%s", skill);
    ac_node_audit_entry_t e = {caller, "dynamic", perm, "deny", reason, run_id, depth};
    ac_errmsg_t err = {{0}};
    if (db == NULL || ac_node_audit_append(db, api->cfg.authz.audit_key, &e, (int64_t)time(NULL), &err) != 0)
        ac_log_error("audit", "append_failed", "error=%s", db != NULL ? err.msg : "no connection");
}

void ac_node_skillapi_audit_deny(ac_node_skillapi_t *api, PGconn *db, const char *skill, const char *permission,
                                 int64_t run_id, int depth, const char *reason)
{
    audit_deny(api, db, skill, permission, run_id, depth, reason);
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- helpers for handlers ------------------------------------------------------------------------------------ */

typedef struct call {
    ac_node_skillapi_caller_t *who;
    json_t *args;
    char *err;
    size_t cap;
} call_t;

static int fail(call_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(call_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->err, c->cap, fmt, ap);
    va_end(ap);
    if (n >= (int)c->cap) /* cut: never inside a UTF-8 sequence (the reply must encode) */
        c->err[ac_policy_utf8_fit(c->err, c->cap - 1, c->cap - 1)] = '\0';
    return -1;
}

/* A string argument: required or not, 1..max bytes. NULL (and the error set) when it does not fit. */
static const char *str_arg(call_t *c, json_t *o, const char *name, bool required, size_t max, bool *bad)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL && !required)
        return NULL;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max) {
        fail(c, "invalid_argument: %s must be text of 1 to %zu bytes", name, max);
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

static json_t *opts_of(call_t *c, bool *bad)
{
    json_t *o = json_object_get(c->args, "options");
    if (o != NULL && !json_is_object(o)) {
        fail(c, "invalid_argument: options must be a table of named options");
        *bad = true;
        return NULL;
    }
    return o;
}

static int int_opt(call_t *c, json_t *o, const char *name, int64_t lo, int64_t hi, int64_t dflt, int64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL) {
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fail(c, "invalid_argument: %s must be a whole number from %lld to %lld", name, (long long)lo,
                    (long long)hi);
    *out = json_integer_value(v);
    return 0;
}

static int from_errmsg(call_t *c, const char *code, const ac_errmsg_t *e)
{
    return fail(c, "%s: %s", code, e->msg);
}

/* --- authorization --------------------------------------------------------------------------------------------- */

static int authorize(ac_node_skillapi_caller_t *w, ac_policy_perms_t perm, char *reason, size_t cap)
{
    char caller[64];
    snprintf(caller, sizeof(caller), "dynamic:%s", w->skill);
    ac_policy_authctx_t ctx = {
        .caller = caller,
        .type = AC_POLICY_CALLER_DYNAMIC,
        .permission = perm,
        .declared = w->declared,
        .chain_depth = w->ctx->chain_depth,
        .run_id = w->ctx->run_id,
        .now_ms = unix_ms(),
        .token = w->token,
    };
    return ac_node_authorize(&w->api->cfg.authz, w->db, &ctx, reason, cap);
}

/* --- the functions --------------------------------------------------------------------------------------------- */

/* llm_complete(prompt, {tier, provider, system}): the router (skills/llm.h) on the run's connection, within the
 * sandbox's own deadline. The answer is text; usage counts against the provider's daily limit like any call. */
static int do_llm(call_t *c, json_t **result)
{
    bool bad = false;
    const char *prompt = str_arg(c, c->args, "prompt", true, LLM_PROMPT_MAX, &bad);
    json_t *o = bad ? NULL : opts_of(c, &bad);
    const char *tier = bad || o == NULL ? NULL : str_arg(c, o, "tier", false, 16, &bad);
    const char *provider = bad || o == NULL ? NULL : str_arg(c, o, "provider", false, AC_SKILLS_LLM_NAME_MAX, &bad);
    const char *system = bad || o == NULL ? NULL : str_arg(c, o, "system", false, LLM_SYSTEM_MAX, &bad);
    if (bad)
        return -1;
    if (tier != NULL && ac_skills_llm_tier_check(tier) != 0)
        return fail(c, "invalid_argument: tier must be light, medium, heavy or local");
    ac_skill_ctx_t ctx = *c->who->ctx;
    ctx.db = c->who->db;
    if (ctx.deadline_ms == 0 || ctx.deadline_ms > c->who->deadline_ms)
        ctx.deadline_ms = c->who->deadline_ms;
    ac_skills_llm_call_t call = {.prompt = prompt, .system = system, .tier = tier, .provider = provider};
    ac_skills_llm_answer_t ans = {0};
    ac_errmsg_t e = {{0}};
    int rc = ac_skills_llm_complete(&ctx, &call, &ans, &e);
    if (rc == 0) /* the reply must fit its frame: a longer answer is cut (never inside a character) */
        *result = json_stringn(ans.text, ac_policy_utf8_fit(ans.text, strlen(ans.text), REPLY_MAX));
    ac_skills_llm_answer_free(&ans);
    if (rc != 0)
        return fail(c, "%s", e.msg);
    if (*result == NULL)
        return fail(c, "llm_failed: the answer is not UTF-8 text");
    return 0;
}

static int do_send(call_t *c, json_t **result, bool html)
{
    bool bad = false;
    const char *text = str_arg(c, c->args, "text", true, TEXT_MAX, &bad);
    if (bad)
        return -1;
    ac_node_tg_client_t *tg = c->who->api->cfg.tg;
    if (tg == NULL || !ac_node_tg_client_configured(tg))
        return fail(c, "telegram_not_configured: this node has no Telegram bot and chat");
    ac_errmsg_t e = {{0}};
    if (ac_node_tg_client_send(tg, NULL, html ? text : NULL, text, &e) != 0)
        return from_errmsg(c, "send_failed", &e);
    *result = json_true();
    return 0;
}

static int do_config_get(call_t *c, json_t **result)
{
    bool bad = false;
    const char *key = str_arg(c, c->args, "key", true, 128, &bad);
    if (bad)
        return -1;
    ac_errmsg_t e = {{0}};
    if (ac_node_setting_key_check(key, &e) != 0)
        return from_errmsg(c, "invalid_argument", &e);
    if (ac_node_setting_key_is_sensitive(key))
        return fail(c, "permission_denied: %s is a secret", key);
    ac_node_setting_t row = {0};
    if (ac_node_settings_describe(c->who->api->cfg.settings, key, &row) != 0 || row.value == NULL) {
        ac_node_setting_clear(&row);
        json_t *d = json_object_get(c->args, "default");
        *result = d != NULL ? json_incref(d) : NULL;
        return 0;
    }
    if (row.sensitive) { /* the registry says so even when the name does not */
        ac_node_setting_clear(&row);
        return fail(c, "permission_denied: %s is a secret", key);
    }
    switch (row.type) {
    case AC_SETTING_INTEGER: *result = json_integer(strtoll(row.value, NULL, 10)); break;
    case AC_SETTING_FLOAT: *result = json_real(strtod(row.value, NULL)); break;
    case AC_SETTING_BOOLEAN: *result = json_boolean(strcmp(row.value, "true") == 0); break;
    case AC_SETTING_JSON: *result = json_loads(row.value, 0, NULL); break;
    default: *result = json_string(row.value); break;
    }
    ac_node_setting_clear(&row);
    return 0;
}

/* memory_* and knowledge_* */
static int do_memory(call_t *c, json_t **result, ac_node_memory_table_t t, const char *op)
{
    bool bad = false;
    json_t *o = opts_of(c, &bad);
    if (bad)
        return -1;
    ac_errmsg_t e = {{0}};
    int rc;
    const char *kind = o != NULL ? str_arg(c, o, "kind", false, AC_NODE_MEMORY_KIND_MAX, &bad) : NULL;
    if (bad)
        return -1;
    int64_t limit = 0;
    if (int_opt(c, o, "limit", 1, AC_NODE_MEMORY_LIMIT_MAX, AC_NODE_MEMORY_LIMIT_DEFAULT, &limit) != 0)
        return -1;
    if (strcmp(op, "store") == 0) {
        json_t *kv = json_object_get(c->args, "kind"), *cv = json_object_get(c->args, "content");
        if (!json_is_string(kv) || !json_is_string(cv))
            return fail(c, "invalid_argument: store(kind, content, options) takes two texts");
        json_t *src = json_object_get(o, "source"), *meta = json_object_get(o, "metadata");
        if ((src != NULL && !json_is_string(src)) || (meta != NULL && !json_is_object(meta)))
            return fail(c, "invalid_argument: options.source is text, options.metadata a table");
        int64_t ttl = 0, parent = 0;
        if (int_opt(c, o, "ttl_seconds", 0, AC_NODE_MEMORY_TTL_MAX_S, 0, &ttl) != 0 ||
            int_opt(c, o, "parent_id", 0, INT64_MAX, 0, &parent) != 0)
            return -1;
        ac_node_memory_entry_t en = {
            .kind = json_string_value(kv),
            .content = json_string_value(cv),
            .content_len = json_string_length(cv),
            .source = src != NULL ? json_string_value(src) : NULL,
            .source_len = src != NULL ? json_string_length(src) : 0,
            .metadata = meta,
            .ttl_s = ttl,
            .parent_id = parent,
        };
        int64_t id = 0;
        if ((rc = ac_node_memory_store(c->who->db, t, &en, &id, &e)) != 0)
            return from_errmsg(c, rc == -AC_EDB || rc == -AC_EDBDOWN ? "store_failed" : "invalid_argument", &e);
        *result = json_pack("{s:I}", "id", (json_int_t)id);
        return 0;
    }
    if (strcmp(op, "exists") == 0) {
        json_t *sv = json_object_get(c->args, "source");
        if (!json_is_string(sv))
            return fail(c, "invalid_argument: exists(source) takes a text");
        bool found = false;
        if ((rc = ac_node_memory_exists(c->who->db, t, json_string_value(sv), json_string_length(sv), &found, &e)) != 0)
            return from_errmsg(c, "invalid_argument", &e);
        *result = json_boolean(found);
        return 0;
    }
    json_t *rows = NULL;
    if (strcmp(op, "search") == 0) {
        json_t *q = json_object_get(c->args, "query");
        if (!json_is_string(q))
            return fail(c, "invalid_argument: search(query, options) takes a text");
        rc = ac_node_memory_search(c->who->db, t, json_string_value(q), json_string_length(q), kind, (int)limit, &rows,
                                   &e);
    } else {
        rc = ac_node_memory_recent(c->who->db, t, kind, (int)limit, &rows, &e);
    }
    if (rc != 0)
        return from_errmsg(c, rc == -AC_EDB || rc == -AC_EDBDOWN ? "search_failed" : "invalid_argument", &e);
    /* the reply must fit one frame: keep the best-ranked rows that do (each row encoded once) */
    size_t total = 2, keep = 0;
    for (; keep < json_array_size(rows); keep++) {
        char *one = json_dumps(json_array_get(rows, keep), JSON_COMPACT);
        total += (one != NULL ? strlen(one) : REPLY_MAX) + 1;
        free(one);
        if (total > REPLY_MAX)
            break;
    }
    while (json_array_size(rows) > keep)
        json_array_remove(rows, json_array_size(rows) - 1);
    *result = rows;
    return 0;
}

static int do_http(call_t *c, json_t **result, const char *fn)
{
    bool bad = false;
    json_t *o = opts_of(c, &bad);
    if (bad)
        return -1;
    const char *url = str_arg(c, c->args, "url", true, AC_SKILLS_WEBREAD_URL_MAX, &bad);
    if (bad)
        return -1;
    const char *method = "GET";
    const char *body = NULL;
    size_t body_len = 0;
    if (strcmp(fn, "http_post") == 0) {
        method = "POST";
        json_t *b = json_object_get(c->args, "body");
        if (b != NULL && !json_is_string(b))
            return fail(c, "invalid_argument: body must be text");
        body = json_string_value(b);
        body_len = json_string_length(b);
    } else if (strcmp(fn, "http_request") == 0) {
        if ((method = str_arg(c, c->args, "method", true, 8, &bad)) == NULL)
            return -1;
        json_t *b = json_object_get(o, "body");
        if (b != NULL && !json_is_string(b))
            return fail(c, "invalid_argument: options.body must be text");
        body = json_string_value(b);
        body_len = json_string_length(b);
    }
    return ac_node_skillapi_http(c->who, method, url, body, body_len, o, result, c->err, c->cap);
}

int ac_node_skillapi_http(ac_node_skillapi_caller_t *w, const char *method, const char *url, const char *body,
                          size_t body_len, const json_t *o, json_t **result, char *err, size_t errcap)
{
    call_t c = {w, NULL, err, errcap};
    ac_errmsg_t e = {{0}};
    char *allow_text = NULL;
    ac_policy_netaddr_allow_t allow;
    (void)ac_node_settings_get_str(w->api->cfg.settings, "skills.web_read.allow", &allow_text);
    int rc = ac_policy_netaddr_allow_parse(&allow, allow_text, &e);
    free(allow_text);
    if (rc != 0)
        return from_errmsg(&c, "misconfigured: skills.web_read.allow", &e);
    ac_skills_webread_header_t hv[AC_SKILLS_WEBREAD_HEADERS_MAX];
    size_t nh = 0;
    json_t *h = json_object_get(o, "headers");
    if (h != NULL && (!json_is_object(h) || json_object_size(h) > AC_SKILLS_WEBREAD_HEADERS_MAX))
        return fail(&c, "invalid_argument: options.headers is a table of at most %d texts",
                    AC_SKILLS_WEBREAD_HEADERS_MAX);
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v)
    {
        if (!json_is_string(v))
            return fail(&c, "invalid_argument: header values are texts");
        hv[nh++] = (ac_skills_webread_header_t){k, json_string_value(v)};
    }
    int64_t timeout = 0, max_bytes = 0;
    if (int_opt(&c, (json_t *)o, "timeout_ms", 1, 30000, 15000, &timeout) != 0 ||
        int_opt(&c, (json_t *)o, "max_bytes", 1, 256 * 1024, 256 * 1024, &max_bytes) != 0)
        return -1;
    /* like the original, a browser-like User-Agent when the skill sets none */
    bool ua = false;
    for (size_t i = 0; i < nh; i++)
        ua = ua || strcasecmp(hv[i].name, "user-agent") == 0;
    if (!ua && nh < AC_SKILLS_WEBREAD_HEADERS_MAX)
        hv[nh++] = (ac_skills_webread_header_t){"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AlexClaw/C"};
    ac_skills_webread_req_t req = {method, url, nh > 0 ? hv : NULL, nh, body, body_len};
    ac_skills_webread_opts_t opts = {.timeout_ms = (int)timeout,
                                     .deadline_ms = w->deadline_ms > 0 && w->deadline_ms < w->ctx->deadline_ms
                                                        ? w->deadline_ms
                                                        : w->ctx->deadline_ms,
                                     .max_bytes = (size_t)max_bytes,
                                     .truncate = true,
                                     .allow = &allow,
                                     .cancel = w->ctx->cancel};
    ac_skills_webread_resp_t resp;
    rc = ac_skills_webread_request(&req, &opts, &resp, &e);
    if (rc != 0) {
        ac_skills_webread_resp_free(&resp);
        if (rc == -AC_EPERM) {
            audit_deny(w->api, w->db, w->skill, "web_read", w->ctx->run_id, w->ctx->chain_depth, e.msg);
            return from_errmsg(&c, "permission_denied", &e);
        }
        return from_errmsg(&c,
                           rc == -AC_ETIMEDOUT ? "timeout"
                           : rc == -AC_EINVAL  ? "invalid_argument"
                                               : "http_error",
                           &e);
    }
    json_t *text = json_stringn(resp.body != NULL ? resp.body : "", resp.body_len);
    *result = json_pack("{s:i, s:s?, s:o?, s:b, s:s?}", "status", (int)resp.status, "content_type", resp.content_type,
                        "body", text, "truncated", resp.truncated, "url", resp.final_url);
    if (text == NULL && *result != NULL) /* not UTF-8: hand it over as bytes the skill can still count */
        json_object_set_new(*result, "binary", json_true());
    ac_skills_webread_resp_free(&resp);
    return *result != NULL ? 0 : fail(&c, "http_error: unusable response");
}

static int do_resources(call_t *c, json_t **result, bool one)
{
    PGconn *db = c->who->db;
    PGresult *res;
    if (one) {
        json_t *id = json_object_get(c->args, "id");
        if (!json_is_integer(id) || json_integer_value(id) < 1)
            return fail(c, "invalid_argument: get_resource(id) takes a resource id");
        char idb[24];
        snprintf(idb, sizeof(idb), "%lld", (long long)json_integer_value(id));
        const char *p[] = {idb};
        res = PQexecParams(db,
                           "SELECT id, name, type, coalesce(url, ''), coalesce(content, ''), coalesce(metadata, '{}') "
                           "FROM resources WHERE id = $1 AND enabled IS NOT false",
                           1, NULL, p, NULL, NULL, 0);
    } else {
        bool bad = false;
        json_t *o = opts_of(c, &bad);
        const char *type = o != NULL ? str_arg(c, o, "type", false, 32, &bad) : NULL;
        if (bad)
            return -1;
        const char *p[] = {type};
        res = PQexecParams(db,
                           "SELECT id, name, type, coalesce(url, ''), '', coalesce(metadata, '{}') FROM resources "
                           "WHERE enabled IS NOT false AND ($1::text IS NULL OR type = $1) ORDER BY id LIMIT 200",
                           1, NULL, p, NULL, NULL, 0);
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return fail(c, "database_error: cannot read resources");
    }
    json_t *rows = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *meta = json_loads(PQgetvalue(res, i, 5), 0, NULL);
        json_t *r = json_pack("{s:I, s:s, s:s, s:s, s:o}", "id", (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10),
                              "name", PQgetvalue(res, i, 1), "type", PQgetvalue(res, i, 2), "url",
                              PQgetvalue(res, i, 3), "metadata", meta != NULL ? meta : json_object());
        if (one && r != NULL) {
            const char *content = PQgetvalue(res, i, 4);
            size_t n = ac_policy_utf8_fit(content, strlen(content), REPLY_MAX / 2);
            json_object_set_new(r, "content", json_stringn(content, n));
        }
        if (r != NULL)
            json_array_append_new(rows, r);
    }
    PQclear(res);
    if (one) {
        json_t *r = json_array_size(rows) > 0 ? json_incref(json_array_get(rows, 0)) : NULL;
        json_decref(rows);
        if (r == NULL)
            return fail(c, "not_found: no such resource");
        *result = r;
        return 0;
    }
    *result = rows;
    return 0;
}

/* run_skill: the callee runs one level deeper, its token attenuated from ours (dynamic callees do that). */
static int do_run_skill(call_t *c, json_t **result)
{
    bool bad = false;
    const char *name = str_arg(c, c->args, "name", true, 64, &bad);
    if (bad)
        return -1;
    json_t *a = json_object_get(c->args, "args");
    if (a != NULL && !json_is_object(a))
        return fail(c, "invalid_argument: args must be a table {input = ..., config = {...}}");
    json_t *config = json_object_get(a, "config");
    if (config != NULL && !json_is_object(config))
        return fail(c, "invalid_argument: args.config must be a table");
    ac_skills_registry_t *reg = c->who->api->cfg.registry;
    const ac_skill_def_t *def = ac_skills_registry_find(reg, name);
    ac_policy_perms_t callee;
    if (def == NULL)
        return fail(c, "unknown_skill: %s", name);
    /* A core skill runs in the node with all of its trust (http to any address, shell, backups, sends): never on a
     * sandboxed skill's behalf. A skill invokes other dynamic skills, each in its own sandbox. */
    if (!ac_node_dynskills_perms(def, &callee)) {
        ac_skills_registry_release(reg, def);
        return fail(c, "permission_denied: run_skill invokes dynamic skills only (%s is a core skill)", name);
    }
    ac_skill_ctx_t ctx = *c->who->ctx;
    ctx.self = def;
    ctx.db = c->who->db;
    ctx.chain_depth = c->who->ctx->chain_depth + 1;
    ctx.token = c->who->token;
    if (c->who->deadline_ms > 0 && (ctx.deadline_ms == 0 || c->who->deadline_ms < ctx.deadline_ms))
        ctx.deadline_ms = c->who->deadline_ms; /* never past the calling sandbox's own limit */
    json_t *cfg = config != NULL ? json_incref(config) : json_object();
    ac_skill_args_t sa = {json_object_get(a, "input"), cfg, NULL, NULL, NULL};
    ac_skill_result_t res;
    memset(&res, 0, sizeof(res));
    int rc = def->run(&ctx, &sa, &res);
    ac_skills_registry_release(reg, def);
    json_decref(cfg);
    if (rc != 0) {
        json_decref(res.output);
        return fail(c, "%s", res.error[0] ? res.error : "skill_failed");
    }
    *result = json_pack("{s:o?, s:s}", "output", res.output, "branch", res.branch[0] ? res.branch : "on_success");
    return 0;
}

/* A skill file name for write_skill/read_skill/load_skill: <name>.lua directly in SKILLS_DIR. */
static int skill_file(call_t *c, const char *arg, char *name, size_t cap)
{
    bool bad = false;
    const char *f = str_arg(c, c->args, arg, true, AC_SKILLS_DYNFILE_NAME_MAX + 4, &bad);
    if (bad)
        return -1;
    ac_errmsg_t e = {{0}};
    char n[AC_SKILLS_DYNFILE_NAME_MAX + 1];
    if (ac_node_dynskills_filename_check(f, n, &e) != 0)
        return fail(c, "%s", e.msg);
    snprintf(name, cap, "%s", n);
    return 0;
}

static int do_write_skill(call_t *c, json_t **result)
{
    char name[AC_SKILLS_DYNFILE_NAME_MAX + 1];
    if (skill_file(c, "filename", name, sizeof(name)) != 0)
        return -1;
    json_t *src = json_object_get(c->args, "source");
    if (!json_is_string(src))
        return fail(c, "invalid_argument: source must be Lua text");
    char final[64];
    snprintf(final, sizeof(final), "%s.lua", name);
    ac_errmsg_t e = {{0}};
    /* a loaded skill's file is the owner's: overwriting it would make the next start skip that skill */
    const char *p[] = {final};
    PGresult *r =
        PQexecParams(c->who->db, "SELECT 1 FROM dynamic_skills WHERE file_path = $1", 1, NULL, p, NULL, NULL, 0);
    bool taken = PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) > 0;
    PQclear(r);
    if (taken)
        return fail(c, "permission_denied: %s belongs to a loaded skill", final);
    if (ac_node_dynskills_count_files(c->who->api->cfg.dyn) >= AC_NODE_SKILLAPI_FILES_MAX)
        return fail(c, "quota: SKILLS_DIR holds %d skill files already", AC_NODE_SKILLAPI_FILES_MAX);
    if (ac_node_dynskills_write(c->who->api->cfg.dyn, final, json_string_value(src), json_string_length(src), &e) != 0)
        return from_errmsg(c, "write_failed", &e);
    ac_log_info("skills", "written", "file=%s bytes=%zu by=dynamic:%s", final, json_string_length(src), c->who->skill);
    *result = json_pack("{s:s, s:I}", "file", final, "bytes", (json_int_t)json_string_length(src));
    return 0;
}

static int do_read_skill(call_t *c, json_t **result)
{
    char name[AC_SKILLS_DYNFILE_NAME_MAX + 1], path[PATH_MAX];
    if (skill_file(c, "filename", name, sizeof(name)) != 0)
        return -1;
    const char *dir = ac_node_dynskills_dir(c->who->api->cfg.dyn);
    snprintf(path, sizeof(path), "%s/%s.lua", dir, name);
    /* another loaded skill's source may hold what its owner put there: only its own, or files not loaded */
    char final[64];
    snprintf(final, sizeof(final), "%s.lua", name);
    const char *p[] = {final, c->who->skill};
    PGresult *r = PQexecParams(c->who->db, "SELECT 1 FROM dynamic_skills WHERE file_path = $1 AND name <> $2", 2, NULL,
                               p, NULL, NULL, 0);
    bool other = PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) > 0;
    PQclear(r);
    if (other)
        return fail(c, "permission_denied: %s belongs to another loaded skill", final);
    char *src = NULL, sha[65];
    size_t len = 0;
    ac_errmsg_t e = {{0}};
    if (ac_skills_dynfile_read(dir, path, &src, &len, sha, &e) != 0)
        return from_errmsg(c, "read_failed", &e);
    json_t *s = json_stringn(src, len);
    free(src);
    if (s == NULL)
        return fail(c, "read_failed: the file is not UTF-8 text");
    *result = s;
    return 0;
}

/* load/unload/reload: never directly; a challenge the owner answers with a code (the 2FA matrix), made by
 * node/ask_owner.h. The challenge binds what the file holds now (checksum and declaration, shown in the prompt); a
 * skill asks at most once per run and never replaces a request that already waits for the owner. */
typedef struct manage_build {
    ac_node_dynskills_t *dyn;
    const char *type, *arg;
} manage_build_t;

static int manage_build(void *a, PGconn *db, json_t **action, ac_errmsg_t *err)
{
    manage_build_t *b = a;
    return ac_node_action_skill(b->dyn, db, b->type, b->arg, action, err);
}

static int do_manage(call_t *c, json_t **result, const char *fn)
{
    ac_node_settings_t *s = c->who->api->cfg.settings;
    char name[AC_SKILLS_DYNFILE_NAME_MAX + 1], file[64];
    const char *arg;
    if (strcmp(fn, "load_skill") == 0) {
        if (skill_file(c, "filename", name, sizeof(name)) != 0)
            return -1;
        snprintf(file, sizeof(file), "%s.lua", name);
        arg = file;
    } else {
        bool bad = false;
        arg = str_arg(c, c->args, "name", true, AC_SKILLS_DYNFILE_NAME_MAX, &bad);
        if (bad)
            return -1;
        if (ac_skills_registry_is_core(c->who->api->cfg.registry, arg))
            return fail(c, "cannot_unload_core: %s is a core skill", arg);
    }
    if (!ac_node_twofa_enabled(s))
        return fail(c, "requires_2fa: loading and unloading skills needs two-factor authentication; turn it on");
    if (c->who->asked)
        return fail(c, "busy: this run already asked the owner once");
    manage_build_t b = {c->who->api->cfg.dyn,
                        strcmp(fn, "load_skill") == 0     ? "skill_load"
                        : strcmp(fn, "unload_skill") == 0 ? "skill_unload"
                                                          : "skill_reload",
                        arg};
    ac_node_ask_owner_t o;
    ac_node_ask_owner_telegram(&o, s, c->who->api->cfg.tg);
    char by[96];
    snprintf(by, sizeof(by), "asked by the dynamic skill %s", c->who->skill);
    ac_node_ask_owner_result_t ar;
    ac_errmsg_t e = {{0}};
    if (ac_node_ask_owner(&o, c->who->db, manage_build, &b, by, &ar, &e) != 0)
        return ar.status == AC_NODE_ASK_OWNER_REFUSED  ? from_errmsg(c, "refused", &e)
               : ar.status == AC_NODE_ASK_OWNER_FAILED ? from_errmsg(c, "challenge_failed", &e)
                                                       : fail(c, "%s", e.msg);
    c->who->asked = true;
    *result = json_pack("{s:s, s:s}", "status", "pending_2fa", "message",
                        "the owner was asked for a 2FA code in Telegram; the change happens when they answer");
    return 0;
}

/* --- workflows ----------------------------------------------------------------------------------------------- */

static int db_error(call_t *c, PGresult *res, const char *what)
{
    PQclear(res);
    return fail(c, "database_error: %s", what);
}

static int do_create_workflow(call_t *c, json_t **result)
{
    bool bad = false;
    const char *name = str_arg(c, c->args, "name", true, NAME_MAX_W, &bad);
    json_t *o = bad ? NULL : opts_of(c, &bad);
    const char *desc = bad || o == NULL ? NULL : str_arg(c, o, "description", false, NAME_MAX_W, &bad);
    if (bad)
        return -1;
    char meta[128];
    snprintf(meta, sizeof(meta), "{\"created_by\": \"dynamic:%s\"}", c->who->skill);
    const char *p[] = {name, desc, meta};
    PGresult *res = PQexecParams(c->who->db,
                                 "INSERT INTO workflows (name, description, enabled, metadata) VALUES ($1, $2, false, "
                                 "$3::jsonb) ON CONFLICT (name) DO NOTHING RETURNING id",
                                 3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return db_error(c, res, "cannot create the workflow");
    if (PQntuples(res) == 0) {
        PQclear(res);
        return fail(c, "already_exists: a workflow named so exists");
    }
    *result = json_pack("{s:I, s:s, s:b}", "id", (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10), "name", name,
                        "enabled", 0);
    PQclear(res);
    ac_log_info("skills", "workflow_created", "name=%s by=dynamic:%s", name, c->who->skill);
    return 0;
}

static int do_add_step(call_t *c, json_t **result)
{
    bool bad = false;
    json_t *wid = json_object_get(c->args, "workflow_id");
    const char *skill = str_arg(c, c->args, "skill", true, 64, &bad);
    json_t *o = bad ? NULL : opts_of(c, &bad);
    const char *sname = bad || o == NULL ? NULL : str_arg(c, o, "name", false, NAME_MAX_W, &bad);
    const char *tmpl = bad || o == NULL ? NULL : str_arg(c, o, "prompt_template", false, 16384, &bad);
    if (bad)
        return -1;
    if (!json_is_integer(wid) || json_integer_value(wid) < 1)
        return fail(c, "invalid_argument: workflow_id");
    json_t *cfg = json_object_get(o, "config");
    if (cfg != NULL && !json_is_object(cfg))
        return fail(c, "invalid_argument: options.config must be a table");
    char *cfgs = cfg != NULL ? json_dumps(cfg, JSON_COMPACT) : ac_strdup("{}");
    if (cfgs == NULL || strlen(cfgs) > 64 * 1024) {
        free(cfgs);
        return fail(c, "invalid_argument: options.config is too large");
    }
    char idb[24], owner[80];
    snprintf(idb, sizeof(idb), "%lld", (long long)json_integer_value(wid));
    snprintf(owner, sizeof(owner), "dynamic:%s", c->who->skill);
    const char *p[] = {idb, sname != NULL ? sname : skill, skill, cfgs, tmpl, owner};
    /* only a disabled workflow this skill created: a skill never edits the owner's workflows */
    PGresult *res = PQexecParams(
        c->who->db,
        "INSERT INTO workflow_steps (workflow_id, position, name, skill, config, prompt_template) "
        "SELECT w.id, coalesce((SELECT max(position) FROM workflow_steps WHERE workflow_id = w.id), 0) + 1, $2, $3, "
        "$4::jsonb, $5 FROM workflows w WHERE w.id = $1 AND w.enabled = false AND w.metadata->>'created_by' = $6 "
        "RETURNING position",
        6, NULL, p, NULL, NULL, 0);
    free(cfgs);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return db_error(c, res, "cannot add the step");
    if (PQntuples(res) == 0) {
        PQclear(res);
        return fail(c, "permission_denied: only a disabled workflow this skill created can be changed");
    }
    *result = json_pack("{s:I}", "position", (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10));
    PQclear(res);
    return 0;
}

static int do_run_workflow(call_t *c, json_t **result)
{
    json_t *wid = json_object_get(c->args, "workflow_id");
    if (!json_is_integer(wid) || json_integer_value(wid) < 1)
        return fail(c, "invalid_argument: workflow_id");
    if (c->who->api->cfg.pool == NULL)
        return fail(c, "unavailable: this process runs no workflows");
    int depth = c->who->ctx->chain_depth + 1;
    int max =
        (int)ac_node_settings_int_or(c->who->api->cfg.settings, "auth.max_chain_depth", AC_POLICY_AUTHZ_MAX_DEPTH);
    if (depth > max)
        return fail(c, "permission_denied: chain depth %d exceeds maximum %d", depth, max);
    int64_t run_id = 0;
    ac_errmsg_t e = {{0}};
    /* machines never run a workflow that requires 2FA; the run's steps count as one level deeper in the chain, so
     * workflows that start each other stop at the maximum depth */
    if (ac_node_action_run_at_depth(c->who->api->cfg.pool, json_integer_value(wid), true, depth, 2000, &run_id, &e) !=
        0)
        return from_errmsg(c, "run_refused", &e);
    *result = run_id > 0 ? json_pack("{s:I}", "run_id", (json_int_t)run_id) : json_pack("{s:b}", "queued", 1);
    return 0;
}

static int do_workflow_result(call_t *c, json_t **result)
{
    json_t *rid = json_object_get(c->args, "run_id");
    if (!json_is_integer(rid) || json_integer_value(rid) < 1)
        return fail(c, "invalid_argument: run_id");
    char idb[24];
    snprintf(idb, sizeof(idb), "%lld", (long long)json_integer_value(rid));
    char owner[80];
    snprintf(owner, sizeof(owner), "dynamic:%s", c->who->skill);
    const char *p[] = {idb, owner};
    PGresult *res =
        PQexecParams(c->who->db,
                     "SELECT r.status, coalesce(r.result, 'null'), coalesce(r.error, '') FROM workflow_runs "
                     "r JOIN workflows w ON w.id = r.workflow_id WHERE r.id = $1 AND "
                     "w.metadata->>'created_by' = $2",
                     2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return db_error(c, res, "cannot read the run");
    if (PQntuples(res) == 0) {
        PQclear(res);
        return fail(c, "not_found: no such run of a workflow this skill created");
    }
    const char *rs = PQgetvalue(res, 0, 1);
    json_t *r = strlen(rs) <= REPLY_MAX ? json_loads(rs, JSON_DECODE_ANY, NULL) : json_string("(too large)");
    *result = json_pack("{s:s, s:o, s:s}", "status", PQgetvalue(res, 0, 0), "result", r != NULL ? r : json_null(),
                        "error", PQgetvalue(res, 0, 2));
    PQclear(res);
    return 0;
}

/* --- dispatch ------------------------------------------------------------------------------------------------- */

int ac_node_skillapi_serve(void *ud, const ac_skills_channel_msg_t *m, json_t **result, char *err, size_t errcap)
{
    ac_node_skillapi_caller_t *w = ud;
    *result = NULL;
    call_t c = {w, m->args, err, errcap};
    const char *fn = m->fn->name;
    if (w->ctx->cancel != NULL && *w->ctx->cancel)
        return fail(&c, "cancelled");
    char reason[AC_POLICY_AUTHZ_REASON_MAX];
    if (authorize(w, m->fn->perm, reason, sizeof(reason)) != 0) {
        /* The original: gateway_send, or else telegram_send. Only when the skill merely lacks gateway_send: a rule
         * of the owner's that denies gateway_send is never sidestepped. */
        char r2[AC_POLICY_AUTHZ_REASON_MAX];
        bool lacks = strstr(reason, "not declared") != NULL || strstr(reason, "does not grant") != NULL;
        if (m->fn->perm != AC_POLICY_PERM_GATEWAY_SEND || !lacks ||
            authorize(w, AC_POLICY_PERM_TELEGRAM_SEND, r2, sizeof(r2)) != 0) {
            fail(&c, "permission_denied: %s", reason);
            /* a skill that keeps knocking is stopped: each denial costs an audit write */
            return ++w->denials >= AC_NODE_SKILLAPI_DENIALS_MAX ? -2 : -1;
        }
    }
    if (strcmp(fn, "llm_complete") == 0)
        return do_llm(&c, result);
    if (strcmp(fn, "send_message") == 0 || strcmp(fn, "send_telegram") == 0)
        return do_send(&c, result, false);
    if (strcmp(fn, "send_html") == 0 || strcmp(fn, "send_telegram_html") == 0)
        return do_send(&c, result, true);
    if (strcmp(fn, "config_get") == 0)
        return do_config_get(&c, result);
    if (strncmp(fn, "memory_", 7) == 0)
        return do_memory(&c, result, AC_NODE_MEMORY_MEMORIES, fn + 7);
    if (strncmp(fn, "knowledge_", 10) == 0)
        return do_memory(&c, result, AC_NODE_MEMORY_KNOWLEDGE, fn + 10);
    if (strcmp(fn, "skill_outcomes") == 0)
        return fail(&c, "not_available: skill outcomes are not recorded by this node yet");
    if (strncmp(fn, "http_", 5) == 0)
        return do_http(&c, result, fn);
    if (strcmp(fn, "list_resources") == 0 || strcmp(fn, "get_resource") == 0)
        return do_resources(&c, result, fn[0] == 'g');
    if (strcmp(fn, "run_skill") == 0)
        return do_run_skill(&c, result);
    if (strcmp(fn, "write_skill") == 0)
        return do_write_skill(&c, result);
    if (strcmp(fn, "read_skill") == 0)
        return do_read_skill(&c, result);
    if (strcmp(fn, "load_skill") == 0 || strcmp(fn, "unload_skill") == 0 || strcmp(fn, "reload_skill") == 0)
        return do_manage(&c, result, fn);
    if (strcmp(fn, "create_workflow") == 0)
        return do_create_workflow(&c, result);
    if (strcmp(fn, "add_workflow_step") == 0)
        return do_add_step(&c, result);
    if (strcmp(fn, "run_workflow") == 0)
        return do_run_workflow(&c, result);
    if (strcmp(fn, "get_workflow_result") == 0)
        return do_workflow_result(&c, result);
    return fail(&c, "not_available: %s", fn);
}
