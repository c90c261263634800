/* tests/unit/policy/test_shellcmd.c - policy/shellcmd.c: the hostile corpus (every row refused with its code),
 * allowed commands and the argv they parse to, the word-boundary rule, multi-word whitelist entries, and
 * malformed lists failing closed. The lists are the node's defaults (node/config.c), as a node starts with. */
#include "policy/shellcmd.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *const default_whitelist[] = {"df",     "free",     "ps",   "uptime", "uname",
                                                "whoami", "hostname", "date", "ls",     "git"};
static const char *const default_blocklist[] = {"&&", "||", "|", ";", "`", "$(", ">", "<", "\n"};
static const ac_shellcmd_lists_t defaults = {default_whitelist, 10, default_blocklist, 9};

enum gen { GEN_NONE = 0, GEN_OVERLONG, GEN_OVERLONG_BLANKS, GEN_MANY_ARGS };

typedef struct hostile {
    const char *cmd;
    size_t len; /* 0: strlen(cmd); set for rows holding NUL bytes */
    ac_shellcmd_code_t code;
    const char *detail; /* checked when not NULL */
    enum gen gen;       /* rows too big to write out */
} hostile_t;

#define NW  AC_SHELLCMD_NOT_WHITELISTED
#define BM  AC_SHELLCMD_BLOCKED_METACHAR
#define PE  AC_SHELLCMD_PARSE_ERROR
#define NA  AC_SHELLCMD_NON_ASCII
#define GIT AC_SHELLCMD_GIT_NOT_ALLOWED
#define OPT AC_SHELLCMD_OPTION_NOT_ALLOWED

static const hostile_t corpus[] = {
    /* metacharacters at the start, middle and end, and next to quotes */
    {"; df -h", 0, NW, "; df -h", 0},
    {"df -h; id", 0, BM, ";", 0},
    {"df -h;", 0, BM, ";", 0},
    {"df;id", 0, NW, "df;id", 0},
    {"uptime && id", 0, BM, "&&", 0},
    {"uptime &&", 0, BM, "&&", 0},
    {"&& uptime", 0, NW, NULL, 0},
    {"ps aux || id", 0, BM, "||", 0},
    {"ps aux | grep root", 0, BM, "|", 0},
    {"ps aux|sh", 0, BM, "|", 0},
    {"df -h & id", 0, BM, "&", 0},
    {"df -h &", 0, BM, "&", 0},
    {"ls > /tmp/x", 0, BM, ">", 0},
    {"ls >> /tmp/x", 0, BM, ">", 0},
    {"ls < /etc/passwd", 0, BM, "<", 0},
    {"ls <(id)", 0, BM, "<", 0},
    {"ls $(id)", 0, BM, "$(", 0},
    {"ls `id`", 0, BM, "`", 0},
    {"ls \"$(id)\"", 0, BM, "$(", 0},
    {"ls '`id`'", 0, BM, "`", 0},
    {"ls ';'", 0, BM, ";", 0},
    {"ls \"a\";id", 0, BM, ";", 0},
    {"ls ${IFS}id", 0, BM, "$", 0},
    {"ls${IFS}/", 0, NW, NULL, 0},
    {"ls -la $HOME", 0, BM, "$", 0},
    {"df -h\nid", 0, BM, "\\n", 0},
    {"df -h\rid", 0, BM, "\\r", 0},
    {"df\t-h", 0, NW, "df\\t-h", 0},
    {"df -h\tid", 0, PE, NULL, 0},
    {"df -h\0id", 8, PE, NULL, 0},
    {"\0df", 3, PE, NULL, 0},
    {"df -h \x1b[31m", 0, PE, NULL, 0},
    {"df -h \x7f", 0, PE, NULL, 0},
    /* quoting tricks */
    {"'d'f", 0, NW, NULL, 0},
    {"\"df\"x", 0, NW, NULL, 0},
    {"d\\f", 0, NW, NULL, 0},
    {"d''f", 0, NW, NULL, 0},
    {"'df'x", 0, NW, NULL, 0},
    {"df''x", 0, NW, NULL, 0},
    {"'' df", 0, NW, NULL, 0},
    {"df\\ -h", 0, NW, NULL, 0},
    {"df/'x'", 0, NW, NULL, 0},
    {"df 'unterminated", 0, PE, NULL, 0},
    {"df \"unterminated", 0, PE, NULL, 0},
    {"ls \"\\\"", 0, PE, NULL, 0},
    {"df -h \\", 0, PE, NULL, 0},
    /* path tricks */
    {"/bin/df", 0, NW, NULL, 0},
    {"./df", 0, NW, NULL, 0},
    {"../bin/df", 0, NW, NULL, 0},
    {"df/../../bin/sh", 0, NW, NULL, 0},
    {"ls/../../bin/sh -c id", 0, NW, NULL, 0},
    {"bin/alex_claw eval 'System.cmd(\"id\", [])'", 0, NW, NULL, 0},
    /* whitelist prefix tricks */
    {"define", 0, NW, "define", 0},
    {"dfx", 0, NW, NULL, 0},
    {"df-h", 0, NW, NULL, 0},
    {"uptimex", 0, NW, NULL, 0},
    {"ls;", 0, NW, NULL, 0},
    {"gitk", 0, NW, NULL, 0},
    {"git-upload-pack /", 0, NW, NULL, 0},
    {"whoamix", 0, NW, NULL, 0},
    {"dates -s 2000-01-01", 0, NW, NULL, 0},
    /* size limits */
    {"(ls followed by 5000 bytes)", 0, PE, NULL, GEN_OVERLONG},
    {"(ls followed by 4095 blanks)", 0, PE, NULL, GEN_OVERLONG_BLANKS},
    {"(ls and 64 more arguments)", 0, PE, NULL, GEN_MANY_ARGS},
    /* unicode look-alikes */
    {"\xef\xbd\x84\xef\xbd\x86", 0, NA, NULL, 0}, /* fullwidth "df" */
    {"\xd1\x81"
     "at /etc/passwd",
     0, NA, NULL, 0},                 /* Cyrillic es in "cat" */
    {"df\xc2\xa0-h", 0, NA, NULL, 0}, /* no-break space */
    {"d\xe2\x80\x8d"
     "f",
     0, NA, NULL, 0}, /* zero-width joiner */
    {"ls \xe2\x80\xae"
     "hs.x",
     0, NA, NULL, 0},                       /* right-to-left override */
    {"ls \xef\xbc\x9b id", 0, NA, NULL, 0}, /* fullwidth semicolon */
    {"df \xff", 0, NA, NULL, 0},            /* not UTF-8 at all */
    {"l\xd1\x95 -la", 0, NA, NULL, 0},      /* Cyrillic dze in "ls" */
    /* git abuse */
    {"git -c core.pager=sh log", 0, GIT, NULL, 0},
    {"git -C / status", 0, GIT, NULL, 0},
    {"git --exec-path=/tmp status", 0, GIT, NULL, 0},
    {"git --git-dir=/ log", 0, GIT, NULL, 0},
    {"git --work-tree=/ status", 0, GIT, NULL, 0},
    {"git --config-env=core.pager=X log", 0, GIT, NULL, 0},
    {"git -p log", 0, GIT, NULL, 0},
    {"git --namespace=x log", 0, GIT, NULL, 0},
    {"git", 0, GIT, NULL, 0},
    {"git config --global core.pager sh", 0, GIT, NULL, 0},
    {"git push", 0, GIT, NULL, 0},
    {"git commit -m x", 0, GIT, NULL, 0},
    {"git checkout main", 0, GIT, NULL, 0},
    {"git help log", 0, GIT, NULL, 0},
    {"git 'status'x", 0, GIT, NULL, 0},
    {"git log --output=/tmp/x", 0, GIT, NULL, 0},
    {"git log --output /tmp/x", 0, GIT, NULL, 0},
    {"git log --outp=/tmp/x", 0, GIT, NULL, 0},
    {"git show --output-directory=/tmp", 0, GIT, NULL, 0},
    {"git diff --no-index /etc/passwd /dev/null", 0, GIT, NULL, 0},
    {"git diff --no-i /etc/passwd /dev/null", 0, GIT, NULL, 0},
    {"git diff --ext-diff", 0, GIT, NULL, 0},
    {"git show --textconv HEAD", 0, GIT, NULL, 0},
    {"git diff -o /tmp/x", 0, GIT, NULL, 0},
    {"git log --upload-pack=x", 0, GIT, NULL, 0},
    {"git log --exec=x", 0, GIT, NULL, 0},
    {"git log --help", 0, GIT, NULL, 0},
    {"git branch evil", 0, GIT, NULL, 0},
    {"git branch -D main", 0, GIT, NULL, 0},
    {"git branch -vd main", 0, GIT, NULL, 0},
    {"git branch --delete=main", 0, GIT, NULL, 0},
    {"git branch --del", 0, GIT, NULL, 0},
    {"git branch -m new", 0, GIT, NULL, 0},
    {"git branch --set-upstream-to=origin/main", 0, GIT, NULL, 0},
    {"git branch -u origin/main", 0, GIT, NULL, 0},
    {"git branch --edit-description", 0, GIT, NULL, 0},
    {"git branch -f x HEAD", 0, GIT, NULL, 0},
    {"git branch -- x", 0, GIT, NULL, 0},
    /* git naming paths outside the scratch directory: outside a repository git diff compares any two paths */
    {"git diff /dev/null ../alexclaw.env", 0, GIT, NULL, 0},
    {"git diff -- /etc/passwd", 0, GIT, NULL, 0},
    {"git show HEAD:../x", 0, GIT, NULL, 0},
    {"git log -p -- ../../x", 0, GIT, NULL, 0},
    {"git diff ~/x", 0, GIT, NULL, 0},
    {"git diff x a/../../y", 0, GIT, NULL, 0},
    {"git diff .. x", 0, GIT, NULL, 0},
    {"git status -- /", 0, GIT, NULL, 0},
    {"git rev-parse --resolve-git-dir /root/.git", 0, GIT, NULL, 0},
    {"git diff --no-in a b", 0, GIT, NULL, 0},
    {"git diff -O/etc/shadow", 0, GIT, NULL, 0},
    {"git diff --orderfile=x", 0, GIT, NULL, 0},
    {"git status -v", 0, GIT, NULL, 0},
    {"git status --verb", 0, GIT, NULL, 0},
    /* other programs' file-reading options */
    {"date -f /etc/shadow", 0, AC_SHELLCMD_OPTION_NOT_ALLOWED, NULL, 0},
    {"date --file=/srv/alexclaw/.env", 0, AC_SHELLCMD_OPTION_NOT_ALLOWED, NULL, 0},
    {"date --fi /srv/alexclaw/.env", 0, AC_SHELLCMD_OPTION_NOT_ALLOWED, NULL, 0},
    {"date -uf /srv/alexclaw/.env", 0, AC_SHELLCMD_OPTION_NOT_ALLOWED, NULL, 0},
    {"date --file=/etc/shadow", 0, OPT, NULL, 0},
    /* setting the clock, in every spelling */
    {"date -s 2020-01-01", 0, OPT, NULL, 0},
    {"date --set=x", 0, OPT, NULL, 0},
    {"date --se x", 0, OPT, NULL, 0},
    {"date -us x", 0, OPT, NULL, 0},
    {"date 010100002020", 0, OPT, NULL, 0},
    {"date -d now 0101", 0, OPT, NULL, 0},
    {"date -- -f", 0, OPT, NULL, 0},
    /* ps showing environments: the BSD modifier e, and values the BSD re-parse would read as options */
    {"ps e", 0, OPT, NULL, 0},
    {"ps eww", 0, OPT, NULL, 0},
    {"ps aux e", 0, OPT, NULL, 0},
    {"ps axe", 0, OPT, NULL, 0},
    {"ps -A e", 0, OPT, NULL, 0},
    {"ps -u ex", 0, OPT, NULL, 0},
    {"ps -uex", 0, OPT, NULL, 0},
    {"ps -o pid,environ", 0, OPT, NULL, 0},
    /* renaming the host */
    {"hostname newname", 0, OPT, NULL, 0},
    {"hostname -F /etc/hostname", 0, OPT, NULL, 0},
    {"hostname --fi=/etc/hostname", 0, OPT, NULL, 0},
    {"hostname -b", 0, OPT, NULL, 0},
    {"hostname -s -- x", 0, OPT, NULL, 0},
    /* not on the list */
    {"cat /proc/self/environ", 0, NW, "cat /proc/self/environ", 0},
    {"curl file:///etc/passwd", 0, NW, NULL, 0},
    {"sh -c id", 0, NW, NULL, 0},
    {"env", 0, NW, NULL, 0},
    {"bash", 0, NW, NULL, 0},
    {"python3 -c 'import os'", 0, NW, NULL, 0},
    {"ping -c1 127.0.0.1", 0, NW, NULL, 0},
    {"nslookup example.org", 0, NW, NULL, 0},
    /* nothing at all */
    {"", 0, AC_SHELLCMD_EMPTY, NULL, 0},
    {" \t\n ", 0, AC_SHELLCMD_EMPTY, NULL, 0},
};

/* The row's bytes (generated rows from malloc, others from the table); *owned says whether to free. */
static char *row_bytes(const hostile_t *h, size_t *len, bool *owned)
{
    *owned = h->gen != GEN_NONE;
    if (h->gen == GEN_NONE) {
        *len = h->len != 0 ? h->len : strlen(h->cmd);
        return (char *)h->cmd;
    }
    size_t n = h->gen == GEN_OVERLONG ? 5003 : h->gen == GEN_OVERLONG_BLANKS ? 4097 : 2 + 2 * 64;
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, "ls", 2);
    for (size_t i = 2; i < n; i++)
        s[i] = h->gen == GEN_OVERLONG ? (i == 2 ? ' ' : 'a') : h->gen == GEN_OVERLONG_BLANKS ? ' ' : i % 2 ? 'a' : ' ';
    s[n] = '\0';
    *len = n;
    return s;
}

static void corpus_has_at_least_60_rows(void **state)
{
    (void)state;
    assert_true(sizeof(corpus) / sizeof(corpus[0]) >= 60);
}

static void rejects_every_hostile_command(void **state)
{
    (void)state;
    static ac_shellcmd_t out;
    int failures = 0;
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        const hostile_t *h = &corpus[i];
        size_t len;
        bool owned;
        char *cmd = row_bytes(h, &len, &owned);
        ac_shellcmd_verdict_t v;
        int rc = ac_shellcmd_check(cmd, len, &defaults, &out, &v);
        bool ok = rc == -1 && v.code == h->code && (h->detail == NULL || strcmp(v.detail, h->detail) == 0);
        if (!ok) {
            print_error("row %zu (%s): rc=%d code=%s detail=%s, expected %s%s%s\n", i, h->cmd, rc,
                        ac_shellcmd_code_name(v.code), v.detail, ac_shellcmd_code_name(h->code),
                        h->detail ? " detail=" : "", h->detail ? h->detail : "");
            failures++;
        }
        for (const char *p = v.detail; *p; p++) /* details are always printable ASCII */
            assert_true(*p >= 0x20 && *p < 0x7f);
        if (owned)
            free(cmd);
    }
    assert_int_equal(failures, 0);
}

#define ALLOWED_ARGV 8

typedef struct allowed {
    const char *cmd;
    const char *argv[ALLOWED_ARGV];
    bool is_git;
} allowed_t;

static const allowed_t allowed[] = {
    {"df -h", {"df", "-h"}, false},
    {"ps aux", {"ps", "aux"}, false},
    {"uname -a", {"uname", "-a"}, false},
    {"ls -la /", {"ls", "-la", "/"}, false},
    {"ls 'a b'", {"ls", "a b"}, false},
    {"ls \"a\\\"b\\\\c\"", {"ls", "a\"b\\c"}, false},
    {"ls \"a\\nb\"", {"ls", "a\\nb"}, false},
    {"ls a\\ b", {"ls", "a b"}, false},
    {"ls '' x", {"ls", "", "x"}, false},
    {"ls   -l    /usr", {"ls", "-l", "/usr"}, false},
    {"  uptime \n", {"uptime"}, false},
    {"ls /usr/bin", {"ls", "/usr/bin"}, false},
    {"date +%s", {"date", "+%s"}, false},
    {"date -u -d @0", {"date", "-u", "-d", "@0"}, false},
    {"date -- +%s", {"date", "--", "+%s"}, false},
    {"date --date 'next friday' +%F", {"date", "--date", "next friday", "+%F"}, false},
    {"date -d -1day --rfc-3339=date", {"date", "-d", "-1day", "--rfc-3339=date"}, false},
    {"hostname", {"hostname"}, false},
    {"hostname -f", {"hostname", "-f"}, false},
    {"hostname --fqdn", {"hostname", "--fqdn"}, false},
    /* ps: -e is run as its synonym -A, which the BSD re-parse refuses instead of reading the modifier e */
    {"ps -e", {"ps", "-A"}, false},
    {"ps -ef", {"ps", "-Af"}, false},
    {"ps -ex", {"ps", "-Ax"}, false},
    {"ps -eo pid,comm", {"ps", "-Ao", "pid,comm"}, false},
    {"ps --user=postgres --format=pid,etime", {"ps", "--user=postgres", "--format=pid,etime"}, false},
    {"ps -p 1", {"ps", "-p", "1"}, false},
    {"git status", {"git", "status"}, true},
    {"git log --oneline -5", {"git", "log", "--oneline", "-5"}, true},
    {"git rev-parse HEAD", {"git", "rev-parse", "HEAD"}, true},
    {"git branch", {"git", "branch"}, true},
    {"git branch --list", {"git", "branch", "--list"}, true},
    {"git branch -a -vv", {"git", "branch", "-a", "-vv"}, true},
    {"git diff --no-ext-diff --stat", {"git", "diff", "--no-ext-diff", "--stat"}, true},
    {"git show --stat HEAD", {"git", "show", "--stat", "HEAD"}, true},
    {"git log -p -- README.md", {"git", "log", "-p", "--", "README.md"}, true},
    {"git diff HEAD~1", {"git", "diff", "HEAD~1"}, true},
    {"git log --oneline -- src/", {"git", "log", "--oneline", "--", "src/"}, true},
};

static void parses_allowed_commands(void **state)
{
    (void)state;
    static ac_shellcmd_t out;
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        const allowed_t *a = &allowed[i];
        ac_shellcmd_verdict_t v;
        int rc = ac_shellcmd_check(a->cmd, strlen(a->cmd), &defaults, &out, &v);
        if (rc != 0)
            print_error("row %zu (%s): %s %s\n", i, a->cmd, ac_shellcmd_code_name(v.code), v.detail);
        assert_int_equal(rc, 0);
        assert_int_equal(v.code, AC_SHELLCMD_OK);
        size_t n = 0;
        while (n < ALLOWED_ARGV && a->argv[n] != NULL)
            n++;
        assert_int_equal(out.argc, n);
        for (size_t k = 0; k < n; k++)
            assert_string_equal(out.argv[k], a->argv[k]);
        assert_null(out.argv[n]);
        assert_int_equal(out.is_git, a->is_git);
    }
}

static void keeps_the_trimmed_command(void **state)
{
    (void)state;
    static ac_shellcmd_t out;
    ac_shellcmd_verdict_t v;
    assert_int_equal(ac_shellcmd_check("  df -h\n", 8, &defaults, &out, &v), 0);
    assert_string_equal(out.cmd, "df -h");
}

static void accepts_the_longest_command_and_64_arguments(void **state)
{
    (void)state;
    static ac_shellcmd_t out;
    ac_shellcmd_verdict_t v;
    char s[AC_SHELLCMD_MAX_LEN + 1];
    memset(s, 'a', sizeof(s));
    memcpy(s, "ls ", 3);
    assert_int_equal(ac_shellcmd_check(s, AC_SHELLCMD_MAX_LEN, &defaults, &out, &v), 0);
    assert_int_equal(out.argc, 2);
    assert_int_equal(strlen(out.argv[1]), AC_SHELLCMD_MAX_LEN - 3);
    /* 64 words of which 63 are empty quotes: the buffer bound holds. */
    size_t n = 2;
    memcpy(s, "ls", 2);
    for (int i = 0; i < 63; i++) {
        memcpy(s + n, " ''", 3);
        n += 3;
    }
    assert_int_equal(ac_shellcmd_check(s, n, &defaults, &out, &v), 0);
    assert_int_equal(out.argc, 64);
    memcpy(s + n, " ''", 3);
    assert_int_equal(ac_shellcmd_check(s, n + 3, &defaults, &out, &v), -1);
    assert_int_equal(v.code, AC_SHELLCMD_PARSE_ERROR);
}

static void applies_the_word_boundary_rule(void **state)
{
    (void)state;
    assert_true(ac_shellcmd_prefix_matches("df", "df"));
    assert_true(ac_shellcmd_prefix_matches("df -h", "df"));
    assert_true(ac_shellcmd_prefix_matches("df/x", "df"));
    assert_false(ac_shellcmd_prefix_matches("define", "df"));
    assert_false(ac_shellcmd_prefix_matches("d", "df"));
    assert_false(ac_shellcmd_prefix_matches("df\t", "df"));
}

static void reports_the_first_blocklist_element_in_list_order(void **state)
{
    (void)state;
    static ac_shellcmd_t out;
    ac_shellcmd_verdict_t v;
    /* "|" comes before ";" in the list although ";" comes first in the command. */
    assert_int_equal(ac_shellcmd_check("ls ; a | b", 10, &defaults, &out, &v), -1);
    assert_int_equal(v.code, AC_SHELLCMD_BLOCKED_METACHAR);
    assert_string_equal(v.detail, "|");
}

static void multi_word_entries_match_their_program_word(void **state)
{
    (void)state;
    static ac_shellcmd_t out;
    static const char *const wl[] = {"cat /proc", "bin/alex_claw"};
    ac_shellcmd_lists_t lists = {wl, 2, default_blocklist, 9};
    ac_shellcmd_verdict_t v;
    assert_int_equal(ac_shellcmd_check("cat /proc/loadavg", 17, &lists, &out, &v), 0);
    assert_string_equal(out.argv[0], "cat");
    assert_int_equal(ac_shellcmd_check("cat /etc/passwd", 15, &lists, &out, &v), -1);
    assert_int_equal(v.code, AC_SHELLCMD_NOT_WHITELISTED);
    /* A whitelisted path is never run: argv[0] may not hold '/'. */
    assert_int_equal(ac_shellcmd_check("bin/alex_claw eval x", 20, &lists, &out, &v), -1);
    assert_int_equal(v.code, AC_SHELLCMD_NOT_WHITELISTED);
}

static void builtin_floor_holds_with_an_empty_blocklist(void **state)
{
    (void)state;
    static ac_shellcmd_t out;
    ac_shellcmd_lists_t lists = {default_whitelist, 10, NULL, 0};
    ac_shellcmd_verdict_t v;
    assert_int_equal(ac_shellcmd_check("ls -la; id", 10, &lists, &out, &v), -1);
    assert_int_equal(v.code, AC_SHELLCMD_BLOCKED_METACHAR);
    assert_string_equal(v.detail, ";");
    assert_int_equal(ac_shellcmd_check("ls -la", 6, &lists, &out, &v), 0);
}

static void empty_whitelist_allows_nothing(void **state)
{
    (void)state;
    static ac_shellcmd_t out;
    ac_shellcmd_lists_t lists = {NULL, 0, default_blocklist, 9};
    ac_shellcmd_verdict_t v;
    assert_int_equal(ac_shellcmd_check("df -h", 5, &lists, &out, &v), -1);
    assert_int_equal(v.code, AC_SHELLCMD_NOT_WHITELISTED);
}

static void malformed_lists_fail_closed(void **state)
{
    (void)state;
    static ac_shellcmd_t out;
    static const char *const null_entry[] = {"df", NULL};
    static const char *const empty_entry[] = {"df", ""};
    static const char *const non_ascii[] = {"d\xc3\xa9"};
    static const char *const blank_first[] = {" df"};
    static const char *const control[] = {"df\n"};
    static const char *const bl_ok[] = {"\n", "\t"};
    static const char *many[AC_SHELLCMD_LIST_MAX + 1];
    char longest[AC_SHELLCMD_ENTRY_MAX + 2];
    memset(longest, 'a', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    const char *const too_long[] = {longest};
    for (size_t i = 0; i < AC_SHELLCMD_LIST_MAX + 1; i++)
        many[i] = "df";
    const ac_shellcmd_lists_t bad[] = {
        {null_entry, 2, default_blocklist, 9},
        {empty_entry, 2, default_blocklist, 9},
        {non_ascii, 1, default_blocklist, 9},
        {blank_first, 1, default_blocklist, 9},
        {control, 1, default_blocklist, 9},
        {too_long, 1, default_blocklist, 9},
        {many, AC_SHELLCMD_LIST_MAX + 1, default_blocklist, 9},
        {NULL, 3, default_blocklist, 9},
        {default_whitelist, 10, empty_entry, 2},
        {default_whitelist, 10, non_ascii, 1},
        {default_whitelist, 10, NULL, 2},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ac_shellcmd_verdict_t v;
        assert_int_equal(ac_shellcmd_check("df -h", 5, &bad[i], &out, &v), -1);
        assert_int_equal(v.code, AC_SHELLCMD_BAD_LIST);
        assert_string_equal(ac_shellcmd_code_name(v.code), "invalid_setting");
    }
    ac_shellcmd_verdict_t v;
    assert_int_equal(ac_shellcmd_check("df -h", 5, NULL, &out, &v), -1);
    assert_int_equal(v.code, AC_SHELLCMD_BAD_LIST);
    ac_shellcmd_lists_t good = {default_whitelist, 10, bl_ok, 2};
    assert_int_equal(ac_shellcmd_lists_check(&good, &v), 0);
}

static void names_every_code(void **state)
{
    (void)state;
    assert_string_equal(ac_shellcmd_code_name(AC_SHELLCMD_NOT_WHITELISTED), "not_whitelisted");
    assert_string_equal(ac_shellcmd_code_name(AC_SHELLCMD_BLOCKED_METACHAR), "blocked_metachar");
    assert_string_equal(ac_shellcmd_code_name(AC_SHELLCMD_PARSE_ERROR), "parse_error");
    assert_string_equal(ac_shellcmd_code_name(AC_SHELLCMD_NON_ASCII), "non_ascii");
    assert_string_equal(ac_shellcmd_code_name(AC_SHELLCMD_GIT_NOT_ALLOWED), "git_not_allowed");
    assert_string_equal(ac_shellcmd_code_name(AC_SHELLCMD_EMPTY), "no_command");
    assert_string_equal(ac_shellcmd_code_name(AC_SHELLCMD_OPTION_NOT_ALLOWED), "option_not_allowed");
    assert_string_equal(ac_shellcmd_code_name((ac_shellcmd_code_t)99), "unknown");
}

static void long_details_are_cut_and_escaped(void **state)
{
    (void)state;
    static ac_shellcmd_t out;
    char s[1001];
    memset(s, 'x', 1000);
    s[0] = '\x01'; /* not whitelisted, and not printable */
    s[1000] = '\0';
    ac_shellcmd_verdict_t v;
    assert_int_equal(ac_shellcmd_check(s, 1000, &defaults, &out, &v), -1);
    assert_int_equal(v.code, AC_SHELLCMD_NOT_WHITELISTED);
    assert_true(strlen(v.detail) < AC_SHELLCMD_DETAIL_MAX);
    assert_memory_equal(v.detail, "\\x01xx", 6);
    assert_string_equal(v.detail + strlen(v.detail) - 3, "...");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(corpus_has_at_least_60_rows),
        cmocka_unit_test(rejects_every_hostile_command),
        cmocka_unit_test(parses_allowed_commands),
        cmocka_unit_test(keeps_the_trimmed_command),
        cmocka_unit_test(accepts_the_longest_command_and_64_arguments),
        cmocka_unit_test(applies_the_word_boundary_rule),
        cmocka_unit_test(reports_the_first_blocklist_element_in_list_order),
        cmocka_unit_test(multi_word_entries_match_their_program_word),
        cmocka_unit_test(builtin_floor_holds_with_an_empty_blocklist),
        cmocka_unit_test(empty_whitelist_allows_nothing),
        cmocka_unit_test(malformed_lists_fail_closed),
        cmocka_unit_test(names_every_code),
        cmocka_unit_test(long_details_are_cut_and_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
