/* skills/channel.c - the SkillAPI channel's codec (channel.h). */
#include "skills/channel.h"

#include "policy/alloc.h"
#include "policy/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The SkillAPI (reference 5.3). send_* need gateway_send; the node falls back to telegram_send as the original. */
static const ac_skills_channel_fn_t fns[] = {
    {"llm_complete", AC_POLICY_PERM_LLM, {"prompt", "options"}},
    {"send_message", AC_POLICY_PERM_GATEWAY_SEND, {"text"}},
    {"send_html", AC_POLICY_PERM_GATEWAY_SEND, {"text"}},
    {"send_telegram", AC_POLICY_PERM_GATEWAY_SEND, {"text"}},
    {"send_telegram_html", AC_POLICY_PERM_GATEWAY_SEND, {"text"}},
    {"memory_search", AC_POLICY_PERM_MEMORY_READ, {"query", "options"}},
    {"memory_recent", AC_POLICY_PERM_MEMORY_READ, {"options"}},
    {"memory_exists", AC_POLICY_PERM_MEMORY_READ, {"source"}},
    {"skill_outcomes", AC_POLICY_PERM_MEMORY_READ, {"options"}},
    {"memory_store", AC_POLICY_PERM_MEMORY_WRITE, {"kind", "content", "options"}},
    {"knowledge_search", AC_POLICY_PERM_KNOWLEDGE_READ, {"query", "options"}},
    {"knowledge_exists", AC_POLICY_PERM_KNOWLEDGE_READ, {"source"}},
    {"knowledge_store", AC_POLICY_PERM_KNOWLEDGE_WRITE, {"kind", "content", "options"}},
    {"http_get", AC_POLICY_PERM_WEB_READ, {"url", "options"}},
    {"http_post", AC_POLICY_PERM_WEB_READ, {"url", "body", "options"}},
    {"http_request", AC_POLICY_PERM_WEB_READ, {"method", "url", "options"}},
    {"config_get", AC_POLICY_PERM_CONFIG_READ, {"key", "default"}},
    {"list_resources", AC_POLICY_PERM_RESOURCES_READ, {"options"}},
    {"get_resource", AC_POLICY_PERM_RESOURCES_READ, {"id"}},
    {"run_skill", AC_POLICY_PERM_SKILL_INVOKE, {"name", "args"}},
    {"write_skill", AC_POLICY_PERM_SKILL_WRITE, {"filename", "source"}},
    {"read_skill", AC_POLICY_PERM_SKILL_WRITE, {"filename"}},
    {"load_skill", AC_POLICY_PERM_SKILL_MANAGE, {"filename"}},
    {"unload_skill", AC_POLICY_PERM_SKILL_MANAGE, {"name"}},
    {"reload_skill", AC_POLICY_PERM_SKILL_MANAGE, {"name"}},
    {"create_workflow", AC_POLICY_PERM_WORKFLOW_MANAGE, {"name", "options"}},
    {"add_workflow_step", AC_POLICY_PERM_WORKFLOW_MANAGE, {"workflow_id", "skill", "options"}},
    {"run_workflow", AC_POLICY_PERM_WORKFLOW_MANAGE, {"workflow_id", "input"}},
    {"get_workflow_result", AC_POLICY_PERM_WORKFLOW_MANAGE, {"run_id"}},
};

size_t ac_skills_channel_fn_count(void)
{
    return sizeof(fns) / sizeof(fns[0]);
}

const ac_skills_channel_fn_t *ac_skills_channel_fn_at(size_t i)
{
    return i < sizeof(fns) / sizeof(fns[0]) ? &fns[i] : NULL;
}

const ac_skills_channel_fn_t *ac_skills_channel_fn_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof(fns) / sizeof(fns[0]); i++)
        if (strcmp(fns[i].name, name) == 0)
            return &fns[i];
    return NULL;
}

int ac_skills_channel_frame(const uint8_t *buf, size_t len, const uint8_t **payload, size_t *payload_len,
                            size_t *consumed)
{
    *payload = NULL;
    *payload_len = 0;
    *consumed = 0;
    if (len < 4)
        return 1;
    uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    if (n == 0)
        return -AC_EINVAL;
    if (n > AC_SKILLS_CHANNEL_FRAME_MAX)
        return -AC_ETOOLONG;
    if (len - 4 < n)
        return 1;
    *payload = buf + 4;
    *payload_len = n;
    *consumed = 4 + (size_t)n;
    return 0;
}

/* Depth of a value, with an explicit stack (bounded: a deeper value stops the walk). */
static bool depth_ok(json_t *v)
{
    typedef struct {
        json_t *v;
        void *iter;
        size_t idx;
    } frame_t;
    frame_t st[AC_SKILLS_CHANNEL_DEPTH + 1];
    int top = 0;
    st[0] = (frame_t){v, json_is_object(v) ? json_object_iter(v) : NULL, 0};
    while (top >= 0) {
        frame_t *f = &st[top];
        json_t *child = NULL;
        if (json_is_object(f->v) && f->iter != NULL) {
            child = json_object_iter_value(f->iter);
            f->iter = json_object_iter_next(f->v, f->iter);
        } else if (json_is_array(f->v) && f->idx < json_array_size(f->v)) {
            child = json_array_get(f->v, f->idx++);
        } else {
            top--;
            continue;
        }
        if (json_is_object(child) || json_is_array(child)) {
            if (top + 1 >= AC_SKILLS_CHANNEL_DEPTH)
                return false;
            st[++top] = (frame_t){child, json_is_object(child) ? json_object_iter(child) : NULL, 0};
        }
    }
    return true;
}

static bool only_keys(json_t *o, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        bool known = false;
        for (size_t i = 0; keys[i] != NULL && !known; i++)
            known = strcmp(keys[i], k) == 0;
        if (!known)
            return false;
    }
    return true;
}

void ac_skills_channel_msg_clear(ac_skills_channel_msg_t *m)
{
    json_decref(m->args);
    json_decref(m->output);
    memset(m, 0, sizeof(*m));
}

int ac_skills_channel_parse(const uint8_t *payload, size_t len, ac_skills_channel_msg_t *out, ac_errmsg_t *err)
{
    memset(out, 0, sizeof(*out));
    if (payload == NULL || len == 0 || len > AC_SKILLS_CHANNEL_FRAME_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "channel: empty or oversized message");
    json_error_t jerr;
    /* jansson's own parser nests up to 2048 deep; our limit is checked right after */
    json_t *o = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        return ac_errmsg_set(err, -AC_EINVAL, "channel: a message is one JSON object");
    }
    int rc = 0;
    if (!depth_ok(o)) {
        rc = ac_errmsg_set(err, -AC_EINVAL, "channel: nested deeper than %d levels", AC_SKILLS_CHANNEL_DEPTH);
    } else if (json_object_get(o, "done") != NULL) {
        static const char *const keys[] = {"done", "ok", "output", "branch", "error", NULL};
        json_t *ok = json_object_get(o, "ok"), *br = json_object_get(o, "branch"), *er = json_object_get(o, "error");
        if (!json_is_true(json_object_get(o, "done")) || !json_is_boolean(ok) || !only_keys(o, keys))
            rc = ac_errmsg_set(err, -AC_EINVAL, "channel: a done message is {\"done\": true, \"ok\": bool, ...}");
        else if (br != NULL &&
                 (!json_is_string(br) || json_string_length(br) == 0 ||
                  json_string_length(br) >= AC_SKILLS_CHANNEL_BRANCH_MAX ||
                  strspn(json_string_value(br), "abcdefghijklmnopqrstuvwxyz0123456789_") != json_string_length(br)))
            rc = ac_errmsg_set(err, -AC_EINVAL, "channel: a branch is a short lower-case name");
        else if (json_is_false(ok) && (!json_is_string(er) || json_string_length(er) == 0))
            rc = ac_errmsg_set(err, -AC_EINVAL, "channel: a failed run says why (\"error\")");
        if (rc == 0) {
            out->kind = AC_SKILLS_CHANNEL_DONE;
            out->ok = json_is_true(ok);
            if (out->ok) {
                json_t *v = json_object_get(o, "output");
                out->output = v != NULL ? json_incref(v) : NULL;
                snprintf(out->branch, sizeof(out->branch), "%s", br != NULL ? json_string_value(br) : "on_success");
            } else {
                const char *e = json_string_value(er);
                snprintf(out->error, sizeof(out->error), "%.*s",
                         (int)ac_policy_utf8_fit(e, strlen(e), sizeof(out->error) - 1), e);
            }
        }
    } else {
        static const char *const keys[] = {"id", "call", "args", NULL};
        json_t *id = json_object_get(o, "id"), *call = json_object_get(o, "call"), *args = json_object_get(o, "args");
        if (!json_is_integer(id) || json_integer_value(id) < 1 || json_integer_value(id) > INT32_MAX)
            rc = ac_errmsg_set(err, -AC_EINVAL, "channel: a call has an \"id\" from 1 to 2^31-1");
        else if (!json_is_string(call) || (out->fn = ac_skills_channel_fn_find(json_string_value(call))) == NULL)
            rc = ac_errmsg_set(err, -AC_EINVAL, "channel: unknown SkillAPI function");
        else if (args != NULL && !json_is_object(args))
            rc = ac_errmsg_set(err, -AC_EINVAL, "channel: \"args\" is an object");
        else if (!only_keys(o, keys))
            rc = ac_errmsg_set(err, -AC_EINVAL, "channel: a call has only id, call and args");
        if (rc == 0) {
            out->kind = AC_SKILLS_CHANNEL_CALL;
            out->id = json_integer_value(id);
            out->args = args != NULL ? json_incref(args) : json_object();
        } else {
            out->fn = NULL;
        }
    }
    json_decref(o);
    if (rc != 0)
        ac_skills_channel_msg_clear(out);
    return rc;
}

int ac_skills_channel_encode(const json_t *msg, uint8_t **frame, size_t *len)
{
    *frame = NULL;
    *len = 0;
    char *s = msg != NULL ? json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (s == NULL)
        return -AC_EINVAL;
    size_t n = strlen(s);
    if (n > AC_SKILLS_CHANNEL_FRAME_MAX) {
        free(s);
        return -AC_ETOOLONG;
    }
    uint8_t *f = ac_malloc(n + 4);
    f[0] = (uint8_t)(n >> 24);
    f[1] = (uint8_t)(n >> 16);
    f[2] = (uint8_t)(n >> 8);
    f[3] = (uint8_t)n;
    memcpy(f + 4, s, n);
    free(s);
    *frame = f;
    *len = n + 4;
    return 0;
}

int ac_skills_channel_reply(int64_t id, bool ok, const json_t *result, const char *error, uint8_t **frame, size_t *len)
{
    *frame = NULL;
    *len = 0;
    json_t *o =
        ok ? json_pack("{s:I, s:b, s:O?}", "id", (json_int_t)id, "ok", 1, "result", (json_t *)result)
           : json_pack("{s:I, s:b, s:s}", "id", (json_int_t)id, "ok", 0, "error", error != NULL ? error : "error");
    if (o == NULL)
        return -AC_EINVAL;
    if (ok && result == NULL)
        json_object_set_new(o, "result", json_null());
    int rc = ac_skills_channel_encode(o, frame, len);
    json_decref(o);
    return rc;
}
