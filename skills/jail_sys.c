/* skills/jail_sys.c - user, limits and seccomp for the sandbox helper (jail_sys.h). */
#include "skills/jail_sys.h"

#include <errno.h>
#include <grp.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

void ac_skills_jail_sys_close_fds(void)
{
    if (close_range(3, ~0U, 0) == 0)
        return;
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
        (void)close((int)fd);
}

int ac_skills_jail_sys_drop_user(uid_t uid, gid_t gid, ac_errmsg_t *err)
{
    if (geteuid() != 0)
        return 0;
    if (uid == 0 || gid == 0)
        return ac_errmsg_set(err, -AC_EPERM, "sandbox: refusing to run skills as root");
    if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
        return ac_errmsg_set(err, -AC_EPERM, "sandbox: cannot switch to uid %u: %s", (unsigned)uid, strerror(errno));
    if (setuid(0) == 0 || seteuid(0) == 0)
        return ac_errmsg_set(err, -AC_EPERM, "sandbox: root could be regained");
    return 0;
}

static int set_limit(int resource, rlim_t soft, rlim_t hard, const char *name, ac_errmsg_t *err)
{
    struct rlimit cur;
    if (getrlimit(resource, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && hard > cur.rlim_max) {
        hard = cur.rlim_max; /* an unprivileged process can only lower its hard limit */
        if (soft > hard)
            soft = hard;
    }
    struct rlimit rl = {soft, hard};
    if (setrlimit(resource, &rl) != 0)
        return ac_errmsg_set(err, -AC_EPERM, "sandbox: setrlimit(%s): %s", name, strerror(errno));
    return 0;
}

int ac_skills_jail_sys_limit(const ac_skills_jail_limits_t *lim, ac_errmsg_t *err)
{
    int rc;
    if ((rc = set_limit(RLIMIT_CORE, 0, 0, "CORE", err)) != 0 ||
        (rc = set_limit(RLIMIT_FSIZE, 0, 0, "FSIZE", err)) != 0 ||
        (rc = set_limit(RLIMIT_NOFILE, 3, 3, "NOFILE", err)) != 0 ||
        (rc = set_limit(RLIMIT_NPROC, 0, 0, "NPROC", err)) != 0 ||
        (rc = set_limit(RLIMIT_MEMLOCK, 0, 0, "MEMLOCK", err)) != 0 ||
        (rc = set_limit(RLIMIT_CPU, lim->cpu_seconds, (rlim_t)lim->cpu_seconds + 1, "CPU", err)) != 0 ||
        (rc = set_limit(RLIMIT_AS, lim->address_space, lim->address_space, "AS", err)) != 0)
        return rc;
    /* no capability survives (ambient ones from a service manager included), and the helper dies with the node */
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) /* set after the user switch, which clears it */
        return ac_errmsg_set(err, -AC_ESYS, "sandbox: prctl(PR_SET_PDEATHSIG) failed");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return ac_errmsg_set(err, -AC_EPERM, "sandbox: prctl: %s", strerror(errno));
    return 0;
}

int ac_skills_jail_sys_lock(ac_errmsg_t *err)
{
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (f == NULL)
        return ac_errmsg_set(err, -AC_ENOMEM, "sandbox: seccomp_init failed");
    int rc = 0;
    /* The channel: read the node's pipe, write the reply pipe (and stderr, which is /dev/null). */
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(read), 1, SCMP_A0(SCMP_CMP_EQ, 0));
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, 1));
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, 2));
    /* Memory (malloc): never executable. */
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(brk), 0);
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(munmap), 0);
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mremap), 0);
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(madvise), 0);
    /* Clocks (the time limit), and leaving. */
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clock_gettime), 0);
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(gettimeofday), 0);
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(time), 0);
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigreturn), 0);
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(exit), 0);
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 0);
    if (rc == 0)
        rc = seccomp_load(f);
    seccomp_release(f);
    if (rc != 0)
        return ac_errmsg_set(err, -AC_EPERM, "sandbox: cannot install the seccomp filter (%d)", rc);
    return 0;
}
