/* node/wf_model.h - a workflow as the executor and the import/export code see it, loaded from PostgreSQL.
 *
 * Steps are ordered by position. JSON columns (metadata, config, routes) are jansson values owned by the struct. */
#ifndef AC_NODE_WF_MODEL_H
#define AC_NODE_WF_MODEL_H

#include "policy/error.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ac_node_wf_step {
    int64_t id;
    int position;
    char *name;
    char *skill;
    char *llm_tier;        /* may be NULL */
    char *llm_model;       /* may be NULL */
    char *prompt_template; /* may be NULL */
    json_t *config;        /* object */
    bool has_input_from;
    int input_from;
    json_t *routes; /* array of {"branch": str, "goto": int | "end"} */
} ac_node_wf_step_t;

typedef struct ac_node_wf {
    int64_t id;
    char *name;
    char *description; /* may be NULL */
    bool enabled;
    char *schedule;         /* may be NULL */
    json_t *metadata;       /* object */
    char *default_provider; /* may be NULL */
    char *node;             /* may be NULL */
    ac_node_wf_step_t *steps;
    size_t nsteps;
    int extra_refs; /* owners besides the first (ac_node_wf_retain); the struct is read-only once shared */
} ac_node_wf_t;

/* Loads a workflow and its steps by id (name NULL) or by name. Returns 0, -AC_ENOENT, or -AC_EDB/-AC_EDBDOWN.
 * OUT: *wf, freed with ac_node_wf_free(). */
int ac_node_wf_load(PGconn *c, int64_t id, const char *name, ac_node_wf_t **wf, ac_errmsg_t *err);
/* Drops one owner's reference; the last one frees. Thread-safe. */
void ac_node_wf_free(ac_node_wf_t *wf);
/* Adds an owner (the trigger intake's cache and the worker that runs the workflow share one loaded copy). */
ac_node_wf_t *ac_node_wf_retain(ac_node_wf_t *wf);

/* True when metadata.requires_2fa is JSON true. */
bool ac_node_wf_requires_2fa(const ac_node_wf_t *wf);

#endif
