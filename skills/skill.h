/* skills/skill.h - the contract between the workflow executor and a skill.
 *
 * A skill is a C function with a name, the branches it can take (routes), a description and a config hint, listed in
 * the registry (skills/registry.h). The executor calls it on one of its worker threads with the step's input and
 * config as jansson values and a context; the skill fills a result: an output value and a branch name on success,
 * or an error (a short code, like the original's error atoms, plus a detail) on failure.
 *
 * Rules every skill keeps:
 * - It never blocks past ctx->deadline_ms (CLOCK_MONOTONIC milliseconds): it passes the remaining time to every
 *   blocking call (libcurl timeouts, child-process timeouts) and gives up with the error code "timeout" or the
 *   branch "on_timeout" when its routes have one. The executor cannot kill a thread; it relies on this.
 * - It polls ctx->cancel (non-zero: the run was cancelled) between blocking steps and stops early.
 * - It takes its limits from settings (ctx->settings), never from the step config, where the issue says so (shell).
 * - It treats input and config as untrusted: types checked, sizes bounded.
 * - It never logs or returns a secret. */
#ifndef AC_SKILLS_SKILL_H
#define AC_SKILLS_SKILL_H

#include "node/settings.h"
#include "policy/captoken.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define AC_SKILL_BRANCH_MAX 64
#define AC_SKILL_ERROR_MAX  512

typedef struct ac_skill_ctx {
    ac_node_settings_t *settings; /* typed settings (shell.*, backup.*, ...) */
    const char *conninfo;         /* the node's database (db_backup); secret: never log it */
    const char *data_dir;         /* absolute */
    const char *backup_dir;       /* BACKUP_DIR, absolute (db_backup) */
    const char *shell_user;       /* ALEXCLAW_SHELL_USER: who runs shell commands when the node is root */
    const char *node_name;
    /* Base URLs of external APIs (GEMINI_API_URL, ANTHROPIC_API_URL, GITHUB_API_URL); NULL: the public ones. */
    const char *gemini_url;
    const char *anthropic_url;
    const char *github_url;
    int64_t run_id;                /* workflow_runs.id, 0 outside a run */
    int64_t deadline_ms;           /* CLOCK_MONOTONIC ms by which the skill must have returned */
    volatile sig_atomic_t *cancel; /* may be NULL; non-zero when the run was cancelled */
    PGconn *db;                    /* the caller's connection, free for the skill to use during the call; may be NULL */
    const struct ac_skill_def *self; /* the skill being called (set by whoever calls def->run) */
    /* Set when a skill calls a skill (SkillAPI run_skill): the chain's depth and the caller's capability token,
     * which the callee's token is attenuated from. 0 and NULL for a workflow step's own call. */
    int chain_depth;
    const ac_policy_captoken_t *token;
} ac_skill_ctx_t;

typedef struct ac_skill_args {
    json_t *input;               /* borrowed; NULL when there is none (JSON null is also "none") */
    json_t *config;              /* borrowed; always an object (possibly empty) */
    const char *prompt_template; /* may be NULL */
    const char *llm_tier;        /* may be NULL */
    const char *llm_model;       /* may be NULL */
} ac_skill_args_t;

typedef struct ac_skill_result {
    json_t *output;                   /* owned (a new reference) or NULL for none */
    char branch[AC_SKILL_BRANCH_MAX]; /* on success: "on_success", "on_timeout", ... */
    char error[AC_SKILL_ERROR_MAX];   /* on failure: "code" or "code: detail" */
} ac_skill_result_t;

/* Returns 0 on success (branch set; empty branch means "on_success") or -1 on failure (error set). */
typedef int (*ac_skill_run_fn)(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, ac_skill_result_t *res);

typedef struct ac_skill_def {
    const char *name;
    const char *description;
    const char *const *routes; /* NULL-terminated branch names */
    const char *config_hint;   /* one line: the config keys it reads */
    bool external;             /* reaches the network */
    ac_skill_run_fn run;
    void *impl; /* a dynamic skill's record (node/dynskills.c); NULL for core skills */
} ac_skill_def_t;

/* Helpers for skills. */
/* Sets res->error to "code" or "code: detail" (detail printf-style, may be NULL) and returns -1. */
int ac_skill_fail(ac_skill_result_t *res, const char *code, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets the branch and takes ownership of output (may be NULL); returns 0. */
int ac_skill_ok(ac_skill_result_t *res, json_t *output, const char *branch);
/* Milliseconds left until ctx->deadline_ms (0 when past it). */
int64_t ac_skill_ms_left(const ac_skill_ctx_t *ctx);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t ac_skill_now_ms(void);
/* The input as text: a JSON string as is, null/absent as "", anything else JSON-encoded. From ac_malloc. */
char *ac_skill_input_text(const json_t *input);
/* A string config value, or NULL when absent or not a string. Borrowed from config. */
const char *ac_skill_config_str(const json_t *config, const char *key);

#endif
