/* skills/sandbox.h - the SafeExecutor, node side (issue 7): runs one dynamic skill call, or reads one skill's
 * declaration, in a fresh alexclaw-sandbox process (skills/jail_main.c) and serves the SkillAPI calls it makes.
 *
 * The helper is started with posix_spawn (never a fork of the multi-threaded node), an empty environment, its
 * own process group, default signal dispositions, stdin/stdout as the channel's two pipes and stderr on
 * /dev/null; when the node runs as root it is told to switch to opts->uid/gid before reading anything. This side
 * treats everything from the helper as hostile: frames are parsed by skills/channel.h, each call is handed to the
 * caller's `serve` function (which checks permissions; see node/skillapi.h) and answered, and the process is killed
 * with SIGKILL at the wall-clock deadline, on cancellation, on a protocol violation, or when it does not exit
 * promptly after its "done" message. It is always reaped before ac_skills_sandbox_run returns.
 *
 * Callers ignore SIGPIPE (the node does): a helper that dies while we write its reply must not kill us. */
#ifndef AC_SKILLS_SANDBOX_H
#define AC_SKILLS_SANDBOX_H

#include "policy/error.h"
#include "skills/channel.h"

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AC_SKILLS_SANDBOX_MEMORY_DEFAULT (64u * 1024 * 1024) /* bytes for the Lua state */
#define AC_SKILLS_SANDBOX_WALL_DEFAULT   30000               /* ms, as the original's SafeExecutor */
#define AC_SKILLS_SANDBOX_DECLARE_MEMORY (16u * 1024 * 1024) /* reading a declaration: tight limits */
#define AC_SKILLS_SANDBOX_DECLARE_WALL   2000

typedef struct ac_skills_sandbox_opts {
    const char *helper; /* the alexclaw-sandbox binary (ac_skills_sandbox_helper_path) */
    uid_t uid;          /* who the helper becomes when the node is root (never 0) */
    gid_t gid;
    size_t memory;                 /* bytes for the Lua state (0: the default) */
    unsigned wall_ms;              /* wall-clock limit (0: the default); CPU time is limited to the same */
    volatile sig_atomic_t *cancel; /* may be NULL; polled every 100 ms */
} ac_skills_sandbox_opts_t;

/* Serves one SkillAPI call. Returns 0 with *result (owned; NULL means JSON null), -1 with err filled (a short
 * text the skill sees, e.g. "permission_denied"), or -2 with err filled: stop this skill (it is killed; outcome
 * killed, "sandbox_violation: stopped: <err>"). Runs on the calling thread while the helper waits. */
typedef int (*ac_skills_sandbox_serve_fn)(void *ud, const ac_skills_channel_msg_t *call, json_t **result, char *err,
                                          size_t errcap);

typedef enum {
    AC_SKILLS_SANDBOX_OK = 0,    /* the skill returned ok: output and branch set */
    AC_SKILLS_SANDBOX_FAILED,    /* the skill returned an error, or its Lua failed: error says what */
    AC_SKILLS_SANDBOX_TIMEOUT,   /* killed at the wall-clock deadline */
    AC_SKILLS_SANDBOX_KILLED,    /* died: forbidden system call (SIGSYS), CPU limit, crash */
    AC_SKILLS_SANDBOX_PROTOCOL,  /* broke the channel's rules, and was killed */
    AC_SKILLS_SANDBOX_CANCELLED, /* the run was cancelled, and the helper killed */
} ac_skills_sandbox_outcome_t;

typedef struct ac_skills_sandbox_result {
    ac_skills_sandbox_outcome_t outcome;
    json_t *output; /* owned; NULL for none */
    char branch[AC_SKILLS_CHANNEL_BRANCH_MAX];
    char error[AC_SKILLS_CHANNEL_ERROR_MAX];
    unsigned calls;     /* SkillAPI calls served */
    pid_t pid;          /* the helper's process id (gone once ac_skills_sandbox_run returned) */
    int64_t elapsed_ms; /* from spawn to reaped */
} ac_skills_sandbox_result_t;

/* Short name of an outcome ("ok", "failed", "timeout", "killed", "protocol", "cancelled"). */
const char *ac_skills_sandbox_outcome_name(ac_skills_sandbox_outcome_t o);

/* The helper next to the running executable (<dir of /proc/self/exe>/alexclaw-sandbox), owned by root or by us and
 * writable by nobody else. Returns 0, -AC_ENOENT, or -AC_EPERM. */
int ac_skills_sandbox_helper_path(char *buf, size_t cap, ac_errmsg_t *err);

/* Runs the helper once. mode "declare": reads the declaration (tight limits, no SkillAPI; args ignored); the
 * output is the raw declaration object, for ac_skills_sandbox_declaration to check. mode "run": calls run(args).
 * src is the skill's Lua text (valid UTF-8), already checked by skills/dynfile.h. Returns 0 when the helper ran,
 * whatever its outcome (res says), or a negative code when it could not be started (err says why). */
int ac_skills_sandbox_run(const ac_skills_sandbox_opts_t *opts, const char *mode, const char *name, const char *src,
                          size_t len, const json_t *args, ac_skills_sandbox_serve_fn serve, void *ud,
                          ac_skills_sandbox_result_t *res, ac_errmsg_t *err);
void ac_skills_sandbox_result_clear(ac_skills_sandbox_result_t *res);

#endif
