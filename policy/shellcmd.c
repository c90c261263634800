/* policy/shellcmd.c - decides whether a shell-skill command may run and turns it into an argv (shellcmd.h).
 *
 * The original (reference 5.7) checked a word-boundary whitelist and a metacharacter blocklist on the raw string and
 * split it with OptionParser.split/1. Both checks are kept in its order with its error codes, and everything that
 * let a whitelisted prefix reach another program is closed here: the parsed argv[0] must be the whitelisted word
 * itself, never a path; bytes outside printable ASCII are refused; git is held to read-only subcommands with no
 * option that writes a file or starts a program. No I/O and no allocation: a hostile command costs a bounded,
 * caller-provided buffer. */
#include "policy/shellcmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Shell metacharacters refused even when the configured blocklist leaves them out (an admin may shorten it): none
 * of them means anything without a shell, but a command holding one was written for a shell, so it is refused
 * rather than run with a literal "&" or "${IFS}" argument. Checked after the configured blocklist, so the element
 * the original reported stays the one reported. */
static const char *const builtin_blocklist[] = {";", "&", "|", "`", "$", "<", ">", "\n", "\r"};

/* git subcommands that only read the repository. */
static const char *const git_subcommands[] = {"status", "log", "diff", "show", "branch", "rev-parse"};

/* Long options refused after any git subcommand: they write files (--output*), run programs (--ext-diff,
 * --textconv, --exec, --upload-pack, --help starts man and a pager) or read outside the repository (--no-index).
 * Any unambiguous abbreviation git would accept ("--outp") is refused too. */
static const char *const git_forbidden_long[] = {
    "--output", "--output-directory", "--ext-diff", "--textconv", "--no-index", "--exec", "--upload-pack", "--help",
};
/* Letters refused in a single-dash option (alone or bundled, "-o" or "-po"). */
static const char git_forbidden_short[] = "o";

/* `git branch` may only list. */
static const char *const git_branch_forbidden_long[] = {
    "--delete", "--move", "--copy", "--set-upstream-to", "--unset-upstream", "--edit-description", "--force",
};
static const char git_branch_forbidden_short[] = "dDmMcCuf";

/* Other whitelisted programs' options that read an arbitrary file and echo its content: `date -f FILE` prints every
 * line it cannot parse, so `date -f /path/to/.env` would show a secret the command's user can read. */
static const struct {
    const char *prog;
    const char *const longs[2];
    const char *shorts;
} program_forbidden[] = {
    {"date", {"--file", NULL}, "f"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const code_names[] = {
    [AC_SHELLCMD_OK] = "ok",
    [AC_SHELLCMD_EMPTY] = "no_command",
    [AC_SHELLCMD_NOT_WHITELISTED] = "not_whitelisted",
    [AC_SHELLCMD_BLOCKED_METACHAR] = "blocked_metachar",
    [AC_SHELLCMD_PARSE_ERROR] = "parse_error",
    [AC_SHELLCMD_NON_ASCII] = "non_ascii",
    [AC_SHELLCMD_GIT_NOT_ALLOWED] = "git_not_allowed",
    [AC_SHELLCMD_BAD_LIST] = "invalid_setting",
    [AC_SHELLCMD_OPTION_NOT_ALLOWED] = "option_not_allowed",
};

const char *ac_shellcmd_code_name(ac_shellcmd_code_t code)
{
    return (unsigned)code < COUNT(code_names) ? code_names[code] : "unknown";
}

/* Fills v with a code and a printf-style sentence; returns -1. */
__attribute__((format(printf, 3, 4))) static int refuse(ac_shellcmd_verdict_t *v, ac_shellcmd_code_t code,
                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    v->code = code;
    vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
    va_end(ap);
    return -1;
}

/* Fills v with a code and `n` bytes of data as the detail, control and non-ASCII bytes escaped as \n, \t, \r or \xNN
 * and cut with "..." when too long, so the detail is always printable. Returns -1. */
static int refuse_with(ac_shellcmd_verdict_t *v, ac_shellcmd_code_t code, const char *data, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, room = sizeof(v->detail) - 4; /* keep space for "..." and the NUL */
    v->code = code;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)data[i];
        char esc[5];
        size_t k = 0;
        if (c == '\n' || c == '\t' || c == '\r') {
            esc[k++] = '\\';
            esc[k++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
        } else if (c < 0x20 || c >= 0x7f) {
            esc[k++] = '\\';
            esc[k++] = 'x';
            esc[k++] = hex[c >> 4];
            esc[k++] = hex[c & 15];
        } else {
            esc[k++] = (char)c;
        }
        if (o + k > room) {
            memcpy(v->detail + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(v->detail + o, esc, k);
        o += k;
    }
    v->detail[o] = '\0';
    return -1;
}

bool ac_shellcmd_prefix_matches(const char *cmd, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(cmd, prefix, n) != 0)
        return false;
    return cmd[n] == '\0' || cmd[n] == ' ' || cmd[n] == '/';
}

static int list_check(const char *const *list, size_t n, bool whitelist, ac_shellcmd_verdict_t *v)
{
    const char *name = whitelist ? "shell.whitelist" : "shell.blocklist";
    if (n > AC_SHELLCMD_LIST_MAX)
        return refuse(v, AC_SHELLCMD_BAD_LIST, "%s has more than %d entries", name, AC_SHELLCMD_LIST_MAX);
    if (n > 0 && list == NULL)
        return refuse(v, AC_SHELLCMD_BAD_LIST, "%s is missing", name);
    for (size_t i = 0; i < n; i++) {
        const char *e = list[i];
        if (e == NULL)
            return refuse(v, AC_SHELLCMD_BAD_LIST, "%s entry %zu is missing", name, i);
        size_t len = strnlen(e, AC_SHELLCMD_ENTRY_MAX + 1);
        if (len == 0 || len > AC_SHELLCMD_ENTRY_MAX)
            return refuse(v, AC_SHELLCMD_BAD_LIST, "%s entry %zu is empty or longer than %d bytes", name, i,
                          AC_SHELLCMD_ENTRY_MAX);
        if (whitelist && e[0] == ' ')
            return refuse(v, AC_SHELLCMD_BAD_LIST, "%s entry %zu starts with a blank", name, i);
        for (size_t k = 0; k < len; k++) {
            unsigned char c = (unsigned char)e[k];
            bool ok = c >= 0x20 && c < 0x7f;
            if (!whitelist && (c == '\n' || c == '\r' || c == '\t'))
                ok = true;
            if (!ok)
                return refuse(v, AC_SHELLCMD_BAD_LIST, "%s entry %zu holds a control or non-ASCII byte", name, i);
        }
    }
    return 0;
}

int ac_shellcmd_lists_check(const ac_shellcmd_lists_t *lists, ac_shellcmd_verdict_t *v)
{
    v->code = AC_SHELLCMD_OK;
    v->detail[0] = '\0';
    if (lists == NULL)
        return refuse(v, AC_SHELLCMD_BAD_LIST, "no whitelist or blocklist");
    if (list_check(lists->whitelist, lists->n_whitelist, true, v) < 0)
        return -1;
    return list_check(lists->blocklist, lists->n_blocklist, false, v);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Step 4: splits out->cmd into out->buf/argv. Control characters were not yet refused: that happens here. */
static int split_words(ac_shellcmd_t *out, ac_shellcmd_verdict_t *v)
{
    const char *s = out->cmd;
    char *w = out->buf;
    bool in_word = false;
    out->argc = 0;
    for (size_t i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return refuse(v, AC_SHELLCMD_PARSE_ERROR, "control character 0x%02x", c);
    }
    for (size_t i = 0;;) {
        char c = s[i];
        if (c == '\0' || c == ' ') {
            if (in_word) {
                *w++ = '\0';
                in_word = false;
            }
            if (c == '\0')
                break;
            i++;
            continue;
        }
        if (!in_word) {
            if (out->argc == AC_SHELLCMD_MAX_ARGS)
                return refuse(v, AC_SHELLCMD_PARSE_ERROR, "more than %d arguments", AC_SHELLCMD_MAX_ARGS);
            out->argv[out->argc++] = w;
            in_word = true;
        }
        if (c == '\'') {
            const char *end = strchr(s + i + 1, '\'');
            if (end == NULL)
                return refuse(v, AC_SHELLCMD_PARSE_ERROR, "unterminated single quote");
            size_t n = (size_t)(end - (s + i + 1));
            memcpy(w, s + i + 1, n);
            w += n;
            i += n + 2;
        } else if (c == '"') {
            for (i++;; i++) {
                if (s[i] == '\0')
                    return refuse(v, AC_SHELLCMD_PARSE_ERROR, "unterminated double quote");
                if (s[i] == '"')
                    break;
                if (s[i] == '\\' && s[i + 1] != '\0' && strchr("\"\\$`", s[i + 1]) != NULL)
                    i++;
                *w++ = s[i];
            }
            i++;
        } else if (c == '\\') {
            if (s[i + 1] == '\0')
                return refuse(v, AC_SHELLCMD_PARSE_ERROR, "trailing backslash");
            *w++ = s[i + 1];
            i += 2;
        } else {
            *w++ = c;
            i++;
        }
    }
    out->argv[out->argc] = NULL;
    if (out->argc == 0)
        return refuse(v, AC_SHELLCMD_PARSE_ERROR, "no words");
    return 0;
}

/* True when `arg` is a long option whose name (before '=') is one of names[] or an abbreviation git would expand
 * to one of them. */
static bool long_option_in(const char *arg, const char *const *names, size_t n)
{
    if (strncmp(arg, "--", 2) != 0)
        return false;
    size_t len = strcspn(arg, "=");
    if (len <= 2)
        return false; /* "--" ends the options */
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], arg, len) == 0) /* arg's name is a prefix of (or equals) names[i] */
            return true;
    }
    return false;
}

/* True when `arg` is a single-dash option ("-x", "-xyz") holding any letter of `letters`. */
static bool short_option_has(const char *arg, const char *letters)
{
    if (arg[0] != '-' || arg[1] == '-' || arg[1] == '\0')
        return false;
    return strpbrk(arg + 1, letters) != NULL;
}

/* Step 6. */
static int git_check(const ac_shellcmd_t *c, ac_shellcmd_verdict_t *v)
{
    if (c->argc < 2)
        return refuse(v, AC_SHELLCMD_GIT_NOT_ALLOWED, "git needs one of the read-only subcommands");
    const char *sub = c->argv[1];
    if (sub[0] == '-')
        return refuse(v, AC_SHELLCMD_GIT_NOT_ALLOWED, "git global options are not allowed");
    bool known = false;
    for (size_t i = 0; i < COUNT(git_subcommands); i++)
        known = known || strcmp(sub, git_subcommands[i]) == 0;
    if (!known)
        return refuse(v, AC_SHELLCMD_GIT_NOT_ALLOWED, "git subcommand not allowed (read-only ones only)");
    bool branch = strcmp(sub, "branch") == 0;
    for (size_t i = 2; i < c->argc; i++) {
        const char *a = c->argv[i];
        if (long_option_in(a, git_forbidden_long, COUNT(git_forbidden_long)) ||
            short_option_has(a, git_forbidden_short))
            return refuse(v, AC_SHELLCMD_GIT_NOT_ALLOWED, "git option writes files or runs programs");
        if (!branch)
            continue;
        if (long_option_in(a, git_branch_forbidden_long, COUNT(git_branch_forbidden_long)) ||
            short_option_has(a, git_branch_forbidden_short))
            return refuse(v, AC_SHELLCMD_GIT_NOT_ALLOWED, "git branch may only list branches");
        if (a[0] != '-' || strcmp(a, "-") == 0 || strcmp(a, "--") == 0)
            return refuse(v, AC_SHELLCMD_GIT_NOT_ALLOWED, "git branch with a name would create a branch");
    }
    return 0;
}

int ac_shellcmd_check(const char *command, size_t len, const ac_shellcmd_lists_t *lists, ac_shellcmd_t *out,
                      ac_shellcmd_verdict_t *v)
{
    if (ac_shellcmd_lists_check(lists, v) < 0)
        return -1;
    if (command == NULL)
        return refuse(v, AC_SHELLCMD_EMPTY, "no command");

    /* 1. Sanity of the raw bytes, before any string function could stop at a NUL. */
    if (len > AC_SHELLCMD_MAX_LEN)
        return refuse(v, AC_SHELLCMD_PARSE_ERROR, "command longer than %d bytes", AC_SHELLCMD_MAX_LEN);
    if (memchr(command, '\0', len) != NULL)
        return refuse(v, AC_SHELLCMD_PARSE_ERROR, "command holds a NUL byte");
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)command[i] >= 0x80)
            return refuse(v, AC_SHELLCMD_NON_ASCII, "command holds a non-ASCII byte at offset %zu", i);
    }
    size_t start = 0, end = len;
    while (start < end && is_blank(command[start]))
        start++;
    while (end > start && is_blank(command[end - 1]))
        end--;
    if (start == end)
        return refuse(v, AC_SHELLCMD_EMPTY, "empty command");
    memcpy(out->cmd, command + start, end - start);
    out->cmd[end - start] = '\0';
    const char *cmd = out->cmd;

    /* 2. Whitelist with the word-boundary rule. */
    bool matched = false;
    for (size_t i = 0; i < lists->n_whitelist && !matched; i++)
        matched = ac_shellcmd_prefix_matches(cmd, lists->whitelist[i]);
    if (!matched)
        return refuse_with(v, AC_SHELLCMD_NOT_WHITELISTED, cmd, strlen(cmd));

    /* 3. Blocklist: the first element found, in list order. */
    for (size_t i = 0; i < lists->n_blocklist; i++) {
        if (strstr(cmd, lists->blocklist[i]) != NULL)
            return refuse_with(v, AC_SHELLCMD_BLOCKED_METACHAR, lists->blocklist[i], strlen(lists->blocklist[i]));
    }
    for (size_t i = 0; i < COUNT(builtin_blocklist); i++) {
        if (strstr(cmd, builtin_blocklist[i]) != NULL)
            return refuse_with(v, AC_SHELLCMD_BLOCKED_METACHAR, builtin_blocklist[i], strlen(builtin_blocklist[i]));
    }

    /* 4. Words. */
    if (split_words(out, v) < 0)
        return -1;

    /* 5. argv[0] is exactly the command word of a whitelist entry that matched, and never a path. */
    const char *prog = out->argv[0];
    if (strchr(prog, '/') != NULL)
        return refuse_with(v, AC_SHELLCMD_NOT_WHITELISTED, cmd, strlen(cmd));
    bool exact = false;
    for (size_t i = 0; i < lists->n_whitelist && !exact; i++) {
        const char *e = lists->whitelist[i];
        size_t word = strcspn(e, " ");
        exact = ac_shellcmd_prefix_matches(cmd, e) && strlen(prog) == word && strncmp(prog, e, word) == 0;
    }
    if (!exact)
        return refuse_with(v, AC_SHELLCMD_NOT_WHITELISTED, cmd, strlen(cmd));

    /* 6. git, and the few options of other programs that read files for us. */
    out->is_git = strcmp(prog, "git") == 0;
    if (out->is_git && git_check(out, v) < 0)
        return -1;
    for (size_t i = 0; i < COUNT(program_forbidden); i++) {
        if (strcmp(prog, program_forbidden[i].prog) != 0)
            continue;
        size_t nl = 0;
        while (nl < COUNT(program_forbidden[i].longs) && program_forbidden[i].longs[nl] != NULL)
            nl++;
        for (size_t k = 1; k < out->argc; k++) {
            if (strcmp(out->argv[k], "--") == 0)
                break; /* operands from here on */
            if (long_option_in(out->argv[k], program_forbidden[i].longs, nl) ||
                short_option_has(out->argv[k], program_forbidden[i].shorts))
                return refuse(v, AC_SHELLCMD_OPTION_NOT_ALLOWED, "%s option reads a file", prog);
        }
    }

    v->code = AC_SHELLCMD_OK;
    v->detail[0] = '\0';
    return 0;
}
