/* web/http.c - the request and response helpers of http.h. */
#include "web/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define CSP                                                                                                            \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "              \
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static void add(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, value, strlen(value));
}

static void security_headers(h2o_req_t *req, const char *cache)
{
    add(req, "content-security-policy", CSP);
    add(req, "x-content-type-options", "nosniff");
    add(req, "referrer-policy", "no-referrer");
    add(req, "x-frame-options", "DENY");
    add(req, "cache-control", cache != NULL ? cache : "no-store");
    if (ac_web_is_tls(req))
        add(req, "strict-transport-security", "max-age=31536000");
}

void ac_web_respond(h2o_req_t *req, int status, const char *reason, const char *content_type, const char *body,
                    size_t len, const char *cache)
{
    char *copy = h2o_mem_alloc_pool(&req->pool, len + 1);
    if (len > 0)
        memcpy(copy, body, len);
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    if (content_type != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    security_headers(req, cache);
    h2o_send_inline(req, copy, len);
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
    }
}

void ac_web_respond_json(h2o_req_t *req, int status, json_t *value)
{
    char *s = value != NULL ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(value);
    if (s == NULL) {
        static const char fail[] = "{\"error\":\"internal error\"}";
        ac_web_respond(req, 500, reason_of(500), "application/json", fail, sizeof(fail) - 1, NULL);
        return;
    }
    ac_web_respond(req, status, reason_of(status), "application/json", s, strlen(s), NULL);
    free(s);
}

void ac_web_error(h2o_req_t *req, int status, const char *msg)
{
    ac_web_respond_json(req, status, json_pack("{s:s}", "error", msg));
}

void ac_web_redirect(h2o_req_t *req, const char *location)
{
    add(req, "location", location);
    ac_web_respond(req, 302, reason_of(302), "text/plain; charset=utf-8", "", 0, NULL);
}

h2o_iovec_t ac_web_header(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    return i >= 0 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
}

bool ac_web_method_is(h2o_req_t *req, const char *method)
{
    return h2o_memis(req->method.base, req->method.len, method, strlen(method));
}

const char *ac_web_path(h2o_req_t *req)
{
    size_t n = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    char *p = h2o_mem_alloc_pool(&req->pool, n + 1);
    memcpy(p, req->path.base, n);
    p[n] = '\0';
    return p;
}

bool ac_web_cookie(h2o_req_t *req, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) != -1;) {
        const char *p = req->headers.entries[i].value.base, *end = p + req->headers.entries[i].value.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *item = p;
            while (p < end && *p != ';')
                p++;
            size_t ilen = (size_t)(p - item);
            if (ilen > nlen && item[nlen] == '=' && memcmp(item, name, nlen) == 0) {
                size_t vlen = ilen - nlen - 1;
                if (vlen >= cap)
                    return false;
                memcpy(out, item + nlen + 1, vlen);
                out[vlen] = '\0';
                return true;
            }
        }
    }
    return false;
}

void ac_web_set_cookie(h2o_req_t *req, const char *name, const char *value, long max_age, bool secure)
{
    char buf[512];
    char age[48] = "";
    if (max_age >= 0)
        snprintf(age, sizeof(age), "; Max-Age=%ld", max_age);
    int n = snprintf(buf, sizeof(buf), "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", name, value,
                     secure ? "; Secure" : "", age);
    if (n > 0 && (size_t)n < sizeof(buf))
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, h2o_strdup(&req->pool, buf, n).base,
                       (size_t)n);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

bool ac_web_percent_decode(const char *s, size_t len, bool plus_is_space, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+' && plus_is_space) {
            c = ' ';
        } else if (c == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        if (c == '\0' || o + 1 >= cap)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

bool ac_web_form_value(const char *body, size_t len, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = body, *end = body + len;
    while (body != NULL && p < end) {
        const char *item = p;
        while (p < end && *p != '&')
            p++;
        size_t ilen = (size_t)(p - item);
        if (ilen >= nlen && memcmp(item, name, nlen) == 0 && (ilen == nlen || item[nlen] == '='))
            return ac_web_percent_decode(item + nlen + (ilen > nlen), ilen - nlen - (ilen > nlen), true, out, cap);
        if (p < end)
            p++;
    }
    return false;
}

bool ac_web_query_value(h2o_req_t *req, const char *name, char *out, size_t cap)
{
    if (req->query_at == SIZE_MAX)
        return false;
    return ac_web_form_value(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1, name, out, cap);
}

void ac_web_client_addr(h2o_req_t *req, bool trust_proxy, char *out, size_t cap)
{
    if (trust_proxy) {
        /* The last element is the address our proxy saw (a proxy appends it, or writes it alone); earlier elements
         * come from the client and could be anything. It must parse as an IP address. */
        h2o_iovec_t xff = ac_web_header(req, "x-forwarded-for");
        if (xff.base != NULL) {
            const char *start = xff.base, *end = xff.base + xff.len;
            for (const char *p = end; p > xff.base; p--)
                if (p[-1] == ',') {
                    start = p;
                    break;
                }
            while (start < end && (*start == ' ' || *start == '\t'))
                start++;
            while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            char ip[INET6_ADDRSTRLEN];
            unsigned char bin[sizeof(struct in6_addr)];
            size_t n = (size_t)(end - start);
            if (n > 0 && n < sizeof(ip)) {
                memcpy(ip, start, n);
                ip[n] = '\0';
                if ((inet_pton(AF_INET, ip, bin) == 1 || inet_pton(AF_INET6, ip, bin) == 1) && n < cap) {
                    memcpy(out, ip, n + 1);
                    return;
                }
            }
        }
    }
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    snprintf(out, cap, "unknown");
    if (len > 0 && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)cap);
    else if (len > 0 && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)cap);
}

bool ac_web_host_allowed(h2o_req_t *req, const char *allowed)
{
    h2o_iovec_t a = req->input.authority;
    /* An HTTP/1 request without Host (h2o then fills in the host configuration's name, "default") comes from no
     * browser, so from no rebound page. */
    h2o_iovec_t dflt = req->hostconf->authority.hostport;
    if (req->version < 0x200 && h2o_memis(a.base, a.len, dflt.base, dflt.len))
        return true;
    const char *p = a.base, *end = a.base + a.len;
    char host[256];
    size_t n;
    if (a.base == NULL || a.len == 0)
        return false;
    if (*p == '[') { /* [IPv6]:port */
        const char *close = memchr(p, ']', a.len);
        if (close == NULL)
            return false;
        n = (size_t)(close - p - 1);
        p++;
    } else {
        const char *colon = memchr(p, ':', a.len);
        n = (size_t)((colon != NULL ? colon : end) - p);
    }
    if (n == 0 || n >= sizeof(host))
        return false;
    memcpy(host, p, n);
    host[n] = '\0';
    unsigned char bin[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1 || strcasecmp(host, "localhost") == 0)
        return true;
    for (const char *q = allowed != NULL ? allowed : ""; *q;) {
        while (*q == ' ' || *q == ',')
            q++;
        const char *start = q;
        while (*q && *q != ',')
            q++;
        const char *stop = q;
        while (stop > start && stop[-1] == ' ')
            stop--;
        if ((size_t)(stop - start) == n && n > 0 && strncasecmp(start, host, n) == 0)
            return true;
    }
    return false;
}

bool ac_web_is_tls(h2o_req_t *req)
{
    return req->scheme == &H2O_URL_SCHEME_HTTPS;
}

const char *ac_web_html_escape(h2o_req_t *req, const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' || *p == '\'' ? 6 : 1;
    char *out = h2o_mem_alloc_pool(&req->pool, n + 1), *o = out;
    for (const char *p = s; *p; p++) {
        const char *r = *p == '&'    ? "&amp;"
                        : *p == '<'  ? "&lt;"
                        : *p == '>'  ? "&gt;"
                        : *p == '"'  ? "&quot;"
                        : *p == '\'' ? "&#x27;"
                                     : NULL;
        if (r != NULL) {
            memcpy(o, r, strlen(r));
            o += strlen(r);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}
