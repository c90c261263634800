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
 * Durability: the run row is committed (with a shared session advisory lock that marks it alive, wf_record.h) before
 * the first step; each step result and its skill_outcomes row are committed in one statement as the step finishes;
 * a run cancelled in the database (any process) stops before its next step. The executor uses the caller's
 * connection and never shares it. */
#ifndef AC_NODE_WF_EXEC_H
#define AC_NODE_WF_EXEC_H

#include "node/wf_model.h"
#include "node/wf_record.h"
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
    int chain_depth; /* the skills' chain depth for every step (> 0 for a run a skill started) */
} ac_node_wf_run_opts_t;

/* Runs wf (which must be enabled; callers check requires_2fa for their trigger). Returns 0 when the run was
 * recorded (whatever its outcome), or an error when it could not be recorded at all (database down) -- then no
 * step ran. OUT: *out (release with ac_node_wf_outcome_clear). */
int ac_node_wf_run(ac_node_wf_env_t *env, const ac_node_wf_t *wf, const ac_node_wf_run_opts_t *opts,
                   ac_node_wf_outcome_t *out, ac_errmsg_t *err);

/* A remote trigger's first step, a receive_from_workflow gate, run before the run row exists, so that the trigger
 * intake can record the row, the gate's step and (when the gate ends the run) the outcome in one commit. */
typedef struct ac_node_wf_gate {
    ac_node_wf_step_result_t r;
    int64_t took_ms;
    bool end;                     /* the run ends with the gate: outcome holds how */
    int next;                     /* else the position to go on from */
    ac_node_wf_outcome_t outcome; /* status, error, result (run_id unused) */
} ac_node_wf_gate_t;

/* Runs wf's first step (the caller checked it is receive_from_workflow) with opts' input and facts; no database
 * access. OUT: *g (release with ac_node_wf_gate_clear). */
void ac_node_wf_gate_run(ac_node_wf_env_t *env, const ac_node_wf_t *wf, const ac_node_wf_run_opts_t *opts,
                         ac_node_wf_gate_t *g);
void ac_node_wf_gate_clear(ac_node_wf_gate_t *g);
/* Logs what the executor logs for a run that has got as far as its gate (run_started, step_done, run_finished). */
void ac_node_wf_gate_log(const ac_node_wf_t *wf, int64_t run_id, const ac_node_wf_gate_t *g);
/* Walks on from the gate of a run whose row and gate step are recorded and whose liveness lock env->db holds.
 * Returns 0 (the outcome is in *out), or -AC_EINVAL when the gate ended the run. */
int ac_node_wf_continue(ac_node_wf_env_t *env, const ac_node_wf_t *wf, const ac_node_wf_run_opts_t *opts,
                        int64_t run_id, const ac_node_wf_gate_t *g, ac_node_wf_outcome_t *out, ac_errmsg_t *err);

/* Marks failed every run of `node_name` left `running` by a process that is gone (its advisory lock is free).
 * OUT: *count (may be NULL). */
int ac_node_wf_recover(PGconn *c, const char *node_name, int *count, ac_errmsg_t *err);

/* Cancels a running run: 0, -AC_ENOENT (no such run), -AC_ESTATE (not running). */
int ac_node_wf_cancel(PGconn *c, int64_t run_id, ac_errmsg_t *err);

#endif
