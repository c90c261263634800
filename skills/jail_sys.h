/* skills/jail_sys.h - the operating-system walls of the SkillAPI sandbox helper (alexclaw-sandbox, issue 7): the
 * unprivileged user, resource limits, no new privileges and the seccomp-bpf allow-list. Runs inside the helper
 * only (never in the node), in this order: drop_user before reading anything, limits, then lock once the Lua state
 * is ready and before any skill code is parsed.
 *
 * After ac_skills_jail_sys_lock() the process can only read fd 0, write fds 1 and 2, manage its own memory (no
 * executable mappings), read clocks and exit; any other system call kills it with SIGSYS (no open, socket, fork,
 * execve, kill, ptrace, setrlimit, prlimit64, ...). */
#ifndef AC_SKILLS_JAIL_SYS_H
#define AC_SKILLS_JAIL_SYS_H

#include "policy/error.h"

#include <stddef.h>
#include <sys/types.h>

typedef struct ac_skills_jail_limits {
    unsigned cpu_seconds; /* RLIMIT_CPU soft limit (SIGXCPU); hard limit one second more */
    size_t address_space; /* RLIMIT_AS in bytes (a backstop behind the Lua allocator's own cap) */
} ac_skills_jail_limits_t;

/* Closes every descriptor above 2. */
void ac_skills_jail_sys_close_fds(void);

/* When running as root: drops supplementary groups and switches real, effective and saved ids to uid/gid (never
 * 0), then checks that root cannot be regained. When not root: nothing to drop (the helper keeps the node's user;
 * seccomp still applies). Returns 0 or -AC_EPERM. */
int ac_skills_jail_sys_drop_user(uid_t uid, gid_t gid, ac_errmsg_t *err);

/* No core dumps, no files written (RLIMIT_FSIZE 0), no new descriptors, no processes, the CPU and address-space
 * limits, no ambient capabilities, SIGKILL when the node dies (PR_SET_PDEATHSIG), PR_SET_NO_NEW_PRIVS and not
 * dumpable (no ptrace by other processes of the same user). Call after ac_skills_jail_sys_drop_user. */
int ac_skills_jail_sys_limit(const ac_skills_jail_limits_t *lim, ac_errmsg_t *err);

/* Installs the seccomp allow-list (described above). Irreversible. */
int ac_skills_jail_sys_lock(ac_errmsg_t *err);

#endif
