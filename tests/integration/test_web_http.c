/* tests/integration/test_web_http.c - the admin UI's HTTP contract, over real HTTP with libcurl, against a node that
 * web_http.sh started (AC_WEB_URL, AC_ADMIN_PASSWORD): public and protected routes, login (CSRF, wrong and right
 * password, new session id), security headers, CSRF on state-changing API calls, logout invalidation, the login rate
 * limiter (block, Retry-After, expiry, window decay, limits changed at runtime, X-Forwarded-For only when trusted),
 * the API token (bearer, no CSRF, rotation, masking), /metrics in JSON and Prometheus text, the GitHub webhook's
 * signature rules and body cap, a workflow run started from the API, policy rules and the audit log, the 2FA
 * challenges of every guarded path, and the Skills page's API (the registry with its breakers, the files in
 * SKILLS_DIR, uploads and their rules, loads, reloads and unloads behind a code, refused while 2FA is off), and the
 * LLM page's API (providers listed with who receives data, keys masked and sealed, created, edited, tested against
 * tests/support/fake_llm.py at AC_FAKE_LLM_URL, usage today, deleted; changes behind a code while 2FA is on). Tests
 * run in order and share the node. */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static const char *base, *password, *fake_llm; /* fake_llm: tests/support/fake_llm.py's URL */

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

/* One request to root (a base URL). hdrs: NULL-terminated extra header lines; cookie: "a=b; c=d" or NULL. */
static resp_t http_at(const char *root, const char *method, const char *path, const char *body, size_t blen,
                      const char *const *hdrs, const char *cookie)
{
    resp_t r = {0};
    struct {
        char *b;
        size_t l;
    } b = {NULL, 0}, h = {NULL, 0};
    CURL *c = curl_easy_init();
    char url[4096];
    if ((size_t)snprintf(url, sizeof(url), "%s%s", root, path) >= sizeof(url))
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

/* One request to the node. */
static resp_t http(const char *method, const char *path, const char *body, size_t blen, const char *const *hdrs,
                   const char *cookie)
{
    return http_at(base, method, path, body, blen, hdrs, cookie);
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
    const char *pages[] = {"/", "/workflows", "/runs", "/skills", "/policies", "/config", "/logs"};
    char loc[256];
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        resp_t r = http("GET", pages[i], NULL, 0, NULL, NULL);
        assert_int_equal(r.status, 302);
        assert_true(header(&r, "location", loc, sizeof(loc)));
        assert_string_equal(loc, "/login");
        resp_free(&r);
    }
    const char *apis[] = {"/api/session",  "/api/workflows", "/api/settings",    "/metrics",
                          "/api/policies", "/api/audit",     "/api/skills/files"};
    for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++) {
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
    /* the test before left a 1 s window: on a loaded machine two requests can be further apart than that */
    set_setting("auth.rate_limit.window_seconds", "300");
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

    /* policy rules: a refused rule is refused at once (no challenge); every change of a valid one waits for a code,
     * and the approval runs exactly the rule that was described */
    r = api("POST", "/api/policies", "{\"name\":\"x\",\"rule_type\":\"rate_limit\",\"config\":{\"max_calls\":0}}",
            true);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, "\"field\":\"config\""));
    resp_free(&r);
    r = api("POST", "/api/policies",
            "{\"name\":\"guarded rule\",\"rule_type\":\"time_window\",\"config\":{\"deny_start_hour\":1,"
            "\"deny_end_hour\":2},\"priority\":3}",
            true);
    assert_non_null(strstr(r.body, "Add policy rule `guarded rule` (time_window, priority 3, enabled): "
                                   "`{\\\"deny_start_hour\\\":1,\\\"deny_end_hour\\\":2}`"));
    challenge_of(&r, id, sizeof(id));
    r = api("GET", "/api/policies", NULL, false);
    assert_null(strstr(r.body, "guarded rule")); /* not before the code */
    resp_free(&r);
    next_code(code);
    r = verify(id, code);
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    resp_free(&r);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "policy_add");
    long long rule_id = json_integer_value(json_object_get(json_object_get(j, "result"), "id"));
    json_decref(j);
    assert_true(rule_id > 0);
    r = api("GET", "/api/policies", NULL, false);
    assert_non_null(strstr(r.body, "\"name\":\"guarded rule\""));
    resp_free(&r);
    char rpath[64];
    snprintf(rpath, sizeof(rpath), "/api/policies/%lld/disable", (long long)rule_id);
    r = api("POST", rpath, NULL, true);
    assert_non_null(strstr(r.body, "Disable policy rule"));
    challenge_of(&r, id, sizeof(id));
    snprintf(rpath, sizeof(rpath), "/api/policies/%lld", (long long)rule_id);
    r = api("PUT", rpath, "{\"name\":\"renamed\",\"rule_type\":\"time_window\",\"config\":{}}", true);
    challenge_of(&r, id, sizeof(id));
    r = api("DELETE", rpath, NULL, true);
    assert_non_null(strstr(r.body, "Delete policy rule"));
    challenge_of(&r, id, sizeof(id));
    r = verify(id, "000000");
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = api("GET", "/api/policies", NULL, false);
    assert_non_null(strstr(r.body, "\"name\":\"guarded rule\"")); /* neither renamed, disabled nor deleted */
    assert_null(strstr(r.body, "\"enabled\":false"));
    resp_free(&r);

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
}

/* 2FA stays on from two_factor_guards_every_api_path until here (the dynamic skills' test needs it). */
static void two_factor_is_turned_off_with_a_code(void **state)
{
    (void)state;
    char id[64], code[7];
    resp_t r = api("POST", "/api/2fa/setup", NULL, true);
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

static char *psql(const char *sql);

/* POSTs body (n bytes) to path as the signed-in user, with or without "Expect: 100-continue"; the transfer's result
 * and the status (0 when none was read). */
static CURLcode post_body(const char *path, const char *body, size_t n, bool expect, long *status)
{
    char url[512], csrf[128], cookie[512];
    snprintf(url, sizeof(url), "%s%s", base, path);
    snprintf(csrf, sizeof(csrf), "X-CSRF-Token: %s", session_csrf);
    snprintf(cookie, sizeof(cookie), "%s", session_cookie);
    CURL *c = curl_easy_init();
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");
    l = curl_slist_append(l, csrf);
    l = curl_slist_append(l, expect ? "Expect: 100-continue" : "Expect:");
    struct {
        char *b;
        size_t l;
    } sink = {NULL, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)n);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, l);
    curl_easy_setopt(c, CURLOPT_COOKIE, cookie);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 15000L); /* wait for the server's word, however busy */
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(l);
    curl_easy_cleanup(c);
    free(sink.b);
    return rc;
}

/* The server refuses a body over the limit from its Content-Length, before reading it: a client that waits for its
 * word ("Expect: 100-continue") gets 413 and never sends the body. One that sends at once gets 413 too, or -- when the
 * server closed the connection on the rest of the body before the client read the answer (h2o 2.2 has no lingering
 * close) -- a failed send; never anything else, and nothing is created either way. */
static void bodies_over_the_limit_are_refused(void **state)
{
    (void)state;
    size_t n = 1536 * 1024;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[n] = '\0';
    char *before = psql("SELECT count(*) FROM workflows");
    long status;
    assert_int_equal(post_body("/api/workflows", big, n, true, &status), CURLE_OK);
    assert_int_equal(status, 413);
    CURLcode rc = post_body("/api/workflows", big, n, false, &status);
    if (rc == CURLE_OK)
        assert_int_equal(status, 413);
    else if (rc != CURLE_SEND_ERROR && rc != CURLE_RECV_ERROR)
        fail_msg("an over-long body without Expect: %s", curl_easy_strerror(rc));
    char *after = psql("SELECT count(*) FROM workflows");
    assert_string_equal(after, before);
    free(before);
    free(after);
    free(big);
    resp_t r = api("POST", "/api/workflows", "{not json", true);
    assert_int_equal(r.status, 400);
    resp_free(&r);
}

/* --- policies and the audit log --- */

/* psql on the node's database (DATABASE_URL, as web_http.sh exports it): runs sql, returns what it printed (free
 * it). */
static char *psql(const char *sql)
{
    char file[] = "/tmp/ac-web-http-sql.XXXXXX", cmd[256], buf[4096];
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, sql, strlen(sql)), (ssize_t)strlen(sql));
    close(fd);
    snprintf(cmd, sizeof(cmd), "psql -X -q -At -v ON_ERROR_STOP=1 -d \"$DATABASE_URL\" -f %s 2>&1", file);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = calloc(1, 1);
    size_t len = 0, n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
        out = realloc(out, len + n + 1);
        memcpy(out + len, buf, n);
        len += n;
        out[len] = '\0';
    }
    int rc = pclose(p);
    unlink(file);
    if (rc != 0)
        fail_msg("psql failed (%d): %s", rc, out);
    return out;
}

static long long psql_int(const char *sql)
{
    char *out = psql(sql);
    long long v = strtoll(out, NULL, 10);
    free(out);
    return v;
}

/* The list of rules (GET /api/policies), parsed. */
static json_t *rules_now(void)
{
    resp_t r = api("GET", "/api/policies", NULL, false);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    resp_free(&r);
    json_t *a = json_incref(json_object_get(j, "policies"));
    json_decref(j);
    assert_true(json_is_array(a));
    return a;
}

static json_t *rule_named(json_t *rules, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
            return r;
    }
    return NULL;
}

/* A refused rule: 422, the field named and the server's sentence (containing `says`). */
static void refused(const char *method, const char *path, const char *body, const char *field, const char *says)
{
    resp_t r = api(method, path, body, true);
    if (r.status != 422)
        fail_msg("%s %s %s: %ld %s", method, path, body, r.status, r.body);
    json_t *j = json_of(&r);
    const char *f = json_string_value(json_object_get(j, "field")), *e = json_string_value(json_object_get(j, "error"));
    if (field != NULL && (f == NULL || strcmp(f, field) != 0))
        fail_msg("%s: field %s, expected %s (%s)", body, f != NULL ? f : "(none)", field, r.body);
    if (e == NULL || strstr(e, says) == NULL)
        fail_msg("%s: error \"%s\", expected it to say \"%s\"", body, e != NULL ? e : "", says);
    json_decref(j);
    resp_free(&r);
}

static long long created(const char *body)
{
    resp_t r = api("POST", "/api/policies", body, true);
    if (r.status != 201)
        fail_msg("%s: %ld %s", body, r.status, r.body);
    json_t *j = json_of(&r);
    long long id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    resp_free(&r);
    assert_true(id > 0);
    return id;
}

static void policy_rules_are_checked_created_edited_and_removed(void **state)
{
    (void)state;
    /* without a session nothing; with one, a change needs the CSRF token (DELETE too) */
    const char *rule = "{\"name\":\"r\",\"rule_type\":\"rate_limit\",\"config\":{}}";
    resp_t r = http("GET", "/api/policies", NULL, 0, NULL, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = http("POST", "/api/policies", rule, strlen(rule), NULL, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = http("DELETE", "/api/policies/1", NULL, 0, NULL, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = api("POST", "/api/policies", rule, false);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = api("DELETE", "/api/policies/1", NULL, false);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = api("PUT", "/api/policies/1", rule, false);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = api("POST", "/api/policies/1/disable", NULL, false);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = api("POST", "/api/policies", "{not json", true);
    assert_int_equal(r.status, 400);
    resp_free(&r);

    /* each rule type's config is checked by the engine's parser; the answer names the field */
    const char *P = "/api/policies";
#define RULE(type, cfg) "{\"name\":\"bad\",\"rule_type\":\"" type "\",\"config\":" cfg "}"
    refused("POST", P, RULE("rate_limit", "{\"max_calls\":\"ten\"}"), "config", "max_calls: must be an integer");
    refused("POST", P, RULE("rate_limit", "{\"max_calls\":0}"), "config", "max_calls: must be an integer from 1");
    refused("POST", P, RULE("rate_limit", "{\"window_seconds\":86401}"), "config", "window_seconds");
    refused("POST", P, RULE("rate_limit", "{\"max_calls\":5,\"burst\":2}"), "config", "unknown field \"burst\"");
    refused("POST", P, RULE("rate_limit", "{\"permission\":\"shell\"}"), "config", "unknown permission \"shell\"");
    refused("POST", P, RULE("time_window", "{\"deny_start_hour\":7,\"deny_end_hour\":6}"), "config",
            "deny_start_hour must be before deny_end_hour");
    refused("POST", P, RULE("time_window", "{\"deny_end_hour\":25}"), "config", "deny_end_hour");
    refused("POST", P, RULE("chain_restriction", "{}"), "config", "caller_pattern: a text of 1 to");
    refused("POST", P, RULE("chain_restriction", "{\"caller_pattern\":\"\"}"), "config", "caller_pattern");
    refused("POST", P, RULE("permission_override", "{\"action\":\"deny\"}"), "config", "permission: is required");
    refused("POST", P, RULE("permission_override", "{\"permission\":\"llm\",\"action\":\"grant\"}"), "config",
            "action: must be \"deny\" or \"allow\"");
    refused("POST", P,
            RULE("permission_override", "{\"permission\":\"llm\",\"action\":\"deny\",\"expires_at\":\"soon\"}"),
            "config", "expires_at: an ISO 8601 time");
    refused("POST", P, RULE("rate_limit", "\"{not json\""), "config", "config: must be a JSON object");
    refused("POST", P, RULE("rate_limit", "[1]"), "config", "config: must be a JSON object");
    refused("POST", P, RULE("mcp_restriction", "{}"), "rule_type", "rule type must be rate_limit");
    refused("POST", P, "{\"name\":\"\",\"rule_type\":\"rate_limit\",\"config\":{}}", "name", "name: 1 to 255");
    refused("POST", P, "{\"rule_type\":\"rate_limit\",\"config\":{}}", "name", "name:");
    refused("POST", P, "{\"name\":\"p\",\"rule_type\":\"rate_limit\",\"config\":{},\"priority\":\"high\"}", "priority",
            "priority: an integer");
    refused("POST", P, "{\"name\":\"p\",\"rule_type\":\"rate_limit\",\"config\":{},\"priority\":2000000}", "priority",
            "priority: an integer from -1000000 to 1000000");
    refused("POST", P, "{\"name\":\"p\",\"rule_type\":\"rate_limit\",\"config\":{},\"enabled\":\"yes\"}", "enabled",
            "enabled: true or false");
    refused("POST", P, "{\"name\":\"p\",\"rule_type\":\"rate_limit\",\"config\":{},\"owner\":\"me\"}", NULL,
            "unknown field \"owner\"");
#undef RULE
    json_t *rules = rules_now();
    assert_int_equal(json_array_size(rules), 0); /* nothing refused was stored */
    json_decref(rules);

    /* one valid rule of each type; the config may come as its JSON text (as the form's textarea sends it) */
    long long rl = created("{\"name\":\"calls\",\"rule_type\":\"rate_limit\",\"config\":{\"permission\":\"web_read\","
                           "\"max_calls\":5,\"window_seconds\":60},\"priority\":10}");
    long long tw = created("{\"name\":\"nights\",\"description\":\"no web at night\",\"rule_type\":\"time_window\","
                           "\"config\":\"{\\n  \\\"deny_start_hour\\\": 0,\\n  \\\"deny_end_hour\\\": 6\\n}\"}");
    long long cr = created("{\"name\":\"no chains\",\"rule_type\":\"chain_restriction\",\"config\":{\"caller_pattern\":"
                           "\"dynamic:scraper\"},\"priority\":-5,\"enabled\":false}");
    long long po = created("{\"name\":\"no llm\",\"rule_type\":\"permission_override\",\"config\":{\"permission\":"
                           "\"llm\",\"action\":\"deny\",\"expires_at\":\"2030-01-01T00:00:00Z\"},\"priority\":20}");
    rules = rules_now();
    assert_int_equal(json_array_size(rules), 4);
    /* highest priority first */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 0), "id")), po);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 1), "id")), rl);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 2), "id")), tw);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 3), "id")), cr);
    json_t *n = rule_named(rules, "nights");
    assert_true(json_is_true(json_object_get(n, "valid")));
    assert_true(json_is_true(json_object_get(n, "enabled")));
    assert_string_equal(json_string_value(json_object_get(n, "description")), "no web at night");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(n, "config"), "deny_end_hour")), 6);
    assert_false(json_is_true(json_object_get(rule_named(rules, "no chains"), "enabled")));
    json_decref(rules);
    r = api("GET", "/api/policies", NULL, false);
    assert_non_null(strstr(r.body, "\"rule_types\":[\"rate_limit\",\"time_window\",\"chain_restriction\","
                                   "\"permission_override\"]"));
    assert_non_null(strstr(r.body, "\"workflow_manage\""));
    resp_free(&r);

    /* an edit: the same checks, and every node hears of it (the table's trigger sends NOTIFY alexclaw_policies) */
    char path[64];
    snprintf(path, sizeof(path), "/api/policies/%lld", rl);
    refused("PUT", path, "{\"name\":\"calls\",\"rule_type\":\"rate_limit\",\"config\":{\"max_calls\":-1}}", "config",
            "max_calls");
    FILE *listener = popen("psql -X -q -At -d \"$DATABASE_URL\" -c 'LISTEN alexclaw_policies' "
                           "-c 'SELECT pg_sleep(3.017)' 2>&1",
                           "r");
    assert_non_null(listener);
    bool listening = false;
    for (int i = 0; i < 100 && !listening; i++) {
        listening = psql_int("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3.017)'") == 1;
        if (!listening)
            usleep(50000);
    }
    assert_true(listening);
    r = api("PUT", path,
            "{\"name\":\"fewer calls\",\"rule_type\":\"rate_limit\",\"config\":{\"permission\":\"web_read\","
            "\"max_calls\":2,\"window_seconds\":60},\"priority\":30}",
            true);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"name\":\"fewer calls\""));
    resp_free(&r);
    char heard[1024] = "";
    size_t got = fread(heard, 1, sizeof(heard) - 1, listener);
    heard[got] = '\0';
    pclose(listener);
    assert_non_null(strstr(heard, "Asynchronous notification \"alexclaw_policies\""));
    rules = rules_now();
    json_t *e = json_array_get(rules, 0); /* priority 30 now: first */
    assert_string_equal(json_string_value(json_object_get(e, "name")), "fewer calls");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "config"), "max_calls")), 2);
    assert_true(json_is_true(json_object_get(e, "enabled"))); /* no "enabled" in the body: unchanged */
    json_decref(rules);
    r = api("PUT", "/api/policies/999999", "{\"name\":\"x\",\"rule_type\":\"rate_limit\",\"config\":{}}", true);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    r = api("PUT", "/api/policies/abc", "{\"name\":\"x\",\"rule_type\":\"rate_limit\",\"config\":{}}", true);
    assert_int_equal(r.status, 404);
    resp_free(&r);

    /* disable, enable, delete */
    snprintf(path, sizeof(path), "/api/policies/%lld/disable", tw);
    r = api("POST", path, NULL, true);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    rules = rules_now();
    assert_false(json_is_true(json_object_get(rule_named(rules, "nights"), "enabled")));
    json_decref(rules);
    snprintf(path, sizeof(path), "/api/policies/%lld/enable", tw);
    r = api("POST", path, NULL, true);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    rules = rules_now();
    assert_true(json_is_true(json_object_get(rule_named(rules, "nights"), "enabled")));
    json_decref(rules);
    r = api("POST", "/api/policies/999999/enable", NULL, true);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/policies/%lld", cr);
    r = api("DELETE", path, NULL, true);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = api("DELETE", path, NULL, true);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    /* a bearer token needs no CSRF token */
    char h[200];
    snprintf(h, sizeof(h), "Authorization: Bearer %s", token);
    const char *bearer[] = {h, NULL};
    snprintf(path, sizeof(path), "/api/policies/%lld", po);
    r = http("DELETE", path, NULL, 0, bearer, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* a rule written with SQL that the engine skips: the page says why */
    free(psql("INSERT INTO auth_policies (name, rule_type, config) VALUES ('by hand', 'rate_limit', "
              "'{\"max_calls\": 0}')"));
    rules = rules_now();
    json_t *hand = rule_named(rules, "by hand");
    assert_false(json_is_true(json_object_get(hand, "valid")));
    assert_non_null(strstr(json_string_value(json_object_get(hand, "problem")), "max_calls"));
    json_decref(rules);
    free(psql("DELETE FROM auth_policies WHERE name = 'by hand'"));
}

/* The audit chain written from outside, to check the node against: policy/audit.h's format, implemented again here
 * with OpenSSL (HKDF-SHA256 of SECRET_KEY_BASE, salt 32 zero bytes, info AlexClaw.Auth.AuditChain; each row
 * HMAC-SHA256 over "row\0", the previous hash and the length-prefixed columns; the ends pinned by marks). */
typedef struct {
    uint8_t b[1024];
    size_t n;
} canon_t;

static void canon_put(canon_t *c, const void *p, size_t n)
{
    assert_true(c->n + n <= sizeof(c->b));
    memcpy(c->b + c->n, p, n);
    c->n += n;
}

static void canon_int(canon_t *c, int64_t v)
{
    uint8_t x[8];
    for (int i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
        x[i] = (uint8_t)(v & 0xff);
    canon_put(c, x, 8);
}

static void canon_str(canon_t *c, const char *s)
{
    uint32_t n = s == NULL ? 0xffffffffu : (uint32_t)strlen(s);
    uint8_t x[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    canon_put(c, x, 4);
    if (s != NULL)
        canon_put(c, s, strlen(s));
}

static void audit_key(uint8_t key[32])
{
    const char *skb = getenv("SECRET_KEY_BASE");
    assert_non_null(skb);
    uint8_t salt[32] = {0};
    size_t len = 32;
    EVP_PKEY_CTX *k = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    assert_non_null(k);
    assert_true(EVP_PKEY_derive_init(k) > 0 && EVP_PKEY_CTX_set_hkdf_md(k, EVP_sha256()) > 0 &&
                EVP_PKEY_CTX_set1_hkdf_salt(k, salt, 32) > 0 &&
                EVP_PKEY_CTX_set1_hkdf_key(k, (const unsigned char *)skb, (int)strlen(skb)) > 0 &&
                EVP_PKEY_CTX_add1_hkdf_info(k, (const unsigned char *)"AlexClaw.Auth.AuditChain", 24) > 0 &&
                EVP_PKEY_derive(k, key, &len) > 0 && len == 32);
    EVP_PKEY_CTX_free(k);
}

static void hmac32(const uint8_t key[32], const canon_t *c, uint8_t out[32])
{
    unsigned int n = 0;
    HMAC(EVP_sha256(), key, 32, c->b, c->n, out, &n);
    assert_int_equal(n, 32);
}

static void hex32(const uint8_t *b, char out[65])
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

#define AUDIT_ROWS 120

/* Row i (1..AUDIT_ROWS) of the seeded log: three callers in turn, one a minute from base; row 5 is a coalesced
 * denial (count 4) whose last one came at base + 12 minutes. */
typedef struct {
    const char *caller, *type, *perm, *decision, *reason;
    int64_t run_id;
    int depth, count;
    int64_t at, last;
} seed_row_t;

static seed_row_t seed_row(int i, int64_t t0)
{
    seed_row_t s;
    switch (i % 3) {
    case 0:
        s = (seed_row_t){"dynamic:scraper", "dynamic", "web_read", "deny", "rate limit exceeded", 0, 0, 1, 0, 0};
        break;
    case 1: s = (seed_row_t){"dynamic:Notes", "dynamic", "memory_read", "allow", NULL, 7, 1, 1, 0, 0}; break;
    default:
        s = (seed_row_t){"dynamic:mailer", "dynamic", "telegram_send", "deny", "outside hours", 0, 2, 1, 0, 0};
        break;
    }
    s.at = s.last = t0 + (int64_t)i * 60;
    if (i == 5) {
        s.count = 4;
        s.last = t0 + 12 * 60;
    }
    return s;
}

static int64_t audit_base;

static void seed_audit_chain(void)
{
    uint8_t key[32], prev[32] = {0}, hash[32], mark[32];
    audit_key(key);
    audit_base = ((int64_t)time(NULL) - 3 * 86400) / 60 * 60;
    size_t cap = 640 * AUDIT_ROWS + 4096, len = 0;
    char *sql = malloc(cap), ph[65], hh[65], mh[65];
    len += (size_t)snprintf(sql + len, cap - len, "BEGIN;\n");
    for (int i = 1; i <= AUDIT_ROWS; i++) {
        seed_row_t s = seed_row(i, audit_base);
        canon_t c = {.n = 0};
        canon_put(&c, "row", 4);
        canon_put(&c, prev, 32);
        canon_int(&c, i);
        canon_str(&c, s.caller);
        canon_str(&c, s.type);
        canon_str(&c, s.perm);
        canon_str(&c, s.decision);
        canon_str(&c, s.reason);
        canon_int(&c, s.run_id);
        canon_int(&c, s.depth);
        canon_int(&c, s.at);
        canon_int(&c, s.count);
        canon_int(&c, s.last);
        hmac32(key, &c, hash);
        hex32(prev, ph);
        hex32(hash, hh);
        char reason[64];
        snprintf(reason, sizeof(reason), s.reason != NULL ? "'%s'" : "NULL", s.reason);
        len += (size_t)snprintf(sql + len, cap - len,
                                "INSERT INTO auth_audit_log (id, caller, caller_type, permission, decision, reason, "
                                "workflow_run_id, chain_depth, inserted_at, count, last_at, prev_hash, hash) VALUES "
                                "(%d, '%s', '%s', '%s', '%s', %s, nullif(%lld, 0), %d, to_timestamp(%lld) AT TIME "
                                "ZONE 'utc', %d, to_timestamp(%lld) AT TIME ZONE 'utc', '\\x%s', '\\x%s');\n",
                                i, s.caller, s.type, s.perm, s.decision, reason, (long long)s.run_id, s.depth,
                                (long long)s.at, s.count, (long long)s.last, ph, hh);
        memcpy(prev, hash, 32);
    }
    uint8_t zero[32] = {0};
    canon_t c = {.n = 0};
    canon_put(&c, "mark", 5);
    canon_str(&c, "first");
    canon_int(&c, 1);
    canon_put(&c, zero, 32);
    hmac32(key, &c, mark);
    hex32(mark, mh);
    len +=
        (size_t)snprintf(sql + len, cap - len, "UPDATE auth_audit_ends SET first_id = 1, first_mark = '\\x%s';\n", mh);
    c.n = 0;
    canon_put(&c, "mark", 5);
    canon_str(&c, "last");
    canon_int(&c, AUDIT_ROWS);
    canon_put(&c, prev, 32);
    hmac32(key, &c, mark);
    hex32(mark, mh);
    hex32(prev, hh);
    len += (size_t)snprintf(sql + len, cap - len,
                            "UPDATE auth_audit_ends SET last_id = %d, last_hash = '\\x%s', last_mark = '\\x%s';\n"
                            "SELECT setval('auth_audit_log_id_seq', %d);\nCOMMIT;\n",
                            AUDIT_ROWS, hh, mh, AUDIT_ROWS);
    assert_true(len < cap);
    free(psql(sql));
    free(sql);
    explicit_bzero(key, sizeof(key));
}

/* GET path: the JSON answer (status 200 asserted). */
static json_t *get_json(const char *path)
{
    resp_t r = api("GET", path, NULL, false);
    if (r.status != 200)
        fail_msg("GET %s: %ld %s", path, r.status, r.body);
    json_t *j = json_of(&r);
    resp_free(&r);
    return j;
}

/* The ids a page of the audit log shows, newest first, into ids (at most cap); returns how many. */
static size_t audit_ids(json_t *page, long long *ids, size_t cap)
{
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(json_object_get(page, "entries"), i, e)
    {
        if (n < cap)
            ids[n++] = json_integer_value(json_object_get(e, "id"));
    }
    return n;
}

static void audit_bad_filter(const char *query, const char *field)
{
    char path[512];
    snprintf(path, sizeof(path), "/api/audit?%s", query);
    resp_t r = api("GET", path, NULL, false);
    if (r.status != 400)
        fail_msg("%s: %ld %s", path, r.status, r.body);
    json_t *j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "field")), field);
    json_decref(j);
    resp_free(&r);
}

static void iso(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void the_audit_log_is_filtered_paged_and_its_chain_verified(void **state)
{
    (void)state;
    resp_t r = http("GET", "/api/audit", NULL, 0, NULL, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = http("GET", "/api/audit/verify", NULL, 0, NULL, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    /* an empty chain is intact (nothing on this node writes to the log before the seed) */
    json_t *v = get_json("/api/audit/verify");
    assert_true(json_is_true(json_object_get(v, "ok")));
    assert_int_equal(json_integer_value(json_object_get(v, "rows")), 0);
    json_decref(v);
    json_t *page = get_json("/api/audit");
    assert_int_equal(json_array_size(json_object_get(page, "entries")), 0);
    assert_true(json_is_null(json_object_get(page, "next_before")));
    json_decref(page);

    seed_audit_chain();
    v = get_json("/api/audit/verify");
    if (!json_is_true(json_object_get(v, "ok")))
        fail_msg("the seeded chain does not verify: %s", json_string_value(json_object_get(v, "problem")));
    assert_int_equal(json_integer_value(json_object_get(v, "rows")), AUDIT_ROWS);
    assert_int_equal(json_integer_value(json_object_get(v, "first_id")), 1);
    assert_int_equal(json_integer_value(json_object_get(v, "last_id")), AUDIT_ROWS);
    json_decref(v);

    /* newest first, 50 a page; each page continues where the last one ended */
    long long ids[AUDIT_ROWS + 1];
    page = get_json("/api/audit");
    assert_int_equal(audit_ids(page, ids, AUDIT_ROWS), 50);
    assert_int_equal(ids[0], AUDIT_ROWS);
    assert_int_equal(ids[49], AUDIT_ROWS - 49);
    assert_int_equal(json_integer_value(json_object_get(page, "next_before")), AUDIT_ROWS - 49);
    json_t *first = json_array_get(json_object_get(page, "entries"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "caller")), "dynamic:scraper"); /* 120 % 3 == 0 */
    assert_string_equal(json_string_value(json_object_get(first, "decision")), "deny");
    assert_string_equal(json_string_value(json_object_get(first, "reason")), "rate limit exceeded");
    char at[32];
    iso(audit_base + AUDIT_ROWS * 60, at);
    assert_string_equal(json_string_value(json_object_get(first, "at")), at);
    json_decref(page);
    page = get_json("/api/audit?before=71");
    assert_int_equal(audit_ids(page, ids, AUDIT_ROWS), 50);
    assert_int_equal(ids[0], 70);
    assert_int_equal(json_integer_value(json_object_get(page, "next_before")), 21);
    json_decref(page);
    page = get_json("/api/audit?before=21");
    assert_int_equal(audit_ids(page, ids, AUDIT_ROWS), 20);
    assert_int_equal(ids[19], 1);
    assert_true(json_is_null(json_object_get(page, "next_before")));
    json_decref(page);
    /* the page size is bounded */
    page = get_json("/api/audit?limit=100000");
    assert_int_equal(json_integer_value(json_object_get(page, "limit")), 200);
    assert_int_equal(audit_ids(page, ids, AUDIT_ROWS), AUDIT_ROWS);
    json_decref(page);
    page = get_json("/api/audit?limit=0");
    assert_int_equal(audit_ids(page, ids, AUDIT_ROWS), 1);
    assert_int_equal(json_integer_value(json_object_get(page, "next_before")), AUDIT_ROWS);
    json_decref(page);
    page = get_json("/api/audit?limit=7&before=10");
    assert_int_equal(audit_ids(page, ids, AUDIT_ROWS), 7);
    assert_int_equal(ids[0], 9);
    json_decref(page);

    /* filters: decision, caller (a substring, any case, never a pattern), permission, time */
    size_t i;
    json_t *e;
    page = get_json("/api/audit?decision=allow&limit=200");
    assert_int_equal(json_array_size(json_object_get(page, "entries")), AUDIT_ROWS / 3);
    json_array_foreach(json_object_get(page, "entries"), i, e)
    {
        assert_string_equal(json_string_value(json_object_get(e, "decision")), "allow");
        assert_int_equal(json_integer_value(json_object_get(e, "run_id")), 7);
    }
    json_decref(page);
    page = get_json("/api/audit?decision=deny&caller=SCRAP&limit=200");
    assert_int_equal(json_array_size(json_object_get(page, "entries")), AUDIT_ROWS / 3);
    json_array_foreach(json_object_get(page, "entries"), i, e)
    {
        assert_string_equal(json_string_value(json_object_get(e, "caller")), "dynamic:scraper");
    }
    json_decref(page);
    page = get_json("/api/audit?caller=notes&permission=memory_read&limit=200");
    assert_int_equal(json_array_size(json_object_get(page, "entries")), AUDIT_ROWS / 3);
    json_decref(page);
    page = get_json("/api/audit?caller=notes&permission=web_read");
    assert_int_equal(json_array_size(json_object_get(page, "entries")), 0);
    json_decref(page);
    page = get_json("/api/audit?caller=%25");
    assert_int_equal(json_array_size(json_object_get(page, "entries")), 0);
    json_decref(page);
    page = get_json("/api/audit?caller=&decision=&permission=&limit=3"); /* empty filters: none */
    assert_int_equal(json_array_size(json_object_get(page, "entries")), 3);
    json_decref(page);
    /* rows 10 to 19 by their time, and row 5: a coalesced denial whose last one fell in the range */
    char from[32], to[32], path[160];
    iso(audit_base + 10 * 60, from);
    iso(audit_base + 19 * 60, to);
    snprintf(path, sizeof(path), "/api/audit?from=%s&to=%s", from, to);
    page = get_json(path);
    assert_int_equal(audit_ids(page, ids, AUDIT_ROWS), 11);
    assert_int_equal(ids[0], 19);
    assert_int_equal(ids[9], 10);
    assert_int_equal(ids[10], 5);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(page, "entries"), 10), "count")),
                     4);
    json_decref(page);
    snprintf(path, sizeof(path), "/api/audit?from=%s&decision=deny&caller=mailer", from);
    page = get_json(path); /* the mailer's rows 11, 14, ... 119, and row 5 (coalesced: its last came at 12 min) */
    assert_int_equal(json_array_size(json_object_get(page, "entries")), 38);
    json_decref(page);
    audit_bad_filter("decision=maybe", "decision");
    audit_bad_filter("from=yesterday", "from");
    audit_bad_filter("to=2026-01-01T00:00:00", "to"); /* no zone */
    snprintf(path, sizeof(path), "to=%s&from=2030-01-01T00:00:00Z", to);
    audit_bad_filter(path, "to");
    audit_bad_filter("before=-3", "before");
    audit_bad_filter("limit=many", "limit");
    char longq[400];
    snprintf(longq, sizeof(longq), "caller=%0300d", 0);
    audit_bad_filter(longq, "caller");

    /* a row changed with SQL breaks the chain at that row; put back, the chain is whole again */
    free(psql("UPDATE auth_audit_log SET reason = 'nothing to see' WHERE id = 42"));
    v = get_json("/api/audit/verify");
    assert_false(json_is_true(json_object_get(v, "ok")));
    assert_int_equal(json_integer_value(json_object_get(v, "bad_id")), 42);
    assert_int_equal(json_integer_value(json_object_get(v, "rows")), 42);
    assert_non_null(strstr(json_string_value(json_object_get(v, "problem")), "changed or forged"));
    json_decref(v);
    free(psql("UPDATE auth_audit_log SET reason = 'rate limit exceeded' WHERE id = 42"));
    v = get_json("/api/audit/verify");
    assert_true(json_is_true(json_object_get(v, "ok")));
    json_decref(v);
    /* a row deleted in the middle: the next one no longer follows */
    free(psql("DELETE FROM auth_audit_log WHERE id = 60"));
    v = get_json("/api/audit/verify");
    assert_false(json_is_true(json_object_get(v, "ok")));
    assert_int_equal(json_integer_value(json_object_get(v, "bad_id")), 61);
    assert_non_null(strstr(json_string_value(json_object_get(v, "problem")), "does not follow"));
    json_decref(v);
}

/* --- dynamic skills: the registry, the files, uploads, and loads behind 2FA --- */

static json_t *skills_now(void)
{
    return get_json("/api/skills");
}

/* The element of j[key] whose `field` is value, or NULL. */
static json_t *element(json_t *j, const char *key, const char *field, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, key), i, e)
    {
        const char *v = json_string_value(json_object_get(e, field));
        if (v != NULL && strcmp(v, value) == 0)
            return e;
    }
    return NULL;
}

/* POST /api/skills/files with a file name and source of the given lengths (NUL bytes included). */
static resp_t upload_n(const char *file, size_t flen, const char *src, size_t slen)
{
    json_t *b = json_pack("{s:s%, s:s%}", "filename", file, flen, "source", src, slen);
    assert_non_null(b);
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    resp_t r = api("POST", "/api/skills/files", text, true);
    free(text);
    return r;
}

static resp_t upload(const char *file, const char *src)
{
    return upload_n(file, strlen(file), src, strlen(src));
}

/* An answer: the status, and the error containing says (NULL: not checked). */
static void answers(resp_t r, long status, const char *says)
{
    if (r.status != status || (says != NULL && strstr(r.body, says) == NULL))
        fail_msg("%ld %s: wanted %ld with \"%s\"", r.status, r.body, status, says != NULL ? says : "");
    resp_free(&r);
}

static resp_t skill_post(const char *name, const char *op)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/skills/%s/%s", name, op);
    return api("POST", path, NULL, true);
}

static resp_t load_file(const char *file)
{
    char body[160];
    snprintf(body, sizeof(body), "{\"file\":\"%s\"}", file);
    return api("POST", "/api/skills/load", body, true);
}

static char skills_dir[4096];

static void put_file(const char *name, const char *content)
{
    char path[4352];
    snprintf(path, sizeof(path), "%s/%s", skills_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

#define HELLO(v)                                                                                                       \
    "skill = { name = 'hello', version = '" v "', description = 'says <b>hi</b> & <script>x</script>',\n"              \
    "  permissions = { 'memory_read' }, routes = { 'on_success', 'on_shy' } }\n"                                       \
    "function run(args) return true, 'hi' end\n"

static void dynamic_skill_files_are_listed_written_and_refused_without_two_factor(void **state)
{
    (void)state;
    /* a session (or the token) and, to change anything, the CSRF token */
    const char *body = "{\"filename\":\"x.lua\",\"source\":\"x\"}";
    answers(http("GET", "/api/skills", NULL, 0, NULL, NULL), 401, NULL);
    answers(http("POST", "/api/skills/files", body, strlen(body), NULL, NULL), 401, NULL);
    answers(http("POST", "/api/skills/load", "{\"file\":\"x.lua\"}", 16, NULL, NULL), 401, NULL);
    answers(api("POST", "/api/skills/files", body, false), 403, "X-CSRF-Token");
    answers(api("POST", "/api/skills/load", "{\"file\":\"x.lua\"}", false), 403, "X-CSRF-Token");
    answers(api("POST", "/api/skills/web_fetch/unload", NULL, false), 403, "X-CSRF-Token");
    answers(api("POST", "/api/skills/x/reload", NULL, false), 403, "X-CSRF-Token");

    /* the core skills, with the fields steps have always read, and their circuit breakers */
    json_t *j = skills_now();
    json_t *dyn = json_object_get(j, "dynamic_skills");
    assert_true(json_is_true(json_object_get(dyn, "enabled")));
    assert_false(json_is_true(json_object_get(dyn, "two_factor")));
    snprintf(skills_dir, sizeof(skills_dir), "%s", json_string_value(json_object_get(dyn, "dir")));
    char want[4096];
    snprintf(want, sizeof(want), "%s/skills", getenv("ALEXCLAW_DATA_DIR"));
    assert_string_equal(skills_dir, want); /* SKILLS_DIR defaults to <data dir>/skills */
    json_t *shell = element(j, "skills", "name", "shell");
    assert_non_null(shell);
    assert_string_equal(json_string_value(json_object_get(shell, "kind")), "core");
    assert_string_equal(json_string_value(json_object_get(shell, "permissions")), "all");
    assert_true(json_is_null(json_object_get(shell, "version")) && json_is_null(json_object_get(shell, "checksum")));
    assert_non_null(json_string_value(json_object_get(shell, "description")));
    assert_non_null(json_string_value(json_object_get(shell, "config")));
    assert_true(json_is_boolean(json_object_get(shell, "external")));
    assert_true(json_array_size(json_object_get(shell, "routes")) >= 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(shell, "breaker"), "state")), "closed");
    /* telegram_notify failed in the runs above (no chat configured): its breaker counted it */
    json_t *tb = json_object_get(element(j, "skills", "name", "telegram_notify"), "breaker");
    assert_true(json_integer_value(json_object_get(tb, "failures")) >= 1);
    assert_non_null(json_string_value(json_object_get(tb, "last_error")));
    assert_int_equal(json_array_size(json_object_get(j, "not_loaded")), 0);
    json_decref(j);

    /* the files: regular *.lua files directly in SKILLS_DIR, nothing else */
    j = get_json("/api/skills/files");
    assert_int_equal(json_array_size(json_object_get(j, "files")), 0);
    json_decref(j);
    put_file("README.txt", "not a skill");
    put_file(".hidden.lua", "skill = { name = 'hidden' }");
    put_file("Upper.lua", "skill = { name = 'upper' }");
    char path[4352];
    snprintf(path, sizeof(path), "%s/sub.lua", skills_dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/link.lua", skills_dir);
    assert_int_equal(symlink("/etc/passwd", path), 0);
    answers(upload("hello.lua", HELLO("1")), 201, "\"loaded_as\":null");
    j = get_json("/api/skills/files");
    json_t *files = json_object_get(j, "files");
    assert_int_equal(json_array_size(files), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(files, 0), "file")), "Upper.lua");
    assert_false(json_is_true(json_object_get(json_array_get(files, 0), "loadable"))); /* not a skill file name */
    json_t *hello = json_array_get(files, 1);
    assert_string_equal(json_string_value(json_object_get(hello, "file")), "hello.lua");
    assert_true(json_is_true(json_object_get(hello, "loadable")));
    assert_int_equal(json_integer_value(json_object_get(hello, "bytes")), strlen(HELLO("1")));
    assert_int_equal(strlen(json_string_value(json_object_get(hello, "modified"))), 20);
    assert_true(json_is_null(json_object_get(hello, "loaded_as")));
    assert_false(json_is_true(json_object_get(j, "truncated")));
    json_decref(j);

    /* the upload's rules: the name, the size, text only; a refused upload writes nothing */
    static const char *const bad_names[] = {"../x.lua", "a/b.lua", "X.lua", "x.txt", ".lua", "", "x.lua/", "x..lua"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        resp_t r = upload(bad_names[i], "skill = { name = 'x' }");
        if (r.status != 422 || strstr(r.body, "invalid_filename") == NULL ||
            strstr(r.body, "\"field\":\"filename\"") == NULL)
            fail_msg("%s: %ld %s", bad_names[i], r.status, r.body);
        resp_free(&r);
    }
    answers(upload_n("x.lua\0.txt", 10, "x", 1), 422, "NUL");
    snprintf(path, sizeof(path), "%s/x.lua", getenv("ALEXCLAW_DATA_DIR"));
    assert_int_not_equal(access(path, F_OK), 0); /* ../x.lua went nowhere */
    size_t max = 256 * 1024;
    char *big = malloc(max + 2);
    memset(big, '-', max + 1);
    big[max + 1] = '\0';
    answers(upload_n("big.lua", 7, big, max + 1), 413, "1 to 262144 bytes");
    answers(upload_n("big.lua", 7, big, max), 201, "\"bytes\":262144"); /* the limit itself is fine */
    free(big);
    answers(upload_n("nul.lua", 7, "a\0b", 3), 422, "no NUL bytes");
    answers(upload("bytecode.lua", "\x1bLuaT\x01 fake"), 422, "no bytecode");
    answers(upload("empty.lua", ""), 422, "1 to 262144 bytes");
    answers(api("POST", "/api/skills/files", "{\"filename\":\"x.lua\",\"source\":7}", true), 400, "source");
    answers(api("POST", "/api/skills/files", "{not json", true), 400, NULL);
    j = get_json("/api/skills/files");
    assert_int_equal(json_array_size(json_object_get(j, "files")), 3); /* Upper, big, hello */
    json_decref(j);

    /* 2FA off: loading, reloading and unloading are refused with a sentence, never done at once; a core skill can
     * never be unloaded, whatever the code */
    answers(load_file("hello.lua"), 403, "turn on two-factor authentication first");
    answers(load_file("../hello.lua"), 422, "invalid_filename");
    answers(api("POST", "/api/skills/load", "{}", true), 400, NULL);
    answers(skill_post("web_fetch", "unload"), 403, "core skills can never be unloaded");
    answers(skill_post("shell", "reload"), 403, "\"reason\":\"core_skill\"");
    answers(skill_post("nobody_here", "unload"), 404, "no dynamic skill nobody_here");
    answers(skill_post("Bad-Name", "unload"), 404, NULL);
    answers(api("GET", "/api/skills/hello/unload", NULL, false), 404, NULL);
    /* a skill recorded elsewhere whose file is missing: listed as not loaded, and refused like the others */
    free(psql("INSERT INTO dynamic_skills (name, module_name, file_path, checksum) VALUES ('ghost', 'ghost', "
              "'ghost.lua', repeat('0', 64))"));
    bool listed = false;
    for (int i = 0; i < 50 && !listed; i++) {
        j = skills_now();
        json_t *g = element(j, "not_loaded", "name", "ghost");
        listed = g != NULL && strstr(json_string_value(json_object_get(g, "reason")), "not loaded") != NULL;
        json_decref(j);
        if (!listed)
            usleep(100000);
    }
    assert_true(listed);
    answers(skill_post("ghost", "unload"), 403, "\"reason\":\"2fa_off\"");
    free(psql("DELETE FROM dynamic_skills WHERE name = 'ghost'"));
    j = skills_now();
    assert_null(element(j, "skills", "name", "hello"));
    json_decref(j);
}

/* A code for an approval here: the current step's. The replay guard (each step is taken once, on any node; tested in
 * two_factor_guards_every_api_path) is rewound to the step before, so the approvals below need not wait up to 30 s
 * each for a step nobody took yet. */
static void step_code(char out[7])
{
    long long now = (long long)time(NULL) / 30;
    char sql[128];
    snprintf(sql, sizeof(sql), "UPDATE totp_steps SET last_step = %lld WHERE id = 1", now - 1);
    free(psql(sql));
    last_step = now - 1;
    next_code(out);
}

static void dynamic_skills_are_loaded_reloaded_and_unloaded_with_a_code(void **state)
{
    (void)state;
    char id[64], code[7];
    /* what fails the loader's checks is refused before any code is asked for, with the loader's sentence */
    put_file("syntax.lua", "skill = { name = ");
    answers(load_file("syntax.lua"), 422, "syntax.lua");
    put_file("shellish.lua", "skill = { name = 'shell' } function run() return true end");
    answers(load_file("shellish.lua"), 422, "core skill");
    answers(load_file("missing.lua"), 404, "no such file");
    answers(load_file("link.lua"), 422, NULL); /* a symlink out of SKILLS_DIR */
    answers(skill_post("web_fetch", "unload"), 403, "core_skill");

    /* a load: the prompt names what will run; a wrong code changes nothing; a valid one loads exactly that */
    resp_t r = load_file("hello.lua");
    assert_non_null(strstr(r.body, "Load the dynamic skill `hello` version `1` from `hello.lua` with permissions: "
                                   "memory_read; routes: on_success, on_shy"));
    challenge_of(&r, id, sizeof(id));
    answers(verify(id, "000000"), 403, "\"attempts_left\":4");
    json_t *j = skills_now();
    assert_null(element(j, "skills", "name", "hello"));
    json_decref(j);
    step_code(code);
    r = verify(id, code);
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    resp_free(&r);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "skill_load");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "result"), "name")), "hello");
    json_decref(j);
    j = skills_now();
    json_t *h = element(j, "skills", "name", "hello");
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "kind")), "dynamic");
    assert_string_equal(json_string_value(json_object_get(h, "version")), "1");
    assert_string_equal(json_string_value(json_object_get(h, "file")), "hello.lua");
    assert_string_equal(json_string_value(json_object_get(h, "description")), "says <b>hi</b> & <script>x</script>");
    assert_string_equal(json_string_value(json_array_get(json_object_get(h, "permissions"), 0)), "memory_read");
    assert_int_equal(json_array_size(json_object_get(h, "permissions")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(h, "routes"), 1)), "on_shy");
    assert_int_equal(strlen(json_string_value(json_object_get(h, "checksum"))), 16);
    assert_string_equal(json_string_value(json_object_get(json_object_get(h, "breaker"), "state")), "closed");
    assert_true(json_is_true(json_object_get(json_object_get(j, "dynamic_skills"), "two_factor")));
    json_decref(j);
    char *sum = psql("SELECT left(checksum, 16) FROM dynamic_skills WHERE name = 'hello'");
    j = skills_now();
    assert_true(
        strncmp(sum, json_string_value(json_object_get(element(j, "skills", "name", "hello"), "checksum")), 16) == 0);
    json_decref(j);
    free(sum);
    j = get_json("/api/skills/files");
    json_t *f = element(j, "files", "file", "hello.lua");
    assert_string_equal(json_string_value(json_object_get(f, "loaded_as")), "hello");
    assert_false(json_is_true(json_object_get(f, "changed")));
    json_decref(j);
    /* the same version again would be refused when it runs: refused now */
    answers(load_file("hello.lua"), 422, "same_version");

    /* a new file: written, not loaded; what runs is what was loaded until a reload */
    answers(upload("hello.lua", HELLO("2")), 201, "hello still runs the code it was loaded with");
    j = get_json("/api/skills/files");
    assert_true(json_is_true(json_object_get(element(j, "files", "file", "hello.lua"), "changed")));
    json_decref(j);
    /* a reload is approved for the file as it was when the code was asked for: changed since, nothing happens */
    r = skill_post("hello", "reload");
    assert_non_null(strstr(r.body, "Reload the dynamic skill `hello` as version `2`"));
    assert_non_null(strstr(r.body, "replaces version `1`"));
    challenge_of(&r, id, sizeof(id));
    answers(upload("hello.lua", HELLO("3")), 201, NULL);
    step_code(code);
    answers(verify(id, code), 422, "changed since the load was approved");
    j = skills_now();
    assert_string_equal(json_string_value(json_object_get(element(j, "skills", "name", "hello"), "version")), "1");
    json_decref(j);
    r = skill_post("hello", "reload");
    challenge_of(&r, id, sizeof(id));
    step_code(code);
    r = verify(id, code);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"type\":\"skill_reload\""));
    resp_free(&r);
    j = skills_now();
    assert_string_equal(json_string_value(json_object_get(element(j, "skills", "name", "hello"), "version")), "3");
    json_decref(j);

    /* an unload, then it is gone from the registry and its file is loaded as nothing */
    r = skill_post("hello", "unload");
    assert_non_null(strstr(r.body, "Unload the dynamic skill `hello`"));
    challenge_of(&r, id, sizeof(id));
    step_code(code);
    answers(verify(id, code), 200, "\"type\":\"skill_unload\"");
    j = skills_now();
    assert_null(element(j, "skills", "name", "hello"));
    json_decref(j);
    j = get_json("/api/skills/files");
    assert_true(json_is_null(json_object_get(element(j, "files", "file", "hello.lua"), "loaded_as")));
    json_decref(j);
    answers(skill_post("hello", "unload"), 404, "no dynamic skill hello");
}

/* --- the LLM page ------------------------------------------------------------------------------------------- */

#define LLM_KEY  "sk-web-http-secret-4711"
#define LLM_KEY2 "sk-web-http-guarded-0815"

/* A control call to the fake LLM server (tests/support/fake_llm.h); the answer's body, owned. */
static char *fake_llm_control(const char *method, const char *what, const char *body)
{
    char path[64];
    snprintf(path, sizeof(path), "/_control/%s", what);
    const char *h[] = {"Content-Type: application/json", NULL};
    resp_t r = http_at(fake_llm, method, path, body, body != NULL ? strlen(body) : 0, h, NULL);
    if (r.status != 200)
        fail_msg("fake LLM %s %s: %ld %s", method, what, r.status, r.body);
    char *out = r.body;
    free(r.headers);
    return out;
}

/* The provider list (GET /api/llm/providers), parsed; the keys never appear in it. */
static json_t *llm_now(void)
{
    resp_t r = api("GET", "/api/llm/providers", NULL, false);
    if (r.status != 200)
        fail_msg("GET /api/llm/providers: %ld %s", r.status, r.body);
    assert_null(strstr(r.body, LLM_KEY));
    assert_null(strstr(r.body, LLM_KEY2));
    json_t *j = json_of(&r);
    resp_free(&r);
    return j;
}

static long long llm_created(const char *body)
{
    resp_t r = api("POST", "/api/llm/providers", body, true);
    if (r.status != 201)
        fail_msg("%s: %ld %s", body, r.status, r.body);
    assert_null(strstr(r.body, LLM_KEY));
    json_t *j = json_of(&r);
    long long id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    resp_free(&r);
    assert_true(id > 0);
    return id;
}

/* POST .../test: the answer, parsed (200 expected). */
static json_t *llm_test(long long id)
{
    char path[64];
    snprintf(path, sizeof(path), "/api/llm/providers/%lld/test", id);
    resp_t r = api("POST", path, NULL, true);
    if (r.status != 200)
        fail_msg("test of provider %lld: %ld %s", id, r.status, r.body);
    assert_null(strstr(r.body, LLM_KEY));
    json_t *j = json_of(&r);
    resp_free(&r);
    return j;
}

/* A refused provider: status, and (field non-NULL) the field named, the error containing says. */
static void llm_refused(const char *method, const char *path, const char *body, long status, const char *field,
                        const char *says)
{
    resp_t r = api(method, path, body, true);
    if (r.status != status)
        fail_msg("%s %s %s: %ld %s, wanted %ld", method, path, body, r.status, r.body, status);
    json_t *j = json_of(&r);
    const char *f = json_string_value(json_object_get(j, "field")), *e = json_string_value(json_object_get(j, "error"));
    if (field != NULL && (f == NULL || strcmp(f, field) != 0))
        fail_msg("%s: field %s, expected %s (%s)", body, f != NULL ? f : "(none)", field, r.body);
    if (says != NULL && (e == NULL || strstr(e, says) == NULL))
        fail_msg("%s: error \"%s\", expected it to say \"%s\"", body, e != NULL ? e : "", says);
    json_decref(j);
    resp_free(&r);
}

static void llm_providers_are_listed_masked_created_edited_tested_and_removed(void **state)
{
    (void)state;
    const char *P = "/api/llm/providers";
    /* without a session nothing; with one, a change needs the CSRF token (DELETE and the test too) */
    const char *one = "{\"name\":\"n\",\"tier\":\"local\",\"model\":\"m\"}";
    resp_t r = http("GET", P, NULL, 0, NULL, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = http("POST", P, one, strlen(one), NULL, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = api("POST", P, one, false);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = api("PUT", "/api/llm/providers/1", one, false);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = api("DELETE", "/api/llm/providers/1", NULL, false);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = api("POST", "/api/llm/providers/1/test", NULL, false);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = api("POST", P, "{not json", true);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    r = api("GET", "/api/llm/other", NULL, false);
    assert_int_equal(r.status, 404);
    resp_free(&r);

    /* a provider written with SQL (as the seeding does) is listed; a cloud one is named as a receiver of data */
    free(psql("DELETE FROM llm_providers; DELETE FROM llm_usage; INSERT INTO llm_providers (name, type, tier, model, "
              "enabled, priority) VALUES ('sql claude', 'anthropic', 'heavy', 'claude-x', true, 5), ('sql gemini', "
              "'gemini', 'light', 'gemini-x', false, 5)"));
    json_t *j = llm_now();
    json_t *c = element(j, "providers", "name", "sql claude");
    assert_non_null(c);
    assert_true(json_is_true(json_object_get(c, "cloud")));
    assert_string_equal(json_string_value(json_object_get(c, "api_key")), "");
    assert_string_equal(json_string_value(json_object_get(c, "where")), "Anthropic (api.anthropic.com)");
    json_t *rc = element(j, "receivers", "name", "sql claude");
    assert_non_null(rc);
    assert_true(json_is_true(json_object_get(rc, "cloud")));
    assert_string_equal(json_string_value(json_object_get(rc, "where")), "Anthropic (api.anthropic.com)");
    assert_non_null(element(j, "providers", "name", "sql gemini"));
    assert_null(element(j, "receivers", "name", "sql gemini")); /* disabled: receives nothing */
    assert_string_equal(json_string_value(json_object_get(element(j, "providers", "name", "sql gemini"), "where")),
                        "Google Gemini (generativelanguage.googleapis.com)");
    assert_int_equal(json_integer_value(json_object_get(j, "usage_total_today")), 0);
    assert_false(json_is_true(json_object_get(j, "two_factor")));
    json_decref(j);

    /* refusals: the shape here (the field named), the rest by the store with its sentence; nothing is stored */
    llm_refused("POST", P, "{\"tier\":\"local\",\"model\":\"m\"}", 422, "name", "name");
    llm_refused("POST", P, "{\"name\":\"\",\"tier\":\"local\",\"model\":\"m\"}", 422, "name", "name");
    llm_refused("POST", P, "{\"name\":\"x\",\"tier\":\"ultra\",\"model\":\"m\"}", 422, "tier", "tier");
    llm_refused("POST", P, "{\"name\":\"x\",\"tier\":\"local\"}", 422, "model", "model");
    llm_refused("POST", P, "{\"name\":\"x\",\"type\":\"gpt\",\"tier\":\"local\",\"model\":\"m\"}", 422, "type", "type");
    llm_refused("POST", P, "{\"name\":\"x\",\"tier\":\"local\",\"model\":\"m\",\"daily_limit\":-1}", 422, "daily_limit",
                "daily_limit");
    llm_refused("POST", P, "{\"name\":\"x\",\"tier\":\"local\",\"model\":\"m\",\"priority\":\"high\"}", 422, "priority",
                "priority");
    llm_refused("POST", P, "{\"name\":\"x\",\"tier\":\"local\",\"model\":\"m\",\"enabled\":\"yes\"}", 422, "enabled",
                "enabled");
    llm_refused("POST", P, "{\"name\":\"x\",\"tier\":\"local\",\"model\":\"m\",\"options\":[1]}", 422, "options",
                "options");
    llm_refused("POST", P, "{\"name\":\"x\",\"tier\":\"local\",\"model\":\"m\",\"owner\":\"me\"}", 422, NULL,
                "unknown field \"owner\"");
    llm_refused("POST", P, "{\"name\":\"x\",\"tier\":\"local\",\"model\":\"m\",\"host\":\"ftp://127.0.0.1\"}", 422,
                NULL, "host");
    llm_refused("POST", P, "{\"name\":\"x\",\"tier\":\"local\",\"model\":\"m\",\"host\":\"http://u:p@127.0.0.1\"}", 422,
                NULL, "host");
    llm_refused("POST", P, "{\"name\":\"x\",\"tier\":\"local\",\"model\":\"m\",\"headers\":{\"x-n\":5}}", 422, NULL,
                "header");
    llm_refused("POST", P, "{\"name\":\"sql claude\",\"tier\":\"local\",\"model\":\"m\"}", 409, NULL, "exists");
    assert_int_equal(psql_int("SELECT count(*) FROM llm_providers"), 2);

    /* a provider on the fake server with a key of its own: stored sealed, never shown */
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"name\":\"web echo\",\"type\":\"openai_compatible\",\"tier\":\"local\",\"host\":\"%s\","
             "\"model\":\"m1\",\"api_key\":\"" LLM_KEY "\",\"daily_limit\":5,\"priority\":1,"
             "\"options\":{\"temperature\":0.2},\"headers\":{\"x-team\":\"blue\"}}",
             fake_llm);
    long long echo = llm_created(body);
    snprintf(body, sizeof(body),
             "{\"name\":\"web ollama\",\"type\":\"ollama\",\"tier\":\"local\",\"host\":\"%s\",\"model\":\"o1\","
             "\"enabled\":false}",
             fake_llm);
    long long oll = llm_created(body);
    llm_refused("POST", P, "{\"name\":\"web echo\",\"tier\":\"local\",\"model\":\"m\"}", 409, NULL, NULL);
    char *stored = psql("SELECT api_key FROM llm_providers WHERE name = 'web echo'");
    assert_true(strncmp(stored, "enc:", 4) == 0);
    assert_null(strstr(stored, LLM_KEY));
    free(stored);
    j = llm_now();
    json_t *e = element(j, "providers", "name", "web echo");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "api_key")), "********");
    assert_true(json_is_true(json_object_get(e, "has_api_key")));
    assert_false(json_is_true(json_object_get(e, "cloud")));
    assert_string_equal(json_string_value(json_object_get(e, "reach")), "this machine");
    assert_string_equal(json_string_value(json_object_get(e, "where")), fake_llm + strlen("http://"));
    assert_int_equal(json_integer_value(json_object_get(e, "daily_limit")), 5);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "headers"), "x-team")), "blue");
    assert_non_null(element(j, "receivers", "name", "web echo"));
    assert_null(element(j, "receivers", "name", "web ollama"));
    json_decref(j);

    /* partial updates: absent fields, and a key sent back as "********", keep their value */
    char path[96];
    snprintf(path, sizeof(path), "/api/llm/providers/%lld", echo);
    r = api("PUT", path, "{\"model\":\"m2\",\"api_key\":\"********\"}", true);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"name\":\"web echo\""));
    resp_free(&r);
    llm_refused("PUT", path, "{\"tier\":\"ultra\"}", 422, "tier", "tier");
    llm_refused("PUT", path, "{\"name\":\"sql claude\"}", 409, NULL, "exists");
    llm_refused("PUT", "/api/llm/providers/999999", "{\"model\":\"m\"}", 404, NULL, "no such");
    llm_refused("PUT", "/api/llm/providers/abc", "{\"model\":\"m\"}", 404, NULL, NULL);
    j = llm_now();
    e = element(j, "providers", "name", "web echo");
    assert_string_equal(json_string_value(json_object_get(e, "model")), "m2");
    assert_string_equal(json_string_value(json_object_get(e, "tier")), "local");
    assert_true(json_is_true(json_object_get(e, "has_api_key")));
    json_decref(j);

    /* the test call goes to the provider with its key (opened from its seal), and its answer comes back */
    free(fake_llm_control("POST", "reset", "{}"));
    j = llm_test(echo);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_string_equal(json_string_value(json_object_get(j, "provider")), "web echo");
    assert_string_equal(json_string_value(json_object_get(j, "model")), "m2");
    assert_true(strncmp(json_string_value(json_object_get(j, "text")), "echo: ", 6) == 0);
    assert_true(json_integer_value(json_object_get(j, "ms")) >= 0);
    json_decref(j);
    char *seen = fake_llm_control("GET", "requests", NULL);
    json_t *reqs = json_loads(seen, 0, NULL);
    free(seen);
    assert_int_equal(json_array_size(reqs), 1);
    json_t *h = json_object_get(json_array_get(reqs, 0), "headers");
    assert_string_equal(json_string_value(json_object_get(h, "authorization")), "Bearer " LLM_KEY);
    assert_string_equal(json_string_value(json_object_get(h, "x-team")), "blue");
    json_decref(reqs);
    /* a disabled provider can be tested (it sends a fixed prompt, nothing of the owner's) */
    j = llm_test(oll);
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    /* a provider's failure is an answer too: ok false and why */
    free(fake_llm_control("POST", "script",
                          "{\"route\":\"openai\",\"responses\":[{\"status\":500,\"body\":{\"error\":\"boom\"}}]}"));
    j = llm_test(echo);
    assert_false(json_is_true(json_object_get(j, "ok")));
    assert_non_null(json_string_value(json_object_get(j, "error")));
    assert_null(json_object_get(j, "text"));
    json_decref(j);
    r = api("POST", "/api/llm/providers/999999/test", NULL, true);
    assert_int_equal(r.status, 404);
    resp_free(&r);

    /* usage today: successful calls only, per provider and in total, on the page and in /metrics */
    j = llm_now();
    assert_int_equal(json_integer_value(json_object_get(element(j, "providers", "name", "web echo"), "usage_today")),
                     1);
    assert_int_equal(json_integer_value(json_object_get(element(j, "providers", "name", "web ollama"), "usage_today")),
                     1);
    assert_int_equal(json_integer_value(json_object_get(j, "usage_total_today")), 2);
    json_decref(j);
    char bh[200];
    snprintf(bh, sizeof(bh), "Authorization: Bearer %s", token);
    const char *bearer[] = {bh, NULL};
    r = http("GET", "/metrics", NULL, 0, bearer, NULL);
    j = json_of(&r);
    resp_free(&r);
    json_t *m = json_object_get(j, "llm");
    assert_int_equal(json_integer_value(json_object_get(m, "total_calls_today")), 2);
    e = element(m, "providers", "name", "web echo");
    assert_non_null(e);
    assert_int_equal(json_integer_value(json_object_get(e, "usage_today")), 1);
    assert_string_equal(json_string_value(json_object_get(e, "tier")), "local");
    json_decref(j);
    const char *text_h[] = {bh, "Accept: text/plain", NULL};
    r = http("GET", "/metrics", NULL, 0, text_h, NULL);
    assert_non_null(strstr(r.body, "alexclaw_llm_calls_today 2\n"));
    assert_non_null(strstr(r.body, "alexclaw_llm_provider_calls_today{provider=\"web echo\"} 1\n"));
    resp_free(&r);
    /* a daily limit reached: the test is refused by the router, and counts nothing */
    r = api("PUT", path, "{\"daily_limit\":1}", true);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    j = llm_test(echo);
    assert_false(json_is_true(json_object_get(j, "ok")));
    json_decref(j);

    /* the key: replaced (the provider gets the new one), removed (it has none); the bearer needs no CSRF token */
    r = api("PUT", path, "{\"api_key\":\"\",\"daily_limit\":null}", true);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    j = llm_now();
    e = element(j, "providers", "name", "web echo");
    assert_false(json_is_true(json_object_get(e, "has_api_key")));
    assert_string_equal(json_string_value(json_object_get(e, "api_key")), "");
    json_decref(j);
    r = http("GET", P, NULL, 0, bearer, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* delete: gone, then 404 */
    snprintf(path, sizeof(path), "/api/llm/providers/%lld", oll);
    r = api("DELETE", path, NULL, true);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"removed\":true"));
    resp_free(&r);
    r = api("DELETE", path, NULL, true);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    j = llm_now();
    assert_null(element(j, "providers", "name", "web ollama"));
    json_decref(j);
    stored = psql("SELECT string_agg(coalesce(api_key, ''), ',') FROM llm_providers");
    assert_null(strstr(stored, LLM_KEY));
    free(stored);
}

static void llm_provider_changes_wait_for_a_code(void **state)
{
    (void)state;
    char id[64], code[7], body[1024], path[96];
    const char *P = "/api/llm/providers";
    /* a refused provider is refused at once, without a challenge */
    llm_refused("POST", P, "{\"name\":\"g\",\"tier\":\"ultra\",\"model\":\"m\"}", 422, "tier", "tier");
    llm_refused("POST", P, "{\"name\":\"sql claude\",\"tier\":\"local\",\"model\":\"m\"}", 409, NULL, NULL);

    /* an addition with a key: the prompt names it but not the key, the challenge holds the key sealed only */
    snprintf(body, sizeof(body),
             "{\"name\":\"guarded echo\",\"type\":\"openai_compatible\",\"tier\":\"light\",\"host\":\"%s\","
             "\"model\":\"g1\",\"api_key\":\"" LLM_KEY2 "\",\"headers\":{\"X-Gateway-Token\":\"gw-held-sealed-5\"}}",
             fake_llm);
    resp_t r = api("POST", P, body, true);
    assert_null(strstr(r.body, LLM_KEY2));
    assert_non_null(strstr(r.body, "Add the LLM provider `guarded echo`"));
    assert_non_null(strstr(r.body, "a new API key"));
    challenge_of(&r, id, sizeof(id));
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT action::text FROM twofa_challenges WHERE id = '%s'", id);
    char *held = psql(sql);
    assert_non_null(strstr(held, "\"api_key_sealed\":\"enc:"));
    assert_null(strstr(held, LLM_KEY2));
    assert_non_null(strstr(held, "\"X-Gateway-Token\":\"enc:")); /* a secret header is sealed in the action too */
    assert_null(strstr(held, "gw-held-sealed-5"));
    free(held);
    json_t *j = llm_now();
    assert_null(element(j, "providers", "name", "guarded echo")); /* not before the code */
    assert_true(json_is_true(json_object_get(j, "two_factor")));
    json_decref(j);
    answers(verify(id, "000000"), 403, "\"attempts_left\":4");
    step_code(code);
    r = verify(id, code);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, LLM_KEY2));
    j = json_of(&r);
    resp_free(&r);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "llm_provider_save");
    long long g = json_integer_value(json_object_get(json_object_get(j, "result"), "id"));
    json_decref(j);
    assert_true(g > 0);
    j = llm_now();
    json_t *e = element(j, "providers", "name", "guarded echo");
    assert_non_null(e);
    assert_true(json_is_true(json_object_get(e, "has_api_key")));
    json_decref(j);
    /* a test needs no code, and the provider gets the key that was approved */
    free(fake_llm_control("POST", "reset", "{}"));
    j = llm_test(g);
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    char *seen = fake_llm_control("GET", "requests", NULL);
    assert_non_null(strstr(seen, "Bearer " LLM_KEY2));
    assert_non_null(strstr(seen, "gw-held-sealed-5")); /* the approved header value reaches the provider */
    free(seen);

    /* disabling, editing and deleting wait for a code; a wrong one changes nothing */
    snprintf(path, sizeof(path), "/api/llm/providers/%lld", g);
    r = api("PUT", path, "{\"enabled\":false}", true);
    assert_non_null(strstr(r.body, "Change the LLM provider #"));
    assert_non_null(strstr(r.body, "enabled: `false`"));
    challenge_of(&r, id, sizeof(id));
    answers(verify(id, "000000"), 403, "attempts_left");
    r = api("DELETE", path, NULL, true);
    assert_non_null(strstr(r.body, "Delete the LLM provider #"));
    challenge_of(&r, id, sizeof(id));
    j = llm_now();
    assert_true(json_is_true(json_object_get(element(j, "providers", "name", "guarded echo"), "enabled")));
    json_decref(j);
    step_code(code);
    answers(verify(id, code), 200, "\"type\":\"llm_provider_delete\"");
    j = llm_now();
    assert_null(element(j, "providers", "name", "guarded echo"));
    json_decref(j);
}

int main(void)
{
    base = getenv("AC_WEB_URL");
    password = getenv("AC_ADMIN_PASSWORD");
    fake_llm = getenv("AC_FAKE_LLM_URL");
    if (base == NULL || password == NULL || fake_llm == NULL) {
        fprintf(stderr,
                "AC_WEB_URL, AC_ADMIN_PASSWORD and AC_FAKE_LLM_URL must be set (tests/integration/web_http.sh)\n");
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
        cmocka_unit_test(policy_rules_are_checked_created_edited_and_removed),
        cmocka_unit_test(the_audit_log_is_filtered_paged_and_its_chain_verified),
        cmocka_unit_test(dynamic_skill_files_are_listed_written_and_refused_without_two_factor),
        cmocka_unit_test(llm_providers_are_listed_masked_created_edited_tested_and_removed),
        cmocka_unit_test(two_factor_guards_every_api_path), /* it turns 2FA on, until the last test */
        cmocka_unit_test(dynamic_skills_are_loaded_reloaded_and_unloaded_with_a_code),
        cmocka_unit_test(llm_provider_changes_wait_for_a_code),
        cmocka_unit_test(two_factor_is_turned_off_with_a_code),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
