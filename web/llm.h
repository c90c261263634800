/* web/llm.h - the LLM page's API: the providers of the LLM router (skills/llm.h, tables llm_providers and llm_usage),
 * their usage today, a test call, and who receives the owner's data.
 *
 *   GET    /api/llm/providers          {"providers": [provider...], "receivers": [{"id", "name", "type", "where",
 *                                       "cloud"}], "usage_total_today", "two_factor", "types", "tiers"}; a provider
 *                                       is ac_skills_llm_provider_json() plus "where" (below); "api_key" is
 *                                       "********" or "" and never the key. receivers: the enabled providers, each
 *                                       with where its requests go: "Anthropic (api.anthropic.com)", "Google Gemini
 *                                       (generativelanguage.googleapis.com)" (or the host of ANTHROPIC_API_URL /
 *                                       GEMINI_API_URL when set), else the provider's host[:port] ("no host set")
 *   POST   /api/llm/providers          the store's fields (ac_skills_llm_provider_save): 201 {"id", "name"}
 *   PUT    /api/llm/providers/ID       the fields to change (absent ones keep their value): 200 {"id", "name"}
 *   DELETE /api/llm/providers/ID       200 {"id", "removed": true}
 *   POST   /api/llm/providers/ID/test  one call to that provider (enabled or not: ac_skills_llm_test) on a database
 *                                       worker, within AC_WEB_LLM_TEST_MS: 200 {"ok": true, "provider", "model",
 *                                       "ms", "text" (the first AC_WEB_LLM_TEST_TEXT characters)} or {"ok": false,
 *                                       "provider", "model", "ms", "error"}; 429 while another test runs (one at a
 *                                       time, so a slow provider never holds every worker)
 *
 * A body the store refuses answers 422 {"error": its sentence}, a name taken 409, an unknown id 404. The body is
 * checked here first (known fields, their JSON types, type and tier from their sets, a name that is not taken) so
 * that, while 2FA is on, a person is not asked to approve what would be refused; the store checks everything again
 * when the change runs. While 2FA is on, a create, an update or a delete answers 403 2fa_required (web/twofa.h): a
 * provider decides where prompts, and the owner's data in them, are sent. The action stored with the challenge never
 * holds an API key in clear: it is sealed with the settings key (policy/crypto.h) and opened when the approved
 * action runs. Tests need no code (they change nothing but today's usage). */
#ifndef AC_WEB_LLM_H
#define AC_WEB_LLM_H

#include "web/call.h"

#define AC_WEB_LLM_TEST_MS   60000 /* a test call's deadline */
#define AC_WEB_LLM_TEST_TEXT 200   /* characters of the answer a test shows */

/* Routes /api/llm/...; answers 404 for anything else there. Loop thread. */
void ac_web_llm_api(ac_web_server_t *s, h2o_req_t *req, const char *path);

/* For /metrics (a database worker): {"providers": [{"name", "tier", "enabled", "usage_today"}],
 * "total_calls_today"}; empty when the providers cannot be read. Owned. */
json_t *ac_web_llm_metrics(PGconn *db, ac_web_server_t *s);

/* For web/twofa.c. Whether action is a provider change this file stores with a challenge (llm_provider_save,
 * llm_provider_delete). */
bool ac_web_llm_is_action(const json_t *action);
/* Its description for the person who approves it (never a key, nor a header's value), from ac_malloc; NULL when
 * action is not a provider change. */
char *ac_web_llm_describe(const json_t *action);
/* On a database worker, once a code approved it: runs the action (the store checks it again) and fills c with
 * {"approved": true, "type", "result"} or an error with "approved": true. */
void ac_web_llm_exec_approved(PGconn *db, ac_web_call_t *c, const json_t *action);

#endif
