/* web/policies.h - the Policies page's API: the rule table auth_policies (node/policies.h) and the audit log
 * auth_audit_log with the check of its hash chain (node/audit.h).
 *
 *   GET    /api/policies                {"policies": [rule...], "rule_types": [...], "permissions": [...],
 *                                        "two_factor": bool}; a rule is {"id", "name", "description", "rule_type",
 *                                        "config" (object), "enabled", "priority", "inserted_at", "updated_at",
 *                                        "valid", and "problem" when the engine skips it (edited with SQL)}
 *   POST   /api/policies                {"name", "description"?, "rule_type", "config", "priority"?, "enabled"?}:
 *                                        201 {"id", "name"}; config is a JSON object or its text
 *   PUT    /api/policies/ID             the same fields (enabled absent: unchanged): 200 {"id", "name"}
 *   POST   /api/policies/ID/enable      200 {"id", "enabled"}; .../disable the same
 *   DELETE /api/policies/ID             200 {"id", "removed": true}
 *   GET    /api/audit                   ?decision=deny|allow|checkpoint &caller=SUBSTRING &permission=NAME
 *                                        &from=ISO8601 &to=ISO8601 &before=ID &limit=N (1 to 200, default 50):
 *                                        {"entries": [...], "limit", "next_before": ID or null}, newest first
 *   GET    /api/audit/verify            {"ok": true, "rows", "first_id", "last_id", "checked_at"}, or {"ok": false,
 *                                        "problem", "bad_id" (null: at an end), ...}: the chain was walked either way
 *
 * A rule that does not pass ac_node_policies_check (the engine's own parser) answers 422 {"error": the sentence,
 * "field": "name" | "description" | "rule_type" | "config" | "priority" | "enabled"}; a bad audit filter 400
 * {"error", "field"}; an unknown rule 404. While 2FA is on every change (add, edit, enable, disable, delete) answers
 * 403 2fa_required (web/twofa.h) once the rule has passed its checks: a rule can deny or rate-limit what dynamic
 * skills may do, and deleting or disabling one lifts a restriction. These challenges are approved in the admin UI
 * only (the web layer executes them, as it does the API token), never by a code typed in the Telegram chat. */
#ifndef AC_WEB_POLICIES_H
#define AC_WEB_POLICIES_H

#include "web/call.h"

/* Routes /api/policies... and /api/audit...; answers 404 for anything else there. Loop thread. */
void ac_web_policies_api(ac_web_server_t *s, h2o_req_t *req, const char *path);

/* For web/twofa.c. Whether action is a policy change this file stores with a challenge. */
bool ac_web_policies_is_action(const json_t *action);
/* Its description for the person who approves it (what will be stored, rule and config), from ac_malloc; NULL when
 * action is not a policy change. */
char *ac_web_policies_describe(const json_t *action);
/* On a database worker, once a code approved it: runs the action (checked again: stored JSON is data) and fills c
 * with {"approved": true, "type", "result"} or an error with "approved": true. */
void ac_web_policies_exec_approved(PGconn *db, ac_web_call_t *c, const json_t *action);

#endif
