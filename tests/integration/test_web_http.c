/* tests/integration/test_web_http.c - the admin UI's HTTP contract, over real HTTP with libcurl, against a node that
 * web_http.sh started (AC_WEB_URL, AC_ADMIN_PASSWORD): public and protected routes, login (CSRF, wrong and right
 * password, new session id), security headers, CSRF on state-changing API calls, logout invalidation, the login rate
 * limiter (block, Retry-After, expiry, window decay, limits changed at runtime, X-Forwarded-For only when trusted),
 * the API token (bearer, no CSRF, rotation, masking), /metrics in JSON and Prometheus text, the GitHub webhook's
 * signature rules and body cap, and a workflow run started from the API. Tests run in order and share the node. */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static const char *base, *password;

typedef struct {
    long status;
    char *body;
    size_t len;
    char *headers;
    size_t hlen;
} resp_t;

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    char **buf = arg;
    size_t *len = (size_t *)(buf + 1);
    *buf = realloc(*buf, *len + size * n + 1);
    memcpy(*buf + *len, p, size * n);
    *len += size * n;
    (*buf)[*len] = '\0';
    return size * n;
}

static void resp_free(resp_t *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof(*r));
}

/* One request. hdrs: NULL-terminated extra header lines; cookie: "a=b; c=d" or NULL. */
static resp_t http(const char *method, const char *path, const char *body, size_t blen, const char *const *hdrs,
                   const char *cookie)
{
    resp_t r = {0};
    struct {
        char *b;
        size_t l;
    } b = {NULL, 0}, h = {NULL, 0};
    CURL *c = curl_easy_init();
    char url[4096];
    if ((size_t)snprintf(url, sizeof(url), "%s%s", base, path) >= sizeof(url))
        fail_msg("URL too long for the test client: %s", path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)blen);
    }
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i++)
        l = curl_slist_append(l, hdrs[i]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, l);
    if (cookie != NULL)
        curl_easy_setopt(c, CURLOPT_COOKIE, cookie);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(l);
    curl_easy_cleanup(c);
    r.body = b.b != NULL ? b.b : strdup("");
    r.len = b.l;
    r.headers = h.b != NULL ? h.b : strdup("");
    r.hlen = h.l;
    return r;
}

/* The value of response header `name` (case-insensitive) into out; false when absent. */
static bool header(const resp_t *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1, *e = strpbrk(v, "\r\n");
            while (*v == ' ')
                v++;
            size_t len = e != NULL ? (size_t)(e - v) : strlen(v);
            snprintf(out, cap, "%.*s", (int)len, v);
            return true;
        }
    }
    return false;
}

/* The value a Set-Cookie header gives cookie `name` (and its attributes into attrs); false when none. */
static bool set_cookie(const resp_t *r, const char *name, char *value, size_t cap, char *attrs, size_t acap)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncasecmp(p, "set-cookie: ", 12) == 0 && strncmp(p + 12, name, n) == 0 && p[12 + n] == '=') {
            const char *v = p + 13 + n, *semi = strchr(v, ';'), *e = strpbrk(v, "\r\n");
            snprintf(value, cap, "%.*s", (int)(semi != NULL && semi < e ? semi - v : e - v), v);
            if (attrs != NULL)
                snprintf(attrs, acap, "%.*s", (int)(e - v), v);
            return true;
        }
    }
    return false;
}

static json_t *json_of(const resp_t *r)
{
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    if (j == NULL)
        fail_msg("not JSON (status %ld): %.200s", r->status, r->body);
    return j;
}

/* A login form: the pre-session cookie and the form's token. */
static void login_form(char *pre, size_t pcap, char *token, size_t tcap)
{
    resp_t r = http("GET", "/login", NULL, 0, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_true(set_cookie(&r, "ac_pre", pre, pcap, NULL, 0));
    const char *t = strstr(r.body, "name=\"_csrf_token\" value=\"");
    assert_non_null(t);
    t += strlen("name=\"_csrf_token\" value=\"");
    snprintf(token, tcap, "%.*s", (int)(strchr(t, '"') - t), t);
    resp_free(&r);
}

/* POST /login with `pw` from client address xff (NULL: none). Returns the response. */
static resp_t post_login(const char *pw, const char *xff)
{
    char pre[128], token[128], cookie[160], body[512], xh[128];
    login_form(pre, sizeof(pre), token, sizeof(token));
    snprintf(cookie, sizeof(cookie), "ac_pre=%s", pre);
    char *e = curl_easy_escape(NULL, pw, 0);
    snprintf(body, sizeof(body), "_csrf_token=%s&password=%s", token, e);
    curl_free(e);
    snprintf(xh, sizeof(xh), "X-Forwarded-For: %s", xff != NULL ? xff : "");
    const char *h[] = {"Content-Type: application/x-www-form-urlencoded", xff != NULL ? xh : NULL, NULL};
    return http("POST", "/login", body, strlen(body), h, cookie);
}

/* A session: the cookie header value and its CSRF token. */
static char session_cookie[160], session_csrf[64];

static void login(void)
{
    resp_t r = post_login(password, NULL);
    assert_int_equal(r.status, 302);
    char id[128];
    assert_true(set_cookie(&r, "ac_session", id, sizeof(id), NULL, 0));
    snprintf(session_cookie, sizeof(session_cookie), "ac_session=%s", id);
    resp_free(&r);
    r = http("GET", "/api/session", NULL, 0, NULL, session_cookie);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    snprintf(session_csrf, sizeof(session_csrf), "%s", json_string_value(json_object_get(j, "csrf_token")));
    json_decref(j);
    resp_free(&r);
}

/* An API call with the session (and its CSRF token unless csrf is false). */
static resp_t api(const char *method, const char *path, const char *body, bool csrf)
{
    char h[128];
    snprintf(h, sizeof(h), "X-CSRF-Token: %s", session_csrf);
    const char *hdrs[] = {"Content-Type: application/json", csrf ? h : NULL, NULL};
    return http(method, path, body, body != NULL ? strlen(body) : 0, hdrs, session_cookie);
}

static void set_setting(const char *key, const char *json_value)
{
    char path[256], body[512];
    snprintf(path, sizeof(path), "/api/settings/%s", key);
    snprintf(body, sizeof(body), "{\"value\": %s}", json_value);
    resp_t r = api("PUT", path, body, true);
    if (r.status != 200)
        fail_msg("setting %s: %ld %s", key, r.status, r.body);
    resp_free(&r);
}

/* --- tests --- */

static void health_is_public_and_says_the_database_is_up(void **state)
{
    (void)state;
    resp_t r = http("GET", "/health", NULL, 0, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(j, "db")), "connected");
    assert_non_null(json_string_value(json_object_get(j, "version")));
    json_decref(j);
    char v[512];
    assert_true(header(&r, "content-security-policy", v, sizeof(v)));
    assert_non_null(strstr(v, "frame-ancestors 'none'"));
    assert_null(strstr(v, "unsafe-inline"));
    assert_true(header(&r, "x-content-type-options", v, sizeof(v)));
    assert_string_equal(v, "nosniff");
    assert_true(header(&r, "referrer-policy", v, sizeof(v)));
    resp_free(&r);
}

static void everything_else_needs_a_session(void **state)
{
    (void)state;
    const char *pages[] = {"/", "/workflows", "/runs", "/config", "/logs"};
    char loc[256];
    for (size_t i = 0; i < 5; i++) {
        resp_t r = http("GET", pages[i], NULL, 0, NULL, NULL);
        assert_int_equal(r.status, 302);
        assert_true(header(&r, "location", loc, sizeof(loc)));
        assert_string_equal(loc, "/login");
        resp_free(&r);
    }
    const char *apis[] = {"/api/session", "/api/workflows", "/api/settings", "/metrics"};
    for (size_t i = 0; i < 4; i++) {
        resp_t r = http("GET", apis[i], NULL, 0, NULL, NULL);
        assert_int_equal(r.status, 401);
        json_t *j = json_of(&r);
        assert_non_null(json_string_value(json_object_get(j, "error")));
        json_decref(j);
        resp_free(&r);
    }
    /* a made-up session cookie is no session */
    resp_t r = http("GET", "/api/session", NULL, 0, NULL, "ac_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(r.status, 401);
    resp_free(&r);
    /* the login page's assets are public */
    r = http("GET", "/assets/style.css", NULL, 0, NULL, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static void the_login_form_is_bound_to_a_pre_session_cookie(void **state)
{
    (void)state;
    resp_t r = http("GET", "/login", NULL, 0, NULL, NULL);
    char pre[128], attrs[256];
    assert_true(set_cookie(&r, "ac_pre", pre, sizeof(pre), attrs, sizeof(attrs)));
    assert_non_null(strstr(attrs, "HttpOnly"));
    assert_non_null(strstr(attrs, "SameSite=Strict"));
    assert_non_null(strstr(r.body, "name=\"password\""));
    assert_non_null(strstr(r.body, "name=\"_csrf_token\""));
    assert_null(strstr(r.body, "<script")); /* no inline script */
    resp_free(&r);
    /* a token from another pre-session, or none, is refused before the password is looked at */
    char pre2[128], token2[128], cookie[160], body[256];
    login_form(pre2, sizeof(pre2), token2, sizeof(token2));
    snprintf(cookie, sizeof(cookie), "ac_pre=%s", pre);
    snprintf(body, sizeof(body), "_csrf_token=%s&password=%s", token2, password);
    const char *h[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    r = http("POST", "/login", body, strlen(body), h, cookie);
    assert_int_equal(r.status, 403);
    assert_null(strstr(r.headers, "ac_session="));
    resp_free(&r);
    snprintf(body, sizeof(body), "password=%s", password);
    r = http("POST", "/login", body, strlen(body), h, cookie);
    assert_int_equal(r.status, 403);
    resp_free(&r);
}

static void a_wrong_password_is_401_and_the_right_one_starts_a_new_session(void **state)
{
    (void)state;
    resp_t r = post_login("not the password", "198.51.100.1");
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "Invalid password"));
    assert_null(strstr(r.headers, "ac_session="));
    resp_free(&r);
    r = post_login(password, NULL);
    assert_int_equal(r.status, 302);
    char loc[64], id1[128], id2[128], attrs[256];
    assert_true(header(&r, "location", loc, sizeof(loc)));
    assert_string_equal(loc, "/");
    assert_true(set_cookie(&r, "ac_session", id1, sizeof(id1), attrs, sizeof(attrs)));
    assert_non_null(strstr(attrs, "HttpOnly"));
    assert_non_null(strstr(attrs, "SameSite=Strict"));
    assert_non_null(strstr(attrs, "Max-Age=28800"));
    assert_null(strstr(attrs, "Secure")); /* plain HTTP and web.cookie_secure off */
    resp_free(&r);
    r = post_login(password, NULL);
    assert_true(set_cookie(&r, "ac_session", id2, sizeof(id2), NULL, 0));
    assert_string_not_equal(id1, id2);
    resp_free(&r);
    login();
    r = http("GET", "/", NULL, 0, NULL, session_cookie);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "/assets/app.js"));
    resp_free(&r);
    r = http("GET", "/login", NULL, 0, NULL, session_cookie); /* signed in already */
    assert_int_equal(r.status, 302);
    resp_free(&r);
}

static void state_changing_api_calls_need_the_csrf_token(void **state)
{
    (void)state;
    resp_t r = api("POST", "/api/workflows/nope/enable", NULL, false);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    char h[128];
    snprintf(h, sizeof(h), "X-CSRF-Token: %s", "0123456789012345678901234567890123456789012");
    const char *hdrs[] = {h, NULL};
    r = http("POST", "/api/workflows/nope/enable", NULL, 0, hdrs, session_cookie);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = api("POST", "/api/workflows/nope/enable", NULL, true);
    assert_int_equal(r.status, 404); /* past CSRF: the workflow does not exist */
    resp_free(&r);
}

static void logout_destroys_the_session_on_the_server(void **state)
{
    (void)state;
    char copied[160];
    snprintf(copied, sizeof(copied), "%s", session_cookie);
    resp_t r = http("POST", "/logout", NULL, 0, NULL, session_cookie); /* no CSRF token */
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = api("POST", "/logout", NULL, true);
    assert_int_equal(r.status, 302);
    char loc[64];
    assert_true(header(&r, "location", loc, sizeof(loc)));
    assert_string_equal(loc, "/login");
    resp_free(&r);
    r = http("GET", "/api/session", NULL, 0, NULL, copied); /* a copy of the cookie no longer works */
    assert_int_equal(r.status, 401);
    resp_free(&r);
    login();
}

static void five_failures_block_an_address_whatever_the_password(void **state)
{
    (void)state;
    set_setting("auth.trust_proxy_headers", "true");
    for (int i = 0; i < 5; i++) {
        resp_t r = post_login("wrong", "203.0.113.7");
        assert_int_equal(r.status, 401);
        resp_free(&r);
    }
    resp_t r = post_login(password, "203.0.113.7");
    assert_int_equal(r.status, 429);
    assert_non_null(strstr(r.body, "Try again in 15 minute(s)"));
    char retry[32];
    assert_true(header(&r, "retry-after", retry, sizeof(retry)));
    assert_true(atoi(retry) > 890 && atoi(retry) <= 900);
    resp_free(&r);
    r = post_login(password, "203.0.113.8"); /* another address is not affected */
    assert_int_equal(r.status, 302);
    resp_free(&r);
}

static void a_forged_forwarded_address_does_not_escape_the_limiter(void **state)
{
    (void)state;
    /* the client may put anything first; the last element is what our proxy saw */
    char xff[80];
    for (int i = 0; i < 5; i++) {
        snprintf(xff, sizeof(xff), "10.0.0.%d, 203.0.113.60", i);
        resp_t r = post_login("wrong", xff);
        assert_int_equal(r.status, 401);
        resp_free(&r);
    }
    resp_t r = post_login(password, "10.9.9.9, 203.0.113.60");
    assert_int_equal(r.status, 429);
    resp_free(&r);
}

static void a_block_ends_and_limits_change_at_runtime(void **state)
{
    (void)state;
    set_setting("auth.rate_limit.block_duration_seconds", "2");
    set_setting("auth.rate_limit.max_attempts", "2");
    for (int i = 0; i < 2; i++) {
        resp_t r = post_login("wrong", "203.0.113.20");
        assert_int_equal(r.status, 401);
        resp_free(&r);
    }
    resp_t r = post_login(password, "203.0.113.20");
    assert_int_equal(r.status, 429);
    resp_free(&r);
    sleep(3);
    r = post_login(password, "203.0.113.20");
    assert_int_equal(r.status, 302);
    resp_free(&r);
    /* failures older than the window are forgotten */
    set_setting("auth.rate_limit.window_seconds", "1");
    r = post_login("wrong", "203.0.113.21");
    assert_int_equal(r.status, 401);
    resp_free(&r);
    sleep(2);
    r = post_login("wrong", "203.0.113.21");
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = post_login(password, "203.0.113.21");
    assert_int_equal(r.status, 302); /* one recent failure, not two */
    resp_free(&r);
}

static void x_forwarded_for_counts_only_when_trusted(void **state)
{
    (void)state;
    set_setting("auth.trust_proxy_headers", "false");
    /* two failures from "different" forwarded addresses are the same peer, 127.0.0.1, and block it */
    resp_t r = post_login("wrong", "192.0.2.1");
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = post_login("wrong", "192.0.2.2");
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = post_login(password, "192.0.2.3");
    assert_int_equal(r.status, 429);
    resp_free(&r);
    sleep(3); /* the 2 s block set above ends */
    /* a nonsense limit never switches the limiter off: a window of 0 counts as the default */
    set_setting("auth.trust_proxy_headers", "true");
    set_setting("auth.rate_limit.window_seconds", "0");
    for (int i = 0; i < 2; i++) {
        r = post_login("wrong", "203.0.113.70");
        assert_int_equal(r.status, 401);
        resp_free(&r);
    }
    r = post_login(password, "203.0.113.70");
    assert_int_equal(r.status, 429);
    resp_free(&r);
    set_setting("auth.trust_proxy_headers", "false");
    set_setting("auth.rate_limit.max_attempts", "5");
    set_setting("auth.rate_limit.block_duration_seconds", "900");
    set_setting("auth.rate_limit.window_seconds", "300");
}

static void a_workflow_is_edited_whole(void **state)
{
    (void)state;
    const char *wf = "{\"version\":1,\"workflow\":{\"name\":\"edit_me\"},\"steps\":[{\"position\":1,\"name\":\"a\","
                     "\"skill\":\"telegram_notify\"}]}";
    resp_t r = api("POST", "/api/workflows", wf, true);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    const char *edited =
        "{\"version\":1,\"workflow\":{\"name\":\"edited\",\"description\":\"new\",\"metadata\":"
        "{\"requires_2fa\":true}},\"steps\":[{\"position\":1,\"name\":\"a\",\"skill\":\"telegram_notify\","
        "\"routes\":[{\"branch\":\"on_error\",\"goto\":2}]},{\"position\":2,\"name\":\"b\",\"skill\":"
        "\"web_fetch\",\"config\":{\"url\":\"http://127.0.0.1:1/\",\"on_circuit_open\":\"skip\"}}]}";
    r = api("PUT", "/api/workflows/edit_me", edited, true);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = api("GET", "/api/workflows/edited", NULL, false);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    assert_int_equal(json_array_size(json_object_get(j, "steps")), 2);
    assert_true(
        json_is_true(json_object_get(json_object_get(json_object_get(j, "workflow"), "metadata"), "requires_2fa")));
    json_decref(j);
    resp_free(&r);
    r = api("PUT", "/api/workflows/edit_me", edited, true); /* renamed: the old name is gone */
    assert_int_equal(r.status, 404);
    resp_free(&r);
    r = api("PUT", "/api/workflows/edited", "{\"version\":1,\"workflow\":{\"name\":\"two_steps\"},\"steps\":[]}", true);
    assert_int_equal(r.status, 409); /* two_steps exists */
    resp_free(&r);
    r = api("PUT", "/api/workflows/edited", "{\"version\":1,\"workflow\":{\"name\":\"edited\"},\"steps\":[{}]}", true);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, "error"));
    resp_free(&r);
    r = api("GET", "/api/skills", NULL, false);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"receive_from_workflow\""));
    resp_free(&r);
    /* a long name of non-ASCII characters, percent-encoded in the path */
    char name[256] = "", doc[512], path[1024] = "/api/workflows/";
    for (int i = 0; i < 100; i++)
        strcat(name, "\xc3\xa9");
    snprintf(doc, sizeof(doc), "{\"version\":1,\"workflow\":{\"name\":\"%s\"},\"steps\":[]}", name);
    r = api("POST", "/api/workflows", doc, true);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    for (int i = 0; i < 100; i++)
        strcat(path, "%C3%A9");
    strcat(path, "/enable");
    r = api("POST", path, NULL, true);
    if (r.status != 200)
        fail_msg("%s: %ld %s", path, r.status, r.body);
    resp_free(&r);
}

static char token[128];

static void the_api_token_works_as_a_bearer_without_csrf(void **state)
{
    (void)state;
    const char *none[] = {"Authorization: Bearer anything", NULL};
    resp_t r = http("GET", "/api/workflows", NULL, 0, none, NULL); /* no token configured yet */
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = api("POST", "/api/token", NULL, true);
    assert_int_equal(r.status, 201);
    json_t *j = json_of(&r);
    snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    resp_free(&r);
    char h[200];
    snprintf(h, sizeof(h), "Authorization: Bearer %s", token);
    const char *bearer[] = {h, NULL};
    r = http("GET", "/api/workflows", NULL, 0, bearer, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = http("POST", "/api/workflows/nope/enable", NULL, 0, bearer, NULL); /* no CSRF for a bearer */
    assert_int_equal(r.status, 404);
    resp_free(&r);
    const char *wrong[] = {"Authorization: Bearer 0000000000000000000000000000000000000000000", NULL};
    r = http("GET", "/api/workflows", NULL, 0, wrong, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    /* the secret is never sent back in clear */
    r = api("GET", "/api/settings", NULL, false);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, token));
    assert_non_null(strstr(r.body, "\"api.token\""));
    resp_free(&r);
}

static void the_status_says_why_telegram_ignores_messages(void **state)
{
    (void)state;
    resp_t r = api("GET", "/api/status", NULL, false);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    json_t *tg = json_object_get(j, "telegram");
    assert_true(json_is_object(tg));
    /* this node has no bot token: Telegram is off, and the Dashboard says why */
    assert_string_equal(json_string_value(json_object_get(tg, "state")), "off");
    assert_false(json_is_true(json_object_get(tg, "token_configured")));
    assert_non_null(strstr(json_string_value(json_object_get(tg, "note")), "telegram.bot_token"));
    assert_int_equal(json_integer_value(json_object_get(tg, "handled")), 0);
    json_decref(j);
    resp_free(&r);
}

/* TOTP (RFC 6238) computed here with OpenSSL, independently of the node's liboath. */
static void totp_at(const char *b32, long long step, char out[7])
{
    uint8_t key[64];
    size_t kn = 0;
    unsigned acc = 0;
    int bits = 0;
    for (const char *p = b32; *p; p++) {
        const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", *q = strchr(abc, *p);
        assert_non_null(q);
        acc = (acc << 5) | (unsigned)(q - abc);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            key[kn++] = (uint8_t)(acc >> bits);
        }
    }
    uint8_t msg[8], mac[20];
    for (int i = 7; i >= 0; i--, step >>= 8)
        msg[i] = (uint8_t)(step & 0xff);
    unsigned ml = 0;
    HMAC(EVP_sha1(), key, (int)kn, msg, 8, mac, &ml);
    int o = mac[19] & 15;
    unsigned v =
        ((unsigned)(mac[o] & 0x7f) << 24) | ((unsigned)mac[o + 1] << 16) | ((unsigned)mac[o + 2] << 8) | mac[o + 3];
    snprintf(out, 7, "%06u", v % 1000000u);
}

static char totp_secret[40];
static long long last_step = -1;

/* The next code to use: the earliest step after the last one used that the server takes now (the current step or
 * the next; never the one before, which may leave the window on its way), waiting for the clock when none is left. */
static void next_code(char out[7])
{
    for (;;) {
        long long now = (long long)time(NULL) / 30, s = last_step + 1 > now ? last_step + 1 : now;
        if (s <= now + 1) {
            last_step = s;
            totp_at(totp_secret, s, out);
            return;
        }
        usleep(200000);
    }
}

/* A 403 2fa_required answer: its challenge id. */
static void challenge_of(resp_t *r, char *id, size_t cap)
{
    assert_int_equal(r->status, 403);
    json_t *j = json_of(r);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "2fa_required");
    assert_non_null(json_string_value(json_object_get(j, "description")));
    snprintf(id, cap, "%s", json_string_value(json_object_get(j, "challenge")));
    json_decref(j);
    resp_free(r);
    assert_true(strlen(id) >= 20);
}

static resp_t verify(const char *id, const char *code)
{
    char body[160];
    snprintf(body, sizeof(body), "{\"challenge\":\"%s\",\"code\":\"%s\"}", id, code);
    return api("POST", "/api/2fa/verify", body, true);
}

static const char *setting_value(const char *key)
{
    static char v[256];
    resp_t r = api("GET", "/api/settings", NULL, false);
    json_t *j = json_of(&r);
    resp_free(&r);
    v[0] = '\0';
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(j, "settings"), i, row)
    {
        if (strcmp(json_string_value(json_object_get(row, "key")), key) == 0)
            snprintf(v, sizeof(v), "%s", json_string_value(json_object_get(row, "value")));
    }
    json_decref(j);
    return v;
}

static void two_factor_guards_every_api_path(void **state)
{
    (void)state;
    resp_t r = api("GET", "/api/2fa", NULL, false);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"enabled\":false"));
    resp_free(&r);
    r = api("PUT", "/api/settings/auth.totp.enabled", "{\"value\": true}", true);
    assert_int_equal(r.status, 400); /* only /api/2fa turns it on */
    resp_free(&r);
    r = api("POST", "/api/2fa/disable", NULL, true);
    assert_int_equal(r.status, 409);
    resp_free(&r);
    r = api("POST", "/api/workflows/guarded/run", NULL, true); /* 2FA off: refused, set up first */
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "set up 2FA first"));
    resp_free(&r);
    set_setting("shell.timeout_seconds", "30"); /* 2FA off: guarded settings change freely */

    /* setup: the secret, its URI and the QR code as a PNG */
    r = api("POST", "/api/2fa/setup", NULL, true);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    resp_free(&r);
    snprintf(totp_secret, sizeof(totp_secret), "%s", json_string_value(json_object_get(j, "secret")));
    assert_int_equal(strlen(totp_secret), 32);
    assert_true(strncmp(json_string_value(json_object_get(j, "uri")), "otpauth://totp/", 15) == 0);
    assert_true(strncmp(json_string_value(json_object_get(j, "qr_png")), "iVBORw0KGgo", 11) == 0); /* \x89PNG */
    json_decref(j);
    char code[7];
    r = api("POST", "/api/2fa/confirm", "{\"code\":\"000000\"}", true);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    next_code(code);
    char body[128];
    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
    r = api("POST", "/api/2fa/confirm", body, true);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* a guarded setting: challenge, wrong code, valid code, the challenge is gone */
    char id[64];
    r = api("PUT", "/api/settings/shell.timeout_seconds", "{\"value\": 40}", true);
    challenge_of(&r, id, sizeof(id));
    assert_string_equal(setting_value("shell.timeout_seconds"), "30");
    r = verify(id, "000000");
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "\"attempts_left\":4"));
    resp_free(&r);
    char c1[7];
    next_code(c1);
    r = verify(id, c1);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"approved\":true"));
    resp_free(&r);
    assert_string_equal(setting_value("shell.timeout_seconds"), "40");
    r = verify(id, c1);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    /* a replayed code approves nothing */
    r = api("PUT", "/api/settings/shell.timeout_seconds", "{\"value\": 41}", true);
    challenge_of(&r, id, sizeof(id));
    r = verify(id, c1);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    assert_string_equal(setting_value("shell.timeout_seconds"), "40");
    set_setting("telegram.poll_interval", "900"); /* not guarded */

    /* Run now of a workflow that requires 2FA: exactly that run, once */
    r = api("POST", "/api/workflows/guarded/run", NULL, true);
    challenge_of(&r, id, sizeof(id));
    next_code(code); /* may wait for the clock */
    r = verify(id, code);
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    resp_free(&r);
    json_t *res = json_object_get(j, "result");
    assert_true(json_integer_value(json_object_get(res, "run_id")) > 0 || json_is_true(json_object_get(res, "queued")));
    json_decref(j);

    /* edits of that workflow, its flag, the API token, re-keying and disabling all wait for a code */
    r = api("POST", "/api/workflows/guarded/disable", NULL, true);
    challenge_of(&r, id, sizeof(id));
    r = api("GET", "/api/workflows/guarded", NULL, false);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = api("POST", "/api/token", NULL, true);
    challenge_of(&r, id, sizeof(id));
    /* the person says no: the challenge is gone, no code approves it any more */
    snprintf(body, sizeof(body), "{\"challenge\":\"%s\"}", id);
    r = api("POST", "/api/2fa/cancel", body, true);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = verify(id, "000000");
    assert_int_equal(r.status, 404);
    resp_free(&r);
    /* not one character of the TOTP secret leaves through the settings API */
    r = api("GET", "/api/settings", NULL, false);
    char head[5];
    snprintf(head, sizeof(head), "%.4s", totp_secret);
    assert_null(strstr(r.body, head));
    assert_null(strstr(r.body, totp_secret + 28));
    resp_free(&r);
    r = api("POST", "/api/2fa/setup", NULL, true);
    challenge_of(&r, id, sizeof(id));
    r = api("POST", "/api/2fa/disable", NULL, true);
    challenge_of(&r, id, sizeof(id));
    next_code(code);
    r = verify(id, code);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = api("GET", "/api/2fa", NULL, false);
    assert_non_null(strstr(r.body, "\"enabled\":false"));
    resp_free(&r);
}

static void metrics_in_json_and_in_prometheus_text(void **state)
{
    (void)state;
    char h[200];
    snprintf(h, sizeof(h), "Authorization: Bearer %s", token);
    const char *json_h[] = {h, NULL};
    resp_t r = http("GET", "/metrics", NULL, 0, json_h, NULL);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    assert_true(json_is_integer(json_object_get(json_object_get(j, "system"), "uptime_seconds")));
    assert_true(json_is_object(json_object_get(j, "workflows")));
    json_decref(j);
    resp_free(&r);
    const char *text_h[] = {h, "Accept: text/plain", NULL};
    r = http("GET", "/metrics", NULL, 0, text_h, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "# TYPE alexclaw_uptime_seconds gauge"));
    assert_non_null(strstr(r.body, "alexclaw_memory_bytes "));
    resp_free(&r);
}

static resp_t webhook(const char *body, const char *sig, const char *event)
{
    char sh[256], eh[64];
    snprintf(sh, sizeof(sh), "X-Hub-Signature-256: %s", sig != NULL ? sig : "");
    snprintf(eh, sizeof(eh), "X-GitHub-Event: %s", event);
    const char *h[] = {"Content-Type: application/json", eh, sig != NULL ? sh : NULL, NULL};
    return http("POST", "/webhooks/github", body, strlen(body), h, NULL);
}

static void sign(const char *secret, const char *body, char *out, bool upper)
{
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, strlen(body), mac, &n);
    strcpy(out, "sha256=");
    for (int i = 0; i < 32; i++)
        sprintf(out + 7 + 2 * i, upper ? "%02X" : "%02x", mac[i]);
}

static void the_github_webhook_checks_its_signature(void **state)
{
    (void)state;
    const char *body = "{\"zen\":\"hi\"}";
    char sig[80];
    resp_t r = webhook(body, "sha256=00", "ping");
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "webhook secret not configured"));
    resp_free(&r);
    set_setting("github.webhook_secret", "\"whsec-test-0123456789\"");
    r = webhook(body, NULL, "ping");
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "invalid signature"));
    resp_free(&r);
    sign("whsec-test-0123456789", body, sig, true); /* upper-case hex is not GitHub's form */
    r = webhook(body, sig, "ping");
    assert_int_equal(r.status, 401);
    resp_free(&r);
    sign("whsec-test-0123456789", body, sig, false);
    sig[5] = '1'; /* sha156= : wrong prefix */
    r = webhook(body, sig, "ping");
    assert_int_equal(r.status, 401);
    resp_free(&r);
    sign("another-secret", body, sig, false);
    r = webhook(body, sig, "ping");
    assert_int_equal(r.status, 401);
    resp_free(&r);
    sign("whsec-test-0123456789", body, sig, false);
    r = webhook(body, sig, "ping");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"accepted\""));
    resp_free(&r);
    sign("whsec-test-0123456789", "", sig, false); /* an empty body, correctly signed */
    r = webhook("", sig, "ping");
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* over 1 MiB: 413 before anything else */
    size_t n = 1024 * 1024 + 1;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    r = webhook(big, "sha256=00", "push");
    assert_int_equal(r.status, 413);
    resp_free(&r);
    free(big);
}

static void an_accepted_event_runs_the_configured_workflow(void **state)
{
    (void)state;
    const char *wf = "{\"version\":1,\"workflow\":{\"name\":\"on_pr\"},\"steps\":[{\"position\":1,\"name\":\"s\","
                     "\"skill\":\"telegram_notify\",\"config\":{\"message\":\"x\"}}]}";
    resp_t r = api("POST", "/api/workflows", wf, true);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    r = api("POST", "/api/workflows/on_pr/enable", NULL, true);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    set_setting("github.webhook_workflow", "\"on_pr\"");
    const char *body = "{\"action\":\"opened\",\"number\":7,\"pull_request\":{\"number\":7},"
                       "\"repository\":{\"full_name\":\"o/r\"}}";
    char sig[80];
    sign("whsec-test-0123456789", body, sig, false);
    r = webhook(body, sig, "pull_request");
    assert_int_equal(r.status, 200);
    resp_free(&r);
    bool seen = false;
    for (int i = 0; i < 50 && !seen; i++) {
        r = api("GET", "/api/runs?workflow=on_pr", NULL, false);
        json_t *j = json_of(&r);
        seen = json_array_size(json_object_get(j, "runs")) == 1;
        json_decref(j);
        resp_free(&r);
        if (!seen)
            usleep(100000);
    }
    assert_true(seen);
}

static void a_workflow_runs_from_the_api_and_its_path_shows(void **state)
{
    (void)state;
    /* step 1 fails (no Telegram chat configured) and routes on_error to step 2, a missing skill that is skipped */
    const char *wf =
        "{\"version\":1,\"workflow\":{\"name\":\"two_steps\"},\"steps\":["
        "{\"position\":1,\"name\":\"first\",\"skill\":\"telegram_notify\",\"config\":{\"message\":\"a\"},"
        "\"routes\":[{\"branch\":\"on_error\",\"goto\":2}]},"
        "{\"position\":2,\"name\":\"second\",\"skill\":\"no_such_skill\",\"config\":{\"on_missing_skill\":\"skip\"}}]}";
    resp_t r = api("POST", "/api/workflows", wf, true);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    r = api("POST", "/api/workflows/two_steps/run", NULL, true);
    assert_int_equal(r.status, 404); /* imported workflows start disabled */
    resp_free(&r);
    r = api("POST", "/api/workflows/two_steps/enable", NULL, true);
    resp_free(&r);
    r = api("POST", "/api/workflows/two_steps/run", NULL, true);
    assert_int_equal(r.status, 202);
    json_t *j = json_of(&r);
    long long id = json_integer_value(json_object_get(j, "run_id"));
    json_decref(j);
    resp_free(&r);
    assert_true(id > 0);
    char path[64];
    snprintf(path, sizeof(path), "/api/runs/%lld", id);
    const char *status = NULL;
    for (int i = 0; i < 50; i++) {
        r = api("GET", path, NULL, false);
        j = json_of(&r);
        resp_free(&r);
        status = json_string_value(json_object_get(j, "status"));
        if (status != NULL && strcmp(status, "running") != 0) {
            assert_string_equal(status, "completed");
            assert_int_equal(json_array_size(json_object_get(j, "path")), 2);
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(json_object_get(j, "step_results"), "2"), "branch")),
                "skipped");
            json_decref(j);
            break;
        }
        json_decref(j);
        status = NULL;
        usleep(100000);
    }
    assert_non_null(status);
    /* a requires_2fa workflow is refused from here until 2FA exists */
    const char *secret = "{\"version\":1,\"workflow\":{\"name\":\"guarded\",\"metadata\":{\"requires_2fa\":true}},"
                         "\"steps\":[{\"position\":1,\"name\":\"s\",\"skill\":\"telegram_notify\"}]}";
    r = api("POST", "/api/workflows", secret, true);
    resp_free(&r);
    r = api("POST", "/api/workflows/guarded/enable", NULL, true);
    resp_free(&r);
    r = api("POST", "/api/workflows/guarded/run", NULL, true);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "requires_2fa"));
    resp_free(&r);
}

static void cluster_nodes_are_approved_revoked_and_removed(void **state)
{
    (void)state;
    resp_t r = api("POST", "/api/cluster/friend@localhost/approve", NULL, true);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = api("GET", "/api/cluster", NULL, false);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    resp_free(&r);
    assert_false(json_is_true(json_object_get(j, "distribution"))); /* no NODE_NAME on this node */
    json_t *n = json_array_get(json_object_get(j, "nodes"), 0);
    assert_string_equal(json_string_value(json_object_get(n, "name")), "friend@localhost");
    assert_true(json_is_true(json_object_get(n, "approved")));
    json_decref(j);
    r = api("POST", "/api/cluster/friend@localhost/revoke", NULL, true);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = api("GET", "/api/cluster", NULL, false);
    assert_non_null(strstr(r.body, "\"approved\":false"));
    resp_free(&r);
    r = api("POST", "/api/cluster/friend@localhost/remove", NULL, true);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = api("POST", "/api/cluster/friend@localhost/remove", NULL, true);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    r = api("POST", "/api/cluster/not%20a%20node/approve", NULL, true);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    r = api("POST", "/api/cluster/friend@localhost/approve", NULL, false); /* no CSRF token */
    assert_int_equal(r.status, 403);
    resp_free(&r);
}

static void only_allowed_host_names_are_answered(void **state)
{
    (void)state;
    /* DNS rebinding: a hostile page's name resolved to this node; the browser sends that name as Host */
    const char *evil[] = {"Host: rebind.example", NULL};
    resp_t r = http("GET", "/health", NULL, 0, evil, NULL);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "web.allowed_hosts"));
    resp_free(&r);
    r = http("GET", "/api/session", NULL, 0, evil, session_cookie);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    const char *local[] = {"Host: localhost:5001", NULL}, *v6[] = {"Host: [::1]:5001", NULL};
    r = http("GET", "/health", NULL, 0, local, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = http("GET", "/health", NULL, 0, v6, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    set_setting("web.allowed_hosts", "\"admin.example.org, REBIND.example\"");
    r = http("GET", "/health", NULL, 0, evil, NULL); /* names compare without case */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    set_setting("web.allowed_hosts", "\"\"");
}

static void bodies_over_the_limit_are_refused(void **state)
{
    (void)state;
    size_t n = 1536 * 1024;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[n] = '\0';
    resp_t r = api("POST", "/api/workflows", big, true);
    assert_int_equal(r.status, 413);
    resp_free(&r);
    free(big);
    r = api("POST", "/api/workflows", "{not json", true);
    assert_int_equal(r.status, 400);
    resp_free(&r);
}

int main(void)
{
    base = getenv("AC_WEB_URL");
    password = getenv("AC_ADMIN_PASSWORD");
    if (base == NULL || password == NULL) {
        fprintf(stderr, "AC_WEB_URL and AC_ADMIN_PASSWORD must be set (tests/integration/web_http.sh)\n");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(health_is_public_and_says_the_database_is_up),
        cmocka_unit_test(everything_else_needs_a_session),
        cmocka_unit_test(the_login_form_is_bound_to_a_pre_session_cookie),
        cmocka_unit_test(a_wrong_password_is_401_and_the_right_one_starts_a_new_session),
        cmocka_unit_test(state_changing_api_calls_need_the_csrf_token),
        cmocka_unit_test(logout_destroys_the_session_on_the_server),
        cmocka_unit_test(five_failures_block_an_address_whatever_the_password),
        cmocka_unit_test(a_forged_forwarded_address_does_not_escape_the_limiter),
        cmocka_unit_test(a_block_ends_and_limits_change_at_runtime),
        cmocka_unit_test(x_forwarded_for_counts_only_when_trusted),
        cmocka_unit_test(the_api_token_works_as_a_bearer_without_csrf),
        cmocka_unit_test(the_status_says_why_telegram_ignores_messages),
        cmocka_unit_test(metrics_in_json_and_in_prometheus_text),
        cmocka_unit_test(the_github_webhook_checks_its_signature),
        cmocka_unit_test(an_accepted_event_runs_the_configured_workflow),
        cmocka_unit_test(a_workflow_runs_from_the_api_and_its_path_shows),
        cmocka_unit_test(a_workflow_is_edited_whole),
        cmocka_unit_test(cluster_nodes_are_approved_revoked_and_removed),
        cmocka_unit_test(only_allowed_host_names_are_answered),
        cmocka_unit_test(bodies_over_the_limit_are_refused),
        cmocka_unit_test(two_factor_guards_every_api_path), /* last: it turns 2FA on for a while */
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
