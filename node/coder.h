/* node/coder.h - the coder skill (reference section 5.6, SECURITY.md "Autonomous Skill Generation"): a local model
 * writes a dynamic Lua skill from a goal in plain words; the node checks it like any dynamic skill and asks the
 * owner to approve loading it with a 2FA code. It never loads anything itself.
 *
 * One generation:
 *   1. goal: the step's input (text) or config.goal; blank: "no_goal"; at most AC_NODE_CODER_GOAL_MAX bytes.
 *   2. name: from the goal (lower-case, [a-z0-9 ] kept, filler words dropped, the first 4 words joined by "_", at
 *      most 40 characters, starting with a letter, else "generated_skill"); never a core skill's, a loaded dynamic
 *      skill's, a recorded one's (dynamic_skills), an existing file's or one a generation in progress holds: then
 *      _2, _3, ... So "..", "/" and "\" can never reach a file name.
 *   3. up to max_retries attempts (config.max_retries 1..10, else the setting coder.max_retries, 3): the local tier
 *      only (ac_skills_llm_complete with local_only: no cloud provider ever sees the goal), with a system prompt that
 *      describes the skill format and the SkillAPI; from the second attempt the prompt carries the previous error
 *      (cut to 1 KiB). The code is the first ```lua block of the answer (<think>...</think> removed), else the first
 *      ``` block, else "no_code_block". It is written as <name>.lua (ac_node_dynskills_write), inspected
 *      (ac_node_dynskills_inspect: the file checks and the declaration read in the sandbox; the declared name must
 *      be <name>) and run once in the sandbox with input "test", config {} and no SkillAPI permission
 *      (ac_node_dynskills_test_run); it is valid when run returns ok with a text. A failed attempt's file is removed.
 *      Every attempt is a row of coder_generations (migration 0012: goal, skill_name, attempt, source, sha256,
 *      outcome rejected | broken | valid, error) and one log line (skill, attempt, sha256, bytes, outcome; never the
 *      source). A row that cannot be written stops the generation (nothing unrecorded is ever kept).
 *   4. valid: a skill_load action (ac_node_action_skill: it binds the checksum and the declaration) becomes a 2FA
 *      challenge in the owner's chat (node/ask_owner.h); with 2FA off, no chat, or a request already waiting, the
 *      file stays written but not loaded and the output says how to load it from the admin UI (Skills page).
 *      config.create_workflow true: a workflow "Auto: <name>" is created DISABLED with the steps [<name>,
 *      telegram_notify] (branch on_workflow_created, else on_created).
 *   Output {skill, file, checksum, attempts, approval ("pending_2fa" | "not_requested: <why>"), workflow_id?}.
 *   Exhausted: "generation_failed: <last error>" (also when the model does not answer at all).
 *
 * Wiring (node/app.c): after the dynamic skills and the Telegram client exist,
 *     ac_node_coder_cfg_t cc = {.dyn = app->dynskills, .settings = rt->settings, .conninfo = rt->conninfo,
 *                               .base = &app->base};
 *     ac_node_ask_owner_telegram(&cc.ask, rt->settings, app->tg_client);
 *     app->coder = ac_node_coder_new(&cc);
 *     ac_node_coder_register(app->coder, app->registry, err);
 * and ac_node_coder_free(app->coder) once no executor thread can run it and the Telegram poller (which starts /coder)
 * stopped, but before the dynamic skills and the registry are freed: it stops a /coder generation in flight and takes
 * the definition out of the registry. Without dynamic skills (no sandbox helper) the coder is not registered: a step
 * naming it fails as an unknown skill. */
#ifndef AC_NODE_CODER_H
#define AC_NODE_CODER_H

#include "node/ask_owner.h"
#include "node/dynskills.h"
#include "skills/registry.h"
#include "skills/skill.h"

#include <jansson.h>
#include <stdbool.h>

#define AC_NODE_CODER_GOAL_MAX        4096 /* bytes of goal */
#define AC_NODE_CODER_ERROR_MAX       1024 /* bytes of the previous error in the next prompt */
#define AC_NODE_CODER_NAME_MAX        40   /* the name from the goal, before any _2 */
#define AC_NODE_CODER_RETRIES_MAX     10
#define AC_NODE_CODER_CHAT_TIMEOUT_MS (30 * 60 * 1000) /* a /coder generation, every attempt included */

typedef struct ac_node_coder ac_node_coder_t;

typedef struct ac_node_coder_cfg {
    ac_node_dynskills_t *dyn;     /* required: SKILLS_DIR, inspection, trial runs */
    ac_node_settings_t *settings; /* coder.max_retries, 2FA, telegram.chat_id */
    ac_node_ask_owner_t ask;      /* how the owner is asked (ac_node_ask_owner_telegram); send NULL: never asked */
    const char *conninfo;         /* the /coder thread's own connection (copied) */
    const ac_skill_ctx_t *base;   /* copied: settings, API URLs for the /coder thread (its strings outlive us) */
} ac_node_coder_cfg_t;

/* A coder for the node. Never NULL. */
ac_node_coder_t *ac_node_coder_new(const ac_node_coder_cfg_t *cfg);
/* Stops a /coder generation in flight (cancel, then waits for its thread), removes the definition from the registry
 * it was registered in, and frees. Call it while the dynamic skills and that registry still exist, once no step can
 * run the skill any more. NULL is fine. */
void ac_node_coder_free(ac_node_coder_t *c);

/* The skill's definition ("coder"; routes on_created, on_workflow_created, on_error); def->impl is c. Valid until
 * ac_node_coder_free. */
const ac_skill_def_t *ac_node_coder_def(ac_node_coder_t *c);
/* Adds the definition to reg (once). "coder" is a reserved core name (ac_skills_core_names), so no dynamic skill
 * can take it or unload it; the entry itself is not marked core so that ac_node_coder_free can remove it. Returns 0
 * or -AC_EEXIST. */
int ac_node_coder_register(ac_node_coder_t *c, ac_skills_registry_t *reg, ac_errmsg_t *err);

/* The name a goal gives (step 2 above, before the uniqueness suffix). Pure. OUT: out (cap >= 41). */
void ac_node_coder_name_from_goal(const char *goal, char *out, size_t cap);
/* The code of a model's answer: <think>...</think> removed, then the first ```lua block, else the first ``` block.
 * Returns the code (from ac_malloc, NUL-terminated, *len bytes) or NULL when there is none (no_code_block). */
char *ac_node_coder_extract(const char *answer, size_t *len);

/* Progress and result of a /coder generation, for the chat: one plain-text message per call, on the generation's
 * thread. */
typedef void (*ac_node_coder_say_fn)(void *arg, const char *chat_id, const char *text);

/* The chat command "/coder <goal>": starts one generation (config {goal, create_workflow}) on a thread of its own
 * with its own database connection and a deadline of AC_NODE_CODER_CHAT_TIMEOUT_MS; say(arg, chat_id, ...) gets a
 * line when it starts, one per failed attempt, and the result (the skill, the file and how it gets loaded, or the
 * error). The 2FA prompt itself goes through cfg->ask. At most one runs at a time. Returns 0 (started: say will be
 * called until the end), -AC_EAGAIN ("busy: a generation is running"; say is never called), -AC_EINVAL (no goal,
 * or too long), -AC_ESTATE (no database configured), -AC_ESYS. goal and chat_id are copied; arg must outlive the
 * generation (ac_node_coder_free waits for it). */
int ac_node_coder_chat_start(ac_node_coder_t *c, const char *chat_id, const char *goal, bool create_workflow,
                             ac_node_coder_say_fn say, void *arg, ac_errmsg_t *err);
/* Whether a /coder generation is running. */
bool ac_node_coder_chat_busy(ac_node_coder_t *c);

#endif
