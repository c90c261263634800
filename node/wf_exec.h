/* node/wf_exec.h - runs one workflow: records the run, walks its steps with the original's semantics (reference
 * section 6), persists every step's result as it finishes, and records the outcome.
 *
 * Walk: start at the lowest position; a step's input is the output of step `input_from`, else of the highest
 * position below it that ran; after success the first route whose branch matches is taken, else the `default`
 * route, else the run ends (no routes: the next position); after an error the `on_error` route, else `default`, else
 * the run fails (no routes: it fails); a skipped step goes to the next position; `goto` is a position or "end"; a
 * position that does not exist ends the run; visiting a position twice fails with `loop_detected`, and more than
 * 2 x steps iterations with `loop_protection`. `on_missing_skill` and `on_circuit_open` (skip / fallback / halt)
 * decide what a missing skill or an open breaker does; a fallback skill goes through its own breaker.
 *
 * Durability: the run row is committed (with a session advisory lock that marks it alive) before the first step;
 * each step result and its skill_outcomes row are committed in one statement as the step finishes; a run cancelled
 * in the database (any process) stops before its next step. The executor uses the caller's connection and never
 * shares it. */
#ifndef AC_NODE_WF_EXEC_H
#define AC_NODE_WF_EXEC_H

#include "node/wf_model.h"
#include "skills/breaker.h"
#include "skills/registry.h"
#include "skills/skill.h"

#include <signal.h>

typedef struct ac_node_wf_env {
    PGconn *db; /* this executor's own connection */
    ac_skills_registry_t *registry;
    ac_skills_breakers_t *breakers;
    ac_skill_ctx_t base; /* settings, conninfo, dirs, node name; run fields are filled per step */
} ac_node_wf_env_t;

typedef struct ac_node_wf_run_opts {
    json_t *input;        /* remote input for a receive_from_workflow first step (borrowed; may be NULL) */
    json_t *extra_config; /* merged into that step's config, winning over it (e.g. _source_node); may be NULL */
    volatile sig_atomic_t *cancel; /* may be NULL */
    /* Called once the run row is durably recorded (remote triggers answer then). */
    void (*on_started)(void *arg, int64_t run_id);
    void *arg;
} ac_node_wf_run_opts_t;

typedef enum { AC_WF_COMPLETED = 0, AC_WF_FAILED, AC_WF_CANCELLED } ac_node_wf_status_t;

typedef struct ac_node_wf_outcome {
    int64_t run_id;
    ac_node_wf_status_t status;
    char error[512]; /* failed: the reason ("loop_detected", "unknown_skill: x", ...) */
    json_t *result;  /* completed: {"output": ...}; owned */
} ac_node_wf_outcome_t;

/* Runs wf (which must be enabled; callers check requires_2fa for their trigger). Returns 0 when the run was
 * recorded (whatever its outcome), or an error when it could not be recorded at all (database down) -- then no
 * step ran. OUT: *out (release with ac_node_wf_outcome_clear). */
int ac_node_wf_run(ac_node_wf_env_t *env, const ac_node_wf_t *wf, const ac_node_wf_run_opts_t *opts,
                   ac_node_wf_outcome_t *out, ac_errmsg_t *err);
void ac_node_wf_outcome_clear(ac_node_wf_outcome_t *out);
const char *ac_node_wf_status_name(ac_node_wf_status_t s);

/* Marks failed every run of `node_name` left `running` by a process that is gone (its advisory lock is free).
 * OUT: *count (may be NULL). */
int ac_node_wf_recover(PGconn *c, const char *node_name, int *count, ac_errmsg_t *err);

/* Cancels a running run: 0, -AC_ENOENT (no such run), -AC_ESTATE (not running). */
int ac_node_wf_cancel(PGconn *c, int64_t run_id, ac_errmsg_t *err);

#endif
