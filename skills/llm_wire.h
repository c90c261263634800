/* skills/llm_wire.h - the LLM providers' wire formats (reference section 10), as pure functions: build one request
 * (URL, headers, JSON body) for a provider and a prompt, and read one response (status and body) into the answer's
 * text or a classified error. No I/O, no clock, no allocation beyond the results. The router (skills/llm.h) does the
 * sending, the retries and the usage; this module is what makes us speak each API exactly.
 *
 *   anthropic          POST <base>/v1/messages, x-api-key, anthropic-version: 2023-06-01, content-type JSON;
 *                      {"model","max_tokens":4096,"messages":[{"role":"user","content":P}],"system":S?}
 *                      -> the text blocks of content, joined
 *   gemini             POST <base>/v1beta/models/<model>:generateContent (model percent-encoded), x-goog-api-key;
 *                      {"contents":[{"role":"user","parts":[{"text":P}]}],"systemInstruction":{"parts":[{"text":S}]}?}
 *                      -> candidates[0].content.parts[0].text; 429 classified (below)
 *   ollama             POST <host>/api/chat; {"model","messages":[{"role":"system",..}?,{"role":"user",..}],
 *                      "stream":false,"options":{..}?} (options: the provider's options minus nulls; omitted when
 *                      empty) -> message.content
 *   openai_compatible  POST <host>/v1/chat/completions; the provider's headers + "authorization: Bearer <key>" when
 *   and custom         a key is set; {"model","messages","stream":false} + temperature, top_p, max_tokens (options
 *                      temperature, top_p, max_tokens, num_predict -> max_tokens) + "chat_template_kwargs":
 *                      {"enable_thinking":false} when options.thinking is false
 *                      -> choices[0].message.content, else choices[0].message.reasoning_content
 *
 * <base> is the API's public URL unless the caller passes another (GEMINI_API_URL, ANTHROPIC_API_URL; tests use
 * loopback servers); <host> is the provider's host, a trailing "/" dropped. */
#ifndef AC_SKILLS_LLM_WIRE_H
#define AC_SKILLS_LLM_WIRE_H

#include "policy/error.h"
#include "skills/http.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define AC_SKILLS_LLM_GEMINI_URL       "https://generativelanguage.googleapis.com"
#define AC_SKILLS_LLM_ANTHROPIC_URL    "https://api.anthropic.com"
#define AC_SKILLS_LLM_WIRE_HEADERS_MAX 24             /* a provider's own headers: at most 16, plus ours */
#define AC_SKILLS_LLM_PROMPT_MAX       (1024u * 1024) /* prompt + system, bytes */

typedef enum ac_skills_llm_type {
    AC_SKILLS_LLM_OPENAI_COMPATIBLE,
    AC_SKILLS_LLM_OLLAMA,
    AC_SKILLS_LLM_GEMINI,
    AC_SKILLS_LLM_ANTHROPIC,
    AC_SKILLS_LLM_CUSTOM, /* an OpenAI-compatible server, as the original treats it */
} ac_skills_llm_type_t;

/* "openai_compatible", "ollama", "gemini", "anthropic", "custom" (exact, lower case). 0 or -AC_EINVAL. */
int ac_skills_llm_type_parse(const char *s, ac_skills_llm_type_t *out);
const char *ac_skills_llm_type_name(ac_skills_llm_type_t t);
/* Whether requests go to a third party's cloud API (gemini, anthropic), i.e. the provider receives the owner's data
 * outside the owner's machines. ollama/openai_compatible/custom go to the provider's host, which may be anywhere:
 * the admin UI shows that host. */
bool ac_skills_llm_type_is_cloud(ac_skills_llm_type_t t);
/* Whether the type needs an API key (gemini, anthropic) or a host (the others). */
bool ac_skills_llm_type_needs_key(ac_skills_llm_type_t t);

/* One provider as the wire needs it. Borrowed strings. */
typedef struct ac_skills_llm_wire_provider {
    ac_skills_llm_type_t type;
    const char *base_url;  /* gemini/anthropic: NULL means the public URL; others: the provider's host (required) */
    const char *model;     /* required */
    const char *api_key;   /* NULL or "" when none (required for gemini and anthropic) */
    const json_t *headers; /* object of string values (openai_compatible/custom only), or NULL */
    const json_t *options; /* object, or NULL */
} ac_skills_llm_wire_provider_t;

/* A request ready for ac_skills_http_request(): every string owned (ac_malloc), headers[i].name/value included. */
typedef struct ac_skills_llm_wire_req {
    char *url;
    char *body;
    size_t body_len;
    size_t n_headers;
    ac_skills_http_header_t headers[AC_SKILLS_LLM_WIRE_HEADERS_MAX];
} ac_skills_llm_wire_req_t;

/* Builds the request for prompt (and system, NULL or "" for none). Both must be valid UTF-8, together at most
 * AC_SKILLS_LLM_PROMPT_MAX bytes.
 * Returns 0 (*out filled; free it with ac_skills_llm_wire_req_free), or, with err saying why (never the key):
 *   -AC_ECONFIG  "api_key_not_set" (gemini/anthropic without a key), "host_not_set" (others without a host), or a
 *                host/base URL that is not http(s):// without userinfo, query or fragment, or a bad header in
 *                headers (not a token name, a control character in the value, Authorization/Content-Length/Host/
 *                Transfer-Encoding set by hand), more than 16 headers, options that are not an object
 *   -AC_EINVAL   prompt NULL, not UTF-8, or too long; model empty
 * On failure *out is zeroed and owns nothing. */
int ac_skills_llm_wire_build(const ac_skills_llm_wire_provider_t *p, const char *system, const char *prompt,
                             ac_skills_llm_wire_req_t *out, ac_errmsg_t *err);
void ac_skills_llm_wire_req_free(ac_skills_llm_wire_req_t *r);

typedef enum ac_skills_llm_wire_outcome {
    AC_SKILLS_LLM_WIRE_OK = 0,     /* *text set */
    AC_SKILLS_LLM_WIRE_RETRY,      /* gemini 429 that may pass: retry after a delay (router: 5, 10, 15 s) */
    AC_SKILLS_LLM_WIRE_QUOTA,      /* gemini 429 RESOURCE_EXHAUSTED without retryDelay: no retry */
    AC_SKILLS_LLM_WIRE_HTTP_ERROR, /* a status other than 2xx */
    AC_SKILLS_LLM_WIRE_MALFORMED,  /* 2xx but not JSON, or without the text where the format puts it */
    AC_SKILLS_LLM_WIRE_EMPTY,      /* openai: 2xx, neither content nor reasoning_content (empty_response) */
} ac_skills_llm_wire_outcome_t;

/* Reads a response. status: the HTTP status; body: len bytes (need not be NUL-terminated; may be NULL when len 0).
 * OUT: on AC_SKILLS_LLM_WIRE_OK, *text = the answer (ac_malloc, valid UTF-8; may be "" except for openai's empty
 * rule); otherwise *text = NULL and err = the error the router reports, in the original's terms:
 *   "<type>: <status>: <body excerpt>" (HTTP_ERROR, e.g. "anthropic: 500: {...}"), "gemini_quota_exhausted: <excerpt>",
 *   "gemini: 429: <excerpt>" (RETRY; the router reports it once retries are spent), "openai_compat: empty_response",
 *   "<type>: malformed_response: <why>". The excerpt is at most 200 bytes of the body, cut on a UTF-8 boundary,
 *   control characters replaced by spaces. The caller removes the API key from it should the server echo it
 *   (ac_skills_llm_wire_scrub). */
ac_skills_llm_wire_outcome_t ac_skills_llm_wire_parse(ac_skills_llm_type_t type, long status, const char *body,
                                                      size_t len, char **text, ac_errmsg_t *err);

/* Replaces every occurrence of secret (when non-empty, at least 4 bytes) in the NUL-terminated s by "[redacted]",
 * in place, cutting the result to cap bytes (s's buffer size). */
void ac_skills_llm_wire_scrub(char *s, size_t cap, const char *secret);

#endif
