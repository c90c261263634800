/* epmd/cli.c - `alexclaw epmd`: runs the EPMD daemon of server.c in the foreground, or lists names like `epmd -names`.
 *
 * Kept apart from server.c so that the daemon stays a library (a node could embed it in a thread) while the process
 * concerns live here: option parsing, signal handling, and the rule that makes concurrent starts safe. Two nodes that
 * find no EPMD at the same moment each start a daemon; one binds the port, and the other must then exit with success
 * rather than report an error, because an EPMD is running, which is all either node asked for. */
#include "epmd/cli.h"

#include "epmd/client.h"
#include "epmd/proto.h"
#include "epmd/server.h"
#include "node/log.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROBE_TRIES      3
#define PROBE_TIMEOUT_MS 1000
#define PROBE_PAUSE_MS   250

/* Set by SIGTERM/SIGINT; the only state a signal handler may touch. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: alexclaw epmd [--port N] [--address A[,B...]] [-names]\n\n"
                 "Runs an EPMD-compatible daemon in the foreground until SIGTERM or SIGINT.\n"
                 "  --port N         port to listen on (default ERL_EPMD_PORT, else 4369)\n"
                 "  --address LIST   comma-separated numeric IPv4/IPv6 addresses (default ERL_EPMD_ADDRESS, else\n"
                 "                   127.0.0.1); loopback is always served, as epmd does\n"
                 "  -names           print the names registered with the EPMD on that port, and exit\n");
}

static bool parse_port(const char *s, uint16_t *port)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < 1 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* The first address of list (NULL: ERL_EPMD_ADDRESS, else 127.0.0.1) copied into buf: where to ask an EPMD. */
static const char *first_address(const char *list, char *buf, size_t cap)
{
    size_t n;

    if (list == NULL || list[0] == '\0')
        list = getenv("ERL_EPMD_ADDRESS");
    if (list == NULL || list[0] == '\0')
        return "127.0.0.1";
    list += strspn(list, " \t");
    n = strcspn(list, ", \t");
    if (n >= 2 && list[0] == '[' && list[n - 1] == ']') {
        list++;
        n -= 2;
    }
    if (n == 0 || n >= cap)
        return "127.0.0.1";
    memcpy(buf, list, n);
    buf[n] = '\0';
    return buf;
}

static int cmd_names(const char *addresses, uint16_t port)
{
    char host_buf[64];
    const char *host = first_address(addresses, host_buf, sizeof(host_buf));
    ac_errmsg_t err = {{0}};
    char *text = NULL;
    int ret;

    if (port == 0 && (ret = ac_epmd_client_env_port(&port, &err)) != 0) {
        fprintf(stderr, "epmd: %s\n", err.msg);
        return 1;
    }
    if ((ret = ac_epmd_client_names(host, port, AC_EPMD_CLIENT_TIMEOUT_MS, &text, &err)) != 0) {
        fprintf(stderr, "epmd: cannot reach EPMD: %s\n", err.msg);
        return 1;
    }
    printf("epmd: up and running on port %u with data:\n%s", port, text);
    free(text);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* Whether an EPMD answers on host:port, asked a few times: a daemon that just won the bind may not be listening yet. */
static bool epmd_answers(const char *host, uint16_t port)
{
    for (int i = 0; i < PROBE_TRIES; i++) {
        char *text = NULL;
        int ret = ac_epmd_client_names(host, port, PROBE_TIMEOUT_MS, &text, NULL);
        free(text);
        if (ret == 0)
            return true;
        struct timespec pause = {0, PROBE_PAUSE_MS * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return false;
}

static int cmd_serve(const char *addresses, uint16_t port)
{
    ac_epmd_server_opts_t opts = {.addresses = addresses, .port = port};
    ac_epmd_server_t *srv = NULL;
    ac_errmsg_t err = {{0}};
    struct sigaction sa;
    char host_buf[64];
    int ret;

    if (port == 0 && (ret = ac_epmd_client_env_port(&opts.port, &err)) != 0)
        goto Exit;
    if ((ret = ac_epmd_server_open(&opts, &srv, &err)) == -AC_EEXIST &&
        epmd_answers(first_address(addresses, host_buf, sizeof(host_buf)), opts.port)) {
        ac_log_info("epmd", "already_running", "port=%u", opts.port);
        return 0;
    }
    if (ret != 0)
        goto Exit;

    /* No SA_RESTART: the signal must interrupt poll() so the loop sees the flag at once. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    stop_requested = 0;
    ret = ac_epmd_server_serve(srv, &stop_requested, &err);

Exit:
    ac_epmd_server_free(srv);
    if (ret != 0) {
        ac_log_error("epmd", "fatal", "error=%s code=%s", err.msg[0] ? err.msg : ac_strerror(ret),
                     ac_strerror_name(ret));
        return 1;
    }
    return 0;
}

int ac_epmd_cli(int argc, char **argv)
{
    const char *addresses = NULL;
    uint16_t port = 0;
    bool names = false;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "-names") == 0 || strcmp(a, "--names") == 0) {
            names = true;
        } else if ((strcmp(a, "--port") == 0 || strcmp(a, "-port") == 0) && i + 1 < argc) {
            if (!parse_port(argv[++i], &port)) {
                fprintf(stderr, "alexclaw epmd: --port needs a number in 1..65535\n");
                return 2;
            }
        } else if ((strcmp(a, "--address") == 0 || strcmp(a, "-address") == 0) && i + 1 < argc) {
            addresses = argv[++i];
        } else {
            fprintf(stderr, "alexclaw epmd: unknown or incomplete argument: %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    return names ? cmd_names(addresses, port) : cmd_serve(addresses, port);
}
