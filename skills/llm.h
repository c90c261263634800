/* skills/llm.h - the LLM router (reference section 10): the choice of a provider for a call, the daily limits
 * (table llm_usage, migration 0011) and one completion. The providers themselves, their keys and their validation are
 * the store's (skills/llm_store.h, included here so users of the router need one header).
 *
 * Selection, as the original: a named provider must exist and be enabled ("unknown_provider: <name>"); "auto", ""
 * or none selects by tier (default light): the enabled providers of that tier by priority, then name; when the tier
 * has none, the local tier; when that has none either, "no_available_model". The first one under its daily limit is
 * used; when all of them are at their limit, "all_providers_at_limit" (no fallback to local then). Usage counts
 * successful calls per provider per UTC day (llm_usage, model "provider_<id>"); the count is reserved atomically
 * before the call (so concurrent calls, also from other nodes, never pass a limit) and given back when it fails.
 *
 * Sending: ac_skills_http_request() (skills/http.h), within the caller's deadline and the per-call timeout
 * (llm.timeout_seconds for cloud providers, llm.local_timeout_seconds for the others), responses capped at
 * llm.max_response_kb; Gemini's retryable 429 is retried up to 3 times after llm.gemini_retry_ms x 1, 2, 3
 * (5 s, 10 s, 15 s by default), never past the deadline. Other errors are not retried and not passed on to another
 * provider (the original neither). A provider's key is opened only for the request that carries it. Thread-safe; no
 * state of its own besides the database. */
#ifndef AC_SKILLS_LLM_H
#define AC_SKILLS_LLM_H

#include "policy/error.h"
#include "skills/llm_store.h"
#include "skills/llm_wire.h"
#include "skills/skill.h"
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* One completion. */
typedef struct ac_skills_llm_call {
    const char *prompt;   /* required, UTF-8 */
    const char *system;   /* NULL or "": none */
    const char *tier;     /* NULL: "light" */
    const char *provider; /* NULL, "", "auto": by tier; else a provider's name */
    bool local_only;      /* the coder: only local-tier providers (a named one must be local too: else
                             "unknown_provider"); the selection never leaves the local tier */
} ac_skills_llm_call_t;

typedef struct ac_skills_llm_answer {
    char *text; /* ac_malloc; NULL on failure */
    int64_t provider_id;
    char provider[AC_SKILLS_LLM_NAME_MAX + 1]; /* the provider that answered (or failed) */
    char model[AC_SKILLS_LLM_NAME_MAX + 1];
} ac_skills_llm_answer_t;

/* Runs one completion for ctx (ctx->db: the connection to use, required; ctx->settings; ctx->deadline_ms;
 * ctx->cancel; ctx->gemini_url and ctx->anthropic_url). Returns 0 with ans->text, or a negative code with err =
 * "<code>" or "<code>: <detail>" where code is one of no_available_model, all_providers_at_limit, unknown_provider,
 * api_key_not_set, host_not_set, timeout, cancelled, too_large, request_failed (transport), or the provider's own
 * (llm_wire.h: anthropic/gemini/ollama/openai_compat status errors, gemini_quota_exhausted, malformed_response,
 * empty_response). Codes: -AC_ENOENT (selection), -AC_ECONFIG (key/host), -AC_ETIMEDOUT, -AC_ESTOPPED,
 * -AC_ETOOLONG, -AC_EIO (transport or provider error), -AC_EINVAL (prompt), database errors.
 * Always free ans with ac_skills_llm_answer_free. */
int ac_skills_llm_complete(const ac_skill_ctx_t *ctx, const ac_skills_llm_call_t *call, ac_skills_llm_answer_t *ans,
                           ac_errmsg_t *err);
/* Sends a short test prompt ("Reply with the single word: ok") to provider id, enabled or not (the admin UI's
 * Test button); counts as a call and respects the daily limit. Same results as ac_skills_llm_complete. */
int ac_skills_llm_test(const ac_skill_ctx_t *ctx, int64_t id, ac_skills_llm_answer_t *ans, ac_errmsg_t *err);
void ac_skills_llm_answer_free(ac_skills_llm_answer_t *ans);

/* The tier a skill uses: the step's llm_tier when set, else the setting skill.<name>.tier when it is a tier, else
 * dflt. Returns a static string or one borrowed from args. */
const char *ac_skills_llm_tier_for(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, const char *skill,
                                   const char *dflt, char *buf, size_t cap);
/* The provider a skill uses: the step's llm_model when set, else the setting skill.<name>.provider, else "auto". */
const char *ac_skills_llm_provider_for(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, const char *skill,
                                       char *buf, size_t cap);

#endif
