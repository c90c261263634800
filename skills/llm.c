/* skills/llm.c - the LLM router of llm.h: the choice of a provider for a call, the daily limits, and one completion
 * sent through skills/http.h in the wire format of skills/llm_wire.h. The providers come from the store
 * (skills/llm_store.h).
 *
 * The database is the only state. A call reads the candidates (one query), then reserves one unit of the first
 * candidate's daily budget with a single upsert that only increments while the count is under the limit (so
 * concurrent calls on any node never pass it), sends, and gives the unit back when the call fails: llm_usage counts
 * successful calls. An API key is opened (by the store, with the settings key) or read from the type's setting inside
 * one attempt only, and zeroed with the request that carried it; error texts that could echo it are scrubbed before
 * they reach err. Every statement takes its values as parameters. */
#include "skills/llm.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"
#include "policy/utf8.h"
#include "skills/http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRIES     3  /* Gemini 429s retried after base x 1, 2, 3 */
#define SLICE_MS    50 /* how often a retry's wait looks at cancel */
#define TEST_PROMPT "Reply with the single word: ok"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

/* $1 id, $2 daily limit or NULL. Inserts or increments today's count only while it is under the limit (a limit of 0
 * inserts nothing); a row comes back only when a unit was reserved, with the day it counts for. */
static const char sql_reserve[] =
    "INSERT INTO llm_usage (model, date, count) "
    "SELECT 'provider_' || $1::bigint, " AC_SKILLS_LLM__TODAY ", 1 WHERE $2::int IS NULL OR $2::int > 0 "
    "ON CONFLICT (model, date) DO UPDATE SET count = llm_usage.count + 1 "
    "WHERE $2::int IS NULL OR llm_usage.count < $2::int "
    "RETURNING date::text";
/* $1 id, $2 the day of the reservation. */
static const char sql_release[] = "UPDATE llm_usage SET count = GREATEST(count - 1, 0) "
                                  "WHERE model = 'provider_' || $1::bigint AND date = $2::date";

static int64_t setting_clamped(ac_node_settings_t *s, const char *key, int64_t dflt, int64_t lo, int64_t hi)
{
    int64_t v = s != NULL ? ac_node_settings_int_or(s, key, dflt) : dflt;
    return v < lo ? lo : v > hi ? hi : v;
}

/* --- usage -------------------------------------------------------------------------------------------------------- */

/* Reserves one call of p's daily budget. Returns 1 (reserved; day[] the UTC day it counts for), 0 (at the limit), or
 * a database error. */
static int reserve(PGconn *c, const ac_skills_llm__row_t *p, char day[16], ac_errmsg_t *err)
{
    char idbuf[24], limit[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, p->id);
    snprintf(limit, sizeof(limit), "%" PRId64, p->daily_limit);
    const char *params[] = {idbuf, p->daily_limit >= 0 ? limit : NULL};
    PGresult *r = PQexecParams(c, sql_reserve, 2, NULL, params, NULL, NULL, 0);
    int rc;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = ac_node_db_fail(c, "llm", "count the call", err);
    } else if (PQntuples(r) == 0) {
        rc = 0;
    } else {
        snprintf(day, 16, "%s", PQgetvalue(r, 0, 0));
        rc = 1;
    }
    PQclear(r);
    return rc;
}

/* Gives a failed call's unit back. A failure here leaves the count one too high for the day: logged, not fatal. */
static void release(PGconn *c, int64_t id, const char *day)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *params[] = {idbuf, day};
    PGresult *r = PQexecParams(c, sql_release, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *m = PQerrorMessage(c);
        ac_log_warn("llm", "usage_release_failed", "provider_id=%" PRId64 " error=%.*s", id, (int)strcspn(m, "\n"), m);
    }
    PQclear(r);
}

/* --- calling ------------------------------------------------------------------------------------------------------ */

static void wire_req_wipe(ac_skills_llm_wire_req_t *r)
{
    if (r->url != NULL)
        explicit_bzero(r->url, strlen(r->url));
    for (size_t i = 0; i < r->n_headers && i < AC_SKILLS_LLM_WIRE_HEADERS_MAX; i++)
        if (r->headers[i].value != NULL)
            explicit_bzero((char *)r->headers[i].value, strlen(r->headers[i].value));
    ac_skills_llm_wire_req_free(r);
}

typedef struct call_state {
    const ac_skill_ctx_t *ctx;
    const ac_skills_llm__row_t *p;
    const char *system, *prompt;
    int64_t limit_ms; /* CLOCK_MONOTONIC ms: the call's end, retries included */
    size_t max_bytes;
    long http_status; /* the last response's, 0 when none */
} call_state_t;

/* Removes the values of the secret-looking headers from s (an error text). */
static void scrub_headers(char *s, size_t cap, const json_t *headers)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)headers, k, v)
    {
        if (ac_skills_llm_header_secret(k) && json_is_string(v))
            ac_skills_llm_wire_scrub(s, cap, json_string_value(v));
    }
}

/* One request and its answer. OUT: *outcome (-1 when no response was read), *text on success. The key lives only
 * here and every error text is scrubbed of it. */
static int attempt(call_state_t *cs, int *outcome, char **text, ac_errmsg_t *err)
{
    const ac_skills_llm__row_t *p = cs->p;
    *outcome = -1;
    *text = NULL;
    char *key = NULL;
    int rc = ac_skills_llm__key_open(cs->ctx->settings, p, &key, err);
    if (rc != 0)
        return rc;
    if (!ac_skills_llm_type_needs_key(p->type) && (p->host == NULL || p->host[0] == '\0')) {
        ac_free_secret_str(key);
        return ac_errmsg_set(err, -AC_ECONFIG, "host_not_set");
    }
    json_t *headers = NULL; /* secret header values opened for this request only */
    if ((rc = ac_skills_llm__headers_open(cs->ctx->settings, p, &headers, err)) != 0) {
        ac_free_secret_str(key);
        return rc;
    }
    ac_skills_llm_wire_provider_t wp = {
        .type = p->type,
        .base_url = p->type == AC_SKILLS_LLM_GEMINI      ? cs->ctx->gemini_url
                    : p->type == AC_SKILLS_LLM_ANTHROPIC ? cs->ctx->anthropic_url
                                                         : p->host,
        .model = p->model,
        .api_key = key,
        .headers = headers,
        .options = p->options,
    };
    ac_skills_llm_wire_req_t wr;
    memset(&wr, 0, sizeof(wr));
    if ((rc = ac_skills_llm_wire_build(&wp, cs->system, cs->prompt, &wr, err)) != 0)
        goto Exit;
    ac_skills_http_req_t hr = {
        .method = "POST",
        .url = wr.url,
        .headers = wr.headers,
        .n_headers = wr.n_headers,
        .body = wr.body,
        .body_len = wr.body_len,
        .deadline_ms = cs->limit_ms,
        .max_bytes = cs->max_bytes,
        .max_redirects = 0,
        .cancel = cs->ctx->cancel,
    };
    ac_skills_http_resp_t resp;
    rc = ac_skills_http_request(&hr, &resp);
    wire_req_wipe(&wr);
    cs->http_status = resp.status;
    if (rc == 0) {
        /* an error body may quote the key, and the excerpt could cut it where a later scrub would miss it; the body
         * is then read only up to the first NUL, which is where the scrub stopped */
        size_t blen = resp.body != NULL ? resp.body_len : 0;
        if ((key != NULL || headers != NULL) && (resp.status < 200 || resp.status > 299) && resp.body != NULL) {
            if (key != NULL)
                ac_skills_llm_wire_scrub(resp.body, resp.body_len + 1, key);
            scrub_headers(resp.body, resp.body_len + 1, headers);
            blen = strlen(resp.body);
        }
        *outcome = (int)ac_skills_llm_wire_parse(p->type, resp.status, resp.body, blen, text, err);
        rc = *outcome == AC_SKILLS_LLM_WIRE_OK ? 0 : -AC_EIO;
    } else if (rc == -AC_ETIMEDOUT) {
        ac_errmsg_set(err, rc, "timeout");
    } else if (rc == -AC_ESTOPPED) {
        ac_errmsg_set(err, rc, "cancelled");
    } else if (rc == -AC_ETOOLONG) {
        ac_errmsg_set(err, rc, "too_large: the response is larger than %zu KiB", cs->max_bytes / 1024);
    } else {
        if (key != NULL)
            ac_skills_llm_wire_scrub(resp.error, sizeof(resp.error), key);
        scrub_headers(resp.error, sizeof(resp.error), headers);
        ac_errmsg_set(err, -AC_EIO, "request_failed: %s", resp.error[0] != '\0' ? resp.error : ac_strerror(rc));
        rc = -AC_EIO;
    }
    ac_skills_http_resp_free(&resp);
Exit:
    if (rc != 0 && err != NULL && key != NULL)
        ac_skills_llm_wire_scrub(err->msg, sizeof(err->msg), key);
    if (rc != 0 && err != NULL)
        scrub_headers(err->msg, sizeof(err->msg), headers);
    ac_skills_llm__headers_wipe(headers);
    ac_free_secret_str(key);
    return rc;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Waits ms in slices, watching cancel. 0 or -AC_ESTOPPED. */
static int pause_ms(const ac_skill_ctx_t *ctx, int64_t ms)
{
    int64_t end = ac_skill_now_ms() + ms;
    for (;;) {
        if (ctx->cancel != NULL && *ctx->cancel)
            return -AC_ESTOPPED;
        int64_t left = end - ac_skill_now_ms();
        if (left <= 0)
            return 0;
        sleep_ms(left < SLICE_MS ? left : SLICE_MS);
    }
}

static void answer_set(ac_skills_llm_answer_t *ans, const ac_skills_llm__row_t *p)
{
    ans->provider_id = p->id;
    size_t n = ac_policy_utf8_fit(p->name, strlen(p->name), AC_SKILLS_LLM_NAME_MAX);
    memcpy(ans->provider, p->name, n);
    ans->provider[n] = '\0';
    n = ac_policy_utf8_fit(p->model, strlen(p->model), AC_SKILLS_LLM_NAME_MAX);
    memcpy(ans->model, p->model, n);
    ans->model[n] = '\0';
}

/* The status word for the log: "ok" or the error's code (the text before the first ':'), never its detail. */
static void log_call(const char *provider, const char *tier, int64_t start, long http, int attempts, int rc,
                     const ac_errmsg_t *err)
{
    char code[48] = "ok";
    if (rc != 0) {
        const char *m = err != NULL && err->msg[0] != '\0' ? err->msg : ac_strerror_name(rc);
        snprintf(code, sizeof(code), "%.*s", (int)strcspn(m, ":"), m);
    }
    ac_log(rc == 0 ? AC_LOG_INFO : AC_LOG_WARN, "llm", "call",
           "provider=%s tier=%s ms=%lld http=%ld attempts=%d status=%s", provider, tier,
           (long long)(ac_skill_now_ms() - start), http, attempts, code);
}

/* Sends the call to p, whose unit of budget for day is reserved, with Gemini's retries; gives the unit back on
 * failure and logs the call. */
static int run(const ac_skill_ctx_t *ctx, const ac_skills_llm__row_t *p, const char *system, const char *prompt,
               const char *day, int64_t start, ac_skills_llm_answer_t *ans, ac_errmsg_t *err)
{
    ac_node_settings_t *s = ctx->settings;
    bool cloud = ac_skills_llm_type_is_cloud(p->type);
    int64_t timeout_s = cloud ? setting_clamped(s, "llm.timeout_seconds", 120, 1, 86400)
                              : setting_clamped(s, "llm.local_timeout_seconds", 600, 1, 86400);
    call_state_t cs = {
        .ctx = ctx,
        .p = p,
        .system = system,
        .prompt = prompt,
        .limit_ms = start + timeout_s * 1000,
        .max_bytes = (size_t)setting_clamped(s, "llm.max_response_kb", 2048, 1, 65536) * 1024,
    };
    if (ctx->deadline_ms > 0 && ctx->deadline_ms < cs.limit_ms)
        cs.limit_ms = ctx->deadline_ms;
    int64_t retry_ms = setting_clamped(s, "llm.gemini_retry_ms", 5000, 0, 600000);
    answer_set(ans, p);
    int rc, outcome, attempts = 0;
    char *text = NULL;
    for (;;) {
        attempts++;
        if (ctx->cancel != NULL && *ctx->cancel) {
            rc = ac_errmsg_set(err, -AC_ESTOPPED, "cancelled");
            break;
        }
        if (ac_skill_now_ms() >= cs.limit_ms) {
            rc = ac_errmsg_set(err, -AC_ETIMEDOUT, "timeout");
            break;
        }
        rc = attempt(&cs, &outcome, &text, err);
        if (rc == 0 || outcome != AC_SKILLS_LLM_WIRE_RETRY || attempts > RETRIES)
            break;
        /* a retryable 429: wait base x attempts, unless that passes the limit (then the 429 is the answer) */
        int64_t delay = retry_ms * attempts;
        if (ac_skill_now_ms() + delay >= cs.limit_ms)
            break;
        ac_log_info("llm", "retry", "provider=%s attempt=%d delay_ms=%lld", p->name, attempts, (long long)delay);
        if (pause_ms(ctx, delay) != 0) {
            rc = ac_errmsg_set(err, -AC_ESTOPPED, "cancelled");
            break;
        }
    }
    if (rc == 0)
        ans->text = text;
    else
        release(ctx->db, p->id, day);
    log_call(p->name, p->tier, start, cs.http_status, attempts, rc, err);
    return rc;
}

static int ctx_check(const ac_skill_ctx_t *ctx, ac_skills_llm_answer_t *ans, ac_errmsg_t *err)
{
    if (ans != NULL)
        memset(ans, 0, sizeof(*ans));
    if (ctx == NULL || ctx->db == NULL || ctx->settings == NULL || ans == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "llm: a call needs a database connection, the settings and an answer");
    if (ctx->cancel != NULL && *ctx->cancel)
        return ac_errmsg_set(err, -AC_ESTOPPED, "cancelled");
    return 0;
}

int ac_skills_llm_complete(const ac_skill_ctx_t *ctx, const ac_skills_llm_call_t *call, ac_skills_llm_answer_t *ans,
                           ac_errmsg_t *err)
{
    int rc = ctx_check(ctx, ans, err);
    if (rc != 0)
        return rc;
    if (call == NULL || call->prompt == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "llm: a call needs a prompt");
    int64_t start = ac_skill_now_ms();
    const char *tier = call->local_only ? "local" : call->tier != NULL ? call->tier : "light";
    if (ac_skills_llm_tier_check(tier) != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "invalid_tier: the tier must be light, medium, heavy or local");
    bool named = call->provider != NULL && call->provider[0] != '\0' && strcmp(call->provider, "auto") != 0;
    ac_skills_llm__row_t *cands = NULL;
    size_t n = 0;
    if (named) {
        if ((rc = ac_skills_llm__rows_by_name(ctx->db, call->provider, call->local_only, &cands, &n, err)) != 0)
            goto Exit;
        if (n == 0) {
            char shown[96];
            ac_policy_utf8_clip(call->provider, 64, shown, sizeof(shown));
            rc = ac_errmsg_set(err, -AC_ENOENT, "unknown_provider: %s", shown);
            goto Exit;
        }
    } else {
        if ((rc = ac_skills_llm__rows_by_tier(ctx->db, tier, &cands, &n, err)) != 0)
            goto Exit;
        if (n == 0 && strcmp(tier, "local") != 0) {
            if ((rc = ac_skills_llm__rows_by_tier(ctx->db, "local", &cands, &n, err)) != 0)
                goto Exit;
        }
        if (n == 0) {
            rc = ac_errmsg_set(err, -AC_ENOENT, "no_available_model");
            goto Exit;
        }
    }
    char day[16] = "";
    for (size_t i = 0; i < n; i++) {
        if ((rc = reserve(ctx->db, &cands[i], day, err)) < 0)
            goto Exit;
        if (rc == 1) {
            rc = run(ctx, &cands[i], call->system, call->prompt, day, start, ans, err);
            ac_skills_llm__rows_free(cands, n);
            return rc;
        }
    }
    rc = ac_errmsg_set(err, -AC_ENOENT, "all_providers_at_limit");
Exit:
    log_call(named ? "-" : "auto", tier, start, 0, 0, rc, err);
    ac_skills_llm__rows_free(cands, n);
    return rc;
}

int ac_skills_llm_test(const ac_skill_ctx_t *ctx, int64_t id, ac_skills_llm_answer_t *ans, ac_errmsg_t *err)
{
    int rc = ctx_check(ctx, ans, err);
    if (rc != 0)
        return rc;
    int64_t start = ac_skill_now_ms();
    char day[16] = "";
    ac_skills_llm__row_t *rows = NULL;
    size_t n = 0;
    if ((rc = ac_skills_llm__rows_by_id(ctx->db, id, &rows, &n, err)) != 0)
        goto Exit;
    if (n == 0) {
        rc = ac_errmsg_set(err, -AC_ENOENT, "unknown_provider: id %" PRId64, id);
        goto Exit;
    }
    answer_set(ans, &rows[0]);
    if ((rc = reserve(ctx->db, &rows[0], day, err)) < 0)
        goto Exit;
    if (rc == 0) {
        rc = ac_errmsg_set(err, -AC_ENOENT, "all_providers_at_limit");
        goto Exit;
    }
    rc = run(ctx, &rows[0], NULL, TEST_PROMPT, day, start, ans, err);
    ac_skills_llm__rows_free(rows, n);
    return rc;
Exit:
    log_call(n > 0 ? rows[0].name : "-", n > 0 ? rows[0].tier : "-", start, 0, 0, rc, err);
    ac_skills_llm__rows_free(rows, n);
    return rc;
}

void ac_skills_llm_answer_free(ac_skills_llm_answer_t *ans)
{
    if (ans == NULL)
        return;
    free(ans->text);
    ans->text = NULL;
}

/* --- what a skill uses -------------------------------------------------------------------------------------------- */

const char *ac_skills_llm_tier_for(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, const char *skill,
                                   const char *dflt, char *buf, size_t cap)
{
    (void)buf;
    (void)cap;
    if (args != NULL && args->llm_tier != NULL && args->llm_tier[0] != '\0')
        return args->llm_tier;
    char key[AC_SETTING_KEY_MAX + 1];
    if (ctx == NULL || ctx->settings == NULL || skill == NULL ||
        (size_t)snprintf(key, sizeof(key), "skill.%s.tier", skill) >= sizeof(key))
        return dflt;
    char *v = ac_skills_llm__setting_str(ctx->settings, key);
    const char *t = ac_skills_llm__tier_static(v);
    free(v);
    return t != NULL ? t : dflt;
}

const char *ac_skills_llm_provider_for(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, const char *skill,
                                       char *buf, size_t cap)
{
    if (args != NULL && args->llm_model != NULL && args->llm_model[0] != '\0')
        return args->llm_model;
    char key[AC_SETTING_KEY_MAX + 1];
    if (ctx == NULL || ctx->settings == NULL || skill == NULL || buf == NULL || cap == 0 ||
        (size_t)snprintf(key, sizeof(key), "skill.%s.provider", skill) >= sizeof(key))
        return "auto";
    char *v = ac_skills_llm__setting_str(ctx->settings, key);
    size_t n = strlen(v);
    const char *out = "auto";
    if (n > 0 && n < cap) {
        memcpy(buf, v, n + 1);
        out = buf;
    }
    free(v);
    return out;
}
