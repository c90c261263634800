/* skills/webread.c - the guarded HTTP request behind the SkillAPI's web_read permission (webread.h).
 *
 * One request is a loop of hops. Each hop: parse the URL with libcurl's URL API (the same parsed handle is given to
 * libcurl, so what is checked is what is contacted), resolve the host here, check every address with
 * policy/netaddr.c, then run one libcurl transfer that may only connect to those addresses: they are pinned with
 * CURLOPT_RESOLVE, the open-socket callback refuses any other destination before connect(), and the pre-request
 * callback checks the connected peer again before a byte of the request is sent. A redirect ends the hop; its
 * target becomes the next hop's URL and goes through every check again. libcurl never follows redirects, never uses
 * a proxy, and never resolves a name of its own accord.
 *
 * getaddrinfo() cannot be interrupted, so it runs on a detached helper thread that the caller waits for until the
 * deadline; a lookup that outlives its caller finishes alone and frees its job. A process-wide counter bounds how
 * many such threads exist, so a skill that asks for slow names cannot pile them up. */
#include "skills/webread.h"

#include "node/log.h"
#include "policy/alloc.h"
#include "policy/utf8.h"
#include "skills/http.h"
#include "skills/skill.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Methods a skill may use. */
static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};

/* Request headers a skill may not set (lower-case): the framing and the connection are libcurl's, and the Host is
 * the URL's host, so a skill cannot address one virtual host while the check saw another. */
static const char *const owned_headers[] = {
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "expect",
};

/* Prefixes of request header names a skill may not use (lower-case). */
static const char *const owned_prefixes[] = {"proxy-"};

/* Request headers that carry credentials (lower-case): sent only to the origin of the URL the skill gave. */
static const char *const credential_headers[] = {"authorization", "cookie"};

/* Statuses followed as redirects. */
static const long redirect_statuses[] = {301, 302, 303, 307, 308};

#define TOKEN_MAX      256 /* bytes of a header name */
#define SHOWN_HOST_MAX 64  /* bytes of a host name in a message */
#define POLL_MS        100 /* how often a caller waiting for DNS looks at its cancel flag */

/* DNS lookups whose thread is alive (webread.h: the one piece of process state). */
static atomic_int lookups_in_flight;

/* ---- request checks ------------------------------------------------------------------------------------------ */

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (strcasecmp(s, list[k]) == 0)
            return true;
    return false;
}

static bool is_token(const char *s, size_t max)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n == max || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c != '\0' && strchr(extra, c) != NULL)))
            return false;
    }
    return n > 0;
}

/* No control characters but TAB: in particular no CR or LF, which would start a header of the skill's choosing. */
static bool is_header_value(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n == max || (c < 0x20 && c != '\t') || c == 0x7F)
            return false;
    }
    return true;
}

static int check_method(const char *m, char out[8], ac_errmsg_t *err)
{
    if (m == NULL)
        m = "GET";
    size_t n = strnlen(m, 8);
    for (size_t k = 0; n < 8 && k < sizeof(methods) / sizeof(methods[0]); k++) {
        if (strcasecmp(m, methods[k]) == 0) {
            memcpy(out, methods[k], strlen(methods[k]) + 1);
            return 0;
        }
    }
    return ac_errmsg_set(err, -AC_EINVAL, "method must be one of GET, POST, PUT, PATCH, DELETE, HEAD");
}

/* Checks the skill's headers; messages name the header, never its value (it may be a credential). */
static int check_headers(const ac_skills_webread_req_t *req, ac_errmsg_t *err)
{
    size_t total = 0;
    if (req->n_headers > AC_SKILLS_WEBREAD_HEADERS_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "more than %d headers", AC_SKILLS_WEBREAD_HEADERS_MAX);
    if (req->n_headers > 0 && req->headers == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "no header list");
    for (size_t k = 0; k < req->n_headers; k++) {
        const ac_skills_webread_header_t *h = &req->headers[k];
        if (h->name == NULL || h->value == NULL || !is_token(h->name, TOKEN_MAX))
            return ac_errmsg_set(err, -AC_EINVAL, "header %zu has an invalid name", k + 1);
        if (in_list(h->name, owned_headers, sizeof(owned_headers) / sizeof(owned_headers[0])))
            return ac_errmsg_set(err, -AC_EINVAL, "header %s is set by the client", h->name);
        for (size_t p = 0; p < sizeof(owned_prefixes) / sizeof(owned_prefixes[0]); p++)
            if (strncasecmp(h->name, owned_prefixes[p], strlen(owned_prefixes[p])) == 0)
                return ac_errmsg_set(err, -AC_EINVAL, "header %s is set by the client", h->name);
        size_t name_len = strlen(h->name);
        if (!is_header_value(h->value, AC_SKILLS_WEBREAD_HEADER_MAX - name_len + 1))
            return ac_errmsg_set(err, -AC_EINVAL, "value of header %s has a control character or is too long", h->name);
        total += name_len + strlen(h->value) + 4;
    }
    if (total > AC_SKILLS_WEBREAD_HEADERS_BYTES)
        return ac_errmsg_set(err, -AC_EINVAL, "headers longer than %d bytes", AC_SKILLS_WEBREAD_HEADERS_BYTES);
    return 0;
}

/* libcurl's header list for one hop: the skill's headers (without credentials when the hop leaves the first origin,
 * without Content-Type when the body was dropped), then removals of the Content-Type libcurl adds to bodies and of
 * Expect: 100-continue. Returns 0 or -AC_ENOMEM. */
static int header_list(const ac_skills_webread_req_t *req, bool credentials, bool body, struct curl_slist **out)
{
    struct curl_slist *list = NULL;
    bool has_ct = false;
    int rc = -AC_ENOMEM;
    for (size_t k = 0; k < req->n_headers; k++) {
        const ac_skills_webread_header_t *h = &req->headers[k];
        bool is_ct = strcasecmp(h->name, "Content-Type") == 0;
        if ((!credentials && in_list(h->name, credential_headers, 2)) || (!body && is_ct))
            continue;
        has_ct |= is_ct;
        size_t n = strlen(h->name) + strlen(h->value) + 3;
        char *line = ac_malloc(n);
        snprintf(line, n, h->value[0] != '\0' ? "%s: %s" : "%s;", h->name, h->value); /* "Name;": empty value */
        struct curl_slist *next = curl_slist_append(list, line);
        free(line);
        if (next == NULL)
            goto Exit;
        list = next;
    }
    const char *removals[2] = {has_ct || !body ? NULL : "Content-Type:", "Expect:"};
    for (size_t k = 0; k < 2; k++) {
        if (removals[k] == NULL)
            continue;
        struct curl_slist *next = curl_slist_append(list, removals[k]);
        if (next == NULL)
            goto Exit;
        list = next;
    }
    rc = 0;
Exit:
    if (rc != 0) {
        curl_slist_free_all(list);
        list = NULL;
    }
    *out = list;
    return rc;
}

/* ---- URLs ---------------------------------------------------------------------------------------------------- */

/* One hop's destination. */
typedef struct {
    CURLU *u;  /* the parsed URL; libcurl gets this handle */
    char *url; /* libcurl's normalised URL, for resp->final_url (curl_free) */
    bool https;
    bool literal; /* the host is an IP address */
    int port;
    char host[AC_SKILLS_WEBREAD_HOST_MAX + 2]; /* lower-case; an IPv6 literal without brackets */
    char shown[SHOWN_HOST_MAX + 4];            /* the host for messages */
    size_t n_addrs;                            /* the checked addresses, the only ones it may connect to */
    struct sockaddr_storage addrs[AC_SKILLS_WEBREAD_ADDRS_MAX];
} target_t;

static void target_free(target_t *t)
{
    curl_url_cleanup(t->u);
    curl_free(t->url);
    t->u = NULL;
    t->url = NULL;
}

static void show(const char *s, char out[SHOWN_HOST_MAX + 4])
{
    size_t i = 0;
    for (; s[i] != '\0' && i < SHOWN_HOST_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c > 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
    }
    if (s[i] != '\0') {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* A DNS host name: LDH labels (and '_', which real names use) of 1..63 bytes, at most 253 bytes without a final dot,
 * lower-cased in place. A name whose last label is numeric is refused: libcurl left it alone because it is no IPv4
 * address, and a resolver might still read it as one. Returns NULL or why it is refused. */
static const char *check_name(char *host)
{
    size_t n = strlen(host);
    size_t body = n > 0 && host[n - 1] == '.' ? n - 1 : n;
    if (body == 0)
        return "has no host";
    if (body > AC_SKILLS_WEBREAD_HOST_MAX)
        return "host name is longer than 253 bytes";
    size_t label = 0, last = 0;
    for (size_t i = 0; i <= body; i++) {
        if (i == body || host[i] == '.') {
            if (i - label == 0)
                return "host name has an empty label";
            if (i - label > AC_SKILLS_WEBREAD_LABEL_MAX)
                return "host name has a label longer than 63 bytes";
            last = label;
            label = i + 1;
            continue;
        }
        char c = host[i];
        if (c >= 'A' && c <= 'Z')
            host[i] = c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return "host name has a character other than letters, digits, '-', '_' and '.' (use punycode)";
    }
    const char *tail = host + last;
    size_t tail_len = body - last;
    bool hex = tail_len > 2 && tail[0] == '0' && tail[1] == 'x';
    if (strspn(tail + (hex ? 2 : 0), hex ? "0123456789abcdef" : "0123456789") == tail_len - (hex ? 2 : 0))
        return "host is neither a host name nor an IPv4 address";
    return NULL;
}

/* The scheme of url, lower-cased, into out ("" when there is none). */
static void url_scheme(const char *url, char out[16])
{
    size_t k = 0;
    for (; url[k] != '\0' && url[k] != ':' && k < 15; k++) {
        char c = url[k];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (k > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
        if (!ok)
            break;
        out[k] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    }
    out[url[k] == ':' ? k : 0] = '\0';
}

/* Parses url into t (t->u and t->url are set even on failure, for target_free). Returns 0, -AC_EINVAL or -AC_EPERM
 * (scheme) with err set. */
static int url_parse(const char *url, target_t *t, ac_errmsg_t *err)
{
    char scheme[16], *s = NULL, *host = NULL, *port = NULL, *zone = NULL, *user = NULL;
    size_t len = strnlen(url, AC_SKILLS_WEBREAD_URL_MAX + 1);
    int rc = -AC_EINVAL;
    memset(t, 0, sizeof(*t));
    if (len > AC_SKILLS_WEBREAD_URL_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "URL longer than %d bytes", AC_SKILLS_WEBREAD_URL_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7F)
            return ac_errmsg_set(err, -AC_EINVAL, "URL has a space or a control character");
    url_scheme(url, scheme);
    if (scheme[0] != '\0' && strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        return ac_errmsg_set(err, -AC_EPERM, "scheme \"%s\" is not http or https", scheme);
    if (scheme[0] == '\0' || strncmp(url + strlen(scheme), "://", 3) != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "URL is not absolute (http:// or https://)");

    if ((t->u = curl_url()) == NULL)
        return ac_errmsg_set(err, -AC_ENOMEM, "out of memory");
    CURLUcode uc = curl_url_set(t->u, CURLUPART_URL, url, CURLU_DISALLOW_USER);
    if (uc == CURLUE_USER_NOT_ALLOWED) {
        ac_errmsg_set(err, rc, "URL must not hold user information");
        goto Exit;
    }
    if (uc == CURLUE_BAD_PORT_NUMBER) {
        ac_errmsg_set(err, rc, "port must be 1 to 65535");
        goto Exit;
    }
    if (uc != CURLUE_OK) {
        ac_errmsg_set(err, rc, "invalid URL (%s)", curl_url_strerror(uc));
        goto Exit;
    }
    /* libcurl agrees on the scheme, holds no userinfo and no zone, and names a host and a port. */
    if (curl_url_get(t->u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK ||
        (strcmp(s, "http") != 0 && strcmp(s, "https") != 0)) {
        ac_errmsg_set(err, rc = -AC_EPERM, "scheme is not http or https");
        goto Exit;
    }
    t->https = strcmp(s, "https") == 0;
    if (curl_url_get(t->u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER) {
        ac_errmsg_set(err, rc, "URL must not hold user information");
        goto Exit;
    }
    if (curl_url_get(t->u, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK) {
        ac_errmsg_set(err, rc, "URL must not name an IPv6 zone");
        goto Exit;
    }
    if (curl_url_get(t->u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        ac_errmsg_set(err, rc, "URL has no host");
        goto Exit;
    }
    long p = 0;
    if (curl_url_get(t->u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
        p = strtol(port, NULL, 10);
    if (p < 1 || p > 65535) {
        ac_errmsg_set(err, rc, "port must be 1 to 65535");
        goto Exit;
    }
    t->port = (int)p;
    size_t hn = strlen(host);
    if (hn > AC_SKILLS_WEBREAD_HOST_MAX + 1) {
        ac_errmsg_set(err, rc, "host name is longer than 253 bytes");
        goto Exit;
    }
    show(host, t->shown);
    struct in_addr a4;
    struct in6_addr a6;
    if (host[0] == '[' && hn > 2 && host[hn - 1] == ']') {
        memcpy(t->host, host + 1, hn - 2);
        t->host[hn - 2] = '\0';
        struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&t->addrs[0];
        if (inet_pton(AF_INET6, t->host, &a6) != 1) {
            ac_errmsg_set(err, rc, "URL has an invalid IPv6 address");
            goto Exit;
        }
        sa->sin6_family = AF_INET6;
        sa->sin6_addr = a6;
        t->literal = true;
    } else if (inet_pton(AF_INET, host, &a4) == 1) { /* libcurl has normalised 127.1, 0x7f.1, 2130706433 ... */
        memcpy(t->host, host, hn + 1);
        struct sockaddr_in *sa = (struct sockaddr_in *)&t->addrs[0];
        sa->sin_family = AF_INET;
        sa->sin_addr = a4;
        t->literal = true;
    } else {
        memcpy(t->host, host, hn + 1);
        const char *why = check_name(t->host);
        if (why != NULL) {
            ac_errmsg_set(err, rc, "URL %s", why);
            goto Exit;
        }
    }
    t->n_addrs = t->literal ? 1 : 0;
    if (curl_url_get(t->u, CURLUPART_URL, &t->url, 0) != CURLUE_OK) {
        ac_errmsg_set(err, rc, "invalid URL");
        goto Exit;
    }
    rc = 0;
Exit:
    curl_free(s);
    curl_free(host);
    curl_free(port);
    curl_free(zone);
    curl_free(user);
    return rc;
}

/* ---- DNS ----------------------------------------------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    int refs;          /* the caller and the thread */
    bool done;
    int rc; /* the count of addresses, or a negative -AC_E* code */
    char host[AC_SKILLS_WEBREAD_HOST_MAX + 2];
    struct sockaddr_storage addrs[AC_SKILLS_WEBREAD_ADDRS_MAX];
} lookup_t;

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family)
        return false;
    if (b->sa_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)a)->sin_addr, &((const struct sockaddr_in *)b)->sin_addr,
                      sizeof(struct in_addr)) == 0;
    return b->sa_family == AF_INET6 &&
           memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
}

/* getaddrinfo into out[0..cap), IPv4 and IPv6, duplicates dropped. Returns the count or a negative -AC_E* code. */
static int resolve_blocking(const char *host, struct sockaddr_storage *out, size_t cap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(host, NULL, &hints, &res);
    if (g != 0)
        return g == EAI_NONAME || g == EAI_NODATA || g == EAI_ADDRFAMILY ? -AC_ENOENT
               : g == EAI_MEMORY                                         ? -AC_ENOMEM
                                                                         : -AC_EIO;
    size_t n = 0;
    int rc = 0;
    for (const struct addrinfo *ai = res; ai != NULL && rc == 0; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addrlen > sizeof(out[0]))
            continue;
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = same_addr(&out[k], ai->ai_addr);
        if (dup)
            continue;
        if (n == cap) {
            rc = -AC_ETOOLONG;
            break;
        }
        memset(&out[n], 0, sizeof(out[n]));
        memcpy(&out[n++], ai->ai_addr, ai->ai_addrlen);
    }
    freeaddrinfo(res);
    return rc != 0 ? rc : (int)n;
}

/* Drops one reference, with job->mu held (it is released); the last one frees the job. */
static void lookup_release(lookup_t *job)
{
    bool last = --job->refs == 0;
    pthread_mutex_unlock(&job->mu);
    if (last) {
        pthread_cond_destroy(&job->cv);
        pthread_mutex_destroy(&job->mu);
        free(job);
        atomic_fetch_sub(&lookups_in_flight, 1);
    }
}

static void *lookup_main(void *arg)
{
    lookup_t *job = arg;
    int rc = resolve_blocking(job->host, job->addrs, AC_SKILLS_WEBREAD_ADDRS_MAX);
    pthread_mutex_lock(&job->mu);
    job->rc = rc;
    job->done = true;
    pthread_cond_signal(&job->cv);
    lookup_release(job);
    return NULL;
}

/* Resolves host on a helper thread, waiting until deadline_ms or *cancel. Returns the count of addresses written to
 * out (AC_SKILLS_WEBREAD_ADDRS_MAX at most) or a negative -AC_E* code. */
static int lookup(const char *host, struct sockaddr_storage *out, int64_t deadline_ms, volatile sig_atomic_t *cancel)
{
    if (atomic_fetch_add(&lookups_in_flight, 1) >= AC_SKILLS_WEBREAD_LOOKUPS_MAX) {
        atomic_fetch_sub(&lookups_in_flight, 1);
        return -AC_EAGAIN;
    }
    lookup_t *job = ac_calloc(1, sizeof(*job));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&job->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&job->mu, NULL);
    job->refs = 2;
    snprintf(job->host, sizeof(job->host), "%s", host);

    /* The helper blocks every signal (the node's rule for threads) and is never joined. */
    pthread_attr_t attr;
    pthread_t tid;
    sigset_t all, old;
    sigfillset(&all);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&tid, &attr, lookup_main, job);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (prc != 0) {
        pthread_mutex_lock(&job->mu);
        job->refs = 1;
        lookup_release(job);
        return -AC_EIO;
    }

    int rc;
    pthread_mutex_lock(&job->mu);
    for (;;) {
        if (job->done) {
            rc = job->rc;
            if (rc > 0)
                memcpy(out, job->addrs, (size_t)rc * sizeof(out[0]));
            break;
        }
        if (cancel != NULL && *cancel != 0) {
            rc = -AC_ESTOPPED;
            break;
        }
        int64_t left = deadline_ms - ac_skill_now_ms();
        if (left <= 0) {
            rc = -AC_ETIMEDOUT;
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ac_policy_timespec_add_ms(&ts, left < POLL_MS ? left : POLL_MS);
        pthread_cond_timedwait(&job->cv, &job->mu, &ts);
    }
    lookup_release(job);
    return rc;
}

/* Fills t->addrs (a name is resolved; a literal already is) and checks every address. Returns 0, or a negative
 * -AC_E* code with err set; -AC_EPERM names the host and the class of the first refused address. */
static int resolve_check(target_t *t, const ac_skills_webread_opts_t *opts, int64_t deadline_ms, const char *hop,
                         ac_errmsg_t *err)
{
    if (!t->literal) {
        int n = opts->resolve != NULL
                    ? opts->resolve(opts->resolve_arg, t->host, t->addrs, AC_SKILLS_WEBREAD_ADDRS_MAX, deadline_ms)
                    : lookup(t->host, t->addrs, deadline_ms, opts->cancel);
        if (n > AC_SKILLS_WEBREAD_ADDRS_MAX)
            n = -AC_EIO;
        switch (n < 0 ? n : n == 0 ? -AC_ENOENT : 0) {
        case 0: break;
        case -AC_ENOENT: return ac_errmsg_set(err, -AC_ENOENT, "%shost \"%s\" not found", hop, t->shown);
        case -AC_ETIMEDOUT: return ac_errmsg_set(err, n, "%sresolving \"%s\" timed out", hop, t->shown);
        case -AC_ESTOPPED: return ac_errmsg_set(err, n, "cancelled");
        case -AC_EAGAIN: return ac_errmsg_set(err, n, "too many DNS lookups in progress");
        case -AC_ETOOLONG:
            return ac_errmsg_set(err, -AC_EPERM, "%shost \"%s\" has more than %d addresses", hop, t->shown,
                                 AC_SKILLS_WEBREAD_ADDRS_MAX);
        default: return ac_errmsg_set(err, -AC_EIO, "%sresolving \"%s\" failed", hop, t->shown);
        }
        t->n_addrs = (size_t)n;
        if (ac_skill_now_ms() >= deadline_ms)
            return ac_errmsg_set(err, -AC_ETIMEDOUT, "%sresolving \"%s\" timed out", hop, t->shown);
    }
    for (size_t k = 0; k < t->n_addrs; k++) {
        ac_policy_netaddr_class_t cls;
        const struct sockaddr *sa = (const struct sockaddr *)&t->addrs[k];
        if (ac_policy_netaddr_check(opts->allow, sa, sizeof(t->addrs[k]), &cls) != 0)
            return ac_errmsg_set(err, -AC_EPERM, "%sdestination \"%s\" is %s", hop, t->shown,
                                 ac_policy_netaddr_class_desc(cls));
    }
    return 0;
}

/* ---- one transfer -------------------------------------------------------------------------------------------- */

typedef struct {
    CURL *curl;
    const target_t *t;
    char *buf;
    size_t len, cap, max;
    bool truncate, follow;
    ac_skills_http_guard_t guard;
    long status;  /* seen by on_data; 0 before the first byte of body */
    bool skipped; /* the body of a redirect that will be followed was not read */
    bool truncated, too_large;
    bool peer_refused; /* libcurl tried to reach an address that was not checked */
} hop_t;

static bool is_redirect(long status)
{
    for (size_t k = 0; k < sizeof(redirect_statuses) / sizeof(redirect_statuses[0]); k++)
        if (status == redirect_statuses[k])
            return true;
    return false;
}

/* Whether sa, port is one of the hop's checked addresses on its port. */
static bool is_checked(const target_t *t, const struct sockaddr *sa, int port)
{
    if (port != t->port)
        return false;
    for (size_t k = 0; k < t->n_addrs; k++)
        if (same_addr(&t->addrs[k], sa))
            return true;
    return false;
}

/* CURLOPT_OPENSOCKETFUNCTION: a socket only for a checked address (CLOEXEC: the node starts programs). */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    hop_t *h = arg;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, &a->addr, a->addrlen < sizeof(ss) ? a->addrlen : sizeof(ss));
    int port = ss.ss_family == AF_INET    ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
               : ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                          : -1;
    if (purpose != CURLSOCKTYPE_IPCXN || !is_checked(h->t, (struct sockaddr *)&ss, port)) {
        h->peer_refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* CURLOPT_PREREQFUNCTION: the connection's peer, as libcurl reports it, is a checked address. */
static int on_prereq(void *arg, char *peer_ip, char *local_ip, int peer_port, int local_port)
{
    hop_t *h = arg;
    struct sockaddr_storage ss;
    char ip[INET6_ADDRSTRLEN];
    memset(&ss, 0, sizeof(ss));
    snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(peer_ip, "%"), peer_ip);
    if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    if (!is_checked(h->t, (struct sockaddr *)&ss, peer_port)) {
        h->peer_refused = true;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    hop_t *h = arg;
    size_t n = size * nmemb;
    if (h->status == 0)
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &h->status);
    if (h->follow && is_redirect(h->status)) {
        h->skipped = true; /* not needed, and it could be endless */
        return 0;
    }
    if (n > h->max - h->len) {
        if (!h->truncate) {
            h->too_large = true;
            return 0; /* != n: libcurl stops with CURLE_WRITE_ERROR */
        }
        h->truncated = true;
        n = h->max - h->len;
    }
    if (h->len + n + 1 > h->cap) {
        size_t cap = h->cap < 16384 ? 16384 : h->cap * 2;
        while (cap < h->len + n + 1)
            cap *= 2;
        if (cap > h->max + 1)
            cap = h->max + 1;
        h->buf = ac_realloc(h->buf, cap);
        h->cap = cap;
    }
    memcpy(h->buf + h->len, data, n);
    h->len += n;
    return h->truncated ? 0 : n;
}

/* The CURLOPT_RESOLVE entry pinning the hop's host to its checked addresses: "host:port:a,[b],...". */
static struct curl_slist *pin_list(const target_t *t)
{
    char entry[AC_SKILLS_WEBREAD_HOST_MAX + 16 + AC_SKILLS_WEBREAD_ADDRS_MAX * (INET6_ADDRSTRLEN + 3)];
    size_t w = (size_t)snprintf(entry, sizeof(entry), "%s:%d:", t->host, t->port);
    for (size_t k = 0; k < t->n_addrs; k++) {
        char ip[INET6_ADDRSTRLEN];
        const struct sockaddr_storage *ss = &t->addrs[k];
        const void *a = ss->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
                                                 : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
        inet_ntop(ss->ss_family, a, ip, sizeof(ip));
        w += (size_t)snprintf(entry + w, sizeof(entry) - w, ss->ss_family == AF_INET ? "%s%s" : "%s[%s]",
                              k > 0 ? "," : "", ip);
    }
    return curl_slist_append(NULL, entry);
}

/* Chooses the request line so libcurl sends exactly method, with the body when there is one. */
static void set_method(CURL *curl, const char *method, const char *body, size_t body_len)
{
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
        return;
    }
    if (strcmp(method, "POST") != 0)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL || strcmp(method, "DELETE") != 0) { /* POST, PUT, PATCH send Content-Length: 0 when empty */
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body != NULL ? body_len : 0));
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body != NULL ? body : "");
    }
}

/* Resolves a Location value against t's URL (RFC 3986, by libcurl's URL API, as libcurl itself would). The result
 * is checked as a URL again by the next hop. Returns 0 with *out (from ac_malloc), or -AC_EPERM for another scheme,
 * or -AC_EINVAL, with err set. */
static int redirect_target(const target_t *t, const char *value, char **out, ac_errmsg_t *err)
{
    char scheme[16], *abs = NULL;
    int rc = -AC_EINVAL;
    url_scheme(value, scheme);
    if (scheme[0] != '\0' && strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        return ac_errmsg_set(err, -AC_EPERM, "scheme \"%s\" is not http or https", scheme);
    if (strnlen(value, AC_SKILLS_WEBREAD_URL_MAX + 1) > AC_SKILLS_WEBREAD_URL_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "URL longer than %d bytes", AC_SKILLS_WEBREAD_URL_MAX);
    CURLU *u = curl_url_dup(t->u);
    if (u == NULL)
        return ac_errmsg_set(err, -AC_ENOMEM, "out of memory");
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, value, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_URL, &abs, 0);
    if (uc != CURLUE_OK) {
        ac_errmsg_set(err, rc, "invalid Location (%s)", curl_url_strerror(uc));
    } else {
        *out = ac_strdup(abs);
        rc = 0;
    }
    curl_free(abs);
    curl_url_cleanup(u);
    return rc;
}

/* What one hop sends. */
typedef struct {
    const ac_skills_webread_req_t *req;
    const ac_skills_webread_opts_t *opts;
    const char *method;
    bool body;        /* send req->body */
    bool credentials; /* send Authorization and Cookie */
    bool follow;      /* a redirect status ends the hop */
    int64_t deadline_ms;
} send_t;

/* Runs one transfer to t. Returns 0 with resp filled and *location NULL (a final response), 0 with *location set
 * (from ac_malloc: the Location header of a redirect to follow, as received), or a negative -AC_E* code with err
 * set. */
static int transfer(const target_t *t, const send_t *s, const char *hop, ac_skills_webread_resp_t *resp,
                    char **location, ac_errmsg_t *err)
{
    CURL *curl = NULL;
    struct curl_slist *headers = NULL, *pins = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    hop_t h = {.t = t,
               .max = s->opts->max_bytes != 0 ? s->opts->max_bytes : AC_SKILLS_WEBREAD_MAX_BYTES,
               .truncate = s->opts->truncate,
               .follow = s->follow,
               .guard = {.cancel = s->opts->cancel, .deadline_ms = s->deadline_ms}};
    int rc;
    *location = NULL;

    int64_t left = s->deadline_ms - ac_skill_now_ms();
    if (left <= 0) /* libcurl reads a timeout of 0 as "none": never hand it one */
        return ac_errmsg_set(err, -AC_ETIMEDOUT, "%srequest to \"%s\" timed out", hop, t->shown);
    if ((rc = header_list(s->req, s->credentials, s->body, &headers)) != 0 ||
        (!t->literal && (pins = pin_list(t)) == NULL) || (h.curl = curl = curl_easy_init()) == NULL) {
        rc = ac_errmsg_set(err, -AC_ENOMEM, "out of memory");
        goto Exit;
    }
    /* The options that fence the transfer: refuse to go on if libcurl does not take one of them. */
    if (curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CURLU, t->u) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PROXY, "") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_RESOLVE, pins) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, on_open_socket) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &h) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PREREQFUNCTION, on_prereq) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PREREQDATA, &h) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED) != CURLE_OK ||
        (s->opts->ca_file != NULL && curl_easy_setopt(curl, CURLOPT_CAINFO, s->opts->ca_file) != CURLE_OK)) {
        rc = ac_errmsg_set(err, -AC_EIO, "libcurl refused a required option");
        goto Exit;
    }
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "AlexClaw/C " AC_VERSION);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    if (!h.truncate) /* a Content-Length over the cap is refused before the body */
        curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h.max);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &h);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, ac_skills_http_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &h.guard);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    set_method(curl, s->method, s->body ? s->req->body : NULL, s->req->body_len);

    CURLcode cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    bool follow = s->follow && is_redirect(resp->status);
    switch (cc) {
    case CURLE_OK: rc = 0; break;
    case CURLE_WRITE_ERROR: rc = h.skipped || h.truncated ? 0 : h.too_large ? -AC_ETOOLONG : -AC_EIO; break;
    case CURLE_FILESIZE_EXCEEDED: rc = follow ? 0 : -AC_ETOOLONG; break;
    case CURLE_OPERATION_TIMEDOUT: rc = -AC_ETIMEDOUT; break;
    case CURLE_ABORTED_BY_CALLBACK:
        rc = h.peer_refused ? -AC_EPERM : h.guard.cancelled ? -AC_ESTOPPED : h.guard.expired ? -AC_ETIMEDOUT : -AC_EIO;
        break;
    case CURLE_UNSUPPORTED_PROTOCOL: rc = -AC_EPERM; break;
    default: rc = h.peer_refused ? -AC_EPERM : -AC_EIO; break;
    }
    switch (rc) {
    case 0: break;
    case -AC_EPERM:
        ac_errmsg_set(err, rc, "%sconnection to \"%s\" refused: %s", hop, t->shown,
                      h.peer_refused ? "not an address that was checked" : "protocol not allowed");
        goto Exit;
    case -AC_ETIMEDOUT: ac_errmsg_set(err, rc, "%srequest to \"%s\" timed out", hop, t->shown); goto Exit;
    case -AC_ESTOPPED: ac_errmsg_set(err, rc, "cancelled"); goto Exit;
    case -AC_ETOOLONG: ac_errmsg_set(err, rc, "response body over %zu bytes", h.max); goto Exit;
    default:
        /* libcurl's own text only for TLS failures (it says which check failed); otherwise its generic message,
         * which cannot quote the URL. */
        if (errbuf[0] != '\0' && (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CONNECT_ERROR ||
                                  cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CACERT_BADFILE))
            ac_errmsg_set(err, rc, "%sTLS with \"%s\" failed: %s", hop, t->shown, errbuf);
        else
            ac_errmsg_set(err, rc, "%srequest to \"%s\" failed: %s", hop, t->shown, curl_easy_strerror(cc));
        goto Exit;
    }

    struct curl_header *loc = NULL;
    if (follow && curl_easy_header(curl, "Location", 0, CURLH_HEADER, -1, &loc) == CURLHE_OK && loc->value[0] != '\0') {
        *location = ac_strdup(loc->value);
        goto Exit;
    }
    char *ct = NULL;
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
        resp->content_type = ac_strdup(ct);
    resp->body = h.buf != NULL ? h.buf : ac_malloc(1);
    resp->body[h.len] = '\0';
    resp->body_len = h.len;
    resp->truncated = h.truncated;
    resp->final_url = ac_strdup(t->url);
    h.buf = NULL;
Exit:
    free(h.buf);
    curl_slist_free_all(headers);
    curl_slist_free_all(pins);
    if (curl != NULL)
        curl_easy_cleanup(curl);
    return rc;
}

/* ---- the request --------------------------------------------------------------------------------------------- */

int ac_skills_webread_request(const ac_skills_webread_req_t *req, const ac_skills_webread_opts_t *opts,
                              ac_skills_webread_resp_t *resp, ac_errmsg_t *err)
{
    char method[8] = "GET", hop[40] = "", first_host[AC_SKILLS_WEBREAD_HOST_MAX + 2] = "";
    char *url = NULL;
    bool first_https = false, prev_https = false;
    int first_port = 0, rc;
    int64_t started = ac_skill_now_ms();
    target_t t = {0};

    if (resp == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "no place for the response");
    memset(resp, 0, sizeof(*resp));
    if (req == NULL || opts == NULL || req->url == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "no request, options or URL");
    if ((rc = check_method(req->method, method, err)) != 0 || (rc = check_headers(req, err)) != 0)
        return rc;
    if (req->body != NULL && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
        return ac_errmsg_set(err, -AC_EINVAL, "a %s request takes no body", method);
    if (req->body != NULL && req->body_len > AC_SKILLS_WEBREAD_BODY_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "body longer than %u bytes", AC_SKILLS_WEBREAD_BODY_MAX);
    if (opts->cancel != NULL && *opts->cancel != 0)
        return ac_errmsg_set(err, -AC_ESTOPPED, "cancelled");
    int64_t deadline = started + (opts->timeout_ms > 0 ? opts->timeout_ms : AC_SKILLS_WEBREAD_TIMEOUT_MS);
    if (opts->deadline_ms != 0 && opts->deadline_ms < deadline)
        deadline = opts->deadline_ms;
    if (ac_skills_http_global_init() != 0)
        return ac_errmsg_set(err, -AC_EIO, "libcurl initialisation failed");

    int max_redirects = opts->max_redirects == 0 ? AC_SKILLS_WEBREAD_MAX_REDIRECTS : opts->max_redirects;
    send_t s = {.req = req,
                .opts = opts,
                .method = method,
                .body = req->body != NULL,
                .follow = max_redirects > 0,
                .deadline_ms = deadline};
    url = ac_strdup(req->url);
    for (int n = 0;; n++) {
        ac_errmsg_t why = {{0}};
        if ((rc = url_parse(url, &t, &why)) != 0) {
            if (n > 0) /* the server's Location, not the skill's URL: say so */
                ac_errmsg_set(err, rc, "redirect %d refused: %s", n, why.msg);
            else
                ac_errmsg_set(err, rc, "%s", why.msg);
            goto Exit;
        }
        if (n == 0) {
            memcpy(first_host, t.host, sizeof(first_host));
            first_https = t.https;
            first_port = t.port;
        } else if (prev_https && !t.https) {
            rc = ac_errmsg_set(err, -AC_EPERM, "redirect %d refused: from https to http (\"%s\")", n, t.shown);
            goto Exit;
        }
        prev_https = t.https;
        /* Credentials go only where the skill sent them: the first URL's origin. */
        s.credentials = t.https == first_https && t.port == first_port && strcmp(t.host, first_host) == 0;
        if ((rc = resolve_check(&t, opts, deadline, hop, err)) != 0)
            goto Exit;
        char *location = NULL;
        if ((rc = transfer(&t, &s, hop, resp, &location, err)) != 0)
            goto Exit;
        if (location == NULL)
            break;
        if (n == max_redirects) {
            free(location);
            rc = ac_errmsg_set(err, -AC_EIO, "more than %d redirects", max_redirects);
            goto Exit;
        }
        free(url);
        url = NULL;
        rc = redirect_target(&t, location, &url, &why);
        free(location);
        if (rc != 0) {
            ac_errmsg_set(err, rc, "redirect %d refused: %s", n + 1, why.msg);
            goto Exit;
        }
        /* As browsers do: 303 turns everything but HEAD into GET, 301 and 302 turn POST into GET; the body goes. */
        if ((resp->status == 303 && strcmp(method, "HEAD") != 0) ||
            ((resp->status == 301 || resp->status == 302) && strcmp(method, "POST") == 0)) {
            strcpy(method, "GET");
            s.body = false;
        }
        resp->redirects = n + 1;
        snprintf(hop, sizeof(hop), "after redirect %d: ", n + 1);
        target_free(&t);
    }
Exit:
    ac_log_debug("webread", "request", "method=%s host=%s status=%ld redirects=%d bytes=%zu ms=%lld rc=%s", method,
                 t.shown, resp->status, resp->redirects, resp->body_len, (long long)(ac_skill_now_ms() - started),
                 rc == 0 ? "ok" : ac_strerror_name(rc));
    target_free(&t);
    free(url);
    if (rc != 0) {
        long status = resp->status;
        int redirects = resp->redirects;
        ac_skills_webread_resp_free(resp);
        resp->status = status;
        resp->redirects = redirects;
    }
    return rc;
}

void ac_skills_webread_resp_free(ac_skills_webread_resp_t *resp)
{
    if (resp == NULL)
        return;
    free(resp->content_type);
    free(resp->body);
    free(resp->final_url);
    memset(resp, 0, sizeof(*resp));
}
