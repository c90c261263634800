/* skills/http.c - the bounded HTTP client (libcurl) and the core skills web_fetch and api_request (http.h).
 *
 * Workflows fetch pages and call APIs chosen by whoever writes the workflow, on worker threads that the executor cannot
 * kill. So every exchange here is fenced the same way: only http and https, also after a redirect (libcurl's protocol
 * lists, plus our own check of the first URL so a refusal is reported as such); at most a few redirects; the body
 * capped as it arrives (after decompression); an absolute deadline both as libcurl's timeout and in the progress
 * callback, which also watches the run's cancel flag; no signals (CURLOPT_NOSIGNAL), so any thread may call it.
 * Nothing identifying leaves in logs or errors but the URL without userinfo and query. */
#include "skills/http.h"

#include "node/log.h"
#include "policy/alloc.h"
#include "policy/error.h"
#include "skills/html_text.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Content types web_fetch returns as text (besides text/ * and any type ending in +json or +xml). */
static const char *const text_types[] = {
    "application/json",       "application/xml",          "application/javascript",
    "application/ecmascript", "application/x-javascript", "application/x-ndjson",
    "application/yaml",       "application/x-yaml",       "application/x-www-form-urlencoded",
};

/* api_request methods. */
static const char *const api_methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

/* Request headers a step may not set: the transfer's framing is libcurl's. */
static const char *const reserved_headers[] = {"content-length", "transfer-encoding"};

#define API_URL_MAX          16384
#define API_BODY_MAX         (8u * 1024 * 1024)
#define API_HEADERS_MAX      64
#define API_HEADER_VALUE_MAX 8192
#define TOKEN_MAX            256

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int ac_skills_http_global_init(void)
{
    pthread_once(&curl_once, curl_init_once);
    return curl_init_rc == CURLE_OK ? 0 : -AC_EIO;
}

/* ---- URLs -------------------------------------------------------------------------------------------------------- */

/* The authority of url (after "scheme://", up to the path, query or fragment); the whole prefix when there is no
 * "scheme://" before the first '/', '?' or '#'. Sets *len. */
static const char *url_authority(const char *url, size_t *len)
{
    const char *sep = strstr(url, "://");
    const char *auth = sep != NULL && (size_t)(sep - url) < strcspn(url, "/?#") ? sep + 3 : url;
    *len = strcspn(auth, "/?#");
    return auth;
}

char *ac_skills_http_url_redact(const char *url, char *out, size_t cap)
{
    size_t auth_len;
    const char *auth = url_authority(url, &auth_len);
    const char *at = memrchr(auth, '@', auth_len);
    const char *host = at != NULL ? at + 1 : auth;
    snprintf(out, cap, "%.*s%.*s", (int)(auth - url), url, (int)strcspn(host, "?#"), host);
    return out;
}

/* Sets *scheme to the URL's scheme (lower-cased, "" when it has none) and returns whether it is http or https. */
static bool url_scheme_ok(const char *url, char scheme[16])
{
    size_t k = 0;
    scheme[0] = '\0';
    for (const char *p = url; *p != ':'; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (k > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
        if (!ok || k + 1 >= 16) {
            scheme[0] = '\0';
            return false;
        }
        scheme[k++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
        scheme[k] = '\0';
    }
    return (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) && strncmp(url + k, "://", 3) == 0;
}

/* Replaces each occurrence of needle[0..n) in msg (at most AC_SKILLS_HTTP_ERROR_MAX bytes) with "[REDACTED]". */
static void scrub(char *msg, const char *needle, size_t n)
{
    static const char mark[] = "[REDACTED]";
    char tmp[AC_SKILLS_HTTP_ERROR_MAX];
    size_t w = 0;
    if (n < 3 || memmem(msg, strlen(msg), needle, n) == NULL)
        return;
    for (const char *p = msg; *p != '\0' && w + 1 < sizeof(tmp);) {
        if (strncmp(p, needle, n) == 0) {
            size_t k = sizeof(mark) - 1 < sizeof(tmp) - 1 - w ? sizeof(mark) - 1 : sizeof(tmp) - 1 - w;
            memcpy(tmp + w, mark, k);
            w += k;
            p += n;
        } else {
            tmp[w++] = *p++;
        }
    }
    tmp[w] = '\0';
    memcpy(msg, tmp, w + 1);
}

/* Removes the URL's userinfo and query from a libcurl message, should it quote them. */
static void scrub_url_parts(char *msg, const char *url)
{
    size_t auth_len;
    const char *auth = url_authority(url, &auth_len);
    const char *at = memrchr(auth, '@', auth_len);
    if (at != NULL)
        scrub(msg, auth, (size_t)(at - auth));
    const char *q = strchr(url, '?');
    if (q != NULL)
        scrub(msg, q + 1, strcspn(q + 1, "#"));
}

/* ---- the client -------------------------------------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap, max;
    bool truncate, too_large, truncated;
    ac_skills_http_guard_t guard;
} xfer_t;

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    xfer_t *x = arg;
    size_t n = size * nmemb, whole = n;
    if (n > x->max - x->len) {
        if (!x->truncate) {
            x->too_large = true;
            return 0; /* != n: libcurl stops with CURLE_WRITE_ERROR */
        }
        x->truncated = true;
        n = x->max - x->len; /* what fits is kept; returning less than whole then stops the transfer */
    }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap < 16384 ? 16384 : x->cap * 2;
        while (cap < x->len + n + 1)
            cap *= 2;
        if (cap > x->max + 1)
            cap = x->max + 1;
        x->buf = ac_realloc(x->buf, cap);
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    return x->truncated ? 0 : whole;
}

int ac_skills_http_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    ac_skills_http_guard_t *g = arg;
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    if (g->cancel != NULL && *g->cancel != 0) {
        g->cancelled = true;
        return 1;
    }
    if (ac_skill_now_ms() >= g->deadline_ms) {
        g->expired = true;
        return 1;
    }
    return 0;
}

static bool is_token(const char *s, size_t max)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || strchr(extra, c)))
            return false;
    }
    return n > 0 && n <= max;
}

static bool is_header_value(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return false;
    }
    return true;
}

/* Frees a header list after zeroing its lines (they may hold an API key or a token). */
static void slist_free_wiped(struct curl_slist *list)
{
    for (struct curl_slist *l = list; l != NULL; l = l->next)
        if (l->data != NULL)
            explicit_bzero(l->data, strlen(l->data));
    curl_slist_free_all(list);
}

/* Builds libcurl's header list: "Name: value" ("Name;" sends an empty value; "Name:" would remove the header), then
 * removals of the Content-Type libcurl adds to bodies and of Expect: 100-continue (a needless round trip).
 * Returns 0, -AC_EINVAL for a bad header, or -AC_ENOMEM. */
static int header_list(const ac_skills_http_req_t *req, struct curl_slist **out)
{
    struct curl_slist *list = NULL;
    bool has_ct = false, has_expect = false;
    int rc = 0;
    for (size_t k = 0; k < req->n_headers; k++) {
        const ac_skills_http_header_t *h = &req->headers[k];
        if (h->name == NULL || h->value == NULL || !is_token(h->name, TOKEN_MAX) || !is_header_value(h->value)) {
            rc = -AC_EINVAL;
            goto Exit;
        }
        has_ct |= strcasecmp(h->name, "Content-Type") == 0;
        has_expect |= strcasecmp(h->name, "Expect") == 0;
        size_t n = strlen(h->name) + strlen(h->value) + 3;
        char *line = ac_malloc(n);
        snprintf(line, n, h->value[0] != '\0' ? "%s: %s" : "%s;", h->name, h->value);
        struct curl_slist *next = curl_slist_append(list, line);
        ac_free_secret(line, n); /* header lines carry API keys and tokens */
        if (next == NULL) {
            rc = -AC_ENOMEM;
            goto Exit;
        }
        list = next;
    }
    const char *removals[2] = {has_ct || req->body == NULL ? NULL : "Content-Type:", has_expect ? NULL : "Expect:"};
    for (size_t k = 0; k < 2; k++) {
        if (removals[k] == NULL)
            continue;
        struct curl_slist *next = curl_slist_append(list, removals[k]);
        if (next == NULL) {
            rc = -AC_ENOMEM;
            goto Exit;
        }
        list = next;
    }
Exit:
    if (rc != 0) {
        slist_free_wiped(list);
        list = NULL;
    }
    *out = list;
    return rc;
}

/* Chooses the request line so libcurl sends exactly req->method, with the body when there is one. */
static void set_method(CURL *curl, const ac_skills_http_req_t *req, const char *method)
{
    bool body = req->body != NULL;
    if (strcmp(method, "GET") == 0 && !body) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
        return;
    }
    /* POSTFIELDS makes libcurl send POST; any other method is named explicitly. PUT and PATCH without a body still
     * send Content-Length: 0, which some servers require. */
    if (strcmp(method, "POST") != 0)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? req->body_len : 0));
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? req->body : "");
    }
}

int ac_skills_http_request(const ac_skills_http_req_t *req, ac_skills_http_resp_t *resp)
{
    CURL *curl = NULL;
    struct curl_slist *headers = NULL;
    xfer_t x = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    char safe_url[256] = "";
    const char *method = req->method != NULL ? req->method : "GET";
    int64_t started = ac_skill_now_ms();
    int rc;

    memset(resp, 0, sizeof(*resp));
    if (req->url == NULL || !is_token(method, 32)) {
        snprintf(resp->error, sizeof(resp->error), "invalid request (URL or method)");
        return -AC_EINVAL;
    }
    ac_skills_http_url_redact(req->url, safe_url, sizeof(safe_url));
    char scheme[16];
    if (!url_scheme_ok(req->url, scheme)) {
        if (scheme[0] != '\0')
            snprintf(resp->error, sizeof(resp->error), "scheme \"%s\" is not http or https", scheme);
        else
            snprintf(resp->error, sizeof(resp->error), "URL without an http or https scheme");
        rc = -AC_EPERM;
        goto Exit;
    }
    if ((rc = header_list(req, &headers)) != 0) {
        snprintf(resp->error, sizeof(resp->error), rc == -AC_EINVAL ? "invalid header" : "out of memory");
        goto Exit;
    }
    if (req->cancel != NULL && *req->cancel != 0) {
        snprintf(resp->error, sizeof(resp->error), "cancelled");
        rc = -AC_ESTOPPED;
        goto Exit;
    }
    int64_t left = req->deadline_ms - started;
    if (left <= 0) { /* libcurl reads a timeout of 0 as "none": never hand it one */
        resp->timed_out = true;
        snprintf(resp->error, sizeof(resp->error), "deadline passed before the request");
        rc = -AC_ETIMEDOUT;
        goto Exit;
    }
    if (ac_skills_http_global_init() != 0 || (curl = curl_easy_init()) == NULL) {
        snprintf(resp->error, sizeof(resp->error), "libcurl initialisation failed");
        rc = -AC_EIO;
        goto Exit;
    }

    x.max = req->max_bytes != 0 ? req->max_bytes : AC_SKILLS_HTTP_MAX_BYTES;
    x.truncate = req->truncate;
    x.guard.cancel = req->cancel;
    x.guard.deadline_ms = req->deadline_ms;
    /* The protocol lists are the security boundary: refuse to go on without them. */
    if (curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_URL, req->url) != CURLE_OK) {
        snprintf(resp->error, sizeof(resp->error), "libcurl refused the URL or protocol list");
        rc = -AC_EIO;
        goto Exit;
    }
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "AlexClaw/C " AC_VERSION);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, req->max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, (long)(req->max_redirects > 0 ? req->max_redirects : 0));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    if (!x.truncate) /* a Content-Length over the cap is refused before the body is read */
        curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x.max);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, ac_skills_http_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &x.guard);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    set_method(curl, req, method);

    CURLcode cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    switch (cc) {
    case CURLE_OK: rc = 0; break;
    case CURLE_OPERATION_TIMEDOUT: rc = -AC_ETIMEDOUT; break;
    case CURLE_ABORTED_BY_CALLBACK:
        rc = x.guard.cancelled ? -AC_ESTOPPED : x.guard.expired ? -AC_ETIMEDOUT : -AC_EIO;
        break;
    case CURLE_FILESIZE_EXCEEDED: rc = -AC_ETOOLONG; break;
    case CURLE_WRITE_ERROR: rc = x.truncated ? 0 : x.too_large ? -AC_ETOOLONG : -AC_EIO; break;
    case CURLE_UNSUPPORTED_PROTOCOL: rc = -AC_EPERM; break;
    default: rc = -AC_EIO; break;
    }
    if (rc == 0) {
        char *ct = NULL;
        if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
            resp->content_type = ac_strdup(ct);
        resp->body = x.buf != NULL ? x.buf : ac_malloc(1);
        resp->body[x.len] = '\0';
        resp->body_len = x.len;
        resp->truncated = x.truncated;
        x.buf = NULL;
    } else if (rc == -AC_ETIMEDOUT) {
        resp->timed_out = true;
        snprintf(resp->error, sizeof(resp->error), "timed out after %lld ms", (long long)(ac_skill_now_ms() - started));
    } else if (rc == -AC_ESTOPPED) {
        snprintf(resp->error, sizeof(resp->error), "cancelled");
    } else if (rc == -AC_ETOOLONG) {
        snprintf(resp->error, sizeof(resp->error), "response body over %zu bytes", x.max);
    } else {
        snprintf(resp->error, sizeof(resp->error), "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
        scrub_url_parts(resp->error, req->url);
    }

Exit:
    ac_log_debug("http", "request", "method=%s url=%s status=%ld bytes=%zu ms=%lld error=%s", method, safe_url,
                 resp->status, x.len, (long long)(ac_skill_now_ms() - started), resp->error);
    free(x.buf);
    slist_free_wiped(headers);
    if (curl != NULL)
        curl_easy_cleanup(curl);
    return rc;
}

void ac_skills_http_resp_free(ac_skills_http_resp_t *resp)
{
    free(resp->body);
    free(resp->content_type);
    resp->body = NULL;
    resp->content_type = NULL;
}

/* ---- shared by the skills ---------------------------------------------------------------------------------------- */

/* The request's deadline: AC_SKILLS_HTTP_TIMEOUT_MS from now or the step's deadline, whichever comes first. */
static int64_t request_deadline(const ac_skill_ctx_t *ctx)
{
    int64_t d = ac_skill_now_ms() + AC_SKILLS_HTTP_TIMEOUT_MS;
    return ctx->deadline_ms < d ? ctx->deadline_ms : d;
}

/* Whether the media type of content type ct (parameters ignored) is `type`, case-insensitively. */
static bool media_type_is(const char *ct, const char *type)
{
    if (ct == NULL)
        return false;
    ct += strspn(ct, " \t");
    size_t n = strcspn(ct, "; \t");
    return n == strlen(type) && strncasecmp(ct, type, n) == 0;
}

/* Whether the media type of ct ends with suffix ("+json"). */
static bool media_type_suffix(const char *ct, const char *suffix)
{
    if (ct == NULL)
        return false;
    ct += strspn(ct, " \t");
    size_t n = strcspn(ct, "; \t"), sn = strlen(suffix);
    return n > sn && strncasecmp(ct + n - sn, suffix, sn) == 0;
}

/* A body as a JSON string, invalid UTF-8 and NULs replaced by U+FFFD. */
static json_t *text_json(const char *body, size_t len)
{
    if (memchr(body, '\0', len) == NULL) {
        json_t *j = json_stringn(body, len);
        if (j != NULL)
            return j;
    }
    size_t n;
    char *fixed = ac_skills_html_text_utf8(body, len, &n);
    json_t *j = json_stringn(fixed, n);
    free(fixed);
    return j;
}

/* Turns a failed exchange into the skill's result. */
static int transport_result(int rc, const ac_skills_http_resp_t *resp, const char *failed_code, ac_skill_result_t *res)
{
    switch (rc) {
    case -AC_ETIMEDOUT: return ac_skill_ok(res, NULL, "on_timeout");
    case -AC_ESTOPPED: return ac_skill_fail(res, "cancelled", NULL);
    case -AC_ETOOLONG: return ac_skill_fail(res, "too_large", "%s", resp->error);
    case -AC_EPERM: return ac_skill_fail(res, "unsupported_scheme", "%s", resp->error);
    default: return ac_skill_fail(res, failed_code, "%s", resp->error);
    }
}

/* ---- web_fetch --------------------------------------------------------------------------------------------------- */

static bool is_text_type(const char *ct)
{
    if (strncasecmp(ct + strspn(ct, " \t"), "text/", 5) == 0 || media_type_suffix(ct, "+json") ||
        media_type_suffix(ct, "+xml"))
        return true;
    for (size_t k = 0; k < sizeof(text_types) / sizeof(text_types[0]); k++)
        if (media_type_is(ct, text_types[k]))
            return true;
    return false;
}

/* HTML by content type, or by its first bytes (after a byte-order mark and whitespace). */
static bool is_html(const char *ct, const char *body, size_t len)
{
    if (media_type_is(ct, "text/html") || media_type_is(ct, "application/xhtml+xml"))
        return true;
    size_t i = len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < len && strchr(" \t\r\n\f", body[i]) != NULL && body[i] != '\0')
        i++;
    return (len - i >= 9 && strncasecmp(body + i, "<!doctype", 9) == 0) ||
           (len - i >= 5 && strncasecmp(body + i, "<html", 5) == 0);
}

static int web_fetch_run(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, ac_skill_result_t *res)
{
    const char *url = ac_skill_config_str(args->config, "url");
    if (url == NULL || url[0] == '\0')
        return ac_skill_fail(res, "no_url", NULL);

    ac_skills_http_req_t req = {
        .method = "GET",
        .url = url,
        .deadline_ms = request_deadline(ctx),
        .max_bytes = AC_SKILLS_HTTP_MAX_BYTES,
        .max_redirects = AC_SKILLS_HTTP_MAX_REDIRECTS,
        .cancel = ctx->cancel,
    };
    ac_skills_http_resp_t resp;
    int rc = ac_skills_http_request(&req, &resp);
    if (rc != 0) {
        rc = transport_result(rc, &resp, "fetch_failed", res);
    } else if (resp.status == 404) {
        rc = ac_skill_ok(res, NULL, "on_not_found");
    } else if (resp.status < 200 || resp.status > 299) {
        rc = ac_skill_fail(res, "http_status", "%ld", resp.status);
    } else if (resp.content_type != NULL ? !is_text_type(resp.content_type)
                                         : memchr(resp.body, '\0', resp.body_len) != NULL) {
        rc = ac_skill_fail(res, "binary_content", "%.64s", resp.content_type ? resp.content_type : "(no content type)");
    } else if (is_html(resp.content_type, resp.body, resp.body_len)) {
        char *text = NULL;
        int n = ac_skills_html_text(resp.body, resp.body_len, &text, AC_SKILLS_HTTP_MAX_BYTES);
        rc = ac_skill_ok(res, json_stringn(text, (size_t)n), "on_success");
        free(text);
    } else {
        rc = ac_skill_ok(res, text_json(resp.body, resp.body_len), "on_success");
    }
    ac_skills_http_resp_free(&resp);
    return rc;
}

/* ---- api_request ------------------------------------------------------------------------------------------------- */

static const char INPUT_RAW[] = "{input}";
static const char INPUT_ENC[] = "{input_encoded}";

static bool has_placeholder(const char *s, size_t n)
{
    return memmem(s, n, INPUT_RAW, sizeof(INPUT_RAW) - 1) != NULL ||
           memmem(s, n, INPUT_ENC, sizeof(INPUT_ENC) - 1) != NULL;
}

/* Percent-encodes s[0..n) keeping RFC 3986 unreserved characters. From ac_malloc. */
static char *percent_encode(const char *s, size_t n, size_t *out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = ac_malloc(n * 3 + 1), *w = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            *w++ = (char)c;
        } else {
            *w++ = '%';
            *w++ = hex[c >> 4];
            *w++ = hex[c & 15];
        }
    }
    *w = '\0';
    *out_len = (size_t)(w - out);
    return out;
}

typedef struct {
    const char *p;
    size_t n;
} span_t;

/* Replaces "{input}" with raw and "{input_encoded}" with enc in t[0..tn). Returns -AC_ETOOLONG when the result
 * would exceed cap bytes, else 0 with *out (from ac_malloc, NUL-terminated) and *out_len. */
static int interpolate(const char *t, size_t tn, span_t raw, span_t enc, size_t cap, char **out, size_t *out_len)
{
    char *buf = NULL;
    size_t len = 0;
    for (int pass = 0; pass < 2; pass++) {
        len = 0;
        for (size_t i = 0; i < tn;) {
            span_t piece = {t + i, 1};
            size_t used = 1;
            if (t[i] == '{' && tn - i >= sizeof(INPUT_RAW) - 1 && memcmp(t + i, INPUT_RAW, sizeof(INPUT_RAW) - 1) == 0)
                piece = raw, used = sizeof(INPUT_RAW) - 1;
            else if (t[i] == '{' && tn - i >= sizeof(INPUT_ENC) - 1 &&
                     memcmp(t + i, INPUT_ENC, sizeof(INPUT_ENC) - 1) == 0)
                piece = enc, used = sizeof(INPUT_ENC) - 1;
            if (pass == 0 && piece.n > cap - len)
                return -AC_ETOOLONG;
            if (pass == 1)
                memcpy(buf + len, piece.p, piece.n);
            len += piece.n;
            i += used;
        }
        if (pass == 0)
            buf = ac_malloc(len + 1);
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

/* The step's method, upper-cased into m. Returns false when it is not one api_request allows. */
static bool api_method(const json_t *config, char m[8], char *shown, size_t shown_cap)
{
    json_t *v = json_object_get(config, "method");
    if (v == NULL || json_is_null(v)) {
        strcpy(m, "GET");
        return true;
    }
    if (!json_is_string(v)) {
        snprintf(shown, shown_cap, "(%s)", json_is_number(v) ? "number" : "not a string");
        return false;
    }
    const char *s = json_string_value(v);
    snprintf(shown, shown_cap, "%.32s", s);
    for (char *p = shown; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = '?';
    size_t n = json_string_length(v);
    if (n == 0 || n >= 8 || strlen(s) != n)
        return false;
    for (size_t k = 0; k <= n; k++)
        m[k] = (s[k] >= 'a' && s[k] <= 'z') ? (char)(s[k] - 'a' + 'A') : s[k];
    for (size_t k = 0; k < sizeof(api_methods) / sizeof(api_methods[0]); k++)
        if (strcmp(m, api_methods[k]) == 0)
            return true;
    return false;
}

/* Reads config.headers into *out (ac_malloc; values borrowed from config). Returns 0, or -1 with res set. */
static int api_headers(const json_t *config, ac_skills_http_header_t **out, size_t *n_out, bool *has_ct,
                       ac_skill_result_t *res)
{
    json_t *h = json_object_get(config, "headers");
    *out = NULL;
    *n_out = 0;
    *has_ct = false;
    if (h == NULL || json_is_null(h))
        return 0;
    if (!json_is_object(h))
        return ac_skill_fail(res, "invalid_headers", "headers must be an object of strings");
    if (json_object_size(h) > API_HEADERS_MAX)
        return ac_skill_fail(res, "invalid_headers", "more than %d headers", API_HEADERS_MAX);
    ac_skills_http_header_t *list = ac_calloc(json_object_size(h) + 1, sizeof(*list));
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(h, key, v)
    {
        if (!is_token(key, TOKEN_MAX)) {
            free(list);
            return ac_skill_fail(res, "invalid_headers", "invalid header name");
        }
        for (size_t k = 0; k < sizeof(reserved_headers) / sizeof(reserved_headers[0]); k++) {
            if (strcasecmp(key, reserved_headers[k]) == 0) {
                free(list);
                return ac_skill_fail(res, "invalid_headers", "%s is set by the client", key);
            }
        }
        if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v)) ||
            json_string_length(v) > API_HEADER_VALUE_MAX || !is_header_value(json_string_value(v))) {
            free(list);
            /* Never the value: it may be a credential. */
            return ac_skill_fail(res, "invalid_headers", "value of %s must be a string without control characters",
                                 key);
        }
        *has_ct |= strcasecmp(key, "Content-Type") == 0;
        list[n].name = key;
        list[n].value = json_string_value(v);
        n++;
    }
    *out = list;
    *n_out = n;
    return 0;
}

/* A JSON-escaped copy of s[0..n) without the surrounding quotes, for insertion into a JSON string. From ac_malloc;
 * NULL if s is not valid UTF-8. */
static char *json_escape(const char *s, size_t n, size_t *out_len)
{
    json_t *str = json_stringn(s, n);
    char *dumped = str != NULL ? json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(str);
    if (dumped == NULL)
        return NULL;
    size_t len = strlen(dumped);
    char *out = ac_strndup(dumped + 1, len - 2);
    free(dumped);
    *out_len = len - 2;
    return out;
}

/* The response body as output: parsed JSON when the response says it is JSON and it parses, else a string. */
static json_t *api_output(const ac_skills_http_resp_t *resp)
{
    if (media_type_is(resp->content_type, "application/json") || media_type_suffix(resp->content_type, "+json")) {
        json_t *j = json_loadb(resp->body, resp->body_len, JSON_DECODE_ANY, NULL);
        if (j != NULL)
            return j;
    }
    return text_json(resp->body, resp->body_len);
}

/* The step input as text and percent-encoded, made on first use (only a placeholder needs them). */
typedef struct {
    const json_t *src;
    char *raw, *enc;
    size_t raw_n, enc_n;
} input_t;

static void input_make(input_t *in)
{
    if (in->raw != NULL)
        return;
    in->raw = ac_skill_input_text(in->src);
    in->raw_n = strlen(in->raw);
    in->enc = percent_encode(in->raw, in->raw_n, &in->enc_n);
}

/* What api_request sends, built from the step (api_build); every pointer is freed by api_free. */
typedef struct {
    char method[8];
    char *url;
    ac_skills_http_header_t *headers; /* names and values borrowed from config */
    size_t n_headers;
    char *body; /* NULL: none */
    size_t body_len;
} api_call_t;

static void api_free(api_call_t *c)
{
    free(c->url);
    free(c->headers);
    free(c->body);
}

/* Fills c->body (and a Content-Type header for JSON) from config.body, input interpolated. Returns 0, or -1 with res
 * set. */
static int api_body(const json_t *config, input_t *in, bool has_ct, api_call_t *c, ac_skill_result_t *res)
{
    json_t *b = json_object_get(config, "body");
    char *dumped = NULL, *escaped = NULL;
    int rc = 0;
    if (b == NULL || json_is_null(b))
        return 0;
    if (!json_is_string(b) && !json_is_object(b) && !json_is_array(b))
        return ac_skill_fail(res, "invalid_body", "body must be a string, an object or an array");

    bool json_body = !json_is_string(b);
    const char *text = json_body ? (dumped = json_dumps(b, JSON_COMPACT)) : json_string_value(b);
    if (text == NULL)
        return ac_skill_fail(res, "invalid_body", "body cannot be encoded as JSON");
    size_t len = json_body ? strlen(text) : json_string_length(b);
    if (has_placeholder(text, len)) {
        input_make(in);
        span_t raw = {in->raw, in->raw_n}, enc = {in->enc, in->enc_n};
        if (json_body) {
            /* A placeholder can only stand inside a JSON string (a structural '{' is followed by '"' or '}'), so the
             * input goes in escaped and the body stays valid JSON. */
            if (in->raw_n > API_BODY_MAX || (escaped = json_escape(in->raw, in->raw_n, &raw.n)) == NULL) {
                rc = ac_skill_fail(res, "body_too_large", "over %u bytes", API_BODY_MAX);
                goto Exit;
            }
            raw.p = escaped;
        }
        if (interpolate(text, len, raw, enc, API_BODY_MAX, &c->body, &c->body_len) != 0) {
            rc = ac_skill_fail(res, "body_too_large", "over %u bytes", API_BODY_MAX);
            goto Exit;
        }
    } else {
        if (len > API_BODY_MAX) {
            rc = ac_skill_fail(res, "body_too_large", "over %u bytes", API_BODY_MAX);
            goto Exit;
        }
        c->body = ac_malloc(len + 1);
        memcpy(c->body, text, len);
        c->body[len] = '\0';
        c->body_len = len;
    }
    if (json_body && !has_ct) {
        c->headers = ac_realloc(c->headers, (c->n_headers + 1) * sizeof(*c->headers));
        c->headers[c->n_headers++] = (ac_skills_http_header_t){"Content-Type", "application/json"};
    }
Exit:
    free(dumped);
    free(escaped);
    return rc;
}

/* Validates the step's config and builds the request. Returns 0, or -1 with res set. */
static int api_build(const ac_skill_args_t *args, api_call_t *c, ac_skill_result_t *res)
{
    input_t in = {.src = args->input};
    size_t url_len = 0;
    char shown[48];
    bool has_ct = false;
    int rc = -1;

    if (!api_method(args->config, c->method, shown, sizeof(shown)))
        return ac_skill_fail(res, "invalid_method", "%s", shown);
    const char *url = ac_skill_config_str(args->config, "url");
    if (url == NULL || url[0] == '\0')
        return ac_skill_fail(res, "no_url", NULL);
    if (api_headers(args->config, &c->headers, &c->n_headers, &has_ct, res) != 0)
        return -1;

    if (has_placeholder(url, strlen(url))) {
        input_make(&in);
        if (interpolate(url, strlen(url), (span_t){in.raw, in.raw_n}, (span_t){in.enc, in.enc_n}, API_URL_MAX, &c->url,
                        &url_len) != 0) {
            rc = ac_skill_fail(res, "invalid_url", "longer than %d bytes", API_URL_MAX);
            goto Exit;
        }
    } else if (strlen(url) > API_URL_MAX) {
        rc = ac_skill_fail(res, "invalid_url", "longer than %d bytes", API_URL_MAX);
        goto Exit;
    } else {
        c->url = ac_strdup(url);
    }
    rc = api_body(args->config, &in, has_ct, c, res);
Exit:
    free(in.raw);
    free(in.enc);
    return rc;
}

static int api_request_run(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, ac_skill_result_t *res)
{
    api_call_t c = {0};
    ac_skills_http_resp_t resp = {0};
    int rc = api_build(args, &c, res);
    if (rc != 0)
        goto Exit;

    ac_skills_http_req_t req = {
        .method = c.method,
        .url = c.url,
        .headers = c.headers,
        .n_headers = c.n_headers,
        .body = c.body,
        .body_len = c.body_len,
        .deadline_ms = request_deadline(ctx),
        .max_bytes = AC_SKILLS_HTTP_MAX_BYTES,
        .max_redirects = AC_SKILLS_HTTP_MAX_REDIRECTS,
        .cancel = ctx->cancel,
    };
    rc = ac_skills_http_request(&req, &resp);
    if (rc != 0) {
        rc = transport_result(rc, &resp, "request_failed", res);
        goto Exit;
    }
    switch (resp.status / 100) {
    case 2: rc = ac_skill_ok(res, api_output(&resp), "on_2xx"); break;
    case 4: rc = ac_skill_ok(res, api_output(&resp), "on_4xx"); break;
    case 5: rc = ac_skill_ok(res, api_output(&resp), "on_5xx"); break;
    default: rc = ac_skill_fail(res, "http", "%ld", resp.status); break;
    }
Exit:
    ac_skills_http_resp_free(&resp);
    api_free(&c);
    return rc;
}

/* ---- definitions ------------------------------------------------------------------------------------------------- */

static const char *const web_fetch_routes[] = {"on_success", "on_not_found", "on_timeout", "on_error", NULL};
static const char *const api_request_routes[] = {"on_2xx", "on_4xx", "on_5xx", "on_timeout", "on_error", NULL};

const ac_skill_def_t ac_skills_web_fetch = {
    .name = "web_fetch",
    .description = "Fetches a web page (http/https) and returns its text; HTML is reduced to readable text.",
    .routes = web_fetch_routes,
    .config_hint = "url",
    .external = true,
    .run = web_fetch_run,
};

const ac_skill_def_t ac_skills_api_request = {
    .name = "api_request",
    .description = "Calls an HTTP API and routes on the status class; JSON responses are parsed.",
    .routes = api_request_routes,
    .config_hint =
        "method (GET/POST/PUT/PATCH/DELETE), url, headers, body; {input} and {input_encoded} in url and body",
    .external = true,
    .run = api_request_run,
};
