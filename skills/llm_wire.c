/* skills/llm_wire.c - the LLM providers' wire formats (llm_wire.h, reference section 10): one request built per
 * provider type, one response read into the answer's text or a classified error. Pure: the router sends.
 *
 * What comes from the owner's configuration (base URLs, hosts, the provider's headers and options, the API key) is
 * checked here before it reaches a URL or a header line; what comes from a server (the response) is read with
 * jansson and exact field paths, and only a short, cleaned excerpt of it ever reaches an error message. The API key
 * never appears in an error message of ours; the caller scrubs server echoes with ac_skills_llm_wire_scrub(). */
#include "skills/llm_wire.h"

#include "policy/alloc.h"
#include "policy/strbuf.h"
#include "policy/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_MAX              2048 /* a base URL or host, before the path we append */
#define MODEL_MAX            256
#define KEY_MAX              4096
#define HEADER_NAME_MAX      256
#define HEADER_VALUE_MAX     8192
#define PROVIDER_HEADERS_MAX 16
#define EXCERPT_MAX          200
#define ANTHROPIC_VERSION    "2023-06-01"
#define ANTHROPIC_MAX_TOKENS 4096

/* Headers a provider's configuration may not set: the client computes them (Content-Length, Host,
 * Transfer-Encoding) or they carry the key, which has its own setting (Authorization). */
static const char *const refused_headers[] = {"authorization", "content-length", "host", "transfer-encoding"};

/* The options an OpenAI-compatible body takes from the provider's options, in body order; num_predict is
 * Ollama's name for max_tokens and is used when max_tokens is absent. */
static const char *const openai_options[] = {"temperature", "top_p", "max_tokens"};

static const char *const type_names[] = {
    [AC_SKILLS_LLM_OPENAI_COMPATIBLE] = "openai_compatible",
    [AC_SKILLS_LLM_OLLAMA] = "ollama",
    [AC_SKILLS_LLM_GEMINI] = "gemini",
    [AC_SKILLS_LLM_ANTHROPIC] = "anthropic",
    [AC_SKILLS_LLM_CUSTOM] = "custom",
};

int ac_skills_llm_type_parse(const char *s, ac_skills_llm_type_t *out)
{
    for (size_t i = 0; s != NULL && i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (strcmp(s, type_names[i]) == 0) {
            *out = (ac_skills_llm_type_t)i;
            return 0;
        }
    return -AC_EINVAL;
}

const char *ac_skills_llm_type_name(ac_skills_llm_type_t t)
{
    return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "unknown";
}

bool ac_skills_llm_type_is_cloud(ac_skills_llm_type_t t)
{
    return t == AC_SKILLS_LLM_GEMINI || t == AC_SKILLS_LLM_ANTHROPIC;
}

bool ac_skills_llm_type_needs_key(ac_skills_llm_type_t t)
{
    return ac_skills_llm_type_is_cloud(t);
}

/* The name errors use, as the original reports them ({:openai_compat, ...} for both OpenAI-compatible types). */
static const char *err_name(ac_skills_llm_type_t t)
{
    return t == AC_SKILLS_LLM_OPENAI_COMPATIBLE || t == AC_SKILLS_LLM_CUSTOM ? "openai_compat"
                                                                             : ac_skills_llm_type_name(t);
}

/* ---- checks of configuration -------------------------------------------------------------------------------------- */

static bool is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A base URL or host: http(s)://authority[/path], ASCII without spaces, controls, userinfo, query or fragment.
 * OUT: *norm (ac_malloc) with the scheme in lower case and trailing '/' dropped. what: "host" or "base URL". */
static int check_base(const char *url, const char *what, char **norm, ac_errmsg_t *err)
{
    size_t len = strlen(url), skip;
    if (len > URL_MAX)
        return ac_errmsg_set(err, -AC_ECONFIG, "the %s is longer than %d bytes", what, URL_MAX);
    if (strncasecmp(url, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        skip = 8;
    else
        return ac_errmsg_set(err, -AC_ECONFIG, "the %s must start with http:// or https://", what);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (is_ctl(c) || c == ' ' || c >= 0x80 || strchr("\"<>\\^`{|}", c) != NULL)
            return ac_errmsg_set(err, -AC_ECONFIG, "the %s contains a character a URL may not hold", what);
        if (c == '?' || c == '#')
            return ac_errmsg_set(err, -AC_ECONFIG, "the %s may not have a query or a fragment", what);
    }
    size_t auth_end = skip + strcspn(url + skip, "/");
    if (memchr(url + skip, '@', auth_end - skip) != NULL)
        return ac_errmsg_set(err, -AC_ECONFIG, "the %s may not carry a user name or password", what);
    /* authority: a name, an IPv4 address or a bracketed IPv6 address, then an optional port */
    const char *a = url + skip, *end = url + auth_end, *port = NULL;
    if (a < end && *a == '[') {
        const char *close = memchr(a, ']', (size_t)(end - a));
        if (close == NULL || close == a + 1 || strspn(a + 1, "0123456789abcdefABCDEF:.") != (size_t)(close - a - 1))
            return ac_errmsg_set(err, -AC_ECONFIG, "the %s has an invalid IPv6 address", what);
        if (close + 1 < end && close[1] != ':')
            return ac_errmsg_set(err, -AC_ECONFIG, "the %s has an invalid host", what);
        port = close + 1 < end ? close + 2 : NULL;
    } else {
        const char *colon = memchr(a, ':', (size_t)(end - a));
        const char *hend = colon ? colon : end;
        if (hend == a)
            return ac_errmsg_set(err, -AC_ECONFIG, "the %s has no host", what);
        for (const char *p = a; p < hend; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                  *p == '.' || *p == '_'))
                return ac_errmsg_set(err, -AC_ECONFIG, "the %s has an invalid host", what);
        port = colon ? colon + 1 : NULL;
    }
    if (port != NULL) {
        long v = 0;
        const char *p = port;
        for (; p < end && *p >= '0' && *p <= '9' && v <= 65535; p++)
            v = v * 10 + (*p - '0');
        if (p == port || p != end || v < 1 || v > 65535)
            return ac_errmsg_set(err, -AC_ECONFIG, "the %s has an invalid port", what);
    }
    while (len > auth_end && url[len - 1] == '/')
        len--;
    char *out = ac_strndup(url, len);
    for (size_t i = 0; i < skip; i++)
        out[i] = (char)((out[i] >= 'A' && out[i] <= 'Z') ? out[i] + 32 : out[i]);
    *norm = out;
    return 0;
}

/* A header value from configuration: no control characters but TAB, bounded. */
static bool value_ok(const char *v, size_t max)
{
    size_t n = 0;
    for (; v[n] != '\0'; n++)
        if (n >= max || (is_ctl((unsigned char)v[n]) && v[n] != '\t'))
            return false;
    return true;
}

/* ---- building ----------------------------------------------------------------------------------------------------- */

static void add_header(ac_skills_llm_wire_req_t *r, const char *name, const char *value)
{
    /* callers stay within AC_SKILLS_LLM_WIRE_HEADERS_MAX: at most 16 provider headers plus 3 of ours */
    r->headers[r->n_headers].name = ac_strdup(name);
    r->headers[r->n_headers].value = ac_strdup(value);
    r->n_headers++;
}

/* RFC 3986 percent-encoding: unreserved characters kept, every other byte %XX. OUT: ac_malloc. */
static char *pct_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = ac_malloc(n * 3 + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~')
            *o++ = (char)c;
        else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

static char *concat(const char *a, const char *b, const char *c, const char *d)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c), ld = strlen(d);
    char *out = ac_malloc(la + lb + lc + ld + 1);
    memcpy(out, a, la);
    memcpy(out + la, b, lb);
    memcpy(out + la + lb, c, lc);
    memcpy(out + la + lb + lc, d, ld);
    out[la + lb + lc + ld] = '\0';
    return out;
}

/* [{"role":"system","content":S}?, {"role":"user","content":P}] (ollama, openai) */
static json_t *chat_messages(const char *system, const char *prompt)
{
    json_t *m = json_array();
    if (system != NULL)
        json_array_append_new(m, json_pack("{s:s, s:s}", "role", "system", "content", system));
    json_array_append_new(m, json_pack("{s:s, s:s}", "role", "user", "content", prompt));
    return m;
}

static json_t *body_anthropic(const ac_skills_llm_wire_provider_t *p, const char *system, const char *prompt)
{
    json_t *b = json_pack("{s:s, s:i, s:[{s:s, s:s}]}", "model", p->model, "max_tokens", ANTHROPIC_MAX_TOKENS,
                          "messages", "role", "user", "content", prompt);
    if (b != NULL && system != NULL)
        json_object_set_new(b, "system", json_string(system));
    return b;
}

static json_t *body_gemini(const char *system, const char *prompt)
{
    json_t *b = json_pack("{s:[{s:s, s:[{s:s}]}]}", "contents", "role", "user", "parts", "text", prompt);
    if (b != NULL && system != NULL)
        json_object_set_new(b, "systemInstruction", json_pack("{s:[{s:s}]}", "parts", "text", system));
    return b;
}

static json_t *body_ollama(const ac_skills_llm_wire_provider_t *p, const char *system, const char *prompt)
{
    json_t *b = json_pack("{s:s, s:o, s:b}", "model", p->model, "messages", chat_messages(system, prompt), "stream", 0);
    if (b == NULL || p->options == NULL)
        return b;
    json_t *opts = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)p->options, k, v)
    {
        if (!json_is_null(v))
            json_object_set(opts, k, v);
    }
    if (json_object_size(opts) > 0)
        json_object_set_new(b, "options", opts);
    else
        json_decref(opts);
    return b;
}

static json_t *body_openai(const ac_skills_llm_wire_provider_t *p, const char *system, const char *prompt)
{
    json_t *b = json_pack("{s:s, s:o, s:b}", "model", p->model, "messages", chat_messages(system, prompt), "stream", 0);
    if (b == NULL || p->options == NULL)
        return b;
    for (size_t i = 0; i < sizeof(openai_options) / sizeof(openai_options[0]); i++) {
        json_t *v = json_object_get(p->options, openai_options[i]);
        if ((v == NULL || json_is_null(v)) && strcmp(openai_options[i], "max_tokens") == 0)
            v = json_object_get(p->options, "num_predict");
        if (v != NULL && !json_is_null(v))
            json_object_set(b, openai_options[i], v);
    }
    if (json_is_false(json_object_get(p->options, "thinking")))
        json_object_set_new(b, "chat_template_kwargs", json_pack("{s:b}", "enable_thinking", 0));
    return b;
}

/* The provider's own headers (openai_compatible and custom): at most 16, token names, clean values, none of the
 * refused ones. Errors name the header, never its value. */
static int provider_headers(const json_t *h, ac_skills_llm_wire_req_t *r, bool *has_ctype, ac_errmsg_t *err)
{
    if (h == NULL || json_is_null(h))
        return 0;
    if (!json_is_object(h))
        return ac_errmsg_set(err, -AC_ECONFIG, "headers must be an object of strings");
    if (json_object_size(h) > PROVIDER_HEADERS_MAX)
        return ac_errmsg_set(err, -AC_ECONFIG, "more than %d headers", PROVIDER_HEADERS_MAX);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)h, k, v)
    {
        size_t n = strlen(k);
        bool token = n > 0 && n <= HEADER_NAME_MAX;
        for (size_t i = 0; token && i < n; i++)
            token = is_tchar((unsigned char)k[i]);
        if (!token)
            return ac_errmsg_set(err, -AC_ECONFIG, "headers: a header name is not a valid token");
        for (size_t i = 0; i < sizeof(refused_headers) / sizeof(refused_headers[0]); i++)
            if (strcasecmp(k, refused_headers[i]) == 0)
                return ac_errmsg_set(err, -AC_ECONFIG, "headers: %s may not be set by hand", k);
        if (!json_is_string(v) || !value_ok(json_string_value(v), HEADER_VALUE_MAX) ||
            strlen(json_string_value(v)) != json_string_length(v))
            return ac_errmsg_set(err, -AC_ECONFIG, "headers: the value of %s is not a valid header value", k);
        if (strcasecmp(k, "content-type") == 0)
            *has_ctype = true;
        add_header(r, k, json_string_value(v));
    }
    return 0;
}

static int build(const ac_skills_llm_wire_provider_t *p, const char *system, const char *prompt,
                 ac_skills_llm_wire_req_t *out, ac_errmsg_t *err)
{
    if ((unsigned)p->type >= sizeof(type_names) / sizeof(type_names[0]))
        return ac_errmsg_set(err, -AC_EINVAL, "unknown provider type");
    if (prompt == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "no prompt");
    if (system != NULL && system[0] == '\0')
        system = NULL;
    size_t plen = strlen(prompt), slen = system ? strlen(system) : 0;
    if (plen > AC_SKILLS_LLM_PROMPT_MAX || slen > AC_SKILLS_LLM_PROMPT_MAX - plen)
        return ac_errmsg_set(err, -AC_EINVAL, "the prompt and system prompt exceed %u bytes", AC_SKILLS_LLM_PROMPT_MAX);
    if (!ac_policy_utf8_valid(prompt, plen) || (system && !ac_policy_utf8_valid(system, slen)))
        return ac_errmsg_set(err, -AC_EINVAL, "the prompt is not valid UTF-8");
    if (p->model == NULL || p->model[0] == '\0')
        return ac_errmsg_set(err, -AC_EINVAL, "the provider has no model");
    size_t mlen = strlen(p->model);
    if (mlen > MODEL_MAX || !ac_policy_utf8_valid(p->model, mlen) || !value_ok(p->model, MODEL_MAX))
        return ac_errmsg_set(err, -AC_EINVAL, "the model name is not valid (control characters, or over %d bytes)",
                             MODEL_MAX);
    if (p->options != NULL && !json_is_object(p->options) && !json_is_null(p->options))
        return ac_errmsg_set(err, -AC_ECONFIG, "options must be an object");
    const json_t *options = json_is_object(p->options) ? p->options : NULL;

    const char *key = p->api_key != NULL && p->api_key[0] != '\0' ? p->api_key : NULL;
    bool cloud = ac_skills_llm_type_is_cloud(p->type);
    if (cloud && key == NULL)
        return ac_errmsg_set(err, -AC_ECONFIG, "api_key_not_set");
    if (key != NULL && !value_ok(key, KEY_MAX))
        return ac_errmsg_set(err, -AC_ECONFIG, "the API key holds control characters or is too long");
    const char *base = p->base_url != NULL && p->base_url[0] != '\0' ? p->base_url : NULL;
    if (!cloud && base == NULL)
        return ac_errmsg_set(err, -AC_ECONFIG, "host_not_set");
    if (p->type == AC_SKILLS_LLM_GEMINI && base == NULL)
        base = AC_SKILLS_LLM_GEMINI_URL;
    if (p->type == AC_SKILLS_LLM_ANTHROPIC && base == NULL)
        base = AC_SKILLS_LLM_ANTHROPIC_URL;

    char *root = NULL;
    int rc = check_base(base, cloud ? "base URL" : "host", &root, err);
    if (rc != 0)
        return rc;

    ac_skills_llm_wire_provider_t q = *p;
    q.options = options;
    json_t *body = NULL;
    bool has_ctype = false;
    switch (p->type) {
    case AC_SKILLS_LLM_ANTHROPIC:
        out->url = concat(root, "/v1/messages", "", "");
        add_header(out, "x-api-key", key);
        add_header(out, "anthropic-version", ANTHROPIC_VERSION);
        body = body_anthropic(&q, system, prompt);
        break;
    case AC_SKILLS_LLM_GEMINI: {
        /* the key goes in Google's x-goog-api-key header, not in the URL's ?key= as the original sent it: a URL is
         * what proxies, server logs and libcurl's messages show */
        char *m = pct_encode(p->model);
        out->url = concat(root, "/v1beta/models/", m, ":generateContent");
        free(m);
        add_header(out, "x-goog-api-key", key);
        body = body_gemini(system, prompt);
        break;
    }
    case AC_SKILLS_LLM_OLLAMA:
        out->url = concat(root, "/api/chat", "", "");
        body = body_ollama(&q, system, prompt);
        break;
    case AC_SKILLS_LLM_OPENAI_COMPATIBLE:
    case AC_SKILLS_LLM_CUSTOM:
        out->url = concat(root, "/v1/chat/completions", "", "");
        rc = provider_headers(p->headers, out, &has_ctype, err);
        if (rc != 0)
            goto Exit;
        if (key != NULL) {
            char *auth = concat("Bearer ", key, "", "");
            add_header(out, "authorization", auth);
            ac_free_secret_str(auth);
        }
        body = body_openai(&q, system, prompt);
        break;
    }
    if (!has_ctype)
        add_header(out, "content-type", "application/json");
    out->body = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (out->body == NULL) {
        /* only an invalid UTF-8 string or memory can stop jansson; both were ruled out above */
        rc = ac_errmsg_set(err, -AC_EINVAL, "the request body could not be encoded");
        goto Exit;
    }
    out->body_len = strlen(out->body);
    rc = 0;
Exit:
    json_decref(body);
    free(root);
    return rc;
}

int ac_skills_llm_wire_build(const ac_skills_llm_wire_provider_t *p, const char *system, const char *prompt,
                             ac_skills_llm_wire_req_t *out, ac_errmsg_t *err)
{
    memset(out, 0, sizeof(*out));
    if (p == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "no provider");
    int rc = build(p, system, prompt, out, err);
    if (rc != 0)
        ac_skills_llm_wire_req_free(out);
    return rc;
}

void ac_skills_llm_wire_req_free(ac_skills_llm_wire_req_t *r)
{
    if (r == NULL)
        return;
    /* header values hold the key (x-api-key, x-goog-api-key, authorization); the URL is wiped all the same */
    ac_free_secret_str(r->url);
    if (r->body != NULL)
        free(r->body);
    for (size_t i = 0; i < r->n_headers && i < AC_SKILLS_LLM_WIRE_HEADERS_MAX; i++) {
        free((char *)r->headers[i].name);
        ac_free_secret_str((char *)r->headers[i].value);
    }
    memset(r, 0, sizeof(*r));
}

/* ---- parsing ------------------------------------------------------------------------------------------------------ */

/* At most EXCERPT_MAX bytes of body for an error message: cut on a UTF-8 boundary; control characters (C0, DEL
 * and C1) become spaces and bytes that are not UTF-8 become '?', so the excerpt is printable UTF-8. */
static void excerpt(const char *body, size_t len, char *out, size_t cap)
{
    size_t n = body != NULL ? ac_policy_utf8_fit(body, len, EXCERPT_MAX) : 0, o = 0;
    const unsigned char *s = (const unsigned char *)body;
    for (size_t i = 0; i < n && o + 4 < cap;) {
        unsigned char c = s[i];
        size_t cl = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (cl == 0 || cl > n - i || !ac_policy_utf8_valid(body + i, cl)) {
            out[o++] = '?';
            i++;
        } else if (cl == 1) {
            out[o++] = is_ctl(c) ? ' ' : (char)c;
            i++;
        } else if (cl == 2 && c == 0xc2 && s[i + 1] < 0xa0) {
            out[o++] = ' '; /* U+0080..U+009F */
            i += 2;
        } else {
            memcpy(out + o, body + i, cl);
            o += cl;
            i += cl;
        }
    }
    out[o] = '\0';
}

/* The value at a path of object keys, "[0]" standing for an array's first element (the only index the formats use).
 * NULL-terminated. Returns NULL when a step is missing or of the wrong type. */
static json_t *at(json_t *j, ...)
{
    va_list ap;
    va_start(ap, j);
    for (const char *k = va_arg(ap, const char *); k != NULL && j != NULL; k = va_arg(ap, const char *))
        j = strcmp(k, "[0]") == 0 ? json_array_get(j, 0) : json_object_get(j, k);
    va_end(ap);
    return j;
}

/* A JSON string as the answer: a copy, refused when it holds NUL (a C string cannot carry it). */
static bool take_text(const json_t *s, char **text)
{
    if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s))
        return false;
    *text = ac_strndup(json_string_value(s), json_string_length(s));
    return true;
}

/* Anthropic's answer: the text blocks of `content`, in order, joined. Other blocks ("thinking" when extended thinking
 * is on, "redacted_thinking", "tool_use") come before or between them and are skipped; the original read only
 * content[0].text, so a thinking model's answer was lost. Returns NULL, or why the content is malformed. */
static const char *anthropic_text(const json_t *content, char **text)
{
    if (!json_is_array(content))
        return "no content array";
    ac_policy_strbuf_t b = {0};
    bool any = false;
    size_t i;
    json_t *block;
    json_array_foreach(content, i, block)
    {
        const char *type = json_string_value(json_object_get(block, "type"));
        if (type == NULL || strcmp(type, "text") != 0)
            continue;
        char *part = NULL;
        if (!take_text(json_object_get(block, "text"), &part)) {
            free(ac_policy_strbuf_take(&b));
            return "a text block without a text";
        }
        ac_policy_strbuf_puts(&b, part);
        free(part);
        any = true;
    }
    if (!any)
        return "no text block in content";
    *text = ac_policy_strbuf_take(&b);
    return NULL;
}

/* Gemini's 429 rule: RESOURCE_EXHAUSTED without any detail carrying a retryDelay is a spent quota (no retry). */
static bool gemini_quota(const char *body, size_t len)
{
    json_t *doc = json_loadb(body != NULL ? body : "", body != NULL ? len : 0, 0, NULL);
    json_t *e = json_object_get(doc, "error");
    bool quota = false;
    if (json_is_string(json_object_get(e, "status")) &&
        strcmp(json_string_value(json_object_get(e, "status")), "RESOURCE_EXHAUSTED") == 0) {
        quota = true;
        json_t *details = json_object_get(e, "details"), *d;
        size_t i;
        json_array_foreach(details, i, d)
        {
            if (json_object_get(d, "retryDelay") != NULL)
                quota = false;
        }
    }
    json_decref(doc);
    return quota;
}

ac_skills_llm_wire_outcome_t ac_skills_llm_wire_parse(ac_skills_llm_type_t type, long status, const char *body,
                                                      size_t len, char **text, ac_errmsg_t *err)
{
    *text = NULL;
    if (body == NULL)
        len = 0;
    const char *name = err_name(type);
    char ex[EXCERPT_MAX * 2 + 8];
    if (status < 200 || status > 299) {
        excerpt(body, len, ex, sizeof(ex));
        if (type == AC_SKILLS_LLM_GEMINI && status == 429) {
            if (gemini_quota(body, len)) {
                ac_errmsg_set(err, 0, "gemini_quota_exhausted: %s", ex);
                return AC_SKILLS_LLM_WIRE_QUOTA;
            }
            ac_errmsg_set(err, 0, "gemini: 429: %s", ex);
            return AC_SKILLS_LLM_WIRE_RETRY;
        }
        ac_errmsg_set(err, 0, "%s: %ld: %s", name, status, ex);
        return AC_SKILLS_LLM_WIRE_HTTP_ERROR;
    }

    json_error_t je;
    json_t *doc = json_loadb(body != NULL ? body : "", len, 0, &je);
    ac_skills_llm_wire_outcome_t oc = AC_SKILLS_LLM_WIRE_MALFORMED;
    const char *why = NULL;
    if (doc == NULL) {
        why = "not JSON";
        goto Exit;
    }
    switch (type) {
    case AC_SKILLS_LLM_ANTHROPIC: why = anthropic_text(json_object_get(doc, "content"), text); break;
    case AC_SKILLS_LLM_GEMINI:
        if (json_array_size(json_object_get(doc, "candidates")) == 0)
            why = "no candidates";
        else if (!take_text(at(doc, "candidates", "[0]", "content", "parts", "[0]", "text", NULL), text))
            why = "no text in candidates[0].content.parts[0].text";
        break;
    case AC_SKILLS_LLM_OLLAMA:
        if (!take_text(at(doc, "message", "content", NULL), text))
            why = "no text in message.content";
        break;
    case AC_SKILLS_LLM_OPENAI_COMPATIBLE:
    case AC_SKILLS_LLM_CUSTOM: {
        json_t *msg = at(doc, "choices", "[0]", "message", NULL);
        if (!json_is_object(msg)) {
            why = "no choices[0].message";
            break;
        }
        /* content, else reasoning_content (reasoning models on LM Studio and vLLM); null or "" counts as absent */
        static const char *const fields[] = {"content", "reasoning_content"};
        for (size_t i = 0; i < 2 && why == NULL && *text == NULL; i++) {
            json_t *v = json_object_get(msg, fields[i]);
            if (v == NULL || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
                continue;
            if (!take_text(v, text))
                why = i == 0 ? "choices[0].message.content is not a string"
                             : "choices[0].message.reasoning_content is not a string";
        }
        if (why == NULL && *text == NULL) {
            oc = AC_SKILLS_LLM_WIRE_EMPTY;
            ac_errmsg_set(err, 0, "openai_compat: empty_response");
            goto Exit;
        }
        break;
    }
    default: why = "unknown provider type"; break;
    }
    if (why == NULL && *text != NULL) {
        oc = AC_SKILLS_LLM_WIRE_OK;
        if (err != NULL)
            err->msg[0] = '\0';
    }
Exit:
    if (oc == AC_SKILLS_LLM_WIRE_MALFORMED) {
        free(*text);
        *text = NULL;
        ac_errmsg_set(err, 0, "%s: malformed_response: %s", name, why ? why : "no text");
    }
    json_decref(doc);
    return oc;
}

/* ---- scrubbing ---------------------------------------------------------------------------------------------------- */

void ac_skills_llm_wire_scrub(char *s, size_t cap, const char *secret)
{
    static const char mark[] = "[redacted]";
    if (s == NULL || cap == 0)
        return;
    size_t n = strnlen(s, cap);
    if (n == cap) /* not terminated within its buffer: it is now */
        s[--n] = '\0';
    size_t sl = secret != NULL ? strlen(secret) : 0;
    if (sl < 4)
        return;
    /* each replaced occurrence turns >= 4 bytes into 10: the result is at most 2.5 n bytes */
    char *buf = ac_malloc(n / 4 * (sizeof(mark) - 1) + n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        /* a whole occurrence, or the text ending in the key's first 4+ bytes (an excerpt cut inside the key) */
        size_t rest = n - i;
        size_t hit = rest >= sl ? (memcmp(s + i, secret, sl) == 0 ? sl : 0)
                                : (rest >= 4 && memcmp(s + i, secret, rest) == 0 ? rest : 0);
        if (hit > 0) {
            memcpy(buf + o, mark, sizeof(mark) - 1);
            o += sizeof(mark) - 1;
            i += hit;
        } else
            buf[o++] = s[i++];
    }
    size_t len = ac_policy_utf8_fit(buf, o, cap - 1);
    memcpy(s, buf, len);
    s[len] = '\0';
    ac_free_secret(buf, o);
}
