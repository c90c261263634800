/* node/wf_record.h - what the executor writes about a run: the run row with its liveness lock, each step's entry in
 * step_results with its skill_outcomes row, and the outcome. The executor (wf_exec) and the trigger intake
 * (wf_intake) share these encodings, so a run looks the same whichever of them recorded a step.
 *
 * Liveness: a running run is held by a *shared* session advisory lock on AC_NODE_DB_LOCK_RUN_BASE + id. Recovery
 * (ac_node_wf_recover) takes the same key exclusively, so it fails while any session still holds the run; shared,
 * so the intake can hand a run over to a worker without a moment in which nobody holds it. */
#ifndef AC_NODE_WF_RECORD_H
#define AC_NODE_WF_RECORD_H

#include "node/wf_model.h"
#include "skills/skill.h"

typedef enum { AC_WF_STEP_OK, AC_WF_STEP_SKIPPED, AC_WF_STEP_ERROR } ac_node_wf_step_kind_t;

typedef struct ac_node_wf_step_result {
    ac_node_wf_step_kind_t kind;
    json_t *output; /* ok: the output; skipped: the input passed on; owned; may be NULL */
    char branch[AC_SKILL_BRANCH_MAX];
    char error[AC_SKILL_ERROR_MAX];
} ac_node_wf_step_result_t;

typedef enum { AC_WF_COMPLETED = 0, AC_WF_FAILED, AC_WF_CANCELLED } ac_node_wf_status_t;

typedef struct ac_node_wf_outcome {
    int64_t run_id;
    ac_node_wf_status_t status;
    char error[512]; /* failed: the reason ("loop_detected", "unknown_skill: x", ...) */
    json_t *result;  /* completed: {"output": ...}; owned */
} ac_node_wf_outcome_t;

/* One step's records as JSON text: `results` is {"<position>": entry} for `step_results || results`, `snapshot`
 * and `metadata` go to skill_outcomes. Owned; release with ac_node_wf_step_rec_clear. */
typedef struct ac_node_wf_step_rec {
    char *results;
    char *snapshot;
    char *metadata;
} ac_node_wf_step_rec_t;

int ac_node_wf_step_rec_encode(const ac_node_wf_step_t *st, const ac_node_wf_step_result_t *r,
                               ac_node_wf_step_rec_t *rec, ac_errmsg_t *err);
void ac_node_wf_step_rec_clear(ac_node_wf_step_rec_t *rec);
/* The same records as JSON values (new references). */
void ac_node_wf_step_rec_build(const ac_node_wf_step_t *st, const ac_node_wf_step_result_t *r, json_t **results,
                               json_t **snapshot, json_t **metadata);

const char *ac_node_wf_status_name(ac_node_wf_status_t s);
void ac_node_wf_outcome_clear(ac_node_wf_outcome_t *out);

/* Inserts the run row (status running) and takes its liveness lock, in one statement (one commit).
 * OUT: *run_id. */
int ac_node_wf_record_start(PGconn *c, const ac_node_wf_t *wf, const char *node, int64_t *run_id, ac_errmsg_t *err);

/* Takes the liveness lock of a run another session recorded (and still holds), and tells whether the run is still
 * `running` (OUT: *running). */
int ac_node_wf_record_hold(PGconn *c, int64_t run_id, bool *running, ac_errmsg_t *err);
/* Lets go of this session's liveness lock on a run. */
void ac_node_wf_record_unhold(PGconn *c, int64_t run_id);

/* Commits one step: its entry in step_results and its skill_outcomes row, in one statement. With fin (the run ends
 * with this step) the same statement records the outcome and releases this session's liveness lock. Returns 0,
 * -AC_ESTATE when the run is no longer running (cancelled), or a database error. */
int ac_node_wf_record_step(PGconn *c, int64_t run_id, const ac_node_wf_step_t *st, const ac_node_wf_step_result_t *r,
                           int64_t duration_ms, const ac_node_wf_outcome_t *fin, ac_errmsg_t *err);

/* Records the outcome and releases the liveness lock, in one statement. A run cancelled meanwhile turns *out into
 * a cancelled outcome (the caller hears what the database says). */
void ac_node_wf_record_finish(PGconn *c, int64_t run_id, ac_node_wf_outcome_t *out);

/* {"output": v}, the result of a completed run (v NULL: JSON null), stored as step outputs are (cut beyond 1 MiB,
 * U+0000 replaced by U+FFFD, which jsonb cannot hold). */
json_t *ac_node_wf_result_of(json_t *v);

#endif
