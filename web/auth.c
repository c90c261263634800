/* web/auth.c - login and logout, the session and API-token check, CSRF (internal.h).
 *
 * POST /login checks, in this order: the form's CSRF token against the pre-session cookie (403), the rate limiter
 * (429 with the minutes left, whatever the password), ADMIN_PASSWORD set (401 saying so; not a failure), then the
 * password in constant time (401 "Invalid password", one failure for the client's address). */
#include "web/internal.h"

#include "node/log.h"
#include "node/settings.h"
#include "policy/alloc.h"
#include "policy/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_COOKIE "ac_session"
#define PRE_COOKIE     "ac_pre"
#define PASSWORD_MAX   1024

bool ac_web_cookie_secure(ac_web_server_t *s, h2o_req_t *req)
{
    return s->ssl != NULL || ac_web_is_tls(req) ||
           ac_node_settings_bool_or(s->cfg.settings, "web.cookie_secure", false);
}

static void login_html(ac_web_server_t *s, h2o_req_t *req, int status, const char *reason, const char *message)
{
    /* a pre-session for the form: the browser's own when it is well formed, else a new one */
    char pre[AC_WEB_COOKIE_MAX], token[AC_WEB_TOKEN_LEN + 1];
    if (!ac_web_cookie(req, PRE_COOKIE, pre, sizeof(pre)) || !ac_web_token_well_formed(pre)) {
        if (ac_web_token_new(pre) != 0) {
            ac_web_respond(req, 500, "Internal Server Error", "text/plain; charset=utf-8", "no random source", 16,
                           NULL);
            return;
        }
        ac_web_set_cookie(req, PRE_COOKIE, pre, -1, ac_web_cookie_secure(s, req));
    }
    if (ac_web_login_csrf(s->sessions, pre, token) != 0)
        token[0] = '\0';
    if (message == NULL && s->admin_password == NULL)
        message = "ADMIN_PASSWORD is not set, so nobody can sign in. Set it in the node's environment and restart.";
    char err[768] = "";
    if (message != NULL)
        snprintf(err, sizeof(err), "<p class=\"error\" role=\"alert\">%s</p>", ac_web_html_escape(req, message));
    char page[4096];
    int n = snprintf(
        page, sizeof(page),
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>AlexClaw: sign in</title><link rel=\"icon\" href=\"/assets/favicon.svg\" type=\"image/svg+xml\">"
        "<link rel=\"stylesheet\" href=\"/assets/style.css\"></head>"
        "<body class=\"login\"><main class=\"login-box\"><h1>AlexClaw</h1><p class=\"muted\">%s</p>%s"
        "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"_csrf_token\" value=\"%s\">"
        "<label for=\"password\">Password</label><input id=\"password\" name=\"password\" "
        "type=\"password\" autocomplete=\"current-password\" autofocus required>"
        "<button type=\"submit\">Sign in</button></form></main></body></html>\n",
        ac_web_html_escape(req, s->node_name), err, token);
    ac_web_respond(req, status, reason, "text/html; charset=utf-8", page, (size_t)n < sizeof(page) ? (size_t)n : 0,
                   NULL);
}

void ac_web_login_page(ac_web_server_t *s, h2o_req_t *req)
{
    ac_web_who_t who;
    if (ac_web_auth_check(s, req, false, &who)) {
        ac_web_redirect(req, "/");
        return;
    }
    login_html(s, req, 200, "OK", NULL);
}

/* A setting within [lo, hi], or its default when it is outside (a nonsense value never switches the limiter off). */
static int64_t bounded(ac_web_server_t *s, const char *key, int64_t def, int64_t lo, int64_t hi)
{
    int64_t v = ac_node_settings_int_or(s->cfg.settings, key, def);
    return v < lo || v > hi ? def : v;
}

static ac_policy_ratelimit_cfg_t limits(ac_web_server_t *s)
{
    ac_policy_ratelimit_cfg_t c = {
        (int)bounded(s, "auth.rate_limit.max_attempts", 5, 1, AC_POLICY_RATELIMIT_MAX_ATTEMPTS),
        bounded(s, "auth.rate_limit.block_duration_seconds", 900, 1, 30 * 86400),
        bounded(s, "auth.rate_limit.window_seconds", 300, 1, 30 * 86400),
    };
    return c;
}

void ac_web_login_post(ac_web_server_t *s, h2o_req_t *req)
{
    const char *body = req->entity.base;
    size_t len = body != NULL ? req->entity.len : 0;
    char pre[AC_WEB_COOKIE_MAX], token[128], password[PASSWORD_MAX + 1], client[80];
    ac_web_client_addr(req, ac_node_settings_bool_or(s->cfg.settings, "auth.trust_proxy_headers", false), client,
                       sizeof(client));
    if (!ac_web_cookie(req, PRE_COOKIE, pre, sizeof(pre)) ||
        !ac_web_form_value(body, len, "_csrf_token", token, sizeof(token)) ||
        !ac_web_login_csrf_ok(s->sessions, pre, token)) {
        ac_log_warn("web", "login_csrf_refused", "client=%s", client);
        login_html(s, req, 403, "Forbidden", "The sign-in form expired or did not come from this page. Try again.");
        return;
    }
    ac_policy_ratelimit_cfg_t cfg = limits(s);
    int64_t now = ac_web_now(), left = 0;
    if (ac_policy_ratelimit_check(s->limiter, client, &cfg, now, &left) != 0) {
        char msg[128], retry[32];
        snprintf(msg, sizeof(msg), "Too many failed attempts. Try again in %lld minute(s).",
                 (long long)((left + 59) / 60));
        snprintf(retry, sizeof(retry), "%lld", (long long)left);
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("retry-after"), 0, NULL,
                              h2o_strdup(&req->pool, retry, SIZE_MAX).base, strlen(retry));
        ac_log_warn("web", "login_blocked", "client=%s seconds_left=%lld", client, (long long)left);
        login_html(s, req, 429, "Too Many Requests", msg);
        return;
    }
    if (s->admin_password == NULL) {
        login_html(s, req, 401, "Unauthorized",
                   "ADMIN_PASSWORD is not set, so nobody can sign in. Set it in the node's environment and restart.");
        return;
    }
    uint8_t digest[32];
    bool have = ac_web_form_value(body, len, "password", password, sizeof(password));
    bool ok = have && ac_policy_crypto_sha256(password, strlen(password), digest) == 0 &&
              ac_policy_crypto_ct_equal(digest, sizeof(digest), s->admin_digest, sizeof(digest)) == 1;
    explicit_bzero(password, sizeof(password));
    explicit_bzero(digest, sizeof(digest));
    if (!ok) {
        int blocked = ac_policy_ratelimit_fail(s->limiter, client, &cfg, now);
        ac_log_warn("web", "login_failed", "client=%s blocked=%s", client, blocked ? "yes" : "no");
        login_html(s, req, 401, "Unauthorized", "Invalid password");
        return;
    }
    ac_policy_ratelimit_clear(s->limiter, client);
    char id[AC_WEB_TOKEN_LEN + 1], csrf[AC_WEB_TOKEN_LEN + 1];
    if (ac_web_session_create(s->sessions, now, id, csrf) != 0) {
        ac_web_respond(req, 500, "Internal Server Error", "text/plain; charset=utf-8", "no random source", 16, NULL);
        return;
    }
    bool secure = ac_web_cookie_secure(s, req);
    ac_web_set_cookie(req, SESSION_COOKIE, id, (long)ac_web_sessions_lifetime(s->sessions), secure);
    ac_web_set_cookie(req, PRE_COOKIE, "", 0, secure);
    ac_log_info("web", "login", "client=%s", client);
    ac_web_redirect(req, "/");
}

void ac_web_logout(ac_web_server_t *s, h2o_req_t *req)
{
    ac_web_who_t who;
    char id[AC_WEB_COOKIE_MAX], token[128];
    if (!ac_web_cookie(req, SESSION_COOKIE, id, sizeof(id)) || !ac_web_auth_check(s, req, false, &who)) {
        ac_web_redirect(req, "/login");
        return;
    }
    bool form = req->entity.base != NULL &&
                ac_web_form_value(req->entity.base, req->entity.len, "_csrf_token", token, sizeof(token));
    if (!(form ? ac_web_token_equal(token, who.csrf) : ac_web_csrf_ok(req, &who))) {
        ac_web_error(req, 403, "missing or wrong CSRF token");
        return;
    }
    ac_web_session_destroy(s->sessions, id);
    ac_web_set_cookie(req, SESSION_COOKIE, "", 0, ac_web_cookie_secure(s, req));
    ac_log_info("web", "logout", "sessions_left=%d", ac_web_session_count(s->sessions));
    ac_web_redirect(req, "/login");
}

static bool bearer_ok(ac_web_server_t *s, h2o_req_t *req)
{
    h2o_iovec_t auth = ac_web_header(req, "authorization");
    if (auth.base == NULL || auth.len < 8 || strncasecmp(auth.base, "Bearer ", 7) != 0)
        return false;
    char *want = NULL;
    if (ac_node_settings_get_str(s->cfg.settings, "api.token", &want) != 0 || want == NULL || want[0] == '\0') {
        ac_free_secret_str(want);
        return false; /* no token configured: bearer access is off */
    }
    bool ok = ac_policy_crypto_ct_equal(auth.base + 7, auth.len - 7, want, strlen(want)) == 1;
    ac_free_secret_str(want);
    return ok;
}

bool ac_web_auth_check(ac_web_server_t *s, h2o_req_t *req, bool allow_bearer, ac_web_who_t *who)
{
    memset(who, 0, sizeof(*who));
    char id[AC_WEB_COOKIE_MAX];
    if (ac_web_cookie(req, SESSION_COOKIE, id, sizeof(id)) &&
        ac_web_session_find(s->sessions, id, ac_web_now(), who->csrf, NULL) == 0) {
        who->session = true;
        return true;
    }
    if (allow_bearer && bearer_ok(s, req)) {
        who->bearer = true;
        return true;
    }
    return false;
}

bool ac_web_csrf_ok(h2o_req_t *req, const ac_web_who_t *who)
{
    if (who->bearer && !who->session)
        return true; /* no cookie was involved: nothing for a forged request to ride on */
    h2o_iovec_t h = ac_web_header(req, "x-csrf-token");
    if (h.base == NULL || h.len != AC_WEB_TOKEN_LEN)
        return false;
    return ac_policy_crypto_ct_equal(h.base, h.len, who->csrf, strlen(who->csrf)) == 1;
}
