/* epmd/client.c - the EPMD client of client.h: register, PORT_PLEASE2, NAMES, and starting a detached daemon.
 *
 * Each request is one short TCP exchange (the registration keeps its connection: that connection *is* the
 * registration). Sockets are non-blocking from the start and every step waits in poll() against one deadline taken
 * from CLOCK_MONOTONIC, so a stuck or hostile EPMD costs at most the caller's timeout. The messages themselves are
 * encoded and decoded by proto.c; this file only moves bytes.
 *
 * ensure_daemon() follows what `erl` does with `epmd -daemon`, with the care a threaded caller needs: argv is built
 * before fork, and between fork and exec only async-signal-safe calls run (another thread may hold malloc's lock). */
#include "epmd/client.h"

#include "epmd/proto.h"
#include "policy/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_HOST     "127.0.0.1"
#define PROBE_TIMEOUT_MS 1000

/* ---- deadlines and socket steps ----------------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for `events` or the deadline passes. Returns 0, -AC_ETIMEDOUT or -AC_ESYS. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return -AC_ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 0; /* ready, or POLLERR/POLLHUP: the next call says which */
        if (n < 0 && errno != EINTR)
            return -AC_ESYS;
    }
}

typedef struct target {
    const char *host;
    uint16_t port;
} target_t;

/* Resolves host and port defaults. */
static int target_init(target_t *t, const char *host, uint16_t port, ac_errmsg_t *err)
{
    t->host = host != NULL && host[0] != '\0' ? host : DEFAULT_HOST;
    t->port = port;
    return port != 0 ? 0 : ac_epmd_client_env_port(&t->port, err);
}

/* Connects to t within the deadline, trying each resolved address in turn. Returns 0 with *fd_out set (non-blocking,
 * close-on-exec, TCP_NODELAY), or a negative code with err set. */
static int connect_to(const target_t *t, int64_t deadline, int *fd_out, ac_errmsg_t *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    int fd = -1, ret, last_errno = ECONNREFUSED;
    bool timed_out = false;

    *fd_out = -1;
    snprintf(service, sizeof(service), "%u", t->port);
    if ((ret = getaddrinfo(t->host, service, &hints, &res)) != 0)
        return ac_errmsg_set(err, -AC_EIO, "cannot resolve EPMD host %s: %s", t->host, gai_strerror(ret));
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int one = 1, soerr = 0;
        socklen_t len = sizeof(soerr);

        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            if ((ret = wait_fd(fd, POLLOUT, deadline)) == 0 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
                break;
            timed_out = ret == -AC_ETIMEDOUT;
            last_errno = soerr != 0 ? soerr : errno;
        } else {
            last_errno = errno;
        }
        close(fd);
        fd = -1;
        if (timed_out)
            break;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (timed_out)
            return ac_errmsg_set(err, -AC_ETIMEDOUT, "timed out connecting to EPMD at %s:%u", t->host, t->port);
        return ac_errmsg_set(err, -AC_EIO, "cannot connect to EPMD at %s:%u: %s", t->host, t->port,
                             strerror(last_errno));
    }
    *fd_out = fd;
    return 0;
}

static int send_all(int fd, const target_t *t, const uint8_t *buf, size_t n, int64_t deadline, ac_errmsg_t *err)
{
    size_t off = 0;
    int ret;

    while (off < n) {
        ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if ((ret = wait_fd(fd, POLLOUT, deadline)) != 0)
                return ac_errmsg_set(err, ret, "timed out sending to EPMD at %s:%u", t->host, t->port);
        } else {
            return ac_errmsg_set(err, -AC_EIO, "cannot send to EPMD at %s:%u: %s", t->host, t->port, strerror(errno));
        }
    }
    return 0;
}

/* Receives at most cap bytes once data is there. Returns 0 with *got set (0 at end of stream), or a negative code. */
static int recv_some(int fd, const target_t *t, uint8_t *buf, size_t cap, int64_t deadline, size_t *got,
                     ac_errmsg_t *err)
{
    int ret;

    for (;;) {
        ssize_t r = recv(fd, buf, cap, 0);
        if (r >= 0) {
            *got = (size_t)r;
            return 0;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return ac_errmsg_set(err, -AC_EIO, "cannot read from EPMD at %s:%u: %s", t->host, t->port, strerror(errno));
        if ((ret = wait_fd(fd, POLLIN, deadline)) != 0)
            return ac_errmsg_set(err, ret, "timed out waiting for EPMD at %s:%u", t->host, t->port);
    }
}

static int timeout_of(int timeout_ms)
{
    return timeout_ms > 0 ? timeout_ms : AC_EPMD_CLIENT_TIMEOUT_MS;
}

/* ---- requests ---------------------------------------------------------------------------------------------------- */

int ac_epmd_client_env_port(uint16_t *port, ac_errmsg_t *err)
{
    const char *s = getenv("ERL_EPMD_PORT");
    char *end = NULL;
    long v;

    *port = AC_EPMD_DEFAULT_PORT;
    if (s == NULL || s[0] == '\0')
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535)
        return ac_errmsg_set(err, -AC_ECONFIG, "ERL_EPMD_PORT must be a port number (1-65535)");
    *port = (uint16_t)v;
    return 0;
}

int ac_epmd_client_register(const char *host, uint16_t port, const char *alive_name, uint16_t dist_port, int *fd_out,
                            uint32_t *creation_out, ac_errmsg_t *err)
{
    ac_epmd_node_t node = {.port = dist_port,
                           .node_type = AC_EPMD_NODE_TYPE_HIDDEN,
                           .protocol = AC_EPMD_PROTOCOL_TCP,
                           .highest = 6,
                           .lowest = 5};
    uint8_t req[AC_EPMD_REQ_MAX], resp[8];
    size_t have = 0, got;
    int64_t deadline = now_ms() + AC_EPMD_CLIENT_TIMEOUT_MS;
    target_t t;
    int fd = -1, n, ret;
    uint8_t result = 0;
    uint32_t creation = 0;

    *fd_out = -1;
    *creation_out = 0;
    if (alive_name == NULL || ac_epmd_name_check((const uint8_t *)alive_name, strlen(alive_name)) != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "invalid node name for EPMD registration");
    if (dist_port == 0)
        return ac_errmsg_set(err, -AC_EINVAL, "distribution port 0 cannot be registered");
    node.name_len = (uint16_t)strlen(alive_name);
    memcpy(node.name, alive_name, node.name_len + 1u);
    if ((ret = target_init(&t, host, port, err)) != 0)
        return ret;
    if ((n = ac_epmd_alive2_req_encode(req, sizeof(req), &node)) < 0)
        return ac_errmsg_set(err, n, "cannot encode ALIVE2_REQ");
    if ((ret = connect_to(&t, deadline, &fd, err)) != 0 || (ret = send_all(fd, &t, req, (size_t)n, deadline, err)) != 0)
        goto Exit;
    for (;;) {
        if ((ret = recv_some(fd, &t, resp + have, sizeof(resp) - have, deadline, &got, err)) != 0)
            goto Exit;
        if (got == 0) {
            ret = ac_errmsg_set(err, -AC_EIO, "EPMD at %s:%u closed the connection without answering ALIVE2_REQ",
                                t.host, t.port);
            goto Exit;
        }
        have += got;
        if (resp[0] == AC_EPMD_ALIVE2_X_RESP) {
            n = ac_epmd_alive2_x_resp_decode(resp, have, &result, &creation, err);
        } else if (resp[0] == AC_EPMD_ALIVE2_RESP) {
            uint16_t c16 = 0;
            n = ac_epmd_alive2_resp_decode(resp, have, &result, &c16, err);
            creation = c16;
        } else {
            ret = ac_errmsg_set(err, -AC_EIO, "EPMD at %s:%u answered ALIVE2_REQ with tag %u", t.host, t.port, resp[0]);
            goto Exit;
        }
        if (n > 0)
            break;
        if (n != -AC_EAGAIN || have == sizeof(resp)) {
            ret = ac_errmsg_set(err, -AC_EIO, "malformed ALIVE2 answer from EPMD at %s:%u", t.host, t.port);
            goto Exit;
        }
    }
    if (result != AC_EPMD_RESULT_OK) {
        ret = ac_errmsg_set(err, -AC_EEXIST, "EPMD at %s:%u refused to register %s (result %u: the name is taken)",
                            t.host, t.port, alive_name, result);
        goto Exit;
    }
    *fd_out = fd;
    *creation_out = creation;
    fd = -1;
    ret = 0;

Exit:
    if (fd >= 0)
        close(fd);
    return ret;
}

int ac_epmd_client_port_please(const char *host, uint16_t port, const char *alive_name, int timeout_ms,
                               uint16_t *dist_port, uint16_t *highest, ac_errmsg_t *err)
{
    uint8_t req[8 + AC_EPMD_NAME_MAX], resp[AC_EPMD_PORT2_RESP_MAX];
    ac_epmd_node_t node;
    size_t have = 0, got;
    int64_t deadline = now_ms() + timeout_of(timeout_ms);
    target_t t;
    int fd = -1, n, ret;
    uint8_t result = 0;

    *dist_port = 0;
    if (highest != NULL)
        *highest = 0;
    if (alive_name == NULL ||
        (n = ac_epmd_port_please2_req_encode(req, sizeof(req), alive_name, strlen(alive_name))) < 0)
        return ac_errmsg_set(err, -AC_EINVAL, "invalid node name for PORT_PLEASE2_REQ");
    if ((ret = target_init(&t, host, port, err)) != 0)
        return ret;
    if ((ret = connect_to(&t, deadline, &fd, err)) != 0 || (ret = send_all(fd, &t, req, (size_t)n, deadline, err)) != 0)
        goto Exit;
    for (;;) {
        if ((ret = recv_some(fd, &t, resp + have, sizeof(resp) - have, deadline, &got, err)) != 0)
            goto Exit;
        have += got;
        n = have > 0 ? ac_epmd_port2_resp_decode(resp, have, &result, &node, err) : -AC_EAGAIN;
        if (n > 0)
            break;
        if (n != -AC_EAGAIN || got == 0) {
            ret = ac_errmsg_set(err, -AC_EIO, "%s PORT2_RESP from EPMD at %s:%u",
                                have == 0 ? "no" : (n == -AC_EAGAIN ? "truncated" : "malformed"), t.host, t.port);
            goto Exit;
        }
    }
    if (result != AC_EPMD_RESULT_OK) {
        ret = ac_errmsg_set(err, -AC_ENOENT, "%s is not registered with EPMD at %s:%u", alive_name, t.host, t.port);
        goto Exit;
    }
    *dist_port = node.port;
    if (highest != NULL)
        *highest = node.highest;
    ret = 0;

Exit:
    if (fd >= 0)
        close(fd);
    return ret;
}

int ac_epmd_client_names(const char *host, uint16_t port, int timeout_ms, char **text, ac_errmsg_t *err)
{
    uint8_t req[4];
    uint8_t *buf = NULL;
    size_t have = 0, cap = 4096, got;
    int64_t deadline = now_ms() + timeout_of(timeout_ms);
    uint32_t epmd_port;
    target_t t;
    int fd = -1, n, ret;

    *text = NULL;
    if ((ret = target_init(&t, host, port, err)) != 0)
        return ret;
    n = ac_epmd_names_req_encode(req, sizeof(req));
    if ((ret = connect_to(&t, deadline, &fd, err)) != 0 || (ret = send_all(fd, &t, req, (size_t)n, deadline, err)) != 0)
        goto Exit;
    buf = ac_malloc(cap + 1);
    /* The answer ends when EPMD closes the connection. */
    for (;;) {
        if (have == cap) {
            if (cap >= AC_EPMD_CLIENT_NAMES_MAX) {
                ret = ac_errmsg_set(err, -AC_EIO, "NAMES answer from EPMD at %s:%u exceeds %d bytes", t.host, t.port,
                                    AC_EPMD_CLIENT_NAMES_MAX);
                goto Exit;
            }
            cap *= 2;
            buf = ac_realloc(buf, cap + 1);
        }
        if ((ret = recv_some(fd, &t, buf + have, cap - have, deadline, &got, err)) != 0)
            goto Exit;
        if (got == 0)
            break;
        have += got;
    }
    if (ac_epmd_names_resp_head_decode(buf, have, &epmd_port) != 4) {
        ret = ac_errmsg_set(err, -AC_EIO, "EPMD at %s:%u closed the connection without answering NAMES_REQ", t.host,
                            t.port);
        goto Exit;
    }
    for (size_t i = 4; i < have; i++) {
        if (buf[i] < 0x20 && buf[i] != '\n') {
            ret =
                ac_errmsg_set(err, -AC_EIO, "NAMES answer from EPMD at %s:%u holds control characters", t.host, t.port);
            goto Exit;
        }
    }
    memmove(buf, buf + 4, have - 4);
    buf[have - 4] = '\0';
    *text = (char *)buf;
    buf = NULL;
    ret = 0;

Exit:
    free(buf);
    if (fd >= 0)
        close(fd);
    return ret;
}

/* ---- the detached daemon ----------------------------------------------------------------------------------------- */

/* Whether an EPMD answers NAMES_REQ on t within timeout_ms. */
static bool answers(const target_t *t, int timeout_ms)
{
    char *text = NULL;
    int ret = ac_epmd_client_names(t->host, t->port, timeout_ms, &text, NULL);

    free(text);
    return ret == 0;
}

static bool is_numeric_address(const char *host)
{
    struct in6_addr a6;
    struct in_addr a4;
    return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

/* The grandchild: becomes the daemon. Async-signal-safe calls only; never returns. On failure it writes errno to
 * report_fd (close-on-exec, so the parent sees end of file when exec succeeds). */
static void become_daemon(const char *exe, char *const argv[], int report_fd, int max_fd)
{
    struct sigaction dfl;
    sigset_t none;
    int devnull, e;

    /* Keep the report pipe clear of 0..2, which are about to become /dev/null. */
    if (report_fd < 3 && (report_fd = fcntl(report_fd, F_DUPFD_CLOEXEC, 3)) < 0)
        _exit(127);
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &dfl, NULL); /* fails harmlessly for SIGKILL, SIGSTOP and the C library's own */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (chdir("/") != 0 || (devnull = open("/dev/null", O_RDWR)) < 0)
        goto Fail;
    if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
        goto Fail;
    /* Everything else goes, except the report pipe: descriptors the caller's threads hold must not live on in the
     * daemon (a listening socket or a database connection would stay open for as long as the daemon runs). */
    if ((report_fd > 3 && close_range(3, (unsigned)report_fd - 1, 0) != 0) ||
        close_range((unsigned)report_fd + 1, ~0u, 0) != 0) {
        for (int fd = 3; fd <= max_fd; fd++)
            if (fd != report_fd)
                close(fd);
    }
    execve(exe, argv, environ);
Fail:
    e = errno;
    (void)!write(report_fd, &e, sizeof(e));
    _exit(127);
}

/* Starts `exe epmd ...` detached. Returns 0 once exec succeeded, or -AC_ESYS. */
static int spawn_daemon(const char *exe, const target_t *t, ac_errmsg_t *err)
{
    char port_s[8];
    char *argv[8];
    int argc = 0, pipefd[2] = {-1, -1}, status = 0, ret, max_fd = 65535, child_errno = 0;
    struct rlimit rl;
    pid_t pid;

    snprintf(port_s, sizeof(port_s), "%u", t->port);
    argv[argc++] = (char *)exe;
    argv[argc++] = "epmd";
    argv[argc++] = "--port";
    argv[argc++] = port_s;
    if (getenv("ERL_EPMD_ADDRESS") == NULL && is_numeric_address(t->host)) {
        argv[argc++] = "--address";
        argv[argc++] = (char *)t->host;
    }
    argv[argc] = NULL;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 65536)
        max_fd = (int)rl.rlim_cur - 1;
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return ac_errmsg_set(err, -AC_ESYS, "pipe: %s", strerror(errno));

    if ((pid = fork()) < 0) {
        ret = ac_errmsg_set(err, -AC_ESYS, "fork: %s", strerror(errno));
        goto Exit;
    }
    if (pid == 0) {
        /* First child: a new session (no controlling terminal), then a second fork so the daemon is not a session
         * leader and can never acquire one; the daemon is reparented when this child exits. */
        close(pipefd[0]);
        if (setsid() < 0)
            _exit(1);
        pid_t pid2 = fork();
        if (pid2 < 0)
            _exit(1);
        if (pid2 > 0)
            _exit(0);
        become_daemon(exe, argv, pipefd[1], max_fd);
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ret = ac_errmsg_set(err, -AC_ESYS, "could not detach the EPMD daemon (setsid or fork failed)");
        goto Exit;
    }
    /* End of file: exec succeeded. Bounded, since another thread's child could hold a copy of the write end. */
    ret = wait_fd(pipefd[0], POLLIN, now_ms() + AC_EPMD_ENSURE_WAIT_MS);
    if (ret == 0 && read(pipefd[0], &child_errno, sizeof(child_errno)) == (ssize_t)sizeof(child_errno)) {
        ret = ac_errmsg_set(err, -AC_ESYS, "cannot start %s epmd: %s", exe, strerror(child_errno));
        goto Exit;
    }
    ret = 0;

Exit:
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    return ret;
}

int ac_epmd_client_ensure_daemon(const char *self_exe, const char *host, uint16_t port, ac_errmsg_t *err)
{
    target_t t;
    int64_t deadline;
    int ret;

    if (self_exe == NULL || self_exe[0] == '\0')
        return ac_errmsg_set(err, -AC_EINVAL, "no executable to start EPMD from");
    if ((ret = target_init(&t, host, port, err)) != 0)
        return ret;
    if (answers(&t, PROBE_TIMEOUT_MS))
        return 0;
    if ((ret = spawn_daemon(self_exe, &t, err)) != 0)
        return ret;
    deadline = now_ms() + AC_EPMD_ENSURE_WAIT_MS;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        if (answers(&t, left < PROBE_TIMEOUT_MS ? (int)left : PROBE_TIMEOUT_MS))
            return 0;
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return ac_errmsg_set(err, -AC_ETIMEDOUT,
                         "no EPMD answered on %s:%u within %d ms of starting %s epmd (is the port "
                         "used by something else?)",
                         t.host, t.port, AC_EPMD_ENSURE_WAIT_MS, self_exe);
}
