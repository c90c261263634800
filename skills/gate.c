/* skills/gate.c - receive_from_workflow and send_to_workflow (gate.h). */
#include "skills/gate.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const receive_routes[] = {"on_success", "on_error", NULL};
static const char *const send_routes[] = {"on_sent", "on_error", NULL};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static ac_skills_gate_rpc_fn rpc_fn;
static ac_skills_gate_approved_fn approved_fn;
static void *cluster_arg;

void ac_skills_gate_set_cluster(ac_skills_gate_rpc_fn rpc, ac_skills_gate_approved_fn approved, void *arg)
{
    pthread_mutex_lock(&lock);
    rpc_fn = rpc;
    approved_fn = approved;
    cluster_arg = arg;
    pthread_mutex_unlock(&lock);
}

bool ac_skills_gate_admits(const json_t *allowed, const char *src)
{
    if (json_is_array(allowed) && json_array_size(allowed) > 0) {
        size_t i;
        json_t *v;
        json_array_foreach(allowed, i, v)
        {
            if (json_is_string(v) && strcmp(json_string_value(v), src) == 0)
                return true;
        }
        return false;
    }
    pthread_mutex_lock(&lock);
    ac_skills_gate_approved_fn fn = approved_fn;
    void *arg = cluster_arg;
    pthread_mutex_unlock(&lock);
    return fn != NULL && fn(arg, src) == 1;
}

static int receive_run(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, ac_skill_result_t *res)
{
    if (args->input == NULL || json_is_null(args->input))
        return ac_skill_fail(res, "no_input_received", NULL);
    const char *src = ac_skill_config_str(args->config, "_source_node");
    if (src == NULL) /* a local run (CLI, admin UI): nothing remote to check */
        return ac_skill_ok(res, json_incref(args->input), "on_success");
    bool admitted = ac_skills_gate_admits(json_object_get(args->config, "allowed_nodes"), src);
    if (!admitted)
        return ac_skill_fail(res, "unauthorized_node", "%s", src);
    return ac_skill_ok(res, json_incref(args->input), "on_success");
}

static int send_run(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, ac_skill_result_t *res)
{
    const char *node = ac_skill_config_str(args->config, "target_node");
    const char *wf = ac_skill_config_str(args->config, "target_workflow");
    if (node == NULL || node[0] == '\0')
        return ac_skill_fail(res, "missing_target_node", NULL);
    if (wf == NULL || wf[0] == '\0')
        return ac_skill_fail(res, "missing_target_workflow", NULL);
    if (strlen(node) > 255 || strchr(node, '@') == NULL)
        return ac_skill_fail(res, "invalid_target_node", "expected name@host");
    json_t *t = json_object_get(args->config, "timeout");
    int timeout = 5000;
    if (t != NULL && !json_is_null(t)) {
        if (!json_is_integer(t) || json_integer_value(t) < 1 || json_integer_value(t) > 600000)
            return ac_skill_fail(res, "invalid_timeout", "timeout must be 1..600000 ms");
        timeout = (int)json_integer_value(t);
    }
    int64_t left = ac_skill_ms_left(ctx);
    if (left < timeout)
        timeout = (int)left;
    pthread_mutex_lock(&lock);
    ac_skills_gate_rpc_fn fn = rpc_fn;
    void *arg = cluster_arg;
    pthread_mutex_unlock(&lock);
    if (fn == NULL)
        return ac_skill_fail(res, "rpc_failed", "distribution is not running on this node");
    char err[256] = "";
    if (fn(arg, node, wf, args->input, timeout, err, sizeof(err)) != 0)
        return ac_skill_fail(res, err[0] ? err : "rpc_failed", NULL);
    return ac_skill_ok(res, args->input != NULL ? json_incref(args->input) : NULL, "on_sent");
}

const ac_skill_def_t ac_skills_receive_from_workflow = {
    .name = "receive_from_workflow",
    .description = "Gate of a remotely triggered workflow: admits the caller's data when its node is allowed.",
    .routes = receive_routes,
    .config_hint = "allowed_nodes (list of node names; empty: the approved nodes)",
    .external = false,
    .run = receive_run,
};

const ac_skill_def_t ac_skills_send_to_workflow = {
    .name = "send_to_workflow",
    .description = "Triggers a workflow on another cluster node with this step's input.",
    .routes = send_routes,
    .config_hint = "target_node, target_workflow, timeout (ms, default 5000)",
    .external = false,
    .run = send_run,
};
