/* tests/support/fake_llm.c - the C side of tests/support/fake_llm.py (see fake_llm.h): start the server as a child
 * process with a pipe on its stdin (closing it stops the server, even when the test crashes), read its "PORT <n>"
 * line with a deadline, and make the control calls with libcurl. Test support: every failure prints one line on
 * stderr and aborts the test process, so a broken fixture can never pass for a passing test. */
#include "tests/support/fake_llm.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS  15000 /* python3's start on a loaded CI machine */
#define STOP_TIMEOUT_MS   5000
#define CONTROL_TIMEOUT_S 10L
#define CONTROL_BODY_MAX  (64u * 1024 * 1024)

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fake_llm: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The script's path: $AC_SOURCE_DIR/tests/support/fake_llm.py (ctest sets it for every test), else AC_FAKE_LLM_PY. */
static void script_path(char *out, size_t cap)
{
    const char *src = getenv("AC_SOURCE_DIR");
    int n;
    if (src && *src)
        n = snprintf(out, cap, "%s/tests/support/fake_llm.py", src);
    else {
#ifdef AC_FAKE_LLM_PY
        n = snprintf(out, cap, "%s", AC_FAKE_LLM_PY);
#else
        die("cannot find fake_llm.py", "AC_SOURCE_DIR is not set (run the test through ctest)");
#endif
    }
    if (n < 0 || (size_t)n >= cap)
        die("script path too long", NULL);
    if (access(out, R_OK) != 0)
        die("cannot read the script", out);
}

void ac_fake_llm_start(ac_fake_llm_t *f)
{
    /* A proxy from the environment would send 127.0.0.1 elsewhere, for these control calls and for the code under
     * test alike. */
    static const char *const proxies[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                          "HTTPS_PROXY", "all_proxy",  "ALL_PROXY"};
    for (size_t k = 0; k < sizeof(proxies) / sizeof(proxies[0]); k++)
        unsetenv(proxies[k]);

    char path[4096];
    script_path(path, sizeof(path));
    memset(f, 0, sizeof(*f));
    f->pid = -1;
    f->stdin_fd = -1;

    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
        die("pipe2", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork", strerror(errno));
    if (pid == 0) {
        /* The child: only async-signal-safe calls until exec. dup2 clears close-on-exec on 0 and 1; every other
         * descriptor of the test process was opened close-on-exec or is closed here. */
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
            _exit(127);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        char *argv[] = {"python3", path, "--exit-on-stdin-eof", NULL};
        execvp("python3", argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    f->pid = pid;
    f->stdin_fd = in[1];

    /* The first line is "PORT <n>". */
    char line[64];
    size_t n = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (n == 0 || line[n - 1] != '\n') {
        if (n >= sizeof(line) - 1)
            die("first line too long", NULL);
        long left = START_TIMEOUT_MS - ms_since(&t0);
        if (left <= 0)
            die("no port line within 15 s", NULL);
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("poll", strerror(errno));
        if (r == 0)
            continue;
        ssize_t got = read(out[0], line + n, sizeof(line) - 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            die("the server exited before printing its port (is python3 installed?)", NULL);
        n += (size_t)got;
    }
    line[n] = '\0';
    close(out[0]); /* it prints nothing else */
    int port = 0;
    char tail = 0;
    if (sscanf(line, "PORT %d%c", &port, &tail) != 2 || tail != '\n' || port <= 0 || port > 65535)
        die("bad port line", line);
    f->port = port;
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", port);
}

void ac_fake_llm_stop(ac_fake_llm_t *f)
{
    if (f->stdin_fd >= 0) {
        close(f->stdin_fd);
        f->stdin_fd = -1;
    }
    if (f->pid > 0) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            pid_t r = waitpid(f->pid, NULL, WNOHANG);
            if (r == f->pid || (r < 0 && errno != EINTR))
                break;
            if (ms_since(&t0) > STOP_TIMEOUT_MS) {
                kill(f->pid, SIGKILL);
                while (waitpid(f->pid, NULL, 0) < 0 && errno == EINTR)
                    ;
                break;
            }
            struct timespec nap = {0, 10 * 1000 * 1000};
            nanosleep(&nap, NULL);
        }
        f->pid = -1;
    }
}

/* ---- control calls ------------------------------------------------------------------------------------------------ */

typedef struct {
    char *data;
    size_t len;
} buf_t;

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    buf_t *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > CONTROL_BODY_MAX)
        return 0;
    char *grown = realloc(b->data, b->len + n + 1);
    if (!grown)
        return 0;
    b->data = grown;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* One control call: POST body (when non-NULL) or GET to path; aborts unless the answer is 200. OUT: the answer's
 * body (malloc, NUL-terminated; caller frees). */
static char *call(ac_fake_llm_t *f, const char *path, const char *body)
{
    if (f->port <= 0)
        die("control call on a server that is not started", path);
    char url[256];
    snprintf(url, sizeof(url), "%s%s", f->url, path);
    CURL *c = curl_easy_init();
    if (!c)
        die("curl_easy_init failed", NULL);
    buf_t b = {NULL, 0};
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, CONTROL_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (body) {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        die(path, curl_easy_strerror(rc));
    if (status != 200) {
        fprintf(stderr, "fake_llm: %s answered %ld: %s\n", path, status, b.data ? b.data : "");
        abort();
    }
    if (!b.data) {
        b.data = malloc(1);
        if (!b.data)
            die("out of memory", NULL);
        b.data[0] = '\0';
    }
    return b.data;
}

void ac_fake_llm_control(ac_fake_llm_t *f, const char *what, const char *body)
{
    char path[128];
    if (!what || strlen(what) > 64 || strchr(what, '/') || strchr(what, '?'))
        die("bad control name", what);
    snprintf(path, sizeof(path), "/_control/%s", what);
    free(call(f, path, body ? body : "{}"));
}

void ac_fake_llm_say(ac_fake_llm_t *f, const char *route, const char *text)
{
    json_t *doc = json_pack("{s:s, s:[{s:i, s:s}]}", "route", route, "responses", "status", 200, "text", text);
    if (!doc)
        die("say: route and text must be UTF-8 strings", route);
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!body)
        die("say: json_dumps failed", NULL);
    ac_fake_llm_control(f, "script", body);
    free(body);
}

json_t *ac_fake_llm_requests(ac_fake_llm_t *f)
{
    char *text = call(f, "/_control/requests", NULL);
    json_error_t e;
    json_t *doc = json_loads(text, 0, &e);
    free(text);
    if (!json_is_array(doc))
        die("requests: not a JSON array", e.text);
    return doc;
}
