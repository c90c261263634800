/* node/coder.c - the coder skill (coder.h): a local model writes a Lua skill, the node checks it like any dynamic
 * skill, records every attempt, and asks the owner before anything is loaded. The "/coder" chat command runs the same
 * generation on a thread of its own (node/coder_chat.c); what the two share is in node/coder_int.h.
 *
 * Trust: the model's answer is hostile input. It only ever becomes a file in SKILLS_DIR under a name this file
 * chose, passes the loader's checks and a run in the sandbox without any SkillAPI permission, and is loaded only by
 * the owner's 2FA approval of exactly that checksum and declaration (node/action.h). */
#include "node/coder_int.h"

#include "node/action.h"
#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"
#include "policy/crypto.h"
#include "policy/utf8.h"
#include "skills/llm.h"
#include "skills/llm_skills.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Words that say nothing about what a skill does, dropped from a goal before it names the skill. */
static const char *const filler_words[] = {
    "a",     "an",    "the",   "that",   "this", "which",  "to",   "for",   "of",    "and",      "or",
    "in",    "on",    "at",    "by",     "with", "from",   "into", "about", "as",    "is",       "are",
    "be",    "it",    "its",   "my",     "me",   "i",      "we",   "our",   "you",   "your",     "please",
    "can",   "could", "would", "should", "will", "create", "make", "write", "build", "generate", "new",
    "skill", "some",  "then",  "so",     "do",   "does",   "just", NULL,
};

/* Names generated code may not use: they do not exist in the sandbox (no io, os, require, load ...), and _G/_ENV
 * would reach globals by computed names. Code that uses them is hostile or hopeless; refusing it before it is written
 * gives the model a clear reason. Matched as global names outside strings and comments. */
static const char *const forbidden_globals[] = {
    "io",      "os",      "debug", "package", "require", "load", "loadfile", "dofile", "loadstring", "collectgarbage",
    "getfenv", "setfenv", "_G",    "_ENV",    NULL,
};
/* ... and as fields (string.dump, ("x"):dump()). */
static const char *const forbidden_fields[] = {"dump", NULL};

static const char system_prompt[] =
    "You write one dynamic skill for AlexClaw: a single Lua 5.4 file. Answer with the complete file in one ```lua "
    "code block.\n\n"
    "The file defines a global table `skill` and a global function `run(args)`, and does nothing else at the top "
    "level:\n\n"
    "```lua\n"
    "skill = {\n"
    "  name = \"<the name you are given>\",   -- exactly that name\n"
    "  version = \"1.0\",                      -- text, at most 32 characters\n"
    "  description = \"<one sentence>\",\n"
    "  permissions = { },                    -- only the SkillAPI permissions run uses (list below)\n"
    "  routes = { \"on_success\", \"on_error\" }, -- the branches run may return: on_<lower-case word>\n"
    "}\n\n"
    "function run(args)\n"
    "  -- args.input: the input (text, or nil); args.config: a table of settings (may be empty)\n"
    "  -- success: return true, output[, branch]    failure: return nil, \"reason\"\n"
    "  return true, \"a text\"\n"
    "end\n"
    "```\n\n"
    "Permissions (exact names): llm telegram_send gateway_send memory_read memory_write knowledge_read "
    "knowledge_write web_read config_read resources_read skill_invoke skill_write skill_manage workflow_manage.\n\n"
    "The only way to the outside is the global table SkillAPI; each function needs its permission and returns its "
    "result, or nil and an error text:\n"
    "  SkillAPI.llm_complete(prompt, options)                        llm\n"
    "  SkillAPI.send_message(text)                                   telegram_send\n"
    "  SkillAPI.memory_store(kind, content, {source, metadata})      memory_write\n"
    "  SkillAPI.memory_search(query, {kind, limit}), SkillAPI.memory_recent({kind, limit}), "
    "SkillAPI.memory_exists(source)                                  memory_read\n"
    "  SkillAPI.knowledge_store(kind, content, {source}) / knowledge_search(query, {limit}) / knowledge_exists(source)"
    "   knowledge_write / knowledge_read\n"
    "  SkillAPI.http_get(url, {headers, timeout_ms}) and SkillAPI.http_post(url, body, {headers}) -> {status, body}"
    "   web_read\n"
    "  SkillAPI.config_get(key, default)                             config_read\n"
    "  SkillAPI.list_resources({type}), SkillAPI.get_resource(id)    resources_read\n"
    "  SkillAPI.run_skill(name, {input, config}) -> {output, branch}  skill_invoke\n\n"
    "Rules:\n"
    "- Only Lua's string (without string.dump), table, math, utf8 and coroutine libraries and the basic functions "
    "(pairs, ipairs, type, tostring, tonumber, select, pcall, error, next, setmetatable, ...). There is no io, os, "
    "debug, package, require, load, loadfile, dofile, print or collectgarbage, and no _G or _ENV: using them fails.\n"
    "- run must work when args.input is \"test\" and args.config is empty, and must then return true and a text. It "
    "is tested so without any permission: every SkillAPI call then returns nil and \"permission_denied\", which run "
    "must handle (still returning true and a text).\n"
    "- Keep it short, plain and self-contained.";

static const char *const coder_routes[] = {"on_created", "on_workflow_created", "on_error", NULL};

static int coder_run(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, ac_skill_result_t *res);

ac_node_coder_t *ac_node_coder_new(const ac_node_coder_cfg_t *cfg)
{
    ac_node_coder_t *c = ac_calloc(1, sizeof(*c));
    c->dyn = cfg->dyn;
    c->settings = cfg->settings;
    c->ask = cfg->ask;
    c->conninfo = cfg->conninfo != NULL ? ac_strdup(cfg->conninfo) : NULL;
    if (cfg->base != NULL)
        c->base = *cfg->base;
    if (c->base.settings == NULL)
        c->base.settings = cfg->settings;
    c->base.db = NULL;
    c->base.cancel = NULL;
    c->base.token = NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->def = (ac_skill_def_t){
        .name = "coder",
        .description = "Writes a dynamic Lua skill from a goal with a local model; the owner approves loading it "
                       "with a 2FA code",
        .routes = coder_routes,
        .config_hint = "goal, create_workflow (true: a disabled workflow Auto: <name>), max_retries (1-10)",
        .external = false,
        .run = coder_run,
        .impl = c,
    };
    return c;
}

void ac_node_coder_free(ac_node_coder_t *c)
{
    if (c == NULL)
        return;
    ac_node_coder__chat_stop(c);
    if (c->registry != NULL)
        ac_skills_registry_remove(c->registry, c->def.name);
    pthread_mutex_destroy(&c->lock);
    if (c->conninfo != NULL)
        ac_free_secret_str(c->conninfo);
    free(c);
}

const ac_skill_def_t *ac_node_coder_def(ac_node_coder_t *c)
{
    return &c->def;
}

int ac_node_coder_register(ac_node_coder_t *c, ac_skills_registry_t *reg, ac_errmsg_t *err)
{
    /* not as a core entry, so that ac_node_coder_free can take it out again; "coder" is a reserved core name all the
     * same (ac_skills_core_names): no dynamic skill can take it, and it can never be unloaded */
    int rc = ac_skills_registry_add(reg, &c->def, false);
    if (rc != 0)
        return ac_errmsg_set(err, rc, "a skill named coder is registered already");
    c->registry = reg;
    return 0;
}

/* --- names ------------------------------------------------------------------------------------------------- */

static bool is_filler(const char *w)
{
    for (size_t i = 0; filler_words[i] != NULL; i++)
        if (strcmp(filler_words[i], w) == 0)
            return true;
    return false;
}

void ac_node_coder_name_from_goal(const char *goal, char *out, size_t cap)
{
    char word[AC_NODE_CODER_GOAL_MAX + 1];
    char name[AC_NODE_CODER_NAME_MAX + 1] = "";
    size_t nl = 0, wl = 0;
    int words = 0;
    for (const char *p = goal != NULL ? goal : "";; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch != '\0' && ch < 0x80 && isalnum(ch)) {
            if (wl < sizeof(word) - 1)
                word[wl++] = (char)tolower(ch);
            continue;
        }
        if (ch != '\0' && !(ch < 0x80 && isspace(ch)))
            continue; /* anything but [a-z0-9] and white space is removed, not a separator */
        word[wl] = '\0';
        if (wl > 0 && words < 4 && !is_filler(word)) {
            nl += (size_t)snprintf(name + nl, sizeof(name) - nl, "%s%s", words > 0 ? "_" : "", word);
            if (nl >= sizeof(name))
                nl = sizeof(name) - 1;
            words++;
        }
        wl = 0;
        if (ch == '\0')
            break;
    }
    while (nl > 0 && name[nl - 1] == '_') /* a cut right after a separator */
        name[--nl] = '\0';
    if (nl == 0 || name[0] < 'a' || name[0] > 'z')
        snprintf(name, sizeof(name), "generated_skill");
    snprintf(out, cap, "%s", name);
}

/* Whether name is free: no core skill, no loaded or recorded dynamic skill, no file, no generation in flight. */
static bool name_free(ac_node_coder_t *c, PGconn *db, const char *name, json_t *loaded, int *dberr)
{
    ac_errmsg_t e = {{0}};
    if (ac_skills_dynfile_name_check(name, &e) != 0)
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(loaded, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
            return false;
    }
    for (int r = 0; r < AC_NODE_CODER_RESERVED_MAX; r++)
        if (strcmp(c->reserved[r], name) == 0)
            return false;
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s.lua", ac_node_dynskills_dir(c->dyn), name);
    if (lstat(path, &st) == 0 || errno != ENOENT)
        return false;
    char file[64];
    snprintf(file, sizeof(file), "%s.lua", name);
    const char *p[] = {name, file};
    PGresult *res =
        PQexecParams(db, "SELECT 1 FROM dynamic_skills WHERE name = $1 OR file_path = $2", 2, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        *dberr = 1;
    PQclear(res);
    return ok;
}

/* Picks base, base_2, base_3 ... and reserves it until release_name. */
static int reserve_name(ac_node_coder_t *c, PGconn *db, const char *base, char out[AC_SKILLS_DYNFILE_NAME_MAX + 1],
                        ac_errmsg_t *err)
{
    json_t *loaded = ac_node_dynskills_list(c->dyn);
    int rc = ac_errmsg_set(err, -AC_EEXIST, "no free skill name for %s", base);
    pthread_mutex_lock(&c->lock);
    int slot = -1;
    for (int r = 0; r < AC_NODE_CODER_RESERVED_MAX && slot < 0; r++)
        if (c->reserved[r][0] == '\0')
            slot = r;
    int dberr = 0;
    for (int n = 1; slot >= 0 && n <= 100 && dberr == 0; n++) {
        char cand[AC_SKILLS_DYNFILE_NAME_MAX + 1];
        if (n == 1)
            snprintf(cand, sizeof(cand), "%s", base);
        else
            snprintf(cand, sizeof(cand), "%s_%d", base, n);
        if (name_free(c, db, cand, loaded, &dberr)) {
            snprintf(c->reserved[slot], sizeof(c->reserved[slot]), "%s", cand);
            snprintf(out, AC_SKILLS_DYNFILE_NAME_MAX + 1, "%s", cand);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    json_decref(loaded);
    if (slot < 0)
        return ac_errmsg_set(err, -AC_EAGAIN, "busy: too many generations in progress");
    if (dberr != 0)
        return ac_errmsg_set(err, -AC_EDB, "database_error: cannot read dynamic_skills");
    return rc;
}

static void release_name(ac_node_coder_t *c, const char *name)
{
    pthread_mutex_lock(&c->lock);
    for (int r = 0; r < AC_NODE_CODER_RESERVED_MAX; r++)
        if (strcmp(c->reserved[r], name) == 0)
            c->reserved[r][0] = '\0';
    pthread_mutex_unlock(&c->lock);
}

/* --- the model's answer ------------------------------------------------------------------------------------ */

/* The body of the fenced block whose opening fence starts at f, or NULL when it never closes. */
static char *fenced(const char *f, size_t *len)
{
    const char *body = strchr(f, '\n');
    if (body == NULL)
        return NULL;
    body++;
    const char *end = strstr(body, "```");
    if (end == NULL)
        return NULL;
    while (end > body && (end[-1] == ' ' || end[-1] == '\t')) /* an indented closing fence */
        end--;
    *len = (size_t)(end - body);
    return ac_strndup(body, *len);
}

char *ac_node_coder_extract(const char *answer, size_t *len)
{
    *len = 0;
    char *text = answer != NULL ? ac_skills_llm_strip_think(answer, strlen(answer), true) : ac_strdup("");
    char *code = NULL;
    for (const char *p = strstr(text, "```"); p != NULL && code == NULL; p = strstr(p + 3, "```")) {
        if (strncasecmp(p + 3, "lua", 3) == 0 && (p[6] == '\n' || p[6] == '\r' || p[6] == ' ' || p[6] == '\t'))
            code = fenced(p, len);
    }
    if (code == NULL) {
        const char *p = strstr(text, "```");
        if (p != NULL)
            code = fenced(p, len);
    }
    free(text);
    size_t blank = 0;
    while (code != NULL && blank < *len && isspace((unsigned char)code[blank]))
        blank++;
    if (code != NULL && blank == *len) {
        free(code);
        code = NULL;
        *len = 0;
    }
    return code;
}

static bool in_list(const char *const *list, const char *s, size_t n)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0)
            return true;
    return false;
}

/* The level of a long bracket "[" "="* "[" at s, or -1. */
static int long_bracket(const char *s)
{
    if (s[0] != '[')
        return -1;
    int lv = 0;
    while (s[1 + lv] == '=')
        lv++;
    return s[1 + lv] == '[' ? lv : -1;
}

/* Skips a long string or comment body after its opening bracket of level lv; returns where it ends. */
static const char *skip_long(const char *p, int lv)
{
    for (; *p != '\0'; p++) {
        if (*p != ']')
            continue;
        int k = 0;
        while (p[1 + k] == '=')
            k++;
        if (k == lv && p[1 + k] == ']')
            return p + 2 + k;
    }
    return p;
}

/* The first forbidden name code uses (outside strings and comments), into what; false when there is none. */
static bool forbidden_use(const char *src, char *what, size_t cap)
{
    char last = ' ', last2 = ' ';
    for (const char *p = src; *p != '\0';) {
        int lv;
        if (p[0] == '-' && p[1] == '-') {
            if ((lv = long_bracket(p + 2)) >= 0) {
                p = skip_long(p + 2 + lv + 2, lv);
            } else {
                while (*p != '\0' && *p != '\n')
                    p++;
            }
            continue;
        }
        if ((lv = long_bracket(p)) >= 0) {
            p = skip_long(p + lv + 2, lv);
            last2 = last;
            last = '"';
            continue;
        }
        if (*p == '"' || *p == '\'') {
            char q = *p++;
            while (*p != '\0' && *p != q && *p != '\n')
                p += p[0] == '\\' && p[1] != '\0' ? 2 : 1;
            if (*p == q)
                p++;
            last2 = last;
            last = '"';
            continue;
        }
        if (isalpha((unsigned char)*p) || *p == '_') {
            const char *s = p;
            while (isalnum((unsigned char)*p) || *p == '_')
                p++;
            size_t n = (size_t)(p - s);
            bool field = (last == '.' && last2 != '.') || last == ':';
            if ((!field && in_list(forbidden_globals, s, n)) || (field && in_list(forbidden_fields, s, n))) {
                snprintf(what, cap, "%.*s", (int)n, s);
                return true;
            }
            last2 = last;
            last = 'a';
            continue;
        }
        if (!isspace((unsigned char)*p)) {
            last2 = last;
            last = *p;
        }
        p++;
    }
    return false;
}

/* --- one generation ------------------------------------------------------------------------------------------ */

typedef struct gen {
    ac_node_coder_t *c;
    const ac_skill_ctx_t *ctx;
    PGconn *db;
    const char *goal;
    int max;
    bool create_workflow;
    ac_node_coder_say_fn say; /* progress for the chat; NULL in a workflow step */
    void *say_arg;
    const char *chat_id;
    char name[AC_SKILLS_DYNFILE_NAME_MAX + 1];
    char file[AC_SKILLS_DYNFILE_NAME_MAX + 8];
    char sha[65];
    char last_error[AC_NODE_CODER_ERROR_MAX + 1];
    int attempts;
} gen_t;

static void progress(gen_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(gen_t *g, const char *fmt, ...)
{
    if (g->say == NULL)
        return;
    char text[1600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    text[ac_policy_utf8_fit(text, strlen(text), sizeof(text) - 1)] = '\0';
    g->say(g->say_arg, g->chat_id, text);
}

/* An error text as it goes into a row and the next prompt: at most 1 KiB of UTF-8. */
static void keep_error(gen_t *g, const char *msg)
{
    size_t n = ac_policy_utf8_fit(msg, strlen(msg), AC_NODE_CODER_ERROR_MAX);
    memcpy(g->last_error, msg, n);
    g->last_error[n] = '\0';
    ac_policy_utf8_or_ascii(g->last_error, n);
}

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The audit row and log line of one attempt. src NULL: there was no code. */
static int record(gen_t *g, const char *src, size_t len, const char *sha, const char *outcome, ac_errmsg_t *err)
{
    char att[12];
    snprintf(att, sizeof(att), "%d", g->attempts);
    const char *error = strcmp(outcome, "valid") == 0 ? NULL : g->last_error;
    const char *p[] = {g->goal, g->name, att, src, sha, outcome, error};
    PGresult *res = PQexecParams(g->db,
                                 "INSERT INTO coder_generations (goal, skill_name, attempt, source, sha256, outcome, "
                                 "error) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                                 7, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        rc = ac_errmsg_set(err, -AC_EDB, "database_error: cannot record the generation: %s",
                           m != NULL ? m : PQerrorMessage(g->db));
    }
    PQclear(res);
    ac_log_info("coder", "attempt", "skill=%s attempt=%d sha256=%s bytes=%zu outcome=%s", g->name, g->attempts,
                sha != NULL ? sha : "-", src != NULL ? len : (size_t)0, outcome);
    return rc;
}

/* An attempt's source, before it is checked: a row with outcome 'broken' ("not checked yet") that
 * record_outcome() completes. OUT: *row. */
static int record_source(gen_t *g, const char *src, size_t len, int64_t *row, ac_errmsg_t *err)
{
    char att[12];
    snprintf(att, sizeof(att), "%d", g->attempts);
    char *text = ac_strndup(src, len);
    const char *p[] = {g->goal, g->name, att, text, g->sha};
    PGresult *res = PQexecParams(g->db,
                                 "INSERT INTO coder_generations (goal, skill_name, attempt, source, sha256, outcome, "
                                 "error) VALUES ($1, $2, $3, $4, $5, 'broken', 'not checked yet') RETURNING id",
                                 5, NULL, p, NULL, NULL, 0);
    free(text);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        rc = ac_errmsg_set(err, -AC_EDB, "database_error: cannot record the generation: %s",
                           m != NULL ? m : PQerrorMessage(g->db));
    } else {
        *row = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    }
    PQclear(res);
    return rc;
}

/* The outcome of the attempt recorded by record_source(), and its log line. */
static int record_outcome(gen_t *g, int64_t row, size_t len, const char *outcome, ac_errmsg_t *err)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)row);
    const char *error = strcmp(outcome, "valid") == 0 ? NULL : g->last_error;
    const char *p[] = {id, outcome, error};
    PGresult *res = PQexecParams(g->db, "UPDATE coder_generations SET outcome = $2, error = $3 WHERE id = $1::bigint",
                                 3, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        rc = ac_errmsg_set(err, -AC_EDB, "database_error: cannot record the generation: %s",
                           m != NULL ? m : PQerrorMessage(g->db));
    }
    PQclear(res);
    ac_log_info("coder", "attempt", "skill=%s attempt=%d sha256=%s bytes=%zu outcome=%s", g->name, g->attempts, g->sha,
                len, outcome);
    return rc;
}

static char *user_prompt(const gen_t *g)
{
    size_t cap = strlen(g->goal) + strlen(g->last_error) + 512;
    char *p = ac_malloc(cap);
    int n = snprintf(p, cap, "Goal: %s\n\nThe skill's name must be: %s\n", g->goal, g->name);
    if (g->attempts > 1 && g->last_error[0] != '\0')
        snprintf(p + n, cap - (size_t)n,
                 "\nYour previous attempt was refused with this error:\n%s\n\nFix it and answer with the whole "
                 "corrected file.\n",
                 g->last_error);
    return p;
}

/* Removes the attempt's file, only while it still holds what this attempt wrote (g->sha): a file someone replaced
 * meanwhile is theirs. */
static void remove_file(gen_t *g)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", ac_node_dynskills_dir(g->c->dyn), g->file);
    char *src = NULL;
    size_t len = 0;
    char sha[65];
    ac_errmsg_t e = {{0}};
    bool ours = ac_skills_dynfile_read(ac_node_dynskills_dir(g->c->dyn), path, &src, &len, sha, &e) == 0 &&
                strcmp(sha, g->sha) == 0;
    free(src);
    if (!ours) {
        ac_log_warn("coder", "file_left", "file=%s reason=%s", g->file, "it no longer holds what the coder wrote");
        return;
    }
    if (unlink(path) != 0 && errno != ENOENT)
        ac_log_warn("coder", "remove_failed", "file=%s error=%s", g->file, strerror(errno));
}

/* Checks and tries the written file. Returns the outcome ("valid", "rejected", "broken") with g->last_error set for
 * the last two. */
static const char *validate(gen_t *g, const char *src)
{
    char what[64];
    if (forbidden_use(src, what, sizeof(what))) {
        char m[256];
        snprintf(m, sizeof(m),
                 "forbidden: the code uses %s, which dynamic skills cannot use (no io, os, debug, "
                 "package, require, load, dofile, string.dump, _G or _ENV)",
                 what);
        keep_error(g, m);
        return "rejected";
    }
    ac_errmsg_t e = {{0}};
    json_t *input = json_string("test");
    ac_node_dynskills_trial_t t = {.file = g->file,
                                   .sha256 = g->sha,
                                   .expect_name = g->name,
                                   .input = input,
                                   .deadline_ms = g->ctx->deadline_ms,
                                   .cancel = g->ctx->cancel};
    int rc = ac_node_dynskills_test_run(g->c->dyn, &t, &e);
    json_decref(input);
    const char *outcome = "valid";
    if (rc != 0) {
        keep_error(g, e.msg);
        /* the checks refused the file or its declaration: rejected; its Lua does not load or run: broken */
        outcome =
            t.stage == AC_NODE_DYNSKILLS_STAGE_FILE || t.stage == AC_NODE_DYNSKILLS_STAGE_CHECK ? "rejected" : "broken";
    } else if (!json_is_string(t.output)) {
        keep_error(g, "run must return true and a text (a Lua string) as its output for the input \"test\"");
        outcome = "broken";
    }
    json_decref(t.binding);
    json_decref(t.output);
    return outcome;
}

/* One attempt: 1 valid, 0 failed (g->last_error), < 0 stop (err). */
static int attempt(gen_t *g, ac_errmsg_t *err)
{
    char *prompt = user_prompt(g);
    ac_skills_llm_call_t call = {.prompt = prompt, .system = system_prompt, .tier = "local", .local_only = true};
    ac_skills_llm_answer_t ans = {0};
    ac_errmsg_t le = {{0}};
    ac_skill_ctx_t ctx = *g->ctx;
    ctx.db = g->db;
    int rc = ac_skills_llm_complete(&ctx, &call, &ans, &le);
    free(prompt);
    if (rc != 0) {
        ac_skills_llm_answer_free(&ans);
        ac_log_warn("coder", "model_failed", "skill=%s attempt=%d error=%s", g->name, g->attempts, le.msg);
        return ac_errmsg_set(err, rc == -AC_ESTOPPED ? rc : -AC_EIO, "%s", rc == -AC_ESTOPPED ? "cancelled" : le.msg);
    }
    size_t len = 0;
    char *src = ac_node_coder_extract(ans.text, &len);
    ac_skills_llm_answer_free(&ans);
    if (src == NULL) {
        keep_error(g, "no_code_block: the answer has no ```lua code block with the file");
        return record(g, NULL, 0, NULL, "rejected", err) != 0 ? -1 : 0;
    }
    if (!ac_policy_utf8_valid(src, len) || memchr(src, '\0', len) != NULL) {
        free(src);
        keep_error(g, "the code is not UTF-8 text");
        return record(g, NULL, 0, NULL, "rejected", err) != 0 ? -1 : 0;
    }
    uint8_t d[32];
    ac_policy_crypto_sha256(src, len, d);
    hex(d, sizeof(d), g->sha);
    /* the source is recorded before any of it is written or run (in the sandbox): no generated code ever runs
     * without its row; the outcome is filled in afterwards */
    int64_t row = 0;
    if (record_source(g, src, len, &row, err) != 0) {
        free(src);
        return -1;
    }
    ac_errmsg_t we = {{0}};
    const char *outcome;
    bool written = false;
    if (ac_node_dynskills_write_new(g->c->dyn, g->file, src, len, &we) != 0) {
        keep_error(g, we.msg);
        outcome = "rejected";
    } else {
        written = true;
        outcome = validate(g, src);
    }
    int out = strcmp(outcome, "valid") == 0 ? 1 : 0;
    if (g->ctx->cancel != NULL && *g->ctx->cancel) {
        keep_error(g, "cancelled");
        outcome = "broken";
        out = -1;
    }
    if (record_outcome(g, row, len, outcome, err) != 0)
        out = -1; /* code whose outcome is not recorded is never kept */
    else if (out < 0)
        ac_errmsg_set(err, -AC_ESTOPPED, "cancelled");
    if (written && out != 1)
        remove_file(g);
    free(src);
    return out;
}

/* The approval's action: the loader's skill_load binding, which must be what was tested. */
static int build_load(void *arg, PGconn *c, json_t **action, ac_errmsg_t *err)
{
    gen_t *g = arg;
    int rc = ac_node_action_skill(g->c->dyn, c, "skill_load", g->file, action, err);
    if (rc != 0)
        return rc;
    const json_t *expect = json_object_get(*action, "expect");
    const char *sum = json_string_value(json_object_get(expect, "checksum"));
    const char *name = json_string_value(json_object_get(expect, "name"));
    if (sum == NULL || name == NULL || strcmp(sum, g->sha) != 0 || strcmp(name, g->name) != 0 ||
        json_object_get(expect, "replaces") != NULL) {
        json_decref(*action);
        *action = NULL;
        return ac_errmsg_set(err, -AC_EPERM, "%s changed since it was tested", g->file);
    }
    return 0;
}

/* "Auto: <name>", disabled, steps [<name>, telegram_notify], in one statement. OUT: *id. */
static int create_workflow(gen_t *g, int64_t *id, ac_errmsg_t *err)
{
    char meta[128], desc[256], wname[128];
    snprintf(meta, sizeof(meta), "{\"created_by\": \"coder\", \"skill\": \"%s\"}", g->name);
    size_t gl = ac_policy_utf8_fit(g->goal, strlen(g->goal), 200);
    snprintf(desc, sizeof(desc), "Coder: %.*s", (int)gl, g->goal);
    for (int n = 1; n <= 10; n++) {
        if (n == 1)
            snprintf(wname, sizeof(wname), "Auto: %s", g->name);
        else
            snprintf(wname, sizeof(wname), "Auto: %s (%d)", g->name, n);
        const char *p[] = {wname, desc, meta, g->name};
        PGresult *res = PQexecParams(
            g->db,
            "WITH w AS (INSERT INTO workflows (name, description, enabled, metadata) VALUES ($1, $2, false, $3::jsonb) "
            "ON CONFLICT (name) DO NOTHING RETURNING id), "
            "s AS (INSERT INTO workflow_steps (workflow_id, position, name, skill, config) "
            "SELECT w.id, v.pos, v.name, v.skill, '{}'::jsonb FROM w, (VALUES (1, $4::text, $4::text), "
            "(2, 'Notify', 'telegram_notify')) AS v(pos, name, skill)) SELECT id FROM w",
            4, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            ac_errmsg_set(err, -AC_EDB, "cannot create the workflow: %s", m != NULL ? m : PQerrorMessage(g->db));
            PQclear(res);
            return -AC_EDB;
        }
        if (PQntuples(res) == 1) {
            *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            PQclear(res);
            ac_log_info("coder", "workflow_created", "name=%s id=%lld enabled=false", wname, (long long)*id);
            return 0;
        }
        PQclear(res);
    }
    return ac_errmsg_set(err, -AC_EEXIST, "workflows named Auto: %s exist already", g->name);
}

static const char *not_requested_why(ac_node_ask_owner_status_t s)
{
    switch (s) {
    case AC_NODE_ASK_OWNER_NO_2FA: return "2FA is off";
    case AC_NODE_ASK_OWNER_NO_CHAT: return "no Telegram chat to ask the owner";
    case AC_NODE_ASK_OWNER_BUSY: return "the owner has a 2FA request waiting";
    default: return "the owner could not be asked";
    }
}

/* After a valid attempt: the owner's approval and the workflow. */
static int finish(gen_t *g, ac_skill_result_t *res)
{
    ac_node_ask_owner_result_t ar;
    ac_errmsg_t e = {{0}};
    char approval[256];
    int rc = ac_node_ask_owner(&g->c->ask, g->db, build_load, g, "written by the coder skill", &ar, &e);
    if (rc == 0) {
        snprintf(approval, sizeof(approval), "pending_2fa");
    } else if (ar.status == AC_NODE_ASK_OWNER_REFUSED || ar.status == AC_NODE_ASK_OWNER_FAILED) {
        remove_file(g);
        return ac_skill_fail(res, "approval_failed", "%s", e.msg);
    } else {
        snprintf(approval, sizeof(approval), "not_requested: %s; load %s from the admin UI (Skills page)",
                 not_requested_why(ar.status), g->file);
    }
    ac_log_info("coder", "generated", "skill=%s file=%s sha256=%s attempts=%d approval=%s", g->name, g->file, g->sha,
                g->attempts, rc == 0 ? "pending_2fa" : "not_requested");
    json_t *out = json_pack("{s:s, s:s, s:s, s:i, s:s}", "skill", g->name, "file", g->file, "checksum", g->sha,
                            "attempts", g->attempts, "approval", approval);
    const char *branch = "on_created";
    if (g->create_workflow) {
        int64_t wid = 0;
        if (create_workflow(g, &wid, &e) != 0) {
            json_decref(out);
            return ac_skill_fail(res, "workflow_failed", "%s (the skill %s is written; approval: %s)", e.msg, g->name,
                                 approval);
        }
        json_object_set_new(out, "workflow_id", json_integer(wid));
        branch = "on_workflow_created";
    }
    return ac_skill_ok(res, out, branch);
}

/* The whole pipeline for goal (checked), on ctx->db or a connection of its own. */
static int generate(gen_t *g, ac_skill_result_t *res)
{
    ac_errmsg_t err = {{0}};
    PGconn *own = NULL;
    g->db = g->ctx->db;
    const char *ci = g->c->conninfo != NULL ? g->c->conninfo : g->ctx->conninfo;
    if (g->db == NULL && (ci == NULL || ac_node_db_connect(ci, &own, &err) != 0))
        return ac_skill_fail(res, "database_error", "no database connection");
    if (g->db == NULL)
        g->db = own;
    char base[AC_NODE_CODER_NAME_MAX + 1];
    ac_node_coder_name_from_goal(g->goal, base, sizeof(base));
    int rc = reserve_name(g->c, g->db, base, g->name, &err);
    if (rc != 0) {
        if (own != NULL)
            PQfinish(own);
        return ac_skill_fail(res, rc == -AC_EAGAIN ? "busy" : "no_name", "%s", err.msg);
    }
    snprintf(g->file, sizeof(g->file), "%s.lua", g->name);
    progress(g, "Coder: writing the skill %s with the local model (at most %d attempts).", g->name, g->max);
    int out = -1;
    for (g->attempts = 1; g->attempts <= g->max; g->attempts++) {
        if (g->ctx->cancel != NULL && *g->ctx->cancel) {
            out = ac_skill_fail(res, "cancelled", NULL);
            break;
        }
        rc = attempt(g, &err);
        if (rc == 1) {
            out = finish(g, res);
            break;
        }
        if (rc < 0) {
            out = rc == -AC_ESTOPPED || strcmp(err.msg, "cancelled") == 0
                      ? ac_skill_fail(res, "cancelled", NULL)
                      : ac_skill_fail(res, "generation_failed", "%s", err.msg);
            break;
        }
        if (g->attempts < g->max)
            progress(g, "Coder: attempt %d of %d failed: %.*s", g->attempts, g->max,
                     (int)ac_policy_utf8_fit(g->last_error, strlen(g->last_error), 300), g->last_error);
    }
    if (g->attempts > g->max) {
        g->attempts = g->max;
        out = ac_skill_fail(res, "generation_failed", "%s", g->last_error);
    }
    release_name(g->c, g->name);
    if (own != NULL)
        PQfinish(own);
    return out;
}

/* goal, max_retries and create_workflow from a step's input and config. */
static int read_args(gen_t *g, const ac_skill_args_t *args, char **goal_buf, ac_skill_result_t *res)
{
    char *in = ac_skill_input_text(args->input);
    size_t i = 0;
    while (in[i] != '\0' && isspace((unsigned char)in[i]))
        i++;
    if (in[i] == '\0') {
        free(in);
        const char *cg = ac_skill_config_str(args->config, "goal");
        in = ac_strdup(cg != NULL ? cg : "");
        for (i = 0; in[i] != '\0' && isspace((unsigned char)in[i]); i++)
            ;
    }
    *goal_buf = in;
    if (in[i] == '\0')
        return ac_skill_fail(res, "no_goal", "say what the skill should do (input or config.goal)");
    if (strlen(in) > AC_NODE_CODER_GOAL_MAX)
        return ac_skill_fail(res, "goal_too_long", "at most %d bytes", AC_NODE_CODER_GOAL_MAX);
    g->goal = in + i;
    const json_t *mr = json_object_get(args->config, "max_retries");
    int64_t max = -1;
    if (json_is_integer(mr))
        max = json_integer_value(mr);
    else if (json_is_string(mr) && json_string_length(mr) > 0 && json_string_length(mr) <= 2 &&
             strspn(json_string_value(mr), "0123456789") == json_string_length(mr))
        max = atoi(json_string_value(mr));
    if (mr != NULL && !json_is_null(mr) && (max < 1 || max > AC_NODE_CODER_RETRIES_MAX))
        return ac_skill_fail(res, "invalid_config", "max_retries is 1 to %d", AC_NODE_CODER_RETRIES_MAX);
    if (max < 1) {
        max = ac_node_settings_int_or(g->c->settings, "coder.max_retries", 3);
        if (max < 1 || max > AC_NODE_CODER_RETRIES_MAX)
            max = 3;
    }
    g->max = (int)max;
    const json_t *cw = json_object_get(args->config, "create_workflow");
    g->create_workflow = json_is_true(cw) || (json_is_string(cw) && strcmp(json_string_value(cw), "true") == 0);
    return 0;
}

int ac_node_coder__generate(ac_node_coder_t *c, const ac_skill_ctx_t *ctx, const ac_skill_args_t *args,
                            ac_node_coder_say_fn say, void *say_arg, const char *chat_id, ac_skill_result_t *res)
{
    gen_t g = {.c = c, .ctx = ctx, .say = say, .say_arg = say_arg, .chat_id = chat_id};
    char *goal = NULL;
    int rc = read_args(&g, args, &goal, res);
    if (rc == 0)
        rc = generate(&g, res);
    free(goal);
    return rc;
}

static int coder_run(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, ac_skill_result_t *res)
{
    ac_node_coder_t *c = ctx->self != NULL ? ctx->self->impl : NULL;
    if (c == NULL || c->dyn == NULL)
        return ac_skill_fail(res, "skill_unavailable", "dynamic skills are off in this process");
    return ac_node_coder__generate(c, ctx, args, NULL, NULL, NULL, res);
}
