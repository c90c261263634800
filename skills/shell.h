/* skills/shell.h - the `shell` core skill: a whitelisted diagnostic command, run without a shell.
 *
 * Layers (seed/SECURITY.md, reference 5.7, issue 3): `shell.enabled` must be true; the command comes only from the
 * step config's "command" (never from the previous step's output); policy/shellcmd.h checks it against the settings
 * whitelist (word-boundary rule) and blocklist and parses it into an argv with our extra rules (exact program word,
 * no path, ASCII only, read-only git); the program is resolved in the fixed PATH /usr/local/bin:/usr/bin:/bin and
 * started with fork+execve in its own process group, stdin /dev/null, stdout and stderr on one pipe, no other file
 * descriptors, an environment of PATH alone (plus fixed GIT_* variables and HOME=/nonexistent for git), cwd
 * <data_dir>/shell-scratch, no new privileges, a parent-death SIGKILL, no core files, no file growth (RLIMIT_FSIZE
 * 0; SIGXFSZ is ignored so such a write fails with EFBIG instead of killing the command) and a small process
 * limit. Commands run only when the node runs as root, and then as ctx->shell_user ("nobody" by default), never as
 * root: a node that does not run as root refuses every command (no_unprivileged_user), because under the node's
 * own uid a command could read the node's secrets (its .env file; the environment of the node's processes, e.g.
 * pg_dump's PGPASSWORD, through ps e) whatever the checks say.
 * Step config keys whitelist, blocklist, timeout_seconds and max_output_chars are ignored (with a warning): limits
 * come from settings shell.timeout_seconds (30, at most 86400) and shell.max_output_chars (4000, at most 100000;
 * a value that is not a positive integer means the default); the effective timeout is the smaller of that and the
 * time left to ctx->deadline_ms. On timeout or cancel, and once the command itself has exited, the whole process
 * group is killed (a process that leaves the group with setsid() is out of reach: that needs a PID namespace or a
 * cgroup). When the node is PID 1 or a subreaper, killed members re-parented to it are reaped.
 * Git runs with cwd in the scratch directory and GIT_CEILING_DIRECTORIES=<data_dir>, so the only repository it can
 * find is the scratch directory itself (which holds nothing: no command can write a byte); git fails early when
 * the shell user cannot traverse the path to <data_dir>. Outside a repository, git diff compares two paths as if
 * --no-index were given: policy/shellcmd.h refuses operands that are absolute, start with '~' or hold "..". The
 * environment also overrides, as command-line config, every repository setting that would start a program from
 * these subcommands (core.fsmonitor, core.pager, diff.external, core.sshCommand, core.hooksPath, protocol.allow,
 * gpg.*program, log.showSignature), and diff, show and log run with --no-ext-diff --no-textconv inserted after the
 * subcommand (the result still shows the command as written).
 *
 * Results (reference 5.7):
 * - ran:       ok, "$ <cmd>\nExit: <code> | Time: <ms>ms\n\n<output>" (+ "\n\n[truncated at <max> chars]"),
 *              branch on_success for exit 0, on_error otherwise (a non-zero exit is still a successful call).
 *              <output> is stdout and stderr interleaved, cut at <max> characters (UTF-8 code points; each byte of
 *              invalid UTF-8, and each NUL, becomes one U+FFFD so the output is always valid text). A command
 *              killed by signal S reports exit 128+S; -1 when the exit status could not be collected.
 * - not found: the program is not in the fixed PATH: ok with exit 127 and "<prog>: command not found in <PATH>"
 *              as the output, branch on_error (like a shell; the original reported exit 1). A program that exists
 *              but cannot be executed, or a failed sandbox step in the child, reports exit 126 and one line saying
 *              which step failed.
 * - timeout:   ok, "$ <cmd>\nTimed out after <N>s", branch on_timeout.
 * - errors:    shell_disabled, no_command, not_whitelisted: <cmd>, blocked_metachar: <element>, parse_error,
 *              non_ascii, git_not_allowed, option_not_allowed (date -s/-f, ps e, hostname NAME),
 *              invalid_setting (a malformed shell.whitelist or shell.blocklist: fail closed),
 *              no_unprivileged_user (the node does not run as root; or ctx->shell_user is unknown or maps to uid 0
 *              or gid 0), scratch_dir (the scratch directory cannot be made safe, or a git command and a data
 *              directory holding ':'), spawn_failed, cancelled. Policy refusals come before no_unprivileged_user.
 * The command is logged at info; its output never is. */
#ifndef AC_SKILLS_SHELL_H
#define AC_SKILLS_SHELL_H

#include "skills/skill.h"

/* The skill definition: name "shell", routes on_success, on_error, on_timeout; config hint "command". */
extern const ac_skill_def_t ac_skills_shell;

/* Runs `command` (NUL-terminated) through the same pipeline as the skill, for the chat `/shell <cmd>` path. The
 * 2FA gate is the caller's job; shell.enabled is still checked here. Returns 0 with res->output (owned by res) and
 * res->branch set, or -1 with res->error set, exactly like the skill. */
int ac_skills_shell_run_command(const ac_skill_ctx_t *ctx, const char *command, ac_skill_result_t *res);

#endif
