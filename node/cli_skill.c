/* node/cli_skill.c - `alexclaw skill ...` (cli_skill.h). */
#include "node/cli_skill.h"

#include "node/app.h"
#include "node/cli_workflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: alexclaw skill list | load FILE --code CODE | unload NAME --code CODE |"
                    " reload NAME --code CODE\n"
                    "  FILE: a .lua file in SKILLS_DIR (its name there, or its absolute path)\n"
                    "  --code: a current code from your authenticator app (2FA must be on)\n");
    return 2;
}

static int fail(const char *msg)
{
    fprintf(stderr, "alexclaw skill: %s\n", msg);
    return 1;
}

static void print_info(const json_t *info, const char *verb)
{
    char *perms = json_dumps(json_object_get(info, "permissions"), JSON_COMPACT);
    printf("%s %s %s (file %s, permissions %s, checksum %.16s)\n", verb,
           json_string_value(json_object_get(info, "name")), json_string_value(json_object_get(info, "version")),
           json_string_value(json_object_get(info, "file")), perms != NULL ? perms : "[]",
           json_string_value(json_object_get(info, "checksum")));
    free(perms);
}

static int list(ac_node_app_t *app)
{
    printf("name\tkind\tversion\tpermissions\troutes\tfile\n");
    const ac_skill_def_t *defs[256];
    size_t n = ac_skills_registry_list(app->registry, defs, 256);
    json_t *dyn = app->dynskills != NULL ? ac_node_dynskills_list(app->dynskills) : json_array();
    for (size_t i = 0; i < n && i < 256; i++) {
        json_t *d = NULL, *e;
        size_t k;
        json_array_foreach(dyn, k, e) if (strcmp(json_string_value(json_object_get(e, "name")), defs[i]->name) == 0) d =
            e;
        char routes[512] = "";
        for (int r = 0; defs[i]->routes != NULL && defs[i]->routes[r] != NULL; r++)
            snprintf(routes + strlen(routes), sizeof(routes) - strlen(routes), "%s%s", r ? "," : "",
                     defs[i]->routes[r]);
        if (d == NULL) {
            printf("%s\tcore\t-\tall\t%s\t-\n", defs[i]->name, routes);
            continue;
        }
        char perms[256] = "";
        json_array_foreach(json_object_get(d, "permissions"), k, e)
            snprintf(perms + strlen(perms), sizeof(perms) - strlen(perms), "%s%s", k ? "," : "", json_string_value(e));
        printf("%s\tdynamic\t%s\t%s\t%s\t%s\n", defs[i]->name, json_string_value(json_object_get(d, "version")), perms,
               routes, json_string_value(json_object_get(d, "file")));
    }
    ac_skills_registry_release_list(app->registry, defs, n < 256 ? n : 256);
    json_decref(dyn);
    return 0;
}

int ac_node_cli_skill(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    const char *sub = argv[0];
    const char *code = NULL;
    bool list_cmd = strcmp(sub, "list") == 0;
    if (list_cmd) {
        if (argc != 1)
            return usage();
    } else if (strcmp(sub, "load") == 0 || strcmp(sub, "unload") == 0 || strcmp(sub, "reload") == 0) {
        if (argc == 4 && strcmp(argv[2], "--code") == 0)
            code = argv[3];
        else if (argc != 2)
            return usage();
    } else {
        return usage();
    }
    ac_node_runtime_t rt;
    ac_errmsg_t err = {{0}};
    int rc = ac_node_runtime_open(&rt, AC_RT_MIGRATE | AC_RT_SETTINGS, NULL, &err);
    if (rc != 0)
        return fail(err.msg[0] ? err.msg : ac_strerror(rc));
    if (!list_cmd && (rc = ac_node_cli_second_factor(&rt, code, true, "managing dynamic skills")) != 0) {
        ac_node_runtime_close(&rt);
        return rc;
    }
    ac_node_app_t app;
    if ((rc = ac_node_app_init(&app, &rt, &err)) != 0) {
        ac_node_runtime_close(&rt);
        return fail(err.msg);
    }
    if (list_cmd) {
        rc = list(&app);
    } else if (app.dynskills == NULL) {
        rc = fail("dynamic skills are off on this machine (see the log: sandbox helper or SKILLS_DIR)");
    } else {
        json_t *info = NULL;
        if (strcmp(sub, "load") == 0)
            rc = ac_node_dynskills_load(app.dynskills, rt.db, argv[1], false, &info, &err);
        else if (strcmp(sub, "reload") == 0)
            rc = ac_node_dynskills_reload(app.dynskills, rt.db, argv[1], &info, &err);
        else
            rc = ac_node_dynskills_unload(app.dynskills, rt.db, argv[1], &err);
        if (rc != 0)
            rc = fail(err.msg);
        else if (info != NULL)
            print_info(info, strcmp(sub, "load") == 0 ? "loaded" : "reloaded");
        else
            printf("unloaded %s\n", argv[1]);
        json_decref(info);
    }
    ac_node_app_close(&app);
    ac_node_runtime_close(&rt);
    return rc;
}
