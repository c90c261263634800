/* node/cli_audit.c - `alexclaw audit verify|list [N]|prune` (cli_audit.h). */
#include "node/cli_audit.h"

#include "node/audit.h"
#include "node/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void)
{
    fprintf(stderr, "usage: alexclaw audit verify | list [N] | prune\n"
                    "  verify  walk the audit log's hash chain; exit 1 when a row was changed, deleted or added\n"
                    "  list    the last N rows (default 50)\n"
                    "  prune   delete rows older than 30 days now (the node does it daily)\n");
    return 2;
}

static int list(PGconn *c, long n)
{
    char lim[32];
    snprintf(lim, sizeof(lim), "%ld", n);
    const char *p[] = {lim};
    PGresult *r = PQexecParams(c,
                               "SELECT id, to_char(inserted_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), decision, caller, "
                               "caller_type, permission, count, coalesce(reason, '') FROM auth_audit_log "
                               "ORDER BY id DESC LIMIT $1::bigint",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "alexclaw audit: %s", PQerrorMessage(c));
        PQclear(r);
        return 1;
    }
    printf("id\tat\tdecision\tcaller\ttype\tpermission\tcount\treason\n");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
               PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6), PQgetvalue(r, i, 7));
    PQclear(r);
    return 0;
}

int ac_node_cli_audit(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    const char *sub = argv[0];
    long n = 50;
    if (strcmp(sub, "list") == 0 && argc == 2) {
        char *end;
        n = strtol(argv[1], &end, 10);
        if (*end != '\0' || n < 1 || n > 100000)
            return usage();
    } else if (!((strcmp(sub, "verify") == 0 || strcmp(sub, "list") == 0 || strcmp(sub, "prune") == 0) && argc == 1)) {
        return usage();
    }
    ac_node_runtime_t rt;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_runtime_open(&rt, AC_RT_MIGRATE, NULL, &err);
    if (rc != 0) {
        fprintf(stderr, "alexclaw audit: %s\n", err.msg[0] ? err.msg : ac_strerror(rc));
        return 1;
    }
    uint8_t key[AC_POLICY_AUDIT_HASH_LEN];
    const char *skb = ac_node_env_get(&rt.env, "SECRET_KEY_BASE");
    if (strcmp(sub, "list") == 0) {
        rc = list(rt.db, n);
    } else if (skb == NULL || ac_policy_audit_key(skb, strlen(skb), key) != 0) {
        fprintf(stderr, "alexclaw audit: SECRET_KEY_BASE is needed to check the chain\n");
        rc = 1;
    } else if (strcmp(sub, "verify") == 0) {
        ac_node_audit_report_t rep;
        int v = ac_node_audit_verify(rt.db, key, &rep, &err);
        if (v == 0) {
            printf("ok: %lld rows, the chain is intact (ids %lld to %lld)\n", (long long)rep.rows,
                   (long long)rep.first_id, (long long)rep.last_id);
        } else if (v == -AC_ESTATE) {
            printf("BROKEN: %s", rep.problem);
            if (rep.bad_id > 0)
                printf(" (at row %lld)", (long long)rep.bad_id);
            printf("; %lld rows checked before it\n", (long long)rep.rows);
        } else {
            fprintf(stderr, "alexclaw audit: %s\n", err.msg);
        }
        rc = v == 0 ? 0 : 1;
    } else {
        int64_t pruned = 0;
        if (ac_node_audit_prune(rt.db, key, (int64_t)time(NULL), AC_NODE_AUDIT_KEEP_S, &pruned, &err) != 0) {
            fprintf(stderr, "alexclaw audit: %s\n", err.msg);
            rc = 1;
        } else {
            printf("pruned %lld rows\n", (long long)pruned);
        }
    }
    explicit_bzero(key, sizeof(key));
    ac_node_runtime_close(&rt);
    return rc;
}
