/* node/wf_io.h - workflow export and import in the original AlexClaw's JSON format (reference section 6), so
 * workflows move between the original and AlexClaw/C both ways.
 *
 * {"version": 1, "workflow": {name, description, enabled, schedule, metadata, default_provider, node},
 *  "steps": [{position, name, skill, llm_tier, llm_model, prompt_template, config, input_from, routes}],
 *  "resources": [{name, type, url, content, metadata, tags, enabled, role}]}
 *
 * Import validates everything before it writes, writes in one transaction, and answers malformed input with the
 * original's messages. Unlike the original, an imported workflow is always disabled, and its schedule must parse. */
#ifndef AC_NODE_WF_IO_H
#define AC_NODE_WF_IO_H

#include "policy/error.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define AC_NODE_WF_IMPORT_MAX_BYTES (1024 * 1024)
#define AC_NODE_WF_IMPORT_MAX_STEPS 200

/* Exports the workflow `name`. OUT: *json (pretty, keys sorted), from malloc; caller frees. -AC_ENOENT when absent. */
int ac_node_wf_export(PGconn *c, const char *name, char **json, ac_errmsg_t *err);

typedef struct ac_node_wf_import_result {
    int64_t id;
    char name[300];   /* the name it got ("X (imported 1)" on a conflict) */
    json_t *warnings; /* array of strings; owned */
} ac_node_wf_import_result_t;

/* Imports one workflow from JSON text. On malformed input returns -AC_EINVAL with the message in err and changes
 * nothing. OUT: *res (release its warnings with json_decref). */
int ac_node_wf_import(PGconn *c, const char *text, size_t len, ac_node_wf_import_result_t *res, ac_errmsg_t *err);

/* Validates a document as ac_node_wf_import() does, without a database: 0, or -AC_EINVAL with the message in err
 * (valid UTF-8, as every message of this module). */
int ac_node_wf_import_check(const char *text, size_t len, ac_errmsg_t *err);

/* Replaces the definition of the workflow `name` with a document in the same format (validated as import does): the
 * workflow's fields (a new name must be free) and all its steps, in one transaction. `enabled` and the links to
 * resources stay as they are; runs in flight go on with the definition they started with. Returns 0, -AC_ENOENT (no
 * such workflow), -AC_EEXIST (the new name is taken), -AC_EINVAL (malformed; nothing changed) or a database error.
 * OUT: *id (may be NULL). */
int ac_node_wf_replace(PGconn *c, const char *name, const char *text, size_t len, int64_t *id, ac_errmsg_t *err);

#endif
