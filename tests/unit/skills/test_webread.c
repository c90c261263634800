/* tests/unit/skills/test_webread.c - skills/webread.c, the web_read guard, against servers this test runs on threads:
 * a plain HTTP server and a TLS server (a certificate for "rebind.test" made at start) on 127.0.0.1, and a sentinel
 * on 127.0.0.2 that counts connections and must never see one. DNS answers for names come from the resolver hook
 * (fake_dns), so no test touches the network; only "localhost" goes through getaddrinfo.
 *
 * Loopback refused in every spelling (numeric forms libcurl normalises, IPv6, mapped), the allow-list opening
 * 127.0.0.1/32 and nothing more, each redirect hop checked again, DNS rebinding (a second answer is never used), names
 * with mixed answers, the body cap (refused or truncated), timeouts, cancellation, bad URLs, headers and bodies
 * (nothing is sent), methods and redirect semantics, credentials kept to the first origin, TLS verification with SNI
 * and Host left as the name, https to http refused, proxies from the environment ignored, and errors without the URL's
 * query. */
#include "policy/error.h"
#include "policy/netaddr.h"
#include "skills/skill.h"
#include "skills/webread.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- servers ---------------------------------------------------------------------------------------------------- */

typedef struct {
    int fd; /* listening */
    int port;
    SSL_CTX *tls;  /* NULL: plain HTTP */
    bool sentinel; /* count and close */
    int stop[2];
    pthread_t thread;
    atomic_int accepts;
    pthread_mutex_t mu;
    char sni[256];   /* the last TLS server name seen */
    char req[65536]; /* the request being served */
} server_t;

static server_t plain, tls, sentinel;
static char ca_path[64] = "";

typedef struct {
    int fd;
    SSL *ssl;
} conn_t;

static ssize_t conn_read(conn_t *c, char *buf, size_t n)
{
    if (c->ssl != NULL) {
        int r = SSL_read(c->ssl, buf, (int)n);
        return r > 0 ? r : -1;
    }
    return recv(c->fd, buf, n, 0);
}

static bool conn_write(conn_t *c, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = c->ssl != NULL ? SSL_write(c->ssl, buf, (int)n) : send(c->fd, buf, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        buf += w;
        n -= (size_t)w;
    }
    return true;
}

static bool conn_printf(conn_t *c, const char *fmt, ...)
{
    char buf[16384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return conn_write(c, buf, (size_t)n);
}

/* The value of query parameter key in path ("to" takes the rest of the path, so it may hold a whole URL). */
static bool query(const char *path, const char *key, char *out, size_t cap)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "%s=", key);
    for (const char *p = strchr(path, '?'); p != NULL; p = strchr(p + 1, '&')) {
        if (strncmp(p + 1, pat, strlen(pat)) == 0) {
            const char *v = p + 1 + strlen(pat);
            size_t n = strcmp(key, "to") == 0 ? strlen(v) : strcspn(v, "&");
            snprintf(out, cap, "%.*s", (int)n, v);
            return true;
        }
    }
    return false;
}

static long query_num(const char *path, const char *key, long dflt)
{
    char v[32];
    return query(path, key, v, sizeof(v)) ? strtol(v, NULL, 10) : dflt;
}

static void send_fill(conn_t *c, long n, bool with_length)
{
    char chunk[8192];
    memset(chunk, 'a', sizeof(chunk));
    if (with_length)
        conn_printf(
            c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %ld\r\nConnection: close\r\n\r\n", n);
    else
        conn_printf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n");
    for (long left = n; left > 0;) {
        size_t k = left < (long)sizeof(chunk) ? (size_t)left : sizeof(chunk);
        if (!conn_write(c, chunk, k))
            return;
        left -= (long)k;
    }
}

/* Routes:
 *   /text                      200 text/plain "hello from the fixture"
 *   /echo                      200 text/plain: the request as received (head and body)
 *   /fill?n=N[&len=0]          N bytes, with a Content-Length unless len=0
 *   /slow                      waits up to 5 s for the client to go away, then 200
 *   /chain?n=N                 N redirects (302) to /chain?n=N-1, then /text's answer
 *   /redirect?code=C&pad=P&to=U  status C (302) with Location U and a body of P bytes */
static void serve_request(conn_t *c, const char *head, const char *req, size_t req_len)
{
    char method[16] = "", path[4096] = "", to[4096] = "";
    sscanf(head, "%15s %4095s", method, path);
    if (strncmp(path, "/text", 5) == 0) {
        conn_printf(c,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 22\r\n"
                    "Connection: close\r\n\r\n%s",
                    strcmp(method, "HEAD") == 0 ? "" : "hello from the fixture");
    } else if (strncmp(path, "/echo", 5) == 0) {
        conn_printf(c,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                    req_len);
        conn_write(c, req, req_len);
    } else if (strncmp(path, "/fill", 5) == 0) {
        send_fill(c, query_num(path, "n", 0), query_num(path, "len", 1) != 0);
    } else if (strncmp(path, "/slow", 5) == 0) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        poll(&p, 1, 5000); /* the client hangs up: POLLIN with EOF */
        conn_printf(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nlate");
    } else if (strncmp(path, "/chain", 6) == 0) {
        long n = query_num(path, "n", 0);
        if (n <= 0)
            conn_printf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n"
                           "Connection: close\r\n\r\nhello from the fixture");
        else
            conn_printf(c,
                        "HTTP/1.1 302 Found\r\nLocation: /chain?n=%ld\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n",
                        n - 1);
    } else if (strncmp(path, "/redirect", 9) == 0 && query(path, "to", to, sizeof(to))) {
        long pad = query_num(path, "pad", 5);
        conn_printf(c, "HTTP/1.1 %ld Moved\r\nLocation: %s\r\nContent-Length: %ld\r\nConnection: close\r\n\r\n",
                    query_num(path, "code", 302), to, pad);
        char chunk[8192];
        memset(chunk, 'm', sizeof(chunk));
        for (long left = pad; left > 0; left -= (long)sizeof(chunk))
            if (!conn_write(c, chunk, left < (long)sizeof(chunk) ? (size_t)left : sizeof(chunk)))
                break;
    } else {
        conn_printf(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
}

static void serve_conn(server_t *s, int fd)
{
    conn_t c = {.fd = fd};
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (s->tls != NULL) {
        c.ssl = SSL_new(s->tls);
        SSL_set_fd(c.ssl, fd);
        if (SSL_accept(c.ssl) != 1)
            goto Exit;
    }
    char *req = s->req;
    size_t len = 0;
    char *end = NULL;
    while (end == NULL && len < sizeof(s->req) - 1) {
        ssize_t r = conn_read(&c, req + len, sizeof(s->req) - 1 - len);
        if (r <= 0)
            goto Exit;
        len += (size_t)r;
        req[len] = '\0';
        end = strstr(req, "\r\n\r\n");
    }
    if (end == NULL)
        goto Exit;
    size_t head_len = (size_t)(end + 4 - req);
    const char *cl = strcasestr(req, "\r\nContent-Length:");
    size_t body = cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    while (len < head_len + body && len < sizeof(s->req) - 1) {
        ssize_t r = conn_read(&c, req + len, sizeof(s->req) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    req[len] = '\0';
    serve_request(&c, req, req, len);
Exit:
    if (c.ssl != NULL) {
        SSL_shutdown(c.ssl);
        SSL_free(c.ssl);
    }
    close(fd);
}

static void *server_main(void *arg)
{
    server_t *s = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->stop[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents != 0)
            break;
        if (p[0].revents == 0)
            continue;
        int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        atomic_fetch_add(&s->accepts, 1);
        if (s->sentinel)
            close(fd);
        else
            serve_conn(s, fd);
    }
    return NULL;
}

static int on_servername(SSL *ssl, int *alert, void *arg)
{
    server_t *s = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    pthread_mutex_lock(&s->mu);
    snprintf(s->sni, sizeof(s->sni), "%s", name != NULL ? name : "(none)");
    pthread_mutex_unlock(&s->mu);
    return SSL_TLSEXT_ERR_OK;
}

static int server_start(server_t *s, const char *ip, SSL_CTX *ctx, bool is_sentinel)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->tls = ctx;
    s->sentinel = is_sentinel;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, ip, &a.sin_addr);
    socklen_t alen = sizeof(a);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->fd, 16) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &alen) != 0 || pipe2(s->stop, O_CLOEXEC) != 0) {
        fprintf(stderr, "cannot listen on %s: %s\n", ip, strerror(errno));
        return -1;
    }
    s->port = ntohs(a.sin_port);
    if (ctx != NULL) {
        SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
        SSL_CTX_set_tlsext_servername_arg(ctx, s);
    }
    return pthread_create(&s->thread, NULL, server_main, s) == 0 ? 0 : -1;
}

static void server_stop(server_t *s)
{
    if (s->stop[1] <= 0)
        return;
    (void)!write(s->stop[1], "x", 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
    close(s->stop[0]);
    close(s->stop[1]);
    if (s->tls != NULL)
        SSL_CTX_free(s->tls);
    pthread_mutex_destroy(&s->mu);
    memset(s, 0, sizeof(*s));
}

/* A TLS context with a new self-signed certificate for DNS:rebind.test, also written to ca_path as the trust anchor. */
static SSL_CTX *tls_context(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    SSL_CTX *ctx = NULL;
    X509V3_CTX v3;
    if (key == NULL || x == NULL)
        goto Exit;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"rebind.test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:rebind.test");
    X509_add_ext(x, san, -1);
    X509_EXTENSION_free(san);
    if (X509_sign(x, key, EVP_sha256()) == 0)
        goto Exit;

    snprintf(ca_path, sizeof(ca_path), "/tmp/ac-webread-ca-XXXXXX");
    int fd = mkstemp(ca_path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL || PEM_write_X509(f, x) != 1)
        goto Exit;
    fclose(f);

    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        SSL_CTX_free(ctx);
        ctx = NULL;
    }
Exit:
    X509_free(x);
    EVP_PKEY_free(key);
    return ctx;
}

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up on a server write */
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                          "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
    for (size_t k = 0; k < N(proxies); k++)
        unsetenv(proxies[k]);
    SSL_CTX *ctx = tls_context();
    if (ctx == NULL)
        return -1;
    if (server_start(&plain, "127.0.0.1", NULL, false) != 0 || server_start(&tls, "127.0.0.1", ctx, false) != 0 ||
        server_start(&sentinel, "127.0.0.2", NULL, true) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    server_stop(&plain);
    server_stop(&tls);
    server_stop(&sentinel);
    if (ca_path[0] != '\0')
        unlink(ca_path);
    return 0;
}

/* ---- helpers ---------------------------------------------------------------------------------------------------- */

/* The resolver hook: `first` on the first call, `later` (when set) on every later call. */
typedef struct {
    const char *first[4];
    const char *later[4];
    int rc;       /* non-zero: returned instead of answers */
    int delay_ms; /* slept before answering */
    int calls;
    char last_host[300];
} fake_dns_t;

static int fake_resolve(void *arg, const char *host, struct sockaddr_storage *out, size_t cap, int64_t deadline_ms)
{
    fake_dns_t *d = arg;
    d->calls++;
    snprintf(d->last_host, sizeof(d->last_host), "%s", host);
    if (d->delay_ms > 0) {
        struct timespec ts = {.tv_sec = d->delay_ms / 1000, .tv_nsec = (long)(d->delay_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    if (d->rc != 0)
        return d->rc;
    const char *const *list = d->calls > 1 && d->later[0] != NULL ? d->later : d->first;
    size_t n = 0;
    for (; n < 4 && n < cap && list[n] != NULL; n++) {
        memset(&out[n], 0, sizeof(out[n]));
        struct sockaddr_in *in = (struct sockaddr_in *)&out[n];
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out[n];
        if (inet_pton(AF_INET, list[n], &in->sin_addr) == 1)
            in->sin_family = AF_INET;
        else if (inet_pton(AF_INET6, list[n], &in6->sin6_addr) == 1)
            in6->sin6_family = AF_INET6;
        else
            fail_msg("bad fake address %s", list[n]);
    }
    return (int)n;
}

typedef struct {
    int rc;
    ac_skills_webread_resp_t resp;
    ac_errmsg_t err;
    int64_t ms;
} result_t;

static ac_policy_netaddr_allow_t allow_local; /* 127.0.0.1/32 */

static ac_skills_webread_opts_t opts_with(fake_dns_t *dns, const ac_policy_netaddr_allow_t *allow)
{
    ac_skills_webread_opts_t o = {.timeout_ms = 5000, .allow = allow, .ca_file = ca_path};
    if (dns != NULL) {
        o.resolve = fake_resolve;
        o.resolve_arg = dns;
    }
    return o;
}

static result_t request(const ac_skills_webread_req_t *req, const ac_skills_webread_opts_t *o)
{
    result_t r;
    memset(&r, 0, sizeof(r));
    int64_t t0 = ac_skill_now_ms();
    r.rc = ac_skills_webread_request(req, o, &r.resp, &r.err);
    r.ms = ac_skill_now_ms() - t0;
    return r;
}

static result_t get(const char *url, const ac_skills_webread_opts_t *o)
{
    ac_skills_webread_req_t req = {.url = url};
    return request(&req, o);
}

static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
    static char bufs[4][16384];
    static int next;
    char *b = bufs[next++ % 4];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, sizeof(bufs[0]), f, ap);
    va_end(ap);
    return b;
}

/* tmpl with "{port}" replaced by port (one of fmt's buffers). */
static const char *with_port(const char *tmpl, int port)
{
    const char *at = strstr(tmpl, "{port}");
    return at == NULL ? fmt("%s", tmpl) : fmt("%.*s%d%s", (int)(at - tmpl), tmpl, port, at + 6);
}

static void expect_ok(result_t *r)
{
    if (r->rc != 0)
        fail_msg("expected success, got %s: %s", ac_strerror_name(r->rc), r->err.msg);
}

/* Expects rc and an error message containing `part`. */
static void expect_fail(result_t *r, int rc, const char *part)
{
    if (r->rc != rc || strstr(r->err.msg, part) == NULL)
        fail_msg("expected %s with [%s], got %s: [%s]", ac_strerror_name(rc), part, ac_strerror_name(r->rc),
                 r->err.msg);
    assert_null(r->resp.body);
    assert_null(r->resp.final_url);
    ac_skills_webread_resp_free(&r->resp);
}

static void expect_body(result_t *r, const char *body)
{
    expect_ok(r);
    assert_non_null(r->resp.body);
    assert_string_equal(r->resp.body, body);
    ac_skills_webread_resp_free(&r->resp);
}

/* ---- loopback and the allow-list ---------------------------------------------------------------------------------- */

static void loopback_is_refused_in_every_spelling(void **state)
{
    static const char *const hosts[] = {
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f.1",
        "0x7f000001",
        "0177.0.0.1",
        "%31%32%37.0.0.1",
        "127.255.255.254",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[0:0:0:0:0:ffff:7f00:1]",
        "[::ffff:7f00:2]",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::]",
        "localhost",
        "LOCALHOST",
    };
    int before = atomic_load(&plain.accepts);
    for (size_t k = 0; k < N(hosts); k++) {
        ac_skills_webread_opts_t o = opts_with(NULL, NULL); /* localhost goes through getaddrinfo */
        result_t r = get(fmt("http://%s:%d/text?token=sekrit", hosts[k], plain.port), &o);
        if (r.rc != -AC_EPERM || strstr(r.err.msg, "is a loopback address") == NULL)
            fail_msg("%s: got %s [%s]", hosts[k], ac_strerror_name(r.rc), r.err.msg);
        assert_null(strstr(r.err.msg, "sekrit"));
        assert_null(strstr(r.err.msg, "/text"));
        ac_skills_webread_resp_free(&r.resp);
    }
    assert_int_equal(atomic_load(&plain.accepts), before);

    ac_skills_webread_opts_t o = opts_with(NULL, NULL);
    result_t r = get(fmt("http://127.0.0.1:%d/text", plain.port), &o);
    assert_string_equal(r.err.msg, "destination \"127.0.0.1\" is a loopback address");
    r = get(fmt("http://[::1]:%d/text", plain.port), &o);
    assert_string_equal(r.err.msg, "destination \"[::1]\" is a loopback address");

    /* unspecified addresses reach the local host on Linux */
    static const char *const zeros[] = {"0.0.0.0", "0", "[::]", "[::ffff:0.0.0.0]"};
    for (size_t k = 0; k < N(zeros); k++) {
        r = get(fmt("http://%s:%d/text", zeros[k], plain.port), &o);
        expect_fail(&r, -AC_EPERM, "is an unspecified address");
    }
    assert_int_equal(atomic_load(&plain.accepts), before);
}

static void an_allow_listed_address_is_fetched(void **state)
{
    ac_skills_webread_opts_t o = opts_with(NULL, &allow_local);
    result_t r = get(fmt("http://127.0.0.1:%d/text", plain.port), &o);
    expect_ok(&r);
    assert_int_equal(r.resp.status, 200);
    assert_string_equal(r.resp.body, "hello from the fixture");
    assert_int_equal(r.resp.body_len, 22);
    assert_string_equal(r.resp.content_type, "text/plain; charset=utf-8");
    assert_string_equal(r.resp.final_url, fmt("http://127.0.0.1:%d/text", plain.port));
    assert_false(r.resp.truncated);
    assert_int_equal(r.resp.redirects, 0);
    ac_skills_webread_resp_free(&r.resp);

    /* a numeric spelling is the same address; the final URL is the normalised one */
    r = get(fmt("http://0x7f.1:%d/text", plain.port), &o);
    expect_ok(&r);
    assert_string_equal(r.resp.final_url, fmt("http://127.0.0.1:%d/text", plain.port));
    ac_skills_webread_resp_free(&r.resp);
    r = get(fmt("http://[::ffff:127.0.0.1]:%d/text", plain.port), &o); /* mapped: the same IPv4 destination */
    expect_body(&r, "hello from the fixture");
}

static void the_allow_list_opens_only_what_it_names(void **state)
{
    ac_skills_webread_opts_t o = opts_with(NULL, &allow_local);
    result_t r = get(fmt("http://127.0.0.2:%d/", sentinel.port), &o);
    expect_fail(&r, -AC_EPERM, "destination \"127.0.0.2\" is a loopback address");
    r = get(fmt("http://[::1]:%d/text", plain.port), &o);
    expect_fail(&r, -AC_EPERM, "is a loopback address");
    r = get("http://10.0.0.1/", &o);
    expect_fail(&r, -AC_EPERM, "destination \"10.0.0.1\" is a private address");
    r = get("http://169.254.169.254/latest/meta-data/", &o);
    expect_fail(&r, -AC_EPERM, "is a link-local address");
    r = get("http://100.64.0.1/", &o);
    expect_fail(&r, -AC_EPERM, "is a carrier-grade NAT address");
    r = get("http://[fd00::1]/", &o);
    expect_fail(&r, -AC_EPERM, "is a private address");
    r = get("http://[fe80::1]/", &o);
    expect_fail(&r, -AC_EPERM, "is a link-local address");
    r = get("http://192.0.2.1/", &o);
    expect_fail(&r, -AC_EPERM, "is a documentation address");
    r = get("http://255.255.255.255/", &o);
    expect_fail(&r, -AC_EPERM, "is a broadcast address");
    r = get("http://224.0.0.1/", &o);
    expect_fail(&r, -AC_EPERM, "is a multicast address");
    assert_int_equal(atomic_load(&sentinel.accepts), 0);

    /* 0.0.0.0/0 opens loopback, never 0.0.0.0 itself */
    ac_policy_netaddr_allow_t all;
    assert_int_equal(ac_policy_netaddr_allow_parse(&all, "0.0.0.0/0", NULL), 0);
    o = opts_with(NULL, &all);
    r = get(fmt("http://0.0.0.0:%d/text", plain.port), &o);
    expect_fail(&r, -AC_EPERM, "is an unspecified address");
}

/* ---- names and DNS ---------------------------------------------------------------------------------------------- */

static void a_name_with_any_refused_address_is_refused(void **state)
{
    static const struct {
        const char *addrs[4];
        const char *why;
    } cases[] = {
        {{"93.184.216.34", "10.0.0.1"}, "is a private address"},
        {{"10.0.0.1", "93.184.216.34"}, "is a private address"},
        {{"2606:2800:220:1:248:1893:25c8:1946", "::1"}, "is a loopback address"},
        {{"127.0.0.1", "127.0.0.2"}, "is a loopback address"}, /* one allowed, one not */
        {{"::ffff:10.0.0.1"}, "is a private address"},
        {{"64:ff9b::a9fe:a9fe"}, "is a link-local address"},
        {{"8.8.8.8", "198.18.0.1"}, "is a benchmarking address"},
        {{"0.0.0.0"}, "is an unspecified address"},
    };
    int before = atomic_load(&plain.accepts);
    for (size_t k = 0; k < N(cases); k++) {
        fake_dns_t dns = {.first = {cases[k].addrs[0], cases[k].addrs[1], cases[k].addrs[2], cases[k].addrs[3]}};
        ac_skills_webread_opts_t o = opts_with(&dns, &allow_local);
        result_t r = get(fmt("http://Mixed.Example:%d/text?q=sekrit", plain.port), &o);
        expect_fail(&r, -AC_EPERM, cases[k].why);
        assert_non_null(strstr(r.err.msg, "destination \"Mixed.Example\""));
        assert_null(strstr(r.err.msg, "sekrit"));
        assert_null(strstr(r.err.msg, cases[k].addrs[1] != NULL ? cases[k].addrs[1] : cases[k].addrs[0]));
        assert_string_equal(dns.last_host, "mixed.example"); /* resolved lower-case */
    }
    assert_int_equal(atomic_load(&plain.accepts), before);
}

static void the_checked_address_is_the_one_connected_to(void **state)
{
    /* Rebinding: the name answers 127.0.0.1 (allowed) once, then 127.0.0.2. libcurl must not ask again. */
    fake_dns_t dns = {.first = {"127.0.0.1"}, .later = {"127.0.0.2"}};
    ac_skills_webread_opts_t o = opts_with(&dns, &allow_local);
    result_t r = get(fmt("http://rebind.test:%d/echo", plain.port), &o);
    expect_ok(&r);
    assert_int_equal(dns.calls, 1);
    assert_non_null(strstr(r.resp.body, fmt("Host: rebind.test:%d\r\n", plain.port))); /* Host is the name */
    ac_skills_webread_resp_free(&r.resp);

    /* the pin holds for the name as libcurl keys it: any case, a final dot */
    dns = (fake_dns_t){.first = {"127.0.0.1"}, .later = {"127.0.0.2"}};
    r = get(fmt("http://ReBind.TEST.:%d/text", plain.port), &o);
    expect_body(&r, "hello from the fixture");
    assert_int_equal(dns.calls, 1);
    assert_string_equal(dns.last_host, "rebind.test.");

    /* every hop resolves again: the second answer is refused before any connection */
    dns = (fake_dns_t){.first = {"127.0.0.1"}, .later = {"127.0.0.2"}};
    r = get(fmt("http://rebind.test:%d/redirect?to=http://rebind.test:%d/text", plain.port, sentinel.port), &o);
    expect_fail(&r, -AC_EPERM, "after redirect 1: destination \"rebind.test\" is a loopback address");
    assert_int_equal(dns.calls, 2);
    dns = (fake_dns_t){.first = {"127.0.0.1"}, .later = {"127.0.0.2"}};
    r = get(fmt("http://rebind.test:%d/redirect?to=/text", plain.port), &o); /* same host and port */
    expect_fail(&r, -AC_EPERM, "after redirect 1: destination \"rebind.test\" is a loopback address");
    assert_int_equal(atomic_load(&sentinel.accepts), 0);

    /* a name is pinned with all its checked addresses; the ones that do not answer are skipped */
    ac_policy_netaddr_allow_t two;
    assert_int_equal(ac_policy_netaddr_allow_parse(&two, "127.0.0.1/32 ::1", NULL), 0);
    dns = (fake_dns_t){.first = {"::1", "127.0.0.1"}};
    o = opts_with(&dns, &two);
    r = get(fmt("http://two.test:%d/text", plain.port), &o);
    expect_body(&r, "hello from the fixture");
}

static void dns_failures_are_reported(void **state)
{
    fake_dns_t dns = {.rc = -AC_ENOENT};
    ac_skills_webread_opts_t o = opts_with(&dns, &allow_local);
    result_t r = get("http://nx.test/", &o);
    expect_fail(&r, -AC_ENOENT, "host \"nx.test\" not found");
    dns = (fake_dns_t){.first = {NULL}};
    r = get("http://empty.test/", &o);
    expect_fail(&r, -AC_ENOENT, "host \"empty.test\" not found");
    dns = (fake_dns_t){.rc = -AC_ETOOLONG};
    r = get("http://many.test/", &o);
    expect_fail(&r, -AC_EPERM, "has more than 32 addresses");
    dns = (fake_dns_t){.rc = -AC_EIO};
    r = get("http://broken.test/", &o);
    expect_fail(&r, -AC_EIO, "resolving \"broken.test\" failed");

    /* getaddrinfo on its helper thread: a name that does not exist (.invalid never resolves, RFC 6761) */
    o = opts_with(NULL, NULL);
    r = get("http://no-such-host.invalid/", &o);
    if (r.rc != -AC_ENOENT && r.rc != -AC_EIO && r.rc != -AC_ETIMEDOUT)
        fail_msg("got %s: %s", ac_strerror_name(r.rc), r.err.msg);
    ac_skills_webread_resp_free(&r.resp);
}

/* ---- redirects -------------------------------------------------------------------------------------------------- */

static void redirects_are_followed_and_every_hop_is_checked(void **state)
{
    ac_skills_webread_opts_t o = opts_with(NULL, &allow_local);
    result_t r = get(fmt("http://127.0.0.1:%d/redirect?to=/text", plain.port), &o);
    expect_ok(&r);
    assert_int_equal(r.resp.status, 200);
    assert_int_equal(r.resp.redirects, 1);
    assert_string_equal(r.resp.final_url, fmt("http://127.0.0.1:%d/text", plain.port));
    ac_skills_webread_resp_free(&r.resp);

    static const struct {
        const char *to;
        int rc;
        const char *why;
    } refused[] = {
        {"http://127.0.0.2:{port}/", -AC_EPERM, "after redirect 1: destination \"127.0.0.2\" is a loopback address"},
        {"http://0x7f000002:{port}/", -AC_EPERM, "after redirect 1: destination \"127.0.0.2\" is a loopback address"},
        {"http://[::1]:{port}/", -AC_EPERM, "is a loopback address"},
        {"http://10.0.0.1:{port}/", -AC_EPERM, "after redirect 1: destination \"10.0.0.1\" is a private address"},
        {"http://169.254.169.254:{port}/latest/meta-data/", -AC_EPERM, "is a link-local address"},
        {"file:///etc/passwd#{port}", -AC_EPERM, "redirect 1 refused: scheme \"file\" is not http or https"},
        {"ftp://127.0.0.1:{port}/", -AC_EPERM, "redirect 1 refused: scheme \"ftp\""},
        {"gopher://127.0.0.1:{port}/", -AC_EPERM, "redirect 1 refused: scheme \"gopher\""},
        {"http://user:pw@127.0.0.1:{port}/text", -AC_EINVAL, "redirect 1 refused: URL must not hold user information"},
    };
    for (size_t k = 0; k < N(refused); k++) {
        const char *to = with_port(refused[k].to, sentinel.port);
        r = get(fmt("http://127.0.0.1:%d/redirect?to=%s", plain.port, to), &o);
        expect_fail(&r, refused[k].rc, refused[k].why);
    }
    assert_int_equal(atomic_load(&sentinel.accepts), 0);
}

static void at_most_max_redirects_are_followed(void **state)
{
    ac_skills_webread_opts_t o = opts_with(NULL, &allow_local);
    result_t r = get(fmt("http://127.0.0.1:%d/chain?n=5", plain.port), &o);
    expect_ok(&r);
    assert_int_equal(r.resp.redirects, 5);
    ac_skills_webread_resp_free(&r.resp);
    r = get(fmt("http://127.0.0.1:%d/chain?n=6", plain.port), &o);
    expect_fail(&r, -AC_EIO, "more than 5 redirects");

    o.max_redirects = 2;
    r = get(fmt("http://127.0.0.1:%d/chain?n=2", plain.port), &o);
    expect_body(&r, "hello from the fixture");
    r = get(fmt("http://127.0.0.1:%d/chain?n=3", plain.port), &o);
    expect_fail(&r, -AC_EIO, "more than 2 redirects");

    /* redirects off: the 3xx is the response, with its body */
    o.max_redirects = -1;
    r = get(fmt("http://127.0.0.1:%d/redirect?to=http://10.0.0.1/", plain.port), &o);
    expect_ok(&r);
    assert_int_equal(r.resp.status, 302);
    assert_string_equal(r.resp.body, "mmmmm");
    ac_skills_webread_resp_free(&r.resp);
}

static void a_redirect_body_is_not_read(void **state)
{
    /* 2 MiB announced on a redirect: not the response, so no size error */
    ac_skills_webread_opts_t o = opts_with(NULL, &allow_local);
    result_t r = get(fmt("http://127.0.0.1:%d/redirect?pad=2097152&to=/text", plain.port), &o);
    expect_body(&r, "hello from the fixture");
}

static void redirects_change_the_method_as_browsers_do(void **state)
{
    ac_skills_webread_opts_t o = opts_with(NULL, &allow_local);
    static const struct {
        int code;
        const char *method, *expect_line;
        bool body_kept;
    } cases[] = {
        {301, "POST", "GET /echo", false}, {302, "POST", "GET /echo", false}, {303, "POST", "GET /echo", false},
        {303, "PUT", "GET /echo", false},  {307, "POST", "POST /echo", true}, {308, "PUT", "PUT /echo", true},
        {302, "PUT", "PUT /echo", true},
    };
    for (size_t k = 0; k < N(cases); k++) {
        ac_skills_webread_header_t h[] = {{"Content-Type", "application/json"}};
        ac_skills_webread_req_t req = {
            .method = cases[k].method,
            .url = fmt("http://127.0.0.1:%d/redirect?code=%d&to=/echo", plain.port, cases[k].code),
            .headers = h,
            .n_headers = 1,
            .body = "{\"k\":1}",
            .body_len = 7,
        };
        result_t r = request(&req, &o);
        expect_ok(&r);
        if (strncmp(r.resp.body, cases[k].expect_line, strlen(cases[k].expect_line)) != 0)
            fail_msg("%d %s: got [%.40s]", cases[k].code, cases[k].method, r.resp.body);
        assert_int_equal(strstr(r.resp.body, "{\"k\":1}") != NULL, cases[k].body_kept);
        assert_int_equal(strcasestr(r.resp.body, "Content-Type: application/json") != NULL, cases[k].body_kept);
        ac_skills_webread_resp_free(&r.resp);
    }
}

static void credentials_stay_with_the_first_origin(void **state)
{
    fake_dns_t dns = {.first = {"127.0.0.1"}};
    ac_skills_webread_opts_t o = opts_with(&dns, &allow_local);
    ac_skills_webread_header_t h[] = {{"Authorization", "Bearer tok"}, {"Cookie", "s=1"}, {"X-Keep", "yes"}};
    ac_skills_webread_req_t req = {.url = NULL, .headers = h, .n_headers = 3};

    req.url = fmt("http://a.test:%d/redirect?to=/echo", plain.port);
    result_t r = request(&req, &o);
    expect_ok(&r);
    assert_non_null(strstr(r.resp.body, "Authorization: Bearer tok\r\n"));
    assert_non_null(strstr(r.resp.body, "Cookie: s=1\r\n"));
    ac_skills_webread_resp_free(&r.resp);

    static const char *const others[] = {"http://b.test:{port}/echo", "http://127.0.0.1:{port}/echo"};
    for (size_t k = 0; k < N(others); k++) {
        const char *to = with_port(others[k], plain.port);
        req.url = fmt("http://a.test:%d/redirect?to=%s", plain.port, to);
        r = request(&req, &o);
        expect_ok(&r);
        assert_null(strstr(r.resp.body, "Authorization"));
        assert_null(strstr(r.resp.body, "Cookie"));
        assert_non_null(strstr(r.resp.body, "X-Keep: yes\r\n"));
        ac_skills_webread_resp_free(&r.resp);
    }
}

/* ---- TLS -------------------------------------------------------------------------------------------------------- */

static void tls_verifies_the_name_and_sends_it_as_sni_and_host(void **state)
{
    fake_dns_t dns = {.first = {"127.0.0.1"}};
    ac_skills_webread_opts_t o = opts_with(&dns, &allow_local);
    result_t r = get(fmt("https://rebind.test:%d/echo", tls.port), &o);
    expect_ok(&r);
    assert_non_null(strstr(r.resp.body, fmt("Host: rebind.test:%d\r\n", tls.port)));
    ac_skills_webread_resp_free(&r.resp);
    pthread_mutex_lock(&tls.mu);
    assert_string_equal(tls.sni, "rebind.test");
    pthread_mutex_unlock(&tls.mu);

    /* without the test CA the certificate is not trusted */
    o.ca_file = NULL;
    r = get(fmt("https://rebind.test:%d/echo", tls.port), &o);
    expect_fail(&r, -AC_EIO, "TLS with \"rebind.test\" failed");

    /* the certificate names rebind.test, not the address */
    o.ca_file = ca_path;
    r = get(fmt("https://127.0.0.1:%d/echo", tls.port), &o);
    expect_fail(&r, -AC_EIO, "\"127.0.0.1\"");

    /* https to http is refused, even to an allowed address */
    r = get(fmt("https://rebind.test:%d/redirect?to=http://rebind.test:%d/text", tls.port, plain.port), &o);
    expect_fail(&r, -AC_EPERM, "redirect 1 refused: from https to http");
    r = get(fmt("https://rebind.test:%d/redirect?to=/text", tls.port), &o); /* https to https is fine */
    expect_body(&r, "hello from the fixture");
}

static void proxies_from_the_environment_are_ignored(void **state)
{
    char proxy[64];
    snprintf(proxy, sizeof(proxy), "http://127.0.0.2:%d", sentinel.port);
    static const char *const vars[] = {"http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"};
    for (size_t k = 0; k < N(vars); k++)
        setenv(vars[k], proxy, 1);
    fake_dns_t dns = {.first = {"127.0.0.1"}};
    ac_skills_webread_opts_t o = opts_with(&dns, &allow_local);
    result_t r = get(fmt("http://127.0.0.1:%d/text", plain.port), &o);
    expect_body(&r, "hello from the fixture");
    r = get(fmt("https://rebind.test:%d/text", tls.port), &o);
    expect_body(&r, "hello from the fixture");
    for (size_t k = 0; k < N(vars); k++)
        unsetenv(vars[k]);
    assert_int_equal(atomic_load(&sentinel.accepts), 0);
}

/* ---- limits ----------------------------------------------------------------------------------------------------- */

static void the_body_is_capped_or_truncated(void **state)
{
    ac_skills_webread_opts_t o = opts_with(NULL, &allow_local);
    result_t r = get(fmt("http://127.0.0.1:%d/fill?n=2097152", plain.port), &o); /* announced */
    expect_fail(&r, -AC_ETOOLONG, "response body over 1048576 bytes");
    r = get(fmt("http://127.0.0.1:%d/fill?n=2097152&len=0", plain.port), &o); /* streamed */
    expect_fail(&r, -AC_ETOOLONG, "response body over 1048576 bytes");
    r = get(fmt("http://127.0.0.1:%d/fill?n=1048576", plain.port), &o); /* exactly the cap */
    expect_ok(&r);
    assert_int_equal(r.resp.body_len, 1048576);
    assert_false(r.resp.truncated);
    ac_skills_webread_resp_free(&r.resp);

    o.truncate = true;
    r = get(fmt("http://127.0.0.1:%d/fill?n=2097152", plain.port), &o);
    expect_ok(&r);
    assert_int_equal(r.resp.status, 200);
    assert_int_equal(r.resp.body_len, 1048576);
    assert_true(r.resp.truncated);
    assert_int_equal(r.resp.body[1048575], 'a');
    assert_int_equal(r.resp.body[1048576], '\0');
    ac_skills_webread_resp_free(&r.resp);

    o.max_bytes = 100;
    r = get(fmt("http://127.0.0.1:%d/fill?n=100000&len=0", plain.port), &o);
    expect_ok(&r);
    assert_int_equal(r.resp.body_len, 100);
    assert_true(r.resp.truncated);
    ac_skills_webread_resp_free(&r.resp);
    r = get(fmt("http://127.0.0.1:%d/fill?n=100", plain.port), &o);
    expect_ok(&r);
    assert_int_equal(r.resp.body_len, 100);
    assert_false(r.resp.truncated);
    ac_skills_webread_resp_free(&r.resp);
}

static void the_timeout_bounds_the_whole_request(void **state)
{
    ac_skills_webread_opts_t o = opts_with(NULL, &allow_local);
    o.timeout_ms = 500;
    result_t r = get(fmt("http://127.0.0.1:%d/slow", plain.port), &o);
    expect_fail(&r, -AC_ETIMEDOUT, "request to \"127.0.0.1\" timed out");
    assert_true(r.ms >= 400);
    assert_true(r.ms < 2500);

    /* a slow resolver counts too */
    fake_dns_t dns = {.first = {"127.0.0.1"}, .delay_ms = 600};
    o = opts_with(&dns, &allow_local);
    o.timeout_ms = 300;
    r = get(fmt("http://slow-dns.test:%d/text", plain.port), &o);
    expect_fail(&r, -AC_ETIMEDOUT, "resolving \"slow-dns.test\" timed out");

    /* a deadline already past: nothing is attempted */
    o = opts_with(NULL, &allow_local);
    o.deadline_ms = ac_skill_now_ms() - 1;
    int before = atomic_load(&plain.accepts);
    r = get(fmt("http://127.0.0.1:%d/text", plain.port), &o);
    expect_fail(&r, -AC_ETIMEDOUT, "timed out");
    assert_true(r.ms < 200);
    assert_int_equal(atomic_load(&plain.accepts), before);
}

typedef struct {
    volatile sig_atomic_t *flag;
    int after_ms;
} canceller_t;

static void *cancel_later(void *arg)
{
    canceller_t *c = arg;
    struct timespec ts = {.tv_sec = c->after_ms / 1000, .tv_nsec = (long)(c->after_ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    *c->flag = 1;
    return NULL;
}

static void a_cancelled_request_stops(void **state)
{
    volatile sig_atomic_t flag = 0;
    canceller_t c = {&flag, 300};
    pthread_t t;
    ac_skills_webread_opts_t o = opts_with(NULL, &allow_local);
    o.cancel = &flag;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);
    result_t r = get(fmt("http://127.0.0.1:%d/slow", plain.port), &o);
    pthread_join(t, NULL);
    expect_fail(&r, -AC_ESTOPPED, "cancelled");
    assert_true(r.ms < 2500);
    r = get(fmt("http://127.0.0.1:%d/text", plain.port), &o); /* already cancelled */
    expect_fail(&r, -AC_ESTOPPED, "cancelled");
}

/* ---- bad requests: nothing is sent ------------------------------------------------------------------------------ */

static void bad_urls_are_refused(void **state)
{
    char long_host[400], long_label[128], long_url[9000];
    memset(long_host, 'a', sizeof(long_host));
    for (size_t i = 63; i < 300; i += 64)
        long_host[i] = '.';
    snprintf(long_host + 250, sizeof(long_host) - 250, ".com"); /* 254 bytes */
    memset(long_label, 'b', 64);
    snprintf(long_label + 64, sizeof(long_label) - 64, ".test");
    snprintf(long_url, sizeof(long_url), "http://ok.test/%08192d", 0);

    static const struct {
        const char *url;
        int rc;
        const char *why;
    } cases[] = {
        {"ftp://127.0.0.1/", -AC_EPERM, "scheme \"ftp\" is not http or https"},
        {"file:///etc/passwd", -AC_EPERM, "scheme \"file\" is not http or https"},
        {"FILE:///etc/passwd", -AC_EPERM, "scheme \"file\""},
        {"gopher://127.0.0.1/", -AC_EPERM, "scheme \"gopher\""},
        {"dict://127.0.0.1/", -AC_EPERM, "scheme \"dict\""},
        {"ldap://127.0.0.1/", -AC_EPERM, "scheme \"ldap\""},
        {"127.0.0.1/text", -AC_EINVAL, "URL is not absolute"},
        {"//ok.test/x", -AC_EINVAL, "URL is not absolute"},
        {"http:/ok.test/x", -AC_EINVAL, "URL is not absolute"},
        {"", -AC_EINVAL, "URL is not absolute"},
        {"http://user:pw@ok.test/", -AC_EINVAL, "URL must not hold user information"},
        {"http://user@ok.test/", -AC_EINVAL, "URL must not hold user information"},
        {"http://:@ok.test/", -AC_EINVAL, "URL must not hold user information"},
        {"https://ok.test@127.0.0.1/", -AC_EINVAL, "URL must not hold user information"},
        {"http://ok.test:0/", -AC_EINVAL, "port must be 1 to 65535"},
        {"http://ok.test:65536/", -AC_EINVAL, "port must be 1 to 65535"},
        {"http://ok.test:99999/", -AC_EINVAL, "port must be 1 to 65535"},
        {"http://ok.test:-1/", -AC_EINVAL, "port must be 1 to 65535"},
        {"http://ok.test:8o/", -AC_EINVAL, "port must be 1 to 65535"},
        {"http://[fe80::1%25eth0]/", -AC_EINVAL, "URL must not name an IPv6 zone"},
        {"http://ok .test/", -AC_EINVAL, "URL has a space or a control character"},
        {"http://ok.test/a b", -AC_EINVAL, "URL has a space or a control character"},
        {"http://ok.test/\r\nHost: evil", -AC_EINVAL, "URL has a space or a control character"},
        {"http://ok.test/\x7f", -AC_EINVAL, "URL has a space or a control character"},
        {"http://a..b/", -AC_EINVAL, "host name has an empty label"},
        {"http://.ok.test/", -AC_EINVAL, "host name has an empty label"},
        {"http://ok!.test/", -AC_EINVAL, "invalid URL"},
        {"http://b\xc3\xbc"
         "cher.de/",
         -AC_EINVAL, "use punycode"},
        {"http://1.2.3.4.5/", -AC_EINVAL, "host is neither a host name nor an IPv4 address"},
        {"http://256.1.1.1/", -AC_EINVAL, "host is neither a host name nor an IPv4 address"},
        {"http://0x100000000/", -AC_EINVAL, "host is neither a host name nor an IPv4 address"},
        {"http://ok.test.0x1f/", -AC_EINVAL, "host is neither a host name nor an IPv4 address"},
        {"http://[::1/", -AC_EINVAL, "invalid URL"},
    };
    fake_dns_t dns = {.first = {"8.8.8.8"}};
    ac_skills_webread_opts_t o = opts_with(&dns, &allow_local);
    for (size_t k = 0; k < N(cases); k++) {
        result_t r = get(cases[k].url, &o);
        if (r.rc != cases[k].rc || strstr(r.err.msg, cases[k].why) == NULL)
            fail_msg("%s: expected %s [%s], got %s [%s]", cases[k].url, ac_strerror_name(cases[k].rc), cases[k].why,
                     ac_strerror_name(r.rc), r.err.msg);
        ac_skills_webread_resp_free(&r.resp);
    }
    result_t r = get(fmt("http://%s/", long_host), &o);
    expect_fail(&r, -AC_EINVAL, "host name is longer than 253 bytes");
    r = get(fmt("http://%s/", long_label), &o);
    expect_fail(&r, -AC_EINVAL, "host name has a label longer than 63 bytes");
    r = get(long_url, &o);
    expect_fail(&r, -AC_EINVAL, "URL longer than 8192 bytes");
    ac_skills_webread_req_t req = {.url = NULL};
    r = request(&req, &o);
    expect_fail(&r, -AC_EINVAL, "no request, options or URL");
    assert_int_equal(dns.calls, 0); /* refused before any lookup */

    /* the limits themselves pass the URL checks (then the fake name is refused as private) */
    dns = (fake_dns_t){.first = {"10.1.1.1"}};
    long_host[253] = '\0';
    long_host[252] = 'm';
    r = get(fmt("http://%s./x", long_host), &o); /* 253 bytes and a final dot */
    expect_fail(&r, -AC_EPERM, "is a private address");
    long_label[63] = '\0';
    r = get(fmt("http://%s.test:65535/", long_label), &o);
    expect_fail(&r, -AC_EPERM, "is a private address");
    r = get("http://under_score.xn--bcher-kva.de:1/", &o);
    expect_fail(&r, -AC_EPERM, "is a private address");
    assert_int_equal(dns.calls, 3);
}

static void bad_headers_methods_and_bodies_are_refused(void **state)
{
    static const struct {
        ac_skills_webread_header_t h;
        const char *why;
    } headers[] = {
        {{"X-A", "v\r\nHost: evil.test"}, "value of header X-A has a control character"},
        {{"X-A", "v\nX-B: 1"}, "value of header X-A has a control character"},
        {{"X-A", "v\rX-B: 1"}, "value of header X-A has a control character"},
        {{"X-A", "\x01"}, "value of header X-A has a control character"},
        {{"X-A:", "v"}, "header 1 has an invalid name"},
        {{"X A", "v"}, "header 1 has an invalid name"},
        {{"", "v"}, "header 1 has an invalid name"},
        {{"X-\xc3\xa9", "v"}, "header 1 has an invalid name"},
        {{"X-A\r\nHost", "v"}, "header 1 has an invalid name"},
        {{":authority", "evil.test"}, "header 1 has an invalid name"},
        {{NULL, "v"}, "header 1 has an invalid name"},
        {{"X-A", NULL}, "header 1 has an invalid name"},
        {{"Host", "evil.test"}, "header Host is set by the client"},
        {{"HOST", "evil.test"}, "header HOST is set by the client"},
        {{"Content-Length", "5"}, "is set by the client"},
        {{"Transfer-Encoding", "chunked"}, "is set by the client"},
        {{"Connection", "close"}, "is set by the client"},
        {{"Upgrade", "h2c"}, "is set by the client"},
        {{"TE", "trailers"}, "is set by the client"},
        {{"Proxy-Authorization", "Basic x"}, "is set by the client"},
    };
    int before = atomic_load(&plain.accepts);
    ac_skills_webread_opts_t o = opts_with(NULL, &allow_local);
    const char *url = fmt("http://127.0.0.1:%d/echo", plain.port);
    for (size_t k = 0; k < N(headers); k++) {
        ac_skills_webread_req_t req = {.url = url, .headers = &headers[k].h, .n_headers = 1};
        result_t r = request(&req, &o);
        if (r.rc != -AC_EINVAL || strstr(r.err.msg, headers[k].why) == NULL)
            fail_msg("header %zu: got %s [%s]", k, ac_strerror_name(r.rc), r.err.msg);
        assert_null(strstr(r.err.msg, "evil")); /* never the value */
        ac_skills_webread_resp_free(&r.resp);
    }

    /* counts and sizes */
    ac_skills_webread_header_t many[AC_SKILLS_WEBREAD_HEADERS_MAX + 1];
    for (size_t k = 0; k < N(many); k++)
        many[k] = (ac_skills_webread_header_t){"X-N", "v"};
    ac_skills_webread_req_t req = {.url = url, .headers = many, .n_headers = N(many)};
    result_t r = request(&req, &o);
    expect_fail(&r, -AC_EINVAL, "more than 32 headers");
    static char big[AC_SKILLS_WEBREAD_HEADER_MAX + 1];
    memset(big, 'v', sizeof(big) - 1);
    ac_skills_webread_header_t one = {"X-Big", big};
    req = (ac_skills_webread_req_t){.url = url, .headers = &one, .n_headers = 1};
    r = request(&req, &o);
    expect_fail(&r, -AC_EINVAL, "value of header X-Big has a control character or is too long");
    big[AC_SKILLS_WEBREAD_HEADER_MAX - 5] = '\0'; /* name and value within one header's limit */
    for (size_t k = 0; k < 5; k++)
        many[k] = (ac_skills_webread_header_t){"X-Big", big};
    req = (ac_skills_webread_req_t){.url = url, .headers = many, .n_headers = 5};
    r = request(&req, &o);
    expect_fail(&r, -AC_EINVAL, "headers longer than 32768 bytes");
    req = (ac_skills_webread_req_t){.url = url, .headers = NULL, .n_headers = 1};
    r = request(&req, &o);
    expect_fail(&r, -AC_EINVAL, "no header list");

    /* methods */
    static const char *const bad_methods[] = {"TRACE", "CONNECT", "OPTIONS", "G ET", "", "GETT", "POST\r\n"};
    for (size_t k = 0; k < N(bad_methods); k++) {
        req = (ac_skills_webread_req_t){.url = url, .method = bad_methods[k]};
        r = request(&req, &o);
        expect_fail(&r, -AC_EINVAL, "method must be one of");
    }

    /* bodies */
    req = (ac_skills_webread_req_t){.url = url, .method = "GET", .body = "x", .body_len = 1};
    r = request(&req, &o);
    expect_fail(&r, -AC_EINVAL, "a GET request takes no body");
    req = (ac_skills_webread_req_t){.url = url, .method = "head", .body = "x", .body_len = 1};
    r = request(&req, &o);
    expect_fail(&r, -AC_EINVAL, "a HEAD request takes no body");
    req = (ac_skills_webread_req_t){
        .url = url, .method = "POST", .body = big, .body_len = AC_SKILLS_WEBREAD_BODY_MAX + 1};
    r = request(&req, &o);
    expect_fail(&r, -AC_EINVAL, "body longer than 1048576 bytes");

    assert_int_equal(atomic_load(&plain.accepts), before);
}

/* ---- what is sent ----------------------------------------------------------------------------------------------- */

static void methods_headers_and_bodies_are_sent_as_given(void **state)
{
    ac_skills_webread_opts_t o = opts_with(NULL, &allow_local);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo?q=1", plain.port);
    ac_skills_webread_header_t h[] = {{"Content-Type", "application/json"}, {"X-Empty", ""}, {"User-Agent", "skill"}};
    static const char *const with_body[] = {"POST", "put", "PATCH", "DELETE"};
    for (size_t k = 0; k < N(with_body); k++) {
        ac_skills_webread_req_t req = {
            .method = with_body[k], .url = url, .headers = h, .n_headers = 3, .body = "{\"a\":1}", .body_len = 7};
        result_t r = request(&req, &o);
        expect_ok(&r);
        char line[32];
        snprintf(line, sizeof(line), "%s /echo?q=1 HTTP/1.1\r\n", k == 1 ? "PUT" : with_body[k]);
        assert_true(strncmp(r.resp.body, line, strlen(line)) == 0);
        assert_non_null(strstr(r.resp.body, "\r\n\r\n{\"a\":1}"));
        assert_non_null(strstr(r.resp.body, "Content-Length: 7\r\n"));
        assert_non_null(strstr(r.resp.body, "Content-Type: application/json\r\n"));
        assert_non_null(strstr(r.resp.body, "X-Empty:"));
        assert_non_null(strstr(r.resp.body, "User-Agent: skill\r\n"));
        assert_null(strstr(r.resp.body, "Expect:"));
        assert_non_null(strstr(r.resp.body, fmt("Host: 127.0.0.1:%d\r\n", plain.port)));
        ac_skills_webread_resp_free(&r.resp);
    }
    /* a body without a Content-Type goes without one (libcurl would add a form type) */
    ac_skills_webread_req_t req = {.method = "POST", .url = url, .body = "raw", .body_len = 3};
    result_t r = request(&req, &o);
    expect_ok(&r);
    assert_null(strcasestr(r.resp.body, "Content-Type"));
    assert_non_null(strstr(r.resp.body, "User-Agent: AlexClaw/C "));
    ac_skills_webread_resp_free(&r.resp);

    /* HEAD: the status and the type, no body */
    req = (ac_skills_webread_req_t){.method = "HEAD", .url = fmt("http://127.0.0.1:%d/text", plain.port)};
    r = request(&req, &o);
    expect_ok(&r);
    assert_int_equal(r.resp.status, 200);
    assert_int_equal(r.resp.body_len, 0);
    assert_string_equal(r.resp.content_type, "text/plain; charset=utf-8");
    ac_skills_webread_resp_free(&r.resp);

    /* any status is a response */
    r = get(fmt("http://127.0.0.1:%d/nowhere", plain.port), &o);
    expect_ok(&r);
    assert_int_equal(r.resp.status, 404);
    assert_null(r.resp.content_type);
    ac_skills_webread_resp_free(&r.resp);
}

int main(void)
{
    if (ac_policy_netaddr_allow_parse(&allow_local, "127.0.0.1/32", NULL) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loopback_is_refused_in_every_spelling),
        cmocka_unit_test(an_allow_listed_address_is_fetched),
        cmocka_unit_test(the_allow_list_opens_only_what_it_names),
        cmocka_unit_test(a_name_with_any_refused_address_is_refused),
        cmocka_unit_test(the_checked_address_is_the_one_connected_to),
        cmocka_unit_test(dns_failures_are_reported),
        cmocka_unit_test(redirects_are_followed_and_every_hop_is_checked),
        cmocka_unit_test(at_most_max_redirects_are_followed),
        cmocka_unit_test(a_redirect_body_is_not_read),
        cmocka_unit_test(redirects_change_the_method_as_browsers_do),
        cmocka_unit_test(credentials_stay_with_the_first_origin),
        cmocka_unit_test(tls_verifies_the_name_and_sends_it_as_sni_and_host),
        cmocka_unit_test(proxies_from_the_environment_are_ignored),
        cmocka_unit_test(the_body_is_capped_or_truncated),
        cmocka_unit_test(the_timeout_bounds_the_whole_request),
        cmocka_unit_test(a_cancelled_request_stops),
        cmocka_unit_test(bad_urls_are_refused),
        cmocka_unit_test(bad_headers_methods_and_bodies_are_refused),
        cmocka_unit_test(methods_headers_and_bodies_are_sent_as_given),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
