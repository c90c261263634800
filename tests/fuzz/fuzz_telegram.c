/* tests/fuzz/fuzz_telegram.c - libFuzzer target for node/tg_proto.c: arbitrary bytes as a Bot API answer body (read
 * in place, with no NUL after it) into the getUpdates parser, the error-answer parser and answer_ok; then, as a
 * NUL-terminated copy, as a message text into the command parser and the splitter (at several piece sizes).
 *
 * Invariants (abort() on any violation):
 *   updates: 0 or -AC_EINVAL; a refused answer leaves nothing in out and says why; an accepted one holds at most
 *            AC_NODE_TG_MAX_UPDATES updates in ascending update_id order, none negative; a text exactly when
 *            is_message, and then a chat id and a text of at most AC_NODE_TG_TEXT_MAX bytes; fields NUL-terminated
 *            within their arrays, the sender's name without control characters;
 *   error:   0 or -AC_EINVAL; retry_after within 0..3600; the description NUL-terminated, without control
 *            characters, and empty with retry_after 0 when refused;
 *   the three agree: an accepted getUpdates answer is "ok", an accepted error answer is not;
 *   command: a kind from the enum with a name; the argument inside the text, trimmed on both sides; a code is six
 *            digits;
 *   split:   as many calls as the count returned, pieces one after the other that give back the text exactly, each
 *            at most max bytes and non-empty (one empty piece for an empty text); for a text that is well-formed
 *            UTF-8 in structure, no piece starts inside a sequence.
 * Built as `fuzz_telegram` (libFuzzer) and as `replay_telegram` (tests/fuzz/replay.c), which runs the seed corpus
 * under ctest. Seeds in corpus/telegram/: getUpdates answers (messages, other updates, refused shapes), error answers
 * and command lines. */
#include "node/tg_proto.h"
#include "policy/error.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_telegram: invariant violated: %s\n", what);
        abort();
    }
}

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static bool has_control(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Whether s (len bytes) is UTF-8 in structure: every lead byte followed by as many continuation bytes as it says,
 * and no continuation byte elsewhere (overlong forms and surrogates are not looked at). */
static bool utf8_shaped(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80 ? 1 : c >= 0xF8 ? 0 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (need == 0 || i + need > len)
            return false;
        for (size_t k = 1; k < need; k++)
            if (!is_cont((unsigned char)s[i + k]))
                return false;
        i += need;
    }
    return true;
}

static int check_updates(const uint8_t *data, size_t size)
{
    ac_node_tg_updates_t u = {(ac_node_tg_update_t *)&u, 12345}; /* garbage the parser must overwrite */
    ac_errmsg_t err = {{0}};
    int ret = ac_node_tg_parse_updates((const char *)data, size, &u, &err);

    check(ret == 0 || ret == -AC_EINVAL, "parse_updates returns 0 or EINVAL");
    check(terminated(err.msg, sizeof(err.msg)), "the error message is terminated");
    if (ret != 0) {
        check(u.v == NULL && u.n == 0, "a refused answer leaves nothing");
        check(err.msg[0] != '\0', "a refused answer says why");
        return ret;
    }
    check(u.n <= AC_NODE_TG_MAX_UPDATES, "at most MAX_UPDATES updates");
    check((u.n == 0) == (u.v == NULL), "a list exactly when there are updates");
    for (size_t i = 0; i < u.n; i++) {
        const ac_node_tg_update_t *x = &u.v[i];
        check(x->update_id >= 0, "update ids are not negative");
        check(i == 0 || u.v[i - 1].update_id <= x->update_id, "updates come sorted");
        check(terminated(x->chat_id, sizeof(x->chat_id)), "chat_id is terminated");
        check(terminated(x->from, sizeof(x->from)), "from is terminated");
        check(!has_control(x->from), "from has no control characters");
        check(x->is_message == (x->text != NULL), "a text exactly for messages");
        if (x->is_message) {
            check(x->chat_id[0] != '\0', "a message has a chat id");
            check(strlen(x->text) <= AC_NODE_TG_TEXT_MAX, "a message's text is within the limit");
        }
    }
    ac_node_tg_updates_free(&u);
    check(u.v == NULL && u.n == 0, "free empties the list");
    return 0;
}

static int check_error(const uint8_t *data, size_t size)
{
    int ra = -12345;
    char desc[AC_NODE_TG_DESC_MAX];
    memset(desc, 'Z', sizeof(desc));
    int ret = ac_node_tg_parse_error((const char *)data, size, &ra, desc);

    check(ret == 0 || ret == -AC_EINVAL, "parse_error returns 0 or EINVAL");
    check(ra >= 0 && ra <= 3600, "retry_after within 0..3600");
    check(terminated(desc, sizeof(desc)), "the description is terminated");
    check(!has_control(desc), "the description has no control characters");
    if (ret != 0)
        check(ra == 0 && desc[0] == '\0', "a refused error answer leaves nothing");
    return ret;
}

static void check_command(const char *text)
{
    size_t tl = strlen(text);
    ac_node_tg_cmd_t c;
    memset(&c, 0xA5, sizeof(c));
    ac_node_tg_cmd_parse(text, &c);

    check((int)c.kind >= (int)AC_TG_CMD_TEXT && (int)c.kind <= (int)AC_TG_CMD_RATE, "a kind from the enum");
    check(ac_node_tg_cmd_name(c.kind) != NULL, "every kind has a name");
    check(c.arg >= text && c.arg <= text + tl, "the argument points into the text");
    check(c.arg_len <= (size_t)(text + tl - c.arg), "the argument ends within the text");
    check(c.arg_len == 0 || (!is_space(c.arg[0]) && !is_space(c.arg[c.arg_len - 1])), "the argument is trimmed");
    for (const char *p = c.arg + c.arg_len; p < text + tl; p++)
        check(is_space(*p), "only white space follows the argument");
    if (c.kind == AC_TG_CMD_CODE)
        check(c.arg_len == 6 && strspn(c.arg, "0123456789") >= 6, "a code is six digits");
    if (c.kind == AC_TG_CMD_TEXT || c.kind == AC_TG_CMD_CODE) {
        /* free text and codes keep the whole trimmed text */
        const char *t = text;
        while (is_space(*t))
            t++;
        check(c.arg == t, "free text starts at the first non-space");
        check(c.arg_len == 0 || c.arg[0] != '/', "free text does not start with a slash");
    }
    ac_node_tg_cmd_t n;
    ac_node_tg_cmd_parse(NULL, &n);
    check(n.kind == AC_TG_CMD_TEXT && n.arg != NULL && n.arg_len == 0, "NULL is empty free text");
}

typedef struct cover {
    const char *text;
    size_t len, off, calls, max;
    bool bad;    /* a piece out of place, empty, or too long */
    bool inside; /* a piece after the first starts on a continuation byte */
} cover_t;

static void piece(void *arg, const char *p, size_t n)
{
    cover_t *c = arg;
    if (p != c->text + c->off || n > c->max || n > c->len - c->off || (n == 0 && c->len != 0)) {
        c->bad = true;
        return;
    }
    if (c->off > 0 && c->off < c->len && is_cont((unsigned char)*p))
        c->inside = true;
    c->off += n;
    c->calls++;
}

static void check_split(const char *text, size_t max)
{
    cover_t c = {text, strlen(text), 0, 0, max, false, false};
    size_t pieces = ac_node_tg_split(text, max, piece, &c);

    check(!c.bad, "pieces follow one another, non-empty, within max");
    check(pieces == c.calls, "the count returned is the number of calls");
    check(c.off == c.len, "the pieces give back the whole text");
    if (c.len == 0)
        check(pieces == 1, "one empty piece for an empty text");
    else
        check(pieces >= (c.len + max - 1) / max, "no fewer pieces than the length needs");
    if (utf8_shaped(text, c.len))
        check(!c.inside, "no piece of a UTF-8 text starts inside a sequence");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t maxes[] = {8, 9, 13, 64, 4096};
    int ru = check_updates(data, size);
    int re = check_error(data, size);
    bool ok = ac_node_tg_answer_ok((const char *)data, size);

    if (ru == 0)
        check(ok, "an accepted getUpdates answer is ok");
    if (re == 0)
        check(!ok, "an accepted error answer is not ok");

    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    check_command(text);
    for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++)
        check_split(text, maxes[i]);
    free(text);
    return 0;
}
