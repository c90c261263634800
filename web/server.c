/* web/server.c - the h2o loop, the listener, TLS and routing of server.h. */
#include "web/internal.h"

#include "node/log.h"
#include "node/settings.h"
#include "policy/alloc.h"
#include "policy/crypto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_MS 3000

typedef struct {
    h2o_handler_t super;
    ac_web_server_t *srv;
} handler_t;

int64_t ac_web_now(void)
{
    return (int64_t)time(NULL);
}

/* The UI's pages: each is the same shell; the script draws the page the path names. */
static bool is_page(const char *path)
{
    static const char *const pages[] = {"/",    "/workflows", "/runs",   "/cluster", "/skills",
                                        "/llm", "/policies",  "/config", "/logs",    NULL};
    for (size_t i = 0; pages[i] != NULL; i++)
        if (strcmp(path, pages[i]) == 0)
            return true;
    return false;
}

static void serve_asset(h2o_req_t *req, const ac_web_asset_t *a, const char *cache)
{
    ac_web_respond(req, 200, "OK", a->content_type, (const char *)a->data, a->len, cache);
}

/* The Host check: see ac_web_host_allowed. */
static bool host_ok(ac_web_server_t *s, h2o_req_t *req)
{
    char *allowed = NULL;
    if (ac_node_settings_get_str(s->cfg.settings, "web.allowed_hosts", &allowed) != 0) {
        free(allowed);
        allowed = NULL;
    }
    bool ok = ac_web_host_allowed(req, allowed);
    free(allowed);
    return ok;
}

static void route(ac_web_server_t *s, h2o_req_t *req)
{
    const char *path = ac_web_path(req);
    if (s->closing) { /* the node is stopping: the pool and the poller may be gone */
        ac_web_error(req, 503, "the node is stopping");
        return;
    }
    if (!host_ok(s, req)) {
        ac_web_error(req, 403,
                     "this node does not answer to that host name: add it to the setting web.allowed_hosts (IP "
                     "addresses and localhost always work)");
        return;
    }
    bool get = ac_web_method_is(req, "GET") || ac_web_method_is(req, "HEAD");
    bool post = ac_web_method_is(req, "POST");
    bool api = strcmp(path, "/api") == 0 || strncmp(path, "/api/", 5) == 0;
    ac_web_who_t who;

    if (strcmp(path, "/health") == 0) {
        if (get)
            ac_web_health(s, req);
        else
            ac_web_error(req, 405, "use GET");
    } else if (strcmp(path, "/login") == 0) {
        if (get)
            ac_web_login_page(s, req);
        else if (post)
            ac_web_login_post(s, req);
        else
            ac_web_error(req, 405, "use GET or POST");
    } else if (strcmp(path, "/logout") == 0) {
        if (post)
            ac_web_logout(s, req);
        else
            ac_web_error(req, 405, "use POST");
    } else if (strcmp(path, "/webhooks/github") == 0) {
        if (post)
            ac_web_webhook_github(s, req);
        else
            ac_web_error(req, 405, "use POST");
    } else if (strncmp(path, "/assets/", 8) == 0) { /* public: the login page uses them; nothing in them is secret */
        const ac_web_asset_t *a = get ? ac_web_asset_find(path) : NULL;
        if (a != NULL)
            serve_asset(req, a, "no-cache");
        else
            ac_web_error(req, 404, "not found");
    } else if (strcmp(path, "/metrics") == 0 || api) {
        if (!ac_web_auth_check(s, req, true, &who))
            ac_web_error(req, 401, "authentication required (session or Authorization: Bearer <api.token>)");
        else if (!api && !get)
            ac_web_error(req, 405, "use GET");
        else if (!api)
            ac_web_metrics(s, req);
        else if (!get && !ac_web_csrf_ok(req, &who))
            ac_web_error(req, 403, "missing or wrong X-CSRF-Token header (GET /api/session tells it)");
        else
            ac_web_api(s, req, path, &who);
    } else if (get && is_page(path)) {
        if (!ac_web_auth_check(s, req, false, &who))
            ac_web_redirect(req, "/login");
        else
            serve_asset(req, ac_web_asset_find("/assets/index.html"), NULL);
    } else {
        ac_web_error(req, 404, "not found");
    }
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    route(((handler_t *)self)->srv, req);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    ac_web_server_t *s = listener->data;
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(&s->accept_ctx, sock);
}

/* The stop pipe: a signal handler wrote to it; ac_web_server_run sees the flag once the loop returns. */
static void on_wake(h2o_socket_t *sock, const char *err)
{
    if (err == NULL)
        h2o_buffer_consume(&sock->input, sock->input->size);
}

static bool connections_left(ac_web_server_t *s)
{
    return !h2o_linklist_is_empty(&s->ctx.http1._conns) || !h2o_linklist_is_empty(&s->ctx.http2._conns);
}

static int make_listener(ac_web_server_t *s, ac_errmsg_t *err)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", s->cfg.port);
    if (getaddrinfo(s->bind_addr, port, &hints, &ai) != 0)
        return ac_errmsg_set(err, -AC_ECONFIG, "BIND_ADDRESS %s is not a numeric IPv4 or IPv6 address", s->bind_addr);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        freeaddrinfo(ai);
        if (fd >= 0)
            close(fd);
        return ac_errmsg_set(err, -AC_ESYS, "admin UI: cannot listen on %s port %d: %s", s->bind_addr, s->cfg.port,
                             strerror(e));
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    s->listener = h2o_evloop_socket_create(s->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    s->listener->data = s;
    h2o_socket_read_start(s->listener, on_accept);
    return 0;
}

static int make_tls(ac_web_server_t *s, ac_errmsg_t *err)
{
    s->ssl = SSL_CTX_new(TLS_server_method());
    if (s->ssl == NULL)
        return ac_errmsg_set(err, -AC_ECRYPTO, "TLS: cannot create a context");
    SSL_CTX_set_min_proto_version(s->ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(s->ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(s->ssl, s->tls_cert) != 1)
        return ac_errmsg_set(err, -AC_ECONFIG, "TLS_CERT_FILE %s: cannot read a PEM certificate chain from it",
                             s->tls_cert);
    if (SSL_CTX_use_PrivateKey_file(s->ssl, s->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(s->ssl) != 1)
        return ac_errmsg_set(err, -AC_ECONFIG, "TLS_KEY_FILE %s: cannot read a PEM private key matching TLS_CERT_FILE",
                             s->tls_key);
    h2o_ssl_register_alpn_protocols(s->ssl, h2o_http2_alpn_protocols);
    s->accept_ctx.ssl_ctx = s->ssl;
    return 0;
}

static char *dup_or_null(const char *v)
{
    return v != NULL && v[0] != '\0' ? ac_strdup(v) : NULL;
}

static void free_server(ac_web_server_t *s)
{
    if (s->loop != NULL) {
        /* request_shutdown arms a graceful-shutdown timer even when no connection is left to wait for */
        if (h2o_timeout_is_linked(&s->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&s->ctx.http2._graceful_shutdown_timeout);
        h2o_timeout_dispose(s->loop, &s->runnow_timeout); /* its entries went with their requests' answers */
        h2o_context_dispose(&s->ctx);
        free(s->ctx.queue); /* h2o 2.2.5 (evloop): h2o_context_dispose destroys the queue but never frees it */
        h2o_evloop_destroy(s->loop);
    }
    h2o_config_dispose(&s->config);
    if (s->ssl != NULL)
        SSL_CTX_free(s->ssl);
    ac_web_sessions_free(s->sessions);
    ac_policy_ratelimit_free(s->limiter);
    ac_node_tg_client_free(s->tg_client);
    free(s->bind_addr);
    free(s->tls_cert);
    free(s->tls_key);
    ac_free_secret_str(s->conninfo);
    ac_free_secret_str(s->admin_password);
    free(s->node_name);
    free(s->gemini_url);
    free(s->anthropic_url);
    explicit_bzero(s->audit_key, sizeof(s->audit_key));
    free(s);
}

int ac_web_server_start(const ac_web_cfg_t *cfg, ac_web_server_t **out, ac_errmsg_t *err)
{
    if ((cfg->tls_cert == NULL || !cfg->tls_cert[0]) != (cfg->tls_key == NULL || !cfg->tls_key[0]))
        return ac_errmsg_set(err, -AC_ECONFIG, "TLS needs both TLS_CERT_FILE and TLS_KEY_FILE");
    if (cfg->port < 0 || cfg->port > 65535)
        return ac_errmsg_set(err, -AC_ECONFIG, "PORT must be 0 to 65535");
    ac_web_server_t *s = ac_calloc(1, sizeof(*s));
    s->cfg = *cfg;
    s->bind_addr = ac_strdup(cfg->bind_addr != NULL ? cfg->bind_addr : "127.0.0.1");
    s->tls_cert = dup_or_null(cfg->tls_cert);
    s->tls_key = dup_or_null(cfg->tls_key);
    s->conninfo = ac_strdup(cfg->conninfo);
    s->admin_password = dup_or_null(cfg->admin_password);
    if (s->admin_password != NULL)
        ac_policy_crypto_sha256(s->admin_password, strlen(s->admin_password), s->admin_digest);
    s->node_name = ac_strdup(cfg->node_name != NULL ? cfg->node_name : "");
    s->gemini_url = dup_or_null(cfg->gemini_url);
    s->anthropic_url = dup_or_null(cfg->anthropic_url);
    s->cfg.gemini_url = s->gemini_url;
    s->cfg.anthropic_url = s->anthropic_url;
    s->cfg.audit_key = NULL; /* the caller's buffer may go; ours is s->audit_key */
    if (cfg->audit_key != NULL) {
        memcpy(s->audit_key, cfg->audit_key, sizeof(s->audit_key));
        s->audit_key_set = true;
    }
    s->wake[0] = s->wake[1] = -1;
    h2o_config_init(&s->config);
    s->config.max_request_entity_size = AC_WEB_BODY_MAX;
    s->config.server_name = h2o_iovec_init(H2O_STRLIT("alexclaw"));
    h2o_hostconf_t *host = h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    if (cfg->bench_static_dir != NULL && cfg->bench_static_dir[0] != '\0') /* the HTTP benchmark's baseline */
        h2o_file_register(h2o_config_register_path(host, "/bench-static", 0), cfg->bench_static_dir, NULL, NULL, 0);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    handler_t *h = (handler_t *)h2o_create_handler(pc, sizeof(*h));
    h->super.on_req = on_req;
    h->srv = s;
    s->sessions = ac_web_sessions_new(cfg->session_seconds);
    s->limiter = ac_policy_ratelimit_new();
    int rc = s->sessions == NULL ? ac_errmsg_set(err, -AC_ECRYPTO, "no random source for sessions") : 0;
    if (rc == 0) /* our own client: the app's goes away before the web server does */
        rc = ac_node_tg_client_new(cfg->telegram_api_url, cfg->settings, &s->tg_client, err);
    if (rc == 0 && s->tls_cert != NULL)
        rc = make_tls(s, err);
    if (rc == 0) {
        s->loop = h2o_evloop_create();
        h2o_context_init(&s->ctx, s->loop, &s->config);
        h2o_timeout_init(s->loop, &s->runnow_timeout, AC_WEB_RUNNOW_WAIT_MS);
        s->accept_ctx.ctx = &s->ctx;
        s->accept_ctx.hosts = s->config.hosts;
        rc = make_listener(s, err);
    }
    if (rc == 0 && pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0)
        rc = ac_errmsg_set(err, -AC_ESYS, "pipe: %s", strerror(errno));
    if (rc == 0) {
        s->wake_sock = h2o_evloop_socket_create(s->loop, s->wake[0], H2O_SOCKET_FLAG_DONT_READ);
        h2o_socket_read_start(s->wake_sock, on_wake);
        rc = ac_web_jobs_start(s->conninfo, 2, s->loop, &s->jobs, err);
    }
    if (rc != 0) {
        ac_web_jobs_stop(s->jobs);
        if (s->listener != NULL)
            h2o_socket_close(s->listener);
        if (s->wake_sock != NULL)
            h2o_socket_close(s->wake_sock);
        else if (s->wake[0] >= 0)
            close(s->wake[0]);
        if (s->wake[1] >= 0)
            close(s->wake[1]);
        if (s->loop != NULL)
            h2o_evloop_run(s->loop, 0); /* lets the closed sockets go */
        free_server(s);
        return rc;
    }
    ac_log_info("web", "listening", "address=%s port=%d tls=%s login=%s", s->bind_addr, s->port,
                s->ssl != NULL ? "yes" : "no",
                s->admin_password != NULL ? "enabled" : "disabled (ADMIN_PASSWORD unset)");
    *out = s;
    return 0;
}

int ac_web_server_port(const ac_web_server_t *s)
{
    return s->port;
}

int ac_web_server_stop_fd(const ac_web_server_t *s)
{
    return s->wake[1];
}

void ac_web_server_run(ac_web_server_t *s, volatile sig_atomic_t *stop)
{
    while (!*stop)
        h2o_evloop_run(s->loop, 1000);
    /* stop accepting; let the connections finish what they do (HTTP/2 gets GOAWAY, idle ones close) */
    h2o_socket_read_stop(s->listener);
    h2o_socket_close(s->listener);
    s->listener = NULL;
    h2o_context_request_shutdown(&s->ctx);
    uint64_t until = h2o_now(s->loop) + SHUTDOWN_GRACE_MS;
    while (connections_left(s) && h2o_now(s->loop) < until)
        h2o_evloop_run(s->loop, 50);
}

void ac_web_server_quiesce(ac_web_server_t *s)
{
    if (s == NULL)
        return;
    s->closing = true;
    s->cfg.telegram = NULL;
    s->llm_cancel = 1; /* an LLM test in flight ends now, not at its 60 s deadline */
    ac_web_jobs_quiesce(s->jobs);
}

void ac_web_server_free(ac_web_server_t *s)
{
    if (s == NULL)
        return;
    ac_web_jobs_stop(s->jobs); /* joins the database workers; what they still had is dropped */
    if (s->listener != NULL)
        h2o_socket_close(s->listener);
    h2o_socket_read_stop(s->wake_sock);
    h2o_socket_close(s->wake_sock);
    close(s->wake[1]);
    for (int i = 0; i < 3; i++)
        h2o_evloop_run(s->loop, 0); /* lets the closed sockets go */
    free_server(s);
}
