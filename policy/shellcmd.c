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
 * --textconv, --exec, --upload-pack, --help starts man and a pager) or read a file the caller names (--no-index,
 * --orderfile). Any unambiguous abbreviation git would accept ("--outp") is refused too. */
static const char *const git_forbidden_long[] = {
    "--output", "--output-directory", "--ext-diff", "--textconv",  "--no-index",
    "--exec",   "--upload-pack",      "--help",     "--orderfile",
};
/* Letters refused in a single-dash option (alone or bundled, "-o" or "-po"): -O<orderfile> reads a file. */
static const char git_forbidden_short[] = "oO";

/* `git branch` may only list. */
static const char *const git_branch_forbidden_long[] = {
    "--delete", "--move", "--copy", "--set-upstream-to", "--unset-upstream", "--edit-description", "--force",
};
static const char git_branch_forbidden_short[] = "dDmMcCuf";

/* `git status -v` shows a diff through the repository's textconv drivers, which status cannot turn off. */
static const char *const git_status_forbidden_long[] = {"--verbose"};
static const char git_status_forbidden_short[] = "v";

/* ps (procps-ng): SysV options (after one '-') that take a value, attached ("-upostgres") or in the next word. */
static const char ps_sysv_value_letters[] = "CDGOUgopqstu";

/* Programs with GNU getopt_long parsing whose options or operands we restrict (prog_check). A long option is
 * matched the way getopt_long does: exactly, or by an abbreviation; an abbreviation that could stand for a refused
 * option is refused even when it is ambiguous. Only options known to take a required argument make the next word
 * their value; anything unknown leaves the next word to be checked as an operand, which errs on refusing. */
typedef enum { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL } opt_arg_t;
typedef struct opt_long {
    const char *name; /* without the leading "--" */
    opt_arg_t arg;
    bool refused;
} opt_long_t;

typedef enum { OPERANDS_ANY, OPERANDS_NONE, OPERANDS_FORMAT_ONLY } operand_rule_t;

typedef struct prog_spec {
    const char *prog;
    const char *short_required; /* letters taking a required argument */
    const char *short_optional; /* letters taking an optional, attached argument */
    const char *short_refused;
    const opt_long_t *longs;
    size_t n_longs;
    operand_rule_t operands;
    const char *why_option;  /* the detail for a refused option */
    const char *why_operand; /* the detail for a refused operand */
} prog_spec_t;

/* GNU date: -s/--set and an operand other than +FORMAT set the clock; -f/--file reads a file and prints every line
 * it cannot parse, so `date -f /path/to/.env` would show a secret the command's user can read. */
static const opt_long_t date_longs[] = {
    {"date", ARG_REQUIRED, false},      {"debug", ARG_NONE, false},      {"file", ARG_REQUIRED, true},
    {"iso-8601", ARG_OPTIONAL, false},  {"resolution", ARG_NONE, false}, {"rfc-email", ARG_NONE, false},
    {"rfc-822", ARG_NONE, false},       {"rfc-2822", ARG_NONE, false},   {"rfc-3339", ARG_REQUIRED, false},
    {"reference", ARG_REQUIRED, false}, {"set", ARG_REQUIRED, true},     {"uct", ARG_NONE, false},
    {"utc", ARG_NONE, false},           {"universal", ARG_NONE, false},  {"help", ARG_NONE, false},
    {"version", ARG_NONE, false},
};

/* hostname (Debian's): a name operand, -F/--file and -b/--boot set the host (or NIS domain) name. */
static const opt_long_t hostname_longs[] = {
    {"alias", ARG_NONE, false},   {"all-fqdns", ARG_NONE, false}, {"all-ip-addresses", ARG_NONE, false},
    {"boot", ARG_NONE, true},     {"domain", ARG_NONE, false},    {"file", ARG_REQUIRED, true},
    {"fqdn", ARG_NONE, false},    {"help", ARG_NONE, false},      {"ip-address", ARG_NONE, false},
    {"long", ARG_NONE, false},    {"nis", ARG_NONE, false},       {"short", ARG_NONE, false},
    {"version", ARG_NONE, false}, {"yp", ARG_NONE, false},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const prog_spec_t prog_specs[] = {
    {"date", "dfrs", "I", "fs", date_longs, COUNT(date_longs), OPERANDS_FORMAT_ONLY,
     "date option sets the clock or reads a file", "date operand other than +FORMAT sets the clock"},
    {"hostname", "F", "", "Fb", hostname_longs, COUNT(hostname_longs), OPERANDS_NONE,
     "hostname option sets the host name or reads a file", "hostname with an argument sets the host name"},
};

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

/* A git operand that names a path outside the working directory: absolute, "~"-relative, or holding ".." (which
 * also covers "HEAD:../x" and revision ranges "A..B"; outside a repository, git diff compares any two paths
 * without --no-index, so an operand is as good as a file name). */
static bool unsafe_path_operand(const char *a)
{
    return a[0] == '/' || a[0] == '~' || strstr(a, "..") != NULL;
}

/* Step 6: git. */
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
    bool branch = strcmp(sub, "branch") == 0, status = strcmp(sub, "status") == 0;
    bool operands = false; /* after "--" */
    for (size_t i = 2; i < c->argc; i++) {
        const char *a = c->argv[i];
        if (long_option_in(a, git_forbidden_long, COUNT(git_forbidden_long)) ||
            short_option_has(a, git_forbidden_short))
            return refuse(v, AC_SHELLCMD_GIT_NOT_ALLOWED,
                          "git option writes files, reads a named file or runs programs");
        if (status && (long_option_in(a, git_status_forbidden_long, COUNT(git_status_forbidden_long)) ||
                       short_option_has(a, git_status_forbidden_short)))
            return refuse(v, AC_SHELLCMD_GIT_NOT_ALLOWED, "git status -v may run textconv programs");
        if (branch) {
            if (long_option_in(a, git_branch_forbidden_long, COUNT(git_branch_forbidden_long)) ||
                short_option_has(a, git_branch_forbidden_short))
                return refuse(v, AC_SHELLCMD_GIT_NOT_ALLOWED, "git branch may only list branches");
            if (a[0] != '-' || strcmp(a, "-") == 0 || strcmp(a, "--") == 0)
                return refuse(v, AC_SHELLCMD_GIT_NOT_ALLOWED, "git branch with a name would create a branch");
        }
        if (!operands && strcmp(a, "--") == 0) {
            operands = true;
            continue;
        }
        if ((operands || a[0] != '-') && unsafe_path_operand(a))
            return refuse(v, AC_SHELLCMD_GIT_NOT_ALLOWED,
                          "git may not name a path outside the scratch directory (absolute, '..' or '~')");
    }
    return 0;
}

/* Step 6: ps (procps-ng). The BSD modifier `e` ("ps e", "ps aux e", "ps eww", "ps axe") prints each process's
 * environment. procps parses the command line SysV-style first and, when that fails for any reason (an unknown
 * user in -u, -x without a personality, a bad format), parses the whole line again BSD-style, where single-dash
 * words count too: `ps -ex` shows environments. So after this check no word ps could read as BSD options holds an
 * 'e': a dashless word with one is refused (also as the value of an option, like `-u ex`, which the BSD re-parse
 * would read as options); in a single-dash word, 'e' is rewritten to its SysV synonym 'A' (all processes), which
 * BSD parsing refuses outright, and an attached value holding 'e' is refused. Words starting with "--" are GNU long
 * options, parsed the same way in both passes, and never carry `e`. */
static int ps_check(ac_shellcmd_t *c, ac_shellcmd_verdict_t *v)
{
    for (size_t i = 1; i < c->argc; i++) {
        char *a = c->argv[i];
        if (a[0] == '-' && a[1] == '-')
            continue;
        bool sysv = a[0] == '-' && ((a[1] >= 'a' && a[1] <= 'z') || (a[1] >= 'A' && a[1] <= 'Z'));
        if (!sysv) {
            if (strchr(a, 'e') != NULL)
                return refuse(v, AC_SHELLCMD_OPTION_NOT_ALLOWED,
                              "ps: a word holding 'e' could select the BSD modifier e, which shows environments");
            continue;
        }
        bool value = false; /* the rest of the word is an option's value */
        for (char *p = a + 1; *p != '\0'; p++) {
            if (value) {
                if (*p == 'e')
                    return refuse(v, AC_SHELLCMD_OPTION_NOT_ALLOWED,
                                  "ps: a word holding 'e' could select the BSD modifier e, which shows environments");
            } else if (*p == 'e') {
                *p = 'A'; /* -e and -A both select every process */
            } else if (strchr(ps_sysv_value_letters, *p) != NULL) {
                value = true;
            }
        }
    }
    return 0;
}

/* Step 6: a program with getopt_long parsing described by a prog_spec_t. */
static int prog_check(const ac_shellcmd_t *c, const prog_spec_t *sp, ac_shellcmd_verdict_t *v)
{
    bool operands = false; /* after "--" */
    for (size_t i = 1; i < c->argc; i++) {
        const char *a = c->argv[i];
        if (operands || a[0] != '-' || a[1] == '\0') {
            if (sp->operands == OPERANDS_NONE || (sp->operands == OPERANDS_FORMAT_ONLY && a[0] != '+'))
                return refuse(v, AC_SHELLCMD_OPTION_NOT_ALLOWED, "%s", sp->why_operand);
            continue;
        }
        if (strcmp(a, "--") == 0) {
            operands = true;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2;
            size_t len = strcspn(name, "=");
            const opt_long_t *exact = NULL;
            size_t matches = 0;
            bool refused = false, required = true;
            for (size_t k = 0; k < sp->n_longs; k++) {
                const opt_long_t *o = &sp->longs[k];
                if (strncmp(o->name, name, len) != 0)
                    continue;
                if (strlen(o->name) == len)
                    exact = o;
                matches++;
                refused = refused || o->refused;
                required = required && o->arg == ARG_REQUIRED;
            }
            if (exact != NULL) {
                matches = 1;
                refused = exact->refused;
                required = exact->arg == ARG_REQUIRED;
            }
            if (refused)
                return refuse(v, AC_SHELLCMD_OPTION_NOT_ALLOWED, "%s", sp->why_option);
            if (matches > 0 && required && name[len] != '=')
                i++; /* the next word is its value */
            continue;
        }
        for (const char *p = a + 1; *p != '\0'; p++) {
            if (strchr(sp->short_refused, *p) != NULL)
                return refuse(v, AC_SHELLCMD_OPTION_NOT_ALLOWED, "%s", sp->why_option);
            if (strchr(sp->short_required, *p) != NULL) {
                if (p[1] == '\0')
                    i++; /* the next word is its value */
                break;
            }
            if (strchr(sp->short_optional, *p) != NULL)
                break; /* the rest of the word is its value */
        }
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

    /* 6. git, ps, and the options and operands of other programs that read files or change the system. */
    out->is_git = strcmp(prog, "git") == 0;
    if (out->is_git && git_check(out, v) < 0)
        return -1;
    if (strcmp(prog, "ps") == 0 && ps_check(out, v) < 0)
        return -1;
    for (size_t i = 0; i < COUNT(prog_specs); i++) {
        if (strcmp(prog, prog_specs[i].prog) == 0 && prog_check(out, &prog_specs[i], v) < 0)
            return -1;
    }

    v->code = AC_SHELLCMD_OK;
    v->detail[0] = '\0';
    return 0;
}
