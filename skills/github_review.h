/* skills/github_review.h - github_security_review (reference sections 5.2 and 9): fetch a pull request's or a
 * commit's diff from the GitHub API (GITHUB_API_URL, token github.token), cut it at 24 KiB, and ask the LLM
 * (skill.github_review.tier/.provider) for the structured review: RISK LEVEL, FINDINGS, SUMMARY, RECOMMENDATION.
 *
 * The skill (routes on_diff, on_empty, on_error): config mode "latest_pr" (default: the most recently updated open
 * pull request of repo), "pr" (config number, or the input), "commit" (config sha, or the input); repo "owner/name"
 * (default github.default_repo). Output {repo, kind, ref, title, risk_level, review, truncated}; an empty diff or no
 * open pull request: on_empty. The webhook and the Telegram command /github call ac_skills_github_review(). */
#ifndef AC_SKILLS_GITHUB_REVIEW_H
#define AC_SKILLS_GITHUB_REVIEW_H

#include "skills/skill.h"
#include <jansson.h>

#define AC_SKILLS_GITHUB_DIFF_MAX (24u * 1024)

extern const ac_skill_def_t ac_skills_github_security_review;

typedef enum ac_skills_github_kind {
    AC_SKILLS_GITHUB_PR,
    AC_SKILLS_GITHUB_COMMIT,
} ac_skills_github_kind_t;

/* "owner/name" with GitHub's characters only ([A-Za-z0-9_.-], no "..", each part 1..100): 0 or -AC_EINVAL. */
int ac_skills_github_repo_check(const char *repo);

/* Reviews one pull request (ref: its number, digits) or commit (ref: 7..40 hex digits) of repo. ctx->db required
 * (the LLM), ctx->deadline_ms bounds it all. OUT: *review (owned) {repo, kind ("pr"|"commit"), ref, title,
 * risk_level ("LOW"|"MEDIUM"|"HIGH"|"CRITICAL"|"UNKNOWN"), review (the LLM's text), truncated (bool), empty (bool:
 * the diff was empty, no LLM call)}. Errors: -AC_EINVAL (repo/ref), -AC_ENOENT (GitHub 404), -AC_EPERM (401/403:
 * "github: token refused"), -AC_ETIMEDOUT, -AC_EIO, LLM errors; err never holds the token. */
int ac_skills_github_review(const ac_skill_ctx_t *ctx, const char *repo, ac_skills_github_kind_t kind, const char *ref,
                            json_t **review, ac_errmsg_t *err);

/* The review as a Telegram message (HTML-escaped, at most 4000 characters): "🔍 Security review: <repo> PR #n / commit
 * abc1234 — RISK: X" and the review text. Owned (ac_malloc). */
char *ac_skills_github_review_message(const json_t *review);

#endif
