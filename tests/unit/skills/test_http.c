/* tests/unit/skills/test_http.c - skills/http.c: web_fetch, api_request and the HTTP client they share, against
 * tests/support/http_fixture.py, a local server on 127.0.0.1 that this test starts (posix_spawn) and stops.
 *
 * Every route and error code of both skills, the redirect limit, refused schemes (directly and via a redirect), the
 * size cap (announced, streamed, and after decompression), the step deadline, cancellation, interpolation, headers
 * and JSON bodies, and that errors never carry URL credentials. */
#include "policy/error.h"
#include "skills/http.h"
#include "skills/skill.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

static pid_t server_pid = -1;
static int server_stdin = -1, server_stdout = -1;
static char base[64]; /* "http://127.0.0.1:<port>" */

/* ---- the fixture server ------------------------------------------------------------------------------------------- */

static int start_server(void **state)
{
    /* A proxy from the environment would send 127.0.0.1 elsewhere. */
    static const char *const proxies[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                          "HTTPS_PROXY", "all_proxy",  "ALL_PROXY"};
    for (size_t k = 0; k < sizeof(proxies) / sizeof(proxies[0]); k++)
        unsetenv(proxies[k]);

    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char *argv[] = {"python3", AC_HTTP_FIXTURE, "--exit-on-stdin-eof", NULL};
    int rc = posix_spawnp(&server_pid, "python3", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    server_stdin = in[1];
    server_stdout = out[0];
    if (rc != 0) {
        fprintf(stderr, "cannot start python3: %s\n", strerror(rc));
        server_pid = -1;
        return -1;
    }
    /* The first line is the port; give the interpreter 15 s to start. */
    char line[32];
    size_t n = 0;
    while (n < sizeof(line) - 1 && (n == 0 || line[n - 1] != '\n')) {
        struct pollfd p = {.fd = server_stdout, .events = POLLIN};
        if (poll(&p, 1, 15000) != 1)
            return -1;
        ssize_t got = read(server_stdout, line + n, sizeof(line) - 1 - n);
        if (got <= 0)
            return -1;
        n += (size_t)got;
    }
    line[n] = '\0';
    int port = atoi(line);
    if (port <= 0 || port > 65535)
        return -1;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    return 0;
}

static int stop_server(void **state)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = -1;
    }
    if (server_stdin >= 0)
        close(server_stdin);
    if (server_stdout >= 0)
        close(server_stdout);
    server_stdin = server_stdout = -1;
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------------------------------ */

static char *url_of(const char *path)
{
    static char buf[512];
    snprintf(buf, sizeof(buf), "%s%s", base, path);
    return buf;
}

typedef struct {
    int rc;
    ac_skill_result_t res;
    int64_t ms;
} run_t;

/* Runs a skill with config and input (both stolen; input may be NULL), a deadline budget_ms from now, and an optional cancel flag. */
static run_t run_skill(const ac_skill_def_t *def, json_t *config, json_t *input, int64_t budget_ms,
                       volatile sig_atomic_t *cancel)
{
    ac_skill_ctx_t ctx = {.node_name = "test", .deadline_ms = ac_skill_now_ms() + budget_ms, .cancel = cancel};
    ac_skill_args_t args = {.input = input, .config = config};
    run_t r;
    memset(&r, 0, sizeof(r));
    int64_t t0 = ac_skill_now_ms();
    r.rc = def->run(&ctx, &args, &r.res);
    r.ms = ac_skill_now_ms() - t0;
    json_decref(config);
    json_decref(input);
    return r;
}

static run_t fetch(const char *url)
{
    return run_skill(&ac_skills_web_fetch, json_pack("{s:s}", "url", url), NULL, 10000, NULL);
}

static void expect_ok(run_t *r, const char *branch)
{
    if (r->rc != 0)
        fail_msg("expected branch %s, got error [%s]", branch, r->res.error);
    assert_string_equal(r->res.branch, branch);
}

/* Expects an error equal to `error`, or starting with it when it ends in ": ". */
static void expect_error(run_t *r, const char *error)
{
    assert_int_equal(r->rc, -1);
    assert_null(r->res.output);
    size_t n = strlen(error);
    bool prefix = n >= 2 && strcmp(error + n - 2, ": ") == 0;
    if (prefix ? strncmp(r->res.error, error, n) != 0 : strcmp(r->res.error, error) != 0)
        fail_msg("expected error [%s], got [%s]", error, r->res.error);
}

static void release(run_t *r)
{
    json_decref(r->res.output);
    r->res.output = NULL;
}

/* api_request with a config built by json_pack and an input (both stolen). */
static run_t api(json_t *config, json_t *input)
{
    return run_skill(&ac_skills_api_request, config, input, 10000, NULL);
}

/* The echo route's view of an api_request: output object {method, path, headers, body}. */
static const char *echo_str(run_t *r, const char *key)
{
    assert_true(json_is_object(r->res.output));
    return json_string_value(json_object_get(r->res.output, key));
}

static const char *echo_header(run_t *r, const char *name)
{
    json_t *h = json_object_get(r->res.output, "headers");
    const char *key;
    json_t *v;
    json_object_foreach(h, key, v)
    {
        if (strcasecmp(key, name) == 0)
            return json_string_value(v);
    }
    return NULL;
}

/* A port on 127.0.0.1 with nothing listening (bound, then closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
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

/* ---- web_fetch ---------------------------------------------------------------------------------------------------- */

static void web_fetch_extracts_text_from_html(void **state)
{
    run_t r = fetch(url_of("/html"));
    expect_ok(&r, "on_success");
    assert_true(json_is_string(r.res.output));
    assert_string_equal(json_string_value(r.res.output),
                        "Fixture page\n\nHello & welcome\n\nTom <3 Jerry \"quoted\" 'single' space \xE2\x98\xBA "
                        "\xF0\x9F\x98\x80\n\none\ntwo\n\na\nb");
    release(&r);
}

static void web_fetch_sniffs_html_without_content_type(void **state)
{
    run_t r = fetch(url_of("/sniff-html"));
    expect_ok(&r, "on_success");
    assert_string_equal(json_string_value(r.res.output), "sniffed & found");
    release(&r);
}

static void web_fetch_returns_other_text_as_is(void **state)
{
    run_t r = fetch(url_of("/text"));
    expect_ok(&r, "on_success");
    assert_string_equal(json_string_value(r.res.output), "plain text body\n");
    release(&r);

    r = fetch(url_of("/json"));
    expect_ok(&r, "on_success");
    assert_true(json_is_string(r.res.output)); /* web_fetch does not parse */
    assert_string_equal(json_string_value(r.res.output), "{\"name\": \"fixture\", \"items\": [1, 2, 3]}");
    release(&r);

    r = fetch(url_of("/latin1")); /* not UTF-8: replaced, never an invalid JSON string */
    expect_ok(&r, "on_success");
    assert_string_equal(json_string_value(r.res.output), "caf\xEF\xBF\xBD ok");
    release(&r);
}

static void web_fetch_refuses_binary_content(void **state)
{
    run_t r = fetch(url_of("/binary"));
    expect_error(&r, "binary_content: image/png");
}

static void web_fetch_decodes_gzip(void **state)
{
    run_t r = fetch(url_of("/gzip"));
    expect_ok(&r, "on_success");
    assert_string_equal(json_string_value(r.res.output), "unzipped text");
    release(&r);
}

static void web_fetch_routes_404_to_on_not_found(void **state)
{
    run_t r = fetch(url_of("/status/404"));
    expect_ok(&r, "on_not_found");
    assert_null(r.res.output);
}

static void web_fetch_fails_on_other_statuses(void **state)
{
    static const char *const cases[][2] = {
        {"/status/500", "http_status: 500"},
        {"/status/403", "http_status: 403"},
        {"/status/304", "http_status: 304"},
        {"/status/503", "http_status: 503"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        run_t r = fetch(url_of(cases[k][0]));
        expect_error(&r, cases[k][1]);
    }
    run_t r = fetch(url_of("/status/204")); /* 2xx without a body: empty text */
    expect_ok(&r, "on_success");
    assert_string_equal(json_string_value(r.res.output), "");
    release(&r);
}

static void web_fetch_follows_at_most_five_redirects(void **state)
{
    run_t r = fetch(url_of("/redirect/5"));
    expect_ok(&r, "on_success");
    assert_string_equal(json_string_value(r.res.output), "redirected");
    release(&r);

    r = fetch(url_of("/redirect/6"));
    expect_error(&r, "fetch_failed: ");
    assert_non_null(strstr(r.res.error, "redirect"));
}

static void web_fetch_refuses_non_http_schemes(void **state)
{
    static const char *const urls[] = {
        "file:///etc/passwd",  "FILE:///etc/passwd", "ftp://127.0.0.1/",
        "gopher://127.0.0.1/", "dict://127.0.0.1/",  "ldap://127.0.0.1/",
        "scp://127.0.0.1/x",   "127.0.0.1/html",     "http:/x",
        " http://127.0.0.1/",
    };
    for (size_t k = 0; k < sizeof(urls) / sizeof(urls[0]); k++) {
        run_t r = fetch(urls[k]);
        expect_error(&r, "unsupported_scheme: ");
    }
    run_t r = fetch("file:///etc/passwd");
    assert_string_equal(r.res.error, "unsupported_scheme: scheme \"file\" is not http or https");
}

static void web_fetch_refuses_redirects_to_other_schemes(void **state)
{
    run_t r = fetch(url_of("/redirect-file"));
    expect_error(&r, "unsupported_scheme: ");
    assert_non_null(strstr(r.res.error, "\"file\""));
    r = fetch(url_of("/redirect-ftp"));
    expect_error(&r, "unsupported_scheme: ");
}

static void web_fetch_caps_the_body(void **state)
{
    run_t r = fetch(url_of("/big")); /* announced by Content-Length */
    expect_error(&r, "too_large: response body over 2097152 bytes");
    r = fetch(url_of("/big-stream")); /* no length: stopped while reading */
    expect_error(&r, "too_large: response body over 2097152 bytes");
    r = fetch(url_of("/gzip-bomb")); /* a few KiB on the wire, 3 MiB decoded */
    expect_error(&r, "too_large: response body over 2097152 bytes");
}

static void web_fetch_times_out_at_the_step_deadline(void **state)
{
    run_t r = run_skill(&ac_skills_web_fetch, json_pack("{s:s}", "url", url_of("/slow")), NULL, 1000, NULL);
    expect_ok(&r, "on_timeout");
    assert_null(r.res.output);
    assert_true(r.ms >= 900);
    assert_true(r.ms < 3000);
}

static void web_fetch_times_out_at_once_when_the_deadline_passed(void **state)
{
    run_t r = run_skill(&ac_skills_web_fetch, json_pack("{s:s}", "url", url_of("/text")), NULL, -1, NULL);
    expect_ok(&r, "on_timeout");
    assert_null(r.res.output);
    assert_true(r.ms < 100);
}

static void web_fetch_stops_when_cancelled(void **state)
{
    volatile sig_atomic_t flag = 0;
    canceller_t c = {&flag, 300};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);
    run_t r = run_skill(&ac_skills_web_fetch, json_pack("{s:s}", "url", url_of("/slow")), NULL, 10000, &flag);
    pthread_join(t, NULL);
    expect_error(&r, "cancelled");
    assert_true(r.ms < 2500);

    /* already cancelled: nothing is sent */
    r = run_skill(&ac_skills_web_fetch, json_pack("{s:s}", "url", url_of("/slow")), NULL, 10000, &flag);
    expect_error(&r, "cancelled");
    assert_true(r.ms < 100);
}

static void web_fetch_reports_connection_failures_without_credentials(void **state)
{
    char url[256];
    snprintf(url, sizeof(url), "http://alice:hunter2secret@127.0.0.1:%d/private?token=abcdef123", closed_port());
    run_t r = fetch(url);
    expect_error(&r, "fetch_failed: ");
    assert_null(strstr(r.res.error, "hunter2secret"));
    assert_null(strstr(r.res.error, "alice"));
    assert_null(strstr(r.res.error, "abcdef123"));
}

static void web_fetch_requires_a_url(void **state)
{
    run_t r = run_skill(&ac_skills_web_fetch, json_object(), NULL, 10000, NULL);
    expect_error(&r, "no_url");
    r = run_skill(&ac_skills_web_fetch, json_pack("{s:s}", "url", ""), NULL, 10000, NULL);
    expect_error(&r, "no_url");
    r = run_skill(&ac_skills_web_fetch, json_pack("{s:i}", "url", 5), NULL, 10000, NULL);
    expect_error(&r, "no_url");
}

static void web_fetch_does_not_interpolate_input(void **state)
{
    run_t r = run_skill(&ac_skills_web_fetch, json_pack("{s:s}", "url", url_of("/echo?q={input}")),
                        json_string("zzsecretzz"), 10000, NULL);
    if (r.rc == 0) {
        assert_null(strstr(json_string_value(r.res.output), "zzsecretzz"));
        release(&r);
    } else {
        assert_null(strstr(r.res.error, "zzsecretzz"));
    }
}

static void web_fetch_sends_its_user_agent(void **state)
{
    run_t r = fetch(url_of("/echo"));
    expect_ok(&r, "on_success");
    json_t *doc = json_loads(json_string_value(r.res.output), 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "headers"), "User-Agent")),
                        "AlexClaw/C " AC_VERSION);
    assert_string_equal(json_string_value(json_object_get(doc, "method")), "GET");
    json_decref(doc);
    release(&r);
}

static void web_fetch_describes_itself(void **state)
{
    assert_string_equal(ac_skills_web_fetch.name, "web_fetch");
    assert_true(ac_skills_web_fetch.external);
    static const char *const want[] = {"on_success", "on_not_found", "on_timeout", "on_error", NULL};
    for (size_t k = 0; want[k] != NULL; k++)
        assert_string_equal(ac_skills_web_fetch.routes[k], want[k]);
    assert_null(ac_skills_web_fetch.routes[4]);
}

/* ---- api_request -------------------------------------------------------------------------------------------------- */

static void api_request_parses_json_responses(void **state)
{
    run_t r = api(json_pack("{s:s}", "url", url_of("/json")), NULL);
    expect_ok(&r, "on_2xx");
    assert_true(json_is_object(r.res.output));
    assert_string_equal(json_string_value(json_object_get(r.res.output, "name")), "fixture");
    assert_int_equal(json_array_size(json_object_get(r.res.output, "items")), 3);
    release(&r);

    r = api(json_pack("{s:s}", "url", url_of("/json-bad")), NULL); /* says JSON, is not: a string */
    expect_ok(&r, "on_2xx");
    assert_string_equal(json_string_value(r.res.output), "{not json");
    release(&r);

    r = api(json_pack("{s:s}", "url", url_of("/text")), NULL);
    expect_ok(&r, "on_2xx");
    assert_string_equal(json_string_value(r.res.output), "plain text body\n");
    release(&r);
}

static void api_request_routes_by_status_class(void **state)
{
    static const struct {
        const char *path, *branch;
        int status;
    } cases[] = {
        {"/status/200", "on_2xx", 200}, {"/status/201", "on_2xx", 201}, {"/status/400", "on_4xx", 400},
        {"/status/404", "on_4xx", 404}, {"/status/429", "on_4xx", 429}, {"/status/500", "on_5xx", 500},
        {"/status/503", "on_5xx", 503},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        run_t r = api(json_pack("{s:s}", "url", url_of(cases[k].path)), NULL);
        expect_ok(&r, cases[k].branch);
        assert_int_equal(json_integer_value(json_object_get(r.res.output, "status")), cases[k].status);
        release(&r);
    }
    run_t r = api(json_pack("{s:s}", "url", url_of("/status/204")), NULL);
    expect_ok(&r, "on_2xx");
    assert_string_equal(json_string_value(r.res.output), "");
    release(&r);
}

static void api_request_fails_on_other_statuses(void **state)
{
    run_t r = api(json_pack("{s:s}", "url", url_of("/status/304")), NULL);
    expect_error(&r, "http: 304");
    r = api(json_pack("{s:s}", "url", url_of("/status/302")), NULL); /* a 302 without Location */
    expect_error(&r, "http: 302");
}

static void api_request_sends_each_method(void **state)
{
    static const char *const methods[][2] = {
        {"get", "GET"}, {"POST", "POST"}, {"put", "PUT"}, {"Patch", "PATCH"}, {"delete", "DELETE"}};
    for (size_t k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
        run_t r = api(json_pack("{s:s, s:s}", "method", methods[k][0], "url", url_of("/echo")), NULL);
        expect_ok(&r, "on_2xx");
        assert_string_equal(echo_str(&r, "method"), methods[k][1]);
        assert_null(echo_header(&r, "Expect"));
        release(&r);
    }
    run_t r = api(json_pack("{s:s}", "url", url_of("/echo")), NULL); /* default */
    expect_ok(&r, "on_2xx");
    assert_string_equal(echo_str(&r, "method"), "GET");
    release(&r);
}

static void api_request_rejects_other_methods(void **state)
{
    run_t r = api(json_pack("{s:s, s:s}", "method", "TRACE", "url", url_of("/echo")), NULL);
    expect_error(&r, "invalid_method: TRACE");
    r = api(json_pack("{s:s, s:s}", "method", "connect", "url", url_of("/echo")), NULL);
    expect_error(&r, "invalid_method: connect");
    r = api(json_pack("{s:s, s:s}", "method", "", "url", url_of("/echo")), NULL);
    expect_error(&r, "invalid_method: ");
    r = api(json_pack("{s:s, s:s}", "method", "GET\r\nX: y", "url", url_of("/echo")), NULL);
    expect_error(&r, "invalid_method: ");
    r = api(json_pack("{s:i, s:s}", "method", 7, "url", url_of("/echo")), NULL);
    expect_error(&r, "invalid_method: (number)");
    json_t *nul = json_pack("{s:s%, s:s}", "method", "GET\0X", (size_t)5, "url", url_of("/echo"));
    r = api(nul, NULL);
    expect_error(&r, "invalid_method: ");
}

static void api_request_requires_a_url(void **state)
{
    run_t r = api(json_object(), NULL);
    expect_error(&r, "no_url");
    r = api(json_pack("{s:s}", "url", ""), NULL);
    expect_error(&r, "no_url");
    r = api(json_pack("{s:n}", "url"), NULL);
    expect_error(&r, "no_url");
}

static void api_request_interpolates_input_in_the_url(void **state)
{
    run_t r = api(json_pack("{s:s}", "url", url_of("/echo?raw={input}&enc={input_encoded}")), json_string("a&b c/é"));
    /* raw "{input}" goes in as is: its space makes the URL malformed for libcurl */
    expect_error(&r, "request_failed: ");

    r = api(json_pack("{s:s}", "url", url_of("/echo?raw={input}&enc={input_encoded}")), json_string("abc"));
    expect_ok(&r, "on_2xx");
    assert_string_equal(echo_str(&r, "path"), "/echo?raw=abc&enc=abc");
    release(&r);

    r = api(json_pack("{s:s}", "url", url_of("/echo?q={input_encoded}")), json_string("a&b c/\xC3\xA9~_-."));
    expect_ok(&r, "on_2xx");
    assert_string_equal(echo_str(&r, "path"), "/echo?q=a%26b%20c%2F%C3%A9~_-.");
    release(&r);

    /* non-string input is its JSON text; no input is "" */
    r = api(json_pack("{s:s}", "url", url_of("/echo?q={input_encoded}")), json_pack("{s:i}", "n", 1));
    expect_ok(&r, "on_2xx");
    assert_string_equal(echo_str(&r, "path"), "/echo?q=%7B%22n%22%3A1%7D");
    release(&r);
    r = api(json_pack("{s:s}", "url", url_of("/echo?q={input_encoded}")), NULL);
    expect_ok(&r, "on_2xx");
    assert_string_equal(echo_str(&r, "path"), "/echo?q=");
    release(&r);
}

static void api_request_interpolates_input_in_a_string_body(void **state)
{
    run_t r = api(json_pack("{s:s, s:s, s:s}", "method", "POST", "url", url_of("/echo"), "body",
                            "text={input}&q={input_encoded}"),
                  json_string("x y"));
    expect_ok(&r, "on_2xx");
    assert_string_equal(echo_str(&r, "body"), "text=x y&q=x%20y");
    assert_null(echo_header(&r, "Content-Type")); /* none unless a header says so */
    release(&r);
}

static void api_request_sends_object_bodies_as_json(void **state)
{
    json_t *input = json_string("say \"hi\"\n{input}");
    run_t r = api(json_pack("{s:s, s:s, s:{s:s, s:[i, s]}}", "method", "PUT", "url", url_of("/echo"), "body", "msg",
                            "{input}", "list", 1, "{input_encoded}"),
                  input);
    expect_ok(&r, "on_2xx");
    assert_string_equal(echo_header(&r, "Content-Type"), "application/json");
    json_t *sent = json_loads(echo_str(&r, "body"), 0, NULL);
    assert_non_null(sent);
    assert_string_equal(json_string_value(json_object_get(sent, "msg")), "say \"hi\"\n{input}");
    assert_string_equal(json_string_value(json_array_get(json_object_get(sent, "list"), 1)),
                        "say%20%22hi%22%0A%7Binput%7D");
    json_decref(sent);
    release(&r);

    /* an explicit Content-Type wins; arrays too */
    r = api(json_pack("{s:s, s:s, s:{s:s}, s:[i]}", "method", "POST", "url", url_of("/echo"), "headers", "content-type",
                      "application/vnd.api+json", "body", 7),
            NULL);
    expect_ok(&r, "on_2xx");
    assert_string_equal(echo_header(&r, "Content-Type"), "application/vnd.api+json");
    assert_string_equal(echo_str(&r, "body"), "[7]");
    release(&r);

    r = api(json_pack("{s:s, s:s, s:i}", "method", "POST", "url", url_of("/echo"), "body", 5), NULL);
    expect_error(&r, "invalid_body: ");
}

static void api_request_sends_headers(void **state)
{
    run_t r = api(json_pack("{s:s, s:{s:s, s:s, s:s}}", "url", url_of("/echo"), "headers", "X-Test", "value 1",
                            "Authorization", "Bearer t0ken", "User-Agent", "custom/1"),
                  NULL);
    expect_ok(&r, "on_2xx");
    assert_string_equal(echo_header(&r, "X-Test"), "value 1");
    assert_string_equal(echo_header(&r, "Authorization"), "Bearer t0ken");
    assert_string_equal(echo_header(&r, "User-Agent"), "custom/1");
    release(&r);

    r = api(json_pack("{s:s}", "url", url_of("/echo")), NULL);
    expect_ok(&r, "on_2xx");
    assert_string_equal(echo_header(&r, "User-Agent"), "AlexClaw/C " AC_VERSION);
    release(&r);
}

static void api_request_keeps_authorization_on_its_host(void **state)
{
    run_t r =
        api(json_pack("{s:s, s:{s:s}}", "url", url_of("/redirect-host"), "headers", "Authorization", "Bearer x"), NULL);
    expect_ok(&r, "on_2xx");
    assert_null(echo_header(&r, "Authorization"));
    release(&r);
}

static void api_request_rejects_invalid_headers(void **state)
{
    json_t *configs[] = {
        json_pack("{s:s, s:s}", "url", url_of("/echo"), "headers", "X-A: b"),
        json_pack("{s:s, s:[s]}", "url", url_of("/echo"), "headers", "X-A"),
        json_pack("{s:s, s:{s:i}}", "url", url_of("/echo"), "headers", "X-A", 1),
        json_pack("{s:s, s:{s:n}}", "url", url_of("/echo"), "headers", "X-A"),
        json_pack("{s:s, s:{s:s}}", "url", url_of("/echo"), "headers", "X-A", "v\r\nX-Injected: 1"),
        json_pack("{s:s, s:{s:s}}", "url", url_of("/echo"), "headers", "X A", "v"),
        json_pack("{s:s, s:{s:s}}", "url", url_of("/echo"), "headers", "", "v"),
        json_pack("{s:s, s:{s:s}}", "url", url_of("/echo"), "headers", "X:A", "v"),
        json_pack("{s:s, s:{s:s}}", "url", url_of("/echo"), "headers", "Content-Length", "5"),
        json_pack("{s:s, s:{s:s%}}", "url", url_of("/echo"), "headers", "X-A", "a\0b", (size_t)3),
    };
    for (size_t k = 0; k < sizeof(configs) / sizeof(configs[0]); k++) {
        run_t r = api(configs[k], NULL);
        expect_error(&r, "invalid_headers: ");
    }
    /* never the value, which may be a credential */
    run_t r =
        api(json_pack("{s:s, s:{s:s}}", "url", url_of("/echo"), "headers", "Authorization", "sekrit\nvalue"), NULL);
    expect_error(&r, "invalid_headers: ");
    assert_null(strstr(r.res.error, "sekrit"));
}

static void api_request_times_out_and_is_cancelled(void **state)
{
    run_t r = run_skill(&ac_skills_api_request, json_pack("{s:s}", "url", url_of("/slow")), NULL, 1000, NULL);
    expect_ok(&r, "on_timeout");
    assert_null(r.res.output);
    assert_true(r.ms >= 900 && r.ms < 3000);

    volatile sig_atomic_t flag = 0;
    canceller_t c = {&flag, 300};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);
    r = run_skill(&ac_skills_api_request, json_pack("{s:s, s:s}", "method", "POST", "url", url_of("/slow")), NULL,
                  10000, &flag);
    pthread_join(t, NULL);
    expect_error(&r, "cancelled");
    assert_true(r.ms < 2500);
}

static void api_request_keeps_the_same_limits(void **state)
{
    run_t r = api(json_pack("{s:s}", "url", "file:///etc/passwd"), NULL);
    expect_error(&r, "unsupported_scheme: ");
    r = api(json_pack("{s:s}", "url", url_of("/redirect-file")), NULL);
    expect_error(&r, "unsupported_scheme: ");
    r = api(json_pack("{s:s}", "url", url_of("/redirect/6")), NULL);
    expect_error(&r, "request_failed: ");
    r = api(json_pack("{s:s}", "url", url_of("/redirect/5")), NULL);
    expect_ok(&r, "on_2xx");
    release(&r);
    r = api(json_pack("{s:s}", "url", url_of("/big-stream")), NULL);
    expect_error(&r, "too_large: ");
    r = api(json_pack("{s:s}", "url", url_of("/big")), NULL);
    expect_error(&r, "too_large: ");
}

static void api_request_reports_transport_failures(void **state)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/?api_key=topsecret99", closed_port());
    run_t r = api(json_pack("{s:s}", "url", url), NULL);
    expect_error(&r, "request_failed: ");
    assert_null(strstr(r.res.error, "topsecret99"));
}

static void api_request_bounds_the_url_and_body(void **state)
{
    char *big = malloc(20000);
    memset(big, 'a', 19999);
    big[19999] = '\0';
    run_t r = api(json_pack("{s:s}", "url", url_of("/echo?q={input}")), json_string(big));
    expect_error(&r, "invalid_url: ");
    char long_url[20100];
    snprintf(long_url, sizeof(long_url), "%s/echo?q=%s", base, big);
    r = api(json_pack("{s:s}", "url", long_url), NULL);
    expect_error(&r, "invalid_url: ");
    free(big);

    size_t n = 3 * 1024 * 1024;
    big = malloc(n + 1);
    memset(big, ' ', n);
    big[n] = '\0';
    /* 3 MiB of spaces, each encoded as %20: 9 MiB > 8 MiB */
    r = api(json_pack("{s:s, s:s, s:s}", "method", "POST", "url", url_of("/echo"), "body", "{input_encoded}"),
            json_string(big));
    expect_error(&r, "body_too_large: ");
    free(big);
}

static void api_request_describes_itself(void **state)
{
    assert_string_equal(ac_skills_api_request.name, "api_request");
    assert_true(ac_skills_api_request.external);
    static const char *const want[] = {"on_2xx", "on_4xx", "on_5xx", "on_timeout", "on_error", NULL};
    for (size_t k = 0; want[k] != NULL; k++)
        assert_string_equal(ac_skills_api_request.routes[k], want[k]);
    assert_null(ac_skills_api_request.routes[5]);
}

/* ---- the client itself -------------------------------------------------------------------------------------------- */

static void client_returns_status_body_and_content_type(void **state)
{
    ac_skills_http_req_t req = {.url = url_of("/json"), .deadline_ms = ac_skill_now_ms() + 5000};
    ac_skills_http_resp_t resp;
    assert_int_equal(ac_skills_http_request(&req, &resp), 0);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.content_type, "application/json");
    assert_int_equal(resp.body_len, strlen(resp.body));
    assert_non_null(strstr(resp.body, "fixture"));
    assert_false(resp.timed_out);
    ac_skills_http_resp_free(&resp);
}

static void client_returns_redirects_when_not_following(void **state)
{
    ac_skills_http_req_t req = {.url = url_of("/redirect/1"), .deadline_ms = ac_skill_now_ms() + 5000};
    ac_skills_http_resp_t resp;
    assert_int_equal(ac_skills_http_request(&req, &resp), 0);
    assert_int_equal(resp.status, 302);
    ac_skills_http_resp_free(&resp);

    req.max_redirects = 1;
    assert_int_equal(ac_skills_http_request(&req, &resp), 0);
    assert_int_equal(resp.status, 200);
    ac_skills_http_resp_free(&resp);
}

static void client_applies_a_custom_cap(void **state)
{
    ac_skills_http_req_t req = {.url = url_of("/text"), .deadline_ms = ac_skill_now_ms() + 5000, .max_bytes = 5};
    ac_skills_http_resp_t resp;
    assert_int_equal(ac_skills_http_request(&req, &resp), -AC_ETOOLONG);
    assert_null(resp.body);
    ac_skills_http_resp_free(&resp);
    req.max_bytes = 16; /* exactly the body */
    assert_int_equal(ac_skills_http_request(&req, &resp), 0);
    assert_int_equal(resp.body_len, 16);
    ac_skills_http_resp_free(&resp);
}

static void client_truncates_when_asked(void **state)
{
    static const struct {
        const char *path;
        char fill;
    } cases[] = {
        {"/big", 'a'},        /* announced by Content-Length: read up to the cap all the same */
        {"/big-stream", 'b'}, /* no length: stopped while reading */
        {"/gzip-bomb", '\0'}, /* the cap applies to the decoded body */
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        ac_skills_http_req_t req = {
            .url = url_of(cases[k].path), .deadline_ms = ac_skill_now_ms() + 5000, .max_bytes = 1000, .truncate = true};
        ac_skills_http_resp_t resp;
        assert_int_equal(ac_skills_http_request(&req, &resp), 0);
        assert_int_equal(resp.status, 200);
        assert_true(resp.truncated);
        assert_int_equal(resp.body_len, 1000);
        for (size_t i = 0; i < resp.body_len; i++)
            assert_int_equal(resp.body[i], cases[k].fill);
        assert_int_equal(resp.body[1000], '\0');
        ac_skills_http_resp_free(&resp);
    }
    /* a body that fits is not marked */
    ac_skills_http_req_t req = {
        .url = url_of("/text"), .deadline_ms = ac_skill_now_ms() + 5000, .max_bytes = 16, .truncate = true};
    ac_skills_http_resp_t resp;
    assert_int_equal(ac_skills_http_request(&req, &resp), 0);
    assert_int_equal(resp.body_len, 16);
    assert_false(resp.truncated);
    ac_skills_http_resp_free(&resp);
}

static void client_rejects_header_injection_and_bad_methods(void **state)
{
    ac_skills_http_header_t bad_value[] = {{"X-A", "v\r\nX-B: 1"}};
    ac_skills_http_header_t bad_name[] = {{"X-A\r\nX-B", "v"}};
    ac_skills_http_req_t req = {.url = url_of("/echo"), .deadline_ms = ac_skill_now_ms() + 5000};
    ac_skills_http_resp_t resp;
    req.headers = bad_value;
    req.n_headers = 1;
    assert_int_equal(ac_skills_http_request(&req, &resp), -AC_EINVAL);
    ac_skills_http_resp_free(&resp);
    req.headers = bad_name;
    assert_int_equal(ac_skills_http_request(&req, &resp), -AC_EINVAL);
    ac_skills_http_resp_free(&resp);
    req.headers = NULL;
    req.n_headers = 0;
    req.method = "GET /x HTTP/1.1\r\n";
    assert_int_equal(ac_skills_http_request(&req, &resp), -AC_EINVAL);
    ac_skills_http_resp_free(&resp);
    req.method = NULL;
    req.url = NULL;
    assert_int_equal(ac_skills_http_request(&req, &resp), -AC_EINVAL);
    ac_skills_http_resp_free(&resp);
}

static void client_sends_empty_header_values_and_bodies(void **state)
{
    ac_skills_http_header_t h[] = {{"X-Empty", ""}, {"Content-Type", "text/plain"}};
    ac_skills_http_req_t req = {.method = "PATCH",
                                .url = url_of("/echo"),
                                .headers = h,
                                .n_headers = 2,
                                .body = "abc",
                                .body_len = 3,
                                .deadline_ms = ac_skill_now_ms() + 5000};
    ac_skills_http_resp_t resp;
    assert_int_equal(ac_skills_http_request(&req, &resp), 0);
    json_t *doc = json_loads(resp.body, 0, NULL);
    json_t *hs = json_object_get(doc, "headers");
    assert_string_equal(json_string_value(json_object_get(hs, "X-Empty")), "");
    assert_string_equal(json_string_value(json_object_get(hs, "Content-Type")), "text/plain");
    assert_string_equal(json_string_value(json_object_get(doc, "body")), "abc");
    assert_string_equal(json_string_value(json_object_get(doc, "method")), "PATCH");
    json_decref(doc);
    ac_skills_http_resp_free(&resp);
}

static void url_redaction_drops_userinfo_query_and_fragment(void **state)
{
    char out[128];
    assert_string_equal(ac_skills_http_url_redact("https://u:p@host:8443/a/b?k=v#f", out, sizeof(out)),
                        "https://host:8443/a/b");
    assert_string_equal(ac_skills_http_url_redact("http://host?x=1", out, sizeof(out)), "http://host");
    assert_string_equal(ac_skills_http_url_redact("http://a@b@host/p@q", out, sizeof(out)), "http://host/p@q");
    assert_string_equal(ac_skills_http_url_redact("no-scheme?x", out, sizeof(out)), "no-scheme");
    assert_string_equal(ac_skills_http_url_redact("h/p?next=http://u:p@x/", out, sizeof(out)), "h/p");
    assert_string_equal(ac_skills_http_url_redact("u:p@h/p", out, sizeof(out)), "h/p");
    assert_string_equal(ac_skills_http_url_redact("http://host/long", out, 10), "http://ho");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(web_fetch_extracts_text_from_html),
        cmocka_unit_test(web_fetch_sniffs_html_without_content_type),
        cmocka_unit_test(web_fetch_returns_other_text_as_is),
        cmocka_unit_test(web_fetch_refuses_binary_content),
        cmocka_unit_test(web_fetch_decodes_gzip),
        cmocka_unit_test(web_fetch_routes_404_to_on_not_found),
        cmocka_unit_test(web_fetch_fails_on_other_statuses),
        cmocka_unit_test(web_fetch_follows_at_most_five_redirects),
        cmocka_unit_test(web_fetch_refuses_non_http_schemes),
        cmocka_unit_test(web_fetch_refuses_redirects_to_other_schemes),
        cmocka_unit_test(web_fetch_caps_the_body),
        cmocka_unit_test(web_fetch_times_out_at_the_step_deadline),
        cmocka_unit_test(web_fetch_times_out_at_once_when_the_deadline_passed),
        cmocka_unit_test(web_fetch_stops_when_cancelled),
        cmocka_unit_test(web_fetch_reports_connection_failures_without_credentials),
        cmocka_unit_test(web_fetch_requires_a_url),
        cmocka_unit_test(web_fetch_does_not_interpolate_input),
        cmocka_unit_test(web_fetch_sends_its_user_agent),
        cmocka_unit_test(web_fetch_describes_itself),
        cmocka_unit_test(api_request_parses_json_responses),
        cmocka_unit_test(api_request_routes_by_status_class),
        cmocka_unit_test(api_request_fails_on_other_statuses),
        cmocka_unit_test(api_request_sends_each_method),
        cmocka_unit_test(api_request_rejects_other_methods),
        cmocka_unit_test(api_request_requires_a_url),
        cmocka_unit_test(api_request_interpolates_input_in_the_url),
        cmocka_unit_test(api_request_interpolates_input_in_a_string_body),
        cmocka_unit_test(api_request_sends_object_bodies_as_json),
        cmocka_unit_test(api_request_sends_headers),
        cmocka_unit_test(api_request_keeps_authorization_on_its_host),
        cmocka_unit_test(api_request_rejects_invalid_headers),
        cmocka_unit_test(api_request_times_out_and_is_cancelled),
        cmocka_unit_test(api_request_keeps_the_same_limits),
        cmocka_unit_test(api_request_reports_transport_failures),
        cmocka_unit_test(api_request_bounds_the_url_and_body),
        cmocka_unit_test(api_request_describes_itself),
        cmocka_unit_test(client_returns_status_body_and_content_type),
        cmocka_unit_test(client_returns_redirects_when_not_following),
        cmocka_unit_test(client_applies_a_custom_cap),
        cmocka_unit_test(client_truncates_when_asked),
        cmocka_unit_test(client_rejects_header_injection_and_bad_methods),
        cmocka_unit_test(client_sends_empty_header_values_and_bodies),
        cmocka_unit_test(url_redaction_drops_userinfo_query_and_fragment),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
