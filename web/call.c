/* web/call.c - API calls on the web database workers (call.h). */
#include "web/call.h"

#include "node/log.h"
#include "policy/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *ac_web_error_body(const char *msg)
{
    return json_pack("{s:s}", "error", msg);
}

void ac_web_call_run(PGconn *db, void *arg)
{
    ac_web_call_t *c = arg;
    if (db == NULL) {
        c->status = 503;
        c->body = ac_web_error_body("database unreachable");
        return;
    }
    c->fn(db, c);
}

void ac_web_call_done(h2o_req_t *req, void *arg)
{
    ac_web_call_t *c = arg;
    if (req != NULL)
        ac_web_respond_json(req, c->status, c->body);
    else
        json_decref(c->body);
    json_decref(c->in);
    free(c);
}

ac_web_call_t *ac_web_call_new(ac_web_server_t *s, void (*fn)(PGconn *, ac_web_call_t *))
{
    ac_web_call_t *c = ac_calloc(1, sizeof(*c));
    c->s = s;
    c->fn = fn;
    c->status = 200;
    return c;
}

void ac_web_call_defer(ac_web_server_t *s, h2o_req_t *req, ac_web_call_t *c)
{
    ac_web_jobs_defer(s->jobs, req, ac_web_call_run, ac_web_call_done, c);
}

json_t *ac_web_rows_json(PGresult *r)
{
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = json_object();
        for (int k = 0; k < PQnfields(r); k++) {
            const char *name = PQfname(r, k);
            size_t n = strlen(name);
            json_t *v;
            if (PQgetisnull(r, i, k))
                v = json_null();
            else if (n > 5 && strcmp(name + n - 5, "_json") == 0)
                v = json_loads(PQgetvalue(r, i, k), 0, NULL);
            else if (PQftype(r, k) == 20 || PQftype(r, k) == 23) /* int8, int4 */
                v = json_integer(strtoll(PQgetvalue(r, i, k), NULL, 10));
            else if (PQftype(r, k) == 16) /* bool */
                v = json_boolean(PQgetvalue(r, i, k)[0] == 't');
            else
                v = json_string(PQgetvalue(r, i, k));
            char key[64];
            snprintf(key, sizeof(key), "%.*s", (int)(n > 5 && strcmp(name + n - 5, "_json") == 0 ? n - 5 : n), name);
            json_object_set_new(o, key, v != NULL ? v : json_null());
        }
        json_array_append_new(a, o);
    }
    return a;
}

bool ac_web_call_query(PGconn *db, ac_web_call_t *c, const char *sql, int n, const char *const *params, PGresult **out)
{
    *out = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(*out) == PGRES_TUPLES_OK || PQresultStatus(*out) == PGRES_COMMAND_OK)
        return true;
    ac_log_warn("web", "query_failed", "error=%s", PQerrorMessage(db));
    c->status = PQstatus(db) == CONNECTION_OK ? 500 : 503;
    c->body = ac_web_error_body(PQstatus(db) == CONNECTION_OK ? "database error" : "database unreachable");
    PQclear(*out);
    *out = NULL;
    return false;
}

json_t *ac_web_call_body(h2o_req_t *req, size_t flags, const char *refusal)
{
    json_t *in = NULL;
    if (req->entity.base != NULL && req->entity.len > 0)
        in = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES | flags, NULL);
    if (!json_is_object(in)) {
        json_decref(in);
        ac_web_error(req, 400, refusal);
        return NULL;
    }
    return in;
}
