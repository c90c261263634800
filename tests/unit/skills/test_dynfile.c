/* tests/unit/skills/test_dynfile.c - a dynamic skill file's checks: names (core names refused), paths strictly inside
 * SKILLS_DIR after resolving symlinks and ".." (a sibling directory is outside), *.lua regular files only, the size
 * limit, bytecode and NUL bytes refused, and the SHA-256 of what was read. */
#include "skills/dynfile.h"

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char root[PATH_MAX], dir[PATH_MAX + 16];

static void put(const char *rel, const void *data, size_t n)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/ac-dynfile-XXXXXX");
    if (mkdtemp(root) == NULL)
        return -1;
    char p[PATH_MAX * 2];
    snprintf(dir, sizeof(dir), "%s/skills", root);
    mkdir(dir, 0700);
    snprintf(p, sizeof(p), "%s/skills_evil", root);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/skills/sub", root);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/skills/dir.lua", root);
    mkdir(p, 0700);
    const char *ok = "skill = { name = \"weather\" }\nfunction run(args) return true, \"sunny\" end\n";
    put("skills/weather.lua", ok, strlen(ok));
    put("skills_evil/evil.lua", ok, strlen(ok));
    put("skills/notes.txt", ok, strlen(ok));
    put("skills/bytecode.lua", "\x1bLuaT\x00\x19\x93", 8);
    put("skills/nul.lua", "x = 1\0", 6);
    char *big = malloc(AC_SKILLS_DYNFILE_MAX + 1);
    memset(big, '-', AC_SKILLS_DYNFILE_MAX + 1);
    put("skills/big.lua", big, AC_SKILLS_DYNFILE_MAX + 1);
    put("skills/limit.lua", big, AC_SKILLS_DYNFILE_MAX);
    free(big);
    char l[PATH_MAX * 2];
    snprintf(l, sizeof(l), "%s/skills/escape.lua", root);
    assert_int_equal(symlink("../skills_evil/evil.lua", l), 0);
    snprintf(l, sizeof(l), "%s/skills/alias.lua", root);
    assert_int_equal(symlink("weather.lua", l), 0);
    snprintf(l, sizeof(l), "%s/skills/fifo.lua", root);
    assert_int_equal(mkfifo(l, 0600), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static int read_rel(const char *rel, ac_errmsg_t *err, char sha[65])
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    char *src = NULL;
    size_t len = 0;
    int rc = ac_skills_dynfile_read(dir, p, &src, &len, sha, err);
    if (rc == 0)
        assert_int_equal(strlen(src), len);
    free(src);
    return rc;
}

static void names(void **state)
{
    (void)state;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_skills_dynfile_name_check("weather", &err), 0);
    assert_int_equal(ac_skills_dynfile_name_check("w2_x", &err), 0);
    assert_int_equal(ac_skills_dynfile_name_check("a23456789012345678901234567890123456789012345678", &err), 0);
    assert_int_equal(ac_skills_dynfile_name_check("a234567890123456789012345678901234567890123456789", &err),
                     -AC_EINVAL);
    static const char *const bad[] = {"", "Weather", "9lives", "_x", "we-ather", "wea ther", "caf\xc3\xa9", "x/../y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ac_skills_dynfile_name_check(bad[i], &err), -AC_EINVAL);
    assert_int_equal(ac_skills_dynfile_name_check(NULL, &err), -AC_EINVAL);
    assert_int_equal(ac_skills_dynfile_name_check("shell", &err), -AC_EPERM);
    assert_non_null(strstr(err.msg, "core skill"));
    assert_int_equal(ac_skills_dynfile_name_check("web_fetch", &err), -AC_EPERM);
}

static void inside_is_strict(void **state)
{
    (void)state;
    assert_true(ac_skills_dynfile_inside("/data/skills", "/data/skills/a.lua"));
    assert_true(ac_skills_dynfile_inside("/data/skills", "/data/skills/sub/a.lua"));
    assert_false(ac_skills_dynfile_inside("/data/skills", "/data/skills"));
    assert_false(ac_skills_dynfile_inside("/data/skills", "/data/skills/"));
    assert_false(ac_skills_dynfile_inside("/data/skills", "/data/skills_evil/a.lua"));
    assert_false(ac_skills_dynfile_inside("/data/skills", "/data/skillsa.lua"));
    assert_false(ac_skills_dynfile_inside("/data/skills", "/data/a.lua"));
    assert_false(ac_skills_dynfile_inside("/data/skills", "data/skills/a.lua"));
    assert_true(ac_skills_dynfile_inside("/", "/a.lua"));
    assert_false(ac_skills_dynfile_inside(NULL, "/a.lua"));
}

static void a_good_file_is_read_with_its_hash(void **state)
{
    (void)state;
    ac_errmsg_t err = {{0}};
    char sha[65];
    assert_int_equal(read_rel("skills/weather.lua", &err, sha), 0);
    assert_int_equal(strlen(sha), 64);
    char sha2[65];
    assert_int_equal(read_rel("skills/sub/../weather.lua", &err, sha2), 0); /* ".." inside stays inside */
    assert_string_equal(sha, sha2);
    assert_int_equal(read_rel("skills/alias.lua", &err, sha2), 0); /* a link to a file inside is that file */
    assert_string_equal(sha, sha2);
    assert_int_equal(read_rel("skills/limit.lua", &err, sha2), 0); /* exactly the limit */
}

static void escapes_and_wrong_kinds_are_refused(void **state)
{
    (void)state;
    ac_errmsg_t err = {{0}};
    char sha[65];
    assert_int_equal(read_rel("skills/escape.lua", &err, sha), -AC_EPERM); /* a symlink out */
    assert_non_null(strstr(err.msg, "outside SKILLS_DIR"));
    assert_null(strstr(err.msg, root)); /* the path is never shown, only the file's name */
    assert_int_equal(read_rel("skills/../skills_evil/evil.lua", &err, sha), -AC_EPERM);
    assert_int_equal(read_rel("skills_evil/evil.lua", &err, sha), -AC_EPERM); /* the sibling directory */
    assert_int_equal(read_rel("skills/notes.txt", &err, sha), -AC_EPERM);
    assert_int_equal(read_rel("skills/dir.lua", &err, sha), -AC_EPERM);
    assert_int_equal(read_rel("skills/fifo.lua", &err, sha), -AC_EPERM); /* never blocks */
    assert_int_equal(read_rel("skills/big.lua", &err, sha), -AC_ETOOLONG);
    assert_int_equal(read_rel("skills/bytecode.lua", &err, sha), -AC_EPERM);
    assert_non_null(strstr(err.msg, "bytecode"));
    assert_int_equal(read_rel("skills/nul.lua", &err, sha), -AC_EPERM);
    assert_int_equal(read_rel("skills/missing.lua", &err, sha), -AC_ENOENT);
    char a[PATH_MAX * 2], b[PATH_MAX * 2]; /* a hard link to a file outside passes realpath: refused */
    snprintf(a, sizeof(a), "%s/skills_evil/evil.lua", root);
    snprintf(b, sizeof(b), "%s/skills/hard.lua", root);
    assert_int_equal(link(a, b), 0);
    assert_int_equal(read_rel("skills/hard.lua", &err, sha), -AC_EPERM);
    assert_non_null(strstr(err.msg, "hard links"));
    char *src = (char *)1;
    size_t len = 1;
    assert_int_equal(ac_skills_dynfile_read("/nonexistent-skills-dir", "/x.lua", &src, &len, sha, &err), -AC_ENOENT);
    assert_null(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(inside_is_strict),
        cmocka_unit_test(a_good_file_is_read_with_its_hash),
        cmocka_unit_test(escapes_and_wrong_kinds_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
