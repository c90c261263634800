/* skills/llm_skills.h - the core skills that ask an LLM (skills/llm.h): llm_transform, llm_score and
 * conversational (reference section 5.2). Each picks its tier and provider with ac_skills_llm_tier_for() /
 * ac_skills_llm_provider_for() (the step's llm_tier / llm_model, else skill.<name>.tier / .provider, else the
 * default) and needs ctx->db.
 *
 * llm_transform (routes on_success, on_error): the step's prompt_template with "{input}" replaced by the input as text
 *   and "{resources}" by the workflow's resources as text, exactly as the original substitutes them; no template:
 *   the input itself is the prompt. Output: the answer's text.
 * llm_score (routes on_items, on_empty, on_error): config interests (string, required), threshold (0..1, default
 *   0.3), max_items (1..100, default 10); input: an array of items (objects with title/summary/description/link/url,
 *   or strings; at most 200). One LLM call scores all items 0..1 against the interests; output: the items at or above
 *   the threshold, best first, at most max_items, each object with "score" added (strings become {"title", "score"});
 *   none: on_empty with []. Errors: no_interests, invalid_input, bad_scores (an answer that is not the scores).
 * conversational (routes on_success, on_error): config message, else the input; the system prompt is
 *   identity.base_prompt with {name} replaced by identity.name, plus identity.persona when set. Output: the answer.
 *   The Telegram dispatcher uses ac_skills_conversational_reply() for free text. */
#ifndef AC_SKILLS_LLM_SKILLS_H
#define AC_SKILLS_LLM_SKILLS_H

#include "skills/skill.h"

extern const ac_skill_def_t ac_skills_llm_transform;
extern const ac_skill_def_t ac_skills_llm_score;
extern const ac_skill_def_t ac_skills_conversational;

/* The conversational answer to one message (ctx->db required). OUT: *reply (ac_malloc). 0, or a negative code with
 * err as ac_skills_llm_complete() says. */
int ac_skills_conversational_reply(const ac_skill_ctx_t *ctx, const char *message, char **reply, ac_errmsg_t *err);

/* text[0..len) without its "<think>...</think>" blocks (a reasoning model's thoughts); an unclosed "<think>" drops
 * the rest. With leading_close, a "</think>" before any "<think>" also drops what precedes it (thoughts whose
 * opening tag was not sent): only for answers whose content no one else writes -- an answer that quotes a diff or a
 * feed item could otherwise lose its start to a planted "</think>". llm_score and github_security_review read their
 * answers through it without, the coder with it. From ac_malloc, never NULL. */
char *ac_skills_llm_strip_think(const char *text, size_t len, bool leading_close);

#endif
