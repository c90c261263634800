/* skills/shell.c - the `shell` core skill (shell.h): settings, the sandboxed fork+execve, output and results.
 *
 * The checks and the argv come from policy/shellcmd.c; this file adds what needs the system: the fixed PATH, the
 * unprivileged user (no command runs unless the node is root and can switch to it), the scratch directory, git's
 * environment and extra arguments, and the child process. The node is multi-threaded, so between fork()
 * and execve() the child makes only async-signal-safe calls (and raw syscalls): everything that allocates (the
 * passwd lookup, the path, the environment) is prepared before fork(). The parent reads the pipe with poll()
 * against the deadline, keeps a bounded number of bytes while it drains the rest, and kills the whole process
 * group on timeout or cancel, and after the command itself exits, so nothing it started outlives the call. */
#include "skills/shell.h"

#include "node/log.h"
#include "policy/alloc.h"
#include "policy/shellcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Defaults used when shell.whitelist / shell.blocklist are absent from settings (node/config.c seeds the same). */
static const char *const default_whitelist[] = {"df",     "free",     "ps",   "uptime", "uname",
                                                "whoami", "hostname", "date", "ls",     "git"};
static const char *const default_blocklist[] = {"&&", "||", "|", ";", "`", "$(", ">", "<", "\n"};

/* Step config keys the original honoured and we ignore: limits come from settings only. */
static const char *const ignored_config_keys[] = {"whitelist", "blocklist", "timeout_seconds", "max_output_chars"};

/* Where programs are looked up, and the whole environment a command gets. */
#define SHELL_PATH "/usr/local/bin:/usr/bin:/bin"
static const char *const path_dirs[] = {"/usr/local/bin", "/usr/bin", "/bin"};
static const char *const env_plain[] = {"PATH=" SHELL_PATH, NULL};
/* git's environment: no system or user config, no system attributes, no prompt, no pager, no optional index write,
 * no lazy fetch; GIT_CEILING_DIRECTORIES=<data_dir> is added at run time, so the only repository git can find is
 * the scratch directory itself. GIT_CONFIG_COUNT entries are command-line config, which beats a repository's own
 * config: they turn off everything in it that starts a program from these read-only subcommands (fsmonitor, pager,
 * external diff, ssh, hooks, every transport, signature checkers). Textconv and diff drivers are per attribute
 * and cannot be named here: diff, show and log get --no-ext-diff --no-textconv in argv (git_extra_args). */
static const char *const env_git_fixed[] = {
    "PATH=" SHELL_PATH,
    "HOME=/nonexistent",
    "GIT_CONFIG_NOSYSTEM=1",
    "GIT_CONFIG_GLOBAL=/dev/null",
    "GIT_ATTR_NOSYSTEM=1",
    "GIT_TERMINAL_PROMPT=0",
    "GIT_PAGER=cat",
    "GIT_OPTIONAL_LOCKS=0",
    "GIT_NO_LAZY_FETCH=1",
    "GIT_CONFIG_COUNT=10",
    "GIT_CONFIG_KEY_0=core.fsmonitor",
    "GIT_CONFIG_VALUE_0=false",
    "GIT_CONFIG_KEY_1=core.pager",
    "GIT_CONFIG_VALUE_1=cat",
    "GIT_CONFIG_KEY_2=diff.external",
    "GIT_CONFIG_VALUE_2=",
    "GIT_CONFIG_KEY_3=core.sshCommand",
    "GIT_CONFIG_VALUE_3=false",
    "GIT_CONFIG_KEY_4=core.hooksPath",
    "GIT_CONFIG_VALUE_4=/dev/null",
    "GIT_CONFIG_KEY_5=protocol.allow",
    "GIT_CONFIG_VALUE_5=never",
    "GIT_CONFIG_KEY_6=gpg.program",
    "GIT_CONFIG_VALUE_6=false",
    "GIT_CONFIG_KEY_7=gpg.ssh.program",
    "GIT_CONFIG_VALUE_7=false",
    "GIT_CONFIG_KEY_8=gpg.x509.program",
    "GIT_CONFIG_VALUE_8=false",
    "GIT_CONFIG_KEY_9=log.showSignature",
    "GIT_CONFIG_VALUE_9=false",
};
#define GIT_CEILING_VAR "GIT_CEILING_DIRECTORIES="
/* Inserted right after the subcommand of the git subcommands that show diffs. */
static const char *const git_diff_subcommands[] = {"diff", "show", "log"};
static const char *const git_extra_args[] = {"--no-ext-diff", "--no-textconv"};

#define DEFAULT_USER      "nobody"
#define DEFAULT_TIMEOUT_S 30
#define MAX_TIMEOUT_S     86400
#define DEFAULT_MAX_CHARS 4000
#define MAX_MAX_CHARS     100000
#define CHILD_NPROC       64   /* processes the command's user may have while it forks */
#define EXIT_GRACE_MS     1000 /* draining after the command exited, while something else holds the pipe */
#define POLL_SLICE_MS     100  /* how often ctx->cancel is looked at */
#define REAP_MS           200  /* reaping killed members re-parented to the node */
#define SCRATCH_NAME      "shell-scratch"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(COUNT(env_git_fixed) == 10 + 2 * 10, "GIT_CONFIG_COUNT must match the GIT_CONFIG_KEY_n entries");

/* Everything the child needs, prepared before fork(). */
typedef struct child_plan {
    const char *path;  /* resolved program */
    char *const *argv; /* from ac_shellcmd_t */
    char *const *envp; /* env_plain or the git environment */
    int devnull, out_w, scratch_fd;
    uid_t uid; /* the unprivileged user the command runs as */
    gid_t gid;
    pid_t parent;
    int max_fd; /* fallback when close_range() is missing */
} child_plan_t;

/* --- the child: async-signal-safe calls only -------------------------------------------------------------------- */

static void child_die(const char *what, int code)
{
    /* stderr is the pipe by the time anything can fail after the dup2 calls; before that, fd 2 is the node's. */
    static const char pre[] = "alexclaw: ";
    (void)!write(2, pre, sizeof(pre) - 1);
    (void)!write(2, what, strlen(what));
    (void)!write(2, "\n", 1);
    _exit(code);
}

static void child_fd(int from, int to)
{
    if (from == to) {
        if (fcntl(to, F_SETFD, 0) != 0) /* dup2 would keep FD_CLOEXEC */
            child_die("cannot set up file descriptors", 126);
    } else if (dup2(from, to) != to) {
        child_die("cannot set up file descriptors", 126);
    }
}

__attribute__((noreturn)) static void child_exec(const child_plan_t *pl)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) {
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL); /* the node's handlers must not run here; reserved signals fail, harmlessly */
    }
    /* A write past RLIMIT_FSIZE fails with EFBIG instead of killing the command (git opportunistically writes). */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (setpgid(0, 0) != 0)
        child_die("cannot create a process group", 126);
    child_fd(pl->devnull, 0);
    child_fd(pl->out_w, 1);
    child_fd(pl->out_w, 2);
    if (fchdir(pl->scratch_fd) != 0)
        child_die("cannot enter the scratch directory", 126);
    /* Raw syscalls: this process has one thread, and glibc's wrappers would try to signal the parent's. */
    if (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setresgid, pl->gid, pl->gid, pl->gid) != 0 ||
        syscall(SYS_setresuid, pl->uid, pl->uid, pl->uid) != 0)
        child_die("cannot switch to the unprivileged user", 126);
    if (getuid() == 0 || geteuid() == 0 || getgid() == 0 || getegid() == 0)
        child_die("refusing to run a command as root", 126);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        child_die("cannot set no_new_privs", 126);
    /* After the identity change, which clears the parent-death signal. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != pl->parent)
        child_die("cannot tie the command to the node", 126);
    struct rlimit zero = {0, 0}, nproc = {CHILD_NPROC, CHILD_NPROC};
    if (setrlimit(RLIMIT_CORE, &zero) != 0 || setrlimit(RLIMIT_FSIZE, &zero) != 0 ||
        setrlimit(RLIMIT_NPROC, &nproc) != 0)
        child_die("cannot set resource limits", 126);
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
        for (int fd = 3; fd < pl->max_fd; fd++)
            close(fd);
    }
    execve(pl->path, pl->argv, pl->envp);
    child_die(errno == ENOENT ? "command not found" : "cannot execute the command", errno == ENOENT ? 127 : 126);
    _exit(126); /* not reached */
}

/* --- preparing the run ---------------------------------------------------------------------------------------- */

/* Loads one list setting into *items (from ac_malloc; strings borrowed from *owner, a jansson reference the caller
 * releases). Absent -> the built-in defaults. Anything but a JSON array of NUL-free strings fails closed. */
static int load_list(ac_node_settings_t *settings, const char *key, const char *const *defaults, size_t n_defaults,
                     json_t **owner, const char ***items, size_t *n, ac_skill_result_t *res)
{
    char *text = NULL;
    int rc = settings != NULL ? ac_node_settings_get_str(settings, key, &text) : -AC_ENOENT;
    *owner = NULL;
    if (rc == -AC_ENOENT) {
        *items = ac_malloc(n_defaults * sizeof(**items));
        memcpy(*items, defaults, n_defaults * sizeof(**items));
        *n = n_defaults;
        return 0;
    }
    if (rc < 0)
        return ac_skill_fail(res, "invalid_setting", "%s is unreadable", key);
    json_error_t jerr;
    json_t *arr = json_loads(text, 0, &jerr);
    free(text);
    if (!json_is_array(arr) || json_array_size(arr) > AC_SHELLCMD_LIST_MAX) {
        json_decref(arr);
        return ac_skill_fail(res, "invalid_setting", "%s is not a JSON array of at most %d strings", key,
                             AC_SHELLCMD_LIST_MAX);
    }
    *n = json_array_size(arr);
    *items = ac_malloc((*n + 1) * sizeof(**items));
    for (size_t i = 0; i < *n; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e)) {
            free(*items);
            *items = NULL;
            json_decref(arr);
            return ac_skill_fail(res, "invalid_setting", "%s entry %zu is not a plain string", key, i);
        }
        (*items)[i] = json_string_value(e);
    }
    *owner = arr;
    return 0;
}

/* A positive integer setting, clamped to [1, max]; the default when absent, unreadable or not positive. */
static int64_t limit_setting(ac_node_settings_t *settings, const char *key, int64_t def, int64_t max)
{
    int64_t v = settings != NULL ? ac_node_settings_int_or(settings, key, def) : def;
    if (v < 1)
        return def;
    return v > max ? max : v;
}

/* Finds prog in path_dirs: a regular file with an execute bit. Fills out; 0 or -1. */
static int resolve(const char *prog, char *out, size_t cap)
{
    for (size_t i = 0; i < COUNT(path_dirs); i++) {
        struct stat st;
        if ((size_t)snprintf(out, cap, "%s/%s", path_dirs[i], prog) >= cap)
            continue;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0)
            return 0;
    }
    return -1;
}

/* The unprivileged user's ids (the node runs as root), looked up here since getpwnam_r may allocate. */
static int lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
    struct passwd pw, *found = NULL;
    char buf[16384];
    if (getpwnam_r(name, &pw, buf, sizeof(buf), &found) != 0 || found == NULL)
        return -1;
    if (found->pw_uid == 0 || found->pw_gid == 0)
        return -1;
    *uid = found->pw_uid;
    *gid = found->pw_gid;
    return 0;
}

/* Creates or opens <data_dir>/shell-scratch: a real directory (never a symlink), mode 0700, owned by the user the
 * command runs as. Returns an O_CLOEXEC directory fd, or -1. */
static int scratch_open(const char *data_dir, uid_t uid, gid_t gid)
{
    char path[PATH_MAX];
    if (data_dir == NULL || data_dir[0] != '/' ||
        (size_t)snprintf(path, sizeof(path), "%s/%s", data_dir, SCRATCH_NAME) >= sizeof(path))
        return -1;
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode))
        goto Fail;
    if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) != 0)
        goto Fail;
    if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) != 0)
        goto Fail;
    return fd;
Fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Moves fd above the standard descriptors, so the child's dup2 calls cannot clobber it. */
static int above_stdio(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

/* --- output ----------------------------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0x01 && c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return len;
}

/* Appends up to max_chars characters of in[0..n) to out as valid UTF-8 (NUL and bad bytes -> U+FFFD). Sets *more
 * when characters were left over. out needs 4 * max_chars bytes. Returns the bytes written. */
static size_t utf8_take(const char *in, size_t n, size_t max_chars, char *out, bool *more)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, o = 0, chars = 0;
    while (i < n && chars < max_chars) {
        size_t len = utf8_seq(s + i, n - i);
        if (len == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i += 1;
        } else {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        }
        chars++;
    }
    *more = i < n;
    return o;
}

/* --- running ---------------------------------------------------------------------------------------------------- */

typedef struct run_out {
    char *buf; /* the first `bound` bytes of output */
    size_t len, bound;
    size_t total; /* bytes read in all */
    int status;   /* waitpid status, when reaped */
    bool reaped, timed_out, cancelled;
} run_out_t;

/* True once the command has exited (its zombie is left for waitpid). Also true when it cannot be waited for at all
 * (something set SIGCHLD to SIG_IGN and the kernel reaped it): then its exit code is unknown. */
static bool leader_exited(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    int r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
    return (r == 0 && si.si_pid == pid) || (r < 0 && errno == ECHILD);
}

static void drain(int rd, run_out_t *o, bool *eof)
{
    char chunk[16384];
    ssize_t n = read(rd, chunk, sizeof(chunk));
    if (n == 0) {
        *eof = true;
    } else if (n > 0) {
        size_t keep = o->bound - o->len < (size_t)n ? o->bound - o->len : (size_t)n;
        memcpy(o->buf + o->len, chunk, keep);
        o->len += keep;
        o->total += (size_t)n;
    } else if (errno != EAGAIN && errno != EINTR) {
        *eof = true;
    }
}

/* When the node is init (PID 1 in a container) or a child subreaper, the killed members of the group that the
 * command had started are re-parented to it: reap them, for at most REAP_MS, so they do not pile up as zombies.
 * Otherwise waitpid() says at once that none of the group is ours, and init reaps them. */
static void reap_orphans(pid_t pgid)
{
    int64_t until = ac_skill_now_ms() + REAP_MS;
    while (ac_skill_now_ms() < until) {
        pid_t r = waitpid(-pgid, NULL, WNOHANG);
        if (r < 0 && errno != EINTR)
            return; /* ECHILD: no member of the group is our child */
        if (r == 0)
            poll(NULL, 0, 5); /* a member still dying */
    }
}

/* Waits for the command: reads rd until EOF and the leader's exit, or the deadline, or a cancel. The process group
 * is killed in every case before the leader is reaped (its zombie keeps the group id from being reused). */
static void supervise(const ac_skill_ctx_t *ctx, pid_t pid, int rd, int64_t deadline, run_out_t *o)
{
    int pidfd = -1;
#ifdef SYS_pidfd_open
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    bool eof = false, exited = false;
    int64_t grace = 0;
    for (;;) {
        int64_t now = ac_skill_now_ms();
        if (ctx->cancel != NULL && *ctx->cancel) {
            o->cancelled = true;
            break;
        }
        if (!exited && leader_exited(pid)) {
            exited = true;
            kill(-pid, SIGKILL); /* whatever it left behind in its group */
            grace = now + EXIT_GRACE_MS < deadline ? now + EXIT_GRACE_MS : deadline;
        }
        if (exited && (eof || now >= grace))
            break;
        if (!exited && now >= deadline) {
            o->timed_out = true;
            break;
        }
        int64_t until = exited ? grace : deadline;
        int64_t slice = until - now < POLL_SLICE_MS ? until - now : POLL_SLICE_MS;
        if (eof && pidfd < 0 && slice > 5)
            slice = 5; /* no pidfd: look for the exit often once the output has ended */
        struct pollfd pf[2] = {{eof ? -1 : rd, POLLIN, 0}, {exited ? -1 : pidfd, POLLIN, 0}};
        int r = poll(pf, 2, (int)slice);
        if (r > 0 && !eof && pf[0].revents != 0)
            drain(rd, o, &eof);
    }
    kill(-pid, SIGKILL);
    pid_t r;
    while ((r = waitpid(pid, &o->status, 0)) < 0 && errno == EINTR)
        ;
    o->reaped = r == pid;
    if (pidfd >= 0)
        close(pidfd);
    reap_orphans(pid);
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

/* Builds the ok result of a command that ran (or was not found). */
static int ran_result(ac_skill_result_t *res, const char *cmd, int code, int64_t ms, const char *out, size_t n,
                      size_t max_chars, bool cut)
{
    size_t cap = strlen(cmd) + 96 + 4 * max_chars + 64;
    char *text = ac_malloc(cap);
    size_t len = (size_t)snprintf(text, cap, "$ %s\nExit: %d | Time: %lldms\n\n", cmd, code, (long long)ms);
    bool more = false;
    len += utf8_take(out, n, max_chars, text + len, &more);
    if (more || cut)
        len += (size_t)snprintf(text + len, cap - len, "\n\n[truncated at %zu chars]", max_chars);
    json_t *j = json_stringn(text, len);
    free(text);
    if (j == NULL)
        return ac_skill_fail(res, "spawn_failed", "output could not be encoded");
    return ac_skill_ok(res, j, code == 0 ? "on_success" : "on_error");
}

static int timeout_result(ac_skill_result_t *res, const char *cmd, int64_t effective_ms)
{
    json_t *j = json_sprintf("$ %s\nTimed out after %llds", cmd, (long long)((effective_ms + 999) / 1000));
    return ac_skill_ok(res, j, "on_timeout");
}

static const char *verdict_code(const ac_shellcmd_verdict_t *v)
{
    return ac_shellcmd_code_name(v->code);
}

static int run_pipeline(const ac_skill_ctx_t *ctx, const char *command, size_t len, ac_skill_result_t *res)
{
    json_t *wl_owner = NULL, *bl_owner = NULL;
    const char **wl = NULL, **bl = NULL;
    size_t n_wl = 0, n_bl = 0;
    ac_shellcmd_t *sc = NULL;
    int scratch = -1, devnull = -1, pipefd[2] = {-1, -1};
    int rc = -1;
    run_out_t o = {0};

    if (ctx->settings == NULL || !ac_node_settings_bool_or(ctx->settings, "shell.enabled", false))
        return ac_skill_fail(res, "shell_disabled", NULL);
    if (command == NULL || len == 0)
        return ac_skill_fail(res, "no_command", NULL);
    if (load_list(ctx->settings, "shell.whitelist", default_whitelist, COUNT(default_whitelist), &wl_owner, &wl, &n_wl,
                  res) < 0 ||
        load_list(ctx->settings, "shell.blocklist", default_blocklist, COUNT(default_blocklist), &bl_owner, &bl, &n_bl,
                  res) < 0)
        goto Exit;

    sc = ac_malloc(sizeof(*sc));
    ac_shellcmd_verdict_t v;
    ac_shellcmd_lists_t lists = {wl, n_wl, bl, n_bl};
    if (ac_shellcmd_check(command, len, &lists, sc, &v) < 0) {
        if (v.code == AC_SHELLCMD_EMPTY)
            ac_skill_fail(res, "no_command", NULL);
        else
            ac_skill_fail(res, verdict_code(&v), "%s", v.detail);
        ac_log_warn("shell", "refused", "code=%s detail=%s", verdict_code(&v), v.detail);
        goto Exit;
    }
    int64_t timeout_s = limit_setting(ctx->settings, "shell.timeout_seconds", DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S);
    size_t max_chars = (size_t)limit_setting(ctx->settings, "shell.max_output_chars", DEFAULT_MAX_CHARS, MAX_MAX_CHARS);

    /* Only as root can the command run as someone else: under the node's own uid it could read everything the
     * node can (its .env, /proc/<pid>/environ of the node and of pg_dump), whatever the checks above say. */
    const char *user = ctx->shell_user != NULL && ctx->shell_user[0] != '\0' ? ctx->shell_user : DEFAULT_USER;
    child_plan_t pl = {.argv = sc->argv, .envp = (char *const *)env_plain};
    if (geteuid() != 0) {
        ac_skill_fail(res, "no_unprivileged_user",
                      "commands only run when the node runs as root, so that they run as ALEXCLAW_SHELL_USER (%s), "
                      "never as the node's own user",
                      user);
        ac_log_warn("shell", "refused", "code=no_unprivileged_user reason=%s", "the node does not run as root");
        goto Exit;
    }
    if (lookup_user(user, &pl.uid, &pl.gid) < 0) {
        ac_skill_fail(res, "no_unprivileged_user", "%s is unknown or privileged", user);
        goto Exit;
    }

    char path[PATH_MAX];
    if (resolve(sc->argv[0], path, sizeof(path)) < 0) {
        char msg[160];
        int n = snprintf(msg, sizeof(msg), "%s: command not found in %s", sc->argv[0], SHELL_PATH);
        ac_log_info("shell", "not_found", "command=%s", sc->cmd);
        rc =
            ran_result(res, sc->cmd, 127, 0, msg, n < (int)sizeof(msg) ? (size_t)n : sizeof(msg) - 1, max_chars, false);
        goto Exit;
    }
    pl.path = path;

    /* git: its fixed environment plus the ceiling, and diff/show/log with external diff and textconv off. Built
     * here, before fork(): the child may not allocate. */
    char *git_argv[AC_SHELLCMD_MAX_ARGS + COUNT(git_extra_args) + 1];
    char *git_env[COUNT(env_git_fixed) + 2];
    char ceiling[sizeof(GIT_CEILING_VAR) + PATH_MAX];
    if (sc->is_git) {
        /* GIT_CEILING_DIRECTORIES is a ':'-separated list: a data directory holding ':' cannot be named in it. */
        if (ctx->data_dir == NULL || strchr(ctx->data_dir, ':') != NULL ||
            (size_t)snprintf(ceiling, sizeof(ceiling), GIT_CEILING_VAR "%s", ctx->data_dir) >= sizeof(ceiling)) {
            ac_skill_fail(res, "scratch_dir", "the data directory cannot be named in GIT_CEILING_DIRECTORIES");
            goto Exit;
        }
        size_t n = 0;
        for (size_t i = 0; i < COUNT(env_git_fixed); i++)
            git_env[n++] = (char *)env_git_fixed[i];
        git_env[n++] = ceiling;
        git_env[n] = NULL;
        pl.envp = git_env;
        bool diffs = false;
        for (size_t i = 0; i < COUNT(git_diff_subcommands); i++)
            diffs = diffs || strcmp(sc->argv[1], git_diff_subcommands[i]) == 0;
        if (diffs) {
            n = 0;
            git_argv[n++] = sc->argv[0];
            git_argv[n++] = sc->argv[1];
            for (size_t i = 0; i < COUNT(git_extra_args); i++)
                git_argv[n++] = (char *)git_extra_args[i];
            for (size_t i = 2; i < sc->argc; i++)
                git_argv[n++] = sc->argv[i];
            git_argv[n] = NULL;
            pl.argv = git_argv;
        }
    }

    scratch = above_stdio(scratch_open(ctx->data_dir, pl.uid, pl.gid));
    if (scratch < 0) {
        ac_skill_fail(res, "scratch_dir", "cannot prepare <data_dir>/%s", SCRATCH_NAME);
        goto Exit;
    }
    devnull = above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (devnull < 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
        ac_skill_fail(res, "spawn_failed", "%s", strerror(errno));
        goto Exit;
    }
    pipefd[0] = above_stdio(pipefd[0]);
    pipefd[1] = above_stdio(pipefd[1]);
    if (pipefd[0] < 0 || pipefd[1] < 0 || fcntl(pipefd[0], F_SETFL, O_NONBLOCK) != 0) {
        ac_skill_fail(res, "spawn_failed", "cannot set up the output pipe");
        goto Exit;
    }
    struct rlimit nofile;
    pl.max_fd = getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536 ? (int)nofile.rlim_cur : 65536;
    pl.devnull = devnull;
    pl.out_w = pipefd[1];
    pl.scratch_fd = scratch;
    pl.parent = getpid();

    int64_t left = ac_skill_ms_left(ctx);
    int64_t effective_ms = timeout_s * 1000 < left ? timeout_s * 1000 : left;
    if (ctx->cancel != NULL && *ctx->cancel) {
        ac_skill_fail(res, "cancelled", NULL);
        goto Exit;
    }
    ac_log_info("shell", "run", "command=%s user=%s timeout_ms=%lld", sc->cmd, user, (long long)effective_ms);
    if (effective_ms <= 0) {
        rc = timeout_result(res, sc->cmd, effective_ms);
        goto Exit;
    }

    o.bound = 4 * max_chars + 4; /* more bytes than that always hold more than max_chars characters */
    o.buf = ac_malloc(o.bound);
    int64_t t0 = ac_skill_now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        ac_skill_fail(res, "spawn_failed", "fork: %s", strerror(errno));
        goto Exit;
    }
    if (pid == 0)
        child_exec(&pl);
    /* Also from this side, so that a kill of the group right away (a cancel) cannot miss a child that has not yet
     * run its own setpgid(); fails harmlessly once the child has exec'd. */
    setpgid(pid, pid);
    close(pipefd[1]);
    pipefd[1] = -1;
    supervise(ctx, pid, pipefd[0], t0 + effective_ms, &o);
    int64_t ms = ac_skill_now_ms() - t0;

    if (o.cancelled) {
        ac_log_info("shell", "cancelled", "command=%s ms=%lld", sc->cmd, (long long)ms);
        ac_skill_fail(res, "cancelled", NULL);
    } else if (o.timed_out) {
        ac_log_info("shell", "timeout", "command=%s ms=%lld", sc->cmd, (long long)ms);
        rc = timeout_result(res, sc->cmd, effective_ms);
    } else {
        int code = o.reaped ? exit_code(o.status) : -1;
        ac_log_info("shell", "done", "command=%s exit=%d ms=%lld bytes=%zu", sc->cmd, code, (long long)ms, o.total);
        rc = ran_result(res, sc->cmd, code, ms, o.buf, o.len, max_chars, o.total > o.len);
    }

Exit:
    free(o.buf);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    if (devnull >= 0)
        close(devnull);
    if (scratch >= 0)
        close(scratch);
    free(sc);
    free(wl);
    free(bl);
    json_decref(wl_owner);
    json_decref(bl_owner);
    return rc;
}

/* --- the skill -------------------------------------------------------------------------------------------------- */

static int shell_run(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, ac_skill_result_t *res)
{
    char ignored[96] = "";
    for (size_t i = 0; i < COUNT(ignored_config_keys); i++) {
        if (json_object_get(args->config, ignored_config_keys[i]) != NULL) {
            size_t n = strlen(ignored);
            snprintf(ignored + n, sizeof(ignored) - n, "%s%s", n > 0 ? "," : "", ignored_config_keys[i]);
        }
    }
    if (ignored[0] != '\0')
        ac_log_warn("shell", "config_ignored", "keys=%s reason=%s", ignored, "limits come from shell.* settings");
    json_t *c = json_object_get(args->config, "command");
    if (json_is_string(c))
        return run_pipeline(ctx, json_string_value(c), json_string_length(c), res);
    /* Never the previous step's output (the original ran it). shell.enabled is still reported first. */
    return run_pipeline(ctx, NULL, 0, res);
}

int ac_skills_shell_run_command(const ac_skill_ctx_t *ctx, const char *command, ac_skill_result_t *res)
{
    return run_pipeline(ctx, command, command != NULL ? strlen(command) : 0, res);
}

static const char *const shell_routes[] = {"on_success", "on_error", "on_timeout", NULL};

const ac_skill_def_t ac_skills_shell = {
    .name = "shell",
    .description = "Runs a whitelisted diagnostic command without a shell (disabled unless shell.enabled is true).",
    .routes = shell_routes,
    .config_hint = "command",
    .external = false,
    .run = shell_run,
};
