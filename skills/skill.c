/* skills/skill.c - small helpers every skill uses (skill.h). */
#include "skills/skill.h"

#include "policy/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int ac_skill_fail(ac_skill_result_t *res, const char *code, const char *detail_fmt, ...)
{
    size_t n = (size_t)snprintf(res->error, sizeof(res->error), "%s", code);
    if (detail_fmt != NULL && n + 2 < sizeof(res->error)) {
        memcpy(res->error + n, ": ", 3);
        va_list ap;
        va_start(ap, detail_fmt);
        vsnprintf(res->error + n + 2, sizeof(res->error) - n - 2, detail_fmt, ap);
        va_end(ap);
    }
    return -1;
}

int ac_skill_ok(ac_skill_result_t *res, json_t *output, const char *branch)
{
    res->output = output;
    snprintf(res->branch, sizeof(res->branch), "%s", branch != NULL ? branch : "on_success");
    return 0;
}

int64_t ac_skill_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int64_t ac_skill_ms_left(const ac_skill_ctx_t *ctx)
{
    int64_t left = ctx->deadline_ms - ac_skill_now_ms();
    return left > 0 ? left : 0;
}

char *ac_skill_input_text(const json_t *input)
{
    if (input == NULL || json_is_null(input))
        return ac_strdup("");
    if (json_is_string(input))
        return ac_strndup(json_string_value(input), json_string_length(input));
    char *s = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
    char *copy = ac_strdup(s != NULL ? s : "");
    free(s);
    return copy;
}

const char *ac_skill_config_str(const json_t *config, const char *key)
{
    json_t *v = json_object_get(config, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
