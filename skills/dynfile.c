/* skills/dynfile.c - a dynamic skill file's checks (dynfile.h). */
#include "skills/dynfile.h"

#include "policy/alloc.h"
#include "policy/crypto.h"
#include "policy/utf8.h"
#include "skills/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ac_skills_dynfile_name_check(const char *name, ac_errmsg_t *err)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > AC_SKILLS_DYNFILE_NAME_MAX || name[0] < 'a' || name[0] > 'z' ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
        return ac_errmsg_set(err, -AC_EINVAL,
                             "a skill name is a lower-case letter, then up to 47 lower-case letters, digits or _");
    for (size_t i = 0; ac_skills_core_names[i] != NULL; i++)
        if (strcmp(ac_skills_core_names[i], name) == 0)
            return ac_errmsg_set(err, -AC_EPERM, "%s is a core skill: it can never be replaced", name);
    return 0;
}

bool ac_skills_dynfile_inside(const char *dir, const char *path)
{
    if (dir == NULL || path == NULL || dir[0] != '/' || path[0] != '/')
        return false;
    size_t n = strlen(dir);
    if (n == 1) /* "/" */
        return path[1] != '\0';
    return strncmp(dir, path, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s != NULL ? s + 1 : p;
}

int ac_skills_dynfile_read(const char *skills_dir, const char *path, char **src, size_t *len, char sha256[65],
                           ac_errmsg_t *err)
{
    *src = NULL;
    *len = 0;
    sha256[0] = '\0';
    char dir[PATH_MAX], real[PATH_MAX];
    const char *shown = path != NULL ? base_name(path) : "(none)";
    if (skills_dir == NULL || realpath(skills_dir, dir) == NULL)
        return ac_errmsg_set(err, -AC_ENOENT, "SKILLS_DIR does not exist");
    if (path == NULL || realpath(path, real) == NULL)
        return ac_errmsg_set(err, errno == ENOENT ? -AC_ENOENT : -AC_EIO, "%.64s: %s", shown,
                             errno == ENOENT ? "no such file" : strerror(errno));
    if (!ac_skills_dynfile_inside(dir, real))
        return ac_errmsg_set(err, -AC_EPERM, "%.64s: outside SKILLS_DIR (after resolving links and ..)", shown);
    size_t rn = strlen(real);
    if (rn < 5 || strcmp(real + rn - 4, ".lua") != 0)
        return ac_errmsg_set(err, -AC_EPERM, "%.64s: a skill file ends in .lua", shown);
    int fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return ac_errmsg_set(err, errno == ELOOP ? -AC_EPERM : -AC_EIO, "%.64s: %s", shown,
                             errno == ELOOP ? "a symbolic link appeared" : strerror(errno));
    struct stat st;
    int rc = 0;
    char proc[64], opened[PATH_MAX];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    ssize_t on = readlink(proc, opened, sizeof(opened) - 1);
    if (on > 0)
        opened[on] = '\0';
    /* what was opened, not what was checked: a directory swapped for a symlink in between is caught here */
    if (on <= 0 || (size_t)on >= sizeof(opened) - 1 || !ac_skills_dynfile_inside(dir, opened))
        rc = ac_errmsg_set(err, -AC_EPERM, "%.64s: outside SKILLS_DIR once opened", shown);
    else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = ac_errmsg_set(err, -AC_EPERM, "%.64s: not a regular file", shown);
    else if (st.st_nlink > 1) /* a hard link may point at a file outside */
        rc = ac_errmsg_set(err, -AC_EPERM, "%.64s: has other hard links", shown);
    else if (st.st_size > AC_SKILLS_DYNFILE_MAX)
        rc = ac_errmsg_set(err, -AC_ETOOLONG, "%.64s: larger than %d bytes", shown, AC_SKILLS_DYNFILE_MAX);
    char *buf = NULL;
    size_t n = 0;
    if (rc == 0) {
        buf = ac_malloc(AC_SKILLS_DYNFILE_MAX + 2);
        ssize_t got;
        while (n <= AC_SKILLS_DYNFILE_MAX && (got = read(fd, buf + n, AC_SKILLS_DYNFILE_MAX + 1 - n)) > 0)
            n += (size_t)got;
        if (n > AC_SKILLS_DYNFILE_MAX) /* it grew after the check */
            rc = ac_errmsg_set(err, -AC_ETOOLONG, "%.64s: larger than %d bytes", shown, AC_SKILLS_DYNFILE_MAX);
        else if (n >= 4 && memcmp(buf, "\x1bLua", 4) == 0)
            rc = ac_errmsg_set(err, -AC_EPERM, "%.64s: precompiled Lua bytecode is refused; give the source", shown);
        else if (memchr(buf, '\0', n) != NULL)
            rc = ac_errmsg_set(err, -AC_EPERM, "%.64s: a NUL byte in Lua source", shown);
        else if (!ac_policy_utf8_valid(buf, n))
            rc = ac_errmsg_set(err, -AC_EINVAL, "%.64s: not UTF-8 text (save the file as UTF-8)", shown);
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    uint8_t md[32];
    if (ac_policy_crypto_sha256(buf, n, md) != 0) {
        free(buf);
        return ac_errmsg_set(err, -AC_ECRYPTO, "sha256 failed");
    }
    for (int i = 0; i < 32; i++)
        snprintf(sha256 + 2 * i, 3, "%02x", md[i]);
    *src = buf;
    *len = n;
    return 0;
}
