/* web/webhook.c - POST /webhooks/github (internal.h).
 *
 * The signature is HMAC-SHA256 over the raw body with the setting github.webhook_secret, sent as
 * `X-Hub-Signature-256: sha256=<64 lower-case hex>` and compared in constant time. No secret configured: every
 * webhook is refused. Answers as the original: 401 {"error":"webhook secret not configured"} or {"error":"invalid
 * signature"}, and 200 {"status":"accepted"} for any correctly signed event. Bodies over 1 MiB get 413 before this
 * runs. Events the original acted on (pull_request opened/synchronize/reopened; push to a branch of
 * github.watched_branches) get a security review (skills/github_review.h: the pull request, or the pushed commit
 * `after`), run by the node on its task runner with the result sent to the owner's chat, as the original did; and
 * they are handed to the workflow named by github.webhook_workflow, if any, as a machine trigger (a requires_2fa
 * workflow is never run this way), with input {"event", "delivery", "payload"}. The answer never waits for either. */
#include "web/internal.h"

#include "node/log.h"
#include "node/settings.h"
#include "policy/alloc.h"
#include "policy/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(const uint8_t *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* True when branch is one of the comma-separated names in list (blanks around names ignored). */
static bool branch_listed(const char *list, const char *branch)
{
    size_t bl = strlen(branch);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && end[-1] == ' ')
            end--;
        if ((size_t)(end - start) == bl && bl > 0 && memcmp(start, branch, bl) == 0)
            return true;
    }
    return false;
}

/* Whether the original would act on this event. */
static bool actionable(ac_web_server_t *s, const char *event, json_t *payload)
{
    if (strcmp(event, "pull_request") == 0) {
        const char *action = json_string_value(json_object_get(payload, "action"));
        return action != NULL &&
               (strcmp(action, "opened") == 0 || strcmp(action, "synchronize") == 0 || strcmp(action, "reopened") == 0);
    }
    if (strcmp(event, "push") == 0) {
        const char *after = json_string_value(json_object_get(payload, "after"));
        const char *ref = json_string_value(json_object_get(payload, "ref"));
        if (after == NULL || ref == NULL || strspn(after, "0") == strlen(after))
            return false;
        const char *branch = strrchr(ref, '/') != NULL ? strrchr(ref, '/') + 1 : ref;
        char *watched = NULL;
        if (ac_node_settings_get_str(s->cfg.settings, "github.watched_branches", &watched) != 0) {
            free(watched);
            watched = ac_strdup("main,master");
        }
        bool ok = branch_listed(watched, branch);
        free(watched);
        return ok;
    }
    return false;
}

static void on_refused(void *arg, int code, const char *reason)
{
    (void)arg;
    (void)code;
    ac_log_warn("web", "webhook_not_run", "reason=%s", reason);
}

/* Whether this delivery id was accepted before (GitHub signs no timestamp, so a captured delivery could be sent
 * again); remembers it otherwise. A delivery without an id is not remembered. Loop thread only. */
static bool replayed(ac_web_server_t *s, const char *delivery)
{
    if (delivery[0] == '\0' || strlen(delivery) >= sizeof(s->webhook_seen[0]))
        return false;
    for (size_t i = 0; i < AC_WEB_WEBHOOK_SEEN; i++)
        if (strcmp(s->webhook_seen[i], delivery) == 0)
            return true;
    snprintf(s->webhook_seen[s->webhook_seen_next], sizeof(s->webhook_seen[0]), "%s", delivery);
    s->webhook_seen_next = (s->webhook_seen_next + 1) % AC_WEB_WEBHOOK_SEEN;
    return false;
}

/* The review the original made of an actionable event: the pull request's number, or the pushed commit. */
static void review(ac_web_server_t *s, const char *event, json_t *payload)
{
    if (s->cfg.github_review == NULL)
        return;
    const char *repo = json_string_value(json_object_get(json_object_get(payload, "repository"), "full_name"));
    char ref[64] = "";
    bool pr = strcmp(event, "pull_request") == 0;
    if (pr) {
        json_t *n = json_object_get(json_object_get(payload, "pull_request"), "number");
        if (json_is_integer(n) && json_integer_value(n) > 0)
            snprintf(ref, sizeof(ref), "%lld", (long long)json_integer_value(n));
    } else {
        const char *after = json_string_value(json_object_get(payload, "after"));
        if (after != NULL && strlen(after) == 40 && strspn(after, "0123456789abcdef") == 40)
            snprintf(ref, sizeof(ref), "%s", after);
    }
    ac_errmsg_t err = {{0}};
    if (repo == NULL || ref[0] == '\0') {
        ac_log_warn("web", "webhook_no_review", "event=%s reason=%s", event,
                    "no repository or reference in the payload");
        return;
    }
    int rc = s->cfg.github_review(s->cfg.github_review_arg, repo, pr, ref, &err);
    ac_log_info("web", "webhook_review", "event=%s ref=%s queued=%s reason=%s", event, ref, rc == 0 ? "yes" : "no",
                rc == 0 ? "-" : err.msg);
}

static void hand_on(ac_web_server_t *s, const char *event, const char *delivery, json_t *payload)
{
    char *workflow = NULL;
    if (ac_node_settings_get_str(s->cfg.settings, "github.webhook_workflow", &workflow) != 0 || workflow == NULL ||
        workflow[0] == '\0') {
        free(workflow);
        ac_log_info("web", "webhook_unhandled", "event=%s reason=%s", event, "github.webhook_workflow is not set");
        return;
    }
    json_t *input = json_pack("{s:s,s:s,s:O}", "event", event, "delivery", delivery, "payload", payload);
    ac_node_wf_job_t job = {
        .workflow_name = workflow, .input = input, .trigger = AC_WF_TRIGGER_WEBHOOK, .on_refused = on_refused};
    int rc = ac_node_wf_pool_submit(s->cfg.pool, &job);
    ac_log_info("web", "webhook_handed_on", "event=%s workflow=%s queued=%s", event, workflow, rc == 0 ? "yes" : "no");
    json_decref(input);
    free(workflow);
}

void ac_web_webhook_github(ac_web_server_t *s, h2o_req_t *req)
{
    char *secret = NULL;
    if (ac_node_settings_get_str(s->cfg.settings, "github.webhook_secret", &secret) != 0 || secret == NULL ||
        secret[0] == '\0') {
        ac_free_secret_str(secret);
        ac_log_warn("web", "webhook_refused", "reason=%s", "no secret configured");
        ac_web_error(req, 401, "webhook secret not configured");
        return;
    }
    h2o_iovec_t sig = ac_web_header(req, "x-hub-signature-256");
    const char *body = req->entity.base != NULL ? req->entity.base : "";
    size_t len = req->entity.base != NULL ? req->entity.len : 0;
    uint8_t mac[32];
    char want[65];
    bool ok = false;
    if (sig.base != NULL && sig.len == 7 + 64 && memcmp(sig.base, "sha256=", 7) == 0 &&
        ac_policy_crypto_hmac_sha256(secret, strlen(secret), body, len, mac) == 0) {
        hex(mac, sizeof(mac), want);
        ok = ac_policy_crypto_ct_equal(sig.base + 7, 64, want, 64) == 1;
    }
    ac_free_secret_str(secret);
    if (!ok) {
        ac_log_warn("web", "webhook_refused", "reason=%s", sig.base == NULL ? "no signature" : "invalid signature");
        ac_web_error(req, 401, "invalid signature");
        return;
    }
    char event[64] = "", delivery[80] = "";
    h2o_iovec_t ev = ac_web_header(req, "x-github-event"), dl = ac_web_header(req, "x-github-delivery");
    if (ev.base != NULL && ev.len < sizeof(event))
        memcpy(event, ev.base, ev.len), event[ev.len] = '\0';
    if (dl.base != NULL && dl.len < sizeof(delivery))
        memcpy(delivery, dl.base, dl.len), delivery[dl.len] = '\0';
    json_t *payload = len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    bool act = json_is_object(payload) && actionable(s, event, payload);
    if (act && replayed(s, delivery)) {
        ac_log_warn("web", "webhook_replayed", "event=%s delivery=%s", event, delivery);
        act = false;
    }
    ac_log_info("web", "webhook", "event=%s delivery=%s actionable=%s", event, delivery, act ? "yes" : "no");
    if (act) {
        review(s, event, payload);
        hand_on(s, event, delivery, payload);
    }
    json_decref(payload);
    ac_web_respond_json(req, 200, json_pack("{s:s}", "status", "accepted"));
}
