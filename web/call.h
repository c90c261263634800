/* web/call.h - an API call whose work runs on a web database worker (jobs.h): a handler makes a call, defers it,
 * and its function fills the status and JSON body on the worker; the loop answers with them. Shared by the JSON
 * API (api.c) and the 2FA endpoints (twofa.c). */
#ifndef AC_WEB_CALL_H
#define AC_WEB_CALL_H

#include "web/internal.h"

#include <jansson.h>
#include <libpq-fe.h>

#define AC_WEB_NAME_MAX 255

typedef struct ac_web_call ac_web_call_t;
struct ac_web_call {
    ac_web_server_t *s;
    void (*fn)(PGconn *db, ac_web_call_t *c);
    int status;
    json_t *body;
    char name[AC_WEB_NAME_MAX + 1]; /* a workflow name or setting key from the path */
    int64_t id;
    int64_t limit;
    json_t *in; /* the request's JSON body, when it has one */
};

json_t *ac_web_error_body(const char *msg);
ac_web_call_t *ac_web_call_new(ac_web_server_t *s, void (*fn)(PGconn *, ac_web_call_t *));
/* Runs c->fn on a database worker, then answers req with c->status and c->body and frees c. */
void ac_web_call_defer(ac_web_server_t *s, h2o_req_t *req, ac_web_call_t *c);
/* The request's body as a JSON object (duplicate keys refused; flags adds jansson decoding flags such as
 * JSON_ALLOW_NUL). NULL when it is not one: then the request was answered 400 with `refusal`. */
json_t *ac_web_call_body(h2o_req_t *req, size_t flags, const char *refusal);
/* The two halves of a deferred call, for handlers that defer with their own done or run function
 * (ac_web_jobs_defer): the run calls c->fn (503 when the worker has no connection); the done answers and frees. */
void ac_web_call_run(PGconn *db, void *arg);
void ac_web_call_done(h2o_req_t *req, void *arg);
/* Runs a query; on failure sets 500/503 with a sentence (never the server's message) and returns false. */
bool ac_web_call_query(PGconn *db, ac_web_call_t *c, const char *sql, int n, const char *const *params, PGresult **out);
/* The result of a query as a JSON array of objects, columns by name; a column named *_json is parsed. */
json_t *ac_web_rows_json(PGresult *r);

#endif
