/* web/llm.c - the LLM page's API (llm.h): the providers of the LLM router, their usage today, a test call, and the
 * statement of who receives the owner's data.
 *
 * Every change of a provider becomes an action, a JSON object (llm_provider_save, llm_provider_delete), before
 * anything is written: while 2FA is on the action is stored with a challenge and runs when a code approves it,
 * otherwise it runs at once. Both ways go through the same apply(), so what was approved is what runs. An API key in
 * a body is sealed into the action at once (the settings key, as node/action.c seals sensitive settings) and opened
 * only in apply(), right before the store seals it again for its row; its clear text is wiped after use. The store
 * (skills/llm.h) validates; the checks made here only keep a person from approving a change the store would refuse. */
#include "web/llm.h"

#include "web/twofa.h"

#include "node/challenge.h"
#include "node/log.h"
#include "node/settings.h"
#include "node/twofa.h"
#include "policy/alloc.h"
#include "policy/crypto.h"
#include "policy/netaddr.h"
#include "policy/utf8.h"
#include "skills/llm.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MASK           "********" /* a stored key or header value, as lists show it: "keep it" when sent back */
#define WHERE_MAX      300
#define DESC_NAME_MAX  120
#define DESC_VALUE_MAX 120
#define NAME_BYTES     (4 * AC_SKILLS_LLM_NAME_MAX + 1)

/* The body keys a provider may have (skills/llm.h): anything else is refused (a typo must not pass for a default). */
static const char *const provider_keys[] = {"name",        "type",    "tier",    "host",     "model",   "api_key",
                                            "daily_limit", "headers", "enabled", "priority", "options", NULL};
static const char *const types[] = {"openai_compatible", "ollama", "gemini", "anthropic", "custom", NULL};
static const char *const tiers[] = {"light", "medium", "heavy", "local", NULL};

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void fail_db(ac_web_call_t *c, int rc, const ac_errmsg_t *err)
{
    ac_log_warn("web", "llm_db_error", "error=\"%s\"", err->msg);
    c->status = rc == -AC_EDBDOWN ? 503 : 500;
    c->body = ac_web_error_body(rc == -AC_EDBDOWN ? "database unreachable" : "database error");
}

/* Overwrites the text of a JSON string in place (an API key about to be freed). */
static void wipe_json_string(json_t *v)
{
    if (json_is_string(v))
        explicit_bzero((char *)json_string_value(v), json_string_length(v));
}

/* --- where a provider's requests go ------------------------------------------------------------------------ */

/* The authority (host[:port]) of an http(s) URL into out; "" when there is none. Userinfo is never copied. */
static void authority_of(const char *url, char *out, size_t cap)
{
    out[0] = '\0';
    if (url == NULL)
        return;
    const char *p = strstr(url, "://");
    p = p != NULL ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at != NULL) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

/* Whether the host part of authority a is this machine ("loopback"), the local network ("private") or anything
 * else, as far as a literal address or "localhost" tells. */
static const char *reach_of(const char *a)
{
    char host[256];
    const char *end;
    if (a[0] == '[') { /* [v6]:port */
        end = strchr(a, ']');
        a++;
    } else {
        end = strchr(a, ':');
    }
    size_t n = end != NULL ? (size_t)(end - a) : strlen(a);
    if (n == 0 || n >= sizeof(host))
        return "elsewhere";
    memcpy(host, a, n);
    host[n] = '\0';
    if (strcasecmp(host, "localhost") == 0)
        return "this machine";
    struct in_addr v4;
    struct in6_addr v6;
    ac_policy_netaddr_class_t cls;
    if (inet_pton(AF_INET, host, &v4) == 1)
        cls = ac_policy_netaddr_classify_v4(&v4);
    else if (inet_pton(AF_INET6, host, &v6) == 1)
        cls = ac_policy_netaddr_classify_v6(&v6);
    else
        return "elsewhere";
    return cls == AC_POLICY_NETADDR_LOOPBACK  ? "this machine"
           : cls == AC_POLICY_NETADDR_PRIVATE ? "local network"
                                              : "elsewhere";
}

/* Where p's requests go, for people: OUT where (cap bytes) and *reach ("cloud", "this machine", "local network",
 * "elsewhere", or "nowhere" without a host). */
static void where_of(const ac_web_server_t *s, const ac_skills_llm_provider_t *p, char *where, size_t cap,
                     const char **reach)
{
    char a[256];
    if (strcmp(p->type, "anthropic") == 0 || strcmp(p->type, "gemini") == 0) {
        bool anthropic = strcmp(p->type, "anthropic") == 0;
        const char *url = anthropic ? s->anthropic_url : s->gemini_url;
        authority_of(url != NULL ? url
                     : anthropic ? AC_SKILLS_LLM_ANTHROPIC_URL
                                 : AC_SKILLS_LLM_GEMINI_URL,
                     a, sizeof(a));
        snprintf(where, cap, "%s (%s)", anthropic ? "Anthropic" : "Google Gemini", a);
        *reach = "cloud";
        return;
    }
    authority_of(p->host, a, sizeof(a));
    if (a[0] == '\0') {
        snprintf(where, cap, "no host set");
        *reach = "nowhere";
        return;
    }
    snprintf(where, cap, "%s", a);
    *reach = reach_of(a);
}

/* --- the list ---------------------------------------------------------------------------------------------- */

static json_t *names(const char *const *list)
{
    json_t *a = json_array();
    for (size_t i = 0; list[i] != NULL; i++)
        json_array_append_new(a, json_string(list[i]));
    return a;
}

static void list_run(PGconn *db, ac_web_call_t *c)
{
    ac_skills_llm_provider_t *p = NULL;
    size_t n = 0;
    ac_errmsg_t err = {{0}};
    int rc = ac_skills_llm_providers_list(db, c->s->cfg.settings, &p, &n, &err);
    if (rc != 0) {
        fail_db(c, rc, &err);
        return;
    }
    json_t *providers = json_array(), *receivers = json_array();
    json_int_t total = 0;
    for (size_t i = 0; i < n; i++) {
        char where[WHERE_MAX];
        const char *reach = NULL;
        where_of(c->s, &p[i], where, sizeof(where), &reach);
        json_t *o = ac_skills_llm_provider_json(&p[i]);
        json_object_set_new(o, "where", json_string(where));
        json_object_set_new(o, "reach", json_string(reach));
        json_array_append_new(providers, o);
        if (p[i].enabled)
            json_array_append_new(receivers, json_pack("{s:I, s:O, s:s, s:s, s:s, s:b}", "id", (json_int_t)p[i].id,
                                                       "name", json_object_get(o, "name"), "type", p[i].type, "where",
                                                       where, "reach", reach, "cloud", p[i].cloud));
        total += (json_int_t)p[i].usage_today;
    }
    ac_skills_llm_providers_free(p, n);
    c->body = json_pack("{s:o, s:o, s:I, s:b, s:o, s:o}", "providers", providers, "receivers", receivers,
                        "usage_total_today", total, "two_factor", ac_node_twofa_enabled(c->s->cfg.settings), "types",
                        names(types), "tiers", names(tiers));
}

json_t *ac_web_llm_metrics(PGconn *db, ac_web_server_t *s)
{
    ac_skills_llm_provider_t *p = NULL;
    size_t n = 0;
    ac_errmsg_t err = {{0}};
    json_t *list = json_array();
    json_int_t total = 0;
    if (db != NULL && ac_skills_llm_providers_list(db, s->cfg.settings, &p, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++) {
            json_t *name = json_string(p[i].name);
            json_array_append_new(list,
                                  json_pack("{s:o, s:s, s:b, s:I}", "name",
                                            name != NULL ? name : json_string("(not valid UTF-8)"), "tier", p[i].tier,
                                            "enabled", p[i].enabled, "usage_today", (json_int_t)p[i].usage_today));
            total += (json_int_t)p[i].usage_today;
        }
        ac_skills_llm_providers_free(p, n);
    } else if (db != NULL) {
        ac_log_warn("web", "llm_metrics_unavailable", "error=\"%s\"", err.msg);
    }
    return json_pack("{s:o, s:I}", "providers", list, "total_calls_today", total);
}

/* --- actions ----------------------------------------------------------------------------------------------- */

bool ac_web_llm_is_action(const json_t *action)
{
    const char *type = str(action, "type");
    return type != NULL && (strcmp(type, "llm_provider_save") == 0 || strcmp(type, "llm_provider_delete") == 0);
}

/* "k: v" for one changed field of a description, into b (cap bytes, appended). Never a key, never a header's value. */
static void describe_field(char *b, size_t cap, const char *k, const json_t *v)
{
    size_t len = strlen(b);
    char val[DESC_VALUE_MAX + 8];
    if (strcmp(k, "headers") == 0) {
        char hn[DESC_VALUE_MAX + 1] = "";
        const char *h;
        json_t *hv;
        json_object_foreach((json_t *)v, h, hv)
        {
            (void)hv;
            size_t l = strlen(hn);
            snprintf(hn + l, sizeof(hn) - l, "%s%s", l > 0 ? ", " : "", h);
        }
        ac_policy_utf8_clip(hn[0] ? hn : "none", DESC_VALUE_MAX, val, sizeof(val));
        snprintf(b + len, cap - len, "%sheaders: %s", len > 0 ? "; " : "", val);
        return;
    }
    char *text = json_is_string(v) ? ac_strdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    ac_policy_utf8_clip(text, DESC_VALUE_MAX, val, sizeof(val));
    free(text);
    snprintf(b + len, cap - len, "%s%s: `%s`", len > 0 ? "; " : "", k, val);
}

char *ac_web_llm_describe(const json_t *a)
{
    if (!ac_web_llm_is_action(a))
        return NULL;
    char buf[AC_NODE_CHALLENGE_DESC_MAX], name[DESC_NAME_MAX + 8];
    long long id = (long long)json_integer_value(json_object_get(a, "id"));
    ac_policy_utf8_clip(str(a, "name"), DESC_NAME_MAX, name, sizeof(name));
    if (strcmp(str(a, "type"), "llm_provider_delete") == 0) {
        snprintf(buf, sizeof(buf), "Delete the LLM provider #%lld `%s`", id, name);
        return ac_strdup(buf);
    }
    char fields[AC_NODE_CHALLENGE_DESC_MAX - 200] = ""; /* room for the words, the id and the name around it */
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(a, "fields"), k, v)
    {
        if (strcmp(k, "name") != 0 || id > 0)
            describe_field(fields, sizeof(fields), k, v);
    }
    size_t len = strlen(fields);
    if (str(a, "api_key_sealed") != NULL)
        snprintf(fields + len, sizeof(fields) - len, "%sa new API key", len > 0 ? "; " : "");
    else if (json_is_true(json_object_get(a, "api_key_remove")))
        snprintf(fields + len, sizeof(fields) - len, "%sno API key of its own", len > 0 ? "; " : "");
    if (id > 0)
        snprintf(buf, sizeof(buf), "Change the LLM provider #%lld `%s`: %s", id, name, fields[0] ? fields : "nothing");
    else
        snprintf(buf, sizeof(buf), "Add the LLM provider `%s` (%s)", name, fields);
    return ac_strdup(buf);
}

/* Runs action a and fills c: the direct answer, or (approved) what POST /api/2fa/verify answers. */
static void apply(PGconn *db, ac_web_call_t *c, const json_t *a, bool approved)
{
    const char *type = str(a, "type"), *sealed = str(a, "api_key_sealed");
    json_t *idv = json_object_get(a, "id"), *fields = json_object_get(a, "fields");
    int64_t id = json_is_integer(idv) ? (int64_t)json_integer_value(idv) : -1;
    ac_errmsg_t err = {{0}};
    json_t *result = NULL;
    int rc, ok_status = 200;
    if (!ac_web_llm_is_action(a) || id < 0 || (strcmp(type, "llm_provider_delete") == 0 && id == 0)) {
        rc = ac_errmsg_set(&err, -AC_EINVAL, "a malformed LLM provider action");
    } else if (strcmp(type, "llm_provider_delete") == 0) {
        rc = ac_skills_llm_provider_delete(db, id, &err);
        if (rc == 0)
            result = json_pack("{s:I, s:b}", "id", (json_int_t)id, "removed", 1);
    } else if (!json_is_object(fields)) {
        rc = ac_errmsg_set(&err, -AC_EINVAL, "a malformed LLM provider action");
    } else {
        json_t *f = json_deep_copy(fields);
        char *key = NULL;
        size_t klen = 0;
        rc = 0;
        json_object_del(f, "api_key"); /* only the sealed form counts */
        if (sealed != NULL &&
            ac_policy_crypto_open(ac_node_settings_key(c->s->cfg.settings), sealed, strlen(sealed), &key, &klen) != 0)
            rc = ac_errmsg_set(&err, -AC_EINVAL, "the API key held for approval does not open (was the key rotated?)");
        else if (key != NULL)
            json_object_set_new(f, "api_key", json_stringn(key, klen));
        else if (json_is_true(json_object_get(a, "api_key_remove")))
            json_object_set_new(f, "api_key", json_string(""));
        int64_t out_id = 0;
        if (rc == 0)
            rc = ac_skills_llm_provider_save(db, c->s->cfg.settings, id, f, &out_id, &err);
        wipe_json_string(json_object_get(f, "api_key"));
        json_decref(f);
        ac_free_secret_str(key);
        if (rc == 0) {
            result = json_pack("{s:I, s:O}", "id", (json_int_t)out_id, "name", json_object_get(a, "name"));
            id = out_id;
        }
        ok_status = json_integer_value(idv) == 0 ? 201 : 200;
    }
    if (rc == -AC_EDB || rc == -AC_EDBDOWN) {
        fail_db(c, rc, &err);
    } else if (rc != 0) {
        c->status = rc == -AC_ENOENT ? 404 : rc == -AC_EEXIST ? 409 : 422;
        c->body = ac_web_error_body(rc == -AC_ENOENT   ? "no such LLM provider"
                                    : rc == -AC_EEXIST ? "an LLM provider of that name exists already"
                                    : err.msg[0]       ? err.msg
                                                       : "the LLM provider was refused");
    } else {
        c->status = approved ? 200 : ok_status;
        c->body = approved ? json_pack("{s:b, s:s, s:o}", "approved", 1, "type", type, "result", result) : result;
        ac_log_info("web", "llm_provider_changed", "type=%s id=%lld approved=%s", type, (long long)id,
                    approved ? "yes" : "no");
        return;
    }
    if (approved)
        json_object_set_new(c->body, "approved", json_true());
}

void ac_web_llm_exec_approved(PGconn *db, ac_web_call_t *c, const json_t *action)
{
    apply(db, c, action, true);
}

/* The action stands: stored with a challenge while 2FA is on (approved in the admin UI, like policy rules: the web
 * layer runs it), else run now. Takes a. */
static void gate_then_apply(PGconn *db, ac_web_call_t *c, json_t *a)
{
    if (!ac_web_twofa_gate(db, c, json_incref(a), false))
        apply(db, c, a, false);
    json_decref(a);
}

static void refuse(ac_web_call_t *c, int status, const char *msg, const char *field)
{
    c->status = status;
    c->body = field != NULL ? json_pack("{s:s, s:s}", "error", msg, "field", field) : ac_web_error_body(msg);
}

static bool one_of(const char *v, const char *const *set)
{
    for (size_t i = 0; v != NULL && set[i] != NULL; i++)
        if (strcmp(v, set[i]) == 0)
            return true;
    return false;
}

/* The shape of a body: known fields with the JSON types the store takes, type and tier from their sets, and on a
 * create the required fields. False with c filled (422 and the field). */
static bool body_ok(ac_web_call_t *c, bool create)
{
    const char *k;
    json_t *v;
    char msg[160];
    json_object_foreach(c->in, k, v)
    {
        if (!one_of(k, provider_keys)) {
            snprintf(msg, sizeof(msg), "unknown field \"%.64s\"", k);
            refuse(c, 422, msg, NULL);
            return false;
        }
    }
    static const struct {
        const char *key, *want;
        int kind; /* 0 string, 1 string or null, 2 integer >= 0 or null, 3 boolean, 4 object, 5 integer >= 0 */
    } shapes[] = {
        {"name", "name: 1 to 255 characters", 0},
        {"type", "type: openai_compatible, ollama, gemini, anthropic or custom", 0},
        {"tier", "tier: light, medium, heavy or local", 0},
        {"host", "host: an http(s):// URL, or empty", 1},
        {"model", "model: 1 to 255 characters", 0},
        {"api_key", "api_key: a text (empty: none of its own)", 1},
        {"daily_limit", "daily_limit: an integer of 0 or more, or empty for no limit", 2},
        {"enabled", "enabled: true or false", 3},
        {"headers", "headers: a JSON object of texts", 4},
        {"options", "options: a JSON object", 4},
        {"priority", "priority: an integer of 0 or more", 5},
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        json_t *x = json_object_get(c->in, shapes[i].key);
        int kind = shapes[i].kind;
        bool ok = x == NULL || (kind == 0 && json_is_string(x)) ||
                  (kind == 1 && (json_is_string(x) || json_is_null(x))) ||
                  (kind == 2 && (json_is_null(x) || (json_is_integer(x) && json_integer_value(x) >= 0))) ||
                  (kind == 3 && json_is_boolean(x)) || (kind == 4 && json_is_object(x)) ||
                  (kind == 5 && json_is_integer(x) && json_integer_value(x) >= 0);
        if (ok && i == 1 && x != NULL)
            ok = one_of(json_string_value(x), types);
        if (ok && i == 2 && x != NULL)
            ok = ac_skills_llm_tier_check(json_string_value(x)) == 0;
        if (ok && (i == 0 || i == 4) && x != NULL) /* the store counts characters; bytes bound them from above */
            ok = json_string_length(x) > 0 && json_string_length(x) <= 4 * AC_SKILLS_LLM_NAME_MAX;
        if (ok && create && x == NULL && (i == 0 || i == 2 || i == 4))
            ok = false;
        if (!ok) {
            refuse(c, 422, shapes[i].want, shapes[i].key);
            return false;
        }
    }
    return true;
}

/* Whether name is taken by a provider other than id; false with c filled on a database error (*failed). */
static bool name_taken(PGconn *db, ac_web_call_t *c, const char *name, int64_t id, bool *failed)
{
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *p[] = {name, ids};
    PGresult *r;
    *failed = !ac_web_call_query(db, c, "SELECT 1 FROM llm_providers WHERE name = $1 AND id <> $2::bigint", 2, p, &r);
    if (*failed)
        return false;
    bool taken = PQntuples(r) > 0;
    PQclear(r);
    return taken;
}

/* Provider c->id's name now (cap bytes). False with c filled (404, or a database error) when it cannot be read. */
static bool current_name(PGconn *db, ac_web_call_t *c, char *name, size_t cap)
{
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", (long long)c->id);
    const char *p[] = {ids};
    PGresult *r;
    if (!ac_web_call_query(db, c, "SELECT name FROM llm_providers WHERE id = $1::bigint", 1, p, &r))
        return false;
    bool found = PQntuples(r) == 1;
    if (found)
        snprintf(name, cap, "%s", PQgetvalue(r, 0, 0));
    else
        refuse(c, 404, "no such LLM provider", NULL);
    PQclear(r);
    return found;
}

/* The save action of the body (c->in) for provider c->id (0: a new one) named name. The body's api_key is wiped
 * once sealed. NULL with c filled when the key cannot be sealed. */
static json_t *save_action(ac_web_call_t *c, const char *name)
{
    json_t *fields = json_deep_copy(c->in), *key = json_object_get(c->in, "api_key");
    wipe_json_string(json_object_get(fields, "api_key")); /* the copy's key, before it is freed */
    json_object_del(fields, "api_key");
    ac_errmsg_t serr = {{0}};
    if (ac_skills_llm_headers_seal(c->s->cfg.settings, fields, &serr) != 0) { /* secret headers, sealed like the key */
        json_decref(fields);
        wipe_json_string(key);
        refuse(c, 500, serr.msg, "headers");
        return NULL;
    }
    json_t *a = json_pack("{s:s, s:I, s:s, s:o}", "type", "llm_provider_save", "id", (json_int_t)c->id, "name", name,
                          "fields", fields);
    if (a == NULL) { /* a name written with SQL that is not UTF-8 */
        refuse(c, 500, "could not describe the provider", NULL);
        return NULL;
    }
    if (json_is_null(key) || (json_is_string(key) && json_string_length(key) == 0)) {
        json_object_set_new(a, "api_key_remove", json_true());
    } else if (json_is_string(key) && strcmp(json_string_value(key), MASK) != 0) {
        char *sealed = NULL;
        if (ac_policy_crypto_seal(ac_node_settings_key(c->s->cfg.settings), json_string_value(key),
                                  json_string_length(key), &sealed) != 0) {
            json_decref(a);
            wipe_json_string(key);
            refuse(c, 422, "api_key: a text without NUL characters", "api_key");
            return NULL;
        }
        json_object_set_new(a, "api_key_sealed", json_string(sealed));
        free(sealed);
    }
    wipe_json_string(key);
    return a;
}

static void create_run(PGconn *db, ac_web_call_t *c)
{
    if (!body_ok(c, true)) {
        wipe_json_string(json_object_get(c->in, "api_key"));
        return;
    }
    bool failed = false;
    const char *name = str(c->in, "name");
    if (name_taken(db, c, name, 0, &failed) || failed) {
        if (!failed)
            refuse(c, 409, "an LLM provider of that name exists already", "name");
        wipe_json_string(json_object_get(c->in, "api_key"));
        return;
    }
    c->id = 0;
    json_t *a = save_action(c, name);
    if (a != NULL)
        gate_then_apply(db, c, a);
}

static void update_run(PGconn *db, ac_web_call_t *c)
{
    char name[NAME_BYTES];
    bool failed = false;
    if (!body_ok(c, false) || !current_name(db, c, name, sizeof(name))) {
        wipe_json_string(json_object_get(c->in, "api_key"));
        return;
    }
    const char *rename = str(c->in, "name");
    if (rename != NULL && (name_taken(db, c, rename, c->id, &failed) || failed)) {
        if (!failed)
            refuse(c, 409, "an LLM provider of that name exists already", "name");
        wipe_json_string(json_object_get(c->in, "api_key"));
        return;
    }
    json_t *a = save_action(c, rename != NULL ? rename : name);
    if (a != NULL)
        gate_then_apply(db, c, a);
}

static void delete_run(PGconn *db, ac_web_call_t *c)
{
    char name[NAME_BYTES];
    if (!current_name(db, c, name, sizeof(name)))
        return;
    json_t *a = json_pack("{s:s, s:I, s:s}", "type", "llm_provider_delete", "id", (json_int_t)c->id, "name", name);
    if (a == NULL) {
        refuse(c, 500, "could not describe the provider", NULL);
        return;
    }
    gate_then_apply(db, c, a);
}

/* --- the test call ----------------------------------------------------------------------------------------- */

/* The first max characters of s into a new JSON string. */
static json_t *first_chars(const char *s, size_t max)
{
    size_t i = 0, chars = 0;
    while (s[i] != '\0' && chars < max) {
        i++;
        while (((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        chars++;
    }
    json_t *j = json_stringn(s, i);
    return j != NULL ? j : json_string("(not valid UTF-8)");
}

static void test_run(PGconn *db, ac_web_call_t *c)
{
    char name[NAME_BYTES];
    if (!current_name(db, c, name, sizeof(name)))
        return;
    ac_web_server_t *s = c->s;
    ac_skill_ctx_t ctx = {
        .settings = s->cfg.settings,
        .node_name = s->node_name,
        .gemini_url = s->gemini_url,
        .anthropic_url = s->anthropic_url,
        .deadline_ms = ac_skill_now_ms() + AC_WEB_LLM_TEST_MS,
        .cancel = &s->llm_cancel,
        .db = db,
    };
    ac_skills_llm_answer_t ans;
    memset(&ans, 0, sizeof(ans));
    ac_errmsg_t err = {{0}};
    int64_t t0 = ac_skill_now_ms();
    int rc = ac_skills_llm_test(&ctx, c->id, &ans, &err);
    int64_t ms = ac_skill_now_ms() - t0;
    json_t *prov = json_string(ans.provider[0] ? ans.provider : name), *model = json_string(ans.model);
    c->body = json_pack("{s:b, s:o, s:o, s:I}", "ok", rc == 0, "provider",
                        prov != NULL ? prov : json_string("(not valid UTF-8)"), "model",
                        model != NULL ? model : json_string(""), "ms", (json_int_t)ms);
    if (rc == 0) {
        json_object_set_new(c->body, "text", first_chars(ans.text != NULL ? ans.text : "", AC_WEB_LLM_TEST_TEXT));
    } else {
        json_t *e = json_string(err.msg[0] ? err.msg : ac_strerror(rc));
        json_object_set_new(c->body, "error", e != NULL ? e : json_string("the provider failed"));
    }
    ac_log_info("web", "llm_test", "provider_id=%lld ok=%s ms=%lld", (long long)c->id, rc == 0 ? "yes" : "no",
                (long long)ms);
    ac_skills_llm_answer_free(&ans);
}

static void test_done(h2o_req_t *req, void *arg)
{
    ac_web_call_t *c = arg;
    c->s->llm_tests--; /* the loop thread only */
    ac_web_call_done(req, c);
}

/* --- dispatch ---------------------------------------------------------------------------------------------- */

/* The provider id in path after "/api/llm/providers/" and what follows it, or 0. */
static int64_t provider_id(const char *path, const char **rest)
{
    const char *p = path + strlen("/api/llm/providers/");
    char *end = NULL;
    if (*p < '1' || *p > '9')
        return 0;
    long long id = strtoll(p, &end, 10);
    if (end == p || (*end != '\0' && *end != '/') || end - p > 18)
        return 0;
    *rest = end;
    return id;
}

void ac_web_llm_api(ac_web_server_t *s, h2o_req_t *req, const char *path)
{
    static const char base[] = "/api/llm/providers";
    bool get = ac_web_method_is(req, "GET") || ac_web_method_is(req, "HEAD");
    bool post = ac_web_method_is(req, "POST"), put = ac_web_method_is(req, "PUT");
    bool del = ac_web_method_is(req, "DELETE");
    void (*fn)(PGconn *, ac_web_call_t *) = NULL;
    bool needs_body = false;
    int64_t id = 0;
    const char *rest = "";
    if (strcmp(path, base) == 0 && get) {
        fn = list_run;
    } else if (strcmp(path, base) == 0 && post) {
        fn = create_run, needs_body = true;
    } else if (strncmp(path, base, sizeof(base) - 1) == 0 && path[sizeof(base) - 1] == '/') {
        id = provider_id(path, &rest);
        if (id <= 0) {
            ac_web_error(req, 404, "no such LLM provider");
            return;
        }
        if (rest[0] == '\0' && put)
            fn = update_run, needs_body = true;
        else if (rest[0] == '\0' && del)
            fn = delete_run;
        else if (strcmp(rest, "/test") == 0 && post)
            fn = test_run;
    }
    if (fn == NULL) {
        ac_web_error(req, 404, "no such endpoint");
        return;
    }
    if (fn == test_run && s->llm_tests > 0) {
        ac_web_error(req, 429, "another LLM test is running; try again when it is done");
        return;
    }
    json_t *in = NULL;
    if (needs_body && (in = ac_web_call_body(req, 0, "the body must be an LLM provider (JSON object)")) == NULL)
        return;
    ac_web_call_t *c = ac_web_call_new(s, fn);
    c->in = in;
    c->id = id;
    if (fn == test_run) {
        s->llm_tests++;
        ac_web_jobs_defer(s->jobs, req, ac_web_call_run, test_done, c);
        return;
    }
    ac_web_call_defer(s, req, c);
}
