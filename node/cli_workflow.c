/* node/cli_workflow.c - `alexclaw workflow list|show|run|import|export|runs|cancel`.
 *
 * `run` executes the workflow in this process (not through a running node) and exits 1 when the run does not
 * complete. A workflow that requires 2FA is refused here until the 2FA issue adds a code option. */
#include "node/cli_workflow.h"

#include "node/app.h"
#include "node/log.h"
#include "node/twofa.h"
#include "node/wf_exec.h"
#include "node/wf_io.h"
#include "policy/alloc.h"
#include "policy/cron.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: alexclaw workflow list | show NAME | run NAME [--input JSON] [--code CODE] | import FILE|- |"
            " export NAME | runs [NAME] | cancel RUN_ID | enable NAME [--code CODE] | disable NAME [--code CODE] |"
            " schedule NAME CRON|none [--code CODE]\n"
            "  --code: a current code from your authenticator app, for a workflow that requires 2FA while 2FA is on\n");
    return 2;
}

static int fail(const char *msg)
{
    fprintf(stderr, "alexclaw workflow: %s\n", msg);
    return 1;
}

static int cmd_list(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT w.id, w.name, w.enabled, coalesce(w.schedule, ''), coalesce(w.node, ''), "
                            "(SELECT count(*) FROM workflow_steps s WHERE s.workflow_id = w.id), "
                            "CASE WHEN w.metadata->'requires_2fa' = 'true'::jsonb THEN 'true' ELSE 'false' END "
                            "FROM workflows w ORDER BY w.name");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return fail(PQerrorMessage(c));
    }
    printf("id\tname\tenabled\tschedule\tnode\tsteps\trequires_2fa\n");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2)[0] == 't' ? "yes" : "no", PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
               PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
    PQclear(r);
    return 0;
}

static int cmd_runs(PGconn *c, const char *name)
{
    const char *p[] = {name};
    PGresult *r = PQexecParams(c,
                               "SELECT r.id, coalesce(w.name, '(deleted)'), r.status, r.started_at, "
                               "coalesce(r.completed_at::text, ''), coalesce(r.node, ''), coalesce(r.error, '') "
                               "FROM workflow_runs r LEFT JOIN workflows w ON w.id = r.workflow_id "
                               "WHERE $1::text IS NULL OR w.name = $1 ORDER BY r.id DESC LIMIT 50",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return fail(PQerrorMessage(c));
    }
    printf("run\tworkflow\tstatus\tstarted_at\tcompleted_at\tnode\terror\n");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
               PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
    PQclear(r);
    return 0;
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return -AC_ENOENT;
    size_t cap = AC_NODE_WF_IMPORT_MAX_BYTES + 2, n = 0, got;
    char *buf = ac_malloc(cap);
    while (n < cap - 1 && (got = fread(buf + n, 1, cap - 1 - n, f)) > 0)
        n += got;
    if (f != stdin)
        fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int cmd_import(PGconn *c, const char *path)
{
    char *text;
    size_t len;
    if (read_file(path, &text, &len) != 0) {
        fprintf(stderr, "alexclaw workflow: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    ac_node_wf_import_result_t res;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_wf_import(c, text, len, &res, &err);
    free(text);
    if (rc != 0)
        return fail(err.msg);
    printf("imported %s (id %lld, disabled)\n", res.name, (long long)res.id);
    size_t i;
    json_t *w;
    json_array_foreach(res.warnings, i, w)
    {
        printf("warning: %s\n", json_string_value(w));
    }
    json_decref(res.warnings);
    return 0;
}

static int cmd_export(PGconn *c, const char *name)
{
    char *json = NULL;
    ac_errmsg_t err = {{0}};
    if (ac_node_wf_export(c, name, &json, &err) != 0)
        return fail(err.msg);
    printf("%s\n", json);
    free(json);
    return 0;
}

/* enable, disable, schedule: one UPDATE each, with the schedule checked first. */
static int cmd_set(PGconn *c, const char *sub, const char *name, const char *cron)
{
    char err_cron[AC_ERRMSG_MAX] = "";
    if (cron != NULL && strcmp(cron, "none") != 0) {
        ac_policy_cron_t parsed;
        ac_errmsg_t why = {{0}};
        if (ac_policy_cron_parse(cron, strlen(cron), &parsed, &why) != 0) {
            snprintf(err_cron, sizeof(err_cron), "invalid schedule: %.480s", why.msg);
            return fail(err_cron);
        }
    }
    const char *sql = strcmp(sub, "enable") == 0    ? "UPDATE workflows SET enabled = true, updated_at = now() AT TIME "
                                                      "ZONE 'utc' WHERE name = $1"
                      : strcmp(sub, "disable") == 0 ? "UPDATE workflows SET enabled = false, updated_at = now() AT "
                                                      "TIME ZONE 'utc' WHERE name = $1"
                                                    : "UPDATE workflows SET schedule = $2, updated_at = now() AT TIME "
                                                      "ZONE 'utc' WHERE name = $1";
    const char *p[] = {name, cron != NULL && strcmp(cron, "none") != 0 ? cron : NULL};
    PGresult *r = PQexecParams(c, sql, cron != NULL ? 2 : 1, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = fail(PQerrorMessage(c));
    else if (atoi(PQcmdTuples(r)) == 0)
        rc = fail("no such workflow");
    else if (strcmp(sub, "schedule") == 0)
        printf("%s: %s\n", name, p[1] != NULL ? p[1] : "no schedule");
    else
        printf("%s: %s\n", name, strcmp(sub, "enable") == 0 ? "enabled" : "disabled");
    PQclear(r);
    return rc;
}

static int second_factor_fail(const char *msg)
{
    fprintf(stderr, "alexclaw: %s\n", msg);
    return 1;
}

int ac_node_cli_second_factor(ac_node_runtime_t *rt, const char *code, bool required, const char *what)
{
    char msg[AC_ERRMSG_MAX + 128];
    if (!ac_node_twofa_enabled(rt->settings)) {
        if (!required)
            return 0;
        snprintf(msg, sizeof(msg),
                 "%s requires 2FA: set up 2FA first (/setup 2fa in Telegram, or Config in the admin UI)", what);
        return second_factor_fail(msg);
    }
    if (code == NULL) {
        snprintf(msg, sizeof(msg), "%s requires 2FA: add --code with a current code from your authenticator app", what);
        return second_factor_fail(msg);
    }
    ac_errmsg_t err = {{0}};
    if (ac_node_twofa_verify(rt->db, rt->settings, code, (int64_t)time(NULL), &err) != 0) {
        snprintf(msg, sizeof(msg), "the code was refused: %s", err.msg);
        return second_factor_fail(msg);
    }
    return 0;
}

/* Whether the workflow requires 2FA (false when there is none; true when the database cannot say: fail closed). */
static bool guarded(PGconn *c, const char *name)
{
    const char *p[] = {name};
    PGresult *r = PQexecParams(c,
                               "SELECT coalesce(metadata->'requires_2fa' = 'true'::jsonb, false) FROM workflows "
                               "WHERE name = $1",
                               1, NULL, p, NULL, NULL, 0);
    bool g = PQresultStatus(r) != PGRES_TUPLES_OK || (PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't');
    PQclear(r);
    return g;
}

static volatile sig_atomic_t run_cancel;

static void on_interrupt(int sig)
{
    (void)sig;
    run_cancel = 1;
}

static int cmd_run(ac_node_runtime_t *rt, const char *name, const char *input_text, const char *code)
{
    json_t *input = NULL;
    if (input_text != NULL) {
        json_error_t je;
        input = json_loads(input_text, JSON_DECODE_ANY, &je);
        if (input == NULL) {
            fprintf(stderr, "alexclaw workflow: --input is not valid JSON: %s\n", je.text);
            return 2;
        }
    }
    ac_errmsg_t err = {{0}};
    ac_node_wf_t *wf = NULL;
    int rc = ac_node_wf_load(rt->db, 0, name, &wf, &err);
    if (rc != 0) {
        json_decref(input);
        return fail(err.msg);
    }
    if (!wf->enabled) {
        fprintf(stderr, "alexclaw workflow: %s is disabled (enable it first)\n", wf->name);
        ac_node_wf_free(wf);
        json_decref(input);
        return 1;
    }
    if (ac_node_wf_requires_2fa(wf) && (rc = ac_node_cli_second_factor(rt, code, true, "this workflow")) != 0) {
        ac_node_wf_free(wf);
        json_decref(input);
        return rc;
    }
    ac_node_app_t app;
    if ((rc = ac_node_app_init(&app, rt, &err)) != 0) {
        ac_node_wf_free(wf);
        json_decref(input);
        return fail(err.msg);
    }
    ac_node_wf_env_t env = {rt->db, app.registry, app.breakers, app.base};
    /* Ctrl-C or SIGTERM cancels the run at its next step (a shell command in flight is killed), so the run is
     * recorded as cancelled instead of being left `running`. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* --input feeds a first step that is receive_from_workflow, the way a remote trigger would */
    ac_node_wf_run_opts_t opts = {input, NULL, &run_cancel, NULL, NULL, 0};
    ac_node_wf_outcome_t out;
    rc = ac_node_wf_run(&env, wf, &opts, &out, &err);
    if (rc == 0) {
        json_t *o = json_object();
        json_object_set_new(o, "run_id", json_integer(out.run_id));
        json_object_set_new(o, "status", json_string(ac_node_wf_status_name(out.status)));
        if (out.status == AC_WF_COMPLETED)
            json_object_set(o, "result", out.result);
        else
            json_object_set_new(o, "error", json_string(out.error));
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", s);
        free(s);
        json_decref(o);
        rc = out.status == AC_WF_COMPLETED ? 0 : 1;
    } else {
        rc = fail(err.msg);
    }
    ac_node_wf_outcome_clear(&out);
    ac_node_app_close(&app);
    ac_node_wf_free(wf);
    json_decref(input);
    return rc;
}

int ac_node_cli_workflow(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    const char *sub = argv[0];
    const char *input = NULL, *code = NULL;
    /* options after the positional arguments: --input (run only) and --code */
    int npos = strcmp(sub, "schedule") == 0 ? 3 : argc >= 2 ? 2 : argc;
    for (int i = npos; i < argc; i += 2) {
        bool has = i + 1 < argc;
        if (has && strcmp(argv[i], "--input") == 0 && strcmp(sub, "run") == 0 && input == NULL)
            input = argv[i + 1];
        else if (has && strcmp(argv[i], "--code") == 0 && code == NULL &&
                 (strcmp(sub, "run") == 0 || strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0 ||
                  strcmp(sub, "schedule") == 0))
            code = argv[i + 1];
        else
            return usage();
    }
    if (argc > npos)
        argc = npos; /* the options are taken */
    if (strcmp(sub, "list") == 0) {
        if (argc != 1)
            return usage();
    } else if (strcmp(sub, "runs") == 0) {
        if (argc > 2)
            return usage();
    } else if (strcmp(sub, "run") == 0) {
        if (argc != 2)
            return usage();
    } else if (strcmp(sub, "show") == 0 || strcmp(sub, "export") == 0 || strcmp(sub, "import") == 0 ||
               strcmp(sub, "cancel") == 0 || strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0) {
        if (argc != 2)
            return usage();
    } else if (strcmp(sub, "schedule") == 0) {
        if (argc != 3)
            return usage();
    } else {
        return usage();
    }
    int64_t run_id = 0;
    if (strcmp(sub, "cancel") == 0) {
        char *end;
        run_id = strtoll(argv[1], &end, 10);
        if (*end != '\0' || run_id <= 0)
            return usage();
    }
    ac_node_runtime_t rt;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_runtime_open(&rt, AC_RT_MIGRATE | AC_RT_SETTINGS, NULL, &err);
    if (rc != 0)
        return fail(err.msg[0] ? err.msg : ac_strerror(rc));
    if (strcmp(sub, "list") == 0)
        rc = cmd_list(rt.db);
    else if (strcmp(sub, "runs") == 0)
        rc = cmd_runs(rt.db, argc == 2 ? argv[1] : NULL);
    else if (strcmp(sub, "show") == 0 || strcmp(sub, "export") == 0)
        rc = cmd_export(rt.db, argv[1]);
    else if (strcmp(sub, "import") == 0)
        rc = cmd_import(rt.db, argv[1]);
    else if (strcmp(sub, "run") == 0)
        rc = cmd_run(&rt, argv[1], input, code);
    else if (strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0 || strcmp(sub, "schedule") == 0) {
        /* the flag and the schedule of a workflow that requires 2FA change with a code while 2FA is on */
        if (!guarded(rt.db, argv[1]) ||
            (rc = ac_node_cli_second_factor(&rt, code, false, "changing this workflow")) == 0)
            rc = cmd_set(rt.db, sub, argv[1], strcmp(sub, "schedule") == 0 ? argv[2] : NULL);
    } else if ((rc = ac_node_wf_cancel(rt.db, run_id, &err)) != 0)
        rc = fail(err.msg);
    else
        printf("cancelled run %lld\n", (long long)run_id);
    ac_node_runtime_close(&rt);
    return rc;
}
