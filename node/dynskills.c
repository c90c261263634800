/* node/dynskills.c - dynamic Lua skills: load, unload, reload, boot, and their run function (dynskills.h). */
#include "node/dynskills.h"

#include "node/db.h"
#include "node/log.h"
#include "node/skillapi.h"
#include "policy/alloc.h"
#include "policy/utf8.h"
#include "skills/dynfile.h"
#include "skills/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct rec {
    ac_skill_def_t def; /* def.impl points back here */
    char name[AC_SKILLS_DYNFILE_NAME_MAX + 1];
    char version[AC_NODE_DYNSKILLS_VERSION_MAX + 1];
    char *description;
    char *routes[AC_NODE_DYNSKILLS_ROUTES_MAX + 1];
    char file[PATH_MAX]; /* relative to SKILLS_DIR */
    char sha256[65];
    ac_policy_perms_t perms;
    char *src;
    size_t len;
    ac_node_dynskills_t *owner;
    unsigned holds; /* callers using def (registry finds); under owner->holds_lock */
    bool retired;   /* no longer registered: freed when holds drops to 0 */
    struct rec *next;
} rec_t;

struct ac_node_dynskills {
    char *dir; /* canonical SKILLS_DIR */
    char *helper;
    uid_t uid;
    gid_t gid;
    ac_skills_registry_t *registry;
    ac_node_settings_t *settings;
    ac_node_skillapi_t *api;
    char *conninfo;
    pthread_mutex_t lock;
    bool watching; /* the watcher thread runs */
    pthread_t watcher;
    int wake[2]; /* a byte stops the watcher */
    ac_node_dynskills_alert_fn alert;
    void *alert_arg;
    rec_t *live;                /* registered */
    pthread_mutex_t holds_lock; /* the records' holds and the retired list (taken last, held briefly) */
    rec_t *retired;             /* unloaded or replaced while runs in flight held them: freed by the last release */
};

static int dyn_run(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, ac_skill_result_t *res);

static void rec_free(rec_t *r)
{
    free(r->description);
    for (int i = 0; r->routes[i] != NULL; i++)
        free(r->routes[i]);
    free(r->src);
    free(r);
}

/* The registry's holder (registry.h): a dynamic skill's record lives while a caller holds its definition. */
static void hold(void *arg, const ac_skill_def_t *def)
{
    ac_node_dynskills_t *d = arg;
    if (def->run != dyn_run || def->impl == NULL)
        return;
    pthread_mutex_lock(&d->holds_lock);
    ((rec_t *)def->impl)->holds++;
    pthread_mutex_unlock(&d->holds_lock);
}

static void release(void *arg, const ac_skill_def_t *def)
{
    ac_node_dynskills_t *d = arg;
    if (def->run != dyn_run || def->impl == NULL)
        return;
    rec_t *r = def->impl, *gone = NULL;
    pthread_mutex_lock(&d->holds_lock);
    if (r->holds == 0) /* a release without its hold: the record may already be gone; touch nothing more */
        ac_log_error("skills", "release_without_hold", "skill=%s", r->name);
    else if (--r->holds == 0 && r->retired) {
        for (rec_t **p = &d->retired; *p != NULL; p = &(*p)->next)
            if (*p == r) {
                *p = r->next;
                gone = r;
                break;
            }
    }
    pthread_mutex_unlock(&d->holds_lock);
    if (gone != NULL)
        rec_free(gone);
}

int ac_node_dynskills_new(const ac_node_dynskills_cfg_t *cfg, ac_node_dynskills_t **out, ac_errmsg_t *err)
{
    *out = NULL;
    if (mkdir(cfg->skills_dir, 0750) != 0 && errno != EEXIST)
        return ac_errmsg_set(err, -AC_EIO, "SKILLS_DIR %s: %s", cfg->skills_dir, strerror(errno));
    char real[PATH_MAX];
    struct stat st;
    if (realpath(cfg->skills_dir, real) == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return ac_errmsg_set(err, -AC_EIO, "SKILLS_DIR %s is not a directory", cfg->skills_dir);
    ac_node_dynskills_t *d = ac_calloc(1, sizeof(*d));
    d->dir = ac_strdup(real);
    d->helper = ac_strdup(cfg->helper);
    d->uid = cfg->uid;
    d->gid = cfg->gid;
    d->registry = cfg->registry;
    d->settings = cfg->settings;
    d->api = cfg->api;
    d->conninfo = cfg->conninfo != NULL ? ac_strdup(cfg->conninfo) : NULL;
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->holds_lock, NULL);
    ac_skills_registry_holder_t holder = {hold, release, d};
    ac_skills_registry_set_holder(d->registry, &holder);
    *out = d;
    return 0;
}

void ac_node_dynskills_set_api(ac_node_dynskills_t *d, ac_node_skillapi_t *api)
{
    d->api = api;
}

void ac_node_dynskills_free(ac_node_dynskills_t *d)
{
    if (d == NULL)
        return;
    if (d->watching) {
        char b = 1;
        (void)!write(d->wake[1], &b, 1);
        pthread_join(d->watcher, NULL);
        close(d->wake[0]);
        close(d->wake[1]);
    }
    /* every thread that could hold a definition has stopped (node/app.c's order): say so if one still does */
    ac_skills_registry_set_holder(d->registry, NULL);
    size_t held = 0;
    pthread_mutex_lock(&d->holds_lock);
    for (rec_t *r = d->live; r != NULL; r = r->next)
        held += r->holds > 0;
    for (rec_t *r = d->retired; r != NULL; r = r->next)
        held += r->holds > 0;
    pthread_mutex_unlock(&d->holds_lock);
    if (held > 0)
        ac_log_error("skills", "freed_while_held", "records=%zu", held);
    for (rec_t *r = d->live, *n; r != NULL; r = n) {
        n = r->next;
        ac_skills_registry_remove(d->registry, r->name);
        rec_free(r);
    }
    for (rec_t *r = d->retired, *n; r != NULL; r = n) {
        n = r->next;
        rec_free(r);
    }
    pthread_mutex_destroy(&d->holds_lock);
    pthread_mutex_destroy(&d->lock);
    free(d->dir);
    free(d->helper);
    if (d->conninfo != NULL)
        ac_free_secret_str(d->conninfo);
    free(d);
}

const char *ac_node_dynskills_dir(const ac_node_dynskills_t *d)
{
    return d->dir;
}

bool ac_node_dynskills_perms(const ac_skill_def_t *def, ac_policy_perms_t *perms)
{
    *perms = 0;
    if (def == NULL || def->run != dyn_run || def->impl == NULL)
        return false;
    *perms = ((const rec_t *)def->impl)->perms;
    return true;
}

size_t ac_node_dynskills_retired_held(ac_node_dynskills_t *d)
{
    size_t n = 0;
    pthread_mutex_lock(&d->holds_lock);
    for (const rec_t *r = d->retired; r != NULL; r = r->next)
        n++;
    pthread_mutex_unlock(&d->holds_lock);
    return n;
}

static rec_t *find_live(ac_node_dynskills_t *d, const char *name, rec_t ***link)
{
    for (rec_t **p = &d->live; *p != NULL; p = &(*p)->next)
        if (strcmp((*p)->name, name) == 0) {
            if (link != NULL)
                *link = p;
            return *p;
        }
    return NULL;
}

/* Unregisters *link and frees it, at once or -- when callers hold it -- at the last release. Locked (d->lock). */
static void retire(ac_node_dynskills_t *d, rec_t **link)
{
    rec_t *r = *link;
    *link = r->next;
    ac_skills_registry_remove(d->registry, r->name); /* no new holds from here on */
    pthread_mutex_lock(&d->holds_lock);
    bool now = r->holds == 0;
    if (!now) {
        r->retired = true;
        r->next = d->retired;
        d->retired = r;
    }
    pthread_mutex_unlock(&d->holds_lock);
    if (now)
        rec_free(r);
}

static json_t *rec_info(const rec_t *r)
{
    json_t *routes = json_array();
    for (int i = 0; r->routes[i] != NULL; i++)
        json_array_append_new(routes, json_string(r->routes[i]));
    json_t *perms = json_array();
    for (int b = 0; b < AC_POLICY_PERM_COUNT; b++)
        if (r->perms & ((ac_policy_perms_t)1 << b))
            json_array_append_new(perms, json_string(ac_policy_perm_name((ac_policy_perms_t)1 << b)));
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:s}", "name", r->name, "version", r->version, "description",
                     r->description, "permissions", perms, "routes", routes, "file", r->file, "checksum", r->sha256);
}

json_t *ac_node_dynskills_list(ac_node_dynskills_t *d)
{
    json_t *a = json_array();
    pthread_mutex_lock(&d->lock);
    for (rec_t *r = d->live; r != NULL; r = r->next)
        json_array_append_new(a, rec_info(r));
    pthread_mutex_unlock(&d->lock);
    return a;
}

/* --- files ------------------------------------------------------------------------------------------------- */

int ac_node_dynskills_filename_check(const char *filename, char name[AC_SKILLS_DYNFILE_NAME_MAX + 1], ac_errmsg_t *err)
{
    size_t n = filename != NULL ? strlen(filename) : 0;
    if (n < 5 || n - 4 > AC_SKILLS_DYNFILE_NAME_MAX || strcmp(filename + n - 4, ".lua") != 0 || filename[0] < 'a' ||
        filename[0] > 'z' || strspn(filename, "abcdefghijklmnopqrstuvwxyz0123456789_") != n - 4)
        return ac_errmsg_set(err, -AC_EINVAL,
                             "invalid_filename: a skill file is <name>.lua directly in SKILLS_DIR, the name in "
                             "lower-case letters, digits and _ (at most %d)",
                             AC_SKILLS_DYNFILE_NAME_MAX);
    memcpy(name, filename, n - 4);
    name[n - 4] = '\0';
    return 0;
}

static int write_file(ac_node_dynskills_t *d, const char *filename, const char *src, size_t len, bool replace,
                      ac_errmsg_t *err)
{
    char name[AC_SKILLS_DYNFILE_NAME_MAX + 1];
    int rc = ac_node_dynskills_filename_check(filename, name, err);
    if (rc != 0)
        return rc;
    if (src == NULL || len == 0 || len > AC_SKILLS_DYNFILE_MAX)
        return ac_errmsg_set(err, -AC_ETOOLONG, "the source must be 1 to %d bytes of Lua text", AC_SKILLS_DYNFILE_MAX);
    if (src[0] == 0x1b || memchr(src, '\0', len) != NULL || !ac_policy_utf8_valid(src, len))
        return ac_errmsg_set(err, -AC_EINVAL, "the source must be UTF-8 Lua text (no NUL bytes, no bytecode)");
    int dfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return ac_errmsg_set(err, -AC_EIO, "SKILLS_DIR is not usable");
    uint8_t rnd[8];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        close(dfd);
        return ac_errmsg_set(err, -AC_EIO, "no randomness for a temporary name");
    }
    char tmp[96], final[64];
    snprintf(tmp, sizeof(tmp), ".%s.%02x%02x%02x%02x%02x%02x%02x%02x.tmp", name, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
             rnd[5], rnd[6], rnd[7]);
    snprintf(final, sizeof(final), "%s.lua", name);
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    size_t off = 0;
    while (fd >= 0 && off < len) {
        ssize_t w = write(fd, src + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    bool ok = fd >= 0 && off == len && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    /* rename replaces a directory entry: a symlink named like the file is replaced, never followed; without replace,
     * an entry of that name (whoever made it, whenever) makes the write fail */
    int rn = !ok ? -1 : replace ? renameat(dfd, tmp, dfd, final) : renameat2(dfd, tmp, dfd, final, RENAME_NOREPLACE);
    if (rn != 0) {
        bool taken = ok && !replace && errno == EEXIST;
        unlinkat(dfd, tmp, 0);
        close(dfd);
        return taken ? ac_errmsg_set(err, -AC_EEXIST, "%s exists already", final)
                     : ac_errmsg_set(err, -AC_EIO, "cannot write %s", final);
    }
    (void)fsync(dfd);
    close(dfd);
    return 0;
}

int ac_node_dynskills_write(ac_node_dynskills_t *d, const char *filename, const char *src, size_t len, ac_errmsg_t *err)
{
    return write_file(d, filename, src, len, true, err);
}

int ac_node_dynskills_write_new(ac_node_dynskills_t *d, const char *filename, const char *src, size_t len,
                                ac_errmsg_t *err)
{
    return write_file(d, filename, src, len, false, err);
}

int ac_node_dynskills_count_files(ac_node_dynskills_t *d)
{
    DIR *dir = opendir(d->dir);
    if (dir == NULL)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".lua") == 0)
            n++;
    }
    closedir(dir);
    return n;
}

/* --- the declaration ---------------------------------------------------------------------------------------- */

static bool route_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 4 && n < AC_SKILL_BRANCH_MAX && strncmp(s, "on_", 3) == 0 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* Checks what the sandbox read out of the file (hostile: it is whatever the skill's top level produced) and fills
 * r's declaration fields. */
static int check_declaration(const json_t *decl, rec_t *r, ac_errmsg_t *err)
{
    const char *name = json_string_value(json_object_get(decl, "name"));
    int rc;
    if (name == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "the skill declares no name");
    if ((rc = ac_skills_dynfile_name_check(name, err)) != 0)
        return rc;
    snprintf(r->name, sizeof(r->name), "%s", name);
    const json_t *v = json_object_get(decl, "version");
    if (v != NULL && (!json_is_string(v) || json_string_length(v) > AC_NODE_DYNSKILLS_VERSION_MAX))
        return ac_errmsg_set(err, -AC_EINVAL, "skill.version is at most %d characters", AC_NODE_DYNSKILLS_VERSION_MAX);
    snprintf(r->version, sizeof(r->version), "%s", v != NULL ? json_string_value(v) : "");
    const char *desc = json_string_value(json_object_get(decl, "description"));
    if (desc == NULL)
        desc = "";
    size_t dl = ac_policy_utf8_fit(desc, strlen(desc), AC_NODE_DYNSKILLS_DESC_MAX);
    r->description = ac_strndup(desc, dl);

    const json_t *perms = json_object_get(decl, "permissions");
    const char *names[AC_POLICY_PERM_COUNT + 1];
    size_t np = json_array_size(perms);
    if (!json_is_array(perms) || np > AC_POLICY_PERM_COUNT)
        return ac_errmsg_set(err, -AC_EINVAL, "skill.permissions lists at most %d known permissions",
                             AC_POLICY_PERM_COUNT);
    for (size_t i = 0; i < np; i++)
        if ((names[i] = json_string_value(json_array_get(perms, i))) == NULL)
            return ac_errmsg_set(err, -AC_EINVAL, "skill.permissions lists names");
    if ((rc = ac_policy_perms_parse(names, np, &r->perms, err)) != 0)
        return rc;

    const json_t *routes = json_object_get(decl, "routes");
    size_t nr = json_array_size(routes);
    if (!json_is_array(routes) || nr > AC_NODE_DYNSKILLS_ROUTES_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "skill.routes lists at most %d routes", AC_NODE_DYNSKILLS_ROUTES_MAX);
    for (size_t i = 0; i < nr; i++) {
        const char *s = json_string_value(json_array_get(routes, i));
        if (s == NULL || !route_ok(s))
            return ac_errmsg_set(err, -AC_EINVAL, "skill.routes: each route is on_<lower-case name>");
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->routes[j], s) == 0)
                return ac_errmsg_set(err, -AC_EINVAL, "skill.routes: %s is listed twice", s);
        r->routes[i] = ac_strdup(s);
    }
    if (nr == 0) {
        r->routes[0] = ac_strdup("on_success");
        r->routes[1] = ac_strdup("on_error");
    }
    return 0;
}

/* --- load --------------------------------------------------------------------------------------------------- */

static int db_fail(PGconn *c, PGresult *res, const char *what, ac_errmsg_t *err)
{
    const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    int code = PQstatus(c) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN;
    ac_errmsg_set(err, code, "%s: %s", what, m != NULL ? m : PQerrorMessage(c));
    PQclear(res);
    return code;
}

static int upsert(PGconn *c, const rec_t *r, ac_errmsg_t *err)
{
    json_t *info = rec_info(r); /* the arrays in a fixed order, as JSON: no literal built by hand */
    char *perms = json_dumps(json_object_get(info, "permissions"), JSON_COMPACT);
    char *routes = json_dumps(json_object_get(info, "routes"), JSON_COMPACT);
    json_decref(info);
    const char *p[] = {r->name, r->file, perms, r->sha256, routes, r->version, r->description};
    PGresult *res = PQexecParams(
        c,
        "INSERT INTO dynamic_skills (name, module_name, file_path, permissions, checksum, enabled, routes, version, "
        "description) VALUES ($1, $1, $2, ARRAY(SELECT json_array_elements_text($3::json))::varchar[], $4, true, "
        "ARRAY(SELECT json_array_elements_text($5::json))::varchar[], $6, $7) "
        "ON CONFLICT (name) DO UPDATE SET file_path = EXCLUDED.file_path, permissions = EXCLUDED.permissions, "
        "checksum = EXCLUDED.checksum, enabled = true, routes = EXCLUDED.routes, version = EXCLUDED.version, "
        "description = EXCLUDED.description, updated_at = now() AT TIME ZONE 'utc'",
        7, NULL, p, NULL, NULL, 0);
    free(perms);
    free(routes);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return db_fail(c, res, "cannot record the dynamic skill", err);
    PQclear(res);
    return 0;
}

/* The skill's file as SKILLS_DIR-relative and absolute paths. */
static int resolve(ac_node_dynskills_t *d, const char *file, char *abs, size_t cap, ac_errmsg_t *err)
{
    if (file == NULL || file[0] == '\0' || strlen(file) >= PATH_MAX / 2)
        return ac_errmsg_set(err, -AC_EINVAL, "no skill file named");
    if (file[0] == '/')
        snprintf(abs, cap, "%s", file);
    else
        snprintf(abs, cap, "%s/%s", d->dir, file);
    return 0;
}

/* Reads, declares and checks a file; on success *out is a new record (not registered). *stage (may be NULL) says
 * how far it got: AC_NODE_DYNSKILLS_STAGE_FILE, _DECLARE (the Lua ran), _CHECK (the declaration was read). */
static int prepare_staged(ac_node_dynskills_t *d, const char *file, rec_t **out, ac_node_dynskills_stage_t *stage,
                          ac_errmsg_t *err)
{
    ac_node_dynskills_stage_t ignored;
    if (stage == NULL)
        stage = &ignored;
    *stage = AC_NODE_DYNSKILLS_STAGE_FILE;
    *out = NULL;
    char abs[PATH_MAX];
    int rc = resolve(d, file, abs, sizeof(abs), err);
    if (rc != 0)
        return rc;
    rec_t *r = ac_calloc(1, sizeof(*r));
    if ((rc = ac_skills_dynfile_read(d->dir, abs, &r->src, &r->len, r->sha256, err)) != 0) {
        rec_free(r);
        return rc;
    }
    char real[PATH_MAX];
    if (realpath(abs, real) == NULL || !ac_skills_dynfile_inside(d->dir, real)) {
        rec_free(r);
        return ac_errmsg_set(err, -AC_EPERM, "the skill file is outside SKILLS_DIR");
    }
    snprintf(r->file, sizeof(r->file), "%s", real + strlen(d->dir) + 1);
    ac_skills_sandbox_opts_t o = {.helper = d->helper, .uid = d->uid, .gid = d->gid};
    ac_skills_sandbox_result_t sr;
    const char *base = strrchr(r->file, '/') != NULL ? strrchr(r->file, '/') + 1 : r->file;
    char chunk[AC_SKILLS_DYNFILE_NAME_MAX + 1];
    snprintf(chunk, sizeof(chunk), "%.*s", (int)strcspn(base, "."), base);
    *stage = AC_NODE_DYNSKILLS_STAGE_DECLARE;
    if ((rc = ac_skills_sandbox_run(&o, "declare", chunk, r->src, r->len, NULL, NULL, NULL, &sr, err)) != 0) {
        rec_free(r);
        return rc;
    }
    if (sr.outcome != AC_SKILLS_SANDBOX_OK) {
        ac_errmsg_set(err, -AC_EINVAL, "%s: %s", r->file, sr.error);
        ac_skills_sandbox_result_clear(&sr);
        rec_free(r);
        return -AC_EINVAL;
    }
    *stage = AC_NODE_DYNSKILLS_STAGE_CHECK;
    rc = check_declaration(sr.output, r, err);
    ac_skills_sandbox_result_clear(&sr);
    if (rc != 0) {
        rec_free(r);
        return rc;
    }
    r->owner = d;
    r->def = (ac_skill_def_t){
        .name = r->name,
        .description = r->description,
        .routes = (const char *const *)r->routes,
        .config_hint = "dynamic (Lua) skill: its own config keys",
        .external = (r->perms & AC_POLICY_PERM_WEB_READ) != 0,
        .run = dyn_run,
        .impl = r,
    };
    *out = r;
    return 0;
}

static int prepare(ac_node_dynskills_t *d, const char *file, rec_t **out, ac_errmsg_t *err)
{
    return prepare_staged(d, file, out, NULL, err);
}

/* Registers r in place of any live skill of that name. Locked. */
static int install(ac_node_dynskills_t *d, rec_t *r, ac_errmsg_t *err)
{
    rec_t **link;
    if (find_live(d, r->name, &link) != NULL)
        retire(d, link);
    int rc = ac_skills_registry_add(d->registry, &r->def, false);
    if (rc != 0) {
        rec_free(r);
        return ac_errmsg_set(err, rc, "the name is taken by a core skill");
    }
    r->next = d->live;
    d->live = r;
    return 0;
}

/* What a 2FA approval binds: the declaration and the checksum. */
static json_t *binding_of(const rec_t *r)
{
    json_t *i = rec_info(r);
    json_object_del(i, "description");
    json_object_del(i, "file");
    return i;
}

/* name: the name the file must declare (reload), or NULL. expect: what an approval saw (ac_node_dynskills_inspect),
 * or NULL. Both are checked before anything changes. */
static int load_locked(ac_node_dynskills_t *d, PGconn *c, const char *file, bool force, const char *name,
                       const json_t *expect, json_t **info, ac_errmsg_t *err)
{
    rec_t *r;
    int rc = prepare(d, file, &r, err);
    if (rc != 0)
        return rc;
    if (name != NULL && strcmp(r->name, name) != 0) {
        ac_errmsg_set(err, -AC_EINVAL, "%s now declares the name %s; unload %s and load the file instead", r->file,
                      r->name, name);
        rec_free(r);
        return -AC_EINVAL;
    }
    if (expect != NULL) {
        json_t *now = binding_of(r);
        json_t *want = json_deep_copy(expect);
        json_object_del(want, "replaces");
        bool same = json_equal(now, want);
        json_decref(now);
        json_decref(want);
        if (!same) {
            rec_free(r);
            return ac_errmsg_set(err, -AC_EPERM,
                                 "%s changed since the load was approved (its code or declaration differs); nothing "
                                 "was loaded: ask again",
                                 file);
        }
    }
    rec_t *old = find_live(d, r->name, NULL);
    if (old != NULL && !force && strcmp(old->version, r->version) == 0) {
        ac_errmsg_set(err, -AC_EEXIST,
                      "same_version: %s %s is loaded; bump the version before loading it again, or reload it", r->name,
                      r->version[0] ? r->version : "(no version)");
        rec_free(r);
        return -AC_EEXIST;
    }
    if ((rc = upsert(c, r, err)) != 0) {
        rec_free(r);
        return rc;
    }
    if (info != NULL)
        *info = rec_info(r);
    if ((rc = install(d, r, err)) != 0) {
        if (info != NULL) {
            json_decref(*info);
            *info = NULL;
        }
        return rc;
    }
    ac_log_info("skills", "loaded", "skill=%s version=%s file=%s checksum=%.16s", r->name, r->version, r->file,
                r->sha256);
    return 0;
}

int ac_node_dynskills_load(ac_node_dynskills_t *d, PGconn *c, const char *file, bool force, json_t **info,
                           ac_errmsg_t *err)
{
    if (info != NULL)
        *info = NULL;
    pthread_mutex_lock(&d->lock);
    int rc = load_locked(d, c, file, force, NULL, NULL, info, err);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int ac_node_dynskills_unload(ac_node_dynskills_t *d, PGconn *c, const char *name, ac_errmsg_t *err)
{
    if (name == NULL || ac_skills_registry_is_core(d->registry, name))
        return ac_errmsg_set(err, -AC_EPERM, "cannot_unload_core: %s is a core skill", name != NULL ? name : "");
    pthread_mutex_lock(&d->lock);
    const char *p[] = {name};
    PGresult *res = PQexecParams(c, "DELETE FROM dynamic_skills WHERE name = $1", 1, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = db_fail(c, res, "cannot delete the dynamic skill", err);
    } else {
        bool had_row = atoi(PQcmdTuples(res)) > 0;
        PQclear(res);
        rec_t **link;
        if (find_live(d, name, &link) != NULL)
            retire(d, link);
        else if (!had_row)
            rc = ac_errmsg_set(err, -AC_ENOENT, "not_found: no dynamic skill %s", name);
    }
    pthread_mutex_unlock(&d->lock);
    if (rc == 0)
        ac_log_info("skills", "unloaded", "skill=%s", name);
    return rc;
}

/* The file a recorded skill was loaded from. */
static int recorded_file(ac_node_dynskills_t *d, PGconn *c, const char *name, char *file, size_t cap, ac_errmsg_t *err)
{
    if (name == NULL || ac_skills_registry_is_core(d->registry, name))
        return ac_errmsg_set(err, -AC_EPERM, "%s is a core skill", name != NULL ? name : "");
    const char *p[] = {name};
    PGresult *res = PQexecParams(c, "SELECT file_path FROM dynamic_skills WHERE name = $1", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return db_fail(c, res, "cannot read the dynamic skill", err);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ac_errmsg_set(err, -AC_ENOENT, "not_found: no dynamic skill %s", name);
    }
    snprintf(file, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int ac_node_dynskills_reload(ac_node_dynskills_t *d, PGconn *c, const char *name, json_t **info, ac_errmsg_t *err)
{
    return ac_node_dynskills_reload_expect(d, c, name, NULL, info, err);
}

int ac_node_dynskills_reload_expect(ac_node_dynskills_t *d, PGconn *c, const char *name, const json_t *expect,
                                    json_t **info, ac_errmsg_t *err)
{
    if (info != NULL)
        *info = NULL;
    char file[PATH_MAX];
    int rc = recorded_file(d, c, name, file, sizeof(file), err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&d->lock);
    rc = load_locked(d, c, file, true, name, expect, info, err);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int ac_node_dynskills_load_expect(ac_node_dynskills_t *d, PGconn *c, const char *file, const json_t *expect,
                                  json_t **info, ac_errmsg_t *err)
{
    if (info != NULL)
        *info = NULL;
    pthread_mutex_lock(&d->lock);
    int rc = load_locked(d, c, file, false, NULL, expect, info, err);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int ac_node_dynskills_inspect(ac_node_dynskills_t *d, PGconn *c, const char *file, const char *name, json_t **binding,
                              ac_errmsg_t *err)
{
    *binding = NULL;
    char recorded[PATH_MAX];
    int rc;
    if (file == NULL) { /* a reload: the file the skill was loaded from */
        if ((rc = recorded_file(d, c, name, recorded, sizeof(recorded), err)) != 0)
            return rc;
        file = recorded;
    }
    rec_t *r;
    pthread_mutex_lock(&d->lock);
    if ((rc = prepare(d, file, &r, err)) == 0) {
        if (name != NULL && strcmp(r->name, name) != 0) {
            rc = ac_errmsg_set(err, -AC_EINVAL, "%s now declares the name %s; unload %s and load the file instead",
                               r->file, r->name, name);
        } else {
            *binding = binding_of(r);
            rec_t *old = find_live(d, r->name, NULL);
            if (old != NULL) {
                json_t *o = binding_of(old);
                json_object_del(o, "checksum");
                json_object_set_new(*binding, "replaces", o);
            }
        }
        rec_free(r);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* Whether r declares what its row recorded (permissions and routes as JSON arrays, in the order upsert wrote). */
static bool same_declaration(const rec_t *r, const char *perms, const char *routes, const char *version)
{
    json_t *i = rec_info(r);
    json_t *p = json_loads(perms, 0, NULL), *rt = json_loads(routes, 0, NULL);
    bool same = json_equal(json_object_get(i, "permissions"), p) && json_equal(json_object_get(i, "routes"), rt) &&
                strcmp(r->version, version) == 0;
    json_decref(p);
    json_decref(rt);
    json_decref(i);
    return same;
}

int ac_node_dynskills_boot(ac_node_dynskills_t *d, PGconn *c, ac_node_dynskills_alert_fn alert, void *arg, int *loaded,
                           int *skipped, ac_errmsg_t *err)
{
    *loaded = *skipped = 0;
    pthread_mutex_lock(&d->lock); /* before reading: a load in progress here finishes first */
    PGresult *res = PQexec(c, "SELECT name, file_path, checksum, array_to_json(permissions)::text, "
                              "array_to_json(routes)::text, version FROM dynamic_skills WHERE enabled ORDER BY name");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pthread_mutex_unlock(&d->lock);
        return db_fail(c, res, "cannot read dynamic_skills", err);
    }
    /* unloaded (or disabled) elsewhere: retire */
    for (rec_t **p = &d->live; *p != NULL;) {
        bool recorded = false;
        for (int i = 0; i < PQntuples(res) && !recorded; i++)
            recorded = strcmp(PQgetvalue(res, i, 0), (*p)->name) == 0;
        if (recorded) {
            p = &(*p)->next;
        } else {
            ac_log_info("skills", "unloaded", "skill=%s by=another process", (*p)->name);
            retire(d, p);
        }
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *name = PQgetvalue(res, i, 0), *file = PQgetvalue(res, i, 1), *sum = PQgetvalue(res, i, 2);
        rec_t *live = find_live(d, name, NULL);
        if (live != NULL && strcmp(live->sha256, sum) == 0 && strcmp(live->file, file) == 0)
            continue; /* what is recorded is what runs here */
        char text[600];
        text[0] = '\0';
        rec_t *r = NULL;
        ac_errmsg_t e = {{0}};
        int rc = prepare(d, file, &r, &e);
        if (rc == 0 && strcmp(r->sha256, sum) != 0)
            snprintf(text, sizeof(text),
                     "Warning: Dynamic skill '%s' file changed since last load. Reload it to use the new file, or "
                     "unload it.",
                     name);
        else if (rc == 0 && strcmp(r->name, name) != 0)
            snprintf(text, sizeof(text), "Warning: Dynamic skill '%s': its file now declares another name; not loaded.",
                     name);
        else if (rc == 0 && !same_declaration(r, PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5)))
            /* same bytes, another declaration (its top level is not deterministic): what was approved is the row */
            snprintf(text, sizeof(text),
                     "Warning: Dynamic skill '%s' declares other permissions, routes or version than when it was "
                     "loaded; not loaded.",
                     name);
        else if (rc != 0)
            snprintf(text, sizeof(text), "Warning: Dynamic skill '%s' not loaded: %s", name, e.msg);
        if (text[0] == '\0')
            rc = install(d, r, &e);
        else if (r != NULL)
            rec_free(r);
        if (text[0] != '\0' || rc != 0) {
            (*skipped)++;
            ac_log_warn("skills", "load_skipped", "skill=%s reason=%s", name, text[0] ? text : e.msg);
            if (alert != NULL)
                alert(arg, text[0] ? text : e.msg);
        } else {
            (*loaded)++;
            ac_log_info("skills", "loaded", "skill=%s version=%s file=%s checksum=%.16s", r->name, r->version, r->file,
                        r->sha256);
        }
    }
    pthread_mutex_unlock(&d->lock);
    PQclear(res);
    return 0;
}

/* --- the watcher: changes made by other processes ----------------------------------------------------------- */

static void *watch_main(void *arg)
{
    ac_node_dynskills_t *d = arg;
    sigset_t all; /* signals are the main thread's business */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    PGconn *c = NULL;
    int delay_ms = 1000;
    for (;;) {
        ac_errmsg_t err = {{0}};
        if (c == NULL) {
            if (ac_node_db_connect(d->conninfo, &c, &err) != 0 ||
                ac_node_db_exec(c, "LISTEN alexclaw_dynamic_skills", "listen", &err) != 0) {
                if (c != NULL)
                    PQfinish(c);
                c = NULL;
                struct pollfd w = {d->wake[0], POLLIN, 0};
                if (poll(&w, 1, delay_ms) > 0)
                    break;
                delay_ms = delay_ms * 2 > 30000 ? 30000 : delay_ms * 2;
                continue;
            }
            delay_ms = 1000;
            /* whatever changed while we were not listening */
            int loaded, skipped;
            (void)ac_node_dynskills_boot(d, c, d->alert, d->alert_arg, &loaded, &skipped, &err);
        }
        struct pollfd p[2] = {{PQsocket(c), POLLIN, 0}, {d->wake[0], POLLIN, 0}};
        int n = poll(p, 2, 30000);
        if (n > 0 && p[1].revents != 0)
            break;
        bool lost = PQconsumeInput(c) == 0 || PQstatus(c) != CONNECTION_OK;
        bool changed = false;
        PGnotify *note;
        while (!lost && (note = PQnotifies(c)) != NULL) {
            changed = true;
            PQfreemem(note);
        }
        int loaded, skipped;
        if (changed && ac_node_dynskills_boot(d, c, d->alert, d->alert_arg, &loaded, &skipped, &err) != 0)
            lost = PQstatus(c) != CONNECTION_OK;
        if (lost) {
            ac_log_warn("skills", "watch_lost", "error=%s", PQerrorMessage(c));
            PQfinish(c);
            c = NULL;
        }
    }
    if (c != NULL)
        PQfinish(c);
    return NULL;
}

int ac_node_dynskills_watch(ac_node_dynskills_t *d, ac_node_dynskills_alert_fn alert, void *arg, ac_errmsg_t *err)
{
    if (d->watching || d->conninfo == NULL)
        return ac_errmsg_set(err, -AC_ESTATE, "dynamic skills: already watching, or no database");
    d->alert = alert;
    d->alert_arg = arg;
    if (pipe2(d->wake, O_CLOEXEC) != 0)
        return ac_errmsg_set(err, -AC_ESYS, "pipe: %s", strerror(errno));
    int e = pthread_create(&d->watcher, NULL, watch_main, d);
    if (e != 0) {
        close(d->wake[0]);
        close(d->wake[1]);
        return ac_errmsg_set(err, -AC_ESYS, "pthread_create: %s", strerror(e));
    }
    d->watching = true;
    return 0;
}

/* --- running ------------------------------------------------------------------------------------------------ */

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dyn_run(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, ac_skill_result_t *res)
{
    const rec_t *r = ctx->self != NULL ? ctx->self->impl : NULL;
    if (r == NULL || r->owner->api == NULL)
        return ac_skill_fail(res, "skill_unavailable", "the SkillAPI is not running in this process");
    ac_node_dynskills_t *d = r->owner;
    int64_t left = ac_skill_ms_left(ctx);
    int64_t wall = ac_node_settings_int_or(d->settings, "skills.sandbox.timeout_ms", AC_SKILLS_SANDBOX_WALL_DEFAULT);
    if (wall <= 0 || wall > 3600 * 1000)
        wall = AC_SKILLS_SANDBOX_WALL_DEFAULT;
    if (ctx->deadline_ms > 0 && left < wall)
        wall = left;
    if (wall < 100)
        return ac_skill_fail(res, "timeout", "no time left for %s", r->name);
    int64_t mem_mb = ac_node_settings_int_or(d->settings, "skills.sandbox.memory_mb", 64);
    if (mem_mb < 4 || mem_mb > 4096)
        mem_mb = 64;

    /* The capability token: minted for this run, or attenuated from the calling skill's. */
    uint8_t key[AC_POLICY_CAPTOKEN_KEY_LEN];
    ac_node_skillapi_token_key(d->api, key);
    ac_policy_captoken_t token;
    int64_t now = unix_ms();
    int max_depth = (int)ac_node_settings_int_or(d->settings, "auth.max_chain_depth", AC_POLICY_AUTHZ_MAX_DEPTH);
    int trc = 0;
    if (ctx->token != NULL) {
        trc = ac_policy_captoken_attenuate(key, ctx->token, r->perms, now + wall + 5000, -1, now, ctx->chain_depth,
                                           &token);
    } else {
        ac_policy_captoken_mint(key, r->perms, ctx->run_id, now + wall + 5000, max_depth, &token);
    }
    explicit_bzero(key, sizeof(key));

    PGconn *own = NULL;
    PGconn *db = ctx->db;
    ac_errmsg_t err = {{0}};
    if (db == NULL && (d->conninfo == NULL || ac_node_db_connect(d->conninfo, &own, &err) != 0))
        return ac_skill_fail(res, "skill_unavailable", "no database connection for the SkillAPI");
    if (db == NULL)
        db = own;
    if (trc != 0) { /* a chain too deep, or a token that does not verify: denied, and audited */
        const char *why = ac_policy_captoken_reason(trc);
        ac_node_skillapi_audit_deny(d->api, db, r->name, "skill_invoke", ctx->run_id, ctx->chain_depth, why);
        if (own != NULL)
            PQfinish(own);
        return ac_skill_fail(res, "permission_denied", "%s", why);
    }

    json_t *a = json_pack("{s:O?, s:O, s:I, s:s?, s:s?, s:s?}", "input", args->input, "config", args->config,
                          "workflow_run_id", (json_int_t)ctx->run_id, "llm_tier", args->llm_tier, "llm_model",
                          args->llm_model, "prompt_template", args->prompt_template);
    ac_node_skillapi_caller_t caller = {.api = d->api,
                                        .skill = r->name,
                                        .declared = r->perms,
                                        .token = &token,
                                        .ctx = ctx,
                                        .db = db,
                                        .deadline_ms = ac_skill_now_ms() + wall};
    ac_skills_sandbox_opts_t o = {.helper = d->helper,
                                  .uid = d->uid,
                                  .gid = d->gid,
                                  .memory = (size_t)mem_mb * 1024 * 1024,
                                  .wall_ms = (unsigned)wall,
                                  .cancel = ctx->cancel};
    ac_skills_sandbox_result_t sr;
    int rc = a != NULL ? ac_skills_sandbox_run(&o, "run", r->name, r->src, r->len, a, ac_node_skillapi_serve, &caller,
                                               &sr, &err)
                       : ac_errmsg_set(&err, -AC_EINVAL, "the step's input cannot be handed to a dynamic skill");
    json_decref(a);
    int out;
    if (rc != 0) {
        out = ac_skill_fail(res, "skill_unavailable", "%s", err.msg);
    } else {
        switch (sr.outcome) {
        case AC_SKILLS_SANDBOX_OK:
            if (!ac_skills_def_has_route(&r->def, sr.branch) && strcmp(sr.branch, "on_success") != 0) {
                out = ac_skill_fail(res, "invalid_branch", "%s is not one of %s's routes", sr.branch, r->name);
                break;
            }
            out = ac_skill_ok(res, sr.output, sr.branch);
            sr.output = NULL;
            break;
        case AC_SKILLS_SANDBOX_FAILED: out = ac_skill_fail(res, "skill_failed", "%s", sr.error); break;
        case AC_SKILLS_SANDBOX_TIMEOUT: /* killed by the jail: recorded like a violation */
            ac_node_skillapi_audit_deny(d->api, db, r->name, "sandbox", ctx->run_id, ctx->chain_depth,
                                        "killed at the time limit");
            out = ac_skill_fail(res, "skill_timeout", "%s ran longer than %lld ms", r->name, (long long)wall);
            break;
        case AC_SKILLS_SANDBOX_CANCELLED: out = ac_skill_fail(res, "cancelled", NULL); break;
        default: /* killed or protocol: the jail held; record it like a denial */
            ac_node_skillapi_audit_deny(d->api, db, r->name, "sandbox", ctx->run_id, ctx->chain_depth, sr.error);
            out = ac_skill_fail(res, "sandbox_violation", "%s",
                                strncmp(sr.error, "sandbox_violation: ", 19) == 0 ? sr.error + 19 : sr.error);
            break;
        }
        if (sr.outcome != AC_SKILLS_SANDBOX_OK)
            ac_log_warn("skills", "dynamic_failed", "skill=%s outcome=%s calls=%u ms=%lld error=%s", r->name,
                        ac_skills_sandbox_outcome_name(sr.outcome), sr.calls, (long long)sr.elapsed_ms, sr.error);
        ac_skills_sandbox_result_clear(&sr);
    }
    if (own != NULL)
        PQfinish(own);
    return out;
}

/* --- trial runs (the coder's validation) -------------------------------------------------------------------- */

/* The SkillAPI of a trial run: nothing is allowed. Stopped like a real run at the denial limit. */
static int deny_all(void *ud, const ac_skills_channel_msg_t *call, json_t **result, char *err, size_t errcap)
{
    (void)call;
    (void)result;
    unsigned *denials = ud;
    snprintf(err, errcap, "permission_denied: a test run has no SkillAPI permissions");
    return ++*denials >= AC_NODE_SKILLAPI_DENIALS_MAX ? -2 : -1;
}

int ac_node_dynskills_test_run(ac_node_dynskills_t *d, ac_node_dynskills_trial_t *t, ac_errmsg_t *err)
{
    t->ran = false;
    t->stage = AC_NODE_DYNSKILLS_STAGE_FILE;
    t->binding = NULL;
    t->output = NULL;
    t->branch[0] = '\0';
    t->name[0] = '\0';
    rec_t *r = NULL;
    pthread_mutex_lock(&d->lock);
    int rc = prepare_staged(d, t->file, &r, &t->stage, err);
    pthread_mutex_unlock(&d->lock);
    if (rc != 0)
        return rc;
    snprintf(t->name, sizeof(t->name), "%s", r->name);
    t->binding = binding_of(r);
    if (t->sha256 != NULL && strcmp(r->sha256, t->sha256) != 0) {
        rec_free(r);
        return ac_errmsg_set(err, -AC_EPERM, "the file changed since it was inspected");
    }
    if (t->expect_name != NULL && strcmp(r->name, t->expect_name) != 0) {
        ac_errmsg_set(err, -AC_EINVAL, "the skill must declare name = \"%s\" (it declares \"%s\")", t->expect_name,
                      r->name);
        rec_free(r);
        return -AC_EINVAL;
    }
    int64_t wall = ac_node_settings_int_or(d->settings, "skills.sandbox.timeout_ms", AC_SKILLS_SANDBOX_WALL_DEFAULT);
    if (wall <= 0 || wall > 3600 * 1000)
        wall = AC_SKILLS_SANDBOX_WALL_DEFAULT;
    if (t->deadline_ms > 0 && t->deadline_ms - ac_skill_now_ms() < wall)
        wall = t->deadline_ms - ac_skill_now_ms();
    if (wall < 100) {
        rec_free(r);
        return ac_errmsg_set(err, -AC_ETIMEDOUT, "timeout: no time left for a test run");
    }
    int64_t mem_mb = ac_node_settings_int_or(d->settings, "skills.sandbox.memory_mb", 64);
    if (mem_mb < 4 || mem_mb > 4096)
        mem_mb = 64;
    json_t *cfg = t->config != NULL ? json_deep_copy(t->config) : json_object();
    json_t *a = json_pack("{s:O?, s:o, s:i}", "input", t->input, "config", cfg, "workflow_run_id", 0);
    ac_skills_sandbox_opts_t o = {.helper = d->helper,
                                  .uid = d->uid,
                                  .gid = d->gid,
                                  .memory = (size_t)mem_mb * 1024 * 1024,
                                  .wall_ms = (unsigned)wall,
                                  .cancel = t->cancel};
    ac_skills_sandbox_result_t sr;
    unsigned denials = 0;
    t->stage = AC_NODE_DYNSKILLS_STAGE_RUN;
    rc = a != NULL ? ac_skills_sandbox_run(&o, "run", r->name, r->src, r->len, a, deny_all, &denials, &sr, err)
                   : ac_errmsg_set(err, -AC_EINVAL, "the test input cannot be handed to a dynamic skill");
    json_decref(a);
    if (rc != 0) {
        rec_free(r);
        return rc;
    }
    t->ran = true;
    switch (sr.outcome) {
    case AC_SKILLS_SANDBOX_OK:
        if (!ac_skills_def_has_route(&r->def, sr.branch) && strcmp(sr.branch, "on_success") != 0) {
            rc = ac_errmsg_set(err, -AC_EINVAL, "invalid_branch: %s is not one of the skill's routes", sr.branch);
            break;
        }
        t->output = sr.output;
        sr.output = NULL;
        snprintf(t->branch, sizeof(t->branch), "%s", sr.branch);
        break;
    case AC_SKILLS_SANDBOX_FAILED: rc = ac_errmsg_set(err, -AC_EINVAL, "skill_failed: %s", sr.error); break;
    case AC_SKILLS_SANDBOX_TIMEOUT:
        rc = ac_errmsg_set(err, -AC_EINVAL, "skill_timeout: ran longer than %lld ms", (long long)wall);
        break;
    case AC_SKILLS_SANDBOX_CANCELLED: rc = ac_errmsg_set(err, -AC_ESTOPPED, "cancelled"); break;
    default:
        rc = ac_errmsg_set(err, -AC_EINVAL, "sandbox_violation: %s",
                           strncmp(sr.error, "sandbox_violation: ", 19) == 0 ? sr.error + 19 : sr.error);
        break;
    }
    ac_log_info("skills", "test_run", "skill=%s outcome=%s calls=%u ms=%lld", r->name,
                ac_skills_sandbox_outcome_name(sr.outcome), sr.calls, (long long)sr.elapsed_ms);
    ac_skills_sandbox_result_clear(&sr);
    rec_free(r);
    return rc;
}
