/* tests/integration/test_wf_io.c - workflow export and import against a real PostgreSQL server: the original's
 * export format imports with every field kept (always disabled here), export/import round trips, name conflicts,
 * resources linked or created, and every malformed input answered with the original's message and no change. */
#include "node/migrate.h"
#include "node/wf_io.h"
#include "policy/alloc.h"
#include "tests/support/testdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef ac_test_db_t fx_t;

static int setup(void **state)
{
    fx_t *f = ac_calloc(1, sizeof(*f));
    ac_test_db_open_migrated("wfio", f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    ac_test_db_close(*state);
    free(*state);
    return 0;
}

static char *slurp(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/integration/data/%s", getenv("AC_SOURCE_DIR"), rel);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *buf = ac_malloc(65536);
    size_t n = fread(buf, 1, 65535, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

#define assert_q(f, sql, want) ac_test_assert_sql((f)->c, (sql), (want))

static int import(fx_t *f, const char *text, ac_node_wf_import_result_t *r, ac_errmsg_t *err)
{
    return ac_node_wf_import(f->c, text, strlen(text), r, err);
}

static void imports_the_originals_export_with_every_field_disabled(void **state)
{
    fx_t *f = *state;
    char *text = slurp("original_export.json");
    ac_node_wf_import_result_t r;
    ac_errmsg_t err = {{0}};
    assert_int_equal(import(f, text, &r, &err), 0);
    assert_string_equal(r.name, "Full Export Test");
    assert_int_equal(json_array_size(r.warnings), 1);
    assert_string_equal(json_string_value(json_array_get(r.warnings, 0)), "Resource 'Tech Feed' created");
    json_decref(r.warnings);
    assert_q(f,
             "SELECT concat_ws('|', name, description, enabled, schedule, metadata, default_provider, "
             "coalesce(node, 'NULL')) FROM workflows",
             "Full Export Test|desc|f|0 7 * * *|{}|groq|NULL");
    assert_q(f,
             "SELECT concat_ws('|', position, name, skill, llm_tier, coalesce(llm_model, 'NULL'), "
             "coalesce(prompt_template, 'NULL'), config, coalesce(input_from::text, 'NULL'), routes) "
             "FROM workflow_steps ORDER BY position LIMIT 1",
             "1|Fetch|rss_collector|light|NULL|NULL|{\"timeout\": 30}|NULL|[{\"goto\": 2, \"branch\": \"on_items\"}]");
    assert_q(f, "SELECT concat_ws('|', position, prompt_template, input_from) FROM workflow_steps WHERE position = 2",
             "2|Summarize: {{input}}|1");
    assert_q(f,
             "SELECT concat_ws('|', r.name, r.type, r.url, wr.role) FROM resources r JOIN workflow_resources wr "
             "ON wr.resource_id = r.id",
             "Tech Feed|rss_feed|https://example.com/feed|input");

    /* our export of it equals the original's file except for `enabled` (imports are disabled) */
    char *out = NULL;
    assert_int_equal(ac_node_wf_export(f->c, "Full Export Test", &out, &err), 0);
    json_t *ours = json_loads(out, 0, NULL), *theirs = json_loads(text, 0, NULL);
    assert_non_null(ours);
    json_object_set_new(json_object_get(theirs, "workflow"), "enabled", json_false());
    if (!json_equal(ours, theirs))
        fail_msg("export differs:\n%s", out);
    json_decref(ours);
    json_decref(theirs);
    free(out);

    /* the same file again: a new name, and the existing resource is linked, not duplicated */
    assert_int_equal(import(f, text, &r, &err), 0);
    assert_string_equal(r.name, "Full Export Test (imported 1)");
    assert_int_equal(json_array_size(r.warnings), 0);
    json_decref(r.warnings);
    assert_q(f, "SELECT count(*) FROM resources", "1");
    assert_q(f, "SELECT count(*) FROM workflow_resources", "2");
    assert_int_equal(import(f, text, &r, &err), 0);
    assert_string_equal(r.name, "Full Export Test (imported 2)");
    json_decref(r.warnings);
    free(text);
}

static void round_trips_routes_config_and_metadata(void **state)
{
    fx_t *f = *state;
    const char *doc =
        "{\"version\":1,\"workflow\":{\"name\":\"rt\",\"metadata\":{\"requires_2fa\":true,\"x\":[1,2.5,null]},"
        "\"node\":\"a@b\"},\"steps\":[{\"position\":1,\"name\":\"a\",\"skill\":\"shell\",\"config\":{\"command\":"
        "\"df -h\",\"on_circuit_open\":\"skip\"},\"routes\":[{\"branch\":\"on_error\",\"goto\":\"end\"},"
        "{\"branch\":\"default\",\"goto\":2}]},{\"position\":2,\"name\":\"b\",\"skill\":\"telegram_notify\"}]}";
    ac_node_wf_import_result_t r;
    ac_errmsg_t err = {{0}};
    assert_int_equal(import(f, doc, &r, &err), 0);
    json_decref(r.warnings);
    char *out = NULL;
    assert_int_equal(ac_node_wf_export(f->c, "rt", &out, &err), 0);
    ac_test_db_exec(f->c, "DELETE FROM workflows");
    assert_int_equal(import(f, out, &r, &err), 0);
    json_decref(r.warnings);
    char *again = NULL;
    assert_int_equal(ac_node_wf_export(f->c, "rt", &again, &err), 0);
    assert_string_equal(out, again);
    json_t *j = json_loads(again, 0, NULL);
    assert_true(
        json_is_true(json_object_get(json_object_get(json_object_get(j, "workflow"), "metadata"), "requires_2fa")));
    json_decref(j);
    free(out);
    free(again);
}

typedef struct {
    const char *doc;
    const char *message;
} bad_t;

static const bad_t bad[] = {
    {"[1,2]", "Invalid format: expected a JSON object"},
    {"\"x\"", "Invalid format: expected a JSON object"},
    {"{\"workflow\":{\"name\":\"x\"},\"steps\":[]}", "Unsupported or missing version (expected 1, got nil)"},
    {"{\"version\":2,\"workflow\":{\"name\":\"x\"},\"steps\":[]}",
     "Unsupported or missing version (expected 1, got 2)"},
    {"{\"version\":\"1\",\"workflow\":{\"name\":\"x\"},\"steps\":[]}",
     "Unsupported or missing version (expected 1, got \"1\")"},
    {"{\"version\":1,\"steps\":[]}", "Missing or invalid \"workflow\" field"},
    {"{\"version\":1,\"workflow\":[],\"steps\":[]}", "Missing or invalid \"workflow\" field"},
    {"{\"version\":1,\"workflow\":{},\"steps\":[]}", "Workflow name is required"},
    {"{\"version\":1,\"workflow\":{\"name\":\"\"},\"steps\":[]}", "Workflow name is required"},
    {"{\"version\":1,\"workflow\":{\"name\":7},\"steps\":[]}", "Workflow name is required"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\"}}", "Missing or invalid \"steps\" field"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":{}}", "Missing or invalid \"steps\" field"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":[{\"name\":\"a\",\"skill\":\"s\"}]}",
     "Step 1: position: can't be blank"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":[{\"position\":\"1\",\"name\":\"a\",\"skill\":\"s\"}]}",
     "Step 1: position: is invalid"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":[{\"position\":1,\"skill\":\"s\"}]}",
     "Step 1: name: can't be blank"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":[{\"position\":1,\"name\":\"a\"}]}",
     "Step 1: skill: can't be blank"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":[{\"position\":1,\"name\":\"a\",\"skill\":\"s\"},"
     "{\"position\":2,\"name\":\"b\",\"skill\":\"s\",\"llm_tier\":\"huge\"}]}",
     "Step 2: llm_tier: must be one of: light, medium, heavy, local"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":[{\"position\":1,\"name\":\"a\",\"skill\":\"s\","
     "\"config\":[]}]}",
     "Step 1: config: is invalid"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":[{\"position\":1,\"name\":\"a\",\"skill\":\"s\","
     "\"routes\":{}}]}",
     "Step 1: routes: is invalid"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":[{\"position\":1,\"name\":\"a\",\"skill\":\"s\","
     "\"routes\":[5]}]}",
     "Step 1: routes: is invalid"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":[{\"position\":1,\"name\":\"a\",\"skill\":\"s\",\"input_"
     "from\":\"1\"}]}",
     "Step 1: input_from: is invalid"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":[7]}", "Step 1: is invalid"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\",\"schedule\":\"61 * * * *\"},\"steps\":[]}", "schedule: minute"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\",\"metadata\":[]},\"steps\":[]}", "metadata: is invalid"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\",\"description\":5},\"steps\":[]}", "description: is invalid"},
    {"{\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":[],\"resources\":{}}",
     "Missing or invalid \"resources\" field"},
    {"{\"version\":1,", "Invalid JSON"},
    {"{\"version\":1,\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":[]}", "Invalid JSON"},
};

static void malformed_input_gets_the_originals_message_and_changes_nothing(void **state)
{
    fx_t *f = *state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_node_wf_import_result_t r;
        ac_errmsg_t err = {{0}};
        int rc = import(f, bad[i].doc, &r, &err);
        if (rc != -AC_EINVAL || strncmp(err.msg, bad[i].message, strlen(bad[i].message)) != 0)
            fail_msg("case %zu: %s\n  rc %d, message: %s\n  want: %s", i, bad[i].doc, rc, err.msg, bad[i].message);
    }
    assert_q(f, "SELECT count(*) FROM workflows", "0");
    assert_q(f, "SELECT count(*) FROM workflow_steps", "0");
}

static void a_step_the_database_refuses_rolls_back_the_whole_import(void **state)
{
    fx_t *f = *state;
    /* a position beyond int32 passes JSON checks only if it fits; use a name longer than the column instead */
    char doc[2048];
    char longname[300];
    memset(longname, 'n', 280);
    longname[280] = '\0';
    snprintf(doc, sizeof(doc),
             "{\"version\":1,\"workflow\":{\"name\":\"x\"},\"steps\":[{\"position\":1,\"name\":\"ok\",\"skill\":\"s\"},"
             "{\"position\":2,\"name\":\"%s\",\"skill\":\"s\"}]}",
             longname);
    ac_node_wf_import_result_t r;
    ac_errmsg_t err = {{0}};
    assert_int_equal(import(f, doc, &r, &err), -AC_EINVAL);
    assert_string_equal(err.msg, "Step 2: name: should be at most 255 character(s)");
    assert_q(f, "SELECT count(*) FROM workflows", "0");
}

static void oversized_and_too_deep_input_is_refused(void **state)
{
    fx_t *f = *state;
    size_t n = AC_NODE_WF_IMPORT_MAX_BYTES + 10;
    char *big = ac_malloc(n + 1);
    memset(big, ' ', n);
    big[n] = '\0';
    ac_node_wf_import_result_t r;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_wf_import(f->c, big, n, &r, &err), -AC_EINVAL);
    assert_non_null(strstr(err.msg, "larger than"));
    free(big);
    char deep[512] = "{\"version\":1,\"workflow\":{\"name\":\"x\",\"metadata\":";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]");
    strcat(deep, "},\"steps\":[]}");
    assert_int_equal(import(f, deep, &r, &err), -AC_EINVAL);
    assert_non_null(strstr(err.msg, "nested deeper"));
}

static void resource_tags_are_bounded_and_kept(void **state)
{
    fx_t *f = *state;
    /* many long tags: kept exactly (the original's tags survive a round trip), never a buffer overflow */
    char doc[65536] = "{\"version\":1,\"workflow\":{\"name\":\"tags\"},\"steps\":[],\"resources\":["
                      "{\"name\":\"r1\",\"type\":\"website\",\"url\":\"https://e.com\",\"tags\":[";
    char tag[300];
    memset(tag, 't', 250);
    tag[250] = '\0';
    for (int i = 0; i < 40; i++) {
        strcat(doc, i ? ",\"" : "\"");
        strcat(doc, tag);
        strcat(doc, "\"");
    }
    strcat(doc, ",\"quote\\\" and {brace},\"]},{\"name\":\"r2\",\"type\":\"website\",\"tags\":[");
    for (int i = 0; i < 101; i++)
        strcat(doc, i ? ",\"x\"" : "\"x\"");
    strcat(doc, "]}]}");
    ac_node_wf_import_result_t r;
    ac_errmsg_t err = {{0}};
    assert_int_equal(import(f, doc, &r, &err), 0);
    assert_int_equal(json_array_size(r.warnings), 2);
    assert_string_equal(json_string_value(json_array_get(r.warnings, 1)),
                        "Resource 'r2' failed to create: tags: is invalid");
    json_decref(r.warnings);
    assert_q(f, "SELECT array_length(tags, 1) FROM resources WHERE name = 'r1'", "41");
    assert_q(f, "SELECT tags[41] FROM resources WHERE name = 'r1'", "quote\" and {brace},");
    char *out = NULL;
    assert_int_equal(ac_node_wf_export(f->c, "tags", &out, &err), 0);
    json_t *j = json_loads(out, 0, NULL);
    json_t *tags = json_object_get(json_array_get(json_object_get(j, "resources"), 0), "tags");
    assert_int_equal(json_array_size(tags), 41);
    assert_string_equal(json_string_value(json_array_get(tags, 40)), "quote\" and {brace},");
    json_decref(j);
    free(out);
}

static void export_of_an_unknown_workflow_is_not_found(void **state)
{
    fx_t *f = *state;
    char *out = NULL;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_wf_export(f->c, "nope", &out, &err), -AC_ENOENT);
    assert_null(out);
}

static void replace_rewrites_fields_and_steps_and_keeps_enabled(void **state)
{
    fx_t *f = *state;
    ac_node_wf_import_result_t r;
    ac_errmsg_t err = {{0}};
    assert_int_equal(import(f,
                            "{\"version\":1,\"workflow\":{\"name\":\"w\"},\"steps\":[{\"position\":1,\"name\":\"a\","
                            "\"skill\":\"shell\"},{\"position\":2,\"name\":\"b\",\"skill\":\"shell\"}]}",
                            &r, &err),
                     0);
    json_decref(r.warnings);
    ac_test_db_exec(f->c, "UPDATE workflows SET enabled = true");
    const char *doc = "{\"version\":1,\"workflow\":{\"name\":\"w2\",\"description\":\"d\",\"schedule\":\"0 7 * * *\","
                      "\"metadata\":{\"requires_2fa\":true}},\"steps\":[{\"position\":5,\"name\":\"only\",\"skill\":"
                      "\"web_fetch\",\"config\":{\"url\":\"http://127.0.0.1/\"},\"routes\":[{\"branch\":\"on_error\","
                      "\"goto\":\"end\"}]}]}";
    int64_t id = 0;
    assert_int_equal(ac_node_wf_replace(f->c, "w", doc, strlen(doc), &id, &err), 0);
    assert_int_equal(id, r.id);
    assert_q(f,
             "SELECT name || '|' || description || '|' || schedule || '|' || enabled || '|' || "
             "(metadata->>'requires_2fa') FROM workflows",
             "w2|d|0 7 * * *|true|true");
    assert_q(f, "SELECT string_agg(position || ':' || name || ':' || skill, ',') FROM workflow_steps",
             "5:only:web_fetch");
    assert_q(f, "SELECT routes->0->>'goto' FROM workflow_steps", "end");
}

static void replace_refuses_and_changes_nothing(void **state)
{
    fx_t *f = *state;
    ac_node_wf_import_result_t r;
    ac_errmsg_t err = {{0}};
    const char *a =
        "{\"version\":1,\"workflow\":{\"name\":\"a\"},\"steps\":[{\"position\":1,\"name\":\"s\",\"skill\":\"shell\"}]}";
    const char *b = "{\"version\":1,\"workflow\":{\"name\":\"b\"},\"steps\":[]}";
    assert_int_equal(import(f, a, &r, &err), 0);
    json_decref(r.warnings);
    assert_int_equal(import(f, b, &r, &err), 0);
    json_decref(r.warnings);
    assert_int_equal(ac_node_wf_replace(f->c, "nope", a, strlen(a), NULL, &err), -AC_ENOENT);
    assert_int_equal(ac_node_wf_replace(f->c, "a", b, strlen(b), NULL, &err), -AC_EEXIST); /* b's name is taken */
    const char *malformed = "{\"version\":1,\"workflow\":{\"name\":\"a\"},\"steps\":[{\"position\":\"x\"}]}";
    assert_int_equal(ac_node_wf_replace(f->c, "a", malformed, strlen(malformed), NULL, &err), -AC_EINVAL);
    assert_true(strlen(err.msg) > 0);
    assert_q(f, "SELECT count(*) FROM workflow_steps s JOIN workflows w ON w.id = s.workflow_id WHERE w.name = 'a'",
             "1");
    assert_q(f, "SELECT count(*) FROM workflows", "2");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(imports_the_originals_export_with_every_field_disabled),
        T(round_trips_routes_config_and_metadata),
        T(malformed_input_gets_the_originals_message_and_changes_nothing),
        T(a_step_the_database_refuses_rolls_back_the_whole_import),
        T(oversized_and_too_deep_input_is_refused),
        T(resource_tags_are_bounded_and_kept),
        T(export_of_an_unknown_workflow_is_not_found),
        T(replace_rewrites_fields_and_steps_and_keeps_enabled),
        T(replace_refuses_and_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
