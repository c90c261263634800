/* skills/jail_main.c - alexclaw-sandbox, the SafeExecutor helper (issue 7): runs one dynamic skill call, or reads
 * one skill's declaration, in a jail, and talks to the node only through the SkillAPI channel (skills/channel.h)
 * on fd 0 (from the node) and fd 1 (to the node).
 *
 * The node starts it with posix_spawn (skills/sandbox.c), an empty environment and stderr on /dev/null:
 *     alexclaw-sandbox [--uid UID --gid GID]
 * Order of events: close every other descriptor; switch to UID/GID when started as root; read the start message
 *     {"mode": "declare" | "run", "name": "<skill>", "source": "<Lua text>", "args": {...},
 *      "memory": <bytes>, "cpu_seconds": <s>, "wall_ms": <ms>}
 * set the resource limits; build the Lua state (skills/jail_lua.h); install the seccomp filter (skills/jail_sys.h);
 * only then parse and run the skill's source. The last message is always one "done" frame; the node kills the
 * process if it has not sent one by the wall-clock deadline.
 *
 * Built without sanitizers (their runtimes need system calls the filter forbids) and linked with nothing of the
 * node but the channel codec. */
#include "policy/error.h"
#include "skills/channel.h"
#include "skills/jail_lua.h"
#include "skills/jail_sys.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct jail {
    int64_t next_id;
} jail_t;

static int read_full(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const uint8_t *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One frame from the node, as JSON. NULL on EOF or garbage. */
static json_t *read_msg(void)
{
    uint8_t hdr[4];
    if (read_full(0, hdr, 4) != 0)
        return NULL;
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (n == 0 || n > AC_SKILLS_CHANNEL_FRAME_MAX)
        return NULL;
    uint8_t *buf = malloc(n);
    if (buf == NULL || read_full(0, buf, n) != 0) {
        free(buf);
        return NULL;
    }
    json_t *v = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static int send_msg(const json_t *msg)
{
    uint8_t *frame;
    size_t len;
    int rc = ac_skills_channel_encode(msg, &frame, &len);
    if (rc != 0)
        return rc;
    rc = write_full(1, frame, len) == 0 ? 0 : -AC_EIO;
    free(frame);
    return rc;
}

static void send_error(const char *msg)
{
    json_t *d = json_pack("{s:b, s:b, s:s}", "done", 1, "ok", 0, "error", msg != NULL && *msg ? msg : "failed");
    if (d == NULL) /* not UTF-8 (it quotes the skill): say so without it */
        d = json_pack("{s:b, s:b, s:s}", "done", 1, "ok", 0, "error", "failed (an unprintable error)");
    (void)send_msg(d);
    json_decref(d);
}

static void expired(void *ud, const char *why)
{
    (void)ud;
    send_error(why);
    _exit(0);
}

/* The SkillAPI transport: a call frame out, its reply in. */
static int api_call(void *ud, const ac_skills_channel_fn_t *fn, json_t *args, json_t **result, char *err, size_t errcap)
{
    jail_t *j = ud;
    *result = NULL;
    int64_t id = ++j->next_id;
    json_t *call = json_pack("{s:I, s:s, s:O}", "id", (json_int_t)id, "call", fn->name, "args", args);
    int rc = call != NULL ? send_msg(call) : -AC_EINVAL;
    json_decref(call);
    if (rc == -AC_ETOOLONG) {
        snprintf(err, errcap, "arguments too large (over 1 MiB)");
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errcap, "cannot encode the arguments");
        return -1;
    }
    json_t *reply = read_msg();
    json_t *rid = json_object_get(reply, "id"), *ok = json_object_get(reply, "ok");
    if (!json_is_integer(rid) || json_integer_value(rid) != id || !json_is_boolean(ok)) {
        json_decref(reply);
        expired(NULL, "sandbox: the node's reply was lost");
    }
    if (json_is_true(ok)) {
        json_t *r = json_object_get(reply, "result");
        *result = r != NULL ? json_incref(r) : NULL;
        json_decref(reply);
        return 0;
    }
    const char *e = json_string_value(json_object_get(reply, "error"));
    snprintf(err, errcap, "%s", e != NULL ? e : "error");
    json_decref(reply);
    return -1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long arg_id(const char *s)
{
    char *end;
    errno = 0;
    long v = s != NULL ? strtol(s, &end, 10) : -1;
    return s != NULL && errno == 0 && *end == '\0' && end != s && v > 0 && v < 0x7fffffff ? v : -1;
}

int main(int argc, char **argv)
{
    long uid = -1, gid = -1;
    if (argc == 5 && strcmp(argv[1], "--uid") == 0 && strcmp(argv[3], "--gid") == 0) {
        uid = arg_id(argv[2]);
        gid = arg_id(argv[4]);
    }
    if (!(argc == 1 || (argc == 5 && uid > 0 && gid > 0)) || isatty(0)) {
        fprintf(stderr, "alexclaw-sandbox: started by the node only (usage: alexclaw-sandbox [--uid N --gid N], "
                        "speaking the SkillAPI channel on fds 0 and 1)\n");
        return 2;
    }
    ac_skills_jail_sys_close_fds();
    ac_errmsg_t err = {{0}};
    if (ac_skills_jail_sys_drop_user(uid > 0 ? (uid_t)uid : 0, gid > 0 ? (gid_t)gid : 0, &err) != 0) {
        send_error(err.msg);
        return 1;
    }
    json_t *start = read_msg();
    const char *mode = json_string_value(json_object_get(start, "mode"));
    const char *name = json_string_value(json_object_get(start, "name"));
    json_t *source = json_object_get(start, "source");
    json_t *args = json_object_get(start, "args");
    json_int_t memory = json_integer_value(json_object_get(start, "memory"));
    json_int_t cpu = json_integer_value(json_object_get(start, "cpu_seconds"));
    json_int_t wall = json_integer_value(json_object_get(start, "wall_ms"));
    bool run = mode != NULL && strcmp(mode, "run") == 0;
    if (mode == NULL || (!run && strcmp(mode, "declare") != 0) || name == NULL || !json_is_string(source) ||
        (run && !json_is_object(args)) || memory < 1024 * 1024 || memory > (json_int_t)1 << 32 || cpu < 1 ||
        cpu > 3600 || wall < 1 || wall > 3600 * 1000) {
        json_decref(start);
        send_error("sandbox: bad start message");
        return 1;
    }
    int64_t deadline = now_ms() + wall;
    /* one CPU second more than the wall-clock limit: the hook reports a Lua loop first; SIGXCPU ends loops in C */
    ac_skills_jail_limits_t lim = {.cpu_seconds = (unsigned)cpu + 1,
                                   .address_space = (size_t)memory + (size_t)256 * 1024 * 1024};
    ac_skills_jail_lua_t *J = NULL;
    jail_t j = {0};
    if (ac_skills_jail_sys_limit(&lim, &err) != 0 ||
        ac_skills_jail_lua_new((size_t)memory, deadline, expired, NULL, &J, &err) != 0) {
        json_decref(start);
        send_error(err.msg);
        return 1;
    }
    if (run)
        ac_skills_jail_lua_api(J, api_call, &j);
    if (ac_skills_jail_sys_lock(&err) != 0) {
        ac_skills_jail_lua_free(J);
        json_decref(start);
        send_error(err.msg);
        return 1;
    }
    /* From here on, nothing but the channel. */
    json_t *done = NULL;
    if (ac_skills_jail_lua_load(J, name, json_string_value(source), json_string_length(source), &err) == 0) {
        if (!run) {
            json_t *decl = NULL;
            if (ac_skills_jail_lua_declare(J, &decl, &err) == 0)
                done = json_pack("{s:b, s:b, s:o}", "done", 1, "ok", 1, "output", decl);
        } else {
            json_t *output = NULL;
            char branch[AC_SKILLS_CHANNEL_BRANCH_MAX];
            if (ac_skills_jail_lua_run(J, args, &output, branch, sizeof(branch), &err) == 0)
                done = json_pack("{s:b, s:b, s:o?, s:s}", "done", 1, "ok", 1, "output", output, "branch", branch);
        }
    }
    /* Answer before the state is closed: finalizers that lua_close would run get no say in the result, and
     * the process ends right after (its memory goes with it). */
    int rc = 0;
    if (done == NULL) {
        send_error(err.msg);
    } else {
        rc = send_msg(done);
        if (rc == -AC_ETOOLONG)
            send_error("output too large (over 1 MiB)");
    }
    _exit(0);
}
