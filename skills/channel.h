/* skills/channel.h - the SkillAPI channel's messages: what a sandboxed dynamic skill sends the node over its pipe,
 * and what the node answers. Pure codec (no I/O), fuzzed (tests/fuzz/fuzz_channel.c): everything that comes from the
 * sandbox is hostile.
 *
 * A frame is a 4-byte big-endian length (1 .. AC_SKILLS_CHANNEL_FRAME_MAX) and that many bytes of one JSON object.
 *   call   (skill -> node)  {"id": N, "call": "<function>", "args": {...}}  N in 1 .. 2^31-1; the function is one of
 *                           the SkillAPI's (reference 5.3), each needing one permission
 *   done   (skill -> node)  {"done": true, "ok": true, "output": <any>, "branch"?: "on_..."} or
 *                           {"done": true, "ok": false, "error": "<text>"}
 *   reply  (node -> skill)  {"id": N, "ok": true, "result": <any>} or {"id": N, "ok": false, "error": "<text>"}
 * Limits: a frame is at most 1 MiB, JSON nests at most AC_SKILLS_CHANNEL_DEPTH deep, no duplicate keys, no NUL in
 * strings; a message with any other key is refused (nothing is silently ignored). */
#ifndef AC_SKILLS_CHANNEL_H
#define AC_SKILLS_CHANNEL_H

#include "policy/error.h"
#include "policy/perm.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AC_SKILLS_CHANNEL_FRAME_MAX  (1024 * 1024)
#define AC_SKILLS_CHANNEL_DEPTH      32
#define AC_SKILLS_CHANNEL_BRANCH_MAX 64
#define AC_SKILLS_CHANNEL_ERROR_MAX  512

/* A SkillAPI function and the permission it needs. */
typedef struct ac_skills_channel_fn {
    const char *name;
    ac_policy_perms_t perm;
    /* The names, in order, under which the Lua function's positional arguments travel in "args" (NULL-terminated):
     * SkillAPI.http_get(url, options) sends {"url": ..., "options": ...}. */
    const char *params[4];
} ac_skills_channel_fn_t;

/* NULL when there is no such function. */
const ac_skills_channel_fn_t *ac_skills_channel_fn_find(const char *name);
/* The functions in a fixed order: i in 0 .. count-1 (NULL past the end). */
size_t ac_skills_channel_fn_count(void);
const ac_skills_channel_fn_t *ac_skills_channel_fn_at(size_t i);

/* Any JSON value as one frame (4-byte length + compact JSON). OUT: *frame (ac_malloc), *len. Returns 0,
 * -AC_ETOOLONG when it does not fit a frame, -AC_EINVAL when it cannot be encoded. */
int ac_skills_channel_encode(const json_t *msg, uint8_t **frame, size_t *len);

/* Finds a frame at the start of buf: 0 with *payload and *payload_len set and *consumed the frame's size; 1 when more
 * bytes are needed; -AC_ETOOLONG for a declared length over the limit, -AC_EINVAL for a zero length. */
int ac_skills_channel_frame(const uint8_t *buf, size_t len, const uint8_t **payload, size_t *payload_len,
                            size_t *consumed);

typedef enum {
    AC_SKILLS_CHANNEL_CALL = 0,
    AC_SKILLS_CHANNEL_DONE,
} ac_skills_channel_kind_t;

typedef struct ac_skills_channel_msg {
    ac_skills_channel_kind_t kind;
    /* call */
    int64_t id;
    const ac_skills_channel_fn_t *fn;
    json_t *args; /* an object (owned) */
    /* done */
    bool ok;
    json_t *output; /* owned; NULL when absent or not ok */
    char branch[AC_SKILLS_CHANNEL_BRANCH_MAX];
    char error[AC_SKILLS_CHANNEL_ERROR_MAX];
} ac_skills_channel_msg_t;

/* Parses one payload from the sandbox. Returns 0 or -AC_EINVAL (err says what, never echoing the payload). */
int ac_skills_channel_parse(const uint8_t *payload, size_t len, ac_skills_channel_msg_t *out, ac_errmsg_t *err);
void ac_skills_channel_msg_clear(ac_skills_channel_msg_t *m);

/* A reply frame: ok with result (may be NULL: JSON null) or not ok with error. OUT: *frame (ac_malloc), *len.
 * Returns 0, or -AC_ETOOLONG when the result does not fit a frame. */
int ac_skills_channel_reply(int64_t id, bool ok, const json_t *result, const char *error, uint8_t **frame, size_t *len);

#endif
