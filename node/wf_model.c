/* node/wf_model.c - loading workflows (wf_model.h). */
#include "node/wf_model.h"

#include "policy/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : ac_strdup(PQgetvalue(r, row, col));
}

/* Parses a jsonb column; falls back to `fallback` ("{}" or "[]") when it is NULL or does not parse. */
static json_t *json_col(PGresult *r, int row, int col, const char *fallback)
{
    json_t *j = NULL;
    if (!PQgetisnull(r, row, col))
        j = json_loads(PQgetvalue(r, row, col), JSON_DECODE_ANY, NULL);
    if (j == NULL)
        j = json_loads(fallback, 0, NULL);
    return j;
}

void ac_node_wf_free(ac_node_wf_t *wf)
{
    if (wf == NULL)
        return;
    for (size_t i = 0; i < wf->nsteps; i++) {
        ac_node_wf_step_t *s = &wf->steps[i];
        free(s->name);
        free(s->skill);
        free(s->llm_tier);
        free(s->llm_model);
        free(s->prompt_template);
        json_decref(s->config);
        json_decref(s->routes);
    }
    free(wf->steps);
    free(wf->name);
    free(wf->description);
    free(wf->schedule);
    json_decref(wf->metadata);
    free(wf->default_provider);
    free(wf->node);
    free(wf);
}

int ac_node_wf_load(PGconn *c, int64_t id, const char *name, ac_node_wf_t **out, ac_errmsg_t *err)
{
    char idbuf[32];
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
    const char *p[] = {name != NULL ? name : idbuf};
    PGresult *r = PQexecParams(c,
                               name != NULL ? "SELECT id, name, description, enabled, schedule, metadata, "
                                              "default_provider, node FROM workflows WHERE name = $1"
                                            : "SELECT id, name, description, enabled, schedule, metadata, "
                                              "default_provider, node FROM workflows WHERE id = $1::bigint",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = ac_errmsg_set(err, PQstatus(c) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN, "loading workflow: %s",
                               PQerrorMessage(c));
        PQclear(r);
        return rc;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ac_errmsg_set(err, -AC_ENOENT, "no workflow %s", p[0]);
    }
    ac_node_wf_t *wf = ac_calloc(1, sizeof(*wf));
    wf->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    wf->name = ac_strdup(PQgetvalue(r, 0, 1));
    wf->description = dup_or_null(r, 0, 2);
    wf->enabled = !PQgetisnull(r, 0, 3) && strcmp(PQgetvalue(r, 0, 3), "t") == 0;
    wf->schedule = dup_or_null(r, 0, 4);
    wf->metadata = json_col(r, 0, 5, "{}");
    if (!json_is_object(wf->metadata)) {
        json_decref(wf->metadata);
        wf->metadata = json_object();
    }
    wf->default_provider = dup_or_null(r, 0, 6);
    wf->node = dup_or_null(r, 0, 7);
    PQclear(r);

    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)wf->id);
    const char *p2[] = {idbuf};
    r = PQexecParams(
        c,
        "SELECT id, position, name, skill, llm_tier, llm_model, prompt_template, config, input_from, routes "
        "FROM workflow_steps WHERE workflow_id = $1::bigint ORDER BY position, id",
        1, NULL, p2, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = ac_errmsg_set(err, -AC_EDB, "loading steps: %s", PQerrorMessage(c));
        PQclear(r);
        ac_node_wf_free(wf);
        return rc;
    }
    int n = PQntuples(r);
    wf->steps = ac_calloc((size_t)(n ? n : 1), sizeof(*wf->steps));
    wf->nsteps = (size_t)n;
    for (int i = 0; i < n; i++) {
        ac_node_wf_step_t *s = &wf->steps[i];
        s->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        s->position = atoi(PQgetvalue(r, i, 1));
        s->name = ac_strdup(PQgetvalue(r, i, 2));
        s->skill = ac_strdup(PQgetvalue(r, i, 3));
        s->llm_tier = dup_or_null(r, i, 4);
        s->llm_model = dup_or_null(r, i, 5);
        s->prompt_template = dup_or_null(r, i, 6);
        s->config = json_col(r, i, 7, "{}");
        if (!json_is_object(s->config)) {
            json_decref(s->config);
            s->config = json_object();
        }
        s->has_input_from = !PQgetisnull(r, i, 8);
        s->input_from = s->has_input_from ? atoi(PQgetvalue(r, i, 8)) : 0;
        s->routes = json_col(r, i, 9, "[]");
        if (!json_is_array(s->routes)) {
            json_decref(s->routes);
            s->routes = json_array();
        }
    }
    PQclear(r);
    *out = wf;
    return 0;
}

bool ac_node_wf_requires_2fa(const ac_node_wf_t *wf)
{
    return json_is_true(json_object_get(wf->metadata, "requires_2fa"));
}
