/* node/app.c - wiring of registry, breakers, pool and scheduler (app.h). */
#include "node/app.h"

#include "node/cluster.h"
#include "node/log.h"
#include "policy/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int ac_node_app_init(ac_node_app_t *app, ac_node_runtime_t *rt, ac_errmsg_t *err)
{
    memset(app, 0, sizeof(*app));
    app->rt = rt;
    const char *b = ac_node_env_get(&rt->env, "BACKUP_DIR");
    if (b != NULL) {
        app->backup_dir = ac_strdup(b);
    } else {
        app->backup_dir = ac_malloc(strlen(rt->data_dir) + 10);
        sprintf(app->backup_dir, "%s/backups", rt->data_dir);
    }
    app->registry = ac_skills_registry_new();
    ac_skills_registry_add_core(app->registry);
    app->breakers = ac_skills_breakers_new(
        (int)ac_node_settings_int_or(rt->settings, "skills.circuit_breaker.max_failures", 3),
        ac_node_settings_int_or(rt->settings, "skills.circuit_breaker.reset_seconds", 300) * 1000);
    const char *shell_user = ac_node_env_get(&rt->env, "ALEXCLAW_SHELL_USER");
    app->base = (ac_skill_ctx_t){
        .settings = rt->settings,
        .conninfo = rt->conninfo,
        .data_dir = rt->data_dir,
        .backup_dir = app->backup_dir,
        .shell_user = shell_user != NULL ? shell_user : "nobody",
        .node_name = rt->node_name,
    };
    return 0;
}

typedef struct {
    ac_node_app_t *app;
    int64_t wid, due;
} due_t;

static void due_started(void *arg, int64_t run_id)
{
    free(arg);
}

static void due_refused(void *arg, int code, const char *reason)
{
    due_t *d = arg;
    /* not recorded: give the minute back unless the workflow itself said no */
    if (code != -AC_ENOENT && code != -AC_EPERM)
        ac_node_scheduler_release(d->app->scheduler, d->wid, d->due);
    free(d);
}

static int submit_scheduled(void *arg, int64_t workflow_id, const char *name, int64_t due)
{
    ac_node_app_t *app = arg;
    due_t *d = ac_malloc(sizeof(*d));
    *d = (due_t){app, workflow_id, due};
    ac_node_wf_job_t job = {.workflow_id = workflow_id,
                            .trigger = AC_WF_TRIGGER_CRON,
                            .on_started = due_started,
                            .on_refused = due_refused,
                            .arg = d};
    (void)name;
    int rc = ac_node_wf_pool_submit(app->pool, &job);
    if (rc != 0)
        free(d);
    return rc;
}

int ac_node_app_start(ac_node_app_t *app, ac_errmsg_t *err)
{
    int recovered = 0;
    int rc = ac_node_wf_recover(app->rt->db, app->rt->node_name, &recovered, err);
    if (rc != 0)
        return rc;
    if (recovered > 0)
        ac_log_warn("workflow", "recovered", "runs=%d node=%s", recovered, app->rt->node_name);
    const char *w = ac_node_env_get(&app->rt->env, "ALEXCLAW_WORKERS");
    ac_node_wf_pool_cfg_t cfg = {app->rt->conninfo, w != NULL ? atoi(w) : 4, app->registry, app->breakers, app->base};
    if ((rc = ac_node_wf_pool_start(&cfg, &app->pool, err)) != 0)
        return rc;
    ac_node_wf_intake_cfg_t icfg = {app->rt->conninfo, app->pool, app->registry, app->breakers, app->base};
    if ((rc = ac_node_wf_intake_start(&icfg, &app->intake, err)) != 0)
        return rc;
    app->scheduler = ac_node_scheduler_new(app->rt->conninfo, app->rt->node_name, submit_scheduled, app);
    if ((rc = ac_node_scheduler_start(app->scheduler, err)) != 0)
        return rc;
    return ac_node_cluster_start(app, &app->cluster, err);
}

void ac_node_app_close(ac_node_app_t *app)
{
    /* order matters: no new work, then the intake (answers what waits; hands nothing more to the pool), the pool
     * (whose workers still tell the intake they hold a run), the cluster and its distribution layer */
    ac_node_scheduler_stop(app->scheduler);
    ac_node_scheduler_free(app->scheduler);
    ac_node_cluster_quiesce(app->cluster);
    ac_node_wf_intake_stop(app->intake);
    ac_node_wf_pool_stop(app->pool);
    ac_node_wf_intake_free(app->intake);
    ac_node_cluster_stop(app->cluster);
    ac_skills_breakers_free(app->breakers);
    ac_skills_registry_free(app->registry);
    free(app->backup_dir);
    memset(app, 0, sizeof(*app));
}
