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

ac_node_wf_t *ac_node_wf_retain(ac_node_wf_t *wf)
{
    __atomic_add_fetch(&wf->extra_refs, 1, __ATOMIC_RELAXED);
    return wf;
}

void ac_node_wf_free(ac_node_wf_t *wf)
{
    if (wf == NULL || __atomic_sub_fetch(&wf->extra_refs, 1, __ATOMIC_ACQ_REL) >= 0)
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

static char *jstr_or_null(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? ac_strdup(json_string_value(v)) : NULL;
}

/* One round trip: the workflow row and its steps (as a JSON array, ordered by position). */
#define LOAD_SQL(WHERE)                                                                                                \
    "SELECT w.id, w.name, w.description, w.enabled, w.schedule, w.metadata, w.default_provider, w.node, "              \
    "(SELECT coalesce(json_agg(json_build_object('id', s.id, 'position', s.position, 'name', s.name, 'skill', "        \
    "s.skill, 'llm_tier', s.llm_tier, 'llm_model', s.llm_model, 'prompt_template', s.prompt_template, 'config', "      \
    "s.config, 'input_from', s.input_from, 'routes', s.routes) ORDER BY s.position, s.id), '[]'::json) "               \
    "FROM workflow_steps s WHERE s.workflow_id = w.id) FROM workflows w WHERE " WHERE

int ac_node_wf_load(PGconn *c, int64_t id, const char *name, ac_node_wf_t **out, ac_errmsg_t *err)
{
    char idbuf[32];
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
    const char *p[] = {name != NULL ? name : idbuf};
    PGresult *r = PQexecParams(c, name != NULL ? LOAD_SQL("w.name = $1") : LOAD_SQL("w.id = $1::bigint"), 1, NULL, p,
                               NULL, NULL, 0);
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
    json_t *steps = json_col(r, 0, 8, "[]");
    PQclear(r);
    size_t n = json_is_array(steps) ? json_array_size(steps) : 0;
    wf->steps = ac_calloc(n ? n : 1, sizeof(*wf->steps));
    wf->nsteps = n;
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(steps, i);
        ac_node_wf_step_t *st = &wf->steps[i];
        st->id = json_integer_value(json_object_get(j, "id"));
        st->position = (int)json_integer_value(json_object_get(j, "position"));
        st->name = jstr_or_null(j, "name");
        st->skill = jstr_or_null(j, "skill");
        if (st->name == NULL)
            st->name = ac_strdup("");
        if (st->skill == NULL)
            st->skill = ac_strdup("");
        st->llm_tier = jstr_or_null(j, "llm_tier");
        st->llm_model = jstr_or_null(j, "llm_model");
        st->prompt_template = jstr_or_null(j, "prompt_template");
        json_t *cfg = json_object_get(j, "config");
        st->config = json_is_object(cfg) ? json_incref(cfg) : json_object();
        json_t *in = json_object_get(j, "input_from");
        st->has_input_from = json_is_integer(in);
        st->input_from = st->has_input_from ? (int)json_integer_value(in) : 0;
        json_t *routes = json_object_get(j, "routes");
        st->routes = json_is_array(routes) ? json_incref(routes) : json_array();
    }
    json_decref(steps);
    *out = wf;
    return 0;
}

bool ac_node_wf_requires_2fa(const ac_node_wf_t *wf)
{
    return json_is_true(json_object_get(wf->metadata, "requires_2fa"));
}
