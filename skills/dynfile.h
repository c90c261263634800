/* skills/dynfile.h - the checks a dynamic skill's file passes before any of it reaches the Lua jail (issue 7): its
 * name, its place (strictly inside SKILLS_DIR once symlinks and ".." are resolved; a sibling such as skills_evil/ is
 * outside), its kind (a regular file named *.lua), its size, and its content (Lua source, never precompiled
 * bytecode, no NUL bytes). The SHA-256 of what was read is what the registry stores. */
#ifndef AC_SKILLS_DYNFILE_H
#define AC_SKILLS_DYNFILE_H

#include "policy/error.h"

#include <stdbool.h>
#include <stddef.h>

#define AC_SKILLS_DYNFILE_MAX      (256 * 1024) /* bytes of source */
#define AC_SKILLS_DYNFILE_NAME_MAX 48

/* A dynamic skill's name: ^[a-z][a-z0-9_]{0,47}$ and not the name of a core skill (ac_skills_core_names). */
int ac_skills_dynfile_name_check(const char *name, ac_errmsg_t *err);

/* Whether path is strictly inside dir, both canonical absolute paths (no trailing slash but for "/"). Pure. */
bool ac_skills_dynfile_inside(const char *dir, const char *path);

/* Reads a candidate file: dir and path are resolved (realpath), the result must be inside dir, end in ".lua" and be
 * a regular file with one link of at most AC_SKILLS_DYNFILE_MAX bytes; it is opened without following a symlink
 * (O_NOFOLLOW), the file actually opened must still be inside dir (/proc/self/fd), and it is read whole; bytecode (it starts with ESC "Lua") and NUL bytes are refused, and so is text that is not UTF-8 (-AC_EINVAL).
 * OUT: *src (ac_malloc, NUL-terminated), *len, sha256 (64 hex digits + NUL). Returns 0, -AC_EPERM (outside, wrong
 * kind, bytecode), -AC_ETOOLONG, -AC_ENOENT, or -AC_EIO; err names the file by its base name only. */
int ac_skills_dynfile_read(const char *skills_dir, const char *path, char **src, size_t *len, char sha256[65],
                           ac_errmsg_t *err);

#endif
