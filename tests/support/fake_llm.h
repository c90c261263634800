/* tests/support/fake_llm.h - the loopback stand-in for the LLM providers and GitHub (tests/support/fake_llm.py) and a
 * small C client for it (tests/support/fake_llm.c, in ac_test_support).
 *
 * fake_llm.py [--exit-on-stdin-eof] binds 127.0.0.1 on a free port, prints "PORT <n>" as its first stdout line, and
 * serves, in each API's real wire format (ThreadingHTTPServer: concurrent requests):
 *   route "anthropic"  POST /v1/messages                                  (x-api-key, anthropic-version checked)
 *   route "gemini"     POST /v1beta/models/<model>:generateContent          (x-goog-api-key or ?key= checked)
 *   route "ollama"     POST /api/chat
 *   route "openai"     POST /v1/chat/completions                          (Authorization: Bearer checked)
 *   route "github"     GET /repos/<o>/<r>/pulls?state=open...             (list, JSON)
 *                      GET /repos/<o>/<r>/pulls/<n>       Accept: application/vnd.github.v3.diff -> the diff,
 *                                                         else the pull request's JSON {number, title, ...}
 *                      GET /repos/<o>/<r>/commits/<sha>   Accept: ...diff -> the diff, else JSON {sha, commit}
 *                      (Authorization: Bearer/token checked when a token is set; 404 for unknown repos/refs)
 * Unscripted LLM calls answer, in the route's format, "echo: " + the last user message (first 200 characters).
 * Control (JSON bodies):
 *   POST /_control/script  {"route": R, "responses": [{"status": N (200), "text": S   (a success in R's format),
 *                            or "body": S|obj (sent as is, JSON-encoded when an object), "content_type": S,
 *                            "delay_ms": N, "close": true (drop the connection without answering)}]}
 *                          appended to R's queue; each entry answers one request, then unscripted behaviour resumes
 *   POST /_control/keys    {"anthropic": K, "gemini": K, "openai": K, "github": T}: required credentials (a wrong or
 *                          missing one gets the API's real 401/400/403 error answer)
 *   POST /_control/github  {"o/r": {"pulls": {"5": {"title": S, "diff": S, "updated_at": S}},
 *                                   "commits": {"<sha>": {"message": S, "diff": S}}}}  (replaces the fixtures)
 *   GET  /_control/requests   [{"route", "method", "path", "query", "headers" (lower-case names), "body" (parsed
 *                             JSON or the text)}] in arrival order
 *   POST /_control/reset      forget scripts, keys, fixtures and requests
 * It exits when stdin closes (--exit-on-stdin-eof) and after 30 minutes in any case. */
#ifndef AC_TESTS_SUPPORT_FAKE_LLM_H
#define AC_TESTS_SUPPORT_FAKE_LLM_H

#include <jansson.h>
#include <sys/types.h>

typedef struct ac_fake_llm {
    pid_t pid;
    int stdin_fd; /* closing it stops the server */
    int port;
    char url[64]; /* "http://127.0.0.1:<port>" */
} ac_fake_llm_t;

/* Starts fake_llm.py (path from AC_SOURCE_DIR, or the compile-time AC_FAKE_LLM_PY when set) and waits for its port.
 * Aborts the test process on failure. */
void ac_fake_llm_start(ac_fake_llm_t *f);
void ac_fake_llm_stop(ac_fake_llm_t *f);
/* POSTs body (a JSON text) to /_control/<what> ("script", "keys", "github", "reset"); aborts unless it answers 200. */
void ac_fake_llm_control(ac_fake_llm_t *f, const char *what, const char *body);
/* Queues one success answer with text on route. */
void ac_fake_llm_say(ac_fake_llm_t *f, const char *route, const char *text);
/* The recorded requests (owned), as GET /_control/requests answers them. */
json_t *ac_fake_llm_requests(ac_fake_llm_t *f);

#endif
