/* node/wf_io.c - export and import of workflows (wf_io.h). */
#include "node/wf_io.h"

#include "node/db.h"
#include "node/wf_model.h"
#include "policy/alloc.h"
#include "policy/cron.h"
#include "policy/utf8.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_DEPTH_MAX 32
#define VARCHAR_MAX    255

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *col_str(PGresult *r, int i, int c)
{
    return PQgetisnull(r, i, c) ? json_null() : json_string(PQgetvalue(r, i, c));
}

static json_t *col_json(PGresult *r, int i, int c, const char *fallback)
{
    json_t *j = PQgetisnull(r, i, c) ? NULL : json_loads(PQgetvalue(r, i, c), JSON_DECODE_ANY, NULL);
    return j != NULL ? j : json_loads(fallback, 0, NULL);
}

int ac_node_wf_export(PGconn *c, const char *name, char **out, ac_errmsg_t *err)
{
    ac_node_wf_t *wf = NULL;
    int rc = ac_node_wf_load(c, 0, name, &wf, err);
    if (rc != 0)
        return rc;
    json_t *doc = json_object(), *w = json_object(), *steps = json_array(), *resources = json_array();
    json_object_set_new(w, "name", json_string(wf->name));
    json_object_set_new(w, "description", str_or_null(wf->description));
    json_object_set_new(w, "enabled", json_boolean(wf->enabled));
    json_object_set_new(w, "schedule", str_or_null(wf->schedule));
    json_object_set(w, "metadata", wf->metadata);
    json_object_set_new(w, "default_provider", str_or_null(wf->default_provider));
    json_object_set_new(w, "node", str_or_null(wf->node));
    for (size_t i = 0; i < wf->nsteps; i++) {
        const ac_node_wf_step_t *s = &wf->steps[i];
        json_t *j = json_object();
        json_object_set_new(j, "position", json_integer(s->position));
        json_object_set_new(j, "name", json_string(s->name));
        json_object_set_new(j, "skill", json_string(s->skill));
        json_object_set_new(j, "llm_tier", str_or_null(s->llm_tier));
        json_object_set_new(j, "llm_model", str_or_null(s->llm_model));
        json_object_set_new(j, "prompt_template", str_or_null(s->prompt_template));
        json_object_set(j, "config", s->config);
        json_object_set_new(j, "input_from", s->has_input_from ? json_integer(s->input_from) : json_null());
        json_object_set(j, "routes", s->routes);
        json_array_append_new(steps, j);
    }
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)wf->id);
    const char *p[] = {id};
    PGresult *r =
        PQexecParams(c,
                     "SELECT r.name, r.type, r.url, r.content, r.metadata, to_jsonb(r.tags), r.enabled, wr.role "
                     "FROM workflow_resources wr JOIN resources r ON r.id = wr.resource_id "
                     "WHERE wr.workflow_id = $1::bigint ORDER BY wr.id",
                     1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = ac_errmsg_set(err, -AC_EDB, "loading resources: %s", PQerrorMessage(c));
    } else {
        for (int i = 0; i < PQntuples(r); i++) {
            json_t *j = json_object();
            json_object_set_new(j, "name", col_str(r, i, 0));
            json_object_set_new(j, "type", col_str(r, i, 1));
            json_object_set_new(j, "url", col_str(r, i, 2));
            json_object_set_new(j, "content", col_str(r, i, 3));
            json_object_set_new(j, "metadata", col_json(r, i, 4, "{}"));
            json_object_set_new(j, "tags", col_json(r, i, 5, "[]"));
            json_object_set_new(j, "enabled", json_boolean(!PQgetisnull(r, i, 6) && PQgetvalue(r, i, 6)[0] == 't'));
            json_object_set_new(j, "role", col_str(r, i, 7));
            json_array_append_new(resources, j);
        }
    }
    PQclear(r);
    json_object_set_new(doc, "version", json_integer(1));
    json_object_set_new(doc, "workflow", w);
    json_object_set_new(doc, "steps", steps);
    json_object_set_new(doc, "resources", resources);
    if (rc == 0)
        *out = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    ac_node_wf_free(wf);
    return rc;
}

/* --- import --- */

static size_t depth(const json_t *j)
{
    size_t max = 0, d;
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach((json_t *)j, k, v)
        {
            if ((d = depth(v)) > max)
                max = d;
        }
        return max + 1;
    }
    if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            if ((d = depth(v)) > max)
                max = d;
        }
        return max + 1;
    }
    return 0;
}

/* The original's messages quote values the way Elixir's inspect/1 prints them: at most 64 bytes of it, cut at a
 * character boundary, so that the message stays valid UTF-8 (the admin UI's JSON error needs it). */
static void inspect(const json_t *v, char *buf, size_t cap)
{
    if (v == NULL || json_is_null(v)) {
        snprintf(buf, cap, "nil");
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *t = s != NULL ? s : "?";
    size_t max = cap > 64 ? 64 : cap - 1;
    snprintf(buf, cap, "%.*s", (int)ac_policy_utf8_fit(t, strlen(t), max), t);
    free(s);
}

/* An optional string field: absent or null -> NULL; a string of at most max bytes -> it; else an error. */
static int opt_str(json_t *obj, const char *key, size_t max, const char **out, ac_errmsg_t *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return ac_errmsg_set(err, -AC_EINVAL, "%s: is invalid", key);
    if (max > 0 && json_string_length(v) > max)
        return ac_errmsg_set(err, -AC_EINVAL, "%s: should be at most %zu character(s)", key, max);
    *out = json_string_value(v);
    return 0;
}

/* Routes are kept as the original keeps them; only the shape the executor relies on is required (a list of maps). */
static int check_routes(json_t *routes, ac_errmsg_t *err)
{
    size_t i;
    json_t *r;
    json_array_foreach(routes, i, r)
    {
        if (!json_is_object(r))
            return ac_errmsg_set(err, -AC_EINVAL, "routes: is invalid");
    }
    return 0;
}

/* Validates one step object; the step number is 1-based for messages. */
static int check_step(json_t *s, size_t n, ac_errmsg_t *err)
{
    ac_errmsg_t why = {{0}};
    const char *str;
    int rc = 0;
    if (!json_is_object(s))
        return ac_errmsg_set(err, -AC_EINVAL, "Step %zu: is invalid", n);
    json_t *pos = json_object_get(s, "position");
    if (pos == NULL || json_is_null(pos))
        rc = ac_errmsg_set(&why, -AC_EINVAL, "position: can't be blank");
    else if (!json_is_integer(pos) || json_integer_value(pos) < INT32_MIN || json_integer_value(pos) > INT32_MAX)
        rc = ac_errmsg_set(&why, -AC_EINVAL, "position: is invalid");
    if (rc == 0 && (rc = opt_str(s, "name", VARCHAR_MAX, &str, &why)) == 0 && (str == NULL || str[0] == '\0'))
        rc = ac_errmsg_set(&why, -AC_EINVAL, "name: can't be blank");
    if (rc == 0 && (rc = opt_str(s, "skill", VARCHAR_MAX, &str, &why)) == 0 && (str == NULL || str[0] == '\0'))
        rc = ac_errmsg_set(&why, -AC_EINVAL, "skill: can't be blank");
    if (rc == 0 && (rc = opt_str(s, "llm_tier", VARCHAR_MAX, &str, &why)) == 0 && str != NULL &&
        strcmp(str, "light") != 0 && strcmp(str, "medium") != 0 && strcmp(str, "heavy") != 0 &&
        strcmp(str, "local") != 0)
        rc = ac_errmsg_set(&why, -AC_EINVAL, "llm_tier: must be one of: light, medium, heavy, local");
    if (rc == 0)
        rc = opt_str(s, "llm_model", VARCHAR_MAX, &str, &why);
    if (rc == 0)
        rc = opt_str(s, "prompt_template", 0, &str, &why);
    json_t *v = json_object_get(s, "config");
    if (rc == 0 && v != NULL && !json_is_null(v) && !json_is_object(v))
        rc = ac_errmsg_set(&why, -AC_EINVAL, "config: is invalid");
    v = json_object_get(s, "input_from");
    if (rc == 0 && v != NULL && !json_is_null(v) &&
        (!json_is_integer(v) || json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX))
        rc = ac_errmsg_set(&why, -AC_EINVAL, "input_from: is invalid");
    v = json_object_get(s, "routes");
    if (rc == 0 && v != NULL && !json_is_null(v) && !json_is_array(v))
        rc = ac_errmsg_set(&why, -AC_EINVAL, "routes: is invalid");
    if (rc == 0 && json_is_array(v))
        rc = check_routes(v, &why);
    if (rc != 0)
        return ac_errmsg_set(err, rc, "Step %zu: %s", n, why.msg);
    return 0;
}

/* Validates the document; on success *wf and *steps point into it. */
static int check_doc(json_t *doc, json_t **wf, json_t **steps, ac_errmsg_t *err)
{
    if (!json_is_object(doc))
        return ac_errmsg_set(err, -AC_EINVAL, "Invalid format: expected a JSON object");
    json_t *v = json_object_get(doc, "version");
    if (!json_is_integer(v) || json_integer_value(v) != 1) {
        char got[80];
        inspect(v, got, sizeof(got));
        return ac_errmsg_set(err, -AC_EINVAL, "Unsupported or missing version (expected 1, got %s)", got);
    }
    *wf = json_object_get(doc, "workflow");
    if (!json_is_object(*wf))
        return ac_errmsg_set(err, -AC_EINVAL, "Missing or invalid \"workflow\" field");
    json_t *name = json_object_get(*wf, "name");
    if (!json_is_string(name) || json_string_length(name) == 0)
        return ac_errmsg_set(err, -AC_EINVAL, "Workflow name is required");
    if (json_string_length(name) > VARCHAR_MAX - 20)
        return ac_errmsg_set(err, -AC_EINVAL, "name: should be at most %d character(s)", VARCHAR_MAX - 20);
    *steps = json_object_get(doc, "steps");
    if (!json_is_array(*steps))
        return ac_errmsg_set(err, -AC_EINVAL, "Missing or invalid \"steps\" field");
    if (json_array_size(*steps) > AC_NODE_WF_IMPORT_MAX_STEPS)
        return ac_errmsg_set(err, -AC_EINVAL, "Too many steps (at most %d)", AC_NODE_WF_IMPORT_MAX_STEPS);
    const char *str;
    int rc;
    if ((rc = opt_str(*wf, "description", VARCHAR_MAX, &str, err)) != 0 ||
        (rc = opt_str(*wf, "default_provider", VARCHAR_MAX, &str, err)) != 0 ||
        (rc = opt_str(*wf, "node", VARCHAR_MAX, &str, err)) != 0 ||
        (rc = opt_str(*wf, "schedule", VARCHAR_MAX, &str, err)) != 0)
        return rc;
    if (str != NULL && str[0] != '\0') {
        ac_policy_cron_t cron;
        ac_errmsg_t why = {{0}};
        if (ac_policy_cron_parse(str, strlen(str), &cron, &why) != 0)
            return ac_errmsg_set(err, -AC_EINVAL, "schedule: %s", why.msg);
    }
    v = json_object_get(*wf, "metadata");
    if (v != NULL && !json_is_null(v) && !json_is_object(v))
        return ac_errmsg_set(err, -AC_EINVAL, "metadata: is invalid");
    json_t *r2 = json_object_get(v, "requires_2fa"); /* one meaning everywhere: only JSON true guards */
    if (r2 != NULL && !json_is_boolean(r2) && !json_is_null(r2))
        return ac_errmsg_set(err, -AC_EINVAL, "metadata.requires_2fa: must be true or false");
    size_t i;
    json_t *s;
    json_array_foreach(*steps, i, s)
    {
        if ((rc = check_step(s, i + 1, err)) != 0)
            return rc;
    }
    json_t *res = json_object_get(doc, "resources");
    if (res != NULL && !json_is_null(res) && !json_is_array(res))
        return ac_errmsg_set(err, -AC_EINVAL, "Missing or invalid \"resources\" field");
    return 0;
}

static int exec_p(PGconn *c, const char *sql, int n, const char *const *p, PGresult **out, ac_errmsg_t *err)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        int rc = ac_errmsg_set(err, PQstatus(c) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN, "%s",
                               m != NULL ? m : PQerrorMessage(c));
        PQclear(r);
        return rc;
    }
    if (out != NULL)
        *out = r;
    else
        PQclear(r);
    return 0;
}

static char *dump_or(json_t *v, const char *fallback)
{
    return (v == NULL || json_is_null(v)) ? ac_strdup(fallback) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Picks "<name>" or "<name> (imported N)" with the smallest free N. */
static int free_name(PGconn *c, const char *name, char *out, size_t cap, ac_errmsg_t *err)
{
    snprintf(out, cap, "%s", name);
    for (int n = 1; n < 10000; n++) {
        PGresult *r;
        const char *p[] = {out};
        int rc = exec_p(c, "SELECT 1 FROM workflows WHERE name = $1", 1, p, &r, err);
        if (rc != 0)
            return rc;
        bool taken = PQntuples(r) > 0;
        PQclear(r);
        if (!taken)
            return 0;
        snprintf(out, cap, "%s (imported %d)", name, n);
    }
    return ac_errmsg_set(err, -AC_EEXIST, "no free name for %s", name);
}

static const char *json_str_or_null(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void link_resources(PGconn *c, json_t *resources, const char *wf_id, json_t *warnings)
{
    size_t i;
    json_t *res;
    json_array_foreach(resources, i, res)
    {
        const char *name = json_str_or_null(res, "name");
        if (!json_is_object(res) || name == NULL || name[0] == '\0') {
            json_array_append_new(warnings, json_string("Resource without a name skipped"));
            continue;
        }
        const char *url = json_str_or_null(res, "url");
        const char *role = json_str_or_null(res, "role");
        PGresult *r = NULL;
        ac_errmsg_t e = {{0}};
        const char *p[] = {name, url};
        PQclear(PQexec(c, "SAVEPOINT resource"));
        int rc = exec_p(c,
                        url != NULL ? "SELECT id FROM resources WHERE name = $1 AND url = $2 LIMIT 1"
                                    : "SELECT id FROM resources WHERE name = $1 AND url IS NULL LIMIT 1",
                        url != NULL ? 2 : 1, p, &r, &e);
        char id[32] = "";
        if (rc == 0 && PQntuples(r) > 0)
            snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        r = NULL;
        if (rc == 0 && id[0] == '\0') {
            /* tags: a list of at most 100 strings of at most 255 characters, passed as JSON (no literal building) */
            json_t *tags = json_object_get(res, "tags");
            bool tags_ok = tags == NULL || json_is_null(tags) || (json_is_array(tags) && json_array_size(tags) <= 100);
            size_t k;
            json_t *t;
            json_array_foreach(tags, k, t)
            {
                tags_ok = tags_ok && json_is_string(t) && json_string_length(t) <= 255;
            }
            char *tagjson = tags_ok ? dump_or(tags, "[]") : NULL;
            char *meta = dump_or(json_object_get(res, "metadata"), "{}");
            json_t *en = json_object_get(res, "enabled");
            const char *cp[] = {
                name,    json_str_or_null(res, "type"),       url, json_str_or_null(res, "content"), meta,
                tagjson, json_is_false(en) ? "false" : "true"};
            if (!tags_ok)
                rc = ac_errmsg_set(&e, -AC_EINVAL, "tags: is invalid");
            else
                rc = exec_p(c,
                            "INSERT INTO resources (name, type, url, content, metadata, tags, enabled) "
                            "VALUES ($1, $2, $3, $4, $5::jsonb, "
                            "ARRAY(SELECT jsonb_array_elements_text($6::jsonb))::varchar[], $7::boolean) RETURNING id",
                            7, cp, &r, &e);
            free(meta);
            free(tagjson);
            if (rc == 0) {
                snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
                char w[512];
                snprintf(w, sizeof(w), "Resource '%s' created", name);
                json_array_append_new(warnings, json_string(w));
            }
            PQclear(r);
        }
        if (rc == 0) {
            const char *lp[] = {wf_id, id, role != NULL ? role : "input"};
            rc = exec_p(c,
                        "INSERT INTO workflow_resources (workflow_id, resource_id, role) "
                        "VALUES ($1::bigint, $2::bigint, $3) ON CONFLICT DO NOTHING",
                        3, lp, NULL, &e);
        }
        if (rc != 0) {
            PQclear(PQexec(c, "ROLLBACK TO SAVEPOINT resource"));
            char w[700];
            snprintf(w, sizeof(w), "Resource '%s' failed to create: %s", name, e.msg);
            json_array_append_new(warnings, json_string(w));
        } else {
            PQclear(PQexec(c, "RELEASE SAVEPOINT resource"));
        }
    }
}

/* Parses and validates a workflow document (what = how an error names it). OUT: *doc (the caller releases it; *wf
 * and *steps point into it). Nothing to release on error. */
static int parse_doc(const char *text, size_t len, const char *what, json_t **doc, json_t **wf, json_t **steps,
                     ac_errmsg_t *err)
{
    *doc = *wf = *steps = NULL;
    if (len > AC_NODE_WF_IMPORT_MAX_BYTES)
        return ac_errmsg_set(err, -AC_EINVAL, "%s is larger than %d bytes", what, AC_NODE_WF_IMPORT_MAX_BYTES);
    json_error_t je;
    json_t *d = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (d == NULL) {
        ac_policy_utf8_or_ascii(je.text, strlen(je.text)); /* jansson quotes the bytes near the error as they came */
        return ac_errmsg_set(err, -AC_EINVAL, "Invalid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
    }
    int rc = depth(d) > JSON_DEPTH_MAX
                 ? ac_errmsg_set(err, -AC_EINVAL, "Invalid format: nested deeper than %d levels", JSON_DEPTH_MAX)
                 : check_doc(d, wf, steps, err);
    if (rc != 0) {
        json_decref(d);
        return rc;
    }
    *doc = d;
    return 0;
}

int ac_node_wf_import_check(const char *text, size_t len, ac_errmsg_t *err)
{
    json_t *doc, *wf, *steps;
    int rc = parse_doc(text, len, "Import file", &doc, &wf, &steps, err);
    json_decref(doc);
    return rc;
}

/* Inserts the (validated) steps of a workflow. */
static int insert_steps(PGconn *c, const char *wid, json_t *steps, ac_errmsg_t *err)
{
    int rc;
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s)
    {
        char pos[16], from[16];
        snprintf(pos, sizeof(pos), "%lld", (long long)json_integer_value(json_object_get(s, "position")));
        json_t *in = json_object_get(s, "input_from");
        snprintf(from, sizeof(from), "%lld", (long long)json_integer_value(in));
        char *config = dump_or(json_object_get(s, "config"), "{}");
        char *routes = dump_or(json_object_get(s, "routes"), "[]");
        const char *sp[] = {wid,
                            pos,
                            json_str_or_null(s, "name"),
                            json_str_or_null(s, "skill"),
                            json_str_or_null(s, "llm_tier"),
                            json_str_or_null(s, "llm_model"),
                            json_str_or_null(s, "prompt_template"),
                            config,
                            json_is_integer(in) ? from : NULL,
                            routes};
        ac_errmsg_t why = {{0}};
        rc = exec_p(c,
                    "INSERT INTO workflow_steps (workflow_id, position, name, skill, llm_tier, llm_model, "
                    "prompt_template, config, input_from, routes) VALUES ($1::bigint, $2::integer, $3, $4, $5, $6, "
                    "$7, $8::jsonb, $9::integer, $10::jsonb)",
                    10, sp, NULL, &why);
        free(config);
        free(routes);
        if (rc != 0) {
            rc = ac_errmsg_set(err, -AC_EINVAL, "Step %zu: %s", i + 1, why.msg);
            return rc;
        }
    }
    return 0;
}

int ac_node_wf_import(PGconn *c, const char *text, size_t len, ac_node_wf_import_result_t *res, ac_errmsg_t *err)
{
    memset(res, 0, sizeof(*res));
    json_t *doc, *wf, *steps;
    int rc = parse_doc(text, len, "Import file", &doc, &wf, &steps, err);
    if (rc != 0)
        return rc;

    if ((rc = ac_node_db_exec(c, "BEGIN", "import", err)) != 0)
        goto Exit;
    if ((rc = free_name(c, json_string_value(json_object_get(wf, "name")), res->name, sizeof(res->name), err)) != 0)
        goto Rollback;
    char *meta = dump_or(json_object_get(wf, "metadata"), "{}");
    const char *sched = json_str_or_null(wf, "schedule");
    const char *wp[] = {res->name, json_str_or_null(wf, "description"),      sched != NULL && sched[0] ? sched : NULL,
                        meta,      json_str_or_null(wf, "default_provider"), json_str_or_null(wf, "node")};
    PGresult *r = NULL;
    rc = exec_p(c,
                "INSERT INTO workflows (name, description, enabled, schedule, metadata, default_provider, node) "
                "VALUES ($1, $2, false, $3, $4::jsonb, $5, $6) RETURNING id",
                6, wp, &r, err);
    free(meta);
    if (rc != 0)
        goto Rollback;
    char wid[32];
    snprintf(wid, sizeof(wid), "%s", PQgetvalue(r, 0, 0));
    res->id = strtoll(wid, NULL, 10);
    PQclear(r);

    if ((rc = insert_steps(c, wid, steps, err)) != 0)
        goto Rollback;
    res->warnings = json_array();
    json_t *resources = json_object_get(doc, "resources");
    if (json_is_array(resources))
        link_resources(c, resources, wid, res->warnings);
    if ((rc = ac_node_db_exec(c, "COMMIT", "import", err)) != 0)
        goto Rollback;
    json_decref(doc);
    return 0;
Rollback:
    PQclear(PQexec(c, "ROLLBACK"));
    json_decref(res->warnings);
    res->warnings = NULL;
    res->id = 0;
Exit:
    json_decref(doc);
    return rc;
}

int ac_node_wf_replace(PGconn *c, const char *name, const char *text, size_t len, int64_t *id, ac_errmsg_t *err)
{
    json_t *doc, *wf, *steps;
    PGresult *r = NULL;
    int rc = parse_doc(text, len, "Workflow", &doc, &wf, &steps, err);
    if (rc != 0)
        return rc;
    if ((rc = ac_node_db_exec(c, "BEGIN", "replace", err)) != 0)
        goto Exit;
    const char *np[] = {name};
    if ((rc = exec_p(c, "SELECT id FROM workflows WHERE name = $1 FOR UPDATE", 1, np, &r, err)) != 0)
        goto Rollback;
    if (PQntuples(r) == 0) {
        rc = ac_errmsg_set(err, -AC_ENOENT, "no workflow named %s", name);
        goto Rollback;
    }
    char wid[32];
    snprintf(wid, sizeof(wid), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    const char *new_name = json_string_value(json_object_get(wf, "name"));
    if (strcmp(new_name, name) != 0) {
        const char *tp[] = {new_name};
        if ((rc = exec_p(c, "SELECT 1 FROM workflows WHERE name = $1", 1, tp, &r, err)) != 0)
            goto Rollback;
        if (PQntuples(r) > 0) {
            rc = ac_errmsg_set(err, -AC_EEXIST, "a workflow named %s exists already", new_name);
            goto Rollback;
        }
        PQclear(r);
        r = NULL;
    }
    char *meta = dump_or(json_object_get(wf, "metadata"), "{}");
    const char *sched = json_str_or_null(wf, "schedule");
    const char *wp[] = {wid,
                        new_name,
                        json_str_or_null(wf, "description"),
                        sched != NULL && sched[0] ? sched : NULL,
                        meta,
                        json_str_or_null(wf, "default_provider"),
                        json_str_or_null(wf, "node")};
    rc = exec_p(c,
                "UPDATE workflows SET name = $2, description = $3, schedule = $4, metadata = $5::jsonb, "
                "default_provider = $6, node = $7, updated_at = now() AT TIME ZONE 'utc' WHERE id = $1::bigint",
                7, wp, NULL, err);
    free(meta);
    if (rc != 0)
        goto Rollback;
    const char *dp[] = {wid};
    if ((rc = exec_p(c, "DELETE FROM workflow_steps WHERE workflow_id = $1::bigint", 1, dp, NULL, err)) != 0 ||
        (rc = insert_steps(c, wid, steps, err)) != 0 || (rc = ac_node_db_exec(c, "COMMIT", "replace", err)) != 0)
        goto Rollback;
    if (id != NULL)
        *id = strtoll(wid, NULL, 10);
    json_decref(doc);
    return 0;
Rollback:
    PQclear(r);
    PQclear(PQexec(c, "ROLLBACK"));
Exit:
    json_decref(doc);
    return rc;
}
