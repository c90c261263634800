/* tests/bench/bench_workflow.c - runs of a 10-step workflow of a no-op skill through the real executor (run row,
 * one durable write per step, final update), against the same durable writes issued as bare SQL, on one database
 * in the same process. Prints runs/s and per-run latency (median, p99) for both and the ratio.
 *
 * usage: bench_workflow CONNINFO [RUNS]   (the database must be empty or migrated; it is migrated here) */
#include "node/db.h"
#include "node/log.h"
#include "node/migrate.h"
#include "node/settings_store.h"
#include "node/wf_exec.h"
#include "node/wf_io.h"
#include "policy/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const routes[] = {"on_success", NULL};

static int noop(const ac_skill_ctx_t *ctx, const ac_skill_args_t *a, ac_skill_result_t *res)
{
    return ac_skill_ok(res, a->input != NULL ? json_incref(a->input) : json_string("x"), NULL);
}

static const ac_skill_def_t d_noop = {
    .name = "bench_noop", .description = "", .routes = routes, .config_hint = "", .external = false, .run = noop};

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *lat, int n, double total_s)
{
    qsort(lat, (size_t)n, sizeof(double), cmp);
    printf("%-28s runs/s %8.1f   median %7.3f ms   p99 %7.3f ms\n", what, n / total_s, lat[n / 2],
           lat[(int)(n * 0.99)]);
}

static void die(PGconn *c, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, PQerrorMessage(c));
    exit(1);
}

static void exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die(c, sql);
    PQclear(r);
}

/* The executor's writes for one run, issued as plain statements. */
static void bare_run(PGconn *c, const char *wid)
{
    const char *p[] = {wid};
    exec(c, "BEGIN");
    PGresult *r = PQexecParams(c,
                               "INSERT INTO workflow_runs (workflow_id, status, started_at, node) "
                               "VALUES ($1::bigint, 'running', now() AT TIME ZONE 'utc', 'bench') RETURNING id",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die(c, "insert run");
    char id[32];
    snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)", AC_NODE_DB_LOCK_RUN_BASE + atoll(id));
    exec(c, sql);
    exec(c, "COMMIT");
    for (int s = 1; s <= 10; s++) {
        char pos[8], res[256];
        snprintf(pos, sizeof(pos), "%d", s);
        snprintf(res, sizeof(res),
                 "{\"%d\":{\"name\":\"s%d\",\"skill\":\"bench_noop\",\"branch\":\"on_success\",\"output\":\"x\"}}", s,
                 s);
        const char *q[] = {id, res, pos};
        r = PQexecParams(c,
                         "WITH u AS (UPDATE workflow_runs SET step_results = step_results || $2::jsonb, "
                         "updated_at = now() AT TIME ZONE 'utc' WHERE id = $1::bigint AND status = 'running' "
                         "RETURNING id) INSERT INTO skill_outcomes (workflow_run_id, step_position, skill_name, "
                         "duration_ms, output_snapshot, metadata) SELECT id, $3::integer, 'bench_noop', 0, "
                         "'{\"output\":\"x\"}', '{\"branch\":\"on_success\"}' FROM u RETURNING 1",
                         3, NULL, q, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die(c, "step");
        PQclear(r);
    }
    const char *f[] = {id};
    r = PQexecParams(c,
                     "UPDATE workflow_runs SET status = 'completed', completed_at = now() AT TIME ZONE 'utc', "
                     "result = '{\"output\":\"x\"}', error = NULL, updated_at = now() AT TIME ZONE 'utc' "
                     "WHERE id = $1::bigint AND status = 'running'",
                     1, NULL, f, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(c, "finish");
    PQclear(r);
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%lld)", AC_NODE_DB_LOCK_RUN_BASE + atoll(id));
    exec(c, sql);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CONNINFO [RUNS]\n", argv[0]);
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 500;
    ac_log_level_set(AC_LOG_WARN);
    PGconn *c = NULL;
    ac_errmsg_t err = {{0}};
    if (ac_node_db_connect(argv[1], &c, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (ac_node_migrate_run(c, ac_node_migrations_embedded, ac_node_migrations_embedded_count, NULL, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    ac_node_env_t env = {ac_calloc(ac_node_config_registry_count, sizeof(char *))};
    uint8_t key[32] = {7};
    ac_node_settings_t *s = ac_node_settings_new(key);
    if (ac_node_settings_store_boot(c, &env, s, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char doc[4096] = "{\"version\":1,\"workflow\":{\"name\":\"bench10\"},\"steps\":[";
    for (int i = 1; i <= 10; i++) {
        char st[128];
        snprintf(st, sizeof(st), "%s{\"position\":%d,\"name\":\"s%d\",\"skill\":\"bench_noop\"}", i > 1 ? "," : "", i,
                 i);
        strcat(doc, st);
    }
    strcat(doc, "]}");
    exec(c, "DELETE FROM workflows WHERE name LIKE 'bench10%'");
    ac_node_wf_import_result_t ir;
    if (ac_node_wf_import(c, doc, strlen(doc), &ir, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    json_decref(ir.warnings);
    exec(c, "UPDATE workflows SET enabled = true WHERE name = 'bench10'");
    ac_node_wf_t *wf = NULL;
    ac_node_wf_load(c, ir.id, NULL, &wf, &err);
    ac_skills_registry_t *reg = ac_skills_registry_new();
    ac_skills_registry_add(reg, &d_noop, false);
    ac_skills_breakers_t *br = ac_skills_breakers_new(3, 300000);
    ac_node_wf_env_t wenv = {c, reg, br, {.settings = s, .node_name = "bench"}};
    char wid[32];
    snprintf(wid, sizeof(wid), "%lld", (long long)ir.id);

    /* Interleaved (bare, executor, bare, executor, ...) so that drift of the disk and the machine hits both alike. */
    double *lb = ac_calloc((size_t)runs, sizeof(double)), *le = ac_calloc((size_t)runs, sizeof(double));
    double sum_b = 0, sum_e = 0;
    for (int i = 0; i < 20; i++) { /* warm-up */
        ac_node_wf_outcome_t o;
        ac_node_wf_run(&wenv, wf, NULL, &o, &err);
        ac_node_wf_outcome_clear(&o);
        bare_run(c, wid);
    }
    for (int i = 0; i < runs; i++) {
        struct timespec x, y;
        clock_gettime(CLOCK_MONOTONIC, &x);
        bare_run(c, wid);
        clock_gettime(CLOCK_MONOTONIC, &y);
        lb[i] = (double)(y.tv_sec - x.tv_sec) * 1e3 + (double)(y.tv_nsec - x.tv_nsec) / 1e6;
        sum_b += lb[i];
        clock_gettime(CLOCK_MONOTONIC, &x);
        ac_node_wf_outcome_t o;
        if (ac_node_wf_run(&wenv, wf, NULL, &o, &err) != 0 || o.status != AC_WF_COMPLETED) {
            fprintf(stderr, "run failed: %s %s\n", err.msg, o.error);
            return 1;
        }
        ac_node_wf_outcome_clear(&o);
        clock_gettime(CLOCK_MONOTONIC, &y);
        le[i] = (double)(y.tv_sec - x.tv_sec) * 1e3 + (double)(y.tv_nsec - x.tv_nsec) / 1e6;
        sum_e += le[i];
    }
    report("bare SQL (baseline)", lb, runs, sum_b / 1000.0);
    report("executor (10 no-op steps)", le, runs, sum_e / 1000.0);
    printf("ratio executor/bare: throughput %.3f, median latency %.3f\n", sum_b / sum_e, le[runs / 2] / lb[runs / 2]);
    free(lb);
    free(le);
    ac_node_wf_free(wf);
    ac_skills_breakers_free(br);
    ac_skills_registry_free(reg);
    ac_node_settings_free(s);
    ac_node_env_free(&env);
    PQfinish(c);
    return 0;
}
