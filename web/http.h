/* web/http.h - request and response helpers on top of h2o: answers that always carry the security headers, cookies,
 * form and query values, the client's address.
 *
 * Every answer goes through ac_web_respond (or a wrapper), which copies the body into the request's pool, sets
 * Content-Length, and adds: Content-Security-Policy (no inline script or style, no framing), X-Content-Type-Options,
 * Referrer-Policy, X-Frame-Options, Cache-Control (no-store unless the caller says otherwise) and, over TLS,
 * Strict-Transport-Security. Loop thread only. */
#ifndef AC_WEB_HTTP_H
#define AC_WEB_HTTP_H

#ifndef H2O_USE_LIBUV
#define H2O_USE_LIBUV 0
#endif
#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define AC_WEB_COOKIE_MAX 256 /* longest cookie value we read */

/* Answers with body (copied). cache: NULL for "no-store". */
void ac_web_respond(h2o_req_t *req, int status, const char *reason, const char *content_type, const char *body,
                    size_t len, const char *cache);
/* Answers with the JSON value (stolen; NULL answers 500). */
void ac_web_respond_json(h2o_req_t *req, int status, json_t *value);
/* {"error": msg} with status. */
void ac_web_error(h2o_req_t *req, int status, const char *msg);
/* 302 to location (a path on this server). */
void ac_web_redirect(h2o_req_t *req, const char *location);

/* The first header named `name` (lower case), or {NULL, 0}. */
h2o_iovec_t ac_web_header(h2o_req_t *req, const char *name);
bool ac_web_method_is(h2o_req_t *req, const char *method);
/* The request's path without the query string, as a NUL-terminated copy in the request's pool. */
const char *ac_web_path(h2o_req_t *req);

/* Copies the value of cookie `name` into out (at most cap - 1 bytes; longer values are treated as absent). Returns
 * true when present. */
bool ac_web_cookie(h2o_req_t *req, const char *name, char *out, size_t cap);
/* Adds Set-Cookie: name=value; Path=/; HttpOnly; SameSite=Strict[; Secure][; Max-Age=max_age] (max_age < 0: none;
 * 0 deletes the cookie). value must be cookie-safe (base64url). */
void ac_web_set_cookie(h2o_req_t *req, const char *name, const char *value, long max_age, bool secure);

/* Finds `name` in an application/x-www-form-urlencoded body or query string and decodes it into out (cap bytes,
 * NUL-terminated). Returns true when present and it fitted; a value with a NUL byte is refused (false). */
bool ac_web_form_value(const char *body, size_t len, const char *name, char *out, size_t cap);
/* Percent-decodes s[0..len) into out (cap bytes, NUL-terminated); '+' is a space when plus_is_space (forms). False
 * when it does not fit or decodes to a NUL byte. */
bool ac_web_percent_decode(const char *s, size_t len, bool plus_is_space, char *out, size_t cap);
/* The same for the request's query string. */
bool ac_web_query_value(h2o_req_t *req, const char *name, char *out, size_t cap);

/* The client's address as text. With trust_proxy, the last element of X-Forwarded-For (the address our proxy saw)
 * when it is a valid IPv4 or IPv6 address; else the peer address of the connection. */
void ac_web_client_addr(h2o_req_t *req, bool trust_proxy, char *out, size_t cap);
/* True when the request's Host (HTTP/1) or :authority (HTTP/2), without its port, is an IP address, "localhost", or
 * one of the comma-separated names in allowed (case-insensitive). Defeats DNS rebinding: a hostile page whose name
 * resolves to this node cannot talk to it, because the browser sends that page's host name. An HTTP/1 request without
 * a Host header is let through (no browser sends one). */
bool ac_web_host_allowed(h2o_req_t *req, const char *allowed);
/* True when the request came over TLS. */
bool ac_web_is_tls(h2o_req_t *req);

/* Escapes s for HTML text and attribute values into a string from req's pool. */
const char *ac_web_html_escape(h2o_req_t *req, const char *s);

#endif
