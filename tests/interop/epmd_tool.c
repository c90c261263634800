/* tests/interop/epmd_tool.c - a small driver of epmd/ for tests/interop/epmd.sh (never installed).
 *
 *   ac_epmd_tool serve PORT                     the daemon in the foreground (alexclaw epmd --port PORT)
 *   ac_epmd_tool epmd ARGS...                   alexclaw epmd ARGS... (what `ensure` starts, detached)
 *   ac_epmd_tool register PORT NAME DISTPORT    registers, prints "registered name=NAME creation=N", holds the
 *                                               registration until killed; exit 3 if EPMD closes it
 *   ac_epmd_tool port PORT NAME                 prints "port=P highest=H"; exit 4 when NAME is not registered
 *   ac_epmd_tool names PORT                     prints the NAMES text
 *   ac_epmd_tool ensure PORT                    makes sure an EPMD answers on 127.0.0.1:PORT, starting this tool's
 *                                               `epmd` detached when none does
 * Exit status: 0 ok, 1 failure (stderr says why), 2 usage, 3 and 4 as above. */
#include "epmd/cli.h"
#include "epmd/client.h"

#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOST "127.0.0.1"

static uint16_t port_arg(const char *s)
{
    long v = strtol(s, NULL, 10);
    if (v < 1 || v > 65535) {
        fprintf(stderr, "ac_epmd_tool: bad port %s\n", s);
        exit(2);
    }
    return (uint16_t)v;
}

static int failed(const char *what, const ac_errmsg_t *err, int rc)
{
    fprintf(stderr, "ac_epmd_tool %s: %s (%s)\n", what, err->msg, ac_strerror_name(rc));
    return 1;
}

static int cmd_register(uint16_t port, const char *name, uint16_t dist_port)
{
    ac_errmsg_t err = {{0}};
    uint32_t creation = 0;
    int fd = -1, rc = ac_epmd_client_register(HOST, port, name, dist_port, &fd, &creation, &err);

    if (rc != 0)
        return failed("register", &err, rc);
    printf("registered name=%s creation=%u\n", name, creation);
    fflush(stdout);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, -1) > 0)
            break;
    }
    printf("epmd closed the registration\n");
    close(fd);
    return 3;
}

int main(int argc, char **argv)
{
    ac_errmsg_t err = {{0}};
    int rc;

    if (argc >= 2 && strcmp(argv[1], "epmd") == 0)
        return ac_epmd_cli(argc - 2, argv + 2);
    if (argc == 3 && strcmp(argv[1], "serve") == 0) {
        char *args[] = {"--port", argv[2], NULL};
        return ac_epmd_cli(2, args);
    }
    if (argc == 5 && strcmp(argv[1], "register") == 0)
        return cmd_register(port_arg(argv[2]), argv[3], port_arg(argv[4]));
    if (argc == 4 && strcmp(argv[1], "port") == 0) {
        uint16_t dist_port = 0, highest = 0;
        rc = ac_epmd_client_port_please(HOST, port_arg(argv[2]), argv[3], 0, &dist_port, &highest, &err);
        if (rc == -AC_ENOENT) {
            printf("not registered\n");
            return 4;
        }
        if (rc != 0)
            return failed("port", &err, rc);
        printf("port=%u highest=%u\n", dist_port, highest);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "names") == 0) {
        char *text = NULL;
        if ((rc = ac_epmd_client_names(HOST, port_arg(argv[2]), 0, &text, &err)) != 0)
            return failed("names", &err, rc);
        fputs(text, stdout);
        free(text);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "ensure") == 0) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
            perror("ac_epmd_tool: /proc/self/exe");
            return 1;
        }
        self[n] = '\0';
        if ((rc = ac_epmd_client_ensure_daemon(self, HOST, port_arg(argv[2]), &err)) != 0)
            return failed("ensure", &err, rc);
        printf("ok\n");
        return 0;
    }
    fprintf(stderr, "usage: ac_epmd_tool serve PORT | epmd ARGS... | register PORT NAME DISTPORT | port PORT NAME |\n"
                    "       names PORT | ensure PORT\n");
    return 2;
}
