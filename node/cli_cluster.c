/* node/cli_cluster.c - `alexclaw cluster ...` (cli_cluster.h).
 *
 * Approving a node is what lets it through a receive_from_workflow gate whose allowed_nodes is empty; nodes that
 * merely connected are listed but not approved. Running nodes pick changes up within 10 seconds. */
#include "node/cli_cluster.h"

#include "node/cluster.h"

#include "node/runtime.h"

#include <stdio.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: alexclaw cluster list | approve NODE | revoke NODE | remove NODE\n");
    return 2;
}

static int fail(const char *msg)
{
    fprintf(stderr, "alexclaw cluster: %s\n", msg);
    return 1;
}

int ac_node_cli_cluster(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    const char *sub = argv[0];
    bool list = strcmp(sub, "list") == 0;
    if (list
            ? argc != 1
            : !(argc == 2 && (strcmp(sub, "approve") == 0 || strcmp(sub, "revoke") == 0 || strcmp(sub, "remove") == 0)))
        return usage();
    if (!list && !ac_node_cluster_name_ok(argv[1]))
        return fail("a node name looks like name@host (letters, digits, _ - .)");
    ac_node_runtime_t rt;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_runtime_open(&rt, AC_RT_MIGRATE, NULL, &err);
    if (rc != 0)
        return fail(err.msg[0] ? err.msg : ac_strerror(rc));
    PGresult *r;
    if (list) {
        r = PQexec(rt.db, "SELECT name, coalesce(status, ''), approved, coalesce(last_seen_at::text, '') "
                          "FROM cluster_nodes ORDER BY name");
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            printf("name\tstatus\tapproved\tlast_seen_at\n");
            for (int i = 0; i < PQntuples(r); i++)
                printf("%s\t%s\t%s\t%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                       PQgetvalue(r, i, 2)[0] == 't' ? "yes" : "no", PQgetvalue(r, i, 3));
        } else {
            rc = fail(PQerrorMessage(rt.db));
        }
    } else {
        ac_node_cluster_op_t op = strcmp(sub, "approve") == 0  ? AC_NODE_CLUSTER_APPROVE
                                  : strcmp(sub, "revoke") == 0 ? AC_NODE_CLUSTER_REVOKE
                                                               : AC_NODE_CLUSTER_REMOVE;
        r = NULL;
        rc = ac_node_cluster_admin(rt.db, argv[1], op, &err);
        if (rc != 0)
            rc = fail(rc == -AC_ENOENT ? "no such node" : err.msg);
        else
            printf("%s: %s\n", argv[1],
                   op == AC_NODE_CLUSTER_APPROVE  ? "approved"
                   : op == AC_NODE_CLUSTER_REVOKE ? "not approved"
                                                  : "removed");
    }
    PQclear(r);
    ac_node_runtime_close(&rt);
    return rc;
}
