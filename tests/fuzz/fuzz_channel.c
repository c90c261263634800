/* tests/fuzz/fuzz_channel.c - libFuzzer target for skills/channel.c: arbitrary bytes as a stream of frames from a
 * sandboxed skill, each payload parsed as a message; and, for what parses, a reply built and read back.
 *
 * Invariants (abort() on a violation): the frame reader consumes within the buffer and never more than a frame's
 * declared size; a refused payload leaves no args, output or function; an accepted call has an id in 1..2^31-1, a
 * known function and an object for args; an accepted done message has a lower-case branch when ok and an error
 * when not; a reply frame reads back as one frame of exactly its length. Built as `fuzz_channel` (libFuzzer) and as
 * `replay_channel` (tests/fuzz/replay.c), which runs the seed corpus under ctest. */
#include "skills/channel.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_channel: invariant violated: %s\n", what);
        abort();
    }
}

static void one(const uint8_t *p, size_t n)
{
    ac_skills_channel_msg_t m;
    ac_errmsg_t err = {{0}};
    int rc = ac_skills_channel_parse(p, n, &m, &err);
    if (rc != 0) {
        check(m.args == NULL && m.output == NULL && m.fn == NULL, "a refusal leaves nothing behind");
        check(err.msg[0] != '\0', "a refusal says why");
        return;
    }
    if (m.kind == AC_SKILLS_CHANNEL_CALL) {
        check(m.id >= 1 && m.id <= INT32_MAX, "call id in range");
        check(m.fn != NULL && ac_skills_channel_fn_find(m.fn->name) == m.fn, "a known function");
        check(json_is_object(m.args), "args is an object");
        uint8_t *f = NULL;
        size_t fl = 0;
        if (ac_skills_channel_reply(m.id, true, m.args, NULL, &f, &fl) == 0) {
            const uint8_t *pl;
            size_t pn, used;
            check(ac_skills_channel_frame(f, fl, &pl, &pn, &used) == 0 && used == fl, "a reply is one frame");
            free(f);
        }
    } else {
        check(m.kind == AC_SKILLS_CHANNEL_DONE, "a known kind");
        if (m.ok)
            check(m.branch[0] != '\0' && strspn(m.branch, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(m.branch),
                  "a lower-case branch");
        else
            check(m.error[0] != '\0', "a failure says why");
    }
    ac_skills_channel_msg_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the input as one payload, then as a stream of frames */
    one(data, size);
    size_t off = 0;
    for (int frames = 0; frames < 64 && off < size; frames++) {
        const uint8_t *p;
        size_t n, used;
        int rc = ac_skills_channel_frame(data + off, size - off, &p, &n, &used);
        if (rc != 0)
            break;
        check(used == n + 4 && used <= size - off && p == data + off + 4, "a frame is within the input");
        one(p, n);
        off += used;
    }
    return 0;
}
