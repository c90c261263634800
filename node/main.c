/* node/main.c - the `alexclaw` command line: serve, migrate, config, version, help.
 *
 * Exit status: 0 success, 1 failure (one line on stderr says why), 2 usage error. */
#include "epmd/cli.h"
#include "node/app.h"
#include "node/cli_audit.h"
#include "node/cli_cluster.h"
#include "node/cli_config.h"
#include "node/cli_policy.h"
#include "node/cli_skill.h"
#include "node/cli_workflow.h"
#include "node/config.h"
#include "node/log.h"
#include "node/runtime.h"
#include "policy/totp.h"
#include "web/server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

static volatile sig_atomic_t stop_requested;

static int web_stop_fd = -1; /* the web loop's wake-up pipe, once it runs */

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    if (web_stop_fd >= 0) {
        char b = 1;
        ssize_t w = write(web_stop_fd, &b, 1); /* async-signal-safe: wakes the web loop */
        (void)w;
    }
}

static void usage(FILE *out)
{
    fprintf(out, "usage: alexclaw <command> [arguments]\n\n"
                 "Commands:\n"
                 "  serve                       run the node until SIGTERM or SIGINT\n"
                 "  migrate                     apply database migrations and exit\n"
                 "  config list [CATEGORY]      show settings (secrets masked)\n"
                 "  config get KEY              show one setting (secrets masked)\n"
                 "  config set KEY VALUE|- [--type TYPE]\n"
                 "                              change a setting ('-' reads the value from stdin, for secrets)\n"
                 "  config unset KEY            delete a setting\n"
                 "  config reference env|markdown\n"
                 "                              print the configuration reference (.env.example, README tables)\n"
                 "  workflow list | runs [NAME] list workflows, or recent runs\n"
                 "  workflow show NAME          show a workflow (its export JSON)\n"
                 "  workflow run NAME [--input JSON]\n"
                 "                              run it here, now; exit 1 unless it completes\n"
                 "  workflow import FILE|-      import an exported workflow (always disabled)\n"
                 "  workflow export NAME        print its export JSON\n"
                 "  workflow cancel RUN_ID      cancel a running run\n"
                 "  workflow enable|disable NAME\n"
                 "                              allow or stop its runs (imports start disabled)\n"
                 "  workflow schedule NAME CRON|none\n"
                 "                              set its 5-field UTC cron schedule, or remove it\n"
                 "  cluster list                list known nodes (status, approved, last seen)\n"
                 "  cluster approve|revoke|remove NODE\n"
                 "                              approve a node for gates with an empty allowed_nodes, or undo it\n"
                 "  audit verify|list [N]|prune  check the audit log's hash chain, show its last rows, prune it\n"
                 "  policy list | add NAME TYPE CONFIG [--priority N] [--disabled] | enable|disable|remove ID\n"
                 "                              the policy rules of the SkillAPI (validated)\n"
                 "  skill list | load FILE | unload NAME | reload NAME  [--code CODE]\n"
                 "                              the skills; dynamic (Lua) ones are managed with 2FA\n"
                 "  epmd [--port N] [--address A[,B]] [-names]\n"
                 "                              run an EPMD-compatible port mapper (or list its names)\n"
                 "  version                     print the version\n"
                 "  help                        this text\n\n");
    ac_node_config_print_help(out);
}

static int fail(const ac_errmsg_t *err, int rc)
{
    ac_log_error("node", "fatal", "error=%s code=%s", err->msg[0] ? err->msg : ac_strerror(rc), ac_strerror_name(rc));
    return 1;
}

static int start_web(ac_node_runtime_t *rt, ac_node_app_t *app, ac_web_server_t **out, ac_errmsg_t *err)
{
    const char *port = ac_node_env_get(&rt->env, "PORT"), *bind = ac_node_env_get(&rt->env, "BIND_ADDRESS");
    char *end = NULL;
    long p = port != NULL ? strtol(port, &end, 10) : 5001;
    if (port != NULL && (end == port || *end != '\0' || p < 0 || p > 65535))
        return ac_errmsg_set(err, -AC_ECONFIG, "PORT must be a number from 0 to 65535");
    ac_web_cfg_t cfg = {
        .bind_addr = bind != NULL ? bind : "127.0.0.1",
        .port = (int)p,
        .tls_cert = ac_node_env_get(&rt->env, "TLS_CERT_FILE"),
        .tls_key = ac_node_env_get(&rt->env, "TLS_KEY_FILE"),
        .conninfo = rt->conninfo,
        .admin_password = ac_node_env_get(&rt->env, "ADMIN_PASSWORD"),
        .settings = rt->settings,
        .pool = app->pool,
        .breakers = app->breakers,
        .registry = app->registry,
        .dynskills = app->dynskills,
        .telegram = app->telegram,
        .telegram_api_url = ac_node_env_get(&rt->env, "TELEGRAM_API_URL"),
        .distribution = app->cluster != NULL,
        .node_name = rt->node_name,
        .audit_key = ac_node_env_get(&rt->env, "SECRET_KEY_BASE") != NULL ? app->audit_key : NULL,
        .started_at = (int64_t)time(NULL),
        .bench_static_dir = ac_node_env_get(&rt->env, "ALEXCLAW_WEB_BENCH_STATIC_DIR"),
        .session_seconds = ac_node_env_get(&rt->env, "ALEXCLAW_WEB_SESSION_SECONDS") != NULL
                               ? strtoll(ac_node_env_get(&rt->env, "ALEXCLAW_WEB_SESSION_SECONDS"), NULL, 10)
                               : 0,
        .gemini_url = ac_node_env_get(&rt->env, "GEMINI_API_URL"),
        .anthropic_url = ac_node_env_get(&rt->env, "ANTHROPIC_API_URL"),
        .github_review = ac_node_app_github_review,
        .github_review_arg = app,
    };
    return ac_web_server_start(&cfg, out, err);
}

static int cmd_serve(void)
{
    /* No core dumps and no ptrace by other processes of this user: the node holds decrypted secrets. */
    prctl(PR_SET_DUMPABLE, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: waits wake up */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    ac_node_runtime_t rt;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_runtime_open(&rt, AC_RT_NODE | AC_RT_MIGRATE | AC_RT_SETTINGS | AC_RT_LISTEN | AC_RT_WAIT_DB,
                                  &stop_requested, &err);
    if (rc == -AC_ESTOPPED)
        return 0;
    if (rc != 0)
        return fail(&err, rc);
    ac_node_app_t app;
    ac_web_server_t *web = NULL;
    if ((rc = ac_node_app_init(&app, &rt, &err)) != 0 || (rc = ac_node_app_start(&app, &err)) != 0 ||
        (rc = start_web(&rt, &app, &web, &err)) != 0) {
        ac_node_app_close(&app);
        ac_node_runtime_close(&rt);
        return fail(&err, rc);
    }
    ac_log_info("node", "ready", "node=%s version=%s", rt.node_name, AC_VERSION);

    /* The main thread runs the web loop until SIGINT or SIGTERM (the handler wakes it). Every other thread blocks
     * all signals, so they land here. */
    web_stop_fd = ac_web_server_stop_fd(web);
    if (!stop_requested)
        ac_web_server_run(web, &stop_requested);
    web_stop_fd = -1;

    ac_log_info("node", "stopping", "node=%s", rt.node_name);
    /* The loop has stopped: no request can reach the pool any more. The pool stops first, because its callbacks may
     * still answer requests waiting for a run to start (they go through the web server's job queue). */
    ac_web_server_quiesce(web); /* no database job of the web runs any more: none reaches the pool */
    ac_node_app_close(&app);
    ac_web_server_free(web);
    ac_node_runtime_close(&rt);
    ac_log_info("node", "stopped", "signal=%s", "TERM or INT");
    return 0;
}

static int cmd_migrate(void)
{
    ac_node_runtime_t rt;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_runtime_open(&rt, AC_RT_MIGRATE, NULL, &err);
    if (rc != 0)
        return fail(&err, rc);
    ac_node_runtime_close(&rt);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    int rc;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("alexclaw %s\n", AC_VERSION);
        return 0;
    }
    if (ac_policy_totp_init() != 0) {
        fprintf(stderr, "alexclaw: the TOTP library (liboath) failed to start\n");
        return 1;
    }
    if (strcmp(cmd, "serve") == 0 && argc == 2)
        rc = cmd_serve();
    else if (strcmp(cmd, "migrate") == 0 && argc == 2)
        rc = cmd_migrate();
    else if (strcmp(cmd, "config") == 0)
        rc = ac_node_cli_config(argc - 2, argv + 2);
    else if (strcmp(cmd, "workflow") == 0)
        rc = ac_node_cli_workflow(argc - 2, argv + 2);
    else if (strcmp(cmd, "cluster") == 0)
        rc = ac_node_cli_cluster(argc - 2, argv + 2);
    else if (strcmp(cmd, "audit") == 0)
        rc = ac_node_cli_audit(argc - 2, argv + 2);
    else if (strcmp(cmd, "policy") == 0)
        rc = ac_node_cli_policy(argc - 2, argv + 2);
    else if (strcmp(cmd, "skill") == 0)
        rc = ac_node_cli_skill(argc - 2, argv + 2);
    else if (strcmp(cmd, "epmd") == 0)
        rc = ac_epmd_cli(argc - 2, argv + 2);
    else {
        fprintf(stderr, "alexclaw: unknown command or arguments: %s (see alexclaw help)\n", cmd);
        rc = 2;
    }
    ac_policy_totp_done();
    ac_log_shutdown();
    return rc;
}
