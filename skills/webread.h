/* skills/webread.h - one HTTP request for a dynamic skill's web_read permission (SkillAPI http_get, http_post,
 * http_request), guarded against reaching the node's own network.
 *
 * A dynamic skill is hostile code: it picks the URL, the headers, the body, and it may run the DNS of the names it
 * uses. This module refuses loopback, private, link-local and the other special-purpose destinations
 * (policy/netaddr.h) unless the operator's allow-list names them, and it connects only to the addresses it checked:
 *
 *   - the URL is parsed once with libcurl's URL parser, and that parsed handle is what libcurl uses, so the host that
 *     is checked is the host that is contacted (numeric spellings such as http://2130706433/ or http://0x7f.1/ are
 *     normalised to 127.0.0.1 before the check);
 *   - the host is resolved here (getaddrinfo on a helper thread, so the timeout bounds it), and the request is
 *     refused when ANY address is refused (a name that answers with one public and one private address is refused);
 *   - libcurl gets the checked addresses pinned (CURLOPT_RESOLVE) and never resolves the name itself, so a second
 *     DNS answer (rebinding) is never used; as defence in depth, the socket callback refuses to open a connection to
 *     any address that was not checked, and the pre-request callback refuses to send on a connection whose peer is
 *     not one of them;
 *   - redirects are followed here, never by libcurl, and each hop is parsed, resolved and checked again; https to
 *     http is refused; Authorization and Cookie headers are not sent to another origin;
 *   - proxies from the environment are ignored (a proxy would be the peer, and would resolve the name itself);
 *   - TLS verifies the certificate and the host name; SNI and Host are the URL's host name, never the address.
 *
 * Errors name the host, never the URL's path or query (they may carry secrets), and never a resolved address that
 * was refused (the skill learns that a name is private, not where it points).
 *
 * libcurl's global state is set up by skills/http.c (ac_skills_http_global_init()). The resolver thread is the one
 * piece of process state: at most AC_SKILLS_WEBREAD_LOOKUPS_MAX lookups run at once (a lookup that timed out keeps its
 * thread until getaddrinfo returns). Thread-safe. */
#ifndef AC_SKILLS_WEBREAD_H
#define AC_SKILLS_WEBREAD_H

#include "policy/error.h"
#include "policy/netaddr.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define AC_SKILLS_WEBREAD_MAX_BYTES     (1024u * 1024) /* default response body cap */
#define AC_SKILLS_WEBREAD_MAX_REDIRECTS 5              /* default */
#define AC_SKILLS_WEBREAD_TIMEOUT_MS    30000          /* default, for the whole exchange */
#define AC_SKILLS_WEBREAD_URL_MAX       8192           /* bytes of a URL, also of a redirect target */
#define AC_SKILLS_WEBREAD_HOST_MAX      253            /* bytes of a host name, without a final dot */
#define AC_SKILLS_WEBREAD_LABEL_MAX     63             /* bytes of one label of a host name */
#define AC_SKILLS_WEBREAD_HEADERS_MAX   32             /* request headers */
#define AC_SKILLS_WEBREAD_HEADER_MAX    8192           /* bytes of one request header, name and value */
#define AC_SKILLS_WEBREAD_HEADERS_BYTES 32768          /* bytes of all request headers */
#define AC_SKILLS_WEBREAD_BODY_MAX      (1024u * 1024) /* request body */
#define AC_SKILLS_WEBREAD_ADDRS_MAX     32             /* addresses of one host name */
#define AC_SKILLS_WEBREAD_LOOKUPS_MAX   64             /* DNS lookups in flight in the process */

/* The test hook for DNS: resolves host (a name, never an IP literal; lower-case, possibly with a final dot) into at
 * most cap addresses at out[0..cap) (AF_INET or AF_INET6 socket addresses; the port is ignored), by deadline_ms
 * (CLOCK_MONOTONIC ms). Returns the number written (0: the name has no address), -AC_ENOENT when the name does not
 * exist, -AC_ETOOLONG when it has more than cap addresses, or another negative -AC_E* code. Called on the caller's
 * thread, once per hop that names a host. */
typedef int (*ac_skills_webread_resolve_fn)(void *arg, const char *host, struct sockaddr_storage *out, size_t cap,
                                            int64_t deadline_ms);

/* A request header: name is an RFC 9110 token; value has no control characters but TAB (so no CR or LF). */
typedef struct ac_skills_webread_header {
    const char *name;
    const char *value;
} ac_skills_webread_header_t;

typedef struct ac_skills_webread_req {
    const char *method;                        /* GET, POST, PUT, PATCH, DELETE or HEAD, any case; NULL: GET */
    const char *url;                           /* http:// or https://, absolute */
    const ac_skills_webread_header_t *headers; /* borrowed; NULL when n_headers is 0 */
    size_t n_headers;
    const char *body; /* borrowed; NULL: none (GET and HEAD take none). Sent without a Content-Type unless a header
                       * sets one */
    size_t body_len;
} ac_skills_webread_req_t;

/* Options. A zeroed struct means: 30 s, 1 MiB refused beyond, 5 redirects, empty allow-list, system CAs. */
typedef struct ac_skills_webread_opts {
    int timeout_ms;      /* the whole exchange (DNS, connect, TLS, redirects, body); <= 0: 30 s */
    int64_t deadline_ms; /* CLOCK_MONOTONIC ms; 0: none. The earlier of this and timeout_ms applies */
    size_t max_bytes;    /* response body cap (decoded bytes); 0: AC_SKILLS_WEBREAD_MAX_BYTES */
    bool truncate;       /* a longer body: false, -AC_ETOOLONG; true, the first max_bytes and resp->truncated */
    int max_redirects;   /* 0: AC_SKILLS_WEBREAD_MAX_REDIRECTS; negative: none, a 3xx is the response */
    const ac_policy_netaddr_allow_t *allow; /* borrowed; NULL: empty (only public destinations) */
    volatile sig_atomic_t *cancel;          /* may be NULL; non-zero stops the request (checked every 100 ms while
                                             * resolving, at least once a second while transferring) */
    /* Test hooks; NULL in the node. */
    ac_skills_webread_resolve_fn resolve; /* NULL: getaddrinfo */
    void *resolve_arg;
    const char *ca_file; /* a PEM file of trusted CAs instead of the system's */
} ac_skills_webread_opts_t;

typedef struct ac_skills_webread_resp {
    long status;        /* the last response's status; 0 when none arrived */
    char *content_type; /* from ac_malloc: the Content-Type as received; NULL when absent */
    char *body;         /* from ac_malloc, NUL-terminated (the NUL not counted); NULL unless 0 is returned */
    size_t body_len;
    bool truncated;  /* the body was cut at max_bytes (opts->truncate) */
    char *final_url; /* from ac_malloc: the URL of the last request (after redirects), as libcurl normalised it */
    int redirects;   /* redirects followed */
} ac_skills_webread_resp_t;

/* Performs one guarded exchange (above). Nothing is sent before the method, URL, headers and body were checked.
 * Returns:
 *   0             a response arrived (any status); resp->status, body, body_len, content_type, final_url set.
 *                 A redirect status (301, 302, 303, 307, 308) is only returned when redirects are off or it has no
 *                 usable Location; its body is then empty
 *   -AC_EINVAL    bad request: method, URL (syntax, not absolute, userinfo, host or label too long, not a valid host
 *                 name, port outside 1..65535, IPv6 zone), headers (count, size, name, CR/LF or other control
 *                 characters, a header the client owns such as Host), body (too long, with GET or HEAD); also for a
 *                 redirect target that is not a valid URL
 *   -AC_EPERM     refused destination: scheme not http or https, a refused address ("destination "h" is a private
 *                 address"), a name with more than AC_SKILLS_WEBREAD_ADDRS_MAX addresses, https to http on a
 *                 redirect, a connection to an address that was not checked
 *   -AC_ENOENT    the host name does not exist or has no address
 *   -AC_ETIMEDOUT the timeout or deadline passed (resolution included)
 *   -AC_ESTOPPED  *opts->cancel became non-zero
 *   -AC_ETOOLONG  the body exceeds max_bytes and opts->truncate is false
 *   -AC_EAGAIN    too many DNS lookups in flight in the process
 *   -AC_EIO       transport failure (DNS, connect, TLS, protocol, too many redirects)
 *   -AC_ENOMEM    libcurl could not allocate
 * err (may be NULL) says why in one sentence on failure. resp is always initialised; release it with
 * ac_skills_webread_resp_free() whatever the result. req and opts may not be NULL (-AC_EINVAL). */
int ac_skills_webread_request(const ac_skills_webread_req_t *req, const ac_skills_webread_opts_t *opts,
                              ac_skills_webread_resp_t *resp, ac_errmsg_t *err);

/* Frees what resp holds (resp itself is the caller's) and zeroes it. */
void ac_skills_webread_resp_free(ac_skills_webread_resp_t *resp);

#endif
