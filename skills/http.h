/* skills/http.h - the core skills web_fetch and api_request, and the bounded HTTP client they share.
 *
 * ac_skills_http_request() is the one place the node speaks HTTP as a client (libcurl): later skills (telegram, LLM
 * clients) use it too, so every outbound request gets the same limits: http and https only (also after a redirect),
 * a bounded number of redirects, a response size cap, an absolute deadline, and cancellation.
 *
 * libcurl's global state: the first request (or ac_skills_http_global_init()) runs curl_global_init() once
 * (pthread_once). The node must not call curl_global_init() or curl_global_cleanup() itself, and needs nothing else
 * before using this module from any thread. No other global state. */
#ifndef AC_SKILLS_HTTP_H
#define AC_SKILLS_HTTP_H

#include "skills/skill.h"

#include <curl/curl.h>

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AC_SKILLS_HTTP_MAX_BYTES     (2u * 1024 * 1024) /* default response body cap */
#define AC_SKILLS_HTTP_MAX_REDIRECTS 5
#define AC_SKILLS_HTTP_TIMEOUT_MS    30000 /* web_fetch and api_request: per request, within the step deadline */
#define AC_SKILLS_HTTP_ERROR_MAX     256

/* web_fetch: GET config.url (no interpolation). Routes on_success, on_not_found, on_timeout, on_error.
 *   2xx: output the text (HTML: extracted, see html_text.h; other text types: the body; invalid UTF-8 as U+FFFD),
 *        or error "binary_content" for a non-text content type.
 *   404: on_not_found, output null.   other statuses: error "http_status: <code>".
 *   timeout (30 s or the step deadline, whichever is first): on_timeout, output null.
 *   errors: no_url, unsupported_scheme, too_large (body over 2 MiB: the request is stopped, nothing is truncated),
 *   cancelled, fetch_failed: <libcurl message> (connection failures, too many redirects). */
extern const ac_skill_def_t ac_skills_web_fetch;

/* api_request: config method (GET/POST/PUT/PATCH/DELETE, any case; default GET), url, headers (object of strings;
 * Content-Length and Transfer-Encoding are refused), body (a string, sent as is and without a Content-Type unless a
 * header sets one; or an object/array, sent as JSON with Content-Type application/json unless a header sets one).
 * "{input}" (the input as text, ac_skill_input_text) and "{input_encoded}" (percent-encoded, RFC 3986 unreserved
 * characters kept, so a space is %20) are replaced in url and body; in a JSON body the input is inserted
 * JSON-escaped, so the body stays valid JSON. The url is limited to 16 KiB and the body to 8 MiB after interpolation.
 * Routes on_2xx, on_4xx, on_5xx (output the body: parsed when the response is application/json or *+json and it
 * parses, else a string), on_timeout (output null), on_error.
 *   errors: invalid_method: <M>, no_url, invalid_url, invalid_headers: <why> (never the value), invalid_body,
 *   body_too_large, unsupported_scheme, too_large, cancelled, http: <status> (1xx, 3xx, >= 600),
 *   request_failed: <libcurl message> (connection failures, too many redirects). */
extern const ac_skill_def_t ac_skills_api_request;

/* A request header. name is an RFC 9110 token; value must not contain CR, LF or other control characters but TAB. */
typedef struct ac_skills_http_header {
    const char *name;
    const char *value;
} ac_skills_http_header_t;

typedef struct ac_skills_http_req {
    const char *method;                     /* upper-case token ("GET", "POST", ...); NULL means GET */
    const char *url;                        /* http:// or https:// */
    const ac_skills_http_header_t *headers; /* borrowed; may be NULL when n_headers is 0 */
    size_t n_headers;
    const char *body; /* borrowed; NULL: no body. No Content-Type is sent unless headers set one */
    size_t body_len;
    int64_t deadline_ms;           /* CLOCK_MONOTONIC ms (ac_skill_now_ms) by which it all ends, redirects included */
    size_t max_bytes;              /* response body cap (decoded bytes); 0: AC_SKILLS_HTTP_MAX_BYTES */
    bool truncate;                 /* a longer body is cut to max_bytes and returned (resp->truncated), not refused */
    int max_redirects;             /* redirects followed; 0: a 3xx response is returned as is */
    volatile sig_atomic_t *cancel; /* may be NULL; non-zero stops the transfer (checked at least once a second) */
} ac_skills_http_req_t;

typedef struct ac_skills_http_resp {
    long status; /* the last response's status; 0 when none arrived */
    char *body;  /* from ac_malloc, NUL-terminated (the NUL not counted); NULL unless 0 is returned */
    size_t body_len;
    char *content_type;                   /* from ac_malloc: the Content-Type header as received; NULL when absent */
    bool timed_out;                       /* the deadline passed (the return value is then -AC_ETIMEDOUT) */
    bool truncated;                       /* req->truncate and the body was longer: the rest was not read */
    char error[AC_SKILLS_HTTP_ERROR_MAX]; /* on failure: a sentence without the URL's userinfo or query */
} ac_skills_http_resp_t;

/* Performs one HTTP exchange, following up to req->max_redirects redirects (http and https only; a custom
 * Authorization header is not sent to another host). Sets User-Agent "AlexClaw/C <version>" unless a header does;
 * accepts gzip and deflate (the size cap applies to the decoded body). Never raises signals (CURLOPT_NOSIGNAL).
 * Returns:
 *   0             a response arrived (any status: the caller interprets it); resp->body, body_len, content_type set
 *   -AC_EINVAL    bad request: NULL url, method not a token, invalid header name or value (nothing is sent)
 *   -AC_EPERM     the URL or a redirect target is not http or https
 *   -AC_ETIMEDOUT the deadline passed, possibly before anything was sent (resp->timed_out set)
 *   -AC_ESTOPPED  *req->cancel became non-zero
 *   -AC_ETOOLONG  the body would exceed max_bytes (stopped reading; Content-Length checked up front); never with
 *                 req->truncate, which returns the first max_bytes with resp->truncated set
 *   -AC_EIO       transport failure (DNS, connect, TLS, protocol, too many redirects): resp->error says which
 * resp is always initialised; release it with ac_skills_http_resp_free() whatever the result. Thread-safe. */
int ac_skills_http_request(const ac_skills_http_req_t *req, ac_skills_http_resp_t *resp);

/* Frees resp's body and content type (resp itself is the caller's). */
void ac_skills_http_resp_free(ac_skills_http_resp_t *resp);

/* Runs curl_global_init() once for the process (pthread_once), as the first request does. Other libcurl users in
 * skills/ (webread.c) call it before curl_easy_init(), so libcurl is initialised in one place. Returns 0, or -AC_EIO
 * when libcurl could not be initialised (every later call says the same). Thread-safe. */
int ac_skills_http_global_init(void);

/* Writes url without userinfo, query and fragment ("https://u:p@h/x?k=v#f" -> "https://h/x") into out (cap > 0),
 * truncated to fit, for logs and error messages. Returns out. */
char *ac_skills_http_url_redact(const char *url, char *out, size_t cap);

/* What stops a libcurl transfer early: the caller's cancel flag and deadline. Give libcurl ac_skills_http_progress as
 * CURLOPT_XFERINFOFUNCTION with a guard as its data; afterwards cancelled / expired say why it was aborted. Shared by
 * this client and skills/webread.c. */
typedef struct ac_skills_http_guard {
    volatile sig_atomic_t *cancel; /* may be NULL */
    int64_t deadline_ms;           /* CLOCK_MONOTONIC ms */
    bool cancelled, expired;
} ac_skills_http_guard_t;
/* A curl_xferinfo_callback; the transfer counts are not used. */
int ac_skills_http_progress(void *guard, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);

#endif
