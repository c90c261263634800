/* skills/sandbox.c - the SafeExecutor's node side (sandbox.h). */
#include "skills/sandbox.h"

#include "policy/alloc.h"
#include "skills/skill.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_GRACE_MS 1000 /* after "done", time to exit before SIGKILL */
#define POLL_SLICE_MS 100  /* cancellation is noticed within this */

const char *ac_skills_sandbox_outcome_name(ac_skills_sandbox_outcome_t o)
{
    static const char *const names[] = {"ok", "failed", "timeout", "killed", "protocol", "cancelled"};
    return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "unknown";
}

int ac_skills_sandbox_helper_path(char *buf, size_t cap, ac_errmsg_t *err)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return ac_errmsg_set(err, -AC_ENOENT, "sandbox: cannot find the running executable");
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL)
        return ac_errmsg_set(err, -AC_ENOENT, "sandbox: cannot find the running executable");
    *slash = '\0';
    if ((size_t)snprintf(buf, cap, "%s/alexclaw-sandbox", self) >= cap)
        return ac_errmsg_set(err, -AC_ETOOLONG, "sandbox: path too long");
    struct stat st;
    if (access(buf, X_OK) != 0 || stat(buf, &st) != 0)
        return ac_errmsg_set(err, -AC_ENOENT, "sandbox: %s is missing (build it with the node)", buf);
    /* the node runs it (as root, when it is root): it must be as trustworthy as the node's own binary */
    if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return ac_errmsg_set(err, -AC_EPERM, "sandbox: %s may be changed by another user; refusing to run it", buf);
    return 0;
}

void ac_skills_sandbox_result_clear(ac_skills_sandbox_result_t *res)
{
    json_decref(res->output);
    memset(res, 0, sizeof(*res));
}

typedef struct run {
    pid_t pid;
    int to_child, from_child;
    int64_t deadline;
    volatile sig_atomic_t *cancel;
    uint8_t *buf; /* what the helper sent and we have not parsed yet */
    size_t len;
    ac_skills_sandbox_result_t *res;
} run_t;

/* error = what + detail (detail may be NULL), cut to fit. */
static void set_outcome(run_t *r, ac_skills_sandbox_outcome_t o, const char *what, const char *detail)
{
    r->res->outcome = o;
    size_t n = strlen(what);
    if (n >= sizeof(r->res->error))
        n = sizeof(r->res->error) - 1;
    memcpy(r->res->error, what, n);
    r->res->error[n] = '\0';
    if (detail != NULL) {
        size_t d = strlen(detail);
        if (d > sizeof(r->res->error) - 1 - n)
            d = sizeof(r->res->error) - 1 - n;
        memcpy(r->res->error + n, detail, d);
        r->res->error[n + d] = '\0';
    }
}

/* Waits for the helper's next readable bytes or the deadline. 1: readable, 0: deadline or cancel (outcome set). */
static int wait_readable(run_t *r)
{
    for (;;) {
        if (r->cancel != NULL && *r->cancel) {
            set_outcome(r, AC_SKILLS_SANDBOX_CANCELLED, "cancelled", NULL);
            return 0;
        }
        int64_t left = r->deadline - ac_skill_now_ms();
        if (left <= 0) {
            set_outcome(r, AC_SKILLS_SANDBOX_TIMEOUT, "skill_timeout: ran longer than the time limit", NULL);
            return 0;
        }
        struct pollfd p = {r->from_child, POLLIN, 0};
        int n = poll(&p, 1, (int)(left < POLL_SLICE_MS ? left : POLL_SLICE_MS));
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return 1; /* let read() report it */
    }
}

/* Writes a whole frame to the helper within the deadline. 0, or -1 when it cannot be delivered. */
static int write_frame(run_t *r, const uint8_t *f, size_t n)
{
    while (n > 0) {
        int64_t left = r->deadline - ac_skill_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = {r->to_child, POLLOUT, 0};
        int pr = poll(&p, 1, (int)(left < POLL_SLICE_MS ? left : POLL_SLICE_MS));
        if (pr < 0 && errno != EINTR)
            return -1;
        if (pr <= 0)
            continue;
        ssize_t w = write(r->to_child, f, n);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w <= 0)
            return -1;
        f += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until one whole frame is buffered; parses it. 1: a message in *m; 0: ended (outcome set or EOF: -1). */
static int next_msg(run_t *r, ac_skills_channel_msg_t *m)
{
    for (;;) {
        const uint8_t *payload;
        size_t plen, used;
        int fr = ac_skills_channel_frame(r->buf, r->len, &payload, &plen, &used);
        if (fr < 0) {
            set_outcome(r, AC_SKILLS_SANDBOX_PROTOCOL, "sandbox: the skill broke the channel (bad frame)", NULL);
            return 0;
        }
        if (fr == 0) {
            ac_errmsg_t perr = {{0}};
            int rc = ac_skills_channel_parse(payload, plen, m, &perr);
            memmove(r->buf, r->buf + used, r->len - used);
            r->len -= used;
            if (rc != 0) {
                set_outcome(r, AC_SKILLS_SANDBOX_PROTOCOL, "sandbox: the skill broke the channel: ", perr.msg);
                return 0;
            }
            return 1;
        }
        if (!wait_readable(r))
            return 0;
        size_t room = (size_t)AC_SKILLS_CHANNEL_FRAME_MAX + 4 - r->len;
        ssize_t n = read(r->from_child, r->buf + r->len, room > 65536 ? 65536 : room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        r->len += (size_t)n;
    }
}

/* Reads and drops whatever comes until EOF or until_ms (CLOCK_MONOTONIC). */
static void await_eof(int fd, int64_t until_ms)
{
    char sink[4096];
    for (;;) {
        int64_t left = until_ms - ac_skill_now_ms();
        if (left <= 0)
            return;
        struct pollfd p = {fd, POLLIN, 0};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        ssize_t got = read(fd, sink, sizeof(sink));
        if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
            return;
    }
}

/* Reaps the helper: waits up to grace_ms for it to exit, then kills it. Returns the wait status. */
static int reap(pid_t pid, int64_t grace_ms, bool kill_now)
{
    int status = 0;
    if (kill_now)
        (void)kill(pid, SIGKILL);
    int64_t until = ac_skill_now_ms() + grace_ms;
    for (;;) {
        pid_t w = waitpid(pid, &status, kill_now ? 0 : WNOHANG);
        if (w == pid)
            return status;
        if (w < 0 && errno != EINTR)
            return 0;
        if (w == 0 && ac_skill_now_ms() >= until) {
            (void)kill(pid, SIGKILL);
            kill_now = true;
            continue;
        }
        if (w == 0) {
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

/* How a helper that ended without "done" died. */
static void explain_death(run_t *r, int status)
{
    char detail[96];
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGSYS)
            snprintf(detail, sizeof(detail), "sandbox_violation: a forbidden system call (killed by SIGSYS)");
        else if (sig == SIGXCPU)
            snprintf(detail, sizeof(detail), "sandbox_violation: CPU time limit exceeded");
        else
            snprintf(detail, sizeof(detail), "sandbox_crash: killed by signal %d (%s)", sig, strsignal(sig));
    } else if (WIFEXITED(status)) {
        snprintf(detail, sizeof(detail), "sandbox_crash: exited with status %d without an answer", WEXITSTATUS(status));
    } else {
        snprintf(detail, sizeof(detail), "sandbox_crash: ended without an answer");
    }
    set_outcome(r, AC_SKILLS_SANDBOX_KILLED, detail, NULL);
}

static int spawn(const ac_skills_sandbox_opts_t *opts, run_t *r, ac_errmsg_t *err)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0)
                close(in[i]);
            if (out[i] >= 0)
                close(out[i]);
        }
        return ac_errmsg_set(err, -AC_ESYS, "sandbox: pipe: %s", strerror(e));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* nothing else of the node's crosses, CLOEXEC or not */
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    char uid[24], gid[24];
    snprintf(uid, sizeof(uid), "%u", (unsigned)opts->uid);
    snprintf(gid, sizeof(gid), "%u", (unsigned)opts->gid);
    char *argv[6] = {(char *)"alexclaw-sandbox", NULL, NULL, NULL, NULL, NULL};
    if (geteuid() == 0) {
        argv[1] = (char *)"--uid";
        argv[2] = uid;
        argv[3] = (char *)"--gid";
        argv[4] = gid;
    }
    char *envp[] = {NULL};
    int rc = posix_spawn(&r->pid, opts->helper, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        return ac_errmsg_set(err, -AC_ESYS, "sandbox: cannot start %s: %s", opts->helper, strerror(rc));
    }
    r->to_child = in[1];
    r->from_child = out[0];
    (void)fcntl(r->to_child, F_SETFL, O_NONBLOCK);
    return 0;
}

/* Serves calls until "done", the deadline, or a violation. Returns with outcome set, or -1 on EOF. */
static int converse(run_t *r, ac_skills_sandbox_serve_fn serve, void *ud)
{
    for (;;) {
        ac_skills_channel_msg_t m;
        int got = next_msg(r, &m);
        if (got <= 0)
            return got;
        if (m.kind == AC_SKILLS_CHANNEL_DONE) {
            r->res->outcome = m.ok ? AC_SKILLS_SANDBOX_OK : AC_SKILLS_SANDBOX_FAILED;
            if (m.ok) {
                r->res->output = json_is_null(m.output) ? NULL : m.output; /* nil and null are "no output" */
                if (r->res->output == NULL)
                    json_decref(m.output);
                m.output = NULL;
                snprintf(r->res->branch, sizeof(r->res->branch), "%s", m.branch);
            } else {
                snprintf(r->res->error, sizeof(r->res->error), "%s", m.error);
            }
            ac_skills_channel_msg_clear(&m);
            return 1;
        }
        json_t *result = NULL;
        char errbuf[AC_SKILLS_CHANNEL_ERROR_MAX] = "";
        int rc = serve != NULL ? serve(ud, &m, &result, errbuf, sizeof(errbuf)) : -1;
        if (serve == NULL)
            snprintf(errbuf, sizeof(errbuf), "SkillAPI is not available here");
        r->res->calls++;
        if (rc == -2) { /* the server says stop: the skill is killed, and its error says why */
            json_decref(result);
            ac_skills_channel_msg_clear(&m);
            set_outcome(r, AC_SKILLS_SANDBOX_KILLED, "sandbox_violation: stopped: ", errbuf);
            return 0;
        }
        uint8_t *frame = NULL;
        size_t flen = 0;
        int er = ac_skills_channel_reply(m.id, rc == 0, result, errbuf, &frame, &flen);
        if (er == -AC_ETOOLONG)
            er = ac_skills_channel_reply(m.id, false, NULL, "result too large (over 1 MiB)", &frame, &flen);
        else if (er != 0) /* a result or an error text that does not encode: the skill still gets an answer */
            er = ac_skills_channel_reply(m.id, false, NULL, "the node could not encode its answer", &frame, &flen);
        json_decref(result);
        ac_skills_channel_msg_clear(&m);
        if (er != 0 || write_frame(r, frame, flen) != 0) {
            free(frame);
            if (ac_skill_now_ms() >= r->deadline)
                set_outcome(r, AC_SKILLS_SANDBOX_TIMEOUT, "skill_timeout: ran longer than the time limit", NULL);
            else
                return -1;
            return 0;
        }
        free(frame);
    }
}

int ac_skills_sandbox_run(const ac_skills_sandbox_opts_t *opts, const char *mode, const char *name, const char *src,
                          size_t len, const json_t *args, ac_skills_sandbox_serve_fn serve, void *ud,
                          ac_skills_sandbox_result_t *res, ac_errmsg_t *err)
{
    memset(res, 0, sizeof(*res));
    bool declare = strcmp(mode, "declare") == 0;
    size_t memory = declare             ? AC_SKILLS_SANDBOX_DECLARE_MEMORY
                    : opts->memory != 0 ? opts->memory
                                        : AC_SKILLS_SANDBOX_MEMORY_DEFAULT;
    unsigned wall = declare              ? AC_SKILLS_SANDBOX_DECLARE_WALL
                    : opts->wall_ms != 0 ? opts->wall_ms
                                         : AC_SKILLS_SANDBOX_WALL_DEFAULT;
    json_t *srcj = json_stringn(src, len);
    if (srcj == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "sandbox: the skill's source is not valid UTF-8 text");
    json_t *start = json_pack("{s:s, s:s, s:o, s:O?, s:I, s:I, s:I}", "mode", declare ? "declare" : "run", "name", name,
                              "source", srcj, "args", declare ? NULL : (json_t *)args, "memory", (json_int_t)memory,
                              "cpu_seconds", (json_int_t)((wall + 999) / 1000), "wall_ms", (json_int_t)wall);
    if (start != NULL && !declare && !json_is_object(args)) {
        json_decref(start);
        start = NULL;
    }
    uint8_t *frame = NULL;
    size_t flen = 0;
    int rc = start != NULL ? ac_skills_channel_encode(start, &frame, &flen) : -AC_EINVAL;
    json_decref(start);
    if (rc == -AC_ETOOLONG)
        return ac_errmsg_set(err, rc, "sandbox: the skill's source and arguments exceed 1 MiB");
    if (rc != 0)
        return ac_errmsg_set(err, rc, "sandbox: bad arguments for %s", name);

    run_t r = {.pid = -1, .res = res, .cancel = opts->cancel};
    int64_t t0 = ac_skill_now_ms();
    /* the helper's own deadline is wall; ours adds a little for it to report its own timeout first */
    r.deadline = t0 + wall + 500;
    if ((rc = spawn(opts, &r, err)) != 0) {
        free(frame);
        return rc;
    }
    res->pid = r.pid;
    r.buf = ac_malloc((size_t)AC_SKILLS_CHANNEL_FRAME_MAX + 4);
    int outcome = write_frame(&r, frame, flen) == 0 ? converse(&r, serve, ud) : -1;
    free(frame);
    close(r.to_child);
    if (outcome != 0) /* it is exiting: its end of the pipe closes when it has (no sleeping in reap) */
        await_eof(r.from_child, outcome == 1 ? ac_skill_now_ms() + EXIT_GRACE_MS : r.deadline);
    close(r.from_child);
    free(r.buf);
    if (outcome == 1) {
        (void)reap(r.pid, EXIT_GRACE_MS, false); /* said done: it exits by itself */
    } else if (outcome == 0) {
        (void)reap(r.pid, 0, true); /* timeout, cancel, violation */
    } else {
        /* EOF or a broken pipe: it is dying; give it until the deadline to say how */
        int64_t left = r.deadline - ac_skill_now_ms();
        int status = reap(r.pid, left > 0 ? left : 0, false);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && ac_skill_now_ms() >= r.deadline)
            set_outcome(&r, AC_SKILLS_SANDBOX_TIMEOUT, "skill_timeout: ran longer than the time limit", NULL);
        else
            explain_death(&r, status);
    }
    res->elapsed_ms = ac_skill_now_ms() - t0;
    return 0;
}
