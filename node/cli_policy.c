/* node/cli_policy.c - `alexclaw policy ...` (cli_policy.h). */
#include "node/cli_policy.h"

#include "node/policies.h"
#include "node/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: alexclaw policy list | add NAME TYPE CONFIG [--priority N] [--disabled] |"
            " enable ID | disable ID | remove ID\n"
            "  TYPE: rate_limit, time_window, chain_restriction or permission_override; CONFIG: its JSON,\n"
            "  e.g. alexclaw policy add nightly time_window '{\"deny_start_hour\": 0, \"deny_end_hour\": 6}'\n");
    return 2;
}

static int list(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT id, name, rule_type, enabled, priority, config::text FROM auth_policies "
                            "ORDER BY priority DESC, id");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "alexclaw policy: %s", PQerrorMessage(c));
        PQclear(r);
        return 1;
    }
    printf("id\tname\ttype\tenabled\tpriority\tconfig\n");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%s\t%s\t%s\t%s\t%s\t%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
               PQgetvalue(r, i, 3)[0] == 't' ? "true" : "false", PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
    PQclear(r);
    return 0;
}

static bool parse_id(const char *s, int64_t *id)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    *id = v;
    return *s != '\0' && *end == '\0' && v > 0;
}

int ac_node_cli_policy(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    const char *sub = argv[0];
    int priority = 0;
    bool enabled = true;
    int64_t id = 0;
    if (strcmp(sub, "list") == 0) {
        if (argc != 1)
            return usage();
    } else if (strcmp(sub, "add") == 0) {
        if (argc < 4)
            return usage();
        for (int i = 4; i < argc; i++) {
            char *end;
            if (strcmp(argv[i], "--priority") == 0 && i + 1 < argc) {
                long v = strtol(argv[++i], &end, 10);
                if (*end != '\0' || v < -1000000 || v > 1000000)
                    return usage();
                priority = (int)v;
            } else if (strcmp(argv[i], "--disabled") == 0) {
                enabled = false;
            } else {
                return usage();
            }
        }
    } else if (strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0 || strcmp(sub, "remove") == 0) {
        if (argc != 2 || !parse_id(argv[1], &id))
            return usage();
    } else {
        return usage();
    }
    ac_node_runtime_t rt;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_runtime_open(&rt, AC_RT_MIGRATE, NULL, &err);
    if (rc != 0) {
        fprintf(stderr, "alexclaw policy: %s\n", err.msg[0] ? err.msg : ac_strerror(rc));
        return 1;
    }
    if (strcmp(sub, "list") == 0) {
        rc = list(rt.db);
    } else {
        if (strcmp(sub, "add") == 0)
            rc = ac_node_policies_add(rt.db, argv[1], NULL, argv[2], argv[3], priority, enabled, &id, &err);
        else if (strcmp(sub, "remove") == 0)
            rc = ac_node_policies_remove(rt.db, id, &err);
        else
            rc = ac_node_policies_enable(rt.db, id, strcmp(sub, "enable") == 0, &err);
        if (rc != 0) {
            fprintf(stderr, "alexclaw policy: %s\n", err.msg);
            rc = 1;
        } else if (strcmp(sub, "add") == 0) {
            printf("added rule %lld\n", (long long)id);
        } else {
            printf("rule %lld %sd\n", (long long)id, sub);
        }
    }
    ac_node_runtime_close(&rt);
    return rc;
}
