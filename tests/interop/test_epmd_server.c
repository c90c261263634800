/* tests/interop/test_epmd_server.c - epmd/server.c and epmd/client.c in one process: the daemon runs in a thread on a
 * free loopback port (short timeout, small connection limit), and the client, raw sockets and a fake EPMD that
 * answers with canned bytes exercise registrations, lookups, the limits, and every failure the client reports. */
#include "epmd/client.h"
#include "epmd/proto.h"
#include "epmd/server.h"
#include "node/log.h"
#include "policy/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define TIMEOUT_MS 300
#define MAX_CONNS  8
#define HOST       "127.0.0.1"

typedef struct fixture {
    ac_epmd_server_t *srv;
    uint16_t port;
    volatile sig_atomic_t stop;
    pthread_t thread;
    bool running;
    int ret;
} fixture_t;

static void *serve(void *arg)
{
    fixture_t *f = arg;
    f->ret = ac_epmd_server_serve(f->srv, &f->stop, NULL);
    return NULL;
}

static int setup(void **state)
{
    ac_epmd_server_opts_t opts = {
        .addresses = HOST, .any_port = true, .max_conns = MAX_CONNS, .timeout_ms = TIMEOUT_MS};
    ac_errmsg_t err = {{0}};
    fixture_t *f = calloc(1, sizeof(*f));

    if (ac_epmd_server_open(&opts, &f->srv, &err) != 0) {
        fprintf(stderr, "server_open: %s\n", err.msg);
        free(f);
        return -1;
    }
    f->port = ac_epmd_server_port(f->srv);
    if (pthread_create(&f->thread, NULL, serve, f) != 0)
        return -1;
    f->running = true;
    *state = f;
    return 0;
}

static void stop_server(fixture_t *f)
{
    if (!f->running)
        return;
    f->stop = 1;
    pthread_join(f->thread, NULL);
    f->running = false;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    stop_server(f);
    ac_epmd_server_free(f->srv);
    free(f);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- raw sockets ------------------------------------------------------------------------------------------------- */

static int raw_connect(uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    inet_pton(AF_INET, HOST, &sin.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

static void raw_send(int fd, const void *buf, size_t n)
{
    assert_int_equal(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads until end of stream, `want` bytes (0: no limit), or the timeout. Returns the bytes read; *eof says whether the
 * peer closed. */
static size_t raw_read(int fd, uint8_t *buf, size_t cap, size_t want, int timeout_ms, bool *eof)
{
    size_t have = 0;
    int64_t deadline = now_ms() + timeout_ms;

    *eof = false;
    while (have < cap && (want == 0 || have < want)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t r = recv(fd, buf + have, cap - have, 0);
        if (r <= 0) {
            *eof = true;
            break;
        }
        have += (size_t)r;
    }
    return have;
}

static size_t alive2_bytes(uint8_t *buf, size_t cap, const char *name, uint16_t port, uint16_t highest)
{
    ac_epmd_node_t n;
    memset(&n, 0, sizeof(n));
    n.port = port;
    n.node_type = AC_EPMD_NODE_TYPE_NORMAL;
    n.highest = highest;
    n.lowest = 5;
    n.name_len = (uint16_t)strlen(name);
    memcpy(n.name, name, n.name_len + 1u);
    int len = ac_epmd_alive2_req_encode(buf, cap, &n);
    assert_true(len > 0);
    return (size_t)len;
}

static int port_of(const fixture_t *f, const char *name, uint16_t *port)
{
    uint16_t highest = 0;
    return ac_epmd_client_port_please(HOST, f->port, name, 1000, port, &highest, NULL);
}

static char *names_of(const fixture_t *f)
{
    char *text = NULL;
    ac_errmsg_t err = {{0}};
    int ret = ac_epmd_client_names(HOST, f->port, 1000, &text, &err);
    if (ret != 0)
        fail_msg("names: %s", err.msg);
    return text;
}

/* Waits up to 2 s for name to be gone. */
static bool becomes_unregistered(const fixture_t *f, const char *name)
{
    uint16_t port;
    for (int i = 0; i < 100; i++) {
        if (port_of(f, name, &port) == -AC_ENOENT)
            return true;
        sleep_ms(20);
    }
    return false;
}

/* ---- the daemon through the client ------------------------------------------------------------------------------- */

static void registers_looks_up_lists_and_unregisters(void **state)
{
    fixture_t *f = *state;
    ac_errmsg_t err = {{0}};
    uint32_t c1 = 0, c2 = 0;
    uint16_t port = 0, highest = 0;
    int fd1 = -1, fd2 = -1;
    char *text;

    assert_int_equal(ac_epmd_client_register(HOST, f->port, "alpha", 5001, &fd1, &c1, &err), 0);
    assert_true(fd1 >= 0);
    assert_true(c1 >= 4);
    assert_int_equal(ac_epmd_client_register(HOST, f->port, "beta", 5002, &fd2, &c2, &err), 0);
    assert_true(c2 != c1);
    assert_int_equal(ac_epmd_client_port_please(HOST, f->port, "alpha", 1000, &port, &highest, &err), 0);
    assert_int_equal(port, 5001);
    assert_int_equal(highest, 6);
    text = names_of(f);
    assert_non_null(strstr(text, "name alpha at port 5001\n"));
    assert_non_null(strstr(text, "name beta at port 5002\n"));
    free(text);

    close(fd1); /* the registration is the connection */
    assert_true(becomes_unregistered(f, "alpha"));
    assert_int_equal(port_of(f, "beta", &port), 0);
    text = names_of(f);
    assert_null(strstr(text, "alpha"));
    free(text);
    close(fd2);
}

static void refuses_a_taken_name(void **state)
{
    fixture_t *f = *state;
    ac_errmsg_t err = {{0}};
    uint32_t c = 0;
    uint16_t port = 0;
    int fd1 = -1, fd2 = -1;

    assert_int_equal(ac_epmd_client_register(HOST, f->port, "gamma", 6001, &fd1, &c, &err), 0);
    assert_int_equal(ac_epmd_client_register(HOST, f->port, "gamma", 6002, &fd2, &c, &err), -AC_EEXIST);
    assert_int_equal(fd2, -1);
    assert_non_null(strstr(err.msg, "taken"));
    assert_int_equal(port_of(f, "gamma", &port), 0);
    assert_int_equal(port, 6001);
    close(fd1);
}

static void a_node_that_restarts_at_once_gets_its_name_back(void **state)
{
    fixture_t *f = *state;
    uint8_t buf[64], resp[8];
    uint32_t c = 0;
    bool eof;
    int fd = raw_connect(f->port), fd2 = -1;

    raw_send(fd, buf, alive2_bytes(buf, sizeof(buf), "phoenix", 7001, 6));
    assert_int_equal(raw_read(fd, resp, sizeof(resp), 6, 1000, &eof), 6);
    assert_int_equal(resp[1], 0);
    close(fd);
    assert_int_equal(ac_epmd_client_register(HOST, f->port, "phoenix", 7002, &fd2, &c, NULL), 0);
    close(fd2);
}

static void legacy_alive2_gets_the_16_bit_reply(void **state)
{
    fixture_t *f = *state;
    uint8_t buf[64], resp[8];
    uint16_t port = 0;
    bool eof;
    int fd = raw_connect(f->port);

    raw_send(fd, buf, alive2_bytes(buf, sizeof(buf), "old", 7100, 5));
    assert_int_equal(raw_read(fd, resp, sizeof(resp), 4, 1000, &eof), 4);
    assert_int_equal(resp[0], AC_EPMD_ALIVE2_RESP);
    assert_int_equal(resp[1], 0);
    assert_true(resp[2] == 0 && resp[3] >= 1 && resp[3] <= 3);
    assert_int_equal(port_of(f, "old", &port), 0);
    assert_int_equal(port, 7100);
    close(fd);
}

static void second_alive2_on_one_connection_is_refused(void **state)
{
    fixture_t *f = *state;
    uint8_t buf[64], resp[16];
    uint16_t port = 0;
    bool eof;
    int fd = raw_connect(f->port);

    raw_send(fd, buf, alive2_bytes(buf, sizeof(buf), "delta", 7200, 6));
    assert_int_equal(raw_read(fd, resp, sizeof(resp), 6, 1000, &eof), 6);
    assert_int_equal(resp[1], 0);
    raw_send(fd, buf, alive2_bytes(buf, sizeof(buf), "delta2", 7201, 6));
    assert_int_equal(raw_read(fd, resp, sizeof(resp), 6, 1000, &eof), 6);
    assert_int_equal(resp[0], AC_EPMD_ALIVE2_X_RESP);
    assert_int_equal(resp[1], 1);
    assert_false(eof);
    assert_int_equal(port_of(f, "delta", &port), 0);
    assert_int_equal(port, 7200);
    assert_int_equal(port_of(f, "delta2", &port), -AC_ENOENT);
    close(fd);
}

static void malformed_and_admin_requests_close_the_connection(void **state)
{
    static const uint8_t unknown[] = {0x00, 0x01, 0x61}, huge[] = {0xff, 0xff}, kill[] = {0x00, 0x01, 107},
                         dump[] = {0x00, 0x01, 100}, stop[] = {0x00, 0x02, 115, 'a'}, empty[] = {0x00, 0x00};
    static const struct {
        const uint8_t *b;
        size_t n;
    } cases[] = {{unknown, 3}, {huge, 2}, {kill, 3}, {dump, 3}, {stop, 4}, {empty, 2}};
    fixture_t *f = *state;
    uint8_t resp[64];
    bool eof;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = raw_connect(f->port);
        raw_send(fd, cases[i].b, cases[i].n);
        assert_int_equal(raw_read(fd, resp, sizeof(resp), 0, 1000, &eof), 0);
        assert_true(eof);
        close(fd);
    }
    free(names_of(f)); /* still serving */
}

static void port_please2_for_an_invalid_name_answers_not_found(void **state)
{
    static const uint8_t req[] = {0x00, 0x04, 0x7a, 'a', ' ', 'b'};
    fixture_t *f = *state;
    uint8_t resp[8];
    bool eof;
    int fd = raw_connect(f->port);

    raw_send(fd, req, sizeof(req));
    assert_int_equal(raw_read(fd, resp, sizeof(resp), 0, 1000, &eof), 2);
    assert_int_equal(resp[0], AC_EPMD_PORT2_RESP);
    assert_int_equal(resp[1], 1);
    assert_true(eof);
    close(fd);
}

static void a_request_split_into_single_bytes_is_served(void **state)
{
    fixture_t *f = *state;
    uint8_t buf[64], resp[AC_EPMD_PORT2_RESP_MAX];
    uint32_t c = 0;
    bool eof;
    int reg = -1, fd = raw_connect(f->port);
    size_t n = (size_t)ac_epmd_port_please2_req_encode(buf, sizeof(buf), "slowpoke", 8);

    assert_int_equal(ac_epmd_client_register(HOST, f->port, "slowpoke", 7300, &reg, &c, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        raw_send(fd, buf + i, 1);
        sleep_ms(5);
    }
    size_t got = raw_read(fd, resp, sizeof(resp), 0, 1000, &eof);
    assert_true(eof);
    assert_true(got > 4);
    assert_int_equal(resp[1], 0);
    assert_int_equal((resp[2] << 8) | resp[3], 7300);
    close(fd);
    close(reg);
}

static void an_idle_connection_times_out_without_blocking_others(void **state)
{
    fixture_t *f = *state;
    uint8_t resp[8];
    bool eof;
    int64_t t0;
    int fd = raw_connect(f->port);

    raw_send(fd, "\x00", 1); /* half a length field, then nothing */
    t0 = now_ms();
    free(names_of(f));
    assert_true(now_ms() - t0 < TIMEOUT_MS);
    assert_int_equal(raw_read(fd, resp, sizeof(resp), 0, TIMEOUT_MS * 4, &eof), 0);
    assert_true(eof);
    assert_true(now_ms() - t0 >= TIMEOUT_MS - 50);
    close(fd);
}

static void connections_over_the_limit_are_closed_at_once(void **state)
{
    fixture_t *f = *state;
    int fds[MAX_CONNS], extra;
    uint8_t resp[8];
    bool eof;

    for (int i = 0; i < MAX_CONNS; i++)
        fds[i] = raw_connect(f->port);
    sleep_ms(50); /* let the loop accept them */
    extra = raw_connect(f->port);
    assert_int_equal(raw_read(extra, resp, sizeof(resp), 0, TIMEOUT_MS / 2, &eof), 0);
    assert_true(eof);
    close(extra);
    /* once the idle ones time out, the daemon serves again */
    sleep_ms(TIMEOUT_MS + 150);
    free(names_of(f));
    for (int i = 0; i < MAX_CONNS; i++)
        close(fds[i]);
}

static void stopping_ends_every_registration(void **state)
{
    fixture_t *f = *state;
    uint8_t b;
    uint32_t c = 0;
    int fd = -1;

    assert_int_equal(ac_epmd_client_register(HOST, f->port, "epsilon", 7400, &fd, &c, NULL), 0);
    stop_server(f);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 1000), 1);
    assert_int_equal(recv(fd, &b, 1, 0), 0);
    close(fd);
    assert_int_equal(f->ret, 0);
}

static void a_port_in_use_is_reported_clearly(void **state)
{
    fixture_t *f = *state;
    ac_epmd_server_opts_t opts = {.addresses = HOST, .port = f->port};
    ac_epmd_server_t *srv = NULL;
    ac_errmsg_t err = {{0}};
    char want[64];

    assert_int_equal(ac_epmd_server_open(&opts, &srv, &err), -AC_EEXIST);
    assert_null(srv);
    snprintf(want, sizeof(want), "EPMD port %u on 127.0.0.1 is in use", f->port);
    assert_string_equal(err.msg, want);
}

static void many_names_are_listed_line_by_line(void **state)
{
    fixture_t *f = *state;
    int fds[5];
    char name[16], got[AC_EPMD_NAME_MAX + 1];
    uint16_t got_len, got_port;
    uint32_t c;
    size_t off = 0, lines = 0;
    char *text;

    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        assert_int_equal(ac_epmd_client_register(HOST, f->port, name, (uint16_t)(8000 + i), &fds[i], &c, NULL), 0);
    }
    text = names_of(f);
    while (text[off] != '\0') {
        int n = ac_epmd_names_resp_line_decode((const uint8_t *)text + off, strlen(text + off), got, &got_len,
                                               &got_port, NULL);
        assert_true(n > 0);
        assert_int_equal(got_port, 8000 + (got[1] - '0'));
        off += (size_t)n;
        lines++;
    }
    assert_int_equal(lines, 5);
    free(text);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
}

/* ---- configuration ----------------------------------------------------------------------------------------------- */

static void refuses_bad_addresses_and_ports(void **state)
{
    static const char *bad[] = {"foo", "127.0.0.1,localhost", "1.2.3.4.5", "::g", "[::1"};
    ac_epmd_server_t *srv = NULL;
    ac_errmsg_t err = {{0}};
    char many[1024] = "";

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_epmd_server_opts_t opts = {.addresses = bad[i], .any_port = true};
        assert_int_equal(ac_epmd_server_open(&opts, &srv, &err), -AC_ECONFIG);
        assert_null(srv);
    }
    for (int i = 1; i <= 17; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "127.0.0.%d,", i);
    ac_epmd_server_opts_t opts = {.addresses = many, .any_port = true};
    assert_int_equal(ac_epmd_server_open(&opts, &srv, &err), -AC_ECONFIG);

    setenv("ERL_EPMD_PORT", "43x", 1);
    ac_epmd_server_opts_t env_opts = {.addresses = HOST};
    assert_int_equal(ac_epmd_server_open(&env_opts, &srv, &err), -AC_ECONFIG);
    uint16_t port = 0;
    assert_int_equal(ac_epmd_client_env_port(&port, &err), -AC_ECONFIG);
    setenv("ERL_EPMD_PORT", "4370", 1);
    assert_int_equal(ac_epmd_client_env_port(&port, &err), 0);
    assert_int_equal(port, 4370);
    unsetenv("ERL_EPMD_PORT");
    assert_int_equal(ac_epmd_client_env_port(&port, &err), 0);
    assert_int_equal(port, 4369);
}

static void accepts_lists_with_blanks_and_ipv6(void **state)
{
    ac_epmd_server_opts_t opts = {.addresses = " 127.0.0.1 , [::1],127.0.0.1", .any_port = true};
    ac_epmd_server_t *srv = NULL;
    ac_errmsg_t err = {{0}};

    assert_int_equal(ac_epmd_server_open(&opts, &srv, &err), 0);
    assert_true(ac_epmd_server_port(srv) != 0);
    ac_epmd_server_free(srv);
}

/* ---- the client against a fake EPMD ------------------------------------------------------------------------------ */

typedef struct fake {
    int lfd;
    uint16_t port;
    const uint8_t *answer;
    size_t answer_len;
    int hold_ms; /* keep the connection open this long after answering */
    pthread_t thread;
} fake_t;

static void *fake_run(void *arg)
{
    fake_t *fk = arg;
    uint8_t buf[AC_EPMD_REQ_MAX];
    int fd = accept(fk->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    (void)!recv(fd, buf, sizeof(buf), 0);
    if (fk->answer_len > 0)
        (void)!send(fd, fk->answer, fk->answer_len, MSG_NOSIGNAL);
    sleep_ms(fk->hold_ms);
    close(fd);
    return NULL;
}

static void fake_start(fake_t *fk, const void *answer, size_t len, int hold_ms)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sin);

    fk->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    inet_pton(AF_INET, HOST, &sin.sin_addr);
    assert_int_equal(bind(fk->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fk->lfd, 4), 0);
    getsockname(fk->lfd, (struct sockaddr *)&sin, &sl);
    fk->port = ntohs(sin.sin_port);
    fk->answer = answer;
    fk->answer_len = len;
    fk->hold_ms = hold_ms;
    assert_int_equal(pthread_create(&fk->thread, NULL, fake_run, fk), 0);
}

/* A fake answering with a string literal (its bytes, without the terminating NUL). */
#define FAKE_START(fk, lit, hold_ms) fake_start((fk), (lit), sizeof(lit) - 1, (hold_ms))

static void fake_stop(fake_t *fk)
{
    pthread_join(fk->thread, NULL);
    close(fk->lfd);
}

static void client_reports_every_failure(void **state)
{
    ac_errmsg_t err = {{0}};
    uint16_t port = 0;
    uint32_t c = 0;
    char *text = NULL;
    int fd = 0;
    fake_t fk;

    /* arguments */
    assert_int_equal(ac_epmd_client_register(HOST, 1, "a b", 5000, &fd, &c, &err), -AC_EINVAL);
    assert_int_equal(fd, -1);
    assert_int_equal(ac_epmd_client_register(HOST, 1, "ok", 0, &fd, &c, &err), -AC_EINVAL);
    assert_int_equal(ac_epmd_client_port_please(HOST, 1, "", 100, &port, NULL, &err), -AC_EINVAL);

    /* nothing listening: a closed port (the fake's, after it is gone) */
    fake_start(&fk, NULL, 0, 0);
    uint16_t closed = fk.port;
    close(raw_connect(closed));
    fake_stop(&fk);
    assert_int_equal(ac_epmd_client_names(HOST, closed, 500, &text, &err), -AC_EIO);
    assert_null(text);
    assert_non_null(strstr(err.msg, "cannot connect"));

    /* no answer at all: the timeout */
    fake_start(&fk, NULL, 0, 600);
    int64_t t0 = now_ms();
    assert_int_equal(ac_epmd_client_port_please(HOST, fk.port, "x", 200, &port, NULL, &err), -AC_ETIMEDOUT);
    assert_true(now_ms() - t0 < 500);
    fake_stop(&fk);

    /* garbage, a truncated answer, a refusal, control characters in NAMES */
    FAKE_START(&fk, "hello", 0);
    assert_int_equal(ac_epmd_client_port_please(HOST, fk.port, "x", 1000, &port, NULL, &err), -AC_EIO);
    fake_stop(&fk);
    FAKE_START(&fk, "\x77\x00\x10", 0);
    assert_int_equal(ac_epmd_client_port_please(HOST, fk.port, "x", 1000, &port, NULL, &err), -AC_EIO);
    assert_non_null(strstr(err.msg, "truncated"));
    fake_stop(&fk);
    FAKE_START(&fk, "\x77\x01", 0);
    assert_int_equal(ac_epmd_client_port_please(HOST, fk.port, "x", 1000, &port, NULL, &err), -AC_ENOENT);
    fake_stop(&fk);
    FAKE_START(&fk, "\x76\x01\x00\x00\x00\x00", 0);
    assert_int_equal(ac_epmd_client_register(HOST, fk.port, "x", 5000, &fd, &c, &err), -AC_EEXIST);
    fake_stop(&fk);
    FAKE_START(&fk, "\x79\x00\x00", 0);
    assert_int_equal(ac_epmd_client_register(HOST, fk.port, "x", 5000, &fd, &c, &err), -AC_EIO);
    fake_stop(&fk);
    FAKE_START(&fk, "\x00\x00\x11\x11name \x1b[2J at port 1\n", 0);
    assert_int_equal(ac_epmd_client_names(HOST, fk.port, 1000, &text, &err), -AC_EIO);
    assert_null(text);
    fake_stop(&fk);
    FAKE_START(&fk, "\x00\x00", 0);
    assert_int_equal(ac_epmd_client_names(HOST, fk.port, 1000, &text, &err), -AC_EIO);
    fake_stop(&fk);
    /* a legacy EPMD: the 16-bit creation */
    FAKE_START(&fk, "\x79\x00\x00\x02", 0);
    assert_int_equal(ac_epmd_client_register(HOST, fk.port, "x", 5000, &fd, &c, &err), 0);
    assert_int_equal(c, 2);
    close(fd);
    fake_stop(&fk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(registers_looks_up_lists_and_unregisters, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_a_taken_name, setup, teardown),
        cmocka_unit_test_setup_teardown(a_node_that_restarts_at_once_gets_its_name_back, setup, teardown),
        cmocka_unit_test_setup_teardown(legacy_alive2_gets_the_16_bit_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(second_alive2_on_one_connection_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_and_admin_requests_close_the_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(port_please2_for_an_invalid_name_answers_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(a_request_split_into_single_bytes_is_served, setup, teardown),
        cmocka_unit_test_setup_teardown(an_idle_connection_times_out_without_blocking_others, setup, teardown),
        cmocka_unit_test_setup_teardown(connections_over_the_limit_are_closed_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(stopping_ends_every_registration, setup, teardown),
        cmocka_unit_test_setup_teardown(a_port_in_use_is_reported_clearly, setup, teardown),
        cmocka_unit_test_setup_teardown(many_names_are_listed_line_by_line, setup, teardown),
        cmocka_unit_test(refuses_bad_addresses_and_ports),
        cmocka_unit_test(accepts_lists_with_blanks_and_ipv6),
        cmocka_unit_test(client_reports_every_failure),
    };
    ac_log_level_set(AC_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
