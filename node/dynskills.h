/* node/dynskills.h - dynamic skills (issue 7): Lua files in SKILLS_DIR, loaded into the skill registry next to the
 * core skills and run, each call in a fresh sandbox (skills/sandbox.h) whose SkillAPI calls node/skillapi.h serves.
 *
 * Loading a file: skills/dynfile.h checks its path, kind, size and content; the declaration is read inside the
 * sandbox (tight limits, no SkillAPI); then the name (^[a-z][a-z0-9_]{0,47}$, never a core skill's), the version
 * (a load over a loaded skill of the same version is refused unless forced: reload), the permissions (exactly the
 * known set) and the routes (on_<name>, at most 16; on_success and on_error when none) are checked. The row in
 * dynamic_skills (migration 0010) records the file, permissions, routes and the SHA-256 of what was loaded; the
 * source that was checked is kept in memory and is what runs (a file edited afterwards changes nothing until a
 * reload). At start every enabled row is loaded again; a file whose checksum no longer matches, or whose declaration
 * now differs from the row (a top level that is not deterministic), is skipped and the owner alerted. Core skills can
 * never be unloaded or replaced.
 *
 * Definitions handed to the registry stay valid until ac_node_dynskills_free, even after an unload or a reload, so
 * a run in flight never sees its skill freed. Thread-safe: loads, unloads and reloads are serialised. */
#ifndef AC_NODE_DYNSKILLS_H
#define AC_NODE_DYNSKILLS_H

#include "policy/error.h"
#include "policy/perm.h"
#include "skills/dynfile.h"
#include "skills/registry.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <sys/types.h>

#define AC_NODE_DYNSKILLS_ROUTES_MAX  16
#define AC_NODE_DYNSKILLS_VERSION_MAX 32
#define AC_NODE_DYNSKILLS_DESC_MAX    1024

struct ac_node_skillapi;
typedef struct ac_node_dynskills ac_node_dynskills_t;

typedef struct ac_node_dynskills_cfg {
    const char *skills_dir; /* SKILLS_DIR (created 0750 when missing) */
    const char *helper;     /* alexclaw-sandbox */
    uid_t uid;              /* the sandbox's user when the node is root */
    gid_t gid;
    ac_skills_registry_t *registry; /* where loaded skills appear */
    ac_node_settings_t *settings;   /* skills.sandbox.* */
    struct ac_node_skillapi *api;   /* serves the sandboxes' calls (may be set later: ac_node_dynskills_set_api) */
    const char *conninfo;           /* for runs whose caller has no connection */
} ac_node_dynskills_cfg_t;

/* Resolves SKILLS_DIR (creating it when missing). No database work yet. */
int ac_node_dynskills_new(const ac_node_dynskills_cfg_t *cfg, ac_node_dynskills_t **out, ac_errmsg_t *err);
void ac_node_dynskills_set_api(ac_node_dynskills_t *d, struct ac_node_skillapi *api);
/* Unregisters every dynamic skill and frees them. Call once nothing runs skills any more. */
void ac_node_dynskills_free(ac_node_dynskills_t *d);

const char *ac_node_dynskills_dir(const ac_node_dynskills_t *d);

/* Brings the registry in line with dynamic_skills: loads every enabled row not loaded here with that checksum, and
 * retires loaded skills whose row is gone or disabled. A missing file, a changed file (checksum) or one that no
 * longer passes the checks is skipped; `alert` (may be NULL) gets one sentence per skipped skill for the owner.
 * Used at start, and by the watcher. */
typedef void (*ac_node_dynskills_alert_fn)(void *arg, const char *text);
int ac_node_dynskills_boot(ac_node_dynskills_t *d, PGconn *c, ac_node_dynskills_alert_fn alert, void *arg, int *loaded,
                           int *skipped, ac_errmsg_t *err);
/* Starts a thread that LISTENs on alexclaw_dynamic_skills (migration 0010's trigger) with its own connection and
 * runs ac_node_dynskills_boot whenever a process sharing the database loads, reloads or unloads a skill (the CLI,
 * another node); it reconnects with backoff. Stopped by ac_node_dynskills_free. */
int ac_node_dynskills_watch(ac_node_dynskills_t *d, ac_node_dynskills_alert_fn alert, void *arg, ac_errmsg_t *err);

/* Loads `file` (a name relative to SKILLS_DIR, or an absolute path inside it). force: load even when the same
 * version is loaded (reload). OUT: *info (owned) {name, version, description, permissions, routes, file, checksum}.
 * Errors (err says which): -AC_EINVAL (fails a check, or its declaration fails), -AC_EPERM (outside SKILLS_DIR,
 * bytecode, a core name), -AC_EEXIST (same version loaded), -AC_ENOENT, -AC_ETOOLONG, a database error. */
int ac_node_dynskills_load(ac_node_dynskills_t *d, PGconn *c, const char *file, bool force, json_t **info,
                           ac_errmsg_t *err);
/* What a person approves before a load or a reload (the 2FA prompt): the file is read and declared in the sandbox
 * now, without loading it. file: the file to load; or NULL and name: the recorded skill to reload (its file must
 * still declare that name). OUT: *binding {name, version, permissions, routes, checksum[, replaces {name, version,
 * permissions, routes}]} (owned). */
int ac_node_dynskills_inspect(ac_node_dynskills_t *d, PGconn *c, const char *file, const char *name, json_t **binding,
                              ac_errmsg_t *err);
/* Load or reload exactly what was approved: refused (-AC_EPERM, nothing changes) unless the file still has the
 * binding's checksum and declaration. */
int ac_node_dynskills_load_expect(ac_node_dynskills_t *d, PGconn *c, const char *file, const json_t *expect,
                                  json_t **info, ac_errmsg_t *err);
int ac_node_dynskills_reload_expect(ac_node_dynskills_t *d, PGconn *c, const char *name, const json_t *expect,
                                    json_t **info, ac_errmsg_t *err);
/* Unregisters a dynamic skill and deletes its row: -AC_EPERM for a core skill, -AC_ENOENT for an unknown one. */
int ac_node_dynskills_unload(ac_node_dynskills_t *d, PGconn *c, const char *name, ac_errmsg_t *err);
/* Loads a loaded skill's file again (forced); the file must still declare that name (checked before anything
 * changes). -AC_ENOENT when no such dynamic skill is recorded. */
int ac_node_dynskills_reload(ac_node_dynskills_t *d, PGconn *c, const char *name, json_t **info, ac_errmsg_t *err);

/* A skill file name as the SkillAPI and the admin UI accept it: "<name>.lua" with name ^[a-z][a-z0-9_]{0,47}$, so
 * directly in SKILLS_DIR (no "/", "\\" or ".."). OUT: name (the part before ".lua"). 0 or -AC_EINVAL. */
int ac_node_dynskills_filename_check(const char *filename, char name[AC_SKILLS_DYNFILE_NAME_MAX + 1], ac_errmsg_t *err);
/* Writes a skill file (filename as above): 1 .. 256 KiB of UTF-8 text without NUL, never bytecode; atomically (a
 * temporary file renamed over it, so a symlink of that name is replaced, never followed). Writing never loads. */
int ac_node_dynskills_write(ac_node_dynskills_t *d, const char *filename, const char *src, size_t len,
                            ac_errmsg_t *err);

/* A trial run of a skill file that is not loaded (the coder's validation, node/coder.h). The file passes exactly the
 * checks of a load or an inspection (skills/dynfile.h, the declaration read in the sandbox, name, version,
 * permissions, routes); its SHA-256 must be t->sha256 and its name t->expect_name when those are set; then run(args) is called in a fresh sandbox
 * with args {input, config, workflow_run_id = 0} under the normal limits (skills.sandbox.timeout_ms and memory_mb,
 * never past t->deadline_ms) and WITHOUT any SkillAPI permission: every call is answered "permission_denied" and not
 * performed (the run is stopped at the AC_NODE_SKILLAPI_DENIALS_MAX-th). Nothing is registered, recorded or audited.
 * t->stage says how far it got, so a caller can tell a file or declaration the checks refused (FILE, CHECK) from Lua
 * that does not load or run (DECLARE, RUN).
 * Returns 0 when run returned ok with one of its routes; -AC_EINVAL when the Lua failed (err: the declaration's Lua
 * error, or "skill_failed: ...", "skill_timeout: ...", "sandbox_violation: ...", "invalid_branch: ..."); -AC_ESTOPPED
 * when cancelled; -AC_EPERM when the checksum differs; otherwise the loader's errors (dynskills_load above), or the
 * sandbox's when it cannot start. OUT (the caller json_decref's both, whatever the return): t->binding, what an
 * approval would bind (as ac_node_dynskills_inspect, without "replaces"), once the declaration passed; t->output on
 * success. */
typedef enum {
    AC_NODE_DYNSKILLS_STAGE_FILE = 0, /* the file checks (path, kind, size, bytecode, UTF-8) */
    AC_NODE_DYNSKILLS_STAGE_DECLARE,  /* its Lua loaded and the declaration read in the sandbox */
    AC_NODE_DYNSKILLS_STAGE_CHECK,    /* the declaration checked (name, version, permissions, routes), the checksum */
    AC_NODE_DYNSKILLS_STAGE_RUN,      /* run(args) in the sandbox */
} ac_node_dynskills_stage_t;

typedef struct ac_node_dynskills_trial {
    const char *file;              /* "<name>.lua" in SKILLS_DIR (or an absolute path inside it) */
    const char *sha256;            /* NULL, or the 64 hex digits the file must have */
    const char *expect_name;       /* NULL, or the name the file must declare (else -AC_EINVAL, stage CHECK) */
    const json_t *input;           /* NULL: none */
    const json_t *config;          /* NULL: {} */
    int64_t deadline_ms;           /* CLOCK_MONOTONIC ms; 0: only the settings' limit */
    volatile sig_atomic_t *cancel; /* may be NULL */
    /* OUT */
    ac_node_dynskills_stage_t stage;
    bool ran;        /* run(args) was called */
    json_t *binding; /* {name, version, permissions, routes, checksum} */
    json_t *output;
    char branch[AC_SKILL_BRANCH_MAX];
    char name[AC_SKILLS_DYNFILE_NAME_MAX + 1]; /* the declared name (once the declaration was read) */
} ac_node_dynskills_trial_t;
int ac_node_dynskills_test_run(ac_node_dynskills_t *d, ac_node_dynskills_trial_t *t, ac_errmsg_t *err);

/* The same, but only when no entry of that name exists (-AC_EEXIST otherwise, decided by the rename itself): the
 * coder never replaces a file someone else made meanwhile. */
int ac_node_dynskills_write_new(ac_node_dynskills_t *d, const char *filename, const char *src, size_t len,
                                ac_errmsg_t *err);
/* How many *.lua files SKILLS_DIR holds. */
int ac_node_dynskills_count_files(ac_node_dynskills_t *d);

/* The loaded dynamic skills: [{name, version, description, permissions, routes, file, checksum}] (owned). */
json_t *ac_node_dynskills_list(ac_node_dynskills_t *d);
/* The declared permissions of a loaded dynamic skill (0 and false when def is not one). */
bool ac_node_dynskills_perms(const ac_skill_def_t *def, ac_policy_perms_t *perms);
/* How many unloaded or replaced skills callers still hold (registry.h: find and list hold what they return); each
 * is freed by its last release. For tests and diagnostics. */
size_t ac_node_dynskills_retired_held(ac_node_dynskills_t *d);

#endif
