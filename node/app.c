/* node/app.c - wiring of registry, breakers, pool and scheduler (app.h). */
#include "node/app.h"

#include "node/audit.h"
#include "node/cluster.h"
#include "node/coder.h"
#include "node/log.h"
#include "node/memory.h"
#include "policy/alloc.h"
#include "policy/utf8.h"
#include "skills/github_review.h"
#include "skills/llm.h"
#include "skills/notify.h"
#include "skills/sandbox.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int notify_send(void *arg, const char *chat_id, const char *html, const char *plain, char *errbuf, size_t errlen)
{
    ac_errmsg_t err = {0};
    int rc = ac_node_tg_client_send(arg, chat_id, html, plain, &err);
    if (rc != 0)
        snprintf(errbuf, errlen, "%s", err.msg);
    return rc == 0 ? 0 : -1;
}

/* Circuit breaker notices to the owner's chat, in the original's words. */
static void breaker_notice(void *arg, const char *skill, ac_skills_breaker_state_t from, ac_skills_breaker_state_t to,
                           int failures, const char *last_error)
{
    ac_node_tg_client_t *c = arg;
    if (!ac_node_tg_client_configured(c) || (to != AC_BREAKER_OPEN && to != AC_BREAKER_CLOSED) || from == to)
        return;
    char plain[600];
    if (to == AC_BREAKER_OPEN)
        snprintf(plain, sizeof(plain),
                 "\xe2\x9a\xa1 Circuit OPEN for skill %s\n%d consecutive failures. Auto-retry in 5 min.\nLast error: "
                 "%.200s",
                 skill, failures, last_error != NULL ? last_error : "");
    else
        snprintf(plain, sizeof(plain), "\xe2\x9c\x85 Circuit CLOSED for skill %s \xe2\x80\x94 recovered.", skill);
    ac_errmsg_t err = {0};
    ac_node_tg_client_send(c, NULL, NULL, plain, &err);
}

/* The owner hears about dynamic skills that were not loaded at start. */
static void skill_alert(void *arg, const char *text)
{
    ac_node_app_t *app = arg;
    ac_errmsg_t err = {{0}};
    if (ac_node_tg_client_configured(app->tg_client))
        ac_node_tg_client_send(app->tg_client, NULL, NULL, text, &err);
}

/* The SkillAPI and the dynamic skills. Without the sandbox helper, or with an unusable SKILLS_DIR, dynamic skills
 * are off (said in the log) and the node runs on: core skills do not need them. */
static void dynamic_skills_init(ac_node_app_t *app)
{
    ac_node_runtime_t *rt = app->rt;
    app->policies = ac_node_policies_new(rt->conninfo);
    app->rate = ac_policy_skillrate_new();
    char helper[PATH_MAX], dir[PATH_MAX];
    ac_errmsg_t err = {{0}};
    const char *sd = ac_node_env_get(&rt->env, "SKILLS_DIR");
    if (sd != NULL)
        snprintf(dir, sizeof(dir), "%s", sd);
    else
        snprintf(dir, sizeof(dir), "%s/skills", rt->data_dir);
    const char *user = ac_node_env_get(&rt->env, "ALEXCLAW_SANDBOX_USER");
    if (user == NULL)
        user = "nobody";
    struct passwd pw, *found = NULL;
    char pwbuf[4096];
    if (getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &found) != 0 || found == NULL || pw.pw_uid == 0) {
        ac_log_warn("skills", "dynamic_off", "reason=sandbox user %s does not exist or is root", user);
        return;
    }
    if (ac_skills_sandbox_helper_path(helper, sizeof(helper), &err) != 0) {
        ac_log_warn("skills", "dynamic_off", "reason=%s", err.msg);
        return;
    }
    ac_node_dynskills_cfg_t dcfg = {.skills_dir = dir,
                                    .helper = helper,
                                    .uid = pw.pw_uid,
                                    .gid = pw.pw_gid,
                                    .registry = app->registry,
                                    .settings = rt->settings,
                                    .conninfo = rt->conninfo};
    if (ac_node_dynskills_new(&dcfg, &app->dynskills, &err) != 0) {
        ac_log_warn("skills", "dynamic_off", "reason=%s", err.msg);
        return;
    }
    ac_node_skillapi_cfg_t acfg = {
        .authz = {.policies = app->policies,
                  .rate = app->rate,
                  .token_key = app->token_key,
                  .audit_key = app->audit_key,
                  .settings = rt->settings},
        .tg = app->tg_client,
        .registry = app->registry,
        .dyn = app->dynskills,
        .settings = rt->settings,
    };
    app->skillapi = ac_node_skillapi_new(&acfg);
    ac_node_dynskills_set_api(app->dynskills, app->skillapi);
    ac_node_coder_cfg_t cc = {
        .dyn = app->dynskills, .settings = rt->settings, .conninfo = rt->conninfo, .base = &app->base};
    ac_node_ask_owner_telegram(&cc.ask, rt->settings, app->tg_client);
    app->coder = ac_node_coder_new(&cc);
    if (ac_node_coder_register(app->coder, app->registry, &err) != 0)
        ac_log_warn("coder", "not_registered", "error=%s", err.msg);
    int loaded = 0, skipped = 0;
    if (rt->db != NULL &&
        ac_node_dynskills_boot(app->dynskills, rt->db, skill_alert, app, &loaded, &skipped, &err) != 0)
        ac_log_warn("skills", "boot_failed", "error=%s", err.msg);
    else if (loaded + skipped > 0)
        ac_log_info("skills", "dynamic_loaded", "loaded=%d skipped=%d dir=%s", loaded, skipped,
                    ac_node_dynskills_dir(app->dynskills));
}

static void dynamic_skills_close(ac_node_app_t *app)
{
    ac_node_dynskills_free(app->dynskills);
    ac_node_skillapi_free(app->skillapi);
    ac_node_policies_free(app->policies);
    ac_policy_skillrate_free(app->rate);
    explicit_bzero(app->token_key, sizeof(app->token_key));
}

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
        .gemini_url = ac_node_env_get(&rt->env, "GEMINI_API_URL"),
        .anthropic_url = ac_node_env_get(&rt->env, "ANTHROPIC_API_URL"),
        .github_url = ac_node_env_get(&rt->env, "GITHUB_API_URL"),
    };
    static const char *const api_urls[] = {"GEMINI_API_URL", "ANTHROPIC_API_URL", "GITHUB_API_URL"};
    int rc = 0;
    for (size_t i = 0; i < sizeof(api_urls) / sizeof(api_urls[0]) && rc == 0; i++) {
        const char *u = ac_node_env_get(&rt->env, api_urls[i]);
        if (u != NULL)
            rc = ac_node_env_api_url_check(api_urls[i], u, err);
    }
    if (rc == 0)
        rc = ac_node_tg_client_new(ac_node_env_get(&rt->env, "TELEGRAM_API_URL"), rt->settings, &app->tg_client, err);
    if (rc != 0) {
        ac_skills_breakers_free(app->breakers);
        ac_skills_registry_free(app->registry);
        free(app->backup_dir);
        memset(app, 0, sizeof(*app));
        return rc;
    }
    const char *skb = ac_node_env_get(&rt->env, "SECRET_KEY_BASE");
    if (skb != NULL && ac_policy_audit_key(skb, strlen(skb), app->audit_key) != 0)
        ac_log_warn("audit", "no_key", "error=%s", "cannot derive the audit chain key");
    if (skb != NULL && ac_policy_captoken_key(skb, strlen(skb), app->token_key) != 0)
        ac_log_warn("skills", "no_token_key", "error=%s", "cannot derive the capability token key");
    ac_skills_notify_set_sender(notify_send, app->tg_client);
    ac_skills_breakers_set_hook(app->breakers, breaker_notice, app->tg_client);
    app->started_at = (int64_t)time(NULL);
    /* the original's default providers, once (their keys stay in the settings; reference section 10) */
    ac_errmsg_t serr = {{0}};
    if (rt->db != NULL && ac_skills_llm_seed(rt->db, rt->settings, &serr) != 0)
        ac_log_warn("llm", "seed_failed", "error=%s", serr.msg);
    dynamic_skills_init(app);
    return 0;
}

/* --- GitHub reviews the webhook asks for: on the chat task runner, the result to the owner's chat --------------- */

typedef struct review_job {
    ac_node_tg_client_t *tg;
    char repo[256];
    ac_skills_github_kind_t kind;
    char ref[64];
} review_job_t;

static void review_run(void *arg, const ac_skill_ctx_t *ctx)
{
    review_job_t *j = arg;
    json_t *review = NULL;
    ac_errmsg_t err = {{0}};
    if (ctx->db == NULL || ac_skills_github_review(ctx, j->repo, j->kind, j->ref, &review, &err) != 0) {
        ac_log_warn("github", "review_failed", "repo=%s ref=%s error=%s", j->repo, j->ref,
                    ctx->db == NULL ? "database unreachable" : err.msg);
        char plain[1024], why[520];
        ac_policy_utf8_clip(ctx->db == NULL ? "the database is unreachable" : err.msg, 500, why, sizeof(why));
        snprintf(plain, sizeof(plain), "GitHub security review of %.255s %.63s failed: %s", j->repo, j->ref, why);
        (void)ac_node_tg_client_send(j->tg, NULL, NULL, plain, &err);
        return;
    }
    char *html = ac_skills_github_review_message(review);
    const char *plain = json_string_value(json_object_get(review, "review"));
    ac_log_info("github", "reviewed", "repo=%s ref=%s risk=%s", j->repo, j->ref,
                json_string_value(json_object_get(review, "risk_level")));
    if (ac_node_tg_client_configured(j->tg))
        (void)ac_node_tg_client_send(j->tg, NULL, html, plain != NULL ? plain : "", &err);
    free(html);
    json_decref(review);
}

int ac_node_app_github_review(void *arg, const char *repo, bool pr, const char *ref, ac_errmsg_t *err)
{
    ac_node_app_t *app = arg;
    if (app->reviews == NULL)
        return ac_errmsg_set(err, -AC_ESTATE, "the node is not serving");
    if (ac_skills_github_repo_check(repo) != 0 || strlen(ref) == 0 || strlen(ref) >= 64)
        return ac_errmsg_set(err, -AC_EINVAL, "not a repository and reference GitHub would send");
    review_job_t *j = ac_calloc(1, sizeof(*j));
    j->tg = app->tg_client;
    snprintf(j->repo, sizeof(j->repo), "%s", repo);
    snprintf(j->ref, sizeof(j->ref), "%s", ref);
    j->kind = pr ? AC_SKILLS_GITHUB_PR : AC_SKILLS_GITHUB_COMMIT;
    return ac_node_chat_tasks_run(app->reviews, "webhook_review", AC_NODE_CHAT_TASK_TIMEOUT_MS, review_run, free, j,
                                  err);
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

/* The scheduler's hourly chore: prune the audit log (rows older than 30 days; the chain lock makes one node do it)
 * and the expired memories and knowledge entries. */
static void housekeeping(void *arg, PGconn *c, int64_t now)
{
    ac_node_app_t *app = arg;
    int64_t pruned = 0;
    ac_errmsg_t err = {{0}};
    if (ac_node_audit_prune(c, app->audit_key, now, AC_NODE_AUDIT_KEEP_S, &pruned, &err) != 0)
        ac_log_warn("audit", "prune_failed", "error=%s", err.msg);
    /* expired memories and knowledge entries (hidden from the SkillAPI already) */
    int64_t gone = 0;
    for (int t = AC_NODE_MEMORY_MEMORIES; t <= AC_NODE_MEMORY_KNOWLEDGE; t++)
        if (ac_node_memory_prune_expired(c, (ac_node_memory_table_t)t, &gone, &err) != 0)
            ac_log_warn("memory", "prune_failed", "error=%s", err.msg);
    int64_t last = 0;
    char h[17];
    if (ac_node_audit_head(c, &last, h, &err) == 0) /* a copy of the chain's head outside the database */
        ac_log_info("audit", "head", "last_id=%lld hash=%s", (long long)last, h);
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

/* The coder's progress and results to the chat: through the Telegram client, which outlives the poller. */
static void coder_say(void *tg, const char *chat, const char *text)
{
    ac_errmsg_t e = {{0}};
    if (ac_node_tg_client_send(tg, chat, NULL, text, &e) != 0)
        ac_log_warn("coder", "say_failed", "error=%s", e.msg);
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
    if (app->skillapi != NULL)
        ac_node_skillapi_set_pool(app->skillapi, app->pool);
    /* loads, reloads and unloads made by the CLI or another node reach this registry within a second */
    if (app->dynskills != NULL && ac_node_dynskills_watch(app->dynskills, skill_alert, app, err) != 0)
        return -AC_ESYS;
    ac_node_wf_intake_cfg_t icfg = {app->rt->conninfo, app->pool, app->registry, app->breakers, app->base};
    if ((rc = ac_node_wf_intake_start(&icfg, &app->intake, err)) != 0)
        return rc;
    app->scheduler = ac_node_scheduler_new(app->rt->conninfo, app->rt->node_name, submit_scheduled, app);
    ac_node_scheduler_set_chore(app->scheduler, housekeeping, app);
    if ((rc = ac_node_scheduler_start(app->scheduler, err)) != 0)
        return rc;
    if ((rc = ac_node_cluster_start(app, &app->cluster, err)) != 0)
        return rc;
    app->tasks = ac_node_chat_tasks_new(app->rt->conninfo, &app->base, AC_NODE_CHAT_TASKS_MAX);
    app->reviews = ac_node_chat_tasks_new(app->rt->conninfo, &app->base, 1);
    ac_node_telegram_cfg_t tcfg = {
        .conninfo = app->rt->conninfo,
        .client = app->tg_client,
        .node_name = app->rt->node_name,
        .dispatch = {.settings = app->rt->settings,
                     .pool = app->pool,
                     .registry = app->registry,
                     .base = app->base,
                     .node_name = app->rt->node_name,
                     .started_at = app->started_at,
                     .dynskills = app->dynskills,
                     .tasks = app->tasks,
                     .coder = app->coder,
                     .coder_say = coder_say,
                     .coder_say_arg = app->tg_client},
    };
    return ac_node_telegram_start(&tcfg, &app->telegram, err);
}

void ac_node_app_close(ac_node_app_t *app)
{
    /* order matters: no new work, then the intake (answers what waits; hands nothing more to the pool), the pool
     * (whose workers still tell the intake they hold a run), the cluster and its distribution layer */
    ac_node_telegram_stop(app->telegram); /* it submits runs and answers the chat */
    ac_node_scheduler_stop(app->scheduler);
    ac_node_scheduler_free(app->scheduler);
    ac_node_cluster_quiesce(app->cluster);
    ac_node_wf_intake_stop(app->intake);
    ac_node_wf_pool_stop(app->pool);
    ac_node_coder_free(app->coder); /* a /coder generation in flight is cancelled; needs the loader and registry */
    app->coder = NULL;
    ac_node_wf_intake_free(app->intake);
    ac_node_cluster_stop(app->cluster);
    ac_node_chat_tasks_free(app->tasks); /* conversations and reviews: cancelled, then joined */
    ac_node_chat_tasks_free(app->reviews);
    if (app->tg_client != NULL) /* no executor thread runs any more: nothing sends through it */
        ac_skills_notify_set_sender(NULL, NULL);
    dynamic_skills_close(app); /* no run uses a dynamic skill any more */
    ac_node_tg_client_free(app->tg_client);
    ac_skills_breakers_free(app->breakers);
    ac_skills_registry_free(app->registry);
    free(app->backup_dir);
    explicit_bzero(app->audit_key, sizeof(app->audit_key));
    memset(app, 0, sizeof(*app));
}
