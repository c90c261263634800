/* tests/unit/skills/test_gate.c - receive_from_workflow (input required, allowed_nodes against the source node the
 * executor sets, empty list = approved nodes only) and send_to_workflow (the original's config errors, the timeout,
 * the RPC hook and its errors). */
#include "skills/gate.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static ac_skill_ctx_t ctx(void)
{
    return (ac_skill_ctx_t){.deadline_ms = ac_skill_now_ms() + 60000};
}

static int run(const ac_skill_def_t *d, json_t *input, const char *config_json, ac_skill_result_t *res)
{
    json_t *cfg = json_loads(config_json, 0, NULL);
    assert_non_null(cfg);
    ac_skill_ctx_t c = ctx();
    ac_skill_args_t a = {input, cfg, NULL, NULL, NULL};
    memset(res, 0, sizeof(*res));
    int rc = d->run(&c, &a, res);
    json_decref(cfg);
    json_decref(res->output);
    res->output = NULL;
    return rc;
}

static int approve_b(void *arg, const char *node)
{
    return strcmp(node, "b@host") == 0;
}

static void the_gate_needs_input_and_an_allowed_source(void **state)
{
    ac_skill_result_t r;
    json_t *in = json_string("data");
    assert_int_equal(run(&ac_skills_receive_from_workflow, NULL, "{}", &r), -1);
    assert_string_equal(r.error, "no_input_received");
    assert_int_equal(run(&ac_skills_receive_from_workflow, json_null(), "{}", &r), -1);
    /* a local run (no source node) passes */
    assert_int_equal(run(&ac_skills_receive_from_workflow, in, "{}", &r), 0);
    assert_string_equal(r.branch, "on_success");
    assert_int_equal(
        run(&ac_skills_receive_from_workflow, in, "{\"allowed_nodes\":[\"a@host\"],\"_source_node\":\"a@host\"}", &r),
        0);
    assert_int_equal(
        run(&ac_skills_receive_from_workflow, in, "{\"allowed_nodes\":[\"a@host\"],\"_source_node\":\"x@host\"}", &r),
        -1);
    assert_string_equal(r.error, "unauthorized_node: x@host");
    /* an empty list admits only approved nodes: none before the cluster layer installs its list */
    assert_int_equal(
        run(&ac_skills_receive_from_workflow, in, "{\"allowed_nodes\":[],\"_source_node\":\"b@host\"}", &r), -1);
    ac_skills_gate_set_cluster(NULL, approve_b, NULL);
    assert_int_equal(run(&ac_skills_receive_from_workflow, in, "{\"_source_node\":\"b@host\"}", &r), 0);
    assert_int_equal(run(&ac_skills_receive_from_workflow, in, "{\"_source_node\":\"c@host\"}", &r), -1);
    ac_skills_gate_set_cluster(NULL, NULL, NULL);
    json_decref(in);
}

static int rpc_calls, rpc_timeout;
static int rpc(void *arg, const char *node, const char *wf, const json_t *data, int timeout_ms, char *err, size_t n)
{
    rpc_calls++;
    rpc_timeout = timeout_ms;
    if (strcmp(wf, "missing") == 0) {
        snprintf(err, n, "workflow_not_found");
        return -1;
    }
    return 0;
}

static void send_validates_config_then_calls_the_cluster(void **state)
{
    ac_skill_result_t r;
    json_t *in = json_string("x");
    assert_int_equal(run(&ac_skills_send_to_workflow, in, "{}", &r), -1);
    assert_string_equal(r.error, "missing_target_node");
    assert_int_equal(run(&ac_skills_send_to_workflow, in, "{\"target_node\":\"\"}", &r), -1);
    assert_string_equal(r.error, "missing_target_node");
    assert_int_equal(run(&ac_skills_send_to_workflow, in, "{\"target_node\":\"a@h\"}", &r), -1);
    assert_string_equal(r.error, "missing_target_workflow");
    assert_int_equal(run(&ac_skills_send_to_workflow, in, "{\"target_node\":\"nohost\",\"target_workflow\":\"w\"}", &r),
                     -1);
    assert_string_equal(r.error, "invalid_target_node: expected name@host");
    assert_int_equal(run(&ac_skills_send_to_workflow, in,
                         "{\"target_node\":\"a@h\",\"target_workflow\":\"w\",\"timeout\":\"5\"}", &r),
                     -1);
    assert_string_equal(r.error, "invalid_timeout: timeout must be 1..600000 ms");
    assert_int_equal(run(&ac_skills_send_to_workflow, in, "{\"target_node\":\"a@h\",\"target_workflow\":\"w\"}", &r),
                     -1);
    assert_string_equal(r.error, "rpc_failed: distribution is not running on this node");

    ac_skills_gate_set_cluster(rpc, NULL, NULL);
    assert_int_equal(run(&ac_skills_send_to_workflow, in, "{\"target_node\":\"a@h\",\"target_workflow\":\"w\"}", &r),
                     0);
    assert_string_equal(r.branch, "on_sent");
    assert_int_equal(rpc_timeout, 5000);
    assert_int_equal(
        run(&ac_skills_send_to_workflow, in, "{\"target_node\":\"a@h\",\"target_workflow\":\"w\",\"timeout\":250}", &r),
        0);
    assert_int_equal(rpc_timeout, 250);
    assert_int_equal(
        run(&ac_skills_send_to_workflow, in, "{\"target_node\":\"a@h\",\"target_workflow\":\"missing\"}", &r), -1);
    assert_string_equal(r.error, "workflow_not_found");
    assert_int_equal(rpc_calls, 3);
    ac_skills_gate_set_cluster(NULL, NULL, NULL);
    json_decref(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_gate_needs_input_and_an_allowed_source),
        cmocka_unit_test(send_validates_config_then_calls_the_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
