/* web/policies.c - the Policies page's API (policies.h): policy rules and the audit log.
 *
 * Every change of a rule becomes an action, a JSON object (policy_add, policy_update, policy_enable, policy_remove),
 * before anything is written: while 2FA is on the action is stored with a challenge and runs when a code approves it,
 * otherwise it runs at once. Both ways go through the same apply(), so what was approved is what runs. Rules are
 * checked by node/policies.h (the engine's own parser, policy/authz.h), the same checks the CLI makes, before a
 * challenge is made, so a person is never asked to approve a rule that would be refused. */
#include "web/policies.h"

#include "web/twofa.h"

#include "node/audit.h"
#include "node/challenge.h"
#include "node/log.h"
#include "node/policies.h"
#include "node/twofa.h"
#include "policy/alloc.h"
#include "policy/authz.h"
#include "policy/perm.h"
#include "policy/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RULES_MAX       1000 /* rules a list shows */
#define AUDIT_PAGE      50   /* audit rows a page shows unless asked */
#define FILTER_MAX      255  /* a caller or permission filter, bytes */
#define UTC_TEXT(col)   "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define RULE_TYPES_N    4
#define DESC_NAME_MAX   120
#define DESC_CONFIG_MAX 600
#define NAME_BYTES      (4 * AC_NODE_POLICIES_NAME_MAX + 1) /* varchar(255) counts characters, up to 4 bytes each */

/* The body keys a rule may have: anything else is refused (a typo must not pass for a default). */
static const char *const rule_keys[] = {"name", "description", "rule_type", "config", "priority", "enabled", NULL};

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Text from the database as JSON (NULL never: a text that is not UTF-8 says so). */
static json_t *text(const char *s)
{
    json_t *j = json_string(s);
    return j != NULL ? j : json_string("(not valid UTF-8)");
}

static json_t *field_error(const char *msg, const char *field)
{
    return field != NULL ? json_pack("{s:s, s:s}", "error", msg, "field", field) : ac_web_error_body(msg);
}

static void fail_db(ac_web_call_t *c, int rc, const ac_errmsg_t *err)
{
    ac_log_warn("web", "policy_db_error", "error=%s", err->msg);
    c->status = rc == -AC_EDBDOWN ? 503 : 500;
    c->body = ac_web_error_body(rc == -AC_EDBDOWN ? "database unreachable" : "database error");
}

/* --- actions ----------------------------------------------------------------------------------------------- */

bool ac_web_policies_is_action(const json_t *action)
{
    const char *type = str(action, "type");
    return type != NULL && (strcmp(type, "policy_add") == 0 || strcmp(type, "policy_update") == 0 ||
                            strcmp(type, "policy_enable") == 0 || strcmp(type, "policy_remove") == 0);
}

char *ac_web_policies_describe(const json_t *a)
{
    if (!ac_web_policies_is_action(a))
        return NULL;
    const char *type = str(a, "type");
    char buf[AC_NODE_CHALLENGE_DESC_MAX], name[DESC_NAME_MAX + 8], cfg[DESC_CONFIG_MAX + 8];
    long long id = (long long)json_integer_value(json_object_get(a, "id"));
    bool enabled = json_is_true(json_object_get(a, "enabled"));
    ac_policy_utf8_clip(str(a, "name"), DESC_NAME_MAX, name, sizeof(name));
    ac_policy_utf8_clip(str(a, "config"), DESC_CONFIG_MAX, cfg, sizeof(cfg));
    if (strcmp(type, "policy_add") == 0 || strcmp(type, "policy_update") == 0) {
        char what[64];
        if (strcmp(type, "policy_add") == 0)
            snprintf(what, sizeof(what), "Add policy rule");
        else
            snprintf(what, sizeof(what), "Change policy rule #%lld to", id);
        /* the whole rule: the person approves what will be stored */
        snprintf(buf, sizeof(buf), "%s `%s` (%s, priority %lld, %s): `%s`", what, name,
                 str(a, "rule_type") != NULL ? str(a, "rule_type") : "?",
                 (long long)json_integer_value(json_object_get(a, "priority")), enabled ? "enabled" : "disabled", cfg);
    } else if (strcmp(type, "policy_enable") == 0) {
        snprintf(buf, sizeof(buf), "%s policy rule #%lld `%s` (%s)", enabled ? "Enable" : "Disable", id, name,
                 str(a, "rule_type") != NULL ? str(a, "rule_type") : "?");
    } else {
        snprintf(buf, sizeof(buf), "Delete policy rule #%lld `%s` (%s)", id, name,
                 str(a, "rule_type") != NULL ? str(a, "rule_type") : "?");
    }
    return ac_strdup(buf);
}

/* Runs action a and fills c: the direct answer, or (approved) what POST /api/2fa/verify answers. */
static void apply(PGconn *db, ac_web_call_t *c, const json_t *a, bool approved)
{
    const char *type = str(a, "type"), *field = NULL;
    json_t *idv = json_object_get(a, "id"), *desc = json_object_get(a, "description");
    int64_t id = json_is_integer(idv) ? (int64_t)json_integer_value(idv) : 0;
    json_t *prio = json_object_get(a, "priority"), *en = json_object_get(a, "enabled");
    ac_errmsg_t err = {{0}};
    json_t *result = NULL;
    int rc, ok_status = 200;
    if (!ac_web_policies_is_action(a) || !json_is_boolean(en) ||
        (strcmp(type, "policy_add") != 0 && (!json_is_integer(idv) || id <= 0))) {
        rc = ac_errmsg_set(&err, -AC_EINVAL, "a malformed policy action");
    } else if (strcmp(type, "policy_add") == 0 || strcmp(type, "policy_update") == 0) {
        const char *name = str(a, "name"), *rtype = str(a, "rule_type"), *cfg = str(a, "config");
        const char *d = json_is_string(desc) ? json_string_value(desc) : NULL;
        json_int_t p = json_integer_value(prio);
        if (!json_is_integer(prio) || p < -AC_NODE_POLICIES_PRIORITY_MAX || p > AC_NODE_POLICIES_PRIORITY_MAX)
            rc = ac_errmsg_set(&err, -AC_EINVAL, "a malformed policy action");
        else /* add and update check again; this call says which field is at fault */
            rc = ac_node_policies_check(name, d, rtype, cfg, (int)p, &field, &err);
        if (rc == 0 && strcmp(type, "policy_add") == 0)
            rc = ac_node_policies_add(db, name, d, rtype, cfg, (int)p, json_is_true(en), &id, &err);
        else if (rc == 0)
            rc = ac_node_policies_update(db, id, name, d, rtype, cfg, (int)p, json_is_true(en), &err);
        if (rc == 0)
            result = json_pack("{s:I, s:s}", "id", (json_int_t)id, "name", name);
        ok_status = strcmp(type, "policy_add") == 0 ? 201 : 200;
    } else if (strcmp(type, "policy_enable") == 0) {
        rc = ac_node_policies_enable(db, id, json_is_true(en), &err);
        if (rc == 0)
            result = json_pack("{s:I, s:b}", "id", (json_int_t)id, "enabled", json_is_true(en));
    } else {
        rc = ac_node_policies_remove(db, id, &err);
        if (rc == 0)
            result = json_pack("{s:I, s:b}", "id", (json_int_t)id, "removed", 1);
    }
    if (rc == -AC_EDB || rc == -AC_EDBDOWN) {
        fail_db(c, rc, &err);
    } else if (rc != 0) {
        c->status = rc == -AC_ENOENT ? 404 : 422;
        c->body = field_error(rc == -AC_ENOENT ? "no such policy rule" : err.msg, field);
    } else {
        c->status = approved ? 200 : ok_status;
        c->body = approved ? json_pack("{s:b, s:s, s:o}", "approved", 1, "type", type, "result", result) : result;
        ac_log_info("web", "policy_changed", "type=%s id=%lld approved=%s", type, (long long)id,
                    approved ? "yes" : "no");
        return;
    }
    if (approved)
        json_object_set_new(c->body, "approved", json_true());
}

void ac_web_policies_exec_approved(PGconn *db, ac_web_call_t *c, const json_t *action)
{
    apply(db, c, action, true);
}

/* The action stands: stored with a challenge while 2FA is on (never offered to the chat: the web layer runs it),
 * else run now. Takes a. */
static void gate_then_apply(PGconn *db, ac_web_call_t *c, json_t *a)
{
    if (!ac_web_twofa_gate(db, c, json_incref(a), false))
        apply(db, c, a, false);
    json_decref(a);
}

/* The rule's fields from the request body (c->in) as an action of `type`; enabled_now is the default for a body
 * without "enabled". The rule is checked here, so a refused rule never reaches a challenge. NULL with c filled (422
 * and the field) when a field has the wrong type or the rule is refused. */
static json_t *action_of_body(ac_web_call_t *c, const char *type, int64_t id, bool enabled_now)
{
    const char *k, *field = NULL;
    json_t *v, *in = c->in;
    ac_errmsg_t err = {{0}};
    json_object_foreach(in, k, v)
    {
        bool known = false;
        for (size_t i = 0; rule_keys[i] != NULL && !known; i++)
            known = strcmp(k, rule_keys[i]) == 0;
        if (!known) {
            ac_errmsg_set(&err, -AC_EINVAL, "unknown field \"%.64s\"", k);
            c->status = 422;
            c->body = field_error(err.msg, NULL);
            return NULL;
        }
    }
    json_t *name = json_object_get(in, "name"), *desc = json_object_get(in, "description");
    json_t *rtype = json_object_get(in, "rule_type"), *cfg = json_object_get(in, "config");
    json_t *prio = json_object_get(in, "priority"), *en = json_object_get(in, "enabled");
    char *cfg_text = NULL;
    if (json_is_object(cfg))
        cfg_text = json_dumps(cfg, JSON_COMPACT);
    else if (json_is_string(cfg) && strlen(json_string_value(cfg)) == json_string_length(cfg))
        cfg_text = ac_strdup(json_string_value(cfg));
    if (!json_is_string(name)) {
        field = "name";
        ac_errmsg_set(&err, -AC_EINVAL, "name: 1 to %d characters", AC_NODE_POLICIES_NAME_MAX);
    } else if (desc != NULL && !json_is_null(desc) && !json_is_string(desc)) {
        field = "description";
        ac_errmsg_set(&err, -AC_EINVAL, "description: a text or null");
    } else if (!json_is_string(rtype)) {
        field = "rule_type";
        ac_errmsg_set(&err, -AC_EINVAL,
                      "rule type must be rate_limit, time_window, chain_restriction or permission_override");
    } else if (cfg_text == NULL) {
        field = "config";
        ac_errmsg_set(&err, -AC_EINVAL, "config: must be a JSON object");
    } else if (prio != NULL && !json_is_null(prio) &&
               (!json_is_integer(prio) || json_integer_value(prio) < -AC_NODE_POLICIES_PRIORITY_MAX ||
                json_integer_value(prio) > AC_NODE_POLICIES_PRIORITY_MAX)) {
        field = "priority";
        ac_errmsg_set(&err, -AC_EINVAL, "priority: an integer from %d to %d", -AC_NODE_POLICIES_PRIORITY_MAX,
                      AC_NODE_POLICIES_PRIORITY_MAX);
    } else if (en != NULL && !json_is_null(en) && !json_is_boolean(en)) {
        field = "enabled";
        ac_errmsg_set(&err, -AC_EINVAL, "enabled: true or false");
    }
    const char *d = json_is_string(desc) && json_string_length(desc) > 0 ? json_string_value(desc) : NULL;
    int p = json_is_integer(prio) ? (int)json_integer_value(prio) : 0;
    if (field == NULL)
        ac_node_policies_check(json_string_value(name), d, json_string_value(rtype), cfg_text, p, &field, &err);
    if (field != NULL) {
        free(cfg_text);
        c->status = 422;
        c->body = field_error(err.msg, field);
        return NULL;
    }
    /* stored compact: the challenge's description shows the rule as it will be stored (jsonb keeps no layout) */
    json_t *parsed = json_loads(cfg_text, JSON_REJECT_DUPLICATES, NULL);
    char *compact = parsed != NULL ? json_dumps(parsed, JSON_COMPACT) : NULL;
    json_decref(parsed);
    free(cfg_text);
    if (compact == NULL) { /* checked above: cannot happen short of memory */
        c->status = 500;
        c->body = ac_web_error_body("could not read the config");
        return NULL;
    }
    json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:i, s:b}", "type", type, "name", json_string_value(name), "rule_type",
                          json_string_value(rtype), "config", compact, "priority", p, "enabled",
                          json_is_boolean(en) ? json_is_true(en) : enabled_now);
    free(compact);
    json_object_set_new(a, "description", d != NULL ? json_string(d) : json_null());
    if (id > 0)
        json_object_set_new(a, "id", json_integer((json_int_t)id));
    return a;
}

/* Rule c->id as it is now: OUT name (cap bytes), rule type and flag. False with c filled (404, or a database
 * error) when it cannot be read. */
static bool current_rule(PGconn *db, ac_web_call_t *c, char *name, size_t cap, char *rtype, size_t tcap, bool *enabled)
{
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", (long long)c->id);
    const char *p[] = {ids};
    PGresult *r;
    if (!ac_web_call_query(db, c,
                           "SELECT name, rule_type, coalesce(enabled, true) FROM auth_policies WHERE id = $1::bigint",
                           1, p, &r))
        return false;
    bool found = PQntuples(r) == 1;
    if (found) {
        snprintf(name, cap, "%s", PQgetvalue(r, 0, 0));
        snprintf(rtype, tcap, "%s", PQgetvalue(r, 0, 1));
        *enabled = PQgetvalue(r, 0, 2)[0] == 't';
    } else {
        c->status = 404;
        c->body = ac_web_error_body("no such policy rule");
    }
    PQclear(r);
    return found;
}

static void add_run(PGconn *db, ac_web_call_t *c)
{
    json_t *a = action_of_body(c, "policy_add", 0, true);
    if (a != NULL)
        gate_then_apply(db, c, a);
}

static void update_run(PGconn *db, ac_web_call_t *c)
{
    char name[NAME_BYTES], rtype[NAME_BYTES];
    bool enabled = true;
    if (!current_rule(db, c, name, sizeof(name), rtype, sizeof(rtype), &enabled))
        return;
    json_t *a = action_of_body(c, "policy_update", c->id, enabled);
    if (a != NULL)
        gate_then_apply(db, c, a);
}

/* enable, disable (c->limit: 1 enable, 0 disable) and remove (c->limit -1) */
static void flag_or_remove_run(PGconn *db, ac_web_call_t *c)
{
    char name[NAME_BYTES], rtype[NAME_BYTES];
    bool enabled = true;
    if (!current_rule(db, c, name, sizeof(name), rtype, sizeof(rtype), &enabled))
        return;
    json_t *a = json_pack("{s:s, s:I, s:s, s:s, s:b}", "type", c->limit < 0 ? "policy_remove" : "policy_enable", "id",
                          (json_int_t)c->id, "name", name, "rule_type", rtype, "enabled",
                          c->limit < 0 ? enabled : c->limit == 1);
    if (a == NULL) { /* a name written with SQL that is not UTF-8 */
        c->status = 500;
        c->body = ac_web_error_body("could not describe the rule");
        return;
    }
    gate_then_apply(db, c, a);
}

/* --- the list of rules ------------------------------------------------------------------------------------- */

static void list_run(PGconn *db, ac_web_call_t *c)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", RULES_MAX);
    const char *p[] = {lim};
    PGresult *r;
    if (!ac_web_call_query(
            db, c,
            "SELECT id, name, coalesce(description, ''), rule_type, config::text, "
            "coalesce(enabled, true), coalesce(priority, 0), " UTC_TEXT("inserted_at") ", " UTC_TEXT(
                "updated_at") " FROM auth_policies ORDER BY coalesce(priority, 0) DESC, id LIMIT $1::int",
            1, p, &r))
        return;
    json_t *rules = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        const char *cfg = PQgetvalue(r, i, 4);
        ac_policy_rule_t rule;
        ac_errmsg_t err = {{0}};
        /* a rule edited with SQL may not parse: the engine skips it, and the page says why */
        bool valid = ac_policy_rule_parse(PQgetvalue(r, i, 3), cfg, strlen(cfg), &rule, &err) == 0;
        json_t *config = json_loads(cfg, 0, NULL);
        json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:b, s:i, s:s, s:s, s:b}", "id",
                              (json_int_t)strtoll(PQgetvalue(r, i, 0), NULL, 10), "name", text(PQgetvalue(r, i, 1)),
                              "description", text(PQgetvalue(r, i, 2)), "rule_type", text(PQgetvalue(r, i, 3)),
                              "config", config != NULL ? config : json_object(), "enabled",
                              PQgetvalue(r, i, 5)[0] == 't', "priority", atoi(PQgetvalue(r, i, 6)), "inserted_at",
                              PQgetvalue(r, i, 7), "updated_at", PQgetvalue(r, i, 8), "valid", valid);
        if (!valid)
            json_object_set_new(o, "problem", json_string(err.msg));
        json_array_append_new(rules, o);
    }
    PQclear(r);
    json_t *types = json_array(), *perms = json_array();
    for (int t = 0; t < RULE_TYPES_N; t++)
        json_array_append_new(types, json_string(ac_policy_rule_type_name((ac_policy_rule_type_t)t)));
    for (int b = 0; b < AC_POLICY_PERM_COUNT; b++)
        json_array_append_new(perms, json_string(ac_policy_perm_name((ac_policy_perms_t)1 << b)));
    c->body = json_pack("{s:o, s:o, s:o, s:b}", "policies", rules, "rule_types", types, "permissions", perms,
                        "two_factor", ac_node_twofa_enabled(c->s->cfg.settings));
}

/* --- the audit log ----------------------------------------------------------------------------------------- */

static void audit_list_run(PGconn *db, ac_web_call_t *c)
{
    json_t *in = c->in;
    ac_node_audit_filter_t f = {
        .decision = str(in, "decision"),
        .caller = str(in, "caller"),
        .permission = str(in, "permission"),
        .from = (int64_t)json_integer_value(json_object_get(in, "from")),
        .to = (int64_t)json_integer_value(json_object_get(in, "to")),
        .before_id = (int64_t)json_integer_value(json_object_get(in, "before")),
        .limit = (int)c->limit,
    };
    PGresult *r = NULL;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_audit_list(db, &f, &r, &err);
    if (rc != 0) {
        fail_db(c, rc, &err);
        return;
    }
    bool more = PQntuples(r) > c->limit;
    json_t *rows = ac_web_rows_json(r);
    PQclear(r);
    if (more)
        json_array_remove(rows, json_array_size(rows) - 1);
    json_t *last = json_array_get(rows, json_array_size(rows) - 1);
    c->body = json_pack("{s:o, s:I, s:o}", "entries", rows, "limit", (json_int_t)c->limit, "next_before",
                        more && last != NULL ? json_incref(json_object_get(last, "id")) : json_null());
}

static void audit_verify_run(PGconn *db, ac_web_call_t *c)
{
    if (!c->s->audit_key_set) {
        c->status = 503;
        c->body = ac_web_error_body("this node has no audit key (SECRET_KEY_BASE): the chain cannot be checked");
        return;
    }
    ac_node_audit_report_t rep;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_audit_verify(db, c->s->audit_key, &rep, &err);
    if (rc != 0 && rc != -AC_ESTATE) {
        fail_db(c, rc, &err);
        return;
    }
    char at[32];
    time_t now = (time_t)ac_web_now();
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    c->body = json_pack("{s:b, s:I, s:I, s:I, s:s}", "ok", rc == 0, "rows", (json_int_t)rep.rows, "first_id",
                        (json_int_t)rep.first_id, "last_id", (json_int_t)rep.last_id, "checked_at", at);
    if (rc != 0) {
        json_object_set_new(c->body, "problem", json_string(rep.problem));
        json_object_set_new(c->body, "bad_id", rep.bad_id > 0 ? json_integer((json_int_t)rep.bad_id) : json_null());
        ac_log_warn("web", "audit_chain_broken", "problem=\"%s\" row=%lld", rep.problem, (long long)rep.bad_id);
    }
}

/* The audit filter from the query string into an object (c->in), or false with the request answered 400. */
static bool audit_filter(h2o_req_t *req, ac_web_call_t *c)
{
    static const char *const texts[] = {"decision", "caller", "permission", NULL};
    char v[2048];
    json_t *in = json_object();
    c->in = in;
    const char *bad = NULL, *why = NULL;
    for (size_t i = 0; texts[i] != NULL && bad == NULL; i++) {
        if (!ac_web_query_value(req, texts[i], v, sizeof(v)) || v[0] == '\0')
            continue;
        json_t *t = strlen(v) <= FILTER_MAX ? json_string(v) : NULL; /* NULL: too long, or not UTF-8 */
        if (t == NULL) {
            bad = texts[i];
            why = "at most 255 bytes of text";
        } else if (i == 0 && strcmp(v, "deny") != 0 && strcmp(v, "allow") != 0 && strcmp(v, "checkpoint") != 0) {
            json_decref(t);
            bad = texts[i];
            why = "deny, allow or checkpoint";
        } else {
            json_object_set_new(in, texts[i], t);
        }
    }
    static const char *const times[] = {"from", "to", NULL};
    for (size_t i = 0; times[i] != NULL && bad == NULL; i++) {
        int64_t ms = 0;
        if (!ac_web_query_value(req, times[i], v, sizeof(v)) || v[0] == '\0')
            continue;
        if (ac_policy_iso8601_ms(v, &ms) != 0 || ms < 1000) {
            bad = times[i];
            why = "an ISO 8601 time with a zone, e.g. 2026-12-31T23:00:00Z";
        } else {
            json_object_set_new(in, times[i], json_integer((json_int_t)(ms / 1000)));
        }
    }
    json_int_t from = json_integer_value(json_object_get(in, "from")),
               to = json_integer_value(json_object_get(in, "to"));
    if (bad == NULL && from > 0 && to > 0 && from > to) {
        bad = "to";
        why = "not before from";
    }
    if (bad == NULL && ac_web_query_value(req, "before", v, sizeof(v)) && v[0] != '\0') {
        char *end = NULL;
        long long b = strtoll(v, &end, 10);
        if (*end != '\0' || b <= 0) {
            bad = "before";
            why = "a row id (a positive integer)";
        } else {
            json_object_set_new(in, "before", json_integer((json_int_t)b));
        }
    }
    c->limit = AUDIT_PAGE;
    if (bad == NULL && ac_web_query_value(req, "limit", v, sizeof(v)) && v[0] != '\0') {
        char *end = NULL;
        long long n = strtoll(v, &end, 10);
        if (*end != '\0') {
            bad = "limit";
            why = "a number of rows";
        } else { /* bounded: a page is never larger than AC_NODE_AUDIT_PAGE_MAX */
            c->limit = n < 1 ? 1 : n > AC_NODE_AUDIT_PAGE_MAX ? AC_NODE_AUDIT_PAGE_MAX : n;
        }
    }
    if (bad != NULL) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%s: %s", bad, why);
        ac_web_respond_json(req, 400, field_error(msg, bad));
        return false;
    }
    return true;
}

/* --- dispatch ---------------------------------------------------------------------------------------------- */

/* The rule id in path after "/api/policies/" and what follows it, or 0. */
static int64_t rule_id(const char *path, const char **rest)
{
    const char *p = path + strlen("/api/policies/");
    char *end = NULL;
    if (*p < '1' || *p > '9')
        return 0;
    long long id = strtoll(p, &end, 10);
    if (end == p || (*end != '\0' && *end != '/') || end - p > 18)
        return 0;
    *rest = end;
    return id;
}

void ac_web_policies_api(ac_web_server_t *s, h2o_req_t *req, const char *path)
{
    bool get = ac_web_method_is(req, "GET") || ac_web_method_is(req, "HEAD");
    bool post = ac_web_method_is(req, "POST"), put = ac_web_method_is(req, "PUT");
    bool del = ac_web_method_is(req, "DELETE");
    void (*fn)(PGconn *, ac_web_call_t *) = NULL;
    bool needs_body = false;
    int64_t id = 0;
    int64_t op = 0;
    const char *rest = "";
    if (strcmp(path, "/api/policies") == 0 && get) {
        fn = list_run;
    } else if (strcmp(path, "/api/policies") == 0 && post) {
        fn = add_run, needs_body = true;
    } else if (strncmp(path, "/api/policies/", 14) == 0) {
        id = rule_id(path, &rest);
        if (id <= 0) {
            ac_web_error(req, 404, "no such policy rule");
            return;
        }
        if (rest[0] == '\0' && put)
            fn = update_run, needs_body = true;
        else if (rest[0] == '\0' && del)
            fn = flag_or_remove_run, op = -1;
        else if (strcmp(rest, "/enable") == 0 && post)
            fn = flag_or_remove_run, op = 1;
        else if (strcmp(rest, "/disable") == 0 && post)
            fn = flag_or_remove_run, op = 0;
    } else if (strcmp(path, "/api/audit") == 0 && get) {
        ac_web_call_t *c = ac_web_call_new(s, audit_list_run);
        if (!audit_filter(req, c)) {
            json_decref(c->in);
            free(c);
            return;
        }
        ac_web_call_defer(s, req, c);
        return;
    } else if (strcmp(path, "/api/audit/verify") == 0 && get) {
        fn = audit_verify_run;
    }
    if (fn == NULL) {
        ac_web_error(req, 404, "no such endpoint");
        return;
    }
    json_t *in = NULL;
    if (needs_body && (in = ac_web_call_body(req, 0, "the body must be a policy rule (JSON object)")) == NULL)
        return;
    ac_web_call_t *c = ac_web_call_new(s, fn);
    c->in = in;
    c->id = id;
    c->limit = op;
    ac_web_call_defer(s, req, c);
}
