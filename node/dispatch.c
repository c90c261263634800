/* node/dispatch.c - the command dispatcher of dispatch.h. */
#include "node/dispatch.h"

#include "node/action.h"
#include "node/challenge.h"
#include "node/chat_task.h"
#include "node/coder.h"
#include "node/log.h"
#include "node/runtime.h"
#include "node/tg_proto.h"
#include "node/twofa.h"
#include "node/wf_exec.h"
#include "policy/alloc.h"
#include "policy/qrpng.h"
#include "policy/totp.h"
#include "policy/utf8.h"
#include "skills/github_review.h"
#include "skills/llm_skills.h"
#include "skills/llm_store.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETUP_CAPTION "Scan from another device, or use the manual key below."

/* --- replies ------------------------------------------------------------------------------------------------ */

/* A reply built twice at once: HTML (escaped text, tags) and plain. */
typedef struct reply {
    FILE *html, *plain;
    char *hbuf, *pbuf;
    size_t hlen, plen;
} reply_t;

static void r_open(reply_t *r)
{
    memset(r, 0, sizeof(*r));
    r->html = open_memstream(&r->hbuf, &r->hlen);
    r->plain = open_memstream(&r->pbuf, &r->plen);
    if (r->html == NULL || r->plain == NULL)
        abort(); /* out of memory: ac_malloc's policy */
}

/* Text: escaped in the HTML version. */
static void r_text(reply_t *r, const char *s, size_t n)
{
    fwrite(s, 1, n, r->plain);
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '<')
            fputs("&lt;", r->html);
        else if (ch == '>')
            fputs("&gt;", r->html);
        else if (ch == '&')
            fputs("&amp;", r->html);
        else
            fputc(ch, r->html);
    }
}

static void __attribute__((format(printf, 2, 3))) r_printf(reply_t *r, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        r_text(r, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Text inside a tag (b, i, code, pre) in the HTML version. */
static void r_tag(reply_t *r, const char *tag, const char *s)
{
    fprintf(r->html, "<%s>", tag);
    r_text(r, s, strlen(s));
    fprintf(r->html, "</%s>", tag);
}

static void r_send_out(const ac_node_dispatch_out_t *out, const char *chat, reply_t *r)
{
    fclose(r->html);
    fclose(r->plain);
    if (out->text != NULL && out->text(out->arg, chat, r->hbuf, r->pbuf) != 0)
        ac_log_warn("dispatch", "reply_failed", "bytes=%zu", r->plen);
    free(r->hbuf);
    free(r->pbuf);
}

static void r_send(const ac_node_dispatch_cfg_t *d, const char *chat, reply_t *r)
{
    r_send_out(&d->out, chat, r);
}

static void say_out(const ac_node_dispatch_out_t *out, const char *chat, const char *text)
{
    reply_t r;
    r_open(&r);
    r_text(&r, text, strlen(text));
    r_send_out(out, chat, &r);
}

static void say(const ac_node_dispatch_cfg_t *d, const char *chat, const char *text)
{
    say_out(&d->out, chat, text);
}

/* --- helpers ------------------------------------------------------------------------------------------------ */

static bool arg_eq(const ac_node_tg_cmd_t *cmd, const char *word)
{
    return cmd->arg_len == strlen(word) && strncasecmp(cmd->arg, word, cmd->arg_len) == 0;
}

static char *arg_dup(const ac_node_tg_cmd_t *cmd)
{
    return ac_strndup(cmd->arg, cmd->arg_len);
}

static bool parse_i64(const char *s, int64_t *out)
{
    if (s == NULL || *s == '\0' || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s))
        return false;
    *out = strtoll(s, NULL, 10);
    return *out > 0;
}

static PGresult *q(PGconn *c, const char *sql, int n, const char *const *p)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        ac_log_warn("dispatch", "query_failed", "error=%s", PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

static void challenge(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, json_t *action, int64_t now)
{
    char scope[AC_NODE_CHALLENGE_SCOPE_MAX], id[AC_NODE_CHALLENGE_ID_MAX];
    ac_node_challenge_scope_telegram(chat, scope, sizeof(scope));
    char *desc = ac_node_action_describe(action), *replaced = NULL;
    ac_errmsg_t err = {0};
    if (ac_node_challenge_live_description(c, scope, now, &replaced, &err) != 0 ||
        ac_node_challenge_create(c, scope, action, desc, now, id, &err) != 0) {
        say(d, chat, "Could not start the 2FA check (database error). Try again later.");
    } else {
        char *text = ac_node_challenge_prompt_replacing(desc, replaced);
        say(d, chat, text);
        free(text);
    }
    free(replaced);
    free(desc);
    json_decref(action);
}

void ac_node_dispatch_prompt(const ac_node_dispatch_cfg_t *d, const char *chat_id, const char *description)
{
    char *text = ac_node_challenge_prompt(description);
    say(d, chat_id, text);
    free(text);
}

/* --- commands ----------------------------------------------------------------------------------------------- */

static void cmd_help(const ac_node_dispatch_cfg_t *d, const char *chat)
{
    say(d, chat,
        "Commands:\n"
        "/ping - is the node alive\n"
        "/status - uptime, memory, runs\n"
        "/workflows - list workflows\n"
        "/run <id or name> - run a workflow\n"
        "/runs - active runs\n"
        "/cancel <run id> - cancel a run\n"
        "/rate <run> [step] <+|-> [feedback] - rate a run's result\n"
        "/skills - list skills\n"
        "/shell <command> - run a whitelisted command\n"
        "/setup 2fa, /confirm 2fa <code>, /disable 2fa - two-factor authentication\n"
        "/github pr <owner/repo> [n] - security review of a pull request (the latest open one without n)\n"
        "/github commit <owner/repo> <sha> - security review of a commit\n"
        "/llm - the language model providers\n"
        "/coder [--workflow] <goal> - generate a dynamic skill with a local model (loading it asks for a 2FA code)\n"
        "anything else - a conversation with the language model\n"
        "/help - this list");
}

static void cmd_status(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, int64_t now)
{
    int running = 0, queued = 0;
    if (d->pool != NULL)
        ac_node_wf_pool_stats(d->pool, &running, &queued);
    PGresult *r = q(c, "SELECT count(*) FROM workflow_runs WHERE status = 'running'", 0, NULL);
    reply_t rp;
    r_open(&rp);
    r_tag(&rp, "b", "AlexClaw status");
    r_printf(&rp, "\nNode: %s\nUptime: %llds\nMemory: %.1f MB\nRuns here: %d running, %d queued\n", d->node_name,
             (long long)(now - d->started_at), ac_node_runtime_rss_bytes() / (1024.0 * 1024.0), running, queued);
    r_printf(&rp, "Runs in the cluster: %s running\n2FA: %s", r != NULL ? PQgetvalue(r, 0, 0) : "?",
             ac_node_twofa_enabled(d->settings) ? "on" : "off");
    PQclear(r);
    r_send(d, chat, &rp);
}

static void cmd_workflows(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat)
{
    PGresult *r =
        q(c, "SELECT id, name, enabled, coalesce(schedule, '') FROM workflows ORDER BY name LIMIT 100", 0, NULL);
    if (r == NULL) {
        say(d, chat, "Could not read the workflows (database error).");
        return;
    }
    reply_t rp;
    r_open(&rp);
    if (PQntuples(r) == 0)
        r_printf(&rp, "No workflows yet.");
    for (int i = 0; i < PQntuples(r); i++) {
        r_printf(&rp, "%s• ", i > 0 ? "\n" : "");
        r_tag(&rp, "b", PQgetvalue(r, i, 1));
        bool en = PQgetvalue(r, i, 2)[0] == 't';
        r_printf(&rp, " (%s", en ? "enabled" : "disabled");
        if (PQgetvalue(r, i, 3)[0] != '\0') {
            r_printf(&rp, " ");
            r_tag(&rp, "code", PQgetvalue(r, i, 3));
        }
        r_printf(&rp, ") — id: %s", PQgetvalue(r, i, 0));
    }
    PQclear(r);
    r_send(d, chat, &rp);
}

/* Finds a workflow by id or (case-insensitive) name: 0 with id, name, enabled and requires_2fa, or -AC_ENOENT. */
static int find_workflow(PGconn *c, const char *ref, int64_t *id, char *name, size_t cap, bool *enabled, bool *r2fa)
{
    int64_t n = 0;
    PGresult *r;
    if (parse_i64(ref, &n)) {
        const char *p[] = {ref};
        r = q(c,
              "SELECT id, name, enabled, coalesce(metadata->'requires_2fa' = 'true'::jsonb, false) FROM workflows "
              "WHERE id = $1::bigint",
              1, p);
    } else {
        const char *p[] = {ref};
        r = q(c,
              "SELECT id, name, enabled, coalesce(metadata->'requires_2fa' = 'true'::jsonb, false) FROM workflows "
              "WHERE lower(name) = lower($1) ORDER BY (name = $1) DESC, id LIMIT 1",
              1, p);
    }
    if (r == NULL)
        return -AC_EDB;
    int rc = -AC_ENOENT;
    if (PQntuples(r) == 1) {
        *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        snprintf(name, cap, "%s", PQgetvalue(r, 0, 1));
        *enabled = PQgetvalue(r, 0, 2)[0] == 't';
        *r2fa = PQgetvalue(r, 0, 3)[0] == 't';
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static void run_result(const ac_node_dispatch_cfg_t *d, const char *chat, const char *name, int rc,
                       const ac_errmsg_t *err, int64_t run_id)
{
    reply_t rp;
    r_open(&rp);
    if (rc != 0) {
        r_printf(&rp, "Workflow ");
        r_tag(&rp, "b", name);
        r_printf(&rp, " was not started: %s", err->msg);
    } else if (run_id > 0) {
        r_printf(&rp, "Workflow ");
        r_tag(&rp, "b", name);
        r_printf(&rp, " started (run %lld).", (long long)run_id);
    } else {
        r_printf(&rp, "Workflow ");
        r_tag(&rp, "b", name);
        r_printf(&rp, " is queued; it starts when an executor is free.");
    }
    r_send(d, chat, &rp);
}

static void cmd_run(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, const ac_node_tg_cmd_t *cmd,
                    int64_t now)
{
    if (cmd->arg_len == 0) {
        say(d, chat, "Usage: /run <workflow id or name>");
        return;
    }
    char *ref = arg_dup(cmd);
    int64_t id = 0;
    char name[256];
    bool enabled = false, r2fa = false;
    int rc = find_workflow(c, ref, &id, name, sizeof(name), &enabled, &r2fa);
    if (rc != 0) {
        reply_t rp;
        r_open(&rp);
        if (rc == -AC_ENOENT) {
            r_printf(&rp, "Workflow not found: ");
            r_tag(&rp, "code", ref);
            r_printf(&rp, "\nSee /workflows.");
        } else {
            r_printf(&rp, "Could not look the workflow up (database error).");
        }
        r_send(d, chat, &rp);
        free(ref);
        return;
    }
    free(ref);
    if (!enabled) {
        reply_t rp;
        r_open(&rp);
        r_printf(&rp, "Workflow ");
        r_tag(&rp, "b", name);
        r_printf(&rp, " is disabled. Enable it in the admin UI first.");
        r_send(d, chat, &rp);
        return;
    }
    if (r2fa) {
        if (!ac_node_twofa_enabled(d->settings))
            say(d, chat, "This workflow requires 2FA. Set up 2FA first: /setup 2fa");
        else
            challenge(d, c, chat, ac_node_action_run_workflow(id, name), now);
        return;
    }
    int64_t run_id = 0;
    ac_errmsg_t err = {0};
    rc = ac_node_action_run_and_wait(d->pool, id, true, AC_NODE_ACTION_RUN_WAIT_MS, &run_id, &err);
    run_result(d, chat, name, rc, &err, run_id);
}

static void cmd_runs(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat)
{
    PGresult *r = q(c,
                    "SELECT r.id, w.name, to_char(r.started_at, 'YYYY-MM-DD HH24:MI:SS'), coalesce(r.node, '') "
                    "FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE r.status = 'running' "
                    "ORDER BY r.id DESC LIMIT 50",
                    0, NULL);
    if (r == NULL) {
        say(d, chat, "Could not read the runs (database error).");
        return;
    }
    reply_t rp;
    r_open(&rp);
    if (PQntuples(r) == 0)
        r_printf(&rp, "No active runs.");
    for (int i = 0; i < PQntuples(r); i++) {
        r_printf(&rp, "%s• Run %s — ", i > 0 ? "\n" : "", PQgetvalue(r, i, 0));
        r_tag(&rp, "b", PQgetvalue(r, i, 1));
        r_printf(&rp, " since %s UTC on %s", PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
    }
    PQclear(r);
    r_send(d, chat, &rp);
}

static void cmd_cancel(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, const ac_node_tg_cmd_t *cmd)
{
    char *a = arg_dup(cmd);
    int64_t id = 0;
    if (!parse_i64(a, &id)) {
        say(d, chat, "Usage: /cancel <run id>");
        free(a);
        return;
    }
    free(a);
    ac_errmsg_t err = {0};
    int rc = ac_node_wf_cancel(c, id, &err);
    char buf[128];
    if (rc == 0)
        snprintf(buf, sizeof(buf), "Run %lld cancelled.", (long long)id);
    else if (rc == -AC_ENOENT || rc == -AC_ESTATE)
        snprintf(buf, sizeof(buf), "Run %lld not found or already finished.", (long long)id);
    else
        snprintf(buf, sizeof(buf), "Could not cancel run %lld (database error).", (long long)id);
    say(d, chat, buf);
}

static void cmd_skills(const ac_node_dispatch_cfg_t *d, const char *chat)
{
    const ac_skill_def_t *defs[128];
    size_t n = ac_skills_registry_list(d->registry, defs, 128), shown = n < 128 ? n : 128;
    reply_t rp;
    r_open(&rp);
    r_printf(&rp, "Skills (%zu):", n);
    for (size_t i = 0; i < shown; i++) {
        r_printf(&rp, "\n• ");
        r_tag(&rp, "b", defs[i]->name);
        if (!ac_skills_registry_is_core(d->registry, defs[i]->name))
            r_printf(&rp, " [dynamic]");
        r_printf(&rp, " — %s", defs[i]->description);
    }
    ac_skills_registry_release_list(d->registry, defs, shown);
    if (shown < n)
        r_printf(&rp, "\n… and %zu more (the admin UI lists them all)", n - shown);
    r_send(d, chat, &rp);
}

static void shell_result(const ac_node_dispatch_cfg_t *d, const char *chat, const json_t *res)
{
    reply_t rp;
    r_open(&rp);
    const char *e = json_string_value(json_object_get(res, "error"));
    if (e != NULL) {
        r_printf(&rp, "Shell command refused or failed: ");
        r_tag(&rp, "code", e);
    } else {
        r_tag(&rp, "pre", json_string_value(json_object_get(res, "output")) ?: "");
    }
    r_send(d, chat, &rp);
}

static void cmd_shell(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, const ac_node_tg_cmd_t *cmd,
                      int64_t now)
{
    if (!ac_node_settings_bool_or(d->settings, "shell.enabled", false)) {
        say(d, chat, "Shell commands are disabled. Enable in Admin > Config.");
        return;
    }
    if (cmd->arg_len == 0 || cmd->arg_len > AC_NODE_ACTION_COMMAND_MAX) {
        say(d, chat, "Usage: /shell <command> (at most 1000 characters)");
        return;
    }
    char *command = arg_dup(cmd);
    json_t *action = ac_node_action_shell(command);
    free(command);
    if (ac_node_twofa_enabled(d->settings)) {
        challenge(d, c, chat, action, now);
        return;
    }
    ac_node_action_env_t env = {
        .conn = c, .settings = d->settings, .pool = d->pool, .base = &d->base, .cancel = d->cancel};
    json_t *res = NULL;
    ac_errmsg_t err = {0};
    if (ac_node_action_exec(&env, action, &res, &err) != 0)
        say(d, chat, err.msg);
    else
        shell_result(d, chat, res);
    json_decref(res);
    json_decref(action);
}

static void send_setup(const ac_node_dispatch_cfg_t *d, const char *chat, const char *secret, const char *uri)
{
    uint8_t *png = NULL;
    size_t len = 0;
    ac_errmsg_t err = {0};
    if (ac_policy_qrpng_render(uri, 8, &png, &len, &err) == 0 && d->out.photo != NULL)
        d->out.photo(d->out.arg, chat, png, len, SETUP_CAPTION);
    free(png);
    reply_t rp;
    r_open(&rp);
    r_printf(&rp, "Manual key: ");
    r_tag(&rp, "code", secret);
    r_printf(&rp, "\n\nThen confirm with: /confirm 2fa <6-digit code>");
    r_send(d, chat, &rp);
}

static void cmd_setup(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, const ac_node_tg_cmd_t *cmd,
                      int64_t now)
{
    if (!arg_eq(cmd, "2fa")) {
        say(d, chat, "Usage: /setup 2fa");
        return;
    }
    if (ac_node_twofa_enabled(d->settings)) {
        challenge(d, c, chat, ac_node_action_twofa("twofa_setup"), now);
        return;
    }
    char secret[AC_POLICY_TOTP_SECRET_LEN + 1], uri[512];
    ac_errmsg_t err = {0};
    if (ac_node_twofa_setup(c, d->settings, "admin", NULL, now, secret, uri, sizeof(uri), &err) != 0) {
        say(d, chat, "Could not start the 2FA setup (database error).");
        return;
    }
    send_setup(d, chat, secret, uri);
    explicit_bzero(secret, sizeof(secret));
    explicit_bzero(uri, sizeof(uri));
}

static void cmd_confirm(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, const ac_node_tg_cmd_t *cmd,
                        int64_t now)
{
    if (cmd->arg_len < 4 || strncasecmp(cmd->arg, "2fa", 3) != 0 || !isspace((unsigned char)cmd->arg[3])) {
        say(d, chat, "Usage: /confirm 2fa <6-digit code>");
        return;
    }
    const char *p = cmd->arg + 3;
    while (isspace((unsigned char)*p))
        p++;
    char code[16];
    size_t n = (size_t)(cmd->arg + cmd->arg_len - p);
    snprintf(code, sizeof(code), "%.*s", (int)(n < sizeof(code) - 1 ? n : sizeof(code) - 1), p);
    ac_errmsg_t err = {0};
    int rc = ac_node_twofa_confirm(c, d->settings, code, now, &err);
    if (rc == 0)
        say(d, chat, "2FA enabled! Sensitive actions now need a code from your authenticator app.");
    else if (rc == -AC_ENOENT)
        say(d, chat, "No pending 2FA setup. Start with /setup 2fa");
    else if (rc == -AC_EPERM || rc == -AC_EINVAL)
        say(d, chat, "Invalid code. Try again: /confirm 2fa <code>");
    else if (rc == -AC_EAGAIN)
        say(d, chat, err.msg);
    else
        say(d, chat, "Could not confirm the 2FA setup (database error).");
}

static void cmd_disable(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, const ac_node_tg_cmd_t *cmd,
                        int64_t now)
{
    if (!arg_eq(cmd, "2fa")) {
        say(d, chat, "Usage: /disable 2fa");
        return;
    }
    if (!ac_node_twofa_enabled(d->settings)) {
        say(d, chat, "2FA is not enabled.");
        return;
    }
    challenge(d, c, chat, ac_node_action_twofa("twofa_disable"), now);
}

/* /rate <run> [step] <+|-> [feedback] */
static void cmd_rate(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, const ac_node_tg_cmd_t *cmd)
{
    static const char *const up[] = {"👍", "+", "up", "yes", "ok", "good"};
    static const char *const down[] = {"👎", "-", "down", "no", "bad", "nope"};
    char *a = arg_dup(cmd);
    char *save = NULL, *tok[3] = {0};
    int nt = 0;
    for (char *t = strtok_r(a, " \t\n", &save); t != NULL && nt < 3; t = strtok_r(NULL, " \t\n", &save))
        tok[nt++] = t;
    int64_t run = 0, step = -1;
    const char *verdict = NULL;
    int vi = -1;
    if (nt >= 2 && parse_i64(tok[0], &run)) {
        vi = 1;
        int64_t s = 0;
        if (nt >= 3 && (parse_i64(tok[1], &s) || strcmp(tok[1], "0") == 0)) {
            step = s;
            vi = 2;
        }
        for (size_t i = 0; i < 6 && verdict == NULL; i++) {
            if (strcasecmp(tok[vi], up[i]) == 0)
                verdict = "thumbs_up";
            else if (strcasecmp(tok[vi], down[i]) == 0)
                verdict = "thumbs_down";
        }
    }
    if (verdict == NULL) {
        say(d, chat, "Usage: /rate <run> [step] <+|-> [feedback]");
        free(a);
        return;
    }
    /* feedback: what follows the verdict in the original text */
    const char *fb = "";
    const char *vpos = strstr(cmd->arg, tok[vi]);
    if (vpos != NULL) {
        fb = vpos + strlen(tok[vi]);
        while (*fb == ' ' || *fb == '\t' || *fb == '\n')
            fb++;
    }
    char fbuf[1024];
    snprintf(fbuf, sizeof(fbuf), "%.*s",
             (int)((size_t)(cmd->arg + cmd->arg_len - fb) < sizeof(fbuf) - 1 ? (size_t)(cmd->arg + cmd->arg_len - fb)
                                                                             : sizeof(fbuf) - 1),
             fb);
    char rs[32], ss[32];
    snprintf(rs, sizeof(rs), "%lld", (long long)run);
    snprintf(ss, sizeof(ss), "%lld", (long long)step);
    const char *p[] = {rs, ss, verdict, fbuf};
    PGresult *r = q(c,
                    "UPDATE skill_outcomes SET result_quality = $3, user_feedback = nullif($4, ''), "
                    "updated_at = now() AT TIME ZONE 'utc' WHERE workflow_run_id = $1::bigint AND "
                    "($2::int < 0 OR step_position = $2::int)",
                    4, p);
    char buf[160];
    int n = r != NULL ? atoi(PQcmdTuples(r)) : -1;
    if (n < 0)
        snprintf(buf, sizeof(buf), "Could not record the rating (database error).");
    else if (n == 0)
        snprintf(buf, sizeof(buf), "No results found for run %lld.", (long long)run);
    else
        snprintf(buf, sizeof(buf), "%s Rated %d result%s of run %lld.", strcmp(verdict, "thumbs_up") == 0 ? "👍" : "👎",
                 n, n == 1 ? "" : "s", (long long)run);
    PQclear(r);
    say(d, chat, buf);
    free(a);
}

/* Runs what an approved challenge stored and reports it. */
static void execute_approved(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, json_t *action)
{
    ac_node_action_env_t env = {.conn = c,
                                .settings = d->settings,
                                .pool = d->pool,
                                .base = &d->base,
                                .account = "admin",
                                .cancel = d->cancel,
                                .dynskills = d->dynskills};
    json_t *res = NULL;
    ac_errmsg_t err = {0};
    const char *type = json_string_value(json_object_get(action, "type"));
    int rc = ac_node_action_exec(&env, action, &res, &err);
    if (rc != 0) {
        reply_t rp;
        r_open(&rp);
        r_printf(&rp, "The approved action failed: %s", err.msg);
        r_send(d, chat, &rp);
    } else if (strcmp(type, "run_workflow") == 0) {
        json_t *rid = json_object_get(res, "run_id");
        run_result(d, chat, json_string_value(json_object_get(action, "name")) ?: "?", 0, &err,
                   json_is_integer(rid) ? json_integer_value(rid) : 0);
    } else if (strcmp(type, "shell_command") == 0) {
        shell_result(d, chat, res);
    } else if (strcmp(type, "twofa_setup") == 0) {
        send_setup(d, chat, json_string_value(json_object_get(res, "secret")),
                   json_string_value(json_object_get(res, "uri")));
    } else if (strcmp(type, "twofa_disable") == 0) {
        say(d, chat, "2FA disabled.");
    } else if (strcmp(type, "setting_set") == 0) {
        reply_t rp;
        r_open(&rp);
        r_printf(&rp, "Setting ");
        r_tag(&rp, "code", json_string_value(json_object_get(res, "key")) ?: "?");
        r_printf(&rp, " changed.");
        r_send(d, chat, &rp);
    } else if (strcmp(type, "skill_load") == 0 || strcmp(type, "skill_reload") == 0) {
        reply_t rp;
        r_open(&rp);
        r_printf(&rp, "Skill ");
        r_tag(&rp, "code", json_string_value(json_object_get(res, "name")) ?: "?");
        r_printf(&rp, " %s (version %s).", type[6] == 'l' ? "loaded" : "reloaded",
                 json_string_value(json_object_get(res, "version")) ?: "");
        r_send(d, chat, &rp);
    } else if (strcmp(type, "skill_unload") == 0) {
        say(d, chat, "Skill unloaded.");
    } else {
        say(d, chat, "Action completed.");
    }
    json_decref(res);
}

/* A 6-digit message: the answer to this chat's challenge, if one waits. Returns false when none does. */
static bool answer_challenge(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, const char *code,
                             int64_t now)
{
    char scope[AC_NODE_CHALLENGE_SCOPE_MAX];
    ac_node_challenge_scope_telegram(chat, scope, sizeof(scope));
    json_t *action = NULL;
    int left = 0;
    ac_errmsg_t err = {0};
    int rc = ac_node_challenge_resolve(c, d->settings, scope, NULL, code, now, &action, &left, &err);
    if (rc == -AC_ENOENT)
        return false;
    if (rc == 0) {
        say(d, chat, "Code verified. Executing...");
        execute_approved(d, c, chat, action);
        json_decref(action);
    } else if (rc == -AC_ETIMEDOUT) {
        say(d, chat, "Challenge expired. Please trigger the action again.");
    } else if (rc == -AC_EPERM && left > 0) {
        char buf[128];
        snprintf(buf, sizeof(buf), "Invalid code. Try again (%d attempt%s left).", left, left == 1 ? "" : "s");
        say(d, chat, buf);
    } else if (rc == -AC_EPERM) {
        say(d, chat, "Too many wrong codes. The action was cancelled; trigger it again.");
    } else if (rc == -AC_EAGAIN) {
        say(d, chat, err.msg); /* locked after too many wrong codes: says for how long */
    } else if (rc == -AC_ESTATE) {
        say(d, chat, "2FA is not enabled any more; the action was not run.");
        ac_node_challenge_cancel(c, scope, &err);
    } else {
        say(d, chat, "Could not check the code (database error). Try again.");
    }
    return true;
}

/* --- language model commands: long work on the chat task runner ------------------------------------------- */

#define MESSAGE_MAX (16 * 1024) /* conversational's own limit */

typedef struct chat_job {
    ac_node_dispatch_out_t out; /* copied: the task may outlive the poller's loop iteration */
    char chat[64];
    char *text;                   /* conversation: the message */
    char repo[256];               /* review */
    ac_skills_github_kind_t kind; /* review */
    char ref[64];                 /* review: number or sha; "" for the latest open pull request */
} chat_job_t;

static void chat_job_free(void *p)
{
    chat_job_t *j = p;
    free(j->text);
    free(j);
}

/* The owner's words for an LLM failure: what to do about the usual ones, the router's sentence otherwise. */
static void llm_failure(const ac_node_dispatch_out_t *out, const char *chat, const char *what, const char *msg)
{
    char buf[700];
    if (strncmp(msg, "no_available_model", 18) == 0)
        snprintf(buf, sizeof(buf),
                 "No language model is available for %s: add or enable a provider on the LLM page "
                 "of the admin UI.",
                 what);
    else if (strncmp(msg, "all_providers_at_limit", 22) == 0)
        snprintf(buf, sizeof(buf), "Every language model provider for %s is at its daily limit.", what);
    else
        snprintf(buf, sizeof(buf), "The %s failed: %s", what, msg);
    say_out(out, chat, buf);
}

static void converse_task(void *arg, const ac_skill_ctx_t *ctx)
{
    chat_job_t *j = arg;
    if (ctx->db == NULL) {
        say_out(&j->out, j->chat, "The database is unreachable; try again later.");
        return;
    }
    char *reply = NULL;
    ac_errmsg_t err = {{0}};
    if (ac_skills_conversational_reply(ctx, j->text, &reply, &err) != 0) {
        llm_failure(&j->out, j->chat, "conversation", err.msg);
        return;
    }
    say_out(&j->out, j->chat, reply[0] != '\0' ? reply : "(the model answered nothing)");
    free(reply);
}

static void review_task(void *arg, const ac_skill_ctx_t *ctx)
{
    chat_job_t *j = arg;
    if (ctx->db == NULL) {
        say_out(&j->out, j->chat, "The database is unreachable; try again later.");
        return;
    }
    json_t *review = NULL;
    ac_errmsg_t err = {{0}};
    if (j->ref[0] == '\0') { /* the most recently updated open pull request: the skill's latest_pr mode */
        json_t *cfg = json_pack("{s:s,s:s}", "mode", "latest_pr", "repo", j->repo);
        ac_skill_args_t a = {.input = NULL, .config = cfg};
        ac_skill_result_t res = {0};
        int rc = ac_skills_github_security_review.run(ctx, &a, &res);
        json_decref(cfg);
        if (rc != 0) {
            llm_failure(&j->out, j->chat, "security review", res.error);
            json_decref(res.output);
            return;
        }
        if (strcmp(res.branch, "on_empty") == 0) {
            json_decref(res.output);
            say_out(&j->out, j->chat, "No open pull request to review.");
            return;
        }
        review = res.output;
    } else if (ac_skills_github_review(ctx, j->repo, j->kind, j->ref, &review, &err) != 0) {
        llm_failure(&j->out, j->chat, "security review", err.msg);
        return;
    }
    char *msg = ac_skills_github_review_message(review);
    reply_t r;
    r_open(&r);
    fputs(msg, r.html); /* already escaped HTML */
    json_t *text = json_object_get(review, "review");
    fputs(json_is_string(text) ? json_string_value(text) : "", r.plain);
    r_send_out(&j->out, j->chat, &r);
    free(msg);
    json_decref(review);
}

/* Runs a job on the task runner, or here and now when the dispatcher has none (tests, `workflow run`). */
static void start_job(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, const char *what,
                      ac_node_chat_task_fn fn, chat_job_t *j)
{
    if (d->tasks == NULL) {
        ac_skill_ctx_t ctx = d->base;
        ctx.db = c;
        ctx.cancel = d->cancel;
        ctx.deadline_ms = ac_skill_now_ms() + AC_NODE_CHAT_TASK_TIMEOUT_MS;
        fn(j, &ctx);
        chat_job_free(j);
        return;
    }
    ac_errmsg_t err = {{0}};
    if (ac_node_chat_tasks_run(d->tasks, what, AC_NODE_CHAT_TASK_TIMEOUT_MS, fn, chat_job_free, j, &err) !=
        0) /* j is freed then */
        say(d, chat, err.msg);
}

static chat_job_t *new_job(const ac_node_dispatch_cfg_t *d, const char *chat)
{
    chat_job_t *j = ac_calloc(1, sizeof(*j));
    j->out = d->out;
    snprintf(j->chat, sizeof(j->chat), "%s", chat);
    return j;
}

static void converse(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, const char *text, size_t len)
{
    if (len == 0)
        return;
    if (len > MESSAGE_MAX) {
        say(d, chat, "That message is too long for a conversation (16 KiB at most).");
        return;
    }
    chat_job_t *j = new_job(d, chat);
    j->text = ac_strndup(text, len);
    start_job(d, c, chat, "conversation", converse_task, j);
}

#define GITHUB_USAGE                                                                                                   \
    "Usage: /github pr <owner/repo> [number] or /github commit <owner/repo> <sha> (the repository may be left out "    \
    "when github.default_repo is set)."

/* /github pr [owner/repo] [n] | /github commit [owner/repo] <sha> */
static void cmd_github(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, const ac_node_tg_cmd_t *cmd)
{
    char buf[512], *words[4] = {0};
    int n = 0;
    if (cmd->arg_len >= sizeof(buf)) {
        say(d, chat, GITHUB_USAGE);
        return;
    }
    memcpy(buf, cmd->arg, cmd->arg_len);
    buf[cmd->arg_len] = '\0';
    for (char *save = NULL, *w = strtok_r(buf, " \t\r\n", &save); w != NULL; w = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == 4) {
            say(d, chat, GITHUB_USAGE);
            return;
        }
        words[n++] = w;
    }
    bool pr = n > 0 && strcasecmp(words[0], "pr") == 0, commit = n > 0 && strcasecmp(words[0], "commit") == 0;
    if (!pr && !commit) {
        say(d, chat, GITHUB_USAGE);
        return;
    }
    int i = 1;
    char *deflt = NULL;
    const char *repo = NULL;
    if (i < n && strchr(words[i], '/') != NULL) {
        repo = words[i++];
    } else if (ac_node_settings_get_str(d->settings, "github.default_repo", &deflt) == 0 && deflt != NULL &&
               deflt[0] != '\0') {
        repo = deflt;
    }
    const char *ref = i < n ? words[i++] : "";
    bool ok = repo != NULL && i == n && ac_skills_github_repo_check(repo) == 0;
    if (ok && pr)
        ok = ref[0] == '\0' || (strspn(ref, "0123456789") == strlen(ref) && strlen(ref) <= 10);
    if (ok && commit)
        ok = strlen(ref) >= 7 && strlen(ref) <= 40 && strspn(ref, "0123456789abcdefABCDEF") == strlen(ref);
    if (!ok) {
        free(deflt);
        say(d, chat, GITHUB_USAGE);
        return;
    }
    chat_job_t *j = new_job(d, chat);
    snprintf(j->repo, sizeof(j->repo), "%s", repo);
    snprintf(j->ref, sizeof(j->ref), "%s", ref);
    j->kind = pr ? AC_SKILLS_GITHUB_PR : AC_SKILLS_GITHUB_COMMIT;
    free(deflt);
    say(d, chat, "Reviewing; the result follows when the model has answered.");
    start_job(d, c, chat, "review", review_task, j);
}

/* /llm: the providers, whether they can be used, and who receives the data. */
static void cmd_llm(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat)
{
    ac_skills_llm_provider_t *p = NULL;
    size_t n = 0;
    ac_errmsg_t err = {{0}};
    if (ac_skills_llm_providers_list(c, d->settings, &p, &n, &err) != 0) {
        say(d, chat, "Could not read the providers (database error).");
        return;
    }
    reply_t r;
    r_open(&r);
    r_printf(&r, "LLM providers:\n");
    for (size_t i = 0; i < n; i++) {
        bool key = p[i].has_api_key || p[i].uses_setting_key;
        r_printf(&r, "• ");
        r_tag(&r, "b", p[i].name);
        r_printf(&r, " (%s, %s, ", p[i].tier, p[i].type);
        r_text(&r, p[i].model, strlen(p[i].model));
        r_printf(&r, ") %s", p[i].enabled ? "enabled" : "disabled");
        if (p[i].cloud)
            r_printf(&r, ", key %s", key ? "set" : "not set");
        else
            r_printf(&r, ", host %s", p[i].host != NULL && p[i].host[0] != '\0' ? "set" : "not set");
        if (p[i].daily_limit >= 0)
            r_printf(&r, ", today %lld/%lld", (long long)p[i].usage_today, (long long)p[i].daily_limit);
        else
            r_printf(&r, ", today %lld", (long long)p[i].usage_today);
        r_printf(&r, "\n");
    }
    if (n == 0)
        r_printf(&r, "none; add one on the LLM page of the admin UI\n");
    r_send(d, chat, &r);
    ac_skills_llm_providers_free(p, n);
}

/* /coder <goal>: a generation on the coder's own thread; the skill is written but loaded only after a 2FA code. */
static void cmd_coder(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, const ac_node_tg_cmd_t *cmd,
                      int64_t now)
{
    (void)c;
    (void)now;
    const char *goal = cmd->arg;
    size_t len = cmd->arg_len;
    bool workflow = false;
    if (len >= 10 && strncmp(goal, "--workflow", 10) == 0 && (len == 10 || goal[10] == ' ')) {
        workflow = true;
        goal += 10;
        len -= 10;
        while (len > 0 && *goal == ' ')
            goal++, len--;
    }
    if (len == 0) {
        say(d, chat, "Usage: /coder [--workflow] <what the skill should do>");
        return;
    }
    if (d->coder == NULL || d->coder_say == NULL) {
        say(d, chat, "The coder needs dynamic skills, which are off on this node (see the node's log).");
        return;
    }
    char *g = ac_strndup(goal, len);
    ac_errmsg_t err = {{0}};
    int rc = ac_node_coder_chat_start(d->coder, chat, g, workflow, d->coder_say, d->coder_say_arg, &err);
    free(g);
    if (rc == 0)
        say(d, chat,
            "Coder: started with a local model; I will report here. Loading the skill will ask for a 2FA code.");
    else if (rc == -AC_EAGAIN)
        say(d, chat, "Coder: busy, a generation is running already.");
    else
        say(d, chat, err.msg);
}

void ac_node_dispatch_message(const ac_node_dispatch_cfg_t *d, PGconn *c, const char *chat, const char *text,
                              int64_t now)
{
    ac_node_tg_cmd_t cmd;
    ac_node_tg_cmd_parse(text, &cmd);
    ac_log_info("dispatch", "command", "name=%s", ac_node_tg_cmd_name(cmd.kind));
    switch (cmd.kind) {
    case AC_TG_CMD_START: say(d, chat, "🦇 AlexClaw is ready.\nType /help for commands."); break;
    case AC_TG_CMD_PING: {
        reply_t rp;
        r_open(&rp);
        r_printf(&rp, "pong from ");
        r_tag(&rp, "code", d->node_name);
        r_send(d, chat, &rp);
        break;
    }
    case AC_TG_CMD_STATUS: cmd_status(d, c, chat, now); break;
    case AC_TG_CMD_HELP: cmd_help(d, chat); break;
    case AC_TG_CMD_WORKFLOWS: cmd_workflows(d, c, chat); break;
    case AC_TG_CMD_RUN: cmd_run(d, c, chat, &cmd, now); break;
    case AC_TG_CMD_RUNS: cmd_runs(d, c, chat); break;
    case AC_TG_CMD_CANCEL: cmd_cancel(d, c, chat, &cmd); break;
    case AC_TG_CMD_SKILLS: cmd_skills(d, chat); break;
    case AC_TG_CMD_SKILL:
        say(d, chat,
            "Skill management is only available from the Admin UI.\n2FA verification will be sent here when actions "
            "are performed.");
        break;
    case AC_TG_CMD_SHELL: cmd_shell(d, c, chat, &cmd, now); break;
    case AC_TG_CMD_SETUP: cmd_setup(d, c, chat, &cmd, now); break;
    case AC_TG_CMD_CONFIRM: cmd_confirm(d, c, chat, &cmd, now); break;
    case AC_TG_CMD_DISABLE: cmd_disable(d, c, chat, &cmd, now); break;
    case AC_TG_CMD_GITHUB: cmd_github(d, c, chat, &cmd); break;
    case AC_TG_CMD_LLM: cmd_llm(d, c, chat); break;
    case AC_TG_CMD_CODER: cmd_coder(d, c, chat, &cmd, now); break;
    case AC_TG_CMD_RATE: cmd_rate(d, c, chat, &cmd); break;
    case AC_TG_CMD_CODE: {
        char code[8];
        snprintf(code, sizeof(code), "%.*s", 6, cmd.arg);
        if (answer_challenge(d, c, chat, code, now))
            break;
        /* no challenge waits: a code is never sent to a language model (it may still be valid for a minute) */
        say(d, chat, "No 2FA request is waiting for a code.");
        break;
    }
    case AC_TG_CMD_TEXT: converse(d, c, chat, cmd.arg, cmd.arg_len); break;
    case AC_TG_CMD_UNKNOWN: say(d, chat, "Unknown command. Type /help for the list."); break;
    }
}
