/* node/action.c - 2FA-guarded actions of action.h. */
#include "node/action.h"

#include "node/challenge.h"
#include "node/dynskills.h"
#include "node/log.h"
#include "node/settings_store.h"
#include "node/twofa.h"
#include "node/wf_io.h"
#include "policy/alloc.h"
#include "policy/crypto.h"
#include "policy/totp.h"
#include "policy/utf8.h"
#include "skills/dynfile.h"
#include "skills/shell.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *ac_node_action_run_workflow(int64_t workflow_id, const char *name)
{
    return json_pack("{s:s, s:I, s:s}", "type", "run_workflow", "workflow_id", (json_int_t)workflow_id, "name",
                     name != NULL ? name : "");
}

json_t *ac_node_action_shell(const char *command)
{
    return json_pack("{s:s, s:s}", "type", "shell_command", "command", command);
}

json_t *ac_node_action_twofa(const char *type)
{
    return json_pack("{s:s}", "type", type);
}

json_t *ac_node_action_setting(ac_node_settings_t *s, const char *key, const char *value, const char *type)
{
    json_t *a = json_pack("{s:s, s:s}", "type", "setting_set", "key", key);
    if (type != NULL)
        json_object_set_new(a, "value_type", json_string(type));
    if (!ac_node_setting_key_is_sensitive(key)) {
        json_object_set_new(a, "value", json_string(value));
        return a;
    }
    char *sealed = NULL;
    if (ac_policy_crypto_seal(ac_node_settings_key(s), value, strlen(value), &sealed) != 0) {
        json_decref(a);
        return NULL;
    }
    json_object_set_new(a, "value_sealed", json_string(sealed));
    free(sealed);
    return a;
}

json_t *ac_node_action_workflow_replace(const char *name, const json_t *doc)
{
    return json_pack("{s:s, s:s, s:O}", "type", "workflow_replace", "name", name, "doc", doc);
}

json_t *ac_node_action_workflow_enable(const char *name, bool enabled)
{
    return json_pack("{s:s, s:s, s:b}", "type", "workflow_enable", "name", name, "enabled", enabled);
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

int ac_node_action_skill(struct ac_node_dynskills *d, PGconn *c, const char *type, const char *arg, json_t **action,
                         ac_errmsg_t *err)
{
    *action = NULL;
    if (d == NULL)
        return ac_errmsg_set(err, -AC_ESTATE, "this process does not run dynamic skills");
    if (type == NULL || arg == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "no skill named");
    json_t *binding = NULL;
    int rc;
    if (strcmp(type, "skill_load") == 0) {
        char name[AC_SKILLS_DYNFILE_NAME_MAX + 1];
        if ((rc = ac_node_dynskills_filename_check(arg, name, err)) != 0 ||
            (rc = ac_node_dynskills_inspect(d, c, arg, NULL, &binding, err)) != 0)
            return rc;
        *action = json_pack("{s:s, s:s, s:o}", "type", type, "file", arg, "expect", binding);
    } else if (strcmp(type, "skill_unload") == 0 || strcmp(type, "skill_reload") == 0) {
        if (ac_skills_dynfile_name_check(arg, err) != 0)
            return ac_errmsg_set(err, -AC_EPERM, "%s is not a dynamic skill (core skills can never be unloaded)", arg);
        if (strcmp(type, "skill_reload") == 0) {
            if ((rc = ac_node_dynskills_inspect(d, c, NULL, arg, &binding, err)) != 0)
                return rc;
            *action = json_pack("{s:s, s:s, s:o}", "type", type, "name", arg, "expect", binding);
        } else {
            *action = json_pack("{s:s, s:s}", "type", type, "name", arg);
        }
    } else {
        return ac_errmsg_set(err, -AC_EINVAL, "unknown skill action");
    }
    return *action != NULL ? 0 : ac_errmsg_set(err, -AC_ENOMEM, "out of memory");
}

/* "a, b" from a JSON array of strings, cut to fit. */
static void join(const json_t *a, char *out, size_t cap)
{
    size_t n = 0, i;
    json_t *v;
    out[0] = '\0';
    json_array_foreach(a, i, v)
    {
        if (n + 2 >= cap)
            break;
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "", json_is_string(v) ? json_string_value(v) : "?");
    }
    if (n == 0)
        snprintf(out, cap, "none");
}

/* The skill a load or reload brings, as the person approves it: name, version, permissions, routes, checksum, and
 * what it replaces. */
static void describe_skill(const json_t *a, const char *type, char *buf, size_t cap)
{
    const json_t *e = json_object_get(a, "expect"), *old = json_object_get(e, "replaces");
    char name[64], ver[48], file[64], perms[200], routes[400], sum[20], operms[200];
    ac_policy_utf8_clip(str(e, "name"), 48, name, sizeof(name));
    ac_policy_utf8_clip(str(e, "version"), 32, ver, sizeof(ver));
    ac_policy_utf8_clip(str(a, "file"), 60, file, sizeof(file));
    join(json_object_get(e, "permissions"), perms, sizeof(perms));
    join(json_object_get(e, "routes"), routes, sizeof(routes));
    snprintf(sum, sizeof(sum), "%.16s", str(e, "checksum") != NULL ? str(e, "checksum") : "?");
    size_t n;
    if (strcmp(type, "skill_load") == 0)
        n = (size_t)snprintf(buf, cap, "Load the dynamic skill `%s` version `%s` from `%s`", name, ver, file);
    else
        n = (size_t)snprintf(buf, cap, "Reload the dynamic skill `%s` as version `%s`", name, ver);
    if (n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " with permissions: %s; routes: %s; SHA-256 %s...", perms, routes, sum);
    if (old != NULL && n < cap) {
        char over[48];
        ac_policy_utf8_clip(str(old, "version"), 32, over, sizeof(over));
        join(json_object_get(old, "permissions"), operms, sizeof(operms));
        snprintf(buf + n, cap - n, " (replaces version `%s`, permissions: %s)", over, operms);
    }
}

char *ac_node_action_describe(const json_t *a)
{
    const char *type = str(a, "type");
    char buf[AC_NODE_CHALLENGE_DESC_MAX], v[AC_NODE_ACTION_COMMAND_MAX + 8];
    if (type == NULL) {
        snprintf(buf, sizeof(buf), "an unknown action");
    } else if (strcmp(type, "run_workflow") == 0) {
        ac_policy_utf8_clip(str(a, "name"), 255, v, sizeof(v));
        snprintf(buf, sizeof(buf), "Run workflow `%s` (id %lld)", v,
                 (long long)json_integer_value(json_object_get(a, "workflow_id")));
    } else if (strcmp(type, "shell_command") == 0) {
        ac_policy_utf8_clip(str(a, "command"), AC_NODE_ACTION_COMMAND_MAX, v,
                            sizeof(v)); /* whole (the original showed 80 bytes) */
        snprintf(buf, sizeof(buf), "Execute: `%s`", v);
    } else if (strcmp(type, "twofa_setup") == 0) {
        snprintf(buf, sizeof(buf), "Set up 2FA again with a new secret");
    } else if (strcmp(type, "twofa_disable") == 0) {
        snprintf(buf, sizeof(buf), "Disable 2FA");
    } else if (strcmp(type, "setting_set") == 0) {
        /* the value too: the person approves what will be stored, not only which key */
        char key[128], val[200];
        ac_policy_utf8_clip(str(a, "key"), 120, key, sizeof(key));
        if (str(a, "value") != NULL) {
            ac_policy_utf8_clip(str(a, "value"), 160, val, sizeof(val));
            snprintf(buf, sizeof(buf), "Change setting `%s` to `%s`", key, val);
        } else {
            snprintf(buf, sizeof(buf), "Change setting `%s` to a new secret value", key);
        }
    } else if (strcmp(type, "workflow_replace") == 0) {
        /* a fingerprint of the document: the person can tell one edit from another */
        json_t *doc = json_object_get(a, "doc");
        char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        uint8_t md[32] = {0};
        if (text != NULL)
            ac_policy_crypto_sha256(text, strlen(text), md);
        free(text);
        ac_policy_utf8_clip(str(a, "name"), 255, v, sizeof(v));
        snprintf(buf, sizeof(buf), "Save changes to workflow `%s` (%zu steps, document %02x%02x%02x%02x)", v,
                 json_array_size(json_object_get(doc, "steps")), md[0], md[1], md[2], md[3]);
    } else if (strcmp(type, "workflow_enable") == 0) {
        ac_policy_utf8_clip(str(a, "name"), 255, v, sizeof(v));
        snprintf(buf, sizeof(buf), "%s workflow `%s`",
                 json_is_true(json_object_get(a, "enabled")) ? "Enable" : "Disable", v);
    } else if (strcmp(type, "api_token") == 0) {
        snprintf(buf, sizeof(buf), "Make a new API token (the old one stops working)");
    } else if (strcmp(type, "skill_load") == 0 || strcmp(type, "skill_reload") == 0) {
        describe_skill(a, type, buf, sizeof(buf));
    } else if (strcmp(type, "skill_unload") == 0) {
        ac_policy_utf8_clip(str(a, "name"), 60, v, sizeof(v));
        snprintf(buf, sizeof(buf), "Unload the dynamic skill `%s`", v);
    } else {
        snprintf(buf, sizeof(buf), "an unknown action");
    }
    return ac_strdup(buf);
}

/* --- a run on the pool, waited for ------------------------------------------------------------------------- */

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs; /* the caller and the pool's callback */
    bool done;
    int64_t run_id;
    int code;
    char reason[128];
} waiter_t;

static void waiter_unref(waiter_t *w)
{
    pthread_mutex_lock(&w->mu);
    int left = --w->refs;
    pthread_mutex_unlock(&w->mu);
    if (left == 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
    }
}

static void waiter_finish(waiter_t *w, int64_t run_id, int code, const char *reason)
{
    pthread_mutex_lock(&w->mu);
    w->done = true;
    w->run_id = run_id;
    w->code = code;
    snprintf(w->reason, sizeof(w->reason), "%s", reason != NULL ? reason : "");
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    waiter_unref(w);
}

static void on_started(void *arg, int64_t run_id)
{
    waiter_finish(arg, run_id, 0, NULL);
}

static void on_refused(void *arg, int code, const char *reason)
{
    waiter_finish(arg, 0, code, reason);
}

int ac_node_action_run_and_wait(ac_node_wf_pool_t *pool, int64_t workflow_id, bool refuse_2fa, int wait_ms,
                                int64_t *run_id, ac_errmsg_t *err)
{
    return ac_node_action_run_at_depth(pool, workflow_id, refuse_2fa, 0, wait_ms, run_id, err);
}

int ac_node_action_run_at_depth(ac_node_wf_pool_t *pool, int64_t workflow_id, bool refuse_2fa, int chain_depth,
                                int wait_ms, int64_t *run_id, ac_errmsg_t *err)
{
    *run_id = 0;
    if (pool == NULL)
        return ac_errmsg_set(err, -AC_ESTATE, "this process runs no workflows");
    waiter_t *w = ac_calloc(1, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->refs = 2;
    ac_node_wf_job_t job = {
        .workflow_id = workflow_id,
        .trigger = AC_WF_TRIGGER_PERSON,
        .refuse_2fa = refuse_2fa,
        .chain_depth = chain_depth,
        .on_started = on_started,
        .on_refused = on_refused,
        .arg = w,
    };
    if (ac_node_wf_pool_submit(pool, &job) != 0) {
        w->refs = 1;
        waiter_unref(w);
        return ac_errmsg_set(err, -AC_EAGAIN, "the executor queue is full; try again later");
    }
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    ac_policy_timespec_add_ms(&dl, wait_ms);
    pthread_mutex_lock(&w->mu);
    while (!w->done && pthread_cond_timedwait(&w->cv, &w->mu, &dl) == 0)
        ;
    bool done = w->done;
    int code = w->code;
    char reason[128];
    snprintf(reason, sizeof(reason), "%s", w->reason);
    *run_id = w->run_id;
    pthread_mutex_unlock(&w->mu);
    waiter_unref(w);
    if (!done)
        return 0; /* queued: it starts when a worker is free */
    if (code != 0)
        return ac_errmsg_set(err, code, "%s", reason[0] ? reason : ac_strerror(code));
    return 0;
}

/* --- execution ---------------------------------------------------------------------------------------------- */

static int exec_run(const ac_node_action_env_t *env, const json_t *a, json_t **result, ac_errmsg_t *err)
{
    json_t *id = json_object_get(a, "workflow_id");
    if (!json_is_integer(id) || json_integer_value(id) <= 0)
        return ac_errmsg_set(err, -AC_EINVAL, "run_workflow: no workflow_id");
    int64_t run_id = 0;
    int rc =
        ac_node_action_run_and_wait(env->pool, json_integer_value(id), false, AC_NODE_ACTION_RUN_WAIT_MS, &run_id, err);
    if (rc != 0)
        return rc;
    *result = run_id > 0 ? json_pack("{s:I}", "run_id", (json_int_t)run_id) : json_pack("{s:b}", "queued", 1);
    return 0;
}

static int exec_shell(const ac_node_action_env_t *env, const json_t *a, json_t **result, ac_errmsg_t *err)
{
    const char *cmd = str(a, "command");
    if (env->base == NULL)
        return ac_errmsg_set(err, -AC_ESTATE, "shell commands run from the chat only");
    if (cmd == NULL || cmd[0] == '\0' || strlen(cmd) > AC_NODE_ACTION_COMMAND_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "shell_command: no command");
    ac_skill_ctx_t ctx = *env->base;
    int64_t t = ac_node_settings_int_or(env->settings, "shell.timeout_seconds", 30);
    if (t < 1 || t > 3600)
        t = 30;
    ctx.deadline_ms = ac_skill_now_ms() + (t + 5) * 1000;
    ctx.run_id = 0;
    ctx.cancel = env->cancel;
    ac_skill_result_t res = {0};
    if (ac_skills_shell_run_command(&ctx, cmd, &res) != 0) {
        *result = json_pack("{s:s}", "error", res.error);
        return 0;
    }
    char *text = ac_skill_input_text(res.output);
    *result = json_pack("{s:s, s:s}", "output", text, "branch", res.branch[0] ? res.branch : "on_success");
    free(text);
    json_decref(res.output);
    return 0;
}

static int exec_setting(const ac_node_action_env_t *env, const json_t *a, json_t **result, ac_errmsg_t *err)
{
    const char *key = str(a, "key"), *type = str(a, "value_type"); /* type NULL: the key's current type */
    if (key == NULL || ac_node_setting_key_check(key, err) != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "setting_set: no key");
    char *value = NULL;
    const char *sealed = str(a, "value_sealed");
    if (sealed != NULL) {
        size_t vlen = 0;
        if (ac_policy_crypto_open(ac_node_settings_key(env->settings), sealed, strlen(sealed), &value, &vlen) != 0)
            return ac_errmsg_set(err, -AC_EINVAL, "setting_set: the sealed value does not open");
    } else if (str(a, "value") != NULL) {
        value = ac_strdup(str(a, "value"));
    } else {
        return ac_errmsg_set(err, -AC_EINVAL, "setting_set: no value");
    }
    int rc = ac_node_settings_store_set(env->conn, env->settings, key, value, type, err);
    ac_free_secret_str(value);
    if (rc != 0)
        return rc;
    ac_log_info("action", "setting_changed", "key=%s approved=2fa", key);
    *result = json_pack("{s:s}", "key", key);
    return 0;
}

static int exec_twofa(const ac_node_action_env_t *env, const char *type, json_t **result, ac_errmsg_t *err)
{
    if (strcmp(type, "twofa_disable") == 0) {
        int rc = ac_node_twofa_disable_approved(env->conn, env->settings, err);
        if (rc == 0)
            *result = json_object();
        return rc;
    }
    char secret[AC_POLICY_TOTP_SECRET_LEN + 1], uri[512];
    int rc = ac_node_twofa_setup_approved(env->conn, env->settings, env->account ? env->account : "admin", secret, uri,
                                          sizeof(uri), err);
    if (rc != 0)
        return rc;
    *result = json_pack("{s:s, s:s}", "secret", secret, "uri", uri);
    explicit_bzero(secret, sizeof(secret));
    explicit_bzero(uri, sizeof(uri));
    return 0;
}

static int exec_workflow(const ac_node_action_env_t *env, const json_t *a, const char *type, json_t **result,
                         ac_errmsg_t *err)
{
    const char *name = str(a, "name");
    if (name == NULL || name[0] == '\0')
        return ac_errmsg_set(err, -AC_EINVAL, "%s: no name", type);
    if (strcmp(type, "workflow_enable") == 0) {
        json_t *en = json_object_get(a, "enabled");
        if (!json_is_boolean(en))
            return ac_errmsg_set(err, -AC_EINVAL, "workflow_enable: no flag");
        const char *p[] = {name, json_is_true(en) ? "true" : "false"};
        PGresult *r = PQexecParams(env->conn,
                                   "UPDATE workflows SET enabled = $2::boolean, updated_at = now() AT TIME ZONE "
                                   "'utc' WHERE name = $1",
                                   2, NULL, p, NULL, NULL, 0);
        int rc = 0;
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = ac_errmsg_set(err, PQstatus(env->conn) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN, "database error");
        else if (atoi(PQcmdTuples(r)) != 1)
            rc = ac_errmsg_set(err, -AC_ENOENT, "no such workflow");
        PQclear(r);
        if (rc == 0)
            *result = json_pack("{s:s, s:O}", "name", name, "enabled", en);
        return rc;
    }
    json_t *doc = json_object_get(a, "doc");
    if (!json_is_object(doc))
        return ac_errmsg_set(err, -AC_EINVAL, "workflow_replace: no document");
    char *text = json_dumps(doc, JSON_COMPACT);
    int64_t id = 0;
    int rc = text != NULL ? ac_node_wf_replace(env->conn, name, text, strlen(text), &id, err)
                          : ac_errmsg_set(err, -AC_EINVAL, "workflow_replace: bad document");
    free(text);
    if (rc == 0)
        *result = json_pack("{s:I, s:s}", "id", (json_int_t)id, "name", name);
    return rc;
}

static int exec_skill(const ac_node_action_env_t *env, const json_t *a, const char *type, json_t **result,
                      ac_errmsg_t *err)
{
    if (env->dynskills == NULL)
        return ac_errmsg_set(err, -AC_ESTATE, "this process does not run dynamic skills");
    /* validated again: the stored JSON is data */
    const char *file = str(a, "file"), *name = str(a, "name");
    const json_t *expect = json_object_get(a, "expect");
    char n[AC_SKILLS_DYNFILE_NAME_MAX + 1];
    ac_errmsg_t e = {{0}};
    if (strcmp(type, "skill_load") == 0) {
        if (ac_node_dynskills_filename_check(file, n, &e) != 0 || !json_is_object(expect))
            return ac_errmsg_set(err, -AC_EINVAL, "skill_load: bad action");
        return ac_node_dynskills_load_expect(env->dynskills, env->conn, file, expect, result, err);
    }
    if (name == NULL || ac_skills_dynfile_name_check(name, &e) != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "%s: bad skill name", type);
    if (strcmp(type, "skill_reload") == 0) {
        if (!json_is_object(expect))
            return ac_errmsg_set(err, -AC_EINVAL, "skill_reload: bad action");
        return ac_node_dynskills_reload_expect(env->dynskills, env->conn, name, expect, result, err);
    }
    if (strcmp(type, "skill_unload") != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "unknown action type");
    int rc = ac_node_dynskills_unload(env->dynskills, env->conn, name, err);
    if (rc == 0)
        *result = json_pack("{s:s}", "name", name);
    return rc;
}

int ac_node_action_exec(const ac_node_action_env_t *env, const json_t *action, json_t **result, ac_errmsg_t *err)
{
    *result = NULL;
    const char *type = str(action, "type");
    if (type == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "the action has no type");
    int rc;
    if (strcmp(type, "run_workflow") == 0)
        rc = exec_run(env, action, result, err);
    else if (strcmp(type, "shell_command") == 0)
        rc = exec_shell(env, action, result, err);
    else if (strcmp(type, "setting_set") == 0)
        rc = exec_setting(env, action, result, err);
    else if (strcmp(type, "twofa_setup") == 0 || strcmp(type, "twofa_disable") == 0)
        rc = exec_twofa(env, type, result, err);
    else if (strcmp(type, "workflow_replace") == 0 || strcmp(type, "workflow_enable") == 0)
        rc = exec_workflow(env, action, type, result, err);
    else if (strncmp(type, "skill_", 6) == 0)
        rc = exec_skill(env, action, type, result, err);
    else
        return ac_errmsg_set(err, -AC_EINVAL, "unknown action type");
    if (rc == 0 && *result == NULL)
        return ac_errmsg_set(err, -AC_ENOMEM, "out of memory");
    ac_log_info("action", "executed", "type=%s ok=%s", type, rc == 0 ? "yes" : "no");
    return rc;
}
