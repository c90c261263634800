/* web/skills.c - the Skills page's API (skills.h): the skill registry with each skill's circuit breaker, the Lua files
 * in SKILLS_DIR, uploads, and the load, reload and unload of dynamic skills, which only a 2FA code carries out.
 *
 * Everything runs on a web worker, never on the loop: the list takes the dynamic skills' lock, which a load holds
 * while its sandbox runs; the files are file I/O; a load's check runs the sandbox. The list, the files and uploads do
 * not need the database (they answer while it is down). A load, reload or unload becomes an action (node/action.h)
 * that ac_node_action_skill checks as far as it can before anything is asked of the person (the file, and its
 * declaration read in the sandbox), so nobody is asked to approve what would be refused; the action binds what was
 * checked, and web/twofa.c runs it once a code approves it. While 2FA is off nothing here loads, reloads or unloads:
 * ac_web_twofa_gate would let the action through, so the refusal comes before it. */
#include "web/skills.h"

#include "web/twofa.h"

#include "node/action.h"
#include "node/dynskills.h"
#include "node/log.h"
#include "node/twofa.h"
#include "policy/alloc.h"
#include "policy/perm.h"
#include "skills/breaker.h"
#include "skills/dynfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BREAKERS_MAX 1024 /* breakers a listing reads */
#define RECORDED_MAX 1000 /* rows of dynamic_skills a listing reads */
#define OP_RELOAD    1
#define OP_UNLOAD    2

static const char twofa_off_text[] =
    "dynamic skills are loaded, reloaded and unloaded only with a code from your authenticator app: turn on "
    "two-factor authentication first (Config page)";
static const char dynamic_off_text[] =
    "dynamic skills are off on this node: the sandbox helper alexclaw-sandbox is missing, the sandbox user does not "
    "exist, or SKILLS_DIR is not usable (the node's log says which)";
static const char not_loaded_text[] =
    "recorded but not loaded on this node: its file is missing, changed since it was loaded, or fails a check (the "
    "log says which); reload it to load the file as it is now, or unload it";

/* Text as JSON (a text that is not UTF-8 says so instead of failing the whole answer). */
static json_t *text(const char *s)
{
    json_t *j = json_string(s != NULL ? s : "");
    return j != NULL ? j : json_string("(not valid UTF-8)");
}

/* The first element of list whose `key` is the string value, or NULL. */
static json_t *find_by(json_t *list, const char *key, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *v = json_string_value(json_object_get(e, key));
        if (v != NULL && strcmp(v, value) == 0)
            return e;
    }
    return NULL;
}

static json_t *checksum16(const char *sha)
{
    char s[17];
    if (sha == NULL)
        return json_null();
    snprintf(s, sizeof(s), "%.16s", sha);
    return text(s);
}

static void iso(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void answer(ac_web_call_t *c, int status, const char *msg, const char *key, const char *value)
{
    c->status = status;
    c->body = key != NULL ? json_pack("{s:s, s:s}", "error", msg, key, value) : ac_web_error_body(msg);
}

void ac_web_skills_fail(ac_web_call_t *c, int rc, const ac_errmsg_t *err, bool approved)
{
    bool db = rc == -AC_EDB || rc == -AC_EDBDOWN;
    if (db)
        ac_log_warn("web", "skill_db_error", "error=%s", err->msg);
    c->status = rc == -AC_ENOENT                                                                ? 404
                : db || rc == -AC_ESTATE                                                        ? 503
                : rc == -AC_EINVAL || rc == -AC_EPERM || rc == -AC_EEXIST || rc == -AC_ETOOLONG ? 422
                                                                                                : 500;
    c->body = ac_web_error_body(db            ? (rc == -AC_EDBDOWN ? "database unreachable" : "database error")
                                : err->msg[0] ? err->msg
                                              : ac_strerror(rc));
    if (approved)
        json_object_set_new(c->body, "approved", json_true());
}

/* --- the list ---------------------------------------------------------------------------------------------- */

static json_t *breaker_of(const ac_skills_breaker_view_t *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].skill, name) != 0)
            continue;
        return json_pack("{s:s, s:i, s:o}", "state", ac_skills_breaker_state_name(v[i].state), "failures",
                         v[i].failures, "last_error", v[i].last_error[0] ? text(v[i].last_error) : json_null());
    }
    return json_pack("{s:s, s:i, s:n}", "state", ac_skills_breaker_state_name(AC_BREAKER_CLOSED), "failures", 0,
                     "last_error"); /* never called: no breaker yet */
}

static json_t *perms_json(ac_policy_perms_t perms)
{
    json_t *a = json_array();
    for (int b = 0; b < AC_POLICY_PERM_COUNT; b++)
        if (perms & ((ac_policy_perms_t)1 << b))
            json_array_append_new(a, json_string(ac_policy_perm_name((ac_policy_perms_t)1 << b)));
    return a;
}

/* One registered skill; dyn is ac_node_dynskills_list()'s answer. */
static json_t *skill_json(const ac_skill_def_t *def, json_t *dyn, const ac_skills_breaker_view_t *v, size_t nv)
{
    json_t *routes = json_array();
    for (size_t k = 0; def->routes != NULL && def->routes[k] != NULL; k++)
        json_array_append_new(routes, text(def->routes[k]));
    ac_policy_perms_t perms = 0;
    bool dynamic = ac_node_dynskills_perms(def, &perms);
    json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:b, s:s}", "name", text(def->name), "description",
                          text(def->description), "config", text(def->config_hint), "routes", routes, "external",
                          def->external, "kind", dynamic ? "dynamic" : "core");
    json_t *d = dynamic ? find_by(dyn, "name", def->name) : NULL;
    json_object_set_new(o, "permissions", dynamic ? perms_json(perms) : json_string("all"));
    json_object_set_new(o, "version", d != NULL ? text(json_string_value(json_object_get(d, "version"))) : json_null());
    json_object_set_new(o, "file", d != NULL ? text(json_string_value(json_object_get(d, "file"))) : json_null());
    json_object_set_new(o, "checksum",
                        checksum16(d != NULL ? json_string_value(json_object_get(d, "checksum")) : NULL));
    json_object_set_new(o, "breaker", breaker_of(v, nv, def->name));
    return o;
}

/* Rows of dynamic_skills this node has not loaded; null when the database did not answer. */
static json_t *not_loaded(PGconn *db, ac_web_server_t *s)
{
    if (db == NULL)
        return json_null();
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", RECORDED_MAX);
    const char *p[] = {lim};
    PGresult *r = PQexecParams(db,
                               "SELECT name, version, description, file_path, checksum, enabled, "
                               "array_to_json(permissions)::text, array_to_json(routes)::text FROM dynamic_skills "
                               "ORDER BY name LIMIT $1::int",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ac_log_warn("web", "query_failed", "error=%s", PQerrorMessage(db));
        PQclear(r);
        return json_null();
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        const ac_skill_def_t *def = ac_skills_registry_find(s->cfg.registry, name);
        ac_policy_perms_t perms;
        bool here = def != NULL && ac_node_dynskills_perms(def, &perms);
        ac_skills_registry_release(s->cfg.registry, def);
        if (here)
            continue; /* loaded here */
        bool enabled = PQgetvalue(r, i, 5)[0] == 't';
        json_t *pj = json_loads(PQgetvalue(r, i, 6), 0, NULL), *rj = json_loads(PQgetvalue(r, i, 7), 0, NULL);
        json_array_append_new(a, json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:s}", "name", text(name),
                                           "kind", "dynamic", "version", text(PQgetvalue(r, i, 1)), "description",
                                           text(PQgetvalue(r, i, 2)), "file", text(PQgetvalue(r, i, 3)), "checksum",
                                           checksum16(PQgetvalue(r, i, 4)), "enabled", enabled, "permissions",
                                           pj != NULL ? pj : json_array(), "routes", rj != NULL ? rj : json_array(),
                                           "reason", enabled ? not_loaded_text : "disabled in dynamic_skills"));
    }
    PQclear(r);
    return a;
}

static void list_run(PGconn *db, ac_web_call_t *c)
{
    ac_web_server_t *s = c->s;
    ac_node_dynskills_t *d = s->cfg.dynskills;
    size_t cap = 128, n;
    const ac_skill_def_t **defs = NULL;
    for (;;) { /* the registry may grow between two calls */
        defs = ac_realloc(defs, cap * sizeof(*defs));
        n = ac_skills_registry_list(s->cfg.registry, defs, cap);
        if (n <= cap)
            break;
        ac_skills_registry_release_list(s->cfg.registry, defs, cap);
        cap = n + 32;
    }
    ac_skills_breaker_view_t *views = ac_malloc(BREAKERS_MAX * sizeof(*views));
    size_t nv = ac_skills_breakers_snapshot(s->cfg.breakers, views, BREAKERS_MAX);
    json_t *dyn = d != NULL ? ac_node_dynskills_list(d) : json_array(), *skills = json_array();
    for (size_t i = 0; i < n; i++) /* held: valid even if the skill is unloaded meanwhile */
        json_array_append_new(skills, skill_json(defs[i], dyn, views, nv));
    ac_skills_registry_release_list(s->cfg.registry, defs, n);
    c->body =
        json_pack("{s:o, s:o, s:{s:b, s:o, s:b}}", "skills", skills, "not_loaded", not_loaded(db, s), "dynamic_skills",
                  "enabled", d != NULL, "dir", d != NULL ? text(ac_node_dynskills_dir(d)) : json_null(), "two_factor",
                  ac_node_twofa_enabled(s->cfg.settings));
    json_decref(dyn);
    free(views);
    free(defs);
}

/* --- the files --------------------------------------------------------------------------------------------- */

typedef struct {
    char name[NAME_MAX + 1];
    long long bytes;
    time_t mtime;
} file_t;

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const file_t *)a)->name, ((const file_t *)b)->name);
}

/* Whether SKILLS_DIR/file no longer is what was loaded (checksum), or cannot be read as a skill file. */
static bool file_changed(const char *dir, const char *file, const char *checksum)
{
    char path[PATH_MAX], sha[65];
    char *src = NULL;
    size_t len = 0;
    ac_errmsg_t err = {{0}};
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
        return true;
    bool changed =
        ac_skills_dynfile_read(dir, path, &src, &len, sha, &err) != 0 || checksum == NULL || strcmp(sha, checksum) != 0;
    free(src);
    return changed;
}

/* The regular *.lua files directly in dir (no dot files, symlinks or directories): at most AC_WEB_SKILLS_FILES_MAX,
 * *truncated when there are more. Returns how many, or -1 with errno when the directory cannot be read. */
static int read_dir(const char *dir, file_t *out, bool *truncated)
{
    *truncated = false;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dh = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (dh == NULL) {
        int e = errno;
        if (dfd >= 0)
            close(dfd);
        errno = e;
        return -1;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        size_t len = strlen(de->d_name);
        struct stat st;
        if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".lua") != 0)
            continue;
        if (fstatat(dirfd(dh), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == AC_WEB_SKILLS_FILES_MAX) {
            *truncated = true;
            break;
        }
        snprintf(out[n].name, sizeof(out[n].name), "%s", de->d_name);
        out[n].bytes = (long long)st.st_size;
        out[n].mtime = st.st_mtime;
        n++;
    }
    closedir(dh);
    qsort(out, (size_t)n, sizeof(*out), cmp_file);
    return n;
}

static void files_run(PGconn *db, ac_web_call_t *c)
{
    (void)db;
    ac_node_dynskills_t *d = c->s->cfg.dynskills;
    if (d == NULL) {
        c->body = json_pack("{s:b, s:n, s:[], s:b}", "enabled", 0, "dir", "files", "truncated", 0);
        return;
    }
    const char *dir = ac_node_dynskills_dir(d);
    file_t *f = ac_malloc(AC_WEB_SKILLS_FILES_MAX * sizeof(*f));
    bool truncated = false;
    int n = read_dir(dir, f, &truncated);
    if (n < 0) {
        ac_log_warn("web", "skills_dir_unreadable", "error=%s", strerror(errno));
        answer(c, 500, "SKILLS_DIR cannot be read (the node's log says why)", NULL, NULL);
        free(f);
        return;
    }
    json_t *dyn = ac_node_dynskills_list(d), *files = json_array();
    for (int i = 0; i < n; i++) {
        json_t *name = json_string(f[i].name);
        if (name == NULL)
            continue; /* not UTF-8: no skill file has such a name */
        char mod[32], skill[AC_SKILLS_DYNFILE_NAME_MAX + 1];
        ac_errmsg_t err = {{0}};
        iso(f[i].mtime, mod);
        json_t *loaded = find_by(dyn, "file", f[i].name);
        json_t *o = json_pack("{s:o, s:I, s:s, s:b}", "file", name, "bytes", (json_int_t)f[i].bytes, "modified", mod,
                              "loadable", ac_node_dynskills_filename_check(f[i].name, skill, &err) == 0);
        json_object_set(o, "loaded_as", loaded != NULL ? json_object_get(loaded, "name") : json_null());
        if (loaded != NULL)
            json_object_set_new(
                o, "changed",
                json_boolean(file_changed(dir, f[i].name, json_string_value(json_object_get(loaded, "checksum")))));
        json_array_append_new(files, o);
    }
    json_decref(dyn);
    free(f);
    c->body = json_pack("{s:b, s:o, s:o, s:b}", "enabled", 1, "dir", text(dir), "files", files, "truncated", truncated);
}

static void upload_run(PGconn *db, ac_web_call_t *c)
{
    (void)db;
    ac_node_dynskills_t *d = c->s->cfg.dynskills;
    json_t *fn = json_object_get(c->in, "filename"), *src = json_object_get(c->in, "source");
    const char *file = json_string_value(fn);
    char skill[AC_SKILLS_DYNFILE_NAME_MAX + 1];
    ac_errmsg_t err = {{0}};
    if (d == NULL) {
        answer(c, 503, dynamic_off_text, NULL, NULL);
        return;
    }
    if (file == NULL || !json_is_string(src)) {
        answer(c, 400, "the body must be {\"filename\": \"<name>.lua\", \"source\": \"...\"}", NULL, NULL);
        return;
    }
    /* a NUL in the name would hide what follows it from the checks */
    if (strlen(file) != json_string_length(fn) || ac_node_dynskills_filename_check(file, skill, &err) != 0) {
        answer(c, 422, err.msg[0] ? err.msg : "invalid_filename: the name holds a NUL byte", "field", "filename");
        return;
    }
    size_t len = json_string_length(src);
    int rc = ac_node_dynskills_write(d, file, json_string_value(src), len, &err);
    ac_log_info("web", "skill_file_written", "file=%s bytes=%zu ok=%s", file, len, rc == 0 ? "yes" : "no");
    if (rc != 0) {
        answer(c,
               rc == -AC_ETOOLONG && len > 0            ? 413
               : rc == -AC_EINVAL || rc == -AC_ETOOLONG ? 422
                                                        : 500,
               err.msg, "field", "source");
        return;
    }
    json_t *dyn = ac_node_dynskills_list(d), *loaded = find_by(dyn, "file", file);
    char note[200];
    if (loaded != NULL)
        snprintf(note, sizeof(note), "written; %s still runs the code it was loaded with: reload it to use this file",
                 json_string_value(json_object_get(loaded, "name")));
    else
        snprintf(note, sizeof(note), "written, not loaded: load it to use it");
    c->status = 201;
    c->body = json_pack("{s:s, s:I, s:O, s:s}", "file", file, "bytes", (json_int_t)len, "loaded_as",
                        loaded != NULL ? json_object_get(loaded, "name") : json_null(), "note", note);
    json_decref(dyn);
}

/* --- load, reload, unload ---------------------------------------------------------------------------------- */

static void refuse_twofa_off(ac_web_call_t *c)
{
    answer(c, 403, twofa_off_text, "reason", "2fa_off");
}

/* The action waits for a code (the Telegram chat may give it too). Takes a. */
static void gate(PGconn *db, ac_web_call_t *c, json_t *a)
{
    if (!ac_web_twofa_gate(db, c, a, true)) /* 2FA was turned off since the check: still never at once */
        refuse_twofa_off(c);
}

/* A load over a loaded skill of the same version would be refused when it runs (same_version): say so now. */
static bool same_version(ac_web_call_t *c, const json_t *a)
{
    const json_t *e = json_object_get(a, "expect"), *old = json_object_get(e, "replaces");
    const char *v = json_string_value(json_object_get(e, "version"));
    const char *ov = json_string_value(json_object_get(old, "version"));
    if (v == NULL || ov == NULL || strcmp(v, ov) != 0)
        return false;
    ac_errmsg_t err = {{0}};
    ac_errmsg_set(&err, -AC_EEXIST,
                  "same_version: %s %s is loaded; bump the version before loading it again, or reload it",
                  json_string_value(json_object_get(e, "name")), v[0] ? v : "(no version)");
    answer(c, 422, err.msg, NULL, NULL);
    return true;
}

static void load_run(PGconn *db, ac_web_call_t *c)
{
    ac_node_dynskills_t *d = c->s->cfg.dynskills;
    json_t *fv = json_object_get(c->in, "file"), *a = NULL;
    const char *file = json_string_value(fv);
    char skill[AC_SKILLS_DYNFILE_NAME_MAX + 1];
    ac_errmsg_t err = {{0}};
    if (d == NULL) {
        answer(c, 503, dynamic_off_text, NULL, NULL);
        return;
    }
    if (file == NULL || strlen(file) != json_string_length(fv)) {
        answer(c, 400, "the body must be {\"file\": \"<name>.lua\"}", NULL, NULL);
        return;
    }
    if (ac_node_dynskills_filename_check(file, skill, &err) != 0) {
        answer(c, 422, err.msg, "field", "file");
        return;
    }
    if (!ac_node_twofa_enabled(c->s->cfg.settings)) {
        refuse_twofa_off(c);
        return;
    }
    int rc = ac_node_action_skill(d, db, "skill_load", file, &a, &err); /* reads and declares it in the sandbox */
    if (rc != 0)
        ac_web_skills_fail(c, rc, &err, false);
    else if (same_version(c, a))
        json_decref(a);
    else
        gate(db, c, a);
}

/* reload (c->id OP_RELOAD) or unload (OP_UNLOAD) of the skill c->name */
static void manage_run(PGconn *db, ac_web_call_t *c)
{
    ac_web_server_t *s = c->s;
    ac_node_dynskills_t *d = s->cfg.dynskills;
    bool reload = c->id == OP_RELOAD;
    ac_errmsg_t err = {{0}};
    int rc = ac_skills_dynfile_name_check(c->name, &err);
    if (rc == -AC_EPERM || ac_skills_registry_is_core(s->cfg.registry, c->name)) {
        ac_errmsg_set(&err, -AC_EPERM, "%s is a core skill: core skills can never be %s", c->name,
                      reload ? "reloaded" : "unloaded");
        answer(c, 403, err.msg, "reason", "core_skill");
        return;
    }
    if (rc != 0) {
        answer(c, 404, "no such dynamic skill", NULL, NULL);
        return;
    }
    if (d == NULL) {
        answer(c, 503, dynamic_off_text, NULL, NULL);
        return;
    }
    const char *p[] = {c->name};
    PGresult *r;
    if (!ac_web_call_query(db, c, "SELECT 1 FROM dynamic_skills WHERE name = $1", 1, p, &r))
        return;
    bool recorded = PQntuples(r) > 0;
    PQclear(r);
    const ac_skill_def_t *def = ac_skills_registry_find(s->cfg.registry, c->name);
    ac_policy_perms_t perms;
    bool loaded = def != NULL && ac_node_dynskills_perms(def, &perms);
    ac_skills_registry_release(s->cfg.registry, def);
    if (!recorded && (reload || !loaded)) { /* a reload needs the row: it names the file */
        ac_errmsg_set(&err, -AC_ENOENT, "not_found: no dynamic skill %s", c->name);
        answer(c, 404, err.msg, NULL, NULL);
        return;
    }
    if (!ac_node_twofa_enabled(s->cfg.settings)) {
        refuse_twofa_off(c);
        return;
    }
    json_t *a = NULL;
    rc = ac_node_action_skill(d, db, reload ? "skill_reload" : "skill_unload", c->name, &a, &err);
    if (rc != 0)
        ac_web_skills_fail(c, rc, &err, false);
    else
        gate(db, c, a);
}

/* --- dispatch ---------------------------------------------------------------------------------------------- */

/* Runs c->fn whether or not the worker has a database connection (the list and the files need none). */
static void run_any(PGconn *db, void *arg)
{
    ac_web_call_t *c = arg;
    c->fn(db, c);
}

void ac_web_skills_api(ac_web_server_t *s, h2o_req_t *req, const char *path)
{
    bool get = ac_web_method_is(req, "GET") || ac_web_method_is(req, "HEAD");
    bool post = ac_web_method_is(req, "POST");
    void (*fn)(PGconn *, ac_web_call_t *) = NULL;
    bool needs_body = false, needs_db = false;
    char name[AC_WEB_NAME_MAX + 1] = "";
    int64_t op = 0;
    if (strcmp(path, "/api/skills") == 0 && get) {
        fn = list_run;
    } else if (strcmp(path, "/api/skills/files") == 0 && get) {
        fn = files_run;
    } else if (strcmp(path, "/api/skills/files") == 0 && post) {
        fn = upload_run, needs_body = true;
    } else if (strcmp(path, "/api/skills/load") == 0 && post) {
        fn = load_run, needs_body = needs_db = true;
    } else if (strncmp(path, "/api/skills/", 12) == 0 && post) {
        const char *p = path + 12, *slash = strchr(p, '/');
        size_t n = slash != NULL ? (size_t)(slash - p) : 0;
        if (n > 0 && n < sizeof(name) && (strcmp(slash, "/reload") == 0 || strcmp(slash, "/unload") == 0)) {
            memcpy(name, p, n);
            name[n] = '\0';
            fn = manage_run, needs_db = true;
            op = strcmp(slash, "/reload") == 0 ? OP_RELOAD : OP_UNLOAD;
        }
    }
    if (fn == NULL) {
        ac_web_error(req, 404, "no such endpoint");
        return;
    }
    json_t *in = NULL; /* NUL is let through the parser so the checks can refuse it with their own sentence */
    if (needs_body && (in = ac_web_call_body(req, JSON_ALLOW_NUL, "the body must be a JSON object")) == NULL)
        return;
    ac_web_call_t *c = ac_web_call_new(s, fn);
    c->in = in;
    c->id = op;
    snprintf(c->name, sizeof(c->name), "%s", name);
    ac_web_jobs_defer(s->jobs, req, needs_db ? ac_web_call_run : run_any, ac_web_call_done, c);
}
