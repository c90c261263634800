/* policy/shellcmd.h - the shell skill's command checks: whitelist, blocklist, argv parsing and our extra rules.
 *
 * Pure logic, no I/O and no heap: the parsed argv lives in a fixed-size ac_shellcmd_t the caller provides. The skill
 * (skills/shell.c) runs the result with execve on a path resolved in a fixed PATH; nothing here ever reaches a shell.
 *
 * ac_shellcmd_check() applies, in this order (the first failure is reported):
 *   1. input sanity: at most AC_SHELLCMD_MAX_LEN bytes, no NUL byte (parse_error); no byte >= 0x80 (non_ascii), so
 *      unicode look-alikes (fullwidth letters, Cyrillic, NBSP, zero-width or bidi controls) never reach a check;
 *      then ASCII blanks (space, \t, \n, \r, \v, \f) are trimmed at both ends, and an empty command is `empty`;
 *   2. the original's whitelist: some entry p is a prefix of the command and the next character is the end, ' ' or
 *      '/' (not_whitelisted, detail: the command);
 *   3. the original's blocklist: the first element (in list order) found as a substring rejects the command
 *      (blocked_metachar, detail: the element); then, whatever the configured list says, a built-in floor of
 *      shell metacharacters  ; & | ` $ < >  newline and CR  (blocked_metachar, detail: the character), so an
 *      admin who shortens the list, or `df -h & id` / `ls ${IFS}x`, still gets a refusal;
 *   4. argv parsing with shell-like quoting (parse_error): '...' is literal; "..." keeps everything literal except a
 *      backslash before one of  " \ $ `  (which yields that character); a backslash outside quotes yields the next
 *      character literally; unquoted blanks (' ') separate words. Unterminated quotes, a trailing backslash, any
 *      control character (0x00-0x1f, 0x7f) anywhere, and more than AC_SHELLCMD_MAX_ARGS words are refused;
 *   5. argv[0] must equal the first word of a whitelist entry that matched in step 2, and never contains '/'
 *      (not_whitelisted), so '$x'-style quoting (`'df'x`, `d''f`) or paths (`df/../../bin/sh`) cannot pick another
 *      program;
 *   6. per program (by argv[0], whatever the whitelist says):
 *      git: a read-only subcommand right after "git" (status log diff show branch rev-parse), no global option
 *      before it, and none of the options that write files, read a file the caller names or run programs
 *      (--output*, --ext-diff, --textconv, --no-index, --orderfile/-O, --exec, --upload-pack, --help, -o),
 *      including unambiguous abbreviations git would accept (git_not_allowed). No operand (a word not starting
 *      with '-', or any word after "--") may be an absolute path, start with '~' or hold ".." ("HEAD:../x", and
 *      also revision ranges "A..B": outside a repository git diff compares any two paths as if --no-index were
 *      given, so every operand is treated as a file name). `status` refuses -v/--verbose (textconv). `branch` may
 *      only list: no -d -D -m -M -c -C -u -f (also inside a bundle like -vd), no --delete --move --copy
 *      --set-upstream-to --unset-upstream --edit-description --force, and no non-option argument.
 *      ps (procps-ng): the BSD modifier `e` shows every process's environment, and procps re-parses the whole
 *      line BSD-style (single-dash words included) whenever its SysV parse fails, so `ps -ex` shows them too. A
 *      word not starting with '-' that holds an 'e' is refused (`ps e`, `ps aux e`, `ps eww`, `ps axe`, and
 *      option values like `ps -u ex`; `--user=NAME` and `--format=LIST` take such values safely); in a
 *      single-dash word an 'e' option letter is REWRITTEN in argv to its SysV synonym 'A' (`ps -ef` runs as
 *      `ps -Af`, the same listing, which the BSD re-parse refuses instead of reading `e`), and an 'e' in an
 *      attached value (`-uex`) is refused (option_not_allowed).
 *      date: -s/--set, -f/--file (reads a file and echoes the lines it cannot parse) and any operand other than
 *      +FORMAT (which sets the clock) are refused (option_not_allowed); option values (-d STRING) are skipped
 *      the way getopt_long takes them.
 *      hostname: any operand (it would set the host or NIS domain name), -F/--file and -b/--boot are refused
 *      (option_not_allowed).
 *      Long options of date and hostname are matched as getopt_long does (abbreviations included; an
 *      abbreviation that could stand for a refused option is refused).
 *
 * The lists come from the caller (settings shell.whitelist and shell.blocklist, already decoded from JSON). A
 * malformed list fails closed (bad_list): NULL entries, empty entries, entries longer than AC_SHELLCMD_ENTRY_MAX
 * bytes, non-ASCII or control bytes (the blocklist may hold "\n", "\r" and "\t", the original's newline element), a
 * whitelist entry starting with a blank, or more than AC_SHELLCMD_LIST_MAX entries. */
#ifndef AC_POLICY_SHELLCMD_H
#define AC_POLICY_SHELLCMD_H

#include <stdbool.h>
#include <stddef.h>

#define AC_SHELLCMD_MAX_LEN    4096 /* bytes of command, before trimming */
#define AC_SHELLCMD_MAX_ARGS   64   /* words, argv[0] included */
#define AC_SHELLCMD_ENTRY_MAX  255  /* bytes of one whitelist or blocklist entry */
#define AC_SHELLCMD_LIST_MAX   256  /* entries of one list */
#define AC_SHELLCMD_DETAIL_MAX 320

typedef enum {
    AC_SHELLCMD_OK = 0,
    AC_SHELLCMD_EMPTY,              /* "no_command": nothing left after trimming */
    AC_SHELLCMD_NOT_WHITELISTED,    /* "not_whitelisted" */
    AC_SHELLCMD_BLOCKED_METACHAR,   /* "blocked_metachar" */
    AC_SHELLCMD_PARSE_ERROR,        /* "parse_error" */
    AC_SHELLCMD_NON_ASCII,          /* "non_ascii" */
    AC_SHELLCMD_GIT_NOT_ALLOWED,    /* "git_not_allowed" */
    AC_SHELLCMD_BAD_LIST,           /* "invalid_setting": a malformed whitelist or blocklist */
    AC_SHELLCMD_OPTION_NOT_ALLOWED, /* "option_not_allowed": e.g. date -f FILE, ps e, hostname NAME */
} ac_shellcmd_code_t;

/* The lists to check against; borrowed for the duration of the call. */
typedef struct ac_shellcmd_lists {
    const char *const *whitelist;
    size_t n_whitelist;
    const char *const *blocklist;
    size_t n_blocklist;
} ac_shellcmd_lists_t;

/* A checked command. Self-contained (no pointers outside it), so it may be copied only with care: argv[] points
 * into buf of the same object. argv may differ from the words of cmd where step 6 rewrites them (ps: -e -> -A). */
typedef struct ac_shellcmd {
    char cmd[AC_SHELLCMD_MAX_LEN + 1];                        /* the trimmed command, as shown in results */
    char buf[AC_SHELLCMD_MAX_LEN + AC_SHELLCMD_MAX_ARGS + 1]; /* the words, each NUL-terminated */
    char *argv[AC_SHELLCMD_MAX_ARGS + 1];                     /* NULL-terminated */
    size_t argc;
    bool is_git;
} ac_shellcmd_t;

/* Why a command was refused. */
typedef struct ac_shellcmd_verdict {
    ac_shellcmd_code_t code;
    char detail[AC_SHELLCMD_DETAIL_MAX]; /* the command (not_whitelisted), the element (blocked_metachar), or a
                                            sentence; printable ASCII only, possibly truncated */
} ac_shellcmd_verdict_t;

/* Checks and parses `len` bytes at `command` (need not be NUL-terminated; may contain NUL, which is refused).
 * Returns 0 and fills *out (argv ready for execve) when allowed; otherwise returns -1 with v->code and v->detail
 * set (out is then unspecified). v is always filled (code AC_SHELLCMD_OK on success). */
int ac_shellcmd_check(const char *command, size_t len, const ac_shellcmd_lists_t *lists, ac_shellcmd_t *out,
                      ac_shellcmd_verdict_t *v);

/* Checks that the lists are well-formed (the same test ac_shellcmd_check() starts with). 0, or -1 with v filled. */
int ac_shellcmd_lists_check(const ac_shellcmd_lists_t *lists, ac_shellcmd_verdict_t *v);

/* The error code string of a verdict ("not_whitelisted", ...); "ok" for AC_SHELLCMD_OK. Static. */
const char *ac_shellcmd_code_name(ac_shellcmd_code_t code);

/* The word-boundary prefix rule of the original on its own: true when `prefix` starts `cmd` and is followed by the
 * end, ' ' or '/'. Both NUL-terminated. */
bool ac_shellcmd_prefix_matches(const char *cmd, const char *prefix);

#endif
